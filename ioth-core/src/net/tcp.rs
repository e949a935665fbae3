//! TCP: [`TcpListener`] and [`TcpStream`].

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::{ToSocketAddrs, each_addr, happy, socket_for, socket_wrapper, std_addr};
use crate::defaults::current_stack;
use crate::socket::Socket;
use crate::stack::Stack;

/// A TCP listening socket, like `std::net::TcpListener`.
///
/// ```
/// use std::io::{Read, Write};
/// use ioth::net::{TcpListener, TcpStream};
/// # fn main() -> std::io::Result<()> {
/// let stack = ioth::Stack::new("kernel", &[])?;
/// let listener = TcpListener::bind_on(&stack, "127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let clients = std::thread::spawn(move || -> std::io::Result<()> {
///     for word in [&b"one"[..], b"two"] {
///         TcpStream::connect(addr)?.write_all(word)?; // on the kernel, the fallback
///     }
///     Ok(())
/// });
/// let mut words = Vec::new();
/// for conn in listener.incoming().take(2) {
///     let mut text = String::new();
///     conn?.read_to_string(&mut text)?; // until the client closes
///     words.push(text);
/// }
/// assert_eq!(words, ["one", "two"]);
/// # clients.join().expect("the clients")?;
/// # Ok(())
/// # }
/// ```
pub struct TcpListener(Socket);

/// A TCP connection, like `std::net::TcpStream`.
///
/// Names are resolved over the stack the stream is opened on (its own resolver, here its
/// hosts table), never by the host's resolver:
///
/// ```
/// use std::io::Read;
/// use std::sync::Arc;
/// use std::time::Duration;
/// use ioth::dns::Hosts;
/// use ioth::net::{TcpListener, TcpStream};
/// # fn main() -> std::io::Result<()> {
/// let stack = ioth::Stack::new("kernel", &[])?;
/// stack.resolver().set_hosts(Arc::new(Hosts::parse("127.0.0.1 echo.lan\n")));
/// let listener = TcpListener::bind_on(&stack, "127.0.0.1:0")?;
/// let port = listener.local_addr()?.port();
///
/// let conn = TcpStream::connect_on(&stack, format!("echo.lan:{port}"))?;
/// conn.set_nodelay(true)?;
/// conn.set_read_timeout(Some(Duration::from_millis(10)))?;
/// let err = (&conn).read(&mut [0u8; 8]).expect_err("nothing sent yet");
/// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock); // SO_RCVTIMEO ran out
/// # Ok(())
/// # }
/// ```
pub struct TcpStream(Socket);

socket_wrapper!(TcpListener);
socket_wrapper!(TcpStream);

impl TcpListener {
    /// Binds on the current default stack, with `SO_REUSEADDR` as std does, and listens.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListener::bind_on(&current_stack()?, addr)
    }

    /// Binds on `stack` and listens (backlog 128).
    pub fn bind_on<A: ToSocketAddrs>(stack: &Stack, addr: A) -> io::Result<TcpListener> {
        each_addr(stack, addr, |addr| {
            let sock = socket_for(stack, addr, libc::SOCK_STREAM)?;
            sock.set_option(libc::SOL_SOCKET, libc::SO_REUSEADDR, 1 as libc::c_int)?;
            sock.bind(&(*addr).into())?;
            sock.listen(128)?;
            Ok(TcpListener(sock))
        })
    }

    /// Waits for a connection (unless nonblocking) and returns it with the peer's address.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (sock, addr) = self.0.accept4(libc::SOCK_CLOEXEC)?;
        Ok((TcpStream(sock), std_addr(&addr)?))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        std_addr(&self.0.local_addr()?)
    }

    /// Another handle on the same listener.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener(self.0.try_clone()?))
    }
}

/// Iterator over the connections a [`TcpListener`] accepts.
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl TcpStream {
    /// Connects on the current default stack.
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        TcpStream::connect_on(&current_stack()?, addr)
    }

    /// Connects on `stack`. A name is resolved over `stack`; when it gives several
    /// addresses they race as RFC 8305 says (IPv6 and IPv4 interleaved, a new attempt every
    /// 250 ms, the first to connect wins).
    pub fn connect_on<A: ToSocketAddrs>(stack: &Stack, addr: A) -> io::Result<TcpStream> {
        let addrs = addr.to_socket_addrs_on(stack)?;
        if let [one] = addrs.as_slice() {
            let sock = socket_for(stack, one, libc::SOCK_STREAM)?;
            sock.connect(&(*one).into())?;
            return Ok(TcpStream(sock));
        }
        Ok(TcpStream(happy::connect(stack, &addrs, None)?))
    }

    /// Connects on `stack` to what `addr` names (resolved over `stack`, addresses racing as
    /// in [`TcpStream::connect_on`]), giving up with `ETIMEDOUT` after `timeout`.
    pub fn connect_timeout_to<A: ToSocketAddrs>(
        stack: &Stack,
        addr: A,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        let addrs = addr.to_socket_addrs_on(stack)?;
        Ok(TcpStream(happy::connect(stack, &addrs, Some(timeout))?))
    }

    /// Connects on `stack`, giving up with `ETIMEDOUT` after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioth::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// let stack = ioth::Stack::new("kernel", &[])?;
    /// let listener = TcpListener::bind_on(&stack, "127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let conn = TcpStream::connect_timeout_on(&stack, &addr, Duration::from_secs(1))?;
    /// assert_eq!(conn.peer_addr()?, addr);
    /// drop(listener);
    /// // Nobody listens there any more: refused at once, well before the timeout.
    /// let err = TcpStream::connect_timeout_on(&stack, &addr, Duration::from_secs(1));
    /// assert_eq!(err.expect_err("refused").kind(), std::io::ErrorKind::ConnectionRefused);
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_timeout_on(
        stack: &Stack,
        addr: &SocketAddr,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        Ok(TcpStream(happy::connect(stack, &[*addr], Some(timeout))?))
    }

    /// Connects on the current default stack, giving up after `timeout`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        TcpStream::connect_timeout_on(&current_stack()?, addr, timeout)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        std_addr(&self.0.peer_addr()?)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        std_addr(&self.0.local_addr()?)
    }

    /// Shuts down one or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.shutdown(how)
    }

    /// Another handle on the same connection.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream(self.0.try_clone()?))
    }

    /// Reads without removing the data from the receive queue.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf, libc::MSG_PEEK)
    }

    /// Sets `TCP_NODELAY` (no Nagle coalescing).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.0.set_option(
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            libc::c_int::from(nodelay),
        )
    }

    /// `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self
            .0
            .option::<libc::c_int>(libc::IPPROTO_TCP, libc::TCP_NODELAY)?
            != 0)
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&self.0).read_vectored(bufs)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&self.0).read_vectored(bufs)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&self.0).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&self.0).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.0.as_raw_fd())
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.0.as_raw_fd())
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
