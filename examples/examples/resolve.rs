//! `resolve`: a node that takes its address and DNS server by DHCP, resolves the names given
//! on the command line over its own stack (never the host's resolver), and connects to the
//! first.
//!
//! ```sh
//! # On a network with a DHCP and DNS server (e.g. dnsmasq on a TAP joined to vde_switch):
//! cargo run --example resolve -- --stack 'stack=smoltcp vnl=vde:///tmp/sw eth dhcp' \
//!     web.corp.test mail.corp.test
//! # Alone: an embedded hub with an in-process DNS and web server, the node configured
//! # statically (nobody serves DHCP there):
//! cargo run --example resolve
//! ```

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use ioth::Stack;
use ioth::dns::{RecordType, Resolver};
use ioth::net::TcpStream;
use ioth::nlconf::iothconf::{Config, Mode};
use ioth_dns::{Server, ServerConfig, StaticZone};
use ioth_examples::{Attachment, Context, Failure, attach, run};
use ioth_smoltcp as _; // link the user-space stack: found by the name "smoltcp"

const PROGRAM: &str = "resolve";
const DEFAULT_STACK: &str = "stack=smoltcp vnl=hub://@ioth-resolve eth dhcp";
/// What the node uses on an embedded hub instead of `dhcp`.
const EMBEDDED_NODE: &str = "ip=10.0.0.1/24 dns=10.0.0.53 domain=example.test";
const EMBEDDED_ZONE: &str = "\
$TTL 300
@    IN SOA ns admin 1 3600 600 86400 60
@    IN NS  ns
ns   IN A   10.0.0.53
www  IN A   10.0.0.53
www  IN AAAA fc00::53
ftp  IN CNAME www
@    IN MX  10 www
";

/// A network node that resolves names over its own stack and connects to the first.
///
/// The stack is an iothconf string; by default it asks DHCP for its address and DNS server.
/// Names are looked up with the servers and search domains this stack learned, through its
/// own sockets: the host's resolver is never asked. IPv6 and IPv4 addresses race for the
/// connection (RFC 8305).
#[derive(Parser, Debug)]
#[command(name = PROGRAM, version)]
struct Args {
    /// The names to resolve (default on an embedded hub: www and ftp.example.test).
    names: Vec<String>,
    /// The node's stack, as an iothconf string. vnl=hub:///PATH serves or joins a hub at
    /// PATH; vnl=vde:///PATH joins a vde_switch; vnl=hub://@NAME is an embedded hub, where an
    /// in-process DNS and web server answer and `dhcp` is replaced by a static configuration.
    #[arg(long, value_name = "CONF", default_value = DEFAULT_STACK)]
    stack: String,
    /// Seconds to wait for the stack to learn a DNS server.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    wait: u64,
    /// Also look up these record types for each name (repeatable: MX, TXT, SRV, NS, PTR, …).
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// The TCP port to connect to on the first name.
    #[arg(long, value_name = "PORT", default_value_t = 80)]
    port: u16,
    /// Seconds to wait for the connection.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    connect_timeout: u64,
    /// Resolve only; do not connect.
    #[arg(long)]
    no_connect: bool,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    run(PROGRAM, || resolve(args))
}

/// Each VNL of a stack with how it attaches.
type Attached = Vec<(String, Attachment)>;

/// The stack's VNLs with how each attaches, and the embedded hub's VNL when the stack is on
/// one.
fn attachments(conf: &str) -> Result<(Attached, Option<String>), Failure> {
    let cfg = Config::parse(conf, Mode::Create)
        .map_err(|e| Failure::usage(format!("--stack {conf:?}: {e}")))?;
    if cfg.stack.as_deref().unwrap_or("kernel") == "kernel" {
        return Err(Failure::usage(format!(
            "--stack {conf:?}: give a user-space stack (stack=smoltcp): the kernel's names are the host's"
        )));
    }
    let mut out = Vec::new();
    let mut embedded = None;
    for vnl in &cfg.vnl {
        let how = attach(vnl)?;
        if how == Attachment::Embedded {
            embedded = Some(vnl.clone());
        }
        out.push((vnl.clone(), how));
    }
    Ok((out, embedded))
}

/// The in-process network of an embedded hub: a stack at 10.0.0.53 serving DNS and a
/// one-line greeting on every TCP port asked.
struct EmbeddedPeer {
    _stack: Stack,
    _dns: ioth_dns::ServerHandle,
}

fn embedded_peer(vnl: &str, port: u16) -> Result<EmbeddedPeer, Failure> {
    let (stack, _) = Stack::from_config(&format!(
        "stack=smoltcp vnl={vnl} eth ip=10.0.0.53/24 ip=fc00::53/64"
    ))
    .context("the in-process server's stack")?;
    let zone = StaticZone::parse(EMBEDDED_ZONE, Some("example.test."))
        .map_err(|e| Failure::runtime(format!("the demo zone: {e}")))?;
    let dns = Server::bind(&stack, ServerConfig::default(), zone).context("the DNS server")?;
    let web = stack
        .tcp_listen(SocketAddr::from(([0, 0, 0, 0], port)))
        .context("the in-process web server")?;
    std::thread::spawn(move || {
        for conn in web.incoming() {
            match conn {
                Ok(mut c) => {
                    let _ = c.write_all(b"hello from the in-process server at 10.0.0.53\n");
                }
                Err(e) => {
                    log::warn!("in-process web server: {e}");
                    break;
                }
            }
        }
    });
    println!(
        "{PROGRAM}: nobody else can reach an embedded hub: an in-process server at 10.0.0.53 answers DNS for example.test and TCP on port {port}"
    );
    Ok(EmbeddedPeer {
        _stack: stack,
        _dns: dns,
    })
}

fn record_type(text: &str) -> Result<RecordType, Failure> {
    text.to_ascii_uppercase()
        .parse::<RecordType>()
        .map_err(|_| Failure::usage(format!("--type {text:?}: not a DNS record type")))
}

fn resolve(args: Args) -> Result<(), Failure> {
    let types = args
        .types
        .iter()
        .map(|t| record_type(t))
        .collect::<Result<Vec<_>, _>>()?;
    let (attached, embedded) = attachments(&args.stack)?;
    let mut conf = args.stack.clone();
    let _peer = match &embedded {
        Some(vnl) => {
            // Nobody serves DHCP on an embedded hub: the same node, configured statically.
            conf = conf.replace(" dhcp", "").replace(",dhcp", "");
            conf.push(' ');
            conf.push_str(EMBEDDED_NODE);
            println!("{PROGRAM}: configured statically on the embedded hub: {EMBEDDED_NODE}");
            Some(embedded_peer(vnl, args.port)?)
        }
        None => None,
    };
    let names = if args.names.is_empty() {
        if embedded.is_none() {
            return Err(Failure::usage("give the names to resolve"));
        }
        vec!["www".to_owned(), "ftp.example.test".to_owned()]
    } else {
        args.names.clone()
    };
    let (stack, report) = Stack::from_config(&conf).context(format_args!("the stack {conf:?}"))?;
    for (vnl, how) in &attached {
        println!("{PROGRAM}: {}", how.describe(vnl));
    }
    for (item, e) in &report.failed {
        println!("{PROGRAM}: warning: {item}: {e}");
    }

    let resolver = Resolver::for_stack(&stack);
    let start = Instant::now();
    while resolver.servers().is_empty() {
        if start.elapsed() > Duration::from_secs(args.wait) {
            return Err(Failure::runtime(format!(
                "the stack learned no DNS server in {} s (is a DHCP server on the network?)",
                args.wait
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let servers: Vec<String> = resolver.servers().iter().map(|s| s.to_string()).collect();
    let search: Vec<String> = resolver.search().iter().map(|n| n.to_ascii()).collect();
    println!(
        "{PROGRAM}: the stack's DNS servers: {}; search: {}",
        servers.join(", "),
        if search.is_empty() {
            "-".to_owned()
        } else {
            search.join(" ")
        }
    );

    let mut first: Option<(String, Vec<std::net::IpAddr>)> = None;
    let mut failures = 0;
    for name in &names {
        match resolver.lookup_ip(name) {
            Ok(ips) => {
                let list: Vec<String> = ips.iter().map(|i| i.to_string()).collect();
                println!("{name}: {}", list.join(", "));
                if first.is_none() {
                    first = Some((name.clone(), ips));
                }
            }
            Err(e) => {
                failures += 1;
                println!("{name}: {e}");
            }
        }
        for &t in &types {
            match resolver.lookup(name, t) {
                Ok(l) => {
                    for r in l.records() {
                        println!("{name} {t}: {}", r.data);
                    }
                }
                Err(e) => println!("{name} {t}: {e}"),
            }
        }
    }
    if !args.no_connect
        && let Some((name, ips)) = first
    {
        let addrs: Vec<SocketAddr> = ips
            .iter()
            .map(|&ip| SocketAddr::new(ip, args.port))
            .collect();
        let mut conn = TcpStream::connect_timeout_to(
            &stack,
            addrs.as_slice(),
            Duration::from_secs(args.connect_timeout.max(1)),
        )
        .context(format_args!("connecting to {name} port {}", args.port))?;
        println!(
            "{PROGRAM}: connected to {name} at {} from {}",
            conn.peer_addr().context("the connection")?,
            conn.local_addr().context("the connection")?
        );
        if embedded.is_some() {
            conn.set_read_timeout(Some(Duration::from_secs(5)))
                .context("the connection")?;
            let mut greeting = String::new();
            let _ = conn.read_to_string(&mut greeting);
            print!("{PROGRAM}: it said: {greeting}");
        }
    }
    if failures == names.len() {
        return Err(Failure::runtime("no name resolved"));
    }
    Ok(())
}
