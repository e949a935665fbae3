//! The proxy's event loop: every address's listeners and UDP ports, every relayed
//! connection and flow, registered with one mio `Poll` by their real descriptors.
//!
//! Tokens are never reused (a counter), so a readiness event for something closed earlier in
//! the same batch finds nothing and is ignored. Readiness is edge-triggered: every socket is
//! read until `EAGAIN` (the relay's pipes keep that rule for TCP).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, ErrorKind};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use ioth::{SockAddr, Socket, Stack};
use ioth_service::clock::Clock;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use super::relay::Pipe;
use super::{ProxyConfig, Shared, SlotStatus, Stats};

const WAKER: Token = Token(0);
/// Bytes buffered per direction of a relayed connection.
const PIPE_BYTES: usize = 32 * 1024;
/// The largest datagram relayed.
const DATAGRAM: usize = 65536;

/// What a token stands for.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// A TCP listener of slot `slot` for forwarding `fwd`.
    Listener { slot: u32, fwd: usize },
    /// The external UDP socket of slot `slot` for UDP forwarding `port`.
    Port { slot: u32, port: usize },
    /// A relayed connection (keyed by its external socket's token).
    Conn(Token),
    /// A UDP flow's internal socket.
    Flow,
}

/// An external UDP socket and the flows that came through it.
struct Port {
    token: Token,
    sock: Socket,
    flows: HashMap<SocketAddr, Token>,
}

/// One OTIP address: its stack and sockets.
struct Slot {
    addr: Ipv6Addr,
    /// Kept so that the address lives as long as its sockets.
    _stack: Stack,
    listeners: Vec<(Token, Socket)>,
    /// One per UDP forwarding; `None` once closed.
    ports: Vec<Option<Port>>,
    accepting: bool,
    tcp: usize,
}

impl Slot {
    fn flows(&self) -> usize {
        self.ports.iter().flatten().map(|p| p.flows.len()).sum()
    }
}

/// A relayed TCP connection.
struct Conn {
    slot: u32,
    ext: Socket,
    int: Socket,
    int_token: Token,
    connected: bool,
    up: Pipe,
    down: Pipe,
    last: Duration,
}

/// A UDP flow: one client address and port, and the internal socket its datagrams leave by.
struct Flow {
    slot: u32,
    port: usize,
    peer: SocketAddr,
    sock: Socket,
    last: Duration,
}

/// The loop's state.
pub(super) struct Reactor {
    cfg: ProxyConfig,
    clock: Arc<dyn Clock>,
    shared: Arc<Shared>,
    poll: Poll,
    waker: Arc<Waker>,
    next_token: usize,
    sources: HashMap<Token, Source>,
    slots: BTreeMap<u32, Slot>,
    conns: HashMap<Token, Conn>,
    flows: HashMap<Token, Flow>,
    /// The slot last opened (or found open).
    current: Option<u32>,
    /// The slot whose opening failed last (logged once).
    failed: Option<u32>,
    /// The clock second idle connections and flows were last looked for.
    swept: u64,
    /// The status needs publishing.
    dirty: bool,
    buf: Box<[u8]>,
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == ErrorKind::WouldBlock
}

fn in_progress(e: &io::Error) -> bool {
    would_block(e) || e.raw_os_error() == Some(libc::EINPROGRESS)
}

fn domain_of(addr: &SocketAddr) -> libc::c_int {
    if addr.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    }
}

fn context(what: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl Reactor {
    pub(super) fn new(
        cfg: ProxyConfig,
        clock: Arc<dyn Clock>,
        shared: Arc<Shared>,
    ) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Reactor {
            cfg,
            clock,
            shared,
            poll,
            waker,
            next_token: 1,
            sources: HashMap::new(),
            slots: BTreeMap::new(),
            conns: HashMap::new(),
            flows: HashMap::new(),
            current: None,
            failed: None,
            swept: 0,
            dirty: true,
            buf: vec![0; DATAGRAM].into_boxed_slice(),
        })
    }

    pub(super) fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    fn token(&mut self) -> Token {
        let t = Token(self.next_token);
        self.next_token += 1;
        t
    }

    fn register(&mut self, sock: &Socket, source: Source, interest: Interest) -> io::Result<Token> {
        let token = self.token();
        self.poll
            .registry()
            .register(&mut SourceFd(&sock.as_raw_fd()), token, interest)?;
        self.sources.insert(token, source);
        Ok(token)
    }

    fn deregister(&mut self, sock: &Socket, token: Token) {
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&sock.as_raw_fd()));
        self.sources.remove(&token);
    }

    /// Opens the current slot's address now (at start: its errors are the caller's).
    pub(super) fn open_current(&mut self) -> io::Result<()> {
        let t = self.cfg.timing.proxy_slot(self.clock.unix_secs());
        self.open_slot(t)?;
        self.current = Some(t);
        self.publish();
        Ok(())
    }

    /// A fresh external stack with slot `t`'s address, listening on every forwarded port.
    fn open_slot(&mut self, t: u32) -> io::Result<()> {
        let addr = self.cfg.address(t);
        let ext = self.cfg.ext.clone();
        let stack = Stack::new(&ext.stack, &[ext.vnl.as_str()]).map_err(context(format!(
            "external stack {} on {}",
            ext.stack, ext.vnl
        )))?;
        let ifindex = stack
            .if_nametoindex(&ext.iface)
            .map_err(context(format!("external stack interface {}", ext.iface)))?;
        stack
            .ipaddr_add(IpAddr::V6(addr), 64, ifindex)
            .map_err(context(format!("adding {addr}/64 to {}", ext.iface)))?;
        stack
            .link_set_up(ifindex, true)
            .map_err(context(format!("bringing {} up", ext.iface)))?;
        if let Ok(lo) = stack.if_nametoindex("lo") {
            let _ = stack.link_set_up(lo, true);
        }
        let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        let mut listeners = Vec::new();
        for f in &self.cfg.tcp {
            let at = SocketAddr::new(IpAddr::V6(addr), f.ext_port);
            let sock = stack.socket(libc::AF_INET6, libc::SOCK_STREAM | flags, 0)?;
            sock.bind(&SockAddr::from(at))
                .and_then(|()| sock.listen(self.cfg.tcp_listen_backlog))
                .map_err(context(format!("TCP {at}")))?;
            listeners.push(sock);
        }
        let mut ports = Vec::new();
        for f in &self.cfg.udp {
            let at = SocketAddr::new(IpAddr::V6(addr), f.ext_port);
            let sock = stack.socket(libc::AF_INET6, libc::SOCK_DGRAM | flags, 0)?;
            sock.bind(&SockAddr::from(at))
                .map_err(context(format!("UDP {at}")))?;
            ports.push(sock);
        }
        let mut slot = Slot {
            addr,
            _stack: stack,
            listeners: Vec::new(),
            ports: Vec::new(),
            accepting: true,
            tcp: 0,
        };
        let registered = || -> io::Result<()> {
            for (fwd, sock) in listeners.into_iter().enumerate() {
                let token =
                    self.register(&sock, Source::Listener { slot: t, fwd }, Interest::READABLE)?;
                slot.listeners.push((token, sock));
            }
            for (port, sock) in ports.into_iter().enumerate() {
                let token =
                    self.register(&sock, Source::Port { slot: t, port }, Interest::READABLE)?;
                slot.ports.push(Some(Port {
                    token,
                    sock,
                    flows: HashMap::new(),
                }));
            }
            Ok(())
        };
        if let Err(e) = registered() {
            for (token, sock) in &slot.listeners {
                self.deregister(sock, *token);
            }
            for port in slot.ports.iter().flatten() {
                self.deregister(&port.sock, port.token);
            }
            return Err(e);
        }
        let w = self.cfg.timing.window(t);
        log::info!(
            "slot {t}: {addr} open, taking new sessions from {} to {} (Unix time)",
            w.start,
            w.end
        );
        self.slots.insert(t, slot);
        Stats::bump(&self.stats().addresses);
        self.dirty = true;
        Ok(())
    }

    /// Runs until the handle stops it.
    pub(super) fn run(mut self) {
        let mut events = Events::with_capacity(256);
        let mut ready = Vec::with_capacity(256);
        while !self.shared.stop.load(Ordering::Acquire) {
            if let Err(e) = self.poll.poll(&mut events, Some(Duration::from_secs(1))) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                log::error!("otip_rproxy: poll: {e}");
                break;
            }
            ready.clear();
            ready.extend(events.iter().map(|e| e.token()).filter(|t| *t != WAKER));
            let now = self.clock.now();
            for &token in &ready {
                self.dispatch(token, now);
            }
            self.tick(now);
            if self.dirty {
                self.publish();
            }
        }
        log::info!("otip_rproxy: stopped");
    }

    fn dispatch(&mut self, token: Token, now: Duration) {
        match self.sources.get(&token).copied() {
            Some(Source::Listener { slot, fwd }) => self.accept(slot, fwd, token, now),
            Some(Source::Port { slot, port }) => self.from_client(slot, port, now),
            Some(Source::Conn(key)) => self.service(key, now),
            Some(Source::Flow) => self.from_server(token, now),
            None => {}
        }
    }

    /// Takes every pending connection of a listener.
    fn accept(&mut self, t: u32, fwd: usize, token: Token, now: Duration) {
        loop {
            let Some(slot) = self.slots.get(&t) else {
                return;
            };
            let Some((_, listener)) = slot.listeners.iter().find(|(tok, _)| *tok == token) else {
                return;
            };
            match listener.accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) {
                Ok((ext, _)) => self.start_conn(t, fwd, ext, now),
                Err(e) if would_block(&e) => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("slot {t}: accept: {e}");
                    return;
                }
            }
        }
    }

    fn start_conn(&mut self, t: u32, fwd: usize, ext: Socket, now: Duration) {
        if !self.cfg.timing.accepts(t, now.as_secs()) {
            return; // the window ended before the listener closed: refuse
        }
        if self.conns.len() >= self.cfg.max_tcp_connections {
            Stats::bump(&self.stats().tcp_over_limit);
            log::debug!(
                "slot {t}: {} connections already: closing a new one",
                self.conns.len()
            );
            return;
        }
        let target = self.cfg.tcp[fwd].target;
        let int = match self.cfg.internal.socket(
            domain_of(&target),
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        ) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("slot {t}: internal socket for {target}: {e}");
                return;
            }
        };
        match int.connect(&SockAddr::from(target)) {
            Ok(()) => {}
            Err(e) if in_progress(&e) => {}
            Err(e) => {
                log::info!("slot {t}: connecting to {target}: {e}");
                return;
            }
        }
        let both = Interest::READABLE | Interest::WRITABLE;
        let key = self.token();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut SourceFd(&ext.as_raw_fd()), key, both)
        {
            log::warn!("slot {t}: {e}");
            return;
        }
        self.sources.insert(key, Source::Conn(key));
        let int_token = match self.register(&int, Source::Conn(key), both) {
            Ok(tok) => tok,
            Err(e) => {
                log::warn!("slot {t}: {e}");
                self.deregister(&ext, key);
                return;
            }
        };
        if let Ok(peer) = ext.peer_addr() {
            log::debug!("slot {t}: {:?} → {target}", peer.as_socket());
        }
        self.conns.insert(
            key,
            Conn {
                slot: t,
                ext,
                int,
                int_token,
                connected: false,
                up: Pipe::new(PIPE_BYTES),
                down: Pipe::new(PIPE_BYTES),
                last: now,
            },
        );
        if let Some(slot) = self.slots.get_mut(&t) {
            slot.tcp += 1;
        }
        Stats::bump(&self.stats().tcp_connections);
        self.dirty = true;
    }

    /// Moves what can be moved on connection `key`; closes it when both directions ended
    /// or either side failed.
    fn service(&mut self, key: Token, now: Duration) {
        let Some(c) = self.conns.get_mut(&key) else {
            return;
        };
        if !c.connected {
            match c.int.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => {
                    log::info!("slot {}: internal server: {e}", c.slot);
                    self.close(key);
                    return;
                }
            }
            match c.int.peer_addr() {
                Ok(_) => c.connected = true,
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => return,
                Err(e) => {
                    log::info!("slot {}: internal server: {e}", c.slot);
                    self.close(key);
                    return;
                }
            }
        }
        let up = c.up.pump(&mut &c.ext, &mut &c.int);
        let down = c.down.pump(&mut &c.int, &mut &c.ext);
        match (up, down) {
            (Ok(a), Ok(b)) => {
                if a + b > 0 {
                    c.last = now;
                }
                if c.up.done() && c.down.done() {
                    self.close(key);
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                log::debug!("slot {}: connection ends: {e}", c.slot);
                self.close(key);
            }
        }
    }

    fn close(&mut self, key: Token) {
        let Some(c) = self.conns.remove(&key) else {
            return;
        };
        self.deregister(&c.ext, key);
        self.deregister(&c.int, c.int_token);
        if let Some(slot) = self.slots.get_mut(&c.slot) {
            slot.tcp = slot.tcp.saturating_sub(1);
        }
        self.dirty = true;
    }

    /// Datagrams from clients on slot `t`'s UDP forwarding `p`.
    fn from_client(&mut self, t: u32, p: usize, now: Duration) {
        loop {
            let Some(port) = self.slots.get(&t).and_then(|s| s.ports[p].as_ref()) else {
                return;
            };
            let (n, from) = match port.sock.recv_from(&mut self.buf, 0) {
                Ok((n, Some(from))) => match from.as_socket() {
                    Some(f) => (n, f),
                    None => continue,
                },
                Ok((_, None)) => continue,
                Err(e) if would_block(&e) => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("slot {t}: UDP receive: {e}");
                    return;
                }
            };
            let flow = match port.flows.get(&from) {
                Some(&tok) => Some(tok),
                None => self.start_flow(t, p, from, now),
            };
            let Some(flow) = flow.and_then(|tok| self.flows.get_mut(&tok)) else {
                Stats::bump(&self.shared.stats.udp_dropped);
                continue;
            };
            flow.last = now;
            if let Err(e) = flow.sock.send(&self.buf[..n], 0)
                && !would_block(&e)
            {
                log::debug!("slot {t}: UDP to the internal server: {e}");
            }
        }
    }

    /// A new flow for `peer`, if slot `t` takes new ones and the bound allows.
    fn start_flow(&mut self, t: u32, p: usize, peer: SocketAddr, now: Duration) -> Option<Token> {
        let accepting = self.slots.get(&t).is_some_and(|s| s.accepting);
        if !accepting || !self.cfg.timing.accepts(t, now.as_secs()) {
            return None;
        }
        if self.flows.len() >= self.cfg.max_udp_flows {
            log::debug!("slot {t}: {} UDP flows already: dropping", self.flows.len());
            return None;
        }
        let target = self.cfg.udp[p].target;
        let sock = self
            .cfg
            .internal
            .socket(
                domain_of(&target),
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
            .and_then(|s| s.connect(&SockAddr::from(target)).map(|()| s));
        let sock = match sock {
            Ok(s) => s,
            Err(e) => {
                log::warn!("slot {t}: UDP socket to {target}: {e}");
                return None;
            }
        };
        let token = match self.register(&sock, Source::Flow, Interest::READABLE) {
            Ok(tok) => tok,
            Err(e) => {
                log::warn!("slot {t}: {e}");
                return None;
            }
        };
        log::debug!("slot {t}: UDP flow {peer} → {target}");
        self.flows.insert(
            token,
            Flow {
                slot: t,
                port: p,
                peer,
                sock,
                last: now,
            },
        );
        if let Some(port) = self.slots.get_mut(&t).and_then(|s| s.ports[p].as_mut()) {
            port.flows.insert(peer, token);
        }
        Stats::bump(&self.stats().udp_flows);
        self.dirty = true;
        Some(token)
    }

    /// Replies of the internal server on flow `token`, back to its client.
    fn from_server(&mut self, token: Token, now: Duration) {
        loop {
            let Some(flow) = self.flows.get_mut(&token) else {
                return;
            };
            let n = match flow.sock.recv(&mut self.buf, 0) {
                Ok(n) => n,
                Err(e) if would_block(&e) => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // An ICMP error of an earlier datagram, reported once.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
                Err(e) => {
                    log::debug!("slot {}: UDP from the internal server: {e}", flow.slot);
                    return;
                }
            };
            flow.last = now;
            let (t, p, peer) = (flow.slot, flow.port, flow.peer);
            let Some(port) = self.slots.get(&t).and_then(|s| s.ports[p].as_ref()) else {
                return;
            };
            if let Err(e) = port.sock.send_to(&self.buf[..n], &SockAddr::from(peer), 0)
                && !would_block(&e)
            {
                log::debug!("slot {t}: UDP to {peer}: {e}");
            }
        }
    }

    fn end_flow(&mut self, token: Token) {
        let Some(f) = self.flows.remove(&token) else {
            return;
        };
        self.deregister(&f.sock, token);
        if let Some(port) = self
            .slots
            .get_mut(&f.slot)
            .and_then(|s| s.ports[f.port].as_mut())
        {
            port.flows.remove(&f.peer);
        }
        self.dirty = true;
    }

    /// Follows the clock: opens the new slot's address, ends windows, closes idle
    /// connections and flows, retires addresses nobody uses any more.
    fn tick(&mut self, now: Duration) {
        let unix = now.as_secs();
        let timing = self.cfg.timing;
        let t = timing.proxy_slot(unix);
        if self.current != Some(t) {
            if self.slots.contains_key(&t) {
                self.current = Some(t);
            } else {
                match self.open_slot(t) {
                    Ok(()) => {
                        self.current = Some(t);
                        self.failed = None;
                    }
                    Err(e) => {
                        if self.failed != Some(t) {
                            log::error!("slot {t}: cannot open its address: {e}");
                            self.failed = Some(t);
                        }
                    }
                }
            }
        }
        if unix != self.swept {
            self.swept = unix;
            self.sweep(now);
        }
        let ending: Vec<u32> = self
            .slots
            .iter()
            .filter(|(s, slot)| slot.accepting && !timing.accepts(**s, unix))
            .map(|(s, _)| *s)
            .collect();
        for s in ending {
            self.stop_accepting(s);
        }
        let mut retired = Vec::new();
        let mut idle_ports = Vec::new();
        for (s, slot) in &self.slots {
            if slot.accepting {
                continue;
            }
            for (p, port) in slot.ports.iter().enumerate() {
                if port.as_ref().is_some_and(|port| port.flows.is_empty()) {
                    idle_ports.push((*s, p));
                }
            }
            if slot.tcp == 0 && slot.flows() == 0 {
                retired.push(*s);
            }
        }
        for (s, p) in idle_ports {
            if let Some(port) = self.slots.get_mut(&s).and_then(|slot| slot.ports[p].take()) {
                self.deregister(&port.sock, port.token);
            }
        }
        for s in retired {
            if let Some(slot) = self.slots.remove(&s) {
                log::info!("slot {s}: {} retired", slot.addr);
                self.dirty = true;
            }
        }
    }

    fn stop_accepting(&mut self, t: u32) {
        let Some(slot) = self.slots.get_mut(&t) else {
            return;
        };
        slot.accepting = false;
        let listeners = std::mem::take(&mut slot.listeners);
        let (addr, tcp, flows) = (slot.addr, slot.tcp, slot.flows());
        for (token, sock) in &listeners {
            self.deregister(sock, *token);
        }
        log::info!(
            "slot {t}: {addr} takes no new sessions ({tcp} connections and {flows} flows live on)"
        );
        self.dirty = true;
    }

    fn sweep(&mut self, now: Duration) {
        let idle = |last: Duration, limit: Duration| now.saturating_sub(last) >= limit;
        let conns: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| idle(c.last, self.cfg.tcp_timeout))
            .map(|(k, _)| *k)
            .collect();
        for key in conns {
            log::debug!("closing an idle connection");
            Stats::bump(&self.stats().tcp_idle_closed);
            self.close(key);
        }
        let flows: Vec<Token> = self
            .flows
            .iter()
            .filter(|(_, f)| idle(f.last, self.cfg.udp_timeout))
            .map(|(k, _)| *k)
            .collect();
        for token in flows {
            Stats::bump(&self.stats().udp_idle_closed);
            self.end_flow(token);
        }
    }

    fn publish(&mut self) {
        let status: Vec<SlotStatus> = self
            .slots
            .iter()
            .map(|(t, s)| SlotStatus {
                slot: *t,
                addr: s.addr,
                accepting: s.accepting,
                tcp_connections: s.tcp,
                udp_flows: s.flows(),
            })
            .collect();
        *self
            .shared
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = status;
        self.dirty = false;
    }
}
