//! StaticZone: what a client asking a static server gets.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use ioth_dns::{Handler, Request, Response, StaticZone, Transport};
use proptest::prelude::*;

fn ask(zone: &StaticZone, name: &str, ty: RecordType, class: DNSClass) -> Message {
    let mut m = Message::query();
    let mut q = Query::query(Name::from_ascii(name).unwrap(), ty);
    q.set_query_class(class);
    m.add_query(q);
    let raw = m.to_vec().unwrap();
    let req = Request::new(
        m,
        &raw,
        "192.0.2.9:1000".parse().unwrap(),
        "192.0.2.1:53".parse().unwrap(),
        Transport::Udp,
    );
    match zone.handle(&req) {
        Response::Message(m) => m,
        other => panic!("a message, not {other:?}"),
    }
}

fn a(zone: &StaticZone, name: &str, ty: RecordType) -> Message {
    ask(zone, name, ty, DNSClass::IN)
}

#[test]
fn names_match_in_any_case_and_the_spelling_is_echoed() {
    let z = common::zone();
    let r = a(&z, "WwW.Example.TEST.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.authoritative);
    assert_eq!(
        common::a_records(&r),
        [std::net::Ipv4Addr::new(10, 0, 0, 80)]
    );
    assert_eq!(r.answers[0].name.to_ascii(), "WwW.Example.TEST.");
}

#[test]
fn missing_types_names_and_zones_answer_as_an_authority() {
    let z = common::zone();
    let r = a(&z, "www.example.test.", RecordType::MX);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "NODATA");
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    let r = a(&z, "nope.example.test.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    let r = a(&z, "www.elsewhere.test.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    let r = ask(&z, "www.example.test.", RecordType::A, DNSClass::CH);
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn an_empty_non_terminal_exists() {
    let z = StaticZone::parse("$ORIGIN z.test.\n$TTL 60\nhost.sub IN A 192.0.2.5\n", None).unwrap();
    let r = a(&z, "sub.z.test.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
}

#[test]
fn cnames_are_followed_and_any_gets_everything() {
    let z = common::zone();
    let r = a(&z, "alias.example.test.", RecordType::AAAA);
    let types: Vec<_> = r.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::CNAME, RecordType::AAAA]);
    assert_eq!(r.answers[0].name.to_ascii(), "alias.example.test.");
    let r = a(&z, "alias.example.test.", RecordType::CNAME);
    assert_eq!(r.answers.len(), 1, "asked for the CNAME itself");
    let r = a(&z, "www.example.test.", RecordType::ANY);
    assert_eq!(r.answers.len(), 2, "A and AAAA");
}

#[test]
fn text_that_is_not_a_zone_is_refused_with_a_reason() {
    for (text, origin) in [
        ("$INCLUDE /etc/passwd\n", Some("x.test.")),
        ("www IN A 10.0.0.1\n", None),
        ("$ORIGIN a.test.\n$TTL 1\nwww.b.test. IN A 10.0.0.1\n", None),
        ("$ORIGIN a.test.\n$TTL 1\nwww IN A not-an-address\n", None),
        ("$ORIGIN a.test.\nwww IN A 10.0.0.1\n", None),
    ] {
        let e = StaticZone::parse(text, origin).expect_err(text);
        assert!(!e.to_string().is_empty());
    }
    let z = StaticZone::parse("$TTL 1\nwww IN A 10.0.0.1\n", Some("given.test")).unwrap();
    assert_eq!(z.origin().to_string(), "given.test.");
    assert_eq!(z.len(), 1);
}

proptest! {
    /// Any text: parsing never panics.
    #[test]
    fn any_text_parses_or_fails_cleanly(text in "(\\PC|\n|\\$TTL|\\$ORIGIN| IN | A | CNAME | TXT |\\(|\\)|;|@| 1 ){0,40}") {
        let _ = StaticZone::parse(&text, Some("p.test."));
    }
}
