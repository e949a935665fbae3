//! A transport over a real kernel `AF_NETLINK` / `NETLINK_ROUTE` socket, optionally opened
//! inside another network namespace.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use super::transport::NetlinkTransport;

/// A kernel rtnetlink socket bound to a kernel-chosen port id.
///
/// Reading the kernel's configuration needs no privilege:
///
/// ```
/// use nlconf::client::{KernelNetlink, NlClient};
/// # fn main() -> std::io::Result<()> {
/// let kernel = NlClient::new(KernelNetlink::open()?);
/// let lo = kernel.link_by_name("lo")?; // every network namespace has it
/// assert!(lo.flags & nlconf::model::iff::LOOPBACK != 0);
/// assert_eq!(kernel.if_indextoname(lo.index)?, "lo");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct KernelNetlink {
    fd: OwnedFd,
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

impl KernelNetlink {
    /// Opens a NETLINK_ROUTE socket in the calling thread's network namespace.
    pub fn open() -> io::Result<KernelNetlink> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = cvt(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: an all-zero sockaddr_nl is valid (pid 0 = let the kernel choose).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `addr` is a valid sockaddr_nl of the size passed.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        })?;
        Ok(KernelNetlink { fd })
    }

    /// Opens a NETLINK_ROUTE socket inside the network namespace of `netns` (e.g.
    /// `/run/netns/NAME`): a short-lived thread enters the namespace and creates the socket,
    /// which stays bound to that namespace. The caller's namespace is not changed.
    pub fn open_in_netns(netns: &Path) -> io::Result<KernelNetlink> {
        let path: PathBuf = netns.to_path_buf();
        std::thread::spawn(move || {
            let ns = File::open(&path)?;
            // SAFETY: setns(2) on a namespace fd we hold open; affects only this thread.
            cvt(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) })?;
            KernelNetlink::open()
        })
        .join()
        .map_err(|_| io::Error::other("netns thread panicked"))?
    }

    /// The port id the kernel assigned to this socket.
    pub fn port_id(&self) -> io::Result<u32> {
        // SAFETY: an all-zero sockaddr_nl is valid storage for getsockname.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: `addr` and `len` describe writable storage of the right size.
        cvt(unsafe {
            libc::getsockname(
                self.fd.as_raw_fd(),
                (&mut addr as *mut libc::sockaddr_nl).cast(),
                &mut len,
            )
        })?;
        Ok(addr.nl_pid)
    }
}

impl AsRawFd for KernelNetlink {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl NetlinkTransport for KernelNetlink {
    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is a valid readable slice for its length; the socket is bound, and
        // send(2) on an unconnected netlink socket goes to the kernel (port 0).
        cvt_size(unsafe { libc::send(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0) })
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is a valid writable slice for its length.
            let r =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            match cvt_size(r) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}
