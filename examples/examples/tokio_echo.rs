//! `tokio_echo`: a TCP echo server and its clients as tokio tasks, each side on its own
//! user-space TCP/IP stack (smoltcp) on an in-process hub: `ioth::tokio`'s sockets are
//! registered with tokio's reactor like the runtime's own. No root, no host network.
//!
//! ```sh
//! cargo run --example tokio_echo
//! cargo run --example tokio_echo -- --clients 20 --bytes 1000000
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ioth::Stack;
use ioth::tokio::{TcpListener, TcpStream, UdpSocket};
use ioth_examples::{Context, Failure, run};
use ioth_smoltcp as _; // link the user-space stack: found by the name "smoltcp"
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROGRAM: &str = "tokio_echo";
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A TCP echo server and concurrent clients as tokio tasks, on two user-space stacks that
/// share a hub; then a UDP datagram answered the same way. Each client checks that every
/// byte came back in order.
#[derive(Parser, Debug)]
#[command(name = PROGRAM, version)]
struct Args {
    /// The hub both stacks join: hub://@NAME (in this process), hub:///PATH (served here or
    /// joined), vde:///PATH (a vde_switch).
    #[arg(long, value_name = "VNL", default_value = "hub://@ioth-tokio-echo")]
    vnl: String,
    /// Clients connecting at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    clients: usize,
    /// Bytes each client sends (and reads back).
    #[arg(long, value_name = "N", default_value_t = 256 * 1024)]
    bytes: usize,
    /// The server's TCP and UDP port.
    #[arg(long, value_name = "PORT", default_value_t = 7)]
    port: u16,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    run(PROGRAM, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("the tokio runtime")?;
        rt.block_on(demo(args))
    })
}

fn node(vnl: &str, ip: Ipv4Addr) -> Result<Stack, Failure> {
    let conf = format!("stack=smoltcp vnl={vnl} eth ip={ip}/24");
    let (stack, _) = Stack::from_config(&conf).context(format_args!("the stack {conf:?}"))?;
    Ok(stack)
}

/// The bytes client `n` sends: different for every client and offset.
fn payload(n: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ n.wrapping_mul(131)) as u8)
        .collect()
}

async fn demo(args: Args) -> Result<(), Failure> {
    if args.clients == 0 {
        return Err(Failure::usage("--clients 0: at least one client"));
    }
    let server = node(&args.vnl, SERVER)?;
    let client = node(&args.vnl, CLIENT)?;
    let addr = SocketAddr::from((SERVER, args.port));
    let listener = TcpListener::bind_on(&server, addr)
        .await
        .context(format_args!("listening on {addr}"))?;
    println!("{PROGRAM}: server {addr} on {}", args.vnl);

    // The server: a task per connection, echoing until the client shuts down its side.
    let clients = args.clients;
    let serving = tokio::spawn(async move {
        let mut echoes = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (conn, peer) = listener.accept().await?;
            log::info!("accepted {peer}");
            echoes.spawn(async move {
                let (mut rd, mut wr) = conn.into_split();
                let n = tokio::io::copy(&mut rd, &mut wr).await?;
                wr.shutdown().await?;
                std::io::Result::Ok(n)
            });
        }
        let mut total = 0;
        while let Some(done) = echoes.join_next().await {
            total += done.map_err(std::io::Error::other)??;
        }
        std::io::Result::Ok(total)
    });

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..args.clients {
        let (stack, len) = (client.clone(), args.bytes);
        tasks.spawn(async move {
            let conn = TcpStream::connect_on(&stack, addr).await?;
            let local = conn.local_addr()?;
            let sent = payload(n, len);
            let (mut rd, mut wr) = conn.into_split();
            let data = sent.clone();
            let writer = tokio::spawn(async move {
                wr.write_all(&data).await?;
                wr.shutdown().await
            });
            let mut back = Vec::with_capacity(len);
            rd.read_to_end(&mut back).await?;
            writer.await.map_err(std::io::Error::other)??;
            std::io::Result::Ok((n, local, back == sent, back.len()))
        });
    }
    let mut echoed = 0;
    while let Some(done) = tasks.join_next().await {
        let (n, local, intact, len) = done
            .map_err(|e| Failure::runtime(format!("a client task: {e}")))?
            .context("a client")?;
        if !intact {
            return Err(Failure::runtime(format!(
                "client {n} ({local}): {len} bytes came back, not the {} sent",
                args.bytes
            )));
        }
        println!("{PROGRAM}: client {n} ({local}) got its {len} bytes back intact");
        echoed += len;
    }
    let served = serving
        .await
        .map_err(|e| Failure::runtime(format!("the server task: {e}")))?
        .context("the server")?;
    println!(
        "{PROGRAM}: {} clients, {echoed} bytes echoed over TCP ({served} by the server) in {:.0?}",
        args.clients,
        started.elapsed()
    );

    // UDP: one datagram and its answer.
    let udp_server = UdpSocket::bind_on(&server, addr)
        .await
        .context("the server's UDP socket")?;
    let udp_client = UdpSocket::bind_on(&client, (CLIENT, 0))
        .await
        .context("the client's UDP socket")?;
    udp_client
        .send_to(b"ping", addr)
        .await
        .context("sending a datagram")?;
    let mut buf = [0u8; 64];
    let (n, from) = udp_server.recv_from(&mut buf).await.context("receiving")?;
    udp_server
        .send_to(&buf[..n], from)
        .await
        .context("answering")?;
    let (n, _) = udp_client
        .recv_from(&mut buf)
        .await
        .context("receiving the answer")?;
    println!(
        "{PROGRAM}: UDP {:?} answered by {addr}",
        String::from_utf8_lossy(&buf[..n])
    );
    Ok(())
}
