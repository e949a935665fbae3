//! DHCPv6 client/server messages (RFC 8415 §8, options of RFC 8415 §21, RFC 3646 and
//! RFC 4704): parse and build the UDP payload.
//!
//! Options are kept in the order they came, as [`Dhcp6Option`] values; options this module
//! does not decode are kept as raw [`RawOption`]s, so whatever parses emits back to the same
//! message. Malformed input (truncated header, an option running past the end, an option of
//! the wrong length, a badly encoded domain name) is rejected with a [`ParseError`] naming
//! the offending part. Relay messages (Relay-forward, Relay-reply) are not for clients and
//! are rejected.

use std::fmt;
use std::io;
use std::net::Ipv6Addr;

/// UDP port of DHCPv6 clients.
pub const CLIENT_PORT: u16 = 546;
/// UDP port of DHCPv6 servers and relay agents.
pub const SERVER_PORT: u16 = 547;
/// All_DHCP_Relay_Agents_and_Servers, `ff02::1:2`: where a client sends its messages.
pub const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);
/// The lifetime value meaning "infinity" (RFC 8415 §7.7).
pub const INFINITY: u32 = 0xffff_ffff;

/// Option codes this module decodes (RFC 8415 §24.3 registry).
pub mod code {
    /// Client Identifier (a DUID).
    pub const CLIENTID: u16 = 1;
    /// Server Identifier (a DUID).
    pub const SERVERID: u16 = 2;
    /// Identity Association for Non-temporary Addresses.
    pub const IA_NA: u16 = 3;
    /// IA Address (inside IA_NA).
    pub const IAADDR: u16 = 5;
    /// Option Request Option.
    pub const ORO: u16 = 6;
    /// Server preference.
    pub const PREFERENCE: u16 = 7;
    /// Elapsed time, in hundredths of a second.
    pub const ELAPSED_TIME: u16 = 8;
    /// Server Unicast address.
    pub const UNICAST: u16 = 12;
    /// Status Code.
    pub const STATUS_CODE: u16 = 13;
    /// Rapid Commit.
    pub const RAPID_COMMIT: u16 = 14;
    /// Recursive DNS servers (RFC 3646).
    pub const DNS_SERVERS: u16 = 23;
    /// Domain search list (RFC 3646).
    pub const DOMAIN_LIST: u16 = 24;
    /// Information Refresh Time.
    pub const INFORMATION_REFRESH_TIME: u16 = 32;
    /// Client FQDN (RFC 4704).
    pub const CLIENT_FQDN: u16 = 39;
    /// SOL_MAX_RT: the server's cap on Solicit retransmission.
    pub const SOL_MAX_RT: u16 = 82;
    /// INF_MAX_RT: the server's cap on Information-request retransmission.
    pub const INF_MAX_RT: u16 = 83;
}

/// DHCPv6 message types a client sends or receives (RFC 8415 §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Solicit: a client looks for servers.
    Solicit = 1,
    /// Advertise: a server offers service.
    Advertise = 2,
    /// Request: a client asks one server for addresses.
    Request = 3,
    /// Confirm: a client checks its addresses are still on-link.
    Confirm = 4,
    /// Renew: a client extends its lease with the server that gave it.
    Renew = 5,
    /// Rebind: a client extends its lease with any server.
    Rebind = 6,
    /// Reply: a server answers.
    Reply = 7,
    /// Release: a client gives its addresses back.
    Release = 8,
    /// Decline: a client found an address already in use.
    Decline = 9,
    /// Reconfigure: a server asks the client to renew or ask again.
    Reconfigure = 10,
    /// Information-request: a client asks for configuration without addresses.
    InformationRequest = 11,
}

impl MessageType {
    /// The message type with wire value `v`; `None` for relay messages and unassigned values.
    pub fn from_u8(v: u8) -> Option<MessageType> {
        Some(match v {
            1 => MessageType::Solicit,
            2 => MessageType::Advertise,
            3 => MessageType::Request,
            4 => MessageType::Confirm,
            5 => MessageType::Renew,
            6 => MessageType::Rebind,
            7 => MessageType::Reply,
            8 => MessageType::Release,
            9 => MessageType::Decline,
            10 => MessageType::Reconfigure,
            11 => MessageType::InformationRequest,
            _ => return None,
        })
    }
}

/// Status codes (RFC 8415 §21.13).
pub mod status {
    /// Success.
    pub const SUCCESS: u16 = 0;
    /// Failure, reason unspecified.
    pub const UNSPEC_FAIL: u16 = 1;
    /// The server has no addresses available to assign.
    pub const NO_ADDRS_AVAIL: u16 = 2;
    /// The client's binding is unknown to the server.
    pub const NO_BINDING: u16 = 3;
    /// The addresses are not appropriate for the link.
    pub const NOT_ON_LINK: u16 = 4;
    /// The client must use multicast to reach the server.
    pub const USE_MULTICAST: u16 = 5;
    /// Delegated prefixes not available.
    pub const NO_PREFIX_AVAIL: u16 = 6;
}

/// A Status Code option: the code (see [`status`]) and the server's message for humans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCode {
    /// The status (see [`status`]).
    pub code: u16,
    /// The message for humans (UTF-8, as RFC 8415 requires; other bytes are rejected).
    pub message: String,
}

/// An option kept undecoded: its code and its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawOption {
    /// The option code. Emitting a code that this module decodes makes the message parse back
    /// as the decoded option, not as a raw one.
    pub code: u16,
    /// The option data (at most 65535 bytes are emitted).
    pub data: Vec<u8>,
}

/// An IA Address option (RFC 8415 §21.6), lifetimes in seconds ([`INFINITY`] = forever).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IaAddr {
    /// The address.
    pub addr: Ipv6Addr,
    /// Preferred lifetime, seconds.
    pub preferred: u32,
    /// Valid lifetime, seconds.
    pub valid: u32,
    /// Options inside the IA Address.
    pub options: Vec<IaAddrOption>,
}

/// An option inside an IA Address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IaAddrOption {
    /// The status of this address.
    StatusCode(StatusCode),
    /// Anything else, undecoded.
    Unknown(RawOption),
}

impl IaAddr {
    /// The status code inside this address, if any.
    pub fn status(&self) -> Option<&StatusCode> {
        self.options.iter().find_map(|o| match o {
            IaAddrOption::StatusCode(s) => Some(s),
            IaAddrOption::Unknown(_) => None,
        })
    }
}

/// An Identity Association for Non-temporary Addresses (RFC 8415 §21.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IaNa {
    /// The IA's identifier, chosen by the client.
    pub iaid: u32,
    /// Renewal time T1, seconds (0: the client chooses).
    pub t1: u32,
    /// Rebinding time T2, seconds (0: the client chooses).
    pub t2: u32,
    /// Options inside the IA_NA.
    pub options: Vec<IaNaOption>,
}

/// An option inside an IA_NA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IaNaOption {
    /// An address of the IA.
    IaAddr(IaAddr),
    /// The status of the IA.
    StatusCode(StatusCode),
    /// Anything else, undecoded.
    Unknown(RawOption),
}

impl IaNa {
    /// The addresses in this IA, in order.
    pub fn addrs(&self) -> impl Iterator<Item = &IaAddr> {
        self.options.iter().filter_map(|o| match o {
            IaNaOption::IaAddr(a) => Some(a),
            _ => None,
        })
    }

    /// The status code of this IA, if any.
    pub fn status(&self) -> Option<&StatusCode> {
        self.options.iter().find_map(|o| match o {
            IaNaOption::StatusCode(s) => Some(s),
            _ => None,
        })
    }
}

/// A Client FQDN option (RFC 4704).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFqdn {
    /// The flags byte: [`ClientFqdn::S`], [`ClientFqdn::O`], [`ClientFqdn::N`].
    pub flags: u8,
    /// The name, dotted, without a trailing dot ("" for none).
    pub name: String,
    /// Whether the name is fully qualified (encoded with the terminating root label) rather
    /// than a partial name the server completes.
    pub fully_qualified: bool,
}

impl ClientFqdn {
    /// Flag S: the server should perform the AAAA update.
    pub const S: u8 = 0x01;
    /// Flag O: the server overrode the client's S preference.
    pub const O: u8 = 0x02;
    /// Flag N: the server should perform no DNS updates.
    pub const N: u8 = 0x04;
}

/// One DHCPv6 option at the message level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dhcp6Option {
    /// Client Identifier: the client's DUID.
    ClientId(Vec<u8>),
    /// Server Identifier: the server's DUID.
    ServerId(Vec<u8>),
    /// An IA_NA with its addresses.
    IaNa(IaNa),
    /// Option Request Option: the option codes the client wants.
    Oro(Vec<u16>),
    /// Server preference (255 = take this server at once).
    Preference(u8),
    /// Time since the client began the exchange, in hundredths of a second.
    ElapsedTime(u16),
    /// Server Unicast: the address the server accepts unicast messages at.
    Unicast(Ipv6Addr),
    /// Status of the whole message.
    StatusCode(StatusCode),
    /// Rapid Commit (two-message exchange).
    RapidCommit,
    /// Recursive DNS servers.
    DnsServers(Vec<Ipv6Addr>),
    /// Domain search list, dotted names without trailing dot.
    DomainList(Vec<String>),
    /// Information Refresh Time, seconds.
    InformationRefreshTime(u32),
    /// Client FQDN.
    ClientFqdn(ClientFqdn),
    /// SOL_MAX_RT, seconds.
    SolMaxRt(u32),
    /// INF_MAX_RT, seconds.
    InfMaxRt(u32),
    /// An option this module does not decode.
    Unknown(RawOption),
}

/// A DHCPv6 client/server message (RFC 8415 §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dhcp6Message {
    /// The message type.
    pub msg_type: MessageType,
    /// The transaction id: 24 bits (the top 8 bits are not sent).
    pub transaction_id: u32,
    /// The options, in wire order.
    pub options: Vec<Dhcp6Option>,
}

/// Why a DHCPv6 message was rejected: the part that was bad, and what was wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    part: String,
    problem: String,
}

impl ParseError {
    fn new(part: impl Into<String>, problem: impl Into<String>) -> ParseError {
        ParseError {
            part: part.into(),
            problem: problem.into(),
        }
    }

    /// The offending part, e.g. `"header"` or `"IA_NA (option 3) at byte 4"`; nested options
    /// name their container first (`"IA_NA … > IAADDR …"`).
    pub fn part(&self) -> &str {
        &self.part
    }

    /// What was wrong with it.
    pub fn problem(&self) -> &str {
        &self.problem
    }

    fn inside(self, outer: &str) -> ParseError {
        ParseError {
            part: format!("{outer} > {}", self.part),
            problem: self.problem,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad DHCPv6 message: {}: {}", self.part, self.problem)
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for io::Error {
    /// EBADMSG, as the kernel reports a malformed message (the description is logged at debug
    /// level, since an errno cannot carry it).
    fn from(e: ParseError) -> io::Error {
        log::debug!("{e}");
        io::Error::from_raw_os_error(libc::EBADMSG)
    }
}

fn option_name(code: u16) -> &'static str {
    match code {
        code::CLIENTID => "CLIENTID",
        code::SERVERID => "SERVERID",
        code::IA_NA => "IA_NA",
        code::IAADDR => "IAADDR",
        code::ORO => "ORO",
        code::PREFERENCE => "PREFERENCE",
        code::ELAPSED_TIME => "ELAPSED_TIME",
        code::UNICAST => "UNICAST",
        code::STATUS_CODE => "STATUS_CODE",
        code::RAPID_COMMIT => "RAPID_COMMIT",
        code::DNS_SERVERS => "DNS_SERVERS",
        code::DOMAIN_LIST => "DOMAIN_LIST",
        code::INFORMATION_REFRESH_TIME => "INFORMATION_REFRESH_TIME",
        code::CLIENT_FQDN => "CLIENT_FQDN",
        code::SOL_MAX_RT => "SOL_MAX_RT",
        code::INF_MAX_RT => "INF_MAX_RT",
        _ => "option",
    }
}

/// An option's code, data, name for errors, and where its data starts in the message.
type Framed<'a> = (u16, &'a [u8], String, usize);

/// Splits an option area starting at byte `base` of the message into options, checking the
/// framing.
fn split_options(mut buf: &[u8], base: usize) -> Result<Vec<Framed<'_>>, ParseError> {
    let mut out = Vec::new();
    let mut at = base;
    while !buf.is_empty() {
        let Some((hdr, rest)) = buf.split_first_chunk::<4>() else {
            return Err(ParseError::new(
                format!("option header at byte {at}"),
                format!("truncated: {} bytes left, 4 needed", buf.len()),
            ));
        };
        let code = u16::from_be_bytes([hdr[0], hdr[1]]);
        let len = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
        let name = format!("{} (option {code}) at byte {at}", option_name(code));
        if rest.len() < len {
            return Err(ParseError::new(
                name,
                format!("length {len} runs past the end ({} bytes left)", rest.len()),
            ));
        }
        let (data, rest) = rest.split_at(len);
        out.push((code, data, name, at + 4));
        at += 4 + len;
        buf = rest;
    }
    Ok(out)
}

fn fixed<const N: usize>(data: &[u8], name: &str) -> Result<[u8; N], ParseError> {
    data.try_into().map_err(|_| {
        ParseError::new(
            name,
            format!("length {} where exactly {N} is required", data.len()),
        )
    })
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn addr_at(b: &[u8], i: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[i..i + 16]);
    Ipv6Addr::from(a)
}

fn parse_status(data: &[u8], name: &str) -> Result<StatusCode, ParseError> {
    let Some((code, msg)) = data.split_first_chunk::<2>() else {
        return Err(ParseError::new(
            name,
            format!("length {} is shorter than the 2-byte code", data.len()),
        ));
    };
    let message = std::str::from_utf8(msg)
        .map_err(|e| {
            ParseError::new(
                name,
                format!(
                    "status message is not UTF-8 (bad byte at {})",
                    e.valid_up_to()
                ),
            )
        })?
        .to_string();
    Ok(StatusCode {
        code: u16::from_be_bytes(*code),
        message,
    })
}

fn parse_iaaddr(data: &[u8], name: &str, base: usize) -> Result<IaAddr, ParseError> {
    if data.len() < 24 {
        return Err(ParseError::new(
            name,
            format!(
                "length {} is shorter than the 24-byte address and lifetimes",
                data.len()
            ),
        ));
    }
    let mut options = Vec::new();
    for (code, d, inner, _) in split_options(&data[24..], base + 24).map_err(|e| e.inside(name))? {
        options.push(match code {
            code::STATUS_CODE => {
                IaAddrOption::StatusCode(parse_status(d, &inner).map_err(|e| e.inside(name))?)
            }
            _ => IaAddrOption::Unknown(RawOption {
                code,
                data: d.to_vec(),
            }),
        });
    }
    Ok(IaAddr {
        addr: addr_at(data, 0),
        preferred: u32_at(data, 16),
        valid: u32_at(data, 20),
        options,
    })
}

fn parse_ia_na(data: &[u8], name: &str, base: usize) -> Result<IaNa, ParseError> {
    if data.len() < 12 {
        return Err(ParseError::new(
            name,
            format!(
                "length {} is shorter than the 12-byte IAID, T1 and T2",
                data.len()
            ),
        ));
    }
    let mut options = Vec::new();
    for (code, d, inner, at) in split_options(&data[12..], base + 12).map_err(|e| e.inside(name))? {
        options.push(match code {
            code::IAADDR => {
                IaNaOption::IaAddr(parse_iaaddr(d, &inner, at).map_err(|e| e.inside(name))?)
            }
            code::STATUS_CODE => {
                IaNaOption::StatusCode(parse_status(d, &inner).map_err(|e| e.inside(name))?)
            }
            _ => IaNaOption::Unknown(RawOption {
                code,
                data: d.to_vec(),
            }),
        });
    }
    Ok(IaNa {
        iaid: u32_at(data, 0),
        t1: u32_at(data, 4),
        t2: u32_at(data, 8),
        options,
    })
}

/// Whether `b` may appear in a label we decode to text: printable ASCII but not the dot
/// (which would change the name's structure when encoded again).
fn label_byte_ok(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'.'
}

/// Decodes one uncompressed DNS wire-format name from the start of `data`. Returns the
/// dotted name, whether it ended with the root label, and the bytes it used. A name without
/// the root label is accepted only when `partial_ok` (the Client FQDN option's partial name).
fn decode_name(data: &[u8], partial_ok: bool) -> Result<(String, bool, usize), String> {
    let mut labels: Vec<&str> = Vec::new();
    let mut i = 0;
    let mut wire_len = 0usize;
    loop {
        let Some(&len) = data.get(i) else {
            if partial_ok {
                return Ok((labels.join("."), false, i));
            }
            return Err(format!("name ends at byte {i} without its root label"));
        };
        let len = usize::from(len);
        i += 1;
        wire_len += 1 + len;
        if wire_len > 255 {
            return Err("name longer than 255 bytes".into());
        }
        if len == 0 {
            return Ok((labels.join("."), true, i));
        }
        if len > 63 {
            // 0xc0 and up would be a compression pointer, not allowed in DHCPv6.
            return Err(format!("label length {len} at byte {} exceeds 63", i - 1));
        }
        let Some(label) = data.get(i..i + len) else {
            return Err(format!("label at byte {} runs past the end", i - 1));
        };
        if !label.iter().all(|&b| label_byte_ok(b)) {
            return Err(format!(
                "label at byte {} has a byte that is not printable ASCII (or is a dot)",
                i - 1
            ));
        }
        // label_byte_ok admits only ASCII, so this is valid UTF-8.
        labels.push(std::str::from_utf8(label).map_err(|_| "label is not ASCII".to_string())?);
        i += len;
    }
}

/// DNS wire encoding of a dotted name; `root` adds the terminating root label. Empty labels
/// are skipped and labels longer than 63 bytes cut (such names cannot be sent as given).
fn encode_name(name: &str, root: bool, out: &mut Vec<u8>) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    if root {
        out.push(0);
    }
}

fn parse_option(
    code: u16,
    data: &[u8],
    name: &str,
    base: usize,
) -> Result<Dhcp6Option, ParseError> {
    let u32_of = |d: &[u8]| fixed::<4>(d, name).map(u32::from_be_bytes);
    Ok(match code {
        code::CLIENTID | code::SERVERID => {
            if data.is_empty() {
                return Err(ParseError::new(name, "empty DUID"));
            }
            if code == code::CLIENTID {
                Dhcp6Option::ClientId(data.to_vec())
            } else {
                Dhcp6Option::ServerId(data.to_vec())
            }
        }
        code::IA_NA => Dhcp6Option::IaNa(parse_ia_na(data, name, base)?),
        code::ORO => {
            if !data.len().is_multiple_of(2) {
                return Err(ParseError::new(
                    name,
                    format!("odd length {} for a list of 2-byte codes", data.len()),
                ));
            }
            Dhcp6Option::Oro(
                data.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect(),
            )
        }
        code::PREFERENCE => Dhcp6Option::Preference(fixed::<1>(data, name)?[0]),
        code::ELAPSED_TIME => Dhcp6Option::ElapsedTime(u16::from_be_bytes(fixed(data, name)?)),
        code::UNICAST => Dhcp6Option::Unicast(Ipv6Addr::from(fixed::<16>(data, name)?)),
        code::STATUS_CODE => Dhcp6Option::StatusCode(parse_status(data, name)?),
        code::RAPID_COMMIT => {
            if !data.is_empty() {
                return Err(ParseError::new(
                    name,
                    format!("length {} where 0 is required", data.len()),
                ));
            }
            Dhcp6Option::RapidCommit
        }
        code::DNS_SERVERS => {
            if !data.len().is_multiple_of(16) {
                return Err(ParseError::new(
                    name,
                    format!("length {} is not a multiple of 16", data.len()),
                ));
            }
            Dhcp6Option::DnsServers(
                (0..data.len() / 16)
                    .map(|i| addr_at(data, i * 16))
                    .collect(),
            )
        }
        code::DOMAIN_LIST => {
            let mut names = Vec::new();
            let mut rest = data;
            while !rest.is_empty() {
                let (n, _, used) = decode_name(rest, false)
                    .map_err(|p| ParseError::new(format!("{name}: name {}", names.len() + 1), p))?;
                names.push(n);
                rest = &rest[used..];
            }
            Dhcp6Option::DomainList(names)
        }
        code::INFORMATION_REFRESH_TIME => Dhcp6Option::InformationRefreshTime(u32_of(data)?),
        code::CLIENT_FQDN => {
            let Some((&flags, wire)) = data.split_first() else {
                return Err(ParseError::new(name, "empty: no flags byte"));
            };
            let (n, fully_qualified, used) = decode_name(wire, true)
                .map_err(|p| ParseError::new(format!("{name}: domain name"), p))?;
            if used != wire.len() {
                return Err(ParseError::new(
                    format!("{name}: domain name"),
                    format!("{} bytes after the root label", wire.len() - used),
                ));
            }
            Dhcp6Option::ClientFqdn(ClientFqdn {
                flags,
                name: n,
                fully_qualified,
            })
        }
        code::SOL_MAX_RT => Dhcp6Option::SolMaxRt(u32_of(data)?),
        code::INF_MAX_RT => Dhcp6Option::InfMaxRt(u32_of(data)?),
        _ => Dhcp6Option::Unknown(RawOption {
            code,
            data: data.to_vec(),
        }),
    })
}

/// Appends option `code` with `data` (cut at 65535 bytes, the most an option can carry).
fn put(out: &mut Vec<u8>, code: u16, data: &[u8]) {
    let data = &data[..data.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

fn status_bytes(s: &StatusCode) -> Vec<u8> {
    let mut d = s.code.to_be_bytes().to_vec();
    d.extend_from_slice(s.message.as_bytes());
    d
}

fn iaaddr_bytes(a: &IaAddr) -> Vec<u8> {
    let mut d = a.addr.octets().to_vec();
    d.extend_from_slice(&a.preferred.to_be_bytes());
    d.extend_from_slice(&a.valid.to_be_bytes());
    for o in &a.options {
        match o {
            IaAddrOption::StatusCode(s) => put(&mut d, code::STATUS_CODE, &status_bytes(s)),
            IaAddrOption::Unknown(r) => put(&mut d, r.code, &r.data),
        }
    }
    d
}

fn ia_na_bytes(ia: &IaNa) -> Vec<u8> {
    let mut d = Vec::with_capacity(12);
    for v in [ia.iaid, ia.t1, ia.t2] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    for o in &ia.options {
        match o {
            IaNaOption::IaAddr(a) => put(&mut d, code::IAADDR, &iaaddr_bytes(a)),
            IaNaOption::StatusCode(s) => put(&mut d, code::STATUS_CODE, &status_bytes(s)),
            IaNaOption::Unknown(r) => put(&mut d, r.code, &r.data),
        }
    }
    d
}

impl Dhcp6Option {
    /// The option's code on the wire.
    pub fn code(&self) -> u16 {
        match self {
            Dhcp6Option::ClientId(_) => code::CLIENTID,
            Dhcp6Option::ServerId(_) => code::SERVERID,
            Dhcp6Option::IaNa(_) => code::IA_NA,
            Dhcp6Option::Oro(_) => code::ORO,
            Dhcp6Option::Preference(_) => code::PREFERENCE,
            Dhcp6Option::ElapsedTime(_) => code::ELAPSED_TIME,
            Dhcp6Option::Unicast(_) => code::UNICAST,
            Dhcp6Option::StatusCode(_) => code::STATUS_CODE,
            Dhcp6Option::RapidCommit => code::RAPID_COMMIT,
            Dhcp6Option::DnsServers(_) => code::DNS_SERVERS,
            Dhcp6Option::DomainList(_) => code::DOMAIN_LIST,
            Dhcp6Option::InformationRefreshTime(_) => code::INFORMATION_REFRESH_TIME,
            Dhcp6Option::ClientFqdn(_) => code::CLIENT_FQDN,
            Dhcp6Option::SolMaxRt(_) => code::SOL_MAX_RT,
            Dhcp6Option::InfMaxRt(_) => code::INF_MAX_RT,
            Dhcp6Option::Unknown(r) => r.code,
        }
    }

    /// The option's data on the wire (without the 4-byte option header).
    pub fn data(&self) -> Vec<u8> {
        match self {
            Dhcp6Option::ClientId(d) | Dhcp6Option::ServerId(d) => d.clone(),
            Dhcp6Option::IaNa(ia) => ia_na_bytes(ia),
            Dhcp6Option::Oro(codes) => codes.iter().flat_map(|c| c.to_be_bytes()).collect(),
            Dhcp6Option::Preference(p) => vec![*p],
            Dhcp6Option::ElapsedTime(t) => t.to_be_bytes().to_vec(),
            Dhcp6Option::Unicast(a) => a.octets().to_vec(),
            Dhcp6Option::StatusCode(s) => status_bytes(s),
            Dhcp6Option::RapidCommit => Vec::new(),
            Dhcp6Option::DnsServers(v) => v.iter().flat_map(|a| a.octets()).collect(),
            Dhcp6Option::DomainList(names) => {
                let mut d = Vec::new();
                for n in names {
                    encode_name(n, true, &mut d);
                }
                d
            }
            Dhcp6Option::InformationRefreshTime(v)
            | Dhcp6Option::SolMaxRt(v)
            | Dhcp6Option::InfMaxRt(v) => v.to_be_bytes().to_vec(),
            Dhcp6Option::ClientFqdn(f) => {
                let mut d = vec![f.flags];
                encode_name(&f.name, f.fully_qualified, &mut d);
                d
            }
            Dhcp6Option::Unknown(r) => r.data.clone(),
        }
    }
}

impl Dhcp6Message {
    /// A message of type `msg_type` in transaction `transaction_id`, without options.
    pub fn new(msg_type: MessageType, transaction_id: u32) -> Dhcp6Message {
        Dhcp6Message {
            msg_type,
            transaction_id: transaction_id & 0x00ff_ffff,
            options: Vec::new(),
        }
    }

    /// Parses a DHCPv6 message (the UDP payload). Rejects, naming the part: a header shorter
    /// than 4 bytes, relay and unassigned message types, options whose length runs past the
    /// end of the message (or of the option containing them), options of a wrong length,
    /// badly encoded domain names. Never panics.
    pub fn parse(buf: &[u8]) -> Result<Dhcp6Message, ParseError> {
        let Some((hdr, rest)) = buf.split_first_chunk::<4>() else {
            return Err(ParseError::new(
                "header",
                format!("truncated: {} bytes, 4 needed", buf.len()),
            ));
        };
        let msg_type = MessageType::from_u8(hdr[0]).ok_or_else(|| {
            ParseError::new(
                "header",
                match hdr[0] {
                    12 | 13 => format!("message type {} is a relay message", hdr[0]),
                    t => format!("unknown message type {t}"),
                },
            )
        })?;
        let mut m = Dhcp6Message::new(msg_type, u32::from_be_bytes([0, hdr[1], hdr[2], hdr[3]]));
        for (code, data, name, at) in split_options(rest, 4)? {
            m.options.push(parse_option(code, data, &name, at)?);
        }
        Ok(m)
    }

    /// Builds the UDP payload of this message (the transaction id's top 8 bits are dropped).
    pub fn emit(&self) -> Vec<u8> {
        let mut b = vec![self.msg_type as u8];
        b.extend_from_slice(&self.transaction_id.to_be_bytes()[1..]);
        for o in &self.options {
            put(&mut b, o.code(), &o.data());
        }
        b
    }

    /// The Client Identifier (DUID), if present.
    pub fn client_id(&self) -> Option<&[u8]> {
        self.options.iter().find_map(|o| match o {
            Dhcp6Option::ClientId(d) => Some(d.as_slice()),
            _ => None,
        })
    }

    /// The Server Identifier (DUID), if present.
    pub fn server_id(&self) -> Option<&[u8]> {
        self.options.iter().find_map(|o| match o {
            Dhcp6Option::ServerId(d) => Some(d.as_slice()),
            _ => None,
        })
    }

    /// The first IA_NA with identifier `iaid`, if present.
    pub fn ia_na(&self, iaid: u32) -> Option<&IaNa> {
        self.options.iter().find_map(|o| match o {
            Dhcp6Option::IaNa(ia) if ia.iaid == iaid => Some(ia),
            _ => None,
        })
    }

    /// The message-level status code, if present.
    pub fn status(&self) -> Option<&StatusCode> {
        self.options.iter().find_map(|o| match o {
            Dhcp6Option::StatusCode(s) => Some(s),
            _ => None,
        })
    }

    /// The server preference (0 when absent, as RFC 8415 §18.2.9 says).
    pub fn preference(&self) -> u8 {
        self.options
            .iter()
            .find_map(|o| match o {
                Dhcp6Option::Preference(p) => Some(*p),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// All DNS servers, from every DNS_SERVERS option in order.
    pub fn dns_servers(&self) -> Vec<Ipv6Addr> {
        self.options
            .iter()
            .filter_map(|o| match o {
                Dhcp6Option::DnsServers(v) => Some(v.iter().copied()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// All search domains, from every DOMAIN_LIST option in order.
    pub fn domain_list(&self) -> Vec<String> {
        self.options
            .iter()
            .filter_map(|o| match o {
                Dhcp6Option::DomainList(v) => Some(v.iter().cloned()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The first option whose value is a `u32` of `code` (Information Refresh Time,
    /// SOL_MAX_RT, INF_MAX_RT), if present.
    pub fn time_option(&self, code: u16) -> Option<u32> {
        self.options.iter().find_map(|o| match o {
            Dhcp6Option::InformationRefreshTime(v) if code == code::INFORMATION_REFRESH_TIME => {
                Some(*v)
            }
            Dhcp6Option::SolMaxRt(v) if code == code::SOL_MAX_RT => Some(*v),
            Dhcp6Option::InfMaxRt(v) if code == code::INF_MAX_RT => Some(*v),
            _ => None,
        })
    }

    /// Whether a Rapid Commit option is present.
    pub fn rapid_commit(&self) -> bool {
        self.options
            .iter()
            .any(|o| matches!(o, Dhcp6Option::RapidCommit))
    }
}
