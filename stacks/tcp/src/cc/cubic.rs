//! CUBIC's congestion avoidance and loss response (RFC 9438).
//!
//! Windows here are in segments (`f64`), as in the RFC; the parent module converts from and to
//! bytes. Rules applied, by section of RFC 9438:
//! - 4.2: `W_cubic(t) = C (t - K)^3 + W_max` with `C = 0.4`, `K = cbrt((W_max - cwnd_epoch) / C)`,
//!   `t` the time since the congestion-avoidance stage (epoch) began; the target is
//!   `W_cubic(t + RTT)` clamped into `[cwnd, 1.5 cwnd]`, and each ACK of `n` segments adds
//!   `(target - cwnd) n / cwnd`;
//! - 4.3: the Reno-friendly estimate `W_est` starts at `cwnd_epoch` and gains
//!   `alpha n / cwnd` per ACK, `alpha = 3 (1 - beta) / (1 + beta)` until `W_est` reaches the
//!   window before the last reduction (`cwnd_prior`), 1 after; when `W_cubic(t) < W_est` the
//!   window is `W_est`;
//! - 4.4 and 4.5: the concave (below `W_max`) and convex (above) regions both follow 4.2;
//! - 4.6: `ssthresh = flight * beta` with `beta = 0.7` (in the parent module);
//! - 4.7: fast convergence: a loss below the previous `W_max` sets `W_max = cwnd (1 + beta) / 2`;
//! - 4.8: after a timeout `W_max` is forgotten; the next stage starts with `W_max` = its starting
//!   window and `K = 0`.
//!
//! The epoch starts at the first window-limited ACK of a congestion-avoidance stage, as in
//! Linux, so time without ACKs before it does not count.
//!
//! Guarantees: the window returned never shrinks; an ACK of `n` bytes grows it by at most
//! `n/2 + n MSS / cwnd` bytes (the 1.5 clamp, or `W_est`'s 1 MSS per window) plus one MSS (the
//! most `W_est` can lead the window by when it takes over); no NaN reaches the window (every
//! divisor is positive, results are checked for finiteness).

use std::time::Duration;

use crate::time::Instant;

/// RFC 9438 4.2: the constant C, in segments per second cubed.
const C: f64 = 0.4;
/// RFC 9438 4.6: the multiplicative decrease factor.
const BETA: f64 = 0.7;
/// RFC 9438 4.3: Reno-friendly additive increase, `3 (1 - beta) / (1 + beta)`.
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// `bytes * beta_cubic` (0.7), in integers, rounded down.
pub(super) fn beta_times(bytes: usize) -> usize {
    usize::try_from(bytes as u128 * 7 / 10).unwrap_or(usize::MAX)
}

/// CUBIC's state between congestion events.
///
/// Invariants: `w_max`, `cwnd_prior` are finite and non-negative.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Cubic {
    /// W_max, in segments; `None` before the first loss and after a timeout (RFC 9438 4.8).
    w_max: Option<f64>,
    /// The window before the last reduction, in segments (RFC 9438 4.3's `cwnd_prior`).
    cwnd_prior: f64,
    /// The current congestion-avoidance stage, `None` until its first ACK.
    epoch: Option<Epoch>,
}

/// One congestion-avoidance stage ("epoch").
///
/// Invariants: `k >= 0`, `origin >= cwnd_epoch`, `0 <= carry < 1`, all finite.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Epoch {
    /// When the stage began (`t_epoch`).
    start: Instant,
    /// K, in seconds.
    k: f64,
    /// The W_max of this stage's curve, in segments (at least the window at its start).
    origin: f64,
    /// The Reno-friendly estimate W_est, in segments.
    w_est: f64,
    /// Growth in bytes below one byte, kept for the next ACK.
    carry: f64,
}

impl Epoch {
    /// `W_cubic(t)` in segments, `t` in seconds since the start of the stage.
    fn w_cubic(&self, t: f64) -> f64 {
        C * (t - self.k).powi(3) + self.origin
    }
}

impl Cubic {
    /// A loss episode begins with the window at `cwnd` bytes: records W_max, with fast
    /// convergence (RFC 9438 4.7), and `cwnd_prior`; the next stage will start a new epoch.
    pub(super) fn on_congestion(&mut self, cwnd: usize, mss: usize) {
        let w = cwnd as f64 / mss.max(1) as f64;
        self.w_max = Some(match self.w_max {
            Some(previous) if w < previous => w * (1.0 + BETA) / 2.0,
            _ => w,
        });
        self.cwnd_prior = w;
        self.epoch = None;
    }

    /// A retransmission timeout with the window at `cwnd` bytes (RFC 9438 4.8): W_max is
    /// forgotten and the epoch restarts; `cwnd_prior` is the window at the timeout when the
    /// timeout reduced `ssthresh` (`reduced`).
    pub(super) fn on_timeout(&mut self, cwnd: usize, mss: usize, reduced: bool) {
        if reduced {
            self.cwnd_prior = cwnd as f64 / mss.max(1) as f64;
        }
        self.w_max = None;
        self.epoch = None;
    }

    /// The next congestion-avoidance ACK starts a new epoch.
    pub(super) fn restart_epoch(&mut self) {
        self.epoch = None;
    }

    /// The window, in bytes, after an ACK of `acked` bytes in congestion avoidance at `now`, the
    /// window being `cwnd` bytes and the smoothed RTT `rtt` (RFC 9438 4.2 to 4.5).
    pub(super) fn avoid(
        &mut self,
        now: Instant,
        cwnd: usize,
        acked: usize,
        rtt: Duration,
        mss: usize,
    ) -> usize {
        let mss_f = mss.max(1) as f64;
        let cw = cwnd.max(1) as f64 / mss_f;
        let mut e = match self.epoch {
            Some(e) => e,
            None => {
                // RFC 9438 4.8: without a W_max (after a timeout), the stage's starting window.
                let w_max = *self.w_max.get_or_insert(cw);
                Epoch {
                    start: now,
                    k: if w_max > cw {
                        ((w_max - cw) / C).cbrt()
                    } else {
                        0.0
                    },
                    origin: w_max.max(cw),
                    w_est: cw,
                    carry: 0.0,
                }
            }
        };
        let t = now.since(e.start).as_secs_f64();
        let acked_seg = acked as f64 / mss_f;
        // 4.2: the window one RTT from now, within [cwnd, 1.5 cwnd].
        let target = e.w_cubic(t + rtt.as_secs_f64()).clamp(cw, 1.5 * cw);
        // 4.3: Reno's window over the same time.
        let alpha = if e.w_est >= self.cwnd_prior {
            1.0
        } else {
            ALPHA
        };
        e.w_est += alpha * acked_seg / cw;
        let next = if e.w_cubic(t) < e.w_est {
            e.w_est.max(cw)
        } else {
            cw + (target - cw) * acked_seg / cw
        };
        let growth = (next - cw) * mss_f + e.carry;
        let whole = if growth.is_finite() && growth > 0.0 {
            growth.floor()
        } else {
            0.0
        };
        e.carry = if growth.is_finite() {
            (growth - whole).clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.epoch = Some(e);
        // `as` saturates for values beyond usize; `whole` is finite and non-negative.
        cwnd.saturating_add(whole as usize)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::sim::*;
    use super::super::{Algorithm, CongestionControl, Controller};
    use super::*;
    use proptest::prelude::*;

    const MSS: usize = 1448;

    fn cubic(cc: &CongestionControl) -> &Cubic {
        match &cc.controller {
            Controller::Cubic(c) => c,
            Controller::Reno(_) => unreachable!("a CUBIC window"),
        }
    }

    fn segments(cc: &CongestionControl) -> f64 {
        cc.cwnd() as f64 / MSS as f64
    }

    /// Runs rounds until the window reaches `w` segments; returns the elapsed time in seconds.
    fn time_to_reach(cc: &mut CongestionControl, t: Instant, rtt: Duration, w: f64) -> f64 {
        let mut now = t;
        while segments(cc) < w {
            now = round(cc, now, rtt);
            assert!(now.since(t) < Duration::from_secs(60), "never reached {w}");
        }
        now.since(t).as_secs_f64()
    }

    #[test]
    fn after_a_loss_concave_back_to_w_max_at_k_then_convex() {
        let rtt = Duration::from_millis(100);
        let mut cc = CongestionControl::new(Algorithm::Cubic, MSS, 100);
        let t0 = Instant::from_millis(1000);
        loss(&mut cc, t0);
        assert_eq!(cc.cwnd(), 70 * MSS, "0.7 W_max");
        assert_eq!(cc.ssthresh(), 70 * MSS);
        let k = (100.0_f64 * (1.0 - BETA) / C).cbrt();
        // Concave: the growth per round shrinks as the window nears W_max.
        let mut now = t0;
        let mut last_growth = f64::INFINITY;
        while now.since(t0).as_secs_f64() < k - 0.5 {
            let before = segments(&cc);
            now = round(&mut cc, now, rtt);
            let growth = segments(&cc) - before;
            assert!(
                growth <= last_growth + 0.05,
                "concave: {growth} after {last_growth}"
            );
            assert!(segments(&cc) < 100.0);
            last_growth = growth;
        }
        let reached = now.since(t0).as_secs_f64() + time_to_reach(&mut cc, now, rtt, 100.0);
        assert!(
            (reached - k).abs() <= 0.1 * k,
            "W_max at {reached} s, K = {k} s"
        );
        // Convex: growth per round increases beyond W_max, following W_cubic.
        let mut now = t0 + Duration::from_secs_f64(reached);
        let mut growths = Vec::new();
        while now.since(t0).as_secs_f64() < k + 4.0 {
            let before = segments(&cc);
            now = round(&mut cc, now, rtt);
            growths.push(segments(&cc) - before);
        }
        let n = growths.len();
        assert!(
            growths[n - 1] > 4.0 * growths[n / 4].max(0.1),
            "convex: {growths:?}"
        );
        let t = now.since(t0).as_secs_f64();
        let expected = C * (t - k).powi(3) + 100.0;
        assert!(
            (segments(&cc) - expected).abs() < 0.05 * expected,
            "{} vs {expected}",
            segments(&cc)
        );
    }

    #[test]
    fn fast_convergence_lowers_w_max_when_losses_come_before_it() {
        // A large window, so that CUBIC's curve and not the Reno-friendly estimate leads.
        let rtt = Duration::from_millis(100);
        let mut cc = CongestionControl::new(Algorithm::Cubic, MSS, 300);
        let t0 = Instant::ZERO;
        loss(&mut cc, t0);
        assert_eq!(cubic(&cc).w_max, Some(300.0));
        let t1 = rounds(&mut cc, t0, rtt, 10);
        let w = segments(&cc);
        assert!(w > 240.0 && w < 260.0, "{w}");
        loss(&mut cc, t1);
        let w_max = cubic(&cc).w_max.unwrap();
        assert!(
            (w_max - w * (1.0 + BETA) / 2.0).abs() < 1e-9,
            "{w_max} for a loss at {w}"
        );
        // The new plateau is the lowered W_max, reached at its K.
        let k = ((w_max - segments(&cc)) / C).cbrt();
        let reached = time_to_reach(&mut cc, t1, rtt, w_max - 1e-6);
        assert!(
            (reached - k).abs() <= 0.1 * k,
            "plateau at {reached} s, K = {k} s"
        );
        // A loss beyond W_max records the window itself.
        let t2 = rounds(&mut cc, t1 + Duration::from_secs_f64(reached), rtt, 30);
        let w = segments(&cc);
        assert!(w > w_max);
        loss(&mut cc, t2);
        assert_eq!(cubic(&cc).w_max, Some(w));
    }

    #[test]
    fn reno_friendly_region_at_small_rtt_and_window() {
        let rtt = Duration::from_millis(1);
        let mut cc = CongestionControl::new(Algorithm::Cubic, MSS, 20);
        let mut reno = CongestionControl::new(Algorithm::Reno, MSS, 20);
        loss(&mut cc, Instant::ZERO);
        loss(&mut reno, Instant::ZERO);
        assert_eq!(cc.cwnd(), 14 * MSS);
        let t = rounds(&mut cc, Instant::ZERO, rtt, 50);
        rounds(&mut reno, Instant::ZERO, rtt, 50);
        // W_cubic alone would still be below 15 segments (K = 2.47 s, t = 50 ms)...
        let k = (6.0_f64 / C).cbrt();
        let secs = t.since(Instant::ZERO).as_secs_f64();
        assert!(C * (secs - k).powi(3) + 20.0 < 15.0);
        // ... but W_est grew by alpha per RTT to cwnd_prior (20, after 11.3 RTTs), then by 1
        // per RTT: 58.7 segments, Reno's rate (Reno: 10 + 50 = 60).
        let w = segments(&cc);
        assert!((56.0..=60.0).contains(&w), "{w}");
        assert_eq!(reno.cwnd(), 60 * MSS);
    }

    #[test]
    fn after_a_timeout_growth_is_convex_from_the_start() {
        let rtt = Duration::from_millis(200);
        let mut cc = CongestionControl::new(Algorithm::Cubic, MSS, 100);
        cc.on_rto(Instant::ZERO, 100 * MSS);
        assert_eq!(cc.cwnd(), MSS);
        assert_eq!(cubic(&cc).w_max, None);
        // Slow start to ssthresh (70 segments); the first congestion-avoidance ACK starts the
        // epoch with K = 0 and W_max = the window then (RFC 9438 4.8).
        let mut t = Instant::ZERO;
        while cubic(&cc).epoch.is_none() {
            t = round(&mut cc, t, rtt);
        }
        let e = cubic(&cc).epoch.unwrap();
        assert_eq!(e.k, 0.0);
        assert_eq!(e.origin, 70.0);
        assert_eq!(cubic(&cc).w_max, Some(70.0));
        // Growth accelerates: W_cubic(t) = 70 + 0.4 t^3.
        let t = rounds(&mut cc, t, rtt, 5);
        let first_second = segments(&cc) - 70.0;
        let t = rounds(&mut cc, t, rtt, 15);
        let before = segments(&cc);
        let t = rounds(&mut cc, t, rtt, 5);
        assert!(segments(&cc) - before > 3.0 * first_second);
        let secs = t.since(e.start).as_secs_f64();
        let expected = 70.0 + C * secs.powi(3);
        assert!(
            (segments(&cc) - expected).abs() < 0.05 * expected,
            "{} vs {expected}",
            segments(&cc)
        );
    }

    #[test]
    fn target_is_capped_at_one_and_a_half_windows_per_rtt() {
        let rtt = Duration::from_millis(100);
        let mut cc = CongestionControl::new(Algorithm::Cubic, MSS, 10);
        loss(&mut cc, Instant::ZERO);
        let t = round(&mut cc, Instant::ZERO, rtt);
        let w = segments(&cc);
        // A minute later (the window unused in between), W_cubic is far ahead.
        round(&mut cc, t + Duration::from_secs(60), rtt);
        let grown = segments(&cc) / w;
        assert!(grown > 1.4 && grown <= 1.5 + 1.0 / w, "{grown}");
    }

    #[test]
    fn idle_restart_restarts_the_epoch() {
        let rtt = Duration::from_millis(100);
        let run = |restart: bool| {
            let mut cc = CongestionControl::new(Algorithm::Cubic, MSS, 10);
            loss(&mut cc, Instant::ZERO);
            let t = round(&mut cc, Instant::ZERO, rtt);
            let t = t + Duration::from_secs(20);
            if restart {
                cc.on_idle_restart(t);
                assert!(cubic(&cc).epoch.is_none());
                assert!(!cc.in_slow_start());
            }
            let before = segments(&cc);
            round(&mut cc, t, rtt);
            segments(&cc) - before
        };
        let without = run(false);
        let with = run(true);
        assert!(without > 3.0, "{without}");
        assert!(with < 1.0, "{with}");
    }

    proptest! {
        #[test]
        fn never_shrinks_and_grows_at_most_half_a_window_per_window(
            w_max_seg in 0.0f64..10_000.0,
            prior in 0.0f64..10_000.0,
            cwnd in 1usize..100_000_000,
            mss in 1usize..10_000,
            acks in proptest::collection::vec((0usize..1_000_000, 0u64..10_000_000), 1..50),
            rtt_us in 0u64..10_000_000,
        ) {
            let mut c = Cubic { w_max: Some(w_max_seg), cwnd_prior: prior, epoch: None };
            let mut w = cwnd;
            let mut now = Instant::ZERO;
            for (acked, gap) in acks {
                now = now + Duration::from_micros(gap);
                let next = c.avoid(now, w, acked, Duration::from_micros(rtt_us), mss);
                prop_assert!(next >= w);
                // The 1.5 clamp (and W_est's at most 1 MSS per window, and its lead of less
                // than one MSS when it takes over) bound the growth.
                let bound = (w as f64 * 0.5 + mss as f64) * acked as f64 / w as f64
                    + mss as f64
                    + 1.0;
                prop_assert!(((next - w) as f64) <= bound, "{} -> {}", w, next);
                let e = c.epoch.unwrap();
                prop_assert!(e.carry >= 0.0 && e.carry < 1.0 && e.k >= 0.0);
                w = next;
            }
        }
    }
}
