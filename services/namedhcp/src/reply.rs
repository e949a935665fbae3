//! What the DHCPv6 server answers, without I/O: a parsed client message, the server's
//! identity and offered options, and a name lookup in; a reply or the reason for silence out.
//!
//! The DNS is the lease database: a client's address is the AAAA record of the name it sends
//! in its Client FQDN option (RFC 4704), and nothing is stored. Message validation follows
//! RFC 8415 §16 (a message with the wrong Client/Server Identifier combination for its type,
//! or for another server, is ignored) and the replies §18.3:
//!
//! - Solicit: an Advertise with the address when DNS has one, silence otherwise (other
//!   servers on the link may know the client); with Rapid Commit (§18.3.1) a committed Reply
//!   instead, since nothing is to be committed.
//! - Request: a Reply with the address, or each IA_NA with status NoAddrsAvail when the name
//!   has none.
//! - Renew / Rebind: a Reply with the address; addresses the client holds that DNS no longer
//!   gives come back with lifetimes 0 (§18.3.4: "not appropriate for the link"); a name gone
//!   from DNS gets its addresses with lifetimes 0, or NoBinding for an IA without any.
//! - Confirm: Success when every address the client lists is one DNS holds for its name,
//!   NotOnLink otherwise; silence when it lists none or sends no name (§18.3.3: the server
//!   cannot tell).
//! - Release / Decline: a complete Reply (type, transaction id, identifiers) with status
//!   Success; a declined address is logged (DNS gives it to someone else: fix the zone).
//! - Information-request: a Reply with the configured options the client asked for, name or
//!   not (§18.3.6); silence when nothing is configured, so that a server that has something
//!   to say is heard.
//!
//! A DNS failure (no answer, as opposed to "no such name") is silence: the client retries
//! rather than being told it has no address. One IA_NA gets the address (one name,
//! one address: the one holding it already, else the lowest IAID); further IA_NAs and IA_TAs get NoAddrsAvail, IA_PDs NoPrefixAvail. Lifetimes
//! are infinite and T1 = T2 = 0 (the client chooses), as the original sends them. Options the
//! client's ORO asks for (any number of codes) are added when configured: DNS servers (23),
//! search list (24), SNTP (31, the original's) and NTP (56, RFC 5908, server addresses); the
//! Client FQDN goes back only when the ORO asks for it (RFC 4704 §6).

use std::fmt;
use std::net::Ipv6Addr;
use std::time::Duration;

use dhcproto::v6::{
    DhcpOption, DhcpOptions, IAAddr, IANA, Message, MessageType, NtpSuboption, OptionCode, Status,
    StatusCode, UnknownOption,
};

use crate::fqdn::ClientFqdn;
use crate::wire::{code, raw_option};

/// The lifetime meaning "forever" (RFC 8415 §7.7).
pub const INFINITY: u32 = u32::MAX;

/// Seconds from the Unix epoch to 2000-01-01 00:00 UTC, the epoch of DUID-LLT times.
const DUID_EPOCH: u64 = 946_684_800;

/// The DUID-LLT (RFC 8415 §11.2) of an Ethernet interface with `mac`, made at `unix` (time
/// since the Unix epoch): type 1, hardware type 1, seconds since 2000 modulo 2³², the MAC.
pub fn duid_llt(mac: [u8; 6], unix: Duration) -> Vec<u8> {
    let t = (unix.as_secs().wrapping_sub(DUID_EPOCH) & 0xffff_ffff) as u32;
    let mut d = vec![0, 1, 0, 1];
    d.extend_from_slice(&t.to_be_bytes());
    d.extend_from_slice(&mac);
    d
}

/// Who the server is and what it offers besides addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Server6 {
    /// The server's DUID (its Server Identifier).
    pub duid: Vec<u8>,
    /// Recursive DNS servers offered (option 23).
    pub dns: Vec<Ipv6Addr>,
    /// Search domains offered (option 24), dotted, without the trailing dot.
    pub search: Vec<String>,
    /// NTP/SNTP server addresses offered (options 56 and 31).
    pub ntp: Vec<Ipv6Addr>,
}

impl Server6 {
    /// Whether any option besides addresses is configured.
    pub fn offers_options(&self) -> bool {
        !(self.dns.is_empty() && self.search.is_empty() && self.ntp.is_empty())
    }
}

/// What DNS says about a client's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameLookup {
    /// The name has AAAA records: the absolute name that answered and its addresses.
    Found {
        /// The absolute name (after the search list, when the client's was partial).
        name: String,
        /// The addresses, in DNS order.
        addrs: Vec<Ipv6Addr>,
    },
    /// The name does not exist or has no AAAA record.
    NotFound,
    /// DNS did not answer (timeouts, unreachable servers): the client will retry.
    Failed(String),
}

/// Why a message got no reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// Not a message a client sends to servers (Advertise, Reply, Reconfigure, unknown).
    NotForServers(MessageType),
    /// It lacks the Client Identifier its type requires.
    NoClientId,
    /// It carries a Server Identifier its type forbids (Solicit, Confirm, Rebind).
    UnexpectedServerId,
    /// It lacks the Server Identifier its type requires (Request, Renew, Release, Decline).
    NoServerId,
    /// It is for another server.
    OtherServer,
    /// It has no Client FQDN option, so there is no name to look up.
    NoFqdn,
    /// Its Client FQDN option is malformed.
    BadFqdn(String),
    /// Its Client FQDN carries an empty name.
    EmptyName,
    /// A Solicit without IA_NA: there is nothing to offer.
    NoIaNa,
    /// A Confirm listing no address.
    NoAddresses,
    /// An Information-request carrying IA options (RFC 8415 §16.12).
    IaInInformationRequest,
    /// An Information-request, and no option is configured.
    NothingConfigured,
    /// A Solicit for a name DNS does not know (or gives no usable address).
    UnknownName(String),
    /// DNS did not answer for the name.
    DnsFailed {
        /// The name asked.
        name: String,
        /// What happened.
        why: String,
    },
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ignored::NotForServers(t) => write!(f, "{t:?} is not a message for servers"),
            Ignored::NoClientId => f.write_str("no Client Identifier"),
            Ignored::UnexpectedServerId => f.write_str("a Server Identifier its type forbids"),
            Ignored::NoServerId => f.write_str("no Server Identifier"),
            Ignored::OtherServer => f.write_str("for another server"),
            Ignored::NoFqdn => f.write_str("no Client FQDN option"),
            Ignored::BadFqdn(e) => write!(f, "{e}"),
            Ignored::EmptyName => f.write_str("an empty Client FQDN name"),
            Ignored::NoIaNa => f.write_str("no IA_NA asked for"),
            Ignored::NoAddresses => f.write_str("a Confirm without addresses"),
            Ignored::IaInInformationRequest => {
                f.write_str("an Information-request carrying IA options")
            }
            Ignored::NothingConfigured => f.write_str("no option configured to offer"),
            Ignored::UnknownName(n) => write!(f, "no AAAA record for {n}"),
            Ignored::DnsFailed { name, why } => write!(f, "DNS failed for {name}: {why}"),
        }
    }
}

/// The server's decision about one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send this reply to the client.
    Reply(Message),
    /// Stay silent, for this reason.
    Ignore(Ignored),
}

/// The server's answer to `msg`. `lookup` is asked at most once, for the client's name as
/// [`ClientFqdn::query`] spells it (absolute `a.b.c.`, or a partial `a` for the resolver's
/// search list), and only when the answer depends on it.
pub fn answer(
    server: &Server6,
    msg: &Message,
    lookup: &mut dyn FnMut(&str) -> NameLookup,
) -> Outcome {
    match answer_inner(server, msg, lookup) {
        Ok(m) => Outcome::Reply(m),
        Err(why) => Outcome::Ignore(why),
    }
}

/// Which identifiers a message type must, may or must not carry (RFC 8415 §16).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ServerIdRule {
    Forbidden,
    Required,
    Optional,
}

fn answer_inner(
    server: &Server6,
    msg: &Message,
    lookup: &mut dyn FnMut(&str) -> NameLookup,
) -> Result<Message, Ignored> {
    use MessageType as T;
    let t = msg.msg_type();
    let (server_id_rule, client_id_required) = match t {
        T::Solicit | T::Confirm | T::Rebind => (ServerIdRule::Forbidden, true),
        T::Request | T::Renew | T::Release | T::Decline => (ServerIdRule::Required, true),
        T::InformationRequest => (ServerIdRule::Optional, false),
        other => return Err(Ignored::NotForServers(other)),
    };
    let client_id = msg.opts().iter().find_map(|o| match o {
        DhcpOption::ClientId(id) => Some(id.clone()),
        _ => None,
    });
    if client_id_required && client_id.is_none() {
        return Err(Ignored::NoClientId);
    }
    let server_id = msg.opts().iter().find_map(|o| match o {
        DhcpOption::ServerId(id) => Some(id.as_slice()),
        _ => None,
    });
    match (server_id_rule, server_id) {
        (ServerIdRule::Forbidden, Some(_)) => return Err(Ignored::UnexpectedServerId),
        (ServerIdRule::Required, None) => return Err(Ignored::NoServerId),
        (_, Some(id)) if id != server.duid.as_slice() => return Err(Ignored::OtherServer),
        _ => {}
    }
    let oro = requested(msg.opts());
    let reply_type = if t == T::Solicit && !has(msg.opts(), OptionCode::RapidCommit) {
        T::Advertise
    } else {
        T::Reply
    };
    let mut reply = Message::new_with_id(reply_type, msg.xid());
    if let Some(id) = client_id {
        reply.opts_mut().insert(DhcpOption::ClientId(id));
    }
    reply
        .opts_mut()
        .insert(DhcpOption::ServerId(server.duid.clone()));

    match t {
        T::InformationRequest => {
            if [OptionCode::IANA, OptionCode::IATA, OptionCode::IAPD]
                .into_iter()
                .any(|c| has(msg.opts(), c))
            {
                return Err(Ignored::IaInInformationRequest);
            }
            if !server.offers_options() {
                return Err(Ignored::NothingConfigured);
            }
            add_requested(server, &oro, reply.opts_mut());
            return Ok(reply);
        }
        T::Release | T::Decline => {
            if t == T::Decline {
                let declined = client_addrs(msg.opts());
                log::warn!(
                    "a client declined {declined:?}: another node uses the address DNS gives it"
                );
            }
            reply.opts_mut().insert(status(Status::Success, "success"));
            return Ok(reply);
        }
        _ => {}
    }

    let fqdn = client_fqdn(msg.opts())?;
    let name = fqdn.query().ok_or(Ignored::EmptyName)?;
    if t == T::Solicit && !has(msg.opts(), OptionCode::IANA) {
        return Err(Ignored::NoIaNa);
    }
    if t == T::Confirm {
        let listed = client_addrs(msg.opts());
        if listed.is_empty() {
            return Err(Ignored::NoAddresses);
        }
        let (ok, found) = match lookup(&name) {
            NameLookup::Found { name, addrs } => {
                (listed.iter().all(|a| addrs.contains(a)), Some(name))
            }
            NameLookup::NotFound => (false, None),
            NameLookup::Failed(why) => return Err(Ignored::DnsFailed { name, why }),
        };
        reply.opts_mut().insert(if ok {
            status(Status::Success, "all addresses are on link")
        } else {
            status(Status::NotOnLink, "not the address DNS holds for the name")
        });
        if let Some(found) = found {
            add_fqdn(&fqdn, &found, &oro, reply.opts_mut());
        }
        return Ok(reply);
    }

    let renewal = matches!(t, T::Renew | T::Rebind);
    match lookup(&name) {
        NameLookup::Found { name: found, addrs } => {
            let usable: Vec<Ipv6Addr> = addrs.into_iter().filter(|&a| assignable(a)).collect();
            if usable.is_empty() {
                if t == T::Solicit {
                    return Err(Ignored::UnknownName(found));
                }
                add_ias(msg.opts(), reply.opts_mut(), None, renewal);
            } else {
                add_ias(msg.opts(), reply.opts_mut(), Some(&usable), renewal);
                add_fqdn(&fqdn, &found, &oro, reply.opts_mut());
                add_requested(server, &oro, reply.opts_mut());
            }
        }
        NameLookup::NotFound if t == T::Solicit => return Err(Ignored::UnknownName(name)),
        NameLookup::NotFound => add_ias(msg.opts(), reply.opts_mut(), None, renewal),
        NameLookup::Failed(why) => return Err(Ignored::DnsFailed { name, why }),
    }
    if reply_type == T::Reply && t == T::Solicit {
        reply.opts_mut().insert(DhcpOption::RapidCommit);
    }
    Ok(reply)
}

/// Whether an address may be leased to a host (DNS may hold anything).
fn assignable(a: Ipv6Addr) -> bool {
    !(a.is_multicast()
        || a.is_unspecified()
        || a.is_loopback()
        || a.segments()[0] & 0xffc0 == 0xfe80
        || a.to_ipv4_mapped().is_some())
}

fn has(opts: &DhcpOptions, c: OptionCode) -> bool {
    opts.get(c).is_some()
}

fn status(s: Status, msg: &str) -> DhcpOption {
    DhcpOption::StatusCode(StatusCode {
        status: s,
        msg: msg.to_string(),
    })
}

fn client_fqdn(opts: &DhcpOptions) -> Result<ClientFqdn, Ignored> {
    let data = raw_option(opts, code::CLIENT_FQDN).ok_or(Ignored::NoFqdn)?;
    ClientFqdn::decode(data).map_err(|e| Ignored::BadFqdn(e.to_string()))
}

/// The option codes of every ORO of the message, in order, without repeats.
fn requested(opts: &DhcpOptions) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    for o in opts.iter() {
        if let DhcpOption::ORO(oro) = o {
            for &c in &oro.opts {
                let c = u16::from(c);
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// Every address the client lists in its IA_NAs and IA_TAs.
fn client_addrs(opts: &DhcpOptions) -> Vec<Ipv6Addr> {
    let mut out = Vec::new();
    for o in opts.iter() {
        let inner = match o {
            DhcpOption::IANA(ia) => &ia.opts,
            DhcpOption::IATA(ia) => &ia.opts,
            _ => continue,
        };
        out.extend(inner.iter().filter_map(|i| match i {
            DhcpOption::IAAddr(a) => Some(a.addr),
            _ => None,
        }));
    }
    out
}

fn iaaddr(addr: Ipv6Addr, lifetime: u32) -> DhcpOption {
    DhcpOption::IAAddr(IAAddr {
        addr,
        preferred_life: lifetime,
        valid_life: lifetime,
        opts: DhcpOptions::new(),
    })
}

fn hints(ia: &IANA) -> Vec<Ipv6Addr> {
    ia.opts
        .iter()
        .filter_map(|i| match i {
            DhcpOption::IAAddr(a) => Some(a.addr),
            _ => None,
        })
        .collect()
}

/// The reply's IAs. One IA_NA gets an address of `addrs`: the IA already listing one of
/// them (it gets that one), else the one with the lowest IAID (dhcproto does not keep the
/// order of repeated options), which gets DNS's first. On renewal, addresses a client holds
/// that are not given come back with lifetimes 0. Without addresses (`None`): NoAddrsAvail,
/// or on renewal the client's addresses with lifetimes 0 (NoBinding when it lists none).
fn add_ias(opts: &DhcpOptions, out: &mut DhcpOptions, addrs: Option<&[Ipv6Addr]>, renewal: bool) {
    let ia_nas: Vec<&IANA> = opts
        .iter()
        .filter_map(|o| match o {
            DhcpOption::IANA(ia) => Some(ia),
            _ => None,
        })
        .collect();
    let holder = addrs.and_then(|addrs| {
        ia_nas
            .iter()
            .find(|ia| hints(ia).iter().any(|h| addrs.contains(h)))
            .or_else(|| ia_nas.iter().min_by_key(|ia| ia.id))
            .map(|ia| ia.id)
    });
    let mut given = false;
    for o in opts.iter() {
        match o {
            DhcpOption::IANA(ia) => {
                let hints = hints(ia);
                let mut inner = DhcpOptions::new();
                let chosen = match addrs {
                    Some(addrs) if holder == Some(ia.id) && !given => {
                        given = true;
                        hints
                            .iter()
                            .copied()
                            .find(|h| addrs.contains(h))
                            .or_else(|| addrs.first().copied())
                    }
                    _ => None,
                };
                if let Some(a) = chosen {
                    inner.insert(iaaddr(a, INFINITY));
                }
                if renewal {
                    for &h in hints.iter().filter(|&&h| Some(h) != chosen) {
                        inner.insert(iaaddr(h, 0));
                    }
                }
                // Withdrawn addresses say enough on renewal; otherwise the IA says why it is empty.
                if chosen.is_none() && (!renewal || hints.is_empty()) {
                    inner.insert(if renewal && addrs.is_none() {
                        status(Status::NoBinding, "the name has no address in DNS")
                    } else {
                        status(Status::NoAddrsAvail, "no address in DNS for this IA")
                    });
                }
                out.insert(DhcpOption::IANA(IANA {
                    id: ia.id,
                    t1: 0,
                    t2: 0,
                    opts: inner,
                }));
            }
            DhcpOption::IATA(ia) => {
                let mut ia = ia.clone();
                ia.opts = DhcpOptions::new();
                ia.opts.insert(status(
                    Status::NoAddrsAvail,
                    "temporary addresses are not served",
                ));
                out.insert(DhcpOption::IATA(ia));
            }
            DhcpOption::IAPD(pd) => {
                let mut pd = pd.clone();
                pd.t1 = 0;
                pd.t2 = 0;
                pd.opts = DhcpOptions::new();
                pd.opts
                    .insert(status(Status::NoPrefixAvail, "prefixes are not delegated"));
                out.insert(DhcpOption::IAPD(pd));
            }
            _ => {}
        }
    }
}

/// The Client FQDN reply when the ORO asks for it.
fn add_fqdn(fqdn: &ClientFqdn, found: &str, oro: &[u16], out: &mut DhcpOptions) {
    if oro.contains(&code::CLIENT_FQDN) {
        out.insert(raw(code::CLIENT_FQDN, fqdn.reply(found).encode()));
    }
}

fn raw(code: u16, data: Vec<u8>) -> DhcpOption {
    DhcpOption::Unknown(UnknownOption::new(code.into(), data))
}

/// The configured options the ORO asks for.
fn add_requested(server: &Server6, oro: &[u16], out: &mut DhcpOptions) {
    for &c in oro {
        match c {
            code::DNS_SERVERS if !server.dns.is_empty() => {
                out.insert(DhcpOption::DomainNameServers(server.dns.clone()))
            }
            code::DOMAIN_LIST if !server.search.is_empty() => {
                out.insert(raw(code::DOMAIN_LIST, domain_list(&server.search)))
            }
            code::SNTP_SERVERS if !server.ntp.is_empty() => out.insert(raw(
                code::SNTP_SERVERS,
                server.ntp.iter().flat_map(|a| a.octets()).collect(),
            )),
            code::NTP_SERVER if !server.ntp.is_empty() => out.insert(DhcpOption::NtpServer(
                server
                    .ntp
                    .iter()
                    .map(|&a| NtpSuboption::ServerAddress(a))
                    .collect(),
            )),
            _ => {}
        }
    }
}

/// A domain list in DNS wire format without compression (RFC 3646 §4; RFC 8415 §10).
fn domain_list(names: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for n in names {
        for label in n.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
            let l = &label.as_bytes()[..label.len().min(63)];
            out.push(l.len() as u8);
            out.extend_from_slice(l);
        }
        out.push(0);
    }
    out
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
