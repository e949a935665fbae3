//! The stack's configuration tables as rtnetlink sees them (nlconf's `Tables`), and the
//! netlink sockets applications open on the stack.
//!
//! Side effects follow Linux: bringing an Ethernet interface up gives it an IPv6 link-local
//! address (EUI-64 of its MAC); prefix routes come and go with addresses; taking an interface
//! down removes its IPv6 addresses and its routes.

use std::io;
use std::net::{IpAddr, Ipv6Addr};

use nlconf::model::{self, IfAddr, Link, Route, iff};
use nlconf::server::{LinkChange, NewLink, Tables};
use smoltcp::wire::{EthernetAddress, HardwareAddress};

use crate::core::{Attachment, Core, LO_INDEX, StackRoute};
use crate::sockets::Kind;

fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

fn link_local(mac: [u8; 6]) -> Ipv6Addr {
    nlconf::hashaddr::eui64(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), mac)
}

impl Core {
    /// Handles a send on netlink socket `id`: the requests are answered at once.
    pub(crate) fn netlink_send(&mut self, id: usize, data: &[u8]) -> io::Result<usize> {
        let pid = self.netlink_pid(id)?;
        let mut ep = match &mut self.sock(id)?.kind {
            Kind::Netlink(n) => std::mem::replace(&mut n.ep, nlconf::server::NlEndpoint::new(pid)),
            _ => return Err(err(libc::EINVAL)),
        };
        let n = ep.send(self, data);
        if let Kind::Netlink(nl) = &mut self.sock(id)?.kind {
            nl.ep = ep;
        }
        // A request may change links in place (flags, MTU, MAC, name) without touching
        // addresses or routes.
        self.config_gen += 1;
        if self.nl_snapshot.is_some() {
            self.notify_changes();
        }
        // Configuration may change what every socket can do.
        for sid in self.sock_ids() {
            self.refresh(sid);
        }
        Ok(n)
    }

    /// Sets the groups netlink socket `id` joined: `nl_groups` of a `bind(2)` (`Some(mask)`,
    /// replacing them) or one `NETLINK_ADD/DROP_MEMBERSHIP` (`group`, `member`).
    pub(crate) fn netlink_groups(
        &mut self,
        id: usize,
        mask: Option<u32>,
        membership: Option<(u32, bool)>,
    ) -> io::Result<()> {
        let Kind::Netlink(n) = &mut self.sock(id)?.kind else {
            return Err(err(libc::ENOPROTOOPT));
        };
        if let Some(mask) = mask {
            n.ep.set_groups(mask);
        }
        if let Some((group, member)) = membership {
            n.ep.set_membership(group, member)?;
        }
        let listening = self.netlink_listeners() > 0;
        if listening && self.nl_snapshot.is_none() {
            // Listeners hear about what changes from now on.
            self.nl_snapshot = Some(nlconf::server::notify::Snapshot::of(&*self));
            self.notified_gen = self.config_gen;
        } else if !listening {
            self.nl_snapshot = None;
        }
        Ok(())
    }

    /// The groups netlink socket `id` joined (`nl_groups` of `getsockname(2)`).
    pub(crate) fn netlink_joined(&mut self, id: usize) -> io::Result<u32> {
        match &self.sock(id)?.kind {
            Kind::Netlink(n) => Ok(n.ep.groups()),
            _ => Err(err(libc::EINVAL)),
        }
    }

    fn netlink_listeners(&self) -> usize {
        self.socks
            .iter()
            .flatten()
            .filter(|r| matches!(&r.kind, Kind::Netlink(n) if n.ep.groups() != 0))
            .count()
    }

    /// Tells the netlink sockets that joined groups what changed since they were last told
    /// (`nlconf::server::notify`), and wakes them.
    pub(crate) fn notify_changes(&mut self) {
        self.notified_gen = self.config_gen;
        let Some(old) = self.nl_snapshot.take() else {
            return;
        };
        if self.netlink_listeners() == 0 {
            return;
        }
        let new = nlconf::server::notify::Snapshot::of(&*self);
        let changes = nlconf::server::notify::changes(&old, &new);
        self.nl_snapshot = Some(new);
        if changes.is_empty() {
            return;
        }
        let mut told = Vec::new();
        for (sid, rec) in self.socks.iter_mut().enumerate() {
            if let Some(rec) = rec
                && let Kind::Netlink(n) = &mut rec.kind
                && n.ep.groups() != 0
            {
                let mut any = false;
                for (group, datagram) in &changes {
                    any |= n.ep.notify(*group, datagram);
                }
                if any {
                    told.push(sid);
                }
            }
        }
        for sid in told {
            self.refresh(sid);
        }
    }

    fn link_of(&self, index: u32) -> io::Result<&crate::core::Iface> {
        self.iface(index).ok_or_else(|| err(libc::ENODEV))
    }

    fn set_up(&mut self, index: u32, up: bool) -> io::Result<()> {
        let f = self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?;
        if f.up == up {
            return Ok(());
        }
        f.up = up;
        let is_link = matches!(f.attach, Attachment::Link(_));
        if is_link {
            if up {
                let ll = link_local(f.mac);
                if !f.addrs.iter().any(|(a, _)| *a == IpAddr::V6(ll)) {
                    f.addrs.push((IpAddr::V6(ll), 64));
                }
            } else {
                f.addrs.retain(|(a, _)| a.is_ipv4());
                self.routes.retain(|r| r.oif != index);
                self.sync_routes()?;
            }
            self.sync_addrs()?;
            if up {
                self.announce_all(index);
            }
        }
        Ok(())
    }

    /// Announces every address of interface `index` (see `announce`), if the stack does.
    fn announce_all(&self, index: u32) {
        if let Some(f) = self.iface(index)
            && self.announce
        {
            let addrs: Vec<IpAddr> = f.addrs.iter().map(|&(a, _)| a).collect();
            crate::announce::announce(f, &addrs);
        }
    }
}

impl Tables for Core {
    fn links(&self) -> Vec<Link> {
        self.ifaces
            .iter()
            .flatten()
            .map(|f| {
                let (flags, link_type, kind) = match &f.attach {
                    Attachment::Loopback(_) => (
                        iff::LOOPBACK
                            | if f.up {
                                iff::UP | iff::RUNNING | iff::LOWER_UP
                            } else {
                                0
                            },
                        model::ARPHRD_LOOPBACK,
                        None,
                    ),
                    Attachment::Link(l) => (
                        iff::BROADCAST
                            | iff::MULTICAST
                            | if f.up { iff::UP } else { 0 }
                            | if f.up && l.is_up() {
                                iff::RUNNING | iff::LOWER_UP
                            } else {
                                0
                            },
                        model::ARPHRD_ETHER,
                        Some("vde".to_owned()),
                    ),
                };
                Link {
                    index: f.index,
                    name: f.name.clone(),
                    mac: f.mac,
                    mtu: f.mtu,
                    flags,
                    link_type,
                    kind,
                }
            })
            .collect()
    }

    fn link_stats(&self, index: u32) -> Option<model::LinkStats> {
        let f = self.iface(index)?;
        Some(match &f.attach {
            Attachment::Loopback(dev) => dev.counters.snapshot(),
            Attachment::Link(l) => l.snapshot(),
        })
    }

    fn addrs(&self) -> Vec<IfAddr> {
        self.ifaces
            .iter()
            .flatten()
            .flat_map(|f| {
                f.addrs.iter().map(|&(addr, prefix_len)| IfAddr {
                    index: f.index,
                    addr,
                    prefix_len,
                })
            })
            .collect()
    }

    fn routes(&self) -> Vec<Route> {
        let mut out = Vec::new();
        for f in self.ifaces.iter().flatten() {
            if f.index == LO_INDEX || !f.up {
                continue;
            }
            for &(a, p) in &f.addrs {
                let v4 = a.is_ipv4();
                out.push(Route {
                    dst: model::mask_addr(a, p),
                    prefix_len: p,
                    gateway: None,
                    oif: Some(f.index),
                    table: model::RT_TABLE_MAIN,
                    protocol: model::RTPROT_KERNEL,
                    scope: if v4 {
                        model::RT_SCOPE_LINK
                    } else {
                        model::RT_SCOPE_UNIVERSE
                    },
                    metric: if v4 { 0 } else { 256 },
                });
            }
        }
        out.extend(self.routes.iter().map(|r| Route {
            dst: r.dst,
            prefix_len: r.prefix,
            gateway: r.gateway,
            oif: Some(r.oif),
            table: model::RT_TABLE_MAIN,
            protocol: r.protocol,
            scope: if r.gateway.is_some() {
                model::RT_SCOPE_UNIVERSE
            } else {
                model::RT_SCOPE_LINK
            },
            metric: r.metric,
        }));
        out
    }

    fn add_link(&mut self, link: &NewLink) -> io::Result<u32> {
        if link.kind != "vde" {
            return Err(err(libc::EOPNOTSUPP));
        }
        let vnl = link
            .data
            .as_deref()
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .ok_or_else(|| err(libc::EINVAL))?;
        let l = vde::open(&vnl)?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&l);
        let slot = self.add_link_iface(&link.name, l, link.index, link.mac)?;
        let index = (slot + 1) as u32;
        if let Some(mtu) = link.mtu
            && let Some(f) = self.iface_mut(index)
        {
            f.mtu = mtu.min(1500);
        }
        if let Err(e) = self.driver.watch(self.key, slot as u32, fd) {
            self.ifaces[slot] = None;
            return Err(e);
        }
        Ok(index)
    }

    fn del_link(&mut self, index: u32) -> io::Result<()> {
        if index == LO_INDEX {
            return Err(err(libc::EOPNOTSUPP));
        }
        let slot = (index - 1) as usize;
        let f = self
            .ifaces
            .get_mut(slot)
            .and_then(Option::take)
            .ok_or_else(|| err(libc::ENODEV))?;
        if let Attachment::Link(l) = &f.attach {
            self.driver.unwatch(std::os::fd::AsRawFd::as_raw_fd(l));
        }
        self.detach_sockets(slot);
        drop(f);
        self.routes.retain(|r| r.oif != index);
        self.sync_routes()?;
        self.sync_addrs()?;
        for id in self.sock_ids() {
            self.refresh(id);
        }
        Ok(())
    }

    fn set_link(&mut self, index: u32, change: &LinkChange) -> io::Result<()> {
        self.link_of(index)?;
        if let Some(name) = &change.name
            && self.iface(index).is_some_and(|f| f.up && f.name != *name)
        {
            return Err(err(libc::EBUSY));
        }
        if let Some(mac) = change.mac {
            let f = self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?;
            if !matches!(f.attach, Attachment::Link(_)) {
                return Err(err(libc::EOPNOTSUPP));
            }
            if !EthernetAddress(mac).is_unicast() || mac == [0; 6] {
                // Linux: a multicast or all-zero MAC is not a valid station address.
                crate::ident::info!("{}: MAC {mac:02x?} refused: not a unicast address", f.name);
                return Err(err(libc::EADDRNOTAVAIL));
            }
            let old_ll = IpAddr::V6(link_local(f.mac));
            f.mac = mac;
            f.iface
                .set_hardware_addr(HardwareAddress::Ethernet(EthernetAddress(mac)));
            // The link-local address follows the MAC, as Linux's EUI-64 one does on up.
            if let Some(a) = f.addrs.iter_mut().find(|(a, _)| *a == old_ll) {
                a.0 = IpAddr::V6(link_local(mac));
            }
            self.announce_all(index);
        }
        if let Some(mtu) = change.mtu {
            let f = self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?;
            if matches!(f.attach, Attachment::Link(_)) && mtu > 1500 {
                // The VDE wire carries at most 1518-byte frames.
                return Err(err(libc::EINVAL));
            }
            f.mtu = mtu;
        }
        if let Some(name) = &change.name {
            self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?.name = name.clone();
        }
        if let Some(flags) = change.flags {
            self.set_up(index, flags & iff::UP != 0)?;
        }
        self.sync_addrs()
    }

    fn add_addr(&mut self, addr: &IfAddr) -> io::Result<()> {
        let f = self
            .iface_mut(addr.index)
            .ok_or_else(|| err(libc::ENODEV))?;
        crate::core::check_iface_addr(addr.addr, addr.prefix_len, f.index == LO_INDEX).map_err(
            |e| {
                // Netlink carries only the errno: say which address was refused here.
                crate::ident::info!(
                    "{}: address {}/{} refused: not a unicast address",
                    f.name,
                    addr.addr,
                    addr.prefix_len
                );
                err(e)
            },
        )?;
        f.addrs.push((addr.addr, addr.prefix_len));
        if let Err(e) = self.sync_addrs() {
            if let Some(f) = self.iface_mut(addr.index) {
                f.addrs
                    .retain(|&(a, p)| !(a == addr.addr && p == addr.prefix_len));
            }
            let _ = self.sync_addrs();
            return Err(e);
        }
        if self.announce
            && let Some(f) = self.iface(addr.index)
        {
            crate::announce::announce(f, &[addr.addr]);
        }
        Ok(())
    }

    fn del_addr(&mut self, addr: &IfAddr) -> io::Result<()> {
        let f = self
            .iface_mut(addr.index)
            .ok_or_else(|| err(libc::ENODEV))?;
        let before = f.addrs.len();
        f.addrs
            .retain(|&(a, p)| !(a == addr.addr && p == addr.prefix_len));
        if f.addrs.len() == before {
            return Err(err(libc::EADDRNOTAVAIL));
        }
        // Routes through a gateway that is no longer on-link go, as on Linux.
        let remaining: Vec<(IpAddr, u8)> = self
            .ifaces
            .iter()
            .flatten()
            .flat_map(|f| f.addrs.iter().copied())
            .collect();
        self.routes.retain(|r| {
            r.gateway.is_none_or(|g| {
                remaining
                    .iter()
                    .any(|&(a, p)| crate::core::in_prefix(g, a, p))
            })
        });
        self.sync_routes()?;
        self.sync_addrs()
    }

    fn add_route(&mut self, route: &Route) -> io::Result<()> {
        let oif = route.oif.ok_or_else(|| err(libc::ENODEV))?;
        self.link_of(oif)?;
        if let Some(gw) = route.gateway {
            crate::core::check_unicast_peer(gw).map_err(err)?;
        }
        self.routes.push(StackRoute {
            dst: route.dst,
            prefix: route.prefix_len,
            gateway: route.gateway,
            oif,
            protocol: route.protocol,
            metric: route.metric,
        });
        if let Err(e) = self.sync_routes() {
            self.routes.pop();
            let _ = self.sync_routes();
            return Err(e);
        }
        Ok(())
    }

    fn del_route(&mut self, route: &Route) -> io::Result<()> {
        let before = self.routes.len();
        self.routes.retain(|r| {
            !(r.dst == route.dst
                && r.prefix == route.prefix_len
                && r.gateway == route.gateway
                && Some(r.oif) == route.oif)
        });
        if self.routes.len() == before {
            return Err(err(libc::ESRCH));
        }
        self.sync_routes()
    }
}
