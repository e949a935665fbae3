//! `namedhcp4`: DHCPv4 by name. The client's Client FQDN option (81, RFC 4702) names it; its
//! A record is its address, a TXT record `mask=,router=,broadcast=,dns=,domname=,ntp=` its
//! options; leases are infinite.
//!
//! - [`wire`]: strict parsing over dhcproto; [`fqdn`]: option 81 in both encodings;
//! - [`txt`]: the TXT record's options; [`reply`]: what the server answers (pure);
//! - [`service`]: the server on a stack (UDP port 67, replies broadcast or to `ciaddr`),
//!   [`spawn4`]; [`cli`]: the `namedhcp4` command line.

pub mod cli;
pub mod fqdn;
pub mod reply;
pub mod service;
pub mod txt;
pub mod wire;

pub use reply::{Destination, NameLookup4, Outcome4, Server4, answer4};
pub use service::{Config4, Handle4, spawn4};
