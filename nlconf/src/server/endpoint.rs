//! [`NlEndpoint`]: the server half of one emulated `AF_NETLINK` socket. A stack keeps one per
//! netlink socket an application opened on it: requests go in with [`NlEndpoint::send`], reply
//! datagrams queue up and come out with [`NlEndpoint::recv`] with datagram semantics.

use std::collections::VecDeque;
use std::io;

use super::processor::process_datagrams;
use super::tables::Tables;

/// Reply queue and port id of one emulated netlink socket.
///
/// ```
/// use netlink_packet_route::RouteNetlinkMessage;
/// use netlink_packet_route::link::LinkMessage;
/// use nlconf::rtnl::{self, RawHeader, flags::*};
/// use nlconf::server::{MemTables, NlEndpoint};
///
/// let mut tables = MemTables::with_loopback();
/// let mut socket = NlEndpoint::new(99);
/// let mut bad = LinkMessage::default();
/// bad.header.index = 42; // no such interface
/// let request = rtnl::encode(RouteNetlinkMessage::GetLink(bad), NLM_F_REQUEST, 1, 0);
/// assert_eq!(socket.send(&mut tables, &request), request.len()); // a send always succeeds
/// assert!(socket.readable());
///
/// let mut buf = [0u8; 8192];
/// let got = socket.recv(&mut buf, false).expect("the reply");
/// let hdr = RawHeader::parse(&buf[..got.copied]).expect("a header");
/// assert_eq!((hdr.ty, hdr.pid), (NLMSG_ERROR, 99));
/// let errno = i32::from_ne_bytes(buf[16..20].try_into().expect("4 bytes"));
/// assert_eq!(errno, -libc::ENODEV);
/// let empty = socket.recv(&mut buf, false).expect_err("one reply only");
/// assert_eq!(empty.raw_os_error(), Some(libc::EAGAIN));
/// ```
#[derive(Debug)]
pub struct NlEndpoint {
    pid: u32,
    queue: VecDeque<Vec<u8>>,
    /// Joined multicast groups (bit `g - 1` for group `g`, groups 1..=32 as `nl_groups`).
    groups: u32,
}

/// Most notification datagrams queued unread before more are dropped (the socket's receive
/// buffer is full: Linux then reports ENOBUFS once, which a listener answers by dumping).
pub const NOTIFY_QUEUE_MAX: usize = 1024;

/// What one [`NlEndpoint::recv`] delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Bytes copied into the caller's buffer.
    pub copied: usize,
    /// Full length of the datagram (greater than `copied` when it was truncated: MSG_TRUNC).
    pub len: usize,
}

impl NlEndpoint {
    /// An endpoint whose replies carry port id `pid`.
    pub fn new(pid: u32) -> NlEndpoint {
        NlEndpoint {
            pid,
            queue: VecDeque::new(),
            groups: 0,
        }
    }

    /// Sets the joined groups as `bind(2)` with `nl_groups` does (a bit mask of groups 1..=32).
    pub fn set_groups(&mut self, mask: u32) {
        self.groups = mask;
    }

    /// Joins or leaves group `group` (`NETLINK_ADD_MEMBERSHIP`/`NETLINK_DROP_MEMBERSHIP`);
    /// EINVAL for a group outside 1..=32.
    pub fn set_membership(&mut self, group: u32, member: bool) -> io::Result<()> {
        let bit = super::notify::group_bit(group);
        if bit == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        if member {
            self.groups |= bit;
        } else {
            self.groups &= !bit;
        }
        Ok(())
    }

    /// The joined groups, as `getsockname(2)`'s `nl_groups` shows them.
    pub fn groups(&self) -> u32 {
        self.groups
    }

    /// Queues notification `datagram` of group `group` if this endpoint joined it; true
    /// when it did (and there was room).
    pub fn notify(&mut self, group: u32, datagram: &[u8]) -> bool {
        let bit = super::notify::group_bit(group);
        if self.groups & bit == 0 || self.queue.len() >= NOTIFY_QUEUE_MAX {
            return false;
        }
        self.queue.push_back(datagram.to_vec());
        true
    }

    /// The port id replies carry.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Processes the requests in `request` against `tables` and queues the replies. Returns
    /// `request.len()`: like a kernel netlink socket, a send of well-formed or malformed
    /// requests always succeeds; errors come back as NLMSG_ERROR replies.
    pub fn send<T: Tables + ?Sized>(&mut self, tables: &mut T, request: &[u8]) -> usize {
        self.queue
            .extend(process_datagrams(tables, request, self.pid));
        request.len()
    }

    /// Whether a reply is waiting (the socket is readable).
    pub fn readable(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Takes the next reply datagram into `buf` (or only looks at it when `peek`); a datagram
    /// longer than `buf` is truncated and its rest lost, as on a kernel datagram socket.
    /// EAGAIN when no reply is waiting.
    pub fn recv(&mut self, buf: &mut [u8], peek: bool) -> io::Result<Received> {
        let datagram = self
            .queue
            .front()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EAGAIN))?;
        let copied = datagram.len().min(buf.len());
        buf[..copied].copy_from_slice(&datagram[..copied]);
        let len = datagram.len();
        if !peek {
            self.queue.pop_front();
        }
        Ok(Received { copied, len })
    }
}
