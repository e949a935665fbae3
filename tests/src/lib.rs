//! Shared test harness: the socket behaviour suite, the fixtures that run it against each
//! backend, and helpers for tests with real peers (namespaces, child processes, plugins).

#![allow(clippy::unwrap_used, missing_docs)]

pub mod dns_client;
pub mod dns_responder;
pub mod fixtures;
pub mod peers;
pub mod suite;

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// Asserts that `res` failed with `errno`, naming the call in the message.
#[track_caller]
pub fn assert_errno<T: std::fmt::Debug>(res: io::Result<T>, errno: i32, what: &str) {
    match res {
        Ok(v) => panic!(
            "{what}: expected {} but it succeeded with {v:?}",
            io::Error::from_raw_os_error(errno)
        ),
        Err(e) => assert_eq!(
            ioth::errno_of(&e),
            errno,
            "{what}: expected {} but got {e}",
            io::Error::from_raw_os_error(errno)
        ),
    }
}

/// Polls one descriptor for `events`, waiting at most `timeout`; returns `revents` (0 when
/// nothing happened in time).
pub fn poll_fd(fd: RawFd, events: i16, timeout: Duration) -> i16 {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: pfd is a valid pollfd for the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    assert!(n >= 0, "poll failed: {}", io::Error::last_os_error());
    pfd.revents
}

/// How long a test waits for something that must happen (a liveness bound, not a speed claim).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Installs env_logger once for tests (RUST_LOG controls it).
pub fn init_logging() {
    let _ = env_logger::builder().is_test(true).try_init();
}

/// Prints a progress line of a long test on the test process's standard error, past the test
/// harness's output capture (which takes only `print!`/`eprint!`), so a run shows what a test
/// that waits on a real peer's timer is waiting for: `[test] waited 20 s of 60: renewal`.
pub fn progress(test: &str, what: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "[{test}] {what}");
}

/// Calls `check` every 500 ms until it returns true, printing [`progress`] every 15 s with
/// how long it waited of `expected` (what a real peer's timer takes); false after `limit`.
pub fn wait_with_progress(
    test: &str,
    what: &str,
    expected: Duration,
    limit: Duration,
    mut check: impl FnMut() -> bool,
) -> bool {
    let start = std::time::Instant::now();
    let mut shown = Duration::ZERO;
    progress(
        test,
        format_args!("waiting for {what} (about {} s)", expected.as_secs()),
    );
    loop {
        if check() {
            progress(
                test,
                format_args!("{what} after {} s", start.elapsed().as_secs()),
            );
            return true;
        }
        let waited = start.elapsed();
        if waited >= limit {
            return false;
        }
        if waited >= shown + Duration::from_secs(15) {
            shown = waited;
            progress(
                test,
                format_args!(
                    "still waiting for {what}: {} s of about {}",
                    waited.as_secs(),
                    expected.as_secs()
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
