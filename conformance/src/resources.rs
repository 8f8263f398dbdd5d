//! config-linux.md "Control groups": scenarios that set `linux.resources`
//! (checked by the probe inside the container's own cgroup, with a cgroup
//! namespace), and configs with resources the runtime must refuse.
//!
//! What a host cannot show is decided here, on the host: a field the host
//! lacks the controller (or kernel file) for is left out of the config and
//! annotated `org.berth-conformance.skip.<field>` with the reason, which the
//! probe reports as SKIP. A field the kernel accepts but ignores (e.g.
//! memory.kernel on current kernels) stays in the config and is annotated too.

use crate::scenarios::{sc, Scenario};
use crate::spec::{push, set};
use crate::Harness;
use serde_json::{json, Map, Value};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Must match the probe's `cgroup::SKIP_ANNOTATION` and `res_misc::DEVCG_DIR`.
const SKIP_ANNOTATION: &str = "org.berth-conformance.skip.";
const DEVCG_DIR: &str = "berth-devcg";

/// The host's cgroup mounts, from the harness's own /proc/self/mountinfo.
pub struct HostCg {
    /// (controllers from the super options, mount point) per v1 hierarchy.
    v1: Vec<(Vec<String>, PathBuf)>,
    v2: Option<PathBuf>,
}

impl HostCg {
    pub fn detect() -> HostCg {
        let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut h = HostCg {
            v1: Vec::new(),
            v2: None,
        };
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let r: Vec<&str> = right.split_whitespace().collect();
            let Some(mp) = left.split_whitespace().nth(4) else {
                continue;
            };
            match r.first() {
                Some(&"cgroup") => {
                    let opts = r.get(2).unwrap_or(&"").split(',').map(str::to_string);
                    h.v1.push((opts.collect(), PathBuf::from(mp)));
                }
                Some(&"cgroup2") => h.v2 = Some(PathBuf::from(mp)),
                _ => {}
            }
        }
        h
    }

    fn v1_mount(&self, c: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|(opts, _)| opts.iter().any(|o| o == c))
            .map(|(_, m)| m.as_path())
    }

    fn pure_v2(&self) -> bool {
        self.v1.is_empty() && self.v2.is_some()
    }

    fn v2_controllers(&self) -> String {
        self.v2
            .as_ref()
            .and_then(|m| fs::read_to_string(m.join("cgroup.controllers")).ok())
            .unwrap_or_default()
    }

    /// Why resources for controller `c` cannot be applied on this host, if so.
    fn lacks(&self, c: &str) -> Option<String> {
        if self.v1_mount(c).is_some() {
            return None;
        }
        let on_v2 = self.v2_controllers().split_whitespace().any(|x| x == c);
        match (self.pure_v2(), on_v2, &self.v2) {
            (true, true, _) => None,
            (false, true, Some(m)) => Some(format!(
                "this hybrid host has no cgroup v1 {c} hierarchy; {c} is only on its cgroup2 mount ({}), where runtimes are not required to apply the v1 fields",
                m.display()
            )),
            _ => Some(format!(
                "this host has no {c} controller (no cgroup v1 {c} hierarchy, not in the cgroup2 cgroup.controllers)"
            )),
        }
    }

    /// All the cgroup directories named `path` (relative to each mount).
    pub fn dirs_named(&self, path: &str) -> Vec<PathBuf> {
        let rel = path.trim_start_matches('/');
        self.v1
            .iter()
            .map(|(_, m)| m)
            .chain(self.v2.iter())
            .map(|m| m.join(rel))
            .filter(|d| d.is_dir())
            .collect()
    }

    /// Run `f` on a throwaway child cgroup of the v1 hierarchy with `c`.
    fn with_v1_child<T>(&self, c: &str, f: impl FnOnce(&Path) -> T) -> Option<T> {
        let m = self.v1_mount(c)?;
        let d = m.join(format!("berth-conformance-probe-{}", std::process::id()));
        fs::create_dir(&d).ok()?;
        let r = f(&d);
        let _ = fs::remove_dir(&d);
        Some(r)
    }

    /// Whether `file` exists in a (non-root) v1 cgroup of controller `c`.
    fn v1_has(&self, c: &str, file: &str) -> bool {
        self.with_v1_child(c, |d| d.join(file).exists())
            .unwrap_or(false)
    }

    /// On v1, what the kernel makes of writing `value` to `file`: None if it
    /// reads back, else why the field cannot be observed (and whether the
    /// write itself failed).
    fn v1_knob(&self, c: &str, file: &str, value: &str) -> Option<(String, bool)> {
        self.with_v1_child(c, |d| {
            let p = d.join(file);
            if let Err(e) = fs::write(&p, value) {
                return Some((format!("the kernel refuses writes to {file} ({e})"), true));
            }
            let got = fs::read_to_string(&p).unwrap_or_default();
            (got.trim() != value).then(|| {
                (
                    format!(
                        "the kernel ignores writes to {file} (a scratch cgroup reads back {:?} after {value:?} was written)",
                        got.trim()
                    ),
                    false,
                )
            })
        })
        .flatten()
    }
}

fn skip(c: &mut Value, field: &str, why: &str) {
    set(
        c,
        &format!("/annotations/{SKIP_ANNOTATION}{field}"),
        json!(why),
    );
}

/// Put `value` at resources `field`, or annotate why not.
fn put(c: &mut Value, field: &str, value: Value, lacks: Option<String>) {
    match lacks {
        None => set(
            c,
            &format!("/linux/resources/{}", field.replace('.', "/")),
            value,
        ),
        Some(why) => skip(c, field, &why),
    }
}

/// A block device's (major, minor).
type Dev = (i64, i64);

/// A whole disk for per-device limits (one with a backing device first) and
/// one that uses the BFQ scheduler.
fn block_devices() -> (Option<Dev>, Option<Dev>) {
    let mut disks: Vec<(bool, bool, Dev)> = Vec::new();
    for e in fs::read_dir("/sys/block").into_iter().flatten().flatten() {
        let p = e.path();
        let Some((a, b)) = fs::read_to_string(p.join("dev")).ok().and_then(|s| {
            s.trim()
                .split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        }) else {
            continue;
        };
        let (Ok(a), Ok(b)) = (a.parse(), b.parse()) else {
            continue;
        };
        let real = p.join("device").exists();
        let sched = fs::read_to_string(p.join("queue/scheduler")).unwrap_or_default();
        disks.push((real, sched.contains("[bfq]"), (a, b)));
    }
    disks.sort_by_key(|(real, _, d)| (!real, *d));
    let first = disks.first().map(|d| d.2);
    let bfq = disks.iter().find(|d| d.1).map(|d| d.2);
    (first, bfq)
}

fn cgroupns(c: &mut Value) {
    push(c, "/linux/namespaces", json!({"type": "cgroup"}));
}

/// A memory `field` of `bytes`, written to `file` on v1. If a scratch cgroup
/// shows that the kernel refuses that file, the field is left out; if the
/// kernel ignores it, the field stays. Either way it is annotated.
fn put_knob(c: &mut Value, h: &HostCg, field: &str, file: &str, bytes: i64, lacks: Option<String>) {
    let knob = (!h.pure_v2())
        .then(|| h.v1_knob("memory", file, &bytes.to_string()))
        .flatten();
    match knob {
        Some((why, true)) => skip(c, field, &why),
        Some((why, false)) => {
            put(c, field, json!(bytes), lacks);
            skip(c, field, &why);
        }
        None => put(c, field, json!(bytes), lacks),
    }
}

fn memory(c: &mut Value) {
    let h = HostCg::detect();
    cgroupns(c);
    let lacks = h.lacks("memory");
    const MIB: i64 = 1 << 20;
    put(c, "memory.limit", json!(256 * MIB), lacks.clone());
    let file = "memory.soft_limit_in_bytes";
    put_knob(c, &h, "memory.reservation", file, 128 * MIB, lacks.clone());
    // On v2, memory.swap.max exists unless swap accounting is off.
    let memsw = h.pure_v2() || h.v1_has("memory", "memory.memsw.limit_in_bytes");
    let no_swap = (!memsw)
        .then(|| "the kernel does no swap accounting (no memory.memsw.limit_in_bytes)".to_string());
    put(
        c,
        "memory.swap",
        json!(512 * MIB),
        lacks.clone().or(no_swap),
    );
    let file = "memory.kmem.limit_in_bytes";
    put_knob(c, &h, "memory.kernel", file, 64 * MIB, lacks.clone());
    let file = "memory.kmem.tcp.limit_in_bytes";
    put_knob(c, &h, "memory.kernelTCP", file, 64 * MIB, lacks.clone());
    put(c, "memory.swappiness", json!(17), lacks.clone());
    put(c, "memory.disableOOMKiller", json!(true), lacks.clone());
    put(c, "memory.useHierarchy", json!(true), lacks);
}

fn cpu(c: &mut Value) {
    let h = HostCg::detect();
    cgroupns(c);
    let lacks = h.lacks("cpu");
    put(c, "cpu.shares", json!(512), lacks.clone());
    put(c, "cpu.quota", json!(50000), lacks.clone());
    put(c, "cpu.period", json!(200000), lacks.clone());
    put(c, "cpu.burst", json!(20000), lacks);
    let lacks = h.lacks("cpuset");
    put(c, "cpu.cpus", json!("0"), lacks.clone());
    put(c, "cpu.mems", json!("0"), lacks);
}

fn cpu_idle(c: &mut Value) {
    let h = HostCg::detect();
    cgroupns(c);
    let no_file = (!h.pure_v2() && !h.v1_has("cpu", "cpu.idle"))
        .then(|| "the kernel has no cpu.idle (Linux < 5.15)".to_string());
    put(c, "cpu.idle", json!(1), h.lacks("cpu").or(no_file));
}

/// The realtime budget of a new cgroup comes from its parent, so this
/// container's cgroup is a direct child of the root (cgroupsPath "/NAME").
fn cpu_rt(c: &mut Value, h: &Harness) {
    let host = HostCg::detect();
    cgroupns(c);
    set(
        c,
        "/linux/cgroupsPath",
        json!(format!("/{}", h.id("resources-cpu-rt"))),
    );
    let lacks = if host.pure_v2() {
        Some("cgroup v2 has no realtime group scheduling".to_string())
    } else if !host.v1_has("cpu", "cpu.rt_runtime_us") {
        Some("the kernel has no cpu.rt_runtime_us (CONFIG_RT_GROUP_SCHED is off)".to_string())
    } else {
        host.lacks("cpu")
    };
    put(c, "cpu.realtimePeriod", json!(500000), lacks.clone());
    put(c, "cpu.realtimeRuntime", json!(10000), lacks);
}

fn pids_blockio(c: &mut Value) {
    let h = HostCg::detect();
    cgroupns(c);
    put(c, "pids.limit", json!(321), h.lacks("pids"));
    let blk = if h.pure_v2() { "io" } else { "blkio" };
    let lacks = h.lacks(blk);
    let v1_weight = ["blkio.weight", "blkio.bfq.weight"]
        .iter()
        .any(|f| h.v1_has("blkio", f));
    let no_weight = (!h.pure_v2() && !v1_weight)
        .then(|| "the kernel has no blkio weight file (neither CFQ nor BFQ)".to_string());
    put(c, "blockIO.weight", json!(300), lacks.clone().or(no_weight));
    let no_leaf = if h.pure_v2() {
        Some("cgroup v2 has no leaf weight".to_string())
    } else if !h.v1_has("blkio", "blkio.leaf_weight") {
        Some("the kernel has no blkio.leaf_weight (CFQ was removed in Linux 5.0; BFQ has no leaf weight)".to_string())
    } else {
        None
    };
    put(
        c,
        "blockIO.leafWeight",
        json!(200),
        lacks.clone().or(no_leaf),
    );
    let (disk, bfq) = block_devices();
    let cfq = h.v1_has("blkio", "blkio.weight_device");
    let wdev = if cfq { disk } else { bfq };
    let no_wdev = wdev.is_none().then(|| {
        "no block device here uses the BFQ scheduler (per-device weights need BFQ; CFQ is gone)"
            .to_string()
    });
    let (ma, mi) = wdev.unwrap_or((0, 0));
    let entry = json!([{"major": ma, "minor": mi, "weight": 500}]);
    put(c, "blockIO.weightDevice", entry, lacks.clone().or(no_wdev));
    let no_disk = disk
        .is_none()
        .then(|| "the host has no block device in /sys/block".to_string());
    let (ma, mi) = disk.unwrap_or((0, 0));
    for (key, rate) in [
        ("throttleReadBpsDevice", 1048576),
        ("throttleWriteBpsDevice", 2097152),
        ("throttleReadIOPSDevice", 1000),
        ("throttleWriteIOPSDevice", 2000),
    ] {
        let entry = json!([{"major": ma, "minor": mi, "rate": rate}]);
        put(
            c,
            &format!("blockIO.{key}"),
            entry,
            lacks.clone().or(no_disk.clone()),
        );
    }
}

fn hugetlb_net_rdma(c: &mut Value) {
    let h = HostCg::detect();
    cgroupns(c);
    let no_2m = (!Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists())
        .then(|| "the kernel has no 2MB huge pages".to_string());
    let limits = json!([{"pageSize": "2MB", "limit": 4u64 << 20}]);
    put(c, "hugepageLimits", limits, h.lacks("hugetlb").or(no_2m));
    let v2 = h
        .pure_v2()
        .then(|| "cgroup v2 has no net_cls or net_prio".to_string());
    put(
        c,
        "network.classID",
        json!(1048577),
        v2.clone().or(h.lacks("net_cls")),
    );
    let prio = json!([{"name": "lo", "priority": 5}]);
    put(c, "network.priorities", prio, v2.or(h.lacks("net_prio")));
    let hca = fs::read_dir("/sys/class/infiniband")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next();
    let no_hca = hca
        .is_none()
        .then(|| "the host has no RDMA device (/sys/class/infiniband)".to_string());
    let mut m = Map::new();
    m.insert(
        hca.unwrap_or_default(),
        json!({"hcaHandles": 3, "hcaObjects": 100}),
    );
    put(c, "rdma", Value::Object(m), h.lacks("rdma").or(no_hca));
}

fn unified(c: &mut Value) {
    let h = HostCg::detect();
    cgroupns(c);
    // Core cgroup2 files: no controller needs enabling, also on hybrid hosts
    // whose cgroup2 mount has none.
    let lacks =
        h.v2.is_none()
            .then(|| "this host has no cgroup2 mount".to_string());
    let keys = json!({"cgroup.max.depth": "5", "cgroup.max.descendants": "20"});
    put(c, "unified", keys, lacks);
}

/// Allow c 10:229 (fuse) rw, then deny its w; allow b 7:0 (loop0) r;
/// c 10:237 (loop-control) and c 10:200 (tun) are in no entry. None of them
/// is a default device. berth-devcg/ holds the four nodes.
fn devices(c: &mut Value) {
    for rule in [
        json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}),
        json!({"allow": false, "type": "c", "major": 10, "minor": 229, "access": "w"}),
        json!({"allow": true, "type": "b", "major": 7, "minor": 0, "access": "r"}),
    ] {
        push(c, "/linux/resources/devices", rule);
    }
}

fn device_nodes(_: &Path, rootfs: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = rootfs.join(DEVCG_DIR);
    fs::create_dir_all(&dir)?;
    for (name, kind, major, minor) in [
        ("fuse", libc::S_IFCHR, 10, 229),
        ("loop-control", libc::S_IFCHR, 10, 237),
        ("loop0", libc::S_IFBLK, 7, 0),
        ("tun", libc::S_IFCHR, 10, 200),
    ] {
        let p = dir.join(name);
        let c =
            std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
        // SAFETY: valid C string; mknod has no memory effects.
        let r = unsafe { libc::mknod(c.as_ptr(), kind | 0o666, libc::makedev(major, minor)) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        // The container's root has no CAP_DAC_OVERRIDE: 0666 despite the umask.
        fs::set_permissions(&p, fs::Permissions::from_mode(0o666))?;
    }
    Ok(())
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        sc("resources-memory", "resources", |c, _, _| memory(c)),
        sc("resources-cpu", "resources", |c, _, _| cpu(c)),
        sc("resources-cpu-idle", "resources", |c, _, _| cpu_idle(c)),
        sc("resources-cpu-rt", "resources", |c, _, h| cpu_rt(c, h)),
        sc("resources-pids-blockio", "resources", |c, _, _| {
            pids_blockio(c)
        }),
        sc("resources-hugetlb-net-rdma", "resources", |c, _, _| {
            hugetlb_net_rdma(c)
        }),
        sc("resources-unified", "resources", |c, _, _| unified(c)),
        sc("resources-devices", "devcgroup", |c, _, _| devices(c)).prep(device_nodes),
    ]
}

/// Error paths: (unit, case name, the resources to set). Each also sets an
/// absolute cgroupsPath, so that a cgroup left behind can be found.
pub const INVALID: &[(&str, &str, &str)] = &[
    (
        "resources-swap-below-limit",
        "runtime: memory.swap (memory+swap) below memory.limit cannot be applied and is an error",
        r#"{"memory": {"limit": 268435456, "swap": 134217728}}"#,
    ),
    (
        "resources-swappiness",
        "config: memory.swappiness 101 (valid values are 0 to 100) is an invalid value and an error",
        r#"{"memory": {"swappiness": 101}}"#,
    ),
    (
        "resources-blkio-weight",
        "runtime: blockIO.weight 1001 (the kernel takes at most 1000) cannot be applied and is an error",
        r#"{"blockIO": {"weight": 1001}}"#,
    ),
    (
        "resources-cpus-absent",
        "runtime: cpu.cpus naming a CPU the host does not have (4095) cannot be applied and is an error",
        r#"{"cpu": {"cpus": "4095"}}"#,
    ),
    (
        "resources-hugetlb-page-size",
        "config-linux: hugepageLimits with a pageSize that has no control file (3MB) is an error",
        r#"{"hugepageLimits": [{"pageSize": "3MB", "limit": 6291456}]}"#,
    ),
    (
        "resources-rdma-unavailable",
        "runtime: an rdma limit that cannot be applied (no such device, or no rdma controller) is an error",
        r#"{"rdma": {"berth_no_such_hca": {"hcaHandles": 1}}}"#,
    ),
    (
        "resources-unified-controller",
        "config-linux: a unified key of a cgroup controller that is not present is an error",
        r#"{"unified": {"berthbogus.max": "1"}}"#,
    ),
    (
        // "max" is cgroup.max.depth's default: a runtime that writes the
        // parent's file anyway changes nothing on the host.
        "resources-unified-dotdot",
        "config-linux: unified keys name files of the container's cgroup: \"../cgroup.max.depth\" is an error",
        r#"{"unified": {"../cgroup.max.depth": "max"}}"#,
    ),
];

/// The invalid case's resources, merged into the base config's.
pub fn apply_invalid(c: &mut Value, h: &Harness, unit: &str, res: &str) {
    let extra: Value = serde_json::from_str(res).unwrap_or(Value::Null);
    if let Some(m) = extra.as_object() {
        for (k, v) in m {
            set(c, &format!("/linux/resources/{k}"), v.clone());
        }
    }
    set(
        c,
        "/linux/cgroupsPath",
        json!(format!("/{}", h.id(&format!("invalid-{unit}")))),
    );
}
