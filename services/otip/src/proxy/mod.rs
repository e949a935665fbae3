//! `otip_rproxy` as a library: a reverse proxy whose public address changes every OTIP
//! period, run as threads of the caller's process.
//!
//! For every slot `t` (see [`crate::timing`]) the proxy creates a fresh external stack on
//! the configured VNL, gives it the address `hashaddr(base, name, password, t)/64`, and
//! listens there on every forwarded TCP and UDP port. New TCP connections and new UDP flows
//! (one per client address and port) are taken while the slot's window lasts; each goes to its
//! internal server over the internal stack. When the window ends the listeners close, so new
//! connections are refused and new flows get no answer, while the connections and flows
//! already open live on until they are idle for `tcp_timeout` / `udp_timeout`; then the
//! address's stack goes.
//!
//! One event loop (mio over the sockets' descriptors, on every stack at once) serves all
//! slots, connections and flows; a second thread only wakes it as the clock moves.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use ioth::Stack;
//! use ioth_otip::proxy::{Forward, ProxyConfig, spawn};
//! use ioth_service::clock::SystemClock;
//!
//! let ext = "stack=smoltcp,vnl=vde:///tmp/hub".parse()?;
//! let mut cfg = ProxyConfig::new(ext, Stack::kernel()?, "renzo.otip", "fc01::".parse()?);
//! cfg.password = Some("mypassword".into());
//! cfg.tcp.push(Forward { ext_port: 22, target: "127.0.0.1:22".parse()? });
//! let proxy = spawn(cfg, Arc::new(SystemClock))?;
//! println!("{:?}", proxy.slots()); // the addresses open now
//! # Ok(())
//! # }
//! ```

mod reactor;
pub mod relay;

use std::fmt;
use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use ioth::Stack;
use ioth_service::clock::Clock;
use nlconf::hashaddr::hashaddr;

use crate::spec::ExtStack;
use crate::timing::Timing;

/// One forwarding with its internal server resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    /// The port clients use on the OTIP address.
    pub ext_port: u16,
    /// The internal server, reached over the internal stack.
    pub target: SocketAddr,
}

/// What the proxy does. [`ProxyConfig::new`] gives the original's defaults.
#[derive(Clone)]
pub struct ProxyConfig {
    /// How every per-address external stack is made.
    pub ext: ExtStack,
    /// The stack internal servers are reached over.
    pub internal: Stack,
    /// The name hashed into the addresses (as given, one trailing dot ignored).
    pub name: String,
    /// The base address: its first 64 bits are the addresses' prefix.
    pub base: Ipv6Addr,
    /// The shared secret, if any.
    pub password: Option<String>,
    /// TCP forwardings.
    pub tcp: Vec<Forward>,
    /// UDP forwardings.
    pub udp: Vec<Forward>,
    /// Period and slack.
    pub timing: Timing,
    /// The listen backlog of every TCP listener (`--tcp_listen_backlog`, 5).
    pub tcp_listen_backlog: i32,
    /// A relayed TCP connection with no data either way for this long is closed
    /// (`--tcp_timeout`, 120 s).
    pub tcp_timeout: Duration,
    /// A UDP flow with no datagram either way for this long is forgotten
    /// (`--udp_timeout`, 8 s).
    pub udp_timeout: Duration,
    /// Relayed TCP connections at most, over all addresses; past it new ones are closed at
    /// once (1024).
    pub max_tcp_connections: usize,
    /// UDP flows at most, over all addresses; past it datagrams of new flows are dropped
    /// (4096).
    pub max_udp_flows: usize,
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("ext", &self.ext)
            .field("internal", &self.internal.implementation())
            .field("name", &self.name)
            .field("base", &self.base)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("tcp", &self.tcp)
            .field("udp", &self.udp)
            .field("timing", &self.timing)
            .field("tcp_listen_backlog", &self.tcp_listen_backlog)
            .field("tcp_timeout", &self.tcp_timeout)
            .field("udp_timeout", &self.udp_timeout)
            .field("max_tcp_connections", &self.max_tcp_connections)
            .field("max_udp_flows", &self.max_udp_flows)
            .finish()
    }
}

impl ProxyConfig {
    /// A configuration with no forwardings and the original's defaults otherwise.
    pub fn new(ext: ExtStack, internal: Stack, name: &str, base: Ipv6Addr) -> ProxyConfig {
        ProxyConfig {
            ext,
            internal,
            name: name.to_owned(),
            base,
            password: None,
            tcp: Vec::new(),
            udp: Vec::new(),
            timing: Timing::default(),
            tcp_listen_backlog: 5,
            tcp_timeout: Duration::from_secs(120),
            udp_timeout: Duration::from_secs(8),
            max_tcp_connections: 1024,
            max_udp_flows: 4096,
        }
    }

    /// The address of slot `t`: `hashaddr(base, name, password, t)`.
    pub fn address(&self, t: u32) -> Ipv6Addr {
        hashaddr(self.base, &self.name, self.password.as_deref(), t)
    }
}

/// One address the proxy has, as [`Handle::slots`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotStatus {
    /// The OTIP slot.
    pub slot: u32,
    /// Its address.
    pub addr: Ipv6Addr,
    /// Whether it takes new connections and flows.
    pub accepting: bool,
    /// Relayed TCP connections open on it.
    pub tcp_connections: usize,
    /// UDP flows open on it.
    pub udp_flows: usize,
}

/// What the proxy did since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Addresses (stacks) opened.
    pub addresses: u64,
    /// TCP connections relayed.
    pub tcp_connections: u64,
    /// TCP connections closed at once for the connection bound.
    pub tcp_over_limit: u64,
    /// TCP connections closed for idleness.
    pub tcp_idle_closed: u64,
    /// UDP flows started.
    pub udp_flows: u64,
    /// UDP datagrams dropped (a new flow on an address past its window, or past the bound).
    pub udp_dropped: u64,
    /// UDP flows forgotten for idleness.
    pub udp_idle_closed: u64,
}

/// Counters shared between the loop and handles.
#[derive(Debug, Default)]
struct Stats {
    addresses: AtomicU64,
    tcp_connections: AtomicU64,
    tcp_over_limit: AtomicU64,
    tcp_idle_closed: AtomicU64,
    udp_flows: AtomicU64,
    udp_dropped: AtomicU64,
    udp_idle_closed: AtomicU64,
}

impl Stats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Counters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            addresses: get(&self.addresses),
            tcp_connections: get(&self.tcp_connections),
            tcp_over_limit: get(&self.tcp_over_limit),
            tcp_idle_closed: get(&self.tcp_idle_closed),
            udp_flows: get(&self.udp_flows),
            udp_dropped: get(&self.udp_dropped),
            udp_idle_closed: get(&self.udp_idle_closed),
        }
    }
}

/// What the loop shares with its handle.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    slots: Mutex<Vec<SlotStatus>>,
    stats: Stats,
}

/// A running proxy. Dropping it (or [`Handle::stop`]) stops the proxy and closes every
/// address, connection and flow.
#[derive(Debug)]
pub struct Handle {
    shared: Arc<Shared>,
    waker: Arc<mio::Waker>,
    threads: Vec<JoinHandle<()>>,
}

/// How often, in real time, the loop looks at the clock at least (a test clock that moves
/// wakes it at once).
const TICK: Duration = Duration::from_millis(200);

/// Starts the proxy on threads of this process. The addresses taking sessions now are open
/// when this returns; an error creating them (a bad VNL or stack name, a port in use) is
/// returned here, later ones are logged and retried once a second.
pub fn spawn(config: ProxyConfig, clock: Arc<dyn Clock>) -> io::Result<Handle> {
    let shared = Arc::new(Shared::default());
    let mut reactor = reactor::Reactor::new(config, clock.clone(), shared.clone())?;
    reactor.open_current()?;
    let waker = reactor.waker();
    let main = std::thread::Builder::new()
        .name("otip_rproxy".into())
        .spawn(move || reactor.run())?;
    let ticker = {
        let (shared, waker) = (shared.clone(), waker.clone());
        std::thread::Builder::new()
            .name("otip_rproxy-clock".into())
            .spawn(move || {
                while !shared.stop.load(Ordering::Acquire) {
                    clock.wait(TICK);
                    if waker.wake().is_err() {
                        break;
                    }
                }
            })?
    };
    Ok(Handle {
        shared,
        waker,
        threads: vec![main, ticker],
    })
}

impl Handle {
    /// The addresses open now, oldest first.
    pub fn slots(&self) -> Vec<SlotStatus> {
        self.shared
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What the proxy did so far.
    pub fn counters(&self) -> Counters {
        self.shared.stats.snapshot()
    }

    /// Stops the proxy and waits for its threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
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
