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

mod backlog;
mod calls;
mod data;

pub(crate) use backlog::{clear_stale_tuple, refill_listeners};

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

impl Core {
    /// Socket `id`'s record with the interfaces beside it, borrowed apart (a record names its
    /// smoltcp sockets by interface slot and handle); `EBADF` when `id` is not open.
    pub(crate) fn rec_and_ifaces(
        &mut self,
        id: usize,
    ) -> io::Result<(&mut [Option<Iface>], &mut SockRec)> {
        let Core { ifaces, socks, .. } = self;
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        Ok((ifaces, rec))
    }
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
