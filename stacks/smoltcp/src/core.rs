//! The state of one stack, behind its lock: interfaces, sockets, bindings, routes, and the
//! poll routine that moves frames through smoltcp and updates socket descriptors.
//!
//! Invariants:
//! - `ifaces[slot]` has index `slot + 1`; slot 0 is `lo`. A removed interface leaves `None`.
//! - Every smoltcp socket lives in the socket set of the interface its traffic uses; an ioth
//!   socket bound to a wildcard address has one smoltcp socket per interface.
//! - `lo` carries 127.0.0.1/8, ::1/128 and a host-prefix copy of every other interface's
//!   addresses, so traffic to the stack's own addresses loops back as on Linux.
//! - A socket's descriptor shows what its next call would do (see `Readiness`); it is updated
//!   after every poll that may have changed socket state and after every call on the socket.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use smoltcp::iface::{
    Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet,
};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr};

use crate::device::{ETH_FRAME, LinkPort, Loopback};
use std::sync::Arc;

use crate::driver::{DriverThread, NEVER, now_micros};
use crate::sockets::SockRec;

/// Frames one drive of a link processes before letting other stacks run.
const INGRESS_BUDGET: usize = 1024;

/// Interface index of `lo`.
pub(crate) const LO_INDEX: u32 = 1;

/// What an interface is attached to.
pub(crate) enum Attachment {
    Loopback(Loopback),
    Link(crate::counters::CountedLink),
}

/// One interface.
pub(crate) struct Iface {
    pub index: u32,
    pub name: String,
    pub attach: Attachment,
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
    pub up: bool,
    pub mtu: u32,
    pub mac: [u8; 6],
    /// Addresses configured on this interface (what netlink reports), in order.
    pub addrs: Vec<(IpAddr, u8)>,
    /// The configuration protocols running on this interface (DHCPv4, router discovery,
    /// DHCPv6).
    pub autoconf: crate::autoconf::Engines,
    /// Whether the driver watches the link's descriptor.
    pub watched: bool,
    /// The link's state generation last seen (see `vde::Link::generation`), to log changes.
    pub link_gen: u64,
    /// With our TCP engine: the (destination, MAC) of TCP frames smoltcp's egress sent on
    /// this link since the engine last looked (see `tcp_ioth::fast`). With smoltcp's TCP:
    /// those to `connecting` destinations since the sockets were last refreshed.
    pub learned: Vec<(IpAddr, [u8; 6])>,
    /// With smoltcp's TCP: destinations of connects on this link whose SYN has not been seen
    /// leaving (rebuilt by `Core::next_deadline`); only TCP frames to them are noted in
    /// `learned`.
    pub connecting: Vec<IpAddr>,
}

/// An explicit route (prefix routes are derived from addresses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StackRoute {
    pub dst: IpAddr,
    pub prefix: u8,
    pub gateway: Option<IpAddr>,
    pub oif: u32,
    pub protocol: u8,
    pub metric: u32,
}

/// A closed smoltcp socket kept until its work is done.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Closing {
    pub slot: usize,
    pub handle: SocketHandle,
    /// For UDP: when to give up on unsent datagrams (µs); None for TCP.
    pub udp_until: Option<u64>,
}

/// What a `close()` waits for before it returns: a closed smoltcp socket's data to leave (or
/// be acknowledged), or a connection of our engine with `SO_LINGER`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Linger {
    Smol(SocketHandle),
    Ioth(ioth_tcp::ConnId),
}

/// How long a packet may wait for its next hop's link-layer address (µs): Linux's
/// `mcast_solicit` = 3 probes, `retrans_time` = 1 s apart.
pub(crate) const NEIGHBOUR_TIMEOUT: u64 = 3_000_000;

/// How long a closed UDP socket's datagrams may wait for neighbour resolution.
pub(crate) const UDP_LINGER_MICROS: u64 = 3_000_000;

/// Transport protocols that own ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    Tcp,
    Udp,
    /// ICMP echo sockets: the "port" is the echo identifier.
    Icmp,
}

struct Binding {
    proto: Proto,
    addr: IpAddr,
    port: u16,
    sock: usize,
    reuse: bool,
    listening: bool,
}

/// The stack's state.
pub(crate) struct Core {
    pub ifaces: Vec<Option<Iface>>,
    pub socks: Vec<Option<SockRec>>,
    free_socks: Vec<usize>,
    pub routes: Vec<StackRoute>,
    binds: Vec<Binding>,
    /// smoltcp sockets the user closed that still have work: TCP finishing its close
    /// handshake, UDP datagrams waiting for the neighbour to answer (sent once it does, as
    /// Linux does, or dropped at the deadline).
    pub closing: Vec<Closing>,
    /// Next hops that UDP datagrams queued in smoltcp may be waiting for (see `waiting`).
    pub waiting: Vec<crate::waiting::Waiting>,
    /// What netlink listeners were last told (see `netlink::notify_changes`); None while
    /// no netlink socket joined a group.
    pub nl_snapshot: Option<nlconf::server::notify::Snapshot>,
    /// Bumped by every change of links, addresses or routes.
    pub config_gen: u64,
    /// `config_gen` when listeners were last told.
    pub notified_gen: u64,
    /// Scratch transmit buffer for link devices.
    pub tx: Box<[u8; ETH_FRAME]>,
    /// Ids of listeners, visited after every ingress packet.
    pub listeners: Vec<usize>,
    /// Next netlink port id.
    pub next_nl_pid: u32,
    /// The driver thread serving this stack, and the stack's key there.
    pub driver: Arc<DriverThread>,
    pub key: u64,
    /// The doorbell side of this stack, installed on its in-process hub links (see `inbox`).
    pub inbox: Arc<crate::inbox::Inbox>,
    /// The earliest timer of an open TCP connection (see `sockets::Liveness`), µs.
    tcp_timer: u64,
    /// Recycled buffers of steered UDP datagrams (see `steer`).
    pub spare_bufs: Vec<Vec<u8>>,
    /// Our TCP engine and its raw sockets, on a stack made with `tcp=ioth` (see
    /// `tcp_ioth`); None: smoltcp's TCP.
    pub tcp: Option<Box<crate::tcp_ioth::TcpIoth>>,
    /// With `tcp`: the sockets that are not the engine's (refreshed after a poll that changed
    /// smoltcp's state; the engine's are refreshed by its events). Unused without `tcp`.
    others: Vec<usize>,
    /// Without `tcp`: how long smoltcp's TCP handshake may take before `ETIMEDOUT`
    /// (`tcp_syn_retries`, see `stack_options::syn_timeout`).
    pub connect_timeout: std::time::Duration,
    /// Whether addresses are announced (the `announce=` option, see `announce`).
    pub announce: bool,
}

/// smoltcp's clock, from the driver clock.
pub(crate) fn smol_now() -> SmolInstant {
    SmolInstant::from_micros(i64::try_from(now_micros()).unwrap_or(i64::MAX))
}

/// `now` (the driver clock as smoltcp takes it) in µs.
pub(crate) fn micros(now: SmolInstant) -> u64 {
    u64::try_from(now.total_micros()).unwrap_or(0)
}

/// Random bytes from the kernel (for MACs and smoltcp's seed).
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if usize::try_from(n).ok() != Some(buf.len()) {
        // Not cryptographic: any varying value will do.
        let t = now_micros() ^ u64::from(std::process::id());
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> ((i % 8) * 8)) as u8 ^ (i as u8).wrapping_mul(151);
        }
    }
}

fn random_mac() -> [u8; 6] {
    let mut mac = [0u8; 6];
    random_bytes(&mut mac);
    mac[0] = (mac[0] | 0x02) & !0x01;
    mac
}

fn smol_config(hw: HardwareAddress) -> Config {
    let mut seed = [0u8; 8];
    random_bytes(&mut seed);
    let mut c = Config::new(hw);
    c.random_seed = u64::from_ne_bytes(seed);
    c
}

/// Whether `addr/prefix` may be configured on an interface (`on_lo`: the loopback
/// interface), as Linux decides; the errno Linux gives otherwise. smoltcp panics on any
/// address that is not unicast, so nothing reaches its tables without passing here.
///
/// IPv6 follows Linux exactly (`EADDRNOTAVAIL` for `::`, multicast, and `::1` off `lo`).
/// IPv4: Linux accepts multicast, `0.0.0.0` and `255.255.255.255` as interface addresses,
/// which a smoltcp interface cannot hold: those give `EINVAL`.
pub(crate) fn check_iface_addr(addr: IpAddr, prefix: u8, on_lo: bool) -> Result<(), i32> {
    match addr {
        IpAddr::V4(a) => {
            if prefix > 32 || a.is_unspecified() || a.is_broadcast() || a.is_multicast() {
                return Err(libc::EINVAL);
            }
        }
        IpAddr::V6(a) => {
            if prefix > 128 {
                return Err(libc::EINVAL);
            }
            if a.is_unspecified() || a.is_multicast() || (a.is_loopback() && !on_lo) {
                return Err(libc::EADDRNOTAVAIL);
            }
        }
    }
    Ok(())
}

/// Whether `gw` can be a peer one talks to: a route's gateway (as Linux checks it) or a
/// learned DNS server. The unspecified address, multicast and the limited broadcast give
/// `EINVAL`.
pub(crate) fn check_unicast_peer(peer: IpAddr) -> Result<(), i32> {
    let bad = match peer {
        IpAddr::V4(a) => a.is_unspecified() || a.is_broadcast() || a.is_multicast(),
        IpAddr::V6(a) => a.is_unspecified() || a.is_multicast(),
    };
    if bad { Err(libc::EINVAL) } else { Ok(()) }
}

pub(crate) fn is_loopback(a: IpAddr) -> bool {
    a.is_loopback()
}

/// Whether `a` is inside `net/prefix`.
pub(crate) fn in_prefix(a: IpAddr, net: IpAddr, prefix: u8) -> bool {
    nlconf::model::mask_addr(a, prefix) == nlconf::model::mask_addr(net, prefix)
        && a.is_ipv4() == net.is_ipv4()
}

impl Core {
    /// A stack with only `lo` (up, 127.0.0.1/8 and ::1/128); `tcp`: our engine's settings
    /// (`tcp=ioth`), else smoltcp's TCP.
    pub(crate) fn new(
        driver: Arc<DriverThread>,
        key: u64,
        tcp: Option<ioth_tcp::Config>,
    ) -> io::Result<Core> {
        let mut lo_dev = Loopback::new(65536);
        let mut iface = Interface::new(smol_config(HardwareAddress::Ip), &mut lo_dev, smol_now());
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(Ipv4Addr::LOCALHOST.into(), 8));
            let _ = a.push(IpCidr::new(Ipv6Addr::LOCALHOST.into(), 128));
        });
        let lo = Iface {
            index: LO_INDEX,
            name: "lo".into(),
            attach: Attachment::Loopback(lo_dev),
            iface,
            sockets: SocketSet::new(Vec::new()),
            up: true,
            mtu: 65536,
            mac: [0; 6],
            autoconf: crate::autoconf::Engines::default(),
            watched: false,
            link_gen: 0,
            learned: Vec::new(),
            connecting: Vec::new(),
            addrs: vec![
                (IpAddr::V4(Ipv4Addr::LOCALHOST), 8),
                (IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
            ],
        };
        Ok(Core {
            ifaces: vec![Some(lo)],
            socks: Vec::new(),
            free_socks: Vec::new(),
            routes: Vec::new(),
            binds: Vec::new(),
            closing: Vec::new(),
            waiting: Vec::new(),
            nl_snapshot: None,
            config_gen: 0,
            notified_gen: 0,
            tx: Box::new([0u8; ETH_FRAME]),
            listeners: Vec::new(),
            next_nl_pid: 1,
            driver,
            key,
            inbox: crate::inbox::Inbox::new(),
            tcp_timer: NEVER,
            spare_bufs: Vec::new(),
            tcp: tcp.map(|c| Box::new(crate::tcp_ioth::TcpIoth::new(c))),
            others: Vec::new(),
            connect_timeout: crate::stack_options::syn_timeout(6),
            announce: false,
        })
    }

    /// Adds an interface attached to `link`, down and without addresses, and returns its slot.
    pub(crate) fn add_link_iface(
        &mut self,
        name: &str,
        link: vde::Link,
        index: Option<u32>,
        mac: Option<[u8; 6]>,
    ) -> io::Result<usize> {
        let slot = match index {
            Some(i) if i > LO_INDEX => {
                let s = (i - 1) as usize;
                if self.ifaces.get(s).is_some_and(Option::is_some) {
                    return Err(io::Error::from_raw_os_error(libc::EEXIST));
                }
                s
            }
            Some(_) => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
            None => self.ifaces.len(),
        };
        if slot >= 0xffff {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        let mac = mac.unwrap_or_else(random_mac);
        if !EthernetAddress(mac).is_unicast() || mac == [0; 6] {
            // smoltcp panics on a multicast or zero MAC; Linux refuses one with EADDRNOTAVAIL.
            return Err(io::Error::from_raw_os_error(libc::EADDRNOTAVAIL));
        }
        let mtu = 1500u32;
        let link = crate::counters::CountedLink::new(link);
        let iface = {
            let mut port = LinkPort {
                link: &link,
                mac,
                rx: None,
                tx: &mut self.tx,
                mtu: mtu as usize,
                learn: None,
                learn_only: &[],
            };
            Interface::new(
                smol_config(HardwareAddress::Ethernet(EthernetAddress(mac))),
                &mut port,
                smol_now(),
            )
        };
        // In-process hub links deliver on the sender's thread (see `inbox`); others ignore it.
        link.set_doorbell(self.inbox.doorbell());
        let new = Iface {
            index: (slot + 1) as u32,
            name: name.to_owned(),
            attach: Attachment::Link(link),
            iface,
            sockets: SocketSet::new(Vec::new()),
            up: false,
            mtu,
            mac,
            addrs: Vec::new(),
            autoconf: crate::autoconf::Engines::default(),
            watched: true,
            link_gen: 0,
            learned: Vec::new(),
            connecting: Vec::new(),
        };
        if slot >= self.ifaces.len() {
            self.ifaces.resize_with(slot + 1, || None);
        }
        self.ifaces[slot] = Some(new);
        Ok(slot)
    }

    /// The interface with index `index`.
    pub(crate) fn iface(&self, index: u32) -> Option<&Iface> {
        self.ifaces.get(index.checked_sub(1)? as usize)?.as_ref()
    }

    /// The interface with index `index`, mutably.
    pub(crate) fn iface_mut(&mut self, index: u32) -> Option<&mut Iface> {
        self.ifaces
            .get_mut(index.checked_sub(1)? as usize)?
            .as_mut()
    }

    /// Slots of interfaces that exist.
    pub(crate) fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.ifaces
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.as_ref().map(|_| i))
    }

    /// The links the driver watches (up to `out.len()`), as (slot, descriptor); returns how
    /// many were written.
    pub(crate) fn watched_links(&self, out: &mut [(u32, std::os::fd::RawFd)]) -> usize {
        let mut n = 0;
        for (slot, f) in self.ifaces.iter().enumerate() {
            if let Some(f) = f
                && f.watched
                && f.up
                && let Attachment::Link(l) = &f.attach
            {
                if n == out.len() {
                    break;
                }
                out[n] = (slot as u32, std::os::fd::AsRawFd::as_raw_fd(l));
                n += 1;
            }
        }
        n
    }

    /// Whether `addr` is one of this stack's addresses (unspecified counts as local).
    pub(crate) fn is_local(&self, addr: IpAddr) -> bool {
        addr.is_unspecified()
            || self
                .ifaces
                .iter()
                .flatten()
                .any(|f| f.addrs.iter().any(|(a, _)| *a == addr))
            || (addr.is_loopback() && addr.is_ipv4())
    }

    /// Slots whose smoltcp interface accepts traffic to `addr`: every interface for an
    /// unspecified address; otherwise the interface holding it and `lo` (which mirrors it).
    pub(crate) fn slots_for_local(&self, addr: IpAddr) -> Vec<usize> {
        if addr.is_unspecified() {
            return self.slots().collect();
        }
        let mut v: Vec<usize> = self
            .slots()
            .filter(|&s| {
                self.ifaces[s]
                    .as_ref()
                    .is_some_and(|f| f.addrs.iter().any(|(a, _)| *a == addr))
            })
            .collect();
        if (addr.is_loopback() || !v.is_empty()) && !v.contains(&0) {
            v.push(0);
        }
        v
    }

    /// The interface slot traffic to `dst` leaves by, or `ENETUNREACH`.
    pub(crate) fn route(&self, dst: IpAddr) -> io::Result<usize> {
        route_in(&self.ifaces, &self.routes, dst)
    }

    /// Whether interface `slot` is a link whose other side is gone (no carrier).
    pub(crate) fn link_down(&self, slot: usize) -> bool {
        matches!(
            self.ifaces.get(slot).and_then(Option::as_ref).map(|f| &f.attach),
            Some(Attachment::Link(l)) if !l.is_up()
        )
    }

    /// The source address for traffic to `dst` leaving by `slot`.
    pub(crate) fn source_for(&self, slot: usize, dst: IpAddr) -> Option<IpAddr> {
        if slot == 0 {
            if dst.is_loopback() {
                return Some(match dst {
                    IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                });
            }
            return Some(dst);
        }
        let f = self.ifaces.get(slot)?.as_ref()?;
        let same_family = |a: &IpAddr| a.is_ipv4() == dst.is_ipv4();
        f.addrs
            .iter()
            .find(|(a, p)| in_prefix(dst, *a, *p))
            .or_else(|| {
                f.addrs
                    .iter()
                    .find(|(a, _)| same_family(a) && !is_link_local(*a))
            })
            .or_else(|| f.addrs.iter().find(|(a, _)| same_family(a)))
            .map(|(a, _)| *a)
    }

    /// Rewrites smoltcp's address list of `slot` and of `lo` from the configured addresses.
    pub(crate) fn sync_addrs(&mut self) -> io::Result<()> {
        self.config_gen += 1;
        let mut mirror: Vec<IpCidr> = Vec::new();
        for s in self.slots().collect::<Vec<_>>() {
            let f = self.ifaces[s].as_mut().expect("slot exists");
            // Every way in checks addresses; this keeps smoltcp safe from any that slipped by.
            let lo = s == 0;
            f.addrs.retain(|&(a, p)| {
                let ok = check_iface_addr(a, p, lo).is_ok();
                if !ok {
                    crate::ident::error!(
                        "{}: address {a}/{p} dropped: not a unicast address",
                        f.name
                    );
                }
                ok
            });
            let cidrs: Vec<IpCidr> = f
                .addrs
                .iter()
                .map(|(a, p)| IpCidr::new((*a).into(), *p))
                .collect();
            if s != 0 {
                mirror.extend(
                    f.addrs
                        .iter()
                        .map(|(a, _)| IpCidr::new((*a).into(), if a.is_ipv4() { 32 } else { 128 })),
                );
            }
            let mut full = false;
            f.iface.update_ip_addrs(|list| {
                list.clear();
                for c in &cidrs {
                    if list.push(*c).is_err() {
                        full = true;
                    }
                }
            });
            if full && !lo {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
        }
        if let Some(lo) = self.ifaces[0].as_mut() {
            lo.iface.update_ip_addrs(|list| {
                for c in &mirror {
                    // lo's table is bounded: beyond it, own-address loopback stops working.
                    let _ = list.push(*c);
                }
            });
        }
        if let Some(t) = self.tcp.as_deref_mut() {
            t.set_locals(&self.ifaces);
        }
        Ok(())
    }

    /// Rebuilds every interface's smoltcp gateway routes from the stack's routes.
    pub(crate) fn sync_routes(&mut self) -> io::Result<()> {
        self.config_gen += 1;
        let routes = self.routes.clone();
        let mut full = false;
        for s in self.slots().collect::<Vec<_>>() {
            let f = self.ifaces[s].as_mut().expect("slot exists");
            let index = f.index;
            f.iface.routes_mut().update(|table| {
                table.clear();
                for r in routes.iter().filter(|r| r.oif == index) {
                    if let Some(gw) = r.gateway {
                        let route = smoltcp::iface::Route {
                            cidr: IpCidr::new(r.dst.into(), r.prefix),
                            via_router: gw.into(),
                            preferred_until: None,
                            expires_at: None,
                        };
                        if table.push(route).is_err() {
                            full = true;
                        }
                    }
                }
            });
        }
        if full {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        Ok(())
    }

    // ---- sockets -------------------------------------------------------------------------

    /// Stores a socket record and returns its id.
    pub(crate) fn insert_sock(&mut self, rec: SockRec) -> usize {
        let other = self.tcp.is_some() && !matches!(rec.kind, crate::sockets::Kind::IothTcp(_));
        let id = if let Some(id) = self.free_socks.pop() {
            self.socks[id] = Some(rec);
            id
        } else {
            self.socks.push(Some(rec));
            self.socks.len() - 1
        };
        if other {
            self.others.push(id);
        }
        id
    }

    /// Removes a socket record (its smoltcp sockets must already be released).
    pub(crate) fn remove_sock(&mut self, id: usize) -> Option<SockRec> {
        let rec = self.socks.get_mut(id)?.take()?;
        self.free_socks.push(id);
        self.unbind(id);
        self.listeners.retain(|&l| l != id);
        if self.tcp.is_some() {
            self.others.retain(|&o| o != id);
        }
        Some(rec)
    }

    /// The socket `id`, or EBADF.
    pub(crate) fn sock(&mut self, id: usize) -> io::Result<&mut SockRec> {
        self.socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))
    }

    /// Whether (`proto`, `addr`, `port`) can be bound by a socket with `reuse`.
    fn bind_conflict(&self, proto: Proto, addr: IpAddr, port: u16, reuse: bool, me: usize) -> bool {
        self.binds.iter().any(|b| {
            b.proto == proto
                && b.port == port
                && b.sock != me
                && b.addr.is_ipv4() == addr.is_ipv4()
                && (b.addr == addr || b.addr.is_unspecified() || addr.is_unspecified())
                && !(reuse && b.reuse && (proto != Proto::Tcp || !b.listening))
        })
    }

    /// Binds socket `me` to `addr` (port 0: an ephemeral port); returns the bound address.
    pub(crate) fn bind_port(
        &mut self,
        proto: Proto,
        addr: SocketAddr,
        reuse: bool,
        me: usize,
    ) -> io::Result<SocketAddr> {
        self.bind_port_avoiding(proto, addr, reuse, me, &|_| false)
    }

    /// [`Core::bind_port`], an ephemeral port also avoiding the ports `avoid` names (our TCP
    /// engine's four-tuples still in use, TIME-WAIT included).
    pub(crate) fn bind_port_avoiding(
        &mut self,
        proto: Proto,
        addr: SocketAddr,
        reuse: bool,
        me: usize,
        avoid: &dyn Fn(u16) -> bool,
    ) -> io::Result<SocketAddr> {
        if !self.is_local(addr.ip()) {
            return Err(io::Error::from_raw_os_error(libc::EADDRNOTAVAIL));
        }
        let port = if addr.port() == 0 {
            self.ephemeral(proto, addr.ip(), me, avoid)?
        } else if self.bind_conflict(proto, addr.ip(), addr.port(), reuse, me) {
            return Err(io::Error::from_raw_os_error(libc::EADDRINUSE));
        } else {
            addr.port()
        };
        self.binds.push(Binding {
            proto,
            addr: addr.ip(),
            port,
            sock: me,
            reuse,
            listening: false,
        });
        Ok(SocketAddr::new(addr.ip(), port))
    }

    /// An ephemeral port for `proto` on `addr`: RFC 6056's simple randomization (algorithm
    /// 1), a random start in Linux's range 32768..=60999 and the next free one from there,
    /// so successive runs (and stacks) do not reuse each other's four-tuples.
    fn ephemeral(
        &mut self,
        proto: Proto,
        addr: IpAddr,
        me: usize,
        avoid: &dyn Fn(u16) -> bool,
    ) -> io::Result<u16> {
        const LOW: u16 = 32768;
        const HIGH: u16 = 60999;
        let span = u32::from(HIGH - LOW) + 1;
        let mut r = [0u8; 4];
        random_bytes(&mut r);
        let start = u32::from_ne_bytes(r) % span;
        for i in 0..span {
            let p = LOW + u16::try_from((start + i) % span).unwrap_or(0);
            if !self.bind_conflict(proto, addr, p, false, me) && !avoid(p) {
                return Ok(p);
            }
        }
        Err(io::Error::from_raw_os_error(libc::EADDRINUSE))
    }

    /// Marks socket `me`'s binding as listening (no more sharing through SO_REUSEADDR).
    pub(crate) fn mark_listening(&mut self, me: usize) {
        for b in self.binds.iter_mut().filter(|b| b.sock == me) {
            b.listening = true;
        }
    }

    /// Gives back every port socket `me` holds.
    pub(crate) fn unbind(&mut self, me: usize) {
        self.binds.retain(|b| b.sock != me);
    }

    // ---- polling -------------------------------------------------------------------------

    /// Advances the stack: ingress on `slot` (or every interface) with the lent batch, egress
    /// everywhere, loopback to quiescence, then socket descriptors. Returns the next deadline.
    pub(crate) fn drive(&mut self, slot: Option<u32>, batch: Option<&mut vde::FrameBatch>) -> u64 {
        // Unit tests of failure containment: once armed, an ingress drive (whichever thread
        // runs it) of a stack with an interface named `panic0` panics here, as a bug in
        // smoltcp would while polling.
        #[cfg(test)]
        if batch.is_some()
            && crate::stack::tests::PANIC_ARMED.load(std::sync::atomic::Ordering::SeqCst)
            && self.ifaces.iter().flatten().any(|f| f.name == "panic0")
        {
            panic!("injected failure while polling (test)");
        }
        let now = smol_now();
        let mut changed = false;
        let mut batch = batch;
        // Ingress on the interface that has frames (every link on a timer), then egress on
        // every link. Slots are walked by index: nothing is allocated per call.
        for s in 1..self.ifaces.len() {
            let ingress = slot.is_none_or(|want| want as usize == s);
            let b = if ingress { batch.as_deref_mut() } else { None };
            changed |= self.poll_link(s, now, b);
        }
        changed |= self.poll_lo(now);
        if self.tcp.is_some() {
            changed |= self.tcp_round(now);
        }
        self.after_poll(changed, micros(now));
        self.next_deadline(now)
    }

    /// Flushes egress after an application call (no ingress on links: drivers do that).
    pub(crate) fn flush(&mut self) -> u64 {
        let now = smol_now();
        let mut changed = false;
        for s in 1..self.ifaces.len() {
            changed |= self.poll_link(s, now, None);
        }
        changed |= self.poll_lo(now);
        if self.tcp.is_some() {
            changed |= self.tcp_round(now);
        }
        self.after_poll(changed, micros(now));
        self.next_deadline(now)
    }

    /// Whether socket `id` is one of our TCP engine's (its calls change nothing of smoltcp's).
    pub(crate) fn is_engine_socket(&self, id: usize) -> bool {
        matches!(
            self.socks.get(id),
            Some(Some(SockRec {
                kind: crate::sockets::Kind::IothTcp(_),
                ..
            }))
        )
    }

    /// Flushes after a call on a socket of our TCP engine: the engine's round (its output,
    /// the egress of the links it sent on, `lo` when it looped), then descriptors and the
    /// deadline. The other egress passes of [`Core::flush`] would find nothing: such a call
    /// queues nothing on smoltcp's sockets.
    pub(crate) fn flush_engine(&mut self) -> u64 {
        let now = smol_now();
        let changed = self.tcp_round(now);
        self.after_poll(changed, micros(now));
        self.next_deadline(now)
    }

    /// Ingress on link `s` with `batch` (none: egress only), then its egress. With our TCP
    /// engine, the TCP segments of each packet go to it as they arrive.
    pub(crate) fn poll_link(
        &mut self,
        s: usize,
        now: SmolInstant,
        batch: Option<&mut vde::FrameBatch>,
    ) -> bool {
        let Core {
            ifaces,
            tx,
            listeners,
            socks,
            tcp,
            config_gen,
            ..
        } = self;
        let Some(f) = ifaces.get_mut(s).and_then(Option::as_mut) else {
            return false;
        };
        let Attachment::Link(link) = &f.attach else {
            return false;
        };
        let mut changed = false;
        let mut pos;
        let generation = link.generation();
        if generation != f.link_gen {
            // The switch went away or came back (a vde:// link reconnects by itself; its
            // descriptor stays the same and wakes the driver for each retry): netlink shows
            // it as IFF_RUNNING/operstate, UDP sends give ENETDOWN while it is down.
            f.link_gen = generation;
            *config_gen += 1;
            if link.is_up() {
                crate::ident::info!("{}: link {} is up again", f.name, link.vnl());
            } else {
                crate::ident::warn!("{}: link {} is down (no carrier)", f.name, link.vnl());
            }
        }
        if !f.up {
            // A down interface drops what arrives and sends nothing.
            if let Some(b) = batch {
                link.discard(b);
            }
            return false;
        }
        let mut port = LinkPort {
            link,
            mac: f.mac,
            rx: None,
            tx,
            mtu: f.mtu as usize,
            // Our engine notes every TCP frame; smoltcp's TCP only those of pending connects.
            learn: (tcp.is_some() || !f.connecting.is_empty()).then_some(&mut f.learned),
            learn_only: &f.connecting,
        };
        if let Some(b) = batch {
            // The batch is the driver's scratch, shared by its stacks: start past whatever it
            // holds so the first receive reads this link.
            pos = b.len();
            port.rx = Some((b, &mut pos));
            f.iface.poll_maintenance(now);
            if let Some(t) = tcp.as_deref_mut() {
                t.ensure_rx(s, &mut f.sockets);
            }
            // One packet at a time, so that listeners can hand each SYN a fresh socket. Stop
            // after a budget (the link stays readable, so the driver comes back), but never
            // with received frames left in the batch.
            let mut processed = 0usize;
            let link = port.link;
            loop {
                crate::sockets::refill_listeners(listeners, socks, s, &mut f.sockets);
                // Each packet is counted once, before anything takes it (see `snmp`); the
                // frame looked at is the one taken next (nothing is read past an empty peek).
                let Some(frame) = port.peek() else {
                    break;
                };
                let mut probe = None;
                let mut bad = false;
                if crate::counters::IfCounters::accepts(frame, f.mac)
                    && let Some(ip) = crate::snmp::ip_of_frame(frame)
                {
                    match link.counters.snmp.inbound(
                        ip,
                        true,
                        frame[0] & 1 != 0,
                        &f.sockets,
                        tcp.is_none(),
                        f.autoconf.dhcp4.is_some(),
                    ) {
                        crate::snmp::Inbound::Pass => {}
                        crate::snmp::Inbound::Udp(p) => probe = Some(p),
                        crate::snmp::Inbound::Drop => bad = true,
                    }
                }
                // Our engine's TCP skips smoltcp when it can (see `tcp_ioth::fast`).
                let fast = !bad
                    && match (tcp.as_deref_mut(), port.peek()) {
                        (Some(t), Some(frame)) => t.take_fast(s, frame, f.mac, f.mtu, micros(now)),
                        _ => false,
                    };
                if bad || fast {
                    port.skip();
                } else {
                    if (!listeners.is_empty() || f.autoconf.dhcp4.is_some())
                        && let Some(frame) = port.peek()
                    {
                        if !listeners.is_empty() {
                            crate::sockets::clear_stale_tuple(&mut f.sockets, frame);
                        }
                        if let Some(dhcp) = f.autoconf.dhcp4.as_mut() {
                            dhcp.snoop(frame, f.mac);
                        }
                    }
                    match f.iface.poll_ingress_single(now, &mut port, &mut f.sockets) {
                        PollIngressSingleResult::None => break,
                        PollIngressSingleResult::PacketProcessed => {}
                        PollIngressSingleResult::SocketStateChanged => changed = true,
                    }
                    if let Some(p) = probe {
                        link.counters.snmp.settle(p, &f.sockets);
                    }
                    if let Some(t) = tcp.as_deref_mut() {
                        t.drain(s, &mut f.sockets, f.mtu, micros(now));
                    }
                }
                processed += 1;
                if processed >= INGRESS_BUDGET
                    && port.rx.as_ref().is_some_and(|(b, p)| **p >= b.len())
                {
                    // What is left must wake the driver (a doorbell link's descriptor stays
                    // quiet while its rings are taken).
                    link.wake();
                    break;
                }
            }
            crate::sockets::refill_listeners(listeners, socks, s, &mut f.sockets);
            port.rx = None;
        }
        loop {
            match f.iface.poll_egress(now, &mut port, &mut f.sockets) {
                PollResult::None => break,
                PollResult::SocketStateChanged => changed = true,
            }
        }
        changed
    }

    /// `lo` to quiescence: egress, then what it looped back as ingress, again.
    pub(crate) fn poll_lo(&mut self, now: SmolInstant) -> bool {
        let Core {
            ifaces,
            listeners,
            socks,
            tcp,
            ..
        } = self;
        let Some(f) = ifaces.get_mut(0).and_then(Option::as_mut) else {
            return false;
        };
        let Attachment::Loopback(dev) = &mut f.attach else {
            return false;
        };
        let mut changed = false;
        f.iface.poll_maintenance(now);
        for _ in 0..64 {
            loop {
                match f.iface.poll_egress(now, dev, &mut f.sockets) {
                    PollResult::None => break,
                    PollResult::SocketStateChanged => changed = true,
                }
            }
            if !dev.pending() {
                break;
            }
            loop {
                crate::sockets::refill_listeners(listeners, socks, 0, &mut f.sockets);
                // Counted once, before smoltcp takes it; `lo` checks no checksum.
                let mut probe = None;
                if let Some(p) = dev.front() {
                    match dev.counters.snmp.inbound(
                        p,
                        false,
                        false,
                        &f.sockets,
                        tcp.is_none(),
                        false,
                    ) {
                        crate::snmp::Inbound::Pass => {}
                        crate::snmp::Inbound::Udp(p) => probe = Some(p),
                        crate::snmp::Inbound::Drop => {
                            dev.skip();
                            continue;
                        }
                    }
                }
                match f.iface.poll_ingress_single(now, dev, &mut f.sockets) {
                    PollIngressSingleResult::None => break,
                    PollIngressSingleResult::PacketProcessed => {}
                    PollIngressSingleResult::SocketStateChanged => changed = true,
                }
                if let Some(p) = probe {
                    dev.counters.snmp.settle(p, &f.sockets);
                }
                if let Some(t) = tcp.as_deref_mut() {
                    t.drain(0, &mut f.sockets, f.mtu, micros(now));
                }
            }
            crate::sockets::refill_listeners(listeners, socks, 0, &mut f.sockets);
        }
        changed
    }

    fn next_deadline(&mut self, now: SmolInstant) -> u64 {
        let mut next = NEVER;
        for f in self.ifaces.iter_mut().flatten() {
            if let Some(at) = f.iface.poll_at(now, &f.sockets) {
                let at = u64::try_from(at.total_micros()).unwrap_or(0);
                next = next.min(at);
            }
        }
        next = next.min(self.autoconf_deadline());
        next = next.min(crate::waiting::deadline(&self.waiting));
        if self.tcp.is_some() {
            // No smoltcp TCP sockets, hence no `Liveness` timers: the engine has its own.
            next = next.min(crate::tcp_ioth::deadline(self.tcp.as_deref()));
        } else {
            self.tcp_timer = self
                .socks
                .iter()
                .flatten()
                .filter_map(SockRec::timer)
                .min()
                .unwrap_or(NEVER);
            next = next.min(self.tcp_timer);
            self.watch_connects();
        }
        if !self.closing.is_empty() {
            // Finishing closes are reaped at least every 100 ms.
            next = next.min(micros(now) + 100_000);
        }
        next
    }

    /// Lists on each link the destinations of smoltcp TCP connects whose SYN has not been
    /// seen leaving, so that its egress notes when one does (see `sockets::Tcp::unresolved`).
    fn watch_connects(&mut self) {
        for f in self.ifaces.iter_mut().flatten() {
            f.connecting.clear();
        }
        for rec in self.socks.iter().flatten() {
            if let crate::sockets::Kind::Tcp(t) = &rec.kind
                && let (Some(dst), Some((slot, _))) = (t.unresolved, t.conn)
                && let Some(f) = self.ifaces.get_mut(slot).and_then(Option::as_mut)
                && !f.connecting.contains(&dst)
            {
                f.connecting.push(dst);
            }
        }
    }

    /// Reaps finished closes, applies what protocol engines learned, and updates every
    /// socket's descriptor.
    fn after_poll(&mut self, changed: bool, now: u64) {
        let changed = changed | self.run_autoconf();
        if !self.waiting.is_empty() {
            crate::waiting::probe_due(
                &mut self.waiting,
                &self.ifaces,
                &self.routes,
                &self.socks,
                now,
            );
        }
        if self.nl_snapshot.is_some() && self.config_gen != self.notified_gen {
            self.notify_changes();
        }
        let Core {
            ifaces, closing, ..
        } = self;
        closing.retain(|c| {
            let Some(f) = ifaces.get_mut(c.slot).and_then(Option::as_mut) else {
                return false;
            };
            let done = match c.udp_until {
                None => f.sockets.get::<tcp::Socket>(c.handle).state() == tcp::State::Closed,
                Some(until) => {
                    now >= until
                        || f.sockets
                            .get::<smoltcp::socket::udp::Socket>(c.handle)
                            .send_queue()
                            == 0
                }
            };
            if done {
                f.sockets.remove(c.handle);
            }
            !done
        });
        if self.tcp.is_some() {
            self.after_tcp_poll(changed);
            return;
        }
        if changed {
            // Datagrams smoltcp gave a socket of the other family go to their own socket.
            for id in 0..self.socks.len() {
                if matches!(
                    self.socks[id].as_ref().map(|r| &r.kind),
                    Some(crate::sockets::Kind::Udp(u)) if u.dual
                ) {
                    crate::steer::steer(self, id);
                }
            }
        }
        // A TCP timer that came due is run by the refresh.
        if changed || now >= self.tcp_timer {
            for id in 0..self.socks.len() {
                self.refresh(id);
            }
            // The refresh saw which connects' SYNs left.
            for f in self.ifaces.iter_mut().flatten() {
                f.learned.clear();
            }
        }
    }

    /// [`Core::after_poll`] on a stack with our TCP engine: the sockets that are not the
    /// engine's are visited as on any stack when smoltcp's state changed, the engine's only
    /// when its events name them.
    fn after_tcp_poll(&mut self, changed: bool) {
        if changed {
            for i in 0..self.others.len() {
                let id = self.others[i];
                if matches!(
                    self.socks[id].as_ref().map(|r| &r.kind),
                    Some(crate::sockets::Kind::Udp(u)) if u.dual
                ) {
                    crate::steer::steer(self, id);
                }
            }
            for i in 0..self.others.len() {
                self.refresh(self.others[i]);
            }
        }
        let mut ids = Vec::new();
        if let Some(t) = self.tcp.as_deref_mut() {
            t.changed_sockets(&mut ids);
        }
        for id in ids {
            self.refresh(id);
        }
    }

    /// Recomputes socket `id`'s state and descriptor.
    pub(crate) fn refresh(&mut self, id: usize) {
        let Core {
            ifaces, socks, tcp, ..
        } = self;
        if let Some(Some(rec)) = socks.get_mut(id) {
            match tcp.as_deref_mut() {
                Some(t) if matches!(rec.kind, crate::sockets::Kind::IothTcp(_)) => {
                    crate::tcp_ioth::sock::refresh(&mut t.engine, rec)
                }
                _ => rec.refresh(ifaces),
            }
        }
    }

    /// How many sockets are open (closing ones not counted).
    pub(crate) fn open_sockets(&self) -> usize {
        self.socks.len() - self.free_socks.len()
    }

    /// What a flush costs, in sockets visited: smoltcp's egress visits every smoltcp socket,
    /// our engine only the connections with something to send (so its TCP sockets do not
    /// count).
    pub(crate) fn flush_cost(&self) -> usize {
        if self.tcp.is_some() {
            self.others.len()
        } else {
            self.open_sockets()
        }
    }

    /// Socket ids, for iteration.
    pub(crate) fn sock_ids(&self) -> Vec<usize> {
        (0..self.socks.len())
            .filter(|&i| self.socks[i].is_some())
            .collect()
    }

    /// Takes every link interface out of the stack (the stack is going away), so the caller
    /// can close the links before the deleting call returns (a served hub's directory, a
    /// switch port), not whenever the last reference to the stack happens to drop (a driver
    /// thread may hold one briefly; a process may exit right after deleting its stack).
    /// Dropping them may join a hub's thread: do it after releasing the stack's lock.
    pub(crate) fn take_links(&mut self) -> Vec<Iface> {
        let mut taken = Vec::new();
        for slot in 0..self.ifaces.len() {
            if !matches!(
                self.ifaces[slot].as_ref().map(|f| &f.attach),
                Some(Attachment::Link(_))
            ) {
                continue;
            }
            if let Some(f) = self.ifaces[slot].take() {
                if let Attachment::Link(l) = &f.attach {
                    self.driver.unwatch(std::os::fd::AsRawFd::as_raw_fd(l));
                }
                self.detach_sockets(slot);
                taken.push(f);
            }
        }
        taken
    }

    /// After a failure (a panic while the stack was worked on): stop watching the links, so
    /// the driver does not spin on them, and make every socket's descriptor show hang-up, so
    /// threads blocked on them wake and get the stack's error. Touches only the descriptors
    /// and the driver, not smoltcp's state, which may be inconsistent.
    pub(crate) fn stop_after_failure(&mut self) {
        for f in self.ifaces.iter_mut().flatten() {
            if let Attachment::Link(l) = &f.attach {
                self.driver.unwatch(std::os::fd::AsRawFd::as_raw_fd(l));
            }
            f.watched = false;
        }
        let all = crate::readiness::Ready {
            readable: true,
            writable: true,
            rdhup: true,
            hup: true,
        };
        for rec in self.socks.iter_mut().flatten() {
            rec.ready.show(all);
        }
    }

    /// Ends every socket that uses interface `slot` (it is being removed).
    pub(crate) fn detach_sockets(&mut self, slot: usize) {
        for id in self.sock_ids() {
            if let Some(Some(rec)) = self.socks.get_mut(id) {
                rec.detach(slot);
            }
        }
        self.closing.retain(|c| c.slot != slot);
        if let Some(t) = self.tcp.as_deref_mut() {
            t.detach(slot);
        }
    }

    /// Whether none of `lingering` (closed sockets) still has data to send or to have
    /// acknowledged.
    pub(crate) fn flushed(&self, lingering: &[Linger]) -> bool {
        lingering.iter().all(|l| match *l {
            Linger::Ioth(c) => self.ioth_flushed(c),
            Linger::Smol(h) => !self.closing.iter().any(|c| {
                c.handle == h
                    && match c.udp_until {
                        Some(_) => true,
                        None => self
                            .ifaces
                            .get(c.slot)
                            .and_then(Option::as_ref)
                            .is_some_and(|f| {
                                f.sockets.get::<tcp::Socket>(c.handle).send_queue() > 0
                            }),
                    }
            }),
        })
    }

    /// The wait of a `close()` is over: connections of our engine it held finish by
    /// themselves.
    pub(crate) fn linger_done(&mut self, lingering: &[Linger]) {
        for l in lingering {
            if let Linger::Ioth(c) = *l {
                self.ioth_linger_done(c);
            }
        }
    }

    /// Whether closed connections are still finishing (smoltcp's, or the engine's).
    pub(crate) fn finishing(&self) -> bool {
        !self.closing.is_empty() || self.tcp_finishing()
    }
}

pub(crate) fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// The interface slot traffic to `dst` leaves by (see [`Core::route`]), or `ENETUNREACH`.
pub(crate) fn route_in(
    ifaces: &[Option<Iface>],
    routes: &[StackRoute],
    dst: IpAddr,
) -> io::Result<usize> {
    next_hop(ifaces, routes, dst).map(|(slot, _)| slot)
}

/// The interface slot traffic to `dst` leaves by and the neighbour it goes to there: `dst`
/// itself when on-link (or broadcast), the gateway of the route that carries it, the
/// unspecified address of its family on `lo`. `ENETUNREACH` when no route carries it.
///
/// Routing: loopback and own addresses to `lo`, then the longest on-link prefix of an up
/// interface, then explicit routes by longest prefix, then broadcast/multicast to the first up
/// interface of the family with an address.
pub(crate) fn next_hop(
    ifaces: &[Option<Iface>],
    routes: &[StackRoute],
    dst: IpAddr,
) -> io::Result<(usize, IpAddr)> {
    let own = |a: IpAddr| {
        ifaces
            .iter()
            .flatten()
            .any(|f| f.addrs.iter().any(|(x, _)| *x == a))
    };
    if is_loopback(dst) || (!dst.is_unspecified() && own(dst)) {
        let any = match dst {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        return Ok((0, any));
    }
    let up = |s: usize| ifaces.get(s).and_then(Option::as_ref).filter(|f| f.up);
    // On-link: the longest prefix among the addresses of up interfaces.
    let mut best: Option<(u8, usize)> = None;
    for (s, f) in (1..ifaces.len()).filter_map(|s| up(s).map(|f| (s, f))) {
        for &(a, p) in &f.addrs {
            if in_prefix(dst, a, p) && best.is_none_or(|(bp, _)| p > bp) {
                best = Some((p, s));
            }
        }
    }
    if let Some((_, s)) = best {
        return Ok((s, dst));
    }
    // Explicit routes, longest prefix first.
    let mut best_route: Option<(u8, usize, IpAddr)> = None;
    for r in routes {
        if in_prefix(dst, r.dst, r.prefix)
            && best_route.is_none_or(|(bp, _, _)| r.prefix > bp)
            && let Some(s) = r.oif.checked_sub(1).map(|s| s as usize)
            && up(s).is_some()
        {
            best_route = Some((r.prefix, s, r.gateway.unwrap_or(dst)));
        }
    }
    if let Some((_, s, hop)) = best_route {
        return Ok((s, hop));
    }
    // Broadcast and multicast: the first up interface of the family with an address.
    let broadcastish = match dst {
        IpAddr::V4(a) => a.is_broadcast() || a.is_multicast(),
        IpAddr::V6(a) => a.is_multicast(),
    };
    if broadcastish {
        for s in 1..ifaces.len() {
            if up(s).is_some_and(|f| f.addrs.iter().any(|(a, _)| a.is_ipv4() == dst.is_ipv4())) {
                return Ok((s, dst));
            }
        }
    }
    Err(io::Error::from_raw_os_error(libc::ENETUNREACH))
}
