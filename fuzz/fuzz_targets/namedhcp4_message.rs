//! Arbitrary bytes as a client's DHCPv4 message to namedhcp4: parsing and answering must
//! never panic; only a message that parses gets a reply, a BOOTREPLY with the request's
//! transaction id that frames as a DHCP message. The first byte picks what DNS says.
#![no_main]

use std::net::Ipv4Addr;

use namedhcp::v4::txt::TxtOptions;
use namedhcp::v4::{NameLookup4, Outcome4, Server4, answer4, wire};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&dns, msg)) = data.split_first() else {
        return;
    };
    let server = Server4 {
        id: Ipv4Addr::new(192, 168, 1, 25),
        defaults: TxtOptions {
            dns: vec![Ipv4Addr::new(192, 168, 1, 24)],
            domain: Some("test.local".into()),
            ..TxtOptions::default()
        },
    };
    let Ok(m) = wire::parse(msg) else {
        return;
    };
    let out = answer4(&server, &m, &mut |name| {
        assert!(!name.is_empty());
        match dns % 3 {
            0 => NameLookup4::Found {
                name: format!("{}.", name.trim_end_matches('.')),
                addr: Ipv4Addr::new(192, 168, 1, 1),
                options: TxtOptions::default(),
            },
            1 => NameLookup4::NotFound,
            _ => NameLookup4::Failed("timeout".into()),
        }
    });
    if let Outcome4::Reply { msg: reply, .. } = out {
        assert_eq!(reply.xid(), m.xid());
        let bytes = wire::encode(&reply).expect("a reply encodes");
        assert_eq!(bytes[0], 2, "BOOTREPLY");
        assert_eq!(bytes[236..240], wire::MAGIC);
    }
    // The TXT parser sees names' TXT records, which are outside input too.
    let _ = namedhcp::v4::txt::parse(&String::from_utf8_lossy(msg));
});
