//! Router discovery messages (RFC 4861 §4.1, §4.2, §4.6; RFC 8106): the ICMPv6 router
//! advertisement is parsed with every option a host uses and emitted as a router sends it;
//! the router solicitation is built (for hosts) and parsed (for routers). All are the ICMPv6
//! message (from its type byte on), without the IPv6 header.
//!
//! Parsing checks what RFC 4861 §6.1.2 and §6.1.1 ask of the message itself (type, code 0,
//! at least 16 bytes for an advertisement and 8 for a solicitation, every option of non-zero
//! length and inside the message) and the length of each option this module reads; a fault
//! gives a [`ParseError`] naming the message and the part. Unknown options are skipped. The
//! checks on the IPv6 header (hop limit 255, link-local source) belong to the caller, who has
//! the header: see [`super::RouterDiscovery::receive`].

use std::fmt;
use std::io;
use std::net::Ipv6Addr;

/// ICMPv6 type of a router solicitation.
pub const ROUTER_SOLICITATION: u8 = 133;
/// ICMPv6 type of a router advertisement.
pub const ROUTER_ADVERTISEMENT: u8 = 134;
/// The all-routers link-local multicast group, where solicitations go.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// A lifetime of all ones: infinity (RFC 4861 §4.6.2, RFC 8106 §5.1).
pub const INFINITE: u32 = u32::MAX;

mod opt {
    pub const SOURCE_LLADDR: u8 = 1;
    pub const PREFIX_INFO: u8 = 3;
    pub const MTU: u8 = 5;
    pub const RDNSS: u8 = 25;
    pub const DNSSL: u8 = 31;
}

const FLAG_MANAGED: u8 = 0x80;
const FLAG_OTHER: u8 = 0x40;
const FLAG_HOME_AGENT: u8 = 0x20;
const FLAG_PREFERENCE: u8 = 0x18;
const FLAG_PROXY: u8 = 0x04;
const PREFIX_ON_LINK: u8 = 0x80;
const PREFIX_AUTONOMOUS: u8 = 0x40;
const PREFIX_ROUTER_ADDRESS: u8 = 0x20;
const HEADER_LEN: usize = 16;
const RS_HEADER_LEN: usize = 8;
const RA: &str = "router advertisement";
const RS: &str = "router solicitation";

/// Why a message was rejected: the message, the part at fault and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The kind of message: `"router advertisement"` or `"router solicitation"`.
    pub message: &'static str,
    /// The part of the message at fault, e.g. `"prefix information option"`.
    pub part: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.message, self.part, self.problem)
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for io::Error {
    fn from(e: ParseError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

fn fault(part: &'static str, problem: impl Into<String>) -> ParseError {
    ParseError {
        message: RA,
        part,
        problem: problem.into(),
    }
}

fn rs_fault(part: &'static str, problem: impl Into<String>) -> ParseError {
    ParseError {
        message: RS,
        part,
        problem: problem.into(),
    }
}

/// A router's default router preference (RFC 4191 §2.2), two bits of the advertisement's
/// flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RouterPreference {
    /// `00`, also what the reserved value `10` is read as (RFC 4191 §2.2).
    #[default]
    Medium,
    /// `01`.
    High,
    /// `11`.
    Low,
}

impl RouterPreference {
    /// The two bits in place in the flags byte (`0x18` mask).
    pub fn bits(self) -> u8 {
        match self {
            RouterPreference::Medium => 0x00,
            RouterPreference::High => 0x08,
            RouterPreference::Low => 0x18,
        }
    }

    /// The preference the flags byte `flags` carries (reserved `10` reads as medium).
    pub fn from_flags(flags: u8) -> RouterPreference {
        match flags & FLAG_PREFERENCE {
            0x08 => RouterPreference::High,
            0x18 => RouterPreference::Low,
            _ => RouterPreference::Medium,
        }
    }
}

/// A prefix information option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixInfo {
    /// The prefix (bits past `prefix_len` as sent).
    pub prefix: Ipv6Addr,
    /// Its length in bits (0..=128).
    pub prefix_len: u8,
    /// L flag: the prefix is on this link.
    pub on_link: bool,
    /// A flag: hosts may form addresses in it (SLAAC).
    pub autonomous: bool,
    /// R flag: the prefix field holds the router's own full address (RFC 6275 §7.2).
    pub router_address: bool,
    /// Valid lifetime in seconds ([`INFINITE`] = forever).
    pub valid_lifetime: u32,
    /// Preferred lifetime in seconds ([`INFINITE`] = forever).
    pub preferred_lifetime: u32,
}

/// A router advertisement with the options a host uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouterAdvert {
    /// Hop limit the router suggests (0 = unspecified).
    pub cur_hop_limit: u8,
    /// M flag: addresses are available through DHCPv6.
    pub managed: bool,
    /// O flag: other configuration (DNS) is available through DHCPv6.
    pub other_config: bool,
    /// H flag: the router is a Mobile IPv6 home agent (RFC 6275 §7.1).
    pub home_agent: bool,
    /// Default router preference (RFC 4191 §2.2).
    pub preference: RouterPreference,
    /// P flag: the router is a neighbour discovery proxy (RFC 4389 §4.1.3.3).
    pub proxy: bool,
    /// Seconds this router may be a default router (0 = it is not one).
    pub router_lifetime: u16,
    /// Reachable time in milliseconds (0 = unspecified).
    pub reachable_time: u32,
    /// Retransmission timer in milliseconds (0 = unspecified).
    pub retrans_timer: u32,
    /// The router's link-layer (MAC) address, from the source link-layer address option.
    pub source_mac: Option<[u8; 6]>,
    /// The link MTU, from the MTU option.
    pub mtu: Option<u32>,
    /// Prefix information options, in order.
    pub prefixes: Vec<PrefixInfo>,
    /// Recursive DNS servers (RFC 8106) with their lifetime in seconds.
    pub dns_servers: Vec<(Ipv6Addr, u32)>,
    /// DNS search domains (RFC 8106) with their lifetime in seconds.
    pub search_domains: Vec<(String, u32)>,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn addr_at(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

impl RouterAdvert {
    /// Parses a router advertisement (the ICMPv6 message, type byte first). The checksum is
    /// not verified here: the stack that received the packet has checked it.
    pub fn parse(msg: &[u8]) -> Result<RouterAdvert, ParseError> {
        if msg.len() < HEADER_LEN {
            return Err(fault(
                "header",
                format!("{} bytes, at least {HEADER_LEN} needed", msg.len()),
            ));
        }
        if msg[0] != ROUTER_ADVERTISEMENT {
            return Err(fault(
                "ICMPv6 type",
                format!("{}, not a router advertisement (134)", msg[0]),
            ));
        }
        if msg[1] != 0 {
            return Err(fault("ICMPv6 code", format!("{}, must be 0", msg[1])));
        }
        let mut ra = RouterAdvert {
            cur_hop_limit: msg[4],
            managed: msg[5] & FLAG_MANAGED != 0,
            other_config: msg[5] & FLAG_OTHER != 0,
            home_agent: msg[5] & FLAG_HOME_AGENT != 0,
            preference: RouterPreference::from_flags(msg[5]),
            proxy: msg[5] & FLAG_PROXY != 0,
            router_lifetime: be16(&msg[6..]),
            reachable_time: be32(&msg[8..]),
            retrans_timer: be32(&msg[12..]),
            ..RouterAdvert::default()
        };
        let mut rest = &msg[HEADER_LEN..];
        while !rest.is_empty() {
            if rest.len() < 2 {
                return Err(fault("option", "a lone byte after the last option"));
            }
            let kind = rest[0];
            let len = usize::from(rest[1]) * 8;
            if len == 0 {
                return Err(fault("option", format!("type {kind} has length 0")));
            }
            if len > rest.len() {
                return Err(fault(
                    "option",
                    format!(
                        "type {kind} claims {len} bytes, {} remain in the message",
                        rest.len()
                    ),
                ));
            }
            let body = &rest[..len];
            match kind {
                opt::SOURCE_LLADDR => {
                    if len != 8 {
                        return Err(fault(
                            "source link-layer address option",
                            format!("{len} bytes, Ethernet needs 8"),
                        ));
                    }
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(&body[2..8]);
                    ra.source_mac = Some(mac);
                }
                opt::MTU => {
                    if len != 8 {
                        return Err(fault("MTU option", format!("{len} bytes, must be 8")));
                    }
                    ra.mtu = Some(be32(&body[4..]));
                }
                opt::PREFIX_INFO => {
                    if len != 32 {
                        return Err(fault(
                            "prefix information option",
                            format!("{len} bytes, must be 32"),
                        ));
                    }
                    let prefix_len = body[2];
                    if prefix_len > 128 {
                        return Err(fault(
                            "prefix information option",
                            format!("prefix length {prefix_len} exceeds 128"),
                        ));
                    }
                    ra.prefixes.push(PrefixInfo {
                        prefix: addr_at(&body[16..]),
                        prefix_len,
                        on_link: body[3] & PREFIX_ON_LINK != 0,
                        autonomous: body[3] & PREFIX_AUTONOMOUS != 0,
                        router_address: body[3] & PREFIX_ROUTER_ADDRESS != 0,
                        valid_lifetime: be32(&body[4..]),
                        preferred_lifetime: be32(&body[8..]),
                    });
                }
                opt::RDNSS => {
                    if len < 24 || (len - 8) % 16 != 0 {
                        return Err(fault(
                            "recursive DNS server option",
                            format!("{len} bytes, must be 8 + a multiple of 16 (at least 24)"),
                        ));
                    }
                    let lifetime = be32(&body[4..]);
                    for a in body[8..].chunks_exact(16) {
                        ra.dns_servers.push((addr_at(a), lifetime));
                    }
                }
                opt::DNSSL => {
                    if len < 16 {
                        return Err(fault(
                            "DNS search list option",
                            format!("{len} bytes, at least 16 needed"),
                        ));
                    }
                    let lifetime = be32(&body[4..]);
                    for name in parse_domain_names(&body[8..])? {
                        ra.search_domains.push((name, lifetime));
                    }
                }
                _ => {}
            }
            rest = &rest[len..];
        }
        Ok(ra)
    }

    /// The message as a router sends it, checksum field zero (the stack fills it in), every
    /// field in network byte order. Parsing the result gives `self` back, provided search
    /// domains are names of labels of at most 63 bytes (longer labels are cut) and no run of
    /// servers sharing a lifetime is split differently.
    pub fn emit(&self) -> Vec<u8> {
        let mut out = vec![ROUTER_ADVERTISEMENT, 0, 0, 0, self.cur_hop_limit];
        out.push(
            if self.managed { FLAG_MANAGED } else { 0 }
                | if self.other_config { FLAG_OTHER } else { 0 }
                | if self.home_agent { FLAG_HOME_AGENT } else { 0 }
                | self.preference.bits()
                | if self.proxy { FLAG_PROXY } else { 0 },
        );
        out.extend_from_slice(&self.router_lifetime.to_be_bytes());
        out.extend_from_slice(&self.reachable_time.to_be_bytes());
        out.extend_from_slice(&self.retrans_timer.to_be_bytes());
        if let Some(mac) = self.source_mac {
            out.extend_from_slice(&[opt::SOURCE_LLADDR, 1]);
            out.extend_from_slice(&mac);
        }
        if let Some(mtu) = self.mtu {
            out.extend_from_slice(&[opt::MTU, 1, 0, 0]);
            out.extend_from_slice(&mtu.to_be_bytes());
        }
        for p in &self.prefixes {
            out.extend_from_slice(&[opt::PREFIX_INFO, 4, p.prefix_len]);
            out.push(
                if p.on_link { PREFIX_ON_LINK } else { 0 }
                    | if p.autonomous { PREFIX_AUTONOMOUS } else { 0 }
                    | if p.router_address {
                        PREFIX_ROUTER_ADDRESS
                    } else {
                        0
                    },
            );
            out.extend_from_slice(&p.valid_lifetime.to_be_bytes());
            out.extend_from_slice(&p.preferred_lifetime.to_be_bytes());
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&p.prefix.octets());
        }
        // One RDNSS option per run of servers sharing a lifetime keeps the order.
        for run in self.dns_servers.chunk_by(|a, b| a.1 == b.1) {
            // A run longer than the 8-bit length allows is split.
            for part in run.chunks(127) {
                out.extend_from_slice(&[opt::RDNSS, (1 + 2 * part.len()) as u8, 0, 0]);
                out.extend_from_slice(&part[0].1.to_be_bytes());
                for (a, _) in part {
                    out.extend_from_slice(&a.octets());
                }
            }
        }
        // One DNSSL option per run of names sharing a lifetime (RFC 8106 §5.2), split where
        // the 8-bit length (in units of 8 bytes) would overflow.
        for run in self.search_domains.chunk_by(|a, b| a.1 == b.1) {
            let mut names = Vec::new();
            for (name, _) in run {
                let mut one = Vec::new();
                for label in name.split('.').filter(|l| !l.is_empty()) {
                    let label = &label.as_bytes()[..label.len().min(63)];
                    one.push(label.len() as u8);
                    one.extend_from_slice(label);
                }
                if one.is_empty() {
                    // The root alone would read as padding: nothing to search.
                    continue;
                }
                one.push(0);
                if 8 + names.len() + one.len() > 255 * 8 {
                    push_dnssl(&mut out, run[0].1, &mut names);
                }
                names.extend_from_slice(&one);
            }
            push_dnssl(&mut out, run[0].1, &mut names);
        }
        out
    }
}

/// Appends a DNSSL option holding the encoded `names` (emptied), padded to 8 bytes.
fn push_dnssl(out: &mut Vec<u8>, lifetime: u32, names: &mut Vec<u8>) {
    if names.is_empty() {
        return;
    }
    while !(8 + names.len()).is_multiple_of(8) {
        names.push(0);
    }
    out.extend_from_slice(&[opt::DNSSL, ((8 + names.len()) / 8) as u8, 0, 0]);
    out.extend_from_slice(&lifetime.to_be_bytes());
    out.append(names);
}

/// A router solicitation (RFC 4861 §4.1) as a router reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouterSolicitation {
    /// The host's link-layer (MAC) address, from the source link-layer address option.
    pub source_mac: Option<[u8; 6]>,
}

impl RouterSolicitation {
    /// Parses a router solicitation (the ICMPv6 message, type byte first) with the checks of
    /// RFC 4861 §6.1.1 that need only the message: type 133, code 0, at least 8 bytes, every
    /// option of non-zero length inside the message, a source link-layer address option of
    /// Ethernet's 8 bytes. The caller checks the IPv6 header (hop limit 255) and that a
    /// solicitation from the unspecified address carries no link-layer address.
    pub fn parse(msg: &[u8]) -> Result<RouterSolicitation, ParseError> {
        if msg.len() < RS_HEADER_LEN {
            return Err(rs_fault(
                "header",
                format!("{} bytes, at least {RS_HEADER_LEN} needed", msg.len()),
            ));
        }
        if msg[0] != ROUTER_SOLICITATION {
            return Err(rs_fault(
                "ICMPv6 type",
                format!("{}, not a router solicitation (133)", msg[0]),
            ));
        }
        if msg[1] != 0 {
            return Err(rs_fault("ICMPv6 code", format!("{}, must be 0", msg[1])));
        }
        let mut rs = RouterSolicitation::default();
        let mut rest = &msg[RS_HEADER_LEN..];
        while !rest.is_empty() {
            if rest.len() < 2 {
                return Err(rs_fault("option", "a lone byte after the last option"));
            }
            let kind = rest[0];
            let len = usize::from(rest[1]) * 8;
            if len == 0 {
                return Err(rs_fault("option", format!("type {kind} has length 0")));
            }
            if len > rest.len() {
                return Err(rs_fault(
                    "option",
                    format!(
                        "type {kind} claims {len} bytes, {} remain in the message",
                        rest.len()
                    ),
                ));
            }
            if kind == opt::SOURCE_LLADDR {
                if len != 8 {
                    return Err(rs_fault(
                        "source link-layer address option",
                        format!("{len} bytes, Ethernet needs 8"),
                    ));
                }
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&rest[2..8]);
                rs.source_mac = Some(mac);
            }
            rest = &rest[len..];
        }
        Ok(rs)
    }
}

/// Domain names in DNS wire format without compression, as the DNSSL option carries them;
/// zero padding after the last name ends the list.
fn parse_domain_names(mut b: &[u8]) -> Result<Vec<String>, ParseError> {
    const PART: &str = "DNS search list option";
    let mut names = Vec::new();
    while let Some(&first) = b.first() {
        if first == 0 {
            // Padding: the rest must be zeros.
            if b.iter().any(|&x| x != 0) {
                return Err(fault(PART, "data after the padding"));
            }
            break;
        }
        let mut labels: Vec<String> = Vec::new();
        let mut total = 0usize;
        loop {
            let Some(&len) = b.first() else {
                return Err(fault(PART, "a name runs past the option"));
            };
            b = &b[1..];
            if len == 0 {
                break;
            }
            if len > 63 {
                return Err(fault(
                    PART,
                    format!("label length {len} (compression is not allowed)"),
                ));
            }
            let len = usize::from(len);
            if len > b.len() {
                return Err(fault(PART, "a label runs past the option"));
            }
            let label = std::str::from_utf8(&b[..len])
                .ok()
                .filter(|l| {
                    l.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                })
                .ok_or_else(|| fault(PART, "a label with characters a host name cannot have"))?;
            total += len + 1;
            if total > 254 {
                return Err(fault(PART, "a name longer than 253 characters"));
            }
            labels.push(label.to_ascii_lowercase());
            b = &b[len..];
        }
        names.push(labels.join("."));
    }
    Ok(names)
}

/// The ICMPv6 checksum (RFC 4443 §2.3) of `msg` sent from `src` to `dst`: the one's
/// complement sum over the pseudo-header and the message, with the checksum field counted
/// as it is in `msg`.
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            let lo = pair.get(1).copied().map_or(0, u64::from);
            sum += hi | lo;
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(msg);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A router solicitation from `src` to [`ALL_ROUTERS`], checksum filled in. It carries the
/// source link-layer address option with `mac` unless `src` is unspecified (RFC 4861 §4.1
/// forbids it then).
pub fn router_solicitation(src: Ipv6Addr, mac: [u8; 6]) -> Vec<u8> {
    let mut msg = vec![ROUTER_SOLICITATION, 0, 0, 0, 0, 0, 0, 0];
    if !src.is_unspecified() {
        msg.extend_from_slice(&[opt::SOURCE_LLADDR, 1]);
        msg.extend_from_slice(&mac);
    }
    let sum = icmpv6_checksum(src, ALL_ROUTERS, &msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RouterAdvert {
        RouterAdvert {
            cur_hop_limit: 64,
            managed: false,
            other_config: true,
            router_lifetime: 1800,
            source_mac: Some([2, 0, 0, 0, 0, 1]),
            mtu: Some(1500),
            prefixes: vec![PrefixInfo {
                prefix: "fd00:1::".parse().expect("literal"),
                prefix_len: 64,
                on_link: true,
                autonomous: true,
                router_address: false,
                valid_lifetime: 86400,
                preferred_lifetime: 14400,
            }],
            dns_servers: vec![("fd00:1::53".parse().expect("literal"), 600)],
            search_domains: vec![("example.org".into(), 600)],
            ..RouterAdvert::default()
        }
    }

    #[test]
    fn emit_then_parse_gives_the_same_advert() {
        let ra = sample();
        assert_eq!(RouterAdvert::parse(&ra.emit()), Ok(ra));
    }

    #[test]
    fn solicitation_checksum_verifies_to_zero() {
        let src: Ipv6Addr = "fe80::1".parse().expect("literal");
        let rs = router_solicitation(src, [2, 0, 0, 0, 0, 9]);
        assert_eq!(rs.len(), 16);
        assert_eq!(&rs[8..], &[1, 1, 2, 0, 0, 0, 0, 9]);
        // Summing a message that carries its own checksum gives all ones, i.e. 0 here.
        assert_eq!(icmpv6_checksum(src, ALL_ROUTERS, &rs), 0);
        let unspecified = router_solicitation(Ipv6Addr::UNSPECIFIED, [2, 0, 0, 0, 0, 9]);
        assert_eq!(unspecified.len(), 8, "no link-layer option from ::");
    }

    #[test]
    fn faults_name_their_part() {
        let good = sample().emit();
        let e = RouterAdvert::parse(&good[..10]).expect_err("short");
        assert_eq!(e.part, "header");
        let mut bad = good.clone();
        bad[0] = 133;
        assert_eq!(
            RouterAdvert::parse(&bad).expect_err("type").part,
            "ICMPv6 type"
        );
        let mut bad = good.clone();
        bad[1] = 1;
        assert_eq!(
            RouterAdvert::parse(&bad).expect_err("code").part,
            "ICMPv6 code"
        );
        let mut bad = good.clone();
        bad[17] = 0; // the first option's length
        assert!(
            RouterAdvert::parse(&bad)
                .expect_err("zero length")
                .problem
                .contains("length 0")
        );
        let mut bad = good.clone();
        bad.truncate(good.len() - 4);
        assert_eq!(
            RouterAdvert::parse(&bad).expect_err("truncated").part,
            "option"
        );
        // A prefix option of the wrong size.
        let mut ra = RouterAdvert::default().emit();
        ra.extend_from_slice(&[3, 1, 64, 0xc0, 0, 0, 0, 0]);
        assert_eq!(
            RouterAdvert::parse(&ra).expect_err("prefix").part,
            "prefix information option"
        );
        // A compressed name in the search list.
        let mut ra = RouterAdvert::default().emit();
        ra.extend_from_slice(&[31, 2, 0, 0, 0, 0, 0, 60, 0xc0, 12, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            RouterAdvert::parse(&ra).expect_err("dnssl").part,
            "DNS search list option"
        );
    }

    #[test]
    fn header_fields_go_out_in_network_byte_order_with_every_flag() {
        let ra = RouterAdvert {
            cur_hop_limit: 64,
            managed: true,
            other_config: true,
            home_agent: true,
            preference: RouterPreference::Low,
            proxy: true,
            router_lifetime: 0x0708,
            reachable_time: 30_000,
            retrans_timer: 1_000,
            ..RouterAdvert::default()
        };
        let b = ra.emit();
        assert_eq!(b[4], 64);
        assert_eq!(b[5], 0x80 | 0x40 | 0x20 | 0x18 | 0x04);
        assert_eq!(&b[6..8], &[0x07, 0x08]);
        // 30000 ms is 0x00007530: the original sent it as 0x30750000 (812974080).
        assert_eq!(&b[8..12], &[0x00, 0x00, 0x75, 0x30]);
        assert_eq!(&b[12..16], &[0x00, 0x00, 0x03, 0xe8]);
        assert_eq!(RouterAdvert::parse(&b), Ok(ra));
        // The reserved preference 10 reads as medium (RFC 4191 §2.2).
        let mut reserved = b.clone();
        reserved[5] = 0x10;
        assert_eq!(
            RouterAdvert::parse(&reserved).map(|r| r.preference),
            Ok(RouterPreference::Medium)
        );
    }

    #[test]
    fn prefix_flags_and_search_domains_share_options() {
        let ra = RouterAdvert {
            prefixes: vec![PrefixInfo {
                prefix: "fd00:1::1".parse().expect("literal"),
                prefix_len: 64,
                on_link: false,
                autonomous: true,
                router_address: true,
                valid_lifetime: 7,
                preferred_lifetime: 5,
            }],
            search_domains: vec![
                ("a.example".into(), 600),
                ("b.example".into(), 600),
                ("c.example".into(), 60),
            ],
            ..RouterAdvert::default()
        };
        let b = ra.emit();
        assert_eq!(b[16 + 3], 0x40 | 0x20, "A and R, not L");
        // Two names of one lifetime in one DNSSL option, the third in another.
        let dnssl: Vec<usize> = (0..b.len())
            .filter(|&i| i >= 48 && (i - 48) % 8 == 0 && b[i] == 31)
            .collect();
        assert_eq!(dnssl.len(), 2, "{b:?}");
        assert_eq!(RouterAdvert::parse(&b), Ok(ra));
    }

    #[test]
    fn solicitations_parse_with_their_link_layer_address() {
        let src: Ipv6Addr = "fe80::1".parse().expect("literal");
        let rs = router_solicitation(src, [2, 0, 0, 0, 0, 9]);
        assert_eq!(
            RouterSolicitation::parse(&rs),
            Ok(RouterSolicitation {
                source_mac: Some([2, 0, 0, 0, 0, 9])
            })
        );
        let bare = router_solicitation(Ipv6Addr::UNSPECIFIED, [0; 6]);
        assert_eq!(
            RouterSolicitation::parse(&bare),
            Ok(RouterSolicitation::default())
        );
        let e = RouterSolicitation::parse(&rs[..6]).expect_err("short");
        assert_eq!((e.message, e.part), ("router solicitation", "header"));
        assert!(
            e.to_string()
                .starts_with("router solicitation: header: 6 bytes")
        );
        let mut bad = rs.clone();
        bad[1] = 1;
        assert_eq!(
            RouterSolicitation::parse(&bad).expect_err("code").part,
            "ICMPv6 code"
        );
        let mut bad = rs.clone();
        bad[9] = 0;
        assert!(
            RouterSolicitation::parse(&bad)
                .expect_err("zero length")
                .problem
                .contains("length 0")
        );
        let mut bad = rs.clone();
        bad[9] = 2;
        assert_eq!(
            RouterSolicitation::parse(&bad)
                .expect_err("past the end")
                .part,
            "option"
        );
        assert_eq!(
            RouterSolicitation::parse(&sample().emit())
                .expect_err("an advert")
                .part,
            "ICMPv6 type"
        );
    }

    #[test]
    fn unknown_options_are_skipped() {
        let mut ra = sample().emit();
        ra.extend_from_slice(&[200, 1, 9, 9, 9, 9, 9, 9]);
        assert_eq!(RouterAdvert::parse(&ra), Ok(sample()));
    }
}
