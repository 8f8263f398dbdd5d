//! The command line: help, version, id validation, unknown containers, error logging,
//! `spec`, and config.json values that must be refused before anything is created.

#[macro_use]
mod common;

use common::{is_runc, runtime_name, Ctx, Opts};
use serde_json::{json, Value};
use std::fs;
use std::time::Duration;

const VERBS: [&str; 8] = [
    "create", "start", "run", "state", "kill", "delete", "list", "spec",
];

#[test]
fn help_lists_the_verbs() {
    let ctx = Ctx::new("help");
    let out = ctx.cmd_opts(
        &["--help"],
        &Opts {
            no_root: true,
            ..Opts::default()
        },
    );
    out.expect_ok();
    for verb in VERBS {
        assert!(
            out.stdout.lines().any(|l| l.trim_start().starts_with(verb)),
            "--help does not list `{verb}`:\n{}",
            out.stdout
        );
    }
}

#[test]
fn version_has_name_commit_and_spec_lines() {
    let ctx = Ctx::new("version");
    let out = ctx.cmd(&["--version"]);
    out.expect_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    let first = lines.first().copied().unwrap_or_default();
    let prefix = format!("{} version ", runtime_name());
    assert!(
        first.starts_with(&prefix) && first.len() > prefix.len(),
        "first line {first:?} should be `{prefix}X`"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("commit: ") && l.len() > 8),
        "no `commit: ...` line in {lines:?}"
    );
    let spec = lines.iter().find(|l| l.starts_with("spec: "));
    assert!(
        spec.is_some_and(|l| l.starts_with("spec: 1.")),
        "no `spec: 1.x` line in {lines:?}"
    );
    if !is_runc() {
        assert_eq!(spec, Some(&"spec: 1.3.0"));
    }
    // --version must not touch the state root.
    assert!(!ctx.root.exists(), "--version created --root");
}

const BAD_IDS: [&str; 7] = ["", ".", "..", "../x", "a/b", "a b", "contéiner"];

fn bad_ids() -> Vec<String> {
    let mut v: Vec<String> = BAD_IDS.iter().map(|s| s.to_string()).collect();
    v.push("a".repeat(4096));
    v
}

/// Run every id-taking verb with every invalid id; each must fail with exit 1.
/// Returns the commands after which the state root existed.
fn try_bad_ids(ctx: &Ctx) -> Vec<String> {
    let b = ctx.bundle(&["true"]);
    b.save();
    let bundle = b.dir_str();
    let mut touched = vec![];
    for id in bad_ids() {
        let verbs: Vec<Vec<&str>> = vec![
            vec!["create", "--bundle", &bundle, &id],
            vec!["state", &id],
            vec!["kill", &id, "KILL"],
            vec!["delete", &id],
            vec!["delete", "--force", &id],
            vec!["start", &id],
        ];
        for args in verbs {
            let out = ctx.cmd(&args);
            out.expect_err();
            if ctx.root.exists() {
                touched.push(format!("{} {:.20}", args[0], id));
                let _ = fs::remove_dir_all(&ctx.root);
            }
        }
    }
    touched
}

#[test]
fn invalid_ids_are_rejected() {
    require_root!();
    let ctx = Ctx::new("badids");
    try_bad_ids(&ctx);
    // Nothing outside the root either: "../x" must not have made the bundle's parent dirty.
    assert!(!ctx.dir.join("x").exists());
}

/// SECURITY.md attack 16: ids are validated before --root is touched.
#[test]
fn invalid_ids_do_not_create_the_root() {
    require_root!();
    berth_only!("runc creates --root before validating the id");
    let ctx = Ctx::new("badids-root");
    let touched = try_bad_ids(&ctx);
    assert!(touched.is_empty(), "--root was created by: {touched:?}");
}

#[test]
fn unknown_container_does_not_exist() {
    let ctx = Ctx::new("unknown");
    let id = ctx.id("nope");
    // First with no state root at all, then with an empty one.
    for root_exists in [false, true] {
        if root_exists {
            fs::create_dir_all(&ctx.root).unwrap();
        }
        for args in [
            vec!["state", id.as_str()],
            vec!["start", &id],
            vec!["kill", &id],
            vec!["kill", &id, "KILL"],
            vec!["delete", &id],
        ] {
            let out = ctx.cmd(&args);
            out.expect_err();
            assert!(
                out.stderr.contains("does not exist"),
                "`{}` (root exists: {root_exists}): stderr should say \"does not exist\": {}",
                args.join(" "),
                out.stderr
            );
        }
        assert!(!ctx.state_dir(&id).exists());
    }
}

#[test]
fn delete_force_of_unknown_id_succeeds() {
    let ctx = Ctx::new("delforce-unknown");
    let id = ctx.id("nope");
    // containerd calls `delete --force` for containers that are already gone.
    ctx.cmd(&["delete", "--force", &id]).expect_ok();
    fs::create_dir_all(&ctx.root).unwrap();
    ctx.cmd(&["delete", "--force", &id]).expect_ok();
    assert!(!ctx.state_dir(&id).exists());
}

#[test]
fn json_log_gets_an_error_line_appended() {
    let ctx = Ctx::new("jsonlog");
    fs::create_dir(&ctx.root).unwrap();
    let log = ctx.dir.join("log.json");
    fs::write(
        &log,
        "{\"level\":\"info\",\"msg\":\"earlier\",\"time\":\"x\"}\n",
    )
    .unwrap();
    let id = ctx.id("nope");
    let log_s = log.to_string_lossy().into_owned();
    let out = ctx.cmd(&["--log-format", "json", "--log", &log_s, "state", &id]);
    assert_eq!(out.code(), Some(1), "stderr: {}", out.stderr);
    if !is_runc() {
        // runc logs only to the file when --log is given; berth says it on stderr too.
        assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    }
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "nothing appended: {text:?}");
    assert!(lines[0].contains("earlier"), "log was truncated: {text:?}");
    let errors: Vec<Value> = lines[1..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .filter(|v: &Value| v["level"] == "error")
        .collect();
    let last = errors.last().expect("no error line in the log");
    assert!(
        last["msg"].as_str().unwrap().contains("does not exist"),
        "{last}"
    );
    assert!(
        last["time"].as_str().is_some_and(|t| !t.is_empty()),
        "{last}"
    );
}

// ---------------------------------------------------------------------------
// spec

/// `spec` writes a config that create takes, without an inheritable set (SECURITY.md
/// attack 13).
#[test]
fn spec_writes_a_config_that_create_accepts() {
    require_root!();
    let ctx = Ctx::new("spec-create");
    let dir = ctx.mkdir("specbundle");
    ctx.cmd(&["spec", "--bundle", &dir.to_string_lossy()])
        .expect_ok();
    let mut config: Value =
        serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert!(config["ociVersion"].as_str().unwrap().starts_with("1."));
    // SECURITY.md attack 13: no inheritable capabilities in the default spec.
    let caps = &config["process"]["capabilities"];
    assert!(caps.is_object(), "spec has no capabilities: {config}");
    let inh = &caps["inheritable"];
    assert!(
        inh.is_null() || inh.as_array().is_some_and(|a| a.is_empty()),
        "spec output has an inheritable set: {inh}"
    );
    assert_eq!(config["root"]["path"], "rootfs");
    if !is_runc() {
        assert_eq!(config["ociVersion"], "1.3.0");
    }
    // Make it runnable without a console socket, otherwise as written.
    common::build_rootfs(&dir.join(config["root"]["path"].as_str().unwrap()));
    config["process"]["terminal"] = json!(false);
    fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let id = ctx.id("c");
    ctx.cmd(&["create", "--bundle", &dir.to_string_lossy(), &id])
        .expect_ok();
    assert_eq!(ctx.state(&id)["status"], "created");
}

#[test]
fn spec_in_cwd_refuses_to_overwrite() {
    let ctx = Ctx::new("spec-overwrite");
    let dir = ctx.mkdir("cwd");
    let opts = Opts {
        cwd: Some(dir.clone()),
        ..Opts::default()
    };
    ctx.cmd_opts(&["spec"], &opts).expect_ok();
    let first: Value = serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert!(first["process"].is_object());
    fs::write(dir.join("config.json"), "{\"mine\": true}").unwrap();
    ctx.cmd_opts(&["spec"], &opts).expect_err();
    assert_eq!(
        fs::read_to_string(dir.join("config.json")).unwrap(),
        "{\"mine\": true}",
        "spec overwrote an existing config.json"
    );
}

#[test]
fn spec_rootless_has_a_user_namespace_with_mappings() {
    let ctx = Ctx::new("spec-rootless");
    let dir = ctx.mkdir("rl");
    ctx.cmd(&["spec", "--rootless", "--bundle", &dir.to_string_lossy()])
        .expect_ok();
    let config: Value =
        serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
    let ns = config["linux"]["namespaces"].as_array().unwrap();
    assert!(ns.iter().any(|n| n["type"] == "user"), "{ns:?}");
    for key in ["uidMappings", "gidMappings"] {
        let m = config["linux"][key].as_array();
        assert!(m.is_some_and(|m| !m.is_empty()), "no {key}: {config}");
    }
}

// ---------------------------------------------------------------------------
// config.json values refused at create: error names the JSON path, no state left

/// Create with a config changed by `edit`; it must fail, leave no state dir, and (berth)
/// name `json_path` in the message.
fn expect_rejected(name: &str, json_path: &str, edit: impl FnOnce(&mut Value)) {
    let ctx = Ctx::new(name);
    let mut b = ctx.bundle(&["true"]);
    edit(&mut b.config);
    let id = ctx.id("c");
    let out = ctx.create(&b, &id);
    out.expect_err();
    if !is_runc() {
        assert!(
            out.stderr.contains(json_path),
            "error should name `{json_path}`: {}",
            out.stderr
        );
    }
    assert!(
        !ctx.state_dir(&id).exists(),
        "a failed create left {}",
        ctx.state_dir(&id).display()
    );
    assert!(
        common::procs_with_cmdline(&id).is_empty(),
        "a failed create left a process"
    );
}

#[test]
fn rejects_unknown_rlimit() {
    require_root!();
    expect_rejected("bad-rlimit", "process.rlimits[0].type", |c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]);
    });
}

#[test]
fn rejects_relative_cwd() {
    require_root!();
    expect_rejected("bad-cwd", "process.cwd", |c| {
        c["process"]["cwd"] = json!("tmp");
    });
}

#[test]
fn rejects_oci_version_2() {
    require_root!();
    berth_only!("runc does not check ociVersion");
    expect_rejected("bad-ociversion", "ociVersion", |c| {
        c["ociVersion"] = json!("2.0.0");
    });
}

#[test]
fn rejects_missing_process_args() {
    require_root!();
    expect_rejected("no-args", "process.args", |c| {
        c["process"].as_object_mut().unwrap().remove("args");
    });
}

#[test]
fn rejects_bad_mount_option() {
    require_root!();
    // One option smuggling several ("nosuid,bogus=1") is not a mount option.
    expect_rejected("bad-mountopt", "mounts[6]", |c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid,bogus=1"]
        }));
    });
}

#[test]
fn rejects_hostname_without_uts_namespace() {
    require_root!();
    expect_rejected("hostname-no-uts", "hostname", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "uts");
    });
}

/// SECURITY.md attack 19: a sysctl that is not namespaced.
#[test]
fn rejects_core_pattern_sysctl() {
    require_root!();
    let before = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    expect_rejected("sysctl-core", "linux.sysctl", |c| {
        c["linux"]["sysctl"] = json!({"kernel.core_pattern": "|/tmp/pwned"});
    });
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        before
    );
}

/// SECURITY.md attack 19: a newline in a sysctl value smuggles a second write.
#[test]
fn rejects_sysctl_value_with_newline() {
    require_root!();
    berth_only!("runc writes the value as given");
    expect_rejected("sysctl-newline", "linux.sysctl", |c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1\n0"});
    });
}

/// SECURITY.md attack 18: `..` in cgroupsPath.
#[test]
fn rejects_dotdot_in_cgroups_path() {
    require_root!();
    berth_only!("runc cleans the path lexically and accepts it");
    expect_rejected("cgroup-dotdot", "linux.cgroupsPath", |c| {
        c["linux"]["cgroupsPath"] = json!("/berth-test/../../escape");
    });
    assert!(common::cgroup_dirs("/escape").is_empty());
}

/// SECURITY.md attack 24: a 100 MB config.json fails fast with a size error.
#[test]
fn rejects_huge_config_quickly() {
    require_root!();
    let ctx = Ctx::new("huge-config");
    let b = ctx.bundle(&["true"]);
    let f = fs::File::create(b.config_path()).unwrap();
    f.set_len(100 << 20).unwrap(); // sparse: cheap to make, 100 MB to read
    drop(f);
    let id = ctx.id("c");
    ctx.track(&id);
    let out = ctx.cmd_opts(
        &["create", "--bundle", &b.dir_str(), &id],
        &Opts {
            timeout: Some(Duration::from_secs(30)),
            ..Opts::default()
        },
    );
    out.expect_err();
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?}",
        out.elapsed
    );
    if !is_runc() {
        let msg = out.stderr.to_lowercase();
        assert!(
            msg.contains("config.json")
                && ["too large", "size", "bytes"]
                    .iter()
                    .any(|w| msg.contains(w)),
            "expected a size error naming config.json: {}",
            out.stderr
        );
    }
    assert!(!ctx.state_dir(&id).exists());
}

/// SECURITY.md attack 24: a million env entries, or a million mounts, fail bounded
/// with an error naming the field; nothing is built in memory, nothing is created.
#[test]
fn rejects_a_million_entries_quickly() {
    require_root!();
    let ctx = Ctx::new("many-entries");
    for (tag, field) in [("env", "process.env"), ("mounts", "mounts")] {
        let mut b = ctx.bundle(&["true"]);
        // Small entries, written compactly: the file stays under the size cap.
        let one = if tag == "env" {
            json!("A=1")
        } else {
            json!({})
        };
        let many = Value::Array(vec![one; 1_000_000]);
        match tag {
            "env" => b.config["process"]["env"] = many,
            _ => b.config["mounts"] = many,
        }
        fs::write(b.config_path(), serde_json::to_vec(&b.config).unwrap()).unwrap();
        let id = ctx.id(tag);
        let out = ctx.cmd(&["create", "--bundle", &b.dir_str(), &id]);
        out.expect_err();
        // runc takes about 20 s over a million mounts.
        if !is_runc() {
            assert!(
                out.elapsed < Duration::from_secs(5),
                "{tag}: took {:?}",
                out.elapsed
            );
            assert!(
                out.stderr.contains(field) && out.stderr.contains("entries"),
                "{tag}: {}",
                out.stderr
            );
        }
        assert!(!ctx.state_dir(&id).exists(), "{tag}: state left behind");
    }
}

/// A reader that goes away (`berth features | head -1`) must not make berth panic.
#[test]
fn closed_stdout_is_not_a_panic() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(common::runtime_path())
        .arg("features")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn features_is_truthful_json() {
    berth_only!("berth's own features");
    let out = common::run_runtime(
        &std::env::temp_dir(),
        &["features".to_string()],
        &common::Opts {
            no_root: true,
            ..Default::default()
        },
    );
    out.expect_ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["ociVersionMax"], "1.3.0");
    assert_eq!(v["linux"]["cgroup"]["v1"], true);
    assert_eq!(v["linux"]["cgroup"]["systemd"], false);
}
