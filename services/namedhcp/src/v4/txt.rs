//! The DHCPv4 options a name's TXT record gives (the original's format):
//! `mask=255.255.255.0,router=192.168.1.254,broadcast=192.168.1.255,dns=192.168.1.24,
//! domname=test.local,ntp=192.168.1.1`. Items are separated by commas or blanks; a tag may
//! repeat (lists accumulate: `dns=a,dns=b`); values of address tags are IPv4 addresses or
//! names (resolved with A records by the caller). Unknown tags and text without `=` are
//! skipped (a name may have other TXT records), with what was skipped reported.

use std::net::Ipv4Addr;

/// Options for one client, with every address resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxtOptions {
    /// Subnet mask (option 1).
    pub mask: Option<Ipv4Addr>,
    /// Routers (option 3).
    pub router: Vec<Ipv4Addr>,
    /// Broadcast address (option 28).
    pub broadcast: Option<Ipv4Addr>,
    /// DNS servers (option 6).
    pub dns: Vec<Ipv4Addr>,
    /// Domain name (option 15).
    pub domain: Option<String>,
    /// NTP servers (option 42).
    pub ntp: Vec<Ipv4Addr>,
}

/// A tag that takes addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrTag {
    /// `mask=`
    Mask,
    /// `router=`
    Router,
    /// `broadcast=`
    Broadcast,
    /// `dns=`
    Dns,
    /// `ntp=`
    Ntp,
}

/// One item of a TXT record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// An address tag with an address.
    Addr(AddrTag, Ipv4Addr),
    /// An address tag with a name to resolve.
    Name(AddrTag, String),
    /// `domname=`
    Domain(String),
}

/// The items of TXT text, and what was skipped (unknown tags, bad values).
pub fn parse(text: &str) -> (Vec<Item>, Vec<String>) {
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for raw in text.split([',', ' ', '\t']).filter(|i| !i.is_empty()) {
        let Some((tag, value)) = raw.split_once('=') else {
            skipped.push(raw.to_string());
            continue;
        };
        let tag_l = tag.to_ascii_lowercase();
        let addr_tag = match tag_l.as_str() {
            "mask" => Some(AddrTag::Mask),
            "router" => Some(AddrTag::Router),
            "broadcast" => Some(AddrTag::Broadcast),
            "dns" => Some(AddrTag::Dns),
            "ntp" => Some(AddrTag::Ntp),
            _ => None,
        };
        let good_name = |v: &str| {
            !v.is_empty()
                && v.len() <= 253
                && v.trim_end_matches('.').split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        };
        match (addr_tag, tag_l.as_str()) {
            (Some(t), _) => match value.parse::<Ipv4Addr>() {
                Ok(a) => items.push(Item::Addr(t, a)),
                Err(_) if t != AddrTag::Mask && good_name(value) => {
                    items.push(Item::Name(t, value.to_string()))
                }
                Err(_) => skipped.push(raw.to_string()),
            },
            (None, "domname") if good_name(value) => {
                items.push(Item::Domain(value.trim_end_matches('.').to_string()))
            }
            _ => skipped.push(raw.to_string()),
        }
    }
    (items, skipped)
}

impl TxtOptions {
    /// Adds an address for `tag` (lists accumulate, single values keep the first).
    pub fn add(&mut self, tag: AddrTag, a: Ipv4Addr) {
        match tag {
            AddrTag::Mask => {
                self.mask.get_or_insert(a);
            }
            AddrTag::Broadcast => {
                self.broadcast.get_or_insert(a);
            }
            AddrTag::Router => self.router.push(a),
            AddrTag::Dns => self.dns.push(a),
            AddrTag::Ntp => self.ntp.push(a),
        }
    }

    /// The options of `items`, names resolved by `resolve` (a name it cannot resolve is
    /// left out).
    pub fn from_items(items: &[Item], resolve: &mut dyn FnMut(&str) -> Option<Ipv4Addr>) -> Self {
        let mut o = TxtOptions::default();
        for i in items {
            match i {
                Item::Addr(t, a) => o.add(*t, *a),
                Item::Name(t, n) => {
                    if let Some(a) = resolve(n) {
                        o.add(*t, a)
                    }
                }
                Item::Domain(d) => {
                    o.domain.get_or_insert_with(|| d.clone());
                }
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_originals_example_parses() {
        let (items, skipped) = parse(
            "mask=255.255.255.0,broadcast=192.168.1.255,router=192.168.1.254,dns=192.168.1.24",
        );
        assert!(skipped.is_empty());
        let o = TxtOptions::from_items(&items, &mut |_| None);
        assert_eq!(o.mask, Some(Ipv4Addr::new(255, 255, 255, 0)));
        assert_eq!(o.broadcast, Some(Ipv4Addr::new(192, 168, 1, 255)));
        assert_eq!(o.router, [Ipv4Addr::new(192, 168, 1, 254)]);
        assert_eq!(o.dns, [Ipv4Addr::new(192, 168, 1, 24)]);
    }

    #[test]
    fn names_lists_domains_and_junk() {
        let (items, skipped) =
            parse("dns=ns1.test dns=10.0.0.2, NTP=10.0.0.3 domname=test.local. v=spf1 mask=bad");
        assert_eq!(skipped, ["v=spf1", "mask=bad"]);
        let o = TxtOptions::from_items(&items, &mut |n| {
            (n == "ns1.test").then_some(Ipv4Addr::new(10, 0, 0, 1))
        });
        assert_eq!(
            o.dns,
            [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
        );
        assert_eq!(o.ntp, [Ipv4Addr::new(10, 0, 0, 3)]);
        assert_eq!(o.domain.as_deref(), Some("test.local"));
    }

    proptest! {
        #[test]
        fn any_text_parses_without_panic(text in "\\PC{0,200}") {
            let (items, skipped) = parse(&text);
            prop_assert!(items.len() + skipped.len() <= text.len());
        }
    }
}
