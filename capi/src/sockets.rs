//! Sockets for C: `ioth_msocket`, `ioth_socket` and every BSD call, on descriptor numbers.
//!
//! Each call finds the socket in ioth's descriptor table ([`ioth::bsd`]); a descriptor that is
//! not an ioth socket gives `EBADF` (libioth's `ioth_close` gave `ENOSYS`). Pointers are
//! checked as the kernel checks them: a NULL buffer with a non-zero length is `EFAULT`.

use std::io::{self, IoSlice, IoSliceMut};

use ioth::plugin::abi::{iovecs, sockaddr_in, sockaddr_out};
use ioth::plugin::export::ioctl_from_c;
use libc::{c_int, c_long, c_ulong, c_void, iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};

use crate::boundary::{buf_in, buf_out, call, err};
use crate::stacks::{Ioth, init, stack_arg};

fn len_ret(n: usize) -> ssize_t {
    ssize_t::try_from(n).unwrap_or(ssize_t::MAX)
}

/// Checks an output address pair before a call that fills it: `EFAULT` for an address buffer
/// without a length, or a NULL buffer with room (`require_len`: the length is mandatory, as
/// for getsockname).
///
/// # Safety
/// `len` must be NULL or valid for reading.
unsafe fn check_addr_out(
    addr: *mut sockaddr,
    len: *mut socklen_t,
    require_len: bool,
) -> io::Result<()> {
    if len.is_null() {
        if require_len || !addr.is_null() {
            return Err(err(libc::EFAULT));
        }
        return Ok(());
    }
    // SAFETY: len is non-NULL and readable per the contract.
    if addr.is_null() && unsafe { *len } > 0 && require_len {
        return Err(err(libc::EFAULT));
    }
    // SAFETY: as above.
    if (unsafe { *len } as c_int) < 0 {
        return Err(err(libc::EINVAL));
    }
    Ok(())
}

/// The iovecs of a C array as std slices, each checked: `EFAULT` for a NULL base with a
/// length.
///
/// # Safety
/// Each iovec must describe memory valid for the returned lifetime.
unsafe fn io_slices<'a>(iov: *const iovec, count: c_int) -> io::Result<&'a [IoSlice<'a>]> {
    // SAFETY: forwarded contract.
    let v = unsafe { iovecs(iov, count) }?;
    if v.iter().any(|i| i.iov_base.is_null() && i.iov_len > 0) {
        return Err(err(libc::EFAULT));
    }
    // SAFETY: IoSlice is ABI-compatible with iovec on Unix (std guarantees it); every entry
    // points at valid memory per the contract.
    Ok(unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<IoSlice<'a>>(), v.len()) })
}

/// The iovecs of a C array as std mutable slices, checked like [`io_slices`].
///
/// # Safety
/// Each iovec must describe writable, unaliased memory valid for the returned lifetime.
unsafe fn io_slices_mut<'a>(
    iov: *const iovec,
    count: c_int,
) -> io::Result<&'a mut [IoSliceMut<'a>]> {
    // SAFETY: forwarded contract.
    let v = unsafe { iovecs(iov, count) }?;
    if v.iter().any(|i| i.iov_base.is_null() && i.iov_len > 0) {
        return Err(err(libc::EFAULT));
    }
    // SAFETY: IoSliceMut is ABI-compatible with iovec on Unix; the buffers are writable and
    // unaliased per the contract (the iovec array itself is only read through this view).
    Ok(unsafe { std::slice::from_raw_parts_mut(v.as_ptr() as *mut IoSliceMut<'a>, v.len()) })
}

/// Opens a socket on `iothstack` (NULL: the default stack) as `socket(2)`; returns a real
/// file descriptor or -1 with errno (`EINVAL` for a pointer that is not a live stack,
/// `ENONET` on a deleted stack, the stack's errno otherwise).
///
/// # Safety
/// Any pointer value is accepted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_msocket(
    iothstack: *mut Ioth,
    domain: c_int,
    ty: c_int,
    protocol: c_int,
) -> c_int {
    call(-1, || {
        let stack = stack_arg(iothstack)?;
        ioth::bsd::msocket(Some(&stack), domain, ty, protocol)
    })
}

/// Opens a socket on the default stack: this thread's (ioth-rs extension), else the process's
/// ([`crate::stacks::ioth_set_defstack`]), else the kernel.
#[unsafe(no_mangle)]
pub extern "C" fn ioth_socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    call(-1, || {
        init();
        ioth::bsd::socket(domain, ty, protocol)
    })
}

/// Closes an ioth socket: 0, or -1 with `EBADF` when `fd` is not one.
#[unsafe(no_mangle)]
pub extern "C" fn ioth_close(fd: c_int) -> c_int {
    call(-1, || ioth::bsd::close(fd).map(|()| 0))
}

/// `bind(2)` on an ioth socket.
///
/// # Safety
/// `addr` must be NULL or valid for reading `addrlen` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_bind(fd: c_int, addr: *const sockaddr, addrlen: socklen_t) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        let a = unsafe { sockaddr_in(addr, addrlen) }?;
        ioth::bsd::bind(fd, &a).map(|()| 0)
    })
}

/// `connect(2)` on an ioth socket.
///
/// # Safety
/// `addr` must be NULL or valid for reading `addrlen` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_connect(
    fd: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        let a = unsafe { sockaddr_in(addr, addrlen) }?;
        ioth::bsd::connect(fd, &a).map(|()| 0)
    })
}

/// `listen(2)` on an ioth socket.
#[unsafe(no_mangle)]
pub extern "C" fn ioth_listen(fd: c_int, backlog: c_int) -> c_int {
    call(-1, || ioth::bsd::listen(fd, backlog).map(|()| 0))
}

/// `accept(2)` on an ioth socket: the connection's descriptor (an ioth socket of the same
/// stack); the peer's address is written as the kernel writes it (truncated to `*addrlen`,
/// which becomes the full length).
///
/// # Safety
/// `addr`/`addrlen` must be NULL or valid (`addr` for `*addrlen` bytes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_accept(
    fd: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        unsafe { check_addr_out(addr, addrlen, false) }?;
        let (conn, peer) = ioth::bsd::accept(fd, 0)?;
        // SAFETY: checked above; valid per the contract.
        unsafe { sockaddr_out(&peer, addr, addrlen) };
        Ok(conn)
    })
}

/// `getsockname(2)` on an ioth socket.
///
/// # Safety
/// `addrlen` must be valid; `addr` valid for `*addrlen` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_getsockname(
    fd: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        unsafe { check_addr_out(addr, addrlen, true) }?;
        let a = ioth::bsd::getsockname(fd)?;
        // SAFETY: checked above; valid per the contract.
        unsafe { sockaddr_out(&a, addr, addrlen) };
        Ok(0)
    })
}

/// `getpeername(2)` on an ioth socket (`ENOTCONN` when not connected).
///
/// # Safety
/// `addrlen` must be valid; `addr` valid for `*addrlen` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_getpeername(
    fd: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        unsafe { check_addr_out(addr, addrlen, true) }?;
        let a = ioth::bsd::getpeername(fd)?;
        // SAFETY: checked above; valid per the contract.
        unsafe { sockaddr_out(&a, addr, addrlen) };
        Ok(0)
    })
}

/// `setsockopt(2)` on an ioth socket.
///
/// # Safety
/// `optval` must be NULL or valid for reading `optlen` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_setsockopt(
    fd: c_int,
    level: c_int,
    optname: c_int,
    optval: *const c_void,
    optlen: socklen_t,
) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        let value = unsafe { buf_in(optval, optlen as usize) }?;
        ioth::bsd::setsockopt(fd, level, optname, value).map(|()| 0)
    })
}

/// `getsockopt(2)` on an ioth socket: `*optlen` is the room in, the value's length out.
///
/// # Safety
/// `optlen` must be valid; `optval` valid for `*optlen` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_getsockopt(
    fd: c_int,
    level: c_int,
    optname: c_int,
    optval: *mut c_void,
    optlen: *mut socklen_t,
) -> c_int {
    call(-1, || {
        // SAFETY: NULL or valid per the contract.
        let room = unsafe { optlen.as_mut() }.ok_or_else(|| err(libc::EFAULT))?;
        if (*room as c_int) < 0 {
            return Err(err(libc::EINVAL));
        }
        // SAFETY: per the contract.
        let buf = unsafe { buf_out(optval, *room as usize) }?;
        let n = ioth::bsd::getsockopt(fd, level, optname, buf)?;
        *room = socklen_t::try_from(n).map_err(|_| err(libc::EINVAL))?;
        Ok(0)
    })
}

/// `shutdown(2)` on an ioth socket.
#[unsafe(no_mangle)]
pub extern "C" fn ioth_shutdown(fd: c_int, how: c_int) -> c_int {
    call(-1, || ioth::bsd::shutdown(fd, how).map(|()| 0))
}

/// `ioctl(2)` on an ioth socket (libioth's three-argument form): integer requests
/// (`FIONREAD`, `FIONBIO`, `SIOCOUTQ`, `SIOCATMARK`), interface requests on a `struct ifreq`,
/// `SIOCGIFCONF`; others go to the stack as given.
///
/// # Safety
/// `argp` must be valid for what `cmd` reads and writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_ioctl(fd: c_int, cmd: c_ulong, argp: *mut c_void) -> c_int {
    call(-1, || {
        if !ioth::bsd::is_socket(fd) {
            return Err(err(libc::EBADF));
        }
        // SAFETY: per the contract.
        let request = unsafe { ioctl_from_c(cmd, argp) }?;
        ioth::bsd::ioctl(fd, request)
    })
}

/// `fcntl(2)` on an ioth socket with an integer argument (libioth's three-argument form):
/// `F_GETFL`, `F_SETFL` (`O_NONBLOCK`), `F_GETFD`, `F_SETFD`.
#[unsafe(no_mangle)]
pub extern "C" fn ioth_fcntl(fd: c_int, cmd: c_int, val: c_long) -> c_int {
    call(-1, || ioth::bsd::fcntl(fd, cmd, val))
}

/// `read(2)` on an ioth socket.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
    call(-1, || {
        // SAFETY: per the contract.
        let b = unsafe { buf_out(buf, len) }?;
        ioth::bsd::read(fd, b).map(len_ret)
    })
}

/// `readv(2)` on an ioth socket.
///
/// # Safety
/// `iov` must hold `iovcnt` iovecs of writable buffers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_readv(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    call(-1, || {
        // SAFETY: per the contract.
        let bufs = unsafe { io_slices_mut(iov, iovcnt) }?;
        ioth::bsd::readv(fd, bufs).map(len_ret)
    })
}

/// `recv(2)` on an ioth socket.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_recv(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
) -> ssize_t {
    call(-1, || {
        // SAFETY: per the contract.
        let b = unsafe { buf_out(buf, len) }?;
        ioth::bsd::recv(fd, b, flags).map(len_ret)
    })
}

/// `recvfrom(2)` on an ioth socket: the sender's address as the kernel writes it; `*fromlen`
/// becomes 0 when the socket reports none.
///
/// # Safety
/// `buf` must be NULL or valid for `len` bytes; `from`/`fromlen` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    from: *mut sockaddr,
    fromlen: *mut socklen_t,
) -> ssize_t {
    call(-1, || {
        // SAFETY: per the contract.
        unsafe { check_addr_out(from, fromlen, false) }?;
        // SAFETY: per the contract.
        let b = unsafe { buf_out(buf, len) }?;
        let (n, sender) = ioth::bsd::recvfrom(fd, b, flags)?;
        match sender {
            // SAFETY: checked above; valid per the contract.
            Some(a) => unsafe { sockaddr_out(&a, from, fromlen) },
            None => {
                // SAFETY: NULL or valid per the contract.
                if let Some(l) = unsafe { fromlen.as_mut() } {
                    *l = 0;
                }
            }
        }
        Ok(len_ret(n))
    })
}

/// `recvmsg(2)` on an ioth socket: fills the buffers, `msg_name`/`msg_namelen`,
/// `msg_controllen` and `msg_flags`.
///
/// # Safety
/// `msg` must be a valid `struct msghdr` whose pointers are NULL or valid for their lengths.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid per the contract.
        let m = unsafe { msg.as_mut() }.ok_or_else(|| err(libc::EFAULT))?;
        let count = c_int::try_from(m.msg_iovlen).map_err(|_| err(libc::EMSGSIZE))?;
        // SAFETY: the msghdr's buffers are valid per the contract.
        let bufs = unsafe { io_slices_mut(m.msg_iov, count) }?;
        // SAFETY: as above.
        let control = unsafe { buf_out(m.msg_control, m.msg_controllen) }?;
        let meta = ioth::bsd::recvmsg(fd, bufs, control, flags)?;
        match &meta.addr {
            Some(a) if !m.msg_name.is_null() => {
                // SAFETY: msg_name is valid for msg_namelen bytes per the contract.
                unsafe { sockaddr_out(a, m.msg_name.cast(), &mut m.msg_namelen) }
            }
            Some(a) => m.msg_namelen = a.len(),
            None => m.msg_namelen = 0,
        }
        m.msg_controllen = meta.control_len;
        m.msg_flags = meta.flags;
        Ok(len_ret(meta.len))
    })
}

/// `write(2)` on an ioth socket.
///
/// # Safety
/// `buf` must be NULL or valid for reading `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    call(-1, || {
        // SAFETY: per the contract.
        let b = unsafe { buf_in(buf, len) }?;
        ioth::bsd::write(fd, b).map(len_ret)
    })
}

/// `writev(2)` on an ioth socket.
///
/// # Safety
/// `iov` must hold `iovcnt` iovecs of readable buffers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_writev(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    call(-1, || {
        // SAFETY: per the contract.
        let bufs = unsafe { io_slices(iov, iovcnt) }?;
        ioth::bsd::writev(fd, bufs).map(len_ret)
    })
}

/// `send(2)` on an ioth socket.
///
/// # Safety
/// `buf` must be NULL or valid for reading `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_send(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
) -> ssize_t {
    call(-1, || {
        // SAFETY: per the contract.
        let b = unsafe { buf_in(buf, len) }?;
        ioth::bsd::send(fd, b, flags).map(len_ret)
    })
}

/// `sendto(2)` on an ioth socket; a NULL `to` is `send`.
///
/// # Safety
/// `buf` must be NULL or valid for `len` bytes; `to` NULL or valid for `tolen` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    to: *const sockaddr,
    tolen: socklen_t,
) -> ssize_t {
    call(-1, || {
        // SAFETY: per the contract.
        let b = unsafe { buf_in(buf, len) }?;
        if to.is_null() {
            return ioth::bsd::send(fd, b, flags).map(len_ret);
        }
        // SAFETY: per the contract.
        let a = unsafe { sockaddr_in(to, tolen) }?;
        ioth::bsd::sendto(fd, b, flags, &a).map(len_ret)
    })
}

/// `sendmsg(2)` on an ioth socket.
///
/// # Safety
/// `msg` must be a valid `struct msghdr` whose pointers are NULL or valid for their lengths.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid per the contract.
        let m = unsafe { msg.as_ref() }.ok_or_else(|| err(libc::EFAULT))?;
        let count = c_int::try_from(m.msg_iovlen).map_err(|_| err(libc::EMSGSIZE))?;
        // SAFETY: the msghdr's buffers are valid per the contract.
        let bufs = unsafe { io_slices(m.msg_iov, count) }?;
        let to = if m.msg_name.is_null() || m.msg_namelen == 0 {
            None
        } else {
            // SAFETY: msg_name is valid for msg_namelen bytes per the contract.
            Some(unsafe { sockaddr_in(m.msg_name.cast(), m.msg_namelen) }?)
        };
        // SAFETY: as above.
        let control = unsafe { buf_in(m.msg_control, m.msg_controllen) }?;
        ioth::bsd::sendmsg(fd, bufs, to.as_ref(), control, flags).map(len_ret)
    })
}
