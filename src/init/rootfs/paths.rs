//! Paths inside the rootfs: resolved under it, created in it, used through their fd.

use crate::sys;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// `/proc/self/fd/N` for an fd: the handle through which mounts and writes are made.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// Open `path` inside `root` (O_PATH), creating missing directories (0755) and, for
/// `Kind::File`, an empty last component. Symlinks met on the way are followed as the
/// kernel would with `root` as `/` (absolute targets restart at `root`, `..` stops
/// there), so a dangling link in the image makes berth create inside the rootfs what
/// the link names, never anything outside it.
pub fn resolve_or_create(root: BorrowedFd<'_>, path: &Path, kind: Kind) -> io::Result<OwnedFd> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    match sys::openat2_in_root(root, path, libc::O_PATH, 0) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(fd) = create_last(root, path, kind)? {
        return Ok(fd);
    }
    fn comps(p: &Path) -> Vec<OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect()
    }
    let mut todo: VecDeque<OsString> = comps(path).into();
    let mut cur = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            cur.pop();
            continue;
        }
        let last = todo.is_empty();
        let parent = sys::openat2_in_root(root, &cur, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        let fmt = nix::sys::stat::fstatat(
            parent.as_fd(),
            name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT);
        match fmt {
            Ok(SFlag::S_IFLNK) => {
                links += 1;
                if links > 40 {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target =
                    PathBuf::from(nix::fcntl::readlinkat(parent.as_fd(), name.as_os_str())?);
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                for c in comps(&target).into_iter().rev() {
                    todo.push_front(c);
                }
            }
            Ok(f) => {
                if !last && f != SFlag::S_IFDIR {
                    return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
                }
                cur.push(&name);
            }
            Err(nix::errno::Errno::ENOENT) => {
                let what = if last { kind } else { Kind::Dir };
                match make_in(parent.as_fd(), name.as_os_str(), what) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                cur.push(&name);
            }
            Err(e) => return Err(e.into()),
        }
    }
    sys::openat2_in_root(root, &cur, libc::O_PATH, 0)
}

/// The common case of `resolve_or_create`: only the last component is missing and it
/// is a plain name, so it is made in its parent (resolved in `root`) with no walk.
/// None when that does not apply (a missing parent, a dangling symlink as the last
/// component, `..`), and the caller walks component by component.
fn create_last(root: BorrowedFd<'_>, path: &Path, kind: Kind) -> io::Result<Option<OwnedFd>> {
    let (Some(parent), Some(Component::Normal(name))) =
        (path.parent(), path.components().next_back())
    else {
        return Ok(None);
    };
    let dir = match sys::openat2_in_root(root, parent, libc::O_PATH | libc::O_DIRECTORY, 0) {
        Ok(fd) => fd,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    match make_in(dir.as_fd(), name, kind) {
        Ok(()) => sys::openat2_in_root(root, path, libc::O_PATH, 0).map(Some),
        // EEXIST: something is there after all (a dangling symlink): the walk follows it.
        Err(nix::errno::Errno::EEXIST) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Make `name` in `dir`: an empty file (0644, never through a symlink) or a
/// directory (0755). EEXIST when something is there already.
pub(super) fn make_in(dir: BorrowedFd<'_>, name: &OsStr, kind: Kind) -> nix::Result<()> {
    match kind {
        Kind::File => nix::fcntl::openat(
            dir,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop),
        Kind::Dir => nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(0o755)),
    }
}

pub(super) fn is_dir(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let st = nix::sys::stat::fstat(fd)?;
    Ok(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root_fd(dir: &Path) -> OwnedFd {
        nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn makes_a_missing_last_component_in_its_parent() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("sys/fs/cgroup")).unwrap();
        let root = root_fd(tmp.path());
        let fd =
            resolve_or_create(root.as_fd(), Path::new("/sys/fs/cgroup/cpu"), Kind::Dir).unwrap();
        assert!(is_dir(fd.as_fd()).unwrap());
        assert!(tmp.path().join("sys/fs/cgroup/cpu").is_dir());
        resolve_or_create(root.as_fd(), Path::new("/sys/fs/file"), Kind::File).unwrap();
        assert!(tmp.path().join("sys/fs/file").is_file());
        // There already: opened, nothing made.
        let again = resolve_or_create(root.as_fd(), Path::new("/sys/fs/cgroup/cpu"), Kind::Dir);
        assert!(again.is_ok());
    }

    #[test]
    fn makes_missing_parents_too() {
        let tmp = tempfile::tempdir().unwrap();
        let root = root_fd(tmp.path());
        resolve_or_create(root.as_fd(), Path::new("/a/b/c"), Kind::File).unwrap();
        assert!(tmp.path().join("a/b").is_dir());
        assert!(tmp.path().join("a/b/c").is_file());
    }

    #[test]
    fn dangling_symlinks_are_followed_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("etc")).unwrap();
        // The last component a dangling absolute link; a parent a link out of the root.
        symlink("/target/dir", tmp.path().join("etc/last")).unwrap();
        symlink(outside.path(), tmp.path().join("up")).unwrap();
        let root = root_fd(tmp.path());
        resolve_or_create(root.as_fd(), Path::new("/etc/last"), Kind::Dir).unwrap();
        assert!(
            tmp.path().join("target/dir").is_dir(),
            "made under the root"
        );
        resolve_or_create(root.as_fd(), Path::new("/up/x"), Kind::Dir).unwrap();
        assert!(
            !outside.path().join("x").exists(),
            "nothing made outside the root"
        );
        assert!(tmp
            .path()
            .join(outside.path().strip_prefix("/").unwrap())
            .join("x")
            .is_dir());
    }
}
