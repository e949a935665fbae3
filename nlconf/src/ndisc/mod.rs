//! IPv6 router discovery and stateless address autoconfiguration (`rd`, `slaac` in a
//! configuration string) for stacks that run them themselves: the message format and a
//! transport-independent engine whose results a stack installs in its own tables.
//!
//! - [`message`]: router advertisements parsed and emitted (prefixes, MTU, RDNSS, DNSSL),
//!   router solicitations built and parsed, the ICMPv6 checksum.
//! - [`discovery`]: [`RouterDiscovery`], the per-interface state machine.
//!
//! ```
//! use std::net::Ipv6Addr;
//! use std::time::Duration;
//! use nlconf::ndisc::{Action, PrefixInfo, RouterAdvert, RouterDiscovery};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mac = [0x02, 0, 0, 0, 0, 0x01];
//! let mut rd = RouterDiscovery::new(mac, None, true); // slaac: form addresses
//! assert_eq!(rd.start(Duration::ZERO), [Action::Solicit]);
//!
//! // A router answers with a /64 to autoconfigure and a DNS server.
//! let ra = RouterAdvert {
//!     router_lifetime: 1800,
//!     prefixes: vec![PrefixInfo {
//!         prefix: "fc00:1::".parse()?,
//!         prefix_len: 64,
//!         on_link: true,
//!         autonomous: true,
//!         router_address: false,
//!         valid_lifetime: 86_400,
//!         preferred_lifetime: 14_400,
//!     }],
//!     dns_servers: vec![("fc00:1::53".parse()?, 600)],
//!     ..RouterAdvert::default()
//! };
//! let router: Ipv6Addr = "fe80::1".parse()?;
//! let actions = rd.receive(Duration::from_secs(1), router, 255, &ra.emit());
//! let addr = nlconf::hashaddr::eui64("fc00:1::".parse()?, mac); // no fqdn: EUI-64
//! assert_eq!(actions, [
//!     Action::AddRouter(router),
//!     Action::OnLink { prefix: "fc00:1::".parse()?, prefix_len: 64 },
//!     Action::AddAddress { addr, prefix_len: 64 },
//! ]);
//! assert_eq!(rd.dns_servers(), ["fc00:1::53".parse::<Ipv6Addr>()?]);
//!
//! // Advertisements RFC 4861 drops are ignored: here a hop limit that is not 255.
//! assert!(rd.receive(Duration::from_secs(2), router, 64, &ra.emit()).is_empty());
//! # Ok(())
//! # }
//! ```

pub mod discovery;
pub mod message;

pub use discovery::{Action, RouterDiscovery};
pub use message::{
    ALL_ROUTERS, ParseError, PrefixInfo, RouterAdvert, RouterPreference, RouterSolicitation,
    router_solicitation,
};
