//! Protocol counters (`netstat -s`): every IP packet an interface takes in or sends is
//! looked at once, by header only, and counted as Linux's MIBs count it (see
//! `ioth::counters`).
//!
//! - In: frames that pass the interface's MAC filter (see `counters`) and carry IPv4 or
//!   IPv6. A bad IPv4 header (version, length, header checksum) is `InHdrErrors`; a bad UDP,
//!   ICMP or ICMPv6 checksum (and TCP's, on stacks with smoltcp's TCP: our engine checks
//!   and counts its own) is that protocol's `InCsumErrors`. Such packets go no further:
//!   smoltcp, which checks the same sums, would drop them anyway. `lo` checks no checksum
//!   (as Linux's loopback, whose packets never left memory).
//! - UDP delivery: before smoltcp takes a datagram in, the socket it will give it to (the
//!   first of the interface's UDP sockets that accepts it, as smoltcp chooses) and that
//!   socket's queued bytes are noted; when its queue did not grow, smoltcp dropped the
//!   datagram for want of room (`RcvbufErrors`, also in `InErrors`). A unicast datagram no
//!   socket takes is `NoPorts`. `InDatagrams` counts the datagrams the application reads,
//!   as Linux's `udp_recvmsg` counts them.
//! - Fragments are IP packets only: the datagram they make is not looked at again (its
//!   UDP/ICMP counters miss it).
//! - Out: every frame a link sends and every packet `lo` loops (`OutRequests`, UDP
//!   `OutDatagrams`, ICMP by type, TCP segments for smoltcp's TCP).
//!
//! Counters are plain cells, per interface (frames move under the stack's lock); the
//! stack's are their sums, with our TCP engine's own counters for TCP.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ioth::counters::ProtocolCounters;
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::{Socket, udp};
use smoltcp::wire::{IpProtocol, checksum};

/// One interface's protocol counters.
#[derive(Debug, Default)]
pub(crate) struct Snmp {
    ip_in_receives: Cell<u64>,
    ip_in_hdr_errors: Cell<u64>,
    ip_in_delivers: Cell<u64>,
    ip_out_requests: Cell<u64>,
    icmp_in_msgs: Cell<u64>,
    icmp_in_csum_errors: Cell<u64>,
    icmp_in_dest_unreachs: Cell<u64>,
    icmp_in_echos: Cell<u64>,
    icmp_in_echo_reps: Cell<u64>,
    icmp_out_msgs: Cell<u64>,
    icmp_out_dest_unreachs: Cell<u64>,
    icmp_out_echos: Cell<u64>,
    icmp_out_echo_reps: Cell<u64>,
    udp_in_datagrams: Cell<u64>,
    udp_no_ports: Cell<u64>,
    udp_rcvbuf_errors: Cell<u64>,
    udp_in_csum_errors: Cell<u64>,
    udp_out_datagrams: Cell<u64>,
    tcp_in_segs: Cell<u64>,
    tcp_out_segs: Cell<u64>,
    tcp_in_csum_errors: Cell<u64>,
}

fn inc(c: &Cell<u64>) {
    c.set(c.get().wrapping_add(1));
}

/// What an IP packet carries, read from its headers.
struct Packet<'a> {
    src: IpAddr,
    dst: IpAddr,
    /// The transport protocol and its bytes; None for fragments and packets whose
    /// transport header sits behind extension headers.
    l4: Option<(u8, &'a [u8])>,
}

/// The headers of an IP packet; Err(()) for a malformed one (`InHdrErrors`), with the IPv4
/// header checksum checked when `verify`.
fn parse_ip(p: &[u8], verify: bool) -> Result<Packet<'_>, ()> {
    match p.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(p[0] & 0x0f) * 4;
            if ihl < 20 || p.len() < ihl {
                return Err(());
            }
            let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
            if total < ihl || total > p.len() || (verify && checksum::data(&p[..ihl]) != !0) {
                return Err(());
            }
            let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
            let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
            let fragment = u16::from_be_bytes([p[6], p[7]]) & 0x3fff != 0;
            Ok(Packet {
                src: src.into(),
                dst: dst.into(),
                l4: (!fragment).then(|| (p[9], &p[ihl..total])),
            })
        }
        Some(6) => {
            if p.len() < 40 {
                return Err(());
            }
            let len = 40 + usize::from(u16::from_be_bytes([p[4], p[5]]));
            if len > p.len() {
                return Err(());
            }
            let addr = |at: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&p[at..at + 16]);
                Ipv6Addr::from(b)
            };
            let next = p[6];
            Ok(Packet {
                src: addr(8).into(),
                dst: addr(24).into(),
                l4: matches!(next, 6 | 17 | 58).then(|| (next, &p[40..len])),
            })
        }
        _ => Err(()),
    }
}

/// Whether the transport checksum of `data` (protocol `proto`) from `src` to `dst` is right.
fn l4_sum_ok(src: IpAddr, dst: IpAddr, proto: u8, data: &[u8]) -> bool {
    let len = data.len() as u32;
    let pseudo = match (src, dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) if proto == 1 => return checksum::data(data) == !0,
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            checksum::pseudo_header_v4(&s, &d, IpProtocol::from(proto), len)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            checksum::pseudo_header_v6(&s, &d, IpProtocol::from(proto), len)
        }
        _ => return false,
    };
    checksum::combine(&[pseudo, checksum::data(data)]) == !0
}

/// The socket a UDP datagram is about to be given to, noted before smoltcp takes it in.
pub(crate) struct UdpProbe {
    handle: SocketHandle,
    queued: usize,
}

/// What to do with an inbound packet after counting it.
pub(crate) enum Inbound {
    /// Hand it to smoltcp.
    Pass,
    /// Hand it to smoltcp, then [`Snmp::settle`] the probe.
    Udp(UdpProbe),
    /// Drop it (counted as bad).
    Drop,
}

/// The UDP socket of `sockets` smoltcp gives a datagram to `dst:port`: the first that
/// accepts it (`udp::Socket::accepts`).
fn udp_target(
    sockets: &SocketSet<'_>,
    dst: IpAddr,
    port: u16,
    group: bool,
) -> Option<SocketHandle> {
    sockets.iter().find_map(|(h, s)| match s {
        Socket::Udp(u) => {
            let ep = u.endpoint();
            (ep.port == port && (ep.addr.is_none_or(|a| IpAddr::from(a) == dst) || group))
                .then_some(h)
        }
        _ => None,
    })
}

impl Snmp {
    /// Counts an inbound IP packet `p` (`lo`: `verify` false) for an interface whose
    /// sockets are `sockets`; `multi` says it came in a broadcast or multicast frame;
    /// `tcp` whether TCP is smoltcp's (ours counts its own); `dhcp4` whether a DHCPv4
    /// client takes port 68 outside the UDP sockets.
    pub(crate) fn inbound(
        &self,
        p: &[u8],
        verify: bool,
        multi: bool,
        sockets: &SocketSet<'_>,
        tcp: bool,
        dhcp4: bool,
    ) -> Inbound {
        inc(&self.ip_in_receives);
        let Ok(pkt) = parse_ip(p, verify) else {
            inc(&self.ip_in_hdr_errors);
            return Inbound::Drop;
        };
        let Some((proto, data)) = pkt.l4 else {
            return Inbound::Pass;
        };
        let group = multi
            || match pkt.dst {
                IpAddr::V4(d) => d.is_broadcast() || d.is_multicast(),
                IpAddr::V6(d) => d.is_multicast(),
            };
        match proto {
            17 => {
                if data.len() < 8 {
                    inc(&self.udp_in_csum_errors);
                    return Inbound::Drop;
                }
                let sum = u16::from_be_bytes([data[6], data[7]]);
                let skip = !verify || (sum == 0 && pkt.src.is_ipv4());
                if !skip && !l4_sum_ok(pkt.src, pkt.dst, proto, data) {
                    inc(&self.udp_in_csum_errors);
                    return Inbound::Drop;
                }
                inc(&self.ip_in_delivers);
                let port = u16::from_be_bytes([data[2], data[3]]);
                match udp_target(sockets, pkt.dst, port, group) {
                    Some(handle) => Inbound::Udp(UdpProbe {
                        handle,
                        queued: sockets.get::<udp::Socket>(handle).recv_queue(),
                    }),
                    None => {
                        if !(group || (dhcp4 && port == 68)) {
                            inc(&self.udp_no_ports);
                        }
                        Inbound::Pass
                    }
                }
            }
            1 | 58 => {
                inc(&self.icmp_in_msgs);
                if data.len() < 4 || (verify && !l4_sum_ok(pkt.src, pkt.dst, proto, data)) {
                    inc(&self.icmp_in_csum_errors);
                    return Inbound::Drop;
                }
                inc(&self.ip_in_delivers);
                match (proto, data[0]) {
                    (1, 8) | (58, 128) => inc(&self.icmp_in_echos),
                    (1, 0) | (58, 129) => inc(&self.icmp_in_echo_reps),
                    (1, 3) | (58, 1) => inc(&self.icmp_in_dest_unreachs),
                    _ => {}
                }
                Inbound::Pass
            }
            6 if tcp => {
                inc(&self.tcp_in_segs);
                if verify && !l4_sum_ok(pkt.src, pkt.dst, proto, data) {
                    inc(&self.tcp_in_csum_errors);
                    return Inbound::Drop;
                }
                inc(&self.ip_in_delivers);
                Inbound::Pass
            }
            _ => {
                inc(&self.ip_in_delivers);
                Inbound::Pass
            }
        }
    }

    /// After smoltcp took in the datagram `probe` was made for: queued, or dropped by a
    /// full receive buffer (`RcvbufErrors`).
    pub(crate) fn settle(&self, probe: UdpProbe, sockets: &SocketSet<'_>) {
        let grown = sockets
            .iter()
            .find(|(h, _)| *h == probe.handle)
            .is_none_or(|(_, s)| match s {
                Socket::Udp(u) => u.recv_queue() > probe.queued,
                _ => true,
            });
        if !grown {
            inc(&self.udp_rcvbuf_errors);
        }
    }

    /// The application read one datagram that came in on this interface (`InDatagrams`,
    /// which Linux counts in `recvmsg`).
    pub(crate) fn read_datagram(&self) {
        inc(&self.udp_in_datagrams);
    }

    /// Counts an IP packet `p` sent.
    pub(crate) fn outbound(&self, p: &[u8]) {
        let Ok(pkt) = parse_ip(p, false) else {
            return;
        };
        inc(&self.ip_out_requests);
        match pkt.l4 {
            Some((17, _)) => inc(&self.udp_out_datagrams),
            Some((6, _)) => inc(&self.tcp_out_segs),
            Some((proto @ (1 | 58), data)) if !data.is_empty() => {
                inc(&self.icmp_out_msgs);
                match (proto, data[0]) {
                    (1, 8) | (58, 128) => inc(&self.icmp_out_echos),
                    (1, 0) | (58, 129) => inc(&self.icmp_out_echo_reps),
                    (1, 3) | (58, 1) => inc(&self.icmp_out_dest_unreachs),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Adds this interface's counts to `c` (TCP's only when `tcp`: smoltcp's TCP).
    pub(crate) fn add_to(&self, c: &mut ProtocolCounters, tcp: bool) {
        let g = Cell::get;
        c.ip.in_receives += g(&self.ip_in_receives);
        c.ip.in_hdr_errors += g(&self.ip_in_hdr_errors);
        c.ip.in_delivers += g(&self.ip_in_delivers);
        c.ip.out_requests += g(&self.ip_out_requests);
        c.icmp.in_msgs += g(&self.icmp_in_msgs);
        c.icmp.in_errors += g(&self.icmp_in_csum_errors);
        c.icmp.in_csum_errors += g(&self.icmp_in_csum_errors);
        c.icmp.in_dest_unreachs += g(&self.icmp_in_dest_unreachs);
        c.icmp.in_echos += g(&self.icmp_in_echos);
        c.icmp.in_echo_reps += g(&self.icmp_in_echo_reps);
        c.icmp.out_msgs += g(&self.icmp_out_msgs);
        c.icmp.out_dest_unreachs += g(&self.icmp_out_dest_unreachs);
        c.icmp.out_echos += g(&self.icmp_out_echos);
        c.icmp.out_echo_reps += g(&self.icmp_out_echo_reps);
        c.udp.in_datagrams += g(&self.udp_in_datagrams);
        c.udp.no_ports += g(&self.udp_no_ports);
        c.udp.in_errors += g(&self.udp_rcvbuf_errors) + g(&self.udp_in_csum_errors);
        c.udp.rcvbuf_errors += g(&self.udp_rcvbuf_errors);
        c.udp.in_csum_errors += g(&self.udp_in_csum_errors);
        c.udp.out_datagrams += g(&self.udp_out_datagrams);
        if tcp {
            c.tcp.in_segs += g(&self.tcp_in_segs);
            c.tcp.out_segs += g(&self.tcp_out_segs);
            c.tcp.in_errs += g(&self.tcp_in_csum_errors);
            c.tcp.in_csum_errors += g(&self.tcp_in_csum_errors);
        }
    }
}

/// The protocol counters of interface `f`.
pub(crate) fn of(f: &crate::core::Iface) -> &Snmp {
    match &f.attach {
        crate::core::Attachment::Loopback(dev) => &dev.counters.snmp,
        crate::core::Attachment::Link(link) => &link.counters.snmp,
    }
}

impl crate::core::Core {
    /// The stack's protocol counters: every interface's, and our TCP engine's for TCP.
    pub(crate) fn protocol_counters(&self) -> ProtocolCounters {
        let mut c = ProtocolCounters::default();
        let smol_tcp = self.tcp.is_none();
        for f in self.ifaces.iter().flatten() {
            of(f).add_to(&mut c, smol_tcp);
        }
        if let Some(t) = &self.tcp {
            let e = t.engine.counters();
            c.tcp.active_opens = e.active_opens;
            c.tcp.passive_opens = e.passive_opens;
            c.tcp.in_segs = e.segs_in + e.bad_segs;
            c.tcp.out_segs = e.segs_out;
            c.tcp.retrans_segs = e.retrans_segs;
            c.tcp.in_errs = e.bad_segs;
            c.tcp.out_rsts = e.rsts_out;
            c.tcp.in_csum_errors = e.csum_errors;
        }
        c
    }
}

/// The IP packet of an Ethernet frame (IPv4 or IPv6 ethertype), if it carries one.
pub(crate) fn ip_of_frame(frame: &[u8]) -> Option<&[u8]> {
    match frame.get(12..14)? {
        [0x08, 0x00] | [0x86, 0xdd] => frame.get(14..),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 UDP packet with right checksums.
    fn udp4(dst: [u8; 4], port: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 28 + payload.len()];
        p[0] = 0x45;
        let total = p.len() as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[8] = 64;
        p[9] = 17;
        p[12..16].copy_from_slice(&[10, 0, 0, 2]);
        p[16..20].copy_from_slice(&dst);
        let h = !checksum::data(&p[..20]);
        p[10..12].copy_from_slice(&h.to_be_bytes());
        p[20..22].copy_from_slice(&1234u16.to_be_bytes());
        p[22..24].copy_from_slice(&port.to_be_bytes());
        p[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p[28..].copy_from_slice(payload);
        let pseudo = checksum::pseudo_header_v4(
            &Ipv4Addr::new(10, 0, 0, 2),
            &Ipv4Addr::from(dst),
            IpProtocol::Udp,
            (8 + payload.len()) as u32,
        );
        let sum = !checksum::combine(&[pseudo, checksum::data(&p[20..])]);
        p[26..28].copy_from_slice(&sum.to_be_bytes());
        p
    }

    fn counted(s: &Snmp) -> ProtocolCounters {
        let mut c = ProtocolCounters::default();
        s.add_to(&mut c, true);
        c
    }

    #[test]
    fn checksums_ports_and_headers_are_counted() {
        let s = Snmp::default();
        let set = SocketSet::new(Vec::new());
        let good = udp4([10, 0, 0, 1], 53, b"query");
        assert!(matches!(
            s.inbound(&good, true, false, &set, true, false),
            Inbound::Pass
        ));
        let mut bad_sum = good.clone();
        *bad_sum.last_mut().unwrap() ^= 1;
        assert!(matches!(
            s.inbound(&bad_sum, true, false, &set, true, false),
            Inbound::Drop
        ));
        assert!(matches!(
            s.inbound(&bad_sum, false, false, &set, true, false),
            Inbound::Pass
        ));
        let mut bad_hdr = good.clone();
        bad_hdr[8] ^= 1; // TTL changed, header checksum left
        assert!(matches!(
            s.inbound(&bad_hdr, true, false, &set, true, false),
            Inbound::Drop
        ));
        let bcast = udp4([10, 0, 0, 255], 9, b"x");
        s.inbound(&bcast, true, true, &set, true, false);
        let c = counted(&s);
        assert_eq!(c.ip.in_receives, 5);
        assert_eq!(c.ip.in_hdr_errors, 1);
        assert_eq!(c.udp.in_csum_errors, 1);
        assert_eq!(c.udp.in_errors, 1);
        // Unicast to a port nobody has (twice: the lo-style one too); broadcast is not.
        assert_eq!(c.udp.no_ports, 2);
        s.outbound(&good);
        assert_eq!(counted(&s).udp.out_datagrams, 1);
        assert_eq!(counted(&s).ip.out_requests, 1);
    }

    #[test]
    fn a_full_socket_is_a_receive_buffer_error() {
        let s = Snmp::default();
        let mut set = SocketSet::new(Vec::new());
        let rx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 1], vec![0u8; 16]);
        let tx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 1], vec![0u8; 16]);
        let mut sock = udp::Socket::new(rx, tx);
        sock.bind(53).unwrap();
        let h = set.add(sock);
        let good = udp4([10, 0, 0, 1], 53, b"query");
        let Inbound::Udp(probe) = s.inbound(&good, true, false, &set, true, false) else {
            panic!("not probed");
        };
        // Nothing was queued: as when smoltcp found the buffer full.
        s.settle(probe, &set);
        assert_eq!(counted(&s).udp.rcvbuf_errors, 1);
        assert_eq!(counted(&s).udp.in_datagrams, 0);
        s.read_datagram();
        assert_eq!(counted(&s).udp.in_datagrams, 1);
        let _ = h;
    }

    #[test]
    fn icmp_types_and_ipv6() {
        let s = Snmp::default();
        let set = SocketSet::new(Vec::new());
        // An ICMPv6 echo request, checksum not verified (lo).
        let mut p = vec![0u8; 48];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&8u16.to_be_bytes());
        p[6] = 58;
        p[40] = 128;
        s.inbound(&p, false, false, &set, true, false);
        s.outbound(&p);
        let c = counted(&s);
        assert_eq!(
            (c.icmp.in_msgs, c.icmp.in_echos, c.icmp.out_echos),
            (1, 1, 1)
        );
        // Truncated or unknown packets never panic.
        for n in 0..48 {
            s.inbound(&p[..n], true, false, &set, true, true);
            s.outbound(&p[..n]);
        }
        assert_eq!(ip_of_frame(&[0u8; 10]), None);
    }
}
