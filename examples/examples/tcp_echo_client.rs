//! `tcp_echo_client`: a node at 10.0.0.1/24 that connects to 10.0.0.2:5000, sends what it
//! reads on stdin and writes what comes back to stdout, waiting on stdin and the socket at
//! once with poll(2) (ioth sockets are real descriptors).
//!
//! The other half of `tcp_echo_server`. To run the two as separate processes, give both the
//! same served hub: the first one started serves it at `PATH/ctl`, the second joins it.
//!
//! ```sh
//! cargo run --example tcp_echo_server -- hub:///tmp/ioth-demo   # serves the hub, listens
//! cargo run --example tcp_echo_client -- hub:///tmp/ioth-demo   # joins it; type lines
//! ```
//!
//! Both can also join a real switch: `vde_switch -d -s /tmp/sw`, then `vde:///tmp/sw` for each.
//! At end of input the client shuts its sending side and exits when the server has sent
//! everything back and closed. Without a VNL the client is on an embedded hub nobody else can
//! reach, so it starts an in-process echo server (its own stack, at the --to address).

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use ioth::net::TcpStream;
use ioth_examples::peers::EchoServer;
use ioth_examples::poll::wait;
use ioth_examples::{
    Attachment, CmdLine, Context, Destination, Failure, Ipv4Cidr, Node, attach, run,
};

const PROGRAM: &str = "tcp_echo_client";
const USAGE: &str = "\
usage: tcp_echo_client [OPTIONS] [VNL]

A network node with its own user-space TCP/IP stack that connects to a TCP echo server
(10.0.0.2:5000 by default, where tcp_echo_server listens), sends what it reads on stdin and
writes what comes back to stdout; stdin and the socket are polled at once. At end of input it
shuts its sending side and exits once the server has closed. Messages go to stderr.

arguments:
  VNL              the virtual network. hub:///PATH serves a hub at PATH/ctl, or joins it if
                   another process (e.g. tcp_echo_server hub:///PATH) already serves it;
                   vde:///PATH joins a vde_switch. Default: an embedded hub that only this
                   process can reach; then an in-process echo server (its own stack, with the
                   --to IPv4 address) answers.
options:
  --from ADDR/LEN  this node's IPv4 address (default 10.0.0.1/24)
  --to ADDR:PORT   the server, IPv4 or [IPv6] (default 10.0.0.2:5000)
  --timeout SECS   give up connecting after SECS (default 10)
  --name NAME      the name the IPv6 address and MAC are derived from (default tcp_echo_client)
  -h, --help       this text
Logging: RUST_LOG=debug (env_logger).";

fn main() -> ExitCode {
    run(PROGRAM, || {
        let mut cmd = CmdLine::from_env(USAGE);
        let from = cmd.value::<Ipv4Cidr>("--from")?.unwrap_or(Ipv4Cidr {
            addr: Ipv4Addr::new(10, 0, 0, 1),
            prefix: 24,
        });
        let to = cmd.value::<Destination>("--to")?.map_or(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 5000),
            |d| d.0,
        );
        if to.ip().is_multicast() || matches!(to.ip(), IpAddr::V4(v4) if v4.is_broadcast()) {
            return Err(Failure::usage(format!(
                "--to {to}: TCP connects to one host, not to a multicast or broadcast address"
            )));
        }
        let timeout = cmd.value::<u64>("--timeout")?.unwrap_or(10);
        if timeout == 0 {
            return Err(Failure::usage("--timeout 0: must be at least 1 second"));
        }
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
        let node = Node::new(&vnl, &name, Some((from.addr, from.prefix)))?;
        eprintln!(
            "{name}: {} and {} ({})",
            from,
            node.ipv6,
            how.describe(&vnl)
        );
        let server = if how.is_shared() {
            None
        } else {
            Some(start_demo_server(&vnl, to, from.prefix)?)
        };
        let stream = TcpStream::connect_timeout_on(&node.stack, &to, Duration::from_secs(timeout))
            .context(format_args!("connecting to {to}"))?;
        eprintln!("{name}: connected to {to}; type lines, end with Ctrl-D");
        relay(stream).context(format_args!("talking to {to}"))?;
        eprintln!("{name}: {to} closed the connection");
        if let Some(server) = server {
            let server_node = server
                .join()
                .map_err(|_| Failure::runtime("the in-process server panicked"))??;
            drop(server_node);
        }
        Ok(())
    })
}

/// Copies stdin to the stream and the stream to stdout, polling both at once, until the
/// server closes. The stream is non-blocking: what the stream cannot take yet waits in
/// `pending` (and stdin is not read meanwhile), so a server that echoes faster than we read
/// can never block us both. At end of input, once everything is sent, the sending side is
/// shut down.
fn relay(mut stream: TcpStream) -> io::Result<()> {
    // A duplicate of descriptor 0, read without std's buffer so poll tells the truth.
    let mut input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    // Not locked for the whole relay: the in-process demo server prints too.
    let stdout = io::stdout();
    stream.set_nonblocking(true)?;
    let mut buf = [0u8; 4096];
    let mut pending: Vec<u8> = Vec::new();
    let mut input_open = true;
    let mut shut = false;
    loop {
        let mut interest = vec![(
            stream.as_raw_fd(),
            if pending.is_empty() {
                libc::POLLIN
            } else {
                libc::POLLIN | libc::POLLOUT
            },
        )];
        if input_open && pending.is_empty() {
            interest.push((input.as_raw_fd(), libc::POLLIN));
        }
        let revents = wait(&interest, None)?;
        if revents[0] & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            match stream.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    let mut out = stdout.lock();
                    out.write_all(&buf[..n])?;
                    out.flush()?;
                }
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
        }
        if !pending.is_empty() && revents[0] & (libc::POLLOUT | libc::POLLERR) != 0 {
            match stream.write(&pending) {
                Ok(n) => {
                    pending.drain(..n);
                }
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
        }
        if revents.get(1).is_some_and(|r| *r != 0) {
            match input.read(&mut buf) {
                Ok(0) => input_open = false,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if !input_open && pending.is_empty() && !shut {
            stream.shutdown(Shutdown::Write)?;
            shut = true;
        }
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Starts the in-process echo server of the embedded-hub demo at `to`, serving one
/// connection; it listens when this returns. The thread returns the server's node, so that
/// its stack lives until the client has everything.
fn start_demo_server(
    vnl: &str,
    to: SocketAddr,
    prefix: u8,
) -> Result<thread::JoinHandle<Result<Node, Failure>>, Failure> {
    let IpAddr::V4(v4) = to.ip() else {
        return Err(Failure::usage(format!(
            "--to {to}: on the embedded hub the in-process server has an IPv4 address only; \
             give an IPv4 destination or a VNL shared with a tcp_echo_server"
        )));
    };
    eprintln!(
        "{PROGRAM}: nobody else can reach an embedded hub: starting an in-process echo server \
         at {to}; give a VNL such as hub:///tmp/ioth-demo to reach another process"
    );
    let node = Node::new(vnl, "tcp_echo_server", Some((v4, prefix)))?;
    let server = EchoServer::listen(&node, to.port())?.messages_on_stderr();
    thread::Builder::new()
        .name("tcp_echo_server".into())
        .spawn(move || {
            server.serve(Some(1))?;
            Ok(node)
        })
        .context("starting the in-process server")
}
