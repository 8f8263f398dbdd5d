//! /dev: the default devices, `linux.devices` and the standard symlinks.

use super::mounts::mnt;
use super::paths::{fd_path, resolve_or_create, Kind};
use crate::init::{stage_err, Stage, StageResult};
use nix::fcntl::AtFlags;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

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

/// The directory the last device went into, kept for the next one: most devices
/// share /dev, which is then resolved in the rootfs once, not once per device.
#[derive(Default)]
pub(super) struct ParentDir(Option<(PathBuf, OwnedFd)>);

impl ParentDir {
    fn get(&mut self, root: BorrowedFd<'_>, parent: &Path) -> std::io::Result<BorrowedFd<'_>> {
        let kept = match self.0.take() {
            Some(kept) if kept.0 == parent => kept,
            _ => (
                parent.to_path_buf(),
                resolve_or_create(root, parent, Kind::Dir)?,
            ),
        };
        Ok(self.0.insert(kept).1.as_fd())
    }
}

/// mknod one device inside the rootfs (or bind-mount the host's node in a user
/// namespace). An existing node of the wrong type or numbers is an error for
/// `linux.devices` (SECURITY.md attack 21) and replaced for the default devices.
pub(super) fn make_device(
    root: BorrowedFd<'_>,
    dirs: &mut ParentDir,
    d: &LinuxDevice,
    in_userns: bool,
    strict: bool,
) -> StageResult<()> {
    let path = d.path();
    let name = path
        .file_name()
        .ok_or_else(|| stage_err("devices", format!("{}: no file name", path.display())))?;
    let parent = path.parent().unwrap_or(Path::new("/dev"));
    let dir = dirs.get(root, parent).stage_with("devices", || {
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

pub(super) fn dev_symlinks(root: BorrowedFd<'_>) -> StageResult<()> {
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
