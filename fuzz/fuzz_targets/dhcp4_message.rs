//! Arbitrary bytes parsed as a DHCPv4 message (what a DHCP server, or anyone on the link, may
//! send): parsing must never panic, and what parses must emit and parse back to the same.
#![no_main]

use nlconf::dhcp::DhcpMessage;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = DhcpMessage::parse(data) {
        let again = DhcpMessage::parse(&msg.emit()).expect("an emitted message parses");
        assert_eq!(again.emit(), msg.emit());
    }
});
