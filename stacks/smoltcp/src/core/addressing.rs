//! Addresses and routes of a stack: which addresses an interface may carry, which are the
//! stack's own, the interface and next hop traffic leaves by, and smoltcp's copies of both
//! kept in step with the netlink view.

use super::*;

impl Core {
    /// Whether `addr` is one of this stack's addresses (unspecified counts as local).
    pub(crate) fn is_local(&self, addr: IpAddr) -> bool {
        addr.is_unspecified()
            || self
                .ifaces
                .iter()
                .flatten()
                .any(|f| f.addrs.iter().any(|(a, _)| *a == addr))
            || (addr.is_loopback() && addr.is_ipv4())
    }

    /// Slots whose smoltcp interface accepts traffic to `addr`: every interface for an
    /// unspecified address; otherwise the interface holding it and `lo` (which mirrors it).
    pub(crate) fn slots_for_local(&self, addr: IpAddr) -> Vec<usize> {
        if addr.is_unspecified() {
            return self.slots().collect();
        }
        let mut v: Vec<usize> = self
            .slots()
            .filter(|&s| {
                self.ifaces[s]
                    .as_ref()
                    .is_some_and(|f| f.addrs.iter().any(|(a, _)| *a == addr))
            })
            .collect();
        if (addr.is_loopback() || !v.is_empty()) && !v.contains(&0) {
            v.push(0);
        }
        v
    }

    /// The interface slot traffic to `dst` leaves by, or `ENETUNREACH`.
    pub(crate) fn route(&self, dst: IpAddr) -> io::Result<usize> {
        route_in(&self.ifaces, &self.routes, dst)
    }

    /// Whether interface `slot` is a link whose other side is gone (no carrier).
    pub(crate) fn link_down(&self, slot: usize) -> bool {
        matches!(
            self.ifaces.get(slot).and_then(Option::as_ref).map(|f| &f.attach),
            Some(Attachment::Link(l)) if !l.is_up()
        )
    }

    /// The source address for traffic to `dst` leaving by `slot`.
    pub(crate) fn source_for(&self, slot: usize, dst: IpAddr) -> Option<IpAddr> {
        if slot == 0 {
            if dst.is_loopback() {
                return Some(match dst {
                    IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                });
            }
            return Some(dst);
        }
        let f = self.ifaces.get(slot)?.as_ref()?;
        let same_family = |a: &IpAddr| a.is_ipv4() == dst.is_ipv4();
        f.addrs
            .iter()
            .find(|(a, p)| in_prefix(dst, *a, *p))
            .or_else(|| {
                f.addrs
                    .iter()
                    .find(|(a, _)| same_family(a) && !is_link_local(*a))
            })
            .or_else(|| f.addrs.iter().find(|(a, _)| same_family(a)))
            .map(|(a, _)| *a)
    }

    /// Rewrites smoltcp's address list of `slot` and of `lo` from the configured addresses.
    pub(crate) fn sync_addrs(&mut self) -> io::Result<()> {
        self.config_gen += 1;
        let mut mirror: Vec<IpCidr> = Vec::new();
        for s in self.slots().collect::<Vec<_>>() {
            let f = self.ifaces[s].as_mut().expect("slot exists");
            // Every way in checks addresses; this keeps smoltcp safe from any that slipped by.
            let lo = s == 0;
            f.addrs.retain(|&(a, p)| {
                let ok = check_iface_addr(a, p, lo).is_ok();
                if !ok {
                    crate::ident::error!(
                        "{}: address {a}/{p} dropped: not a unicast address",
                        f.name
                    );
                }
                ok
            });
            let cidrs: Vec<IpCidr> = f
                .addrs
                .iter()
                .map(|(a, p)| IpCidr::new((*a).into(), *p))
                .collect();
            if s != 0 {
                mirror.extend(
                    f.addrs
                        .iter()
                        .map(|(a, _)| IpCidr::new((*a).into(), if a.is_ipv4() { 32 } else { 128 })),
                );
            }
            let mut full = false;
            f.iface.update_ip_addrs(|list| {
                list.clear();
                for c in &cidrs {
                    if list.push(*c).is_err() {
                        full = true;
                    }
                }
            });
            if full && !lo {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
        }
        if let Some(lo) = self.ifaces[0].as_mut() {
            lo.iface.update_ip_addrs(|list| {
                for c in &mirror {
                    // lo's table is bounded: beyond it, own-address loopback stops working.
                    let _ = list.push(*c);
                }
            });
        }
        if let Some(t) = self.tcp.as_deref_mut() {
            t.set_locals(&self.ifaces);
        }
        Ok(())
    }

    /// Rebuilds every interface's smoltcp gateway routes from the stack's routes.
    pub(crate) fn sync_routes(&mut self) -> io::Result<()> {
        self.config_gen += 1;
        let routes = self.routes.clone();
        let mut full = false;
        for s in self.slots().collect::<Vec<_>>() {
            let f = self.ifaces[s].as_mut().expect("slot exists");
            let index = f.index;
            f.iface.routes_mut().update(|table| {
                table.clear();
                for r in routes.iter().filter(|r| r.oif == index) {
                    if let Some(gw) = r.gateway {
                        let route = smoltcp::iface::Route {
                            cidr: IpCidr::new(r.dst.into(), r.prefix),
                            via_router: gw.into(),
                            preferred_until: None,
                            expires_at: None,
                        };
                        if table.push(route).is_err() {
                            full = true;
                        }
                    }
                }
            });
        }
        if full {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        Ok(())
    }
}

/// Whether `addr/prefix` may be configured on an interface (`on_lo`: the loopback
/// interface), as Linux decides; the errno Linux gives otherwise. smoltcp panics on any
/// address that is not unicast, so nothing reaches its tables without passing here.
///
/// IPv6 follows Linux exactly (`EADDRNOTAVAIL` for `::`, multicast, and `::1` off `lo`).
/// IPv4: Linux accepts multicast, `0.0.0.0` and `255.255.255.255` as interface addresses,
/// which a smoltcp interface cannot hold: those give `EINVAL`.
pub(crate) fn check_iface_addr(addr: IpAddr, prefix: u8, on_lo: bool) -> Result<(), i32> {
    match addr {
        IpAddr::V4(a) => {
            if prefix > 32 || a.is_unspecified() || a.is_broadcast() || a.is_multicast() {
                return Err(libc::EINVAL);
            }
        }
        IpAddr::V6(a) => {
            if prefix > 128 {
                return Err(libc::EINVAL);
            }
            if a.is_unspecified() || a.is_multicast() || (a.is_loopback() && !on_lo) {
                return Err(libc::EADDRNOTAVAIL);
            }
        }
    }
    Ok(())
}

/// Whether `gw` can be a peer one talks to: a route's gateway (as Linux checks it) or a
/// learned DNS server. The unspecified address, multicast and the limited broadcast give
/// `EINVAL`.
pub(crate) fn check_unicast_peer(peer: IpAddr) -> Result<(), i32> {
    let bad = match peer {
        IpAddr::V4(a) => a.is_unspecified() || a.is_broadcast() || a.is_multicast(),
        IpAddr::V6(a) => a.is_unspecified() || a.is_multicast(),
    };
    if bad { Err(libc::EINVAL) } else { Ok(()) }
}

pub(crate) fn is_loopback(a: IpAddr) -> bool {
    a.is_loopback()
}

/// Whether `a` is inside `net/prefix`.
pub(crate) fn in_prefix(a: IpAddr, net: IpAddr, prefix: u8) -> bool {
    nlconf::model::mask_addr(a, prefix) == nlconf::model::mask_addr(net, prefix)
        && a.is_ipv4() == net.is_ipv4()
}

pub(crate) fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// The interface slot traffic to `dst` leaves by (see [`Core::route`]), or `ENETUNREACH`.
pub(crate) fn route_in(
    ifaces: &[Option<Iface>],
    routes: &[StackRoute],
    dst: IpAddr,
) -> io::Result<usize> {
    next_hop(ifaces, routes, dst).map(|(slot, _)| slot)
}

/// The interface slot traffic to `dst` leaves by and the neighbour it goes to there: `dst`
/// itself when on-link (or broadcast), the gateway of the route that carries it, the
/// unspecified address of its family on `lo`. `ENETUNREACH` when no route carries it.
///
/// Routing: loopback and own addresses to `lo`, then the longest on-link prefix of an up
/// interface, then explicit routes by longest prefix, then broadcast/multicast to the first up
/// interface of the family with an address.
pub(crate) fn next_hop(
    ifaces: &[Option<Iface>],
    routes: &[StackRoute],
    dst: IpAddr,
) -> io::Result<(usize, IpAddr)> {
    let own = |a: IpAddr| {
        ifaces
            .iter()
            .flatten()
            .any(|f| f.addrs.iter().any(|(x, _)| *x == a))
    };
    if is_loopback(dst) || (!dst.is_unspecified() && own(dst)) {
        let any = match dst {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        return Ok((0, any));
    }
    let up = |s: usize| ifaces.get(s).and_then(Option::as_ref).filter(|f| f.up);
    // On-link: the longest prefix among the addresses of up interfaces.
    let mut best: Option<(u8, usize)> = None;
    for (s, f) in (1..ifaces.len()).filter_map(|s| up(s).map(|f| (s, f))) {
        for &(a, p) in &f.addrs {
            if in_prefix(dst, a, p) && best.is_none_or(|(bp, _)| p > bp) {
                best = Some((p, s));
            }
        }
    }
    if let Some((_, s)) = best {
        return Ok((s, dst));
    }
    // Explicit routes, longest prefix first.
    let mut best_route: Option<(u8, usize, IpAddr)> = None;
    for r in routes {
        if in_prefix(dst, r.dst, r.prefix)
            && best_route.is_none_or(|(bp, _, _)| r.prefix > bp)
            && let Some(s) = r.oif.checked_sub(1).map(|s| s as usize)
            && up(s).is_some()
        {
            best_route = Some((r.prefix, s, r.gateway.unwrap_or(dst)));
        }
    }
    if let Some((_, s, hop)) = best_route {
        return Ok((s, hop));
    }
    // Broadcast and multicast: the first up interface of the family with an address.
    let broadcastish = match dst {
        IpAddr::V4(a) => a.is_broadcast() || a.is_multicast(),
        IpAddr::V6(a) => a.is_multicast(),
    };
    if broadcastish {
        for s in 1..ifaces.len() {
            if up(s).is_some_and(|f| f.addrs.iter().any(|(a, _)| a.is_ipv4() == dst.is_ipv4())) {
                return Ok((s, dst));
            }
        }
    }
    Err(io::Error::from_raw_os_error(libc::ENETUNREACH))
}
