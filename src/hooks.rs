//! OCI hooks (config.md "POSIX-platform Hooks"): each hook runs with exactly its own
//! args and env (nothing inherited from berth or the container: SECURITY.md attack 28),
//! the state JSON on stdin, and an optional timeout after which it is killed.

use oci_spec::runtime::Hook;
use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{kind} hook #{index} ({path}): cannot run it: {source}")]
    Spawn {
        kind: &'static str,
        index: usize,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{kind} hook #{index} ({path}) failed: {status}{output}")]
    Failed {
        kind: &'static str,
        index: usize,
        path: String,
        status: String,
        output: String,
    },
    #[error("{kind} hook #{index} ({path}) timed out after {secs}s and was killed")]
    Timeout {
        kind: &'static str,
        index: usize,
        path: String,
        secs: i64,
    },
}

/// Run `hooks` of `kind` in order, stopping at the first failure.
pub fn run_all(kind: &'static str, hooks: &[Hook], state_json: &[u8]) -> Result<(), HookError> {
    for (index, hook) in hooks.iter().enumerate() {
        run_one(kind, index, hook, state_json)?;
    }
    Ok(())
}

/// Run every hook of `kind`, whatever the others did; return the failures.
pub fn run_each(kind: &'static str, hooks: &[Hook], state_json: &[u8]) -> Vec<HookError> {
    hooks
        .iter()
        .enumerate()
        .filter_map(|(index, hook)| run_one(kind, index, hook, state_json).err())
        .collect()
}

fn run_one(kind: &'static str, index: usize, hook: &Hook, state: &[u8]) -> Result<(), HookError> {
    let path = hook.path().display().to_string();
    let spawn_err = |source| HookError::Spawn {
        kind,
        index,
        path: path.clone(),
        source,
    };
    // Output goes to an anonymous file so a chatty hook cannot block on a full pipe.
    let out =
        nix::sys::memfd::memfd_create(c"berth-hook-output", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| spawn_err(e.into()))?;
    let out = std::fs::File::from(out);
    let mut cmd = Command::new(hook.path());
    let args = hook.args().clone().unwrap_or_default();
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(out.try_clone().map_err(spawn_err)?)
        .stderr(out.try_clone().map_err(spawn_err)?)
        .current_dir("/");
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine (EPIPE).
        let _ = stdin.write_all(state);
    }
    let timeout = hook.timeout().filter(|t| *t > 0);
    let status = match timeout {
        None => child.wait().map_err(spawn_err)?,
        Some(secs) => {
            let pidfd = crate::sys::pidfd_open(child.id() as i32).map_err(spawn_err)?;
            let mut fds = [nix::poll::PollFd::new(
                pidfd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let ms = Duration::from_secs(secs as u64)
                .as_millis()
                .min(i32::MAX as u128) as i32;
            let ready = nix::poll::poll(
                &mut fds,
                nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
            )
            .map_err(|e| spawn_err(e.into()))?;
            if ready == 0 {
                let _ = crate::sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
                let _ = child.wait();
                return Err(HookError::Timeout {
                    kind,
                    index,
                    path,
                    secs,
                });
            }
            child.wait().map_err(spawn_err)?
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let mut out = out;
    let _ = out.seek(std::io::SeekFrom::Start(0));
    let _ = (&mut out).take(4096).read_to_string(&mut text);
    let text = text.trim();
    Err(HookError::Failed {
        kind,
        index,
        path,
        status: status.to_string(),
        output: if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn hook(path: &str, args: &[&str], env: &[&str], timeout: Option<i64>) -> Hook {
        let mut h = Hook::default();
        h.set_path(PathBuf::from(path));
        h.set_args(Some(args.iter().map(|s| s.to_string()).collect()));
        h.set_env(Some(env.iter().map(|s| s.to_string()).collect()));
        h.set_timeout(timeout);
        h
    }

    #[test]
    fn hook_gets_state_args_and_only_its_env() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let script = format!(
            "cat > {o}; echo \"$0 $1 $FOO ${{HOME-unset}}\" >> {o}",
            o = out.display()
        );
        let h = hook(
            "/bin/sh",
            &["myhook", "-c", &script, "zero", "one"],
            &["FOO=bar"],
            None,
        );
        run_all("prestart", &[h], b"{\"id\":\"x\"}").unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        // berth's own HOME is not inherited: the hook's env is exactly hook.env.
        assert_eq!(got, "{\"id\":\"x\"}zero one bar unset\n");
    }

    #[test]
    fn failing_hook_reports_status_and_output() {
        let h = hook("/bin/sh", &["sh", "-c", "echo oops >&2; exit 3"], &[], None);
        let e = run_all("createRuntime", &[h], b"{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("createRuntime hook #0"), "{e}");
        assert!(e.contains("exit status: 3"), "{e}");
        assert!(e.contains("oops"), "{e}");
    }

    #[test]
    fn timeout_kills_the_hook() {
        let h = hook("/bin/sh", &["sh", "-c", "sleep 30"], &[], Some(1));
        let t = std::time::Instant::now();
        let e = run_all("poststart", &[h], b"{}").unwrap_err();
        assert!(matches!(e, HookError::Timeout { secs: 1, .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn run_each_goes_on_after_a_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let script = format!("echo ran >> {}", out.display());
        let bad = hook("/bin/sh", &["sh", "-c", "exit 1"], &[], None);
        let good = hook("/bin/sh", &["sh", "-c", &script], &[], None);
        let errs = run_each("poststop", &[bad, good], b"{}");
        assert_eq!(errs.len(), 1);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "ran\n");
    }

    #[test]
    fn missing_hook_binary_is_a_spawn_error() {
        let h = hook("/nonexistent/hook", &[], &[], None);
        let e = run_all("prestart", &[h], b"{}").unwrap_err();
        assert!(matches!(e, HookError::Spawn { .. }), "{e}");
    }
}
