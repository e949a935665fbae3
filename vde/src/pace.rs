//! Pacing of things that repeat: rate-limited logging. Pure logic over
//! `Instant`s the caller passes, so it is tested without waiting.

use std::time::{Duration, Instant};

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
