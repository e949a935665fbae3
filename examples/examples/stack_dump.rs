//! `stack_dump`: two user-space stacks in one process exchange UDP datagrams and a TCP
//! stream, then each prints its picture (`Stack::dump()`: `ip -s addr`, `ip route`,
//! `ss -tuanp`, `netstat -s`) and the counters the traffic left; `--pcap FILE` captures the
//! client's link (the VNL option `pcap=FILE`) for tcpdump or wireshark.
//!
//! ```sh
//! cargo run --example stack_dump
//! cargo run --example stack_dump -- --pcap /tmp/client.pcap --loss 5 && tcpdump -r /tmp/client.pcap
//! ```

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ioth::Stack;
use ioth::net::{TcpListener, TcpStream};
use ioth_examples::{Context, Failure, run};
use ioth_smoltcp as _; // link the user-space stack: found by the name "smoltcp"

const PROGRAM: &str = "stack_dump";
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Two network nodes in one process, each with its own user-space TCP/IP stack on one hub:
/// the client sends UDP datagrams and a TCP stream to the server, then both print what
/// their stacks look like and count.
#[derive(Parser, Debug)]
#[command(name = PROGRAM, version)]
struct Args {
    /// The hub both stacks join: hub://@NAME (in this process), hub:///PATH (served here or
    /// joined), vde:///PATH (a vde_switch).
    #[arg(long, value_name = "VNL", default_value = "hub://@ioth-stack-dump")]
    vnl: String,
    /// Capture every frame of the client's link to FILE (classic pcap; the VNL option
    /// pcap=FILE).
    #[arg(long, value_name = "FILE")]
    pcap: Option<String>,
    /// UDP datagrams the client sends.
    #[arg(long, value_name = "N", default_value_t = 20)]
    datagrams: u32,
    /// Bytes the client sends over TCP (echoed back).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    bytes: usize,
    /// Percent of the client's frames its hub member loses (hub and switch VNLs only), to see
    /// retransmissions counted.
    #[arg(long, value_name = "PCT")]
    loss: Option<f64>,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    run(PROGRAM, || demo(args))
}

/// `vnl` with option `key=value` added in the syntax of its scheme.
fn with_option(vnl: &str, key: &str, value: &str) -> String {
    let value = if value.contains(['/', '[', ']', ' ', '=']) && !value.contains('\'') {
        format!("'{value}'")
    } else {
        value.to_owned()
    };
    let slash_style = vnl.starts_with("vxvde://") || vnl.starts_with("null://");
    if slash_style {
        format!("{vnl}/{key}={value}")
    } else if let Some(open) = vnl.strip_suffix(']') {
        format!("{open}/{key}={value}]")
    } else {
        format!("{vnl}[{key}={value}]")
    }
}

fn node(vnl: &str, ip: Ipv4Addr, extra: &str) -> Result<Stack, Failure> {
    let conf = format!("stack=smoltcp vnl={vnl} eth ip={ip}/24 {extra}");
    let (stack, _) = Stack::from_config(&conf).context(format_args!("the stack {conf:?}"))?;
    Ok(stack)
}

fn demo(args: Args) -> Result<(), Failure> {
    let mut client_vnl = args.vnl.clone();
    if let Some(pct) = args.loss {
        if !(0.0..=100.0).contains(&pct) {
            return Err(Failure::usage(format!("--loss {pct}: not a percentage")));
        }
        client_vnl = with_option(&client_vnl, "loss", &pct.to_string());
    }
    if let Some(file) = &args.pcap {
        client_vnl = with_option(&client_vnl, "pcap", file);
    }
    let server = node(&args.vnl, SERVER, "")?;
    server.set_name("server");
    // The client's default route goes through the server (shown by `ip route`).
    let client = node(&client_vnl, CLIENT, &format!("gw={SERVER}"))?;
    client.set_name("client");
    println!("{PROGRAM}: server {SERVER} on {}", args.vnl);
    println!("{PROGRAM}: client {CLIENT} on {client_vnl}");

    // UDP: datagrams from the client, each read by the server.
    let udp_rx = server
        .udp_bind((SERVER, 5000))
        .context("the server's UDP socket")?;
    // The first waits for ARP; with --loss some never arrive.
    udp_rx
        .set_read_timeout(Some(Duration::from_millis(if args.loss.is_some() {
            300
        } else {
            5000
        })))
        .context("SO_RCVTIMEO")?;
    let udp_tx = client
        .udp_bind((CLIENT, 0))
        .context("the client's UDP socket")?;
    let mut buf = vec![0u8; 65536];
    let mut received = 0;
    for i in 0..args.datagrams {
        let msg = format!("datagram {i}");
        udp_tx
            .send_to(msg.as_bytes(), (SERVER, 5000))
            .context("sending a datagram")?;
        match udp_rx.recv_from(&mut buf) {
            Ok((n, _)) if &buf[..n] == msg.as_bytes() => received += 1,
            Ok(_) => return Err(Failure::runtime(format!("datagram {i} came changed"))),
            Err(e) if args.loss.is_some() && e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Failure::runtime(format!("receiving datagram {i}: {e}"))),
        }
    }
    println!(
        "{PROGRAM}: {} UDP datagrams sent, {received} received",
        args.datagrams
    );

    // TCP: a stream echoed back; the connection stays open for the dump.
    let listener =
        TcpListener::bind_on(&server, (SERVER, 7)).context("the server's TCP listener")?;
    let echo = std::thread::spawn(move || -> std::io::Result<(TcpListener, TcpStream)> {
        let (mut conn, _) = listener.accept()?;
        let mut buf = vec![0u8; 65536];
        let mut left = args.bytes;
        while left > 0 {
            let n = conn.read(&mut buf[..left.min(65536)])?;
            if n == 0 {
                break;
            }
            conn.write_all(&buf[..n])?;
            left -= n;
        }
        // Both stay open, to be in the server's dump.
        Ok((listener, conn))
    });
    let mut conn = TcpStream::connect_on(&client, SocketAddr::from((SERVER, 7)))
        .context("connecting to the server")?;
    let data: Vec<u8> = (0..args.bytes).map(|i| (i % 251) as u8).collect();
    let writer = {
        let mut w = conn
            .try_clone()
            .context("a second handle on the connection")?;
        let data = data.clone();
        std::thread::spawn(move || w.write_all(&data))
    };
    let mut back = vec![0u8; data.len()];
    conn.read_exact(&mut back).context("reading the echo")?;
    writer
        .join()
        .map_err(|_| Failure::runtime("the writer thread panicked"))?
        .context("writing the stream")?;
    let _server_sockets = echo
        .join()
        .map_err(|_| Failure::runtime("the echo thread panicked"))?
        .context("the echo server")?;
    if back != data {
        return Err(Failure::runtime("the TCP echo came back changed"));
    }
    println!("{PROGRAM}: {} bytes echoed over TCP", args.bytes);

    for stack in [&server, &client] {
        println!();
        print!("{}", stack.dump().context("the dump")?);
    }

    println!();
    for (stack, ifname) in [(&server, "vde0"), (&client, "vde0")] {
        let s = stack.link_stats(ifname).context("the link counters")?;
        println!(
            "{PROGRAM}: {} {ifname}: rx {} packets {} bytes {} dropped, tx {} packets {} bytes {} dropped",
            stack.name(),
            s.rx_packets,
            s.rx_bytes,
            s.rx_dropped,
            s.tx_packets,
            s.tx_bytes,
            s.tx_dropped
        );
        let c = stack.protocol_counters().context("the protocol counters")?;
        println!(
            "{PROGRAM}: {} udp: in {} out {} rcvbuf errors {}; tcp: in {} out {} retransmitted {}",
            stack.name(),
            c.udp.in_datagrams,
            c.udp.out_datagrams,
            c.udp.rcvbuf_errors,
            c.tcp.in_segs,
            c.tcp.out_segs,
            c.tcp.retrans_segs
        );
    }
    if let Some(file) = &args.pcap {
        let bytes = std::fs::read(file).context(format_args!("reading {file}"))?;
        let frames = vde::pcap::parse(&bytes).context(format_args!("reading {file}"))?;
        let ip = frames
            .iter()
            .filter(|f| f.data.get(12..14) == Some(&[0x08, 0x00]))
            .count();
        println!(
            "{PROGRAM}: pcap {file}: {} frames of the client's link ({ip} IPv4), tcpdump -r {file} reads it",
            frames.len()
        );
    }
    Ok(())
}
