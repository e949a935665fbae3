//! Router discovery and SLAAC on an interface: nlconf's [`RouterDiscovery`] engine fed by a
//! raw ICMPv6 socket in the interface's socket set.
//!
//! The socket sees every ICMPv6 packet the interface accepts (smoltcp goes on answering
//! neighbour solicitations and echo requests itself); router advertisements whose checksum
//! verifies go to the engine with the hop limit and source of their IPv6 header. What the
//! engine asks is done in the stack's tables: default routes through routers (`proto ra`,
//! metric 1024 as Linux), SLAAC addresses (/64), the link MTU. On-link prefixes give their
//! length to DHCPv6 addresses inside them (smoltcp knows on-link only from address prefixes;
//! Linux would add a prefix route next to a /128 address, with the same effect). Solicitations leave from the
//! interface's link-local address with hop limit 255.

use std::io;
use std::net::{IpAddr, Ipv6Addr};

use nlconf::ndisc::{ALL_ROUTERS, Action, RouterDiscovery, router_solicitation};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::raw;
use smoltcp::wire::{IpProtocol, IpVersion, Ipv6Packet};

use super::{engine_now, err};
use crate::core::{Attachment, Core, is_link_local};

/// Metric of routes learned from advertisements (Linux's default for them).
const RA_METRIC: u32 = 1024;
/// Packets the raw socket holds between two polls of the stack.
const RX_PACKETS: usize = 16;

/// Router discovery running on one interface.
pub(crate) struct Rd {
    handle: SocketHandle,
    engine: RouterDiscovery,
}

impl Rd {
    /// When the engine next needs the clock.
    pub(crate) fn next_deadline(&self) -> Option<std::time::Duration> {
        self.engine.next_deadline()
    }
}

fn raw_socket() -> raw::Socket<'static> {
    let rx = raw::PacketBuffer::new(
        vec![raw::PacketMetadata::EMPTY; RX_PACKETS],
        vec![0u8; RX_PACKETS * 1280],
    );
    let tx = raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; 4], vec![0u8; 512]);
    raw::Socket::new(Some(IpVersion::Ipv6), Some(IpProtocol::Icmpv6), rx, tx)
}

/// The source, hop limit and ICMPv6 message of a received IPv6 packet carrying a router
/// advertisement with a valid checksum.
fn advertisement(packet: &[u8]) -> Option<(Ipv6Addr, u8, &[u8])> {
    let ip = Ipv6Packet::new_checked(packet).ok()?;
    if ip.next_header() != IpProtocol::Icmpv6 {
        return None;
    }
    let src = ip.src_addr();
    let dst = ip.dst_addr();
    let hop_limit = ip.hop_limit();
    let payload_len = usize::from(ip.payload_len());
    let msg = packet.get(40..40 + payload_len)?;
    if msg.first() != Some(&nlconf::ndisc::message::ROUTER_ADVERTISEMENT) {
        return None;
    }
    if nlconf::ndisc::message::icmpv6_checksum(src, dst, msg) != 0 {
        crate::ident::debug!("router advertisement from {src}: bad checksum");
        return None;
    }
    Some((src, hop_limit, msg))
}

/// A whole IPv6 packet carrying a router solicitation from `src`.
fn solicitation_packet(src: Ipv6Addr, mac: [u8; 6]) -> Vec<u8> {
    let icmp = router_solicitation(src, mac);
    let mut pkt = Vec::with_capacity(40 + icmp.len());
    pkt.extend_from_slice(&[0x60, 0, 0, 0]);
    pkt.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    pkt.extend_from_slice(&[58, 255]);
    pkt.extend_from_slice(&src.octets());
    pkt.extend_from_slice(&ALL_ROUTERS.octets());
    pkt.extend_from_slice(&icmp);
    pkt
}

impl Core {
    /// Starts router discovery on interface `index`; `slaac` asks for addresses, their host
    /// part the hash of `fqdn` when given.
    pub(crate) fn rd_start(
        &mut self,
        index: u32,
        fqdn: Option<&str>,
        slaac: bool,
    ) -> io::Result<()> {
        self.rd_stop(index)?;
        let f = self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?;
        if !matches!(f.attach, Attachment::Link(_)) {
            return Err(err(libc::EOPNOTSUPP));
        }
        let handle = f.sockets.add(raw_socket());
        let mut engine = RouterDiscovery::new(f.mac, fqdn.map(String::from), slaac);
        let actions = engine.start(engine_now());
        f.autoconf.rd = Some(Rd { handle, engine });
        self.rd_apply(index, actions);
        Ok(())
    }

    /// Stops router discovery on `index` and removes its addresses and routes.
    pub(crate) fn rd_stop(&mut self, index: u32) -> io::Result<()> {
        let f = self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?;
        let Some(mut rd) = f.autoconf.rd.take() else {
            return Ok(());
        };
        f.sockets.remove(rd.handle);
        let actions = rd.engine.stop(engine_now());
        self.rd_apply(index, actions);
        Ok(())
    }

    /// The length of the longest prefix advertised as on-link on `index` that holds `addr`.
    pub(crate) fn rd_on_link_prefix_len(&self, index: u32, addr: Ipv6Addr) -> Option<u8> {
        let rd = self.iface(index)?.autoconf.rd.as_ref()?;
        rd.engine.on_link_prefix_len(addr)
    }

    /// The DNS servers and search domains advertised on `index`.
    pub(crate) fn rd_learned(&self, index: u32) -> Option<(Vec<IpAddr>, Vec<String>)> {
        let rd = self.iface(index)?.autoconf.rd.as_ref()?;
        Some((
            rd.engine
                .dns_servers()
                .into_iter()
                .map(IpAddr::V6)
                .collect(),
            rd.engine.search_domains(),
        ))
    }

    /// Feeds received advertisements and the time to every interface's engine and applies
    /// what they ask; true when the configuration changed.
    pub(crate) fn run_rd(&mut self) -> bool {
        let now = engine_now();
        let mut work = Vec::new();
        let mut advertised = Vec::new();
        for f in self.ifaces.iter_mut().flatten() {
            let Some(rd) = f.autoconf.rd.as_mut() else {
                continue;
            };
            let sock = f.sockets.get_mut::<raw::Socket>(rd.handle);
            let mut actions = Vec::new();
            while let Ok(packet) = sock.recv() {
                if let Some((src, hop_limit, msg)) = advertisement(packet) {
                    actions.extend(rd.engine.receive(now, src, hop_limit, msg));
                    advertised.push((f.index, rd.engine.dhcp6_flags()));
                }
            }
            if rd.engine.next_deadline().is_some_and(|d| d <= now) {
                actions.extend(rd.engine.poll(now));
            }
            if !actions.is_empty() {
                work.push((f.index, actions));
            }
        }
        let mut changed = false;
        for (index, actions) in work {
            changed |= self.rd_apply(index, actions);
        }
        for (index, (managed, other)) in advertised {
            self.dhcp6_follow_flags(index, managed, other);
        }
        changed
    }

    /// Does what the engine of `index` asks; true when addresses or routes changed.
    fn rd_apply(&mut self, index: u32, actions: Vec<Action>) -> bool {
        let mut addrs = false;
        let mut routes = false;
        for action in actions {
            match action {
                Action::Solicit => self.rd_solicit(index),
                Action::AddRouter(r) => {
                    crate::ident::info!("interface {index}: default router {r}");
                    routes |= self.engine_add_default_route(
                        index,
                        IpAddr::V6(r),
                        nlconf::model::RTPROT_RA,
                        RA_METRIC,
                    );
                }
                Action::RemoveRouter(r) => {
                    crate::ident::info!("interface {index}: default router {r} removed");
                    routes |= self.engine_remove_default_route(
                        index,
                        IpAddr::V6(r),
                        nlconf::model::RTPROT_RA,
                    );
                }
                Action::AddAddress { addr, prefix_len } => {
                    crate::ident::info!("interface {index}: SLAAC address {addr}/{prefix_len}");
                    addrs |= self.engine_add_addr(index, IpAddr::V6(addr), prefix_len);
                }
                Action::RemoveAddress { addr, prefix_len } => {
                    crate::ident::info!(
                        "interface {index}: SLAAC address {addr}/{prefix_len} removed"
                    );
                    addrs |= self.engine_remove_addr(index, IpAddr::V6(addr), prefix_len);
                }
                Action::OnLink { prefix, prefix_len } | Action::OffLink { prefix, prefix_len } => {
                    crate::ident::debug!(
                        "interface {index}: on-link prefix {prefix}/{prefix_len} changed"
                    );
                    addrs |= self.dhcp6_fit_prefixes(index);
                }
                Action::SetMtu(mtu) => {
                    if let Some(f) = self.iface_mut(index) {
                        // The VDE wire carries at most 1500-byte payloads.
                        f.mtu = mtu.min(1500);
                    }
                }
            }
        }
        if addrs && let Err(e) = self.sync_addrs() {
            crate::ident::warn!("interface {index}: installing SLAAC addresses: {e}");
        }
        if routes && let Err(e) = self.sync_routes() {
            crate::ident::warn!("interface {index}: installing routes from advertisements: {e}");
        }
        addrs || routes
    }

    /// Queues a router solicitation on `index`, from its link-local address (or from `::`
    /// while it has none).
    fn rd_solicit(&mut self, index: u32) {
        let Some(f) = self.iface_mut(index) else {
            return;
        };
        let Some(rd) = f.autoconf.rd.as_ref() else {
            return;
        };
        let src = f
            .addrs
            .iter()
            .find_map(|&(a, _)| match a {
                IpAddr::V6(v6) if is_link_local(a) => Some(v6),
                _ => None,
            })
            .unwrap_or(Ipv6Addr::UNSPECIFIED);
        let packet = solicitation_packet(src, f.mac);
        let sock = f.sockets.get_mut::<raw::Socket>(rd.handle);
        if let Err(e) = sock.send_slice(&packet) {
            crate::ident::debug!("interface {index}: router solicitation not queued: {e}");
        }
    }
}
