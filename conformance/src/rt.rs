//! Driving the runtime under test through its runc-compatible CLI.
//!
//! Every invocation gets stdin from /dev/null and stdout/stderr in files (not
//! pipes: a container created by `create` inherits them and would keep a pipe
//! open), and a timeout after which the runtime process is killed. Every id
//! this harness creates is remembered so that `cleanup` can `delete --force` it.

use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// Exit status and the end of stderr, for failure details.
    pub fn describe(&self) -> String {
        let status = match (self.timed_out, self.code) {
            (true, _) => "timed out".to_string(),
            (false, Some(c)) => format!("exit {c}"),
            (false, None) => "killed by a signal".to_string(),
        };
        let err = self.stderr.trim();
        let tail: String = if err.len() > 300 {
            format!("...{}", &err[err.len() - 300..])
        } else {
            err.to_string()
        };
        if tail.is_empty() {
            status
        } else {
            format!("{status}, stderr: {tail}")
        }
    }
}

pub struct Runtime {
    pub path: PathBuf,
    pub root: PathBuf,
    logs: PathBuf,
    seq: Cell<usize>,
    ids: RefCell<BTreeSet<String>>,
}

impl Runtime {
    pub fn new(path: &Path, work: &Path) -> std::io::Result<Runtime> {
        let root = work.join("state");
        let logs = work.join("logs");
        std::fs::create_dir_all(&root)?;
        std::fs::create_dir_all(&logs)?;
        Ok(Runtime {
            path: path.to_path_buf(),
            root,
            logs,
            seq: Cell::new(0),
            ids: RefCell::new(BTreeSet::new()),
        })
    }

    /// Run `runtime --root R args...`, optionally with `extra_fd` inherited
    /// (without FD_CLOEXEC) as fd 9, to check it does not reach the container.
    pub fn exec(&self, args: &[&str], timeout: Duration, extra_fd: Option<&File>) -> Out {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        let out_path = self.logs.join(format!("{n}.out"));
        let err_path = self.logs.join(format!("{n}.err"));
        let files = File::create(&out_path).and_then(|o| Ok((o, File::create(&err_path)?)));
        let (out_f, err_f) = match files {
            Ok(f) => f,
            Err(e) => return failed_to_spawn(format!("log files: {e}")),
        };
        let mut cmd = Command::new(&self.path);
        cmd.arg("--root")
            .arg(&self.root)
            .args(args)
            // Must not reach hooks or the container (config.md: hook env).
            .env("BERTH_CONFORMANCE_LEAK", "1")
            .stdin(Stdio::null())
            .stdout(out_f)
            .stderr(err_f);
        if let Some(f) = extra_fd {
            use std::os::fd::AsRawFd;
            let fd = f.as_raw_fd();
            // SAFETY: dup2 is async-signal-safe; it runs in the child between
            // fork and exec, and the new fd 9 has FD_CLOEXEC clear.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::dup2(fd, 9) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return failed_to_spawn(format!("spawn {}: {e}", self.path.display())),
        };
        let start = Instant::now();
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if start.elapsed() > timeout => {
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait().ok();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => break None,
            }
        };
        Out {
            code: status.and_then(|s| s.code()),
            stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
            timed_out,
        }
    }

    fn remember(&self, id: &str) {
        self.ids.borrow_mut().insert(id.to_string());
    }

    pub fn create(&self, bundle: &Path, id: &str, pid_file: Option<&Path>) -> Out {
        self.remember(id);
        let b = bundle.display().to_string();
        let mut args = vec!["create", "--bundle", b.as_str()];
        let p;
        if let Some(f) = pid_file {
            p = f.display().to_string();
            args.extend(["--pid-file", p.as_str()]);
        }
        args.push(id);
        self.exec(&args, TIMEOUT, None)
    }

    pub fn run(&self, bundle: &Path, id: &str, extra_fd: Option<&File>) -> Out {
        self.remember(id);
        let b = bundle.display().to_string();
        self.exec(&["run", "--bundle", &b, id], TIMEOUT, extra_fd)
    }

    pub fn start(&self, id: &str) -> Out {
        self.exec(&["start", id], TIMEOUT, None)
    }

    pub fn kill(&self, id: &str, sig: &str) -> Out {
        self.exec(&["kill", id, sig], TIMEOUT, None)
    }

    pub fn delete(&self, id: &str) -> Out {
        self.exec(&["delete", id], TIMEOUT, None)
    }

    pub fn delete_force(&self, id: &str) -> Out {
        self.exec(&["delete", "--force", id], TIMEOUT, None)
    }

    pub fn state(&self, id: &str) -> Out {
        self.exec(&["state", id], TIMEOUT, None)
    }

    /// `state` parsed as JSON; Err says why there is none.
    pub fn state_json(&self, id: &str) -> Result<Value, String> {
        let out = self.state(id);
        if !out.ok() {
            return Err(format!("state failed: {}", out.describe()));
        }
        serde_json::from_str(&out.stdout)
            .map_err(|e| format!("state output is not JSON ({e}): {:?}", out.stdout))
    }

    pub fn status(&self, id: &str) -> Result<String, String> {
        let v = self.state_json(id)?;
        v.get("status")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("no status in {v}"))
    }

    /// Poll `state` until the status is `want` (or the deadline passes).
    pub fn wait_status(&self, id: &str, want: &str, within: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let got = self.status(id);
            if got.as_deref() == Ok(want) {
                return Ok(());
            }
            if start.elapsed() > within {
                return Err(format!(
                    "expected status {want:?} within {within:?}, got {got:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Force-delete every container this harness created and may have left.
    pub fn cleanup(&self) {
        let ids: Vec<String> = self.ids.borrow().iter().cloned().collect();
        for id in ids {
            self.forget(&id);
        }
    }

    /// Force-delete one container (errors ignored: it may already be gone).
    pub fn forget(&self, id: &str) {
        let _ = self.delete_force(id);
        self.ids.borrow_mut().remove(id);
    }
}

fn failed_to_spawn(msg: String) -> Out {
    Out {
        code: None,
        stdout: String::new(),
        stderr: msg,
        timed_out: false,
    }
}
