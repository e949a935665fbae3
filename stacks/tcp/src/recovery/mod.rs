//! Loss recovery's bookkeeping: the SACK scoreboard and RACK-TLP loss detection.
//!
//! [`Recovery`] is told every transmission ([`Recovery::on_transmit`]) and every ACK
//! ([`Recovery::on_ack`]); it answers what was delivered, what is lost, what to retransmit
//! next, how much is in flight, and when its timers are due. It holds sequence ranges and
//! times only, never bytes, and never reads a clock (every call that can make time pass
//! takes `now`; a `now` earlier than one seen before is taken as the latest seen, so the
//! transmission order is also the time order).
//!
//! What it implements, and where:
//! - RFC 2018 (SACK) and RFC 6675 section 2 (the scoreboard): `scoreboard` keeps the
//!   outstanding sequence space `[SND.UNA, SND.NXT)` as records in sequence order, split and
//!   merged as blocks arrive; blocks are validated as Linux does (`on_ack`).
//! - RFC 2883 section 4 (D-SACK): the first block is a D-SACK when it lies below the
//!   cumulative ACK or inside the second block; it is reported, not applied (`on_ack`).
//! - RFC 8985 section 6.2 steps 1 to 5 (RACK: RTT sample, RACK.xmit_ts/end_seq, reordering
//!   detection with RACK.fack, the reordering window with RACK.dsack_round,
//!   RACK.reo_wnd_mult and RACK.reo_wnd_persist, loss detection), 6.3 (the reordering timer,
//!   and marking everything lost on RTO, with RFC 2018 section 8's reneging): `on_ack`,
//!   `rack`. One addition: a D-SACK sets RACK.reordering_seen (unless it reports the tail
//!   probe's duplicate), since the RFC's step 3 skips retransmitted segments and so never
//!   sees the reordering behind a spurious retransmission; without it the window would
//!   stay zero once DupThresh segments are SACKed and D-SACKs could never widen it.
//! - RFC 8985 section 7 (TLP: the PTO, TLP.end_seq/TLP.is_retrans, the episode's end in
//!   7.4.2): [`Recovery::tlp_deadline`], [`Recovery::on_tlp_sent`], `tlp`.
//!
//! Guarantees: nothing panics on any input (SACK blocks reversed, overlapping, duplicated,
//! covering unsent data, ACKs of unsent data, sequence numbers wrapping); per ACK the work is
//! proportional to the records newly acknowledged, SACKed or marked lost plus O(log n)
//! look-ups (and the records RACK still waits on, as in Linux), with no allocation once the
//! queues have grown to the flight's size; memory is proportional to the outstanding
//! records. A split or merge in the middle of the flight shifts the shorter side of a
//! `VecDeque` (it happens only at SACK block edges that cut a segment, on partial
//! retransmissions, and when a SACK joins SACKed runs).
//!
//! Counting follows Linux: a record marked lost keeps its mark when retransmitted (as
//! TCPCB_LOST does), so [`Recovery::pipe`] is Linux's packets_in_flight in bytes, while
//! [`Recovery::lost_bytes`] counts only what still waits for retransmission.

mod rack;
mod scoreboard;
mod tlp;

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::seq::Seq;
use crate::time::Instant;
use rack::{Rack, TimeQueue, sent_after};
use scoreboard::{Rec, Scoreboard};
use tlp::Probe;

pub use tlp::{PTO_NO_SRTT, WC_DEL_ACK};

/// Granularity allowed when comparing a timestamp RTT with a segment's own RTT (RFC 8985 6.2
/// step 2: an echo older than the retransmission means the original was acknowledged).
const TS_GRANULARITY: Duration = Duration::from_millis(1);

/// What one ACK did (the result of [`Recovery::on_ack`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// Bytes newly acknowledged cumulatively (how far SND.UNA moved).
    pub acked: usize,
    /// Bytes newly SACKed above SND.UNA.
    pub sacked: usize,
    /// Bytes this ACK newly delivered: newly cumulatively acknowledged bytes that were not
    /// SACKed before, plus newly SACKed ones (RFC 6937's DeliveredData).
    pub delivered: usize,
    /// An RTT sample: from the most recently sent segment among those newly delivered (a
    /// retransmitted one only when the sample is not below the minimum RTT seen and not
    /// contradicted by the timestamp RTT: RFC 8985 6.2 step 2); else the timestamp RTT when
    /// the ACK advanced SND.UNA.
    pub rtt: Option<Duration>,
    /// The first SACK block was a D-SACK (RFC 2883: below the ACK, or inside the second).
    pub dsack: bool,
    /// RACK marked at least one segment lost while processing this ACK.
    pub lost: bool,
    /// This ACK showed reordering (RFC 8985 6.2 step 3: a never-retransmitted segment newly
    /// delivered below RACK.fack).
    pub reordering: bool,
    /// A TLP episode ended showing that the probe repaired a loss (RFC 8985 7.4.2): the
    /// connection must invoke congestion control's response.
    pub tlp_recovered_loss: bool,
}

/// The scoreboard and RACK-TLP state of one connection's sending side.
///
/// Invariants: `snd_una <= snd_nxt`, `snd_nxt - snd_una < 2^31`; the scoreboard covers
/// exactly `[snd_una, snd_nxt)`; `pipe() <= 2 * outstanding()`.
#[derive(Clone, Debug)]
pub struct Recovery {
    /// The sequence number of absolute offset 0.
    iss: Seq,
    sb: Scoreboard,
    tq: TimeQueue,
    rack: Rack,
    /// The latest `now` seen; earlier ones are raised to it.
    clock: Instant,
    /// Serial of the next transmission.
    next_tx: u64,
    total_retransmits: u64,
    /// SRTT given by [`Recovery::set_srtt`], else smoothed here from the samples.
    srtt: Option<Duration>,
    srtt_external: bool,
    /// SND.NXT when the current fast or RTO recovery began (its end point).
    recovery_point: Option<u64>,
    reorder_deadline: Option<Instant>,
    probe: Option<Probe>,
    /// How many loss detections ran, and the reordering window of the last (for the model).
    #[cfg(test)]
    detections: (u64, Duration),
}

/// The accumulators of one ACK's newly delivered pieces (RFC 8985 6.2 steps 2 and 3).
struct Delivery {
    now: Instant,
    fack_before: u64,
    min_rtt: Option<Duration>,
    ts_rtt: Option<Duration>,
    bytes: usize,
    max_end: u64,
    reordering: bool,
    newest: Option<(Instant, u64)>,
}

impl Delivery {
    fn visit(&mut self, r: &Rec) {
        self.bytes = self
            .bytes
            .saturating_add(usize::try_from(r.end - r.start).unwrap_or(0));
        // Step 3: pieces of one ACK are disjoint, so comparing each with RACK.fack as it was
        // before the ACK is the RFC's walk in ascending end_seq order.
        if !r.ever_retrans && r.end < self.fack_before {
            self.reordering = true;
        }
        self.max_end = self.max_end.max(r.end);
        // Step 2: a retransmitted segment's sample is ambiguous unless it is at least the
        // minimum RTT and the timestamp echo is not older than the retransmission.
        let rtt = self.now.since(r.xmit);
        let eligible = !r.ever_retrans
            || (self.min_rtt.is_some_and(|m| rtt >= m)
                && self.ts_rtt.is_none_or(|t| t <= rtt + TS_GRANULARITY));
        if eligible
            && self
                .newest
                .is_none_or(|(x, e)| sent_after(r.xmit, r.end, x, e))
        {
            self.newest = Some((r.xmit, r.end));
        }
    }
}

impl Recovery {
    /// Nothing outstanding: SND.UNA = SND.NXT = `iss`.
    pub fn new(iss: Seq) -> Self {
        Recovery {
            iss,
            sb: Scoreboard::new(),
            tq: TimeQueue::default(),
            rack: Rack::new(),
            clock: Instant::ZERO,
            next_tx: 0,
            total_retransmits: 0,
            srtt: None,
            srtt_external: false,
            recovery_point: None,
            reorder_deadline: None,
            probe: None,
            #[cfg(test)]
            detections: (0, Duration::ZERO),
        }
    }

    fn seq(&self, abs: u64) -> Seq {
        Seq(self.iss.0.wrapping_add(abs as u32))
    }

    fn tick(&mut self, now: Instant) -> Instant {
        self.clock = self.clock.max(now);
        self.clock
    }

    /// The absolute offset of `s` when it lies in `[snd_una, snd_nxt]`.
    fn offset_in_window(&self, s: Seq) -> Option<u64> {
        let d = s.delta(self.snd_una());
        let d = u64::try_from(d).ok()?;
        (d <= self.sb.nxt - self.sb.una).then_some(self.sb.una + d)
    }

    /// SND.UNA: the oldest unacknowledged sequence number.
    pub fn snd_una(&self) -> Seq {
        self.seq(self.sb.una)
    }

    /// SND.NXT: the end of the highest sequence ever sent.
    pub fn snd_nxt(&self) -> Seq {
        self.seq(self.sb.nxt)
    }

    /// Records a transmission of `[start, end)` at `now`. The part from SND.NXT up is new
    /// data (a range starting above SND.NXT is taken as starting there: the sequence space
    /// stays contiguous); the part inside `[snd_una, snd_nxt)` is a retransmission: its
    /// records that are not SACKed become retransmitted at `now` and stop waiting for
    /// retransmission. Anything below SND.UNA, and empty or reversed ranges, are ignored.
    pub fn on_transmit(&mut self, now: Instant, start: Seq, end: Seq) {
        let now = self.tick(now);
        let una = self.snd_una();
        if end.delta(start) <= 0 {
            return;
        }
        let Ok(end_off) = u64::try_from(end.delta(una)) else {
            return;
        };
        let start_off = u64::try_from(start.delta(una)).unwrap_or(0);
        let (s, e) = (self.sb.una + start_off, self.sb.una + end_off);
        if s >= e {
            return;
        }
        let tx = self.next_tx;
        self.next_tx += 1;
        let nxt = self.sb.nxt;
        if s < nxt {
            self.sb.retransmit(s, e.min(nxt), now, tx);
            self.total_retransmits += 1;
        }
        self.sb.push_new(e, now, tx);
        self.tq.push(s.min(nxt), e, now, tx);
        self.sb.normalize_hint();
        self.tq.tidy(&self.sb);
    }

    /// Processes an ACK: the cumulative `ack` (ignored unless in `[snd_una, snd_nxt]`) and
    /// its SACK blocks in the order they came (each ignored unless
    /// `snd_una < start < end <= snd_nxt` after the cumulative ACK; a D-SACK first block is
    /// reported, not applied). `ts_rtt` is the RTT the timestamp option gives (now minus the
    /// time TSecr echoes), if any: it vetoes the sample of a retransmitted segment whose
    /// echo predates the retransmission (to within 1 ms), and is the sample when no segment
    /// gives one and SND.UNA advanced. Then RACK's update, the reordering window's update
    /// and loss detection (RFC 8985 6.2 steps 1 to 5), and TLP's episode check (7.4.2).
    pub fn on_ack(
        &mut self,
        now: Instant,
        ack: Seq,
        sack: &[(Seq, Seq)],
        ts_rtt: Option<Duration>,
    ) -> AckOutcome {
        let now = self.tick(now);
        let mut out = AckOutcome::default();
        let valid = |b: &(Seq, Seq)| b.1.delta(b.0) > 0;

        // RFC 2883 section 4: a D-SACK is the first block, below the ACK or inside the second.
        let dsack_block = sack.first().copied().filter(|b| {
            valid(b)
                && (b.0.lt(ack)
                    || sack
                        .get(1)
                        .is_some_and(|c| valid(c) && c.0.le(b.0) && b.1.le(c.1)))
        });
        out.dsack = dsack_block.is_some();
        let dsack_matches_probe = match (dsack_block, self.probe) {
            (Some((s, e)), Some(p)) => {
                let last = self.seq(p.end).sub(1);
                last.ge(s) && last.lt(e)
            }
            _ => false,
        };

        let ack_off = self.offset_in_window(ack);
        let una_before = self.sb.una;
        let mut d = Delivery {
            now,
            fack_before: self.rack.fack,
            min_rtt: self.rack.min_rtt.map(|(m, _)| m),
            ts_rtt,
            bytes: 0,
            max_end: 0,
            reordering: false,
            newest: None,
        };
        if let Some(a) = ack_off.filter(|&a| a > una_before) {
            self.sb.ack_to(a, |r| d.visit(r));
            out.acked = usize::try_from(a - una_before).unwrap_or(usize::MAX);
        }
        let acked_delivered = d.bytes;

        // RFC 2018 blocks, validated against the window after the cumulative ACK as Linux's
        // tcp_is_sackblock_valid does: inside (SND.UNA, SND.NXT], so a block never starts at
        // SND.UNA (the receiver would have acknowledged what it holds there).
        for (k, b) in sack.iter().enumerate() {
            if (k == 0 && out.dsack) || !valid(b) {
                continue;
            }
            if let (Some(s), Some(e)) = (self.offset_in_window(b.0), self.offset_in_window(b.1))
                && self.sb.una < s
                && s < e
            {
                self.sb.sack(s, e, |r| d.visit(r));
            }
        }
        out.delivered = d.bytes;
        out.sacked = d.bytes - acked_delivered;

        // Steps 1 and 2: the RTT sample, RACK.min_RTT, RACK.rtt, RACK.xmit_ts/end_seq.
        let mut rack_advanced = false;
        if let Some((xmit, end)) = d.newest {
            let rtt = now.since(xmit);
            out.rtt = Some(rtt);
            self.rack.rtt = rtt;
            if self
                .rack
                .seg
                .is_none_or(|(x, e)| sent_after(xmit, end, x, e))
            {
                self.rack.seg = Some((xmit, end));
            }
            rack_advanced = true;
        } else if out.acked > 0 {
            out.rtt = ts_rtt;
        }
        if let Some(sample) = out.rtt {
            self.rack.update_min_rtt(now, sample);
            if !self.srtt_external {
                self.srtt = Some(match self.srtt {
                    None => sample,
                    Some(s) => s.saturating_mul(7) / 8 + sample / 8,
                });
            }
        }

        // Step 3: reordering. A D-SACK also shows it (the original of a retransmission
        // arrived after all), unless it reports the tail probe's duplicate: without this the
        // window could never open after spurious retransmissions, the case step 4's
        // multiplier is meant for.
        self.rack.fack = self.rack.fack.max(d.max_end);
        if d.reordering {
            out.reordering = true;
            self.rack.reordering_seen = true;
        }
        if out.dsack && !dsack_matches_probe {
            self.rack.reordering_seen = true;
        }

        // Step 4: the reordering window, with the end of a recovery (SND.UNA reaching the
        // SND.NXT it began at) counted.
        let exiting = self.recovery_point.is_some_and(|p| self.sb.una >= p);
        if exiting {
            self.recovery_point = None;
        }
        self.rack
            .update_reo_wnd(self.sb.una, self.sb.nxt, out.dsack, exiting);

        // RFC 8985 7.4.2: the TLP episode.
        if let Some(a) = ack_off {
            out.tlp_recovered_loss = tlp::process_ack(
                &mut self.probe,
                tlp::AckView {
                    ack: a,
                    advanced: a > una_before,
                    has_sack: !sack.is_empty(),
                    dsack_matches: dsack_matches_probe,
                },
            );
        }

        // Step 5: loss detection, when RACK's segment or RTT changed (as Linux).
        if rack_advanced {
            out.lost = self.detect_loss(now);
        }
        if self.sb.is_empty() {
            self.reorder_deadline = None;
            self.tq.clear();
        }
        self.sb.normalize_hint();
        self.tq.tidy(&self.sb);
        out
    }

    /// RFC 8985 6.2 step 5 with the current window; enters recovery when a loss is marked.
    fn detect_loss(&mut self, now: Instant) -> bool {
        let reo_wnd = self.reo_wnd();
        #[cfg(test)]
        {
            self.detections = (self.detections.0 + 1, reo_wnd);
        }
        let found = self.tq.detect(&mut self.sb, &self.rack, reo_wnd, now);
        self.reorder_deadline = found.deadline;
        if found.marked && self.recovery_point.is_none() {
            self.recovery_point = Some(self.sb.nxt);
        }
        found.marked
    }

    /// RACK's reordering timer fired (RFC 8985 6.3): runs loss detection again; true when
    /// something was newly marked lost. The timer is re-armed for what still waits.
    pub fn on_reorder_timer(&mut self, now: Instant) -> bool {
        let now = self.tick(now);
        let marked = self.detect_loss(now);
        self.sb.normalize_hint();
        self.tq.tidy(&self.sb);
        marked
    }

    /// When RACK's reordering timer is due; `None` when it is not armed.
    pub fn reorder_deadline(&self) -> Option<Instant> {
        self.reorder_deadline
    }

    /// The lowest range marked lost and not retransmitted since (contiguous lost records
    /// merged, up to 64 KiB); always inside `[snd_una, snd_nxt)` and not SACKed. The
    /// connection clips it to one MSS and reports what it sent with [`Recovery::on_transmit`].
    pub fn next_retransmit(&self) -> Option<(Seq, Seq)> {
        self.sb
            .next_retransmit()
            .map(|(s, e)| (self.seq(s), self.seq(e)))
    }

    /// The retransmission timer fired: every outstanding record that is not SACKed is marked
    /// lost (RFC 8985 6.3, Linux's behaviour after RTO), so they are retransmitted in order;
    /// an RTO recovery begins, RACK's timer is disarmed and any TLP episode ends. When the
    /// data at SND.UNA is SACKed the receiver has reneged (it holds data it will not
    /// acknowledge): then the SACK marks are dropped and everything is marked lost
    /// (RFC 2018 section 8, as Linux), otherwise the connection could stall on them.
    pub fn on_rto(&mut self, now: Instant) {
        let now = self.tick(now);
        if self.sb.recs.front().is_some_and(|r| r.sacked) {
            self.sb.unsack_all(now);
        }
        self.sb.mark_all_lost();
        self.tq.clear();
        self.reorder_deadline = None;
        self.probe = None;
        self.recovery_point = (!self.sb.is_empty()).then_some(self.sb.nxt);
        self.sb.normalize_hint();
    }

    /// Bytes in flight, Linux's packets_in_flight in bytes: outstanding, less SACKed, less
    /// marked lost (retransmitted since or not), plus retransmitted and not SACKed or marked
    /// lost since.
    pub fn pipe(&self) -> usize {
        self.outstanding()
            .saturating_sub(self.sb.sacked)
            .saturating_sub(self.sb.lost)
            .saturating_add(self.sb.retrans)
    }

    /// SND.NXT - SND.UNA.
    pub fn outstanding(&self) -> usize {
        usize::try_from(self.sb.nxt - self.sb.una).unwrap_or(usize::MAX)
    }

    /// Bytes SACKed above SND.UNA.
    pub fn sacked_bytes(&self) -> usize {
        self.sb.sacked
    }

    /// Bytes marked lost and not retransmitted since.
    pub fn lost_bytes(&self) -> usize {
        self.sb.lost_pending
    }

    /// Bytes retransmitted and still outstanding, not SACKed or marked lost since.
    pub fn retrans_bytes(&self) -> usize {
        self.sb.retrans
    }

    /// Transmissions that resent something below SND.NXT over the connection's life (for
    /// TCP_INFO's total_retrans).
    pub fn total_retransmits(&self) -> u64 {
        self.total_retransmits
    }

    /// RACK.reo_wnd as RFC 8985 6.2 step 4 computes it now.
    pub fn reo_wnd(&self) -> Duration {
        self.rack
            .reo_wnd(self.in_recovery(), self.sb.segs_sacked, self.srtt)
    }

    /// Gives the connection's SRTT (RFC 6298), which bounds RACK.reo_wnd; once called, the
    /// module's own smoothing of its samples is no longer used.
    pub fn set_srtt(&mut self, srtt: Duration) {
        self.srtt = Some(srtt);
        self.srtt_external = true;
    }

    /// RACK.min_RTT: the minimum RTT sample seen (a 300 s windowed minimum, as Linux's).
    pub fn min_rtt(&self) -> Option<Duration> {
        self.rack.min_rtt.map(|(m, _)| m)
    }

    /// Whether a fast or RTO recovery, as this module sees it, is under way: since RACK
    /// marked a loss or the RTO fired, until SND.UNA reaches the SND.NXT of that moment.
    pub fn in_recovery(&self) -> bool {
        self.recovery_point.is_some()
    }

    /// RACK.reordering_seen: reordering has been observed on this connection.
    pub fn reordering_seen(&self) -> bool {
        self.rack.reordering_seen
    }

    /// The probe timeout to arm after a transmission (RFC 8985 7.2): `now + min(PTO, rto)`
    /// with PTO = 2 * SRTT, plus WCDelAckT (200 ms) when one segment is in flight, or 1 s
    /// without an SRTT. `None` when nothing is outstanding, a probe is unacknowledged, a
    /// recovery is under way or segments are SACKed (7.2 schedules no probe then).
    pub fn tlp_deadline(
        &self,
        now: Instant,
        srtt: Option<Duration>,
        rto: Duration,
        flight_segments: usize,
    ) -> Option<Instant> {
        if self.sb.is_empty()
            || self.probe.is_some()
            || self.in_recovery()
            || self.sb.segs_sacked > 0
        {
            return None;
        }
        Some(tlp::deadline(now, srtt, rto, flight_segments))
    }

    /// Records the probe the connection just sent (after its [`Recovery::on_transmit`]):
    /// TLP.end_seq = SND.NXT, TLP.is_retrans = `is_retransmission` (RFC 8985 7.3). Ignored
    /// while another probe is unacknowledged, or when `[start, end)` is not outstanding.
    pub fn on_tlp_sent(&mut self, now: Instant, start: Seq, end: Seq, is_retransmission: bool) {
        // The probe's time is the one on_transmit recorded.
        self.tick(now);
        let inside = self.offset_in_window(start).is_some()
            && self.offset_in_window(end).is_some()
            && end.gt(start);
        if self.probe.is_none() && inside {
            self.probe = Some(Probe {
                end: self.sb.nxt,
                is_retrans: is_retransmission,
            });
        }
    }

    /// Whether a TLP episode is in progress (a probe is unacknowledged).
    pub fn tlp_in_progress(&self) -> bool {
        self.probe.is_some()
    }
}
