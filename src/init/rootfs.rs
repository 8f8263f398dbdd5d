//! The container's filesystem view: mounts, /dev, pivot_root, masked and read-only
//! paths. Every destination inside the rootfs is resolved with openat2
//! RESOLVE_IN_ROOT and used through its fd (`/proc/self/fd/N`), so no symlink planted
//! in the image can send a mount, mknod or mkdir outside it (SECURITY.md: CVE-2019-19921,
//! CVE-2021-30465, CVE-2023-27561, CVE-2024-45310, runc CVE-2026-41579).

use super::parent::Ctx;
use super::{stage_err, Stage, StageResult};
use crate::spec::mounts::{parse_options, MountOptions};
use crate::sys;
use nix::fcntl::{AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// `/proc/self/fd/N` for an fd: the handle through which mounts and writes are made.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// Open `path` inside `root` (O_PATH), creating missing directories (0755) and, for
/// `Kind::File`, an empty last component. Symlinks met on the way are followed as the
/// kernel would with `root` as `/` (absolute targets restart at `root`, `..` stops
/// there), so a dangling link in the image makes berth create inside the rootfs what
/// the link names, never anything outside it.
pub fn resolve_or_create(root: BorrowedFd<'_>, path: &Path, kind: Kind) -> io::Result<OwnedFd> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    match sys::openat2_in_root(root, path, libc::O_PATH, 0) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fn comps(p: &Path) -> Vec<OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect()
    }
    let mut todo: VecDeque<OsString> = comps(path).into();
    let mut cur = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            cur.pop();
            continue;
        }
        let last = todo.is_empty();
        let parent = sys::openat2_in_root(root, &cur, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        let fmt = nix::sys::stat::fstatat(
            parent.as_fd(),
            name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT);
        match fmt {
            Ok(SFlag::S_IFLNK) => {
                links += 1;
                if links > 40 {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target =
                    PathBuf::from(nix::fcntl::readlinkat(parent.as_fd(), name.as_os_str())?);
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                for c in comps(&target).into_iter().rev() {
                    todo.push_front(c);
                }
            }
            Ok(f) => {
                if !last && f != SFlag::S_IFDIR {
                    return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
                }
                cur.push(&name);
            }
            Err(nix::errno::Errno::ENOENT) => {
                let made = if last && kind == Kind::File {
                    nix::fcntl::openat(
                        parent.as_fd(),
                        name.as_os_str(),
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_WRONLY
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop)
                } else {
                    nix::sys::stat::mkdirat(
                        parent.as_fd(),
                        name.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    )
                };
                match made {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                cur.push(&name);
            }
            Err(e) => return Err(e.into()),
        }
    }
    sys::openat2_in_root(root, &cur, libc::O_PATH, 0)
}

fn is_dir(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let st = nix::sys::stat::fstat(fd)?;
    Ok(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
}

fn mnt(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> io::Result<()> {
    mount(src, target, fstype, flags, data).map_err(io::Error::from)
}

/// Flags of the mount at `path` that an unprivileged remount must keep (they are
/// locked in a user namespace), as MS_* bits.
fn locked_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(st) = statvfs(path) else {
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

/// Everything before pivot_root: propagation, the rootfs bind, `mounts`, /dev, cwd.
/// Returns an O_PATH fd on the (bind-mounted) rootfs.
pub fn prepare(ctx: &Ctx<'_>) -> StageResult<OwnedFd> {
    let spec = &ctx.bundle.spec;
    let rootfs = &ctx.bundle.rootfs;
    // Nothing we mount may propagate back to the host.
    mnt(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None,
    )
    .stage_with("mount", || "making / rslave".into())?;
    mnt(
        Some(rootfs),
        rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .stage_with("mount", || {
        format!("root.path: bind {} onto itself", rootfs.display())
    })?;
    let root = nix::fcntl::open(
        rootfs.as_path(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .stage_with("mount", || format!("root.path: open {}", rootfs.display()))?;

    let mounts = spec.mounts().clone().unwrap_or_default();
    for (i, m) in mounts.iter().enumerate() {
        mount_entry(ctx, root.as_fd(), i, m)?;
    }

    let dev_is_bind = mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    });
    let in_userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::User)
        });
    if !dev_is_bind {
        for (i, d) in default_devices().iter().enumerate() {
            make_device(root.as_fd(), d, in_userns, false)
                .map_err(|e| stage_err("devices", format!("default device #{i}: {}", e.message)))?;
        }
        dev_symlinks(root.as_fd())?;
    }
    let devices = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for (i, d) in devices.iter().enumerate() {
        make_device(root.as_fd(), d, in_userns, true)
            .map_err(|e| stage_err("devices", format!("linux.devices[{i}]: {}", e.message)))?;
    }

    if let Some(p) = spec.process() {
        resolve_or_create(root.as_fd(), p.cwd(), Kind::Dir)
            .stage_with("mount", || format!("process.cwd: {}", p.cwd().display()))?;
    }
    Ok(root)
}

fn mount_entry(ctx: &Ctx<'_>, root: BorrowedFd<'_>, i: usize, m: &Mount) -> StageResult<()> {
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
    // Re-open: the old fd names the directory under the new mount, not the mount.
    let top = sys::openat2_in_root(root, dest, libc::O_PATH, 0).stage_with("mount", ctxmsg)?;
    let top_path = fd_path(&top);
    let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if bind && !extra.is_empty() {
        let cleared = MsFlags::from_bits_truncate(opts.cleared as libc::c_ulong);
        let keep = locked_flags(&top_path) & !cleared;
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
    let mut subs: Vec<PathBuf> = Vec::new();
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
        subs.push(dest.to_path_buf());
    } else {
        mnt(
            Some(Path::new("tmpfs")),
            &fd_path(&dest_fd),
            Some("tmpfs"),
            base,
            Some("mode=755"),
        )
        .stage_with("mount", msg)?;
        for h in &ctx.layout.hierarchies {
            let Some(name) = h.mount_point.file_name() else {
                continue;
            };
            let sub = dest.join(name);
            let sub_fd = resolve_or_create(root, &sub, Kind::Dir).stage_with("mount", msg)?;
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
            subs.push(sub);
        }
    }
    if ro {
        for sub in subs
            .iter()
            .rev()
            .chain(std::iter::once(&dest.to_path_buf()))
        {
            let fd = sys::openat2_in_root(root, sub, libc::O_PATH, 0).stage_with("mount", msg)?;
            let p = fd_path(&fd);
            let keep = locked_flags(&p);
            mnt(
                None,
                &p,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base | keep,
                None,
            )
            .stage_with("mount", || format!("{}: read-only", msg()))?;
        }
    }
    Ok(())
}

/// The devices runtime-linux.md says every container gets.
pub fn default_devices() -> Vec<LinuxDevice> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ]
    .iter()
    .map(|(p, maj, min)| {
        let mut d = LinuxDevice::default();
        d.set_path(PathBuf::from(p));
        d.set_typ(LinuxDeviceType::C);
        d.set_major(*maj);
        d.set_minor(*min);
        d.set_file_mode(Some(0o666));
        d.set_uid(Some(0));
        d.set_gid(Some(0));
        d
    })
    .collect()
}

fn dev_type_flag(t: LinuxDeviceType) -> SFlag {
    match t {
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        _ => SFlag::S_IFCHR,
    }
}

/// mknod one device inside the rootfs (or bind-mount the host's node in a user
/// namespace). An existing node of the wrong type or numbers is an error for
/// `linux.devices` (SECURITY.md attack 21) and replaced for the default devices.
fn make_device(
    root: BorrowedFd<'_>,
    d: &LinuxDevice,
    in_userns: bool,
    strict: bool,
) -> StageResult<()> {
    let path = d.path();
    let name = path
        .file_name()
        .ok_or_else(|| stage_err("devices", format!("{}: no file name", path.display())))?;
    let parent = path.parent().unwrap_or(Path::new("/dev"));
    let dir = resolve_or_create(root, parent, Kind::Dir).stage_with("devices", || {
        format!("{}: parent directory", path.display())
    })?;
    let kind = dev_type_flag(d.typ());
    let rdev = nix::sys::stat::makedev(d.major() as u64, d.minor() as u64);
    if let Ok(st) = nix::sys::stat::fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        let fmt = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let same = fmt == kind && (kind == SFlag::S_IFIFO || st.st_rdev == rdev);
        if same {
            return set_owner_mode(dir.as_fd(), name, d);
        }
        if strict {
            return Err(stage_err(
                "devices",
                format!(
                    "{} exists and is not a {:?} device {}:{}",
                    path.display(),
                    d.typ(),
                    d.major(),
                    d.minor()
                ),
            ));
        }
        if fmt == SFlag::S_IFDIR {
            return Err(stage_err(
                "devices",
                format!("{} is a directory", path.display()),
            ));
        }
        nix::unistd::unlinkat(dir.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir)
            .stage_with("devices", || format!("replacing {}", path.display()))?;
    }
    let mode = Mode::from_bits_truncate(d.file_mode().unwrap_or(0o666));
    match nix::sys::stat::mknodat(dir.as_fd(), name, kind, mode, rdev) {
        Ok(()) => set_owner_mode(dir.as_fd(), name, d),
        Err(nix::errno::Errno::EPERM) if in_userns => {
            // No mknod in a user namespace: bind the host's node instead.
            let fd = resolve_or_create(root, path, Kind::File).stage("devices")?;
            mnt(Some(path), &fd_path(&fd), None, MsFlags::MS_BIND, None)
                .stage_with("devices", || format!("bind host {}", path.display()))
        }
        Err(e) => Err(e).stage_with("devices", || format!("mknod {}", path.display())),
    }
}

fn set_owner_mode(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, d: &LinuxDevice) -> StageResult<()> {
    let uid = d.uid().map(nix::unistd::Uid::from_raw);
    let gid = d.gid().map(nix::unistd::Gid::from_raw);
    nix::unistd::fchownat(dir, name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)
        .stage_with("devices", || format!("chown {}", d.path().display()))?;
    if let Some(m) = d.file_mode() {
        nix::sys::stat::fchmodat(
            dir,
            name,
            Mode::from_bits_truncate(m),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .stage_with("devices", || format!("chmod {}", d.path().display()))?;
    }
    Ok(())
}

fn dev_symlinks(root: BorrowedFd<'_>) -> StageResult<()> {
    let dev = resolve_or_create(root, Path::new("/dev"), Kind::Dir).stage("devices")?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match nix::unistd::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e).stage_with("devices", || format!("symlink /dev/{name}")),
        }
    }
    // /dev/ptmx must be the container's devpts instance's ptmx.
    match nix::unistd::unlinkat(dev.as_fd(), "ptmx", nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(e).stage_with("devices", || "remove /dev/ptmx".into()),
    }
    nix::unistd::symlinkat("pts/ptmx", dev.as_fd(), "ptmx")
        .stage_with("devices", || "symlink /dev/ptmx".into())
}

/// pivot_root into the rootfs (or MS_MOVE + chroot with --no-pivot), leaving no
/// handle on the host's root.
pub fn enter(root: &OwnedFd, rootfs: &Path, no_pivot: bool) -> StageResult<()> {
    let old_root = nix::fcntl::open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .stage_with("pivot_root", || "open old root".into())?;
    nix::unistd::fchdir(root.as_fd())
        .stage_with("pivot_root", || format!("chdir {}", rootfs.display()))?;
    if no_pivot {
        mnt(
            Some(Path::new(".")),
            Path::new("/"),
            None,
            MsFlags::MS_MOVE,
            None,
        )
        .stage_with("pivot_root", || "--no-pivot: move rootfs to /".into())?;
        nix::unistd::chroot(".").stage_with("pivot_root", || "--no-pivot: chroot".into())?;
    } else {
        // pivot_root(".", ".") stacks the old root on the new one. Make the *old* root
        // (reached by its fd: the kernel promises nothing about ".") rslave so that
        // detaching it cannot propagate to the host, and leave the new root's
        // propagation (rshared binds...) as the config set it.
        sys::pivot_root(Path::new("."), Path::new(".")).stage("pivot_root")?;
        nix::unistd::fchdir(old_root.as_fd())
            .stage_with("pivot_root", || "chdir old root".into())?;
        mnt(
            None,
            Path::new("."),
            None,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None,
        )
        .stage_with("pivot_root", || "making old root rslave".into())?;
        nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
            .stage_with("pivot_root", || "detaching old root".into())?;
    }
    drop(old_root);
    nix::unistd::chdir("/").stage("pivot_root")
}

/// After pivot_root: masked paths, read-only paths, read-only root, root propagation.
pub fn finalize(spec: &oci_spec::runtime::Spec) -> StageResult<()> {
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .stage("mount")?;
    let linux = spec.linux().as_ref();
    if let Some(paths) = linux.and_then(|l| l.masked_paths().as_ref()) {
        mask_paths(root.as_fd(), paths)?;
    }
    if let Some(paths) = linux.and_then(|l| l.readonly_paths().as_ref()) {
        for (i, p) in paths.iter().enumerate() {
            readonly_path(root.as_fd(), Path::new(p))
                .stage_with("mount", || format!("linux.readonlyPaths[{i}] {p}"))?;
        }
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        let keep = locked_flags(Path::new("/"));
        mnt(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep,
            None,
        )
        .stage_with("mount", || "root.readonly: remount / read-only".into())?;
    }
    if let Some(p) = linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        let f = match p {
            "shared" => MsFlags::MS_SHARED,
            "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
            "slave" => MsFlags::MS_SLAVE,
            "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
            "private" => MsFlags::MS_PRIVATE,
            "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            "unbindable" => MsFlags::MS_UNBINDABLE,
            "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
            other => {
                return Err(stage_err(
                    "mount",
                    format!("linux.rootfsPropagation: unknown value {other:?}"),
                ))
            }
        };
        mnt(None, Path::new("/"), None, f, None)
            .stage_with("mount", || format!("linux.rootfsPropagation {p}"))?;
    }
    Ok(())
}

fn mask_paths(root: BorrowedFd<'_>, paths: &[String]) -> StageResult<()> {
    // CVE-2025-31133: /dev/null must really be the null device before it is bound
    // over anything.
    let devnull = nix::fcntl::open(
        "/dev/null",
        OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .stage_with("mount", || "linux.maskedPaths: open /dev/null".into())?;
    let st = nix::sys::stat::fstat(devnull.as_fd()).stage("mount")?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFCHR
        || st.st_rdev != nix::sys::stat::makedev(1, 3)
    {
        return Err(stage_err(
            "mount",
            "linux.maskedPaths: /dev/null is not the null device (1:3)",
        ));
    }
    for (i, p) in paths.iter().enumerate() {
        let fd = match sys::openat2_in_root(root, Path::new(p), libc::O_PATH, 0) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).stage_with("mount", || format!("linux.maskedPaths[{i}] {p}")),
        };
        let r = if is_dir(fd.as_fd()).stage("mount")? {
            mnt(
                Some(Path::new("tmpfs")),
                &fd_path(&fd),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0k,mode=0555"),
            )
        } else {
            mnt(
                Some(&fd_path(&devnull)),
                &fd_path(&fd),
                None,
                MsFlags::MS_BIND,
                None,
            )
        };
        r.stage_with("mount", || format!("linux.maskedPaths[{i}] {p}"))?;
    }
    Ok(())
}

fn readonly_path(root: BorrowedFd<'_>, p: &Path) -> io::Result<()> {
    let fd = match sys::openat2_in_root(root, p, libc::O_PATH, 0) {
        Ok(fd) => fd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    mnt(
        Some(&fd_path(&fd)),
        &fd_path(&fd),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    let top = sys::openat2_in_root(root, p, libc::O_PATH, 0)?;
    let tp = fd_path(&top);
    let keep = locked_flags(&tp);
    mnt(
        None,
        &tp,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC | keep,
        None,
    )
}
