//! The engine: connections and listeners of one stack, found by four-tuple in constant time,
//! their timers in one queue, and the socket calls.
//!
//! Flow: the backend calls [`Engine::input`] for each TCP segment addressed to the stack,
//! then [`Engine::poll`], which runs due timers and emits what is ready; socket calls queue
//! work that the next `poll` sends. [`Engine::take_events`] says which sockets to refresh.
//!
//! Invariants:
//! - `by_tuple` maps exactly the connections that are not `Closed` to their slot.
//! - A slot's generation changes whenever its connection goes, so stale ids never reach a
//!   newer connection.
//! - Every live connection whose deadline is not `NEVER` has a heap entry with that deadline
//!   (`Conn::armed`); entries that no longer match are skipped.

mod listen;
mod types;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use sha2::{Digest, Sha256};

use crate::conn::output::Tx;
use crate::conn::{Conn, Ctx, Notes};
use crate::cookie::CookieJar;
use crate::info::TcpInfo;
use crate::isn::IsnGenerator;
use crate::seq::Seq;
use crate::time::Instant;
use crate::wire::{self, Flags, Header, Segment, TcpOptions};

pub use types::{
    Config, ConnId, Counters, Error, Event, ListenerId, Outgoing, SockOpts, State, Status,
};

use listen::Listener;

/// Stateless segments waiting to leave (RSTs, cookie SYN-ACKs): at most this many.
const CTL_MAX: usize = 1024;

/// The segment-building buffer: the largest segment (64 KiB of payload, on `lo`) and its
/// header.
const SCRATCH_LEN: usize = 65536 + wire::MAX_HEADER_LEN;

struct ConnSlot {
    generation: u32,
    conn: Option<Box<Conn>>,
}

struct ListenSlot {
    generation: u32,
    listener: Option<Listener>,
}

/// A segment sent without a connection.
pub(crate) struct Ctl {
    local: SocketAddr,
    remote: SocketAddr,
    seq: Seq,
    ack: Seq,
    flags: Flags,
    window: u16,
    options: TcpOptions,
    hop_limit: Option<u8>,
}

impl Ctl {
    /// A RST (RFC 9293 3.10.7.1): with an ACK of `ack` when given.
    fn rst(local: SocketAddr, remote: SocketAddr, seq: Seq, ack: Option<Seq>) -> Ctl {
        let mut flags = Flags::RST;
        if ack.is_some() {
            flags |= Flags::ACK;
        }
        Ctl {
            local,
            remote,
            seq,
            ack: ack.unwrap_or(Seq(0)),
            flags,
            window: 0,
            options: TcpOptions::default(),
            hop_limit: None,
        }
    }
}

/// Which socket an event is for.
#[derive(Clone, Copy)]
enum EventSource {
    Conn(u32, u32),
    Listener(u32, u32),
}

/// The TCP of one stack.
pub struct Engine {
    cfg: Config,
    slots: Vec<ConnSlot>,
    free: Vec<u32>,
    by_tuple: HashMap<(SocketAddr, SocketAddr), u32>,
    listeners: Vec<ListenSlot>,
    listen_free: Vec<u32>,
    listen_by_addr: HashMap<SocketAddr, u32>,
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    dirty: Vec<u32>,
    ctl: VecDeque<Ctl>,
    events: Vec<EventSource>,
    isn: IsnGenerator,
    cookies: CookieJar,
    /// Where segments are built: made on the first poll with something to send (an engine
    /// that never sends holds none), then kept.
    scratch: Vec<u8>,
    counters: Counters,
    /// Connections in TIME-WAIT (see [`Config::max_time_wait`]).
    time_wait: usize,
}

fn derive(secret: &[u8; 32], tag: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(tag);
    h.update(secret);
    h.finalize().into()
}

/// An IPv4-mapped IPv6 socket address as IPv4 (others unchanged), and whether it was mapped.
fn unmap(a: SocketAddr) -> (SocketAddr, bool) {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => (SocketAddr::new(IpAddr::V4(v4), v6.port()), true),
            None => (a, false),
        },
        v4 => (v4, false),
    }
}

impl Engine {
    /// An engine with no connections.
    pub fn new(config: Config) -> Engine {
        let isn = IsnGenerator::new(derive(&config.secret, b"ioth-tcp isn"));
        let cookies = CookieJar::new(derive(&config.secret, b"ioth-tcp cookies"));
        Engine {
            cfg: config,
            slots: Vec::new(),
            free: Vec::new(),
            by_tuple: HashMap::new(),
            listeners: Vec::new(),
            listen_free: Vec::new(),
            listen_by_addr: HashMap::new(),
            timers: BinaryHeap::new(),
            dirty: Vec::new(),
            ctl: VecDeque::new(),
            events: Vec::new(),
            isn,
            cookies,
            scratch: Vec::new(),
            counters: Counters::default(),
            time_wait: 0,
        }
    }

    /// The engine's settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The engine's counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Connections held, orphans and TIME-WAIT included.
    pub fn connections(&self) -> usize {
        self.slots.iter().filter(|s| s.conn.is_some()).count()
    }

    /// Whether a connection holds this four-tuple (for the backend's port choice).
    pub fn tuple_in_use(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        let (l, _) = unmap(local);
        let (r, _) = unmap(remote);
        self.by_tuple.contains_key(&(l, r))
    }

    // ---- the wire ----

    /// Takes one TCP segment (the IP payload) from `src` to `dst` that arrived by an
    /// interface of MTU `mtu`. Bad segments are counted and dropped; nothing is emitted
    /// here: call [`Engine::poll`] after a batch.
    pub fn input(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        segment: &[u8],
        mtu: usize,
        verify_checksum: bool,
    ) {
        if src.is_unspecified() || src.is_multicast() || dst.is_unspecified() || dst.is_multicast()
        {
            self.counters.bad_segs += 1;
            return;
        }
        if verify_checksum && !wire::verify_checksum(src, dst, segment) {
            self.counters.bad_segs += 1;
            self.counters.csum_errors += 1;
            return;
        }
        let seg = match Segment::parse(segment) {
            Ok(s) => s,
            Err(e) => {
                log::trace!("TCP {src} -> {dst}: bad segment: {e}");
                self.counters.bad_segs += 1;
                return;
            }
        };
        self.counters.segs_in += 1;
        let local = SocketAddr::new(dst, seg.header.dst_port);
        let remote = SocketAddr::new(src, seg.header.src_port);
        if let Some(&idx) = self.by_tuple.get(&(local, remote))
            && self.conn_input(now, idx, &seg)
        {
            return;
        }
        self.no_connection(now, local, remote, &seg, mtu);
    }

    /// Gives `seg` to connection `idx`; false when a TIME-WAIT connection gave its tuple up
    /// for a new SYN (the caller then hands the SYN to the listener).
    fn conn_input(&mut self, now: Instant, idx: u32, seg: &Segment<'_>) -> bool {
        let Some(conn) = self
            .slots
            .get_mut(idx as usize)
            .and_then(|s| s.conn.as_deref_mut())
        else {
            return true;
        };
        // A handshake that would complete into a full accept queue waits (Linux drops the
        // ACK; the SYN-ACK is retransmitted and the client's next ACK gets in).
        if conn.state == State::SynReceived
            && let Some((li, lg)) = conn.listener
            && self
                .listeners
                .get(li as usize)
                .filter(|s| s.generation == lg)
                .and_then(|s| s.listener.as_ref())
                .is_some_and(Listener::accept_full)
            && !seg.header.flags.contains(Flags::RST)
        {
            self.counters.listen_drops += 1;
            return true;
        }
        let mut cx = Ctx {
            now,
            cfg: &self.cfg,
            counters: &mut self.counters,
        };
        let res = conn.input(&mut cx, seg);
        let (local, remote) = (conn.local, conn.remote);
        if res.reuse {
            log::debug!("TCP {local} <- {remote}: a new SYN takes over the TIME-WAIT connection");
            self.remove_conn(idx);
            return false;
        }
        if let Some((seq, ack)) = res.rst {
            self.push_ctl(Ctl::rst(local, remote, seq, ack));
        }
        self.after_conn(idx, res.notes);
        true
    }

    /// Runs the timers due at `now` and emits everything ready. `emit` returns false when
    /// the backend cannot take more now: the rest goes at the next poll, nothing is lost.
    pub fn poll(&mut self, now: Instant, emit: &mut dyn FnMut(Outgoing<'_>) -> bool) {
        // Timers.
        while let Some(&Reverse((t, idx, generation))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.slots.get_mut(idx as usize) else {
                continue;
            };
            if slot.generation != generation {
                continue;
            }
            let Some(conn) = slot.conn.as_deref_mut() else {
                continue;
            };
            if conn.armed != t {
                continue;
            }
            conn.armed = Instant::NEVER;
            let mut cx = Ctx {
                now,
                cfg: &self.cfg,
                counters: &mut self.counters,
            };
            let notes = conn.on_timers(&mut cx);
            self.after_conn(idx, notes);
        }
        if self.scratch.is_empty() && !(self.ctl.is_empty() && self.dirty.is_empty()) {
            self.scratch = vec![0u8; SCRATCH_LEN];
        }
        // Stateless segments.
        while let Some(c) = self.ctl.front() {
            let h = Header {
                src_port: c.local.port(),
                dst_port: c.remote.port(),
                seq: c.seq,
                ack: c.ack,
                flags: c.flags,
                window: c.window,
                urgent: 0,
                options: c.options,
            };
            let (src, dst) = (c.local.ip(), c.remote.ip());
            let hop_limit = c.hop_limit;
            let is_rst = c.flags.contains(Flags::RST);
            if let Ok(n) = wire::emit_segment(&h, &[], src, dst, &mut self.scratch)
                && let Some(seg) = self.scratch.get(..n)
            {
                if !emit(Outgoing {
                    src,
                    dst,
                    hop_limit,
                    segment: seg,
                }) {
                    return;
                }
                self.counters.segs_out += 1;
                if is_rst {
                    self.counters.rsts_out += 1;
                }
            }
            self.ctl.pop_front();
        }
        // Connections with something to send.
        let mut dirty = std::mem::take(&mut self.dirty);
        let mut blocked_at = None;
        for (i, &idx) in dirty.iter().enumerate() {
            let Some(conn) = self
                .slots
                .get_mut(idx as usize)
                .and_then(|s| s.conn.as_deref_mut())
            else {
                continue;
            };
            conn.dirty = false;
            let mut cx = Ctx {
                now,
                cfg: &self.cfg,
                counters: &mut self.counters,
            };
            let mut tx = Tx {
                emit,
                buf: &mut self.scratch,
            };
            let ok = conn.output(&mut cx, &mut tx);
            let changed = conn.state == State::Closed;
            self.after_conn(
                idx,
                Notes {
                    changed,
                    ..Notes::default()
                },
            );
            if !ok {
                blocked_at = Some(i);
                break;
            }
        }
        if let Some(i) = blocked_at {
            // The backend is full: the refused connection and every one not reached yet try
            // again at the next poll. Those not reached still carry their flag but are no
            // longer listed: list them whatever the flag says.
            for (j, &idx) in dirty.iter().enumerate().skip(i) {
                let Some(conn) = self
                    .slots
                    .get_mut(idx as usize)
                    .and_then(|s| s.conn.as_deref_mut())
                else {
                    continue;
                };
                if j == i {
                    // Its output stopped half way: it has more to send.
                    conn.dirty_output = true;
                    if conn.dirty {
                        continue; // after_conn listed it again already
                    }
                }
                conn.dirty = true;
                self.dirty.push(idx);
            }
        }
        dirty.clear();
        if self.dirty.is_empty() {
            self.dirty = dirty;
        }
        self.prune_timers();
    }

    /// Drops cancelled timers from the top of the heap, so that [`Engine::next_deadline`]
    /// names a timer that will fire: a connection's timers move at every ACK, and each
    /// move leaves its old entry behind (lazy invalidation), which would otherwise wake the
    /// caller for nothing, once per entry.
    fn prune_timers(&mut self) {
        while let Some(&Reverse((t, idx, generation))) = self.timers.peek() {
            let live = self
                .slots
                .get(idx as usize)
                .filter(|s| s.generation == generation)
                .and_then(|s| s.conn.as_deref())
                .is_some_and(|c| c.armed == t);
            if live {
                break;
            }
            self.timers.pop();
        }
    }

    /// When [`Engine::poll`] must run next: now if work is queued, else the earliest timer
    /// ([`Instant::NEVER`] if none). After a poll that is a timer still armed; after input
    /// alone it may be one since cancelled, which only costs a poll that finds nothing.
    pub fn next_deadline(&self) -> Instant {
        if !self.dirty.is_empty() || !self.ctl.is_empty() {
            return Instant::ZERO;
        }
        self.timers
            .peek()
            .map_or(Instant::NEVER, |Reverse((t, _, _))| *t)
    }

    /// Appends the tokens of sockets whose status may have changed, each once.
    pub fn take_events(&mut self, out: &mut Vec<Event>) {
        for e in self.events.drain(..) {
            match e {
                EventSource::Conn(i, g) => {
                    if let Some(slot) = self.slots.get_mut(i as usize)
                        && slot.generation == g
                        && let Some(c) = slot.conn.as_deref_mut()
                    {
                        c.event_queued = false;
                        out.push(Event { token: c.token });
                    }
                }
                EventSource::Listener(i, g) => {
                    if let Some(slot) = self.listeners.get_mut(i as usize)
                        && slot.generation == g
                        && let Some(l) = slot.listener.as_mut()
                    {
                        l.event_queued = false;
                        out.push(Event { token: l.token });
                    }
                }
            }
        }
    }

    /// The backend gave up reaching `remote`: connects to it fail with `error`; open
    /// connections keep it as a soft error (reported if they time out), as Linux.
    pub fn unreachable(&mut self, now: Instant, remote: IpAddr, error: Error) {
        let idxs: Vec<u32> = self
            .by_tuple
            .iter()
            .filter(|((_, r), _)| r.ip() == remote)
            .map(|(_, &i)| i)
            .collect();
        for idx in idxs {
            let Some(conn) = self
                .slots
                .get_mut(idx as usize)
                .and_then(|s| s.conn.as_deref_mut())
            else {
                continue;
            };
            let notes = if conn.state == State::SynSent {
                log::debug!("TCP {} -> {}: {error}", conn.local, conn.remote);
                conn.terminate(Some(error))
            } else {
                conn.soft_error = Some(error);
                Notes::default()
            };
            let _ = now;
            self.after_conn(idx, notes);
        }
    }

    // ---- opening ----

    /// Opens a connection from `local` (port chosen) to `remote` over an interface of MTU
    /// `mtu`. The SYN leaves at the next poll.
    pub fn connect(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        mtu: usize,
        opts: &SockOpts,
        token: u64,
    ) -> Result<ConnId, Error> {
        let (local, lm) = unmap(local);
        let (remote, rm) = unmap(remote);
        if local.is_ipv4() != remote.is_ipv4() || remote.port() == 0 || local.port() == 0 {
            return Err(Error::InvalidInput);
        }
        if remote.ip().is_unspecified() || remote.ip().is_multicast() {
            return Err(Error::NetUnreachable);
        }
        if self.by_tuple.contains_key(&(local, remote)) {
            return Err(Error::AddrInUse);
        }
        let iss = self.isn.isn(now, local, remote);
        let cx = Ctx {
            now,
            cfg: &self.cfg,
            counters: &mut self.counters,
        };
        let mut c = Conn::new(&cx, State::SynSent, local, remote, iss, mtu, opts, token);
        c.mapped = lm || rm;
        c.ts_offset = self.isn.ts_offset(local, remote);
        c.syn_due = true;
        c.progress_at = Some(now);
        self.counters.active_opens += 1;
        let idx = self.insert_conn(c);
        self.after_conn(idx, Notes::default());
        Ok(self.id_of(idx))
    }

    /// Listens on `local` (the wildcard takes every address of its family; an IPv6 wildcard
    /// also takes IPv4 unless `v6only`).
    pub fn listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
        v6only: bool,
        opts: &SockOpts,
        token: u64,
    ) -> Result<ListenerId, Error> {
        let (local, _) = unmap(local);
        if self.listen_by_addr.contains_key(&local) {
            return Err(Error::AddrInUse);
        }
        let l = Listener {
            local,
            v6only,
            backlog,
            opts: opts.clone(),
            token,
            syn_queue: 0,
            accept: VecDeque::new(),
            event_queued: false,
        };
        let idx = match self.listen_free.pop() {
            Some(i) => {
                self.listeners[i as usize].listener = Some(l);
                i
            }
            None => {
                self.listeners.push(ListenSlot {
                    generation: 0,
                    listener: Some(l),
                });
                (self.listeners.len() - 1) as u32
            }
        };
        self.listen_by_addr.insert(local, idx);
        Ok(ListenerId {
            index: idx,
            generation: self.listeners[idx as usize].generation,
        })
    }

    fn listener_mut(&mut self, l: ListenerId) -> Result<&mut Listener, Error> {
        self.listeners
            .get_mut(l.index as usize)
            .filter(|s| s.generation == l.generation)
            .and_then(|s| s.listener.as_mut())
            .ok_or(Error::InvalidInput)
    }

    /// `listen(2)` again: a new backlog.
    pub fn set_backlog(&mut self, l: ListenerId, backlog: usize) -> Result<(), Error> {
        self.listener_mut(l)?.backlog = backlog;
        Ok(())
    }

    /// Changes a listener's token and the options its connections start with.
    pub fn set_listener_opts(
        &mut self,
        l: ListenerId,
        opts: &SockOpts,
        token: u64,
    ) -> Result<(), Error> {
        let lis = self.listener_mut(l)?;
        lis.opts = opts.clone();
        lis.token = token;
        Ok(())
    }

    /// Connections waiting to be accepted.
    pub fn pending(&self, l: ListenerId) -> usize {
        self.listeners
            .get(l.index as usize)
            .filter(|s| s.generation == l.generation)
            .and_then(|s| s.listener.as_ref())
            .map_or(0, |l| l.accept.len())
    }

    /// The oldest established connection of the accept queue; its events carry `token`.
    pub fn accept(&mut self, now: Instant, l: ListenerId, token: u64) -> Result<ConnId, Error> {
        loop {
            let (idx, generation) = self
                .listener_mut(l)?
                .accept
                .pop_front()
                .ok_or(Error::WouldBlock)?;
            let Some(slot) = self.slots.get_mut(idx as usize) else {
                continue;
            };
            if slot.generation != generation {
                continue;
            }
            let Some(conn) = slot.conn.as_deref_mut() else {
                continue;
            };
            conn.token = token;
            conn.listener = None;
            self.counters.passive_opens += 1;
            self.after_conn(
                idx,
                Notes {
                    changed: true,
                    ..Notes::default()
                },
            );
            let _ = now;
            return Ok(ConnId {
                index: idx,
                generation,
            });
        }
    }

    /// Closes a listener: its half-open connections go, the queued ones are reset (Linux).
    pub fn close_listener(&mut self, now: Instant, l: ListenerId) {
        let Some(slot) = self.listeners.get_mut(l.index as usize) else {
            return;
        };
        if slot.generation != l.generation {
            return;
        }
        let Some(lis) = slot.listener.take() else {
            return;
        };
        slot.generation = slot.generation.wrapping_add(1);
        self.listen_free.push(l.index);
        self.listen_by_addr.remove(&lis.local);
        for (idx, generation) in lis.accept {
            if self
                .slots
                .get(idx as usize)
                .is_some_and(|s| s.generation == generation)
            {
                self.reset_and_remove(idx);
            }
        }
        let half_open: Vec<u32> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.conn
                    .as_deref()
                    .is_some_and(|c| c.listener == Some((l.index, l.generation)))
            })
            .map(|(i, _)| i as u32)
            .collect();
        for idx in half_open {
            self.remove_conn(idx);
        }
        let _ = now;
    }

    // ---- data and teardown ----

    fn conn_index(&self, c: ConnId) -> Result<u32, Error> {
        match self.slots.get(c.index as usize) {
            Some(s) if s.generation == c.generation && s.conn.is_some() => Ok(c.index),
            _ => Err(Error::NotConnected),
        }
    }

    /// Runs `f` on connection `c` with a context, then the engine's bookkeeping.
    fn with_conn<R>(
        &mut self,
        now: Instant,
        c: ConnId,
        f: impl FnOnce(&mut Conn, &mut Ctx<'_>) -> R,
    ) -> Result<R, Error> {
        let idx = self.conn_index(c)?;
        let conn = self.slots[idx as usize]
            .conn
            .as_deref_mut()
            .ok_or(Error::NotConnected)?;
        let mut cx = Ctx {
            now,
            cfg: &self.cfg,
            counters: &mut self.counters,
        };
        let r = f(conn, &mut cx);
        self.after_conn(idx, Notes::default());
        Ok(r)
    }

    /// Queues up to the free send space; `WouldBlock` when there is none.
    pub fn send(&mut self, now: Instant, c: ConnId, data: &[u8]) -> Result<usize, Error> {
        self.with_conn(now, c, |conn, cx| conn.send(cx, data))?
    }

    /// Reads (or peeks) in-order data; `Ok(0)` at end of stream.
    pub fn recv(
        &mut self,
        now: Instant,
        c: ConnId,
        out: &mut [u8],
        peek: bool,
    ) -> Result<usize, Error> {
        self.with_conn(now, c, |conn, cx| conn.recv(cx, out, peek))?
    }

    /// `shutdown(SHUT_WR)`: a FIN after the queued data.
    pub fn shutdown_write(&mut self, now: Instant, c: ConnId) -> Result<(), Error> {
        self.with_conn(now, c, |conn, _| conn.shutdown_write())
    }

    /// The socket lets go of `c` (the id is stale afterwards). Unread data or `linger_zero`:
    /// a RST at once (RFC 9293 3.10.4, as Linux). Otherwise a FIN after the queued data, and
    /// the engine finishes the close by itself.
    pub fn close(&mut self, now: Instant, c: ConnId, linger_zero: bool) -> Result<(), Error> {
        let idx = self.conn_index(c)?;
        let Some(conn) = self.slots[idx as usize].conn.as_deref_mut() else {
            return Err(Error::NotConnected);
        };
        match conn.state {
            State::Closed | State::SynSent | State::Listen => {
                self.remove_conn(idx);
                return Ok(());
            }
            _ => {}
        }
        if linger_zero || conn.rcvbuf.readable() > 0 {
            self.reset_and_remove(idx);
            return Ok(());
        }
        conn.orphan = true;
        conn.shutdown_write();
        match conn.state {
            State::FinWait2 => conn.close_at = Some(now + self.cfg.fin_timeout),
            State::TimeWait => {}
            _ => {}
        }
        conn.dirty_output = true;
        self.after_conn(idx, Notes::default());
        Ok(())
    }

    /// Resets `c` now (RST sent); the id stays valid and shows `ConnectionReset`.
    pub fn abort(&mut self, now: Instant, c: ConnId) -> Result<(), Error> {
        let idx = self.conn_index(c)?;
        if let Some(conn) = self.slots[idx as usize].conn.as_deref_mut()
            && conn.state != State::Closed
        {
            if conn.state != State::SynSent {
                let ctl = Ctl::rst(
                    conn.local,
                    conn.remote,
                    conn.snd_nxt(),
                    Some(conn.rcvbuf.rcv_nxt()),
                );
                self.push_ctl(ctl);
            }
            let conn = self.slots[idx as usize]
                .conn
                .as_deref_mut()
                .ok_or(Error::NotConnected)?;
            let notes = conn.terminate(Some(Error::ConnectionReset));
            let _ = now;
            self.after_conn(idx, notes);
        }
        Ok(())
    }

    /// Applies new socket options to `c`.
    pub fn set_opts(&mut self, now: Instant, c: ConnId, opts: &SockOpts) -> Result<(), Error> {
        self.with_conn(now, c, |conn, cx| {
            conn.set_opts(cx.now, opts);
            conn.dirty_output = true;
        })
    }

    /// Changes the token `c`'s events carry.
    pub fn set_token(&mut self, c: ConnId, token: u64) -> Result<(), Error> {
        let idx = self.conn_index(c)?;
        if let Some(conn) = self.slots[idx as usize].conn.as_deref_mut() {
            conn.token = token;
        }
        Ok(())
    }

    /// What `c` shows to its socket.
    pub fn status(&self, c: ConnId) -> Result<Status, Error> {
        let idx = self.conn_index(c)?;
        self.slots[idx as usize]
            .conn
            .as_deref()
            .map(Conn::status)
            .ok_or(Error::NotConnected)
    }

    /// `TCP_INFO` for `c`.
    pub fn info(&self, now: Instant, c: ConnId) -> Result<TcpInfo, Error> {
        let idx = self.conn_index(c)?;
        self.slots[idx as usize]
            .conn
            .as_deref()
            .map(|conn| TcpInfo::of(conn, now))
            .ok_or(Error::NotConnected)
    }

    // ---- bookkeeping ----

    fn id_of(&self, idx: u32) -> ConnId {
        ConnId {
            index: idx,
            generation: self.slots[idx as usize].generation,
        }
    }

    fn insert_conn(&mut self, c: Conn) -> u32 {
        let key = (c.local, c.remote);
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize].conn = Some(Box::new(c));
                i
            }
            None => {
                self.slots.push(ConnSlot {
                    generation: 0,
                    conn: Some(Box::new(c)),
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.by_tuple.insert(key, idx);
        idx
    }

    fn remove_conn(&mut self, idx: u32) {
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return;
        };
        let Some(conn) = slot.conn.take() else {
            return;
        };
        slot.generation = slot.generation.wrapping_add(1);
        if conn.in_time_wait {
            self.time_wait = self.time_wait.saturating_sub(1);
        }
        if self.by_tuple.get(&(conn.local, conn.remote)) == Some(&idx) {
            self.by_tuple.remove(&(conn.local, conn.remote));
        }
        if let Some((li, lg)) = conn.listener
            && !conn.established
            && let Some(l) = self
                .listeners
                .get_mut(li as usize)
                .filter(|s| s.generation == lg)
                .and_then(|s| s.listener.as_mut())
        {
            l.syn_queue = l.syn_queue.saturating_sub(1);
        }
        self.free.push(idx);
    }

    fn reset_and_remove(&mut self, idx: u32) {
        if let Some(conn) = self.slots.get(idx as usize).and_then(|s| s.conn.as_deref())
            && conn.state != State::Closed
            && conn.state != State::SynSent
            && conn.state != State::TimeWait
        {
            let ctl = Ctl::rst(
                conn.local,
                conn.remote,
                conn.snd_nxt(),
                Some(conn.rcvbuf.rcv_nxt()),
            );
            self.push_ctl(ctl);
        }
        self.remove_conn(idx);
    }

    pub(crate) fn push_ctl(&mut self, ctl: Ctl) {
        if self.ctl.len() < CTL_MAX {
            self.ctl.push_back(ctl);
        }
    }

    /// After anything happened to connection `idx`: listener queues, events, timers, output.
    fn after_conn(&mut self, idx: u32, notes: Notes) {
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return;
        };
        let generation = slot.generation;
        let Some(conn) = slot.conn.as_deref_mut() else {
            return;
        };
        let mut notify = notes.changed;
        if notes.established
            && let Some((li, lg)) = conn.listener
        {
            match self
                .listeners
                .get_mut(li as usize)
                .filter(|s| s.generation == lg)
                .and_then(|s| s.listener.as_mut())
            {
                Some(l) => {
                    l.syn_queue = l.syn_queue.saturating_sub(1);
                    l.accept.push_back((idx, generation));
                    if !l.event_queued {
                        l.event_queued = true;
                        self.events.push(EventSource::Listener(li, lg));
                    }
                }
                None => conn.orphan = true,
            }
            notify = false;
        }
        if conn.state == State::TimeWait && !conn.in_time_wait {
            if self.time_wait >= self.cfg.max_time_wait {
                if !conn.skip_time_wait {
                    log::debug!(
                        "TCP {} -> {}: TIME-WAIT table full, closed once the last ACK is out",
                        conn.local,
                        conn.remote
                    );
                }
                // The peer must get the ACK of its FIN, or it stays in LAST-ACK and answers
                // the next SYN of this four-tuple with an ACK instead of a SYN-ACK.
                conn.skip_time_wait = true;
                if !conn.ack_now {
                    let _ = conn.terminate(None);
                }
            } else {
                conn.in_time_wait = true;
                self.time_wait += 1;
            }
        }
        if conn.state == State::Closed && conn.in_time_wait {
            conn.in_time_wait = false;
            self.time_wait = self.time_wait.saturating_sub(1);
        }
        if conn.state == State::Closed {
            let key = (conn.local, conn.remote);
            if self.by_tuple.get(&key) == Some(&idx) {
                self.by_tuple.remove(&key);
            }
            let in_syn_queue = conn.listener.is_some() && !conn.established;
            if conn.orphan || in_syn_queue {
                self.remove_conn(idx);
                return;
            }
        }
        if conn.listener.is_some() {
            // Not accepted yet: nobody to tell.
            notify = false;
        }
        if notify && !conn.orphan && !conn.event_queued {
            conn.event_queued = true;
            self.events.push(EventSource::Conn(idx, generation));
        }
        let d = conn.deadline();
        if d != conn.armed {
            conn.armed = d;
            if d != Instant::NEVER {
                self.timers.push(Reverse((d, idx, generation)));
            }
        }
        // Only what may have changed asks for output: a connection waiting for a window
        // is woken by the ACK that opens it, never polled in a loop.
        let wants_output =
            conn.dirty_output || conn.ack_now || conn.syn_due || conn.tlp_due || conn.probe_due;
        if wants_output && !conn.dirty && conn.state != State::Closed {
            conn.dirty = true;
            self.dirty.push(idx);
        }
    }
}
