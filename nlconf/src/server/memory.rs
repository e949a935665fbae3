//! [`MemTables`]: complete in-memory configuration tables that behave like Linux's.
//!
//! A stack without tables of its own can keep its configuration here; tests use it as the
//! server side of the client helpers. What it reproduces of Linux (measured on Linux 6.x):
//! - bringing a link up sets `IFF_RUNNING | IFF_LOWER_UP` (carrier is assumed);
//! - an address whose link is up gets its prefix route (`proto kernel`, scope link for IPv4,
//!   metric 256 for IPv6), none for /32 and /128;
//! - bringing a link down removes every IPv4 route through it and its IPv6 addresses and
//!   routes (Linux's default `keep_addr_on_down = 0`); bringing it up again restores the IPv4
//!   prefix routes;
//! - deleting a link removes its addresses and routes; renaming a link that is up is EBUSY.
//! - New links get the next free index, a MAC derived from their name by [`hashmac`], MTU 1500.
//!
//! It does not generate IPv6 link-local addresses.

use std::io;

use super::tables::{LinkChange, NewLink, Tables};
use crate::hashaddr::hashmac;
use crate::model::{
    ARPHRD_ETHER, ARPHRD_LOOPBACK, IfAddr, Link, Neighbour, RT_SCOPE_HOST, RT_SCOPE_LINK,
    RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, RTPROT_KERNEL, Route, iff, max_prefix,
};

/// In-memory links, addresses, routes and neighbours (see the module documentation).
///
/// ```
/// use nlconf::client::{LocalTransport, NlClient};
/// use nlconf::model::RTPROT_KERNEL;
/// use nlconf::server::MemTables;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = NlClient::new(LocalTransport::new(MemTables::with_loopback(), 1));
/// let eth = client.iplink_add(Some("eth0"), None, "dummy", None)?;
/// client.ipaddr_add("10.1.0.5".parse()?, 16, eth)?;
/// let has_prefix_route = |c: &NlClient<_>| -> std::io::Result<bool> {
///     Ok(c.routes()?.iter().any(|r| r.oif == Some(eth) && r.protocol == RTPROT_KERNEL))
/// };
/// assert!(!has_prefix_route(&client)?); // the link is down
/// client.link_set_up(eth, true)?; // as Linux: up gives the prefix route
/// assert!(has_prefix_route(&client)?);
/// let route = client.routes()?.into_iter().find(|r| r.oif == Some(eth)).expect("a route");
/// assert_eq!((route.dst.to_string(), route.prefix_len), ("10.1.0.0".to_string(), 16));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemTables {
    links: Vec<Link>,
    addrs: Vec<IfAddr>,
    routes: Vec<Route>,
    neighbours: Vec<Neighbour>,
    kinds: Vec<String>,
    /// VNLs given to links created with `ip link add ... type vde`, by index.
    link_data: Vec<(u32, Vec<u8>)>,
}

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

impl MemTables {
    /// Empty tables that accept creating links of kind "vde" and "dummy".
    pub fn new() -> MemTables {
        MemTables {
            kinds: vec!["vde".into(), "dummy".into()],
            ..MemTables::default()
        }
    }

    /// Tables holding a loopback interface `lo` (index 1), up, with 127.0.0.1/8 and ::1/128.
    pub fn with_loopback() -> MemTables {
        let mut t = MemTables::new();
        t.insert_link(Link {
            index: 1,
            name: "lo".into(),
            mac: [0; 6],
            mtu: 65536,
            flags: iff::LOOPBACK | iff::UP | iff::RUNNING | iff::LOWER_UP,
            link_type: ARPHRD_LOOPBACK,
            kind: None,
        });
        for (addr, prefix_len) in [("127.0.0.1", 8u8), ("::1", 128)] {
            if let Ok(addr) = addr.parse() {
                t.addrs.push(IfAddr {
                    index: 1,
                    addr,
                    prefix_len,
                });
            }
        }
        t
    }

    /// Sets the link kinds `add_link` accepts (others: EOPNOTSUPP).
    pub fn set_kinds(&mut self, kinds: &[&str]) {
        self.kinds = kinds.iter().map(|k| k.to_string()).collect();
    }

    /// Adds (or replaces, by index) an interface as the stack owning it describes it.
    pub fn insert_link(&mut self, link: Link) {
        self.links.retain(|l| l.index != link.index);
        self.links.push(link);
        self.links.sort_by_key(|l| l.index);
    }

    /// Replaces the neighbour cache.
    pub fn set_neighbours(&mut self, neighbours: Vec<Neighbour>) {
        self.neighbours = neighbours;
    }

    /// The kind-specific data (for "vde": the VNL) a link was created with.
    pub fn link_data(&self, index: u32) -> Option<&[u8]> {
        self.link_data
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, d)| d.as_slice())
    }

    fn link_mut(&mut self, index: u32) -> io::Result<&mut Link> {
        self.links
            .iter_mut()
            .find(|l| l.index == index)
            .ok_or_else(|| errno(libc::ENODEV))
    }

    fn is_up(&self, index: u32) -> bool {
        self.links.iter().any(|l| l.index == index && l.is_up())
    }

    /// The prefix route Linux derives from an address, if any.
    fn prefix_route(addr: &IfAddr) -> Option<Route> {
        if addr.prefix_len >= max_prefix(addr.addr) || addr.scope() == RT_SCOPE_HOST {
            return None;
        }
        let v6 = addr.addr.is_ipv6();
        Some(Route {
            dst: addr.network(),
            prefix_len: addr.prefix_len,
            gateway: None,
            oif: Some(addr.index),
            table: RT_TABLE_MAIN,
            protocol: RTPROT_KERNEL,
            scope: if v6 { RT_SCOPE_UNIVERSE } else { RT_SCOPE_LINK },
            metric: if v6 { 256 } else { 0 },
        })
    }

    fn add_prefix_route(&mut self, addr: &IfAddr) {
        if let Some(route) = Self::prefix_route(addr)
            && !self.routes.contains(&route)
        {
            self.routes.push(route);
        }
    }

    fn link_down(&mut self, index: u32) {
        self.routes.retain(|r| r.oif != Some(index));
        self.addrs.retain(|a| a.index != index || a.addr.is_ipv4());
    }

    fn link_up(&mut self, index: u32) {
        let addrs: Vec<IfAddr> = self
            .addrs
            .iter()
            .filter(|a| a.index == index)
            .cloned()
            .collect();
        for a in &addrs {
            self.add_prefix_route(a);
        }
    }
}

impl Tables for MemTables {
    fn links(&self) -> Vec<Link> {
        self.links.clone()
    }

    fn addrs(&self) -> Vec<IfAddr> {
        self.addrs.clone()
    }

    fn routes(&self) -> Vec<Route> {
        self.routes.clone()
    }

    fn neighbours(&self) -> Vec<Neighbour> {
        self.neighbours.clone()
    }

    fn add_link(&mut self, new: &NewLink) -> io::Result<u32> {
        if !self.kinds.contains(&new.kind) {
            return Err(errno(libc::EOPNOTSUPP));
        }
        let index = match new.index {
            Some(i) if self.links.iter().any(|l| l.index == i) => return Err(errno(libc::EEXIST)),
            Some(i) => i,
            None => self.links.iter().map(|l| l.index).max().unwrap_or(0) + 1,
        };
        self.insert_link(Link {
            index,
            name: new.name.clone(),
            mac: new
                .mac
                .unwrap_or_else(|| hashmac(&new.name, Some(&index.to_string()))),
            mtu: new.mtu.unwrap_or(1500),
            flags: iff::BROADCAST | iff::MULTICAST,
            link_type: ARPHRD_ETHER,
            kind: Some(new.kind.clone()),
        });
        if let Some(data) = &new.data {
            self.link_data.push((index, data.clone()));
        }
        Ok(index)
    }

    fn del_link(&mut self, index: u32) -> io::Result<()> {
        let link = self.link_mut(index)?;
        if link.link_type == ARPHRD_LOOPBACK {
            return Err(errno(libc::EOPNOTSUPP));
        }
        self.links.retain(|l| l.index != index);
        self.addrs.retain(|a| a.index != index);
        self.routes.retain(|r| r.oif != Some(index));
        self.neighbours.retain(|n| n.index != index);
        self.link_data.retain(|(i, _)| *i != index);
        Ok(())
    }

    fn set_link(&mut self, index: u32, change: &LinkChange) -> io::Result<()> {
        let link = self.link_mut(index)?;
        if change.name.is_some() && link.is_up() {
            return Err(errno(libc::EBUSY));
        }
        let was_up = link.is_up();
        if let Some(mac) = change.mac {
            link.mac = mac;
        }
        if let Some(mtu) = change.mtu {
            if mtu > 65535 {
                return Err(errno(libc::EINVAL));
            }
            link.mtu = mtu;
        }
        if let Some(name) = &change.name {
            link.name = name.clone();
        }
        if let Some(flags) = change.flags {
            link.flags = (link.flags & !iff::USER_SETTABLE) | (flags & iff::USER_SETTABLE);
            if link.is_up() {
                link.flags |= iff::RUNNING | iff::LOWER_UP;
            } else {
                link.flags &= !(iff::RUNNING | iff::LOWER_UP);
            }
        }
        match (was_up, self.is_up(index)) {
            (true, false) => self.link_down(index),
            (false, true) => self.link_up(index),
            _ => {}
        }
        Ok(())
    }

    fn add_addr(&mut self, addr: &IfAddr) -> io::Result<()> {
        self.link_mut(addr.index)?;
        self.addrs.push(addr.clone());
        if self.is_up(addr.index) {
            self.add_prefix_route(addr);
        }
        Ok(())
    }

    fn del_addr(&mut self, addr: &IfAddr) -> io::Result<()> {
        let before = self.addrs.len();
        self.addrs.retain(|a| a != addr);
        if self.addrs.len() == before {
            return Err(errno(libc::EADDRNOTAVAIL));
        }
        if let Some(route) = Self::prefix_route(addr) {
            let still_needed = self
                .addrs
                .iter()
                .any(|a| Self::prefix_route(a).as_ref() == Some(&route));
            if !still_needed {
                self.routes.retain(|r| *r != route);
            }
        }
        Ok(())
    }

    fn add_route(&mut self, route: &Route) -> io::Result<()> {
        if self.routes.contains(route) {
            return Err(errno(libc::EEXIST));
        }
        self.routes.push(route.clone());
        Ok(())
    }

    fn del_route(&mut self, route: &Route) -> io::Result<()> {
        let pos = self
            .routes
            .iter()
            .position(|r| r == route)
            .ok_or_else(|| errno(libc::ESRCH))?;
        self.routes.remove(pos);
        Ok(())
    }
}
