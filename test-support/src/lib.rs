//! A test that needs another process runs its own test binary again as that process: the
//! child runs one `#[test]` function (by exact name) that does nothing unless an
//! environment variable tells it its role, and reports on stdout in lines starting with a
//! tag (`CHILD served`), which [`ChildTest::report`] returns without the tag. Closing the
//! child's stdin is its cue to finish; a child is always killed and reaped when its
//! [`ChildTest`] is dropped, so a failing test leaves no process behind.
//!
//! ```no_run
//! use ioth_test_child::ChildTest;
//! use std::time::Duration;
//!
//! let peer = ChildTest::spawn("peer_process", "PEER ", &[("MY_TEST_ROLE", "echo")]);
//! assert_eq!(peer.report(Duration::from_secs(20)), "ready");
//! peer.finish(Duration::from_secs(20));
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process running one test of this test binary; killed and reaped when dropped.
pub struct ChildTest {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl ChildTest {
    /// Runs this test binary again as `--exact test --nocapture` with `envs` set; lines of
    /// its stdout that hold `tag` become reports (the text after the tag). Panics when the
    /// binary cannot be started.
    pub fn spawn(test: &str, tag: &'static str, envs: &[(&str, &str)]) -> ChildTest {
        let exe = std::env::current_exe().expect("the test binary");
        let mut cmd = Command::new(exe);
        cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("the child's stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                // The harness's "test NAME ... " may start the first line.
                if let Some(at) = line.find(tag)
                    && tx.send(line[at + tag.len()..].to_owned()).is_err()
                {
                    break;
                }
            }
        });
        ChildTest {
            child,
            stdin,
            lines,
        }
    }

    /// The child's next report; panics when none comes within `guard` (a guard against
    /// hangs, not a measure) or the child's stdout ends first.
    pub fn report(&self, guard: Duration) -> String {
        self.lines
            .recv_timeout(guard)
            .unwrap_or_else(|e| panic!("no report from the child: {e}"))
    }

    /// Waits for the child to exit by itself (within `guard`) and returns its status.
    pub fn wait(&mut self, guard: Duration) -> ExitStatus {
        let end = Instant::now() + guard;
        loop {
            match self.child.try_wait().expect("wait for the child") {
                Some(st) => return st,
                None => {
                    assert!(Instant::now() < end, "the child did not exit");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    /// Closes the child's stdin (its cue to finish) and waits, at most `guard`, for it to
    /// exit successfully; panics otherwise.
    pub fn finish(mut self, guard: Duration) {
        drop(self.stdin.take());
        let st = self.wait(guard);
        assert!(st.success(), "the child failed: {st}");
    }

    /// SIGKILL and reap: the child runs no destructor and no exit hook.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

impl Drop for ChildTest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
