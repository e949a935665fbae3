//! The receiving and serving halves of the pair examples, shared so that a lone sender or
//! client on an embedded hub can run its peer on a thread of its own.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::thread;

use ioth::net::{TcpListener, TcpStream, UdpSocket};

use crate::failure::{Context, Failure};
use crate::node::Node;
use crate::poll::wait_readable;

/// The wildcard addresses of the families `node` has (IPv4 only if it has an IPv4 address).
fn wildcards(node: &Node, port: u16) -> Vec<SocketAddr> {
    let mut v = Vec::new();
    if node.ipv4.is_some() {
        v.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    v.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
    v
}

/// UDP sockets on `port` of every address family of `node`, ready to receive.
pub struct UdpReceiver {
    socks: Vec<UdpSocket>,
}

impl UdpReceiver {
    /// Binds `port` on `node`'s stack for IPv4 (if it has an address) and IPv6.
    pub fn bind(node: &Node, port: u16) -> Result<UdpReceiver, Failure> {
        let socks = wildcards(node, port)
            .into_iter()
            .map(|a| {
                node.stack
                    .udp_bind(a)
                    .context(format_args!("{}: binding UDP {a}", node.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(UdpReceiver { socks })
    }

    /// Waits for the next datagram on any of the sockets: its bytes and its sender.
    pub fn recv(&self) -> io::Result<(Vec<u8>, SocketAddr)> {
        let fds: Vec<_> = self.socks.iter().map(AsRawFd::as_raw_fd).collect();
        loop {
            let ready = wait_readable(&fds, None)?;
            for (sock, ready) in self.socks.iter().zip(ready) {
                if ready {
                    let mut buf = vec![0u8; 65_536];
                    let (n, from) = sock.recv_from(&mut buf)?;
                    buf.truncate(n);
                    return Ok((buf, from));
                }
            }
        }
    }
}

/// How a received payload is printed: as text with one trailing newline dropped, with
/// unprintable characters escaped.
pub fn printable(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// A TCP echo server on `port` of every address family of `node`: a thread per connection.
pub struct EchoServer {
    listeners: Vec<TcpListener>,
    name: String,
    to_stderr: bool,
}

impl EchoServer {
    /// Listens on `port` on `node`'s stack for IPv4 (if it has an address) and IPv6.
    pub fn listen(node: &Node, port: u16) -> Result<EchoServer, Failure> {
        let listeners = wildcards(node, port)
            .into_iter()
            .map(|a| {
                node.stack
                    .tcp_listen(a)
                    .context(format_args!("{}: listening on TCP {a}", node.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EchoServer {
            listeners,
            name: node.name.clone(),
            to_stderr: false,
        })
    }

    /// Prints connection messages on stderr instead of stdout (for a program whose stdout
    /// carries data).
    pub fn messages_on_stderr(mut self) -> EchoServer {
        self.to_stderr = true;
        self
    }

    /// Accepts connections (all of them, or the first `max`) and echoes each on a thread of
    /// its own, printing when one opens and closes. With `max`, returns once those
    /// connections are done.
    pub fn serve(&self, max: Option<usize>) -> Result<(), Failure> {
        let fds: Vec<_> = self.listeners.iter().map(AsRawFd::as_raw_fd).collect();
        let mut handles = Vec::new();
        let mut accepted = 0;
        while max.is_none_or(|m| accepted < m) {
            let ready = wait_readable(&fds, None).context("waiting for connections")?;
            for (listener, ready) in self.listeners.iter().zip(ready) {
                if !ready || max.is_some_and(|m| accepted >= m) {
                    continue;
                }
                let (stream, peer) = listener.accept().context("accepting a connection")?;
                accepted += 1;
                let to_stderr = self.to_stderr;
                let say = move |msg: String| {
                    if to_stderr {
                        eprintln!("{msg}");
                    } else {
                        println!("{msg}");
                    }
                };
                say(format!("{}: connection from {peer}", self.name));
                let name = self.name.clone();
                let h = thread::Builder::new()
                    .name(format!("echo {peer}"))
                    .spawn(move || match echo(stream) {
                        Ok(n) => say(format!("{name}: {peer} closed after {n} bytes echoed")),
                        Err(e) => eprintln!("{name}: {peer}: {e}"),
                    })
                    .context("starting a connection thread")?;
                handles.push(h);
            }
            // Reap the threads of connections that are done.
            handles.retain(|h| !h.is_finished());
        }
        for h in handles {
            h.join()
                .map_err(|_| Failure::runtime("a connection thread panicked"))?;
        }
        Ok(())
    }
}

/// Echoes a connection until the peer closes it; returns the bytes echoed.
pub fn echo(mut stream: TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                stream.write_all(&buf[..n])?;
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
