//! Error paths: configs the runtime MUST refuse, leaving nothing behind
//! (runtime.md "Errors", "Create"; config.md "Valid values").

use crate::bundle::no_prep;
use crate::spec::{base, push, remove, set};
use crate::util::{procs_with_root, wait_for};
use crate::Harness;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::time::Duration;

pub const UNITS: &[&str] = &[
    "duplicate-namespace",
    "namespace-path-type",
    "unknown-namespace",
    "duplicate-rlimit",
    "unknown-rlimit",
    "rootfs-propagation",
    "missing-root",
    "device-mismatch",
    "idmap-without-userns",
    "seccomp-errnoret",
    "unknown-fstype",
    "unknown-sysctl",
    "personality-domain",
    "bad-id",
    "no-process",
];

type Mutate = fn(&mut Value, &Harness);

fn case(unit: &str) -> Option<(&'static str, Mutate)> {
    let c: (&'static str, Mutate) = match unit {
        "duplicate-namespace" => (
            "config-linux: duplicated namespace types are an error",
            |c, _| {
                push(c, "/linux/namespaces", json!({"type": "network"}));
            },
        ),
        "namespace-path-type" => (
            "config-linux: a namespace path of another type is an error",
            |c, _| {
                let path = format!("/proc/{}/ns/uts", std::process::id());
                let mut ns = vec![json!({"type": "network", "path": path})];
                ns.extend(["pid", "ipc", "uts", "mount"].map(|t| json!({"type": t})));
                set(c, "/linux/namespaces", json!(ns));
            },
        ),
        "unknown-namespace" => (
            "config: an unknown namespace type is an invalid value and an error",
            |c, _| {
                push(c, "/linux/namespaces", json!({"type": "berth-bogus"}));
            },
        ),
        "duplicate-rlimit" => ("config: duplicated rlimits types are an error", |c, _| {
            push(
                c,
                "/process/rlimits",
                json!({"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512}),
            );
        }),
        "unknown-rlimit" => (
            "config: an rlimit type that maps to no kernel resource is an error",
            |c, _| {
                push(
                    c,
                    "/process/rlimits",
                    json!({"type": "RLIMIT_BERTH", "soft": 1, "hard": 1}),
                );
            },
        ),
        "rootfs-propagation" => (
            "config-linux: an invalid rootfsPropagation value is an error",
            |c, _| {
                set(c, "/linux/rootfsPropagation", json!("berth-bogus"));
            },
        ),
        "missing-root" => (
            "config: root.path that is not a directory is an error",
            |c, _| {
                set(c, "/root/path", json!("no-such-rootfs"));
            },
        ),
        "device-mismatch" => (
            "config-linux: a file at a device path that does not match the device is an error",
            |c, _| {
                set(
                    c,
                    "/linux/devices",
                    json!([
                        {"path": "/etc/berth-not-a-device", "type": "c", "major": 1, "minor": 3}
                    ]),
                );
            },
        ),
        "idmap-without-userns" => (
            "config: an idmap mount without mappings or a user namespace is an error",
            |c, _| {
                push(
                    c,
                    "/mounts",
                    json!({"destination": "/mnt", "type": "none", "source": "host-dir",
                                      "options": ["bind", "idmap"]}),
                );
            },
        ),
        "seccomp-errnoret" => (
            "config-linux: seccomp errnoRet on an action without errno is an error",
            |c, _| {
                set(
                    c,
                    "/linux/seccomp",
                    json!({
                        "defaultAction": "SCMP_ACT_ALLOW",
                        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]
                    }),
                );
            },
        ),
        "unknown-fstype" => (
            "runtime: a mount that cannot be applied (unknown type) is an error",
            |c, _| {
                push(
                    c,
                    "/mounts",
                    json!({"destination": "/mnt", "type": "berthfs", "source": "none"}),
                );
            },
        ),
        "unknown-sysctl" => (
            "runtime: a sysctl that cannot be applied is an error",
            |c, _| {
                set(
                    c,
                    "/linux/sysctl",
                    json!({"kernel.berth_no_such_sysctl": "1"}),
                );
            },
        ),
        "personality-domain" => (
            "config-linux: an invalid personality domain is an error",
            |c, _| {
                set(c, "/linux/personality", json!({"domain": "LINUX64"}));
            },
        ),
        _ => return None,
    };
    Some(c)
}

pub fn run(h: &mut Harness, selected: &dyn Fn(&str) -> bool) {
    run_units(h, selected);
    for (unit, name, res) in crate::resources::INVALID {
        if selected(&format!("invalid/{unit}")) {
            let mutate =
                |c: &mut Value, h: &Harness| crate::resources::apply_invalid(c, h, unit, res);
            must_fail(h, unit, name, &mutate);
        }
    }
}

fn run_units(h: &mut Harness, selected: &dyn Fn(&str) -> bool) {
    for unit in UNITS {
        if !selected(&format!("invalid/{unit}")) {
            continue;
        }
        match *unit {
            "bad-id" => bad_id(h),
            "no-process" => no_process(h),
            u => {
                if let Some((name, mutate)) = case(u) {
                    must_fail(h, u, name, &mutate);
                }
            }
        }
    }
}

fn prep(b: &Path, r: &Path) -> std::io::Result<()> {
    fs::create_dir_all(b.join("host-dir"))?;
    fs::write(r.join("etc/berth-not-a-device"), "regular file\n")
}

/// create MUST fail, leave no container, no process, no cgroup (when the
/// config names its cgroupsPath), and the rootfs as it was.
fn must_fail(h: &mut Harness, unit: &str, name: &str, mutate: &dyn Fn(&mut Value, &Harness)) {
    let p = format!("[invalid-{unit}]");
    let mut cfg = base(vec!["/bin/true".into()]);
    mutate(&mut cfg, h);
    let bundle = match h.bundles.make(&format!("invalid-{unit}"), &cfg, &prep) {
        Ok(b) => b,
        Err(e) => return h.tap.fail(&format!("{p} harness: build the bundle: {e}")),
    };
    let id = h.id(&format!("invalid-{unit}"));
    let out = h.rt.create(&bundle, &id, None);
    let rootfs = bundle.join("rootfs");
    let cgroups_path = cfg.pointer("/linux/cgroupsPath").and_then(Value::as_str);
    let host_cg = crate::resources::HostCg::detect();
    let cgroups_left = || {
        cgroups_path
            .map(|p| host_cg.dirs_named(p))
            .unwrap_or_default()
    };
    let r = if out.ok() {
        Err("create succeeded".to_string())
    } else {
        let gone = wait_for(Duration::from_secs(3), || {
            !h.rt.state(&id).ok()
                && procs_with_root(&rootfs).is_empty()
                && cgroups_left().is_empty()
        });
        let file = fs::read_to_string(rootfs.join("etc/berth-not-a-device")).unwrap_or_default();
        if !gone {
            Err(format!(
                "create failed but left a container: state {:?}, cgroups {:?}",
                h.rt.status(&id),
                cgroups_left()
            ))
        } else if file != "regular file\n" {
            Err("create failed but replaced /etc/berth-not-a-device".to_string())
        } else {
            Ok(())
        }
    };
    h.tap.case(
        &format!("{p} {name}: create fails and leaves no container"),
        r,
    );
    h.rt.forget(&id);
}

/// runtime.md: an id that is not valid MUST be an error; SECURITY.md: before
/// --root is touched.
fn bad_id(h: &mut Harness) {
    let p = "[invalid-bad-id]";
    let cfg = base(vec!["/bin/true".into()]);
    let bundle = match h.bundles.make("invalid-bad-id", &cfg, &no_prep) {
        Ok(b) => b,
        Err(e) => return h.tap.fail(&format!("{p} harness: build the bundle: {e}")),
    };
    let escape = h.rt.root.parent().map(|w| w.join("escape"));
    for id in ["../escape", "a/b", ""] {
        let out = h.rt.create(&bundle, id, None);
        let escaped = escape.as_ref().is_some_and(|e| e.exists());
        let r = match (out.ok(), escaped) {
            (true, _) => Err("create succeeded".to_string()),
            (false, true) => Err("created something outside --root".to_string()),
            (false, false) if !procs_with_root(&bundle.join("rootfs")).is_empty() => {
                Err("a process was left in the rootfs".to_string())
            }
            _ => Ok(()),
        };
        h.tap.case(
            &format!("{p} runtime: create with the invalid id {id:?} errors and creates nothing"),
            r,
        );
        if out.ok() {
            h.rt.forget(id);
        }
    }
}

/// runtime.md "Start": MUST generate an error if process was not set.
fn no_process(h: &mut Harness) {
    let p = "[invalid-no-process]";
    let mut cfg = base(vec!["/bin/true".into()]);
    remove(&mut cfg, "/process");
    let bundle = match h.bundles.make("invalid-no-process", &cfg, &no_prep) {
        Ok(b) => b,
        Err(e) => return h.tap.fail(&format!("{p} harness: build the bundle: {e}")),
    };
    let id = h.id("invalid-no-process");
    let create = h.rt.create(&bundle, &id, None);
    let r = if !create.ok() {
        Ok(()) // refusing at create (MAY validate) also satisfies it
    } else {
        let start = h.rt.start(&id);
        if start.ok() {
            Err("create and start both succeeded".to_string())
        } else {
            Ok(())
        }
    };
    h.tap.case(
        &format!(
            "{p} runtime: start errors when process is not set (create may refuse it already)"
        ),
        r,
    );
    h.rt.forget(&id);
}
