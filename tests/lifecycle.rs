//! The container lifecycle with real containers (root): create, start, state, kill, run,
//! delete, and what must be gone afterwards (state dir, cgroups, processes, mounts).

#[macro_use]
mod common;

use common::{is_runc, wait_until, Bundle, Ctx, Opts, Proc};
use serde_json::json;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// A program that says it is ready, then runs until /stop exists in its rootfs.
const WAIT_FOR_STOP: &str = "echo ready > /ready; while [ ! -e /stop ]; do sleep 0.05; done";

fn wait_for_file(p: &Path) -> bool {
    wait_until(Duration::from_secs(10), || p.exists())
}

/// Assert that nothing of container `id` is left: state dir, process, cgroup dirs.
#[track_caller]
fn assert_all_gone(ctx: &Ctx, id: &str, init: Option<Proc>, cgroups: &[std::path::PathBuf]) {
    let out = ctx.cmd(&["state", id]);
    out.expect_err();
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    assert!(!ctx.state_dir(id).exists(), "state dir left behind");
    if let Some(p) = init {
        assert!(p.wait_gone(), "container init {} still running", p.pid);
    }
    for d in cgroups {
        assert!(!d.exists(), "cgroup {} left behind", d.display());
    }
    let named = common::cgroup_dirs_named(id);
    assert!(named.is_empty(), "cgroup dirs left: {named:?}");
    assert!(
        common::procs_with_cmdline(id).is_empty(),
        "a process mentioning {id} is left"
    );
}

#[test]
fn create_reports_created_state_and_pid_file() {
    require_root!();
    let ctx = Ctx::new("create-state");
    let b = ctx.bundle(&["sh", "-c", "echo ran > /ran"]);
    b.save();
    let id = ctx.id("c");
    let pid_file = ctx.dir.join("init.pid");
    // A relative --bundle: the state must still report an absolute path.
    let out = ctx.cmd_opts(
        &[
            "create",
            "--bundle",
            "bundle0",
            "--pid-file",
            &pid_file.to_string_lossy(),
            &id,
        ],
        &Opts {
            cwd: Some(ctx.dir.clone()),
            ..Opts::default()
        },
    );
    out.expect_ok();

    let st = ctx.state(&id);
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["status"], "created");
    assert!(st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()));
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0, "pid {pid}");
    assert_eq!(
        st["bundle"],
        b.dir_str().as_str(),
        "bundle must be absolute"
    );
    assert_eq!(st["rootfs"], b.rootfs().to_string_lossy().as_ref());
    assert!(st["created"].as_str().is_some_and(|c| c.contains('T')));
    assert!(st["owner"].is_string(), "no owner: {st}");
    if !is_runc() {
        assert!(st["annotations"].is_object(), "no annotations: {st}");
    }

    let text = fs::read_to_string(&pid_file).unwrap();
    assert!(
        !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()),
        "pid file must hold digits only, no newline: {text:?}"
    );
    assert_eq!(text.parse::<i64>().unwrap(), pid);
    let init = Proc::of(pid as i32).expect("init exists");

    // Not started: the user program has not run.
    std::thread::sleep(Duration::from_millis(200));
    assert!(!b.rootfs().join("ran").exists(), "program ran before start");
    assert_eq!(ctx.state(&id)["status"], "created");

    ctx.start(&id).expect_ok();
    assert!(
        wait_for_file(&b.rootfs().join("ran")),
        "program did not run"
    );
    ctx.wait_status(&id, "stopped");
    assert_eq!(ctx.state(&id)["pid"], 0, "pid must be 0 once stopped");
    assert!(init.wait_gone());
    // A second start of a stopped container is an error.
    ctx.start(&id).expect_err();
}

#[test]
fn list_shows_the_container() {
    require_root!();
    let ctx = Ctx::new("list");
    let b = ctx.bundle(&["true"]);
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    let q = ctx.cmd(&["list", "--quiet"]);
    q.expect_ok();
    assert_eq!(q.stdout.lines().collect::<Vec<_>>(), vec![id.as_str()]);
    let j = ctx.cmd(&["list", "--format", "json"]);
    j.expect_ok();
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    let arr = v.as_array().expect("list json is an array");
    assert_eq!(arr.len(), 1);
    assert_eq!(arr[0]["id"], id.as_str());
    assert_eq!(arr[0]["status"], "created");
    let t = ctx.cmd(&["list"]);
    t.expect_ok();
    assert!(t
        .stdout
        .lines()
        .any(|l| l.starts_with(&id) && l.contains("created")));
}

#[test]
fn running_then_stopped_and_kill_of_stopped_fails() {
    require_root!();
    let ctx = Ctx::new("running");
    let b = ctx.bundle(&["sh", "-c", WAIT_FOR_STOP]);
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    assert!(wait_for_file(&b.rootfs().join("ready")));
    assert_eq!(ctx.state(&id)["status"], "running");
    let init = ctx.init_proc(&id);
    assert!(init.alive());
    fs::write(b.rootfs().join("stop"), "").unwrap();
    ctx.wait_status(&id, "stopped");
    assert!(init.wait_gone());
    let out = ctx.cmd(&["kill", &id, "KILL"]);
    out.expect_err();
    assert!(
        out.stderr.contains("container not running"),
        "kill of a stopped container: {}",
        out.stderr
    );
}

#[test]
fn kill_accepts_signal_names_and_numbers() {
    require_root!();
    let ctx = Ctx::new("kill-sigs");
    // The init is pid 1 in its namespace: only a trapped TERM ends it, KILL always does.
    let prog = "trap 'echo TERM > /got; exit 0' TERM; echo ready > /ready; \
                while true; do sleep 0.05; done";
    let cases: [(&str, Option<&str>, bool); 5] = [
        ("term", Some("TERM"), true),
        ("sigterm", Some("SIGTERM"), true),
        ("num", Some("15"), true),
        ("default", None, true),
        ("kill", Some("KILL"), false),
    ];
    for (tag, sig, trapped) in cases {
        let b = ctx.bundle(&["sh", "-c", prog]);
        let id = ctx.id(tag);
        ctx.create(&b, &id).expect_ok();
        ctx.start(&id).expect_ok();
        assert!(wait_for_file(&b.rootfs().join("ready")), "{tag}: not ready");
        let mut args = vec!["kill", id.as_str()];
        args.extend(sig);
        ctx.cmd(&args).expect_ok();
        ctx.wait_status(&id, "stopped");
        assert_eq!(
            b.rootfs().join("got").exists(),
            trapped,
            "{tag}: wrong signal delivered"
        );
        ctx.cmd(&["delete", &id]).expect_ok();
    }
    // An unknown signal is an error and leaves the container alone.
    let b = ctx.bundle(&["sh", "-c", prog]);
    let id = ctx.id("bogus");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    ctx.cmd(&["kill", &id, "SIGBOGUS"]).expect_err();
    assert_eq!(ctx.state(&id)["status"], "running");
}

/// `kill --all` signals every process of the container, not only the init.
#[test]
fn kill_all_reaches_every_process() {
    require_root!();
    let ctx = Ctx::new("kill-all");
    // Without a pid namespace, killing the init alone would leave the children running.
    let mut b = ctx.bundle(&[
        "sh",
        "-c",
        "sleep 1000 & echo $! > /p1; sleep 1000 & echo $! > /p2; echo ready > /ready; wait",
    ]);
    b.remove_namespace("pid");
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    assert!(wait_for_file(&b.rootfs().join("ready")));
    let children: Vec<Proc> = ["p1", "p2"]
        .iter()
        .map(|f| {
            let pid = fs::read_to_string(b.rootfs().join(f)).unwrap();
            Proc::of(pid.trim().parse().unwrap()).expect("child runs")
        })
        .collect();
    let init = ctx.init_proc(&id);
    ctx.cmd(&["kill", "--all", &id, "KILL"]).expect_ok();
    for p in children.iter().chain([&init]) {
        assert!(p.wait_gone(), "pid {} survived kill --all", p.pid);
    }
    ctx.wait_status(&id, "stopped");
}

#[test]
fn run_exits_with_the_container_status() {
    require_root!();
    let ctx = Ctx::new("run-exit");
    let b = ctx.bundle(&["sh", "-c", "echo hello; exit 42"]);
    let id = ctx.id("c");
    let out = ctx.run(&b, &id);
    assert_eq!(out.code(), Some(42), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "hello\n", "container stdout is the caller's");
    // run without --keep deletes the container.
    assert_all_gone(&ctx, &id, None, &[]);
}

#[test]
fn run_exits_128_plus_signal() {
    require_root!();
    let ctx = Ctx::new("run-signal");
    // Without a pid namespace the shell is not an init, so it can kill itself.
    let mut b = ctx.bundle(&["sh", "-c", "kill -9 $$"]);
    b.remove_namespace("pid");
    let out = ctx.run(&b, &ctx.id("self"));
    assert_eq!(out.code(), Some(137), "stderr: {}", out.stderr);

    // Killed from outside while `run` waits.
    let b = ctx.bundle(&["sh", "-c", WAIT_FOR_STOP]);
    b.save();
    let id = ctx.id("outside");
    let (child, _, err) = ctx.spawn(&["run", "--bundle", &b.dir_str(), &id]);
    assert!(wait_for_file(&b.rootfs().join("ready")));
    ctx.cmd(&["kill", &id, "KILL"]).expect_ok();
    let st = common::wait_child(child, Duration::from_secs(20), "run");
    assert_eq!(
        st.code(),
        Some(137),
        "stderr: {}",
        fs::read_to_string(err).unwrap_or_default()
    );
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    require_root!();
    let ctx = Ctx::new("run-keep");
    let b = ctx.bundle(&["sh", "-c", "exit 3"]);
    b.save();
    let id = ctx.id("c");
    let out = ctx.cmd(&["run", "--keep", "--bundle", &b.dir_str(), &id]);
    assert_eq!(out.code(), Some(3), "stderr: {}", out.stderr);
    assert_eq!(ctx.state(&id)["status"], "stopped");
    ctx.cmd(&["delete", &id]).expect_ok();
    assert_all_gone(&ctx, &id, None, &[]);
}

#[test]
fn run_detach_returns_while_the_container_runs() {
    require_root!();
    let ctx = Ctx::new("run-detach");
    let b = ctx.bundle(&["sh", "-c", WAIT_FOR_STOP]);
    b.save();
    let id = ctx.id("c");
    ctx.track(&id);
    ctx.cmd(&["run", "--detach", "--bundle", &b.dir_str(), &id])
        .expect_ok();
    assert!(wait_for_file(&b.rootfs().join("ready")));
    assert_eq!(ctx.state(&id)["status"], "running");
    let init = ctx.init_proc(&id);
    fs::write(b.rootfs().join("stop"), "").unwrap();
    ctx.wait_status(&id, "stopped");
    assert!(init.wait_gone());
    ctx.cmd(&["delete", &id]).expect_ok();
    assert_all_gone(&ctx, &id, Some(init), &[]);
}

/// SECURITY.md attack 17: two concurrent creates of one id.
#[test]
fn concurrent_creates_of_one_id_exactly_one_wins() {
    require_root!();
    berth_only!("runc 1.1.5 loses this race: both creates fail, or the loser removes the winner");
    let ctx = Ctx::new("create-race");
    for round in 0..5 {
        let id = ctx.id(&format!("r{round}"));
        let bundles: Vec<Bundle> = (0..2)
            .map(|_| {
                let b = ctx.bundle(&["sh", "-c", "echo ran > /ran"]);
                b.save();
                b
            })
            .collect();
        let children: Vec<_> = bundles
            .iter()
            .map(|b| ctx.spawn(&["create", "--bundle", &b.dir_str(), &id]))
            .collect();
        let mut errors = String::new();
        let results: Vec<bool> = children
            .into_iter()
            .map(|(c, _, err)| {
                let st = common::wait_child(c, Duration::from_secs(60), "create");
                errors += &fs::read_to_string(&err).unwrap_or_default();
                st.success()
            })
            .collect();
        assert_eq!(
            results.iter().filter(|ok| **ok).count(),
            1,
            "round {round}: results {results:?}, stderr: {errors}"
        );
        let winner = &bundles[results.iter().position(|ok| *ok).unwrap()];
        let loser = &bundles[results.iter().position(|ok| !*ok).unwrap()];
        let st = ctx.state(&id);
        assert_eq!(st["status"], "created");
        assert_eq!(
            st["bundle"],
            winner.dir_str().as_str(),
            "state was corrupted"
        );
        assert!(ctx.init_proc(&id).alive());
        assert!(common::procs_with_cmdline(&loser.dir_str()).is_empty());
        ctx.start(&id).expect_ok();
        assert!(wait_for_file(&winner.rootfs().join("ran")));
        assert!(!loser.rootfs().join("ran").exists());
        ctx.wait_status(&id, "stopped");
        ctx.cmd(&["delete", &id]).expect_ok();
    }
}

#[test]
fn delete_refuses_a_running_container_and_force_kills_it() {
    require_root!();
    let ctx = Ctx::new("delete-running");
    let b = ctx.bundle(&["sh", "-c", WAIT_FOR_STOP]);
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    assert!(wait_for_file(&b.rootfs().join("ready")));
    let init = ctx.init_proc(&id);
    let cgroups = common::proc_cgroup_dirs(init.pid);
    assert!(
        !cgroups.is_empty(),
        "the container is in no cgroup of its own"
    );

    ctx.cmd(&["delete", &id]).expect_err();
    assert_eq!(
        ctx.state(&id)["status"],
        "running",
        "delete changed the state"
    );
    assert!(init.alive(), "delete without --force killed the container");
    assert!(cgroups.iter().all(|d| d.exists()));

    ctx.cmd(&["delete", "--force", &id]).expect_ok();
    assert_all_gone(&ctx, &id, Some(init), &cgroups);
}

#[test]
fn delete_force_kills_a_created_container() {
    require_root!();
    let ctx = Ctx::new("delete-created");
    let b = ctx.bundle(&["sh", "-c", "echo ran > /ran"]);
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    let init = ctx.init_proc(&id);
    let cgroups = common::proc_cgroup_dirs(init.pid);
    ctx.cmd(&["delete", "--force", &id]).expect_ok();
    assert_all_gone(&ctx, &id, Some(init), &cgroups);
    assert!(!b.rootfs().join("ran").exists(), "the program ran");
}

/// The spec makes delete of a container that is not stopped an error; runc deletes it.
#[test]
fn delete_of_a_created_container_without_force_is_an_error() {
    require_root!();
    berth_only!("runc deletes a created container without --force");
    let ctx = Ctx::new("delete-created-noforce");
    let b = ctx.bundle(&["true"]);
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    let init = ctx.init_proc(&id);
    ctx.cmd(&["delete", &id]).expect_err();
    assert_eq!(ctx.state(&id)["status"], "created");
    assert!(init.alive());
}

/// berth's default cgroup is /berth-<id> in every hierarchy (no parent to make and
/// remove), and delete removes it.
#[test]
fn default_cgroup_is_berth_id_in_every_hierarchy() {
    require_root!();
    berth_only!("runc's default cgroup is <caller's cgroup>/<id>");
    let ctx = Ctx::new("cgroup-default");
    let b = ctx.bundle(&["sleep", "1000"]);
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    let path = format!("/berth-{id}");
    let dirs = common::cgroup_dirs(&path);
    let mounts = common::cgroup_mounts();
    assert_eq!(
        dirs.len(),
        mounts.len(),
        "{path} exists in {dirs:?}, hierarchies {mounts:?}"
    );
    let init = ctx.init_proc(&id);
    let mut own = common::proc_cgroup_dirs(init.pid);
    own.sort();
    let mut want = dirs.clone();
    want.sort();
    assert_eq!(own, want, "the init is not in {path} everywhere");
    ctx.cmd(&["delete", "--force", &id]).expect_ok();
    assert_all_gone(&ctx, &id, Some(init), &dirs);
}

#[test]
fn cgroups_path_is_used_and_removed() {
    require_root!();
    let ctx = Ctx::new("cgroup-path");
    let mut b = ctx.bundle(&["sleep", "1000"]);
    let id = ctx.id("c");
    let path = format!("/{id}-cg");
    ctx.track_cgroup(&path);
    b.config["linux"]["cgroupsPath"] = json!(path);
    ctx.create(&b, &id).expect_ok();
    let init = ctx.init_proc(&id);
    let own = common::proc_cgroup_dirs(init.pid);
    let dirs = common::cgroup_dirs(&path);
    assert!(!dirs.is_empty(), "{path} was created nowhere");
    assert_eq!(
        own.len(),
        dirs.len(),
        "init's cgroups {own:?} vs {path} dirs {dirs:?}"
    );
    for d in &own {
        assert!(d.ends_with(path.trim_start_matches('/')), "{}", d.display());
    }
    if !is_runc() {
        assert_eq!(dirs.len(), common::cgroup_mounts().len(), "{dirs:?}");
    }
    ctx.cmd(&["delete", "--force", &id]).expect_ok();
    assert!(init.wait_gone());
    let left = common::cgroup_dirs(&path);
    assert!(left.is_empty(), "left: {left:?}");
}

/// A create that fails leaves nothing behind; checks shared by the failure tests.
#[track_caller]
fn assert_failed_create_left_nothing(ctx: &Ctx, b: &Bundle, id: &str) {
    assert!(!ctx.state_dir(id).exists(), "state dir left behind");
    let named = common::cgroup_dirs_named(id);
    assert!(named.is_empty(), "cgroups left: {named:?}");
    assert!(
        wait_until(Duration::from_secs(5), || common::procs_with_cmdline(id)
            .is_empty()),
        "processes left: {:?}",
        common::procs_with_cmdline(id)
    );
    let bundle = b.dir_str();
    let mounts: Vec<String> = common::mountinfo()
        .lines()
        .filter(|l| l.contains(&bundle))
        .map(String::from)
        .collect();
    assert!(mounts.is_empty(), "mounts left on the host: {mounts:?}");
    let out = ctx.cmd(&["state", id]);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
}

#[test]
fn failed_create_from_a_hook_leaves_nothing() {
    require_root!();
    let ctx = Ctx::new("fail-hook");
    let mut b = ctx.bundle(&["sleep", "1000"]);
    let state = ctx.dir.join("hook-state.json");
    b.config["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("cat > {}; exit 7", state.display())]
    }]});
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_err();
    let st: serde_json::Value = serde_json::from_slice(&fs::read(&state).unwrap()).unwrap();
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert!(pid > 0);
    assert!(
        wait_until(Duration::from_secs(10), || Proc::of(pid)
            .is_none_or(|p| !p.alive())),
        "the container init {pid} survived a failed create"
    );
    assert_failed_create_left_nothing(&ctx, &b, &id);
}

#[test]
fn failed_create_from_a_missing_bind_source_leaves_nothing() {
    require_root!();
    let ctx = Ctx::new("fail-bind");
    let mut b = ctx.bundle(&["true"]);
    let src = ctx.dir.join("no-such-dir");
    b.add_bind(&src, "/data", &[]);
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_err();
    assert_failed_create_left_nothing(&ctx, &b, &id);
    assert!(!src.exists(), "the bind source was created");
}

/// berth killed with SIGKILL in the middle of create (here while a createRuntime hook
/// runs, after the cgroup exists but before the state record is written): `delete
/// --force` still finds and removes the cgroup, from the path create noted on taking
/// it, and leaves nothing else.
#[test]
fn delete_after_berth_was_killed_mid_create_leaves_nothing() {
    require_root!();
    berth_only!("runc leaves its cgroup behind here");
    let ctx = Ctx::new("lc-crash");
    let mut b = ctx.bundle(&["sleep", "60"]);
    let held = common::HeldCreate::install(&mut b, &ctx.dir);
    let id = ctx.id("c");
    let (mut berth, _, _) = ctx.spawn(&["create", "--bundle", &b.dir_str(), &id]);
    assert!(held.wait_ran(), "hook never ran");
    assert!(
        !common::cgroup_dirs_named(&id).is_empty(),
        "the cgroup exists while the hook runs"
    );
    berth.kill().unwrap();
    let _ = berth.wait();
    held.release();
    ctx.cmd(&["delete", "--force", &id]).expect_ok();
    assert_all_gone(&ctx, &id, None, &[]);
}
