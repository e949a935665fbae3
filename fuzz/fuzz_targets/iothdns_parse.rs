//! DNS messages from the network through libiothdns's C parser, exactly as a C program
//! calls it: `iothdns_get_header` on an exact-size copy, then `iothdns_get_rr` to the end
//! with the data reads the input's own bytes choose. No input may panic, loop, or make a
//! read past the message; every string handed back is NUL-terminated inside its buffer; the
//! UDP truncation of what parses still parses.
#![no_main]

use std::ffi::{CStr, c_char};

// The C API's packet code, compiled into the target (capi builds no rlib). pkt.rs finds
// its siblings and the C types through `super::` and the boundary through `crate::`, so
// they sit at the crate root here as they sit in capi's iothdns module.
#[allow(dead_code, unused_imports)]
#[path = "../../capi/src/boundary.rs"]
mod boundary;
#[allow(dead_code)]
#[path = "../../capi/src/iothdns/names.rs"]
mod names;
#[allow(dead_code)]
#[path = "../../capi/src/iothdns/pkt.rs"]
mod pkt;
#[allow(dead_code)]
#[path = "../../capi/src/iothdns/types.rs"]
mod types;
#[allow(dead_code)]
#[path = "../../capi/src/iothdns/wire.rs"]
mod wire;

use pkt::*;
use types::*;

fn terminated(buf: &[c_char]) -> bool {
    buf.contains(&0)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut msg = data.to_vec();
    let mut h = IothdnsHeader {
        id: 0,
        flags: 0,
        qname: std::ptr::null(),
        qtype: 0,
        qclass: 0,
    };
    let mut qname = [0x55 as c_char; 256];
    // SAFETY: h, msg and qname are valid for the sizes given and outlive the packet.
    let pkt = unsafe {
        iothdns_get_header(&mut h, msg.as_mut_ptr().cast(), msg.len(), qname.as_mut_ptr())
    };
    if let Ok((_, _)) = wire::Parser::new(data) {
        let cut = wire::truncate(data, 512);
        assert!(cut.len() <= 512);
        assert!(wire::Parser::new(&cut).is_ok(), "truncation broke {data:x?}");
    }
    let _ = wire::client_udp_limit(data);
    if pkt.is_null() {
        return;
    }
    if !h.qname.is_null() {
        assert!(terminated(&qname));
    }
    let mut rr = IothdnsRr {
        name: std::ptr::null(),
        rtype: 0,
        class: 0,
        ttl: 0,
        rdlength: 0,
    };
    let mut name = [0x55 as c_char; 256];
    let mut text = [0x55 as c_char; 256];
    let mut bytes = [0u8; 64];
    let mut records = 0u32;
    loop {
        // SAFETY: the packet is live; rr and name are valid.
        let section = unsafe { iothdns_get_rr(pkt, &mut rr, name.as_mut_ptr()) };
        if section == 0 {
            break;
        }
        assert!((1..=3).contains(&section));
        assert!(terminated(&name));
        records += 1;
        assert!(records <= 65535 / 11 + 1, "more records than bytes allow");
        // Read the data the way the record's type byte suggests, a few times over.
        for k in 0..(rr.rtype % 5) {
            // SAFETY: each buffer is valid for what the call writes.
            unsafe {
                match (rr.rtype.wrapping_add(k)) % 7 {
                    0 => {
                        let _ = iothdns_get_int8(pkt);
                    }
                    1 => {
                        let _ = iothdns_get_int16(pkt);
                    }
                    2 => {
                        let _ = iothdns_get_int32(pkt);
                    }
                    3 => {
                        if !iothdns_get_name(pkt, text.as_mut_ptr()).is_null() {
                            assert!(CStr::from_ptr(text.as_ptr()).to_bytes().len() <= 255);
                        }
                    }
                    4 => {
                        if !iothdns_get_string(pkt, text.as_mut_ptr()).is_null() {
                            assert!(terminated(&text));
                        }
                    }
                    5 => {
                        let _ = iothdns_get_aaaa(pkt, bytes.as_mut_ptr().cast());
                    }
                    _ => {
                        let n = (rr.ttl % 64) as u16;
                        let _ = iothdns_get_data(pkt, bytes.as_mut_ptr().cast(), n);
                    }
                }
            }
        }
    }
    let v = iothdns_getbuf(pkt);
    assert_eq!(v.iov_base as *const u8, msg.as_ptr());
    assert_eq!(v.iov_len, msg.len());
    iothdns_free(pkt);
});
