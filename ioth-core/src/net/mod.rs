//! std-like networking types over ioth stacks: [`TcpListener`], [`TcpStream`], [`UdpSocket`].
//!
//! They mirror `std::net`: the same constructors (on the current default stack, see
//! [`crate::current_stack`]) plus `*_on` constructors and [`crate::Stack`] methods that name a
//! stack. Names given to them (`"example.test:80"`) are resolved over the stack they use
//! ([`ToSocketAddrs`]), never by the host's resolver. Each owns a real descriptor (`AsFd`, `AsRawFd`) that works with poll, epoll and mio
//! (`mio::unix::SourceFd`).
//!
//! A TCP echo over the kernel stack's loopback:
//!
//! ```
//! use std::io::{Read, Write};
//! use ioth::Stack;
//! use ioth::net::{TcpListener, TcpStream};
//! # fn main() -> std::io::Result<()> {
//! let stack = Stack::new("kernel", &[])?;
//! let listener = TcpListener::bind_on(&stack, "127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let echo = std::thread::spawn(move || -> std::io::Result<()> {
//!     let (mut conn, _peer) = listener.accept()?;
//!     let mut buf = [0u8; 5];
//!     conn.read_exact(&mut buf)?;
//!     conn.write_all(&buf)
//! });
//! let mut conn = TcpStream::connect_on(&stack, addr)?;
//! conn.write_all(b"hello")?;
//! let mut reply = [0u8; 5];
//! conn.read_exact(&mut reply)?;
//! assert_eq!(&reply, b"hello");
//! assert_eq!(conn.peer_addr()?, addr);
//! # echo.join().expect("the echo thread")?;
//! # Ok(())
//! # }
//! ```

mod addrs;
pub mod happy;
#[cfg(feature = "mio")]
mod mio_source;
mod tcp;
mod udp;

pub use addrs::ToSocketAddrs;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::io;
use std::net::SocketAddr;

use crate::backend::SockAddr;
use crate::error::errno;
use crate::socket::Socket;
use crate::stack::Stack;

/// The std address of a socket address; `EAFNOSUPPORT` when it is not IPv4 or IPv6.
pub(crate) fn std_addr(addr: &SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket().ok_or_else(|| errno(libc::EAFNOSUPPORT))
}

/// A socket of `ty` for the family of `addr`, on `stack`.
pub(crate) fn socket_for(stack: &Stack, addr: &SocketAddr, ty: libc::c_int) -> io::Result<Socket> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    stack.socket(domain, ty | libc::SOCK_CLOEXEC, 0)
}

/// Tries `f` on each address `addrs` gives (names resolved over `stack`), returning the first
/// success or the last error, as std does.
pub(crate) fn each_addr<A: ToSocketAddrs, T>(
    stack: &Stack,
    addrs: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in addrs.to_socket_addrs_on(stack)? {
        match f(&addr) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// Implements the descriptor traits and `socket()` accessors for a type wrapping `Socket`.
macro_rules! socket_wrapper {
    ($ty:ident) => {
        impl $ty {
            /// The underlying ioth socket, for options this type has no method for.
            pub fn socket(&self) -> &crate::Socket {
                &self.0
            }

            /// The stack this socket belongs to.
            pub fn stack(&self) -> &crate::Stack {
                self.0.stack()
            }

            /// Moves into or out of nonblocking mode (`EAGAIN` instead of waiting).
            pub fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
                self.0.set_nonblocking(nonblocking)
            }

            /// Sets `SO_RCVTIMEO`: a blocking receive gives up with `EAGAIN` after `timeout`
            /// (`None`: wait forever; zero is refused, as in std).
            pub fn set_read_timeout(
                &self,
                timeout: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.0.set_read_timeout(timeout)
            }

            /// Sets `SO_SNDTIMEO`, like `set_read_timeout`.
            pub fn set_write_timeout(
                &self,
                timeout: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.0.set_write_timeout(timeout)
            }

            /// `SO_RCVTIMEO` (`None`: receives wait forever).
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                self.0.read_timeout()
            }

            /// `SO_SNDTIMEO` (`None`: sends wait forever).
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                self.0.write_timeout()
            }

            /// Takes the pending socket error (`SO_ERROR`).
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.0.take_error()
            }

            /// Sets the IP time-to-live (`IP_TTL`, or `IPV6_UNICAST_HOPS` on IPv6).
            pub fn set_ttl(&self, ttl: u32) -> std::io::Result<()> {
                let ttl =
                    libc::c_int::try_from(ttl).map_err(|_| crate::error::errno(libc::EINVAL))?;
                match self.0.local_addr()?.as_socket() {
                    Some(std::net::SocketAddr::V6(_)) => {
                        self.0
                            .set_option(libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, ttl)
                    }
                    _ => self.0.set_option(libc::IPPROTO_IP, libc::IP_TTL, ttl),
                }
            }

            /// The IP time-to-live.
            pub fn ttl(&self) -> std::io::Result<u32> {
                let ttl: libc::c_int = match self.0.local_addr()?.as_socket() {
                    Some(std::net::SocketAddr::V6(_)) => {
                        self.0.option(libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS)?
                    }
                    _ => self.0.option(libc::IPPROTO_IP, libc::IP_TTL)?,
                };
                Ok(u32::try_from(ttl).unwrap_or(0))
            }

            /// Consumes the value, keeping the socket open: the caller owns the descriptor and
            /// closes it with [`crate::bsd::close`].
            pub fn into_socket(self) -> crate::Socket {
                self.0
            }
        }

        impl From<crate::Socket> for $ty {
            fn from(socket: crate::Socket) -> Self {
                $ty(socket)
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.0.as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.0.as_fd()
            }
        }

        impl std::os::fd::IntoRawFd for $ty {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                self.0.into_raw_fd()
            }
        }
    };
}
pub(crate) use socket_wrapper;

/// The `Stack` methods are the `*_on` constructors with the stack first:
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let stack = ioth::Stack::new("kernel", &[])?;
/// let udp = stack.udp_bind("127.0.0.1:0")?;
/// let listener = stack.tcp_listen("127.0.0.1:0")?;
/// let conn = stack.tcp_connect(listener.local_addr()?)?;
/// assert!(udp.stack().same_as(&stack) && conn.stack().same_as(&stack));
/// # Ok(())
/// # }
/// ```
impl Stack {
    /// Connects a TCP stream on this stack.
    pub fn tcp_connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<TcpStream> {
        TcpStream::connect_on(self, addr)
    }

    /// Binds a TCP listener on this stack.
    pub fn tcp_listen<A: ToSocketAddrs>(&self, addr: A) -> io::Result<TcpListener> {
        TcpListener::bind_on(self, addr)
    }

    /// Binds a UDP socket on this stack.
    pub fn udp_bind<A: ToSocketAddrs>(&self, addr: A) -> io::Result<UdpSocket> {
        UdpSocket::bind_on(self, addr)
    }
}
