//! Entering the rootfs: pivot_root, or MS_MOVE + chroot with --no-pivot.

use super::mounts::mnt;
use crate::init::{Stage, StageResult};
use crate::sys;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

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
