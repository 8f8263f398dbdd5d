//! libseccomp's per-architecture rule database (src/db.c), ported so that berth gives
//! a profile the meaning libseccomp gives it, including where rules for one system
//! call overlap. libseccomp does not document that meaning ("no specification other
//! than the source code", libseccomp#225); it is this:
//!
//! - An unconditional rule for a system call wins over every conditional one, in
//!   whichever order they come; the first unconditional rule wins over later ones.
//! - Each conditional rule becomes a chain of 32-bit comparisons (for 64-bit
//!   architectures two or three per argument: high word, then low word), argument
//!   0 first. Chains are merged into a tree by their common prefixes; the nodes of one
//!   level are kept sorted (higher argument first, then EQ/NE/MASKED_EQ before LT/LE
//!   before GT/GE, then by value), and the filter tries the nodes of a level in that
//!   order, falling through to the next node when a branch does not end in an action.
//!   So the first matching chain in that order decides, not the profile's order.
//! - A chain that is a prefix of an existing one with another action (or the same
//!   chain with another action) is refused with EEXIST (runc then fails), and a longer
//!   chain under an existing shorter one is silently dropped.
//! - Some profiles make the tree cyclic, and libseccomp (so runc) never returns from
//!   adding the rule; berth stops there with an error instead.
//!
//! The code below follows db.c's `_db_rule_gen_64`, `_db_rule_gen_32`, `_db_tree_add`,
//! `_db_tree_act_check`, `_db_tree_prune`, `_db_tree_remove`, `_db_node_put` and
//! `db_rule_add` line by line, nodes living in an arena instead of the heap (a freed
//! node simply stays unreachable). Checked against libseccomp 2.5.4 by the
//! differential test in tests/seccomp.rs. The pruning pass is not only an
//! optimisation: libseccomp also drops as "redundant" some new chains whose action
//! differs (e.g. on 32-bit ABIs `a2 != 0 -> NOTIFY` under an existing
//! `a2 == 0 -> KILL`); berth does the same, since that is what the profile means to
//! runc.

mod tree;

use std::collections::BTreeMap;
use tree::{Prune, M_REDUNDANT};

pub type Id = usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

/// One argument comparison of a rule (db.h `struct db_api_arg`): `mask` is all ones
/// except for MASKED_EQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgCmp {
    pub arg: u8,
    pub op: Cmp,
    pub mask: u64,
    pub datum: u64,
}

/// A rule for one architecture's system call number: up to one comparison per
/// argument, ANDed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub action: u32,
    pub nr: u32,
    pub args: [Option<ArgCmp>; 6],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// Compare only the low 32 bits of each argument (i386, x32).
    W32,
    /// Compare high then low word (x86_64).
    W64,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub arg: u8,
    /// Compares the high word of the argument (`arg_h_flg`).
    pub hi: bool,
    /// The comparison the BPF does: EQ, MASKED_EQ, GT or GE.
    pub op: Cmp,
    /// The rule's operator, which orders nodes.
    op_orig: Cmp,
    pub mask: u32,
    pub datum: u32,
    datum_full: u64,
    pub nxt_t: Option<Id>,
    pub nxt_f: Option<Id>,
    pub act_t_flg: bool,
    pub act_t: u32,
    pub act_f_flg: bool,
    pub act_f: u32,
    pub lvl_prv: Option<Id>,
    pub lvl_nxt: Option<Id>,
    refcnt: u32,
}

impl Node {
    fn new(arg: u8, hi: bool, op: Cmp, op_orig: Cmp, mask: u32, datum: u32, full: u64) -> Node {
        Node {
            arg,
            hi,
            op,
            op_orig,
            mask,
            // _db_node_mask_fixup
            datum: datum & mask,
            datum_full: full,
            nxt_t: None,
            nxt_f: None,
            act_t_flg: false,
            act_t: 0,
            act_f_flg: false,
            act_f: 0,
            lvl_prv: None,
            lvl_nxt: None,
            refcnt: 0,
        }
    }
}

/// A system call's entry: an unconditional action, or a tree of chains.
#[derive(Clone, Debug)]
pub struct Sys {
    pub chains: Option<Id>,
    pub action: u32,
}

/// The rule database of one architecture.
#[derive(Clone, Debug)]
pub struct Db {
    width: Width,
    pub nodes: Vec<Node>,
    pub syscalls: BTreeMap<u32, Sys>,
    /// Set when a level walk found a cycle (see `Conflict::Cycle`).
    broken: std::cell::Cell<bool>,
}

/// Where a pointer to a level lives (C's `struct db_arg_chain_tree **`).
#[derive(Clone, Copy)]
enum Slot {
    Sys(u32),
    T(Id),
    F(Id),
}

/// Why a rule cannot be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// libseccomp's -EEXIST: the rule contradicts an earlier one.
    Exists,
    /// The rule tree became cyclic: libseccomp loops forever on such a profile (and
    /// runc with it); berth stops.
    Cycle,
}

fn arg_priority(n: &Node) -> u32 {
    (u32::from(n.arg) << 1) + u32::from(n.hi)
}

fn op_priority(op: Cmp) -> u32 {
    match op {
        Cmp::MaskedEq | Cmp::Eq | Cmp::Ne => 3,
        Cmp::Le | Cmp::Lt => 2,
        Cmp::Ge | Cmp::Gt => 1,
    }
}

fn chain_lt(a: &Node, b: &Node) -> bool {
    let (aa, ba) = (arg_priority(a), arg_priority(b));
    if aa != ba {
        return aa < ba;
    }
    let (ao, bo) = (op_priority(a.op_orig), op_priority(b.op_orig));
    if ao != bo {
        return ao < bo;
    }
    match a.op_orig {
        // Inverted so that smaller values come first.
        Cmp::Le | Cmp::Lt => a.datum > b.datum,
        _ => a.datum < b.datum,
    }
}

fn chain_eq(a: &Node, b: &Node) -> bool {
    arg_priority(a) == arg_priority(b) && a.op == b.op && a.datum == b.datum && a.mask == b.mask
}

fn hi32(v: u64) -> u32 {
    (v >> 32) as u32
}

fn lo32(v: u64) -> u32 {
    v as u32
}

impl Db {
    pub fn new(width: Width) -> Db {
        Db {
            width,
            nodes: Vec::new(),
            syscalls: BTreeMap::new(),
            broken: std::cell::Cell::new(false),
        }
    }

    pub fn width(&self) -> Width {
        self.width
    }

    fn alloc(&mut self, n: Node) -> Id {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn get(&mut self, id: Option<Id>) -> Option<Id> {
        if let Some(i) = id {
            self.nodes[i].refcnt += 1;
        }
        id
    }

    /// The first node of `i`'s level (stops, marking the tree broken, on a cycle).
    pub fn level_start(&self, mut i: Id) -> Id {
        for _ in 0..=self.nodes.len() {
            match self.nodes[i].lvl_prv {
                Some(p) => i = p,
                None => return i,
            }
        }
        self.broken.set(true);
        i
    }

    /// The nodes of the level starting at `start`, in order (cut short on a cycle).
    pub fn level(&self, start: Id) -> Vec<Id> {
        let mut v = Vec::new();
        let mut it = Some(start);
        while let Some(i) = it {
            if v.len() > self.nodes.len() {
                self.broken.set(true);
                break;
            }
            v.push(i);
            it = self.nodes[i].lvl_nxt;
        }
        v
    }

    fn leaf(&self, i: Id) -> bool {
        self.nodes[i].nxt_t.is_none() && self.nodes[i].nxt_f.is_none()
    }

    fn slot(&self, s: Slot) -> Option<Id> {
        match s {
            Slot::Sys(nr) => self.syscalls.get(&nr).and_then(|s| s.chains),
            Slot::T(i) => self.nodes[i].nxt_t,
            Slot::F(i) => self.nodes[i].nxt_f,
        }
    }

    fn set_slot(&mut self, s: Slot, v: Option<Id>) {
        match s {
            Slot::Sys(nr) => {
                if let Some(e) = self.syscalls.get_mut(&nr) {
                    e.chains = v;
                }
            }
            Slot::T(i) => self.nodes[i].nxt_t = v,
            Slot::F(i) => self.nodes[i].nxt_f = v,
        }
    }

    /// `_db_rule_gen_64`: the chain for a 64-bit architecture; returns its head.
    fn gen_64(&mut self, rule: &Rule) -> Option<Id> {
        let mut head = None;
        // The nodes of the previous argument and its operator.
        let mut prev: Option<([Id; 2], Option<Id>, Cmp)> = None;
        for c in rule.args.iter().flatten() {
            let need_hi = !(c.op == Cmp::MaskedEq && hi32(c.mask) == 0);
            let need_lo = !(c.op == Cmp::MaskedEq && lo32(c.mask) == 0);
            if !need_hi && !need_lo {
                continue;
            }
            let (a, m, d) = (c.arg, c.mask, c.datum);
            let (n0, n1, n2);
            match c.op {
                Cmp::Gt | Cmp::Ge | Cmp::Le | Cmp::Lt => {
                    let lo_op = match c.op {
                        Cmp::Gt | Cmp::Le => Cmp::Gt,
                        _ => Cmp::Ge,
                    };
                    n0 = self.alloc(Node::new(a, true, Cmp::Gt, c.op, hi32(m), hi32(d), d));
                    n1 = self.alloc(Node::new(a, true, Cmp::Eq, c.op, hi32(m), hi32(d), d));
                    let n2_ = self.alloc(Node::new(a, false, lo_op, c.op, lo32(m), lo32(d), d));
                    n2 = Some(n2_);
                    let g = self.get(Some(n1));
                    self.nodes[n0].nxt_f = g;
                    let g = self.get(Some(n2_));
                    self.nodes[n1].nxt_t = g;
                }
                Cmp::Eq | Cmp::MaskedEq | Cmp::Ne => {
                    let op = if c.op == Cmp::MaskedEq {
                        Cmp::MaskedEq
                    } else {
                        Cmp::Eq
                    };
                    n0 = self.alloc(Node::new(a, true, op, c.op, hi32(m), hi32(d), d));
                    n1 = self.alloc(Node::new(a, false, op, c.op, lo32(m), lo32(d), d));
                    n2 = None;
                    let g = self.get(Some(n1));
                    self.nodes[n0].nxt_t = g;
                }
            }
            match prev {
                Some(([p0, p1], p2, op_prev)) => match op_prev {
                    Cmp::Gt | Cmp::Ge => {
                        let g = self.get(Some(n0));
                        self.nodes[p0].nxt_t = g;
                        if let Some(p2) = p2 {
                            let g = self.get(Some(n0));
                            self.nodes[p2].nxt_t = g;
                        }
                    }
                    Cmp::Eq | Cmp::MaskedEq => {
                        let g = self.get(Some(n0));
                        self.nodes[p1].nxt_t = g;
                    }
                    Cmp::Le | Cmp::Lt => {
                        let g = self.get(Some(n0));
                        self.nodes[p1].nxt_f = g;
                        if let Some(p2) = p2 {
                            let g = self.get(Some(n0));
                            self.nodes[p2].nxt_f = g;
                        }
                    }
                    Cmp::Ne => {
                        let g = self.get(Some(n0));
                        self.nodes[p0].nxt_f = g;
                        let g = self.get(Some(n0));
                        self.nodes[p1].nxt_f = g;
                    }
                },
                None => head = self.get(Some(n0)),
            }
            prev = Some(([n0, n1], n2, c.op));
        }
        if let Some(([p0, p1], p2, op_prev)) = prev {
            let act = rule.action;
            let set_t = |db: &mut Db, i: Id| {
                db.nodes[i].act_t_flg = true;
                db.nodes[i].act_t = act;
            };
            let set_f = |db: &mut Db, i: Id| {
                db.nodes[i].act_f_flg = true;
                db.nodes[i].act_f = act;
            };
            match op_prev {
                Cmp::Gt | Cmp::Ge => {
                    set_t(self, p0);
                    if let Some(p2) = p2 {
                        set_t(self, p2);
                    }
                }
                Cmp::Le | Cmp::Lt => {
                    set_f(self, p1);
                    if let Some(p2) = p2 {
                        set_f(self, p2);
                    }
                }
                Cmp::Eq | Cmp::MaskedEq => set_t(self, p1),
                Cmp::Ne => {
                    set_f(self, p0);
                    set_f(self, p1);
                }
            }
        }
        head
    }

    /// `_db_rule_gen_32`: one node per argument, on its low word only.
    fn gen_32(&mut self, rule: &Rule) -> Option<Id> {
        let mut head = None;
        let mut prev: Option<(Id, bool)> = None;
        for c in rule.args.iter().flatten() {
            if c.op == Cmp::MaskedEq && lo32(c.mask) == 0 {
                continue;
            }
            let (op, tf) = match c.op {
                Cmp::Ne => (Cmp::Eq, false),
                Cmp::Lt => (Cmp::Ge, false),
                Cmp::Le => (Cmp::Gt, false),
                other => (other, true),
            };
            let n = self.alloc(Node::new(
                c.arg,
                false,
                op,
                c.op,
                lo32(c.mask),
                lo32(c.datum),
                c.datum,
            ));
            match prev {
                Some((p, true)) => {
                    let g = self.get(Some(n));
                    self.nodes[p].nxt_t = g;
                }
                Some((p, false)) => {
                    let g = self.get(Some(n));
                    self.nodes[p].nxt_f = g;
                }
                None => head = self.get(Some(n)),
            }
            prev = Some((n, tf));
        }
        if let Some((p, tf)) = prev {
            if tf {
                self.nodes[p].act_t_flg = true;
                self.nodes[p].act_t = rule.action;
            } else {
                self.nodes[p].act_f_flg = true;
                self.nodes[p].act_f = rule.action;
            }
        }
        head
    }

    /// `db_rule_add`.
    pub fn rule_add(&mut self, rule: &Rule) -> Result<(), Conflict> {
        let r = self.rule_add_inner(rule);
        if self.broken.get() {
            return Err(Conflict::Cycle);
        }
        r
    }

    fn rule_add_inner(&mut self, rule: &Rule) -> Result<(), Conflict> {
        let new = match self.width {
            Width::W64 => self.gen_64(rule),
            Width::W32 => self.gen_32(rule),
        };
        let nr = rule.nr;
        let Some(entry) = self.syscalls.get(&nr).cloned() else {
            self.syscalls.insert(
                nr,
                Sys {
                    chains: new,
                    action: rule.action,
                },
            );
            return Ok(());
        };
        match (entry.chains, new) {
            // An unconditional rule exists: it is at least as wide as the new one.
            (None, _) => {
                let mut n = new;
                self.tree_put(&mut n);
                Ok(())
            }
            // A new unconditional rule replaces every chain.
            (Some(_), None) => {
                let mut c = entry.chains;
                self.tree_put(&mut c);
                if let Some(e) = self.syscalls.get_mut(&nr) {
                    e.chains = None;
                    e.action = rule.action;
                }
                Ok(())
            }
            (Some(c), Some(n)) => {
                let mut state = Prune {
                    flags: 0,
                    action: rule.action,
                    nr,
                };
                if self.prune(Some(c), Some(n), &mut state) > 0 {
                    if self.syscalls.get(&nr).and_then(|e| e.chains).is_none() {
                        // Everything pruned: the new chain is the tree.
                        if let Some(e) = self.syscalls.get_mut(&nr) {
                            e.chains = Some(n);
                            e.action = rule.action;
                        }
                        return Ok(());
                    }
                } else if state.flags & M_REDUNDANT == M_REDUNDANT {
                    // The existing tree is "shorter": drop the new chain.
                    let mut n = Some(n);
                    self.tree_put(&mut n);
                    return Ok(());
                }
                self.tree_add(Slot::Sys(nr), n)?;
                let mut n = Some(n);
                self.tree_put(&mut n);
                Ok(())
            }
        }
    }

    #[cfg(test)]
    /// Evaluate the entry for `nr` on `args` as the generated filter does: Some(action)
    /// if the system call has an entry that decides, None for the default action.
    pub fn lookup(&self, nr: u32, args: &[u64; 6]) -> Option<u32> {
        let e = self.syscalls.get(&nr)?;
        match e.chains {
            None => Some(e.action),
            Some(c) => self.eval_level(c, args),
        }
    }

    #[cfg(test)]
    /// Whether node `i` holds for `args` (the comparison the BPF makes).
    pub fn node_true(&self, i: Id, args: &[u64; 6]) -> bool {
        let n = &self.nodes[i];
        let v = args[usize::from(n.arg)];
        let w = if n.hi { hi32(v) } else { lo32(v) };
        match n.op {
            Cmp::Eq => w == n.datum,
            Cmp::MaskedEq => w & n.mask == n.datum,
            Cmp::Gt => w > n.datum,
            Cmp::Ge => w >= n.datum,
            // Never left in a node: gen_32/gen_64 rewrite them.
            Cmp::Ne | Cmp::Lt | Cmp::Le => false,
        }
    }

    #[cfg(test)]
    fn eval_level(&self, level: Id, args: &[u64; 6]) -> Option<u32> {
        for i in self.level(self.level_start(level)) {
            let n = &self.nodes[i];
            let (flg, act, nxt) = if self.node_true(i, args) {
                (n.act_t_flg, n.act_t, n.nxt_t)
            } else {
                (n.act_f_flg, n.act_f, n.nxt_f)
            };
            if flg {
                return Some(act);
            }
            if let Some(sub) = nxt {
                if let Some(a) = self.eval_level(sub, args) {
                    return Some(a);
                }
            }
        }
        None
    }
}
