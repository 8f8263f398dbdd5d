//! Cgroups: where the container's cgroup is on this host (v1, v2 or hybrid), creating
//! it, placing the init in it, listing and removing it. Writing `linux.resources`
//! values is the business of the controllers (issue 3); this file is the layout.

pub mod apply;
pub mod bpf;
pub mod devices;
pub mod ops;
pub mod resources;

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("linux.cgroupsPath {0:?}: \"..\" is not allowed")]
    Traversal(String),
    #[error("cgroup {path}: still has processes after killing them")]
    Busy { path: PathBuf },
    #[error("cgroups: {0}")]
    Unsupported(String),
    #[error("--systemd-cgroup: systemd cgroup management is not supported (this host has no systemd); use the cgroupfs driver")]
    SystemdUnsupported,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
static MOUNTINFO_READS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount_point: PathBuf,
    /// v1 controllers (and `name=...`) from the super options; empty for cgroup2.
    pub controllers: Vec<String>,
    pub v2: bool,
}

/// The cgroup hierarchies of this host, from /proc/self/mountinfo.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    /// Read once per process: `run` and `delete` asked for it up to three times, and
    /// on a host with many mounts (every container's, under an engine) mountinfo is
    /// long. The host's cgroup mounts do not change while one berth command runs.
    pub fn detect() -> Result<Layout, CgroupError> {
        static DETECTED: std::sync::Mutex<Option<Layout>> = std::sync::Mutex::new(None);
        let mut cached = DETECTED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = cached.as_ref() {
            return Ok(l.clone());
        }
        let p = Path::new("/proc/self/mountinfo");
        let text = fs::read_to_string(p).map_err(io_err(p))?;
        #[cfg(test)]
        MOUNTINFO_READS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(cached.insert(Self::parse_mountinfo(&text)).clone())
    }

    /// Pure: the cgroup mounts named in a mountinfo text.
    pub fn parse_mountinfo(text: &str) -> Layout {
        let mut hierarchies = Vec::new();
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mut r = right.split_whitespace();
            let fstype = r.next().unwrap_or("");
            let _source = r.next();
            let super_opts = r.next().unwrap_or("");
            let Some(mount_point) = left.split_whitespace().nth(4) else {
                continue;
            };
            let mount_point = PathBuf::from(unescape_mountinfo(mount_point));
            match fstype {
                "cgroup2" => hierarchies.push(Hierarchy {
                    mount_point,
                    controllers: Vec::new(),
                    v2: true,
                }),
                "cgroup" => {
                    let controllers = super_opts
                        .split(',')
                        .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains("release_agent"))
                        .filter(|o| !o.starts_with("clone_children") && *o != "noprefix")
                        .map(str::to_string)
                        .collect();
                    hierarchies.push(Hierarchy {
                        mount_point,
                        controllers,
                        v2: false,
                    })
                }
                _ => {}
            }
        }
        Layout { hierarchies }
    }

    /// Pure v2: only a cgroup2 mount and no v1 hierarchy.
    pub fn is_v2(&self) -> bool {
        self.hierarchies.iter().all(|h| h.v2) && !self.hierarchies.is_empty()
    }
}

/// `\040` and friends in mountinfo fields.
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // Three octal digits naming a byte; \4xx and up name none and stay as they are.
        let byte = b
            .get(i + 1..i + 4)
            .filter(|_| b[i] == b'\\')
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| {
                let v = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                u8::try_from(v).ok()
            });
        if let Some(v) = byte {
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The prefix of the cgroup of a container without linux.cgroupsPath.
pub const DEFAULT_PREFIX: &str = "berth-";

/// The container's cgroup path (relative to each hierarchy's root): `linux.cgroupsPath`
/// when given (absolute, or relative to the hierarchy root like runc's cgroupfs
/// driver), else `/berth-<id>`. `..` is refused (SECURITY.md attack 18).
///
/// The default sits at the root as runc's and crun's `/<id>` do, with no parent to
/// make at create and remove at delete (one cgroup per hierarchy, not two: about 6%
/// of `run`'s CPU time on cgroup v1). The prefix keeps an id such as `system.slice`
/// from naming, and on delete killing, a cgroup berth did not make.
pub fn container_path(cgroups_path: Option<&Path>, id: &str) -> Result<String, CgroupError> {
    match cgroups_path.map(normalized).transpose()?.flatten() {
        Some(p) => Ok(p),
        None => Ok(format!("/{DEFAULT_PREFIX}{id}")),
    }
}

/// `p` as "/a/b" (".", "/" and doubled slashes dropped), None when nothing is left;
/// ".." is refused.
fn normalized(p: &Path) -> Result<Option<String>, CgroupError> {
    let mut out = String::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => {
                out.push('/');
                out.push_str(&n.to_string_lossy());
            }
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(CgroupError::Traversal(p.display().to_string()))
            }
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// `exec --cgroup SUB`: the sub-cgroup's path below the container's ("/a/b"), or None
/// when SUB names the container's own cgroup ("", "/", "."); ".." is refused.
pub fn sub_cgroup_path(sub: &str) -> Result<Option<String>, CgroupError> {
    normalized(Path::new(sub))
}

/// A container's cgroup: the same path in every hierarchy.
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub path: String,
    pub dirs: Vec<(Hierarchy, PathBuf)>,
}

impl Cgroup {
    pub fn new(layout: &Layout, path: &str) -> Cgroup {
        let rel = path.trim_start_matches('/');
        let dirs = layout
            .hierarchies
            .iter()
            .map(|h| (h.clone(), h.mount_point.join(rel)))
            .collect();
        Cgroup {
            path: path.to_string(),
            dirs,
        }
    }

    /// mkdir -p in every hierarchy. v1 cpuset dirs get cpus/mems from their parent so
    /// that a task can be added at all.
    pub fn create(&self) -> Result<(), CgroupError> {
        for (h, dir) in &self.dirs {
            // A concurrent delete may rmdir the shared default parent between our
            // two mkdirs: try again.
            let mut tries = 0;
            while let Err(e) = fs::create_dir_all(dir) {
                tries += 1;
                if e.kind() != io::ErrorKind::NotFound || tries > 3 {
                    return Err(io_err(dir)(e));
                }
            }
            if !h.v2 && h.controllers.iter().any(|c| c == "cpuset") {
                fill_cpuset(&h.mount_point, dir)?;
            }
        }
        Ok(())
    }

    /// Apply device rules to v1 `devices` hierarchies. (cgroup v2 needs an eBPF
    /// program; that is the cgroup work of issue 3.)
    pub fn apply_devices(&self, rules: &[devices::Rule]) -> Result<(), CgroupError> {
        for (h, dir) in &self.dirs {
            if h.v2 || !h.controllers.iter().any(|c| c == "devices") {
                continue;
            }
            // One open per file: the kernel takes each write(2) as one rule, in order.
            let mut open: Vec<(&str, fs::File)> = Vec::with_capacity(2);
            for (file, line) in devices::v1_writes(rules) {
                let f = dir.join(file);
                let fail = |e: io::Error| CgroupError::Io {
                    path: f.clone(),
                    source: io::Error::new(e.kind(), format!("writing {line:?}: {e}")),
                };
                let i = match open.iter().position(|(n, _)| *n == file) {
                    Some(i) => i,
                    None => {
                        open.push((
                            file,
                            fs::OpenOptions::new().write(true).open(&f).map_err(fail)?,
                        ));
                        open.len() - 1
                    }
                };
                io::Write::write_all(&mut open[i].1, line.as_bytes()).map_err(fail)?;
            }
        }
        Ok(())
    }

    /// Put `pid` in the cgroup in every hierarchy.
    pub fn add(&self, pid: i32) -> Result<(), CgroupError> {
        for (_, dir) in &self.dirs {
            let f = dir.join("cgroup.procs");
            fs::write(&f, pid.to_string()).map_err(io_err(&f))?;
        }
        Ok(())
    }

    /// The pids in the cgroup (from the first hierarchy that answers).
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut last = None;
        for (_, dir) in &self.dirs {
            let f = dir.join("cgroup.procs");
            match fs::read_to_string(&f) {
                Ok(s) => return Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect()),
                Err(e) => last = Some(io_err(&f)(e)),
            }
        }
        match last {
            Some(e) => Err(e),
            None => Ok(Vec::new()),
        }
    }

    /// v1 freezer or v2 cgroup.freeze says frozen.
    pub fn frozen(&self) -> bool {
        self.dirs.iter().any(|(h, dir)| {
            if h.v2 {
                fs::read_to_string(dir.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
            } else if h.controllers.iter().any(|c| c == "freezer") {
                fs::read_to_string(dir.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
            } else {
                false
            }
        })
    }

    /// Remove the cgroup dirs (sub-cgroups first). Processes still inside are killed,
    /// and removal is retried until `timeout`.
    pub fn remove(&self, timeout: Duration) -> Result<(), CgroupError> {
        let deadline = Instant::now() + timeout;
        for (_, dir) in &self.dirs {
            remove_tree(dir, deadline)?;
        }
        Ok(())
    }
}

fn remove_tree(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    // Most cgroups have no sub-cgroups and no processes left: one rmdir, no listing.
    match fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&e.path(), deadline)?;
        }
    }
    let mut delay = Duration::from_millis(1);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                if Instant::now() >= deadline {
                    return Err(CgroupError::Busy {
                        path: dir.to_path_buf(),
                    });
                }
                if let Ok(s) = fs::read_to_string(dir.join("cgroup.procs")) {
                    for pid in s.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
                // Exited tasks leave the cgroup asynchronously; back off briefly.
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(io_err(dir)(e)),
        }
    }
}

fn fill_cpuset(mount_point: &Path, dir: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let f = dir.join(file);
        let cur = fs::read_to_string(&f).map_err(io_err(&f))?;
        if !cur.trim().is_empty() {
            continue;
        }
        // Walk up to the first ancestor that has a value, then fill downwards.
        let mut chain = vec![dir.to_path_buf()];
        let mut p = dir.parent();
        while let Some(d) = p {
            if !d.starts_with(mount_point) {
                break;
            }
            let v = fs::read_to_string(d.join(file)).map_err(io_err(d))?;
            if !v.trim().is_empty() {
                for c in chain.iter().rev() {
                    let cf = c.join(file);
                    // An ancestor may have been filled meanwhile; `dir` was read above.
                    let cv = if c == dir {
                        String::new()
                    } else {
                        fs::read_to_string(&cf).map_err(io_err(&cf))?
                    };
                    if cv.trim().is_empty() {
                        fs::write(&cf, v.trim()).map_err(io_err(&cf))?;
                    }
                }
                break;
            }
            chain.push(d.to_path_buf());
            p = d.parent();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// `exec --cgroup /` (or "" or ".") used to land in a sub-cgroup named "berth".
    #[test]
    fn exec_sub_cgroup_of_nothing_is_the_containers_own() {
        for own in ["", "/", ".", "./", "//"] {
            assert_eq!(sub_cgroup_path(own).unwrap(), None, "{own:?}");
        }
        assert_eq!(sub_cgroup_path("a/b").unwrap().as_deref(), Some("/a/b"));
        assert_eq!(sub_cgroup_path("/a/./b/").unwrap().as_deref(), Some("/a/b"));
        assert!(sub_cgroup_path("a/../..").is_err());
    }

    /// Found by tests/robustness.rs: "\\777" overflowed u8 (a panic in debug builds).
    #[test]
    fn octal_escapes_above_a_byte_stay_literal() {
        assert_eq!(unescape_mountinfo("a\\777b"), "a\\777b");
        assert_eq!(unescape_mountinfo("a\\040b\\377"), "a b\u{fffd}");
        assert_eq!(unescape_mountinfo("\\04"), "\\04");
        assert_eq!(unescape_mountinfo("x\\"), "x\\");
    }

    #[test]
    fn parses_hybrid_layout() {
        let l = Layout::parse_mountinfo(HYBRID);
        assert_eq!(l.hierarchies.len(), 4);
        assert_eq!(l.hierarchies[0].controllers, vec!["cpu"]);
        assert_eq!(l.hierarchies[1].controllers, vec!["cpuset"]);
        assert_eq!(l.hierarchies[2].controllers, vec!["name=systemd"]);
        assert!(l.hierarchies[3].v2);
        assert!(!l.is_v2());
        let v2 = Layout::parse_mountinfo(
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        assert!(v2.is_v2());
    }

    #[test]
    fn cgroups_path_rules() {
        assert_eq!(container_path(None, "c").unwrap(), "/berth-c");
        assert_eq!(
            container_path(None, "system.slice").unwrap(),
            "/berth-system.slice"
        );
        assert_eq!(
            container_path(Some(Path::new("/a/b")), "c").unwrap(),
            "/a/b"
        );
        assert_eq!(container_path(Some(Path::new("a/b")), "c").unwrap(), "/a/b");
        assert!(matches!(
            container_path(Some(Path::new("/a/../../etc")), "c"),
            Err(CgroupError::Traversal(_))
        ));
        assert!(matches!(
            container_path(Some(Path::new("..")), "c"),
            Err(CgroupError::Traversal(_))
        ));
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn layout_is_read_once_per_process() {
        let first = Layout::detect().unwrap();
        let again = Layout::detect().unwrap();
        assert_eq!(first.hierarchies, again.hierarchies);
        // Other tests in this process may have detected it first: still one read.
        assert_eq!(MOUNTINFO_READS.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn fake_cgroupfs_create_add_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout {
            hierarchies: vec![Hierarchy {
                mount_point: tmp.path().to_path_buf(),
                controllers: vec!["pids".into()],
                v2: false,
            }],
        };
        let cg = Cgroup::new(&layout, &container_path(None, "x").unwrap());
        cg.create().unwrap();
        let dir = tmp.path().join("berth-x");
        assert!(dir.is_dir());
        cg.add(123).unwrap();
        assert_eq!(fs::read_to_string(dir.join("cgroup.procs")).unwrap(), "123");
        assert_eq!(cg.pids().unwrap(), vec![123]);
        fs::remove_file(dir.join("cgroup.procs")).unwrap();
        cg.remove(Duration::from_millis(10)).unwrap();
        assert!(!dir.exists());
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing left");

        // A parent named by linux.cgroupsPath belongs to the caller: it stays.
        let mine = Cgroup::new(&layout, "/engine/y");
        mine.create().unwrap();
        mine.remove(Duration::from_millis(10)).unwrap();
        assert!(!tmp.path().join("engine/y").exists());
        assert!(
            tmp.path().join("engine").is_dir(),
            "the caller's parent is not ours to remove"
        );
    }
}
