//! Logging for the service binaries: `env_logger` on standard error (RUST_LOG, `-v` for
//! debug), or syslog in daemon mode, as the originals log.

use std::ffi::CString;
use std::sync::OnceLock;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Installs the process's logger once (later calls do nothing). Without `syslog`:
/// env_logger, whose default level is `info` (`debug` with `verbose`) and which RUST_LOG
/// overrides. With `syslog`: messages go to syslog(3) under `ident` (facility daemon), at
/// `info` or, with `verbose`, `debug`.
pub fn init(syslog: bool, verbose: bool, ident: &str) {
    let level = if verbose {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    if syslog {
        let logger = SYSLOG.get_or_init(|| Syslog::open(ident));
        if log::set_logger(logger).is_ok() {
            log::set_max_level(level);
        }
    } else {
        let mut builder = env_logger::Builder::new();
        builder.filter_level(level);
        if let Ok(spec) = std::env::var("RUST_LOG") {
            builder.parse_filters(&spec);
        }
        let _ = builder.try_init();
    }
}

static SYSLOG: OnceLock<Syslog> = OnceLock::new();

/// A logger over syslog(3).
struct Syslog {
    // openlog keeps the pointer: the string lives as long as the logger (forever).
    _ident: CString,
}

impl Syslog {
    fn open(ident: &str) -> Syslog {
        let ident = CString::new(ident.replace('\0', "")).unwrap_or_default();
        // SAFETY: `ident` is a valid C string kept alive in the static logger for the rest of
        // the process, as openlog requires.
        unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        Syslog { _ident: ident }
    }
}

impl Log for Syslog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let priority = match record.level() {
            Level::Error => libc::LOG_ERR,
            Level::Warn => libc::LOG_WARNING,
            Level::Info => libc::LOG_INFO,
            Level::Debug | Level::Trace => libc::LOG_DEBUG,
        };
        let text = format!("{}", record.args()).replace('\0', "");
        let Ok(text) = CString::new(text) else { return };
        // SAFETY: the format is a literal "%s" and `text` a valid C string for the call.
        unsafe { libc::syslog(priority, c"%s".as_ptr(), text.as_ptr()) };
    }

    fn flush(&self) {}
}
