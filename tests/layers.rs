//! Layered rootfs (root): the `org.berth.rootfs.*` annotations put an overlay of shared
//! read-only lower layers and a per-container upper layer at root.path. Also an overlay
//! given as an entry of `mounts`.

#[macro_use]
mod common;

use common::{build_rootfs, default_config, Bundle, Ctx};
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};

const LOWER: &str = "org.berth.rootfs.lower";
const UPPER: &str = "org.berth.rootfs.upper";
const KEEP: &str = "org.berth.rootfs.keep-upper";

/// A shared lower layer: a busybox rootfs with a file to change, one to delete.
fn lower(ctx: &Ctx) -> PathBuf {
    let l = ctx.dir.join("lower");
    build_rootfs(&l);
    fs::write(l.join("etc/motd"), "from the lower layer\n").unwrap();
    l
}

/// A bundle whose rootfs is an empty directory and whose root comes from `lower`.
fn layered_bundle(ctx: &Ctx, name: &str, lower: &Path, args: &[&str]) -> Bundle {
    let dir = ctx.dir.join(name);
    fs::create_dir_all(dir.join("rootfs")).unwrap();
    let mut config = default_config(args);
    config["annotations"] = json!({ LOWER: lower.to_string_lossy() });
    Bundle { dir, config }
}

/// Mount points on the host under `dir`, with their filesystem type.
fn host_mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy();
    common::mountinfo()
        .lines()
        .filter(|l| l.contains(&*d))
        .map(String::from)
        .collect()
}

/// Files and dirs under `dir`, relative, sorted (empty if it does not exist).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(base, &p, out);
            }
        }
    }
    let mut v = vec![];
    walk(dir, dir, &mut v);
    v.sort();
    v
}

#[test]
fn two_containers_on_one_lower_do_not_see_each_others_writes() {
    require_root!();
    berth_only!("org.berth.rootfs annotations");
    let ctx = Ctx::new("layers-isolation");
    let lower = lower(&ctx);
    let before = tree(&lower);
    let (a, b) = (ctx.id("a"), ctx.id("b"));
    for (name, id) in [("ba", &a), ("bb", &b)] {
        let bundle = layered_bundle(&ctx, name, &lower, &["sleep", "1000"]);
        ctx.create(&bundle, id).expect_ok();
        ctx.start(id).expect_ok();
    }
    // A new file, a changed file and a deleted file, in container a.
    ctx.cmd(&[
        "exec",
        &a,
        "sh",
        "-c",
        "echo mine > /etc/new && echo changed > /etc/motd && rm /etc/group",
    ])
    .expect_ok();
    let look = "cat /etc/new 2>&1; cat /etc/motd; ls /etc/group 2>&1; true";
    let seen_a = ctx.cmd(&["exec", &a, "sh", "-c", look]);
    seen_a.expect_ok();
    assert!(
        seen_a.stdout.starts_with("mine\nchanged\n") && seen_a.stdout.contains("No such file"),
        "a sees its own writes: {}",
        seen_a.stdout
    );
    let seen_b = ctx.cmd(&["exec", &b, "sh", "-c", look]);
    seen_b.expect_ok();
    assert_eq!(
        seen_b.stdout,
        "cat: can't open '/etc/new': No such file or directory\nfrom the lower layer\n/etc/group\n",
        "b sees the lower layer only"
    );
    // The lower layer is untouched; a's writes are in a's upper layer.
    assert_eq!(tree(&lower), before);
    assert_eq!(
        fs::read_to_string(lower.join("etc/motd")).unwrap(),
        "from the lower layer\n"
    );
    let upper_a = ctx.dir.join("ba/overlay").join(&a).join("upper");
    assert_eq!(
        fs::read_to_string(upper_a.join("etc/new")).unwrap(),
        "mine\n"
    );
    let upper_b = ctx.dir.join("bb/overlay").join(&b).join("upper");
    assert_eq!(tree(&upper_b), Vec::<String>::new());
    // The overlays live in the containers' mount namespaces, not on the host.
    assert_eq!(host_mounts_under(&ctx.dir), Vec::<String>::new());
    for id in [&a, &b] {
        ctx.cmd(&["delete", "--force", id]).expect_ok();
    }
    assert!(!ctx.dir.join("ba/overlay").exists() && !ctx.dir.join("bb/overlay").exists());
}

#[test]
fn delete_removes_the_upper_layer_unless_asked_to_keep_it() {
    require_root!();
    berth_only!("org.berth.rootfs annotations");
    let ctx = Ctx::new("layers-keep");
    let lower = lower(&ctx);
    let write = ["sh", "-c", "cat /data 2>/dev/null; echo run >> /data"];

    // Default: the upper layer (and berth's dirs around it) go with the container.
    let b = layered_bundle(&ctx, "gone", &lower, &write);
    assert_eq!(ctx.run_ok(&b, "gone"), "");
    assert!(!b.dir.join("overlay").exists(), "{:?}", tree(&b.dir));

    // keep-upper: the layer stays (work/ does not), and a second container on it
    // continues where the first stopped.
    let kept = ctx.dir.join("kept");
    let mut b = layered_bundle(&ctx, "keep", &lower, &write);
    b.config["annotations"][UPPER] = json!(kept.to_string_lossy());
    b.config["annotations"][KEEP] = json!("true");
    assert_eq!(ctx.run_ok(&b, "keep1"), "");
    assert_eq!(tree(&kept), vec!["upper", "upper/data"]);
    assert_eq!(ctx.run_ok(&b, "keep2"), "run\n");
    assert_eq!(
        fs::read_to_string(kept.join("upper/data")).unwrap(),
        "run\nrun\n"
    );
    assert!(!lower.join("data").exists());

    // Explicitly false: the named dir loses upper/ and work/.
    b.config["annotations"][KEEP] = json!("false");
    assert_eq!(ctx.run_ok(&b, "drop"), "run\nrun\n");
    assert_eq!(tree(&kept), Vec::<String>::new());
}

#[test]
fn delete_after_kill_9_removes_the_layer() {
    require_root!();
    berth_only!("org.berth.rootfs annotations");
    let ctx = Ctx::new("layers-kill");
    let lower = lower(&ctx);
    let b = layered_bundle(&ctx, "b", &lower, &["sleep", "1000"]);
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    let init = ctx.init_proc(&id);
    assert!(b.dir.join("overlay").join(&id).join("upper").is_dir());
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(init.pid, libc::SIGKILL) };
    assert!(init.wait_gone());
    ctx.cmd(&["delete", &id]).expect_ok();
    assert!(!b.dir.join("overlay").exists(), "{:?}", tree(&b.dir));
}

#[test]
fn readonly_root_keeps_the_upper_layer_empty() {
    require_root!();
    berth_only!("org.berth.rootfs annotations");
    let ctx = Ctx::new("layers-ro");
    let lower = lower(&ctx);
    let mut b = layered_bundle(
        &ctx,
        "b",
        &lower,
        &["sh", "-c", "echo x > /etc/motd 2>/dev/null || echo refused; awk '$2 == \"/\" {print $3, $4}' /proc/self/mounts"],
    );
    b.config["root"]["readonly"] = json!(true);
    b.config["annotations"][KEEP] = json!("true");
    let out = ctx.run_ok(&b, "c");
    assert!(out.starts_with("refused\noverlay ro,"), "{out}");
    let dirs = fs::read_dir(b.dir.join("overlay")).unwrap().count();
    assert_eq!(dirs, 1);
    let kept = tree(&b.dir.join("overlay"));
    assert_eq!(
        kept.len(),
        2,
        "one container dir with an empty upper/: {kept:?}"
    );
    assert!(kept[1].ends_with("/upper"), "{kept:?}");
}

#[test]
fn bad_annotations_are_refused_naming_the_key() {
    require_root!();
    berth_only!("org.berth.rootfs annotations");
    let ctx = Ctx::new("layers-bad");
    let lower = lower(&ctx);
    let l = lower.to_string_lossy().into_owned();
    let missing = ctx.dir.join("missing").to_string_lossy().into_owned();
    let cases = [
        (json!({ LOWER: "relative/dir" }), LOWER),
        (json!({ LOWER: format!("{l}::{l}") }), LOWER),
        (json!({ LOWER: format!("{l},x") }), LOWER),
        (json!({ LOWER: missing }), LOWER),
        (json!({ LOWER: l, UPPER: "up" }), UPPER),
        (json!({ UPPER: "/tmp/x" }), UPPER),
        (json!({ LOWER: l, KEEP: "yes" }), KEEP),
        (
            json!({ LOWER: l, "org.berth.rootfs.typo": "1" }),
            "org.berth.rootfs.typo",
        ),
    ];
    for (i, (ann, key)) in cases.into_iter().enumerate() {
        let mut b = layered_bundle(&ctx, &format!("b{i}"), &lower, &["true"]);
        b.config["annotations"] = ann.clone();
        let id = ctx.id(&format!("c{i}"));
        let out = ctx.create(&b, &id);
        out.expect_err();
        assert!(
            out.stderr.contains(&format!("annotations[\"{key}\"]")),
            "{ann}: {}",
            out.stderr
        );
        assert!(!ctx.state_dir(&id).exists(), "{ann}: state left behind");
        assert_eq!(tree(&b.dir), vec!["config.json", "rootfs"], "{ann}");
    }
    // Without a mount namespace of its own there is nowhere to mount the overlay.
    let mut b = layered_bundle(&ctx, "nomnt", &lower, &["true"]);
    b.remove_namespace("mount");
    b.config["mounts"] = json!([]);
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    let out = ctx.create(&b, &ctx.id("nomnt"));
    out.expect_err();
    assert!(
        out.stderr
            .contains("annotations[\"org.berth.rootfs.lower\"]"),
        "{}",
        out.stderr
    );
}

#[test]
fn failed_create_leaves_no_layer_dirs_and_no_mounts() {
    require_root!();
    berth_only!("org.berth.rootfs annotations");
    let ctx = Ctx::new("layers-fail");
    let lower = lower(&ctx);
    let mounts_before = host_mounts_under(&ctx.dir);

    // Fails after the overlay is mounted: a bind source that does not exist.
    let mut b = layered_bundle(&ctx, "late", &lower, &["true"]);
    b.add_bind(&ctx.dir.join("no-such-source"), "/mnt/x", &[]);
    let id = ctx.id("late");
    let out = ctx.create(&b, &id);
    out.expect_err();
    assert!(out.stderr.contains("no-such-source"), "{}", out.stderr);
    assert_eq!(tree(&b.dir), vec!["config.json", "rootfs"]);
    assert!(!ctx.state_dir(&id).exists());

    // Fails at the overlay mount itself: procfs cannot be a lower layer.
    let b = layered_bundle(&ctx, "mount", Path::new("/proc/sys"), &["true"]);
    let id = ctx.id("mount");
    let out = ctx.create(&b, &id);
    out.expect_err();
    assert!(
        out.stderr
            .contains("annotations[\"org.berth.rootfs.lower\"]: overlay on root.path"),
        "{}",
        out.stderr
    );
    assert_eq!(tree(&b.dir), vec!["config.json", "rootfs"]);

    // A named upper dir that already holds a kept layer: a failed create removes only
    // what it made (work/), never the layer.
    let named = ctx.dir.join("named");
    fs::create_dir_all(named.join("upper/etc")).unwrap();
    fs::write(named.join("upper/etc/kept"), "kept\n").unwrap();
    let mut b = layered_bundle(&ctx, "named-bundle", &lower, &["true"]);
    b.config["annotations"][UPPER] = json!(named.to_string_lossy());
    b.add_bind(&ctx.dir.join("no-such-source"), "/mnt/x", &[]);
    ctx.create(&b, &ctx.id("named")).expect_err();
    assert_eq!(tree(&named), vec!["upper", "upper/etc", "upper/etc/kept"]);

    assert_eq!(host_mounts_under(&ctx.dir), mounts_before);
}

/// An overlay as an entry of `mounts` (no annotations): writes land in its upperdir.
#[test]
fn overlay_mount_entry() {
    require_root!();
    let ctx = Ctx::new("layers-mount-entry");
    let l = ctx.mkdir("ov/lower");
    let u = ctx.mkdir("ov/upper");
    let w = ctx.mkdir("ov/work");
    fs::write(l.join("f"), "lower\n").unwrap();
    let out = ctx.run_sh(
        "c",
        "cat /mnt/ov/f; echo upper > /mnt/ov/f; echo new > /mnt/ov/g; cat /mnt/ov/f; \
         awk '$2 == \"/mnt/ov\" {print $3}' /proc/self/mounts",
        |b| {
            b.add_mount(json!({
                "destination": "/mnt/ov", "type": "overlay", "source": "overlay",
                "options": [
                    format!("lowerdir={}", l.display()),
                    format!("upperdir={}", u.display()),
                    format!("workdir={}", w.display()),
                ]
            }));
        },
    );
    assert_eq!(out, "lower\nupper\noverlay\n");
    assert_eq!(fs::read_to_string(l.join("f")).unwrap(), "lower\n");
    assert_eq!(fs::read_to_string(u.join("f")).unwrap(), "upper\n");
    assert_eq!(fs::read_to_string(u.join("g")).unwrap(), "new\n");
}

/// With a user namespace, upper/ and work/ belong to the container's root, so the
/// overlay is writable and what the container writes is owned by its mapped uid. A
/// layer it cannot write (made by host root) is refused rather than mounted read-only.
#[test]
fn user_namespace_root_owns_the_upper_layer() {
    require_root!();
    berth_only!("org.berth.rootfs annotations");
    let ctx = Ctx::new("layers-userns");
    let lower = lower(&ctx);
    let userns = |b: &mut Bundle| {
        b.add_namespace("user");
        let m = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.config["linux"]["uidMappings"] = m.clone();
        b.config["linux"]["gidMappings"] = m;
        b.config["annotations"][KEEP] = json!("true");
    };
    let mut b = layered_bundle(&ctx, "b", &lower, &["sh", "-c", "echo hi > /f && cat /f"]);
    userns(&mut b);
    assert_eq!(ctx.run_ok(&b, "c"), "hi\n");
    let upper = fs::read_dir(b.dir.join("overlay"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("upper");
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(upper.join("f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (100000, 100000));

    let named = ctx.dir.join("host-owned");
    fs::create_dir_all(named.join("upper")).unwrap();
    fs::create_dir_all(named.join("work")).unwrap();
    let mut b = layered_bundle(&ctx, "b2", &lower, &["true"]);
    userns(&mut b);
    b.config["annotations"][UPPER] = json!(named.to_string_lossy());
    let out = ctx.create(&b, &ctx.id("ro"));
    out.expect_err();
    assert!(
        out.stderr.contains("mounted the overlay read-only"),
        "{}",
        out.stderr
    );
}

/// berth killed -9 in the middle of create (held in a createRuntime hook, after the
/// overlay is mounted): `delete` still removes the layer dirs, from the record create
/// wrote before making them, and nothing stays mounted.
#[test]
fn delete_after_create_was_killed_removes_the_layer() {
    require_root!();
    berth_only!("org.berth.rootfs annotations");
    let ctx = Ctx::new("layers-kill-create");
    let lower = lower(&ctx);
    let hook_pid = ctx.dir.join("hook.pid");
    let mut b = layered_bundle(&ctx, "b", &lower, &["true"]);
    b.config["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo $$ > {}.tmp && mv {0}.tmp {0} && exec sleep 600", hook_pid.display())]
    }]});
    b.save();
    let id = ctx.id("c");
    let (mut create, _, _) = ctx.spawn(&["create", "--bundle", &b.dir_str(), &id]);
    assert!(
        common::wait_until(std::time::Duration::from_secs(30), || hook_pid.exists()),
        "the hook never ran"
    );
    let upper = b.dir.join("overlay").join(&id).join("upper");
    assert!(upper.is_dir());
    create.kill().unwrap();
    create.wait().unwrap();
    let hook: i32 = fs::read_to_string(&hook_pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(hook, libc::SIGKILL) };

    ctx.cmd(&["delete", "--force", &id]).expect_ok();
    assert!(!b.dir.join("overlay").exists(), "{:?}", tree(&b.dir));
    assert!(!ctx.state_dir(&id).exists());
    assert_eq!(host_mounts_under(&ctx.dir), Vec::<String>::new());
}

/// The keys name host paths berth reads and removes: `features` tells engines not to
/// pass them through from untrusted input.
#[test]
fn features_lists_the_keys_as_potentially_unsafe() {
    berth_only!("org.berth.rootfs annotations");
    let ctx = Ctx::new("layers-features");
    let out = ctx.cmd(&["features"]);
    out.expect_ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        v["potentiallyUnsafeConfigAnnotations"]
            .as_array()
            .unwrap()
            .contains(&json!("org.berth.rootfs.")),
        "{}",
        out.stdout
    );
}

/// `--no-pivot` (MS_MOVE + chroot) enters the overlay as pivot_root does.
#[test]
fn no_pivot_enters_the_overlay() {
    require_root!();
    berth_only!("org.berth.rootfs annotations");
    let ctx = Ctx::new("layers-no-pivot");
    let lower = lower(&ctx);
    let b = layered_bundle(
        &ctx,
        "b",
        &lower,
        &[
            "sh",
            "-c",
            "cat /etc/motd; awk '$2 == \"/\" {print $3}' /proc/self/mounts",
        ],
    );
    b.save();
    let id = ctx.id("c");
    let out = ctx.cmd(&["run", "--no-pivot", "--bundle", &b.dir_str(), &id]);
    out.expect_ok();
    assert_eq!(out.stdout, "from the lower layer\noverlay\n");
    assert!(!b.dir.join("overlay").exists());
}
