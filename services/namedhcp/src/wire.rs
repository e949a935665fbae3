//! DHCPv6 messages on the wire, strictly: the framing is checked here, the values are
//! dhcproto's.
//!
//! dhcproto's own decoder is lenient where a server must not be: a list of options stops
//! silently at the first one that does not decode (the rest of the message is dropped
//! unnoticed), and a few option decoders subtract from a length they have not checked,
//! which panics in builds with overflow checks. So [`parse`] walks every option's
//! code/length framing itself, rejects any option that runs past its container or has a
//! length its type forbids, and hands dhcproto exact slices only, one option at a time
//! (containers — IA_NA, IA_TA, IA_PD, IAADDR, IAPREFIX — by their fixed part; their options
//! are walked the same way). Options the server does not use stay raw
//! ([`UnknownOption`]), so nothing it ignores can refuse a message. The Client FQDN (39) is
//! checked with [`crate::fqdn`] and also kept raw: dhcproto has no type for it.

use std::fmt;

use dhcproto::v6::{DhcpOption, DhcpOptions, Message, MessageType, OptionCode, UnknownOption};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};

use crate::fqdn::ClientFqdn;

/// Option codes the server reads or writes (RFC 8415 §24, RFC 3646, RFC 4704, RFC 5908).
pub mod code {
    /// Client Identifier.
    pub const CLIENTID: u16 = 1;
    /// Server Identifier.
    pub const SERVERID: u16 = 2;
    /// IA for non-temporary addresses.
    pub const IA_NA: u16 = 3;
    /// IA for temporary addresses.
    pub const IA_TA: u16 = 4;
    /// IA Address.
    pub const IAADDR: u16 = 5;
    /// Option Request Option.
    pub const ORO: u16 = 6;
    /// Relay Message (relay agents only).
    pub const RELAY_MSG: u16 = 9;
    /// Status Code.
    pub const STATUS_CODE: u16 = 13;
    /// Rapid Commit.
    pub const RAPID_COMMIT: u16 = 14;
    /// DNS recursive name servers (RFC 3646).
    pub const DNS_SERVERS: u16 = 23;
    /// Domain search list (RFC 3646).
    pub const DOMAIN_LIST: u16 = 24;
    /// IA for prefix delegation.
    pub const IA_PD: u16 = 25;
    /// IA Prefix.
    pub const IAPREFIX: u16 = 26;
    /// SNTP servers (RFC 4075), what the original offers.
    pub const SNTP_SERVERS: u16 = 31;
    /// Client FQDN (RFC 4704).
    pub const CLIENT_FQDN: u16 = 39;
    /// NTP server (RFC 5908).
    pub const NTP_SERVER: u16 = 56;
}

/// A DUID is at most 128 octets after its 2-octet type (RFC 8415 §11.1).
const MAX_DUID: usize = 130;

/// Why bytes are not a DHCPv6 message this server takes; the message names the fault and
/// where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Where an option list is: its options may differ by place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    /// The message's own options.
    Message,
    /// Inside IA_NA, IA_TA or IA_PD.
    Ia,
    /// Inside IAADDR or IAPREFIX: everything is kept raw.
    Address,
}

/// Parses a client's DHCPv6 message (the UDP payload). Refused: fewer than 4 octets, relay
/// messages (Relay-forward/Relay-reply: relays are not served), an option whose header or
/// data runs past its container, a container shorter than its fixed part, an ORO of odd
/// length, a Rapid Commit with data, an empty or over-long DUID, a malformed Client FQDN.
/// Every error names the option (by code and path) and the fault.
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    if bytes.len() < 4 {
        return Err(ParseError(format!(
            "{} octets: shorter than the 4-octet header",
            bytes.len()
        )));
    }
    let msg_type = MessageType::from(bytes[0]);
    if matches!(msg_type, MessageType::RelayForw | MessageType::RelayRepl) {
        return Err(ParseError(format!(
            "{msg_type:?}: relay messages are not served"
        )));
    }
    let xid = [bytes[1], bytes[2], bytes[3]];
    let opts = options(&bytes[4..], Level::Message, "message")?;
    let mut m = Message::new_with_id(msg_type, xid);
    m.set_opts(opts);
    Ok(m)
}

/// Encodes a message for the wire.
pub fn encode(m: &Message) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(256);
    m.encode(&mut Encoder::new(&mut buf))
        .map_err(|e| format!("encoding {:?}: {e}", m.msg_type()))?;
    Ok(buf)
}

/// Walks the options in `buf` (all of it), decoding each by `level`.
fn options(buf: &[u8], level: Level, path: &str) -> Result<DhcpOptions, ParseError> {
    let mut opts = DhcpOptions::new();
    let mut pos = 0;
    while pos < buf.len() {
        let Some(head) = buf.get(pos..pos + 4) else {
            return Err(ParseError(format!(
                "{path}: option header truncated at octet {pos} ({} octets left)",
                buf.len() - pos
            )));
        };
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let Some(data) = buf.get(pos + 4..pos + 4 + len) else {
            return Err(ParseError(format!(
                "{path}: option {code} of {len} octets at octet {pos} runs past the end ({} octets left)",
                buf.len() - pos - 4
            )));
        };
        let at = format!("{path}/option {code}");
        opts.insert(option(&buf[pos..pos + 4 + len], code, data, level, &at)?);
        pos += 4 + len;
    }
    Ok(opts)
}

/// Decodes one option: `whole` is its header and data, `data` its data.
fn option(
    whole: &[u8],
    code: u16,
    data: &[u8],
    level: Level,
    at: &str,
) -> Result<DhcpOption, ParseError> {
    let bad = |why: String| Err(ParseError(format!("{at}: {why}")));
    let raw = || {
        Ok(DhcpOption::Unknown(UnknownOption::new(
            code.into(),
            data.to_vec(),
        )))
    };
    match (level, code) {
        (Level::Message, code::CLIENTID | code::SERVERID) => {
            if data.is_empty() || data.len() > MAX_DUID {
                return bad(format!("a DUID of {} octets (1 to {MAX_DUID})", data.len()));
            }
            exact(whole, at)
        }
        (Level::Message, code::ORO) => {
            if !data.len().is_multiple_of(2) {
                return bad(format!(
                    "{} octets: not a list of 2-octet codes",
                    data.len()
                ));
            }
            exact(whole, at)
        }
        (Level::Message, code::RAPID_COMMIT) => {
            if !data.is_empty() {
                return bad(format!("{} octets where none belong", data.len()));
            }
            exact(whole, at)
        }
        (Level::Message, code::RELAY_MSG) => bad("relay messages are not served".into()),
        (Level::Message, code::CLIENT_FQDN) => match ClientFqdn::decode(data) {
            Ok(_) => raw(),
            Err(e) => bad(e.to_string()),
        },
        (Level::Message, code::IA_NA | code::IA_PD) => container(code, data, 12, Level::Ia, at),
        (Level::Message, code::IA_TA) => container(code, data, 4, Level::Ia, at),
        (Level::Ia, code::IAADDR) => container(code, data, 24, Level::Address, at),
        (Level::Ia, code::IAPREFIX) => container(code, data, 25, Level::Address, at),
        _ => raw(),
    }
}

/// dhcproto's decoding of exactly one option (header and data), all of it consumed.
fn exact(whole: &[u8], at: &str) -> Result<DhcpOption, ParseError> {
    let mut d = Decoder::new(whole);
    let opt = DhcpOption::decode(&mut d).map_err(|e| ParseError(format!("{at}: {e}")))?;
    if !d.buffer().is_empty() {
        return Err(ParseError(format!(
            "{at}: {} octets the option's type does not hold",
            d.buffer().len()
        )));
    }
    Ok(opt)
}

/// A container option: dhcproto decodes its fixed part (`fixed` octets), its own options
/// are walked as the message's are.
fn container(
    code: u16,
    data: &[u8],
    fixed: usize,
    inner: Level,
    at: &str,
) -> Result<DhcpOption, ParseError> {
    if data.len() < fixed {
        return Err(ParseError(format!(
            "{at}: {} octets, shorter than its {fixed}-octet fixed part",
            data.len()
        )));
    }
    let mut head = Vec::with_capacity(4 + fixed);
    head.extend_from_slice(&code.to_be_bytes());
    head.extend_from_slice(&(fixed as u16).to_be_bytes());
    head.extend_from_slice(&data[..fixed]);
    let nested = options(&data[fixed..], inner, at)?;
    let mut opt = exact(&head, at)?;
    match &mut opt {
        DhcpOption::IANA(ia) => ia.opts = nested,
        DhcpOption::IATA(ia) => ia.opts = nested,
        DhcpOption::IAPD(ia) => ia.opts = nested,
        DhcpOption::IAAddr(a) => a.opts = nested,
        DhcpOption::IAPrefix(p) => p.opts = nested,
        _ => {
            return Err(ParseError(format!(
                "{at}: not a container option ({:?})",
                OptionCode::from(&opt)
            )));
        }
    }
    Ok(opt)
}

/// The data of the first option `code` kept raw in `opts` (how the Client FQDN travels).
pub fn raw_option(opts: &DhcpOptions, code: u16) -> Option<&[u8]> {
    opts.iter().find_map(|o| match o {
        DhcpOption::Unknown(u) if u16::from(u.code()) == code => Some(u.data()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::v6::{IAAddr, IANA, ORO};
    use std::net::Ipv6Addr;

    fn opt(code: u16, data: &[u8]) -> Vec<u8> {
        let mut v = code.to_be_bytes().to_vec();
        v.extend_from_slice(&(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    fn msg(t: u8, opts: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![t, 0xab, 0xcd, 0xef];
        for o in opts {
            v.extend_from_slice(o);
        }
        v
    }

    fn iaaddr(a: Ipv6Addr, inner: &[u8]) -> Vec<u8> {
        let mut d = a.octets().to_vec();
        d.extend_from_slice(&[0; 8]);
        d.extend_from_slice(inner);
        opt(code::IAADDR, &d)
    }

    fn iana(id: u32, inner: &[u8]) -> Vec<u8> {
        let mut d = id.to_be_bytes().to_vec();
        d.extend_from_slice(&[0; 8]);
        d.extend_from_slice(inner);
        opt(code::IA_NA, &d)
    }

    #[test]
    fn parses_a_solicit_with_nested_options() {
        let a: Ipv6Addr = "2001:db8::42".parse().unwrap();
        let bytes = msg(
            1,
            &[
                opt(code::CLIENTID, &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1]),
                opt(code::ORO, &[0, 23, 0, 24, 0, 39]),
                iana(7, &iaaddr(a, &opt(13, &[0, 0, b'o', b'k']))),
                opt(code::CLIENT_FQDN, &[1, 1, b'h', 0]),
                opt(8, &[0, 0]),
            ],
        );
        let m = parse(&bytes).unwrap();
        assert_eq!(m.msg_type(), MessageType::Solicit);
        assert_eq!(m.xid(), [0xab, 0xcd, 0xef]);
        let Some(DhcpOption::IANA(IANA { id, opts, .. })) = m.opts().get(OptionCode::IANA) else {
            panic!("no IA_NA: {m:?}");
        };
        assert_eq!(*id, 7);
        let Some(DhcpOption::IAAddr(IAAddr { addr, .. })) = opts.get(OptionCode::IAAddr) else {
            panic!("no IAADDR");
        };
        assert_eq!(*addr, a);
        let Some(DhcpOption::ORO(ORO { opts })) = m.opts().get(OptionCode::ORO) else {
            panic!("no ORO");
        };
        assert_eq!(opts.len(), 3);
        assert_eq!(
            raw_option(m.opts(), code::CLIENT_FQDN),
            Some(&[1, 1, b'h', 0][..])
        );
        // What parses encodes to the same options (order by code, as dhcproto keeps them).
        let again = parse(&encode(&m).unwrap()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn refuses_bad_framing_naming_the_option() {
        let bad = |bytes: Vec<u8>, want: &str| {
            let e = parse(&bytes).expect_err(want).to_string();
            assert!(e.contains(want), "{want:?} not in {e:?}");
        };
        bad(vec![1, 2, 3], "shorter than the 4-octet header");
        bad(msg(12, &[]), "relay messages");
        bad(
            {
                let mut v = msg(1, &[]);
                v.extend_from_slice(&[0, 1, 0, 9, 1]);
                v
            },
            "option 1 of 9 octets at octet 0 runs past the end",
        );
        bad(
            {
                let mut v = msg(1, &[]);
                v.extend_from_slice(&[0, 1, 0]);
                v
            },
            "option header truncated",
        );
        bad(msg(1, &[opt(code::ORO, &[0, 23, 0])]), "option 6: 3 octets");
        bad(msg(1, &[opt(code::RAPID_COMMIT, &[1])]), "option 14");
        bad(msg(1, &[opt(code::CLIENTID, &[])]), "a DUID of 0 octets");
        bad(
            msg(1, &[opt(code::CLIENTID, &[7; 131])]),
            "a DUID of 131 octets",
        );
        bad(
            msg(1, &[opt(code::IA_NA, &[0; 11])]),
            "shorter than its 12-octet fixed part",
        );
        // A status code of length 0 followed by more data: dhcproto alone would underflow.
        bad(
            msg(1, &[iana(1, &[0, 13, 0])]),
            "message/option 3: option header truncated",
        );
        bad(
            msg(
                1,
                &[iana(1, &iaaddr(Ipv6Addr::LOCALHOST, &[0, 13, 0, 4, 0]))],
            ),
            "message/option 3/option 5: option 13 of 4 octets",
        );
        bad(
            msg(1, &[opt(code::CLIENT_FQDN, &[1, 5, b'a'])]),
            "Client FQDN",
        );
        bad(msg(1, &[opt(code::RELAY_MSG, &[1, 2, 3, 4])]), "option 9");
    }

    #[test]
    fn keeps_options_it_does_not_use_raw() {
        // Status codes of length 0 and vendor classes of length 1 would trip dhcproto's
        // decoders; raw, they are harmless.
        let m = parse(&msg(1, &[opt(13, &[]), opt(16, &[1]), opt(17, &[0; 2])])).unwrap();
        assert_eq!(m.opts().iter().count(), 3);
        assert_eq!(raw_option(m.opts(), 16), Some(&[1][..]));
    }
}
