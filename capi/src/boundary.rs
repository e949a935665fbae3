//! The C boundary: every exported function runs its body through [`call`], which catches
//! panics and turns errors into `errno` plus libioth's failure value; and the checked
//! conversions of C arguments (strings, buffers) the bodies use.

use std::ffi::{CStr, c_char, c_void};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use ioth::plugin::abi::set_errno;

/// An `io::Error` carrying `code`.
pub(crate) fn err(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// Runs `body`; on error sets `errno` and returns `fail`. A panic never crosses into C: it is
/// logged and reported as `EIO`.
pub(crate) fn call<T>(fail: T, body: impl FnOnce() -> io::Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => {
            log::debug!("ioth C call failed: {e}");
            set_errno(ioth::errno_of(&e));
            fail
        }
        Err(_) => {
            log::error!("panic inside an ioth C call; reported as EIO");
            set_errno(libc::EIO);
            fail
        }
    }
}

/// Like [`call`] for functions that return nothing (errors only set `errno`).
pub(crate) fn call_void(body: impl FnOnce() -> io::Result<()>) {
    call((), body)
}

/// A required C string: `EFAULT` for NULL.
///
/// # Safety
/// `p` must be NULL or point at a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn c_str<'a>(p: *const c_char) -> io::Result<&'a CStr> {
    if p.is_null() {
        return Err(err(libc::EFAULT));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    Ok(unsafe { CStr::from_ptr(p) })
}

/// A required C string that Rust needs as text: `EFAULT` for NULL, `EINVAL` when it is not
/// UTF-8.
///
/// # Safety
/// As [`c_str`].
pub(crate) unsafe fn c_text<'a>(p: *const c_char) -> io::Result<&'a str> {
    // SAFETY: forwarded contract.
    let s = unsafe { c_str(p) }?;
    s.to_str().map_err(|_| err(libc::EINVAL))
}

/// An optional C string as text: `None` for NULL, `EINVAL` when it is not UTF-8.
///
/// # Safety
/// As [`c_str`].
pub(crate) unsafe fn c_text_opt<'a>(p: *const c_char) -> io::Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { c_text(p) }.map(Some)
}

/// A C input buffer: empty for length 0, `EFAULT` for NULL with a length.
///
/// # Safety
/// `p` must be NULL or valid for reading `len` bytes for `'a`.
pub(crate) unsafe fn buf_in<'a>(p: *const c_void, len: usize) -> io::Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(err(libc::EFAULT));
    }
    if len > isize::MAX as usize {
        return Err(err(libc::EINVAL));
    }
    // SAFETY: non-NULL, readable for len bytes per the contract.
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// A C output buffer: empty for length 0, `EFAULT` for NULL with a length.
///
/// # Safety
/// `p` must be NULL or valid for writing `len` bytes for `'a`, not aliased elsewhere.
pub(crate) unsafe fn buf_out<'a>(p: *mut c_void, len: usize) -> io::Result<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(err(libc::EFAULT));
    }
    if len > isize::MAX as usize {
        return Err(err(libc::EINVAL));
    }
    // SAFETY: non-NULL, writable for len bytes and unaliased per the contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) })
}

/// A NULL-terminated array of C strings (`const char *vnlv[]`) as text; NULL is empty.
///
/// # Safety
/// `v` must be NULL or a NULL-terminated array of NUL-terminated strings.
pub(crate) unsafe fn c_text_array(v: *const *const c_char) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    if v.is_null() {
        return Ok(out);
    }
    for i in 0.. {
        // SAFETY: the array is NULL-terminated per the contract, so index i is readable until
        // the terminator is met.
        let p = unsafe { *v.add(i) };
        if p.is_null() {
            break;
        }
        // SAFETY: each element is a C string per the contract.
        out.push(unsafe { c_text(p) }?.to_owned());
    }
    Ok(out)
}

/// Copies `text` into a `malloc`ed C string the caller releases with `free(3)`.
pub(crate) fn malloc_c_string(text: &str) -> io::Result<*mut c_char> {
    if text.as_bytes().contains(&0) {
        return Err(err(libc::EINVAL));
    }
    // SAFETY: malloc has no preconditions; the result is checked for NULL.
    let p = unsafe { libc::malloc(text.len() + 1) }.cast::<u8>();
    if p.is_null() {
        return Err(err(libc::ENOMEM));
    }
    // SAFETY: p holds text.len() + 1 writable bytes, distinct from text.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), p, text.len());
        *p.add(text.len()) = 0;
    }
    Ok(p.cast())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno() -> i32 {
        io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }

    #[test]
    fn errors_set_errno_and_return_the_failure_value() {
        assert_eq!(call(-1, || Err(err(libc::EBUSY))), -1);
        assert_eq!(errno(), libc::EBUSY);
        assert_eq!(call(-1, || Ok(3)), 3);
    }

    #[test]
    fn a_panic_is_caught_and_reported_as_eio() {
        let r: i32 = call(-1, || panic!("boom"));
        assert_eq!(r, -1);
        assert_eq!(errno(), libc::EIO);
    }

    #[test]
    fn c_arguments_are_checked() {
        // SAFETY: NULL is allowed by every helper's contract.
        unsafe {
            assert_eq!(
                c_str(std::ptr::null()).unwrap_err().raw_os_error(),
                Some(libc::EFAULT)
            );
            assert_eq!(
                buf_in(std::ptr::null(), 3).unwrap_err().raw_os_error(),
                Some(libc::EFAULT)
            );
            assert!(buf_in(std::ptr::null(), 0).unwrap().is_empty());
            assert_eq!(c_text_opt(std::ptr::null()).unwrap(), None);
            assert!(c_text_array(std::ptr::null()).unwrap().is_empty());
        }
        let bad = c"\xff\xfe";
        // SAFETY: a valid C string.
        let e = unsafe { c_text(bad.as_ptr()) }.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        let p = malloc_c_string("nameserver 10.0.0.1\n").unwrap();
        // SAFETY: p is a fresh malloc'd C string, freed once.
        unsafe {
            assert_eq!(CStr::from_ptr(p).to_str().unwrap(), "nameserver 10.0.0.1\n");
            libc::free(p.cast());
        }
        assert_eq!(
            malloc_c_string("a\0b").unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
    }
}
