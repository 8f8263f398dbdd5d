//! The BPF program for a set of rule databases: what runc loads (its -ENOSYS stub
//! followed by libseccomp's filter), computed as one function of (arch, nr, args) and
//! laid out compactly:
//!
//! ```text
//!   ld arch; jeq AUDIT_ARCH_X86_64 -> x86_64; [jeq AUDIT_ARCH_I386 -> i386]; ret KILL_THREAD
//!   x86_64: ld nr; binary search over ranges of nr -> ret ACTION | argument tree
//!   i386:   ld nr; ...
//! ```
//!
//! Per architecture, every system call number maps to an action or to the argument
//! tree of one system call; ranges of numbers with the same action (the default, the
//! -ENOSYS above the profile's highest system call, libseccomp's bad-arch kill for x32
//! numbers) are searched with JGE, so a 400-call profile for three ABIs stays far below
//! the kernel's 4096 instructions. Argument trees are walked as libseccomp's BPF walks
//! them (`db`). Jumps longer than 255 get a JA trampoline.

use super::bpf::{self, SockFilter};
use super::db::{Cmp, Db, Id, Width};

/// SCMP_ACT_ERRNO(ENOSYS): runc's answer for system calls newer than the profile.
pub const ENOSYS_ACTION: u32 = bpf::RET_ERRNO | libc::ENOSYS as u32;

/// libseccomp's default bad-architecture action (runc keeps it): SCMP_ACT_KILL.
pub const BADARCH_ACTION: u32 = bpf::RET_KILL_THREAD;

/// Everything the program is made of.
pub struct Layout<'a> {
    pub default_action: u32,
    pub x86_64: &'a Db,
    /// The i386 rules, if SCMP_ARCH_X86 is listed.
    pub x86: Option<&'a Db>,
    /// The x32 rules (numbers with the x32 bit), if SCMP_ARCH_X32 is listed.
    pub x32: Option<&'a Db>,
    /// runc's -ENOSYS stub: the highest number the profile names, per listed
    /// architecture (None: not listed, or no name resolved, or the default action
    /// allows). x32's includes the x32 bit.
    pub stub_x86_64: Option<u32>,
    pub stub_x86: Option<u32>,
    pub stub_x32: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Ret(u32),
    /// The argument tree of this number in the x86_64 (false) or x32 (true) database,
    /// or in the i386 one.
    Chain {
        x32: bool,
        nr: u32,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    X86_64,
    X86,
}

impl Layout<'_> {
    fn x86_64_target(&self, nr: u32) -> Target {
        let bit = nr & bpf::X32_SYSCALL_BIT != 0;
        // runc's stub comes first.
        match (bit, self.stub_x86_64, self.stub_x32) {
            (false, Some(max), _) if nr > max => return Target::Ret(ENOSYS_ACTION),
            (true, _, Some(max)) if nr > max => return Target::Ret(ENOSYS_ACTION),
            _ => {}
        }
        match self.x32 {
            // libseccomp merges x32 into the x86_64 section: one list of numbers.
            Some(x32) => {
                if self.x86_64.syscalls.contains_key(&nr) {
                    self.db_target(self.x86_64, false, nr)
                } else {
                    self.db_target(x32, true, nr)
                }
            }
            // x86_64 alone: x32 numbers (all but -1) are a bad architecture.
            None if nr >= bpf::X32_SYSCALL_BIT && nr != u32::MAX => Target::Ret(BADARCH_ACTION),
            None => self.db_target(self.x86_64, false, nr),
        }
    }

    fn x86_target(&self, db: &Db, nr: u32) -> Target {
        if let Some(max) = self.stub_x86 {
            if nr > max {
                return Target::Ret(ENOSYS_ACTION);
            }
        }
        self.db_target(db, false, nr)
    }

    fn db_target(&self, db: &Db, x32: bool, nr: u32) -> Target {
        match db.syscalls.get(&nr) {
            None => Target::Ret(self.default_action),
            Some(s) if s.chains.is_none() => Target::Ret(s.action),
            Some(_) => Target::Chain { x32, nr },
        }
    }

    /// (first number, target) for consecutive ranges covering 0..=u32::MAX.
    fn ranges(&self, section: Section) -> Vec<(u32, Target)> {
        let mut cuts: Vec<u64> = vec![0, 0x4000_0000, 0x8000_0000, 0xc000_0000, 0xffff_ffff];
        let dbs: Vec<&Db> = match section {
            Section::X86_64 => [Some(self.x86_64), self.x32]
                .into_iter()
                .flatten()
                .collect(),
            Section::X86 => self.x86.into_iter().collect(),
        };
        for db in dbs {
            for &nr in db.syscalls.keys() {
                cuts.push(u64::from(nr));
                cuts.push(u64::from(nr) + 1);
            }
        }
        for max in [self.stub_x86_64, self.stub_x86, self.stub_x32]
            .into_iter()
            .flatten()
        {
            cuts.push(u64::from(max) + 1);
        }
        cuts.retain(|&c| c <= u64::from(u32::MAX));
        cuts.sort_unstable();
        cuts.dedup();
        let mut out: Vec<(u32, Target)> = Vec::new();
        for c in cuts {
            let nr = c as u32;
            let t = match (section, self.x86) {
                (Section::X86_64, _) => self.x86_64_target(nr),
                (Section::X86, Some(db)) => self.x86_target(db, nr),
                (Section::X86, None) => Target::Ret(BADARCH_ACTION),
            };
            match out.last() {
                Some((_, last)) if *last == t && matches!(t, Target::Ret(_)) => {}
                _ => out.push((nr, t)),
            }
        }
        out
    }

    /// The action the program returns, computed without BPF (for tests).
    #[cfg(test)]
    pub fn decide(&self, data: &bpf::SeccompData) -> u32 {
        let (t, section) = match data.arch {
            bpf::AUDIT_ARCH_X86_64 => (self.x86_64_target(data.nr), Section::X86_64),
            bpf::AUDIT_ARCH_I386 => match self.x86 {
                Some(db) => (self.x86_target(db, data.nr), Section::X86),
                None => return BADARCH_ACTION,
            },
            _ => return BADARCH_ACTION,
        };
        match t {
            Target::Ret(a) => a,
            Target::Chain { x32, nr } => {
                let db = self.chain_db(section, x32);
                db.and_then(|db| db.lookup(nr, &data.args))
                    .unwrap_or(self.default_action)
            }
        }
    }

    fn chain_db(&self, section: Section, x32: bool) -> Option<&Db> {
        match (section, x32) {
            (Section::X86, _) => self.x86,
            (Section::X86_64, false) => Some(self.x86_64),
            (Section::X86_64, true) => self.x32,
        }
    }

    /// The program, or a message if it does not fit in the kernel's 4096 instructions.
    pub fn program(&self) -> Result<Vec<SockFilter>, String> {
        let mut a = Asm::default();
        let l64 = a.label();
        let l86 = self.x86.map(|_| a.label());
        a.push(Item::Ld(bpf::OFF_ARCH));
        let next = a.label();
        a.push(Item::Jcond(
            bpf::JMP_JEQ_K,
            bpf::AUDIT_ARCH_X86_64,
            l64,
            next,
        ));
        a.bind(next);
        if let Some(l86) = l86 {
            let next = a.label();
            a.push(Item::Jcond(bpf::JMP_JEQ_K, bpf::AUDIT_ARCH_I386, l86, next));
            a.bind(next);
        }
        a.push(Item::Ret(BADARCH_ACTION));
        a.bind(l64);
        self.section(&mut a, Section::X86_64)?;
        if let Some(l86) = l86 {
            a.bind(l86);
            self.section(&mut a, Section::X86)?;
        }
        a.assemble()
    }

    fn section(&self, a: &mut Asm, section: Section) -> Result<(), String> {
        let ranges = self.ranges(section);
        a.push(Item::Ld(bpf::OFF_NR));
        self.search(a, section, &ranges)
    }

    /// Binary search over `ranges` (A holds nr); left half falls through.
    fn search(
        &self,
        a: &mut Asm,
        section: Section,
        ranges: &[(u32, Target)],
    ) -> Result<(), String> {
        match ranges {
            [] => {
                a.push(Item::Ret(self.default_action));
                Ok(())
            }
            [(_, t)] => self.leaf(a, section, *t),
            _ => {
                let mid = ranges.len() / 2;
                let (left, right) = ranges.split_at(mid);
                let (l, r) = (a.label(), a.label());
                a.push(Item::Jcond(bpf::JMP_JGE_K, right[0].0, r, l));
                a.bind(l);
                self.search(a, section, left)?;
                a.bind(r);
                self.search(a, section, right)
            }
        }
    }

    fn leaf(&self, a: &mut Asm, section: Section, t: Target) -> Result<(), String> {
        match t {
            Target::Ret(act) => a.push(Item::Ret(act)),
            Target::Chain { x32, nr } => {
                let db = self
                    .chain_db(section, x32)
                    .ok_or_else(|| "internal: no database for an argument tree".to_string())?;
                let head = db
                    .syscalls
                    .get(&nr)
                    .and_then(|s| s.chains)
                    .ok_or_else(|| "internal: argument tree vanished".to_string())?;
                let done = a.label();
                self.level(a, db, head, done)?;
                a.bind(done);
                a.push(Item::Ret(self.default_action));
            }
        }
        Ok(())
    }

    /// One level of an argument tree: each node in order, a failed branch going on to
    /// the next node and the last one to `cont`.
    fn level(&self, a: &mut Asm, db: &Db, head: Id, cont: Label) -> Result<(), String> {
        if a.items.len() > 4 * bpf::MAX_INSNS {
            return Err(too_long(a.items.len()));
        }
        let nodes = db.level(db.level_start(head));
        let mut this = a.label();
        for (k, &i) in nodes.iter().enumerate() {
            let n = &db.nodes[i];
            let next = if k + 1 < nodes.len() { a.label() } else { cont };
            a.bind(this);
            let off = match (db.width(), n.hi) {
                (Width::W64, true) => bpf::off_arg_hi(n.arg),
                _ => bpf::off_arg_lo(n.arg),
            };
            a.push(Item::Ld(off));
            let code = match n.op {
                Cmp::MaskedEq => {
                    a.push(Item::And(n.mask));
                    bpf::JMP_JEQ_K
                }
                Cmp::Gt => bpf::JMP_JGT_K,
                Cmp::Ge => bpf::JMP_JGE_K,
                _ => bpf::JMP_JEQ_K,
            };
            // Each branch: an action, a sub-level, or on to the next node.
            let mut branch = |flg: bool, act: u32, nxt: Option<Id>| -> (Label, Option<Pending>) {
                if flg {
                    let l = a.label();
                    (l, Some(Pending::Ret(l, act)))
                } else if let Some(sub) = nxt {
                    let l = a.label();
                    (l, Some(Pending::Level(l, sub)))
                } else {
                    (next, None)
                }
            };
            let (t, pt) = branch(n.act_t_flg, n.act_t, n.nxt_t);
            let (f, pf) = branch(n.act_f_flg, n.act_f, n.nxt_f);
            a.push(Item::Jcond(code, n.datum, t, f));
            for p in [pt, pf].into_iter().flatten() {
                match p {
                    Pending::Ret(l, act) => {
                        a.bind(l);
                        a.push(Item::Ret(act));
                    }
                    Pending::Level(l, sub) => {
                        a.bind(l);
                        self.level(a, db, sub, next)?;
                    }
                }
            }
            this = next;
        }
        Ok(())
    }
}

enum Pending {
    Ret(Label, u32),
    Level(Label, Id),
}

fn too_long(n: usize) -> String {
    format!(
        "the profile compiles to more than {} BPF instructions ({n}), the kernel's limit",
        bpf::MAX_INSNS
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Label(usize);

enum Item {
    Ld(u32),
    And(u32),
    Jcond(u16, u32, Label, Label),
    Ret(u32),
    Bind(Label),
}

/// A tiny assembler: forward jumps to labels, with JA trampolines where a
/// conditional jump would be longer than 255 instructions.
#[derive(Default)]
struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    fn bind(&mut self, l: Label) {
        self.items.push(Item::Bind(l));
    }

    fn push(&mut self, i: Item) {
        self.items.push(i);
    }

    fn assemble(&self) -> Result<Vec<SockFilter>, String> {
        // Which conditional jumps need a trampoline for their true / false target.
        let mut far = vec![(false, false); self.items.len()];
        loop {
            let (addr, at) = self.addresses(&far)?;
            let mut changed = false;
            for (idx, item) in self.items.iter().enumerate() {
                if let Item::Jcond(_, _, t, f) = item {
                    let p = at[idx];
                    let dist = |l: &Label| {
                        addr[l.0]
                            .checked_sub(p + 1)
                            .ok_or_else(|| "internal: backward jump".to_string())
                    };
                    let (dt, df) = (dist(t)?, dist(f)?);
                    let (ft, ff) = far[idx];
                    let now = (ft || dt > 255, ff || df > 255);
                    if now != far[idx] {
                        far[idx] = now;
                        changed = true;
                    }
                }
            }
            if !changed {
                return self.emit(&far, &addr, &at);
            }
        }
    }

    /// Address of every label, and of every item.
    fn addresses(&self, far: &[(bool, bool)]) -> Result<(Vec<usize>, Vec<usize>), String> {
        let mut addr = vec![usize::MAX; self.labels];
        let mut at = vec![0; self.items.len()];
        let mut pc = 0;
        for (idx, item) in self.items.iter().enumerate() {
            at[idx] = pc;
            match item {
                Item::Bind(l) => addr[l.0] = pc,
                Item::Jcond(..) => pc += 1 + usize::from(far[idx].0) + usize::from(far[idx].1),
                _ => pc += 1,
            }
        }
        if pc > bpf::MAX_INSNS {
            return Err(too_long(pc));
        }
        if addr.contains(&usize::MAX) {
            return Err("internal: unbound label".into());
        }
        Ok((addr, at))
    }

    fn emit(
        &self,
        far: &[(bool, bool)],
        addr: &[usize],
        at: &[usize],
    ) -> Result<Vec<SockFilter>, String> {
        let ins = |code: u16, jt: u8, jf: u8, k: u32| SockFilter { code, jt, jf, k };
        let mut out = Vec::new();
        for (idx, item) in self.items.iter().enumerate() {
            match item {
                Item::Bind(_) => {}
                Item::Ld(off) => out.push(ins(bpf::LD_W_ABS, 0, 0, *off)),
                Item::And(m) => out.push(ins(bpf::ALU_AND_K, 0, 0, *m)),
                Item::Ret(k) => out.push(ins(bpf::RET_K, 0, 0, *k)),
                Item::Jcond(code, k, t, f) => {
                    let p = at[idx];
                    let (ft, ff) = far[idx];
                    let short = |l: &Label| -> Result<u8, String> {
                        u8::try_from(addr[l.0] - (p + 1))
                            .map_err(|_| "internal: long jump".to_string())
                    };
                    let jt = if ft { 0 } else { short(t)? };
                    let jf = if ff { u8::from(ft) } else { short(f)? };
                    out.push(ins(*code, jt, jf, *k));
                    let mut here = p + 1;
                    for (is_far, l) in [(ft, t), (ff, f)] {
                        if is_far {
                            let k = addr[l.0] - (here + 1);
                            let k = u32::try_from(k).map_err(|_| "internal: jump".to_string())?;
                            out.push(ins(bpf::JMP_JA, 0, 0, k));
                            here += 1;
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}
