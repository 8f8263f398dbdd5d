//! The default config.json written by `berth spec`, in the shape of `runc spec`
//! (runc's specconv.Example and ToRootless).
//!
//! Differences from runc's output, on purpose:
//! - No `inheritable` capability set at all (CVE-2022-29162: capabilities in the
//!   inheritable set survive execve of file-capability binaries).
//! - The cgroup namespace is always listed (runc lists it only on a cgroup v2 host; this
//!   function is pure and does not look at the host).
//! - Rootless drops the `/sys/fs/cgroup` mount: without a cgroup it owns, a rootless
//!   container cannot mount a cgroup filesystem.

use serde_json::{json, Value};

/// The `ociVersion` written in new configs.
pub const OCI_VERSION: &str = "1.3.0";

/// The config.json `berth spec` writes. `rootless` is `Some((uid, gid))` for a rootless
/// container run by host uid/gid (`berth spec --rootless` passes the caller's euid/egid),
/// `None` for a container run by root.
pub fn default_spec(rootless: Option<(u32, u32)>) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut spec = json!({
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth",
        "mounts": mounts(rootless.is_some()),
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": namespaces(rootless.is_some()),
            "maskedPaths": [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
                "/sys/devices/virtual/powercap",
                "/sys/devices/virtual/tpm"
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ]
        }
    });
    if let (Some((uid, gid)), Some(linux)) = (rootless, spec.get_mut("linux")) {
        if let Some(linux) = linux.as_object_mut() {
            // A rootless runtime cannot write cgroup files it does not own.
            linux.remove("resources");
            linux.insert(
                "uidMappings".into(),
                json!([{"containerID": 0, "hostID": uid, "size": 1}]),
            );
            linux.insert(
                "gidMappings".into(),
                json!([{"containerID": 0, "hostID": gid, "size": 1}]),
            );
        }
    }
    spec
}

fn namespaces(rootless: bool) -> Value {
    let types: &[&str] = if rootless {
        // No network namespace: an unprivileged user has no way to connect a new one.
        &["pid", "ipc", "uts", "mount", "cgroup", "user"]
    } else {
        &["pid", "network", "ipc", "uts", "mount", "cgroup"]
    };
    Value::Array(types.iter().map(|t| json!({"type": t})).collect())
}

fn mounts(rootless: bool) -> Value {
    let mut list = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
    ];
    if rootless {
        // gid=5 names a group that is not mapped in a rootless user namespace.
        list.push(
            json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
        );
    } else {
        list.push(
            json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        );
    }
    list.push(
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
        "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
    );
    list.push(
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
        "options": ["nosuid", "noexec", "nodev"]}),
    );
    if rootless {
        // sysfs cannot be mounted without owning the network namespace: bind the host's.
        list.push(
            json!({"destination": "/sys", "type": "none", "source": "/sys",
            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}),
        );
    } else {
        list.push(
            json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"]}),
        );
        list.push(
            json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
        );
    }
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{load, validate};

    fn parses_and_validates(v: &Value) {
        let spec = match load::parse_spec(v.to_string().as_bytes()) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        if let Err(e) = validate::validate(&spec) {
            panic!("{e}");
        }
    }

    fn has_inheritable(v: &Value) -> bool {
        v.pointer("/process/capabilities/inheritable").is_some()
    }

    #[test]
    fn default_is_valid_and_has_no_inheritable_caps() {
        let v = default_spec(None);
        parses_and_validates(&v);
        assert!(!has_inheritable(&v), "CVE-2022-29162");
        assert_eq!(v["ociVersion"], OCI_VERSION);
        assert_eq!(v["process"]["terminal"], true);
        assert_eq!(v["root"]["readonly"], true);
        assert_eq!(
            v["linux"]["resources"]["devices"],
            json!([{"allow": false, "access": "rwm"}])
        );
        assert!(v.pointer("/linux/uidMappings").is_none());
        let ns = &v["linux"]["namespaces"];
        assert!(ns
            .as_array()
            .is_some_and(|a| a.contains(&json!({"type": "network"}))));
        assert!(!ns
            .as_array()
            .is_some_and(|a| a.contains(&json!({"type": "user"}))));
    }

    #[test]
    fn rootless_is_valid_and_maps_the_caller() {
        let v = default_spec(Some((1000, 1001)));
        parses_and_validates(&v);
        assert!(!has_inheritable(&v), "CVE-2022-29162");
        assert_eq!(
            v["linux"]["uidMappings"],
            json!([{"containerID": 0, "hostID": 1000, "size": 1}])
        );
        assert_eq!(
            v["linux"]["gidMappings"],
            json!([{"containerID": 0, "hostID": 1001, "size": 1}])
        );
        assert!(v.pointer("/linux/resources").is_none());
        let ns = v["linux"]["namespaces"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(ns.contains(&json!({"type": "user"})));
        assert!(!ns.contains(&json!({"type": "network"})));
        let mounts = v["mounts"].as_array().cloned().unwrap_or_default();
        let sys = mounts.iter().find(|m| m["destination"] == "/sys");
        assert_eq!(sys.map(|m| &m["type"]), Some(&json!("none")));
        assert!(!mounts.iter().any(|m| m["type"] == "cgroup"));
        assert!(!mounts
            .iter()
            .flat_map(|m| m["options"].as_array().cloned().unwrap_or_default())
            .any(|o| o
                .as_str()
                .is_some_and(|o| o.starts_with("gid=") || o.starts_with("uid="))));
    }
}
