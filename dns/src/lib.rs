//! # ioth-dns: DNS servers over ioth stacks
//!
//! A server toolkit on sockets of any [`ioth::Stack`] (the kernel, a user-space stack, a
//! plugin): write a [`Handler`], give it to [`Server::bind`], and it answers UDP and TCP
//! queries from one event-loop thread of the calling process.
//!
//! - [`Handler::handle`] gets a parsed [`Request`] (hickory-proto's `Message`, client,
//!   local address reached, transport, the client's EDNS size) and returns a [`Response`]:
//!   a message, raw bytes, nothing, or [`Response::Pending`] with a [`Responder`] kept to
//!   answer later from any thread (a forwarder waiting for upstream).
//! - The server keeps the protocol's rules whatever the handler does: responses (QR=1) are
//!   never answered, unparsable queries get FORMERR, unknown opcodes NOTIMP, replies carry an
//!   OPT record exactly when the query did (RFC 6891), replies over the client's limit (512
//!   without EDNS, else its EDNS size capped by ours) are truncated with TC set, UDP replies
//!   leave from the address the query reached (`IP_PKTINFO`/`IPV6_PKTINFO`), TCP connections
//!   carry pipelined queries (RFC 7766) within bounds on connections, buffered output and
//!   idle time. [`Counters`] count what happened.
//! - [`answer`] is the same request path without sockets (tests, fuzzing, other loops);
//!   [`StaticZone`] is a handler serving master-file text.
//!
//! ```no_run
//! use ioth::Stack;
//! use ioth_dns::{Response, Server, ServerConfig, Request};
//! use hickory_proto::op::ResponseCode;
//!
//! # fn main() -> std::io::Result<()> {
//! let stack = Stack::new("kernel", &[])?;
//! let config = ServerConfig { addrs: vec!["127.0.0.1:5353".parse().unwrap()], ..Default::default() };
//! let server = Server::bind(&stack, config, |req: &Request<'_>| {
//!     Response::Message(req.error(ResponseCode::Refused))
//! })?;
//! println!("{:?}", server.counters());
//! server.stop()?;
//! # Ok(())
//! # }
//! ```

mod engine;
mod request;
mod server;
mod tcp;
pub mod zone;

pub use engine::{Context, Counters, DropReason, MAX_MESSAGE, Outcome, answer};
pub use request::{Handler, Request, Responder, Response, Transport};
pub use server::{Server, ServerConfig, ServerHandle};
pub use zone::StaticZone;

/// The wire format, re-exported so that handlers use the same version as the server.
pub use hickory_proto as proto;

/// The EDNS UDP payload size a server advertises unless configured otherwise: 1232 bytes,
/// which fits any IPv6 path without fragmentation (DNS flag day 2020).
pub const DEFAULT_UDP_PAYLOAD: u16 = 1232;
