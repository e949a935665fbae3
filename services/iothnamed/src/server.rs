//! Running iothnamed as threads of the caller's process: [`spawn`] builds the stacks the
//! configuration names, resolves its names, answers on UDP and TCP port 53 of the serving
//! stack (`rstack`) through `ioth-dns`, and forwards over `fstack`.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ioth::Stack;
use ioth::dns::{RecordType, Resolver};
use ioth_dns::{Handler, Request, Response, Server, ServerConfig, ServerHandle, Transport};
use ioth_service::clock::{Clock, SystemClock};

use crate::config::{Config, StackLines};
use crate::engine::{CounterSnapshot, Decision, Engine};
use crate::forward::{Forwarder, Job};
use crate::zone::{NameLookup, Zone};

/// How to run a server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The configuration file's text.
    pub config: String,
    /// Its name, for errors (`FILE:LINE: …`).
    pub origin: String,
    /// The clock OTIP windows, TTLs and the cache run on (tests move it).
    pub clock: Arc<dyn Clock>,
    /// Where to answer; default `[::]:53` and `0.0.0.0:53` (every address of the stack).
    pub listen: Vec<SocketAddr>,
    /// The port of the `dns` servers (53; tests may use another).
    pub upstream_port: u16,
}

impl Settings {
    /// Settings for configuration text `config` named `origin`, on the system clock,
    /// answering on port 53.
    pub fn new(config: impl Into<String>, origin: impl Into<String>) -> Settings {
        Settings {
            config: config.into(),
            origin: origin.into(),
            clock: Arc::new(SystemClock),
            listen: vec![
                SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 53),
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 53),
            ],
            upstream_port: 53,
        }
    }
}

/// Names in `auth` lines looked up through the first `dns` server over the forwarding stack.
struct UpstreamLookup {
    resolver: Option<Resolver>,
}

impl UpstreamLookup {
    fn new(stack: &Stack, dns: &[IpAddr], port: u16) -> UpstreamLookup {
        UpstreamLookup {
            resolver: dns
                .first()
                .map(|ip| Resolver::from_servers(stack, &[SocketAddr::new(*ip, port)])),
        }
    }
}

impl NameLookup for UpstreamLookup {
    fn lookup(&self, name: &str, v6_only: bool) -> Result<IpAddr, String> {
        let Some(resolver) = &self.resolver else {
            return crate::zone::NoLookup.lookup(name, v6_only);
        };
        let fqdn = format!("{name}.");
        let mut types = vec![RecordType::AAAA];
        if !v6_only {
            types.push(RecordType::A);
        }
        let mut last = String::new();
        for ty in types {
            match resolver.lookup(&fqdn, ty) {
                Ok(l) => {
                    if let Some(ip) = l.ips().next() {
                        return Ok(ip);
                    }
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!("cannot resolve {name}: {last}"))
    }
}

/// The stacks of a configuration: serving and forwarding (the same one for `stack`).
#[derive(Clone, Debug)]
pub struct Stacks {
    /// Where clients reach the server.
    pub serve: Stack,
    /// Where queries are forwarded from.
    pub forward: Stack,
}

fn build_stacks(lines: &StackLines) -> io::Result<Stacks> {
    if !lines.shared.is_empty() {
        let s = ioth_service::stack::build(&lines.shared)?;
        return Ok(Stacks {
            serve: s.clone(),
            forward: s,
        });
    }
    Ok(Stacks {
        serve: ioth_service::stack::build(&lines.serve)?,
        forward: ioth_service::stack::build(&lines.forward)?,
    })
}

struct NamedHandler {
    engine: Arc<Engine>,
    forwarder: Forwarder,
    clock: Arc<dyn Clock>,
}

impl Handler for NamedHandler {
    fn handle(&self, request: &Request<'_>) -> Response {
        match self
            .engine
            .decide(&request.message, request.client.ip(), self.clock.now())
        {
            Decision::Answer(m) => Response::Message(m),
            Decision::Forward => {
                let Some(responder) = request.responder() else {
                    return Response::Drop;
                };
                self.forwarder.submit(Job {
                    query: request.message.clone(),
                    raw: request.raw.to_vec(),
                    responder,
                    transport: request.transport,
                });
                Response::Pending
            }
        }
    }

    fn accepts_tcp(&self, client: SocketAddr) -> bool {
        self.engine.tcp_allowed(client.ip())
    }
}

/// Everything a running server counted.
#[derive(Clone, Debug)]
pub struct Counters {
    /// Per auth type and overall decisions.
    pub engine: CounterSnapshot,
    /// The DNS server's (queries, responses, truncated, TCP …).
    pub server: ioth_dns::Counters,
    /// Queries sent upstream, replies relayed, failovers, failures.
    pub forward: (u64, u64, u64, u64),
    /// Configuration reloads done and refused.
    pub reloads: (u64, u64),
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.server;
        write!(
            f,
            "queries={} responses={} truncated={} formerr={} notimp={} dropped={} tcp={}/{} refused-tcp={} | {} | fwd sent={} relayed={} failover={} failed={} | reloads={} refused-reloads={}",
            s.queries,
            s.responses,
            s.truncated,
            s.formerr,
            s.notimp,
            s.dropped,
            s.tcp_accepted,
            s.tcp_timeouts,
            s.tcp_refused,
            self.engine,
            self.forward.0,
            self.forward.1,
            self.forward.2,
            self.forward.3,
            self.reloads.0,
            self.reloads.1,
        )
    }
}

/// A running iothnamed. Dropping it stops the server.
pub struct Handle {
    engine: Arc<Engine>,
    handler: Arc<NamedHandler>,
    server: Option<ServerHandle>,
    stacks: Stacks,
    settings: Settings,
    stack_lines: StackLines,
    reloads: Mutex<(u64, u64)>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("origin", &self.settings.origin)
            .field("local_addrs", &self.local_addrs())
            .finish()
    }
}

/// The reason a configuration cannot run: its faults (each `FILE:LINE: …`) or a stack
/// that cannot be built.
#[derive(Debug)]
pub enum StartError {
    /// The file has faults.
    Config(crate::ConfigError),
    /// A name in an `auth` line could not be resolved (`FILE:LINE: …`).
    Resolve(String),
    /// A stack or a socket failed.
    Io(io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "{e}"),
            StartError::Resolve(e) => f.write_str(e),
            StartError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

impl From<StartError> for io::Error {
    fn from(e: StartError) -> io::Error {
        match e {
            StartError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
        }
    }
}

/// Starts iothnamed as threads of this process: parses the configuration, builds its stacks,
/// resolves the names its `auth` lines use, and answers until the handle is stopped or
/// dropped.
pub fn spawn(settings: Settings) -> Result<Handle, StartError> {
    let config = Config::parse(&settings.config, &settings.origin).map_err(StartError::Config)?;
    let stacks = build_stacks(&config.stacks).map_err(StartError::Io)?;
    let zone = load(&config, &settings, &stacks)?;
    let options = zone.options;
    let engine = Arc::new(Engine::new(zone));
    let forwarder = Forwarder::start(
        stacks.forward.clone(),
        engine.clone(),
        settings.clock.clone(),
        settings.upstream_port,
    )
    .map_err(StartError::Io)?;
    let handler = Arc::new(NamedHandler {
        engine: engine.clone(),
        forwarder,
        clock: settings.clock.clone(),
    });
    let server_config = ServerConfig {
        addrs: settings.listen.clone(),
        tcp_idle_timeout: Duration::from_secs(u64::from(options.tcp_timeout.max(1))),
        tcp_backlog: options.tcp_listen_backlog.max(1),
        ..ServerConfig::default()
    };
    let server = Server::bind(&stacks.serve, server_config, SharedHandler(handler.clone()))
        .map_err(StartError::Io)?;
    log::info!("{}: serving on {:?}", settings.origin, server.local_addrs());
    Ok(Handle {
        engine,
        handler,
        server: Some(server),
        stacks,
        stack_lines: config.stacks,
        settings,
        reloads: Mutex::new((0, 0)),
    })
}

fn load(config: &Config, settings: &Settings, stacks: &Stacks) -> Result<Zone, StartError> {
    let lookup = UpstreamLookup::new(&stacks.forward, &config.dns, settings.upstream_port);
    Zone::load(config, &settings.origin, &lookup).map_err(StartError::Resolve)
}

struct SharedHandler(Arc<NamedHandler>);

impl Handler for SharedHandler {
    fn handle(&self, request: &Request<'_>) -> Response {
        self.0.handle(request)
    }
    fn accepts_tcp(&self, client: SocketAddr) -> bool {
        self.0.accepts_tcp(client)
    }
}

impl Handle {
    /// Replaces the configuration with `text` (SIGHUP) without dropping queries: it is
    /// parsed and its names resolved first, and only a good one replaces the running one
    /// (queries in flight finish under the old). Stack lines cannot change while running:
    /// a file whose stack lines differ is refused with an error saying so.
    pub fn reload(&self, text: &str) -> Result<(), String> {
        let result = self.try_reload(text);
        let mut r = self.reloads.lock().unwrap_or_else(PoisonError::into_inner);
        match &result {
            Ok(()) => r.0 += 1,
            Err(_) => r.1 += 1,
        }
        result
    }

    fn try_reload(&self, text: &str) -> Result<(), String> {
        let config = Config::parse(text, &self.settings.origin).map_err(|e| e.to_string())?;
        if config.stacks != self.stack_lines {
            return Err(format!(
                "{}: the stack lines changed: restart iothnamed to apply them (configuration not reloaded)",
                self.settings.origin
            ));
        }
        let zone = load(&config, &self.settings, &self.stacks).map_err(|e| e.to_string())?;
        self.engine.replace(zone);
        log::info!("{}: configuration reloaded", self.settings.origin);
        Ok(())
    }

    /// The addresses answered on (UDP and TCP).
    pub fn local_addrs(&self) -> Vec<(Transport, SocketAddr)> {
        self.server
            .as_ref()
            .map(|s| s.local_addrs().to_vec())
            .unwrap_or_default()
    }

    /// The stacks in use.
    pub fn stacks(&self) -> &Stacks {
        &self.stacks
    }

    /// Everything counted so far.
    pub fn counters(&self) -> Counters {
        let f = self.handler.forwarder.stats();
        use std::sync::atomic::Ordering::Relaxed;
        Counters {
            engine: self.engine.counters(),
            server: self
                .server
                .as_ref()
                .map(ServerHandle::counters)
                .unwrap_or_default(),
            forward: (
                f.sent.load(Relaxed),
                f.relayed.load(Relaxed),
                f.failovers.load(Relaxed),
                f.failed.load(Relaxed),
            ),
            reloads: *self.reloads.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Stops answering and joins the server's threads.
    pub fn stop(mut self) -> io::Result<()> {
        match self.server.take() {
            Some(s) => s.stop(),
            None => Ok(()),
        }
    }
}
