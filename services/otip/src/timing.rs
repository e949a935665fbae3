//! OTIP time slots and the windows in which `otip_rproxy` takes new sessions on each address.
//!
//! A client computes the slot `t = unix / period` and the address
//! `hashaddr(base, name, password, t)`. The proxy opens the address of slot `t` when
//! `(unix + preactive) / period` becomes `t`, that is at `t·period − preactive`, and takes new
//! sessions on it for `period + preactive + postactive` seconds from then: until
//! `(t+1)·period + postactive`. So consecutive addresses overlap, and a client whose clock is
//! up to `preactive` seconds ahead or `postactive` seconds behind still finds its address
//! taking sessions. Pure arithmetic: time is passed in. Slots are 32-bit, as the original's
//! (`unix / period` fits until the year 2106 with a period of 1 s, far later with 32).

use nlconf::hashaddr::otiptime_at;

/// The OTIP period and slack of `otip_rproxy` (`--otip_period`, `--otip_preactive`,
/// `--otip_postactive`), in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    period: u32,
    preactive: u32,
    postactive: u32,
}

/// The seconds `[start, end)` (Unix time) in which one slot's address takes new sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The first second: `t·period − preactive` (0 if that is before the epoch).
    pub start: u64,
    /// The first second past the window: `(t+1)·period + postactive`.
    pub end: u64,
}

impl Window {
    /// Whether the Unix time `unix` (seconds, any fraction ignored) is inside.
    pub fn contains(&self, unix: u64) -> bool {
        self.start <= unix && unix < self.end
    }
}

impl Default for Timing {
    /// The original's defaults: period 32, 8 s of slack on each side.
    fn default() -> Timing {
        Timing {
            period: 32,
            preactive: 8,
            postactive: 8,
        }
    }
}

impl Timing {
    /// A timing with these values; the period must be at least one second.
    pub fn new(period: u32, preactive: u32, postactive: u32) -> Result<Timing, String> {
        if period == 0 {
            return Err("the OTIP period must be at least 1 second".into());
        }
        Ok(Timing {
            period,
            preactive,
            postactive,
        })
    }

    /// The period, in seconds.
    pub fn period(&self) -> u32 {
        self.period
    }

    /// The seconds an address opens before its slot begins.
    pub fn preactive(&self) -> u32 {
        self.preactive
    }

    /// The seconds an address keeps taking sessions after its slot ends.
    pub fn postactive(&self) -> u32 {
        self.postactive
    }

    /// How long an address takes new sessions: `period + preactive + postactive`.
    pub fn lifetime(&self) -> u64 {
        u64::from(self.period) + u64::from(self.preactive) + u64::from(self.postactive)
    }

    /// The slot a client computes at `unix`: `unix / period` (what `otipaddr` hashes).
    pub fn client_slot(&self, unix: u64) -> u32 {
        otiptime_at(unix, self.period, 0)
    }

    /// The newest slot whose address is open at `unix`: `(unix + preactive) / period`.
    pub fn proxy_slot(&self, unix: u64) -> u32 {
        otiptime_at(unix, self.period, i64::from(self.preactive))
    }

    /// The window in which slot `t`'s address takes new sessions.
    pub fn window(&self, t: u32) -> Window {
        let begin = u64::from(t) * u64::from(self.period);
        Window {
            start: begin.saturating_sub(u64::from(self.preactive)),
            end: begin + u64::from(self.period) + u64::from(self.postactive),
        }
    }

    /// Whether slot `t`'s address takes new sessions at `unix`.
    pub fn accepts(&self, t: u32, unix: u64) -> bool {
        self.window(t).contains(unix)
    }

    /// The slots whose addresses take new sessions at `unix`, oldest first.
    pub fn accepting(&self, unix: u64) -> Vec<u32> {
        // The newest slot always accepts (its window starts at or before `unix` and ends
        // after its successor's start); older ones do while their window lasts, and windows
        // end in slot order, so stop at the first closed one.
        let mut slots = vec![];
        let mut t = Some(self.proxy_slot(unix));
        while let Some(s) = t.filter(|&s| self.accepts(s, unix)) {
            slots.push(s);
            t = s.checked_sub(1);
        }
        slots.reverse();
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_defaults_give_each_address_48_seconds_overlapping_by_16() {
        let t = Timing::default();
        assert_eq!(t.lifetime(), 48);
        // Slot 2 is 64..96 for clients; the proxy opens it at 56 and takes sessions until 104.
        assert_eq!(
            t.window(2),
            Window {
                start: 56,
                end: 104
            }
        );
        assert_eq!(t.proxy_slot(55), 1);
        assert_eq!(t.proxy_slot(56), 2);
        assert!(!t.accepts(2, 55));
        assert!(t.accepts(2, 56));
        assert!(t.accepts(2, 103));
        assert!(!t.accepts(2, 104));
        assert_eq!(t.accepting(60), vec![1, 2]);
        assert_eq!(t.accepting(80), vec![2]);
        assert_eq!(t.accepting(90), vec![2, 3]);
    }

    #[test]
    fn preactive_opens_early_and_postactive_closes_late() {
        // The original swapped the two options; here preactive moves the start only.
        let t = Timing::new(32, 3, 11).unwrap();
        assert_eq!(
            t.window(10),
            Window {
                start: 317,
                end: 363
            }
        );
        assert_eq!(t.proxy_slot(316), 9);
        assert_eq!(t.proxy_slot(317), 10);
    }

    #[test]
    fn a_zero_period_is_refused_and_slot_zero_starts_at_the_epoch() {
        assert!(Timing::new(0, 8, 8).is_err());
        let t = Timing::default();
        assert_eq!(t.window(0), Window { start: 0, end: 40 });
        assert_eq!(t.accepting(0), vec![0]);
    }

    proptest! {
        /// A client whose clock is off by `drift` seconds (ahead up to preactive, behind up to
        /// postactive) finds the address it computes taking sessions.
        #[test]
        fn clients_within_the_slack_are_served(
            period in 1u32..400,
            pre in 0u32..100,
            post in 0u32..100,
            unix in 200u64..4_000_000_000,
            drift_frac in 0.0f64..=1.0,
        ) {
            let t = Timing::new(period, pre, post).unwrap();
            let span = f64::from(pre) + f64::from(post);
            let drift = (drift_frac * span).round() as i64 - i64::from(post);
            let client_time = (unix as i64 + drift) as u64;
            let slot = t.client_slot(client_time);
            prop_assert!(t.accepts(slot, unix), "slot {} at {}", slot, unix);
            prop_assert!(t.accepting(unix).contains(&slot));
        }

        /// The window is exactly `t·period − preactive .. (t+1)·period + postactive`, and an
        /// address opens when the proxy's slot reaches it.
        #[test]
        fn window_arithmetic(
            period in 1u32..400,
            pre in 0u32..100,
            post in 0u32..100,
            slot in 1000u32..100_000_000,
            offset in 0u64..1000,
        ) {
            let t = Timing::new(period, pre, post).unwrap();
            let w = t.window(slot);
            let begin = u64::from(slot) * u64::from(period);
            prop_assert_eq!(w.start, begin - u64::from(pre));
            prop_assert_eq!(w.end, begin + u64::from(period) + u64::from(post));
            prop_assert_eq!(w.end - w.start, t.lifetime());
            prop_assert_eq!(t.proxy_slot(w.start), slot);
            prop_assert!(t.proxy_slot(w.start - 1) < slot);
            let x = w.start + offset;
            prop_assert_eq!(t.accepts(slot, x), x < w.end);
            let accepting = t.accepting(x);
            prop_assert!(accepting.windows(2).all(|p| p[0] + 1 == p[1]));
            for s in slot.saturating_sub(20)..slot + 20 {
                prop_assert_eq!(accepting.contains(&s), t.accepts(s, x));
            }
        }
    }
}
