//! Profiles compiled and run on the reference interpreter (bpf::evaluate), for every
//! ABI, action, operator and combining rule. tests/seccomp.rs compares random profiles
//! with libseccomp itself.

use super::bpf::{
    SeccompData, AUDIT_ARCH_I386 as I386, AUDIT_ARCH_X86_64 as X64, RET_ALLOW, RET_ERRNO,
    RET_KILL_PROCESS, RET_KILL_THREAD, RET_LOG, RET_TRACE, RET_TRAP, RET_USER_NOTIF,
    X32_SYSCALL_BIT as X32,
};
use super::*;
use serde_json::{json, Value};

include!("../../tests/data/containers_profile.rs");

const EPERM: u32 = RET_ERRNO | 1;
const ENOSYS: u32 = RET_ERRNO | 38;

fn profile(v: Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("valid linux.seccomp")
}

/// A compiled profile and its program.
struct T {
    c: Compiled,
    prog: Vec<SockFilter>,
}

fn compiled(v: Value) -> T {
    let c = Compiled::new(&profile(v)).expect("compiles");
    let prog = c.layout().program().expect("fits");
    T { c, prog }
}

fn error(v: Value) -> String {
    match Compiled::new(&profile(v)) {
        Ok(_) => panic!("compiled"),
        Err(e) => e.to_string(),
    }
}

fn data(arch: u32, nr: u32, args: [u64; 6]) -> SeccompData {
    SeccompData {
        nr,
        arch,
        instruction_pointer: 0,
        args,
    }
}

/// The action for one call, from the program, checked against the model.
fn run(t: &T, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let d = data(arch, nr, args);
    let got = bpf::evaluate(&t.prog, &d).expect("runs");
    assert_eq!(
        got,
        t.c.layout().decide(&d),
        "program and model differ on {d:?}"
    );
    got
}

fn a0(v: u64) -> [u64; 6] {
    [v, 0, 0, 0, 0, 0]
}

fn arg(index: u64, op: &str, value: u64) -> Value {
    json!({"index": index, "op": op, "value": value})
}

fn getpid_deny(archs: &[&str]) -> T {
    compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": archs,
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]
    }))
}

#[test]
fn x86_64_only_profile_kills_the_other_abis() {
    let c = getpid_deny(&["SCMP_ARCH_X86_64"]);
    assert_eq!(run(&c, X64, 39, a0(0)), EPERM);
    assert_eq!(run(&c, X64, 110, a0(0)), RET_ALLOW, "getppid");
    // SECURITY.md attack 20: i386 (int 0x80) and x32 are libseccomp's bad arch.
    assert_eq!(run(&c, I386, 20, a0(0)), RET_KILL_THREAD);
    assert_eq!(run(&c, X64, 39 | X32, a0(0)), RET_KILL_THREAD);
    assert_eq!(run(&c, X64, 0x8000_0027, a0(0)), RET_KILL_THREAD);
    assert_eq!(run(&c, 0x4000_0028, 20, a0(0)), RET_KILL_THREAD, "arm");
    // libseccomp lets nr -1 (a tracer's skipped call) through the x32 check.
    assert_eq!(run(&c, X64, u32::MAX, a0(0)), RET_ALLOW);
}

#[test]
fn listed_abis_get_their_own_numbers() {
    let c = getpid_deny(&["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    assert_eq!(run(&c, X64, 39, a0(0)), EPERM);
    assert_eq!(run(&c, I386, 20, a0(0)), EPERM);
    assert_eq!(run(&c, I386, 39, a0(0)), RET_ALLOW, "i386 39 is mkdir");
    assert_eq!(run(&c, X64, 39 | X32, a0(0)), EPERM);
    assert_eq!(run(&c, X64, 40 | X32, a0(0)), RET_ALLOW);
    // Listing x32 merges it into the x86_64 section: no bad-arch kill left there.
    assert_eq!(run(&c, X64, 0x8000_0027, a0(0)), RET_ALLOW);
    // Other architectures are recognised; there is nothing to filter for them here.
    let c = getpid_deny(&["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_NATIVE"]);
    assert_eq!(run(&c, X64, 39, a0(0)), EPERM);
    assert_eq!(run(&c, 0xc000_00b7, 172, a0(0)), RET_KILL_THREAD);
}

#[test]
fn every_operator_compares_all_64_bits_on_x86_64() {
    let v: u64 = 0x1_0000_0005;
    let probes = [
        0,
        5,
        v - 1,
        v,
        v + 1,
        0x1_0000_0000,
        0x2_0000_0000,
        0xffff_ffff,
        u64::MAX,
    ];
    type Cmp = fn(u64, u64) -> bool;
    let cases: [(&str, Cmp); 6] = [
        ("SCMP_CMP_EQ", |a, b| a == b),
        ("SCMP_CMP_NE", |a, b| a != b),
        ("SCMP_CMP_LT", |a, b| a < b),
        ("SCMP_CMP_LE", |a, b| a <= b),
        ("SCMP_CMP_GT", |a, b| a > b),
        ("SCMP_CMP_GE", |a, b| a >= b),
    ];
    for (op, f) in cases {
        let c = compiled(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "args": [arg(0, op, v)]}]
        }));
        for p in probes {
            let want = if f(p, v) { EPERM } else { RET_ALLOW };
            assert_eq!(run(&c, X64, 39, a0(p)), want, "{op} {p:#x} vs {v:#x}");
        }
    }
}

#[test]
fn operators_on_i386_and_x32_compare_the_low_word() {
    let c = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "args": [arg(0, "SCMP_CMP_EQ", 0x1_0000_0005)]},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args": [arg(1, "SCMP_CMP_GT", 7)]}
        ]
    }));
    // libseccomp's 32-bit ABIs look at the low 32 bits only.
    assert_eq!(run(&c, I386, 20, a0(5)), EPERM);
    assert_eq!(run(&c, I386, 20, a0(0x7_0000_0005)), EPERM);
    assert_eq!(run(&c, X64, 39 | X32, a0(5)), EPERM);
    assert_eq!(run(&c, X64, 39, a0(5)), RET_ALLOW);
    assert_eq!(run(&c, X64, 39, a0(0x1_0000_0005)), EPERM);
    assert_eq!(run(&c, I386, 64, [0, 8, 0, 0, 0, 0]), EPERM);
    assert_eq!(run(&c, I386, 64, [0, 0x1_0000_0000, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&c, X64, 110, [0, 0x1_0000_0000, 0, 0, 0, 0]), EPERM);
}

#[test]
fn masked_eq_is_arg_and_value_equal_to_value_two() {
    let c = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "op": "SCMP_CMP_MASKED_EQ", "value": 0xf0, "valueTwo": 0x30}]},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 2, "op": "SCMP_CMP_MASKED_EQ", "value": 0xff_0000_0000u64, "valueTwo": 0x12_0000_0000u64}]},
            // valueTwo bits outside the mask are masked off, as libseccomp does.
            {"names": ["gettid"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "op": "SCMP_CMP_MASKED_EQ", "value": 0xf0, "valueTwo": 0x13}]}
        ]
    }));
    assert_eq!(run(&c, X64, 39, a0(0x35)), EPERM);
    assert_eq!(run(&c, X64, 39, a0(0x1_0000_0030)), EPERM);
    assert_eq!(run(&c, X64, 39, a0(0x45)), RET_ALLOW);
    assert_eq!(run(&c, X64, 110, [0, 0, 0x12_abcd_ef01, 0, 0, 0]), EPERM);
    assert_eq!(
        run(&c, X64, 110, [0, 0, 0x13_0000_0000, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(run(&c, X64, 186, a0(0x1f)), EPERM);
    assert_eq!(run(&c, X64, 186, a0(0x2f)), RET_ALLOW);
}

#[test]
fn conditions_of_a_rule_are_anded_and_a_repeated_argument_is_ored() {
    let c = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
             "args": [arg(0, "SCMP_CMP_EQ", 1), arg(3, "SCMP_CMP_EQ", 4)]},
            // runc turns two conditions on one argument into two rules.
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
             "args": [arg(0, "SCMP_CMP_EQ", 1), arg(0, "SCMP_CMP_EQ", 2)]}
        ]
    }));
    assert_eq!(run(&c, X64, 39, [1, 0, 0, 4, 0, 0]), EPERM);
    assert_eq!(run(&c, X64, 39, [1, 0, 0, 5, 0, 0]), RET_ALLOW);
    assert_eq!(run(&c, X64, 39, [2, 0, 0, 4, 0, 0]), RET_ALLOW);
    assert_eq!(run(&c, X64, 110, a0(1)), EPERM);
    assert_eq!(run(&c, X64, 110, a0(2)), EPERM);
    assert_eq!(run(&c, X64, 110, a0(3)), RET_ALLOW);
}

#[test]
fn an_unconditional_rule_wins_in_either_order() {
    for order in [[0, 1], [1, 0]] {
        let rules = [
            json!({"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}),
            json!({"names": ["getpid"], "action": "SCMP_ACT_KILL", "args": [arg(0, "SCMP_CMP_EQ", 1)]}),
        ];
        let c = compiled(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [rules[order[0]], rules[order[1]]]
        }));
        assert_eq!(run(&c, X64, 39, a0(1)), RET_ALLOW, "order {order:?}");
    }
    // The first unconditional rule wins over a later one.
    let c = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
            {"names": ["getpid"], "action": "SCMP_ACT_KILL"}
        ]
    }));
    assert_eq!(run(&c, X64, 39, a0(0)), RET_ERRNO | 5);
}

#[test]
fn overlapping_conditions_are_tried_in_libseccomps_order() {
    // Not by action precedence and not by profile order: a level of libseccomp's
    // tree is sorted with the higher argument first.
    for order in [[0, 1], [1, 0]] {
        let rules = [
            json!({"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "args": [arg(0, "SCMP_CMP_EQ", 1)]}),
            json!({"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS", "args": [arg(1, "SCMP_CMP_EQ", 2)]}),
        ];
        let c = compiled(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [rules[order[0]], rules[order[1]]]
        }));
        assert_eq!(run(&c, X64, 39, [1, 2, 0, 0, 0, 0]), RET_KILL_PROCESS);
        assert_eq!(run(&c, X64, 39, [1, 3, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(run(&c, X64, 39, [0, 3, 0, 0, 0, 0]), EPERM);
    }
    // A failed deeper condition falls through to the next alternative.
    let c = compiled(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "args": [arg(1, "SCMP_CMP_EQ", 2), arg(2, "SCMP_CMP_EQ", 3)]},
            {"names": ["getpid"], "action": "SCMP_ACT_TRAP", "args": [arg(0, "SCMP_CMP_EQ", 1)]}
        ]
    }));
    assert_eq!(run(&c, X64, 39, [1, 2, 0, 0, 0, 0]), RET_TRAP);
    assert_eq!(run(&c, X64, 39, [1, 2, 3, 0, 0, 0]), RET_ALLOW);
}

#[test]
fn contradicting_rules_are_refused_like_libseccomp() {
    let e = error(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "args": [arg(0, "SCMP_CMP_EQ", 1)]},
            {"names": ["getpid"], "action": "SCMP_ACT_KILL", "args": [arg(0, "SCMP_CMP_EQ", 1)]}
        ]
    }));
    assert!(e.starts_with("linux.seccomp.syscalls[1]: "), "{e}");
    assert!(e.contains("EEXIST"), "{e}");
    // A longer rule under a shorter one with another action is dropped silently.
    let c = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "args": [arg(0, "SCMP_CMP_EQ", 1)]},
            {"names": ["getpid"], "action": "SCMP_ACT_KILL", "args": [arg(0, "SCMP_CMP_EQ", 1), arg(1, "SCMP_CMP_EQ", 2)]}
        ]
    }));
    assert_eq!(run(&c, X64, 39, [1, 2, 0, 0, 0, 0]), EPERM);
}

#[test]
fn a_rule_like_the_default_is_skipped_as_in_runc() {
    let c = compiled(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "args": [arg(0, "SCMP_CMP_EQ", 1)]}
        ]
    }));
    assert_eq!(run(&c, X64, 39, a0(1)), RET_ALLOW);
    assert_eq!(run(&c, X64, 39, a0(2)), EPERM);
}

#[test]
fn unknown_names_are_skipped_and_names_resolve_per_abi() {
    let c = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["no_such_call", "socketcall", "arch_prctl", "getpid"], "action": "SCMP_ACT_ERRNO"}
        ]
    }));
    assert_eq!(run(&c, X64, 39, a0(0)), EPERM);
    assert_eq!(run(&c, X64, 158, a0(0)), EPERM, "arch_prctl on x86_64");
    assert_eq!(run(&c, I386, 384, a0(0)), EPERM, "arch_prctl on i386");
    assert_eq!(run(&c, I386, 102, a0(0)), EPERM, "socketcall is i386 only");
    assert_eq!(run(&c, X64, 102, a0(0)), RET_ALLOW, "x86_64 102 is getuid");
}

#[test]
fn i386_socket_calls_are_matched_through_socketcall_too() {
    let c = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [arg(0, "SCMP_CMP_EQ", 16)]},
            {"names": ["shmget"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    }));
    assert_eq!(run(&c, X64, 41, a0(16)), EPERM);
    assert_eq!(run(&c, X64, 41, a0(2)), RET_ALLOW);
    assert_eq!(run(&c, I386, 359, a0(16)), EPERM);
    // socketcall(SYS_SOCKET, args): argument 0 is the call, the rest is in memory.
    assert_eq!(run(&c, I386, 102, a0(1)), EPERM);
    assert_eq!(run(&c, I386, 102, a0(2)), RET_ALLOW, "SYS_BIND");
    assert_eq!(run(&c, I386, 117, a0(23)), RET_ERRNO | 38, "ipc(SHMGET)");
    assert_eq!(run(&c, I386, 395, a0(0)), RET_ERRNO | 38, "shmget");
    assert_eq!(run(&c, I386, 117, a0(22)), RET_ALLOW, "ipc(SHMDT)");
}

#[test]
fn calls_newer_than_the_profile_get_enosys() {
    let p = |default: &str, archs: Value| {
        json!({
            "defaultAction": default,
            "architectures": archs,
            "syscalls": [{"names": ["read", "write", "openat", "waitpid"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["getpid"], "action": "SCMP_ACT_KILL"}]
        })
    };
    let c = compiled(p(
        "SCMP_ACT_ERRNO",
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]),
    ));
    assert_eq!(run(&c, X64, 257, a0(0)), RET_ALLOW);
    assert_eq!(
        run(&c, X64, 100, a0(0)),
        EPERM,
        "below the highest: the default"
    );
    assert_eq!(run(&c, X64, 258, a0(0)), ENOSYS);
    assert_eq!(run(&c, X64, 435, a0(0)), ENOSYS, "clone3");
    assert_eq!(run(&c, X64, 0x3fff_ffff, a0(0)), ENOSYS);
    assert_eq!(
        run(&c, X64, 0x8000_0000, a0(0)),
        ENOSYS,
        "runc tests bit 30 only"
    );
    assert_eq!(
        run(&c, X64, 1 | X32, a0(0)),
        RET_KILL_THREAD,
        "x32 not listed"
    );
    assert_eq!(run(&c, I386, 295, a0(0)), RET_ALLOW, "i386 openat");
    assert_eq!(run(&c, I386, 296, a0(0)), ENOSYS);
    assert_eq!(run(&c, I386, 20, a0(0)), RET_KILL_THREAD, "getpid: KILL");
    // The stub covers listed ABIs only, and never a default that lets calls through.
    let c = compiled(p("SCMP_ACT_ERRNO", json!([])));
    assert_eq!(run(&c, X64, 258, a0(0)), EPERM);
    let c = compiled(p("SCMP_ACT_LOG", json!(["SCMP_ARCH_X86_64"])));
    assert_eq!(run(&c, X64, 258, a0(0)), RET_LOG);
    let c = compiled(p(
        "SCMP_ACT_KILL_PROCESS",
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]),
    ));
    assert_eq!(run(&c, X64, 258, a0(0)), ENOSYS);
    assert_eq!(run(&c, X64, 257 | X32, a0(0)), RET_ALLOW);
    assert_eq!(run(&c, X64, 258 | X32, a0(0)), ENOSYS);
    assert_eq!(run(&c, X64, 100 | X32, a0(0)), RET_KILL_PROCESS);
}

#[test]
fn actions_have_their_kernel_values() {
    let cases = [
        (json!({"action": "SCMP_ACT_ALLOW"}), RET_ALLOW),
        (json!({"action": "SCMP_ACT_ERRNO"}), EPERM),
        (
            json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 13}),
            RET_ERRNO | 13,
        ),
        (json!({"action": "SCMP_ACT_KILL"}), RET_KILL_THREAD),
        (json!({"action": "SCMP_ACT_KILL_THREAD"}), RET_KILL_THREAD),
        (json!({"action": "SCMP_ACT_KILL_PROCESS"}), RET_KILL_PROCESS),
        (json!({"action": "SCMP_ACT_TRAP"}), RET_TRAP),
        (json!({"action": "SCMP_ACT_TRACE"}), RET_TRACE | 1),
        (
            json!({"action": "SCMP_ACT_TRACE", "errnoRet": 42}),
            RET_TRACE | 42,
        ),
        (json!({"action": "SCMP_ACT_LOG"}), RET_LOG),
        (json!({"action": "SCMP_ACT_NOTIFY"}), RET_USER_NOTIF),
    ];
    for (mut rule, want) in cases {
        rule["names"] = json!(["getpid"]);
        let c = compiled(json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 7,
            "listenerPath": "/run/agent.sock", "syscalls": [rule]
        }));
        assert_eq!(run(&c, X64, 39, a0(0)), want, "{rule}");
        assert_eq!(run(&c, X64, 110, a0(0)), RET_ERRNO | 7, "defaultErrnoRet");
    }
}

#[test]
fn errors_name_the_field() {
    let e = |v: Value| error(v);
    let with = |rule: Value| json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}, rule]});
    assert_eq!(
        e(with(
            json!({"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "args": [arg(1, "SCMP_CMP_EQ", 1), arg(6, "SCMP_CMP_EQ", 1)]})
        )),
        "linux.seccomp.syscalls[1].args[1].index: must be 0..5, not 6"
    );
    assert!(e(with(json!({"names": [], "action": "SCMP_ACT_ERRNO"})))
        .starts_with("linux.seccomp.syscalls[1].names: "));
    assert!(e(with(
        json!({"names": ["read", ""], "action": "SCMP_ACT_ERRNO"})
    ))
    .starts_with("linux.seccomp.syscalls[1].names[1]: "));
    assert!(e(with(
        json!({"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1})
    ))
    .starts_with("linux.seccomp.syscalls[1].errnoRet: "));
    assert!(e(with(
        json!({"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000})
    ))
    .starts_with("linux.seccomp.syscalls[1].errnoRet: "));
    assert!(
        e(json!({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}))
            .starts_with("linux.seccomp.defaultErrnoRet: ")
    );
    assert!(
        e(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/a"}))
            .starts_with("linux.seccomp.defaultAction: ")
    );
    assert!(e(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a",
        "syscalls": [{"names": ["read", "sendmsg"], "action": "SCMP_ACT_NOTIFY"}]})
    )
    .starts_with("linux.seccomp.syscalls[0].names[1]: "));
    assert!(e(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}))
    .starts_with("linux.seccomp.listenerPath: "));
    assert!(
        e(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"}))
            .starts_with("linux.seccomp.listenerMetadata: ")
    );
}

#[test]
fn flags_and_the_listener() {
    let f = |v: Value| compile(&profile(v)).expect("compiles");
    let plain = f(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                  "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}),
    );
    // WAIT_KILLABLE_RECV is about notifications; without them the kernel would refuse it.
    assert_eq!(plain.flags, FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_TSYNC);
    assert_eq!(
        plain.listener, None,
        "listenerPath is ignored without SCMP_ACT_NOTIFY"
    );
    let notify = f(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock", "listenerMetadata": "meta",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_NOTIFY"}]}));
    assert_eq!(
        notify.flags,
        FLAG_TSYNC | FLAG_TSYNC_ESRCH | FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV
    );
    assert_eq!(
        notify.listener,
        Some(Listener {
            path: "/run/agent.sock".into(),
            metadata: Some("meta".into())
        })
    );
}

fn default_caps() -> [&'static str; 3] {
    ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
}

#[test]
fn podmans_default_profile() {
    let p = containers_profile(&default_caps());
    let c = compiled(p);
    // libseccomp 2.5.4 (runc) makes 1125 instructions of the same profile.
    assert!(c.prog.len() <= 1125, "{} instructions", c.prog.len());
    eprintln!("podman's profile: {} BPF instructions", c.prog.len());
    let e38 = RET_ERRNO | 38;
    for (arch, nr) in [
        (X64, 83),
        (I386, 39),
        (X64, 83 | X32),
        (X64, 258),
        (X64, 59),
        (I386, 11),
    ] {
        assert_eq!(
            run(&c, arch, nr, a0(0)),
            RET_ALLOW,
            "mkdir/mkdirat/execve {arch:#x} {nr}"
        );
    }
    assert_eq!(run(&c, X64, 321, a0(0)), EPERM, "bpf without CAP_SYS_ADMIN");
    assert_eq!(run(&c, I386, 357, a0(0)), EPERM, "bpf on i386");
    assert_eq!(run(&c, X64, 246, a0(0)), EPERM, "kexec_load");
    // setns is also in the big allow list, whose unconditional rule comes first.
    assert_eq!(run(&c, X64, 308, a0(0)), RET_ALLOW, "setns");
    assert_eq!(
        run(&c, X64, 165, a0(0)),
        RET_ALLOW,
        "mount: left to capabilities"
    );
    assert_eq!(
        run(&c, X64, 135, a0(0)),
        RET_ALLOW,
        "personality(PER_LINUX)"
    );
    assert_eq!(run(&c, X64, 135, a0(1)), e38, "personality(1): the default");
    assert_eq!(
        run(&c, X64, 41, [16, 3, 9, 0, 0, 0]),
        RET_ALLOW,
        "socket with CAP_AUDIT_WRITE"
    );
    assert_eq!(run(&c, X64, 1000, a0(0)), ENOSYS);
    assert_eq!(run(&c, 0xc000_00b7, 0, a0(0)), RET_KILL_THREAD);
    // The program and the model agree everywhere (far jumps included).
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let arch = [X64, I386, 0x4000_0028][(x % 3) as usize];
        let nr = match x % 4 {
            0 => (x >> 8) as u32 % 500,
            1 => ((x >> 8) as u32 % 600) | X32,
            2 => (x >> 8) as u32,
            _ => 102,
        };
        let args = [x >> 3, x % 40, 9, x.rotate_left(7), 0, x >> 40];
        run(&c, arch, nr, args);
    }
}

#[test]
fn podmans_profile_without_cap_audit_write() {
    // Podman's own default capabilities: its socket rules deny the audit netlink.
    let c = compiled(containers_profile(&["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"]));
    assert_eq!(run(&c, X64, 41, [16, 3, 9, 0, 0, 0]), RET_ERRNO | 22);
    assert_eq!(run(&c, X64, 41, [16, 3, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&c, X64, 41, [2, 1, 9, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&c, I386, 359, [16, 3, 9, 0, 0, 0]), RET_ERRNO | 22);
    // socketcall itself is allowed outright, which wins over its argument rules.
    assert_eq!(run(&c, I386, 102, a0(1)), RET_ALLOW);
}

#[test]
fn far_jumps_in_a_large_profile() {
    // One conditional rule per x86_64 system call: long argument trees everywhere.
    let names: Vec<&str> = table::SYSCALLS
        .iter()
        .filter(|e| e.1 != table::NONE)
        .map(|e| e.0)
        .take(150)
        .collect();
    let rules: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"names": [n], "action": "SCMP_ACT_ALLOW", "args": [arg(0, "SCMP_CMP_GE", i as u64 + 0x1_0000_0000)]}))
        .collect();
    let c = compiled(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": rules}),
    );
    assert!(
        c.prog.len() > 255 + 50,
        "long enough to need far jumps: {}",
        c.prog.len()
    );
    assert!(
        c.prog.iter().any(|i| i.code == bpf::JMP_JA),
        "uses JA trampolines"
    );
    for (i, n) in names.iter().enumerate() {
        let nr = table::lookup(n, 0).expect("x86_64");
        let v = i as u64 + 0x1_0000_0000;
        assert_eq!(run(&c, X64, nr, a0(v)), RET_ALLOW, "{n}");
        assert_eq!(run(&c, X64, nr, a0(v - 1)), EPERM, "{n}");
    }
}

#[test]
fn too_large_profiles_are_refused() {
    // 32 argument comparisons per rule on every x86_64 call: far beyond 4096.
    let rules: Vec<Value> = table::SYSCALLS
        .iter()
        .filter(|e| e.1 != table::NONE)
        .map(|e| json!({"names": [e.0], "action": "SCMP_ACT_ALLOW",
            "args": [arg(0, "SCMP_CMP_GT", 1), arg(1, "SCMP_CMP_GT", 2), arg(2, "SCMP_CMP_GT", 3), arg(3, "SCMP_CMP_GT", 4)]}))
        .collect();
    let e = compile(&profile(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules}),
    ))
    .expect_err("too big");
    assert!(
        e.to_string()
            .starts_with("linux.seccomp: the profile compiles to more than 4096"),
        "{e}"
    );
}

#[test]
fn the_table_matches_the_kernels_numbers() {
    assert_eq!(table::lookup("getpid", 0), Some(39));
    assert_eq!(table::lookup("getpid", 1), Some(20));
    assert_eq!(table::lookup("getpid", 2), Some(39));
    assert_eq!(table::lookup("rt_sigaction", 2), Some(512));
    assert_eq!(table::lookup("socketcall", 0), None);
    assert_eq!(table::lookup("mseal", 0), Some(462));
    assert_eq!(table::lookup("map_shadow_stack", 2), None);
    assert_eq!(table::lookup("no_such_call", 0), None);
}

/// Found by tests/robustness.rs: compile time grows with the square of the number of
/// conditional rules (1,000 took 40 s in a debug build before failing on the kernel's
/// size limit); past MAX_CONDITIONAL_RULES berth refuses at once.
#[test]
fn too_many_conditional_rules_are_refused_quickly() {
    let n = MAX_CONDITIONAL_RULES / 3 + 1;
    let syscalls: Vec<Value> = (0..n)
        .map(|i| {
            json!({"names": ["getpid", "getppid", "getuid"], "action": "SCMP_ACT_ERRNO",
            "args": [arg(0, "SCMP_CMP_EQ", i as u64)]})
        })
        .collect();
    let t = std::time::Instant::now();
    let e = compile(&profile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls}),
    ))
    .expect_err("too many");
    assert!(
        e.to_string()
            .contains("more than 4096 rules with argument conditions"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains(&format!("linux.seccomp.syscalls[{}]", n - 1)),
        "{e}"
    );
    eprintln!("refused after {:?}", t.elapsed());
}

#[test]
fn the_cache_gives_back_the_filter_and_refuses_anything_else() {
    let sc = profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "listenerPath": "/run/agent.sock",
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}
        ]
    }));
    let f = compile(&sc).unwrap();
    assert!(f.listener.is_some());
    assert_eq!(Filter::from_cache(&f.to_cache()), Some(f.clone()));

    let plain = compile(&profile(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL"}]})))
    .unwrap();
    assert_eq!(Filter::from_cache(&plain.to_cache()), Some(plain.clone()));

    assert_eq!(Filter::from_cache(b""), None);
    assert_eq!(Filter::from_cache(b"{\"program\": 1}"), None);
    let mut empty = plain.clone();
    empty.program.clear();
    assert_eq!(Filter::from_cache(&empty.to_cache()), None, "empty program");
    let mut long = plain.clone();
    long.program = vec![plain.program[0]; super::bpf::MAX_INSNS + 1];
    assert_eq!(
        Filter::from_cache(&long.to_cache()),
        None,
        "over the kernel's limit"
    );
    let mut orphan = f.clone();
    orphan.listener = None;
    assert_eq!(
        Filter::from_cache(&orphan.to_cache()),
        None,
        "listener flag without a path"
    );
}
