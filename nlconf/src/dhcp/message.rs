//! DHCPv4 messages (RFC 2131, options of RFC 2132 and RFC 4702): parse and build the UDP
//! payload. Unknown options are skipped; malformed messages are rejected with EBADMSG and a
//! log line naming the fault.

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
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMS: u8 = 55;
    pub const T1: u8 = 58;
    pub const T2: u8 = 59;
    pub const CLIENT_ID: u8 = 61;
    pub const FQDN: u8 = 81;
    pub const END: u8 = 255;
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
    /// Option 53.
    pub message_type: MessageType,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Addr>,
    /// Option 3.
    pub routers: Vec<Ipv4Addr>,
    /// Option 6.
    pub dns: Vec<Ipv4Addr>,
    /// Option 15.
    pub domain: Option<String>,
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
    /// Option 12.
    pub hostname: Option<String>,
    /// Option 81 (client FQDN), as a dotted name.
    pub fqdn: Option<String>,
    /// Option 55 (parameter request list).
    pub params: Vec<u8>,
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

    /// Parses a DHCP message (the UDP payload). EBADMSG if it is not a well-formed DHCP
    /// message with an Ethernet hardware address and a message type.
    pub fn parse(buf: &[u8]) -> io::Result<DhcpMessage> {
        let bad = |what: &str| {
            log::debug!("bad DHCP message: {what}");
            io::Error::from_raw_os_error(libc::EBADMSG)
        };
        if buf.len() < FIXED_LEN + 4 {
            return Err(bad("shorter than the fixed part"));
        }
        if buf[1] != 1 || buf[2] != 6 {
            return Err(bad("hardware type is not Ethernet"));
        }
        if buf[FIXED_LEN..FIXED_LEN + 4] != MAGIC {
            return Err(bad("no magic cookie"));
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
        let mut message_type = None;
        let mut rest = &buf[FIXED_LEN + 4..];
        while let Some((&code, after)) = rest.split_first() {
            match code {
                opt::PAD => {
                    rest = after;
                    continue;
                }
                opt::END => break,
                _ => {}
            }
            let (&len, after) = after
                .split_first()
                .ok_or_else(|| bad("option without length"))?;
            let len = usize::from(len);
            if after.len() < len {
                return Err(bad("option longer than the message"));
            }
            let (data, after) = after.split_at(len);
            rest = after;
            let ip = |d: &[u8]| -> io::Result<Ipv4Addr> {
                if d.len() != 4 {
                    return Err(bad("address option of wrong length"));
                }
                Ok(Ipv4Addr::new(d[0], d[1], d[2], d[3]))
            };
            let ips = |d: &[u8]| -> io::Result<Vec<Ipv4Addr>> {
                if d.is_empty() || !d.len().is_multiple_of(4) {
                    return Err(bad("address list of wrong length"));
                }
                Ok(d.chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect())
            };
            let secs = |d: &[u8]| -> io::Result<u32> {
                let b: [u8; 4] = d
                    .try_into()
                    .map_err(|_| bad("time option of wrong length"))?;
                Ok(u32::from_be_bytes(b))
            };
            let text = |d: &[u8]| {
                String::from_utf8_lossy(d)
                    .trim_end_matches('\0')
                    .to_string()
            };
            match code {
                opt::MESSAGE_TYPE => {
                    message_type = match data {
                        [t] => Some(
                            MessageType::from_u8(*t).ok_or_else(|| bad("unknown message type"))?,
                        ),
                        _ => return Err(bad("message type of wrong length")),
                    }
                }
                opt::SUBNET_MASK => m.subnet_mask = Some(ip(data)?),
                opt::ROUTER => m.routers = ips(data)?,
                opt::DNS => m.dns = ips(data)?,
                opt::DOMAIN => m.domain = Some(text(data)),
                opt::HOSTNAME => m.hostname = Some(text(data)),
                opt::REQUESTED_IP => m.requested_ip = Some(ip(data)?),
                opt::LEASE_TIME => m.lease_time = Some(secs(data)?),
                opt::SERVER_ID => m.server_id = Some(ip(data)?),
                opt::T1 => m.t1 = Some(secs(data)?),
                opt::T2 => m.t2 = Some(secs(data)?),
                opt::PARAMS => m.params = data.to_vec(),
                opt::FQDN if data.len() >= 3 => m.fqdn = Some(decode_fqdn(data[0], &data[3..])),
                _ => {}
            }
        }
        m.message_type = message_type.ok_or_else(|| bad("no message type option"))?;
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
        b.extend_from_slice(&MAGIC);
        let mut put = |code: u8, data: &[u8]| {
            for chunk in data.chunks(255) {
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
        if !self.routers.is_empty() {
            put(opt::ROUTER, &list(&self.routers));
        }
        if !self.dns.is_empty() {
            put(opt::DNS, &list(&self.dns));
        }
        if let Some(d) = &self.domain {
            put(opt::DOMAIN, d.as_bytes());
        }
        if let Some(h) = &self.hostname {
            put(opt::HOSTNAME, h.as_bytes());
        }
        if let Some(f) = &self.fqdn {
            // flags: S (server updates A) | E (canonical wire encoding); rcodes 0.
            let mut data = vec![0x05, 0, 0];
            data.extend(encode_name(f));
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
        if !self.params.is_empty() {
            put(opt::PARAMS, &self.params);
        }
        b.push(opt::END);
        // Some servers and relays drop BOOTP messages shorter than 300 bytes.
        if b.len() < 300 {
            b.resize(300, 0);
        }
        b
    }
}

/// DNS wire encoding of a dotted name (labels longer than 63 bytes are cut).
fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
    out
}

/// Decodes option 81's name: wire encoding when the E flag is set, else ASCII.
fn decode_fqdn(flags: u8, data: &[u8]) -> String {
    if flags & 0x04 == 0 {
        return String::from_utf8_lossy(data)
            .trim_end_matches('\0')
            .to_string();
    }
    let mut labels = Vec::new();
    let mut rest = data;
    while let Some((&len, after)) = rest.split_first() {
        let len = usize::from(len);
        if len == 0 || len > 63 || after.len() < len {
            break;
        }
        labels.push(String::from_utf8_lossy(&after[..len]).into_owned());
        rest = &after[len..];
    }
    labels.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_every_option() {
        let mut m = DhcpMessage::new(BOOTREPLY, MessageType::Ack, 0x1234_5678, [2, 1, 2, 3, 4, 5]);
        m.yiaddr = Ipv4Addr::new(10, 0, 0, 50);
        m.flags = FLAG_BROADCAST;
        m.subnet_mask = Some(Ipv4Addr::new(255, 255, 255, 0));
        m.routers = vec![Ipv4Addr::new(10, 0, 0, 1)];
        m.dns = vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)];
        m.domain = Some("lan".into());
        m.lease_time = Some(3600);
        m.t1 = Some(1800);
        m.t2 = Some(3150);
        m.server_id = Some(Ipv4Addr::new(10, 0, 0, 1));
        m.hostname = Some("h".into());
        m.fqdn = Some("h.example.org".into());
        m.params = vec![1, 3, 6];
        let bytes = m.emit();
        assert!(bytes.len() >= 300);
        assert_eq!(DhcpMessage::parse(&bytes).unwrap(), m);
    }

    #[test]
    fn rejects_malformed_messages() {
        let good = DhcpMessage::new(BOOTREQUEST, MessageType::Discover, 1, [2; 6]).emit();
        assert!(DhcpMessage::parse(&good).is_ok());
        assert!(DhcpMessage::parse(&good[..200]).is_err());
        let mut no_magic = good.clone();
        no_magic[236] = 0;
        assert!(DhcpMessage::parse(&no_magic).is_err());
        let mut not_ether = good.clone();
        not_ether[1] = 6;
        assert!(DhcpMessage::parse(&not_ether).is_err());
        // an option running past the end
        let mut long = good[..240].to_vec();
        long.extend_from_slice(&[53, 1, 1, 6, 200, 1]);
        assert!(DhcpMessage::parse(&long).is_err());
        // no message type
        let mut untyped = good[..240].to_vec();
        untyped.push(255);
        assert!(DhcpMessage::parse(&untyped).is_err());
        // unknown options are skipped
        let mut extra = good[..240].to_vec();
        extra.extend_from_slice(&[200, 2, 9, 9, 53, 1, 2, 255]);
        assert_eq!(
            DhcpMessage::parse(&extra).unwrap().message_type,
            MessageType::Offer
        );
    }
}
