//! Stack configuration for the Internet of Threads: rtnetlink answered in-process, client
//! helpers that configure any stack through rtnetlink, the iothconf configuration grammar,
//! DHCPv4, the interface ioctls and hash-based addresses.
//!
//! This crate depends on no other crate of the project.
//!
//! - [`model`]: links, addresses, routes, neighbours as plain values.
//! - [`rtnl`]: netlink framing and conversions to and from netlink-packet-route messages.
//! - [`server`]: the [`server::Tables`] a stack exposes, the request processor
//!   ([`server::process`]), per-socket endpoints and complete in-memory tables.
//! - [`client`]: [`client::NlClient`] helpers over any [`client::NetlinkTransport`] (kernel
//!   socket, in-process processor, a stack's netlink socket).
//! - [`iothconf`]: configuration strings and their application.
//! - [`dhcp`]: DHCPv4 messages and client state machine.
//! - [`dhcp6`]: DHCPv6 messages and client state machine (stateful and stateless).
//! - [`ndisc`]: IPv6 router discovery and SLAAC: advertisements and the engine.
//! - [`ioctl`]: SIOCGIFINDEX and friends answered from the tables.
//! - [`hashaddr`]: hash-based IPv6 addresses and MACs, EUI-64, One-Time-IP.

pub mod client;
pub mod dhcp;
pub mod dhcp6;
pub mod hashaddr;
pub mod ioctl;
pub mod iothconf;
pub mod model;
pub mod ndisc;
pub mod rtnl;
pub mod server;
