//! Runtime-side facts the probe cannot see from inside the container: the
//! runtime namespace inodes, inodes of namespace paths, bind sources, the
//! caller's oom_score_adj and CPU affinity, and the clocks at launch. Plus the
//! harness's few syscalls (work dir, shared mount, helper namespaces).

use serde_json::{json, Map, Value};
use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const NS_FILES: &[&str] = &["pid", "net", "mnt", "ipc", "uts", "user", "cgroup", "time"];

pub fn ns_inode(pid: &str, file: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/{file}"))
        .ok()
        .map(|m| m.ino())
}

fn clock(id: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

pub fn affinity() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain old data.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer and size.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return Vec::new();
    }
    // SAFETY: index below CPU_SETSIZE.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect()
}

/// host.json for a bundle whose config is `cfg`.
pub fn facts(cfg: &Value, bundle: &Path, shared: bool) -> Value {
    let mut ns = Map::new();
    for f in NS_FILES {
        if let Some(i) = ns_inode("self", f) {
            ns.insert(f.to_string(), json!(i));
        }
    }
    let mut ns_paths = Map::new();
    for n in cfg
        .pointer("/linux/namespaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(ty), Some(path)) = (
            n.get("type").and_then(Value::as_str),
            n.get("path").and_then(Value::as_str),
        ) {
            if let Ok(m) = std::fs::metadata(path) {
                ns_paths.insert(ty.to_string(), json!(m.ino()));
            }
        }
    }
    let mut binds = Map::new();
    for (i, m) in cfg
        .pointer("/mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let opts = m.get("options").and_then(Value::as_array);
        let is_bind = opts
            .into_iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind");
        let Some(src) = m.get("source").and_then(Value::as_str) else {
            continue;
        };
        if is_bind {
            if let Ok(md) = std::fs::metadata(bundle.join(src)) {
                binds.insert(i.to_string(), json!({"dev": md.dev(), "ino": md.ino()}));
            }
        }
    }
    let oom = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    json!({
        "ns": ns,
        "bundle_on_shared_mount": shared,
        "ns_paths": ns_paths,
        "bind_sources": binds,
        "oom_score_adj": oom,
        "cpus_allowed": affinity(),
        "monotonic": clock(libc::CLOCK_MONOTONIC),
        "boottime": clock(libc::CLOCK_BOOTTIME),
    })
}

/// A fresh private directory under /tmp.
pub fn make_work_dir() -> std::io::Result<PathBuf> {
    let tmpl = CString::new("/tmp/berth-conformance-XXXXXX").map_err(std::io::Error::other)?;
    let raw = tmpl.into_raw();
    // SAFETY: raw is a writable NUL-terminated template owned by us.
    let r = unsafe { libc::mkdtemp(raw) };
    // SAFETY: raw came from into_raw above.
    let s = unsafe { CString::from_raw(raw) };
    if r.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    let dir = PathBuf::from(s.to_string_lossy().into_owned());
    // Container roots mapped to other host ids (user namespaces) must be able
    // to reach the bundles.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o711))?;
    Ok(dir)
}

fn mount(src: Option<&Path>, dst: &Path, flags: libc::c_ulong) -> std::io::Result<()> {
    let c =
        |p: &Path| CString::new(p.as_os_str().as_encoded_bytes()).map_err(std::io::Error::other);
    let dst = c(dst)?;
    let src = src.map(c).transpose()?;
    // SAFETY: valid C strings or null where mount(2) allows.
    let r = unsafe {
        libc::mount(
            src.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            dst.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Bind the work dir onto itself as a shared mount, as on systemd hosts, so
/// that rootfsPropagation has a peer group to be a slave of.
pub fn make_shared(dir: &Path) -> std::io::Result<()> {
    mount(Some(dir), dir, libc::MS_BIND)?;
    mount(None, dir, libc::MS_SHARED)
}

pub fn unmount(dir: &Path) {
    if let Ok(c) = CString::new(dir.as_os_str().as_encoded_bytes()) {
        // SAFETY: valid C string.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// A helper process (busybox sleep) in new network, ipc and uts namespaces,
/// whose /proc/PID/ns/* files serve as namespace paths.
pub fn spawn_ns_holder() -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new("/bin/busybox");
    cmd.args(["sleep", "600"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: unshare is async-signal-safe; runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}
