//! The `mounts` of config.json, one entry at a time, and the mount helpers the other
//! steps share.

use super::paths::{fd_path, is_dir, make_in, resolve_or_create, Kind};
use crate::init::parent::Ctx;
use crate::init::{stage_err, Stage, StageResult};
use crate::spec::mounts::{parse_options, MountOptions};
use crate::sys;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use oci_spec::runtime::Mount;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

pub(super) fn mnt(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> io::Result<()> {
    mount(src, target, fstype, flags, data).map_err(io::Error::from)
}

/// Flags of the mount `fd` is on that an unprivileged remount must keep (they are
/// locked in a user namespace), as MS_* bits. fstatvfs: no /proc/self/fd path walk.
pub(super) fn locked_flags(fd: BorrowedFd<'_>) -> MsFlags {
    use nix::sys::statvfs::{fstatvfs, FsFlags};
    let Ok(st) = fstatvfs(fd) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (s, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(s) {
            out |= m;
        }
    }
    out
}

pub(super) fn mount_entry(
    ctx: &Ctx<'_>,
    root: BorrowedFd<'_>,
    i: usize,
    m: &Mount,
) -> StageResult<()> {
    let field = format!("mounts[{i}]");
    let dest = m.destination();
    let opts: MountOptions = parse_options(m.options().as_deref().unwrap_or(&[]))
        .map_err(|(j, why)| stage_err("mount", format!("{field}.options[{j}]: {why}")))?;
    let typ = m
        .typ()
        .as_deref()
        .unwrap_or(if opts.bind { "bind" } else { "" });
    let bind = opts.bind || typ == "bind";
    let ctxmsg = || format!("{field} ({typ} on {})", dest.display());

    if typ == "cgroup" && !bind {
        return mount_cgroup(ctx, root, &field, dest, &opts);
    }
    let source = m.source().as_ref().map(|s| {
        if bind && s.is_relative() {
            ctx.bundle.dir.join(s)
        } else {
            s.clone()
        }
    });
    let kind = match (&source, bind) {
        (Some(s), true) if !s.is_dir() => Kind::File,
        _ => Kind::Dir,
    };
    if bind {
        if let Some(s) = &source {
            std::fs::symlink_metadata(s).stage_with("mount", || {
                format!("{}: bind source {}", ctxmsg(), s.display())
            })?;
        }
    }
    let dest_fd = resolve_or_create(root, dest, kind).stage_with("mount", ctxmsg)?;
    if matches!(typ, "proc" | "sysfs") && !is_dir(dest_fd.as_fd()).stage("mount")? {
        // CVE-2019-19921/CVE-2023-27561: never mount procfs/sysfs on a non-directory.
        return Err(stage_err(
            "mount",
            format!("{}: destination is not a directory", ctxmsg()),
        ));
    }
    let copy_from = if opts.tmpcopyup {
        Some(
            sys::openat2_in_root(root, dest, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                .stage_with("mount", || format!("{}: tmpcopyup", ctxmsg()))?,
        )
    } else {
        None
    };
    let flags = MsFlags::from_bits_truncate(opts.flags as libc::c_ulong);
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    let target = fd_path(&dest_fd);
    if bind {
        let mut bflags = MsFlags::MS_BIND;
        if opts.recursive {
            bflags |= MsFlags::MS_REC;
        }
        mnt(source.as_deref(), &target, None, bflags, None).stage_with("mount", ctxmsg)?;
    } else {
        let src = source
            .clone()
            .unwrap_or_else(|| PathBuf::from(if typ.is_empty() { "none" } else { typ }));
        let fstype = (!typ.is_empty()).then_some(typ);
        mnt(
            Some(&src),
            &target,
            fstype,
            flags & !MsFlags::MS_REMOUNT,
            data,
        )
        .stage_with("mount", ctxmsg)?;
    }
    let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let more = (bind && !extra.is_empty())
        || !opts.propagation.is_empty()
        || opts.rec_attr_set != 0
        || opts.rec_attr_clr != 0
        || copy_from.is_some();
    if !more {
        return Ok(());
    }
    // Re-open: the old fd names the directory under the new mount, not the mount.
    let top = sys::openat2_in_root(root, dest, libc::O_PATH, 0).stage_with("mount", ctxmsg)?;
    let top_path = fd_path(&top);
    if bind && !extra.is_empty() {
        let cleared = MsFlags::from_bits_truncate(opts.cleared as libc::c_ulong);
        let keep = locked_flags(top.as_fd()) & !cleared;
        mnt(
            None,
            &top_path,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | keep,
            None,
        )
        .stage_with("mount", || format!("{}: remount with options", ctxmsg()))?;
    }
    for p in &opts.propagation {
        let pf = MsFlags::from_bits_truncate(*p as libc::c_ulong);
        mnt(None, &top_path, None, pf, None)
            .stage_with("mount", || format!("{}: propagation", ctxmsg()))?;
    }
    if opts.rec_attr_set != 0 || opts.rec_attr_clr != 0 {
        sys::mount_setattr(
            top.as_fd(),
            Path::new(""),
            true,
            opts.rec_attr_set,
            opts.rec_attr_clr,
        )
        .stage_with("mount", || format!("{}: recursive attributes", ctxmsg()))?;
    }
    if let Some(from) = copy_from {
        copy_tree(&fd_path(&from), &top_path)
            .stage_with("mount", || format!("{}: tmpcopyup", ctxmsg()))?;
    }
    Ok(())
}

/// tmpcopyup: copy what was under the mount into the new tmpfs, keeping modes and owners.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(from)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let src = e.path();
        let dst = to.join(e.file_name());
        let m = std::fs::symlink_metadata(&src)?;
        let ft = m.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
            std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
            std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))?;
        }
    }
    Ok(())
}

/// A `cgroup` mount: on v1 a tmpfs with one mount per hierarchy; on v2 a cgroup2
/// mount. With a cgroup namespace the hierarchies are mounted fresh (their root is
/// the container's cgroup); without, the container's own directories are bind-mounted.
fn mount_cgroup(
    ctx: &Ctx<'_>,
    root: BorrowedFd<'_>,
    field: &str,
    dest: &Path,
    opts: &MountOptions,
) -> StageResult<()> {
    let msg = || format!("{field} (cgroup on {})", dest.display());
    let cgroupns = ctx
        .bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Cgroup)
        });
    let flags = MsFlags::from_bits_truncate(opts.flags as libc::c_ulong);
    let ro = flags.contains(MsFlags::MS_RDONLY);
    let base = flags
        & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME);
    let dest_fd = resolve_or_create(root, dest, Kind::Dir).stage_with("mount", msg)?;
    let rel = ctx.cgroup.path.trim_start_matches('/');
    if ctx.layout.is_v2() {
        let h = &ctx.layout.hierarchies[0];
        if cgroupns {
            mnt(
                Some(Path::new("cgroup2")),
                &fd_path(&dest_fd),
                Some("cgroup2"),
                base,
                None,
            )
        } else {
            mnt(
                Some(&h.mount_point.join(rel)),
                &fd_path(&dest_fd),
                None,
                MsFlags::MS_BIND,
                None,
            )
        }
        .stage_with("mount", msg)?;
        if ro {
            // Opened again: the mount now on it, not the directory under it.
            let fd = sys::openat2_in_root(root, dest, libc::O_PATH, 0).stage_with("mount", msg)?;
            remount_ro(fd.as_fd(), base).stage_with("mount", || format!("{}: read-only", msg()))?;
        }
    } else {
        mnt(
            Some(Path::new("tmpfs")),
            &fd_path(&dest_fd),
            Some("tmpfs"),
            base,
            Some("mode=755"),
        )
        .stage_with("mount", msg)?;
        // The tmpfs is new and only this process's: its mount points are made and
        // opened relative to it, with no resolution from the rootfs each time.
        let top = sys::openat2_in_root(root, dest, libc::O_PATH | libc::O_DIRECTORY, 0)
            .stage_with("mount", msg)?;
        for h in &ctx.layout.hierarchies {
            let Some(name) = h.mount_point.file_name() else {
                continue;
            };
            let sub = dest.join(name);
            let sub_fd = mount_point_in(top.as_fd(), name)
                .stage_with("mount", || format!("{}: {}", msg(), sub.display()))?;
            let r = if cgroupns && h.v2 {
                mnt(
                    Some(Path::new("cgroup2")),
                    &fd_path(&sub_fd),
                    Some("cgroup2"),
                    base,
                    None,
                )
            } else if cgroupns {
                let data = h.controllers.join(",");
                mnt(
                    Some(Path::new("cgroup")),
                    &fd_path(&sub_fd),
                    Some("cgroup"),
                    base,
                    Some(&data),
                )
            } else {
                mnt(
                    Some(&h.mount_point.join(rel)),
                    &fd_path(&sub_fd),
                    None,
                    MsFlags::MS_BIND,
                    None,
                )
            };
            r.stage_with("mount", || format!("{}: {}", msg(), sub.display()))?;
            if ro {
                // Opened again: the mount now on it, not the directory under it.
                let fd = nix::fcntl::openat(
                    top.as_fd(),
                    name,
                    OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(io::Error::from)
                .stage_with("mount", msg)?;
                remount_ro(fd.as_fd(), base)
                    .stage_with("mount", || format!("{}: read-only", msg()))?;
            }
        }
        if ro {
            remount_ro(top.as_fd(), base)
                .stage_with("mount", || format!("{}: read-only", msg()))?;
        }
    }
    Ok(())
}

/// Remount the mount `fd` is the root of read-only, keeping `base` and its locked flags.
fn remount_ro(fd: BorrowedFd<'_>, base: MsFlags) -> io::Result<()> {
    let keep = locked_flags(fd);
    mnt(
        None,
        &fd_path(&fd),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base | keep,
        None,
    )
}

/// The directory `name` in the fresh tmpfs `top`, made and opened (O_PATH).
fn mount_point_in(top: BorrowedFd<'_>, name: &std::ffi::OsStr) -> io::Result<std::os::fd::OwnedFd> {
    match make_in(top, name, Kind::Dir) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(e.into()),
    }
    nix::fcntl::openat(
        top,
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}
