//! `linux.sysctl`: the allow-list of namespaced sysctls and the key and value rules.

use super::has_ns;
use crate::spec::SpecError;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;

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

pub(super) fn sysctl(spec: &Spec) -> Result<(), SpecError> {
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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::json;

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
}
