//! The fast path between a link and the engine, past smoltcp: TCP segments in unicast
//! frames for the interface go straight to the engine, and the engine's segments to a next
//! hop whose link-layer address smoltcp used a moment ago go straight to the link.
//!
//! smoltcp stays the authority on neighbours; this path only repeats its recent decisions:
//! - **Learning**: the address of a next hop is learned from the frames smoltcp's egress
//!   sends for the hop's transmit queue ([`sent_tcp`]), and is used for [`NEIGHBOUR_FRESH`]
//!   after that; then one segment goes through smoltcp again, which answers from its cache
//!   (or resolves anew) and so teaches the address again.
//! - **Forgetting**: every ARP or neighbour-discovery frame an interface receives (which
//!   may change smoltcp's cache) makes it forget what it learned ([`neighbour_news`]).
//! - **Order**: a segment takes the fast path only when its queue holds no packet, so
//!   nothing overtakes what waits for smoltcp.
//! - **Confirmation**: smoltcp refreshes a neighbour entry each time it processes a unicast
//!   packet from it; so that entries of peers heard only through this path do not expire
//!   (and stall a connection while smoltcp resolves them again), each source's TCP goes
//!   through smoltcp's ingress once per [`CONFIRM_EVERY`] ([`Confirmations`]).
//!
//! What is not a unicast IPv4 (valid header checksum, no fragment) or IPv6 (TCP as the
//! next header, no extension header) TCP segment for this interface's MAC takes smoltcp's
//! path, as does everything on `lo`.

use std::net::IpAddr;

use super::wire::{self, Segment};

/// The Ethernet header.
pub(crate) const ETH_HEADER: usize = 14;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_IPV6: [u8; 2] = [0x86, 0xdd];
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
/// IPv6 next-header values: hop-by-hop options, ICMPv6.
const HOP_BY_HOP: u8 = 0;
const ICMPV6: u8 = 58;

/// How long a next hop's link-layer address learned from smoltcp's egress is used (µs).
pub(crate) const NEIGHBOUR_FRESH: u64 = 1_000_000;
/// How often a source's TCP goes through smoltcp's ingress anyway (µs).
pub(crate) const CONFIRM_EVERY: u64 = 1_000_000;

/// The TCP segment of `frame` if it can skip smoltcp's ingress: addressed to `mac`, IPv4
/// with a valid header checksum and no fragmentation, or IPv6 with TCP right after the
/// fixed header. None for anything else (smoltcp's path takes it).
pub(crate) fn inbound(frame: &[u8], mac: [u8; 6]) -> Option<Segment<'_>> {
    if frame.len() < ETH_HEADER || frame[..6] != mac {
        return None;
    }
    let packet = &frame[ETH_HEADER..];
    match [frame[12], frame[13]] {
        ETHERTYPE_IPV4 => {
            let header = usize::from(packet.first()? & 0x0f) * 4;
            if packet.first()? >> 4 != 4 || wire::checksum(packet.get(..header)?) != 0 {
                return None;
            }
            wire::parse(packet)
        }
        ETHERTYPE_IPV6 if packet.get(6) == Some(&wire::TCP) && packet[0] >> 4 == 6 => {
            wire::parse(packet)
        }
        _ => None,
    }
}

/// Whether `frame` may change smoltcp's neighbour cache: ARP, or IPv6 carrying ICMPv6 (or
/// an extension header, which neighbour discovery could sit behind).
pub(crate) fn neighbour_news(frame: &[u8]) -> bool {
    match frame.get(12..14) {
        Some(t) if t == ETHERTYPE_ARP => true,
        Some(t) if t == ETHERTYPE_IPV6 => frame
            .get(ETH_HEADER + 6)
            .is_some_and(|&next| next == ICMPV6 || next == HOP_BY_HOP),
        _ => false,
    }
}

/// The destination address and the (unicast) destination MAC of a frame carrying TCP that
/// smoltcp's egress sent, or None.
pub(crate) fn sent_tcp(frame: &[u8]) -> Option<(IpAddr, [u8; 6])> {
    let mac: [u8; 6] = frame.get(..6)?.try_into().ok()?;
    if mac[0] & 1 != 0 {
        return None;
    }
    let packet = frame.get(ETH_HEADER..)?;
    match frame.get(12..14)? {
        t if t == ETHERTYPE_IPV4 || t == ETHERTYPE_IPV6 => {
            wire::parse(packet).map(|s| (s.dst, mac))
        }
        _ => None,
    }
}

/// Writes the Ethernet header of an IP packet (`ipv4` or IPv6) from `src` to `dst` into
/// `buf`'s first [`ETH_HEADER`] bytes.
pub(crate) fn write_eth(buf: &mut [u8], dst: [u8; 6], src: [u8; 6], ipv4: bool) {
    buf[..6].copy_from_slice(&dst);
    buf[6..12].copy_from_slice(&src);
    buf[12..14].copy_from_slice(if ipv4 {
        &ETHERTYPE_IPV4
    } else {
        &ETHERTYPE_IPV6
    });
}

/// Entries of [`Confirmations`]: a few peers per stack are tracked exactly; more share
/// entries, and then simply go through smoltcp more often.
const CONFIRM_ENTRIES: usize = 16;

/// When each source's TCP last went through smoltcp's ingress: a small direct-mapped table
/// (a collision costs one more trip through smoltcp, never a missed one).
#[derive(Default)]
pub(crate) struct Confirmations {
    /// Made on first use (most stacks never take a TCP segment in).
    entries: Option<Box<[Confirmation; CONFIRM_ENTRIES]>>,
}

/// The (interface slot, source) an entry is about, and when it last went through smoltcp.
type Confirmation = (Option<(usize, IpAddr)>, u64);

impl Confirmations {
    /// Whether a segment from `src` on interface `slot` should go through smoltcp now (at
    /// `now`, µs); if so, it is counted as done.
    pub(crate) fn due(&mut self, slot: usize, src: IpAddr, now: u64) -> bool {
        let entries = self
            .entries
            .get_or_insert_with(|| Box::new([(None, 0); CONFIRM_ENTRIES]));
        let e = &mut entries[index(slot, src)];
        if e.0 == Some((slot, src)) && now.saturating_sub(e.1) < CONFIRM_EVERY {
            return false;
        }
        *e = (Some((slot, src)), now);
        true
    }
}

fn index(slot: usize, src: IpAddr) -> usize {
    let mut h: u32 = 2_166_136_261;
    let mut mix = |b: u8| h = (h ^ u32::from(b)).wrapping_mul(16_777_619);
    match src {
        IpAddr::V4(a) => a.octets().into_iter().for_each(&mut mix),
        IpAddr::V6(a) => a.octets().into_iter().for_each(&mut mix),
    }
    slot.to_ne_bytes().into_iter().for_each(&mut mix);
    h as usize % CONFIRM_ENTRIES
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const PEER: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const A4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    const B6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

    fn frame4(dst_mac: [u8; 6], segment: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; ETH_HEADER + wire::IPV4_HEADER + segment.len()];
        write_eth(&mut f, dst_mac, PEER, true);
        wire::write_v4(&mut f[ETH_HEADER..], B4, A4, segment.len(), 64, 9).expect("fits");
        f[ETH_HEADER + wire::IPV4_HEADER..].copy_from_slice(segment);
        f
    }

    fn frame6(dst_mac: [u8; 6], segment: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; ETH_HEADER + wire::IPV6_HEADER + segment.len()];
        write_eth(&mut f, dst_mac, PEER, false);
        wire::write_v6(&mut f[ETH_HEADER..], B6, A6, segment.len(), 64).expect("fits");
        f[ETH_HEADER + wire::IPV6_HEADER..].copy_from_slice(segment);
        f
    }

    #[test]
    fn unicast_tcp_for_our_mac_takes_the_fast_path() {
        let seg = [7u8; 20];
        let f4 = frame4(MAC, &seg);
        let s = inbound(&f4, MAC).expect("IPv4");
        assert_eq!((s.src, s.dst, s.tcp), (B4.into(), A4.into(), &seg[..]));
        let f6 = frame6(MAC, &seg);
        let s = inbound(&f6, MAC).expect("IPv6");
        assert_eq!((s.src, s.dst, s.tcp), (B6.into(), A6.into(), &seg[..]));
        assert_eq!(sent_tcp(&frame4(PEER, &seg)), Some((A4.into(), PEER)));
        assert_eq!(sent_tcp(&frame6(PEER, &seg)), Some((A6.into(), PEER)));
    }

    #[test]
    fn anything_else_takes_smoltcps_path() {
        let seg = [7u8; 20];
        assert!(inbound(&frame4(PEER, &seg), MAC).is_none(), "another MAC");
        assert!(
            inbound(&frame4([0xff; 6], &seg), MAC).is_none(),
            "broadcast"
        );
        let mut bad = frame4(MAC, &seg);
        bad[ETH_HEADER + 10] ^= 1;
        assert!(inbound(&bad, MAC).is_none(), "a wrong header checksum");
        let mut frag = frame4(MAC, &seg);
        frag[ETH_HEADER + 6] = 0x20;
        frag[ETH_HEADER + 10..ETH_HEADER + 12].copy_from_slice(&[0, 0]);
        let sum = wire::checksum(&frag[ETH_HEADER..ETH_HEADER + 20]);
        frag[ETH_HEADER + 10..ETH_HEADER + 12].copy_from_slice(&sum.to_be_bytes());
        assert!(inbound(&frag, MAC).is_none(), "a fragment");
        let mut hbh = frame6(MAC, &seg);
        hbh[ETH_HEADER + 6] = HOP_BY_HOP;
        assert!(inbound(&hbh, MAC).is_none(), "an extension header");
        assert!(neighbour_news(&hbh));
        let mut icmp = frame6(MAC, &seg);
        icmp[ETH_HEADER + 6] = ICMPV6;
        assert!(inbound(&icmp, MAC).is_none() && neighbour_news(&icmp));
        let mut arp = frame4(MAC, &seg);
        arp[12..14].copy_from_slice(&ETHERTYPE_ARP);
        assert!(inbound(&arp, MAC).is_none() && neighbour_news(&arp));
        assert!(!neighbour_news(&frame4(MAC, &seg)));
        assert!(sent_tcp(&frame4([0xff; 6], &seg)).is_none(), "not unicast");
        assert!(inbound(&[], MAC).is_none() && sent_tcp(&[]).is_none());
    }

    #[test]
    fn each_source_is_confirmed_once_a_period() {
        let mut c = Confirmations::default();
        let (a, b): (IpAddr, IpAddr) = (B4.into(), B6.into());
        assert!(c.due(1, a, 0), "the first segment of a source");
        assert!(!c.due(1, a, 10));
        assert!(c.due(1, b, 10));
        assert!(!c.due(1, a, CONFIRM_EVERY - 1) || index(1, a) == index(1, b));
        assert!(c.due(1, a, 2 * CONFIRM_EVERY), "a period later");
    }

    /// Between two stacks of the process, once the first segments went through smoltcp
    /// (which taught the next hops), segments skip smoltcp both ways, and every byte
    /// arrives as sent.
    #[test]
    fn an_established_connection_skips_smoltcp() {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering::Relaxed;

        use crate::stack::tests::node_named;
        use crate::tcp_ioth::{FAST_FRAMES, FAST_SENT};

        let hub = format!("hub://@fast-path-{}", std::process::id());
        let a = node_named("smoltcp,tcp=ioth", &hub, "vde0", [10, 94, 0, 1]);
        let b = node_named("smoltcp,tcp=ioth", &hub, "vde0", [10, 94, 0, 2]);
        let addr = std::net::SocketAddr::from(([10, 94, 0, 1], 7300));
        let (mut c, server) = crate::stack::tests::echo_connection(&a, &b, addr);
        let mut exchange = |i: u32| {
            let mut buf = [0u8; 64];
            buf[..4].copy_from_slice(&i.to_be_bytes());
            c.write_all(&buf).expect("request");
            c.read_exact(&mut buf).expect("reply");
            assert_eq!(buf[..4], i.to_be_bytes(), "the reply is the request");
        };
        for i in 0..10 {
            exchange(i);
        }
        let (ins, outs) = (FAST_FRAMES.load(Relaxed), FAST_SENT.load(Relaxed));
        let exchanges = 500;
        for i in 0..exchanges {
            exchange(i);
        }
        // Each exchange is two segments each way at most (data, maybe a bare ACK); at least
        // the data segments skip smoltcp, but for one per source per second.
        let (ins, outs) = (
            FAST_FRAMES.load(Relaxed) - ins,
            FAST_SENT.load(Relaxed) - outs,
        );
        assert!(
            ins >= u64::from(exchanges) && outs >= u64::from(exchanges),
            "{ins} segments taken in and {outs} sent past smoltcp in {exchanges} exchanges"
        );
        drop(c);
        server.join().expect("server thread");
    }

    proptest! {
        #[test]
        fn arbitrary_frames_never_panic(frame in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Some(s) = inbound(&frame, MAC) {
                prop_assert!(s.tcp.len() <= frame.len());
            }
            let _ = neighbour_news(&frame);
            let _ = sent_tcp(&frame);
        }

        #[test]
        fn built_frames_are_taken_whole(seg in proptest::collection::vec(any::<u8>(), 20..100)) {
            let f = frame4(MAC, &seg);
            let got = inbound(&f, MAC).map(|s| s.tcp.to_vec());
            prop_assert_eq!(got, Some(seg.clone()));
            let f = frame6(MAC, &seg);
            let got = inbound(&f, MAC).map(|s| s.tcp.to_vec());
            prop_assert_eq!(got, Some(seg));
        }
    }
}
