//! Namespaces and what lives in them: config-linux.md "Namespaces", "User
//! namespace mappings", "Offset for Time Namespace", "Sysctl"; config.md
//! hostname/domainname; runtime-linux.md "File descriptors".

use crate::sys;
use crate::tap::Tap;
use crate::Ctx;
use serde_json::Value;
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;

/// (config type, /proc/self/ns file)
const NAMESPACES: &[(&str, &str)] = &[
    ("pid", "pid"),
    ("network", "net"),
    ("mount", "mnt"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("user", "user"),
    ("cgroup", "cgroup"),
    ("time", "time"),
];

pub fn check_fds(t: &mut Tap, fds: Result<Vec<i32>, String>) {
    let name = "runtime-linux: only stdin, stdout and stderr are open in the container process";
    match fds {
        Ok(fds) if fds == [0, 1, 2] => t.case(name, Ok(())),
        Ok(fds) => {
            let shown: Vec<String> = fds
                .iter()
                .map(|fd| {
                    let target = std::fs::read_link(format!("/proc/self/fd/{fd}"))
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|_| "?".into());
                    format!("{fd}->{target}")
                })
                .collect();
            t.case(name, Err(format!("expected [0, 1, 2], got {shown:?}")))
        }
        Err(e) => t.case(name, Err(e)),
    }
}

pub fn check(ctx: &Ctx, t: &mut Tap) {
    if ctx.want("uts") {
        uts(ctx, t);
    }
    if ctx.want("sysctl") {
        sysctl(ctx, t);
    }
    if ctx.want("ns") {
        namespaces(ctx, t);
    }
    if ctx.want("idmap") {
        idmap(ctx, t, "uidMappings", "/proc/self/uid_map");
        idmap(ctx, t, "gidMappings", "/proc/self/gid_map");
    }
    if ctx.want("timens") {
        timens(ctx, t);
    }
    if ctx.want("cgroupns") {
        cgroupns(ctx, t);
    }
}

fn uts(ctx: &Ctx, t: &mut Tap) {
    let u = sys::uname();
    for (key, pick) in [
        (
            "hostname",
            (|u: &sys::Uname| u.nodename.clone()) as fn(&sys::Uname) -> String,
        ),
        ("domainname", |u| u.domainname.clone()),
    ] {
        if let Some(want) = ctx.cfg(&format!("/{key}")).and_then(Value::as_str) {
            t.eq_res(
                &format!("config: {key} is the container's {key} (uname)"),
                want.to_string(),
                u.as_ref().map(pick).map_err(Clone::clone),
            );
        }
    }
}

fn sysctl(ctx: &Ctx, t: &mut Tap) {
    let Some(map) = ctx.cfg("/linux/sysctl").and_then(Value::as_object) else {
        return;
    };
    for (k, v) in map {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        let got = std::fs::read_to_string(&path)
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .map_err(|e| format!("{path}: {e}"));
        let want = v
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        t.eq_res(
            &format!("config-linux: sysctl {k} is set in the container"),
            want,
            got,
        );
    }
}

fn ns_inode(file: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/self/ns/{file}"))
        .ok()
        .map(|m| m.ino())
}

fn configured(ctx: &Ctx, ty: &str) -> Option<Option<String>> {
    ctx.cfg("/linux/namespaces")
        .and_then(Value::as_array)?
        .iter()
        .find(|n| n.get("type").and_then(Value::as_str) == Some(ty))
        .map(|n| n.get("path").and_then(Value::as_str).map(str::to_string))
}

fn namespaces(ctx: &Ctx, t: &mut Tap) {
    for (ty, file) in NAMESPACES {
        let Some(mine) = ns_inode(file) else {
            continue; // kernel without this namespace type
        };
        let host = ctx.host(&format!("/ns/{file}")).and_then(Value::as_u64);
        match configured(ctx, ty) {
            Some(Some(path)) => {
                let want = ctx.host(&format!("/ns_paths/{ty}")).and_then(Value::as_u64);
                t.eq(
                    &format!("config-linux: namespaces {ty} with path {path} places the process in that namespace"),
                    want,
                    Some(mine),
                );
            }
            Some(None) => {
                let r = if host != Some(mine) {
                    Ok(())
                } else {
                    Err(format!("inode {mine} is the runtime's"))
                };
                t.case(
                    &format!("config-linux: namespaces {ty} without path is a new namespace (inode differs from the runtime's)"),
                    r,
                );
            }
            None => t.eq(
                &format!(
                    "config-linux: namespaces {ty} absent: the runtime's namespace is inherited"
                ),
                host,
                Some(mine),
            ),
        }
    }
    if configured(ctx, "pid").is_some() && std::fs::metadata("/proc/self").is_ok() {
        let got = std::fs::read_link("/proc/self")
            .map(|p| p.display().to_string())
            .map_err(|e| e.to_string());
        t.eq_res(
            "config-linux: namespaces pid: /proc shows the container's pid namespace (/proc/self is getpid())",
            sys::getpid().to_string(),
            got,
        );
    }
    if configured(ctx, "network") == Some(None) {
        let got = std::fs::read_to_string("/proc/net/dev")
            .map(|s| {
                s.lines()
                    .skip(2)
                    .filter_map(|l| l.split(':').next().map(|n| n.trim().to_string()))
                    .collect::<Vec<_>>()
            })
            .map_err(|e| e.to_string());
        t.eq_res(
            "config-linux: namespaces network: a new network namespace has only lo",
            vec!["lo".to_string()],
            got,
        );
    }
}

fn idmap(ctx: &Ctx, t: &mut Tap, key: &str, file: &str) {
    if configured(ctx, "user").is_none() {
        return;
    }
    let Some(list) = ctx.cfg(&format!("/linux/{key}")).and_then(Value::as_array) else {
        return;
    };
    let want: BTreeSet<(u64, u64, u64)> = list
        .iter()
        .map(|m| {
            let f = |k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(u64::MAX);
            (f("containerID"), f("hostID"), f("size"))
        })
        .collect();
    let got = std::fs::read_to_string(file)
        .map_err(|e| format!("{file}: {e}"))
        .map(|s| {
            s.lines()
                .filter_map(|l| {
                    let v: Vec<u64> = l
                        .split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect();
                    (v.len() == 3).then(|| (v[0], v[1], v[2]))
                })
                .collect::<BTreeSet<_>>()
        });
    t.eq_res(
        &format!(
            "config-linux: linux.{key} are the user namespace's {}",
            &file[11..]
        ),
        want,
        got,
    );
}

fn timens(ctx: &Ctx, t: &mut Tap) {
    if configured(ctx, "time").is_none() {
        return;
    }
    let offsets = ctx.cfg("/linux/timeOffsets");
    let want_of = |clock: &str| -> (i64, i64) {
        let o = offsets.and_then(|o| o.get(clock));
        let f = |k: &str| {
            o.and_then(|o| o.get(k))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        (f("secs"), f("nanosecs"))
    };
    let got = std::fs::read_to_string("/proc/self/timens_offsets").map_err(|e| e.to_string());
    for clock in ["monotonic", "boottime"] {
        let want = want_of(clock);
        let g = got.clone().and_then(|s| {
            s.lines()
                .find_map(|l| {
                    let v: Vec<&str> = l.split_whitespace().collect();
                    (v.len() == 3 && v[0] == clock)
                        .then(|| (v[1].parse().unwrap_or(-1), v[2].parse().unwrap_or(-1)))
                })
                .ok_or_else(|| format!("no {clock} line"))
        });
        t.eq_res(
            &format!(
                "config-linux: timeOffsets.{clock} is the time namespace's offset (timens_offsets)"
            ),
            want,
            g,
        );
        let (clock_id, host_key) = match clock {
            "monotonic" => (libc::CLOCK_MONOTONIC, "/monotonic"),
            _ => (libc::CLOCK_BOOTTIME, "/boottime"),
        };
        if let (Some(host), Ok(now)) = (
            ctx.host(host_key).and_then(Value::as_f64),
            sys::clock_secs(clock_id),
        ) {
            let shift = now - host;
            let off = want.0 as f64 + want.1 as f64 / 1e9;
            let r = if shift >= off - 1.0 && shift <= off + 120.0 {
                Ok(())
            } else {
                Err(format!(
                    "expected the clock ahead of the runtime's by ~{off}s, got {shift:.1}s"
                ))
            };
            t.case(
                &format!("config-linux: timeOffsets.{clock} shifts the container's clock"),
                r,
            );
        }
    }
}

fn cgroupns(ctx: &Ctx, t: &mut Tap) {
    if configured(ctx, "cgroup") != Some(None) {
        return;
    }
    let r = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| e.to_string())
        .and_then(|s| {
            let bad: Vec<&str> = s.lines().filter(|l| !l.ends_with(":/")).collect();
            if bad.is_empty() {
                Ok(())
            } else {
                Err(format!("expected every hierarchy at /, got {bad:?}"))
            }
        });
    t.case(
        "config-linux: namespaces cgroup: a new cgroup namespace is rooted at the container's cgroup (/proc/self/cgroup shows /)",
        r,
    );
}
