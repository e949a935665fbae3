//! # iothnamed: a DNS server for the Internet of Threads
//!
//! Reads the original iothnamed's configuration files unchanged ([`config`]) and answers
//! from static records, hash-based addresses (`hash`: every name under a domain has an
//! IPv6 address derived from it), one-time addresses (`otip`: derived from the name, a
//! password and the time, changing every 32 s), a cache of forwarded replies, and reverse
//! lookups of hash addresses it handed out (`hrev`), choosing per client net and name by the
//! first matching `auth` line; everything else may be forwarded upstream over a stack of its
//! own. [`spawn`] runs it as threads of the caller's process on any ioth stack.
//!
//! The pure core ([`engine`] with [`cache`] and [`hrev`]) decides an answer from a query, a
//! client address and the time; the server ([`server`]) puts it on sockets through
//! `ioth-dns` and forwards through [`forward`].
//!
//! ```no_run
//! use ioth_service::clock::SystemClock;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let text = std::fs::read_to_string("named.rc")?;
//! let mut settings = iothnamed::Settings::new(text, "named.rc");
//! settings.clock = std::sync::Arc::new(SystemClock); // tests give a ManualClock
//! let named = iothnamed::spawn(settings)?;
//! println!("{}", named.counters());
//! named.stop()?;
//! # Ok(())
//! # }
//! ```

pub mod cache;
pub mod config;
pub mod domain;
pub mod engine;
pub mod forward;
pub mod hrev;
pub mod server;
pub mod zone;

pub use config::{AuthKind, Config, ConfigError};
pub use server::{Handle, Settings, StartError, spawn};
