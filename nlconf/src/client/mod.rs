//! Client side of rtnetlink: the configuration helpers (`if_nametoindex`, link up/down, MAC,
//! MTU, addresses, routes, interfaces, dumps, getifaddrs) over any [`NetlinkTransport`].
//!
//! The same calls configure the kernel (through [`KernelNetlink`]) and a user-space stack
//! (through its netlink socket, or [`LocalTransport`] in-process). Errors are the errno of the
//! peer's NLMSG_ERROR. Every request carries a fresh sequence number; replies with another one
//! are skipped, and dumps are followed to NLMSG_DONE.

mod kernel;
mod transport;

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::neighbour::NeighbourMessage;
use netlink_packet_route::route::{RouteMessage, RouteProtocol, RouteScope, RouteType};

pub use kernel::KernelNetlink;
pub use transport::{LocalTransport, NetlinkTransport};

use crate::model::{
    IfAddr, Link, LinkStats, Neighbour, RT_TABLE_MAIN, Route, iff, max_prefix, netmask_v4,
    netmask_v6,
};
use crate::rtnl::{self, flags::*};

/// Size of the receive buffer: larger than any datagram Linux builds for a dump.
const RECV_BUFFER: usize = 64 * 1024;

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// The address part of one [`InterfaceAddress`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfaAddress {
    /// The link itself (glibc's AF_PACKET entry): its hardware address and ARPHRD type.
    Link {
        /// Hardware address.
        mac: [u8; 6],
        /// `ARPHRD_*` type.
        link_type: u16,
    },
    /// An IP address of the interface.
    Ip(IpAddr),
}

/// One entry of [`NlClient::getifaddrs`], the data of a `struct ifaddrs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// Interface name.
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// `IFF_*` flags of the interface.
    pub flags: u32,
    /// The address.
    pub addr: IfaAddress,
    /// Netmask of an IP address.
    pub netmask: Option<IpAddr>,
    /// IPv4 broadcast address (or the broadcast MAC for a link entry is not reported).
    pub broadcast: Option<IpAddr>,
}

/// The configuration helpers over a netlink transport.
///
/// Errors are the errno the peer answered, as the C helpers (nlinline) give them:
///
/// ```
/// use nlconf::client::{IfaAddress, LocalTransport, NlClient};
/// use nlconf::server::MemTables;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = NlClient::new(LocalTransport::new(MemTables::with_loopback(), 1));
/// assert_eq!(client.if_nametoindex("lo")?, 1);
/// assert_eq!(client.if_indextoname(1)?, "lo");
/// let err = client.if_nametoindex("eth9").expect_err("no such interface");
/// assert_eq!(err.raw_os_error(), Some(libc::ENODEV));
/// let err = client.ipaddr_add("127.0.0.1".parse()?, 8, 1).expect_err("already there");
/// assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
///
/// let ips: Vec<_> = client.getifaddrs()?.into_iter().filter_map(|i| match i.addr {
///     IfaAddress::Ip(ip) => Some(ip.to_string()),
///     IfaAddress::Link { .. } => None,
/// }).collect();
/// assert_eq!(ips, ["127.0.0.1", "::1"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct NlClient<T> {
    transport: T,
    seq: AtomicU32,
}

impl<T: NetlinkTransport> NlClient<T> {
    /// A client over `transport`.
    pub fn new(transport: T) -> NlClient<T> {
        NlClient {
            transport,
            seq: AtomicU32::new(1),
        }
    }

    /// The transport underneath.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Sends one request and collects the reply messages: up to the ack (requests are sent
    /// with NLM_F_ACK) or, for dumps, up to NLMSG_DONE. An NLMSG_ERROR gives its errno.
    pub fn request(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        // NLM_F_DUMP's bits mean EXCL/REPLACE on NEW requests: only a GET can be a dump.
        let is_get = matches!(
            msg,
            RouteNetlinkMessage::GetLink(_)
                | RouteNetlinkMessage::GetAddress(_)
                | RouteNetlinkMessage::GetRoute(_)
                | RouteNetlinkMessage::GetNeighbour(_)
        );
        let dump = is_get && flags & NLM_F_DUMP != 0;
        let flags = if dump {
            flags | NLM_F_REQUEST
        } else {
            flags | NLM_F_REQUEST | NLM_F_ACK
        };
        let bytes = rtnl::encode(msg, flags, seq, 0);
        self.transport.send(&bytes)?;
        let mut replies = Vec::new();
        let mut buf = vec![0u8; RECV_BUFFER];
        loop {
            let n = self.transport.recv(&mut buf)?;
            if n == 0 {
                return Err(errno(libc::ENODATA));
            }
            for (hdr, m) in rtnl::messages(&buf[..n]) {
                if hdr.seq != seq {
                    log::debug!(
                        "skipping netlink message with seq {} (expected {seq})",
                        hdr.seq
                    );
                    continue;
                }
                match hdr.ty {
                    NLMSG_NOOP => {}
                    NLMSG_ERROR | NLMSG_DONE => {
                        let code = m
                            .get(16..20)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .ok_or_else(|| errno(libc::EBADMSG))?;
                        if code < 0 {
                            return Err(errno(-code));
                        }
                        if hdr.ty == NLMSG_ERROR || dump {
                            return Ok(replies);
                        }
                    }
                    NLMSG_OVERRUN => return Err(errno(libc::EOVERFLOW)),
                    _ => {
                        let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(m)
                            .map_err(|e| {
                                log::debug!("undecodable netlink reply: {e}");
                                errno(libc::EBADMSG)
                            })?;
                        if let NetlinkPayload::InnerMessage(inner) = parsed.payload {
                            replies.push(inner);
                        }
                    }
                }
            }
        }
    }

    fn get_link_reply(&self, msg: LinkMessage) -> io::Result<LinkMessage> {
        self.request(RouteNetlinkMessage::GetLink(msg), 0)?
            .into_iter()
            .find_map(|r| match r {
                RouteNetlinkMessage::NewLink(m) => Some(m),
                _ => None,
            })
            .ok_or_else(|| errno(libc::ENODEV))
    }

    fn get_link_message(&self, msg: LinkMessage) -> io::Result<Link> {
        Ok(rtnl::link_from_message(&self.get_link_reply(msg)?))
    }

    /// The counters of interface `index` (`IFLA_STATS64`, else `IFLA_STATS`): ENODEV if
    /// there is no such interface, ENODATA if the peer reports no counters for it.
    pub fn link_stats(&self, index: u32) -> io::Result<LinkStats> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        rtnl::link_stats_from_message(&self.get_link_reply(msg)?)
            .ok_or_else(|| errno(libc::ENODATA))
    }

    /// The counters of the interface named `name` (see [`NlClient::link_stats`]).
    pub fn link_stats_by_name(&self, name: &str) -> io::Result<LinkStats> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        rtnl::link_stats_from_message(&self.get_link_reply(msg)?)
            .ok_or_else(|| errno(libc::ENODATA))
    }

    /// All interfaces by index, each with its counters when the peer reports them (one
    /// dump, so the counters of all interfaces are read together).
    pub fn links_with_stats(&self) -> io::Result<Vec<(Link, Option<LinkStats>)>> {
        let mut links: Vec<(Link, Option<LinkStats>)> = self
            .request(
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
                NLM_F_DUMP,
            )?
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(m) => Some((
                    rtnl::link_from_message(&m),
                    rtnl::link_stats_from_message(&m),
                )),
                _ => None,
            })
            .collect();
        links.sort_by_key(|(l, _)| l.index);
        Ok(links)
    }

    /// The link with index `index` (ENODEV if none).
    pub fn link(&self, index: u32) -> io::Result<Link> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.get_link_message(msg)
    }

    /// The link named `name` (ENODEV if none).
    pub fn link_by_name(&self, name: &str) -> io::Result<Link> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        self.get_link_message(msg)
    }

    /// The index of interface `name` (ENODEV if none).
    pub fn if_nametoindex(&self, name: &str) -> io::Result<u32> {
        Ok(self.link_by_name(name)?.index)
    }

    /// The name of interface `index` (ENODEV if none).
    pub fn if_indextoname(&self, index: u32) -> io::Result<String> {
        Ok(self.link(index)?.name)
    }

    fn set_link(&self, index: u32, fill: impl FnOnce(&mut LinkMessage)) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        fill(&mut msg);
        self.request(RouteNetlinkMessage::SetLink(msg), 0)?;
        Ok(())
    }

    /// Brings interface `index` up or down (IFF_UP).
    pub fn link_set_up(&self, index: u32, up: bool) -> io::Result<()> {
        self.set_link(index, |m| {
            m.header.flags = if up {
                LinkFlags::Up
            } else {
                LinkFlags::empty()
            };
            m.header.change_mask = LinkFlags::Up;
        })
    }

    /// Sets the MAC address of interface `index`.
    pub fn link_set_mac(&self, index: u32, mac: [u8; 6]) -> io::Result<()> {
        self.set_link(index, |m| {
            m.attributes.push(LinkAttribute::Address(mac.to_vec()))
        })
    }

    /// The MAC address of interface `index`.
    pub fn link_get_mac(&self, index: u32) -> io::Result<[u8; 6]> {
        Ok(self.link(index)?.mac)
    }

    /// Sets the MTU of interface `index`.
    pub fn link_set_mtu(&self, index: u32, mtu: u32) -> io::Result<()> {
        self.set_link(index, |m| m.attributes.push(LinkAttribute::Mtu(mtu)))
    }

    fn addr_request(&self, add: bool, addr: IpAddr, prefix_len: u8, index: u32) -> io::Result<()> {
        if prefix_len > max_prefix(addr) {
            return Err(errno(libc::EINVAL));
        }
        let mut msg = rtnl::addr_message(
            &IfAddr {
                index,
                addr,
                prefix_len,
            },
            None,
        );
        // A request carries only what `ip addr add` sends: address (and local for IPv4).
        msg.attributes.retain(|a| {
            matches!(
                a,
                netlink_packet_route::address::AddressAttribute::Address(_)
                    | netlink_packet_route::address::AddressAttribute::Local(_)
            )
        });
        msg.header.flags = Default::default();
        msg.header.scope = Default::default();
        if add {
            self.request(
                RouteNetlinkMessage::NewAddress(msg),
                NLM_F_CREATE | NLM_F_EXCL,
            )?;
        } else {
            self.request(RouteNetlinkMessage::DelAddress(msg), 0)?;
        }
        Ok(())
    }

    /// Adds address `addr/prefix_len` to interface `index` (EEXIST if present).
    pub fn ipaddr_add(&self, addr: IpAddr, prefix_len: u8, index: u32) -> io::Result<()> {
        self.addr_request(true, addr, prefix_len, index)
    }

    /// Removes address `addr/prefix_len` from interface `index` (EADDRNOTAVAIL if absent).
    pub fn ipaddr_del(&self, addr: IpAddr, prefix_len: u8, index: u32) -> io::Result<()> {
        self.addr_request(false, addr, prefix_len, index)
    }

    fn route_request(
        &self,
        add: bool,
        dst: Option<(IpAddr, u8)>,
        gateway: Option<IpAddr>,
        index: Option<u32>,
    ) -> io::Result<()> {
        let family_addr = dst
            .map(|(a, _)| a)
            .or(gateway)
            .ok_or_else(|| errno(libc::EINVAL))?;
        let (dst, prefix_len) = match dst {
            Some((a, p)) => (a, p),
            None => (
                rtnl::unspecified_of(rtnl::family_of(&family_addr))
                    .ok_or_else(|| errno(libc::EINVAL))?,
                0,
            ),
        };
        if gateway.is_some_and(|g| g.is_ipv4() != dst.is_ipv4()) || prefix_len > max_prefix(dst) {
            return Err(errno(libc::EINVAL));
        }
        let route = Route {
            dst,
            prefix_len,
            gateway,
            oif: index,
            table: RT_TABLE_MAIN,
            protocol: 3,
            scope: 0,
            metric: 0,
        };
        let mut msg = rtnl::route_message(&route);
        msg.attributes
            .retain(|a| !matches!(a, netlink_packet_route::route::RouteAttribute::Table(_)));
        if add {
            msg.header.protocol = RouteProtocol::Boot;
            msg.header.scope = if gateway.is_none() && dst.is_ipv4() {
                RouteScope::Link
            } else {
                RouteScope::Universe
            };
            msg.header.kind = RouteType::Unicast;
            self.request(
                RouteNetlinkMessage::NewRoute(msg),
                NLM_F_CREATE | NLM_F_EXCL,
            )?;
        } else {
            msg.header.protocol = RouteProtocol::Unspec;
            msg.header.scope = RouteScope::NoWhere;
            self.request(RouteNetlinkMessage::DelRoute(msg), 0)?;
        }
        Ok(())
    }

    /// Adds a route: `dst` None (or prefix 0) is the default route; through `gateway` and/or
    /// out of interface `index`.
    pub fn iproute_add(
        &self,
        dst: Option<(IpAddr, u8)>,
        gateway: Option<IpAddr>,
        index: Option<u32>,
    ) -> io::Result<()> {
        self.route_request(true, dst, gateway, index)
    }

    /// Removes a route (ESRCH if no route matches).
    pub fn iproute_del(
        &self,
        dst: Option<(IpAddr, u8)>,
        gateway: Option<IpAddr>,
        index: Option<u32>,
    ) -> io::Result<()> {
        self.route_request(false, dst, gateway, index)
    }

    /// Creates an interface of `kind` (for "vde", `data` is the VNL) and returns its index.
    /// `name` None lets the peer choose (`<kind>N`), `index` None likewise.
    pub fn iplink_add(
        &self,
        name: Option<&str>,
        index: Option<u32>,
        kind: &str,
        data: Option<&str>,
    ) -> io::Result<u32> {
        let before = if name.is_none() && index.is_none() {
            Some(self.links()?)
        } else {
            None
        };
        let mut msg = LinkMessage::default();
        msg.header.index = index.unwrap_or(0);
        if let Some(name) = name {
            msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        }
        let mut info = vec![LinkInfo::Kind(InfoKind::from(kind))];
        if let Some(data) = data {
            let mut bytes = data.as_bytes().to_vec();
            bytes.push(0);
            info.push(LinkInfo::Data(InfoData::Other(bytes)));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(info));
        let replies = self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO,
        )?;
        let echoed = replies.iter().find_map(|r| match r {
            RouteNetlinkMessage::NewLink(m) if m.header.index != 0 => Some(m.header.index),
            _ => None,
        });
        if let Some(index) = echoed.or(index) {
            return Ok(index);
        }
        if let Some(name) = name {
            return self.if_nametoindex(name);
        }
        let before = before.unwrap_or_default();
        self.links()?
            .into_iter()
            .map(|l| l.index)
            .find(|i| before.iter().all(|b| b.index != *i))
            .ok_or_else(|| errno(libc::ENODEV))
    }

    /// Removes an interface designated by `index` or, when None, by `name`.
    pub fn iplink_del(&self, name: Option<&str>, index: Option<u32>) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index.unwrap_or(0);
        if let Some(name) = name {
            msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        }
        self.request(RouteNetlinkMessage::DelLink(msg), 0)?;
        Ok(())
    }

    /// All interfaces, by index.
    pub fn links(&self) -> io::Result<Vec<Link>> {
        let mut links: Vec<Link> = self
            .request(
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
                NLM_F_DUMP,
            )?
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(m) => Some(rtnl::link_from_message(&m)),
                _ => None,
            })
            .collect();
        links.sort_by_key(|l| l.index);
        Ok(links)
    }

    /// All addresses of all interfaces (IPv4 and IPv6).
    pub fn addrs(&self) -> io::Result<Vec<IfAddr>> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Unspec;
        Ok(self
            .request(RouteNetlinkMessage::GetAddress(msg), NLM_F_DUMP)?
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewAddress(m) => rtnl::addr_from_message(&m),
                _ => None,
            })
            .collect())
    }

    /// The unicast routes of the main table (what `ip route` and `ip -6 route` show).
    pub fn routes(&self) -> io::Result<Vec<Route>> {
        Ok(self
            .request(
                RouteNetlinkMessage::GetRoute(RouteMessage::default()),
                NLM_F_DUMP,
            )?
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewRoute(m) if m.header.kind == RouteType::Unicast => {
                    rtnl::route_from_message(&m)
                }
                _ => None,
            })
            .filter(|r| r.table == RT_TABLE_MAIN)
            .collect())
    }

    /// The neighbour cache.
    pub fn neighbours(&self) -> io::Result<Vec<Neighbour>> {
        Ok(self
            .request(
                RouteNetlinkMessage::GetNeighbour(NeighbourMessage::default()),
                NLM_F_DUMP,
            )?
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewNeighbour(m) => rtnl::neighbour_from_message(&m),
                _ => None,
            })
            .collect())
    }

    /// What `getifaddrs(3)` reports: one link entry per interface, then one entry per address.
    pub fn getifaddrs(&self) -> io::Result<Vec<InterfaceAddress>> {
        let links = self.links()?;
        let addrs = self.addrs()?;
        let mut out: Vec<InterfaceAddress> = links
            .iter()
            .map(|l| InterfaceAddress {
                name: l.name.clone(),
                index: l.index,
                flags: l.flags,
                addr: IfaAddress::Link {
                    mac: l.mac,
                    link_type: l.link_type,
                },
                netmask: None,
                broadcast: None,
            })
            .collect();
        for a in addrs {
            let Some(link) = links.iter().find(|l| l.index == a.index) else {
                continue;
            };
            let netmask = match a.addr {
                IpAddr::V4(_) => IpAddr::V4(netmask_v4(a.prefix_len)),
                IpAddr::V6(_) => IpAddr::V6(netmask_v6(a.prefix_len)),
            };
            out.push(InterfaceAddress {
                name: link.name.clone(),
                index: link.index,
                flags: link.flags,
                addr: IfaAddress::Ip(a.addr),
                netmask: Some(netmask),
                broadcast: if link.flags & iff::BROADCAST != 0 {
                    a.broadcast().map(IpAddr::V4)
                } else {
                    None
                },
            });
        }
        Ok(out)
    }
}
