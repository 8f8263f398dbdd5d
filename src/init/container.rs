//! Stage 3: the container init, pid 1 of the container. A fixed list of steps, then
//! it blocks on the exec fifo until `start`, then execs the user's program.

use super::parent::Ctx;
use super::rootfs::{self, fd_path};
use super::sync::{self, Msg};
use super::{process, stage_err, Stage, StageResult};
use crate::sys;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::convert::Infallible;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// Set once the parent has been told Ready (and may have exited).
static READY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs in the cloned init; never returns.
pub fn run(ctx: &Ctx<'_>, sock: &OwnedFd) -> ! {
    let err = match steps(ctx, sock) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    if READY.load(std::sync::atomic::Ordering::Relaxed) {
        // After Ready nobody reads the socket: the container's stderr is the only witness.
        eprintln!("berth: {}: {}", err.stage, err.message);
    }
    let _ = sync::send(
        sock.as_fd(),
        &Msg::Error {
            stage: err.stage.into(),
            message: err.message,
        },
    );
    sys::exit_now(1)
}

fn has_new_ns(spec: &Spec, t: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == t && n.path().is_none()))
}

fn state_json(ctx: &Ctx<'_>, status: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ociVersion": crate::state::OCI_VERSION,
        "id": ctx.id.as_str(),
        "pid": nix::unistd::getpid().as_raw(),
        "status": status,
        "bundle": ctx.bundle.dir,
        "annotations": ctx.bundle.spec.annotations().clone().unwrap_or_default(),
    }))
    .unwrap_or_default()
}

fn steps(ctx: &Ctx<'_>, sock: &OwnedFd) -> StageResult<Infallible> {
    // Killed with the parent until create has finished (cleared before Ready).
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).stage("prctl")?;
    sync::expect(sock.as_fd(), &Msg::Go).stage("sync")?;
    // Modes of what berth creates must not depend on the caller's umask.
    nix::sys::stat::umask(Mode::empty());

    let spec = &ctx.bundle.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| stage_err("config", "process: required"))?;
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(stage_err("config", "process.args: must not be empty"));
    }

    // A seccomp agent listens on a host path: connect while the host's root and /proc
    // (for the pid the runtime sees) are still the ones we have.
    let agent = connect_seccomp_agent(ctx.seccomp)?;

    if has_new_ns(spec, LinuxNamespaceType::Network) {
        sys::loopback_up().stage_with("network", || "bringing lo up".into())?;
    }

    let root = rootfs::prepare(ctx)?;
    if ctx.runtime_hooks {
        sync::send(sock.as_fd(), &Msg::RunCreateRuntimeHooks).stage("sync")?;
        sync::expect(sock.as_fd(), &Msg::HooksDone).stage("sync")?;
    }
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_ref())
    {
        crate::hooks::run_all("createContainer", h, &state_json(ctx, "creating")).stage("hooks")?;
    }
    rootfs::enter(&root, &ctx.bundle.rootfs, ctx.no_pivot)?;
    drop(root);

    if let Some(console) = ctx.console {
        super::console::setup_console(console, process, true)?;
    }
    // Before finalize: /proc/sys is usually among the read-only paths.
    apply_sysctl(spec)?;
    rootfs::finalize(spec)?;
    if let Some(h) = spec.hostname().as_ref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).stage_with("hostname", || format!("hostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_ref().filter(|d| !d.is_empty()) {
        sys::set_domainname(d).stage_with("hostname", || format!("domainname {d:?}"))?;
    }
    if !ctx.no_new_keyring {
        // EPERM/ENOSYS where keyrings are off or restricted: not fatal, as in runc.
        let _ = sys::join_session_keyring(&format!("_ses.{}", ctx.id));
    }
    process::apply_oom_score_adj(process)?;
    process::apply_rlimits(process)?;
    process::apply_personality(spec)?;
    process::apply_scheduler(process)?;
    process::apply_io_priority(process)?;
    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    if !no_new_privs {
        // Without no_new_privs loading a filter needs CAP_SYS_ADMIN, so before the
        // capabilities go (as runc): what the init does next is then up to the profile.
        apply_seccomp(ctx.seccomp, agent.as_ref(), |pid| {
            seccomp_state(ctx, "creating", pid)
        })?;
    }
    process::set_identity(process)?;
    if no_new_privs {
        nix::sys::prctl::set_no_new_privs().stage("no_new_privs")?;
    }
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(Mode::from_bits_truncate(umask));

    let cwd = process.cwd();
    nix::unistd::chdir(cwd.as_path())
        .stage_with("cwd", || format!("process.cwd {}", cwd.display()))?;
    // CVE-2024-21626: the cwd must be inside the container, not reached through a
    // leaked host fd.
    match std::env::current_dir() {
        Ok(p) if p.is_absolute() => {}
        _ => {
            return Err(stage_err(
                "cwd",
                format!("process.cwd {}: not inside the container", cwd.display()),
            ))
        }
    }

    let mut env = process::environment(process, process::home_of(process.user().uid()));
    let exe = process::find_executable(&args[0], &env).map_err(|m| stage_err("exec", m))?;
    let first_closed = super::first_unpassed_fd(ctx.preserve_fds, ctx.listen_fds);
    if ctx.listen_fds > 0 {
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={}", ctx.listen_fds));
        env.push(format!("LISTEN_PID={}", nix::unistd::getpid()));
    }
    let c_exe = process::cstrings(&[exe.to_string_lossy().into_owned()], "process.args")?;
    let c_args = process::cstrings(&args, "process.args")?;
    let c_env = process::cstrings(&env, "process.env")?;

    // Ready: from here the parent may exit, so stop dying with it.
    nix::sys::prctl::set_pdeathsig(None).stage("prctl")?;
    sync::send(
        sock.as_fd(),
        &Msg::Ready {
            warnings: Vec::new(),
        },
    )
    .stage("sync")?;
    // What setup allocated and freed need not stay resident while we wait.
    sys::release_free_heap();

    // Blocks until `start` opens the fifo for reading. The fd stays open (CLOEXEC)
    // until execve, so `start` sees EOF exactly when the program replaced us.
    let fifo = nix::fcntl::open(
        fd_path(ctx.fifo).as_path(),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .stage("exec fifo")?;
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
    {
        if let Err(e) = crate::hooks::run_all("startContainer", h, &state_json(ctx, "created")) {
            // `start` reports what it reads here instead of the go-ahead byte.
            let _ = nix::unistd::write(&fifo, e.to_string().as_bytes());
            return Err(e).stage("hooks");
        }
    }
    nix::unistd::write(&fifo, b"0").stage("exec fifo")?;
    for fd in 3..first_closed {
        sys::clear_cloexec(fd as i32).stage_with("exec", || format!("--preserve-fds: fd {fd}"))?;
    }
    sys::cloexec_from(first_closed).stage("exec")?;
    if no_new_privs {
        // As late as possible: after the exec fifo and startContainer hooks, only
        // execve runs under the filter.
        apply_seccomp(ctx.seccomp, agent.as_ref(), |pid| {
            seccomp_state(ctx, "created", pid)
        })?;
    }
    let e = match nix::unistd::execve(&c_exe[0], &c_args, &c_env) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    Err(e).stage_with("exec", || format!("exec {}", exe.display()))
}

/// A seccomp agent we are connected to, and our pid as the runtime sees it (the
/// init's own is 1 in a new pid namespace).
pub(super) struct SeccompAgent {
    pub(super) sock: UnixStream,
    pub(super) pid: i32,
}

/// Connect to linux.seccomp.listenerPath when SCMP_ACT_NOTIFY is used.
pub(super) fn connect_seccomp_agent(
    filter: Option<&crate::seccomp::Filter>,
) -> StageResult<Option<SeccompAgent>> {
    let Some(l) = filter.and_then(|f| f.listener.as_ref()) else {
        return Ok(None);
    };
    let sock = UnixStream::connect(&l.path).stage_with("seccomp", || {
        format!("linux.seccomp.listenerPath {}", l.path.display())
    })?;
    let pid = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str()?.parse().ok())
        .unwrap_or_else(|| nix::unistd::getpid().as_raw());
    Ok(Some(SeccompAgent { sock, pid }))
}

/// Load linux.seccomp. With SCMP_ACT_NOTIFY, hand the listener fd and the container
/// process state (`state(pid)` is its `state` member) to the agent (config-linux.md
/// "Seccomp"): one message, fds ["seccompFd"], then the connection is closed. Only
/// sendmsg runs between loading and handing over, so the agent can answer whatever
/// comes next.
pub(super) fn apply_seccomp(
    filter: Option<&crate::seccomp::Filter>,
    agent: Option<&SeccompAgent>,
    state: impl FnOnce(i32) -> serde_json::Value,
) -> StageResult<()> {
    let Some(filter) = filter else {
        return Ok(());
    };
    let message = match (&filter.listener, agent) {
        (Some(l), Some(a)) => {
            let mut m = serde_json::json!({
                "ociVersion": crate::state::OCI_VERSION,
                "fds": ["seccompFd"],
                "pid": a.pid,
                "state": state(a.pid),
            });
            if let Some(md) = &l.metadata {
                m["metadata"] = serde_json::Value::from(md.as_str());
            }
            Some(serde_json::to_vec(&m).stage("seccomp")?)
        }
        _ => None,
    };
    let listener = sys::seccomp::load(&filter.program, filter.flags)
        .stage_with("seccomp", || "loading linux.seccomp".into())?;
    if let (Some(fd), Some(a), Some(message)) = (listener, agent, message) {
        sys::seccomp::send_with_fd(a.sock.as_fd(), fd.as_fd(), &message)
            .stage_with("seccomp", || {
                "sending the listener to linux.seccomp.listenerPath".into()
            })?;
        let _ = a.sock.shutdown(std::net::Shutdown::Both);
    }
    Ok(())
}

/// The container's state for a seccomp agent.
fn seccomp_state(ctx: &Ctx<'_>, status: &str, pid: i32) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": crate::state::OCI_VERSION,
        "id": ctx.id.as_str(),
        "status": status,
        "pid": pid,
        "bundle": ctx.bundle.dir,
        "annotations": ctx.bundle.spec.annotations().clone().unwrap_or_default(),
    })
}

/// Namespaced sysctls (validated against the allow-list at load time), written only
/// to a real procfs (CVE-2019-16884: a fake /proc must not swallow them).
fn apply_sysctl(spec: &Spec) -> StageResult<()> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for (key, value) in map {
        let field = || format!("linux.sysctl[{key:?}]");
        let rel = crate::spec::validate::sysctl_proc_path(key)
            .map_err(|m| stage_err("sysctl", format!("{}: {m}", field())))?;
        let path = format!("/proc/sys/{rel}");
        let fd = nix::fcntl::open(
            path.as_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW | OFlag::O_TRUNC,
            Mode::empty(),
        )
        .stage_with("sysctl", field)?;
        if sys::fs_magic(fd.as_fd()).stage_with("sysctl", field)? != sys::PROC_SUPER_MAGIC {
            return Err(stage_err(
                "sysctl",
                format!("{}: {path} is not on procfs", field()),
            ));
        }
        nix::unistd::write(&fd, value.as_bytes()).stage_with("sysctl", field)?;
    }
    Ok(())
}
