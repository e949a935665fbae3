//! Announcements: a gratuitous ARP for each IPv4 address and an unsolicited neighbour
//! advertisement (RFC 4861 7.2.6) for each IPv6 address of an Ethernet interface, when the
//! address is added, when the interface comes up and when its MAC changes, as Linux sends
//! them with `arp_notify` and `ndisc_notify` set. A peer that cached this address with
//! another MAC (a node restarted with a new random MAC) updates its cache at once instead of
//! sending to the old MAC until its entry goes stale.
//!
//! The stack option `announce=1` turns them on; they are off by default, as Linux's are
//! (each is a broadcast every member of a hub receives, and with them on, stacks made at
//! once on one hub lose a first UDP datagram now and then: see the `threads` example).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::core::{Attachment, Iface};

/// A broadcast ARP request from `mac`/`src` for `target` (a gratuitous one when `src` is
/// `target`).
pub(crate) fn arp_request(mac: [u8; 6], src: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// An ICMPv6 packet `msg` (checksum field zero) from `mac`/`src` to `dst` at `dst_mac`, hop
/// limit 255, as a frame, with its checksum filled.
pub(crate) fn icmpv6_frame(
    mac: [u8; 6],
    dst_mac: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    mut msg: Vec<u8>,
) -> Vec<u8> {
    let sum = nlconf::ndisc::message::icmpv6_checksum(src, dst, &msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut f = Vec::with_capacity(14 + 40 + msg.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x86, 0xdd]);
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&msg);
    f
}

/// An unsolicited neighbour advertisement of `addr` at `mac` to all nodes (ff02::1): the
/// override flag set, not solicited, with our link-layer address.
fn unsolicited_na(mac: [u8; 6], addr: Ipv6Addr) -> Vec<u8> {
    let mut msg = Vec::with_capacity(32);
    msg.extend_from_slice(&[136, 0, 0, 0, 0x20, 0, 0, 0]);
    msg.extend_from_slice(&addr.octets());
    msg.extend_from_slice(&[2, 1]);
    msg.extend_from_slice(&mac);
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    icmpv6_frame(mac, [0x33, 0x33, 0, 0, 0, 1], addr, all_nodes, msg)
}

/// The announcement of `addr` from an interface with `mac`.
pub(crate) fn frame(mac: [u8; 6], addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => arp_request(mac, a, a),
        IpAddr::V6(a) => unsolicited_na(mac, a),
    }
}

/// Announces `addrs` on `f` if it is an Ethernet interface that is up; a frame the link
/// cannot take is dropped (logged), as a lost broadcast would be.
pub(crate) fn announce(f: &Iface, addrs: &[IpAddr]) {
    let Attachment::Link(link) = &f.attach else {
        return;
    };
    if !f.up {
        return;
    }
    for &addr in addrs {
        crate::ident::debug!("{}: announcing {addr} at {:02x?}", f.name, f.mac);
        if let Err(e) = link.send(&frame(f.mac, addr)) {
            crate::ident::debug!("{}: announcement of {addr} not sent: {e}", f.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gratuitous_arp_names_the_address_as_sender_and_target() {
        let mac = [2, 0, 0, 0, 0, 1];
        let f = frame(mac, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(f.len(), 42);
        assert_eq!(&f[..6], &[0xff; 6], "broadcast");
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1], "a request");
        assert_eq!(&f[22..28], &mac);
        assert_eq!(&f[28..32], &[10, 0, 0, 1]);
        assert_eq!(&f[38..42], &[10, 0, 0, 1]);
    }

    #[test]
    fn an_unsolicited_na_overrides_and_verifies() {
        let mac = [2, 0, 0, 0, 0, 1];
        let addr: Ipv6Addr = "fd00::7".parse().expect("literal");
        let f = frame(mac, IpAddr::V6(addr));
        assert_eq!(&f[..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(f.len(), 14 + 40 + 32);
        assert_eq!(f[21], 255, "hop limit 255");
        assert_eq!(f[54], 136, "a neighbour advertisement");
        assert_eq!(f[58], 0x20, "override, not solicited, not a router");
        assert_eq!(&f[62..78], &addr.octets());
        assert_eq!(&f[78..80], &[2, 1], "target link-layer address option");
        assert_eq!(&f[80..86], &mac);
        let dst = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
        assert_eq!(
            nlconf::ndisc::message::icmpv6_checksum(addr, dst, &f[54..]),
            0,
            "the checksum verifies"
        );
    }
}
