//! `features` (features.md, features-linux.md): what this build of berth really
//! implements, independent of the host. Every `true` here is backed by code and
//! tests; what berth does not do yet is reported `false`, never left to guess.

use serde_json::{json, Value};

pub fn features() -> Value {
    let mut caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    caps.sort();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::state::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": crate::spec::mounts::known_options(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {
                "v1": true,
                "v2": true,
                "systemd": false,
                "systemdUser": false,
                "rdma": true
            },
            // linux.seccomp is not applied yet (issue 4): say so rather than pretend.
            "seccomp": { "enabled": false },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } },
            "netDevices": { "enabled": false }
        },
        "annotations": {
            "org.berth.version": env!("CARGO_PKG_VERSION"),
            "org.berth.commit": option_env!("BERTH_COMMIT").unwrap_or("unknown"),
            "org.berth.cgroup.hybrid": "true"
        },
        "potentiallyUnsafeConfigAnnotations": []
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_what_berth_implements() {
        let f = features();
        assert_eq!(f["ociVersionMax"], "1.3.0");
        assert_eq!(f["hooks"].as_array().unwrap().len(), 6);
        let opts: Vec<&str> = f["mountOptions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        for o in ["tmpcopyup", "rbind", "rro", "nosymfollow", "rprivate"] {
            assert!(opts.contains(&o), "{o} missing");
        }
        // Every option listed is one berth's parser accepts.
        for o in &opts {
            assert!(
                crate::spec::mounts::parse_options(&[o.to_string()]).is_ok(),
                "{o} listed but refused"
            );
        }
        assert_eq!(f["linux"]["namespaces"].as_array().unwrap().len(), 8);
        assert!(f["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"));
        assert_eq!(f["linux"]["cgroup"]["systemd"], false);
        assert_eq!(f["linux"]["seccomp"]["enabled"], false);
    }

    #[test]
    fn capability_names_parse_as_config_capabilities() {
        for c in features()["linux"]["capabilities"].as_array().unwrap() {
            let parsed: Result<oci_spec::runtime::Capability, _> =
                serde_json::from_value(c.clone());
            assert!(
                parsed.is_ok(),
                "{c} is not a capability config.json accepts"
            );
        }
    }
}
