//! The contract between a stack and the request processor: the stack exposes its configuration
//! tables and applies changes; the processor validates requests against the tables first.

use std::io;

use crate::model::{IfAddr, Link, LinkStats, Neighbour, Route};

/// A request to create an interface (RTM_NEWLINK with NLM_F_CREATE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLink {
    /// The index asked for; None lets the stack choose.
    pub index: Option<u32>,
    /// The name, already checked to be valid and not in use.
    pub name: String,
    /// The link kind (`IFLA_INFO_KIND`), e.g. "vde".
    pub kind: String,
    /// The kind-specific data (`IFLA_INFO_DATA`) with trailing NULs removed: for "vde" the VNL.
    pub data: Option<Vec<u8>>,
    /// A MAC address asked for (`IFLA_ADDRESS`).
    pub mac: Option<[u8; 6]>,
    /// An MTU asked for (`IFLA_MTU`).
    pub mtu: Option<u32>,
}

/// Changes to an existing interface (RTM_SETLINK, or RTM_NEWLINK on an existing one). Fields
/// left None are unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkChange {
    /// New value of the user-settable flags ([`crate::model::iff::USER_SETTABLE`]), with
    /// Linux's `ifi_change` mask already combined with the current flags.
    pub flags: Option<u32>,
    /// New MAC address.
    pub mac: Option<[u8; 6]>,
    /// New MTU (already checked to be ≥ 68).
    pub mtu: Option<u32>,
    /// New name (already checked to be valid and not in use).
    pub name: Option<String>,
}

impl LinkChange {
    /// Whether the change changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == LinkChange::default()
    }
}

/// The configuration tables of a stack, as the rtnetlink request processor and the interface
/// ioctls see them.
///
/// The read methods return snapshots in a stable order (links by index). The processor calls a
/// mutator only after checking the request against the snapshots: `set_link`/`del_link` and
/// `add_addr` get an existing link index, `add_addr` gets an address not yet present, `del_addr`
/// and `del_route` get an entry exactly as the snapshot reported it, `add_route` gets a route
/// whose `oif` exists and whose gateway has been resolved to an interface. A mutator may still
/// refuse with the errno Linux would give (ENOSPC when a table is full, EOPNOTSUPP for a link
/// kind the stack cannot create, EBUSY to rename an interface that is up, ...).
pub trait Tables {
    /// All interfaces, ordered by index.
    fn links(&self) -> Vec<Link>;
    /// All addresses of all interfaces.
    fn addrs(&self) -> Vec<IfAddr>;
    /// All routes (including the prefix routes the stack derives from its addresses).
    fn routes(&self) -> Vec<Route>;
    /// The counters of interface `index`, reported in RTM_NEWLINK as `IFLA_STATS64` and
    /// `IFLA_STATS`; None (the default) reports no counters.
    fn link_stats(&self, index: u32) -> Option<LinkStats> {
        let _ = index;
        None
    }
    /// The neighbour cache; empty by default.
    fn neighbours(&self) -> Vec<Neighbour> {
        Vec::new()
    }
    /// Creates an interface and returns its index. Default: EOPNOTSUPP.
    fn add_link(&mut self, link: &NewLink) -> io::Result<u32> {
        let _ = link;
        Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP))
    }
    /// Removes an interface with its addresses and routes. Default: EOPNOTSUPP.
    fn del_link(&mut self, index: u32) -> io::Result<()> {
        let _ = index;
        Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP))
    }
    /// Applies `change` to interface `index`.
    fn set_link(&mut self, index: u32, change: &LinkChange) -> io::Result<()>;
    /// Adds an address.
    fn add_addr(&mut self, addr: &IfAddr) -> io::Result<()>;
    /// Removes an address.
    fn del_addr(&mut self, addr: &IfAddr) -> io::Result<()>;
    /// Adds a route.
    fn add_route(&mut self, route: &Route) -> io::Result<()>;
    /// Removes a route.
    fn del_route(&mut self, route: &Route) -> io::Result<()>;
}
