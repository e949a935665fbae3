//! [`ConfigWatch`]: a descriptor that becomes readable when a stack's configuration changes.
//!
//! It is a netlink socket of the stack that joined rtnetlink's link, address and route
//! groups, as `ip monitor` does on Linux: on the kernel stack the kernel's notifications, on
//! the smoltcp stack its own (`nlconf::server::notify`). Poll it with anything (mio, tokio's
//! `AsyncFd`, `poll(2)`), then [`ConfigWatch::drain`] it and look at the stack again.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use crate::socket::Socket;
use crate::stack::Stack;

/// `RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR |
/// RTMGRP_IPV6_ROUTE`.
pub const WATCHED_GROUPS: u32 = 0x1 | 0x10 | 0x40 | 0x100 | 0x400;

/// A netlink socket of a stack listening to its link, address and route changes: readable
/// when one happened (see the module documentation). Changes of the DNS servers a stack
/// learned are not among them.
#[derive(Debug)]
pub struct ConfigWatch {
    sock: Socket,
}

/// `struct sockaddr_nl` for port id 0 (the stack chooses) in `groups`.
fn netlink_groups_addr(groups: u32) -> io::Result<socket2::SockAddr> {
    // SAFETY: sockaddr_nl fits in the zeroed sockaddr_storage try_init hands us; its fields
    // are written before the length that covers them is reported.
    let ((), addr) = unsafe {
        socket2::SockAddr::try_init(|st, len| {
            let nl = st.cast::<libc::sockaddr_nl>();
            (*nl).nl_family = libc::AF_NETLINK as libc::sa_family_t;
            (*nl).nl_pid = 0;
            (*nl).nl_groups = groups;
            *len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            Ok(())
        })
    }?;
    Ok(addr)
}

impl Stack {
    /// A [`ConfigWatch`] on this stack: readable whenever a link, an address or a route of
    /// the stack changes (by netlink, DHCP, router discovery, a link losing its carrier).
    pub fn config_watch(&self) -> io::Result<ConfigWatch> {
        let sock = self.socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )?;
        sock.bind(&netlink_groups_addr(WATCHED_GROUPS)?)
            .map_err(|e| {
                crate::with_context(&e, format_args!("{}: netlink groups", self.name()))
            })?;
        sock.set_nonblocking(true)?;
        Ok(ConfigWatch { sock })
    }
}

impl ConfigWatch {
    /// Waits until a change is waiting to be read, at most `timeout` (`None`: for ever);
    /// false when the time passed first. What is waiting stays until [`ConfigWatch::drain`].
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let mut fds = [libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let deadline = timeout.map(|t| Instant::now() + t);
        Ok(crate::sys::poll_until(&mut fds, deadline)? > 0)
    }

    /// Reads every notification waiting, without blocking; returns how many datagrams
    /// there were (0: no change since the last drain). Notifications lost to a full queue
    /// (`ENOBUFS`) count as one: look at the whole configuration again.
    pub fn drain(&self) -> io::Result<usize> {
        let mut buf = vec![0u8; 16 * 1024];
        let mut n = 0;
        loop {
            match self.sock.recv(&mut buf, 0) {
                Ok(_) => n += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(n),
                Err(e) if crate::errno_of(&e) == libc::ENOBUFS => n += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsRawFd for ConfigWatch {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}
