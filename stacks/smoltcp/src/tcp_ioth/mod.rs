//! TCP by our own engine (`ioth_tcp`) for stacks made with `tcp=ioth`: smoltcp carries IP,
//! the engine does TCP.
//!
//! smoltcp never sees TCP on such a stack. Each interface's socket set holds raw sockets for
//! (IPv4, TCP) and (IPv6, TCP), which smoltcp hands every TCP packet it accepts (IPv4 after
//! reassembly); when a raw socket took a packet smoltcp answers nothing itself, so its own TCP
//! (which has no sockets here) never sends a RST. A third raw socket, for IPv6 packets with a
//! hop-by-hop header, only keeps smoltcp quiet: it hands raw sockets such packets with that
//! header removed and its next-header value lost, so TCP behind one is dropped.
//!
//! - **Ingress**: after every packet smoltcp processes (`Core::poll_link`, `Core::poll_lo`),
//!   [`TcpIoth::drain`] takes the TCP segments out of the receive raw sockets and gives each
//!   to [`ioth_tcp::Engine::input`] (checksums verified except on `lo`), if it is addressed to
//!   one of the stack's addresses from a unicast one.
//! - **Egress**: [`Core::tcp_round`] runs [`ioth_tcp::Engine::poll`]; each segment is routed
//!   (`core::route_in`), and its IP header written in front of it straight into the transmit
//!   buffer of the raw socket for its (interface, next hop); then smoltcp's egress moves those
//!   packets, and `lo`'s come back as input, until the engine has nothing more to say.
//! - **Fast path** (`fast`): what smoltcp would only pass through skips it: unicast TCP
//!   frames for a link's MAC go from the link batch straight to the engine, and segments to a
//!   next hop smoltcp resolved a moment ago straight to the link (smoltcp stays the
//!   authority on neighbours; see the module).
//! - **Neighbours**: smoltcp holds a raw socket whose head packet waits for an unresolved
//!   neighbour (and silences the socket), so each next hop has its own transmit socket: one
//!   dead peer holds up only its own packets. A queue whose head has waited
//!   [`NEIGHBOUR_TIMEOUT`] (Linux's three probes a second apart) is dropped, and the engine
//!   told that its destinations are unreachable (`EHOSTUNREACH` for a connect in progress).
//!   While a neighbour is unresolved, segments beyond its full queue are dropped, as Linux's
//!   `unres_qlen_bytes` does; idle queues go after [`TX_IDLE`].
//! - **Sockets** (`calls`, `sock`): the engine's connections and listeners behind the usual
//!   socket records; what changed is learned from [`ioth_tcp::Engine::take_events`], so only
//!   those sockets are refreshed.

pub(crate) mod calls;
pub(crate) mod fast;
pub(crate) mod probe;
pub(crate) mod sock;
pub(crate) mod wire;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ioth_tcp::{Engine, Event, Outgoing};
use smoltcp::iface::{PollResult, SocketHandle, SocketSet};
use smoltcp::socket::raw;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{IpProtocol, IpVersion};

use crate::core::{Attachment, Core, Iface, NEIGHBOUR_TIMEOUT, StackRoute};
use crate::device::{ETH_FRAME, LinkPort};
use crate::driver::{NEVER, now_micros};

/// How long an empty transmit queue is kept after its last use (µs).
const TX_IDLE: u64 = 10_000_000;
/// Engine polls and egress passes one drive may make (a burst bigger than the transmit
/// buffers is sent in several).
const ROUNDS: usize = 64;

/// Packets and bytes of a transmit queue on a link: about Linux's `unres_qlen_bytes`.
const TX_PACKETS: usize = 128;
const TX_BYTES: usize = 128 * 1600;
/// Transmit queue on `lo`, whose packets are up to 64 KiB.
const LO_TX_PACKETS: usize = 4;
const LO_TX_BYTES: usize = 4 * LO_PACKET;
/// The largest packet `lo` carries: 64 KiB of IP payload and an IPv6 header.
const LO_PACKET: usize = 65_536 + 64;
/// Receive buffer of a link's raw socket: drained after every packet, so one packet (IPv4
/// reassembled by smoltcp into at most its 1500-byte buffer) fits with room to spare. Each
/// stack holds two (IPv4, IPv6) per link once the link received something: small, for a
/// process with thousands of stacks.
const LINK_RX_BYTES: usize = 4 * 1024;

/// The raw sockets an interface receives TCP by.
struct RxSocks {
    v4: SocketHandle,
    v6: SocketHandle,
}

/// A transmit queue: the raw socket of one (interface, next hop).
struct TxQueue {
    slot: usize,
    hop: IpAddr,
    handle: SocketHandle,
    /// Bytes queued after the last look plus those enqueued since: less than that in the
    /// queue at the next look means packets left.
    expected: usize,
    /// Since when the head packet has waited (µs); None when the queue is empty.
    head_since: Option<u64>,
    /// When we last probed the next hop ourselves for the current head (µs; see `probe`).
    probed_at: Option<u64>,
    /// Destinations of the packets queued since the queue was last empty.
    dsts: Vec<IpAddr>,
    /// When a packet was last queued or sent (µs).
    last_used: u64,
    /// The next hop's MAC as smoltcp's egress last used it, and when (µs; see `fast`).
    mac: Option<([u8; 6], u64)>,
}

/// The engine of a stack with `tcp=ioth`, and the raw sockets that carry its segments.
pub(crate) struct TcpIoth {
    /// The TCP engine.
    pub engine: Engine,
    /// Receive sockets, by interface slot.
    rx: Vec<Option<RxSocks>>,
    tx: Vec<TxQueue>,
    /// The stack's addresses (every interface's), for the destination check.
    locals: Vec<IpAddr>,
    /// IPv4 identification of the next packet.
    ip_id: u16,
    /// Scratch for `take_events`.
    events: Vec<Event>,
    /// An emit was refused while its queue still moves: the engine is polled again soon.
    blocked: bool,
    /// A full queue was sent on during a poll (smoltcp's state changed).
    egressed: bool,
    /// When each source's TCP last went through smoltcp (see `fast`).
    confirmations: fast::Confirmations,
}

/// What an engine poll needs of the stack besides the engine.
struct PollCx<'a> {
    ifaces: &'a mut [Option<Iface>],
    routes: &'a [StackRoute],
    /// The link devices' frame buffer (for egress during the poll).
    frame: &'a mut [u8; ETH_FRAME],
    now: u64,
    smol_now: SmolInstant,
}

/// The engine's clock (the driver clock, µs).
pub(crate) fn engine_now() -> ioth_tcp::Instant {
    ioth_tcp::Instant::from_micros(now_micros())
}

fn raw_socket(
    version: IpVersion,
    rx: usize,
    rx_packets: usize,
    tx: usize,
    tx_packets: usize,
) -> raw::Socket<'static> {
    let rx = raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; rx_packets], vec![0u8; rx]);
    let tx = raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; tx_packets], vec![0u8; tx]);
    raw::Socket::new(Some(version), Some(IpProtocol::Tcp), rx, tx)
}

/// The MTU the engine is told for an interface of `mtu` and a connection of `ipv4`: an
/// IPv4 packet is at most 65535 bytes (so `lo` offers MSS 65495, as Linux's does).
pub(crate) fn engine_mtu(mtu: u32, ipv4: bool) -> usize {
    let mtu = mtu as usize;
    if ipv4 { mtu.min(65_535) } else { mtu }
}

impl TcpIoth {
    /// An engine with `config` (its secret already set).
    pub(crate) fn new(config: ioth_tcp::Config) -> TcpIoth {
        let mut id = [0u8; 2];
        crate::core::random_bytes(&mut id);
        TcpIoth {
            engine: Engine::new(config),
            rx: Vec::new(),
            tx: Vec::new(),
            locals: vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
            ip_id: u16::from_ne_bytes(id),
            events: Vec::new(),
            blocked: false,
            egressed: false,
            confirmations: fast::Confirmations::default(),
        }
    }

    /// Makes sure link interface `slot` has its receive raw sockets (before any packet is
    /// processed there: without them smoltcp would answer TCP with RSTs). `lo` gets its own
    /// when the engine first sends there (only the engine sends TCP on `lo`).
    pub(crate) fn ensure_rx(&mut self, slot: usize, sockets: &mut SocketSet<'static>) {
        ensure_rx(&mut self.rx, slot, sockets);
    }

    /// Gives the engine the TCP segments interface `slot` received (at `now`, µs); true if
    /// there were any.
    pub(crate) fn drain(
        &mut self,
        slot: usize,
        sockets: &mut SocketSet<'static>,
        mtu: u32,
        now: u64,
    ) -> bool {
        let Some(Some(rx)) = self.rx.get(slot) else {
            return false;
        };
        let now = ioth_tcp::Instant::from_micros(now);
        let mut any = false;
        for h in [rx.v4, rx.v6] {
            let sock = sockets.get_mut::<raw::Socket>(h);
            while let Ok(packet) = sock.recv() {
                let Some(seg) = wire::parse(packet) else {
                    crate::ident::trace!("TCP packet without a usable segment dropped");
                    continue;
                };
                if !unicast(seg.src) || !local_to(&self.locals, slot, seg.dst) {
                    crate::ident::trace!("TCP {} -> {}: not for this stack", seg.src, seg.dst);
                    continue;
                }
                let mtu = engine_mtu(mtu, seg.dst.is_ipv4());
                self.engine
                    .input(now, seg.src, seg.dst, seg.tcp, mtu, slot != 0);
                any = true;
            }
        }
        any
    }

    /// Gives the engine the segment in `frame`, received on link `slot` (MAC `mac`, MTU
    /// `mtu`) at `now` (µs), if it may skip smoltcp (see `fast`); false: smoltcp takes it.
    pub(crate) fn take_fast(
        &mut self,
        slot: usize,
        frame: &[u8],
        mac: [u8; 6],
        mtu: u32,
        now: u64,
    ) -> bool {
        let Some(seg) = fast::inbound(frame, mac) else {
            if fast::neighbour_news(frame) {
                self.forget_neighbours(slot);
            }
            return false;
        };
        if slot == 0
            || !unicast(seg.src)
            || seg.src.is_loopback()
            || !local_to(&self.locals, slot, seg.dst)
            || self.confirmations.due(slot, seg.src, now)
        {
            return false;
        }
        let mtu = engine_mtu(mtu, seg.dst.is_ipv4());
        self.engine.input(
            ioth_tcp::Instant::from_micros(now),
            seg.src,
            seg.dst,
            seg.tcp,
            mtu,
            true,
        );
        #[cfg(test)]
        FAST_FRAMES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        true
    }

    /// Forgets the next hops' MACs learned on interface `slot`.
    fn forget_neighbours(&mut self, slot: usize) {
        for q in self.tx.iter_mut().filter(|q| q.slot == slot) {
            q.mac = None;
        }
    }

    /// Takes the stack's addresses after they changed (`Core::sync_addrs`).
    pub(crate) fn set_locals(&mut self, ifaces: &[Option<Iface>]) {
        self.locals.clear();
        for f in ifaces.iter().flatten() {
            self.locals.extend(f.addrs.iter().map(|&(a, _)| a));
        }
    }

    /// Forgets what it had on interface `slot` (being removed).
    pub(crate) fn detach(&mut self, slot: usize) {
        if let Some(rx) = self.rx.get_mut(slot) {
            *rx = None;
        }
        self.tx.retain(|q| q.slot != slot);
    }

    /// When the stack must be driven next for TCP (µs).
    pub(crate) fn deadline(&self) -> u64 {
        let mut next = self.engine.next_deadline().micros();
        for q in &self.tx {
            if let Some(since) = q.head_since {
                next = next.min(since.saturating_add(NEIGHBOUR_TIMEOUT));
                if q.slot != 0 {
                    next = next.min(match q.probed_at {
                        None => since.saturating_add(probe::PROBE_AFTER),
                        Some(at) => at.saturating_add(probe::PROBE_EVERY),
                    });
                }
            }
        }
        if self.blocked {
            next = next.min(now_micros() + 1000);
        }
        next
    }

    /// Appends the socket ids whose state may have changed since the last call.
    pub(crate) fn changed_sockets(&mut self, out: &mut Vec<usize>) {
        self.events.clear();
        self.engine.take_events(&mut self.events);
        out.extend(
            self.events
                .iter()
                .filter_map(|e| usize::try_from(e.token).ok()),
        );
    }

    /// Runs the engine's timers and sends what it has into the transmit queues; returns the
    /// slots it queued packets on (appended to `touched`).
    fn poll(&mut self, cx: &mut PollCx<'_>, touched: &mut Vec<usize>) {
        let now = cx.now;
        let TcpIoth {
            engine,
            rx,
            tx,
            ip_id,
            blocked,
            egressed,
            ..
        } = self;
        *blocked = false;
        let mut unreachable: Vec<IpAddr> = Vec::new();
        engine.poll(ioth_tcp::Instant::from_micros(now), &mut |out: Outgoing<
            '_,
        >| {
            match emit(cx, rx, tx, ip_id, egressed, &out) {
                Emitted::Queued(slot) => {
                    if !touched.contains(&slot) {
                        touched.push(slot);
                    }
                    true
                }
                Emitted::Dropped | Emitted::Sent => true,
                Emitted::NoRoute(dst) => {
                    if !unreachable.contains(&dst) {
                        unreachable.push(dst);
                    }
                    true
                }
                Emitted::Full(slot) => {
                    // Its egress runs before the next poll.
                    if !touched.contains(&slot) {
                        touched.push(slot);
                    }
                    *blocked = true;
                    false
                }
            }
        });
        let now = ioth_tcp::Instant::from_micros(now);
        for dst in unreachable {
            engine.unreachable(now, dst, ioth_tcp::Error::NetUnreachable);
        }
    }

    /// Looks at the transmit queues after egress: notes which heads wait, drops the queues
    /// whose head waited too long (telling the engine), removes idle ones.
    fn track(&mut self, ifaces: &mut [Option<Iface>], now: u64) {
        let TcpIoth { engine, tx, .. } = self;
        // What smoltcp's egress sent teaches the fast path (see `fast`).
        for (slot, f) in ifaces.iter_mut().enumerate() {
            let Some(f) = f.as_mut().filter(|f| !f.learned.is_empty()) else {
                continue;
            };
            for (dst, mac) in f.learned.drain(..) {
                for q in tx
                    .iter_mut()
                    .filter(|q| q.slot == slot && q.dsts.contains(&dst))
                {
                    q.mac = Some((mac, now));
                }
            }
        }
        tx.retain_mut(|q| {
            let Some(f) = ifaces.get_mut(q.slot).and_then(Option::as_mut) else {
                return false;
            };
            let queued = f.sockets.get::<raw::Socket>(q.handle).send_queue();
            if queued == 0 {
                q.head_since = None;
                q.probed_at = None;
                q.dsts.clear();
                q.expected = 0;
                if now.saturating_sub(q.last_used) >= TX_IDLE {
                    f.sockets.remove(q.handle);
                    return false;
                }
                return true;
            }
            if queued < q.expected || q.head_since.is_none() {
                // Packets left (or the queue just filled): a new head starts waiting.
                q.head_since = Some(now);
                q.probed_at = None;
            }
            q.expected = queued;
            let waited = q.head_since.map_or(0, |s| now.saturating_sub(s));
            if q.slot != 0
                && waited >= probe::PROBE_AFTER
                && q.probed_at
                    .is_none_or(|at| now.saturating_sub(at) >= probe::PROBE_EVERY)
            {
                probe::probe(f, q.hop);
                q.probed_at = Some(now);
            }
            if q.head_since
                .is_some_and(|s| now.saturating_sub(s) >= NEIGHBOUR_TIMEOUT)
            {
                crate::ident::debug!(
                    "{}: neighbour {} unresolved for {} s: {} bytes to {:?} dropped",
                    f.name,
                    q.hop,
                    NEIGHBOUR_TIMEOUT / 1_000_000,
                    queued,
                    q.dsts
                );
                f.sockets.remove(q.handle);
                let at = ioth_tcp::Instant::from_micros(now);
                for &dst in &q.dsts {
                    engine.unreachable(at, dst, ioth_tcp::Error::HostUnreachable);
                }
                return false;
            }
            true
        });
    }
}

/// [`TcpIoth::ensure_rx`] on the receive sockets `rx`.
fn ensure_rx(rx: &mut Vec<Option<RxSocks>>, slot: usize, sockets: &mut SocketSet<'static>) {
    if rx.get(slot).is_some_and(Option::is_some) {
        return;
    }
    if rx.len() <= slot {
        rx.resize_with(slot + 1, || None);
    }
    let (bytes, packets) = if slot == 0 {
        (LO_PACKET, 2)
    } else {
        (LINK_RX_BYTES, 4)
    };
    let v4 = sockets.add(raw_socket(IpVersion::Ipv4, bytes, packets, 0, 0));
    let v6 = sockets.add(raw_socket(IpVersion::Ipv6, bytes, packets, 0, 0));
    // Takes (and drops) IPv6 packets with a hop-by-hop header, so that smoltcp sends no
    // RST for TCP behind one (see the module's documentation).
    let hbh = raw::Socket::new(
        Some(IpVersion::Ipv6),
        Some(IpProtocol::HopByHop),
        raw::PacketBuffer::new(Vec::new(), Vec::new()),
        raw::PacketBuffer::new(Vec::new(), Vec::new()),
    );
    sockets.add(hbh);
    rx[slot] = Some(RxSocks { v4, v6 });
}

/// What became of one segment the engine emitted.
enum Emitted {
    /// In the transmit queue of this interface slot.
    Queued(usize),
    /// Dropped (malformed, or beyond the queue of an unresolved neighbour).
    Dropped,
    /// No route to this destination.
    NoRoute(IpAddr),
    /// The queue of this interface slot is full but moving: try again after its egress.
    Full(usize),
    /// Sent on the link past smoltcp (see `fast`).
    Sent,
}

fn unicast(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_broadcast() || a.is_multicast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    }
}

/// Whether `dst`, arriving on interface `slot`, is one of the stack's addresses (`lo` also
/// takes the loopback ranges; a link never does, as Linux drops them there).
fn local_to(locals: &[IpAddr], slot: usize, dst: IpAddr) -> bool {
    if dst.is_loopback() {
        return slot == 0;
    }
    locals.contains(&dst)
}

/// Sends what interface `f`'s sockets have queued, now (a transmit queue filled during a
/// poll). A link that is down sends nothing, as in `Core::poll_link`.
fn egress_now(f: &mut Iface, frame: &mut [u8; ETH_FRAME], now: SmolInstant) {
    let Iface {
        attach,
        iface,
        sockets,
        mtu,
        up,
        learned,
        mac,
        ..
    } = f;
    match attach {
        Attachment::Loopback(dev) => {
            while iface.poll_egress(now, dev, sockets) != PollResult::None {}
        }
        Attachment::Link(link) => {
            if !*up {
                return;
            }
            let mut port = LinkPort {
                link,
                mac: *mac,
                rx: None,
                tx: frame,
                mtu: *mtu as usize,
                learn: Some(learned),
                learn_only: &[],
            };
            while iface.poll_egress(now, &mut port, sockets) != PollResult::None {}
        }
    }
}

/// Queues one segment (see [`TcpIoth::poll`]).
fn emit(
    cx: &mut PollCx<'_>,
    rx: &mut Vec<Option<RxSocks>>,
    tx: &mut Vec<TxQueue>,
    ip_id: &mut u16,
    egressed: &mut bool,
    out: &Outgoing<'_>,
) -> Emitted {
    let now = cx.now;
    let ifaces = &mut *cx.ifaces;
    let routes = cx.routes;
    let (src, dst) = (out.src.to_canonical(), out.dst.to_canonical());
    if src.is_ipv4() != dst.is_ipv4() || !unicast(dst) {
        crate::ident::debug!("TCP segment {src} -> {dst} not sendable: dropped");
        return Emitted::Dropped;
    }
    let Ok((slot, hop)) = crate::core::next_hop(ifaces, routes, dst) else {
        return Emitted::NoRoute(dst);
    };
    let Some(f) = ifaces.get_mut(slot).and_then(Option::as_mut) else {
        return Emitted::NoRoute(dst);
    };
    if slot == 0 {
        // What this segment causes comes back on `lo`, for the engine.
        ensure_rx(rx, 0, &mut f.sockets);
    }
    let q = match tx.iter().position(|q| q.slot == slot && q.hop == hop) {
        Some(i) => &mut tx[i],
        None => {
            let version = if dst.is_ipv4() {
                IpVersion::Ipv4
            } else {
                IpVersion::Ipv6
            };
            let sock = if slot == 0 {
                raw_socket(version, 0, 0, LO_TX_BYTES, LO_TX_PACKETS)
            } else {
                raw_socket(version, 0, 0, TX_BYTES, TX_PACKETS)
            };
            tx.push(TxQueue {
                slot,
                hop,
                handle: f.sockets.add(sock),
                expected: 0,
                head_since: None,
                probed_at: None,
                dsts: Vec::new(),
                last_used: now,
                mac: None,
            });
            let last = tx.len() - 1;
            &mut tx[last]
        }
    };
    let header = if dst.is_ipv4() {
        wire::IPV4_HEADER
    } else {
        wire::IPV6_HEADER
    };
    let len = header + out.segment.len();
    let fits_ip = if dst.is_ipv4() {
        len <= 65_535
    } else {
        out.segment.len() <= 65_535
    };
    let sock = f.sockets.get::<raw::Socket>(q.handle);
    if let Some((mac, at)) = q.mac
        && slot != 0
        && f.up
        && now.saturating_sub(at) < fast::NEIGHBOUR_FRESH
        && sock.send_queue() == 0
        && fast::ETH_HEADER + len <= (f.mtu as usize + fast::ETH_HEADER).min(cx.frame.len())
        && let Attachment::Link(link) = &f.attach
    {
        let frame = &mut cx.frame[..fast::ETH_HEADER + len];
        fast::write_eth(frame, mac, f.mac, dst.is_ipv4());
        write_ip(&mut frame[fast::ETH_HEADER..], src, dst, out, ip_id);
        if let Err(e) = link.send(frame) {
            crate::ident::trace!("TCP frame to {dst} not sent on {}: {e}", link.vnl());
        }
        q.last_used = now;
        #[cfg(test)]
        FAST_SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Emitted::Sent;
    }
    if !fits_ip || len > sock.payload_send_capacity() {
        crate::ident::debug!("TCP segment of {len} bytes to {dst} too long to send: dropped");
        return Emitted::Dropped;
    }
    if slot != 0 && len > f.mtu as usize {
        // smoltcp's egress would drop it without a word (no fragmentation): say so here, a
        // segment the engine sized wrong would otherwise vanish at every retransmission.
        crate::ident::warn!(
            "TCP packet of {len} bytes to {dst} over {}'s MTU {}: dropped",
            f.name,
            f.mtu
        );
        return Emitted::Dropped;
    }
    // Without room for it for sure (space twice its length is contiguous for half of it),
    // a queue that moves is sent on first, so the engine is refused only as a last resort.
    let free = sock.payload_send_capacity() - sock.send_queue();
    if q.head_since.is_none() && (!sock.can_send() || free < 2 * len) {
        egress_now(f, cx.frame, cx.smol_now);
        *egressed = true;
    }
    let sock = f.sockets.get_mut::<raw::Socket>(q.handle);
    let Ok(buf) = sock.send(len) else {
        if q.head_since.is_some() {
            // Waiting for the neighbour with a full queue: Linux drops too.
            return Emitted::Dropped;
        }
        return Emitted::Full(slot);
    };
    write_ip(buf, src, dst, out, ip_id);
    q.expected += len;
    q.last_used = now;
    if !q.dsts.contains(&dst) && q.dsts.len() < 64 {
        q.dsts.push(dst);
    }
    Emitted::Queued(slot)
}

/// Writes the IP packet of `out` from `src` to `dst` (one family) into `buf`, which is as
/// long as the packet.
fn write_ip(buf: &mut [u8], src: IpAddr, dst: IpAddr, out: &Outgoing<'_>, ip_id: &mut u16) {
    let hop_limit = out.hop_limit.unwrap_or(64);
    let header = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            *ip_id = ip_id.wrapping_add(1);
            wire::write_v4(buf, s, d, out.segment.len(), hop_limit, *ip_id);
            wire::IPV4_HEADER
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            wire::write_v6(buf, s, d, out.segment.len(), hop_limit);
            wire::IPV6_HEADER
        }
        // The caller checked: one family.
        _ => return,
    };
    buf[header..].copy_from_slice(out.segment);
}

/// Frames that took the fast ingress path (tests).
#[cfg(test)]
pub(crate) static FAST_FRAMES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Frames that took the fast egress path (tests).
#[cfg(test)]
pub(crate) static FAST_SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Core {
    /// The TCP part of a poll (stacks with `tcp=ioth`): the engine's timers and output, the
    /// egress that carries it (and `lo`'s input it causes), until nothing more is sent; then
    /// the transmit queues are checked. Returns whether smoltcp's state changed.
    pub(crate) fn tcp_round(&mut self, now: SmolInstant) -> bool {
        let mut changed = false;
        let mut touched = Vec::new();
        for _ in 0..ROUNDS {
            touched.clear();
            let Core {
                ifaces,
                routes,
                tcp,
                tx,
                ..
            } = self;
            let Some(t) = tcp.as_deref_mut() else {
                return changed;
            };
            let mut cx = PollCx {
                ifaces,
                routes,
                frame: tx,
                now: crate::core::micros(now),
                smol_now: now,
            };
            t.poll(&mut cx, &mut touched);
            let blocked = t.blocked;
            changed |= std::mem::take(&mut t.egressed);
            let mut looped = false;
            for &s in &touched {
                if s == 0 {
                    looped = true;
                } else {
                    changed |= self.poll_link(s, now, None);
                }
            }
            if looped {
                changed |= self.poll_lo(now);
            }
            // Only `lo` gives the engine new input, and only a full queue leaves it output:
            // otherwise one more poll would find nothing.
            if !looped && !blocked {
                break;
            }
        }
        let Core { ifaces, tcp, .. } = self;
        if let Some(t) = tcp.as_deref_mut() {
            t.track(ifaces, crate::core::micros(now));
        }
        changed
    }

    /// Whether TCP connections of the engine are still open or finishing (a dropped stack
    /// lives on for them).
    pub(crate) fn tcp_finishing(&self) -> bool {
        self.tcp
            .as_ref()
            .is_some_and(|t| t.engine.connections() > 0)
    }
}

/// The next deadline of `tcp`, or [`NEVER`].
pub(crate) fn deadline(tcp: Option<&TcpIoth>) -> u64 {
    tcp.map_or(NEVER, TcpIoth::deadline)
}
