//! A datagram to a new neighbour leaves as soon as that neighbour answers, however many other
//! lookups the stack just made. smoltcp alone asks for one neighbour a second per interface
//! and keeps the datagrams for any other queued meanwhile: at start, where every node
//! resolves someone at once, a first datagram (a DNS query's first try, an echo) waited a
//! second or two. The smoltcp stack now asks for each waiting next hop itself, as Linux does.

use std::time::{Duration, Instant};

use ioth::Stack;
use ioth_tests::fixtures::unique_hub;

fn node(hub: &str, v4: &str, v6: &str) -> Stack {
    let (stack, _) = Stack::from_config(&format!(
        "stack=smoltcp vnl={hub} eth ip={v4}/24 ip={v6}/64"
    ))
    .expect("stack");
    stack
}

/// How long a datagram from `from` to each of `to` takes, sent one right after the other
/// to neighbours `from` never talked to.
fn first_datagrams(from: &Stack, to: &[(&Stack, &str)]) -> Vec<Duration> {
    let receivers: Vec<_> = to
        .iter()
        .map(|(s, a)| {
            let sock = s.udp_bind(*a).expect("bind");
            sock.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            (sock, sock_addr(a))
        })
        .collect();
    let family_any = if to[0].1.starts_with('[') {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let sender = from.udp_bind(family_any).expect("sender");
    let start = Instant::now();
    for (_, addr) in &receivers {
        sender.send_to(b"hello", addr).expect("send");
    }
    receivers
        .iter()
        .map(|(sock, addr)| {
            let mut buf = [0u8; 16];
            let (n, _) = sock
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("the datagram to {addr} arrived: {e}"));
            assert_eq!(&buf[..n], b"hello");
            start.elapsed()
        })
        .collect()
}

fn sock_addr(a: &str) -> std::net::SocketAddr {
    a.parse().expect("address")
}

#[test]
fn datagrams_to_several_new_neighbours_do_not_wait_on_each_other() {
    let _ = ioth_smoltcp::NAME;
    let hub = unique_hub();
    let a = node(&hub, "10.61.0.1", "fd00:61::1");
    let peers: Vec<Stack> = (2..=5)
        .map(|i| node(&hub, &format!("10.61.0.{i}"), &format!("fd00:61::{i}")))
        .collect();
    for (family, addrs) in [
        (
            "IPv4",
            (2..=5)
                .map(|i| format!("10.61.0.{i}:4000"))
                .collect::<Vec<_>>(),
        ),
        (
            "IPv6",
            (2..=5).map(|i| format!("[fd00:61::{i}]:4000")).collect(),
        ),
    ] {
        let to: Vec<(&Stack, &str)> = peers.iter().zip(addrs.iter().map(String::as_str)).collect();
        let took = first_datagrams(&a, &to);
        // smoltcp alone: a second more for each neighbour after the first.
        let last = took.iter().max().copied().unwrap_or_default();
        assert!(
            last < Duration::from_millis(700),
            "{family}: 4 first datagrams to 4 new neighbours arrived after {took:?}"
        );
    }
}

#[test]
fn pings_to_several_new_neighbours_do_not_wait_on_each_other() {
    let _ = ioth_smoltcp::NAME;
    let hub = unique_hub();
    let a = node(&hub, "10.62.0.1", "fd00:62::1");
    let _peers: Vec<Stack> = (2..=5)
        .map(|i| node(&hub, &format!("10.62.0.{i}"), &format!("fd00:62::{i}")))
        .collect();
    let ping = a
        .socket(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP)
        .expect("a ping socket");
    ping.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let start = Instant::now();
    for i in 2..=5u8 {
        let echo = [8u8, 0, 0, 0, 0, 0, 0, i];
        let to: std::net::SocketAddr = format!("10.62.0.{i}:0").parse().expect("addr");
        ping.send_to(&echo, &to.into(), 0).expect("send");
    }
    let mut seqs = Vec::new();
    let mut buf = [0u8; 64];
    while seqs.len() < 4 {
        let (n, _) = ping
            .recv_from(&mut buf, 0)
            .expect("an echo reply within 5 s");
        assert!(n >= 8 && buf[0] == 0, "an echo reply");
        seqs.push(buf[7]);
    }
    let took = start.elapsed();
    seqs.sort_unstable();
    assert_eq!(seqs, vec![2, 3, 4, 5]);
    assert!(
        took < Duration::from_millis(700),
        "4 pings to 4 new neighbours answered after {took:?}"
    );
}
