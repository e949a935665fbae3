//! Neighbour probes of our own for next hops whose packets wait.
//!
//! smoltcp resolves neighbours with one rate limit for the whole interface: after any ARP
//! request or neighbour solicitation it sends no other for a second. A neighbour that never
//! answers is retried every second, and its queue, earlier in the socket set, takes each slot
//! first: a new neighbour would never be asked. So when a transmit queue's head has waited a
//! little ([`PROBE_AFTER`]), the backend asks for that next hop itself, once a second as
//! Linux does per neighbour; the answer fills smoltcp's cache (it learns from ARP replies and
//! neighbour advertisements addressed to it), and the queue goes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::announce::{arp_request, icmpv6_frame};
use crate::core::{Attachment, Iface, in_prefix, is_link_local};

/// How long a head packet waits before we probe its next hop ourselves (µs): a neighbour
/// that answers has answered smoltcp's own request by then.
pub(crate) const PROBE_AFTER: u64 = 20_000;
/// Between two probes of one next hop (µs): Linux's `retrans_time`.
pub(crate) const PROBE_EVERY: u64 = 1_000_000;

/// Sends an ARP request or a neighbour solicitation for `hop` on interface `f`.
pub(crate) fn probe(f: &Iface, hop: IpAddr) {
    let Attachment::Link(link) = &f.attach else {
        return;
    };
    if !f.up {
        return;
    }
    let frame = match hop {
        IpAddr::V4(h) => source_v4(f, h).map(|src| arp_request(f.mac, src, h)),
        IpAddr::V6(h) => source_v6(f, h).map(|src| solicitation(f.mac, src, h)),
    };
    match frame {
        Some(frame) => {
            crate::ident::trace!("{}: probing neighbour {hop}", f.name);
            if let Err(e) = link.send(&frame) {
                crate::ident::trace!("{}: probe for {hop} not sent: {e}", f.name);
            }
        }
        None => crate::ident::trace!("{}: no source address to probe {hop} from", f.name),
    }
}

/// The interface's IPv4 address on `hop`'s subnet, else its first.
fn source_v4(f: &Iface, hop: Ipv4Addr) -> Option<Ipv4Addr> {
    let v4 = |&(a, p): &(IpAddr, u8)| match a {
        IpAddr::V4(a) => Some((a, p)),
        IpAddr::V6(_) => None,
    };
    let mut all = f.addrs.iter().filter_map(v4);
    let first = all.clone().next().map(|(a, _)| a);
    all.find(|&(a, p)| in_prefix(IpAddr::V4(hop), IpAddr::V4(a), p))
        .map(|(a, _)| a)
        .or(first)
}

/// The interface's link-local address (neighbour discovery's usual source), else one on
/// `hop`'s prefix.
fn source_v6(f: &Iface, hop: Ipv6Addr) -> Option<Ipv6Addr> {
    let v6: Vec<(Ipv6Addr, u8)> = f
        .addrs
        .iter()
        .filter_map(|&(a, p)| match a {
            IpAddr::V6(a) => Some((a, p)),
            IpAddr::V4(_) => None,
        })
        .collect();
    v6.iter()
        .find(|(a, _)| is_link_local(IpAddr::V6(*a)))
        .or_else(|| {
            v6.iter()
                .find(|&&(a, p)| in_prefix(IpAddr::V6(hop), IpAddr::V6(a), p))
        })
        .map(|&(a, _)| a)
}

/// A neighbour solicitation (RFC 4861 4.3) from `mac`/`src` for `target`, to its
/// solicited-node group, with our link-layer address.
fn solicitation(mac: [u8; 6], src: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let t = target.octets();
    let group = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    );
    let mut msg = Vec::with_capacity(32);
    msg.extend_from_slice(&[135, 0, 0, 0, 0, 0, 0, 0]);
    msg.extend_from_slice(&t);
    msg.extend_from_slice(&[1, 1]);
    msg.extend_from_slice(&mac);
    icmpv6_frame(
        mac,
        [0x33, 0x33, 0xff, t[13], t[14], t[15]],
        src,
        group,
        msg,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_well_formed() {
        let mac = [2, 0, 0, 0, 0, 1];
        let arp = arp_request(mac, Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(arp.len(), 42);
        assert_eq!(&arp[12..14], &[0x08, 0x06]);
        assert_eq!(&arp[38..42], &[10, 0, 0, 9]);
        let src: Ipv6Addr = "fe80::1".parse().expect("literal");
        let target: Ipv6Addr = "fd00::12:3456".parse().expect("literal");
        let ns = solicitation(mac, src, target);
        assert_eq!(&ns[..6], &[0x33, 0x33, 0xff, 0x12, 0x34, 0x56]);
        assert_eq!(ns.len(), 14 + 40 + 32);
        let group: Ipv6Addr = "ff02::1:ff12:3456".parse().expect("literal");
        assert_eq!(&ns[38..54], &group.octets());
        assert_eq!(
            nlconf::ndisc::message::icmpv6_checksum(src, group, &ns[54..]),
            0,
            "the checksum verifies"
        );
    }
}
