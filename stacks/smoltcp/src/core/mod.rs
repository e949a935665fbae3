//! The state of one stack, behind its lock: interfaces, sockets, bindings, routes, and the
//! poll routine (`poll`) that moves frames through smoltcp and updates socket descriptors;
//! addresses and routes live in `addressing`, the port table in `ports`.
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

mod addressing;
mod poll;
mod ports;

pub(crate) use addressing::{
    check_iface_addr, check_unicast_peer, in_prefix, is_link_local, next_hop,
};

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

    // ---- polling -------------------------------------------------------------------------

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
