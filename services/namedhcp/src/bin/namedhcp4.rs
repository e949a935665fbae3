//! `namedhcp4`: DHCPv4 by name (option 81, A and TXT records), a thin shell over the
//! `namedhcp` library.

use std::process::ExitCode;

use ioth_service::pidfile::PidFile;
use ioth_service::signals::{Signal, Signals};
use namedhcp::v4::cli::Cli4;

fn fail(e: impl std::fmt::Display) -> ExitCode {
    log::error!("{e}");
    eprintln!("namedhcp4: {e}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    ioth_service::link_backends!();
    let cli = match ioth_service::rcfile::parse_args::<Cli4>(std::env::args_os().collect()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("namedhcp4: {e}");
            return ExitCode::FAILURE;
        }
    };
    ioth_service::logging::init(cli.daemon, cli.verbose, "namedhcp4");
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
    let handle = match cli.config().and_then(namedhcp::v4::spawn4) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    while let Some(sig) = signals.wait() {
        match sig {
            Signal::Stop(n) => {
                log::info!("namedhcp4: leaving on signal {n}");
                break;
            }
            Signal::Report => log::info!("namedhcp4: {:?}", handle.counters()),
            Signal::Reload => {
                log::info!("namedhcp4: SIGHUP: nothing to reload (restart to change options)")
            }
        }
    }
    let counters = handle.counters();
    handle.stop();
    log::info!("namedhcp4: stopped, {counters:?}");
    ExitCode::SUCCESS
}
