//! rtnetlink on the wire: message framing (headers, NLMSG_ERROR, NLMSG_DONE, alignment) and the
//! conversions between netlink-packet-route messages and the [`crate::model`] values.
//!
//! Shared by the request processor (server side) and the client helpers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::link::{
    InfoData, InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, State, Stats, Stats64,
};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::model::{ARPHRD_LOOPBACK, IfAddr, Link, LinkStats, Neighbour, Route, iff};

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;

/// Netlink message flags and control types used here (values of `<linux/netlink.h>`).
pub mod flags {
    /// It is a request message.
    pub const NLM_F_REQUEST: u16 = 0x01;
    /// Multipart message, terminated by NLMSG_DONE.
    pub const NLM_F_MULTI: u16 = 0x02;
    /// Reply with an acknowledgement (NLMSG_ERROR with error 0) on success.
    pub const NLM_F_ACK: u16 = 0x04;
    /// Echo this request back.
    pub const NLM_F_ECHO: u16 = 0x08;
    /// GET: return the complete table.
    pub const NLM_F_ROOT: u16 = 0x100;
    /// GET: return all entries matching criteria.
    pub const NLM_F_MATCH: u16 = 0x200;
    /// GET: a dump (ROOT | MATCH).
    pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
    /// NEW: replace an existing object.
    pub const NLM_F_REPLACE: u16 = 0x100;
    /// NEW: fail with EEXIST if the object exists.
    pub const NLM_F_EXCL: u16 = 0x200;
    /// NEW: create the object if it does not exist.
    pub const NLM_F_CREATE: u16 = 0x400;
    /// NEW: append to the end of a list.
    pub const NLM_F_APPEND: u16 = 0x800;
    /// Error/ack: the request payload was not copied (only its header).
    pub const NLM_F_CAPPED: u16 = 0x100;
    /// NOOP control message.
    pub const NLMSG_NOOP: u16 = 1;
    /// Error or acknowledgement.
    pub const NLMSG_ERROR: u16 = 2;
    /// End of a multipart dump.
    pub const NLMSG_DONE: u16 = 3;
    /// Data lost.
    pub const NLMSG_OVERRUN: u16 = 4;
    /// First type that is not a control message.
    pub const NLMSG_MIN_TYPE: u16 = 16;
}

/// rtnetlink message types (`RTM_*` of `<linux/rtnetlink.h>`).
pub mod rtm {
    /// Create or modify a link.
    pub const NEWLINK: u16 = 16;
    /// Delete a link.
    pub const DELLINK: u16 = 17;
    /// Get or dump links.
    pub const GETLINK: u16 = 18;
    /// Modify a link.
    pub const SETLINK: u16 = 19;
    /// Add an address.
    pub const NEWADDR: u16 = 20;
    /// Delete an address.
    pub const DELADDR: u16 = 21;
    /// Get or dump addresses.
    pub const GETADDR: u16 = 22;
    /// Add a route.
    pub const NEWROUTE: u16 = 24;
    /// Delete a route.
    pub const DELROUTE: u16 = 25;
    /// Get a route or dump routes.
    pub const GETROUTE: u16 = 26;
    /// Add a neighbour.
    pub const NEWNEIGH: u16 = 28;
    /// Delete a neighbour.
    pub const DELNEIGH: u16 = 29;
    /// Get or dump neighbours.
    pub const GETNEIGH: u16 = 30;
    /// Highest message type Linux knows (RTM_MAX as of Linux 6.x); above it: EOPNOTSUPP.
    pub const MAX: u16 = 123;
}

/// The fixed header of one netlink message, read without interpretation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawHeader {
    /// `nlmsg_len`: length of the message including this header.
    pub len: u32,
    /// `nlmsg_type`.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
}

impl RawHeader {
    /// Reads a header from the first 16 bytes of `buf`; None when `buf` is shorter.
    pub fn parse(buf: &[u8]) -> Option<RawHeader> {
        let b = buf.get(..NLMSG_HDRLEN)?;
        let u32_at = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(RawHeader {
            len: u32_at(0),
            ty: u16::from_ne_bytes([b[4], b[5]]),
            flags: u16::from_ne_bytes([b[6], b[7]]),
            seq: u32_at(8),
            pid: u32_at(12),
        })
    }

    /// Appends this header to `out` (with `len` as given).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.len.to_ne_bytes());
        out.extend_from_slice(&self.ty.to_ne_bytes());
        out.extend_from_slice(&self.flags.to_ne_bytes());
        out.extend_from_slice(&self.seq.to_ne_bytes());
        out.extend_from_slice(&self.pid.to_ne_bytes());
    }
}

/// Rounds `n` up to the netlink alignment (4).
pub fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Splits a buffer into netlink messages the way Linux's `netlink_rcv_skb` does: each item is
/// a header and the whole message (header included); iteration stops at the first message
/// whose length is shorter than a header or longer than what remains.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = (RawHeader, &[u8])> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        let hdr = RawHeader::parse(rest)?;
        let len = hdr.len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            rest = &[];
            return None;
        }
        let msg = &rest[..len];
        rest = &rest[align4(len).min(rest.len())..];
        Some((hdr, msg))
    })
}

/// Encodes one rtnetlink message with the given type-independent header fields, padded to 4.
pub fn encode(msg: RouteNetlinkMessage, flags: u16, seq: u32, pid: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    header.port_number = pid;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    packet.finalize();
    let mut out = vec![0u8; align4(packet.buffer_len())];
    packet.serialize(&mut out);
    out
}

/// Encodes an NLMSG_ERROR message: `errno` 0 is an acknowledgement, which carries only the
/// request header (flag NLM_F_CAPPED); an error carries the whole request, as Linux does.
pub fn encode_error(request: &[u8], errno: i32, seq: u32, pid: u32) -> Vec<u8> {
    let (copied, msg_flags) = if errno == 0 {
        (
            &request[..NLMSG_HDRLEN.min(request.len())],
            flags::NLM_F_CAPPED,
        )
    } else {
        (request, 0)
    };
    let len = NLMSG_HDRLEN + 4 + copied.len();
    let mut out = Vec::with_capacity(align4(len));
    RawHeader {
        len: len as u32,
        ty: flags::NLMSG_ERROR,
        flags: msg_flags,
        seq,
        pid,
    }
    .emit(&mut out);
    out.extend_from_slice(&(-errno).to_ne_bytes());
    out.extend_from_slice(copied);
    out.resize(align4(len), 0);
    out
}

/// Encodes the NLMSG_DONE that ends a dump (payload: the int 0).
pub fn encode_done(seq: u32, pid: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(NLMSG_HDRLEN + 4);
    RawHeader {
        len: (NLMSG_HDRLEN + 4) as u32,
        ty: flags::NLMSG_DONE,
        flags: flags::NLM_F_MULTI,
        seq,
        pid,
    }
    .emit(&mut out);
    out.extend_from_slice(&0i32.to_ne_bytes());
    out
}

/// The address family byte of an address.
pub fn family_of(addr: &IpAddr) -> AddressFamily {
    if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

/// The unspecified address of a family (None for families other than inet/inet6).
pub fn unspecified_of(family: AddressFamily) -> Option<IpAddr> {
    match family {
        AddressFamily::Inet => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        AddressFamily::Inet6 => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        _ => None,
    }
}

/// Builds the RTM_NEWLINK body describing `link`, as a dump entry or a GET reply.
pub fn link_message(link: &Link) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.header.interface_family = AddressFamily::Unspec;
    msg.header.index = link.index;
    msg.header.link_layer_type = link.link_type.into();
    msg.header.flags = LinkFlags::from_bits_retain(link.flags);
    let oper = if link.link_type == ARPHRD_LOOPBACK && link.is_up() {
        State::Unknown
    } else if link.is_up() && link.flags & iff::LOWER_UP != 0 {
        State::Up
    } else {
        State::Down
    };
    let broadcast = if link.link_type == ARPHRD_LOOPBACK {
        vec![0; 6]
    } else {
        vec![0xff; 6]
    };
    msg.attributes = vec![
        LinkAttribute::IfName(link.name.clone()),
        LinkAttribute::TxQueueLen(1000),
        LinkAttribute::OperState(oper),
        LinkAttribute::Mtu(link.mtu),
        LinkAttribute::Address(link.mac.to_vec()),
        LinkAttribute::Broadcast(broadcast),
    ];
    if let Some(kind) = &link.kind {
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::from(kind.as_str()),
            )]));
    }
    msg
}

/// Reads a [`Link`] back from an RTM_NEWLINK body (missing attributes give empty/zero values).
pub fn link_from_message(msg: &LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        name: String::new(),
        mac: [0; 6],
        mtu: 0,
        flags: msg.header.flags.bits(),
        link_type: msg.header.link_layer_type.into(),
        kind: None,
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(name) => link.name = name.clone(),
            LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
            LinkAttribute::Address(mac) if mac.len() >= 6 => {
                link.mac.copy_from_slice(&mac[..6]);
            }
            LinkAttribute::LinkInfo(infos) => {
                link.kind = link_kind(infos);
            }
            _ => {}
        }
    }
    link
}

/// Appends `stats` to an RTM_NEWLINK body as Linux reports them: `IFLA_STATS64` (`struct
/// rtnl_link_stats64`, 200 bytes) and `IFLA_STATS` (`struct rtnl_link_stats`, each counter
/// cut to 32 bits as the kernel's `copy_rtnl_link_stats` does).
pub fn push_link_stats(msg: &mut LinkMessage, stats: &LinkStats) {
    let mut s64 = Stats64::default();
    s64.rx_packets = stats.rx_packets;
    s64.tx_packets = stats.tx_packets;
    s64.rx_bytes = stats.rx_bytes;
    s64.tx_bytes = stats.tx_bytes;
    s64.rx_errors = stats.rx_errors;
    s64.tx_errors = stats.tx_errors;
    s64.rx_dropped = stats.rx_dropped;
    s64.tx_dropped = stats.tx_dropped;
    s64.multicast = stats.multicast;
    s64.rx_length_errors = stats.rx_length_errors;
    s64.rx_over_errors = stats.rx_over_errors;
    s64.rx_crc_errors = stats.rx_crc_errors;
    s64.rx_missed_errors = stats.rx_missed_errors;
    s64.tx_carrier_errors = stats.tx_carrier_errors;
    s64.rx_nohandler = stats.rx_nohandler;
    let cut = |v: u64| v as u32;
    let mut s32 = Stats::default();
    s32.rx_packets = cut(stats.rx_packets);
    s32.tx_packets = cut(stats.tx_packets);
    s32.rx_bytes = cut(stats.rx_bytes);
    s32.tx_bytes = cut(stats.tx_bytes);
    s32.rx_errors = cut(stats.rx_errors);
    s32.tx_errors = cut(stats.tx_errors);
    s32.rx_dropped = cut(stats.rx_dropped);
    s32.tx_dropped = cut(stats.tx_dropped);
    s32.multicast = cut(stats.multicast);
    s32.rx_length_errors = cut(stats.rx_length_errors);
    s32.rx_over_errors = cut(stats.rx_over_errors);
    s32.rx_crc_errors = cut(stats.rx_crc_errors);
    s32.rx_missed_errors = cut(stats.rx_missed_errors);
    s32.tx_carrier_errors = cut(stats.tx_carrier_errors);
    s32.rx_nohandler = cut(stats.rx_nohandler);
    msg.attributes.push(LinkAttribute::Stats64(s64));
    msg.attributes.push(LinkAttribute::Stats(s32));
}

/// The counters of an RTM_NEWLINK body: `IFLA_STATS64`, else `IFLA_STATS` (32-bit, from
/// peers that send only those); None when it carries neither.
pub fn link_stats_from_message(msg: &LinkMessage) -> Option<LinkStats> {
    let s64 = msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::Stats64(s) => Some(LinkStats {
            rx_packets: s.rx_packets,
            tx_packets: s.tx_packets,
            rx_bytes: s.rx_bytes,
            tx_bytes: s.tx_bytes,
            rx_errors: s.rx_errors,
            tx_errors: s.tx_errors,
            rx_dropped: s.rx_dropped,
            tx_dropped: s.tx_dropped,
            multicast: s.multicast,
            rx_length_errors: s.rx_length_errors,
            rx_over_errors: s.rx_over_errors,
            rx_crc_errors: s.rx_crc_errors,
            rx_missed_errors: s.rx_missed_errors,
            tx_carrier_errors: s.tx_carrier_errors,
            rx_nohandler: s.rx_nohandler,
        }),
        _ => None,
    });
    s64.or_else(|| {
        msg.attributes.iter().find_map(|a| match a {
            LinkAttribute::Stats(s) => Some(LinkStats {
                rx_packets: s.rx_packets.into(),
                tx_packets: s.tx_packets.into(),
                rx_bytes: s.rx_bytes.into(),
                tx_bytes: s.tx_bytes.into(),
                rx_errors: s.rx_errors.into(),
                tx_errors: s.tx_errors.into(),
                rx_dropped: s.rx_dropped.into(),
                tx_dropped: s.tx_dropped.into(),
                multicast: s.multicast.into(),
                rx_length_errors: s.rx_length_errors.into(),
                rx_over_errors: s.rx_over_errors.into(),
                rx_crc_errors: s.rx_crc_errors.into(),
                rx_missed_errors: s.rx_missed_errors.into(),
                tx_carrier_errors: s.tx_carrier_errors.into(),
                rx_nohandler: s.rx_nohandler.into(),
            }),
            _ => None,
        })
    })
}

/// The `IFLA_INFO_KIND` of a link info attribute list, as text.
pub fn link_kind(infos: &[LinkInfo]) -> Option<String> {
    infos.iter().find_map(|i| match i {
        LinkInfo::Kind(kind) => Some(kind.to_string()),
        _ => None,
    })
}

/// The raw `IFLA_INFO_DATA` bytes of a link info attribute list, for kinds this crate does not
/// interpret (such as "vde", whose data is the VNL text). For a "vde" link, libioth's helpers
/// (`ioth_iplink_add` with `nl_iplink_strdata(IFLA_VDE_VNL, vnl)`) nest the VNL in an
/// attribute of type `IFLA_VDE_VNL` (1) instead: that attribute's payload is returned then.
///
/// ```
/// use netlink_packet_route::link::{InfoData, InfoKind, LinkInfo};
/// let vde = LinkInfo::Kind(InfoKind::Other("vde".into()));
/// let raw = LinkInfo::Data(InfoData::Other(b"vde:///tmp/hub\0".to_vec()));
/// let data = nlconf::rtnl::link_info_data(&[vde.clone(), raw]);
/// assert_eq!(data.as_deref(), Some(&b"vde:///tmp/hub\0"[..]));
/// // The same VNL as libioth nests it: length 19, type 1, then the text and padding.
/// let mut nested = vec![19, 0, 1, 0];
/// nested.extend_from_slice(b"vde:///tmp/hub\0\0");
/// let nested = LinkInfo::Data(InfoData::Other(nested));
/// let data = nlconf::rtnl::link_info_data(&[vde, nested]);
/// assert_eq!(data.as_deref(), Some(&b"vde:///tmp/hub\0"[..]));
/// ```
pub fn link_info_data(infos: &[LinkInfo]) -> Option<Vec<u8>> {
    let vde = link_kind(infos).as_deref() == Some("vde");
    infos.iter().find_map(|i| match i {
        LinkInfo::Data(InfoData::Other(bytes)) => {
            let nested = if vde { nested_vde_vnl(bytes) } else { None };
            Some(nested.unwrap_or(bytes).to_vec())
        }
        _ => None,
    })
}

/// `IFLA_NEW_IFINDEX`: in Linux, the index a new link should get (an `s32`).
const IFLA_NEW_IFINDEX: u16 = 49;
/// The length of `struct ifinfomsg`, before a link message's attributes.
const IFINFOMSG_LEN: usize = 16;

/// libioth's way of asking for the index of a link it creates (`ioth_iplink_add` with
/// ifindex -1, nlinline's helpers): an `IFLA_NEW_IFINDEX` attribute holding the empty string,
/// not the `s32` Linux reads there, and the new link's RTM_NEWLINK expected as the first
/// reply. Returns the RTM_NEWLINK `payload` without that attribute (so that it decodes) when
/// it carries one; None when it does not (a well-formed `s32` one is Linux's and stays).
///
/// ```
/// let mut payload = vec![0u8; 16]; // struct ifinfomsg
/// payload.extend_from_slice(&[5, 0, 49, 0, 0, 0, 0, 0]); // IFLA_NEW_IFINDEX "" (padded)
/// payload.extend_from_slice(&[8, 0, 3, 0, b'v', b'd', b'e', 0]); // IFLA_IFNAME "vde"
/// let stripped = nlconf::rtnl::strip_libioth_new_ifindex(&payload).expect("libioth's marker");
/// assert_eq!(stripped.len(), 16 + 8);
/// assert_eq!(nlconf::rtnl::strip_libioth_new_ifindex(&stripped), None);
/// ```
pub fn strip_libioth_new_ifindex(payload: &[u8]) -> Option<Vec<u8>> {
    let attrs = payload.get(IFINFOMSG_LEN..)?;
    let mut rest = attrs;
    let mut pos = IFINFOMSG_LEN;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        let aligned = ((len + 3) & !3).min(rest.len());
        if ty == IFLA_NEW_IFINDEX && len != 8 {
            let mut out = payload[..pos].to_vec();
            out.extend_from_slice(&payload[pos + aligned..]);
            return Some(out);
        }
        rest = &rest[aligned..];
        pos += aligned;
    }
    None
}

/// `IFLA_VDE_VNL`: libioth's attribute for the VNL of a "vde" link.
const IFLA_VDE_VNL: u16 = 1;

/// The payload of the `IFLA_VDE_VNL` attribute when `bytes` is exactly a list of well-formed
/// netlink attributes holding one; None otherwise (raw VNL text never parses as one: its
/// first two bytes, read as a length, exceed any message).
fn nested_vde_vnl(bytes: &[u8]) -> Option<&[u8]> {
    let mut rest = bytes;
    let mut found = None;
    while !rest.is_empty() {
        let len = usize::from(u16::from_ne_bytes([*rest.first()?, *rest.get(1)?]));
        let ty = u16::from_ne_bytes([*rest.get(2)?, *rest.get(3)?]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        if ty == IFLA_VDE_VNL {
            found = Some(&rest[4..len]);
        }
        let aligned = (len + 3) & !3;
        rest = rest.get(aligned..).unwrap_or(&[]);
    }
    found
}

/// Builds the RTM_NEWADDR body describing `addr` (`label` is the interface name, which Linux
/// reports for IPv4 addresses).
pub fn addr_message(addr: &IfAddr, label: Option<&str>) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = family_of(&addr.addr);
    msg.header.prefix_len = addr.prefix_len;
    msg.header.flags = AddressHeaderFlags::Permanent;
    msg.header.scope = addr.scope().into();
    msg.header.index = addr.index;
    msg.attributes.push(AddressAttribute::Address(addr.addr));
    if addr.addr.is_ipv4() {
        msg.attributes.push(AddressAttribute::Local(addr.addr));
        if let Some(bcast) = addr.broadcast() {
            msg.attributes.push(AddressAttribute::Broadcast(bcast));
        }
        if let Some(label) = label {
            msg.attributes
                .push(AddressAttribute::Label(label.to_string()));
        }
    }
    msg.attributes
        .push(AddressAttribute::Flags(AddressFlags::Permanent));
    msg
}

/// Reads an [`IfAddr`] back from an address message: IFA_LOCAL wins over IFA_ADDRESS (they
/// differ only on point-to-point links, where IFA_ADDRESS is the peer). None without either.
pub fn addr_from_message(msg: &AddressMessage) -> Option<IfAddr> {
    let mut local = None;
    let mut address = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            _ => {}
        }
    }
    Some(IfAddr {
        index: msg.header.index,
        addr: local.or(address)?,
        prefix_len: msg.header.prefix_len,
    })
}

fn route_address(addr: IpAddr) -> RouteAddress {
    match addr {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

/// The IP address of a route address attribute (None for MPLS and unknown kinds).
pub fn ip_of_route_address(addr: &RouteAddress) -> Option<IpAddr> {
    match addr {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// Builds the RTM_NEWROUTE body describing `route`.
pub fn route_message(route: &Route) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = family_of(&route.dst);
    msg.header.destination_prefix_length = route.prefix_len;
    msg.header.table = u8::try_from(route.table).unwrap_or(252);
    msg.header.protocol = route.protocol.into();
    msg.header.scope = route.scope.into();
    msg.header.kind = RouteType::Unicast;
    msg.attributes.push(RouteAttribute::Table(route.table));
    if route.metric != 0 {
        msg.attributes.push(RouteAttribute::Priority(route.metric));
    }
    if route.prefix_len > 0 {
        msg.attributes
            .push(RouteAttribute::Destination(route_address(route.dst)));
    }
    if let Some(gw) = route.gateway {
        msg.attributes
            .push(RouteAttribute::Gateway(route_address(gw)));
    }
    if let Some(oif) = route.oif {
        msg.attributes.push(RouteAttribute::Oif(oif));
    }
    msg
}

/// Reads a [`Route`] back from a route message; None for families other than inet/inet6.
pub fn route_from_message(msg: &RouteMessage) -> Option<Route> {
    let mut route = Route {
        dst: unspecified_of(msg.header.address_family)?,
        prefix_len: msg.header.destination_prefix_length,
        gateway: None,
        oif: None,
        table: u32::from(msg.header.table),
        protocol: msg.header.protocol.into(),
        scope: msg.header.scope.into(),
        metric: 0,
    };
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Destination(a) => {
                if let Some(ip) = ip_of_route_address(a) {
                    route.dst = ip;
                }
            }
            RouteAttribute::Gateway(a) => route.gateway = ip_of_route_address(a),
            RouteAttribute::Oif(i) => route.oif = Some(*i),
            RouteAttribute::Table(t) => route.table = *t,
            RouteAttribute::Priority(p) => route.metric = *p,
            _ => {}
        }
    }
    Some(route)
}

/// Builds the RTM_NEWNEIGH body describing `neigh`.
pub fn neighbour_message(neigh: &Neighbour) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = family_of(&neigh.addr);
    msg.header.ifindex = neigh.index;
    msg.header.state = neigh.state.into();
    msg.header.kind = RouteType::Unicast;
    msg.attributes
        .push(NeighbourAttribute::Destination(match neigh.addr {
            IpAddr::V4(a) => NeighbourAddress::Inet(a),
            IpAddr::V6(a) => NeighbourAddress::Inet6(a),
        }));
    if let Some(mac) = neigh.mac {
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    }
    msg
}

/// Reads a [`Neighbour`] back from a neighbour message; None without an IP destination.
pub fn neighbour_from_message(msg: &NeighbourMessage) -> Option<Neighbour> {
    let mut addr = None;
    let mut mac = None;
    for attr in &msg.attributes {
        match attr {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => {
                addr = Some(IpAddr::V4(*a))
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                addr = Some(IpAddr::V6(*a))
            }
            NeighbourAttribute::LinkLayerAddress(m) if m.len() == 6 => {
                let mut b = [0u8; 6];
                b.copy_from_slice(m);
                mac = Some(b);
            }
            _ => {}
        }
    }
    Some(Neighbour {
        index: msg.header.ifindex,
        addr: addr?,
        mac,
        state: msg.header.state.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ARPHRD_ETHER, RT_SCOPE_UNIVERSE, RTPROT_BOOT};

    proptest::proptest! {
        /// Any bytes: no panic; what is stripped is one attribute (at least its header),
        /// and the ifinfomsg before the attributes stays.
        #[test]
        fn stripping_libioth_new_ifindex_takes_one_attribute(
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96),
        ) {
            if let Some(out) = strip_libioth_new_ifindex(&payload) {
                proptest::prop_assert!(out.len() + 4 <= payload.len());
                proptest::prop_assert_eq!(&out[..IFINFOMSG_LEN], &payload[..IFINFOMSG_LEN]);
            }
        }
    }

    #[test]
    fn message_iteration_stops_at_truncation() {
        let a = encode_done(1, 2);
        let b = encode_done(3, 4);
        let mut buf = a.clone();
        buf.extend_from_slice(&b);
        buf.extend_from_slice(&[1, 2, 3]); // trailing garbage shorter than a header
        let seqs: Vec<u32> = messages(&buf).map(|(h, _)| h.seq).collect();
        assert_eq!(seqs, vec![1, 3]);
        // a length field beyond the buffer ends iteration
        let mut bad = a.clone();
        bad[0] = 200;
        assert_eq!(messages(&bad).count(), 0);
        // a length field below the header size ends iteration
        let mut tiny = a;
        tiny[0] = 8;
        assert_eq!(messages(&tiny).count(), 0);
    }

    #[test]
    fn error_and_ack_layout() {
        let req = encode_done(7, 9);
        let ack = encode_error(&req, 0, 7, 9);
        let h = RawHeader::parse(&ack).unwrap();
        assert_eq!(
            (h.ty, h.flags, h.seq, h.pid, h.len),
            (2, flags::NLM_F_CAPPED, 7, 9, 36)
        );
        let err = encode_error(&req, libc::EEXIST, 7, 9);
        let h = RawHeader::parse(&err).unwrap();
        assert_eq!((h.flags, h.len as usize), (0, 20 + req.len()));
        assert_eq!(
            i32::from_ne_bytes(err[16..20].try_into().unwrap()),
            -libc::EEXIST
        );
    }

    #[test]
    fn model_round_trips_through_messages() {
        let link = Link {
            index: 3,
            name: "vde0".into(),
            mac: [2, 1, 2, 3, 4, 5],
            mtu: 1500,
            flags: iff::UP | iff::BROADCAST | iff::MULTICAST | iff::RUNNING | iff::LOWER_UP,
            link_type: ARPHRD_ETHER,
            kind: Some("vde".into()),
        };
        assert_eq!(link_from_message(&link_message(&link)), link);
        assert_eq!(link_stats_from_message(&link_message(&link)), None);
        let stats = LinkStats {
            rx_packets: 1,
            tx_packets: 2,
            rx_bytes: (1 << 32) + 3,
            tx_bytes: 4,
            rx_errors: 5,
            tx_errors: 6,
            rx_dropped: 7,
            tx_dropped: 8,
            multicast: 9,
            rx_length_errors: 10,
            rx_over_errors: 11,
            rx_crc_errors: 12,
            rx_missed_errors: 13,
            tx_carrier_errors: 14,
            rx_nohandler: 15,
        };
        let mut msg = link_message(&link);
        push_link_stats(&mut msg, &stats);
        let bytes = encode(RouteNetlinkMessage::NewLink(msg.clone()), 0, 1, 2);
        let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes).unwrap();
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(back)) = parsed.payload
        else {
            panic!("not a link");
        };
        assert_eq!(link_from_message(&back), link);
        assert_eq!(link_stats_from_message(&back), Some(stats));
        // The layouts Linux uses: IFLA_STATS64 (23) 4 + 200 bytes, IFLA_STATS (7) 4 + 96,
        // rx_bytes at offset 16 of the 64-bit one, cut to 32 bits at offset 8 of the other.
        let find = |ty: u16| {
            let mut at = NLMSG_HDRLEN + 16;
            while at + 4 <= bytes.len() {
                let len = u16::from_ne_bytes([bytes[at], bytes[at + 1]]) as usize;
                if u16::from_ne_bytes([bytes[at + 2], bytes[at + 3]]) == ty {
                    return &bytes[at..at + len];
                }
                at += align4(len.max(4));
            }
            panic!("no attribute {ty}");
        };
        let s64 = find(23);
        assert_eq!(s64.len(), 204);
        assert_eq!(&s64[4 + 16..4 + 24], &((1u64 << 32) + 3).to_ne_bytes());
        let s32 = find(7);
        assert_eq!(s32.len(), 100);
        assert_eq!(&s32[4 + 8..4 + 12], &3u32.to_ne_bytes());
        // A peer that sends only IFLA_STATS is read from it.
        msg.attributes
            .retain(|a| !matches!(a, LinkAttribute::Stats64(_)));
        let mut cut = stats;
        cut.rx_bytes = 3;
        assert_eq!(link_stats_from_message(&msg), Some(cut));
        for a in ["10.0.0.1", "2001:db8::5"] {
            let addr = IfAddr {
                index: 3,
                addr: a.parse().unwrap(),
                prefix_len: 24,
            };
            assert_eq!(
                addr_from_message(&addr_message(&addr, Some("vde0"))),
                Some(addr)
            );
        }
        let route = Route {
            dst: "10.1.0.0".parse().unwrap(),
            prefix_len: 16,
            gateway: Some("10.0.0.254".parse().unwrap()),
            oif: Some(3),
            table: 254,
            protocol: RTPROT_BOOT,
            scope: RT_SCOPE_UNIVERSE,
            metric: 7,
        };
        assert_eq!(route_from_message(&route_message(&route)), Some(route));
        let n = Neighbour {
            index: 3,
            addr: "10.0.0.9".parse().unwrap(),
            mac: Some([2; 6]),
            state: 2,
        };
        assert_eq!(neighbour_from_message(&neighbour_message(&n)), Some(n));
    }
}
