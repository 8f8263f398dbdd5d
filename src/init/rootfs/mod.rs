//! The container's filesystem view: mounts, /dev, pivot_root, masked and read-only
//! paths. Every destination inside the rootfs is resolved with openat2
//! RESOLVE_IN_ROOT and used through its fd (`/proc/self/fd/N`), so no symlink planted
//! in the image can send a mount, mknod or mkdir outside it (SECURITY.md: CVE-2019-19921,
//! CVE-2021-30465, CVE-2023-27561, CVE-2024-45310, runc CVE-2026-41579).

mod devices;
mod masks;
mod mounts;
mod paths;
mod pivot;

pub use devices::default_devices;
pub use paths::{fd_path, resolve_or_create, Kind};
pub use pivot::enter;

use super::parent::Ctx;
use super::{stage_err, Stage, StageResult};
use devices::{dev_symlinks, make_device, ParentDir};
use masks::{mask_paths, readonly_path};
use mounts::{locked_flags, mnt, mount_entry};
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Everything before pivot_root: propagation, the rootfs bind (or the layered rootfs'
/// overlay), `mounts`, /dev, cwd. Returns an O_PATH fd on the mounted rootfs.
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
    match ctx.overlay {
        // After the rslave above, in the container's mount namespace: the host never
        // sees this mount, and it goes with the container's last process.
        Some(ov) => mnt(
            Some(Path::new("overlay")),
            rootfs,
            Some("overlay"),
            MsFlags::empty(),
            Some(&ov.mount_data()),
        )
        .stage_with("mount", || {
            format!(
                "{}: overlay on root.path {} ({})",
                crate::layers::field(crate::layers::LOWER),
                rootfs.display(),
                ov.mount_data()
            )
        })
        .and_then(|()| overlay_writable(spec, rootfs))?,
        None => mnt(
            Some(rootfs),
            rootfs,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .stage_with("mount", || {
            format!("root.path: bind {} onto itself", rootfs.display())
        })?,
    }
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
    let mut dirs = ParentDir::default();
    if !dev_is_bind {
        for (i, d) in default_devices().iter().enumerate() {
            make_device(root.as_fd(), &mut dirs, d, in_userns, false)
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
        make_device(root.as_fd(), &mut dirs, d, in_userns, true)
            .map_err(|e| stage_err("devices", format!("linux.devices[{i}]: {}", e.message)))?;
    }

    if let Some(p) = spec.process() {
        resolve_or_create(root.as_fd(), p.cwd(), Kind::Dir)
            .stage_with("mount", || format!("process.cwd: {}", p.cwd().display()))?;
    }
    Ok(root)
}

/// overlayfs falls back to a read-only mount when it cannot use the upper layer (e.g.
/// not owned by the user namespace's root): refuse, unless the root is read-only anyway.
fn overlay_writable(spec: &oci_spec::runtime::Spec, rootfs: &Path) -> StageResult<()> {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let readonly = spec.root().as_ref().and_then(|r| r.readonly()) == Some(true);
    let st = statvfs(rootfs).stage_with("mount", || format!("statfs {}", rootfs.display()))?;
    if !readonly && st.flags().contains(FsFlags::ST_RDONLY) {
        return Err(stage_err(
            "mount",
            format!(
                "{}: the kernel mounted the overlay read-only: is upper/ writable by the container's root? (see dmesg)",
                crate::layers::field(crate::layers::LOWER)
            ),
        ));
    }
    Ok(())
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
        let keep = locked_flags(root.as_fd());
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
