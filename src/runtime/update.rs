use super::Container;
use crate::cli::UpdateArgs;
use crate::error::{Error, Result};
use crate::state::Status;
use crate::store::{self, Store};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;

/// "1024", "100k", "512m", "2g", "1t" (binary units, optional trailing b) or -1.
pub fn parse_size(s: &str) -> std::result::Result<i64, String> {
    let bad = || format!("invalid size {s:?}: use bytes or a k/m/g/t suffix, or -1");
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n < 0 {
        return Err(bad());
    }
    n.checked_mul(mult).ok_or_else(bad)
}

/// The flags as a LinuxResources JSON fragment (runc's names and meanings).
pub fn flags_to_json(a: &UpdateArgs) -> std::result::Result<Value, String> {
    let mut r = json!({});
    let size = |v: &Option<String>, flag: &str| -> std::result::Result<Option<i64>, String> {
        v.as_deref()
            .map(|s| parse_size(s).map_err(|e| format!("--{flag}: {e}")))
            .transpose()
    };
    let mut set = |path: &[&str], v: Value| {
        let mut cur = &mut r;
        for k in &path[..path.len() - 1] {
            if cur.get(*k).is_none() {
                cur[*k] = json!({});
            }
            cur = &mut cur[*k];
        }
        cur[path[path.len() - 1]] = v;
    };
    if let Some(v) = a.blkio_weight {
        set(&["blockIO", "weight"], json!(v));
    }
    if let Some(v) = a.cpu_period {
        set(&["cpu", "period"], json!(v));
    }
    if let Some(v) = a.cpu_quota {
        set(&["cpu", "quota"], json!(v));
    }
    if let Some(v) = a.cpu_share {
        set(&["cpu", "shares"], json!(v));
    }
    if let Some(v) = a.cpu_rt_period {
        set(&["cpu", "realtimePeriod"], json!(v));
    }
    if let Some(v) = a.cpu_rt_runtime {
        set(&["cpu", "realtimeRuntime"], json!(v));
    }
    if let Some(v) = &a.cpuset_cpus {
        set(&["cpu", "cpus"], json!(v));
    }
    if let Some(v) = &a.cpuset_mems {
        set(&["cpu", "mems"], json!(v));
    }
    if let Some(v) = size(&a.memory, "memory")? {
        set(&["memory", "limit"], json!(v));
    }
    if let Some(v) = size(&a.memory_reservation, "memory-reservation")? {
        set(&["memory", "reservation"], json!(v));
    }
    if let Some(v) = size(&a.memory_swap, "memory-swap")? {
        set(&["memory", "swap"], json!(v));
    }
    if let Some(v) = size(&a.kernel_memory, "kernel-memory")? {
        set(&["memory", "kernel"], json!(v));
    }
    if let Some(v) = size(&a.kernel_memory_tcp, "kernel-memory-tcp")? {
        set(&["memory", "kernelTCP"], json!(v));
    }
    if let Some(v) = a.pids_limit {
        set(&["pids", "limit"], json!(v));
    }
    Ok(r)
}

/// Deep-merge `patch` into `base` (objects merge, everything else replaces).
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

pub fn update(store: &Store, a: &UpdateArgs) -> Result<()> {
    let mut patch = match &a.resources {
        None => json!({}),
        Some(p) => {
            let mut text = String::new();
            if p.as_os_str() == "-" {
                std::io::stdin()
                    .take(16 << 20)
                    .read_to_string(&mut text)
                    .map_err(Error::io("--resources -"))?;
            } else {
                text = std::fs::read_to_string(p)
                    .map_err(Error::io(format!("--resources {}", p.display())))?;
            }
            serde_json::from_str(&text)
                .map_err(|e| Error::Usage(format!("--resources: not LinuxResources JSON: {e}")))?
        }
    };
    merge(&mut patch, &flags_to_json(a).map_err(Error::Usage)?);
    let de = patch.clone();
    let res: LinuxResources = serde_path_to_error::deserialize(de).map_err(|e| {
        Error::Usage(format!(
            "--resources: linux.resources.{}: {}",
            e.path(),
            e.inner()
        ))
    })?;

    let c = Container::open(store, &a.id)?;
    let status = c.status();
    if !matches!(status, Status::Created | Status::Running | Status::Paused) {
        return Err(Error::NotRunning {
            id: c.id().to_string(),
            status,
        });
    }
    let cg = c
        .cgroup()
        .ok_or_else(|| Error::Usage(format!("container {} has no cgroup", a.id)))?;
    let layout = crate::cgroups::Layout::detect()?;
    let plan =
        crate::cgroups::resources::plan(&res, &layout).map_err(|e| Error::Usage(e.to_string()))?;
    for w in crate::cgroups::apply::apply(&cg, &plan)?
        .into_iter()
        .chain(plan.warnings.iter().cloned())
    {
        crate::log::warn(&w);
    }

    // Keep the snapshot in step, so the container's recorded config says what it has.
    let mut spec = serde_json::to_value(c.config()?).map_err(|e| Error::Usage(e.to_string()))?;
    if spec.get("linux").is_none() {
        spec["linux"] = json!({});
    }
    let mut current = spec["linux"].get("resources").cloned().unwrap_or(json!({}));
    merge(&mut current, &patch);
    spec["linux"]["resources"] = current;
    let bytes = serde_json::to_vec(&spec).map_err(|e| Error::Usage(e.to_string()))?;
    c.entry.write_atomic(store::CONFIG_FILE, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("100m"), Ok(100 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("512kb"), Ok(512 << 10));
        assert_eq!(parse_size("-1"), Ok(-1));
        for bad in ["", "m", "-5", "1.5g", "9999999999t"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn merge_is_deep() {
        let mut a = json!({"memory": {"limit": 1, "swap": 2}, "pids": {"limit": 3}});
        merge(&mut a, &json!({"memory": {"limit": 5}}));
        assert_eq!(
            a,
            json!({"memory": {"limit": 5, "swap": 2}, "pids": {"limit": 3}})
        );
    }
}
