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
/// its status, or 128+N when a signal N killed it. With process.terminal and no
/// --console-socket, berth holds the pty and proxies it (see `tty.rs`).
pub fn run(store: &Store, args: &RunArgs) -> Result<i32> {
    let (created, console) = super::create::create_foreground(store, &args.create, !args.detach)?;
    let pid = created.record.pid;
    let spec = created.spec;
    let c = Container {
        entry: created.entry,
        record: Some(created.record),
    };
    let id = c.id().to_string();
    let sfd = if args.detach {
        None
    } else {
        Some(forward_signals()?)
    };
    // Dropped (mode restored) on every way out of this function.
    let mut host = None;
    let master = match console {
        None => None,
        Some(sock) => match attach_terminal(&sock, &mut host) {
            Ok(m) => Some(m),
            Err(e) => {
                // Our lock first: delete takes it.
                drop(c);
                drop(host);
                let _ = super::delete::delete(store, &id, true);
                return Err(e);
            }
        },
    };
    // start_container drops the lock: `state`, `kill` and friends get in while we wait.
    if let Err(e) = super::start::start_with(c, Some(spec)) {
        let _ = super::delete::delete(store, &id, true);
        return Err(e);
    }
    let Some(sfd) = sfd else {
        return Ok(0);
    };
    let code = match master {
        Some(m) => super::tty::proxy(pid, &sfd, m, host.as_ref())?,
        None => wait_forwarding(pid, &sfd)?,
    };
    drop(host);
    if !args.keep {
        super::delete::delete(store, &id, true)?;
    }
    Ok(code)
}

/// The pty master from the init, and berth's own terminal (if any) in raw mode with
/// its size given to the pty; process.consoleSize stays when berth has no terminal.
fn attach_terminal(
    sock: &std::os::unix::net::UnixStream,
    host: &mut Option<super::tty::HostTerminal>,
) -> Result<std::os::fd::OwnedFd> {
    let master = super::tty::receive_master(sock)?;
    *host = super::tty::HostTerminal::find()?;
    if let Some(h) = host.as_mut() {
        h.copy_size_to(master.as_fd())?;
        h.set_raw()?;
    }
    Ok(master)
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
            if let Some(code) = reap(pid)? {
                break code;
            }
        }
    };
    Ok(code)
}

/// Reap our child `pid` once its pidfd said it exited: its exit code, or 128+N when
/// signal N killed it; None if it did not end after all.
pub fn reap(pid: i32) -> Result<Option<i32>> {
    // The init is our child (CLONE_PARENT in the intermediate), an exec'd process too.
    match waitpid(nix::unistd::Pid::from_raw(pid), None) {
        Ok(WaitStatus::Exited(_, code)) => Ok(Some(code)),
        Ok(WaitStatus::Signaled(_, sig, _)) => Ok(Some(128 + sig as i32)),
        Ok(_) => Ok(None),
        Err(e) => Err(Error::io("waitpid")(e.into())),
    }
}
