//! The server on real stacks of this process: two smoltcp stacks on an embedded hub (and the
//! kernel over loopback), a client sending what dig would.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use ioth::Stack;
use ioth_dns::{Request, Response, Server, ServerConfig, Transport};
use ioth_tests::fixtures::{smoltcp_on, unique_hub};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 53, 0, 1);
const SECOND: Ipv4Addr = Ipv4Addr::new(10, 53, 0, 2);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 53, 0, 9);

/// A server stack with two addresses and a client stack on one hub.
fn pair() -> (Stack, Stack) {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let server = smoltcp_on(&hub, Some(SERVER.octets()));
    let idx = server.if_nametoindex("vde0").unwrap();
    server.ipaddr_add(IpAddr::V4(SECOND), 24, idx).unwrap();
    let client = smoltcp_on(&hub, Some(CLIENT.octets()));
    (server, client)
}

fn any_v4() -> ServerConfig {
    ServerConfig {
        addrs: vec![SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)],
        ..ServerConfig::default()
    }
}

fn client_addr() -> SocketAddr {
    SocketAddr::new(CLIENT.into(), 0)
}

#[test]
fn udp_and_tcp_answers_leave_from_the_address_queried() {
    let (server, client) = pair();
    let handle = Server::bind(&server, any_v4(), zone()).unwrap();
    let port = handle.local_addr(Transport::Udp).unwrap().port();
    assert_eq!(
        handle.local_addr(Transport::Tcp).unwrap().port(),
        port,
        "one port for both"
    );
    for addr in [SERVER, SECOND] {
        let to = SocketAddr::new(addr.into(), port);
        let q = query(7, "www.example.test.", RecordType::A, None);
        let (r, from) = udp_ask(&client, client_addr(), to, &q);
        assert_eq!(from, to, "the reply comes from the address queried");
        assert_eq!(r.metadata.id, 7);
        assert!(r.metadata.authoritative);
        assert_eq!(a_records(&r), [Ipv4Addr::new(10, 0, 0, 80)]);
        let mut s = tcp_connect(&client, to);
        tcp_send(
            &mut s,
            &[query(8, "alias.example.test.", RecordType::A, None)],
        );
        let r = tcp_read(&mut s);
        assert_eq!(r.metadata.id, 8);
        assert_eq!(r.answers.len(), 2, "the CNAME and its target's address");
    }
    let q = query(9, "nothing.example.test.", RecordType::A, None);
    let (r, _) = udp_ask(
        &client,
        client_addr(),
        SocketAddr::new(SERVER.into(), port),
        &q,
    );
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.authorities.len(), 1, "the SOA as authority");
    let c = handle.counters();
    assert_eq!((c.queries, c.responses, c.dropped), (5, 5, 0), "{c:?}");
    handle.stop().unwrap();
}

#[test]
fn a_truncated_udp_answer_is_whole_over_tcp() {
    let (server, client) = pair();
    let handle = Server::bind(&server, any_v4(), zone()).unwrap();
    let to = handle.local_addr(Transport::Udp).unwrap();
    let to = SocketAddr::new(SERVER.into(), to.port());
    let q = query(1, "big.example.test.", RecordType::A, None);
    let (r, _) = udp_ask(&client, client_addr(), to, &q);
    assert!(r.metadata.truncation, "over 512 bytes without EDNS: TC");
    assert!(r.answers.is_empty());
    assert_eq!(r.queries.len(), 1);
    // With EDNS (1232) it fits.
    let (r, _) = udp_ask(
        &client,
        client_addr(),
        to,
        &query(2, "big.example.test.", RecordType::A, Some(4096)),
    );
    assert!(!r.metadata.truncation);
    assert_eq!(a_records(&r).len(), 60);
    assert!(r.edns.is_some());
    let mut s = tcp_connect(&client, to);
    tcp_send(&mut s, &[q]);
    assert_eq!(
        a_records(&tcp_read(&mut s)).len(),
        60,
        "TCP carries it whole"
    );
    assert_eq!(handle.counters().truncated, 1);
}

#[test]
fn pipelined_tcp_queries_are_all_answered_on_one_connection() {
    let (server, client) = pair();
    let handle = Server::bind(&server, any_v4(), zone()).unwrap();
    let to = SocketAddr::new(
        SERVER.into(),
        handle.local_addr(Transport::Tcp).unwrap().port(),
    );
    let mut s = tcp_connect(&client, to);
    let queries: Vec<Vec<u8>> = (0..50u16)
        .map(|i| query(100 + i, "www.example.test.", RecordType::A, None))
        .collect();
    tcp_send(&mut s, &queries);
    let mut ids: Vec<u16> = (0..50).map(|_| tcp_read(&mut s).metadata.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (100..150).collect::<Vec<u16>>());
    // The connection stays open for more.
    std::thread::sleep(Duration::from_millis(200));
    tcp_send(
        &mut s,
        &[query(999, "www.example.test.", RecordType::AAAA, None)],
    );
    let r = tcp_read(&mut s);
    assert_eq!(r.metadata.id, 999);
    assert_eq!(r.answers.len(), 1);
    // A query split across writes is answered once whole.
    let q = query(1000, "www.example.test.", RecordType::A, None);
    let mut framed = u16::try_from(q.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    use std::io::Write;
    s.write_all(&framed[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(&framed[5..]).unwrap();
    assert_eq!(tcp_read(&mut s).metadata.id, 1000);
    assert_eq!(handle.counters().tcp_accepted, 1);
}

#[test]
fn idle_and_surplus_tcp_connections_are_closed() {
    let (server, client) = pair();
    let config = ServerConfig {
        tcp_idle_timeout: Duration::from_secs(1),
        max_tcp_connections: 2,
        ..any_v4()
    };
    let handle = Server::bind(&server, config, zone()).unwrap();
    let to = SocketAddr::new(
        SERVER.into(),
        handle.local_addr(Transport::Tcp).unwrap().port(),
    );
    let mut a = tcp_connect(&client, to);
    let mut b = tcp_connect(&client, to);
    tcp_send(
        &mut a,
        &[query(1, "www.example.test.", RecordType::A, None)],
    );
    tcp_send(
        &mut b,
        &[query(2, "www.example.test.", RecordType::A, None)],
    );
    assert_eq!(tcp_read(&mut a).metadata.id, 1);
    assert_eq!(tcp_read(&mut b).metadata.id, 2);
    // A third is over the cap: closed at once.
    let mut c = tcp_connect(&client, to);
    let mut buf = [0u8; 4];
    assert_eq!(
        c.read(&mut buf).unwrap_or(0),
        0,
        "the surplus connection is closed"
    );
    assert_eq!(handle.counters().tcp_refused, 1);
    // Idle ones end after about a second.
    let start = Instant::now();
    assert_eq!(
        a.read(&mut buf).unwrap_or(0),
        0,
        "the idle connection is closed"
    );
    let waited = start.elapsed();
    assert!(waited < Duration::from_secs(4), "closed after {waited:?}");
    assert_eq!(b.read(&mut buf).unwrap_or(0), 0);
    assert_eq!(handle.counters().tcp_timeouts, 2);
}

#[test]
fn a_pending_reply_is_sent_when_the_responder_answers() {
    let (server, client) = pair();
    let handler = |req: &Request<'_>| {
        let Some(responder) = req.responder() else {
            return Response::Drop;
        };
        let reply = if req
            .query()
            .is_some_and(|q| q.name().to_ascii().starts_with("drop"))
        {
            None
        } else {
            Some(req.error(ResponseCode::Refused))
        };
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            if let Some(m) = reply {
                responder.send(Response::Message(m));
            }
        });
        Response::Pending
    };
    let handle = Server::bind(&server, any_v4(), handler).unwrap();
    let to = SocketAddr::new(
        SECOND.into(),
        handle.local_addr(Transport::Udp).unwrap().port(),
    );
    let (r, from) = udp_ask(
        &client,
        client_addr(),
        to,
        &query(5, "later.test.", RecordType::A, None),
    );
    assert_eq!(
        (r.metadata.id, r.metadata.response_code),
        (5, ResponseCode::Refused)
    );
    assert_eq!(
        from, to,
        "a later reply leaves from the address queried too"
    );
    let mut s = tcp_connect(&client, to);
    tcp_send(&mut s, &[query(6, "later.test.", RecordType::A, None)]);
    assert_eq!(tcp_read(&mut s).metadata.id, 6);
    // A responder dropped unsent counts as dropped.
    let sock = client.udp_bind(client_addr()).unwrap();
    sock.send_to(&query(7, "drop.test.", RecordType::A, None), to)
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while handle.counters().dropped == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let c = handle.counters();
    assert_eq!((c.responses, c.dropped), (2, 1), "{c:?}");
}

#[test]
fn a_stopped_server_frees_its_port() {
    let (server, client) = pair();
    let handle = Server::bind(&server, any_v4(), zone()).unwrap();
    let port = handle.local_addr(Transport::Udp).unwrap().port();
    handle.stop().unwrap();
    let again = ServerConfig {
        addrs: vec![SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port)],
        ..ServerConfig::default()
    };
    let handle = Server::bind(&server, again, zone()).unwrap();
    let q = query(3, "www.example.test.", RecordType::A, None);
    let (r, _) = udp_ask(
        &client,
        client_addr(),
        SocketAddr::new(SERVER.into(), port),
        &q,
    );
    assert_eq!(r.metadata.id, 3);
    drop(handle);
}

#[test]
fn the_server_runs_on_the_callers_own_loop() {
    let (server, client) = pair();
    let mut srv = Server::new(&server, any_v4(), zone()).unwrap();
    let port = srv.local_addrs()[0].1.port();
    let to = SocketAddr::new(SERVER.into(), port);
    let asker = std::thread::spawn(move || {
        udp_ask(
            &client,
            client_addr(),
            to,
            &query(11, "www.example.test.", RecordType::A, None),
        )
        .0
    });
    let deadline = Instant::now() + WAIT;
    while srv.counters().responses == 0 && Instant::now() < deadline {
        // The caller's loop waits on the server's descriptor, then lets it work.
        ioth_tests::poll_fd(srv.as_raw_fd(), libc::POLLIN, Duration::from_millis(100));
        srv.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(asker.join().unwrap().metadata.id, 11);
}

#[test]
fn the_kernel_stack_serves_too() {
    ioth_tests::init_logging();
    let _ = ioth_kernel::NAME;
    let kernel = Stack::new("kernel", &[]).unwrap();
    let config = ServerConfig {
        addrs: vec![
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
            "[::1]:0".parse().unwrap(),
        ],
        ..ServerConfig::default()
    };
    let handle = Server::bind(&kernel, config, zone()).unwrap();
    let v4 = handle.local_addrs()[0].1.port();
    for ip in [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)] {
        let to = SocketAddr::new(ip.into(), v4);
        let q = query(1, "www.example.test.", RecordType::A, None);
        let (r, from) = udp_ask(&kernel, "127.0.0.1:0".parse().unwrap(), to, &q);
        assert_eq!(from, to, "the reply comes from the address queried");
        assert_eq!(a_records(&r), [Ipv4Addr::new(10, 0, 0, 80)]);
    }
    let v6 = handle
        .local_addrs()
        .iter()
        .find(|(t, a)| *t == Transport::Tcp && a.is_ipv6())
        .unwrap()
        .1;
    let mut s = tcp_connect(&kernel, v6);
    tcp_send(
        &mut s,
        &[query(2, "www.example.test.", RecordType::AAAA, None)],
    );
    assert_eq!(tcp_read(&mut s).answers.len(), 1);
}

/// A handler that serves the zone and keeps TCP only from one address.
struct TcpOnlyFrom(IpAddr, ioth_dns::StaticZone);

impl ioth_dns::Handler for TcpOnlyFrom {
    fn handle(&self, request: &Request<'_>) -> Response {
        self.1.handle(request)
    }
    fn accepts_tcp(&self, client: SocketAddr) -> bool {
        client.ip() == self.0
    }
}

#[test]
fn the_handler_chooses_which_clients_may_use_tcp() {
    let (server, client) = pair();
    let handle = Server::bind(&server, any_v4(), TcpOnlyFrom(IpAddr::V4(SECOND), zone())).unwrap();
    let to = SocketAddr::new(
        SERVER.into(),
        handle.local_addr(Transport::Tcp).unwrap().port(),
    );
    let mut c = tcp_connect(&client, to);
    let mut buf = [0u8; 4];
    assert_eq!(
        c.read(&mut buf).unwrap_or(0),
        0,
        "a client the handler refuses is closed at once"
    );
    assert_eq!(handle.counters().tcp_refused, 1);
    assert_eq!(handle.counters().tcp_accepted, 0);
    // UDP is not affected.
    let q = query(3, "www.example.test.", RecordType::A, None);
    let (r, _) = udp_ask(
        &client,
        client_addr(),
        SocketAddr::new(SERVER.into(), to.port()),
        &q,
    );
    assert_eq!(r.metadata.id, 3);
}
