//! `iothnamed`: a DNS server, forwarder and cache for the Internet of Threads.
//!
//! `iothnamed [-d] [-p PIDFILE] [-v] CONFIG`, as the original. SIGHUP reloads CONFIG
//! without dropping queries; SIGUSR1 logs the counters; SIGINT and SIGTERM stop it, logging
//! the counters.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ioth_service::signals::{Signal, Signals};

/// A DNS server/forwarder/cache for the Internet of Threads: static names, hash-based and
/// one-time (OTIP) IPv6 addresses, per-net rules, on any ioth stack.
#[derive(Parser, Debug)]
#[command(
    name = "iothnamed",
    version,
    after_help = "Signals: SIGHUP reloads CONFIG, \
SIGUSR1 logs the counters, SIGINT/SIGTERM stop. Logs go to stderr (RUST_LOG sets the level) \
or to syslog with --daemon."
)]
struct Cli {
    /// Run in the background (logs go to syslog).
    #[arg(short, long)]
    daemon: bool,
    /// Write the process id to FILE (created exclusively; removed at exit).
    #[arg(short, long, value_name = "FILE")]
    pidfile: Option<PathBuf>,
    /// Log debugging detail.
    #[arg(short, long)]
    verbose: bool,
    /// The configuration file (iothnamed.conf(5) syntax).
    config: PathBuf,
}

fn main() -> ExitCode {
    ioth_service::link_backends!();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iothnamed: {e}");
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn absolute(p: &std::path::Path) -> Result<PathBuf, String> {
    std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn run(cli: Cli) -> Result<(), String> {
    let path = absolute(&cli.config)?;
    let origin = cli.config.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{origin}: {e}"))?;
    // Faults are reported before anything starts, with their lines.
    iothnamed::Config::parse(&text, &origin).map_err(|e| e.to_string())?;
    let pidfile = cli.pidfile.as_deref().map(absolute).transpose()?;
    if cli.daemon {
        ioth_service::daemon::daemonize().map_err(|e| format!("daemon: {e}"))?;
    }
    ioth_service::logging::init(cli.daemon, cli.verbose, "iothnamed");
    let mut signals = Signals::new().map_err(|e| format!("signals: {e}"))?;
    let _pid = pidfile
        .as_deref()
        .map(ioth_service::pidfile::PidFile::create)
        .transpose()
        .map_err(|e| e.to_string())?;
    let handle = iothnamed::spawn(iothnamed::Settings::new(text, origin.clone()))
        .map_err(|e| e.to_string())?;
    while let Some(signal) = signals.wait() {
        match signal {
            Signal::Reload => match std::fs::read_to_string(&path) {
                Ok(text) => match handle.reload(&text) {
                    Ok(()) => log::info!("reloaded {origin}"),
                    Err(e) => log::error!("reload refused, the running configuration stays:\n{e}"),
                },
                Err(e) => log::error!("reload: {origin}: {e}"),
            },
            Signal::Report => log::info!("counters: {}", handle.counters()),
            Signal::Stop(n) => {
                log::info!("signal {n}: stopping; counters: {}", handle.counters());
                break;
            }
        }
    }
    handle.stop().map_err(|e| e.to_string())
}
