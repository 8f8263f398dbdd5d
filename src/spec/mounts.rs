//! Mount options of config.json `mounts[].options`, parsed into what the kernel takes:
//! MS_* flags, propagation changes, fs data, and recursive (mount_setattr) attributes.
//! The table follows runc's (libcontainer/specconv) so that engines' configs mean the same.

/// What one `mounts[]` entry's options ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// MS_* flags to pass to mount(2) (nix::mount::MsFlags bits), e.g. MS_RDONLY | MS_NOSUID.
    pub flags: u64,
    /// MS_* flags the options explicitly cleared ("rw", "suid", "dev", "exec", "atime"...).
    pub cleared: u64,
    /// Propagation changes applied after the mount, in order (MS_PRIVATE, MS_REC|MS_SHARED, ...).
    pub propagation: Vec<u64>,
    /// Filesystem-specific options joined by commas ("mode=755,size=65536k").
    pub data: String,
    /// MOUNT_ATTR_* to set recursively with mount_setattr(AT_RECURSIVE) ("rro", "rnosuid", ...).
    pub rec_attr_set: u64,
    /// MOUNT_ATTR_* to clear recursively ("rrw", "rsuid", ...).
    pub rec_attr_clr: u64,
    /// "bind" or "rbind" was given.
    pub bind: bool,
    /// "rbind" was given (MS_BIND | MS_REC).
    pub recursive: bool,
    /// "tmpcopyup": copy the lower directory's content into a new tmpfs.
    pub tmpcopyup: bool,
}

/// Parse `options`; an error names the index of the offending option and why.
pub fn parse_options(options: &[String]) -> Result<MountOptions, (usize, String)> {
    let _ = options;
    Ok(MountOptions::default())
}
