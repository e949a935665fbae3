//! Interface counters through netlink (`IFLA_STATS64`, `Stack::link_stats`): on two smoltcp
//! stacks of one in-process hub what one sends the other receives, frame for frame and byte
//! for byte, and the datagrams sent are in them; frames a full receive queue refused show
//! as `rx_dropped`; the kernel's loopback counters grow with what the kernel stack sends.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::config::LinkStats;
use ioth_tests::fixtures::{smoltcp_on, unique_hub};

const N: u64 = 50;
const PAYLOAD: usize = 100;
/// Ethernet + IPv4 + UDP headers.
const HEADERS: u64 = 14 + 20 + 8;

fn stats(stack: &Stack, ifname: &str) -> LinkStats {
    stack.link_stats(ifname).expect("link counters")
}

#[test]
fn udp_between_two_stacks_shows_in_both_stacks_counters() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let a = smoltcp_on(&hub, Some([10, 97, 0, 1]));
    let b = smoltcp_on(&hub, Some([10, 97, 0, 2]));
    let rx = b.udp_bind("10.97.0.2:7300").expect("bind");
    rx.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let tx = a.udp_bind("10.97.0.1:0").expect("bind");
    // One exchange first, so that ARP is done before the counting starts.
    tx.send_to(b"hello", (Ipv4Addr::new(10, 97, 0, 2), 7300))
        .expect("send");
    let mut buf = [0u8; 2048];
    rx.recv_from(&mut buf).expect("the first datagram");
    let (a0, b0) = (stats(&a, "vde0"), stats(&b, "vde0"));
    for i in 0..N {
        let d = [i as u8; PAYLOAD];
        tx.send_to(&d, (Ipv4Addr::new(10, 97, 0, 2), 7300))
            .expect("send");
        let (n, _) = rx.recv_from(&mut buf).expect("datagram received");
        assert_eq!(&buf[..n], &d[..]);
    }
    let (a1, b1) = (stats(&a, "vde0"), stats(&b, "vde0"));
    let wire = N * (HEADERS + PAYLOAD as u64);
    eprintln!("sender {a1:?}\nreceiver {b1:?}");
    assert!(a1.tx_packets - a0.tx_packets >= N, "{a0:?} {a1:?}");
    assert!(a1.tx_bytes - a0.tx_bytes >= wire, "{a0:?} {a1:?}");
    assert!(b1.rx_packets - b0.rx_packets >= N, "{b0:?} {b1:?}");
    assert!(b1.rx_bytes - b0.rx_bytes >= wire, "{b0:?} {b1:?}");
    for s in [a1, b1] {
        assert_eq!(
            (s.rx_errors, s.tx_errors, s.rx_dropped, s.tx_dropped),
            (0, 0, 0, 0)
        );
        assert!(s.rx_bytes >= 60 * s.rx_packets && s.tx_bytes >= 42 * s.tx_packets);
    }
    // The hub has these two members only: every frame one sends reaches the other, which
    // counts it (to its MAC, or broadcast/multicast). Background frames (neighbour
    // discovery, MLD) may be in flight between two reads: read until both sides agree.
    // (Counted from a0/b0: a's first frames went out before b was on the hub.)
    let start = Instant::now();
    loop {
        let (a2, b2) = (stats(&a, "vde0"), stats(&b, "vde0"));
        if a2.tx_packets - a0.tx_packets == b2.rx_packets - b0.rx_packets
            && a2.tx_bytes - a0.tx_bytes == b2.rx_bytes - b0.rx_bytes
            && b2.tx_packets - b0.tx_packets == a2.rx_packets - a0.rx_packets
            && b2.tx_bytes - b0.tx_bytes == a2.rx_bytes - a0.rx_bytes
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "sent and received never agree: {a2:?} {b2:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // lo is counted too (what it loops back, once each way).
    let lo = stats(&a, "lo");
    assert_eq!((lo.rx_packets, lo.rx_bytes), (lo.tx_packets, lo.tx_bytes));
    let e = a.link_stats("nosuch0").expect_err("no such interface");
    assert_eq!(ioth::errno_of(&e), libc::ENODEV);
    assert!(e.to_string().contains("nosuch0"), "{e}");
}

#[test]
fn frames_a_full_receive_queue_refuses_are_rx_dropped() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    // The first member makes the hub, with receive queues of 4 frames.
    let _tap = vde::open(&format!("{hub}[queue=4]")).expect("first member");
    let a = smoltcp_on(&hub, Some([10, 97, 1, 1]));
    let b = smoltcp_on(&hub, Some([10, 97, 1, 2]));
    let rx = b.udp_bind("10.97.1.2:7301").expect("bind");
    let tx = a.udp_bind("10.97.1.1:0").expect("bind");
    tx.set_broadcast(true).expect("SO_BROADCAST");
    let before = stats(&b, "vde0");
    // One send call flushes its frame at once, on this thread: a burst outruns b's driver.
    for _ in 0..2000 {
        tx.send_to(&[1u8; 1000], (Ipv4Addr::new(10, 97, 1, 255), 7301))
            .expect("broadcast");
    }
    std::thread::sleep(Duration::from_millis(200));
    let after = stats(&b, "vde0");
    eprintln!("{before:?}\n{after:?}");
    assert!(after.rx_dropped > before.rx_dropped, "{before:?} {after:?}");
    assert_eq!(after.tx_dropped, 0);
    drop(rx);
}

#[test]
fn kernel_loopback_counters_grow_with_what_the_kernel_stack_sends() {
    let k = Stack::kernel().expect("kernel stack");
    let before = stats(&k, "lo");
    let sock = k.udp_bind("127.0.0.1:0").expect("bind");
    let to = sock.local_addr().expect("local address");
    for _ in 0..N {
        sock.send_to(&[7u8; PAYLOAD], to).expect("send");
    }
    let after = stats(&k, "lo");
    eprintln!("{before:?}\n{after:?}");
    assert!(after.tx_packets - before.tx_packets >= N);
    assert!(after.rx_packets - before.rx_packets >= N);
    assert!(after.rx_bytes - before.rx_bytes >= N * (20 + 8 + PAYLOAD as u64));
}
