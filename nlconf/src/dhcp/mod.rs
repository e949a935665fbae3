//! DHCPv4 for stacks that run it themselves (`dhcp` in a configuration string): the message
//! format and a transport-independent client state machine whose leases are installed
//! through the client helpers.
//!
//! Router discovery and SLAAC live in [`crate::ndisc`]; a stack plugs engines in through
//! [`crate::iothconf::AutoConf`].
//!
//! The client is fed what the server sends and says what to send and what to install; the
//! caller owns the UDP socket (port [`CLIENT_PORT`] to [`SERVER_PORT`]) and the clock:
//!
//! ```
//! use std::net::Ipv4Addr;
//! use std::time::Duration;
//! use nlconf::dhcp::{Action, BOOTREPLY, Dhcp4Client, DhcpMessage, MessageType, State};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mac = [0x02, 0, 0, 0, 0, 0x01];
//! let mut client = Dhcp4Client::new(mac, 0x1234_5678, None);
//! let now = Duration::ZERO; // any monotonic clock
//! let actions = client.start(now);
//! let Some(Action::Send { dst, payload }) = actions.first() else { panic!("a DISCOVER") };
//! assert_eq!(*dst, Ipv4Addr::BROADCAST);
//! let discover = DhcpMessage::parse(payload)?;
//! assert_eq!(discover.message_type, MessageType::Discover);
//!
//! // What a server answers: an offer of 10.0.0.10, then the acknowledgement.
//! let reply = |kind| {
//!     let mut m = DhcpMessage::new(BOOTREPLY, kind, discover.xid, mac);
//!     m.yiaddr = Ipv4Addr::new(10, 0, 0, 10);
//!     m.server_id = Some(Ipv4Addr::new(10, 0, 0, 1));
//!     m.subnet_mask = Some(Ipv4Addr::new(255, 255, 255, 0));
//!     m.routers = vec![Ipv4Addr::new(10, 0, 0, 1)];
//!     m.dns = vec![Ipv4Addr::new(10, 0, 0, 53)];
//!     m.lease_time = Some(3600);
//!     m.emit()
//! };
//! let request = client.receive(now, &reply(MessageType::Offer)); // a REQUEST to send
//! assert!(matches!(request.as_slice(), [Action::Send { .. }]));
//! assert_eq!(client.state(), State::Requesting);
//!
//! let bound = client.receive(now, &reply(MessageType::Ack));
//! let [Action::Bound(lease)] = bound.as_slice() else { panic!("a lease") };
//! assert_eq!((lease.addr, lease.prefix_len), (Ipv4Addr::new(10, 0, 0, 10), 24));
//! assert_eq!(lease.dns, [Ipv4Addr::new(10, 0, 0, 53)]);
//! // Nothing to do until T1, half the lease: then poll() renews with the server.
//! assert_eq!(client.next_deadline(), Some(Duration::from_secs(1800)));
//! assert!(client.poll(Duration::from_secs(1799)).is_empty());
//! assert_eq!(client.poll(Duration::from_secs(1800)).len(), 1);
//! assert_eq!(client.state(), State::Renewing);
//! # Ok(())
//! # }
//! ```
//!
//! [`Lease::install`] puts a lease on an interface through the client helpers.

mod client;
mod message;

pub use client::{Action, Dhcp4Client, Lease, State};
pub use message::{
    BOOTREPLY, BOOTREQUEST, CLIENT_PORT, ClientFqdn, DhcpMessage, FLAG_BROADCAST, MessageType,
    ParseError, SERVER_PORT,
};
