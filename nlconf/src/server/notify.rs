//! rtnetlink notifications: what changed between two views of a stack's tables, as the
//! messages Linux multicasts to the sockets that joined its groups (`ip monitor`,
//! `RTMGRP_*` in `nl_groups`, `NETLINK_ADD_MEMBERSHIP`).
//!
//! Pure: a stack keeps the [`Snapshot`] it last notified, takes a new one after a change
//! and hands each of [`changes`]' datagrams to the endpoints that joined its group
//! ([`super::NlEndpoint::notify`]). As Linux: `RTM_NEWLINK`/`RTM_DELLINK` go to
//! `RTNLGRP_LINK`, addresses to `RTNLGRP_IPV4_IFADDR`/`RTNLGRP_IPV6_IFADDR`, routes to
//! `RTNLGRP_IPV4_ROUTE`/`RTNLGRP_IPV6_ROUTE`; a link changed in place is a new
//! `RTM_NEWLINK`; notifications carry sequence number 0 and port id 0.

use std::net::IpAddr;

use netlink_packet_route::RouteNetlinkMessage;

use super::tables::Tables;
use crate::model::{IfAddr, Link, Route};
use crate::rtnl;

/// `RTNLGRP_LINK`.
pub const RTNLGRP_LINK: u32 = 1;
/// `RTNLGRP_IPV4_IFADDR`.
pub const RTNLGRP_IPV4_IFADDR: u32 = 5;
/// `RTNLGRP_IPV4_ROUTE`.
pub const RTNLGRP_IPV4_ROUTE: u32 = 7;
/// `RTNLGRP_IPV6_IFADDR`.
pub const RTNLGRP_IPV6_IFADDR: u32 = 9;
/// `RTNLGRP_IPV6_ROUTE`.
pub const RTNLGRP_IPV6_ROUTE: u32 = 11;

/// The `nl_groups` bit of group `group` (`RTMGRP_*`: `1 << (group - 1)`), 0 for groups
/// that have none (0, or above 32).
pub fn group_bit(group: u32) -> u32 {
    match group {
        1..=32 => 1 << (group - 1),
        _ => 0,
    }
}

/// What notifications are about: links, addresses and routes, as [`Tables`] reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// [`Tables::links`].
    pub links: Vec<Link>,
    /// [`Tables::addrs`].
    pub addrs: Vec<IfAddr>,
    /// [`Tables::routes`].
    pub routes: Vec<Route>,
}

impl Snapshot {
    /// The tables as they are now.
    pub fn of<T: Tables + ?Sized>(tables: &T) -> Snapshot {
        Snapshot {
            links: tables.links(),
            addrs: tables.addrs(),
            routes: tables.routes(),
        }
    }
}

fn addr_group(a: &IpAddr) -> u32 {
    if a.is_ipv4() {
        RTNLGRP_IPV4_IFADDR
    } else {
        RTNLGRP_IPV6_IFADDR
    }
}

fn route_group(r: &Route) -> u32 {
    if r.dst.is_ipv4() {
        RTNLGRP_IPV4_ROUTE
    } else {
        RTNLGRP_IPV6_ROUTE
    }
}

/// The notifications that take a listener from `old` to `new`, in an order that keeps the
/// listener's view consistent (deletions of routes, addresses, links first; then new links,
/// addresses, routes): `(group, datagram)` pairs, one message per datagram.
pub fn changes(old: &Snapshot, new: &Snapshot) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut push = |group: u32, msg: RouteNetlinkMessage| {
        out.push((group, rtnl::encode(msg, 0, 0, 0)));
    };
    for r in old.routes.iter().filter(|r| !new.routes.contains(r)) {
        push(
            route_group(r),
            RouteNetlinkMessage::DelRoute(rtnl::route_message(r)),
        );
    }
    for a in old.addrs.iter().filter(|a| !new.addrs.contains(a)) {
        push(
            addr_group(&a.addr),
            RouteNetlinkMessage::DelAddress(rtnl::addr_message(a, None)),
        );
    }
    for l in &old.links {
        if !new.links.iter().any(|n| n.index == l.index) {
            push(
                RTNLGRP_LINK,
                RouteNetlinkMessage::DelLink(rtnl::link_message(l)),
            );
        }
    }
    for l in &new.links {
        if !old.links.contains(l) {
            push(
                RTNLGRP_LINK,
                RouteNetlinkMessage::NewLink(rtnl::link_message(l)),
            );
        }
    }
    for a in new.addrs.iter().filter(|a| !old.addrs.contains(a)) {
        push(
            addr_group(&a.addr),
            RouteNetlinkMessage::NewAddress(rtnl::addr_message(a, None)),
        );
    }
    for r in new.routes.iter().filter(|r| !old.routes.contains(r)) {
        push(
            route_group(r),
            RouteNetlinkMessage::NewRoute(rtnl::route_message(r)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtnl::{RawHeader, rtm};

    fn link(index: u32, flags: u32) -> Link {
        Link {
            index,
            name: format!("vde{index}"),
            mac: [2, 0, 0, 0, 0, index as u8],
            mtu: 1500,
            flags,
            link_type: 1,
            kind: None,
        }
    }

    fn kinds(n: &[(u32, Vec<u8>)]) -> Vec<(u32, u16)> {
        n.iter()
            .map(|(g, d)| (*g, RawHeader::parse(d).expect("a header").ty))
            .collect()
    }

    #[test]
    fn changes_are_the_messages_linux_multicasts() {
        let a4 = IfAddr {
            index: 2,
            addr: "10.0.0.1".parse().expect("addr"),
            prefix_len: 24,
        };
        let a6 = IfAddr {
            index: 2,
            addr: "fd00::1".parse().expect("addr"),
            prefix_len: 64,
        };
        let old = Snapshot {
            links: vec![link(1, 0), link(2, 0)],
            addrs: vec![a6.clone()],
            routes: Vec::new(),
        };
        assert!(changes(&old, &old).is_empty(), "no change, no message");
        let mut new = old.clone();
        new.links[1].flags = crate::model::iff::UP;
        new.addrs = vec![a4.clone()];
        let got = changes(&old, &new);
        assert_eq!(
            kinds(&got),
            vec![
                (RTNLGRP_IPV6_IFADDR, rtm::DELADDR),
                (RTNLGRP_LINK, rtm::NEWLINK),
                (RTNLGRP_IPV4_IFADDR, rtm::NEWADDR),
            ]
        );
        for (_, d) in &got {
            let h = RawHeader::parse(d).expect("header");
            assert_eq!((h.seq, h.pid), (0, 0));
            assert_eq!(h.len as usize, d.len());
        }
        let gone = Snapshot {
            links: vec![link(1, 0)],
            ..Snapshot::default()
        };
        assert_eq!(
            kinds(&changes(&new, &gone)),
            vec![
                (RTNLGRP_IPV4_IFADDR, rtm::DELADDR),
                (RTNLGRP_LINK, rtm::DELLINK)
            ]
        );
    }

    #[test]
    fn group_bits_are_rtmgrp_values() {
        assert_eq!(group_bit(RTNLGRP_LINK), 1); // RTMGRP_LINK
        assert_eq!(group_bit(RTNLGRP_IPV4_IFADDR), 0x10); // RTMGRP_IPV4_IFADDR
        assert_eq!(group_bit(RTNLGRP_IPV6_ROUTE), 0x400); // RTMGRP_IPV6_ROUTE
        assert_eq!(group_bit(0), 0);
        assert_eq!(group_bit(33), 0);
    }
}
