//! Making a [`Plan`]'s writes in a container's cgroup, and enabling v2 controllers
//! for it. Call order (the lead's `create`): `Cgroup::create`, then
//! [`enable_v2_controllers`], then [`apply`], then `Cgroup::add` — cpuset and RT
//! settings must be in place before a task joins.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::resources::{Plan, Target, Write};
use super::{Cgroup, CgroupError};

/// The Linux-internal ENOTSUPP, which some cgroup v1 knobs leak to userspace.
const ENOTSUPP: i32 = 524;

/// Make every write of `plan`, in order. Returns the warnings of this application
/// (an optional knob the kernel lacks); the caller reports `plan.warnings` besides.
pub fn apply(cg: &Cgroup, plan: &Plan) -> Result<Vec<String>, CgroupError> {
    apply_with(cg, plan, &mut write_file)
}

/// One write(2) of the whole value to an existing file: cgroupfs parses each write as
/// one command, and a missing file must stay missing (no O_CREAT).
fn write_file(path: &Path, value: &str) -> io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    let n = f.write(value.as_bytes())?;
    if n != value.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
    }
    Ok(())
}

type Writer<'a> = dyn FnMut(&Path, &str) -> io::Result<()> + 'a;

/// The container's directory in the hierarchy a write targets.
fn dir_for(cg: &Cgroup, target: Target) -> Option<&Path> {
    cg.dirs
        .iter()
        .find(|(h, _)| match target {
            Target::Unified => h.v2,
            Target::V1(c) => !h.v2 && h.controllers.iter().any(|x| x == c),
        })
        .map(|(_, d)| d.as_path())
}

enum Done {
    Written,
    /// Optional and absent: the warning to report.
    Skipped(String),
}

fn unsupported_knob(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
        || matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP) | Some(ENOTSUPP))
}

/// `w.file`, or its fallback when the file does not exist.
fn write_one(
    dir: &Path,
    w: &Write,
    write: &mut Writer,
) -> Result<Done, (PathBuf, String, io::Error)> {
    let path = dir.join(&w.file);
    let mut res = write(&path, &w.value).map_err(|e| (path, w.value.clone(), e));
    if let (Err((_, _, e)), Some((file, value))) = (&res, &w.fallback) {
        if e.kind() == io::ErrorKind::NotFound {
            let path = dir.join(file);
            res = write(&path, value).map_err(|e| (path, value.clone(), e));
        }
    }
    match res {
        Ok(()) => Ok(Done::Written),
        Err((path, _, e)) if w.optional && unsupported_knob(&e) => Ok(Done::Skipped(format!(
            "{}: {} is not supported by this kernel ({e}); not set",
            w.field,
            path.file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
        ))),
        Err(e) => Err(e),
    }
}

fn write_error(
    cg: &Cgroup,
    dir: &Path,
    w: &Write,
    (path, value, e): (PathBuf, String, io::Error),
) -> CgroupError {
    let mut msg = format!("{}: writing {value:?}: {e}", w.field);
    if e.raw_os_error() == Some(libc::EBUSY) && w.file == "memory.limit_in_bytes" {
        // The kernel could not reclaim down to the new limit.
        let read = |f: &str| fs::read_to_string(dir.join(f)).map(|s| s.trim().to_string());
        if let (Ok(u), Ok(p)) = (
            read("memory.usage_in_bytes"),
            read("memory.max_usage_in_bytes"),
        ) {
            msg = format!(
                "{}: cannot set the memory limit to {value} (current usage: {u}, peak usage: {p})",
                w.field
            );
        }
    } else if e.kind() == io::ErrorKind::NotFound {
        match w.target {
            Target::Unified => {
                let controller = w.file.split('.').next().unwrap_or_default();
                msg.push_str(&format!(
                    " (is the {controller} controller available and enabled in cgroup.subtree_control above {}?)",
                    cg.path
                ));
            }
            Target::V1(c) => {
                msg.push_str(&format!(" (the kernel's {c} controller has no such file)"))
            }
        }
    }
    CgroupError::Io {
        path,
        source: io::Error::new(e.kind(), msg),
    }
}

fn no_hierarchy(cg: &Cgroup, w: &Write) -> CgroupError {
    let what = match w.target {
        Target::V1(c) => format!("no cgroup v1 hierarchy with the {c} controller is mounted"),
        Target::Unified => "no cgroup2 hierarchy is mounted".to_string(),
    };
    CgroupError::Io {
        path: PathBuf::from(&cg.path),
        source: io::Error::new(io::ErrorKind::NotFound, format!("{}: {what}", w.field)),
    }
}

/// `memory.checkBeforeUpdate` on v2: refuse a `memory.max` below the current usage
/// before anything is written. Best effort, as runc: no `memory.current` (the cgroup
/// is new) means nothing to check.
fn check_memory_usage(cg: &Cgroup, plan: &Plan) -> Result<(), CgroupError> {
    for w in &plan.writes {
        if w.target != Target::Unified || w.file != "memory.max" {
            continue;
        }
        let (Some(dir), Ok(limit)) = (dir_for(cg, w.target), w.value.parse::<u64>()) else {
            continue;
        };
        let path = dir.join("memory.current");
        let Some(usage) = fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        else {
            continue;
        };
        if limit < usage {
            return Err(CgroupError::Io {
                path,
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{}: {limit} is below the current usage {usage} (memory.checkBeforeUpdate)",
                        w.field
                    ),
                ),
            });
        }
    }
    Ok(())
}

fn apply_with(cg: &Cgroup, plan: &Plan, write: &mut Writer) -> Result<Vec<String>, CgroupError> {
    let mut warnings = Vec::new();
    if plan.check_before_update {
        check_memory_usage(cg, plan)?;
    }
    // Writes the kernel refused with EINVAL, waiting for their partner.
    let mut deferred: Vec<(&Write, &Path)> = Vec::new();
    for w in &plan.writes {
        let Some(dir) = dir_for(cg, w.target) else {
            if w.optional {
                let err = no_hierarchy(cg, w);
                warnings.push(format!("{}; {} not set", source_text(&err), w.file));
                continue;
            }
            return Err(no_hierarchy(cg, w));
        };
        match write_one(dir, w, write) {
            Ok(Done::Written) if !w.defer_on_einval => {
                retry(cg, &mut deferred, write, &mut warnings)?
            }
            Ok(Done::Written) => {}
            Ok(Done::Skipped(warning)) => warnings.push(warning),
            Err((_, _, e)) if w.defer_on_einval && e.raw_os_error() == Some(libc::EINVAL) => {
                deferred.push((w, dir));
            }
            Err(e) => return Err(write_error(cg, dir, w, e)),
        }
    }
    retry(cg, &mut deferred, write, &mut warnings)?;
    Ok(warnings)
}

fn retry(
    cg: &Cgroup,
    deferred: &mut Vec<(&Write, &Path)>,
    write: &mut Writer,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    for (w, dir) in deferred.drain(..) {
        match write_one(dir, w, write) {
            Ok(Done::Written) => {}
            Ok(Done::Skipped(warning)) => warnings.push(warning),
            Err(e) => return Err(write_error(cg, dir, w, e)),
        }
    }
    Ok(())
}

fn source_text(e: &CgroupError) -> String {
    match e {
        CgroupError::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// v2: enable every controller available in `cgroup.subtree_control` of each ancestor
/// of the container's cgroup, from the hierarchy root down to its parent, so that the
/// container's own directory has the interface files. Call after `Cgroup::create`
/// (the ancestors must exist) and before `apply`. Controllers an ancestor will not
/// enable (e.g. it has processes of its own) are left off, as runc does; the write
/// that needs one then fails naming its field.
pub fn enable_v2_controllers(cg: &Cgroup) -> Result<(), CgroupError> {
    for (h, dir) in &cg.dirs {
        if !h.v2 {
            continue;
        }
        let Ok(rel) = dir.strip_prefix(&h.mount_point) else {
            continue;
        };
        let mut cur = h.mount_point.clone();
        for c in rel.components() {
            enable_in(&cur)?;
            cur.push(c);
        }
    }
    Ok(())
}

fn enable_in(dir: &Path) -> Result<(), CgroupError> {
    let avail = dir.join("cgroup.controllers");
    let avail = fs::read_to_string(&avail).map_err(|source| CgroupError::Io {
        path: avail,
        source,
    })?;
    let ctl = dir.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&ctl).unwrap_or_default();
    let enabled: Vec<&str> = enabled.split_whitespace().collect();
    let missing: Vec<String> = avail
        .split_whitespace()
        .filter(|c| !enabled.contains(c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if write_file(&ctl, &missing.join(" ")).is_err() {
        for c in &missing {
            let _ = write_file(&ctl, c);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::resources::{plan, plan_v1, plan_v2};
    use crate::cgroups::{Hierarchy, Layout};
    use oci_spec::runtime::LinuxResources;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    /// A fake cgroupfs: one temp dir per hierarchy, the container at /berth/t with the
    /// files the kernel would have.
    struct Fake {
        _tmp: tempfile::TempDir,
        cg: Cgroup,
    }

    impl Fake {
        fn new(v1: &[&[&str]], v2: bool, files: &[(&str, &str, &str)]) -> Fake {
            let tmp = tempfile::tempdir().unwrap();
            let mut hierarchies = Vec::new();
            for ctrls in v1 {
                hierarchies.push(Hierarchy {
                    mount_point: tmp.path().join(ctrls.join(",")),
                    controllers: ctrls.iter().map(|c| c.to_string()).collect(),
                    v2: false,
                });
            }
            if v2 {
                hierarchies.push(Hierarchy {
                    mount_point: tmp.path().join("unified"),
                    controllers: vec![],
                    v2: true,
                });
            }
            let cg = Cgroup::new(&Layout { hierarchies }, "/berth/t");
            for (_, dir) in &cg.dirs {
                fs::create_dir_all(dir).unwrap();
            }
            let fake = Fake { _tmp: tmp, cg };
            for (hier, file, value) in files {
                fs::write(fake.dir(hier).join(file), value).unwrap();
            }
            fake
        }

        /// The container's dir in the hierarchy whose mount dir is named `hier`.
        fn dir(&self, hier: &str) -> PathBuf {
            self.cg
                .dirs
                .iter()
                .find(|(h, _)| h.mount_point.file_name().unwrap() == hier)
                .unwrap()
                .1
                .clone()
        }

        fn read(&self, hier: &str, file: &str) -> String {
            fs::read_to_string(self.dir(hier).join(file)).unwrap()
        }
    }

    #[test]
    fn v1_writes_land_in_their_hierarchies() {
        let f = Fake::new(
            &[
                &["memory"],
                &["cpu"],
                &["cpuacct"],
                &["cpuset"],
                &["pids"],
                &["blkio"],
            ],
            true,
            &[
                ("memory", "memory.limit_in_bytes", "9223372036854771712"),
                (
                    "memory",
                    "memory.memsw.limit_in_bytes",
                    "9223372036854771712",
                ),
                (
                    "memory",
                    "memory.soft_limit_in_bytes",
                    "9223372036854771712",
                ),
                ("memory", "memory.oom_control", "oom_kill_disable 0"),
                ("cpu", "cpu.shares", "1024"),
                ("cpu", "cpu.cfs_period_us", "100000"),
                ("cpu", "cpu.cfs_quota_us", "-1"),
                ("cpuset", "cpuset.cpus", "0-7"),
                ("cpuset", "cpuset.mems", "0"),
                ("pids", "pids.max", "max"),
                ("blkio", "blkio.bfq.weight", "100"),
                ("blkio", "blkio.throttle.read_bps_device", ""),
            ],
        );
        let p = plan_v1(&res(r#"{"memory": {"limit": 1048576, "swap": 2097152,
            "reservation": 524288, "kernel": 1000, "disableOOMKiller": true},
            "cpu": {"shares": 512, "quota": 50000, "period": 200000, "cpus": "1", "mems": "0"},
            "pids": {"limit": 64},
            "blockIO": {"weight": 300, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}]}}"#))
        .unwrap();
        let warnings = apply(&f.cg, &p).unwrap();
        assert_eq!(f.read("memory", "memory.limit_in_bytes"), "1048576");
        assert_eq!(f.read("memory", "memory.memsw.limit_in_bytes"), "2097152");
        assert_eq!(f.read("memory", "memory.soft_limit_in_bytes"), "524288");
        assert_eq!(f.read("memory", "memory.oom_control"), "1");
        assert_eq!(f.read("cpu", "cpu.shares"), "512");
        assert_eq!(f.read("cpu", "cpu.cfs_period_us"), "200000");
        assert_eq!(f.read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(f.read("cpuset", "cpuset.cpus"), "1");
        assert_eq!(f.read("pids", "pids.max"), "64");
        // No CFQ here: BFQ's file takes the weight.
        assert_eq!(f.read("blkio", "blkio.bfq.weight"), "300");
        assert!(!f.dir("blkio").join("blkio.weight").exists());
        assert_eq!(
            f.read("blkio", "blkio.throttle.read_bps_device"),
            "8:0 1000"
        );
        // kmem is optional: one warning, naming the field.
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("linux.resources.memory.kernel: "),
            "{warnings:?}"
        );
        assert!(!f.dir("unified").join("memory.max").exists());
    }

    #[test]
    fn combined_cpu_cpuacct_hierarchy_is_found() {
        let f = Fake::new(
            &[&["cpu", "cpuacct"]],
            false,
            &[("cpu,cpuacct", "cpu.shares", "1024")],
        );
        apply(
            &f.cg,
            &plan_v1(&res(r#"{"cpu": {"shares": 2048}}"#)).unwrap(),
        )
        .unwrap();
        assert_eq!(f.read("cpu,cpuacct", "cpu.shares"), "2048");
    }

    #[test]
    fn missing_required_file_or_hierarchy_is_an_error_naming_the_field() {
        let f = Fake::new(&[&["memory"]], false, &[]);
        let p = plan_v1(&res(r#"{"memory": {"limit": 1000}}"#)).unwrap();
        let e = apply(&f.cg, &p).unwrap_err().to_string();
        assert!(
            e.contains("linux.resources.memory.limit: writing \"1000\""),
            "{e}"
        );
        assert!(
            !f.dir("memory").join("memory.limit_in_bytes").exists(),
            "never created"
        );

        let p = plan_v1(&res(
            r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}"#,
        ))
        .unwrap();
        let e = apply(&f.cg, &p).unwrap_err().to_string();
        assert!(e.contains("linux.resources.hugepageLimits[0].limit"), "{e}");
        assert!(e.contains("hugetlb controller"), "{e}");
    }

    #[test]
    fn v2_writes_and_missing_controller_hint() {
        let f = Fake::new(
            &[],
            true,
            &[
                ("unified", "memory.max", "max"),
                ("unified", "memory.swap.max", "max"),
                ("unified", "cpu.weight", "100"),
                ("unified", "cpu.max", "max 100000"),
                ("unified", "io.weight", "default 100"),
                ("unified", "pids.max", "max"),
                ("unified", "hugetlb.2MB.max", "max"),
            ],
        );
        let p = plan_v2(&res(r#"{"memory": {"limit": 1000000, "swap": 3000000},
            "cpu": {"shares": 1024, "quota": 20000},
            "blockIO": {"weight": 500}, "pids": {"limit": -1},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "unified": {"pids.max": "7"}}"#))
        .unwrap();
        let warnings = apply(&f.cg, &p).unwrap();
        assert_eq!(f.read("unified", "memory.max"), "1000000");
        assert_eq!(f.read("unified", "memory.swap.max"), "2000000");
        assert_eq!(f.read("unified", "cpu.weight"), "39");
        assert_eq!(f.read("unified", "cpu.max"), "20000 100000");
        assert_eq!(f.read("unified", "io.weight"), "4950", "no BFQ: converted");
        assert_eq!(f.read("unified", "pids.max"), "7", "unified wins");
        assert_eq!(f.read("unified", "hugetlb.2MB.max"), "4194304");
        assert_eq!(warnings.len(), 1, "no rsvd file: {warnings:?}");

        let p = plan_v2(&res(r#"{"rdma": {"mlx5_0": {"hcaHandles": 1}}}"#)).unwrap();
        let e = apply(&f.cg, &p).unwrap_err().to_string();
        assert!(e.contains("is the rdma controller available"), "{e}");
    }

    #[test]
    fn hybrid_unified_keys_go_to_the_cgroup2_mount() {
        let f = Fake::new(
            &[&["pids"]],
            true,
            &[
                ("pids", "pids.max", "max"),
                ("unified", "hugetlb.2MB.max", "max"),
            ],
        );
        let layout = Layout {
            hierarchies: f.cg.dirs.iter().map(|(h, _)| h.clone()).collect(),
        };
        let r = res(r#"{"pids": {"limit": 5}, "unified": {"hugetlb.2MB.max": "2097152"}}"#);
        apply(&f.cg, &plan(&r, &layout).unwrap()).unwrap();
        assert_eq!(f.read("pids", "pids.max"), "5");
        assert_eq!(f.read("unified", "hugetlb.2MB.max"), "2097152");
    }

    #[test]
    fn check_before_update_refuses_before_writing() {
        let f = Fake::new(
            &[],
            true,
            &[
                ("unified", "memory.max", "max"),
                ("unified", "memory.swap.max", "max"),
                ("unified", "memory.current", "5000\n"),
            ],
        );
        let r = res(r#"{"memory": {"limit": 4096, "swap": 8192, "checkBeforeUpdate": true}}"#);
        let e = apply(&f.cg, &plan_v2(&r).unwrap()).unwrap_err().to_string();
        assert!(
            e.contains("linux.resources.memory.limit: 4096 is below the current usage 5000"),
            "{e}"
        );
        assert_eq!(
            f.read("unified", "memory.swap.max"),
            "max",
            "nothing written"
        );
        let r = res(r#"{"memory": {"limit": 8192, "checkBeforeUpdate": true}}"#);
        apply(&f.cg, &plan_v2(&r).unwrap()).unwrap();
        assert_eq!(f.read("unified", "memory.max"), "8192");
        // Without the flag the kernel decides.
        let r = res(r#"{"memory": {"limit": 4096}}"#);
        apply(&f.cg, &plan_v2(&r).unwrap()).unwrap();
        assert_eq!(f.read("unified", "memory.max"), "4096");
    }

    /// A writer that enforces the kernel's pair rules on the fake files, and logs.
    fn kernel_like<'a>(log: &'a mut Vec<String>) -> impl FnMut(&Path, &str) -> io::Result<()> + 'a {
        move |path: &Path, value: &str| {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let read = |f: &str| -> i64 {
                fs::read_to_string(path.with_file_name(f))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap()
            };
            let v: i64 = value.parse().unwrap();
            let unl = |x: i64| if x == -1 { i64::MAX } else { x };
            let einval = match name.as_str() {
                "memory.limit_in_bytes" => unl(v) > unl(read("memory.memsw.limit_in_bytes")),
                "memory.memsw.limit_in_bytes" => unl(v) < unl(read("memory.limit_in_bytes")),
                "cpu.cfs_burst_us" => {
                    let q = read("cpu.cfs_quota_us");
                    q > 0 && v > q
                }
                "cpu.cfs_quota_us" => v > 0 && read("cpu.cfs_burst_us") > v,
                _ => false,
            };
            log.push(format!(
                "{name}={value}{}",
                if einval { " EINVAL" } else { "" }
            ));
            if einval {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            write_file(path, value)
        }
    }

    #[test]
    fn einval_pairs_are_retried_in_the_other_order() {
        let f = Fake::new(
            &[&["memory"], &["cpu"]],
            false,
            &[
                ("memory", "memory.limit_in_bytes", "1000"),
                ("memory", "memory.memsw.limit_in_bytes", "2000"),
                ("cpu", "cpu.cfs_period_us", "100000"),
                ("cpu", "cpu.cfs_quota_us", "10000"),
                ("cpu", "cpu.cfs_burst_us", "5000"),
            ],
        );
        // Raising: memsw has to go first.
        let mut log = Vec::new();
        let p = plan_v1(&res(r#"{"memory": {"limit": 3000, "swap": 4000},
            "cpu": {"quota": 50000, "burst": 40000}}"#))
        .unwrap();
        apply_with(&f.cg, &p, &mut kernel_like(&mut log)).unwrap();
        assert_eq!(
            log,
            [
                "memory.limit_in_bytes=3000 EINVAL",
                "memory.memsw.limit_in_bytes=4000",
                "memory.limit_in_bytes=3000",
                "cpu.cfs_burst_us=40000 EINVAL",
                "cpu.cfs_quota_us=50000",
                "cpu.cfs_burst_us=40000",
            ]
        );
        assert_eq!(f.read("memory", "memory.limit_in_bytes"), "3000");
        assert_eq!(f.read("memory", "memory.memsw.limit_in_bytes"), "4000");
        assert_eq!(f.read("cpu", "cpu.cfs_burst_us"), "40000");

        // Lowering: the plan's order works as is.
        let mut log = Vec::new();
        let p = plan_v1(&res(r#"{"memory": {"limit": 500, "swap": 600}}"#)).unwrap();
        apply_with(&f.cg, &p, &mut kernel_like(&mut log)).unwrap();
        assert_eq!(
            log,
            [
                "memory.limit_in_bytes=500",
                "memory.memsw.limit_in_bytes=600"
            ]
        );

        // Unlimited memory with swap unset frees memsw too.
        let mut log = Vec::new();
        let p = plan_v1(&res(r#"{"memory": {"limit": -1}}"#)).unwrap();
        apply_with(&f.cg, &p, &mut kernel_like(&mut log)).unwrap();
        assert_eq!(
            log,
            [
                "memory.limit_in_bytes=-1 EINVAL",
                "memory.memsw.limit_in_bytes=-1",
                "memory.limit_in_bytes=-1",
            ]
        );

        // A refusal that the other order does not cure is reported, naming the field.
        let mut log = Vec::new();
        let p = plan_v1(&res(r#"{"cpu": {"quota": 1000, "burst": 500}}"#)).unwrap();
        fs::write(f.dir("cpu").join("cpu.cfs_burst_us"), "40000").unwrap();
        fs::write(f.dir("cpu").join("cpu.cfs_quota_us"), "50000").unwrap();
        apply_with(&f.cg, &p, &mut kernel_like(&mut log)).unwrap();
        assert_eq!(log, ["cpu.cfs_burst_us=500", "cpu.cfs_quota_us=1000"]);
        let mut log = Vec::new();
        let mut bad = plan_v1(&res(r#"{"memory": {"limit": 5000, "swap": 6000}}"#)).unwrap();
        bad.writes[1].value = "100".into(); // memsw below the limit: EINVAL both ways
        let e = apply_with(&f.cg, &bad, &mut kernel_like(&mut log))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux.resources.memory.swap: writing \"100\""),
            "{e}"
        );
    }

    #[test]
    fn enable_v2_controllers_from_root_to_parent() {
        let f = Fake::new(&[], true, &[]);
        let root = f
            .dir("unified")
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        let berth = root.join("berth");
        for d in [&root, &berth] {
            fs::write(d.join("cgroup.controllers"), "cpuset cpu io memory pids\n").unwrap();
        }
        fs::write(root.join("cgroup.subtree_control"), "cpu memory\n").unwrap();
        fs::write(berth.join("cgroup.subtree_control"), "").unwrap();
        fs::write(f.dir("unified").join("cgroup.subtree_control"), "").unwrap();
        enable_v2_controllers(&f.cg).unwrap();
        // A real subtree_control adds them; the fake file holds the last write.
        assert_eq!(
            fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(),
            "+cpuset +io +pids"
        );
        assert_eq!(
            fs::read_to_string(berth.join("cgroup.subtree_control")).unwrap(),
            "+cpuset +cpu +io +memory +pids"
        );
        assert_eq!(
            f.read("unified", "cgroup.subtree_control"),
            "",
            "not the container's own"
        );

        // All enabled already: nothing written.
        fs::write(
            berth.join("cgroup.subtree_control"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        enable_v2_controllers(&f.cg).unwrap();
        assert_eq!(
            fs::read_to_string(berth.join("cgroup.subtree_control")).unwrap(),
            "cpuset cpu io memory pids\n"
        );

        // An ancestor that does not exist is an error naming it.
        fs::remove_file(berth.join("cgroup.controllers")).unwrap();
        let e = enable_v2_controllers(&f.cg).unwrap_err().to_string();
        assert!(e.contains("berth/cgroup.controllers"), "{e}");

        // v1-only cgroups have nothing to enable.
        let f = Fake::new(&[&["pids"]], false, &[]);
        enable_v2_controllers(&f.cg).unwrap();
    }

    /// By hand, as root on a v1/hybrid host: `cargo test --lib real_kernel -- --ignored`.
    #[test]
    #[ignore]
    fn real_kernel_v1() {
        let layout = Layout::detect().unwrap();
        if layout.is_v2() || !nix::unistd::geteuid().is_root() {
            return;
        }
        let cg = Cgroup::new(&layout, &format!("/berth-res-test-{}", std::process::id()));
        cg.create().unwrap();
        let r = res(
            r#"{"memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432,
            "kernel": 67108864, "kernelTCP": 67108864, "swappiness": 10, "disableOOMKiller": true},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 10000, "idle": 0,
                    "cpus": "0", "mems": "0"},
            "pids": {"limit": 0},
            "blockIO": {"weight": 300, "throttleReadBpsDevice": [{"major": 7, "minor": 0, "rate": 1048576}]}}"#,
        );
        let p = plan(&r, &layout).unwrap();
        let result = apply(&cg, &p);
        let read = |c: &str, f: &str| {
            let (_, d) = cg
                .dirs
                .iter()
                .find(|(h, _)| h.controllers.iter().any(|x| x == c))
                .unwrap();
            fs::read_to_string(d.join(f))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let got = [
            read("memory", "memory.limit_in_bytes"),
            read("memory", "memory.memsw.limit_in_bytes"),
            read("cpu", "cpu.cfs_quota_us"),
            read("cpu", "cpu.cfs_burst_us"),
            read("cpuset", "cpuset.cpus"),
            read("pids", "pids.max"),
            read("blkio", "blkio.bfq.weight"),
            read("blkio", "blkio.throttle.read_bps_device"),
        ];
        // Raise both: memsw must go first, which apply finds by itself.
        let r2 = res(r#"{"memory": {"limit": 268435456, "swap": 536870912}}"#);
        let result2 = apply(&cg, &plan(&r2, &layout).unwrap());
        let raised = read("memory", "memory.limit_in_bytes");
        cg.remove(std::time::Duration::from_secs(1)).unwrap();
        eprintln!("warnings: {result:?}");
        let _ = result.unwrap();
        assert_eq!(
            got,
            [
                "67108864",
                "134217728",
                "50000",
                "10000",
                "0",
                "0",
                "300",
                "7:0 1048576"
            ]
        );
        result2.unwrap();
        assert_eq!(raised, "268435456");
    }
}
