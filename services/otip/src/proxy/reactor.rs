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

mod tcp;
mod udp;

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
    /// The slot whose opening failed last and the clock second it failed at: it is logged
    /// once and retried once a second.
    failed: Option<(u32, u64)>,
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

    /// Opens the addresses that take sessions now (at start: their errors are the
    /// caller's). Started within `preactive` seconds of a slot's end, that is two: the
    /// original opened only the newer one, so clients still on the older slot found nothing.
    pub(super) fn open_current(&mut self) -> io::Result<()> {
        for t in self.cfg.timing.accepting(self.clock.unix_secs()) {
            self.open_slot(t)?;
        }
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
            Some(Source::Port { slot, port }) => self.client_datagrams(slot, port, now),
            Some(Source::Conn(key)) => self.service(key, now),
            Some(Source::Flow) => self.server_datagrams(token, now),
            None => {}
        }
    }

    /// Follows the clock: opens the new slot's address, ends windows, closes idle
    /// connections and flows, retires addresses nobody uses any more.
    fn tick(&mut self, now: Duration) {
        let unix = now.as_secs();
        let timing = self.cfg.timing;
        // Every address whose window holds `now` is open (the clock may jump).
        for t in timing.accepting(unix) {
            if self.slots.contains_key(&t) {
                continue;
            }
            if let Some((f, at)) = self.failed
                && f == t
                && at == unix
            {
                continue;
            }
            match self.open_slot(t) {
                Ok(()) => self.failed = None,
                Err(e) => {
                    if self.failed.is_none_or(|(f, _)| f != t) {
                        log::error!("slot {t}: cannot open its address: {e}");
                    }
                    self.failed = Some((t, unix));
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
