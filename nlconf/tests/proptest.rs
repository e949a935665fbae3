//! Property tests over arbitrary input: the request processor and the configuration parser
//! never panic, and what they produce is well formed.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nlconf::iothconf::{Config, Mode, StaticItem};
use nlconf::model::{ARPHRD_ETHER, Link, iff};
use nlconf::rtnl::{self, flags::*};
use nlconf::server::{MemTables, Tables, process};
use proptest::prelude::*;

fn tables() -> MemTables {
    let mut t = MemTables::with_loopback();
    t.insert_link(Link {
        index: 2,
        name: "eth0".into(),
        mac: [2, 0, 0, 0, 0, 2],
        mtu: 1500,
        flags: iff::BROADCAST | iff::UP | iff::RUNNING | iff::LOWER_UP,
        link_type: ARPHRD_ETHER,
        kind: None,
    });
    t
}

/// Checks that `reply` is a sequence of aligned, complete netlink messages that answer the
/// requests (seq of one of them, our port id) and are errors, DONEs or rtnetlink NEW messages.
fn check_reply(reply: &[u8], seqs: &[u32], pid: u32) {
    let mut covered = 0;
    for (hdr, msg) in rtnl::messages(reply) {
        covered += rtnl::align4(hdr.len as usize);
        assert_eq!(hdr.pid, pid);
        assert!(
            seqs.contains(&hdr.seq),
            "reply seq {} answers no request",
            hdr.seq
        );
        match hdr.ty {
            NLMSG_ERROR => {
                let code = i32::from_ne_bytes(msg[16..20].try_into().unwrap());
                assert!(code <= 0 && code > -4096);
            }
            NLMSG_DONE => assert_eq!(hdr.flags, NLM_F_MULTI),
            16 | 20 | 24 | 28 => {}
            other => panic!("unexpected reply type {other}"),
        }
    }
    assert_eq!(covered, reply.len(), "replies must tile the output");
}

/// Requests with a real header around arbitrary payloads, for types the processor knows.
fn framed_requests() -> impl Strategy<Value = Vec<(u16, u16, Vec<u8>)>> {
    let ty = prop_oneof![
        Just(16u16),
        Just(17),
        Just(18),
        Just(19),
        Just(20),
        Just(21),
        Just(22),
        Just(24),
        Just(25),
        Just(26),
        Just(30),
        0u16..140
    ];
    prop::collection::vec(
        (ty, any::<u16>(), prop::collection::vec(any::<u8>(), 0..96)),
        1..6,
    )
}

proptest! {
    #[test]
    fn processor_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut t = tables();
        let reply = process(&mut t, &bytes, 99);
        let seqs: Vec<u32> = rtnl::messages(&bytes).map(|(h, _)| h.seq).collect();
        check_reply(&reply, &seqs, 99);
    }

    #[test]
    fn processor_survives_framed_arbitrary_payloads(reqs in framed_requests()) {
        let mut t = tables();
        let mut buf = Vec::new();
        let mut seqs = Vec::new();
        for (i, (ty, flags, payload)) in reqs.iter().enumerate() {
            let seq = i as u32 + 1;
            seqs.push(seq);
            rtnl::RawHeader { len: (16 + payload.len()) as u32, ty: *ty, flags: *flags, seq, pid: 0 }.emit(&mut buf);
            buf.extend_from_slice(payload);
            buf.resize(rtnl::align4(buf.len()), 0);
        }
        let reply = process(&mut t, &buf, 7);
        check_reply(&reply, &seqs, 7);
        // the tables stay coherent: every address and route refers to an existing link
        let links: Vec<u32> = t.links().iter().map(|l| l.index).collect();
        prop_assert!(t.addrs().iter().all(|a| links.contains(&a.index)));
        prop_assert!(t.routes().iter().all(|r| r.oif.is_none_or(|o| links.contains(&o))));
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,80}") {
        let _ = Config::parse(&s, Mode::Create);
        let _ = Config::parse(&s, Mode::Running);
    }

    #[test]
    fn parser_never_panics_on_grammar_like_text(s in "[-a-z0-9=/:.,; '\"#\\\\\n]{0,80}") {
        if let Err(e) = Config::parse(&s, Mode::Running) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn valid_items_parse_to_what_they_say(
        v4 in any::<[u8; 4]>(), len4 in 1u8..=32,
        v6 in any::<[u16; 8]>(), len6 in 1u8..=128,
        gw in any::<[u8; 4]>(),
        sep in prop_oneof![Just(","), Just(";"), Just(" "), Just("\n")],
    ) {
        let a4 = IpAddr::V4(Ipv4Addr::from(v4));
        let a6 = IpAddr::V6(Ipv6Addr::from(v6));
        let g = IpAddr::V4(Ipv4Addr::from(gw));
        let s = format!("eth{sep}ip={a4}/{len4}{sep}ip='{a6}/{len6}'{sep}gw={g}{sep}-ip={a4}");
        let c = Config::parse(&s, Mode::Running).unwrap();
        prop_assert!(c.enable.eth && c.enable.static_);
        prop_assert_eq!(c.add, vec![StaticItem::Addr(a4, len4), StaticItem::Addr(a6, len6), StaticItem::Gateway(g)]);
        prop_assert_eq!(c.remove, vec![StaticItem::Addr(a4, 24)]);
    }
}
