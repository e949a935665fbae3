//! The receive buffer: reassembly of arriving segment text, the receive window, and the SACK
//! and D-SACK blocks that describe what is held.
//!
//! Layout, as logical offsets from the ring's head: `[0, readable)` are the in-order bytes the
//! application has not read, ending at `rcv_nxt`; beyond them lie the out-of-order ranges,
//! each stored in place at `readable + (start - rcv_nxt)`. The window is
//! `capacity - readable` bytes from `rcv_nxt` (RFC 9293 section 3.8.6: reading frees window),
//! and the out-of-order data lies inside it.
//!
//! Rules applied by [`RecvBuffer::insert`], in order:
//! - RFC 9293 section 3.10.7.4 ("first, check sequence number"): text before `rcv_nxt` is
//!   trimmed, text beyond `rcv_nxt + window` is dropped;
//! - RFC 9293 section 3.10.7.4 ("seventh, process the segment text"): text at `rcv_nxt`
//!   advances it, past every out-of-order range it now joins; text beyond a hole is held;
//! - RFC 2883 section 4: the first part of a segment that was already received (before
//!   `rcv_nxt`, or already held) is reported as the D-SACK block;
//! - RFC 2018 section 4: the held ranges are reported as SACK blocks, the one holding the
//!   most recently received segment first, then the others most recently changed first.
//!
//! Bytes once stored never change: when a retransmission overlaps what is held, only the
//! holes are filled (a sender that changes its data gets its first version delivered).

use super::{MAX_CAPACITY, Ring};
use crate::seq::Seq;

#[cfg(test)]
mod tests;

/// The most out-of-order ranges held at once; a segment that would make one more is dropped
/// (the sender retransmits it). Bounds the work per segment and the memory of a receiver an
/// attacker feeds with scattered bytes.
pub const MAX_RANGES: usize = 64;

/// What one arriving segment did to the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Insert {
    /// How far `rcv_nxt` moved: this segment's in-order text and the out-of-order data it
    /// joined.
    pub advanced: usize,
    /// The segment's text (new, or already held) lies beyond a hole: it went to the
    /// out-of-order ranges instead of advancing `rcv_nxt` (the connection acknowledges at
    /// once, RFC 5681 section 4.2).
    pub out_of_order: bool,
    /// The first range of the segment that had already been received (before `rcv_nxt`, or
    /// already held out of order): the D-SACK block to report (RFC 2883 section 4).
    pub duplicate: Option<(Seq, Seq)>,
    /// Bytes not stored: beyond the window, or refused because [`MAX_RANGES`] ranges are held.
    pub dropped: usize,
}

/// One out-of-order range `[start, end)`.
///
/// `stamp` orders the ranges by their last change (larger is more recent; unique).
#[derive(Debug, Clone, Copy)]
struct Range {
    start: Seq,
    end: Seq,
    stamp: u64,
}

/// The bytes the application has not read, then the out-of-order ranges above `rcv_nxt`.
///
/// Invariants:
/// - `readable + (end of the last range - rcv_nxt) <= capacity() <= MAX_CAPACITY`, and the
///   storage covers it;
/// - the ranges are sorted, non-empty, disjoint and not adjacent: `rcv_nxt < start < end`,
///   and each `end` is before the next `start`; at most [`MAX_RANGES`] of them;
/// - every range's stamp is unique and at most `clock`.
#[derive(Debug)]
pub struct RecvBuffer {
    ring: Ring,
    /// The capacity asked for; the effective one is never below what is held.
    target: usize,
    rcv_nxt: Seq,
    readable: usize,
    ranges: Vec<Range>,
    /// Counts out-of-order arrivals: the stamp of the range the last one changed.
    clock: u64,
}

impl RecvBuffer {
    /// An empty buffer of `capacity` bytes (at most [`MAX_CAPACITY`]) expecting `rcv_nxt`
    /// next; allocates nothing.
    pub fn new(capacity: usize, rcv_nxt: Seq) -> Self {
        RecvBuffer {
            ring: Ring::default(),
            target: capacity.min(MAX_CAPACITY),
            rcv_nxt,
            readable: 0,
            ranges: Vec::new(),
            clock: 0,
        }
    }

    /// The bytes from the first unread byte to the end of the last out-of-order range.
    fn held(&self) -> usize {
        self.readable + self.ranges.last().map_or(0, |r| r.end.since(self.rcv_nxt))
    }

    /// The capacity: the one last set, or what is held if that is more.
    pub fn capacity(&self) -> usize {
        self.target.max(self.held())
    }

    /// Sets the capacity (clipped to [`MAX_CAPACITY`]); growing takes effect at once.
    /// Nothing held is lost: below what is held, it takes effect as the application reads,
    /// and reads never move the window's right edge back.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.target = capacity.min(MAX_CAPACITY);
    }

    /// The next sequence number expected in order.
    pub fn rcv_nxt(&self) -> Seq {
        self.rcv_nxt
    }

    /// In-order bytes waiting for the application.
    pub fn readable(&self) -> usize {
        self.readable
    }

    /// Room for data from `rcv_nxt`: `capacity() - readable()` (the out-of-order data lies
    /// inside it). A read of `n` bytes frees `n` bytes, unless a lowered capacity is taking
    /// effect.
    pub fn window(&self) -> usize {
        self.capacity() - self.readable
    }

    /// Bytes of storage allocated.
    pub fn storage(&self) -> usize {
        self.ring.size()
    }

    /// Takes the text of a segment starting at `seq` (see the module's rules); any
    /// `(seq, data)` is accepted. Allocates only to grow the storage (doubling, up to the
    /// capacity) and the range list (up to [`MAX_RANGES`]).
    pub fn insert(&mut self, seq: Seq, data: &[u8]) -> Insert {
        let mut result = Insert::default();
        // RFC 9293 3.10.7.4: trim what lies before rcv_nxt; RFC 2883 4: it is a duplicate.
        let d = seq.delta(self.rcv_nxt);
        let (behind, ahead) = if d < 0 {
            (d.unsigned_abs() as usize, 0)
        } else {
            (0, d as usize)
        };
        let trimmed = behind.min(data.len());
        if trimmed > 0 {
            result.duplicate = Some((seq, seq.add(trimmed)));
        }
        let rest = data.get(trimmed..).unwrap_or(&[]);
        // RFC 9293 3.10.7.4: drop what lies beyond the window.
        let take = rest.len().min(self.window().saturating_sub(ahead));
        result.dropped = rest.len() - take;
        if take == 0 {
            return result;
        }
        let rest = rest.get(..take).unwrap_or(&[]);
        let start = self.rcv_nxt.add(ahead);
        let end = start.add(take);
        // The held ranges [i, j) overlap or touch [start, end).
        let i = self.ranges.partition_point(|r| r.end.lt(start));
        let j = i + self
            .ranges
            .get(i..)
            .unwrap_or(&[])
            .iter()
            .take_while(|r| r.start.le(end))
            .count();
        if ahead > 0 && i == j && self.ranges.len() >= MAX_RANGES {
            result.dropped += take;
            return result;
        }
        self.ring
            .grow(self.readable + ahead + take, self.capacity());
        let held = self.fill(start, rest, i, j);
        result.duplicate = result.duplicate.or(held);
        if ahead == 0 {
            // RFC 9293 3.10.7.4: in order; rcv_nxt moves past the ranges now joined.
            let frontier = self
                .ranges
                .get(..j)
                .and_then(|joined| joined.last())
                .map_or(end, |r| end.max(r.end));
            self.ranges.drain(..j);
            result.advanced = frontier.since(self.rcv_nxt);
            self.readable += result.advanced;
            self.rcv_nxt = frontier;
        } else {
            // Beyond a hole: one range now covers the segment and the ranges it touched,
            // and it is the most recently changed (RFC 2018 4).
            self.clock += 1;
            let stamp = self.clock;
            if i == j {
                self.ranges.insert(i, Range { start, end, stamp });
            } else {
                let first = self.ranges.get(i).map_or(start, |r| start.min(r.start));
                let last = self.ranges.get(j - 1).map_or(end, |r| end.max(r.end));
                self.ranges.drain(i + 1..j);
                if let Some(r) = self.ranges.get_mut(i) {
                    *r = Range {
                        start: first,
                        end: last,
                        stamp,
                    };
                }
            }
            result.out_of_order = true;
        }
        result
    }

    /// Stores the bytes of `data` (the in-window text starting at `start`) that fall in the
    /// holes between the held ranges `[i, j)`; returns the first part already held.
    fn fill(&mut self, start: Seq, data: &[u8], i: usize, j: usize) -> Option<(Seq, Seq)> {
        let end = start.add(data.len());
        let (base, nxt) = (self.readable, self.rcv_nxt);
        let ring = &mut self.ring;
        let mut store = |from: Seq, to: Seq| {
            let k = from.since(start);
            if let Some(chunk) = data.get(k..k + to.since(from)) {
                ring.write_at(base + from.since(nxt), chunk);
            }
        };
        let mut duplicate = None;
        let mut cursor = start;
        for r in self.ranges.get(i..j).unwrap_or(&[]) {
            if cursor.lt(r.start) {
                store(cursor, r.start.min(end));
            }
            let (lo, hi) = (start.max(r.start), end.min(r.end));
            if duplicate.is_none() && lo.lt(hi) {
                duplicate = Some((lo, hi));
            }
            cursor = cursor.max(r.end);
        }
        if cursor.lt(end) {
            store(cursor, end);
        }
        duplicate
    }

    /// Counts the FIN: `rcv_nxt` moves one past the readable bytes (RFC 9293 3.10.7.4,
    /// "eighth, check the FIN bit"). The connection checks the FIN is in order; any
    /// out-of-order data (none can follow a FIN) is discarded.
    pub fn advance_fin(&mut self) {
        self.rcv_nxt = self.rcv_nxt.add(1);
        self.ranges.clear();
    }

    /// Moves up to `out.len()` readable bytes into `out`; returns how many (and frees as
    /// much window).
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.peek(out);
        self.consume(n);
        n
    }

    /// Copies up to `out.len()` readable bytes into `out` without consuming them.
    pub fn peek(&self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.readable);
        self.ring.read_at(0, out.get_mut(..n).unwrap_or(&mut []))
    }

    /// The readable bytes, as at most two slices (the second is non-empty only when the ring
    /// wraps).
    pub fn slices(&self) -> (&[u8], &[u8]) {
        self.ring.slices(0, self.readable)
    }

    /// Drops `n` readable bytes (clipped to `readable()`), freeing as much window.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.readable);
        self.ring.advance(n);
        self.readable -= n;
        if self.readable == 0 && self.ranges.is_empty() {
            self.ring.head = 0;
        }
    }

    /// Whether out-of-order data is held.
    pub fn has_out_of_order(&self) -> bool {
        !self.ranges.is_empty()
    }

    /// Bytes held out of order.
    pub fn out_of_order_bytes(&self) -> usize {
        self.ranges.iter().map(|r| r.end.since(r.start)).sum()
    }

    /// RFC 2018 section 4: the out-of-order ranges as `(left edge, right edge)` blocks, the
    /// one holding the most recently received segment first, then the others most recently
    /// changed first. Fills up to `out.len()`; returns how many.
    pub fn sack_blocks(&self, out: &mut [(Seq, Seq)]) -> usize {
        let mut below = u64::MAX;
        let mut n = 0;
        for slot in out.iter_mut() {
            let next = self
                .ranges
                .iter()
                .filter(|r| r.stamp < below)
                .max_by_key(|r| r.stamp);
            let Some(r) = next else { break };
            *slot = (r.start, r.end);
            below = r.stamp;
            n += 1;
        }
        n
    }

    /// Gives the storage back if nothing is held (the next segment allocates again).
    pub fn shrink(&mut self) {
        if self.readable == 0 && self.ranges.is_empty() {
            self.ring.release();
            self.ranges = Vec::new();
        }
    }
}
