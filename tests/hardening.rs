//! SECURITY.md attacks against the runtime's own stages: leaked fds (9, 12), ptrace
//! or memory reads of a berth stage (15), container env leaking into berth or its
//! hooks (28), signals to a reused init pid (25) and, from inside the container,
//! undoing masked and read-only paths (22).

#[macro_use]
mod common;

use common::Ctx;
use serde_json::json;
use std::fs;
use std::time::Duration;

/// Attack 9: process.cwd = /proc/self/fd/N, and `exec --cwd /proc/self/fd/N`, must
/// never give the process a cwd on the host: it fails, or its cwd does not list the
/// host directory that the runtime was handed at fd 7 without CLOEXEC (as in
/// CVE-2024-21626). Layers that hold this: berth closes inherited fds at startup
/// (src/main.rs prepare_fds) and again in each stage (close_all_except in
/// src/init/intermediate.rs and src/init/exec.rs), `run` resolves process.cwd inside
/// the rootfs without magic links, and both stages check the cwd after chdir. The
/// exec half fails once the three exec-side layers are removed.
#[test]
fn cwd_through_proc_self_fd_stays_inside() {
    require_root!();
    let ctx = Ctx::new("hard-cwd");
    let host_dir = ctx.mkdir("host-dir");
    fs::write(host_dir.join("HOST_MARKER"), "").unwrap();
    let leak = common::Opts {
        fds: vec![(host_dir, 7)],
        ..Default::default()
    };
    let script = "ls -A; echo cwd-listed";
    let b = ctx.bundle(&["sleep", "300"]);
    let id = ctx.id("exec");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    for n in 3..=32 {
        let cwd = format!("/proc/self/fd/{n}");
        let out = ctx.cmd_opts(&["exec", "--cwd", &cwd, &id, "sh", "-c", script], &leak);
        if out.ok() {
            assert!(
                out.stdout.ends_with("cwd-listed\n"),
                "exec fd {n}: {}",
                out.stdout
            );
            assert!(!out.stdout.contains("HOST_MARKER"), "exec fd {n}: host cwd");
        }
    }
    for n in 3..=32 {
        let mut b = ctx.bundle(&["sh", "-c", script]);
        b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        b.save();
        let id = ctx.id(&format!("n{n}"));
        let out = ctx.cmd_opts(&["run", "--bundle", &b.dir_str(), &id], &leak);
        if out.ok() {
            assert!(
                out.stdout.ends_with("cwd-listed\n"),
                "run fd {n}: {}",
                out.stdout
            );
            assert!(!out.stdout.contains("HOST_MARKER"), "run fd {n}: host cwd");
        }
    }
}

/// Attack 12: every fd of a created-but-not-started init is on an allow-list: stdio,
/// the sync socket and the exec fifo. Nothing from the caller, no directory.
#[test]
fn created_init_holds_only_allowed_fds() {
    require_root!();
    berth_only!("runc's init holds other fds");
    let ctx = Ctx::new("hard-fds");
    let b = ctx.bundle(&["true"]);
    b.save();
    let id = ctx.id("c");
    // An extra inherited fd (not CLOEXEC) that must not survive into the init.
    let leak = fs::File::open(&ctx.dir).unwrap();
    let opts = common::Opts {
        fds: vec![(ctx.dir.clone(), 7)],
        ..Default::default()
    };
    ctx.cmd_opts(&["create", "--bundle", &b.dir_str(), &id], &opts)
        .expect_ok();
    drop(leak);
    let pid = ctx.state(&id)["pid"].as_i64().unwrap();
    let mut others = Vec::new();
    for e in fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let e = e.unwrap();
        let n: i32 = e.file_name().to_string_lossy().parse().unwrap();
        let target = fs::read_link(e.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if n <= 2 {
            continue;
        }
        let allowed = target.starts_with("socket:[") || target.ends_with("/exec.fifo");
        if !allowed {
            others.push(format!("{n} -> {target}"));
        }
    }
    assert!(
        others.is_empty(),
        "unexpected fds in the created init: {others:?}"
    );
}

/// Attack 15: a process in the container (here: another container sharing the pid
/// namespace, with the same capabilities) cannot read the memory of a berth stage
/// held waiting for `start`. The stage is non-dumpable (CVE-2016-9962).
#[test]
fn held_stage_is_not_readable_from_the_container() {
    require_root!();
    berth_only!("tests berth's stages");
    let ctx = Ctx::new("hard-ptrace");
    // The pattern is split so that this script's own command line does not match it.
    let scan = "while [ ! -e /tmp/go ]; do sleep 0.05; done; \
        for p in /proc/[0-9]*; do \
          [ $p = /proc/$$ ] && continue; \
          if grep -q -- '--bund''le' $p/cmdline 2>/dev/null; then \
            if head -c 1 $p/maps >/dev/null 2>&1; then echo READ; else echo DENIED; fi; \
          fi; \
        done; echo scanned; sleep 300";
    let a_bundle = ctx.bundle(&["sh", "-c", scan]);
    a_bundle.save();
    let a = ctx.id("a");
    let created = ctx.create(&a_bundle, &a);
    created.expect_ok();
    ctx.start(&a).expect_ok();
    let a_pid = ctx.state(&a)["pid"].as_i64().unwrap();

    // B joins A's pid namespace. Once created, B's init is a berth stage that already
    // runs with B's capabilities (equal to A's) and waits on the exec fifo.
    let mut b = ctx.bundle(&["true"]);
    for n in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "pid" {
            n["path"] = json!(format!("/proc/{a_pid}/ns/pid"));
        }
    }
    b.save();
    let bid = ctx.id("b");
    ctx.create(&b, &bid).expect_ok();
    fs::write(a_bundle.rootfs().join("tmp/go"), "").unwrap();
    let scanned = common::wait_until(Duration::from_secs(10), || {
        fs::read_to_string(&created.stdout_path).is_ok_and(|s| s.contains("scanned"))
    });
    assert!(scanned, "A never finished scanning");
    let out = fs::read_to_string(&created.stdout_path).unwrap();
    assert!(out.contains("DENIED"), "A saw no berth stage: {out}");
    assert!(
        !out.contains("READ"),
        "A read a berth stage's memory: {out}"
    );
}

/// Attack 28: LD_PRELOAD and berth's own variable names in the container's env
/// change neither berth nor its hooks.
#[test]
fn container_env_does_not_reach_hooks_or_berth() {
    require_root!();
    let ctx = Ctx::new("hard-env");
    let out_file = ctx.dir.join("hook-env");
    let mut b = ctx.bundle(&["sh", "-c", "echo ran"]);
    b.config["process"]["env"] = json!([
        "PATH=/bin",
        "LD_PRELOAD=/nonexistent/evil.so",
        "LISTEN_FDS=5",
        "LISTEN_PID=1",
        "BERTH_TEST_RUNTIME=/evil"
    ]);
    b.config["hooks"] = json!({"prestart": [{"path": "/bin/sh",
        "args": ["sh", "-c", format!("env > {}", out_file.display())],
        "env": ["ONLY=this"]}]});
    b.save();
    let out = ctx.run(&b, &ctx.id("c"));
    out.expect_ok();
    assert_eq!(out.stdout, "ran\n");
    let env = fs::read_to_string(&out_file).unwrap();
    assert!(env.contains("ONLY=this"), "{env}");
    for bad in ["LD_PRELOAD", "LISTEN_FDS", "BERTH_TEST_RUNTIME"] {
        assert!(!env.contains(bad), "{bad} reached the hook: {env}");
    }
}

/// A host process that is SIGKILLed and reaped when dropped.
struct HostChild(std::process::Child);

impl Drop for HostChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `sleep 300` on the host with pid `pid`: set ns_last_pid to pid - 1 (under
/// the flock CRIU also takes) and spawn, retrying while other processes on the
/// machine take the pid first. None after 500 tries.
fn spawn_with_pid(pid: i32) -> Option<HostChild> {
    use std::io::Write;
    for _ in 0..500 {
        let f = fs::OpenOptions::new()
            .write(true)
            .open("/proc/sys/kernel/ns_last_pid")
            .unwrap();
        let mut lock = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .unwrap();
        lock.write_all(format!("{}", pid - 1).as_bytes()).unwrap();
        let child = HostChild(
            std::process::Command::new("sleep")
                .arg("300")
                .stdin(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        drop(lock);
        if child.0.id() as i32 == pid {
            return Some(child);
        }
    }
    None
}

/// Attack 25: the init dies (SIGKILL from the host) and its pid is reused by a host
/// process; `state` says stopped, `kill` refuses, `delete` succeeds, and the host
/// process is never signalled. The defence exercised is the start-time check of
/// src/runtime/container.rs (init_alive, behind init_pidfd): without it the reused
/// pid counts as the running init and `kill` SIGKILLs the host process.
#[test]
fn reused_init_pid_is_never_signalled() {
    require_root!();
    let ctx = Ctx::new("hard-pidreuse");
    let b = ctx.bundle(&["sleep", "300"]);
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    let init = ctx.init_proc(&id);
    // SAFETY: kill has no memory-safety preconditions; the pid is the live init.
    assert_eq!(unsafe { libc::kill(init.pid, libc::SIGKILL) }, 0);
    // Reaped (by the host's init), so the pid is free again.
    let reaped = common::wait_until(Duration::from_secs(10), || {
        !std::path::Path::new(&format!("/proc/{}", init.pid)).exists()
    });
    assert!(reaped, "init {} was not reaped", init.pid);
    let mut squatter = None;
    // A reuse within the same clock tick is indistinguishable by start time; retry.
    for _ in 0..20 {
        let c = spawn_with_pid(init.pid).expect("could not get the init's pid back");
        if common::Proc::of(init.pid).is_some_and(|p| p.start != init.start) {
            squatter = Some(c);
            break;
        }
    }
    let squatter = squatter.expect("pid reused only within the init's start tick");
    let host = common::Proc::of(init.pid).unwrap();

    ctx.cmd(&["kill", &id, "KILL"]).expect_err();
    assert!(
        host.alive(),
        "kill signalled the process that reused the pid"
    );
    assert_eq!(ctx.status(&id).as_deref(), Some("stopped"));
    ctx.cmd(&["delete", &id]).expect_ok();
    assert!(
        host.alive(),
        "delete signalled the process that reused the pid"
    );
    assert!(!ctx.state_dir(&id).exists());
    drop(squatter);
}

/// Tries to undo masked and read-only paths from inside; one line per attempt, then
/// what is visible afterwards.
const UNDO_MASKS: &str =
    "try() { if \"$@\" 2>/dev/null; then echo \"OK $*\"; else echo \"FAIL $*\"; fi; }; \
    try umount /proc/timer_list; try umount -l /proc/timer_list; try umount /sys/firmware; \
    try umount /proc/acpi; try umount -l /proc/sys; try mount -o remount,rw /proc/sys; \
    try mount -o remount,rw,bind /proc/sys; try mount -o remount,rw,bind /proc/sysrq-trigger; \
    echo timer_list=$(wc -c < /proc/timer_list); echo firmware=$(ls -A /sys/firmware | wc -l); \
    echo acpi=$(ls -A /proc/acpi | wc -l); \
    grep ' /proc/sys ' /proc/self/mountinfo | awk '{print \"sys=\" $6}' | tail -1";

fn undo_masks(ctx: &Ctx, tag: &str, cap_sys_admin: bool, userns: bool) -> common::Output {
    let mut b = ctx.bundle(&["sh", "-c", UNDO_MASKS]);
    if cap_sys_admin {
        let mut c: Vec<&str> = common::DEFAULT_CAPS.to_vec();
        c.push("CAP_SYS_ADMIN");
        for set in ["bounding", "effective", "permitted"] {
            b.config["process"]["capabilities"][set] = json!(c);
        }
    }
    if userns {
        b.add_namespace("user");
        let m = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.config["linux"]["uidMappings"] = m.clone();
        b.config["linux"]["gidMappings"] = m;
    }
    let out = ctx.run(&b, &ctx.id(tag));
    out.expect_ok();
    out
}

/// Attack 22, beyond filesystem.rs (masked_paths_cannot_be_unmounted_or_written,
/// readonly_paths_cannot_be_written_or_remounted) and the conformance probe: with
/// the capabilities of `berth spec` (no CAP_SYS_ADMIN), as root with and without a
/// user namespace, busybox umount (also lazy) and `mount -o remount,rw[,bind]` fail
/// on masked paths (/proc/timer_list, /sys/firmware, /proc/acpi) and on read-only
/// paths (/proc/sys, whose unmount would make it writable again, and
/// /proc/sysrq-trigger); the masks still read empty and /proc/sys is still ro. The
/// defences exercised are the masks and the bounding set without CAP_SYS_ADMIN:
/// granting it undoes them (next test); skipping the masks fails this one.
#[test]
fn masked_and_readonly_paths_cannot_be_undone_without_cap_sys_admin() {
    require_root!();
    let ctx = Ctx::new("hard-masks");
    for (tag, userns) in [("host-users", false), ("userns", true)] {
        let out = undo_masks(&ctx, tag, false, userns);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 12, "{tag}: {}", out.stdout);
        for l in &lines[..8] {
            assert!(l.starts_with("FAIL "), "{tag}: {l}\n{}", out.stdout);
        }
        assert_eq!(
            &lines[8..11],
            ["timer_list=0", "firmware=0", "acpi=0"],
            "{tag}: {}",
            out.stdout
        );
        assert!(lines[11].starts_with("sys=ro,"), "{tag}: {}", out.stdout);
    }
}

/// Attack 22 with CAP_SYS_ADMIN granted, where runc is the yardstick and berth does
/// the same: the container can unmount masks and the read-only bind of /proc/sys
/// (without a user namespace that is a privileged container, which no mount flag
/// can contain). In a user namespace the revealed /proc/timer_list is still
/// unreadable, as it belongs to the host's root. berth does not lock the mounts
/// (the kernel only locks mounts copied into a mount namespace of a less privileged
/// user namespace, which would mean creating the user namespace after the mounts).
#[test]
fn with_cap_sys_admin_masks_can_be_unmounted_as_under_runc() {
    require_root!();
    let ctx = Ctx::new("hard-masks-admin");
    for (tag, userns) in [("host-users", false), ("userns", true)] {
        let out = undo_masks(&ctx, tag, true, userns);
        assert!(
            out.stdout.contains("OK umount /proc/timer_list\n")
                && out.stdout.contains("OK umount -l /proc/sys\n"),
            "{tag}: {}",
            out.stdout
        );
        if userns {
            assert!(out.stdout.contains("timer_list=\n"), "{}", out.stdout);
            assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);
        } else {
            assert!(!out.stdout.contains("timer_list=0\n"), "{}", out.stdout);
        }
    }
}
