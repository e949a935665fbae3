//! resolv.conf and hosts-file text: parsed strictly and leniently, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        ioth::dns::fuzzing::texts(text);
    }
});
