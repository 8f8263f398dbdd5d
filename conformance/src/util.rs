//! Outside-the-container observations shared by the lifecycle, hook and
//! error-path cases.

use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Poll `cond` every 20 ms until it holds or `within` passes.
pub fn wait_for(within: Duration, cond: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > within {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The state JSON against schema/state-schema.json and runtime.md "State".
pub fn state_shape(v: &Value) -> Result<(), String> {
    let obj = v.as_object().ok_or("state is not a JSON object")?;
    for k in ["ociVersion", "id", "status", "bundle"] {
        if !obj.get(k).is_some_and(Value::is_string) {
            return Err(format!("{k} missing or not a string in {v}"));
        }
    }
    let status = obj.get("status").and_then(Value::as_str).unwrap_or("");
    if !["creating", "created", "running", "stopped"].contains(&status) {
        return Err(format!("status {status:?} is not in the schema's enum"));
    }
    match obj.get("pid") {
        Some(p) if !p.is_u64() => return Err(format!("pid {p} is not a non-negative integer")),
        None if matches!(status, "created" | "running") => {
            return Err(format!("pid is REQUIRED when status is {status}"))
        }
        _ => {}
    }
    if let Some(a) = obj.get("annotations") {
        let ok = a
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string));
        if !ok {
            return Err(format!("annotations {a} is not a string map"));
        }
    }
    Ok(())
}

/// Processes whose root directory is `rootfs` (containers left behind).
pub fn procs_with_root(rootfs: &Path) -> Vec<i32> {
    let Ok(want) = std::fs::metadata(rootfs) else {
        return Vec::new();
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/root"))
                .is_ok_and(|m| m.dev() == want.dev() && m.ino() == want.ino())
        })
        .collect()
}

/// (hierarchy controllers, path) from /proc/PID/cgroup.
pub fn cgroups_of(pid: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, ctrl, path) = (it.next()?, it.next()?, it.next()?);
            Some((ctrl.to_string(), path.to_string()))
        })
        .collect()
}

/// Host directories of a process's cgroups that the harness itself is not
/// in: the ones its runtime created (or joined) for it.
pub fn cgroup_dirs_created_for(pid: &str) -> Vec<PathBuf> {
    let own = cgroups_of("self");
    let mut dirs = Vec::new();
    for (ctrl, path) in cgroups_of(pid) {
        if own.iter().any(|(c, p)| *c == ctrl && *p == path) {
            continue;
        }
        let rel = path.trim_start_matches('/');
        let candidates: Vec<PathBuf> = if ctrl.is_empty() {
            vec![
                Path::new("/sys/fs/cgroup/unified").join(rel),
                Path::new("/sys/fs/cgroup").join(rel),
            ]
        } else {
            let name = ctrl.trim_start_matches("name=");
            let first = name.split(',').next().unwrap_or(name);
            vec![
                Path::new("/sys/fs/cgroup").join(name).join(rel),
                Path::new("/sys/fs/cgroup").join(first).join(rel),
            ]
        };
        if let Some(d) = candidates.into_iter().find(|d| d.is_dir()) {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    dirs
}

pub fn mnt_ns(pid: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(|p| p.display().to_string())
}
