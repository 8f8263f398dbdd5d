//! `process.*`: args, cwd, env, user, rlimits, oomScoreAdj, ioPriority, scheduler and
//! execCPUAffinity.

use super::{absolute_path, env_entry, no_nul_str};
use crate::spec::SpecError;
use oci_spec::runtime::{LinuxSchedulerPolicy, Spec};

pub(super) fn process_required(spec: &Spec) -> Result<(), SpecError> {
    if spec.process().is_none() {
        return Err(SpecError::invalid(
            "process",
            "required: berth runs the process that config.json names",
        ));
    }
    Ok(())
}

pub(super) fn process_args(spec: &Spec) -> Result<(), SpecError> {
    let Some(process) = spec.process() else {
        return Ok(());
    };
    let args = process.args().as_deref().unwrap_or_default();
    let Some(first) = args.first() else {
        return Err(SpecError::invalid(
            "process.args",
            "at least one entry (the program to run) is required",
        ));
    };
    if first.is_empty() {
        return Err(SpecError::invalid(
            "process.args[0]",
            "the program to run must not be empty",
        ));
    }
    for (i, a) in args.iter().enumerate() {
        no_nul_str(&format!("process.args[{i}]"), a)?;
    }
    Ok(())
}

pub(super) fn process_cwd(spec: &Spec) -> Result<(), SpecError> {
    match spec.process() {
        Some(p) => absolute_path("process.cwd", p.cwd()),
        None => Ok(()),
    }
}

pub(super) fn process_env(spec: &Spec) -> Result<(), SpecError> {
    let Some(env) = spec.process().as_ref().and_then(|p| p.env().as_ref()) else {
        return Ok(());
    };
    for (i, e) in env.iter().enumerate() {
        env_entry(&format!("process.env[{i}]"), e)?;
    }
    Ok(())
}

pub(super) fn process_user(spec: &Spec) -> Result<(), SpecError> {
    let Some(process) = spec.process() else {
        return Ok(());
    };
    if let Some(umask) = process.user().umask() {
        if umask > 0o777 {
            return Err(SpecError::invalid(
                "process.user.umask",
                format!("{umask:#o} is more than 0o777"),
            ));
        }
    }
    Ok(())
}

pub(super) fn process_rlimits(spec: &Spec) -> Result<(), SpecError> {
    let Some(rlimits) = spec.process().as_ref().and_then(|p| p.rlimits().as_ref()) else {
        return Ok(());
    };
    for (i, r) in rlimits.iter().enumerate() {
        // At most 16 distinct types exist, so this scan stays short.
        if let Some(j) = rlimits[..i].iter().position(|o| o.typ() == r.typ()) {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}].type"),
                format!(
                    "duplicate rlimit \"{}\" (also at process.rlimits[{j}])",
                    r.typ()
                ),
            ));
        }
        if r.soft() > r.hard() {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}].soft"),
                format!(
                    "soft limit {} is more than the hard limit {}",
                    r.soft(),
                    r.hard()
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn process_oom_score_adj(spec: &Spec) -> Result<(), SpecError> {
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        if !(-1000..=1000).contains(&adj) {
            return Err(SpecError::invalid(
                "process.oomScoreAdj",
                format!("{adj} is outside -1000..=1000"),
            ));
        }
    }
    Ok(())
}

/// process.consoleSize: the kernel's winsize holds 16-bit rows and columns; a larger
/// value would be cut silently.
pub(super) fn process_console_size(spec: &Spec) -> Result<(), SpecError> {
    if let Some(size) = spec.process().as_ref().and_then(|p| p.console_size()) {
        for (field, v) in [("height", size.height()), ("width", size.width())] {
            if v > u64::from(u16::MAX) {
                return Err(SpecError::invalid(
                    format!("process.consoleSize.{field}"),
                    format!("{v} is more than a terminal holds ({})", u16::MAX),
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn process_io_priority(spec: &Spec) -> Result<(), SpecError> {
    if let Some(io) = spec
        .process()
        .as_ref()
        .and_then(|p| p.io_priority().as_ref())
    {
        let prio = io.priority();
        if !(0..=7).contains(&prio) {
            return Err(SpecError::invalid(
                "process.ioPriority.priority",
                format!("{prio} is outside 0..=7"),
            ));
        }
    }
    Ok(())
}

/// sched_setattr(2)'s rules, checked before any fork.
pub(super) fn process_scheduler(spec: &Spec) -> Result<(), SpecError> {
    let Some(s) = spec.process().as_ref().and_then(|p| p.scheduler().as_ref()) else {
        return Ok(());
    };
    let policy = *s.policy();
    if let Some(nice) = *s.nice() {
        if !(-20..=19).contains(&nice) {
            return Err(SpecError::invalid(
                "process.scheduler.nice",
                format!("{nice} is outside -20..=19"),
            ));
        }
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = matches!(
        policy,
        LinuxSchedulerPolicy::SchedFifo | LinuxSchedulerPolicy::SchedRr
    );
    if realtime && !(1..=99).contains(&priority) {
        return Err(SpecError::invalid(
            "process.scheduler.priority",
            format!("{priority} is outside 1..=99, the range of SCHED_FIFO and SCHED_RR"),
        ));
    }
    if !realtime && priority != 0 {
        return Err(SpecError::invalid(
            "process.scheduler.priority",
            "only SCHED_FIFO and SCHED_RR take a priority",
        ));
    }
    let runtime = s.runtime().unwrap_or(0);
    let deadline = s.deadline().unwrap_or(0);
    let period = s.period().unwrap_or(0);
    if policy != LinuxSchedulerPolicy::SchedDeadline {
        if runtime != 0 || deadline != 0 || period != 0 {
            return Err(SpecError::invalid(
                "process.scheduler",
                "runtime, deadline and period are only for SCHED_DEADLINE",
            ));
        }
        return Ok(());
    }
    // The kernel's __checkparam_dl: 1024 ns <= runtime <= deadline <= period (if set),
    // and no value with bit 63 set.
    const TOP_BIT: u64 = 1 << 63;
    for (name, v) in [
        ("runtime", runtime),
        ("deadline", deadline),
        ("period", period),
    ] {
        if v & TOP_BIT != 0 {
            return Err(SpecError::invalid(
                format!("process.scheduler.{name}"),
                format!("{v} is too large"),
            ));
        }
    }
    if runtime < 1024 {
        return Err(SpecError::invalid(
            "process.scheduler.runtime",
            format!("{runtime} ns is less than the 1024 ns SCHED_DEADLINE needs"),
        ));
    }
    if deadline < runtime {
        return Err(SpecError::invalid(
            "process.scheduler.deadline",
            format!("{deadline} is less than runtime {runtime}"),
        ));
    }
    if period != 0 && period < deadline {
        return Err(SpecError::invalid(
            "process.scheduler.period",
            format!("{period} is less than deadline {deadline}"),
        ));
    }
    Ok(())
}

/// Highest CPU number a cpu list may name (the kernel's largest NR_CPUS).
pub const MAX_CPU: u32 = 8191;

/// Parse a cpu list such as "0-3,7" into inclusive ranges. Empty input is an error
/// (callers treat an absent list as "do not change").
pub fn parse_cpu_list(s: &str) -> Result<Vec<(u32, u32)>, String> {
    let mut ranges = Vec::new();
    for part in s.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (cpu_number(a, s)?, cpu_number(b, s)?),
            None => {
                let n = cpu_number(part, s)?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(format!("{s:?}: range {part:?} goes backwards"));
        }
        ranges.push((lo, hi));
    }
    Ok(ranges)
}

fn cpu_number(text: &str, whole: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{whole:?} is not a cpu list like \"0-3,7\" ({text:?} is not a cpu number)"
        ));
    }
    match text.parse::<u32>() {
        Ok(n) if n <= MAX_CPU => Ok(n),
        _ => Err(format!("{whole:?}: cpu {text} is more than {MAX_CPU}")),
    }
}

pub(super) fn process_exec_cpu_affinity(spec: &Spec) -> Result<(), SpecError> {
    let Some(a) = spec
        .process()
        .as_ref()
        .and_then(|p| p.exec_cpu_affinity().as_ref())
    else {
        return Ok(());
    };
    for (name, list) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
        if let Some(list) = list {
            // Empty means "leave the affinity alone" (config.md).
            if !list.is_empty() {
                parse_cpu_list(list).map_err(|r| {
                    SpecError::invalid(format!("process.execCPUAffinity.{name}"), r)
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::parse_cpu_list;
    use serde_json::json;

    #[test]
    fn process_required() {
        assert_eq!(failing_field(&without(base(), "/process")), "process");
    }

    #[test]
    fn process_args_non_empty() {
        assert_eq!(
            failing_field(&without(base(), "/process/args")),
            "process.args"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/args", json!([]))),
            "process.args"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/args", json!([""]))),
            "process.args[0]"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/args", json!(["sh", "a\u{0}b"]))),
            "process.args[1]"
        );
    }

    #[test]
    fn process_cwd_absolute() {
        assert_eq!(
            failing_field(&with(base(), "/process/cwd", json!("tmp"))),
            "process.cwd"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/cwd", json!(""))),
            "process.cwd"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/cwd", json!("/a\u{0}"))),
            "process.cwd"
        );
    }

    #[test]
    fn process_env_entries() {
        for bad in ["NOEQUALS", "=value", "A=b\u{0}c"] {
            assert_eq!(
                failing_field(&with(base(), "/process/env", json!(["PATH=/bin", bad]))),
                "process.env[1]",
                "{bad:?}"
            );
        }
        // An empty value is fine, and env may be absent (containerd).
        assert!(check(&with(base(), "/process/env", json!(["A="]))).is_ok());
        assert!(check(&without(base(), "/process/env")).is_ok());
    }

    #[test]
    fn process_user_umask() {
        let v = with(base(), "/process/user/umask", json!(0o1000));
        assert_eq!(failing_field(&v), "process.user.umask");
        assert!(check(&with(base(), "/process/user/umask", json!(0o22))).is_ok());
    }

    #[test]
    fn rlimits_no_duplicates() {
        let v = with(
            base(),
            "/process/rlimits",
            json!([
                {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
                {"type": "RLIMIT_CORE", "soft": 1, "hard": 1},
                {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}
            ]),
        );
        assert_eq!(failing_field(&v), "process.rlimits[2].type");
    }

    #[test]
    fn rlimits_soft_not_above_hard() {
        let v = with(
            base(),
            "/process/rlimits",
            json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]),
        );
        assert_eq!(failing_field(&v), "process.rlimits[0].soft");
    }

    #[test]
    fn oom_score_adj_range() {
        for bad in [-1001, 1001] {
            let v = with(base(), "/process/oomScoreAdj", json!(bad));
            assert_eq!(failing_field(&v), "process.oomScoreAdj");
        }
        for good in [-1000, 0, 1000] {
            assert!(check(&with(base(), "/process/oomScoreAdj", json!(good))).is_ok());
        }
    }

    #[test]
    fn console_size_fits_a_winsize() {
        let size = |h: u64, w: u64| {
            with(
                base(),
                "/process/consoleSize",
                json!({"height": h, "width": w}),
            )
        };
        assert!(check(&size(65535, 80)).is_ok());
        assert_eq!(
            failing_field(&size(65536, 80)),
            "process.consoleSize.height"
        );
        assert_eq!(
            failing_field(&size(24, 1 << 40)),
            "process.consoleSize.width"
        );
    }

    #[test]
    fn io_priority_range() {
        let io = |p: i64| json!({"class": "IOPRIO_CLASS_BE", "priority": p});
        assert_eq!(
            failing_field(&with(base(), "/process/ioPriority", io(8))),
            "process.ioPriority.priority"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/ioPriority", io(-1))),
            "process.ioPriority.priority"
        );
        assert!(check(&with(base(), "/process/ioPriority", io(7))).is_ok());
    }

    #[test]
    fn scheduler_nice_range() {
        let s = |n: i32| json!({"policy": "SCHED_OTHER", "nice": n});
        assert_eq!(
            failing_field(&with(base(), "/process/scheduler", s(20))),
            "process.scheduler.nice"
        );
        assert_eq!(
            failing_field(&with(base(), "/process/scheduler", s(-21))),
            "process.scheduler.nice"
        );
        assert!(check(&with(base(), "/process/scheduler", s(-20))).is_ok());
    }

    #[test]
    fn scheduler_priority_only_for_realtime_and_in_range() {
        let s = |policy: &str, p: i32| json!({"policy": policy, "priority": p});
        for (policy, p) in [("SCHED_FIFO", 0), ("SCHED_RR", 100), ("SCHED_OTHER", 5)] {
            assert_eq!(
                failing_field(&with(base(), "/process/scheduler", s(policy, p))),
                "process.scheduler.priority",
                "{policy} {p}"
            );
        }
        assert!(check(&with(base(), "/process/scheduler", s("SCHED_FIFO", 99))).is_ok());
        assert!(check(&with(base(), "/process/scheduler", s("SCHED_RR", 1))).is_ok());
    }

    #[test]
    fn scheduler_deadline_fields() {
        let dl = |r: u64, d: u64, p: u64| json!({"policy": "SCHED_DEADLINE", "runtime": r, "deadline": d, "period": p});
        let other = json!({"policy": "SCHED_BATCH", "runtime": 10000});
        assert_eq!(
            failing_field(&with(base(), "/process/scheduler", other)),
            "process.scheduler"
        );
        let cases = [
            (dl(100, 1000, 1000), "process.scheduler.runtime"),
            (dl(20000, 10000, 30000), "process.scheduler.deadline"),
            (dl(10000, 20000, 15000), "process.scheduler.period"),
            (dl(10000, 1 << 63, 0), "process.scheduler.deadline"),
        ];
        for (s, field) in cases {
            assert_eq!(failing_field(&with(base(), "/process/scheduler", s)), field);
        }
        assert!(check(&with(base(), "/process/scheduler", dl(10000, 20000, 30000))).is_ok());
        assert!(check(&with(base(), "/process/scheduler", dl(10000, 20000, 0))).is_ok());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,7"), Ok(vec![(0, 3), (7, 7)]));
        assert_eq!(parse_cpu_list("5"), Ok(vec![(5, 5)]));
        for bad in ["3-1", "", "1,,2", "a", "1-", "-1", "9000", "0-99999999999"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exec_cpu_affinity_ranges() {
        // oci-spec checks the syntax while parsing; the order and size are ours.
        let v = with(
            base(),
            "/process/execCPUAffinity",
            json!({"initial": "0-1", "final": "3-1"}),
        );
        assert_eq!(failing_field(&v), "process.execCPUAffinity.final");
        let v = with(
            base(),
            "/process/execCPUAffinity",
            json!({"initial": "10000"}),
        );
        assert_eq!(failing_field(&v), "process.execCPUAffinity.initial");
        let v = with(
            base(),
            "/process/execCPUAffinity",
            json!({"initial": "7", "final": "0-3,7"}),
        );
        assert!(check(&v).is_ok());
    }
}
