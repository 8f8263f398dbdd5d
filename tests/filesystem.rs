//! The container's filesystem view (root): masked and read-only paths, a read-only root,
//! mounts and their flags, /dev nodes, linux.devices, the device cgroup. Every check runs
//! busybox inside the container and reads its output.

#[macro_use]
mod common;

use common::Ctx;
use serde_json::json;
use std::fs;
use std::path::Path;

/// Options of the mount at `dest` in /proc/self/mounts output (the last one wins).
fn mount_opts(mounts: &str, dest: &str) -> (String, Vec<String>) {
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&dest)).then(|| {
                (
                    f[2].to_string(),
                    f[3].split(',').map(String::from).collect(),
                )
            })
        })
        .next_back()
        .unwrap_or_else(|| panic!("{dest} is not mounted:\n{mounts}"))
}

/// Masked files of the default config that this kernel has (/proc/kcore may be absent).
fn masked_files() -> Vec<&'static str> {
    let v: Vec<&str> = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/latency_stats",
        "/proc/timer_stats",
    ]
    .into_iter()
    .filter(|p| Path::new(p).is_file())
    .collect();
    assert!(!v.is_empty(), "none of the masked /proc files exist here");
    v
}

#[test]
fn masked_paths_read_empty() {
    require_root!();
    let ctx = Ctx::new("fs-masked");
    let files = masked_files();
    let script = format!(
        "for f in {}; do \
           if cat $f > /dev/null 2>&1; then echo \"$f $(wc -c < $f) $(stat -c %t:%T $f)\"; \
           else echo \"$f unreadable\"; fi; \
         done; \
         for d in /sys/firmware /proc/acpi; do echo \"$d $(ls -A $d | wc -l)\"; done",
        files.join(" ")
    );
    let out = ctx.run_sh("c", &script, |_| {});
    let mut want: String = files.iter().map(|f| format!("{f} 0 1:3\n")).collect();
    want += "/sys/firmware 0\n/proc/acpi 0\n";
    assert_eq!(
        out, want,
        "masked files are /dev/null, masked dirs an empty read-only tmpfs"
    );
    // Without masking the same paths are not empty, so the check above means something.
    let out = ctx.run_sh(
        "unmasked",
        "wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l",
        |b| {
            b.config["linux"]["maskedPaths"] = json!([]);
        },
    );
    assert!(!out.starts_with("0\n") && !out.ends_with("\n0\n"), "{out}");
}

/// SECURITY.md attack 22: masks stay in place.
#[test]
fn masked_paths_cannot_be_unmounted_or_written() {
    require_root!();
    let ctx = Ctx::new("fs-masked-umount");
    let f = masked_files()[0];
    let out = ctx.run_sh(
        "c",
        &format!(
            "umount {f} 2>/dev/null && echo unmounted; \
             umount /sys/firmware 2>/dev/null && echo unmounted-dir; \
             touch /sys/firmware/x 2>/dev/null && echo wrote; \
             wc -c < {f}"
        ),
        |_| {},
    );
    assert_eq!(out, "0\n");
}

#[test]
fn readonly_paths_cannot_be_written_or_remounted() {
    require_root!();
    let ctx = Ctx::new("fs-readonly-paths");
    // CAP_NET_ADMIN makes the sysctl writable but for the read-only mount.
    let with_net_admin = |b: &mut common::Bundle| {
        let caps = ["CAP_NET_ADMIN", "CAP_KILL"];
        b.config["process"]["capabilities"] =
            json!({"bounding": caps, "effective": caps, "permitted": caps});
    };
    let script =
        "echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null && echo wrote || echo refused; \
                  mount -o remount,rw /proc/sys 2>/dev/null && echo remounted; \
                  cat /proc/self/mounts";
    let out = ctx.run_sh("c", script, with_net_admin);
    assert!(out.starts_with("refused\n"), "{out}");
    let paths = [
        "/proc/sys",
        "/proc/sysrq-trigger",
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
    ];
    for p in paths.into_iter().filter(|p| Path::new(p).exists()) {
        let (_, opts) = mount_opts(&out, p);
        assert!(opts.contains(&"ro".to_string()), "{p}: {opts:?}");
    }
    // Control: without readonlyPaths the same write succeeds.
    let out = ctx.run_sh(
        "control",
        "echo 1 > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward",
        |b| {
            with_net_admin(b);
            b.config["linux"]["readonlyPaths"] = json!([]);
        },
    );
    assert_eq!(out, "1\n");
}

#[test]
fn readonly_root() {
    require_root!();
    let ctx = Ctx::new("fs-root-ro");
    let mut b = ctx.bundle(&[
        "sh",
        "-c",
        "touch /x 2>/dev/null && echo wrote || echo refused; touch /dev/shm/ok && echo shm-ok; \
         cat /proc/self/mounts",
    ]);
    b.config["root"]["readonly"] = json!(true);
    let out = ctx.run_ok(&b, "c");
    assert!(out.starts_with("refused\nshm-ok\n"), "{out}");
    let (_, opts) = mount_opts(&out, "/");
    assert!(opts.contains(&"ro".to_string()), "/: {opts:?}");
    assert!(!b.rootfs().join("x").exists());
}

#[test]
fn mounts_have_the_configured_flags() {
    require_root!();
    let ctx = Ctx::new("fs-mounts");
    let src = ctx.mkdir("robind");
    fs::write(src.join("hello"), "hi from the host\n").unwrap();
    let script = "cat /ro/hello; touch /ro/x 2>/dev/null && echo wrote-ro; \
                  touch /data/x && echo data-ok; cp /bin/busybox /data/bb; \
                  /data/bb true 2>/dev/null && echo exec-ok || echo noexec; \
                  cat /proc/self/mounts";
    let out = ctx.run_sh("c", script, |b| {
        b.add_mount(
            json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "noexec", "nodev", "mode=700", "size=4m"]}),
        );
        b.add_bind(&src, "/ro", &["ro"]);
    });
    assert!(
        out.starts_with("hi from the host\ndata-ok\nnoexec\n"),
        "{out}"
    );
    let (fstype, opts) = mount_opts(&out, "/data");
    assert_eq!(fstype, "tmpfs");
    for o in ["rw", "nosuid", "nodev", "noexec", "mode=700", "size=4096k"] {
        assert!(opts.contains(&o.to_string()), "/data lacks {o}: {opts:?}");
    }
    let (_, opts) = mount_opts(&out, "/ro");
    assert!(opts.contains(&"ro".to_string()), "/ro: {opts:?}");
    assert_eq!(
        fs::read_dir(&src).unwrap().count(),
        1,
        "the host dir changed"
    );
    // The default mounts: proc, sysfs read-only, devpts, mqueue, shm.
    assert_eq!(mount_opts(&out, "/proc").0, "proc");
    let (fstype, opts) = mount_opts(&out, "/sys");
    assert_eq!(fstype, "sysfs");
    assert!(opts.contains(&"ro".to_string()), "/sys: {opts:?}");
    assert_eq!(mount_opts(&out, "/dev/pts").0, "devpts");
    assert_eq!(mount_opts(&out, "/dev/mqueue").0, "mqueue");
    assert_eq!(mount_opts(&out, "/dev/shm").0, "tmpfs");
}

#[test]
fn cgroup_mount_is_read_only() {
    require_root!();
    let ctx = Ctx::new("fs-cgroup-mount");
    let out = ctx.run_sh(
        "c",
        "mkdir /sys/fs/cgroup/pids/x 2>/dev/null && echo made; cat /proc/self/mounts",
        |b| {
            b.add_mount(json!({"destination": "/sys/fs/cgroup", "type": "cgroup",
                "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}));
        },
    );
    assert!(!out.starts_with("made"), "{out}");
    // On cgroup v1 a tmpfs holds one mount per hierarchy; those must be read-only.
    let cgroup_mounts: Vec<&str> = out
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].starts_with("/sys/fs/cgroup") && f[2].starts_with("cgroup")
        })
        .collect();
    assert!(!cgroup_mounts.is_empty(), "{out}");
    for l in cgroup_mounts {
        let opts = l.split_whitespace().nth(3).unwrap();
        assert!(opts.split(',').any(|o| o == "ro"), "{l}");
    }
}

#[test]
fn default_dev_nodes() {
    require_root!();
    let ctx = Ctx::new("fs-dev");
    let script =
        "for d in null zero full random urandom tty; do stat -c \"$d %F %t:%T\" /dev/$d; done; \
                  for l in fd stdin stdout stderr; do echo \"$l $(readlink /dev/$l)\"; done; \
                  if [ -L /dev/ptmx ]; then echo \"ptmx $(readlink /dev/ptmx)\"; \
                  else stat -c 'ptmx %t:%T' /dev/ptmx; fi; \
                  head -c 3 /dev/zero | wc -c; echo x > /dev/null && echo null-ok; \
                  echo x 2>/dev/null > /dev/full || echo full-enospc; \
                  test $(head -c 16 /dev/urandom | wc -c) = 16 && echo urandom-ok";
    let out = ctx.run_sh("c", script, |_| {});
    let expected = [
        "null character special file 1:3",
        "zero character special file 1:5",
        "full character special file 1:7",
        "random character special file 1:8",
        "urandom character special file 1:9",
        "tty character special file 5:0",
        "fd /proc/self/fd",
        "stdin /proc/self/fd/0",
        "stdout /proc/self/fd/1",
        "stderr /proc/self/fd/2",
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..expected.len()], expected, "{out}");
    let rest = &lines[expected.len()..];
    assert!(
        rest[0] == "ptmx pts/ptmx" || rest[0] == "ptmx /dev/pts/ptmx" || rest[0] == "ptmx 5:2",
        "{out}"
    );
    assert_eq!(
        rest[1..],
        ["3", "null-ok", "full-enospc", "urandom-ok"],
        "{out}"
    );
}

#[test]
fn linux_devices_entry_is_created_and_allowed() {
    require_root!();
    let ctx = Ctx::new("fs-devices");
    let out = ctx.run_sh(
        "c",
        "stat -c '%F %t:%T %a %u:%g' /dev/mydev; echo x 2>/dev/null > /dev/mydev || echo enospc",
        |b| {
            b.config["linux"]["devices"] = json!([{"path": "/dev/mydev", "type": "c",
                "major": 1, "minor": 7, "fileMode": 0o640, "uid": 0, "gid": 5}]);
            b.config["linux"]["resources"]["devices"]
                .as_array_mut()
                .unwrap()
                .push(json!({"allow": true, "type": "c", "major": 1, "minor": 7,
                    "access": "rwm"}));
        },
    );
    assert_eq!(out, "character special file 1:7 640 0:5\nenospc\n");
}

/// SECURITY.md attack 21: a device the cgroup does not allow cannot be used, even by a
/// container with CAP_MKNOD (runc allows mknod of any node, but not opening it).
#[test]
fn device_cgroup_denies_other_devices() {
    require_root!();
    let ctx = Ctx::new("fs-devcgroup");
    // /dev/loop0 (b 7:0) opens fine for root when allowed; /dev/kmsg (c 1:11) is writable.
    let script = "mknod /tmp/loop b 7 0 2>/dev/null; \
                  head -c 1 /tmp/loop > /dev/null 2>&1 && echo opened-loop; \
                  mknod /tmp/kmsg c 1 11 2>/dev/null; \
                  echo '<7>berth-test' 2>/dev/null > /tmp/kmsg && echo wrote-kmsg; \
                  mknod /tmp/null c 1 3 && echo x > /tmp/null && echo null-ok";
    let with_mknod = |b: &mut common::Bundle| {
        let caps = ["CAP_MKNOD", "CAP_KILL"];
        b.config["process"]["capabilities"] =
            json!({"bounding": caps, "effective": caps, "permitted": caps});
    };
    let out = ctx.run_sh("c", script, with_mknod);
    assert_eq!(out, "null-ok\n", "only the default devices are allowed");

    // Control: once the cgroup allows the loop device, the same open works.
    let out = ctx.run_sh("allowed", script, |b| {
        with_mknod(b);
        b.config["linux"]["resources"]["devices"]
            .as_array_mut()
            .unwrap()
            .push(json!({"allow": true, "type": "b", "major": 7, "minor": 0, "access": "rm"}));
    });
    assert_eq!(out, "opened-loop\nnull-ok\n");
}
