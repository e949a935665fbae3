//! Prefix specifications, `addr[/len[/flags[/valid[/preferred]]]]`, as the original's command
//! line and `prefix` lines write them (`fc01::/64/LA/86400/14400`).
//!
//! Every field but the address may be left out from the right. What differs from the
//! original (which never rejected a value and filled in zeros):
//! - no flags field means `LA` (on-link, autonomous: the prefix is for SLAAC); an empty
//!   field or `-` means no flag (the original's default was none, so hosts ignored it);
//! - lifetimes default to RFC 4861 §6.2.1's (valid 30 days, preferred 7 days, never more
//!   than valid), where the original sent infinity; `infinity` (or `0xffffffff`) is
//!   accepted;
//! - numbers are decimal or `0x` hexadecimal, in range, with nothing after them; a
//!   preferred lifetime longer than the valid one, a link-local or multicast prefix and a
//!   sixth field are errors;
//! - bits past the length are cleared (RFC 4861 §4.6.2) unless `R` says the field is the
//!   router's whole address (RFC 6275 §7.2).

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use nlconf::ndisc::PrefixInfo;

/// RFC 4861 §6.2.1's AdvValidLifetime default: 30 days.
pub const DEFAULT_VALID: u32 = 2_592_000;
/// RFC 4861 §6.2.1's AdvPreferredLifetime default: 7 days.
pub const DEFAULT_PREFERRED: u32 = 604_800;
/// A lifetime of all ones: infinity.
pub const INFINITY: u32 = u32::MAX;

/// One advertised prefix, valid by construction: length at most 128, preferred lifetime at
/// most the valid one, not link-local or multicast, no bits past the length (unless
/// `router_address`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixSpec {
    /// The prefix.
    pub prefix: Ipv6Addr,
    /// Its length in bits.
    pub len: u8,
    /// `L`: the prefix is on this link.
    pub on_link: bool,
    /// `A`: hosts may form addresses in it (SLAAC).
    pub autonomous: bool,
    /// `R`: the address is the router's own (the whole address is sent).
    pub router_address: bool,
    /// Valid lifetime, seconds ([`INFINITY`] = forever).
    pub valid: u32,
    /// Preferred lifetime, seconds.
    pub preferred: u32,
}

/// Why a prefix specification was refused; its `Display` quotes the specification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixError {
    /// The specification as given.
    pub spec: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "prefix {:?}: {}", self.spec, self.problem)
    }
}

impl std::error::Error for PrefixError {}

fn number(field: &str, what: &str, max: u64) -> Result<u64, String> {
    let (digits, radix) = match field
        .strip_prefix("0x")
        .or_else(|| field.strip_prefix("0X"))
    {
        Some(hex) => (hex, 16),
        None => (field, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!("{what} {field:?} is not a number"));
    }
    match u64::from_str_radix(digits, radix) {
        Ok(v) if v <= max => Ok(v),
        _ => Err(format!("{what} {field} exceeds {max}")),
    }
}

fn lifetime(field: &str, what: &str) -> Result<u32, String> {
    if field.eq_ignore_ascii_case("infinity") {
        return Ok(INFINITY);
    }
    number(field, what, u64::from(u32::MAX)).map(|v| v as u32)
}

fn masked(addr: Ipv6Addr, len: u8) -> Ipv6Addr {
    let bits = u128::from(addr);
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    Ipv6Addr::from(bits & mask)
}

impl PrefixSpec {
    /// Parses `addr[/len[/flags[/valid[/preferred]]]]` (see the module's documentation).
    pub fn parse(spec: &str) -> Result<PrefixSpec, PrefixError> {
        Self::parse_fields(spec).map_err(|problem| PrefixError {
            spec: spec.to_string(),
            problem,
        })
    }

    fn parse_fields(spec: &str) -> Result<PrefixSpec, String> {
        let fields: Vec<&str> = spec.split('/').collect();
        if fields.len() > 5 {
            return Err(format!(
                "{} fields, at most five (addr/len/flags/valid/preferred)",
                fields.len()
            ));
        }
        let addr: Ipv6Addr = fields[0]
            .parse()
            .map_err(|_| format!("{:?} is not an IPv6 address", fields[0]))?;
        let len = match fields.get(1) {
            None => 64,
            Some(f) => number(f, "length", 128)? as u8,
        };
        let (mut on_link, mut autonomous, mut router_address) = (true, true, false);
        if let Some(&flags) = fields.get(2) {
            (on_link, autonomous) = (false, false);
            if flags != "-" {
                for c in flags.chars() {
                    match c {
                        'L' => on_link = true,
                        'A' => autonomous = true,
                        'R' => router_address = true,
                        other => {
                            return Err(format!(
                                "unknown flag {other:?} (L on-link, A autonomous, R router \
                                 address, - none)"
                            ));
                        }
                    }
                }
            }
        }
        let valid = match fields.get(3) {
            None => DEFAULT_VALID,
            Some(f) => lifetime(f, "valid lifetime")?,
        };
        let preferred = match fields.get(4) {
            None => DEFAULT_PREFERRED.min(valid),
            Some(f) => lifetime(f, "preferred lifetime")?,
        };
        if preferred > valid {
            return Err(format!(
                "preferred lifetime {preferred} exceeds the valid lifetime {valid} (hosts \
                 ignore such a prefix)"
            ));
        }
        let prefix = if router_address {
            addr
        } else {
            masked(addr, len)
        };
        if masked(prefix, 10) == Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0) && len >= 10 {
            return Err("a link-local prefix (hosts ignore it)".into());
        }
        if prefix.is_multicast() {
            return Err("a multicast prefix".into());
        }
        Ok(PrefixSpec {
            prefix,
            len,
            on_link,
            autonomous,
            router_address,
            valid,
            preferred,
        })
    }

    /// Whether hosts on Ethernet will ignore this prefix for SLAAC although it is marked
    /// autonomous: their interface identifiers are 64 bits (RFC 4862 §5.5.3).
    pub fn slaac_ignored(&self) -> bool {
        self.autonomous && self.len != 64
    }

    /// The prefix information option that carries it.
    pub fn option(&self) -> PrefixInfo {
        PrefixInfo {
            prefix: self.prefix,
            prefix_len: self.len,
            on_link: self.on_link,
            autonomous: self.autonomous,
            router_address: self.router_address,
            valid_lifetime: self.valid,
            preferred_lifetime: self.preferred,
        }
    }
}

impl FromStr for PrefixSpec {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<PrefixSpec, PrefixError> {
        PrefixSpec::parse(s)
    }
}

/// The canonical form, all five fields (`-` for no flags, `infinity` for all ones), which
/// parses back to the same specification.
impl fmt::Display for PrefixSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut flags = String::new();
        for (on, c) in [
            (self.on_link, 'L'),
            (self.autonomous, 'A'),
            (self.router_address, 'R'),
        ] {
            if on {
                flags.push(c);
            }
        }
        if flags.is_empty() {
            flags.push('-');
        }
        let life = |v: u32| {
            if v == INFINITY {
                "infinity".to_string()
            } else {
                v.to_string()
            }
        };
        write!(
            f,
            "{}/{}/{}/{}/{}",
            self.prefix,
            self.len,
            flags,
            life(self.valid),
            life(self.preferred)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(s: &str) -> PrefixSpec {
        PrefixSpec::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn problem(s: &str) -> String {
        PrefixSpec::parse(s).expect_err(s).problem
    }

    #[test]
    fn the_originals_example_and_the_defaults() {
        let p = ok("fc01::/64/LA/86400/14400");
        assert_eq!(
            p,
            PrefixSpec {
                prefix: "fc01::".parse().expect("literal"),
                len: 64,
                on_link: true,
                autonomous: true,
                router_address: false,
                valid: 86400,
                preferred: 14400,
            }
        );
        let d = ok("fd00:1::");
        assert_eq!((d.len, d.on_link, d.autonomous), (64, true, true));
        assert_eq!((d.valid, d.preferred), (DEFAULT_VALID, DEFAULT_PREFERRED));
        // A short valid lifetime caps the default preferred one.
        assert_eq!(ok("fd00::/64/LA/600").preferred, 600);
        // An empty or `-` flags field is no flag at all.
        for s in ["fd00::/64//600/300", "fd00::/64/-/600/300"] {
            let p = ok(s);
            assert!(!p.on_link && !p.autonomous && !p.router_address, "{s}");
        }
        let r = ok("2001:db8::1/64/LAR/infinity/0xffffffff");
        assert!(r.router_address);
        assert_eq!(
            r.prefix,
            "2001:db8::1".parse::<Ipv6Addr>().expect("literal")
        );
        assert_eq!((r.valid, r.preferred), (INFINITY, INFINITY));
    }

    #[test]
    fn bits_past_the_length_are_cleared() {
        assert_eq!(ok("fd00:1:2:3:4::1/48").prefix.to_string(), "fd00:1:2::");
        assert_eq!(ok("fd00::1/0/-").prefix, Ipv6Addr::UNSPECIFIED);
        assert_eq!(ok("fd00::1/128").prefix.to_string(), "fd00::1");
    }

    #[test]
    fn faults_say_what_is_wrong() {
        assert!(problem("10.0.0.0/24").contains("not an IPv6 address"));
        assert!(problem("fd00::/129").contains("exceeds 128"));
        assert!(problem("fd00::/64x").contains("not a number"));
        assert!(problem("fd00::/64/LX").contains("unknown flag 'X'"));
        assert!(problem("fd00::/64/LA/4294967296").contains("exceeds"));
        assert!(problem("fd00::/64/LA/-1").contains("not a number"));
        assert!(problem("fd00::/64/LA/100/200").contains("exceeds the valid lifetime"));
        assert!(problem("fd00::/64/LA/1/1/1").contains("6 fields"));
        assert!(problem("fe80::/64").contains("link-local"));
        assert!(problem("ff02::/16").contains("multicast"));
        assert!(problem("").contains("not an IPv6 address"));
        let e = PrefixSpec::parse("fd00::/200").expect_err("long");
        assert_eq!(
            e.to_string(),
            "prefix \"fd00::/200\": length 200 exceeds 128"
        );
    }

    #[test]
    fn slaac_needs_a_64_bit_prefix() {
        assert!(!ok("fd00::/64").slaac_ignored());
        assert!(ok("fd00::/48").slaac_ignored());
        assert!(!ok("fd00::/48/L").slaac_ignored());
    }

    proptest! {
        /// Whatever text comes in, parsing returns, and what parses is valid and prints to a
        /// form that parses back to it.
        #[test]
        fn any_text_parses_to_a_valid_spec_or_an_error(s in "[0-9a-fA-FxX:./LARinfty-]{0,48}") {
            if let Ok(p) = PrefixSpec::parse(&s) {
                prop_assert!(p.len <= 128 && p.preferred <= p.valid);
                prop_assert_eq!(PrefixSpec::parse(&p.to_string()), Ok(p));
            }
        }

        /// Every valid specification survives printing and parsing.
        #[test]
        fn canonical_forms_parse_back(
            bits in any::<u128>(),
            len in 0u8..=128,
            flags in 0u8..8,
            valid in any::<u32>(),
            preferred in any::<u32>(),
        ) {
            let mut spec = format!("{}/{len}/", Ipv6Addr::from(bits));
            for (bit, c) in [(1, 'L'), (2, 'A'), (4, 'R')] {
                if flags & bit != 0 {
                    spec.push(c);
                }
            }
            spec.push_str(&format!("/{valid}/{preferred}"));
            match PrefixSpec::parse(&spec) {
                Ok(p) => {
                    prop_assert_eq!(p.valid, valid);
                    prop_assert_eq!(p.preferred, preferred);
                    prop_assert_eq!(PrefixSpec::parse(&p.to_string()), Ok(p));
                }
                Err(e) => prop_assert!(
                    preferred > valid
                        || e.problem.contains("link-local")
                        || e.problem.contains("multicast"),
                    "{}", e
                ),
            }
        }
    }
}
