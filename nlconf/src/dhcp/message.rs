//! DHCPv4 messages (RFC 2131, options of RFC 2132, RFC 3396 and RFC 4702): parse and build the
//! UDP payload.
//!
//! Parsing reads the options field, then `file` and `sname` when option 52 (overload) says
//! they carry options (RFC 2131 §4.1), and concatenates every instance of an option code in
//! that order before decoding it (RFC 3396). Text options (host name, domain name) are kept
//! as the bytes that came, less the trailing NULs RFC 2132 tells receivers to delete: nothing
//! makes a server send UTF-8. Unknown options are skipped. A malformed message is rejected
//! with a [`ParseError`] naming the bad part.
//!
//! Building puts every option in the options field (`file` and `sname` carry
//! [`DhcpMessage::file`] and [`DhcpMessage::sname`], never options) and splits values longer
//! than 255 bytes into consecutive instances (RFC 3396), so whatever parses emits to bytes
//! that parse back to the same message.

use std::fmt;
use std::io;
use std::net::Ipv4Addr;

/// BOOTP operation: request (client to server).
pub const BOOTREQUEST: u8 = 1;
/// BOOTP operation: reply (server to client).
pub const BOOTREPLY: u8 = 2;
/// UDP port of DHCP servers.
pub const SERVER_PORT: u16 = 67;
/// UDP port of DHCP clients.
pub const CLIENT_PORT: u16 = 68;
const MAGIC: [u8; 4] = [99, 130, 83, 99];
const FIXED_LEN: usize = 236;
/// The broadcast bit of the `flags` field.
pub const FLAG_BROADCAST: u16 = 0x8000;

/// DHCP message types (option 53).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    /// DHCPDISCOVER.
    Discover = 1,
    /// DHCPOFFER.
    Offer = 2,
    /// DHCPREQUEST.
    Request = 3,
    /// DHCPDECLINE.
    Decline = 4,
    /// DHCPACK.
    Ack = 5,
    /// DHCPNAK.
    Nak = 6,
    /// DHCPRELEASE.
    Release = 7,
    /// DHCPINFORM.
    Inform = 8,
}

impl MessageType {
    fn from_u8(v: u8) -> Option<MessageType> {
        Some(match v {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            _ => return None,
        })
    }
}

mod opt {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const ROUTER: u8 = 3;
    pub const DNS: u8 = 6;
    pub const HOSTNAME: u8 = 12;
    pub const DOMAIN: u8 = 15;
    pub const REQUESTED_IP: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMS: u8 = 55;
    pub const T1: u8 = 58;
    pub const T2: u8 = 59;
    pub const CLIENT_ID: u8 = 61;
    pub const FQDN: u8 = 81;
    pub const END: u8 = 255;
}

/// Where the fixed `sname` (64 bytes) and `file` (128 bytes) fields lie.
const SNAME: std::ops::Range<usize> = 44..108;
const FILE: std::ops::Range<usize> = 108..236;

/// Why a DHCPv4 message was rejected: the part that was bad, and what was wrong with it.
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

    /// The offending part, e.g. `"header"`, `"options field at byte 250"` or
    /// `"router (option 3)"`.
    pub fn part(&self) -> &str {
        &self.part
    }

    /// What was wrong with it.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad DHCPv4 message: {}: {}", self.part, self.problem)
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

fn option_name(code: u8) -> String {
    let name = match code {
        opt::SUBNET_MASK => "subnet mask",
        opt::ROUTER => "router",
        opt::DNS => "domain name server",
        opt::HOSTNAME => "host name",
        opt::DOMAIN => "domain name",
        opt::REQUESTED_IP => "requested address",
        opt::LEASE_TIME => "lease time",
        opt::OVERLOAD => "option overload",
        opt::MESSAGE_TYPE => "message type",
        opt::SERVER_ID => "server identifier",
        opt::PARAMS => "parameter request list",
        opt::T1 => "renewal time",
        opt::T2 => "rebinding time",
        opt::FQDN => "client FQDN",
        _ => return format!("option {code}"),
    };
    format!("{name} (option {code})")
}

/// Option 81, client FQDN (RFC 4702): the client's name and who updates the DNS for it.
///
/// The name is kept as it came, so that a message re-emits to the same bytes; a
/// wire-encoded one (flag E) is checked to be a sequence of labels when parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFqdn {
    /// Flags: [`ClientFqdn::S`], [`ClientFqdn::O`], [`ClientFqdn::E`], [`ClientFqdn::N`].
    pub flags: u8,
    /// RCODE1 and RCODE2 (deprecated: 0 from clients, 255 from servers).
    pub rcodes: [u8; 2],
    /// The name: DNS wire encoding when `flags` has E (labels, ending with the empty root
    /// label when fully qualified), else the deprecated ASCII form.
    pub name: Vec<u8>,
}

impl ClientFqdn {
    /// S: the server is to update the A record.
    pub const S: u8 = 0x01;
    /// O: the server overrode the client's S.
    pub const O: u8 = 0x02;
    /// E: the name is in DNS wire encoding.
    pub const E: u8 = 0x04;
    /// N: no server is to update the DNS.
    pub const N: u8 = 0x08;

    /// The option a client sends for the dotted `name` (a trailing dot is optional): flags S
    /// and E, the name fully qualified in wire encoding. Empty labels are dropped and labels
    /// longer than 63 bytes cut.
    pub fn new(name: &str) -> ClientFqdn {
        let mut wire = Vec::new();
        for label in name.split('.').filter(|l| !l.is_empty()) {
            let l = &label.as_bytes()[..label.len().min(63)];
            wire.push(l.len() as u8);
            wire.extend_from_slice(l);
        }
        wire.push(0);
        ClientFqdn {
            flags: ClientFqdn::S | ClientFqdn::E,
            rcodes: [0, 0],
            name: wire,
        }
    }

    /// The name as dotted text without a trailing dot, or None when it is not text (a label
    /// that is not UTF-8 or holds a dot, or a broken wire encoding).
    pub fn to_dotted(&self) -> Option<String> {
        if self.flags & ClientFqdn::E == 0 {
            let mut name = self.name.as_slice();
            while let [rest @ .., 0 | b'.'] = name {
                name = rest;
            }
            return std::str::from_utf8(name).ok().map(str::to_string);
        }
        let labels = wire_labels(&self.name).ok()?;
        let mut text = Vec::with_capacity(labels.len());
        for label in labels {
            let label = std::str::from_utf8(label).ok()?;
            if label.contains('.') {
                return None;
            }
            text.push(label);
        }
        Some(text.join("."))
    }
}

/// The labels of a wire-encoded name (RFC 1035 §3.1, no compression): fully qualified when
/// it ends with the empty root label, partial (RFC 4702 §2.3.1) when the data ends first.
fn wire_labels(mut name: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut labels = Vec::new();
    while let Some((&len, after)) = name.split_first() {
        let len = usize::from(len);
        if len == 0 {
            if !after.is_empty() {
                return Err(format!("{} bytes after the root label", after.len()));
            }
            break;
        }
        if len > 63 {
            return Err(format!(
                "label length {len} (above 63: a compression pointer or garbage)"
            ));
        }
        if after.len() < len {
            return Err(format!(
                "label of {len} bytes with {} left in the option",
                after.len()
            ));
        }
        let (label, rest) = after.split_at(len);
        labels.push(label);
        name = rest;
    }
    Ok(labels)
}

/// A DHCPv4 message with the options this crate uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhcpMessage {
    /// BOOTREQUEST or BOOTREPLY.
    pub op: u8,
    /// Transaction id.
    pub xid: u32,
    /// Seconds since the client began.
    pub secs: u16,
    /// Flags (broadcast bit).
    pub flags: u16,
    /// Client address (when bound, renewing, rebinding).
    pub ciaddr: Ipv4Addr,
    /// "Your" address: the one offered or assigned.
    pub yiaddr: Ipv4Addr,
    /// Next server address.
    pub siaddr: Ipv4Addr,
    /// Relay agent address.
    pub giaddr: Ipv4Addr,
    /// Client hardware (MAC) address.
    pub chaddr: [u8; 6],
    /// Server host name (the `sname` field up to its first NUL, at most 64 bytes); empty when
    /// the field is unused or carried options (overload). Longer values are cut when emitted.
    pub sname: Vec<u8>,
    /// Boot file name (the `file` field up to its first NUL, at most 128 bytes); empty when
    /// the field is unused or carried options (overload). Longer values are cut when emitted.
    pub file: Vec<u8>,
    /// Option 53.
    pub message_type: MessageType,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Addr>,
    /// Option 3.
    pub routers: Vec<Ipv4Addr>,
    /// Option 6.
    pub dns: Vec<Ipv4Addr>,
    /// Option 15, as sent (not necessarily UTF-8); an empty one is not sent.
    pub domain: Option<Vec<u8>>,
    /// Option 50.
    pub requested_ip: Option<Ipv4Addr>,
    /// Option 51, seconds.
    pub lease_time: Option<u32>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 58, seconds.
    pub t1: Option<u32>,
    /// Option 59, seconds.
    pub t2: Option<u32>,
    /// Option 12, as sent (not necessarily UTF-8); an empty one is not sent.
    pub hostname: Option<Vec<u8>>,
    /// Option 81 (client FQDN).
    pub fqdn: Option<ClientFqdn>,
    /// Option 55 (parameter request list); an empty one is not sent.
    pub params: Vec<u8>,
}

/// The options of a message: each code once, its instances concatenated (RFC 3396), in the
/// order the codes first came.
#[derive(Default)]
struct Options(Vec<(u8, Vec<u8>)>);

impl Options {
    fn append(&mut self, code: u8, data: &[u8]) {
        match self.0.iter_mut().find(|(c, _)| *c == code) {
            Some((_, v)) => v.extend_from_slice(data),
            None => self.0.push((code, data.to_vec())),
        }
    }

    fn get(&self, code: u8) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    /// Reads the options of one area (`area` starts at byte `base` of the message), up to
    /// END or the area's end.
    fn scan(&mut self, area: &[u8], base: usize, name: &str) -> Result<(), ParseError> {
        let mut at = 0;
        while let Some(&code) = area.get(at) {
            match code {
                opt::PAD => {
                    at += 1;
                    continue;
                }
                opt::END => break,
                _ => {}
            }
            let here = || format!("{} in the {name} at byte {}", option_name(code), base + at);
            let Some(&len) = area.get(at + 1) else {
                return Err(ParseError::new(here(), "no length byte"));
            };
            let len = usize::from(len);
            let Some(data) = area.get(at + 2..at + 2 + len) else {
                return Err(ParseError::new(
                    here(),
                    format!(
                        "length {len} runs past the {name} ({} bytes left)",
                        area.len() - at - 2
                    ),
                ));
            };
            self.append(code, data);
            at += 2 + len;
        }
        Ok(())
    }
}

fn ip(code: u8, d: &[u8]) -> Result<Ipv4Addr, ParseError> {
    let b: [u8; 4] = d
        .try_into()
        .map_err(|_| ParseError::new(option_name(code), format!("length {}, not 4", d.len())))?;
    Ok(Ipv4Addr::from(b))
}

fn ips(code: u8, d: &[u8]) -> Result<Vec<Ipv4Addr>, ParseError> {
    if d.is_empty() || !d.len().is_multiple_of(4) {
        return Err(ParseError::new(
            option_name(code),
            format!("length {}, not a positive multiple of 4", d.len()),
        ));
    }
    Ok(d.chunks_exact(4)
        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
        .collect())
}

fn secs(code: u8, d: &[u8]) -> Result<u32, ParseError> {
    let b: [u8; 4] = d
        .try_into()
        .map_err(|_| ParseError::new(option_name(code), format!("length {}, not 4", d.len())))?;
    Ok(u32::from_be_bytes(b))
}

/// NVT ASCII text as sent, less trailing NULs (RFC 2132 §2); None when nothing is left.
fn text(d: &[u8]) -> Option<Vec<u8>> {
    let end = d.iter().rposition(|&b| b != 0)? + 1;
    Some(d[..end].to_vec())
}

/// A fixed string field (`sname`, `file`): up to its first NUL.
fn c_string(d: &[u8]) -> Vec<u8> {
    let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
    d[..end].to_vec()
}

impl DhcpMessage {
    /// A message of `message_type` from a client with `chaddr`, all else empty.
    pub fn new(op: u8, message_type: MessageType, xid: u32, chaddr: [u8; 6]) -> DhcpMessage {
        DhcpMessage {
            op,
            xid,
            secs: 0,
            flags: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            sname: Vec::new(),
            file: Vec::new(),
            message_type,
            subnet_mask: None,
            routers: Vec::new(),
            dns: Vec::new(),
            domain: None,
            requested_ip: None,
            lease_time: None,
            server_id: None,
            t1: None,
            t2: None,
            hostname: None,
            fqdn: None,
            params: Vec::new(),
        }
    }

    /// Parses a DHCP message (the UDP payload). Rejects, naming the bad part, what is not a
    /// well-formed DHCP message with an Ethernet hardware address and a message type.
    pub fn parse(buf: &[u8]) -> Result<DhcpMessage, ParseError> {
        if buf.len() < FIXED_LEN + 4 {
            return Err(ParseError::new(
                "header",
                format!(
                    "{} bytes, shorter than the fixed part and magic cookie ({})",
                    buf.len(),
                    FIXED_LEN + 4
                ),
            ));
        }
        if buf[1] != 1 || buf[2] != 6 {
            return Err(ParseError::new(
                "header",
                format!(
                    "hardware type {} of length {}, not Ethernet (1, 6)",
                    buf[1], buf[2]
                ),
            ));
        }
        if buf[FIXED_LEN..FIXED_LEN + 4] != MAGIC {
            return Err(ParseError::new("header", "no magic cookie at byte 236"));
        }
        let ip_at = |i: usize| Ipv4Addr::new(buf[i], buf[i + 1], buf[i + 2], buf[i + 3]);
        let mut chaddr = [0u8; 6];
        chaddr.copy_from_slice(&buf[28..34]);
        let mut m = DhcpMessage::new(
            buf[0],
            MessageType::Discover,
            u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            chaddr,
        );
        m.secs = u16::from_be_bytes([buf[8], buf[9]]);
        m.flags = u16::from_be_bytes([buf[10], buf[11]]);
        m.ciaddr = ip_at(12);
        m.yiaddr = ip_at(16);
        m.siaddr = ip_at(20);
        m.giaddr = ip_at(24);

        let mut opts = Options::default();
        opts.scan(&buf[FIXED_LEN + 4..], FIXED_LEN + 4, "options field")?;
        // RFC 2131 §4.1: option 52 in the options field says whether `file` (1), `sname` (2)
        // or both (3) hold more options; they are read in that order (RFC 3396 §7).
        let overload = match opts.get(opt::OVERLOAD) {
            None => 0,
            Some([v @ 1..=3]) => *v,
            Some([v]) => {
                return Err(ParseError::new(
                    option_name(opt::OVERLOAD),
                    format!("value {v}, not 1 (file), 2 (sname) or 3 (both)"),
                ));
            }
            Some(d) => {
                return Err(ParseError::new(
                    option_name(opt::OVERLOAD),
                    format!("length {}, not 1", d.len()),
                ));
            }
        };
        if overload & 1 != 0 {
            opts.scan(&buf[FILE], FILE.start, "file field")?;
        } else {
            m.file = c_string(&buf[FILE]);
        }
        if overload & 2 != 0 {
            opts.scan(&buf[SNAME], SNAME.start, "sname field")?;
        } else {
            m.sname = c_string(&buf[SNAME]);
        }
        if overload != 0 && opts.get(opt::OVERLOAD) != Some(&[overload]) {
            return Err(ParseError::new(
                option_name(opt::OVERLOAD),
                "also inside the file or sname field it overloads",
            ));
        }

        let mut message_type = None;
        for (code, data) in &opts.0 {
            let (code, data) = (*code, data.as_slice());
            match code {
                opt::MESSAGE_TYPE => {
                    message_type = Some(match data {
                        [t] => MessageType::from_u8(*t).ok_or_else(|| {
                            ParseError::new(option_name(code), format!("unknown type {t}"))
                        })?,
                        _ => {
                            return Err(ParseError::new(
                                option_name(code),
                                format!("length {}, not 1", data.len()),
                            ));
                        }
                    })
                }
                opt::SUBNET_MASK => m.subnet_mask = Some(ip(code, data)?),
                opt::ROUTER => m.routers = ips(code, data)?,
                opt::DNS => m.dns = ips(code, data)?,
                opt::DOMAIN => m.domain = text(data),
                opt::HOSTNAME => m.hostname = text(data),
                opt::REQUESTED_IP => m.requested_ip = Some(ip(code, data)?),
                opt::LEASE_TIME => m.lease_time = Some(secs(code, data)?),
                opt::SERVER_ID => m.server_id = Some(ip(code, data)?),
                opt::T1 => m.t1 = Some(secs(code, data)?),
                opt::T2 => m.t2 = Some(secs(code, data)?),
                opt::PARAMS => m.params = data.to_vec(),
                opt::FQDN => {
                    let [flags, r1, r2, name @ ..] = data else {
                        return Err(ParseError::new(
                            option_name(code),
                            format!("length {}, shorter than 3", data.len()),
                        ));
                    };
                    if flags & ClientFqdn::E != 0 {
                        wire_labels(name).map_err(|e| {
                            ParseError::new(option_name(code), format!("bad name: {e}"))
                        })?;
                    }
                    m.fqdn = Some(ClientFqdn {
                        flags: *flags,
                        rcodes: [*r1, *r2],
                        name: name.to_vec(),
                    });
                }
                _ => {}
            }
        }
        m.message_type = message_type
            .ok_or_else(|| ParseError::new(option_name(opt::MESSAGE_TYPE), "missing"))?;
        Ok(m)
    }

    /// Builds the UDP payload of this message.
    pub fn emit(&self) -> Vec<u8> {
        let mut b = vec![0u8; FIXED_LEN];
        b[0] = self.op;
        b[1] = 1;
        b[2] = 6;
        b[4..8].copy_from_slice(&self.xid.to_be_bytes());
        b[8..10].copy_from_slice(&self.secs.to_be_bytes());
        b[10..12].copy_from_slice(&self.flags.to_be_bytes());
        b[12..16].copy_from_slice(&self.ciaddr.octets());
        b[16..20].copy_from_slice(&self.yiaddr.octets());
        b[20..24].copy_from_slice(&self.siaddr.octets());
        b[24..28].copy_from_slice(&self.giaddr.octets());
        b[28..34].copy_from_slice(&self.chaddr);
        let sname = &self.sname[..self.sname.len().min(SNAME.len())];
        b[SNAME.start..SNAME.start + sname.len()].copy_from_slice(sname);
        let file = &self.file[..self.file.len().min(FILE.len())];
        b[FILE.start..FILE.start + file.len()].copy_from_slice(file);
        b.extend_from_slice(&MAGIC);
        // RFC 3396: a value longer than 255 bytes goes in consecutive instances (address
        // lists split between addresses, for receivers that decode each instance alone); an
        // empty value is not sent (parsing reads it as absent).
        let mut put = |code: u8, data: &[u8]| {
            let most = if matches!(code, opt::ROUTER | opt::DNS) {
                252
            } else {
                255
            };
            for chunk in data.chunks(most) {
                b.push(code);
                b.push(chunk.len() as u8);
                b.extend_from_slice(chunk);
            }
        };
        put(opt::MESSAGE_TYPE, &[self.message_type as u8]);
        let mut client_id = vec![1u8];
        client_id.extend_from_slice(&self.chaddr);
        if self.op == BOOTREQUEST {
            put(opt::CLIENT_ID, &client_id);
        }
        if let Some(a) = self.requested_ip {
            put(opt::REQUESTED_IP, &a.octets());
        }
        if let Some(a) = self.server_id {
            put(opt::SERVER_ID, &a.octets());
        }
        if let Some(a) = self.subnet_mask {
            put(opt::SUBNET_MASK, &a.octets());
        }
        let list = |v: &[Ipv4Addr]| v.iter().flat_map(|a| a.octets()).collect::<Vec<u8>>();
        put(opt::ROUTER, &list(&self.routers));
        put(opt::DNS, &list(&self.dns));
        if let Some(d) = &self.domain {
            put(opt::DOMAIN, d);
        }
        if let Some(h) = &self.hostname {
            put(opt::HOSTNAME, h);
        }
        if let Some(f) = &self.fqdn {
            let mut data = vec![f.flags, f.rcodes[0], f.rcodes[1]];
            data.extend_from_slice(&f.name);
            put(opt::FQDN, &data);
        }
        for (code, v) in [
            (opt::LEASE_TIME, self.lease_time),
            (opt::T1, self.t1),
            (opt::T2, self.t2),
        ] {
            if let Some(v) = v {
                put(code, &v.to_be_bytes());
            }
        }
        put(opt::PARAMS, &self.params);
        b.push(opt::END);
        // Some servers and relays drop BOOTP messages shorter than 300 bytes.
        if b.len() < 300 {
            b.resize(300, 0);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_every_option() {
        let mut m = DhcpMessage::new(BOOTREPLY, MessageType::Ack, 0x1234_5678, [2, 1, 2, 3, 4, 5]);
        m.yiaddr = Ipv4Addr::new(10, 0, 0, 50);
        m.flags = FLAG_BROADCAST;
        m.sname = b"server".to_vec();
        m.file = b"pxelinux.0".to_vec();
        m.subnet_mask = Some(Ipv4Addr::new(255, 255, 255, 0));
        m.routers = vec![Ipv4Addr::new(10, 0, 0, 1)];
        m.dns = vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)];
        m.domain = Some(b"lan".to_vec());
        m.lease_time = Some(3600);
        m.t1 = Some(1800);
        m.t2 = Some(3150);
        m.server_id = Some(Ipv4Addr::new(10, 0, 0, 1));
        m.hostname = Some(b"h".to_vec());
        m.fqdn = Some(ClientFqdn::new("h.example.org"));
        m.params = vec![1, 3, 6];
        let bytes = m.emit();
        assert!(bytes.len() >= 300);
        assert_eq!(DhcpMessage::parse(&bytes), Ok(m));
    }

    #[test]
    fn client_fqdn_names() {
        let f = ClientFqdn::new("h.example.org.");
        assert_eq!(f.name, b"\x01h\x07example\x03org\x00");
        assert_eq!(f.to_dotted().as_deref(), Some("h.example.org"));
        let ascii = ClientFqdn {
            flags: 0,
            rcodes: [0, 0],
            name: b"h.lan.\0".to_vec(),
        };
        assert_eq!(ascii.to_dotted().as_deref(), Some("h.lan"));
        let dotted_label = ClientFqdn {
            name: b"\x03a.b\x00".to_vec(),
            ..f.clone()
        };
        assert_eq!(dotted_label.to_dotted(), None);
        assert!(wire_labels(b"\x01a").is_ok(), "a partial name");
        assert!(wire_labels(b"\xc0\x0c").is_err(), "compression");
        assert!(wire_labels(b"\x00\x01a").is_err(), "bytes after the root");
        assert!(wire_labels(b"\x05ab").is_err(), "a label past the end");
    }
}
