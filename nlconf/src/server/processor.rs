//! The rtnetlink request processor: decodes requests, checks them against a stack's [`Tables`]
//! with Linux's rules, applies them and encodes the replies Linux would send.
//!
//! Rules, as measured on Linux 6.x (see the tests):
//! - A buffer holds several messages; processing stops silently at the first message whose
//!   length is shorter than a header or longer than the rest of the buffer.
//! - Messages without NLM_F_REQUEST, control messages (type < 16) and messages with an empty
//!   payload are not processed; they are acknowledged only when NLM_F_ACK is set.
//! - Every reply echoes the request's sequence number and carries the requester's port id.
//! - Errors are NLMSG_ERROR with `-errno` and the whole request; acknowledgements (error 0) are
//!   sent only with NLM_F_ACK and carry the request header only (flag NLM_F_CAPPED).
//! - GET with NLM_F_DUMP: one message per entry with NLM_F_MULTI, then NLMSG_DONE; no ack.
//! - Undecodable payloads: EINVAL. Types this processor does not handle: EOPNOTSUPP.
//! - LINK: NEW on an existing link: EEXIST with NLM_F_EXCL, otherwise modified like SET; NEW on
//!   a missing link: ENODEV without NLM_F_CREATE, EOPNOTSUPP without a kind; SET/DEL/GET on a
//!   missing link: ENODEV; a name in use: EEXIST; an MTU below 68: EINVAL.
//! - ADDR: the link must exist (ENODEV); an address already present: EEXIST unless
//!   NLM_F_REPLACE without NLM_F_EXCL; deleting a missing address: EADDRNOTAVAIL. Like Linux,
//!   NEW needs no NLM_F_CREATE for addresses.
//! - ROUTE: IPv4 destinations with host bits set: EINVAL (IPv6 ones are masked); no gateway and
//!   no interface: ENODEV; a gateway not on a connected prefix: ENETUNREACH (IPv4) or
//!   EHOSTUNREACH (IPv6); an identical route: EEXIST (a different gateway for the same prefix
//!   is added); deleting a missing route: ESRCH; GET without dump looks a destination up.

use std::io;
use std::net::IpAddr;

use netlink_packet_core::ParseableParametrized;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::route::{RouteAttribute, RouteMessage};

use super::tables::{LinkChange, NewLink, Tables};
use crate::model::{
    IFNAME_MAX, IfAddr, Link, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, Route, iff,
    mask_addr, max_prefix,
};
use crate::rtnl::{self, NLMSG_HDRLEN, RawHeader, flags::*, rtm};

/// Largest datagram a dump is packed into (entries never straddle datagrams).
pub const DUMP_DATAGRAM: usize = 4096;

/// Smallest MTU Linux accepts on an Ethernet interface.
const MIN_MTU: u32 = 68;

/// Processes every request in `request` against `tables` and returns the reply bytes
/// (all datagrams of [`process_datagrams`] concatenated).
pub fn process<T: Tables + ?Sized>(tables: &mut T, request: &[u8], pid: u32) -> Vec<u8> {
    process_datagrams(tables, request, pid).concat()
}

/// Processes every request in `request` against `tables` and returns the reply datagrams, in
/// the order a netlink socket would deliver them: one per reply or ack, dumps packed into
/// datagrams of at most [`DUMP_DATAGRAM`] bytes (larger single entries alone).
pub fn process_datagrams<T: Tables + ?Sized>(
    tables: &mut T,
    request: &[u8],
    pid: u32,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (hdr, msg) in rtnl::messages(request) {
        let mut ctx = Ctx {
            hdr,
            pid,
            out: &mut out,
            echo_new_link: false,
        };
        let result = if hdr.flags & NLM_F_REQUEST == 0
            || hdr.ty < NLMSG_MIN_TYPE
            || msg.len() == NLMSG_HDRLEN
        {
            Ok(Done::Ack)
        } else {
            handle(tables, &mut ctx, &msg[NLMSG_HDRLEN..])
        };
        match result {
            Ok(Done::Ack) => {
                if hdr.flags & NLM_F_ACK != 0 {
                    out.push(rtnl::encode_error(msg, 0, hdr.seq, pid));
                }
            }
            Ok(Done::Dumped) => {}
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EINVAL);
                log::debug!("rtnetlink request type {} failed: {e}", hdr.ty);
                out.push(rtnl::encode_error(msg, errno, hdr.seq, pid));
            }
        }
    }
    out
}

/// How a request finished when it did not fail.
enum Done {
    /// A non-dump request: ack if NLM_F_ACK.
    Ack,
    /// A dump: its DONE was sent, no ack.
    Dumped,
}

struct Ctx<'a> {
    hdr: RawHeader,
    pid: u32,
    out: &'a mut Vec<Vec<u8>>,
    /// A new link is answered with its RTM_NEWLINK (NLM_F_ECHO, or libioth's request for
    /// the new index).
    echo_new_link: bool,
}

impl Ctx<'_> {
    fn has(&self, flag: u16) -> bool {
        self.hdr.flags & flag != 0
    }

    fn is_dump(&self) -> bool {
        self.hdr.flags & NLM_F_DUMP != 0
    }

    /// Queues a single (non-multipart) reply message.
    fn reply(&mut self, msg: RouteNetlinkMessage) {
        self.out.push(rtnl::encode(msg, 0, self.hdr.seq, self.pid));
    }

    /// Queues a dump: entries with NLM_F_MULTI packed into datagrams, then NLMSG_DONE.
    fn dump(&mut self, entries: impl IntoIterator<Item = RouteNetlinkMessage>) -> Done {
        let mut current: Vec<u8> = Vec::new();
        for entry in entries {
            let bytes = rtnl::encode(entry, NLM_F_MULTI, self.hdr.seq, self.pid);
            if !current.is_empty() && current.len() + bytes.len() > DUMP_DATAGRAM {
                self.out.push(std::mem::take(&mut current));
            }
            current.extend_from_slice(&bytes);
        }
        let done = rtnl::encode_done(self.hdr.seq, self.pid);
        if !current.is_empty() && current.len() + done.len() > DUMP_DATAGRAM {
            self.out.push(std::mem::take(&mut current));
        }
        current.extend_from_slice(&done);
        self.out.push(current);
        Done::Dumped
    }
}

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

fn handle<T: Tables + ?Sized>(tables: &mut T, ctx: &mut Ctx, payload: &[u8]) -> io::Result<Done> {
    let ty = ctx.hdr.ty;
    let known = matches!(
        ty,
        rtm::NEWLINK..=rtm::SETLINK
            | rtm::NEWADDR..=rtm::GETADDR
            | rtm::NEWROUTE..=rtm::GETROUTE
            | rtm::GETNEIGH
    );
    if !known {
        return Err(errno(libc::EOPNOTSUPP));
    }
    // libioth's helpers ask for a new link's index in a form Linux would refuse (see
    // `rtnl::strip_libioth_new_ifindex`): answered with the new link, as an echo.
    let stripped = (ty == rtm::NEWLINK)
        .then(|| rtnl::strip_libioth_new_ifindex(payload))
        .flatten();
    if stripped.is_some() {
        ctx.echo_new_link = true;
    }
    let payload = stripped.as_deref().unwrap_or(payload);
    let msg = RouteNetlinkMessage::parse_with_param(payload, ty).map_err(|e| {
        log::debug!("undecodable rtnetlink message type {ty}: {e}");
        errno(libc::EINVAL)
    })?;
    match msg {
        RouteNetlinkMessage::GetLink(m) => get_link(tables, ctx, &m),
        RouteNetlinkMessage::NewLink(m) => new_link(tables, ctx, &m),
        RouteNetlinkMessage::SetLink(m) => {
            let link = find_link(tables, &m)?.ok_or_else(|| errno(libc::ENODEV))?;
            set_link(tables, &link, &m)
        }
        RouteNetlinkMessage::DelLink(m) => {
            let link = find_link(tables, &m)?.ok_or_else(|| errno(libc::ENODEV))?;
            tables.del_link(link.index)?;
            Ok(Done::Ack)
        }
        RouteNetlinkMessage::GetAddress(m) => {
            if !ctx.is_dump() {
                return Err(errno(libc::EOPNOTSUPP));
            }
            let family = m.header.family;
            let links = tables.links();
            let entries = tables
                .addrs()
                .into_iter()
                .filter(|a| family == AddressFamily::Unspec || rtnl::family_of(&a.addr) == family)
                .map(|a| {
                    let label = links
                        .iter()
                        .find(|l| l.index == a.index)
                        .map(|l| l.name.as_str());
                    RouteNetlinkMessage::NewAddress(rtnl::addr_message(&a, label))
                })
                .collect::<Vec<_>>();
            Ok(ctx.dump(entries))
        }
        RouteNetlinkMessage::NewAddress(m) => new_addr(tables, ctx, &m),
        RouteNetlinkMessage::DelAddress(m) => del_addr(tables, &m),
        RouteNetlinkMessage::GetRoute(m) => get_route(tables, ctx, &m),
        RouteNetlinkMessage::NewRoute(m) => new_route(tables, ctx, &m),
        RouteNetlinkMessage::DelRoute(m) => del_route(tables, &m),
        RouteNetlinkMessage::GetNeighbour(m) => {
            if !ctx.is_dump() {
                return Err(errno(libc::EOPNOTSUPP));
            }
            let family = m.header.family;
            let entries = tables
                .neighbours()
                .into_iter()
                .filter(|n| family == AddressFamily::Unspec || rtnl::family_of(&n.addr) == family)
                .map(|n| RouteNetlinkMessage::NewNeighbour(rtnl::neighbour_message(&n)))
                .collect::<Vec<_>>();
            Ok(ctx.dump(entries))
        }
        _ => Err(errno(libc::EOPNOTSUPP)),
    }
}

fn link_name(m: &LinkMessage) -> Option<&str> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

/// Finds the link a request designates: by index when not 0, else by name; Err(EINVAL) when
/// it designates none.
fn find_link<T: Tables + ?Sized>(tables: &T, m: &LinkMessage) -> io::Result<Option<Link>> {
    let links = tables.links();
    if m.header.index != 0 {
        Ok(links.into_iter().find(|l| l.index == m.header.index))
    } else if let Some(name) = link_name(m) {
        Ok(links.into_iter().find(|l| l.name == name))
    } else {
        Err(errno(libc::EINVAL))
    }
}

fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= IFNAME_MAX
        && name != "."
        && name != ".."
        && !name.contains(['/', ':', '\0'])
        && !name.chars().any(char::is_whitespace)
}

fn get_link<T: Tables + ?Sized>(
    tables: &mut T,
    ctx: &mut Ctx,
    m: &LinkMessage,
) -> io::Result<Done> {
    if ctx.is_dump() {
        let entries = tables
            .links()
            .iter()
            .map(|l| RouteNetlinkMessage::NewLink(link_reply(&*tables, l)))
            .collect::<Vec<_>>();
        return Ok(ctx.dump(entries));
    }
    let link = find_link(tables, m)?.ok_or_else(|| errno(libc::ENODEV))?;
    ctx.reply(RouteNetlinkMessage::NewLink(link_reply(&*tables, &link)));
    Ok(Done::Ack)
}

/// The RTM_NEWLINK body of `link`, with its counters when the tables have them.
fn link_reply<T: Tables + ?Sized>(tables: &T, link: &Link) -> LinkMessage {
    let mut msg = rtnl::link_message(link);
    if let Some(stats) = tables.link_stats(link.index) {
        rtnl::push_link_stats(&mut msg, &stats);
    }
    msg
}

/// Builds the change a NEWLINK/SETLINK body asks of `link`, checking it as Linux does.
fn link_change<T: Tables + ?Sized>(
    tables: &T,
    link: &Link,
    m: &LinkMessage,
) -> io::Result<LinkChange> {
    let mut change = LinkChange::default();
    let (flags, mask) = (m.header.flags.bits(), m.header.change_mask.bits());
    if flags != 0 || mask != 0 {
        // Linux: ifi_change == 0 means "all bits".
        let mask = if mask == 0 { u32::MAX } else { mask };
        let combined = (flags & mask) | (link.flags & !mask);
        let new = combined & iff::USER_SETTABLE;
        if new != link.flags & iff::USER_SETTABLE {
            change.flags = Some(new);
        }
    }
    for attr in &m.attributes {
        match attr {
            LinkAttribute::Address(mac) => {
                let mac: [u8; 6] = mac.as_slice().try_into().map_err(|_| errno(libc::EINVAL))?;
                change.mac = Some(mac);
            }
            LinkAttribute::Mtu(mtu) => {
                if *mtu < MIN_MTU {
                    return Err(errno(libc::EINVAL));
                }
                change.mtu = Some(*mtu);
            }
            LinkAttribute::IfName(name) if m.header.index != 0 && *name != link.name => {
                if !valid_ifname(name) {
                    return Err(errno(libc::EINVAL));
                }
                if tables.links().iter().any(|l| l.name == *name) {
                    return Err(errno(libc::EEXIST));
                }
                change.name = Some(name.clone());
            }
            _ => {}
        }
    }
    Ok(change)
}

fn set_link<T: Tables + ?Sized>(tables: &mut T, link: &Link, m: &LinkMessage) -> io::Result<Done> {
    let change = link_change(tables, link, m)?;
    if !change.is_empty() {
        tables.set_link(link.index, &change)?;
    }
    Ok(Done::Ack)
}

fn new_link<T: Tables + ?Sized>(
    tables: &mut T,
    ctx: &mut Ctx,
    m: &LinkMessage,
) -> io::Result<Done> {
    let existing = if m.header.index == 0 && link_name(m).is_none() {
        None
    } else {
        find_link(tables, m)?
    };
    if let Some(link) = existing {
        if ctx.has(NLM_F_EXCL) {
            return Err(errno(libc::EEXIST));
        }
        return set_link(tables, &link, m);
    }
    if !ctx.has(NLM_F_CREATE) {
        return Err(errno(libc::ENODEV));
    }
    let infos = m.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => Some(infos.as_slice()),
        _ => None,
    });
    let kind = infos
        .and_then(rtnl::link_kind)
        .ok_or_else(|| errno(libc::EOPNOTSUPP))?;
    let links = tables.links();
    let name = match link_name(m) {
        Some(name) => {
            if !valid_ifname(name) {
                return Err(errno(libc::EINVAL));
            }
            if links.iter().any(|l| l.name == name) {
                return Err(errno(libc::EEXIST));
            }
            name.to_string()
        }
        None => (0..)
            .map(|i| format!("{kind}{i}"))
            .find(|n| links.iter().all(|l| l.name != *n))
            .filter(|n| valid_ifname(n))
            .ok_or_else(|| errno(libc::EINVAL))?,
    };
    let mut new = NewLink {
        index: (m.header.index != 0).then_some(m.header.index),
        name,
        kind,
        data: infos.and_then(rtnl::link_info_data).map(|mut d| {
            while d.last() == Some(&0) {
                d.pop();
            }
            d
        }),
        mac: None,
        mtu: None,
    };
    for attr in &m.attributes {
        match attr {
            LinkAttribute::Address(mac) => {
                new.mac = Some(mac.as_slice().try_into().map_err(|_| errno(libc::EINVAL))?);
            }
            LinkAttribute::Mtu(mtu) if *mtu < MIN_MTU => return Err(errno(libc::EINVAL)),
            LinkAttribute::Mtu(mtu) => new.mtu = Some(*mtu),
            _ => {}
        }
    }
    let index = tables.add_link(&new)?;
    if (ctx.has(NLM_F_ECHO) || ctx.echo_new_link)
        && let Some(link) = tables.links().into_iter().find(|l| l.index == index)
    {
        ctx.reply(RouteNetlinkMessage::NewLink(link_reply(&*tables, &link)));
    }
    Ok(Done::Ack)
}

/// Reads the address a NEWADDR/DELADDR designates, checked against its family and link.
fn addr_of_request<T: Tables + ?Sized>(tables: &T, m: &AddressMessage) -> io::Result<IfAddr> {
    if !matches!(m.header.family, AddressFamily::Inet | AddressFamily::Inet6) {
        return Err(errno(libc::EAFNOSUPPORT));
    }
    if !tables.links().iter().any(|l| l.index == m.header.index) {
        return Err(errno(libc::ENODEV));
    }
    let addr = rtnl::addr_from_message(m).ok_or_else(|| errno(libc::EINVAL))?;
    if rtnl::family_of(&addr.addr) != m.header.family || addr.prefix_len > max_prefix(addr.addr) {
        return Err(errno(libc::EINVAL));
    }
    Ok(addr)
}

fn new_addr<T: Tables + ?Sized>(
    tables: &mut T,
    ctx: &mut Ctx,
    m: &AddressMessage,
) -> io::Result<Done> {
    let addr = addr_of_request(tables, m)?;
    // IPv4 tells addresses apart by (address, prefix), IPv6 by address alone.
    let existing = tables.addrs().into_iter().find(|a| {
        a.index == addr.index
            && a.addr == addr.addr
            && (addr.addr.is_ipv6() || a.prefix_len == addr.prefix_len)
    });
    match existing {
        Some(old) => {
            if ctx.has(NLM_F_EXCL) || !ctx.has(NLM_F_REPLACE) {
                return Err(errno(libc::EEXIST));
            }
            if old.prefix_len != addr.prefix_len {
                tables.del_addr(&old)?;
                tables.add_addr(&addr)?;
            }
        }
        None => tables.add_addr(&addr)?,
    }
    Ok(Done::Ack)
}

fn del_addr<T: Tables + ?Sized>(tables: &mut T, m: &AddressMessage) -> io::Result<Done> {
    let addr = addr_of_request(tables, m)?;
    let found = tables
        .addrs()
        .into_iter()
        .find(|a| *a == addr)
        .ok_or_else(|| errno(libc::EADDRNOTAVAIL))?;
    tables.del_addr(&found)?;
    Ok(Done::Ack)
}

/// A route as a request describes it (fields absent from the request are None).
struct RouteSpec {
    route: Route,
    table_given: bool,
}

fn route_of_request(m: &RouteMessage) -> io::Result<RouteSpec> {
    if !matches!(
        m.header.address_family,
        AddressFamily::Inet | AddressFamily::Inet6
    ) {
        return Err(errno(libc::EAFNOSUPPORT));
    }
    let mut route = rtnl::route_from_message(m).ok_or_else(|| errno(libc::EAFNOSUPPORT))?;
    let family = rtnl::family_of(&route.dst);
    if family != m.header.address_family
        || route.gateway.is_some_and(|g| rtnl::family_of(&g) != family)
        || route.prefix_len > max_prefix(route.dst)
    {
        return Err(errno(libc::EINVAL));
    }
    let masked = mask_addr(route.dst, route.prefix_len);
    if masked != route.dst {
        if route.dst.is_ipv4() {
            return Err(errno(libc::EINVAL));
        }
        route.dst = masked;
    }
    let table_given = route.table != 0;
    if !table_given {
        route.table = RT_TABLE_MAIN;
    }
    Ok(RouteSpec { route, table_given })
}

/// The interface through which `gw` is on-link (longest connected prefix), if any.
fn resolve_gateway(routes: &[Route], gw: IpAddr, oif: Option<u32>) -> Option<u32> {
    routes
        .iter()
        .filter(|r| r.gateway.is_none() && r.oif.is_some() && r.contains(gw))
        .filter(|r| oif.is_none() || r.oif == oif)
        .max_by_key(|r| r.prefix_len)
        .and_then(|r| r.oif)
}

fn new_route<T: Tables + ?Sized>(
    tables: &mut T,
    ctx: &mut Ctx,
    m: &RouteMessage,
) -> io::Result<Done> {
    let RouteSpec { mut route, .. } = route_of_request(m)?;
    if let Some(oif) = route.oif
        && !tables.links().iter().any(|l| l.index == oif)
    {
        return Err(errno(libc::ENODEV));
    }
    let routes = tables.routes();
    match route.gateway {
        None if route.oif.is_none() => return Err(errno(libc::ENODEV)),
        None => {}
        Some(gw) => {
            let unreachable = if gw.is_ipv4() {
                libc::ENETUNREACH
            } else {
                libc::EHOSTUNREACH
            };
            let oif = resolve_gateway(&routes, gw, route.oif).ok_or_else(|| errno(unreachable))?;
            route.oif = Some(oif);
        }
    }
    if route.dst.is_ipv6() {
        route.scope = RT_SCOPE_UNIVERSE;
        if route.metric == 0 {
            route.metric = 1024;
        }
    } else if route.gateway.is_some() {
        route.scope = RT_SCOPE_UNIVERSE;
    } else if route.scope == RT_SCOPE_UNIVERSE {
        route.scope = RT_SCOPE_LINK;
    }
    let same_prefix: Vec<&Route> = routes
        .iter()
        .filter(|r| {
            r.table == route.table
                && r.dst == route.dst
                && r.prefix_len == route.prefix_len
                && r.metric == route.metric
        })
        .collect();
    if !same_prefix.is_empty() {
        let identical = same_prefix
            .iter()
            .any(|r| r.gateway == route.gateway && r.oif == route.oif);
        if ctx.has(NLM_F_EXCL) || identical {
            return Err(errno(libc::EEXIST));
        }
        if ctx.has(NLM_F_REPLACE) {
            let old = (*same_prefix[0]).clone();
            tables.del_route(&old)?;
        }
    } else if !ctx.has(NLM_F_CREATE) && route.dst.is_ipv4() {
        // Linux refuses to create an IPv4 route without NLM_F_CREATE (IPv6 only warns).
        return Err(errno(libc::ENOENT));
    }
    tables.add_route(&route)?;
    Ok(Done::Ack)
}

fn del_route<T: Tables + ?Sized>(tables: &mut T, m: &RouteMessage) -> io::Result<Done> {
    let RouteSpec { route, table_given } = route_of_request(m)?;
    let found = tables
        .routes()
        .into_iter()
        .find(|r| {
            r.dst == route.dst
                && r.prefix_len == route.prefix_len
                && (!table_given || r.table == route.table)
                && (route.gateway.is_none() || r.gateway == route.gateway)
                && (route.oif.is_none() || r.oif == route.oif)
                && (route.metric == 0 || r.metric == route.metric)
        })
        .ok_or_else(|| errno(libc::ESRCH))?;
    tables.del_route(&found)?;
    Ok(Done::Ack)
}

fn get_route<T: Tables + ?Sized>(
    tables: &mut T,
    ctx: &mut Ctx,
    m: &RouteMessage,
) -> io::Result<Done> {
    let family = m.header.address_family;
    if ctx.is_dump() {
        let entries = tables
            .routes()
            .into_iter()
            .filter(|r| family == AddressFamily::Unspec || rtnl::family_of(&r.dst) == family)
            .map(|r| RouteNetlinkMessage::NewRoute(rtnl::route_message(&r)))
            .collect::<Vec<_>>();
        return Ok(ctx.dump(entries));
    }
    // A lookup: the best route (longest prefix, then lowest metric) to RTA_DST.
    let dst = m
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Destination(d) => rtnl::ip_of_route_address(d),
            _ => None,
        })
        .ok_or_else(|| errno(libc::EINVAL))?;
    let best = tables
        .routes()
        .into_iter()
        .filter(|r| r.contains(dst))
        .min_by_key(|r| (u8::MAX - r.prefix_len, r.metric))
        .ok_or_else(|| errno(libc::ENETUNREACH))?;
    let answer = Route {
        dst,
        prefix_len: max_prefix(dst),
        ..best
    };
    ctx.reply(RouteNetlinkMessage::NewRoute(rtnl::route_message(&answer)));
    Ok(Done::Ack)
}
