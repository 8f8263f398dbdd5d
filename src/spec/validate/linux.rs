//! The rest of `linux.*`: devices, cgroupsPath, rootfsPropagation, masked and read-only
//! paths, personality, intelRdt and seccomp's errnoRet.

use super::{absolute_path, has_nul};
use crate::spec::{mounts, SpecError};
use oci_spec::runtime::{LinuxDeviceType, Spec};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Largest major and minor numbers a dev_t holds (MKDEV: 12 and 20 bits).
const MAX_MAJOR: i64 = (1 << 12) - 1;
const MAX_MINOR: i64 = (1 << 20) - 1;

/// linux.resources.devices[].access: letters of "rwm" only (the v1 devices files would
/// refuse others with EINVAL after the cgroup exists; the v2 program would ignore
/// them).
pub(super) fn device_cgroup_access(spec: &Spec) -> Result<(), SpecError> {
    let Some(list) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().as_ref())
    else {
        return Ok(());
    };
    for (i, d) in list.iter().enumerate() {
        if let Some(a) = d.access() {
            if let Some(c) = a.chars().find(|c| !matches!(c, 'r' | 'w' | 'm')) {
                return Err(SpecError::invalid(
                    format!("linux.resources.devices[{i}].access"),
                    format!("{a:?}: {c:?} is not one of r (read), w (write), m (mknod)"),
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn devices(spec: &Spec) -> Result<(), SpecError> {
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

/// SECURITY.md attack 18: a `..` component would leave the cgroup tree the runtime
/// manages. Both the path form and systemd's "slice:prefix:name" form are covered.
pub(super) fn cgroups_path(spec: &Spec) -> Result<(), SpecError> {
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

pub(super) fn rootfs_propagation(spec: &Spec) -> Result<(), SpecError> {
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

pub(super) fn masked_and_readonly_paths(spec: &Spec) -> Result<(), SpecError> {
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

pub(super) fn personality(spec: &Spec) -> Result<(), SpecError> {
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

pub(super) fn intel_rdt(spec: &Spec) -> Result<(), SpecError> {
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

/// config-linux.md seccomp: errnoRet / defaultErrnoRet only with an action that can
/// return an errno (SCMP_ACT_ERRNO, SCMP_ACT_TRACE); "the runtime MUST print an error
/// and fail" otherwise.
pub(super) fn seccomp_errno_ret(spec: &Spec) -> Result<(), SpecError> {
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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use serde_json::{json, Value};

    fn device(d: Value) -> Value {
        with(base(), "/linux/devices", json!([d]))
    }

    #[test]
    fn device_cgroup_access_letters() {
        let rule = |a: &str| {
            with(
                base(),
                "/linux/resources",
                json!({"devices": [{"allow": true, "type": "c", "access": a}]}),
            )
        };
        assert!(check(&rule("rwm")).is_ok());
        assert!(check(&rule("")).is_ok());
        let e = check(&rule("rwx")).unwrap_err().to_string();
        assert!(e.contains("linux.resources.devices[0].access"), "{e}");
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
