//! The cgroup v2 device controller: an eBPF program of type
//! BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup (config-linux.md
//! "Device allowlist"). The kernel runs it on every open and mknod of a device node
//! with a `struct bpf_cgroup_dev_ctx` in R1; it returns 1 to allow and 0 to deny.
//!
//! The first half of this file is pure: the rules of `devices::rules` in, BPF
//! instructions out. The instruction patterns follow runc's
//! libcontainer/cgroups/devices/ebpf devicefilter (one block per rule, each ending in
//! `r0 = allow; exit`), with the rules visited last to first so that the LAST
//! matching rule decides, as on the v1 allow/deny lists. The second half
//! (`apply_v2_devices`) loads and attaches the program.
//!
//! Meaning of a rule, identical to the v1 path (`Rule::v1_line`):
//! - kind 'a' matches every device and every access, whatever its major, minor and
//!   access say (the kernel ignores the rest of a v1 line that starts with "a"), so
//!   an 'a' rule resets the outcome: nothing before the last one can matter;
//! - otherwise the type ('c'/'b') and the major and minor (None or negative =
//!   wildcard) must match, and then an allow rule matches when the requested access
//!   is a subset of its access, a deny rule when the requested access overlaps its
//!   access;
//! - nothing matching means deny.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::devices::Rule;
use super::CgroupError;

// ---------------------------------------------------------------------------------
// Pure: rules to instructions.
// ---------------------------------------------------------------------------------

/// One `struct bpf_insn`: 8 bytes, `dst_reg` in the low nibble of `regs` and
/// `src_reg` in the high one (on little-endian; the other way round on big-endian,
/// as the C bitfields are laid out).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes (include/uapi/linux/bpf_common.h, bpf.h): class | op | source.
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04; // 32-bit ALU: results are zero-extended to 64 bits.
const BPF_JMP: u8 = 0x05; // 64-bit compares.
const BPF_W: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JEQ: u8 = 0x10;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;

/// `r_dst = *(u32 *)(r_src + off)`.
pub const OP_LDX_W: u8 = BPF_LDX | BPF_W | BPF_MEM;
/// `w_dst &= imm`.
pub const OP_AND32_K: u8 = BPF_ALU | BPF_AND | BPF_K;
/// `w_dst >>= imm`.
pub const OP_RSH32_K: u8 = BPF_ALU | BPF_RSH | BPF_K;
/// `w_dst = imm`.
pub const OP_MOV32_K: u8 = BPF_ALU | BPF_MOV | BPF_K;
/// `w_dst = w_src`.
pub const OP_MOV32_X: u8 = BPF_ALU | BPF_MOV | BPF_X;
/// `if r_dst == imm goto +off`.
pub const OP_JEQ_K: u8 = BPF_JMP | BPF_JEQ | BPF_K;
/// `if r_dst != imm goto +off`.
pub const OP_JNE_K: u8 = BPF_JMP | BPF_JNE | BPF_K;
/// `if r_dst != r_src goto +off`.
pub const OP_JNE_X: u8 = BPF_JMP | BPF_JNE | BPF_X;
/// `return r0`.
pub const OP_EXIT: u8 = BPF_JMP | BPF_EXIT;

/// `struct bpf_cgroup_dev_ctx` values.
pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;
pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

// Registers. R1 is the context on entry and a scratch register after the prologue.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2; // device type
const R3: u8 = 3; // requested access
const R4: u8 = 4; // major
const R5: u8 = 5; // minor

/// The license the program is loaded under (the kernel macro's spelling).
pub const LICENSE: &std::ffi::CStr = c"Apache";

impl Insn {
    fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        let regs = if cfg!(target_endian = "little") {
            (src << 4) | (dst & 0x0f)
        } else {
            (dst << 4) | (src & 0x0f)
        };
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    pub fn dst(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs & 0x0f
        } else {
            self.regs >> 4
        }
    }

    pub fn src(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs >> 4
        } else {
            self.regs & 0x0f
        }
    }

    /// The instruction as the kernel reads it (native byte order).
    pub fn to_bytes(self) -> [u8; 8] {
        let off = self.off.to_ne_bytes();
        let imm = self.imm.to_ne_bytes();
        [
            self.code, self.regs, off[0], off[1], imm[0], imm[1], imm[2], imm[3],
        ]
    }
}

/// A whole program as bytes, for `sys::bpf::load_cgroup_device_prog`.
pub fn to_bytes(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.to_bytes()).collect()
}

fn access_bits(access: &str) -> u32 {
    access.chars().fold(0, |acc, c| match c {
        'r' => acc | ACC_READ,
        'w' => acc | ACC_WRITE,
        'm' => acc | ACC_MKNOD,
        // Validation of the spec rejects other letters; here they grant nothing.
        _ => acc,
    })
}

/// A device number to compare against, `None` for the wildcard; `Err(())` when no
/// device can ever have it (the kernel's numbers are u32).
fn number(v: Option<i64>) -> Result<Option<u32>, ()> {
    match v {
        None => Ok(None),
        Some(v) if v < 0 => Ok(None),
        Some(v) => u32::try_from(v).map(Some).map_err(|_| ()),
    }
}

/// A placeholder jump: its offset is fixed up once the block's length is known.
const NEXT: i16 = i16::MIN;

/// `if reg != value goto next`, comparing the zero-extended 32-bit `value`.
fn jne_value(block: &mut Vec<Insn>, reg: u8, value: u32) {
    match i32::try_from(value) {
        // A JMP immediate is sign-extended to 64 bits, so it is exact for 0..2^31.
        Ok(imm) => block.push(Insn::new(OP_JNE_K, reg, 0, NEXT, imm)),
        Err(_) => {
            // Larger values go through a register: MOV32 zero-extends.
            block.push(Insn::new(OP_MOV32_K, R1, 0, 0, value as i32));
            block.push(Insn::new(OP_JNE_X, reg, R1, NEXT, 0));
        }
    }
}

/// The block for one 'c' or 'b' rule, or `None` when the rule can never match.
fn rule_block(rule: &Rule) -> Option<Vec<Insn>> {
    let typ = match rule.kind {
        'c' => DEV_CHAR,
        'b' => DEV_BLOCK,
        _ => return None,
    };
    let access = access_bits(&rule.access);
    if access == 0 {
        // An allow of nothing and a deny of nothing both match no request.
        return None;
    }
    let major = number(rule.major).ok()?;
    let minor = number(rule.minor).ok()?;

    let mut block = Vec::new();
    jne_value(&mut block, R2, typ);
    // The kernel asks for a non-empty subset of rwm, so "rwm" needs no test.
    if access != ACC_ALL {
        block.push(Insn::new(OP_MOV32_X, R1, R3, 0, 0));
        block.push(Insn::new(OP_AND32_K, R1, 0, 0, access as i32));
        if rule.allow {
            // Requested access must be a subset: (r3 & access) == r3.
            block.push(Insn::new(OP_JNE_X, R1, R3, NEXT, 0));
        } else {
            // Any overlap denies: (r3 & access) != 0.
            block.push(Insn::new(OP_JEQ_K, R1, 0, NEXT, 0));
        }
    }
    if let Some(m) = major {
        jne_value(&mut block, R4, m);
    }
    if let Some(m) = minor {
        jne_value(&mut block, R5, m);
    }
    block.push(Insn::new(OP_MOV32_K, R0, 0, 0, i32::from(rule.allow)));
    block.push(Insn::new(OP_EXIT, 0, 0, 0, 0));
    // Every placeholder jumps to the first instruction after this block.
    let len = block.len();
    for (i, insn) in block.iter_mut().enumerate() {
        if insn.off == NEXT {
            // Blocks are at most 11 instructions, so this always fits.
            insn.off = (len - i - 1) as i16;
        }
    }
    Some(block)
}

/// The device filter for `rules` (in order; the last matching rule decides).
pub fn device_program(rules: &[Rule]) -> Vec<Insn> {
    // Rules before the last 'a' rule can never decide; that rule is the default.
    let (default_allow, live) = match rules.iter().rposition(|r| r.kind == 'a') {
        Some(i) => (rules[i].allow, &rules[i + 1..]),
        None => (false, rules),
    };
    let mut prog = vec![
        // r2 = type (low 16 bits of access_type)
        Insn::new(OP_LDX_W, R2, R1, 0, 0),
        Insn::new(OP_AND32_K, R2, 0, 0, 0xffff),
        // r3 = access (high 16 bits of access_type)
        Insn::new(OP_LDX_W, R3, R1, 0, 0),
        Insn::new(OP_RSH32_K, R3, 0, 0, 16),
        // r4 = major, r5 = minor
        Insn::new(OP_LDX_W, R4, R1, 4, 0),
        Insn::new(OP_LDX_W, R5, R1, 8, 0),
    ];
    for rule in live.iter().rev() {
        if let Some(block) = rule_block(rule) {
            prog.extend(block);
        }
    }
    prog.push(Insn::new(OP_MOV32_K, R0, 0, 0, i32::from(default_allow)));
    prog.push(Insn::new(OP_EXIT, 0, 0, 0, 0));
    prog
}

// ---------------------------------------------------------------------------------
// Effectful: load the program and attach it to the container's cgroup.
// ---------------------------------------------------------------------------------

fn cg_err(path: &Path) -> impl FnOnce(io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)?;
    Ok(OwnedFd::from(f))
}

/// Make `rules` the device filter of the cgroup2 directory `cgroup2_dir`. Run again
/// (`update`), it replaces the program it attached before: the new one is attached
/// first and the old ones detached after, so there is no moment in which neither
/// applies (while both are attached, a device must pass both).
pub fn apply_v2_devices(cgroup2_dir: &Path, rules: &[Rule]) -> Result<(), CgroupError> {
    let err = cg_err(cgroup2_dir);
    let dir = open_dir(cgroup2_dir).map_err(cg_err(cgroup2_dir))?;
    let old = crate::sys::bpf::query_attached(dir.as_fd()).map_err(cg_err(cgroup2_dir))?;
    let code = to_bytes(&device_program(rules));
    let prog =
        crate::sys::bpf::load_cgroup_device_prog(&code, LICENSE).map_err(|e| CgroupError::Io {
            path: cgroup2_dir.to_path_buf(),
            source: io::Error::new(e.kind(), format!("loading the device filter: {e}")),
        })?;
    crate::sys::bpf::attach_cgroup_device(dir.as_fd(), prog.as_fd())
        .map_err(cg_err(cgroup2_dir))?;
    detach_old(&dir, &old).map_err(err)
}

/// Detach berth's programs among `ids` (anyone else's stay).
fn detach_old(dir: &OwnedFd, ids: &[u32]) -> io::Result<()> {
    for &id in ids {
        let old = match crate::sys::bpf::prog_fd_by_id(id) {
            Ok(fd) => fd,
            // Detached and freed meanwhile.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        let (_, name) = crate::sys::bpf::prog_id_and_name(old.as_fd())?;
        if name != crate::sys::bpf::DEVICE_PROG_NAME {
            continue;
        }
        match crate::sys::bpf::detach(dir.as_fd(), old.as_fd()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::devices;

    /// A BPF interpreter for exactly the opcodes `device_program` emits.
    fn run(prog: &[Insn], typ: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | typ, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        let mut steps = 0;
        // R1 holds the context "pointer": loads are checked to be ctx loads.
        let mut r1_is_ctx = true;
        loop {
            steps += 1;
            assert!(steps < 10_000, "program does not terminate");
            let i = prog[pc];
            let (d, s) = (i.dst() as usize, i.src() as usize);
            let jump = |cond: bool, pc: &mut usize| {
                if cond {
                    *pc = (*pc as i64 + i.off as i64) as usize;
                }
            };
            match i.code {
                OP_LDX_W => {
                    assert!(s == 1 && r1_is_ctx, "load not from the context");
                    assert!(i.off >= 0 && i.off % 4 == 0 && i.off <= 8);
                    r[d] = u64::from(ctx[i.off as usize / 4]);
                }
                OP_AND32_K => r[d] = u64::from((r[d] as u32) & (i.imm as u32)),
                OP_RSH32_K => r[d] = u64::from((r[d] as u32) >> (i.imm as u32)),
                OP_MOV32_K => r[d] = u64::from(i.imm as u32),
                OP_MOV32_X => r[d] = u64::from(r[s] as u32),
                OP_JEQ_K => jump(r[d] == i.imm as i64 as u64, &mut pc),
                OP_JNE_K => jump(r[d] != i.imm as i64 as u64, &mut pc),
                OP_JNE_X => jump(r[d] != r[s], &mut pc),
                OP_EXIT => return r[0],
                op => panic!("unexpected opcode {op:#x}"),
            }
            if d == 1 && i.code != OP_JNE_X && i.code != OP_JEQ_K && i.code != OP_JNE_K {
                r1_is_ctx = false;
            }
            pc += 1;
            assert!(pc < prog.len(), "fell off the end");
        }
    }

    /// The reference semantics: the last matching rule decides, deny by default.
    fn reference(rules: &[Rule], typ: u32, access: u32, major: u32, minor: u32) -> bool {
        for rule in rules.iter().rev() {
            if rule.kind == 'a' {
                return rule.allow;
            }
            let t = match rule.kind {
                'c' => DEV_CHAR,
                'b' => DEV_BLOCK,
                _ => continue,
            };
            let num = |v: Option<i64>, x: u32| match v {
                None => true,
                Some(v) if v < 0 => true,
                Some(v) => v == i64::from(x),
            };
            if t != typ || !num(rule.major, major) || !num(rule.minor, minor) {
                continue;
            }
            let a = access_bits(&rule.access);
            let hit = if rule.allow {
                access & a == access
            } else {
                access & a != 0
            };
            if hit {
                return rule.allow;
            }
        }
        false
    }

    fn allowed(prog: &[Insn], kind: char, access: &str, major: u32, minor: u32) -> bool {
        let typ = if kind == 'b' { DEV_BLOCK } else { DEV_CHAR };
        match run(prog, typ, access_bits(access), major, minor) {
            0 => false,
            1 => true,
            v => panic!("program returned {v}"),
        }
    }

    fn r(allow: bool, kind: char, major: i64, minor: i64, access: &str) -> Rule {
        Rule {
            allow,
            kind,
            major: Some(major),
            minor: Some(minor),
            access: access.into(),
        }
    }

    fn wild(allow: bool, kind: char, access: &str) -> Rule {
        Rule {
            allow,
            kind,
            major: None,
            minor: None,
            access: access.into(),
        }
    }

    /// Every request (type x non-empty access x some numbers) against the reference.
    fn exhaustive(rules: &[Rule]) {
        let prog = device_program(rules);
        let numbers = [
            0u32,
            1,
            3,
            5,
            7,
            11,
            136,
            200,
            0x7fff_ffff,
            0x8000_0000,
            u32::MAX,
        ];
        for typ in [DEV_BLOCK, DEV_CHAR] {
            for access in 1..=ACC_ALL {
                for &major in &numbers {
                    for &minor in &numbers {
                        let got = run(&prog, typ, access, major, minor) == 1;
                        let want = reference(rules, typ, access, major, minor);
                        assert_eq!(
                            got, want,
                            "{rules:?}: type {typ} access {access} {major}:{minor}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn defaults_allow_the_standard_devices_only() {
        let rules = devices::rules(&[], &[]);
        let p = device_program(&rules);
        assert!(allowed(&p, 'c', "rwm", 1, 3));
        assert!(allowed(&p, 'c', "rw", 1, 3));
        assert!(allowed(&p, 'c', "rw", 136, 5));
        assert!(allowed(&p, 'c', "rw", 5, 2));
        assert!(!allowed(&p, 'b', "r", 7, 0));
        assert!(!allowed(&p, 'c', "w", 1, 11));
        assert!(!allowed(&p, 'c', "r", 10, 200));
        // Creating nodes is allowed; opening them is not.
        assert!(allowed(&p, 'b', "m", 7, 0));
        assert!(allowed(&p, 'c', "m", 1, 11));
        exhaustive(&rules);
    }

    #[test]
    fn allow_all_allows_everything() {
        let rules = vec![wild(false, 'a', "rwm"), wild(true, 'a', "rwm")];
        let p = device_program(&rules);
        assert_eq!(p.len(), 8, "just the prologue and `return 1`");
        for kind in ['b', 'c'] {
            for acc in ["r", "w", "m", "rw", "rwm"] {
                assert!(allowed(&p, kind, acc, 7, 0));
                assert!(allowed(&p, kind, acc, 4095, 1 << 19));
            }
        }
        exhaustive(&rules);
        // An 'a' rule resets whatever came before, as on v1.
        let rules = vec![wild(true, 'a', "rwm"), r(false, 'c', 1, 3, "rwm")];
        assert!(!allowed(&device_program(&rules), 'c', "r", 1, 3));
        assert!(allowed(&device_program(&rules), 'c', "r", 1, 5));
        let rules = vec![r(true, 'c', 1, 3, "rwm"), wild(false, 'a', "rwm")];
        assert!(!allowed(&device_program(&rules), 'c', "r", 1, 3));
        exhaustive(&rules);
    }

    #[test]
    fn mknod_only_allows_mknod_not_read() {
        let rules = vec![wild(false, 'a', "rwm"), r(true, 'c', 10, 200, "m")];
        let p = device_program(&rules);
        assert!(allowed(&p, 'c', "m", 10, 200));
        assert!(!allowed(&p, 'c', "r", 10, 200));
        assert!(!allowed(&p, 'c', "w", 10, 200));
        assert!(!allowed(&p, 'c', "rw", 10, 200));
        assert!(!allowed(&p, 'b', "m", 10, 200));
        exhaustive(&rules);
    }

    #[test]
    fn later_deny_overrides_earlier_allow() {
        let rules = vec![
            wild(false, 'a', "rwm"),
            wild(true, 'c', "rwm"),
            r(false, 'c', 1, 11, "w"),
        ];
        let p = device_program(&rules);
        assert!(allowed(&p, 'c', "r", 1, 11));
        assert!(!allowed(&p, 'c', "w", 1, 11));
        assert!(!allowed(&p, 'c', "rw", 1, 11));
        assert!(allowed(&p, 'c', "rw", 1, 12));
        // ... and a later allow overrides an earlier deny.
        let mut again = rules.clone();
        again.push(r(true, 'c', 1, 11, "rw"));
        assert!(allowed(&device_program(&again), 'c', "rw", 1, 11));
        exhaustive(&rules);
        exhaustive(&again);
    }

    #[test]
    fn wildcards() {
        let rules = vec![
            wild(false, 'a', "rwm"),
            Rule {
                allow: true,
                kind: 'c',
                major: Some(136),
                minor: Some(-1),
                access: "rw".into(),
            },
            Rule {
                allow: true,
                kind: 'b',
                major: None,
                minor: Some(0),
                access: "r".into(),
            },
            Rule {
                allow: false,
                kind: 'c',
                major: Some(-1),
                minor: Some(5),
                access: "r".into(),
            },
        ];
        let p = device_program(&rules);
        assert!(allowed(&p, 'c', "rw", 136, 0));
        assert!(allowed(&p, 'c', "w", 136, 5));
        assert!(!allowed(&p, 'c', "r", 136, 5), "the later deny c *:5 r");
        assert!(!allowed(&p, 'c', "rwm", 136, 7), "m is not in the rule");
        assert!(allowed(&p, 'b', "r", 7, 0));
        assert!(allowed(&p, 'b', "r", 8, 0));
        assert!(!allowed(&p, 'b', "w", 8, 0));
        assert!(!allowed(&p, 'b', "r", 8, 1));
        exhaustive(&rules);
    }

    #[test]
    fn big_numbers_compare_as_u32() {
        let rules = vec![
            wild(false, 'a', "rwm"),
            r(true, 'c', 0x8000_0000, i64::from(u32::MAX), "rw"),
            // Beyond u32: no device has it, so the rule is dropped.
            r(true, 'c', 1 << 32, 0, "rw"),
        ];
        let p = device_program(&rules);
        assert!(allowed(&p, 'c', "r", 0x8000_0000, u32::MAX));
        assert!(!allowed(&p, 'c', "r", 0x8000_0000, 0x7fff_ffff));
        assert!(!allowed(&p, 'c', "r", 0, 0));
        exhaustive(&rules);
    }

    #[test]
    fn empty_and_odd_rule_lists() {
        // No rules at all: deny everything.
        let p = device_program(&[]);
        assert!(!allowed(&p, 'c', "m", 1, 3));
        exhaustive(&[]);
        // Empty access and unknown kinds match nothing.
        let rules = vec![
            wild(true, 'c', ""),
            wild(true, 'x', "rwm"),
            wild(false, 'b', "rwx"),
        ];
        exhaustive(&rules);
        // A deny with partial overlap.
        exhaustive(&[
            wild(true, 'b', "rwm"),
            r(false, 'b', 8, 0, "rm"),
            r(true, 'b', 8, 0, "r"),
        ]);
    }

    #[test]
    fn jumps_stay_inside_the_program() {
        let rules = devices::rules(&[], &[]);
        let p = device_program(&rules);
        for (i, insn) in p.iter().enumerate() {
            if matches!(insn.code, OP_JEQ_K | OP_JNE_K | OP_JNE_X) {
                let target = i as i64 + 1 + i64::from(insn.off);
                assert!(target > i as i64 && (target as usize) < p.len());
            }
        }
        assert_eq!(p.last().map(|i| i.code), Some(OP_EXIT));
        assert_eq!(to_bytes(&p).len(), p.len() * 8);
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }

    // ---- Root only: the kernel enforces the program. ----------------------------

    const UNIFIED: &str = "/sys/fs/cgroup/unified";

    fn cgroup2_root() -> Option<&'static Path> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let layout = crate::cgroups::Layout::parse_mountinfo(&mountinfo);
        for p in [UNIFIED, "/sys/fs/cgroup"] {
            if layout
                .hierarchies
                .iter()
                .any(|h| h.v2 && h.mount_point == Path::new(p))
            {
                return Some(Path::new(p));
            }
        }
        None
    }

    /// Errnos (0 = success) of, in a child moved into `cg`: open /dev/null rw; mknod
    /// c 1:11 and b 7:0 in `nodes`; open each of them.
    fn probe(cg: &Path, nodes: &Path) -> [i32; 5] {
        use nix::fcntl::{open, OFlag};
        use nix::sys::stat::{makedev, mknod, Mode, SFlag};

        let procs = cg.join("cgroup.procs");
        let kmsg = nodes.join("kmsg");
        let loop0 = nodes.join("loop0");
        let _ = std::fs::remove_file(&kmsg);
        let _ = std::fs::remove_file(&loop0);
        let (rd, wr) = nix::unistd::pipe().expect("pipe");
        match crate::sys::fork_with(0).expect("fork") {
            crate::sys::Forked::Child => {
                // Only nix calls on the stack from here: the test harness has threads.
                drop(rd);
                let errno = |r: nix::Result<()>| r.err().map_or(0, |e| e as i32);
                let mut out = [-1i32; 5];
                let moved = open(&procs, OFlag::O_WRONLY, Mode::empty())
                    .and_then(|fd| nix::unistd::write(&fd, b"0"));
                if moved.is_ok() {
                    out[0] = errno(
                        open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
                            .map(drop),
                    );
                    let mode = Mode::from_bits_truncate(0o600);
                    out[1] = errno(mknod(&kmsg, SFlag::S_IFCHR, mode, makedev(1, 11)));
                    out[2] = errno(open(&kmsg, OFlag::O_WRONLY, Mode::empty()).map(drop));
                    out[3] = errno(mknod(&loop0, SFlag::S_IFBLK, mode, makedev(7, 0)));
                    out[4] = errno(open(&loop0, OFlag::O_RDONLY, Mode::empty()).map(drop));
                }
                let mut buf = [0u8; 20];
                for (chunk, v) in buf.chunks_mut(4).zip(out) {
                    chunk.copy_from_slice(&v.to_ne_bytes());
                }
                let ok = nix::unistd::write(&wr, &buf).is_ok();
                crate::sys::exit_now(if ok { 0 } else { 1 })
            }
            crate::sys::Forked::Parent(pid) => {
                drop(wr);
                let mut buf = Vec::new();
                let mut f = std::fs::File::from(rd);
                let _ = std::io::Read::read_to_end(&mut f, &mut buf);
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                assert_eq!(buf.len(), 20, "child reported nothing");
                let mut out = [0i32; 5];
                for (v, chunk) in out.iter_mut().zip(buf.chunks(4)) {
                    *v = i32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                }
                out
            }
        }
    }

    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            // The child has been reaped, but the cgroup may take a moment to empty.
            for _ in 0..100 {
                match std::fs::remove_dir(&self.0) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(10))
                    }
                    _ => return,
                }
            }
        }
    }

    #[test]
    fn root_verifier_rejection_carries_the_log() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped root_verifier_rejection_carries_the_log: needs root");
            return;
        }
        // `exit` without setting r0.
        let bad = to_bytes(&[Insn::new(OP_EXIT, 0, 0, 0, 0)]);
        let e = crate::sys::bpf::load_cgroup_device_prog(&bad, LICENSE)
            .expect_err("the verifier must reject this");
        eprintln!("{e}");
        assert!(e.to_string().contains("R0"), "{e}");
        // And the real program loads.
        let good = to_bytes(&device_program(&devices::rules(&[], &[])));
        let fd = crate::sys::bpf::load_cgroup_device_prog(&good, LICENSE).expect("load");
        let (id, name) = crate::sys::bpf::prog_id_and_name(fd.as_fd()).expect("info");
        assert!(id > 0);
        assert_eq!(name, crate::sys::bpf::DEVICE_PROG_NAME);
    }

    #[test]
    fn root_kernel_enforces_the_filter() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped root_kernel_enforces_the_filter: needs root");
            return;
        }
        let Some(root) = cgroup2_root() else {
            eprintln!("skipped root_kernel_enforces_the_filter: no cgroup2 mount");
            return;
        };
        let cg = root.join(format!("berth-bpf-test-{}", std::process::id()));
        std::fs::create_dir(&cg).expect("mkdir cgroup");
        let _cleanup = Cleanup(cg.clone());
        let nodes = tempfile::tempdir().expect("tempdir");

        // Deny all + defaults.
        apply_v2_devices(&cg, &devices::rules(&[], &[])).expect("apply");
        let dir = open_dir(&cg).expect("open cgroup");
        assert_eq!(
            crate::sys::bpf::query_attached(dir.as_fd())
                .expect("query")
                .len(),
            1
        );
        let eperm = libc::EPERM;
        let got = probe(&cg, nodes.path());
        eprintln!(
            "deny-all+defaults: [null, mknod kmsg, open kmsg, mknod loop0, open loop0] = {got:?}"
        );
        assert_eq!(got, [0, 0, eperm, 0, eperm]);

        // `update`: allow c 1:11 w and b 7:0 r; the old program must be gone.
        let mut rules = devices::rules(&[], &[]);
        rules.push(r(true, 'c', 1, 11, "w"));
        rules.push(r(true, 'b', 7, 0, "r"));
        apply_v2_devices(&cg, &rules).expect("apply again");
        let ids = crate::sys::bpf::query_attached(dir.as_fd()).expect("query");
        assert_eq!(ids.len(), 1, "old program detached: {ids:?}");
        let got = probe(&cg, nodes.path());
        eprintln!("after update: {got:?}");
        // Opening b 7:0 may then fail in the driver (no loop device), but not EPERM.
        assert_eq!(&got[..3], &[0, 0, 0]);
        assert_eq!(got[3], 0);
        assert_ne!(got[4], eperm);

        // Back to the defaults: denied again.
        apply_v2_devices(&cg, &devices::rules(&[], &[])).expect("apply a third time");
        let got = probe(&cg, nodes.path());
        assert_eq!(got, [0, 0, eperm, 0, eperm]);
    }
}
