//! Bundles: a busybox-static rootfs with the probe in /.probe, config.json,
//! and the probe's copies of config.json and host.json.

use serde_json::Value;
use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

pub const BUSYBOX: &str = "/bin/busybox";
pub const PROBE_IN_CONTAINER: &str = "/.probe/berth-probe";

pub struct Bundles {
    work: PathBuf,
    probe: PathBuf,
    applets: Vec<String>,
    /// Whether the work dir is a shared mount (see host::make_shared).
    shared: bool,
}

/// Extra rootfs preparation for one bundle: (bundle dir, rootfs dir).
pub type Prepare<'a> = &'a dyn Fn(&Path, &Path) -> io::Result<()>;

pub fn no_prep(_: &Path, _: &Path) -> io::Result<()> {
    Ok(())
}

/// The probe must not need a dynamic loader: the rootfs has no libc.
pub fn check_static(probe: &Path) -> Result<(), String> {
    let b = fs::read(probe).map_err(|e| format!("read {}: {e}", probe.display()))?;
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return Err(format!("{} is not a 64-bit ELF file", probe.display()));
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[32..40].try_into().unwrap_or([0; 8])) as usize;
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        if o + 4 <= b.len() && u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) == 3 {
            return Err(format!(
                "{} is dynamically linked (has PT_INTERP); build it with RUSTFLAGS='-C target-feature=+crt-static' (see conformance/README.md)",
                probe.display()
            ));
        }
    }
    Ok(())
}

impl Bundles {
    pub fn new(work: &Path, probe: &Path, shared: bool) -> Result<Bundles, String> {
        let out = std::process::Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .map_err(|e| format!("{BUSYBOX} --list: {e}"))?;
        let applets = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty() && !a.contains('/') && *a != "busybox")
            .map(str::to_string)
            .collect::<Vec<_>>();
        if applets.is_empty() {
            return Err(format!("{BUSYBOX} --list printed no applets"));
        }
        Ok(Bundles {
            work: work.to_path_buf(),
            probe: probe.to_path_buf(),
            applets,
            shared,
        })
    }

    pub fn work(&self) -> &Path {
        &self.work
    }

    fn rootfs(&self, r: &Path) -> io::Result<()> {
        for (d, mode) in [
            ("bin", 0o755),
            ("dev", 0o755),
            ("etc", 0o755),
            ("home", 0o755),
            ("home/test", 0o755),
            ("mnt", 0o755),
            ("proc", 0o555),
            ("root", 0o700),
            ("sys", 0o555),
            ("tmp", 0o1777),
            (".probe", 0o755),
        ] {
            let p = r.join(d);
            fs::create_dir_all(&p)?;
            fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
        }
        std::os::unix::fs::chown(r.join("home/test"), Some(1000), Some(1000))?;
        fs::copy(BUSYBOX, r.join("bin/busybox"))?;
        for a in &self.applets {
            symlink("busybox", r.join("bin").join(a))?;
        }
        fs::write(
            r.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n\
             nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
             test:x:1000:1000:test:/home/test:/bin/sh\n",
        )?;
        fs::write(
            r.join("etc/group"),
            "root:x:0:\nnobody:x:65534:\ntest:x:1000:\n",
        )?;
        let probe = r.join(PROBE_IN_CONTAINER.trim_start_matches('/'));
        fs::copy(&self.probe, &probe)?;
        fs::set_permissions(&probe, fs::Permissions::from_mode(0o755))?;
        Ok(())
    }

    /// A fresh bundle `bundles/<name>` for `cfg`, prepared by `prep`.
    pub fn make(&self, name: &str, cfg: &Value, prep: Prepare) -> Result<PathBuf, String> {
        let dir = self.work.join("bundles").join(name);
        let err = |what: &str, e: io::Error| format!("bundle {name}: {what}: {e}");
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| err("remove old", e))?;
        }
        let rootfs = dir.join("rootfs");
        fs::create_dir_all(&rootfs).map_err(|e| err("mkdir", e))?;
        for d in [self.work.join("bundles"), dir.clone()] {
            fs::set_permissions(&d, fs::Permissions::from_mode(0o755))
                .map_err(|e| err("chmod", e))?;
        }
        self.rootfs(&rootfs).map_err(|e| err("rootfs", e))?;
        prep(&dir, &rootfs).map_err(|e| err("prepare", e))?;
        self.write_config(&dir, cfg)?;
        Ok(dir)
    }

    /// (Re)write config.json and the probe's copies of it and of host.json.
    pub fn write_config(&self, dir: &Path, cfg: &Value) -> Result<(), String> {
        let text = serde_json::to_string_pretty(cfg).map_err(|e| e.to_string())?;
        let host = serde_json::to_string_pretty(&crate::host::facts(cfg, dir, self.shared))
            .map_err(|e| e.to_string())?;
        let probe_dir = dir.join("rootfs/.probe");
        let w = |p: PathBuf, t: &str| {
            fs::write(&p, t).map_err(|e| format!("write {}: {e}", p.display()))
        };
        w(dir.join("config.json"), &text)?;
        if probe_dir.is_dir() {
            w(probe_dir.join("config.json"), &text)?;
            w(probe_dir.join("host.json"), &host)?;
        }
        Ok(())
    }
}

/// lchown every entry under `p` (for user namespace rootfs ownership).
pub fn chown_tree(p: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))?;
    let md = fs::symlink_metadata(p)?;
    if md.is_dir() {
        for e in fs::read_dir(p)? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}
