//! config-linux.md "Seccomp": the probe calls syscalls that have no side effect and
//! read no memory, with arguments that match (or miss) the conditions of the rule
//! naming them, and compares the errno with errnoRet / defaultErrnoRet.
//!
//! Only rules the probe can judge alone are checked: a syscall from `SAFE` named by
//! exactly one rule, with action SCMP_ACT_ERRNO or SCMP_ACT_ALLOW, under a
//! defaultAction of SCMP_ACT_ALLOW or SCMP_ACT_ERRNO. Anything else is SKIP.

use crate::sys;
use crate::tap::Tap;
use crate::Ctx;
use serde_json::Value;

/// Syscalls whose arguments are plain integers and that succeed in the container
/// with all arguments 0.
const SAFE: &[(&str, libc::c_long)] = &[
    ("getppid", libc::SYS_getppid),
    ("getsid", libc::SYS_getsid),
    ("getpgid", libc::SYS_getpgid),
    ("getpriority", libc::SYS_getpriority),
];

/// What a call may give back, for one set of arguments.
#[derive(Debug, PartialEq)]
enum Want {
    Errno(i32),
    /// Not failed with any of these errnos (the kernel's own answer is free).
    NotDenied(Vec<i32>),
}

fn check_call(t: &mut Tap, name: &str, nr: libc::c_long, args: [u64; 6], want: Want) {
    let got = sys::syscall6(nr, args);
    let r = match (&want, got) {
        (Want::Errno(e), Err(g)) if *e == g => Ok(()),
        (Want::NotDenied(_), Ok(_)) => Ok(()),
        (Want::NotDenied(es), Err(g)) if !es.contains(&g) => Ok(()),
        (_, got) => Err(format!(
            "{name}({}): expected {want:?}, got {got:?}",
            args.map(|a| a.to_string()).join(", ")
        )),
    };
    t.case(&case_name(name, &args, &want), r);
}

fn case_name(name: &str, args: &[u64; 6], want: &Want) -> String {
    let call = format!("{name}({}, {})", args[0], args[1]);
    match want {
        Want::Errno(e) => format!("config-linux: seccomp: {call} fails with errno {e}"),
        Want::NotDenied(_) => format!("config-linux: seccomp: {call} is not denied"),
    }
}

/// An argument value that satisfies (or, with `hit` false, misses) one condition.
fn arg_for(cond: &Value, hit: bool) -> Option<u64> {
    let v = cond["value"].as_u64()?;
    let v2 = cond["valueTwo"].as_u64().unwrap_or(0);
    let op = cond["op"].as_str()?;
    Some(match (op, hit) {
        ("SCMP_CMP_EQ", true) | ("SCMP_CMP_LE", true) | ("SCMP_CMP_GE", true) => v,
        ("SCMP_CMP_EQ", false) | ("SCMP_CMP_LE", false) | ("SCMP_CMP_GT", true) => {
            v.checked_add(1)?
        }
        ("SCMP_CMP_NE", true) => v.checked_add(1)?,
        ("SCMP_CMP_NE", false) => v,
        ("SCMP_CMP_LT", true) | ("SCMP_CMP_GE", false) => v.checked_sub(1)?,
        ("SCMP_CMP_LT", false) | ("SCMP_CMP_GT", false) => v,
        // libseccomp's meaning: (arg & value) == valueTwo.
        ("SCMP_CMP_MASKED_EQ", true) if v2 & v == v2 => v2,
        ("SCMP_CMP_MASKED_EQ", false) => (v2 ^ v) & v,
        _ => return None,
    })
}

/// The rule's errno: errnoRet, else EPERM (config-linux.md).
fn rule_errno(v: &Value, key: &str) -> i32 {
    v[key]
        .as_u64()
        .and_then(|e| i32::try_from(e).ok())
        .unwrap_or(libc::EPERM)
}

pub fn check(ctx: &Ctx, t: &mut Tap) {
    let Some(sc) = ctx.cfg("/linux/seccomp") else {
        t.skip("config-linux: seccomp", "linux.seccomp is not set");
        return;
    };
    t.eq_res(
        "config-linux: linux.seccomp installs a seccomp filter (Seccomp: 2 in /proc/self/status)",
        "2".to_string(),
        crate::caps::status_field("Seccomp"),
    );
    let default = match sc["defaultAction"].as_str() {
        Some("SCMP_ACT_ALLOW") => None,
        Some("SCMP_ACT_ERRNO") => Some(rule_errno(sc, "defaultErrnoRet")),
        other => {
            t.skip(
                "config-linux: seccomp rules",
                &format!("defaultAction {other:?}: the probe judges ALLOW and ERRNO only"),
            );
            return;
        }
    };
    let rules: Vec<&Value> = sc["syscalls"].as_array().into_iter().flatten().collect();
    let named_by = |name: &str| -> Vec<&Value> {
        rules
            .iter()
            .copied()
            .filter(|r| {
                r["names"]
                    .as_array()
                    .is_some_and(|n| n.iter().any(|n| n == name))
            })
            .collect()
    };
    for &(name, nr) in SAFE {
        let by = named_by(name);
        let neutral = [0u64; 6];
        let Some(rule) = by.first() else {
            // Not named: the default action.
            let want = match default {
                Some(e) => Want::Errno(e),
                None => Want::NotDenied(vec![]),
            };
            let what = match default {
                Some(_) => "defaultAction SCMP_ACT_ERRNO with defaultErrnoRet",
                None => "defaultAction SCMP_ACT_ALLOW",
            };
            t.comment(&format!("{name} is in no rule: {what} applies"));
            check_call(t, name, nr, neutral, want);
            continue;
        };
        if by.len() > 1 {
            t.skip(
                &format!("config-linux: seccomp rules for {name}"),
                "named by more than one rule",
            );
            continue;
        }
        let denied = match rule["action"].as_str() {
            Some("SCMP_ACT_ERRNO") => rule_errno(rule, "errnoRet"),
            Some("SCMP_ACT_ALLOW") => {
                let deny: Vec<i32> = default.into_iter().collect();
                check_call(t, name, nr, neutral, Want::NotDenied(deny));
                continue;
            }
            other => {
                t.skip(
                    &format!("config-linux: seccomp rule for {name}"),
                    &format!("action {other:?}: the probe judges ALLOW and ERRNO only"),
                );
                continue;
            }
        };
        let conds: Vec<&Value> = rule["args"].as_array().into_iter().flatten().collect();
        let mut hit = neutral;
        let mut ok = true;
        for c in &conds {
            match (c["index"].as_u64().map(|i| i as usize), arg_for(c, true)) {
                (Some(i), Some(v)) if i < 6 => hit[i] = v,
                _ => ok = false,
            }
        }
        if !ok {
            t.skip(
                &format!("config-linux: seccomp rule for {name}"),
                "conditions the probe cannot satisfy",
            );
            continue;
        }
        check_call(t, name, nr, hit, Want::Errno(denied));
        // Each condition missed alone: the rule does not apply.
        for c in &conds {
            let (Some(i), Some(v)) = (c["index"].as_u64(), arg_for(c, false)) else {
                continue;
            };
            let mut miss = hit;
            miss[i as usize] = v;
            let want = match default {
                Some(e) => Want::Errno(e),
                None => Want::NotDenied(vec![denied]),
            };
            t.comment(&format!(
                "{name}: arg {i} misses its {} condition",
                c["op"].as_str().unwrap_or("?")
            ));
            check_call(t, name, nr, miss, want);
        }
    }
}
