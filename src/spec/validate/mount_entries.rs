//! `mounts[]`: destination, type, source, options and id mappings of each entry.

use super::{has_nul, no_nul_str};
use crate::spec::{mounts, SpecError};
use oci_spec::runtime::Spec;

pub(super) fn mount_entries(spec: &Spec) -> Result<(), SpecError> {
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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use serde_json::{json, Value};

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
}
