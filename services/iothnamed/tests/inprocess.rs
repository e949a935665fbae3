//! iothnamed as threads of the test process: its serving and forwarding stacks, an upstream
//! server and the clients are smoltcp stacks on one in-process hub, the clock is the test's.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Read;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use ioth::Stack;
use ioth_dns::{Server, ServerConfig, StaticZone, Transport};
use ioth_service::clock::ManualClock;
use ioth_tests::dns_client::{query, tcp_connect, tcp_read, tcp_send, udp_ask};
use ioth_tests::fixtures::{smoltcp_on, unique_hub};
use iothnamed::{AuthKind, Settings};

const NAMED: &str = "10.53.0.24";
const UPSTREAM: [u8; 4] = [10, 53, 0, 53];
const T0: Duration = Duration::from_secs(1_000_000_000);

fn upstream_zone() -> StaticZone {
    let mut z = String::from(
        "$ORIGIN example.test.\n$TTL 600\n\
         @ IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 60\n\
         www IN A 10.53.0.80\nwww IN AAAA fc00::80\nalias IN CNAME www\n\
         note IN TXT \"sempre caro mi fu quest'ermo colle\"\n",
    );
    for i in 1..=50 {
        z.push_str(&format!("big IN A 10.1.0.{i}\n"));
    }
    StaticZone::parse(&z, None).unwrap()
}

struct World {
    hub: String,
    clock: Arc<ManualClock>,
    _upstream: ioth_dns::ServerHandle,
    _upstream_stack: Stack,
}

impl World {
    fn new() -> World {
        ioth_tests::init_logging();
        ioth_service::link_backends!();
        let hub = unique_hub();
        let up = smoltcp_on(&hub, Some(UPSTREAM));
        let config = ServerConfig {
            addrs: vec![SocketAddr::new(IpAddr::from(UPSTREAM), 53)],
            ..ServerConfig::default()
        };
        let upstream = Server::bind(&up, config, upstream_zone()).unwrap();
        World {
            hub,
            clock: Arc::new(ManualClock::new(T0)),
            _upstream: upstream,
            _upstream_stack: up,
        }
    }

    /// iothnamed with `body` after its stack lines (serving on NAMED, forwarding from .25).
    fn named(&self, body: &str) -> iothnamed::Handle {
        let text = self.config(body);
        let mut settings = Settings::new(text, "test.rc");
        settings.clock = self.clock.clone();
        iothnamed::spawn(settings).unwrap()
    }

    fn config(&self, body: &str) -> String {
        format!(
            "rstack stack=smoltcp,vnl={hub}\nrstack eth,ip={NAMED}/24\nrstack ip=fc00::24/64\n\
             fstack stack=smoltcp,vnl={hub}\nfstack eth,ip=10.53.0.25/24\n{body}",
            hub = self.hub
        )
    }

    fn client(&self, last: u8) -> (Stack, SocketAddr) {
        let s = smoltcp_on(&self.hub, Some([10, 53, 0, last]));
        (s, SocketAddr::new(IpAddr::from([10, 53, 0, last]), 0))
    }
}

fn named_addr() -> SocketAddr {
    SocketAddr::new(NAMED.parse().unwrap(), 53)
}

fn ask(client: &(Stack, SocketAddr), name: &str, ty: RecordType, edns: Option<u16>) -> Message {
    udp_ask(
        &client.0,
        client.1,
        named_addr(),
        &query(77, name, ty, edns),
    )
    .0
}

fn aaaa(m: &Message) -> Vec<Ipv6Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

const PROXY: &str = "\
dns 10.53.0.53
net local 10.53.0.0/25
auth accept local
auth static local .test.local
auth cache local .
auth fwd local .
static A one.test.local 10.53.0.1
";

#[test]
fn forwards_caches_with_decreasing_ttl_and_refuses_strangers() {
    let w = World::new();
    let named = w.named(PROXY);
    let c = w.client(9);
    let m = ask(&c, "one.test.local.", RecordType::A, None);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    let m = ask(&c, "www.example.test.", RecordType::A, None);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(
        m.metadata.authoritative,
        "relayed from the authoritative upstream as it is"
    );
    assert_eq!(m.answers[0].ttl, 600);
    w.clock.advance(Duration::from_secs(100));
    let m = ask(&c, "WWW.Example.Test.", RecordType::A, None);
    assert!(!m.metadata.authoritative, "a cache hit");
    assert_eq!(m.answers[0].ttl, 500, "the TTL went down with the clock");
    let counters = named.counters();
    assert_eq!(counters.engine.of(AuthKind::Cache), 1);
    assert_eq!(counters.engine.of(AuthKind::Fwd), 1);
    assert_eq!(counters.forward.1, 1, "one reply relayed");
    // A client outside every net is refused, over UDP and TCP alike.
    let stranger = w.client(200);
    let m = ask(&stranger, "one.test.local.", RecordType::A, None);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    let mut s = tcp_connect(&stranger.0, named_addr());
    let mut buf = [0u8; 2];
    assert_eq!(
        s.read(&mut buf).unwrap_or(0),
        0,
        "TCP from outside `accept` is closed"
    );
    // A client of the accept net uses TCP, forwarded over TCP.
    let mut s = tcp_connect(&c.0, named_addr());
    tcp_send(
        &mut s,
        &[query(5, "alias.example.test.", RecordType::A, None)],
    );
    let m = tcp_read(&mut s);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 2, "CNAME and A");
    let counters = named.counters();
    assert_eq!(counters.server.tcp_refused, 1);
    assert!(counters.to_string().contains("cache=1"), "{counters}");
}

#[test]
fn upstream_replies_are_relayed_whole_or_marked_truncated() {
    let w = World::new();
    let _named = w.named(PROXY);
    let c = w.client(9);
    let m = ask(&c, "big.example.test.", RecordType::A, Some(1232));
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 50, "over 512 bytes, whole with EDNS");
    assert!(m.edns.is_some(), "the OPT record comes back");
    let m = ask(&c, "big.example.test.", RecordType::A, None);
    assert!(
        m.metadata.truncation,
        "without EDNS: TC, so the client retries over TCP"
    );
    let m = ask(&c, "note.example.test.", RecordType::TXT, None);
    assert_eq!(
        m.answers.len(),
        1,
        "TXT answers are fine (the original crashed here)"
    );
    let m = ask(&c, "note.example.test.", RecordType::TXT, None);
    assert!(
        !m.metadata.authoritative,
        "and the TXT is served from the cache"
    );
}

#[test]
fn failover_to_the_next_dns_server() {
    let w = World::new();
    // 10.53.0.99 takes queries and never answers; the second server does.
    let silent = smoltcp_on(&w.hub, Some([10, 53, 0, 99]));
    let _sink = silent
        .udp_bind(SocketAddr::new(IpAddr::from([10, 53, 0, 99]), 53))
        .unwrap();
    let named = w.named(&PROXY.replace("dns 10.53.0.53", "dns 10.53.0.99\ndns 10.53.0.53"));
    let c = w.client(9);
    // The round robin starts at each server in turn: both queries get the answer.
    for name in ["www.example.test.", "alias.example.test."] {
        let sock = c.0.udp_bind(c.1).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
        sock.send_to(&query(8, name, RecordType::AAAA, None), named_addr())
            .unwrap();
        let mut buf = [0u8; 4096];
        let (n, _) = sock
            .recv_from(&mut buf)
            .expect("an answer despite the silent server");
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(aaaa(&m), ["fc00::80".parse::<Ipv6Addr>().unwrap()], "{m:?}");
    }
    let (sent, relayed, failovers, failed) = named.counters().forward;
    assert_eq!((relayed, failed), (2, 0));
    assert_eq!(failovers, 1, "one query met the silent server first");
    assert_eq!(sent, 3);
}

#[test]
fn otip_answers_change_at_the_32_second_boundary() {
    let w = World::new();
    let _named = w.named("net local ::/0\nauth otip local .otip fc01:: mypassword\n");
    let c = w.client(9);
    let at = |unix: u64| {
        w.clock.set(Duration::from_secs(unix));
        aaaa(&ask(&c, "renzo.otip.", RecordType::AAAA, None))
    };
    let v8: Ipv6Addr = "fc01::a80d:c83f:9271:d9ce".parse().unwrap();
    assert_eq!(at(40), [v8], "vector 8");
    assert_eq!(at(63), [v8]);
    assert_ne!(at(64), [v8], "a new address at the boundary");
    assert_eq!(
        at(1_738_288),
        ["fc01::6c96:53ca:eb83:2907".parse::<Ipv6Addr>().unwrap()],
        "vector 9"
    );
}

#[test]
fn reload_replaces_rules_and_refuses_a_bad_file_keeping_the_old() {
    let w = World::new();
    let named = w.named(
        "net local ::/0\nauth static local .test.local\nstatic A one.test.local 10.53.0.1\n",
    );
    let c = w.client(9);
    assert_eq!(
        ask(&c, "two.test.local.", RecordType::A, None)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    let err = named
        .reload(&w.config("net local ::/0\nauth static nowhere .x\nbogus line\n"))
        .unwrap_err();
    assert!(
        err.contains("test.rc:7:") && err.contains("test.rc:8:"),
        "every fault with its line: {err}"
    );
    assert_eq!(
        ask(&c, "one.test.local.", RecordType::A, None)
            .metadata
            .response_code,
        ResponseCode::NoError,
        "the old configuration still serves"
    );
    named
        .reload(&w.config(
            "net local ::/0\nauth static local .test.local\nstatic A two.test.local 10.53.0.2\n",
        ))
        .unwrap();
    assert_eq!(
        ask(&c, "two.test.local.", RecordType::A, None)
            .metadata
            .response_code,
        ResponseCode::NoError
    );
    assert_eq!(
        ask(&c, "one.test.local.", RecordType::A, None)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    let err = named.reload("stack stack=kernel\n").unwrap_err();
    assert!(err.contains("stack lines changed"), "{err}");
    assert_eq!(named.counters().reloads, (1, 2));
}

#[test]
fn responses_are_not_answered() {
    let w = World::new();
    let named = w.named("net local ::/0\nauth static local .\n");
    let c = w.client(9);
    let mut m = Message::from_vec(&query(9, "x.test.", RecordType::A, None)).unwrap();
    m.metadata.message_type = hickory_proto::op::MessageType::Response;
    let sock = c.0.udp_bind(c.1).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    sock.send_to(&m.to_vec().unwrap(), named_addr()).unwrap();
    let mut buf = [0u8; 512];
    assert!(
        sock.recv_from(&mut buf).is_err(),
        "a response gets no reply"
    );
    assert_eq!(named.counters().server.dropped, 1);
    assert_eq!(
        named
            .local_addrs()
            .iter()
            .filter(|(t, _)| *t == Transport::Tcp)
            .count(),
        2
    );
}

#[test]
fn forwarded_queries_leave_from_fresh_source_ports() {
    let w = World::new();
    // A second upstream that notes the source port of every query it gets.
    let seen = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let up = smoltcp_on(&w.hub, Some([10, 53, 0, 54]));
    let handler = {
        let seen = seen.clone();
        move |req: &ioth_dns::Request<'_>| {
            seen.lock().unwrap().insert(req.client.port());
            ioth_dns::Response::Message(req.error(ResponseCode::NXDomain))
        }
    };
    let config = ServerConfig {
        addrs: vec![SocketAddr::new(IpAddr::from([10, 53, 0, 54]), 53)],
        ..ServerConfig::default()
    };
    let _upstream = Server::bind(&up, config, handler).unwrap();
    let _named = w.named("dns 10.53.0.54\nnet local ::/0\nauth fwd local .\n");
    let c = w.client(9);
    let n = 3 * iothnamed::forward::ports::ROTATE_AFTER as usize;
    for i in 0..n {
        let m = ask(&c, &format!("n{i}.example.test."), RecordType::A, None);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    }
    let ports = seen.lock().unwrap().len();
    assert!(ports >= 3, "{n} queries left from {ports} source ports");
}
