//! Arbitrary bytes as a client's DHCPv6 message to namedhcp: parsing and answering must never
//! panic; only a message that parses gets a reply, and a reply carries the request's
//! transaction id, is an Advertise or a Reply, and frames correctly. The first byte picks
//! what DNS says (an address, no such name, no answer); the rest is the message.
#![no_main]

use std::net::Ipv6Addr;

use namedhcp::{NameLookup, Server6, answer_bytes, wire};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&dns, msg)) = data.split_first() else {
        return;
    };
    let server = Server6 {
        duid: vec![0, 1, 0, 1, 0, 0, 0, 1, 2, 0, 0, 0, 0, 1],
        dns: vec![Ipv6Addr::LOCALHOST],
        search: vec!["example.test".into()],
        ntp: vec![Ipv6Addr::LOCALHOST],
    };
    let mut lookups = 0;
    let out = answer_bytes(&server, msg, &mut |name| {
        lookups += 1;
        assert!(!name.is_empty());
        match dns % 3 {
            0 => NameLookup::Found {
                name: format!("{}.", name.trim_end_matches('.')),
                addrs: vec![Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42)],
            },
            1 => NameLookup::NotFound,
            _ => NameLookup::Failed("timeout".into()),
        }
    });
    assert!(lookups <= 1, "one lookup per message at most");
    match out {
        Ok(Some(reply)) => {
            assert!(wire::parse(msg).is_ok(), "a reply only to a valid message");
            assert!(reply[0] == 2 || reply[0] == 7, "Advertise or Reply");
            assert_eq!(reply[1..4], msg[1..4], "the request's transaction id");
            wire::parse(&reply).expect("a reply frames correctly");
        }
        Ok(None) => {}
        Err(_) => assert!(wire::parse(msg).is_err()),
    }
});
