use super::Container;
use crate::error::{Error, Result};
use crate::state::{allowed, Op, Status};
use crate::store::{self, Store};
use crate::sys;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::AsFd;

pub fn start(store: &Store, id: &str) -> Result<()> {
    let c = Container::open(store, id)?;
    match start_container(c) {
        Err(Error::StartHook(msg)) => {
            // runtime.md steps 7 and 9: stop the container and continue at step 12
            // (destroy, then poststop hooks).
            if let Err(e) = super::delete::delete(store, id, true) {
                crate::log::warn(&format!("destroying {id} after a failed hook: {e}"));
            }
            Err(Error::StartHook(msg))
        }
        r => r,
    }
}

/// Release the init waiting on the exec fifo, then run poststart hooks. The
/// container's lock is dropped as soon as the start is claimed (the fifo opened and
/// unlinked), so `state` and `kill` are not held up by startContainer hooks.
pub fn start_container(c: Container) -> Result<()> {
    start_with(c, None)
}

/// `start_container`, with the container's config when the caller has it parsed
/// already (`run`, just after create); else it is read from the state dir.
pub fn start_with(c: Container, spec: Option<oci_spec::runtime::Spec>) -> Result<()> {
    let status = c.status();
    if !allowed(Op::Start, status) {
        return Err(Error::WrongState {
            op: "start",
            id: c.id().to_string(),
            status,
            hint: ", not created",
        });
    }
    let record = c.record()?.clone();
    let spec = match spec {
        Some(s) => s,
        None => c.config()?,
    };
    if spec.process().is_none() {
        return Err(Error::Usage(
            "process: not set in config.json, nothing to start".into(),
        ));
    }
    let fifo_path = c.entry.path(store::EXEC_FIFO);
    let pidfd = c.init_pidfd().ok_or_else(|| Error::WrongState {
        op: "start",
        id: c.id().to_string(),
        status: Status::Stopped,
        hint: "",
    })?;
    let fifo = nix::fcntl::open(
        &fifo_path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::io(format!("open {}", fifo_path.display()))(e.into()))?;
    // Claimed: from here the container counts as started, and a second start fails.
    let _ = std::fs::remove_file(&fifo_path);
    let id = c.id().to_string();
    drop(c);
    // The init writes "0" once startContainer hooks passed (or their error instead),
    // then closes its end by exec: EOF means the user's program is running.
    let mut got: Vec<u8> = Vec::new();
    // Phase 1: wait for the first bytes, or for the init to die. (A FIFO reader gets
    // no POLLHUP from a writer that was already waiting when it opened, so EOF is
    // not polled for.)
    loop {
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::io("poll exec fifo")(e.into())),
            Ok(_) => {}
        }
        if fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP))
        {
            break;
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            break;
        }
    }
    // Phase 2: a blocking read returns 0 only once every writer is gone, which for
    // the init's CLOEXEC fd means execve happened (or the init died).
    nix::fcntl::fcntl(&fifo, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))
        .map_err(|e| Error::io("exec fifo")(e.into()))?;
    let mut b = [0u8; 4096];
    loop {
        match nix::unistd::read(&fifo, &mut b) {
            Ok(0) => break,
            Ok(n) if got.len() < 64 * 1024 => got.extend_from_slice(&b[..n]),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::io("read exec fifo")(e.into())),
        }
    }
    match got.as_slice() {
        b"0" => {}
        [] => {
            return Err(Error::WrongState {
                op: "start",
                id: id.clone(),
                status: Status::Stopped,
                hint: " (its init exited before start)",
            })
        }
        msg => {
            return Err(Error::StartHook(String::from_utf8_lossy(msg).into_owned()));
        }
    }

    if let Some(h) = spec.hooks().as_ref().and_then(|h| h.poststart().as_ref()) {
        let st = serde_json::to_vec(&record.public(Status::Running))
            .map_err(|e| Error::Usage(e.to_string()))?;
        if let Err(e) = crate::hooks::run_all("poststart", h, &st) {
            let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
            return Err(Error::StartHook(e.to_string()));
        }
    }
    Ok(())
}
