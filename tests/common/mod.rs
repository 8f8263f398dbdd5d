//! Shared harness for the integration tests: a busybox-static rootfs, a bundle builder,
//! a per-test state root, a wrapper around the runtime binary, and a guard (`Ctx`) that
//! deletes every container the test made and removes its temp dirs, even on failure.
//!
//! The runtime under test is `$BERTH_TEST_RUNTIME` (e.g. `/usr/sbin/runc`), or the berth
//! binary built by cargo. Checks of behaviour where berth deliberately differs from runc
//! are skipped when the runtime is runc (`is_runc()`).

#![allow(dead_code)]

mod bundle;
mod host;

pub use bundle::*;
pub use host::*;

use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest any single runtime invocation may take before the test fails.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// Return from the test (passing) with a message unless running as root.
#[allow(unused_macros)]
macro_rules! require_root {
    () => {
        if !$crate::common::is_root() {
            eprintln!("skipping {}: needs root", module_path!());
            return;
        }
    };
}

/// Return from the test (passing) when the runtime is runc: the test checks a
/// behaviour where berth deliberately differs from runc.
#[allow(unused_macros)]
macro_rules! berth_only {
    ($why:expr) => {
        if $crate::common::is_runc() {
            eprintln!("skipping on runc (berth-specific): {}", $why);
            return;
        }
    };
}

pub fn runtime_path() -> PathBuf {
    match std::env::var_os("BERTH_TEST_RUNTIME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_berth")),
    }
}

/// The runtime under test is runc (checks of berth-only behaviour are skipped).
pub fn is_runc() -> bool {
    runtime_path()
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("runc"))
}

/// The name the runtime prints in `--version` ("berth" or "runc").
pub fn runtime_name() -> &'static str {
    if is_runc() {
        "runc"
    } else {
        "berth"
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Poll `cond` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// Output of one runtime invocation

#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Where stdout went: a container started by `create` keeps writing here.
    pub stdout_path: PathBuf,
    pub elapsed: Duration,
    pub what: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panic with the command's stderr unless it succeeded.
    #[track_caller]
    pub fn expect_ok(&self) -> &Self {
        assert!(
            self.ok(),
            "`{}` failed ({}):\nstdout: {}\nstderr: {}",
            self.what,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panic unless it failed with exit status 1 and said something on stderr.
    #[track_caller]
    pub fn expect_err(&self) -> &Self {
        assert!(
            !self.ok(),
            "`{}` succeeded but should have failed:\nstdout: {}\nstderr: {}",
            self.what,
            self.stdout,
            self.stderr
        );
        assert_eq!(
            self.code(),
            Some(1),
            "`{}`: errors exit with status 1 ({}); stderr: {}",
            self.what,
            self.status,
            self.stderr
        );
        assert!(
            !self.stderr.trim().is_empty(),
            "`{}`: an error must be reported on stderr",
            self.what
        );
        self
    }
}

// ---------------------------------------------------------------------------
// Invocation options

#[derive(Default, Clone)]
pub struct Opts {
    /// Working directory of the runtime process.
    pub cwd: Option<PathBuf>,
    /// Extra environment for the runtime process.
    pub env: Vec<(String, String)>,
    /// Files to install at the given fd numbers in the runtime process (not CLOEXEC).
    pub fds: Vec<(PathBuf, i32)>,
    pub timeout: Option<Duration>,
    /// Do not pass `--root` (for tests of the root dir handling itself).
    pub no_root: bool,
}

// ---------------------------------------------------------------------------
// The runtime binary

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Run the runtime with `args`; stdin is /dev/null, stdout/stderr go to files in `outdir`
/// (not pipes: a container keeps the caller's stdio, and a pipe would never reach EOF).
pub fn run_runtime(outdir: &Path, args: &[String], opts: &Opts) -> Output {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let out_path = outdir.join(format!("cmd{n}.stdout"));
    let err_path = outdir.join(format!("cmd{n}.stderr"));
    let what = format!("{} {}", runtime_path().display(), args.join(" "));
    let child = spawn_runtime(args, opts, &out_path, &err_path);
    let start = Instant::now();
    let status = wait_child(child, opts.timeout.unwrap_or(CMD_TIMEOUT), &what);
    Output {
        status,
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        stdout_path: out_path,
        elapsed: start.elapsed(),
        what,
    }
}

pub fn spawn_runtime(args: &[String], opts: &Opts, out: &Path, err: &Path) -> Child {
    try_spawn_runtime(args, opts, out, err).expect("spawn runtime")
}

fn try_spawn_runtime(
    args: &[String],
    opts: &Opts,
    out: &Path,
    err: &Path,
) -> std::io::Result<Child> {
    let mut cmd = Command::new(runtime_path());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(out)?)
        .stderr(fs::File::create(err)?);
    if let Some(cwd) = &opts.cwd {
        cmd.current_dir(cwd);
    }
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    let mut files = vec![];
    for (p, n) in &opts.fds {
        files.push((fs::File::open(p)?, *n));
    }
    if !files.is_empty() {
        let raw: Vec<(i32, i32)> = files
            .iter()
            .map(|(f, n)| (std::os::fd::AsRawFd::as_raw_fd(f), *n))
            .collect();
        // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                for &(from, to) in &raw {
                    if from == to {
                        libc::fcntl(to, libc::F_SETFD, 0);
                    } else if libc::dup2(from, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    // `files` stays open until the child has exec'd.
    cmd.spawn()
}

/// Wait for `child`, killing it and panicking if it takes longer than `timeout`.
pub fn wait_child(mut child: Child, timeout: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return st,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{what}` did not finish within {timeout:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The per-test guard

/// One test's world: a temp dir holding its bundles and its `--root`, the ids it made.
/// Dropping it deletes every container (`delete --force`), stray mounts and cgroups.
pub struct Ctx {
    tmp: Option<tempfile::TempDir>,
    pub dir: PathBuf,
    /// The state root passed as `--root` (created by the runtime, not by the harness).
    pub root: PathBuf,
    name: String,
    ids: Mutex<Vec<String>>,
    cgroups: Mutex<Vec<String>>,
    bundles: AtomicUsize,
}

impl Ctx {
    pub fn new(name: &str) -> Ctx {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("berth-test-{name}-"))
            .tempdir()
            .expect("tempdir");
        let dir = tmp.path().to_path_buf();
        // Readable by a container's remapped root in user-namespace tests.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir(dir.join("out")).unwrap();
        Ctx {
            root: dir.join("state"),
            dir,
            tmp: Some(tmp),
            name: name.replace('_', "-"),
            ids: Mutex::new(vec![]),
            cgroups: Mutex::new(vec![]),
            bundles: AtomicUsize::new(0),
        }
    }

    /// A fresh container id unique to this test and process, cleaned up on drop.
    pub fn id(&self, tag: &str) -> String {
        let id = format!("{}-{}-{}", self.name, tag, std::process::id());
        self.track(&id);
        id
    }

    /// Make Drop `delete --force` this id too.
    pub fn track(&self, id: &str) {
        let mut ids = self.ids.lock().unwrap();
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }

    /// Make Drop rmdir this cgroup path (e.g. "/x/y") in every hierarchy.
    pub fn track_cgroup(&self, path: &str) {
        self.cgroups.lock().unwrap().push(path.to_string());
    }

    /// A new bundle dir with a busybox rootfs and the default config (not yet saved).
    pub fn bundle(&self, args: &[&str]) -> Bundle {
        let n = self.bundles.fetch_add(1, Ordering::SeqCst);
        let dir = self.dir.join(format!("bundle{n}"));
        build_rootfs(&dir.join("rootfs"));
        Bundle {
            dir,
            config: default_config(args),
        }
    }

    /// A new empty directory under the test's temp dir.
    pub fn mkdir(&self, name: &str) -> PathBuf {
        let p = self.dir.join(name);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).unwrap();
        p
    }

    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// `runtime --root ROOT args...`
    pub fn cmd(&self, args: &[&str]) -> Output {
        self.cmd_opts(args, &Opts::default())
    }

    pub fn cmd_opts(&self, args: &[&str], opts: &Opts) -> Output {
        run_runtime(&self.dir.join("out"), &self.full_args(args, opts), opts)
    }

    pub fn full_args(&self, args: &[&str], opts: &Opts) -> Vec<String> {
        let mut v = vec![];
        if !opts.no_root {
            v.push("--root".to_string());
            v.push(self.root.to_string_lossy().into_owned());
        }
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    /// Start the runtime without waiting (for races and `run` in the foreground).
    pub fn spawn(&self, args: &[&str]) -> (Child, PathBuf, PathBuf) {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let out = self.dir.join("out").join(format!("spawn{n}.stdout"));
        let err = self.dir.join("out").join(format!("spawn{n}.stderr"));
        let opts = Opts::default();
        let child = spawn_runtime(&self.full_args(args, &opts), &opts, &out, &err);
        (child, out, err)
    }

    /// Save the bundle's config and `create --bundle DIR ID`.
    pub fn create(&self, b: &Bundle, id: &str) -> Output {
        b.save();
        self.track(id);
        self.cmd(&["create", "--bundle", &b.dir_str(), id])
    }

    /// Save the bundle's config and `run --bundle DIR ID` in the foreground.
    pub fn run(&self, b: &Bundle, id: &str) -> Output {
        b.save();
        self.track(id);
        self.cmd(&["run", "--bundle", &b.dir_str(), id])
    }

    /// Run a container in the foreground and return its stdout; panics unless it exits 0.
    #[track_caller]
    pub fn run_ok(&self, b: &Bundle, tag: &str) -> String {
        let id = self.id(tag);
        let out = self.run(b, &id);
        out.expect_ok();
        out.stdout
    }

    /// Run `sh -c SCRIPT` in a new container (config changed by `edit`) in the
    /// foreground and return what it printed; panics unless it exits 0.
    #[track_caller]
    pub fn run_sh(&self, tag: &str, script: &str, edit: impl FnOnce(&mut Bundle)) -> String {
        let mut b = self.bundle(&["sh", "-c", script]);
        edit(&mut b);
        self.run_ok(&b, tag)
    }

    pub fn start(&self, id: &str) -> Output {
        self.cmd(&["start", id])
    }

    /// The parsed `state ID` JSON; panics if the command fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        let out = self.cmd(&["state", id]);
        out.expect_ok();
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state output is not JSON ({e}): {}", out.stdout))
    }

    /// The container's status, or None if `state` fails.
    pub fn status(&self, id: &str) -> Option<String> {
        let out = self.cmd(&["state", id]);
        if !out.ok() {
            return None;
        }
        let v: Value = serde_json::from_str(&out.stdout).ok()?;
        v["status"].as_str().map(String::from)
    }

    /// Poll `state` until the status is `want` (10 s deadline).
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str) {
        let mut last = None;
        let ok = wait_until(Duration::from_secs(10), || {
            last = self.status(id);
            last.as_deref() == Some(want)
        });
        assert!(ok, "{id}: status {last:?}, expected {want}");
    }

    /// The container's init process from `state` (pid must be > 0).
    #[track_caller]
    pub fn init_proc(&self, id: &str) -> Proc {
        let pid = self.state(id)["pid"].as_i64().expect("state pid") as i32;
        assert!(pid > 0, "state pid {pid}");
        Proc::of(pid).expect("init pid exists")
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.ids.lock().unwrap_or_else(|e| e.into_inner()));
        let out = self.dir.join("out");
        for id in &ids {
            // Nothing here may panic: Drop also runs while a failed test unwinds.
            let args = vec![
                "--root".to_string(),
                self.root.to_string_lossy().into_owned(),
                "delete".to_string(),
                "--force".to_string(),
                id.clone(),
            ];
            let (o, e) = (out.join("drop.stdout"), out.join("drop.stderr"));
            if let Ok(mut child) = try_spawn_runtime(&args, &Opts::default(), &o, &e) {
                let done = wait_until(Duration::from_secs(30), || {
                    !matches!(child.try_wait(), Ok(None))
                });
                if !done {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            cleanup_cgroup(&format!("/berth-{id}"));
            kill_cgroups_named(id);
        }
        for cg in self
            .cgroups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            cleanup_cgroup(cg);
        }
        lazy_umount_under(&self.dir);
        if std::env::var_os("BERTH_TEST_KEEP").is_some() {
            if let Some(t) = self.tmp.take() {
                eprintln!("keeping {}", t.keep().display());
            }
        }
    }
}

/// tests/data/NAME.c built static with gcc into the target's temporary directory
/// (a helper program to run inside containers); callers keep the path in a OnceLock.
pub fn build_static_c(name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/{name}.c"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let tmp = out.with_extension(std::process::id().to_string());
    let st = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&tmp)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("gcc (build-essential) builds {}: {e}", src.display()));
    assert!(st.success(), "building {}", src.display());
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// A createRuntime hook that holds `create` until released: for tests that kill berth
/// mid-create. `ran` appears once the hook runs.
pub struct HeldCreate {
    pub ran: PathBuf,
    release: PathBuf,
}

impl HeldCreate {
    /// Put the hook in `b` (saved) and return its handles, files under `dir`.
    pub fn install(b: &mut Bundle, dir: &Path) -> HeldCreate {
        let ran = dir.join("hook-ran");
        let release = dir.join("release");
        b.config["hooks"] = serde_json::json!({"createRuntime": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("touch {0}; while [ ! -e {1} ]; do sleep 0.05; done",
                ran.display(), release.display())]
        }]});
        b.save();
        HeldCreate { ran, release }
    }

    /// Whether the hook started within 20 s.
    pub fn wait_ran(&self) -> bool {
        wait_until(Duration::from_secs(20), || self.ran.exists())
    }

    /// Let the hook finish.
    pub fn release(&self) {
        fs::write(&self.release, "").unwrap();
    }
}
