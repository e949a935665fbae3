//! What an advertisement says (RFC 4861 §4.2 with RFC 8106's DNS options), and the message
//! built from it with nlconf's router advertisement emitter.
//!
//! Defaults, where the original sent zeros (hosts then took no default route and no hop
//! limit) or nothing:
//! - current hop limit 64 (RFC 4861 §6.2.1: the Assigned Numbers value), 0 meaning
//!   unspecified;
//! - router lifetime 3 × the period (RFC 4861 §6.2.1), or 9000 s with period 0, when nothing
//!   refreshes it;
//! - RDNSS and DNSSL lifetime 3 × the period (RFC 8106 §5.1), or infinity with period 0;
//! - reachable time and retransmission timer 0 (unspecified), no MTU option.

use std::fmt;
use std::net::Ipv6Addr;

use nlconf::ndisc::{RouterAdvert, RouterPreference};

use crate::prefix::{INFINITY, PrefixSpec};

/// The current hop limit advertised by default.
pub const DEFAULT_HOP_LIMIT: u8 = 64;
/// The longest advertisement sent: it must fit the IPv6 minimum MTU (1280 bytes) with its
/// IPv6 header, so that every link carries it unfragmented.
pub const MAX_MESSAGE: usize = 1280 - 40;
/// The longest reachable time a router may advertise (RFC 4861 §6.2.1, §10), ms.
pub const MAX_REACHABLE_TIME: u32 = 3_600_000;

/// The flags of the advertisement's header (`-F`: `M O H h l P`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RaFlags {
    /// `M`: addresses are available through DHCPv6.
    pub managed: bool,
    /// `O`: other configuration is available through DHCPv6.
    pub other: bool,
    /// `H`: the router is a Mobile IPv6 home agent.
    pub home_agent: bool,
    /// `h` high, `l` low (RFC 4191); medium otherwise.
    pub preference: RouterPreference,
    /// `P`: the router is a neighbour discovery proxy (RFC 4389).
    pub proxy: bool,
}

impl RaFlags {
    /// Parses flag letters: `M` managed, `O` other, `H` home agent, `h` high and `l` low
    /// preference (not both), `P` proxy; `-` or nothing for none.
    pub fn parse(s: &str) -> Result<RaFlags, String> {
        let mut f = RaFlags::default();
        if s == "-" {
            return Ok(f);
        }
        let mut preference = None;
        for c in s.chars() {
            match c {
                'M' => f.managed = true,
                'O' => f.other = true,
                'H' => f.home_agent = true,
                'P' => f.proxy = true,
                'h' | 'l' => {
                    let p = if c == 'h' {
                        RouterPreference::High
                    } else {
                        RouterPreference::Low
                    };
                    if preference.is_some_and(|q| q != p) {
                        return Err("h (high) and l (low) preference exclude each other".into());
                    }
                    preference = Some(p);
                }
                other => {
                    return Err(format!(
                        "unknown flag {other:?} (M managed, O other, H home agent, h high or l \
                         low preference, P proxy)"
                    ));
                }
            }
        }
        f.preference = preference.unwrap_or_default();
        Ok(f)
    }
}

impl fmt::Display for RaFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        for (on, c) in [
            (self.managed, 'M'),
            (self.other, 'O'),
            (self.home_agent, 'H'),
            (self.preference == RouterPreference::High, 'h'),
            (self.preference == RouterPreference::Low, 'l'),
            (self.proxy, 'P'),
        ] {
            if on {
                s.push(c);
            }
        }
        if s.is_empty() {
            s.push('-');
        }
        f.write_str(&s)
    }
}

/// The contents of the advertisements of one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// Current hop limit (0: unspecified).
    pub cur_hop_limit: u8,
    /// Header flags.
    pub flags: RaFlags,
    /// Router lifetime, seconds (0: not a default router).
    pub router_lifetime: u16,
    /// Reachable time, ms (0: unspecified).
    pub reachable_ms: u32,
    /// Retransmission timer, ms (0: unspecified).
    pub retrans_ms: u32,
    /// The link MTU to advertise, if any.
    pub mtu: Option<u32>,
    /// Prefix information, in order.
    pub prefixes: Vec<PrefixSpec>,
    /// Recursive DNS servers (RFC 8106 §5.1).
    pub rdnss: Vec<Ipv6Addr>,
    /// DNS search list (RFC 8106 §5.2).
    pub dnssl: Vec<String>,
    /// Lifetime of the RDNSS and DNSSL options, seconds.
    pub dns_lifetime: u32,
}

/// The default router lifetime for a period (seconds, 0 = solicitations only).
pub fn default_router_lifetime(period: u32) -> u16 {
    if period == 0 {
        9000
    } else {
        u16::try_from(period.saturating_mul(3)).unwrap_or(u16::MAX)
    }
}

/// The default RDNSS/DNSSL lifetime for a period (seconds, 0 = solicitations only).
pub fn default_dns_lifetime(period: u32) -> u32 {
    if period == 0 {
        INFINITY
    } else {
        period.saturating_mul(3)
    }
}

impl Advert {
    /// The defaults for a period of `period` seconds (see the module's documentation), with
    /// no prefixes and no DNS options.
    pub fn new(period: u32) -> Advert {
        Advert {
            cur_hop_limit: DEFAULT_HOP_LIMIT,
            flags: RaFlags::default(),
            router_lifetime: default_router_lifetime(period),
            reachable_ms: 0,
            retrans_ms: 0,
            mtu: None,
            prefixes: Vec::new(),
            rdnss: Vec::new(),
            dnssl: Vec::new(),
            dns_lifetime: default_dns_lifetime(period),
        }
    }

    /// The advertisement, with the source link-layer address option when `source_mac` is
    /// given.
    pub fn message(&self, source_mac: Option<[u8; 6]>) -> RouterAdvert {
        RouterAdvert {
            cur_hop_limit: self.cur_hop_limit,
            managed: self.flags.managed,
            other_config: self.flags.other,
            home_agent: self.flags.home_agent,
            preference: self.flags.preference,
            proxy: self.flags.proxy,
            router_lifetime: self.router_lifetime,
            reachable_time: self.reachable_ms,
            retrans_timer: self.retrans_ms,
            source_mac,
            mtu: self.mtu,
            prefixes: self.prefixes.iter().map(PrefixSpec::option).collect(),
            dns_servers: self.rdnss.iter().map(|&a| (a, self.dns_lifetime)).collect(),
            search_domains: self
                .dnssl
                .iter()
                .map(|d| (d.clone(), self.dns_lifetime))
                .collect(),
        }
    }

    /// The advertisement a router sends as it stops (RFC 4861 §6.2.5): router lifetime 0, so
    /// that hosts drop it as a default router at once; the rest unchanged.
    pub fn final_message(&self, source_mac: Option<[u8; 6]>) -> RouterAdvert {
        RouterAdvert {
            router_lifetime: 0,
            ..self.message(source_mac)
        }
    }

    /// Checks what the fields alone cannot: the message fits [`MAX_MESSAGE`] bytes.
    pub fn check(&self) -> Result<(), String> {
        let len = self.message(Some([0; 6])).emit().len();
        if len > MAX_MESSAGE {
            return Err(format!(
                "the advertisement would be {len} bytes, more than the {MAX_MESSAGE} that fit \
                 the IPv6 minimum MTU: advertise fewer prefixes, servers or domains"
            ));
        }
        Ok(())
    }
}

/// Checks a DNS search domain for the DNSSL option: labels of letters, digits, `-` and `_`,
/// 1 to 63 bytes each, 253 bytes in all; one trailing dot is dropped.
pub fn search_domain(s: &str) -> Result<String, String> {
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.is_empty() {
        return Err(format!("{s:?} is not a domain name"));
    }
    if name.len() > 253 {
        return Err(format!("{s:?} is longer than 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!(
                "{s:?} has a label of {} bytes (1 to 63)",
                label.len()
            ));
        }
        if !label
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return Err(format!(
                "{s:?}: label {label:?} has characters a host name cannot have"
            ));
        }
    }
    Ok(name.to_string())
}

/// Checks a recursive DNS server address: unicast, not loopback or unspecified.
pub fn dns_server(s: &str) -> Result<Ipv6Addr, String> {
    let a: Ipv6Addr = s
        .parse()
        .map_err(|_| format!("{s:?} is not an IPv6 address"))?;
    if a.is_multicast() || a.is_unspecified() || a.is_loopback() {
        return Err(format!("{a} is not a unicast address hosts can reach"));
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_flags_parse_and_print() {
        let f = RaFlags::parse("MOHlP").expect("flags");
        assert!(f.managed && f.other && f.home_agent && f.proxy);
        assert_eq!(f.preference, RouterPreference::Low);
        assert_eq!(f.to_string(), "MOHlP");
        assert_eq!(RaFlags::parse("").expect("none"), RaFlags::default());
        assert_eq!(RaFlags::parse("-").expect("none").to_string(), "-");
        assert_eq!(
            RaFlags::parse("hh").expect("high").preference,
            RouterPreference::High
        );
        assert!(RaFlags::parse("hl").expect_err("both").contains("exclude"));
        assert!(
            RaFlags::parse("MX")
                .expect_err("X")
                .contains("unknown flag 'X'")
        );
    }

    #[test]
    fn defaults_follow_the_period() {
        let a = Advert::new(600);
        assert_eq!(
            (a.cur_hop_limit, a.router_lifetime, a.dns_lifetime),
            (64, 1800, 1800)
        );
        let a = Advert::new(0);
        assert_eq!((a.router_lifetime, a.dns_lifetime), (9000, INFINITY));
    }

    #[test]
    fn the_final_advertisement_withdraws_the_router_only() {
        let mut a = Advert::new(600);
        a.prefixes
            .push(PrefixSpec::parse("fd00::/64").expect("prefix"));
        let last = a.final_message(None);
        assert_eq!(last.router_lifetime, 0);
        assert_eq!(last.prefixes, a.message(None).prefixes);
    }

    #[test]
    fn an_advertisement_too_big_for_the_minimum_mtu_is_refused() {
        let mut a = Advert::new(600);
        for i in 0..38 {
            a.prefixes
                .push(PrefixSpec::parse(&format!("fd00:{i:x}::/64")).expect("prefix"));
        }
        assert!(a.check().is_ok(), "38 prefixes fit");
        a.rdnss.push(dns_server("fd00::53").expect("server"));
        assert!(a.check().expect_err("too big").contains("1240"));
    }

    #[test]
    fn domains_and_servers_are_checked() {
        assert_eq!(search_domain("Example.ORG.").as_deref(), Ok("Example.ORG"));
        assert!(search_domain("a..b").is_err());
        assert!(search_domain(".").is_err());
        assert!(search_domain(&"a".repeat(64)).is_err());
        assert!(search_domain("bad name").is_err());
        assert!(search_domain(&["a"; 128].join(".")).is_err());
        assert!(dns_server("fd00::53").is_ok());
        assert!(dns_server("fe80::1").is_ok());
        assert!(dns_server("ff02::1").is_err());
        assert!(dns_server("::1").is_err());
        assert!(dns_server("10.0.0.1").is_err());
    }
}
