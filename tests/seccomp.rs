//! linux.seccomp in real containers (root): each action, operator, defaultErrnoRet,
//! runc's -ENOSYS, NOTIFY with an agent, the podman default profile (also under
//! runc), and the i386/x32 escape (SECURITY.md attack 20). `differential` compares
//! berth's filters with libseccomp's on random profiles (no root).

#[macro_use]
mod common;
#[path = "seccomp/differential.rs"]
mod differential;

use common::{Bundle, Ctx};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

include!("data/containers_profile.rs");

/// tests/data/sysprobe.c, built static once (or `BERTH_SYSPROBE`, a prebuilt one: the
/// VM lane's guest has no compiler).
fn sysprobe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        if let Some(p) = std::env::var_os("BERTH_SYSPROBE") {
            return PathBuf::from(p);
        }
        common::build_static_c("sysprobe")
    })
}

/// Put sysprobe in the bundle's /bin and the profile in linux.seccomp.
fn with_seccomp(b: &mut Bundle, profile: Value) {
    std::fs::copy(sysprobe(), b.rootfs().join("bin/sysprobe")).unwrap();
    b.config["linux"]["seccomp"] = profile;
}

fn deny(names: &[&str], rule: Value) -> Value {
    let mut r = rule;
    r["names"] = json!(names);
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [r]})
}

const MKDIR: [&str; 2] = ["mkdir", "mkdirat"];

#[test]
fn errno_with_errno_ret_and_allow() {
    require_root!();
    let ctx = Ctx::new("sc-errno");
    let out = ctx.run_sh(
        "c",
        "mkdir /tmp/a 2>&1; echo rc=$?; [ -d /tmp/a ] || echo absent; touch /tmp/f && echo touched",
        |b| {
            // ENOSPC: a message nothing else would give.
            with_seccomp(
                b,
                deny(&MKDIR, json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 28})),
            );
        },
    );
    assert!(out.contains("No space left on device"), "{out}");
    assert!(
        out.contains("rc=1") && out.contains("absent") && out.contains("touched"),
        "{out}"
    );
    // Without errnoRet: EPERM.
    let out = ctx.run_sh("d", "mkdir /tmp/a 2>&1; true", |b| {
        with_seccomp(b, deny(&MKDIR, json!({"action": "SCMP_ACT_ERRNO"})));
    });
    assert!(out.contains("Operation not permitted"), "{out}");
}

#[test]
fn kill_actions_end_the_process_with_sigsys() {
    require_root!();
    let ctx = Ctx::new("sc-kill");
    for (tag, action) in [
        ("k", "SCMP_ACT_KILL"),
        ("t", "SCMP_ACT_KILL_THREAD"),
        ("p", "SCMP_ACT_KILL_PROCESS"),
        ("trap", "SCMP_ACT_TRAP"),
    ] {
        let out = ctx.run_sh(tag, "mkdir /tmp/a; echo rc=$?", |b| {
            b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_CORE", "hard": 0, "soft": 0}]);
            with_seccomp(b, deny(&MKDIR, json!({"action": action})));
        });
        // 128 + SIGSYS (31)
        assert_eq!(out.trim(), "rc=159", "{action}");
    }
    // TRAP is a signal the program can handle: the handler sees the call (gettid:
    // busybox sh itself calls getpid and getppid).
    let out = ctx.run_sh("h", "sysprobe trap 186", |b| {
        with_seccomp(b, deny(&["gettid"], json!({"action": "SCMP_ACT_TRAP"})));
    });
    assert_eq!(out.trim(), "trapped 186");
}

#[test]
fn log_allows_and_trace_without_a_tracer_is_enosys() {
    require_root!();
    let ctx = Ctx::new("sc-log-trace");
    let out = ctx.run_sh("log", "mkdir /tmp/a && [ -d /tmp/a ] && echo made", |b| {
        with_seccomp(b, deny(&MKDIR, json!({"action": "SCMP_ACT_LOG"})));
    });
    assert_eq!(out.trim(), "made");
    let out = ctx.run_sh("trace", "mkdir /tmp/a 2>&1; true", |b| {
        with_seccomp(
            b,
            deny(&MKDIR, json!({"action": "SCMP_ACT_TRACE", "errnoRet": 5})),
        );
    });
    assert!(out.contains("Function not implemented"), "{out}");
}

#[test]
fn every_operator_on_64_bit_arguments() {
    require_root!();
    // One id-query call per operator, whose arguments the kernel ignores.
    let v: u64 = 0x1_0000_0005;
    type Cmp = fn(u64, u64) -> bool;
    let calls: [(u32, &str, Cmp); 6] = [
        (39, "SCMP_CMP_EQ", |a, b| a == b),
        (110, "SCMP_CMP_NE", |a, b| a != b),
        (102, "SCMP_CMP_LT", |a, b| a < b),
        (107, "SCMP_CMP_LE", |a, b| a <= b),
        (104, "SCMP_CMP_GT", |a, b| a > b),
        (108, "SCMP_CMP_GE", |a, b| a >= b),
    ];
    let names = [
        "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid",
    ];
    let mut rules: Vec<Value> = calls
        .iter()
        .zip(names)
        .map(|((_, op, _), n)| {
            json!({"names": [n], "action": "SCMP_ACT_ERRNO", "errnoRet": 33,
                   "args": [{"index": 0, "value": v, "op": op}]})
        })
        .collect();
    // MASKED_EQ on gettid: (a1 & 0xff00000000) == 0x1200000000
    rules.push(json!({"names": ["gettid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33,
        "args": [{"index": 1, "value": 0xff_0000_0000u64, "valueTwo": 0x12_0000_0000u64, "op": "SCMP_CMP_MASKED_EQ"}]}));
    let probes = [5u64, v - 1, v, v + 1, 0x2_0000_0000];
    let mut script = String::new();
    for (nr, _, _) in &calls {
        for p in probes {
            script += &format!("sysprobe call {nr} {p:#x}; ");
        }
    }
    for a1 in [0x12_0000_0000u64, 0x12_ffff_ffff, 0x13_0000_0000] {
        script += &format!("sysprobe call 186 0 {a1:#x}; ");
    }
    let ctx = Ctx::new("sc-ops");
    let out = ctx.run_sh("c", &script, |b| {
        with_seccomp(
            b,
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}),
        );
    });
    let lines: Vec<&str> = out.lines().collect();
    let mut want = vec![];
    for (_, _, f) in &calls {
        for p in probes {
            want.push(f(p, v));
        }
    }
    want.extend([true, true, false]);
    assert_eq!(lines.len(), want.len(), "{out}");
    for (i, (l, denied)) in lines.iter().zip(&want).enumerate() {
        assert_eq!(l.starts_with("errno 33"), *denied, "probe {i}: {l}\n{out}");
    }
}

#[test]
fn default_errno_ret_and_enosys_for_newer_calls_under_podmans_profile() {
    require_root!();
    let ctx = Ctx::new("sc-default");
    let mut p = containers_profile(&common::DEFAULT_CAPS);
    p["defaultErrnoRet"] = json!(1);
    // Take mkdir/mkdirat out of the allow lists: the default action applies.
    for s in p["syscalls"].as_array_mut().unwrap() {
        s["names"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n != "mkdir" && n != "mkdirat");
    }
    p["syscalls"]
        .as_array_mut()
        .unwrap()
        .retain(|s| !s["names"].as_array().unwrap().is_empty());
    let out = ctx.run_sh(
        "c",
        // 180 is nfsservctl (gone from the kernel, not in the profile): the default.
        // 1000 is above every call the profile names: runc's ENOSYS.
        "mkdir /tmp/a 2>&1; sysprobe call 180; sysprobe call 1000",
        |b| with_seccomp(b, p),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("Operation not permitted"), "{out}");
    assert_eq!(&lines[1..], ["errno 1", "errno 38"], "{out}");
}

const PODMAN_SCRIPT: &str = "echo hello; ls /bin/sh; cat /etc/group | head -1; \
    rm -rf /tmp/d; mkdir /tmp/d && echo mkdir ok; sysprobe call 135 0; sysprobe call 135 1; \
    sysprobe call 321; sysprobe call 1000; sysprobe abis";

fn podman_expected(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 11, "{out}");
    let want = [
        "hello",
        "/bin/sh",
        "root:x:0:",
        "mkdir ok",
        "ret 0",    // personality(PER_LINUX): allowed
        "errno 38", // personality(1): the default action, ERRNO(ENOSYS)
        "errno 1",  // bpf without CAP_SYS_ADMIN: ERRNO(EPERM)
        "errno 38", // above every call the profile names
    ];
    assert_eq!(&lines[..8], &want[..], "{out}");
    assert!(lines[8].starts_with("x86_64: ret "), "{out}");
    assert!(lines[9].starts_with("i386: ret "), "{out}");
    // The kernel has no x32 ABI here: ENOSYS either way.
    assert_eq!(lines[10], "x32: errno 38", "{out}");
}

#[test]
fn podmans_profile_runs_busybox_like_under_runc() {
    require_root!();
    let ctx = Ctx::new("sc-podman");
    let profile = containers_profile(&common::DEFAULT_CAPS);
    for nnp in [true, false] {
        let mut b = ctx.bundle(&["sh", "-c", PODMAN_SCRIPT]);
        with_seccomp(&mut b, profile.clone());
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        let out = ctx.run_ok(&b, if nnp { "nnp" } else { "privs" });
        podman_expected(&out);
        let runc = Path::new("/usr/sbin/runc");
        if !runc.exists() {
            eprintln!("note: /usr/sbin/runc not installed: not comparing with runc");
            continue;
        }
        // The same bundle under runc gives the same answers.
        let root = ctx.mkdir(if nnp { "runc-root-nnp" } else { "runc-root" });
        let id = format!("sc-podman-runc-{}-{nnp}", std::process::id());
        let o = Command::new(runc)
            .arg("--root")
            .arg(&root)
            .args(["run", "--bundle"])
            .arg(&b.dir)
            .arg(&id)
            .stdin(Stdio::null())
            .output()
            .expect("run runc");
        let _ = Command::new(runc)
            .arg("--root")
            .arg(&root)
            .args(["delete", "-f", &id])
            .output();
        let runc_out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "runc: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let strip_pids = |s: &str| -> Vec<String> {
            s.lines()
                .map(|l| match l.split_once(": ret ") {
                    Some((abi, _)) => format!("{abi}: ret <pid>"),
                    None => l.to_string(),
                })
                .collect()
        };
        assert_eq!(strip_pids(&out), strip_pids(&runc_out), "berth vs runc");
    }
}

/// SECURITY.md attack 20: under an x86_64 profile that denies getpid, the i386
/// (int 0x80) and x32 variants do not succeed either.
#[test]
fn x86_64_profile_stops_i386_and_x32_getpid() {
    require_root!();
    let ctx = Ctx::new("sc-abis");
    let deny_getpid = |archs: Value| {
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": archs,
               "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]})
    };
    let out = ctx.run_sh("x64", "sysprobe abis", |b| {
        with_seccomp(b, deny_getpid(json!(["SCMP_ARCH_X86_64"])));
    });
    for l in out.lines() {
        assert!(!l.contains(": ret "), "a getpid got through: {out}");
    }
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["x86_64: errno 1", "i386: signal 31", "x32: signal 31"],
        "other ABIs are libseccomp's bad architecture (KILL)"
    );
    let out = ctx.run_sh("all", "sysprobe abis", |b| {
        with_seccomp(
            b,
            deny_getpid(json!([
                "SCMP_ARCH_X86_64",
                "SCMP_ARCH_X86",
                "SCMP_ARCH_X32"
            ])),
        );
    });
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["x86_64: errno 1", "i386: errno 1", "x32: errno 1"]
    );
}

/// A seccomp agent: accepts one connection on `path`, takes the state and the
/// listener fd, and answers every notification with EXDEV until the filter is gone.
fn agent(path: &Path) -> std::thread::JoinHandle<(Value, Vec<i32>)> {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || serve_agent(&listener))
}

/// Accept one connection on `listener` and serve it as `agent` does.
fn serve_agent(listener: &std::os::unix::net::UnixListener) -> (Value, Vec<i32>) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::io::{IoSliceMut, Read};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    listener.set_nonblocking(true).unwrap();
    {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut conn = loop {
            match listener.accept() {
                Ok((c, _)) => break c,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                Err(e) => panic!("no connection from the runtime: {e}"),
            }
        };
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(
                conn.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::empty(),
            )
            .unwrap();
            let fd = msg
                .cmsgs()
                .unwrap()
                .find_map(|c| match c {
                    ControlMessageOwned::ScmRights(f) => f.first().copied(),
                    _ => None,
                })
                .expect("SCM_RIGHTS with the listener");
            (msg.bytes, fd)
        };
        // SAFETY: the fd just arrived with SCM_RIGHTS and is ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // One JSON document, maybe over several reads; the runtime closes afterwards,
        // but we do not wait for that before answering notifications.
        let mut data = buf[..n].to_vec();
        let state: Value = loop {
            match serde_json::from_slice(&data) {
                Ok(v) => break v,
                Err(e) if e.is_eof() => {
                    let mut more = [0u8; 4096];
                    let k = conn.read(&mut more).unwrap();
                    assert!(k > 0, "connection closed mid-message");
                    data.extend_from_slice(&more[..k]);
                }
                Err(e) => panic!("container process state: {e}"),
            }
        };
        #[repr(C)]
        #[derive(Default)]
        struct Notif {
            id: u64,
            pid: u32,
            flags: u32,
            nr: i32,
            arch: u32,
            ip: u64,
            args: [u64; 6],
        }
        #[repr(C)]
        struct Resp {
            id: u64,
            val: i64,
            error: i32,
            flags: u32,
        }
        const RECV: libc::c_ulong = 0xc050_2100; // SECCOMP_IOCTL_NOTIF_RECV
        const SEND: libc::c_ulong = 0xc018_2101; // SECCOMP_IOCTL_NOTIF_SEND
        let mut seen = vec![];
        loop {
            let mut p = [nix::poll::PollFd::new(
                std::os::fd::AsFd::as_fd(&fd),
                nix::poll::PollFlags::POLLIN,
            )];
            if nix::poll::poll(&mut p, nix::poll::PollTimeout::from(30_000u16)).unwrap_or(0) == 0 {
                break;
            }
            let ev = p[0].revents().unwrap_or(nix::poll::PollFlags::empty());
            if !ev.contains(nix::poll::PollFlags::POLLIN) {
                break; // POLLHUP: no task uses the filter any more
            }
            let mut req = Notif::default();
            // SAFETY: RECV fills a zeroed struct seccomp_notif of the right size.
            if unsafe { libc::ioctl(fd.as_raw_fd(), RECV, &mut req as *mut Notif) } < 0 {
                continue;
            }
            seen.push(req.nr);
            let resp = Resp {
                id: req.id,
                val: 0,
                error: -libc::EXDEV,
                flags: 0,
            };
            // SAFETY: SEND reads a struct seccomp_notif_resp.
            unsafe { libc::ioctl(fd.as_raw_fd(), SEND, &resp as *const Resp) };
        }
        (state, seen)
    }
}

#[test]
fn notify_hands_the_listener_and_state_to_the_agent() {
    require_root!();
    let ctx = Ctx::new("sc-notify");
    for nnp in [true, false] {
        let sock = ctx.dir.join(format!("agent-{nnp}.sock"));
        let handle = agent(&sock);
        let mut b = ctx.bundle(&[
            "sh",
            "-c",
            "mkdir /tmp/a 2>&1; [ -d /tmp/a ] || echo absent",
        ]);
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        b.config["annotations"] = json!({"org.example.k": "v"});
        with_seccomp(
            &mut b,
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "listenerPath": sock, "listenerMetadata": "MKNOD=/dev/null",
                   "syscalls": [{"names": MKDIR, "action": "SCMP_ACT_NOTIFY"}]}),
        );
        let id = ctx.id(if nnp { "nnp" } else { "privs" });
        let out = ctx.run(&b, &id);
        out.expect_ok();
        assert!(
            out.stdout.contains("Invalid cross-device link"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("absent"), "{}", out.stdout);
        let (state, seen) = handle.join().unwrap();
        assert!(
            seen.contains(&83) || seen.contains(&258),
            "mkdir notified: {seen:?}"
        );
        assert_eq!(state["fds"], json!(["seccompFd"]), "{state}");
        assert_eq!(state["metadata"], "MKNOD=/dev/null", "{state}");
        assert!(state["ociVersion"].is_string(), "{state}");
        assert!(
            state["pid"].as_i64().unwrap_or(0) > 1,
            "the host pid: {state}"
        );
        assert_eq!(state["pid"], state["state"]["pid"], "{state}");
        assert_eq!(state["state"]["id"], id.as_str(), "{state}");
        assert_eq!(state["state"]["bundle"], b.dir_str(), "{state}");
        assert_eq!(
            state["state"]["annotations"]["org.example.k"], "v",
            "{state}"
        );
        let status = state["state"]["status"].as_str().unwrap_or("");
        assert!(["creating", "created"].contains(&status), "{state}");
    }
}

/// `exec` puts the container's filter on the new process too (runc does), with and
/// without no_new_privs, and hands a NOTIFY listener for it to the agent.
/// A running `sleep` whose profile fails mkdir with ENOSPC (28); its id.
fn started_sleeper_without_mkdir(ctx: &Ctx, tag: &str) -> String {
    let mut b = ctx.bundle(&["sleep", "1000"]);
    with_seccomp(
        &mut b,
        deny(&MKDIR, json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 28})),
    );
    let id = ctx.id(tag);
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    id
}

#[test]
fn exec_gets_the_containers_filter() {
    require_root!();
    let ctx = Ctx::new("sc-exec");
    let id = started_sleeper_without_mkdir(&ctx, "errno");
    for nnp in [&[][..], &["--no-new-privs"][..]] {
        let mut args = vec!["exec"];
        args.extend_from_slice(nnp);
        args.extend_from_slice(&[&id, "sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"]);
        let out = ctx.cmd(&args);
        out.expect_ok();
        assert!(
            out.stdout.contains("No space left on device") && out.stdout.contains("rc=1"),
            "{nnp:?}: {}",
            out.stdout
        );
    }
    ctx.cmd(&["delete", "--force", &id]).expect_ok();

    let sock = ctx.dir.join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut b = ctx.bundle(&["sleep", "1000"]);
    with_seccomp(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock,
               "syscalls": [{"names": MKDIR, "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let id = ctx.id("notify");
    std::thread::scope(|s| {
        let init = s.spawn(|| serve_agent(&listener));
        ctx.create(&b, &id).expect_ok();
        ctx.start(&id).expect_ok();
        let exec = s.spawn(|| serve_agent(&listener));
        let out = ctx.cmd(&["exec", &id, "sh", "-c", "mkdir /tmp/x 2>&1; true"]);
        out.expect_ok();
        assert!(
            out.stdout.contains("Invalid cross-device link"),
            "{}",
            out.stdout
        );
        let (state, seen) = exec.join().unwrap();
        assert!(seen.contains(&83) || seen.contains(&258), "{seen:?}");
        assert_eq!(state["state"]["id"], id.as_str(), "{state}");
        assert_eq!(state["state"]["status"], "running", "{state}");
        assert_ne!(
            state["pid"], state["state"]["pid"],
            "the exec'd process: {state}"
        );
        ctx.cmd(&["delete", "--force", &id]).expect_ok();
        init.join().unwrap();
    });
}

/// exec loads the filter create compiled (the state dir's seccomp.json) rather than
/// compiling the profile again: with the config snapshot's profile changed behind
/// berth's back, the exec'd process still gets the filter of create.
#[test]
fn exec_loads_the_filter_create_compiled() {
    require_root!();
    berth_only!("berth's state dir");
    let ctx = Ctx::new("sc-cache");
    let id = started_sleeper_without_mkdir(&ctx, "c");
    let dir = ctx.state_dir(&id);
    assert!(dir.join("seccomp.json").is_file());
    let snapshot = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&snapshot).unwrap()).unwrap();
    config["linux"]["seccomp"] = deny(&MKDIR, json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 18}));
    std::fs::write(&snapshot, serde_json::to_vec(&config).unwrap()).unwrap();
    // What mkdir says in an exec'd process.
    let exec_mkdir = || {
        let out = ctx.cmd(&["exec", &id, "sh", "-c", "mkdir /tmp/x 2>&1; true"]);
        out.expect_ok();
        out.stdout
    };
    let said = exec_mkdir();
    assert!(
        said.contains("No space left on device"),
        "the cached filter (ENOSPC), not the snapshot's (EXDEV): {said}"
    );
    // Without the cached copy, exec compiles the snapshot's profile.
    std::fs::remove_file(dir.join("seccomp.json")).unwrap();
    let said = exec_mkdir();
    assert!(said.contains("Invalid cross-device link"), "{said}");
    ctx.cmd(&["delete", "--force", &id]).expect_ok();
}

#[test]
fn a_profile_berth_cannot_apply_fails_create_naming_the_field() {
    require_root!();
    berth_only!("runc's messages differ");
    let ctx = Ctx::new("sc-bad");
    let mut b = ctx.bundle(&["true"]);
    b.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]});
    let id = ctx.id("c");
    let out = ctx.run(&b, &id);
    out.expect_err();
    assert!(
        out.stderr
            .contains("linux.seccomp.syscalls[0].args[0].index"),
        "{}",
        out.stderr
    );
    assert!(!ctx.state_dir(&id).exists(), "nothing left behind");
}
