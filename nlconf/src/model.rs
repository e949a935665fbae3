//! The configuration of a stack as plain Rust values: links, addresses, routes, neighbours.
//!
//! Both sides speak in these types: a stack exposes its tables with them (server side) and the
//! client helpers return them from dumps. They carry what `ip link`, `ip addr` and `ip route`
//! show, with Linux's numeric conventions (IFF_* flags, ARPHRD_* types, RTPROT_*, RT_SCOPE_*).
//!
//! ```
//! use std::net::IpAddr;
//! use nlconf::model::{IfAddr, format_mac, mask_addr, netmask_v4, parse_mac};
//! # fn main() -> Result<(), std::net::AddrParseError> {
//! let a = IfAddr { index: 2, addr: "10.1.2.3".parse()?, prefix_len: 20 };
//! assert_eq!(a.network(), "10.1.0.0".parse::<IpAddr>()?);
//! assert_eq!(a.broadcast(), Some("10.1.15.255".parse()?));
//! assert_eq!(netmask_v4(20).to_string(), "255.255.240.0");
//! assert_eq!(mask_addr("fc00::1:2".parse()?, 112), "fc00::1:0".parse::<IpAddr>()?);
//!
//! let mac = parse_mac("02-00-5E-10-00-01").expect("six hex bytes");
//! assert_eq!(format_mac(&mac), "02:00:5e:10:00:01");
//! assert_eq!(parse_mac("02:00:5e:10:00"), None);
//! # Ok(())
//! # }
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Interface flags (`IFF_*` of `<net/if.h>`), as carried by `ifinfomsg.ifi_flags`.
pub mod iff {
    /// Interface is administratively up.
    pub const UP: u32 = 1 << 0;
    /// Broadcast address valid.
    pub const BROADCAST: u32 = 1 << 1;
    /// Loopback interface.
    pub const LOOPBACK: u32 = 1 << 3;
    /// Point-to-point link.
    pub const POINTOPOINT: u32 = 1 << 4;
    /// Resources allocated (operationally up).
    pub const RUNNING: u32 = 1 << 6;
    /// No ARP protocol.
    pub const NOARP: u32 = 1 << 7;
    /// Receive all packets.
    pub const PROMISC: u32 = 1 << 8;
    /// Receive all multicast packets.
    pub const ALLMULTI: u32 = 1 << 9;
    /// Supports multicast.
    pub const MULTICAST: u32 = 1 << 12;
    /// Driver signals L1 up (carrier).
    pub const LOWER_UP: u32 = 1 << 16;
    /// The flags a user may change with SIOCSIFFLAGS / RTM_SETLINK; the rest are the driver's.
    pub const USER_SETTABLE: u32 = UP | PROMISC | ALLMULTI | NOARP | MULTICAST;
}

/// Hardware type of an Ethernet interface (`ARPHRD_ETHER`).
pub const ARPHRD_ETHER: u16 = 1;
/// Hardware type of the loopback interface (`ARPHRD_LOOPBACK`).
pub const ARPHRD_LOOPBACK: u16 = 772;
/// Hardware type of an interface without link-layer header (`ARPHRD_NONE`).
pub const ARPHRD_NONE: u16 = 0xfffe;

/// The main routing table (`RT_TABLE_MAIN`), the one `ip route` shows.
pub const RT_TABLE_MAIN: u32 = 254;
/// Route installed by the kernel itself, e.g. the prefix route of an address (`RTPROT_KERNEL`).
pub const RTPROT_KERNEL: u8 = 2;
/// Route installed by the administrator during boot or by `ip route add` (`RTPROT_BOOT`).
pub const RTPROT_BOOT: u8 = 3;
/// Route installed by a router advertisement (`RTPROT_RA`).
pub const RTPROT_RA: u8 = 9;
/// Route installed by a DHCP client (`RTPROT_DHCP`).
pub const RTPROT_DHCP: u8 = 16;
/// Scope of a route to anywhere (`RT_SCOPE_UNIVERSE`).
pub const RT_SCOPE_UNIVERSE: u8 = 0;
/// Scope of an on-link destination (`RT_SCOPE_LINK`).
pub const RT_SCOPE_LINK: u8 = 253;
/// Scope of a destination on this host (`RT_SCOPE_HOST`).
pub const RT_SCOPE_HOST: u8 = 254;

/// One network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Interface index, > 0 and unique in its stack.
    pub index: u32,
    /// Interface name (at most 15 bytes, as `IFNAMSIZ` allows).
    pub name: String,
    /// Hardware address (all zeros for loopback).
    pub mac: [u8; 6],
    /// Maximum transmission unit.
    pub mtu: u32,
    /// `IFF_*` flags (see [`iff`]).
    pub flags: u32,
    /// `ARPHRD_*` hardware type.
    pub link_type: u16,
    /// Link kind as `ip link add ... type KIND` names it (`"vde"`), when it has one.
    pub kind: Option<String>,
}

impl Link {
    /// Whether the interface is administratively up (`IFF_UP`).
    pub fn is_up(&self) -> bool {
        self.flags & iff::UP != 0
    }
}

/// An interface's counters, as Linux reports them in `IFLA_STATS64` (`struct
/// rtnl_link_stats64`; the fields here are the ones `ip -s link` prints, the others are
/// reported as zero). Counters only grow while the interface exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames received (for this interface: its own, broadcast and multicast ones).
    pub rx_packets: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes received (Ethernet header included, no FCS).
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Bad frames received (the sum of the detailed `rx_*_errors`).
    pub rx_errors: u64,
    /// Frames that could not be sent (the sum of the detailed `tx_*_errors`).
    pub tx_errors: u64,
    /// Good frames received and dropped for want of room.
    pub rx_dropped: u64,
    /// Frames dropped on sending for want of room (a full queue on the way).
    pub tx_dropped: u64,
    /// Multicast frames received (broadcast not included).
    pub multicast: u64,
    /// Frames received too short or too long.
    pub rx_length_errors: u64,
    /// Frames received and overrun (a full receive ring).
    pub rx_over_errors: u64,
    /// Frames received with a bad checksum.
    pub rx_crc_errors: u64,
    /// Frames lost by the receiver.
    pub rx_missed_errors: u64,
    /// Frames not sent because the link had no carrier.
    pub tx_carrier_errors: u64,
    /// Frames received for a protocol nothing handles.
    pub rx_nohandler: u64,
}

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// One address assigned to an interface.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IfAddr {
    /// Index of the interface holding the address.
    pub index: u32,
    /// The address itself.
    pub addr: IpAddr,
    /// Prefix length of the on-link network (≤ 32 for IPv4, ≤ 128 for IPv6).
    pub prefix_len: u8,
}

impl IfAddr {
    /// The address's scope as Linux assigns it: host for loopback addresses, link for IPv6
    /// link-local, universe otherwise.
    pub fn scope(&self) -> u8 {
        match self.addr {
            IpAddr::V4(a) if a.is_loopback() => RT_SCOPE_HOST,
            IpAddr::V6(a) if a.is_loopback() => RT_SCOPE_HOST,
            IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => RT_SCOPE_LINK,
            _ => RT_SCOPE_UNIVERSE,
        }
    }

    /// The IPv4 broadcast address of the address's network, when it has one (prefix < 31).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        match self.addr {
            IpAddr::V4(a) if self.prefix_len < 31 => {
                let host_mask = u32::MAX >> self.prefix_len;
                Some(Ipv4Addr::from(u32::from(a) | host_mask))
            }
            _ => None,
        }
    }

    /// The network address of the address's prefix (host bits cleared).
    pub fn network(&self) -> IpAddr {
        mask_addr(self.addr, self.prefix_len)
    }
}

/// One route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    /// Destination network (host bits clear); the unspecified address of the family for a
    /// default route.
    pub dst: IpAddr,
    /// Destination prefix length; 0 for a default route.
    pub prefix_len: u8,
    /// Next hop, when the destination is not on-link.
    pub gateway: Option<IpAddr>,
    /// Output interface index.
    pub oif: Option<u32>,
    /// Routing table (normally [`RT_TABLE_MAIN`]).
    pub table: u32,
    /// Who installed the route (`RTPROT_*`).
    pub protocol: u8,
    /// Scope (`RT_SCOPE_*`).
    pub scope: u8,
    /// Route priority/metric (`RTA_PRIORITY`); 0 when unset.
    pub metric: u32,
}

impl Route {
    /// Whether this is a default route (prefix length 0).
    pub fn is_default(&self) -> bool {
        self.prefix_len == 0
    }

    /// Whether `addr` falls inside this route's destination prefix.
    pub fn contains(&self, addr: IpAddr) -> bool {
        addr.is_ipv4() == self.dst.is_ipv4() && mask_addr(addr, self.prefix_len) == self.dst
    }
}

/// One neighbour cache (ARP / NDP) entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// Interface index.
    pub index: u32,
    /// Protocol address of the neighbour.
    pub addr: IpAddr,
    /// Its hardware address, when resolved.
    pub mac: Option<[u8; 6]>,
    /// `NUD_*` state (0x02 reachable, 0x04 stale, 0x80 permanent, ...).
    pub state: u16,
}

/// Returns `addr` with every bit after the first `prefix_len` cleared (prefix lengths beyond
/// the address size keep the whole address).
pub fn mask_addr(addr: IpAddr, prefix_len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = if prefix_len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix_len.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = if prefix_len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix_len.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

/// Longest prefix length valid for the family of `addr` (32 or 128).
pub fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// The IPv4 netmask of a prefix length (`/24` → 255.255.255.0).
pub fn netmask_v4(prefix_len: u8) -> Ipv4Addr {
    match mask_addr(IpAddr::V4(Ipv4Addr::BROADCAST), prefix_len) {
        IpAddr::V4(m) => m,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    }
}

/// The IPv6 netmask of a prefix length (`/64` → ffff:ffff:ffff:ffff::).
pub fn netmask_v6(prefix_len: u8) -> Ipv6Addr {
    match mask_addr(IpAddr::V6(Ipv6Addr::from(u128::MAX)), prefix_len) {
        IpAddr::V6(m) => m,
        IpAddr::V4(_) => Ipv6Addr::UNSPECIFIED,
    }
}

/// Formats a MAC address the way `ip` prints it (`02:00:00:aa:bb:cc`).
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses a MAC address written as six hex octets separated by `:` or `-`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for byte in &mut mac {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_broadcasts() {
        let a = IfAddr {
            index: 1,
            addr: "10.1.2.3".parse().unwrap(),
            prefix_len: 24,
        };
        assert_eq!(a.network(), "10.1.2.0".parse::<IpAddr>().unwrap());
        assert_eq!(a.broadcast(), Some("10.1.2.255".parse().unwrap()));
        assert_eq!(netmask_v4(20), "255.255.240.0".parse::<Ipv4Addr>().unwrap());
        assert_eq!(
            netmask_v6(64),
            "ffff:ffff:ffff:ffff::".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            mask_addr("1.2.3.4".parse().unwrap(), 0),
            "0.0.0.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            mask_addr("1.2.3.4".parse().unwrap(), 40),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mac_text_round_trip_and_rejects() {
        let mac = parse_mac("02:0A:bb:00:11:ff").unwrap();
        assert_eq!(format_mac(&mac), "02:0a:bb:00:11:ff");
        assert_eq!(parse_mac("02-0a-bb-00-11-ff"), Some(mac));
        for bad in [
            "",
            "02:0a:bb:00:11",
            "02:0a:bb:00:11:ff:00",
            "02:0a:bb:00:11:fg",
            "002:0a:bb:00:11:ff",
            "02::bb:00:11:ff",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn scopes() {
        let s = |a: &str| {
            IfAddr {
                index: 1,
                addr: a.parse().unwrap(),
                prefix_len: 8,
            }
            .scope()
        };
        assert_eq!(s("127.0.0.1"), RT_SCOPE_HOST);
        assert_eq!(s("fe80::1"), RT_SCOPE_LINK);
        assert_eq!(s("2001:db8::1"), RT_SCOPE_UNIVERSE);
        assert_eq!(s("10.0.0.1"), RT_SCOPE_UNIVERSE);
    }
}
