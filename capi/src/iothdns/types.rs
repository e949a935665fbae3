//! The C types of `iothdns.h` and its size constants.

use std::ffi::c_char;

/// `struct iothdns_header`: a message's id and flags and its first question.
#[repr(C)]
#[derive(Debug)]
pub struct IothdnsHeader {
    /// The message id.
    pub id: u16,
    /// The flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE) as on the wire.
    pub flags: u16,
    /// The question's name (text form), or NULL for no question.
    pub qname: *const c_char,
    /// The question's type.
    pub qtype: u16,
    /// The question's class.
    pub qclass: u16,
}

/// `struct iothdns_rr`: the fixed part of a resource record.
#[repr(C)]
#[derive(Debug)]
pub struct IothdnsRr {
    /// The owner name (text form).
    pub name: *const c_char,
    /// The record type.
    pub rtype: u16,
    /// The record class.
    pub class: u16,
    /// The time to live, in seconds.
    pub ttl: u32,
    /// The length of the record data (computed when composing).
    pub rdlength: u16,
}

/// The opaque C type `struct iothdns_pkt`: C code only holds pointers to it.
pub enum IothdnsPkt {}

/// `IOTHDNS_MAXNAME`: the size of the name buffers the C API passes.
pub const IOTHDNS_MAXNAME: usize = 256;
/// `IOTHDNS_MAXSTRING`: the longest character-string.
pub const IOTHDNS_MAXSTRING: usize = 255;
/// `IOTHDNS_TIMEOUT_MS`: the longest wait for a peer that makes no progress.
pub const IOTHDNS_TIMEOUT_MS: i32 = 1000;

#[cfg(test)]
mod layout_tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// The layouts the original's header gives on LP64.
    #[test]
    fn structs_match_the_c_layout() {
        assert_eq!(offset_of!(IothdnsHeader, flags), 2);
        assert_eq!(offset_of!(IothdnsHeader, qname), 8);
        assert_eq!(offset_of!(IothdnsHeader, qtype), 16);
        assert_eq!(offset_of!(IothdnsHeader, qclass), 18);
        assert_eq!(size_of::<IothdnsHeader>(), 24);
        assert_eq!(offset_of!(IothdnsRr, rtype), 8);
        assert_eq!(offset_of!(IothdnsRr, class), 10);
        assert_eq!(offset_of!(IothdnsRr, ttl), 12);
        assert_eq!(offset_of!(IothdnsRr, rdlength), 16);
        assert_eq!(size_of::<IothdnsRr>(), 24);
    }
}
