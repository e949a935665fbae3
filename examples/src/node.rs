//! A node of the Internet of Threads: a smoltcp stack on one VNL whose MAC and IPv6 address
//! are derived from the node's name (IoTh hash addressing), with an optional IPv4 address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ioth::Stack;
use ioth::nlconf::hashaddr::{hashaddr, hashmac};
use ioth_smoltcp as _; // link the smoltcp backend: found by the name "smoltcp"

use crate::failure::{Context, Failure};

/// The /64 prefix the examples derive IPv6 addresses in (unique local addresses).
pub const IPV6_BASE: Ipv6Addr = Ipv6Addr::new(0xfc00, 0, 0, 1, 0, 0, 0, 0);

/// A configured stack and the addresses it was given.
pub struct Node {
    /// The name the MAC and IPv6 address are derived from.
    pub name: String,
    /// The node's own user-space stack (interfaces `lo` and `vde0`).
    pub stack: Stack,
    /// `hashmac(name)`, set on `vde0`.
    pub mac: [u8; 6],
    /// The IPv4 address of `vde0`, if one was given.
    pub ipv4: Option<Ipv4Addr>,
    /// `hashaddr(IPV6_BASE, name)`, on `vde0` with prefix length 64.
    pub ipv6: Ipv6Addr,
}

impl Node {
    /// Makes a smoltcp stack on `vnl` and configures `vde0` through rtnetlink on the stack:
    /// MAC `hashmac(name)`, link up, `ipv4` with its prefix length (if given) and
    /// `hashaddr(IPV6_BASE, name)/64`. Errors say which step failed.
    pub fn new(vnl: &str, name: &str, ipv4: Option<(Ipv4Addr, u8)>) -> Result<Node, Failure> {
        let stack = Stack::new("smoltcp", &[vnl])
            .context(format_args!("{name}: cannot make a smoltcp stack on {vnl}"))?;
        let mac = hashmac(name, None);
        let ipv6 = hashaddr(IPV6_BASE, name, None, 0);
        let step = |what: &str| format!("{name}: {what}");
        let vde0 = stack
            .if_nametoindex("vde0")
            .context(step("no interface vde0"))?;
        stack
            .link_set_mac(vde0, mac)
            .context(step("setting the MAC of vde0"))?;
        stack
            .link_set_up(vde0, true)
            .context(step("bringing vde0 up"))?;
        if let Some((addr, prefix)) = ipv4 {
            stack
                .ipaddr_add(IpAddr::V4(addr), prefix, vde0)
                .context(step(&format!("adding {addr}/{prefix} to vde0")))?;
        }
        stack
            .ipaddr_add(IpAddr::V6(ipv6), 64, vde0)
            .context(step(&format!("adding {ipv6}/64 to vde0")))?;
        Ok(Node {
            name: name.to_owned(),
            stack,
            mac,
            ipv4: ipv4.map(|(a, _)| a),
            ipv6,
        })
    }

    /// The MAC as `aa:bb:cc:dd:ee:ff`.
    pub fn mac_string(&self) -> String {
        let m = self.mac;
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }

    /// One line saying who this node is.
    pub fn describe(&self) -> String {
        match self.ipv4 {
            Some(v4) => format!(
                "{}: {} and {} (MAC {})",
                self.name,
                v4,
                self.ipv6,
                self.mac_string()
            ),
            None => format!("{}: {} (MAC {})", self.name, self.ipv6, self.mac_string()),
        }
    }
}

/// An IPv4 address for an interface with its prefix length, written `10.0.0.1/24` (`/24` if
/// omitted). The unspecified address, multicast addresses and the broadcast address are no
/// interface's address and are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0..=32.
    pub prefix: u8,
}

impl std::str::FromStr for Ipv4Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Ipv4Cidr, String> {
        let (a, p) = s.split_once('/').unwrap_or((s, "24"));
        let addr = a
            .parse::<Ipv4Addr>()
            .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
        let prefix = p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{p:?} is not a prefix length 0..=32"))?;
        let not_for_an_interface = if addr.is_unspecified() {
            Some("the unspecified address")
        } else if addr.is_multicast() {
            Some("a multicast address")
        } else if addr.is_broadcast() {
            Some("the broadcast address")
        } else {
            None
        };
        if let Some(what) = not_for_an_interface {
            return Err(format!("{addr} is {what}, not an interface's address"));
        }
        Ok(Ipv4Cidr { addr, prefix })
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Where a client connects or a sender sends: `ADDRESS:PORT` (IPv6 as `[ADDRESS]:PORT`), with
/// a port 1..=65535 and an address that is not unspecified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination(pub SocketAddr);

impl std::str::FromStr for Destination {
    type Err = String;
    fn from_str(s: &str) -> Result<Destination, String> {
        let addr = s
            .parse::<SocketAddr>()
            .map_err(|_| format!("{s:?} is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)"))?;
        if addr.port() == 0 {
            return Err(format!(
                "port 0 of {s:?} is no port to reach: give 1..=65535"
            ));
        }
        if addr.ip().is_unspecified() {
            return Err(format!("{} is the unspecified address", addr.ip()));
        }
        Ok(Destination(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parses_and_rejects() {
        let c: Ipv4Cidr = "10.0.0.1/16".parse().unwrap();
        assert_eq!((c.addr, c.prefix), (Ipv4Addr::new(10, 0, 0, 1), 16));
        assert_eq!("10.0.0.2".parse::<Ipv4Cidr>().unwrap().prefix, 24);
        assert!(
            "10.0.0/24"
                .parse::<Ipv4Cidr>()
                .unwrap_err()
                .contains("10.0.0")
        );
        assert!(
            "10.0.0.1/33"
                .parse::<Ipv4Cidr>()
                .unwrap_err()
                .contains("33")
        );
    }

    #[test]
    fn addresses_no_interface_or_peer_can_have_are_refused() {
        for (bad, says) in [
            ("224.0.0.1/24", "multicast"),
            ("0.0.0.0/8", "unspecified"),
            ("255.255.255.255/32", "broadcast"),
        ] {
            let e = bad.parse::<Ipv4Cidr>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let d: Destination = "[fc00::2]:7".parse().unwrap();
        assert_eq!(d.0.port(), 7);
        assert!(
            "10.0.0.2:0"
                .parse::<Destination>()
                .unwrap_err()
                .contains("port 0")
        );
        assert!(
            "0.0.0.0:5000"
                .parse::<Destination>()
                .unwrap_err()
                .contains("unspecified")
        );
        assert!(
            "10.0.0.2"
                .parse::<Destination>()
                .unwrap_err()
                .contains("ADDRESS:PORT")
        );
        assert!("10.0.0.2:70000".parse::<Destination>().is_err());
    }

    #[test]
    fn node_gets_its_hash_addresses() {
        let vnl = format!("hub://@node-test-{}", std::process::id());
        let n = Node::new(&vnl, "test.v2.cs.unibo.it", None).unwrap();
        // hashmac of this name is the reference vector of iothaddr.
        assert_eq!(n.mac_string(), "6a:d6:2f:5a:5a:2e");
        assert_eq!(n.ipv6, hashaddr(IPV6_BASE, "test.v2.cs.unibo.it", None, 0));
        let addrs = n.stack.getifaddrs().unwrap();
        assert!(
            addrs
                .iter()
                .any(|a| format!("{a:?}").contains(&format!("{:?}", n.ipv6))),
            "{addrs:?}"
        );
    }
}
