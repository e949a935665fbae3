//! libioth's plugin ABI: `struct ioth_functions` and the C conversions both directions need.
//!
//! The table's field order is libioth's: getstackdata, newstack, delstack, then one entry per
//! socket call. `newstack` may fill any entry; entries left NULL give `ENOSYS`.

use std::io;
use std::mem;

use libc::{c_char, c_int, c_ulong, c_void, iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};

use crate::backend::SockAddr;
use crate::error::errno;

/// `void *getstackdata(void)`: the stack data of the stack the current call is for.
pub type GetStackDataFn = unsafe extern "C" fn() -> *mut c_void;
/// `void *newstack(const char *vnlv[], const char *options, struct ioth_functions *f)`.
pub type NewStackFn =
    unsafe extern "C" fn(*const *const c_char, *const c_char, *mut IothFunctions) -> *mut c_void;
/// `int delstack(void *stackdata)`.
pub type DelStackFn = unsafe extern "C" fn(*mut c_void) -> c_int;

/// libioth's `struct ioth_functions`, field for field.
#[repr(C)]
#[derive(Clone, Copy, Default)]
#[allow(missing_docs)] // each field is the libc call of the same name
pub struct IothFunctions {
    pub getstackdata: Option<GetStackDataFn>,
    pub newstack: Option<NewStackFn>,
    pub delstack: Option<DelStackFn>,
    pub socket: Option<unsafe extern "C" fn(c_int, c_int, c_int) -> c_int>,
    pub close: Option<unsafe extern "C" fn(c_int) -> c_int>,
    pub bind: Option<unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int>,
    pub connect: Option<unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int>,
    pub listen: Option<unsafe extern "C" fn(c_int, c_int) -> c_int>,
    pub accept: Option<unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int>,
    pub getsockname: Option<unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int>,
    pub getpeername: Option<unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int>,
    pub setsockopt:
        Option<unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int>,
    pub getsockopt:
        Option<unsafe extern "C" fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int>,
    pub shutdown: Option<unsafe extern "C" fn(c_int, c_int) -> c_int>,
    pub ioctl: Option<unsafe extern "C" fn(c_int, c_ulong, ...) -> c_int>,
    pub fcntl: Option<unsafe extern "C" fn(c_int, c_int, ...) -> c_int>,
    pub read: Option<unsafe extern "C" fn(c_int, *mut c_void, size_t) -> ssize_t>,
    pub readv: Option<unsafe extern "C" fn(c_int, *const iovec, c_int) -> ssize_t>,
    pub recv: Option<unsafe extern "C" fn(c_int, *mut c_void, size_t, c_int) -> ssize_t>,
    pub recvfrom: Option<
        unsafe extern "C" fn(
            c_int,
            *mut c_void,
            size_t,
            c_int,
            *mut sockaddr,
            *mut socklen_t,
        ) -> ssize_t,
    >,
    pub recvmsg: Option<unsafe extern "C" fn(c_int, *mut msghdr, c_int) -> ssize_t>,
    pub write: Option<unsafe extern "C" fn(c_int, *const c_void, size_t) -> ssize_t>,
    pub writev: Option<unsafe extern "C" fn(c_int, *const iovec, c_int) -> ssize_t>,
    pub send: Option<unsafe extern "C" fn(c_int, *const c_void, size_t, c_int) -> ssize_t>,
    pub sendto: Option<
        unsafe extern "C" fn(
            c_int,
            *const c_void,
            size_t,
            c_int,
            *const sockaddr,
            socklen_t,
        ) -> ssize_t,
    >,
    pub sendmsg: Option<unsafe extern "C" fn(c_int, *const msghdr, c_int) -> ssize_t>,
}

/// The names of the table's entries after `getstackdata`, in order: the suffixes of the
/// `ioth_NAME_<entry>` symbols.
pub const ENTRY_NAMES: [&str; 25] = [
    "newstack",
    "delstack",
    "socket",
    "close",
    "bind",
    "connect",
    "listen",
    "accept",
    "getsockname",
    "getpeername",
    "setsockopt",
    "getsockopt",
    "shutdown",
    "ioctl",
    "fcntl",
    "read",
    "readv",
    "recv",
    "recvfrom",
    "recvmsg",
    "write",
    "writev",
    "send",
    "sendto",
    "sendmsg",
];

/// Sets the calling thread's `errno`.
pub fn set_errno(value: c_int) {
    // SAFETY: __errno_location returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() = value };
}

/// Reads a C socket address. `EFAULT` for NULL with a length, `EINVAL` for a length beyond
/// `sockaddr_storage`.
///
/// # Safety
/// `addr` must be NULL or valid for reading `len` bytes.
pub unsafe fn sockaddr_in(addr: *const sockaddr, len: socklen_t) -> io::Result<SockAddr> {
    let len_usize = len as usize;
    if len_usize > mem::size_of::<libc::sockaddr_storage>() {
        return Err(errno(libc::EINVAL));
    }
    if addr.is_null() {
        return Err(errno(libc::EFAULT));
    }
    // SAFETY: the storage is zeroed plain data; we copy exactly `len` readable bytes into it,
    // which fits (checked above), and report that length.
    let (_, sa) = unsafe {
        SockAddr::try_init(|storage, out_len| {
            std::ptr::copy_nonoverlapping(addr.cast::<u8>(), storage.cast::<u8>(), len_usize);
            *out_len = len;
            Ok(())
        })
    }?;
    Ok(sa)
}

/// Writes a socket address for C, as the kernel does: at most `*len` bytes are copied, and
/// `*len` becomes the address's full length. NULL `addr` or `len` writes nothing.
///
/// # Safety
/// `len` must be NULL or valid; `addr` must be NULL or valid for writing `*len` bytes.
pub unsafe fn sockaddr_out(sa: &SockAddr, addr: *mut sockaddr, len: *mut socklen_t) {
    if addr.is_null() || len.is_null() {
        return;
    }
    // SAFETY: len is non-null and valid per the contract.
    let room = unsafe { *len } as usize;
    let n = room.min(sa.len() as usize);
    // SAFETY: sa holds at least sa.len() bytes; addr is writable for `room` >= n bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(sa.as_ptr().cast::<u8>(), addr.cast::<u8>(), n);
        *len = sa.len();
    }
}

/// A byte slice over a C buffer; empty for NULL or zero length.
///
/// # Safety
/// `ptr` must be NULL or valid for reading `len` bytes for `'a`.
pub unsafe fn bytes<'a>(ptr: *const c_void, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: per the contract.
        unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }
    }
}

/// A mutable byte slice over a C buffer; empty for NULL or zero length.
///
/// # Safety
/// `ptr` must be NULL or valid for writing `len` bytes for `'a`, not aliased elsewhere.
pub unsafe fn bytes_mut<'a>(ptr: *mut c_void, len: usize) -> &'a mut [u8] {
    if ptr.is_null() || len == 0 {
        &mut []
    } else {
        // SAFETY: per the contract.
        unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len) }
    }
}

/// The C `iovec` array as a Rust slice of iovecs; `EINVAL` for a negative or too large count.
///
/// # Safety
/// `iov` must be NULL (with count 0) or valid for `count` iovecs.
pub unsafe fn iovecs<'a>(iov: *const iovec, count: c_int) -> io::Result<&'a [iovec]> {
    let count = usize::try_from(count).map_err(|_| errno(libc::EINVAL))?;
    if count > 1024 {
        return Err(errno(libc::EINVAL));
    }
    if count == 0 || iov.is_null() {
        return if count == 0 {
            Ok(&[])
        } else {
            Err(errno(libc::EFAULT))
        };
    }
    // SAFETY: per the contract.
    Ok(unsafe { std::slice::from_raw_parts(iov, count) })
}
