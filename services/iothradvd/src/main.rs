//! `iothradvd`: router advertisements from a stack, with the original's command line and rc
//! file (see `iothradvd --help` and README.md).

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use ioth_service::clock::SystemClock;
use ioth_service::signals::{Signal, Signals};
use ioth_service::{daemon, logging, pidfile::PidFile, rcfile};
use iothradvd::{Config, Options};

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("iothradvd: {e}");
    ExitCode::FAILURE
}

/// The options: the rc file's (`-f`) under the command line's.
fn options(argv: Vec<OsString>) -> Result<Options, ExitCode> {
    rcfile::parse_args(argv).map_err(fail)
}

fn main() -> ExitCode {
    ioth_service::link_backends!();
    let opts = match options(std::env::args_os().collect()) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let config = match Config::from_options(&opts) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // Daemon mode changes directory to /: the pid file's path must not depend on it.
    let pidfile = match opts.pidfile.as_deref().map(std::path::absolute).transpose() {
        Ok(p) => p,
        Err(e) => return fail(format!("pid file: {e}")),
    };
    if opts.daemon
        && let Err(e) = daemon::daemonize()
    {
        return fail(format!("daemon: {e}"));
    }
    logging::init(opts.daemon, opts.verbose, "iothradvd");
    let _pid = match pidfile.as_deref().map(PidFile::create).transpose() {
        Ok(p) => p,
        Err(e) => {
            log::error!("{e}");
            return fail(e);
        }
    };
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => return fail(format!("signals: {e}")),
    };
    let handle = match iothradvd::start(config, Arc::new(SystemClock)) {
        Ok(h) => h,
        Err(e) => {
            log::error!("{e}");
            return fail(e);
        }
    };
    while let Some(signal) = signals.wait() {
        match signal {
            Signal::Stop(n) => {
                log::info!("leaving on signal {n}");
                break;
            }
            Signal::Reload | Signal::Report => log::info!("{:?}", handle.counters()),
        }
    }
    let counters = handle.counters();
    drop(handle);
    log::info!("{counters:?}");
    ExitCode::SUCCESS
}
