//! config-linux.md "Devices", "Default Devices" and runtime-linux.md
//! "Dev symbolic links".

use crate::sys;
use crate::tap::Tap;
use crate::Ctx;
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

pub fn check(ctx: &Ctx, t: &mut Tap) {
    if ctx.want("devices") {
        config_devices(ctx, t);
    }
    if ctx.want("defaultdev") {
        default_devices(t);
        dev_symlinks(t);
    }
}

fn kind(m: &std::fs::Metadata) -> &'static str {
    let ft = m.file_type();
    if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else if ft.is_fifo() {
        "p"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "directory"
    } else {
        "regular file or other"
    }
}

fn config_devices(ctx: &Ctx, t: &mut Tap) {
    for d in ctx
        .cfg("/linux/devices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let path = d.get("path").and_then(Value::as_str).unwrap_or("?");
        let ty = d.get("type").and_then(Value::as_str).unwrap_or("?");
        let name = format!(
            "config: linux.devices {path} exists with its type, major/minor, fileMode, uid and gid"
        );
        let m = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                t.case(&name, Err(format!("stat {path}: {e}")));
                continue;
            }
        };
        let mut bad = Vec::new();
        // "u" is an unbuffered character device: the same node type as "c".
        let want_kind = if ty == "u" { "c" } else { ty };
        if kind(&m) != want_kind {
            bad.push(format!("type: expected {want_kind}, got {}", kind(&m)));
        }
        if ty != "p" {
            let want = (
                d.get("major").and_then(Value::as_u64),
                d.get("minor").and_then(Value::as_u64),
            );
            let got = (Some(sys::major(m.rdev())), Some(sys::minor(m.rdev())));
            if want != got {
                bad.push(format!("major/minor: expected {want:?}, got {got:?}"));
            }
        }
        if let Some(mode) = d.get("fileMode").and_then(Value::as_u64) {
            let (want, got) = (mode as u32 & 0o7777, m.mode() & 0o7777);
            if want != got {
                bad.push(format!("fileMode: expected {want:o}, got {got:o}"));
            }
        }
        if let Some(uid) = d.get("uid").and_then(Value::as_u64) {
            if uid != m.uid() as u64 {
                bad.push(format!("uid: expected {uid}, got {}", m.uid()));
            }
        }
        if let Some(gid) = d.get("gid").and_then(Value::as_u64) {
            if gid != m.gid() as u64 {
                bad.push(format!("gid: expected {gid}, got {}", m.gid()));
            }
        }
        let r = if bad.is_empty() {
            Ok(())
        } else {
            Err(bad.join("; "))
        };
        t.case(&name, r);
    }
}

fn default_devices(t: &mut Tap) {
    let devs = [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ];
    for (path, maj, min) in devs {
        let got = std::fs::metadata(path)
            .map(|m| {
                (
                    kind(&m).to_string(),
                    sys::major(m.rdev()),
                    sys::minor(m.rdev()),
                )
            })
            .map_err(|e| e.to_string());
        t.eq_res(
            &format!("config-linux: default device {path} is supplied (char {maj}:{min})"),
            ("c".to_string(), maj, min),
            got,
        );
    }
    // Supplied means usable, not only present.
    let io = |path: &str, write: bool| -> Result<(), String> {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(write)
            .open(path)
            .map_err(|e| format!("open {path}: {e}"))?;
        let mut buf = [0xffu8; 16];
        f.read_exact(&mut buf)
            .map_err(|e| format!("read {path}: {e}"))?;
        if path == "/dev/zero" && buf.iter().any(|b| *b != 0) {
            return Err("/dev/zero read non-zero bytes".into());
        }
        if write {
            let r = f.write(b"x");
            match (path, r) {
                ("/dev/full", Err(e)) if e.raw_os_error() == Some(libc::ENOSPC) => {}
                ("/dev/full", other) => {
                    return Err(format!("write /dev/full: expected ENOSPC, got {other:?}"))
                }
                (_, Err(e)) => return Err(format!("write {path}: {e}")),
                _ => {}
            }
        }
        Ok(())
    };
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .and_then(|mut f| {
            f.write_all(b"x")?;
            let mut b = Vec::new();
            f.read_to_end(&mut b).map(|n| n == 0)
        })
        .map_err(|e| e.to_string());
    t.eq_res(
        "config-linux: default device /dev/null is usable (write ok, reads EOF)",
        true,
        null,
    );
    for (path, write) in [
        ("/dev/zero", true),
        ("/dev/full", true),
        ("/dev/random", false),
        ("/dev/urandom", false),
    ] {
        t.case(
            &format!("config-linux: default device {path} is usable"),
            io(path, write),
        );
    }
    // /dev/ptmx: a bind mount or symlink of the container's /dev/pts/ptmx.
    let id = |a: &str| -> Result<(u64, u64), String> {
        let m = std::fs::metadata(a).map_err(|e| format!("stat {a}: {e}"))?;
        Ok((m.dev(), m.ino()))
    };
    let r = match (id("/dev/ptmx"), id("/dev/pts/ptmx")) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (Ok(a), Ok(b)) => Err(format!(
            "/dev/ptmx is dev/ino {a:?}, /dev/pts/ptmx is {b:?}"
        )),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    t.case(
        "config-linux: default device /dev/ptmx is a bind mount or symlink of /dev/pts/ptmx",
        r,
    );
}

fn dev_symlinks(t: &mut Tap) {
    let links = [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ];
    let proc_mounted = std::fs::metadata("/proc/self/fd").is_ok();
    for (dest, src) in links {
        let name = format!("runtime-linux: {dest} is a symlink to {src}");
        if !proc_mounted {
            t.case(&format!("{name} [source absent: not required]"), Ok(()));
            continue;
        }
        let got = std::fs::read_link(dest)
            .map(|p| p.display().to_string())
            .map_err(|e| e.to_string());
        t.eq_res(&name, src.to_string(), got);
    }
}
