//! # ioth-otip: One-Time IP addresses over ioth stacks
//!
//! The otip-utils tools of VirtualSquare, over the stacks of the Internet of Threads:
//!
//! - [`addrtool`]: `hashaddr NAME` and `otipaddr NAME PASSWORD`, the addresses a name hashes
//!   to (with a password and the current time slot for OTIP), printed as the originals print
//!   them ([`ntop::ntop6`]);
//! - [`timing`]: OTIP slots and the windows in which each address takes new sessions;
//! - [`spec`]: the forwarding and external-stack texts of `otip_rproxy`;
//! - [`lookup`]: names resolved over a stack of the tool's own;
//! - [`proxy`]: `otip_rproxy`, the reverse proxy whose address changes every period, as
//!   threads of the caller's process ([`proxy::spawn`]); [`rproxy_cli`] is its command
//!   line and rc file.

pub mod addrtool;
pub mod lookup;
pub mod ntop;
pub mod proxy;
pub mod rproxy_cli;
pub mod spec;
pub mod timing;
