//! Exports a Rust backend as a libioth plugin (installed as `ioth_NAME-r.so`, with the link
//! `ioth_NAME_n.so`).
//!
//! [`crate::export_plugin!`] defines `ioth_NAME_newstack`, `ioth_NAME_delstack` and
//! `ioth_NAME_license` in the plugin's shared object, and the same under `ioth_NAME_n_*`: the
//! original loader takes the implementation name from the file name, so it looks
//! `ioth_NAME_n.so` up as `NAME_n`. `newstack` fills the loader's
//! `struct ioth_functions` with the entry points below, which find the stack through the
//! loader's `getstackdata` and the socket through this object's own descriptor table. No panic
//! crosses the C boundary: each entry catches it and fails with `EIO`.

use std::ffi::{CStr, c_char};
use std::io::{self, IoSlice, IoSliceMut};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use libc::{c_int, c_ulong, c_void, iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};

use super::abi::{
    GetStackDataFn, IothFunctions, bytes, bytes_mut, iovecs, set_errno, sockaddr_in, sockaddr_out,
};
use crate::backend::{Backend, IFREQ_SIZE, Ioctl, RawIoctlArg, SocketOps, StackOps};
use crate::error::{errno, errno_of};
use crate::fdtable::FdTable;

/// A `const char *` licence variable a plugin exports (`ioth_NAME_license`).
#[repr(transparent)]
pub struct LicensePtr(pub *const c_char);
// SAFETY: points at a 'static NUL-terminated string literal, never written.
unsafe impl Sync for LicensePtr {}

/// Exports a backend as the libioth plugin `ioth_NAME-r.so` (or `ioth_NAME.so`): defines
/// `ioth_NAME_newstack`, `ioth_NAME_delstack` and `ioth_NAME_license` in the crate's `cdylib`,
/// and the same entries named `ioth_NAME_n_*`, for the file `ioth_NAME_n.so`.
///
/// Written once in the `lib.rs` of a crate whose `crate-type` includes `cdylib` (here the
/// kernel backend exported again, as the plugin `ioth_hostcopy.so`):
///
/// ```
/// ioth::export_plugin!("hostcopy", ioth::kernel::KernelBackend, "LGPL-2.1-or-later");
/// # fn main() {}
/// ```
///
/// A program loads it by name from the plugin path (`Stack::new("hostcopy", ..)`, see
/// [`crate::plugin`]); libioth's C loader loads it too.
#[macro_export]
macro_rules! export_plugin {
    ($name:literal, $backend:expr, $license:literal) => {
        const _: () = {
            /// libioth plugin entry: creates a stack.
            ///
            /// # Safety
            /// Called by a libioth loader with a NULL-terminated VNL array (or NULL), a C
            /// string (or NULL) and a valid function table.
            #[unsafe(export_name = concat!("ioth_", $name, "_newstack"))]
            pub unsafe extern "C" fn ioth_plugin_newstack(
                vnlv: *const *const ::std::ffi::c_char,
                options: *const ::std::ffi::c_char,
                f: *mut $crate::plugin::abi::IothFunctions,
            ) -> *mut ::std::ffi::c_void {
                // SAFETY: forwarded under this function's own contract.
                unsafe { $crate::plugin::export::newstack(&|| $backend, vnlv, options, f) }
            }

            /// libioth plugin entry: deletes a stack.
            ///
            /// # Safety
            /// `data` is what this plugin's newstack returned, not yet deleted.
            #[unsafe(export_name = concat!("ioth_", $name, "_delstack"))]
            pub unsafe extern "C" fn ioth_plugin_delstack(
                data: *mut ::std::ffi::c_void,
            ) -> ::std::ffi::c_int {
                // SAFETY: forwarded under this function's own contract.
                unsafe { $crate::plugin::export::delstack(data) }
            }

            /// libioth plugin licence.
            #[unsafe(export_name = concat!("ioth_", $name, "_license"))]
            pub static IOTH_PLUGIN_LICENSE: $crate::plugin::export::LicensePtr =
                $crate::plugin::export::LicensePtr(
                    concat!("SPDX-License-Identifier: ", $license, "\0")
                        .as_ptr()
                        .cast(),
                );

            /// libioth plugin entry under the `_n` name (file `ioth_NAME_n.so`, which the
            /// original loader looks up as implementation `NAME_n`): creates a stack.
            ///
            /// # Safety
            /// As `ioth_NAME_newstack`.
            #[unsafe(export_name = concat!("ioth_", $name, "_n_newstack"))]
            pub unsafe extern "C" fn ioth_plugin_n_newstack(
                vnlv: *const *const ::std::ffi::c_char,
                options: *const ::std::ffi::c_char,
                f: *mut $crate::plugin::abi::IothFunctions,
            ) -> *mut ::std::ffi::c_void {
                // SAFETY: forwarded under this function's own contract.
                unsafe { $crate::plugin::export::newstack(&|| $backend, vnlv, options, f) }
            }

            /// libioth plugin entry under the `_n` name: deletes a stack.
            ///
            /// # Safety
            /// As `ioth_NAME_delstack`.
            #[unsafe(export_name = concat!("ioth_", $name, "_n_delstack"))]
            pub unsafe extern "C" fn ioth_plugin_n_delstack(
                data: *mut ::std::ffi::c_void,
            ) -> ::std::ffi::c_int {
                // SAFETY: forwarded under this function's own contract.
                unsafe { $crate::plugin::export::delstack(data) }
            }

            /// libioth plugin licence under the `_n` name.
            #[unsafe(export_name = concat!("ioth_", $name, "_n_license"))]
            pub static IOTH_PLUGIN_N_LICENSE: $crate::plugin::export::LicensePtr =
                $crate::plugin::export::LicensePtr(
                    concat!("SPDX-License-Identifier: ", $license, "\0")
                        .as_ptr()
                        .cast(),
                );
        };
    };
}

/// What a plugin's stack data points at.
struct ExportedStack {
    ops: Box<dyn StackOps>,
}

/// Sockets this plugin opened, by descriptor.
static EXPORTED: FdTable<Box<dyn SocketOps>> = FdTable::new();

/// The loader's `getstackdata`, saved by `newstack`.
static GETSTACKDATA: AtomicUsize = AtomicUsize::new(0);

fn guard<T>(fail: T, f: impl FnOnce() -> io::Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            set_errno(errno_of(&e));
            fail
        }
        Err(_) => {
            log::error!("panic inside an ioth plugin call");
            set_errno(libc::EIO);
            fail
        }
    }
}

fn with_socket<T>(fd: c_int, fail: T, f: impl FnOnce(&dyn SocketOps) -> io::Result<T>) -> T {
    guard(fail, || {
        let s = EXPORTED.get(fd).ok_or_else(|| errno(libc::EBADF))?;
        f(s.as_ref().as_ref())
    })
}

fn len_ret(r: io::Result<usize>) -> io::Result<ssize_t> {
    r.map(|n| n as ssize_t)
}

/// The body of `ioth_NAME_newstack`.
///
/// # Safety
/// `vnlv` is NULL or a NULL-terminated array of C strings; `options` NULL or a C string; `f`
/// NULL or a valid, writable function table.
pub unsafe fn newstack<B: Backend>(
    backend: &dyn Fn() -> B,
    vnlv: *const *const c_char,
    options: *const c_char,
    f: *mut IothFunctions,
) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let mut vnls = Vec::new();
        if !vnlv.is_null() {
            for i in 0.. {
                // SAFETY: the array is NULL-terminated per the contract.
                let p = unsafe { *vnlv.add(i) };
                if p.is_null() {
                    break;
                }
                // SAFETY: each element is a C string per the contract.
                let s = unsafe { CStr::from_ptr(p) };
                vnls.push(s.to_str().map_err(|_| errno(libc::EINVAL))?.to_owned());
            }
        }
        let options = if options.is_null() {
            ""
        } else {
            // SAFETY: a C string per the contract.
            unsafe { CStr::from_ptr(options) }
                .to_str()
                .map_err(|_| errno(libc::EINVAL))?
        };
        // SAFETY: f is NULL or valid per the contract.
        let f = unsafe { f.as_mut() }.ok_or_else(|| errno(libc::EINVAL))?;
        let getstackdata = f.getstackdata.ok_or_else(|| errno(libc::EINVAL))?;
        GETSTACKDATA.store(getstackdata as usize, Ordering::Release);
        let refs: Vec<&str> = vnls.iter().map(String::as_str).collect();
        let ops = backend().new_stack(&refs, options)?;
        fill(f);
        Ok(Box::into_raw(Box::new(ExportedStack { ops })).cast())
    })
}

/// The body of `ioth_NAME_delstack`.
///
/// # Safety
/// `data` is a pointer this plugin's `newstack` returned, not yet deleted.
pub unsafe fn delstack(data: *mut c_void) -> c_int {
    guard(-1, || {
        if data.is_null() {
            return Err(errno(libc::EINVAL));
        }
        // SAFETY: per the contract, data came from Box::into_raw in newstack, deleted once.
        let stack = unsafe { Box::from_raw(data.cast::<ExportedStack>()) };
        stack.ops.delete()?;
        Ok(0)
    })
}

fn current_stack<'a>() -> io::Result<&'a ExportedStack> {
    let f = GETSTACKDATA.load(Ordering::Acquire);
    if f == 0 {
        return Err(errno(libc::EINVAL));
    }
    // SAFETY: the value was stored from a GetStackDataFn in newstack.
    let getstackdata: GetStackDataFn = unsafe { std::mem::transmute::<usize, GetStackDataFn>(f) };
    // SAFETY: the loader's getstackdata returns the data of the stack the call is for, which
    // newstack made and which lives until delstack.
    let data = unsafe { getstackdata() };
    // SAFETY: as above: data is NULL or an ExportedStack this plugin made.
    unsafe { data.cast::<ExportedStack>().as_ref() }.ok_or_else(|| errno(libc::EINVAL))
}

fn register(ops: Box<dyn SocketOps>) -> c_int {
    let fd = ops.as_raw_fd();
    EXPORTED.insert(fd, Arc::new(ops));
    fd
}

fn fill(f: &mut IothFunctions) {
    f.socket = Some(socket);
    f.close = Some(close);
    f.bind = Some(bind);
    f.connect = Some(connect);
    f.listen = Some(listen);
    f.accept = Some(accept);
    f.getsockname = Some(getsockname);
    f.getpeername = Some(getpeername);
    f.setsockopt = Some(setsockopt);
    f.getsockopt = Some(getsockopt);
    f.shutdown = Some(shutdown);
    // SAFETY: on the System V ABIs Linux uses, a call through a variadic pointer passing
    // (int, unsigned long, pointer) reaches a function taking exactly those three arguments
    // in the same registers; stable Rust cannot define a variadic function.
    f.ioctl = Some(unsafe {
        std::mem::transmute::<
            unsafe extern "C" fn(c_int, c_ulong, *mut c_void) -> c_int,
            unsafe extern "C" fn(c_int, c_ulong, ...) -> c_int,
        >(ioctl)
    });
    // SAFETY: as for ioctl, with (int, int, long).
    f.fcntl = Some(unsafe {
        std::mem::transmute::<
            unsafe extern "C" fn(c_int, c_int, libc::c_long) -> c_int,
            unsafe extern "C" fn(c_int, c_int, ...) -> c_int,
        >(fcntl)
    });
    f.read = Some(read);
    f.readv = Some(readv);
    f.recv = Some(recv);
    f.recvfrom = Some(recvfrom);
    f.recvmsg = Some(recvmsg);
    f.write = Some(write);
    f.writev = Some(writev);
    f.send = Some(send);
    f.sendto = Some(sendto);
    f.sendmsg = Some(sendmsg);
}

unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    guard(-1, || {
        let ops = current_stack()?.ops.socket(domain, ty, protocol)?;
        Ok(register(ops))
    })
}

unsafe extern "C" fn close(fd: c_int) -> c_int {
    guard(-1, || {
        let s = EXPORTED
            .remove(fd, None)
            .ok_or_else(|| errno(libc::EBADF))?;
        match Arc::try_unwrap(s) {
            Ok(ops) => ops.close().map(|()| 0),
            Err(_in_use) => Ok(0),
        }
    })
}

unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    with_socket(fd, -1, |s| {
        // SAFETY: the caller passes a valid address of `len` bytes, as bind(2) requires.
        let to = unsafe { sockaddr_in(addr, len) }?;
        s.bind(&to).map(|()| 0)
    })
}

unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    with_socket(fd, -1, |s| {
        // SAFETY: as in bind.
        let to = unsafe { sockaddr_in(addr, len) }?;
        s.connect(&to).map(|()| 0)
    })
}

unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    with_socket(fd, -1, |s| s.listen(backlog).map(|()| 0))
}

unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    with_socket(fd, -1, |s| {
        let (conn, peer) = s.accept(0)?;
        // SAFETY: addr/len are NULL or valid output buffers, as accept(2) requires.
        unsafe { sockaddr_out(&peer, addr, len) };
        Ok(register(conn))
    })
}

unsafe extern "C" fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    with_socket(fd, -1, |s| {
        let a = s.local_addr()?;
        // SAFETY: as in accept.
        unsafe { sockaddr_out(&a, addr, len) };
        Ok(0)
    })
}

unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    with_socket(fd, -1, |s| {
        let a = s.peer_addr()?;
        // SAFETY: as in accept.
        unsafe { sockaddr_out(&a, addr, len) };
        Ok(0)
    })
}

unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> c_int {
    with_socket(fd, -1, |s| {
        // SAFETY: value is valid for len bytes, as setsockopt(2) requires.
        s.setsockopt(level, name, unsafe { bytes(value, len as usize) })
            .map(|()| 0)
    })
}

unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    with_socket(fd, -1, |s| {
        // SAFETY: len is NULL or valid, as getsockopt(2) requires.
        let room = unsafe { len.as_mut() }.ok_or_else(|| errno(libc::EFAULT))?;
        // SAFETY: value is valid for *len bytes.
        let buf = unsafe { bytes_mut(value, *room as usize) };
        let n = s.getsockopt(level, name, buf)?;
        *room = n as socklen_t;
        Ok(0)
    })
}

unsafe extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    with_socket(fd, -1, |s| s.shutdown(how).map(|()| 0))
}

unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    // SAFETY: arg is valid for the request, as ioctl(2) requires.
    with_socket(fd, -1, |s| s.ioctl(unsafe { ioctl_from_c(request, arg) }?))
}

/// Types a C ioctl argument by its request.
///
/// # Safety
/// `arg` must be valid for what `request` reads and writes.
pub unsafe fn ioctl_from_c<'a>(request: c_ulong, arg: *mut c_void) -> io::Result<Ioctl<'a>> {
    const INT_REQUESTS: [c_ulong; 4] = [libc::FIONREAD, libc::FIONBIO, libc::TIOCOUTQ, 0x8905];
    if INT_REQUESTS.contains(&request) {
        // SAFETY: these requests take an int pointer.
        let value = unsafe { arg.cast::<c_int>().as_mut() }.ok_or_else(|| errno(libc::EFAULT))?;
        return Ok(Ioctl::Int { request, value });
    }
    if request == libc::SIOCGIFCONF {
        // SAFETY: SIOCGIFCONF takes a struct ifconf pointer.
        let ifc =
            unsafe { arg.cast::<libc::ifconf>().as_mut() }.ok_or_else(|| errno(libc::EFAULT))?;
        // SAFETY: reading the buffer pointer of the union.
        let buf = unsafe { ifc.ifc_ifcu.ifcu_buf };
        let buf = if buf.is_null() {
            None
        } else {
            // SAFETY: the buffer is valid for ifc_len bytes.
            Some(unsafe { bytes_mut(buf.cast(), usize::try_from(ifc.ifc_len).unwrap_or(0)) })
        };
        return Ok(Ioctl::IfConf {
            len: &mut ifc.ifc_len,
            buf,
        });
    }
    if (0x8910..=0x8940).contains(&request) {
        // SAFETY: interface requests take a struct ifreq pointer.
        let ifreq = unsafe { arg.cast::<[u8; IFREQ_SIZE]>().as_mut() }
            .ok_or_else(|| errno(libc::EFAULT))?;
        return Ok(Ioctl::IfReq { request, ifreq });
    }
    // SAFETY: forwarded under this function's contract.
    let arg = unsafe { RawIoctlArg::new(arg) };
    Ok(Ioctl::Raw { request, arg })
}

unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: libc::c_long) -> c_int {
    with_socket(fd, -1, |s| s.fcntl(cmd, arg))
}

unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
    // SAFETY: buf is valid for len bytes, as read(2) requires.
    with_socket(fd, -1, |s| len_ret(s.read(unsafe { bytes_mut(buf, len) })))
}

unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    with_socket(fd, -1, |s| {
        // SAFETY: buf is valid for len bytes, as recv(2) requires.
        let buf = unsafe { bytes_mut(buf, len) };
        len_ret(s.recv(buf, flags))
    })
}

unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    with_socket(fd, -1, |s| {
        // SAFETY: as in read.
        let (n, from) = s.recv_from(unsafe { bytes_mut(buf, len) }, flags)?;
        match from {
            // SAFETY: addr/addrlen are NULL or valid, as recvfrom(2) requires.
            Some(a) => unsafe { sockaddr_out(&a, addr, addrlen) },
            None => {
                // SAFETY: as above.
                if let Some(l) = unsafe { addrlen.as_mut() } {
                    *l = 0;
                }
            }
        }
        Ok(n as ssize_t)
    })
}

unsafe extern "C" fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    // SAFETY: buf is valid for len bytes, as write(2) requires.
    with_socket(fd, -1, |s| len_ret(s.write(unsafe { bytes(buf, len) })))
}

unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    with_socket(fd, -1, |s| {
        // SAFETY: buf is valid for len bytes, as send(2) requires.
        let buf = unsafe { bytes(buf, len) };
        len_ret(s.send(buf, flags))
    })
}

unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    with_socket(fd, -1, |s| {
        // SAFETY: as in write.
        let data = unsafe { bytes(buf, len) };
        if addr.is_null() {
            len_ret(s.send(data, flags))
        } else {
            // SAFETY: addr is valid for addrlen bytes, as sendto(2) requires.
            let to = unsafe { sockaddr_in(addr, addrlen) }?;
            len_ret(s.send_to(data, &to, flags))
        }
    })
}

/// The iovecs as std slices.
///
/// # Safety
/// Each iovec must describe valid memory for the returned lifetime.
unsafe fn io_slices<'a>(iov: &'a [iovec]) -> &'a [IoSlice<'a>] {
    // SAFETY: IoSlice is documented ABI-compatible with iovec on Unix.
    unsafe { std::slice::from_raw_parts(iov.as_ptr().cast(), iov.len()) }
}

/// The iovecs as std mutable slices.
///
/// # Safety
/// Each iovec must describe valid, unaliased writable memory for the returned lifetime.
unsafe fn io_slices_mut<'a>(iov: *const iovec, len: usize) -> &'a mut [IoSliceMut<'a>] {
    // SAFETY: IoSliceMut is documented ABI-compatible with iovec on Unix.
    unsafe { std::slice::from_raw_parts_mut(iov as *mut IoSliceMut<'a>, len) }
}

unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t {
    with_socket(fd, -1, |s| {
        // SAFETY: iov holds count iovecs of writable buffers, as readv(2) requires.
        let v = unsafe { iovecs(iov, count) }?;
        // SAFETY: as above.
        len_ret(s.readv(unsafe { io_slices_mut(v.as_ptr(), v.len()) }))
    })
}

unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t {
    with_socket(fd, -1, |s| {
        // SAFETY: iov holds count iovecs of readable buffers, as writev(2) requires.
        let v = unsafe { iovecs(iov, count) }?;
        // SAFETY: as above.
        len_ret(s.writev(unsafe { io_slices(v) }))
    })
}

unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    with_socket(fd, -1, |s| {
        // SAFETY: msg is a valid msghdr, as recvmsg(2) requires.
        let m = unsafe { msg.as_mut() }.ok_or_else(|| errno(libc::EFAULT))?;
        let count = c_int::try_from(m.msg_iovlen).map_err(|_| errno(libc::EMSGSIZE))?;
        // SAFETY: the msghdr's buffers are valid as recvmsg(2) requires.
        let v = unsafe { iovecs(m.msg_iov, count) }?;
        // SAFETY: as above.
        let bufs = unsafe { io_slices_mut(v.as_ptr(), v.len()) };
        // SAFETY: as above.
        let control = unsafe { bytes_mut(m.msg_control, m.msg_controllen) };
        let meta = s.recv_msg(bufs, control, flags)?;
        match &meta.addr {
            // SAFETY: msg_name is NULL or valid for msg_namelen bytes.
            Some(a) => unsafe { sockaddr_out(a, m.msg_name.cast(), &mut m.msg_namelen) },
            None => m.msg_namelen = 0,
        }
        m.msg_controllen = meta.control_len;
        m.msg_flags = meta.flags;
        Ok(meta.len as ssize_t)
    })
}

unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    with_socket(fd, -1, |s| {
        // SAFETY: msg is a valid msghdr, as sendmsg(2) requires.
        let m = unsafe { msg.as_ref() }.ok_or_else(|| errno(libc::EFAULT))?;
        let count = c_int::try_from(m.msg_iovlen).map_err(|_| errno(libc::EMSGSIZE))?;
        // SAFETY: the msghdr's buffers are valid as sendmsg(2) requires.
        let v = unsafe { iovecs(m.msg_iov, count) }?;
        let to = if m.msg_name.is_null() || m.msg_namelen == 0 {
            None
        } else {
            // SAFETY: as above.
            Some(unsafe { sockaddr_in(m.msg_name.cast(), m.msg_namelen) }?)
        };
        // SAFETY: as above.
        let control = unsafe { bytes(m.msg_control, m.msg_controllen) };
        // SAFETY: as above.
        len_ret(s.send_msg(unsafe { io_slices(v) }, to.as_ref(), control, flags))
    })
}
