//! IPv6 router discovery and stateless address autoconfiguration (`rd`, `slaac` in a
//! configuration string) for stacks that run them themselves: the message format and a
//! transport-independent engine whose results a stack installs in its own tables.
//!
//! - [`message`]: router advertisements parsed and emitted (prefixes, MTU, RDNSS, DNSSL),
//!   router solicitations built and parsed, the ICMPv6 checksum.
//! - [`discovery`]: [`RouterDiscovery`], the per-interface state machine.

pub mod discovery;
pub mod message;

pub use discovery::{Action, RouterDiscovery};
pub use message::{
    ALL_ROUTERS, ParseError, PrefixInfo, RouterAdvert, RouterPreference, RouterSolicitation,
    router_solicitation,
};
