//! An arriving segment, processed as RFC 9293 3.10.7 orders it, hardened per RFC 5961
//! (challenge ACKs for in-window RSTs and SYNs, the ACK acceptability range), with PAWS
//! (RFC 7323 5), SACK and D-SACK given to loss recovery, and delayed ACKs as Linux does them.

use std::time::Duration;

use super::{Conn, Ctx, Negotiated, Notes};
use crate::engine::{Error, State};
use crate::recovery::AckOutcome;
use crate::seq::Seq;
use crate::time::Instant;
use crate::wire::{Flags, Segment};

/// How long a peer's timestamp stays valid for PAWS without a newer one (RFC 7323 5.5).
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);
/// Out-of-window ACKs and challenge ACKs at most this often (Linux's `tcp_invalid_ratelimit`).
const CHALLENGE_INTERVAL: Duration = Duration::from_millis(500);

/// What processing one segment asks of the engine.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Input {
    pub notes: Notes,
    /// Answer with a RST: (sequence number, acknowledgement number if any).
    pub rst: Option<(Seq, Option<Seq>)>,
    /// A SYN that may take over this TIME-WAIT connection's four-tuple (RFC 6191).
    pub reuse: bool,
}

impl Input {
    fn notes(notes: Notes) -> Input {
        Input {
            notes,
            ..Input::default()
        }
    }
}

impl Conn {
    /// Processes one segment addressed to this connection.
    pub(crate) fn input(&mut self, cx: &mut Ctx<'_>, seg: &Segment<'_>) -> Input {
        self.stats.segs_in += 1;
        if !seg.payload.is_empty() {
            self.stats.data_segs_in += 1;
        }
        match self.state {
            State::Closed | State::Listen => Input::default(),
            State::SynSent => self.input_syn_sent(cx, seg),
            _ => self.input_synchronized(cx, seg),
        }
    }

    /// RFC 9293 3.10.7.3: SYN-SENT.
    fn input_syn_sent(&mut self, cx: &mut Ctx<'_>, seg: &Segment<'_>) -> Input {
        let h = &seg.header;
        let now = cx.now;
        let has_ack = h.flags.contains(Flags::ACK);
        let rst = h.flags.contains(Flags::RST);
        if has_ack && (h.ack.le(self.iss) || h.ack.gt(self.snd_nxt())) {
            return Input {
                rst: (!rst).then_some((h.ack, None)),
                ..Input::default()
            };
        }
        if rst {
            if has_ack {
                log::debug!("TCP {} -> {}: connection refused", self.local, self.remote);
                return Input::notes(self.terminate(Some(Error::ConnectionRefused)));
            }
            return Input::default();
        }
        if !h.flags.contains(Flags::SYN) {
            return Input::default();
        }
        let o = &h.options;
        let neg = Negotiated {
            peer_mss: o.mss,
            wscale: match (cx.cfg.window_scaling, o.window_scale) {
                (true, Some(peer)) => Some((peer, self.rcv_shift)),
                _ => None,
            },
            sack: cx.cfg.sack && o.sack_permitted,
            ts_recent: if cx.cfg.timestamps {
                o.timestamps.map(|t| t.val)
            } else {
                None
            },
        };
        self.accept_syn(now, h.seq, neg, h.window);
        let mut notes = Notes {
            changed: true,
            ..Notes::default()
        };
        if has_ack {
            let out = self.rec.on_ack(now, h.ack, &[], None);
            if let Some(r) = out.rtt {
                self.rtt.sample(now, r);
            }
            self.snd_wl1 = h.seq;
            self.snd_wl2 = h.ack;
            self.become_established(now);
            notes.established = true;
            self.ack_now = true;
            self.restart_rto(now);
            // Data or a FIN on the SYN-ACK (rare) is processed as on any segment.
            if !seg.payload.is_empty() || h.flags.contains(Flags::FIN) {
                let data_seq = h.seq.add(1);
                self.take_data(cx, seg, data_seq, &mut notes);
            }
        } else {
            // Simultaneous open (RFC 9293 3.5, figure 8): answer with a SYN-ACK.
            self.state = State::SynReceived;
            self.syn_due = true;
        }
        Input::notes(notes)
    }

    pub(crate) fn become_established(&mut self, now: Instant) {
        self.state = State::Established;
        self.established = true;
        self.timeouts = 0;
        self.progress_at = None;
        self.rtt.reset_backoff();
        self.buf_seq = self.iss.add(1);
        self.syn_due = false;
        self.rearm_keepalive(now);
        self.stats.last_ack_recv = now;
    }

    /// RFC 9293 3.10.7.4: every state from SYN-RECEIVED on.
    fn input_synchronized(&mut self, cx: &mut Ctx<'_>, seg: &Segment<'_>) -> Input {
        let h = &seg.header;
        let now = cx.now;
        let rst = h.flags.contains(Flags::RST);
        let syn = h.flags.contains(Flags::SYN);
        let rcv_nxt = self.rcvbuf.rcv_nxt();
        let ts = h.options.timestamps;

        // RFC 6191: a SYN for a TIME-WAIT four-tuple that is clearly newer (a larger
        // timestamp, or without timestamps a larger sequence number) may take it over.
        if self.state == State::TimeWait && syn && !rst && !h.flags.contains(Flags::ACK) {
            let newer = match (self.ts_ok, ts) {
                (true, Some(t)) => (t.val.wrapping_sub(self.ts_recent) as i32) > 0,
                _ => h.seq.gt(rcv_nxt),
            };
            if newer {
                return Input {
                    reuse: true,
                    ..Input::default()
                };
            }
        }

        // Their SYN again while we are in SYN-RECEIVED: alone, our SYN-ACK was lost; with an
        // ACK of our SYN, the SYN-ACK of a simultaneous open (RFC 9293 3.5 figure 8), which
        // completes it.
        if self.state == State::SynReceived && syn && !rst && h.seq == self.irs {
            let una = self.rec.snd_una();
            if h.flags.contains(Flags::ACK) && h.ack.gt(una) && h.ack.le(self.snd_nxt()) {
                let _ = self.rec.on_ack(now, h.ack, &[], None);
                self.snd_wnd = usize::from(h.window) << self.snd_shift;
                self.max_snd_wnd = self.snd_wnd;
                self.snd_wl1 = h.seq;
                self.snd_wl2 = h.ack;
                self.become_established(now);
                self.restart_rto(now);
                self.ack_now = true;
                return Input::notes(Notes {
                    changed: true,
                    established: true,
                    closed: false,
                });
            }
            self.syn_due = true;
            return Input::default();
        }

        // PAWS (RFC 7323 5.3 R1).
        if self.ts_ok
            && !rst
            && let Some(t) = ts
            && (t.val.wrapping_sub(self.ts_recent) as i32) < 0
            && now.since(self.ts_recent_at) < PAWS_IDLE
        {
            cx.counters.paws_drops += 1;
            self.out_of_window_ack(now);
            return Input::default();
        }

        // Sequence acceptability (RFC 9293 3.10.7.4 first).
        let seg_len = seg.seg_len();
        let wnd = self.rcv_adv.since(rcv_nxt).max(self.rcvbuf.window());
        let win_end = rcv_nxt.add(wnd);
        let acceptable = if seg_len == 0 {
            if wnd == 0 {
                h.seq == rcv_nxt
            } else {
                h.seq.in_range(rcv_nxt, win_end)
            }
        } else if wnd == 0 {
            false
        } else {
            h.seq.in_range(rcv_nxt, win_end) || h.seq.add(seg_len - 1).in_range(rcv_nxt, win_end)
        };
        // With a zero window, an ACK carried by data at rcv_nxt is still processed.
        let zero_window_ack = !acceptable && wnd == 0 && h.seq == rcv_nxt;
        if !acceptable && !zero_window_ack {
            if !rst {
                if seg_len > 0 && h.seq.add(seg_len).le(rcv_nxt) && self.sack_ok {
                    // An old duplicate: report it (RFC 2883 4).
                    self.dsack = Some((h.seq, h.seq.add(seg.payload.len())));
                    self.ack_now = true;
                } else {
                    self.out_of_window_ack(now);
                }
                if self.state == State::TimeWait && h.flags.contains(Flags::FIN) {
                    self.close_at = Some(now + cx.cfg.time_wait);
                }
            }
            return Input::default();
        }

        // RST (RFC 5961 3.2): exact match resets, in-window gets a challenge ACK.
        if rst {
            if h.seq == rcv_nxt {
                let err = match self.state {
                    State::SynReceived if self.listener.is_some() => None,
                    State::SynReceived => Some(Error::ConnectionRefused),
                    State::TimeWait | State::Closing | State::LastAck => None,
                    _ => Some(Error::ConnectionReset),
                };
                log::debug!(
                    "TCP {} <- {}: reset in {:?}",
                    self.local,
                    self.remote,
                    self.state
                );
                return Input::notes(self.terminate(err));
            }
            self.challenge_ack(cx);
            return Input::default();
        }

        // SYN in a synchronized state (RFC 5961 4.2): challenge ACK.
        if syn {
            self.challenge_ack(cx);
            return Input::default();
        }

        if !h.flags.contains(Flags::ACK) {
            return Input::default();
        }

        let mut notes = Notes::default();
        if self.state == State::SynReceived {
            if h.ack.gt(self.rec.snd_una()) && h.ack.le(self.snd_nxt()) {
                self.become_established(now);
                notes.established = true;
                notes.changed = true;
                // The window of the ACK is scaled (RFC 7323 2.2).
                self.snd_wnd = usize::from(h.window) << self.snd_shift;
                self.max_snd_wnd = self.snd_wnd;
                self.snd_wl1 = h.seq;
                self.snd_wl2 = h.ack;
            } else {
                return Input {
                    rst: Some((h.ack, None)),
                    ..Input::default()
                };
            }
        }

        // PAWS bookkeeping (RFC 7323 4.3): remember the newest timestamp of an in-order
        // segment.
        if self.ts_ok
            && let Some(t) = ts
            && h.seq.le(rcv_nxt)
            && (t.val.wrapping_sub(self.ts_recent) as i32) >= 0
        {
            self.ts_recent = t.val;
            self.ts_recent_at = now;
        }

        if let Some(n) = self.take_ack(cx, seg) {
            notes.changed |= n.changed;
            if n.closed {
                return Input::notes(Notes {
                    closed: true,
                    changed: true,
                    established: notes.established,
                });
            }
        }

        // Data arriving for an orphan that can no longer read it: Linux resets.
        if self.orphan
            && !seg.payload.is_empty()
            && matches!(self.state, State::FinWait1 | State::FinWait2)
            && h.seq.add(seg.payload.len()).gt(self.rcvbuf.rcv_nxt())
        {
            let seq = self.snd_nxt();
            let notes = self.terminate(None);
            return Input {
                notes,
                rst: Some((seq, None)),
                reuse: false,
            };
        }

        if !zero_window_ack {
            self.take_data(cx, seg, h.seq, &mut notes);
        } else {
            self.ack_now = true;
        }
        if self.opts.keepalive {
            self.rearm_keepalive(now);
        }
        Input::notes(notes)
    }

    /// An ACK for a segment outside the window, at most every 500 ms (RFC 9293 3.10.7.4
    /// first, with Linux's rate limit so that two ends never loop on ACKs).
    fn out_of_window_ack(&mut self, now: Instant) {
        if self
            .last_challenge
            .is_none_or(|t| now.since(t) >= CHALLENGE_INTERVAL)
        {
            self.last_challenge = Some(now);
            self.ack_now = true;
        }
    }

    /// A challenge ACK (RFC 5961 3.2, 4.2), rate-limited (RFC 5961 7).
    fn challenge_ack(&mut self, cx: &mut Ctx<'_>) {
        if self
            .last_challenge
            .is_none_or(|t| cx.now.since(t) >= CHALLENGE_INTERVAL)
        {
            self.last_challenge = Some(cx.now);
            self.ack_now = true;
            cx.counters.challenge_acks += 1;
        }
    }

    /// The ACK field (RFC 9293 3.10.7.4 fifth, RFC 5961 5.2), SACK blocks, window update.
    fn take_ack(&mut self, cx: &mut Ctx<'_>, seg: &Segment<'_>) -> Option<Notes> {
        let h = &seg.header;
        let now = cx.now;
        let una = self.rec.snd_una();
        let nxt = self.snd_nxt();
        if h.ack.gt(nxt) {
            // Acknowledges what we never sent: ACK and drop (RFC 9293, RFC 5961 5.2).
            self.out_of_window_ack(now);
            return None;
        }
        if h.ack.lt(una.sub(self.max_snd_wnd.max(1))) {
            self.challenge_ack(cx);
            return None;
        }
        let mut notes = Notes::default();
        // Window update (RFC 9293 3.10.7.4: SND.WL1/SND.WL2 rule).
        if self.snd_wl1.lt(h.seq) || (self.snd_wl1 == h.seq && self.snd_wl2.le(h.ack)) {
            let wnd = usize::from(h.window) << self.snd_shift;
            if wnd > self.snd_wnd {
                // The window opened: what waited for it may go now.
                self.persist_at = None;
                self.dirty_output = true;
                notes.changed = true;
            }
            self.snd_wnd = wnd;
            self.max_snd_wnd = self.max_snd_wnd.max(wnd);
            self.snd_wl1 = h.seq;
            self.snd_wl2 = h.ack;
        }
        let sack: &[(Seq, Seq)] = if self.sack_ok {
            h.options.sack.as_slice()
        } else {
            &[]
        };
        if h.ack.gt(una) || !sack.is_empty() {
            let out = self.rec.on_ack(now, h.ack, sack, None);
            self.stats.last_ack_recv = now;
            self.on_ack_outcome(cx, out, &mut notes);
        }
        Some(notes)
    }

    /// What an ACK delivered: buffers, RTT, loss recovery, congestion control, states.
    fn on_ack_outcome(&mut self, cx: &mut Ctx<'_>, out: AckOutcome, notes: &mut Notes) {
        let now = cx.now;
        let una = self.rec.snd_una();
        let mss = self.data_mss();
        if out.acked > 0 {
            let data = una.since(self.buf_seq).min(self.sndbuf.len());
            self.sndbuf.consume(data);
            self.buf_seq = self.buf_seq.add(data);
            self.stats.bytes_acked += data as u64;
            self.timeouts = 0;
            self.progress_at =
                (self.rec.outstanding() > 0 || !self.sndbuf.is_empty()).then_some(now);
            self.restart_rto(now);
            // RFC 8985 7.2: the probe timer is re-armed by every ACK that moves snd_una.
            self.tlp_at = None;
            if self.rec.outstanding() > 0 {
                self.arm_tlp(now);
            }
            notes.changed = true;
            self.dirty_output = true;
        }
        if let Some(r) = out.rtt {
            self.rtt.sample(now, r);
            if let Some(s) = self.rtt.srtt() {
                self.rec.set_srtt(s);
            }
        }
        if out.dsack {
            self.stats.dsack_dups += 1;
            if self.undo_retrans > 0 {
                self.undo_retrans -= 1;
                if self.undo_retrans == 0
                    && (self.recovery_point.is_some() || self.loss_point.is_some())
                    && self.cc.can_undo()
                {
                    // Every retransmission of the episode was unnecessary (RFC 3708).
                    log::debug!(
                        "TCP {} -> {}: spurious recovery, undone",
                        self.local,
                        self.remote
                    );
                    self.cc.undo();
                    self.prr.finish();
                    self.recovery_point = None;
                    self.loss_point = None;
                    self.prr_allow = 0;
                }
            }
        }
        if out.reordering {
            self.stats.reord_seen += 1;
        }
        // Fast recovery (RFC 6675 / 8985) with PRR (RFC 6937).
        let mut exited = false;
        if let Some(rp) = self.recovery_point {
            if una.ge(rp) {
                self.recovery_point = None;
                self.prr.finish();
                self.prr_allow = 0;
                self.cc.on_recovery_exit(now);
                exited = true;
            } else {
                self.prr_allow += self.prr.on_ack(out.delivered, self.rec.pipe(), mss);
            }
        }
        if let Some(lp) = self.loss_point
            && una.ge(lp)
        {
            // Recovery after a timeout is over (Linux leaves its Loss state).
            self.loss_point = None;
            self.cc.on_recovery_exit(now);
            exited = true;
        }
        if self.recovery_point.is_none()
            && self.loss_point.is_none()
            && !exited
            && (out.lost || out.tlp_recovered_loss)
        {
            let flight = self.rec.outstanding();
            self.cc.on_congestion_event(now, flight);
            self.prr.start(self.cc.ssthresh(), flight);
            self.recovery_point = Some(self.snd_nxt());
            self.undo_retrans = 0;
            self.prr_allow = self.prr.on_ack(out.delivered, self.rec.pipe(), mss);
            self.tlp_at = None;
            log::trace!(
                "TCP {} -> {}: fast recovery, cwnd {} ssthresh {}",
                self.local,
                self.remote,
                self.cc.cwnd(),
                self.cc.ssthresh()
            );
        } else if self.recovery_point.is_none() && out.acked > 0 {
            self.cc.on_ack(
                now,
                out.acked,
                out.rtt,
                self.rtt.min_rtt(),
                self.cwnd_limited,
            );
        }
        if out.lost || out.acked > 0 || out.sacked > 0 {
            self.dirty_output = true;
        }
        // Our FIN acknowledged.
        if let Some(f) = self.fin_seq
            && una.gt(f)
        {
            match self.state {
                State::FinWait1 => {
                    self.state = State::FinWait2;
                    notes.changed = true;
                    if self.orphan {
                        self.close_at = Some(now + cx.cfg.fin_timeout);
                    }
                }
                State::Closing => self.enter_time_wait(cx),
                State::LastAck => {
                    let n = self.terminate(None);
                    notes.closed = n.closed;
                    notes.changed = true;
                }
                _ => {}
            }
        }
    }

    /// Text and FIN (RFC 9293 3.10.7.4 seventh and eighth).
    fn take_data(&mut self, cx: &mut Ctx<'_>, seg: &Segment<'_>, seq: Seq, notes: &mut Notes) {
        let now = cx.now;
        let h = &seg.header;
        let payload = seg.payload;
        if !payload.is_empty() && self.receives() && !self.fin_received {
            let had_hole = self.rcvbuf.has_out_of_order();
            let ins = self.rcvbuf.insert(seq, payload);
            self.stats.last_data_recv = now;
            if ins.advanced > 0 {
                notes.changed = true;
                self.stats.bytes_received += ins.advanced as u64;
            }
            if let Some(d) = ins.duplicate {
                if self.sack_ok {
                    self.dsack = Some(d);
                }
                self.ack_now = true;
            }
            if ins.out_of_order {
                self.stats.rcv_ooopack += 1;
            }
            // Immediate ACKs for out-of-order data and for data filling a hole (RFC 5681
            // 4.2), and quick ACKs at the start (Linux's quickack mode).
            if ins.out_of_order || had_hole || ins.dropped > 0 {
                self.ack_now = true;
            } else if !self.ack_now {
                if payload.len() >= self.data_mss().min(self.peer_mss) {
                    self.full_segs_unacked += 1;
                }
                if self.quickacks > 0 {
                    self.quickacks -= 1;
                    self.ack_now = true;
                } else if self.full_segs_unacked >= 2 {
                    self.ack_now = true;
                } else {
                    self.ack_pending = true;
                    if self.delack_at.is_none() {
                        self.delack_at = Some(now + cx.cfg.delayed_ack_max);
                    }
                }
            }
        }
        if h.flags.contains(Flags::FIN) {
            let fin_at = seq.add(payload.len());
            if self.fin_received {
                // A retransmitted FIN: our ACK was lost.
                self.ack_now = true;
                if self.state == State::TimeWait {
                    self.close_at = Some(now + cx.cfg.time_wait);
                }
            } else if fin_at == self.rcvbuf.rcv_nxt() {
                self.take_fin(cx, notes);
            } else if fin_at.gt(self.rcvbuf.rcv_nxt()) {
                self.fin_pending = Some(fin_at);
                self.ack_now = true;
            }
        }
        if let Some(f) = self.fin_pending
            && !self.fin_received
            && f == self.rcvbuf.rcv_nxt()
        {
            self.take_fin(cx, notes);
        }
    }

    /// The peer's FIN, in order.
    fn take_fin(&mut self, cx: &mut Ctx<'_>, notes: &mut Notes) {
        self.rcvbuf.advance_fin();
        self.fin_received = true;
        self.fin_pending = None;
        self.ack_now = true;
        notes.changed = true;
        match self.state {
            State::Established | State::SynReceived => self.state = State::CloseWait,
            State::FinWait1 => self.state = State::Closing,
            State::FinWait2 => self.enter_time_wait(cx),
            _ => {}
        }
    }

    pub(crate) fn enter_time_wait(&mut self, cx: &mut Ctx<'_>) {
        self.state = State::TimeWait;
        self.clear_timers();
        self.close_at = Some(cx.now + cx.cfg.time_wait);
        // Nothing more is sent or received: the buffers' storage goes back (a busy server
        // holds many TIME-WAIT connections).
        self.sndbuf.shrink();
        if self.rcvbuf.readable() == 0 {
            self.rcvbuf.shrink();
        }
    }
}
