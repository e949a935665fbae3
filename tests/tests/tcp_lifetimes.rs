//! TCP lifetimes on smoltcp stacks as Linux's (issue 10): half-open floods do not lock a
//! listener out, connections whose peer vanished end with ETIMEDOUT (data: TCP_USER_TIMEOUT
//! or `tcp_retries2`; idle: keepalive), idle connections without keepalive live on, a new SYN
//! for a four-tuple still held in a closing state takes it over, and ephemeral ports are
//! random (RFC 6056).
//!
//! In-process hubs (no root), except the switch-death test, which kills a real `vde_switch`
//! child in a temporary directory.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::net::{TcpListener, TcpStream};
use ioth_tests::fixtures::{smoltcp_on, smoltcp_on_with, unique_hub};
use ioth_tests::peers::VdeSwitch;
use libc::c_int;

fn link_down(stack: &Stack) {
    let idx = stack.if_nametoindex("vde0").expect("vde0");
    stack.link_set_up(idx, false).expect("down");
}

fn checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in chunks {
        for pair in chunk.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).copied().map_or(0, u32::from);
            sum += hi | lo;
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame with a TCP SYN from `src` to `dst`, checksums filled in.
fn syn_frame(dst_mac: [u8; 6], src: SocketAddr, dst: SocketAddr, seq: u32) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) else {
        panic!("IPv4 only");
    };
    let mut tcp = Vec::with_capacity(20);
    tcp.extend_from_slice(&src.port().to_be_bytes());
    tcp.extend_from_slice(&dst.port().to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&0u32.to_be_bytes());
    tcp.extend_from_slice(&[5 << 4, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    let pseudo = [&s.octets()[..], &d.octets()[..], &[0, 6, 0, 20]];
    let sum = checksum(&[pseudo[0], pseudo[1], pseudo[2], &tcp]);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&s.octets());
    ip.extend_from_slice(&d.octets());
    let sum = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut f = Vec::with_capacity(14 + 40);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0x95, 0x99]);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&tcp);
    f
}

/// Echoes one exchange on `listener` in a thread.
fn echo_once(listener: TcpListener) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).expect("read");
        conn.write_all(&buf[..n]).expect("write");
    })
}

fn exchange(stream: &mut TcpStream) {
    stream.write_all(b"hello").expect("write");
    let mut buf = [0u8; 5];
    stream.read_exact(&mut buf).expect("echo");
    assert_eq!(&buf, b"hello");
}

#[test]
fn a_flood_of_spoofed_syns_does_not_lock_a_client_out() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let server = smoltcp_on(&hub, Some([10, 95, 0, 1]));
    let client = smoltcp_on(&hub, Some([10, 95, 0, 2]));
    let listener = TcpListener::bind_on(&server, "10.95.0.1:8080").expect("listen");
    let mac = server
        .link_mac(server.if_nametoindex("vde0").expect("vde0"))
        .expect("mac");
    // More half-open connections than the listener's backlog (128) and than its SYN queue
    // (1024), from addresses nobody will ever answer for.
    let attacker = vde::open(&hub).expect("raw member");
    let dst: SocketAddr = "10.95.0.1:8080".parse().expect("addr");
    for i in 0..1200u32 {
        let src = SocketAddr::new(
            Ipv4Addr::new(198, 18, (i >> 8) as u8, i as u8).into(),
            1024 + (i as u16),
        );
        attacker
            .send(&syn_frame(mac, src, dst, i.wrapping_mul(7919)))
            .expect("send SYN");
        if i % 64 == 0 {
            // In-process hub queues hold 256 frames: let the server keep up.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    let echo = echo_once(listener);
    let mut stream = TcpStream::connect_timeout_on(&client, &dst, Duration::from_secs(5))
        .expect("a legitimate client still connects");
    exchange(&mut stream);
    echo.join().expect("echo thread");
}

/// A full accept queue drops SYNs rather than refusing them, as Linux's: the connection
/// past it is not refused but waits (its SYN retried) until the server accepts. Our engine
/// queues `backlog + 1` connections, as Linux; smoltcp's TCP (`tcp=smoltcp`) `backlog`.
#[test]
fn a_full_accept_queue_drops_syns_instead_of_refusing() {
    for (options, queued) in [("", 3), ("tcp=smoltcp", 2)] {
        full_accept_queue(options, queued);
    }
}

fn full_accept_queue(options: &str, queued: usize) {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let server = smoltcp_on_with(options, &hub, Some([10, 95, 1, 1]));
    let client = smoltcp_on_with(options, &hub, Some([10, 95, 1, 2]));
    let listener = server
        .socket(libc::AF_INET, libc::SOCK_STREAM, 0)
        .expect("socket");
    listener
        .bind(&SocketAddr::from(([10, 95, 1, 1], 8081)).into())
        .expect("bind");
    listener.listen(2).expect("listen");
    let dst: SocketAddr = "10.95.1.1:8081".parse().expect("addr");
    let held: Vec<TcpStream> = (0..queued)
        .map(|_| {
            TcpStream::connect_timeout_on(&client, &dst, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("{options:?}: a queued connection: {e}"))
        })
        .collect();
    let next = std::thread::spawn({
        let client = client.clone();
        move || TcpStream::connect_timeout_on(&client, &dst, Duration::from_secs(10))
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !next.is_finished(),
        "{options:?}: the connection past a full queue waits for room"
    );
    let accepted: Vec<_> = (0..=queued)
        .map(|_| listener.accept().expect("accept"))
        .collect();
    let next = next.join().expect("thread");
    assert!(
        next.is_ok(),
        "{options:?}: the waiting connection connects once there is room: {next:?}"
    );
    assert_eq!(accepted.len(), queued + 1);
    drop(held);
}

#[test]
fn unacknowledged_data_ends_in_etimedout_after_tcp_user_timeout_when_the_switch_dies() {
    ioth_tests::init_logging();
    let Some(mut switch) = VdeSwitch::start() else {
        return;
    };
    let vnl = switch.vnl();
    let server = smoltcp_on(&vnl, Some([10, 95, 2, 1]));
    let client = smoltcp_on(&vnl, Some([10, 95, 2, 2]));
    let listener = TcpListener::bind_on(&server, "10.95.2.1:8082").expect("listen");
    let dst: SocketAddr = "10.95.2.1:8082".parse().expect("addr");
    let mut stream =
        TcpStream::connect_timeout_on(&client, &dst, Duration::from_secs(5)).expect("connect");
    let (_conn, _) = listener.accept().expect("accept");
    stream
        .socket()
        .set_option::<c_int>(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 2000)
        .expect("TCP_USER_TIMEOUT");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    switch.kill();
    let start = Instant::now();
    stream.write_all(&[7u8; 4096]).expect("queued");
    let mut buf = [0u8; 16];
    let e = stream
        .read(&mut buf)
        .expect_err("the connection ends once its data waited 2 s");
    let waited = start.elapsed();
    assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT), "{e}");
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
}

#[test]
fn an_idle_connection_outlives_its_user_timeout_and_keepalive_ends_a_vanished_peer() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let server = smoltcp_on(&hub, Some([10, 95, 3, 1]));
    let client = smoltcp_on(&hub, Some([10, 95, 3, 2]));
    let listener = TcpListener::bind_on(&server, "10.95.3.1:8083").expect("listen");
    let dst: SocketAddr = "10.95.3.1:8083".parse().expect("addr");
    let mut stream =
        TcpStream::connect_timeout_on(&client, &dst, Duration::from_secs(5)).expect("connect");
    let (mut conn, _) = listener.accept().expect("accept");
    let s = stream.socket().try_clone().expect("a second handle");
    s.set_option::<c_int>(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 300)
        .expect("TCP_USER_TIMEOUT");
    // Idle with nothing unacknowledged: no timer runs, the connection lives (as on Linux).
    std::thread::sleep(Duration::from_millis(1200));
    conn.write_all(b"still").expect("server writes");
    let mut buf = [0u8; 5];
    stream
        .read_exact(&mut buf)
        .expect("idle connection still works");
    // Keepalive: probes every second; the peer vanishes (its link goes down); the idle
    // connection ends in ETIMEDOUT after idle + interval x count, here well under 10 s.
    s.set_option::<c_int>(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 0)
        .expect("default user timeout");
    s.set_option::<c_int>(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 1)
        .expect("idle");
    s.set_option::<c_int>(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 1)
        .expect("interval");
    s.set_option::<c_int>(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 2)
        .expect("count");
    s.set_option::<c_int>(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)
        .expect("keepalive");
    std::thread::sleep(Duration::from_millis(1500));
    conn.write_all(b"alive").expect("server writes");
    stream
        .read_exact(&mut buf)
        .expect("answered probes keep it alive");
    link_down(&server);
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("read timeout");
    let e = stream.read(&mut buf).expect_err("a vanished peer ends it");
    assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_new_syn_for_a_connection_left_in_last_ack_connects() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let server = smoltcp_on(&hub, Some([10, 95, 4, 1]));
    let dst: SocketAddr = "10.95.4.1:8084".parse().expect("addr");
    let listener = TcpListener::bind_on(&server, dst).expect("listen");
    let from: SocketAddr = "10.95.4.2:40404".parse().expect("addr");
    {
        // A client that closes and vanishes before acknowledging the server's FIN.
        let client = smoltcp_on(&hub, Some([10, 95, 4, 2]));
        let sock = client
            .socket(libc::AF_INET, libc::SOCK_STREAM, 0)
            .expect("socket");
        sock.bind(&from.into()).expect("bind the fixed port");
        sock.connect(&dst.into()).expect("connect");
        let (conn, _) = listener.accept().expect("accept");
        sock.shutdown(std::net::Shutdown::Write).expect("FIN");
        let mut buf = [0u8; 4];
        assert_eq!((&conn).read(&mut buf).expect("EOF"), 0);
        link_down(&client);
        drop(conn); // the server's FIN is never acknowledged: LAST-ACK
        std::thread::sleep(Duration::from_millis(200));
    }
    // The same address and port again, from a new node: it connects at once.
    let client = smoltcp_on(&hub, Some([10, 95, 4, 2]));
    let echo = echo_once(listener);
    let sock = client
        .socket(libc::AF_INET, libc::SOCK_STREAM, 0)
        .expect("socket");
    sock.bind(&from.into()).expect("bind the same port");
    sock.set_write_timeout(Some(Duration::from_secs(5)))
        .expect("connect timeout");
    let start = Instant::now();
    sock.connect(&dst.into())
        .expect("the new connection replaces the stale one");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    let mut stream = TcpStream::from(sock);
    exchange(&mut stream);
    echo.join().expect("echo");
}

#[test]
fn ephemeral_ports_are_random() {
    ioth_tests::init_logging();
    let mut ports = Vec::new();
    for _ in 0..4 {
        let client = Stack::new("smoltcp", &[]).expect("stack");
        let udp = client.udp_bind("127.0.0.1:0").expect("bind");
        ports.push(udp.local_addr().expect("addr").port());
    }
    assert!(
        ports.iter().all(|p| (32768..=60999).contains(p)),
        "{ports:?}"
    );
    ports.dedup();
    assert!(
        ports.len() > 1,
        "every new stack chose the same first port: {ports:?}"
    );
}
