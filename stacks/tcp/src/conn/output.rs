//! What a connection sends now: its SYN or SYN-ACK, retransmissions of what loss recovery
//! marked lost (first), new data as the peer's window, the congestion window and PRR allow
//! (with Nagle, RFC 896; sender-side silly window avoidance, RFC 9293 3.8.6.2.1; TCP_CORK),
//! tail loss probes, window probes, keepalives and ACKs.
//!
//! Nothing changes state until the backend took the segment: a refused segment is built again
//! at the next poll.

use super::{CORK_WAIT, Conn, Ctx};
use crate::engine::{Counters, Outgoing, State};
use crate::seq::Seq;
use crate::wire::{self, Flags, Header, SackBlocks, TcpOptions, Timestamps};

/// Where segments go: the backend's emitter and a scratch buffer for building them.
pub(crate) struct Tx<'a> {
    pub emit: &'a mut dyn FnMut(Outgoing<'_>) -> bool,
    pub buf: &'a mut [u8],
}

/// Whether the backend took the segment.
type Sent = bool;

impl Conn {
    /// Sends everything due. False when the backend refused a segment (try again later).
    pub(crate) fn output(&mut self, cx: &mut Ctx<'_>, tx: &mut Tx<'_>) -> bool {
        self.dirty_output = false;
        match self.state {
            State::Closed | State::Listen => return true,
            State::SynSent | State::SynReceived => {
                if self.syn_due {
                    return self.send_syn(cx, tx);
                }
                return true;
            }
            State::TimeWait => {
                if self.ack_now && !self.send_ack(cx, tx) {
                    return false;
                }
                if self.skip_time_wait {
                    self.terminate(None);
                }
                return true;
            }
            _ => {}
        }
        // Full segments now: our SACK blocks make them shorter than `data_mss`. A window of
        // whole `data_mss` segments is used up when only `slack` is left of it (no extra
        // segment for the bytes the options took).
        let mss = self.data_room(&self.segment_options(cx.now));
        let slack = self.data_mss().saturating_sub(mss);
        // Retransmissions first (RFC 6675 NextSeg rule 1 / RFC 8985: lost segments).
        while let Some((s, e)) = self.rec.next_retransmit() {
            if self.allowance() <= slack {
                self.cwnd_limited = true;
                break;
            }
            let len = e.since(s).min(mss);
            let before = self.stats.segs_out;
            if !self.send_range(cx, tx, s, len, e, true) {
                return false;
            }
            if self.stats.segs_out == before {
                // Nothing to send for that range (it holds no data of ours): never spin on it.
                log::warn!(
                    "TCP {} -> {}: lost range {s}..{e} has nothing to resend",
                    self.local,
                    self.remote
                );
                break;
            }
        }
        if self.tlp_due {
            self.tlp_due = false;
            if !self.send_probe_segment(cx, tx) {
                return false;
            }
        }
        // New data.
        loop {
            let unsent = self.unsent();
            let fin_waiting = self.fin_queued && self.fin_seq.is_none();
            if unsent == 0 && !fin_waiting {
                break;
            }
            let nxt = self.snd_nxt();
            let wnd_edge = self.rec.snd_una().add(self.snd_wnd);
            let wnd_room = wnd_edge.since(nxt);
            let room = self.allowance();
            if unsent == 0 {
                // Only the FIN is left: it goes whatever the windows (it takes no buffer).
                if !self.send_range(cx, tx, nxt, 0, nxt.add(1), false) {
                    return false;
                }
                break;
            }
            let len = unsent.min(mss).min(wnd_room);
            if len == 0 {
                if self.rec.outstanding() == 0 && self.persist_at.is_none() {
                    // Zero window: probe it (RFC 9293 3.8.6.1).
                    self.persist_at = Some(cx.now + self.rtt.rto());
                }
                break;
            }
            if room <= slack {
                self.cwnd_limited = true;
                break;
            }
            if len < mss && len < unsent && len < self.max_snd_wnd / 2 {
                // Sender-side silly window avoidance: wait for a useful window.
                if self.rec.outstanding() == 0 && self.persist_at.is_none() {
                    self.persist_at = Some(cx.now + self.rtt.rto());
                }
                break;
            }
            if len < mss && len == unsent && !fin_waiting {
                if self.opts.cork {
                    match self.cork_at {
                        None => {
                            self.cork_at = Some(cx.now + CORK_WAIT);
                            break;
                        }
                        Some(t) if cx.now < t => break,
                        Some(_) => {}
                    }
                } else if !self.opts.nodelay && self.rec.outstanding() > 0 {
                    // Nagle (RFC 896): one partial segment in flight at a time.
                    break;
                }
            }
            self.cwnd_limited = unsent > len;
            if !self.send_range(cx, tx, nxt, len, nxt.add(len + 1), false) {
                return false;
            }
            self.cork_at = None;
        }
        if self.probe_due {
            self.probe_due = false;
            if !self.send_window_probe(cx, tx) {
                self.probe_due = true;
                return false;
            }
        }
        if self.ack_now {
            return self.send_ack(cx, tx);
        }
        true
    }

    /// Bytes congestion control lets us send now: PRR's count in fast recovery, else what the
    /// congestion window leaves beside the bytes in flight.
    fn allowance(&self) -> usize {
        if self.recovery_point.is_some() {
            self.prr_allow
        } else {
            self.cc.cwnd().saturating_sub(self.rec.pipe())
        }
    }

    /// Our window and acknowledgement for a segment leaving now; never moves the right edge
    /// left (RFC 9293 3.8.6.2.1).
    fn ack_fields(&mut self) -> (Seq, u16) {
        let rcv_nxt = self.rcvbuf.rcv_nxt();
        let edge = self.window_edge().max(self.rcv_adv);
        let wnd = edge.since(rcv_nxt);
        let field = (wnd >> self.rcv_shift).min(65535);
        self.rcv_adv = self.rcv_adv.max(rcv_nxt.add(field << self.rcv_shift));
        (rcv_nxt, field as u16)
    }

    /// Options of a non-SYN segment: timestamps, then D-SACK and SACK blocks.
    fn segment_options(&self, now: crate::time::Instant) -> TcpOptions {
        let mut o = TcpOptions::default();
        if self.ts_ok {
            o.timestamps = Some(Timestamps {
                val: self.ts_now(now),
                ecr: self.ts_recent,
            });
        }
        if self.sack_ok {
            let mut blocks = SackBlocks::new();
            if let Some((s, e)) = self.dsack {
                blocks.push(s, e);
            }
            let mut buf = [(Seq(0), Seq(0)); 4];
            let n = self.rcvbuf.sack_blocks(&mut buf);
            for &(s, e) in buf.iter().take(n) {
                if !blocks.push(s, e) {
                    break;
                }
            }
            o.sack = blocks;
        }
        o
    }

    /// Everything an ACK carried: the pending acknowledgement is done.
    fn acked_sent(&mut self) {
        self.ack_now = false;
        self.ack_pending = false;
        self.full_segs_unacked = 0;
        self.delack_at = None;
        self.dsack = None;
    }

    /// Builds and hands one segment to the backend.
    fn transmit(
        &mut self,
        cx: &mut Ctx<'_>,
        tx: &mut Tx<'_>,
        header: &Header,
        payload: &[&[u8]],
    ) -> Sent {
        let (src, dst) = (self.local.ip(), self.remote.ip());
        let n = match wire::emit_segment(header, payload, src, dst, tx.buf) {
            Ok(n) => n,
            Err(e) => {
                log::warn!(
                    "TCP {} -> {}: cannot build a segment: {e}",
                    self.local,
                    self.remote
                );
                return true;
            }
        };
        let Some(seg) = tx.buf.get(..n) else {
            return true;
        };
        let ok = (tx.emit)(Outgoing {
            src,
            dst,
            hop_limit: self.opts.hop_limit,
            segment: seg,
        });
        if ok {
            count_out(cx.counters);
            self.stats.segs_out += 1;
        }
        ok
    }

    /// Our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), first or again.
    fn send_syn(&mut self, cx: &mut Ctx<'_>, tx: &mut Tx<'_>) -> Sent {
        let now = cx.now;
        let syn_ack = self.state == State::SynReceived;
        let mut o = TcpOptions {
            mss: Some(self.adv_mss()),
            ..TcpOptions::default()
        };
        if syn_ack {
            o.window_scale = self.wscale_ok.then_some(self.rcv_shift);
            o.sack_permitted = self.sack_ok;
            if self.ts_ok {
                o.timestamps = Some(Timestamps {
                    val: self.ts_now(now),
                    ecr: self.ts_recent,
                });
            }
        } else {
            o.window_scale = cx.cfg.window_scaling.then_some(self.rcv_shift);
            o.sack_permitted = cx.cfg.sack;
            if cx.cfg.timestamps {
                o.timestamps = Some(Timestamps {
                    val: self.ts_now(now),
                    ecr: 0,
                });
            }
        }
        let mut flags = Flags::SYN;
        let mut ack = Seq(0);
        if syn_ack {
            flags |= Flags::ACK;
            ack = self.rcvbuf.rcv_nxt();
        }
        // RFC 7323 2.2: the window of a SYN is not scaled.
        let window = self.rcvbuf.window().min(65535) as u16;
        let h = Header {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: self.iss,
            ack,
            flags,
            window,
            urgent: 0,
            options: o,
        };
        if !self.transmit(cx, tx, &h, &[]) {
            return false;
        }
        if syn_ack {
            self.rcv_adv = self.rcvbuf.rcv_nxt().add(usize::from(window));
        }
        self.rec.on_transmit(now, self.iss, self.iss.add(1));
        self.syn_due = false;
        self.rto_at = Some(now + self.rtt.rto());
        true
    }

    /// Sends `len` data bytes from `seq` (and the FIN if it comes right after them and
    /// `limit` covers it). `retrans`: a retransmission of what loss recovery marked lost.
    fn send_range(
        &mut self,
        cx: &mut Ctx<'_>,
        tx: &mut Tx<'_>,
        seq: Seq,
        len: usize,
        limit: Seq,
        retrans: bool,
    ) -> Sent {
        let now = cx.now;
        let options = self.segment_options(now);
        let off = seq.since(self.buf_seq);
        let len = len
            .min(self.sndbuf.len().saturating_sub(off))
            .min(self.data_room(&options));
        let data_end = seq.add(len);
        let fin_here = self.buf_seq.add(self.sndbuf.len());
        let fin = self.fin_queued
            && data_end == fin_here
            && limit.gt(data_end)
            && self.fin_seq.is_none_or(|f| f == data_end);
        if len == 0 && !fin {
            return true;
        }
        let (ack, window) = self.ack_fields();
        let mut flags = Flags::ACK;
        if fin {
            flags |= Flags::FIN;
        }
        if len > 0 && off + len == self.sndbuf.len() {
            flags |= Flags::PSH;
        }
        let h = Header {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq,
            ack,
            flags,
            window,
            urgent: 0,
            options,
        };
        let (a, b) = self.sndbuf.slices(off, len);
        // The slices borrow the buffer; copy their bounds out before transmitting.
        let sent = {
            let parts: [&[u8]; 2] = [a, b];
            let (src, dst) = (self.local.ip(), self.remote.ip());
            match wire::emit_segment(&h, &parts, src, dst, tx.buf) {
                Ok(n) => match tx.buf.get(..n) {
                    Some(seg) => (tx.emit)(Outgoing {
                        src,
                        dst,
                        hop_limit: self.opts.hop_limit,
                        segment: seg,
                    }),
                    None => return true,
                },
                Err(e) => {
                    log::warn!(
                        "TCP {} -> {}: cannot build a segment: {e}",
                        self.local,
                        self.remote
                    );
                    return true;
                }
            }
        };
        if !sent {
            return false;
        }
        count_out(cx.counters);
        self.stats.segs_out += 1;
        self.acked_sent();
        let end = data_end.add(usize::from(fin));
        let new_data = end.gt(self.snd_nxt());
        self.rec.on_transmit(now, seq, end);
        if fin && self.fin_seq.is_none() {
            self.fin_seq = Some(data_end);
            self.state = match self.state {
                State::CloseWait => State::LastAck,
                State::Established => State::FinWait1,
                s => s,
            };
        }
        if len > 0 {
            self.stats.data_segs_out += 1;
            self.stats.bytes_sent += len as u64;
            self.stats.last_data_sent = now;
        }
        if retrans {
            cx.counters.retrans_segs += 1;
            self.stats.bytes_retrans += len as u64;
            self.undo_retrans += 1;
        }
        if self.recovery_point.is_some() {
            let used = end.since(seq);
            self.prr_allow = self.prr_allow.saturating_sub(used);
            self.prr.on_sent(used);
        }
        if self.progress_at.is_none() {
            self.progress_at = Some(now);
        }
        self.arm_rto_if_idle(now);
        if new_data && !retrans {
            self.arm_tlp(now);
        }
        true
    }

    /// Arms the tail loss probe after new data went out (RFC 8985 7.2), outside recovery.
    pub(crate) fn arm_tlp(&mut self, now: crate::time::Instant) {
        if self.recovery_point.is_some() || self.loss_point.is_some() || !self.sack_ok {
            self.tlp_at = None;
            return;
        }
        let mss = self.data_mss().max(1);
        let segs = self.rec.outstanding().div_ceil(mss);
        self.tlp_at = self
            .rec
            .tlp_deadline(now, self.rtt.srtt(), self.rtt.rto(), segs)
            // A probe no earlier than the retransmission timer would be useless (RFC 8985
            // 7.2: the RTO is armed instead).
            .filter(|&t| self.rto_at.is_none_or(|r| t < r));
    }

    /// The tail loss probe (RFC 8985 7.3): new data if the windows allow, else the last
    /// segment again.
    fn send_probe_segment(&mut self, cx: &mut Ctx<'_>, tx: &mut Tx<'_>) -> Sent {
        let now = cx.now;
        let mss = self.data_room(&self.segment_options(now));
        let nxt = self.snd_nxt();
        let wnd_room = self.rec.snd_una().add(self.snd_wnd).since(nxt);
        let unsent = self.unsent();
        if unsent > 0 && wnd_room > 0 {
            let len = unsent.min(mss).min(wnd_room);
            if !self.send_range(cx, tx, nxt, len, nxt.add(len + 1), false) {
                return false;
            }
            self.rec.on_tlp_sent(now, nxt, nxt.add(len), false);
        } else if self.rec.outstanding() > 0 {
            let len = self.rec.outstanding().min(mss).max(1);
            let start = nxt.sub(len);
            let start = start.max(self.rec.snd_una());
            if !self.send_range(cx, tx, start, nxt.since(start), nxt.add(1), true) {
                return false;
            }
            self.rec.on_tlp_sent(now, start, nxt, true);
        }
        self.tlp_at = None;
        self.rto_at = Some(now + self.rtt.rto());
        true
    }

    /// A window probe or keepalive: an old sequence number, so the peer answers with an ACK
    /// (RFC 9293 3.8.6.1, 3.8.4).
    fn send_window_probe(&mut self, cx: &mut Ctx<'_>, tx: &mut Tx<'_>) -> Sent {
        let (ack, window) = self.ack_fields();
        let h = Header {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: self.rec.snd_una().sub(1),
            ack,
            flags: Flags::ACK,
            window,
            urgent: 0,
            options: self.segment_options(cx.now),
        };
        self.transmit(cx, tx, &h, &[])
    }

    /// A pure ACK (with SACK blocks and window).
    fn send_ack(&mut self, cx: &mut Ctx<'_>, tx: &mut Tx<'_>) -> Sent {
        let (ack, window) = self.ack_fields();
        let h = Header {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: self.snd_nxt(),
            ack,
            flags: Flags::ACK,
            window,
            urgent: 0,
            options: self.segment_options(cx.now),
        };
        if !self.transmit(cx, tx, &h, &[]) {
            return false;
        }
        self.acked_sent();
        true
    }
}

fn count_out(c: &mut Counters) {
    c.segs_out += 1;
}
