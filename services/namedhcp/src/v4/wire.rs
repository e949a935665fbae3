//! DHCPv4 messages on the wire, strictly (the framing is checked here, values are
//! dhcproto's), as [`crate::wire`] does for DHCPv6: dhcproto's option loop stops silently at
//! the first option it cannot decode and some of its decoders subtract from unchecked
//! lengths, so every option is framed here and dhcproto sees exact slices only. Options the
//! server does not read stay raw; the Client FQDN (81) is checked with [`super::fqdn`] and
//! kept raw (dhcproto reads only its wire encoding).

use std::fmt;

use dhcproto::v4::{DhcpOption, DhcpOptions, Message, Opcode, UnknownOption};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};

use super::fqdn::ClientFqdn4;

/// The fixed BOOTP part: 236 octets, then the 4-octet magic cookie.
const FIXED: usize = 236;
/// The DHCP magic cookie (RFC 2131 §3).
pub const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// Option codes the server reads (RFC 2132, RFC 4702).
pub mod code {
    /// Pad.
    pub const PAD: u8 = 0;
    /// Requested IP address.
    pub const REQUESTED_IP: u8 = 50;
    /// Option overload (sname/fname carry options): refused.
    pub const OVERLOAD: u8 = 52;
    /// DHCP message type.
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier.
    pub const SERVER_ID: u8 = 54;
    /// Parameter request list.
    pub const PARAMETER_LIST: u8 = 55;
    /// Client FQDN (RFC 4702).
    pub const CLIENT_FQDN: u8 = 81;
    /// End.
    pub const END: u8 = 255;
}

/// Why bytes are not a DHCPv4 request this server takes; the message says where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Parses a client's DHCPv4 message (the UDP payload). Refused: shorter than the fixed part
/// and cookie, not a BOOTREQUEST, a hardware address longer than 16, a wrong magic cookie,
/// an option running past the end, a missing End option, option overload, an option of the
/// wrong length for its type, a repeated option, a malformed Client FQDN.
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    let err = |m: String| Err(ParseError(m));
    if bytes.len() < FIXED + 4 {
        return err(format!(
            "{} octets: shorter than the {}-octet BOOTP header and cookie",
            bytes.len(),
            FIXED + 4
        ));
    }
    if bytes[0] != 1 {
        return err(format!("op {}: not a BOOTREQUEST", bytes[0]));
    }
    if bytes[2] > 16 {
        return err(format!("hlen {}: longer than chaddr", bytes[2]));
    }
    if bytes[FIXED..FIXED + 4] != MAGIC {
        return err("not a DHCP message (magic cookie)".into());
    }
    let mut header = Message::decode(&mut Decoder::new(&bytes[..FIXED + 4]))
        .map_err(|e| ParseError(format!("BOOTP header: {e}")))?;
    if header.opcode() != Opcode::BootRequest {
        return err("not a BOOTREQUEST".into());
    }
    header.set_opts(options(&bytes[FIXED + 4..])?);
    Ok(header)
}

/// Encodes a message for the wire, padded to the 300 octets of a BOOTP message as clients
/// expect.
pub fn encode(m: &Message) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(576);
    m.encode(&mut Encoder::new(&mut buf))
        .map_err(|e| format!("encoding a DHCPv4 reply: {e}"))?;
    if buf.len() < 300 {
        buf.resize(300, 0);
    }
    Ok(buf)
}

fn options(buf: &[u8]) -> Result<DhcpOptions, ParseError> {
    let mut opts = DhcpOptions::new();
    let mut seen = [false; 256];
    let mut pos = 0;
    loop {
        let Some(&code) = buf.get(pos) else {
            return Err(ParseError("options: no End option".into()));
        };
        match code {
            code::PAD => {
                pos += 1;
                continue;
            }
            code::END => return Ok(opts),
            _ => {}
        }
        let Some(&len) = buf.get(pos + 1) else {
            return Err(ParseError(format!(
                "option {code} at octet {pos}: no length"
            )));
        };
        let len = usize::from(len);
        let Some(data) = buf.get(pos + 2..pos + 2 + len) else {
            return Err(ParseError(format!(
                "option {code} of {len} octets at octet {pos} runs past the end"
            )));
        };
        if std::mem::replace(&mut seen[usize::from(code)], true) {
            // RFC 3396 would concatenate; no option this server reads needs it.
            return Err(ParseError(format!("option {code} repeated")));
        }
        let at = |why: String| ParseError(format!("option {code}: {why}"));
        let opt = match code {
            code::OVERLOAD => return Err(at("option overload is not supported".into())),
            code::MESSAGE_TYPE if len != 1 => return Err(at(format!("{len} octets, not 1"))),
            code::REQUESTED_IP | code::SERVER_ID if len != 4 => {
                return Err(at(format!("{len} octets, not 4")));
            }
            code::MESSAGE_TYPE | code::REQUESTED_IP | code::SERVER_ID | code::PARAMETER_LIST => {
                exact(&buf[pos..pos + 2 + len]).map_err(at)?
            }
            code::CLIENT_FQDN => {
                ClientFqdn4::decode(data).map_err(|e| at(e.to_string()))?;
                DhcpOption::Unknown(UnknownOption::new(code.into(), data.to_vec()))
            }
            _ => DhcpOption::Unknown(UnknownOption::new(code.into(), data.to_vec())),
        };
        opts.insert(opt);
        pos += 2 + len;
    }
}

fn exact(whole: &[u8]) -> Result<DhcpOption, String> {
    let mut d = Decoder::new(whole);
    let opt = DhcpOption::decode(&mut d).map_err(|e| e.to_string())?;
    if !d.buffer().is_empty() {
        return Err(format!(
            "{} octets its type does not hold",
            d.buffer().len()
        ));
    }
    Ok(opt)
}

/// The data of option `code` kept raw.
pub fn raw_option(opts: &DhcpOptions, code: u8) -> Option<&[u8]> {
    match opts.get(code.into()) {
        Some(DhcpOption::Unknown(u)) => Some(u.data()),
        _ => None,
    }
}
