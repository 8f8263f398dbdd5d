//! config-linux.md "Block IO", "Huge page limits", "Network", "RDMA",
//! "Unified" and "Allowed Device list": what the kernel shows (or lets the
//! container open) in the container's own cgroup.

use crate::cgroup::{check_file, name, read, side, want, Cgroups, Ctl, Side};
use crate::tap::Tap;
use crate::{sys, Ctx};
use serde_json::Value;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// Device nodes the harness puts in the rootfs for the device cgroup cases.
pub const DEVCG_DIR: &str = "/berth-devcg";

pub fn check(ctx: &Ctx, t: &mut Tap, cg: &Cgroups) {
    block_io(ctx, t, cg);
    hugetlb(ctx, t, cg);
    network(ctx, t, cg);
    rdma(ctx, t, cg);
    unified(ctx, t, cg);
}

/// The first of `files` that exists in the controller's directory.
fn existing(ctl: &Ctl, files: &[&str]) -> Option<String> {
    let dir = match ctl {
        Ctl::V1(d) | Ctl::V2(d) => d,
        Ctl::Absent(_) => return None,
    };
    files
        .iter()
        .find(|f| dir.join(f).exists())
        .map(|f| f.to_string())
}

/// The line of a per-device file that starts with `key ` (e.g. "8:0 ").
fn line_of(key: String) -> impl Fn(&str) -> String {
    move |s: &str| {
        s.lines()
            .find(|l| l.split_whitespace().next() == Some(key.as_str()))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| format!("(no line for {key} in {s:?})"))
    }
}

/// runc's conversion of a blkio weight [10, 1000] to io.weight [1, 10000].
fn io_weight(w: u64) -> u64 {
    let w = w.clamp(10, 1000);
    1 + (w - 10) * 9999 / 990
}

fn major_minor(e: &Value) -> String {
    let n = |k: &str| e.get(k).and_then(Value::as_i64).unwrap_or(-1);
    format!("{}:{}", n("major"), n("minor"))
}

fn block_io(ctx: &Ctx, t: &mut Tap, cg: &Cgroups) {
    let ctl = cg.ctl_as("blkio", "io");
    let v2 = matches!(ctl, Ctl::V2(_));
    if let Some(w) = want(ctx, t, "blockIO.weight").and_then(Value::as_u64) {
        // CFQ's blkio.weight, or BFQ's (Linux >= 5.0); v2: BFQ's, or iocost's converted.
        let v1 = existing(&ctl, &["blkio.weight", "blkio.bfq.weight"])
            .map_or_else(|| side("blkio.weight", w), |f| side(&f, w));
        let v2s = match existing(&ctl, &["io.bfq.weight", "io.weight"]).as_deref() {
            Some("io.weight") => side("io.weight", format!("default {}", io_weight(w))),
            _ => side("io.bfq.weight", format!("default {w}")),
        };
        // v1 BFQ shows the bare number; v2 shows "default N" (then per-device lines).
        let first = move |s: &str| {
            let l = s.lines().next().unwrap_or("").trim();
            if v2 || !l.starts_with("default ") {
                l.to_string()
            } else {
                l.trim_start_matches("default ").to_string()
            }
        };
        check_file(t, "blockIO.weight", &ctl, v1, v2s, first);
    }
    if let Some(w) = want(ctx, t, "blockIO.leafWeight").and_then(Value::as_u64) {
        let v2s = Err("cgroup v2 has no leaf weight".to_string());
        check_file(
            t,
            "blockIO.leafWeight",
            &ctl,
            side("blkio.leaf_weight", w),
            v2s,
            |s| s.to_string(),
        );
    }
    let list = |key: &str| {
        res_list(ctx, &format!("blockIO.{key}"))
            .into_iter()
            .enumerate()
    };
    if want(ctx, t, "blockIO.weightDevice").is_some() {
        for (i, e) in list("weightDevice") {
            let Some(w) = e.get("weight").and_then(Value::as_u64) else {
                continue;
            };
            let d = major_minor(&e);
            let v1file = existing(&ctl, &["blkio.weight_device", "blkio.bfq.weight_device"]);
            let v1 = side(
                v1file.as_deref().unwrap_or("blkio.weight_device"),
                format!("{d} {w}"),
            );
            let v2s = match existing(&ctl, &["io.bfq.weight", "io.weight"]).as_deref() {
                Some("io.weight") => side("io.weight", format!("{d} {}", io_weight(w))),
                _ => side("io.bfq.weight", format!("{d} {w}")),
            };
            let field = format!("blockIO.weightDevice[{i}].weight");
            check_file(t, &field, &ctl, v1, v2s, line_of(d));
        }
    }
    for (key, v1file, v2key) in [
        (
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            "rbps",
        ),
        (
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            "wbps",
        ),
        (
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            "riops",
        ),
        (
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            "wiops",
        ),
    ] {
        if want(ctx, t, &format!("blockIO.{key}")).is_none() {
            continue;
        }
        for (i, e) in list(key) {
            let d = major_minor(&e);
            let rate = e.get("rate").and_then(Value::as_u64).unwrap_or(0);
            let field = format!("blockIO.{key}[{i}]");
            // v2's io.max: "MAJ:MIN rbps=N wbps=max riops=max wiops=max".
            let v1 = side(v1file, format!("{d} {rate}"));
            let v2s = side("io.max", format!("{d} {v2key}={rate}"));
            let k = format!("{v2key}=");
            let pick = move |s: &str| {
                let line = line_of(d.clone())(s);
                if !v2 {
                    return line;
                }
                let v = line.split_whitespace().find(|w| w.starts_with(&k));
                format!("{} {}", d, v.unwrap_or("(absent)"))
            };
            check_file(t, &field, &ctl, v1, v2s, pick);
        }
    }
}

/// The array at a resources field, as owned values.
fn res_list(ctx: &Ctx, field: &str) -> Vec<Value> {
    crate::cgroup::res(ctx, field)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// "2MB" -> 2 MiB (the spec's base-1024 units).
fn page_size(s: &str) -> Option<u64> {
    [("KB", 1u64 << 10), ("MB", 1 << 20), ("GB", 1 << 30)]
        .iter()
        .find_map(|(unit, mult)| Some(s.strip_suffix(unit)?.parse::<u64>().ok()? * mult))
}

fn hugetlb(ctx: &Ctx, t: &mut Tap, cg: &Cgroups) {
    if want(ctx, t, "hugepageLimits").is_none() {
        return;
    }
    let ctl = cg.ctl("hugetlb");
    for (i, e) in res_list(ctx, "hugepageLimits").into_iter().enumerate() {
        let size = e.get("pageSize").and_then(Value::as_str).unwrap_or("?");
        let limit = e.get("limit").and_then(Value::as_u64).unwrap_or(0);
        // The kernel keeps whole huge pages.
        let want = page_size(size).map_or(limit, |p| limit / p * p);
        let v1 = side(&format!("hugetlb.{size}.limit_in_bytes"), want);
        let v2s = side(&format!("hugetlb.{size}.max"), want);
        let field = format!("hugepageLimits[{i}]");
        check_file(t, &field, &ctl, v1, v2s, |s| s.to_string());
    }
}

fn network(ctx: &Ctx, t: &mut Tap, cg: &Cgroups) {
    let none = || -> Side { Err("cgroup v2 has no net_cls or net_prio".into()) };
    if let Some(id) = want(ctx, t, "network.classID").and_then(Value::as_u64) {
        let ctl = cg.ctl("net_cls");
        let v1 = side("net_cls.classid", id);
        check_file(t, "network.classID", &ctl, v1, none(), |s| s.to_string());
    }
    if want(ctx, t, "network.priorities").is_some() {
        let ctl = cg.ctl("net_prio");
        for (i, p) in res_list(ctx, "network.priorities").into_iter().enumerate() {
            let ifname = p.get("name").and_then(Value::as_str).unwrap_or("?");
            let prio = p.get("priority").and_then(Value::as_u64).unwrap_or(0);
            let v1 = side("net_prio.ifpriomap", format!("{ifname} {prio}"));
            let field = format!("network.priorities[{i}]");
            check_file(t, &field, &ctl, v1, none(), line_of(ifname.to_string()));
        }
    }
}

fn rdma(ctx: &Ctx, t: &mut Tap, cg: &Cgroups) {
    let Some(map) = want(ctx, t, "rdma").and_then(Value::as_object) else {
        return;
    };
    let ctl = cg.ctl("rdma");
    for (dev, limits) in map {
        let n = |k: &str| {
            limits
                .get(k)
                .and_then(Value::as_u64)
                .map_or("max".to_string(), |v| v.to_string())
        };
        let line = format!(
            "{dev} hca_handle={} hca_object={}",
            n("hcaHandles"),
            n("hcaObjects")
        );
        let s = side("rdma.max", line);
        let field = format!("rdma.{dev}");
        check_file(t, &field, &ctl, s.clone(), s, line_of(dev.clone()));
    }
}

fn unified(ctx: &Ctx, t: &mut Tap, cg: &Cgroups) {
    let Some(map) = want(ctx, t, "unified").and_then(Value::as_object) else {
        return;
    };
    for (key, v) in map {
        let n = name(
            &format!("unified[{key:?}]"),
            "is written to that file of the container's cgroup2 directory",
        );
        let Some(dir) = cg.v2_dir() else {
            t.case(
                &n,
                Err("the container ran, but it has no cgroup2 mount".into()),
            );
            continue;
        };
        let want = v.as_str().unwrap_or("").trim().to_string();
        t.eq_res(&n, want, read(&dir, key));
    }
}

/// The spec's reading of an ordered allow/deny list: the last entry that
/// matches the device and mentions the access decides.
fn allowed(rules: &[Value], kind: char, major: u64, minor: u64, access: char) -> Option<bool> {
    let mut verdict = None;
    for r in rules {
        let ty = r.get("type").and_then(Value::as_str).unwrap_or("a");
        let num_ok = |k: &str, v: u64| match r.get(k).and_then(Value::as_i64) {
            None => true,
            Some(x) => x < 0 || x as u64 == v,
        };
        let acc = r.get("access").and_then(Value::as_str).unwrap_or("rwm");
        if (ty == "a" || ty.starts_with(kind))
            && num_ok("major", major)
            && num_ok("minor", minor)
            && acc.contains(access)
        {
            verdict = Some(r.get("allow").and_then(Value::as_bool).unwrap_or(false));
        }
    }
    verdict
}

/// config-linux.md "Allowed Device list": open each node under DEVCG_DIR for
/// reading and for writing. The device cgroup refuses with EPERM before the
/// driver is reached; any other outcome means the cgroup let it through.
pub fn devices(ctx: &Ctx, t: &mut Tap) {
    let rules = res_list(ctx, "devices");
    let mut nodes: Vec<_> = match std::fs::read_dir(DEVCG_DIR) {
        Ok(d) => d.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        // Only the resources-devices scenario has the nodes.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            return t.case(
                "config-linux: resources.devices: device nodes to open",
                Err(format!("{DEVCG_DIR}: {e}")),
            )
        }
    };
    nodes.sort();
    for path in nodes {
        let Ok(m) = std::fs::metadata(&path) else {
            continue;
        };
        let kind = match m.file_type() {
            ft if ft.is_char_device() => 'c',
            ft if ft.is_block_device() => 'b',
            _ => continue,
        };
        let (maj, min) = (sys::major(m.rdev()), sys::minor(m.rdev()));
        for (access, verb, flags) in [
            ('r', "reading", libc::O_RDONLY),
            ('w', "writing", libc::O_WRONLY),
        ] {
            let Some(allow) = allowed(&rules, kind, maj, min, access) else {
                continue;
            };
            let n = format!(
                "config-linux: resources.devices: {} ({kind} {maj}:{min}) {} be opened for {verb}, as the entries in listed order say",
                path.display(),
                if allow { "can" } else { "cannot" },
            );
            let got = sys::open_errno(&path.display().to_string(), flags);
            let r = match (allow, got) {
                (true, Some(libc::EPERM)) => Err("open failed with EPERM".to_string()),
                (false, Some(libc::EPERM)) => Ok(()),
                (false, None) => Err("open succeeded".to_string()),
                (false, Some(e)) => Err(format!("expected EPERM, got errno {e}")),
                (true, e) => {
                    if let Some(e) = e {
                        t.comment(&format!(
                            "{}: open passed the device cgroup, then errno {e}",
                            path.display()
                        ));
                    }
                    Ok(())
                }
            };
            t.case(&n, r);
        }
    }
}
