//! Filesystem requirements: root.readonly, mounts, maskedPaths, readonlyPaths,
//! rootfsPropagation (config.md "Root", "Mounts"; config-linux.md).

use crate::mountinfo::{self, Mount};
use crate::sys;
use crate::tap::Tap;
use crate::Ctx;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

pub fn check(ctx: &Ctx, t: &mut Tap) {
    let mounts = match mountinfo::read() {
        Ok(m) => m,
        Err(e) => {
            t.case("probe: read /proc/self/mountinfo", Err(e));
            return;
        }
    };
    if ctx.want("root") {
        root(ctx, t, &mounts);
    }
    if ctx.want("mounts") {
        config_mounts(ctx, t, &mounts);
    }
    if ctx.want("masked") {
        masked(ctx, t);
    }
    if ctx.want("readonly") {
        readonly(ctx, t, &mounts);
    }
    if ctx.want("propagation") {
        propagation(ctx, t, &mounts);
    }
}

fn errno_of(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EROFS) => "EROFS".into(),
        Some(libc::EACCES) => "EACCES".into(),
        Some(libc::EPERM) => "EPERM".into(),
        _ => e.to_string(),
    }
}

/// Try to create a file in `dir` (removing it again); Err is the errno name.
fn try_create(dir: &str) -> Result<(), String> {
    let p = format!("{}/.berth-probe-write-test", dir.trim_end_matches('/'));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&p)
        .map(|_| {
            let _ = std::fs::remove_file(&p);
        })
        .map_err(|e| errno_of(&e))
}

/// Try to open `path` for writing (a file), or to chmod it to its own mode (a
/// directory: creating a file in procfs fails with ENOENT before EROFS).
fn try_write(path: &str) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            std::fs::set_permissions(path, m.permissions()).map_err(|e| errno_of(&e))
        }
        Ok(_) => std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map(|_| ())
            .map_err(|e| errno_of(&e)),
        Err(e) => Err(format!("stat: {e}")),
    }
}

fn root(ctx: &Ctx, t: &mut Tap, mounts: &[Mount]) {
    let ro = ctx.cfg("/root/readonly").and_then(Value::as_bool) == Some(true);
    let top = mountinfo::top(mounts, "/").map(|(_, m)| m);
    let got_ro = top.map(|m| m.has_opt("ro"));
    if ro {
        t.eq(
            "config: root.readonly true mounts / read-only (mountinfo)",
            Some(true),
            got_ro,
        );
        t.eq(
            "config: root.readonly true makes writes to / fail with EROFS",
            Err("EROFS".to_string()),
            try_create("/"),
        );
    } else {
        t.eq(
            "config: root.readonly false/unset leaves / read-write (mountinfo)",
            Some(false),
            got_ro,
        );
    }
}

/// The mount flags the options ask for, last option winning; only flags the
/// options mention are returned.
fn wanted_flags(options: &[String]) -> BTreeMap<&'static str, bool> {
    let mut f = BTreeMap::new();
    for o in options {
        match o.as_str() {
            "ro" | "rro" => _ = f.insert("ro", true),
            "rw" | "rrw" => _ = f.insert("ro", false),
            "nosuid" | "rnosuid" => _ = f.insert("nosuid", true),
            "suid" | "rsuid" => _ = f.insert("nosuid", false),
            "nodev" | "rnodev" => _ = f.insert("nodev", true),
            "dev" | "rdev" => _ = f.insert("nodev", false),
            "noexec" | "rnoexec" => _ = f.insert("noexec", true),
            "exec" | "rexec" => _ = f.insert("noexec", false),
            "noatime" | "rnoatime" => {
                f.insert("noatime", true);
                f.insert("relatime", false);
            }
            "relatime" | "rrelatime" => {
                f.insert("relatime", true);
                f.insert("noatime", false);
            }
            "strictatime" | "rstrictatime" => {
                f.insert("relatime", false);
                f.insert("noatime", false);
            }
            "nodiratime" | "rnodiratime" => _ = f.insert("nodiratime", true),
            "diratime" | "rdiratime" => _ = f.insert("nodiratime", false),
            "nosymfollow" | "rnosymfollow" => _ = f.insert("nosymfollow", true),
            "symfollow" | "rsymfollow" => _ = f.insert("nosymfollow", false),
            "defaults" => {
                for k in ["ro", "nosuid", "nodev", "noexec"] {
                    f.insert(k, false);
                }
            }
            _ => {}
        }
    }
    f
}

fn is_bind(options: &[String]) -> bool {
    options.iter().any(|o| o == "bind" || o == "rbind")
}

/// The mounts of type `fstype` directly below `path`.
fn children_of_type<'a>(mounts: &'a [Mount], path: &str, fstype: &str) -> Vec<&'a Mount> {
    let prefix = format!("{}/", path.trim_end_matches('/'));
    mounts
        .iter()
        .filter(|m| {
            m.fstype == fstype
                && m.mount_point
                    .strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.contains('/'))
        })
        .collect()
}

fn config_mounts(ctx: &Ctx, t: &mut Tap, mounts: &[Mount]) {
    let list = ctx
        .cfg("/mounts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut positions: Vec<(String, usize)> = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let dest_raw = m.get("destination").and_then(Value::as_str).unwrap_or("");
        let dest = mountinfo::normalize(dest_raw);
        let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
        let options: Vec<String> = m
            .get("options")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|o| o.as_str().map(str::to_string))
            .collect();
        let label = format!("mounts[{i}] ({dest_raw})");
        let Some((pos, top)) = mountinfo::top(mounts, &dest) else {
            t.case(
                &format!("config: {label} is mounted at its destination"),
                Err(format!("no mount at {dest} in mountinfo")),
            );
            continue;
        };
        t.case(
            &format!("config: {label} is mounted at its destination"),
            Ok(()),
        );
        if !positions.iter().any(|(d, _)| *d == dest) {
            positions.push((dest.clone(), pos));
        }
        // cgroup v1 hosts: "cgroup" at /sys/fs/cgroup is conventionally a
        // tmpfs holding one cgroup mount per hierarchy (runc, crun).
        let v1_layout = ty == "cgroup"
            && top.fstype == "tmpfs"
            && !children_of_type(mounts, &dest, "cgroup").is_empty();
        if is_bind(&options) {
            bind_source(ctx, t, &label, i, &dest);
        } else if !ty.is_empty() {
            let ok = top.fstype == ty || (ty == "cgroup" && top.fstype == "cgroup2") || v1_layout;
            let r = if ok {
                Ok(())
            } else {
                Err(format!("expected type {ty:?}, got {:?}", top.fstype))
            };
            t.case(&format!("config: {label} has type {ty}"), r);
        }
        let flags = wanted_flags(&options);
        if !flags.is_empty() {
            // In the cgroup v1 layout the flags belong to the cgroup mounts.
            let targets: Vec<&Mount> = if v1_layout {
                children_of_type(mounts, &dest, "cgroup")
            } else {
                vec![top]
            };
            let mut bad = Vec::new();
            for m in &targets {
                for (flag, want) in &flags {
                    let got = m.has_opt(flag);
                    if got != *want {
                        bad.push(format!(
                            "{}: {flag}: expected {want}, got {got} (mountinfo: {})",
                            m.mount_point,
                            m.opts.join(",")
                        ));
                    }
                }
            }
            let r = if bad.is_empty() {
                Ok(())
            } else {
                Err(bad.join("; "))
            };
            let names: Vec<String> = flags
                .iter()
                .map(|(k, v)| if *v { k.to_string() } else { format!("!{k}") })
                .collect();
            let what = if v1_layout {
                " (on each cgroup v1 hierarchy)"
            } else {
                ""
            };
            t.case(
                &format!(
                    "config: {label} has the flags its options ask for ({}){what}",
                    names.join(",")
                ),
                r,
            );
        }
        propagation_option(t, &label, &options, top);
        if ty == "tmpfs" {
            tmpfs_mode(t, &label, &options, &dest);
        }
    }
    if positions.len() >= 2 {
        let sorted = positions.windows(2).all(|w| w[0].1 < w[1].1);
        let r = if sorted {
            Ok(())
        } else {
            Err(format!(
                "mountinfo positions in config order: {positions:?}"
            ))
        };
        t.case("config: mounts are mounted in the listed order", r);
    }
}

fn bind_source(ctx: &Ctx, t: &mut Tap, label: &str, index: usize, dest: &str) {
    let name = format!("config: {label} is a bind mount of its source");
    let Some(src) = ctx.host(&format!("/bind_sources/{index}")) else {
        t.case(
            &name,
            Err("harness did not record the source's dev/ino".into()),
        );
        return;
    };
    let want = (
        src.get("dev").and_then(Value::as_u64),
        src.get("ino").and_then(Value::as_u64),
    );
    let got = std::fs::metadata(dest)
        .map(|m| (Some(m.dev()), Some(m.ino())))
        .map_err(|e| e.to_string());
    t.eq_res(&name, want, got);
}

fn propagation_option(t: &mut Tap, label: &str, options: &[String], top: &Mount) {
    for o in options {
        let (want, ok) = match o.as_str() {
            "shared" | "rshared" => ("a shared:N peer group", top.has_tag("shared:")),
            "private" | "rprivate" => (
                "no shared/master/unbindable tag",
                !top.has_tag("shared:") && !top.has_tag("master:") && !top.has_tag("unbindable"),
            ),
            "unbindable" | "runbindable" => ("unbindable", top.has_tag("unbindable")),
            _ => continue,
        };
        let r = if ok {
            Ok(())
        } else {
            Err(format!(
                "expected {want}, got optional fields {:?}",
                top.optional
            ))
        };
        t.case(
            &format!("config: {label} option {o} sets the mount's propagation"),
            r,
        );
    }
}

fn tmpfs_mode(t: &mut Tap, label: &str, options: &[String], dest: &str) {
    let Some(mode) = options
        .iter()
        .filter_map(|o| o.strip_prefix("mode="))
        .filter_map(|m| u32::from_str_radix(m, 8).ok())
        .next_back()
    else {
        return;
    };
    let got = std::fs::metadata(dest)
        .map(|m| format!("{:o}", m.mode() & 0o7777))
        .map_err(|e| e.to_string());
    t.eq_res(
        &format!("config: {label} filesystem-specific option mode={mode:o} reaches mount(2) data (SHOULD)"),
        format!("{mode:o}"),
        got,
    );
}

fn paths(ctx: &Ctx, pointer: &str) -> Vec<String> {
    ctx.cfg(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect()
}

fn masked(ctx: &Ctx, t: &mut Tap) {
    for p in paths(ctx, "/linux/maskedPaths") {
        let name = format!("config: linux.maskedPaths {p} cannot be read (reads empty)");
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                t.case(&format!("{name} [path absent in the container]"), Ok(()));
                continue;
            }
            Err(e) => {
                // Unreadable metadata also means unreadable content.
                t.case(&format!("{name} [stat: {}]", errno_of(&e)), Ok(()));
                continue;
            }
        };
        let r = if meta.is_dir() {
            match std::fs::read_dir(&p) {
                Ok(d) => {
                    let names: Vec<String> = d
                        .filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    if names.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("directory lists {names:?}"))
                    }
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => Ok(()),
                Err(e) => Err(format!("readdir: {e}")),
            }
        } else {
            let mut buf = Vec::new();
            match std::fs::File::open(&p).and_then(|f| f.take(4096).read_to_end(&mut buf)) {
                Ok(0) => Ok(()),
                Ok(n) => Err(format!("read {n} bytes")),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => Ok(()),
                Err(e) => Err(format!("read: {e}")),
            }
        };
        t.case(&name, r);
        let r = match sys::umount(&p) {
            Ok(()) => Err("umount2 succeeded: the mask was removable".into()),
            Err(_) => Ok(()),
        };
        t.case(
            &format!("config: linux.maskedPaths {p} cannot be unmounted"),
            r,
        );
    }
}

/// The topmost mount containing `path`.
fn containing<'a>(mounts: &'a [Mount], path: &str) -> Option<&'a Mount> {
    let mut best: Option<&Mount> = None;
    for m in mounts {
        let mp = m.mount_point.as_str();
        let inside = path == mp
            || mp == "/"
            || (path.starts_with(mp) && path.as_bytes().get(mp.len()) == Some(&b'/'));
        if inside && best.is_none_or(|b| mp.len() >= b.mount_point.len()) {
            best = Some(m);
        }
    }
    best
}

fn readonly(ctx: &Ctx, t: &mut Tap, mounts: &[Mount]) {
    for p in paths(ctx, "/linux/readonlyPaths") {
        let name = format!(
            "config: linux.readonlyPaths {p} is read-only (mountinfo ro, write fails with EROFS)"
        );
        if let Err(e) = std::fs::symlink_metadata(&p) {
            if e.kind() == ErrorKind::NotFound {
                t.case(&format!("{name} [path absent in the container]"), Ok(()));
                continue;
            }
        }
        let real = mountinfo::normalize(&p);
        let m = containing(mounts, &real);
        let flag_ok = m.map(|m| m.has_opt("ro")).unwrap_or(false);
        let write = try_write(&p);
        let r = match (flag_ok, &write) {
            (true, Err(e)) if e == "EROFS" => Ok(()),
            _ => Err(format!(
                "mount {:?} options {:?}; write: {:?}",
                m.map(|m| &m.mount_point),
                m.map(|m| m.opts.join(",")),
                write
            )),
        };
        t.case(&name, r);
        let r = match sys::remount_rw(&p) {
            Ok(()) => Err("remount read-write succeeded".into()),
            Err(_) => Ok(()),
        };
        t.case(
            &format!("config: linux.readonlyPaths {p} cannot be remounted read-write"),
            r,
        );
    }
}

fn propagation(ctx: &Ctx, t: &mut Tap, mounts: &[Mount]) {
    let Some(p) = ctx.cfg("/linux/rootfsPropagation").and_then(Value::as_str) else {
        return;
    };
    let name = format!("config: linux.rootfsPropagation {p} is the propagation of / (mountinfo)");
    let host_shared = ctx.host("/bundle_on_shared_mount").and_then(Value::as_bool) == Some(true);
    if p == "slave" && !host_shared {
        t.skip(
            &name,
            "the bundle is not on a shared mount, so there is no master to be a slave of",
        );
        return;
    }
    let Some((_, root)) = mountinfo::top(mounts, "/") else {
        t.case(
            "config: linux.rootfsPropagation",
            Err("no / in mountinfo".into()),
        );
        return;
    };
    let shared = root.has_tag("shared:");
    let master = root.has_tag("master:");
    let unbindable = root.has_tag("unbindable");
    let (want, ok) = match p {
        "shared" => ("shared:N", shared),
        "slave" => ("master:N and no shared:N", master && !shared),
        "private" => (
            "no shared/master/unbindable",
            !shared && !master && !unbindable,
        ),
        "unbindable" => ("unbindable", unbindable),
        _ => ("a known value", false),
    };
    let r = if ok {
        Ok(())
    } else {
        Err(format!(
            "expected {want}, got optional fields {:?}",
            root.optional
        ))
    };
    t.case(&name, r);
}
