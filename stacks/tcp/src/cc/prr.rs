//! Proportional Rate Reduction (RFC 6937): how much may be sent on each ACK during fast
//! recovery, so that the data in flight falls smoothly from the flight at the loss to `ssthresh`
//! and ends the recovery close to it.
//!
//! RFC 6937 section 3, on every ACK during recovery:
//! - `prr_delivered += DeliveredData` (bytes newly acknowledged or SACKed by the ACK);
//! - while `pipe > ssthresh` (proportional part): `sndcnt = CEIL(prr_delivered * ssthresh /
//!   RecoverFS) - prr_out`, so that the sender sends `ssthresh / RecoverFS` of what is delivered;
//! - once `pipe <= ssthresh` (reduction bound): `sndcnt = MIN(ssthresh - pipe, limit)` with the
//!   slow-start reduction bound PRR-SSRB `limit = MAX(prr_delivered - prr_out, DeliveredData) +
//!   MSS`, which the RFC recommends, or the conservative PRR-CRB `limit = prr_delivered -
//!   prr_out` ([`ReductionBound`]);
//! - `prr_out` counts every byte sent (new or retransmitted) during recovery.
//!
//! Two details follow Linux (which counts in packets) and RFC 6937's examples (which count in
//! segments): the proportional share is rounded up to a whole MSS, so that a sender of full
//! segments sends on the ACK that brings its share past a segment, not one ACK later; and while
//! nothing has been sent in the recovery, at least one MSS is allowed, so the fast retransmit
//! always goes out (as RFC 6937's successor, RFC 9937, also says).
//!
//! Guarantees: no input panics (saturating arithmetic, 128-bit products, a zero `RecoverFS` or
//! MSS counts as 1); an inactive `Prr` allows nothing; no allocation.

/// Which reduction bound applies once `pipe` has fallen to `ssthresh` (RFC 6937 3.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ReductionBound {
    /// PRR-SSRB: up to one MSS more than delivered per ACK (slow start back to `ssthresh`); the
    /// RFC's recommendation.
    #[default]
    SlowStart,
    /// PRR-CRB: no more than delivered (packet conservation); Linux uses it for ACKs that do not
    /// advance `snd.una` or that reveal new losses.
    Conservative,
}

/// The state of PRR over one recovery episode.
///
/// Invariant: when `active`, `recover_fs >= 1`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prr {
    active: bool,
    ssthresh: usize,
    /// RecoverFS: the flight when the episode began, in bytes.
    recover_fs: usize,
    /// prr_delivered: bytes delivered to the receiver during the episode.
    delivered: usize,
    /// prr_out: bytes sent during the episode.
    out: usize,
}

impl Prr {
    /// An inactive PRR (no recovery under way).
    pub fn new() -> Self {
        Prr::default()
    }

    /// Begins an episode (RFC 6937 section 3, "on entering recovery"): the window is to fall to
    /// `ssthresh` from `recover_fs`, the bytes in flight when the loss was detected (0 counts as
    /// 1). The ACK that detected the loss is then passed to [`on_ack`](Prr::on_ack) like the
    /// following ones.
    pub fn start(&mut self, ssthresh: usize, recover_fs: usize) {
        *self = Prr {
            active: true,
            ssthresh,
            recover_fs: recover_fs.max(1),
            delivered: 0,
            out: 0,
        };
    }

    /// An ACK during recovery delivered `delivered` bytes (newly acknowledged plus newly SACKed),
    /// leaving `pipe` bytes in flight (RFC 6675's pipe): returns `sndcnt`, the bytes that may be
    /// sent in response (the window is `pipe + sndcnt`), with the PRR-SSRB bound. 0 when inactive.
    pub fn on_ack(&mut self, delivered: usize, pipe: usize, mss: usize) -> usize {
        self.on_ack_with_bound(delivered, pipe, mss, ReductionBound::SlowStart)
    }

    /// [`on_ack`](Prr::on_ack) with the reduction bound chosen by the caller (e.g. PRR-CRB for
    /// an ACK that did not advance `snd.una`, as Linux and RFC 9937 do).
    pub fn on_ack_with_bound(
        &mut self,
        delivered: usize,
        pipe: usize,
        mss: usize,
        bound: ReductionBound,
    ) -> usize {
        if !self.active {
            return 0;
        }
        let mss = mss.max(1);
        self.delivered = self.delivered.saturating_add(delivered);
        let sndcnt = if pipe > self.ssthresh {
            // Proportional part, rounded up to whole segments.
            let share = self.delivered as u128 * self.ssthresh as u128;
            let segment_scale = self.recover_fs as u128 * mss as u128;
            let allowed = share.div_ceil(segment_scale) * mss as u128;
            usize::try_from(allowed)
                .unwrap_or(usize::MAX)
                .saturating_sub(self.out)
        } else {
            let owed = self.delivered.saturating_sub(self.out);
            let limit = match bound {
                ReductionBound::SlowStart => owed.max(delivered).saturating_add(mss),
                ReductionBound::Conservative => owed,
            };
            (self.ssthresh - pipe).min(limit)
        };
        if self.out == 0 {
            // The fast retransmit always goes out.
            sndcnt.max(mss)
        } else {
            sndcnt
        }
    }

    /// Records `bytes` sent (new data or retransmissions) during the episode (`prr_out`).
    pub fn on_sent(&mut self, bytes: usize) {
        if self.active {
            self.out = self.out.saturating_add(bytes);
        }
    }

    /// Whether an episode is under way (between [`start`](Prr::start) and
    /// [`finish`](Prr::finish)).
    pub fn active(&self) -> bool {
        self.active
    }

    /// Ends the episode; [`on_ack`](Prr::on_ack) allows nothing until the next start.
    pub fn finish(&mut self) {
        self.active = false;
    }

    /// prr_delivered: bytes delivered since the episode began.
    pub fn delivered(&self) -> usize {
        self.delivered
    }

    /// prr_out: bytes sent since the episode began.
    pub fn sent(&self) -> usize {
        self.out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    const MSS: usize = 1000;

    /// One ACK of an example: `(pipe after the ACK, segments PRR allows)`, in segments.
    fn step(prr: &mut Prr, pipe: &mut usize, bound: ReductionBound) -> (usize, usize) {
        *pipe -= 1;
        let sndcnt = prr.on_ack_with_bound(MSS, *pipe * MSS, MSS, bound);
        let segments = sndcnt / MSS;
        prr.on_sent(segments * MSS);
        let before = *pipe;
        *pipe += segments;
        (before, segments)
    }

    /// RFC 6937 section 6, single loss: 20 segments in flight (cwnd = FlightSize = pipe = 20),
    /// the first lost, ssthresh = 10, RecoverFS = 20; the first two duplicate ACKs send new
    /// segments by Limited Transmit (RFC 3042), the third starts recovery.
    #[test]
    fn rfc6937_example_single_loss() {
        let mut prr = Prr::new();
        let mut pipe = 20;
        // ACKs 1 and 2 (before recovery): one segment SACKed, one sent by Limited Transmit.
        assert_eq!(prr.on_ack(MSS, 19 * MSS, MSS), 0, "inactive");
        prr.on_sent(MSS);
        assert_eq!(prr.sent(), 0);
        // ACK 3: one more SACKed, and the lost segment leaves the pipe (RFC 6675 IsLost): 18.
        pipe -= 1;
        prr.start(10 * MSS, 20 * MSS);
        assert!(prr.active());
        let mut seen = vec![step(&mut prr, &mut pipe, ReductionBound::SlowStart)];
        // ACKs 4 to 19.
        for _ in 4..=19 {
            seen.push(step(&mut prr, &mut pipe, ReductionBound::SlowStart));
        }
        // PRR: the retransmission on ACK 3 (ceil(1 * 10/20) = 1), then one new segment on every
        // other ACK (ceil(k/2) allowed after k delivered), the pipe falling by one segment every
        // two ACKs until it reaches ssthresh on ACK 19, where the reduction bound allows nothing
        // more.
        let expected = [
            (18, 1),
            (18, 0),
            (17, 1),
            (17, 0),
            (16, 1),
            (16, 0),
            (15, 1),
            (15, 0),
            (14, 1),
            (14, 0),
            (13, 1),
            (13, 0),
            (12, 1),
            (12, 0),
            (11, 1),
            (11, 0),
            (10, 0),
        ];
        assert_eq!(seen, expected);
        assert_eq!((prr.delivered(), prr.sent()), (17 * MSS, 8 * MSS));
        // The ACKs of the two Limited Transmit segments: the pipe stays at ssthresh.
        assert_eq!(step(&mut prr, &mut pipe, ReductionBound::SlowStart), (9, 1));
        assert_eq!(step(&mut prr, &mut pipe, ReductionBound::SlowStart), (9, 1));
        assert_eq!(pipe, 10);
        prr.finish();
        assert_eq!(prr.on_ack(MSS, 0, MSS), 0);
    }

    /// RFC 6937 section 6, a burst of 15 losses out of 20: the pipe falls to 4 on the third
    /// duplicate ACK, below ssthresh; PRR-SSRB sends two segments per ACK (one more than
    /// delivered) until the pipe is back at ssthresh, then one per ACK.
    #[test]
    fn rfc6937_example_fifteen_losses() {
        let mut prr = Prr::new();
        // Segments 16 to 20 arrive: ACKs 1 and 2 send by Limited Transmit, ACK 3 marks the 15
        // lost: pipe = the 2 survivors not yet acknowledged + the 2 new segments.
        let mut pipe = 5;
        prr.start(10 * MSS, 20 * MSS);
        let seen: Vec<_> = (0..8)
            .map(|_| step(&mut prr, &mut pipe, ReductionBound::SlowStart))
            .collect();
        assert_eq!(
            seen,
            [
                (4, 2),
                (5, 2),
                (6, 2),
                (7, 2),
                (8, 2),
                (9, 1),
                (9, 1),
                (9, 1)
            ]
        );
        // The conservative bound sends only what is delivered: the pipe stays where it fell.
        let mut prr = Prr::new();
        let mut pipe = 5;
        prr.start(10 * MSS, 20 * MSS);
        let seen: Vec<_> = (0..4)
            .map(|_| step(&mut prr, &mut pipe, ReductionBound::Conservative))
            .collect();
        assert_eq!(seen, [(4, 1), (4, 1), (4, 1), (4, 1)]);
    }

    #[test]
    fn start_resets_a_previous_episode() {
        let mut prr = Prr::new();
        prr.start(5 * MSS, 10 * MSS);
        prr.on_ack(3 * MSS, 8 * MSS, MSS);
        prr.on_sent(2 * MSS);
        prr.start(5 * MSS, 10 * MSS);
        assert_eq!((prr.delivered(), prr.sent()), (0, 0));
        // Degenerate inputs do not panic.
        prr.start(usize::MAX, 0);
        assert_eq!(prr.on_ack(usize::MAX, usize::MAX - 1, 0), 1);
        prr.on_sent(usize::MAX);
        prr.on_sent(usize::MAX);
        assert_eq!(prr.on_ack(usize::MAX, 0, usize::MAX), usize::MAX);
    }

    /// A recovery episode on a simulated path: `flight` segments outstanding, those marked in
    /// `lost` lost (known at once); every segment sent afterwards arrives; the sender has
    /// unlimited data and sends whole segments, retransmissions first.
    struct Episode {
        mss: usize,
        ssthresh: usize,
        recover_fs: usize,
        /// Per ACK: (pipe before sending, bytes sent, prr_delivered, prr_out after sending).
        acks: Vec<(usize, usize, usize, usize)>,
        /// The pipe when the last original segment was acknowledged (the end of recovery).
        end_pipe: usize,
    }

    fn run(flight: usize, lost: &[bool], ssthresh_segments: usize, mss: usize) -> Episode {
        #[derive(Clone, Copy)]
        enum Seg {
            Original,
            New,
        }
        let ssthresh = ssthresh_segments * mss;
        let recover_fs = flight * mss;
        let mut prr = Prr::new();
        prr.start(ssthresh, recover_fs);
        let mut arrivals: VecDeque<Seg> = VecDeque::new();
        let mut to_retransmit = 0usize;
        for &l in lost.iter().take(flight) {
            if l {
                to_retransmit += 1;
            } else {
                arrivals.push_back(Seg::Original);
            }
        }
        let mut originals_left = flight;
        let mut pipe = arrivals.len() * mss;
        let mut acks = Vec::new();
        while let Some(seg) = arrivals.pop_front() {
            pipe -= mss;
            if let Seg::Original = seg {
                originals_left -= 1;
                if originals_left == 0 {
                    break;
                }
            }
            let sndcnt = prr.on_ack(mss, pipe, mss);
            let segments = sndcnt / mss;
            for _ in 0..segments {
                if to_retransmit > 0 {
                    to_retransmit -= 1;
                    arrivals.push_back(Seg::Original);
                } else {
                    arrivals.push_back(Seg::New);
                }
            }
            prr.on_sent(segments * mss);
            acks.push((pipe, segments * mss, prr.delivered(), prr.sent()));
            pipe += segments * mss;
        }
        assert_eq!(originals_left, 0, "recovery stalled");
        Episode {
            mss,
            ssthresh,
            recover_fs,
            acks,
            end_pipe: pipe,
        }
    }

    proptest! {
        #[test]
        fn prr_sends_what_delivery_allows_and_ends_near_ssthresh(
            flight in 4usize..200,
            lost in proptest::collection::vec(proptest::bool::weighted(0.15), 200),
            reno in any::<bool>(),
            mss in 100usize..9000,
        ) {
            let mut lost = lost;
            // At least one loss, and at least one survivor to ACK.
            lost[flight / 2] = true;
            lost[flight - 1] = false;
            let ssthresh = if reno { flight / 2 } else { flight * 7 / 10 }.max(2);
            let e = run(flight, &lost, ssthresh, mss);
            let lost_count = lost.iter().take(flight).filter(|l| **l).count();
            for &(pipe, sent, delivered, out) in &e.acks {
                if pipe > e.ssthresh {
                    // Proportional part: no more than ssthresh/RecoverFS of what was delivered,
                    // rounded up to a segment (or the fast retransmit).
                    let share = (delivered * e.ssthresh).div_ceil(e.recover_fs * e.mss) * e.mss;
                    prop_assert!(out <= share.max(e.mss), "{out} > {share}");
                } else if out > sent {
                    // Reduction bound (after the fast retransmit, which always goes): never past
                    // ssthresh, at most one MSS beyond delivered.
                    prop_assert!(pipe + sent <= e.ssthresh);
                    prop_assert!(sent <= delivered.saturating_sub(out - sent).max(e.mss) + e.mss);
                }
            }
            prop_assert!(e.end_pipe <= e.ssthresh + e.mss, "{} > {}", e.end_pipe, e.ssthresh);
            // With few losses, the episode ends with the pipe at ssthresh (to a segment).
            if lost_count * 4 <= flight {
                prop_assert!(e.end_pipe + 2 * e.mss >= e.ssthresh,
                    "{} lost of {}: pipe {} at the end, ssthresh {}",
                    lost_count, flight, e.end_pipe / e.mss, e.ssthresh / e.mss);
            }
        }
    }
}
