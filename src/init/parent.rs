//! Stage 1: the `create` process. Everything here happens on the host side; the
//! children report back over the sync socket (see `sync.rs` for the table).

use super::sync::{self, Msg};
use super::InitError;
use crate::cgroups::{self, Cgroup, Layout};
use crate::id::ContainerId;
use crate::spec::Bundle;
use crate::state::{self, StateRecord, Status};
use crate::store::{self, Entry, Store};
use crate::sys;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct CreateOpts {
    pub id: ContainerId,
    pub bundle: Bundle,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// The init's end of berth's own console socket (a foreground `run` proxying
    /// the terminal); used instead of connecting to `console_socket`.
    pub console_stream: Option<UnixStream>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Socket-activation fds (LISTEN_FDS in berth's environment), passed after the
    /// preserved ones.
    pub listen_fds: u32,
}

/// What the children need; they get it by fork's copy of memory.
pub struct Ctx<'a> {
    pub id: &'a ContainerId,
    pub bundle: &'a Bundle,
    pub fifo: &'a OwnedFd,
    pub console: Option<&'a UnixStream>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub listen_fds: u32,
    pub cgroup: &'a Cgroup,
    pub layout: &'a Layout,
    /// Run createRuntime/prestart hooks between mounts and pivot_root.
    pub runtime_hooks: bool,
    /// linux.seccomp, compiled before anything exists.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// The layered rootfs, its directories made: mounted at root.path by the init.
    pub overlay: Option<&'a crate::layers::Overlay>,
}

pub struct Created {
    pub entry: Entry,
    pub record: StateRecord,
    /// The config the container was made from (what the state dir's snapshot holds):
    /// `run` starts it without reading the snapshot back.
    pub spec: oci_spec::runtime::Spec,
}

/// Undoes a half-done create when dropped (runtime.md "Errors": as if never attempted).
struct Cleanup {
    entry: Option<Entry>,
    cgroup: Option<Cgroup>,
    /// Directories made for the layered rootfs (removed once the init, whose mount
    /// namespace holds the overlay, is gone).
    overlay: Option<crate::layers::Overlay>,
    children: Vec<(i32, Option<OwnedFd>)>,
    /// Set when a create-time hook failed: runtime.md continues the lifecycle at
    /// step 12, so poststop hooks run (step 13) with this state.
    poststop: Option<(Vec<oci_spec::runtime::Hook>, Vec<u8>)>,
    /// The container's veth, address and nftables table, once setup began.
    network: Option<crate::network::Teardown>,
}

impl Cleanup {
    fn track_child(&mut self, pid: i32) {
        self.children.push((pid, sys::pidfd_open(pid).ok()));
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for (pid, pidfd) in self.children.drain(..) {
            if let Some(fd) = &pidfd {
                let _ = sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
            }
            // Both stages are our children (the init by CLONE_PARENT): reap them.
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        if let Some(net) = self.network.take() {
            if let Err(e) = net.run() {
                crate::log::warn(&format!("cleanup after failed create: {e}"));
            }
        }
        if let Some(cg) = self.cgroup.take() {
            if let Err(e) = cg.remove(Duration::from_secs(5)) {
                crate::log::warn(&format!("cleanup after failed create: {e}"));
            }
        }
        if let Some(ov) = self.overlay.take() {
            if let Err(e) = ov.undo_create() {
                crate::log::warn(&format!("cleanup after failed create: {e}"));
            }
        }
        if let Some((hooks, state)) = self.poststop.take() {
            for e in crate::hooks::run_each("poststop", &hooks, &state) {
                crate::log::warn(&e.to_string());
            }
        }
        if let Some(entry) = self.entry.take() {
            if let Err(e) = entry.remove() {
                crate::log::warn(&format!("cleanup after failed create: {e}"));
            }
        }
    }
}

pub fn create(store: &Store, mut opts: CreateOpts) -> Result<Created, InitError> {
    let spec = &opts.bundle.spec;
    let linux = spec.linux().as_ref();
    // Checks that need no side effects come before the state dir exists.
    let cgroup_path = cgroups::container_path(
        linux.and_then(|l| l.cgroups_path().as_deref()),
        opts.id.as_str(),
    )?;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && opts.console_socket.is_none() && opts.console_stream.is_none() {
        return Err(InitError::Config(format!(
            "process.terminal: {}",
            super::console::DETACHED_TTY
        )));
    }
    if !opts.bundle.rootfs.is_dir() {
        return Err(InitError::Config(format!(
            "root.path: {} is not a directory",
            opts.bundle.rootfs.display()
        )));
    }
    let seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .map(crate::seccomp::compile)
        .transpose()
        .map_err(|e| InitError::Config(e.to_string()))?;

    let overlay = crate::layers::LayerSpec::from_spec(spec)
        .map_err(|e| InitError::Config(e.to_string()))?
        .map(|l| crate::layers::Overlay::plan(&l, &opts.bundle.dir, opts.id.as_str()))
        .transpose()?;

    let layout = Layout::detect()?;
    let resources = linux.and_then(|l| l.resources().as_ref());
    let plan = match resources {
        Some(r) => {
            cgroups::resources::plan(r, &layout).map_err(|e| InitError::Config(e.to_string()))?
        }
        None => cgroups::resources::Plan {
            writes: Vec::new(),
            warnings: Vec::new(),
            check_before_update: false,
        },
    };

    let entry = store.create(&opts.id)?;
    let fifo_path = entry.path(store::EXEC_FIFO);
    let config = serde_json::to_vec(spec).map_err(|e| InitError::Config(e.to_string()));
    // The guard owns the state dir before anything is written in it: a failed
    // write must not leave it behind.
    let mut guard = Cleanup {
        entry: Some(entry),
        cgroup: None,
        overlay: None,
        children: Vec::new(),
        poststop: None,
        network: None,
    };
    if let Some(e) = &guard.entry {
        e.write_atomic(store::CONFIG_FILE, &config?)?;
        if let Some(f) = &seccomp {
            e.write_atomic(store::SECCOMP_FILE, &f.to_cache())?;
        }
    }
    if let Some(ov) = &overlay {
        // Recorded before anything is made: a create killed -9 half-way leaves delete
        // the list of what to remove.
        if let Some(e) = &guard.entry {
            e.write_atomic(crate::layers::RECORD_FILE, &ov.to_json()?)?;
        }
        guard.overlay = Some(ov.clone());
        ov.make_dirs()?;
    }

    let cgroup = Cgroup::new(&layout, &cgroup_path);
    cgroup.create()?;
    guard.cgroup = Some(cgroup.clone());
    let needs_v2 = layout.is_v2()
        || plan
            .writes
            .iter()
            .any(|w| matches!(w.target, cgroups::resources::Target::Unified));
    if needs_v2 {
        cgroups::apply::enable_v2_controllers(&cgroup)?;
    }
    // SECURITY.md attack 27: never share a cgroup with processes we did not start.
    if !cgroup.pids()?.is_empty() {
        // Not ours to remove: forget it before the guard would.
        guard.cgroup = None;
        return Err(InitError::Config(format!(
            "linux.cgroupsPath: cgroup {cgroup_path} already has processes in it"
        )));
    }
    if let Some(entry) = &guard.entry {
        entry.write_note(store::CGROUP_FILE, &cgroup_path)?;
    }

    let device_rules = cgroups::devices::rules(
        linux
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.devices().as_deref())
            .unwrap_or(&[]),
        linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]),
    );
    for w in cgroups::apply::apply(&cgroup, &plan)?
        .iter()
        .chain(&plan.warnings)
    {
        crate::log::warn(w);
    }
    cgroup.apply_devices(&device_rules)?;
    if layout.is_v2() {
        // cgroup v2 has no devices files: the rules become an eBPF program.
        if let Some(dir) = cgroup.v2_dir() {
            cgroups::bpf::apply_v2_devices(dir, &device_rules)?;
        }
    }

    let fifo = make_exec_fifo(&fifo_path)?;
    let console = match (opts.console_stream.take(), &opts.console_socket, terminal) {
        (Some(s), _, true) => Some(s),
        (None, Some(p), true) => Some(
            UnixStream::connect(p)
                .map_err(InitError::io(format!("--console-socket {}", p.display())))?,
        ),
        _ => None,
    };
    let hooks = spec.hooks().as_ref();
    let runtime_hooks = hooks.is_some_and(|h| {
        h.prestart().as_ref().is_some_and(|v| !v.is_empty())
            || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
    });
    let ctx = Ctx {
        id: &opts.id,
        bundle: &opts.bundle,
        fifo: &fifo,
        console: console.as_ref(),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        listen_fds: opts.listen_fds,
        cgroup: &cgroup,
        layout: &layout,
        runtime_hooks,
        seccomp: seccomp.as_ref(),
        overlay: overlay.as_ref(),
    };

    let (parent_end, child_end) = sync::pair().map_err(InitError::io("socketpair"))?;
    let (forked, born_in_cgroup) = fork_intermediate(&cgroup, &layout)?;
    let intermediate = match forked {
        sys::Forked::Child => {
            drop(parent_end);
            super::intermediate::run(&ctx, child_end)
        }
        sys::Forked::Parent(pid) => pid,
    };
    drop(child_end);
    guard.track_child(intermediate);
    let sock = parent_end.as_fd();
    let intermediate_fd = sys::pidfd_open(intermediate).ok();
    let placed = if born_in_cgroup {
        Ok(())
    } else {
        cgroup.add(intermediate)
    };
    // An intermediate that failed before Go has exited with the reason on the
    // socket, which says more than a refused cgroup.procs write or a broken pipe.
    // (It makes its namespaces only after Go: their kernel memory is charged to the
    // container's memory cgroup, and tests/cgroups.rs
    // tiny_memory_limit_fails_clearly_and_leaves_nothing relies on it.)
    if let Err(e) = placed
        .map_err(InitError::from)
        .and_then(|_| sync::send(sock, &Msg::Go).map_err(InitError::io("sync")))
    {
        return Err(sync::reported_error(sock)
            .map_or(e, |(stage, message)| InitError::Child { stage, message }));
    }

    let mut init_pid = 0;
    let mut init_start = 0;
    let mut record = StateRecord {
        oci_version: state::OCI_VERSION.into(),
        id: opts.id.to_string(),
        pid: 0,
        bundle: opts.bundle.dir.clone(),
        rootfs: opts.bundle.rootfs.clone(),
        created: state::now_rfc3339(),
        owner: owner_name(),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        init_start_time: 0,
        cgroup_path: cgroup_path.clone(),
        terminal,
    };
    let warnings = loop {
        // Until the intermediate has reported the init, its death must end the wait.
        let watch = if init_pid == 0 {
            intermediate_fd.as_ref().map(|f| f.as_fd())
        } else {
            None
        };
        let msg = sync::recv_watching(sock, watch).map_err(InitError::io("sync"))?;
        match msg {
            Some(Msg::UserNsReady) => {
                write_id_maps(intermediate, spec)?;
                sync::send(sock, &Msg::MapsWritten).map_err(InitError::io("sync"))?;
            }
            Some(Msg::InitPid { pid }) => {
                init_pid = pid;
                guard.track_child(pid);
                if let Err(e) = reap_intermediate(intermediate) {
                    return Err(match oom_message(&cgroup, spec, "") {
                        Some(message) => InitError::Child {
                            stage: "intermediate".into(),
                            message,
                        },
                        None => e,
                    });
                }
                guard.children.retain(|(p, _)| *p != intermediate);
                init_start =
                    proc_start_time(pid).map_err(InitError::io(format!("/proc/{pid}/stat")))?;
                // Before any hook runs, so the hooks see the network.
                guard.network = Some(crate::network::Teardown::new(
                    store.root(),
                    opts.id.as_str(),
                    Some(spec),
                ));
                crate::network::setup(store.root(), opts.id.as_str(), spec, pid)?;
                sync::send(sock, &Msg::Go).map_err(InitError::io("sync"))?;
            }
            Some(Msg::RunCreateRuntimeHooks) => {
                record.pid = init_pid;
                let st = serde_json::to_vec(&record.public(Status::Creating))
                    .map_err(|e| InitError::Config(e.to_string()))?;
                if let Some(h) = hooks {
                    let r = crate::hooks::run_all(
                        "prestart",
                        h.prestart().as_deref().unwrap_or(&[]),
                        &st,
                    )
                    .and_then(|_| {
                        crate::hooks::run_all(
                            "createRuntime",
                            h.create_runtime().as_deref().unwrap_or(&[]),
                            &st,
                        )
                    });
                    if let Err(e) = r {
                        guard.poststop = poststop_plan(hooks, &record);
                        return Err(e.into());
                    }
                }
                sync::send(sock, &Msg::HooksDone).map_err(InitError::io("sync"))?;
            }
            Some(Msg::Ready { warnings }) => break warnings,
            Some(Msg::Error { stage, message }) => {
                // A failing createContainer hook: continue at step 12, so poststop too.
                if stage == "hooks" {
                    guard.poststop = poststop_plan(hooks, &record);
                }
                return Err(InitError::Child { stage, message });
            }
            Some(other) => {
                return Err(InitError::Config(format!(
                    "sync: unexpected message {other:?}"
                )))
            }
            None => {
                return Err(InitError::Child {
                    stage: "init".into(),
                    message: silent_death(init_pid, &cgroup, spec),
                })
            }
        }
    };
    for w in warnings {
        crate::log::warn(&w);
    }
    record.pid = init_pid;
    record.init_start_time = init_start;
    let entry = guard
        .entry
        .take()
        .ok_or_else(|| InitError::Config("lost state".into()))?;
    if let Err(e) = entry.save(&record) {
        guard.entry = Some(entry);
        return Err(e.into());
    }
    if let Some(p) = &opts.pid_file {
        if let Err(e) = write_pid_file(p, init_pid) {
            guard.entry = Some(entry);
            return Err(e);
        }
    }
    guard.cgroup = None;
    guard.overlay = None;
    guard.children.clear();
    guard.network = None;
    Ok(Created {
        entry,
        record,
        spec: opts.bundle.spec,
    })
}

/// Fork the intermediate; true when it was born in its cgroup. On pure cgroup v2,
/// clone3 with CLONE_INTO_CGROUP saves the write to cgroup.procs and the RCU grace
/// period that write waits for; elsewhere, or where clone3 is refused, a plain fork
/// and the caller writes cgroup.procs.
fn fork_intermediate(cgroup: &Cgroup, layout: &Layout) -> Result<(sys::Forked, bool), InitError> {
    let dir = cgroup.v2_dir().filter(|_| layout.is_v2()).and_then(|d| {
        nix::fcntl::open(
            d,
            nix::fcntl::OFlag::O_RDONLY
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ok()
    });
    if let Some(fd) = dir {
        if let Ok(forked) = sys::fork_into_cgroup(fd.as_fd()) {
            return Ok((forked, true));
        }
    }
    let forked = sys::fork_with(0).map_err(InitError::io("fork"))?;
    Ok((forked, false))
}

/// Why the init died without a word: its wait status, and an OOM kill in its cgroup
/// named with the limit that caused it (SECURITY.md attack 23).
fn silent_death(init_pid: i32, cgroup: &Cgroup, spec: &oci_spec::runtime::Spec) -> String {
    use nix::sys::wait::{waitpid, WaitStatus};
    let status = if init_pid > 0 {
        match waitpid(nix::unistd::Pid::from_raw(init_pid), None) {
            Ok(WaitStatus::Signaled(_, sig, _)) => format!(" (killed by {sig})"),
            Ok(WaitStatus::Exited(_, code)) => format!(" (exit status {code})"),
            _ => String::new(),
        }
    } else {
        String::new()
    };
    if let Some(m) = oom_message(cgroup, spec, &status) {
        return m;
    }
    format!("the container's init exited before it was ready{status}")
}

/// If the kernel OOM-killed in the container's cgroup, say so and name the limit.
fn oom_message(cgroup: &Cgroup, spec: &oci_spec::runtime::Spec, status: &str) -> Option<String> {
    if cgroup.oom_kills() == 0 {
        return None;
    }
    let limit = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit());
    Some(match limit {
        Some(l) => format!(
            "the container was OOM-killed while setting up{status}: linux.resources.memory.limit ({l} bytes) is too low to start it"
        ),
        None => format!("the container was OOM-killed while setting up{status}"),
    })
}

/// The poststop hooks and the (stopped) state they get, if there are any.
fn poststop_plan(
    hooks: Option<&oci_spec::runtime::Hooks>,
    record: &StateRecord,
) -> Option<(Vec<oci_spec::runtime::Hook>, Vec<u8>)> {
    let list = hooks?.poststop().clone().filter(|l| !l.is_empty())?;
    let state = serde_json::to_vec(&record.public(Status::Stopped)).ok()?;
    Some((list, state))
}

fn make_exec_fifo(path: &Path) -> Result<OwnedFd, InitError> {
    use nix::sys::stat::Mode;
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o622))
        .map_err(|e| InitError::io(format!("mkfifo {}", path.display()))(e.into()))?;
    // The mode must not depend on the caller's umask: the init may run as any user.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .map_err(InitError::io(format!("chmod {}", path.display())))?;
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InitError::io(format!("open {}", path.display()))(e.into()))?;
    Ok(fd)
}

fn write_id_maps(pid: i32, spec: &oci_spec::runtime::Spec) -> Result<(), InitError> {
    let linux = spec.linux().as_ref();
    let fmt = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.map(|m| {
            m.iter()
                .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
                .collect::<String>()
        })
        .unwrap_or_default()
    };
    let uid = fmt(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid = fmt(linux.and_then(|l| l.gid_mappings().as_ref()));
    for (file, text, field) in [
        ("uid_map", uid, "linux.uidMappings"),
        ("gid_map", gid, "linux.gidMappings"),
    ] {
        if text.is_empty() {
            continue;
        }
        let p = format!("/proc/{pid}/{file}");
        std::fs::write(&p, text.as_bytes())
            .map_err(InitError::io(format!("{field}: writing {p}")))?;
    }
    Ok(())
}

fn reap_intermediate(pid: i32) -> Result<(), InitError> {
    use nix::sys::wait::{waitpid, WaitStatus};
    match waitpid(nix::unistd::Pid::from_raw(pid), None) {
        Ok(WaitStatus::Exited(_, 0)) => Ok(()),
        Ok(other) => Err(InitError::Child {
            stage: "intermediate".into(),
            message: format!("exited abnormally: {other:?}"),
        }),
        Err(e) => Err(InitError::io("waitpid intermediate")(e.into())),
    }
}

/// Field 22 of /proc/PID/stat: start time in clock ticks since boot.
pub fn proc_start_time(pid: i32) -> std::io::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&s)
        .map(|(_, start)| start)
        .ok_or_else(|| std::io::Error::other("unparsable /proc/PID/stat"))
}

/// (state char, start time) from a /proc/PID/stat line. The comm field may hold
/// spaces and parentheses, so split after the last ')'.
pub fn parse_stat(s: &str) -> Option<(char, u64)> {
    let rest = &s[s.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    // After the state come fields 4..: starttime is field 22, i.e. the 19th after state.
    let start = f.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// The name of berth's user, from /etc/passwd itself (as runc, a static Go binary,
/// reads it): the release binary is static, and glibc's NSS in a static binary
/// would dlopen the host's NSS modules. The uid when it has no name.
fn owner_name() -> String {
    let uid = nix::unistd::geteuid().as_raw();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| passwd_name(&text, uid))
        .unwrap_or_else(|| uid.to_string())
}

/// The first /etc/passwd entry for `uid` ("name:x:uid:gid:..."), if any.
fn passwd_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        let id: u32 = f.next()?.parse().ok()?;
        (id == uid && !name.is_empty() && !name.starts_with('#')).then(|| name.to_string())
    })
}

/// The host pid, digits only, no newline, written atomically (ENGINES.md "Contracts").
pub fn write_pid_file(path: &Path, pid: i32) -> Result<(), InitError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        InitError::Config(format!("--pid-file {}: not a file name", path.display()))
    })?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, pid.to_string())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(InitError::io(format!("--pid-file {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_from_passwd() {
        let passwd = "# comment:x:0\nroot:x:0:0:root:/root:/bin/sh\n\nbad line\n\
                      ::7:7::/:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n\
                      dup:x:1000:1000::/:/bin/sh\nbob:x:notanumber:1::/:/bin/sh\n";
        assert_eq!(passwd_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(passwd_name(passwd, 7), None, "an empty name is no name");
        assert_eq!(passwd_name(passwd, 4242), None);
        assert_eq!(passwd_name("", 0), None);
    }

    #[test]
    fn stat_with_hostile_comm() {
        let line = "42 (a) b) (c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10";
        assert_eq!(parse_stat(line), Some(('S', 123456)));
        assert_eq!(parse_stat("garbage"), None);
    }
}
