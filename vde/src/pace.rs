//! Pacing of things that repeat: retry back-off and rate-limited logging. Pure logic over
//! `Instant`s the caller passes, so it is tested without waiting.

use std::time::{Duration, Instant};

/// Exponential back-off: `min`, then doubled at each failure, never above `max`.
#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    cur: Duration,
}

impl Backoff {
    /// A back-off starting at `min` and capped at `max` (`max` is raised to `min` if lower).
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            cur: min,
        }
    }

    /// The wait before the next attempt; each call doubles the following one, up to `max`.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.cur;
        self.cur = (self.cur * 2).min(self.max);
        d
    }

    /// Back to `min` (after a success).
    pub(crate) fn reset(&mut self) {
        self.cur = self.min;
    }
}

/// At most one event per `period`; the ones in between are counted, not lost.
#[derive(Clone, Debug)]
pub(crate) struct RateLimit {
    period: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    /// One event per `period`.
    pub(crate) const fn new(period: Duration) -> RateLimit {
        RateLimit {
            period,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(n)` if an event at `now` may be reported, `n` being how many were suppressed
    /// since the last one reported; `None` (and one more suppressed) otherwise.
    pub(crate) fn check(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.period => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// `" (N similar messages suppressed)"`, or nothing for 0: the tail of a rate-limited line.
pub(crate) fn suppressed(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} similar messages suppressed)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(2000));
        let got: Vec<Duration> = (0..7).map(|_| b.next_delay()).collect();
        assert_eq!(
            got,
            vec![
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1600),
                ms(2000),
                ms(2000)
            ]
        );
        b.reset();
        assert_eq!(b.next_delay(), ms(100));
        let mut odd = Backoff::new(ms(300), ms(10));
        assert_eq!((odd.next_delay(), odd.next_delay()), (ms(300), ms(300)));
    }

    #[test]
    fn rate_limit_lets_one_per_period_and_counts_the_rest() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut r = RateLimit::new(Duration::from_secs(1));
        assert_eq!(r.check(at(0)), Some(0));
        for i in 1..=5 {
            assert_eq!(r.check(at(i * 100)), None);
        }
        assert_eq!(r.check(at(999)), None);
        assert_eq!(r.check(at(1000)), Some(6), "six were held back");
        assert_eq!(r.check(at(1500)), None);
        assert_eq!(r.check(at(5000)), Some(1));
        assert_eq!(r.check(at(7000)), Some(0));
        assert_eq!(suppressed(0), "");
        assert_eq!(suppressed(6), " (6 similar messages suppressed)");
    }
}
