use super::Container;
use crate::error::{Error, Result};
use crate::store::Store;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::Write;
use std::time::Duration;

/// "5", "5s", "500ms", "1m" as a duration.
pub fn parse_interval(s: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("invalid --interval {s:?}: use seconds like 5 or 5s, or 500ms, 1m");
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err(bad());
    }
    Ok(d)
}

fn event(kind: &str, id: &str, data: Option<serde_json::Value>) -> String {
    let mut v = serde_json::json!({"type": kind, "id": id});
    if let Some(d) = data {
        v["data"] = d;
    }
    v.to_string()
}

/// `events`: with --stats one stats event; otherwise a stats event every interval and
/// an "oom" event whenever the kernel OOM-kills in the container, until it stops.
pub fn events(store: &Store, id: &str, stats: bool, interval: &str) -> Result<()> {
    let every = parse_interval(interval).map_err(Error::Usage)?;
    let c = Container::open(store, id)?;
    let cg = c
        .cgroup()
        .ok_or_else(|| Error::Usage(format!("container {id} has no cgroup")))?;
    let mut out = std::io::stdout();
    if stats {
        writeln!(out, "{}", event("stats", id, Some(cg.stats()))).map_err(Error::io("stdout"))?;
        return Ok(());
    }
    let mut oom = cg.oom_watcher()?;
    // Events must not hold the container's lock: kill/delete go on meanwhile.
    let init = c.init_pidfd();
    drop(c);
    let ms = every.as_millis().min(u16::MAX as u128) as u16;
    loop {
        let mut fds = vec![PollFd::new(oom.fd(), PollFlags::POLLIN)];
        if let Some(p) = &init {
            fds.push(PollFd::new(std::os::fd::AsFd::as_fd(p), PollFlags::POLLIN));
        }
        let n = match poll(&mut fds, PollTimeout::from(ms)) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.map_err(|e| Error::io("poll")(e.into()))?,
        };
        let oom_ready = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        let gone = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty())
            || init.is_none();
        if oom_ready {
            for _ in 0..oom.take() {
                writeln!(out, "{}", event("oom", id, None)).map_err(Error::io("stdout"))?;
            }
        }
        if n == 0 {
            writeln!(out, "{}", event("stats", id, Some(cg.stats())))
                .map_err(Error::io("stdout"))?;
        }
        out.flush().map_err(Error::io("stdout"))?;
        if gone {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_interval("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "0", "s", "5h", "-1", "1.5s"] {
            assert!(parse_interval(bad).is_err(), "{bad:?}");
        }
    }

    /// Found by tests/robustness.rs: minutes times 60 overflowed u64 (a panic in
    /// debug builds).
    #[test]
    fn huge_minutes_are_refused() {
        assert!(parse_interval("18446744073709551615m").is_err());
        assert!(parse_interval("307445734561825861m").is_err());
        assert_eq!(
            parse_interval("307445734561825860m"),
            Ok(Duration::from_secs(307_445_734_561_825_860 * 60))
        );
    }
}
