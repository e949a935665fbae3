//! Names, prefixes and the DOMAIN argument of `auth` lines.
//!
//! Names are compared in one normal form, [`name_key`]: lower case, labels joined by `.`, no
//! trailing dot (the root is `""`). The original compares bytes as received, so DNS 0x20
//! case randomization broke it; here `RENZO.hash.local` and `renzo.hash.local` are one name.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

/// `name` in normal form: ASCII lower case, one trailing dot removed.
pub fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The normal form of a parsed DNS name (labels that are not UTF-8 are taken lossily).
pub fn name_key(name: &Name) -> String {
    let labels: Vec<String> = name
        .iter()
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect();
    labels.join(".")
}

/// An IPv4 address as the IPv4-mapped IPv6 address nets are written in.
pub fn mapped(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// An address prefix; IPv4 prefixes are kept IPv4-mapped (length + 96), so `::/0` holds
/// every client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    /// The prefix's address (bits past `len` may be set; they are ignored).
    pub addr: Ipv6Addr,
    /// Its length, 0..=128.
    pub len: u8,
}

impl Prefix {
    /// Parses `ADDR/LEN` (LEN required; IPv4 becomes IPv4-mapped).
    pub fn parse(s: &str) -> Result<Prefix, String> {
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: a prefix needs /LEN"))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?}: {addr:?} is not an IP address"))?;
        let len: u8 = len
            .parse()
            .map_err(|_| format!("{s:?}: {len:?} is not a prefix length"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(format!("{s:?}: prefix length {len} is over {max}"));
        }
        let len = if addr.is_ipv4() { len + 96 } else { len };
        Ok(Prefix {
            addr: mapped(addr),
            len,
        })
    }

    /// Whether `a` is inside the prefix.
    pub fn contains(&self, a: &Ipv6Addr) -> bool {
        if self.len == 0 {
            return true;
        }
        let mask = u128::MAX << (128 - u32::from(self.len));
        (u128::from(*a) & mask) == (u128::from(self.addr) & mask)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// The names an `auth` line applies to, once resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Domain {
    /// `.`: every name.
    Any,
    /// `name`: that name only.
    Exact(String),
    /// `.suffix`: names strictly under `suffix` (not `suffix` itself).
    Under(String),
}

impl Domain {
    /// Whether the name in normal form `key` is one of the domain's.
    pub fn matches(&self, key: &str) -> bool {
        match self {
            Domain::Any => true,
            Domain::Exact(n) => key == n,
            Domain::Under(s) => {
                key.len() > s.len() + 1
                    && key.ends_with(s.as_str())
                    && key.as_bytes()[key.len() - s.len() - 1] == b'.'
            }
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Any => f.write_str("."),
            Domain::Exact(n) => f.write_str(n),
            Domain::Under(s) => write!(f, ".{s}"),
        }
    }
}

/// The DOMAIN argument as written: some forms need a name resolved first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainSpec {
    /// A forward domain, ready.
    Ready(Domain),
    /// `ADDR/LEN` with `ADDR` a name: the reverse zone of the name's address (AAAA, then A).
    ReverseOfName {
        /// The name (normal form).
        name: String,
        /// The prefix length (of the address family the name resolves to).
        len: u8,
    },
}

impl DomainSpec {
    /// Parses DOMAIN: `.`, `.suffix`, `name`, `ADDR` (its reverse name), `ADDR/LEN` (the
    /// reverse zone: whole bytes for IPv4, nibbles for IPv6) or `NAME/LEN`.
    pub fn parse(s: &str) -> Result<DomainSpec, String> {
        if s.is_empty() {
            return Err("empty domain".into());
        }
        if s == "." {
            return Ok(DomainSpec::Ready(Domain::Any));
        }
        if let Some((left, len)) = s.split_once('/') {
            let len: u8 = len
                .parse()
                .map_err(|_| format!("{s:?}: {len:?} is not a prefix length"))?;
            return match left.parse::<IpAddr>() {
                Ok(addr) => Ok(DomainSpec::Ready(reverse_domain(addr, len)?)),
                Err(_) => {
                    check_name(left)?;
                    if len > 128 {
                        return Err(format!("{s:?}: prefix length {len} is over 128"));
                    }
                    Ok(DomainSpec::ReverseOfName {
                        name: normalize(left),
                        len,
                    })
                }
            };
        }
        if let Ok(addr) = s.parse::<IpAddr>() {
            return Ok(DomainSpec::Ready(Domain::Exact(reverse_name(addr))));
        }
        if let Some(suffix) = s.strip_prefix('.') {
            check_name(suffix)?;
            return Ok(DomainSpec::Ready(Domain::Under(normalize(suffix))));
        }
        check_name(s)?;
        Ok(DomainSpec::Ready(Domain::Exact(normalize(s))))
    }
}

/// Checks that `s` can be a DNS name (hickory's rules: labels ≤ 63, name ≤ 255).
pub fn check_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.contains("..") || s.starts_with('.') {
        return Err(format!("{s:?} is not a domain name"));
    }
    parse_name(s)
        .map(|_| ())
        .map_err(|e| format!("{s:?} is not a domain name: {e}"))
}

/// A DNS name from text: ASCII as written (underscores and all, as service names use),
/// else as UTF-8 (IDNA).
pub fn parse_name(s: &str) -> Result<Name, String> {
    Name::from_ascii(s)
        .or_else(|_| Name::from_utf8(s))
        .map_err(|e| e.to_string())
}

/// The PTR name of `addr` in normal form (`4.3.2.1.in-addr.arpa`, 32 nibbles `.ip6.arpa`).
pub fn reverse_name(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4_reverse(v4, 4),
        IpAddr::V6(v6) => v6_reverse(v6, 32),
    }
}

/// The reverse zone of `addr/len`: names strictly under the reverse name of the prefix's
/// whole bytes (IPv4) or nibbles (IPv6); a full-length prefix is the one reverse name.
pub fn reverse_domain(addr: IpAddr, len: u8) -> Result<Domain, String> {
    match addr {
        IpAddr::V4(v4) => {
            if len > 32 {
                return Err(format!("{addr}/{len}: prefix length over 32"));
            }
            if len == 32 {
                return Ok(Domain::Exact(v4_reverse(v4, 4)));
            }
            Ok(Domain::Under(v4_reverse(v4, usize::from(len / 8))))
        }
        IpAddr::V6(v6) => {
            if len > 128 {
                return Err(format!("{addr}/{len}: prefix length over 128"));
            }
            if len == 128 {
                return Ok(Domain::Exact(v6_reverse(v6, 32)));
            }
            Ok(Domain::Under(v6_reverse(v6, usize::from(len / 4))))
        }
    }
}

fn v4_reverse(v4: Ipv4Addr, bytes: usize) -> String {
    let mut parts: Vec<String> = v4.octets()[..bytes]
        .iter()
        .rev()
        .map(u8::to_string)
        .collect();
    parts.push("in-addr".into());
    parts.push("arpa".into());
    parts.join(".")
}

fn v6_reverse(v6: Ipv6Addr, nibbles: usize) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(nibbles + 2);
    let octets = v6.octets();
    for i in (0..nibbles).rev() {
        let byte = octets[i / 2];
        let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0xf };
        parts.push(format!("{nibble:x}"));
    }
    parts.push("ip6".into());
    parts.push("arpa".into());
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn domains_match_as_the_original_says_but_case_insensitively() {
        let under = DomainSpec::parse(".Hash.Local.").expect("parse");
        let DomainSpec::Ready(under) = under else {
            panic!("ready")
        };
        assert!(under.matches("renzo.hash.local"));
        assert!(under.matches("a.b.hash.local"));
        assert!(!under.matches("hash.local"));
        assert!(!under.matches("xhash.local"));
        let exact = Domain::Exact(normalize("Test.Local."));
        assert!(exact.matches("test.local"));
        assert!(!exact.matches("a.test.local"));
        assert!(Domain::Any.matches(""));
    }

    #[test]
    fn reverse_forms() {
        let p = |s: &str| match DomainSpec::parse(s).expect(s) {
            DomainSpec::Ready(d) => d,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            p("192.168.1.0/24"),
            Domain::Under("1.168.192.in-addr.arpa".into())
        );
        assert_eq!(
            p("10.20.30.40"),
            Domain::Exact("40.30.20.10.in-addr.arpa".into())
        );
        assert_eq!(p("10.0.0.0/12"), Domain::Under("10.in-addr.arpa".into()));
        assert_eq!(
            p("fc00::/64"),
            Domain::Under("0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.f.ip6.arpa".into())
        );
        assert_eq!(
            reverse_name("fc00::9c8f:74b4:705f:6512".parse().expect("v6")),
            "2.1.5.6.f.5.0.7.4.b.4.7.f.8.c.9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.f.ip6.arpa"
        );
        assert_eq!(
            DomainSpec::parse("hash.local/64").expect("name/len"),
            DomainSpec::ReverseOfName {
                name: "hash.local".into(),
                len: 64
            }
        );
        assert!(DomainSpec::parse("10.0.0.0/33").is_err());
        assert!(DomainSpec::parse("a..b").is_err());
        assert!(DomainSpec::parse("").is_err());
    }

    #[test]
    fn prefixes_map_ipv4_and_contain() {
        let p = Prefix::parse("192.168.1.0/24").expect("v4");
        assert_eq!(p.len, 120);
        assert!(p.contains(&mapped("192.168.1.77".parse().expect("ip"))));
        assert!(!p.contains(&mapped("192.168.2.1".parse().expect("ip"))));
        let all = Prefix::parse("::/0").expect("all");
        assert!(all.contains(&mapped("10.0.0.1".parse().expect("ip"))));
        assert!(Prefix::parse("fc00::").is_err());
        assert!(Prefix::parse("fc00::/129").is_err());
        assert!(Prefix::parse("1.2.3.4/33").is_err());
    }

    proptest! {
        #[test]
        fn a_prefix_contains_its_own_address(a in any::<u128>(), len in 0u8..=128) {
            let p = Prefix { addr: Ipv6Addr::from(a), len };
            prop_assert!(p.contains(&Ipv6Addr::from(a)));
        }

        #[test]
        fn reverse_names_of_prefix_members_fall_in_the_reverse_zone(a in any::<u128>(), len in 0u8..128) {
            let addr = IpAddr::V6(Ipv6Addr::from(a));
            let zone = reverse_domain(addr, len / 4 * 4).expect("zone");
            let name = reverse_name(addr);
            prop_assert!(zone.matches(&name), "{} not in {}", name, zone);
        }
    }
}
