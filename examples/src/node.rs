//! A node of the Internet of Threads: a smoltcp stack on one VNL whose MAC and IPv6 address
//! are derived from the node's name (IoTh hash addressing), with an optional IPv4 address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
