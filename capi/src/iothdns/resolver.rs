//! The resolver calls of libiothdns over [`ioth::dns::Resolver`]: `struct iothdns` handles,
//! their configuration, `iothdns_lookup_a`/`_aaaa`/`_aaaa_compat` and `iothdns_lookup_cb`/
//! `_cb_tcp`. The lookups themselves (search list, servers in turn, EDNS, TCP when
//! truncated, CNAME chains, the cache) are the Rust resolver's.
//!
//! Differences from the original: `iothdns_add_nameserver` appends (it overwrote the first
//! server); names with a trailing dot resolve (they never matched); the comma-list
//! configuration does not write into the caller's string (a literal crashed it); a NULL
//! configuration is the stack's own (on the kernel stack with nothing configured,
//! `/etc/resolv.conf`, as before); errno says why a lookup failed.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::Duration;

use ioth::Stack;
use ioth::dns::proto::op::{Message, Query};
use ioth::dns::{Lookup, RecordType, ResolvConf, ResolveError, Resolver, ServerFailure};
use libc::{in_addr, in6_addr};

use super::names;
use super::pkt::{Packet, parse_owned, unregister, with};
use super::{IOTHDNS_MAXNAME, IOTHDNS_TIMEOUT_MS, IothdnsRr};
use crate::boundary::{c_str, c_text_opt, call, call_void, err};
use crate::stacks::{Ioth, stack_arg};

/// `IOTHDNS_MAXNS`: the servers a handle keeps.
pub const IOTHDNS_MAXNS: usize = 3;
/// `IOTHDNS_DEFAULT_HOSTS`, `IOTHDNS_DEFAULT_SERVICES`.
pub(crate) const DEFAULT_PATHS: [&str; 2] = ["/etc/hosts", "/etc/services"];

/// The opaque C type `struct iothdns`.
pub enum Iothdns {}

/// What a handle holds.
pub(crate) struct Handle {
    stack: Stack,
    state: Mutex<HandleState>,
}

struct HandleState {
    resolver: Resolver,
    /// The resolver is the stack's own (configuration NULL): it follows the stack.
    follows_stack: bool,
    /// `iothdns_setpath` values (None: the default).
    paths: [Option<String>; 2],
}

static LIVE: LazyLock<RwLock<HashMap<usize, Arc<Handle>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// The live handle `p` designates; `EINVAL` otherwise (NULL included).
pub(crate) fn handle(p: *const Iothdns) -> io::Result<Arc<Handle>> {
    LIVE.read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&(p as usize))
        .cloned()
        .ok_or_else(|| err(libc::EINVAL))
}

impl Handle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HandleState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The resolver to use now (a cheap clone: lookups run without the handle's lock).
    pub(crate) fn resolver(&self) -> Resolver {
        self.lock().resolver.clone()
    }

    /// The path for `tag` (0 hosts, 1 services).
    pub(crate) fn path(&self, tag: usize) -> String {
        self.lock().paths[tag]
            .clone()
            .unwrap_or_else(|| DEFAULT_PATHS[tag].to_owned())
    }

    pub(crate) fn stack(&self) -> &Stack {
        &self.stack
    }
}

/// Whether `text` is the short form: server addresses separated by commas.
fn is_address_list(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | ','))
}

/// Whether resolv.conf text sets `options timeout:`.
fn sets_timeout(text: &str) -> bool {
    text.lines().any(|l| {
        let mut w = l.split_whitespace();
        w.next() == Some("options") && w.any(|o| o.starts_with("timeout:"))
    })
}

/// resolv.conf text as the lenient reader understood it, in the strict reader's syntax.
fn normalized(conf: &ResolvConf) -> String {
    let mut text = String::new();
    for ns in &conf.nameservers {
        match &ns.scope {
            Some(s) => text.push_str(&format!("nameserver {}%{s}\n", ns.addr)),
            None => text.push_str(&format!("nameserver {}\n", ns.addr)),
        }
    }
    if !conf.search.is_empty() {
        let domains: Vec<String> = conf.search.iter().map(|n| n.to_ascii()).collect();
        text.push_str(&format!("search {}\n", domains.join(" ")));
    }
    let o = &conf.options;
    text.push_str(&format!(
        "options ndots:{} timeout:{} attempts:{}{}{}\n",
        o.ndots,
        o.timeout.as_secs(),
        o.attempts,
        if o.rotate { " rotate" } else { "" },
        if o.use_tcp { " use-vc" } else { "" },
    ));
    text
}

/// A resolver from configuration text: resolv.conf syntax (lines it cannot read are skipped,
/// as the original skipped them) or a comma list of addresses. Without `options timeout:`
/// each try waits `IOTHDNS_TIMEOUT_MS`, as the original did.
fn resolver_from_text(stack: &Stack, text: &str) -> Resolver {
    let text = if is_address_list(text) {
        text.split(',')
            .filter(|a| !a.is_empty())
            .map(|a| format!("nameserver {a}\n"))
            .collect()
    } else {
        text.to_owned()
    };
    let resolver = match Resolver::from_conf(stack, &text) {
        Ok(r) => r,
        Err(e) => {
            log::info!("iothdns: {e}; reading the configuration leniently");
            let conf = ResolvConf::parse_lenient(&text);
            // The normalized text reads strictly by construction; an empty one otherwise.
            Resolver::from_conf(stack, &normalized(&conf))
                .unwrap_or_else(|_| Resolver::from_servers(stack, &[]))
        }
    };
    if !sets_timeout(&text) {
        let mut o = resolver.options();
        o.timeout = Duration::from_millis(IOTHDNS_TIMEOUT_MS as u64);
        resolver.set_options(o);
    }
    resolver
}

/// What a configuration argument names.
enum Config {
    /// NULL: the stack's own configuration.
    Stack,
    /// A file to read.
    File(String),
    /// Text.
    Text(String),
}

fn build(stack: &Stack, config: Config) -> io::Result<(Resolver, bool)> {
    Ok(match config {
        Config::Stack => (Resolver::for_stack(stack), true),
        Config::File(path) => {
            let text = std::fs::read_to_string(&path)?;
            (resolver_from_text(stack, &text), false)
        }
        Config::Text(text) => (resolver_from_text(stack, &text), false),
    })
}

fn new_handle(stack: *mut Ioth, config: Config) -> io::Result<*mut Iothdns> {
    let stack = stack_arg(stack)?;
    let (resolver, follows_stack) = build(&stack, config)?;
    let h = Arc::new(Handle {
        stack,
        state: Mutex::new(HandleState {
            resolver,
            follows_stack,
            paths: [None, None],
        }),
    });
    let ptr = Arc::as_ptr(&h) as *mut Iothdns;
    LIVE.write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(ptr as usize, h);
    Ok(ptr)
}

fn update(d: *mut Iothdns, config: Config) -> io::Result<c_int> {
    let h = handle(d)?;
    let (resolver, follows_stack) = build(&h.stack, config)?;
    let mut s = h.lock();
    s.resolver = resolver;
    s.follows_stack = follows_stack;
    Ok(0)
}

/// A path argument: NULL is the stack's own configuration.
///
/// # Safety
/// `p` must be NULL or a C string.
unsafe fn file_config(p: *const c_char) -> io::Result<Config> {
    // SAFETY: per the contract.
    Ok(match unsafe { c_text_opt(p) }? {
        None => Config::Stack,
        Some(path) => Config::File(path.to_owned()),
    })
}

/// A string argument: NULL is the stack's own configuration.
///
/// # Safety
/// `p` must be NULL or a C string.
unsafe fn text_config(p: *const c_char) -> io::Result<Config> {
    // SAFETY: per the contract.
    Ok(match unsafe { c_text_opt(p) }? {
        None => Config::Stack,
        Some(text) => Config::Text(text.to_owned()),
    })
}

/// Makes a resolver on `stack` (NULL: the default stack) from the resolv.conf file at
/// `path_config`; NULL uses the stack's own configuration, which on a kernel stack with
/// nothing configured is `/etc/resolv.conf` (the original's default). NULL with errno when
/// the file cannot be read (`ENOENT`, `EACCES`) or `stack` is not a live stack (`EINVAL`).
///
/// # Safety
/// `stack` NULL or a stack handle; `path_config` NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_init(stack: *mut Ioth, path_config: *mut c_char) -> *mut Iothdns {
    call(std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        let config = unsafe { file_config(path_config) }?;
        new_handle(stack, config)
    })
}

/// Makes a resolver from configuration text: resolv.conf syntax, or server addresses
/// separated by commas; NULL as for [`iothdns_init`]. The text is not modified.
///
/// # Safety
/// `stack` NULL or a stack handle; `config` NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_init_strcfg(
    stack: *mut Ioth,
    config: *mut c_char,
) -> *mut Iothdns {
    call(std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        let config = unsafe { text_config(config) }?;
        new_handle(stack, config)
    })
}

/// Replaces the servers, search list and options from a file (NULL: the stack's own
/// configuration): 0, or -1 with errno (the handle keeps its configuration then).
///
/// # Safety
/// `iothdns` any value; `path_config` NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_update(iothdns: *mut Iothdns, path_config: *mut c_char) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        let config = unsafe { file_config(path_config) }?;
        update(iothdns, config)
    })
}

/// Replaces the configuration from text (NULL: the stack's own configuration).
///
/// # Safety
/// `iothdns` any value; `config` NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_update_strcfg(
    iothdns: *mut Iothdns,
    config: *mut c_char,
) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        let config = unsafe { text_config(config) }?;
        update(iothdns, config)
    })
}

/// Appends a server (port 53): `af` `AF_INET` with a `struct in_addr *`, `AF_INET6` with a
/// `struct in6_addr *`. 0, or -1 with errno `ENOSPC` (already `IOTHDNS_MAXNS` servers),
/// `EAFNOSUPPORT`, `EFAULT` (NULL address). A handle that followed the stack's own
/// configuration keeps a copy of it from then on, so the stack's other users are unaffected.
///
/// # Safety
/// `in46_addr` must be NULL or point at the address type `af` names.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_add_nameserver(
    iothdns: *mut Iothdns,
    af: c_int,
    in46_addr: *mut c_void,
) -> c_int {
    call(-1, || {
        let h = handle(iothdns)?;
        if in46_addr.is_null() {
            return Err(err(libc::EFAULT));
        }
        let ip = match af {
            // SAFETY: an in_addr per the contract.
            libc::AF_INET => IpAddr::V4(Ipv4Addr::from(u32::from_be(unsafe {
                (*in46_addr.cast::<in_addr>()).s_addr
            }))),
            // SAFETY: an in6_addr per the contract.
            libc::AF_INET6 => IpAddr::V6(Ipv6Addr::from(unsafe {
                (*in46_addr.cast::<in6_addr>()).s6_addr
            })),
            _ => return Err(err(libc::EAFNOSUPPORT)),
        };
        let server = SocketAddr::new(ip, 53);
        let mut s = h.lock();
        let servers = s.resolver.servers();
        if servers.contains(&server) {
            return Ok(0);
        }
        if servers.len() >= IOTHDNS_MAXNS {
            return Err(err(libc::ENOSPC));
        }
        if s.follows_stack {
            let own = Resolver::from_servers(&h.stack, &servers);
            own.set_search(&s.resolver.search());
            own.set_options(s.resolver.options());
            s.resolver = own;
            s.follows_stack = false;
        }
        s.resolver.add_server(server);
        Ok(0)
    })
}

/// The tag index of a `enum iothdns_pathtag`, or `EINVAL`.
fn tag_index(tag: c_int) -> io::Result<usize> {
    usize::try_from(tag)
        .ok()
        .filter(|&t| t < DEFAULT_PATHS.len())
        .ok_or_else(|| err(libc::EINVAL))
}

/// Uses `newvalue` instead of `/etc/hosts` (`IOTHDNS_HOSTS`) or `/etc/services`
/// (`IOTHDNS_SERVICES`) in getaddrinfo/getnameinfo; NULL restores the default.
///
/// # Safety
/// `newvalue` must be NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_setpath(
    iothdns: *mut Iothdns,
    pathtag: c_int,
    newvalue: *mut c_char,
) {
    call_void(|| {
        let h = handle(iothdns)?;
        let tag = tag_index(pathtag)?;
        // SAFETY: per the contract.
        let value = unsafe { c_text_opt(newvalue) }?.map(str::to_owned);
        h.lock().paths[tag] = value;
        Ok(())
    })
}

/// Writes the path in use for `pathtag` into `buf` (cut to `size`, NUL-terminated when
/// `size` > 0) and returns its full length, as snprintf; -1 with `EINVAL` for a bad handle
/// or tag.
///
/// # Safety
/// `buf` must be NULL (with `size` 0) or valid for writing `size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_getpath(
    iothdns: *mut Iothdns,
    pathtag: c_int,
    buf: *mut c_char,
    size: usize,
) -> c_int {
    call(-1, || {
        let h = handle(iothdns)?;
        let path = h.path(tag_index(pathtag)?);
        // SAFETY: per the contract.
        unsafe { snprintf_into(path.as_bytes(), buf, size) }
    })
}

/// Copies `text` into a C buffer of `size` bytes as snprintf would; returns its length.
///
/// # Safety
/// `buf` must be NULL (with `size` 0) or valid for writing `size` bytes.
pub(crate) unsafe fn snprintf_into(
    text: &[u8],
    buf: *mut c_char,
    size: usize,
) -> io::Result<c_int> {
    if size > 0 {
        if buf.is_null() {
            return Err(err(libc::EFAULT));
        }
        let n = text.len().min(size - 1);
        // SAFETY: buf holds size > n bytes per the contract.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
    }
    c_int::try_from(text.len()).map_err(|_| err(libc::EOVERFLOW))
}

/// Releases a resolver handle; NULL is ignored.
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_fini(iothdns: *mut Iothdns) {
    if iothdns.is_null() {
        return;
    }
    call_void(|| {
        LIVE.write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(iothdns as usize))
            .map(drop)
            .ok_or_else(|| err(libc::EINVAL))
    })
}

// ---------------------------------------------------------------- lookups

/// The errno a failed lookup gives: `ENOENT` no such name, `ENODATA` no records of the type,
/// `ETIMEDOUT` servers silent, `EAGAIN` servers failing (SERVFAIL, REFUSED), the network's
/// errno when none could be reached, `EDESTADDRREQ` no server configured, `EINVAL` a bad
/// name.
pub(crate) fn lookup_errno(e: &ResolveError) -> i32 {
    match e {
        ResolveError::InvalidName { .. } => libc::EINVAL,
        ResolveError::NoServers { .. } => libc::EDESTADDRREQ,
        ResolveError::NxDomain { .. } => libc::ENOENT,
        ResolveError::NoData { .. } => libc::ENODATA,
        ResolveError::NoAnswer { servers, .. } => {
            let mut errno = libc::ETIMEDOUT;
            for (_, why) in servers {
                match why {
                    ServerFailure::Timeout(_) => return libc::ETIMEDOUT,
                    ServerFailure::Rcode(_) => errno = libc::EAGAIN,
                    ServerFailure::Io(e) => errno = ioth::errno_of(e),
                }
            }
            errno
        }
    }
}

fn lookup_failed(e: &ResolveError) -> io::Error {
    log::debug!("iothdns: {e}");
    err(lookup_errno(e))
}

/// The C name argument as text (`EFAULT` for NULL, `EINVAL` when it is not UTF-8).
///
/// # Safety
/// `p` must be NULL or a C string.
unsafe fn name_text<'a>(p: *const c_char) -> io::Result<&'a str> {
    // SAFETY: per the contract.
    let s = unsafe { c_str(p) }?;
    s.to_str().map_err(|_| err(libc::EINVAL))
}

/// Records of `rtype` for `name`: Ok(None) when the name has none of that type.
fn records(h: &Handle, name: &str, rtype: RecordType) -> io::Result<Option<Lookup>> {
    match h.resolver().lookup(name, rtype) {
        Ok(l) => Ok(Some(l)),
        Err(ResolveError::NoData { .. }) => Ok(None),
        Err(e) => Err(lookup_failed(&e)),
    }
}

fn v4_of(l: &Lookup) -> Vec<Ipv4Addr> {
    l.ips()
        .filter_map(|ip| match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
        .collect()
}

fn v6_of(l: &Lookup) -> Vec<Ipv6Addr> {
    l.ips()
        .filter_map(|ip| match ip {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        })
        .collect()
}

fn count(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

fn room(n: c_int) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// The IPv4 addresses of `name`: their number (the first `n` stored in `a`), 0 when it has
/// none, -1 with errno (`ENOENT` no such name, see the header). An IPv4 literal is itself
/// (1), an IPv6 literal has none (0), without a query.
///
/// # Safety
/// `name` a C string; `a` NULL (with `n` ≤ 0) or valid for `n` addresses.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_lookup_a(
    iothdns: *mut Iothdns,
    name: *const c_char,
    a: *mut in_addr,
    n: c_int,
) -> c_int {
    call(-1, || {
        let h = handle(iothdns)?;
        // SAFETY: per the contract.
        let name = unsafe { name_text(name) }?;
        let found: Vec<Ipv4Addr> = match name.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => vec![v4],
            Ok(IpAddr::V6(_)) => Vec::new(),
            Err(_) => records(&h, name, RecordType::A)?
                .as_ref()
                .map(v4_of)
                .unwrap_or_default(),
        };
        let room = room(n);
        if room > 0 && a.is_null() {
            return Err(err(libc::EFAULT));
        }
        for (i, ip) in found.iter().take(room).enumerate() {
            // SAFETY: a holds n ≥ room addresses per the contract.
            unsafe {
                (*a.add(i)).s_addr = u32::from(*ip).to_be();
            }
        }
        Ok(count(found.len()))
    })
}

/// Stores IPv6 addresses into `aaaa` (at most `room`); returns how many were stored.
///
/// # Safety
/// `aaaa` must hold `room` addresses.
unsafe fn store_v6(aaaa: *mut in6_addr, at: usize, room: usize, ips: &[Ipv6Addr]) -> usize {
    let mut stored = 0;
    for (i, ip) in ips.iter().enumerate().take(room.saturating_sub(at)) {
        // SAFETY: at + i < room per the loop bound; the contract gives room addresses.
        unsafe {
            (*aaaa.add(at + i)).s6_addr = ip.octets();
        }
        stored += 1;
    }
    stored
}

/// The IPv6 addresses of `name`, as [`iothdns_lookup_a`].
///
/// # Safety
/// `name` a C string; `aaaa` NULL (with `n` ≤ 0) or valid for `n` addresses.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_lookup_aaaa(
    iothdns: *mut Iothdns,
    name: *const c_char,
    aaaa: *mut in6_addr,
    n: c_int,
) -> c_int {
    call(-1, || {
        let h = handle(iothdns)?;
        // SAFETY: per the contract.
        let name = unsafe { name_text(name) }?;
        let found: Vec<Ipv6Addr> = match name.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => vec![v6],
            Ok(IpAddr::V4(_)) => Vec::new(),
            Err(_) => records(&h, name, RecordType::AAAA)?
                .as_ref()
                .map(v6_of)
                .unwrap_or_default(),
        };
        let room = room(n);
        if room > 0 && aaaa.is_null() {
            return Err(err(libc::EFAULT));
        }
        // SAFETY: aaaa holds room addresses per the contract.
        unsafe { store_v6(aaaa, 0, room, &found) };
        Ok(count(found.len()))
    })
}

/// The IPv6 addresses of `name`, then its IPv4 ones as `::ffff:a.b.c.d`: their number, the
/// first `n` stored; -1 with errno when the name does not exist or no server answered.
///
/// # Safety
/// As [`iothdns_lookup_aaaa`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_lookup_aaaa_compat(
    iothdns: *mut Iothdns,
    name: *const c_char,
    aaaa: *mut in6_addr,
    n: c_int,
) -> c_int {
    call(-1, || {
        let h = handle(iothdns)?;
        // SAFETY: per the contract.
        let name = unsafe { name_text(name) }?;
        let ips: Vec<IpAddr> = match name.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => match h.resolver().lookup_ip(name) {
                Ok(ips) => ips,
                Err(ResolveError::NoData { .. }) => Vec::new(),
                Err(e) => return Err(lookup_failed(&e)),
            },
        };
        let mut all: Vec<Ipv6Addr> = ips
            .iter()
            .filter_map(|ip| match ip {
                IpAddr::V6(a) => Some(*a),
                IpAddr::V4(_) => None,
            })
            .collect();
        all.extend(ips.iter().filter_map(|ip| match ip {
            IpAddr::V4(a) => Some(a.to_ipv6_mapped()),
            IpAddr::V6(_) => None,
        }));
        let room = room(n);
        if room > 0 && aaaa.is_null() {
            return Err(err(libc::EFAULT));
        }
        // SAFETY: aaaa holds room addresses per the contract.
        unsafe { store_v6(aaaa, 0, room, &all) };
        Ok(count(all.len()))
    })
}

/// `lookup_cb_t`: the program's callback, once per record.
pub type LookupCb = unsafe extern "C" fn(
    section: c_int,
    rr: *mut IothdnsRr,
    vpkt: *mut super::IothdnsPkt,
    arg: *mut c_void,
) -> c_int;

/// The reply a lookup came from, as bytes: the server's message (re-encoded by hickory), or
/// one made of the answer's records when it came from the hosts table.
fn reply_bytes(l: &Lookup) -> io::Result<Vec<u8>> {
    let msg = match l.response() {
        Some(m) => m.clone(),
        None => {
            let mut m = Message::response(0, ioth::dns::proto::op::OpCode::Query);
            m.add_query(Query::query(l.query_name().clone(), l.record_type()));
            m.add_answers(l.cname_chain().iter().cloned());
            m.add_answers(l.records().iter().cloned());
            m
        }
    };
    msg.to_vec().map_err(|_| err(libc::EBADMSG))
}

/// Calls `cb` for each record of the reply's answer, authority and additional sections,
/// until one returns non-zero (which is returned).
fn scan(bytes: Vec<u8>, cb: LookupCb, arg: *mut c_void) -> io::Result<c_int> {
    let (pkt, _) = parse_owned(bytes)?;
    let mut name = [0u8; IOTHDNS_MAXNAME];
    let mut result = Ok(0);
    loop {
        let next = with(pkt, |p| match p {
            Packet::Parse { storage, parser } => parser.next_rr(storage.bytes()).map_err(err),
            Packet::Compose(_) => Err(err(libc::EINVAL)),
        });
        let (section, rr) = match next {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        if names::write_c(&rr.name, &mut name).is_err() {
            // A name whose text does not fit: the record is passed without it.
            name[0] = 0;
        }
        let mut c_rr = IothdnsRr {
            name: name.as_ptr().cast(),
            rtype: rr.rtype,
            class: rr.class,
            ttl: rr.ttl,
            rdlength: rr.rdlength,
        };
        // Sections are 1..=3.
        let section = section as c_int;
        // SAFETY: cb is the program's lookup_cb_t; c_rr, its name and the packet live across
        // the call; arg is passed through.
        let r = unsafe { cb(section, &mut c_rr, pkt, arg) };
        if r != 0 {
            result = Ok(r);
            break;
        }
    }
    let _ = unregister(pkt);
    result
}

fn lookup_cb(
    iothdns: *mut Iothdns,
    name: *const c_char,
    qtype: c_int,
    cb: Option<LookupCb>,
    arg: *mut c_void,
    tcp: bool,
) -> c_int {
    call(-1, || {
        let h = handle(iothdns)?;
        let cb = cb.ok_or_else(|| err(libc::EFAULT))?;
        // SAFETY: name is a C string per the C contract of the callers.
        let name = unsafe { name_text(name) }?;
        let rtype = RecordType::from(u16::try_from(qtype).map_err(|_| err(libc::EINVAL))?);
        let r = h.resolver();
        let found = if tcp {
            r.lookup_tcp(name, rtype)
        } else {
            r.lookup(name, rtype)
        };
        match found {
            Ok(l) => scan(reply_bytes(&l)?, cb, arg),
            Err(ResolveError::NoData { .. }) => Ok(0),
            Err(e) => Err(lookup_failed(&e)),
        }
    })
}

/// Asks for `qtype` records of `name` (UDP, TCP when the answer is truncated) and calls
/// `lookup_cb` for each record of the reply's sections 1..3, with the packet positioned at
/// the record's data. Returns 0, a callback's non-zero value (which stops the scan), or -1
/// with errno (`ENOENT` no such name, see the header). A reply without records of that type
/// calls nothing and returns 0.
///
/// # Safety
/// `name` a C string; `lookup_cb` NULL or a `lookup_cb_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_lookup_cb(
    iothdns: *mut Iothdns,
    name: *const c_char,
    qtype: c_int,
    lookup_cb_fn: Option<LookupCb>,
    arg: *mut c_void,
) -> c_int {
    lookup_cb(iothdns, name, qtype, lookup_cb_fn, arg, false)
}

/// As [`iothdns_lookup_cb`], over TCP only.
///
/// # Safety
/// As [`iothdns_lookup_cb`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_lookup_cb_tcp(
    iothdns: *mut Iothdns,
    name: *const c_char,
    qtype: c_int,
    lookup_cb_fn: Option<LookupCb>,
    arg: *mut c_void,
) -> c_int {
    lookup_cb(iothdns, name, qtype, lookup_cb_fn, arg, true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn address_lists_and_timeouts_are_recognised() {
        assert!(is_address_list("10.0.0.1,2001:db8::53"));
        assert!(!is_address_list("nameserver 10.0.0.1"));
        assert!(sets_timeout("options ndots:2 timeout:3\n"));
        assert!(!sets_timeout("nameserver 1.2.3.4 # timeout:3\n"));
    }

    #[test]
    fn lenient_text_normalizes_to_strict_text() {
        let conf = ResolvConf::parse_lenient(
            "nameserver banana\nnameserver 10.0.0.1\nsearch a.test b.test\noptions rotate attempts:3\n",
        );
        let strict = ResolvConf::parse(&normalized(&conf)).unwrap();
        assert_eq!(strict, conf);
    }
}
