//! RACK (RFC 8985 section 6): the per-connection state, the reordering window, and loss
//! detection over the transmissions in time order.
//!
//! The time queue holds one entry per transmission (new data or retransmission) in the
//! order they were made, which is transmission-time order because [`super::Recovery`] never
//! lets its clock go backwards. Entries are deleted lazily: an entry is dead once none of the
//! records it covers still carries its transmission serial and is live (not SACKed, not
//! acknowledged, not waiting for retransmission). Loss detection walks the queue from the
//! front and stops at the first transmission sent after RACK.xmit_ts; the prefix it walked is
//! compacted in place (dead entries dropped, the pending ones kept in order), so every dead
//! entry is looked at once. This is the optimization RFC 8985 6.2 step 5 describes, with
//! exactly the result of its loop over every unacknowledged segment.

use std::collections::VecDeque;
use std::time::Duration;

use super::scoreboard::Scoreboard;
use crate::time::Instant;

/// RFC 8985 6.2 step 4: DupThresh for RACK.segs_sacked.
const DUP_THRESH: usize = 3;
/// RFC 8985 6.2 step 4: recoveries without D-SACK before RACK.reo_wnd_mult resets.
pub(super) const REO_WND_PERSIST: u32 = 16;
/// Upper bound on RACK.reo_wnd_mult (the window is bounded by SRTT long before).
const REO_WND_MULT_MAX: u32 = 255;
/// How long a minimum RTT sample is trusted before a larger one may replace it (Linux's
/// default tcp_min_rtt_wlen).
const MIN_RTT_WINDOW: Duration = Duration::from_secs(300);

/// Whether a transmission at `t1` ending at `end1` was sent after one at `t2` ending at `end2`
/// (RFC 8985 6.2, RACK_sent_after: the sequence breaks ties of equal times).
pub(super) fn sent_after(t1: Instant, end1: u64, t2: Instant, end2: u64) -> bool {
    t1 > t2 || (t1 == t2 && end1 > end2)
}

/// RACK's per-connection variables (RFC 8985 5.3), positions as absolute offsets.
#[derive(Clone, Debug)]
pub(super) struct Rack {
    /// RACK.xmit_ts and RACK.end_seq of the most recently sent segment delivered so far.
    pub seg: Option<(Instant, u64)>,
    /// RACK.rtt: the RTT of the most recently sent segment delivered by the latest ACK that
    /// gave an eligible one.
    pub rtt: Duration,
    /// RACK.fack: the highest end of any segment delivered.
    pub fack: u64,
    /// RACK.min_RTT, and when it was measured.
    pub min_rtt: Option<(Duration, Instant)>,
    /// RACK.reordering_seen.
    pub reordering_seen: bool,
    /// RACK.reo_wnd_mult.
    pub reo_wnd_mult: u32,
    /// RACK.reo_wnd_persist.
    pub reo_wnd_persist: u32,
    /// RACK.dsack_round (an absolute offset of SND.NXT).
    pub dsack_round: Option<u64>,
}

impl Rack {
    /// RFC 8985 6.1 initial values.
    pub fn new() -> Self {
        Rack {
            seg: None,
            rtt: Duration::ZERO,
            fack: 0,
            min_rtt: None,
            reordering_seen: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: REO_WND_PERSIST,
            dsack_round: None,
        }
    }

    /// RFC 8985 6.2 step 1: a windowed minimum (a new low, or any sample once the minimum is
    /// `MIN_RTT_WINDOW` old).
    pub fn update_min_rtt(&mut self, now: Instant, sample: Duration) {
        let replace = match self.min_rtt {
            None => true,
            Some((m, at)) => sample <= m || now.since(at) > MIN_RTT_WINDOW,
        };
        if replace {
            self.min_rtt = Some((sample, now));
        }
    }

    /// RFC 8985 6.2 step 4, RACK_update_reo_wnd: the D-SACK round ends once SND.UNA passes
    /// it; a D-SACK starting a round grows the multiplier; a recovery ending without one
    /// counts towards resetting it.
    pub fn update_reo_wnd(&mut self, una: u64, nxt: u64, dsack: bool, exiting_recovery: bool) {
        if self.dsack_round.is_some_and(|r| una >= r) {
            self.dsack_round = None;
        }
        if self.dsack_round.is_none() && dsack {
            self.dsack_round = Some(nxt);
            self.reo_wnd_mult = (self.reo_wnd_mult + 1).min(REO_WND_MULT_MAX);
            self.reo_wnd_persist = REO_WND_PERSIST;
        } else if exiting_recovery {
            self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
            if self.reo_wnd_persist == 0 {
                self.reo_wnd_mult = 1;
            }
        }
    }

    /// RFC 8985 6.2 step 4, RACK_calc_reo_wnd: zero while no reordering has been seen and
    /// either a recovery is under way or DupThresh segments are SACKed; otherwise
    /// `reo_wnd_mult * min_RTT / 4`, bounded by SRTT.
    pub fn reo_wnd(
        &self,
        in_recovery: bool,
        segs_sacked: usize,
        srtt: Option<Duration>,
    ) -> Duration {
        if !self.reordering_seen && (in_recovery || segs_sacked >= DUP_THRESH) {
            return Duration::ZERO;
        }
        let Some((min_rtt, _)) = self.min_rtt else {
            return Duration::ZERO;
        };
        let wnd = (min_rtt / 4).saturating_mul(self.reo_wnd_mult);
        match srtt {
            Some(s) => wnd.min(s),
            None => wnd,
        }
    }
}

/// One transmission, as recorded when it was made.
#[derive(Clone, Copy, Debug)]
struct TxEntry {
    start: u64,
    end: u64,
    xmit: Instant,
    tx: u64,
    /// Scratch: survives the current detection walk.
    keep: bool,
}

/// What one loss-detection pass found.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Detection {
    /// Some record was newly marked lost.
    pub marked: bool,
    /// When the last record waiting on the reordering window becomes old enough
    /// (RFC 8985 6.2 step 5's timeout), if any waits.
    pub deadline: Option<Instant>,
}

/// The transmissions in time order, lazily deleted (see the module documentation).
#[derive(Clone, Debug, Default)]
pub(super) struct TimeQueue {
    q: VecDeque<TxEntry>,
}

impl TimeQueue {
    /// Records transmission `tx` of `[start, end)` at `xmit` (not earlier than any before).
    pub fn push(&mut self, start: u64, end: u64, xmit: Instant, tx: u64) {
        self.q.push_back(TxEntry {
            start,
            end,
            xmit,
            tx,
            keep: false,
        });
    }

    /// Forgets every transmission.
    pub fn clear(&mut self) {
        self.q.clear();
    }

    /// Number of entries, dead ones included (tests only).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// Drops entries from the front that lie wholly below `una`; when dead entries could
    /// outnumber the records by much, drops every dead one (amortized O(1) per entry).
    pub fn tidy(&mut self, sb: &Scoreboard) {
        while self.q.front().is_some_and(|e| e.end <= sb.una) {
            self.q.pop_front();
        }
        if self.q.len() > 2 * sb.recs.len() + 64 {
            self.q.retain(|e| entry_is_live(sb, e));
        }
    }

    /// RFC 8985 6.2 step 5 (and 6.3 when the reordering timer fires), RACK_detect_loss:
    /// every live record sent before RACK's segment (RACK_sent_after) whose
    /// `xmit_ts + RACK.rtt + reo_wnd` has passed is marked lost; the latest such time still
    /// ahead is the reordering timer's deadline.
    pub fn detect(
        &mut self,
        sb: &mut Scoreboard,
        rack: &Rack,
        reo_wnd: Duration,
        now: Instant,
    ) -> Detection {
        let mut found = Detection::default();
        let Some((rack_xmit, rack_end)) = rack.seg else {
            return found;
        };
        let mut walked = 0;
        while let Some(entry) = self.q.get(walked).copied() {
            if entry.xmit > rack_xmit {
                // This and every later transmission were sent after RACK's segment.
                break;
            }
            let mut keep = false;
            let mut i = sb.find(entry.start.max(sb.una));
            while let Some(r) = sb.recs.get(i).copied() {
                if r.start >= entry.end {
                    break;
                }
                if r.tx == entry.tx && r.live() {
                    if sent_after(rack_xmit, rack_end, r.xmit, r.end) {
                        let due = r.xmit + rack.rtt + reo_wnd;
                        if due <= now {
                            sb.mark_lost(i);
                            found.marked = true;
                        } else {
                            keep = true;
                            found.deadline = Some(found.deadline.map_or(due, |d| d.max(due)));
                        }
                    } else {
                        keep = true;
                    }
                }
                i += 1;
            }
            if let Some(e) = self.q.get_mut(walked) {
                e.keep = keep;
            }
            walked += 1;
        }
        self.compact_prefix(walked);
        found
    }

    /// Drops the entries of `q[..n]` not marked `keep`, keeping the order of the others:
    /// survivors are moved to the back of the prefix, then the front is popped. Costs O(n).
    fn compact_prefix(&mut self, n: usize) {
        let n = n.min(self.q.len());
        let mut write = n;
        for read in (0..n).rev() {
            if self.q.get(read).is_some_and(|e| e.keep) {
                write -= 1;
                self.q.swap(read, write);
            }
        }
        for _ in 0..write {
            self.q.pop_front();
        }
    }
}

/// Whether some record covered by `e` still carries its transmission and is live.
fn entry_is_live(sb: &Scoreboard, e: &TxEntry) -> bool {
    let mut i = sb.find(e.start.max(sb.una));
    while let Some(r) = sb.recs.get(i) {
        if r.start >= e.end {
            return false;
        }
        if r.tx == e.tx && r.live() {
            return true;
        }
        i += 1;
    }
    false
}
