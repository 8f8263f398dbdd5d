//! `linux.namespaces`, the user namespace's id mappings, `linux.timeOffsets`,
//! hostname/domainname (uts) and what needs a mount namespace.

use super::{absolute_path, has_ns, namespace_name, no_nul_str, ns_mode, NsMode};
use crate::spec::SpecError;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

pub(super) fn namespaces(spec: &Spec) -> Result<(), SpecError> {
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

pub(super) fn user_namespace_mappings(spec: &Spec) -> Result<(), SpecError> {
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

pub(super) fn time_offsets(spec: &Spec) -> Result<(), SpecError> {
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

pub(super) fn uts_names(spec: &Spec) -> Result<(), SpecError> {
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
pub(super) fn mount_namespace_needed(spec: &Spec) -> Result<(), SpecError> {
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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use serde_json::{json, Value};

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
}
