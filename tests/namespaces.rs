//! Namespaces joined by path, the time namespace, --no-pivot and tmpcopyup.

#[macro_use]
mod common;

use common::Ctx;
use serde_json::json;
use std::fs;

fn ns_inode(pid: i32, ns: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// A second container joins the first one's network and uts namespaces by path
/// (config-linux.md "namespaces": path), and gets its own pid namespace.
#[test]
fn join_namespaces_by_path() {
    require_root!();
    let ctx = Ctx::new("ns-join");
    let mut first = ctx.bundle(&["sleep", "60"]);
    first.config["hostname"] = json!("first");
    first.save();
    let a = ctx.id("a");
    ctx.create(&first, &a).expect_ok();
    let pid = ctx.state(&a)["pid"].as_i64().unwrap() as i32;

    let mut second = ctx.bundle(&[
        "sh",
        "-c",
        "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/pid",
    ]);
    let ns = second.config["linux"]["namespaces"].as_array_mut().unwrap();
    for n in ns.iter_mut() {
        match n["type"].as_str().unwrap() {
            "network" => n["path"] = json!(format!("/proc/{pid}/ns/net")),
            "uts" => n["path"] = json!(format!("/proc/{pid}/ns/uts")),
            _ => {}
        }
    }
    second.config.as_object_mut().unwrap().remove("hostname");
    second.save();
    let out = ctx.run_ok(&second, "b");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "first", "uts namespace not joined");
    assert_eq!(
        lines[1],
        ns_inode(pid, "net"),
        "network namespace not joined"
    );
    assert_ne!(lines[2], ns_inode(pid, "pid"), "pid namespace must be new");
}

/// A path that is not a namespace of the named type is refused at setns.
#[test]
fn joining_a_wrong_namespace_type_fails() {
    require_root!();
    let ctx = Ctx::new("ns-wrongtype");
    let mut b = ctx.bundle(&["true"]);
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    for n in ns.iter_mut() {
        if n["type"] == "network" {
            n["path"] = json!("/proc/self/ns/uts");
        }
    }
    b.save();
    let id = ctx.id("c");
    let out = ctx.run(&b, &id);
    out.expect_err();
    assert!(
        out.stderr.contains("linux.namespaces[type=network]"),
        "{}",
        out.stderr
    );
    assert!(!ctx.state_dir(&id).exists());
}

/// linux.timeOffsets in a new time namespace shift CLOCK_BOOTTIME (seen in /proc/uptime).
#[test]
fn time_namespace_offsets() {
    require_root!();
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        eprintln!("skip: kernel has no time namespaces");
        return;
    }
    let ctx = Ctx::new("ns-time");
    let out = ctx.run_sh(
        "c",
        "cut -d. -f1 /proc/uptime; cat /proc/self/timens_offsets",
        |b| {
            b.add_namespace("time");
            b.config["linux"]["timeOffsets"] =
                json!({"boottime": {"secs": 86400000, "nanosecs": 0}});
        },
    );
    let host_uptime: u64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut lines = out.lines();
    let uptime: u64 = lines.next().unwrap().parse().unwrap();
    assert!(
        uptime >= 86400000 + host_uptime - 5,
        "uptime {uptime} not offset"
    );
    assert!(
        out.contains("boottime") && out.contains("86400000"),
        "{out}"
    );
}

/// --no-pivot: MS_MOVE + chroot instead of pivot_root; the container still sees only its
/// rootfs.
#[test]
fn no_pivot_still_confines_the_root() {
    require_root!();
    let ctx = Ctx::new("ns-nopivot");
    let b = ctx.bundle(&["sh", "-c", "ls /; test -e /host-only || echo confined"]);
    fs::write(b.rootfs().join("inside"), "").unwrap();
    b.save();
    let id = ctx.id("c");
    let out = ctx.cmd(&["run", "--no-pivot", "--bundle", &b.dir_str(), &id]);
    out.expect_ok();
    assert!(out.stdout.contains("inside"), "{}", out.stdout);
    assert!(out.stdout.ends_with("confined\n"), "{}", out.stdout);
}

/// tmpcopyup: the tmpfs starts with a copy of what the image had at its destination,
/// and writes to it do not reach the image.
#[test]
fn tmpfs_tmpcopyup_copies_the_image_content() {
    require_root!();
    let ctx = Ctx::new("mnt-tmpcopyup");
    let mut b = ctx.bundle(&[
        "sh",
        "-c",
        "cat /data/seed; echo new > /data/seed; cat /data/seed; stat -c %a /data",
    ]);
    let rootfs = b.rootfs();
    fs::create_dir_all(rootfs.join("data")).unwrap();
    fs::write(rootfs.join("data/seed"), "from-image\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut fs::metadata(rootfs.join("data")).unwrap().permissions(),
        0o750,
    );
    fs::set_permissions(
        rootfs.join("data"),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    b.add_mount(json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "nosuid"]}));
    b.save();
    let out = ctx.run_ok(&b, "c");
    assert_eq!(out, "from-image\nnew\n750\n");
    assert_eq!(
        fs::read_to_string(rootfs.join("data/seed")).unwrap(),
        "from-image\n"
    );
}
