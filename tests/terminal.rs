//! process.terminal with --console-socket: berth sends the pty master over the socket
//! (SCM_RIGHTS), applies consoleSize, and the process has the slave as its controlling
//! terminal and /dev/console.

#[macro_use]
mod common;

use common::Ctx;
use serde_json::json;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
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
    berth_only!("runc proxies the terminal itself in the foreground");
    let ctx = Ctx::new("tty-nosock");
    let mut b = ctx.bundle(&["true"]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let id = ctx.id("c");
    let out = ctx.create(&b, &id);
    out.expect_err();
    assert!(out.stderr.contains("--console-socket"), "{}", out.stderr);
    assert!(!ctx.state_dir(&id).exists());
}
