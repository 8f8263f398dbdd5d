//! Loading a seccomp filter (seccomp(2)), probing what the kernel supports, and
//! handing a listener fd to an agent with SCM_RIGHTS. The program comes from
//! `crate::seccomp`, which is pure.

use crate::seccomp::SockFilter;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 8;

/// `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const SockFilter,
}

/// Load `program` for the calling thread with seccomp(SECCOMP_SET_MODE_FILTER,
/// `flags`). Returns the listener fd when `flags` has NEW_LISTENER. Falls back to
/// prctl(PR_SET_SECCOMP) only when there are no flags and seccomp(2) is missing.
///
/// Needs no_new_privs or CAP_SYS_ADMIN. Makes no allocation and no other system call,
/// so that a profile cannot trip over berth between loading and the next step.
pub fn load(program: &[SockFilter], flags: u32) -> io::Result<Option<OwnedFd>> {
    let len = libc::c_ushort::try_from(program.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp program too long"))?;
    let prog = SockFprog {
        len,
        filter: program.as_ptr(),
    };
    // SAFETY: `prog` points to `program`, which outlives the call; the kernel copies it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            &prog as *const SockFprog,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if flags != 0 || e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(e);
        }
        // SAFETY: prctl with a pointer to a live sock_fprog.
        let r = unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                &prog as *const SockFprog,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        return Ok(None);
    }
    if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER the kernel returns a new fd that we own.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as RawFd) }));
    }
    Ok(None)
}

/// Whether the kernel accepts these SECCOMP_FILTER_FLAG_* bits: seccomp(2) with a
/// NULL program fails with EFAULT once the flags are valid, EINVAL before. Nothing is
/// loaded either way.
pub fn flags_supported(flags: u32) -> bool {
    // SAFETY: a NULL program is never dereferenced; the kernel checks the flags first.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            std::ptr::null::<SockFprog>(),
        )
    };
    r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

/// sendmsg(2) `payload` with `fd` as SCM_RIGHTS on the stream `sock`, retrying on
/// EINTR and sending the rest of the payload (without the fd) after a short write.
/// Stack buffers only: this runs right after the filter is loaded.
pub fn send_with_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>, payload: &[u8]) -> io::Result<()> {
    const SPACE: usize = 64;
    #[repr(C, align(8))]
    struct Cmsg([u8; SPACE]);
    let mut buf = Cmsg([0; SPACE]);
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    if space > SPACE {
        return Err(io::Error::other("cmsg buffer too small"));
    }
    let mut sent = 0;
    let mut first = true;
    while sent < payload.len() || first {
        let rest = &payload[sent..];
        let mut iov = libc::iovec {
            iov_base: rest.as_ptr() as *mut libc::c_void,
            iov_len: rest.len(),
        };
        // SAFETY: msghdr is plain old data; zeroed is "no name, no control".
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if first {
            msg.msg_control = buf.0.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = space;
            // SAFETY: the control buffer is `space` bytes and aligned for cmsghdr;
            // CMSG_FIRSTHDR/CMSG_DATA stay inside it for one fd.
            unsafe {
                let c = libc::CMSG_FIRSTHDR(&msg);
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_RIGHTS;
                (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
                std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut RawFd, fd.as_raw_fd());
            }
        }
        // SAFETY: every pointer in `msg` refers to live buffers of the stated sizes.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        first = false;
        sent += n as usize;
    }
    Ok(())
}
