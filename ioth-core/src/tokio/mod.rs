//! ioth sockets for tokio (feature `tokio`): [`TcpListener`], [`TcpStream`], [`UdpSocket`].
//!
//! They are the std-like types of [`crate::net`] set nonblocking and registered with tokio's
//! reactor through [`::tokio::io::unix::AsyncFd`], with the API of `tokio::net`: `bind_on`
//! and `connect_on` take the stack ([`bind`](TcpListener::bind) and
//! [`connect`](TcpStream::connect) use the current default stack, [`crate::current_stack`]),
//! and every socket works on any backend, since every ioth socket is a real descriptor that
//! its stack keeps readable and writable exactly when the matching call would not block.
//!
//! They must be made and used inside a tokio runtime whose IO driver is enabled
//! (`#[tokio::main]`, or a `Builder` with `enable_io`/`enable_all`). Outside any runtime the
//! constructors fail with an error that says so; in a runtime built without IO they panic,
//! as tokio's own types do. A socket stays registered with the runtime it was made in.
//!
//! tokio's reactor is edge-triggered: it waits for readiness only after a call returned
//! `WouldBlock`, and then until the descriptor's next change. Every method here follows that
//! rule (it calls the socket first and clears readiness only on `WouldBlock`), so a read that
//! left data behind is followed by a read that returns it without waiting.
//!
//! Names given to `bind_on`, `connect_on`, `send_to` and `connect` are resolved over the
//! socket's stack ([`crate::net::ToSocketAddrs`]) on tokio's blocking pool
//! (`spawn_blocking`), so a lookup that waits for a DNS server never holds a runtime thread;
//! address literals are taken at once.
//!
//! ```
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use ioth::tokio::{TcpListener, TcpStream};
//! # fn main() -> std::io::Result<()> {
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
//! # rt.block_on(async {
//! let stack = ioth::Stack::new("kernel", &[])?;
//! let listener = TcpListener::bind_on(&stack, "127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = tokio::spawn(async move {
//!     let (mut conn, _peer) = listener.accept().await?;
//!     let mut buf = [0u8; 5];
//!     conn.read_exact(&mut buf).await?;
//!     conn.write_all(&buf).await?;
//!     conn.shutdown().await
//! });
//! let mut conn = TcpStream::connect_on(&stack, addr).await?;
//! conn.write_all(b"hello").await?;
//! let mut reply = Vec::new();
//! conn.read_to_end(&mut reply).await?; // until the server shuts down its side
//! assert_eq!(reply, b"hello");
//! server.await.expect("the server task")?;
//! # Ok::<(), std::io::Error>(())
//! # })
//! # }
//! ```

mod tcp;
mod udp;

pub use tcp::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use crate::Stack;
use crate::net::ToSocketAddrs;

use ::tokio::io::unix::AsyncFd;

/// The crate's std-like socket types, all of which own one ioth [`crate::Socket`].
pub(crate) trait StdSocket: AsRawFd + Sized {
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
}

macro_rules! std_socket {
    ($($ty:ident),*) => {$(
        impl StdSocket for crate::net::$ty {
            fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
                crate::net::$ty::set_nonblocking(self, nonblocking)
            }
        }
    )*};
}
std_socket!(TcpListener, TcpStream, UdpSocket);

/// Sets `socket` nonblocking and registers its descriptor with the current runtime's reactor
/// (read and write interest). Outside a runtime: an error naming the problem, not a panic.
pub(crate) fn register<T: StdSocket>(socket: T) -> io::Result<AsyncFd<T>> {
    if let Err(e) = ::tokio::runtime::Handle::try_current() {
        return Err(io::Error::other(format!(
            "ioth::tokio sockets need a tokio runtime with IO enabled: {e}"
        )));
    }
    socket.set_nonblocking(true)?;
    // SAFETY: `as_raw_fd` is the descriptor of the ioth socket `socket` owns; it stays open
    // and the same for as long as any handle on that socket lives (the descriptor table
    // closes it only when the last handle goes, and `bsd::close` of the number leaves it open
    // while handles remain), and the AsyncFd owns `socket` until it is dropped or
    // `into_inner` hands it back.
    let registered = unsafe { AsyncFd::register(socket) };
    registered.map_err(|e| {
        let (_socket, cause) = e.into_parts();
        cause
    })
}

/// `Err` unless `e` is `EINPROGRESS`, which a nonblocking connect gives while it goes on.
fn in_progress(e: io::Error) -> io::Result<()> {
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        Ok(())
    } else {
        Err(e)
    }
}

/// The addresses `addr` gives over `stack`: literals at once, a name on tokio's blocking
/// pool (the stack's resolver blocks while it asks a server). Outside a runtime, an error.
pub(crate) async fn resolve<A: ToSocketAddrs>(
    stack: &Stack,
    addr: A,
) -> io::Result<Vec<SocketAddr>> {
    let Some((host, port)) = addr.host_to_resolve() else {
        return addr.to_socket_addrs_on(stack);
    };
    let runtime = ::tokio::runtime::Handle::try_current().map_err(|e| {
        io::Error::other(format!(
            "ioth::tokio needs a tokio runtime to resolve {host}: {e}"
        ))
    })?;
    let what = format!("{host}:{port}");
    let stack = stack.clone();
    runtime
        .spawn_blocking(move || stack.resolve_host(&host, port))
        .await
        .map_err(|e| io::Error::other(format!("resolving {what}: {e}")))?
}
