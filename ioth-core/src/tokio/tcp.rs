//! TCP for tokio: [`TcpListener`], [`TcpStream`] and its owned halves.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{in_progress, register};
use crate::defaults::current_stack;
use crate::net::{self, ToSocketAddrs, socket_for};
use crate::stack::Stack;

/// A TCP listener for tokio, like `tokio::net::TcpListener`, on any ioth stack.
///
/// Made by [`TcpListener::bind_on`] (or [`TcpListener::bind`] on the current default stack)
/// or from a listening [`net::TcpListener`] with [`TcpListener::from_std`]; it must be made
/// and used inside a tokio runtime with IO enabled (see [the module](super)).
pub struct TcpListener {
    io: AsyncFd<net::TcpListener>,
}

/// A TCP connection for tokio, like `tokio::net::TcpStream`, on any ioth stack.
///
/// It implements [`AsyncRead`] and [`AsyncWrite`] (`poll_shutdown` shuts down the write
/// direction, so the peer reads end of file); the data is the connection's, unbuffered here.
/// It must be made and used inside a tokio runtime with IO enabled (see [the module](super)).
pub struct TcpStream {
    io: AsyncFd<net::TcpStream>,
}

impl TcpListener {
    /// Binds a listener on the current default stack ([`crate::current_stack`]); see
    /// [`TcpListener::bind_on`].
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListener::bind_on(&current_stack()?, addr).await
    }

    /// Binds a listener on `stack` as [`net::TcpListener::bind_on`] does (`SO_REUSEADDR`,
    /// backlog 128; each address a name gives is tried in turn, the first that binds wins),
    /// and registers it with the current runtime. Fails with the bind's error
    /// (`EADDRINUSE`, `EADDRNOTAVAIL`...) or when there is no runtime.
    pub async fn bind_on<A: ToSocketAddrs>(stack: &Stack, addr: A) -> io::Result<TcpListener> {
        let addrs = super::resolve(stack, addr).await?;
        TcpListener::from_std(net::TcpListener::bind_on(stack, addrs)?)
    }

    /// Takes a listening [`net::TcpListener`], sets it nonblocking and registers it with the
    /// current runtime. Fails when there is no runtime (the listener is then closed).
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: register(listener)?,
        })
    }

    /// Deregisters the listener from the runtime and hands it back, still nonblocking (as
    /// tokio's `into_std`): call `set_nonblocking(false)` for blocking accepts.
    pub fn into_std(self) -> io::Result<net::TcpListener> {
        Ok(self.io.into_inner())
    }

    /// Waits for a connection and returns it, registered with the current runtime, with the
    /// peer's address. Errors of the accept itself (`ECONNABORTED`, `EMFILE`...) are
    /// returned as they come; the listener goes on working after them.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: a connection is taken from the backlog only in the poll
    /// that returns it, so if `accept` is used in a `tokio::select!` and another branch
    /// completes first, no connection is lost; it stays in the backlog for the next call.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection: `Poll::Pending` (with `cx`'s waker registered) while the
    /// backlog is empty, else the connection and its peer's address, as
    /// [`TcpListener::accept`]. Only the waker of the latest call is woken.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        loop {
            let mut guard = ready!(self.io.poll_read_ready(cx))?;
            match guard.try_io(|io| io.get_ref().accept()) {
                Ok(Ok((conn, peer))) => {
                    return Poll::Ready(TcpStream::from_std(conn).map(|c| (c, peer)));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // WouldBlock: readiness cleared, wait for the next connection.
                Err(_would_block) => continue,
            }
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The stack the listener is on.
    pub fn stack(&self) -> &Stack {
        self.io.get_ref().stack()
    }

    /// The std-like listener inside, for options this type has no method for. Accepting
    /// through it bypasses the readiness tokio tracks: use [`TcpListener::accept`].
    pub fn get_ref(&self) -> &net::TcpListener {
        self.io.get_ref()
    }
}

impl TcpStream {
    /// Connects on the current default stack ([`crate::current_stack`]); see
    /// [`TcpStream::connect_on`].
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        TcpStream::connect_on(&current_stack()?, addr).await
    }

    /// Connects on `stack` without blocking the runtime: the connect is started on a
    /// nonblocking socket, then this waits until the socket is writable and reads the
    /// connect's outcome (`SO_ERROR`). A refused connection fails with
    /// `ConnectionRefused` (`ECONNREFUSED`), a handshake that times out with `TimedOut`,
    /// as the stack reports them. A name is resolved over `stack` first (on the calling
    /// thread, see [the module](super)) and its addresses are tried one after the other;
    /// the last error is returned when none connects.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes closes the socket of the attempt in
    /// progress (the connection is abandoned, as with `tokio::net::TcpStream::connect`).
    pub async fn connect_on<A: ToSocketAddrs>(stack: &Stack, addr: A) -> io::Result<TcpStream> {
        let addrs = super::resolve(stack, addr).await?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_addr(stack, addr).await {
                Ok(conn) => return Ok(conn),
                Err(e) => {
                    log::debug!("tokio connect to {addr} on {stack:?}: {e}");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "could not resolve to any addresses",
            )
        }))
    }

    /// One nonblocking connect to `addr`, awaited.
    async fn connect_addr(stack: &Stack, addr: SocketAddr) -> io::Result<TcpStream> {
        let sock = socket_for(stack, &addr, libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
        sock.connect(&addr.into()).or_else(in_progress)?;
        let conn = TcpStream::from_std(net::TcpStream::from(sock))?;
        loop {
            let mut guard = conn.io.writable().await?;
            if let Some(e) = conn.io.get_ref().take_error()? {
                return Err(e);
            }
            match conn.io.get_ref().peer_addr() {
                Ok(_) => return Ok(conn),
                // Writable but not connected yet (a readiness change the connect did not
                // make): wait for the next one, unless the socket is hung up for good.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOTCONN) | Some(libc::EINPROGRESS)
                    ) && !guard.ready().is_write_closed() =>
                {
                    guard.clear_ready();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes a connected [`net::TcpStream`], sets it nonblocking and registers it with the
    /// current runtime. Fails when there is no runtime (the stream is then closed).
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: register(stream)?,
        })
    }

    /// Deregisters the stream from the runtime and hands it back, still nonblocking (as
    /// tokio's `into_std`): call `set_nonblocking(false)` for blocking calls.
    pub fn into_std(self) -> io::Result<net::TcpStream> {
        Ok(self.io.into_inner())
    }

    /// The peer's address (`ENOTCONN` once the connection is gone).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY` (segments go out at once, no Nagle coalescing).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// The stack the stream is on.
    pub fn stack(&self) -> &Stack {
        self.io.get_ref().stack()
    }

    /// The std-like stream inside, for options this type has no method for. Reading or
    /// writing through it bypasses the readiness tokio tracks: use the methods of this type.
    pub fn get_ref(&self) -> &net::TcpStream {
        self.io.get_ref()
    }

    /// Waits until the stream is readable: data, end of file or an error is there for the
    /// next read. The readiness may be spurious: a following [`TcpStream::try_read`] may
    /// still give `WouldBlock` (and then waiting again is right).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: once it has returned readiness, nothing is consumed, and
    /// dropping it before then loses nothing.
    pub async fn readable(&self) -> io::Result<()> {
        self.io.readable().await.map(|mut g| g.retain_ready())
    }

    /// Waits until the stream is writable (room in the send buffer, or an error to report).
    /// As [`TcpStream::readable`], it may be spurious.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe.
    pub async fn writable(&self) -> io::Result<()> {
        self.io.writable().await.map(|mut g| g.retain_ready())
    }

    /// Reads what is there now into `buf`: the bytes read (0 at end of file), or
    /// `WouldBlock` when nothing is (then readiness is cleared: wait with
    /// [`TcpStream::readable`]).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .try_io(::tokio::io::Interest::READABLE, |mut s| s.read(buf))
    }

    /// Writes what fits now from `buf`: the bytes written, or `WouldBlock` when nothing fits
    /// (then readiness is cleared: wait with [`TcpStream::writable`]).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .try_io(::tokio::io::Interest::WRITABLE, |mut s| s.write(buf))
    }

    /// Splits the stream into a read half and a write half that may move to different
    /// tasks. Dropping the write half shuts down the write direction (as tokio's halves do);
    /// the connection closes when both are dropped.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let inner = Arc::new(self);
        (
            OwnedReadHalf {
                inner: inner.clone(),
            },
            OwnedWriteHalf {
                inner,
                shutdown_on_drop: true,
            },
        )
    }

    fn poll_read_inner(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.io.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|io| io.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_write_inner(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.io.poll_write_ready(cx))?;
            match guard.try_io(|io| io.get_ref().write(buf)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_write_vectored_inner(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.io.poll_write_ready(cx))?;
            match guard.try_io(|io| io.get_ref().write_vectored(bufs)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn shutdown_write(&self) -> io::Result<()> {
        self.io.get_ref().shutdown(Shutdown::Write)
    }
}

/// Reads what the connection has, waiting (without blocking the thread) while it has
/// nothing. Cancel safe: a read that returned `Pending` consumed nothing.
impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        (*self).poll_read_inner(cx, buf)
    }
}

/// Writes into the connection's send buffer, waiting while it is full; `poll_flush` has
/// nothing to do (nothing is buffered here); `poll_shutdown` shuts down the write
/// direction (`shutdown(Write)`: the peer reads end of file once the data before it).
impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        (*self).poll_write_inner(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        (*self).poll_write_vectored_inner(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready((*self).shutdown_write())
    }
}

/// The read half of a [`TcpStream`] from [`TcpStream::into_split`]: [`AsyncRead`] on the
/// connection.
pub struct OwnedReadHalf {
    inner: Arc<TcpStream>,
}

/// The write half of a [`TcpStream`] from [`TcpStream::into_split`]: [`AsyncWrite`] on the
/// connection. Dropping it (or `poll_shutdown`) shuts down the write direction.
pub struct OwnedWriteHalf {
    inner: Arc<TcpStream>,
    shutdown_on_drop: bool,
}

impl OwnedReadHalf {
    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl OwnedWriteHalf {
    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// As [`TcpStream`]'s `AsyncRead`.
impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.inner.poll_read_inner(cx, buf)
    }
}

/// As [`TcpStream`]'s `AsyncWrite`; after `poll_shutdown`, dropping the half does not
/// shut down again.
impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write_inner(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write_vectored_inner(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let res = self.inner.shutdown_write();
        if res.is_ok() {
            self.shutdown_on_drop = false;
        }
        Poll::Ready(res)
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop
            && let Err(e) = self.inner.shutdown_write()
        {
            log::debug!("shutting down a dropped write half: {e}");
        }
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("tokio::TcpListener")
            .field(self.io.get_ref())
            .finish()
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("tokio::TcpStream")
            .field(self.io.get_ref())
            .finish()
    }
}

impl std::os::fd::AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(self.io.get_ref())
    }
}

impl std::os::fd::AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(self.io.get_ref())
    }
}
