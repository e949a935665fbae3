//! Forwarding to the `dns` servers over the forwarding stack.
//!
//! UDP queries are relayed by one event-loop thread: the client's message goes out as it
//! came (its EDNS record included) under a fresh random ID, and the upstream reply comes
//! back whole (up to 64 KiB; the DNS server truncates it, with TC, to what the client can
//! take). A server that does not answer within [`UDP_TRY`], or answers SERVFAIL or REFUSED,
//! is left for the next one (failover, twice round the list); when none answers the client
//! gets SERVFAIL. Each server has a socket of its own, replaced by one with a fresh random
//! port every [`ports::ROTATE_AFTER`] queries ([`ports`]); a reply counts only when its ID,
//! source, socket and question match (RFC 5452). TCP clients are forwarded over TCP from a small bounded pool of threads.
//! Replies feed the engine's cache.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use ioth::Stack;
use ioth::net::TcpStream;
use ioth_dns::{Responder, Response, Transport};
use ioth_service::clock::Clock;
use mio::{Poll, Token, Waker};

use crate::domain::name_key;
use crate::engine::Engine;

pub mod ports;
mod udp;

/// The event loop's waker.
const WAKER: Token = Token(0);

/// How long one upstream server has to answer a UDP query before the next is tried.
pub const UDP_TRY: Duration = Duration::from_millis(1500);
/// How long a TCP exchange with one upstream server may take.
pub const TCP_TRY: Duration = Duration::from_secs(3);
/// Most UDP queries waiting for upstream at once; past it new ones get SERVFAIL.
pub const MAX_PENDING: usize = 4096;
/// Most TCP queries being forwarded at once; past it new ones get SERVFAIL.
pub const MAX_TCP: usize = 32;

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
pub(crate) struct Shared {
    pub(crate) stack: Stack,
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    port: u16,
    next_server: AtomicUsize,
    tcp_busy: AtomicUsize,
    pub(crate) stats: ForwardStats,
}

impl Shared {
    pub(crate) fn servers(&self) -> Vec<SocketAddr> {
        self.engine
            .zone()
            .dns
            .iter()
            .map(|ip| SocketAddr::new(*ip, self.port))
            .collect()
    }

    pub(crate) fn first_server(&self, n: usize) -> usize {
        self.next_server.fetch_add(1, Ordering::Relaxed) % n.max(1)
    }

    pub(crate) fn servfail(&self, job: Job) {
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

    pub(crate) fn relay(&self, job: Job, reply: Vec<u8>, parsed: Option<&Message>) {
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
        let relay = udp::UdpRelay::new(poll, rx, shared.clone(), stop.clone());
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
pub(crate) fn answers(reply: &Message, query: &Message) -> bool {
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
