//! The TCP checksum with its pseudo-header (RFC 9293 3.1; IPv6: RFC 8200 8.1).
//!
//! The checksum is the ones' complement of the ones' complement sum of the 16-bit words of
//! the pseudo-header and the segment (RFC 9293 3.1, computed as RFC 1071 describes).
//!
//! Guarantees:
//! - a segment given in several slices sums exactly as the same bytes in one slice,
//!   whatever the slices' lengths (odd ones included): a slice starting at an odd offset
//!   has its partial sum byte-swapped, which RFC 1071 2(B) shows is equivalent;
//! - the sum runs over 8-byte words into a 64-bit accumulator and is folded to 16 bits once
//!   per slice; only a slice's last 7 bytes or fewer are handled one word at a time;
//! - nothing panics and nothing allocates, for any input.

use std::net::IpAddr;

use super::HEADER_LEN;

/// The IP protocol number of TCP, in the pseudo-header.
const PROTO_TCP: u64 = 6;

/// Bytes summed between two folds: at most 2^27 eight-byte words, each adding less than
/// 2^33, so the 64-bit accumulator cannot overflow.
const BLOCK: usize = 1 << 30;

/// Folds a sum of 16-bit words (in any width) to 16 bits with end-around carry.
///
/// A non-zero sum folds to a non-zero value (1 to 0xffff).
#[inline]
fn fold(sum: u64) -> u16 {
    let mut s = (sum & 0xffff_ffff) + (sum >> 32); // < 2^33
    s = (s & 0xffff) + (s >> 16); // < 2^17 + 2^16
    s = (s & 0xffff) + (s >> 16); // <= 0x1_0001
    s = (s & 0xffff) + (s >> 16); // <= 0xffff
    s as u16
}

/// The folded sum of `bytes` as 16-bit words in the machine's byte order, as if `bytes`
/// started at an even offset (an odd last byte is padded with a zero after it).
///
/// Reading native-endian words gives the byte-swapped sum on a little-endian machine; the
/// caller converts with `u16::from_be` (RFC 1071 2(B): the sum is byte-order independent).
fn sum_native(bytes: &[u8]) -> u16 {
    let mut total: u64 = 0;
    for block in bytes.chunks(BLOCK) {
        let (words, tail) = block.as_chunks::<8>();
        // Two independent accumulators keep the adds from waiting on each other.
        let (mut a, mut b) = (0u64, 0u64);
        let (pairs, last) = words.as_chunks::<2>();
        for [x, y] in pairs {
            let x = u64::from_ne_bytes(*x);
            let y = u64::from_ne_bytes(*y);
            a += (x & 0xffff_ffff) + (x >> 32);
            b += (y & 0xffff_ffff) + (y >> 32);
        }
        for x in last {
            let x = u64::from_ne_bytes(*x);
            a += (x & 0xffff_ffff) + (x >> 32);
        }
        let (halves, odd) = tail.as_chunks::<2>();
        for h in halves {
            a += u64::from(u16::from_ne_bytes(*h));
        }
        if let Some(&byte) = odd.first() {
            a += u64::from(u16::from_ne_bytes([byte, 0]));
        }
        total += u64::from(fold(a)) + u64::from(fold(b));
    }
    fold(total)
}

/// The pseudo-header's sum: source and destination addresses, the protocol and the TCP
/// length (RFC 9293 3.1 for IPv4, RFC 8200 8.1 for IPv6: the word layout differs, the sum
/// of the words does not, except that IPv6 allows a 32-bit length).
fn pseudo_header_sum(src: IpAddr, dst: IpAddr, tcp_len: u64) -> u64 {
    fn addr_sum(a: IpAddr) -> u64 {
        let sum16 = |b: &[u8]| -> u64 {
            b.as_chunks::<2>()
                .0
                .iter()
                .map(|w| u64::from(u16::from_be_bytes(*w)))
                .sum()
        };
        match a {
            IpAddr::V4(v4) => sum16(&v4.octets()),
            IpAddr::V6(v6) => sum16(&v6.octets()),
        }
    }
    addr_sum(src)
        + addr_sum(dst)
        + PROTO_TCP
        + (tcp_len & 0xffff)
        + ((tcp_len >> 16) & 0xffff)
        + (tcp_len >> 32)
}

/// The TCP checksum of the segment made of `parts` (header first, then the payload in any
/// number of slices) between `src` and `dst`, with the pseudo-header.
///
/// Computed over a header whose checksum field is zero, this is the value to store there;
/// over a received segment it is zero when the checksum is right. Slices of any lengths
/// give the same result as one contiguous buffer. `src` and `dst` should be of the same
/// family; if they are not (a caller's bug), both are summed as given.
pub fn checksum(src: IpAddr, dst: IpAddr, parts: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    let mut len: u64 = 0;
    let mut odd = false;
    for part in parts {
        let mut s = u16::from_be(sum_native(part));
        if odd {
            // This slice starts at an odd offset: its words straddle the true word
            // boundaries, which swaps the bytes of its sum (RFC 1071 2(B)).
            s = s.swap_bytes();
        }
        sum += u64::from(s);
        odd ^= part.len() % 2 == 1;
        len += part.len() as u64;
    }
    !fold(sum + pseudo_header_sum(src, dst, len))
}

/// Whether the received `segment` (a whole TCP segment, header and payload) has a right
/// checksum for `src` and `dst`. Bytes shorter than a TCP header are never right.
pub fn verify_checksum(src: IpAddr, dst: IpAddr, segment: &[u8]) -> bool {
    segment.len() >= HEADER_LEN && checksum(src, dst, &[segment]) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// The textbook computation: the pseudo-header written out as bytes, then every byte
    /// pair summed one at a time.
    fn reference(src: IpAddr, dst: IpAddr, data: &[u8]) -> u16 {
        let mut bytes = Vec::new();
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                bytes.extend_from_slice(&s.octets());
                bytes.extend_from_slice(&d.octets());
                bytes.extend_from_slice(&[0, 6]);
                bytes.extend_from_slice(&(data.len() as u16).to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                bytes.extend_from_slice(&s.octets());
                bytes.extend_from_slice(&d.octets());
                bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
                bytes.extend_from_slice(&[0, 0, 0, 6]);
            }
            _ => unreachable!("the tests use one family"),
        }
        bytes.extend_from_slice(data);
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        let mut sum: u32 = 0;
        for pair in bytes.chunks(2) {
            sum += u32::from(pair[0]) << 8 | u32::from(pair[1]);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    fn addrs() -> impl Strategy<Value = (IpAddr, IpAddr)> {
        prop_oneof![
            (any::<u32>(), any::<u32>())
                .prop_map(|(a, b)| (Ipv4Addr::from(a).into(), Ipv4Addr::from(b).into())),
            (any::<u128>(), any::<u128>())
                .prop_map(|(a, b)| (Ipv6Addr::from(a).into(), Ipv6Addr::from(b).into())),
        ]
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 3's example words 0001 f203 f4f5 f6f7 sum to ddf2 (folded); with a
        // zero pseudo-header except the protocol (6) and length (8) that is ddf2 + 6 + 8.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        let zero = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        assert_eq!(checksum(zero, zero, &[&data]), !(0xddf2u16 + 6 + 8));
    }

    #[test]
    fn odd_splits_match_contiguous() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1001).collect();
        let (s, d) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        let whole = checksum(s, d, &[&data]);
        assert_eq!(whole, reference(s, d, &data));
        let (a, rest) = data.split_at(21);
        let (b, c) = rest.split_at(333);
        assert_eq!(checksum(s, d, &[a, b, c]), whole);
        assert_eq!(checksum(s, d, &[a, &[], b, &[], c]), whole);
    }

    #[test]
    fn short_bytes_do_not_verify() {
        let zero = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        assert!(!verify_checksum(zero, zero, &[]));
        assert!(!verify_checksum(zero, zero, &[0xff; 19]));
    }

    proptest! {
        #[test]
        fn matches_reference((src, dst) in addrs(), data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            prop_assert_eq!(checksum(src, dst, &[&data]), reference(src, dst, &data));
        }

        #[test]
        fn any_split_matches_contiguous(
            (src, dst) in addrs(),
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
            cuts.sort_unstable();
            let mut parts: Vec<&[u8]> = Vec::new();
            let mut at = 0;
            for c in cuts {
                parts.push(&data[at..c]);
                at = c;
            }
            parts.push(&data[at..]);
            prop_assert_eq!(checksum(src, dst, &parts), checksum(src, dst, &[&data]));
        }
    }
}
