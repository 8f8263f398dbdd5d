//! Built-in networking: a veth pair per container on a host bridge, chosen by the
//! `org.berth.network.*` annotations (see `config` for the keys), and the spec's
//! `linux.netDevices`.
//!
//! `create` calls `setup` once the container's init exists (so its network
//! namespace does) and before the prestart/createRuntime hooks run; `delete` and a
//! failed create call `teardown`. Everything a container gets on the host is named
//! from a hash of (root, id) (`names`), and its address file under `--root` names
//! the id, so teardown needs no record of what setup did: it works after berth or
//! the container was killed at any point.
//!
//! On the host, per bridge container: the bridge (created if missing, with the
//! subnet's first address, left in place on delete), the host end of the veth pair
//! `bth` + 12 hex digits (the container's end, `eth0`, is created directly in its
//! namespace), an address file, and with ports or masquerade one nftables table
//! `ip berth-` + the same 12 hex digits.

pub mod config;
mod ipam;
mod nft;
mod rtnl;

use config::Network;
use oci_spec::runtime::Spec;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("annotations[{key:?}]: {reason}")]
    Annotation { key: String, reason: String },
    #[error("network: {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("network: nftables: {0}")]
    Nft(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetworkError {
    let what = what.into();
    move |source| NetworkError::Io { what, source }
}

/// Host-side names of one container's network objects.
pub mod names {
    use std::path::Path;

    /// FNV-1a, 64 bit: stable across builds (std's hasher is not), so a berth
    /// upgraded between create and delete still finds the names.
    fn fnv1a(parts: &[&[u8]]) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for p in parts {
            for b in p.iter().chain(&[0u8]) {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }

    fn tag(root: &Path, id: &str) -> String {
        use std::os::unix::ffi::OsStrExt;
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        format!(
            "{:012x}",
            fnv1a(&[root.as_os_str().as_bytes(), id.as_bytes()]) >> 16
        )
    }

    /// The host end of the veth pair: 15 bytes, the longest name Linux takes.
    pub fn host_veth(root: &Path, id: &str) -> String {
        format!("bth{}", tag(root, id))
    }

    /// The container's nftables table (family ip).
    pub fn nft_table(root: &Path, id: &str) -> String {
        format!("berth-{}", tag(root, id))
    }
}

/// What to undo for one container; built without touching the host.
pub struct Teardown {
    root: PathBuf,
    id: String,
    /// Bridge networking may have been set up (or the config is unknown).
    bridge: bool,
    /// The nftables table may exist.
    nft: bool,
    /// The config was read: a failure is an error, not a warning.
    known: bool,
}

impl Teardown {
    /// For a container whose config is `spec` (None: unknown, undo everything).
    pub fn new(root: &Path, id: &str, spec: Option<&Spec>) -> Teardown {
        let net = spec.map(|s| config::parse(s.annotations().as_ref()));
        let (bridge, nft) = match net {
            Some(Ok(Network::None)) => (false, false),
            Some(Ok(Network::Bridge(b))) => (true, b.needs_nft()),
            _ => (true, true),
        };
        Teardown {
            root: root.to_path_buf(),
            id: id.to_string(),
            bridge,
            nft,
            known: spec.is_some(),
        }
    }

    /// Remove the veth pair, the nftables table and the address; what is already
    /// gone is fine. Tries every step; returns the first error.
    pub fn run(&self) -> Result<(), NetworkError> {
        if !self.bridge {
            return Ok(());
        }
        let mut first = None;
        let veth = names::host_veth(&self.root, &self.id);
        let r = rtnl::Rtnl::new()
            .and_then(|mut nl| match nl.link(&veth)? {
                // Deleting one end deletes the pair.
                Some(l) => nl.del_link(l.index).map(|_| ()),
                None => Ok(()),
            })
            .map_err(io_err(format!("deleting veth {veth}")));
        if let Err(e) = r {
            first.get_or_insert(e);
        }
        if self.nft {
            match nft::remove(&names::nft_table(&self.root, &self.id)) {
                Ok(()) => {}
                // Without a config (create died before writing it) there may be no
                // table and no `nft` either: a delete must not fail for that.
                Err(e) if !self.known => crate::log::warn(&e.to_string()),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        if let Err(e) = ipam::release_all(&self.root, &self.id) {
            first.get_or_insert(e);
        }
        first.map_or(Ok(()), Err)
    }
}

/// The network of a container whose init is `init_pid` (its namespaces exist).
/// On error, part of it may exist: the caller runs `Teardown`.
pub fn setup(root: &Path, id: &str, spec: &Spec, init_pid: i32) -> Result<(), NetworkError> {
    let net = config::parse(spec.annotations().as_ref()).map_err(|e| NetworkError::Annotation {
        key: e.key,
        reason: e.reason,
    })?;
    let devices = spec
        .linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .filter(|d| !d.is_empty());
    if net == Network::None && devices.is_none() {
        return Ok(());
    }
    let ns_path = format!("/proc/{init_pid}/ns/net");
    let ns: OwnedFd = std::fs::File::open(&ns_path)
        .map_err(io_err(&ns_path))?
        .into();
    if let Some(devs) = devices {
        move_net_devices(devs, &ns)?;
    }
    if let Network::Bridge(b) = net {
        bridge(root, id, &b, &ns)?;
    }
    Ok(())
}

fn bridge(root: &Path, id: &str, b: &config::Bridge, ns: &OwnedFd) -> Result<(), NetworkError> {
    let pool = ipam::Pool::open(root, &b.bridge)?;
    let ip = pool.allocate(b.subnet, id, b.ip)?;
    let mut nl = rtnl::Rtnl::new().map_err(io_err("netlink socket"))?;
    let br = ensure_bridge(&mut nl, b)?;
    drop(pool);

    let veth = names::host_veth(root, id);
    // A leftover of a crashed create of the same id on the same root.
    if let Some(old) = nl.link(&veth).map_err(io_err("listing links"))? {
        nl.del_link(old.index)
            .map_err(io_err(format!("deleting stale veth {veth}")))?;
    }
    nl.add_veth(&rtnl::Veth {
        name: &veth,
        master: br,
        mtu: b.mtu,
        peer_name: config::CONTAINER_IFNAME,
        peer_mac: b.mac,
        peer_netns: ns.as_fd(),
    })
    .map_err(io_err(format!(
        "creating veth {veth} on bridge {} (with {} and {} if set)",
        b.bridge,
        config::MTU,
        config::MAC
    )))?;
    let host_end = nl
        .link(&veth)
        .map_err(io_err("listing links"))?
        .ok_or_else(|| io_err(format!("veth {veth}"))(std::io::ErrorKind::NotFound.into()))?;
    // Whose veth it is, for people and tests reading `ip link`.
    nl.set_alias(host_end.index, &format!("berth container {id}"))
        .map_err(io_err(format!("naming {veth}")))?;
    nl.set_up(host_end.index)
        .map_err(io_err(format!("setting {veth} up")))?;

    let mut inner = rtnl::Rtnl::in_netns(ns.as_fd()).map_err(io_err(
        "netlink socket in the container's network namespace",
    ))?;
    let eth0 = inner
        .link(config::CONTAINER_IFNAME)
        .map_err(io_err("listing the container's links"))?
        .ok_or_else(|| {
            io_err("eth0 in the container's network namespace")(std::io::ErrorKind::NotFound.into())
        })?;
    inner
        .add_addr_v4(eth0.index, ip, b.subnet.prefix)
        .map_err(io_err(format!("adding {ip}/{} to eth0", b.subnet.prefix)))?;
    inner
        .set_up(eth0.index)
        .map_err(io_err("setting eth0 up"))?;
    inner
        .add_default_route_v4(b.subnet.gateway(), eth0.index)
        .map_err(io_err(format!("default route via {}", b.subnet.gateway())))?;

    if b.needs_nft() {
        nft::install(&names::nft_table(root, id), id, b, ip)?;
    }
    if b.masquerade {
        // Outbound traffic is routed through the host.
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(io_err(
            "org.berth.network.masquerade: /proc/sys/net/ipv4/ip_forward",
        ))?;
    }
    Ok(())
}

/// The bridge's index; created (up, with the gateway address) if missing.
fn ensure_bridge(nl: &mut rtnl::Rtnl, b: &config::Bridge) -> Result<u32, NetworkError> {
    let name = &b.bridge;
    let link = match nl.link(name).map_err(io_err("listing links"))? {
        Some(l) => {
            if l.kind.as_deref() != Some("bridge") {
                return Err(NetworkError::Annotation {
                    key: config::BRIDGE.into(),
                    reason: format!("{name} exists and is not a bridge"),
                });
            }
            l
        }
        None => {
            match nl.add_bridge(name) {
                Ok(()) => {}
                // Another create made it meanwhile (with a different --root).
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(format!("creating bridge {name}"))(e)),
            }
            nl.link(name)
                .map_err(io_err("listing links"))?
                .ok_or_else(|| {
                    io_err(format!("bridge {name}"))(std::io::ErrorKind::NotFound.into())
                })?
        }
    };
    let gw = b.subnet.gateway();
    let addrs = nl.addrs().map_err(io_err("listing addresses"))?;
    let have: Vec<(Ipv4Addr, u8)> = rtnl::v4_addrs_of(&addrs, link.index);
    if !have.iter().any(|(a, _)| *a == gw) {
        match nl.add_addr_v4(link.index, gw, b.subnet.prefix) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(io_err(format!(
                    "adding {gw}/{} to bridge {name}",
                    b.subnet.prefix
                ))(e))
            }
            _ => {}
        }
    }
    nl.set_up(link.index)
        .map_err(io_err(format!("setting bridge {name} up")))?;
    Ok(link.index)
}

/// linux.netDevices: move each host interface into the container's namespace
/// (renamed to `name` if given), keep its permanent global addresses, set it up.
/// Per config-linux.md they are not moved back: when the namespace goes, the kernel
/// returns physical devices to the host and destroys virtual ones.
fn move_net_devices(
    devs: &std::collections::HashMap<String, oci_spec::runtime::LinuxNetDevice>,
    ns: &OwnedFd,
) -> Result<(), NetworkError> {
    use netlink_packet_route::address::{AddressFlags, AddressHeaderFlags, AddressScope};
    let mut host = rtnl::Rtnl::new().map_err(io_err("netlink socket"))?;
    let mut inner = rtnl::Rtnl::in_netns(ns.as_fd()).map_err(io_err(
        "netlink socket in the container's network namespace",
    ))?;
    let mut list: Vec<_> = devs.iter().collect();
    list.sort_by(|a, b| a.0.cmp(b.0));
    for (host_name, dev) in list {
        let field = format!("linux.netDevices[{host_name:?}]");
        let new_name = dev.name().as_deref().unwrap_or(host_name);
        let link = host
            .link(host_name)
            .map_err(io_err("listing links"))?
            .ok_or_else(|| {
                io_err(format!("{field}: no interface {host_name} on the host"))(
                    std::io::ErrorKind::NotFound.into(),
                )
            })?;
        let keep: Vec<_> = host
            .addrs()
            .map_err(io_err("listing addresses"))?
            .into_iter()
            .filter(|a| a.header.index == link.index && a.header.scope == AddressScope::Universe)
            .filter(|a| {
                let permanent_attr = a.attributes.iter().any(|at| {
                    matches!(at, netlink_packet_route::address::AddressAttribute::Flags(f)
                        if f.contains(AddressFlags::Permanent))
                });
                permanent_attr || a.header.flags.contains(AddressHeaderFlags::Permanent)
            })
            .collect();
        let before: Vec<u32> = inner
            .links()
            .map_err(io_err("listing the container's links"))?
            .iter()
            .map(|l| l.index)
            .collect();
        host.move_link(link.index, ns.as_fd(), new_name)
            .map_err(io_err(format!(
                "{field}: moving {host_name} into the container as {new_name}"
            )))?;
        // The kernel may give it a new index there, and expands a "%d" in the name:
        // it is the one link that was not there before.
        let moved = inner
            .links()
            .map_err(io_err("listing the container's links"))?
            .into_iter()
            .find(|l| !before.contains(&l.index))
            .ok_or_else(|| {
                io_err(format!("{field}: {new_name} in the container"))(
                    std::io::ErrorKind::NotFound.into(),
                )
            })?;
        for a in keep {
            inner.readd_addr(a, moved.index).map_err(io_err(format!(
                "{field}: restoring an address on {}",
                moved.name
            )))?;
        }
        inner
            .set_up(moved.index)
            .map_err(io_err(format!("{field}: setting {} up", moved.name)))?;
    }
    Ok(())
}
