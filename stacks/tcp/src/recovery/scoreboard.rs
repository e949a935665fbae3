//! The SACK scoreboard (RFC 2018, RFC 6675 section 2): what is outstanding, in sequence order.
//!
//! Positions are absolute byte offsets from the initial sequence number (`u64`, never
//! wrapping), so ordering here is plain integer ordering; [`super::Recovery`] converts
//! [`crate::seq::Seq`] values at its boundary.
//!
//! Invariants (checked by `check` in the tests after every step):
//! - the records cover `[una, nxt)` exactly, in order, without gaps or overlaps, each non-empty;
//! - a SACKed record is neither lost nor retransmitted, and no two SACKed records are
//!   adjacent (SACKed runs are merged, so a SACK block spanning a run costs one step);
//! - the byte counters equal the sums over the records;
//! - no record that is lost and not retransmitted since starts below `hint`.

use std::collections::VecDeque;

use crate::time::Instant;

/// At most this many bytes are offered by one [`Scoreboard::next_retransmit`] (merging lost
/// records; a single larger record is offered whole).
const MERGE_MAX_BYTES: u64 = 65_535;
/// At most this many records are merged into one [`Scoreboard::next_retransmit`] range.
const MERGE_MAX_RECORDS: usize = 64;

/// One stretch of outstanding sequence space with the same state and transmission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rec {
    /// First byte (absolute offset).
    pub start: u64,
    /// One past the last byte; `end > start`.
    pub end: u64,
    /// Time of the latest transmission (meaningless once SACKed).
    pub xmit: Instant,
    /// Serial number of the latest transmission (ties the record to its time-queue entry).
    pub tx: u64,
    /// Segments SACKed in this record (0 while not SACKed), for RACK.segs_sacked.
    pub segs: u32,
    /// Selectively acknowledged.
    pub sacked: bool,
    /// Marked lost (Linux's TCPCB_LOST: stays set when retransmitted).
    pub lost: bool,
    /// Retransmitted and not SACKed or marked lost since (Linux's TCPCB_SACKED_RETRANS).
    pub retrans: bool,
    /// Retransmitted at least once (RFC 8985's Segment.retransmitted).
    pub ever_retrans: bool,
}

impl Rec {
    fn len(&self) -> usize {
        usize::try_from(self.end.saturating_sub(self.start)).unwrap_or(usize::MAX)
    }

    /// Marked lost and not retransmitted since: waiting for [`Scoreboard::next_retransmit`].
    pub fn lost_pending(&self) -> bool {
        !self.sacked && self.lost && !self.retrans
    }

    /// Still a candidate for RACK's loss detection: not SACKed and not already waiting for
    /// retransmission (RFC 8985 6.2 step 5 skips those with `xmit_ts = INFINITE_TS`).
    pub fn live(&self) -> bool {
        !self.sacked && (!self.lost || self.retrans)
    }
}

/// The outstanding records in sequence order, with byte counters kept in step.
#[derive(Clone, Debug)]
pub(super) struct Scoreboard {
    /// The records, covering `[una, nxt)`.
    pub recs: VecDeque<Rec>,
    /// Absolute offset of SND.UNA.
    pub una: u64,
    /// Absolute offset of SND.NXT (the highest sequence sent).
    pub nxt: u64,
    /// Bytes SACKed.
    pub sacked: usize,
    /// Bytes marked lost, retransmitted since or not (Linux's lost_out).
    pub lost: usize,
    /// Bytes retransmitted and not SACKed or marked lost since (Linux's retrans_out).
    pub retrans: usize,
    /// Bytes marked lost and not retransmitted since.
    pub lost_pending: usize,
    /// Segments SACKed (RACK.segs_sacked).
    pub segs_sacked: usize,
    /// No lost-pending record starts below this offset.
    hint: u64,
}

impl Scoreboard {
    /// Nothing outstanding, SND.UNA = SND.NXT = offset 0.
    pub fn new() -> Self {
        Scoreboard {
            recs: VecDeque::new(),
            una: 0,
            nxt: 0,
            sacked: 0,
            lost: 0,
            retrans: 0,
            lost_pending: 0,
            segs_sacked: 0,
            hint: 0,
        }
    }

    /// Index of the first record ending after `pos` (the one containing `pos`, if any).
    pub fn find(&self, pos: u64) -> usize {
        self.recs.partition_point(|r| r.end <= pos)
    }

    fn tally(&mut self, r: &Rec, add: bool) {
        let n = r.len();
        let apply = |c: &mut usize| {
            *c = if add {
                c.saturating_add(n)
            } else {
                c.saturating_sub(n)
            }
        };
        if r.sacked {
            apply(&mut self.sacked);
            return;
        }
        if r.lost {
            apply(&mut self.lost);
        }
        if r.retrans {
            apply(&mut self.retrans);
        }
        if r.lost_pending() {
            apply(&mut self.lost_pending);
        }
    }

    /// Changes record `i` through `f`, keeping the counters in step.
    fn update(&mut self, i: usize, f: impl FnOnce(&mut Rec)) {
        let Some(old) = self.recs.get(i).copied() else {
            return;
        };
        let mut new = old;
        f(&mut new);
        self.tally(&old, false);
        self.tally(&new, true);
        if let Some(slot) = self.recs.get_mut(i) {
            *slot = new;
        }
    }

    /// Splits record `i` at `pos` when `pos` is strictly inside it (both halves keep its state).
    fn split(&mut self, i: usize, pos: u64) {
        let Some(r) = self.recs.get_mut(i) else {
            return;
        };
        if pos <= r.start || pos >= r.end {
            return;
        }
        let mut upper = *r;
        upper.start = pos;
        r.end = pos;
        // Only records that are not SACKed are split (nothing inside a SACKed run needs a
        // boundary), so there is no segment count to share.
        self.recs.insert(i + 1, upper);
    }

    /// Makes `pos` a record boundary unless it falls inside a SACKed record; returns the index
    /// of the record at or containing `pos`.
    fn boundary(&mut self, pos: u64) -> usize {
        let i = self.find(pos);
        match self.recs.get(i) {
            Some(r) if r.start < pos && !r.sacked => {
                self.split(i, pos);
                i + 1
            }
            _ => i,
        }
    }

    /// Records new data `[nxt, end)` sent at `now` as transmission `tx`.
    pub fn push_new(&mut self, end: u64, now: Instant, tx: u64) {
        if end <= self.nxt {
            return;
        }
        self.recs.push_back(Rec {
            start: self.nxt,
            end,
            xmit: now,
            tx,
            segs: 0,
            sacked: false,
            lost: false,
            retrans: false,
            ever_retrans: false,
        });
        self.nxt = end;
    }

    /// Records a retransmission of `[start, end)` (inside `[una, nxt)`) at `now` as
    /// transmission `tx`: every covered record that is not SACKed becomes retransmitted with
    /// that time (Linux keeps the lost mark, so [`Scoreboard::lost_pending`] drops).
    pub fn retransmit(&mut self, start: u64, end: u64, now: Instant, tx: u64) {
        let start = start.max(self.una);
        let end = end.min(self.nxt);
        if start >= end {
            return;
        }
        let mut i = self.boundary(start);
        while let Some(r) = self.recs.get(i).copied() {
            if r.start >= end {
                break;
            }
            if !r.sacked {
                self.split(i, end);
                self.update(i, |r| {
                    r.xmit = now;
                    r.tx = tx;
                    r.retrans = true;
                    r.ever_retrans = true;
                });
            }
            i += 1;
        }
    }

    /// Advances SND.UNA to `ack` (`una < ack <= nxt`), calling `delivered` with every piece
    /// newly delivered by it (the parts that were not SACKed), in sequence order.
    pub fn ack_to(&mut self, ack: u64, mut delivered: impl FnMut(&Rec)) {
        let ack = ack.min(self.nxt);
        while let Some(front) = self.recs.front().copied() {
            if front.start >= ack {
                break;
            }
            if front.end <= ack {
                self.recs.pop_front();
                self.tally(&front, false);
                if front.sacked {
                    self.segs_sacked = self.segs_sacked.saturating_sub(front.segs as usize);
                } else {
                    delivered(&front);
                }
            } else {
                let mut piece = front;
                piece.end = ack;
                self.update(0, |r| r.start = ack);
                if !front.sacked {
                    delivered(&piece);
                }
                break;
            }
        }
        self.una = self.una.max(ack);
        self.hint = self.hint.max(self.una);
    }

    /// Marks `[start, end)` (inside `[una, nxt)`) SACKed, calling `delivered` with every piece
    /// newly SACKed (as it was before), in sequence order. A newly SACKed record stops being
    /// lost or retransmitted (as Linux's sacktag does) and merges with SACKed neighbours.
    pub fn sack(&mut self, start: u64, end: u64, mut delivered: impl FnMut(&Rec)) {
        let start = start.max(self.una);
        let end = end.min(self.nxt);
        if start >= end {
            return;
        }
        let mut i = self.boundary(start);
        while let Some(r) = self.recs.get(i).copied() {
            if r.start >= end {
                break;
            }
            if !r.sacked {
                self.split(i, end);
                if let Some(piece) = self.recs.get(i).copied() {
                    delivered(&piece);
                }
                self.update(i, |r| {
                    r.sacked = true;
                    r.lost = false;
                    r.retrans = false;
                    r.segs = 1;
                });
                self.segs_sacked = self.segs_sacked.saturating_add(1);
                i = self.merge_around(i);
            }
            i += 1;
        }
    }

    /// Merges SACKed record `i` with SACKed neighbours; returns the merged record's index.
    fn merge_around(&mut self, mut i: usize) -> usize {
        if i > 0 {
            let prev = self.recs.get(i - 1).copied();
            let cur = self.recs.get(i).copied();
            if let (Some(p), Some(c)) = (prev, cur)
                && p.sacked
                && c.sacked
                && p.end == c.start
            {
                if let Some(slot) = self.recs.get_mut(i - 1) {
                    slot.end = c.end;
                    slot.segs = slot.segs.saturating_add(c.segs);
                }
                self.recs.remove(i);
                i -= 1;
            }
        }
        let cur = self.recs.get(i).copied();
        let next = self.recs.get(i + 1).copied();
        if let (Some(c), Some(n)) = (cur, next)
            && c.sacked
            && n.sacked
            && c.end == n.start
        {
            if let Some(slot) = self.recs.get_mut(i) {
                slot.end = n.end;
                slot.segs = slot.segs.saturating_add(n.segs);
            }
            self.recs.remove(i + 1);
        }
        i
    }

    /// Marks record `i` lost (RFC 8985 6.2 step 5): it is no longer counted as retransmitted.
    pub fn mark_lost(&mut self, i: usize) {
        let Some(r) = self.recs.get(i) else {
            return;
        };
        if r.sacked {
            return;
        }
        let start = r.start;
        self.update(i, |r| {
            r.lost = true;
            r.retrans = false;
        });
        self.hint = self.hint.min(start);
    }

    /// Forgets every SACK (the receiver reneged, RFC 2018 section 8) at `now`. A merged
    /// SACKed run no longer knows when its parts were sent: it is taken as retransmitted at
    /// `now`, so that an RTT sample from it is treated as ambiguous. Costs one pass.
    pub fn unsack_all(&mut self, now: Instant) {
        for i in 0..self.recs.len() {
            self.update(i, |r| {
                if r.sacked {
                    r.sacked = false;
                    r.segs = 0;
                    r.xmit = now;
                    r.tx = u64::MAX;
                    r.ever_retrans = true;
                }
            });
        }
        self.segs_sacked = 0;
    }

    /// Marks every record that is not SACKed lost (after an RTO). Costs one pass.
    pub fn mark_all_lost(&mut self) {
        for i in 0..self.recs.len() {
            self.mark_lost(i);
        }
        self.hint = self.una;
    }

    /// Moves the hint forward to the first lost-pending record (amortized: it only moves back
    /// when a record below it is marked lost).
    pub fn normalize_hint(&mut self) {
        if self.lost_pending == 0 {
            self.hint = self.nxt;
            return;
        }
        self.hint = self.hint.max(self.una);
        let mut i = self.find(self.hint);
        while let Some(r) = self.recs.get(i) {
            if r.lost_pending() {
                self.hint = r.start;
                return;
            }
            i += 1;
        }
        self.hint = self.nxt;
    }

    /// The lowest range of lost-pending records (contiguous ones merged, up to
    /// `MERGE_MAX_BYTES`/`MERGE_MAX_RECORDS`), as absolute offsets.
    pub fn next_retransmit(&self) -> Option<(u64, u64)> {
        if self.lost_pending == 0 {
            return None;
        }
        let mut i = self.find(self.hint);
        let first = loop {
            let r = self.recs.get(i)?;
            if r.lost_pending() {
                break *r;
            }
            i += 1;
        };
        let (start, mut end) = (first.start, first.end);
        let mut count = 1;
        while let Some(r) = self.recs.get(i + count) {
            if count >= MERGE_MAX_RECORDS
                || !r.lost_pending()
                || r.start != end
                || r.end - start > MERGE_MAX_BYTES
            {
                break;
            }
            end = r.end;
            count += 1;
        }
        Some((start, end))
    }

    /// Whether nothing is outstanding.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Checks every invariant listed in the module documentation (tests only).
    #[cfg(test)]
    pub fn check(&self) {
        let mut pos = self.una;
        let (mut sacked, mut lost, mut retrans, mut pending, mut segs) = (0, 0, 0, 0, 0);
        let mut prev_sacked = false;
        for r in &self.recs {
            assert_eq!(r.start, pos, "records not contiguous: {:?}", self.recs);
            assert!(r.end > r.start, "empty record");
            pos = r.end;
            if r.sacked {
                assert!(!r.lost && !r.retrans, "SACKed record lost or retransmitted");
                assert!(!prev_sacked, "adjacent SACKed records not merged");
                sacked += r.len();
                segs += r.segs as usize;
            } else {
                assert_eq!(r.segs, 0);
                if r.lost {
                    lost += r.len();
                }
                if r.retrans {
                    retrans += r.len();
                }
                if r.lost_pending() {
                    pending += r.len();
                    assert!(r.start >= self.hint, "lost record below the hint");
                }
            }
            prev_sacked = r.sacked;
        }
        assert_eq!(pos, self.nxt, "records do not reach snd_nxt");
        assert_eq!(
            (sacked, lost, retrans, pending, segs),
            (
                self.sacked,
                self.lost,
                self.retrans,
                self.lost_pending,
                self.segs_sacked
            )
        );
    }
}
