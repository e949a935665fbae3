//! One connection: its state (RFC 9293 3.3.2), its buffers and the machinery that decides
//! what it sends.
//!
//! Submodules: [`input`] processes an arriving segment (RFC 9293 3.10.7), [`output`] builds
//! what may be sent now, [`timers`] runs what comes due. This module holds the state and the
//! socket calls (send, receive, shutdown).
//!
//! Invariants:
//! - `rec.snd_una() <= buf_seq` once the SYN is acknowledged they are equal: the send buffer
//!   holds exactly the bytes from `snd_una` (data only; SYN and FIN take sequence space but
//!   no buffer space).
//! - `fin_seq`, once set, is `buf_seq + sndbuf.len()` and never changes: nothing is written
//!   after the FIN.
//! - The right edge we advertised (`rcv_adv`) never moves left (RFC 9293 3.8.6.2.1).
//! - A connection in `Closed` holds no timer and is removed by the engine.

pub(crate) mod input;
pub(crate) mod output;
pub(crate) mod timers;

use std::net::SocketAddr;
use std::time::Duration;

use crate::buffer::{RecvBuffer, SendBuffer};
use crate::cc::{CongestionControl, Prr};
use crate::engine::{Config, Counters, Error, SockOpts, State, Status};
use crate::recovery::Recovery;
use crate::rtt::RttEstimator;
use crate::seq::Seq;
use crate::time::Instant;

/// IPv4 and TCP fixed headers.
const V4_HEADERS: usize = 40;
/// IPv6 and TCP fixed headers.
const V6_HEADERS: usize = 60;
/// Bytes of the timestamps option as sent on data segments (NOP, NOP, kind, len, 8).
pub(crate) const TS_OPTION_LEN: usize = 12;
/// The MSS assumed when the peer sends none (RFC 9293 3.7.1: 536 for IPv4, 1220 for IPv6).
const DEFAULT_MSS_V4: usize = 536;
const DEFAULT_MSS_V6: usize = 1220;
/// Quick ACKs at the start of a connection (Linux's `TCP_MAX_QUICKACKS`).
const QUICKACKS: u32 = 16;
/// How long a corked partial segment waits (Linux: 200 ms).
pub(crate) const CORK_WAIT: Duration = Duration::from_millis(200);

/// What the connection's owner sees happen, for the engine to act on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Notes {
    /// The status may have changed (readiness).
    pub changed: bool,
    /// It just became established (a passive one goes to its listener's accept queue).
    pub established: bool,
    /// The connection is over and may be forgotten once nobody holds its id.
    pub closed: bool,
}

/// Everything a call on a connection needs from the engine.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub cfg: &'a Config,
    pub counters: &'a mut Counters,
}

/// The options of a SYN: what both sides agreed on.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Negotiated {
    /// The peer's MSS option (None: the default for the family).
    pub peer_mss: Option<u16>,
    /// Window scale shifts (peer's, ours), when both sides offered scaling.
    pub wscale: Option<(u8, u8)>,
    pub sack: bool,
    /// The peer's first TSval, when both sides use timestamps.
    pub ts_recent: Option<u32>,
}

/// One connection.
pub(crate) struct Conn {
    pub state: State,
    /// Wire addresses (IPv4 ones for an IPv4 connection of a dual-stack listener).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Present IPv4 addresses as IPv4-mapped IPv6 (a dual-stack listener's connection).
    pub mapped: bool,
    pub token: u64,
    pub opts: SockOpts,
    /// Nobody holds the id any more: the engine forgets the connection when it is done.
    pub orphan: bool,
    /// The listener (index, generation) a passive open belongs to, until accepted.
    pub listener: Option<(u32, u32)>,
    /// Whether the handshake completed.
    pub established: bool,
    pub error: Option<Error>,
    /// An error seen that did not end the connection (ICMP/neighbour), reported if it times out.
    pub soft_error: Option<Error>,

    // Send side.
    pub iss: Seq,
    pub rec: Recovery,
    pub sndbuf: SendBuffer,
    /// Sequence number of the first byte in `sndbuf`.
    pub buf_seq: Seq,
    /// The application shut down writing: a FIN follows the queued data.
    pub fin_queued: bool,
    /// Our FIN's sequence number once sent.
    pub fin_seq: Option<Seq>,
    pub snd_wnd: usize,
    pub max_snd_wnd: usize,
    pub snd_wl1: Seq,
    pub snd_wl2: Seq,
    /// The peer's window shift and ours (0, 0 without scaling).
    pub snd_shift: u8,
    pub rcv_shift: u8,
    /// MTU-derived limit of a whole segment's TCP part (header + data) on our side.
    pub mtu_mss: usize,
    /// The peer's MSS (data bytes per segment, options excluded).
    pub peer_mss: usize,
    pub sack_ok: bool,
    pub ts_ok: bool,
    pub ts_recent: u32,
    pub ts_recent_at: Instant,
    pub ts_offset: u32,
    pub rtt: RttEstimator,
    pub cc: CongestionControl,
    pub prr: Prr,
    /// Fast recovery in progress, until snd_una reaches this point (RFC 6675's RecoveryPoint).
    pub recovery_point: Option<Seq>,
    /// Recovery after an RTO in progress, until snd_una reaches this point.
    pub loss_point: Option<Seq>,
    /// Bytes PRR allows to send now during fast recovery.
    pub prr_allow: usize,
    /// Retransmissions of the current episode not yet shown spurious by D-SACK (undo).
    pub undo_retrans: i64,
    /// Consecutive retransmission timeouts (Linux's `icsk_retransmits`).
    pub timeouts: u32,
    /// When the oldest outstanding data was first sent or last made progress.
    pub progress_at: Option<Instant>,
    /// The application had more to send than the window allowed at the last send.
    pub cwnd_limited: bool,

    // Receive side.
    pub irs: Seq,
    pub rcvbuf: RecvBuffer,
    /// The right edge of the window we advertised last.
    pub rcv_adv: Seq,
    /// The peer's FIN arrived and everything before it.
    pub fin_received: bool,
    /// A FIN that arrived ahead of missing data.
    pub fin_pending: Option<Seq>,
    /// Our receive buffer may grow by itself (no SO_RCVBUF).
    pub rcv_autotune: bool,
    pub rcv_space_at: Instant,
    pub rcv_space_copied: usize,

    // Acknowledgements.
    pub ack_now: bool,
    pub ack_pending: bool,
    pub full_segs_unacked: u32,
    pub quickacks: u32,
    pub dsack: Option<(Seq, Seq)>,
    pub last_challenge: Option<Instant>,

    // Timers.
    pub rto_at: Option<Instant>,
    pub tlp_at: Option<Instant>,
    pub persist_at: Option<Instant>,
    pub delack_at: Option<Instant>,
    pub keepalive_at: Option<Instant>,
    pub keepalive_probes: u32,
    pub close_at: Option<Instant>,
    pub cork_at: Option<Instant>,
    /// The timer the engine has queued for this connection.
    pub armed: Instant,
    /// Queued for output in the engine.
    pub dirty: bool,
    /// An event is queued for its token.
    pub event_queued: bool,
    /// Our SYN or SYN-ACK is to be sent (first or again).
    pub syn_due: bool,
    /// Something may be sendable: the engine runs `output`.
    pub dirty_output: bool,
    /// A tail loss probe is to be sent.
    pub tlp_due: bool,
    /// A window probe or keepalive probe is to be sent.
    pub probe_due: bool,
    /// Both sides offered window scaling.
    pub wscale_ok: bool,
    /// Most the receive buffer grows to by itself.
    pub rmem_max: usize,
    /// Counted among the engine's TIME-WAIT connections.
    pub in_time_wait: bool,
    /// The TIME-WAIT table was full: the connection ends once its last ACK is out (Linux
    /// on `tcp_max_tw_buckets` overflow) instead of waiting.
    pub skip_time_wait: bool,

    // Statistics (TCP_INFO).
    pub stats: ConnStats,
}

/// Per-connection counters, as Linux's `tcp_info` reports them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ConnStats {
    pub segs_in: u64,
    pub segs_out: u64,
    pub data_segs_in: u64,
    pub data_segs_out: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub bytes_retrans: u64,
    pub dsack_dups: u32,
    pub reord_seen: u32,
    pub rcv_ooopack: u32,
    pub last_data_sent: Instant,
    pub last_data_recv: Instant,
    pub last_ack_recv: Instant,
    pub total_rto: u32,
}

/// The MSS we offer for an interface MTU (RFC 9293 3.7.1: MTU minus fixed headers).
pub(crate) fn mss_for_mtu(mtu: usize, ipv6: bool) -> usize {
    let h = if ipv6 { V6_HEADERS } else { V4_HEADERS };
    mtu.saturating_sub(h).clamp(88, 65495)
}

/// The window shift that lets a buffer of `max` bytes be advertised whole (RFC 7323 2.3).
pub(crate) fn shift_for(max: usize) -> u8 {
    let mut s = 0u8;
    while s < 14 && (65535usize << s) < max {
        s += 1;
    }
    s
}

impl Conn {
    /// A connection in `state` (SynSent for connect, SynReceived for a passive open) from
    /// `local` to `remote`. Options and sequence numbers are filled in by the caller.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cx: &Ctx<'_>,
        state: State,
        local: SocketAddr,
        remote: SocketAddr,
        iss: Seq,
        mtu: usize,
        opts: &SockOpts,
        token: u64,
    ) -> Conn {
        let ipv6 = remote.is_ipv6();
        let cfg = cx.cfg;
        let rcv_cap = if opts.rcvbuf > 0 {
            opts.rcvbuf
        } else {
            cfg.rmem_default
        };
        let snd_cap = if opts.sndbuf > 0 {
            opts.sndbuf
        } else {
            cfg.wmem_default
        };
        let mtu_mss = mss_for_mtu(mtu, ipv6) + 20;
        let peer_mss = if ipv6 { DEFAULT_MSS_V6 } else { DEFAULT_MSS_V4 };
        let max_rcv = if opts.rcvbuf > 0 {
            opts.rcvbuf
        } else {
            cfg.rmem_max.max(rcv_cap)
        };
        let rcv_shift = if cfg.window_scaling {
            shift_for(max_rcv)
        } else {
            0
        };
        let seg = mtu_mss - 20;
        Conn {
            state,
            local,
            remote,
            mapped: false,
            token,
            opts: opts.clone(),
            orphan: false,
            listener: None,
            established: false,
            error: None,
            soft_error: None,
            iss,
            rec: Recovery::new(iss),
            sndbuf: SendBuffer::new(snd_cap),
            buf_seq: iss.add(1),
            fin_queued: false,
            fin_seq: None,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: Seq(0),
            snd_wl2: Seq(0),
            snd_shift: 0,
            rcv_shift,
            mtu_mss,
            peer_mss,
            sack_ok: false,
            ts_ok: false,
            ts_recent: 0,
            ts_recent_at: cx.now,
            ts_offset: 0,
            rtt: RttEstimator::new(cfg.min_rto, cfg.max_rto),
            cc: CongestionControl::new(cfg.congestion, seg, cfg.initial_window),
            prr: Prr::new(),
            recovery_point: None,
            loss_point: None,
            prr_allow: 0,
            undo_retrans: 0,
            timeouts: 0,
            progress_at: None,
            cwnd_limited: false,
            irs: Seq(0),
            rcvbuf: RecvBuffer::new(rcv_cap, Seq(0)),
            rcv_adv: Seq(0),
            fin_received: false,
            fin_pending: None,
            rcv_autotune: opts.rcvbuf == 0,
            rcv_space_at: cx.now,
            rcv_space_copied: 0,
            ack_now: false,
            ack_pending: false,
            full_segs_unacked: 0,
            quickacks: QUICKACKS,
            dsack: None,
            last_challenge: None,
            rto_at: None,
            tlp_at: None,
            persist_at: None,
            delack_at: None,
            keepalive_at: None,
            keepalive_probes: 0,
            close_at: None,
            cork_at: None,
            armed: Instant::NEVER,
            dirty: false,
            event_queued: false,
            syn_due: false,
            dirty_output: false,
            tlp_due: false,
            probe_due: false,
            wscale_ok: false,
            rmem_max: max_rcv,
            in_time_wait: false,
            skip_time_wait: false,
            stats: ConnStats::default(),
        }
    }

    /// Takes the peer's SYN: its sequence number and options, with what we offered.
    pub(crate) fn accept_syn(&mut self, now: Instant, irs: Seq, neg: Negotiated, window: u16) {
        self.irs = irs;
        let cap = self.rcvbuf.capacity();
        self.rcvbuf = RecvBuffer::new(cap, irs.add(1));
        self.rcv_adv = irs.add(1);
        if let Some(m) = neg.peer_mss {
            self.peer_mss = usize::from(m).max(64);
        }
        match neg.wscale {
            Some((peer, ours)) => {
                self.snd_shift = peer.min(14);
                self.rcv_shift = ours;
                self.wscale_ok = true;
            }
            None => {
                self.snd_shift = 0;
                self.rcv_shift = 0;
                self.wscale_ok = false;
                // Without scaling the window field holds at most 64 KiB.
                self.rmem_max = self.rmem_max.min(65535);
            }
        }
        self.sack_ok = neg.sack;
        if let Some(ts) = neg.ts_recent {
            self.ts_ok = true;
            self.ts_recent = ts;
            self.ts_recent_at = now;
        } else {
            self.ts_ok = false;
        }
        // RFC 7323 2.2: the window of a SYN is never scaled.
        self.snd_wnd = usize::from(window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = irs;
        self.cc.set_mss(self.data_mss());
    }

    /// Data bytes per full segment: the smaller of the peer's MSS and our MTU's, less the
    /// options every segment carries (RFC 9293 3.7.1's Eff.snd.MSS).
    pub(crate) fn data_mss(&self) -> usize {
        let ts = if self.ts_ok { TS_OPTION_LEN } else { 0 };
        (self.peer_mss + 20)
            .min(self.mtu_mss)
            .saturating_sub(20 + ts)
            .max(1)
    }

    /// Data bytes a segment carrying `options` may hold: like [`Conn::data_mss`], with this
    /// segment's own options taken out (RFC 6691 section 2, Linux's `tcp_current_mss`), so
    /// that a segment with SACK blocks still fits the MTU. A segment too long for the link
    /// is dropped below us, every time it is resent: a connection would stall.
    pub(crate) fn data_room(&self, options: &crate::wire::TcpOptions) -> usize {
        (self.peer_mss + 20)
            .min(self.mtu_mss)
            .saturating_sub(20 + options.len())
            .max(1)
    }

    /// The MSS we advertise (data bytes, options excluded).
    pub(crate) fn adv_mss(&self) -> u16 {
        u16::try_from(self.mtu_mss - 20).unwrap_or(u16::MAX)
    }

    /// Our timestamp clock (milliseconds, RFC 7323 5.4), with the connection's offset.
    pub(crate) fn ts_now(&self, now: Instant) -> u32 {
        (now.millis() as u32).wrapping_add(self.ts_offset)
    }

    /// Sequence number of the next new byte to send.
    pub(crate) fn snd_nxt(&self) -> Seq {
        self.rec.snd_nxt()
    }

    /// Bytes of the send buffer not sent yet.
    pub(crate) fn unsent(&self) -> usize {
        let sent = self.snd_nxt().since(self.buf_seq);
        self.sndbuf.len().saturating_sub(sent)
    }

    /// Whether the application may still receive data (RFC 9293: states that accept text).
    pub(crate) fn receives(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        )
    }

    /// Whether the application may still queue data.
    pub(crate) fn sends(&self) -> bool {
        matches!(self.state, State::Established | State::CloseWait) && !self.fin_queued
    }

    /// Ends the connection with `error` (None: a normal end); it holds no timer afterwards.
    pub(crate) fn terminate(&mut self, error: Option<Error>) -> Notes {
        if error.is_some() && self.error.is_none() {
            self.error = error;
        }
        self.state = State::Closed;
        self.clear_timers();
        self.ack_now = false;
        self.ack_pending = false;
        Notes {
            changed: true,
            established: false,
            closed: true,
        }
    }

    pub(crate) fn clear_timers(&mut self) {
        self.rto_at = None;
        self.tlp_at = None;
        self.persist_at = None;
        self.delack_at = None;
        self.keepalive_at = None;
        self.close_at = None;
        self.cork_at = None;
    }

    /// The earliest of the connection's timers.
    pub(crate) fn deadline(&self) -> Instant {
        [
            self.rto_at,
            self.tlp_at,
            self.persist_at,
            self.delack_at,
            self.keepalive_at,
            self.close_at,
            self.cork_at,
            self.rec.reorder_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(Instant::NEVER)
    }

    /// What the socket sees.
    pub(crate) fn status(&self) -> Status {
        let (local, remote) = if self.mapped {
            (map(self.local), map(self.remote))
        } else {
            (self.local, self.remote)
        };
        Status {
            state: self.state,
            readable: self.rcvbuf.readable(),
            eof: self.fin_received,
            send_space: if self.sends() && self.established {
                self.sndbuf.free()
            } else {
                0
            },
            unsent: self.sndbuf.len(),
            error: self.error,
            established: self.established,
            write_closed: self.fin_queued || self.state == State::Closed,
            local,
            remote,
        }
    }

    /// `send(2)`: queues what fits.
    pub(crate) fn send(&mut self, cx: &mut Ctx<'_>, data: &[u8]) -> Result<usize, Error> {
        if let Some(e) = self.error {
            return Err(if self.state == State::Closed && e != Error::WouldBlock {
                e
            } else {
                Error::BrokenPipe
            });
        }
        match self.state {
            State::SynSent | State::SynReceived => return Err(Error::NotConnected),
            State::Established | State::CloseWait if !self.fin_queued => {}
            _ => return Err(Error::BrokenPipe),
        }
        if data.is_empty() {
            return Ok(0);
        }
        let n = self.sndbuf.write(data);
        if n == 0 {
            return Err(Error::WouldBlock);
        }
        if self.progress_at.is_none() {
            self.progress_at = Some(cx.now);
        }
        self.dirty_output = true;
        Ok(n)
    }

    /// `recv(2)`: reads (or peeks) in-order data.
    pub(crate) fn recv(
        &mut self,
        cx: &mut Ctx<'_>,
        out: &mut [u8],
        peek: bool,
    ) -> Result<usize, Error> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.rcvbuf.readable() == 0 {
            if self.fin_received {
                return Ok(0);
            }
            if let Some(e) = self.error {
                return Err(e);
            }
            if self.state == State::Closed {
                return Ok(0);
            }
            if !self.established {
                return Err(Error::NotConnected);
            }
            return Err(Error::WouldBlock);
        }
        if peek {
            return Ok(self.rcvbuf.peek(out));
        }
        let before = self.window_edge();
        let n = self.rcvbuf.read(out);
        self.rcv_space_copied += n;
        self.autotune(cx.now);
        // A window update when reading opened it enough (RFC 9293 3.8.6.2.2, receiver-side
        // silly window avoidance: at least min(half the buffer, one MSS... Linux: 2 MSS).
        let after = self.window_edge();
        let grown = after.since(before.max(self.rcv_adv));
        let mss = self.data_mss();
        if self.state.synchronized() && grown >= (2 * mss).min(self.rcvbuf.capacity() / 2).max(1) {
            self.ack_now = true;
        }
        Ok(n)
    }

    /// The right edge of the window we could advertise now.
    pub(crate) fn window_edge(&self) -> Seq {
        let w = self.rcvbuf.window().min(65535usize << self.rcv_shift);
        // Advertised in units of 2^shift: round down.
        let w = (w >> self.rcv_shift) << self.rcv_shift;
        self.rcvbuf.rcv_nxt().add(w)
    }

    /// Receive-buffer autotuning (Linux's dynamic right-sizing): once per RTT, the buffer
    /// grows to twice what the application read in that RTT, up to `rmem_max`.
    fn autotune(&mut self, now: Instant) {
        if !self.rcv_autotune {
            return;
        }
        let rtt = self
            .rtt
            .srtt()
            .unwrap_or(Duration::from_millis(100))
            .max(Duration::from_millis(1));
        if now.since(self.rcv_space_at) < rtt {
            return;
        }
        let want = self.rcv_space_copied.saturating_mul(2);
        self.rcv_space_copied = 0;
        self.rcv_space_at = now;
        let max = self.rmem_max;
        if want > self.rcvbuf.capacity() {
            let cap = want.min(max);
            if cap > self.rcvbuf.capacity() {
                self.rcvbuf.set_capacity(cap);
            }
        }
    }

    /// `shutdown(SHUT_WR)`: a FIN follows the queued data.
    pub(crate) fn shutdown_write(&mut self) {
        if matches!(
            self.state,
            State::Established | State::CloseWait | State::SynReceived | State::SynSent
        ) && !self.fin_queued
        {
            self.fin_queued = true;
            self.dirty_output = true;
        }
    }

    /// Arms the retransmission timer if data is outstanding and it is not running.
    pub(crate) fn arm_rto_if_idle(&mut self, now: Instant) {
        if self.rec.outstanding() > 0 && self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.rto());
        }
    }

    /// Restarts the retransmission timer (RFC 6298 5.3), or stops it when nothing is
    /// outstanding (5.2).
    pub(crate) fn restart_rto(&mut self, now: Instant) {
        self.rto_at = (self.rec.outstanding() > 0).then(|| now + self.rtt.rto());
    }

    /// Re-arms keepalive: idle time counts from the last segment received.
    pub(crate) fn rearm_keepalive(&mut self, now: Instant) {
        self.keepalive_probes = 0;
        self.keepalive_at =
            (self.opts.keepalive && self.state.synchronized() && self.state != State::TimeWait)
                .then(|| now + self.opts.keep_idle());
    }

    /// Applies new socket options.
    pub(crate) fn set_opts(&mut self, now: Instant, opts: &SockOpts) {
        let keep_changed =
            opts.keepalive != self.opts.keepalive || opts.keep_idle != self.opts.keep_idle;
        if opts.sndbuf > 0 && opts.sndbuf != self.opts.sndbuf {
            self.sndbuf.set_capacity(opts.sndbuf);
        }
        if opts.rcvbuf > 0 && opts.rcvbuf != self.opts.rcvbuf {
            self.rcvbuf
                .set_capacity(opts.rcvbuf.max(self.rcvbuf.capacity().min(opts.rcvbuf)));
            self.rcv_autotune = false;
        }
        let uncork = self.opts.cork && !opts.cork;
        self.opts = opts.clone();
        if keep_changed {
            self.rearm_keepalive(now);
        }
        if uncork {
            self.cork_at = None;
        }
    }
}

/// An IPv4 address as IPv4-mapped IPv6 (others unchanged).
pub(crate) fn map(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V4(v4) => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        v6 => v6,
    }
}
