//! The raw ICMPv6 socket of one advertising interface: set up as a router needs it, received
//! solicitations with their hop limit and interface, advertisements sent from the
//! interface's link-local address.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

use ioth::cmsg::{self, CmsgBuf, Cmsgs, PktInfo};
use ioth::{SockAddr, Socket, Stack};
use nlconf::ndisc::ALL_ROUTERS;

/// `ICMP6_FILTER` (level `IPPROTO_ICMPV6`); libc does not name it.
const ICMP6_FILTER: libc::c_int = 1;
/// The all-nodes link-local multicast group, where advertisements go.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

fn context(e: io::Error, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// A received ICMPv6 message.
#[derive(Debug)]
pub struct Incoming {
    /// The sender.
    pub source: Ipv6Addr,
    /// The IPv6 hop limit, when the stack reports it.
    pub hop_limit: Option<u8>,
    /// The interface it arrived on, when the stack reports it (0: unknown).
    pub ifindex: u32,
    /// Bytes in `buf`.
    pub len: usize,
}

/// The raw ICMPv6 socket of interface `ifindex` of a stack.
#[derive(Debug)]
pub struct Endpoint {
    sock: Socket,
    ifindex: u32,
}

impl Endpoint {
    /// Opens the socket: hop limit 255 for every advertisement, multicast by `ifindex`, a
    /// member of all-routers there, solicitations only (where the stack filters), hop
    /// limits and interfaces reported, nonblocking. Errors name the step.
    pub fn open(stack: &Stack, ifindex: u32) -> io::Result<Endpoint> {
        let sock = stack
            .socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6)
            .map_err(|e| context(e, format!("a raw ICMPv6 socket on the {stack:?} stack")))?;
        // RFC 4861 §6.1.2: hosts drop advertisements with another hop limit.
        for (name, what) in [
            (libc::IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS"),
            (libc::IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS"),
        ] {
            sock.set_option(libc::IPPROTO_IPV6, name, 255 as libc::c_int)
                .map_err(|e| context(e, format!("{what} 255")))?;
        }
        sock.set_option(
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_IF,
            ifindex as libc::c_int,
        )
        .map_err(|e| context(e, "IPV6_MULTICAST_IF"))?;
        let mreq = libc::ipv6_mreq {
            ipv6mr_multiaddr: libc::in6_addr {
                s6_addr: ALL_ROUTERS.octets(),
            },
            ipv6mr_interface: ifindex,
        };
        sock.set_option(libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, mreq)
            .map_err(|e| context(e, "joining ff02::2 (IPV6_ADD_MEMBERSHIP)"))?;
        // Our own advertisements need not come back.
        let _ = sock.set_option(
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_LOOP,
            0 as libc::c_int,
        );
        let mut filter = [0xffu8; 32];
        let rs = nlconf::ndisc::message::ROUTER_SOLICITATION;
        filter[usize::from(rs / 8)] &= !(1 << (rs % 8));
        if let Err(e) = sock.setsockopt(libc::IPPROTO_ICMPV6, ICMP6_FILTER, &filter) {
            log::debug!("ICMP6_FILTER: {e}; other ICMPv6 messages are dropped here");
        }
        if let Err(e) = sock.set_option(
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVHOPLIMIT,
            1 as libc::c_int,
        ) {
            log::warn!(
                "IPV6_RECVHOPLIMIT: {e}; solicitations from off the link cannot be told apart"
            );
        }
        if let Err(e) = sock.set_recv_pktinfo(true) {
            log::debug!("IPV6_RECVPKTINFO: {e}; solicitations are taken from every interface");
        }
        sock.set_nonblocking(true)
            .map_err(|e| context(e, "nonblocking mode"))?;
        Ok(Endpoint { sock, ifindex })
    }

    /// The next received message into `buf`, or `None` when none is waiting.
    pub fn receive(&self, buf: &mut [u8]) -> io::Result<Option<Incoming>> {
        let mut control = CmsgBuf::default();
        let meta = match self.sock.recv_msg(
            &mut [IoSliceMut::new(buf)],
            &mut control.0,
            libc::MSG_DONTWAIT,
        ) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(None),
            Err(e) => return Err(e),
        };
        let control = &control.0[..meta.control_len.min(control.0.len())];
        let mut hop_limit = None;
        for m in Cmsgs::new(control).flatten() {
            if m.level == libc::IPPROTO_IPV6 && m.ty == libc::IPV6_HOPLIMIT && m.data.len() >= 4 {
                let v = libc::c_int::from_ne_bytes([m.data[0], m.data[1], m.data[2], m.data[3]]);
                hop_limit = u8::try_from(v).ok();
            }
        }
        let source = meta
            .addr
            .as_ref()
            .and_then(SockAddr::as_socket_ipv6)
            .map_or(Ipv6Addr::UNSPECIFIED, |a| *a.ip());
        Ok(Some(Incoming {
            source,
            hop_limit,
            ifindex: PktInfo::find(control).map_or(0, |i| i.ifindex),
            len: meta.len,
        }))
    }

    /// Sends `msg` to `dst` on the interface, from `source` (its link-local address).
    pub fn send(&self, msg: &[u8], dst: Ipv6Addr, source: Ipv6Addr) -> io::Result<()> {
        let scoped = dst.is_multicast() || dst.segments()[0] & 0xffc0 == 0xfe80;
        let to = SockAddr::from(SocketAddrV6::new(
            dst,
            0,
            0,
            if scoped { self.ifindex } else { 0 },
        ));
        let info = PktInfo {
            addr: IpAddr::V6(source),
            ifindex: self.ifindex,
            spec_dst: None,
        };
        let mut control = CmsgBuf::default();
        let mut used = 0;
        cmsg::push(
            &mut control.0,
            &mut used,
            libc::IPPROTO_IPV6,
            libc::IPV6_PKTINFO,
            &info.in6_pktinfo(),
        )?;
        self.sock
            .send_msg(&[IoSlice::new(msg)], Some(&to), &control.0[..used], 0)
            .map(|_| ())
    }
}

impl AsRawFd for Endpoint {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// The link-local address of interface `iface` of `stack`, if it has one.
pub fn link_local(stack: &Stack, iface: &str) -> Option<Ipv6Addr> {
    stack
        .getifaddrs()
        .ok()?
        .into_iter()
        .find_map(|i| match i.addr {
            ioth::config::IfaAddress::Ip(IpAddr::V6(a))
                if i.name == iface && a.segments()[0] & 0xffc0 == 0xfe80 =>
            {
                Some(a)
            }
            _ => None,
        })
}
