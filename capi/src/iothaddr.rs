//! libiothaddr's calls (`iothaddr.h`): hash-based IPv6 interface identifiers and MAC
//! addresses, and EUI-64, over [`ioth::nlconf::hashaddr`]. `libiothaddr.so.0` forwards to
//! these.
//!
//! The functions return nothing, as the original's; a NULL pointer, or a name or password
//! that is not UTF-8, leaves the output untouched and sets errno (`EFAULT`, `EINVAL`).

use std::ffi::c_char;
use std::io;
use std::net::Ipv6Addr;

use ioth::nlconf::hashaddr;
use libc::c_void;

use crate::boundary::{c_text, c_text_opt, call_void, err};

/// Reads the 16 bytes at `addr`.
///
/// # Safety
/// `addr` must be NULL or valid for reading 16 bytes.
unsafe fn read_addr(addr: *const c_void) -> io::Result<Ipv6Addr> {
    if addr.is_null() {
        return Err(err(libc::EFAULT));
    }
    let mut b = [0u8; 16];
    // SAFETY: 16 readable bytes per the contract, not overlapping the local array.
    unsafe { std::ptr::copy_nonoverlapping(addr.cast::<u8>(), b.as_mut_ptr(), 16) };
    Ok(Ipv6Addr::from(b))
}

/// Writes `bytes` at `out`.
///
/// # Safety
/// `out` must be valid for writing `bytes.len()` bytes (checked non-NULL by the caller).
unsafe fn write_bytes(out: *mut c_void, bytes: &[u8]) {
    // SAFETY: per the contract.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.cast::<u8>(), bytes.len()) };
}

/// XORs the MD5 of `name ‖ passwd ‖ be32(otiptime)` into the interface identifier (low 64
/// bits) of the IPv6 address at `addr` (16 bytes, in place), and clears the universal/local
/// and group bits. One trailing dot of `name` is ignored; `passwd` NULL (or empty) and
/// `otiptime` 0 add nothing.
///
/// # Safety
/// `addr` is NULL or 16 writable bytes; `name` and `passwd` NULL or C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothaddr_hash(
    addr: *mut c_void,
    name: *const c_char,
    passwd: *const c_char,
    otiptime: u32,
) {
    call_void(|| {
        // SAFETY: per the contract.
        let base = unsafe { read_addr(addr) }?;
        // SAFETY: per the contract.
        let name = unsafe { c_text(name) }?;
        // SAFETY: per the contract.
        let passwd = unsafe { c_text_opt(passwd) }?;
        let result = hashaddr::hashaddr(base, name, passwd, otiptime);
        // SAFETY: addr is non-NULL (read_addr checked) and holds 16 bytes.
        unsafe { write_bytes(addr, &result.octets()) };
        Ok(())
    })
}

/// Writes the MAC address derived from `name` (and `passwd`) into the 6 bytes at `mac`:
/// bytes 0, 1, 2, 5, 6, 7 of the MD5, locally administered and unicast.
///
/// # Safety
/// `mac` is NULL or 6 writable bytes; `name` and `passwd` NULL or C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothaddr_hashmac(
    mac: *mut c_void,
    name: *const c_char,
    passwd: *const c_char,
) {
    call_void(|| {
        if mac.is_null() {
            return Err(err(libc::EFAULT));
        }
        // SAFETY: per the contract.
        let name = unsafe { c_text(name) }?;
        // SAFETY: per the contract.
        let passwd = unsafe { c_text_opt(passwd) }?;
        // SAFETY: mac is non-NULL and holds 6 bytes per the contract.
        unsafe { write_bytes(mac, &hashaddr::hashmac(name, passwd)) };
        Ok(())
    })
}

/// Sets the interface identifier of the IPv6 address at `addr` (16 bytes, in place) from the
/// 6-byte MAC at `mac` by EUI-64 as the original does: bytes 8..10 take the MAC's first three,
/// `ff:fe`, then the last three are XORed in, and the universal/local bit is inverted.
///
/// # Safety
/// `addr` is NULL or 16 writable bytes; `mac` NULL or 6 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothaddr_eui64(addr: *mut c_void, mac: *const c_void) {
    call_void(|| {
        // SAFETY: per the contract.
        let base = unsafe { read_addr(addr) }?;
        if mac.is_null() {
            return Err(err(libc::EFAULT));
        }
        let mut m = [0u8; 6];
        // SAFETY: 6 readable bytes per the contract.
        unsafe { std::ptr::copy_nonoverlapping(mac.cast::<u8>(), m.as_mut_ptr(), 6) };
        // SAFETY: addr is non-NULL and holds 16 bytes.
        unsafe { write_bytes(addr, &hashaddr::eui64(base, m).octets()) };
        Ok(())
    })
}

/// [`iothaddr_eui64`] of the MAC [`iothaddr_hashmac`] derives from `name` and `passwd`.
///
/// # Safety
/// As [`iothaddr_hash`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iothaddr_hasheui64(
    addr: *mut c_void,
    name: *const c_char,
    passwd: *const c_char,
) {
    call_void(|| {
        // SAFETY: per the contract.
        let base = unsafe { read_addr(addr) }?;
        // SAFETY: per the contract.
        let name = unsafe { c_text(name) }?;
        // SAFETY: per the contract.
        let passwd = unsafe { c_text_opt(passwd) }?;
        let mac = hashaddr::hashmac(name, passwd);
        // SAFETY: addr is non-NULL and holds 16 bytes.
        unsafe { write_bytes(addr, &hashaddr::eui64(base, mac).octets()) };
        Ok(())
    })
}
