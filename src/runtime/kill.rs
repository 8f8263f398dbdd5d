use super::Container;
use crate::error::{Error, Result};
use crate::state::{allowed, Op};
use crate::store::Store;
use crate::sys;
use std::os::fd::AsFd;

/// A signal given as a name (`TERM`, `SIGTERM`, `sigterm`, `RTMIN+2`) or a number.
pub fn parse_signal(s: &str) -> std::result::Result<i32, String> {
    let bad = || format!("invalid signal {s:?}: use a name such as TERM or SIGKILL, or a number");
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')
                .and_then(|n| n.parse().ok())
                .ok_or_else(bad)?
        };
        let n = libc::SIGRTMIN() + off;
        return if n <= libc::SIGRTMAX() {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('-')
                .and_then(|n| n.parse().ok())
                .ok_or_else(bad)?
        };
        let n = libc::SIGRTMAX() - off;
        return if n >= libc::SIGRTMIN() {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    format!("SIG{name}")
        .parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| bad())
}

pub fn kill(store: &Store, id: &str, signal: &str, all: bool) -> Result<()> {
    let sig = parse_signal(signal).map_err(Error::Usage)?;
    let c = Container::open(store, id)?;
    let status = c.status();
    if !allowed(Op::Kill, status) {
        return Err(Error::NotRunning {
            id: c.id().to_string(),
            status,
        });
    }
    if all {
        return signal_all(&c, sig);
    }
    let pidfd = c.init_pidfd().ok_or_else(|| Error::NotRunning {
        id: c.id().to_string(),
        status: crate::state::Status::Stopped,
    })?;
    match sys::pidfd_send_signal(pidfd.as_fd(), sig) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Err(Error::NotRunning {
            id: c.id().to_string(),
            status: crate::state::Status::Stopped,
        }),
        r => r.map_err(Error::io(format!("kill {} signal {sig}", c.id()))),
    }
}

/// Signal every process in the container's cgroup (`kill --all`).
pub fn signal_all(c: &Container, sig: i32) -> Result<()> {
    let cg = c
        .cgroup()
        .ok_or_else(|| Error::Usage("container has no cgroup".into()))?;
    Ok(cg.signal_all(sig)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_and_numbers() {
        assert_eq!(parse_signal("TERM"), Ok(15));
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("sigkill"), Ok(9));
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal("HUP"), Ok(1));
        assert_eq!(parse_signal("RTMIN"), Ok(libc::SIGRTMIN()));
        assert_eq!(parse_signal("SIGRTMIN+2"), Ok(libc::SIGRTMIN() + 2));
        assert_eq!(parse_signal("RTMAX-1"), Ok(libc::SIGRTMAX() - 1));
        for bad in ["", "0", "65", "-1", "FOO", "SIG", "RTMIN+99", "RTMINx"] {
            assert!(parse_signal(bad).is_err(), "{bad:?} accepted");
        }
    }
}
