//! `exec` (root): every flag, exit codes, the namespaces and cgroup it joins, and
//! SECURITY.md attacks 1, 6, 13, 14 and 18 as they apply to exec.

#[macro_use]
mod common;

use common::Ctx;
use serde_json::json;
use std::fs;
use std::time::Duration;

fn running(ctx: &Ctx, tag: &str) -> String {
    let b = ctx.bundle(&["sleep", "300"]);
    b.save();
    let id = ctx.id(tag);
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    id
}

#[test]
fn exec_runs_in_the_container_and_returns_its_status() {
    require_root!();
    let ctx = Ctx::new("exec-basic");
    let id = running(&ctx, "c");
    let pid = ctx.state(&id)["pid"].as_i64().unwrap();
    let out = ctx.cmd(&[
        "exec",
        &id,
        "sh",
        "-c",
        "for n in pid net mnt uts ipc cgroup; do readlink /proc/self/ns/$n; done; exit 7",
    ]);
    assert_eq!(out.code(), Some(7), "{}", out.stderr);
    for (line, n) in out
        .stdout
        .lines()
        .zip(["pid", "net", "mnt", "uts", "ipc", "cgroup"])
    {
        let init = fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap();
        assert_eq!(line, init.to_string_lossy(), "{n} namespace not joined");
    }
    let out = ctx.cmd(&["exec", &id, "sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.code(), Some(128 + 15));
    let out = ctx.cmd(&["exec", &id, "no-such-binary"]);
    out.expect_err();
    assert!(
        out.stderr.contains("executable file not found"),
        "{}",
        out.stderr
    );
}

#[test]
fn exec_flags_env_cwd_user_groups_nnp() {
    require_root!();
    let ctx = Ctx::new("exec-flags");
    let id = running(&ctx, "c");
    let out = ctx.cmd(&[
        "exec",
        "-e",
        "FOO=bar",
        "--cwd",
        "/tmp",
        "-u",
        "1000:1000",
        "-g",
        "10",
        "-g",
        "20",
        "--no-new-privs",
        &id,
        "sh",
        "-c",
        "echo $FOO; pwd; id -u; id -g; id -G; grep NoNewPrivs /proc/self/status",
    ]);
    out.expect_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[..4],
        ["bar", "/tmp", "1000", "1000"],
        "{}",
        out.stdout
    );
    assert!(
        lines[4]
            .split_whitespace()
            .collect::<Vec<_>>()
            .contains(&"10"),
        "{}",
        lines[4]
    );
    assert!(lines[4].contains("20"), "{}", lines[4]);
    assert!(lines[5].ends_with("1"), "{}", lines[5]);
}

/// Attack 14 (CVE-2016-3697): `--user 1` is uid 1, even if a user named "1" exists.
#[test]
fn numeric_user_is_a_uid() {
    require_root!();
    let ctx = Ctx::new("exec-uid1");
    let b = ctx.bundle(&["sleep", "300"]);
    let passwd = b.rootfs().join("etc/passwd");
    let mut text = fs::read_to_string(&passwd).unwrap();
    text.push_str("1:x:4242:4242::/:/bin/sh\n");
    fs::write(&passwd, text).unwrap();
    b.save();
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    let out = ctx.cmd(&["exec", "--user", "1", &id, "id", "-u"]);
    out.expect_ok();
    assert_eq!(out.stdout, "1\n");
}

/// Attack 13 (CVE-2022-29162): `exec --cap` gives no inheritable or ambient capability.
#[test]
fn exec_cap_is_never_inheritable() {
    require_root!();
    let ctx = Ctx::new("exec-cap");
    let id = running(&ctx, "c");
    let out = ctx.cmd(&[
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        &id,
        "grep",
        "Cap",
        "/proc/self/status",
    ]);
    out.expect_ok();
    let field = |f: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{f}:\t")))
            .unwrap()
            .to_string()
    };
    assert_eq!(field("CapInh"), "0000000000000000");
    assert_eq!(field("CapAmb"), "0000000000000000");
    let eff = u64::from_str_radix(&field("CapEff"), 16).unwrap();
    assert!(
        eff & (1 << 21) != 0,
        "CAP_SYS_ADMIN not effective: {}",
        out.stdout
    );
}

/// Attack 6: exec as another user does not chown the host's /dev/null.
#[test]
fn exec_user_leaves_host_dev_null_alone() {
    require_root!();
    let ctx = Ctx::new("exec-devnull");
    let id = running(&ctx, "c");
    ctx.cmd(&[
        "exec",
        "--user",
        "1000:1000",
        &id,
        "sh",
        "-c",
        "echo x > /dev/null",
    ])
    .expect_ok();
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata("/dev/null").unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0));
}

#[test]
fn exec_detach_pid_file_and_process_json() {
    require_root!();
    let ctx = Ctx::new("exec-detach");
    let id = running(&ctx, "c");
    let pidfile = ctx.dir.join("exec.pid");
    let out = ctx.cmd(&[
        "exec",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
        "sleep",
        "300",
    ]);
    out.expect_ok();
    let text = fs::read_to_string(&pidfile).unwrap();
    assert!(
        !text.ends_with('\n') && text.parse::<i32>().is_ok(),
        "{text:?}"
    );
    let ps = ctx.cmd(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_str(&ps.stdout).unwrap();
    assert!(pids.contains(&text.parse::<i64>().unwrap()), "{pids:?}");

    let proc_json = ctx.dir.join("process.json");
    fs::write(
        &proc_json,
        json!({"args": ["sh", "-c", "echo $X; pwd"], "env": ["X=from-file", "PATH=/bin"],
        "cwd": "/etc", "user": {"uid": 0, "gid": 0}})
        .to_string(),
    )
    .unwrap();
    let out = ctx.cmd(&["exec", "--process", proc_json.to_str().unwrap(), &id]);
    out.expect_ok();
    assert_eq!(out.stdout, "from-file\n/etc\n");
}

/// exec refuses paused (without --ignore-paused) and stopped containers, LSM flags,
/// and `..` in --cgroup (SECURITY.md attack 18).
#[test]
fn exec_refuses_stopped_paused_and_lsm_flags() {
    require_root!();
    let ctx = Ctx::new("exec-refuse");
    let id = running(&ctx, "c");
    ctx.cmd(&["pause", &id]).expect_ok();
    let out = ctx.cmd(&["exec", &id, "true"]);
    out.expect_err();
    ctx.cmd(&["exec", "--ignore-paused", "-d", &id, "true"])
        .expect_ok();
    ctx.cmd(&["resume", &id]).expect_ok();
    for flag in [["--apparmor", "p"], ["--process-label", "l"]] {
        let out = ctx.cmd(&["exec", flag[0], flag[1], &id, "true"]);
        out.expect_err();
        assert!(out.stderr.contains("LSM"), "{}", out.stderr);
    }
    // Attack 18: no ".." in --cgroup.
    let out = ctx.cmd(&["exec", "--cgroup", "../../escape", &id, "true"]);
    out.expect_err();
    ctx.cmd(&["kill", &id, "KILL"]).expect_ok();
    ctx.wait_status(&id, "stopped");
    let out = ctx.cmd(&["exec", &id, "true"]);
    out.expect_err();
    assert!(out.stderr.contains("not running"), "{}", out.stderr);
}

#[test]
fn exec_preserve_fds_and_tty() {
    require_root!();
    let ctx = Ctx::new("exec-fds");
    let id = running(&ctx, "c");
    let extra = ctx.dir.join("extra");
    fs::write(&extra, "passed").unwrap();
    let opts = common::Opts {
        fds: vec![(extra.clone(), 3)],
        ..Default::default()
    };
    let out = ctx.cmd_opts(
        &["exec", "--preserve-fds", "1", &id, "sh", "-c", "cat <&3"],
        &opts,
    );
    out.expect_ok();
    assert_eq!(out.stdout, "passed");
    // Without --preserve-fds the same inherited fd does not reach the process.
    let out = ctx.cmd_opts(
        &[
            "exec",
            &id,
            "sh",
            "-c",
            "if (: <&3) 2>/dev/null; then echo open; else echo closed; fi",
        ],
        &opts,
    );
    out.expect_ok();
    assert_eq!(out.stdout, "closed\n");
    // A detached tty needs someone to hold the master (a foreground one is proxied:
    // tests/terminal.rs).
    let out = ctx.cmd(&["exec", "-d", "-t", &id, "true"]);
    out.expect_err();
    assert!(
        out.stderr.contains("without setting console socket"),
        "{}",
        out.stderr
    );
}

/// Attack 1 (CVE-2019-5736): a container that keeps trying to get a handle on the
/// binary of any process in it, while berth execs into it again and again, never
/// gets one, and berth's binary is unchanged.
#[test]
fn exe_of_exec_stages_is_out_of_reach() {
    require_root!();
    berth_only!("exercises berth's own stages");
    let ctx = Ctx::new("exec-exe");
    let hammer = "me=$(readlink /proc/self/exe); while :; do for p in /proc/[0-9]*; do \
        [ \"$(readlink $p/exe 2>/dev/null)\" = \"$me\" ] && continue; \
        if (exec 3< $p/exe) 2>/dev/null; then echo GOT $(readlink $p/exe); fi; \
        done; done";
    let b = ctx.bundle(&["sh", "-c", hammer]);
    b.save();
    let id = ctx.id("c");
    let created = ctx.create(&b, &id);
    created.expect_ok();
    ctx.start(&id).expect_ok();
    let bin = common::runtime_path();
    let before = fs::read(&bin).unwrap();
    for _ in 0..20 {
        ctx.cmd(&["exec", &id, "true"]).expect_ok();
    }
    std::thread::sleep(Duration::from_millis(200));
    let seen = fs::read_to_string(&created.stdout_path).unwrap_or_default();
    assert!(
        !seen.contains("berth"),
        "the container got a handle on berth's binary: {seen}"
    );
    assert!(fs::read(&bin).unwrap() == before, "berth's binary changed");
}

/// The program starts with no signal ignored, as under runc (berth's own runtime
/// ignores SIGPIPE, and an ignored signal survives execve): for run and for exec.
#[test]
fn programs_start_with_default_signal_dispositions() {
    require_root!();
    let ctx = Ctx::new("exec-sigign");
    // grep itself, not `sh -c`: busybox sh ignores SIGQUIT before exec'ing a lone command.
    let b = ctx.bundle(&["grep", "SigIgn", "/proc/self/status"]);
    b.save();
    assert_eq!(ctx.run_ok(&b, "r"), "SigIgn:\t0000000000000000\n");
    let id = running(&ctx, "c");
    let out = ctx.cmd(&["exec", &id, "grep", "SigIgn", "/proc/self/status"]);
    out.expect_ok();
    assert_eq!(out.stdout, "SigIgn:\t0000000000000000\n");
}

/// exec errors reach --log like every other verb's (containerd and Docker show the
/// log's last msg to the user).
#[test]
fn exec_errors_reach_the_json_log() {
    require_root!();
    berth_only!("runc's wording differs");
    let ctx = Ctx::new("exec-log");
    let id = running(&ctx, "c");
    let log = ctx.dir.join("exec-log.json");
    let out = ctx.cmd(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "exec",
        "-d",
        &id,
        "/nonexistent",
    ]);
    out.expect_err();
    let text = fs::read_to_string(&log).unwrap_or_default();
    let last: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap_or("{}")).unwrap();
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"]
            .as_str()
            .unwrap_or("")
            .contains("no such file or directory"),
        "{text}"
    );
}
