use super::Container;
use crate::cli::ExecArgs;
use crate::error::{Error, Result};
use crate::init::exec::ExecOpts;
use crate::state::Status;
use crate::store::Store;
use oci_spec::runtime::{Capability, LinuxCapabilities, Process};
use std::collections::HashSet;

/// UID[:GID], numeric first (CVE-2016-3697: "1" is uid 1, never a user named "1"),
/// then names from the container's /etc/passwd and /etc/group.
pub fn parse_user(
    s: &str,
    passwd: &str,
    group: &str,
) -> std::result::Result<(u32, Option<u32>), String> {
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let lookup = |db: &str, name: &str, what: &str| -> std::result::Result<u32, String> {
        if let Ok(n) = name.parse::<u32>() {
            return Ok(n);
        }
        db.lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[0] == name)
                    .then(|| f[2].parse::<u32>().ok())
                    .flatten()
            })
            .ok_or_else(|| format!("--user {s}: no {what} {name:?} in the container"))
    };
    let uid = lookup(passwd, u, "user")?;
    let gid = g.map(|g| lookup(group, g, "group")).transpose()?;
    Ok((uid, gid))
}

/// The process to exec: --process FILE as given, or the container's own process with
/// the flags applied (as runc does).
pub fn build_process(
    base: Option<&Process>,
    a: &ExecArgs,
    file: Option<&[u8]>,
    dbs: (&str, &str),
) -> std::result::Result<Process, String> {
    if let Some(bytes) = file {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        return serde_path_to_error::deserialize(de)
            .map_err(|e| format!("--process: process.{}: {}", e.path(), e.inner()));
    }
    if a.command.is_empty() {
        return Err("exec: give a command, or --process FILE".into());
    }
    let mut p = base.cloned().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        for kv in &a.env {
            let key = kv.split('=').next().unwrap_or("");
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        p.set_env(Some(env));
    }
    if let Some(u) = &a.user {
        let (uid, gid) = parse_user(u, dbs.0, dbs.1)?;
        let mut user = p.user().clone();
        user.set_uid(uid);
        if let Some(g) = gid {
            user.set_gid(g);
        }
        p.set_user(user);
    }
    if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        // Not LinuxCapabilities::default(): oci-spec fills its inheritable set.
        let mut caps = p.capabilities().clone().unwrap_or_else(|| {
            let mut c = LinuxCapabilities::default();
            c.set_bounding(None);
            c.set_effective(None);
            c.set_permitted(None);
            c.set_inheritable(None);
            c.set_ambient(None);
            c
        });
        let add =
            |set: Option<HashSet<Capability>>| -> std::result::Result<HashSet<Capability>, String> {
                let mut set = set.unwrap_or_default();
                for c in &a.cap {
                    let cap: Capability =
                        serde_json::from_value(serde_json::Value::from(c.as_str()))
                            .map_err(|_| format!("--cap {c}: unknown capability"))?;
                    set.insert(cap);
                }
                Ok(set)
            };
        // CVE-2022-29162: never into the inheritable (or ambient) set.
        let b = add(caps.bounding().clone())?;
        let e = add(caps.effective().clone())?;
        let pm = add(caps.permitted().clone())?;
        caps.set_bounding(Some(b));
        caps.set_effective(Some(e));
        caps.set_permitted(Some(pm));
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

fn lsm_unavailable(flag: &str) -> Error {
    Error::Usage(format!(
        "{flag}: this host has no LSM enabled (AppArmor/SELinux), so it cannot be applied"
    ))
}

/// `exec`; returns the exit code to exit with (the process's, unless detached).
pub fn exec(store: &Store, a: &ExecArgs) -> Result<i32> {
    if a.apparmor.is_some() {
        return Err(lsm_unavailable("--apparmor"));
    }
    if a.process_label.is_some() {
        return Err(lsm_unavailable("--process-label"));
    }
    let c = Container::open(store, &a.id)?;
    let status = c.status();
    match status {
        Status::Created | Status::Running => {}
        Status::Paused if a.ignore_paused => {}
        _ => {
            return Err(Error::NotRunning {
                id: c.id().to_string(),
                status,
            })
        }
    }
    let record = c.record()?.clone();
    let spec = c.config()?;
    let seccomp_cache = std::fs::read(c.entry.path(crate::store::SECCOMP_FILE))
        .ok()
        .and_then(|b| crate::seccomp::Filter::from_cache(&b));
    let read_db = |name: &str| {
        std::fs::read_to_string(format!("/proc/{}/root/etc/{name}", record.pid)).unwrap_or_default()
    };
    let file = match &a.process {
        Some(p) => Some(std::fs::read(p).map_err(Error::io(format!("--process {}", p.display())))?),
        None => None,
    };
    let process = build_process(
        spec.process().as_ref(),
        a,
        file.as_deref(),
        (&read_db("passwd"), &read_db("group")),
    )
    .map_err(Error::Usage)?;
    let terminal = process.terminal().unwrap_or(false);
    // With a tty and no --console-socket berth holds the master itself (`ours`).
    let (console, ours) = match (terminal, &a.console_socket) {
        (true, Some(p)) => (
            Some(
                std::os::unix::net::UnixStream::connect(p)
                    .map_err(Error::io(format!("--console-socket {}", p.display())))?,
            ),
            None,
        ),
        (true, None) if a.detach => return Err(Error::Usage(super::tty::DETACHED_TTY.into())),
        (true, None) => {
            let (ours, theirs) = super::tty::socket_pair()?;
            (Some(theirs), Some(ours))
        }
        (false, _) => (None, None),
    };
    if a.cgroup
        .as_deref()
        .is_some_and(|g| g.split('/').any(|c| c == ".."))
    {
        return Err(Error::Usage(format!(
            "--cgroup {:?}: \"..\" is not allowed",
            a.cgroup.as_deref().unwrap_or("")
        )));
    }
    let cgroup = c
        .cgroup()
        .ok_or_else(|| Error::Usage("container has no cgroup".into()))?;
    // Other verbs may proceed while the process runs.
    let init_pid = record.pid;
    drop(c);

    let sfd = if a.detach {
        None
    } else {
        Some(super::run::forward_signals()?)
    };
    // Dropped (mode restored) on every way out of this function.
    let mut host = None;
    let mut process = process;
    if ours.is_some() {
        host = super::tty::HostTerminal::find()?;
        if let Some(h) = &host {
            // The pty has berth's size before the process execs (consoleSize is
            // applied by the process stage), so the program's first look is right.
            let (rows, cols) = h.size()?;
            let size = oci_spec::runtime::BoxBuilder::default()
                .height(rows)
                .width(cols)
                .build()
                .map_err(|e| Error::Usage(format!("process.consoleSize: {e}")))?;
            process.set_console_size(Some(size));
        }
    }
    let pid = crate::init::exec::exec(ExecOpts {
        id: &record.id,
        bundle: &record.bundle,
        init_pid,
        spec: &spec,
        process,
        cgroup: &cgroup,
        sub_cgroup: a.cgroup.clone(),
        console,
        preserve_fds: a.preserve_fds,
        return_when_placed: a.detach && status == Status::Paused,
        seccomp_cache,
    })?;
    if let Some(p) = &a.pid_file {
        crate::init::parent::write_pid_file(p, pid)?;
    }
    let Some(sfd) = sfd else {
        return Ok(0);
    };
    let Some(ours) = ours else {
        return super::run::wait_forwarding(pid, &sfd);
    };
    let attached = super::tty::receive_master(&ours).and_then(|m| {
        if let Some(h) = host.as_mut() {
            h.set_raw()?;
        }
        Ok(m)
    });
    match attached {
        Ok(master) => super::tty::proxy(pid, &sfd, master, host.as_ref()),
        Err(e) => {
            // No one could ever read or type into its terminal.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = super::run::reap(pid);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(v: &[&str]) -> ExecArgs {
        let mut full = vec!["berth", "exec"];
        full.extend_from_slice(v);
        match crate::cli::Cli::try_parse_from(full).unwrap().command {
            Some(crate::cli::Command::Exec(a)) => a,
            _ => panic!("not exec"),
        }
    }

    #[test]
    fn numeric_user_is_never_a_name() {
        let passwd = "root:x:0:0::/:/bin/sh\n1:x:1000:1000::/:/bin/sh\nfoo:x:5:5::/:/bin/sh\n";
        assert_eq!(parse_user("1", passwd, ""), Ok((1, None)));
        assert_eq!(parse_user("foo", passwd, ""), Ok((5, None)));
        assert_eq!(parse_user("1000:1000", passwd, ""), Ok((1000, Some(1000))));
        assert!(parse_user("nobody", passwd, "").is_err());
    }

    #[test]
    fn caps_from_flags_never_reach_inheritable() {
        let mut base = Process::default();
        base.set_capabilities(None);
        let p = build_process(
            Some(&base),
            &args(&["--cap", "CAP_KILL", "c", "sh"]),
            None,
            ("", ""),
        )
        .unwrap();
        let caps = p.capabilities().clone().unwrap();
        assert!(caps
            .bounding()
            .as_ref()
            .unwrap()
            .contains(&Capability::Kill));
        assert!(caps
            .effective()
            .as_ref()
            .unwrap()
            .contains(&Capability::Kill));
        assert!(caps.inheritable().as_ref().is_none_or(|s| s.is_empty()));
        assert!(caps.ambient().as_ref().is_none_or(|s| s.is_empty()));
    }

    #[test]
    fn env_flags_override_the_config() {
        let mut base = Process::default();
        base.set_env(Some(vec!["A=1".into(), "B=2".into()]));
        let p = build_process(
            Some(&base),
            &args(&["-e", "A=9", "-e", "C=3", "c", "env"]),
            None,
            ("", ""),
        )
        .unwrap();
        assert_eq!(p.env().clone().unwrap(), vec!["B=2", "A=9", "C=3"]);
        assert_eq!(p.args().clone().unwrap(), vec!["env"]);
    }

    #[test]
    fn process_file_errors_name_the_field() {
        let e = build_process(None, &args(&["c"]), Some(br#"{"cwd":"/","user":{"uid":0,"gid":0},"args":["sh"],"rlimits":[{"type":"RLIMIT_BOGUS","hard":1,"soft":1}]}"#), ("", ""))
            .unwrap_err();
        assert!(e.contains("rlimits[0]"), "{e}");
    }
}
