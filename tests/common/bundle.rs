//! The busybox-static rootfs, the default config.json and the bundle builder.

use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn applets() -> &'static Vec<String> {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("/bin/busybox --list (busybox-static)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "busybox")
            .map(String::from)
            .collect()
    })
}

/// Build a busybox-static rootfs at `dir`.
pub fn build_rootfs(dir: &Path) {
    for d in [
        "bin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "home/test",
        "mnt",
        "var",
        "usr",
    ] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::set_permissions(dir.join("root"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::copy("/bin/busybox", dir.join("bin/busybox")).expect("copy /bin/busybox");
    for a in applets() {
        symlink("busybox", dir.join("bin").join(a)).unwrap();
    }
    fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
         test:x:1000:1000:test:/home/test:/bin/sh\n",
    )
    .unwrap();
    fs::write(
        dir.join("etc/group"),
        "root:x:0:\ntty:x:5:\nnobody:x:65534:\ntest:x:1000:\n",
    )
    .unwrap();
}

/// The three capabilities of `runc spec`; no inheritable or ambient set.
pub const DEFAULT_CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// A config like `runc spec`'s, but terminal false, a writable root, no inheritable or
/// ambient capabilities, and `args` from the test.
pub fn default_config(args: &[&str]) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
            "cwd": "/",
            "capabilities": {
                "bounding": DEFAULT_CAPS,
                "effective": DEFAULT_CAPS,
                "permitted": DEFAULT_CAPS
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "berth-test",
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
             "options": ["nosuid", "noexec", "nodev", "ro"]}
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

pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
}

impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn dir_str(&self) -> String {
        self.dir.to_string_lossy().into_owned()
    }

    /// Write `config` to config.json.
    pub fn save(&self) {
        fs::write(
            self.config_path(),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// Append a mount entry.
    pub fn add_mount(&mut self, m: Value) {
        self.config["mounts"].as_array_mut().unwrap().push(m);
    }

    /// Append a bind mount of host dir `src` at `dest`.
    pub fn add_bind(&mut self, src: &Path, dest: &str, extra: &[&str]) {
        let mut opts = vec!["rbind", "rprivate"];
        opts.extend_from_slice(extra);
        self.add_mount(json!({"destination": dest, "type": "bind",
            "source": src.to_string_lossy(), "options": opts}));
    }

    pub fn add_namespace(&mut self, ns: &str) {
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "type": ns }));
    }

    pub fn remove_namespace(&mut self, ns: &str) {
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != ns);
    }
}
