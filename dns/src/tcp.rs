//! DNS over TCP (RFC 1035 §4.2.2, RFC 7766): every connection is a slot served by the
//! server's event loop, never a thread. Queries are length-prefixed and may be pipelined;
//! replies are queued in the order they are ready (immediate replies in query order, later
//! ones when their responder sends), written as far as the socket takes them.
//!
//! Bounds: at most `max_tcp_connections` slots; at most about `max_tcp_output` reply bytes
//! waiting per connection (past it the connection's queries are not read until the client
//! reads); a connection that moves no bytes for `tcp_idle_timeout` with no reply pending
//! is closed. Reads go through the server's one 64 KiB buffer: only a query split across
//! reads is copied into the connection.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::Instant;

use ioth::{SockAddr, Socket};
use mio::unix::SourceFd;
use mio::{Interest, Token};

use crate::engine::{self, Context, Outcome, Stats};
use crate::request::{Handler, Transport};
use crate::server::{CONN_BASE, ReplyTo, Server};

/// Reply buffer capacity an idle connection may keep.
const KEEP_CAPACITY: usize = 16 * 1024;

/// One client connection.
pub(crate) struct Conn {
    sock: Socket,
    client: SocketAddr,
    local: SocketAddr,
    generation: u64,
    /// Received bytes not yet a whole query.
    partial: Vec<u8>,
    /// Framed replies; `out[written..]` is still to be sent.
    out: Vec<u8>,
    written: usize,
    /// When bytes last moved either way.
    last: Instant,
    /// The client shut its sending side.
    eof: bool,
    /// Replies a responder still owes.
    pending: usize,
}

impl Conn {
    fn backlog(&self) -> usize {
        self.out.len() - self.written
    }

    /// Whether the connection has nothing left to do: the client is done sending (or can
    /// send no whole query more) and every reply went out.
    fn finished(&self) -> bool {
        self.eof && self.backlog() == 0 && self.pending == 0
    }

    /// Writes queued replies until the socket takes no more.
    fn flush(&mut self, now: Instant) -> io::Result<()> {
        while self.written < self.out.len() {
            match self.sock.send(&self.out[self.written..], 0) {
                Ok(n) => {
                    self.written += n;
                    self.last = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
            if self.out.capacity() > KEEP_CAPACITY {
                self.out.shrink_to(KEEP_CAPACITY);
            }
        } else if self.written >= KEEP_CAPACITY {
            self.out.drain(..self.written);
            self.written = 0;
        }
        Ok(())
    }

    fn queue(&mut self, reply: &[u8]) {
        // The engine never makes a reply over 65535 bytes.
        let len = u16::try_from(reply.len()).unwrap_or(u16::MAX);
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out
            .extend_from_slice(&reply[..usize::from(len).min(reply.len())]);
    }
}

/// The connection slots.
#[derive(Default)]
pub(crate) struct Conns {
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
    live: usize,
    next_generation: u64,
}

impl Conns {
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn get_mut(&mut self, idx: usize, generation: Option<u64>) -> Option<&mut Conn> {
        self.slots
            .get_mut(idx)?
            .as_mut()
            .filter(|c| generation.is_none_or(|g| c.generation == g))
    }

    fn insert(&mut self, conn: Conn) -> usize {
        self.live += 1;
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(conn);
                i
            }
            None => {
                self.slots.push(Some(conn));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, idx: usize) -> Option<Conn> {
        let c = self.slots.get_mut(idx)?.take()?;
        self.live -= 1;
        self.free.push(idx);
        Some(c)
    }
}

/// Accepts the pending connections of listener `i`; false if its budget ran out first.
pub(crate) fn accept_ready(s: &mut Server, i: usize) -> bool {
    for _ in 0..64 {
        let Some(ep) = s.endpoints.get(i) else {
            return true;
        };
        match ep.sock.accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) {
            Ok((sock, peer)) => {
                if s.conns.live >= s.config.max_tcp_connections {
                    s.stats.tcp_refused.fetch_add(1, Ordering::Relaxed);
                    log::debug!(
                        "{}: at {} connections: closing a new one",
                        ep.addr,
                        s.conns.live
                    );
                    continue;
                }
                let Some(client) = peer.as_socket() else {
                    continue;
                };
                if !s.handler.accepts_tcp(client) {
                    s.stats.tcp_refused.fetch_add(1, Ordering::Relaxed);
                    log::debug!("{}: TCP from {client} not allowed: closed", ep.addr);
                    continue;
                }
                let local = sock
                    .local_addr()
                    .ok()
                    .as_ref()
                    .and_then(SockAddr::as_socket)
                    .unwrap_or(ep.addr);
                s.conns.next_generation += 1;
                let fd = sock.as_raw_fd();
                let idx = s.conns.insert(Conn {
                    sock,
                    client,
                    local,
                    generation: s.conns.next_generation,
                    partial: Vec::new(),
                    out: Vec::new(),
                    written: 0,
                    last: Instant::now(),
                    eof: false,
                    pending: 0,
                });
                if let Err(e) = s.registry().register(
                    &mut SourceFd(&fd),
                    Token(CONN_BASE + idx),
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    log::warn!("{client}: cannot watch the connection: {e}");
                    s.conns.remove(idx);
                    continue;
                }
                s.stats.tcp_accepted.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::warn!("{}: accept failed: {e}", ep.addr);
                return true;
            }
        }
    }
    false
}

fn close(s: &mut Server, idx: usize) {
    if let Some(c) = s.conns.remove(idx) {
        let _ = s.registry().deregister(&mut SourceFd(&c.sock.as_raw_fd()));
        if c.pending > 0 {
            log::debug!("{}: closed with {} replies pending", c.client, c.pending);
        }
    }
}

/// What answering a frame needs besides the connection.
struct Env<'a> {
    handler: &'a dyn Handler,
    stats: &'a Stats,
    ctx: Context,
    scratch: &'a mut Vec<u8>,
    max_out: usize,
}

/// Answers the whole queries at the start of `data`, queueing replies on `c_out`, until the
/// backlog passes the bound; returns the bytes consumed.
fn serve_frames(
    data: &[u8],
    env: &mut Env<'_>,
    out: &mut Vec<u8>,
    written: usize,
    pending: &mut usize,
) -> usize {
    let mut off = 0;
    while out.len() - written <= env.max_out {
        let Some(head) = data.get(off..off + 2) else {
            break;
        };
        let len = usize::from(u16::from_be_bytes([head[0], head[1]]));
        let Some(frame) = data.get(off + 2..off + 2 + len) else {
            break;
        };
        off += 2 + len;
        env.stats.queries.fetch_add(1, Ordering::Relaxed);
        let outcome = engine::answer(env.handler, frame, &env.ctx, env.scratch);
        match outcome {
            Outcome::Reply { .. } => {
                let n = u16::try_from(env.scratch.len()).unwrap_or(u16::MAX);
                out.extend_from_slice(&n.to_be_bytes());
                out.extend_from_slice(&env.scratch[..usize::from(n)]);
                env.stats.count(outcome, true);
            }
            Outcome::Pending => *pending += 1,
            Outcome::Drop(_) => env.stats.count(outcome, false),
        }
    }
    off
}

/// Reads, answers and writes on connection `idx` as far as it goes without blocking.
fn serve(s: &mut Server, idx: usize) -> io::Result<()> {
    let Server {
        conns,
        handler,
        inbox,
        stats,
        config,
        rbuf,
        out,
        ..
    } = s;
    let Some(c) = conns.get_mut(idx, None) else {
        return Ok(());
    };
    let now = Instant::now();
    c.flush(now)?;
    let mut env = Env {
        handler: handler.as_ref(),
        stats,
        ctx: Context {
            client: c.client,
            local: c.local,
            transport: Transport::Tcp,
            max_udp_payload: config.max_udp_payload,
            later: Some((
                inbox.clone(),
                ReplyTo::Tcp {
                    conn: idx,
                    generation: c.generation,
                },
            )),
        },
        scratch: out,
        max_out: config.max_tcp_output,
    };
    loop {
        if c.backlog() > env.max_out {
            break;
        }
        if !c.partial.is_empty() {
            let n = serve_frames(&c.partial, &mut env, &mut c.out, c.written, &mut c.pending);
            c.partial.drain(..n);
            c.flush(now)?;
            if c.backlog() > env.max_out {
                break;
            }
        }
        if c.eof {
            break;
        }
        match c.sock.recv(&mut rbuf[..], 0) {
            Ok(0) => c.eof = true,
            Ok(n) => {
                c.last = now;
                if c.partial.is_empty() {
                    let k =
                        serve_frames(&rbuf[..n], &mut env, &mut c.out, c.written, &mut c.pending);
                    c.partial.extend_from_slice(&rbuf[k..n]);
                } else {
                    c.partial.extend_from_slice(&rbuf[..n]);
                }
                c.flush(now)?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A readiness event on connection `idx`.
pub(crate) fn conn_ready(s: &mut Server, idx: usize, _readable: bool, _writable: bool) {
    // Edge-triggered: whatever the event, serve reads until EAGAIN (unless the reply
    // backlog holds them back) and writes until the socket is full.
    match serve(s, idx) {
        Ok(()) => {
            if s.conns.get_mut(idx, None).is_some_and(|c| c.finished()) {
                close(s, idx);
            }
        }
        Err(e) => {
            log::debug!("tcp connection {idx}: {e}");
            close(s, idx);
        }
    }
}

/// A reply a responder sent for connection slot `idx` (if it still holds `generation`):
/// already finished into `s.out`.
pub(crate) fn deliver(s: &mut Server, idx: usize, generation: u64, outcome: Outcome) {
    let Some(c) = s.conns.get_mut(idx, Some(generation)) else {
        s.stats.count(outcome, false);
        return;
    };
    c.pending = c.pending.saturating_sub(1);
    let sent = matches!(outcome, Outcome::Reply { .. });
    if sent {
        c.queue(&s.out);
    }
    s.stats.count(outcome, sent);
    // Writes, and reads again if the backlog had held reads back.
    conn_ready(s, idx, false, true);
}

/// Closes connections idle for the configured timeout.
pub(crate) fn sweep(s: &mut Server, now: Instant) {
    let timeout = s.config.tcp_idle_timeout;
    let idle: Vec<usize> = s
        .conns
        .slots
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let c = c.as_ref()?;
            (c.pending == 0 && now.saturating_duration_since(c.last) >= timeout).then_some(i)
        })
        .collect();
    for i in idle {
        s.stats.tcp_timeouts.fetch_add(1, Ordering::Relaxed);
        close(s, i);
    }
}
