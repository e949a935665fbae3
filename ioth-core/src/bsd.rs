//! The descriptor-based face: libioth's calls, on descriptor numbers, with libc's constants.
//!
//! Every call looks the descriptor up in the process's table of ioth sockets and hands the call
//! to the socket's stack. A descriptor that is not an ioth socket gives `EBADF`.
//!
//! ```
//! use std::net::SocketAddr;
//! use ioth::bsd;
//! # fn main() -> std::io::Result<()> {
//! let fd = bsd::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?; // on the current default stack
//! let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
//! bsd::bind(fd, &any.into())?;
//! let me = bsd::getsockname(fd)?;
//! bsd::sendto(fd, b"ciao", 0, &me)?;
//!
//! let mut buf = [0u8; 16];
//! let (n, from) = bsd::recvfrom(fd, &mut buf, 0)?;
//! assert_eq!(&buf[..n], b"ciao");
//! assert_eq!(from.and_then(|a| a.as_socket()), me.as_socket());
//!
//! bsd::close(fd)?;
//! let err = bsd::close(fd).expect_err("closed already");
//! assert_eq!(err.raw_os_error(), Some(libc::EBADF));
//! # Ok(())
//! # }
//! ```

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{IntoRawFd, RawFd};

use libc::{c_int, c_long};

use crate::backend::{Ioctl, RecvMeta, SockAddr, SocketOps};
use crate::defaults::current_stack;
use crate::error::ebadf;
use crate::socket::{SOCKETS, Socket, close_entry};
use crate::stack::Stack;

fn with<R>(fd: RawFd, f: impl FnOnce(&dyn SocketOps) -> io::Result<R>) -> io::Result<R> {
    let entry = SOCKETS.get(fd).ok_or_else(ebadf)?;
    f(entry.ops.as_ref())
}

/// Opens a socket on `stack`, or on the current default when `None` (libioth's
/// `ioth_msocket`). The descriptor stays open until [`close`].
pub fn msocket(
    stack: Option<&Stack>,
    domain: c_int,
    ty: c_int,
    protocol: c_int,
) -> io::Result<RawFd> {
    let socket = match stack {
        Some(stack) => stack.socket(domain, ty, protocol)?,
        None => current_stack()?.socket(domain, ty, protocol)?,
    };
    Ok(socket.into_raw_fd())
}

/// Opens a socket on the current default stack (libioth's `ioth_socket`).
pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> io::Result<RawFd> {
    msocket(None, domain, ty, protocol)
}

/// Whether `fd` is an ioth socket.
pub fn is_socket(fd: RawFd) -> bool {
    SOCKETS.get(fd).is_some()
}

/// The stack of the ioth socket `fd`.
pub fn stack_of(fd: RawFd) -> io::Result<Stack> {
    let entry = SOCKETS.get(fd).ok_or_else(ebadf)?;
    Ok(entry.stack().clone())
}

/// `close(2)`: removes `fd` from the table and closes it once no call is using it. `EBADF`
/// when `fd` is not an ioth socket.
pub fn close(fd: RawFd) -> io::Result<()> {
    let entry = SOCKETS.remove(fd, None).ok_or_else(ebadf)?;
    close_entry(entry)
}

/// `bind(2)`.
pub fn bind(fd: RawFd, addr: &SockAddr) -> io::Result<()> {
    with(fd, |s| s.bind(addr))
}

/// `connect(2)`.
pub fn connect(fd: RawFd, addr: &SockAddr) -> io::Result<()> {
    with(fd, |s| s.connect(addr))
}

/// `listen(2)`.
pub fn listen(fd: RawFd, backlog: c_int) -> io::Result<()> {
    with(fd, |s| s.listen(backlog))
}

/// `accept4(2)` (`flags` 0 for `accept`): the new descriptor and the peer's address.
pub fn accept(fd: RawFd, flags: c_int) -> io::Result<(RawFd, SockAddr)> {
    let listener = Socket::from_fd(fd)?;
    let (conn, addr) = listener.accept4(flags)?;
    Ok((conn.into_raw_fd(), addr))
}

/// `getsockname(2)`.
pub fn getsockname(fd: RawFd) -> io::Result<SockAddr> {
    with(fd, |s| s.local_addr())
}

/// `getpeername(2)`.
pub fn getpeername(fd: RawFd) -> io::Result<SockAddr> {
    with(fd, |s| s.peer_addr())
}

/// `setsockopt(2)`.
pub fn setsockopt(fd: RawFd, level: c_int, name: c_int, value: &[u8]) -> io::Result<()> {
    with(fd, |s| s.setsockopt(level, name, value))
}

/// `getsockopt(2)`: writes into `value`, returns the length.
pub fn getsockopt(fd: RawFd, level: c_int, name: c_int, value: &mut [u8]) -> io::Result<usize> {
    with(fd, |s| s.getsockopt(level, name, value))
}

/// `shutdown(2)`.
pub fn shutdown(fd: RawFd, how: c_int) -> io::Result<()> {
    with(fd, |s| s.shutdown(how))
}

/// `ioctl(2)`.
pub fn ioctl(fd: RawFd, request: Ioctl<'_>) -> io::Result<c_int> {
    with(fd, |s| s.ioctl(request))
}

/// `fcntl(2)` with an integer argument.
pub fn fcntl(fd: RawFd, cmd: c_int, arg: c_long) -> io::Result<c_int> {
    with(fd, |s| s.fcntl(cmd, arg))
}

/// `read(2)`.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    with(fd, |s| s.read(buf))
}

/// `readv(2)`.
pub fn readv(fd: RawFd, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    with(fd, |s| s.readv(bufs))
}

/// `recv(2)`.
pub fn recv(fd: RawFd, buf: &mut [u8], flags: c_int) -> io::Result<usize> {
    with(fd, |s| s.recv(buf, flags))
}

/// `recvfrom(2)`.
pub fn recvfrom(fd: RawFd, buf: &mut [u8], flags: c_int) -> io::Result<(usize, Option<SockAddr>)> {
    with(fd, |s| s.recv_from(buf, flags))
}

/// `recvmsg(2)`.
pub fn recvmsg(
    fd: RawFd,
    bufs: &mut [IoSliceMut<'_>],
    control: &mut [u8],
    flags: c_int,
) -> io::Result<RecvMeta> {
    with(fd, |s| s.recv_msg(bufs, control, flags))
}

/// `write(2)`.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    with(fd, |s| s.write(buf))
}

/// `writev(2)`.
pub fn writev(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    with(fd, |s| s.writev(bufs))
}

/// `send(2)`.
pub fn send(fd: RawFd, buf: &[u8], flags: c_int) -> io::Result<usize> {
    with(fd, |s| s.send(buf, flags))
}

/// `sendto(2)`.
pub fn sendto(fd: RawFd, buf: &[u8], flags: c_int, addr: &SockAddr) -> io::Result<usize> {
    with(fd, |s| s.send_to(buf, addr, flags))
}

/// `sendmsg(2)`.
pub fn sendmsg(
    fd: RawFd,
    bufs: &[IoSlice<'_>],
    addr: Option<&SockAddr>,
    control: &[u8],
    flags: c_int,
) -> io::Result<usize> {
    with(fd, |s| s.send_msg(bufs, addr, control, flags))
}
