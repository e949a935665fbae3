//! Server side of rtnetlink: how a user-space stack answers configuration requests.
//!
//! A stack implements [`Tables`] (or keeps its configuration in [`MemTables`]), and hands the
//! bytes an application sends on its netlink socket to [`process`] (or to an [`NlEndpoint`],
//! which also queues the replies with datagram semantics).
//!
//! A request in, the replies out, as a kernel netlink socket would give them:
//!
//! ```
//! use netlink_packet_route::RouteNetlinkMessage;
//! use netlink_packet_route::link::LinkMessage;
//! use nlconf::rtnl::{self, flags::*, rtm};
//! use nlconf::server::{MemTables, process};
//!
//! let mut tables = MemTables::with_loopback();
//! let dump = RouteNetlinkMessage::GetLink(LinkMessage::default());
//! let request = rtnl::encode(dump, NLM_F_REQUEST | NLM_F_DUMP, 7, 0);
//! let reply = process(&mut tables, &request, 4242);
//!
//! let headers: Vec<_> = rtnl::messages(&reply).map(|(hdr, _)| hdr).collect();
//! let types: Vec<u16> = headers.iter().map(|h| h.ty).collect();
//! assert_eq!(types, [rtm::NEWLINK, NLMSG_DONE]); // `lo`, then the end of the dump
//! assert!(headers.iter().all(|h| h.seq == 7 && h.pid == 4242));
//! assert_eq!(headers[0].flags & NLM_F_MULTI, NLM_F_MULTI);
//! ```

mod endpoint;
mod memory;
pub mod notify;
mod processor;
mod tables;

pub use endpoint::{NlEndpoint, Received};
pub use memory::MemTables;
pub use processor::{DUMP_DATAGRAM, process, process_datagrams};
pub use tables::{LinkChange, NewLink, Tables};
