//! What the DHCPv4 server (`namedhcp4`) answers, without I/O. The client's Client FQDN
//! (option 81) names it; DNS gives its address (the A record) and its options (a TXT record
//! `mask=…,router=…,broadcast=…,dns=…,domname=…,ntp=…`, see [`super::txt`]); the lease is
//! infinite. Following RFC 2131 §4.3:
//!
//! - DISCOVER: an OFFER when DNS has an address for the name, silence otherwise;
//! - REQUEST with our server identifier (SELECTING): an ACK, or a NAK when the name has no
//!   address or the client asks for another one; for another server: silence;
//! - REQUEST without one (INIT-REBOOT, RENEWING, REBINDING): an ACK when the address asked
//!   (option 50, else `ciaddr`) is the name's, a NAK when it is not; silence for a name DNS
//!   does not know ("no record of this client");
//! - INFORM: an ACK with the options, no address; DECLINE and RELEASE: nothing to answer
//!   (a declined address is logged).
//!
//! A DNS failure is silence. Relayed messages (`giaddr` set) are not served. Options go
//! back when the client's Parameter Request List asks for them, as in the original: the
//! name's TXT values first, else the server's own (`-D`, `-S`, `-N`).

use std::net::Ipv4Addr;

use dhcproto::v4::{
    DhcpOption, DhcpOptions, Message, MessageType, Opcode, OptionCode, UnknownOption,
};

use super::fqdn::ClientFqdn4;
use super::txt::TxtOptions;
use super::wire::{code, raw_option};

/// The lease time sent: infinite.
pub const INFINITE: u32 = u32::MAX;

/// Who the server is and what it offers when a name's TXT record does not say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server4 {
    /// The server identifier: the server's address on the served interface.
    pub id: Ipv4Addr,
    /// Options offered to every client (TXT values take precedence).
    pub defaults: TxtOptions,
}

/// What DNS says about a client's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameLookup4 {
    /// The name's address, the absolute name and its TXT options.
    Found {
        /// The absolute name that answered.
        name: String,
        /// Its A record.
        addr: Ipv4Addr,
        /// What its TXT record says (names already resolved).
        options: TxtOptions,
    },
    /// No such name, or no A record.
    NotFound,
    /// DNS did not answer.
    Failed(String),
}

/// Where a reply goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// `255.255.255.255:68`: the client has no address yet (or is told it has none).
    Broadcast,
    /// The client's own address (`ciaddr`), port 68.
    Unicast(Ipv4Addr),
}

/// The server's decision about one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome4 {
    /// Send `msg` to `to`.
    Reply {
        /// The reply.
        msg: Message,
        /// Where.
        to: Destination,
    },
    /// Stay silent, for this reason.
    Ignore(String),
}

/// The server's answer to `msg`; `lookup` is asked at most once, for the client's name
/// (absolute `a.b.c.` or partial `a`).
pub fn answer4(
    server: &Server4,
    msg: &Message,
    lookup: &mut dyn FnMut(&str) -> NameLookup4,
) -> Outcome4 {
    match inner(server, msg, lookup) {
        Ok((msg, to)) => Outcome4::Reply { msg, to },
        Err(why) => Outcome4::Ignore(why),
    }
}

fn inner(
    server: &Server4,
    msg: &Message,
    lookup: &mut dyn FnMut(&str) -> NameLookup4,
) -> Result<(Message, Destination), String> {
    use MessageType as T;
    if msg.opcode() != Opcode::BootRequest {
        return Err("not a BOOTREQUEST".into());
    }
    if !msg.giaddr().is_unspecified() {
        return Err(format!(
            "relayed by {} (relays are not served)",
            msg.giaddr()
        ));
    }
    let t = msg.opts().msg_type().ok_or("no DHCP message type")?;
    let server_id = match msg.opts().get(OptionCode::ServerIdentifier) {
        Some(DhcpOption::ServerIdentifier(a)) => Some(*a),
        _ => None,
    };
    if server_id.is_some_and(|id| id != server.id) {
        return Err(format!("for server {}", server_id.unwrap_or(server.id)));
    }
    match t {
        T::Discover | T::Request | T::Inform => {}
        T::Decline => {
            log::warn!(
                "a client ({}) declined {:?}: another node uses the address DNS gives it",
                mac(msg.chaddr()),
                msg.opts().get(OptionCode::RequestedIpAddress)
            );
            return Err("DECLINE needs no answer".into());
        }
        T::Release => return Err("RELEASE needs no answer".into()),
        other => return Err(format!("{other:?} is not a message for servers")),
    }
    let fqdn = raw_option(msg.opts(), code::CLIENT_FQDN)
        .map(ClientFqdn4::decode)
        .transpose()
        .map_err(|e| e.to_string())?;
    let prl: Vec<u8> = match msg.opts().get(OptionCode::ParameterRequestList) {
        Some(DhcpOption::ParameterRequestList(l)) => l.iter().map(|&c| u8::from(c)).collect(),
        _ => Vec::new(),
    };
    let found = match fqdn.as_ref().and_then(|f| f.name.query()) {
        Some(name) => match lookup(&name) {
            NameLookup4::Found {
                name,
                addr,
                options,
            } => Some((name, addr, options)),
            NameLookup4::NotFound => None,
            NameLookup4::Failed(why) => return Err(format!("DNS failed for {name}: {why}")),
        },
        None if t == T::Inform => None,
        None => return Err("no Client FQDN option".into()),
    };
    let asked = match msg.opts().get(OptionCode::RequestedIpAddress) {
        Some(DhcpOption::RequestedIpAddress(a)) => Some(*a),
        _ if !msg.ciaddr().is_unspecified() => Some(msg.ciaddr()),
        _ => None,
    };
    let mut reply = Message::new_with_id(
        msg.xid(),
        msg.ciaddr(),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        msg.chaddr(),
    );
    reply
        .set_opcode(Opcode::BootReply)
        .set_htype(msg.htype())
        .set_flags(msg.flags());
    let opts = reply.opts_mut();
    opts.insert(DhcpOption::ServerIdentifier(server.id));
    let nak = |mut reply: Message, why: &str| {
        reply.set_ciaddr(Ipv4Addr::UNSPECIFIED);
        let o = reply.opts_mut();
        o.insert(DhcpOption::MessageType(T::Nak));
        o.insert(DhcpOption::Message(why.to_string()));
        Ok((reply, Destination::Broadcast))
    };
    let (reply_type, name, addr, options) = match (t, found) {
        (T::Inform, found) => {
            let options = found.map(|f| f.2).unwrap_or_default();
            (T::Ack, None, None, options)
        }
        (T::Discover, Some((name, addr, options))) => (T::Offer, Some(name), Some(addr), options),
        (T::Discover, None) => return Err("the name has no A record".into()),
        (T::Request, Some((name, addr, options))) => {
            if asked.is_some_and(|a| a != addr) {
                return nak(reply, "not the address DNS holds for the name");
            }
            (T::Ack, Some(name), Some(addr), options)
        }
        (T::Request, None) if server_id.is_some() => {
            return nak(reply, "the name has no address in DNS");
        }
        (T::Request, None) => return Err("no record of the name (RFC 2131 §4.3.2)".into()),
        _ => return Err("not served".into()),
    };
    let opts = reply.opts_mut();
    opts.insert(DhcpOption::MessageType(reply_type));
    if let Some(a) = addr {
        opts.insert(DhcpOption::AddressLeaseTime(INFINITE));
        reply.set_yiaddr(a);
    }
    let opts = reply.opts_mut();
    add_requested(&prl, &options, &server.defaults, opts);
    if let (Some(f), Some(name)) = (&fqdn, &name) {
        opts.insert(DhcpOption::Unknown(UnknownOption::new(
            code::CLIENT_FQDN.into(),
            f.reply(name),
        )));
    }
    let to = if msg.ciaddr().is_unspecified() {
        Destination::Broadcast
    } else {
        Destination::Unicast(msg.ciaddr())
    };
    Ok((reply, to))
}

fn mac(chaddr: &[u8]) -> String {
    chaddr
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The options the PRL asks for: the name's, else the server's.
fn add_requested(prl: &[u8], name: &TxtOptions, server: &TxtOptions, out: &mut DhcpOptions) {
    let pick =
        |a: &Vec<Ipv4Addr>, b: &Vec<Ipv4Addr>| if a.is_empty() { b.clone() } else { a.clone() };
    for &c in prl {
        match c {
            1 => {
                if let Some(m) = name.mask.or(server.mask) {
                    out.insert(DhcpOption::SubnetMask(m));
                }
            }
            3 => {
                let r = pick(&name.router, &server.router);
                if !r.is_empty() {
                    out.insert(DhcpOption::Router(r));
                }
            }
            6 => {
                let d = pick(&name.dns, &server.dns);
                if !d.is_empty() {
                    out.insert(DhcpOption::DomainNameServer(d));
                }
            }
            15 => {
                if let Some(d) = name.domain.clone().or_else(|| server.domain.clone()) {
                    out.insert(DhcpOption::DomainName(d));
                }
            }
            28 => {
                if let Some(b) = name.broadcast.or(server.broadcast) {
                    out.insert(DhcpOption::BroadcastAddr(b));
                }
            }
            42 => {
                let n = pick(&name.ntp, &server.ntp);
                if !n.is_empty() {
                    out.insert(DhcpOption::NtpServers(n));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
