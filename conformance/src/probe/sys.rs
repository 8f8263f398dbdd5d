//! The probe's only unsafe code: thin wrappers over the syscalls whose results
//! the cases compare with config.json. Every wrapper returns the errno as text
//! instead of panicking, so a failed observation becomes a `not ok` line.

use std::ffi::{CStr, CString};
use std::io;

fn errno_text() -> String {
    io::Error::last_os_error().to_string()
}

fn cstr(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|e| format!("{s:?}: {e}"))
}

pub struct Uname {
    pub nodename: String,
    pub domainname: String,
    pub machine: String,
}

pub fn uname() -> Result<Uname, String> {
    // SAFETY: utsname is plain old data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(errno_text());
    }
    let field = |f: &[libc::c_char]| {
        // SAFETY: the kernel NUL-terminates every utsname field.
        unsafe { CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Ok(Uname {
        nodename: field(&u.nodename),
        domainname: field(&u.domainname),
        machine: field(&u.machine),
    })
}

pub fn getrlimit(resource: i32) -> Result<(u64, u64), String> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointer to an rlimit.
    if unsafe { libc::getrlimit(resource as _, &mut r) } != 0 {
        return Err(errno_text());
    }
    Ok((r.rlim_cur, r.rlim_max))
}

/// personality(0xffffffff) queries without changing it.
pub fn personality() -> Result<u32, String> {
    // SAFETY: the query form has no side effect.
    let p = unsafe { libc::personality(0xffff_ffff) };
    if p < 0 {
        return Err(errno_text());
    }
    Ok(p as u32)
}

/// struct sched_attr from include/uapi/linux/sched/types.h (SCHED_ATTR_SIZE_VER1).
#[repr(C)]
#[derive(Default, Debug)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

pub fn sched_getattr() -> Result<SchedAttr, String> {
    let mut attr = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: attr is a properly sized, writable sched_attr.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut attr as *mut SchedAttr,
            size,
            0,
        )
    };
    if r != 0 {
        return Err(errno_text());
    }
    Ok(attr)
}

/// ioprio_get(IOPRIO_WHO_PROCESS, 0): (class, level).
pub fn ioprio_get() -> Result<(u32, u32), String> {
    // SAFETY: plain syscall with integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) };
    if r < 0 {
        return Err(errno_text());
    }
    let v = r as u32;
    Ok((v >> 13, v & 0x1fff))
}

pub fn sched_getaffinity() -> Result<Vec<usize>, String> {
    // SAFETY: cpu_set_t is plain old data.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer and size.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0
    {
        return Err(errno_text());
    }
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: i < CPU_SETSIZE.
    Ok((0..max)
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect())
}

pub fn securebits() -> Result<u32, String> {
    // SAFETY: query only.
    let r = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
    if r < 0 {
        return Err(errno_text());
    }
    Ok(r as u32)
}

pub fn geteuid() -> u32 {
    // SAFETY: always succeeds.
    unsafe { libc::geteuid() }
}

pub fn getpid() -> i32 {
    // SAFETY: always succeeds.
    unsafe { libc::getpid() }
}

/// umount2(path, 0); Ok(()) means the unmount succeeded.
pub fn umount(path: &str) -> Result<(), String> {
    let p = cstr(path)?;
    // SAFETY: valid C string.
    if unsafe { libc::umount2(p.as_ptr(), 0) } != 0 {
        return Err(errno_text());
    }
    Ok(())
}

/// mount(NULL, path, NULL, MS_REMOUNT|MS_BIND, NULL): try to make a mount read-write.
pub fn remount_rw(path: &str) -> Result<(), String> {
    let p = cstr(path)?;
    // SAFETY: valid C strings / null pointers as mount(2) allows.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            p.as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_BIND,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(errno_text());
    }
    Ok(())
}

pub fn clock_secs(clock: libc::clockid_t) -> Result<f64, String> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(errno_text());
    }
    Ok(ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
}

pub fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

pub fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

/// Open fds of this process, read with raw getdents so that nothing but the
/// directory fd itself is opened (and it is excluded).
pub fn open_fds() -> Result<Vec<i32>, String> {
    let dir = cstr("/proc/self/fd")?;
    // SAFETY: valid C string.
    let d = unsafe { libc::opendir(dir.as_ptr()) };
    if d.is_null() {
        return Err(errno_text());
    }
    // SAFETY: d is a valid DIR*.
    let own = unsafe { libc::dirfd(d) };
    let mut fds = Vec::new();
    loop {
        // SAFETY: d is a valid DIR*.
        let e = unsafe { libc::readdir(d) };
        if e.is_null() {
            break;
        }
        // SAFETY: readdir returned a valid dirent with a NUL-terminated name.
        let name = unsafe { CStr::from_ptr((*e).d_name.as_ptr()) }.to_string_lossy();
        if let Ok(fd) = name.parse::<i32>() {
            if fd != own {
                fds.push(fd);
            }
        }
    }
    // SAFETY: d is a valid DIR*, closed once.
    unsafe { libc::closedir(d) };
    fds.sort_unstable();
    Ok(fds)
}

/// open(2) `path` with `flags` (plus O_NONBLOCK, O_NOCTTY, O_CLOEXEC) and
/// close it: None when it opened, else the errno.
pub fn open_errno(path: &str, flags: i32) -> Option<i32> {
    let Ok(p) = cstr(path) else {
        return Some(libc::EINVAL);
    };
    let all = flags | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: valid C string; the fd is closed below.
    let fd = unsafe { libc::open(p.as_ptr(), all) };
    if fd < 0 {
        return Some(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // SAFETY: fd was just opened by us.
    unsafe { libc::close(fd) };
    None
}

/// A raw syscall with six arguments: Ok(return value) or Err(errno).
pub fn syscall6(nr: libc::c_long, a: [u64; 6]) -> Result<i64, i32> {
    // SAFETY: only called with the argument-only syscalls of seccomp::SAFE
    // (getppid, getsid, getpgid, getpriority), which read no pointers.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r < 0 {
        return Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    Ok(r)
}
