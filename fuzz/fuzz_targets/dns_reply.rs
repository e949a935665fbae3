//! The resolver's reply path: arbitrary bytes as the reply to a query, accepted or rejected
//! (RFC 5452) and interpreted (CNAME chains, negative TTLs), never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ioth::dns::fuzzing::reply(data);
});
