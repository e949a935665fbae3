//! Socket records and the socket calls, as Linux behaves, over smoltcp sockets.
//!
//! Where smoltcp differs from Linux this module hides it:
//! - a TCP listener keeps one listening smoltcp socket per interface and hands a fresh one to
//!   every SYN between ingress packets, up to its backlog; established connections wait in an
//!   accept queue in the order they were established;
//! - ports are allocated here (smoltcp refuses port 0) and conflicts give `EADDRINUSE`;
//! - a connected UDP socket filters datagrams from other peers;
//! - resets, refusals and timeouts become `ECONNRESET`, `ECONNREFUSED`, `ETIMEDOUT`.

use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::wire::{IpEndpoint, IpListenEndpoint};

use crate::core::{Closing, Core, Iface, Linger, NEIGHBOUR_TIMEOUT, Proto};
use crate::raw6::Raw6;
use crate::readiness::{Readiness, Ready};

fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// Default TCP buffer sizes (each direction).
pub(crate) const TCP_BUF: usize = 64 * 1024;
/// Default UDP buffer: payload bytes (Linux's default rmem) and datagrams. Untouched pages of
/// these buffers cost no memory until traffic fills them.
const UDP_BUF: usize = 208 * 1024;
const UDP_SLOTS: usize = 512;
/// How long data may wait for an acknowledgement without progress before the connection
/// ends in ETIMEDOUT: Linux's `tcp_retries2` = 15 with RTOs from 200 ms doubling to 120 s.
const RETRIES2_TIMEOUT: Duration = Duration::from_millis(924_600);
/// How long a half-open (SYN-RECEIVED) connection lives without hearing from its peer:
/// Linux's `tcp_synack_retries` = 5 (1 + 2 + 4 + 8 + 16 + 32 s).
const SYN_RECV_TIMEOUT: Duration = Duration::from_secs(63);
/// Most half-open connections a listener keeps; past it the oldest goes (Linux answers a
/// full SYN queue with SYN cookies: a flood of spoofed SYNs never locks clients out).
const SYN_QUEUE_MAX: usize = 1024;
/// How long a closed connection may go without hearing from its peer while it finishes
/// (FIN-WAIT-2, LAST-ACK, CLOSING, data still unacknowledged): Linux's `tcp_fin_timeout`.
const ORPHAN_TIMEOUT: Duration = Duration::from_secs(60);
/// Linux's keepalive defaults: idle time, probe interval, probe count.
const KEEPIDLE: Duration = Duration::from_secs(7200);
const KEEPINTVL: Duration = Duration::from_secs(75);
const KEEPCNT: u32 = 9;

fn smol_duration(d: Duration) -> smoltcp::time::Duration {
    smoltcp::time::Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Options a socket keeps.
#[derive(Clone, Debug, Default)]
pub(crate) struct Opts {
    pub reuseaddr: bool,
    pub broadcast: bool,
    pub keepalive: bool,
    pub nodelay: bool,
    /// TCP_CORK and IPV6_V6ONLY (our engine's TCP only).
    pub cork: bool,
    pub v6only: bool,
    pub rcvbuf: usize,
    pub sndbuf: usize,
    pub rcvtimeo: Option<Duration>,
    pub sndtimeo: Option<Duration>,
    pub linger: Option<libc::c_int>,
    pub ttl: Option<u8>,
    /// TCP_KEEPIDLE, TCP_KEEPINTVL (seconds) and TCP_KEEPCNT; None: Linux's defaults.
    pub keepidle: Option<u32>,
    pub keepintvl: Option<u32>,
    pub keepcnt: Option<u32>,
    /// TCP_USER_TIMEOUT; None: the `tcp_retries2` timing.
    pub user_timeout: Option<Duration>,
    /// IP_PKTINFO: IPv4 datagrams are received with an `IP_PKTINFO` message.
    pub pktinfo: bool,
    /// IPV6_RECVPKTINFO: IPv6 datagrams are received with an `IPV6_PKTINFO` message.
    pub recvpktinfo6: bool,
    /// IPV6_RECVHOPLIMIT (raw ICMPv6 sockets): messages come with an `IPV6_HOPLIMIT` one.
    pub recvhoplimit: bool,
    /// IPV6_MULTICAST_HOPS; None: Linux's default, 1. Raw ICMPv6 sockets use it.
    pub mcast_hops: Option<u8>,
    /// IPV6_MULTICAST_IF: the interface multicast leaves by (0: by routing). Raw ICMPv6
    /// sockets use it.
    pub mcast_if: u32,
}

impl Opts {
    /// Idle time before keepalive probes start.
    pub(crate) fn keep_idle(&self) -> Duration {
        self.keepidle
            .map_or(KEEPIDLE, |s| Duration::from_secs(u64::from(s)))
    }

    /// Time between keepalive probes.
    pub(crate) fn keep_interval(&self) -> Duration {
        self.keepintvl
            .map_or(KEEPINTVL, |s| Duration::from_secs(u64::from(s)))
    }

    /// Unanswered probes before the connection ends.
    pub(crate) fn keep_count(&self) -> u32 {
        self.keepcnt.unwrap_or(KEEPCNT)
    }

    /// How long unacknowledged data may wait: TCP_USER_TIMEOUT, else `tcp_retries2`'s.
    fn data_timeout(&self) -> Duration {
        self.user_timeout.unwrap_or(RETRIES2_TIMEOUT)
    }

    /// How long an idle keepalive connection may go unanswered: TCP_USER_TIMEOUT, else
    /// idle + interval x count, as Linux.
    fn keepalive_timeout(&self) -> Duration {
        self.user_timeout
            .unwrap_or(self.keep_idle() + self.keep_interval() * self.keep_count())
    }
}

/// Where a TCP connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not connected (fresh, or bound).
    Idle,
    /// SYN sent; since when (µs).
    Connecting(u64),
    /// Synchronized at least once.
    Open,
    /// The connect failed with this errno.
    Failed(i32),
}

/// A TCP socket that is not listening.
pub(crate) struct Tcp {
    pub bound: Option<SocketAddr>,
    pub conn: Option<(usize, SocketHandle)>,
    pub phase: Phase,
    pub reset: bool,
    pub reset_reported: bool,
    /// The errno a reset reports: ECONNRESET, or ETIMEDOUT when a timer ended it.
    pub reset_errno: i32,
    pub peer_fin: bool,
    last: tcp::State,
    live: Liveness,
    /// While connecting: how long the handshake may take before `ETIMEDOUT` (µs; the stack's
    /// `tcp_syn_retries`, see `stack_options::syn_timeout`).
    connect_limit: u64,
    /// While connecting over an Ethernet link: the destination, until smoltcp's egress is
    /// seen sending it TCP (its neighbour resolved). Still set after
    /// [`NEIGHBOUR_TIMEOUT`]: the connect fails with `EHOSTUNREACH`, as Linux's does when
    /// neighbour resolution gives up.
    pub unresolved: Option<IpAddr>,
}

/// The timers of an open connection that Linux has and smoltcp lacks (see
/// [`SockRec::refresh`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Liveness {
    /// Since when data (or a FIN) has waited for an acknowledgement with no progress (µs).
    unacked_since: Option<u64>,
    /// Bytes in the send queue at the last look.
    queued: usize,
    /// Since when a keepalive connection has been idle (µs).
    idle_since: Option<u64>,
}

impl Liveness {
    /// When this connection's own timer fires (µs), if one runs.
    pub(crate) fn deadline(&self, opts: &Opts) -> Option<u64> {
        let d = self.unacked_since?;
        Some(d.saturating_add(micros(opts.data_timeout())))
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A fresh TCP record (`bound`, `conn`, `phase`, the smoltcp state seen last).
fn new_tcp(
    bound: Option<SocketAddr>,
    conn: Option<(usize, SocketHandle)>,
    phase: Phase,
    last: tcp::State,
) -> Tcp {
    Tcp {
        bound,
        conn,
        phase,
        reset: false,
        reset_reported: false,
        reset_errno: libc::ECONNRESET,
        peer_fin: false,
        last,
        live: Liveness::default(),
        connect_limit: u64::MAX,
        unresolved: None,
    }
}

/// A listening TCP socket.
pub(crate) struct Listener {
    pub local: SocketAddr,
    pub backlog: usize,
    spares: Vec<(usize, SocketHandle)>,
    embryos: Vec<(usize, SocketHandle)>,
    pub ready: VecDeque<(usize, SocketHandle)>,
    opts: Opts,
}

/// A UDP socket.
pub(crate) struct Udp {
    pub local: Option<SocketAddr>,
    pub subs: Vec<(usize, SocketHandle)>,
    pub peer: Option<SocketAddr>,
    next: usize,
    /// Datagrams moved out of smoltcp for this socket (see `steer`).
    pub steered: crate::steer::Queue,
    /// The port is shared with a socket of the other family (see `steer`).
    pub dual: bool,
}

/// An ICMP echo ("ping") socket, as Linux's `SOCK_DGRAM`/`IPPROTO_ICMP`: the application
/// sends echo requests (ICMP header and payload) and receives the replies to its identifier.
pub(crate) struct Icmp {
    /// The bound address and echo identifier, once bound (explicitly or by the first send).
    pub local: Option<SocketAddr>,
    /// One smoltcp ICMP socket per interface used so far.
    pub subs: Vec<(usize, SocketHandle)>,
    pub peer: Option<IpAddr>,
}

/// A netlink socket answered by the stack itself.
pub(crate) struct Netlink {
    pub ep: nlconf::server::NlEndpoint,
}

/// What kind of socket a record is.
pub(crate) enum Kind {
    Udp(Udp),
    Icmp(Icmp),
    Tcp(Tcp),
    Listener(Listener),
    Netlink(Netlink),
    /// A raw ICMPv6 socket (see `raw6`).
    Raw6(Raw6),
    /// A TCP socket of our engine, on a stack with `tcp=ioth` (see `tcp_ioth`).
    IothTcp(crate::tcp_ioth::sock::IothTcp),
}

/// One socket of the stack.
pub(crate) struct SockRec {
    pub ready: Readiness,
    pub kind: Kind,
    pub ipv6: bool,
    pub nonblocking: bool,
    pub opts: Opts,
    /// SO_ERROR: an error to report once.
    pub error: i32,
    pub shut_rd: bool,
    pub shut_wr: bool,
}

fn tcp_socket(opts: &Opts) -> tcp::Socket<'static> {
    let rx = if opts.rcvbuf > 0 {
        opts.rcvbuf
    } else {
        TCP_BUF
    };
    let tx = if opts.sndbuf > 0 {
        opts.sndbuf
    } else {
        TCP_BUF
    };
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; rx]),
        tcp::SocketBuffer::new(vec![0; tx]),
    );
    s.set_nagle_enabled(!opts.nodelay);
    if opts.keepalive {
        s.set_keep_alive(Some(smol_duration(opts.keep_interval())));
    }
    if let Some(ttl) = opts.ttl {
        s.set_hop_limit(Some(ttl));
    }
    s
}

fn udp_socket(opts: &Opts) -> udp::Socket<'static> {
    let rx = if opts.rcvbuf > 0 {
        opts.rcvbuf
    } else {
        UDP_BUF
    };
    let tx = if opts.sndbuf > 0 {
        opts.sndbuf
    } else {
        UDP_BUF
    };
    let mut s = udp::Socket::new(
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; UDP_SLOTS], vec![0; rx]),
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; UDP_SLOTS], vec![0; tx]),
    );
    if let Some(ttl) = opts.ttl {
        s.set_hop_limit(Some(ttl));
    }
    s
}

fn listen_endpoint(a: SocketAddr) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: (!a.ip().is_unspecified()).then(|| a.ip().into()),
        port: a.port(),
    }
}

fn std_endpoint(e: IpEndpoint) -> SocketAddr {
    SocketAddr::new(e.addr.into(), e.port)
}

pub(crate) fn get_iface(ifaces: &mut [Option<Iface>], slot: usize) -> Option<&mut Iface> {
    ifaces.get_mut(slot).and_then(Option::as_mut)
}

/// Keeps each listener with a spare listening socket on `slot` (while its backlog allows) and
/// moves its connections along: SYN received, then established into the accept queue.
pub(crate) fn refill_listeners(
    listeners: &[usize],
    socks: &mut [Option<SockRec>],
    slot: usize,
    sockets: &mut SocketSet<'static>,
) {
    for &id in listeners {
        let Some(Some(rec)) = socks.get_mut(id) else {
            continue;
        };
        let Kind::Listener(l) = &mut rec.kind else {
            continue;
        };
        // Spares that took a SYN become embryos, unless the accept queue is full: then the
        // SYN is dropped unanswered (the spare goes before its SYN-ACK leaves), as Linux
        // drops it, and the client retries. A new SYN for a connection this stack still holds
        // in a closing state replaces it (RFC 6191's TIME-WAIT reuse; for FIN-WAIT, CLOSING
        // and LAST-ACK the end result of Linux's challenge ACK and the client's RST); one
        // for a synchronized connection is dropped (RFC 5961 4: no blind resets).
        let mut i = 0;
        while i < l.spares.len() {
            let (s, h) = l.spares[i];
            if s != slot || sockets.get::<tcp::Socket>(h).state() == tcp::State::Listen {
                i += 1;
                continue;
            }
            l.spares.swap_remove(i);
            if l.ready.len() >= l.backlog || !take_over_stale(sockets, h) {
                sockets.remove(h);
                continue;
            }
            l.embryos.push((s, h));
            if l.embryos.len() > SYN_QUEUE_MAX
                && let Some(pos) = l.embryos.iter().position(|&(es, _)| es == slot)
            {
                let (_, oldest) = l.embryos.remove(pos);
                sockets.remove(oldest);
            }
        }
        // Embryos that completed the handshake queue up, in order; failed ones go.
        let mut i = 0;
        while i < l.embryos.len() {
            let (s, h) = l.embryos[i];
            if s != slot {
                i += 1;
                continue;
            }
            match sockets.get::<tcp::Socket>(h).state() {
                tcp::State::SynReceived => i += 1,
                tcp::State::Closed | tcp::State::Listen => {
                    l.embryos.remove(i);
                    sockets.remove(h);
                }
                _ => {
                    l.embryos.remove(i);
                    // Established: its timers are the connection's from now on.
                    sockets.get_mut::<tcp::Socket>(h).set_timeout(None);
                    l.ready.push_back((s, h));
                }
            }
        }
        if !l.spares.iter().any(|&(s, _)| s == slot) {
            let mut sock = tcp_socket(&l.opts);
            // A half-open connection whose peer goes silent ends like Linux's after its
            // SYN-ACK retries.
            sock.set_timeout(Some(smol_duration(SYN_RECV_TIMEOUT)));
            if sock.listen(listen_endpoint(l.local)).is_ok() {
                let h = sockets.add(sock);
                l.spares.push((slot, h));
            }
        }
    }
}

/// Whether the new connection `fresh` (a spare that just took a SYN) may go on, given the
/// other connections of the set (see [`give_way`]).
fn take_over_stale(sockets: &mut SocketSet<'static>, fresh: SocketHandle) -> bool {
    let f = sockets.get::<tcp::Socket>(fresh);
    match (f.local_endpoint(), f.remote_endpoint()) {
        (Some(local), Some(remote)) => give_way(
            sockets,
            std_endpoint(local),
            std_endpoint(remote),
            Some(fresh),
        ),
        _ => true,
    }
}

/// Makes the connections of `sockets` (but `except`) that hold the four-tuple `local` <-
/// `remote` in a state that gives it up end; false when one still synchronized keeps it.
fn give_way(
    sockets: &mut SocketSet<'static>,
    local: SocketAddr,
    remote: SocketAddr,
    except: Option<SocketHandle>,
) -> bool {
    let mut free = true;
    for (h, item) in sockets.iter_mut() {
        if Some(h) == except {
            continue;
        }
        if let smoltcp::socket::Socket::Tcp(t) = item
            && t.local_endpoint().map(std_endpoint) == Some(local)
            && t.remote_endpoint().map(std_endpoint) == Some(remote)
        {
            if replaceable(t.state()) {
                crate::ident::debug!(
                    "TCP {local} <- {remote}: a new SYN replaces the {} connection",
                    t.state()
                );
                t.abort();
            } else if t.state() != tcp::State::Closed {
                free = false;
            }
        }
    }
    free
}

/// Whether a connection in `state` gives its four-tuple up to a new SYN: TIME-WAIT (RFC
/// 6191), and the closing states, where Linux answers the SYN with a challenge ACK that the
/// restarted client resets (RFC 5961 4), so the stale connection ends and the client's
/// retried SYN connects. A synchronized connection keeps it (no blind resets).
fn replaceable(state: tcp::State) -> bool {
    matches!(
        state,
        tcp::State::TimeWait
            | tcp::State::CloseWait
            | tcp::State::FinWait1
            | tcp::State::FinWait2
            | tcp::State::Closing
            | tcp::State::LastAck
    )
}

/// A bare SYN (no ACK) in `frame` is about to be processed: a connection of `sockets` that
/// holds its four-tuple in a state that gives it up ends first, so that the listener's spare
/// takes the SYN. smoltcp would hand the SYN to the stale connection, which drops it
/// silently: a client that restarted with the same port could never connect again.
pub(crate) fn clear_stale_tuple(sockets: &mut SocketSet<'static>, frame: &[u8]) {
    if let Some((src, dst)) = bare_syn(frame) {
        give_way(sockets, dst, src, None);
    }
}

/// The (source, destination) of a TCP segment with SYN and without ACK in an Ethernet frame
/// (IPv4, or IPv6 without extension headers).
fn bare_syn(frame: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, Ipv6Packet};
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let (src, dst, tcp): (IpAddr, IpAddr, &[u8]) = match eth.ethertype() {
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            if ip.next_header() != IpProtocol::Tcp || ip.frag_offset() != 0 {
                return None;
            }
            let hl = usize::from(ip.header_len());
            let total = usize::from(ip.total_len()).min(eth.payload().len());
            let tcp = eth.payload().get(hl..total)?;
            (ip.src_addr().into(), ip.dst_addr().into(), tcp)
        }
        EthernetProtocol::Ipv6 => {
            let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
            if ip.next_header() != IpProtocol::Tcp {
                return None;
            }
            let tcp = eth.payload().get(40..)?;
            (ip.src_addr().into(), ip.dst_addr().into(), tcp)
        }
        _ => return None,
    };
    if tcp.len() < 20 {
        return None;
    }
    let flags = tcp[13];
    if flags & 0x02 == 0 || flags & 0x10 != 0 || flags & 0x04 != 0 {
        return None;
    }
    let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
    let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
    Some((SocketAddr::new(src, sport), SocketAddr::new(dst, dport)))
}

/// Runs an open connection's timers (Linux's, over smoltcp's socket): data or a FIN that
/// waits for an acknowledgement with no progress for `tcp_retries2`'s time (or
/// TCP_USER_TIMEOUT) ends the connection with ETIMEDOUT; an idle keepalive connection probes
/// every TCP_KEEPINTVL and smoltcp ends it when its peer stays silent for idle + interval x
/// count (or TCP_USER_TIMEOUT).
fn run_timers(t: &mut Tcp, sock: &mut tcp::Socket<'static>, opts: &Opts) {
    let now = crate::driver::now_micros();
    let st = sock.state();
    if st == tcp::State::Closed {
        // Ended: what ended it is read from the timers as they were.
        return;
    }
    let queued = sock.send_queue();
    let fin_waits = matches!(
        st,
        tcp::State::FinWait1 | tcp::State::Closing | tcp::State::LastAck
    );
    if queued > 0 || fin_waits {
        let progressed = queued < t.live.queued || st != t.last;
        if t.live.unacked_since.is_none() || progressed {
            t.live.unacked_since = Some(now);
        }
        t.live.idle_since = None;
    } else {
        t.live.unacked_since = None;
        if opts.keepalive && st == tcp::State::Established {
            t.live.idle_since.get_or_insert(now);
        } else {
            t.live.idle_since = None;
        }
    }
    t.live.queued = queued;
    let probe = opts.keepalive.then(|| smol_duration(opts.keep_interval()));
    if sock.keep_alive() != probe {
        sock.set_keep_alive(probe);
    }
    let silence = t
        .live
        .idle_since
        .map(|_| smol_duration(opts.keepalive_timeout()));
    if sock.timeout() != silence {
        sock.set_timeout(silence);
    }
    if let Some(at) = t.live.deadline(opts)
        && now >= at
    {
        crate::ident::debug!(
            "TCP connection: no acknowledgement for {:?}: timed out",
            opts.data_timeout()
        );
        sock.abort();
        t.reset = true;
        t.reset_errno = libc::ETIMEDOUT;
    }
}

impl SockRec {
    /// When this socket's own TCP timer fires (µs), if one runs.
    pub(crate) fn timer(&self) -> Option<u64> {
        match &self.kind {
            Kind::Tcp(t) if t.phase == Phase::Open && !t.reset => t.live.deadline(&self.opts),
            Kind::Tcp(Tcp {
                phase: Phase::Connecting(since),
                unresolved: Some(_),
                ..
            }) => Some(since.saturating_add(NEIGHBOUR_TIMEOUT)),
            _ => None,
        }
    }

    /// Updates the connection state and the descriptor.
    pub(crate) fn refresh(&mut self, ifaces: &mut [Option<Iface>]) {
        let want = match &mut self.kind {
            Kind::Udp(u) => {
                let mut readable = false;
                let mut writable = u.subs.is_empty();
                for &(s, h) in &u.subs {
                    let Some(f) = get_iface(ifaces, s) else {
                        continue;
                    };
                    let sock = f.sockets.get_mut::<udp::Socket>(h);
                    if let Some(peer) = u.peer {
                        // A connected socket hears only its peer: drop the others now.
                        while let Ok((_, meta)) = sock.peek() {
                            if std_endpoint(meta.endpoint) == peer {
                                break;
                            }
                            let _ = sock.recv();
                        }
                    }
                    readable |= sock.can_recv();
                    writable |= sock.can_send();
                }
                readable |= !u.steered.is_empty();
                Ready {
                    readable,
                    writable,
                    ..Ready::default()
                }
            }
            Kind::Tcp(t) => {
                let mut ready = Ready::default();
                match t.conn {
                    None => {
                        ready.writable = true;
                    }
                    Some((s, h)) => {
                        let Some(f) = get_iface(ifaces, s) else {
                            return;
                        };
                        let sock = f.sockets.get_mut::<tcp::Socket>(h);
                        if t.phase == Phase::Open && !t.reset {
                            run_timers(t, sock, &self.opts);
                            if t.reset {
                                self.error = t.reset_errno;
                            }
                        }
                        let st = sock.state();
                        match t.phase {
                            Phase::Connecting(since) => {
                                let waited = crate::driver::now_micros().saturating_sub(since);
                                if let Some(dst) = t.unresolved
                                    && f.learned.iter().any(|&(to, _)| to == dst)
                                {
                                    t.unresolved = None;
                                }
                                if st == tcp::State::SynSent
                                    && t.unresolved.is_some()
                                    && waited >= NEIGHBOUR_TIMEOUT
                                {
                                    // Neighbour resolution gave up (three probes a second
                                    // apart): Linux reports the host unreachable.
                                    crate::ident::debug!(
                                        "TCP connect to {:?}: no neighbour answered in {} ms",
                                        t.unresolved,
                                        waited / 1000
                                    );
                                    sock.abort();
                                    t.unresolved = None;
                                    t.phase = Phase::Failed(libc::EHOSTUNREACH);
                                    self.error = libc::EHOSTUNREACH;
                                } else if st == tcp::State::Closed {
                                    let e = if waited >= t.connect_limit {
                                        libc::ETIMEDOUT
                                    } else {
                                        libc::ECONNREFUSED
                                    };
                                    t.phase = Phase::Failed(e);
                                    self.error = e;
                                } else if !matches!(
                                    st,
                                    tcp::State::SynSent | tcp::State::SynReceived
                                ) {
                                    t.phase = Phase::Open;
                                    // The connect timeout was for the handshake only: an
                                    // established connection waits as long as Linux's does.
                                    sock.set_timeout(None);
                                }
                            }
                            Phase::Open
                                if st == tcp::State::Closed
                                    && !matches!(
                                        t.last,
                                        tcp::State::TimeWait
                                            | tcp::State::LastAck
                                            | tcp::State::Closed
                                    )
                                    && !self.shut_wr =>
                            {
                                t.reset = true;
                                // smoltcp aborts an idle keepalive connection whose peer
                                // stopped answering: that is a timeout, not a reset.
                                if t.live.idle_since.is_some_and(|since| {
                                    crate::driver::now_micros().saturating_sub(since)
                                        >= micros(self.opts.keepalive_timeout())
                                }) {
                                    t.reset_errno = libc::ETIMEDOUT;
                                    self.error = libc::ETIMEDOUT;
                                }
                            }
                            _ => {}
                        }
                        t.last = st;
                        if matches!(
                            st,
                            tcp::State::CloseWait
                                | tcp::State::LastAck
                                | tcp::State::Closing
                                | tcp::State::TimeWait
                        ) || (st == tcp::State::Closed && t.phase == Phase::Open && !t.reset)
                        {
                            t.peer_fin = true;
                        }
                        match t.phase {
                            Phase::Idle => ready.writable = true,
                            Phase::Connecting(_) => {}
                            Phase::Failed(_) => {
                                ready.writable = true;
                                ready.hup = true;
                            }
                            Phase::Open => {
                                let eof = t.peer_fin || t.reset || self.shut_rd;
                                ready.readable = sock.can_recv() || eof;
                                ready.rdhup = eof;
                                ready.writable =
                                    self.shut_wr || t.reset || sock.can_send() || !sock.may_send();
                                ready.hup = t.reset || (eof && (self.shut_wr || !sock.may_send()));
                            }
                        }
                    }
                }
                ready
            }
            Kind::Listener(l) => Ready {
                readable: !l.ready.is_empty(),
                ..Ready::default()
            },
            Kind::Icmp(i) => Ready {
                readable: i.subs.iter().any(|&(s, h)| {
                    get_iface(ifaces, s)
                        .is_some_and(|f| f.sockets.get::<icmp::Socket>(h).can_recv())
                }),
                writable: true,
                ..Ready::default()
            },
            Kind::Netlink(n) => Ready {
                readable: n.ep.readable(),
                writable: true,
                ..Ready::default()
            },
            Kind::Raw6(r) => Ready {
                readable: r.readable(ifaces) || self.shut_rd,
                writable: true,
                ..Ready::default()
            },
            // Refreshed from the engine (`Core::refresh`).
            Kind::IothTcp(_) => return,
        };
        self.ready.show(want);
    }

    /// Drops everything this socket has on interface `slot` (being removed).
    pub(crate) fn detach(&mut self, slot: usize) {
        match &mut self.kind {
            Kind::Udp(u) => u.subs.retain(|&(s, _)| s != slot),
            Kind::Icmp(i) => i.subs.retain(|&(s, _)| s != slot),
            Kind::Tcp(t) => {
                if t.conn.is_some_and(|(s, _)| s == slot) {
                    t.conn = None;
                    if t.phase == Phase::Open {
                        t.reset = true;
                    }
                }
            }
            Kind::Listener(l) => {
                l.spares.retain(|&(s, _)| s != slot);
                l.embryos.retain(|&(s, _)| s != slot);
                l.ready.retain(|&(s, _)| s != slot);
            }
            Kind::Netlink(_) | Kind::IothTcp(_) => {}
            Kind::Raw6(r) => r.detach(slot),
        }
    }
}

/// The result of a receive.
pub(crate) struct Received {
    pub len: usize,
    pub from: Option<SocketAddr>,
    pub truncated: bool,
    /// UDP: the datagram's destination address and the slot of the interface it arrived on.
    pub dst: Option<(IpAddr, usize)>,
    /// Raw ICMPv6: the message's IPv6 hop limit.
    pub hop_limit: Option<u8>,
}

pub(crate) fn scatter(bufs: &mut [IoSliceMut<'_>], data: &[u8]) -> usize {
    let mut off = 0;
    for b in bufs.iter_mut() {
        if off >= data.len() {
            break;
        }
        let n = b.len().min(data.len() - off);
        b[..n].copy_from_slice(&data[off..off + n]);
        off += n;
    }
    off
}

pub(crate) fn total_len(bufs: &[IoSlice<'_>]) -> usize {
    bufs.iter().map(|b| b.len()).sum()
}

/// `EINVAL`/`EAFNOSUPPORT` unless `a` is of the socket's family.
pub(crate) fn check_family(rec: &SockRec, a: &SocketAddr) -> io::Result<()> {
    if a.is_ipv6() != rec.ipv6 {
        return Err(err(if rec.ipv6 {
            libc::EINVAL
        } else {
            libc::EAFNOSUPPORT
        }));
    }
    Ok(())
}

impl Core {
    /// Opens a socket record; `EAFNOSUPPORT`/`EPROTONOSUPPORT`/`ESOCKTNOSUPPORT` for what the
    /// stack does not offer.
    pub(crate) fn open(
        &mut self,
        domain: libc::c_int,
        ty: libc::c_int,
        protocol: libc::c_int,
    ) -> io::Result<usize> {
        let base = ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
        let kind = match domain {
            libc::AF_INET | libc::AF_INET6 => match (base, protocol) {
                (libc::SOCK_DGRAM, 0 | libc::IPPROTO_UDP) => Kind::Udp(Udp {
                    local: None,
                    subs: Vec::new(),
                    peer: None,
                    next: 0,
                    steered: crate::steer::Queue::default(),
                    dual: false,
                }),
                (libc::SOCK_STREAM, 0 | libc::IPPROTO_TCP) if self.tcp.is_some() => {
                    Kind::IothTcp(crate::tcp_ioth::sock::IothTcp::new())
                }
                (libc::SOCK_STREAM, 0 | libc::IPPROTO_TCP) => {
                    Kind::Tcp(new_tcp(None, None, Phase::Idle, tcp::State::Closed))
                }
                (libc::SOCK_DGRAM, libc::IPPROTO_ICMP) if domain == libc::AF_INET => {
                    Kind::Icmp(Icmp {
                        local: None,
                        subs: Vec::new(),
                        peer: None,
                    })
                }
                (libc::SOCK_RAW, libc::IPPROTO_ICMPV6) if domain == libc::AF_INET6 => {
                    Kind::Raw6(Raw6::new())
                }
                (libc::SOCK_DGRAM | libc::SOCK_STREAM | libc::SOCK_RAW, _) => {
                    return Err(err(libc::EPROTONOSUPPORT));
                }
                _ => return Err(err(libc::ESOCKTNOSUPPORT)),
            },
            libc::AF_NETLINK => {
                if base != libc::SOCK_RAW && base != libc::SOCK_DGRAM {
                    return Err(err(libc::ESOCKTNOSUPPORT));
                }
                if protocol != libc::NETLINK_ROUTE {
                    return Err(err(libc::EPROTONOSUPPORT));
                }
                let pid = self.next_nl_pid;
                self.next_nl_pid = self.next_nl_pid.wrapping_add(1).max(1);
                Kind::Netlink(Netlink {
                    ep: nlconf::server::NlEndpoint::new(pid),
                })
            }
            _ => return Err(err(libc::EAFNOSUPPORT)),
        };
        let rec = SockRec {
            ready: Readiness::new()?,
            kind,
            ipv6: domain == libc::AF_INET6,
            nonblocking: ty & libc::SOCK_NONBLOCK != 0,
            opts: Opts::default(),
            error: 0,
            shut_rd: false,
            shut_wr: false,
        };
        let id = self.insert_sock(rec);
        self.refresh(id);
        Ok(id)
    }

    /// `bind(2)`.
    pub(crate) fn bind(&mut self, id: usize, addr: SocketAddr) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_bind(id, addr);
        }
        let rec = self.sock(id)?;
        check_family(rec, &addr)?;
        if matches!(rec.kind, Kind::Raw6(_)) {
            return self.raw6_bind(id, addr);
        }
        let reuse = rec.opts.reuseaddr;
        let (proto, already) = match &rec.kind {
            Kind::Udp(u) => (Proto::Udp, u.local.is_some()),
            Kind::Tcp(t) => (Proto::Tcp, t.bound.is_some() || t.conn.is_some()),
            Kind::Listener(_) => (Proto::Tcp, true),
            Kind::Icmp(i) => (Proto::Icmp, i.local.is_some()),
            Kind::Netlink(_) | Kind::Raw6(_) | Kind::IothTcp(_) => return Ok(()),
        };
        if already {
            return Err(err(libc::EINVAL));
        }
        let addr = if proto == Proto::Icmp && addr.port() == 0 {
            // Echo identifiers come from one sequence for the whole process, so that stacks
            // of one process that ping each other do not share identifiers.
            SocketAddr::new(addr.ip(), crate::icmp::next_icmp_ident())
        } else {
            addr
        };
        let bound = self.bind_port(proto, addr, reuse, id)?;
        match proto {
            Proto::Icmp => {
                if let Kind::Icmp(i) = &mut self.sock(id)?.kind {
                    i.local = Some(bound);
                }
            }
            Proto::Udp => {
                if let Err(e) = self.udp_attach(id, bound) {
                    self.unbind(id);
                    return Err(e);
                }
                crate::steer::mark_dual(self, id);
            }
            Proto::Tcp => {
                if let Kind::Tcp(t) = &mut self.sock(id)?.kind {
                    t.bound = Some(bound);
                }
            }
        }
        Ok(())
    }

    /// Creates the smoltcp UDP sockets of a bound UDP socket.
    fn udp_attach(&mut self, id: usize, local: SocketAddr) -> io::Result<()> {
        let slots = self.slots_for_local(local.ip());
        let opts = self.sock(id)?.opts.clone();
        let mut subs = Vec::new();
        for s in slots {
            let Some(f) = get_iface(&mut self.ifaces, s) else {
                continue;
            };
            let mut sock = udp_socket(&opts);
            sock.bind(listen_endpoint(local))
                .map_err(|_| err(libc::EINVAL))?;
            subs.push((s, f.sockets.add(sock)));
        }
        if let Kind::Udp(u) = &mut self.sock(id)?.kind {
            u.local = Some(local);
            u.subs = subs;
        }
        Ok(())
    }

    /// Binds socket `id` to the wildcard address of its family, port 0.
    pub(crate) fn autobind(&mut self, id: usize) -> io::Result<()> {
        let ipv6 = self.sock(id)?.ipv6;
        let any: IpAddr = if ipv6 {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        };
        self.bind(id, SocketAddr::new(any, 0))
    }

    /// `connect(2)`: UDP sets the peer; TCP starts the handshake and gives `EINPROGRESS`.
    pub(crate) fn connect(&mut self, id: usize, addr: SocketAddr) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_connect(id, addr);
        }
        let rec = self.sock(id)?;
        check_family(rec, &addr)?;
        match &rec.kind {
            Kind::Udp(u) => {
                if u.local.is_none() {
                    self.autobind(id)?;
                }
                if let Kind::Udp(u) = &mut self.sock(id)?.kind {
                    u.peer = Some(addr);
                }
                self.refresh(id);
                Ok(())
            }
            Kind::Tcp(t) => {
                match t.phase {
                    Phase::Connecting(_) => return Err(err(libc::EALREADY)),
                    Phase::Open => return Err(err(libc::EISCONN)),
                    Phase::Idle | Phase::Failed(_) => {}
                }
                let bound = t.bound;
                let opts = rec.opts.clone();
                if addr.ip().is_unspecified() || addr.port() == 0 {
                    return Err(err(libc::ECONNREFUSED));
                }
                let slot = self.route(addr.ip())?;
                let local = match bound {
                    Some(b) => b,
                    None => {
                        let src = self
                            .source_for(slot, addr.ip())
                            .ok_or_else(|| err(libc::EADDRNOTAVAIL))?;
                        let b = self.bind_port(Proto::Tcp, SocketAddr::new(src, 0), false, id)?;
                        if let Kind::Tcp(t) = &mut self.sock(id)?.kind {
                            t.bound = Some(b);
                        }
                        b
                    }
                };
                let src = if local.ip().is_unspecified() {
                    self.source_for(slot, addr.ip())
                        .ok_or_else(|| err(libc::EADDRNOTAVAIL))?
                } else {
                    local.ip()
                };
                let connect_limit = micros(self.connect_timeout);
                let f = get_iface(&mut self.ifaces, slot).ok_or_else(|| err(libc::ENETUNREACH))?;
                // Only an Ethernet link resolves neighbours (`lo` needs none).
                let unresolved =
                    matches!(f.attach, crate::core::Attachment::Link(_)).then_some(addr.ip());
                if let Some(dst) = unresolved
                    && !f.connecting.contains(&dst)
                {
                    // Noted from the first poll on (`Core::watch_connects` keeps the list).
                    f.connecting.push(dst);
                }
                let mut sock = tcp_socket(&opts);
                sock.set_timeout(Some(smoltcp::time::Duration::from_micros(connect_limit)));
                sock.connect(
                    f.iface.context(),
                    IpEndpoint::from(addr),
                    IpListenEndpoint {
                        addr: Some(src.into()),
                        port: local.port(),
                    },
                )
                .map_err(|e| match e {
                    tcp::ConnectError::Unaddressable => err(libc::EADDRNOTAVAIL),
                    tcp::ConnectError::InvalidState => err(libc::EISCONN),
                })?;
                let h = f.sockets.add(sock);
                let rec = self.sock(id)?;
                rec.error = 0;
                if let Kind::Tcp(t) = &mut rec.kind {
                    t.conn = Some((slot, h));
                    t.phase = Phase::Connecting(crate::driver::now_micros());
                    t.last = tcp::State::SynSent;
                    t.connect_limit = connect_limit;
                    t.unresolved = unresolved;
                }
                self.refresh(id);
                Err(err(libc::EINPROGRESS))
            }
            Kind::Listener(_) => Err(err(libc::EISCONN)),
            Kind::Icmp(_) => {
                if let Kind::Icmp(i) = &mut self.sock(id)?.kind {
                    i.peer = Some(addr.ip());
                }
                Ok(())
            }
            Kind::Netlink(_) | Kind::IothTcp(_) => Ok(()),
            Kind::Raw6(_) => self.raw6_connect(id, addr),
        }
    }

    /// Where a connect stands: Ok when connected, the errno when it failed, EINPROGRESS
    /// while it goes on.
    pub(crate) fn connect_status(&mut self, id: usize) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_connect_status(id);
        }
        self.refresh(id);
        let rec = self.sock(id)?;
        match &rec.kind {
            Kind::Tcp(t) => match t.phase {
                Phase::Open => Ok(()),
                Phase::Failed(e) => {
                    rec.error = 0;
                    Err(err(e))
                }
                Phase::Connecting(_) => Err(err(libc::EINPROGRESS)),
                Phase::Idle => Err(err(libc::ENOTCONN)),
            },
            _ => Ok(()),
        }
    }

    /// `listen(2)`.
    pub(crate) fn listen(&mut self, id: usize, backlog: libc::c_int) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_listen(id, backlog);
        }
        let backlog = usize::try_from(backlog).unwrap_or(0).clamp(1, 4096);
        if let Kind::Listener(l) = &mut self.sock(id)?.kind {
            l.backlog = backlog;
            return Ok(());
        }
        let rec = self.sock(id)?;
        let Kind::Tcp(t) = &rec.kind else {
            return Err(err(libc::EOPNOTSUPP));
        };
        if t.conn.is_some() {
            return Err(err(libc::EINVAL));
        }
        if t.bound.is_none() {
            self.autobind(id)?;
        }
        let rec = self.sock(id)?;
        let Kind::Tcp(t) = &rec.kind else {
            return Err(err(libc::EINVAL));
        };
        let local = t.bound.ok_or_else(|| err(libc::EINVAL))?;
        let opts = rec.opts.clone();
        rec.kind = Kind::Listener(Listener {
            local,
            backlog,
            spares: Vec::new(),
            embryos: Vec::new(),
            ready: VecDeque::new(),
            opts,
        });
        self.mark_listening(id);
        self.listeners.push(id);
        for s in self.slots_for_local(local.ip()) {
            let Core {
                ifaces,
                socks,
                listeners,
                ..
            } = self;
            if let Some(f) = get_iface(ifaces, s) {
                refill_listeners(listeners, socks, s, &mut f.sockets);
            }
        }
        self.refresh(id);
        Ok(())
    }

    /// `accept(2)`: the next established connection, as a new socket; EAGAIN when none.
    pub(crate) fn accept(&mut self, id: usize) -> io::Result<(usize, SocketAddr)> {
        if self.is_ioth(id) {
            return self.ioth_accept(id);
        }
        let rec = self.sock(id)?;
        let Kind::Listener(l) = &mut rec.kind else {
            return Err(err(libc::EINVAL));
        };
        let ipv6 = rec.ipv6;
        let opts = l.opts.clone();
        let Some((s, h)) = l.ready.pop_front() else {
            return Err(err(libc::EAGAIN));
        };
        let f = get_iface(&mut self.ifaces, s).ok_or_else(|| err(libc::ECONNABORTED))?;
        let sock = f.sockets.get::<tcp::Socket>(h);
        let (Some(peer), Some(local)) = (sock.remote_endpoint(), sock.local_endpoint()) else {
            f.sockets.remove(h);
            return Err(err(libc::ECONNABORTED));
        };
        let state = sock.state();
        let new = SockRec {
            ready: Readiness::new()?,
            kind: Kind::Tcp(new_tcp(
                Some(std_endpoint(local)),
                Some((s, h)),
                Phase::Open,
                state,
            )),
            ipv6,
            nonblocking: false,
            opts,
            error: 0,
            shut_rd: false,
            shut_wr: false,
        };
        let nid = self.insert_sock(new);
        self.refresh(nid);
        self.refresh(id);
        Ok((nid, std_endpoint(peer)))
    }

    /// `getsockname(2)` (for IP sockets).
    pub(crate) fn local_addr(&mut self, id: usize) -> io::Result<Option<SocketAddr>> {
        if self.is_ioth(id) {
            return self.ioth_local_addr(id);
        }
        let ipv6 = self.sock(id)?.ipv6;
        let any = || {
            if ipv6 {
                SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0)
            } else {
                SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0)
            }
        };
        let Core { ifaces, socks, .. } = self;
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        Ok(match &rec.kind {
            Kind::Udp(u) => Some(u.local.unwrap_or_else(any)),
            Kind::Tcp(t) => {
                if let Some((s, h)) = t.conn {
                    get_iface(ifaces, s)
                        .and_then(|f| f.sockets.get::<tcp::Socket>(h).local_endpoint())
                        .map(std_endpoint)
                        .or(t.bound)
                        .or_else(|| Some(any()))
                } else {
                    Some(t.bound.unwrap_or_else(any))
                }
            }
            Kind::Listener(l) => Some(l.local),
            Kind::Icmp(i) => Some(i.local.unwrap_or_else(any)),
            Kind::Netlink(_) | Kind::IothTcp(_) => None,
            Kind::Raw6(r) => Some(SocketAddr::new(IpAddr::V6(r.local()), 0)),
        })
    }

    /// The netlink port id of a netlink socket.
    pub(crate) fn netlink_pid(&mut self, id: usize) -> io::Result<u32> {
        match &self.sock(id)?.kind {
            Kind::Netlink(n) => Ok(n.ep.pid()),
            _ => Err(err(libc::EINVAL)),
        }
    }

    /// `getpeername(2)`.
    pub(crate) fn peer_addr(&mut self, id: usize) -> io::Result<SocketAddr> {
        if self.is_ioth(id) {
            return self.ioth_peer_addr(id);
        }
        let Core { ifaces, socks, .. } = self;
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        match &rec.kind {
            Kind::Udp(u) => u.peer.ok_or_else(|| err(libc::ENOTCONN)),
            Kind::Icmp(i) => i
                .peer
                .map(|p| SocketAddr::new(p, 0))
                .ok_or_else(|| err(libc::ENOTCONN)),
            Kind::Raw6(r) => r
                .peer()
                .map(|p| SocketAddr::new(IpAddr::V6(p), 0))
                .ok_or_else(|| err(libc::ENOTCONN)),
            Kind::Tcp(t) if t.phase == Phase::Open => {
                let (s, h) = t.conn.ok_or_else(|| err(libc::ENOTCONN))?;
                get_iface(ifaces, s)
                    .and_then(|f| f.sockets.get::<tcp::Socket>(h).remote_endpoint())
                    .map(std_endpoint)
                    .ok_or_else(|| err(libc::ENOTCONN))
            }
            _ => Err(err(libc::ENOTCONN)),
        }
    }

    /// Receives a UDP datagram: steered ones first (see `steer`), then smoltcp's queues.
    fn recv_udp(
        &mut self,
        id: usize,
        bufs: &mut [IoSliceMut<'_>],
        flags: libc::c_int,
    ) -> io::Result<Received> {
        crate::steer::steer(self, id);
        let r = self.recv_udp_once(id, bufs, flags)?;
        if flags & libc::MSG_PEEK == 0 {
            // Linux counts InDatagrams when the application reads one (`udp_recvmsg`).
            let slot = r.dst.map_or(0, |(_, s)| s);
            if let Some(f) = get_iface(&mut self.ifaces, slot) {
                crate::snmp::of(f).read_datagram();
            }
        }
        Ok(r)
    }

    /// [`Core::recv_udp`] once steered.
    fn recv_udp_once(
        &mut self,
        id: usize,
        bufs: &mut [IoSliceMut<'_>],
        flags: libc::c_int,
    ) -> io::Result<Received> {
        let peek = flags & libc::MSG_PEEK != 0;
        let Core {
            ifaces,
            socks,
            spare_bufs,
            ..
        } = self;
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        let shut_rd = rec.shut_rd;
        let Kind::Udp(u) = &mut rec.kind else {
            return Err(err(libc::EINVAL));
        };
        if let Some(r) = crate::steer::take(u, spare_bufs, bufs, flags) {
            return Ok(r);
        }
        let n = u.subs.len();
        for i in 0..n {
            let (s, h) = u.subs[(u.next + i) % n];
            let Some(f) = get_iface(ifaces, s) else {
                continue;
            };
            let sock = f.sockets.get_mut::<udp::Socket>(h);
            loop {
                let got = if peek {
                    sock.peek().map(|(d, m)| (d, *m))
                } else {
                    sock.recv()
                };
                match got {
                    Ok((data, meta)) => {
                        let from = std_endpoint(meta.endpoint);
                        if u.peer.is_some_and(|p| p != from) {
                            if peek {
                                let _ = sock.recv();
                            }
                            continue;
                        }
                        let copied = scatter(bufs, data);
                        u.next = (u.next + i + 1) % n;
                        return Ok(Received {
                            len: if flags & libc::MSG_TRUNC != 0 {
                                data.len()
                            } else {
                                copied
                            },
                            from: Some(from),
                            truncated: copied < data.len(),
                            dst: meta.local_address.map(|a| (a.into(), s)),
                            hop_limit: None,
                        });
                    }
                    Err(_) => break,
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

    /// Receives into `bufs`. EAGAIN when nothing is there (the caller waits if blocking).
    pub(crate) fn recv(
        &mut self,
        id: usize,
        bufs: &mut [IoSliceMut<'_>],
        flags: libc::c_int,
    ) -> io::Result<Received> {
        match self.socks.get(id).and_then(Option::as_ref).map(|r| &r.kind) {
            Some(Kind::Udp(_)) => return self.recv_udp(id, bufs, flags),
            Some(Kind::Raw6(_)) => return self.raw6_recv(id, bufs, flags),
            Some(Kind::IothTcp(_)) => return self.ioth_recv(id, bufs, flags),
            _ => {}
        }
        let peek = flags & libc::MSG_PEEK != 0;
        let Core { ifaces, socks, .. } = self;
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        let shut_rd = rec.shut_rd;
        match &mut rec.kind {
            // Handled by recv_udp, raw6_recv and ioth_recv, above.
            Kind::Udp(_) | Kind::Raw6(_) | Kind::IothTcp(_) => Err(err(libc::EINVAL)),
            Kind::Tcp(t) => {
                let Some((s, h)) = t.conn else {
                    return Err(err(libc::ENOTCONN));
                };
                match t.phase {
                    Phase::Connecting(_) => return Err(err(libc::EAGAIN)),
                    Phase::Failed(e) => {
                        if rec.error != 0 {
                            rec.error = 0;
                            return Err(err(e));
                        }
                        return Err(err(libc::ENOTCONN));
                    }
                    Phase::Idle => return Err(err(libc::ENOTCONN)),
                    Phase::Open => {}
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
                let f = get_iface(ifaces, s).ok_or_else(|| err(libc::ENOTCONN))?;
                let sock = f.sockets.get_mut::<tcp::Socket>(h);
                let mut total = 0;
                for b in bufs.iter_mut() {
                    if b.is_empty() {
                        continue;
                    }
                    let r = if peek {
                        sock.peek_slice(&mut b[..])
                    } else {
                        sock.recv_slice(&mut b[..])
                    };
                    match r {
                        Ok(n) => {
                            total += n;
                            if n < b.len() || peek {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
                if total > 0 {
                    return Ok(Received {
                        len: total,
                        from: None,
                        truncated: false,
                        dst: None,
                        hop_limit: None,
                    });
                }
                if bufs.iter().all(|b| b.is_empty()) {
                    return Ok(Received {
                        len: 0,
                        from: None,
                        truncated: false,
                        dst: None,
                        hop_limit: None,
                    });
                }
                if t.reset && !t.reset_reported {
                    t.reset_reported = true;
                    rec.error = 0;
                    return Err(err(t.reset_errno));
                }
                if t.peer_fin || t.reset || !sock.may_recv() {
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
            Kind::Listener(_) => Err(err(libc::ENOTCONN)),
            Kind::Icmp(i) => {
                if peek {
                    // smoltcp's ICMP sockets cannot look ahead.
                    return Err(err(libc::EOPNOTSUPP));
                }
                for &(s, h) in &i.subs {
                    let Some(f) = get_iface(ifaces, s) else {
                        continue;
                    };
                    let sock = f.sockets.get_mut::<icmp::Socket>(h);
                    while let Ok((data, from)) = sock.recv() {
                        let from = IpAddr::from(from);
                        // Like Linux's ping sockets: echo replies only (a request that happens
                        // to carry our identifier is the stack's to answer, not ours).
                        if data.first() != Some(&0) || i.peer.is_some_and(|p| p != from) {
                            continue;
                        }
                        let copied = scatter(bufs, data);
                        return Ok(Received {
                            len: if flags & libc::MSG_TRUNC != 0 {
                                data.len()
                            } else {
                                copied
                            },
                            from: Some(SocketAddr::new(from, 0)),
                            truncated: copied < data.len(),
                            dst: None,
                            hop_limit: None,
                        });
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
            Kind::Netlink(n) => {
                let b = bufs.iter_mut().find(|b| !b.is_empty());
                let mut empty = [];
                let buf: &mut [u8] = match b {
                    Some(b) => &mut b[..],
                    None => &mut empty,
                };
                let got = n.ep.recv(buf, peek)?;
                Ok(Received {
                    len: if flags & libc::MSG_TRUNC != 0 {
                        got.len
                    } else {
                        got.copied
                    },
                    from: None,
                    truncated: got.copied < got.len,
                    dst: None,
                    hop_limit: None,
                })
            }
        }
    }

    /// Sends `bufs` (to `dst` for datagrams). EAGAIN when the buffer is full.
    pub(crate) fn send(
        &mut self,
        id: usize,
        bufs: &[IoSlice<'_>],
        dst: Option<SocketAddr>,
        src: Option<crate::pktinfo::SendSrc>,
        _flags: libc::c_int,
    ) -> io::Result<usize> {
        if self.is_ioth(id) {
            return self.ioth_send(id, bufs);
        }
        let rec = self.sock(id)?;
        if rec.shut_wr {
            return Err(err(libc::EPIPE));
        }
        match &rec.kind {
            Kind::Udp(u) => {
                let dst = match (dst, u.peer) {
                    (Some(d), _) => d,
                    (None, Some(p)) => p,
                    (None, None) => return Err(err(libc::EDESTADDRREQ)),
                };
                check_family(rec, &dst)?;
                if dst.port() == 0 {
                    return Err(err(libc::EINVAL));
                }
                let broadcast = match dst.ip() {
                    IpAddr::V4(a) => a.is_broadcast() || self.is_subnet_broadcast(a),
                    IpAddr::V6(_) => false,
                };
                let rec = self.sock(id)?;
                if broadcast && !rec.opts.broadcast {
                    return Err(err(libc::EACCES));
                }
                if matches!(&rec.kind, Kind::Udp(u) if u.local.is_none()) {
                    self.autobind(id)?;
                }
                let len = total_len(bufs);
                if len > 65507 {
                    return Err(err(libc::EMSGSIZE));
                }
                let bound = match &self.sock(id)?.kind {
                    Kind::Udp(u) => u.local.map(|l| l.ip()).filter(|a| !a.is_unspecified()),
                    _ => None,
                };
                // IP_PKTINFO/IPV6_PKTINFO choose the source (and interface) of this datagram.
                let (slot, chosen) = match src {
                    Some(p) => crate::pktinfo::resolve(self, p, dst, bound)?,
                    None => {
                        let slot = self.route(dst.ip())?;
                        (slot, bound.or_else(|| self.source_for(slot, dst.ip())))
                    }
                };
                if self.link_down(slot) {
                    // The switch or hub behind the interface is gone: nothing would arrive.
                    return Err(err(libc::ENETDOWN));
                }
                let Core { ifaces, socks, .. } = self;
                let rec = socks
                    .get_mut(id)
                    .and_then(Option::as_mut)
                    .ok_or_else(|| err(libc::EBADF))?;
                let Kind::Udp(u) = &mut rec.kind else {
                    return Err(err(libc::EINVAL));
                };
                let &(s, h) = u
                    .subs
                    .iter()
                    .find(|(s, _)| *s == slot)
                    .ok_or_else(|| err(libc::EINVAL))?;
                let f = get_iface(ifaces, s).ok_or_else(|| err(libc::ENETUNREACH))?;
                if slot != 0 && len + 28 > f.mtu as usize && !dst.is_ipv4() {
                    return Err(err(libc::EMSGSIZE));
                }
                let sock = f.sockets.get_mut::<udp::Socket>(h);
                let mut meta = udp::UdpMetadata::from(IpEndpoint::from(dst));
                meta.local_address = chosen.map(Into::into);
                let buf = sock.send(len, meta).map_err(|e| match e {
                    udp::SendError::BufferFull => err(libc::EAGAIN),
                    udp::SendError::Unaddressable => err(libc::EINVAL),
                })?;
                let mut off = 0;
                for b in bufs {
                    buf[off..off + b.len()].copy_from_slice(b);
                    off += b.len();
                }
                let now = crate::driver::now_micros();
                crate::waiting::note(&mut self.waiting, id, s, dst.ip(), now);
                Ok(len)
            }
            Kind::Tcp(t) => {
                match t.phase {
                    Phase::Idle => return Err(err(libc::EPIPE)),
                    Phase::Connecting(_) => return Err(err(libc::EAGAIN)),
                    Phase::Failed(e) => {
                        let e = if rec.error != 0 { e } else { libc::EPIPE };
                        rec.error = 0;
                        return Err(err(e));
                    }
                    Phase::Open => {}
                }
                let reset = t.reset;
                let (s, h) = t.conn.ok_or_else(|| err(libc::EPIPE))?;
                if reset {
                    if let Kind::Tcp(t) = &mut rec.kind
                        && !t.reset_reported
                    {
                        t.reset_reported = true;
                        let e = t.reset_errno;
                        rec.error = 0;
                        return Err(err(e));
                    }
                    return Err(err(libc::EPIPE));
                }
                let f = get_iface(&mut self.ifaces, s).ok_or_else(|| err(libc::EPIPE))?;
                let sock = f.sockets.get_mut::<tcp::Socket>(h);
                if !sock.may_send() {
                    return Err(err(libc::EPIPE));
                }
                let mut total = 0;
                for b in bufs {
                    if b.is_empty() {
                        continue;
                    }
                    match sock.send_slice(b) {
                        Ok(n) => {
                            total += n;
                            if n < b.len() {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
                if total == 0 && total_len(bufs) > 0 {
                    return Err(err(libc::EAGAIN));
                }
                Ok(total)
            }
            Kind::Listener(_) => Err(err(libc::ENOTCONN)),
            Kind::Icmp(i) => {
                let dst = match (dst, i.peer) {
                    (Some(d), _) => d.ip(),
                    (None, Some(p)) => p,
                    (None, None) => return Err(err(libc::EDESTADDRREQ)),
                };
                self.icmp_send(id, bufs, dst)
            }
            Kind::Netlink(_) => {
                let mut data = Vec::with_capacity(total_len(bufs));
                for b in bufs {
                    data.extend_from_slice(b);
                }
                self.netlink_send(id, &data)
            }
            Kind::Raw6(_) => {
                let data: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
                self.raw6_send(id, &data, dst, src)
            }
            Kind::IothTcp(_) => Err(err(libc::EINVAL)),
        }
    }

    fn is_subnet_broadcast(&self, a: std::net::Ipv4Addr) -> bool {
        self.ifaces.iter().flatten().any(|f| {
            f.addrs.iter().any(|(x, p)| {
                *p < 31 && matches!(x, IpAddr::V4(x) if (u32::from(*x) | (u32::MAX >> p)) == u32::from(a))
            })
        })
    }

    /// Bytes a read would return now (FIONREAD).
    pub(crate) fn readable_bytes(&mut self, id: usize) -> io::Result<usize> {
        if self.is_ioth(id) {
            return self.ioth_readable_bytes(id);
        }
        let Core { ifaces, socks, .. } = self;
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        Ok(match &rec.kind {
            Kind::Udp(u) => {
                let mut n = u.steered.next_len().unwrap_or(0);
                for &(s, h) in u.subs.iter().filter(|_| u.steered.is_empty()) {
                    if let Some(f) = get_iface(ifaces, s)
                        && let Ok((data, _)) = f.sockets.get_mut::<udp::Socket>(h).peek()
                    {
                        n = data.len();
                        break;
                    }
                }
                n
            }
            Kind::Tcp(t) => match t.conn {
                Some((s, h)) => get_iface(ifaces, s)
                    .map(|f| f.sockets.get::<tcp::Socket>(h).recv_queue())
                    .unwrap_or(0),
                None => 0,
            },
            _ => 0,
        })
    }

    /// `TCP_INFO` of a socket of smoltcp's TCP: Linux's state numbers (and a listener's
    /// queues), the other fields zero; `EOPNOTSUPP` for sockets that are not TCP, as Linux.
    pub(crate) fn smol_tcp_info(&mut self, id: usize) -> io::Result<Vec<u8>> {
        let Core { ifaces, socks, .. } = self;
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        Ok(match &rec.kind {
            Kind::Listener(l) => crate::options::listener_tcp_info(l.ready.len(), l.backlog),
            Kind::Tcp(t) => {
                let state = t
                    .conn
                    .and_then(|(s, h)| {
                        get_iface(ifaces, s).map(|f| f.sockets.get::<tcp::Socket>(h).state())
                    })
                    .unwrap_or(tcp::State::Closed);
                crate::options::bare_tcp_info(match state {
                    tcp::State::Established => 1,
                    tcp::State::SynSent => 2,
                    tcp::State::SynReceived => 3,
                    tcp::State::FinWait1 => 4,
                    tcp::State::FinWait2 => 5,
                    tcp::State::TimeWait => 6,
                    tcp::State::Closed => 7,
                    tcp::State::CloseWait => 8,
                    tcp::State::LastAck => 9,
                    tcp::State::Listen => 10,
                    tcp::State::Closing => 11,
                })
            }
            _ => return Err(err(libc::EOPNOTSUPP)),
        })
    }

    /// Bytes written but not yet acknowledged (TCP) or not yet sent (UDP): SIOCOUTQ.
    pub(crate) fn unsent_bytes(&mut self, id: usize) -> io::Result<usize> {
        if self.is_ioth(id) {
            return self.ioth_unsent_bytes(id);
        }
        let Core { ifaces, socks, .. } = self;
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        Ok(match &rec.kind {
            Kind::Tcp(t) => t
                .conn
                .and_then(|(s, h)| {
                    get_iface(ifaces, s).map(|f| f.sockets.get::<tcp::Socket>(h).send_queue())
                })
                .unwrap_or(0),
            Kind::Udp(u) => u
                .subs
                .iter()
                .filter_map(|&(s, h)| {
                    get_iface(ifaces, s).map(|f| f.sockets.get::<udp::Socket>(h).send_queue())
                })
                .sum(),
            _ => 0,
        })
    }

    /// `shutdown(2)`.
    pub(crate) fn shutdown(&mut self, id: usize, how: libc::c_int) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_shutdown(id, how);
        }
        let (rd, wr) = match how {
            libc::SHUT_RD => (true, false),
            libc::SHUT_WR => (false, true),
            libc::SHUT_RDWR => (true, true),
            _ => return Err(err(libc::EINVAL)),
        };
        let Core { ifaces, socks, .. } = self;
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        match &rec.kind {
            Kind::Tcp(t) => {
                if t.phase != Phase::Open {
                    return Err(err(libc::ENOTCONN));
                }
                if wr
                    && !rec.shut_wr
                    && let Some((s, h)) = t.conn
                    && let Some(f) = get_iface(ifaces, s)
                {
                    f.sockets.get_mut::<tcp::Socket>(h).close();
                }
            }
            Kind::Udp(u) if u.peer.is_none() => return Err(err(libc::ENOTCONN)),
            Kind::Listener(_) => {}
            _ => {}
        }
        rec.shut_rd |= rd;
        rec.shut_wr |= wr;
        self.refresh(id);
        Ok(())
    }

    /// Closes socket `id`: TCP connections finish their close in the background (or reset
    /// with SO_LINGER 0); UDP datagrams still waiting for the neighbour stay queued until they
    /// leave (at most `UDP_LINGER_MICROS`); everything else goes at once. Returns what the
    /// caller waits for (those UDP sockets, a lingering TCP close) and for how long at most.
    pub(crate) fn close(&mut self, id: usize) -> (Vec<Linger>, Duration) {
        let mut lingering = Vec::new();
        let mut wait = Duration::from_micros(crate::core::UDP_LINGER_MICROS);
        let Some(rec) = self.remove_sock(id) else {
            return (lingering, wait);
        };
        if matches!(rec.kind, Kind::IothTcp(_)) {
            let linger = self.ioth_close(rec);
            return linger.map_or((lingering, wait), |(c, w)| (vec![Linger::Ioth(c)], w));
        }
        match rec.kind {
            Kind::Udp(u) => {
                let until = crate::driver::now_micros() + crate::core::UDP_LINGER_MICROS;
                for (s, h) in u.subs {
                    if let Some(f) = get_iface(&mut self.ifaces, s) {
                        if f.sockets.get::<udp::Socket>(h).send_queue() == 0 {
                            f.sockets.remove(h);
                        } else {
                            // Datagrams still queued (waiting for ARP/NDP) go out first.
                            lingering.push(Linger::Smol(h));
                            self.closing.push(Closing {
                                slot: s,
                                handle: h,
                                udp_until: Some(until),
                            });
                        }
                    }
                }
            }
            Kind::Icmp(i) => {
                for (s, h) in i.subs {
                    if let Some(f) = get_iface(&mut self.ifaces, s) {
                        f.sockets.remove(h);
                    }
                }
            }
            Kind::Raw6(r) => r.close(&mut self.ifaces),
            Kind::Tcp(t) => {
                if let Some((s, h)) = t.conn
                    && let Some(f) = get_iface(&mut self.ifaces, s)
                {
                    let sock = f.sockets.get_mut::<tcp::Socket>(h);
                    if rec.opts.linger == Some(0) || t.reset {
                        sock.abort();
                    } else {
                        sock.close();
                        // An orphan whose peer goes silent ends (FIN-WAIT-2, LAST-ACK, data
                        // to a dead peer), as Linux's orphans do.
                        sock.set_keep_alive(None);
                        sock.set_timeout(Some(smol_duration(ORPHAN_TIMEOUT)));
                        if let Some(secs) = rec.opts.linger.filter(|s| *s > 0) {
                            // SO_LINGER: close() waits until the data is acknowledged.
                            lingering.push(Linger::Smol(h));
                            wait = Duration::from_secs(u64::try_from(secs).unwrap_or(0));
                        }
                    }
                    self.closing.push(Closing {
                        slot: s,
                        handle: h,
                        udp_until: None,
                    });
                }
            }
            Kind::Listener(l) => {
                for (s, h) in l.spares {
                    if let Some(f) = get_iface(&mut self.ifaces, s) {
                        f.sockets.remove(h);
                    }
                }
                for (s, h) in l.embryos.into_iter().chain(l.ready) {
                    if let Some(f) = get_iface(&mut self.ifaces, s) {
                        f.sockets.get_mut::<tcp::Socket>(h).abort();
                        self.closing.push(Closing {
                            slot: s,
                            handle: h,
                            udp_until: None,
                        });
                    }
                }
            }
            Kind::Netlink(_) | Kind::IothTcp(_) => {}
        }
        (lingering, wait)
    }

    /// Re-applies options that live in smoltcp sockets.
    pub(crate) fn apply_opts(&mut self, id: usize) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_apply_opts(id);
        }
        let Core { ifaces, socks, .. } = self;
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        let opts = rec.opts.clone();
        match &mut rec.kind {
            Kind::Tcp(t) => {
                if let Some((s, h)) = t.conn
                    && let Some(f) = get_iface(ifaces, s)
                {
                    let sock = f.sockets.get_mut::<tcp::Socket>(h);
                    sock.set_nagle_enabled(!opts.nodelay);
                    sock.set_hop_limit(opts.ttl);
                    if t.phase == Phase::Open && !t.reset {
                        run_timers(t, sock, &opts);
                    }
                }
            }
            Kind::Listener(l) => l.opts = opts,
            Kind::Icmp(_) => {}
            Kind::Udp(u) => {
                for &(s, h) in &u.subs {
                    if let Some(f) = get_iface(ifaces, s) {
                        f.sockets.get_mut::<udp::Socket>(h).set_hop_limit(opts.ttl);
                    }
                }
            }
            Kind::Netlink(_) | Kind::Raw6(_) | Kind::IothTcp(_) => {}
        }
        Ok(())
    }

    /// Joins or leaves a multicast group on interface `ifindex` (0: the one routing
    /// chooses); `ENODEV` for an interface the stack does not have.
    pub(crate) fn multicast(&mut self, group: IpAddr, join: bool, ifindex: u32) -> io::Result<()> {
        let slot = if ifindex != 0 {
            self.iface(ifindex).ok_or_else(|| err(libc::ENODEV))?;
            (ifindex - 1) as usize
        } else {
            self.route(group).unwrap_or(0)
        };
        let f = get_iface(&mut self.ifaces, slot).ok_or_else(|| err(libc::ENODEV))?;
        let r = match group {
            IpAddr::V4(g) => {
                if join {
                    f.iface.join_multicast_group(g)
                } else {
                    f.iface.leave_multicast_group(g)
                }
            }
            IpAddr::V6(g) => {
                if join {
                    f.iface.join_multicast_group(g)
                } else {
                    f.iface.leave_multicast_group(g)
                }
            }
        };
        r.map_err(|_| err(libc::ENOBUFS))
    }
}
