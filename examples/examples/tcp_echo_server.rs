//! `tcp_echo_server`: a node at 10.0.0.2/24 that echoes every TCP connection on port 5000,
//! serving them all from one thread with an event loop (poll(2) over the connections'
//! descriptors: ioth sockets are real descriptors).
//!
//! The other half of `tcp_echo_client`. To run the two as separate processes, give both the
//! same served hub: the first one started serves it at `PATH/ctl`, the second joins it.
//!
//! ```sh
//! cargo run --example tcp_echo_server -- hub:///tmp/ioth-demo   # serves the hub, listens
//! cargo run --example tcp_echo_client -- hub:///tmp/ioth-demo   # joins it; type lines
//! ```
//!
//! Both can also join a real switch: `vde_switch -d -s /tmp/sw`, then `vde:///tmp/sw` for each.
//! Without a VNL the server is on an embedded hub nobody else can reach, so it starts an
//! in-process client thread that sends one line, prints the echo, and the server exits.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use ioth::net::TcpStream;
use ioth_examples::peers::{EchoServer, printable};
use ioth_examples::{
    Attachment, CmdLine, Context, Failure, Ipv4Cidr, Node, Port, at_least_one, attach, run,
};

const PROGRAM: &str = "tcp_echo_server";
const USAGE: &str = "\
usage: tcp_echo_server [OPTIONS] [VNL]

A network node with its own user-space TCP/IP stack that sends back whatever each TCP
connection sends, over IPv4 and IPv6. One thread serves every connection (an event loop over
their descriptors); a peer that does not read its echo is not read from either. Its IPv6
address and MAC are derived from its name by the IoTh hash (base fc00:0:0:1::).

arguments:
  VNL                the virtual network. hub:///PATH serves a hub at PATH/ctl, or joins it
                     if another process (e.g. tcp_echo_client hub:///PATH) already serves it;
                     vde:///PATH joins a vde_switch. Default: an embedded hub that only this
                     process can reach; then an in-process client thread (10.0.0.1) sends one
                     line and prints the echo, and the server exits after that connection.
options:
  --ip ADDR/LEN      this node's IPv4 address (default 10.0.0.2/24)
  --port PORT        the TCP port, 1..=65535 (default 5000)
  --connections N    exit once N connections are done (default: never; 1 on the embedded hub)
  --linger MS        before exiting, keep the stack this long so the last echoes and the
                     closing segments reach the peer: the stack lives in this process
                     (default 500)
  --name NAME        the name the IPv6 address and MAC are derived from (default tcp_echo_server)
  -h, --help         this text
Logging: RUST_LOG=debug (env_logger).";

fn main() -> ExitCode {
    run(PROGRAM, || {
        let mut cmd = CmdLine::from_env(USAGE);
        let ip = cmd.value::<Ipv4Cidr>("--ip")?.unwrap_or(Ipv4Cidr {
            addr: Ipv4Addr::new(10, 0, 0, 2),
            prefix: 24,
        });
        let port = cmd.value::<Port>("--port")?.map_or(5000, |p| p.0);
        let connections = at_least_one("--connections", cmd.value::<usize>("--connections")?)?;
        let linger = Duration::from_millis(cmd.value::<u64>("--linger")?.unwrap_or(500));
        let name = cmd
            .value::<String>("--name")?
            .unwrap_or_else(|| PROGRAM.into());
        let positional = cmd.finish(1)?;
        let (vnl, how) = match positional.first() {
            Some(v) => (v.clone(), attach(v)?),
            None => (
                format!("hub://@ioth-tcp-{}", std::process::id()),
                Attachment::Embedded,
            ),
        };
        let node = Node::new(&vnl, &name, Some((ip.addr, ip.prefix)))?;
        let server = EchoServer::listen(&node, port)?;
        println!(
            "{name}: {} and {}: listening on TCP port {port} ({})",
            ip,
            node.ipv6,
            how.describe(&vnl)
        );
        if how.is_shared() {
            server.serve(connections)?;
            // The connections are closed, but their last segments may still be waiting in
            // this process's stack (for a window, a retransmission, the final ACK).
            thread::sleep(linger);
            return Ok(());
        }
        println!(
            "{name}: nobody else can reach an embedded hub: starting an in-process client \
             (10.0.0.1); give a VNL such as hub:///tmp/ioth-demo to serve other processes"
        );
        let to = SocketAddr::new(IpAddr::V4(ip.addr), port);
        let client = thread::Builder::new()
            .name("tcp_echo_client".into())
            .spawn(move || demo_client(&vnl, to, ip.prefix))
            .context("starting the in-process client")?;
        server.serve(Some(connections.unwrap_or(1)))?;
        let client_node = client
            .join()
            .map_err(|_| Failure::runtime("the in-process client panicked"))??;
        drop(client_node);
        Ok(())
    })
}

/// The in-process client of the embedded-hub demo: one line, its echo, then close. Returns
/// its node, so that its stack outlives the connection's closing segments.
fn demo_client(vnl: &str, to: SocketAddr, prefix: u8) -> Result<Node, Failure> {
    let node = Node::new(
        vnl,
        "tcp_echo_client",
        Some((Ipv4Addr::new(10, 0, 0, 1), prefix)),
    )?;
    let what = format!("in-process client to {to}");
    let mut stream =
        TcpStream::connect_timeout_on(&node.stack, &to, Duration::from_secs(10)).context(&what)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .context(&what)?;
    let line = b"ciao\n";
    stream.write_all(line).context(&what)?;
    let mut echo = [0u8; 5];
    stream.read_exact(&mut echo).context(&what)?;
    println!("tcp_echo_client (in-process): echoed: {}", printable(&echo));
    drop(stream);
    Ok(node)
}
