#![no_main]
//! Fuzzes the VDE control-request parser: never panics; what parses encodes back to bytes
//! that parse to the same request.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(r) = vde::ctl::CtlRequest::parse(data)
        && r.description.is_ascii()
        && !r.description.contains('\0')
        && r.description.len() <= vde::ctl::MAX_DESCR_LEN
    {
        let bytes = r.encode().expect("a parsed request encodes");
        assert_eq!(vde::ctl::CtlRequest::parse(&bytes).expect("re-parse"), r);
    }
});
