//! UDP for tokio: [`UdpSocket`].

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll, ready};

use ::tokio::io::Interest;
use ::tokio::io::unix::AsyncFd;

use super::register;
use crate::defaults::current_stack;
use crate::net::{self, ToSocketAddrs};
use crate::stack::Stack;

/// A UDP socket for tokio, like `tokio::net::UdpSocket`, on any ioth stack.
///
/// Every method takes `&self`, so one socket may be shared (in an `Arc`) by a task that
/// sends and a task that receives. It must be made and used inside a tokio runtime with IO
/// enabled (see [the module](super)).
///
/// ```
/// use ioth::tokio::UdpSocket;
/// # fn main() -> std::io::Result<()> {
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
/// # rt.block_on(async {
/// let stack = ioth::Stack::new("kernel", &[])?;
/// let a = UdpSocket::bind_on(&stack, "127.0.0.1:0").await?;
/// let b = UdpSocket::bind_on(&stack, "127.0.0.1:0").await?;
/// a.send_to(b"ping", b.local_addr()?).await?;
/// let mut buf = [0u8; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # Ok::<(), std::io::Error>(())
/// # })
/// # }
/// ```
pub struct UdpSocket {
    io: AsyncFd<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds on the current default stack ([`crate::current_stack`]); see
    /// [`UdpSocket::bind_on`].
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        UdpSocket::bind_on(&current_stack()?, addr).await
    }

    /// Binds on `stack` as [`net::UdpSocket::bind_on`] does (each address a name gives is
    /// tried in turn) and registers the socket with the current runtime. Fails with the
    /// bind's error (`EADDRINUSE`, `EADDRNOTAVAIL`...) or when there is no runtime.
    pub async fn bind_on<A: ToSocketAddrs>(stack: &Stack, addr: A) -> io::Result<UdpSocket> {
        let addrs = super::resolve(stack, addr).await?;
        UdpSocket::from_std(net::UdpSocket::bind_on(stack, addrs)?)
    }

    /// Takes a [`net::UdpSocket`], sets it nonblocking and registers it with the current
    /// runtime. Fails when there is no runtime (the socket is then closed).
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: register(socket)?,
        })
    }

    /// Deregisters the socket from the runtime and hands it back, still nonblocking (as
    /// tokio's `into_std`).
    pub fn into_std(self) -> io::Result<net::UdpSocket> {
        Ok(self.io.into_inner())
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address (`ENOTCONN` when not connected).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The stack the socket is on.
    pub fn stack(&self) -> &Stack {
        self.io.get_ref().stack()
    }

    /// The std-like socket inside, for options this type has no method for (broadcast,
    /// multicast, TTL). Sending or receiving through it bypasses the readiness tokio
    /// tracks: use the methods of this type.
    pub fn get_ref(&self) -> &net::UdpSocket {
        self.io.get_ref()
    }

    /// Sets the default destination of [`UdpSocket::send`] and keeps only that peer's
    /// datagrams for [`UdpSocket::recv`] (UDP's connect sends nothing; it returns at once).
    /// A name is resolved over the socket's stack (see [the module](super)).
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let addrs = super::resolve(self.stack(), addr).await?;
        self.io.get_ref().connect(addrs)
    }

    /// Sends one datagram to `target`, waiting while the socket cannot take it; returns the
    /// bytes sent (all of `buf`, or an error such as `EMSGSIZE`). A name is resolved once,
    /// over the socket's stack, before waiting.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: if it is dropped before it completes, the datagram was
    /// not sent.
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let addrs = super::resolve(self.stack(), target).await?;
        self.io
            .async_io(Interest::WRITABLE, |s| s.send_to(buf, &addrs))
            .await
    }

    /// Receives one datagram into `buf` and its sender, waiting until one comes; a datagram
    /// longer than `buf` is cut to it.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: if it is dropped before it completes (in a
    /// `tokio::select!` whose other branch won), no datagram was taken from the socket.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Interest::READABLE, |s| s.recv_from(buf))
            .await
    }

    /// Sends one datagram to the connected peer (`EDESTADDRREQ` when not connected).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: if it is dropped before it completes, the datagram was
    /// not sent.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.async_io(Interest::WRITABLE, |s| s.send(buf)).await
    }

    /// Receives one datagram from the connected peer into `buf`.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: if it is dropped before it completes, no datagram was
    /// taken from the socket.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(Interest::READABLE, |s| s.recv(buf)).await
    }

    /// Polls for a datagram into `buf` (filled part advanced by its length), returning its
    /// sender; `Poll::Pending` with `cx`'s waker registered while none is there. Only the
    /// waker of the latest call is woken.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ::tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        loop {
            let mut guard = ready!(self.io.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|io| io.get_ref().recv_from(unfilled)) {
                Ok(Ok((n, from))) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(from));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }

    /// Waits until a datagram (or an error) is there to receive. The readiness may be
    /// spurious: a following [`UdpSocket::try_recv_from`] may still give `WouldBlock`.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe.
    pub async fn readable(&self) -> io::Result<()> {
        self.io.readable().await.map(|mut g| g.retain_ready())
    }

    /// Waits until a datagram can be sent. As [`UdpSocket::readable`], it may be spurious.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe.
    pub async fn writable(&self) -> io::Result<()> {
        self.io.writable().await.map(|mut g| g.retain_ready())
    }

    /// Receives a datagram if one is there now, else `WouldBlock` (readiness is then
    /// cleared: wait with [`UdpSocket::readable`]).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Interest::READABLE, |s| s.recv_from(buf))
    }

    /// Sends a datagram to `target` if the socket takes it now, else `WouldBlock`
    /// (readiness is then cleared: wait with [`UdpSocket::writable`]).
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io
            .try_io(Interest::WRITABLE, |s| s.send_to(buf, target))
    }

    /// Receives a datagram from the connected peer if one is there now, else `WouldBlock`.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Interest::READABLE, |s| s.recv(buf))
    }

    /// Sends a datagram to the connected peer if the socket takes it now, else `WouldBlock`.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_io(Interest::WRITABLE, |s| s.send(buf))
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("tokio::UdpSocket")
            .field(self.io.get_ref())
            .finish()
    }
}

impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(self.io.get_ref())
    }
}
