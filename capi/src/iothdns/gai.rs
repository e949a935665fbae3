//! `iothdns_getaddrinfo`, `iothdns_getnameinfo`, `iothdns_freeaddrinfo`,
//! `iothdns_gai_strerror`: getaddrinfo(3) and getnameinfo(3) over a handle's resolver, its
//! hosts file and its services file (`iothdns_setpath`).
//!
//! Differences from the original: failures return their `EAI_*` code (the original returned
//! 0 with an empty list); an unknown service is `EAI_SERVICE` (it gave no entries);
//! `AI_CANONNAME` gives the end of the CNAME chain, or the name itself, without an extra
//! query; `AI_V4MAPPED` applies to `AF_INET6` only, as POSIX says; every hosts-file address
//! of a name is returned (the original took one per family); getnameinfo's flags are honoured
//! one by one (the original looked names up only when `flags` was 0). `AI_ADDRCONFIG` is
//! accepted and ignored.

use std::ffi::{c_char, c_int};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use ioth::dns::{Hosts, Lookup, RecordType, ResolveError};
use libc::{addrinfo, sockaddr, sockaddr_in, sockaddr_in6, socklen_t};

use super::names;
use super::resolver::{Handle, Iothdns, handle, snprintf_into};
use crate::boundary::{c_text_opt, call, err, malloc_c_string};

/// glibc's `EAI_ADDRFAMILY` (not in the libc crate): the name has no address of the family
/// asked for.
const EAI_ADDRFAMILY: c_int = -9;

/// The flags getaddrinfo knows (`AI_IDN` and `AI_CANONIDN`, 0x40 and 0x80, are accepted and
/// change nothing: names are ASCII here).
const AI_KNOWN: c_int = libc::AI_PASSIVE
    | libc::AI_CANONNAME
    | libc::AI_NUMERICHOST
    | libc::AI_V4MAPPED
    | libc::AI_ALL
    | libc::AI_ADDRCONFIG
    | libc::AI_NUMERICSERV
    | 0x40
    | 0x80;

/// The flags getnameinfo knows (`NI_IDN` and glibc's two obsolete IDN flags change nothing).
const NI_KNOWN: c_int = libc::NI_NUMERICHOST
    | libc::NI_NUMERICSERV
    | libc::NI_NOFQDN
    | libc::NI_NAMEREQD
    | libc::NI_DGRAM
    | libc::NI_IDN
    | 64
    | 128;

// ---------------------------------------------------------------- services file

/// The port of service `name` (or alias) for `proto` in services-file text.
fn service_port(text: &str, name: &str, proto: &str) -> Option<u16> {
    services(text)
        .find(|(names, _, p)| *p == proto && names.contains(&name))
        .map(|(_, port, _)| port)
}

/// The name of the service on `port`/`proto`.
fn service_name<'a>(text: &'a str, port: u16, proto: &str) -> Option<&'a str> {
    services(text)
        .find(|(_, p, pr)| *p == port && *pr == proto)
        .and_then(|(names, _, _)| names.first().copied())
}

/// Entries of services-file text (`name port/proto aliases… # comment`); malformed lines are
/// skipped.
fn services(text: &str) -> impl Iterator<Item = (Vec<&str>, u16, &str)> {
    text.lines().filter_map(|line| {
        let content = line.split('#').next().unwrap_or("");
        let mut words = content.split_whitespace();
        let name = words.next()?;
        let (port, proto) = words.next()?.split_once('/')?;
        let port: u16 = port.parse().ok()?;
        let mut names = vec![name];
        names.extend(words);
        Some((names, port, proto))
    })
}

fn read_or_empty(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        log::debug!("iothdns: {path}: {e}");
        String::new()
    })
}

// ---------------------------------------------------------------- getaddrinfo

/// One entry of the result.
struct Entry {
    addr: SocketAddr,
    socktype: c_int,
    protocol: c_int,
}

/// The protocol of an entry, as the original chose it from the hints.
fn protocol_for(socktype: c_int, hinted: c_int) -> c_int {
    match socktype {
        libc::SOCK_STREAM if matches!(hinted, libc::IPPROTO_TCP | libc::IPPROTO_SCTP) => hinted,
        libc::SOCK_STREAM => libc::IPPROTO_TCP,
        libc::SOCK_DGRAM if matches!(hinted, libc::IPPROTO_UDP | libc::IPPROTO_UDPLITE) => hinted,
        libc::SOCK_DGRAM => libc::IPPROTO_UDP,
        _ => hinted,
    }
}

/// What a failed DNS lookup is as an `EAI_*` code.
fn eai_of(e: &ResolveError) -> c_int {
    match e {
        ResolveError::InvalidName { .. } | ResolveError::NxDomain { .. } => libc::EAI_NONAME,
        ResolveError::NoData { .. } => libc::EAI_NODATA,
        ResolveError::NoServers { .. } => libc::EAI_FAIL,
        ResolveError::NoAnswer { .. } => libc::EAI_AGAIN,
    }
}

/// The more telling of two failures: servers failing beats not found, NXDOMAIN beats NODATA.
fn worse(a: c_int, b: c_int) -> c_int {
    let rank = |c: c_int| match c {
        libc::EAI_AGAIN | libc::EAI_FAIL => 3,
        libc::EAI_NONAME => 2,
        _ => 1,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// The canonical name of a lookup as C text.
fn canonical(l: &Lookup) -> String {
    String::from_utf8_lossy(&names::to_text(l.canonical_name())).into_owned()
}

/// Addresses of `node` through DNS for `family` and the flags, A before AAAA for AF_UNSPEC
/// (the original's order); with the canonical name when `canon`.
fn dns_addresses(
    h: &Handle,
    node: &str,
    family: c_int,
    flags: c_int,
    canon: bool,
) -> Result<(Vec<IpAddr>, Option<String>), c_int> {
    let r = h.resolver();
    if family == libc::AF_UNSPEC && !canon {
        // Both types asked at once.
        let mut ips = r.lookup_ip(node).map_err(|e| eai_of(&e))?;
        ips.sort_by_key(|ip| ip.is_ipv6());
        return Ok((ips, None));
    }
    let mapped = family == libc::AF_INET6 && flags & libc::AI_V4MAPPED != 0;
    let plan: &[RecordType] = match family {
        libc::AF_INET => &[RecordType::A],
        libc::AF_INET6 if mapped => &[RecordType::AAAA, RecordType::A],
        libc::AF_INET6 => &[RecordType::AAAA],
        _ => &[RecordType::A, RecordType::AAAA],
    };
    let mut ips: Vec<IpAddr> = Vec::new();
    let mut name = None;
    let mut failure: Option<c_int> = None;
    for &rtype in plan {
        if rtype == RecordType::A && mapped && !ips.is_empty() && flags & libc::AI_ALL == 0 {
            break;
        }
        match r.lookup(node, rtype) {
            Ok(l) => {
                if name.is_none() {
                    name = Some(canonical(&l));
                }
                for ip in l.ips() {
                    ips.push(match ip {
                        IpAddr::V4(v4) if mapped => IpAddr::V6(v4.to_ipv6_mapped()),
                        other => other,
                    });
                }
            }
            Err(e) => {
                let code = eai_of(&e);
                failure = Some(failure.map_or(code, |f| worse(f, code)));
            }
        }
    }
    if ips.is_empty() {
        return Err(failure.unwrap_or(libc::EAI_NODATA));
    }
    Ok((ips, name))
}

/// An IPv6 literal with an optional `%scope` (an interface of the handle's stack or a
/// number).
fn v6_literal(h: &Handle, node: &str) -> Option<SocketAddrV6> {
    let (addr, scope) = match node.split_once('%') {
        Some((a, s)) => (a, Some(s)),
        None => (node, None),
    };
    let ip: Ipv6Addr = addr.parse().ok()?;
    let scope_id = match scope {
        None => 0,
        Some(s) => match s.parse::<u32>() {
            Ok(n) => n,
            Err(_) => h.stack().if_nametoindex(s).ok()?,
        },
    };
    Some(SocketAddrV6::new(ip, 0, 0, scope_id))
}

/// Whether an address belongs to the family asked for.
fn family_ok(ip: &IpAddr, family: c_int) -> bool {
    match family {
        libc::AF_INET => ip.is_ipv4(),
        libc::AF_INET6 => ip.is_ipv6(),
        _ => true,
    }
}

struct Hints {
    flags: c_int,
    family: c_int,
    socktype: c_int,
    protocol: c_int,
}

/// The whole of getaddrinfo but the C list: the entries and the canonical name, or an
/// `EAI_*` code.
fn resolve(
    h: &Handle,
    node: Option<&str>,
    service: Option<&str>,
    hints: &Hints,
) -> Result<(Vec<Entry>, Option<String>), c_int> {
    let flags = hints.flags;
    if flags & !AI_KNOWN != 0 {
        return Err(libc::EAI_BADFLAGS);
    }
    if node.is_none() && service.is_none() {
        return Err(libc::EAI_NONAME);
    }
    if node.is_none() && flags & libc::AI_CANONNAME != 0 {
        return Err(libc::EAI_BADFLAGS);
    }
    if !matches!(
        hints.family,
        libc::AF_UNSPEC | libc::AF_INET | libc::AF_INET6
    ) {
        return Err(libc::EAI_FAMILY);
    }
    let socktypes: Vec<c_int> = match (hints.socktype, hints.protocol) {
        (0, libc::IPPROTO_TCP) => vec![libc::SOCK_STREAM],
        (0, libc::IPPROTO_UDP) => vec![libc::SOCK_DGRAM],
        (0, _) => vec![libc::SOCK_STREAM, libc::SOCK_DGRAM, libc::SOCK_RAW],
        (t @ (libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_RAW), _) => vec![t],
        _ => return Err(libc::EAI_SOCKTYPE),
    };

    // Ports per socket type (None: the service has none for that type).
    let ports: Vec<(c_int, Option<u16>)> = match service {
        None => socktypes.iter().map(|&t| (t, Some(0))).collect(),
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            let port: u16 = s.parse().map_err(|_| libc::EAI_SERVICE)?;
            socktypes.iter().map(|&t| (t, Some(port))).collect()
        }
        Some(_) if flags & libc::AI_NUMERICSERV != 0 => return Err(libc::EAI_NONAME),
        Some(s) => {
            let text = read_or_empty(&h.path(1));
            let ports: Vec<(c_int, Option<u16>)> = socktypes
                .iter()
                .map(|&t| {
                    let port = match t {
                        libc::SOCK_STREAM => service_port(&text, s, "tcp"),
                        libc::SOCK_DGRAM => service_port(&text, s, "udp"),
                        _ => None,
                    };
                    (t, port)
                })
                .collect();
            if ports.iter().all(|(_, p)| p.is_none()) {
                return Err(libc::EAI_SERVICE);
            }
            ports
        }
    };

    let family = hints.family;
    let mapped = family == libc::AF_INET6 && flags & libc::AI_V4MAPPED != 0;
    let mut canon = None;
    let addrs: Vec<SocketAddr> = match node {
        None => {
            let list: [IpAddr; 2] = if flags & libc::AI_PASSIVE != 0 {
                [Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()]
            } else {
                [Ipv6Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into()]
            };
            list.into_iter()
                .filter(|ip| family_ok(ip, family))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect()
        }
        Some(n) => {
            if let Ok(v4) = n.parse::<Ipv4Addr>() {
                canon = Some(n.to_owned());
                match family {
                    libc::AF_INET6 if mapped => {
                        vec![SocketAddr::new(v4.to_ipv6_mapped().into(), 0)]
                    }
                    libc::AF_INET6 => return Err(EAI_ADDRFAMILY),
                    _ => vec![SocketAddr::new(v4.into(), 0)],
                }
            } else if let Some(v6) = v6_literal(h, n) {
                canon = Some(n.to_owned());
                if family == libc::AF_INET {
                    return Err(EAI_ADDRFAMILY);
                }
                vec![SocketAddr::V6(v6)]
            } else if flags & libc::AI_NUMERICHOST != 0 {
                return Err(libc::EAI_NONAME);
            } else {
                let hosts = Hosts::parse(&read_or_empty(&h.path(0)));
                let listed: Vec<IpAddr> = hosts
                    .lookup(n)
                    .into_iter()
                    .filter_map(|ip| match ip {
                        IpAddr::V4(v4) if mapped => Some(IpAddr::V6(v4.to_ipv6_mapped())),
                        ip if family_ok(&ip, family) => Some(ip),
                        _ => None,
                    })
                    .collect();
                let want_canon = flags & libc::AI_CANONNAME != 0;
                let ips = if listed.is_empty() {
                    let (ips, name) = dns_addresses(h, n, family, flags, want_canon)?;
                    canon = name;
                    ips
                } else {
                    canon = hosts
                        .lookup(n)
                        .first()
                        .and_then(|ip| hosts.reverse(*ip))
                        .map(str::to_owned);
                    listed
                };
                ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect()
            }
        }
    };

    let mut entries = Vec::new();
    for addr in &addrs {
        for &(socktype, port) in &ports {
            if let Some(port) = port {
                let mut addr = *addr;
                addr.set_port(port);
                entries.push(Entry {
                    addr,
                    socktype,
                    protocol: protocol_for(socktype, hints.protocol),
                });
            }
        }
    }
    if entries.is_empty() {
        return Err(libc::EAI_NONAME);
    }
    let canon = if flags & libc::AI_CANONNAME != 0 {
        canon.or_else(|| node.map(str::to_owned))
    } else {
        None
    };
    Ok((entries, canon))
}

/// Builds the C list: each node one allocation holding the `struct addrinfo` and its socket
/// address (as glibc lays them out, so glibc's freeaddrinfo could free it too), the
/// canonical name a separate string on the first node.
fn c_list(entries: &[Entry], canon: Option<&str>) -> io::Result<*mut addrinfo> {
    let mut head: *mut addrinfo = std::ptr::null_mut();
    // Built back to front, so that each node points at the one after it.
    for (i, e) in entries.iter().enumerate().rev() {
        let size = std::mem::size_of::<addrinfo>() + std::mem::size_of::<sockaddr_in6>();
        // SAFETY: calloc has no preconditions; the result is checked.
        let node = unsafe { libc::calloc(1, size) }.cast::<addrinfo>();
        if node.is_null() {
            iothdns_freeaddrinfo(head);
            return Err(err(libc::ENOMEM));
        }
        // SAFETY: node holds an addrinfo followed by room for a sockaddr_in6 (calloc aligns
        // for any type; addrinfo's size keeps the sockaddr aligned).
        unsafe {
            let sa = node.add(1).cast::<u8>();
            let len = match e.addr {
                SocketAddr::V4(v4) => {
                    let sin = sa.cast::<sockaddr_in>();
                    (*sin).sin_family = libc::AF_INET as libc::sa_family_t;
                    (*sin).sin_port = v4.port().to_be();
                    (*sin).sin_addr.s_addr = u32::from(*v4.ip()).to_be();
                    std::mem::size_of::<sockaddr_in>()
                }
                SocketAddr::V6(v6) => {
                    let sin6 = sa.cast::<sockaddr_in6>();
                    (*sin6).sin6_family = libc::AF_INET6 as libc::sa_family_t;
                    (*sin6).sin6_port = v6.port().to_be();
                    (*sin6).sin6_addr.s6_addr = v6.ip().octets();
                    (*sin6).sin6_scope_id = v6.scope_id();
                    std::mem::size_of::<sockaddr_in6>()
                }
            };
            (*node).ai_family = if e.addr.is_ipv4() {
                libc::AF_INET
            } else {
                libc::AF_INET6
            };
            (*node).ai_socktype = e.socktype;
            (*node).ai_protocol = e.protocol;
            (*node).ai_addrlen = len as socklen_t;
            (*node).ai_addr = sa.cast::<sockaddr>();
            (*node).ai_next = head;
        }
        head = node;
        if i == 0
            && let Some(name) = canon
        {
            match malloc_c_string(name) {
                // SAFETY: node is the fresh first node.
                Ok(p) => unsafe { (*node).ai_canonname = p },
                Err(e) => {
                    iothdns_freeaddrinfo(head);
                    return Err(e);
                }
            }
        }
    }
    Ok(head)
}

/// getaddrinfo(3) over the handle: `node` a name (hosts file first, then DNS), a numeric
/// address, or NULL (`AI_PASSIVE`: the wildcard addresses, else loopback); `service` a port
/// number, a services-file name, or NULL. Returns 0 with the list in `*res` (free it with
/// [`iothdns_freeaddrinfo`]), or an `EAI_*` code (`EAI_NONAME` no such name, `EAI_NODATA` no
/// address, `EAI_AGAIN` servers failing or silent, `EAI_SERVICE`, `EAI_FAMILY`,
/// `EAI_SOCKTYPE`, `EAI_BADFLAGS`, `EAI_SYSTEM` with errno for a bad handle or pointer).
///
/// # Safety
/// `node`/`service` NULL or C strings; `hints` NULL or a valid addrinfo; `res` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_getaddrinfo(
    iothdns: *mut Iothdns,
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    call(libc::EAI_SYSTEM, || {
        // SAFETY: NULL or valid per the contract.
        let res = unsafe { res.as_mut() }.ok_or_else(|| err(libc::EFAULT))?;
        *res = std::ptr::null_mut();
        let h = handle(iothdns)?;
        // SAFETY: per the contract.
        let node = unsafe { c_text_opt(node) }?;
        // SAFETY: per the contract.
        let service = unsafe { c_text_opt(service) }?;
        // SAFETY: NULL or valid per the contract.
        let hints = match unsafe { hints.as_ref() } {
            Some(a) => Hints {
                flags: a.ai_flags,
                family: a.ai_family,
                socktype: a.ai_socktype,
                protocol: a.ai_protocol,
            },
            None => Hints {
                flags: 0,
                family: libc::AF_UNSPEC,
                socktype: 0,
                protocol: 0,
            },
        };
        match resolve(&h, node, service, &hints) {
            Ok((entries, canon)) => {
                *res = c_list(&entries, canon.as_deref())?;
                Ok(0)
            }
            Err(code) => Ok(code),
        }
    })
}

/// Frees a list from [`iothdns_getaddrinfo`]; NULL is ignored.
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_freeaddrinfo(res: *mut addrinfo) {
    let mut p = res;
    while !p.is_null() {
        // SAFETY: p is a node c_list allocated (the C contract: a list from
        // iothdns_getaddrinfo); its canonical name is NULL or malloc'd.
        unsafe {
            let next = (*p).ai_next;
            libc::free((*p).ai_canonname.cast());
            libc::free(p.cast());
            p = next;
        }
    }
}

/// The message for an `EAI_*` code (glibc's own texts).
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_gai_strerror(errcode: c_int) -> *const c_char {
    // SAFETY: gai_strerror takes any code and returns a static string.
    unsafe { libc::gai_strerror(errcode) }
}

// ---------------------------------------------------------------- getnameinfo

/// The name of `ip` (hosts file, then PTR), `Ok(None)` when it has none.
fn host_name(h: &Handle, ip: IpAddr) -> Result<Option<String>, c_int> {
    let hosts = Hosts::parse(&read_or_empty(&h.path(0)));
    if let Some(name) = hosts.reverse(ip) {
        return Ok(Some(name.to_owned()));
    }
    match h.resolver().reverse(ip) {
        Ok(names) => Ok(names
            .first()
            .map(|n| String::from_utf8_lossy(&names::to_text(n)).into_owned())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(eai_of(&e)),
    }
}

/// `name` without the domain when the domain is one of the search list's (NI_NOFQDN).
fn short_name(h: &Handle, name: &str) -> String {
    for domain in h.resolver().search() {
        let d = String::from_utf8_lossy(&names::to_text(&domain)).into_owned();
        if let Some(host) = name.strip_suffix(&d).and_then(|s| s.strip_suffix('.'))
            && !host.is_empty()
        {
            return host.to_owned();
        }
    }
    name.to_owned()
}

/// The numeric text of an address (an IPv6 scope as `%N`).
fn numeric(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) if v6.scope_id() != 0 => format!("{}%{}", v6.ip(), v6.scope_id()),
        SocketAddr::V6(v6) => v6.ip().to_string(),
    }
}

/// Writes `text` into a C buffer, `EAI_OVERFLOW` when it does not fit.
///
/// # Safety
/// `buf` valid for `len` bytes.
unsafe fn put(text: &str, buf: *mut c_char, len: socklen_t) -> io::Result<c_int> {
    // SAFETY: per the contract.
    let n = unsafe { snprintf_into(text.as_bytes(), buf, len as usize) }?;
    Ok(if n as socklen_t >= len {
        libc::EAI_OVERFLOW
    } else {
        0
    })
}

/// getnameinfo(3) over the handle: the host's name from the hosts file, then a PTR query
/// (numeric when there is none, unless `NI_NAMEREQD`: `EAI_NONAME`), the service's name from
/// the services file (`NI_DGRAM`: its udp entry). Every flag counts on its own. Returns 0 or
/// an `EAI_*` code (`EAI_FAMILY` for an address that is not IPv4/IPv6 of the right length,
/// `EAI_OVERFLOW` when a buffer is too small, `EAI_AGAIN` when `NI_NAMEREQD` and servers
/// failed, `EAI_SYSTEM` with errno for a bad handle).
///
/// # Safety
/// `addr` valid for `addrlen` bytes; `host`/`serv` NULL or valid for their lengths.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_getnameinfo(
    iothdns: *mut Iothdns,
    addr: *const sockaddr,
    addrlen: socklen_t,
    host: *mut c_char,
    hostlen: socklen_t,
    serv: *mut c_char,
    servlen: socklen_t,
    flags: c_int,
) -> c_int {
    call(libc::EAI_SYSTEM, || {
        let h = handle(iothdns)?;
        if flags & !NI_KNOWN != 0 {
            return Ok(libc::EAI_BADFLAGS);
        }
        if addr.is_null() {
            return Ok(libc::EAI_FAMILY);
        }
        // SAFETY: addr is valid for addrlen ≥ the family's size, checked before each read.
        let sa: SocketAddr = unsafe {
            match c_int::from((*addr).sa_family) {
                libc::AF_INET if addrlen as usize >= std::mem::size_of::<sockaddr_in>() => {
                    let sin = &*addr.cast::<sockaddr_in>();
                    SocketAddr::V4(SocketAddrV4::new(
                        Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                        u16::from_be(sin.sin_port),
                    ))
                }
                libc::AF_INET6 if addrlen as usize >= std::mem::size_of::<sockaddr_in6>() => {
                    let sin6 = &*addr.cast::<sockaddr_in6>();
                    SocketAddr::V6(SocketAddrV6::new(
                        Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                        u16::from_be(sin6.sin6_port),
                        u32::from_be(sin6.sin6_flowinfo),
                        sin6.sin6_scope_id,
                    ))
                }
                _ => return Ok(libc::EAI_FAMILY),
            }
        };
        let want_host = !host.is_null() && hostlen > 0;
        let want_serv = !serv.is_null() && servlen > 0;
        if !want_host && !want_serv {
            return Ok(libc::EAI_NONAME);
        }
        if want_serv {
            let proto = if flags & libc::NI_DGRAM != 0 {
                "udp"
            } else {
                "tcp"
            };
            let port = sa.port();
            let name = if flags & libc::NI_NUMERICSERV != 0 {
                None
            } else {
                service_name(&read_or_empty(&h.path(1)), port, proto).map(str::to_owned)
            };
            let text = name.unwrap_or_else(|| port.to_string());
            // SAFETY: serv valid for servlen bytes per the contract.
            let r = unsafe { put(&text, serv, servlen) }?;
            if r != 0 {
                return Ok(r);
            }
        }
        if want_host {
            let mut name = None;
            if flags & libc::NI_NUMERICHOST == 0 {
                match host_name(&h, sa.ip()) {
                    Ok(n) => name = n,
                    Err(code) if flags & libc::NI_NAMEREQD != 0 => return Ok(code),
                    Err(_) => {}
                }
                if name.is_none() && flags & libc::NI_NAMEREQD != 0 {
                    return Ok(libc::EAI_NONAME);
                }
                if flags & libc::NI_NOFQDN != 0 {
                    name = name.map(|n| short_name(&h, &n));
                }
            }
            let text = name.unwrap_or_else(|| numeric(&sa));
            // SAFETY: host valid for hostlen bytes per the contract.
            let r = unsafe { put(&text, host, hostlen) }?;
            if r != 0 {
                return Ok(r);
            }
        }
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    const SERVICES: &str = "# services\nssh\t\t22/tcp\ndomain\t\t53/tcp\ndomain 53/udp\n\
                            http 80/tcp www # web\nbad line\nfoo x/tcp\n";

    #[test]
    fn services_by_name_alias_and_port() {
        assert_eq!(service_port(SERVICES, "domain", "udp"), Some(53));
        assert_eq!(service_port(SERVICES, "www", "tcp"), Some(80));
        assert_eq!(service_port(SERVICES, "ssh", "udp"), None);
        assert_eq!(service_name(SERVICES, 80, "tcp"), Some("http"));
        assert_eq!(service_name(SERVICES, 22, "udp"), None);
    }

    #[test]
    fn failures_rank() {
        assert_eq!(worse(libc::EAI_NODATA, libc::EAI_NONAME), libc::EAI_NONAME);
        assert_eq!(worse(libc::EAI_AGAIN, libc::EAI_NONAME), libc::EAI_AGAIN);
    }

    proptest! {
        #[test]
        fn any_services_text_reads_without_panic(text in "\\PC*(\n\\PC*){0,5}", name in "\\PC{0,8}", port in any::<u16>()) {
            let _ = service_port(&text, &name, "tcp");
            let _ = service_name(&text, port, "udp");
        }
    }
}
