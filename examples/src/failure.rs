//! How an example fails: a message on stderr and a non-zero exit status, never a panic.

use std::fmt;
use std::process::ExitCode;

/// Why an example stopped: a bad command line (exit status 2) or a runtime error (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// The command line was wrong; the text says which part.
    Usage(String),
    /// Something failed while running; the text says what was being done and why it failed.
    Runtime(String),
}

impl Failure {
    /// A command-line error.
    pub fn usage(msg: impl Into<String>) -> Failure {
        Failure::Usage(msg.into())
    }

    /// A runtime error.
    pub fn runtime(msg: impl Into<String>) -> Failure {
        Failure::Runtime(msg.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Runtime(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Failure {}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Runtime(e.to_string())
    }
}

/// Adds what was being done to an error, turning it into a runtime [`Failure`].
pub trait Context<T> {
    /// `Err(e)` becomes `Failure::Runtime("{what}: {e}")`; `Ok` passes through.
    fn context(self, what: impl fmt::Display) -> Result<T, Failure>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T, Failure> {
        self.map_err(|e| Failure::Runtime(format!("{what}: {e}")))
    }
}

/// Runs an example's body after installing env_logger, and turns its outcome into the exit
/// status: 0 on success, 2 with the message and a hint to `--help` on a usage error, 1 with
/// the message on any other error. Messages go to stderr prefixed with `program`.
pub fn run(program: &str, body: impl FnOnce() -> Result<(), Failure>) -> ExitCode {
    // A second call (e.g. from a test) keeps the first logger; that is fine.
    let _ = env_logger::try_init();
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("{program}: {m}\nTry '{program} --help' for more information.");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(m)) => {
            eprintln!("{program}: error: {m}");
            ExitCode::FAILURE
        }
    }
}
