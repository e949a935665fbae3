//! The IP layer around the engine's segments: finding the TCP segment in a packet a raw
//! socket received, and writing the IP header in front of a segment to send.
//!
//! smoltcp re-emits the IP header of what its raw sockets receive (IPv4 without options,
//! IPv6 without extension headers) and re-serializes what they send, but neither is assumed:
//! IPv4 options are skipped by the header length, IPv6 extension headers are walked, and
//! anything that cannot be a whole, final TCP segment (fragments, a routing header with
//! segments left, unknown headers, a jumbogram) is dropped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of TCP.
pub(crate) const TCP: u8 = 6;

/// The IPv4 header this stack writes (no options).
pub(crate) const IPV4_HEADER: usize = 20;
/// The IPv6 header.
pub(crate) const IPV6_HEADER: usize = 40;

/// A received TCP segment: its addresses and the TCP header and payload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Segment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub tcp: &'a [u8],
}

/// The TCP segment in `packet` (an IPv4 or IPv6 packet), or None.
pub(crate) fn parse(packet: &[u8]) -> Option<Segment<'_>> {
    match packet.first()? >> 4 {
        4 => parse_v4(packet),
        6 => parse_v6(packet),
        _ => None,
    }
}

fn parse_v4(p: &[u8]) -> Option<Segment<'_>> {
    let header = usize::from(p.first()? & 0x0f) * 4;
    if header < IPV4_HEADER || p.len() < header {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    // More fragments, or an offset: not a whole datagram (smoltcp hands reassembled ones).
    let frag = u16::from_be_bytes([p[6], p[7]]);
    if total < header || total > p.len() || frag & 0x3fff != 0 || p[9] != TCP {
        return None;
    }
    let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
    let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    Some(Segment {
        src: src.into(),
        dst: dst.into(),
        tcp: &p[header..total],
    })
}

fn addr6(b: &[u8]) -> Option<Ipv6Addr> {
    let a: [u8; 16] = b.get(..16)?.try_into().ok()?;
    Some(Ipv6Addr::from(a))
}

fn parse_v6(p: &[u8]) -> Option<Segment<'_>> {
    if p.len() < IPV6_HEADER {
        return None;
    }
    let payload = usize::from(u16::from_be_bytes([p[4], p[5]]));
    if payload == 0 || IPV6_HEADER + payload > p.len() {
        // A jumbogram (payload length 0) or a truncated packet.
        return None;
    }
    let src = addr6(&p[8..24])?;
    let dst = addr6(&p[24..40])?;
    let end = IPV6_HEADER + payload;
    let mut next = p[6];
    let mut at = IPV6_HEADER;
    // At most a few extension headers: a chain longer than this is not worth walking.
    for _ in 0..8 {
        match next {
            TCP => {
                return Some(Segment {
                    src: src.into(),
                    dst: dst.into(),
                    tcp: p.get(at..end)?,
                });
            }
            // Hop-by-hop options, routing (only once its segments are all visited: we are
            // the final destination), destination options: skip.
            0 | 43 | 60 => {
                let h = p.get(at..end)?;
                if h.len() < 8 || (next == 43 && h[3] != 0) {
                    return None;
                }
                next = h[0];
                at += (usize::from(h[1]) + 1) * 8;
            }
            // Fragments (smoltcp does not reassemble IPv6 here), AH, ESP, anything else.
            _ => return None,
        }
    }
    None
}

/// Writes the IPv4 header of a TCP packet of `segment_len` bytes into `buf` (20 bytes): DF
/// set, identification `id`, TTL `ttl`, checksum filled in. None if it would be too long.
pub(crate) fn write_v4(
    buf: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    segment_len: usize,
    ttl: u8,
    id: u16,
) -> Option<()> {
    let total = u16::try_from(IPV4_HEADER + segment_len).ok()?;
    let h = buf.get_mut(..IPV4_HEADER)?;
    h[0] = 0x45;
    h[1] = 0;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
    h[8] = ttl;
    h[9] = TCP;
    h[10..12].copy_from_slice(&[0, 0]);
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let sum = checksum(h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    Some(())
}

/// Writes the IPv6 header of a TCP packet of `segment_len` bytes into `buf` (40 bytes).
/// None if it would be too long.
pub(crate) fn write_v6(
    buf: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    segment_len: usize,
    hop_limit: u8,
) -> Option<()> {
    let payload = u16::try_from(segment_len).ok()?;
    let h = buf.get_mut(..IPV6_HEADER)?;
    h[0..4].copy_from_slice(&[0x60, 0, 0, 0]);
    h[4..6].copy_from_slice(&payload.to_be_bytes());
    h[6] = TCP;
    h[7] = hop_limit;
    h[8..24].copy_from_slice(&src.octets());
    h[24..40].copy_from_slice(&dst.octets());
    Some(())
}

/// The Internet checksum (RFC 1071) of `data` (0 over a header whose checksum is right).
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let hi = u32::from(c[0]) << 8;
        let lo = c.get(1).copied().map_or(0, u32::from);
        sum += hi | lo;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    const B6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

    fn v4(segment: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; IPV4_HEADER + segment.len()];
        write_v4(&mut p, A4, B4, segment.len(), 64, 7).expect("fits");
        p[IPV4_HEADER..].copy_from_slice(segment);
        p
    }

    #[test]
    fn ipv4_round_trips_with_df_ttl_and_checksum() {
        let p = v4(b"0123456789abcdefghij");
        assert_eq!(&p[6..9], &[0x40, 0, 64]);
        assert_eq!(
            checksum(&p[..IPV4_HEADER]),
            0,
            "the header checksum verifies"
        );
        let s = parse(&p).expect("a segment");
        assert_eq!((s.src, s.dst), (A4.into(), B4.into()));
        assert_eq!(s.tcp, b"0123456789abcdefghij");
        // Trailing bytes past the total length (Ethernet padding) are not the segment's.
        let mut padded = p.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(parse(&padded).expect("a segment").tcp.len(), 20);
    }

    #[test]
    fn ipv4_options_are_skipped_and_fragments_dropped() {
        let seg = [9u8; 24];
        let mut p = v4(&seg);
        // Insert 4 bytes of options (NOP x3, EOL): IHL 6, total + 4.
        p.splice(IPV4_HEADER..IPV4_HEADER, [1, 1, 1, 0]);
        p[0] = 0x46;
        let total = u16::try_from(p.len()).expect("small");
        p[2..4].copy_from_slice(&total.to_be_bytes());
        assert_eq!(parse(&p).expect("a segment").tcp, &seg[..]);
        let mut frag = v4(&seg);
        frag[6] = 0x20; // more fragments
        assert_eq!(parse(&frag), None);
        let mut udp = v4(&seg);
        udp[9] = 17;
        assert_eq!(parse(&udp), None);
        let mut short = v4(&seg);
        short[2..4].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(parse(&short), None, "total length past the buffer");
    }

    fn v6(segment: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; IPV6_HEADER + segment.len()];
        write_v6(&mut p, A6, B6, segment.len(), 255).expect("fits");
        p[IPV6_HEADER..].copy_from_slice(segment);
        p
    }

    #[test]
    fn ipv6_round_trips_and_walks_extension_headers() {
        let seg = [5u8; 20];
        let p = v6(&seg);
        assert_eq!(p[7], 255);
        let s = parse(&p).expect("a segment");
        assert_eq!((s.src, s.dst, s.tcp), (A6.into(), B6.into(), &seg[..]));
        // Hop-by-hop (8 bytes) then destination options (16 bytes) then TCP.
        let mut ext = p.clone();
        let mut hdrs = vec![60u8, 0, 1, 4, 0, 0, 0, 0];
        hdrs.extend_from_slice(&[TCP, 1, 1, 12]);
        hdrs.extend_from_slice(&[0; 12]);
        ext.splice(IPV6_HEADER..IPV6_HEADER, hdrs);
        ext[6] = 0;
        let plen = u16::try_from(ext.len() - IPV6_HEADER).expect("small");
        ext[4..6].copy_from_slice(&plen.to_be_bytes());
        assert_eq!(parse(&ext).expect("a segment").tcp, &seg[..]);
        // A fragment header, or a routing header with segments left: dropped.
        let mut frag = ext.clone();
        frag[6] = 44;
        assert_eq!(parse(&frag), None);
        let mut routing = ext.clone();
        routing[6] = 43;
        routing[IPV6_HEADER + 3] = 1;
        assert_eq!(parse(&routing), None);
        let mut jumbo = p.clone();
        jumbo[4..6].copy_from_slice(&[0, 0]);
        assert_eq!(parse(&jumbo), None);
    }

    #[test]
    fn oversized_headers_are_refused() {
        let mut buf = [0u8; 64];
        assert!(write_v4(&mut buf, A4, B4, 65_516, 64, 0).is_none());
        assert!(write_v4(&mut buf, A4, B4, 65_515, 64, 0).is_some());
        assert!(write_v6(&mut buf, A6, B6, 65_536, 64).is_none());
        assert_eq!(parse(&[0x45]), None);
        assert_eq!(parse(&[]), None);
    }
}
