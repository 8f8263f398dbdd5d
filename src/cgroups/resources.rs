//! `linux.resources` (all but `devices`) as cgroup file writes, for v1 and for v2.
//! Pure: a spec in, an ordered [`Plan`] out; `apply.rs` makes the writes.
//!
//! Values and conversions are runc's (libcontainer/cgroups/fs, fs2, specconv), so a
//! config means the same under berth as under the runtime engines were written for:
//! - engines send 0 for "unset": `cpu.shares`, `cpu.quota`/`cpu.period`,
//!   `cpu.realtime*`, `blockIO.weight`/`leafWeight`, `memory.limit`/`reservation`/
//!   `swap`/`kernel*`, `network.classID` at 0 produce no write (ENGINES.md).
//! - `pids.limit` 0 is a real limit (config-linux.md says runtimes SHOULD treat it so);
//!   negative is "max".
//! - the order of writes is the order the kernel accepts them in; where that depends
//!   on the current values (memory limit vs memory+swap, CFS period/burst vs quota,
//!   RT period vs runtime), a write is marked [`Write::defer_on_einval`] and `apply`
//!   retries it after its partner, as runc does.

use std::collections::BTreeMap;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxNetwork, LinuxResources, LinuxThrottleDevice,
};

use super::Layout;

const RES: &str = "linux.resources";

/// Which hierarchy a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The v1 hierarchy that has this controller: "cpu", "cpuacct", "cpuset", "memory",
    /// "blkio", "pids", "hugetlb", "net_cls", "net_prio", "rdma".
    V1(&'static str),
    /// The cgroup2 hierarchy (pure v2, or the `unified` mount of a hybrid host).
    Unified,
}

/// One file write in the container's cgroup directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The JSON path this write comes from, e.g. `linux.resources.memory.limit`.
    pub field: String,
    pub target: Target,
    pub file: String,
    pub value: String,
    /// A missing file (or a knob the kernel reports unsupported) is a warning, not an
    /// error: e.g. `memory.kmem.*`, `cpu.cfs_burst_us` on older kernels.
    pub optional: bool,
    /// `(file, value)` written instead when `file` does not exist (e.g. CFQ's
    /// `blkio.weight` -> BFQ's `blkio.bfq.weight`).
    pub fallback: Option<(String, String)>,
    /// On EINVAL, retry this write after the next write that is not itself deferred
    /// (its partner) has been made: the kernel checks the pair against current values.
    pub defer_on_einval: bool,
}

impl Write {
    pub fn new(
        field: impl Into<String>,
        target: Target,
        file: impl Into<String>,
        value: impl Into<String>,
    ) -> Write {
        Write {
            field: field.into(),
            target,
            file: file.into(),
            value: value.into(),
            optional: false,
            fallback: None,
            defer_on_einval: false,
        }
    }

    pub fn optional(mut self) -> Write {
        self.optional = true;
        self
    }

    pub fn or_file(mut self, file: impl Into<String>, value: impl Into<String>) -> Write {
        self.fallback = Some((file.into(), value.into()));
        self
    }

    fn deferred_if(mut self, yes: bool) -> Write {
        self.defer_on_einval = yes;
        self
    }
}

/// The writes for one `linux.resources`, in order, and what was ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub writes: Vec<Write>,
    pub warnings: Vec<String>,
    /// `memory.checkBeforeUpdate` on v2: `apply` refuses a `memory.max` below
    /// `memory.current` before writing anything (v1's kernel refuses it by itself).
    pub check_before_update: bool,
}

impl Plan {
    fn push(&mut self, w: Write) {
        self.writes.push(w);
    }

    fn warn(&mut self, field: &str, why: &str) {
        self.warnings.push(format!("{field}: {why}"));
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{field}: {reason}")]
    Unsupported { field: String, reason: String },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ResourceError {
    ResourceError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> ResourceError {
    ResourceError::Unsupported {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Chooses by layout: pure v2 -> [`plan_v2`]; v1 or hybrid -> [`plan_v1`], with
/// `unified` keys going to the hybrid host's cgroup2 mount.
pub fn plan(res: &LinuxResources, layout: &Layout) -> Result<Plan, ResourceError> {
    if layout.is_v2() {
        return plan_v2(res);
    }
    let mut p = Plan::default();
    v1(res, &mut p)?;
    if has_unified(res) {
        if !layout.hierarchies.iter().any(|h| h.v2) {
            return Err(no_unified());
        }
        unified(res, &mut p)?;
    }
    Ok(p)
}

/// cgroup v1 (one hierarchy per controller group).
pub fn plan_v1(res: &LinuxResources) -> Result<Plan, ResourceError> {
    let mut p = Plan::default();
    v1(res, &mut p)?;
    if has_unified(res) {
        return Err(no_unified());
    }
    Ok(p)
}

/// cgroup v2 (one unified hierarchy).
pub fn plan_v2(res: &LinuxResources) -> Result<Plan, ResourceError> {
    let mut p = Plan::default();
    let t = Target::Unified;
    if let Some(cpu) = res.cpu() {
        cpuset(cpu, t, &mut p);
    }
    if let Some(m) = res.memory() {
        memory_v2(m, &mut p)?;
    }
    if let Some(cpu) = res.cpu() {
        cpu_v2(cpu, &mut p)?;
    }
    if let Some(pids) = res.pids() {
        p.push(pids_write(pids.limit(), t));
    }
    if let Some(b) = res.block_io() {
        io_v2(b, &mut p)?;
    }
    hugetlb(res, true, &mut p)?;
    if let Some(n) = res.network() {
        network_v2(n, &mut p);
    }
    rdma(res, t, &mut p)?;
    unified(res, &mut p)?;
    Ok(p)
}

fn v1(res: &LinuxResources, p: &mut Plan) -> Result<(), ResourceError> {
    if let Some(cpu) = res.cpu() {
        cpuset(cpu, Target::V1("cpuset"), p);
    }
    if let Some(m) = res.memory() {
        memory_v1(m, p)?;
    }
    if let Some(cpu) = res.cpu() {
        cpu_v1(cpu, p)?;
    }
    if let Some(pids) = res.pids() {
        p.push(pids_write(pids.limit(), Target::V1("pids")));
    }
    if let Some(b) = res.block_io() {
        blkio_v1(b, p)?;
    }
    hugetlb(res, false, p)?;
    if let Some(n) = res.network() {
        network_v1(n, p)?;
    }
    rdma(res, Target::V1("rdma"), p)
}

fn has_unified(res: &LinuxResources) -> bool {
    res.unified().as_ref().is_some_and(|u| !u.is_empty())
}

fn no_unified() -> ResourceError {
    unsupported(
        format!("{RES}.unified"),
        "needs a cgroup v2 hierarchy, and this host has only cgroup v1",
    )
}

// ---- memory ----

/// A memory value: 0 is unset, -1 unlimited, anything below -1 is refused.
fn mem_value(v: Option<i64>, name: &str) -> Result<Option<i64>, ResourceError> {
    match v {
        None | Some(0) => Ok(None),
        Some(v) if v < -1 => Err(invalid(
            format!("{RES}.memory.{name}"),
            format!("{v} is neither a byte count nor -1 (unlimited)"),
        )),
        Some(v) => Ok(Some(v)),
    }
}

fn memory_v1(m: &LinuxMemory, p: &mut Plan) -> Result<(), ResourceError> {
    let f = |n: &str| format!("{RES}.memory.{n}");
    let t = Target::V1("memory");
    let limit = mem_value(m.limit(), "limit")?;
    let swap = mem_value(m.swap(), "swap")?;
    let reservation = mem_value(m.reservation(), "reservation")?;
    if let (Some(l), Some(s)) = (limit, swap) {
        if s != -1 && (l == -1 || s < l) {
            return Err(invalid(
                f("swap"),
                format!("memory+swap limit {s} is below the memory limit {l}"),
            ));
        }
    }
    // The kernel wants memory.limit <= memory.memsw.limit at every step: lowering
    // goes limit first, raising memsw first. Limit first, retried after memsw on EINVAL.
    if let Some(l) = limit {
        let memsw_follows = swap.is_some() || l == -1;
        p.push(
            Write::new(f("limit"), t, "memory.limit_in_bytes", l.to_string())
                .deferred_if(memsw_follows),
        );
    }
    match (swap, limit) {
        (Some(s), _) => p.push(Write::new(
            f("swap"),
            t,
            "memory.memsw.limit_in_bytes",
            s.to_string(),
        )),
        // Unlimited memory with swap unset means unlimited swap too (runc); only where
        // the kernel does swap accounting.
        (None, Some(-1)) => {
            p.push(Write::new(f("limit"), t, "memory.memsw.limit_in_bytes", "-1").optional())
        }
        _ => {}
    }
    if let Some(r) = reservation {
        p.push(Write::new(
            f("reservation"),
            t,
            "memory.soft_limit_in_bytes",
            r.to_string(),
        ));
    }
    for (name, file, v) in [
        ("kernel", "memory.kmem.limit_in_bytes", m.kernel()),
        (
            "kernelTCP",
            "memory.kmem.tcp.limit_in_bytes",
            m.kernel_tcp(),
        ),
    ] {
        if let Some(v) = mem_value(v, name)? {
            p.push(Write::new(f(name), t, file, v.to_string()).optional());
        }
    }
    if let Some(s) = swappiness(m)? {
        p.push(Write::new(
            f("swappiness"),
            t,
            "memory.swappiness",
            s.to_string(),
        ));
    }
    if m.disable_oom_killer() == Some(true) {
        p.push(Write::new(
            f("disableOOMKiller"),
            t,
            "memory.oom_control",
            "1",
        ));
    }
    if let Some(h) = m.use_hierarchy() {
        p.push(Write::new(
            f("useHierarchy"),
            t,
            "memory.use_hierarchy",
            if h { "1" } else { "0" },
        ));
    }
    Ok(())
}

fn swappiness(m: &LinuxMemory) -> Result<Option<u64>, ResourceError> {
    match m.swappiness() {
        // -1 as uint64: Docker's "unset".
        None | Some(u64::MAX) => Ok(None),
        Some(s) if s <= 100 => Ok(Some(s)),
        Some(s) => Err(invalid(
            format!("{RES}.memory.swappiness"),
            format!("{s} is outside 0..100"),
        )),
    }
}

/// v2's `memory.swap.max` is swap alone, the spec's `swap` is memory+swap.
fn swap_v2(limit: Option<i64>, swap: Option<i64>) -> Result<Option<String>, ResourceError> {
    let field = format!("{RES}.memory.swap");
    Ok(match (limit, swap) {
        (_, Some(-1)) | (Some(-1), None) => Some("max".into()),
        (_, None) => None,
        (Some(-1), Some(s)) => Some(s.to_string()),
        (None, Some(_)) => {
            return Err(invalid(
                field,
                "a swap limit needs memory.limit on cgroup v2 (swap is memory+swap)",
            ))
        }
        (Some(l), Some(s)) if s < l => {
            return Err(invalid(
                field,
                format!("memory+swap limit {s} is below the memory limit {l}"),
            ))
        }
        (Some(l), Some(s)) => Some((s - l).to_string()),
    })
}

fn max_or(v: i64) -> String {
    if v == -1 {
        "max".into()
    } else {
        v.to_string()
    }
}

fn memory_v2(m: &LinuxMemory, p: &mut Plan) -> Result<(), ResourceError> {
    let f = |n: &str| format!("{RES}.memory.{n}");
    let t = Target::Unified;
    let limit = mem_value(m.limit(), "limit")?;
    let swap = mem_value(m.swap(), "swap")?;
    let reservation = mem_value(m.reservation(), "reservation")?;
    p.check_before_update = m.check_before_update() == Some(true) && limit.is_some();
    // Swap before memory (as runc): lowering memory.max with swap still at 0 would
    // leave reclaim nothing to swap to, and OOM-kill where the new swap allows paging.
    if let Some(s) = swap_v2(limit, swap)? {
        // Without swap accounting there is no file, and "max"/"0" asks for nothing.
        let w = Write::new(f("swap"), t, "memory.swap.max", s.as_str());
        p.push(if s == "max" || s == "0" {
            w.optional()
        } else {
            w
        });
    }
    if let Some(l) = limit {
        p.push(Write::new(f("limit"), t, "memory.max", max_or(l)));
    }
    if let Some(r) = reservation {
        p.push(Write::new(f("reservation"), t, "memory.low", max_or(r)));
    }
    for (name, v) in [("kernel", m.kernel()), ("kernelTCP", m.kernel_tcp())] {
        if mem_value(v, name)?.is_some_and(|v| v > 0) {
            p.warn(
                &f(name),
                "kernel memory limits do not exist on cgroup v2; ignored",
            );
        }
    }
    if swappiness(m)?.is_some() {
        p.warn(&f("swappiness"), "not supported on cgroup v2; ignored");
    }
    if m.disable_oom_killer() == Some(true) {
        p.warn(
            &f("disableOOMKiller"),
            "the OOM killer cannot be disabled on cgroup v2; ignored",
        );
    }
    if m.use_hierarchy() == Some(false) {
        p.warn(
            &f("useHierarchy"),
            "cgroup v2 accounting is always hierarchical; ignored",
        );
    }
    Ok(())
}

// ---- cpu ----

fn cpuset(cpu: &LinuxCpu, t: Target, p: &mut Plan) {
    for (name, v) in [("cpus", cpu.cpus()), ("mems", cpu.mems())] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            p.push(Write::new(
                format!("{RES}.cpu.{name}"),
                t,
                format!("cpuset.{name}"),
                v,
            ));
        }
    }
}

fn burst_check(cpu: &LinuxCpu) -> Result<(), ResourceError> {
    if let (Some(b), Some(q)) = (cpu.burst(), cpu.quota()) {
        if q > 0 && b > q.unsigned_abs() {
            return Err(invalid(
                format!("{RES}.cpu.burst"),
                format!("{b} is larger than quota {q}"),
            ));
        }
    }
    Ok(())
}

/// `cpu.idle` 0 goes before the weight (a SCHED_IDLE group refuses a weight with
/// EINVAL), 1 after it.
fn idle_write(cpu: &LinuxCpu, t: Target, zero: bool) -> Option<Write> {
    let idle = cpu.idle()?;
    if (idle == 0) != zero {
        return None;
    }
    let w = Write::new(format!("{RES}.cpu.idle"), t, "cpu.idle", idle.to_string());
    // Asking for the default on a kernel without cpu.idle (< 5.15) asks for nothing.
    Some(if idle == 0 { w.optional() } else { w })
}

fn cpu_v1(cpu: &LinuxCpu, p: &mut Plan) -> Result<(), ResourceError> {
    let f = |n: &str| format!("{RES}.cpu.{n}");
    let t = Target::V1("cpu");
    burst_check(cpu)?;
    p.writes.extend(idle_write(cpu, t, true));
    if let Some(s) = cpu.shares().filter(|s| *s != 0) {
        p.push(Write::new(f("shares"), t, "cpu.shares", s.to_string()));
    }
    // Period and burst are checked against the current quota: on EINVAL they are
    // retried once the quota is written.
    let quota = cpu.quota().filter(|q| *q != 0);
    if let Some(period) = cpu.period().filter(|v| *v != 0) {
        p.push(
            Write::new(f("period"), t, "cpu.cfs_period_us", period.to_string())
                .deferred_if(quota.is_some()),
        );
    }
    if let Some(b) = cpu.burst() {
        p.push(
            Write::new(f("burst"), t, "cpu.cfs_burst_us", b.to_string())
                .optional()
                .deferred_if(quota.is_some()),
        );
    }
    if let Some(q) = quota {
        p.push(Write::new(f("quota"), t, "cpu.cfs_quota_us", q.to_string()));
    }
    p.writes.extend(idle_write(cpu, t, false));
    let rt_runtime = cpu.realtime_runtime().filter(|v| *v != 0);
    if let Some(rp) = cpu.realtime_period().filter(|v| *v != 0) {
        p.push(
            Write::new(f("realtimePeriod"), t, "cpu.rt_period_us", rp.to_string())
                .deferred_if(rt_runtime.is_some()),
        );
    }
    if let Some(rr) = rt_runtime {
        p.push(Write::new(
            f("realtimeRuntime"),
            t,
            "cpu.rt_runtime_us",
            rr.to_string(),
        ));
    }
    Ok(())
}

/// runc's cgroup v2 conversion of cpu.shares [2, 262144] to cpu.weight [1, 10000]
/// (linear; 1024 -> 39). 0 is unset.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// runc's conversion of blkio.weight [10, 1000] to io.weight [1, 10000]. 0 is unset.
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    let w = u64::from(weight.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

fn cpu_v2(cpu: &LinuxCpu, p: &mut Plan) -> Result<(), ResourceError> {
    let f = |n: &str| format!("{RES}.cpu.{n}");
    let t = Target::Unified;
    burst_check(cpu)?;
    for (name, v) in [
        ("realtimeRuntime", cpu.realtime_runtime().unwrap_or(0) != 0),
        ("realtimePeriod", cpu.realtime_period().unwrap_or(0) != 0),
    ] {
        if v {
            return Err(unsupported(
                f(name),
                "realtime group scheduling is not available on cgroup v2",
            ));
        }
    }
    p.writes.extend(idle_write(cpu, t, true));
    if let Some(s) = cpu.shares().filter(|s| *s != 0) {
        p.push(Write::new(
            f("shares"),
            t,
            "cpu.weight",
            shares_to_weight(s).to_string(),
        ));
    }
    let quota = cpu.quota().unwrap_or(0);
    let period = cpu.period().unwrap_or(0);
    let max = quota != 0 || period != 0;
    if let Some(b) = cpu.burst() {
        p.push(
            Write::new(f("burst"), t, "cpu.max.burst", b.to_string())
                .optional()
                .deferred_if(max),
        );
    }
    if max {
        let q = if quota > 0 {
            quota.to_string()
        } else {
            "max".into()
        };
        let per = if period == 0 { 100_000 } else { period };
        let name = if quota != 0 { "quota" } else { "period" };
        p.push(Write::new(f(name), t, "cpu.max", format!("{q} {per}")));
    }
    p.writes.extend(idle_write(cpu, t, false));
    Ok(())
}

// ---- pids ----

fn pids_write(limit: i64, t: Target) -> Write {
    let v = if limit < 0 {
        "max".to_string()
    } else {
        limit.to_string()
    };
    Write::new(format!("{RES}.pids.limit"), t, "pids.max", v)
}

// ---- block IO ----

fn dev(field: &str, major: i64, minor: i64) -> Result<String, ResourceError> {
    if major < 0 || minor < 0 {
        return Err(invalid(
            field,
            format!("device {major}:{minor} is not a major:minor pair"),
        ));
    }
    Ok(format!("{major}:{minor}"))
}

type Throttles<'a> = [(
    &'static str,
    &'static str,
    &'a Option<Vec<LinuxThrottleDevice>>,
); 4];

fn throttles(b: &LinuxBlockIo) -> Throttles<'_> {
    [
        (
            "throttleReadBpsDevice",
            "read_bps",
            b.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "write_bps",
            b.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "read_iops",
            b.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "write_iops",
            b.throttle_write_iops_device(),
        ),
    ]
}

fn blkio_v1(b: &LinuxBlockIo, p: &mut Plan) -> Result<(), ResourceError> {
    let f = |n: &str| format!("{RES}.blockIO.{n}");
    let t = Target::V1("blkio");
    // CFQ's files, or BFQ's where CFQ is gone (Linux >= 5.0).
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        p.push(
            Write::new(f("weight"), t, "blkio.weight", w.to_string())
                .or_file("blkio.bfq.weight", w.to_string()),
        );
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        p.push(Write::new(f("leafWeight"), t, "blkio.leaf_weight", w.to_string()).optional());
    }
    for (i, wd) in b.weight_device().iter().flatten().enumerate() {
        let field = f(&format!("weightDevice[{i}]"));
        let d = dev(&field, wd.major(), wd.minor())?;
        if wd.weight().is_none() && wd.leaf_weight().is_none() {
            return Err(invalid(field, "needs weight or leafWeight"));
        }
        if let Some(w) = wd.weight().filter(|w| *w != 0) {
            let v = format!("{d} {w}");
            p.push(
                Write::new(
                    format!("{field}.weight"),
                    t,
                    "blkio.weight_device",
                    v.as_str(),
                )
                .or_file("blkio.bfq.weight_device", v),
            );
        }
        if let Some(w) = wd.leaf_weight().filter(|w| *w != 0) {
            p.push(
                Write::new(
                    format!("{field}.leafWeight"),
                    t,
                    "blkio.leaf_weight_device",
                    format!("{d} {w}"),
                )
                .optional(),
            );
        }
    }
    for (name, kind, list) in throttles(b) {
        for (i, td) in list.iter().flatten().enumerate() {
            let field = f(&format!("{name}[{i}]"));
            let d = dev(&field, td.major(), td.minor())?;
            p.push(Write::new(
                field,
                t,
                format!("blkio.throttle.{kind}_device"),
                format!("{d} {}", td.rate()),
            ));
        }
    }
    Ok(())
}

fn io_v2(b: &LinuxBlockIo, p: &mut Plan) -> Result<(), ResourceError> {
    let f = |n: &str| format!("{RES}.blockIO.{n}");
    let t = Target::Unified;
    // BFQ takes the spec's weight as is; io.weight (iocost) needs converting.
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        if w > 1000 {
            return Err(invalid(f("weight"), format!("{w} is outside 10..1000")));
        }
        p.push(
            Write::new(f("weight"), t, "io.bfq.weight", w.to_string())
                .or_file("io.weight", blkio_weight_to_io_weight(w).to_string()),
        );
    }
    if b.leaf_weight().is_some_and(|w| w != 0) {
        p.warn(&f("leafWeight"), "not supported on cgroup v2; ignored");
    }
    for (i, wd) in b.weight_device().iter().flatten().enumerate() {
        let field = f(&format!("weightDevice[{i}]"));
        let d = dev(&field, wd.major(), wd.minor())?;
        if wd.weight().is_none() && wd.leaf_weight().is_none() {
            return Err(invalid(field, "needs weight or leafWeight"));
        }
        if let Some(w) = wd.weight().filter(|w| *w != 0) {
            p.push(
                Write::new(
                    format!("{field}.weight"),
                    t,
                    "io.bfq.weight",
                    format!("{d} {w}"),
                )
                .or_file("io.weight", format!("{d} {}", blkio_weight_to_io_weight(w))),
            );
        }
        if wd.leaf_weight().is_some_and(|w| w != 0) {
            p.warn(
                &format!("{field}.leafWeight"),
                "not supported on cgroup v2; ignored",
            );
        }
    }
    // One io.max line per device with all its limits. v1's rate 0 removes a limit;
    // v2 spells that "max" (and refuses 0).
    let mut devices: Vec<(String, String, BTreeMap<&str, String>)> = Vec::new();
    for (name, kind, list) in throttles(b) {
        let key = match kind {
            "read_bps" => "rbps",
            "write_bps" => "wbps",
            "read_iops" => "riops",
            _ => "wiops",
        };
        for (i, td) in list.iter().flatten().enumerate() {
            let field = f(&format!("{name}[{i}]"));
            let d = dev(&field, td.major(), td.minor())?;
            let rate = match td.rate() {
                0 => "max".to_string(),
                r => r.to_string(),
            };
            match devices.iter_mut().find(|(dd, _, _)| *dd == d) {
                Some((_, _, keys)) => {
                    keys.insert(key, rate);
                }
                None => devices.push((d, field, BTreeMap::from([(key, rate)]))),
            }
        }
    }
    for (d, field, keys) in devices {
        // Kernel order, for a predictable line.
        let line: Vec<String> = ["rbps", "wbps", "riops", "wiops"]
            .iter()
            .filter_map(|k| keys.get(k).map(|v| format!("{k}={v}")))
            .collect();
        p.push(Write::new(
            field,
            t,
            "io.max",
            format!("{d} {}", line.join(" ")),
        ));
    }
    Ok(())
}

// ---- hugetlb, network, rdma, unified ----

/// `<digits><K|M|G>B`, the kernel's own spelling of the sizes it has files for.
fn page_size_ok(s: &str) -> bool {
    let Some(num) = s
        .strip_suffix("KB")
        .or_else(|| s.strip_suffix("MB"))
        .or_else(|| s.strip_suffix("GB"))
    else {
        return false;
    };
    !num.is_empty() && num.bytes().all(|c| c.is_ascii_digit())
}

fn hugetlb(res: &LinuxResources, v2: bool, p: &mut Plan) -> Result<(), ResourceError> {
    let t = if v2 {
        Target::Unified
    } else {
        Target::V1("hugetlb")
    };
    let (limit, rsvd) = if v2 {
        ("max", "rsvd.max")
    } else {
        ("limit_in_bytes", "rsvd.limit_in_bytes")
    };
    for (i, h) in res.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("{RES}.hugepageLimits[{i}]");
        let size = h.page_size();
        if !page_size_ok(size) {
            return Err(invalid(
                format!("{field}.pageSize"),
                format!("{size:?} is not a page size like \"2MB\" or \"1GB\""),
            ));
        }
        let v = match h.limit() {
            -1 if v2 => "max".to_string(),
            l if l >= -1 => l.to_string(),
            l => {
                return Err(invalid(
                    format!("{field}.limit"),
                    format!("{l} is not a byte count"),
                ))
            }
        };
        // The page-fault limit, and the reservation limit where the kernel has one
        // (>= 5.7); the spec prefers the latter, runc sets both.
        p.push(Write::new(
            format!("{field}.limit"),
            t,
            format!("hugetlb.{size}.{limit}"),
            v.as_str(),
        ));
        p.push(
            Write::new(
                format!("{field}.limit"),
                t,
                format!("hugetlb.{size}.{rsvd}"),
                v,
            )
            .optional(),
        );
    }
    Ok(())
}

/// A name that goes into a kernel line as one token.
fn token_ok(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn network_v1(n: &LinuxNetwork, p: &mut Plan) -> Result<(), ResourceError> {
    if let Some(id) = n.class_id().filter(|id| *id != 0) {
        p.push(Write::new(
            format!("{RES}.network.classID"),
            Target::V1("net_cls"),
            "net_cls.classid",
            id.to_string(),
        ));
    }
    for (i, prio) in n.priorities().iter().flatten().enumerate() {
        let field = format!("{RES}.network.priorities[{i}]");
        if !token_ok(prio.name()) {
            return Err(invalid(
                format!("{field}.name"),
                format!("{:?} is not an interface name", prio.name()),
            ));
        }
        p.push(Write::new(
            field,
            Target::V1("net_prio"),
            "net_prio.ifpriomap",
            format!("{} {}", prio.name(), prio.priority()),
        ));
    }
    Ok(())
}

fn network_v2(n: &LinuxNetwork, p: &mut Plan) {
    if n.class_id().is_some_and(|id| id != 0) {
        p.warn(
            &format!("{RES}.network.classID"),
            "net_cls does not exist on cgroup v2; ignored",
        );
    }
    if n.priorities().as_ref().is_some_and(|v| !v.is_empty()) {
        p.warn(
            &format!("{RES}.network.priorities"),
            "net_prio does not exist on cgroup v2; ignored",
        );
    }
}

fn rdma(res: &LinuxResources, t: Target, p: &mut Plan) -> Result<(), ResourceError> {
    let Some(map) = res.rdma() else {
        return Ok(());
    };
    let sorted: BTreeMap<_, _> = map.iter().collect();
    for (device, limits) in sorted {
        let field = format!("{RES}.rdma[{device:?}]");
        if !token_ok(device) {
            return Err(invalid(field, "not an RDMA device name"));
        }
        let mut line = device.clone();
        if let Some(h) = limits.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = limits.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        if line == *device {
            return Err(invalid(field, "needs hcaHandles or hcaObjects"));
        }
        p.push(Write::new(field, t, "rdma.max", line));
    }
    Ok(())
}

/// Raw v2 files, last so that they win over the converted values (as runc).
fn unified(res: &LinuxResources, p: &mut Plan) -> Result<(), ResourceError> {
    let Some(map) = res.unified() else {
        return Ok(());
    };
    let sorted: BTreeMap<_, _> = map.iter().collect();
    for (key, value) in sorted {
        let field = format!("{RES}.unified[{key:?}]");
        if key.is_empty() || key.contains('/') || key.contains("..") || key.contains('\0') {
            return Err(invalid(
                field,
                "must be a file name in the container's cgroup (no '/' or '..')",
            ));
        }
        p.push(Write::new(
            field,
            Target::Unified,
            key.as_str(),
            value.as_str(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::Hierarchy;
    use std::path::PathBuf;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    /// (target, file, value) of every write.
    fn triples(p: &Plan) -> Vec<(Target, &str, &str)> {
        p.writes
            .iter()
            .map(|w| (w.target, w.file.as_str(), w.value.as_str()))
            .collect()
    }

    fn files(p: &Plan) -> Vec<(&str, &str)> {
        p.writes
            .iter()
            .map(|w| (w.file.as_str(), w.value.as_str()))
            .collect()
    }

    fn find<'a>(p: &'a Plan, file: &str) -> &'a Write {
        p.writes.iter().find(|w| w.file == file).unwrap()
    }

    fn err_field(e: ResourceError) -> String {
        match e {
            ResourceError::Invalid { field, .. } | ResourceError::Unsupported { field, .. } => {
                field
            }
        }
    }

    const M: Target = Target::V1("memory");
    const U: Target = Target::Unified;

    #[test]
    fn empty_resources_write_nothing() {
        for p in [plan_v1(&res("{}")).unwrap(), plan_v2(&res("{}")).unwrap()] {
            assert!(p.writes.is_empty() && p.warnings.is_empty());
        }
    }

    #[test]
    fn memory_v1_every_field() {
        let p = plan_v1(&res(
            r#"{"memory": {"limit": 536870912, "reservation": 268435456,
            "swap": 1073741824, "kernel": 1000000, "kernelTCP": 2000000, "swappiness": 10,
            "disableOOMKiller": true, "useHierarchy": true}}"#,
        ))
        .unwrap();
        assert_eq!(
            triples(&p),
            vec![
                (M, "memory.limit_in_bytes", "536870912"),
                (M, "memory.memsw.limit_in_bytes", "1073741824"),
                (M, "memory.soft_limit_in_bytes", "268435456"),
                (M, "memory.kmem.limit_in_bytes", "1000000"),
                (M, "memory.kmem.tcp.limit_in_bytes", "2000000"),
                (M, "memory.swappiness", "10"),
                (M, "memory.oom_control", "1"),
                (M, "memory.use_hierarchy", "1"),
            ]
        );
        let limit = find(&p, "memory.limit_in_bytes");
        assert_eq!(limit.field, "linux.resources.memory.limit");
        assert!(limit.defer_on_einval, "retried after memsw when raising");
        assert!(!find(&p, "memory.memsw.limit_in_bytes").defer_on_einval);
        assert!(find(&p, "memory.kmem.limit_in_bytes").optional);
        assert!(find(&p, "memory.kmem.tcp.limit_in_bytes").optional);
        assert!(!find(&p, "memory.swappiness").optional);
        assert!(!p.check_before_update);
    }

    #[test]
    fn memory_v1_limit_alone_is_not_deferred_and_unlimited_frees_swap() {
        let p = plan_v1(&res(r#"{"memory": {"limit": 1000}}"#)).unwrap();
        assert_eq!(files(&p), vec![("memory.limit_in_bytes", "1000")]);
        assert!(!p.writes[0].defer_on_einval);
        let p = plan_v1(&res(r#"{"memory": {"limit": -1}}"#)).unwrap();
        assert_eq!(
            files(&p),
            vec![
                ("memory.limit_in_bytes", "-1"),
                ("memory.memsw.limit_in_bytes", "-1")
            ]
        );
        assert!(p.writes[0].defer_on_einval && p.writes[1].optional);
        let p = plan_v1(&res(r#"{"memory": {"limit": -1, "swap": -1}}"#)).unwrap();
        assert!(!p.writes[1].optional, "an explicit swap is required");
    }

    #[test]
    fn memory_zero_is_unset_and_bad_values_refused() {
        let r = res(
            r#"{"memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0,
            "kernelTCP": 0, "disableOOMKiller": false}}"#,
        );
        assert!(plan_v1(&r).unwrap().writes.is_empty());
        assert!(plan_v2(&r).unwrap().writes.is_empty());
        let e = plan_v1(&res(r#"{"memory": {"limit": -2}}"#)).unwrap_err();
        assert_eq!(err_field(e), "linux.resources.memory.limit");
        let e = plan_v1(&res(r#"{"memory": {"limit": 2000, "swap": 1000}}"#)).unwrap_err();
        assert_eq!(err_field(e), "linux.resources.memory.swap");
        let e = plan_v1(&res(r#"{"memory": {"swappiness": 101}}"#)).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("linux.resources.memory.swappiness: "));
        assert!(plan_v1(&res(r#"{"memory": {"swappiness": 100}}"#)).is_ok());
    }

    #[test]
    fn memory_v2_swap_arithmetic() {
        let p = plan_v2(&res(r#"{"memory": {"limit": 536870912, "swap": 1073741824,
            "reservation": 1000}}"#))
        .unwrap();
        assert_eq!(
            triples(&p),
            vec![
                (U, "memory.swap.max", "536870912"),
                (U, "memory.max", "536870912"),
                (U, "memory.low", "1000"),
            ]
        );
        assert!(!p.writes[0].optional);
        let swap = |json: &str| {
            let p = plan_v2(&res(json)).unwrap();
            p.writes
                .iter()
                .find(|w| w.file == "memory.swap.max")
                .map(|w| (w.value.clone(), w.optional))
        };
        // swap == limit: no swap at all.
        assert_eq!(
            swap(r#"{"memory": {"limit": 1000, "swap": 1000}}"#),
            Some(("0".into(), true))
        );
        assert_eq!(
            swap(r#"{"memory": {"limit": 1000, "swap": -1}}"#),
            Some(("max".into(), true))
        );
        assert_eq!(
            swap(r#"{"memory": {"limit": -1}}"#),
            Some(("max".into(), true))
        );
        assert_eq!(
            swap(r#"{"memory": {"limit": -1, "swap": 5000}}"#),
            Some(("5000".into(), false))
        );
        assert_eq!(swap(r#"{"memory": {"limit": 1000}}"#), None);
        let p = plan_v2(&res(r#"{"memory": {"limit": -1, "reservation": -1}}"#)).unwrap();
        assert_eq!(find(&p, "memory.max").value, "max");
        assert_eq!(find(&p, "memory.low").value, "max");
    }

    #[test]
    fn memory_v2_refusals_and_warnings() {
        let e = plan_v2(&res(r#"{"memory": {"swap": 1000}}"#)).unwrap_err();
        assert_eq!(err_field(e), "linux.resources.memory.swap");
        let e = plan_v2(&res(r#"{"memory": {"limit": 2000, "swap": 1000}}"#)).unwrap_err();
        assert_eq!(err_field(e), "linux.resources.memory.swap");
        let p = plan_v2(&res(r#"{"memory": {"kernel": 1000, "kernelTCP": 1000,
            "swappiness": 0, "disableOOMKiller": true, "useHierarchy": false}}"#))
        .unwrap();
        assert!(p.writes.is_empty());
        assert_eq!(p.warnings.len(), 5, "{:?}", p.warnings);
        for (w, f) in p.warnings.iter().zip([
            "kernel",
            "kernelTCP",
            "swappiness",
            "disableOOMKiller",
            "useHierarchy",
        ]) {
            assert!(
                w.starts_with(&format!("linux.resources.memory.{f}: ")),
                "{w}"
            );
        }
        // The spec's own example (kernel -1, disableOOMKiller false) is quiet.
        let p = plan_v2(&res(r#"{"memory": {"kernel": -1, "kernelTCP": -1,
            "disableOOMKiller": false, "useHierarchy": true}}"#))
        .unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn check_before_update_is_a_v2_plan_flag() {
        let r = res(r#"{"memory": {"limit": 1000, "checkBeforeUpdate": true}}"#);
        assert!(plan_v2(&r).unwrap().check_before_update);
        assert!(!plan_v1(&r).unwrap().check_before_update);
        let r = res(r#"{"memory": {"checkBeforeUpdate": true}}"#);
        assert!(
            !plan_v2(&r).unwrap().check_before_update,
            "no limit, nothing to check"
        );
    }

    #[test]
    fn cpu_v1_every_field_in_kernel_order() {
        let p = plan_v1(&res(
            r#"{"cpu": {"shares": 1024, "quota": 1000000, "burst": 1000000,
            "period": 500000, "realtimeRuntime": 950000, "realtimePeriod": 1000000,
            "cpus": "2-3", "mems": "0-7", "idle": 0}}"#,
        ))
        .unwrap();
        let c = Target::V1("cpu");
        let s = Target::V1("cpuset");
        assert_eq!(
            triples(&p),
            vec![
                (s, "cpuset.cpus", "2-3"),
                (s, "cpuset.mems", "0-7"),
                (c, "cpu.idle", "0"),
                (c, "cpu.shares", "1024"),
                (c, "cpu.cfs_period_us", "500000"),
                (c, "cpu.cfs_burst_us", "1000000"),
                (c, "cpu.cfs_quota_us", "1000000"),
                (c, "cpu.rt_period_us", "1000000"),
                (c, "cpu.rt_runtime_us", "950000"),
            ]
        );
        let deferred: Vec<&str> = p
            .writes
            .iter()
            .filter(|w| w.defer_on_einval)
            .map(|w| w.file.as_str())
            .collect();
        assert_eq!(
            deferred,
            vec!["cpu.cfs_period_us", "cpu.cfs_burst_us", "cpu.rt_period_us"]
        );
        assert!(find(&p, "cpu.cfs_burst_us").optional);
        assert!(find(&p, "cpu.idle").optional, "idle 0 is the default");
        assert_eq!(
            find(&p, "cpu.rt_runtime_us").field,
            "linux.resources.cpu.realtimeRuntime"
        );
    }

    #[test]
    fn cpu_idle_goes_after_the_weight() {
        let p = plan_v1(&res(r#"{"cpu": {"shares": 512, "idle": 1}}"#)).unwrap();
        assert_eq!(files(&p), vec![("cpu.shares", "512"), ("cpu.idle", "1")]);
        assert!(!p.writes[1].optional);
        let p = plan_v2(&res(r#"{"cpu": {"shares": 512, "idle": 1}}"#)).unwrap();
        assert_eq!(files(&p), vec![("cpu.weight", "20"), ("cpu.idle", "1")]);
        let p = plan_v2(&res(r#"{"cpu": {"shares": 512, "idle": 0}}"#)).unwrap();
        assert_eq!(files(&p), vec![("cpu.idle", "0"), ("cpu.weight", "20")]);
    }

    #[test]
    fn cpu_zero_means_unset() {
        // Docker: shares 0, quota 0, period 0.
        let r = res(
            r#"{"cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0,
            "realtimePeriod": 0, "cpus": "", "mems": ""}}"#,
        );
        assert!(plan_v1(&r).unwrap().writes.is_empty());
        assert!(plan_v2(&r).unwrap().writes.is_empty());
        // A lone period or quota is not deferred: it has no partner.
        let p = plan_v1(&res(r#"{"cpu": {"period": 100000}}"#)).unwrap();
        assert_eq!(files(&p), vec![("cpu.cfs_period_us", "100000")]);
        assert!(!p.writes[0].defer_on_einval);
        let p = plan_v1(&res(r#"{"cpu": {"quota": -1}}"#)).unwrap();
        assert_eq!(files(&p), vec![("cpu.cfs_quota_us", "-1")]);
    }

    #[test]
    fn cpu_v2_conversions() {
        let p = plan_v2(&res(
            r#"{"cpu": {"shares": 1024, "quota": 50000, "period": 200000,
            "burst": 10000, "cpus": "0", "mems": "0"}}"#,
        ))
        .unwrap();
        assert_eq!(
            triples(&p),
            vec![
                (U, "cpuset.cpus", "0"),
                (U, "cpuset.mems", "0"),
                (U, "cpu.weight", "39"),
                (U, "cpu.max.burst", "10000"),
                (U, "cpu.max", "50000 200000"),
            ]
        );
        assert!(find(&p, "cpu.max.burst").defer_on_einval);
        let max = |json: &str| find(&plan_v2(&res(json)).unwrap(), "cpu.max").value.clone();
        assert_eq!(max(r#"{"cpu": {"quota": 50000}}"#), "50000 100000");
        assert_eq!(max(r#"{"cpu": {"quota": -1}}"#), "max 100000");
        assert_eq!(max(r#"{"cpu": {"period": 300000}}"#), "max 300000");
        assert_eq!(
            max(r#"{"cpu": {"quota": 0, "period": 300000}}"#),
            "max 300000"
        );
    }

    #[test]
    fn shares_to_weight_matches_runc() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1, "clamped, not wrapped");
        assert_eq!(shares_to_weight(1 << 20), 10_000);
    }

    #[test]
    fn cpu_refusals() {
        let e = plan_v2(&res(r#"{"cpu": {"realtimeRuntime": 950000}}"#)).unwrap_err();
        assert!(matches!(e, ResourceError::Unsupported { .. }));
        assert_eq!(err_field(e), "linux.resources.cpu.realtimeRuntime");
        let e = plan_v2(&res(r#"{"cpu": {"realtimePeriod": 1000000}}"#)).unwrap_err();
        assert_eq!(err_field(e), "linux.resources.cpu.realtimePeriod");
        for json in [
            r#"{"cpu": {"quota": 1000, "burst": 2000}}"#,
            r#"{"cpu": {"quota": 1000, "burst": 1001, "period": 100000}}"#,
        ] {
            assert_eq!(
                err_field(plan_v1(&res(json)).unwrap_err()),
                "linux.resources.cpu.burst"
            );
            assert!(plan_v2(&res(json)).is_err());
        }
        assert!(plan_v1(&res(r#"{"cpu": {"quota": -1, "burst": 2000}}"#)).is_ok());
    }

    #[test]
    fn pids_limit() {
        let p = |l: i64| {
            let r = res(&format!(r#"{{"pids": {{"limit": {l}}}}}"#));
            let (a, b) = (plan_v1(&r).unwrap(), plan_v2(&r).unwrap());
            assert_eq!(a.writes[0].target, Target::V1("pids"));
            assert_eq!(b.writes[0].target, U);
            assert_eq!(files(&a), files(&b));
            a.writes[0].value.clone()
        };
        assert_eq!(p(32771), "32771");
        assert_eq!(p(-1), "max");
        assert_eq!(p(0), "0", "0 is a real limit (config-linux.md)");
    }

    #[test]
    fn blkio_v1() {
        let p = plan_v1(&res(r#"{"blockIO": {"weight": 10, "leafWeight": 10,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300},
                             {"major": 8, "minor": 16, "weight": 500}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
            "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 700}],
            "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 0}],
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]}}"#))
        .unwrap();
        assert_eq!(
            files(&p),
            vec![
                ("blkio.weight", "10"),
                ("blkio.leaf_weight", "10"),
                ("blkio.weight_device", "8:0 500"),
                ("blkio.leaf_weight_device", "8:0 300"),
                ("blkio.weight_device", "8:16 500"),
                ("blkio.throttle.read_bps_device", "8:0 600"),
                ("blkio.throttle.write_bps_device", "8:0 700"),
                ("blkio.throttle.read_iops_device", "8:0 0"),
                ("blkio.throttle.write_iops_device", "8:16 300"),
            ]
        );
        assert!(p.writes.iter().all(|w| w.target == Target::V1("blkio")));
        assert_eq!(
            p.writes[0].fallback,
            Some(("blkio.bfq.weight".into(), "10".into()))
        );
        assert_eq!(
            p.writes[2].fallback,
            Some(("blkio.bfq.weight_device".into(), "8:0 500".into()))
        );
        assert!(p.writes[1].optional && p.writes[3].optional);
        assert_eq!(
            p.writes[8].field,
            "linux.resources.blockIO.throttleWriteIOPSDevice[0]"
        );
    }

    #[test]
    fn blkio_v2() {
        let p = plan_v2(&res(r#"{"blockIO": {"weight": 500, "leafWeight": 10,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
            "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
            "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 20}],
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 300}]}}"#))
        .unwrap();
        assert_eq!(
            triples(&p),
            vec![
                (U, "io.bfq.weight", "500"),
                (U, "io.bfq.weight", "8:0 500"),
                (U, "io.max", "8:0 rbps=600 wbps=max wiops=300"),
                (U, "io.max", "8:16 riops=20"),
            ]
        );
        assert_eq!(
            p.writes[0].fallback,
            Some(("io.weight".into(), "4950".into()))
        );
        assert_eq!(
            p.writes[1].fallback,
            Some(("io.weight".into(), "8:0 4950".into()))
        );
        assert_eq!(p.warnings.len(), 2, "leafWeight twice: {:?}", p.warnings);
        assert_eq!(
            p.writes[2].field,
            "linux.resources.blockIO.throttleReadBpsDevice[0]"
        );
    }

    #[test]
    fn blkio_weight_conversion_and_zero() {
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
        assert_eq!(blkio_weight_to_io_weight(100), 910);
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(5), 1, "clamped, not wrapped");
        // Docker's blockIO.weight 0 is unset.
        let r = res(r#"{"blockIO": {"weight": 0, "leafWeight": 0}}"#);
        assert!(plan_v1(&r).unwrap().writes.is_empty());
        let p = plan_v2(&r).unwrap();
        assert!(p.writes.is_empty() && p.warnings.is_empty());
    }

    #[test]
    fn blkio_refusals() {
        for json in [
            r#"{"blockIO": {"weightDevice": [{"major": 8, "minor": 0}]}}"#,
            r#"{"blockIO": {"weightDevice": [{"major": -1, "minor": 0, "weight": 10}]}}"#,
        ] {
            let e = plan_v1(&res(json)).unwrap_err();
            assert_eq!(err_field(e), "linux.resources.blockIO.weightDevice[0]");
            assert!(plan_v2(&res(json)).is_err());
        }
        let e = plan_v2(&res(r#"{"blockIO": {"weight": 1001}}"#)).unwrap_err();
        assert_eq!(err_field(e), "linux.resources.blockIO.weight");
    }

    #[test]
    fn hugetlb_both_versions() {
        let r = res(
            r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 209715200},
            {"pageSize": "64KB", "limit": 1000000}]}"#,
        );
        let h = Target::V1("hugetlb");
        assert_eq!(
            triples(&plan_v1(&r).unwrap()),
            vec![
                (h, "hugetlb.2MB.limit_in_bytes", "209715200"),
                (h, "hugetlb.2MB.rsvd.limit_in_bytes", "209715200"),
                (h, "hugetlb.64KB.limit_in_bytes", "1000000"),
                (h, "hugetlb.64KB.rsvd.limit_in_bytes", "1000000"),
            ]
        );
        let p = plan_v2(&r).unwrap();
        assert_eq!(
            triples(&p),
            vec![
                (U, "hugetlb.2MB.max", "209715200"),
                (U, "hugetlb.2MB.rsvd.max", "209715200"),
                (U, "hugetlb.64KB.max", "1000000"),
                (U, "hugetlb.64KB.rsvd.max", "1000000"),
            ]
        );
        assert!(!p.writes[0].optional && p.writes[1].optional);
        assert_eq!(p.writes[2].field, "linux.resources.hugepageLimits[1].limit");
        let r = res(r#"{"hugepageLimits": [{"pageSize": "1GB", "limit": -1}]}"#);
        assert_eq!(plan_v2(&r).unwrap().writes[0].value, "max");
        assert_eq!(plan_v1(&r).unwrap().writes[0].value, "-1");
        for bad in ["2M", "../../x", "2 MB", "MB", "1TB"] {
            let r = res(&format!(
                r#"{{"hugepageLimits": [{{"pageSize": "{bad}", "limit": 1}}]}}"#
            ));
            let e = plan_v1(&r).unwrap_err();
            assert_eq!(err_field(e), "linux.resources.hugepageLimits[0].pageSize");
        }
    }

    #[test]
    fn network() {
        let r = res(r#"{"network": {"classID": 1048577, "priorities": [
            {"name": "eth0", "priority": 500}, {"name": "eth1", "priority": 1000}]}}"#);
        assert_eq!(
            triples(&plan_v1(&r).unwrap()),
            vec![
                (Target::V1("net_cls"), "net_cls.classid", "1048577"),
                (Target::V1("net_prio"), "net_prio.ifpriomap", "eth0 500"),
                (Target::V1("net_prio"), "net_prio.ifpriomap", "eth1 1000"),
            ]
        );
        let p = plan_v2(&r).unwrap();
        assert!(p.writes.is_empty());
        assert_eq!(p.warnings.len(), 2);
        assert!(plan_v1(&res(r#"{"network": {"classID": 0}}"#))
            .unwrap()
            .writes
            .is_empty());
        let e = plan_v1(&res(
            r#"{"network": {"priorities": [{"name": "eth0 1\nlo", "priority": 1}]}}"#,
        ))
        .unwrap_err();
        assert_eq!(err_field(e), "linux.resources.network.priorities[0].name");
    }

    #[test]
    fn rdma_lines_sorted_by_device() {
        let r = res(r#"{"rdma": {"mlx5_1": {"hcaHandles": 3},
            "mlx5_0": {"hcaHandles": 3, "hcaObjects": 10000}}}"#);
        let p = plan_v1(&r).unwrap();
        assert_eq!(
            triples(&p),
            vec![
                (
                    Target::V1("rdma"),
                    "rdma.max",
                    "mlx5_0 hca_handle=3 hca_object=10000"
                ),
                (Target::V1("rdma"), "rdma.max", "mlx5_1 hca_handle=3"),
            ]
        );
        assert_eq!(files(&plan_v2(&r).unwrap()), files(&p));
        let e = plan_v2(&res(r#"{"rdma": {"mlx5_0": {}}}"#)).unwrap_err();
        assert_eq!(err_field(e), "linux.resources.rdma[\"mlx5_0\"]");
    }

    #[test]
    fn unified_keys() {
        let r = res(r#"{"memory": {"limit": 1000},
            "unified": {"memory.max": "2000", "io.weight": "default 100"}}"#);
        let p = plan_v2(&r).unwrap();
        // Raw keys last, sorted: they win over the converted values.
        assert_eq!(
            files(&p),
            vec![
                ("memory.max", "1000"),
                ("io.weight", "default 100"),
                ("memory.max", "2000"),
            ]
        );
        assert_eq!(p.writes[2].field, "linux.resources.unified[\"memory.max\"]");
        for bad in ["../cgroup.procs", "a/b", "..", ""] {
            let mut r = LinuxResources::default();
            r.set_unified(Some([(bad.to_string(), "1".to_string())].into()));
            assert!(plan_v2(&r).is_err(), "{bad:?}");
        }
        let e = plan_v1(&r).unwrap_err();
        assert!(matches!(e, ResourceError::Unsupported { .. }));
        assert_eq!(err_field(e), "linux.resources.unified");
    }

    fn layout(v1: &[&str], v2: bool) -> Layout {
        let mut hierarchies: Vec<Hierarchy> = v1
            .iter()
            .map(|c| Hierarchy {
                mount_point: PathBuf::from("/sys/fs/cgroup").join(c),
                controllers: vec![c.to_string()],
                v2: false,
            })
            .collect();
        if v2 {
            hierarchies.push(Hierarchy {
                mount_point: PathBuf::from(if v1.is_empty() {
                    "/sys/fs/cgroup"
                } else {
                    "/sys/fs/cgroup/unified"
                }),
                controllers: vec![],
                v2: true,
            });
        }
        Layout { hierarchies }
    }

    #[test]
    fn plan_chooses_by_layout() {
        let r = res(r#"{"pids": {"limit": 10}, "unified": {"hugetlb.2MB.max": "0"}}"#);
        let p = plan(&r, &layout(&[], true)).unwrap();
        assert_eq!(
            triples(&p),
            vec![(U, "pids.max", "10"), (U, "hugetlb.2MB.max", "0")]
        );
        // Hybrid: v1 controllers, unified keys to the cgroup2 mount.
        let p = plan(&r, &layout(&["pids", "memory"], true)).unwrap();
        assert_eq!(
            triples(&p),
            vec![
                (Target::V1("pids"), "pids.max", "10"),
                (U, "hugetlb.2MB.max", "0")
            ]
        );
        let e = plan(&r, &layout(&["pids"], false)).unwrap_err();
        assert_eq!(err_field(e), "linux.resources.unified");
        let r = res(r#"{"pids": {"limit": 10}}"#);
        assert!(plan(&r, &layout(&["pids"], false)).is_ok());
    }
}
