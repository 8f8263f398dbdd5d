//! config.md "POSIX-platform Hooks" and runtime.md lifecycle steps 3-13.
//!
//! Every hook is `/bin/busybox sh -c SCRIPT NAME a1 a2`: the script saves its
//! stdin (the state), appends NAME to an order file, and records its mount
//! namespace, environment and arguments, in a directory that is the same
//! before and after pivot_root: `<bundle>/rootfs/tmp/hooks` on the host,
//! `/tmp/hooks` in the container.

use crate::bundle::BUSYBOX;
use crate::spec::{base, set};
use crate::util::{mnt_ns, procs_with_root, state_shape, wait_for};
use crate::Harness;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const UNITS: &[&str] = &[
    "order",
    "fail-prestart",
    "fail-createRuntime",
    "fail-createContainer",
    "fail-startContainer",
    "fail-poststart",
    "fail-poststop",
    "timeout",
];

const KINDS: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];
const RUNTIME_NS: &[&str] = &["prestart", "createRuntime", "poststart", "poststop"];

pub fn run(h: &mut Harness, selected: &dyn Fn(&str) -> bool) {
    for unit in UNITS {
        if !selected(&format!("hooks/{unit}")) {
            continue;
        }
        match *unit {
            "order" => order(h),
            "timeout" => timeout(h),
            "fail-poststop" => fail_poststop(h),
            u => fail_hook(h, &u["fail-".len()..]),
        }
    }
}

/// A hook entry recording itself as `tag`; `exit` is the script's status.
fn hook(bundle: &Path, tag: &str, exit: i32) -> Value {
    let host_dir = bundle.join("rootfs/tmp/hooks");
    let script = format!(
        "d={hd}; [ -d \"$d\" ] || d=/tmp/hooks; r={root}; [ -d \"$r\" ] || r=; \
         cat > \"$d/$0.json\"; echo \"$0\" >> \"$d/order\"; \
         readlink /proc/self/ns/mnt > \"$d/$0.mntns\"; env > \"$d/$0.env\"; \
         echo \"$@\" > \"$d/$0.args\"; \
         if [ -e \"$r/tmp/started\" ]; then echo yes; else echo no; fi > \"$d/$0.user-program-ran\"; \
         exit {exit}",
        hd = host_dir.display(),
        root = bundle.join("rootfs").display(),
    );
    json!({
        "path": BUSYBOX,
        "args": ["sh", "-c", script, tag, "a1", "a2"],
        "env": ["PATH=/bin:/usr/bin:/sbin:/usr/sbin", "BERTH_HOOK=1"]
    })
}

fn hooks_config(bundle: &Path, fail: Option<&str>) -> Value {
    let mut c = base(vec![
        "/bin/sh".into(),
        "-c".into(),
        "touch /tmp/started; sleep 600".into(),
    ]);
    set(&mut c, "/root/readonly", json!(false));
    for k in KINDS {
        let mut list = vec![hook(bundle, k, 0)];
        if Some(*k) == fail {
            list.push(hook(bundle, &format!("{k}-failing"), 1));
            list.push(hook(bundle, &format!("{k}-after-failing"), 0));
        }
        set(&mut c, &format!("/hooks/{k}"), json!(list));
    }
    c
}

fn prep_hook_dir(_: &Path, rootfs: &Path) -> std::io::Result<()> {
    let d = rootfs.join("tmp/hooks");
    fs::create_dir_all(&d)?;
    fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o777))
}

fn order_of(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn expect_order(got: &[String], want: &[&str]) -> Result<(), String> {
    if got.iter().map(String::as_str).eq(want.iter().copied()) {
        Ok(())
    } else {
        Err(format!("expected {want:?}, got {got:?}"))
    }
}

fn build(h: &mut Harness, name: &str, fail: Option<&str>) -> Option<(PathBuf, PathBuf)> {
    let dir = h.bundles.work().join("bundles").join(name);
    let cfg = hooks_config(&dir, fail);
    match h.bundles.make(name, &cfg, &prep_hook_dir) {
        Ok(b) => {
            let hd = b.join("rootfs/tmp/hooks");
            Some((b, hd))
        }
        Err(e) => {
            h.tap
                .fail(&format!("[hooks-{name}] harness: build the bundle: {e}"));
            None
        }
    }
}

fn order(h: &mut Harness) {
    let p = "[hooks]";
    let Some((bundle, hd)) = build(h, "hooks", None) else {
        return;
    };
    let id = h.id("hooks");
    let out = h.rt.create(&bundle, &id, None);
    if !out.ok() {
        h.tap.fail(&format!(
            "{p} runtime: create with all six hooks succeeds: {}",
            out.describe()
        ));
        return h.rt.forget(&id);
    }
    h.tap.case(
        &format!("{p} config: prestart, createRuntime, createContainer hooks run during create, in that order"),
        expect_order(&order_of(&hd), &["prestart", "createRuntime", "createContainer"]),
    );
    let container_mnt =
        h.rt.state_json(&id)
            .ok()
            .and_then(|s| s.get("pid").and_then(Value::as_u64))
            .and_then(|pid| mnt_ns(&pid.to_string()));
    let out = h.rt.start(&id);
    h.tap.case(
        &format!("{p} config: startContainer then poststart hooks run during start"),
        if out.ok() {
            expect_order(
                &order_of(&hd),
                &[
                    "prestart",
                    "createRuntime",
                    "createContainer",
                    "startContainer",
                    "poststart",
                ],
            )
        } else {
            Err(format!("start failed: {}", out.describe()))
        },
    );
    let ran = fs::read_to_string(hd.join("startContainer.user-program-ran")).unwrap_or_default();
    h.tap.case(
        &format!("{p} config: startContainer hooks run before the user-specified program"),
        if ran.trim() == "no" {
            Ok(())
        } else {
            Err(format!("marker says {:?}", ran.trim()))
        },
    );
    let _ = h.rt.kill(&id, "KILL");
    let _ = h.rt.wait_status(&id, "stopped", Duration::from_secs(5));
    let out = h.rt.delete(&id);
    h.tap.case(
        &format!("{p} config: poststop hooks run during delete, last"),
        if out.ok() {
            expect_order(&order_of(&hd), KINDS)
        } else {
            Err(format!("delete failed: {}", out.describe()))
        },
    );
    h.rt.forget(&id);

    let bundle_abs = fs::canonicalize(&bundle).unwrap_or(bundle.clone());
    let host_mnt = mnt_ns("self");
    for k in KINDS {
        let st = fs::read_to_string(hd.join(format!("{k}.json")))
            .map_err(|e| format!("hook did not save its stdin: {e}"))
            .and_then(|s| {
                serde_json::from_str::<Value>(&s)
                    .map_err(|e| format!("stdin is not JSON ({e}): {s:?}"))
            });
        let r = st.and_then(|v| {
            state_shape(&v)?;
            let (gid, gb) = (
                v.get("id").and_then(Value::as_str),
                v.get("bundle").and_then(Value::as_str),
            );
            if gid != Some(id.as_str()) || gb != Some(&*bundle_abs.display().to_string()) {
                return Err(format!(
                    "id/bundle: expected {id:?} {bundle_abs:?}, got {gid:?} {gb:?}"
                ));
            }
            if *k != "poststop" && v.get("pid").and_then(Value::as_u64).is_none_or(|p| p == 0) {
                return Err(format!("no pid in {v}"));
            }
            Ok(())
        });
        h.tap.case(
            &format!("{p} config: {k} hook receives the container state on stdin"),
            r,
        );

        let got = fs::read_to_string(hd.join(format!("{k}.mntns")))
            .ok()
            .map(|s| s.trim().to_string());
        let (want, which) = if RUNTIME_NS.contains(k) {
            (host_mnt.clone(), "runtime")
        } else {
            (container_mnt.clone(), "container")
        };
        h.tap.case(
            &format!("{p} config: {k} hook runs in the {which} (mount) namespace"),
            if got.is_some() && got == want {
                Ok(())
            } else {
                Err(format!("expected {want:?}, got {got:?}"))
            },
        );
    }
    let env = fs::read_to_string(hd.join("prestart.env")).unwrap_or_default();
    let has = |kv: &str| env.lines().any(|l| l == kv);
    h.tap.case(
        &format!("{p} config: hook env is the hook's env, not the runtime's environment"),
        if has("BERTH_HOOK=1") && !env.contains("BERTH_CONFORMANCE_LEAK") {
            Ok(())
        } else {
            Err(format!(
                "hook environment: {:?}",
                env.lines().collect::<Vec<_>>()
            ))
        },
    );
    let args = fs::read_to_string(hd.join("prestart.args")).unwrap_or_default();
    h.tap.case(
        &format!("{p} config: hook args are the hook's argv"),
        if args.trim() == "a1 a2" {
            Ok(())
        } else {
            Err(format!("expected \"a1 a2\", got {:?}", args.trim()))
        },
    );
}

/// runtime.md steps 3-9: a failing hook MUST generate an error, stop the
/// container and continue at step 12 (destroy), then 13 (poststop hooks).
fn fail_hook(h: &mut Harness, kind: &str) {
    let p = format!("[hooks-fail-{kind}]");
    let Some((bundle, hd)) = build(h, &format!("hooks-fail-{kind}"), Some(kind)) else {
        return;
    };
    let id = h.id(&format!("hooks-fail-{kind}"));
    let at_create = matches!(kind, "prestart" | "createRuntime" | "createContainer");
    let op = if at_create { "create" } else { "start" };
    let create = h.rt.create(&bundle, &id, None);
    let out = if at_create {
        create
    } else if !create.ok() {
        h.tap.fail(&format!(
            "{p} runtime: create succeeds: {}",
            create.describe()
        ));
        return h.rt.forget(&id);
    } else {
        h.rt.start(&id)
    };
    h.tap.case(
        &format!("{p} runtime: a failing {kind} hook makes {op} fail"),
        if out.ok() {
            Err(format!("{op} succeeded"))
        } else {
            Ok(())
        },
    );
    let order = order_of(&hd);
    h.tap.case(
        &format!("{p} runtime: hooks after a failing {kind} hook do not run"),
        if order.iter().any(|o| o == &format!("{kind}-after-failing")) {
            Err(format!("order {order:?}"))
        } else {
            Ok(())
        },
    );
    if kind != "poststart" {
        let ran = wait_for(Duration::from_millis(500), || {
            bundle.join("rootfs/tmp/started").exists()
        });
        h.tap.case(
            &format!(
                "{p} runtime: the user-specified program does not run after a failing {kind} hook"
            ),
            if ran {
                Err("/tmp/started exists".into())
            } else {
                Ok(())
            },
        );
    }
    let gone = wait_for(Duration::from_secs(5), || {
        !h.rt.state(&id).ok() && procs_with_root(&bundle.join("rootfs")).is_empty()
    });
    h.tap.case(
        &format!("{p} runtime: after a failing {kind} hook the container is stopped and destroyed (step 12)"),
        if gone {
            Ok(())
        } else {
            Err(format!(
                "state: {:?}, processes in the container: {:?}",
                h.rt.status(&id),
                procs_with_root(&bundle.join("rootfs"))
            ))
        },
    );
    let post = wait_for(Duration::from_secs(2), || {
        order_of(&hd).iter().any(|o| o == "poststop")
    });
    h.tap.case(
        &format!("{p} runtime: poststop hooks run after a failing {kind} hook (step 13)"),
        if post {
            Ok(())
        } else {
            Err(format!("order {:?}", order_of(&hd)))
        },
    );
    h.rt.forget(&id);
}

/// runtime.md step 13: a failing poststop hook is only a warning.
fn fail_poststop(h: &mut Harness) {
    let p = "[hooks-fail-poststop]";
    let Some((bundle, hd)) = build(h, "hooks-fail-poststop", Some("poststop")) else {
        return;
    };
    let id = h.id("hooks-fail-poststop");
    let (c, s) = (h.rt.create(&bundle, &id, None), h.rt.start(&id));
    if !c.ok() || !s.ok() {
        h.tap.fail(&format!(
            "{p} runtime: create and start succeed: {} / {}",
            c.describe(),
            s.describe()
        ));
        return h.rt.forget(&id);
    }
    let _ = h.rt.kill(&id, "KILL");
    let _ = h.rt.wait_status(&id, "stopped", Duration::from_secs(5));
    let out = h.rt.delete(&id);
    h.tap.case(
        &format!("{p} runtime: a failing poststop hook does not make delete fail (warning only)"),
        if out.ok() && !h.rt.state(&id).ok() {
            Ok(())
        } else {
            Err(out.describe())
        },
    );
    let order = order_of(&hd);
    h.tap.case(
        &format!("{p} runtime: the remaining poststop hooks run after a failing one"),
        if order.iter().any(|o| o == "poststop-after-failing") {
            Ok(())
        } else {
            Err(format!("order {order:?}"))
        },
    );
    h.rt.forget(&id);
}

/// config.md: `timeout` is the number of seconds before aborting the hook.
fn timeout(h: &mut Harness) {
    let p = "[hooks-timeout]";
    let name = "hooks-timeout";
    let dir = h.bundles.work().join("bundles").join(name);
    let mut cfg = hooks_config(&dir, None);
    set(
        &mut cfg,
        "/hooks",
        json!({"prestart": [
            {"path": BUSYBOX, "args": ["sh", "-c", "sleep 20"], "timeout": 1}
        ]}),
    );
    let bundle = match h.bundles.make(name, &cfg, &prep_hook_dir) {
        Ok(b) => b,
        Err(e) => return h.tap.fail(&format!("{p} harness: build the bundle: {e}")),
    };
    let id = h.id(name);
    let start = Instant::now();
    let out = h.rt.create(&bundle, &id, None);
    let took = start.elapsed();
    h.tap.case(
        &format!(
            "{p} runtime: a prestart hook running past its timeout is aborted and create fails"
        ),
        if !out.ok() && took < Duration::from_secs(10) {
            Ok(())
        } else {
            Err(format!("{} after {took:?}", out.describe()))
        },
    );
    let gone = wait_for(Duration::from_secs(5), || {
        !h.rt.state(&id).ok() && procs_with_root(&bundle.join("rootfs")).is_empty()
    });
    h.tap.case(
        &format!("{p} runtime: after the timed-out hook no container is left"),
        if gone {
            Ok(())
        } else {
            Err(format!("state: {:?}", h.rt.status(&id)))
        },
    );
    h.rt.forget(&id);
}
