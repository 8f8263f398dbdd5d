//! Mount options of config.json `mounts[].options`, parsed into what the kernel takes:
//! MS_* flags, propagation changes, fs data, and recursive (mount_setattr) attributes.
//! The table follows runc's (libcontainer/specconv) so that engines' configs mean the same.
//!
//! Differences from runc, on purpose:
//! - `defaults` is a no-op; runc passes it on as fs data, which tmpfs and friends refuse.
//! - The recursive access-time options (`ratime`, `rnoatime`, `rrelatime`, `rnorelatime`,
//!   `rstrictatime`, `rnostrictatime`) always select one value of the MOUNT_ATTR__ATIME
//!   enum and put the whole MOUNT_ATTR__ATIME mask in `rec_attr_clr`, as mount_setattr(2)
//!   requires (a partial mask there is EINVAL). `rnoatime`/`rstrictatime`/`rrelatime`
//!   select that mode; `ratime` and `rnostrictatime` select relatime (the kernel's default
//!   when neither noatime nor strictatime is asked); `rnorelatime` selects strictatime.
//! - Options that cannot be passed to mount(2) at all (empty, or containing ',' or NUL)
//!   are errors instead of being glued into the data string.

use nix::mount::MsFlags;

/// What one `mounts[]` entry's options ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// MS_* flags to pass to mount(2) (nix::mount::MsFlags bits), e.g. MS_RDONLY | MS_NOSUID.
    /// Includes MS_BIND (and MS_REC for "rbind") and MS_REMOUNT when asked for.
    pub flags: u64,
    /// MS_* flags the options explicitly cleared ("rw", "suid", "dev", "exec", "atime"...).
    /// A flag is never in both `flags` and `cleared`: the last option naming it wins.
    pub cleared: u64,
    /// Propagation changes applied after the mount, in order (MS_PRIVATE, MS_REC|MS_SHARED, ...).
    pub propagation: Vec<u64>,
    /// Filesystem-specific options joined by commas ("mode=755,size=65536k"), in the
    /// order given. Every option that is not in the tables below lands here, as runc does.
    pub data: String,
    /// MOUNT_ATTR_* to set recursively with mount_setattr(AT_RECURSIVE) ("rro", "rnosuid", ...).
    pub rec_attr_set: u64,
    /// MOUNT_ATTR_* to clear recursively ("rrw", "rsuid", ...). Contains the whole
    /// MOUNT_ATTR__ATIME mask whenever an access-time option was given.
    pub rec_attr_clr: u64,
    /// "bind" or "rbind" was given.
    pub bind: bool,
    /// "rbind" was given (MS_BIND | MS_REC).
    pub recursive: bool,
    /// "tmpcopyup": copy the lower directory's content into a new tmpfs.
    pub tmpcopyup: bool,
}

impl MountOptions {
    /// `flags` as nix's type (bits nix does not name, such as MS_NOSYMFOLLOW, are kept).
    pub fn ms_flags(&self) -> MsFlags {
        MsFlags::from_bits_retain(self.flags as libc::c_ulong)
    }

    /// Whether any recursive attribute (mount_setattr) was asked for.
    pub fn has_rec_attr(&self) -> bool {
        self.rec_attr_set != 0 || self.rec_attr_clr != 0
    }

    /// Whether "ro" was given (and not undone by a later "rw").
    pub fn readonly(&self) -> bool {
        self.flags & ms(MsFlags::MS_RDONLY) != 0
    }
}

/// MS_* bits as u64 (they are a c_ulong, which is u32 on 32-bit targets).
#[allow(clippy::unnecessary_cast)]
const fn ms(f: MsFlags) -> u64 {
    f.bits() as u64
}

/// MS_NOSYMFOLLOW (Linux 5.10); nix has no name for it.
#[allow(clippy::unnecessary_cast)]
const MS_NOSYMFOLLOW: u64 = libc::MS_NOSYMFOLLOW as u64;

/// `(name, clear, flag)`: plain mount(2) flags (runc's `mountFlags`).
const MOUNT_FLAGS: &[(&str, bool, u64)] = &[
    ("async", true, ms(MsFlags::MS_SYNCHRONOUS)),
    ("atime", true, ms(MsFlags::MS_NOATIME)),
    ("bind", false, ms(MsFlags::MS_BIND)),
    ("dev", true, ms(MsFlags::MS_NODEV)),
    ("diratime", true, ms(MsFlags::MS_NODIRATIME)),
    ("dirsync", false, ms(MsFlags::MS_DIRSYNC)),
    ("exec", true, ms(MsFlags::MS_NOEXEC)),
    ("iversion", false, ms(MsFlags::MS_I_VERSION)),
    ("lazytime", false, ms(MsFlags::MS_LAZYTIME)),
    ("loud", true, ms(MsFlags::MS_SILENT)),
    ("mand", false, ms(MsFlags::MS_MANDLOCK)),
    ("noatime", false, ms(MsFlags::MS_NOATIME)),
    ("nodev", false, ms(MsFlags::MS_NODEV)),
    ("nodiratime", false, ms(MsFlags::MS_NODIRATIME)),
    ("noexec", false, ms(MsFlags::MS_NOEXEC)),
    ("noiversion", true, ms(MsFlags::MS_I_VERSION)),
    ("nolazytime", true, ms(MsFlags::MS_LAZYTIME)),
    ("nomand", true, ms(MsFlags::MS_MANDLOCK)),
    ("norelatime", true, ms(MsFlags::MS_RELATIME)),
    ("nostrictatime", true, ms(MsFlags::MS_STRICTATIME)),
    ("nosuid", false, ms(MsFlags::MS_NOSUID)),
    ("nosymfollow", false, MS_NOSYMFOLLOW),
    ("rbind", false, ms(MsFlags::MS_BIND.union(MsFlags::MS_REC))),
    ("relatime", false, ms(MsFlags::MS_RELATIME)),
    ("remount", false, ms(MsFlags::MS_REMOUNT)),
    ("ro", false, ms(MsFlags::MS_RDONLY)),
    ("rw", true, ms(MsFlags::MS_RDONLY)),
    ("silent", false, ms(MsFlags::MS_SILENT)),
    ("strictatime", false, ms(MsFlags::MS_STRICTATIME)),
    ("suid", true, ms(MsFlags::MS_NOSUID)),
    ("symfollow", true, MS_NOSYMFOLLOW),
    ("sync", false, ms(MsFlags::MS_SYNCHRONOUS)),
];

/// Propagation options (runc's `mountPropagationMapping`), also the values
/// `linux.rootfsPropagation` may take.
pub const PROPAGATION: &[(&str, u64)] = &[
    ("private", ms(MsFlags::MS_PRIVATE)),
    ("rprivate", ms(MsFlags::MS_PRIVATE.union(MsFlags::MS_REC))),
    ("shared", ms(MsFlags::MS_SHARED)),
    ("rshared", ms(MsFlags::MS_SHARED.union(MsFlags::MS_REC))),
    ("slave", ms(MsFlags::MS_SLAVE)),
    ("rslave", ms(MsFlags::MS_SLAVE.union(MsFlags::MS_REC))),
    ("unbindable", ms(MsFlags::MS_UNBINDABLE)),
    (
        "runbindable",
        ms(MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
    ),
];

/// `(name, clear, attr)`: recursive attributes that are plain bits (runc's `recAttrFlags`
/// minus the access-time ones, see `REC_ATIME`).
const REC_ATTR_FLAGS: &[(&str, bool, u64)] = &[
    ("rro", false, libc::MOUNT_ATTR_RDONLY),
    ("rrw", true, libc::MOUNT_ATTR_RDONLY),
    ("rnosuid", false, libc::MOUNT_ATTR_NOSUID),
    ("rsuid", true, libc::MOUNT_ATTR_NOSUID),
    ("rnodev", false, libc::MOUNT_ATTR_NODEV),
    ("rdev", true, libc::MOUNT_ATTR_NODEV),
    ("rnoexec", false, libc::MOUNT_ATTR_NOEXEC),
    ("rexec", true, libc::MOUNT_ATTR_NOEXEC),
    ("rnodiratime", false, libc::MOUNT_ATTR_NODIRATIME),
    ("rdiratime", true, libc::MOUNT_ATTR_NODIRATIME),
    ("rnosymfollow", false, libc::MOUNT_ATTR_NOSYMFOLLOW),
    ("rsymfollow", true, libc::MOUNT_ATTR_NOSYMFOLLOW),
];

/// `(name, mode)`: recursive access-time options; `mode` is one value of the
/// MOUNT_ATTR__ATIME enum (MOUNT_ATTR_RELATIME is 0).
const REC_ATIME: &[(&str, u64)] = &[
    ("rrelatime", libc::MOUNT_ATTR_RELATIME),
    ("rnoatime", libc::MOUNT_ATTR_NOATIME),
    ("rstrictatime", libc::MOUNT_ATTR_STRICTATIME),
    ("ratime", libc::MOUNT_ATTR_RELATIME),
    ("rnostrictatime", libc::MOUNT_ATTR_RELATIME),
    ("rnorelatime", libc::MOUNT_ATTR_STRICTATIME),
];

/// The propagation flags of a propagation option name ("rprivate" -> MS_PRIVATE|MS_REC).
pub fn propagation_flags(name: &str) -> Option<u64> {
    PROPAGATION
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, f)| f)
}

/// A mount destination as an absolute path inside the container. config.md: a relative
/// destination (deprecated) "MUST be interpreted as relative to /".
pub fn absolute_destination(dest: &std::path::Path) -> std::path::PathBuf {
    std::path::Path::new("/").join(dest)
}

/// Every option name this module gives a meaning to (for the `features` verb).
pub fn known_options() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = MOUNT_FLAGS
        .iter()
        .map(|(n, _, _)| *n)
        .chain(PROPAGATION.iter().map(|(n, _)| *n))
        .chain(REC_ATTR_FLAGS.iter().map(|(n, _, _)| *n))
        .chain(REC_ATIME.iter().map(|(n, _)| *n))
        .chain(["defaults", "tmpcopyup"])
        .collect();
    names.sort_unstable();
    names
}

/// Parse `options`; an error names the index of the offending option and why.
pub fn parse_options(options: &[String]) -> Result<MountOptions, (usize, String)> {
    let mut m = MountOptions::default();
    let mut data: Vec<&str> = Vec::new();
    for (i, o) in options.iter().enumerate() {
        let o = o.as_str();
        check_option_text(o).map_err(|reason| (i, reason))?;
        if o == "defaults" {
            continue;
        }
        if let Some(&(_, clear, flag)) = MOUNT_FLAGS.iter().find(|(n, _, _)| *n == o) {
            if clear {
                m.flags &= !flag;
                m.cleared |= flag;
            } else {
                m.flags |= flag;
                m.cleared &= !flag;
            }
            if o == "bind" || o == "rbind" {
                m.bind = true;
                m.recursive |= o == "rbind";
            }
        } else if let Some(flag) = propagation_flags(o) {
            m.propagation.push(flag);
        } else if let Some(&(_, clear, attr)) = REC_ATTR_FLAGS.iter().find(|(n, _, _)| *n == o) {
            if clear {
                m.rec_attr_clr |= attr;
                m.rec_attr_set &= !attr;
            } else {
                m.rec_attr_set |= attr;
                m.rec_attr_clr &= !attr;
            }
        } else if let Some(&(_, mode)) = REC_ATIME.iter().find(|(n, _)| *n == o) {
            m.rec_attr_set = (m.rec_attr_set & !libc::MOUNT_ATTR__ATIME) | mode;
            m.rec_attr_clr |= libc::MOUNT_ATTR__ATIME;
        } else if o == "tmpcopyup" {
            m.tmpcopyup = true;
        } else if o == "idmap" || o == "ridmap" {
            return Err((i, format!("{o:?}: id-mapped mounts are not supported")));
        } else {
            data.push(o);
        }
    }
    m.data = data.join(",");
    Ok(m)
}

/// An option must be something mount(2)'s comma-separated data string can carry.
fn check_option_text(o: &str) -> Result<(), String> {
    if o.is_empty() {
        return Err("empty mount option".into());
    }
    if o.contains('\0') {
        return Err(format!("mount option {o:?} contains a NUL byte"));
    }
    if o.contains(',') {
        return Err(format!(
            "mount option {o:?} contains ','; give each option as its own array entry"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn parse(list: &[&str]) -> MountOptions {
        match parse_options(&opts(list)) {
            Ok(m) => m,
            Err(e) => panic!("{list:?}: {e:?}"),
        }
    }

    #[test]
    fn dev_tmpfs_of_docker_and_podman() {
        let m = parse(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(m.flags, ms(MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME));
        assert_eq!(m.cleared, 0);
        assert_eq!(m.data, "mode=755,size=65536k");
        assert!(!m.bind && !m.recursive && !m.tmpcopyup && !m.has_rec_attr());
        assert!(m.propagation.is_empty());
    }

    #[test]
    fn devpts() {
        let m = parse(&[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]);
        assert_eq!(m.flags, ms(MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC));
        assert_eq!(m.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    }

    #[test]
    fn overlay_data_passes_through_in_order() {
        let m = parse(&["lowerdir=/a:/b", "upperdir=/u", "workdir=/w", "ro"]);
        assert_eq!(m.data, "lowerdir=/a:/b,upperdir=/u,workdir=/w");
        assert!(m.readonly());
    }

    #[test]
    fn rbind_rprivate_ro() {
        let m = parse(&["rbind", "rprivate", "ro"]);
        assert!(m.bind && m.recursive);
        assert_eq!(
            m.flags,
            ms(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY)
        );
        assert_eq!(
            m.propagation,
            vec![ms(MsFlags::MS_PRIVATE | MsFlags::MS_REC)]
        );
        assert_eq!(m.data, "");
    }

    #[test]
    fn bind_is_not_recursive() {
        let m = parse(&["bind", "rw"]);
        assert!(m.bind && !m.recursive);
        assert_eq!(m.flags, ms(MsFlags::MS_BIND));
        assert_eq!(m.cleared, ms(MsFlags::MS_RDONLY));
    }

    #[test]
    fn propagation_kept_in_order() {
        let m = parse(&["shared", "rslave", "unbindable", "runbindable", "private"]);
        assert_eq!(
            m.propagation,
            vec![
                ms(MsFlags::MS_SHARED),
                ms(MsFlags::MS_SLAVE | MsFlags::MS_REC),
                ms(MsFlags::MS_UNBINDABLE),
                ms(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
                ms(MsFlags::MS_PRIVATE),
            ]
        );
        assert_eq!(m.flags, 0);
    }

    #[test]
    fn last_of_a_pair_wins() {
        let m = parse(&["ro", "rw"]);
        assert!(!m.readonly());
        assert_eq!(m.cleared, ms(MsFlags::MS_RDONLY));
        let m = parse(&["rw", "ro"]);
        assert!(m.readonly());
        assert_eq!(m.cleared, 0);
        let m = parse(&["nosuid", "suid", "nodev", "dev", "noexec", "exec"]);
        assert_eq!(m.flags, 0);
        assert_eq!(
            m.cleared,
            ms(MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC)
        );
    }

    #[test]
    fn every_plain_flag() {
        let cases: &[(&str, u64, u64)] = &[
            ("async", 0, ms(MsFlags::MS_SYNCHRONOUS)),
            ("sync", ms(MsFlags::MS_SYNCHRONOUS), 0),
            ("atime", 0, ms(MsFlags::MS_NOATIME)),
            ("noatime", ms(MsFlags::MS_NOATIME), 0),
            ("diratime", 0, ms(MsFlags::MS_NODIRATIME)),
            ("nodiratime", ms(MsFlags::MS_NODIRATIME), 0),
            ("dirsync", ms(MsFlags::MS_DIRSYNC), 0),
            ("iversion", ms(MsFlags::MS_I_VERSION), 0),
            ("noiversion", 0, ms(MsFlags::MS_I_VERSION)),
            ("lazytime", ms(MsFlags::MS_LAZYTIME), 0),
            ("nolazytime", 0, ms(MsFlags::MS_LAZYTIME)),
            ("loud", 0, ms(MsFlags::MS_SILENT)),
            ("silent", ms(MsFlags::MS_SILENT), 0),
            ("mand", ms(MsFlags::MS_MANDLOCK), 0),
            ("nomand", 0, ms(MsFlags::MS_MANDLOCK)),
            ("relatime", ms(MsFlags::MS_RELATIME), 0),
            ("norelatime", 0, ms(MsFlags::MS_RELATIME)),
            ("strictatime", ms(MsFlags::MS_STRICTATIME), 0),
            ("nostrictatime", 0, ms(MsFlags::MS_STRICTATIME)),
            ("remount", ms(MsFlags::MS_REMOUNT), 0),
            ("nosymfollow", MS_NOSYMFOLLOW, 0),
            ("symfollow", 0, MS_NOSYMFOLLOW),
            ("nodev", ms(MsFlags::MS_NODEV), 0),
            ("dev", 0, ms(MsFlags::MS_NODEV)),
            ("noexec", ms(MsFlags::MS_NOEXEC), 0),
            ("exec", 0, ms(MsFlags::MS_NOEXEC)),
            ("nosuid", ms(MsFlags::MS_NOSUID), 0),
            ("suid", 0, ms(MsFlags::MS_NOSUID)),
        ];
        for &(name, flags, cleared) in cases {
            let m = parse(&[name]);
            assert_eq!((m.flags, m.cleared), (flags, cleared), "{name}");
            assert_eq!(m.data, "", "{name}");
        }
    }

    #[test]
    fn relative_destination_is_under_root() {
        use std::path::{Path, PathBuf};
        assert_eq!(
            absolute_destination(Path::new("data")),
            PathBuf::from("/data")
        );
        assert_eq!(
            absolute_destination(Path::new("/dev/shm")),
            PathBuf::from("/dev/shm")
        );
    }

    #[test]
    fn defaults_is_a_no_op() {
        assert_eq!(parse(&["defaults"]), MountOptions::default());
    }

    #[test]
    fn rro_and_friends() {
        let m = parse(&["rbind", "rro"]);
        assert_eq!(m.rec_attr_set, libc::MOUNT_ATTR_RDONLY);
        assert_eq!(m.rec_attr_clr, 0);
        assert!(!m.readonly(), "rro is not MS_RDONLY on the top mount");
        let m = parse(&["rro", "rrw"]);
        assert_eq!(m.rec_attr_set, 0);
        assert_eq!(m.rec_attr_clr, libc::MOUNT_ATTR_RDONLY);
        let m = parse(&[
            "rnosuid",
            "rnodev",
            "rnoexec",
            "rnodiratime",
            "rnosymfollow",
        ]);
        assert_eq!(
            m.rec_attr_set,
            libc::MOUNT_ATTR_NOSUID
                | libc::MOUNT_ATTR_NODEV
                | libc::MOUNT_ATTR_NOEXEC
                | libc::MOUNT_ATTR_NODIRATIME
                | libc::MOUNT_ATTR_NOSYMFOLLOW
        );
        let m = parse(&["rsuid", "rdev", "rexec", "rdiratime", "rsymfollow"]);
        assert_eq!(m.rec_attr_set, 0);
        assert_eq!(
            m.rec_attr_clr,
            libc::MOUNT_ATTR_NOSUID
                | libc::MOUNT_ATTR_NODEV
                | libc::MOUNT_ATTR_NOEXEC
                | libc::MOUNT_ATTR_NODIRATIME
                | libc::MOUNT_ATTR_NOSYMFOLLOW
        );
    }

    #[test]
    fn recursive_atime_selects_one_mode_and_clears_the_whole_mask() {
        let cases: &[(&str, u64)] = &[
            ("rnoatime", libc::MOUNT_ATTR_NOATIME),
            ("rstrictatime", libc::MOUNT_ATTR_STRICTATIME),
            ("rrelatime", libc::MOUNT_ATTR_RELATIME),
            ("ratime", libc::MOUNT_ATTR_RELATIME),
            ("rnostrictatime", libc::MOUNT_ATTR_RELATIME),
            ("rnorelatime", libc::MOUNT_ATTR_STRICTATIME),
        ];
        for &(name, mode) in cases {
            let m = parse(&[name]);
            assert_eq!(m.rec_attr_set, mode, "{name}");
            assert_eq!(m.rec_attr_clr, libc::MOUNT_ATTR__ATIME, "{name}");
            assert!(m.has_rec_attr(), "{name}");
        }
        let m = parse(&["rnoatime", "rstrictatime", "rro"]);
        assert_eq!(
            m.rec_attr_set,
            libc::MOUNT_ATTR_STRICTATIME | libc::MOUNT_ATTR_RDONLY
        );
        assert_eq!(m.rec_attr_clr, libc::MOUNT_ATTR__ATIME);
    }

    #[test]
    fn tmpcopyup() {
        let m = parse(&["tmpcopyup", "mode=1777"]);
        assert!(m.tmpcopyup);
        assert_eq!(m.data, "mode=1777");
    }

    #[test]
    fn idmap_is_reported_unsupported() {
        for name in ["idmap", "ridmap"] {
            let e = parse_options(&opts(&["rbind", name]));
            assert!(
                matches!(e, Err((1, ref r)) if r.contains("not supported")),
                "{e:?}"
            );
        }
    }

    #[test]
    fn unusable_option_text_is_an_error_with_its_index() {
        assert!(matches!(
            parse_options(&opts(&["ro", "mode=755,size=1k"])),
            Err((1, _))
        ));
        assert!(matches!(
            parse_options(&opts(&["ro", "rw", "a\0b"])),
            Err((2, _))
        ));
        assert!(matches!(parse_options(&opts(&[""])), Err((0, _))));
    }

    #[test]
    fn ms_flags_keeps_bits_nix_does_not_name() {
        let m = parse(&["nosymfollow", "ro"]);
        assert_eq!(ms(m.ms_flags()), MS_NOSYMFOLLOW | ms(MsFlags::MS_RDONLY));
    }

    #[test]
    fn known_options_cover_the_spec_table() {
        let known = known_options();
        for name in [
            "async",
            "atime",
            "bind",
            "defaults",
            "dev",
            "diratime",
            "dirsync",
            "exec",
            "iversion",
            "lazytime",
            "loud",
            "mand",
            "noatime",
            "nodev",
            "nodiratime",
            "noexec",
            "noiversion",
            "nolazytime",
            "nomand",
            "norelatime",
            "nostrictatime",
            "nosuid",
            "nosymfollow",
            "private",
            "ratime",
            "rbind",
            "rdev",
            "rdiratime",
            "relatime",
            "remount",
            "rexec",
            "rnoatime",
            "rnodiratime",
            "rnoexec",
            "rnorelatime",
            "rnostrictatime",
            "rnosuid",
            "rnosymfollow",
            "ro",
            "rprivate",
            "rrelatime",
            "rro",
            "rrw",
            "rshared",
            "rslave",
            "rstrictatime",
            "rsuid",
            "rsymfollow",
            "runbindable",
            "rw",
            "shared",
            "silent",
            "slave",
            "strictatime",
            "suid",
            "symfollow",
            "sync",
            "tmpcopyup",
            "unbindable",
        ] {
            assert!(known.contains(&name), "{name}");
            // None of them may fall through to fs data.
            assert_eq!(parse(&[name]).data, "", "{name}");
        }
    }
}
