//! config-linux.md "Memory", "CPU" and "PIDs": what the kernel shows in the
//! container's own cgroup (v1 files, or their cgroup v2 counterparts with
//! the conversions runtimes use).

use crate::cgroup::{check_file, name, same, side, want, Cgroups, Ctl, Side};
use crate::tap::Tap;
use crate::Ctx;
use serde_json::Value;

pub fn check(ctx: &Ctx, t: &mut Tap, cg: &Cgroups) {
    memory(ctx, t, cg);
    cpu(ctx, t, cg);
    cpuset(ctx, t, cg);
    if let Some(v) = want(ctx, t, "pids.limit").and_then(Value::as_i64) {
        let max = if v < 0 {
            "max".to_string()
        } else {
            v.to_string()
        };
        let s = side("pids.max", &max);
        check_file(t, "pids.limit", &cg.ctl("pids"), s.clone(), s, same);
    }
}

fn page() -> i64 {
    // SAFETY: sysconf has no memory effects.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as i64;
    if p > 0 {
        p
    } else {
        4096
    }
}

/// A byte limit as the kernel shows it: rounded down to whole pages, and
/// "max" for unlimited (-1).
fn bytes(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        (v / page() * page()).to_string()
    }
}

/// v1 shows unlimited as PAGE_COUNTER_MAX pages (~2^63); call that "max".
fn bytes_norm(s: &str) -> String {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 << 62 => "max".into(),
        _ => s.to_string(),
    }
}

fn no_v2(what: &str) -> Side {
    Err(format!("cgroup v2 has no {what}"))
}

fn memory(ctx: &Ctx, t: &mut Tap, cg: &Cgroups) {
    let ctl = cg.ctl("memory");
    let simple: [(&str, &str, Side); 4] = [
        (
            "limit",
            "memory.limit_in_bytes",
            Ok(("memory.max".into(), String::new())),
        ),
        (
            "reservation",
            "memory.soft_limit_in_bytes",
            Ok(("memory.low".into(), String::new())),
        ),
        (
            "kernel",
            "memory.kmem.limit_in_bytes",
            no_v2("kernel memory limit"),
        ),
        (
            "kernelTCP",
            "memory.kmem.tcp.limit_in_bytes",
            no_v2("kernel TCP buffer limit"),
        ),
    ];
    for (key, v1file, v2) in simple {
        let field = format!("memory.{key}");
        let Some(v) = want(ctx, t, &field).and_then(Value::as_i64) else {
            continue;
        };
        let v2 = v2.map(|(f, _)| (f, bytes(v)));
        check_file(t, &field, &ctl, side(v1file, bytes(v)), v2, bytes_norm);
    }
    if let Some(s) = want(ctx, t, "memory.swap").and_then(Value::as_i64) {
        // v1 limits memory+swap; v2's memory.swap.max is swap alone.
        let limit = ctx
            .cfg("/linux/resources/memory/limit")
            .and_then(Value::as_i64);
        let v2 = match (s, limit) {
            (-1, _) => side("memory.swap.max", "max"),
            (s, Some(l)) if l > 0 => side("memory.swap.max", bytes(s - l)),
            _ => Err("swap without a memory limit has no cgroup v2 meaning".into()),
        };
        let v1 = side("memory.memsw.limit_in_bytes", bytes(s));
        check_file(t, "memory.swap", &ctl, v1, v2, bytes_norm);
    }
    if let Some(s) = want(ctx, t, "memory.swappiness").and_then(Value::as_u64) {
        let v1 = side("memory.swappiness", s);
        check_file(t, "memory.swappiness", &ctl, v1, no_v2("swappiness"), same);
    }
    if let Some(d) = want(ctx, t, "memory.disableOOMKiller").and_then(Value::as_bool) {
        let v1 = side(
            "memory.oom_control",
            format!("oom_kill_disable {}", u8::from(d)),
        );
        let pick = |s: &str| {
            s.lines()
                .find(|l| l.starts_with("oom_kill_disable "))
                .unwrap_or(s)
                .to_string()
        };
        let v2 = no_v2("switch to disable the OOM killer");
        check_file(t, "memory.disableOOMKiller", &ctl, v1, v2, pick);
    }
    if let Some(h) = want(ctx, t, "memory.useHierarchy").and_then(Value::as_bool) {
        let v1 = side("memory.use_hierarchy", u8::from(h));
        let v2 = no_v2("use_hierarchy (accounting is always hierarchical)");
        check_file(t, "memory.useHierarchy", &ctl, v1, v2, same);
    }
}

/// The runtimes' cgroup v2 conversion of cpu.shares to cpu.weight
/// (runc, crun: linear from [2, 262144] to [1, 10000]).
fn shares_to_weight(s: u64) -> u64 {
    let s = s.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// Field `i` of a whitespace-separated line when `pick`, else the content.
fn field_if(pick: bool, i: usize) -> impl Fn(&str) -> String {
    move |s: &str| {
        if pick {
            s.split_whitespace().nth(i).unwrap_or("").to_string()
        } else {
            s.to_string()
        }
    }
}

fn cpu(ctx: &Ctx, t: &mut Tap, cg: &Cgroups) {
    let ctl = cg.ctl("cpu");
    if let Some(s) = want(ctx, t, "cpu.shares").and_then(Value::as_u64) {
        let v2 = side("cpu.weight", shares_to_weight(s));
        check_file(t, "cpu.shares", &ctl, side("cpu.shares", s), v2, same);
    }
    // v2 has both in cpu.max: "QUOTA PERIOD" (QUOTA "max" for no limit).
    let v2 = matches!(ctl, Ctl::V2(_));
    if let Some(q) = want(ctx, t, "cpu.quota").and_then(Value::as_i64) {
        let (v1q, v2q) = if q > 0 {
            (q.to_string(), q.to_string())
        } else {
            ("-1".to_string(), "max".to_string())
        };
        let (v1s, v2s) = (side("cpu.cfs_quota_us", v1q), side("cpu.max", v2q));
        check_file(t, "cpu.quota", &ctl, v1s, v2s, field_if(v2, 0));
    }
    if let Some(p) = want(ctx, t, "cpu.period").and_then(Value::as_u64) {
        let (v1s, v2s) = (side("cpu.cfs_period_us", p), side("cpu.max", p));
        check_file(t, "cpu.period", &ctl, v1s, v2s, field_if(v2, 1));
    }
    if let Some(b) = want(ctx, t, "cpu.burst").and_then(Value::as_u64) {
        let (v1, v2) = ("cpu.cfs_burst_us", "cpu.max.burst");
        let file = match &ctl {
            Ctl::V1(d) => Some(d.join(v1)),
            Ctl::V2(d) => Some(d.join(v2)),
            Ctl::Absent(_) => None,
        };
        if file.is_some_and(|f| !f.exists()) {
            t.skip(
                &name("cpu.burst", "is applied to the container's cgroup"),
                "the kernel has no CFS burst file (Linux < 5.14)",
            );
        } else {
            check_file(t, "cpu.burst", &ctl, side(v1, b), side(v2, b), same);
        }
    }
    for (key, file) in [
        ("realtimeRuntime", "cpu.rt_runtime_us"),
        ("realtimePeriod", "cpu.rt_period_us"),
    ] {
        let field = format!("cpu.{key}");
        if let Some(v) = want(ctx, t, &field).and_then(Value::as_i64) {
            let v2 = no_v2("realtime group scheduling");
            check_file(t, &field, &ctl, side(file, v), v2, same);
        }
    }
    if let Some(i) = want(ctx, t, "cpu.idle").and_then(Value::as_i64) {
        let s = side("cpu.idle", i);
        check_file(t, "cpu.idle", &ctl, s.clone(), s, same);
    }
}

fn cpuset(ctx: &Ctx, t: &mut Tap, cg: &Cgroups) {
    let ctl = cg.ctl("cpuset");
    for key in ["cpus", "mems"] {
        let field = format!("cpu.{key}");
        let Some(v) = want(ctx, t, &field).and_then(Value::as_str) else {
            continue;
        };
        let file = format!("cpuset.{key}");
        let Ok(members) = crate::cgroup::list_set(v) else {
            t.case(
                &name(&field, "is a list"),
                Err(format!("cannot parse {v:?}")),
            );
            continue;
        };
        // Compare as sets: "0-1" and "0,1" are the same list.
        let norm = |s: &str| format!("{:?}", crate::cgroup::list_set(s).unwrap_or_default());
        let s = side(&file, format!("{members:?}"));
        check_file(t, &field, &ctl, s.clone(), s, norm);
    }
}
