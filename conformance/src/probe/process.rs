//! config.md "Process": args, env, cwd, user, rlimits, noNewPrivileges,
//! oomScoreAdj, scheduler, ioPriority, execCPUAffinity, and config-linux.md
//! personality.

use crate::caps::status_field;
use crate::sys;
use crate::tap::Tap;
use crate::Ctx;
use serde_json::Value;
use std::collections::BTreeSet;

pub fn check(ctx: &Ctx, t: &mut Tap, argv: &[String]) {
    if ctx.want("process") {
        args(ctx, t, argv);
        env(ctx, t);
        cwd(ctx, t);
    }
    if ctx.want("user") {
        user(ctx, t);
    }
    if ctx.want("nnp") {
        let want = ctx.cfg("/process/noNewPrivileges").and_then(Value::as_bool) == Some(true);
        let name = if want {
            "config: process.noNewPrivileges true sets no_new_privs (NoNewPrivs 1)"
        } else {
            "config: process.noNewPrivileges unset/false leaves no_new_privs clear (NoNewPrivs 0)"
        };
        t.eq_res(
            name,
            if want { "1" } else { "0" }.to_string(),
            status_field("NoNewPrivs"),
        );
    }
    if ctx.want("rlimits") {
        rlimits(ctx, t);
    }
    if ctx.want("oom") {
        oom(ctx, t);
    }
    if ctx.want("sched") {
        sched(ctx, t);
    }
    if ctx.want("ioprio") {
        ioprio(ctx, t);
    }
    if ctx.want("affinity") {
        affinity(ctx, t);
    }
    if ctx.want("personality") {
        personality(ctx, t);
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn args(ctx: &Ctx, t: &mut Tap, argv: &[String]) {
    let want = strings(ctx.cfg("/process/args"));
    t.eq(
        "config: process.args is the process's argv",
        want.clone(),
        argv.to_vec(),
    );
    let Some(file) = want.first().filter(|a| !a.contains('/')) else {
        return;
    };
    // execvp(3) semantics: search PATH from process.env.
    let env = strings(ctx.cfg("/process/env"));
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/bin:/usr/bin");
    let found = path
        .split(':')
        .map(|d| format!("{d}/{file}"))
        .find(|p| std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false));
    let exe = std::fs::read_link("/proc/self/exe").map(|p| p.display().to_string());
    let r = match (found, exe) {
        (Some(f), Ok(exe)) => {
            let f = std::fs::canonicalize(&f)
                .map(|p| p.display().to_string())
                .unwrap_or(f);
            if f == exe {
                Ok(())
            } else {
                Err(format!("expected {f:?} (PATH lookup), got {exe:?}"))
            }
        }
        (None, _) => Err(format!("{file:?} not found in PATH {path:?}")),
        (_, Err(e)) => Err(format!("readlink /proc/self/exe: {e}")),
    };
    t.case(
        "config: process.args[0] without a slash is found in PATH (execvp file semantics)",
        r,
    );
}

fn env(ctx: &Ctx, t: &mut Tap) {
    let want = strings(ctx.cfg("/process/env"));
    let got: Vec<String> = match std::fs::read("/proc/self/environ") {
        Ok(b) => b
            .split(|c| *c == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
        Err(e) => {
            t.case(
                "config: process.env is the process's environment",
                Err(format!("read /proc/self/environ: {e}")),
            );
            return;
        }
    };
    let mut missing: Vec<String> = want.clone();
    let mut extra: Vec<String> = Vec::new();
    for g in &got {
        match missing.iter().position(|w| w == g) {
            Some(i) => {
                missing.remove(i);
            }
            None => extra.push(g.clone()),
        }
    }
    // runc, crun and gVisor add HOME (from /etc/passwd) when process.env has
    // none, and Docker relies on it; that one addition is tolerated.
    let config_has_home = want.iter().any(|w| w.starts_with("HOME="));
    let added_home: Vec<String> = extra
        .iter()
        .filter(|e| e.starts_with("HOME=") && !config_has_home)
        .cloned()
        .collect();
    extra.retain(|e| !added_home.contains(e));
    for h in &added_home {
        t.comment(&format!(
            "runtime added {h} (tolerated: process.env has no HOME)"
        ));
    }
    let r = if missing.is_empty() && extra.is_empty() {
        Ok(())
    } else {
        Err(format!("missing {missing:?}, extra {extra:?}"))
    };
    t.case("config: process.env is the process's environment", r);
}

fn cwd(ctx: &Ctx, t: &mut Tap) {
    let want = ctx
        .cfg("/process/cwd")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let want = if want.len() > 1 {
        want.trim_end_matches('/').to_string()
    } else {
        want
    };
    let got = std::env::current_dir()
        .map(|p| p.display().to_string())
        .map_err(|e| e.to_string());
    t.eq_res("config: process.cwd is the working directory", want, got);
}

fn ids(field: &str) -> Result<Vec<u64>, String> {
    status_field(field)?
        .split_whitespace()
        .map(|s| s.parse::<u64>().map_err(|e| format!("{field}: {s:?}: {e}")))
        .collect()
}

fn user(ctx: &Ctx, t: &mut Tap) {
    let uid = ctx
        .cfg("/process/user/uid")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let gid = ctx
        .cfg("/process/user/gid")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    t.eq_res(
        "config: process.user.uid is the process's uid (real, effective, saved, fs)",
        vec![uid; 4],
        ids("Uid"),
    );
    t.eq_res(
        "config: process.user.gid is the process's gid (real, effective, saved, fs)",
        vec![gid; 4],
        ids("Gid"),
    );
    let want: BTreeSet<u64> = ctx
        .cfg("/process/user/additionalGids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    t.eq_res(
        "config: process.user.additionalGids are the supplementary groups (and only they)",
        want,
        ids("Groups").map(|v| v.into_iter().collect()),
    );
    if let Some(umask) = ctx.cfg("/process/user/umask").and_then(Value::as_u64) {
        let got = status_field("Umask")
            .and_then(|s| u64::from_str_radix(&s, 8).map_err(|e| format!("{s:?}: {e}")));
        t.eq_res(
            "config: process.user.umask is the process's umask",
            format!("{umask:04o}"),
            got.map(|g| format!("{g:04o}")),
        );
    }
}

const RLIMITS: &[&str] = &[
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

fn rlimits(ctx: &Ctx, t: &mut Tap) {
    for rl in ctx
        .cfg("/process/rlimits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ty = rl.get("type").and_then(Value::as_str).unwrap_or("?");
        let soft = rl.get("soft").and_then(Value::as_u64);
        let hard = rl.get("hard").and_then(Value::as_u64);
        let name =
            format!("config: process.rlimits {ty} soft/hard are getrlimit's rlim_cur/rlim_max");
        let Some(res) = RLIMITS.iter().position(|r| *r == ty) else {
            t.case(&name, Err(format!("probe does not know {ty}")));
            continue;
        };
        t.eq_res(
            &name,
            (soft, hard),
            sys::getrlimit(res as i32).map(|(c, m)| (Some(c), Some(m))),
        );
    }
}

fn oom(ctx: &Ctx, t: &mut Tap) {
    let got = std::fs::read_to_string("/proc/self/oom_score_adj")
        .map_err(|e| e.to_string())
        .and_then(|s| s.trim().parse::<i64>().map_err(|e| e.to_string()));
    match ctx.cfg("/process/oomScoreAdj").and_then(Value::as_i64) {
        Some(want) => t.eq_res(
            "config: process.oomScoreAdj is /proc/self/oom_score_adj",
            want,
            got,
        ),
        None => {
            let Some(host) = ctx.host("/oom_score_adj").and_then(Value::as_i64) else {
                return;
            };
            t.eq_res(
                "config: process.oomScoreAdj unset leaves oom_score_adj unchanged (the caller's)",
                host,
                got,
            )
        }
    }
}

const POLICIES: &[&str] = &[
    "SCHED_OTHER",
    "SCHED_FIFO",
    "SCHED_RR",
    "SCHED_BATCH",
    "SCHED_ISO",
    "SCHED_IDLE",
    "SCHED_DEADLINE",
];

fn sched(ctx: &Ctx, t: &mut Tap) {
    let Some(s) = ctx.cfg("/process/scheduler") else {
        return;
    };
    let policy = s.get("policy").and_then(Value::as_str).unwrap_or("?");
    let attr = sys::sched_getattr();
    let got = |f: fn(&sys::SchedAttr) -> i64| attr.as_ref().map(f).map_err(Clone::clone);
    let want_policy = POLICIES.iter().position(|p| *p == policy).map(|p| p as i64);
    t.eq_res(
        "config: process.scheduler.policy is the scheduling policy",
        want_policy.unwrap_or(-1),
        got(|a| a.policy as i64),
    );
    let field = |k: &str| s.get(k).and_then(Value::as_i64).unwrap_or(0);
    if matches!(policy, "SCHED_OTHER" | "SCHED_BATCH" | "SCHED_IDLE") {
        t.eq_res(
            "config: process.scheduler.nice is the nice value",
            field("nice"),
            got(|a| a.nice as i64),
        );
    }
    t.eq_res(
        "config: process.scheduler.priority is the static priority",
        field("priority"),
        got(|a| a.priority as i64),
    );
    let flags = strings(s.get("flags"));
    if !flags.is_empty() {
        let want = flags.iter().any(|f| f == "SCHED_FLAG_RESET_ON_FORK");
        t.eq_res(
            "config: process.scheduler.flags SCHED_FLAG_RESET_ON_FORK is set as configured",
            want,
            got(|a| (a.flags & 1) as i64).map(|v| v == 1),
        );
    }
    if policy == "SCHED_DEADLINE" {
        for (k, f) in [
            (
                "runtime",
                (|a: &sys::SchedAttr| a.runtime as i64) as fn(&sys::SchedAttr) -> i64,
            ),
            ("deadline", |a| a.deadline as i64),
            ("period", |a| a.period as i64),
        ] {
            t.eq_res(
                &format!("config: process.scheduler.{k} is the deadline {k}"),
                field(k),
                got(f),
            );
        }
    }
}

fn ioprio(ctx: &Ctx, t: &mut Tap) {
    let Some(io) = ctx.cfg("/process/ioPriority") else {
        return;
    };
    let class = match io.get("class").and_then(Value::as_str) {
        Some("IOPRIO_CLASS_RT") => 1,
        Some("IOPRIO_CLASS_BE") => 2,
        Some("IOPRIO_CLASS_IDLE") => 3,
        _ => 0,
    };
    let level = io.get("priority").and_then(Value::as_u64).unwrap_or(0) as u32;
    t.eq_res(
        "config: process.ioPriority class/priority is the process's I/O priority",
        (class, level),
        sys::ioprio_get(),
    );
}

fn affinity(ctx: &Ctx, t: &mut Tap) {
    if ctx.cfg("/process/execCPUAffinity").is_none() {
        return;
    }
    let Some(host) = ctx.host("/cpus_allowed").and_then(Value::as_array) else {
        return;
    };
    let want: Vec<usize> = host
        .iter()
        .filter_map(|v| v.as_u64().map(|n| n as usize))
        .collect();
    t.eq_res(
        "config: process.execCPUAffinity is not applied to the container's init process",
        want,
        sys::sched_getaffinity(),
    );
}

fn personality(ctx: &Ctx, t: &mut Tap) {
    let Some(domain) = ctx.cfg("/linux/personality/domain").and_then(Value::as_str) else {
        return;
    };
    let want: u32 = match domain {
        "LINUX" => 0,
        "LINUX32" => 8,
        _ => 0xff,
    };
    t.eq_res(
        "config: linux.personality.domain is the process's execution domain",
        want,
        sys::personality().map(|p| p & 0xff),
    );
    if domain == "LINUX32" {
        let r = match sys::uname() {
            Ok(u)
                if u.machine.len() == 4
                    && u.machine.starts_with('i')
                    && u.machine.ends_with("86") =>
            {
                Ok(())
            }
            Ok(u) => Err(format!(
                "expected a 32-bit machine such as i686, got {:?}",
                u.machine
            )),
            Err(e) => Err(e),
        };
        t.case(
            "config: linux.personality LINUX32 makes uname report a 32-bit CPU type",
            r,
        );
    }
}
