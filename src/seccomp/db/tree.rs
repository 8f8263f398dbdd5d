//! The tree surgery of libseccomp's db.c: reference counting of shared nodes
//! (`_db_node_put`, `_db_tree_put`, `_db_level_clean`), merging a new chain into a
//! tree (`_db_tree_add`), and the pruning pass that runs first (`_db_tree_prune`,
//! `_db_tree_remove`). Line by line, with loop bounds where libseccomp can cycle.

use super::{chain_eq, chain_lt, Conflict, Db, Id, Slot};

// `struct db_iter_state` flags.
const MATCH: u32 = 0x1;
const MATCH_ONCE: u32 = 0x2;
const X_FINISHED: u32 = 0x10;
const N_FINISHED: u32 = 0x20;
const X_PREFIX: u32 = 0x100;
const N_PREFIX: u32 = 0x200;
const M_MATCHSET: u32 = MATCH | MATCH_ONCE;
pub(super) const M_REDUNDANT: u32 = MATCH | X_FINISHED | N_PREFIX;

/// `struct db_iter_state` for the pruning pass.
#[derive(Clone, Copy)]
pub(super) struct Prune {
    pub(super) flags: u32,
    pub(super) action: u32,
    /// The system call whose tree is pruned (`state->sx`).
    pub(super) nr: u32,
}

impl Db {
    /// `_db_node_put`: drop one reference; a node left with none is unlinked from its
    /// level and its sub-trees are released. `node` moves to a surviving neighbour.
    pub(super) fn node_put(&mut self, node: &mut Option<Id>) -> u32 {
        let Some(n) = *node else { return 0 };
        let mut cnt = 0;
        self.nodes[n].refcnt = self.nodes[n].refcnt.wrapping_sub(1);
        if self.nodes[n].refcnt == 0 {
            let mut lvl_p = self.nodes[n].lvl_prv;
            let mut lvl_n = self.nodes[n].lvl_nxt;
            let mut nxt_t = self.nodes[n].nxt_t;
            let mut nxt_f = self.nodes[n].nxt_f;
            if let Some(p) = lvl_p {
                self.nodes[p].lvl_nxt = None;
            }
            if let Some(q) = lvl_n {
                self.nodes[q].lvl_prv = None;
            }
            if lvl_p.is_some() {
                cnt += self.node_put(&mut lvl_p);
            }
            if lvl_n.is_some() {
                cnt += self.node_put(&mut lvl_n);
            }
            if let Some(p) = lvl_p {
                let g = self.get(lvl_n);
                self.nodes[p].lvl_nxt = g;
            }
            if let Some(q) = lvl_n {
                let g = self.get(lvl_p);
                self.nodes[q].lvl_prv = g;
            }
            *node = lvl_p.or(lvl_n);
            cnt += self.tree_put(&mut nxt_t);
            cnt += self.tree_put(&mut nxt_f);
            let dead = &mut self.nodes[n];
            dead.nxt_t = None;
            dead.nxt_f = None;
            dead.lvl_prv = None;
            dead.lvl_nxt = None;
            cnt += 1;
        }
        cnt
    }

    /// `_db_tree_put`.
    pub(super) fn tree_put(&mut self, tree: &mut Option<Id>) -> u32 {
        let mut cnt = self.node_put(tree);
        if let Some(t) = *tree {
            cnt += self.level_clean(t);
        }
        cnt
    }

    /// `_db_level_clean`: free a level nothing outside it points to.
    fn level_clean(&mut self, node: Id) -> u32 {
        let start = self.level_start(node);
        for i in self.level(start) {
            let links = u32::from(self.nodes[i].lvl_prv.is_some())
                + u32::from(self.nodes[i].lvl_nxt.is_some());
            if self.nodes[i].refcnt > links {
                return 0;
            }
        }
        let mut cnt = 0;
        let mut it = Some(start);
        // Each put drops one reference, so this ends; bounded against a broken tree.
        let mut budget = 64 * (self.nodes.len() + 1);
        while it.is_some() {
            if budget == 0 {
                self.broken.set(true);
                break;
            }
            budget -= 1;
            cnt += self.node_put(&mut it);
        }
        cnt
    }

    /// `_db_tree_act_check`: every action in the tree equals `action`.
    fn act_check(&self, tree: Option<Id>, action: u32) -> Result<(), Conflict> {
        let Some(c) = tree else { return Ok(()) };
        for i in self.level(self.level_start(c)) {
            let n = &self.nodes[i];
            if (n.act_t_flg && n.act_t != action) || (n.act_f_flg && n.act_f != action) {
                return Err(Conflict::Exists);
            }
            self.act_check(n.nxt_t, action)?;
            self.act_check(n.nxt_f, action)?;
        }
        Ok(())
    }

    /// `_db_tree_add`: merge the new chain `new` into the level `existing` points to.
    pub(super) fn tree_add(&mut self, existing: Slot, new: Id) -> Result<(), Conflict> {
        let Some(mut x) = self.slot(existing) else {
            return Ok(());
        };
        let n = new;
        for _ in 0..=self.nodes.len() {
            if chain_eq(&self.nodes[x], &self.nodes[n]) {
                if self.nodes[n].act_t_flg {
                    if !self.nodes[x].act_t_flg {
                        self.act_check(self.nodes[x].nxt_t, self.nodes[n].act_t)?;
                        let mut t = self.nodes[x].nxt_t;
                        self.node_put(&mut t);
                        self.nodes[x].nxt_t = None;
                        self.nodes[x].act_t = self.nodes[n].act_t;
                        self.nodes[x].act_t_flg = true;
                    } else if self.nodes[n].act_t != self.nodes[x].act_t {
                        // 64-bit GT/GE: keep the action of the larger value.
                        if self.nodes[n].hi && self.nodes[n].datum_full > self.nodes[x].datum_full {
                            self.nodes[x].act_t = self.nodes[n].act_t;
                        }
                        if self.leaf(x) || self.leaf(n) {
                            return Err(Conflict::Exists);
                        }
                    }
                }
                if self.nodes[n].act_f_flg {
                    if !self.nodes[x].act_f_flg {
                        self.act_check(self.nodes[x].nxt_f, self.nodes[n].act_f)?;
                        let mut f = self.nodes[x].nxt_f;
                        self.node_put(&mut f);
                        self.nodes[x].nxt_f = None;
                        self.nodes[x].act_f = self.nodes[n].act_f;
                        self.nodes[x].act_f_flg = true;
                    } else if self.nodes[n].act_f != self.nodes[x].act_f {
                        // As in db.c, which writes act_t here.
                        if self.nodes[n].hi && self.nodes[n].datum_full < self.nodes[x].datum_full {
                            self.nodes[x].act_t = self.nodes[n].act_t;
                        }
                        if self.leaf(x) || self.leaf(n) {
                            return Err(Conflict::Exists);
                        }
                    }
                }
                if let Some(nt) = self.nodes[n].nxt_t {
                    if self.nodes[x].nxt_t.is_some() {
                        self.tree_add(Slot::T(x), nt)?;
                    } else if !self.nodes[x].act_t_flg {
                        let g = self.get(Some(nt));
                        self.nodes[x].nxt_t = g;
                    } else {
                        // The existing chain is shorter.
                        return Ok(());
                    }
                }
                if let Some(nf) = self.nodes[n].nxt_f {
                    if self.nodes[x].nxt_f.is_some() {
                        self.tree_add(Slot::F(x), nf)?;
                    } else if !self.nodes[x].act_f_flg {
                        let g = self.get(Some(nf));
                        self.nodes[x].nxt_f = g;
                    } else {
                        return Ok(());
                    }
                }
                return Ok(());
            } else if !chain_lt(&self.nodes[x], &self.nodes[n]) {
                match self.nodes[x].lvl_nxt {
                    None => {
                        // Append to this level.
                        let gx = self.get(Some(x));
                        self.nodes[n].lvl_prv = gx;
                        let gn = self.get(Some(n));
                        self.nodes[x].lvl_nxt = gn;
                        return Ok(());
                    }
                    Some(next) => x = next,
                }
            } else {
                // Insert before x.
                if let Some(p) = self.nodes[x].lvl_prv {
                    let gn = self.get(Some(n));
                    self.nodes[p].lvl_nxt = gn;
                    self.nodes[n].lvl_prv = Some(p);
                    let gn = self.get(Some(n));
                    self.nodes[x].lvl_prv = gn;
                    self.nodes[n].lvl_nxt = Some(x);
                } else {
                    let gn = self.get(Some(n));
                    self.nodes[x].lvl_prv = gn;
                    let gx = self.get(Some(x));
                    self.nodes[n].lvl_nxt = gx;
                }
                if self.slot(existing) == Some(x) {
                    let gn = self.get(Some(n));
                    self.set_slot(existing, gn);
                    let mut xx = Some(x);
                    self.node_put(&mut xx);
                }
                return Ok(());
            }
        }
        Err(Conflict::Cycle)
    }

    fn zombie(&self, i: Id) -> bool {
        self.leaf(i) && !self.nodes[i].act_t_flg && !self.nodes[i].act_f_flg
    }

    /// `_db_tree_remove`: take `node` (and any zombie met on the way) out of the
    /// tree `tree` points to.
    fn tree_remove(&mut self, tree: Slot, node: Id) -> u32 {
        let Some(c) = self.slot(tree) else { return 0 };
        let mut c = self.level_start(c);
        let mut cnt = 0;
        for _ in 0..=self.nodes.len() {
            let remove = c == node || {
                cnt += self.tree_remove(Slot::T(c), node);
                cnt += self.tree_remove(Slot::F(c), node);
                self.zombie(c)
            };
            if remove {
                if self.slot(tree) == Some(c) {
                    let to = self.nodes[c].lvl_prv.or(self.nodes[c].lvl_nxt);
                    self.set_slot(tree, to);
                }
                let (p, n) = (self.nodes[c].lvl_prv, self.nodes[c].lvl_nxt);
                if let Some(p) = p {
                    self.nodes[p].lvl_nxt = n;
                }
                if let Some(n) = n {
                    self.nodes[n].lvl_prv = p;
                }
                self.nodes[c].lvl_prv = None;
                self.nodes[c].lvl_nxt = None;
                let mut cc = Some(c);
                return cnt + self.node_put(&mut cc);
            }
            match self.nodes[c].lvl_nxt {
                Some(n) if cnt == 0 => c = n,
                _ => return cnt,
            }
        }
        self.broken.set(true);
        cnt
    }

    /// `_db_tree_prune`: before a new chain is added, drop existing chains it makes
    /// redundant, or find that it is redundant itself (`state.flags`). As in
    /// libseccomp this also drops some chains whose action differs.
    pub(super) fn prune(
        &mut self,
        existing: Option<Id>,
        new: Option<Id>,
        state: &mut Prune,
    ) -> u32 {
        let mut cnt = 0;
        let mut state_new = *state;
        'ret: {
            let (Some(x), Some(n)) = (existing, new) else {
                break 'ret;
            };
            if state.flags & M_MATCHSET == MATCH_ONCE {
                break 'ret;
            }
            let mut x_iter = Some(self.level_start(x));
            let mut budget = self.nodes.len() + 1;
            while let Some(mut x) = x_iter {
                if budget == 0 || self.broken.get() {
                    self.broken.set(true);
                    break 'ret;
                }
                budget -= 1;
                let x_next = self.nodes[x].lvl_nxt;
                'next: {
                    if chain_eq(&self.nodes[x], &self.nodes[n]) {
                        state_new.flags |= M_MATCHSET;
                        if self.leaf(n) {
                            state_new.flags |= N_FINISHED;
                        }
                        if self.leaf(x) {
                            state_new.flags |= X_FINISHED;
                        }
                        let (xn, nn) = (&self.nodes[x], &self.nodes[n]);
                        if (xn.act_t_flg || xn.nxt_t.is_some())
                            && !(nn.act_t_flg || nn.nxt_t.is_some())
                        {
                            break 'ret;
                        }
                        if (xn.act_f_flg || xn.nxt_f.is_some())
                            && !(nn.act_f_flg || nn.nxt_f.is_some())
                        {
                            break 'ret;
                        }
                        if state_new.flags & N_FINISHED != 0
                            && state_new.flags & X_FINISHED != 0
                            && (nn.act_t_flg != xn.act_t_flg
                                || nn.act_t != xn.act_t
                                || nn.act_f_flg != xn.act_f_flg
                                || nn.act_f != xn.act_f)
                        {
                            break 'ret;
                        }
                        for t in [true, false] {
                            let nsub = if t {
                                self.nodes[n].nxt_t
                            } else {
                                self.nodes[n].nxt_f
                            };
                            if nsub.is_none() {
                                continue;
                            }
                            self.get(Some(x));
                            let mut st = *state;
                            st.flags |= M_MATCHSET;
                            let xsub = if t {
                                self.nodes[x].nxt_t
                            } else {
                                self.nodes[x].nxt_f
                            };
                            cnt += self.prune(xsub, nsub, &mut st);
                            let mut xx = Some(x);
                            cnt += self.node_put(&mut xx);
                            if st.flags & MATCH != 0 {
                                state_new.flags |= st.flags;
                            }
                            match xx {
                                None => break 'next,
                                Some(v) => x = v,
                            }
                        }
                        let act_ok = self.act_check(Some(x), state_new.action).is_ok();
                        let f = state_new.flags;
                        if act_ok && f & MATCH != 0 && f & N_FINISHED != 0 && f & X_PREFIX != 0 {
                            // The new chain is shorter: drop the existing one.
                            cnt += self.tree_remove(Slot::Sys(state.nr), x);
                            if self
                                .syscalls
                                .get(&state.nr)
                                .and_then(|e| e.chains)
                                .is_none()
                            {
                                break 'ret;
                            }
                        } else if act_ok
                            && f & MATCH != 0
                            && f & X_FINISHED != 0
                            && f & N_PREFIX != 0
                        {
                            // The new chain is longer.
                            break 'ret;
                        }
                    } else if chain_lt(&self.nodes[x], &self.nodes[n]) {
                        if state.flags & N_PREFIX != 0 {
                            break 'ret;
                        }
                        for t in [true, false] {
                            let xsub = if t {
                                self.nodes[x].nxt_t
                            } else {
                                self.nodes[x].nxt_f
                            };
                            if xsub.is_none() {
                                continue;
                            }
                            self.get(Some(x));
                            let mut st = *state;
                            st.flags &= !MATCH;
                            st.flags |= X_PREFIX;
                            cnt += self.prune(xsub, Some(n), &mut st);
                            let mut xx = Some(x);
                            cnt += self.node_put(&mut xx);
                            if st.flags & MATCH != 0 {
                                state_new.flags |= st.flags;
                                break 'ret;
                            }
                            match xx {
                                None => break 'next,
                                Some(v) => x = v,
                            }
                        }
                    } else {
                        if state.flags & X_PREFIX != 0 {
                            break 'ret;
                        }
                        for t in [true, false] {
                            let nsub = if t {
                                self.nodes[n].nxt_t
                            } else {
                                self.nodes[n].nxt_f
                            };
                            if nsub.is_none() {
                                continue;
                            }
                            self.get(Some(x));
                            let mut st = *state;
                            st.flags &= !MATCH;
                            st.flags |= N_PREFIX;
                            cnt += self.prune(Some(x), nsub, &mut st);
                            let mut xx = Some(x);
                            cnt += self.node_put(&mut xx);
                            if st.flags & MATCH != 0 {
                                state_new.flags |= st.flags;
                                break 'ret;
                            }
                            match xx {
                                None => break 'next,
                                Some(v) => x = v,
                            }
                        }
                    }
                }
                x_iter = x_next;
            }
            // Falling through: nothing matched.
            state_new.flags &= !MATCH;
        }
        if state_new.flags & MATCH != 0 {
            state.flags |= state_new.flags;
        } else {
            state.flags &= !MATCH;
        }
        cnt
    }
}
