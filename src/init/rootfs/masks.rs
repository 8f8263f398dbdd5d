//! `linux.maskedPaths` and `linux.readonlyPaths`, applied after pivot_root.

use super::mounts::{locked_flags, mnt};
use super::paths::{fd_path, is_dir};
use crate::init::{stage_err, Stage, StageResult};
use crate::sys;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

pub(super) fn mask_paths(root: BorrowedFd<'_>, paths: &[String]) -> StageResult<()> {
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

pub(super) fn readonly_path(root: BorrowedFd<'_>, p: &Path) -> io::Result<()> {
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
    let keep = locked_flags(top.as_fd());
    mnt(
        None,
        &tp,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC | keep,
        None,
    )
}
