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
//!
//! The typical use: a configuration string applied through the client helpers. Here the
//! stack is [`server::MemTables`] reached in-process ([`client::LocalTransport`]); a
//! user-space stack's netlink socket or the kernel's ([`client::KernelNetlink`]) take the
//! same calls.
//!
//! ```
//! use nlconf::client::{LocalTransport, NlClient};
//! use nlconf::iothconf::{self, Config, ConfState, Mode, NoAutoConf};
//! use nlconf::server::MemTables;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = NlClient::new(LocalTransport::new(MemTables::with_loopback(), 1));
//! let vde0 = client.iplink_add(Some("vde0"), None, "dummy", None)?;
//!
//! let cfg = Config::parse("eth ip=10.0.0.1/24 gw=10.0.0.254 dns=10.0.0.53", Mode::Running)?;
//! let report = iothconf::apply(&cfg, &client, &mut ConfState::new(), &mut NoAutoConf)?;
//! assert!(report.eth && report.static_ && report.failed.is_empty());
//! assert_eq!(report.resolv_conf, "nameserver 10.0.0.53\n");
//!
//! assert!(client.link(vde0)?.is_up());
//! let addr = client.addrs()?.into_iter().find(|a| a.index == vde0).expect("an address");
//! assert_eq!((addr.addr.to_string(), addr.prefix_len), ("10.0.0.1".to_string(), 24));
//! let routes = client.routes()?;
//! let default = routes.iter().find(|r| r.is_default()).expect("a default route");
//! assert_eq!(default.gateway, Some("10.0.0.254".parse()?));
//! # Ok(())
//! # }
//! ```

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
