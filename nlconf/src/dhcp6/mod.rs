//! DHCPv6 for stacks that run it themselves (`dhcp6` in a configuration string): the message
//! format (RFC 8415 with the DNS options of RFC 3646 and the Client FQDN of RFC 4704) and a
//! transport-independent client state machine, stateful (addresses in an IA_NA, plus DNS) or
//! stateless (Information-request: DNS servers and domains only).
//!
//! The caller owns a UDP socket on port [`CLIENT_PORT`] of one interface, sends what
//! [`Action::Send`] says to port [`SERVER_PORT`], hands every datagram received to
//! [`Dhcp6Client::receive`], and calls [`Dhcp6Client::poll`] at
//! [`Dhcp6Client::next_deadline`].

mod client;
mod message;

pub use client::{Action, Dhcp6Client, Lease6, LeasedAddr, Mode, State};
pub use message::{
    ALL_DHCP_RELAY_AGENTS_AND_SERVERS, CLIENT_PORT, ClientFqdn, Dhcp6Message, Dhcp6Option,
    INFINITY, IaAddr, IaAddrOption, IaNa, IaNaOption, MessageType, ParseError, RawOption,
    SERVER_PORT, StatusCode, code, status,
};
