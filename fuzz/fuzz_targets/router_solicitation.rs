//! Router solicitations as a router receives them (any bytes from the link, any source and
//! hop limit): parsing and iothradvd's checks never panic, and an accepted solicitation
//! only schedules answers that go within RFC 4861's limits.
#![no_main]

use std::net::Ipv6Addr;
use std::time::Duration;

use iothradvd::schedule::{Scheduler, Timing};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (head, msg) = data.split_at(2);
    let source = if head[0] & 1 == 0 {
        Ipv6Addr::UNSPECIFIED
    } else {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(head[0]))
    };
    let hop_limit = (head[1] != 0).then_some(head[1]);
    let _ = nlconf::ndisc::RouterSolicitation::parse(msg);
    if iothradvd::solicit::accept(source, hop_limit, msg).is_ok() {
        let now = Duration::from_secs(1000);
        let mut s = Scheduler::new(Timing::from_period(u32::from(head[1] % 40)), now, 1);
        s.solicit(now, source);
        let due = s.next_deadline().expect("an answer is scheduled");
        assert!(due <= now + Duration::from_millis(3500));
    }
});
