//! The per-stack resolver (`ioth::dns`) against a scripted server: records through CNAME
//! chains, NXDOMAIN and NODATA, caching with counting-down TTLs, truncation then TCP, a dead
//! first server, forged replies, the search list; and on smoltcp stacks, names learned from
//! the stack's own configuration used by the std-like types.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::dns::proto::rr::RData;
use ioth::dns::{RecordType, ResolveError, Resolver, ResolverOptions, ServerFailure};
use ioth::net::{TcpListener, TcpStream, UdpSocket};
use ioth_tests::dns_responder::{Responder, Script, a, aaaa, cname, mx, name, txt};

fn zone() -> Vec<ioth::dns::proto::rr::Record> {
    let big: Vec<String> = (0..10).map(|i| format!("{i}{}", "x".repeat(199))).collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    vec![
        a("web.example.test.", 300, [192, 0, 2, 10]),
        aaaa("web.example.test.", 300, "2001:db8::10".parse().unwrap()),
        cname("www.example.test.", 600, "alias.example.test."),
        cname("alias.example.test.", 600, "web.example.test."),
        mx("example.test.", 300, 10, "mail.example.test."),
        txt("example.test.", 300, &["v=spf1 -all", "hello"]),
        txt("big.example.test.", 300, &big),
        a("short.example.test.", 2, [192, 0, 2, 20]),
        a("host.corp.test.", 60, [192, 0, 2, 30]),
    ]
}

fn kernel() -> Stack {
    let _ = ioth_kernel::NAME;
    Stack::new("kernel", &[]).unwrap()
}

fn quick(resolver: &Resolver) {
    resolver.set_options(ResolverOptions {
        timeout: Duration::from_millis(500),
        attempts: 1,
        ..ResolverOptions::default()
    });
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn records_come_through_cname_chains() {
    ioth_tests::init_logging();
    let stack = kernel();
    let server = Responder::start(
        &stack,
        local(),
        Script {
            records: zone(),
            ..Script::default()
        },
    );
    let r = Resolver::from_servers(&stack, &[server.addr]);

    let ips = r.lookup_ip("web.example.test").unwrap();
    assert_eq!(
        ips,
        [
            "2001:db8::10".parse::<IpAddr>().unwrap(),
            IpAddr::from([192, 0, 2, 10])
        ]
    );

    let www = r.lookup("www.example.test.", RecordType::A).unwrap();
    assert_eq!(www.canonical_name(), &name("web.example.test."));
    assert_eq!(www.cname_chain().len(), 2);
    assert_eq!(
        www.ips().collect::<Vec<_>>(),
        [IpAddr::from([192, 0, 2, 10])]
    );

    let mx = r.lookup("example.test", RecordType::MX).unwrap();
    assert!(matches!(&mx.records()[0].data, RData::MX(m) if m.preference == 10));
    let txt = r.lookup("example.test", RecordType::TXT).unwrap();
    assert!(matches!(&txt.records()[0].data, RData::TXT(t) if t.to_string().contains("spf1")));

    // Every query offered EDNS(0) with 1232 bytes.
    assert!(
        server.seen().iter().all(|s| s.edns == Some(1232) && !s.tcp),
        "{:?}",
        server.seen()
    );
}

#[test]
fn missing_names_and_types_say_so_and_are_cached_negatively() {
    let stack = kernel();
    let server = Responder::start(
        &stack,
        local(),
        Script {
            records: zone(),
            ..Script::default()
        },
    );
    let r = Resolver::from_servers(&stack, &[server.addr]);

    let err = r.lookup("nope.example.test.", RecordType::A).unwrap_err();
    assert!(matches!(err, ResolveError::NxDomain { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.example.test"), "{err}");
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::NotFound
    );

    let err = r.lookup("web.example.test.", RecordType::MX).unwrap_err();
    assert!(
        matches!(
            &err,
            ResolveError::NoData {
                rtype: RecordType::MX,
                ..
            }
        ),
        "{err:?}"
    );
    let asked = server.count();
    // Both verdicts are kept for the SOA's negative TTL: no new queries.
    assert!(r.lookup("nope.example.test.", RecordType::A).is_err());
    assert!(r.lookup("web.example.test.", RecordType::MX).is_err());
    assert_eq!(server.count(), asked);
}

#[test]
fn answers_are_cached_with_counting_down_ttls() {
    let stack = kernel();
    let server = Responder::start(
        &stack,
        local(),
        Script {
            records: zone(),
            ..Script::default()
        },
    );
    let r = Resolver::from_servers(&stack, &[server.addr]);
    let first = r.lookup("short.example.test.", RecordType::A).unwrap();
    assert!(!first.from_cache());
    assert_eq!(first.records()[0].ttl, 2);
    let again = r.lookup("short.example.test.", RecordType::A).unwrap();
    assert!(again.from_cache());
    assert!(again.records()[0].ttl <= 2);
    assert_eq!(server.count(), 1);
    // (Expiry itself is the cache's unit test, on a clock it moves.) Cleared, it is asked again.
    r.clear_cache();
    assert!(
        !r.lookup("short.example.test.", RecordType::A)
            .unwrap()
            .from_cache()
    );
    assert_eq!(server.count(), 2);
    // A clone shares the cache.
    let clone = r.clone();
    assert!(
        clone
            .lookup("short.example.test.", RecordType::A)
            .unwrap()
            .from_cache()
    );
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    let stack = kernel();
    let server = Responder::start(
        &stack,
        local(),
        Script {
            records: zone(),
            ..Script::default()
        },
    );
    let r = Resolver::from_servers(&stack, &[server.addr]);
    let big = r.lookup("big.example.test.", RecordType::TXT).unwrap();
    let RData::TXT(t) = &big.records()[0].data else {
        panic!("not TXT")
    };
    assert_eq!(t.txt_data.len(), 10);
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(!seen[0].tcp && seen[1].tcp, "UDP first, then TCP: {seen:?}");

    // lookup_tcp and `use-vc` go over TCP from the start.
    let r = Resolver::from_servers(&stack, &[server.addr]);
    r.lookup_tcp("web.example.test.", RecordType::A).unwrap();
    assert!(server.seen().last().unwrap().tcp);
}

#[test]
fn a_dead_first_server_costs_its_timeout_then_the_second_answers() {
    let stack = kernel();
    let dead = Responder::start(
        &stack,
        local(),
        Script {
            silent: true,
            ..Script::default()
        },
    );
    let good = Responder::start(
        &stack,
        local(),
        Script {
            records: zone(),
            ..Script::default()
        },
    );
    let r = Resolver::from_servers(&stack, &[dead.addr, good.addr]);
    quick(&r);
    let t0 = Instant::now();
    r.lookup("web.example.test.", RecordType::A).unwrap();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(dead.count(), 1);

    // Nobody answers: the error names each server and how long was spent.
    let r = Resolver::from_servers(&stack, &[dead.addr]);
    quick(&r);
    let err = r.lookup("web.example.test.", RecordType::A).unwrap_err();
    match &err {
        ResolveError::NoAnswer { servers, .. } => {
            assert_eq!(servers.len(), 1);
            assert_eq!(servers[0].0, dead.addr);
            assert!(matches!(servers[0].1, ServerFailure::Timeout(_)));
        }
        other => panic!("expected NoAnswer, got {other:?}"),
    }
    assert!(err.to_string().contains(&dead.addr.to_string()), "{err}");
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::TimedOut
    );

    // A server that refuses is a failure too, and the next one is asked.
    let refusing = Responder::start(
        &stack,
        local(),
        Script {
            rcode: Some(ioth::dns::proto::op::ResponseCode::Refused),
            ..Script::default()
        },
    );
    let r = Resolver::from_servers(&stack, &[refusing.addr, good.addr]);
    quick(&r);
    assert!(r.lookup("web.example.test.", RecordType::AAAA).is_ok());
    assert_eq!(refusing.count(), 1);
}

#[test]
fn forged_replies_are_ignored() {
    let stack = kernel();
    let server = Responder::start(
        &stack,
        local(),
        Script {
            records: zone(),
            forge_first: true,
            ..Script::default()
        },
    );
    let r = Resolver::from_servers(&stack, &[server.addr]);
    // The forged NXDOMAIN with the wrong id arrives first; the real answer wins.
    assert_eq!(r.lookup_ip("web.example.test").unwrap().len(), 2);
}

#[test]
fn the_search_list_follows_ndots() {
    let stack = kernel();
    let server = Responder::start(
        &stack,
        local(),
        Script {
            records: zone(),
            ..Script::default()
        },
    );
    let r = Resolver::from_servers(&stack, &[server.addr]);
    r.set_search(&[name("example.test."), name("corp.test.")]);
    let l = r.lookup("host", RecordType::A).unwrap();
    assert_eq!(l.query_name(), &name("host.corp.test."));
    let names: Vec<String> = server.seen().iter().map(|s| s.name.clone()).collect();
    assert_eq!(names, ["host.example.test.", "host.corp.test."]);
    // A trailing dot: the name alone.
    let err = r.lookup("host.", RecordType::A).unwrap_err();
    assert!(
        matches!(&err, ResolveError::NxDomain { tried } if tried == &["host."]),
        "{err:?}"
    );
    // Literals need no query; localhost is known without one.
    let before = server.count();
    assert_eq!(
        r.lookup_ip("192.0.2.99").unwrap(),
        [IpAddr::from([192, 0, 2, 99])]
    );
    assert!(
        r.lookup_ip("localhost")
            .unwrap()
            .contains(&IpAddr::from(Ipv6Addr::LOCALHOST))
    );
    assert_eq!(server.count(), before);
}

#[test]
fn a_refusal_on_a_later_candidate_does_not_hide_a_definite_answer() {
    let stack = kernel();
    let server = Responder::start(
        &stack,
        local(),
        Script {
            records: zone(),
            only_under: Some("example.test.".into()),
            ..Script::default()
        },
    );
    let r = Resolver::from_servers(&stack, &[server.addr]);
    r.set_search(&[name("example.test.")]);
    // "web" is tried as web.example.test. (NODATA for MX) then as web. (REFUSED).
    let err = r.lookup("web", RecordType::MX).unwrap_err();
    assert!(matches!(err, ResolveError::NoData { .. }), "{err:?}");
    // "nope": NXDOMAIN, then REFUSED: the name does not exist.
    let err = r.lookup("nope", RecordType::A).unwrap_err();
    assert!(
        matches!(&err, ResolveError::NxDomain { tried } if tried.len() == 2),
        "{err:?}"
    );
    // A refusal of the only candidate is reported as such.
    let err = r.lookup("other.test.", RecordType::A).unwrap_err();
    assert!(err.to_string().contains("Refused"), "{err}");
}

#[test]
fn resolv_conf_text_is_read_and_bad_lines_named() {
    let stack = kernel();
    let r = Resolver::from_conf(
        &stack,
        "nameserver 192.0.2.53\nsearch a.test\noptions ndots:2 timeout:1 attempts:1 rotate\n",
    )
    .unwrap();
    assert_eq!(
        r.servers(),
        ["192.0.2.53:53".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(r.options().ndots, 2);
    let err = Resolver::from_conf(&stack, "nameserver 192.0.2.53\nnameserver x\n").unwrap_err();
    assert_eq!(err.line, 2);
}

/// Two smoltcp stacks on one hub: B serves DNS on port 53 and TCP/UDP services; A knows B
/// only from its own configuration (`dns=`, `domain=`).
struct Named {
    a: Stack,
    b: Stack,
    _server: Responder,
}

fn named_pair() -> Named {
    let _ = ioth_smoltcp::NAME;
    let hub = ioth_tests::fixtures::unique_hub();
    let (b, _) = Stack::from_config(&format!(
        "stack=smoltcp,vnl={hub},eth,ip=10.53.0.2/24,ip=fd53::2/64"
    ))
    .unwrap();
    let (node_a, report) = Stack::from_config(&format!(
        "stack=smoltcp,vnl={hub},eth,ip=10.53.0.1/24,dns=10.53.0.2,domain=corp.test"
    ))
    .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let mut records = zone();
    records.push(a("svc.corp.test.", 60, [10, 53, 0, 2]));
    // An IPv6 address A cannot reach (A has no IPv6 address or route): the race moves on.
    records.push(aaaa("svc.corp.test.", 60, "fd99::2".parse().unwrap()));
    let server = Responder::start(
        &b,
        "0.0.0.0:53".parse().unwrap(),
        Script {
            records,
            ..Script::default()
        },
    );
    Named {
        a: node_a,
        b,
        _server: server,
    }
}

#[test]
fn a_stack_resolves_over_what_it_learned_and_std_like_types_use_it() {
    ioth_tests::init_logging();
    let n = named_pair();
    let r = Resolver::for_stack(&n.a);
    assert_eq!(r.servers(), ["10.53.0.2:53".parse::<SocketAddr>().unwrap()]);
    assert_eq!(r.search(), [name("corp.test.")]);
    assert_eq!(
        n.a.resolve("svc:80").unwrap()[1],
        "10.53.0.2:80".parse().unwrap()
    );

    let listener = TcpListener::bind_on(&n.b, "0.0.0.0:8080").unwrap();
    let accepting = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"hello by name").unwrap();
    });
    let mut stream = TcpStream::connect_on(&n.a, "svc:8080").unwrap();
    let mut got = String::new();
    stream.read_to_string(&mut got).unwrap();
    assert_eq!(got, "hello by name");
    accepting.join().unwrap();

    let echo = UdpSocket::bind_on(&n.b, "0.0.0.0:7").unwrap();
    let u = UdpSocket::bind_on(&n.a, "0.0.0.0:0").unwrap();
    u.send_to(b"ping", "svc.corp.test:7").unwrap();
    let mut buf = [0u8; 8];
    let (len, _) = echo.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..len], b"ping");
    u.connect(("svc", 7)).unwrap();
    assert_eq!(u.peer_addr().unwrap(), "10.53.0.2:7".parse().unwrap());

    // A name that does not exist fails as std's lookups do, with the name in the message.
    let err = TcpStream::connect_on(&n.a, "nowhere.example.test:80")
        .err()
        .unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("nowhere.example.test"), "{err}");
}

#[test]
fn a_stack_without_servers_says_so() {
    let _ = ioth_smoltcp::NAME;
    let stack =
        ioth_tests::fixtures::smoltcp_on(&ioth_tests::fixtures::unique_hub(), Some([10, 54, 0, 1]));
    let err = Resolver::for_stack(&stack)
        .lookup_ip("web.example.test")
        .unwrap_err();
    assert!(matches!(err, ResolveError::NoServers { .. }), "{err:?}");
    assert!(err.to_string().contains("smoltcp"), "{err}");
    // localhost needs no server, on any stack.
    assert!(!stack.resolve("localhost:80").unwrap().is_empty());
}

#[test]
fn a_server_the_stack_cannot_reach_is_named_with_the_network_error() {
    let _ = ioth_smoltcp::NAME;
    // An address on vde0 and no route beyond it.
    let stack =
        ioth_tests::fixtures::smoltcp_on(&ioth_tests::fixtures::unique_hub(), Some([10, 54, 0, 1]));
    let far: SocketAddr = "192.0.2.53:53".parse().unwrap();
    let r = Resolver::from_servers(&stack, &[far]);
    quick(&r);
    let t0 = Instant::now();
    let err = r.lookup("web.example.test.", RecordType::A).unwrap_err();
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "no wait for a timeout: {:?}",
        t0.elapsed()
    );
    match &err {
        ResolveError::NoAnswer { servers, .. } => {
            assert_eq!(servers[0].0, far);
            assert!(
                matches!(&servers[0].1, ServerFailure::Io(e) if e.raw_os_error() == Some(libc::ENETUNREACH)),
                "{servers:?}"
            );
        }
        other => panic!("expected NoAnswer, got {other:?}"),
    }
    assert!(err.to_string().contains("192.0.2.53"), "{err}");
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::NetworkUnreachable
    );
}

#[test]
fn the_stack_follows_its_configuration_changes() {
    let n = named_pair();
    let r = n.a.resolver();
    assert_eq!(r.servers().len(), 1);
    n.a.configure("dns=10.53.0.3").unwrap();
    // Seen at once: the stack's configuration call tells its resolver.
    assert_eq!(
        r.servers(),
        [
            "10.53.0.2:53".parse::<SocketAddr>().unwrap(),
            "10.53.0.3:53".parse().unwrap()
        ]
    );
    // Another handle on the same stack's resolver shares what was reloaded.
    assert_eq!(n.a.resolver().servers().len(), 2);
}
