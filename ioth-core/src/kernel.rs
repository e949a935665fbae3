//! The host kernel's TCP/IP stack, built into the facade: the fallback stack.
//!
//! Every call is the matching system call on the socket's own descriptor: nothing is added
//! but the facade's descriptor lookup. Netlink sockets opened on this stack are the kernel's,
//! so the configuration helpers configure the kernel (or the namespace below).
//!
//! Options (after the implementation name, `"kernel,netns=NAME"`):
//! - `netns=NAME` or `netns=/path/to/ns`: sockets are created inside that network namespace
//!   (`NAME` is looked up in `/run/netns/`, where `ip netns add` puts them). The calling
//!   thread's own namespace is not changed.
//!
//! The kernel stack has no virtual interfaces of its own: a VNL gives `EINVAL`.
//!
//! It lives here, in `ioth` itself, because a socket opened with no default stack falls back
//! to it: a program that depends on `ioth` alone finds `"kernel"` by name (the registry
//! answers it after backends registered or linked under that name). The `ioth-kernel` crate
//! re-exports it and builds the libioth plugin `ioth_kernel.so` from it.

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::Arc;

use crate::backend::{Backend, Ioctl, RecvMeta, SockAddr, SocketOps, StackOps};
use crate::error::{errno, errno_with};
use libc::{c_int, c_long, socklen_t};

/// The implementation name.
pub const NAME: &str = "kernel";

/// The kernel backend.
#[derive(Debug, Default, Clone, Copy)]
pub struct KernelBackend;

impl Backend for KernelBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn new_stack(&self, vnls: &[&str], options: &str) -> io::Result<Box<dyn StackOps>> {
        if let Some(vnl) = vnls.first() {
            return Err(errno_with(
                libc::EINVAL,
                format!("the kernel stack takes no VNL (given {vnl:?}): use a user-space stack"),
            ));
        }
        let mut netns = None;
        for opt in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            match opt.split_once('=') {
                Some(("netns", ns)) if !ns.is_empty() => {
                    let path = if ns.contains('/') {
                        PathBuf::from(ns)
                    } else {
                        PathBuf::from("/run/netns").join(ns)
                    };
                    let file = File::open(&path).map_err(|e| {
                        errno_with(
                            e.raw_os_error().unwrap_or(libc::ENOENT),
                            format!(
                                "kernel stack: cannot open network namespace {}",
                                path.display()
                            ),
                        )
                    })?;
                    netns = Some(Arc::new(OwnedFd::from(file)));
                }
                // The stack's name: `Stack` takes it; nothing of the kernel's depends on it.
                Some(("name", n)) if !n.is_empty() => {}
                _ => {
                    return Err(errno_with(
                        libc::EINVAL,
                        format!(
                            "kernel stack: unknown option {opt:?} (known: netns=NAME, name=NAME)"
                        ),
                    ));
                }
            }
        }
        Ok(Box::new(KernelStack { netns }))
    }
}

/// A kernel stack: the host's own, or a network namespace's.
struct KernelStack {
    netns: Option<Arc<OwnedFd>>,
}

fn cvt(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: isize) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

fn raw_socket(domain: c_int, ty: c_int, protocol: c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) with integer arguments.
    let fd = cvt(unsafe { libc::socket(domain, ty, protocol) })?;
    // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl KernelStack {
    /// Runs `f` in this stack's namespace: here, or on a short-lived thread that enters it,
    /// leaving ours untouched.
    fn in_netns<T: Send>(&self, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
        match &self.netns {
            None => f(),
            Some(ns) => {
                let ns = ns.clone();
                std::thread::scope(|s| {
                    s.spawn(move || {
                        // SAFETY: setns(2) on a namespace descriptor we own, affecting only
                        // this helper thread.
                        cvt(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) })?;
                        f()
                    })
                    .join()
                    .unwrap_or_else(|_| Err(errno(libc::EIO)))
                })
            }
        }
    }
}

impl StackOps for KernelStack {
    fn socket(&self, domain: c_int, ty: c_int, protocol: c_int) -> io::Result<Box<dyn SocketOps>> {
        // A socket belongs to the namespace of the thread that creates it.
        let fd = self.in_netns(|| raw_socket(domain, ty, protocol))?;
        Ok(Box::new(KernelSocket { fd }))
    }

    fn protocol_counters(&self) -> io::Result<crate::counters::ProtocolCounters> {
        // /proc/thread-self/net shows the namespace of the thread reading it.
        self.in_netns(crate::counters::ProtocolCounters::of_this_thread)
    }
}

/// A kernel socket: the descriptor itself.
struct KernelSocket {
    fd: OwnedFd,
}

/// Runs a call that fills a socket address, as getsockname/accept do.
fn with_addr(
    f: impl FnOnce(*mut libc::sockaddr, *mut socklen_t) -> io::Result<c_int>,
) -> io::Result<(c_int, SockAddr)> {
    let mut ret = 0;
    // SAFETY: try_init hands a zeroed sockaddr_storage and its length to fill; the kernel
    // writes at most that length.
    let ((), addr) = unsafe {
        SockAddr::try_init(|st, len| {
            ret = f(st.cast(), len)?;
            Ok(())
        })
    }?;
    Ok((ret, addr))
}

impl SocketOps for KernelSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn bind(&self, addr: &SockAddr) -> io::Result<()> {
        // SAFETY: addr is valid for addr.len() bytes.
        cvt(unsafe { libc::bind(self.as_raw_fd(), addr.as_ptr().cast(), addr.len()) }).map(drop)
    }

    fn connect(&self, addr: &SockAddr) -> io::Result<()> {
        loop {
            // SAFETY: addr is valid for addr.len() bytes.
            let r =
                cvt(unsafe { libc::connect(self.as_raw_fd(), addr.as_ptr().cast(), addr.len()) });
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r.map(drop),
            }
        }
    }

    fn listen(&self, backlog: c_int) -> io::Result<()> {
        // SAFETY: integer arguments.
        cvt(unsafe { libc::listen(self.as_raw_fd(), backlog) }).map(drop)
    }

    fn accept(&self, flags: c_int) -> io::Result<(Box<dyn SocketOps>, SockAddr)> {
        let fd = self.as_raw_fd();
        let (newfd, addr) = with_addr(|a, l| {
            // SAFETY: a/l describe a writable address buffer.
            cvt(unsafe { libc::accept4(fd, a, l, flags) })
        })?;
        // SAFETY: accept4 returned a new descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(newfd) };
        let conn = KernelSocket { fd };
        Ok((Box::new(conn), addr))
    }

    fn local_addr(&self) -> io::Result<SockAddr> {
        let fd = self.as_raw_fd();
        // SAFETY: a/l describe a writable address buffer.
        Ok(with_addr(|a, l| cvt(unsafe { libc::getsockname(fd, a, l) }))?.1)
    }

    fn peer_addr(&self) -> io::Result<SockAddr> {
        let fd = self.as_raw_fd();
        // SAFETY: a/l describe a writable address buffer.
        Ok(with_addr(|a, l| cvt(unsafe { libc::getpeername(fd, a, l) }))?.1)
    }

    fn setsockopt(&self, level: c_int, name: c_int, value: &[u8]) -> io::Result<()> {
        let len = socklen_t::try_from(value.len()).map_err(|_| errno(libc::EINVAL))?;
        // SAFETY: value is valid for len bytes.
        cvt(unsafe { libc::setsockopt(self.as_raw_fd(), level, name, value.as_ptr().cast(), len) })
            .map(drop)
    }

    fn getsockopt(&self, level: c_int, name: c_int, value: &mut [u8]) -> io::Result<usize> {
        let mut len = socklen_t::try_from(value.len()).map_err(|_| errno(libc::EINVAL))?;
        // SAFETY: value is writable for len bytes.
        cvt(unsafe {
            libc::getsockopt(
                self.as_raw_fd(),
                level,
                name,
                value.as_mut_ptr().cast(),
                &mut len,
            )
        })?;
        Ok(len as usize)
    }

    fn shutdown(&self, how: c_int) -> io::Result<()> {
        // SAFETY: integer arguments.
        cvt(unsafe { libc::shutdown(self.as_raw_fd(), how) }).map(drop)
    }

    fn ioctl(&self, request: Ioctl<'_>) -> io::Result<c_int> {
        let fd = self.as_raw_fd();
        match request {
            Ioctl::Int { request, value } => {
                // SAFETY: the request takes an int pointer, which value is.
                let r = unsafe { libc::ioctl(fd, request, value as *mut c_int) };
                cvt(r)
            }
            Ioctl::IfReq { request, ifreq } => {
                // SAFETY: the request takes a struct ifreq pointer, which ifreq's bytes are.
                let r = unsafe { libc::ioctl(fd, request, ifreq.as_mut_ptr()) };
                cvt(r)
            }
            Ioctl::IfConf { len, buf } => {
                // SAFETY: ifconf is plain data.
                let mut ifc: libc::ifconf = unsafe { mem::zeroed() };
                ifc.ifc_len = *len;
                ifc.ifc_ifcu.ifcu_buf = buf.map_or(std::ptr::null_mut(), |b| b.as_mut_ptr().cast());
                // SAFETY: ifc is a valid struct ifconf whose buffer holds ifc_len bytes.
                let r = cvt(unsafe {
                    libc::ioctl(fd, libc::SIOCGIFCONF, &mut ifc as *mut libc::ifconf)
                })?;
                *len = ifc.ifc_len;
                Ok(r)
            }
            // SAFETY: the caller vouched for the argument when making the RawIoctlArg.
            Ioctl::Raw { request, arg } => cvt(unsafe { libc::ioctl(fd, request, arg.as_ptr()) }),
        }
    }

    fn fcntl(&self, cmd: c_int, arg: c_long) -> io::Result<c_int> {
        match cmd {
            libc::F_GETFL | libc::F_SETFL | libc::F_GETFD | libc::F_SETFD => {
                // SAFETY: integer commands with an integer argument.
                cvt(unsafe { libc::fcntl(self.as_raw_fd(), cmd, arg) })
            }
            _ => Err(errno(libc::EINVAL)),
        }
    }

    fn recv_msg(
        &self,
        bufs: &mut [IoSliceMut<'_>],
        control: &mut [u8],
        flags: c_int,
    ) -> io::Result<RecvMeta> {
        let fd = self.as_raw_fd();
        crate::sys::recv_with_msghdr(bufs, control, |msg| {
            // SAFETY: msg describes valid buffers for the call.
            cvt_size(unsafe { libc::recvmsg(fd, msg, flags) })
        })
    }

    fn send_msg(
        &self,
        bufs: &[IoSlice<'_>],
        addr: Option<&SockAddr>,
        control: &[u8],
        flags: c_int,
    ) -> io::Result<usize> {
        let fd = self.as_raw_fd();
        crate::sys::send_with_msghdr(bufs, addr, control, |msg| {
            // SAFETY: msg describes valid buffers that the kernel only reads.
            cvt_size(unsafe { libc::sendmsg(fd, msg, flags | libc::MSG_NOSIGNAL) })
        })
    }

    fn recv(&self, buf: &mut [u8], flags: c_int) -> io::Result<usize> {
        // SAFETY: buf is writable for buf.len() bytes.
        cvt_size(unsafe { libc::recv(self.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) })
    }

    fn recv_from(&self, buf: &mut [u8], flags: c_int) -> io::Result<(usize, Option<SockAddr>)> {
        let fd = self.as_raw_fd();
        let mut n = 0;
        let (_, addr) = with_addr(|a, l| {
            // SAFETY: buf is writable for its length; a/l describe an address buffer.
            n = cvt_size(unsafe {
                libc::recvfrom(fd, buf.as_mut_ptr().cast(), buf.len(), flags, a, l)
            })?;
            Ok(0)
        })?;
        // A connected stream reports no address (length 0).
        let addr = (addr.len() > 0 && addr.family() != libc::AF_UNSPEC as libc::sa_family_t)
            .then_some(addr);
        Ok((n, addr))
    }

    fn send(&self, buf: &[u8], flags: c_int) -> io::Result<usize> {
        // SAFETY: buf is readable for buf.len() bytes.
        cvt_size(unsafe {
            libc::send(
                self.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                flags | libc::MSG_NOSIGNAL,
            )
        })
    }

    fn send_to(&self, buf: &[u8], addr: &SockAddr, flags: c_int) -> io::Result<usize> {
        // SAFETY: buf and addr are valid for their lengths.
        cvt_size(unsafe {
            libc::sendto(
                self.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                flags | libc::MSG_NOSIGNAL,
                addr.as_ptr().cast(),
                addr.len(),
            )
        })
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is writable for buf.len() bytes.
        cvt_size(unsafe { libc::read(self.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        // A write on a socket is a send; MSG_NOSIGNAL turns SIGPIPE into EPIPE, as std does.
        self.send(buf, 0)
    }

    fn close(self: Box<Self>) -> io::Result<()> {
        let fd = std::os::fd::IntoRawFd::into_raw_fd(self.fd);
        // SAFETY: we own fd and close it exactly once.
        cvt(unsafe { libc::close(fd) }).map(drop)
    }
}
