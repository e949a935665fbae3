//! The receiving and serving halves of the pair examples, shared so that a lone sender or
//! client on an embedded hub can run its peer on a thread of its own.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use ioth::net::{TcpListener, TcpStream, UdpSocket};

use crate::failure::{Context, Failure};
use crate::node::Node;
use crate::poll::{wait, wait_readable};

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

/// The listen backlog of the echo server: connections the stack completes before the server
/// accepts them (Linux caps it at `net.core.somaxconn`, 4096 by default).
pub const ECHO_BACKLOG: libc::c_int = 1024;
/// Bytes read from a connection at a time; also the most that may wait to be echoed on one
/// connection: while its peer does not take its echo, the connection is not read.
const ECHO_CHUNK: usize = 16 * 1024;
/// How long accepting pauses when the process is out of descriptors or memory.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// A TCP echo server on `port` of every address family of `node`. One thread serves every
/// connection: an event loop polls the listeners and the connections' descriptors.
pub struct EchoServer {
    listeners: Vec<TcpListener>,
    name: String,
    to_stderr: bool,
}

/// One connection of the echo server.
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes read but not yet echoed (at most [`ECHO_CHUNK`]): while there are any, the
    /// connection waits to be writable and is not read.
    pending: Vec<u8>,
    echoed: u64,
}

/// What became of a connection after it was served.
enum Outcome {
    Open,
    /// The peer closed it; everything it sent was echoed.
    Closed,
}

impl Conn {
    /// What to wait for: room to write while an echo is pending, else data (or EOF).
    fn interest(&self) -> libc::c_short {
        if self.pending.is_empty() {
            libc::POLLIN
        } else {
            libc::POLLOUT
        }
    }

    /// Serves the connection once its descriptor is ready: sends what is pending, or reads
    /// one chunk and echoes what the stream takes of it right away, keeping the rest.
    fn serve(&mut self, buf: &mut [u8]) -> io::Result<Outcome> {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let sent = self.send(&pending)?;
            self.pending = pending;
            self.pending.drain(..sent);
            return Ok(Outcome::Open);
        }
        match self.stream.read(buf) {
            Ok(0) => Ok(Outcome::Closed),
            Ok(n) => {
                let sent = self.send(&buf[..n])?;
                self.pending.extend_from_slice(&buf[sent..n]);
                Ok(Outcome::Open)
            }
            Err(e) if would_block(&e) => Ok(Outcome::Open),
            Err(e) => Err(e),
        }
    }

    /// Writes as much of `data` as the stream takes now; returns how much that was.
    fn send(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut sent = 0;
        while sent < data.len() {
            match self.stream.write(&data[sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    sent += n;
                    self.echoed += n as u64;
                }
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(sent)
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Accept errors after which the process may recover: out of descriptors or memory.
fn is_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl EchoServer {
    /// Listens on `port` on `node`'s stack for IPv4 (if it has an address) and IPv6, with a
    /// backlog of [`ECHO_BACKLOG`].
    pub fn listen(node: &Node, port: u16) -> Result<EchoServer, Failure> {
        let listeners = wildcards(node, port)
            .into_iter()
            .map(|a| {
                let what = format!("{}: listening on TCP {a}", node.name);
                let socket = node.stack.tcp_listen(a).context(&what)?.into_socket();
                socket.listen(ECHO_BACKLOG).context(&what)?;
                socket.set_nonblocking(true).context(&what)?;
                Ok(TcpListener::from(socket))
            })
            .collect::<Result<Vec<_>, Failure>>()?;
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

    fn say(&self, msg: &str) {
        if self.to_stderr {
            eprintln!("{msg}");
        } else {
            println!("{msg}");
        }
    }

    /// Accepts connections (all of them, or the first `max`) and echoes them all from this
    /// thread, printing when one opens and closes. With `max`, returns once those
    /// connections are done.
    pub fn serve(&self, max: Option<usize>) -> Result<(), Failure> {
        let mut conns: Vec<Conn> = Vec::new();
        let mut accepted = 0;
        let mut buf = vec![0u8; ECHO_CHUNK];
        let mut paused_until: Option<Instant> = None;
        loop {
            let accepting = max.is_none_or(|m| accepted < m);
            if !accepting && conns.is_empty() {
                return Ok(());
            }
            let now = Instant::now();
            let paused = paused_until.filter(|t| *t > now);
            let polling_listeners = accepting && paused.is_none();
            let mut interest = Vec::with_capacity(self.listeners.len() + conns.len());
            if polling_listeners {
                interest.extend(self.listeners.iter().map(|l| (l.as_raw_fd(), libc::POLLIN)));
            }
            let first_conn = interest.len();
            interest.extend(conns.iter().map(|c| (c.stream.as_raw_fd(), c.interest())));
            let timeout = paused
                .filter(|_| accepting)
                .map(|t| t.saturating_duration_since(now));
            let revents = wait(&interest, timeout).context("waiting for connections")?;

            // Serve the connections that are ready; drop the ones that are done.
            let mut k = 0;
            conns.retain_mut(|c| {
                let ready = revents[first_conn + k] != 0;
                k += 1;
                if !ready {
                    return true;
                }
                match c.serve(&mut buf) {
                    Ok(Outcome::Open) => true,
                    Ok(Outcome::Closed) => {
                        self.say(&format!(
                            "{}: {} closed after {} bytes echoed",
                            self.name, c.peer, c.echoed
                        ));
                        false
                    }
                    Err(e) => {
                        eprintln!("{}: {}: {e}", self.name, c.peer);
                        false
                    }
                }
            });

            // Accept every pending connection (up to `max`).
            if !polling_listeners {
                continue;
            }
            'listeners: for (listener, r) in self.listeners.iter().zip(&revents) {
                if *r == 0 {
                    continue;
                }
                while max.is_none_or(|m| accepted < m) {
                    match listener.accept() {
                        Ok((stream, peer)) => {
                            accepted += 1;
                            self.say(&format!("{}: connection from {peer}", self.name));
                            match stream.set_nonblocking(true) {
                                Ok(()) => conns.push(Conn {
                                    stream,
                                    peer,
                                    pending: Vec::new(),
                                    echoed: 0,
                                }),
                                Err(e) => eprintln!("{}: {peer}: {e}", self.name),
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::Interrupted
                                    | io::ErrorKind::ConnectionAborted
                                    | io::ErrorKind::ConnectionReset
                            ) => {}
                        Err(e) if is_exhaustion(&e) => {
                            log::warn!(
                                "{}: accepting a connection: {e}; pausing for {:?}",
                                self.name,
                                ACCEPT_PAUSE
                            );
                            paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                            break 'listeners;
                        }
                        Err(e) => {
                            return Err(Failure::runtime(format!(
                                "{}: accepting a connection: {e}",
                                self.name
                            )));
                        }
                    }
                }
            }
        }
    }
}
