//! The signals services answer: SIGHUP (reload), SIGUSR1 (print counters), SIGINT and
//! SIGTERM (stop), delivered to whichever thread waits for them.

use std::io;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::{Handle, Signals as Inner};

/// A signal a service acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGHUP: read the configuration again.
    Reload,
    /// SIGUSR1: report counters.
    Report,
    /// SIGINT or SIGTERM: stop (the signal number).
    Stop(i32),
}

/// Catches SIGHUP, SIGUSR1, SIGINT and SIGTERM from creation on (their default actions no
/// longer happen) and hands them to [`Signals::wait`].
#[derive(Debug)]
pub struct Signals {
    inner: Inner,
}

/// Closes a [`Signals`] from another thread: its `wait` then returns `None`.
#[derive(Clone, Debug)]
pub struct Closer(Handle);

impl Closer {
    /// Makes the waiting thread's [`Signals::wait`] return `None`.
    pub fn close(&self) {
        self.0.close();
    }
}

impl Signals {
    /// Starts catching the four signals.
    pub fn new() -> io::Result<Signals> {
        Ok(Signals {
            inner: Inner::new([SIGHUP, SIGUSR1, SIGINT, SIGTERM])?,
        })
    }

    /// A handle that ends [`Signals::wait`] from another thread.
    pub fn closer(&self) -> Closer {
        Closer(self.inner.handle())
    }

    /// The next signal, blocking; `None` once closed.
    pub fn wait(&mut self) -> Option<Signal> {
        self.inner.forever().next().map(|s| match s {
            SIGHUP => Signal::Reload,
            SIGUSR1 => Signal::Report,
            other => Signal::Stop(other),
        })
    }
}
