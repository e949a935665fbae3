//! Tests of the receive buffer: the rules one by one, then a model (a map of stream position
//! to the first byte received there) driven by random segments and reads.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::buffer::MIN_STORAGE;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn blocks(b: &RecvBuffer) -> Vec<(u32, u32)> {
    let mut out = [(Seq(0), Seq(0)); MAX_RANGES + 1];
    let n = b.sack_blocks(&mut out);
    out[..n].iter().map(|(l, r)| (l.0, r.0)).collect()
}

fn read_all(b: &mut RecvBuffer) -> Vec<u8> {
    let mut v = vec![0; b.readable()];
    let n = b.read(&mut v);
    v.truncate(n);
    v
}

/// The bytes of a test stream at positions `[from, from + len)`.
fn pattern(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(|i| (i % 251) as u8).collect()
}

fn ins(
    advanced: usize,
    out_of_order: bool,
    duplicate: Option<(u32, u32)>,
    dropped: usize,
) -> Insert {
    Insert {
        advanced,
        out_of_order,
        duplicate: duplicate.map(|(l, r)| (Seq(l), Seq(r))),
        dropped,
    }
}

#[test]
fn in_order_text_is_readable_and_reading_frees_window() {
    let mut b = RecvBuffer::new(1000, Seq(100));
    assert_eq!(b.insert(Seq(100), b"hello"), ins(5, false, None, 0));
    assert_eq!(b.insert(Seq(105), b" world"), ins(6, false, None, 0));
    assert_eq!(b.rcv_nxt(), Seq(111));
    assert_eq!((b.readable(), b.window()), (11, 989));
    let mut out = [0; 4];
    assert_eq!(b.peek(&mut out), 4);
    assert_eq!(b.read(&mut out), 4);
    assert_eq!(&out, b"hell");
    assert_eq!(b.window(), 993);
    let (x, y) = b.slices();
    assert_eq!([x, y].concat(), b"o world");
    b.consume(100);
    assert_eq!((b.readable(), b.window()), (0, 1000));
    assert_eq!(b.insert(Seq(111), b""), Insert::default());
}

#[test]
fn holes_are_filled_in_any_order() {
    let base = Seq(u32::MAX - 15); // the stream wraps inside the second segment
    let mut orders = Vec::new();
    for a in 0..4 {
        for b in 0..4 {
            for c in 0..4 {
                for d in 0..4 {
                    let mut seen = [false; 4];
                    for x in [a, b, c, d] {
                        seen[x] = true;
                    }
                    if seen == [true; 4] {
                        orders.push([a, b, c, d]);
                    }
                }
            }
        }
    }
    assert_eq!(orders.len(), 24);
    for order in orders {
        let mut buf = RecvBuffer::new(100, base);
        let mut arrived = [false; 4];
        let mut prefix = 0;
        for k in order {
            let r = buf.insert(base.add(10 * k), &pattern(10 * k, 10));
            arrived[k] = true;
            let before = prefix;
            while prefix < 4 && arrived[prefix] {
                prefix += 1;
            }
            assert_eq!(r.advanced, 10 * (prefix - before), "{order:?}");
            assert_eq!(r.out_of_order, k > before, "{order:?}");
            assert_eq!((r.duplicate, r.dropped), (None, 0));
            assert_eq!(buf.rcv_nxt(), base.add(10 * prefix));
            let held = arrived.iter().filter(|&&x| x).count() - prefix;
            assert_eq!(buf.out_of_order_bytes(), 10 * held);
            if r.out_of_order {
                let first = blocks(&buf)[0];
                assert!(
                    Seq(first.0).le(base.add(10 * k)) && base.add(10 * k + 10).le(Seq(first.1))
                );
            }
        }
        assert!(!buf.has_out_of_order());
        assert_eq!(read_all(&mut buf), pattern(0, 40), "{order:?}");
    }
}

#[test]
fn an_overlapping_retransmission_fills_only_the_holes() {
    let mut b = RecvBuffer::new(1000, Seq(1000));
    assert_eq!(b.insert(Seq(1010), &[b'a'; 10]), ins(0, true, None, 0));
    assert_eq!(b.insert(Seq(1030), &[b'b'; 10]), ins(0, true, None, 0));
    assert_eq!(blocks(&b), [(1030, 1040), (1010, 1020)]);
    // Covers both ranges: the holes take the new bytes, the first held part is the D-SACK.
    assert_eq!(
        b.insert(Seq(1005), &[b'x'; 40]),
        ins(0, true, Some((1010, 1020)), 0)
    );
    assert_eq!(blocks(&b), [(1005, 1045)]);
    assert_eq!(b.out_of_order_bytes(), 40);
    assert_eq!(b.insert(Seq(1000), &[b'y'; 5]), ins(45, false, None, 0));
    let want = [
        &[b'y'; 5][..],
        &[b'x'; 5],
        &[b'a'; 10],
        &[b'x'; 10],
        &[b'b'; 10],
        &[b'x'; 5],
    ]
    .concat();
    assert_eq!(read_all(&mut b), want);
}

#[test]
fn duplicates_are_reported_exactly() {
    let mut b = RecvBuffer::new(1000, Seq(5000));
    b.insert(Seq(5000), &pattern(0, 100));
    // Wholly old.
    assert_eq!(
        b.insert(Seq(5010), &pattern(10, 20)),
        ins(0, false, Some((5010, 5030)), 0)
    );
    // Partly old: the old part is trimmed, the rest advances.
    assert_eq!(
        b.insert(Seq(5090), &pattern(90, 20)),
        ins(10, false, Some((5090, 5100)), 0)
    );
    // Already held out of order.
    assert_eq!(
        b.insert(Seq(5200), &pattern(200, 10)),
        ins(0, true, None, 0)
    );
    assert_eq!(
        b.insert(Seq(5300), &pattern(300, 10)),
        ins(0, true, None, 0)
    );
    assert_eq!(
        b.insert(Seq(5203), &pattern(203, 4)),
        ins(0, true, Some((5203, 5207)), 0)
    );
    // RFC 2883 4: the range holding the duplicate is reported next (first SACK block).
    assert_eq!(blocks(&b), [(5200, 5210), (5300, 5310)]);
    // In order, overlapping the start of a held range.
    assert_eq!(
        b.insert(Seq(5110), &pattern(110, 95)),
        ins(100, false, Some((5200, 5205)), 0)
    );
    assert_eq!(blocks(&b), [(5300, 5310)]);
    // Old by as much as sequence numbers allow.
    let far = b.rcv_nxt().sub(1 << 31);
    assert_eq!(
        b.insert(far, b"zz"),
        ins(0, false, Some((far.0, far.add(2).0)), 0)
    );
    assert_eq!(read_all(&mut b), pattern(0, 210));
}

#[test]
fn text_beyond_the_window_is_dropped() {
    let mut b = RecvBuffer::new(100, Seq(0));
    assert_eq!(
        b.insert(Seq(0), &pattern(0, 150)),
        ins(100, false, None, 50)
    );
    assert_eq!(b.window(), 0);
    assert_eq!(
        b.insert(Seq(100), &pattern(100, 10)),
        ins(0, false, None, 10)
    );
    let mut out = [0; 30];
    assert_eq!(b.read(&mut out), 30);
    assert_eq!(b.window(), 30);
    assert_eq!(
        b.insert(Seq(110), &pattern(110, 30)),
        ins(0, true, None, 10)
    );
    assert_eq!(blocks(&b), [(110, 130)]);
    assert_eq!(b.insert(Seq(131), &pattern(131, 5)), ins(0, false, None, 5));
    assert_eq!(
        b.insert(Seq(100), &pattern(100, 10)),
        ins(30, false, None, 0)
    );
    assert_eq!(b.window(), 0);
    // As far ahead as sequence numbers allow.
    assert_eq!(b.insert(Seq((1 << 31) - 1), b"abc"), ins(0, false, None, 3));
    assert_eq!([out.to_vec(), read_all(&mut b)].concat(), pattern(0, 130));
}

#[test]
fn at_most_64_ranges_are_held() {
    let base = Seq(u32::MAX - 50);
    let mut b = RecvBuffer::new(10_000, base);
    for k in 0..MAX_RANGES {
        assert_eq!(
            b.insert(base.add(2 + 2 * k), &[k as u8]),
            ins(0, true, None, 0)
        );
    }
    assert_eq!(blocks(&b).len(), MAX_RANGES);
    // A 65th range is refused...
    assert_eq!(b.insert(base.add(200), b"x"), ins(0, false, None, 1));
    // ...but growing a range, or joining two, is not.
    assert_eq!(
        b.insert(base.add(2 + 2 * 63 + 1), b"e"),
        ins(0, true, None, 0)
    );
    assert_eq!(b.insert(base.add(3), b"j"), ins(0, true, None, 0));
    assert_eq!(blocks(&b).len(), MAX_RANGES - 1);
    assert_eq!(blocks(&b)[0], (base.add(2).0, base.add(5).0));
    assert_eq!(b.insert(base.add(200), b"x"), ins(0, true, None, 0));
    assert_eq!(blocks(&b).len(), MAX_RANGES);
    assert_eq!(b.out_of_order_bytes(), 64 + 3);
    assert_eq!(b.insert(base, b"01"), ins(5, false, None, 0));
    assert_eq!(read_all(&mut b), [b'0', b'1', 0, b'j', 1]);
}

#[test]
fn sack_blocks_follow_rfc_2018_example() {
    // Left edge 5000, 500-byte segments; the 2nd, 4th, 6th and 8th are lost.
    let seg = |k: usize| (Seq(5000).add(500 * k), pattern(500 * k, 500));
    let mut b = RecvBuffer::new(65_535, Seq(5000));
    let (s, d) = seg(0);
    b.insert(s, &d);
    assert_eq!((b.rcv_nxt(), blocks(&b)), (Seq(5500), vec![]));
    let (s, d) = seg(2);
    b.insert(s, &d);
    assert_eq!(blocks(&b), [(6000, 6500)]);
    let (s, d) = seg(4);
    b.insert(s, &d);
    assert_eq!(blocks(&b), [(7000, 7500), (6000, 6500)]);
    let (s, d) = seg(6);
    b.insert(s, &d);
    assert_eq!(blocks(&b), [(8000, 8500), (7000, 7500), (6000, 6500)]);
    // The 4th arrives: its block first, then the others.
    let (s, d) = seg(3);
    b.insert(s, &d);
    assert_eq!(
        (b.rcv_nxt(), blocks(&b)),
        (Seq(5500), vec![(6000, 7500), (8000, 8500)])
    );
    // The 2nd arrives: the acknowledgement covers 7500.
    let (s, d) = seg(1);
    b.insert(s, &d);
    assert_eq!((b.rcv_nxt(), blocks(&b)), (Seq(7500), vec![(8000, 8500)]));
}

#[test]
fn sack_blocks_are_most_recently_changed_first_and_clipped() {
    let mut b = RecvBuffer::new(10_000, Seq(0));
    for start in [100, 300, 500, 700] {
        b.insert(Seq(start), &[1; 10]);
    }
    assert_eq!(blocks(&b), [(700, 710), (500, 510), (300, 310), (100, 110)]);
    b.insert(Seq(300), &[1; 5]); // a duplicate touches a range too
    b.insert(Seq(110), &[1; 5]); // a range grows
    assert_eq!(blocks(&b), [(100, 115), (300, 310), (700, 710), (500, 510)]);
    let mut three = [(Seq(0), Seq(0)); 3];
    assert_eq!(b.sack_blocks(&mut three), 3);
    assert_eq!(
        three,
        [
            (Seq(100), Seq(115)),
            (Seq(300), Seq(310)),
            (Seq(700), Seq(710))
        ]
    );
    assert_eq!(b.sack_blocks(&mut []), 0);
}

#[test]
fn sequence_numbers_wrap_around() {
    let base = Seq(u32::MAX - 9);
    let mut b = RecvBuffer::new(1000, base);
    assert_eq!(
        b.insert(base.add(15), &pattern(15, 10)),
        ins(0, true, None, 0)
    );
    assert_eq!(blocks(&b), [(5, 15)]);
    assert_eq!(
        b.insert(base.sub(3), &pattern(0, 3)),
        ins(0, false, Some((base.sub(3).0, base.0)), 0)
    );
    assert_eq!(b.insert(base, &pattern(0, 15)), ins(25, false, None, 0));
    assert_eq!(b.rcv_nxt(), Seq(15));
    assert_eq!(read_all(&mut b), pattern(0, 25));
}

#[test]
fn storage_grows_lazily_and_shrink_releases_it() {
    let mut b = RecvBuffer::new(1 << 20, Seq(7));
    assert_eq!(b.storage(), 0);
    b.insert(Seq(7), &[1; 100]);
    assert_eq!(b.storage(), MIN_STORAGE);
    b.shrink(); // data held: kept
    assert_eq!(b.storage(), MIN_STORAGE);
    read_all(&mut b);
    b.shrink();
    assert_eq!(b.storage(), 0);
    // Out-of-order data far ahead needs storage up to its end, doubled from the minimum.
    b.insert(Seq(107 + 3000), &[2; 10]);
    assert_eq!(b.storage(), 2 * MIN_STORAGE);
    b.shrink();
    assert_eq!(b.storage(), 2 * MIN_STORAGE);
    b.insert(Seq(107), &[3; 3000]);
    assert_eq!(b.readable(), 3010);
    read_all(&mut b);
    b.shrink();
    assert_eq!(b.storage(), 0);
    // Never more than the capacity.
    let mut small = RecvBuffer::new(100, Seq(0));
    small.insert(Seq(0), &[1; 500]);
    assert_eq!(small.storage(), 100);
}

#[test]
fn capacity_changes_keep_the_data_and_the_right_edge() {
    let mut b = RecvBuffer::new(100, Seq(0));
    b.insert(Seq(50), &pattern(50, 30));
    b.insert(Seq(0), &pattern(0, 10));
    b.set_capacity(20);
    assert_eq!((b.capacity(), b.window()), (80, 70));
    let mut out = [0; 10];
    b.read(&mut out);
    // The read frees no window while the lower capacity takes effect, but the right edge
    // (rcv_nxt + window = 80) does not move back.
    assert_eq!((b.capacity(), b.window()), (70, 70));
    assert_eq!(b.insert(Seq(10), &pattern(10, 40)), ins(70, false, None, 0));
    assert_eq!(b.window(), 0);
    assert_eq!(read_all(&mut b), pattern(10, 70));
    assert_eq!((b.capacity(), b.window()), (20, 20));
    b.set_capacity(5000);
    assert_eq!(b.window(), 5000);
    assert_eq!(
        b.insert(Seq(80), &pattern(80, 4000)),
        ins(4000, false, None, 0)
    );
    assert_eq!(read_all(&mut b), pattern(80, 4000));
    b.set_capacity(usize::MAX);
    assert_eq!(b.capacity(), MAX_CAPACITY);
}

#[test]
fn a_fin_takes_one_sequence_number() {
    let mut b = RecvBuffer::new(100, Seq(u32::MAX));
    b.insert(Seq(u32::MAX), b"bye");
    b.insert(Seq(10), b"junk");
    b.advance_fin();
    assert_eq!(b.rcv_nxt(), Seq(3));
    assert!(!b.has_out_of_order());
    assert_eq!(read_all(&mut b), b"bye");
}

/// The receive buffer as a map from stream position (0 = the initial `rcv_nxt`) to the first
/// byte received there.
#[derive(Debug)]
struct Model {
    base: Seq,
    bytes: BTreeMap<i64, u8>,
    /// When a segment last touched each out-of-order byte.
    touched: BTreeMap<i64, u64>,
    read: i64,
    nxt: i64,
    target: usize,
    time: u64,
}

impl Model {
    fn new(base: Seq, capacity: usize) -> Self {
        Model {
            base,
            bytes: BTreeMap::new(),
            touched: BTreeMap::new(),
            read: 0,
            nxt: 0,
            target: capacity,
            time: 0,
        }
    }

    fn seq(&self, pos: i64) -> Seq {
        Seq(self.base.0.wrapping_add(pos as u32))
    }

    /// The out-of-order runs: (start, end, last time touched), in sequence order.
    fn runs(&self) -> Vec<(i64, i64, u64)> {
        let mut out: Vec<(i64, i64, u64)> = Vec::new();
        for &p in self.bytes.range(self.nxt..).map(|(p, _)| p) {
            let t = self.touched.get(&p).copied().unwrap_or(0);
            match out.last_mut() {
                Some((_, end, last)) if *end == p => {
                    *end = p + 1;
                    *last = (*last).max(t);
                }
                _ => out.push((p, p + 1, t)),
            }
        }
        out
    }

    fn readable(&self) -> usize {
        (self.nxt - self.read) as usize
    }

    fn capacity(&self) -> usize {
        let end = self
            .bytes
            .range(self.nxt..)
            .next_back()
            .map_or(self.nxt, |(p, _)| p + 1);
        self.target.max((end - self.read) as usize)
    }

    fn window(&self) -> usize {
        self.capacity() - self.readable()
    }

    fn insert(&mut self, pos: i64, data: &[u8]) -> Insert {
        let hi = self.nxt + self.window() as i64;
        let (lo_in, hi_in) = (pos.max(self.nxt), (pos + data.len() as i64).min(hi));
        let beyond_hole = lo_in < hi_in && lo_in > self.nxt;
        let refused = beyond_hole
            && self.runs().len() >= MAX_RANGES
            && self.bytes.range(lo_in - 1..=hi_in).next().is_none();
        self.time += 1;
        let mut r = Insert::default();
        let (mut dup, mut dup_closed) = (None::<(i64, i64)>, false);
        for (k, &byte) in data.iter().enumerate() {
            let p = pos + k as i64;
            let is_dup = if p < self.nxt {
                true
            } else if p >= hi || refused {
                r.dropped += 1;
                false
            } else {
                if beyond_hole {
                    self.touched.insert(p, self.time);
                }
                // The first byte received at a position stays.
                let held = self.bytes.contains_key(&p);
                self.bytes.entry(p).or_insert(byte);
                held
            };
            match dup {
                None if is_dup => dup = Some((p, p + 1)),
                Some((s, e)) if is_dup && !dup_closed && e == p => dup = Some((s, p + 1)),
                Some(_) if !is_dup => dup_closed = true,
                _ => {}
            }
        }
        let before = self.nxt;
        while self.bytes.contains_key(&self.nxt) {
            self.nxt += 1;
        }
        r.advanced = (self.nxt - before) as usize;
        r.out_of_order = beyond_hole && !refused;
        r.duplicate = dup.map(|(s, e)| (self.seq(s), self.seq(e)));
        r
    }

    fn readable_bytes(&self, n: usize) -> Vec<u8> {
        (self.read..self.read + n as i64)
            .map(|p| self.bytes[&p])
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// A segment at this offset from the current `rcv_nxt`; a non-zero salt changes its bytes.
    Seg(i64, usize, u8),
    /// A segment at any sequence number.
    Wild(u32, usize),
    Read(usize),
    Peek(usize),
    SlicesConsume(usize),
    SetCapacity(usize),
    Shrink,
}

fn ops(cap: usize, max_len: usize, n: usize) -> impl Strategy<Value = Vec<Op>> {
    let cap = cap as i64;
    let salt = prop_oneof![6 => Just(0u8), 1 => 1u8..];
    let op = prop_oneof![
        12 => (-(max_len as i64)..cap + max_len as i64, 0..max_len, salt)
            .prop_map(|(o, l, s)| Op::Seg(o, l, s)),
        1 => (any::<u32>(), 0..max_len).prop_map(|(s, l)| Op::Wild(s, l)),
        2 => (0..2 * cap as usize).prop_map(Op::Read),
        1 => (0..2 * cap as usize).prop_map(Op::Peek),
        1 => (0..2 * cap as usize).prop_map(Op::SlicesConsume),
        1 => (0..2 * cap as usize).prop_map(Op::SetCapacity),
        1 => Just(Op::Shrink),
    ];
    proptest::collection::vec(op, 1..n)
}

/// Sends the stream's bytes `[pos, pos + len)` (changed by `salt`) to both.
fn segment(
    b: &mut RecvBuffer,
    m: &mut Model,
    pos: i64,
    len: usize,
    salt: u8,
) -> Result<(), TestCaseError> {
    let data: Vec<u8> = (pos..pos + len as i64)
        .map(|p| (p as u8).wrapping_mul(31) ^ salt)
        .collect();
    let want = m.insert(pos, &data);
    prop_assert_eq!(
        b.insert(m.seq(pos), &data),
        want,
        "segment at {} len {}",
        pos,
        len
    );
    if want.out_of_order {
        // RFC 2018 4: the first block holds the segment just received.
        let first = blocks(b)[0];
        prop_assert!(Seq(first.0).le(m.seq(pos)) && m.seq(pos).lt(Seq(first.1)));
    }
    Ok(())
}

fn run(base: Seq, cap: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut b = RecvBuffer::new(cap, base);
    let mut m = Model::new(base, cap);
    for op in ops {
        match op {
            Op::Seg(off, len, salt) => {
                let pos = m.nxt + off;
                segment(&mut b, &mut m, pos, len, salt)?;
            }
            Op::Wild(seq, len) => {
                let pos = m.nxt + i64::from(Seq(seq).delta(b.rcv_nxt()));
                segment(&mut b, &mut m, pos, len, 0)?;
            }
            Op::Read(n) | Op::Peek(n) => {
                let mut out = vec![0; n];
                let got = if matches!(op, Op::Read(_)) {
                    b.read(&mut out)
                } else {
                    b.peek(&mut out)
                };
                prop_assert_eq!(got, n.min(m.readable()));
                prop_assert_eq!(&out[..got], &m.readable_bytes(got)[..]);
                if matches!(op, Op::Read(_)) {
                    m.read += got as i64;
                }
            }
            Op::SlicesConsume(n) => {
                let (x, y) = b.slices();
                prop_assert!(y.is_empty() || !x.is_empty());
                prop_assert_eq!([x, y].concat(), m.readable_bytes(m.readable()));
                b.consume(n);
                m.read += n.min(m.readable()) as i64;
            }
            Op::SetCapacity(c) => {
                b.set_capacity(c);
                m.target = c;
            }
            Op::Shrink => {
                b.shrink();
                if m.readable() == 0 && m.runs().is_empty() {
                    prop_assert_eq!(b.storage(), 0);
                }
            }
        }
        prop_assert_eq!(b.rcv_nxt(), m.seq(m.nxt));
        prop_assert_eq!(b.readable(), m.readable());
        prop_assert_eq!(b.capacity(), m.capacity());
        prop_assert_eq!(b.window(), m.window());
        let runs = m.runs();
        prop_assert!(runs.len() <= MAX_RANGES);
        prop_assert_eq!(b.has_out_of_order(), !runs.is_empty());
        prop_assert_eq!(
            b.out_of_order_bytes() as i64,
            runs.iter().map(|(s, e, _)| e - s).sum::<i64>()
        );
        let held = m.readable() + runs.last().map_or(0, |r| (r.1 - m.nxt) as usize);
        prop_assert!(b.storage() >= held);
        // SACK blocks: exactly the model's runs, most recently touched first.
        let mut by_recency = runs.clone();
        by_recency.sort_by_key(|r| std::cmp::Reverse(r.2));
        let want: Vec<(u32, u32)> = by_recency
            .iter()
            .map(|r| (m.seq(r.0).0, m.seq(r.1).0))
            .collect();
        let got = blocks(&b);
        prop_assert_eq!(&got, &want);
        // ...and as blocks: above rcv_nxt, non-empty, disjoint and not adjacent.
        let mut sorted: Vec<(Seq, Seq)> = got.iter().map(|&(l, r)| (Seq(l), Seq(r))).collect();
        sorted.sort_by_key(|&(l, _)| l.since(b.rcv_nxt()));
        let mut edge = b.rcv_nxt();
        for (l, r) in sorted {
            prop_assert!(edge.lt(l) && l.lt(r));
            edge = r;
        }
    }
    Ok(())
}

fn base() -> impl Strategy<Value = Seq> {
    prop_oneof![
        (u32::MAX - 3000..=u32::MAX).prop_map(Seq),
        any::<u32>().prop_map(Seq)
    ]
}

proptest! {
    #[test]
    fn segments_and_reads_agree_with_the_model(base in base(), cap in 0usize..3000, ops in ops(3000, 600, 60)) {
        run(base, cap, ops)?;
    }

    #[test]
    fn many_small_fragments_agree_with_the_model(base in base(), cap in 150usize..600, ops in ops(600, 4, 300)) {
        run(base, cap, ops)?;
    }
}
