//! What the host shows: processes, mounts, cgroup hierarchies.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::wait_until;

/// A process identified by pid and start time (so a reused pid is not mistaken for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub start: u64,
}

fn stat_fields(pid: i32) -> Option<(char, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // after "pid (comm) ": state is field 3, starttime field 22
    Some((f.first()?.chars().next()?, f.get(19)?.parse().ok()?))
}

impl Proc {
    pub fn of(pid: i32) -> Option<Proc> {
        stat_fields(pid).map(|(_, start)| Proc { pid, start })
    }

    /// Still there and not a zombie.
    pub fn alive(&self) -> bool {
        matches!(stat_fields(self.pid), Some((st, start)) if start == self.start && st != 'Z')
    }

    /// Wait up to 10 s for the process to be gone.
    pub fn wait_gone(&self) -> bool {
        wait_until(Duration::from_secs(10), || !self.alive())
    }
}

/// Pids of every process whose command line contains `needle`.
pub fn procs_with_cmdline(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut found = vec![];
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid == me {
                continue;
            }
            if let Ok(c) = fs::read(format!("/proc/{pid}/cmdline")) {
                let c = String::from_utf8_lossy(&c).replace('\0', " ");
                if c.contains(needle) && matches!(stat_fields(pid), Some((s, _)) if s != 'Z') {
                    found.push(pid);
                }
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------
// Mounts and cgroups on the host

/// Mount points (field 5 of mountinfo) of the test's mount namespace.
pub fn mountinfo() -> String {
    fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()
}

/// Every mounted cgroup hierarchy (v1 controllers, named ones, and the v2 one).
pub fn cgroup_mounts() -> Vec<PathBuf> {
    mountinfo()
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let fstype = post.split_whitespace().next()?;
            let point = pre.split_whitespace().nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(point))
        })
        .collect()
}

/// Directories named `path` (a cgroup path like "/berth-x") that exist in any hierarchy.
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    cgroup_mounts()
        .into_iter()
        .map(|m| m.join(rel))
        .filter(|p| !rel.is_empty() && p.is_dir())
        .collect()
}

/// The cgroup directories of a process, one per hierarchy it is in (root cgroups omitted).
pub fn proc_cgroup_dirs(pid: i32) -> Vec<PathBuf> {
    let info = mountinfo();
    let mounts: Vec<(PathBuf, String, Vec<String>)> = info
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mut post = post.split_whitespace();
            let fstype = post.next()?.to_string();
            let opts = post
                .nth(1)
                .unwrap_or("")
                .split(',')
                .map(String::from)
                .collect();
            let point = PathBuf::from(pre.split_whitespace().nth(4)?);
            (fstype == "cgroup" || fstype == "cgroup2").then_some((point, fstype, opts))
        })
        .collect();
    let s = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mut dirs = vec![];
    for line in s.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next(), parts.next().unwrap_or(""), parts.next());
        let Some(path) = path.filter(|p| *p != "/") else {
            continue;
        };
        let mount = mounts.iter().find(|(_, fstype, opts)| {
            if ctrls.is_empty() {
                fstype == "cgroup2"
            } else {
                fstype == "cgroup" && ctrls.split(',').all(|c| opts.iter().any(|o| o == c))
            }
        });
        if let Some((m, _, _)) = mount {
            dirs.push(m.join(path.trim_start_matches('/')));
        }
    }
    dirs
}

/// Every cgroup directory named `name` (or `berth-name`, berth's default for container
/// `name`), at any depth, in any hierarchy.
pub fn cgroup_dirs_named(name: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, name: &str, depth: usize, found: &mut Vec<PathBuf>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let p = e.path();
                let n = e.file_name().to_string_lossy().into_owned();
                // berth's default cgroup of container <id> is berth-<id>.
                if n == name || n.strip_prefix("berth-") == Some(name) {
                    found.push(p.clone());
                }
                if depth < 8 {
                    walk(&p, name, depth + 1, found);
                }
            }
        }
    }
    let mut found = vec![];
    for m in cgroup_mounts() {
        walk(&m, name, 0, &mut found);
    }
    found
}

pub fn cleanup_cgroup(path: &str) {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() || rel.contains("..") {
        return;
    }
    for m in cgroup_mounts() {
        let _ = fs::remove_dir(m.join(rel));
    }
}

/// Last resort after a runtime lost track of a container: SIGKILL every process in a
/// cgroup named `name` (a test's unique id) and remove those cgroups.
pub fn kill_cgroups_named(name: &str) {
    let mut dirs = cgroup_dirs_named(name);
    if dirs.is_empty() {
        return;
    }
    let procs = |dirs: &[PathBuf]| -> Vec<i32> {
        dirs.iter()
            .flat_map(|d| {
                fs::read_to_string(d.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect()
    };
    for pid in procs(&dirs) {
        eprintln!("cleanup: killing leftover pid {pid} in cgroup {name}");
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    wait_until(Duration::from_secs(5), || procs(&dirs).is_empty());
    dirs.sort_by_key(|d| std::cmp::Reverse(d.as_os_str().len()));
    for d in dirs {
        let _ = fs::remove_dir(d);
    }
}

pub fn lazy_umount_under(dir: &Path) {
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<String> = mountinfo()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(String::from))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        if let Ok(c) = std::ffi::CString::new(p) {
            // SAFETY: c is a valid NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}
