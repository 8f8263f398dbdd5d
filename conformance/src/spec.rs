//! The base config.json every scenario starts from: runc's `runc spec`
//! output with terminal false and no inheritable or ambient capabilities.

use crate::bundle::PROBE_IN_CONTAINER;
use serde_json::{json, Value};

pub const DEFAULT_CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn base(args: Vec<String>) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": [PATH_ENV, "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": DEFAULT_CAPS,
                "effective": DEFAULT_CAPS,
                "permitted": DEFAULT_CAPS
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth-conformance",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// process.args running the probe with the given check groups.
pub fn probe_args(groups: &str) -> Vec<String> {
    vec![
        PROBE_IN_CONTAINER.to_string(),
        "--groups".to_string(),
        groups.to_string(),
    ]
}

/// Set `value` at a JSON pointer, creating objects on the way.
pub fn set(cfg: &mut Value, pointer: &str, value: Value) {
    let mut cur = cfg;
    let keys: Vec<&str> = pointer.split('/').skip(1).collect();
    for (i, k) in keys.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(obj) = cur.as_object_mut() else {
            return;
        };
        if i + 1 == keys.len() {
            obj.insert(k.to_string(), value);
            return;
        }
        cur = obj.entry(k.to_string()).or_insert_with(|| json!({}));
    }
}

pub fn remove(cfg: &mut Value, pointer: &str) {
    let (parent, key) = match pointer.rsplit_once('/') {
        Some(p) => p,
        None => return,
    };
    if let Some(obj) = cfg.pointer_mut(parent).and_then(Value::as_object_mut) {
        obj.remove(key);
    }
}

/// Append an element to the array at `pointer` (creating it).
pub fn push(cfg: &mut Value, pointer: &str, value: Value) {
    if cfg.pointer(pointer).and_then(Value::as_array).is_none() {
        set(cfg, pointer, json!([]));
    }
    if let Some(a) = cfg.pointer_mut(pointer).and_then(Value::as_array_mut) {
        a.push(value);
    }
}

/// Namespaces list: `types` each without a path.
pub fn namespaces(types: &[&str]) -> Value {
    Value::Array(types.iter().map(|t| json!({"type": t})).collect())
}
