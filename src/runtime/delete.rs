use super::Container;
use crate::error::{Error, Result};
use crate::state::{allowed, Op, Status};
use crate::store::{Store, StoreError};
use crate::sys;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::AsFd;
use std::time::Duration;

pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let c = match Container::open(store, id) {
        // `delete --force` of a container that is gone already succeeds (containerd
        // calls it after every exit).
        Err(Error::Store(StoreError::NotFound(_))) if force => return Ok(()),
        r => r?,
    };
    let status = c.status();
    if !allowed(Op::Delete, status) {
        if !force {
            return Err(Error::WrongState {
                op: "delete",
                id: c.id().to_string(),
                status,
                hint: ", not stopped (use --force to kill it first)",
            });
        }
        kill_and_wait(&c)?;
    }
    destroy(store, c)
}

/// SIGKILL every process of the container and wait for the init to be gone.
fn kill_and_wait(c: &Container) -> Result<()> {
    if let Some(cg) = c.cgroup() {
        // A frozen cgroup would hold the SIGKILL undelivered.
        thaw(&cg);
    }
    let _ = super::kill::signal_all(c, libc::SIGKILL);
    if let Some(pidfd) = c.init_pidfd() {
        let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(10_000u16));
    }
    Ok(())
}

fn thaw(cg: &crate::cgroups::Cgroup) {
    for (h, dir) in &cg.dirs {
        if h.v2 {
            let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
        } else if h.controllers.iter().any(|c| c == "freezer") {
            let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
        }
    }
}

/// Undo create (runtime.md lifecycle step 12), then run poststop hooks (step 13:
/// failures are warnings).
fn destroy(store: &Store, c: Container) -> Result<()> {
    if let Some(cg) = c.cgroup() {
        thaw(&cg);
        cg.remove(Duration::from_secs(10))?;
    }
    // Read once: the network teardown and the poststop hooks both need it.
    let spec = c.config().ok();
    // The veth, address and nftables table: also after a crash mid-create, when
    // there is no record but the config snapshot is there.
    crate::network::Teardown::new(store.root(), c.id(), spec.as_ref()).run()?;
    // The processes are gone, and with them the mount namespace holding the overlay.
    match crate::layers::load_record(&c.entry.dir) {
        Ok(Some(ov)) => ov.remove_for_delete()?,
        Ok(None) => {}
        // Unreadable, it cannot say what to remove; refusing would make the
        // container undeletable.
        Err(e) => crate::log::warn(&e.to_string()),
    }
    if let (Some(spec), Some(r)) = (spec, c.record.as_ref()) {
        if let Some(h) = spec.hooks().as_ref().and_then(|h| h.poststop().as_ref()) {
            let st = serde_json::to_vec(&r.public(Status::Stopped)).unwrap_or_default();
            // runtime.md step 13: a failing poststop hook is a warning, and the
            // remaining hooks still run.
            for e in crate::hooks::run_each("poststop", h, &st) {
                crate::log::warn(&e.to_string());
            }
        }
    }
    c.entry.remove()?;
    Ok(())
}
