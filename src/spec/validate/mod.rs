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

mod hooks;
mod linux;
mod mount_entries;
mod namespaces;
mod network;
mod process;
mod sysctl;

pub use namespaces::MAX_ID_MAPPINGS;
pub use process::{parse_cpu_list, MAX_CPU};
pub use sysctl::{
    sysctl_allowed, sysctl_dotted, sysctl_proc_path, sysctl_value_ok, SysctlNamespaces,
};

use super::SpecError;
use hooks::hooks;
use linux::{
    cgroups_path, device_cgroup_access, devices, intel_rdt, masked_and_readonly_paths, personality,
    rootfs_propagation, seccomp_errno_ret,
};
use mount_entries::mount_entries;
use namespaces::{
    mount_namespace_needed, namespaces, time_offsets, user_namespace_mappings, uts_names,
};
use network::{net_devices, network_annotations};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use process::{
    process_args, process_console_size, process_cwd, process_env, process_exec_cpu_affinity,
    process_io_priority, process_oom_score_adj, process_required, process_rlimits,
    process_scheduler, process_user,
};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use sysctl::sysctl;

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
    process_console_size,
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
    device_cgroup_access,
    mount_entries,
    hooks,
    cgroups_path,
    rootfs_propagation,
    masked_and_readonly_paths,
    personality,
    intel_rdt,
    seccomp_errno_ret,
    network_annotations,
    net_devices,
    crate::layers::validate,
];

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

#[cfg(test)]
mod testutil {
    //! The config the rule tests start from, and the helpers that break it.
    use super::*;
    use serde_json::{json, Value};

    /// A config every rule accepts; each test breaks one thing.
    pub(super) fn base() -> Value {
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

    pub(super) fn spec_of(v: &Value) -> Spec {
        match serde_json::from_value(v.clone()) {
            Ok(s) => s,
            Err(e) => panic!("test config does not parse: {e}"),
        }
    }

    pub(super) fn check(v: &Value) -> Result<(), SpecError> {
        validate(&spec_of(v))
    }

    /// The field of the error `v` gives; panics if `v` is accepted.
    pub(super) fn failing_field(v: &Value) -> String {
        match check(v) {
            Ok(()) => panic!("accepted: {v:#}"),
            Err(SpecError::Invalid { field, .. }) => field,
            Err(e) => panic!("unexpected error kind: {e}"),
        }
    }

    pub(super) fn with(mut v: Value, pointer: &str, new: Value) -> Value {
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

    pub(super) fn without(mut v: Value, pointer: &str) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        if let Some(obj) = v.pointer_mut(parent).and_then(|p| p.as_object_mut()) {
            obj.remove(key);
        }
        v
    }

    pub(super) fn namespaces_of(types: &[&str]) -> Value {
        Value::Array(types.iter().map(|t| json!({"type": t})).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use serde_json::json;

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
