//! IPv6 addresses printed as glibc's `inet_ntop(AF_INET6, …)` prints them, which is what the
//! original tools print.
//!
//! Rust's `Ipv6Addr` display agrees with glibc (RFC 5952: lower case, the first longest run
//! of two or more zero groups as `::`, `::ffff:a.b.c.d` for IPv4-mapped addresses) except for
//! one form: glibc also writes the deprecated IPv4-compatible form `::a.b.c.d` when the first
//! six groups are zero and the seventh is not. A hash address on base `::` can have that
//! shape, so the tools use this function rather than `Display`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// `addr` as glibc's `inet_ntop` writes it (at most 45 characters, no terminator).
pub fn ntop6(addr: Ipv6Addr) -> String {
    let o = addr.octets();
    let compatible = o[..12].iter().all(|&b| b == 0) && (o[12] != 0 || o[13] != 0);
    if compatible {
        return format!("::{}", Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    addr.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    unsafe extern "C" {
        /// glibc's `inet_ntop(3)` (the libc crate does not declare it).
        fn inet_ntop(
            af: libc::c_int,
            src: *const libc::c_void,
            dst: *mut libc::c_char,
            size: libc::socklen_t,
        ) -> *const libc::c_char;
    }

    /// glibc's own answer.
    fn libc_ntop(addr: Ipv6Addr) -> String {
        let src = addr.octets();
        let mut dst = [0 as libc::c_char; 64];
        // SAFETY: `src` holds the 16 bytes of an in6_addr and `dst` has room for
        // INET6_ADDRSTRLEN (46) bytes, as inet_ntop requires; both outlive the call.
        let p = unsafe {
            inet_ntop(
                libc::AF_INET6,
                src.as_ptr().cast(),
                dst.as_mut_ptr(),
                dst.len() as libc::socklen_t,
            )
        };
        assert!(!p.is_null(), "inet_ntop failed");
        // SAFETY: inet_ntop succeeded, so `dst` holds a NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(dst.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn the_forms_where_rust_and_glibc_differ_or_could() {
        for (text, want) in [
            ("::1:203", "::0.1.2.3"),
            ("::102:304", "::1.2.3.4"),
            ("::1", "::1"),
            ("::", "::"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::ffff:0:5", "::ffff:0.0.0.5"),
            ("fc00::4cc:8049:6765:d03a", "fc00::4cc:8049:6765:d03a"),
            ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
            ("1:0:0:1:0:0:1:1", "1::1:0:0:1:1"),
            ("1:0:1:1:1:1:1:1", "1:0:1:1:1:1:1:1"),
        ] {
            let a: Ipv6Addr = text.parse().unwrap();
            assert_eq!(ntop6(a), want, "{text}");
            assert_eq!(libc_ntop(a), want, "glibc on {text}");
        }
    }

    /// Addresses with many zero groups, where the forms differ.
    fn sparse() -> impl Strategy<Value = Ipv6Addr> {
        proptest::array::uniform8(
            prop_oneof![3 => Just(0u16), 1 => Just(0xffff), 2 => any::<u16>()],
        )
        .prop_map(Ipv6Addr::from)
    }

    proptest! {
        #[test]
        fn agrees_with_glibc(a in sparse()) {
            prop_assert_eq!(ntop6(a), libc_ntop(a));
        }

        #[test]
        fn agrees_with_glibc_on_any_address(bits in any::<u128>()) {
            let a = Ipv6Addr::from(bits);
            prop_assert_eq!(ntop6(a), libc_ntop(a));
        }
    }
}
