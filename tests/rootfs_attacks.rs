//! SECURITY.md attacks against the rootfs setup (2, 3, 4, 5, 7, 8): a bundle that plants
//! symlinks or foreign inodes where berth mounts, mkdirs or creates devices must never
//! make berth touch the host. Tests 2, 3, 7 and 8 fail if the in-root resolution
//! (openat2 RESOLVE_IN_ROOT in src/init/rootfs/) were replaced by plain path joins; 4
//! and 5 fail without the inode checks of /dev/null and of the terminal's slave.

#[macro_use]
mod common;

use common::Ctx;
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

fn mountinfo() -> String {
    fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// Names in `dir`, sorted, or empty if it is gone.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Attack 7 and 8: bind destinations through absolute, relative and dangling symlinks
/// land inside the rootfs; the host directory they point at gains nothing.
#[test]
fn bind_destinations_through_symlinks_stay_in_rootfs() {
    require_root!();
    let ctx = Ctx::new("atk-symlink-dest");
    let host_target = ctx.mkdir("host-target");
    fs::write(host_target.join("keep"), "host").unwrap();
    let src = ctx.mkdir("src");
    fs::write(src.join("payload"), "from-src").unwrap();
    let mut b = ctx.bundle(&[
        "sh",
        "-c",
        "cat /abs/payload /rel/payload /dangling/sub/payload",
    ]);
    let rootfs = b.rootfs();
    // Absolute link to the host dir, relative link climbing out, dangling link into it.
    symlink(&host_target, rootfs.join("abs")).unwrap();
    symlink(
        "../../../../../../../../..".to_string() + host_target.to_str().unwrap(),
        rootfs.join("rel"),
    )
    .unwrap();
    let other = ctx.mkdir("other-host-dir");
    symlink(other.join("newdir"), rootfs.join("dangling")).unwrap();
    for dest in ["/abs", "/rel", "/dangling/sub"] {
        b.add_bind(&src, dest, &[]);
    }
    b.save();
    let out = ctx.run(&b, &ctx.id("c"));
    out.expect_ok();
    assert_eq!(out.stdout, "from-srcfrom-srcfrom-src");
    assert_eq!(listing(&host_target), vec!["keep"], "host dir was touched");
    assert!(
        listing(&other).is_empty(),
        "dangling link target created on the host"
    );
    // The dangling link was resolved inside the rootfs and created there.
    assert!(rootfs
        .join(other.strip_prefix("/").unwrap())
        .join("newdir/sub")
        .is_dir());
}

/// Attack 2: /proc in the image is a symlink (absolute or relative): create fails and
/// nothing is mounted on the host.
#[test]
fn proc_symlink_in_image_is_refused() {
    require_root!();
    let ctx = Ctx::new("atk-proc-link");
    for (tag, target) in [("abs", "/tmp/fakeproc"), ("rel", "tmp/fakeproc")] {
        let b = ctx.bundle(&["true"]);
        let rootfs = b.rootfs();
        fs::create_dir_all(rootfs.join("tmp/fakeproc")).unwrap();
        fs::remove_dir_all(rootfs.join("proc")).ok();
        // A file named like the link's target would be where a naive runtime mounts.
        symlink(target, rootfs.join("proc")).unwrap();
        fs::write(rootfs.join("tmp/marker"), "x").unwrap();
        // proc on a directory reached through a symlink inside the rootfs is fine;
        // on a link to a file it must fail.
        fs::remove_dir(rootfs.join("tmp/fakeproc")).unwrap();
        fs::write(rootfs.join("tmp/fakeproc"), "not a dir").unwrap();
        b.save();
        let before = mountinfo();
        let out = ctx.run(&b, &ctx.id(tag));
        out.expect_err();
        assert!(
            out.stderr.contains("not a directory"),
            "{tag}: {}",
            out.stderr
        );
        assert_eq!(mountinfo(), before, "{tag}: host mounts changed");
        assert!(
            !ctx.state_dir(&ctx.id(tag)).exists(),
            "{tag}: state left behind"
        );
    }
}

/// Attack 3: the image's /dev is a symlink to a host directory; that directory is
/// byte-identical afterwards (device nodes and links went inside the rootfs).
#[test]
fn dev_symlink_to_host_dir_is_not_followed() {
    require_root!();
    let ctx = Ctx::new("atk-dev-link");
    let host_dev = ctx.mkdir("host-dev");
    fs::write(host_dev.join("sentinel"), "s").unwrap();
    let mut b = ctx.bundle(&["sh", "-c", "test -c /dev/null && echo ok"]);
    // No /dev tmpfs: berth creates the default devices in the image's /dev itself.
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| !m["destination"].as_str().unwrap_or("").starts_with("/dev"));
    let rootfs = b.rootfs();
    fs::remove_dir_all(rootfs.join("dev")).ok();
    symlink(&host_dev, rootfs.join("dev")).unwrap();
    b.save();
    let out = ctx.run(&b, &ctx.id("c"));
    out.expect_ok();
    assert_eq!(out.stdout, "ok\n");
    assert_eq!(
        listing(&host_dev),
        vec!["sentinel"],
        "host dir gained entries"
    );
}

/// Attack 4: /dev/null replaced by a symlink to a host file, with maskedPaths set: the
/// symlink is replaced by the real device (default devices) or, for a regular file in
/// a bind-mounted /dev, masking is refused; the target is never written.
#[test]
fn masking_needs_the_real_null_device() {
    require_root!();
    let ctx = Ctx::new("atk-devnull");
    let devdir = ctx.mkdir("devdir");
    fs::write(devdir.join("null"), "I am not a device").unwrap();
    let mut b = ctx.bundle(&["true"]);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| m["destination"] != "/dev");
    b.add_bind(&devdir, "/dev", &["rbind"]);
    b.config["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/keys", "/proc/timer_list"]);
    b.save();
    let out = ctx.run(&b, &ctx.id("c"));
    out.expect_err();
    assert!(out.stderr.contains("not the null device"), "{}", out.stderr);
    assert_eq!(
        fs::read_to_string(devdir.join("null")).unwrap(),
        "I am not a device"
    );
}

/// The three ways the bundle below plants /dev/pts/0, the path of the terminal's slave.
#[derive(Clone, Copy, Debug)]
enum FakeSlave {
    /// A regular host file: the runtime would make it the container's /dev/console.
    HostFile,
    /// A symlink to a file (refused by O_NOFOLLOW, then by the inode check).
    Symlink,
    /// A ptmx device node (5:2) outside devpts: it opens, and is a tty, but a
    /// terminal the caller of create does not hold.
    PtmxNode,
}

/// Attack 5 (CVE-2025-52565): terminal: true, and the bundle tampers with the
/// console path: a host directory is bound over /dev/pts whose `ptmx` leads to a
/// real devpts instance (so a master opens), but whose `0`, where the slave of that
/// master is looked up by name, is a host file, a symlink or a ptmx node. The
/// defence exercised is the slave's inode check in src/init/console.rs
/// (setup_console: a char device on a devpts filesystem, opened O_NOFOLLOW): create
/// fails naming it, the host file is unchanged, nothing is left behind. Without the
/// check the ptmx node variant is accepted and the container runs on a terminal
/// that is not the one sent to --console-socket.
#[test]
fn console_refuses_a_slave_that_is_not_on_devpts() {
    require_root!();
    berth_only!("the error text is berth's");
    let ctx = Ctx::new("atk-console");
    for fake in [FakeSlave::HostFile, FakeSlave::Symlink, FakeSlave::PtmxNode] {
        let tag = format!("{fake:?}").to_lowercase();
        let fake_pts = ctx.mkdir(&format!("fake-pts-{tag}"));
        fs::create_dir(fake_pts.join("pts")).unwrap();
        symlink("pts/ptmx", fake_pts.join("ptmx")).unwrap();
        let slave = fake_pts.join("0");
        match fake {
            FakeSlave::HostFile => fs::write(&slave, "host data\n").unwrap(),
            FakeSlave::Symlink => symlink("/etc/passwd", &slave).unwrap(),
            FakeSlave::PtmxNode => nix::sys::stat::mknod(
                &slave,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::from_bits_truncate(0o666),
                nix::sys::stat::makedev(5, 2),
            )
            .unwrap(),
        }
        let mut b = ctx.bundle(&["sh", "-c", "echo ran"]);
        b.config["process"]["terminal"] = json!(true);
        b.add_bind(&fake_pts, "/dev/pts", &[]);
        b.add_mount(json!({"destination": "/dev/pts/pts", "type": "devpts",
            "source": "devpts", "options": ["newinstance", "ptmxmode=0666"]}));
        b.save();
        let passwd = fs::read(b.rootfs().join("etc/passwd")).unwrap();
        let sock = ctx.dir.join(format!("console-{tag}.sock"));
        // Bound but never accepted: berth's connect and send still succeed.
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let id = ctx.id(&tag);
        let before = mountinfo();
        let out = ctx.cmd(&[
            "create",
            "--bundle",
            &b.dir_str(),
            "--console-socket",
            &sock.to_string_lossy(),
            &id,
        ]);
        out.expect_err();
        let why = match fake {
            FakeSlave::Symlink => "/dev/pts/0",
            _ => "/dev/pts/0 is not a devpts terminal",
        };
        assert!(out.stderr.contains(why), "{tag}: {}", out.stderr);
        assert!(!ctx.state_dir(&id).exists(), "{tag}: state left behind");
        assert_eq!(mountinfo(), before, "{tag}: host mounts changed");
        assert_eq!(fs::read(b.rootfs().join("etc/passwd")).unwrap(), passwd);
        // Neither the planted host file nor the symlink's target was written.
        if let FakeSlave::HostFile = fake {
            assert_eq!(fs::read_to_string(&slave).unwrap(), "host data\n");
        }
    }
}
