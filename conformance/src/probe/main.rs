//! berth-probe: runs inside the container as the container process, reads the
//! config.json the harness copied to /.probe/config.json and the runtime-side
//! facts in /.probe/host.json, and prints one TAP line per spec requirement
//! comparing what the kernel shows with what the config asks for.
//!
//! Usage (as process.args): `berth-probe [--groups g1,g2,...]` (default: all).
//! It always exits 0 after printing the plan line; failures are in the TAP.

mod caps;
mod cgroup;
mod devices;
mod fs;
mod mountinfo;
mod ns;
mod process;
mod res_memcpu;
mod res_misc;
mod seccomp;
mod sys;
mod tap;

use serde_json::Value;
use std::collections::BTreeSet;
use tap::Tap;

pub const CONFIG: &str = "/.probe/config.json";
pub const HOST: &str = "/.probe/host.json";

/// Every check group, in the order they run. `fds` runs first, before the
/// probe opens anything.
pub const GROUPS: &[&str] = &[
    "fds",
    "process",
    "user",
    "caps",
    "nnp",
    "rlimits",
    "oom",
    "sched",
    "ioprio",
    "affinity",
    "personality",
    "uts",
    "sysctl",
    "root",
    "mounts",
    "masked",
    "readonly",
    "devices",
    "defaultdev",
    "ns",
    "idmap",
    "timens",
    "cgroupns",
    "propagation",
    "resources",
    "devcgroup",
    "seccomp",
];

pub struct Ctx {
    pub cfg: Value,
    pub host: Value,
    groups: BTreeSet<String>,
}

impl Ctx {
    pub fn want(&self, group: &str) -> bool {
        self.groups.contains(group)
    }

    /// A config value by JSON pointer, e.g. `/process/user/uid`.
    pub fn cfg(&self, pointer: &str) -> Option<&Value> {
        self.cfg.pointer(pointer).filter(|v| !v.is_null())
    }

    pub fn host(&self, pointer: &str) -> Option<&Value> {
        self.host.pointer(pointer).filter(|v| !v.is_null())
    }
}

fn read_json(path: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("parse {path}: {e}"))
}

fn parse_groups(args: &[String]) -> Result<BTreeSet<String>, String> {
    let mut groups: BTreeSet<String> = GROUPS.iter().map(|s| s.to_string()).collect();
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--groups" => {
                let list = it.next().ok_or("--groups needs a value")?;
                if list != "all" {
                    groups = list.split(',').map(str::to_string).collect();
                    for g in &groups {
                        if !GROUPS.contains(&g.as_str()) {
                            return Err(format!("unknown group {g:?}"));
                        }
                    }
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(groups)
}

fn main() {
    // Observe open fds before this process opens anything itself.
    let fds = sys::open_fds();
    let args: Vec<String> = std::env::args().collect();
    let mut t = Tap::new();

    let groups = match parse_groups(&args) {
        Ok(g) => g,
        Err(e) => {
            t.case("probe: arguments", Err(e));
            t.finish();
            return;
        }
    };
    let (cfg, host) = match (read_json(CONFIG), read_json(HOST)) {
        (Ok(c), Ok(h)) => (c, h),
        (c, h) => {
            t.case(
                "probe: read config.json and host.json",
                c.and(h).map(|_| ()),
            );
            t.finish();
            return;
        }
    };
    let ctx = Ctx { cfg, host, groups };

    if ctx.want("fds") {
        ns::check_fds(&mut t, fds);
    }
    process::check(&ctx, &mut t, &args);
    caps::check(&ctx, &mut t);
    fs::check(&ctx, &mut t);
    devices::check(&ctx, &mut t);
    ns::check(&ctx, &mut t);
    cgroup::check(&ctx, &mut t);
    if ctx.want("seccomp") {
        seccomp::check(&ctx, &mut t);
    }
    t.finish();
}
