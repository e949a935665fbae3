//! `mio::event::Source` for the std-like types (feature `mio`).
//!
//! Each type registers its own descriptor ([`mio::unix::SourceFd`] over `as_raw_fd`), the
//! descriptor its stack keeps readable, writable and hung up exactly when the matching call
//! would not block: a kernel socket, or a user-space stack's readiness descriptor. mio
//! registers edge-triggered, so a reader reads until `WouldBlock` before it polls again, as
//! with any mio source.
//!
//! ```
//! use std::time::Duration;
//! use mio::{Events, Interest, Poll, Token};
//! use ioth::net::UdpSocket;
//! # fn main() -> std::io::Result<()> {
//! let stack = ioth::Stack::new("kernel", &[])?;
//! let mut server = UdpSocket::bind_on(&stack, "127.0.0.1:0")?;
//! server.set_nonblocking(true)?;
//! let mut poll = Poll::new()?;
//! poll.registry().register(&mut server, Token(0), Interest::READABLE)?;
//!
//! let client = UdpSocket::bind_on(&stack, "127.0.0.1:0")?;
//! client.send_to(b"ping", server.local_addr()?)?;
//! let mut events = Events::with_capacity(4);
//! poll.poll(&mut events, Some(Duration::from_secs(5)))?;
//! assert!(events.iter().any(|e| e.token() == Token(0) && e.is_readable()));
//! let mut buf = [0u8; 8];
//! assert_eq!(server.recv_from(&mut buf)?, (4, client.local_addr()?));
//! poll.registry().deregister(&mut server)?;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::os::fd::AsRawFd;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::{TcpListener, TcpStream, UdpSocket};

macro_rules! fd_source {
    ($ty:ident, $what:literal) => {
        #[doc = concat!("Registers ", $what, "'s descriptor with a mio [`Registry`]")]
        /// through [`SourceFd`]: mio reports it ready when the matching call would not
        /// block. The socket stays in whatever blocking mode it is in: set it nonblocking
        /// (`set_nonblocking(true)`) before driving it from a mio loop. Registering it
        /// with two registries at once, or after the socket is closed, fails as epoll
        /// does (`EEXIST`, `EBADF`).
        impl mio::event::Source for $ty {
            fn register(
                &mut self,
                registry: &Registry,
                token: Token,
                interests: Interest,
            ) -> io::Result<()> {
                SourceFd(&self.as_raw_fd()).register(registry, token, interests)
            }

            fn reregister(
                &mut self,
                registry: &Registry,
                token: Token,
                interests: Interest,
            ) -> io::Result<()> {
                SourceFd(&self.as_raw_fd()).reregister(registry, token, interests)
            }

            fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
                SourceFd(&self.as_raw_fd()).deregister(registry)
            }
        }
    };
}

fd_source!(TcpListener, "a listener");
fd_source!(TcpStream, "a TCP stream");
fd_source!(UdpSocket, "a UDP socket");
