//! process.terminal with --console-socket: berth sends the pty master over the socket
//! (SCM_RIGHTS), applies consoleSize, and the process has the slave as its controlling
//! terminal and /dev/console. Without a console socket, a foreground `run` or
//! `exec --tty` proxies the terminal itself (as runc does): the tests drive berth
//! under a pty of their own, as a user's shell would.

#[macro_use]
mod common;

use common::Ctx;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{LocalFlags, Termios};
use serde_json::json;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Accept one connection on `listener` and receive the single fd it carries.
fn receive_master(listener: &UnixListener) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::AsRawFd;
    let (conn, _) = listener
        .accept()
        .expect("berth connects to the console socket");
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            assert_eq!(fds.len(), 1, "exactly one fd is sent");
            // SAFETY: the kernel just installed this fd for us.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd received on the console socket");
}

/// Everything readable from the pty master until the slave side closes (EIO).
fn read_all(master: OwnedFd, deadline: Duration) -> String {
    let mut f = std::fs::File::from(master);
    let mut out = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    while start.elapsed() < deadline {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).replace('\r', "")
}

#[test]
fn console_socket_receives_a_working_pty() {
    require_root!();
    let ctx = Ctx::new("tty-console");
    let sock = ctx.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let mut b = ctx.bundle(&[
        "sh",
        "-c",
        "tty; stty size; readlink /proc/self/fd/0; test -c /dev/console && echo console-ok",
    ]);
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 33, "width": 101});
    b.save();
    let id = ctx.id("c");
    let sock_s = sock.to_string_lossy().into_owned();
    let creator = std::thread::spawn({
        let args: Vec<String> = vec![
            "create".into(),
            "--bundle".into(),
            b.dir_str(),
            "--console-socket".into(),
            sock_s,
            id.clone(),
        ];
        let ctx_root = ctx.root.clone();
        move || {
            std::process::Command::new(common::runtime_path())
                .arg("--root")
                .arg(ctx_root)
                .args(&args)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap()
        }
    });
    ctx.track(&id);
    let master = receive_master(&listener);
    let out = creator.join().unwrap();
    assert!(
        out.status.success(),
        "create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ctx.start(&id).expect_ok();
    let text = read_all(master, Duration::from_secs(10));
    assert_eq!(text, "/dev/pts/0\n33 101\n/dev/pts/0\nconsole-ok\n");
}

#[test]
fn terminal_without_console_socket_is_refused_cleanly() {
    require_root!();
    let ctx = Ctx::new("tty-nosock");
    let mut b = ctx.bundle(&["true"]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let id = ctx.id("c");
    let out = ctx.create(&b, &id);
    out.expect_err();
    assert!(out.stderr.contains(DETACHED), "{}", out.stderr);
    assert!(!ctx.state_dir(&id).exists());
    // `run --detach` is a create too: no one would hold the master.
    let out = ctx.cmd(&["run", "--detach", "--bundle", &b.dir_str(), &id]);
    out.expect_err();
    assert!(out.stderr.contains(DETACHED), "{}", out.stderr);
    assert!(!ctx.state_dir(&id).exists());
}

/// runc's words for a tty nobody would hold (the runtime's name comes before them).
const DETACHED: &str = "will detach without setting console socket";

/// A pty standing in for the user's terminal; the test holds the master (and a
/// slave fd, to read its mode).
struct Term {
    master: OwnedFd,
    slave: OwnedFd,
    seen: String,
    pos: usize,
}

impl Term {
    fn new(rows: u16, cols: u16) -> Term {
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(&ws, None).expect("openpty");
        Term {
            master: pty.master,
            slave: pty.slave,
            seen: String::new(),
            pos: 0,
        }
    }

    /// The runtime with `args` (after --root), its stdio and controlling terminal the
    /// slave, in a session of its own (so a resize signals it, as in a shell).
    fn spawn(&self, ctx: &Ctx, args: &[&str]) -> Child {
        self.spawn_stdin(ctx, args, Stdio::from(self.slave.try_clone().unwrap()))
    }

    /// `spawn` with another stdin (stdout and stderr stay on the terminal).
    fn spawn_stdin(&self, ctx: &Ctx, args: &[&str], stdin: Stdio) -> Child {
        let mut cmd = Command::new(common::runtime_path());
        cmd.args(ctx.full_args(args, &common::Opts::default()))
            .stdin(stdin)
            .stdout(Stdio::from(self.slave.try_clone().unwrap()))
            .stderr(Stdio::from(self.slave.try_clone().unwrap()));
        // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(1, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.spawn().expect("spawn runtime")
    }

    /// Read the master until the output (\r removed) since the last match contains
    /// `needle`; what came before it and the needle. Panics after 20 s.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(i) = self.seen[self.pos..].find(needle) {
                let start = self.pos;
                self.pos += i + needle.len();
                return self.seen[start..self.pos].to_string();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {needle:?} on the terminal; saw {:?}",
                &self.seen
            );
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            let ms = PollTimeout::try_from(left.as_millis().min(1000) as i32).unwrap();
            if nix::poll::poll(&mut fds, ms).expect("poll") == 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            match nix::unistd::read(&self.master, &mut buf) {
                Ok(n) => self
                    .seen
                    .push_str(&String::from_utf8_lossy(&buf[..n]).replace('\r', "")),
                Err(e) => panic!("read from the pty: {e}; saw {:?}", self.seen),
            }
        }
    }

    fn type_in(&self, text: &str) {
        nix::unistd::write(&self.master, text.as_bytes()).expect("write to the pty");
    }

    /// Change the terminal's size, as a terminal emulator does: the kernel sends
    /// SIGWINCH to its foreground process group (the runtime).
    fn resize(&self, rows: u16, cols: u16) {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: a valid fd and a pointer to a live winsize.
        let r = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(r, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    }

    fn mode(&self) -> Termios {
        nix::sys::termios::tcgetattr(self.slave.as_fd()).expect("tcgetattr")
    }
}

/// The parts of a terminal mode that raw mode changes.
fn same_mode(a: &Termios, b: &Termios) -> bool {
    a.input_flags == b.input_flags
        && a.output_flags == b.output_flags
        && a.local_flags == b.local_flags
        && a.control_flags == b.control_flags
        && a.control_chars == b.control_chars
}

fn is_raw(t: &Termios) -> bool {
    !t.local_flags
        .intersects(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG)
}

/// The script both foreground tests run: the terminal's name and size, a line typed
/// in, the size after a resize, a distinctive exit code.
fn interactive(code: i32) -> String {
    format!(
        "tty; stty size; echo READY; read x; echo \"got $x\"; \
         while read y; do [ \"$y\" = q ] && exit {code}; echo \"size $(stty size).\"; done"
    )
}

/// Drive `interactive` on `term` in the runtime `child`: what it shows, what it reads,
/// how it follows a resize, its exit code, and the terminal's mode afterwards.
fn drive_interactive(term: &mut Term, child: Child, code: i32, before: &Termios) {
    let head = term.expect("READY\n");
    assert!(head.contains("/dev/pts/"), "the process's tty: {head:?}");
    // berth sizes the pty before the process starts; runc only after (a race).
    assert!(
        common::is_runc() || head.contains("\n31 97\nREADY"),
        "the process's first look at its size is the outer terminal's: {head:?}"
    );
    assert!(is_raw(&term.mode()), "the outer terminal is in raw mode");
    term.type_in("hello there\r");
    term.expect("got hello there\n");
    term.resize(50, 132);
    // berth handles the SIGWINCH (pending before the next keystroke is even written)
    // before it forwards that keystroke, so the first answer has the new size. runc
    // handles signals and input in separate goroutines: ask it until it has caught up.
    let tries = if common::is_runc() { 100 } else { 1 };
    let mut sizes = Vec::new();
    for _ in 0..tries {
        term.type_in("s\r");
        term.expect("size ");
        sizes.push(term.expect(".\n"));
        if sizes.last().is_some_and(|s| s == "50 132.\n") {
            break;
        }
    }
    assert_eq!(
        sizes.last().map(String::as_str),
        Some("50 132.\n"),
        "the resize reached the container's terminal: {sizes:?}"
    );
    term.type_in("q\r");
    let st = common::wait_child(child, Duration::from_secs(30), "runtime on a pty");
    assert_eq!(st.code(), Some(code), "the process's exit code");
    assert!(
        same_mode(&term.mode(), before),
        "the outer terminal's mode is restored"
    );
}

#[test]
fn run_in_the_foreground_proxies_the_terminal() {
    require_root!();
    let ctx = Ctx::new("tty-run");
    let mut b = ctx.bundle(&["sh", "-c", &interactive(3)]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let id = ctx.id("c");
    let mut term = Term::new(31, 97);
    let before = term.mode();
    assert!(!is_raw(&before));
    let child = term.spawn(&ctx, &["run", "--bundle", &b.dir_str(), &id]);
    drive_interactive(&mut term, child, 3, &before);
    assert!(!ctx.state_dir(&id).exists(), "run deleted the container");
}

/// A running container with a non-terminal init, for `exec`.
fn running(ctx: &Ctx) -> String {
    let b = ctx.bundle(&["sleep", "100000"]);
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    id
}

#[test]
fn exec_tty_in_the_foreground_proxies_the_terminal() {
    require_root!();
    let ctx = Ctx::new("tty-exec");
    let id = running(&ctx);
    let mut term = Term::new(31, 97);
    let before = term.mode();
    let script = interactive(5);
    let child = term.spawn(&ctx, &["exec", "-t", &id, "sh", "-c", &script]);
    drive_interactive(&mut term, child, 5, &before);
    assert_eq!(ctx.status(&id).as_deref(), Some("running"));
}

/// `exec -t` of a shell that says READY and then sleeps, under `term`.
fn spawn_exec_sleep(term: &Term, ctx: &Ctx, id: &str) -> Child {
    term.spawn(
        ctx,
        &[
            "exec",
            "-t",
            id,
            "sh",
            "-c",
            "echo READY; exec sleep 100000",
        ],
    )
}

#[test]
fn exec_tty_signals_reach_the_process() {
    require_root!();
    let ctx = Ctx::new("tty-sig");
    let id = running(&ctx);
    // ^C is a character in raw mode: the container's terminal makes it SIGINT.
    let mut term = Term::new(24, 80);
    let before = term.mode();
    let child = spawn_exec_sleep(&term, &ctx, &id);
    term.expect("READY\n");
    term.type_in("\x03");
    let st = common::wait_child(child, Duration::from_secs(30), "exec -t, ^C");
    assert_eq!(st.code(), Some(130), "killed by the SIGINT ^C made");
    assert!(
        same_mode(&term.mode(), &before),
        "mode restored after a signal death"
    );
    // A signal sent to berth is forwarded to the process.
    let mut term = Term::new(24, 80);
    let before = term.mode();
    let child = spawn_exec_sleep(&term, &ctx, &id);
    term.expect("READY\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let st = common::wait_child(child, Duration::from_secs(30), "exec -t, SIGTERM");
    assert_eq!(st.code(), Some(143), "killed by the forwarded SIGTERM");
    assert!(same_mode(&term.mode(), &before), "mode restored");
}

#[test]
fn exec_tty_detached_needs_a_console_socket() {
    require_root!();
    let ctx = Ctx::new("tty-execd");
    let id = running(&ctx);
    let out = ctx.cmd(&["exec", "-d", "-t", &id, "true"]);
    assert!(!out.ok(), "exec -d -t without a console socket succeeded");
    assert!(out.stderr.contains(DETACHED), "{}", out.stderr);
}

/// stdin is a pipe, stdout the user's terminal (`echo x | berth run`): the input is
/// proxied, the terminal is still put in raw mode, sized, and restored.
#[test]
fn run_with_piped_stdin_proxies_it() {
    require_root!();
    let ctx = Ctx::new("tty-stdin");
    let mut b = ctx.bundle(&[
        "sh",
        "-c",
        "tty; stty size; read x; echo \"got $x\"; exit 6",
    ]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let id = ctx.id("c");
    let mut term = Term::new(31, 97);
    let before = term.mode();
    let mut child = term.spawn_stdin(
        &ctx,
        &["run", "--bundle", &b.dir_str(), &id],
        Stdio::piped(),
    );
    child.stdin.take().unwrap().write_all(b"piped\n").unwrap();
    let text = term.expect("got piped\n");
    assert!(
        text.contains("/dev/pts/") && text.contains("\n31 97\n"),
        "{text:?}"
    );
    let st = common::wait_child(child, Duration::from_secs(30), "run with a piped stdin");
    assert_eq!(st.code(), Some(6));
    assert!(same_mode(&term.mode(), &before), "mode restored");
}

/// No terminal at all (a pipe, files): berth still proxies, and the pty keeps
/// process.consoleSize. runc refuses here ("open /dev/tty").
#[test]
fn run_terminal_without_a_terminal_still_proxies() {
    require_root!();
    berth_only!("runc needs some terminal (its stdio or /dev/tty) to proxy");
    let ctx = Ctx::new("tty-pipe");
    let mut b = ctx.bundle(&[
        "sh",
        "-c",
        "tty; stty size; read x; echo \"got $x\"; exit 4",
    ]);
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 33, "width": 101});
    b.save();
    let id = ctx.id("c");
    let out_path = ctx.dir.join("out").join("pipe.stdout");
    let mut child = Command::new(common::runtime_path())
        .args(ctx.full_args(
            &["run", "--bundle", &b.dir_str(), &id],
            &common::Opts::default(),
        ))
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(ctx.dir.join("out").join("pipe.stderr")).unwrap())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"piped\n").unwrap();
    }
    let st = common::wait_child(child, Duration::from_secs(30), "run with a piped stdin");
    assert_eq!(st.code(), Some(4));
    let text = std::fs::read_to_string(&out_path)
        .unwrap()
        .replace('\r', "");
    // The pty echoes the line as it arrives, possibly before the first output.
    let text = text.replacen("piped\n", "", 1);
    assert_eq!(text, "/dev/pts/0\n33 101\ngot piped\n");
}
