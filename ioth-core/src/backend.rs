//! The backend contract: what a network stack implementation provides to the facade.
//!
//! A backend ([`Backend`]) is a factory of stack instances ([`StackOps`]); a stack creates
//! sockets ([`SocketOps`]). Every socket owns a real file descriptor ([`SocketOps::as_raw_fd`])
//! that poll/select/epoll see readable, writable and hung up exactly when the matching call
//! would not block. Every call returns `std::io::Error` carrying the errno Linux would give.
//!
//! Addresses are [`SockAddr`] (a `sockaddr_storage` with its length), flags and option names are
//! the libc constants: the contract is the BSD socket interface, typed just enough to be safe.
//! A backend linked into the program (see [`crate::registry`]) and one loaded from a shared
//! object (see [`crate::plugin`]) are used through this same contract.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use libc::{c_int, c_long, c_ulong, c_void};
pub use socket2::SockAddr;

/// A stack implementation, such as `kernel` or `smoltcp`: creates stack instances.
pub trait Backend: Send + Sync + 'static {
    /// The implementation name the facade finds it by (`"kernel"`, `"smoltcp"`).
    fn name(&self) -> &str;

    /// Creates a stack with one interface per VNL.
    ///
    /// `vnls` are virtual network locators as the user wrote them (`vde:///tmp/hub`, or
    /// `eth1:vde:///tmp/hub` to name the interface); `options` is the text after the first
    /// comma of the implementation string (`"smoltcp,opt1,opt2"` gives `"opt1,opt2"`).
    fn new_stack(&self, vnls: &[&str], options: &str) -> io::Result<Box<dyn StackOps>>;
}

/// One stack instance: its own interfaces, addresses, routes and sockets.
pub trait StackOps: Send + Sync {
    /// Opens a socket, as `socket(2)`: `ty` may carry `SOCK_NONBLOCK` and `SOCK_CLOEXEC`.
    ///
    /// `AF_NETLINK`/`NETLINK_ROUTE` sockets configure this stack.
    fn socket(&self, domain: c_int, ty: c_int, protocol: c_int) -> io::Result<Box<dyn SocketOps>>;

    /// Releases the stack's links and resources. Called once, by the facade, when the user
    /// deletes the stack and no socket of it is open. Dropping the stack must also release
    /// them; this call exists so that the release can report an error.
    fn delete(&self) -> io::Result<()> {
        Ok(())
    }

    /// Starts a dynamic configuration protocol (DHCP, router discovery) on interface
    /// `ifindex`, without blocking; the engine configures the stack through its own netlink
    /// tables as leases and advertisements arrive. `ENOSYS` for stacks without engines.
    fn autoconf_start(
        &self,
        protocol: AutoConfProtocol,
        ifindex: u32,
        fqdn: Option<&str>,
        slaac: bool,
    ) -> io::Result<()> {
        let _ = (protocol, ifindex, fqdn, slaac);
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }

    /// Takes the stack's identity ([`crate::Stack::name`]: its name, or `stack#N`), given
    /// when the stack is made and whenever it is renamed, for the backend's log lines and
    /// errors about this stack. The default ignores it.
    fn set_identity(&self, ident: &str) {
        let _ = ident;
    }

    /// Stops a protocol started by [`StackOps::autoconf_start`] and removes what it set.
    fn autoconf_stop(&self, protocol: AutoConfProtocol, ifindex: u32) -> io::Result<()> {
        let _ = (protocol, ifindex);
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }

    /// The stack's protocol counters (IP, ICMP, TCP, UDP; see
    /// [`crate::counters::ProtocolCounters`]). `ENOSYS` (the default) for stacks that keep
    /// none. Interface counters are not here: they travel in netlink's RTM_NEWLINK
    /// (`IFLA_STATS64`), as on Linux.
    fn protocol_counters(&self) -> io::Result<crate::counters::ProtocolCounters> {
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }
    /// The DNS servers and search domains a running protocol learned on `ifindex`.
    fn autoconf_learned(
        &self,
        protocol: AutoConfProtocol,
        ifindex: u32,
    ) -> Option<(Vec<std::net::IpAddr>, Vec<String>)> {
        let _ = (protocol, ifindex);
        None
    }
}

/// A dynamic configuration protocol: DHCPv4, DHCPv6, router discovery.
pub use nlconf::iothconf::Protocol as AutoConfProtocol;

/// What `recvmsg(2)` fills in besides the data.
#[derive(Debug, Default)]
pub struct RecvMeta {
    /// The bytes received into the buffers (for `MSG_TRUNC`, possibly the datagram's length).
    pub len: usize,
    /// The sender's address, for sockets that report one (`recvfrom`).
    pub addr: Option<SockAddr>,
    /// Bytes of ancillary data written into the control buffer.
    pub control_len: usize,
    /// The `msg_flags` of `recvmsg(2)` (`MSG_TRUNC`, `MSG_CTRUNC`, ...).
    pub flags: c_int,
}

/// An `ioctl(2)` request with its argument, typed by what the argument is.
#[derive(Debug)]
pub enum Ioctl<'a> {
    /// Requests whose argument is one `int`: `FIONREAD`, `FIONBIO`, `SIOCOUTQ`, `SIOCATMARK`.
    Int {
        /// The request number.
        request: c_ulong,
        /// The argument, read (`FIONBIO`) or written (`FIONREAD`).
        value: &'a mut c_int,
    },
    /// Interface requests (`SIOCGIFINDEX`, `SIOCGIFFLAGS`, `SIOCSIFMTU`, ...) on a
    /// `struct ifreq`, given as its bytes.
    IfReq {
        /// The request number.
        request: c_ulong,
        /// The `struct ifreq`.
        ifreq: &'a mut [u8; IFREQ_SIZE],
    },
    /// `SIOCGIFCONF`: `buf` is `None` to ask for the size only; `len` is `ifc_len`.
    IfConf {
        /// `ifc_len`: the buffer's size in, the bytes used out.
        len: &'a mut c_int,
        /// `ifc_buf`, or `None` for a NULL buffer.
        buf: Option<&'a mut [u8]>,
    },
    /// Any other request, with its argument as the caller gave it. Backends that do not know
    /// the request answer `ENOTTY`.
    Raw {
        /// The request number.
        request: c_ulong,
        /// The argument pointer.
        arg: RawIoctlArg,
    },
}

/// Size of `struct ifreq` on Linux.
pub const IFREQ_SIZE: usize = 40;

/// An ioctl argument pointer whose meaning only the OS knows.
#[derive(Debug, Clone, Copy)]
pub struct RawIoctlArg(*mut c_void);

impl RawIoctlArg {
    /// Wraps a raw argument pointer.
    ///
    /// # Safety
    /// `arg` must be valid for whatever the request reads or writes, for the whole call.
    pub unsafe fn new(arg: *mut c_void) -> Self {
        RawIoctlArg(arg)
    }

    /// The pointer, for a backend that hands the request to the OS.
    pub fn as_ptr(self) -> *mut c_void {
        self.0
    }
}

impl Ioctl<'_> {
    /// The request number.
    pub fn request(&self) -> c_ulong {
        match self {
            Ioctl::Int { request, .. } | Ioctl::IfReq { request, .. } => *request,
            Ioctl::IfConf { .. } => libc::SIOCGIFCONF,
            Ioctl::Raw { request, .. } => *request,
        }
    }
}

/// One socket of a stack: the BSD socket calls.
///
/// The default methods fall back as libioth does: `read`/`recv` to `recv_msg`, `write`/`send`
/// to `send_msg`; a backend overrides them where it has a faster path.
pub trait SocketOps: Send + Sync {
    /// The descriptor the user polls; valid until the socket is dropped.
    fn as_raw_fd(&self) -> RawFd;

    /// `bind(2)`.
    fn bind(&self, addr: &SockAddr) -> io::Result<()>;
    /// `connect(2)`. A nonblocking TCP connect in progress gives `EINPROGRESS`.
    fn connect(&self, addr: &SockAddr) -> io::Result<()>;
    /// `listen(2)`.
    fn listen(&self, backlog: c_int) -> io::Result<()>;
    /// `accept4(2)` with `flags` `SOCK_NONBLOCK`/`SOCK_CLOEXEC`: the new socket and its peer.
    fn accept(&self, flags: c_int) -> io::Result<(Box<dyn SocketOps>, SockAddr)>;
    /// `getsockname(2)`.
    fn local_addr(&self) -> io::Result<SockAddr>;
    /// `getpeername(2)`: `ENOTCONN` when not connected.
    fn peer_addr(&self) -> io::Result<SockAddr>;
    /// `setsockopt(2)` with the option's value as bytes.
    fn setsockopt(&self, level: c_int, name: c_int, value: &[u8]) -> io::Result<()>;
    /// `getsockopt(2)`: writes the value into `value`, returns its length.
    fn getsockopt(&self, level: c_int, name: c_int, value: &mut [u8]) -> io::Result<usize>;
    /// `shutdown(2)` with `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
    fn shutdown(&self, how: c_int) -> io::Result<()>;
    /// `ioctl(2)`; returns the call's non-negative result.
    fn ioctl(&self, request: Ioctl<'_>) -> io::Result<c_int>;
    /// `fcntl(2)` for integer commands (`F_GETFL`, `F_SETFL` with `O_NONBLOCK`, `F_GETFD`,
    /// `F_SETFD`); returns the call's result.
    fn fcntl(&self, cmd: c_int, arg: c_long) -> io::Result<c_int>;

    /// `recvmsg(2)`: scatters into `bufs`, ancillary data into `control`.
    fn recv_msg(
        &self,
        bufs: &mut [IoSliceMut<'_>],
        control: &mut [u8],
        flags: c_int,
    ) -> io::Result<RecvMeta>;

    /// `sendmsg(2)`: gathers from `bufs`, to `addr` when given, with ancillary `control`.
    fn send_msg(
        &self,
        bufs: &[IoSlice<'_>],
        addr: Option<&SockAddr>,
        control: &[u8],
        flags: c_int,
    ) -> io::Result<usize>;

    /// `recv(2)`.
    fn recv(&self, buf: &mut [u8], flags: c_int) -> io::Result<usize> {
        Ok(self
            .recv_msg(&mut [IoSliceMut::new(buf)], &mut [], flags)?
            .len)
    }

    /// `recvfrom(2)`: the sender's address when the socket reports one.
    fn recv_from(&self, buf: &mut [u8], flags: c_int) -> io::Result<(usize, Option<SockAddr>)> {
        let meta = self.recv_msg(&mut [IoSliceMut::new(buf)], &mut [], flags)?;
        Ok((meta.len, meta.addr))
    }

    /// `send(2)`.
    fn send(&self, buf: &[u8], flags: c_int) -> io::Result<usize> {
        self.send_msg(&[IoSlice::new(buf)], None, &[], flags)
    }

    /// `sendto(2)`.
    fn send_to(&self, buf: &[u8], addr: &SockAddr, flags: c_int) -> io::Result<usize> {
        self.send_msg(&[IoSlice::new(buf)], Some(addr), &[], flags)
    }

    /// `read(2)`: `recv` with no flags, except that a zero-length read returns 0 at once.
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf, 0)
    }

    /// `write(2)`: `send` with no flags.
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf, 0)
    }

    /// `readv(2)`.
    fn readv(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        Ok(self.recv_msg(bufs, &mut [], 0)?.len)
    }

    /// `writev(2)`.
    fn writev(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.send_msg(bufs, None, &[], 0)
    }

    /// `close(2)` reporting its error. Dropping the socket closes it too, silently.
    fn close(self: Box<Self>) -> io::Result<()>;
}
