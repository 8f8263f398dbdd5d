//! The `org.berth.network.*` annotations (crate::network::config) and
//! `linux.netDevices`: both need the container's own network namespace.

use super::{ns_mode, NsMode};
use crate::network::config::{self, Network};
use crate::spec::SpecError;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// The config.json path of the network namespace entry, for errors.
fn netns_field(spec: &Spec) -> String {
    let i = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|l| {
            l.iter()
                .position(|n| n.typ() == LinuxNamespaceType::Network)
        });
    match i {
        Some(i) => format!("linux.namespaces[{i}].path"),
        None => "linux.namespaces".into(),
    }
}

pub(super) fn network_annotations(spec: &Spec) -> Result<(), SpecError> {
    let net = config::parse(spec.annotations().as_ref())
        .map_err(|e| SpecError::invalid(format!("annotations[{:?}]", e.key), e.reason))?;
    if let Network::Bridge(_) = net {
        match ns_mode(spec, LinuxNamespaceType::Network) {
            NsMode::New => {}
            NsMode::Host => {
                return Err(SpecError::invalid(
                    "linux.namespaces",
                    format!(
                        "{}=bridge needs a new network namespace (an entry of type \"network\" without path)",
                        config::MODE
                    ),
                ))
            }
            NsMode::Join(_) => {
                return Err(SpecError::invalid(
                    netns_field(spec),
                    format!(
                        "{}=bridge needs a new network namespace, not one joined by path",
                        config::MODE
                    ),
                ))
            }
        }
    }
    Ok(())
}

pub(super) fn net_devices(spec: &Spec) -> Result<(), SpecError> {
    let Some(devs) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .filter(|d| !d.is_empty())
    else {
        return Ok(());
    };
    if ns_mode(spec, LinuxNamespaceType::Network) == NsMode::Host {
        return Err(SpecError::invalid(
            "linux.netDevices",
            "needs the container's own network namespace (linux.namespaces has no \"network\")",
        ));
    }
    let bridge = matches!(
        config::parse(spec.annotations().as_ref()),
        Ok(Network::Bridge(_))
    );
    let mut keys: Vec<&String> = devs.keys().collect();
    keys.sort();
    let mut targets: Vec<(&str, &str)> = Vec::new();
    for host in keys {
        let field = format!("linux.netDevices[{host:?}]");
        config::valid_ifname(host).map_err(|r| SpecError::invalid(&field, r))?;
        if host == "lo" {
            return Err(SpecError::invalid(
                &field,
                "the loopback device cannot leave its namespace",
            ));
        }
        let target = devs[host].name().as_deref().unwrap_or(host);
        let name_field = format!("{field}.name");
        config::valid_ifname(target).map_err(|r| SpecError::invalid(&name_field, r))?;
        if target == "lo" || (bridge && target == config::CONTAINER_IFNAME) {
            return Err(SpecError::invalid(
                &name_field,
                format!("{target} is taken in the container's namespace"),
            ));
        }
        // A "%d" template is made unique by the kernel.
        if !target.contains("%d") {
            if let Some((other, _)) = targets.iter().find(|(_, t)| *t == target) {
                return Err(SpecError::invalid(
                    &name_field,
                    format!("{target} is also the name of linux.netDevices[{other:?}]"),
                ));
            }
        }
        targets.push((host, target));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use serde_json::json;

    fn bridge(extra: &[(&str, &str)]) -> serde_json::Value {
        let mut a = json!({"org.berth.network.mode": "bridge"});
        for (k, v) in extra {
            a[*k] = json!(v);
        }
        with(base(), "/annotations", a)
    }

    #[test]
    fn annotations_are_checked() {
        assert!(check(&bridge(&[])).is_ok());
        assert_eq!(
            failing_field(&bridge(&[("org.berth.network.ports", "80")])),
            "annotations[\"org.berth.network.ports\"]"
        );
        assert_eq!(
            failing_field(&with(
                base(),
                "/annotations",
                json!({"org.berth.network.mod": "bridge"})
            )),
            "annotations[\"org.berth.network.mod\"]"
        );
    }

    #[test]
    fn bridge_needs_a_new_netns() {
        let host = with(
            bridge(&[]),
            "/linux/namespaces",
            namespaces_of(&["pid", "mount", "uts"]),
        );
        assert_eq!(failing_field(&host), "linux.namespaces");
        let joined = with(
            bridge(&[]),
            "/linux/namespaces",
            json!([{"type": "mount"}, {"type": "network", "path": "/run/netns/x"}, {"type": "uts"}]),
        );
        assert_eq!(failing_field(&joined), "linux.namespaces[1].path");
    }

    #[test]
    fn net_devices_rules() {
        let devs = |d: serde_json::Value| with(base(), "/linux/netDevices", d);
        assert!(check(&devs(json!({"eth1": {}, "eth2": {"name": "net%d"}}))).is_ok());
        assert_eq!(
            failing_field(&devs(json!({"lo": {}}))),
            "linux.netDevices[\"lo\"]"
        );
        assert_eq!(
            failing_field(&devs(json!({"eth1": {"name": "a/b"}}))),
            "linux.netDevices[\"eth1\"].name"
        );
        assert_eq!(
            failing_field(&devs(json!({"a": {"name": "x"}, "b": {"name": "x"}}))),
            "linux.netDevices[\"b\"].name"
        );
        let no_ns = with(
            devs(json!({"eth1": {}})),
            "/linux/namespaces",
            namespaces_of(&["pid", "mount", "uts"]),
        );
        assert_eq!(failing_field(&no_ns), "linux.netDevices");
        let clash = with(
            bridge(&[]),
            "/linux/netDevices",
            json!({"eth1": {"name": "eth0"}}),
        );
        assert_eq!(failing_field(&clash), "linux.netDevices[\"eth1\"].name");
    }
}
