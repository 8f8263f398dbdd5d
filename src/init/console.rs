//! The terminal of a container process: a pty from the container's devpts instance,
//! whose master goes to the caller's --console-socket (SCM_RIGHTS).

use super::rootfs::{self, fd_path, Kind};
use super::{stage_err, Stage, StageResult};
use crate::sys;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// A terminal needs someone to hold its master: the caller's --console-socket, or
/// berth itself in the foreground. runc's words (utils_linux.go), with berth's name.
pub const DETACHED_TTY: &str =
    "cannot allocate tty if berth will detach without setting console socket";

/// A pty from the container's devpts: the master goes to the --console-socket, the
/// slave becomes /dev/console and the process's stdio and controlling terminal.
pub fn setup_console(
    console: &UnixStream,
    p: &oci_spec::runtime::Process,
    as_dev_console: bool,
) -> StageResult<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .stage_with("console", || "open /dev/ptmx".into())?;
    nix::pty::grantpt(&master).stage("console")?;
    nix::pty::unlockpt(&master).stage("console")?;
    let name = nix::pty::ptsname_r(&master).stage("console")?;
    let slave = nix::fcntl::open(
        Path::new(&name),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .stage_with("console", || format!("open {name}"))?;
    // CVE-2025-52565: the slave must be a char device on devpts, not something the
    // image swapped in.
    let st = nix::sys::stat::fstat(slave.as_fd()).stage("console")?;
    if nix::sys::stat::SFlag::from_bits_truncate(st.st_mode) & nix::sys::stat::SFlag::S_IFMT
        != nix::sys::stat::SFlag::S_IFCHR
        || sys::fs_magic(slave.as_fd()).stage("console")? != sys::DEVPTS_SUPER_MAGIC
    {
        return Err(stage_err(
            "console",
            format!("{name} is not a devpts terminal"),
        ));
    }
    if let Some(size) = p.console_size() {
        sys::set_winsize(
            master.as_raw_fd(),
            size.height() as u16,
            size.width() as u16,
        )
        .stage_with("console", || "process.consoleSize".into())?;
    }
    let fds = [master.as_raw_fd()];
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        console.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .stage_with("console", || {
        "sending the pty master to --console-socket".into()
    })?;
    drop(master);

    if as_dev_console {
        bind_dev_console(&slave, &name)?;
    }
    for fd in 0..3 {
        sys::dup_to(slave.as_raw_fd(), fd).stage("console")?;
    }
    nix::unistd::setsid().stage("console")?;
    sys::set_controlling_tty(0).stage("console")?;
    Ok(())
}

/// The container's /dev/console is its terminal (the init's only, not an exec's).
/// The source is the verified slave's fd, not its name, which could have been
/// swapped since the check.
fn bind_dev_console(slave: &impl AsRawFd, name: &str) -> StageResult<()> {
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .stage("console")?;
    let target = rootfs::resolve_or_create(root.as_fd(), Path::new("/dev/console"), Kind::File)
        .stage_with("console", || "/dev/console".into())?;
    nix::mount::mount(
        Some(fd_path(slave).as_path()),
        fd_path(&target).as_path(),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .stage_with("console", || format!("bind {name} on /dev/console"))?;
    Ok(())
}
