//! bpf(2) for the cgroup v2 device controller: load a BPF_PROG_TYPE_CGROUP_DEVICE
//! program, attach it to a cgroup directory, list what is attached, and detach.
//!
//! libc has no `union bpf_attr`, so each command's member of the union is defined
//! here as its own `#[repr(C)]` struct with the kernel's field layout
//! (include/uapi/linux/bpf.h). The kernel copies `min(size, sizeof(bpf_attr))` bytes
//! and treats the rest as zero, so passing only the member we use is the documented
//! way to call it; every struct is zero-initialised so unused fields are zero, which
//! the kernel's CHECK_ATTR requires.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_QUERY: libc::c_long = 16;

/// BPF_PROG_TYPE_CGROUP_DEVICE.
pub const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// BPF_CGROUP_DEVICE (attach type).
pub const ATTACH_CGROUP_DEVICE: u32 = 6;
/// BPF_F_ALLOW_MULTI: programs of every cgroup level run, and all must allow.
pub const F_ALLOW_MULTI: u32 = 2;

/// The name berth gives its device programs (BPF_OBJ_NAME_LEN is 16 with the NUL),
/// so that `update` can tell its own programs from anyone else's.
pub const DEVICE_PROG_NAME: &str = "berth_devices";

/// Size of one `struct bpf_insn`.
pub const INSN_SIZE: usize = 8;

/// The BPF_PROG_LOAD member of `union bpf_attr` up to `expected_attach_type`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The BPF_PROG_ATTACH / BPF_PROG_DETACH member (without `replace_bpf_fd` and later).
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// The BPF_PROG_QUERY member up to `prog_cnt` (the 4 bytes after it are padding in
/// the kernel's struct too, and stay zero).
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// The BPF_PROG_GET_FD_BY_ID member.
#[repr(C)]
#[derive(Default)]
struct GetIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// The BPF_OBJ_GET_INFO_BY_FD member.
#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// `struct bpf_prog_info` up to `name` (the kernel fills at most `info_len` bytes).
#[repr(C)]
#[derive(Default)]
struct ProgInfo {
    typ: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    name: [u8; 16],
}

/// bpf(2) with `attr` as the command's member of `union bpf_attr`.
///
/// # Safety
/// `attr` must be the layout the kernel expects for `cmd`, and every pointer stored
/// in it must be valid for the access the kernel makes during the call.
unsafe fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: the caller guarantees `attr` matches `cmd`; its size is passed so the
    // kernel never reads or writes past it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn owned(fd: libc::c_long) -> io::Result<OwnedFd> {
    let fd = RawFd::try_from(fd)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bpf(2) returned a bad fd"))?;
    // SAFETY: the kernel has just returned this new fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    // A BorrowedFd is never negative.
    fd.as_raw_fd() as u32
}

/// Load a BPF_PROG_TYPE_CGROUP_DEVICE program. `insns` is the program as bytes,
/// `struct bpf_insn` after `struct bpf_insn` in native byte order. If the verifier
/// rejects it, the load is retried with a log buffer and the error carries the log.
pub fn load_cgroup_device_prog(insns: &[u8], license: &CStr) -> io::Result<OwnedFd> {
    if insns.is_empty() || !insns.len().is_multiple_of(INSN_SIZE) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "BPF program is not a whole number of instructions",
        ));
    }
    let insn_cnt = u32::try_from(insns.len() / INSN_SIZE)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long"))?;
    let mut prog_name = [0u8; 16];
    for (d, s) in prog_name.iter_mut().zip(DEVICE_PROG_NAME.as_bytes()) {
        *d = *s;
    }
    let mut attr = ProgLoadAttr {
        prog_type: PROG_TYPE_CGROUP_DEVICE,
        insn_cnt,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name,
        ..Default::default()
    };
    // SAFETY: ProgLoadAttr is the BPF_PROG_LOAD layout; `insns` (insn_cnt * 8 bytes)
    // and `license` (NUL-terminated) outlive the call; no log buffer is given.
    let first = match unsafe { bpf(BPF_PROG_LOAD, &mut attr) } {
        Ok(fd) => return owned(fd),
        Err(e) => e,
    };
    // Again with a verifier log, to say why.
    let mut log = vec![0u8; 1 << 16];
    attr.log_level = 1;
    attr.log_size = log.len() as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    // SAFETY: as above; `log` is writable for `log_size` bytes and outlives the call.
    match unsafe { bpf(BPF_PROG_LOAD, &mut attr) } {
        Ok(fd) => owned(fd),
        Err(_) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            let text = text.trim();
            if text.is_empty() {
                Err(first)
            } else {
                Err(io::Error::new(
                    first.kind(),
                    format!("BPF_PROG_LOAD: {first}; verifier log:\n{text}"),
                ))
            }
        }
    }
}

fn attach_call(
    cmd: libc::c_long,
    cgroup_dir_fd: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    flags: u32,
) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup_dir_fd),
        attach_bpf_fd: fd_u32(prog),
        attach_type: ATTACH_CGROUP_DEVICE,
        attach_flags: flags,
    };
    // SAFETY: AttachAttr is the BPF_PROG_ATTACH/DETACH layout and holds no pointers.
    unsafe { bpf(cmd, &mut attr) }?;
    Ok(())
}

/// Attach `prog` to the cgroup open at `cgroup_dir_fd` as its device filter, with
/// BPF_F_ALLOW_MULTI (so other programs, here and in ancestors, still apply too).
pub fn attach_cgroup_device(cgroup_dir_fd: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    attach_call(BPF_PROG_ATTACH, cgroup_dir_fd, prog, F_ALLOW_MULTI)
}

/// Detach the device program `prog` from the cgroup open at `cgroup_dir_fd`.
pub fn detach(cgroup_dir_fd: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    attach_call(BPF_PROG_DETACH, cgroup_dir_fd, prog, 0)
}

/// The ids of the device programs attached directly to the cgroup open at
/// `cgroup_dir_fd` (not the inherited ones).
pub fn query_attached(cgroup_dir_fd: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids: Vec<u32> = vec![0; 16];
    loop {
        let mut attr = QueryAttr {
            target_fd: fd_u32(cgroup_dir_fd),
            attach_type: ATTACH_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        // SAFETY: QueryAttr is the BPF_PROG_QUERY layout; `ids` is writable for
        // `prog_cnt` u32s and outlives the call.
        match unsafe { bpf(BPF_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // Too small: the kernel has put the real count in prog_cnt.
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC)
                    && (attr.prog_cnt as usize) > ids.len()
                    && attr.prog_cnt <= 1 << 16 =>
            {
                ids = vec![0; attr.prog_cnt as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

/// A new fd on the loaded program with id `id`.
pub fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetIdAttr {
        prog_id: id,
        ..Default::default()
    };
    // SAFETY: GetIdAttr is the BPF_PROG_GET_FD_BY_ID layout and holds no pointers.
    let fd = unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) }?;
    owned(fd)
}

/// The id and name of the loaded program `prog`.
pub fn prog_id_and_name(prog: BorrowedFd<'_>) -> io::Result<(u32, String)> {
    let mut info = ProgInfo::default();
    let mut attr = InfoAttr {
        bpf_fd: fd_u32(prog),
        info_len: std::mem::size_of::<ProgInfo>() as u32,
        info: &mut info as *mut ProgInfo as u64,
    };
    // SAFETY: InfoAttr is the BPF_OBJ_GET_INFO_BY_FD layout; `info` is writable for
    // `info_len` bytes, outlives the call, and its pointer fields are zero so the
    // kernel copies no arrays out.
    unsafe { bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr) }?;
    let end = info
        .name
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(info.name.len());
    Ok((
        info.id,
        String::from_utf8_lossy(&info.name[..end]).into_owned(),
    ))
}
