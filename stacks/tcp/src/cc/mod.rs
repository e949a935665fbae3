//! Congestion control: CUBIC (RFC 9438, the default) and Reno (RFC 5681), with Proportional
//! Rate Reduction (RFC 6937) for the window during fast recovery.
//!
//! [`CongestionControl`] owns the congestion window (`cwnd`) and the slow-start threshold
//! (`ssthresh`), in bytes, and changes them on the events the connection reports: newly
//! acknowledged bytes, the start and end of a loss episode, a retransmission timeout, a
//! spurious episode (undo), a restart after idle. During fast recovery the window is driven by
//! [`Prr`], which the connection runs and whose decisions it passes back with
//! [`CongestionControl::set_cwnd`].
//!
//! Rules applied:
//! - slow start, RFC 5681 3.1 with RFC 3465 byte counting: `cwnd += min(acked, L)` per ACK with
//!   `L = 2 MSS` (RFC 3465 2.2), never past `ssthresh`; the rest of an ACK that crosses
//!   `ssthresh` is counted in congestion avoidance;
//! - congestion avoidance: Reno's `+1 MSS per cwnd of bytes acknowledged` (RFC 5681 3.1,
//!   RFC 3465 2.1), see `reno`; CUBIC's window function (RFC 9438 4.2 to 4.5), see `cubic`;
//! - no growth when the sender did not fill its window (RFC 7661's idea, Linux's
//!   `tcp_is_cwnd_limited`): the connection says so with `cwnd_limited`;
//! - a loss episode (RFC 5681 3.2 step 2, RFC 9438 4.6 and 4.7): `ssthresh = max(flight * beta,
//!   2 MSS)` with beta = 1/2 (Reno) or 0.7 (CUBIC); the window is then PRR's until the episode
//!   ends, and becomes `ssthresh` when it does (RFC 6937 section 3);
//! - a retransmission timeout (RFC 5681 3.1 equation 4 and the paragraph after it, RFC 9438
//!   4.8): `ssthresh` as above unless the episode already reduced it, `cwnd = 1 MSS`;
//! - undo (RFC 3708's detection, Linux's response): the state saved at the start of the episode
//!   comes back;
//! - restart after idle (RFC 5681 4.1, Linux's `tcp_slow_start_after_idle`): `cwnd = min(cwnd,
//!   IW)`, `ssthresh` raised to at least 3/4 of the old window (as Linux does), CUBIC's epoch
//!   restarts.
//!
//! Guarantees: no input panics (arithmetic saturates, divisions have non-zero divisors, float
//! results are clamped before conversion); `mss <= cwnd <= MAX_CWND` (1 GiB, the largest TCP
//! window); `ssthresh >= 2 MSS` once set (`usize::MAX` before the first congestion event);
//! no allocation.

mod cubic;
mod prr;
mod reno;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::time::Instant;

pub use prr::{Prr, ReductionBound};

/// The largest window, in bytes: 2^30, the most a scaled TCP window can offer (RFC 7323 2.3).
const MAX_CWND: usize = 1 << 30;
/// RFC 3465 2.2: at most `L = 2 MSS` of growth per ACK in slow start.
const ABC_LIMIT_SEGMENTS: usize = 2;

/// A congestion-control algorithm.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Algorithm {
    /// CUBIC, RFC 9438 (Linux's default).
    #[default]
    Cubic,
    /// Reno, RFC 5681 (NewReno's window rules).
    Reno,
}

impl Algorithm {
    /// The name Linux gives it (`"cubic"`, `"reno"`), which [`FromStr`] accepts back.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Cubic => "cubic",
            Algorithm::Reno => "reno",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing an [`Algorithm`] from a name it does not have.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnknownAlgorithm(pub String);

impl fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown congestion control algorithm {:?} (known: \"cubic\", \"reno\")",
            self.0
        )
    }
}

impl std::error::Error for UnknownAlgorithm {}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Accepts the names of [`Algorithm::name`], in any ASCII case, around spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        [Algorithm::Cubic, Algorithm::Reno]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownAlgorithm(name.to_owned()))
    }
}

/// The state of the algorithm itself (growth in congestion avoidance, window on loss).
#[derive(Clone, Debug, PartialEq)]
enum Controller {
    Reno(reno::Reno),
    Cubic(cubic::Cubic),
}

/// Where the connection stands with respect to loss episodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No episode: the window grows on ACKs.
    Open,
    /// Fast recovery: the window is PRR's ([`CongestionControl::set_cwnd`]), no growth.
    FastRecovery,
    /// After a retransmission timeout: slow start from 1 MSS, `ssthresh` already reduced.
    Timeout,
}

/// What [`CongestionControl::undo`] restores.
#[derive(Clone, Debug, PartialEq)]
struct Saved {
    cwnd: usize,
    ssthresh: usize,
    controller: Controller,
}

/// The congestion window of one connection, with its algorithm.
///
/// Invariants: `1 <= mss`; `mss <= cwnd <= MAX_CWND`; `ssthresh == usize::MAX` or
/// `ssthresh >= 2 * mss` as computed at its last reduction (a later [`set_mss`] scales it).
///
/// [`set_mss`]: CongestionControl::set_mss
#[derive(Clone, Debug)]
pub struct CongestionControl {
    algorithm: Algorithm,
    mss: usize,
    /// The initial window in segments (RFC 6928), at least 1.
    initial_window: usize,
    cwnd: usize,
    ssthresh: usize,
    controller: Controller,
    phase: Phase,
    /// The state before the last episode began, until used or replaced.
    saved: Option<Saved>,
}

impl CongestionControl {
    /// A window of `initial_window` segments of `mss` bytes (RFC 6928: the engine passes 10),
    /// `ssthresh` unset (`usize::MAX`). An `mss` or `initial_window` of 0 counts as 1.
    pub fn new(algorithm: Algorithm, mss: usize, initial_window: usize) -> Self {
        let mss = mss.max(1);
        let initial_window = initial_window.max(1);
        CongestionControl {
            algorithm,
            mss,
            initial_window,
            cwnd: initial_window.saturating_mul(mss).clamp(mss, MAX_CWND),
            ssthresh: usize::MAX,
            controller: match algorithm {
                Algorithm::Reno => Controller::Reno(reno::Reno::default()),
                Algorithm::Cubic => Controller::Cubic(cubic::Cubic::default()),
            },
            phase: Phase::Open,
            saved: None,
        }
    }

    /// The algorithm chosen at creation.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The segment size the window is counted in.
    pub fn mss(&self) -> usize {
        self.mss
    }

    /// Changes the segment size (0 counts as 1). The window keeps its size *in segments*, as in
    /// Linux whose windows count packets: an MSS learnt after the window was created gives the
    /// full initial window of the real segments, a smaller path MTU a window of as many smaller
    /// segments. `cwnd`, `ssthresh` (unless unset) and the state saved for undo are scaled.
    pub fn set_mss(&mut self, mss: usize) {
        let new = mss.max(1);
        let old = self.mss;
        if new == old {
            return;
        }
        let scale = |bytes: usize| -> usize {
            if bytes == usize::MAX {
                return bytes;
            }
            let scaled = bytes as u128 * new as u128 / old as u128;
            usize::try_from(scaled).unwrap_or(usize::MAX)
        };
        self.mss = new;
        self.cwnd = scale(self.cwnd).clamp(new, MAX_CWND);
        self.ssthresh = scale(self.ssthresh);
        if let Controller::Reno(r) = &mut self.controller {
            r.scale(scale);
        }
        if let Some(saved) = &mut self.saved {
            saved.cwnd = scale(saved.cwnd).clamp(new, MAX_CWND);
            saved.ssthresh = scale(saved.ssthresh);
            if let Controller::Reno(r) = &mut saved.controller {
                r.scale(scale);
            }
        }
    }

    /// The congestion window in bytes: `mss <= cwnd() <= 2^30`.
    pub fn cwnd(&self) -> usize {
        self.cwnd
    }

    /// The slow-start threshold in bytes; `usize::MAX` until the first congestion event.
    pub fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    /// Whether the window is below `ssthresh` (RFC 5681 3.1: slow start).
    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// Whether a fast-recovery episode is under way (from [`on_congestion_event`] to
    /// [`on_recovery_exit`], [`on_rto`] or [`undo`]): the window is PRR's and does not grow.
    ///
    /// [`on_congestion_event`]: CongestionControl::on_congestion_event
    /// [`on_recovery_exit`]: CongestionControl::on_recovery_exit
    /// [`on_rto`]: CongestionControl::on_rto
    /// [`undo`]: CongestionControl::undo
    pub fn in_recovery(&self) -> bool {
        self.phase == Phase::FastRecovery
    }

    /// Whether [`undo`](CongestionControl::undo) has a saved state to restore.
    pub fn can_undo(&self) -> bool {
        self.saved.is_some()
    }

    /// Grows the window for `acked` newly acknowledged bytes, outside fast recovery and only when
    /// the sender was limited by the window (`cwnd_limited`).
    ///
    /// Below `ssthresh` (slow start, RFC 5681 3.1 / RFC 3465 2.2): `cwnd += min(acked, 2 MSS)`,
    /// stopping at `ssthresh`; the part of `acked` beyond `ssthresh` goes to congestion
    /// avoidance: Reno +1 MSS per window acknowledged, CUBIC the window function of RFC 9438 4,
    /// for which `rtt` is the smoothed RTT (RFC 9438 4.2's `RTT`; `min_rtt` stands in when it is
    /// `None`, 0 when both are).
    pub fn on_ack(
        &mut self,
        now: Instant,
        acked: usize,
        rtt: Option<Duration>,
        min_rtt: Option<Duration>,
        cwnd_limited: bool,
    ) {
        if acked == 0 || !cwnd_limited || self.phase == Phase::FastRecovery {
            return;
        }
        let mut acked = acked;
        if self.cwnd < self.ssthresh {
            let used = acked.min(self.ssthresh - self.cwnd);
            let growth = used.min(ABC_LIMIT_SEGMENTS.saturating_mul(self.mss));
            self.cwnd = self.cwnd.saturating_add(growth).min(MAX_CWND);
            acked -= used;
            if acked == 0 || self.cwnd < self.ssthresh {
                return;
            }
        }
        let rtt = rtt.or(min_rtt).unwrap_or(Duration::ZERO);
        let cwnd = match &mut self.controller {
            Controller::Reno(r) => r.avoid(self.cwnd, acked, self.mss),
            Controller::Cubic(c) => c.avoid(now, self.cwnd, acked, rtt, self.mss),
        };
        self.cwnd = cwnd.clamp(self.mss, MAX_CWND);
    }

    /// `ssthresh` after a loss with `flight` bytes outstanding: `max(flight * beta, 2 MSS)`.
    fn reduced_ssthresh(&self, flight: usize) -> usize {
        let reduced = match self.algorithm {
            Algorithm::Reno => flight / 2,
            Algorithm::Cubic => cubic::beta_times(flight),
        };
        reduced.max(self.mss.saturating_mul(2))
    }

    fn save(&self) -> Saved {
        Saved {
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            controller: self.controller.clone(),
        }
    }

    /// A loss episode starts (fast recovery, RFC 5681 3.2 / RFC 6675 5): `ssthresh =
    /// max(flight * beta, 2 MSS)` (beta 1/2 for Reno, 0.7 for CUBIC, which also records W_max
    /// with fast convergence, RFC 9438 4.6 and 4.7). The window is left to PRR until the episode
    /// ends; the state before is saved for [`undo`](CongestionControl::undo). Each call starts a
    /// new episode (the connection calls it once per episode).
    pub fn on_congestion_event(&mut self, _now: Instant, flight: usize) {
        self.saved = Some(self.save());
        self.ssthresh = self.reduced_ssthresh(flight);
        match &mut self.controller {
            Controller::Reno(r) => r.restart(),
            Controller::Cubic(c) => c.on_congestion(self.cwnd, self.mss),
        }
        self.phase = Phase::FastRecovery;
    }

    /// The episode ends. After fast recovery the window becomes `ssthresh` (RFC 6937 section 3:
    /// the window after recovery) and CUBIC's epoch restarts; after a timeout the window keeps
    /// the size slow start gave it. No effect outside an episode.
    pub fn on_recovery_exit(&mut self, _now: Instant) {
        match self.phase {
            Phase::Open => return,
            Phase::FastRecovery => {
                self.cwnd = self.ssthresh.clamp(self.mss, MAX_CWND);
                self.restart_epoch();
            }
            Phase::Timeout => {}
        }
        self.phase = Phase::Open;
    }

    /// Sets the window to PRR's decision during recovery (`pipe + sndcnt`, RFC 6937 section 3),
    /// at least 1 MSS and at most 2^30.
    pub fn set_cwnd(&mut self, cwnd: usize) {
        self.cwnd = cwnd.clamp(self.mss, MAX_CWND);
    }

    /// The retransmission timer expired with `flight` bytes outstanding (RFC 5681 3.1 equation 4,
    /// RFC 9438 4.8): unless this episode already reduced it, `ssthresh = max(flight * beta,
    /// 2 MSS)` and the state before is saved for undo; `cwnd = 1 MSS` (the loss window); CUBIC
    /// forgets W_max and restarts its epoch, so that its first congestion-avoidance stage after
    /// the timeout starts with W_max = the window at its start and K = 0 (RFC 9438 4.8). Fast
    /// recovery, if any, is over: the window grows again in slow start.
    pub fn on_rto(&mut self, _now: Instant, flight: usize) {
        let new_episode = self.phase == Phase::Open;
        if new_episode {
            self.saved = Some(self.save());
            self.ssthresh = self.reduced_ssthresh(flight);
        }
        match &mut self.controller {
            Controller::Reno(r) => r.restart(),
            Controller::Cubic(c) => c.on_timeout(self.cwnd, self.mss, new_episode),
        }
        self.cwnd = self.mss;
        self.phase = Phase::Timeout;
    }

    /// The last episode was spurious (e.g. D-SACK showed every retransmission of it unnecessary,
    /// RFC 3708): `ssthresh` and the algorithm's state (CUBIC's W_max, epoch, Reno's count)
    /// return to what they were before it, `cwnd` too unless it has grown past that since; the
    /// episode is over (the connection stops PRR). No effect when nothing is saved (a second
    /// undo, or before any episode).
    pub fn undo(&mut self) {
        if let Some(saved) = self.saved.take() {
            self.cwnd = self.cwnd.max(saved.cwnd);
            self.ssthresh = saved.ssthresh;
            self.controller = saved.controller;
            self.phase = Phase::Open;
        }
    }

    /// The connection restarts sending after an idle period longer than the RTO (RFC 5681 4.1,
    /// Linux's `tcp_slow_start_after_idle`): `ssthresh` is raised to at least 3/4 of the window
    /// (outside fast recovery, as Linux does, so slow start climbs back quickly), then `cwnd =
    /// min(cwnd, initial window)`; CUBIC's epoch restarts, so the idle time is not growth time.
    pub fn on_idle_restart(&mut self, _now: Instant) {
        if self.phase != Phase::FastRecovery {
            let three_quarters = self.cwnd / 2 + self.cwnd / 4;
            self.ssthresh = self.ssthresh.max(three_quarters);
        }
        let iw = self.initial_window.saturating_mul(self.mss);
        self.cwnd = self.cwnd.min(iw).clamp(self.mss, MAX_CWND);
        self.restart_epoch();
    }

    fn restart_epoch(&mut self) {
        match &mut self.controller {
            Controller::Reno(r) => r.restart(),
            Controller::Cubic(c) => c.restart_epoch(),
        }
    }
}

/// An ACK clock for the tests: rounds of one window acknowledged in MSS-sized ACKs.
#[cfg(test)]
pub(crate) mod sim {
    use super::*;

    /// Acknowledges one window (`cwnd` at the start of the round) in MSS-sized ACKs spread over
    /// one `rtt`; returns the time at the end of the round.
    pub(crate) fn round(cc: &mut CongestionControl, now: Instant, rtt: Duration) -> Instant {
        let acks = (cc.cwnd() / cc.mss()).max(1);
        let step = rtt / acks as u32;
        let mut t = now;
        for _ in 0..acks {
            t = t + step;
            cc.on_ack(t, cc.mss(), Some(rtt), Some(rtt), true);
        }
        now + rtt
    }

    /// Runs `n` rounds; returns the time after them.
    pub(crate) fn rounds(
        cc: &mut CongestionControl,
        now: Instant,
        rtt: Duration,
        n: usize,
    ) -> Instant {
        (0..n).fold(now, |t, _| round(cc, t, rtt))
    }

    /// A loss episode at `now` with the whole window in flight, ended at once.
    pub(crate) fn loss(cc: &mut CongestionControl, now: Instant) {
        let flight = cc.cwnd();
        cc.on_congestion_event(now, flight);
        cc.on_recovery_exit(now);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::sim::*;
    use super::*;
    use proptest::prelude::*;

    const MSS: usize = 1448;
    const RTT: Duration = Duration::from_millis(50);

    fn both() -> [Algorithm; 2] {
        [Algorithm::Cubic, Algorithm::Reno]
    }

    #[test]
    fn algorithm_names_parse_back() {
        for a in both() {
            assert_eq!(a.name().parse::<Algorithm>(), Ok(a));
            assert_eq!(a.to_string(), a.name());
        }
        assert_eq!(" CUBIC ".parse::<Algorithm>(), Ok(Algorithm::Cubic));
        assert_eq!(Algorithm::default(), Algorithm::Cubic);
        let err = "bbr".parse::<Algorithm>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown congestion control algorithm \"bbr\" (known: \"cubic\", \"reno\")"
        );
    }

    #[test]
    fn starts_with_the_initial_window_and_no_ssthresh() {
        let cc = CongestionControl::new(Algorithm::Cubic, MSS, 10);
        assert_eq!(cc.cwnd(), 10 * MSS);
        assert_eq!(cc.ssthresh(), usize::MAX);
        assert!(cc.in_slow_start());
        assert!(!cc.in_recovery());
        assert!(!cc.can_undo());
        let cc = CongestionControl::new(Algorithm::Reno, 0, 0);
        assert_eq!((cc.mss(), cc.cwnd()), (1, 1));
    }

    #[test]
    fn slow_start_counts_at_most_two_segments_per_ack() {
        for a in both() {
            let mut cc = CongestionControl::new(a, MSS, 10);
            cc.on_ack(Instant::ZERO, 10 * MSS, None, None, true);
            assert_eq!(cc.cwnd(), 12 * MSS, "{a}: stretch ACK, RFC 3465 L = 2 MSS");
            cc.on_ack(Instant::ZERO, 100, None, None, true);
            assert_eq!(cc.cwnd(), 12 * MSS + 100, "{a}: byte counting");
        }
    }

    #[test]
    fn an_ack_crossing_ssthresh_gives_the_rest_to_congestion_avoidance() {
        let mut cc = CongestionControl::new(Algorithm::Reno, 1000, 10);
        // ssthresh = 10 000 after a loss of 20 000 in flight; RTO: cwnd = 1 MSS.
        cc.on_rto(Instant::ZERO, 20_000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 10_000));
        cc.set_cwnd(9_500);
        // 500 bytes of slow start reach ssthresh; the other 9 500 count towards +1 MSS, which
        // needs 10 000 (one window).
        cc.on_ack(Instant::ZERO, 10_000, None, None, true);
        assert_eq!(cc.cwnd(), 10_000);
        assert!(!cc.in_slow_start());
        cc.on_ack(Instant::ZERO, 499, None, None, true);
        assert_eq!(cc.cwnd(), 10_000);
        cc.on_ack(Instant::ZERO, 1, None, None, true);
        assert_eq!(cc.cwnd(), 11_000);
    }

    #[test]
    fn no_growth_when_not_cwnd_limited() {
        for a in both() {
            let mut cc = CongestionControl::new(a, MSS, 10);
            for _ in 0..100 {
                cc.on_ack(Instant::from_millis(1), MSS, Some(RTT), Some(RTT), false);
            }
            assert_eq!(cc.cwnd(), 10 * MSS, "{a} in slow start");
            let mut t = rounds(&mut cc, Instant::ZERO, RTT, 3);
            loss(&mut cc, t);
            let w = cc.cwnd();
            for _ in 0..1000 {
                t = t + Duration::from_millis(10);
                cc.on_ack(t, MSS, Some(RTT), Some(RTT), false);
            }
            assert_eq!(cc.cwnd(), w, "{a} in congestion avoidance");
            // The same ACKs, window-limited, grow it.
            cc.on_ack(t, MSS, Some(RTT), Some(RTT), true);
            rounds(&mut cc, t, RTT, 3);
            assert!(cc.cwnd() > w, "{a}");
        }
    }

    #[test]
    fn no_growth_during_fast_recovery_and_prr_sets_the_window() {
        for a in both() {
            let mut cc = CongestionControl::new(a, MSS, 10);
            cc.on_congestion_event(Instant::ZERO, 10 * MSS);
            assert!(cc.in_recovery());
            cc.on_ack(Instant::ZERO, 5 * MSS, Some(RTT), None, true);
            assert_eq!(cc.cwnd(), 10 * MSS, "{a}");
            cc.set_cwnd(3 * MSS);
            assert_eq!(cc.cwnd(), 3 * MSS);
            cc.set_cwnd(0);
            assert_eq!(cc.cwnd(), MSS, "floor of 1 MSS");
            cc.on_recovery_exit(Instant::ZERO);
            assert_eq!(cc.cwnd(), cc.ssthresh(), "{a}: the window after recovery");
            assert!(!cc.in_recovery());
        }
    }

    #[test]
    fn ssthresh_never_falls_below_two_segments() {
        for a in both() {
            let mut cc = CongestionControl::new(a, MSS, 10);
            cc.on_congestion_event(Instant::ZERO, MSS);
            assert_eq!(cc.ssthresh(), 2 * MSS, "{a}");
            cc.on_recovery_exit(Instant::ZERO);
            cc.on_rto(Instant::ZERO, 0);
            assert_eq!(cc.ssthresh(), 2 * MSS, "{a}");
            assert_eq!(cc.cwnd(), MSS, "{a}");
        }
    }

    #[test]
    fn a_second_timeout_in_the_episode_keeps_ssthresh() {
        for a in both() {
            let mut cc = CongestionControl::new(a, MSS, 10);
            cc.on_rto(Instant::ZERO, 40 * MSS);
            let ssthresh = cc.ssthresh();
            cc.on_rto(Instant::from_millis(400), MSS);
            assert_eq!(cc.ssthresh(), ssthresh, "{a}: RFC 5681, after equation 4");
            // A timeout during fast recovery does not reduce again either.
            let mut cc = CongestionControl::new(a, MSS, 10);
            cc.on_congestion_event(Instant::ZERO, 40 * MSS);
            let ssthresh = cc.ssthresh();
            cc.on_rto(Instant::from_millis(400), 10 * MSS);
            assert_eq!((cc.ssthresh(), cc.cwnd()), (ssthresh, MSS), "{a}");
            assert!(!cc.in_recovery(), "{a}: slow start after the timeout");
            cc.on_ack(Instant::from_millis(500), MSS, Some(RTT), None, true);
            assert_eq!(cc.cwnd(), 2 * MSS, "{a}");
            // The episode ends without resetting the window slow start gave.
            cc.on_recovery_exit(Instant::from_millis(600));
            assert_eq!(cc.cwnd(), 2 * MSS, "{a}");
            cc.on_rto(Instant::from_millis(900), 2 * MSS);
            assert_eq!(cc.ssthresh(), 2 * MSS, "{a}: a new episode reduces again");
        }
    }

    #[test]
    fn undo_restores_exactly() {
        for a in both() {
            let mut cc = CongestionControl::new(a, MSS, 10);
            let mut t = rounds(&mut cc, Instant::ZERO, RTT, 4);
            loss(&mut cc, t);
            t = rounds(&mut cc, t, RTT, 7);
            let (cwnd, ssthresh, controller) = (cc.cwnd(), cc.ssthresh(), cc.controller.clone());
            // A spurious fast recovery, undone during the episode.
            cc.on_congestion_event(t, cwnd);
            cc.set_cwnd(cwnd / 2);
            cc.undo();
            assert_eq!((cc.cwnd(), cc.ssthresh()), (cwnd, ssthresh), "{a}");
            assert_eq!(cc.controller, controller, "{a}");
            assert!(!cc.in_recovery() && !cc.can_undo());
            // A second undo does nothing.
            cc.undo();
            assert_eq!((cc.cwnd(), cc.ssthresh()), (cwnd, ssthresh), "{a}");
            // A spurious timeout, undone after slow start began again.
            cc.on_rto(t, cwnd);
            cc.on_ack(t, MSS, Some(RTT), None, true);
            cc.undo();
            assert_eq!((cc.cwnd(), cc.ssthresh()), (cwnd, ssthresh), "{a}");
            assert_eq!(cc.controller, controller, "{a}");
            // Undo after the episode ended, once the window has grown back a little.
            cc.on_congestion_event(t, cwnd);
            cc.on_recovery_exit(t);
            rounds(&mut cc, t, RTT, 2);
            assert!(cc.cwnd() < cwnd);
            cc.undo();
            assert_eq!((cc.cwnd(), cc.ssthresh()), (cwnd, ssthresh), "{a}");
        }
    }

    #[test]
    fn idle_restart_returns_to_the_initial_window() {
        for a in both() {
            let mut cc = CongestionControl::new(a, MSS, 10);
            let t = rounds(&mut cc, Instant::ZERO, RTT, 4);
            assert_eq!(cc.cwnd(), 160 * MSS);
            cc.on_idle_restart(t + Duration::from_secs(5));
            assert_eq!(cc.cwnd(), 10 * MSS, "{a}");
            assert_eq!(cc.ssthresh(), usize::MAX, "{a}");
            // A window far above ssthresh: slow start climbs back to 3/4 of it.
            let mut cc = CongestionControl::new(a, MSS, 10);
            cc.on_rto(Instant::ZERO, 2 * MSS);
            cc.on_recovery_exit(Instant::ZERO);
            assert_eq!(cc.ssthresh(), 2 * MSS);
            cc.set_cwnd(100 * MSS);
            cc.on_idle_restart(Instant::from_millis(5000));
            assert_eq!(cc.cwnd(), 10 * MSS, "{a}");
            assert_eq!(cc.ssthresh(), 75 * MSS, "{a}");
            // A higher ssthresh stays.
            let mut cc = CongestionControl::new(a, MSS, 10);
            let t = rounds(&mut cc, Instant::ZERO, RTT, 4);
            loss(&mut cc, t);
            let ssthresh = cc.ssthresh();
            cc.on_idle_restart(t + Duration::from_secs(5));
            assert_eq!(cc.cwnd(), 10 * MSS, "{a}");
            assert_eq!(cc.ssthresh(), ssthresh, "{a}");
            // A window already below the initial one is kept.
            let mut cc = CongestionControl::new(a, MSS, 10);
            cc.on_rto(Instant::ZERO, 10 * MSS);
            cc.on_idle_restart(Instant::from_millis(10_000));
            assert_eq!(cc.cwnd(), MSS, "{a}");
        }
    }

    #[test]
    fn set_mss_keeps_the_window_in_segments() {
        let mut cc = CongestionControl::new(Algorithm::Reno, 536, 10);
        cc.set_mss(1460);
        assert_eq!((cc.mss(), cc.cwnd()), (1460, 14_600));
        assert_eq!(cc.ssthresh(), usize::MAX);
        cc.on_congestion_event(Instant::ZERO, 20 * 1460);
        assert_eq!(cc.ssthresh(), 10 * 1460);
        cc.set_mss(1000);
        assert_eq!(cc.ssthresh(), 10_000);
        cc.undo();
        assert_eq!((cc.cwnd(), cc.ssthresh()), (10_000, usize::MAX));
        cc.set_mss(0);
        assert_eq!((cc.mss(), cc.cwnd()), (1, 10));
    }

    #[derive(Clone, Debug)]
    enum Event {
        Ack(usize, bool),
        Loss(usize),
        Exit,
        Rto(usize),
        SetCwnd(usize),
        Undo,
        Idle,
        Mss(usize),
        Wait(u64),
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            6 => (0usize..200_000, any::<bool>()).prop_map(|(a, l)| Event::Ack(a, l)),
            1 => (0usize..usize::MAX).prop_map(Event::Loss),
            1 => Just(Event::Exit),
            1 => (0usize..10_000_000).prop_map(Event::Rto),
            1 => any::<usize>().prop_map(Event::SetCwnd),
            1 => Just(Event::Undo),
            1 => Just(Event::Idle),
            1 => (0usize..70_000).prop_map(Event::Mss),
            2 => (0u64..100_000_000).prop_map(Event::Wait),
        ]
    }

    proptest! {
        #[test]
        fn window_stays_within_bounds(
            reno in any::<bool>(),
            mss in 1usize..65_536,
            iw in 0usize..100,
            events in proptest::collection::vec(event(), 1..200),
            rtt_us in 0u64..10_000_000,
        ) {
            let a = if reno { Algorithm::Reno } else { Algorithm::Cubic };
            let mut cc = CongestionControl::new(a, mss, iw);
            let mut now = Instant::ZERO;
            let rtt = Some(Duration::from_micros(rtt_us));
            for e in events {
                match e {
                    Event::Ack(n, limited) => cc.on_ack(now, n, rtt, None, limited),
                    Event::Loss(f) => cc.on_congestion_event(now, f),
                    Event::Exit => cc.on_recovery_exit(now),
                    Event::Rto(f) => cc.on_rto(now, f),
                    Event::SetCwnd(c) => cc.set_cwnd(c),
                    Event::Undo => cc.undo(),
                    Event::Idle => cc.on_idle_restart(now),
                    Event::Mss(m) => cc.set_mss(m),
                    Event::Wait(us) => now = now + Duration::from_micros(us),
                }
                prop_assert!(cc.mss() >= 1);
                prop_assert!(cc.cwnd() >= cc.mss() && cc.cwnd() <= MAX_CWND);
                prop_assert_eq!(cc.in_slow_start(), cc.cwnd() < cc.ssthresh());
            }
        }
    }
}
