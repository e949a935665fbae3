//! Raw ICMPv6 sockets, `socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)`, as Linux gives them to
//! neighbour discovery daemons (a router advertisement daemon, `rdisc6`-like tools).
//!
//! - A receive gives one ICMPv6 message (without its IPv6 header) whose checksum verified,
//!   from every interface, with the sender (its scope id the arrival interface for a
//!   link-local sender); `IPV6_RECVPKTINFO` adds its destination and interface,
//!   `IPV6_RECVHOPLIMIT` its hop limit (`IPV6_HOPLIMIT`). `ICMP6_FILTER` drops the types it
//!   blocks, `bind` keeps messages to that address, `connect` those from that peer.
//! - A send takes an ICMPv6 message; the stack fills in its checksum, as Linux always does for
//!   ICMPv6. The interface is the pktinfo's, else the destination's scope id, else (multicast)
//!   `IPV6_MULTICAST_IF`, else the route. The source is the pktinfo's, else the bound address,
//!   else the interface's link-local address for a link-local or link-scope multicast
//!   destination (Linux's scope rule), else the routed source. The hop limit is
//!   `IPV6_MULTICAST_HOPS` (default 1) for multicast, `IPV6_UNICAST_HOPS` (default 64)
//!   otherwise.
//!
//! Differences from Linux: the socket does not hear the stack's own multicast
//! (`IPV6_MULTICAST_LOOP` is ignored), messages with extension headers and messages from the
//! unspecified address (smoltcp discards those) are not delivered, and an interface added
//! after the socket is served from the socket's next state update.
//! smoltcp goes on answering neighbour solicitations and echo requests itself, as Linux's
//! kernel does next to a raw socket.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::raw;
use smoltcp::wire::{IpProtocol, IpVersion, Ipv6Packet};

use crate::core::{Core, Iface, is_link_local};
use crate::sockets::{Kind, Received, scatter};

/// `ICMP6_FILTER` (level `IPPROTO_ICMPV6`): 256 bits, a set bit blocks that ICMPv6 type.
pub(crate) const ICMP6_FILTER: libc::c_int = 1;
/// Bytes of `struct icmp6_filter`.
pub(crate) const FILTER_LEN: usize = 32;

/// Packets and payload bytes each interface's smoltcp socket holds, each way.
const PACKETS: usize = 32;
const BYTES: usize = 32 * 1500;

fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// A raw ICMPv6 socket.
pub(crate) struct Raw6 {
    /// One smoltcp raw socket per interface slot.
    subs: Vec<(usize, SocketHandle)>,
    /// The bound address (`::` or none: any destination).
    bound: Option<Ipv6Addr>,
    /// The connected peer (only its messages are received).
    peer: Option<Ipv6Addr>,
    /// ICMP6_FILTER: a set bit blocks the type.
    filter: [u32; 8],
}

impl Raw6 {
    /// A fresh socket: every type passes.
    pub(crate) fn new() -> Raw6 {
        Raw6 {
            subs: Vec::new(),
            bound: None,
            peer: None,
            filter: [0; 8],
        }
    }

    /// Makes sure every interface has this socket's smoltcp socket.
    pub(crate) fn attach_all(&mut self, ifaces: &mut [Option<Iface>]) {
        for (slot, f) in ifaces.iter_mut().enumerate() {
            let Some(f) = f else { continue };
            if !self.subs.iter().any(|&(s, _)| s == slot) {
                let rx = raw::PacketBuffer::new(
                    vec![raw::PacketMetadata::EMPTY; PACKETS],
                    vec![0u8; BYTES],
                );
                let tx = raw::PacketBuffer::new(
                    vec![raw::PacketMetadata::EMPTY; PACKETS],
                    vec![0u8; BYTES],
                );
                let sock =
                    raw::Socket::new(Some(IpVersion::Ipv6), Some(IpProtocol::Icmpv6), rx, tx);
                self.subs.push((slot, f.sockets.add(sock)));
            }
        }
    }

    /// Whether a receive would return a message now; messages that the filters drop are
    /// dropped on the way.
    pub(crate) fn readable(&mut self, ifaces: &mut [Option<Iface>]) -> bool {
        self.attach_all(ifaces);
        let mut any = false;
        for &(slot, h) in &self.subs {
            let Some(f) = ifaces.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            let sock = f.sockets.get_mut::<raw::Socket>(h);
            loop {
                let keep = match sock.peek() {
                    Err(_) => break,
                    Ok(p) => incoming(p).is_some_and(|i| self.passes(&i)),
                };
                if keep {
                    any = true;
                    break;
                }
                let _ = sock.recv();
            }
        }
        any
    }

    /// The bound address (`::` when unbound).
    pub(crate) fn local(&self) -> Ipv6Addr {
        self.bound.unwrap_or(Ipv6Addr::UNSPECIFIED)
    }

    /// The connected peer.
    pub(crate) fn peer(&self) -> Option<Ipv6Addr> {
        self.peer
    }

    /// Drops what the socket has on interface `slot` (being removed).
    pub(crate) fn detach(&mut self, slot: usize) {
        self.subs.retain(|&(s, _)| s != slot);
    }

    /// Removes the socket's smoltcp sockets (closing).
    pub(crate) fn close(self, ifaces: &mut [Option<Iface>]) {
        for (slot, h) in self.subs {
            if let Some(f) = ifaces.get_mut(slot).and_then(Option::as_mut) {
                f.sockets.remove(h);
            }
        }
    }

    /// The ICMP6_FILTER value.
    pub(crate) fn filter_bytes(&self) -> [u8; FILTER_LEN] {
        let mut out = [0u8; FILTER_LEN];
        for (chunk, w) in out.chunks_exact_mut(4).zip(self.filter) {
            chunk.copy_from_slice(&w.to_ne_bytes());
        }
        out
    }

    /// Sets ICMP6_FILTER from `value` (Linux copies at most 32 bytes; a shorter value sets
    /// the words it covers).
    pub(crate) fn set_filter(&mut self, value: &[u8]) {
        let mut bytes = self.filter_bytes();
        let n = value.len().min(FILTER_LEN);
        bytes[..n].copy_from_slice(&value[..n]);
        for (w, chunk) in self.filter.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
    }

    fn passes(&self, i: &Incoming<'_>) -> bool {
        let ty = usize::from(i.msg[0]);
        let blocked = self.filter[ty >> 5] & (1 << (ty & 31)) != 0;
        !blocked
            && self.bound.is_none_or(|b| b.is_unspecified() || b == i.dst)
            && self.peer.is_none_or(|p| p == i.src)
    }
}

/// The parts of a received IPv6 packet a receive reports.
struct Incoming<'a> {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    msg: &'a [u8],
}

/// An ICMPv6 message of at least 4 bytes whose checksum verifies, with its header's fields.
fn incoming(packet: &[u8]) -> Option<Incoming<'_>> {
    let ip = Ipv6Packet::new_checked(packet).ok()?;
    if ip.next_header() != IpProtocol::Icmpv6 {
        return None;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let msg = packet.get(40..40 + usize::from(ip.payload_len()))?;
    if msg.len() < 4 || nlconf::ndisc::message::icmpv6_checksum(src, dst, msg) != 0 {
        return None;
    }
    Some(Incoming {
        src,
        dst,
        hop_limit: ip.hop_limit(),
        msg,
    })
}

/// Whether `a` reaches this link only: link-local unicast, or multicast of interface or link
/// scope.
fn link_scoped(a: Ipv6Addr) -> bool {
    is_link_local(IpAddr::V6(a)) || (a.is_multicast() && a.segments()[0] & 0x000f <= 2)
}

impl Core {
    fn raw6(&mut self, id: usize) -> io::Result<&mut Raw6> {
        match &mut self.sock(id)?.kind {
            Kind::Raw6(r) => Ok(r),
            _ => Err(err(libc::EINVAL)),
        }
    }

    /// `bind(2)`: `::` or an address of the stack (`EADDRNOTAVAIL` otherwise).
    pub(crate) fn raw6_bind(&mut self, id: usize, addr: SocketAddr) -> io::Result<()> {
        let SocketAddr::V6(a) = addr else {
            return Err(err(libc::EINVAL));
        };
        let ip = *a.ip();
        if !ip.is_unspecified() && !self.is_local(IpAddr::V6(ip)) {
            return Err(err(libc::EADDRNOTAVAIL));
        }
        self.raw6(id)?.bound = Some(ip);
        Ok(())
    }

    /// `connect(2)`: the default destination, and the only sender heard.
    pub(crate) fn raw6_connect(&mut self, id: usize, addr: SocketAddr) -> io::Result<()> {
        let SocketAddr::V6(a) = addr else {
            return Err(err(libc::EINVAL));
        };
        self.raw6(id)?.peer = Some(*a.ip());
        self.refresh(id);
        Ok(())
    }

    /// Receives one ICMPv6 message (see the module's documentation); EAGAIN when none.
    pub(crate) fn raw6_recv(
        &mut self,
        id: usize,
        bufs: &mut [IoSliceMut<'_>],
        flags: libc::c_int,
    ) -> io::Result<Received> {
        let peek = flags & libc::MSG_PEEK != 0;
        let (ifaces, rec) = self.rec_and_ifaces(id)?;
        let shut_rd = rec.shut_rd;
        let Kind::Raw6(r) = &mut rec.kind else {
            return Err(err(libc::EINVAL));
        };
        for &(slot, h) in &r.subs {
            let Some(f) = ifaces.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            let ifindex = f.index;
            let sock = f.sockets.get_mut::<raw::Socket>(h);
            loop {
                let got = match sock.peek() {
                    Err(_) => break,
                    Ok(p) => incoming(p).filter(|i| r.passes(i)).map(|i| {
                        let copied = scatter(bufs, i.msg);
                        let scope = if is_link_local(IpAddr::V6(i.src)) {
                            ifindex
                        } else {
                            0
                        };
                        Received {
                            len: if flags & libc::MSG_TRUNC != 0 {
                                i.msg.len()
                            } else {
                                copied
                            },
                            from: Some(SocketAddr::V6(SocketAddrV6::new(i.src, 0, 0, scope))),
                            truncated: copied < i.msg.len(),
                            dst: Some((IpAddr::V6(i.dst), slot)),
                            hop_limit: Some(i.hop_limit),
                        }
                    }),
                };
                if got.is_none() || !peek {
                    let _ = sock.recv();
                }
                if let Some(got) = got {
                    return Ok(got);
                }
            }
        }
        if shut_rd {
            return Ok(Received {
                len: 0,
                from: None,
                truncated: false,
                dst: None,
                hop_limit: None,
            });
        }
        Err(err(libc::EAGAIN))
    }

    /// Sends one ICMPv6 message `data` to `dst` (else the connected peer), with the pktinfo
    /// `src` if given (see the module's documentation).
    pub(crate) fn raw6_send(
        &mut self,
        id: usize,
        data: &[u8],
        dst: Option<SocketAddr>,
        src: Option<crate::pktinfo::SendSrc>,
    ) -> io::Result<usize> {
        let rec = self.sock(id)?;
        let (ttl, mcast_hops, mcast_if) = (rec.opts.ttl, rec.opts.mcast_hops, rec.opts.mcast_if);
        let Kind::Raw6(r) = &rec.kind else {
            return Err(err(libc::EINVAL));
        };
        let bound = r.bound.filter(|b| !b.is_unspecified());
        let dst = match (dst, r.peer) {
            (Some(SocketAddr::V6(d)), _) => d,
            (Some(SocketAddr::V4(_)), _) => return Err(err(libc::EINVAL)),
            (None, Some(p)) => SocketAddrV6::new(p, 0, 0, 0),
            (None, None) => return Err(err(libc::EDESTADDRREQ)),
        };
        if data.len() < 4 {
            // No room for the checksum the stack writes.
            return Err(err(libc::EINVAL));
        }
        let ip = *dst.ip();
        let mut how = src.unwrap_or_default();
        if how.ifindex == 0 {
            how.ifindex = if dst.scope_id() != 0 {
                dst.scope_id()
            } else if ip.is_multicast() {
                mcast_if
            } else {
                0
            };
        }
        let (slot, chosen) =
            crate::pktinfo::resolve(self, how, SocketAddr::V6(dst), bound.map(IpAddr::V6))?;
        let source = match chosen {
            Some(IpAddr::V6(a)) => a,
            Some(IpAddr::V4(_)) => return Err(err(libc::EINVAL)),
            None => self
                .raw6_source(slot, ip)
                .ok_or_else(|| err(libc::EADDRNOTAVAIL))?,
        };
        if self.link_down(slot) {
            return Err(err(libc::ENETDOWN));
        }
        let hop_limit = if ip.is_multicast() {
            mcast_hops.unwrap_or(1)
        } else {
            ttl.unwrap_or(64)
        };
        let Core { ifaces, socks, .. } = self;
        let f = ifaces
            .get_mut(slot)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::ENETUNREACH))?;
        if slot != 0 && 40 + data.len() > f.mtu as usize {
            return Err(err(libc::EMSGSIZE));
        }
        let payload_len = u16::try_from(data.len()).map_err(|_| err(libc::EMSGSIZE))?;
        let mut packet = Vec::with_capacity(40 + data.len());
        packet.extend_from_slice(&[0x60, 0, 0, 0]);
        packet.extend_from_slice(&payload_len.to_be_bytes());
        packet.extend_from_slice(&[58, hop_limit]);
        packet.extend_from_slice(&source.octets());
        packet.extend_from_slice(&ip.octets());
        packet.extend_from_slice(data);
        let msg = &mut packet[40..];
        msg[2..4].copy_from_slice(&[0, 0]);
        let sum = nlconf::ndisc::message::icmpv6_checksum(source, ip, msg);
        msg[2..4].copy_from_slice(&sum.to_be_bytes());
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        let Kind::Raw6(r) = &mut rec.kind else {
            return Err(err(libc::EINVAL));
        };
        let h = match r.subs.iter().find(|&&(s, _)| s == slot) {
            Some(&(_, h)) => h,
            None => {
                r.attach_all(ifaces);
                r.subs
                    .iter()
                    .find(|&&(s, _)| s == slot)
                    .map(|&(_, h)| h)
                    .ok_or_else(|| err(libc::ENETUNREACH))?
            }
        };
        let f = ifaces
            .get_mut(slot)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::ENETUNREACH))?;
        f.sockets
            .get_mut::<raw::Socket>(h)
            .send_slice(&packet)
            .map_err(|_| err(libc::EAGAIN))?;
        Ok(data.len())
    }

    /// The source for `dst` leaving by `slot` when nothing chose one: the interface's
    /// link-local address for a link-scoped destination, else the routed source.
    fn raw6_source(&self, slot: usize, dst: Ipv6Addr) -> Option<Ipv6Addr> {
        let f = self.ifaces.get(slot)?.as_ref()?;
        if slot != 0 && link_scoped(dst) {
            return f.addrs.iter().find_map(|&(a, _)| match a {
                IpAddr::V6(v6) if is_link_local(a) => Some(v6),
                _ => None,
            });
        }
        match self.source_for(slot, IpAddr::V6(dst))? {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::IoSliceMut;
    use std::net::{Ipv6Addr, SocketAddrV6};
    use std::time::{Duration, Instant};

    use ioth::cmsg::{CmsgBuf, Cmsgs, PktInfo};
    use ioth::{Socket, Stack};
    use socket2::SockAddr;

    use super::ICMP6_FILTER;

    fn node(hub: &str) -> (Stack, u32, Ipv6Addr) {
        let stack = Stack::new("smoltcp", &[hub]).expect("smoltcp stack");
        let idx = stack.if_nametoindex("vde0").expect("vde0");
        stack.link_set_up(idx, true).expect("up");
        let ll = stack
            .getifaddrs()
            .expect("addresses")
            .into_iter()
            .find_map(|i| match i.addr {
                ioth::config::IfaAddress::Ip(std::net::IpAddr::V6(a))
                    if a.segments()[0] == 0xfe80 =>
                {
                    Some(a)
                }
                _ => None,
            })
            .expect("a link-local address once up");
        (stack, idx, ll)
    }

    fn raw(stack: &Stack) -> Socket {
        stack
            .socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6)
            .expect("raw ICMPv6 socket")
    }

    fn join(s: &Socket, group: Ipv6Addr, ifindex: u32) -> std::io::Result<()> {
        let m = libc::ipv6_mreq {
            ipv6mr_multiaddr: libc::in6_addr {
                s6_addr: group.octets(),
            },
            ipv6mr_interface: ifindex,
        };
        s.set_option(libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, m)
    }

    /// Only `ty` passes.
    fn only(s: &Socket, ty: u8) {
        let mut f = [0xffu8; 32];
        f[usize::from(ty / 8)] &= !(1 << (ty % 8));
        s.setsockopt(libc::IPPROTO_ICMPV6, ICMP6_FILTER, &f)
            .expect("ICMP6_FILTER");
    }

    struct Got {
        msg: Vec<u8>,
        from: SocketAddrV6,
        hop_limit: Option<i32>,
        info: Option<PktInfo>,
    }

    /// The next message within 5 s.
    fn receive(s: &Socket) -> Got {
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 1500];
        let mut control = CmsgBuf::default();
        let meta = s
            .recv_msg(&mut [IoSliceMut::new(&mut buf)], &mut control.0, 0)
            .expect("a message");
        let control = &control.0[..meta.control_len];
        let hop_limit = Cmsgs::new(control).flatten().find_map(|m| {
            (m.level == libc::IPPROTO_IPV6 && m.ty == libc::IPV6_HOPLIMIT)
                .then(|| i32::from_ne_bytes(m.data[..4].try_into().expect("an int")))
        });
        Got {
            msg: buf[..meta.len].to_vec(),
            from: meta
                .addr
                .and_then(|a| a.as_socket_ipv6())
                .expect("an IPv6 sender"),
            hop_limit,
            info: PktInfo::find(control),
        }
    }

    fn quiet(s: &Socket) -> bool {
        let mut buf = [0u8; 64];
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) {
            match s.recv_from(&mut buf, libc::MSG_DONTWAIT) {
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
                other => {
                    eprintln!("unexpected: {other:?} {:?}", &buf[..8]);
                    return false;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

    #[test]
    fn solicitations_reach_a_joined_socket_with_their_hop_limit_and_checksum() {
        let hub = format!("hub://@raw6-{}", std::process::id());
        let (host, _, host_ll) = node(&hub);
        let (router, r_idx, router_ll) = node(&hub);
        let (other, _, _) = node(&hub);

        let listener = raw(&router);
        join(&listener, ALL_ROUTERS, r_idx).expect("join ff02::2");
        only(&listener, 133);
        listener
            .set_option(
                libc::IPPROTO_IPV6,
                libc::IPV6_RECVHOPLIMIT,
                1 as libc::c_int,
            )
            .expect("IPV6_RECVHOPLIMIT");
        listener.set_recv_pktinfo(true).expect("IPV6_RECVPKTINFO");
        let deaf = raw(&other);
        only(&deaf, 133);

        let sender = raw(&host);
        sender
            .set_option(
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_HOPS,
                255 as libc::c_int,
            )
            .expect("IPV6_MULTICAST_HOPS");
        let h_idx = host.if_nametoindex("vde0").expect("vde0");
        // A solicitation with a wrong checksum field: the stack writes the right one.
        let rs = [133u8, 0, 0xde, 0xad, 0, 0, 0, 0];
        let to = SockAddr::from(SocketAddrV6::new(ALL_ROUTERS, 0, 0, h_idx));
        assert_eq!(sender.send_to(&rs, &to, 0).expect("send"), 8);
        let got = receive(&listener);
        assert_eq!(&got.msg[..2], &[133, 0]);
        assert_eq!(
            nlconf::ndisc::message::icmpv6_checksum(host_ll, ALL_ROUTERS, &got.msg),
            0,
            "the checksum verifies"
        );
        assert_eq!(*got.from.ip(), host_ll, "from the link-local address");
        assert_eq!(
            got.from.scope_id(),
            r_idx,
            "scoped to the arrival interface"
        );
        assert_eq!(got.hop_limit, Some(255));
        let info = got.info.expect("pktinfo");
        assert_eq!(
            (info.addr, info.ifindex),
            (std::net::IpAddr::V6(ALL_ROUTERS), r_idx)
        );
        assert!(
            quiet(&deaf),
            "a stack that did not join ff02::2 hears nothing"
        );

        // Unicast, with the default unicast hop limit; an echo request is filtered out.
        let unicast = SockAddr::from(SocketAddrV6::new(router_ll, 0, 0, h_idx));
        sender
            .send_to(&[128, 0, 0, 0, 0, 1, 0, 1], &unicast, 0)
            .expect("echo request");
        sender.send_to(&rs, &unicast, 0).expect("unicast");
        let got = receive(&listener);
        assert_eq!(got.msg[0], 133, "the echo request was filtered");
        assert_eq!(got.hop_limit, Some(64));
        assert_eq!(
            got.info.map(|i| i.addr),
            Some(std::net::IpAddr::V6(router_ll))
        );
    }

    #[test]
    fn multicast_hops_default_to_one_and_sends_are_checked() {
        let hub = format!("hub://@raw6-opts-{}", std::process::id());
        let (a, a_idx, _) = node(&hub);
        let (b, b_idx, _) = node(&hub);
        let s = raw(&a);
        let int = |level, name| s.option::<libc::c_int>(level, name).expect("option");
        assert_eq!(int(libc::SOL_SOCKET, libc::SO_TYPE), libc::SOCK_RAW);
        assert_eq!(
            int(libc::SOL_SOCKET, libc::SO_PROTOCOL),
            libc::IPPROTO_ICMPV6
        );
        assert_eq!(int(libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS), 1);
        let e = s
            .set_option(
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_HOPS,
                256 as libc::c_int,
            )
            .expect_err("256 hops");
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        let mut f = [0u8; 32];
        f[16] = 0x20;
        s.setsockopt(libc::IPPROTO_ICMPV6, ICMP6_FILTER, &f)
            .expect("set filter");
        let mut back = [0u8; 32];
        assert_eq!(
            s.getsockopt(libc::IPPROTO_ICMPV6, ICMP6_FILTER, &mut back)
                .expect("get filter"),
            32
        );
        assert_eq!(back, f);
        assert_eq!(
            join(&s, ALL_ROUTERS, 99)
                .expect_err("no interface 99")
                .raw_os_error(),
            Some(libc::ENODEV)
        );
        let all_nodes = SockAddr::from(SocketAddrV6::new(
            Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
            0,
            0,
            a_idx,
        ));
        assert_eq!(
            s.send_to(&[1, 2], &all_nodes, 0)
                .expect_err("no room for the checksum")
                .raw_os_error(),
            Some(libc::EINVAL)
        );
        assert_eq!(
            s.send(&[133, 0, 0, 0], 0)
                .expect_err("no destination")
                .raw_os_error(),
            Some(libc::EDESTADDRREQ)
        );
        let e = a
            .socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMPV6)
            .expect_err("no raw IPv4 sockets");
        assert_eq!(e.raw_os_error(), Some(libc::EPROTONOSUPPORT));

        // With the default multicast hop limit a message to all nodes arrives with 1.
        let listener = raw(&b);
        only(&listener, 200);
        listener
            .set_option(
                libc::IPPROTO_IPV6,
                libc::IPV6_RECVHOPLIMIT,
                1 as libc::c_int,
            )
            .expect("IPV6_RECVHOPLIMIT");
        s.send_to(&[200, 0, 0, 0, 1, 2, 3, 4], &all_nodes, 0)
            .expect("send to all nodes");
        let got = receive(&listener);
        assert_eq!(got.msg, [200, 0, got.msg[2], got.msg[3], 1, 2, 3, 4]);
        assert_eq!(got.hop_limit, Some(1));
        assert_eq!(got.from.scope_id(), b_idx);
    }
}
