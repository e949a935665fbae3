//! Protocol counters (`Stack::protocol_counters`, what `netstat -s` shows): datagrams a
//! small SO_RCVBUF cannot hold are receive-buffer errors; TCP through a lossy hub link
//! retransmits and says so; a datagram to a closed port is NoPorts and answered with a
//! destination unreachable; a datagram with a bad checksum is a checksum error and never
//! reaches the socket; the kernel stack reads its own counters.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::counters::ProtocolCounters;
use ioth::net::{TcpListener, TcpStream};
use ioth_tests::fixtures::{smoltcp_on, unique_hub};
use socket2::SockAddr;

fn counters(stack: &Stack) -> ProtocolCounters {
    stack.protocol_counters().expect("protocol counters")
}

/// Waits (at most 5 s) until `ok` holds for `stack`'s counters; returns them.
fn wait_for(stack: &Stack, what: &str, ok: impl Fn(&ProtocolCounters) -> bool) -> ProtocolCounters {
    let start = Instant::now();
    loop {
        let c = counters(stack);
        if ok(&c) {
            return c;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{what}: {c:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn datagrams_a_small_receive_buffer_cannot_hold_are_rcvbuf_errors() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let a = smoltcp_on(&hub, Some([10, 98, 0, 1]));
    let b = smoltcp_on(&hub, Some([10, 98, 0, 2]));
    let rx = b
        .socket(libc::AF_INET, libc::SOCK_DGRAM, 0)
        .expect("UDP socket");
    rx.set_option::<libc::c_int>(libc::SOL_SOCKET, libc::SO_RCVBUF, 4096)
        .expect("SO_RCVBUF");
    rx.bind(&SockAddr::from(
        "10.98.0.2:7400".parse::<SocketAddr>().expect("address"),
    ))
    .expect("bind");
    let tx = a.udp_bind("10.98.0.1:0").expect("bind");
    let dst = (Ipv4Addr::new(10, 98, 0, 2), 7400);
    // ARP first: one datagram that is read.
    tx.send_to(b"first", dst).expect("send");
    rx.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    rx.recv(&mut buf, 0).expect("the first datagram");
    let (a0, b0) = (counters(&a), counters(&b));
    const N: u64 = 100;
    for _ in 0..N {
        tx.send_to(&[5u8; 1000], dst).expect("send");
    }
    let b1 = wait_for(&b, "the datagrams arrived", |c| {
        c.ip.in_receives - b0.ip.in_receives >= N
    });
    let a1 = counters(&a);
    let dropped = b1.udp.rcvbuf_errors - b0.udp.rcvbuf_errors;
    assert!(dropped > 0, "a 4 KiB buffer held 100 KB: {:?}", b1.udp);
    assert!(b1.udp.in_errors - b0.udp.in_errors >= dropped);
    assert!(a1.udp.out_datagrams - a0.udp.out_datagrams >= N);
    // What was queued is what can be read, and reading it counts it (as Linux does).
    rx.set_nonblocking(true).expect("nonblocking");
    let mut read = 0;
    while rx.recv(&mut buf, 0).is_ok() {
        read += 1;
    }
    let b2 = counters(&b);
    eprintln!("sender {:?}\nreceiver {:?}\nread {read}", a1.udp, b2.udp);
    assert_eq!(read + dropped, N);
    assert_eq!(b2.udp.in_datagrams - b1.udp.in_datagrams, read);
}

#[test]
fn tcp_through_a_lossy_link_counts_retransmissions() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    // The client's member of the hub loses 10% of the frames it sends.
    let server = smoltcp_on(&hub, Some([10, 98, 1, 1]));
    let client = smoltcp_on(&format!("{hub}[loss=10]"), Some([10, 98, 1, 2]));
    let listener = TcpListener::bind_on(&server, "10.98.1.1:7401").expect("listen");
    let sink = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().expect("accept");
        let mut total = 0usize;
        let mut buf = vec![0u8; 65536];
        loop {
            match c.read(&mut buf) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) => panic!("read: {e}"),
            }
        }
    });
    let before = counters(&client);
    let mut conn = TcpStream::connect_on(&client, "10.98.1.1:7401").expect("connect");
    let data = vec![7u8; 300_000];
    conn.write_all(&data).expect("write");
    drop(conn);
    assert_eq!(sink.join().expect("sink"), data.len());
    let after = counters(&client);
    let s = counters(&server);
    eprintln!("client {:?}\nserver {:?}", after.tcp, s.tcp);
    assert!(
        after.tcp.retrans_segs > before.tcp.retrans_segs,
        "{:?}",
        after.tcp
    );
    assert!(after.tcp.out_segs - before.tcp.out_segs >= 300_000 / 1460);
    assert_eq!(after.tcp.active_opens - before.tcp.active_opens, 1);
    assert!(s.tcp.passive_opens >= 1 && s.tcp.in_segs >= 300_000 / 1460);
    assert_eq!(s.tcp.in_csum_errors, 0);
}

#[test]
fn a_closed_port_is_no_ports_and_a_destination_unreachable() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let a = smoltcp_on(&hub, Some([10, 98, 2, 1]));
    let b = smoltcp_on(&hub, Some([10, 98, 2, 2]));
    let tx = a.udp_bind("10.98.2.1:0").expect("bind");
    let (a0, b0) = (counters(&a), counters(&b));
    tx.send_to(b"anyone?", (Ipv4Addr::new(10, 98, 2, 2), 9))
        .expect("send");
    let b1 = wait_for(&b, "NoPorts", |c| c.udp.no_ports > b0.udp.no_ports);
    assert!(b1.icmp.out_dest_unreachs > b0.icmp.out_dest_unreachs);
    let a1 = wait_for(&a, "unreachable received", |c| {
        c.icmp.in_dest_unreachs > a0.icmp.in_dest_unreachs
    });
    assert!(a1.icmp.in_msgs > a0.icmp.in_msgs);
}

/// An IPv4 UDP frame from 10.98.3.9:1000 to `dst_mac`/10.98.3.2:`port`, right header
/// checksum, UDP checksum `sum` (0 would mean none).
fn udp_frame(dst_mac: [u8; 6], port: u16, payload: &[u8], sum: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 28 + payload.len()];
    f[..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 3, 9]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..];
    ip[0] = 0x45;
    let total = (28 + payload.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 98, 3, 9]);
    ip[16..20].copy_from_slice(&[10, 98, 3, 2]);
    let mut acc = 0u32;
    for w in ip[..20].chunks(2) {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    ip[10..12].copy_from_slice(&(!(acc as u16)).to_be_bytes());
    ip[20..22].copy_from_slice(&1000u16.to_be_bytes());
    ip[22..24].copy_from_slice(&port.to_be_bytes());
    ip[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    ip[26..28].copy_from_slice(&sum.to_be_bytes());
    ip[28..].copy_from_slice(payload);
    f
}

#[test]
fn a_bad_udp_checksum_is_counted_and_never_delivered() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let b = smoltcp_on(&hub, Some([10, 98, 3, 2]));
    let rx = b.udp_bind("10.98.3.2:7402").expect("bind");
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let raw = vde::open(&hub).expect("a raw member");
    let mac = b
        .link_mac(b.if_nametoindex("vde0").expect("vde0"))
        .expect("MAC");
    let b0 = counters(&b);
    // A checksum that is wrong (0x1234 matches nothing here), then one with no checksum.
    raw.send(&udp_frame(mac, 7402, b"bad", 0x1234))
        .expect("send");
    let b1 = wait_for(&b, "checksum error", |c| {
        c.udp.in_csum_errors > b0.udp.in_csum_errors
    });
    assert!(b1.udp.in_errors > b0.udp.in_errors);
    let mut buf = [0u8; 64];
    assert!(
        rx.recv_from(&mut buf).is_err(),
        "the bad datagram was delivered"
    );
    raw.send(&udp_frame(mac, 7402, b"none", 0)).expect("send");
    let (n, _) = rx.recv_from(&mut buf).expect("a datagram without checksum");
    assert_eq!(&buf[..n], b"none");
    assert_eq!(counters(&b).udp.in_csum_errors, b1.udp.in_csum_errors);
}

#[test]
fn the_kernel_stack_reads_its_namespaces_counters() {
    let k = Stack::kernel().expect("kernel stack");
    let before = counters(&k);
    let sock = k.udp_bind("127.0.0.1:0").expect("bind");
    let to = sock.local_addr().expect("address");
    for _ in 0..10 {
        sock.send_to(b"x", to).expect("send");
    }
    let mut buf = [0u8; 8];
    for _ in 0..10 {
        sock.recv_from(&mut buf).expect("read back");
    }
    let after = counters(&k);
    assert!(after.udp.out_datagrams >= before.udp.out_datagrams + 10);
    assert!(after.udp.in_datagrams >= before.udp.in_datagrams + 10);
}
