//! UDP: [`UdpSocket`].

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use super::{ToSocketAddrs, each_addr, socket_for, socket_wrapper, std_addr};
use crate::defaults::current_stack;
use crate::error::errno;
use crate::socket::Socket;
use crate::stack::Stack;

/// A UDP socket, like `std::net::UdpSocket`.
///
/// ```
/// use ioth::net::UdpSocket;
/// # fn main() -> std::io::Result<()> {
/// let stack = ioth::Stack::new("kernel", &[])?;
/// let a = UdpSocket::bind_on(&stack, "127.0.0.1:0")?;
/// let b = UdpSocket::bind_on(&stack, "127.0.0.1:0")?;
/// a.connect(b.local_addr()?)?; // send() goes to b, and only b's datagrams are received
/// a.send(b"ping")?;
///
/// let mut buf = [0u8; 16];
/// let (n, from) = b.recv_from(&mut buf)?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// b.send_to(b"pong", from)?;
/// assert_eq!(a.recv(&mut buf)?, 4);
/// assert_eq!(&buf[..4], b"pong");
/// # Ok(())
/// # }
/// ```
pub struct UdpSocket(Socket);

socket_wrapper!(UdpSocket);

impl UdpSocket {
    /// Binds on the current default stack.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        UdpSocket::bind_on(&current_stack()?, addr)
    }

    /// Binds on `stack`.
    pub fn bind_on<A: ToSocketAddrs>(stack: &Stack, addr: A) -> io::Result<UdpSocket> {
        each_addr(stack, addr, |addr| {
            let sock = socket_for(stack, addr, libc::SOCK_DGRAM)?;
            sock.bind(&(*addr).into())?;
            Ok(UdpSocket(sock))
        })
    }

    /// Asks for each datagram's destination address and interface (`IP_PKTINFO` /
    /// `IPV6_RECVPKTINFO`), reported by [`UdpSocket::recv_from_to`].
    ///
    /// A server bound to every address learns which one a query reached, to reply from it:
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    /// use ioth::net::UdpSocket;
    /// # fn main() -> std::io::Result<()> {
    /// let stack = ioth::Stack::new("kernel", &[])?;
    /// let server = UdpSocket::bind_on(&stack, "0.0.0.0:0")?;
    /// server.set_recv_pktinfo(true)?;
    /// let port = server.local_addr()?.port();
    /// let client = UdpSocket::bind_on(&stack, "127.0.0.1:0")?;
    /// client.send_to(b"query", SocketAddr::from(([127, 0, 0, 2], port)))?; // 127/8 is lo's
    ///
    /// let mut buf = [0u8; 64];
    /// let got = server.recv_from_to(&mut buf)?;
    /// assert_eq!(got.to, Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))));
    /// let local = got.local.expect("the address to answer from");
    /// server.send_from_to(b"answer", got.from, local, got.ifindex)?;
    /// let (n, from) = client.recv_from(&mut buf)?;
    /// assert_eq!((&buf[..n], from.ip()), (&b"answer"[..], local)); // from 127.0.0.2
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_recv_pktinfo(&self, on: bool) -> io::Result<()> {
        self.0.set_recv_pktinfo(on)
    }

    /// Receives a datagram with its sender and the address it reached: see
    /// [`Socket::recv_from_to`].
    pub fn recv_from_to(&self, buf: &mut [u8]) -> io::Result<crate::RecvFromTo> {
        self.0.recv_from_to(buf, 0)
    }

    /// Sends a datagram to `to` from local address `from` (and interface `ifindex`, 0: any):
    /// see [`Socket::send_from_to`].
    pub fn send_from_to(
        &self,
        buf: &[u8],
        to: SocketAddr,
        from: std::net::IpAddr,
        ifindex: u32,
    ) -> io::Result<usize> {
        self.0.send_from_to(buf, to, from, ifindex, 0)
    }

    /// Sends a datagram to `addr` (a name resolved over this socket's stack); returns the
    /// bytes sent.
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let addrs = addr.to_socket_addrs_on(self.0.stack())?;
        // A name may give both families: the socket's own family first.
        let v6 = matches!(self.0.local_addr()?.as_socket(), Some(SocketAddr::V6(_)));
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv6() == v6)
            .or(addrs.first())
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to send to"))?;
        self.0.send_to(buf, &addr.into(), 0)
    }

    /// Receives a datagram and its sender; a datagram longer than `buf` is cut.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, addr) = self.0.recv_from(buf, 0)?;
        let addr = addr.ok_or_else(|| errno(libc::ENOTCONN))?;
        Ok((n, std_addr(&addr)?))
    }

    /// Like [`UdpSocket::recv_from`], leaving the datagram queued.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, addr) = self.0.recv_from(buf, libc::MSG_PEEK)?;
        let addr = addr.ok_or_else(|| errno(libc::ENOTCONN))?;
        Ok((n, std_addr(&addr)?))
    }

    /// Sets the default destination and filters received datagrams to that peer; a name is
    /// resolved over this socket's stack.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(self.0.stack(), addr, |addr| self.0.connect(&(*addr).into()))
    }

    /// Sends to the connected peer (`EDESTADDRREQ` when not connected).
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf, 0)
    }

    /// Receives from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf, 0)
    }

    /// Like [`UdpSocket::recv`], leaving the datagram queued.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf, libc::MSG_PEEK)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        std_addr(&self.0.local_addr()?)
    }

    /// The connected peer's address (`ENOTCONN` when not connected).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        std_addr(&self.0.peer_addr()?)
    }

    /// Another handle on the same socket.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket(self.0.try_clone()?))
    }

    /// Sets `SO_BROADCAST`: without it, sending to a broadcast address fails with `EACCES`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.0
            .set_option(libc::SOL_SOCKET, libc::SO_BROADCAST, libc::c_int::from(on))
    }

    /// `SO_BROADCAST`.
    pub fn broadcast(&self) -> io::Result<bool> {
        Ok(self
            .0
            .option::<libc::c_int>(libc::SOL_SOCKET, libc::SO_BROADCAST)?
            != 0)
    }

    /// Joins an IPv4 multicast group on the interface with address `interface`
    /// (`0.0.0.0`: the stack chooses).
    pub fn join_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.0.set_option(
            libc::IPPROTO_IP,
            libc::IP_ADD_MEMBERSHIP,
            mreq(group, interface),
        )
    }

    /// Leaves an IPv4 multicast group.
    pub fn leave_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.0.set_option(
            libc::IPPROTO_IP,
            libc::IP_DROP_MEMBERSHIP,
            mreq(group, interface),
        )
    }

    /// Joins an IPv6 multicast group on interface index `interface` (0: the stack chooses).
    pub fn join_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.0.set_option(
            libc::IPPROTO_IPV6,
            libc::IPV6_ADD_MEMBERSHIP,
            mreq6(group, interface),
        )
    }

    /// Leaves an IPv6 multicast group.
    pub fn leave_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.0.set_option(
            libc::IPPROTO_IPV6,
            libc::IPV6_DROP_MEMBERSHIP,
            mreq6(group, interface),
        )
    }

    /// Sets `IP_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.0.set_option(
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_LOOP,
            libc::c_int::from(on),
        )
    }

    /// Sets `IP_MULTICAST_TTL`.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        let ttl = libc::c_int::try_from(ttl).map_err(|_| errno(libc::EINVAL))?;
        self.0
            .set_option(libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, ttl)
    }
}

fn mreq(group: &Ipv4Addr, interface: &Ipv4Addr) -> libc::ip_mreq {
    libc::ip_mreq {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from_ne_bytes(group.octets()),
        },
        imr_interface: libc::in_addr {
            s_addr: u32::from_ne_bytes(interface.octets()),
        },
    }
}

fn mreq6(group: &Ipv6Addr, interface: u32) -> libc::ipv6_mreq {
    libc::ipv6_mreq {
        ipv6mr_multiaddr: libc::in6_addr {
            s6_addr: group.octets(),
        },
        ipv6mr_interface: interface,
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("fd", &self.0.as_raw_fd())
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
