//! `features` (features.md, features-linux.md): what this build of berth really
//! implements, independent of the host (but for seccomp's `supportedFlags`). Every
//! `true` here is backed by code and tests; what berth does not do yet is reported
//! `false`, never left to guess.

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
            "seccomp": seccomp(),
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } },
            "netDevices": { "enabled": true }
        },
        "annotations": {
            "org.berth.version": env!("CARGO_PKG_VERSION"),
            "org.berth.commit": option_env!("BERTH_COMMIT").unwrap_or("unknown"),
            "org.berth.cgroup.hybrid": "true"
        },
        "potentiallyUnsafeConfigAnnotations": [crate::layers::PREFIX]
    })
}

/// What berth's seccomp recognises (crate::seccomp), and of its flags those this
/// kernel takes (probed without loading anything: features-linux.md lets
/// `supportedFlags` depend on the kernel).
fn seccomp() -> Value {
    use crate::seccomp::{
        ACTIONS, ARCHS, FLAG_NEW_LISTENER, FLAG_WAIT_KILLABLE_RECV, KNOWN_FLAGS, OPERATORS,
    };
    let known: Vec<&str> = KNOWN_FLAGS.iter().map(|f| f.0).collect();
    let supported: Vec<&str> = KNOWN_FLAGS
        .iter()
        .filter(|(_, bit)| {
            // The kernel takes WAIT_KILLABLE_RECV only with a listener.
            let bits = if *bit == FLAG_WAIT_KILLABLE_RECV {
                bit | FLAG_NEW_LISTENER
            } else {
                *bit
            };
            crate::sys::seccomp::flags_supported(bits)
        })
        .map(|f| f.0)
        .collect();
    json!({
        "enabled": true,
        "actions": ACTIONS,
        "operators": OPERATORS,
        "archs": ARCHS,
        "knownFlags": known,
        "supportedFlags": supported
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
        // Backed by crate::network and tests/network.rs.
        assert_eq!(f["linux"]["netDevices"]["enabled"], true);
        let sc = &f["linux"]["seccomp"];
        assert_eq!(sc["enabled"], true);
        let names = |k: &str| -> Vec<String> {
            sc[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(names("actions").len(), 9);
        assert_eq!(names("operators").len(), 7);
        for a in [
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X32",
            "SCMP_ARCH_AARCH64",
        ] {
            assert!(names("archs").iter().any(|n| n == a), "{a}");
        }
        let known = names("knownFlags");
        assert_eq!(known.len(), 4);
        assert!(names("supportedFlags").iter().all(|s| known.contains(s)));
        // Every name listed is one config.json accepts and berth compiles.
        for a in names("actions") {
            let mut p = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a",
                "syscalls": [{"names": ["getpid"], "action": a}]});
            let r = serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(p.clone());
            assert!(r.is_ok(), "{a}");
            p["defaultAction"] = json!("SCMP_ACT_ERRNO");
            let sc: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(p).unwrap();
            assert!(crate::seccomp::compile(&sc).is_ok(), "{a}");
        }
        for o in names("operators") {
            let p = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"],
                "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": o}]}]});
            let sc: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(p).unwrap();
            assert!(crate::seccomp::compile(&sc).is_ok(), "{o}");
        }
        let archs = names("archs")
            .into_iter()
            .map(|a| json!({"architectures": [a]}));
        let flags = known.into_iter().map(|f| json!({"flags": [f]}));
        for mut p in archs.chain(flags) {
            p["defaultAction"] = json!("SCMP_ACT_ALLOW");
            let sc = serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(p.clone());
            assert!(
                sc.is_ok_and(|sc| crate::seccomp::compile(&sc).is_ok()),
                "{p}"
            );
        }
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
