//! Arbitrary bytes fed to the rtnetlink request processor over in-memory tables: it must never
//! panic, and its replies must be complete, aligned netlink messages answering the requests.
#![no_main]

use nlconf::model::{ARPHRD_ETHER, Link, iff};
use nlconf::rtnl;
use nlconf::server::{MemTables, Tables, process};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut tables = MemTables::with_loopback();
    tables.insert_link(Link {
        index: 2,
        name: "eth0".into(),
        mac: [2, 0, 0, 0, 0, 2],
        mtu: 1500,
        flags: iff::BROADCAST | iff::UP | iff::RUNNING | iff::LOWER_UP,
        link_type: ARPHRD_ETHER,
        kind: Some("vde".into()),
    });
    // Twice over the same tables, so that a request can meet state an earlier one created.
    for _ in 0..2 {
        let reply = process(&mut tables, data, 1);
        let seqs: Vec<u32> = rtnl::messages(data).map(|(h, _)| h.seq).collect();
        let mut covered = 0;
        for (hdr, _) in rtnl::messages(&reply) {
            covered += rtnl::align4(hdr.len as usize);
            assert!(seqs.contains(&hdr.seq));
            assert_eq!(hdr.pid, 1);
        }
        assert_eq!(covered, reply.len());
    }
    let links: Vec<u32> = tables.links().iter().map(|l| l.index).collect();
    assert!(tables.addrs().iter().all(|a| links.contains(&a.index)));
});
