//! Arbitrary bytes parsed as a DHCPv4 message (what a DHCP server, or anyone on the link, may
//! send): parsing must never panic, and what parses must emit to bytes that parse back to the
//! same message and emit again to the same bytes. A client waiting for an answer (with the
//! transaction id and hardware address set to the ones it waits for) must take it without
//! panicking, then keep going as time passes.
#![no_main]

use std::time::Duration;

use nlconf::dhcp::{Dhcp4Client, DhcpMessage};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = DhcpMessage::parse(data) {
        let bytes = msg.emit();
        let again = DhcpMessage::parse(&bytes).expect("an emitted message parses");
        assert_eq!(again, msg, "parse(emit(parse(x))) == parse(x)");
        assert_eq!(again.emit(), bytes, "emit is stable across the round trip");
    }
    let mac = [2, 0, 0, 0, 0, 1];
    let mut client = Dhcp4Client::new(mac, 1, Some("n.example.org".into()));
    let mut input = data.to_vec();
    for action in client.start(Duration::ZERO) {
        if let nlconf::dhcp::Action::Send { payload, .. } = action
            && input.len() >= 34
        {
            input[4..8].copy_from_slice(&payload[4..8]);
            input[28..34].copy_from_slice(&mac);
        }
    }
    client.receive(Duration::from_secs(1), &input);
    for _ in 0..4 {
        let Some(at) = client.next_deadline() else {
            break;
        };
        client.poll(at);
    }
});
