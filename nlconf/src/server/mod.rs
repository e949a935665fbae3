//! Server side of rtnetlink: how a user-space stack answers configuration requests.
//!
//! A stack implements [`Tables`] (or keeps its configuration in [`MemTables`]), and hands the
//! bytes an application sends on its netlink socket to [`process`] (or to an [`NlEndpoint`],
//! which also queues the replies with datagram semantics).

mod endpoint;
mod memory;
pub mod notify;
mod processor;
mod tables;

pub use endpoint::{NlEndpoint, Received};
pub use memory::MemTables;
pub use processor::{DUMP_DATAGRAM, process, process_datagrams};
pub use tables::{LinkChange, NewLink, Tables};
