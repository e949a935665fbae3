//! The DHCPv4 server on a stack: UDP port 67 (broadcasts accepted), names looked up with an
//! [`ioth::dns::Resolver`] (A for the address, TXT for the options), replies to
//! `255.255.255.255:68` (or the client's `ciaddr`). Threads of the caller until the
//! [`Handle4`] is dropped, as [`crate::service`]'s.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, TrySendError, bounded};
use ioth::Stack;
use ioth::dns::proto::rr::RData;
use ioth::dns::{RecordType, Resolver};
use ioth::net::UdpSocket;
use ioth::nlconf::client::IfaAddress;

use super::reply::{Destination, NameLookup4, Outcome4, Server4, answer4};
use super::txt::{self, TxtOptions};
use super::wire;
use crate::service::{Counters, Shared};

/// UDP port DHCPv4 servers listen on.
pub const SERVER_PORT: u16 = 67;
/// UDP port replies go to.
pub const CLIENT_PORT: u16 = 68;

const WORKERS: usize = 2;
const QUEUE: usize = 64;
const POLL: Duration = Duration::from_millis(100);

/// What to serve, where, and with which names.
#[derive(Clone, Debug)]
pub struct Config4 {
    /// The stack to serve on.
    pub stack: Stack,
    /// The interface to serve, by name.
    pub iface: String,
    /// The resolver names are looked up with (A and TXT).
    pub resolver: Resolver,
    /// The options offered when a name's TXT record does not give them. An unspecified
    /// `id` is replaced by the interface's first IPv4 address.
    pub server: Server4,
}

/// A running DHCPv4 server; dropping it stops it.
pub struct Handle4 {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    server: Arc<Server4>,
}

impl std::fmt::Debug for Handle4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle4")
            .field("server", &self.server.id)
            .field("counters", &self.counters())
            .finish()
    }
}

impl Handle4 {
    /// What the server did so far.
    pub fn counters(&self) -> Counters {
        self.shared.counters()
    }

    /// The identity and default options served.
    pub fn server(&self) -> &Server4 {
        &self.server
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

impl Drop for Handle4 {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts serving: binds `0.0.0.0:67` with `SO_BROADCAST` and starts the threads. The
/// interface must have an IPv4 address (the server identifier).
pub fn spawn4(config: Config4) -> io::Result<Handle4> {
    let Config4 {
        stack,
        iface,
        resolver,
        mut server,
    } = config;
    let named = |what: String| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    let ifindex = stack
        .if_nametoindex(&iface)
        .map_err(named(format!("interface {iface}")))?;
    if server.id.is_unspecified() {
        server.id = stack
            .getifaddrs()?
            .iter()
            .find_map(|a| match a.addr {
                IfaAddress::Ip(IpAddr::V4(v)) if a.index == ifindex => Some(v),
                _ => None,
            })
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    format!("interface {iface} has no IPv4 address to identify the server"),
                )
            })?;
    }
    let sock = UdpSocket::bind_on(
        &stack,
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, SERVER_PORT)),
    )
    .map_err(named(format!("UDP port {SERVER_PORT}")))?;
    sock.set_broadcast(true)?;
    if let Err(e) = sock.set_recv_pktinfo(true) {
        log::warn!("no IP_PKTINFO on this stack ({e}): messages from every interface are served");
    }
    sock.set_read_timeout(Some(POLL))?;
    let server = Arc::new(server);
    let shared = Arc::new(Shared::default());
    let (tx, rx) = bounded::<Vec<u8>>(QUEUE);
    let mut threads = Vec::new();
    for i in 0..WORKERS {
        let w = Worker {
            sock: sock.try_clone()?,
            rx: rx.clone(),
            server: server.clone(),
            resolver: resolver.clone(),
            shared: shared.clone(),
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("namedhcp4-{i}"))
                .spawn(move || w.run())?,
        );
    }
    drop(rx);
    let rshared = shared.clone();
    threads.push(
        std::thread::Builder::new()
            .name("namedhcp4-rx".into())
            .spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !rshared.stop.load(Ordering::SeqCst) {
                    let got = match sock.recv_from_to(&mut buf) {
                        Ok(g) => g,
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
                            log::error!("namedhcp4: receiving: {e}");
                            std::thread::sleep(POLL);
                            continue;
                        }
                    };
                    Shared::count(&rshared.received);
                    if (got.ifindex != 0 && got.ifindex != ifindex) || got.truncated {
                        Shared::count(&rshared.refused);
                        continue;
                    }
                    match tx.try_send(buf[..got.len].to_vec()) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => Shared::count(&rshared.dropped),
                        Err(TrySendError::Disconnected(_)) => break,
                    }
                }
            })?,
    );
    log::info!(
        "namedhcp4: serving DHCPv4 on {iface}, server identifier {}",
        server.id
    );
    Ok(Handle4 {
        shared,
        threads,
        server,
    })
}

struct Worker {
    sock: UdpSocket,
    rx: Receiver<Vec<u8>>,
    server: Arc<Server4>,
    resolver: Resolver,
    shared: Arc<Shared>,
}

impl Worker {
    fn run(self) {
        while let Ok(bytes) = self.rx.recv() {
            self.serve(&bytes);
        }
    }

    fn serve(&self, bytes: &[u8]) {
        let msg = match wire::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                log::debug!("namedhcp4: a malformed message: {e}");
                Shared::count(&self.shared.refused);
                return;
            }
        };
        let (reply, to) = match answer4(&self.server, &msg, &mut |n| lookup4(&self.resolver, n)) {
            Outcome4::Reply { msg, to } => (msg, to),
            Outcome4::Ignore(why) => {
                log::debug!("namedhcp4: {:?} ignored: {why}", msg.opts().msg_type());
                Shared::count(&self.shared.ignored);
                return;
            }
        };
        let bytes = match wire::encode(&reply) {
            Ok(b) => b,
            Err(e) => {
                log::error!("namedhcp4: {e}");
                return;
            }
        };
        let dst = match to {
            Destination::Broadcast => Ipv4Addr::BROADCAST,
            Destination::Unicast(a) => a,
        };
        Shared::count(&self.shared.replied);
        match self
            .sock
            .send_to(&bytes, SocketAddr::V4(SocketAddrV4::new(dst, CLIENT_PORT)))
        {
            Ok(_) => log::info!(
                "namedhcp4: {:?} answered with {:?} ({})",
                msg.opts().msg_type(),
                reply.opts().msg_type(),
                reply.yiaddr()
            ),
            Err(e) => {
                self.shared.replied.fetch_sub(1, Ordering::Relaxed);
                log::warn!("namedhcp4: replying to {dst}: {e}");
            }
        }
    }
}

fn first_a(resolver: &Resolver, name: &str) -> Result<Option<(String, Ipv4Addr)>, String> {
    match resolver.lookup(name, RecordType::A) {
        Ok(l) => Ok(l
            .ips()
            .find_map(|ip| match ip {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
            .map(|a| (l.query_name().to_string(), a))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(ioth::dns::ResolveError::InvalidName { .. }) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// A name's address (A) and options (TXT, names in it resolved) through `resolver`.
pub fn lookup4(resolver: &Resolver, name: &str) -> NameLookup4 {
    let (found, addr) = match first_a(resolver, name) {
        Ok(Some(f)) => f,
        Ok(None) => return NameLookup4::NotFound,
        Err(e) => return NameLookup4::Failed(e),
    };
    let mut items = Vec::new();
    match resolver.lookup(&found, RecordType::TXT) {
        Ok(l) => {
            for r in l.records() {
                if let RData::TXT(t) = &r.data {
                    let text: String = t
                        .txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect();
                    let (mut got, skipped) = txt::parse(&text);
                    if !skipped.is_empty() {
                        log::debug!("namedhcp4: {found} TXT: skipped {skipped:?}");
                    }
                    items.append(&mut got);
                }
            }
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return NameLookup4::Failed(e.to_string()),
    }
    let options = TxtOptions::from_items(&items, &mut |n| match first_a(resolver, n) {
        Ok(Some((_, a))) => Some(a),
        _ => {
            log::warn!("namedhcp4: {found} TXT names {n}, which has no A record");
            None
        }
    });
    NameLookup4::Found {
        name: found,
        addr,
        options,
    }
}
