//! The few places where the facade meets C data: socket option values as bytes, `timeval`
//! conversions, and waiting on descriptors.

use std::io;
use std::mem;
use std::time::Duration;

use crate::error::errno;

/// A C value that is plain data: any byte pattern is a valid value and it has no padding
/// that matters to the kernel. Socket option values are of this kind.
///
/// # Safety
/// Implement only for `#[repr(C)]` types made of integers (and arrays or structs of them).
pub unsafe trait PlainOption: Copy {
    /// The all-zero value.
    fn zeroed() -> Self {
        // SAFETY: the trait's contract: every byte pattern, zero included, is a valid value.
        unsafe { mem::zeroed() }
    }
}

// SAFETY: integers and the libc option structs below are plain integer data.
unsafe impl PlainOption for libc::c_int {}
// SAFETY: as above.
unsafe impl PlainOption for libc::c_uint {}
// SAFETY: as above.
unsafe impl PlainOption for u8 {}
// SAFETY: as above.
unsafe impl PlainOption for libc::timeval {}
// SAFETY: as above.
unsafe impl PlainOption for libc::linger {}
// SAFETY: as above.
unsafe impl PlainOption for libc::ip_mreq {}
// SAFETY: as above.
unsafe impl PlainOption for libc::ip_mreqn {}
// SAFETY: as above.
unsafe impl PlainOption for libc::ipv6_mreq {}
// SAFETY: as above.
unsafe impl PlainOption for libc::in_addr {}
// SAFETY: as above.
unsafe impl PlainOption for libc::ucred {}

/// The bytes of an option value.
pub fn option_bytes<T: PlainOption>(value: &T) -> &[u8] {
    // SAFETY: `value` is a live `T` of size_of::<T>() bytes; PlainOption has no invalid bytes.
    unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), mem::size_of::<T>()) }
}

/// The bytes of an option value, to be written.
pub fn option_bytes_mut<T: PlainOption>(value: &mut T) -> &mut [u8] {
    // SAFETY: as in option_bytes; any bytes written leave a valid T (PlainOption).
    unsafe { std::slice::from_raw_parts_mut((value as *mut T).cast::<u8>(), mem::size_of::<T>()) }
}

/// Reads an option value from bytes a caller gave: `EINVAL` when too short (as Linux).
pub fn option_from_bytes<T: PlainOption>(bytes: &[u8]) -> io::Result<T> {
    if bytes.len() < mem::size_of::<T>() {
        return Err(errno(libc::EINVAL));
    }
    let mut value = T::zeroed();
    option_bytes_mut(&mut value).copy_from_slice(&bytes[..mem::size_of::<T>()]);
    Ok(value)
}

/// The `timeval` of a socket timeout: `None` is zero (wait forever); `Some(0)` is `EINVAL`.
pub fn timeval(timeout: Option<Duration>) -> io::Result<libc::timeval> {
    match timeout {
        None => Ok(libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        }),
        Some(d) if d.is_zero() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        )),
        Some(d) => {
            let mut tv = libc::timeval {
                tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_usec: libc::suseconds_t::from(d.subsec_micros()),
            };
            if tv.tv_sec == 0 && tv.tv_usec == 0 {
                tv.tv_usec = 1;
            }
            Ok(tv)
        }
    }
}

/// The timeout a `timeval` means: `None` for zero.
pub fn duration(tv: libc::timeval) -> Option<Duration> {
    if tv.tv_sec <= 0 && tv.tv_usec <= 0 {
        return None;
    }
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0);
    Some(Duration::from_secs(secs) + Duration::from_micros(u64::from(micros)))
}

/// `poll(2)` on `fds` until one is ready or `deadline` passes (`None`: wait forever); returns
/// how many are ready (0 when the deadline passed). Interrupted waits go on.
pub fn poll_until(
    fds: &mut [libc::pollfd],
    deadline: Option<std::time::Instant>,
) -> io::Result<usize> {
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                // Round up so that a wait never ends before the deadline.
                let ms = left.as_micros().div_ceil(1000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            }
        };
        let nfds = libc::nfds_t::try_from(fds.len()).map_err(|_| errno(libc::EINVAL))?;
        // SAFETY: fds is a valid, exclusively borrowed slice of pollfd for the whole call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), nfds, ms) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Runs a `recvmsg(2)`-like `call` on a `msghdr` describing `bufs`, `control` and room for
/// the sender's address, and returns what it received. `call` returns the byte count and may
/// also update the header's `msg_namelen`, `msg_controllen` and `msg_flags`, as the kernel
/// does.
pub fn recv_with_msghdr(
    bufs: &mut [std::io::IoSliceMut<'_>],
    control: &mut [u8],
    call: impl FnOnce(&mut libc::msghdr) -> io::Result<usize>,
) -> io::Result<crate::backend::RecvMeta> {
    // SAFETY: both are plain data; all zero is a valid (empty) value.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut storage as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // IoSliceMut is documented ABI-compatible with iovec on Unix.
    msg.msg_iov = bufs.as_mut_ptr().cast();
    msg.msg_iovlen = bufs.len();
    if !control.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len();
    }
    let len = call(&mut msg)?;
    let addr = if msg.msg_namelen > 0 {
        let n = (msg.msg_namelen as usize).min(mem::size_of_val(&storage));
        // SAFETY: the call filled the first n bytes of storage (bounded by its size), which
        // are copied into the zeroed storage try_init hands us, with that length.
        let ((), a) = unsafe {
            crate::backend::SockAddr::try_init(|out, out_len| {
                std::ptr::copy_nonoverlapping(
                    (&storage as *const libc::sockaddr_storage).cast::<u8>(),
                    out.cast::<u8>(),
                    n,
                );
                *out_len = n as libc::socklen_t;
                Ok(())
            })
        }?;
        Some(a)
    } else {
        None
    };
    Ok(crate::backend::RecvMeta {
        len,
        addr,
        control_len: if control.is_empty() {
            0
        } else {
            msg.msg_controllen
        },
        flags: msg.msg_flags,
    })
}

/// Runs a `sendmsg(2)`-like `call` on a `msghdr` describing `bufs`, the destination `addr`
/// (none: the connected peer) and `control`.
pub fn send_with_msghdr(
    bufs: &[std::io::IoSlice<'_>],
    addr: Option<&crate::backend::SockAddr>,
    control: &[u8],
    call: impl FnOnce(&libc::msghdr) -> io::Result<usize>,
) -> io::Result<usize> {
    // SAFETY: msghdr is plain data; all zero is a valid (empty) value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    if let Some(a) = addr {
        msg.msg_name = a.as_ptr() as *mut libc::c_void;
        msg.msg_namelen = a.len();
    }
    // IoSlice is documented ABI-compatible with iovec on Unix; the callee only reads.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len();
    if !control.is_empty() {
        msg.msg_control = control.as_ptr() as *mut libc::c_void;
        msg.msg_controllen = control.len();
    }
    call(&msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_trip_through_timeval() {
        assert_eq!(duration(timeval(None).unwrap()), None);
        assert!(timeval(Some(Duration::ZERO)).is_err());
        let d = Duration::from_millis(1500);
        assert_eq!(duration(timeval(Some(d)).unwrap()), Some(d));
        assert_eq!(
            duration(timeval(Some(Duration::from_nanos(10))).unwrap()),
            Some(Duration::from_micros(1))
        );
    }

    #[test]
    fn short_option_bytes_are_einval() {
        let e = option_from_bytes::<libc::c_int>(&[1, 2]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert_eq!(
            option_from_bytes::<libc::c_int>(&7i32.to_ne_bytes()).unwrap(),
            7
        );
    }
}
