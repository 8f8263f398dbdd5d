//! Stage 2: join namespaces by path, unshare the new ones, clone the container init
//! into them (CLONE_PARENT: the init becomes the parent's child), report its pid, exit.

use super::parent::Ctx;
use super::sync::{self, Msg};
use super::{stage_err, Stage, StageResult};
use crate::sys;
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Runs in the forked intermediate; never returns.
pub fn run(ctx: &Ctx<'_>, sock: OwnedFd) -> ! {
    let code = match stage(ctx, &sock) {
        Ok(()) => 0,
        Err(e) => {
            let _ = sync::send(
                sock.as_fd(),
                &Msg::Error {
                    stage: e.stage.into(),
                    message: e.message,
                },
            );
            1
        }
    };
    sys::exit_now(code)
}

pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

fn ns_field(t: LinuxNamespaceType) -> String {
    format!(
        "linux.namespaces[type={}]",
        crate::spec::validate::namespace_name(t)
    )
}

/// The order namespaces given by path are joined: user first (it grants the rights to
/// join the others), mount last (joining it changes how later paths resolve).
fn join_rank(t: LinuxNamespaceType) -> u8 {
    match t {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 9,
        _ => 5,
    }
}

fn stage(ctx: &Ctx<'_>, sock: &OwnedFd) -> StageResult<()> {
    // Die with the parent while create is in progress.
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).stage("prctl")?;
    // CVE-2016-9962: a process in a namespace we join must not ptrace this stage or
    // read its memory; non-dumpable makes that need CAP_SYS_PTRACE in the host's user
    // namespace. Inherited by the init; execve of the user's program resets it.
    nix::sys::prctl::set_dumpable(false).stage("prctl")?;
    // Inherited by the init and so by the program (execve keeps SIG_IGN).
    sys::reset_signal_dispositions();
    // Keep stdio, the fds passed on to the container, and the ones the stages use.
    let mut keep: Vec<i32> = (3..3 + (ctx.preserve_fds + ctx.listen_fds) as i32).collect();
    keep.push(sock.as_raw_fd());
    keep.push(ctx.fifo.as_raw_fd());
    if let Some(c) = ctx.console {
        keep.push(c.as_raw_fd());
    }
    sys::close_all_except(&keep).stage("fds")?;
    sync::expect(sock.as_fd(), &Msg::Go).stage("sync")?;

    let namespaces: Vec<LinuxNamespace> = ctx
        .bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();

    // Open every path first, while the host's mount namespace still resolves them.
    let mut joins: Vec<(LinuxNamespaceType, OwnedFd)> = Vec::new();
    for ns in &namespaces {
        if let Some(path) = ns.path() {
            let fd = nix::fcntl::open(
                path.as_path(),
                nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .stage_with("setns", || {
                format!("{}: open {}", ns_field(ns.typ()), path.display())
            })?;
            joins.push((ns.typ(), fd));
        }
    }
    joins.sort_by_key(|(t, _)| join_rank(*t));
    for (t, fd) in &joins {
        // A non-zero nstype makes the kernel check the fd is a namespace of that type.
        nix::sched::setns(fd.as_fd(), clone_flag(*t))
            .stage_with("setns", || format!("{}: setns", ns_field(*t)))?;
    }

    let new: Vec<LinuxNamespaceType> = namespaces
        .iter()
        .filter(|n| n.path().is_none())
        .map(|n| n.typ())
        .collect();

    if new.contains(&LinuxNamespaceType::User) {
        nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
            .stage_with("unshare", || "linux.namespaces[type=user]".into())?;
        sync::send(sock.as_fd(), &Msg::UserNsReady).stage("sync")?;
        sync::expect(sock.as_fd(), &Msg::MapsWritten).stage("sync")?;
    }
    if new.contains(&LinuxNamespaceType::User)
        || joins.iter().any(|(t, _)| *t == LinuxNamespaceType::User)
    {
        // Become root of the user namespace (uid/gid 0 must be mapped).
        let root = nix::unistd::Uid::from_raw(0);
        let rootg = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(rootg, rootg, rootg).stage_with("setns", || {
            "user namespace: setresgid(0) (is gid 0 mapped?)".into()
        })?;
        nix::unistd::setresuid(root, root, root).stage_with("setns", || {
            "user namespace: setresuid(0) (is uid 0 mapped?)".into()
        })?;
    }

    let mut flags = CloneFlags::empty();
    for t in &new {
        if *t != LinuxNamespaceType::User {
            flags |= clone_flag(*t);
        }
    }
    if !flags.is_empty() {
        nix::sched::unshare(flags).stage_with("unshare", || {
            let names: Vec<String> = new
                .iter()
                .map(|t| crate::spec::validate::namespace_name(*t).to_string())
                .collect();
            format!("linux.namespaces ({})", names.join(","))
        })?;
    }
    if new.contains(&LinuxNamespaceType::Time) {
        write_time_offsets(ctx)?;
    }

    match sys::fork_with(libc::CLONE_PARENT).stage("clone")? {
        sys::Forked::Child => super::container::run(ctx, sock),
        sys::Forked::Parent(pid) => {
            sync::send(sock.as_fd(), &Msg::InitPid { pid }).stage("sync")?;
            Ok(())
        }
    }
}

fn write_time_offsets(ctx: &Ctx<'_>) -> StageResult<()> {
    let Some(offsets) = ctx
        .bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().clone())
    else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in &offsets {
        if clock != "monotonic" && clock != "boottime" {
            return Err(stage_err(
                "timens",
                format!("linux.timeOffsets.{clock}: only monotonic and boottime can be offset"),
            ));
        }
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    std::fs::write("/proc/self/timens_offsets", text).stage_with("timens", || {
        "linux.timeOffsets: writing /proc/self/timens_offsets".into()
    })
}
