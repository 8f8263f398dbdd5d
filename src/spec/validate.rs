//! The rules of the spec that a parsed config.json must follow, one small function each
//! (runc's libcontainer/configs/validate is the model). `validate` runs them in order and
//! returns the first broken rule; every error names the JSON path of the field.
//!
//! Pure: no syscalls. Rules that need the host (does the rootfs exist, is a joined netns
//! the host's) belong to the runtime, not here.
//!
//! Choices where the spec leaves room:
//! - `mounts[].destination` may be relative (config.md: "MAY be a relative path, in which
//!   case it MUST be interpreted as relative to /"; deprecated). It is accepted, as runc
//!   does; `mounts::absolute_destination` gives the path to use.
//! - `hostname`/`domainname` set to "" mean unset (runc's reading), so they need no uts
//!   namespace.
//! - A namespace entry joined by `path` counts as "the container has its own" namespace
//!   for the sysctl, hostname and mount rules, as in runc (which additionally stats a
//!   joined netns to refuse the host's own; that check needs a syscall and is left to the
//!   runtime).

use super::mounts;
use super::SpecError;
use oci_spec::runtime::{
    Hook, LinuxDeviceType, LinuxIdMapping, LinuxNamespaceType, LinuxSchedulerPolicy, Spec,
};
use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

type Check = fn(&Spec) -> Result<(), SpecError>;

/// The checks, in the order they run.
const CHECKS: &[Check] = &[
    root,
    process_required,
    process_args,
    process_cwd,
    process_env,
    process_user,
    process_rlimits,
    process_oom_score_adj,
    process_io_priority,
    process_scheduler,
    process_exec_cpu_affinity,
    namespaces,
    user_namespace_mappings,
    time_offsets,
    uts_names,
    mount_namespace_needed,
    sysctl,
    devices,
    mount_entries,
    hooks,
    cgroups_path,
    rootfs_propagation,
    masked_and_readonly_paths,
    personality,
    intel_rdt,
    seccomp_errno_ret,
];

/// config-linux.md seccomp: errnoRet / defaultErrnoRet only with an action that can
/// return an errno (SCMP_ACT_ERRNO, SCMP_ACT_TRACE); "the runtime MUST print an error
/// and fail" otherwise.
fn seccomp_errno_ret(spec: &Spec) -> Result<(), SpecError> {
    use oci_spec::runtime::LinuxSeccompAction as A;
    let Some(sc) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(());
    };
    let takes_errno = |a: A| matches!(a, A::ScmpActErrno | A::ScmpActTrace);
    if sc.default_errno_ret().is_some() && !takes_errno(sc.default_action()) {
        return Err(SpecError::invalid(
            "linux.seccomp.defaultErrnoRet",
            format!("set, but defaultAction {:?} returns no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)", sc.default_action()),
        ));
    }
    for (i, sys) in sc.syscalls().iter().flatten().enumerate() {
        if sys.errno_ret().is_some() && !takes_errno(sys.action()) {
            return Err(SpecError::invalid(
                format!("linux.seccomp.syscalls[{i}].errnoRet"),
                format!("set, but action {:?} returns no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)", sys.action()),
            ));
        }
    }
    Ok(())
}

/// Check every rule; the first broken one is the error.
pub fn validate(spec: &Spec) -> Result<(), SpecError> {
    CHECKS.iter().try_for_each(|check| check(spec))
}

// ---------------------------------------------------------------- helpers

fn has_nul(p: &Path) -> bool {
    p.as_os_str().as_bytes().contains(&0)
}

/// A path that must be absolute: non-empty, no NUL, starts with '/'.
fn absolute_path(field: &str, p: &Path) -> Result<(), SpecError> {
    if p.as_os_str().is_empty() {
        return Err(SpecError::invalid(field, "must not be empty"));
    }
    if has_nul(p) {
        return Err(SpecError::invalid(field, "must not contain a NUL byte"));
    }
    if !p.is_absolute() {
        return Err(SpecError::invalid(
            field,
            format!("{:?} is not an absolute path", p.display().to_string()),
        ));
    }
    Ok(())
}

fn no_nul_str(field: &str, s: &str) -> Result<(), SpecError> {
    if s.contains('\0') {
        return Err(SpecError::invalid(field, "must not contain a NUL byte"));
    }
    Ok(())
}

/// One `environ` entry: NAME=value, NAME non-empty, no NUL anywhere.
fn env_entry(field: &str, e: &str) -> Result<(), SpecError> {
    no_nul_str(field, e)?;
    match e.split_once('=') {
        None => Err(SpecError::invalid(
            field,
            format!("{e:?} is not of the form NAME=value"),
        )),
        Some(("", _)) => Err(SpecError::invalid(
            field,
            format!("{e:?} has an empty variable name"),
        )),
        Some(_) => Ok(()),
    }
}

/// The name config.json uses for a namespace type.
pub fn namespace_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// How the container gets a namespace of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsMode<'a> {
    /// No entry: the runtime's namespace is shared.
    Host,
    /// An entry without `path`: a new namespace.
    New,
    /// An entry with `path`: join that namespace.
    Join(&'a Path),
}

/// How `spec` asks for namespace type `t` (the first entry of that type).
pub fn ns_mode(spec: &Spec, t: LinuxNamespaceType) -> NsMode<'_> {
    let entry = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|list| list.iter().find(|n| n.typ() == t));
    match entry {
        None => NsMode::Host,
        Some(n) => match n.path() {
            None => NsMode::New,
            Some(p) => NsMode::Join(p),
        },
    }
}

fn has_ns(spec: &Spec, t: LinuxNamespaceType) -> bool {
    ns_mode(spec, t) != NsMode::Host
}

// ---------------------------------------------------------------- root

fn root(spec: &Spec) -> Result<(), SpecError> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| SpecError::invalid("root", "required on Linux"))?;
    let p = root.path();
    if p.as_os_str().is_empty() {
        return Err(SpecError::invalid("root.path", "must not be empty"));
    }
    if has_nul(p) {
        return Err(SpecError::invalid(
            "root.path",
            "must not contain a NUL byte",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- process

fn process_required(spec: &Spec) -> Result<(), SpecError> {
    if spec.process().is_none() {
        return Err(SpecError::invalid(
            "process",
            "required: berth runs the process that config.json names",
        ));
    }
    Ok(())
}

fn process_args(spec: &Spec) -> Result<(), SpecError> {
    let Some(process) = spec.process() else {
        return Ok(());
    };
    let args = process.args().as_deref().unwrap_or_default();
    let Some(first) = args.first() else {
        return Err(SpecError::invalid(
            "process.args",
            "at least one entry (the program to run) is required",
        ));
    };
    if first.is_empty() {
        return Err(SpecError::invalid(
            "process.args[0]",
            "the program to run must not be empty",
        ));
    }
    for (i, a) in args.iter().enumerate() {
        no_nul_str(&format!("process.args[{i}]"), a)?;
    }
    Ok(())
}

fn process_cwd(spec: &Spec) -> Result<(), SpecError> {
    match spec.process() {
        Some(p) => absolute_path("process.cwd", p.cwd()),
        None => Ok(()),
    }
}

fn process_env(spec: &Spec) -> Result<(), SpecError> {
    let Some(env) = spec.process().as_ref().and_then(|p| p.env().as_ref()) else {
        return Ok(());
    };
    for (i, e) in env.iter().enumerate() {
        env_entry(&format!("process.env[{i}]"), e)?;
    }
    Ok(())
}

fn process_user(spec: &Spec) -> Result<(), SpecError> {
    let Some(process) = spec.process() else {
        return Ok(());
    };
    if let Some(umask) = process.user().umask() {
        if umask > 0o777 {
            return Err(SpecError::invalid(
                "process.user.umask",
                format!("{umask:#o} is more than 0o777"),
            ));
        }
    }
    Ok(())
}

fn process_rlimits(spec: &Spec) -> Result<(), SpecError> {
    let Some(rlimits) = spec.process().as_ref().and_then(|p| p.rlimits().as_ref()) else {
        return Ok(());
    };
    for (i, r) in rlimits.iter().enumerate() {
        // At most 16 distinct types exist, so this scan stays short.
        if let Some(j) = rlimits[..i].iter().position(|o| o.typ() == r.typ()) {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}].type"),
                format!(
                    "duplicate rlimit \"{}\" (also at process.rlimits[{j}])",
                    r.typ()
                ),
            ));
        }
        if r.soft() > r.hard() {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}].soft"),
                format!(
                    "soft limit {} is more than the hard limit {}",
                    r.soft(),
                    r.hard()
                ),
            ));
        }
    }
    Ok(())
}

fn process_oom_score_adj(spec: &Spec) -> Result<(), SpecError> {
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        if !(-1000..=1000).contains(&adj) {
            return Err(SpecError::invalid(
                "process.oomScoreAdj",
                format!("{adj} is outside -1000..=1000"),
            ));
        }
    }
    Ok(())
}

fn process_io_priority(spec: &Spec) -> Result<(), SpecError> {
    if let Some(io) = spec
        .process()
        .as_ref()
        .and_then(|p| p.io_priority().as_ref())
    {
        let prio = io.priority();
        if !(0..=7).contains(&prio) {
            return Err(SpecError::invalid(
                "process.ioPriority.priority",
                format!("{prio} is outside 0..=7"),
            ));
        }
    }
    Ok(())
}

/// sched_setattr(2)'s rules, checked before any fork.
fn process_scheduler(spec: &Spec) -> Result<(), SpecError> {
    let Some(s) = spec.process().as_ref().and_then(|p| p.scheduler().as_ref()) else {
        return Ok(());
    };
    let policy = *s.policy();
    if let Some(nice) = *s.nice() {
        if !(-20..=19).contains(&nice) {
            return Err(SpecError::invalid(
                "process.scheduler.nice",
                format!("{nice} is outside -20..=19"),
            ));
        }
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = matches!(
        policy,
        LinuxSchedulerPolicy::SchedFifo | LinuxSchedulerPolicy::SchedRr
    );
    if realtime && !(1..=99).contains(&priority) {
        return Err(SpecError::invalid(
            "process.scheduler.priority",
            format!("{priority} is outside 1..=99, the range of SCHED_FIFO and SCHED_RR"),
        ));
    }
    if !realtime && priority != 0 {
        return Err(SpecError::invalid(
            "process.scheduler.priority",
            "only SCHED_FIFO and SCHED_RR take a priority",
        ));
    }
    let runtime = s.runtime().unwrap_or(0);
    let deadline = s.deadline().unwrap_or(0);
    let period = s.period().unwrap_or(0);
    if policy != LinuxSchedulerPolicy::SchedDeadline {
        if runtime != 0 || deadline != 0 || period != 0 {
            return Err(SpecError::invalid(
                "process.scheduler",
                "runtime, deadline and period are only for SCHED_DEADLINE",
            ));
        }
        return Ok(());
    }
    // The kernel's __checkparam_dl: 1024 ns <= runtime <= deadline <= period (if set),
    // and no value with bit 63 set.
    const TOP_BIT: u64 = 1 << 63;
    for (name, v) in [
        ("runtime", runtime),
        ("deadline", deadline),
        ("period", period),
    ] {
        if v & TOP_BIT != 0 {
            return Err(SpecError::invalid(
                format!("process.scheduler.{name}"),
                format!("{v} is too large"),
            ));
        }
    }
    if runtime < 1024 {
        return Err(SpecError::invalid(
            "process.scheduler.runtime",
            format!("{runtime} ns is less than the 1024 ns SCHED_DEADLINE needs"),
        ));
    }
    if deadline < runtime {
        return Err(SpecError::invalid(
            "process.scheduler.deadline",
            format!("{deadline} is less than runtime {runtime}"),
        ));
    }
    if period != 0 && period < deadline {
        return Err(SpecError::invalid(
            "process.scheduler.period",
            format!("{period} is less than deadline {deadline}"),
        ));
    }
    Ok(())
}

/// Highest CPU number a cpu list may name (the kernel's largest NR_CPUS).
pub const MAX_CPU: u32 = 8191;

/// Parse a cpu list such as "0-3,7" into inclusive ranges. Empty input is an error
/// (callers treat an absent list as "do not change").
pub fn parse_cpu_list(s: &str) -> Result<Vec<(u32, u32)>, String> {
    let mut ranges = Vec::new();
    for part in s.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (cpu_number(a, s)?, cpu_number(b, s)?),
            None => {
                let n = cpu_number(part, s)?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(format!("{s:?}: range {part:?} goes backwards"));
        }
        ranges.push((lo, hi));
    }
    Ok(ranges)
}

fn cpu_number(text: &str, whole: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{whole:?} is not a cpu list like \"0-3,7\" ({text:?} is not a cpu number)"
        ));
    }
    match text.parse::<u32>() {
        Ok(n) if n <= MAX_CPU => Ok(n),
        _ => Err(format!("{whole:?}: cpu {text} is more than {MAX_CPU}")),
    }
}

fn process_exec_cpu_affinity(spec: &Spec) -> Result<(), SpecError> {
    let Some(a) = spec
        .process()
        .as_ref()
        .and_then(|p| p.exec_cpu_affinity().as_ref())
    else {
        return Ok(());
    };
    for (name, list) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
        if let Some(list) = list {
            // Empty means "leave the affinity alone" (config.md).
            if !list.is_empty() {
                parse_cpu_list(list).map_err(|r| {
                    SpecError::invalid(format!("process.execCPUAffinity.{name}"), r)
                })?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- namespaces

fn namespaces(spec: &Spec) -> Result<(), SpecError> {
    let Some(list) = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()) else {
        return Ok(());
    };
    for (i, ns) in list.iter().enumerate() {
        // At most 8 distinct types exist, so this scan stays short.
        if let Some(j) = list[..i].iter().position(|o| o.typ() == ns.typ()) {
            return Err(SpecError::invalid(
                format!("linux.namespaces[{i}].type"),
                format!(
                    "duplicate namespace \"{}\" (also at linux.namespaces[{j}])",
                    namespace_name(ns.typ())
                ),
            ));
        }
        if let Some(p) = ns.path() {
            absolute_path(&format!("linux.namespaces[{i}].path"), p)?;
        }
    }
    Ok(())
}

/// The kernel takes at most this many lines in uid_map/gid_map (since Linux 4.15).
pub const MAX_ID_MAPPINGS: usize = 340;

fn id_mappings(field: &str, maps: &[LinuxIdMapping]) -> Result<(), SpecError> {
    if maps.len() > MAX_ID_MAPPINGS {
        return Err(SpecError::invalid(
            field,
            format!(
                "{} entries, more than the kernel's {MAX_ID_MAPPINGS}",
                maps.len()
            ),
        ));
    }
    let end = |start: u32, size: u32| u64::from(start) + u64::from(size);
    for (i, m) in maps.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if m.size() == 0 {
            return Err(SpecError::invalid(
                format!("{f}.size"),
                "must be more than 0",
            ));
        }
        if end(m.container_id(), m.size()) > 1 << 32 || end(m.host_id(), m.size()) > 1 << 32 {
            return Err(SpecError::invalid(
                format!("{f}.size"),
                "the range goes past the largest id (4294967295)",
            ));
        }
        for (j, o) in maps[..i].iter().enumerate() {
            let overlap =
                |a: u32, b: u32| u64::from(a) < end(b, o.size()) && u64::from(b) < end(a, m.size());
            if overlap(m.container_id(), o.container_id()) {
                return Err(SpecError::invalid(
                    format!("{f}.containerID"),
                    format!("range overlaps {field}[{j}]"),
                ));
            }
            if overlap(m.host_id(), o.host_id()) {
                return Err(SpecError::invalid(
                    format!("{f}.hostID"),
                    format!("range overlaps {field}[{j}]"),
                ));
            }
        }
    }
    Ok(())
}

fn user_namespace_mappings(spec: &Spec) -> Result<(), SpecError> {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().as_deref())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().as_deref())
        .unwrap_or_default();
    match ns_mode(spec, LinuxNamespaceType::User) {
        NsMode::Host => {
            if !uid.is_empty() {
                return Err(SpecError::invalid(
                    "linux.uidMappings",
                    "mappings need a user namespace, and linux.namespaces has no \"user\" entry",
                ));
            }
            if !gid.is_empty() {
                return Err(SpecError::invalid(
                    "linux.gidMappings",
                    "mappings need a user namespace, and linux.namespaces has no \"user\" entry",
                ));
            }
        }
        NsMode::New => {
            if uid.is_empty() {
                return Err(SpecError::invalid(
                    "linux.uidMappings",
                    "required with a new user namespace",
                ));
            }
            if gid.is_empty() {
                return Err(SpecError::invalid(
                    "linux.gidMappings",
                    "required with a new user namespace",
                ));
            }
        }
        // containerd and CRI-O send the mappings of a joined namespace too; whether they
        // match it is for the runtime to check.
        NsMode::Join(_) => {}
    }
    id_mappings("linux.uidMappings", uid)?;
    id_mappings("linux.gidMappings", gid)
}

fn time_offsets(spec: &Spec) -> Result<(), SpecError> {
    let Some(offsets) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    if offsets.is_empty() {
        return Ok(());
    }
    if ns_mode(spec, LinuxNamespaceType::Time) != NsMode::New {
        return Err(SpecError::invalid(
            "linux.timeOffsets",
            "offsets need a new time namespace (a \"time\" entry without path in linux.namespaces)",
        ));
    }
    let mut clocks: Vec<&String> = offsets.keys().collect();
    clocks.sort();
    for clock in clocks {
        let field = format!("linux.timeOffsets[{clock:?}]");
        if clock != "monotonic" && clock != "boottime" {
            return Err(SpecError::invalid(
                field,
                "only the \"monotonic\" and \"boottime\" clocks have offsets",
            ));
        }
        if let Some(ns) = offsets.get(clock).and_then(|o| o.nanosecs()) {
            if ns >= 1_000_000_000 {
                return Err(SpecError::invalid(
                    format!("{field}.nanosecs"),
                    format!("{ns} is not less than 1000000000"),
                ));
            }
        }
    }
    Ok(())
}

/// HOST_NAME_MAX (and the kernel's limit for the NIS domain name).
const MAX_UTS_NAME: usize = 64;

fn uts_names(spec: &Spec) -> Result<(), SpecError> {
    for (field, value) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        let Some(name) = value.as_deref().filter(|n| !n.is_empty()) else {
            continue;
        };
        if !has_ns(spec, LinuxNamespaceType::Uts) {
            return Err(SpecError::invalid(
                field,
                "setting it needs a uts namespace, and linux.namespaces has no \"uts\" entry",
            ));
        }
        no_nul_str(field, name)?;
        if name.len() > MAX_UTS_NAME {
            return Err(SpecError::invalid(
                field,
                format!("{} bytes, more than {MAX_UTS_NAME}", name.len()),
            ));
        }
    }
    Ok(())
}

/// Mounting, masking and a read-only root change the mount table; without a mount
/// namespace of its own that table is the host's.
fn mount_namespace_needed(spec: &Spec) -> Result<(), SpecError> {
    if has_ns(spec, LinuxNamespaceType::Mount) {
        return Ok(());
    }
    let linux = spec.linux().as_ref();
    let nonempty = |v: Option<&Vec<String>>| v.is_some_and(|v| !v.is_empty());
    let field = if spec.mounts().as_ref().is_some_and(|m| !m.is_empty()) {
        "mounts"
    } else if nonempty(linux.and_then(|l| l.masked_paths().as_ref())) {
        "linux.maskedPaths"
    } else if nonempty(linux.and_then(|l| l.readonly_paths().as_ref())) {
        "linux.readonlyPaths"
    } else if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        "root.readonly"
    } else {
        return Ok(());
    };
    Err(SpecError::invalid(
        field,
        "needs a mount namespace, and linux.namespaces has no \"mount\" entry",
    ))
}

// ---------------------------------------------------------------- sysctl

/// Which namespaces the container does not share with the runtime: an entry in
/// `linux.namespaces`, new or joined by path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SysctlNamespaces {
    pub ipc: bool,
    pub net: bool,
    pub uts: bool,
}

impl SysctlNamespaces {
    pub fn of(spec: &Spec) -> Self {
        SysctlNamespaces {
            ipc: has_ns(spec, LinuxNamespaceType::Ipc),
            net: has_ns(spec, LinuxNamespaceType::Network),
            uts: has_ns(spec, LinuxNamespaceType::Uts),
        }
    }
}

/// The System V IPC sysctls that the ipc namespace owns.
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// A sysctl key in dotted form. sysctl(8) also takes '/' as the separator when the
/// key's first separator is '/'; then '.' and '/' swap roles ("net/ipv4/conf/eno2.100/rp_filter"
/// is "net.ipv4.conf.eno2/100.rp_filter").
pub fn sysctl_dotted(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes().get(i) == Some(&b'/') => key
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect(),
        _ => key.to_string(),
    }
}

/// The file under /proc/sys for a sysctl key ("net.ipv4.ip_forward" ->
/// "net/ipv4/ip_forward"). Refuses keys whose file would not be a plain descendant of
/// /proc/sys: empty components, "." or "..", NUL, whitespace or control characters.
pub fn sysctl_proc_path(key: &str) -> Result<String, String> {
    let dotted = sysctl_dotted(key);
    let mut parts = Vec::new();
    for comp in dotted.split('.') {
        let file = comp.replace('/', ".");
        if file.is_empty() || file == "." || file == ".." {
            return Err(format!("{key:?} is not a valid sysctl name"));
        }
        if file.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{key:?} contains whitespace or a control character"
            ));
        }
        parts.push(file);
    }
    Ok(parts.join("/"))
}

/// Whether sysctl `key` may be set in a container with namespaces `ns`: only sysctls that
/// belong to a namespace the container has of its own (SECURITY.md attack 19; CRI-O
/// CVE-2022-0811). Returns the dotted form of the key.
pub fn sysctl_allowed(key: &str, ns: SysctlNamespaces) -> Result<String, String> {
    sysctl_proc_path(key)?;
    let k = sysctl_dotted(key);
    if IPC_SYSCTLS.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
        if ns.ipc {
            return Ok(k);
        }
        return Err(format!(
            "sysctl {k:?} is not allowed in the host's ipc namespace (linux.namespaces has no \"ipc\" entry)"
        ));
    }
    if k.starts_with("net.") {
        if ns.net {
            return Ok(k);
        }
        return Err(format!(
            "sysctl {k:?} is not allowed in the host's network namespace (linux.namespaces has no \"network\" entry)"
        ));
    }
    if k == "kernel.hostname" || k == "kernel.domainname" {
        if ns.uts {
            return Ok(k);
        }
        return Err(format!(
            "sysctl {k:?} is not allowed in the host's uts namespace (linux.namespaces has no \"uts\" entry)"
        ));
    }
    Err(format!(
        "sysctl {k:?} is not namespaced: setting it would change the host"
    ))
}

/// A sysctl value is written as is; a newline would start a second write.
pub fn sysctl_value_ok(value: &str) -> Result<(), String> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(format!(
            "value {value:?} contains a newline, carriage return or NUL"
        ));
    }
    Ok(())
}

fn sysctl(spec: &Spec) -> Result<(), SpecError> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let ns = SysctlNamespaces::of(spec);
    let hostname_set = spec.hostname().as_deref().is_some_and(|h| !h.is_empty());
    // Sorted, so that the error for a config is always the same one.
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let mut seen: HashSet<String> = HashSet::new();
    for key in keys {
        let field = format!("linux.sysctl[{key:?}]");
        let dotted = sysctl_allowed(key, ns).map_err(|r| SpecError::invalid(&field, r))?;
        if dotted == "kernel.hostname" && hostname_set {
            return Err(SpecError::invalid(
                field,
                "conflicts with the \"hostname\" field; set only one",
            ));
        }
        if let Some(value) = map.get(key) {
            sysctl_value_ok(value).map_err(|r| SpecError::invalid(&field, r))?;
        }
        if !seen.insert(dotted.clone()) {
            return Err(SpecError::invalid(
                field,
                format!("names the same sysctl as another key ({dotted:?})"),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- devices

/// Largest major and minor numbers a dev_t holds (MKDEV: 12 and 20 bits).
const MAX_MAJOR: i64 = (1 << 12) - 1;
const MAX_MINOR: i64 = (1 << 20) - 1;

fn devices(spec: &Spec) -> Result<(), SpecError> {
    let Some(list) = spec.linux().as_ref().and_then(|l| l.devices().as_ref()) else {
        return Ok(());
    };
    for (i, d) in list.iter().enumerate() {
        let f = format!("linux.devices[{i}]");
        absolute_path(&format!("{f}.path"), d.path())?;
        let type_bits = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(SpecError::invalid(
                    format!("{f}.type"),
                    "\"a\" is only for linux.resources.devices; a device is c, b, u or p",
                ))
            }
        };
        if d.typ() != LinuxDeviceType::P {
            if !(0..=MAX_MAJOR).contains(&d.major()) {
                return Err(SpecError::invalid(
                    format!("{f}.major"),
                    format!("{} is outside 0..={MAX_MAJOR}", d.major()),
                ));
            }
            if !(0..=MAX_MINOR).contains(&d.minor()) {
                return Err(SpecError::invalid(
                    format!("{f}.minor"),
                    format!("{} is outside 0..={MAX_MINOR}", d.minor()),
                ));
            }
        }
        if let Some(mode) = d.file_mode() {
            // Permission bits, optionally with the file type bits of this very type
            // (some engines send st_mode); runc strips S_IFMT the same way.
            let fmt = mode & libc::S_IFMT;
            if mode & !(libc::S_IFMT | 0o7777) != 0 || (fmt != 0 && fmt != type_bits) {
                return Err(SpecError::invalid(
                    format!("{f}.fileMode"),
                    format!(
                        "{mode} ({mode:#o}) is not a permission mode for a \"{}\" device",
                        d.typ().as_str()
                    ),
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- mounts

fn mount_entries(spec: &Spec) -> Result<(), SpecError> {
    let Some(list) = spec.mounts().as_ref() else {
        return Ok(());
    };
    for (i, m) in list.iter().enumerate() {
        let f = format!("mounts[{i}]");
        let dest = m.destination();
        if dest.as_os_str().is_empty() {
            return Err(SpecError::invalid(
                format!("{f}.destination"),
                "must not be empty",
            ));
        }
        if has_nul(dest) {
            return Err(SpecError::invalid(
                format!("{f}.destination"),
                "must not contain a NUL byte",
            ));
        }
        if let Some(t) = m.typ() {
            no_nul_str(&format!("{f}.type"), t)?;
        }
        if let Some(src) = m.source() {
            if has_nul(src) {
                return Err(SpecError::invalid(
                    format!("{f}.source"),
                    "must not contain a NUL byte",
                ));
            }
        }
        let options = m.options().as_deref().unwrap_or_default();
        let parsed = mounts::parse_options(options)
            .map_err(|(j, reason)| SpecError::invalid(format!("{f}.options[{j}]"), reason))?;
        if parsed.bind && m.source().as_ref().is_none_or(|s| s.as_os_str().is_empty()) {
            return Err(SpecError::invalid(
                format!("{f}.source"),
                "required for a bind mount",
            ));
        }
        let uid = m.uid_mappings().as_ref().is_some_and(|v| !v.is_empty());
        let gid = m.gid_mappings().as_ref().is_some_and(|v| !v.is_empty());
        if uid != gid {
            let (given, missing) = if uid {
                ("uidMappings", "gidMappings")
            } else {
                ("gidMappings", "uidMappings")
            };
            return Err(SpecError::invalid(
                format!("{f}.{missing}"),
                format!("required together with {given}"),
            ));
        }
        if uid {
            return Err(SpecError::invalid(
                format!("{f}.uidMappings"),
                "id-mapped mounts are not supported",
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- hooks

fn hook_list(kind: &str, list: &Option<Vec<Hook>>) -> Result<(), SpecError> {
    for (i, h) in list.iter().flatten().enumerate() {
        let f = format!("hooks.{kind}[{i}]");
        absolute_path(&format!("{f}.path"), h.path())?;
        if let Some(t) = h.timeout() {
            if t <= 0 {
                return Err(SpecError::invalid(
                    format!("{f}.timeout"),
                    format!("{t} is not more than 0"),
                ));
            }
        }
        for (j, a) in h.args().iter().flatten().enumerate() {
            no_nul_str(&format!("{f}.args[{j}]"), a)?;
        }
        for (j, e) in h.env().iter().flatten().enumerate() {
            env_entry(&format!("{f}.env[{j}]"), e)?;
        }
    }
    Ok(())
}

#[allow(deprecated)] // prestart is deprecated in the spec, and still sent by Docker.
fn hooks(spec: &Spec) -> Result<(), SpecError> {
    let Some(h) = spec.hooks().as_ref() else {
        return Ok(());
    };
    hook_list("prestart", h.prestart())?;
    hook_list("createRuntime", h.create_runtime())?;
    hook_list("createContainer", h.create_container())?;
    hook_list("startContainer", h.start_container())?;
    hook_list("poststart", h.poststart())?;
    hook_list("poststop", h.poststop())
}

// ---------------------------------------------------------------- linux

/// SECURITY.md attack 18: a `..` component would leave the cgroup tree the runtime
/// manages. Both the path form and systemd's "slice:prefix:name" form are covered.
fn cgroups_path(spec: &Spec) -> Result<(), SpecError> {
    let Some(p) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
    else {
        return Ok(());
    };
    if has_nul(p) {
        return Err(SpecError::invalid(
            "linux.cgroupsPath",
            "must not contain a NUL byte",
        ));
    }
    let bytes = p.as_os_str().as_bytes();
    if bytes.split(|&b| b == b'/' || b == b':').any(|c| c == b"..") {
        return Err(SpecError::invalid(
            "linux.cgroupsPath",
            format!("{:?} has a \"..\" component", p.display().to_string()),
        ));
    }
    Ok(())
}

fn rootfs_propagation(spec: &Spec) -> Result<(), SpecError> {
    let Some(p) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_ref())
    else {
        return Ok(());
    };
    if mounts::propagation_flags(p).is_none() {
        return Err(SpecError::invalid(
            "linux.rootfsPropagation",
            format!(
                "unknown propagation {p:?} (expected private, rprivate, slave, rslave, shared, rshared, unbindable or runbindable)"
            ),
        ));
    }
    Ok(())
}

fn masked_and_readonly_paths(spec: &Spec) -> Result<(), SpecError> {
    let Some(linux) = spec.linux().as_ref() else {
        return Ok(());
    };
    for (field, list) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, p) in list.iter().flatten().enumerate() {
            absolute_path(&format!("{field}[{i}]"), Path::new(p))?;
        }
    }
    Ok(())
}

fn personality(spec: &Spec) -> Result<(), SpecError> {
    // The domain is LINUX or LINUX32, or the config does not parse.
    let flags = spec
        .linux()
        .as_ref()
        .and_then(|l| l.personality().as_ref())
        .and_then(|p| p.flags().as_ref());
    if flags.is_some_and(|f| !f.is_empty()) {
        return Err(SpecError::invalid(
            "linux.personality.flags",
            "no personality flags are supported",
        ));
    }
    Ok(())
}

fn intel_rdt(spec: &Spec) -> Result<(), SpecError> {
    if spec
        .linux()
        .as_ref()
        .is_some_and(|l| l.intel_rdt().is_some())
    {
        return Err(SpecError::invalid(
            "linux.intelRdt",
            "Intel RDT is not supported by berth",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod seccomp_tests {
    use super::*;

    fn with_seccomp(sc: serde_json::Value) -> Spec {
        let mut v = serde_json::json!({"ociVersion":"1.3.0","root":{"path":"rootfs"},
            "process":{"cwd":"/","args":["a"],"user":{"uid":0,"gid":0}},
            "linux":{"namespaces":[{"type":"mount"}]}});
        v["linux"]["seccomp"] = sc;
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn errno_ret_needs_an_errno_action() {
        let ok = with_seccomp(
            serde_json::json!({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
            "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}),
        );
        assert!(seccomp_errno_ret(&ok).is_ok());
        let bad = with_seccomp(serde_json::json!({"defaultAction":"SCMP_ACT_ALLOW",
            "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_KILL","errnoRet":1}]}));
        let e = seccomp_errno_ret(&bad).unwrap_err().to_string();
        assert!(e.contains("linux.seccomp.syscalls[0].errnoRet"), "{e}");
        let bad =
            with_seccomp(serde_json::json!({"defaultAction":"SCMP_ACT_KILL","defaultErrnoRet":1}));
        let e = seccomp_errno_ret(&bad).unwrap_err().to_string();
        assert!(e.contains("linux.seccomp.defaultErrnoRet"), "{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A config every rule accepts; each test breaks one thing.
    fn base() -> Value {
        json!({
            "ociVersion": "1.3.0",
            "root": {"path": "rootfs", "readonly": true},
            "process": {
                "user": {"uid": 0, "gid": 0},
                "args": ["sh"],
                "env": ["PATH=/bin", "TERM=xterm"],
                "cwd": "/",
                "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}]
            },
            "hostname": "berth",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
            ],
            "linux": {
                "namespaces": [
                    {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                    {"type": "uts"}, {"type": "mount"}
                ],
                "maskedPaths": ["/proc/kcore"],
                "readonlyPaths": ["/proc/sys"]
            }
        })
    }

    fn spec_of(v: &Value) -> Spec {
        match serde_json::from_value(v.clone()) {
            Ok(s) => s,
            Err(e) => panic!("test config does not parse: {e}"),
        }
    }

    fn check(v: &Value) -> Result<(), SpecError> {
        validate(&spec_of(v))
    }

    /// The field of the error `v` gives; panics if `v` is accepted.
    fn failing_field(v: &Value) -> String {
        match check(v) {
            Ok(()) => panic!("accepted: {v:#}"),
            Err(SpecError::Invalid { field, .. }) => field,
            Err(e) => panic!("unexpected error kind: {e}"),
        }
    }

    fn with(mut v: Value, pointer: &str, new: Value) -> Value {
        match v.pointer_mut(pointer) {
            Some(slot) => *slot = new,
            None => {
                // Add a key to an existing object.
                let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
                match v.pointer_mut(parent).and_then(|p| p.as_object_mut()) {
                    Some(obj) => {
                        obj.insert(key.to_string(), new);
                    }
                    None => panic!("no {parent} in test config"),
                }
            }
        }
        v
    }

    fn without(mut v: Value, pointer: &str) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        if let Some(obj) = v.pointer_mut(parent).and_then(|p| p.as_object_mut()) {
            obj.remove(key);
        }
        v
    }

    fn namespaces_of(types: &[&str]) -> Value {
        Value::Array(types.iter().map(|t| json!({"type": t})).collect())
    }

    #[test]
    fn base_is_valid() {
        if let Err(e) = check(&base()) {
            panic!("{e}");
        }
    }

    #[test]
    fn root_required_and_non_empty() {
        assert_eq!(failing_field(&without(base(), "/root")), "root");
        assert_eq!(
            failing_field(&with(base(), "/root/path", json!(""))),
            "root.path"
        );
    }

    #[test]
    fn process_required() {
        assert_eq!(failing_field(&without(base(), "/process")), "process");
    }

    #[test]
    fn process_args_non_empty() {
        assert_eq!(
            failing_field(&without(base(), "/process/args")),
            "process.args"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/args", json!([]))),
            "process.args"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/args", json!([""]))),
            "process.args[0]"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/args", json!(["sh", "a\u{0}b"]))),
            "process.args[1]"
        );
    }

    #[test]
    fn process_cwd_absolute() {
        assert_eq!(
            failing_field(&with(base(), "/process/cwd", json!("tmp"))),
            "process.cwd"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/cwd", json!(""))),
            "process.cwd"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/cwd", json!("/a\u{0}"))),
            "process.cwd"
        );
    }

    #[test]
    fn process_env_entries() {
        for bad in ["NOEQUALS", "=value", "A=b\u{0}c"] {
            assert_eq!(
                failing_field(&with(base(), "/process/env", json!(["PATH=/bin", bad]))),
                "process.env[1]",
                "{bad:?}"
            );
        }
        // An empty value is fine, and env may be absent (containerd).
        assert!(check(&with(base(), "/process/env", json!(["A="]))).is_ok());
        assert!(check(&without(base(), "/process/env")).is_ok());
    }

    #[test]
    fn process_user_umask() {
        let v = with(base(), "/process/user/umask", json!(0o1000));
        assert_eq!(failing_field(&v), "process.user.umask");
        assert!(check(&with(base(), "/process/user/umask", json!(0o22))).is_ok());
    }

    #[test]
    fn rlimits_no_duplicates() {
        let v = with(
            base(),
            "/process/rlimits",
            json!([
                {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
                {"type": "RLIMIT_CORE", "soft": 1, "hard": 1},
                {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}
            ]),
        );
        assert_eq!(failing_field(&v), "process.rlimits[2].type");
    }

    #[test]
    fn rlimits_soft_not_above_hard() {
        let v = with(
            base(),
            "/process/rlimits",
            json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]),
        );
        assert_eq!(failing_field(&v), "process.rlimits[0].soft");
    }

    #[test]
    fn oom_score_adj_range() {
        for bad in [-1001, 1001] {
            let v = with(base(), "/process/oomScoreAdj", json!(bad));
            assert_eq!(failing_field(&v), "process.oomScoreAdj");
        }
        for good in [-1000, 0, 1000] {
            assert!(check(&with(base(), "/process/oomScoreAdj", json!(good))).is_ok());
        }
    }

    #[test]
    fn io_priority_range() {
        let io = |p: i64| json!({"class": "IOPRIO_CLASS_BE", "priority": p});
        assert_eq!(
            failing_field(&with(base(), "/process/ioPriority", io(8))),
            "process.ioPriority.priority"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/ioPriority", io(-1))),
            "process.ioPriority.priority"
        );
        assert!(check(&with(base(), "/process/ioPriority", io(7))).is_ok());
    }

    #[test]
    fn scheduler_nice_range() {
        let s = |n: i32| json!({"policy": "SCHED_OTHER", "nice": n});
        assert_eq!(
            failing_field(&with(base(), "/process/scheduler", s(20))),
            "process.scheduler.nice"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/scheduler", s(-21))),
            "process.scheduler.nice"
        );
        assert!(check(&with(base(), "/process/scheduler", s(-20))).is_ok());
    }

    #[test]
    fn scheduler_priority_only_for_realtime_and_in_range() {
        let s = |policy: &str, p: i32| json!({"policy": policy, "priority": p});
        for (policy, p) in [("SCHED_FIFO", 0), ("SCHED_RR", 100), ("SCHED_OTHER", 5)] {
            assert_eq!(
                failing_field(&with(base(), "/process/scheduler", s(policy, p))),
                "process.scheduler.priority",
                "{policy} {p}"
            );
        }
        assert!(check(&with(base(), "/process/scheduler", s("SCHED_FIFO", 99))).is_ok());
        assert!(check(&with(base(), "/process/scheduler", s("SCHED_RR", 1))).is_ok());
    }

    #[test]
    fn scheduler_deadline_fields() {
        let dl = |r: u64, d: u64, p: u64| json!({"policy": "SCHED_DEADLINE", "runtime": r, "deadline": d, "period": p});
        let other = json!({"policy": "SCHED_BATCH", "runtime": 10000});
        assert_eq!(
            failing_field(&with(base(), "/process/scheduler", other)),
            "process.scheduler"
        );
        let cases = [
            (dl(100, 1000, 1000), "process.scheduler.runtime"),
            (dl(20000, 10000, 30000), "process.scheduler.deadline"),
            (dl(10000, 20000, 15000), "process.scheduler.period"),
            (dl(10000, 1 << 63, 0), "process.scheduler.deadline"),
        ];
        for (s, field) in cases {
            assert_eq!(failing_field(&with(base(), "/process/scheduler", s)), field);
        }
        assert!(check(&with(base(), "/process/scheduler", dl(10000, 20000, 30000))).is_ok());
        assert!(check(&with(base(), "/process/scheduler", dl(10000, 20000, 0))).is_ok());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,7"), Ok(vec![(0, 3), (7, 7)]));
        assert_eq!(parse_cpu_list("5"), Ok(vec![(5, 5)]));
        for bad in ["3-1", "", "1,,2", "a", "1-", "-1", "9000", "0-99999999999"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exec_cpu_affinity_ranges() {
        // oci-spec checks the syntax while parsing; the order and size are ours.
        let v = with(
            base(),
            "/process/execCPUAffinity",
            json!({"initial": "0-1", "final": "3-1"}),
        );
        assert_eq!(failing_field(&v), "process.execCPUAffinity.final");
        let v = with(
            base(),
            "/process/execCPUAffinity",
            json!({"initial": "10000"}),
        );
        assert_eq!(failing_field(&v), "process.execCPUAffinity.initial");
        let v = with(
            base(),
            "/process/execCPUAffinity",
            json!({"initial": "7", "final": "0-3,7"}),
        );
        assert!(check(&v).is_ok());
    }

    #[test]
    fn namespaces_no_duplicates() {
        let v = with(
            base(),
            "/linux/namespaces",
            namespaces_of(&["pid", "mount", "uts", "pid"]),
        );
        assert_eq!(failing_field(&v), "linux.namespaces[3].type");
    }

    #[test]
    fn namespace_path_absolute() {
        let mut ns = namespaces_of(&["pid", "network", "ipc", "uts", "mount"]);
        ns[1] = json!({"type": "network", "path": "run/netns/x"});
        let v = with(base(), "/linux/namespaces", ns.clone());
        assert_eq!(failing_field(&v), "linux.namespaces[1].path");
        ns[1] = json!({"type": "network", "path": ""});
        let v = with(base(), "/linux/namespaces", ns.clone());
        assert_eq!(failing_field(&v), "linux.namespaces[1].path");
        ns[1] = json!({"type": "network", "path": "/run/netns/x"});
        assert!(check(&with(base(), "/linux/namespaces", ns)).is_ok());
    }

    fn userns_base() -> Value {
        let v = with(
            base(),
            "/linux/namespaces",
            namespaces_of(&["pid", "network", "ipc", "uts", "mount", "user"]),
        );
        let v = with(
            v,
            "/linux/uidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        );
        with(
            v,
            "/linux/gidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        )
    }

    #[test]
    fn user_namespace_with_mappings_is_valid() {
        if let Err(e) = check(&userns_base()) {
            panic!("{e}");
        }
    }

    #[test]
    fn mappings_without_user_namespace() {
        let v = with(
            userns_base(),
            "/linux/namespaces",
            namespaces_of(&["pid", "mount", "uts"]),
        );
        assert_eq!(failing_field(&v), "linux.uidMappings");
        let v = without(v, "/linux/uidMappings");
        assert_eq!(failing_field(&v), "linux.gidMappings");
    }

    #[test]
    fn new_user_namespace_needs_both_mappings() {
        assert_eq!(
            failing_field(&without(userns_base(), "/linux/uidMappings")),
            "linux.uidMappings"
        );
        assert_eq!(
            failing_field(&with(userns_base(), "/linux/gidMappings", json!([]))),
            "linux.gidMappings"
        );
    }

    #[test]
    fn joined_user_namespace_needs_no_mappings() {
        let mut ns = namespaces_of(&["pid", "network", "ipc", "uts", "mount"]);
        if let Some(a) = ns.as_array_mut() {
            a.push(json!({"type": "user", "path": "/proc/1/ns/user"}));
        }
        let v = with(base(), "/linux/namespaces", ns);
        assert!(check(&v).is_ok());
    }

    #[test]
    fn mapping_sizes_and_ranges() {
        let m = |c: u32, h: u32, s: u32| json!({"containerID": c, "hostID": h, "size": s});
        let cases = [
            (json!([m(0, 1000, 0)]), "linux.uidMappings[0].size"),
            (json!([m(1, 1000, u32::MAX)]), "linux.uidMappings[0].size"),
            (json!([m(0, u32::MAX, 2)]), "linux.uidMappings[0].size"),
            (
                json!([m(0, 1000, 10), m(5, 5000, 10)]),
                "linux.uidMappings[1].containerID",
            ),
            (
                json!([m(0, 1000, 10), m(100, 1005, 10)]),
                "linux.uidMappings[1].hostID",
            ),
        ];
        for (maps, field) in cases {
            let v = with(userns_base(), "/linux/uidMappings", maps);
            assert_eq!(failing_field(&v), field);
        }
        let ok = json!([m(0, 1000, 1), m(1, 100000, 65536)]);
        assert!(check(&with(userns_base(), "/linux/uidMappings", ok)).is_ok());
        let too_many: Vec<Value> = (0..341).map(|i| m(i, 1000 + i, 1)).collect();
        let v = with(userns_base(), "/linux/uidMappings", Value::Array(too_many));
        assert_eq!(failing_field(&v), "linux.uidMappings");
    }

    #[test]
    fn time_offsets_need_a_new_time_namespace() {
        let offsets = json!({"monotonic": {"secs": 10}});
        let v = with(base(), "/linux/timeOffsets", offsets.clone());
        assert_eq!(failing_field(&v), "linux.timeOffsets");
        let mut ns = namespaces_of(&["pid", "network", "ipc", "uts", "mount"]);
        if let Some(a) = ns.as_array_mut() {
            a.push(json!({"type": "time", "path": "/proc/1/ns/time"}));
        }
        let joined = with(v.clone(), "/linux/namespaces", ns);
        assert_eq!(failing_field(&joined), "linux.timeOffsets");
        let v = with(
            v,
            "/linux/namespaces",
            namespaces_of(&["pid", "network", "ipc", "uts", "mount", "time"]),
        );
        assert!(check(&v).is_ok());
        let bad_clock = with(
            v.clone(),
            "/linux/timeOffsets",
            json!({"realtime": {"secs": 1}}),
        );
        assert_eq!(failing_field(&bad_clock), "linux.timeOffsets[\"realtime\"]");
        let bad_ns = with(
            v,
            "/linux/timeOffsets",
            json!({"boottime": {"secs": 1, "nanosecs": 1_000_000_000u32}}),
        );
        assert_eq!(
            failing_field(&bad_ns),
            "linux.timeOffsets[\"boottime\"].nanosecs"
        );
    }

    #[test]
    fn hostname_and_domainname_need_uts() {
        let no_uts = with(
            base(),
            "/linux/namespaces",
            namespaces_of(&["pid", "network", "ipc", "mount"]),
        );
        assert_eq!(failing_field(&no_uts), "hostname");
        let v = with(
            without(no_uts.clone(), "/hostname"),
            "/domainname",
            json!("x"),
        );
        assert_eq!(failing_field(&v), "domainname");
        // "" is unset.
        assert!(check(&with(no_uts, "/hostname", json!(""))).is_ok());
        let long = "h".repeat(65);
        assert_eq!(
            failing_field(&with(base(), "/hostname", json!(long))),
            "hostname"
        );
    }

    #[test]
    fn mount_namespace_needed_for_mounts_masks_and_readonly_root() {
        let no_mnt = with(
            base(),
            "/linux/namespaces",
            namespaces_of(&["pid", "network", "ipc", "uts"]),
        );
        assert_eq!(failing_field(&no_mnt), "mounts");
        let v = without(no_mnt, "/mounts");
        assert_eq!(failing_field(&v), "linux.maskedPaths");
        let v = without(v, "/linux/maskedPaths");
        assert_eq!(failing_field(&v), "linux.readonlyPaths");
        let v = without(v, "/linux/readonlyPaths");
        assert_eq!(failing_field(&v), "root.readonly");
        let v = with(v, "/root/readonly", json!(false));
        assert!(check(&v).is_ok());
    }

    fn sysctl_field(key: &str) -> String {
        format!("linux.sysctl[{key:?}]")
    }

    #[test]
    fn sysctl_not_namespaced_rejected() {
        for key in [
            "kernel.core_pattern",
            "vm.overcommit_memory",
            "fs.file-max",
            "kernel.pid_max",
        ] {
            let v = with(base(), "/linux/sysctl", json!({key: "1"}));
            assert_eq!(failing_field(&v), sysctl_field(key));
        }
    }

    #[test]
    fn sysctl_ipc_needs_ipc_namespace() {
        let no_ipc = with(
            base(),
            "/linux/namespaces",
            namespaces_of(&["pid", "network", "uts", "mount"]),
        );
        for key in [
            "kernel.shmmax",
            "kernel.shm_rmid_forced",
            "fs.mqueue.msg_max",
        ] {
            let v = with(no_ipc.clone(), "/linux/sysctl", json!({key: "1"}));
            assert_eq!(failing_field(&v), sysctl_field(key));
            assert!(check(&with(base(), "/linux/sysctl", json!({key: "1"}))).is_ok());
        }
    }

    #[test]
    fn sysctl_net_needs_network_namespace() {
        let key = "net.ipv4.ip_unprivileged_port_start";
        let no_net = with(
            base(),
            "/linux/namespaces",
            namespaces_of(&["pid", "ipc", "uts", "mount"]),
        );
        let v = with(no_net, "/linux/sysctl", json!({key: "0"}));
        assert_eq!(failing_field(&v), sysctl_field(key));
        assert!(check(&with(base(), "/linux/sysctl", json!({key: "0"}))).is_ok());
        // Joined by path (podman's /run/netns/...): allowed, as runc does.
        let mut ns = namespaces_of(&["pid", "ipc", "uts", "mount"]);
        if let Some(a) = ns.as_array_mut() {
            a.push(json!({"type": "network", "path": "/run/netns/netns-1"}));
        }
        let v = with(
            with(base(), "/linux/namespaces", ns),
            "/linux/sysctl",
            json!({"net.ipv4.ping_group_range": "0 0"}),
        );
        assert!(check(&v).is_ok());
    }

    #[test]
    fn sysctl_uts_names() {
        let v = with(
            without(base(), "/hostname"),
            "/linux/sysctl",
            json!({"kernel.domainname": "example"}),
        );
        assert!(check(&v).is_ok());
        let no_uts = with(
            without(v, "/hostname"),
            "/linux/namespaces",
            namespaces_of(&["pid", "network", "ipc", "mount"]),
        );
        assert_eq!(failing_field(&no_uts), sysctl_field("kernel.domainname"));
        // kernel.hostname next to the hostname field: they conflict.
        let v = with(base(), "/linux/sysctl", json!({"kernel.hostname": "x"}));
        assert_eq!(failing_field(&v), sysctl_field("kernel.hostname"));
        assert!(check(&without(v, "/hostname")).is_ok());
    }

    #[test]
    fn sysctl_values_without_newlines() {
        for bad in ["1\nkernel.core_pattern=|/x", "1\r", "1\u{0}"] {
            let v = with(base(), "/linux/sysctl", json!({"kernel.shmmax": bad}));
            assert_eq!(failing_field(&v), sysctl_field("kernel.shmmax"), "{bad:?}");
        }
    }

    #[test]
    fn sysctl_keys_slash_form_and_traversal() {
        assert_eq!(
            sysctl_dotted("net/ipv4/conf/eno2.100/rp_filter"),
            "net.ipv4.conf.eno2/100.rp_filter"
        );
        assert_eq!(
            sysctl_proc_path("net.ipv4.conf.eno2/100.rp_filter").as_deref(),
            Ok("net/ipv4/conf/eno2.100/rp_filter")
        );
        assert_eq!(
            sysctl_proc_path("net/ipv4/ip_forward").as_deref(),
            Ok("net/ipv4/ip_forward")
        );
        // '/' form is normalised before the allow-list: kernel/core_pattern is still refused.
        let v = with(base(), "/linux/sysctl", json!({"kernel/core_pattern": "x"}));
        assert_eq!(failing_field(&v), sysctl_field("kernel/core_pattern"));
        for bad in [
            "net..ipv4",
            "net.ipv4.",
            "net.//.//.x",
            "net./.x",
            "net.ipv4.a b",
            "net",
        ] {
            let v = with(base(), "/linux/sysctl", json!({bad: "1"}));
            assert_eq!(failing_field(&v), sysctl_field(bad), "{bad:?}");
        }
        // Two spellings of one sysctl.
        let v = with(
            base(),
            "/linux/sysctl",
            json!({"net.ipv4.ip_forward": "1", "net/ipv4/ip_forward": "0"}),
        );
        assert_eq!(failing_field(&v), sysctl_field("net/ipv4/ip_forward"));
    }

    #[test]
    fn sysctl_allowed_is_reusable() {
        let all = SysctlNamespaces {
            ipc: true,
            net: true,
            uts: true,
        };
        assert_eq!(
            sysctl_allowed("net/ipv4/ip_forward", all).as_deref(),
            Ok("net.ipv4.ip_forward")
        );
        assert!(sysctl_allowed("net.ipv4.ip_forward", SysctlNamespaces::default()).is_err());
        assert!(sysctl_allowed("kernel.core_pattern", all).is_err());
        assert!(sysctl_allowed("vm.swappiness", all).is_err());
        assert_eq!(
            SysctlNamespaces::of(&spec_of(&base())),
            SysctlNamespaces {
                ipc: true,
                net: true,
                uts: true
            }
        );
    }

    fn device(d: Value) -> Value {
        with(base(), "/linux/devices", json!([d]))
    }

    #[test]
    fn devices() {
        let ok =
            json!({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438});
        assert!(check(&device(ok)).is_ok());
        let st_mode =
            json!({"path": "/dev/sda", "type": "b", "major": 8, "minor": 0, "fileMode": 0o60660});
        assert!(check(&device(st_mode)).is_ok());
        let fifo = json!({"path": "/dev/f", "type": "p"});
        assert!(check(&device(fifo)).is_ok());
        let cases = [
            (
                json!({"path": "dev/fuse", "type": "c", "major": 10, "minor": 229}),
                "linux.devices[0].path",
            ),
            (
                json!({"path": "/dev/x", "type": "a", "major": 1, "minor": 1}),
                "linux.devices[0].type",
            ),
            (
                json!({"path": "/dev/x", "type": "c", "major": -1, "minor": 1}),
                "linux.devices[0].major",
            ),
            (
                json!({"path": "/dev/x", "type": "c", "major": 4096, "minor": 1}),
                "linux.devices[0].major",
            ),
            (
                json!({"path": "/dev/x", "type": "u", "major": 1, "minor": 1_048_576}),
                "linux.devices[0].minor",
            ),
            (
                json!({"path": "/dev/x", "type": "c", "major": 1, "minor": 3, "fileMode": 0o60666}),
                "linux.devices[0].fileMode",
            ),
            (
                json!({"path": "/dev/x", "type": "c", "major": 1, "minor": 3, "fileMode": 0o1000000}),
                "linux.devices[0].fileMode",
            ),
        ];
        for (d, field) in cases {
            assert_eq!(failing_field(&device(d.clone())), field, "{d}");
        }
    }

    fn mount(m: Value) -> Value {
        with(base(), "/mounts", json!([m]))
    }

    #[test]
    fn mount_destination_relative_allowed_but_not_empty() {
        let rel = json!({"destination": "data", "type": "tmpfs", "source": "tmpfs"});
        assert!(check(&mount(rel)).is_ok());
        let empty = json!({"destination": "", "type": "tmpfs", "source": "tmpfs"});
        assert_eq!(failing_field(&mount(empty)), "mounts[0].destination");
        let nul = json!({"destination": "/a\u{0}", "type": "tmpfs"});
        assert_eq!(failing_field(&mount(nul)), "mounts[0].destination");
        let nul = json!({"destination": "/a", "type": "tmp\u{0}fs"});
        assert_eq!(failing_field(&mount(nul)), "mounts[0].type");
        let nul = json!({"destination": "/a", "type": "tmpfs", "source": "x\u{0}"});
        assert_eq!(failing_field(&mount(nul)), "mounts[0].source");
    }

    #[test]
    fn mount_options_errors_name_their_index() {
        let m = json!({"destination": "/x", "type": "none", "source": "/y",
                       "options": ["rbind", "ro", "idmap"]});
        assert_eq!(failing_field(&mount(m)), "mounts[0].options[2]");
        let m = json!({"destination": "/x", "type": "tmpfs", "options": ["mode=1,size=2"]});
        assert_eq!(failing_field(&mount(m)), "mounts[0].options[0]");
    }

    #[test]
    fn bind_mount_needs_source() {
        let m = json!({"destination": "/x", "type": "none", "options": ["rbind"]});
        assert_eq!(failing_field(&mount(m)), "mounts[0].source");
        let m = json!({"destination": "/x", "type": "none", "source": "/y", "options": ["rbind"]});
        assert!(check(&mount(m)).is_ok());
    }

    #[test]
    fn mount_id_mappings() {
        let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        let m =
            json!({"destination": "/x", "source": "/y", "options": ["bind"], "uidMappings": map});
        assert_eq!(failing_field(&mount(m)), "mounts[0].gidMappings");
        let m = json!({"destination": "/x", "source": "/y", "options": ["bind"],
                       "uidMappings": map, "gidMappings": map});
        assert_eq!(failing_field(&mount(m)), "mounts[0].uidMappings");
    }

    #[test]
    fn hooks_path_and_timeout() {
        let v = with(
            base(),
            "/hooks",
            json!({"prestart": [{"path": "/usr/bin/libnetwork-setkey", "args": ["x"]}]}),
        );
        assert!(check(&v).is_ok());
        let cases = [
            (
                json!({"prestart": [{"path": "setkey"}]}),
                "hooks.prestart[0].path",
            ),
            (
                json!({"createRuntime": [{"path": "/a"}, {"path": "b"}]}),
                "hooks.createRuntime[1].path",
            ),
            (
                json!({"poststop": [{"path": "/a", "timeout": 0}]}),
                "hooks.poststop[0].timeout",
            ),
            (
                json!({"poststart": [{"path": "/a", "timeout": -5}]}),
                "hooks.poststart[0].timeout",
            ),
            (
                json!({"startContainer": [{"path": "/a", "env": ["X"]}]}),
                "hooks.startContainer[0].env[0]",
            ),
            (
                json!({"createContainer": [{"path": "/a", "args": ["a\u{0}"]}]}),
                "hooks.createContainer[0].args[0]",
            ),
        ];
        for (h, field) in cases {
            assert_eq!(
                failing_field(&with(base(), "/hooks", h.clone())),
                field,
                "{h}"
            );
        }
    }

    #[test]
    fn cgroups_path_no_dotdot() {
        for bad in [
            "/../x",
            "a/../../b",
            "..",
            "system.slice:..:x",
            "/a/..",
            "/a\u{0}",
        ] {
            let v = with(base(), "/linux/cgroupsPath", json!(bad));
            assert_eq!(failing_field(&v), "linux.cgroupsPath", "{bad:?}");
        }
        for good in [
            "/berth/c1",
            "berth/c1",
            "system.slice:docker:abc",
            "/a..b/c",
        ] {
            assert!(
                check(&with(base(), "/linux/cgroupsPath", json!(good))).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn rootfs_propagation_values() {
        for good in [
            "private",
            "rprivate",
            "slave",
            "rslave",
            "shared",
            "rshared",
            "unbindable",
            "runbindable",
        ] {
            assert!(check(&with(base(), "/linux/rootfsPropagation", json!(good))).is_ok());
        }
        for bad in ["", "rbind", "Private"] {
            let v = with(base(), "/linux/rootfsPropagation", json!(bad));
            assert_eq!(failing_field(&v), "linux.rootfsPropagation", "{bad:?}");
        }
    }

    #[test]
    fn masked_and_readonly_paths_absolute() {
        let v = with(
            base(),
            "/linux/maskedPaths",
            json!(["/proc/kcore", "proc/keys"]),
        );
        assert_eq!(failing_field(&v), "linux.maskedPaths[1]");
        let v = with(base(), "/linux/readonlyPaths", json!(["sys"]));
        assert_eq!(failing_field(&v), "linux.readonlyPaths[0]");
    }

    #[test]
    fn personality_flags_unsupported() {
        let v = with(base(), "/linux/personality", json!({"domain": "LINUX32"}));
        assert!(check(&v).is_ok());
        let v = with(
            base(),
            "/linux/personality",
            json!({"domain": "LINUX", "flags": ["X"]}),
        );
        assert_eq!(failing_field(&v), "linux.personality.flags");
    }

    #[test]
    fn intel_rdt_unsupported() {
        let v = with(base(), "/linux/intelRdt", json!({"closID": "x"}));
        assert_eq!(failing_field(&v), "linux.intelRdt");
    }

    #[test]
    fn ns_mode_reports_each_way() {
        let mut ns = namespaces_of(&["pid"]);
        if let Some(a) = ns.as_array_mut() {
            a.push(json!({"type": "network", "path": "/run/netns/x"}));
        }
        let s = spec_of(&with(base(), "/linux/namespaces", ns));
        assert_eq!(ns_mode(&s, LinuxNamespaceType::Pid), NsMode::New);
        assert_eq!(
            ns_mode(&s, LinuxNamespaceType::Network),
            NsMode::Join(Path::new("/run/netns/x"))
        );
        assert_eq!(ns_mode(&s, LinuxNamespaceType::Ipc), NsMode::Host);
    }
}
