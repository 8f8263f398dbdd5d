//! process.capabilities (config.md "Linux Process") against CapBnd/CapInh/
//! CapPrm/CapEff/CapAmb in /proc/self/status.
//!
//! The probe sees its sets *after* the runtime's execve(2) of the probe, a
//! file without file capabilities and without set-id bits. execve transforms
//! the sets the runtime installed (capabilities(7), "Transformation of
//! capabilities during execve()"), so the expected values are computed from
//! the configured sets with the same rules:
//!
//! * bounding and inheritable are unchanged; ambient keeps only what is also
//!   permitted and inheritable (the kernel refuses the rest, and config.md
//!   makes an ungrantable capability a warning, not an error);
//! * as root (euid 0, no SECBIT_NOROOT): P' = (B | I) [& P if no_new_privs] | A, E' = P';
//! * otherwise: P' = E' = A.
//!
//! When the configured sets are already a fixed point of that transformation
//! (all of the harness's scenarios are), this is plain equality with config.

use crate::sys;
use crate::tap::Tap;
use crate::Ctx;
use serde_json::Value;

pub const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

const SECBIT_NOROOT: u32 = 1;

/// Names to a bit mask; unknown names are ignored (config.md: a warning).
fn mask_of(v: Option<&Value>) -> u64 {
    let mut m = 0u64;
    for name in v.and_then(Value::as_array).into_iter().flatten() {
        if let Some(i) = name
            .as_str()
            .and_then(|n| CAPS.iter().position(|c| *c == n))
        {
            m |= 1 << i;
        }
    }
    m
}

pub fn names(mask: u64) -> String {
    let v: Vec<String> = (0..64)
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| {
            CAPS.get(i)
                .map(|s| s.to_string())
                .unwrap_or_else(|| format!("cap{i}"))
        })
        .collect();
    format!("[{}]", v.join(","))
}

pub fn status_field(name: &str) -> Result<String, String> {
    let text = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| format!("no {name} in /proc/self/status"))
}

fn status_mask(name: &str) -> Result<u64, String> {
    let v = status_field(name)?;
    u64::from_str_radix(&v, 16).map_err(|e| format!("{name}: {v:?}: {e}"))
}

fn kernel_mask() -> u64 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .map(|last| {
            if last >= 63 {
                u64::MAX
            } else {
                (1u64 << (last + 1)) - 1
            }
        })
        .unwrap_or(u64::MAX)
}

pub fn check(ctx: &Ctx, t: &mut Tap) {
    if !ctx.want("caps") {
        return;
    }
    let Some(c) = ctx.cfg("/process/capabilities") else {
        return;
    };
    let k = kernel_mask();
    let b = mask_of(c.get("bounding")) & k;
    let i = mask_of(c.get("inheritable")) & k;
    let p = mask_of(c.get("permitted")) & k;
    let a = mask_of(c.get("ambient")) & k & p & i;
    let nnp = status_field("NoNewPrivs")
        .map(|v| v == "1")
        .unwrap_or(false);
    let root = sys::geteuid() == 0 && sys::securebits().unwrap_or(0) & SECBIT_NOROOT == 0;
    let (pe, ee) = if root {
        let gained = if nnp { (b | i) & p } else { b | i };
        (gained | a, gained | a)
    } else {
        (a, a)
    };
    let sets = [
        ("bounding", "CapBnd", b),
        ("inheritable", "CapInh", i),
        ("permitted", "CapPrm", pe),
        ("effective", "CapEff", ee),
        ("ambient", "CapAmb", a),
    ];
    for (set, field, want) in sets {
        let name = format!("config: process.capabilities.{set} is the process's {field}");
        let r = match status_mask(field) {
            Ok(got) if got == want => Ok(()),
            Ok(got) => Err(format!(
                "expected {}, got {} (missing {}, extra {})",
                names(want),
                names(got),
                names(want & !got),
                names(got & !want)
            )),
            Err(e) => Err(e),
        };
        t.case(&name, r);
    }
}
