//! Hooks (root): the six kinds in order with the state on stdin, failure of a hook,
//! a hook's args, env and timeout.

#[macro_use]
mod common;

use common::{is_runc, wait_until, Ctx, Opts};
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::time::Duration;

const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A hook that saves its stdin to DIR/KIND.json and appends KIND to DIR/order.
/// `dir` is where the hook sees the log directory.
fn recording_hook(kind: &str, dir: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("cat > {dir}/{kind}.json; echo {kind} >> {dir}/order")]
    })
}

fn order(log: &Path) -> Vec<String> {
    fs::read_to_string(log.join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn hook_state(log: &Path, kind: &str) -> Value {
    let text = fs::read_to_string(log.join(format!("{kind}.json")))
        .unwrap_or_else(|e| panic!("{kind} hook got no state: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{kind} state is not JSON ({e}): {text}"))
}

#[test]
fn all_six_hooks_run_in_order_with_the_state_on_stdin() {
    require_root!();
    let ctx = Ctx::new("hooks-order");
    let log = ctx.mkdir("hooklog");
    let host = log.to_string_lossy().into_owned();
    let mut b = ctx.bundle(&["sh", "-c", "echo process >> /hooklog/order"]);
    b.add_bind(&log, "/hooklog", &[]);
    let mut hooks = serde_json::Map::new();
    for kind in KINDS {
        // startContainer runs inside the container: it sees the log at /hooklog.
        let dir = if kind == "startContainer" {
            "/hooklog"
        } else {
            &host
        };
        hooks.insert(kind.into(), json!([recording_hook(kind, dir)]));
    }
    b.config["hooks"] = Value::Object(hooks);
    let id = ctx.id("c");

    ctx.create(&b, &id).expect_ok();
    let after_create = order(&log);
    assert_eq!(
        after_create[..3.min(after_create.len())],
        ["prestart", "createRuntime", "createContainer"],
        "after create: {after_create:?}"
    );
    if !is_runc() {
        // runc 1.1.5 runs poststart hooks during create.
        assert_eq!(after_create.len(), 3, "after create: {after_create:?}");
    }

    ctx.start(&id).expect_ok();
    let after_start = order(&log);
    assert!(
        after_start.iter().any(|k| k == "startContainer"),
        "startContainer did not run before start returned: {after_start:?}"
    );
    assert!(
        after_start.iter().any(|k| k == "poststart"),
        "poststart did not run before start returned: {after_start:?}"
    );
    ctx.wait_status(&id, "stopped");
    let pos = |log: &[String], k: &str| log.iter().position(|x| x == k).unwrap();
    let full = order(&log);
    assert!(
        pos(&full, "startContainer") < pos(&full, "process"),
        "{full:?}"
    );
    if !is_runc() {
        assert!(
            pos(&full, "startContainer") < pos(&full, "poststart"),
            "{full:?}"
        );
    }
    assert!(
        !full.iter().any(|k| k == "poststop"),
        "poststop before delete"
    );

    ctx.cmd(&["delete", &id]).expect_ok();
    let full = order(&log);
    assert_eq!(
        full.last().map(String::as_str),
        Some("poststop"),
        "{full:?}"
    );
    assert_eq!(full.iter().filter(|k| *k == "poststop").count(), 1);

    let bundle = b.dir_str();
    for kind in KINDS {
        let st = hook_state(&log, kind);
        assert_eq!(st["id"], id.as_str(), "{kind}: {st}");
        assert_eq!(st["bundle"], bundle.as_str(), "{kind}: {st}");
        assert!(st["ociVersion"].is_string(), "{kind}: {st}");
        if kind != "poststop" {
            assert!(st["pid"].as_i64().is_some_and(|p| p > 0), "{kind}: {st}");
        }
    }
    // Hooks in the runtime namespace see the host pid; in the container, the pid there.
    let host_pid = hook_state(&log, "createRuntime")["pid"].clone();
    assert!(host_pid.as_i64().unwrap() > 1);
    assert_eq!(hook_state(&log, "prestart")["pid"], host_pid);
    assert_eq!(hook_state(&log, "startContainer")["pid"], 1);
    for kind in ["prestart", "createRuntime", "createContainer"] {
        assert_eq!(hook_state(&log, kind)["status"], "creating", "{kind}");
    }
    assert_eq!(hook_state(&log, "poststop")["status"], "stopped");
    if !is_runc() {
        assert_eq!(hook_state(&log, "poststart")["pid"], host_pid);
        assert_eq!(hook_state(&log, "poststart")["status"], "running");
    }
}

#[test]
fn failing_prestart_hook_fails_create() {
    require_root!();
    let ctx = Ctx::new("hooks-prestart-fail");
    let mut b = ctx.bundle(&["sh", "-c", "echo ran > /ran"]);
    let marker = ctx.dir.join("second-hook-ran");
    b.config["hooks"] = json!({"prestart": [
        {"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]},
        {"path": "/bin/sh", "args": ["sh", "-c", format!("touch {}", marker.display())]}
    ]});
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_err();
    assert!(
        !ctx.state_dir(&id).exists(),
        "state left after a failed hook"
    );
    assert!(!marker.exists(), "hooks after the failing one ran");
    assert!(!b.rootfs().join("ran").exists());
    assert!(common::cgroup_dirs_named(&id).is_empty());
    assert!(
        wait_until(Duration::from_secs(5), || common::procs_with_cmdline(&id)
            .is_empty()),
        "processes left"
    );
}

#[test]
fn failing_poststop_hook_only_warns() {
    require_root!();
    let ctx = Ctx::new("hooks-poststop-fail");
    let mut b = ctx.bundle(&["true"]);
    let marker = ctx.dir.join("second-poststop");
    b.config["hooks"] = json!({"poststop": [
        {"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]},
        {"path": "/bin/sh", "args": ["sh", "-c", format!("touch {}", marker.display())]}
    ]});
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    ctx.wait_status(&id, "stopped");
    ctx.cmd(&["delete", &id]).expect_ok();
    assert!(!ctx.state_dir(&id).exists());
    if !is_runc() {
        // runc 1.1.5 skips the poststop hooks after a failing one.
        assert!(
            marker.exists(),
            "the hooks after a failing poststop hook must run"
        );
    }
}

#[test]
fn hook_args_and_env_are_exactly_as_configured() {
    require_root!();
    let ctx = Ctx::new("hooks-args-env");
    let mut b = ctx.bundle(&["true"]);
    let out_file = ctx.dir.join("hook.out");
    let env_file = ctx.dir.join("hook.env");
    // The shell adds PWD itself; everything else in the environment is the hook's env.
    let script = format!(
        "echo \"$0|$1|$FOO\" > {}; env | grep -v '^PWD=' > {}",
        out_file.display(),
        env_file.display()
    );
    b.config["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", script, "zero", "one"],
        "env": ["FOO=bar baz"]
    }]});
    b.save();
    let id = ctx.id("c");
    ctx.track(&id);
    // A variable in the runtime's environment must not reach the hook.
    ctx.cmd_opts(
        &["create", "--bundle", &b.dir_str(), &id],
        &Opts {
            env: vec![("LEAK".into(), "1".into())],
            ..Opts::default()
        },
    )
    .expect_ok();
    assert_eq!(fs::read_to_string(&out_file).unwrap(), "zero|one|bar baz\n");
    assert_eq!(
        fs::read_to_string(&env_file).unwrap(),
        "FOO=bar baz\n",
        "the hook's environment is exactly its env"
    );
}

#[test]
fn hook_timeout_fails_create_quickly() {
    require_root!();
    let ctx = Ctx::new("hooks-timeout");
    let mut b = ctx.bundle(&["true"]);
    // A distinctive duration so the test can look for the process afterwards.
    let sleep_arg = format!("9.{}", std::process::id());
    b.config["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sleep",
        "args": ["sleep", sleep_arg],
        "timeout": 1
    }]});
    let id = ctx.id("c");
    let out = ctx.create(&b, &id);
    out.expect_err();
    assert!(
        out.elapsed < Duration::from_secs(6),
        "a 1 s hook timeout took {:?}",
        out.elapsed
    );
    assert!(!ctx.state_dir(&id).exists());
    assert!(
        wait_until(Duration::from_secs(5), || common::procs_with_cmdline(
            &format!("sleep {sleep_arg}")
        )
        .is_empty()),
        "the timed-out hook is still running"
    );
}
