//! Classic BPF as seccomp runs it: the instruction struct the kernel takes, the few
//! opcodes berth emits, the `seccomp_data` layout, and a reference interpreter for
//! exactly those opcodes (the tests run both berth's and libseccomp's programs on it).

/// `struct sock_filter` from <linux/filter.h>.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// The kernel refuses longer programs (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

// Opcodes (class | operation | source).
/// BPF_LD | BPF_W | BPF_ABS
pub const LD_W_ABS: u16 = 0x20;
/// BPF_ALU | BPF_AND | BPF_K
pub const ALU_AND_K: u16 = 0x54;
/// BPF_JMP | BPF_JA
pub const JMP_JA: u16 = 0x05;
/// BPF_JMP | BPF_JEQ | BPF_K
pub const JMP_JEQ_K: u16 = 0x15;
/// BPF_JMP | BPF_JGT | BPF_K
pub const JMP_JGT_K: u16 = 0x25;
/// BPF_JMP | BPF_JGE | BPF_K
pub const JMP_JGE_K: u16 = 0x35;
/// BPF_JMP | BPF_JSET | BPF_K
pub const JMP_JSET_K: u16 = 0x45;
/// BPF_RET | BPF_K
pub const RET_K: u16 = 0x06;

/// Offsets in `struct seccomp_data` (little-endian x86: the low word of an argument
/// comes first).
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub fn off_arg_lo(i: u8) -> u32 {
    16 + 8 * u32::from(i)
}
pub fn off_arg_hi(i: u8) -> u32 {
    off_arg_lo(i) + 4
}

/// AUDIT_ARCH_* values the kernel puts in `seccomp_data.arch`.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// x32 system calls are x86_64 ones with this bit set in the number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// SECCOMP_RET_* actions (the low 16 bits carry an errno or a trace message).
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// What the kernel hands a filter for one system call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    fn word(&self, off: u32) -> Option<u32> {
        let lo = |v: u64| v as u32;
        let hi = |v: u64| (v >> 32) as u32;
        Some(match off {
            0 => self.nr,
            4 => self.arch,
            8 => lo(self.instruction_pointer),
            12 => hi(self.instruction_pointer),
            16..=60 if off.is_multiple_of(4) => {
                let a = self.args[((off - 16) / 8) as usize];
                if (off - 16).is_multiple_of(8) {
                    lo(a)
                } else {
                    hi(a)
                }
            }
            _ => return None,
        })
    }
}

/// Run `prog` on `data` the way the kernel does, for the opcodes above. An opcode
/// outside that set, a jump out of the program or a bad load is an error, as the
/// kernel's checker would refuse the program.
pub fn evaluate(prog: &[SockFilter], data: &SeccompData) -> Result<u32, String> {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    // Only forward jumps exist, so each step moves pc on: at most len steps.
    for _ in 0..=prog.len() {
        let ins = prog
            .get(pc)
            .ok_or_else(|| format!("pc {pc} runs off the program"))?;
        let next = pc + 1;
        let cond = |c: bool| next + usize::from(if c { ins.jt } else { ins.jf });
        pc = match ins.code {
            LD_W_ABS => {
                a = data
                    .word(ins.k)
                    .ok_or_else(|| format!("load from offset {}", ins.k))?;
                next
            }
            ALU_AND_K => {
                a &= ins.k;
                next
            }
            JMP_JA => next + ins.k as usize,
            JMP_JEQ_K => cond(a == ins.k),
            JMP_JGT_K => cond(a > ins.k),
            JMP_JGE_K => cond(a >= ins.k),
            JMP_JSET_K => cond(a & ins.k != 0),
            RET_K => return Ok(ins.k),
            other => return Err(format!("opcode {other:#x} at {pc}")),
        };
    }
    Err("program does not terminate".into())
}

/// The program as the bytes seccomp_export_bpf(3) writes (host order).
pub fn to_bytes(prog: &[SockFilter]) -> Vec<u8> {
    let mut v = Vec::with_capacity(prog.len() * 8);
    for i in prog {
        v.extend_from_slice(&i.code.to_ne_bytes());
        v.push(i.jt);
        v.push(i.jf);
        v.extend_from_slice(&i.k.to_ne_bytes());
    }
    v
}

/// The inverse of `to_bytes`; None unless the length is a multiple of 8.
pub fn from_bytes(b: &[u8]) -> Option<Vec<SockFilter>> {
    if !b.len().is_multiple_of(8) {
        return None;
    }
    Some(
        b.chunks_exact(8)
            .map(|c| SockFilter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}
