use super::Container;
use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::store::Store;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitStatus};
use std::os::fd::AsFd;

/// Signals `run` forwards to the container instead of dying of them.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// create + start, then (unless --detach) wait and return the container's exit code:
/// its status, or 128+N when a signal N killed it.
pub fn run(store: &Store, args: &RunArgs) -> Result<i32> {
    let created = super::create::create(store, &args.create)?;
    let pid = created.record.pid;
    let c = Container {
        entry: created.entry,
        record: Some(created.record),
    };
    let sfd = if args.detach {
        None
    } else {
        Some(forward_signals()?)
    };
    let id = c.id().to_string();
    // start_container drops the lock: `state`, `kill` and friends get in while we wait.
    if let Err(e) = super::start::start_container(c) {
        let _ = super::delete::delete(store, &id, true);
        return Err(e);
    }
    let Some(sfd) = sfd else {
        return Ok(0);
    };
    let code = wait_forwarding(pid, &sfd)?;
    if !args.keep {
        super::delete::delete(store, &id, true)?;
    }
    Ok(code)
}

/// Block the signals berth forwards and receive them on a signalfd instead. Children
/// forked afterwards inherit the mask: stages reset it before exec.
pub fn forward_signals() -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        mask.add(*s);
    }
    mask.thread_block()
        .map_err(|e| Error::io("sigprocmask")(e.into()))?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).map_err(|e| Error::io("signalfd")(e.into()))
}

/// Wait for our child `pid`, forwarding the signals in `sfd` to it; its exit code, or
/// 128+N when signal N killed it.
pub fn wait_forwarding(pid: i32, sfd: &SignalFd) -> Result<i32> {
    let pidfd = crate::sys::pidfd_open(pid).map_err(Error::io("pidfd_open"))?;
    let code = loop {
        let mut fds = [
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::io("poll")(e.into())),
            Ok(_) => {}
        }
        if fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
        {
            if let Ok(Some(info)) = sfd.read_signal() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    Signal::try_from(info.ssi_signo as i32).ok(),
                );
            }
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            // The init is our child (CLONE_PARENT in the intermediate).
            match waitpid(nix::unistd::Pid::from_raw(pid), None) {
                Ok(WaitStatus::Exited(_, code)) => break code,
                Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
                Ok(_) => continue,
                Err(e) => return Err(Error::io("waitpid")(e.into())),
            }
        }
    };
    Ok(code)
}
