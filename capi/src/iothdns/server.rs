//! The server helpers: read one query from an ioth socket, give its header and question to
//! the program's callback, send back the reply the callback composed, and free it.
//!
//! Differences from the original, which the header documents: a NULL reply means "no
//! answer" (the original crashed), replies are freed (the original leaked them), queries
//! without a question, responses and malformed messages are dropped before the callback,
//! UDP queries up to 65535 bytes are read and a reply is cut to what the client accepts
//! (512 bytes, or its EDNS payload size) with TC set, and TCP replies are written in full
//! even when the socket takes them in pieces.

use std::ffi::{c_int, c_void};
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::names;
use super::pkt::{message_of, unregister};
use super::wire::{FLAG_QR, MAX_MESSAGE, Parser, client_udp_limit, truncate};
use super::{IOTHDNS_MAXNAME, IOTHDNS_TIMEOUT_MS, IothdnsHeader, IothdnsPkt};
use crate::boundary::{call, err};

/// `parse_request_t`: the program's callback, called once per query.
pub type ParseRequest =
    unsafe extern "C" fn(h: *mut IothdnsHeader, arg: *mut c_void) -> *mut IothdnsPkt;

/// The longest a TCP message may take to arrive or leave in full, however steadily the
/// peer trickles it (each wait without progress is bounded by `IOTHDNS_TIMEOUT_MS`).
const TCP_MESSAGE_DEADLINE: Duration = Duration::from_secs(10);

/// The reply to `query`, or None when there is none to send: the query is malformed, a
/// response, has no question, or the callback returned NULL, a pointer that is not a
/// packet, or a packet whose composition failed.
fn answer(query: &[u8], cb: ParseRequest, arg: *mut c_void) -> Option<Vec<u8>> {
    let parsed = match Parser::new(query) {
        Ok((_, parsed)) => parsed,
        Err(e) => {
            log::debug!("iothdns server: dropped a malformed message (errno {e})");
            return None;
        }
    };
    if parsed.flags & FLAG_QR != 0 {
        log::debug!("iothdns server: dropped a response");
        return None;
    }
    let Some(q) = parsed.question else {
        log::debug!("iothdns server: dropped a query without a question");
        return None;
    };
    let mut qname = [0u8; IOTHDNS_MAXNAME];
    if names::write_c(&q.name, &mut qname).is_err() {
        log::debug!("iothdns server: dropped a query whose name does not fit as text");
        return None;
    }
    let mut h = IothdnsHeader {
        id: parsed.id,
        flags: parsed.flags,
        qname: qname.as_ptr().cast(),
        qtype: q.qtype,
        qclass: q.qclass,
    };
    // SAFETY: `cb` is the program's parse_request_t (the C contract of the helpers); `h`
    // and the name it points to live across the call; `arg` is passed through untouched.
    let reply = unsafe { cb(&mut h, arg) };
    if reply.is_null() {
        return None;
    }
    let Ok(shared) = unregister(reply) else {
        log::warn!("iothdns server: the callback returned {reply:p}, not a packet");
        return None;
    };
    let mut p = shared.lock().unwrap_or_else(|e| e.into_inner());
    match message_of(&mut p) {
        Ok(m) => Some(m.to_vec()),
        Err(e) => {
            log::warn!("iothdns server: the callback's reply failed to compose ({e}); not sent");
            None
        }
    }
}

/// Receives one datagram on the ioth UDP socket `fd`, answers it through `parse_request`
/// and sends the reply to its sender, cut with TC to 512 bytes or the query's EDNS payload
/// size. Returns the datagram's length (also when nothing was sent back), or -1 with
/// errno: the socket's (`EAGAIN` on a non-blocking socket with nothing queued, `EBADF`),
/// `EFAULT` for a NULL callback.
///
/// # Safety
/// `parse_request` must be NULL or a function of type `parse_request_t`; `arg` is passed to
/// it as it is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_udp_process_request(
    fd: c_int,
    parse_request: Option<ParseRequest>,
    arg: *mut c_void,
) -> c_int {
    call(-1, || {
        let cb = parse_request.ok_or_else(|| err(libc::EFAULT))?;
        let mut buf = vec![0u8; MAX_MESSAGE];
        let (n, from) = ioth::bsd::recvfrom(fd, &mut buf, 0)?;
        let query = &buf[..n];
        if let Some(reply) = answer(query, cb, arg) {
            let limit = client_udp_limit(query);
            let reply = if reply.len() > limit {
                truncate(&reply, limit)
            } else {
                reply
            };
            match &from {
                Some(to) => ioth::bsd::sendto(fd, &reply, 0, to)?,
                None => ioth::bsd::send(fd, &reply, 0)?,
            };
        }
        Ok(c_int::try_from(n).unwrap_or(c_int::MAX))
    })
}

/// Waits until `fd` has `events` (or an error/hang-up to report), at most until
/// `deadline` and `IOTHDNS_TIMEOUT_MS`; `ETIMEDOUT` otherwise.
fn wait(fd: RawFd, events: libc::c_short, deadline: Instant) -> io::Result<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = i32::try_from(left.as_millis())
            .unwrap_or(i32::MAX)
            .min(IOTHDNS_TIMEOUT_MS);
        if ms == 0 {
            return Err(err(libc::ETIMEDOUT));
        }
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            0 => return Err(err(libc::ETIMEDOUT)),
            n if n > 0 => return Ok(()),
            _ => {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINTR) {
                    return Err(e);
                }
            }
        }
    }
}

fn retry(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAGAIN | libc::EINTR | libc::EINPROGRESS)
    )
}

/// Reads up to `buf.len()` bytes, stopping early only at end of stream; returns how many.
fn read_full(fd: RawFd, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        wait(fd, libc::POLLIN, deadline)?;
        match ioth::bsd::read(fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if retry(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Writes all of `data`, waiting while the socket's buffer is full.
fn write_full(fd: RawFd, data: &[u8], deadline: Instant) -> io::Result<()> {
    let mut sent = 0;
    while sent < data.len() {
        match ioth::bsd::send(fd, &data[sent..], libc::MSG_NOSIGNAL) {
            Ok(k) => sent += k,
            Err(e) if retry(&e) => wait(fd, libc::POLLOUT, deadline)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads one framed message (2-byte length, up to 65535 bytes) from the connected ioth TCP
/// socket `fd`, answers it through `parse_request` and writes the framed reply. Returns the
/// message's length, 0 when the peer closed the stream before a message, or -1 with errno:
/// `ETIMEDOUT` (no progress for `IOTHDNS_TIMEOUT_MS`, or 10 s for the whole message),
/// `EBADMSG` (a frame cut by the end of the stream, or an empty one), the socket's errors,
/// `EFAULT` for a NULL callback.
///
/// # Safety
/// As [`iothdns_udp_process_request`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothdns_tcp_process_request(
    fd: c_int,
    parse_request: Option<ParseRequest>,
    arg: *mut c_void,
) -> c_int {
    call(-1, || {
        let cb = parse_request.ok_or_else(|| err(libc::EFAULT))?;
        let deadline = Instant::now() + TCP_MESSAGE_DEADLINE;
        let mut prefix = [0u8; 2];
        match read_full(fd, &mut prefix, deadline)? {
            0 => return Ok(0),
            1 => return Err(err(libc::EBADMSG)),
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes(prefix));
        if len == 0 {
            return Err(err(libc::EBADMSG));
        }
        let mut query = vec![0u8; len];
        if read_full(fd, &mut query, deadline)? < len {
            return Err(err(libc::EBADMSG));
        }
        if let Some(reply) = answer(&query, cb, arg) {
            // Composed messages are at most 65535 bytes.
            let n = u16::try_from(reply.len()).map_err(|_| err(libc::EMSGSIZE))?;
            let mut frame = Vec::with_capacity(reply.len() + 2);
            frame.extend_from_slice(&n.to_be_bytes());
            frame.extend_from_slice(&reply);
            write_full(fd, &frame, Instant::now() + TCP_MESSAGE_DEADLINE)?;
        }
        Ok(c_int::try_from(len).unwrap_or(c_int::MAX))
    })
}
