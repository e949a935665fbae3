//! When advertisements go: RFC 4861 §6.2.4 (unsolicited) and §6.2.6 (solicited), as a pure
//! state machine. Time is passed in (any clock, e.g. Unix time); nothing here sleeps.
//!
//! - **Unsolicited** multicast advertisements go to all nodes at start, then at intervals
//!   drawn uniformly from [MinRtrAdvInterval, MaxRtrAdvInterval]; the first
//!   [`MAX_INITIAL_RTR_ADVERTISEMENTS`] intervals are at most
//!   [`MAX_INITIAL_RTR_ADVERT_INTERVAL`]. A period of 0 (the original's "answer solicitations
//!   only") sends none.
//! - **Solicited** answers are unicast to a soliciting host that has an address, as RFC 7772
//!   §5.1 recommends and RFC 4861 §6.2.6 allows: the answer wakes only that host, and a
//!   host's repeated solicitations do not drag every other host along. Each waits a random
//!   delay of up to [`MAX_RA_DELAY_TIME`]; one host is answered at most once every
//!   [`MIN_DELAY_BETWEEN_RAS`] (solicitations meanwhile are coalesced into the pending
//!   answer); a multicast advertisement due before the answer makes it unnecessary.
//! - Solicitations from the unspecified address (a host without an address yet), and any
//!   solicitations while [`MAX_PENDING_UNICAST`] answers are already pending (a storm, or a
//!   link full of hosts booting together), get one multicast answer, delayed by up to
//!   [`MAX_RA_DELAY_TIME`] from the first of them, never sooner than
//!   [`MIN_DELAY_BETWEEN_RAS`] after the previous multicast advertisement, and not later than
//!   the next unsolicited one; it restarts the interval timer, as §6.2.6 says.
//! - A clock that steps backwards moves every pending time back with it, so a stepped wall
//!   clock delays nothing by the size of the step.

use std::net::Ipv6Addr;
use std::time::Duration;

/// RFC 4861 §10: the cap on the first unsolicited intervals.
pub const MAX_INITIAL_RTR_ADVERT_INTERVAL: Duration = Duration::from_secs(16);
/// RFC 4861 §10: how many of the first advertisements have capped intervals.
pub const MAX_INITIAL_RTR_ADVERTISEMENTS: u32 = 3;
/// RFC 4861 §10: the least time between two multicast advertisements sent in answer to
/// solicitations (and here also between two answers to one host).
pub const MIN_DELAY_BETWEEN_RAS: Duration = Duration::from_secs(3);
/// RFC 4861 §10: the longest random delay before an answer to a solicitation.
pub const MAX_RA_DELAY_TIME: Duration = Duration::from_millis(500);
/// Pending unicast answers beyond which solicitations are answered by one multicast
/// advertisement.
pub const MAX_PENDING_UNICAST: usize = 8;
/// The least MaxRtrAdvInterval RFC 4861 §6.2.1 allows.
pub const MIN_PERIOD: u32 = 4;
/// The greatest MaxRtrAdvInterval RFC 4861 §6.2.1 allows.
pub const MAX_PERIOD: u32 = 1800;

/// The unsolicited interval, RFC 4861 §6.2.1's MaxRtrAdvInterval and MinRtrAdvInterval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// MaxRtrAdvInterval; `None`: no unsolicited advertisements.
    pub max_interval: Option<Duration>,
    /// MinRtrAdvInterval.
    pub min_interval: Duration,
}

impl Timing {
    /// The timing for a period (MaxRtrAdvInterval) of `secs` seconds, 0 meaning no
    /// unsolicited advertisements: MinRtrAdvInterval is a third of it from 9 s on (RFC 4861's
    /// default), else three quarters (the largest it may be; the RFC's own "equal to
    /// MaxRtrAdvInterval" contradicts its 0.75 bound), and never below the 3 s §6.2.1
    /// requires (a third of 9 s is 2.97 s), so that no two multicast advertisements are
    /// closer than [`MIN_DELAY_BETWEEN_RAS`].
    pub fn from_period(secs: u32) -> Timing {
        if secs == 0 {
            return Timing {
                max_interval: None,
                min_interval: Duration::ZERO,
            };
        }
        let max = Duration::from_secs(u64::from(secs));
        let min = if secs >= 9 {
            max.mul_f64(0.33)
        } else {
            max.mul_f64(0.75)
        }
        .max(MIN_DELAY_BETWEEN_RAS);
        Timing {
            max_interval: Some(max),
            min_interval: min,
        }
    }
}

/// Where an advertisement goes, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Send {
    /// To all nodes (ff02::1); `solicited` when it answers solicitations.
    AllNodes {
        /// Whether it answers solicitations rather than the interval timer.
        solicited: bool,
    },
    /// To one soliciting host.
    Unicast(Ipv6Addr),
}

/// The advertisement timers of one interface.
#[derive(Debug)]
pub struct Scheduler {
    timing: Timing,
    rng: fastrand::Rng,
    /// When the interval timer fires (None: no unsolicited advertisements).
    periodic: Option<Duration>,
    /// Multicast advertisements sent so far (the first few have capped intervals).
    multicasts: u32,
    last_multicast: Option<Duration>,
    /// A multicast answer to solicitations, when due.
    solicited: Option<Duration>,
    /// Unicast answers: host, when due.
    pending: Vec<(Ipv6Addr, Duration)>,
    /// Hosts answered lately: host, when (kept for MIN_DELAY_BETWEEN_RAS).
    answered: Vec<(Ipv6Addr, Duration)>,
    /// The latest time seen (to notice a clock stepping back).
    seen: Duration,
}

impl Scheduler {
    /// Timers for an interface that starts advertising at `now`: with a period, the first
    /// unsolicited advertisement is due at once. `seed` seeds the jitter.
    pub fn new(timing: Timing, now: Duration, seed: u64) -> Scheduler {
        Scheduler {
            timing,
            rng: fastrand::Rng::with_seed(seed),
            periodic: timing.max_interval.map(|_| now),
            multicasts: 0,
            last_multicast: None,
            solicited: None,
            pending: Vec::new(),
            answered: Vec::new(),
            seen: now,
        }
    }

    /// Notes a valid solicitation from `source` (the unspecified address for a host without
    /// one) received at `now`.
    pub fn solicit(&mut self, now: Duration, source: Ipv6Addr) {
        self.observe(now);
        if self.solicited.is_some() {
            // A multicast answer is coming: it answers this one too.
            return;
        }
        if source.is_unspecified() || self.pending.len() >= MAX_PENDING_UNICAST {
            self.schedule_multicast(now);
            return;
        }
        if self.pending.iter().any(|(h, _)| *h == source) {
            return;
        }
        let mut due = now + self.delay();
        if let Some(&(_, at)) = self.answered.iter().find(|(h, _)| *h == source) {
            due = due.max(at + MIN_DELAY_BETWEEN_RAS);
        }
        if self.periodic.is_some_and(|p| p <= due) {
            // The next unsolicited advertisement reaches the host first.
            return;
        }
        self.pending.push((source, due));
    }

    /// A multicast answer to solicitations, the first of which arrived at `first`.
    fn schedule_multicast(&mut self, first: Duration) {
        let delay = self.delay();
        let mut due = first + delay;
        if let Some(last) = self.last_multicast
            && due < last + MIN_DELAY_BETWEEN_RAS
        {
            due = last + MIN_DELAY_BETWEEN_RAS + delay;
        }
        if let Some(p) = self.periodic
            && p <= due
        {
            // The already-scheduled advertisement answers, at its time.
            self.pending.clear();
            return;
        }
        self.solicited = Some(due);
        // The multicast answer reaches the hosts waiting for a unicast one.
        self.pending.clear();
    }

    /// When [`Scheduler::poll`] next has something to send.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.periodic
            .into_iter()
            .chain(self.solicited)
            .chain(self.pending.iter().map(|&(_, t)| t))
            .min()
    }

    /// The advertisements due at `now`, at most one multicast. The caller sends them now.
    pub fn poll(&mut self, now: Duration) -> Vec<Send> {
        self.observe(now);
        let mut out = Vec::new();
        let periodic = self.periodic.is_some_and(|p| p <= now);
        let solicited = self.solicited.is_some_and(|s| s <= now);
        if periodic || solicited {
            out.push(Send::AllNodes {
                solicited: solicited && !periodic,
            });
            self.multicasts = self.multicasts.saturating_add(1);
            self.last_multicast = Some(now);
            self.solicited = None;
            // Every host waiting for an answer hears this one.
            self.pending.clear();
            if self.periodic.is_some() {
                self.periodic = Some(now + self.interval());
            }
        }
        self.answered
            .retain(|&(_, at)| now < at + MIN_DELAY_BETWEEN_RAS);
        let mut i = 0;
        while i < self.pending.len() {
            let (host, due) = self.pending[i];
            if due <= now {
                self.pending.swap_remove(i);
                out.push(Send::Unicast(host));
                self.answered.retain(|(h, _)| *h != host);
                self.answered.push((host, now));
            } else {
                i += 1;
            }
        }
        out
    }

    /// A random delay in [0, MAX_RA_DELAY_TIME].
    fn delay(&mut self) -> Duration {
        let max = MAX_RA_DELAY_TIME.as_micros() as u64;
        Duration::from_micros(self.rng.u64(0..=max))
    }

    /// The next unsolicited interval, capped for the first few.
    fn interval(&mut self) -> Duration {
        let Some(max) = self.timing.max_interval else {
            return Duration::MAX;
        };
        let min = self.timing.min_interval.min(max);
        let span = (max - min).as_micros() as u64;
        let mut d = min + Duration::from_micros(self.rng.u64(0..=span));
        // `multicasts` counts the advertisement just sent: the intervals after the first
        // MAX_INITIAL_RTR_ADVERTISEMENTS advertisements are capped.
        if self.multicasts <= MAX_INITIAL_RTR_ADVERTISEMENTS {
            d = d.min(MAX_INITIAL_RTR_ADVERT_INTERVAL);
        }
        d
    }

    /// Takes `now` in; a clock that went back moves every pending time back as far.
    fn observe(&mut self, now: Duration) {
        if now < self.seen {
            let back = self.seen - now;
            let shift = |t: &mut Duration| *t = t.saturating_sub(back);
            if let Some(p) = self.periodic.as_mut() {
                shift(p);
            }
            if let Some(s) = self.solicited.as_mut() {
                shift(s);
            }
            if let Some(l) = self.last_multicast.as_mut() {
                shift(l);
            }
            for (_, t) in self.pending.iter_mut().chain(self.answered.iter_mut()) {
                shift(t);
            }
        }
        self.seen = now;
    }
}
