//! The parent/child sync protocol over one SOCK_SEQPACKET socketpair. The parent holds
//! one end; the intermediate and then the container init hold the other. Each message
//! is one JSON datagram.
//!
//! | step | from         | message             | answer (from parent) | when                          |
//! |------|--------------|---------------------|----------------------|-------------------------------|
//! | 1    | parent       | Go                  |                      | intermediate is in its cgroup |
//! | 2    | intermediate | UserNsReady         | MapsWritten          | only with a new user ns       |
//! | 3    | intermediate | InitPid{pid}        | Go (read by init)    | init cloned; intermediate exits |
//! | 4    | init         | RunCreateRuntimeHooks | HooksDone          | rootfs mounted, before pivot  |
//! | 5    | init         | Ready{warnings}     |                      | set up, about to wait on fifo |
//! | any  | child        | Error{stage,message}|                      | then the child exits          |
//!
//! The parent sees EOF if every child holding the other end died.

use serde::{Deserialize, Serialize};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    Go,
    UserNsReady,
    MapsWritten,
    InitPid { pid: i32 },
    RunCreateRuntimeHooks,
    HooksDone,
    Ready { warnings: Vec<String> },
    Error { stage: String, message: String },
}

/// Largest message accepted: errors are short, warnings few.
const MAX_MSG: usize = 64 * 1024;

pub fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)
}

/// `msg` cut down to fit in one `MAX_MSG` datagram. An error message or warning may
/// quote config.json (a path, a name) at any length; a datagram over the limit would
/// reach the parent truncated, as unparsable JSON instead of the child's error. Each
/// string is cut to a byte count whose JSON escaping (at most 6 bytes per byte) fits.
fn fitted(msg: &Msg) -> Msg {
    let cut = |s: &str, max: usize| -> String {
        if s.len() <= max {
            return s.to_string();
        }
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes cut)", &s[..end], s.len() - end)
    };
    match msg {
        Msg::Error { stage, message } => Msg::Error {
            stage: cut(stage, 256),
            message: cut(message, 8192),
        },
        Msg::Ready { warnings } => Msg::Ready {
            warnings: warnings.iter().take(32).map(|w| cut(w, 256)).collect(),
        },
        other => other.clone(),
    }
}

pub fn send(fd: BorrowedFd<'_>, msg: &Msg) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(msg).map_err(io::Error::other)?;
    if bytes.len() > MAX_MSG {
        bytes = serde_json::to_vec(&fitted(msg)).map_err(io::Error::other)?;
    }
    let n = nix::unistd::write(fd, &bytes).map_err(io::Error::from)?;
    if n != bytes.len() {
        return Err(io::Error::other("short write on sync socket"));
    }
    Ok(())
}

/// Receive one message; Ok(None) on EOF (the peer is gone).
pub fn recv(fd: BorrowedFd<'_>) -> io::Result<Option<Msg>> {
    let mut buf = vec![0u8; MAX_MSG];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            // A peer that died (OOM kill, crash) shows as EOF or as a reset.
            Ok(0) | Err(nix::errno::Errno::ECONNRESET) => return Ok(None),
            Ok(n) => {
                return serde_json::from_slice(&buf[..n])
                    .map(Some)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receive one message, or Ok(None) once `watch` (a pidfd) says that process exited
/// with nothing left to read. A stage that dies between forking the next one and
/// reporting it would otherwise leave the parent waiting on a socket its orphan
/// still holds.
pub fn recv_watching(fd: BorrowedFd<'_>, watch: Option<BorrowedFd<'_>>) -> io::Result<Option<Msg>> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let Some(w) = watch else {
        return recv(fd);
    };
    loop {
        let mut fds = [
            PollFd::new(fd, PollFlags::POLLIN),
            PollFd::new(w, PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        // Data first: a stage that reported and then exited is the normal case.
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            return recv(fd);
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            return Ok(None);
        }
    }
}

/// The Error a child has sent (or sends within 100 ms), if any: for a parent whose
/// own step failed while the child may have failed first and said why.
pub fn reported_error(fd: BorrowedFd<'_>) -> Option<(String, String)> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(100u8)) {
        Ok(n) if n > 0 => match recv(fd) {
            Ok(Some(Msg::Error { stage, message })) => Some((stage, message)),
            _ => None,
        },
        _ => None,
    }
}

/// Receive and require `want`, turning a child's Error into Err.
pub fn expect(fd: BorrowedFd<'_>, want: &Msg) -> io::Result<()> {
    match recv(fd)? {
        Some(m) if &m == want => Ok(()),
        Some(m) => Err(io::Error::other(format!(
            "sync: expected {want:?}, got {m:?} (fd {})",
            fd.as_raw_fd()
        ))),
        None => Err(io::Error::other("sync: peer closed the socket")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn messages_round_trip_as_datagrams() {
        let (a, b) = pair().unwrap();
        send(a.as_fd(), &Msg::InitPid { pid: 7 }).unwrap();
        send(a.as_fd(), &Msg::Go).unwrap();
        assert_eq!(recv(b.as_fd()).unwrap(), Some(Msg::InitPid { pid: 7 }));
        expect(b.as_fd(), &Msg::Go).unwrap();
        send(a.as_fd(), &Msg::HooksDone).unwrap();
        assert!(expect(b.as_fd(), &Msg::Go).is_err());
        drop(a);
        assert_eq!(recv(b.as_fd()).unwrap(), None);
    }

    /// An error quoting a 100 KB config.json path (or full of control characters,
    /// which JSON escapes six-fold) still arrives as a message, cut, not as a datagram
    /// truncated into unparsable JSON.
    #[test]
    fn oversized_messages_are_cut_to_fit() {
        let (a, b) = pair().unwrap();
        for text in [
            "/x".repeat(50_000),
            "\0".repeat(20_000),
            "😀".repeat(30_000),
        ] {
            let msg = Msg::Error {
                stage: "cwd".into(),
                message: text.clone(),
            };
            send(a.as_fd(), &msg).unwrap();
            match recv(b.as_fd()).unwrap() {
                Some(Msg::Error { stage, message }) => {
                    assert_eq!(stage, "cwd");
                    assert!(message.len() < text.len() && message.ends_with("bytes cut)"));
                    assert!(text.starts_with(message.split("... (").next().unwrap()));
                }
                other => panic!("{other:?}"),
            }
        }
        let warnings = vec!["w".repeat(1000); 1000];
        send(a.as_fd(), &Msg::Ready { warnings }).unwrap();
        match recv(b.as_fd()).unwrap() {
            Some(Msg::Ready { warnings }) => assert_eq!(warnings.len(), 32),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reported_error_reads_a_childs_last_word() {
        let (a, b) = pair().unwrap();
        assert_eq!(reported_error(b.as_fd()), None);
        send(
            a.as_fd(),
            &Msg::Error {
                stage: "unshare".into(),
                message: "EPERM".into(),
            },
        )
        .unwrap();
        drop(a);
        assert_eq!(
            reported_error(b.as_fd()),
            Some(("unshare".into(), "EPERM".into()))
        );
    }
}
