//! The one seam to the kernel that needs `unsafe`: raw syscalls that neither nix nor
//! libc wrap safely. Every function here is small, documented, and returns io::Result.
//! Everything else in berth uses these or nix's safe wrappers.

pub mod bpf;
pub mod seccomp;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cstr(p: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// What a fork-like call returned in the calling process.
pub enum Forked {
    Child,
    Parent(libc::pid_t),
}

/// fork(2) as a raw clone with extra `flags` (e.g. CLONE_PARENT), sharing nothing.
/// The child continues on a copy of the caller's stack, like fork.
///
/// berth is single-threaded when it calls this (no thread is ever spawned before
/// the container is set up), so the child may allocate freely.
pub fn fork_with(flags: libc::c_int) -> io::Result<Forked> {
    // SAFETY: clone without CLONE_VM and with a NULL stack behaves like fork(2); the
    // process is single-threaded, so no lock can be held by another thread.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match cvt(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as libc::pid_t)),
    }
}

/// struct clone_args of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2, 88 bytes).
#[repr(C)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// fork(2) as clone3 with CLONE_INTO_CGROUP: the child is born in the cgroup v2
/// directory `cgroup`, with no write to cgroup.procs (which waits for an RCU grace
/// period). Errs when the kernel (before 5.7) or a seccomp filter refuses clone3:
/// callers fall back to fork_with and a write.
pub fn fork_into_cgroup(cgroup: BorrowedFd<'_>) -> io::Result<Forked> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup.as_raw_fd() as u64,
    };
    // SAFETY: as fork_with: no CLONE_VM and no stack, so the child runs on a copy of
    // the caller's memory; single-threaded caller. `args` outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match cvt(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as libc::pid_t)),
    }
}

/// pidfd_open(2): a handle on `pid` that cannot be confused with a later process
/// reusing the number.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; the fd returned is owned by us.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just returned this fd to us and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// pidfd_send_signal(2).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: NULL siginfo is allowed and means "as kill(2)".
    cvt(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })?;
    Ok(())
}

/// openat2(2) with RESOLVE_IN_ROOT: `path` is resolved as if `root` were `/`, so no
/// symlink or `..` can leave it (the defence for CVE-2019-19921, CVE-2021-30465 and
/// the other mount-destination swaps).
pub fn openat2_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    // SAFETY: open_how is plain old data; all-zero is its "no options" value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    if flags & libc::O_CREAT != 0 {
        how.mode = mode as u64;
    }
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `how` is a valid open_how and its size is passed; `c` outlives the call.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })?;
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// mount_setattr(2) on `path` relative to `dirfd`, recursively when `recursive`.
pub fn mount_setattr(
    dirfd: BorrowedFd<'_>,
    path: &Path,
    recursive: bool,
    attr_set: u64,
    attr_clr: u64,
) -> io::Result<()> {
    let c = cstr(path)?;
    let mut attr = libc::mount_attr {
        attr_set,
        attr_clr,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: valid pointers and sizes for the duration of the call.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd.as_raw_fd(),
            c.as_ptr(),
            flags,
            &mut attr as *mut libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    })?;
    Ok(())
}

/// Mark every fd >= `first` close-on-exec (close_range with CLOSE_RANGE_CLOEXEC), so
/// that nothing the runtime holds leaks into the container (CVE-2024-21626).
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: integer-only syscall.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Kernels before 5.11: walk /proc/self/fd.
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd: &RawFd| fd >= first as RawFd)
        .collect();
    for fd in fds {
        // SAFETY: setting FD_CLOEXEC on an fd number is harmless even if it was closed.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Clear FD_CLOEXEC on `fd` (for fds deliberately passed to the container).
pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an integer fd.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } as libc::c_long)?;
    Ok(())
}

/// dup2 that also works when `from == to` (then it only clears FD_CLOEXEC).
pub fn dup_to(from: RawFd, to: RawFd) -> io::Result<()> {
    if from == to {
        return clear_cloexec(to);
    }
    // SAFETY: dup2 on integer fds; `to` is replaced atomically.
    cvt(unsafe { libc::dup2(from, to) } as libc::c_long)?;
    Ok(())
}

/// Bring the loopback interface of the current network namespace up.
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: socket(2) returns a new fd that we own.
    let sock = cvt(
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) }
            as libc::c_long,
    )?;
    // SAFETY: we own this fd.
    let sock = unsafe { OwnedFd::from_raw_fd(sock as RawFd) };
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills ifr_ifru.ifru_flags of a valid ifreq.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } as libc::c_long)?;
    // SAFETY: reading the union member SIOCGIFFLAGS just wrote.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above, SIOCSIFFLAGS reads the same struct.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } as libc::c_long)?;
    Ok(())
}

/// Join a new anonymous session keyring named `name` (KEYCTL_JOIN_SESSION_KEYRING), so
/// that the container does not share the caller's keys.
pub fn join_session_keyring(name: &str) -> io::Result<()> {
    let c = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "keyring name has a NUL"))?;
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with a valid C string.
    cvt(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, c.as_ptr()) })?;
    Ok(())
}

/// setdomainname(2).
pub fn set_domainname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length of a live byte slice.
    cvt(
        unsafe { libc::setdomainname(name.as_ptr() as *const libc::c_char, name.len()) }
            as libc::c_long,
    )?;
    Ok(())
}

/// ioprio_set(2) for the calling process.
pub fn ioprio_set(class: u32, level: u32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    let prio = ((class & 0x7) << 13) | (level & 0x1fff);
    // SAFETY: integer-only syscall.
    cvt(unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) })?;
    Ok(())
}

/// The kernel's sched_attr (v1, 56 bytes).
#[repr(C)]
#[derive(Default)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
}

/// sched_setattr(2) for the calling thread.
pub fn sched_setattr(attr: &mut SchedAttr) -> io::Result<()> {
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: pointer to a live, correctly sized sched_attr.
    cvt(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *mut SchedAttr, 0) })?;
    Ok(())
}

/// personality(2).
pub fn set_personality(persona: libc::c_ulong) -> io::Result<()> {
    // SAFETY: integer-only call.
    let r = unsafe { libc::personality(persona) };
    cvt(r as libc::c_long)?;
    Ok(())
}

/// pivot_root(2).
pub fn pivot_root(new_root: &Path, put_old: &Path) -> io::Result<()> {
    let a = cstr(new_root)?;
    let b = cstr(put_old)?;
    // SAFETY: two valid C strings.
    cvt(unsafe { libc::syscall(libc::SYS_pivot_root, a.as_ptr(), b.as_ptr()) })?;
    Ok(())
}

/// Give the heap's free pages back to the kernel (glibc malloc_trim): a created
/// container's init holds its memory until `start`, perhaps for a long time.
pub fn release_free_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Exit immediately without running Rust destructors or atexit handlers: what a
/// forked stage must do so that it never flushes or frees state owned by its parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// setrlimit(2).
pub fn setrlimit(resource: libc::__rlimit_resource_t, lim: &libc::rlimit) -> io::Result<()> {
    // SAFETY: pointer to a live rlimit.
    cvt(unsafe { libc::setrlimit(resource, lim) } as libc::c_long)?;
    Ok(())
}

/// Close every fd >= `first` (close_range), so nothing the caller leaked to berth can
/// reach the container (SECURITY.md attacks 10 and 12).
pub fn close_from(first: u32) -> io::Result<()> {
    // SAFETY: integer-only syscall; closing fds we do not use is the point.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
    if r == 0 {
        return Ok(());
    }
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd: &RawFd| fd >= first as RawFd)
        .collect();
    for fd in fds {
        // SAFETY: closing an fd number berth does not own yet.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// Make the terminal on `fd` the controlling terminal (TIOCSCTTY).
pub fn set_controlling_tty(fd: RawFd) -> io::Result<()> {
    // SAFETY: ioctl with an integer argument.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } as libc::c_long)?;
    Ok(())
}

/// Set a terminal's window size (TIOCSWINSZ).
pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: pointer to a live winsize.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } as libc::c_long)?;
    Ok(())
}

/// A terminal's window size (TIOCGWINSZ): (rows, columns).
pub fn get_winsize(fd: BorrowedFd<'_>) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: valid fd and pointer to a live winsize the kernel fills.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } as libc::c_long)?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Receive one message on a unix socket and the single fd it carries (SCM_RIGHTS,
/// installed CLOEXEC). None when the peer closed without sending one; any extra fds
/// are closed.
pub fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 4096];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut got = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just installed these fds in this process; nothing
            // else refers to them.
            got.extend(
                fds.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    Ok(got.into_iter().next())
}

/// The filesystem magic of the filesystem holding `fd` (fstatfs f_type).
pub fn fs_magic(fd: BorrowedFd<'_>) -> io::Result<i64> {
    // SAFETY: statfs is plain old data; zeroed is valid and the kernel fills it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and pointer.
    cvt(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } as libc::c_long)?;
    Ok(st.f_type as i64)
}

pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;
pub const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// Close every fd except `keep` (and never fds 0-2): what a forked stage inherited
/// from berth (lock files, the log, sockets) must not follow it into the container.
pub fn close_all_except(keep: &[RawFd]) -> io::Result<()> {
    let mut kept: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd > 2)
        .collect();
    kept.sort_unstable();
    kept.dedup();
    // close_range over the gaps between the kept fds (Linux 5.9); no /proc read.
    let mut from = 3u32;
    let mut ranged = true;
    for hi in kept.iter().map(|&k| Some(k)).chain([None]) {
        let to = match hi {
            Some(k) if k > from => k - 1,
            Some(k) => {
                from = k + 1;
                continue;
            }
            None => u32::MAX,
        };
        // SAFETY: integer-only syscall closing fds this stage does not use.
        if unsafe { libc::syscall(libc::SYS_close_range, from, to, 0) } != 0 {
            ranged = false;
            break;
        }
        from = hi.map_or(from, |k| k + 1);
    }
    if ranged {
        return Ok(());
    }
    // Kernels before 5.9 (or a filter refusing close_range): walk /proc/self/fd.
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory stream's own fd is in the list but already closed: harmless.
    for fd in fds {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: closing an fd this stage does not use; nothing else refers to it
            // in this single-threaded child.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// Every signal back to its default disposition. Rust's runtime ignores SIGPIPE, the
/// caller may ignore others, and an ignored signal survives execve: the container's
/// program must start as it would anywhere else (SigIgn 0, as under runc). The raw
/// rt_sigaction is used because glibc refuses its reserved real-time signals (32, 33).
pub fn reset_signal_dispositions() {
    /// The kernel's struct sigaction on x86_64 (no restorer needed for SIG_DFL).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let act = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `act` is a valid kernel sigaction for the call's duration; SIG_DFL
        // runs no code of ours; the old action is not requested.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &act as *const KernelSigaction,
                std::ptr::null::<KernelSigaction>(),
                8usize,
            )
        };
    }
}

/// Run `f` on a short-lived thread that has joined the network namespace `ns`
/// (setns affects only the calling thread for CLONE_NEWNET). Sockets `f` opens stay
/// in that namespace after the thread is gone. The thread is joined before this
/// returns, so berth is single-threaded again for any later fork.
pub fn in_netns<T: Send + 'static>(
    ns: BorrowedFd<'_>,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    let ns = ns.try_clone_to_owned()?;
    std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| io::Error::from_raw_os_error(e as i32))?;
        Ok(f())
    })
    .join()
    .map_err(|_| io::Error::other("netns thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// A cgroup v2 mount point, if there is one (pure v2, or hybrid's "unified").
    fn cgroup2_mount() -> Option<std::path::PathBuf> {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        mi.lines().find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            (post.split_whitespace().next()? == "cgroup2")
                .then(|| pre.split_whitespace().nth(4).map(Into::into))?
        })
    }

    /// The child of fork_into_cgroup starts in the given cgroup: its /proc/self/cgroup
    /// names it before it has done anything.
    #[test]
    fn fork_into_cgroup_places_the_child_at_birth() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skip: needs root");
            return;
        }
        let Some(mount) = cgroup2_mount() else {
            eprintln!("skip: no cgroup2 mount");
            return;
        };
        let name = format!("berth-unit-clone3-{}", std::process::id());
        let dir = mount.join(&name);
        std::fs::create_dir(&dir).unwrap();
        struct Rm(std::path::PathBuf);
        impl Drop for Rm {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir(&self.0);
            }
        }
        let _rm = Rm(dir.clone());
        let fd = std::fs::File::open(&dir).unwrap();
        // What the child must see in /proc/self/cgroup, prepared before the fork: the
        // test harness is multi-threaded, so the child only makes raw calls.
        let want = format!("0::/{name}\n");
        let path = c"/proc/self/cgroup";
        match fork_into_cgroup(fd.as_fd()) {
            Ok(Forked::Child) => {
                let mut buf = [0u8; 4096];
                // SAFETY: raw calls on a stack buffer; _exit without unwinding.
                unsafe {
                    let f = libc::open(path.as_ptr(), libc::O_RDONLY);
                    let n = libc::read(f, buf.as_mut_ptr().cast(), buf.len());
                    let seen = if n > 0 { &buf[..n as usize] } else { &[][..] };
                    let ok = seen.windows(want.len()).any(|w| w == want.as_bytes());
                    libc::_exit(if ok { 0 } else { 1 })
                }
            }
            Ok(Forked::Parent(pid)) => {
                let st = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
                assert_eq!(
                    st,
                    nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 0),
                    "the child was not born in {}",
                    dir.display()
                );
            }
            Err(e) => panic!("clone3 CLONE_INTO_CGROUP: {e}"),
        }
    }
}
