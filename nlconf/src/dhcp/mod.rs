//! DHCPv4 for stacks that run it themselves (`dhcp` in a configuration string): the message
//! format and a transport-independent client state machine whose leases are installed
//! through the client helpers.
//!
//! Router discovery and SLAAC live in [`crate::ndisc`]; a stack plugs engines in through
//! [`crate::iothconf::AutoConf`].

mod client;
mod message;

pub use client::{Action, Dhcp4Client, Lease, State};
pub use message::{
    BOOTREPLY, BOOTREQUEST, CLIENT_PORT, ClientFqdn, DhcpMessage, FLAG_BROADCAST, MessageType,
    ParseError, SERVER_PORT,
};
