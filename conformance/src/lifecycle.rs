//! runtime.md "State", "Lifecycle" and "Operations", checked from outside
//! the container through the CLI.

use crate::bundle::no_prep;
use crate::spec::{base, set, PATH_ENV};
use crate::util::{cgroup_dirs_created_for, cgroups_of, procs_with_root, state_shape, wait_for};
use crate::Harness;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

pub const UNITS: &[&str] = &[
    "basic",
    "created",
    "missing-id",
    "run-exit",
    "exec-affinity",
];

const SEC5: Duration = Duration::from_secs(5);

pub fn run(h: &mut Harness, selected: &dyn Fn(&str) -> bool) {
    for unit in UNITS {
        if !selected(&format!("lifecycle/{unit}")) {
            continue;
        }
        match *unit {
            "basic" => basic(h),
            "created" => created(h),
            "missing-id" => missing_id(h),
            "run-exit" => run_exit(h),
            _ => exec_affinity(h),
        }
    }
}

fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

/// A writable-root config running `args`.
fn config(args: Vec<String>) -> Value {
    let mut c = base(args);
    set(&mut c, "/root/readonly", json!(false));
    c
}

fn status_is(h: &Harness, id: &str, want: &str) -> Result<(), String> {
    match h.rt.status(id) {
        Ok(s) if s == want => Ok(()),
        Ok(s) => Err(format!("expected status {want:?}, got {s:?}")),
        Err(e) => Err(e),
    }
}

fn basic(h: &mut Harness) {
    let p = "[lifecycle]";
    let id = h.id("lifecycle");
    let script = "touch /tmp/started; trap 'echo TERM > /tmp/signal; exit 3' TERM; \
                  while :; do sleep 0.1; done";
    let mut cfg = config(sh(script));
    let cgroups_path = format!("/berth-conformance-{}", id);
    set(&mut cfg, "/linux/cgroupsPath", json!(cgroups_path));
    set(
        &mut cfg,
        "/annotations",
        json!({"org.example.berth": "conformance"}),
    );
    let bundle = match h.bundles.make("lifecycle", &cfg, &no_prep) {
        Ok(b) => b,
        Err(e) => return h.tap.fail(&format!("{p} harness: build the bundle: {e}")),
    };
    let rootfs = bundle.join("rootfs");
    let marker = |f: &str| rootfs.join("tmp").join(f);
    let pid_file = bundle.join("container.pid");

    let out = h.rt.create(&bundle, &id, Some(&pid_file));
    if !out.ok() {
        h.tap.fail(&format!(
            "{p} runtime: create of a valid bundle succeeds: {}",
            out.describe()
        ));
        return h.rt.forget(&id);
    }
    h.tap
        .pass(&format!("{p} runtime: create of a valid bundle succeeds"));

    let st = h.rt.state_json(&id);
    let st = match st {
        Ok(v) => v,
        Err(e) => {
            h.tap
                .fail(&format!("{p} runtime: state of a created container: {e}"));
            return h.rt.forget(&id);
        }
    };
    h.tap.case(
        &format!("{p} runtime: state conforms to schema/state-schema.json"),
        state_shape(&st),
    );
    let field = |k: &str| st.get(k).cloned().unwrap_or(Value::Null);
    h.tap.case(
        &format!("{p} runtime: state after create is created"),
        eq(json!("created"), field("status")),
    );
    h.tap.case(
        &format!("{p} runtime: state.id is the container's id"),
        eq(json!(id), field("id")),
    );
    let bundle_abs = std::fs::canonicalize(&bundle).unwrap_or(bundle.clone());
    h.tap.case(
        &format!("{p} runtime: state.bundle is the absolute path of the bundle"),
        eq(json!(bundle_abs.display().to_string()), field("bundle")),
    );
    let pid = st.get("pid").and_then(Value::as_u64).unwrap_or(0);
    let pid_s = pid.to_string();
    let alive = |pid: &str| Path::new(&format!("/proc/{pid}")).exists();
    h.tap.case(
        &format!("{p} runtime: state.pid is the container process, as seen by the runtime"),
        if pid > 0 && alive(&pid_s) {
            Ok(())
        } else {
            Err(format!("pid {pid} is not a live process"))
        },
    );
    let pf = std::fs::read(&pid_file).map(|b| String::from_utf8_lossy(&b).into_owned());
    h.tap.case(
        &format!("{p} cli: --pid-file holds the container pid (digits only, no trailing newline)"),
        match pf {
            Ok(s) if s == pid_s => Ok(()),
            Ok(s) => Err(format!("expected {pid_s:?}, got {s:?}")),
            Err(e) => Err(format!("read {}: {e}", pid_file.display())),
        },
    );
    if let Some(a) = st.get("annotations").filter(|a| !a.is_null()) {
        h.tap.case(
            &format!("{p} runtime: state.annotations are the config's annotations"),
            eq(cfg["annotations"].clone(), a.clone()),
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    h.tap.case(
        &format!("{p} runtime: create does not run process.args (runtime.md step 2)"),
        if marker("started").exists() {
            Err("the program ran before start".into())
        } else {
            Ok(())
        },
    );
    let cg = cgroups_of(&pid_s);
    let line = cg
        .iter()
        .find(|(c, _)| c.split(',').any(|x| x == "pids"))
        .or_else(|| cg.iter().find(|(c, _)| c.is_empty()));
    h.tap.case(
        &format!("{p} config-linux: an absolute cgroupsPath is the container's cgroup, relative to the cgroup mount"),
        match line {
            Some((_, path)) if *path == cgroups_path => Ok(()),
            other => Err(format!("expected {cgroups_path:?}, got {other:?}")),
        },
    );
    let cgroup_dirs = cgroup_dirs_created_for(&pid_s);

    // runtime.md step 2: later config.json updates MUST NOT affect the container.
    let mut changed = cfg.clone();
    set(&mut changed, "/process/args", json!(sh("touch /tmp/wrong")));
    let _ = std::fs::write(bundle.join("config.json"), changed.to_string());

    let out = h.rt.start(&id);
    h.tap.case(
        &format!("{p} runtime: start of a created container succeeds"),
        ok_out(&out),
    );
    let started = wait_for(SEC5, || marker("started").exists());
    h.tap.case(
        &format!("{p} runtime: start runs process.args"),
        if started {
            Ok(())
        } else {
            Err("no /tmp/started within 5s".into())
        },
    );
    h.tap.case(
        &format!("{p} runtime: config.json changes after create do not affect the container"),
        if marker("wrong").exists() {
            Err("the changed process.args ran".into())
        } else {
            Ok(())
        },
    );
    h.tap.case(
        &format!("{p} runtime: state after start is running"),
        status_is(h, &id, "running"),
    );

    let out = h.rt.start(&id);
    let r = if out.ok() {
        Err("start succeeded".to_string())
    } else {
        status_is(h, &id, "running")
    };
    h.tap.case(
        &format!("{p} runtime: start of a running container errors and has no effect"),
        r,
    );

    let out = h.rt.delete(&id);
    let r = if out.ok() {
        Err("delete succeeded".to_string())
    } else if !alive(&pid_s) {
        Err("the container process is gone".to_string())
    } else {
        status_is(h, &id, "running")
    };
    h.tap.case(
        &format!("{p} runtime: delete of a running container errors and leaves it running"),
        r,
    );

    let out = h.rt.kill(&id, "TERM");
    let got = wait_for(SEC5, || {
        std::fs::read_to_string(marker("signal")).is_ok_and(|s| s.trim() == "TERM")
    });
    h.tap.case(
        &format!("{p} runtime: kill sends the specified signal (TERM) to the container process"),
        match (out.ok(), got) {
            (true, true) => Ok(()),
            (false, _) => Err(out.describe()),
            (true, false) => Err("the process did not receive SIGTERM within 5s".into()),
        },
    );
    h.tap.case(
        &format!("{p} runtime: state after the container process exits is stopped"),
        h.rt.wait_status(&id, "stopped", SEC5),
    );
    for (op, out) in [("kill", h.rt.kill(&id, "KILL")), ("start", h.rt.start(&id))] {
        let r = if out.ok() {
            Err(format!("{op} succeeded"))
        } else {
            status_is(h, &id, "stopped")
        };
        h.tap.case(
            &format!("{p} runtime: {op} of a stopped container errors and has no effect"),
            r,
        );
    }
    let out = h.rt.delete(&id);
    h.tap.case(
        &format!("{p} runtime: delete of a stopped container succeeds"),
        ok_out(&out),
    );
    let st = h.rt.state(&id);
    h.tap.case(
        &format!("{p} runtime: after delete the container is gone (state errors)"),
        if st.ok() {
            Err(format!("state still answers: {}", st.stdout.trim()))
        } else {
            Ok(())
        },
    );
    let left: Vec<String> = {
        let gone = wait_for(Duration::from_secs(2), || {
            cgroup_dirs.iter().all(|d| !d.exists())
        });
        if gone {
            Vec::new()
        } else {
            cgroup_dirs
                .iter()
                .filter(|d| d.exists())
                .map(|d| d.display().to_string())
                .collect()
        }
    };
    h.tap
        .comment(&format!("{p} cgroup dirs made by create: {cgroup_dirs:?}"));
    h.tap.case(
        &format!("{p} runtime: delete removes the cgroups create made"),
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("still present: {left:?}"))
        },
    );
    let procs = procs_with_root(&rootfs);
    h.tap.case(
        &format!("{p} runtime: delete leaves no process in the container"),
        if procs.is_empty() {
            Ok(())
        } else {
            Err(format!("pids {procs:?}"))
        },
    );
    h.rt.forget(&id);
    let out = h.rt.state(&h.id("never-created"));
    h.tap.case(
        &format!("{p} runtime: state of an id that does not exist errors"),
        if out.ok() {
            Err("state succeeded".into())
        } else {
            Ok(())
        },
    );
}

fn eq(want: Value, got: Value) -> Result<(), String> {
    if want == got {
        Ok(())
    } else {
        Err(format!("expected {want}, got {got}"))
    }
}

fn ok_out(out: &crate::rt::Out) -> Result<(), String> {
    if out.ok() {
        Ok(())
    } else {
        Err(out.describe())
    }
}

fn created(h: &mut Harness) {
    let p = "[lifecycle-created]";
    let cfg = config(vec!["/bin/sleep".into(), "600".into()]);
    let (bundle, other) = match (
        h.bundles.make("created", &cfg, &no_prep),
        h.bundles.make("created-other", &cfg, &no_prep),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            let e = a.err().or(b.err()).unwrap_or_default();
            return h.tap.fail(&format!("{p} harness: build the bundles: {e}"));
        }
    };
    let id = h.id("created");
    let out = h.rt.create(&bundle, &id, None);
    if !out.ok() {
        h.tap.fail(&format!(
            "{p} runtime: create of a valid bundle succeeds: {}",
            out.describe()
        ));
        return h.rt.forget(&id);
    }
    let before = h.rt.state_json(&id).unwrap_or(Value::Null);
    let out = h.rt.exec(
        &["create", "--bundle", &other.display().to_string(), &id],
        crate::rt::TIMEOUT,
        None,
    );
    let after = h.rt.state_json(&id).unwrap_or(Value::Null);
    let r = if out.ok() {
        Err("the second create succeeded".to_string())
    } else if before != after || after.is_null() {
        Err(format!("state changed from {before} to {after}"))
    } else {
        Ok(())
    };
    h.tap.case(&format!("{p} runtime: create with a duplicate id errors and leaves the existing container unchanged"), r);

    let out = h.rt.kill(&id, "KILL");
    let r = if out.ok() {
        h.rt.wait_status(&id, "stopped", SEC5)
    } else {
        Err(out.describe())
    };
    h.tap.case(
        &format!("{p} runtime: kill of a created container sends the signal (it becomes stopped)"),
        r,
    );
    h.rt.forget(&id);

    let id = h.id("created2");
    let out = h.rt.create(&bundle, &id, None);
    if !out.ok() {
        h.tap.fail(&format!(
            "{p} runtime: create of a valid bundle succeeds: {}",
            out.describe()
        ));
        return h.rt.forget(&id);
    }
    let pid =
        h.rt.state_json(&id)
            .ok()
            .and_then(|s| s.get("pid").and_then(Value::as_u64));
    let out = h.rt.delete(&id);
    let r = if out.ok() {
        Err("delete succeeded".to_string())
    } else if !pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists()) {
        Err("the container process is gone".to_string())
    } else {
        status_is(h, &id, "created")
    };
    h.tap.case(
        &format!(
            "{p} runtime: delete of a created (not stopped) container errors and has no effect"
        ),
        r,
    );

    let out = h.rt.delete_force(&id);
    let gone = !h.rt.state(&id).ok() && procs_with_root(&bundle.join("rootfs")).is_empty();
    h.tap.case(
        &format!("{p} cli: delete --force removes a created container and its process"),
        match (out.ok(), gone) {
            (true, true) => Ok(()),
            (false, _) => Err(out.describe()),
            (true, false) => Err("state still answers or a process is left".into()),
        },
    );
    h.rt.forget(&id);
}

fn missing_id(h: &mut Harness) {
    let p = "[lifecycle-missing-id]";
    for op in ["state", "start", "kill", "delete"] {
        let out = h.rt.exec(&[op], crate::rt::TIMEOUT, None);
        h.tap.case(
            &format!("{p} runtime: {op} without a container id errors"),
            if out.ok() {
                Err(format!("{op} succeeded"))
            } else {
                Ok(())
            },
        );
    }
}

fn run_exit(h: &mut Harness) {
    let p = "[lifecycle-run]";
    let cfg = config(sh("exit 7"));
    let bundle = match h.bundles.make("run-exit", &cfg, &no_prep) {
        Ok(b) => b,
        Err(e) => return h.tap.fail(&format!("{p} harness: build the bundle: {e}")),
    };
    let id = h.id("run-exit");
    let out = h.rt.run(&bundle, &id, None);
    h.rt.forget(&id);
    h.tap.case(
        &format!("{p} cli: run exits with the container process's exit status (7)"),
        if out.code == Some(7) {
            Ok(())
        } else {
            Err(out.describe())
        },
    );
}

/// config.md: execCPUAffinity applies to processes run by exec, not to init.
fn exec_affinity(h: &mut Harness) {
    let p = "[lifecycle-exec]";
    let name = format!(
        "{p} config: process.execCPUAffinity.final is the CPU affinity of an exec'd process"
    );
    let cpus = crate::host::affinity();
    if !h
        .rt
        .exec(&["exec", "--help"], crate::rt::TIMEOUT, None)
        .ok()
    {
        return h.tap.skip(&name, "the runtime has no exec verb");
    }
    let Some(last) = cpus
        .last()
        .filter(|_| cpus.len() >= 2)
        .map(|c| c.to_string())
    else {
        return h.tap.skip(&name, "needs at least 2 CPUs");
    };
    let cfg = config(vec!["/bin/sleep".into(), "600".into()]);
    let bundle = match h.bundles.make("exec-affinity", &cfg, &no_prep) {
        Ok(b) => b,
        Err(e) => return h.tap.fail(&format!("{p} harness: build the bundle: {e}")),
    };
    let id = h.id("exec-affinity");
    let (c, s) = (h.rt.create(&bundle, &id, None), h.rt.start(&id));
    if !c.ok() || !s.ok() {
        h.tap.fail(&format!(
            "{name}: create/start failed: {} / {}",
            c.describe(),
            s.describe()
        ));
        return h.rt.forget(&id);
    }
    let process = json!({
        "terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/", "env": [PATH_ENV],
        "args": ["/bin/busybox", "grep", "Cpus_allowed_list", "/proc/self/status"],
        "execCPUAffinity": {"initial": "0", "final": last}
    });
    let pj = bundle.join("exec-process.json");
    let _ = std::fs::write(&pj, process.to_string());
    let out = h.rt.exec(
        &["exec", "--process", &pj.display().to_string(), &id],
        crate::rt::TIMEOUT,
        None,
    );
    let got = out
        .stdout
        .split_whitespace()
        .last()
        .unwrap_or("")
        .to_string();
    h.tap.case(
        &name,
        if out.ok() && got == last {
            Ok(())
        } else {
            Err(format!(
                "expected {last:?}, got {got:?} ({})",
                out.describe()
            ))
        },
    );
    h.rt.forget(&id);
}
