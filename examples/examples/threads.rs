//! The Internet of Threads in one process: every thread is a network node.
//!
//! `cargo run --release --example threads` starts an embedded hub (no files, no root, nothing
//! to install) and N threads (default 8). Each thread makes its own smoltcp stack on the hub
//! and configures it through rtnetlink: a MAC and an IPv6 address derived from the thread's
//! name (`hashmac(name)`, `hashaddr(fc00:0:0:1::, name)`) and the IPv4 address 10.0.0.(i+1)/24.
//! It makes that stack its thread default (`Stack::enter`), runs UDP and TCP echo servers on
//! port 7 of both addresses, and sends messages to its right-hand neighbour over UDP and TCP,
//! IPv4 and IPv6, checking every echo and timing it. The main thread then prints one row per
//! thread: addresses, messages sent and echoed, bytes, and the median round-trip times.
//!
//! The program ends by itself; it exits 0 only when every message came back intact, and
//! non-zero with a message otherwise (including when it does not finish within `--timeout`).
//! A VNL on the command line puts the threads on another network instead, e.g.
//! `hub:///tmp/ioth-demo` to let `vde_plug vde:///tmp/ioth-demo` (or tcpdump behind it) watch.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ioth::net::{TcpListener, TcpStream, UdpSocket};
use ioth::nlconf::hashaddr::hashaddr;
use ioth_examples::stats::median;
use ioth_examples::{CmdLine, Context, Failure, IPV6_BASE, Node, attach, run};

const PROGRAM: &str = "threads";
const USAGE: &str = "\
usage: threads [OPTIONS] [VNL]

Starts N threads, each a network node with its own user-space TCP/IP stack (smoltcp) on one
virtual network: IPv4 10.0.0.(i+1)/24, an IPv6 address and a MAC derived from the thread's
name by the IoTh hash (base fc00:0:0:1::). Every thread runs UDP and TCP echo servers on port
7 and sends messages to its right-hand neighbour over UDP and TCP, IPv4 and IPv6; then one
table row per thread shows addresses, messages sent/echoed, bytes and median round-trip times.
Exits 0 when every message was echoed intact, non-zero with a message otherwise.

arguments:
  VNL                 the virtual network (default: an embedded hub, hub://@ioth-threads-PID,
                      reachable by this process only). hub:///PATH serves the hub at PATH/ctl
                      so that other processes (vde_plug vde:///PATH) can watch.
options:
  --threads N         number of threads, 1..=253 (default 8)
  --messages K        messages per protocol and address family (default 10)
  --size BYTES        payload bytes per message, 32..=1400 (default 64)
  --timeout SECS      give up (exit 1) if not done by then (default 30)
  -h, --help          this text
Logging: RUST_LOG=debug (env_logger).";

/// The echo port every thread serves (the classic echo service).
const ECHO_PORT: u16 = 7;
/// How often the servers look at their stop flag while idle.
const POLL_SLICE: Duration = Duration::from_millis(100);
/// How long a client waits for one UDP echo before sending that message again.
const UDP_RETRY: Duration = Duration::from_millis(500);
/// How many times a UDP message is sent before it counts as lost.
const UDP_TRIES: usize = 4;
/// How long a TCP client waits for a connection or an echo.
const TCP_WAIT: Duration = Duration::from_secs(5);

struct Options {
    threads: usize,
    messages: usize,
    size: usize,
    timeout: Duration,
    vnl: Option<String>,
}

fn parse_options() -> Result<Options, Failure> {
    let mut cmd = CmdLine::from_env(USAGE);
    let threads = cmd.value::<usize>("--threads")?.unwrap_or(8);
    let messages = cmd.value::<usize>("--messages")?.unwrap_or(10);
    let size = cmd.value::<usize>("--size")?.unwrap_or(64);
    let timeout = cmd.value::<u64>("--timeout")?.unwrap_or(30);
    let mut positional = cmd.finish(1)?;
    if !(1..=253).contains(&threads) {
        return Err(Failure::usage(format!(
            "--threads {threads}: must be 1..=253 (one IPv4 address each in 10.0.0.0/24)"
        )));
    }
    if !(1..=100_000).contains(&messages) {
        return Err(Failure::usage(format!(
            "--messages {messages}: must be 1..=100000"
        )));
    }
    if !(32..=1400).contains(&size) {
        return Err(Failure::usage(format!(
            "--size {size}: must be 32..=1400 (one Ethernet frame)"
        )));
    }
    if timeout == 0 {
        return Err(Failure::usage("--timeout 0: must be at least 1 second"));
    }
    Ok(Options {
        threads,
        messages,
        size,
        timeout: Duration::from_secs(timeout),
        vnl: positional.pop(),
    })
}

/// What one kind of traffic (UDP or TCP, both address families) achieved.
#[derive(Default)]
struct Flow {
    sent: usize,
    echoed: usize,
    bytes: usize,
    rtts: Vec<Duration>,
}

/// One row of the table.
struct Row {
    name: String,
    ipv4: Ipv4Addr,
    ipv6: Ipv6Addr,
    udp: Flow,
    tcp: Flow,
}

/// What every node thread shares.
struct Shared {
    vnl: String,
    threads: usize,
    messages: usize,
    size: usize,
    /// Every node has its servers running (or has failed and said so in `abort`).
    ready: Barrier,
    /// Every node has finished sending: the servers may stop.
    done: Barrier,
    abort: AtomicBool,
}

fn thread_name(i: usize) -> String {
    format!("thread-{i}")
}

fn ipv4_of(i: usize) -> Ipv4Addr {
    // i < 253 is checked by parse_options.
    Ipv4Addr::new(10, 0, 0, (i + 1) as u8)
}

fn main() -> ExitCode {
    run(PROGRAM, || {
        let opts = parse_options()?;
        let (vnl, how) = match &opts.vnl {
            Some(v) => (v.clone(), attach(v)?),
            None => (
                format!("hub://@ioth-threads-{}", std::process::id()),
                ioth_examples::Attachment::Embedded,
            ),
        };
        start_watchdog(opts.timeout);
        println!(
            "{} threads on {}; each sends {} messages of {} bytes to its right-hand neighbour \
             over UDP and TCP, IPv4 and IPv6",
            opts.threads,
            how.place(&vnl),
            opts.messages,
            opts.size
        );
        let shared = Arc::new(Shared {
            vnl,
            threads: opts.threads,
            messages: opts.messages,
            size: opts.size,
            ready: Barrier::new(opts.threads),
            done: Barrier::new(opts.threads),
            abort: AtomicBool::new(false),
        });
        let started = Instant::now();
        let mut handles = Vec::new();
        for i in 0..opts.threads {
            let shared = Arc::clone(&shared);
            let handle = thread::Builder::new()
                .name(thread_name(i))
                .spawn(move || node_thread(i, &shared))
                .context(format_args!("starting {}", thread_name(i)))?;
            handles.push(handle);
        }
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for (i, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(Ok(row)) => rows.push(row),
                Ok(Err(e)) => errors.push(e.to_string()),
                Err(_) => errors.push(format!("{} panicked", thread_name(i))),
            }
        }
        let elapsed = started.elapsed();
        if !errors.is_empty() {
            return Err(Failure::runtime(errors.join("\n  ")));
        }
        print_table(&rows, elapsed);
        let lost: usize = rows
            .iter()
            .map(|r| r.udp.sent - r.udp.echoed + r.tcp.sent - r.tcp.echoed)
            .sum();
        if lost > 0 {
            return Err(Failure::runtime(format!("{lost} messages were not echoed")));
        }
        Ok(())
    })
}

/// Ends the process with a message if the exchange is not done within `timeout`.
fn start_watchdog(timeout: Duration) {
    let spawned = thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            thread::sleep(timeout);
            eprintln!(
                "{PROGRAM}: error: not finished after {} s; giving up (RUST_LOG=debug shows more)",
                timeout.as_secs()
            );
            std::process::exit(1);
        });
    if let Err(e) = spawned {
        log::warn!("no watchdog thread: {e}");
    }
}

/// One node: its stack, its servers, its client exchange. Goes through both barriers on
/// every path so that a failing node cannot leave the others waiting.
fn node_thread(i: usize, shared: &Shared) -> Result<Row, Failure> {
    let name = thread::current()
        .name()
        .map_or_else(|| thread_name(i), str::to_owned);
    let setup = Node::new(&shared.vnl, &name, Some((ipv4_of(i), 24))).and_then(|node| {
        let servers = Servers::start(&node)?;
        Ok((node, servers))
    });
    if setup.is_err() {
        shared.abort.store(true, Ordering::SeqCst);
    }
    shared.ready.wait();
    let (node, servers) = match setup {
        Ok(s) => s,
        Err(e) => {
            shared.done.wait();
            return Err(e);
        }
    };
    let result = if shared.abort.load(Ordering::SeqCst) {
        Err(Failure::runtime(format!(
            "{name}: not started because another thread failed"
        )))
    } else {
        exchange(i, &node, shared)
    };
    if result.is_err() {
        shared.abort.store(true, Ordering::SeqCst);
    }
    shared.done.wait();
    servers.stop()?;
    result
}

/// The echo servers of one node: UDP and TCP on port 7 of its IPv4 and IPv6 address.
struct Servers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Result<(), Failure>>>,
}

impl Servers {
    fn start(node: &Node) -> Result<Servers, Failure> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut servers = Servers {
            stop: Arc::clone(&stop),
            threads: Vec::new(),
        };
        let mut addrs = vec![SocketAddr::new(IpAddr::V6(node.ipv6), ECHO_PORT)];
        if let Some(v4) = node.ipv4 {
            addrs.insert(0, SocketAddr::new(IpAddr::V4(v4), ECHO_PORT));
        }
        // Sockets opened on the thread's default stack: this node's.
        let _default = node.stack.enter();
        for addr in addrs {
            let what = format!("{}: UDP echo server on {addr}", node.name);
            let udp = UdpSocket::bind(addr).context(&what)?;
            udp.set_read_timeout(Some(POLL_SLICE)).context(&what)?;
            let stop_udp = Arc::clone(&stop);
            servers
                .threads
                .push(spawn_helper(&node.name, "udp", move || {
                    udp_echo(&udp, &stop_udp).context(&what)
                })?);

            let what = format!("{}: TCP echo server on {addr}", node.name);
            let listener = TcpListener::bind(addr).context(&what)?;
            listener.set_nonblocking(true).context(&what)?;
            let stop_tcp = Arc::clone(&stop);
            servers
                .threads
                .push(spawn_helper(&node.name, "tcp", move || {
                    tcp_echo_listener(&listener, &stop_tcp).context(&what)
                })?);
        }
        Ok(servers)
    }

    /// Stops the servers and reports the first error any of them met.
    fn stop(self) -> Result<(), Failure> {
        self.stop.store(true, Ordering::SeqCst);
        let mut first = Ok(());
        for t in self.threads {
            let r = t
                .join()
                .unwrap_or_else(|_| Err(Failure::runtime("an echo server panicked")));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

fn spawn_helper(
    node: &str,
    what: &str,
    f: impl FnOnce() -> Result<(), Failure> + Send + 'static,
) -> Result<JoinHandle<Result<(), Failure>>, Failure> {
    thread::Builder::new()
        .name(format!("{node}-{what}"))
        .spawn(f)
        .context(format_args!("{node}: starting a {what} server thread"))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Sends every datagram back where it came from until `stop`.
fn udp_echo(udp: &UdpSocket, stop: &AtomicBool) -> io::Result<()> {
    let mut buf = vec![0u8; 2048];
    while !stop.load(Ordering::SeqCst) {
        match udp.recv_from(&mut buf) {
            Ok((n, from)) => {
                udp.send_to(&buf[..n], from)?;
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Accepts connections until `stop`, echoing each on a thread of its own.
fn tcp_echo_listener(listener: &TcpListener, stop: &Arc<AtomicBool>) -> io::Result<()> {
    let mut conns: Vec<JoinHandle<io::Result<()>>> = Vec::new();
    let ms = libc::c_int::try_from(POLL_SLICE.as_millis()).unwrap_or(100);
    while !stop.load(Ordering::SeqCst) {
        let mut pfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is a valid pollfd that outlives the call; nfds is 1.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            continue;
        }
        match listener.accept() {
            Ok((stream, peer)) => {
                log::debug!("echo connection from {peer}");
                let stop = Arc::clone(stop);
                conns.push(thread::spawn(move || tcp_echo_conn(stream, &stop)));
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    for c in conns {
        c.join()
            .unwrap_or_else(|_| Err(io::Error::other("an echo connection thread panicked")))?;
    }
    Ok(())
}

/// Echoes one connection until the peer closes it (or `stop`).
fn tcp_echo_conn(mut stream: TcpStream, stop: &AtomicBool) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(POLL_SLICE))?;
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => stream.write_all(&buf[..n])?,
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The payload of message `k`: a readable header, then a pattern up to `size` bytes.
fn payload(from: &str, kind: &str, k: usize, size: usize) -> Vec<u8> {
    let mut p = format!("{from} {kind} #{k} ").into_bytes();
    p.truncate(size);
    let mut c = b'a';
    while p.len() < size {
        p.push(c);
        c = if c == b'z' { b'a' } else { c + 1 };
    }
    p
}

/// Sends the messages of node `i` to its right-hand neighbour and checks the echoes.
fn exchange(i: usize, node: &Node, shared: &Shared) -> Result<Row, Failure> {
    let j = (i + 1) % shared.threads;
    let peer_name = thread_name(j);
    let peers = [
        ("4", IpAddr::V4(ipv4_of(j))),
        ("6", IpAddr::V6(hashaddr(IPV6_BASE, &peer_name, None, 0))),
    ];
    let _default = node.stack.enter();
    let mut udp = Flow::default();
    let mut tcp = Flow::default();
    for (family, ip) in peers {
        let peer = SocketAddr::new(ip, ECHO_PORT);
        udp_client(node, peer, &format!("udp{family}"), shared, &mut udp)?;
        tcp_client(node, peer, &format!("tcp{family}"), shared, &mut tcp)?;
    }
    Ok(Row {
        name: node.name.clone(),
        ipv4: node.ipv4.unwrap_or(Ipv4Addr::UNSPECIFIED),
        ipv6: node.ipv6,
        udp,
        tcp,
    })
}

fn udp_client(
    node: &Node,
    peer: SocketAddr,
    kind: &str,
    shared: &Shared,
    flow: &mut Flow,
) -> Result<(), Failure> {
    let what = format!("{}: UDP to {peer}", node.name);
    let local: SocketAddr = if peer.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local).context(&what)?;
    sock.set_read_timeout(Some(UDP_RETRY)).context(&what)?;
    let mut buf = vec![0u8; 2048];
    for k in 0..shared.messages {
        let msg = payload(&node.name, kind, k, shared.size);
        flow.sent += 1;
        'tries: for _ in 0..UDP_TRIES {
            let start = Instant::now();
            sock.send_to(&msg, peer).context(&what)?;
            loop {
                match sock.recv_from(&mut buf) {
                    Ok((n, from)) if from == peer && buf[..n] == msg[..] => {
                        flow.rtts.push(start.elapsed());
                        flow.echoed += 1;
                        flow.bytes += n;
                        break 'tries;
                    }
                    // A late echo of an earlier try, or a stranger: keep waiting.
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {
                        log::debug!("{what}: message {k} not echoed yet, sending it again");
                        break;
                    }
                    Err(e) => return Err(e).context(&what),
                }
            }
        }
    }
    Ok(())
}

fn tcp_client(
    node: &Node,
    peer: SocketAddr,
    kind: &str,
    shared: &Shared,
    flow: &mut Flow,
) -> Result<(), Failure> {
    let what = format!("{}: TCP to {peer}", node.name);
    let mut stream = TcpStream::connect_timeout(&peer, TCP_WAIT).context(&what)?;
    stream.set_read_timeout(Some(TCP_WAIT)).context(&what)?;
    stream.set_write_timeout(Some(TCP_WAIT)).context(&what)?;
    stream.set_nodelay(true).context(&what)?;
    let mut buf = vec![0u8; shared.size];
    for k in 0..shared.messages {
        let msg = payload(&node.name, kind, k, shared.size);
        let start = Instant::now();
        flow.sent += 1;
        stream.write_all(&msg).context(&what)?;
        stream
            .read_exact(&mut buf)
            .context(format_args!("{what}: waiting for the echo of message {k}"))?;
        if buf != msg {
            return Err(Failure::runtime(format!(
                "{what}: message {k} came back changed"
            )));
        }
        flow.rtts.push(start.elapsed());
        flow.echoed += 1;
        flow.bytes += msg.len();
    }
    stream.shutdown(std::net::Shutdown::Write).context(&what)?;
    // The server closes its side once it has read our end of stream.
    match stream.read(&mut buf) {
        Ok(0) => Ok(()),
        Ok(n) => Err(Failure::runtime(format!(
            "{what}: {n} unexpected bytes after the last echo"
        ))),
        Err(e) => Err(e).context(format_args!("{what}: waiting for the server to close")),
    }
}

fn micros(rtts: &mut [Duration]) -> String {
    median(rtts).map_or_else(|| "-".to_string(), |d| d.as_micros().to_string())
}

fn print_table(rows: &[Row], elapsed: Duration) {
    let v6w = rows
        .iter()
        .map(|r| r.ipv6.to_string().len())
        .max()
        .unwrap_or(4)
        .max(4);
    let namew = rows.iter().map(|r| r.name.len()).max().unwrap_or(6).max(6);
    println!(
        "{:<namew$}  {:<10}  {:<v6w$}  {:>11}  {:>11}  {:>8}  {:>11}  {:>11}",
        "thread", "IPv4", "IPv6", "UDP sent/ok", "TCP sent/ok", "bytes", "UDP RTT µs", "TCP RTT µs",
    );
    let mut total = (0, 0, 0);
    for r in rows {
        let mut udp_rtts = r.udp.rtts.clone();
        let mut tcp_rtts = r.tcp.rtts.clone();
        println!(
            "{:<namew$}  {:<10}  {:<v6w$}  {:>11}  {:>11}  {:>8}  {:>11}  {:>11}",
            r.name,
            r.ipv4.to_string(),
            r.ipv6.to_string(),
            format!("{}/{}", r.udp.sent, r.udp.echoed),
            format!("{}/{}", r.tcp.sent, r.tcp.echoed),
            r.udp.bytes + r.tcp.bytes,
            micros(&mut udp_rtts),
            micros(&mut tcp_rtts),
        );
        total.0 += r.udp.sent + r.tcp.sent;
        total.1 += r.udp.echoed + r.tcp.echoed;
        total.2 += r.udp.bytes + r.tcp.bytes;
    }
    println!(
        "{} of {} messages echoed ({} bytes) by {} threads in {:.2} s",
        total.1,
        total.0,
        total.2,
        rows.len(),
        elapsed.as_secs_f64()
    );
}
