#![no_main]
//! Fuzzes the VNL parser: never panics; what parses prints back to the same VNL.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(v) = vde::Vnl::parse(s)
    {
        let again = vde::Vnl::parse(&v.to_string()).expect("a printed VNL parses");
        assert_eq!(again, v);
    }
});
