//! # iothradvd: IPv6 router advertisements from a stack of the Internet of Threads
//!
//! A router advertisement daemon that is itself a thread: [`start`] runs it on any stack
//! (the kernel's, a user-space one on a virtual Ethernet, one the caller made) until the
//! returned [`Handle`] is dropped. It rewrites VirtualSquare's iothradvd, keeping its
//! command line and rc file and fixing its faults (see README.md).
//!
//! The pure core, tested without I/O, time passed in:
//! - [`prefix`]: prefix specifications `addr[/len[/flags[/valid[/preferred]]]]`;
//! - [`advert`]: what an advertisement says and the message (nlconf's emitter);
//! - [`schedule`]: when advertisements go (RFC 4861 §6.2.4, §6.2.6);
//! - [`solicit`]: which solicitations are answered (RFC 4861 §6.1.1);
//! - [`config`]: the command line and rc file, validated into a [`Config`].
//!
//! The I/O shell ([`start`]) opens a raw ICMPv6 socket on the stack, joins all-routers, and
//! sends from the interface's link-local address with hop limit 255.

pub mod advert;
pub mod config;
mod endpoint;
pub mod prefix;
pub mod schedule;
mod server;
pub mod solicit;

pub use advert::Advert;
pub use config::{Config, Options, StackSpec};
pub use prefix::PrefixSpec;
pub use server::{Counters, Handle, TICK, start};
