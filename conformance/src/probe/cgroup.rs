//! The container's own cgroup as the kernel shows it inside the container
//! (config-linux.md "Control groups"): which hierarchy holds a controller
//! (cgroup v1, or the cgroup2 mount), found from /proc/self/mountinfo and
//! /proc/self/cgroup, and the container's directory in it. With a cgroup
//! namespace and a fresh cgroup mount that directory is the mount itself;
//! without one, it is the mount plus the process's path below the mount's root.

use crate::mountinfo::{self, Mount};
use crate::tap::Tap;
use crate::Ctx;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Annotation prefix by which the harness tells the probe why it left a
/// field out of the config on this host (e.g. no such controller).
pub const SKIP_ANNOTATION: &str = "org.berth-conformance.skip.";

/// Where a controller's files are for the container.
pub enum Ctl {
    V1(PathBuf),
    V2(PathBuf),
    /// Not available in the container, and why.
    Absent(String),
}

pub struct Cgroups {
    /// cgroup and cgroup2 mounts, in mountinfo order.
    mounts: Vec<Mount>,
    /// (controllers, path) from /proc/self/cgroup; controllers is "" for cgroup2.
    procs: Vec<(String, String)>,
}

/// `path` below `root`, or None when the process is outside the mount's root.
fn below(root: &str, path: &str) -> Option<String> {
    if root == "/" {
        return Some(path.trim_start_matches('/').to_string());
    }
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() || rest.starts_with('/') {
        Some(rest.trim_start_matches('/').to_string())
    } else {
        None
    }
}

impl Cgroups {
    pub fn load() -> Result<Cgroups, String> {
        let mounts = mountinfo::read()?
            .into_iter()
            .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
            .collect();
        let text = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("/proc/self/cgroup: {e}"))?;
        let procs = text
            .lines()
            .filter_map(|l| {
                let mut it = l.splitn(3, ':');
                let (_, c, p) = (it.next()?, it.next()?, it.next()?);
                Some((c.to_string(), p.to_string()))
            })
            .collect();
        Ok(Cgroups { mounts, procs })
    }

    fn dir(&self, m: &Mount, path: &str) -> Option<PathBuf> {
        let rel = below(&m.root, path)?;
        let d = Path::new(&m.mount_point).join(rel);
        d.is_dir().then_some(d)
    }

    /// The container's directory in the v1 hierarchy that has `controller`.
    pub fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        let (_, path) = self
            .procs
            .iter()
            .find(|(c, _)| !c.is_empty() && c.split(',').any(|x| x == controller))?;
        self.mounts
            .iter()
            .rev()
            .filter(|m| m.fstype == "cgroup" && m.super_opts.iter().any(|o| o == controller))
            .find_map(|m| self.dir(m, path))
    }

    /// The container's directory in the cgroup2 hierarchy.
    pub fn v2_dir(&self) -> Option<PathBuf> {
        let (_, path) = self.procs.iter().find(|(c, _)| c.is_empty())?;
        self.mounts
            .iter()
            .rev()
            .filter(|m| m.fstype == "cgroup2")
            .find_map(|m| self.dir(m, path))
    }

    /// v1 when a v1 hierarchy has the controller (as on hybrid hosts), else
    /// cgroup2 when the container's cgroup.controllers lists it.
    pub fn ctl(&self, controller: &str) -> Ctl {
        self.ctl_as(controller, controller)
    }

    /// As [`Cgroups::ctl`], for a controller named differently in v2 (blkio: io).
    pub fn ctl_as(&self, v1: &str, controller: &str) -> Ctl {
        if let Some(d) = self.v1_dir(v1) {
            return Ctl::V1(d);
        }
        let Some(d) = self.v2_dir() else {
            return Ctl::Absent(format!(
                "no cgroup v1 {v1} hierarchy and no cgroup2 mount in the container"
            ));
        };
        let ctrls = read(&d, "cgroup.controllers").unwrap_or_default();
        if ctrls.split_whitespace().any(|c| c == controller) {
            Ctl::V2(d)
        } else {
            Ctl::Absent(format!(
                "no cgroup v1 {v1} hierarchy, and {controller} is not in the cgroup2 cgroup.controllers ({ctrls:?})"
            ))
        }
    }
}

/// A cgroup file's content, trimmed.
pub fn read(dir: &Path, file: &str) -> Result<String, String> {
    let p = dir.join(file);
    std::fs::read_to_string(&p)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{}: {e}", p.display()))
}

/// `linux.resources` value at `field` ("memory.limit", "cpu.cpus", ...).
pub fn res<'a>(ctx: &'a Ctx, field: &str) -> Option<&'a Value> {
    ctx.cfg(&format!("/linux/resources/{}", field.replace('.', "/")))
}

/// Why the harness left `field` out on this host, if it did.
pub fn skipped(ctx: &Ctx, field: &str) -> Option<String> {
    ctx.cfg("/annotations")
        .and_then(|a| a.get(format!("{SKIP_ANNOTATION}{field}")))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The case name for a field.
pub fn name(field: &str, what: &str) -> String {
    format!("config-linux: resources.{field} {what}")
}

/// The configured value of `field`; when the harness marked it as not
/// observable on this host, report the case as SKIP with its reason instead.
/// A field the harness annotated is SKIP even when it is in the config (the
/// kernel takes the write but ignores it, e.g. memory.kernel on current kernels).
pub fn want<'a>(ctx: &'a Ctx, t: &mut Tap, field: &str) -> Option<&'a Value> {
    if let Some(why) = skipped(ctx, field) {
        t.skip(&name(field, "is applied to the container's cgroup"), &why);
        return None;
    }
    res(ctx, field)
}

/// Compare `file` in `dir` with `expected` after `norm`.
pub fn file_eq(
    t: &mut Tap,
    name: &str,
    dir: &Path,
    file: &str,
    expected: String,
    norm: impl Fn(&str) -> String,
) {
    t.eq_res(name, expected, read(dir, file).map(|s| norm(&s)));
}

/// Parse a cpu/node list ("0-3,7") into its members.
pub fn list_set(s: &str) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u64, u64) = (
            a.parse().map_err(|_| format!("bad list {s:?}"))?,
            b.parse().map_err(|_| format!("bad list {s:?}"))?,
        );
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// How one cgroup version shows a field: (file, expected content after
/// normalizing), or why that version has no such file (a SKIP).
pub type Side = Result<(String, String), String>;

pub fn side(file: &str, expected: impl ToString) -> Side {
    Ok((file.to_string(), expected.to_string()))
}

/// One case for `field`: the file that `ctl`'s cgroup version uses must show
/// the expected value. A controller absent in the container is a failure:
/// the runtime ran the container without applying the field.
pub fn check_file(
    t: &mut Tap,
    field: &str,
    ctl: &Ctl,
    v1: Side,
    v2: Side,
    norm: impl Fn(&str) -> String,
) {
    let (dir, s) = match ctl {
        Ctl::V1(d) => (d, v1),
        Ctl::V2(d) => (d, v2),
        Ctl::Absent(why) => {
            return t.case(
                &name(field, "is applied to the container's cgroup"),
                Err(format!("the container ran, but {why}")),
            )
        }
    };
    match s {
        Ok((file, expected)) => {
            let n = name(field, &format!("is applied (the container's {file})"));
            if !dir.join(&file).exists() {
                return t.case(
                    &n,
                    Err(format!("{} does not exist", dir.join(&file).display())),
                );
            }
            file_eq(t, &n, dir, &file, expected, norm);
        }
        Err(why) => t.skip(&name(field, "is applied to the container's cgroup"), &why),
    }
}

/// Content as is.
pub fn same(s: &str) -> String {
    s.to_string()
}

/// The `resources` and `devcgroup` groups.
pub fn check(ctx: &Ctx, t: &mut Tap) {
    if ctx.want("resources") {
        match Cgroups::load() {
            Ok(cg) => {
                crate::res_memcpu::check(ctx, t, &cg);
                crate::res_misc::check(ctx, t, &cg);
            }
            Err(e) => t.case("probe: find the container's cgroups", Err(e)),
        }
    }
    if ctx.want("devcgroup") {
        crate::res_misc::devices(ctx, t);
    }
}
