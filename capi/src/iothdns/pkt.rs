//! The packet toolkit's C calls: composing (`iothdns_put_*`), parsing (`iothdns_get_*`),
//! and both (`iothdns_getbuf`, `iothdns_free`, `iothdns_retrieve_header`,
//! `iothdns_rewrite_header`).
//!
//! A `struct iothdns_pkt *` is the address of a packet listed in a process-wide table; each
//! call looks it up first, so a pointer that is not a live packet (NULL, freed, made up)
//! gives `EINVAL` rather than undefined behaviour, and a per-packet lock keeps two threads
//! misusing one packet from racing. A parsed packet reads the caller's buffer in place (as
//! the original does), so `iothdns_rewrite_header` changes the caller's bytes and
//! `iothdns_getbuf` returns them.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use libc::iovec;

use super::names::{self, MAX_TEXT};
use super::wire::{self, Composer, MAX_MESSAGE, Parsed, Parser, Question, RrHeader};
use super::{IOTHDNS_MAXNAME, IOTHDNS_MAXSTRING, IothdnsHeader, IothdnsPkt, IothdnsRr};
use crate::boundary::{buf_in, c_str, call, call_void, err};

/// Where a parsed message's bytes are.
pub(crate) enum Storage {
    /// The caller's buffer given to `iothdns_get_header`, valid until `iothdns_free` by the
    /// C contract.
    Caller { ptr: *mut u8, len: usize },
    /// A message this library received (the resolver hands these to lookup callbacks).
    Owned(Vec<u8>),
}

// SAFETY: the caller's pointer is only dereferenced inside C calls on this packet, under its
// lock; the C contract keeps the buffer valid until iothdns_free, from whatever thread.
unsafe impl Send for Storage {}

impl Storage {
    /// The message bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Storage::Caller { ptr, len } if *len > 0 => {
                // SAFETY: iothdns_get_header checked ptr non-NULL and len ≤ 65535; the C
                // contract keeps the buffer readable for len bytes until iothdns_free.
                unsafe { std::slice::from_raw_parts(*ptr, *len) }
            }
            Storage::Caller { .. } => &[],
            Storage::Owned(v) => v,
        }
    }

    /// The message bytes, writable (for `iothdns_rewrite_header`).
    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Storage::Caller { ptr, len } if *len > 0 => {
                // SAFETY: as in bytes(); the buffer is the caller's `void *buf`, writable,
                // and not read by this library elsewhere while the packet's lock is held.
                unsafe { std::slice::from_raw_parts_mut(*ptr, *len) }
            }
            Storage::Caller { .. } => &mut [],
            Storage::Owned(v) => v,
        }
    }
}

/// One packet: being composed, or being parsed.
pub(crate) enum Packet {
    Compose(Composer),
    Parse { storage: Storage, parser: Parser },
}

type Shared = Arc<Mutex<Packet>>;

/// Every live packet, by address.
static LIVE: LazyLock<RwLock<HashMap<usize, Shared>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// Lists a packet and returns its C handle.
pub(crate) fn register(p: Packet) -> *mut IothdnsPkt {
    let shared = Arc::new(Mutex::new(p));
    let ptr = Arc::as_ptr(&shared) as *mut IothdnsPkt;
    LIVE.write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(ptr as usize, shared);
    ptr
}

fn lookup(ptr: *const IothdnsPkt) -> io::Result<Shared> {
    LIVE.read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&(ptr as usize))
        .cloned()
        .ok_or_else(|| {
            log::debug!("{ptr:p} is not a live struct iothdns_pkt");
            err(libc::EINVAL)
        })
}

/// Runs `f` on a live packet, under its lock.
pub(crate) fn with<T>(
    ptr: *const IothdnsPkt,
    f: impl FnOnce(&mut Packet) -> io::Result<T>,
) -> io::Result<T> {
    let shared = lookup(ptr)?;
    let mut p = shared.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut p)
}

/// Unlists a packet; it is released when the last call using it returns.
pub(crate) fn unregister(ptr: *const IothdnsPkt) -> io::Result<Shared> {
    LIVE.write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&(ptr as usize))
        .ok_or_else(|| err(libc::EINVAL))
}

/// The bytes of a packet as `iothdns_getbuf` gives them: a composed one finished (its
/// failure if it failed), a parsed one as it is.
pub(crate) fn message_of(p: &mut Packet) -> io::Result<&[u8]> {
    match p {
        Packet::Compose(c) => c.finish().map_err(err),
        Packet::Parse { storage, .. } => Ok(storage.bytes()),
    }
}

/// A parse packet over bytes this library owns, with what its header says.
pub(crate) fn parse_owned(bytes: Vec<u8>) -> io::Result<(*mut IothdnsPkt, Parsed)> {
    let (parser, parsed) = Parser::new(&bytes).map_err(err)?;
    let ptr = register(Packet::Parse {
        storage: Storage::Owned(bytes),
        parser,
    });
    Ok((ptr, parsed))
}

/// Runs `f` on a packet being composed; `EINVAL` for a parsed one. A failure of `f` is
/// also recorded by the composer (the packet will not be sent).
fn composing(ptr: *mut IothdnsPkt, f: impl FnOnce(&mut Composer) -> Result<(), i32>) {
    call_void(|| {
        with(ptr, |p| match p {
            Packet::Compose(c) => f(c).map_err(err),
            Packet::Parse { .. } => Err(err(libc::EINVAL)),
        })
    })
}

/// Runs `f` on a packet being parsed with its bytes; `EINVAL` for a composed one.
fn parsing<T>(
    ptr: *mut IothdnsPkt,
    fail: T,
    f: impl FnOnce(&mut Parser, &[u8]) -> io::Result<T>,
) -> T {
    call(fail, || {
        with(ptr, |p| match p {
            Packet::Parse { storage, parser } => f(parser, storage.bytes()),
            Packet::Compose(_) => Err(err(libc::EINVAL)),
        })
    })
}

/// A C name argument as a hickory name: `EFAULT` for NULL, the text errors otherwise.
///
/// # Safety
/// `p` must be NULL or a C string.
unsafe fn name_arg(p: *const c_char) -> Result<hickory_proto::rr::Name, i32> {
    // SAFETY: forwarded contract.
    let text = unsafe { c_str(p) }.map_err(|_| libc::EFAULT)?;
    names::from_text(text.to_bytes())
}

/// Writes `name` as text into a caller's `IOTHDNS_MAXNAME` buffer.
///
/// # Safety
/// `out` must be valid for writing `IOTHDNS_MAXNAME` bytes.
unsafe fn write_name(name: &hickory_proto::rr::Name, out: *mut c_char) -> io::Result<()> {
    // SAFETY: per the contract.
    let buf = unsafe { std::slice::from_raw_parts_mut(out.cast::<u8>(), IOTHDNS_MAXNAME) };
    names::write_c(name, buf).map_err(err)
}

// ---------------------------------------------------------------- compose

/// Creates a message with `h`'s id and flags and, when `h->qname` is not NULL, one question
/// (`h->qname`, `h->qtype`, `h->qclass`). NULL with errno `EFAULT` (NULL `h`), `EINVAL` or
/// `ENAMETOOLONG` (a bad name).
///
/// # Safety
/// `h` must be NULL or a valid `struct iothdns_header` whose `qname` is NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_put_header(h: *mut IothdnsHeader) -> *mut IothdnsPkt {
    call(std::ptr::null_mut(), || {
        // SAFETY: NULL or valid per the contract.
        let h = unsafe { h.as_ref() }.ok_or_else(|| err(libc::EFAULT))?;
        let question = if h.qname.is_null() {
            None
        } else {
            Some(Question {
                // SAFETY: a C string per the contract.
                name: unsafe { name_arg(h.qname) }.map_err(err)?,
                qtype: h.qtype,
                qclass: h.qclass,
            })
        };
        let c = Composer::new(h.id, h.flags, question.as_ref()).map_err(err)?;
        Ok(register(Packet::Compose(c)))
    })
}

/// Starts a record in `section` (1 answer, 2 authority, 3 additional) with `rr`'s name,
/// type, class and TTL; its RDLENGTH is computed from the data put after it. A section
/// before the previous record's, or outside 1..3, fails the packet with `EINVAL` (the
/// original dropped the record silently and let its data join the previous one).
///
/// # Safety
/// `vpkt` any value; `rr` NULL or a valid `struct iothdns_rr` with a C string name.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_put_rr(section: c_int, vpkt: *mut IothdnsPkt, rr: *mut IothdnsRr) {
    composing(vpkt, |c| {
        // SAFETY: NULL or valid per the contract.
        let Some(rr) = (unsafe { rr.as_ref() }) else {
            return c.refuse(libc::EFAULT);
        };
        // SAFETY: a C string or NULL per the contract.
        let name = match unsafe { name_arg(rr.name) } {
            Ok(n) => n,
            Err(e) => return c.refuse(e),
        };
        let Ok(section) = usize::try_from(section) else {
            return c.refuse(libc::EINVAL);
        };
        c.put_rr(
            section,
            &RrHeader {
                name,
                rtype: rr.rtype,
                class: rr.class,
                ttl: rr.ttl,
                rdlength: 0,
            },
        )
    })
}

/// Appends one byte to the current record's data.
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_put_int8(vpkt: *mut IothdnsPkt, data: u8) {
    composing(vpkt, |c| c.put_u8(data))
}

/// Appends a 16-bit integer in network byte order.
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_put_int16(vpkt: *mut IothdnsPkt, data: u16) {
    composing(vpkt, |c| c.put_u16(data))
}

/// Appends a 32-bit integer in network byte order.
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_put_int32(vpkt: *mut IothdnsPkt, data: u32) {
    composing(vpkt, |c| c.put_u32(data))
}

/// Appends `len` bytes of `data` (NULL with a length fails the packet with `EFAULT`).
///
/// # Safety
/// `data` must be NULL or valid for reading `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_put_data(vpkt: *mut IothdnsPkt, data: *mut c_void, len: u16) {
    composing(vpkt, |c| {
        // SAFETY: per the contract.
        match unsafe { buf_in(data, usize::from(len)) } {
            Ok(b) => c.put_data(b),
            Err(_) => c.refuse(libc::EFAULT),
        }
    })
}

/// Appends a name, compressed against the names already in the message (ASCII case
/// ignored). A bad name fails the packet with `EINVAL`/`ENAMETOOLONG`.
///
/// # Safety
/// `name` must be NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_put_name(vpkt: *mut IothdnsPkt, name: *const c_char) {
    composing(vpkt, |c| {
        // SAFETY: per the contract.
        match unsafe { name_arg(name) } {
            Ok(n) => c.put_name(&n, true),
            Err(e) => c.refuse(e),
        }
    })
}

/// Appends a name without compression.
///
/// # Safety
/// `name` must be NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_put_name_uncompressed(vpkt: *mut IothdnsPkt, name: *const c_char) {
    composing(vpkt, |c| {
        // SAFETY: per the contract.
        match unsafe { name_arg(name) } {
            Ok(n) => c.put_name(&n, false),
            Err(e) => c.refuse(e),
        }
    })
}

/// Appends a character-string: a length byte and at most 255 bytes of `string` (longer
/// strings are cut, as in the original).
///
/// # Safety
/// `string` must be NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_put_string(vpkt: *mut IothdnsPkt, string: *mut c_char) {
    composing(vpkt, |c| {
        // SAFETY: per the contract.
        match unsafe { c_str(string) } {
            Ok(s) => c.put_string(s.to_bytes()),
            Err(_) => c.refuse(libc::EFAULT),
        }
    })
}

/// Appends an IPv4 address (4 bytes at `addr_ipv4`, network order).
///
/// # Safety
/// `addr_ipv4` must be NULL or valid for reading 4 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_put_a(vpkt: *mut IothdnsPkt, addr_ipv4: *mut c_void) {
    // SAFETY: forwarded contract.
    unsafe { iothdns_put_data(vpkt, addr_ipv4, 4) }
}

/// Appends an IPv6 address (16 bytes at `addr_ipv6`).
///
/// # Safety
/// `addr_ipv6` must be NULL or valid for reading 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_put_aaaa(vpkt: *mut IothdnsPkt, addr_ipv6: *mut c_void) {
    // SAFETY: forwarded contract.
    unsafe { iothdns_put_data(vpkt, addr_ipv6, 16) }
}

// ---------------------------------------------------------------- parse

/// Parses the header and first question of the message in `buf` (kept, not copied: it must
/// stay valid until `iothdns_free`). The question's name goes to `qnamebuf` (NULL:
/// `h->qname` is NULL); with no question `h->qname` is NULL and `qtype`/`qclass` 0. NULL
/// with errno `EFAULT` (NULL `h` or `buf`), `EBADMSG` (malformed or cut), `EMSGSIZE` (over
/// 65535 bytes), `ENAMETOOLONG` (the name's text does not fit).
///
/// # Safety
/// `h` NULL or valid; `buf` NULL or valid for reading and writing `bufsize` bytes until the
/// packet is freed; `qnamebuf` NULL or valid for `IOTHDNS_MAXNAME` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_get_header(
    h: *mut IothdnsHeader,
    buf: *mut c_void,
    bufsize: usize,
    qnamebuf: *mut c_char,
) -> *mut IothdnsPkt {
    call(std::ptr::null_mut(), || {
        // SAFETY: NULL or valid per the contract.
        let h = unsafe { h.as_mut() }.ok_or_else(|| err(libc::EFAULT))?;
        if bufsize > MAX_MESSAGE {
            return Err(err(libc::EMSGSIZE));
        }
        if buf.is_null() {
            return Err(err(libc::EFAULT));
        }
        let storage = Storage::Caller {
            ptr: buf.cast(),
            len: bufsize,
        };
        let (parser, parsed) = Parser::new(storage.bytes()).map_err(err)?;
        let mut qname: *const c_char = std::ptr::null();
        let (mut qtype, mut qclass) = (0, 0);
        if let Some(q) = &parsed.question {
            if !qnamebuf.is_null() {
                // SAFETY: qnamebuf holds IOTHDNS_MAXNAME bytes per the contract.
                unsafe { write_name(&q.name, qnamebuf) }?;
                qname = qnamebuf;
            }
            qtype = q.qtype;
            qclass = q.qclass;
        }
        *h = IothdnsHeader {
            id: parsed.id,
            flags: parsed.flags,
            qname,
            qtype,
            qclass,
        };
        Ok(register(Packet::Parse { storage, parser }))
    })
}

/// Reads the next record: returns its section (1..3) and fills `rr` (its name in `namebuf`,
/// or NULL when `namebuf` is NULL), 0 at the end. 0 with errno `EBADMSG` for a malformed or
/// cut record (`ENAMETOOLONG` when its name's text does not fit), after which it returns 0.
///
/// # Safety
/// `rr` NULL or valid; `namebuf` NULL or valid for `IOTHDNS_MAXNAME` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_get_rr(
    vpkt: *mut IothdnsPkt,
    rr: *mut IothdnsRr,
    namebuf: *mut c_char,
) -> c_int {
    parsing(vpkt, 0, |p, msg| {
        // SAFETY: NULL or valid per the contract.
        let rr = unsafe { rr.as_mut() }.ok_or_else(|| err(libc::EFAULT))?;
        let Some((section, h)) = p.next_rr(msg).map_err(err)? else {
            return Ok(0);
        };
        let mut name: *const c_char = std::ptr::null();
        if !namebuf.is_null() {
            // SAFETY: namebuf holds IOTHDNS_MAXNAME bytes per the contract.
            if let Err(e) = unsafe { write_name(&h.name, namebuf) } {
                p.fail();
                return Err(e);
            }
            name = namebuf;
        }
        *rr = IothdnsRr {
            name,
            rtype: h.rtype,
            class: h.class,
            ttl: h.ttl,
            rdlength: h.rdlength,
        };
        // Sections are 1..=3.
        Ok(section as c_int)
    })
}

/// Reads one byte of the current data (0 with `EBADMSG` past its end).
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_get_int8(vpkt: *mut IothdnsPkt) -> u8 {
    parsing(vpkt, 0, |p, msg| p.read_u8(msg).map_err(err))
}

/// Reads a 16-bit integer in network byte order (0 with `EBADMSG` past the end).
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_get_int16(vpkt: *mut IothdnsPkt) -> u16 {
    parsing(vpkt, 0, |p, msg| p.read_u16(msg).map_err(err))
}

/// Reads a 32-bit integer in network byte order (0 with `EBADMSG` past the end).
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_get_int32(vpkt: *mut IothdnsPkt) -> u32 {
    parsing(vpkt, 0, |p, msg| p.read_u32(msg).map_err(err))
}

/// Copies `len` bytes of the current data to `data` and returns it; NULL `data` skips
/// them (returning NULL); NULL with `EBADMSG` (nothing consumed) past the end.
///
/// # Safety
/// `data` must be NULL or valid for writing `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_get_data(
    vpkt: *mut IothdnsPkt,
    data: *mut c_void,
    len: u16,
) -> *mut c_void {
    parsing(vpkt, std::ptr::null_mut(), |p, msg| {
        let s = p.read_slice(msg, usize::from(len)).map_err(err)?;
        if !data.is_null() {
            // SAFETY: data is valid for len bytes per the contract; `copy` allows it to
            // overlap the message (both are the caller's memory).
            unsafe { std::ptr::copy(s.as_ptr(), data.cast::<u8>(), s.len()) };
        }
        Ok(data)
    })
}

/// Reads a name (pointers followed) into `name` as text and returns it; NULL `name` skips
/// it. NULL with `EBADMSG` (malformed, cut, a pointer loop) or `ENAMETOOLONG` (the text
/// does not fit in `IOTHDNS_MAXNAME`), nothing consumed.
///
/// # Safety
/// `name` must be NULL or valid for writing `IOTHDNS_MAXNAME` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_get_name(vpkt: *mut IothdnsPkt, name: *mut c_char) -> *mut c_char {
    parsing(vpkt, std::ptr::null_mut(), |p, msg| {
        let mut ahead = p.clone();
        let n = ahead.read_name(msg).map_err(err)?;
        if !name.is_null() {
            // SAFETY: per the contract.
            unsafe { write_name(&n, name) }?;
        }
        *p = ahead;
        Ok(name)
    })
}

/// Reads a character-string into `name` (NUL-terminated; it needs `IOTHDNS_MAXSTRING` + 1
/// bytes) and returns it; NULL `name` skips it. NULL with `EBADMSG` past the end.
///
/// # Safety
/// `name` must be NULL or valid for writing 256 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_get_string(
    vpkt: *mut IothdnsPkt,
    name: *mut c_char,
) -> *mut c_char {
    parsing(vpkt, std::ptr::null_mut(), |p, msg| {
        let s = p.read_string(msg).map_err(err)?;
        debug_assert!(s.len() <= IOTHDNS_MAXSTRING);
        if !name.is_null() {
            // SAFETY: name holds 256 bytes per the contract; s is at most 255 (`copy`: the
            // buffer may overlap the caller's message).
            unsafe {
                std::ptr::copy(s.as_ptr(), name.cast::<u8>(), s.len());
                *name.add(s.len()) = 0;
            }
        }
        Ok(name)
    })
}

/// Reads an IPv4 address (4 bytes) into `addr_ipv4` and returns it.
///
/// # Safety
/// `addr_ipv4` must be NULL or valid for writing 4 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_get_a(
    vpkt: *mut IothdnsPkt,
    addr_ipv4: *mut c_void,
) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe { iothdns_get_data(vpkt, addr_ipv4, 4) }
}

/// Reads an IPv6 address (16 bytes) into `addr_ipv6` and returns it.
///
/// # Safety
/// `addr_ipv6` must be NULL or valid for writing 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_get_aaaa(
    vpkt: *mut IothdnsPkt,
    addr_ipv6: *mut c_void,
) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe { iothdns_get_data(vpkt, addr_ipv6, 16) }
}

// ---------------------------------------------------------------- both

/// The message as an iovec: a composed one with its counts and current RDLENGTH filled in
/// (valid until the next put or `iothdns_free`), a parsed one is the caller's buffer.
/// `{NULL, 0}` with errno: `EINVAL` for a pointer that is not a packet, or the failure that
/// stopped a composed packet.
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_getbuf(vpkt: *mut IothdnsPkt) -> iovec {
    let none = iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    call(none, || {
        with(vpkt, |p| {
            let m = message_of(p)?;
            Ok(iovec {
                iov_base: m.as_ptr() as *mut c_void,
                iov_len: m.len(),
            })
        })
    })
}

/// Releases a packet; NULL is ignored, a pointer that is not a live packet sets `EINVAL`.
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_free(vpkt: *mut IothdnsPkt) {
    if vpkt.is_null() {
        return;
    }
    call_void(|| unregister(vpkt).map(drop))
}

/// Reads the message's id and flags; NULL `id` or `flags` is skipped.
///
/// # Safety
/// `id` and `flags` must be NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_retrieve_header(
    vpkt: *mut IothdnsPkt,
    id: *mut u16,
    flags: *mut u16,
) {
    call_void(|| {
        let (i, f) = with(vpkt, |p| {
            Ok(match p {
                Packet::Compose(c) => c.header(),
                Packet::Parse { storage, .. } => wire::id_flags(storage.bytes()),
            })
        })?;
        // SAFETY: NULL or valid per the contract.
        if let Some(id) = unsafe { id.as_mut() } {
            *id = i;
        }
        // SAFETY: as above.
        if let Some(flags) = unsafe { flags.as_mut() } {
            *flags = f;
        }
        Ok(())
    })
}

/// Overwrites the message's id and flags in place (a parsed message's buffer is the
/// caller's).
#[unsafe(no_mangle)]
pub extern "C" fn iothdns_rewrite_header(vpkt: *mut IothdnsPkt, id: u16, flags: u16) {
    call_void(|| {
        with(vpkt, |p| {
            match p {
                Packet::Compose(c) => c.rewrite_header(id, flags),
                Packet::Parse { storage, .. } => wire::set_id_flags(storage.bytes_mut(), id, flags),
            }
            Ok(())
        })
    })
}

// The text of a name never exceeds what its C buffer holds.
const _: () = assert!(MAX_TEXT < IOTHDNS_MAXNAME);
