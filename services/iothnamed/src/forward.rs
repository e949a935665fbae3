//! Forwarding to the `dns` servers over the forwarding stack.
//!
//! UDP queries are relayed by one event-loop thread: the client's message goes out as it
//! came (its EDNS record included) under a fresh random ID, and the upstream reply comes
//! back whole (up to 64 KiB; the DNS server truncates it, with TC, to what the client can
//! take). A server that does not answer within [`UDP_TRY`], or answers SERVFAIL or REFUSED,
//! is left for the next one (failover, twice round the list); when none answers the client
//! gets SERVFAIL. TCP clients are forwarded over TCP from a small bounded pool of threads.
//! Replies feed the engine's cache.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use ioth::Stack;
use ioth::net::{TcpStream, UdpSocket};
use ioth_dns::{Responder, Response, Transport};
use ioth_service::clock::Clock;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::domain::name_key;
use crate::engine::Engine;

/// How long one upstream server has to answer a UDP query before the next is tried.
pub const UDP_TRY: Duration = Duration::from_millis(1500);
/// How long a TCP exchange with one upstream server may take.
pub const TCP_TRY: Duration = Duration::from_secs(3);
/// Most UDP queries waiting for upstream at once; past it new ones get SERVFAIL.
pub const MAX_PENDING: usize = 4096;
/// Most TCP queries being forwarded at once; past it new ones get SERVFAIL.
pub const MAX_TCP: usize = 32;

const WAKER: Token = Token(0);
const SOCK_BASE: usize = 1;

/// A query to forward.
#[derive(Debug)]
pub struct Job {
    /// The client's message as parsed (for the question and for SERVFAIL).
    pub query: Message,
    /// The client's message as received.
    pub raw: Vec<u8>,
    /// Where the answer goes.
    pub responder: Responder,
    /// How the client asked: TCP clients are forwarded over TCP.
    pub transport: Transport,
}

/// Counters of forwarding.
#[derive(Debug, Default)]
pub struct ForwardStats {
    /// Queries sent upstream (each try counts).
    pub sent: AtomicU64,
    /// Upstream replies relayed to clients.
    pub relayed: AtomicU64,
    /// Tries that timed out or failed and moved to the next server.
    pub failovers: AtomicU64,
    /// Queries no server answered (the client got SERVFAIL).
    pub failed: AtomicU64,
}

/// The forwarder: a thread relaying UDP, plus TCP exchanges on demand.
#[derive(Debug)]
pub struct Forwarder {
    tx: mpsc::Sender<Job>,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    stack: Stack,
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    port: u16,
    next_server: AtomicUsize,
    tcp_busy: AtomicUsize,
    stats: ForwardStats,
}

impl Shared {
    fn servers(&self) -> Vec<SocketAddr> {
        self.engine
            .zone()
            .dns
            .iter()
            .map(|ip| SocketAddr::new(*ip, self.port))
            .collect()
    }

    fn first_server(&self, n: usize) -> usize {
        self.next_server.fetch_add(1, Ordering::Relaxed) % n.max(1)
    }

    fn servfail(&self, job: Job) {
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        let mut m = Message::new(
            job.query.metadata.id,
            hickory_proto::op::MessageType::Response,
            job.query.metadata.op_code,
        );
        m.metadata.recursion_desired = job.query.metadata.recursion_desired;
        m.metadata.recursion_available = true;
        m.metadata.response_code = ResponseCode::ServFail;
        m.queries.clone_from(&job.query.queries);
        job.responder.send(Response::Message(m));
    }

    fn relay(&self, job: Job, reply: Vec<u8>, parsed: Option<&Message>) {
        if let (Some(reply), Some(q)) = (parsed, job.query.queries.first()) {
            self.engine
                .learn(&name_key(q.name()), reply, self.clock.now());
        }
        self.stats.relayed.fetch_add(1, Ordering::Relaxed);
        job.responder.send(Response::Raw(reply));
    }
}

impl Forwarder {
    /// Starts forwarding over `stack` to the engine's `dns` servers at `port` (53 but in
    /// tests).
    pub fn start(
        stack: Stack,
        engine: Arc<Engine>,
        clock: Arc<dyn Clock>,
        port: u16,
    ) -> io::Result<Forwarder> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            stack,
            engine,
            clock,
            port,
            next_server: AtomicUsize::new(0),
            tcp_busy: AtomicUsize::new(0),
            stats: ForwardStats::default(),
        });
        let relay = UdpRelay::new(poll, rx, shared.clone(), stop.clone())?;
        let thread = std::thread::Builder::new()
            .name("iothnamed-fwd".into())
            .spawn(move || relay.run())?;
        Ok(Forwarder {
            tx,
            waker,
            stop,
            thread: Some(thread),
            shared,
        })
    }

    /// Forwards `job`; its responder answers when upstream does (or SERVFAIL).
    pub fn submit(&self, job: Job) {
        if job.transport == Transport::Tcp {
            self.submit_tcp(job);
            return;
        }
        match self.tx.send(job) {
            Ok(()) => {
                let _ = self.waker.wake();
            }
            Err(mpsc::SendError(job)) => self.shared.servfail(job),
        }
    }

    fn submit_tcp(&self, job: Job) {
        let shared = self.shared.clone();
        if shared.tcp_busy.fetch_add(1, Ordering::AcqRel) >= MAX_TCP {
            shared.tcp_busy.fetch_sub(1, Ordering::AcqRel);
            log::warn!("{MAX_TCP} TCP queries already being forwarded: SERVFAIL");
            shared.servfail(job);
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("iothnamed-fwd-tcp".into())
            .spawn({
                let shared = shared.clone();
                move || {
                    tcp_exchange(&shared, job);
                    shared.tcp_busy.fetch_sub(1, Ordering::AcqRel);
                }
            });
        if let Err(e) = spawned {
            shared.tcp_busy.fetch_sub(1, Ordering::AcqRel);
            log::warn!("cannot start a TCP forwarding thread: {e}");
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> &ForwardStats {
        &self.shared.stats
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tcp_exchange(shared: &Shared, job: Job) {
    let servers = shared.servers();
    if servers.is_empty() || job.raw.len() > usize::from(u16::MAX) {
        shared.servfail(job);
        return;
    }
    let first = shared.first_server(servers.len());
    for k in 0..servers.len() {
        let server = servers[(first + k) % servers.len()];
        shared.stats.sent.fetch_add(1, Ordering::Relaxed);
        match tcp_once(&shared.stack, server, &job.raw) {
            Ok(reply) => {
                let parsed = Message::from_vec(&reply).ok();
                if parsed.as_ref().is_some_and(|m| answers(m, &job.query)) {
                    shared.relay(job, reply, parsed.as_ref());
                    return;
                }
                log::debug!("{server}: TCP reply does not answer the query");
            }
            Err(e) => log::debug!("{server}: TCP forwarding failed: {e}"),
        }
        shared.stats.failovers.fetch_add(1, Ordering::Relaxed);
    }
    shared.servfail(job);
}

fn tcp_once(stack: &Stack, server: SocketAddr, raw: &[u8]) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout_on(stack, &server, TCP_TRY)?;
    s.set_read_timeout(Some(TCP_TRY))?;
    s.set_write_timeout(Some(TCP_TRY))?;
    let len = u16::try_from(raw.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut framed = Vec::with_capacity(raw.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(raw);
    s.write_all(&framed)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut reply)?;
    Ok(reply)
}

/// Whether `reply` answers `query`: a response with its question (name without regard to
/// case, type, class).
fn answers(reply: &Message, query: &Message) -> bool {
    if reply.metadata.message_type != hickory_proto::op::MessageType::Response {
        return false;
    }
    match (reply.queries.first(), query.queries.first()) {
        (Some(r), Some(q)) => {
            name_key(r.name()) == name_key(q.name())
                && r.query_type() == q.query_type()
                && r.query_class() == q.query_class()
        }
        _ => false,
    }
}

struct Pending {
    job: Job,
    upstream: SocketAddr,
    server: usize,
    tries: usize,
    deadline: Instant,
}

struct UdpRelay {
    poll: Poll,
    rx: mpsc::Receiver<Job>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    /// The servers the sockets were opened for.
    servers: Vec<SocketAddr>,
    /// One socket per server (token `SOCK_BASE + index`): a server whose neighbour never
    /// answers holds up only its own socket's queue on a user-space stack.
    socks: Vec<Option<UdpSocket>>,
    pending: HashMap<u16, Pending>,
    buf: Box<[u8]>,
}

impl UdpRelay {
    fn new(
        poll: Poll,
        rx: mpsc::Receiver<Job>,
        shared: Arc<Shared>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<UdpRelay> {
        let mut relay = UdpRelay {
            poll,
            rx,
            shared,
            stop,
            servers: Vec::new(),
            socks: Vec::new(),
            pending: HashMap::new(),
            buf: vec![0u8; 65535].into_boxed_slice(),
        };
        relay.sync_servers();
        Ok(relay)
    }

    /// Opens one socket per current server when the list changed (a reload).
    fn sync_servers(&mut self) {
        let servers = self.shared.servers();
        if servers == self.servers {
            return;
        }
        for sock in self.socks.drain(..).flatten() {
            let fd = sock.as_raw_fd();
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
        for (i, server) in servers.iter().enumerate() {
            let any = if server.is_ipv4() {
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)
            } else {
                SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0)
            };
            let opened = UdpSocket::bind_on(&self.shared.stack, any).and_then(|sock| {
                sock.set_nonblocking(true)?;
                let fd = sock.as_raw_fd();
                self.poll.registry().register(
                    &mut SourceFd(&fd),
                    Token(SOCK_BASE + i),
                    Interest::READABLE,
                )?;
                Ok(sock)
            });
            match opened {
                Ok(sock) => self.socks.push(Some(sock)),
                Err(e) => {
                    log::warn!("forwarding to {server}: cannot open a socket: {e}");
                    self.socks.push(None);
                }
            }
        }
        self.servers = servers;
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(64);
        while !self.stop.load(Ordering::Acquire) {
            let timeout = self
                .pending
                .values()
                .map(|p| p.deadline)
                .min()
                .map(|d| d.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                log::error!("forwarding loop: {e}");
                return;
            }
            for ev in events.iter() {
                if let Some(i) = ev.token().0.checked_sub(SOCK_BASE) {
                    self.receive(i);
                }
            }
            while let Ok(job) = self.rx.try_recv() {
                self.start(job);
            }
            self.expire();
        }
        for (_, p) in self.pending.drain() {
            self.shared.servfail(p.job);
        }
    }

    fn start(&mut self, job: Job) {
        self.sync_servers();
        let servers = self.servers.clone();
        if servers.is_empty() || self.pending.len() >= MAX_PENDING {
            if !servers.is_empty() {
                log::warn!("{MAX_PENDING} queries already waiting for upstream: SERVFAIL");
            }
            self.shared.servfail(job);
            return;
        }
        let first = self.shared.first_server(servers.len());
        self.send(job, first, 0);
    }

    /// Sends `job` to server `index` (its `tries`-th try), or fails it when the tries are
    /// used up (every server twice).
    fn send(&mut self, mut job: Job, index: usize, tries: usize) {
        let servers = self.servers.clone();
        let n = servers.len();
        let mut index = index;
        let mut tries = tries;
        while tries < 2 * n {
            let upstream = servers[index % n];
            let id = loop {
                let id = Message::query().metadata.id;
                if !self.pending.contains_key(&id) {
                    break id;
                }
            };
            if job.raw.len() >= 2 {
                job.raw[..2].copy_from_slice(&id.to_be_bytes());
            }
            let sent = match self.socks.get(index % n).and_then(Option::as_ref) {
                Some(s) => s.send_to(&job.raw, upstream).map(|_| ()),
                None => Err(io::Error::from(io::ErrorKind::Unsupported)),
            };
            self.shared.stats.sent.fetch_add(1, Ordering::Relaxed);
            match sent {
                Ok(()) => {
                    self.pending.insert(
                        id,
                        Pending {
                            job,
                            upstream,
                            server: index % n,
                            tries: tries + 1,
                            deadline: Instant::now() + UDP_TRY,
                        },
                    );
                    return;
                }
                Err(e) => {
                    log::debug!("{upstream}: cannot forward: {e}");
                    self.shared.stats.failovers.fetch_add(1, Ordering::Relaxed);
                    index += 1;
                    tries += 1;
                }
            }
        }
        self.shared.servfail(job);
    }

    fn receive(&mut self, i: usize) {
        loop {
            let Some(Some(sock)) = self.socks.get(i) else {
                return;
            };
            let (len, from) = match sock.recv_from(&mut self.buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("forwarding socket: {e}");
                    return;
                }
            };
            if len < 12 {
                continue;
            }
            let id = u16::from_be_bytes([self.buf[0], self.buf[1]]);
            let from = SocketAddr::new(from.ip().to_canonical(), from.port());
            let matches = self.pending.get(&id).is_some_and(|p| {
                p.upstream == from
                    || (p.upstream.ip().to_canonical() == from.ip()
                        && p.upstream.port() == from.port())
            });
            if !matches {
                log::debug!("{from}: unexpected reply (id {id}): dropped");
                continue;
            }
            let reply = self.buf[..len].to_vec();
            let parsed = Message::from_vec(&reply).ok();
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            let Some(parsed) = parsed.filter(|m| answers(m, &p.job.query)) else {
                // Not an answer to this question (RFC 5452): keep waiting for one.
                log::debug!("{from}: reply with another question: dropped");
                self.pending.insert(id, p);
                continue;
            };
            let rcode = parsed.metadata.response_code;
            if matches!(rcode, ResponseCode::ServFail | ResponseCode::Refused) {
                self.shared.stats.failovers.fetch_add(1, Ordering::Relaxed);
                let (next, tries) = (p.server + 1, p.tries);
                if tries < 2 * self.servers.len() {
                    self.send(p.job, next, tries);
                    continue;
                }
            }
            self.shared.relay(p.job, reply, Some(&parsed));
        }
    }

    fn expire(&mut self) {
        let now = Instant::now();
        let late: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some(p) = self.pending.remove(&id) {
                log::debug!("{}: no answer in {UDP_TRY:?}", p.upstream);
                self.shared.stats.failovers.fetch_add(1, Ordering::Relaxed);
                self.send(p.job, p.server + 1, p.tries);
            }
        }
    }
}
