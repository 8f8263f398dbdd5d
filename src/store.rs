//! The state store under `--root`: one directory per container, holding `state.json`,
//! a snapshot of the config (`config.json`), and the exec fifo while the container
//! waits for `start`. The directory itself is the per-id lock (flock on its fd), and
//! its atomic mkdir is what makes an id unique (SECURITY.md attack 17).

use crate::id::ContainerId;
use crate::state::StateRecord;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const CONFIG_FILE: &str = "config.json";
pub const EXEC_FIFO: &str = "exec.fifo";
/// The container's cgroup path, noted once create owns the cgroup and before
/// anything runs in it, so that `delete` finds the cgroup even when berth was killed
/// before it wrote the state record. A symlink whose target is the path: made
/// atomically by one syscall, and held in the inode (no data block to write and, at
/// delete, to free).
pub const CGROUP_FILE: &str = "cgroup";
/// linux.seccomp as create compiled it (`seccomp::Filter::to_cache`): `exec` loads
/// it instead of compiling the profile again.
pub const SECCOMP_FILE: &str = "seccomp.json";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    #[error("container with id \"{0}\" already exists")]
    Exists(String),
    #[error("state store {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("state store {path}: corrupt state: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A container's directory, locked for the lifetime of this value.
#[derive(Debug)]
pub struct Entry {
    pub id: ContainerId,
    pub dir: PathBuf,
    _lock: nix::fcntl::Flock<fs::File>,
}

impl Store {
    pub fn new(root: &Path) -> Self {
        Store {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Make a new container directory; fails if the id is taken. The root is created
    /// (0700) on first use.
    pub fn create(&self, id: &ContainerId) -> Result<Entry, StoreError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(io_err(&self.root))?;
        let dir = self.root.join(id.as_str());
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StoreError::Exists(id.to_string()))
            }
            Err(e) => return Err(io_err(&dir)(e)),
        }
        let lock = lock_dir(&dir)?;
        Ok(Entry {
            id: id.clone(),
            dir,
            _lock: lock,
        })
    }

    /// Open and lock an existing container directory.
    pub fn open(&self, id: &ContainerId) -> Result<Entry, StoreError> {
        let dir = self.root.join(id.as_str());
        let lock = match lock_dir(&dir) {
            Ok(l) => l,
            Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(id.to_string()))
            }
            Err(e) => return Err(e),
        };
        // It may have been deleted while we waited for the lock.
        if !dir.exists() {
            return Err(StoreError::NotFound(id.to_string()));
        }
        Ok(Entry {
            id: id.clone(),
            dir,
            _lock: lock,
        })
    }

    /// Ids of every container directory, sorted. A missing root means none.
    pub fn ids(&self) -> Result<Vec<ContainerId>, StoreError> {
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.root)(e)),
        };
        let mut ids: Vec<ContainerId> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| ContainerId::parse(e.file_name().to_str()?).ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

fn lock_dir(dir: &Path) -> Result<nix::fcntl::Flock<fs::File>, StoreError> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(io_err(dir))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| io_err(dir)(e.into()))
}

impl Entry {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The record, or None while create has not written it yet.
    pub fn load(&self) -> Result<Option<StateRecord>, StoreError> {
        let path = self.path(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path,
                reason: e.to_string(),
            })
    }

    pub fn save(&self, rec: &StateRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(rec).map_err(|e| StoreError::Corrupt {
            path: self.path(STATE_FILE),
            reason: e.to_string(),
        })?;
        self.write_atomic(STATE_FILE, &bytes)
    }

    /// Write-then-rename, so a reader sees the old or the new file, never half of one.
    /// No fsync: the store lives on tmpfs (/run) and does not outlive a reboot.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = self.path(&format!(".{name}.tmp"));
        let dst = self.path(name);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        fs::rename(&tmp, &dst).map_err(io_err(&dst))
    }

    /// A symlink `name` -> `target` (a note that needs no tmp file and rename: symlink
    /// is atomic). Read back with `read_note`.
    pub fn write_note(&self, name: &str, target: &str) -> Result<(), StoreError> {
        let dst = self.path(name);
        std::os::unix::fs::symlink(target, &dst).map_err(io_err(&dst))
    }

    /// What `write_note` wrote (or, from a berth that wrote notes as files, the
    /// file's text).
    pub fn read_note(&self, name: &str) -> Option<String> {
        let p = self.path(name);
        match fs::read_link(&p) {
            Ok(t) => Some(t.to_string_lossy().into_owned()),
            Err(_) => fs::read_to_string(&p).ok(),
        }
    }

    /// Remove the directory and everything in it. The lock goes with the value.
    pub fn remove(self) -> Result<(), StoreError> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&self.dir)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_is_exclusive_and_remove_frees_the_id() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(&tmp.path().join("root"));
        let id = ContainerId::parse("c1").unwrap();
        let e = store.create(&id).unwrap();
        assert!(matches!(store.create(&id), Err(StoreError::Exists(_))));
        e.write_atomic("x", b"1").unwrap();
        assert_eq!(store.ids().unwrap(), vec![id.clone()]);
        e.remove().unwrap();
        assert!(matches!(store.open(&id), Err(StoreError::NotFound(_))));
        assert!(store.ids().unwrap().is_empty());
        store.create(&id).unwrap();
    }

    #[test]
    fn notes_are_symlinks_and_old_file_notes_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(&tmp.path().join("root"));
        let e = store.create(&ContainerId::parse("c1").unwrap()).unwrap();
        e.write_note(CGROUP_FILE, "/berth/c1").unwrap();
        assert!(fs::symlink_metadata(e.path(CGROUP_FILE))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(e.read_note(CGROUP_FILE).as_deref(), Some("/berth/c1"));
        assert!(e.write_note(CGROUP_FILE, "/other").is_err(), "written once");
        e.write_atomic("old", b"/engine/x").unwrap();
        assert_eq!(e.read_note("old").as_deref(), Some("/engine/x"));
        assert_eq!(e.read_note("missing"), None);
    }

    #[test]
    fn missing_root_lists_nothing() {
        let store = Store::new(Path::new("/nonexistent/berth-root"));
        assert!(store.ids().unwrap().is_empty());
        let id = ContainerId::parse("x").unwrap();
        assert!(matches!(store.open(&id), Err(StoreError::NotFound(_))));
    }
}
