//! Which received router solicitations a router answers (RFC 4861 §6.1.1).

use std::fmt;
use std::net::Ipv6Addr;

use nlconf::ndisc::{ParseError, RouterSolicitation};

/// Why a solicitation is silently discarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discard {
    /// Its IPv6 hop limit is not 255: it came from off the link.
    HopLimit(u8),
    /// The message itself is malformed.
    Malformed(ParseError),
    /// From the unspecified address, yet with a link-layer address option.
    UnspecifiedWithLinkLayer,
    /// From a multicast source address.
    MulticastSource,
}

impl fmt::Display for Discard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Discard::HopLimit(h) => write!(f, "hop limit {h}, not 255: not from this link"),
            Discard::Malformed(e) => write!(f, "{e}"),
            Discard::UnspecifiedWithLinkLayer => {
                f.write_str("from :: with a source link-layer address option")
            }
            Discard::MulticastSource => f.write_str("from a multicast address"),
        }
    }
}

/// Checks a solicitation from `source` whose IPv6 hop limit was `hop_limit` (`None` when
/// the stack cannot report it: the check is then skipped). `msg` is the ICMPv6 message (the
/// stack has verified its checksum). The answer is the message's contents.
pub fn accept(
    source: Ipv6Addr,
    hop_limit: Option<u8>,
    msg: &[u8],
) -> Result<RouterSolicitation, Discard> {
    if let Some(h) = hop_limit
        && h != 255
    {
        return Err(Discard::HopLimit(h));
    }
    if source.is_multicast() {
        return Err(Discard::MulticastSource);
    }
    let rs = RouterSolicitation::parse(msg).map_err(Discard::Malformed)?;
    if source.is_unspecified() && rs.source_mac.is_some() {
        return Err(Discard::UnspecifiedWithLinkLayer);
    }
    Ok(rs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nlconf::ndisc::router_solicitation;

    #[test]
    fn what_rfc_4861_discards() {
        let ll: Ipv6Addr = "fe80::1".parse().expect("literal");
        let rs = router_solicitation(ll, [2, 0, 0, 0, 0, 1]);
        assert_eq!(
            accept(ll, Some(255), &rs).map(|r| r.source_mac),
            Ok(Some([2, 0, 0, 0, 0, 1]))
        );
        assert!(accept(ll, None, &rs).is_ok(), "no hop limit reported");
        assert_eq!(accept(ll, Some(64), &rs), Err(Discard::HopLimit(64)));
        assert_eq!(
            accept(Ipv6Addr::UNSPECIFIED, Some(255), &rs),
            Err(Discard::UnspecifiedWithLinkLayer)
        );
        let bare = router_solicitation(Ipv6Addr::UNSPECIFIED, [0; 6]);
        assert!(accept(Ipv6Addr::UNSPECIFIED, Some(255), &bare).is_ok());
        assert_eq!(
            accept("ff02::1".parse().expect("literal"), Some(255), &bare),
            Err(Discard::MulticastSource)
        );
        let e = accept(ll, Some(255), &rs[..4]).expect_err("short");
        assert!(
            e.to_string().starts_with("router solicitation: header"),
            "{e}"
        );
    }
}
