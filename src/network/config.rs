//! The `org.berth.network.*` annotations, parsed into what `setup` does. Pure.
//!
//! | key                          | value                                  | default        |
//! |------------------------------|----------------------------------------|----------------|
//! | `org.berth.network.mode`     | `none` or `bridge`                     | `none`         |
//! | `org.berth.network.bridge`   | host bridge name (created if missing)  | `berth0`       |
//! | `org.berth.network.subnet`   | IPv4 CIDR of the bridge, e.g. `10.119.0.0/24`; the bridge gets the first host address, which is the containers' gateway | `10.119.0.0/24` |
//! | `org.berth.network.ip`       | fixed IPv4 address in the subnet       | next free one  |
//! | `org.berth.network.mac`      | MAC of eth0, `02:42:ac:11:00:02`       | kernel's random|
//! | `org.berth.network.mtu`      | MTU of both veth ends, 68..=65535      | kernel's (1500)|
//! | `org.berth.network.ports`    | `HOST:CONTAINER[/tcp\|/udp],...`       | none           |
//! | `org.berth.network.masquerade` | `true`: outbound traffic is NATed to the host's address (and IPv4 forwarding is turned on) | `false` |
//!
//! Every key but `mode` needs `mode=bridge`; an unknown key under the prefix is an
//! error (a typo must not silently give a container no network). The default subnet
//! is none of podman's (10.88.0.0/16, and 10.89.x.0/24 for `podman network create`)
//! nor Docker's (172.17.0.0/16 and the 172.18+ user networks).

use std::collections::HashMap;
use std::net::Ipv4Addr;

pub const PREFIX: &str = "org.berth.network.";
pub const MODE: &str = "org.berth.network.mode";
pub const BRIDGE: &str = "org.berth.network.bridge";
pub const SUBNET: &str = "org.berth.network.subnet";
pub const IP: &str = "org.berth.network.ip";
pub const MAC: &str = "org.berth.network.mac";
pub const MTU: &str = "org.berth.network.mtu";
pub const PORTS: &str = "org.berth.network.ports";
pub const MASQUERADE: &str = "org.berth.network.masquerade";
const KEYS: &[&str] = &[MODE, BRIDGE, SUBNET, IP, MAC, MTU, PORTS, MASQUERADE];

pub const DEFAULT_BRIDGE: &str = "berth0";
pub const DEFAULT_SUBNET: Subnet = Subnet {
    addr: Ipv4Addr::new(10, 119, 0, 0),
    prefix: 24,
};
/// The name of the container's end of the veth pair.
pub const CONTAINER_IFNAME: &str = "eth0";

/// A bad annotation: its key and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotationError {
    pub key: String,
    pub reason: String,
}

fn err(key: &str, reason: impl Into<String>) -> AnnotationError {
    AnnotationError {
        key: key.to_string(),
        reason: reason.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// The container's network namespace (if any) has only lo.
    None,
    Bridge(Bridge),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub bridge: String,
    pub subnet: Subnet,
    pub ip: Option<Ipv4Addr>,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub ports: Vec<Port>,
    pub masquerade: bool,
}

impl Bridge {
    /// Does it need berth's nftables table?
    pub fn needs_nft(&self) -> bool {
        self.masquerade || !self.ports.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    fn mask(&self) -> u32 {
        u32::MAX << (32 - u32::from(self.prefix))
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }
    /// The bridge's own address: the first host address.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + 1)
    }
    /// Addresses a container may get: all hosts but the gateway.
    pub fn container_addrs(&self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.addr) + 2;
        let last = u32::from(self.broadcast()) - 1;
        (first..=last).map(Ipv4Addr::from)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    pub host: u16,
    pub container: u16,
    pub proto: Proto,
}

/// A Linux interface name: 1..=15 bytes (IFNAMSIZ - 1), not `.` or `..`, and none of
/// `/`, `:`, whitespace or NUL (the kernel's dev_valid_name, plus `:` for aliases).
pub fn valid_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an interface name must not be empty".into());
    }
    if name.len() > 15 {
        return Err(format!(
            "interface name {name:?} is longer than 15 bytes (IFNAMSIZ)"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("{name:?} is not a valid interface name"));
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c == '\0')
    {
        return Err(format!(
            "interface name {name:?} contains '/', ':', whitespace or NUL"
        ));
    }
    Ok(())
}

/// The network a spec's annotations ask for.
pub fn parse(annotations: Option<&HashMap<String, String>>) -> Result<Network, AnnotationError> {
    let empty = HashMap::new();
    let a = annotations.unwrap_or(&empty);
    let mut ours: Vec<&String> = a.keys().filter(|k| k.starts_with(PREFIX)).collect();
    ours.sort();
    for k in &ours {
        if !KEYS.contains(&k.as_str()) {
            return Err(err(k, format!("unknown key (known: {})", KEYS.join(", "))));
        }
    }
    let mode = a.get(MODE).map(String::as_str).unwrap_or("none");
    match mode {
        "none" => {
            if let Some(k) = ours.iter().find(|k| k.as_str() != MODE) {
                return Err(err(k, format!("needs {MODE}=bridge")));
            }
            Ok(Network::None)
        }
        "bridge" => parse_bridge(a).map(Network::Bridge),
        other => Err(err(
            MODE,
            format!("{other:?} is not a mode (none or bridge)"),
        )),
    }
}

fn parse_bridge(a: &HashMap<String, String>) -> Result<Bridge, AnnotationError> {
    let bridge = a
        .get(BRIDGE)
        .cloned()
        .unwrap_or_else(|| DEFAULT_BRIDGE.into());
    valid_ifname(&bridge).map_err(|r| err(BRIDGE, r))?;
    let subnet = match a.get(SUBNET) {
        Some(s) => parse_subnet(s).map_err(|r| err(SUBNET, r))?,
        None => DEFAULT_SUBNET,
    };
    let ip = a
        .get(IP)
        .map(|s| parse_ip(s, &subnet).map_err(|r| err(IP, r)))
        .transpose()?;
    let mac = a
        .get(MAC)
        .map(|s| parse_mac(s).map_err(|r| err(MAC, r)))
        .transpose()?;
    let mtu = a
        .get(MTU)
        .map(|s| match s.parse::<u32>() {
            Ok(m) if (68..=65535).contains(&m) => Ok(m),
            _ => Err(err(MTU, format!("{s:?} is not a number in 68..=65535"))),
        })
        .transpose()?;
    let ports = match a.get(PORTS) {
        Some(s) => parse_ports(s).map_err(|r| err(PORTS, r))?,
        None => Vec::new(),
    };
    let masquerade = match a.get(MASQUERADE).map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(o) => return Err(err(MASQUERADE, format!("{o:?} is not true or false"))),
    };
    Ok(Bridge {
        bridge,
        subnet,
        ip,
        mac,
        mtu,
        ports,
        masquerade,
    })
}

pub fn parse_subnet(s: &str) -> Result<Subnet, String> {
    let (addr, prefix) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not of the form A.B.C.D/N"))?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 address (only IPv4 is supported)"))?;
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
    if !(8..=30).contains(&prefix) {
        return Err(format!(
            "prefix /{prefix} is outside /8../30 (a bridge needs room for itself and a container)"
        ));
    }
    let sn = Subnet { addr, prefix };
    if u32::from(addr) & !sn.mask() != 0 {
        return Err(format!(
            "{s} has host bits set (the network is {}/{prefix})",
            Ipv4Addr::from(u32::from(addr) & sn.mask())
        ));
    }
    if addr.is_loopback() || addr.is_multicast() || addr.is_unspecified() {
        return Err(format!("{s} is not a unicast network"));
    }
    Ok(sn)
}

fn parse_ip(s: &str, subnet: &Subnet) -> Result<Ipv4Addr, String> {
    let ip: Ipv4Addr = s
        .parse()
        .map_err(|_| format!("{s:?} is not an IPv4 address"))?;
    if !subnet.contains(ip) {
        return Err(format!("{ip} is not in the subnet {subnet}"));
    }
    if ip == subnet.addr || ip == subnet.broadcast() {
        return Err(format!(
            "{ip} is the network or broadcast address of {subnet}"
        ));
    }
    if ip == subnet.gateway() {
        return Err(format!("{ip} is the bridge's own address (the gateway)"));
    }
    Ok(ip)
}

pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let bad = || format!("{s:?} is not a MAC address like 02:42:ac:11:00:02");
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    for (b, p) in mac.iter_mut().zip(&parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 == 1 {
        return Err(format!("{s} is a multicast address"));
    }
    if mac == [0; 6] {
        return Err(format!("{s} is the all-zero address"));
    }
    Ok(mac)
}

pub fn parse_ports(s: &str) -> Result<Vec<Port>, String> {
    let mut ports: Vec<Port> = Vec::new();
    for item in s.split(',').map(str::trim) {
        let bad = || format!("{item:?} is not HOST:CONTAINER[/tcp|/udp]");
        let (pair, proto) = match item.split_once('/') {
            Some((p, "tcp")) => (p, Proto::Tcp),
            Some((p, "udp")) => (p, Proto::Udp),
            Some(_) => return Err(format!("{item:?}: the protocol must be tcp or udp")),
            None => (item, Proto::Tcp),
        };
        let (h, c) = pair.split_once(':').ok_or_else(bad)?;
        let num = |n: &str| match n.parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(format!("{item:?}: {n:?} is not a port in 1..=65535")),
        };
        let port = Port {
            host: num(h)?,
            container: num(c)?,
            proto,
        };
        if ports
            .iter()
            .any(|p| p.host == port.host && p.proto == port.proto)
        {
            return Err(format!(
                "host port {}/{} is published twice",
                port.host,
                proto.name()
            ));
        }
        ports.push(port);
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn key_of(pairs: &[(&str, &str)]) -> String {
        match parse(Some(&ann(pairs))) {
            Ok(n) => panic!("accepted {pairs:?}: {n:?}"),
            Err(e) => e.key,
        }
    }

    #[test]
    fn defaults() {
        assert_eq!(parse(None), Ok(Network::None));
        let other = ann(&[("org.example.x", "1")]);
        assert_eq!(parse(Some(&other)), Ok(Network::None));
        let Ok(Network::Bridge(b)) = parse(Some(&ann(&[(MODE, "bridge")]))) else {
            panic!("bridge mode not parsed");
        };
        assert_eq!(b.bridge, "berth0");
        assert_eq!(b.subnet.to_string(), "10.119.0.0/24");
        assert_eq!(b.subnet.gateway(), Ipv4Addr::new(10, 119, 0, 1));
        assert!(!b.masquerade && b.ports.is_empty() && b.ip.is_none());
        let podman = parse_subnet("10.88.0.0/16").unwrap();
        let docker = parse_subnet("172.17.0.0/16").unwrap();
        assert!(!podman.contains(DEFAULT_SUBNET.addr) && !docker.contains(DEFAULT_SUBNET.addr));
    }

    #[test]
    fn full_bridge_config() {
        let a = ann(&[
            (MODE, "bridge"),
            (BRIDGE, "br-test"),
            (SUBNET, "10.5.0.0/16"),
            (IP, "10.5.3.4"),
            (MAC, "02:42:AC:11:00:02"),
            (MTU, "1400"),
            (PORTS, "8080:80/tcp, 5353:53/udp,9000:9000"),
            (MASQUERADE, "true"),
        ]);
        let Ok(Network::Bridge(b)) = parse(Some(&a)) else {
            panic!("not parsed");
        };
        assert_eq!(b.ip, Some(Ipv4Addr::new(10, 5, 3, 4)));
        assert_eq!(b.mac, Some([0x02, 0x42, 0xac, 0x11, 0, 2]));
        assert_eq!(b.mtu, Some(1400));
        assert_eq!(b.ports.len(), 3);
        assert_eq!(
            b.ports[1],
            Port {
                host: 5353,
                container: 53,
                proto: Proto::Udp
            }
        );
        assert_eq!(b.ports[2].proto, Proto::Tcp);
        assert!(b.masquerade && b.needs_nft());
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(key_of(&[(MODE, "host")]), MODE);
        assert_eq!(
            key_of(&[("org.berth.network.prot", "1:1")]),
            "org.berth.network.prot"
        );
        assert_eq!(
            key_of(&[(PORTS, "1:1")]),
            PORTS,
            "ports without bridge mode"
        );
        let b = |k: &'static str, v: &'static str| key_of(&[(MODE, "bridge"), (k, v)]);
        assert_eq!(b(BRIDGE, "a-very-long-bridge-name"), BRIDGE);
        assert_eq!(b(BRIDGE, "br/0"), BRIDGE);
        assert_eq!(b(BRIDGE, ""), BRIDGE);
        for s in [
            "10.0.0.0",
            "10.0.0.1/24",
            "10.0.0.0/31",
            "fd00::/64",
            "127.0.0.0/8",
        ] {
            assert_eq!(b(SUBNET, s), SUBNET, "{s}");
        }
        for ip in [
            "10.119.1.2",
            "10.119.0.0",
            "10.119.0.1",
            "10.119.0.255",
            "x",
        ] {
            assert_eq!(b(IP, ip), IP, "{ip}");
        }
        for m in [
            "01:00:5e:00:00:01",
            "00:00:00:00:00:00",
            "02:42:ac:11:00",
            "zz:42:ac:11:00:02",
        ] {
            assert_eq!(b(MAC, m), MAC, "{m}");
        }
        for m in ["67", "65536", "big"] {
            assert_eq!(b(MTU, m), MTU, "{m}");
        }
        for p in ["80", "0:80", "80:70000", "80:80/sctp", "80:80,80:81", ""] {
            assert_eq!(b(PORTS, p), PORTS, "{p:?}");
        }
        assert_eq!(b(MASQUERADE, "yes"), MASQUERADE);
    }

    #[test]
    fn subnet_arithmetic() {
        let s = parse_subnet("192.168.7.0/29").unwrap();
        let all: Vec<Ipv4Addr> = s.container_addrs().collect();
        assert_eq!(all.first(), Some(&Ipv4Addr::new(192, 168, 7, 2)));
        assert_eq!(all.last(), Some(&Ipv4Addr::new(192, 168, 7, 6)));
        assert_eq!(all.len(), 5);
        assert!(s.contains(Ipv4Addr::new(192, 168, 7, 7)));
        assert!(!s.contains(Ipv4Addr::new(192, 168, 7, 8)));
        // Two ports on one number but different protocols are fine.
        assert_eq!(parse_ports("53:53/tcp,53:53/udp").map(|p| p.len()), Ok(2));
    }
}
