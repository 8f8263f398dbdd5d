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
    // RTMIN+n and RTMAX-n: n is plain digits (no sign of its own, which would turn
    // "RTMIN+-5" into a signal below SIGRTMIN), and the sum is checked, not wrapped.
    let offset = |rest: &str, sign: char| -> std::result::Result<i32, String> {
        if rest.is_empty() {
            return Ok(0);
        }
        rest.strip_prefix(sign)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<i32>().ok())
            .ok_or_else(bad)
    };
    let rt = libc::SIGRTMIN()..=libc::SIGRTMAX();
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return libc::SIGRTMIN()
            .checked_add(offset(rest, '+')?)
            .filter(|n| rt.contains(n))
            .ok_or_else(bad);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return libc::SIGRTMAX()
            .checked_sub(offset(rest, '-')?)
            .filter(|n| rt.contains(n))
            .ok_or_else(bad);
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

    /// Found by tests/robustness.rs: the offset overflowed i32 (a panic in debug
    /// builds), and a signed offset reached signals outside SIGRTMIN..=SIGRTMAX.
    #[test]
    fn realtime_offsets_are_checked() {
        for bad in [
            "RTMIN+2147483647",
            "RTMAX-2147483647",
            "RTMAX--2147483648",
            "RTMIN+-5",
            "RTMAX--5",
            "RTMIN++1",
            "RTMAX-+1",
            "RTMIN+",
            "SIGRTMIN+99999999999",
        ] {
            assert!(parse_signal(bad).is_err(), "{bad:?} accepted");
        }
        let span = libc::SIGRTMAX() - libc::SIGRTMIN();
        assert_eq!(parse_signal(&format!("RTMIN+{span}")), Ok(libc::SIGRTMAX()));
        assert_eq!(parse_signal(&format!("RTMAX-{span}")), Ok(libc::SIGRTMIN()));
    }
}
