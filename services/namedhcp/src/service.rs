//! The DHCPv6 server on a stack: UDP port 547 joined to `ff02::1:2` on one interface, names
//! looked up with an [`ioth::dns::Resolver`], replies to the client's link-local address on
//! port 546. It runs as threads of the caller ([`spawn`]) until its [`Handle`] is dropped.
//!
//! One thread receives (a short read timeout lets it notice a stop), a few workers answer:
//! a lookup may wait for DNS timeouts, and the receiver must not. Datagrams that find the
//! workers' queue full are dropped and counted (clients retransmit).

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, TrySendError, bounded};
use ioth::Stack;
use ioth::dns::{RecordType, Resolver};
use ioth::net::UdpSocket;
use ioth_service::clock::Clock;

use crate::reply::{NameLookup, Outcome, Server6, answer, duid_llt};
use crate::wire;

/// UDP port servers listen on.
pub const SERVER_PORT: u16 = 547;
/// UDP port replies go to.
pub const CLIENT_PORT: u16 = 546;
/// All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
pub const ALL_DHCP_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

/// Workers answering messages (each may wait for DNS).
const WORKERS: usize = 2;
/// Datagrams waiting for a worker, at most.
const QUEUE: usize = 64;
/// How often the receiver looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// What to serve, where, and with which names.
#[derive(Clone, Debug)]
pub struct Config {
    /// The stack to serve on.
    pub stack: Stack,
    /// The interface to serve, by name on `stack` (the original's default is `vde0`).
    pub iface: String,
    /// The resolver client names are looked up with (AAAA).
    pub resolver: Resolver,
    /// The options offered (DNS servers, search list, NTP servers). An empty `duid` is
    /// replaced by the DUID-LLT of the interface's MAC (or `mac`) at the clock's time.
    pub server: Server6,
    /// The MAC the DUID is made from, instead of the interface's.
    pub mac: Option<[u8; 6]>,
    /// The clock the DUID's time is read from.
    pub clock: Arc<dyn Clock>,
}

/// Counts of what the server did since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams received.
    pub received: u64,
    /// Replies sent.
    pub replied: u64,
    /// Messages answered with silence (another server, unknown name, …).
    pub ignored: u64,
    /// Datagrams that are not valid client messages, or came from elsewhere than a
    /// link-local address on the served interface.
    pub refused: u64,
    /// Datagrams dropped because every worker was busy.
    pub dropped: u64,
}

/// A server's stop flag and counters, shared by its threads.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) stop: AtomicBool,
    pub(crate) received: AtomicU64,
    pub(crate) replied: AtomicU64,
    pub(crate) ignored: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

impl Shared {
    pub(crate) fn count(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn counters(&self) -> Counters {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            received: l(&self.received),
            replied: l(&self.replied),
            ignored: l(&self.ignored),
            refused: l(&self.refused),
            dropped: l(&self.dropped),
        }
    }
}

/// A running server; dropping it stops it (the threads are joined: a worker in the middle
/// of a lookup finishes it first).
pub struct Handle {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    server: Arc<Server6>,
    ifindex: u32,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("ifindex", &self.ifindex)
            .field("counters", &self.counters())
            .finish()
    }
}

impl Handle {
    /// What the server did so far.
    pub fn counters(&self) -> Counters {
        self.shared.counters()
    }

    /// The identity and options served (the DUID as sent).
    pub fn server(&self) -> &Server6 {
        &self.server
    }

    /// The index of the served interface.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Stops the server and waits for its threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts serving: binds `[::]:547` on the stack, joins `ff02::1:2` on the interface and
/// starts the threads. Errors name what failed (the interface, the port, the group).
pub fn spawn(config: Config) -> io::Result<Handle> {
    let Config {
        stack,
        iface,
        resolver,
        mut server,
        mac,
        clock,
    } = config;
    let named = |what: String| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    let ifindex = stack
        .if_nametoindex(&iface)
        .map_err(named(format!("interface {iface}")))?;
    if server.duid.is_empty() {
        let mac = match mac {
            Some(m) => m,
            None => stack
                .link_mac(ifindex)
                .map_err(named(format!("the MAC of {iface}")))?,
        };
        server.duid = duid_llt(mac, clock.now());
    }
    let sock = UdpSocket::bind_on(
        &stack,
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, SERVER_PORT, 0, 0)),
    )
    .map_err(named(format!("UDP port {SERVER_PORT}")))?;
    sock.join_multicast_v6(&ALL_DHCP_SERVERS, ifindex)
        .map_err(named(format!("joining {ALL_DHCP_SERVERS} on {iface}")))?;
    if let Err(e) = sock.set_recv_pktinfo(true) {
        log::warn!(
            "no IPV6_RECVPKTINFO on this stack ({e}): messages from every interface are served"
        );
    }
    sock.set_read_timeout(Some(POLL))?;
    let server = Arc::new(server);
    let shared = Arc::new(Shared::default());
    let (tx, rx) = bounded::<(Vec<u8>, SocketAddrV6)>(QUEUE);
    let mut threads = Vec::new();
    for i in 0..WORKERS {
        let worker = Worker {
            sock: sock.try_clone()?,
            rx: rx.clone(),
            server: server.clone(),
            resolver: resolver.clone(),
            shared: shared.clone(),
            ifindex,
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("namedhcp-{i}"))
                .spawn(move || worker.run())?,
        );
    }
    drop(rx);
    let rshared = shared.clone();
    threads.push(
        std::thread::Builder::new()
            .name("namedhcp-rx".into())
            .spawn(move || receive(sock, tx, rshared, ifindex))?,
    );
    log::info!(
        "namedhcp: serving DHCPv6 on {iface} (index {ifindex}), server DUID {}",
        hex(&server.duid)
    );
    Ok(Handle {
        shared,
        threads,
        server,
        ifindex,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The receiver: datagrams from link-local addresses on the served interface go to the
/// workers; it ends at the stop flag (and the workers with it, when the queue closes).
fn receive(
    sock: UdpSocket,
    tx: crossbeam_channel::Sender<(Vec<u8>, SocketAddrV6)>,
    shared: Arc<Shared>,
    ifindex: u32,
) {
    let mut buf = vec![0u8; 65536];
    while !shared.stop.load(Ordering::SeqCst) {
        let got = match sock.recv_from_to(&mut buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                log::error!("namedhcp: receiving: {e}");
                std::thread::sleep(POLL);
                continue;
            }
        };
        Shared::count(&shared.received);
        let src = match got.from {
            SocketAddr::V6(a) if a.ip().segments()[0] & 0xffc0 == 0xfe80 => a,
            other => {
                log::debug!(
                    "namedhcp: ignoring a datagram from {other}: not link-local (relays are not served)"
                );
                Shared::count(&shared.refused);
                continue;
            }
        };
        if got.ifindex != 0 && got.ifindex != ifindex {
            log::debug!(
                "namedhcp: ignoring a datagram from {src} on interface {}",
                got.ifindex
            );
            Shared::count(&shared.refused);
            continue;
        }
        if got.truncated {
            Shared::count(&shared.refused);
            continue;
        }
        match tx.try_send((buf[..got.len].to_vec(), src)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                log::warn!("namedhcp: every worker busy, a message from {src} dropped");
                Shared::count(&shared.dropped);
            }
            Err(TrySendError::Disconnected(_)) => break,
        }
    }
}

struct Worker {
    sock: UdpSocket,
    rx: Receiver<(Vec<u8>, SocketAddrV6)>,
    server: Arc<Server6>,
    resolver: Resolver,
    shared: Arc<Shared>,
    ifindex: u32,
}

impl Worker {
    fn run(self) {
        while let Ok((bytes, src)) = self.rx.recv() {
            self.serve(&bytes, src);
        }
    }

    fn serve(&self, bytes: &[u8], src: SocketAddrV6) {
        let msg = match wire::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                log::debug!("namedhcp: a malformed message from {src}: {e}");
                Shared::count(&self.shared.refused);
                return;
            }
        };
        let mut asked = None;
        let outcome = answer(&self.server, &msg, &mut |name| {
            asked = Some(name.to_string());
            lookup(&self.resolver, name)
        });
        let reply = match outcome {
            Outcome::Reply(m) => m,
            Outcome::Ignore(why) => {
                log::debug!("namedhcp: {:?} from {src} ignored: {why}", msg.msg_type());
                Shared::count(&self.shared.ignored);
                return;
            }
        };
        let bytes = match wire::encode(&reply) {
            Ok(b) => b,
            Err(e) => {
                log::error!("namedhcp: {e}");
                return;
            }
        };
        let scope = if src.scope_id() != 0 {
            src.scope_id()
        } else {
            self.ifindex
        };
        let to = SocketAddr::V6(SocketAddrV6::new(*src.ip(), CLIENT_PORT, 0, scope));
        // Counted before it leaves, so that a client holding the reply sees it counted.
        Shared::count(&self.shared.replied);
        match self.sock.send_to(&bytes, to) {
            Ok(_) => log::info!(
                "namedhcp: {:?} from {src}{} answered with {:?}",
                msg.msg_type(),
                asked.map(|n| format!(" ({n})")).unwrap_or_default(),
                reply.msg_type()
            ),
            Err(e) => {
                self.shared.replied.fetch_sub(1, Ordering::Relaxed);
                log::warn!("namedhcp: replying to {to}: {e}");
            }
        }
    }
}

/// A name's AAAA records through `resolver`, as the core wants them.
pub fn lookup(resolver: &Resolver, name: &str) -> NameLookup {
    match resolver.lookup(name, RecordType::AAAA) {
        Ok(l) => NameLookup::Found {
            name: l.query_name().to_string(),
            addrs: l
                .ips()
                .filter_map(|ip| match ip {
                    IpAddr::V6(a) => Some(a),
                    IpAddr::V4(_) => None,
                })
                .collect(),
        },
        Err(e) if e.is_not_found() => NameLookup::NotFound,
        Err(ioth::dns::ResolveError::InvalidName { .. }) => NameLookup::NotFound,
        Err(e) => NameLookup::Failed(e.to_string()),
    }
}
