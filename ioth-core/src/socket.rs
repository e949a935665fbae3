//! [`Socket`]: an open socket of a stack, owning its descriptor.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::mem;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use libc::{c_int, c_long};

use crate::backend::{Ioctl, RecvMeta, SockAddr, SocketOps};
use crate::cmsg::{self, CmsgBuf, PktInfo};
use crate::error::{ebadf, errno};
use crate::fdtable::FdTable;
use crate::stack::Stack;
use crate::sys::{self, PlainOption};

/// Every ioth socket of the process, by descriptor.
pub(crate) static SOCKETS: FdTable<SocketEntry> = FdTable::new();

/// What the descriptor table holds for one socket.
pub(crate) struct SocketEntry {
    pub(crate) ops: Box<dyn SocketOps>,
    /// Live [`Socket`] handles; the table entry goes when the last one does.
    handles: AtomicUsize,
    /// Counts the socket as open on its stack until the entry is gone.
    stack_use: StackUse,
}

/// One open socket counted on its stack; the count drops with this value.
pub(crate) struct StackUse(pub(crate) Stack);

impl Drop for StackUse {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl SocketEntry {
    pub(crate) fn stack(&self) -> &Stack {
        &self.stack_use.0
    }
}

/// Closes an entry taken out of the table: reports the close's error when this was the last
/// reference; otherwise the descriptor closes when the calls still using it return.
pub(crate) fn close_entry(entry: Arc<SocketEntry>) -> io::Result<()> {
    match Arc::try_unwrap(entry) {
        Ok(SocketEntry { ops, stack_use, .. }) => {
            let res = ops.close();
            drop(stack_use);
            res
        }
        Err(_shared) => Ok(()),
    }
}

/// An open socket of an ioth stack. It owns a real descriptor that works with poll, select,
/// epoll and mio, and is listed in the process's descriptor table so that the descriptor-based
/// calls of [`crate::bsd`] work on it too. Dropping the socket closes it.
///
/// The general socket, with `socket(2)`'s arguments and libc's constants:
///
/// ```
/// use std::net::SocketAddr;
/// use ioth::{SockAddr, Stack};
/// # fn main() -> std::io::Result<()> {
/// let stack = Stack::new("kernel", &[])?;
/// let sock = stack.socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
/// sock.bind(&SockAddr::from("127.0.0.1:0".parse::<SocketAddr>().expect("an address")))?;
/// let me = sock.local_addr()?;
/// sock.set_option(libc::SOL_SOCKET, libc::SO_RCVBUF, 65536 as libc::c_int)?;
///
/// sock.send_to(b"to myself", &me, 0)?;
/// let mut buf = [0u8; 64];
/// let (n, from) = sock.recv_from(&mut buf, 0)?;
/// assert_eq!(&buf[..n], b"to myself");
/// assert_eq!(from.and_then(|a| a.as_socket()), me.as_socket());
/// assert!(ioth::bsd::is_socket(std::os::fd::AsRawFd::as_raw_fd(&sock))); // a real descriptor
/// # Ok(())
/// # }
/// ```
pub struct Socket {
    entry: Arc<SocketEntry>,
    fd: RawFd,
}

impl Socket {
    /// Lists a new backend socket in the descriptor table. The stack's count must already
    /// include it.
    pub(crate) fn register(stack: Stack, ops: Box<dyn SocketOps>) -> Socket {
        let fd = ops.as_raw_fd();
        let entry = Arc::new(SocketEntry {
            ops,
            handles: AtomicUsize::new(1),
            stack_use: StackUse(stack),
        });
        if let Some(stale) = SOCKETS.insert(fd, entry.clone()) {
            log::warn!("descriptor {fd} was closed outside ioth; dropping its stale entry");
            drop(stale);
        }
        Socket { entry, fd }
    }

    /// Takes a handle on the socket that the descriptor table lists at `fd`; `EBADF` if `fd` is
    /// not an ioth socket. The table keeps listing it while a handle lives.
    pub fn from_fd(fd: RawFd) -> io::Result<Socket> {
        let entry = SOCKETS.get(fd).ok_or_else(ebadf)?;
        entry.handles.fetch_add(1, Ordering::AcqRel);
        Ok(Socket { entry, fd })
    }

    /// The stack this socket belongs to.
    pub fn stack(&self) -> &Stack {
        self.entry.stack()
    }

    /// The backend's socket, for code that extends a backend.
    pub fn ops(&self) -> &dyn SocketOps {
        self.entry.ops.as_ref()
    }

    /// Another handle on the same socket and descriptor (not a `dup`): the socket closes when
    /// the last handle goes.
    pub fn try_clone(&self) -> io::Result<Socket> {
        self.entry.handles.fetch_add(1, Ordering::AcqRel);
        Ok(Socket {
            entry: self.entry.clone(),
            fd: self.fd,
        })
    }

    /// Closes the socket now, reporting the close's error.
    pub fn close(self) -> io::Result<()> {
        let this = mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; the entry is moved out exactly once.
        let entry = unsafe { std::ptr::read(&this.entry) };
        if entry.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            SOCKETS.remove(this.fd, Some(&entry));
        }
        close_entry(entry)
    }

    /// `bind(2)`.
    pub fn bind(&self, addr: &SockAddr) -> io::Result<()> {
        self.ops().bind(addr)
    }

    /// `connect(2)`.
    pub fn connect(&self, addr: &SockAddr) -> io::Result<()> {
        self.ops().connect(addr)
    }

    /// `listen(2)`.
    pub fn listen(&self, backlog: c_int) -> io::Result<()> {
        self.ops().listen(backlog)
    }

    /// `accept(2)`: the connection (blocking unless it is marked nonblocking) and its peer.
    pub fn accept(&self) -> io::Result<(Socket, SockAddr)> {
        self.accept4(0)
    }

    /// `accept4(2)`: `flags` may hold `SOCK_NONBLOCK` and `SOCK_CLOEXEC`.
    pub fn accept4(&self, flags: c_int) -> io::Result<(Socket, SockAddr)> {
        let (ops, addr) = self.ops().accept(flags)?;
        Ok((self.stack().adopt(ops), addr))
    }

    /// `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SockAddr> {
        self.ops().local_addr()
    }

    /// `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SockAddr> {
        self.ops().peer_addr()
    }

    /// `setsockopt(2)` with the value's bytes.
    pub fn setsockopt(&self, level: c_int, name: c_int, value: &[u8]) -> io::Result<()> {
        self.ops().setsockopt(level, name, value)
    }

    /// `getsockopt(2)` into `value`; returns the value's length.
    pub fn getsockopt(&self, level: c_int, name: c_int, value: &mut [u8]) -> io::Result<usize> {
        self.ops().getsockopt(level, name, value)
    }

    /// Sets an option whose value is a plain C value (`c_int`, `timeval`, `linger`, ...).
    pub fn set_option<T: PlainOption>(
        &self,
        level: c_int,
        name: c_int,
        value: T,
    ) -> io::Result<()> {
        self.setsockopt(level, name, sys::option_bytes(&value))
    }

    /// Reads an option whose value is a plain C value.
    pub fn option<T: PlainOption>(&self, level: c_int, name: c_int) -> io::Result<T> {
        let mut value = T::zeroed();
        let len = self.getsockopt(level, name, sys::option_bytes_mut(&mut value))?;
        if len > mem::size_of::<T>() {
            return Err(errno(libc::EINVAL));
        }
        Ok(value)
    }

    /// `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.ops().shutdown(match how {
            Shutdown::Read => libc::SHUT_RD,
            Shutdown::Write => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        })
    }

    /// `ioctl(2)`.
    pub fn ioctl(&self, request: Ioctl<'_>) -> io::Result<c_int> {
        self.ops().ioctl(request)
    }

    /// `fcntl(2)` with an integer argument.
    pub fn fcntl(&self, cmd: c_int, arg: c_long) -> io::Result<c_int> {
        self.ops().fcntl(cmd, arg)
    }

    /// Bytes that a read would return now (`FIONREAD`).
    pub fn bytes_readable(&self) -> io::Result<usize> {
        let mut n: c_int = 0;
        self.ioctl(Ioctl::Int {
            request: libc::FIONREAD,
            value: &mut n,
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Sets or clears `O_NONBLOCK`: calls that would block fail with `EAGAIN` instead.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        let flags = self.fcntl(libc::F_GETFL, 0)?;
        let new = if nonblocking {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        if new != flags {
            self.fcntl(libc::F_SETFL, c_long::from(new))?;
        }
        Ok(())
    }

    /// Whether `O_NONBLOCK` is set.
    pub fn nonblocking(&self) -> io::Result<bool> {
        Ok(self.fcntl(libc::F_GETFL, 0)? & libc::O_NONBLOCK != 0)
    }

    /// Sets `SO_RCVTIMEO`: a blocking receive fails with `EAGAIN` after `timeout`. `None`
    /// waits forever; a zero duration is `EINVAL`, as in std.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_option(libc::SOL_SOCKET, libc::SO_RCVTIMEO, sys::timeval(timeout)?)
    }

    /// Sets `SO_SNDTIMEO`, like [`Socket::set_read_timeout`].
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_option(libc::SOL_SOCKET, libc::SO_SNDTIMEO, sys::timeval(timeout)?)
    }

    /// `SO_RCVTIMEO`, `None` when receives wait forever.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(sys::duration(self.option::<libc::timeval>(
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
        )?))
    }

    /// `SO_SNDTIMEO`, `None` when sends wait forever.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(sys::duration(self.option::<libc::timeval>(
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
        )?))
    }

    /// Takes the pending error (`SO_ERROR`), as a finished nonblocking connect reports it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let err: c_int = self.option(libc::SOL_SOCKET, libc::SO_ERROR)?;
        Ok((err != 0).then(|| errno(err)))
    }

    /// `recv(2)`.
    pub fn recv(&self, buf: &mut [u8], flags: c_int) -> io::Result<usize> {
        self.ops().recv(buf, flags)
    }

    /// `recvfrom(2)`.
    pub fn recv_from(&self, buf: &mut [u8], flags: c_int) -> io::Result<(usize, Option<SockAddr>)> {
        self.ops().recv_from(buf, flags)
    }

    /// `recvmsg(2)`.
    pub fn recv_msg(
        &self,
        bufs: &mut [IoSliceMut<'_>],
        control: &mut [u8],
        flags: c_int,
    ) -> io::Result<RecvMeta> {
        self.ops().recv_msg(bufs, control, flags)
    }

    /// `send(2)`.
    pub fn send(&self, buf: &[u8], flags: c_int) -> io::Result<usize> {
        self.ops().send(buf, flags)
    }

    /// `sendto(2)`.
    pub fn send_to(&self, buf: &[u8], addr: &SockAddr, flags: c_int) -> io::Result<usize> {
        self.ops().send_to(buf, addr, flags)
    }

    /// `sendmsg(2)`.
    pub fn send_msg(
        &self,
        bufs: &[IoSlice<'_>],
        addr: Option<&SockAddr>,
        control: &[u8],
        flags: c_int,
    ) -> io::Result<usize> {
        self.ops().send_msg(bufs, addr, control, flags)
    }
}

/// One datagram received by [`Socket::recv_from_to`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvFromTo {
    /// Bytes copied into the buffer.
    pub len: usize,
    /// Whether the datagram was longer than the buffer (`MSG_TRUNC`): its tail is gone.
    pub truncated: bool,
    /// The sender.
    pub from: SocketAddr,
    /// The address the datagram was sent to (`ipi_addr`, `ipi6_addr`), when the socket
    /// reports it (see [`Socket::set_recv_pktinfo`]).
    pub to: Option<IpAddr>,
    /// The local address a reply should leave from: the destination for unicast, the
    /// interface's address for broadcast and multicast (IPv4's `ipi_spec_dst`; for IPv6 the
    /// destination itself).
    pub local: Option<IpAddr>,
    /// The interface it arrived on (0 when not reported).
    pub ifindex: u32,
}

impl Socket {
    /// Asks for the destination address and interface of every datagram received from now
    /// on: `IP_PKTINFO` on an `AF_INET` socket, `IPV6_RECVPKTINFO` on an `AF_INET6` one
    /// (the family is read with `SO_DOMAIN`). [`Socket::recv_from_to`] then reports them.
    pub fn set_recv_pktinfo(&self, on: bool) -> io::Result<()> {
        let domain: c_int = self.option(libc::SOL_SOCKET, libc::SO_DOMAIN)?;
        let (level, name) = match domain {
            libc::AF_INET => (libc::IPPROTO_IP, libc::IP_PKTINFO),
            libc::AF_INET6 => (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
            _ => return Err(errno(libc::ENOPROTOOPT)),
        };
        self.set_option(level, name, c_int::from(on))
    }

    /// Receives one datagram with its sender and, once [`Socket::set_recv_pktinfo`] is on,
    /// the address it reached and its interface. `flags` as `recvmsg(2)` (`MSG_DONTWAIT`,
    /// `MSG_PEEK`). `EINVAL` on a socket that reports no sender (a stream).
    pub fn recv_from_to(&self, buf: &mut [u8], flags: c_int) -> io::Result<RecvFromTo> {
        let mut control = CmsgBuf::default();
        let meta = self.recv_msg(&mut [IoSliceMut::new(buf)], &mut control.0, flags)?;
        let from = meta
            .addr
            .as_ref()
            .and_then(SockAddr::as_socket)
            .ok_or_else(|| errno(libc::EINVAL))?;
        let info = PktInfo::find(&control.0[..meta.control_len.min(control.0.len())]);
        Ok(RecvFromTo {
            len: meta.len,
            truncated: meta.flags & libc::MSG_TRUNC != 0,
            from,
            to: info.map(|i| i.addr),
            local: info.map(|i| i.spec_dst.map_or(i.addr, IpAddr::V4)),
            ifindex: info.map_or(0, |i| i.ifindex),
        })
    }

    /// Sends one datagram to `to` from the local address `from` (and, if `ifindex` is not
    /// 0, by that interface), with an `IP_PKTINFO` (`to` IPv4) or `IPV6_PKTINFO` (`to`
    /// IPv6; an IPv4 `from` goes as `::ffff:a.b.c.d`) control message, as a server replies
    /// from the address a query reached. The errors are Linux's: an address the stack does
    /// not have gives `ENETUNREACH` (IPv4) or `EINVAL` (IPv6), an unknown interface `ENODEV`.
    pub fn send_from_to(
        &self,
        buf: &[u8],
        to: SocketAddr,
        from: IpAddr,
        ifindex: u32,
        flags: c_int,
    ) -> io::Result<usize> {
        let mut control = CmsgBuf::default();
        let mut used = 0;
        match to {
            SocketAddr::V4(_) => {
                let spec = match from {
                    IpAddr::V4(a) => a,
                    IpAddr::V6(a) => a.to_ipv4_mapped().ok_or_else(|| errno(libc::EINVAL))?,
                };
                let info = PktInfo {
                    addr: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                    ifindex,
                    spec_dst: Some(spec),
                };
                cmsg::push(
                    &mut control.0,
                    &mut used,
                    libc::IPPROTO_IP,
                    libc::IP_PKTINFO,
                    &info.in_pktinfo(),
                )?;
            }
            SocketAddr::V6(_) => {
                let info = PktInfo {
                    addr: from,
                    ifindex,
                    spec_dst: None,
                };
                cmsg::push(
                    &mut control.0,
                    &mut used,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_PKTINFO,
                    &info.in6_pktinfo(),
                )?;
            }
        }
        let to = SockAddr::from(to);
        self.send_msg(&[IoSlice::new(buf)], Some(&to), &control.0[..used], flags)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if self.entry.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            SOCKETS.remove(self.fd, Some(&self.entry));
        }
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("fd", &self.fd)
            .field("stack", &self.stack().implementation())
            .finish()
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor stays open while this handle holds its entry.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }
}

impl IntoRawFd for Socket {
    /// Gives up this handle but keeps the socket open and listed: the descriptor is then owned
    /// by the caller, to be closed with [`crate::bsd::close`].
    fn into_raw_fd(self) -> RawFd {
        let fd = self.fd;
        // The handle count keeps this handle: the table entry stays until bsd::close.
        let this = mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; the Arc is moved out once and dropped,
        // leaving the table's reference.
        drop(unsafe { std::ptr::read(&this.entry) });
        fd
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.ops().read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.ops().readv(bufs)
    }
}

impl Read for &Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.ops().read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.ops().readv(bufs)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ops().write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.ops().writev(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ops().write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.ops().writev(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
