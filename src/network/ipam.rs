//! Address allocation for bridge networking, kept under `--root`:
//!
//! ```text
//! ROOT/@network/BRIDGE/lock        flock'd for every change
//! ROOT/@network/BRIDGE/subnet      the subnet the bridge was first used with
//! ROOT/@network/BRIDGE/10.119.0.2  one file per address in use, holding the id
//! ```
//!
//! `@` cannot appear in a container id, so `@network` is never taken for a
//! container's state dir. An address whose container has no state dir any more (it
//! was deleted, or create died before it made one) is reclaimed at the next
//! allocation: a crash cannot leak an address for longer than that.

use super::config::Subnet;
use super::NetworkError;
use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const DIR: &str = "@network";

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> NetworkError + '_ {
    move |source| NetworkError::Io {
        what: path.display().to_string(),
        source,
    }
}

/// The allocation dir of one bridge, locked while this value lives.
pub struct Pool {
    root: PathBuf,
    dir: PathBuf,
    _lock: nix::fcntl::Flock<fs::File>,
}

impl Pool {
    pub fn open(root: &Path, bridge: &str) -> Result<Pool, NetworkError> {
        let dir = root.join(DIR).join(bridge);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err(&dir))?;
        let lock_path = dir.join("lock");
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        let lock = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| io_err(&lock_path)(e.into()))?;
        Ok(Pool {
            root: root.to_path_buf(),
            dir,
            _lock: lock,
        })
    }

    /// (address, holder id) of every allocation file.
    fn entries(&self) -> Result<Vec<(Ipv4Addr, String)>, NetworkError> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let e = e.map_err(io_err(&self.dir))?;
            let Some(ip) = e
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<Ipv4Addr>().ok())
            else {
                continue;
            };
            let p = e.path();
            let id = match fs::read_to_string(&p) {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&p)(e)),
            };
            out.push((ip, id));
        }
        Ok(out)
    }

    fn holder_alive(&self, id: &str) -> bool {
        crate::id::ContainerId::parse(id).is_ok() && self.root.join(id).is_dir()
    }

    fn remove(&self, ip: Ipv4Addr) -> Result<(), NetworkError> {
        let p = self.dir.join(ip.to_string());
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&p)(e)),
            _ => Ok(()),
        }
    }

    /// Give `id` an address of `subnet` (`fixed` if asked), reclaiming those of
    /// containers that are gone.
    pub fn allocate(
        &self,
        subnet: Subnet,
        id: &str,
        fixed: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr, NetworkError> {
        let mut used = Vec::new();
        for (ip, holder) in self.entries()? {
            if holder == id {
                // A retry after a crash of this very create: start clean.
                self.remove(ip)?;
            } else if self.holder_alive(&holder) {
                used.push((ip, holder));
            } else {
                self.remove(ip)?;
            }
        }
        let subnet_file = self.dir.join("subnet");
        let recorded = fs::read_to_string(&subnet_file).ok();
        let want = subnet.to_string();
        match recorded {
            Some(r) if r != want && !used.is_empty() => {
                return Err(NetworkError::Annotation {
                    key: super::config::SUBNET.into(),
                    reason: format!(
                        "the bridge's containers use {r} ({} holds {})",
                        used[0].1, used[0].0
                    ),
                })
            }
            Some(r) if r == want => {}
            _ => fs::write(&subnet_file, &want).map_err(io_err(&subnet_file))?,
        }
        let ip = match fixed {
            Some(ip) => {
                if let Some((_, holder)) = used.iter().find(|(u, _)| *u == ip) {
                    return Err(NetworkError::Annotation {
                        key: super::config::IP.into(),
                        reason: format!("{ip} is in use by container {holder}"),
                    });
                }
                ip
            }
            None => subnet
                .container_addrs()
                .find(|a| !used.iter().any(|(u, _)| u == a))
                .ok_or_else(|| NetworkError::Annotation {
                    key: super::config::SUBNET.into(),
                    reason: format!("no free address left in {subnet}"),
                })?,
        };
        let p = self.dir.join(ip.to_string());
        let tmp = self.dir.join(format!(".{ip}.tmp"));
        fs::write(&tmp, id)
            .and_then(|_| fs::rename(&tmp, &p))
            .map_err(io_err(&p))?;
        Ok(ip)
    }

    /// Free every address `id` holds; how many there were.
    pub fn release(&self, id: &str) -> Result<usize, NetworkError> {
        let mut n = 0;
        for (ip, holder) in self.entries()? {
            if holder == id {
                self.remove(ip)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Free what `id` holds in every bridge's pool under `root`.
pub fn release_all(root: &Path, id: &str) -> Result<(), NetworkError> {
    let base = root.join(DIR);
    let rd = match fs::read_dir(&base) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(&base)(e)),
    };
    for e in rd {
        let e = e.map_err(io_err(&base))?;
        if let Some(bridge) = e.file_name().to_str() {
            if e.path().is_dir() {
                Pool::open(root, bridge)?.release(id)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::config::parse_subnet;

    #[test]
    fn allocate_unique_reclaim_and_release() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let sn = parse_subnet("10.1.0.0/29").unwrap();
        for id in ["a", "b", "c"] {
            fs::create_dir(root.join(id)).unwrap();
        }
        let pool = Pool::open(root, "br").unwrap();
        let a = pool.allocate(sn, "a", None).unwrap();
        let b = pool.allocate(sn, "b", None).unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 1, 0, 2));
        assert_eq!(b, Ipv4Addr::new(10, 1, 0, 3));
        // Fixed address in use by a live container.
        assert!(matches!(
            pool.allocate(sn, "c", Some(a)),
            Err(NetworkError::Annotation { key, .. }) if key == "org.berth.network.ip"
        ));
        // A different subnet while containers use the bridge.
        let other = parse_subnet("10.2.0.0/24").unwrap();
        assert!(pool.allocate(other, "c", None).is_err());
        // "a" is gone (state dir removed, as after a crash + delete): reclaimed.
        fs::remove_dir(root.join("a")).unwrap();
        assert_eq!(pool.allocate(sn, "c", None).unwrap(), a);
        drop(pool);
        release_all(root, "b").unwrap();
        release_all(root, "c").unwrap();
        let pool = Pool::open(root, "br").unwrap();
        assert!(pool.entries().unwrap().is_empty());
        // A /29 has 5 container addresses.
        for i in 0..5 {
            let id = format!("x{i}");
            fs::create_dir(root.join(&id)).unwrap();
            pool.allocate(sn, &id, None).unwrap();
        }
        fs::create_dir(root.join("y")).unwrap();
        assert!(pool.allocate(sn, "y", None).is_err());
    }
}
