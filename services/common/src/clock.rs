//! The time services reason in: Unix time for OTIP windows, and the same clock for TTLs,
//! timeouts and timers, so that a test can move all of them at once.

use std::fmt::Debug;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// A source of time shared by a service's threads (`Arc<dyn Clock>`).
pub trait Clock: Send + Sync + Debug + 'static {
    /// The time since the Unix epoch.
    fn now(&self) -> Duration;

    /// Sleeps up to `max` of real time; a test clock returns early when it is moved, so that
    /// a service reacts to a moved clock at once.
    fn wait(&self, max: Duration);

    /// Whole seconds since the Unix epoch.
    fn unix_secs(&self) -> u64 {
        self.now().as_secs()
    }
}

/// The system's real-time clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
    }

    fn wait(&self, max: Duration) {
        std::thread::sleep(max);
    }
}

/// A clock that only moves when told to (tests: OTIP's 32 s windows, TTLs and lease timers
/// without sleeping).
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<(Duration, u64)>,
    moved: Condvar,
}

impl ManualClock {
    /// A clock standing at `unix` since the epoch.
    pub fn new(unix: Duration) -> ManualClock {
        ManualClock {
            state: Mutex::new((unix, 0)),
            moved: Condvar::new(),
        }
    }

    /// Sets the time (it may go backwards, as a real clock stepped by NTP may).
    pub fn set(&self, unix: Duration) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.0 = unix;
        s.1 += 1;
        self.moved.notify_all();
    }

    /// Moves the time forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.0 += d;
        s.1 += 1;
        self.moved.notify_all();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    fn wait(&self, max: Duration) {
        let deadline = Instant::now() + max;
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = s.1;
        while s.1 == generation {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            s = self
                .moved
                .wait_timeout(s, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn manual_clock_moves_only_when_told_and_wakes_waiters() {
        let clock = Arc::new(ManualClock::new(Duration::from_secs(1000)));
        assert_eq!(clock.unix_secs(), 1000);
        let waiter = {
            let clock = clock.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                clock.wait(Duration::from_secs(30));
                start.elapsed()
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        clock.advance(Duration::from_secs(32));
        let waited = waiter.join().expect("join");
        assert!(waited < Duration::from_secs(10), "waited {waited:?}");
        assert_eq!(clock.unix_secs(), 1032);
        clock.set(Duration::from_secs(5));
        assert_eq!(clock.now(), Duration::from_secs(5));
    }

    #[test]
    fn wait_without_a_move_lasts_its_time() {
        let clock = ManualClock::new(Duration::ZERO);
        let start = Instant::now();
        clock.wait(Duration::from_millis(30));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn system_clock_is_unix_time() {
        // 2020-01-01 as a floor: a clock before it is not Unix time.
        assert!(SystemClock.unix_secs() > 1_577_836_800);
    }
}
