//! A brute-force model of [`Recovery`], one entry per byte of sequence space with every rule
//! applied by a plain loop, and the property test that drives both through random schedules
//! (sends, retransmissions, probes, drops, reordering, duplicated and malformed ACKs, timers)
//! and compares them after every step.
//!
//! The model computes by itself what was acknowledged, SACKed and delivered, the RTT sample,
//! RACK's segment and RTT, RACK.min_RTT, and which bytes RACK's rule (RFC 8985 6.2 step 5,
//! the loop over every unacknowledged segment) marks lost; it takes from the module under
//! test only the reordering window the detection used, which depends on state it does not
//! model. Every transmission happens at its own instant, so RACK_sent_after's ties are
//! within one transmission, where comparing each byte's end is comparing its record's.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;

#[derive(Clone, Copy, Debug)]
struct Byte {
    xmit: Instant,
    sacked: bool,
    lost: bool,
    retrans: bool,
    ever_retrans: bool,
}

impl Byte {
    fn lost_pending(&self) -> bool {
        !self.sacked && self.lost && !self.retrans
    }
}

/// The model: `bytes[i]` is the byte at offset `i` from the initial sequence number.
struct Model {
    iss: Seq,
    una: usize,
    bytes: Vec<Byte>,
    rack: Option<(Instant, u64)>,
    rack_rtt: Duration,
    min_rtt: Option<Duration>,
    retransmits: u64,
}

fn after(t1: Instant, e1: u64, t2: Instant, e2: u64) -> bool {
    t1 > t2 || (t1 == t2 && e1 > e2)
}

impl Model {
    fn new(iss: Seq) -> Self {
        Model {
            iss,
            una: 0,
            bytes: Vec::new(),
            rack: None,
            rack_rtt: Duration::ZERO,
            min_rtt: None,
            retransmits: 0,
        }
    }

    fn nxt(&self) -> usize {
        self.bytes.len()
    }

    fn seq(&self, off: usize) -> Seq {
        self.iss.add(off)
    }

    /// The offset of `s` if it is in `[una, nxt]`.
    fn off(&self, s: Seq) -> Option<usize> {
        let d = s.delta(self.seq(self.una));
        let o = self.una + usize::try_from(d).ok()?;
        (o <= self.nxt()).then_some(o)
    }

    fn outstanding(&self) -> &[Byte] {
        &self.bytes[self.una..]
    }

    fn transmit(&mut self, now: Instant, start: Seq, end: Seq) {
        if end.delta(start) <= 0 {
            return;
        }
        let una = self.seq(self.una);
        if end.delta(una) <= 0 {
            return;
        }
        let s = self.una + start.delta(una).max(0) as usize;
        let e = self.una + end.delta(una) as usize;
        let nxt = self.nxt();
        if s < nxt {
            self.retransmits += 1;
            for b in &mut self.bytes[s..e.min(nxt)] {
                if !b.sacked {
                    b.xmit = now;
                    b.retrans = true;
                    b.ever_retrans = true;
                }
            }
        }
        while self.bytes.len() < e {
            self.bytes.push(Byte {
                xmit: now,
                sacked: false,
                lost: false,
                retrans: false,
                ever_retrans: false,
            });
        }
    }

    /// RFC 8985 6.2 step 5 over every byte.
    fn detect(&mut self, now: Instant, reo_wnd: Duration) -> bool {
        let Some((rx, re)) = self.rack else {
            return false;
        };
        let mut marked = false;
        let rtt = self.rack_rtt;
        for (i, b) in self.bytes.iter_mut().enumerate().skip(self.una) {
            if b.sacked || b.lost_pending() {
                continue;
            }
            if after(rx, re, b.xmit, i as u64 + 1) && b.xmit + rtt + reo_wnd <= now {
                b.lost = true;
                b.retrans = false;
                marked = true;
            }
        }
        marked
    }

    /// The ACK, with the reordering window to use if it runs loss detection; also whether
    /// RACK advanced (so that detection ran).
    fn ack(
        &mut self,
        now: Instant,
        ack: Seq,
        blocks: &[(Seq, Seq)],
        ts_rtt: Option<Duration>,
        reo_wnd: Duration,
    ) -> (AckOutcome, bool) {
        let mut out = AckOutcome::default();
        let ok = |b: &(Seq, Seq)| b.1.delta(b.0) > 0;
        if let Some(first) = blocks.first()
            && ok(first)
        {
            let inside = blocks
                .get(1)
                .is_some_and(|c| ok(c) && c.0.delta(first.0) <= 0 && first.1.delta(c.1) <= 0);
            out.dsack = first.0.delta(ack) < 0 || inside;
        }
        let min_rtt = self.min_rtt;
        let mut newest: Option<(Instant, u64)> = None;
        let mut visit = |i: usize, b: &Byte| {
            let rtt = now.since(b.xmit);
            let eligible = !b.ever_retrans
                || (min_rtt.is_some_and(|m| rtt >= m)
                    && ts_rtt.is_none_or(|t| t <= rtt + Duration::from_millis(1)));
            if eligible && newest.is_none_or(|(x, e)| after(b.xmit, i as u64 + 1, x, e)) {
                newest = Some((b.xmit, i as u64 + 1));
            }
        };
        if let Some(a) = self.off(ack) {
            for i in self.una..a {
                out.acked += 1;
                if !self.bytes[i].sacked {
                    out.delivered += 1;
                    visit(i, &self.bytes[i]);
                }
            }
            self.una = self.una.max(a);
        }
        for (k, blk) in blocks.iter().enumerate() {
            if (k == 0 && out.dsack) || !ok(blk) {
                continue;
            }
            let (Some(s), Some(e)) = (self.off(blk.0), self.off(blk.1)) else {
                continue;
            };
            if s == self.una {
                continue;
            }
            for i in s..e {
                let b = &mut self.bytes[i];
                if !b.sacked {
                    visit(i, b);
                    b.sacked = true;
                    b.lost = false;
                    b.retrans = false;
                    out.sacked += 1;
                    out.delivered += 1;
                }
            }
        }
        if let Some((x, e)) = newest {
            self.rack_rtt = now.since(x);
            out.rtt = Some(self.rack_rtt);
            if self.rack.is_none_or(|(rx, re)| after(x, e, rx, re)) {
                self.rack = Some((x, e));
            }
        } else if out.acked > 0 {
            out.rtt = ts_rtt;
        }
        if let Some(r) = out.rtt {
            self.min_rtt = Some(self.min_rtt.map_or(r, |m| m.min(r)));
        }
        if newest.is_some() {
            out.lost = self.detect(now, reo_wnd);
        }
        (out, newest.is_some())
    }

    fn rto(&mut self, now: Instant) {
        let una = self.una;
        let reneged = self.bytes.get(una).is_some_and(|b| b.sacked);
        for b in &mut self.bytes[una..] {
            if reneged && b.sacked {
                b.sacked = false;
                b.xmit = now;
                b.ever_retrans = true;
            }
            if !b.sacked {
                b.lost = true;
                b.retrans = false;
            }
        }
    }
}

/// One step of a schedule.
#[derive(Clone, Debug)]
enum Op {
    /// New data of this many bytes.
    Send(usize),
    /// What `next_retransmit` offers, clipped to this many bytes.
    Retransmit(usize),
    /// An arbitrary range, from `una - 20 + offset`.
    RetransmitAny(usize, usize),
    /// A tail loss probe when one is due: new data, or the last bytes again.
    Probe(bool),
    /// After this many microseconds, the network delivers packet `n` (modulo those in
    /// flight), and its ACK carries this timestamp RTT.
    Deliver(u64, usize, Option<u64>),
    /// The network loses packet `n`.
    Drop(usize),
    /// An ACK seen before arrives again.
    Replay(usize),
    /// A made-up ACK: offsets from SND.UNA.
    Junk(i32, Vec<(i32, i32)>),
    /// Time passes (microseconds).
    Wait(u64),
    /// RACK's timer fires at its deadline.
    Timer,
    /// The retransmission timer fires.
    Rto,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..=40).prop_map(Op::Send),
        3 => (1usize..=40).prop_map(Op::Retransmit),
        1 => (0usize..700, 1usize..=60).prop_map(|(o, l)| Op::RetransmitAny(o, l)),
        1 => any::<bool>().prop_map(Op::Probe),
        7 => (0u64..20_000, any::<usize>(), proptest::option::of(0u64..80_000))
            .prop_map(|(d, n, t)| Op::Deliver(d, n, t)),
        2 => any::<usize>().prop_map(Op::Drop),
        2 => any::<usize>().prop_map(Op::Replay),
        1 => (-40i32..700, proptest::collection::vec((-40i32..700, -40i32..700), 0..5))
            .prop_map(|(a, b)| Op::Junk(a, b)),
        4 => (1u64..60_000).prop_map(Op::Wait),
        2 => Just(Op::Timer),
        1 => Just(Op::Rto),
    ]
}

/// The sender under test, its model, and a network with a receiver.
struct World {
    r: Recovery,
    m: Model,
    now: Instant,
    /// Packets in flight, as offsets.
    net: Vec<(usize, usize)>,
    /// Bytes the receiver holds.
    got: Vec<bool>,
    acks: Vec<(Seq, Vec<(Seq, Seq)>)>,
}

impl World {
    fn new(iss: Seq) -> Self {
        World {
            r: Recovery::new(iss),
            m: Model::new(iss),
            now: Instant::from_millis(1),
            net: Vec::new(),
            got: Vec::new(),
            acks: Vec::new(),
        }
    }

    fn transmit(&mut self, start: Seq, end: Seq) {
        self.now = self.now + Duration::from_micros(1);
        self.r.on_transmit(self.now, start, end);
        self.m.transmit(self.now, start, end);
        // What went on the wire, as offsets (a start below SND.UNA is clipped to it).
        let s = self.m.off(start).unwrap_or(self.m.una);
        if let Some(e) = self.m.off(end)
            && s < e
            && self.net.len() < 64
        {
            self.net.push((s, e));
        }
    }

    /// The receiver's ACK after packet `[s, e)` arrived (RFC 2018: the block holding it
    /// first; RFC 2883: a D-SACK for a duplicate).
    fn receive(&mut self, s: usize, e: usize) -> (Seq, Vec<(Seq, Seq)>) {
        if self.got.len() < e {
            self.got.resize(e, false);
        }
        let dup = self.got[s..e].iter().all(|&g| g);
        self.got[s..e].iter_mut().for_each(|g| *g = true);
        let cum = self.got.iter().position(|&g| !g).unwrap_or(self.got.len());
        let mut runs = Vec::new();
        let mut i = cum;
        while i < self.got.len() {
            if self.got[i] {
                let j = (i..self.got.len())
                    .find(|&j| !self.got[j])
                    .unwrap_or(self.got.len());
                runs.push((i, j));
                i = j;
            } else {
                i += 1;
            }
        }
        runs.sort_by_key(|&(a, b)| (!(a <= s && e <= b), std::cmp::Reverse(a)));
        let mut blocks = Vec::new();
        if dup {
            blocks.push((s, e));
        }
        blocks.extend(runs);
        blocks.truncate(4);
        let iss = self.m.iss;
        let blocks = blocks
            .iter()
            .map(|&(a, b)| (iss.add(a), iss.add(b)))
            .collect();
        (iss.add(cum), blocks)
    }

    fn ack(&mut self, ack: Seq, blocks: &[(Seq, Seq)], ts: Option<Duration>) {
        let before = self.r.detections.0;
        let out = self.r.on_ack(self.now, ack, blocks, ts);
        let ran = self.r.detections.0 != before;
        let (expect, advanced) = self.m.ack(self.now, ack, blocks, ts, self.r.detections.1);
        assert_eq!(ran, advanced, "loss detection runs when RACK advances");
        let mut got = out;
        got.reordering = false;
        got.tlp_recovered_loss = false;
        assert_eq!(got, expect, "ACK {ack:?} {blocks:?} ts {ts:?}");
        if self.acks.len() < 32 {
            self.acks.push((ack, blocks.to_vec()));
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Send(n) => {
                if self.m.nxt() - self.m.una < 600 {
                    let nxt = self.m.seq(self.m.nxt());
                    self.transmit(nxt, nxt.add(n));
                }
            }
            Op::Retransmit(n) => {
                if let Some((s, e)) = self.r.next_retransmit() {
                    let e = if e.delta(s) as usize > n { s.add(n) } else { e };
                    self.transmit(s, e);
                }
            }
            Op::RetransmitAny(off, len) => {
                let s = self.m.seq(self.m.una).sub(20).add(off);
                self.transmit(s, s.add(len));
            }
            Op::Probe(new) => {
                let srtt = Some(Duration::from_millis(20));
                if self
                    .r
                    .tlp_deadline(self.now, srtt, Duration::from_secs(1), 2)
                    .is_some()
                {
                    let nxt = self.m.seq(self.m.nxt());
                    let tail = (self.m.nxt() - self.m.una).min(10);
                    let (s, e) = if new {
                        (nxt, nxt.add(10))
                    } else {
                        (nxt.sub(tail), nxt)
                    };
                    self.transmit(s, e);
                    self.r.on_tlp_sent(self.now, s, e, !new);
                    assert!(self.r.tlp_in_progress());
                }
            }
            Op::Deliver(delay, n, ts) => {
                self.now = self.now + Duration::from_micros(delay);
                if !self.net.is_empty() {
                    let (s, e) = self.net.remove(n % self.net.len());
                    let (a, b) = self.receive(s, e);
                    self.ack(a, &b, ts.map(Duration::from_micros));
                }
            }
            Op::Drop(n) => {
                if !self.net.is_empty() {
                    self.net.remove(n % self.net.len());
                }
            }
            Op::Replay(n) => {
                if !self.acks.is_empty() {
                    let (a, b) = self.acks[n % self.acks.len()].clone();
                    self.ack(a, &b, None);
                }
            }
            Op::Junk(a, ref blocks) => {
                let una = self.m.seq(self.m.una);
                let at = |o: i32| Seq(una.0.wrapping_add(o as u32));
                let blocks: Vec<(Seq, Seq)> = blocks.iter().map(|&(x, y)| (at(x), at(y))).collect();
                self.ack(at(a), &blocks, None);
            }
            Op::Wait(us) => self.now = self.now + Duration::from_micros(us),
            Op::Timer => {
                if let Some(d) = self.r.reorder_deadline() {
                    self.now = self.now.max(d);
                }
                let before = self.r.detections.0;
                let marked = self.r.on_reorder_timer(self.now);
                assert_eq!(self.r.detections.0, before + 1);
                assert_eq!(marked, self.m.detect(self.now, self.r.detections.1));
            }
            Op::Rto => {
                self.r.on_rto(self.now);
                self.m.rto(self.now);
            }
        }
    }

    fn compare(&self) {
        let (r, m) = (&self.r, &self.m);
        r.sb.check();
        assert_eq!(r.snd_una(), m.seq(m.una));
        assert_eq!(r.snd_nxt(), m.seq(m.nxt()));
        let out = m.outstanding();
        let count = |f: &dyn Fn(&Byte) -> bool| out.iter().filter(|b| f(b)).count();
        assert_eq!(r.outstanding(), out.len());
        assert_eq!(r.sacked_bytes(), count(&|b| b.sacked));
        assert_eq!(r.lost_bytes(), count(&|b| b.lost_pending()));
        assert_eq!(r.retrans_bytes(), count(&|b| !b.sacked && b.retrans));
        let pipe: usize = out
            .iter()
            .filter(|b| !b.sacked)
            .map(|b| usize::from(!b.lost) + usize::from(b.retrans))
            .sum();
        assert_eq!(r.pipe(), pipe);
        assert!(r.pipe() <= 2 * r.outstanding());
        assert_eq!(r.total_retransmits(), m.retransmits);
        assert_eq!(r.min_rtt(), m.min_rtt);
        assert_eq!(r.rack.seg, m.rack);
        if m.rack.is_some() {
            assert_eq!(r.rack.rtt, m.rack_rtt);
        }
        let first_lost = out.iter().position(|b| b.lost_pending()).map(|i| m.una + i);
        match r.next_retransmit() {
            None => assert_eq!(first_lost, None),
            Some((s, e)) => {
                let (s, e) = (m.off(s).unwrap(), m.off(e).unwrap());
                assert_eq!(Some(s), first_lost);
                assert!(s < e);
                assert!(m.bytes[s..e].iter().all(|b| b.lost_pending()));
            }
        }
        if r.outstanding() == 0 {
            assert_eq!(r.reorder_deadline(), None);
        }
    }
}

fn iss() -> impl Strategy<Value = Seq> {
    prop_oneof![
        (u32::MAX - 1500..=u32::MAX).prop_map(Seq),
        any::<u32>().prop_map(Seq)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn agrees_with_the_byte_model(iss in iss(), ops in proptest::collection::vec(op(), 1..200)) {
        let mut w = World::new(iss);
        for op in &ops {
            w.step(op);
            w.compare();
        }
    }
}
