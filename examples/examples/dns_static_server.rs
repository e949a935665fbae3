//! `dns_static_server`: an authoritative DNS server for a static zone, on a stack of its own
//! given by an iothconf string, serving UDP and TCP from one event-loop thread (ioth-dns).
//!
//! ```sh
//! # A user-space stack on a hub served at /tmp/ioth-dns (or joined, if served already):
//! cargo run --release --example dns_static_server -- \
//!     --stack 'stack=smoltcp vnl=hub:///tmp/ioth-dns eth ip=10.0.0.53/24' \
//!     --record 'host 300 IN A 10.0.0.7'
//! # The kernel's own stack, on a port of loopback (a dnsperf target):
//! cargo run --release --example dns_static_server -- --stack stack=kernel \
//!     --listen 127.0.0.1:5300 --zone my.zone
//! ```
//!
//! With the default stack (an embedded hub only this process reaches) it starts an
//! in-process client that asks for `www.<origin>` over UDP and TCP, prints the replies and
//! exits. The hot path allocates only what hickory-proto's `Message` needs and takes no lock.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use ioth::Stack;
use ioth::nlconf::iothconf::{Config, Mode};
use ioth_dns::{Server, ServerConfig, StaticZone, Transport};
use ioth_examples::{Attachment, Context, Failure, attach, run};
use ioth_smoltcp as _; // link the user-space stack: found by the name "smoltcp"

const PROGRAM: &str = "dns_static_server";
const DEFAULT_STACK: &str = "stack=smoltcp vnl=hub://@ioth-dns eth ip=10.0.0.53/24 ip=fc00::53/64";
const DEMO_ZONE: &str = "\
$TTL 300
@    IN SOA ns admin 1 3600 600 86400 60
@    IN NS  ns
ns   IN A   10.0.0.53
www  IN A   10.0.0.80
www  IN AAAA fc00::80
ftp  IN CNAME www
@    IN TXT \"served by dns_static_server over ioth\"
";

/// An authoritative DNS server for a static zone, on its own network stack.
///
/// The zone is master-file text (RFC 1035: $ORIGIN, $TTL, @, relative names; no $INCLUDE)
/// from --zone, plus --record lines; with neither, a small demo zone. Replies leave from the
/// address each query reached; answers over the client's limit are truncated (TC) so that it
/// retries over TCP.
#[derive(Parser, Debug)]
#[command(name = PROGRAM, version)]
struct Args {
    /// The stack, as an iothconf string. A vnl=hub:///PATH is served at PATH/ctl, or joined
    /// if another process serves it; vnl=hub://@NAME is an embedded hub (then an in-process
    /// client asks one question and the server exits); stack=kernel is the host's stack.
    #[arg(long, value_name = "CONF", default_value = DEFAULT_STACK)]
    stack: String,
    /// A master file to serve.
    #[arg(long, value_name = "FILE")]
    zone: Option<PathBuf>,
    /// A zone line, added after the file (repeatable), e.g. 'host 300 IN A 10.0.0.7'.
    #[arg(long = "record", value_name = "LINE")]
    records: Vec<String>,
    /// The zone's origin when the text has no $ORIGIN.
    #[arg(long, value_name = "NAME", default_value = "example.test.")]
    origin: String,
    /// Where to listen, UDP and TCP (repeatable; default [::]:53 and 0.0.0.0:53).
    #[arg(long = "listen", value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// The EDNS payload size advertised and sent at most.
    #[arg(long, value_name = "BYTES", default_value_t = ioth_dns::DEFAULT_UDP_PAYLOAD)]
    max_udp_payload: u16,
    /// Seconds a TCP connection may stay idle.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    tcp_idle_timeout: u64,
    /// Most TCP connections at once.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_tcp_connections: usize,
    /// Exit after this many seconds (default: serve until killed).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
    /// Print the counters every SECS seconds (0: only when exiting).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    stats: u64,
}

fn main() -> ExitCode {
    let _ = ioth_kernel::NAME; // link the kernel backend so "kernel" is found by name
    let args = Args::parse();
    run(PROGRAM, || serve(args))
}

/// The zone text: the file, then the records; the demo zone when there is neither.
fn zone_text(args: &Args) -> Result<String, Failure> {
    let mut text = match &args.zone {
        Some(path) => std::fs::read_to_string(path)
            .context(format_args!("reading the zone {}", path.display()))?,
        None if args.records.is_empty() => DEMO_ZONE.to_owned(),
        None => String::new(),
    };
    if !args.records.is_empty() && !text.contains("$TTL") {
        text.insert_str(0, "$TTL 300\n");
    }
    for r in &args.records {
        text.push('\n');
        text.push_str(r);
    }
    text.push('\n');
    Ok(text)
}

/// The stack's VNLs with how each attaches, and whether the stack is on an embedded hub
/// only.
fn attachments(conf: &str) -> Result<(Vec<(String, Attachment)>, bool), Failure> {
    let cfg = Config::parse(conf, Mode::Create)
        .map_err(|e| Failure::usage(format!("--stack {conf:?}: {e}")))?;
    let mut out = Vec::new();
    let mut embedded = !cfg.vnl.is_empty();
    for vnl in &cfg.vnl {
        let how = attach(vnl)?;
        embedded &= how == Attachment::Embedded;
        out.push((vnl.clone(), how));
    }
    Ok((out, embedded))
}

fn serve(args: Args) -> Result<(), Failure> {
    let zone = StaticZone::parse(&zone_text(&args)?, Some(&args.origin))
        .map_err(|e| Failure::runtime(format!("the zone: {e}")))?;
    let origin = zone.origin().to_string();
    let (attached, embedded) = attachments(&args.stack)?;
    let conf = &args.stack;
    let (stack, _report) = Stack::from_config(conf).context(format_args!("the stack {conf:?}"))?;
    for (vnl, how) in &attached {
        println!("{PROGRAM}: {}", how.describe(vnl));
    }
    let mut config = ServerConfig {
        max_udp_payload: args.max_udp_payload,
        tcp_idle_timeout: Duration::from_secs(args.tcp_idle_timeout),
        max_tcp_connections: args.max_tcp_connections.max(1),
        ..ServerConfig::default()
    };
    if !args.listen.is_empty() {
        config.addrs = args.listen.clone();
    }
    let sets = zone.len();
    let server = Server::bind(&stack, config, zone).context("starting the server")?;
    let addrs: Vec<String> = server
        .local_addrs()
        .iter()
        .map(|(t, a)| format!("{t:?} {a}"))
        .collect();
    println!(
        "{PROGRAM}: serving {sets} record sets of {origin} on {}",
        addrs.join(", ")
    );
    if embedded {
        println!(
            "{PROGRAM}: nobody else can reach an embedded hub: asking www.{origin} from an \
             in-process client; give --stack with vnl=hub:///PATH to serve other processes"
        );
        let port = server.local_addr(Transport::Udp).map_or(53, |a| a.port());
        let vnl = Config::parse(conf, Mode::Create)
            .ok()
            .and_then(|c| c.vnl.first().cloned())
            .unwrap_or_default();
        demo_client(&vnl, &origin, port)?;
    } else {
        let start = Instant::now();
        let end = args.duration.map(|d| start + Duration::from_secs(d));
        let tick = Duration::from_secs(if args.stats > 0 { args.stats } else { 3600 });
        loop {
            let now = Instant::now();
            let wake = end.map_or(now + tick, |e| e.min(now + tick));
            std::thread::sleep(wake.saturating_duration_since(now));
            if end.is_some_and(|e| Instant::now() >= e) {
                break;
            }
            if args.stats > 0 {
                println!("{PROGRAM}: {:?}", server.counters());
            }
            if !server.is_running() {
                break;
            }
        }
    }
    let counters = server.counters();
    server.stop().context("the server loop")?;
    println!("{PROGRAM}: {counters:?}");
    Ok(())
}

/// Asks `www.<origin>` A over UDP and TCP from a stack of its own on `vnl`, and prints it.
fn demo_client(vnl: &str, origin: &str, port: u16) -> Result<(), Failure> {
    let stack = Stack::from_config(&format!("stack=smoltcp vnl={vnl} eth ip=10.0.0.1/24"))
        .context("the in-process client's stack")?
        .0;
    let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)), port);
    let name = Name::from_ascii(format!("www.{origin}")).context("the name to ask")?;
    let mut q = Message::query();
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(name, RecordType::A));
    let bytes = q.to_vec().context("encoding the question")?;
    let udp = stack
        .udp_bind("10.0.0.1:0")
        .context("the client's UDP socket")?;
    udp.set_read_timeout(Some(Duration::from_secs(5)))
        .context("the client's UDP socket")?;
    udp.send_to(&bytes, server).context("asking over UDP")?;
    let mut buf = [0u8; 65535];
    let (n, from) = udp.recv_from(&mut buf).context("the UDP reply")?;
    let reply = Message::from_vec(&buf[..n]).context("the UDP reply")?;
    println!("{PROGRAM} (in-process client): UDP reply from {from}:\n{reply}");
    let mut tcp = ioth::net::TcpStream::connect_timeout_on(&stack, &server, Duration::from_secs(5))
        .context("connecting over TCP")?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .context("the TCP connection")?;
    use std::io::{Read, Write};
    let mut framed = u16::try_from(bytes.len())
        .unwrap_or(0)
        .to_be_bytes()
        .to_vec();
    framed.extend_from_slice(&bytes);
    tcp.write_all(&framed).context("asking over TCP")?;
    let mut len = [0u8; 2];
    tcp.read_exact(&mut len).context("the TCP reply")?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    tcp.read_exact(&mut body).context("the TCP reply")?;
    let reply = Message::from_vec(&body).context("the TCP reply")?;
    println!(
        "{PROGRAM} (in-process client): TCP reply: {} answers, {}",
        reply.answers.len(),
        reply.metadata.response_code
    );
    Ok(())
}
