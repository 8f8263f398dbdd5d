//! `linux.seccomp` -> a classic BPF program, with the meaning runc (libseccomp 2.5)
//! gives the same profile. Pure: no system calls; `sys::seccomp` loads the result.
//!
//! What a profile means, rule by rule, as runc and libseccomp do it:
//!
//! - Architectures: the filter always covers x86_64 (the native ABI, also named by
//!   SCMP_ARCH_NATIVE); SCMP_ARCH_X86 adds i386 (`int 0x80`, its own numbers) and
//!   SCMP_ARCH_X32 adds x32 (x86_64 numbers with bit 0x40000000). Any other ABI gets
//!   SCMP_ACT_KILL_THREAD, libseccomp's bad-architecture action, which runc keeps; so
//!   does an x32 number under a profile that does not list SCMP_ARCH_X32. Other
//!   architectures in the list (arm, ppc64le, ...) are recognised and have nothing to
//!   filter on an x86_64 host.
//! - Names are resolved per architecture (`table.rs`); a name an ABI does not have is
//!   skipped for it, and one no ABI has is skipped with a debug log, as runc does. On
//!   i386 the socket and SysV IPC calls are also matched through socketcall(2)/ipc(2)
//!   with the call number as argument 0 (libseccomp's x86_rule_add).
//! - A rule whose action equals the default action is skipped (runc does this to
//!   avoid libseccomp's EACCES). Conditions on the same argument twice in one rule
//!   become one rule per condition, i.e. OR (runc's fallback for libseccomp's EINVAL).
//!   Several rules for one system call combine as libseccomp's rule tree does: see
//!   `db` (an unconditional rule wins; overlapping conditional rules are tried in
//!   libseccomp's order, not by action precedence; contradicting ones are an error).
//! - Arguments: 64-bit comparisons on x86_64 (high word, then low word), only the low
//!   32 bits on i386 and x32, as libseccomp; MASKED_EQ is (arg & value) == valueTwo.
//! - runc's -ENOSYS stub: unless the default action is ALLOW, LOG or TRACE, a system
//!   call above the highest number the profile names for a listed architecture gets
//!   ERRNO(ENOSYS), so programs fall back from calls newer than the profile (clone3
//!   is not special: profiles that want ENOSYS for it say so, as Docker's does).
//! - Actions: KILL = KILL_THREAD; ERRNO and TRACE take errnoRet (default EPERM).
//!   NOTIFY sets SECCOMP_FILTER_FLAG_NEW_LISTENER and needs `listenerPath`; as in
//!   runc it cannot be the default action, and it cannot apply to sendmsg, which berth
//!   makes right after loading the filter to hand the listener to the agent.
//!
//! Where berth does not copy libseccomp 2.5.4: its BPF generator sometimes tests a
//! stale accumulator (an argument word not reloaded on the fall-through from one
//! argument tree to the next, or the architecture word where the i386 section should
//! test the system call number); berth's program always means what the rule database
//! says (tests/seccomp/differential.rs finds and counts those cases). Rules on a name
//! an ABI lacks live in libseccomp under a pseudo number no real call has; berth only
//! checks them for conflicts. Names that only other architectures' tables know are
//! skipped as unknown.

pub mod bpf;
mod db;
mod gen;
mod table;
#[cfg(test)]
mod tests;

pub use bpf::SockFilter;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Op,
};
use std::path::PathBuf;

/// Most rules with argument conditions a profile may have, counting each name of an
/// entry (podman's default profile has about 20).
pub const MAX_CONDITIONAL_RULES: usize = 4096;

pub const FLAG_TSYNC: u32 = 1;
pub const FLAG_LOG: u32 = 2;
pub const FLAG_SPEC_ALLOW: u32 = 4;
pub const FLAG_NEW_LISTENER: u32 = 8;
pub const FLAG_TSYNC_ESRCH: u32 = 16;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// The `flags` names berth knows, with their SECCOMP_FILTER_FLAG_* values.
pub const KNOWN_FLAGS: [(&str, u32); 4] = [
    ("SECCOMP_FILTER_FLAG_TSYNC", FLAG_TSYNC),
    ("SECCOMP_FILTER_FLAG_LOG", FLAG_LOG),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", FLAG_SPEC_ALLOW),
    (
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        FLAG_WAIT_KILLABLE_RECV,
    ),
];

/// The action names berth applies (features.md `actions`).
pub const ACTIONS: [&str; 9] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

/// The operator names berth applies.
pub const OPERATORS: [&str; 7] = [
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// The architecture names berth recognises: x86_64, x86 and x32 are filtered, the
/// others accepted with nothing to filter on an x86_64 host.
pub const ARCHS: [&str; 23] = [
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
];

/// A profile berth cannot apply, naming the field (`linux.seccomp.syscalls[3]...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SeccompError(String);

fn err(field: impl std::fmt::Display, msg: impl std::fmt::Display) -> SeccompError {
    SeccompError(format!("{field}: {msg}"))
}

/// Where the listener fd goes when SCMP_ACT_NOTIFY is used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Listener {
    pub path: PathBuf,
    pub metadata: Option<String>,
}

/// A compiled profile: load `program` with seccomp(SECCOMP_SET_MODE_FILTER, `flags`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    pub program: Vec<SockFilter>,
    pub flags: u32,
    /// Set when `flags` has SECCOMP_FILTER_FLAG_NEW_LISTENER.
    pub listener: Option<Listener>,
}

impl Filter {
    /// The action the filter returns for `data` (runs the program).
    pub fn evaluate(&self, data: &bpf::SeccompData) -> Result<u32, String> {
        bpf::evaluate(&self.program, data)
    }

    /// The compiled filter as create keeps it in the state dir, so that each `exec`
    /// loads it instead of compiling the profile again (about a millisecond for
    /// podman's default profile, at every health probe).
    pub fn to_cache(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// What `to_cache` wrote; None for anything else (the caller compiles then).
    pub fn from_cache(bytes: &[u8]) -> Option<Filter> {
        let f: Filter = serde_json::from_slice(bytes).ok()?;
        let len_ok = !f.program.is_empty() && f.program.len() <= bpf::MAX_INSNS;
        let listener_ok = f.listener.is_some() == (f.flags & FLAG_NEW_LISTENER != 0);
        (len_ok && listener_ok).then_some(f)
    }
}

/// Compile `linux.seccomp`.
pub fn compile(sc: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    let c = Compiled::new(sc)?;
    let program = c.layout().program().map_err(|m| err("linux.seccomp", m))?;
    Ok(Filter {
        program,
        flags: c.flags,
        listener: c.listener,
    })
}

/// The rule databases and everything else a profile decides.
struct Compiled {
    default_action: u32,
    x86_64: db::Db,
    x86: Option<db::Db>,
    x32: Option<db::Db>,
    stub: [Option<u32>; 3],
    flags: u32,
    listener: Option<Listener>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Abi {
    X86_64,
    X86,
    X32,
}

impl Compiled {
    fn new(sc: &LinuxSeccomp) -> Result<Compiled, SeccompError> {
        if cfg!(not(target_arch = "x86_64")) {
            return Err(err(
                "linux.seccomp",
                "berth applies seccomp profiles on x86_64 hosts only",
            ));
        }
        let default_action = action_value(
            sc.default_action(),
            sc.default_errno_ret(),
            "linux.seccomp.defaultErrnoRet",
        )?;
        if sc.default_action() == Action::ScmpActNotify {
            return Err(err(
                "linux.seccomp.defaultAction",
                "SCMP_ACT_NOTIFY cannot be the default action (as in runc): berth's own system calls after loading the filter would wait for an agent that has no listener yet",
            ));
        }

        // Listed ABIs, in the order given (x86_64 is always filtered).
        let mut listed: Vec<Abi> = Vec::new();
        for a in sc.architectures().iter().flatten() {
            let abi = match a {
                Arch::ScmpArchNative | Arch::ScmpArchX86_64 => Abi::X86_64,
                Arch::ScmpArchX86 => Abi::X86,
                Arch::ScmpArchX32 => Abi::X32,
                other => {
                    crate::log::debug(&format!(
                        "linux.seccomp.architectures: {other}: nothing to filter on an x86_64 host"
                    ));
                    continue;
                }
            };
            if !listed.contains(&abi) {
                listed.push(abi);
            }
        }
        let mut x86_64 = db::Db::new(db::Width::W64);
        let mut x86 = listed
            .contains(&Abi::X86)
            .then(|| db::Db::new(db::Width::W32));
        let mut x32 = listed
            .contains(&Abi::X32)
            .then(|| db::Db::new(db::Width::W32));

        // Rules on names an ABI lacks, per (ABI, name): only checked for conflicts.
        let mut pseudo: std::collections::HashMap<(usize, &str), db::Db> = Default::default();
        let mut notify = false;
        // runc's -ENOSYS stub: highest number named, per listed ABI.
        let mut max = [0u32; 3];
        // Rules with argument conditions, counted per name: adding one costs time in
        // the size of the tree so far (libseccomp's pruning), so the count bounds
        // how long create may spend here.
        let mut conditional = 0usize;
        for (i, sys) in sc.syscalls().iter().flatten().enumerate() {
            let field = format!("linux.seccomp.syscalls[{i}]");
            if sys.names().is_empty() {
                return Err(err(
                    format!("{field}.names"),
                    "must name at least one system call",
                ));
            }
            let action = action_value(sys.action(), sys.errno_ret(), &format!("{field}.errnoRet"))?;
            if sys.action() == Action::ScmpActNotify {
                notify = true;
            }
            let conds = conditions(sys.args().as_deref().unwrap_or(&[]), &field)?;
            for (j, name) in sys.names().iter().enumerate() {
                if name.is_empty() {
                    return Err(err(format!("{field}.names[{j}]"), "empty system call name"));
                }
                if sys.action() == Action::ScmpActNotify && name == "sendmsg" {
                    return Err(err(
                        format!("{field}.names[{j}]"),
                        "SCMP_ACT_NOTIFY cannot apply to sendmsg: berth uses it to hand the listener to the agent",
                    ));
                }
                for (k, abi) in [Abi::X86_64, Abi::X86, Abi::X32].into_iter().enumerate() {
                    if let Some(nr) = stub_number(abi, name) {
                        max[k] = max[k].max(nr);
                    }
                }
                if action == default_action {
                    continue;
                }
                conditional += conds.iter().filter(|c| !c.is_empty()).count();
                if conditional > MAX_CONDITIONAL_RULES {
                    return Err(err(
                        format!("{field}.names[{j}]"),
                        format!(
                            "more than {MAX_CONDITIONAL_RULES} rules with argument conditions \
                             (counting each name): berth refuses such profiles to bound the \
                             time create takes (no useful profile comes near)"
                        ),
                    ));
                }
                let mut resolved = false;
                for rule_args in &conds {
                    if let Some(nr) = table::lookup(name, 0) {
                        resolved = true;
                        x86_64
                            .rule_add(&rule(action, nr, rule_args))
                            .map_err(|e| conflict(&field, name, "x86_64", e))?;
                    } else if known(name) {
                        // libseccomp keeps it under a pseudo number: no system call
                        // ever has it, but its rules can still contradict each other.
                        pseudo
                            .entry((0, name.as_str()))
                            .or_insert_with(|| db::Db::new(db::Width::W64))
                            .rule_add(&rule(action, 0, rule_args))
                            .map_err(|e| conflict(&field, name, "x86_64", e))?;
                    }
                    if let Some(db) = x86.as_mut() {
                        let rules = x86_rules(name, action, rule_args);
                        resolved |= !rules.is_empty();
                        for r in rules {
                            db.rule_add(&r)
                                .map_err(|e| conflict(&field, name, "i386", e))?;
                        }
                    }
                    if let Some(db) = x32.as_mut() {
                        if let Some(nr) = table::lookup(name, 2) {
                            resolved = true;
                            db.rule_add(&rule(action, nr | bpf::X32_SYSCALL_BIT, rule_args))
                                .map_err(|e| conflict(&field, name, "x32", e))?;
                        } else if known(name) {
                            pseudo
                                .entry((2, name.as_str()))
                                .or_insert_with(|| db::Db::new(db::Width::W32))
                                .rule_add(&rule(action, 0, rule_args))
                                .map_err(|e| conflict(&field, name, "x32", e))?;
                        }
                    }
                }
                if !resolved {
                    crate::log::debug(&format!("{field}: unknown system call {name:?} ignored"));
                }
            }
        }

        // runc adds the stub for the listed architectures only, and not when the
        // default action lets calls through.
        let stub_on = !matches!(
            sc.default_action(),
            Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace
        );
        let mut stub = [None; 3];
        for (k, abi) in [Abi::X86_64, Abi::X86, Abi::X32].into_iter().enumerate() {
            if stub_on && listed.contains(&abi) && max[k] != 0 {
                stub[k] = Some(max[k]);
            }
        }

        let mut flags = 0;
        for f in sc.flags().iter().flatten() {
            flags |= match f {
                Flag::SeccompFilterFlagTsync => FLAG_TSYNC,
                Flag::SeccompFilterFlagLog => FLAG_LOG,
                Flag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
                Flag::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
            };
        }
        let listener = match (notify, sc.listener_path()) {
            (_, None) if sc.listener_metadata().is_some() => {
                return Err(err(
                    "linux.seccomp.listenerMetadata",
                    "must not be set without listenerPath",
                ))
            }
            (true, None) => {
                return Err(err(
                    "linux.seccomp.listenerPath",
                    "required: SCMP_ACT_NOTIFY is used, and the listener must go to an agent",
                ))
            }
            (true, Some(p)) => {
                flags |= FLAG_NEW_LISTENER;
                // The kernel takes TSYNC with a listener only with TSYNC_ESRCH.
                if flags & FLAG_TSYNC != 0 {
                    flags |= FLAG_TSYNC_ESRCH;
                }
                Some(Listener {
                    path: p.clone(),
                    metadata: sc.listener_metadata().clone(),
                })
            }
            (false, _) => {
                if flags & FLAG_WAIT_KILLABLE_RECV != 0 {
                    crate::log::debug(
                        "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV without SCMP_ACT_NOTIFY has nothing to apply to",
                    );
                    flags &= !FLAG_WAIT_KILLABLE_RECV;
                }
                None
            }
        };
        Ok(Compiled {
            default_action,
            x86_64,
            x86,
            x32,
            stub,
            flags,
            listener,
        })
    }

    fn layout(&self) -> gen::Layout<'_> {
        gen::Layout {
            default_action: self.default_action,
            x86_64: &self.x86_64,
            x86: self.x86.as_ref(),
            x32: self.x32.as_ref(),
            stub_x86_64: self.stub[0],
            stub_x86: self.stub[1],
            stub_x32: self.stub[2],
        }
    }
}

fn conflict(field: &str, name: &str, abi: &str, e: db::Conflict) -> SeccompError {
    match e {
        db::Conflict::Exists => err(
            field,
            format!("the rule for {name:?} contradicts an earlier rule for the same system call on {abi} (the same conditions, or a prefix of them, with another action); libseccomp refuses such a profile too (EEXIST)"),
        ),
        db::Conflict::Cycle => err(
            field,
            format!("the rules for {name:?} on {abi} make libseccomp's rule tree cyclic: libseccomp (and runc with it) never finishes building this profile"),
        ),
    }
}

/// SECCOMP_RET_* for an action and its errnoRet, as runc's getAction.
fn action_value(a: Action, errno: Option<u32>, errno_field: &str) -> Result<u32, SeccompError> {
    let data = |e: Option<u32>| -> Result<u32, SeccompError> {
        let e = e.unwrap_or(libc::EPERM as u32);
        if e > 0xffff {
            return Err(err(errno_field, format!("{e} does not fit in 16 bits")));
        }
        Ok(e)
    };
    Ok(match a {
        Action::ScmpActErrno => bpf::RET_ERRNO | data(errno)?,
        Action::ScmpActTrace => bpf::RET_TRACE | data(errno)?,
        other => {
            if errno.is_some() {
                return Err(err(
                    errno_field,
                    format!("set, but {other} returns no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)"),
                ));
            }
            match other {
                Action::ScmpActKill | Action::ScmpActKillThread => bpf::RET_KILL_THREAD,
                Action::ScmpActKillProcess => bpf::RET_KILL_PROCESS,
                Action::ScmpActTrap => bpf::RET_TRAP,
                Action::ScmpActNotify => bpf::RET_USER_NOTIF,
                Action::ScmpActLog => bpf::RET_LOG,
                _ => bpf::RET_ALLOW,
            }
        }
    })
}

type Conds = [Option<db::ArgCmp>; 6];

/// The rules' argument conditions: one set, or (when an argument is compared twice,
/// which libseccomp refuses) one rule per condition, as runc does.
fn conditions(
    args: &[oci_spec::runtime::LinuxSeccompArg],
    field: &str,
) -> Result<Vec<Conds>, SeccompError> {
    let mut all = Vec::new();
    for (k, a) in args.iter().enumerate() {
        let index = a.index();
        if index > 5 {
            return Err(err(
                format!("{field}.args[{k}].index"),
                format!("must be 0..5, not {index}"),
            ));
        }
        let (op, mask, datum) = match a.op() {
            Op::ScmpCmpNe => (db::Cmp::Ne, u64::MAX, a.value()),
            Op::ScmpCmpLt => (db::Cmp::Lt, u64::MAX, a.value()),
            Op::ScmpCmpLe => (db::Cmp::Le, u64::MAX, a.value()),
            Op::ScmpCmpEq => (db::Cmp::Eq, u64::MAX, a.value()),
            Op::ScmpCmpGe => (db::Cmp::Ge, u64::MAX, a.value()),
            Op::ScmpCmpGt => (db::Cmp::Gt, u64::MAX, a.value()),
            Op::ScmpCmpMaskedEq => (db::Cmp::MaskedEq, a.value(), a.value_two().unwrap_or(0)),
        };
        all.push(db::ArgCmp {
            arg: index as u8,
            op,
            mask,
            datum,
        });
    }
    let mut seen = [false; 6];
    let repeated = all.iter().any(|c| {
        let i = usize::from(c.arg);
        std::mem::replace(&mut seen[i], true)
    });
    let one = |cs: &[db::ArgCmp]| {
        let mut set: Conds = [None; 6];
        for c in cs {
            set[usize::from(c.arg)] = Some(*c);
        }
        set
    };
    Ok(if repeated {
        all.iter().map(|c| one(std::slice::from_ref(c))).collect()
    } else {
        vec![one(&all)]
    })
}

fn rule(action: u32, nr: u32, args: &Conds) -> db::Rule {
    db::Rule {
        action,
        nr,
        args: *args,
    }
}

/// i386 socket and IPC calls: (name, call number for socketcall/ipc, direct syscall).
const X86_SOCKETCALL: u32 = 102;
const X86_IPC: u32 = 117;
#[rustfmt::skip]
const X86_MUX: [(&str, u32, u32, Option<u32>); 32] = [
    ("socket", X86_SOCKETCALL, 1, Some(359)), ("bind", X86_SOCKETCALL, 2, Some(361)),
    ("connect", X86_SOCKETCALL, 3, Some(362)), ("listen", X86_SOCKETCALL, 4, Some(363)),
    ("accept", X86_SOCKETCALL, 5, None), ("getsockname", X86_SOCKETCALL, 6, Some(367)),
    ("getpeername", X86_SOCKETCALL, 7, Some(368)), ("socketpair", X86_SOCKETCALL, 8, Some(360)),
    ("send", X86_SOCKETCALL, 9, None), ("recv", X86_SOCKETCALL, 10, None),
    ("sendto", X86_SOCKETCALL, 11, Some(369)), ("recvfrom", X86_SOCKETCALL, 12, Some(371)),
    ("shutdown", X86_SOCKETCALL, 13, Some(373)), ("setsockopt", X86_SOCKETCALL, 14, Some(366)),
    ("getsockopt", X86_SOCKETCALL, 15, Some(365)), ("sendmsg", X86_SOCKETCALL, 16, Some(370)),
    ("recvmsg", X86_SOCKETCALL, 17, Some(372)), ("accept4", X86_SOCKETCALL, 18, Some(364)),
    ("recvmmsg", X86_SOCKETCALL, 19, Some(337)), ("sendmmsg", X86_SOCKETCALL, 20, Some(345)),
    ("semop", X86_IPC, 1, None), ("semget", X86_IPC, 2, Some(393)),
    ("semctl", X86_IPC, 3, Some(394)), ("semtimedop", X86_IPC, 4, None),
    ("msgsnd", X86_IPC, 11, Some(400)), ("msgrcv", X86_IPC, 12, Some(401)),
    ("msgget", X86_IPC, 13, Some(399)), ("msgctl", X86_IPC, 14, Some(402)),
    ("shmat", X86_IPC, 21, Some(397)), ("shmdt", X86_IPC, 22, Some(398)),
    ("shmget", X86_IPC, 23, Some(395)), ("shmctl", X86_IPC, 24, Some(396)),
];

/// The i386 rules for one rule on `name` (libseccomp's x86_rule_add): the socket and
/// IPC calls through their multiplexer (argument 0 replaced by the call number) and
/// directly; everything else by its i386 number.
fn x86_rules(name: &str, action: u32, args: &Conds) -> Vec<db::Rule> {
    if let Some(&(_, mux, call, direct)) = X86_MUX.iter().find(|m| m.0 == name) {
        let mut muxed = *args;
        muxed[0] = Some(db::ArgCmp {
            arg: 0,
            op: db::Cmp::Eq,
            mask: u64::MAX,
            datum: u64::from(call),
        });
        let mut v = vec![rule(action, mux, &muxed)];
        if let Some(nr) = direct {
            v.push(rule(action, nr, args));
        }
        return v;
    }
    table::lookup(name, 1)
        .map(|nr| vec![rule(action, nr, args)])
        .unwrap_or_default()
}

/// Whether libseccomp knows `name` at all (then a rule on it is kept under a pseudo
/// number where an ABI lacks it).
fn known(name: &str) -> bool {
    table::known(name) || X86_MUX.iter().any(|m| m.0 == name)
}

/// The number runc's stub counts for `name` (libseccomp's resolver: on i386 the
/// multiplexed calls resolve to pseudo numbers and do not count).
fn stub_number(abi: Abi, name: &str) -> Option<u32> {
    match abi {
        Abi::X86_64 => table::lookup(name, 0),
        Abi::X86 if X86_MUX.iter().any(|m| m.0 == name) => None,
        Abi::X86 => table::lookup(name, 1),
        Abi::X32 => table::lookup(name, 2).map(|n| n | bpf::X32_SYSCALL_BIT),
    }
}
