//! How the client helpers reach a netlink peer: anything that sends request datagrams and
//! receives reply datagrams, plus the in-process transport that talks straight to a
//! request processor.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::server::{NlEndpoint, Tables};

/// A netlink connection as the client helpers use it: datagram send and receive.
///
/// `recv` blocks until a datagram is available (or fails with the transport's error); a
/// datagram longer than `buf` may be truncated.
pub trait NetlinkTransport {
    /// Sends one datagram holding one or more netlink requests.
    fn send(&self, buf: &[u8]) -> io::Result<usize>;
    /// Receives one reply datagram into `buf`, returning its length.
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl<T: NetlinkTransport + ?Sized> NetlinkTransport for &T {
    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        (**self).send(buf)
    }
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).recv(buf)
    }
}

impl<T: NetlinkTransport + ?Sized> NetlinkTransport for Box<T> {
    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        (**self).send(buf)
    }
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).recv(buf)
    }
}

impl<T: NetlinkTransport + ?Sized> NetlinkTransport for Arc<T> {
    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        (**self).send(buf)
    }
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).recv(buf)
    }
}

/// A transport that hands requests to the request processor over tables owned in-process.
/// Replies are produced during `send`, so `recv` never waits: with nothing queued it fails
/// with EAGAIN.
///
/// ```
/// use nlconf::client::{LocalTransport, NlClient};
/// use nlconf::server::MemTables;
/// # fn main() -> std::io::Result<()> {
/// let client = NlClient::new(LocalTransport::new(MemTables::with_loopback(), 1));
/// client.link_set_mtu(1, 1500)?;
/// // The tables stay reachable, to seed them or to look at them.
/// let mtu = client.transport().with_tables(|t| {
///     use nlconf::server::Tables;
///     t.links()[0].mtu
/// });
/// assert_eq!(mtu, 1500);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LocalTransport<T> {
    inner: Mutex<(T, NlEndpoint)>,
}

impl<T: Tables> LocalTransport<T> {
    /// A transport over `tables`, whose replies carry port id `pid`.
    pub fn new(tables: T, pid: u32) -> LocalTransport<T> {
        LocalTransport {
            inner: Mutex::new((tables, NlEndpoint::new(pid))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, (T, NlEndpoint)> {
        // A panic while holding the lock cannot leave the tables half-updated in a way that
        // matters more than the panic itself: keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the tables (to inspect or seed them).
    pub fn with_tables<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.lock().0)
    }
}

impl<T: Tables> NetlinkTransport for LocalTransport<T> {
    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let mut guard = self.lock();
        let (tables, endpoint) = &mut *guard;
        Ok(endpoint.send(tables, buf))
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.lock().1.recv(buf, false)?.copied)
    }
}
