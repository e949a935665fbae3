//! Our TCP engine on the smoltcp stack (`tcp=ioth`): the option that selects it, and what
//! the integration adds around it: neighbours that never answer end a connect with
//! EHOSTUNREACH (after Linux's 3 s) without holding up traffic to other peers, only the
//! engine answers TCP, IPv6 and dual-stack listeners, SO_LINGER, hundreds of connections at
//! once, recovery from loss, and the engine-only socket options (TCP_CORK, TCP_INFO).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::net::{TcpListener, TcpStream};
use ioth_tests::fixtures::{Fixture, configure_vde0, smoltcp_pair_with, unique_hub};
use ioth_tests::{PATIENCE, assert_errno, poll_fd};

fn ioth_stack(hub: &str, ip: [u8; 4]) -> Stack {
    let _ = ioth_smoltcp::NAME;
    let stack = Stack::new("smoltcp,tcp=ioth", &[hub]).expect("tcp=ioth stack");
    configure_vde0(&stack, ip);
    stack
}

#[test]
fn the_tcp_option_is_parsed_and_bad_values_refused() {
    let _ = ioth_smoltcp::NAME;
    for good in [
        "smoltcp,tcp=smoltcp",
        "smoltcp,tcp=ioth",
        "smoltcp,tcp=ioth,tcp_min_rto=20,tcp_max_rto=2000,tcp_cc=reno,tcp_syn_retries=3",
        // Our engine is the default: its settings need no `tcp=ioth`.
        "smoltcp,tcp_min_rto=20",
    ] {
        Stack::new(good, &[]).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for (bad, named) in [
        ("smoltcp,tcp=lwip", "tcp="),
        ("smoltcp,tcp=ioth,tcp_cc=vegas", "tcp_cc"),
        ("smoltcp,tcp=ioth,tcp_min_rto=0", "tcp_min_rto"),
        ("smoltcp,tcp=ioth,tcp_syn_retries=x", "tcp_syn_retries"),
        ("smoltcp,tcp=smoltcp,tcp_min_rto=20", "tcp_min_rto"),
        ("smoltcp,tcp_engine=ioth", "tcp_engine"),
    ] {
        let e = Stack::new(bad, &[]).expect_err(bad);
        assert_eq!(ioth::errno_of(&e), libc::EINVAL, "{bad}: {e}");
        assert!(e.to_string().contains(named), "{bad}: {e} names {named}");
    }
    // In an iothconf string the options are quoted into `stack=`.
    let hub = unique_hub();
    let (stack, _) = Stack::from_config(&format!(
        "stack=\"smoltcp,tcp=ioth\",vnl={hub},eth,ip=10.79.0.1/24"
    ))
    .expect("from_config");
    assert_eq!(stack.options(), "tcp=ioth");
    let e = Stack::from_config(&format!("stack='smoltcp,tcp=nope',vnl={hub}"))
        .expect_err("bad option in a configuration string");
    assert_eq!(ioth::errno_of(&e), libc::EINVAL, "{e}");
}

/// A connect to an on-link address nobody has fails with EHOSTUNREACH once neighbour
/// resolution gives up (Linux: 3 probes, 1 s apart), and meanwhile TCP to a live peer on
/// the same interface goes on at once.
#[test]
fn an_unresolved_neighbour_is_ehostunreach_and_blocks_no_one_else() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let a = ioth_stack(&hub, [10, 78, 0, 1]);
    let b = ioth_stack(&hub, [10, 78, 0, 2]);
    let listener = b.tcp_listen("10.78.0.2:0").expect("listen");
    let addr = listener.local_addr().expect("address");

    let dead = a
        .socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)
        .expect("socket");
    let to: SocketAddr = "10.78.0.99:80".parse().expect("literal");
    let start = Instant::now();
    assert_errno(
        dead.connect(&ioth::SockAddr::from(to)),
        libc::EINPROGRESS,
        "connect to nobody",
    );

    // The live peer is reached while the dead one is still being resolved.
    let mut c = a.tcp_connect(addr).expect("connect to the live peer");
    let (mut s, _) = listener.accept().expect("accept");
    c.write_all(b"ping").expect("write");
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b"ping");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "the live peer did not wait for the dead one: {:?}",
        start.elapsed()
    );

    let ev = poll_fd(dead.as_raw_fd(), libc::POLLOUT, PATIENCE);
    let waited = start.elapsed();
    assert!(ev & libc::POLLOUT != 0, "the connect ends");
    let e = dead
        .take_error()
        .expect("SO_ERROR")
        .expect("an error is pending");
    assert_eq!(e.raw_os_error(), Some(libc::EHOSTUNREACH), "{e}");
    assert!(
        waited >= Duration::from_millis(2500) && waited < Duration::from_secs(8),
        "EHOSTUNREACH after about 3 s, got {waited:?}"
    );
}

/// TCP_CORK is kept, and TCP_INFO reports the connection (state ESTABLISHED).
#[test]
fn cork_and_tcp_info() {
    let hub = unique_hub();
    let a = ioth_stack(&hub, [10, 80, 0, 1]);
    let b = ioth_stack(&hub, [10, 80, 0, 2]);
    let listener = b.tcp_listen("10.80.0.2:0").expect("listen");
    let c = a
        .tcp_connect(listener.local_addr().expect("address"))
        .expect("connect");
    let (_s, peer) = listener.accept().expect("accept");
    assert_eq!(peer.ip(), IpAddr::from([10, 80, 0, 1]));
    let sock = c.socket();
    sock.set_option::<libc::c_int>(libc::IPPROTO_TCP, libc::TCP_CORK, 1)
        .expect("TCP_CORK");
    assert_eq!(
        sock.option::<libc::c_int>(libc::IPPROTO_TCP, libc::TCP_CORK)
            .expect("TCP_CORK"),
        1
    );
    let mut info = [0u8; 104];
    let n = sock
        .getsockopt(libc::IPPROTO_TCP, libc::TCP_INFO, &mut info)
        .expect("TCP_INFO");
    assert!(n >= 8, "TCP_INFO has at least its first fields: {n}");
    assert_eq!(info[0], 1, "tcpi_state is TCP_ESTABLISHED");
    let l = listener.socket();
    let n = l
        .getsockopt(libc::IPPROTO_TCP, libc::TCP_INFO, &mut info)
        .expect("TCP_INFO on a listener");
    assert!(n > 0);
    assert_eq!(info[0], 10, "tcpi_state is TCP_LISTEN");
    assert_eq!(
        l.option::<libc::c_int>(libc::SOL_SOCKET, libc::SO_ACCEPTCONN)
            .expect("SO_ACCEPTCONN"),
        1
    );
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

const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x95, 0x99];

/// An ARP request from `src` (at [`PEER_MAC`]) for `dst`: the stack learns the peer's MAC.
fn arp_frame(dst_mac: [u8; 6], src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    arp_frame_from(PEER_MAC, dst_mac, src, dst)
}

/// An ARP request from `src` at `mac` for `dst`.
fn arp_frame_from(mac: [u8; 6], dst_mac: [u8; 6], src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&dst);
    f
}

/// An Ethernet frame with a TCP SYN from `src` (at [`PEER_MAC`]) to `dst`, checksums
/// filled in.
fn syn_frame(dst_mac: [u8; 6], src: ([u8; 4], u16), dst: ([u8; 4], u16)) -> Vec<u8> {
    syn_frame_from(PEER_MAC, dst_mac, src, dst)
}

/// [`syn_frame`] from `mac`.
fn syn_frame_from(
    mac: [u8; 6],
    dst_mac: [u8; 6],
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20);
    tcp.extend_from_slice(&src.1.to_be_bytes());
    tcp.extend_from_slice(&dst.1.to_be_bytes());
    tcp.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    tcp.extend_from_slice(&0u32.to_be_bytes());
    tcp.extend_from_slice(&[5 << 4, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    let sum = checksum(&[&src.0, &dst.0, &[0, 6, 0, 20], &tcp]);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&src.0);
    ip.extend_from_slice(&dst.0);
    let sum = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut f = Vec::with_capacity(54);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&tcp);
    f
}

/// The TCP flags of the segments to port `to` in the frames `link` receives within `wait`.
fn tcp_flags_to(link: &vde::Link, to: u16, wait: Duration) -> Vec<u8> {
    tcp_frames_to(link, to, wait)
        .into_iter()
        .map(|(_, flags)| flags)
        .collect()
}

/// The destination MAC and TCP flags of the segments to port `to` in the frames `link`
/// receives within `wait`.
fn tcp_frames_to(link: &vde::Link, to: u16, wait: Duration) -> Vec<([u8; 6], u8)> {
    let mut flags = Vec::new();
    let mut buf = [0u8; 1600];
    let until = Instant::now() + wait;
    while Instant::now() < until {
        match link.recv(&mut buf) {
            Ok(n) if n >= 54 && buf[12..14] == [0x08, 0x00] && buf[23] == 6 => {
                let tcp = &buf[14 + usize::from(buf[14] & 0x0f) * 4..n];
                if u16::from_be_bytes([tcp[2], tcp[3]]) == to {
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(&buf[..6]);
                    flags.push((mac, tcp[13]));
                }
            }
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    flags
}

/// A `tcp=ioth` stack at `net.1` on a fresh hub listening on port 7000, its MAC, and a raw
/// member of the hub to play the peer at `net.50` (the listener is returned to keep it).
fn listener_and_raw_peer(net: [u8; 3]) -> (Stack, TcpListener, [u8; 6], vde::Link) {
    let hub = unique_hub();
    let ip = [net[0], net[1], net[2], 1];
    let stack = ioth_stack(&hub, ip);
    let listener = stack
        .tcp_listen(std::net::SocketAddr::from((ip, 7000)))
        .expect("listen");
    let mac = stack
        .link_mac(stack.if_nametoindex("vde0").expect("vde0"))
        .expect("mac");
    let peer = vde::open(&hub).expect("a raw member of the hub");
    (stack, listener, mac, peer)
}

/// smoltcp never answers TCP on a `tcp=ioth` stack: a SYN to a closed port gets one RST
/// (the engine's), a SYN to a listener one SYN-ACK and no RST.
#[test]
fn only_the_engine_answers_tcp() {
    ioth_tests::init_logging();
    let (_stack, _listener, mac, peer) = listener_and_raw_peer([10, 81, 0]);
    let (me, it) = ([10, 81, 0, 50], [10, 81, 0, 1]);
    peer.send(&arp_frame(mac, me, it)).expect("ARP");
    std::thread::sleep(Duration::from_millis(100));
    peer.send(&syn_frame(mac, (me, 40000), (it, 7001)))
        .expect("SYN to a closed port");
    let closed = tcp_flags_to(&peer, 40000, Duration::from_millis(500));
    assert_eq!(closed.len(), 1, "one answer, flags {closed:02x?}");
    assert!(closed[0] & 0x04 != 0, "a RST: {:02x}", closed[0]);
    peer.send(&syn_frame(mac, (me, 40001), (it, 7000)))
        .expect("SYN to the listener");
    let open = tcp_flags_to(&peer, 40001, Duration::from_millis(500));
    assert!(
        !open.is_empty() && open.iter().all(|f| f & 0x12 == 0x12 && f & 0x04 == 0),
        "SYN-ACKs only (retransmitted, maybe), no RST: {open:02x?}"
    );
}

/// The engine's segments skip smoltcp towards a next hop smoltcp just resolved, but only
/// while smoltcp's answer holds: once an ARP message moves the peer to another MAC, the very
/// next segment goes to the new one.
#[test]
fn a_neighbour_that_moves_is_followed_at_once() {
    ioth_tests::init_logging();
    let (_stack, _listener, mac, peer) = listener_and_raw_peer([10, 82, 0]);
    let (me, it) = ([10, 82, 0, 50], [10, 82, 0, 1]);
    let moved: [u8; 6] = [0x02, 0, 0, 0, 0x95, 0x42];
    let syn_acks_to = |port: u16| -> Vec<[u8; 6]> {
        tcp_frames_to(&peer, port, Duration::from_millis(300))
            .into_iter()
            .filter(|&(_, f)| f & 0x12 == 0x12)
            .map(|(m, _)| m)
            .collect()
    };
    peer.send(&arp_frame(mac, me, it)).expect("ARP");
    std::thread::sleep(Duration::from_millis(100));
    for port in [40000, 40001] {
        peer.send(&syn_frame(mac, (me, port), (it, 7000)))
            .expect("SYN");
        let to = syn_acks_to(port);
        assert!(
            !to.is_empty() && to.iter().all(|&m| m == PEER_MAC),
            "SYN-ACKs for port {port} to the peer's MAC: {to:02x?}"
        );
    }
    peer.send(&arp_frame_from(moved, mac, me, it))
        .expect("ARP from the new MAC");
    std::thread::sleep(Duration::from_millis(50));
    peer.send(&syn_frame_from(moved, mac, (me, 40002), (it, 7000)))
        .expect("SYN from the new MAC");
    let to = syn_acks_to(40002);
    assert!(
        !to.is_empty() && to.iter().all(|&m| m == moved),
        "SYN-ACKs after the move go to the new MAC: {to:02x?}"
    );
}

/// TCP over IPv6, and an `[::]` listener taking IPv4 with `::ffff:` addresses, as Linux's.
#[test]
fn ipv6_and_a_dual_stack_listener() {
    let f = smoltcp_pair_with("tcp=ioth");
    let l = f
        .server()
        .tcp_listen(SocketAddr::new(f.server_ip6(), 0))
        .expect("listen on IPv6");
    let mut c = f
        .client()
        .tcp_connect(l.local_addr().expect("address"))
        .expect("connect over IPv6");
    let (mut s, peer) = l.accept().expect("accept");
    assert_eq!(peer, c.local_addr().expect("address"));
    c.write_all(b"six").expect("write");
    let mut b = [0u8; 3];
    s.read_exact(&mut b).expect("read");
    assert_eq!(&b, b"six");

    let any = f.server().tcp_listen("[::]:0").expect("listen on [::]");
    let port = any.local_addr().expect("address").port();
    let c4 = f
        .client()
        .tcp_connect(SocketAddr::new(f.server_ip(), port))
        .expect("IPv4 connect to the [::] listener");
    let (s4, peer4) = any.accept().expect("accept");
    let mapped = |a: IpAddr| match a {
        IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
        v6 => v6,
    };
    assert_eq!(peer4.ip(), mapped(f.client_ip()), "the peer, IPv4-mapped");
    assert_eq!(peer4.port(), c4.local_addr().expect("address").port());
    assert_eq!(
        s4.local_addr().expect("address"),
        SocketAddr::new(mapped(f.server_ip()), port)
    );
}

/// With SO_LINGER a close waits until the data is acknowledged, and it all arrives.
#[test]
fn a_lingering_close_delivers_everything() {
    let f = smoltcp_pair_with("tcp=ioth");
    let l = f
        .server()
        .tcp_listen(SocketAddr::new(f.server_ip(), 0))
        .expect("listen");
    let addr = l.local_addr().expect("address");
    let reader = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        // Reads only later: the writer's close has unacknowledged data to wait for.
        std::thread::sleep(Duration::from_millis(200));
        let mut v = Vec::new();
        s.read_to_end(&mut v).expect("read to EOF");
        v.len()
    });
    let c = f.client().tcp_connect(addr).expect("connect");
    c.socket()
        .set_option(
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            libc::linger {
                l_onoff: 1,
                l_linger: 5,
            },
        )
        .expect("SO_LINGER");
    (&c).write_all(&vec![1u8; 2 << 20]).expect("write 2 MiB");
    drop(c);
    assert_eq!(reader.join().expect("reader"), 2 << 20);
}

/// Hundreds of connections at once on `lo` (more sockets than the stack flushes inline).
#[test]
fn three_hundred_connections_on_lo() {
    let _ = ioth_smoltcp::NAME;
    let s = Stack::new("smoltcp,tcp=ioth", &[]).expect("stack");
    let l = TcpListener::bind_on(&s, "127.0.0.1:0").expect("listen");
    let addr = l.local_addr().expect("address");
    let n = 300;
    let server = std::thread::spawn(move || {
        let mut conns: Vec<TcpStream> = (0..n).map(|_| l.accept().expect("accept").0).collect();
        for c in &mut conns {
            let mut b = [0u8; 4];
            c.read_exact(&mut b).expect("read");
            c.write_all(&b).expect("echo");
        }
    });
    let mut cs: Vec<TcpStream> = (0..n)
        .map(|_| TcpStream::connect_on(&s, addr).expect("connect"))
        .collect();
    for (i, c) in cs.iter_mut().enumerate() {
        c.write_all(&(i as u32).to_be_bytes()).expect("write");
    }
    for (i, c) in cs.iter_mut().enumerate() {
        let mut b = [0u8; 4];
        c.read_exact(&mut b).expect("echo back");
        assert_eq!(u32::from_be_bytes(b), i as u32);
    }
    server.join().expect("server");
}

/// 4 MiB through a hub that drops 1% of frames each way arrive intact, in seconds (the
/// engine's SACK and RACK recovery; smoltcp's TCP took 13 s here, the engine 0.12 s).
#[test]
fn bulk_data_through_one_percent_loss() {
    let _ = ioth_smoltcp::NAME;
    let hub = format!("hub://@{}[loss=1]", ioth_tests::peers::unique_name("lossy"));
    let a = ioth_stack(&hub, [10, 82, 0, 1]);
    let b = ioth_stack(&hub, [10, 82, 0, 2]);
    let l = b.tcp_listen("10.82.0.2:0").expect("listen");
    let addr = l.local_addr().expect("address");
    let n = 4 << 20;
    let reader = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut got = Vec::with_capacity(n);
        s.read_to_end(&mut got).expect("read to EOF");
        got
    });
    let start = Instant::now();
    let mut c = TcpStream::connect_timeout_on(&a, &addr, PATIENCE).expect("connect");
    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    c.write_all(&data).expect("write");
    c.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let got = reader.join().expect("reader");
    assert!(
        got == data,
        "the stream arrives intact ({} bytes)",
        got.len()
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "4 MiB through 1% loss took {:?}",
        start.elapsed()
    );
}

/// The stack's engine settings reach the engine: with `tcp_syn_retries=1` a connect whose
/// SYNs go unanswered (a full accept queue drops them) gives ETIMEDOUT after 1 + 2 s, where
/// Linux's default of 6 retries would wait 127 s.
#[test]
fn tcp_syn_retries_bounds_a_connect() {
    let _ = ioth_smoltcp::NAME;
    let hub = unique_hub();
    let server = ioth_stack(&hub, [10, 83, 0, 1]);
    let client = Stack::new("smoltcp,tcp=ioth,tcp_syn_retries=1", &[&hub]).expect("stack");
    configure_vde0(&client, [10, 83, 0, 2]);
    let l = server
        .socket(libc::AF_INET, libc::SOCK_STREAM, 0)
        .expect("socket");
    let addr: SocketAddr = "10.83.0.1:8085".parse().expect("literal");
    l.bind(&addr.into()).expect("bind");
    l.listen(1).expect("listen");
    // Backlog 1 holds two established connections (Linux's backlog + 1), never accepted.
    let _held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect_timeout_on(&client, &addr, PATIENCE).expect("queued"))
        .collect();
    let start = Instant::now();
    let e = TcpStream::connect_timeout_on(&client, &addr, Duration::from_secs(20))
        .expect_err("the third connect's SYNs are dropped");
    let waited = start.elapsed();
    assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT), "{e}");
    assert!(
        waited >= Duration::from_millis(2500) && waited < Duration::from_secs(8),
        "ETIMEDOUT after about 3 s, got {waited:?}"
    );
}
