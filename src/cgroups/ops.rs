//! Operations on a live container's cgroup: freeze and thaw (`pause`/`resume`),
//! signal every process (`kill --all`), usage statistics and OOM notification
//! (`events`). v1 hierarchies are used where they hold the controller (hybrid hosts
//! included); the cgroup2 hierarchy otherwise.

use super::{Cgroup, CgroupError, Hierarchy};
use serde_json::{json, Map, Value};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Cgroup {
    /// The directory of the v1 hierarchy holding `controller`.
    pub fn v1_dir(&self, controller: &str) -> Option<&PathBuf> {
        self.dirs
            .iter()
            .find(|(h, _)| !h.v2 && h.controllers.iter().any(|c| c == controller))
            .map(|(_, d)| d)
    }

    /// The cgroup2 directory, if the host has a cgroup2 mount.
    pub fn v2_dir(&self) -> Option<&PathBuf> {
        self.dirs.iter().find(|(h, _)| h.v2).map(|(_, d)| d)
    }

    fn dir_for(&self, controller: &str) -> Option<(&Hierarchy, &PathBuf)> {
        self.dirs
            .iter()
            .find(|(h, _)| !h.v2 && h.controllers.iter().any(|c| c == controller))
            .or_else(|| self.dirs.iter().find(|(h, _)| h.v2))
            .map(|(h, d)| (h, d))
    }

    /// Freeze (`true`) or thaw every process, and wait until the kernel says it is done.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let Some((h, dir)) = self.dir_for("freezer") else {
            return Err(CgroupError::Unsupported(
                "no freezer: neither a v1 freezer hierarchy nor cgroup2".into(),
            ));
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        if h.v2 {
            let f = dir.join("cgroup.freeze");
            fs::write(&f, if frozen { "1" } else { "0" }).map_err(io_err(&f))?;
            let ev = dir.join("cgroup.events");
            let want = if frozen { "frozen 1" } else { "frozen 0" };
            wait_for(
                deadline,
                || fs::read_to_string(&ev).is_ok_and(|s| s.lines().any(|l| l == want)),
                &ev,
            )
        } else {
            let f = dir.join("freezer.state");
            let want = if frozen { "FROZEN" } else { "THAWED" };
            wait_for(
                deadline,
                || {
                    // A v1 freeze can stall in FREEZING; writing again retries it.
                    let _ = fs::write(&f, want);
                    fs::read_to_string(&f).is_ok_and(|s| s.trim() == want)
                },
                &f,
            )
        }
    }

    /// Send `sig` to every process in the cgroup. SIGKILL on v2 uses cgroup.kill, which
    /// cannot miss a process forked meanwhile; otherwise the cgroup is frozen around
    /// the signalling so that no process escapes by forking.
    pub fn signal_all(&self, sig: i32) -> Result<(), CgroupError> {
        if sig == libc::SIGKILL {
            if let Some(dir) = self.v2_dir().filter(|d| d.join("cgroup.kill").exists()) {
                // On hybrid hosts the processes are in the v2 cgroup too.
                let f = dir.join("cgroup.kill");
                return fs::write(&f, "1").map_err(io_err(&f));
            }
        }
        let frozen = self.set_frozen(true).is_ok();
        let pids = self.pids();
        if let Ok(pids) = &pids {
            for pid in pids {
                if let Ok(fd) = crate::sys::pidfd_open(*pid) {
                    let _ = crate::sys::pidfd_send_signal(std::os::fd::AsFd::as_fd(&fd), sig);
                }
            }
        }
        if frozen {
            self.set_frozen(false)?;
        }
        pids.map(|_| ())
    }

    /// Usage statistics in runc's `events --stats` shape.
    pub fn stats(&self) -> Value {
        let mut out = Map::new();
        out.insert("cpu".into(), self.cpu_stats());
        out.insert("memory".into(), self.memory_stats());
        out.insert("pids".into(), self.pids_stats());
        Value::Object(out)
    }

    fn cpu_stats(&self) -> Value {
        let mut usage = json!({});
        let mut throttling = json!({});
        if let Some(d) = self.v1_dir("cpuacct") {
            usage["total"] = read_u64(&d.join("cpuacct.usage")).into();
            usage["percpu"] = read_list(&d.join("cpuacct.usage_percpu")).into();
            let st = flat_keyed(&d.join("cpuacct.stat"));
            usage["user"] = user_hz_to_ns(st.get("user").copied().unwrap_or(0)).into();
            usage["kernel"] = user_hz_to_ns(st.get("system").copied().unwrap_or(0)).into();
        }
        if let Some(d) = self.v1_dir("cpu") {
            let st = flat_keyed(&d.join("cpu.stat"));
            throttling = json!({
                "periods": st.get("nr_periods").copied().unwrap_or(0),
                "throttledPeriods": st.get("nr_throttled").copied().unwrap_or(0),
                "throttledTime": st.get("throttled_time").copied().unwrap_or(0),
            });
        }
        if self.v1_dir("cpu").is_none() {
            if let Some(d) = self.v2_dir() {
                let st = flat_keyed(&d.join("cpu.stat"));
                let us = |k: &str| st.get(k).copied().unwrap_or(0).saturating_mul(1000);
                usage = json!({"total": us("usage_usec"), "user": us("user_usec"), "kernel": us("system_usec")});
                throttling = json!({
                    "periods": st.get("nr_periods").copied().unwrap_or(0),
                    "throttledPeriods": st.get("nr_throttled").copied().unwrap_or(0),
                    "throttledTime": us("throttled_usec"),
                });
            }
        }
        json!({"usage": usage, "throttling": throttling})
    }

    fn memory_stats(&self) -> Value {
        if let Some(d) = self.v1_dir("memory") {
            let raw = flat_keyed(&d.join("memory.stat"));
            let entry = |prefix: &str| {
                json!({
                    "usage": read_u64(&d.join(format!("{prefix}.usage_in_bytes"))),
                    "max": read_u64(&d.join(format!("{prefix}.max_usage_in_bytes"))),
                    "limit": read_u64(&d.join(format!("{prefix}.limit_in_bytes"))),
                    "failcnt": read_u64(&d.join(format!("{prefix}.failcnt"))),
                })
            };
            return json!({
                "cache": raw.get("cache").copied().unwrap_or(0),
                "usage": entry("memory"),
                "swap": entry("memory.memsw"),
                "raw": raw,
            });
        }
        let Some(d) = self.v2_dir() else {
            return json!({});
        };
        let raw = flat_keyed(&d.join("memory.stat"));
        let max = |f: &str| match fs::read_to_string(d.join(f)) {
            Ok(s) if s.trim() == "max" => u64::MAX,
            Ok(s) => s.trim().parse().unwrap_or(0),
            Err(_) => 0,
        };
        json!({
            "cache": raw.get("file").copied().unwrap_or(0),
            "usage": {"usage": read_u64(&d.join("memory.current")), "limit": max("memory.max"),
                      "max": read_u64(&d.join("memory.peak")), "failcnt": flat_keyed(&d.join("memory.events")).get("max").copied().unwrap_or(0)},
            "swap": {"usage": read_u64(&d.join("memory.swap.current")), "limit": max("memory.swap.max")},
            "raw": raw,
        })
    }

    fn pids_stats(&self) -> Value {
        let Some((_, d)) = self.dir_for("pids") else {
            return json!({});
        };
        let limit = match fs::read_to_string(d.join("pids.max")) {
            Ok(s) if s.trim() == "max" => 0,
            Ok(s) => s.trim().parse().unwrap_or(0),
            Err(_) => 0,
        };
        json!({"current": read_u64(&d.join("pids.current")), "limit": limit})
    }

    /// How many processes the kernel has OOM-killed in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        if let Some(d) = self.v1_dir("memory") {
            return flat_keyed(&d.join("memory.oom_control"))
                .get("oom_kill")
                .copied()
                .unwrap_or(0);
        }
        self.v2_dir()
            .map(|d| {
                flat_keyed(&d.join("memory.events"))
                    .get("oom_kill")
                    .copied()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// A watcher that becomes readable when the kernel OOM-kills in this cgroup.
    pub fn oom_watcher(&self) -> Result<OomWatcher, CgroupError> {
        if let Some(d) = self.v1_dir("memory") {
            // v1: an eventfd registered through cgroup.event_control.
            let efd = nix::sys::eventfd::EventFd::from_value_and_flags(
                0,
                nix::sys::eventfd::EfdFlags::EFD_CLOEXEC,
            )
            .map_err(|e| io_err(d)(e.into()))?;
            let ctl = d.join("memory.oom_control");
            let oom = fs::File::open(&ctl).map_err(io_err(&ctl))?;
            let ec = d.join("cgroup.event_control");
            use std::os::fd::AsRawFd;
            fs::write(&ec, format!("{} {}", efd.as_raw_fd(), oom.as_raw_fd()))
                .map_err(io_err(&ec))?;
            return Ok(OomWatcher::V1 { efd, _oom: oom });
        }
        let Some(d) = self.v2_dir() else {
            return Err(CgroupError::Unsupported("no memory controller".into()));
        };
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(|e| io_err(d)(e.into()))?;
        let ev = d.join("memory.events");
        ino.add_watch(&ev, AddWatchFlags::IN_MODIFY)
            .map_err(|e| io_err(&ev)(e.into()))?;
        let seen = flat_keyed(&ev).get("oom_kill").copied().unwrap_or(0);
        Ok(OomWatcher::V2 {
            ino,
            events: ev,
            seen,
        })
    }
}

/// See `Cgroup::oom_watcher`.
pub enum OomWatcher {
    V1 {
        efd: nix::sys::eventfd::EventFd,
        _oom: fs::File,
    },
    V2 {
        ino: nix::sys::inotify::Inotify,
        events: PathBuf,
        seen: u64,
    },
}

impl OomWatcher {
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        match self {
            OomWatcher::V1 { efd, .. } => efd.as_fd(),
            OomWatcher::V2 { ino, .. } => ino.as_fd(),
        }
    }

    /// Called when `fd()` is readable: how many OOM kills happened since last time.
    pub fn take(&mut self) -> u64 {
        match self {
            OomWatcher::V1 { efd, .. } => efd.read().unwrap_or(0),
            OomWatcher::V2 { ino, events, seen } => {
                let _ = ino.read_events();
                let now = flat_keyed(events).get("oom_kill").copied().unwrap_or(*seen);
                let n = now.saturating_sub(*seen);
                *seen = now;
                n
            }
        }
    }
}

fn wait_for(
    deadline: Instant,
    mut done: impl FnMut() -> bool,
    what: &Path,
) -> Result<(), CgroupError> {
    let mut delay = Duration::from_millis(1);
    while !done() {
        if Instant::now() >= deadline {
            return Err(CgroupError::Io {
                path: what.to_path_buf(),
                source: io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the kernel did not finish freezing/thawing",
                ),
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
    }
    Ok(())
}

fn read_u64(p: &Path) -> u64 {
    fs::read_to_string(p)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn read_list(p: &Path) -> Vec<u64> {
    fs::read_to_string(p)
        .map(|s| {
            s.split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// cpuacct.stat's USER_HZ (100 per second) ticks as nanoseconds; saturates, since the
/// kernel's counters are u64 and a busy hierarchy's ticks times 10^7 can pass u64::MAX.
fn user_hz_to_ns(ticks: u64) -> u64 {
    const NS_PER_TICK: u64 = 1_000_000_000 / 100;
    ticks.saturating_mul(NS_PER_TICK)
}

/// "key value" lines (memory.stat, cpu.stat, memory.events).
pub fn parse_flat_keyed(text: &str) -> std::collections::BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn flat_keyed(p: &Path) -> std::collections::BTreeMap<String, u64> {
    fs::read_to_string(p)
        .map(|s| parse_flat_keyed(&s))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::Layout;

    /// Found reviewing for tests/robustness.rs: ticks * 10^9 overflowed u64 (a panic in
    /// debug builds) for counters above 1.8e10 ticks.
    #[test]
    fn tick_conversion_saturates() {
        assert_eq!(user_hz_to_ns(3), 30_000_000);
        assert_eq!(
            user_hz_to_ns(u64::MAX / 10_000_000),
            u64::MAX / 10_000_000 * 10_000_000
        );
        assert_eq!(user_hz_to_ns(u64::MAX / 10_000_000 + 1), u64::MAX);
        assert_eq!(user_hz_to_ns(u64::MAX), u64::MAX);
    }

    #[test]
    fn flat_keyed_skips_garbage() {
        let m = parse_flat_keyed("usage_usec 10\nnr_periods 2\nbogus\nx y\n");
        assert_eq!(m.get("usage_usec"), Some(&10));
        assert_eq!(m.get("nr_periods"), Some(&2));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn v2_stats_from_fake_cgroupfs() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout {
            hierarchies: vec![Hierarchy {
                mount_point: tmp.path().to_path_buf(),
                controllers: vec![],
                v2: true,
            }],
        };
        let cg = Cgroup::new(&layout, "/c");
        let d = tmp.path().join("c");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("cpu.stat"), "usage_usec 7\nuser_usec 3\nsystem_usec 4\nnr_periods 5\nnr_throttled 1\nthrottled_usec 2\n").unwrap();
        fs::write(d.join("memory.current"), "4096\n").unwrap();
        fs::write(d.join("memory.max"), "max\n").unwrap();
        fs::write(d.join("pids.current"), "3\n").unwrap();
        fs::write(d.join("pids.max"), "10\n").unwrap();
        let s = cg.stats();
        assert_eq!(s["cpu"]["usage"]["total"], 7000);
        assert_eq!(s["cpu"]["throttling"]["throttledPeriods"], 1);
        assert_eq!(s["memory"]["usage"]["usage"], 4096);
        assert_eq!(s["memory"]["usage"]["limit"], u64::MAX);
        assert_eq!(s["pids"], json!({"current": 3, "limit": 10}));
    }

    #[test]
    fn v2_freeze_waits_for_the_kernel() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout {
            hierarchies: vec![Hierarchy {
                mount_point: tmp.path().to_path_buf(),
                controllers: vec![],
                v2: true,
            }],
        };
        let cg = Cgroup::new(&layout, "/c");
        let d = tmp.path().join("c");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        cg.set_frozen(true).unwrap();
        assert_eq!(fs::read_to_string(d.join("cgroup.freeze")).unwrap(), "1");
    }
}
