//! The relay's UDP sockets ("ports"): for each upstream server one current socket, replaced
//! by a fresh one (a new random source port) after [`ROTATE_AFTER`] queries, so that an
//! off-path attacker must guess the port as well as the 16-bit ID (RFC 5452 §9.2). A replaced
//! socket stays open until the queries sent on it are answered or expire.
//!
//! One socket per server also keeps servers apart on a user-space stack: a server whose
//! neighbour never answers holds up only its own socket's queue.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use ioth::Stack;
use ioth::net::UdpSocket;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// Queries sent on one socket before the next query gets a fresh one.
pub const ROTATE_AFTER: u32 = 64;

struct Port {
    sock: UdpSocket,
    /// Queries sent on it.
    sent: u32,
    /// Queries sent on it still waiting for an answer.
    waiting: u32,
}

/// The sockets, by mio token.
pub struct Ports {
    ports: HashMap<Token, Port>,
    /// The current socket of each server (by index), if it could be opened.
    current: Vec<Option<Token>>,
    next_token: usize,
}

impl Ports {
    /// No sockets yet; tokens from `first_token` up.
    pub fn new(first_token: usize) -> Ports {
        Ports {
            ports: HashMap::new(),
            current: Vec::new(),
            next_token: first_token,
        }
    }

    /// Closes every socket and gets ready for `servers` (after a reload changed them).
    pub fn reset(&mut self, registry: &Registry, servers: usize) {
        for (_, port) in self.ports.drain() {
            let fd = port.sock.as_raw_fd();
            let _ = registry.deregister(&mut SourceFd(&fd));
        }
        self.current = vec![None; servers];
    }

    fn open(
        &mut self,
        registry: &Registry,
        stack: &Stack,
        server: SocketAddr,
    ) -> io::Result<Token> {
        let any = if server.is_ipv4() {
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)
        } else {
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0)
        };
        let sock = UdpSocket::bind_on(stack, any)?;
        sock.set_nonblocking(true)?;
        let token = Token(self.next_token);
        let fd = sock.as_raw_fd();
        registry.register(&mut SourceFd(&fd), token, Interest::READABLE)?;
        self.next_token += 1;
        self.ports.insert(
            token,
            Port {
                sock,
                sent: 0,
                waiting: 0,
            },
        );
        Ok(token)
    }

    /// Sends `bytes` to server `index` at `to` on its current socket (a fresh one when the
    /// current one has carried [`ROTATE_AFTER`] queries): the socket's token.
    pub fn send(
        &mut self,
        registry: &Registry,
        stack: &Stack,
        index: usize,
        to: SocketAddr,
        bytes: &[u8],
    ) -> io::Result<Token> {
        let worn = self
            .current
            .get(index)
            .copied()
            .flatten()
            .filter(|t| self.ports.get(t).is_none_or(|p| p.sent >= ROTATE_AFTER));
        if let Some(old) = worn {
            self.current[index] = None;
            self.release(old, false);
        }
        let token = match self.current.get(index).copied().flatten() {
            Some(t) => t,
            None => {
                let t = self.open(registry, stack, to)?;
                if let Some(slot) = self.current.get_mut(index) {
                    *slot = Some(t);
                }
                t
            }
        };
        let port = self
            .ports
            .get_mut(&token)
            .ok_or_else(|| io::Error::other("forwarding socket vanished"))?;
        port.sock.send_to(bytes, to)?;
        port.sent += 1;
        port.waiting += 1;
        Ok(token)
    }

    /// The socket of `token`, if open.
    pub fn socket(&self, token: Token) -> Option<&UdpSocket> {
        self.ports.get(&token).map(|p| &p.sock)
    }

    /// A query sent on `token` is over (answered or given up).
    pub fn done(&mut self, token: Token) {
        self.release(token, true);
    }

    /// Counts a query off (`answered`) and closes a socket that is no longer current and
    /// has nothing left to wait for.
    fn release(&mut self, token: Token, answered: bool) {
        let Some(port) = self.ports.get_mut(&token) else {
            return;
        };
        if answered {
            port.waiting = port.waiting.saturating_sub(1);
        }
        let current = self.current.contains(&Some(token));
        if !current && port.waiting == 0 {
            self.ports.remove(&token);
        }
    }
}
