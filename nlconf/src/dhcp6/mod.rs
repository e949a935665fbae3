//! DHCPv6 for stacks that run it themselves (`dhcp6` in a configuration string): the message
//! format (RFC 8415 with the DNS options of RFC 3646 and the Client FQDN of RFC 4704) and a
//! transport-independent client state machine, stateful (addresses in an IA_NA, plus DNS) or
//! stateless (Information-request: DNS servers and domains only).
//!
//! The caller owns a UDP socket on port [`CLIENT_PORT`] of one interface, sends what
//! [`Action::Send`] says to port [`SERVER_PORT`], hands every datagram received to
//! [`Dhcp6Client::receive`], and calls [`Dhcp6Client::poll`] at
//! [`Dhcp6Client::next_deadline`].
//!
//! Stateless mode (DNS servers and domains only; the addresses come from SLAAC):
//!
//! ```
//! use std::time::Duration;
//! use nlconf::dhcp6::{
//!     ALL_DHCP_RELAY_AGENTS_AND_SERVERS, Action, Dhcp6Client, Dhcp6Message, Dhcp6Option,
//!     MessageType, Mode, State,
//! };
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut client = Dhcp6Client::new([0x02, 0, 0, 0, 0, 0x01], 1, 0xfeed, None, Mode::Stateless);
//! let actions = client.start(Duration::ZERO);
//! let Some(Action::Send { dst, payload }) = actions.first() else { panic!("a request") };
//! assert_eq!(*dst, ALL_DHCP_RELAY_AGENTS_AND_SERVERS); // ff02::1:2
//! let ask = Dhcp6Message::parse(payload)?;
//! assert_eq!(ask.msg_type, MessageType::InformationRequest);
//!
//! let mut reply = Dhcp6Message::new(MessageType::Reply, ask.transaction_id);
//! reply.options = vec![
//!     Dhcp6Option::ServerId(vec![0, 3, 0, 1, 0x02, 0, 0, 0, 0, 0xfe]),
//!     Dhcp6Option::ClientId(client.duid().to_vec()),
//!     Dhcp6Option::DnsServers(vec!["fc00::53".parse()?]),
//!     Dhcp6Option::DomainList(vec!["lan.example".into()]),
//! ];
//! let now = Duration::from_millis(30);
//! let bound = client.receive(now, &reply.emit());
//! let [Action::Bound(lease)] = bound.as_slice() else { panic!("the configuration") };
//! assert_eq!(lease.dns, ["fc00::53".parse::<std::net::Ipv6Addr>()?]);
//! assert_eq!(lease.domains, ["lan.example"]);
//! assert!(lease.addrs.is_empty());
//! assert_eq!(client.state(), State::Informed);
//! // Asked again after the Information Refresh Time (one day when the server names none).
//! assert_eq!(client.next_deadline(), Some(now + Duration::from_secs(86_400)));
//! # Ok(())
//! # }
//! ```

mod client;
mod message;

pub use client::{Action, Dhcp6Client, Lease6, LeasedAddr, Mode, State};
pub use message::{
    ALL_DHCP_RELAY_AGENTS_AND_SERVERS, CLIENT_PORT, ClientFqdn, Dhcp6Message, Dhcp6Option,
    INFINITY, IaAddr, IaAddrOption, IaNa, IaNaOption, MessageType, ParseError, RawOption,
    SERVER_PORT, StatusCode, code, status,
};
