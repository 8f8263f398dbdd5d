//! Foreground terminals: `run` with process.terminal and `exec --tty` without
//! --console-socket, as runc does it (tty.go, utils_linux.go). The init sends the pty
//! master over an internal socketpair (the same SCM_RIGHTS path as --console-socket);
//! berth puts its own terminal in raw mode, copies stdin to the master and the master
//! to stdout until the process exits, keeps the pty's size in step with its own
//! terminal (SIGWINCH) and forwards other signals to the process.

use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::sys::termios::{self, SetArg, Termios};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

pub use crate::init::console::DETACHED_TTY;

/// Input from stdin waiting for the container to read it; beyond this berth stops
/// reading stdin until the container catches up.
const MAX_PENDING: usize = 64 * 1024;

/// The two ends of the internal console socket: berth keeps the first, the init
/// sends the master on the second.
pub fn socket_pair() -> Result<(UnixStream, UnixStream)> {
    UnixStream::pair().map_err(Error::io("console socketpair"))
}

/// The pty master the container's process sent on `ours`. The sender has queued it
/// by the time create/exec returns; the timeout only guards against a bug hanging us.
pub fn receive_master(ours: &UnixStream) -> Result<OwnedFd> {
    ours.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(Error::io("console socket"))?;
    crate::sys::recv_fd(ours.as_fd())
        .map_err(Error::io("receiving the pty master from the container"))?
        .ok_or_else(|| Error::Io {
            what: "receiving the pty master from the container".into(),
            source: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the container's process sent no terminal",
            ),
        })
}

/// berth's own terminal (the first of stdin, stdout, stderr that is one), put in raw
/// mode for the proxy's lifetime; dropping it restores the saved mode, on every path
/// out of `run`/`exec` (berth blocks the signals that would otherwise kill it).
pub struct HostTerminal {
    fd: OwnedFd,
    saved: Option<Termios>,
}

impl HostTerminal {
    /// None when none of berth's stdio is a terminal: the proxy then still runs, as
    /// runc's does, with the pty's size left as process.consoleSize set it.
    pub fn find() -> Result<Option<HostTerminal>> {
        let (i, o, e) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
        let candidates: [BorrowedFd<'_>; 3] = [i.as_fd(), o.as_fd(), e.as_fd()];
        for fd in candidates {
            if nix::unistd::isatty(fd).unwrap_or(false) {
                let fd = fd
                    .try_clone_to_owned()
                    .map_err(Error::io("dup of berth's terminal"))?;
                return Ok(Some(HostTerminal { fd, saved: None }));
            }
        }
        Ok(None)
    }

    /// Raw mode (cfmakeraw, like runc's SetRaw); the previous mode comes back on drop.
    pub fn set_raw(&mut self) -> Result<()> {
        let saved = termios::tcgetattr(self.fd.as_fd())
            .map_err(|e| Error::io("tcgetattr on berth's terminal")(e.into()))?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(self.fd.as_fd(), SetArg::TCSANOW, &raw)
            .map_err(|e| Error::io("tcsetattr on berth's terminal")(e.into()))?;
        self.saved = Some(saved);
        Ok(())
    }

    /// Rows and columns of berth's terminal.
    pub fn size(&self) -> Result<(u16, u16)> {
        crate::sys::get_winsize(self.fd.as_fd())
            .map_err(Error::io("TIOCGWINSZ on berth's terminal"))
    }

    /// Give the container's pty berth's terminal size.
    pub fn copy_size_to(&self, master: BorrowedFd<'_>) -> Result<()> {
        let (rows, cols) = self.size()?;
        crate::sys::set_winsize(std::os::fd::AsRawFd::as_raw_fd(&master), rows, cols)
            .map_err(Error::io("TIOCSWINSZ on the container's terminal"))
    }
}

impl Drop for HostTerminal {
    fn drop(&mut self) {
        if let Some(t) = self.saved.take() {
            if let Err(e) = termios::tcsetattr(self.fd.as_fd(), SetArg::TCSANOW, &t) {
                crate::log::warn(&format!("restoring berth's terminal mode: {e}"));
            }
        }
    }
}

/// Copy stdin to `master` and `master` to stdout until our child `pid` exits,
/// forwarding the signals in `sfd` to it (SIGWINCH instead resizes the pty from
/// `host`, when there is one); the exit code, or 128+N when signal N killed it.
pub fn proxy(
    pid: i32,
    sfd: &SignalFd,
    master: OwnedFd,
    host: Option<&HostTerminal>,
) -> Result<i32> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(&master, FcntlArg::F_GETFL)
        .map_err(|e| Error::io("fcntl on the pty master")(e.into()))?;
    fcntl(
        &master,
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .map_err(|e| Error::io("fcntl on the pty master")(e.into()))?;
    let pidfd = crate::sys::pidfd_open(pid).map_err(Error::io("pidfd_open"))?;
    let stdin = std::io::stdin();
    let stdin = stdin.as_fd();
    let stdout = std::io::stdout();
    let mut out = Output {
        fd: stdout.as_fd(),
        broken: false,
    };
    let mut stdin_open = true;
    let mut master_open = true;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut fds = vec![
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        let stdin_i = (stdin_open && master_open && pending.len() < MAX_PENDING).then(|| {
            fds.push(PollFd::new(stdin, PollFlags::POLLIN));
            fds.len() - 1
        });
        let master_i = master_open.then(|| {
            let mut ev = PollFlags::POLLIN;
            if !pending.is_empty() {
                ev |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(master.as_fd(), ev));
            fds.len() - 1
        });
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::io("poll")(e.into())),
            Ok(_) => {}
        }
        let rev = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
        let (sig_ready, child_done) = (!rev(0).is_empty(), !rev(1).is_empty());
        let stdin_rev = stdin_i.map(rev).unwrap_or(PollFlags::empty());
        let master_rev = master_i.map(rev).unwrap_or(PollFlags::empty());
        drop(fds);

        if sig_ready {
            if let Ok(Some(info)) = sfd.read_signal() {
                let sig = Signal::try_from(info.ssi_signo as i32).ok();
                match (sig, host) {
                    // Errors are ignored as runc does: stdout may be gone (SIGHUP races).
                    (Some(Signal::SIGWINCH), Some(h)) => {
                        let _ = h.copy_size_to(master.as_fd());
                    }
                    _ => {
                        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
                    }
                }
            }
        }
        if !stdin_rev.is_empty() {
            if stdin_rev.contains(PollFlags::POLLNVAL) {
                stdin_open = false;
            } else {
                match nix::unistd::read(stdin, &mut buf) {
                    Ok(0) => stdin_open = false,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                    Err(Errno::EINTR | Errno::EAGAIN) => {}
                    Err(_) => stdin_open = false,
                }
            }
        }
        if master_rev.contains(PollFlags::POLLOUT) && !pending.is_empty() {
            match nix::unistd::write(&master, &pending) {
                Ok(n) => {
                    pending.drain(..n);
                }
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(_) => master_open = false,
            }
        }
        if master_open
            && master_rev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
        {
            // Gone (EIO) once no one holds the slave: stop watching it.
            if drain_once(master.as_fd(), &mut buf, &mut out) == Drain::Closed {
                master_open = false;
            }
        }
        if child_done {
            if let Some(code) = super::run::reap(pid)? {
                // Everything the process wrote is readable now: a read on the master
                // flushes the pty's pending buffer before it reports EAGAIN or EIO.
                while master_open && drain_once(master.as_fd(), &mut buf, &mut out) == Drain::Data {
                }
                return Ok(code);
            }
        }
    }
}

/// What one read of the master gave.
#[derive(PartialEq)]
enum Drain {
    /// Data, written to stdout.
    Data,
    /// Nothing now (EAGAIN).
    Empty,
    /// Nothing ever again: no one holds the slave (EIO) or an error.
    Closed,
}

/// Read what the master has and write it to stdout.
fn drain_once(master: BorrowedFd<'_>, buf: &mut [u8], out: &mut Output<'_>) -> Drain {
    loop {
        match nix::unistd::read(master, buf) {
            Ok(0) => return Drain::Closed,
            Ok(n) => {
                out.write_all(&buf[..n]);
                return Drain::Data;
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Drain::Empty,
            Err(_) => return Drain::Closed,
        }
    }
}

/// berth's stdout. Once it is gone (EPIPE, a closed terminal) output is discarded but
/// still read from the master, so the container never blocks on a full pty.
struct Output<'a> {
    fd: BorrowedFd<'a>,
    broken: bool,
}

impl Output<'_> {
    fn write_all(&mut self, mut data: &[u8]) {
        while !self.broken && !data.is_empty() {
            match nix::unistd::write(self.fd, data) {
                Ok(n) => data = &data[n..],
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    let mut p = [PollFd::new(self.fd, PollFlags::POLLOUT)];
                    if poll(&mut p, PollTimeout::NONE).is_err() {
                        self.broken = true;
                    }
                }
                Err(_) => self.broken = true,
            }
        }
    }
}
