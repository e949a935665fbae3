//! Reno's congestion avoidance (RFC 5681 3.1 with RFC 3465 2.1 byte counting).
//!
//! The window grows by one MSS each time a full window of bytes has been acknowledged, i.e. by
//! 1 MSS per RTT when the window is used. Its loss response (`ssthresh = max(flight/2, 2 MSS)`)
//! and slow start are in the parent module, shared with CUBIC.
//!
//! Guarantee: the window never shrinks here, and grows by at most one MSS per `cwnd` bytes
//! acknowledged (so by `acked / cwnd` MSS at most, rounded down, for one ACK).

/// Reno's state: the bytes acknowledged in congestion avoidance not yet turned into growth.
///
/// Invariant: `acked < cwnd` after each [`Reno::avoid`] with that `cwnd`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Reno {
    acked: usize,
}

impl Reno {
    /// The window after `acked` more bytes acknowledged in congestion avoidance
    /// (RFC 3465 2.1: when `bytes_acked >= cwnd`, `bytes_acked -= cwnd`, `cwnd += MSS`).
    pub(super) fn avoid(&mut self, cwnd: usize, acked: usize, mss: usize) -> usize {
        let cwnd = cwnd.max(1);
        self.acked = self.acked.saturating_add(acked);
        if self.acked < cwnd {
            return cwnd;
        }
        // One ACK worth several windows (only a huge stretch ACK) grows once per window, without
        // a loop over it.
        let windows = self.acked / cwnd;
        self.acked -= windows * cwnd;
        cwnd.saturating_add(windows.saturating_mul(mss))
    }

    /// Forgets the partial count (a new congestion-avoidance stage begins).
    pub(super) fn restart(&mut self) {
        self.acked = 0;
    }

    /// Rescales the partial count to a new MSS.
    pub(super) fn scale(&mut self, scale: impl Fn(usize) -> usize) {
        self.acked = scale(self.acked);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::sim::*;
    use super::super::{Algorithm, CongestionControl};
    use super::*;
    use crate::time::Instant;
    use proptest::prelude::*;
    use std::time::Duration;

    const MSS: usize = 1448;
    const RTT: Duration = Duration::from_millis(40);

    #[test]
    fn slow_start_doubles_per_rtt() {
        let mut cc = CongestionControl::new(Algorithm::Reno, MSS, 10);
        let mut t = Instant::ZERO;
        for expected in [20, 40, 80, 160, 320] {
            t = round(&mut cc, t, RTT);
            assert_eq!(cc.cwnd(), expected * MSS);
            assert!(cc.in_slow_start());
        }
    }

    #[test]
    fn congestion_avoidance_grows_one_segment_per_rtt() {
        let mut cc = CongestionControl::new(Algorithm::Reno, MSS, 10);
        let t = rounds(&mut cc, Instant::ZERO, RTT, 3);
        assert_eq!(cc.cwnd(), 80 * MSS);
        // Fast recovery halves: ssthresh = 40 MSS, the window after recovery.
        cc.on_congestion_event(t, cc.cwnd());
        assert_eq!(cc.ssthresh(), 40 * MSS);
        cc.on_recovery_exit(t);
        assert_eq!(cc.cwnd(), 40 * MSS);
        let mut t = t;
        for n in 1..=20 {
            t = round(&mut cc, t, RTT);
            assert_eq!(cc.cwnd(), (40 + n) * MSS);
        }
    }

    #[test]
    fn timeout_falls_to_one_segment_and_slow_starts_to_half() {
        let mut cc = CongestionControl::new(Algorithm::Reno, MSS, 10);
        let t = rounds(&mut cc, Instant::ZERO, RTT, 2);
        let flight = cc.cwnd();
        cc.on_rto(t, flight);
        assert_eq!(cc.cwnd(), MSS);
        assert_eq!(cc.ssthresh(), flight / 2);
        let mut t = t;
        for expected in [2, 4, 8, 16, 20, 21] {
            t = round(&mut cc, t, RTT);
            assert_eq!(cc.cwnd(), expected * MSS);
        }
    }

    #[test]
    fn halves_the_flight_not_the_window() {
        let mut cc = CongestionControl::new(Algorithm::Reno, MSS, 10);
        cc.on_congestion_event(Instant::ZERO, 6 * MSS + 2);
        assert_eq!(cc.ssthresh(), 3 * MSS + 1);
    }

    proptest! {
        #[test]
        fn grows_one_mss_per_window_acknowledged(
            cwnd in 1usize..10_000_000, mss in 1usize..10_000,
            acks in proptest::collection::vec(0usize..100_000, 0..100),
        ) {
            let mut r = Reno::default();
            let mut w = cwnd;
            let mut total = 0usize;
            let mut windows = 0usize;
            // The windows acknowledged, each counted against the window of its time.
            let mut credit = 0usize;
            for a in acks {
                let before = w;
                w = r.avoid(w, a, mss);
                prop_assert!(w >= before);
                prop_assert_eq!((w - before) % mss, 0);
                prop_assert!(r.acked < before);
                credit += a;
                while credit >= before && credit > 0 {
                    credit -= before;
                    windows += 1;
                }
                total += a;
            }
            prop_assert_eq!(w, cwnd + windows * mss, "{} bytes acknowledged", total);
        }
    }
}
