//! `exec`: a new process in a running container, in the same three stages as create
//! but joining instead of creating. The parent puts the intermediate in the
//! container's cgroup; the intermediate joins every namespace of the container's
//! init (user first, mount last) and clones the process (CLONE_PARENT, so it is the
//! parent's child); the process sets its identity and execs. Its sync socket is
//! CLOEXEC: EOF after Ready means the exec happened.

use super::sync::{self, Msg};
use super::{process, stage_err, InitError, Stage, StageResult};
use crate::cgroups::Cgroup;
use crate::sys;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

pub struct ExecOpts<'a> {
    /// The container's id and bundle, for a seccomp agent's state.
    pub id: &'a str,
    pub bundle: &'a std::path::Path,
    pub init_pid: i32,
    pub spec: &'a Spec,
    pub process: Process,
    pub cgroup: &'a Cgroup,
    /// Sub-cgroup (relative) from --cgroup.
    pub sub_cgroup: Option<String>,
    pub console: Option<UnixStream>,
    pub preserve_fds: u32,
    /// Return once the process is in its cgroup, before it execs (a detached exec
    /// into a paused container: the process runs when the container is resumed).
    pub return_when_placed: bool,
    /// linux.seccomp as create compiled it (the state dir's copy), if there is one.
    pub seccomp_cache: Option<crate::seccomp::Filter>,
}

/// What the process stage needs for linux.seccomp: the compiled filter, and the
/// agent's socket when the profile uses SCMP_ACT_NOTIFY.
struct Seccomp {
    filter: Option<crate::seccomp::Filter>,
    agent: Option<UnixStream>,
}

/// Namespaces to join: every type the container's config lists (new or joined).
fn namespace_fds(
    init_pid: i32,
    spec: &Spec,
) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>, InitError> {
    let mut out = Vec::new();
    let types: Vec<LinuxNamespaceType> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .map(|ns| ns.iter().map(|n| n.typ()).collect())
        .unwrap_or_default();
    for t in types {
        let name = match t {
            LinuxNamespaceType::Mount => "mnt",
            LinuxNamespaceType::Network => "net",
            LinuxNamespaceType::Cgroup => "cgroup",
            LinuxNamespaceType::Uts => "uts",
            LinuxNamespaceType::Ipc => "ipc",
            LinuxNamespaceType::User => "user",
            LinuxNamespaceType::Pid => "pid",
            LinuxNamespaceType::Time => "time",
        };
        let path = format!("/proc/{init_pid}/ns/{name}");
        let fd = nix::fcntl::open(
            path.as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| InitError::io(format!("exec: open {path}"))(e.into()))?;
        out.push((t, fd));
    }
    // User first (it grants the rights for the rest), mount last.
    out.sort_by_key(|(t, _)| match t {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 9,
        _ => 5,
    });
    Ok(out)
}

/// Start the process; returns its host pid once it has exec'd.
pub fn exec(mut opts: ExecOpts<'_>) -> Result<i32, InitError> {
    let joins = namespace_fds(opts.init_pid, opts.spec)?;
    // The container's linux.seccomp applies to every process in it (as runc):
    // the program create compiled, or compiled again when that copy is missing.
    let profile = opts
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref());
    let filter = match (profile, opts.seccomp_cache.take()) {
        (None, _) => None,
        (Some(_), Some(cached)) => Some(cached),
        (Some(p), None) => {
            Some(crate::seccomp::compile(p).map_err(|e| InitError::Config(e.to_string()))?)
        }
    };
    // The agent listens on a host path: connect before joining the mount namespace.
    let agent = match filter.as_ref().and_then(|f| f.listener.as_ref()) {
        None => None,
        Some(l) => Some(UnixStream::connect(&l.path).map_err(InitError::io(format!(
            "exec: seccomp: linux.seccomp.listenerPath {}",
            l.path.display()
        )))?),
    };
    let seccomp = Seccomp { filter, agent };
    let sub = match &opts.sub_cgroup {
        None => None,
        Some(s) => crate::cgroups::sub_cgroup_path(s)?,
    };
    let cg_dirs = match sub {
        None => opts.cgroup.clone(),
        Some(rel) => {
            let layout = crate::cgroups::Layout::detect()?;
            Cgroup::new(&layout, &format!("{}{}", opts.cgroup.path, rel))
        }
    };
    let (parent_end, child_end) = sync::pair().map_err(InitError::io("socketpair"))?;
    let intermediate = match sys::fork_with(0).map_err(InitError::io("fork"))? {
        sys::Forked::Child => {
            drop(parent_end);
            let code = match intermediate(&opts, &joins, &seccomp, &child_end) {
                Ok(()) => 0,
                Err(e) => {
                    let _ = sync::send(
                        child_end.as_fd(),
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
        sys::Forked::Parent(pid) => pid,
    };
    drop(child_end);
    let reap = |pid: i32| {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    };
    let sock = parent_end.as_fd();
    sync::send(sock, &Msg::Go).map_err(InitError::io("sync"))?;
    let mut pid = 0;
    let mut ready = false;
    loop {
        match sync::recv(sock).map_err(InitError::io("sync"))? {
            Some(Msg::InitPid { pid: p }) => {
                pid = p;
                reap(intermediate);
                sync::send(sock, &Msg::Go).map_err(InitError::io("sync"))?;
                if seccomp.agent.is_some() {
                    // The process's own pid as the host sees it, for the agent.
                    sync::send(sock, &Msg::InitPid { pid }).map_err(InitError::io("sync"))?;
                }
            }
            Some(Msg::Ready { .. }) => {
                ready = true;
                // Into the container's cgroup just before exec, by the parent: a
                // frozen (paused) cgroup then freezes the process, not berth.
                if let Err(e) = cg_dirs.add(pid) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    reap(pid);
                    return Err(e.into());
                }
                sync::send(sock, &Msg::Go).map_err(InitError::io("sync"))?;
                if opts.return_when_placed {
                    return Ok(pid);
                }
            }
            Some(Msg::Error { stage, message }) => {
                reap(intermediate);
                if pid > 0 {
                    reap(pid);
                }
                return Err(InitError::Child { stage, message });
            }
            Some(other) => return Err(InitError::Config(format!("sync: unexpected {other:?}"))),
            None if ready && pid > 0 => return Ok(pid),
            None => {
                reap(intermediate);
                return Err(InitError::Child {
                    stage: "exec".into(),
                    message: "the process died before it could exec".into(),
                });
            }
        }
    }
}

fn intermediate(
    opts: &ExecOpts<'_>,
    joins: &[(LinuxNamespaceType, OwnedFd)],
    seccomp: &Seccomp,
    sock: &OwnedFd,
) -> StageResult<()> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).stage("prctl")?;
    // CVE-2016-9962: nothing in the container may ptrace this stage.
    nix::sys::prctl::set_dumpable(false).stage("prctl")?;
    sys::reset_signal_dispositions();
    let first_unpassed = super::first_unpassed_fd(opts.preserve_fds, 0);
    let mut keep: Vec<i32> = (3..i32::try_from(first_unpassed).unwrap_or(i32::MAX)).collect();
    keep.push(sock.as_raw_fd());
    keep.extend(joins.iter().map(|(_, fd)| fd.as_raw_fd()));
    if let Some(c) = &opts.console {
        keep.push(c.as_raw_fd());
    }
    if let Some(a) = &seccomp.agent {
        keep.push(a.as_raw_fd());
    }
    sys::close_all_except(&keep).stage("fds")?;
    sync::expect(sock.as_fd(), &Msg::Go).stage("sync")?;
    for (t, fd) in joins {
        let flag = super::intermediate::clone_flag(*t);
        nix::sched::setns(fd.as_fd(), flag).stage_with("setns", || {
            format!(
                "joining the container's {} namespace",
                crate::spec::validate::namespace_name(*t)
            )
        })?;
    }
    let in_userns = joins.iter().any(|(t, _)| *t == LinuxNamespaceType::User);
    match sys::fork_with(libc::CLONE_PARENT).stage("clone")? {
        sys::Forked::Child => {
            let err = match process_stage(opts, seccomp, sock, in_userns) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = sync::send(
                sock.as_fd(),
                &Msg::Error {
                    stage: err.stage.into(),
                    message: err.message,
                },
            );
            sys::exit_now(1)
        }
        sys::Forked::Parent(pid) => sync::send(sock.as_fd(), &Msg::InitPid { pid }).stage("sync"),
    }
}

fn process_stage(
    opts: &ExecOpts<'_>,
    seccomp: &Seccomp,
    sock: &OwnedFd,
    in_userns: bool,
) -> StageResult<Infallible> {
    sync::expect(sock.as_fd(), &Msg::Go).stage("sync")?;
    let agent = match &seccomp.agent {
        None => None,
        Some(a) => match sync::recv(sock.as_fd()).stage("sync")? {
            Some(Msg::InitPid { pid }) => Some(super::container::SeccompAgent {
                sock: a.try_clone().stage("seccomp")?,
                pid,
            }),
            other => {
                return Err(stage_err(
                    "sync",
                    format!("expected the pid, got {other:?}"),
                ))
            }
        },
    };
    // The caller blocked the signals it forwards; the program must not inherit that.
    nix::sys::signal::SigSet::empty()
        .thread_set_mask()
        .stage("signals")?;
    let p = &opts.process;
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(stage_err("exec", "process.args: must not be empty"));
    }
    if in_userns {
        let root = nix::unistd::Uid::from_raw(0);
        let rootg = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(rootg, rootg, rootg).stage("user")?;
        nix::unistd::setresuid(root, root, root).stage("user")?;
    }
    if let Some(c) = &opts.console {
        super::console::setup_console(c, p, false)?;
    }
    process::apply_oom_score_adj(p)?;
    process::apply_rlimits(p)?;
    process::apply_scheduler(p)?;
    process::apply_io_priority(p)?;
    apply_cpu_affinity(p)?;
    let no_new_privs = p.no_new_privileges().unwrap_or(false);
    let state = |_pid: i32| {
        serde_json::json!({
            "ociVersion": crate::state::OCI_VERSION,
            "id": opts.id,
            "status": "running",
            "pid": opts.init_pid,
            "bundle": opts.bundle,
            "annotations": opts.spec.annotations().clone().unwrap_or_default(),
        })
    };
    if !no_new_privs {
        // As in the init: before the capabilities go, or loading needs no_new_privs.
        super::container::apply_seccomp(seccomp.filter.as_ref(), agent.as_ref(), state)?;
    }
    process::set_identity(p)?;
    if no_new_privs {
        nix::sys::prctl::set_no_new_privs().stage("no_new_privs")?;
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        p.user().umask().unwrap_or(0o022),
    ));
    let cwd = p.cwd();
    nix::unistd::chdir(cwd.as_path())
        .stage_with("cwd", || format!("process.cwd {}", cwd.display()))?;
    // CVE-2024-21626: the cwd must be inside the container.
    if !std::env::current_dir().is_ok_and(|d| d.is_absolute()) {
        return Err(stage_err(
            "cwd",
            format!("process.cwd {}: not inside the container", cwd.display()),
        ));
    }
    let env = process::environment(p, process::home_of(p.user().uid()));
    let exe = process::find_executable(&args[0], &env).map_err(|m| stage_err("exec", m))?;
    let c_exe = process::cstrings(&[exe.to_string_lossy().into_owned()], "process.args")?;
    let c_args = process::cstrings(&args, "process.args")?;
    let c_env = process::cstrings(&env, "process.env")?;
    sync::send(
        sock.as_fd(),
        &Msg::Ready {
            warnings: Vec::new(),
        },
    )
    .stage("sync")?;
    // The parent puts us in the container's cgroup, then says Go.
    sync::expect(sock.as_fd(), &Msg::Go).stage("sync")?;
    nix::sys::prctl::set_pdeathsig(None).stage("prctl")?;
    let first_closed = super::first_unpassed_fd(opts.preserve_fds, 0);
    for fd in 3..first_closed {
        sys::clear_cloexec(fd as i32).stage_with("exec", || format!("--preserve-fds: fd {fd}"))?;
    }
    sys::cloexec_from(first_closed).stage("exec")?;
    if no_new_privs {
        super::container::apply_seccomp(seccomp.filter.as_ref(), agent.as_ref(), state)?;
    }
    let e = match nix::unistd::execve(&c_exe[0], &c_args, &c_env) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    Err(e).stage_with("exec", || format!("exec {}", exe.display()))
}

/// execCPUAffinity (config.md): `final` once in the container's cgroup (where the
/// process already is); `initial` alone when no final is given.
fn apply_cpu_affinity(p: &Process) -> StageResult<()> {
    let Some(a) = p.exec_cpu_affinity() else {
        return Ok(());
    };
    let Some(list) = a.cpu_affinity_final().as_ref().or(a.initial().as_ref()) else {
        return Ok(());
    };
    let ranges = crate::spec::validate::parse_cpu_list(list)
        .map_err(|m| stage_err("affinity", format!("process.execCPUAffinity: {m}")))?;
    let mut set = nix::sched::CpuSet::new();
    for (lo, hi) in ranges {
        for cpu in lo..=hi {
            set.set(cpu as usize)
                .stage_with("affinity", || format!("process.execCPUAffinity: cpu {cpu}"))?;
        }
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .stage_with("affinity", || "process.execCPUAffinity".into())
}
