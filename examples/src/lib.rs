//! Helpers shared by the example programs: command lines with `--help`, errors that end the
//! program with a message instead of a panic, attaching to a VNL (joining a served hub that
//! another process already serves), and nodes: smoltcp stacks configured with a MAC, an IPv4
//! address and a hash-based IPv6 address derived from the node's name.

pub mod attach;
pub mod cmdline;
pub mod failure;
pub mod node;
pub mod peers;
pub mod poll;
pub mod stats;

pub use attach::{Attachment, attach};
pub use cmdline::{CmdLine, Port, at_least_one};
pub use failure::{Context, Failure, run};
pub use node::{Destination, IPV6_BASE, Ipv4Cidr, Node};

/// The README's Rust blocks, compiled as doctests, so that what a newcomer copies from it
/// builds as written. They are `no_run`: a doctest run by `cargo test --workspace` may link
/// two builds of `ioth` (the suite's plugin builds share the target directory), so the blocks
/// that can run are run by `tests/newcomer.rs`, in a crate of their own.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
