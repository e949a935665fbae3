//! Round-trip time estimation and the retransmission timeout (RFC 6298, with Linux's bound).
//!
//! [`RttEstimator`] turns RTT samples into the smoothed RTT, its variation and the
//! retransmission timeout (RTO), and keeps a windowed minimum RTT.
//!
//! Rules applied, by section of RFC 6298:
//! - 2.1: before the first sample the RTO is 1 s (clamped into the configured bounds);
//! - 2.2: the first sample `R` sets `SRTT = R`, `RTTVAR = R/2`;
//! - 2.3: later samples `R'` set `RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|` (with the old SRTT),
//!   then `SRTT = 7/8 SRTT + 1/8 R'` (alpha = 1/8, beta = 1/4);
//! - 2.4 and 2.5: `RTO = SRTT + max(4 RTTVAR, min_rto)`, clamped to `max_rto`. This is Linux's
//!   form of the lower bound: the RFC's 1 s floor (2.4) becomes `min_rto` (200 ms in Linux), and
//!   it bounds the variance term rather than the sum, so the RTO is always at least `min_rto`
//!   *above* SRTT (a LAN gets SRTT + 200 ms, not 200 ms);
//! - 5.5: each expiry of the timer doubles the RTO ("backoff"), never beyond `max_rto`;
//! - 5, the note after 5.7: a new sample collapses the backed-off RTO (the backoff is cleared).
//!
//! Karn's algorithm (RFC 6298 section 3, no samples from retransmitted segments) is the caller's
//! part: the estimator takes every sample it is given.
//!
//! Guarantees: no input panics; arithmetic saturates; `min_rto <= base_rto() <= rto() <= max_rto`
//! at all times; the state is a few words (no allocation, even for the windowed minimum).
//!
//! A sample of zero (possible with a coarse clock or a timestamp echo in the same tick) counts as
//! 1 µs, as Linux counts it: it still says the path is very short, and a zero would make the
//! variation meaningless.

use std::time::Duration;

use crate::time::Instant;

/// The lower bound of the RTO in Linux (`TCP_RTO_MIN`): 200 ms.
pub const DEFAULT_MIN_RTO: Duration = Duration::from_millis(200);
/// The upper bound of the RTO in Linux (`TCP_RTO_MAX`): 120 s.
pub const DEFAULT_MAX_RTO: Duration = Duration::from_secs(120);
/// The RTO before any RTT sample (RFC 6298 2.1): 1 s.
pub const INITIAL_RTO: Duration = Duration::from_secs(1);
/// The window of the minimum RTT (Linux's `tcp_min_rtt_wlen` default): 300 s.
pub const MIN_RTT_WINDOW: Duration = Duration::from_secs(300);

/// The smallest sample counted, in nanoseconds (a zero sample counts as 1 µs).
const MIN_SAMPLE_NS: u64 = 1_000;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Round-trip time estimator and retransmission-timeout calculator (RFC 6298).
///
/// Invariants: `min_rto <= max_rto`; `rttvar` is meaningful only when `srtt` is `Some`.
#[derive(Clone, Debug)]
pub struct RttEstimator {
    /// Lower bound of the variance term of the RTO, in ns.
    min_rto: u64,
    /// Upper bound of the RTO, in ns; never below `min_rto`.
    max_rto: u64,
    /// Smoothed RTT in ns, `None` before the first sample.
    srtt: Option<u64>,
    /// RTT variation in ns.
    rttvar: u64,
    /// The latest sample, in ns.
    latest: Option<u64>,
    /// Timer expirations since the last sample or reset (RFC 6298 5.5).
    backoffs: u32,
    /// Windowed minimum of the samples.
    min_filter: WindowedMin,
}

impl Default for RttEstimator {
    /// An estimator with Linux's bounds (200 ms, 120 s).
    fn default() -> Self {
        RttEstimator::new(DEFAULT_MIN_RTO, DEFAULT_MAX_RTO)
    }
}

impl RttEstimator {
    /// An estimator without samples: RTO = 1 s (RFC 6298 2.1) clamped into `[min_rto, max_rto]`.
    /// A `max_rto` below `min_rto` is raised to `min_rto`.
    pub fn new(min_rto: Duration, max_rto: Duration) -> Self {
        let mut e = RttEstimator {
            min_rto: 0,
            max_rto: 0,
            srtt: None,
            rttvar: 0,
            latest: None,
            backoffs: 0,
            min_filter: WindowedMin::new(MIN_RTT_WINDOW),
        };
        e.set_bounds(min_rto, max_rto);
        e
    }

    /// Changes the RTO bounds (a `max_rto` below `min_rto` is raised to `min_rto`); the
    /// estimates are kept and the RTO follows the new bounds at once.
    pub fn set_bounds(&mut self, min_rto: Duration, max_rto: Duration) {
        self.min_rto = nanos(min_rto);
        self.max_rto = nanos(max_rto).max(self.min_rto);
    }

    /// Takes one RTT sample measured at `now` (RFC 6298 2.2 and 2.3); clears the backoff
    /// (RFC 6298 section 5, note after 5.7). A zero sample counts as 1 µs.
    pub fn sample(&mut self, now: Instant, rtt: Duration) {
        let r = nanos(rtt).max(MIN_SAMPLE_NS);
        match self.srtt {
            None => {
                // RFC 6298 2.2.
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                // RFC 6298 2.3: RTTVAR first, with the old SRTT; each term is divided before it
                // is added, so nothing overflows.
                let err = srtt.abs_diff(r);
                self.rttvar = self.rttvar - self.rttvar / 4 + err / 4;
                self.srtt = Some(srtt - srtt / 8 + r / 8);
            }
        }
        self.latest = Some(r);
        self.backoffs = 0;
        self.min_filter.update(now, r);
    }

    /// The RTO without backoff: `SRTT + max(4 RTTVAR, min_rto)` clamped to `max_rto`, or 1 s
    /// clamped into the bounds before the first sample.
    pub fn base_rto(&self) -> Duration {
        let ns = match self.srtt {
            None => nanos(INITIAL_RTO).clamp(self.min_rto, self.max_rto),
            Some(srtt) => srtt
                .saturating_add(self.rttvar.saturating_mul(4).max(self.min_rto))
                .min(self.max_rto),
        };
        Duration::from_nanos(ns)
    }

    /// The RTO with the exponential backoff of RFC 6298 5.5 (doubled per expiry since the last
    /// sample), never above `max_rto`.
    pub fn rto(&self) -> Duration {
        let base = nanos(self.base_rto());
        let factor = 1u64 << self.backoffs.min(63);
        Duration::from_nanos(base.saturating_mul(factor).min(self.max_rto))
    }

    /// Records one expiry of the retransmission timer: the RTO doubles (RFC 6298 5.5).
    pub fn on_timeout(&mut self) {
        self.backoffs = self.backoffs.saturating_add(1);
    }

    /// Timer expirations since the last sample or [`reset_backoff`](Self::reset_backoff).
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }

    /// Clears the backoff (the RTO returns to [`base_rto`](Self::base_rto)), e.g. when new data is
    /// acknowledged without a usable sample.
    pub fn reset_backoff(&mut self) {
        self.backoffs = 0;
    }

    /// The smoothed RTT, `None` before the first sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt.map(Duration::from_nanos)
    }

    /// The RTT variation, `None` before the first sample.
    pub fn rttvar(&self) -> Option<Duration> {
        self.srtt.map(|_| Duration::from_nanos(self.rttvar))
    }

    /// The latest sample (a zero sample reads as 1 µs), `None` before the first.
    pub fn latest(&self) -> Option<Duration> {
        self.latest.map(Duration::from_nanos)
    }

    /// The minimum RTT over the last 300 s ([`MIN_RTT_WINDOW`]), `None` before the first sample.
    ///
    /// The window moves when samples arrive: the value is a sample taken at most 300 s before the
    /// latest one, no larger than the latest one, and the smallest of the last 300 s up to the
    /// approximation of the three-sample windowed filter (it may report a slightly larger value
    /// once the true minimum has aged out, never one older than the window).
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_filter.get().map(Duration::from_nanos)
    }
}

/// One sample kept by [`WindowedMin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Kept {
    at: Instant,
    value: u64,
}

/// Windowed minimum with three kept samples (Kathleen Nichols' algorithm): the best, and the
/// best of the later sub-windows, so that when the best ages out a good successor is ready.
///
/// Invariants once a sample has been taken: `best.value <= second.value <= third.value` and
/// `best.at <= second.at <= third.at` (for a clock that does not run backwards); after an update
/// at `t`, `t - best.at <= window`.
#[derive(Clone, Debug)]
struct WindowedMin {
    window: Duration,
    /// `None` before the first sample.
    kept: Option<[Kept; 3]>,
}

impl WindowedMin {
    fn new(window: Duration) -> Self {
        WindowedMin { window, kept: None }
    }

    fn get(&self) -> Option<u64> {
        self.kept.map(|[best, _, _]| best.value)
    }

    fn update(&mut self, at: Instant, value: u64) {
        let new = Kept { at, value };
        let Some([mut best, mut second, mut third]) = self.kept else {
            self.kept = Some([new; 3]);
            return;
        };
        if value <= best.value || at.since(third.at) > self.window {
            // A new minimum, or all three kept samples too old: start again from this one.
            self.kept = Some([new; 3]);
            return;
        }
        // The new sample replaces the kept ones it beats (they would never be the minimum again).
        if value <= second.value {
            second = new;
            third = new;
        } else if value <= third.value {
            third = new;
        }
        let age = at.since(best.at);
        if age > self.window {
            // The best aged out: promote the successors (twice if the second aged out too; the
            // third cannot have, as checked above).
            best = second;
            second = third;
            third = new;
            if at.since(best.at) > self.window {
                best = second;
                second = third;
            }
        } else if second == best && age > self.window / 4 {
            // A quarter of the window without a second choice: take this sample as one.
            second = new;
            third = new;
        } else if third == second && age > self.window / 2 {
            third = new;
        }
        self.kept = Some([best, second, third]);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn before_any_sample_the_rto_is_one_second_clamped() {
        let e = RttEstimator::default();
        assert_eq!(e.rto(), Duration::from_secs(1));
        assert_eq!(e.srtt(), None);
        assert_eq!(e.rttvar(), None);
        assert_eq!(e.latest(), None);
        assert_eq!(e.min_rtt(), None);
        let e = RttEstimator::new(Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(e.rto(), Duration::from_secs(2));
        let e = RttEstimator::new(MS, Duration::from_millis(500));
        assert_eq!(e.rto(), Duration::from_millis(500));
    }

    #[test]
    fn rfc6298_arithmetic_with_exact_numbers() {
        let mut e = RttEstimator::default();
        // 2.2: SRTT = 100, RTTVAR = 50; RTO = 100 + max(200, 200) = 300 ms.
        e.sample(at(0), 100 * MS);
        assert_eq!(e.srtt(), Some(100 * MS));
        assert_eq!(e.rttvar(), Some(50 * MS));
        assert_eq!(e.rto(), 300 * MS);
        // 2.3: RTTVAR = 3/4 50 + 1/4 |100 - 200| = 62.5; SRTT = 7/8 100 + 1/8 200 = 112.5;
        // RTO = 112.5 + max(250, 200) = 362.5 ms.
        e.sample(at(100), 200 * MS);
        assert_eq!(e.rttvar(), Some(Duration::from_micros(62_500)));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
        assert_eq!(e.latest(), Some(200 * MS));
        // RTTVAR = 3/4 62.5 + 1/4 |112.5 - 40| = 46.875 + 18.125 = 65;
        // SRTT = 7/8 112.5 + 1/8 40 = 98.4375 + 5 = 103.4375; RTO = 103.4375 + 260.
        e.sample(at(200), 40 * MS);
        assert_eq!(e.rttvar(), Some(65 * MS));
        assert_eq!(
            e.srtt(),
            Some(Duration::from_micros(103_437) + Duration::from_nanos(500))
        );
        assert_eq!(
            e.rto(),
            Duration::from_micros(363_437) + Duration::from_nanos(500)
        );
        assert_eq!(e.min_rtt(), Some(40 * MS));
    }

    #[test]
    fn min_rto_bounds_the_variance_term_above_srtt() {
        let mut e = RttEstimator::default();
        // A steady 1 ms LAN: RTTVAR decays towards 0, the RTO towards SRTT + 200 ms.
        for i in 0..200 {
            e.sample(at(i), MS);
        }
        assert_eq!(e.srtt(), Some(MS));
        assert!(e.rttvar().unwrap() < Duration::from_micros(1));
        assert_eq!(e.rto(), 201 * MS);
        // A zero sample counts as 1 µs.
        let mut e = RttEstimator::default();
        e.sample(at(0), Duration::ZERO);
        assert_eq!(e.latest(), Some(Duration::from_micros(1)));
        assert_eq!(e.rto(), Duration::from_micros(200_001));
    }

    #[test]
    fn max_rto_clamps_the_base_rto() {
        let mut e = RttEstimator::new(DEFAULT_MIN_RTO, Duration::from_secs(3));
        e.sample(at(0), Duration::from_secs(10));
        assert_eq!(e.base_rto(), Duration::from_secs(3));
        e.set_bounds(DEFAULT_MIN_RTO, Duration::from_secs(60));
        assert_eq!(e.base_rto(), Duration::from_secs(30));
        // An empty range is made non-empty by raising the maximum.
        e.set_bounds(Duration::from_secs(90), Duration::from_secs(1));
        assert_eq!(e.base_rto(), Duration::from_secs(90));
        assert_eq!(e.rto(), Duration::from_secs(90));
    }

    #[test]
    fn backoff_doubles_clamps_and_is_cleared_by_a_sample() {
        let mut e = RttEstimator::new(DEFAULT_MIN_RTO, Duration::from_secs(60));
        e.sample(at(0), 100 * MS);
        assert_eq!(e.rto(), 300 * MS);
        e.on_timeout();
        assert_eq!(e.rto(), 600 * MS);
        e.on_timeout();
        assert_eq!(e.rto(), 1200 * MS);
        assert_eq!(e.backoffs(), 2);
        assert_eq!(e.base_rto(), 300 * MS);
        for _ in 0..100 {
            e.on_timeout();
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
        e.reset_backoff();
        assert_eq!(e.rto(), 300 * MS);
        e.on_timeout();
        e.sample(at(1000), 100 * MS);
        assert_eq!(e.backoffs(), 0);
        assert_eq!(e.rto(), e.base_rto());
    }

    #[test]
    fn min_rtt_expires_after_300_seconds() {
        let mut e = RttEstimator::default();
        e.sample(at(0), 10 * MS);
        for s in 1..=300 {
            e.sample(at(s * 1000), 50 * MS);
            assert_eq!(e.min_rtt(), Some(10 * MS), "at {s} s");
        }
        e.sample(at(300_001), 50 * MS);
        assert_eq!(e.min_rtt(), Some(50 * MS));
        // A new minimum is taken at once.
        e.sample(at(300_002), 5 * MS);
        assert_eq!(e.min_rtt(), Some(5 * MS));
    }

    #[test]
    fn min_rtt_falls_back_to_the_best_of_the_later_subwindows() {
        let mut e = RttEstimator::default();
        e.sample(at(0), 10 * MS);
        // 20 ms at 100 s (second choice), 30 ms afterwards.
        e.sample(at(100_000), 20 * MS);
        for s in 101..=350 {
            e.sample(at(s * 1000), 30 * MS);
        }
        // At 350 s the 10 ms sample has aged out; the 20 ms one (250 s old) has not.
        assert_eq!(e.min_rtt(), Some(20 * MS));
        for s in 351..=401 {
            e.sample(at(s * 1000), 30 * MS);
        }
        assert_eq!(e.min_rtt(), Some(30 * MS));
    }

    proptest! {
        #[test]
        fn rto_stays_within_bounds(
            samples in proptest::collection::vec((0u64..10_000_000, 0u64..u64::MAX / 2), 1..60),
            min_ms in 0u64..2_000, max_ms in 0u64..200_000, timeouts in 0u32..80,
        ) {
            let (min_rto, max_rto) = (Duration::from_millis(min_ms), Duration::from_millis(max_ms));
            let mut e = RttEstimator::new(min_rto, max_rto);
            let mut now = 0u64;
            for (gap, rtt_us) in samples {
                now = now.saturating_add(gap);
                e.sample(Instant::from_micros(now), Duration::from_micros(rtt_us));
                prop_assert!(e.base_rto() >= min_rto);
                prop_assert!(e.base_rto() >= e.srtt().unwrap().min(max_rto.max(min_rto)));
            }
            for _ in 0..timeouts {
                let before = e.rto();
                e.on_timeout();
                prop_assert!(e.rto() >= before);
                prop_assert!(e.rto() <= max_rto.max(min_rto));
            }
            prop_assert!(e.rto() >= e.base_rto());
        }

        #[test]
        fn min_rtt_is_a_recent_sample_no_larger_than_the_latest(
            samples in proptest::collection::vec((0u64..200_000, 1u64..1_000), 1..200),
        ) {
            let mut e = RttEstimator::default();
            let mut history: Vec<(u64, u64)> = Vec::new();
            let mut now = 0u64;
            for (gap_ms, rtt_ms) in samples {
                now += gap_ms;
                e.sample(at(now), Duration::from_millis(rtt_ms));
                history.push((now, rtt_ms));
                let min = e.min_rtt().unwrap();
                prop_assert!(min <= Duration::from_millis(rtt_ms));
                let window: Vec<u64> = history
                    .iter()
                    .filter(|(t, _)| now - t <= 300_000)
                    .map(|(_, r)| *r)
                    .collect();
                prop_assert!(window.iter().any(|r| Duration::from_millis(*r) == min), "min {min:?} not a recent sample");
                let true_min = window.iter().min().copied().unwrap();
                prop_assert!(min >= Duration::from_millis(true_min));
            }
        }
    }
}
