//! The container process's identity and limits: rlimits, personality, scheduler, I/O
//! priority, user and groups, the five capability sets, no_new_privs, and finding the
//! executable in the container's PATH.

use super::{stage_err, Stage, StageResult};
use caps::{CapSet, Capability as Cap, CapsHashSet};
use oci_spec::runtime::{
    Capability, IOPriorityClass, LinuxCapabilities, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, PosixRlimitType, Process,
};
use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn rlimit_resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

pub fn apply_rlimits(p: &Process) -> StageResult<()> {
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        crate::sys::setrlimit(rlimit_resource(r.typ()), &lim).stage_with("rlimits", || {
            format!(
                "process.rlimits[{i}] ({:?} soft {} hard {})",
                r.typ(),
                r.soft(),
                r.hard()
            )
        })?;
    }
    Ok(())
}

pub fn apply_personality(spec: &oci_spec::runtime::Spec) -> StageResult<()> {
    let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) else {
        return Ok(());
    };
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    if let Some(f) = p.flags().as_ref().filter(|f| !f.is_empty()) {
        return Err(stage_err(
            "personality",
            format!("linux.personality.flags: {f:?}: no personality flags are supported"),
        ));
    }
    crate::sys::set_personality(persona).stage_with("personality", || "linux.personality".into())
}

pub fn apply_scheduler(p: &Process) -> StageResult<()> {
    let Some(s) = p.scheduler() else {
        return Ok(());
    };
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let mut attr = crate::sys::SchedAttr {
        sched_policy: policy,
        sched_flags: flags,
        sched_nice: s.nice().unwrap_or(0),
        sched_priority: s.priority().unwrap_or(0).max(0) as u32,
        sched_runtime: s.runtime().unwrap_or(0),
        sched_deadline: s.deadline().unwrap_or(0),
        sched_period: s.period().unwrap_or(0),
        ..Default::default()
    };
    crate::sys::sched_setattr(&mut attr).stage_with("scheduler", || "process.scheduler".into())
}

pub fn apply_io_priority(p: &Process) -> StageResult<()> {
    let Some(io) = p.io_priority() else {
        return Ok(());
    };
    let class = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    crate::sys::ioprio_set(class, io.priority().clamp(0, 7) as u32)
        .stage_with("ioprio", || "process.ioPriority".into())
}

pub fn apply_oom_score_adj(p: &Process) -> StageResult<()> {
    if let Some(v) = p.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", v.to_string())
            .stage_with("oom", || format!("process.oomScoreAdj {v}"))?;
    }
    Ok(())
}

fn to_caps(field: &str, list: Option<&HashSet<Capability>>) -> StageResult<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for c in list.into_iter().flatten() {
        let name = format!("CAP_{c}");
        let cap: Cap = name.parse().map_err(|_| {
            stage_err(
                "capabilities",
                format!("{field}: unknown capability {name}"),
            )
        })?;
        out.insert(cap);
    }
    Ok(out)
}

/// The five sets computed from process.capabilities (absent sets are empty).
pub struct CapPlan {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

pub fn cap_plan(c: Option<&LinuxCapabilities>) -> StageResult<CapPlan> {
    Ok(CapPlan {
        bounding: to_caps(
            "process.capabilities.bounding",
            c.and_then(|c| c.bounding().as_ref()),
        )?,
        effective: to_caps(
            "process.capabilities.effective",
            c.and_then(|c| c.effective().as_ref()),
        )?,
        permitted: to_caps(
            "process.capabilities.permitted",
            c.and_then(|c| c.permitted().as_ref()),
        )?,
        inheritable: to_caps(
            "process.capabilities.inheritable",
            c.and_then(|c| c.inheritable().as_ref()),
        )?,
        ambient: to_caps(
            "process.capabilities.ambient",
            c.and_then(|c| c.ambient().as_ref()),
        )?,
    })
}

/// Drop the bounding set, switch to the container user (keeping capabilities across
/// the uid change), then set the remaining sets. Order matters: the bounding set needs
/// CAP_SETPCAP, which the user switch may take away.
pub fn set_identity(p: &Process) -> StageResult<()> {
    let plan = cap_plan(p.capabilities().as_ref())?;
    let supported = caps::runtime::thread_all_supported();
    for cap in supported.iter() {
        if !plan.bounding.contains(cap) {
            caps::drop(None, CapSet::Bounding, *cap).stage_with("capabilities", || {
                format!("process.capabilities.bounding: drop {cap}")
            })?;
        }
    }

    let user = p.user();
    let uid = nix::unistd::Uid::from_raw(user.uid());
    let gid = nix::unistd::Gid::from_raw(user.gid());
    let groups: Vec<nix::unistd::Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    // setgroups is denied in a user namespace whose setgroups file says "deny".
    if let Err(e) = nix::unistd::setgroups(&groups) {
        if !groups.is_empty() || e != nix::errno::Errno::EPERM {
            return Err(e).stage_with("user", || format!("process.user.additionalGids {groups:?}"));
        }
    }
    nix::sys::prctl::set_keepcaps(true).stage("user")?;
    nix::unistd::setresgid(gid, gid, gid)
        .stage_with("user", || format!("process.user.gid {gid}"))?;
    nix::unistd::setresuid(uid, uid, uid)
        .stage_with("user", || format!("process.user.uid {uid}"))?;
    nix::sys::prctl::set_keepcaps(false).stage("user")?;

    caps::set(None, CapSet::Inheritable, &plan.inheritable)
        .stage_with("capabilities", || "process.capabilities.inheritable".into())?;
    // Effective first: the kernel refuses a permitted set smaller than the effective one.
    let eff: CapsHashSet = plan
        .effective
        .intersection(&plan.permitted)
        .copied()
        .collect();
    caps::set(None, CapSet::Effective, &eff)
        .stage_with("capabilities", || "process.capabilities.effective".into())?;
    caps::set(None, CapSet::Permitted, &plan.permitted)
        .stage_with("capabilities", || "process.capabilities.permitted".into())?;
    if plan.effective.difference(&plan.permitted).next().is_some() {
        return Err(stage_err(
            "capabilities",
            "process.capabilities.effective: must be a subset of permitted",
        ));
    }
    caps::clear(None, CapSet::Ambient).stage("capabilities")?;
    for cap in &plan.ambient {
        caps::raise(None, CapSet::Ambient, *cap).stage_with("capabilities", || {
            format!("process.capabilities.ambient: {cap} (must also be permitted and inheritable)")
        })?;
    }
    Ok(())
}

/// The process environment: process.env, plus HOME from the container's passwd when
/// not given (as runc does, and as programs expect).
pub fn environment(p: &Process, home: Option<String>) -> Vec<String> {
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home.unwrap_or_else(|| "/".into())));
    }
    env
}

/// The home directory of `uid` in the container's /etc/passwd.
pub fn home_of(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
    })
}

/// Find args[0] as execvp would, in the container's PATH (from process.env).
/// The error words are those engines look for: "executable file not found in $PATH",
/// "no such file or directory", "permission denied".
pub fn find_executable(arg0: &str, env: &[String]) -> Result<PathBuf, String> {
    let is_exec = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        return match std::fs::metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
                "exec: {arg0:?}: stat {arg0}: no such file or directory"
            )),
            Err(e) => Err(format!("exec: {arg0:?}: {e}")),
            Ok(m) if m.is_dir() => {
                Err(format!("exec: {arg0:?}: is a directory: permission denied"))
            }
            Ok(_) if !is_exec(&p) => Err(format!("exec: {arg0:?}: permission denied")),
            Ok(_) => Ok(p),
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(arg0);
        if is_exec(&cand) {
            return Ok(cand);
        }
    }
    Err(format!(
        "exec: {arg0:?}: executable file not found in $PATH"
    ))
}

pub fn cstrings(v: &[String], field: &str) -> StageResult<Vec<CString>> {
    v.iter()
        .enumerate()
        .map(|(i, s)| {
            CString::new(s.as_bytes())
                .map_err(|_| stage_err("exec", format!("{field}[{i}]: contains a NUL byte")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_lookup_uses_container_path() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        assert_eq!(
            find_executable("sh", &env).unwrap(),
            PathBuf::from("/bin/sh")
        );
        let e = find_executable("no-such-prog-xyz", &env).unwrap_err();
        assert!(e.contains("executable file not found in $PATH"), "{e}");
        let e = find_executable("/no/such/file", &env).unwrap_err();
        assert!(e.contains("no such file or directory"), "{e}");
        let e = find_executable("/etc/passwd", &env).unwrap_err();
        assert!(e.contains("permission denied"), "{e}");
    }

    #[test]
    fn home_is_added_only_when_missing() {
        let mut p = Process::default();
        p.set_env(Some(vec!["A=1".into()]));
        assert_eq!(
            environment(&p, Some("/root".into())),
            vec!["A=1", "HOME=/root"]
        );
        p.set_env(Some(vec!["HOME=/x".into()]));
        assert_eq!(environment(&p, None), vec!["HOME=/x"]);
    }

    #[test]
    fn capability_names_map_to_caps_crate() {
        let mut c = LinuxCapabilities::default();
        c.set_bounding(Some(
            [Capability::Kill, Capability::NetBindService]
                .into_iter()
                .collect(),
        ));
        c.set_inheritable(None);
        let plan = cap_plan(Some(&c)).unwrap();
        assert!(plan.bounding.contains(&Cap::CAP_KILL));
        assert!(plan.bounding.contains(&Cap::CAP_NET_BIND_SERVICE));
        assert!(plan.inheritable.is_empty());
    }
}
