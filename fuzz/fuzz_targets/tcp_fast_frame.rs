//! Arbitrary bytes as Ethernet frames arriving on a link of a `tcp=ioth` stack, seen by the
//! fast path's classifiers (is it a TCP segment that may skip smoltcp, news for the
//! neighbour cache, a TCP frame smoltcp sent): nothing may panic, and a segment taken out
//! lies inside the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first frame's destination MAC is the interface's, so that the fuzzer reaches the
    // IP checks; a second pass with another MAC covers the refusal.
    let mac = data.get(..6).and_then(|m| <[u8; 6]>::try_from(m).ok()).unwrap_or([2, 0, 0, 0, 0, 1]);
    ioth_smoltcp::fuzz_fast_frame(data, mac);
    ioth_smoltcp::fuzz_fast_frame(data, [2, 0, 0, 0, 0, 1]);
});
