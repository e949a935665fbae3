//! Stack configuration: in-process rtnetlink, client helpers, the iothconf grammar and
//! hash-based addresses.
//!
//! This crate depends on no other crate of the project.

pub mod client;
pub mod dhcp;
pub mod hashaddr;
pub mod ioctl;
pub mod iothconf;
pub mod model;
pub mod rtnl;
pub mod server;
