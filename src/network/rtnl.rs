//! A small synchronous rtnetlink client: the handful of link, address and route
//! requests berth needs, over one NETLINK_ROUTE socket (no `ip`, no async runtime).

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

pub struct Rtnl {
    sock: Socket,
    seq: u32,
}

/// A link as the kernel reports it.
#[derive(Debug, Clone)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub kind: Option<String>,
}

/// Spec of a new veth pair: the host end joins `master`; the peer is created
/// directly in the netns `peer_netns` under `peer_name`.
pub struct Veth<'a> {
    pub name: &'a str,
    pub master: u32,
    pub mtu: Option<u32>,
    pub peer_name: &'a str,
    pub peer_mac: Option<[u8; 6]>,
    pub peer_netns: BorrowedFd<'a>,
}

impl Rtnl {
    /// A socket in the calling thread's network namespace.
    pub fn new() -> io::Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Rtnl { sock, seq: 0 })
    }

    /// A socket in the network namespace `ns` (it stays there for its lifetime).
    pub fn in_netns(ns: BorrowedFd<'_>) -> io::Result<Rtnl> {
        crate::sys::in_netns(ns, Rtnl::new)?
    }

    /// Send one request and collect the replies (for a dump, every part) until the
    /// kernel's ack or NLMSG_DONE.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut hdr = NetlinkHeader::default();
        hdr.flags = NLM_F_REQUEST | flags;
        hdr.sequence_number = self.seq;
        let mut nl = NetlinkMessage::new(hdr, NetlinkPayload::from(msg));
        nl.finalize();
        let mut buf = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut buf);
        self.sock.send(&buf, 0)?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full()?;
            let mut off = 0;
            while off < data.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[off..])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "netlink: zero-length message",
                    ));
                }
                off += len;
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(c) => Err(io::Error::from_raw_os_error(-c.get())),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::InnerMessage(m) => {
                        out.push(m);
                        if !dump {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn ack(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.request(msg, flags | NLM_F_ACK).map(|_| ())
    }

    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let replies = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(&l)),
                _ => None,
            })
            .collect())
    }

    pub fn link(&mut self, name: &str) -> io::Result<Option<Link>> {
        Ok(self.links()?.into_iter().find(|l| l.name == name))
    }

    pub fn add_bridge(&mut self, name: &str) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.attributes = vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
        ];
        self.ack(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    pub fn add_veth(&mut self, v: &Veth<'_>) -> io::Result<()> {
        let mut peer = LinkMessage::default();
        peer.attributes = vec![
            LinkAttribute::IfName(v.peer_name.into()),
            LinkAttribute::NetNsFd(v.peer_netns.as_raw_fd()),
        ];
        if let Some(mac) = v.peer_mac {
            peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        let mut m = LinkMessage::default();
        m.attributes = vec![
            LinkAttribute::IfName(v.name.into()),
            LinkAttribute::Controller(v.master),
        ];
        if let Some(mtu) = v.mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
            peer.attributes.push(LinkAttribute::Mtu(mtu));
        }
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.ack(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.ack(RouteNetlinkMessage::SetLink(m), 0)
    }

    /// IFLA_IFALIAS: shown by `ip link`, in /sys/class/net/NAME/ifalias.
    pub fn set_alias(&mut self, index: u32, alias: &str) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.attributes = vec![LinkAttribute::IfAlias(alias.into())];
        self.ack(RouteNetlinkMessage::SetLink(m), 0)
    }

    /// Move a link into the netns `ns`, renamed to `new_name` there (the kernel
    /// expands a `%d` in it).
    pub fn move_link(&mut self, index: u32, ns: BorrowedFd<'_>, new_name: &str) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.attributes = vec![
            LinkAttribute::NetNsFd(ns.as_raw_fd()),
            LinkAttribute::IfName(new_name.into()),
        ];
        self.ack(RouteNetlinkMessage::SetLink(m), 0)
    }

    /// Delete a link; Ok(false) if there was none.
    pub fn del_link(&mut self, index: u32) -> io::Result<bool> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        match self.ack(RouteNetlinkMessage::DelLink(m), 0) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every address of every link (either family).
    pub fn addrs(&mut self) -> io::Result<Vec<AddressMessage>> {
        let replies = self.request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => Some(a),
                _ => None,
            })
            .collect())
    }

    pub fn add_addr_v4(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = prefix;
        m.header.index = index;
        let bcast = Ipv4Addr::from(u32::from(ip) | (u32::MAX >> u32::from(prefix)));
        m.attributes = vec![
            AddressAttribute::Local(IpAddr::V4(ip)),
            AddressAttribute::Address(IpAddr::V4(ip)),
            AddressAttribute::Broadcast(bcast),
        ];
        self.ack(
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Re-add an address dumped elsewhere (for a moved netDevice), onto `index`.
    pub fn readd_addr(&mut self, mut a: AddressMessage, index: u32) -> io::Result<()> {
        a.header.index = index;
        // The label names the old interface: let the kernel take the new name.
        a.attributes.retain(|at| {
            matches!(
                at,
                AddressAttribute::Address(_)
                    | AddressAttribute::Local(_)
                    | AddressAttribute::Broadcast(_)
                    | AddressAttribute::Flags(_)
            )
        });
        self.ack(
            RouteNetlinkMessage::NewAddress(a),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    pub fn add_default_route_v4(&mut self, gateway: Ipv4Addr, oif: u32) -> io::Result<()> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes = vec![
            RouteAttribute::Gateway(RouteAddress::Inet(gateway)),
            RouteAttribute::Oif(oif),
        ];
        self.ack(RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL)
    }
}

fn link_of(l: &LinkMessage) -> Link {
    let mut name = String::new();
    let mut kind = None;
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Link {
        index: l.header.index,
        name,
        kind,
    }
}

/// The IPv4 addresses (with prefix) on link `index`, from a dump.
pub fn v4_addrs_of(addrs: &[AddressMessage], index: u32) -> Vec<(Ipv4Addr, u8)> {
    addrs
        .iter()
        .filter(|a| a.header.index == index && a.header.family == AddressFamily::Inet)
        .filter_map(|a| {
            a.attributes.iter().find_map(|at| match at {
                AddressAttribute::Local(IpAddr::V4(ip)) => Some((*ip, a.header.prefix_len)),
                _ => None,
            })
        })
        .collect()
}
