//! `otip_rproxy`: the OTIP reverse proxy (see `ioth_otip::proxy` and
//! `ioth_otip::rproxy_cli`). A thin main: options and rc file, daemon mode and pid file,
//! then the library's proxy until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use ioth_otip::proxy::spawn;
use ioth_otip::rproxy_cli::RproxyCli;
use ioth_service::clock::SystemClock;
use ioth_service::pidfile::PidFile;
use ioth_service::signals::{Signal, Signals};

const PROGRAM: &str = "otip_rproxy";

/// The command line with the rc file's options merged under it.
fn options() -> Result<RproxyCli, String> {
    ioth_service::rcfile::parse_args(std::env::args_os().collect())
}

fn main() -> ExitCode {
    ioth_service::link_backends!();
    let mut cli = match options() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{PROGRAM}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = cli.check().and_then(|()| cli.timing().map(|_| ())) {
        eprintln!("{PROGRAM}: {e}");
        return ExitCode::FAILURE;
    }
    // daemon(3) changes directory to /: a relative pid file is the starting directory's.
    if let Some(p) = &cli.pidfile {
        match std::path::absolute(p) {
            Ok(abs) => cli.pidfile = Some(abs),
            Err(e) => {
                eprintln!("{PROGRAM}: --pidfile {}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ioth_service::logging::init(cli.daemon, cli.verbose, PROGRAM);
    if cli.daemon
        && let Err(e) = ioth_service::daemon::daemonize()
    {
        log::error!("daemon: {e}");
        return ExitCode::FAILURE;
    }
    match serve(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            if !cli.daemon {
                eprintln!("{PROGRAM}: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Runs the proxy until a stop signal.
fn serve(cli: &RproxyCli) -> Result<(), String> {
    let mut signals = Signals::new().map_err(|e| format!("signals: {e}"))?;
    let _pid = match &cli.pidfile {
        Some(p) => Some(PidFile::create(p).map_err(|e| e.to_string())?),
        None => None,
    };
    let lines: Vec<String> = cli.intstack.iter().cloned().collect();
    let internal = ioth_service::stack::build(&lines).map_err(|e| format!("--intstack: {e}"))?;
    let config = cli.config(internal)?;
    log::debug!("{config:?}");
    let handle = spawn(config, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    log::info!("{PROGRAM} started");
    while let Some(signal) = signals.wait() {
        match signal {
            Signal::Stop(n) => {
                log::info!("leaving on signal {n}");
                break;
            }
            Signal::Report => log::info!("{:?}; addresses {:?}", handle.counters(), handle.slots()),
            Signal::Reload => {
                log::info!("SIGHUP: {PROGRAM} has no reload; restart it to change options")
            }
        }
    }
    let counters = handle.counters();
    handle.stop();
    log::info!("{counters:?}");
    Ok(())
}
