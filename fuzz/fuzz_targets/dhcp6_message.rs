//! Arbitrary bytes parsed as a DHCPv6 message (what a DHCPv6 server, or anyone on the link,
//! may send to port 546): parsing must never panic, what parses must emit and parse back to
//! the same message, and a client waiting for an answer must take it (with the transaction
//! id set to the one it waits for) without panicking, then keep going as time passes.
#![no_main]

use std::time::Duration;

use nlconf::dhcp6::{Action, Dhcp6Client, Dhcp6Message, Mode};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Dhcp6Message::parse(data) {
        let again = Dhcp6Message::parse(&msg.emit()).expect("an emitted message parses");
        assert_eq!(again, msg);
    }
    for mode in [Mode::Stateful, Mode::Stateless] {
        let mut client = Dhcp6Client::new([2, 0, 0, 0, 0, 1], 1, 1, Some("n".into()), mode);
        let mut input = data.to_vec();
        for action in client.start(Duration::ZERO) {
            if let Action::Send { payload, .. } = action
                && input.len() >= 4
            {
                input[1..4].copy_from_slice(&payload[1..4]);
            }
        }
        client.receive(Duration::from_millis(10), &input);
        for _ in 0..4 {
            let Some(at) = client.next_deadline() else {
                break;
            };
            client.poll(at);
        }
    }
});
