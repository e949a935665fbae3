//! A pure TCP engine: segments in, segments out, a clock passed in.
//!
//! The engine knows TCP segments and time only: no threads, no descriptors, no links, no IP
//! routing. A stack backend hands it the TCP bytes of every IP packet addressed to the stack
//! (with the packet's addresses), takes the segments it emits and wraps them in IP, and calls
//! it when its next timer is due. Everything it does can therefore be tested, and fuzzed,
//! with a simulated wire and a simulated clock.
//!
//! Modules, one concern each (dependencies run downwards):
//! - [`engine`]: the engine, demultiplexing by four-tuple, listeners, the socket calls;
//! - `conn`: one connection's state machine (RFC 9293) with its timers;
//! - `engine::listen`: the listen backlog (SYN queue, accept queue) and SYN cookies' use;
//! - [`info`]: `TCP_INFO` in Linux's layout;
//! - [`recovery`]: the SACK scoreboard, RACK-TLP loss detection (RFC 8985);
//! - [`cc`]: congestion control (CUBIC, RFC 9438; Reno, RFC 5681) and PRR (RFC 6937);
//! - [`rtt`]: round-trip estimation and the retransmission timeout (RFC 6298);
//! - [`buffer`]: the send buffer and the receive buffer with reassembly and SACK blocks;
//! - [`wire`]: segment parsing and emission with options (RFC 9293, 7323, 2018) and checksums;
//! - [`isn`], [`cookie`]: initial sequence numbers (RFC 6528) and SYN cookies;
//! - [`seq`], [`time`]: sequence-number arithmetic and the clock type.

pub mod buffer;
pub mod cc;
mod conn;
pub mod cookie;
pub mod engine;
pub mod info;
pub mod isn;
pub mod recovery;
pub mod rtt;
pub mod seq;
pub mod time;
pub mod wire;

pub use engine::{
    Config, ConnId, Counters, Engine, Error, Event, ListenerId, Outgoing, SockOpts, State, Status,
};
pub use info::TcpInfo;
pub use seq::Seq;
pub use time::Instant;
