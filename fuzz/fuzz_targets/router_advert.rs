//! Router advertisements (ICMPv6 messages from the link) through the parser and the engine:
//! no input may panic, and what parses re-emits to the same advertisement.
#![no_main]

use std::net::Ipv6Addr;
use std::time::Duration;

use nlconf::ndisc::{RouterAdvert, RouterDiscovery};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(ra) = RouterAdvert::parse(data) {
        assert_eq!(RouterAdvert::parse(&ra.emit()), Ok(ra));
    }
    let mut rd = RouterDiscovery::new([2, 0, 0, 0, 0, 1], Some("fuzz".into()), true);
    rd.start(Duration::ZERO);
    rd.receive(Duration::from_secs(1), Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1), 255, data);
    rd.poll(Duration::from_secs(100_000));
});
