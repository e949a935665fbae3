//! `namedhcp`: the DHCPv6 server by name, a thin shell over the `namedhcp` library.

use std::process::ExitCode;
use std::sync::Arc;

use ioth_service::clock::SystemClock;
use ioth_service::pidfile::PidFile;
use ioth_service::signals::{Signal, Signals};
use namedhcp::cli::Cli;

fn fail(e: impl std::fmt::Display) -> ExitCode {
    log::error!("{e}");
    eprintln!("namedhcp: {e}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    ioth_service::link_backends!();
    let cli = match ioth_service::rcfile::parse_args::<Cli>(std::env::args_os().collect()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("namedhcp: {e}");
            return ExitCode::FAILURE;
        }
    };
    ioth_service::logging::init(cli.daemon, cli.verbose, "namedhcp");
    // Before any stack (and so any thread) exists.
    if cli.daemon
        && let Err(e) = ioth_service::daemon::daemonize()
    {
        return fail(format!("daemon: {e}"));
    }
    let _pidfile = match &cli.pidfile {
        Some(p) => match PidFile::create(p) {
            Ok(f) => Some(f),
            Err(e) => return fail(format!("--pidfile {}: {e}", p.display())),
        },
        None => None,
    };
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => return fail(format!("signals: {e}")),
    };
    let config = match cli.config(Arc::new(SystemClock)) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let handle = match namedhcp::spawn(config) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    while let Some(sig) = signals.wait() {
        match sig {
            Signal::Stop(n) => {
                log::info!("namedhcp: leaving on signal {n}");
                break;
            }
            Signal::Report => log::info!("namedhcp: {:?}", handle.counters()),
            Signal::Reload => {
                log::info!("namedhcp: SIGHUP: nothing to reload (restart to change options)")
            }
        }
    }
    let counters = handle.counters();
    handle.stop();
    log::info!("namedhcp: stopped, {counters:?}");
    ExitCode::SUCCESS
}
