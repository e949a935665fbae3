//! [`Server`]: UDP and TCP serving of a [`Handler`] from one event loop (mio over the
//! sockets' real descriptors), on a thread of its own ([`Server::bind`] → [`ServerHandle`])
//! or on the caller's loop ([`Server::new`], [`Server::run_once`]).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ioth::{SockAddr, Socket, Stack};
use libc::c_int;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::engine::{self, Context, Counters, Outcome, Stats};
use crate::request::{Handler, ReplyMeta, Response, Transport};
use crate::tcp::Conns;

/// How a server listens and what it allows.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Addresses to serve, UDP and TCP on each. IPv6 sockets are IPv6 only
    /// (`IPV6_V6ONLY`): list `0.0.0.0` too for IPv4. Port 0 picks a free port, the same
    /// for UDP and TCP of that address. Default: `[::]:53` and `0.0.0.0:53`.
    pub addrs: Vec<SocketAddr>,
    /// Serve UDP (default true).
    pub udp: bool,
    /// Serve TCP (default true).
    pub tcp: bool,
    /// A TCP connection that moves no bytes either way for this long, with no reply
    /// pending, is closed (default 10 s, as Knot DNS; RFC 7766 §6.2.3 asks for seconds).
    pub tcp_idle_timeout: Duration,
    /// Most TCP connections open at once; past it new ones are closed at once (default 256).
    pub max_tcp_connections: usize,
    /// Most reply bytes a TCP connection may have waiting to be sent; past it the server
    /// stops reading its queries until the client reads (default 256 KiB).
    pub max_tcp_output: usize,
    /// The EDNS UDP payload size the server advertises and sends at most (default 1232,
    /// the DNS flag day 2020 figure).
    pub max_udp_payload: u16,
    /// The TCP listen backlog (default 128).
    pub tcp_backlog: c_int,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addrs: vec![
                SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 53),
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 53),
            ],
            udp: true,
            tcp: true,
            tcp_idle_timeout: Duration::from_secs(10),
            max_tcp_connections: 256,
            max_tcp_output: 256 * 1024,
            max_udp_payload: crate::DEFAULT_UDP_PAYLOAD,
            tcp_backlog: 128,
        }
    }
}

/// Where a later reply goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ReplyTo {
    /// To `client` from UDP endpoint `endpoint`, leaving from `src` (address, interface).
    Udp {
        endpoint: usize,
        client: SocketAddr,
        src: Option<(IpAddr, u32)>,
    },
    /// On TCP connection slot `conn`, if it still holds connection `generation`.
    Tcp { conn: usize, generation: u64 },
}

/// A reply a [`crate::Responder`] sent.
#[derive(Debug)]
pub(crate) struct Later {
    pub to: ReplyTo,
    pub meta: ReplyMeta,
    pub response: Response,
}

/// Where responders post their replies: a channel and the loop's waker.
pub(crate) struct Inbox {
    tx: mpsc::Sender<Later>,
    waker: Waker,
    pub(crate) stats: Arc<Stats>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").finish_non_exhaustive()
    }
}

impl Inbox {
    /// Queues a reply and wakes the loop; false if the server is gone.
    pub(crate) fn post(&self, later: Later) -> bool {
        self.tx.send(later).is_ok() && self.waker.wake().is_ok()
    }
}

const WAKER: Token = Token(0);
/// Tokens of endpoints (UDP sockets and listeners) start here.
const ENDPOINT_BASE: usize = 1;
/// Tokens of TCP connections start here.
pub(crate) const CONN_BASE: usize = 1 << 20;
/// Datagrams or accepts one readiness event may take before other sockets get their turn.
const BUDGET: usize = 256;
/// Largest datagram or read.
const RBUF: usize = 65536;
/// How often idle TCP connections are looked for.
const SWEEP: Duration = Duration::from_secs(1);

/// One socket the server listens on.
pub(crate) struct Endpoint {
    pub sock: Socket,
    pub addr: SocketAddr,
    pub transport: Transport,
    /// A UDP socket on a wildcard address that reports each datagram's destination.
    pub pktinfo: bool,
}

/// A DNS server: its sockets, its handler and its event loop.
pub struct Server {
    poll: Poll,
    events: Events,
    ready: Vec<(Token, bool, bool)>,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) conns: Conns,
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) inbox: Arc<Inbox>,
    rx: mpsc::Receiver<Later>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) config: ServerConfig,
    pub(crate) rbuf: Box<[u8]>,
    pub(crate) out: Vec<u8>,
    again: Vec<Token>,
    next_sweep: Instant,
}

fn is_wildcard(a: &SocketAddr) -> bool {
    a.ip().is_unspecified()
}

fn open(stack: &Stack, addr: SocketAddr, ty: c_int) -> io::Result<Socket> {
    let domain = if addr.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    let sock = stack.socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0)?;
    if addr.is_ipv6() {
        sock.set_option::<c_int>(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    }
    if ty == libc::SOCK_STREAM {
        sock.set_option::<c_int>(libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    }
    sock.bind(&SockAddr::from(addr))?;
    Ok(sock)
}

fn bound(sock: &Socket) -> io::Result<SocketAddr> {
    sock.local_addr()?
        .as_socket()
        .ok_or_else(|| ioth::errno(libc::EAFNOSUPPORT))
}

impl Server {
    /// Opens the configured sockets on `stack` (nonblocking, registered with a loop of the
    /// server's own) without starting any thread: drive it with [`Server::run_once`], or
    /// use [`Server::bind`]. Errors are the sockets' (`EADDRINUSE`, `EACCES` for port 53
    /// without privilege on the kernel, ...).
    pub fn new(stack: &Stack, config: ServerConfig, handler: impl Handler) -> io::Result<Server> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(Stats::default());
        let inbox = Arc::new(Inbox {
            tx,
            waker,
            stats: stats.clone(),
        });
        let mut endpoints = Vec::new();
        for &want in &config.addrs {
            let mut addr = want;
            if config.udp {
                let sock = open(stack, addr, libc::SOCK_DGRAM)?;
                let at = bound(&sock)?;
                // Port 0: TCP takes the port UDP got.
                addr.set_port(at.port());
                let pktinfo = is_wildcard(&at)
                    && match sock.set_recv_pktinfo(true) {
                        Ok(()) => true,
                        Err(e) => {
                            log::warn!(
                                "{at}: no IP_PKTINFO on this stack ({e}): replies leave from \
                                 the address the stack picks"
                            );
                            false
                        }
                    };
                endpoints.push(Endpoint {
                    sock,
                    addr: at,
                    transport: Transport::Udp,
                    pktinfo,
                });
            }
            if config.tcp {
                let sock = open(stack, addr, libc::SOCK_STREAM)?;
                sock.listen(config.tcp_backlog)?;
                let at = bound(&sock)?;
                endpoints.push(Endpoint {
                    sock,
                    addr: at,
                    transport: Transport::Tcp,
                    pktinfo: false,
                });
            }
        }
        for (i, ep) in endpoints.iter().enumerate() {
            poll.registry().register(
                &mut SourceFd(&ep.sock.as_raw_fd()),
                Token(ENDPOINT_BASE + i),
                Interest::READABLE,
            )?;
            log::info!("dns server: {:?} on {}", ep.transport, ep.addr);
        }
        Ok(Server {
            poll,
            events: Events::with_capacity(256),
            ready: Vec::with_capacity(256),
            endpoints,
            conns: Conns::default(),
            handler: Arc::new(handler),
            inbox,
            rx,
            stats,
            config,
            rbuf: vec![0u8; RBUF].into_boxed_slice(),
            out: Vec::with_capacity(4096),
            again: Vec::new(),
            next_sweep: Instant::now() + SWEEP,
        })
    }

    /// Opens the sockets as [`Server::new`] does and runs the server on a thread of the
    /// calling process ("ioth-dns"), until [`ServerHandle::stop`] or the handle's drop.
    pub fn bind(
        stack: &Stack,
        config: ServerConfig,
        handler: impl Handler,
    ) -> io::Result<ServerHandle> {
        let mut server = Server::new(stack, config, handler)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let inbox = server.inbox.clone();
        let stats = server.stats.clone();
        let local_addrs = server.local_addrs();
        let thread = std::thread::Builder::new()
            .name("ioth-dns".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    server.run_once(None)?;
                }
                Ok(())
            })?;
        Ok(ServerHandle {
            thread: Some(thread),
            stop,
            inbox,
            stats,
            local_addrs,
        })
    }

    /// The sockets served: transport and bound address (with the port picked for port 0).
    pub fn local_addrs(&self) -> Vec<(Transport, SocketAddr)> {
        self.endpoints
            .iter()
            .map(|e| (e.transport, e.addr))
            .collect()
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        self.stats.snapshot()
    }

    /// Waits for events at most `timeout` (`None`: until something happens; idle TCP
    /// connections are still closed on time) and serves what they bring. Returns after one
    /// round; an interrupted wait is not an error.
    pub fn run_once(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let now = Instant::now();
        let mut wait = timeout;
        if !self.again.is_empty() {
            wait = Some(Duration::ZERO);
        } else if !self.conns.is_empty() {
            let to_sweep = self.next_sweep.saturating_duration_since(now);
            wait = Some(wait.map_or(to_sweep, |w| w.min(to_sweep)));
        }
        match self.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        self.ready.clear();
        for ev in self.events.iter() {
            self.ready.push((
                ev.token(),
                ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                ev.is_writable() || ev.is_write_closed() || ev.is_error(),
            ));
        }
        for token in self.again.drain(..) {
            self.ready.push((token, true, false));
        }
        for i in 0..self.ready.len() {
            let (token, readable, writable) = self.ready[i];
            self.dispatch(token, readable, writable);
        }
        let now = Instant::now();
        if now >= self.next_sweep {
            self.next_sweep = now + SWEEP;
            crate::tcp::sweep(self, now);
        }
        Ok(())
    }

    fn dispatch(&mut self, token: Token, readable: bool, writable: bool) {
        match token.0 {
            0 => self.drain_inbox(),
            t if t >= CONN_BASE => crate::tcp::conn_ready(self, t - CONN_BASE, readable, writable),
            t => {
                let i = t - ENDPOINT_BASE;
                match self.endpoints.get(i).map(|e| e.transport) {
                    Some(Transport::Udp) => self.udp_ready(i),
                    Some(Transport::Tcp) if !crate::tcp::accept_ready(self, i) => {
                        self.again.push(token);
                    }
                    Some(Transport::Tcp) | None => {}
                }
            }
        }
    }

    pub(crate) fn registry(&self) -> &mio::Registry {
        self.poll.registry()
    }

    /// Serves datagrams of UDP endpoint `i` until it has none (or its budget is used).
    fn udp_ready(&mut self, i: usize) {
        let Server {
            endpoints,
            handler,
            inbox,
            stats,
            config,
            rbuf,
            out,
            again,
            ..
        } = self;
        let ep = &endpoints[i];
        for _ in 0..BUDGET {
            let got = if ep.pktinfo {
                ep.sock
                    .recv_from_to(&mut rbuf[..], 0)
                    .map(|r| (r.len, r.from, r.local.map(|l| (l, r.ifindex))))
            } else {
                ep.sock.recv_from(&mut rbuf[..], 0).and_then(|(n, from)| {
                    let from = from
                        .as_ref()
                        .and_then(SockAddr::as_socket)
                        .ok_or_else(|| ioth::errno(libc::EAFNOSUPPORT))?;
                    Ok((n, from, None))
                })
            };
            let (len, client, local) = match got {
                Ok(g) => g,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("{}: receive failed: {e}", ep.addr);
                    continue;
                }
            };
            stats.queries.fetch_add(1, Ordering::Relaxed);
            let local_ip = local.map_or(ep.addr.ip(), |(ip, _)| ip);
            // The interface matters only for link-local addresses (the reply must leave by
            // the interface the query came in by).
            let src = local.map(|(ip, ifindex)| (ip, if link_local(ip) { ifindex } else { 0 }));
            let ctx = Context {
                client,
                local: SocketAddr::new(local_ip, ep.addr.port()),
                transport: Transport::Udp,
                max_udp_payload: config.max_udp_payload,
                later: Some((
                    inbox.clone(),
                    ReplyTo::Udp {
                        endpoint: i,
                        client,
                        src,
                    },
                )),
            };
            let outcome = engine::answer(handler.as_ref(), &rbuf[..len], &ctx, out);
            reply_udp(stats, outcome, ep, out, client, src);
        }
        again.push(Token(ENDPOINT_BASE + i));
    }

    /// Sends the replies responders posted.
    fn drain_inbox(&mut self) {
        while let Ok(later) = self.rx.try_recv() {
            let outcome = engine::finish(later.response, &later.meta, &mut self.out);
            match later.to {
                ReplyTo::Udp {
                    endpoint,
                    client,
                    src,
                } => match self.endpoints.get(endpoint) {
                    Some(ep) => reply_udp(&self.stats, outcome, ep, &self.out, client, src),
                    None => self.stats.count(outcome, false),
                },
                ReplyTo::Tcp { conn, generation } => {
                    crate::tcp::deliver(self, conn, generation, outcome);
                }
            }
        }
    }
}

fn link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// Sends the reply of `outcome` (if it has one) and counts it.
fn reply_udp(
    stats: &Stats,
    outcome: Outcome,
    ep: &Endpoint,
    bytes: &[u8],
    client: SocketAddr,
    src: Option<(IpAddr, u32)>,
) {
    if !matches!(outcome, Outcome::Reply { .. }) {
        stats.count(outcome, false);
        return;
    }
    // Counted first, so that a client holding the reply sees it counted.
    stats.count_sending(outcome);
    if !send_udp(ep, bytes, client, src) {
        stats.unsent(outcome);
    }
}

/// Sends one UDP reply, from `src` when the endpoint reports destinations; false if the
/// stack refused it (full buffer, no route).
fn send_udp(ep: &Endpoint, bytes: &[u8], client: SocketAddr, src: Option<(IpAddr, u32)>) -> bool {
    let res = match src {
        Some((ip, ifindex)) if ep.pktinfo => ep.sock.send_from_to(bytes, client, ip, ifindex, 0),
        _ => ep.sock.send_to(bytes, &SockAddr::from(client), 0),
    };
    match res {
        Ok(_) => true,
        Err(e) => {
            log::debug!("{}: reply to {client} not sent: {e}", ep.addr);
            false
        }
    }
}

impl AsRawFd for Server {
    /// The loop's epoll descriptor: readable when [`Server::run_once`] has work, so the
    /// server can sit in the caller's own poll loop.
    fn as_raw_fd(&self) -> RawFd {
        self.poll.as_raw_fd()
    }
}

/// A server running on its own thread. Stopping (or dropping the handle) stops the loop,
/// joins the thread and closes the sockets; replies still pending are dropped.
#[derive(Debug)]
pub struct ServerHandle {
    thread: Option<JoinHandle<io::Result<()>>>,
    stop: Arc<AtomicBool>,
    inbox: Arc<Inbox>,
    stats: Arc<Stats>,
    local_addrs: Vec<(Transport, SocketAddr)>,
}

impl ServerHandle {
    /// The counters so far.
    pub fn counters(&self) -> Counters {
        self.stats.snapshot()
    }

    /// The sockets served: transport and bound address.
    pub fn local_addrs(&self) -> &[(Transport, SocketAddr)] {
        &self.local_addrs
    }

    /// The first bound address of `transport` (convenient with port 0).
    pub fn local_addr(&self, transport: Transport) -> Option<SocketAddr> {
        self.local_addrs
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| *a)
    }

    /// Whether the loop is still running (it ends only when stopped or on an error of its
    /// poll).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the loop and joins its thread; the loop's error if it had ended with one.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Release);
        let _ = self.inbox.waker.wake();
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("the dns server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Err(e) = self.stop_and_join() {
            log::error!("dns server: {e}");
        }
    }
}
