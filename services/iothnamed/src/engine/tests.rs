use super::*;
use crate::config::Config;
use crate::zone::NoLookup;
use hickory_proto::op::{OpCode, Query};

fn engine(text: &str) -> Engine {
    let config = Config::parse(text, "t.rc").expect("config");
    Engine::new(Zone::load(&config, "t.rc", &NoLookup).expect("zone"))
}

fn query(name: &str, ty: RecordType) -> Message {
    let mut m = Message::new(4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.queries
        .push(Query::query(Name::from_ascii(name).expect("name"), ty));
    m
}

fn ask(e: &Engine, name: &str, ty: RecordType, client: &str, now: u64) -> Message {
    match e.decide(
        &query(name, ty),
        client.parse().expect("ip"),
        Duration::from_secs(now),
    ) {
        Decision::Answer(m) => m,
        Decision::Forward => panic!("{name} was forwarded"),
    }
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

const LOCALHASH: &str = "\
dns 10.9.9.9
net local 192.168.1.0/24
net local fc00::/64
auth accept local
auth static local hash.local
static AAAA hash.local fc00::
auth hash local .hash.local hash.local
auth hrev local hash.local/64
auth cache local .
auth fwd local .
option hrevmode always
";

#[test]
fn hash_answers_the_talks_addresses_whatever_the_case() {
    let e = engine(LOCALHASH);
    for name in [
        "renzo.hash.local.",
        "RENZO.Hash.Local.",
        "rEnZo.hAsH.lOcAl.",
    ] {
        let m = ask(&e, name, RecordType::AAAA, "fc00::1", 1000);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        assert_eq!(
            aaaa(&m),
            ["fc00::4cc:8049:6765:d03a".parse::<Ipv6Addr>().expect("v6")],
            "{name}"
        );
        assert_eq!(m.answers[0].ttl, 600);
        assert_eq!(m.answers[0].name.to_ascii(), name, "the owner as asked");
        assert_eq!(m.metadata.id, 4242);
    }
    let m = ask(
        &e,
        "hic_sunt_leones.hash.local.",
        RecordType::AAAA,
        "192.168.1.7",
        1000,
    );
    assert_eq!(
        aaaa(&m),
        ["fc00::9c8f:74b4:705f:6512".parse::<Ipv6Addr>().expect("v6")]
    );
    // Other types: an authoritative empty answer.
    let m = ask(&e, "renzo.hash.local.", RecordType::A, "fc00::1", 1000);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty() && m.metadata.authoritative);
    assert_eq!(e.counters().of(AuthKind::Hash), 5);
}

#[test]
fn hrev_answers_a_name_hashed_before_and_forgets_it_after_hashttl() {
    let e = engine(LOCALHASH);
    let rev = "2.1.5.6.f.5.0.7.4.b.4.7.f.8.c.9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.f.ip6.arpa.";
    let m = ask(&e, rev, RecordType::PTR, "fc00::1", 1000);
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NXDomain,
        "not hashed yet"
    );
    assert!(m.metadata.authoritative);
    ask(
        &e,
        "Hic_Sunt_Leones.hash.local.",
        RecordType::AAAA,
        "fc00::1",
        1000,
    );
    let m = ask(&e, rev, RecordType::PTR, "fc00::1", 1100);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let RData::PTR(target) = &m.answers[0].data else {
        panic!("{m:?}")
    };
    assert_eq!(target.0.to_ascii(), "hic_sunt_leones.hash.local.");
    assert_eq!(m.answers[0].ttl, 500, "the time left");
    let m = ask(&e, rev, RecordType::PTR, "fc00::1", 1600);
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NXDomain,
        "forgotten after hashttl"
    );
}

#[test]
fn hrevmode_net_and_same() {
    let net = engine(&LOCALHASH.replace("hrevmode always", "hrevmode net"));
    let rev = reverse_name("fc00::4cc:8049:6765:d03a".parse().expect("v6")) + ".";
    ask(
        &net,
        "renzo.hash.local.",
        RecordType::AAAA,
        "192.168.1.5",
        10,
    );
    assert_eq!(
        ask(&net, &rev, RecordType::PTR, "fc00::1", 11)
            .metadata
            .response_code,
        ResponseCode::NXDomain,
        "IPv4 clients never match net"
    );
    ask(&net, "renzo.hash.local.", RecordType::AAAA, "fc00::77", 12);
    assert_eq!(
        ask(&net, &rev, RecordType::PTR, "fc00::1", 13)
            .metadata
            .response_code,
        ResponseCode::NoError
    );
    let same = engine(&LOCALHASH.replace("hrevmode always", "hrevmode same"));
    ask(&same, "renzo.hash.local.", RecordType::AAAA, "fc00::77", 12);
    assert_eq!(
        ask(&same, &rev, RecordType::PTR, "fc00::1", 13)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    ask(
        &same,
        "renzo.hash.local.",
        RecordType::AAAA,
        "fc00::4cc:8049:6765:d03a",
        14,
    );
    assert_eq!(
        ask(&same, &rev, RecordType::PTR, "fc00::1", 15)
            .metadata
            .response_code,
        ResponseCode::NoError
    );
}

#[test]
fn otip_changes_at_the_period_boundary() {
    let e = engine("net local ::/0\nauth otip local .otip fc01:: mypassword\n");
    let at = |t| aaaa(&ask(&e, "renzo.otip.", RecordType::AAAA, "fc00::1", t));
    let first: Ipv6Addr = "fc01::a086:5677:2679:16f9".parse().expect("v6");
    let second: Ipv6Addr = "fc01::a80d:c83f:9271:d9ce".parse().expect("v6");
    assert_eq!(at(10), [first], "t = 0: no time bytes (vector 7)");
    assert_eq!(at(31), [first]);
    assert_eq!(at(32), [second], "t = 1 (vector 8)");
    assert_eq!(at(40), [second]);
    assert_eq!(at(63), [second]);
    assert_ne!(at(64), [second]);
    assert_eq!(
        at(1_738_288),
        ["fc01::6c96:53ca:eb83:2907".parse::<Ipv6Addr>().expect("v6")],
        "vector 9"
    );
    let m = ask(&e, "RENZO.OTIP.", RecordType::AAAA, "fc00::1", 40);
    assert_eq!(aaaa(&m), [second], "case does not change the address");
    assert_eq!(m.answers[0].ttl, 1);
}

const LOCAL_FORWARD: &str = "\
dns 10.9.9.9
net local 192.168.1.0/24
auth accept local
auth static local .test.local
auth static local 192.168.1.0/24
auth cache local .
auth fwd local .
static A one.test.local 192.168.1.1
static A two.test.local 192.168.1.2
static CNAME alias.test.local one.test.local
static CNAME alias2.test.local alias.test.local
static TXT one.test.local \"sempre caro\" 'mi fu'
static PTR 192.168.1.1 one.test.local
static PTR 192.168.1.2 two.test.local
";

#[test]
fn static_answers_aliases_reverse_and_nxdomain() {
    let e = engine(LOCAL_FORWARD);
    let c = "192.168.1.9";
    let m = ask(&e, "One.Test.Local.", RecordType::A, c, 0);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative && m.metadata.recursion_available);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].ttl, 3600);
    let m = ask(&e, "alias2.test.local.", RecordType::A, c, 0);
    let types: Vec<RecordType> = m.answers.iter().map(Record::record_type).collect();
    assert_eq!(
        types,
        [RecordType::CNAME, RecordType::CNAME, RecordType::A],
        "the chain, each link once"
    );
    let m = ask(&e, "alias.test.local.", RecordType::CNAME, c, 0);
    assert_eq!(m.answers.len(), 1, "a CNAME query gets the CNAME once");
    assert_eq!(
        ask(&e, "one.test.local.", RecordType::ANY, c, 0)
            .answers
            .len(),
        2
    );
    assert_eq!(
        ask(&e, "one.test.local.", RecordType::TXT, c, 0)
            .answers
            .len(),
        1
    );
    let m = ask(&e, "1.1.168.192.in-addr.arpa.", RecordType::PTR, c, 0);
    let RData::PTR(p) = &m.answers[0].data else {
        panic!("{m:?}")
    };
    assert_eq!(p.0.to_ascii(), "one.test.local.");
    let m = ask(&e, "three.test.local.", RecordType::A, c, 0);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authoritative);
    let m = ask(&e, "one.test.local.", RecordType::AAAA, c, 0);
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NoError, 0),
        "NODATA"
    );
}

#[test]
fn others_are_refused_and_the_rest_forwarded_then_cached() {
    let e = engine(LOCAL_FORWARD);
    let m = ask(&e, "one.test.local.", RecordType::A, "10.0.0.1", 0);
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::Refused,
        "not in a net"
    );
    assert_eq!(e.counters().no_rule, 1);
    let q = query("www.example.test.", RecordType::A);
    let client: IpAddr = "192.168.1.9".parse().expect("ip");
    assert!(matches!(
        e.decide(&q, client, Duration::from_secs(100)),
        Decision::Forward
    ));
    let mut upstream = Message::new(1, MessageType::Response, OpCode::Query);
    upstream.answers.push(Record::from_rdata(
        Name::from_ascii("www.example.test.").expect("name"),
        300,
        RData::A(hickory_proto::rr::rdata::A::new(93, 184, 216, 34)),
    ));
    e.learn("www.example.test", &upstream, Duration::from_secs(100));
    let m = ask(&e, "WWW.example.test.", RecordType::A, "192.168.1.9", 110);
    assert!(
        !m.metadata.authoritative && m.metadata.recursion_available,
        "a cache hit is not authoritative"
    );
    assert_eq!(m.answers[0].ttl, 290, "the TTL left");
    assert_eq!(e.counters().of(AuthKind::Cache), 1);
    assert!(e.tcp_allowed(client));
    assert!(!e.tcp_allowed("10.0.0.1".parse().expect("ip")));
}

#[test]
fn first_match_in_file_order_not_longest_suffix() {
    let e = engine(
        "net w ::/0\nauth hash w .x.test fc00::\nauth static w .x.test\nstatic AAAA a.x.test fc00::1\nauth error w .err.test\n",
    );
    let m = ask(&e, "a.x.test.", RecordType::AAAA, "fc00::9", 0);
    assert_ne!(
        aaaa(&m),
        ["fc00::1".parse::<Ipv6Addr>().expect("v6")],
        "the hash line is first"
    );
    assert_eq!(
        ask(&e, "b.err.test.", RecordType::A, "fc00::9", 0)
            .metadata
            .response_code,
        ResponseCode::Refused
    );
    assert_eq!(e.counters().of(AuthKind::Error), 1);
}

#[test]
fn fwd_without_dns_is_a_server_failure_not_a_crash() {
    let e = engine("net w ::/0\nauth fwd w .\n");
    let m = ask(&e, "www.example.test.", RecordType::A, "fc00::9", 0);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(e.counters().forward_unavailable, 1);
}
