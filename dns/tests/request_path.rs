//! The request path without I/O: what a client would see in the reply bytes.

#![allow(clippy::unwrap_used, missing_docs)]

use std::net::Ipv4Addr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use ioth_dns::{Context, DropReason, Outcome, Request, Response, Transport, answer};
use proptest::prelude::*;

fn ctx(transport: Transport) -> Context {
    Context::new(
        "192.0.2.7:33333".parse().unwrap(),
        "192.0.2.1:53".parse().unwrap(),
        transport,
    )
}

fn query(name: &str, edns: Option<u16>) -> Message {
    let mut m = Message::query();
    m.metadata.id = 0x4242;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m
}

/// A handler answering `n` A records for any name.
fn many(n: u32) -> impl Fn(&Request<'_>) -> Response + Send + Sync + 'static {
    move |req: &Request<'_>| {
        let mut m = req.reply();
        let name = req.query().unwrap().name().clone();
        for i in 0..n {
            m.add_answer(Record::from_rdata(
                name.clone(),
                60,
                RData::A(A(Ipv4Addr::from(0x0a00_0000 + i))),
            ));
        }
        Response::Message(m)
    }
}

fn run(handler: &dyn ioth_dns::Handler, q: &[u8], t: Transport) -> (Outcome, Vec<u8>) {
    let mut out = Vec::new();
    let o = answer(handler, q, &ctx(t), &mut out);
    (o, out)
}

fn parse(out: &[u8]) -> Message {
    Message::from_vec(out).expect("the reply parses")
}

#[test]
fn an_answer_carries_the_query_id_question_and_answers() {
    let q = query("www.example.test.", None).to_vec().unwrap();
    let (o, out) = run(&many(2), &q, Transport::Udp);
    assert_eq!(
        o,
        Outcome::Reply {
            rcode: ResponseCode::NoError,
            truncated: false
        }
    );
    let r = parse(&out);
    assert_eq!(r.metadata.id, 0x4242);
    assert_eq!(r.metadata.message_type, MessageType::Response);
    assert!(r.metadata.recursion_desired, "RD is copied");
    assert_eq!(r.queries.len(), 1);
    assert_eq!(r.answers.len(), 2);
    assert!(r.edns.is_none(), "no OPT in reply to a query without one");
}

#[test]
fn an_opt_record_answers_an_opt_record() {
    let mut m = query("www.example.test.", Some(4096));
    m.edns.as_mut().unwrap().set_dnssec_ok(true);
    let (_, out) = run(&many(1), &m.to_vec().unwrap(), Transport::Udp);
    let e = parse(&out).edns.expect("OPT in the reply");
    assert_eq!(e.max_payload(), ioth_dns::DEFAULT_UDP_PAYLOAD);
    assert!(e.flags().dnssec_ok, "DO is copied (RFC 3225)");
    assert_eq!(e.version(), 0);
}

#[test]
fn responses_are_never_answered() {
    let mut m = query("www.example.test.", None);
    m.metadata.message_type = MessageType::Response;
    let (o, out) = run(&many(1), &m.to_vec().unwrap(), Transport::Udp);
    assert_eq!(o, Outcome::Drop(DropReason::Response));
    assert!(out.is_empty());
}

#[test]
fn less_than_a_header_is_dropped() {
    let (o, out) = run(&many(1), &[0x12, 0x34, 0, 0, 0], Transport::Udp);
    assert_eq!(o, Outcome::Drop(DropReason::Unreadable));
    assert!(out.is_empty());
}

#[test]
fn an_unparsable_query_gets_formerr() {
    let mut q = query("www.example.test.", None).to_vec().unwrap();
    q.truncate(q.len() - 3); // cut inside the question
    let (o, out) = run(&many(1), &q, Transport::Udp);
    assert!(matches!(
        o,
        Outcome::Reply {
            rcode: ResponseCode::FormErr,
            ..
        }
    ));
    let r = parse(&out);
    assert_eq!(r.metadata.id, 0x4242);
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(r.metadata.message_type, MessageType::Response);
}

#[test]
fn wrong_question_counts_get_formerr() {
    let mut none = query("a.test.", None);
    none.queries.clear();
    let mut two = query("a.test.", None);
    two.add_query(Query::query(
        Name::from_ascii("b.test.").unwrap(),
        RecordType::A,
    ));
    for m in [none, two] {
        let (o, out) = run(&many(1), &m.to_vec().unwrap(), Transport::Udp);
        assert!(matches!(
            o,
            Outcome::Reply {
                rcode: ResponseCode::FormErr,
                ..
            }
        ));
        assert_eq!(parse(&out).metadata.response_code, ResponseCode::FormErr);
    }
}

#[test]
fn unknown_opcodes_get_notimp() {
    for op in [
        OpCode::Notify,
        OpCode::Update,
        OpCode::Status,
        OpCode::Unknown(3),
    ] {
        let mut m = query("a.test.", None);
        m.metadata.op_code = op;
        let (o, out) = run(&many(1), &m.to_vec().unwrap(), Transport::Udp);
        assert!(
            matches!(
                o,
                Outcome::Reply {
                    rcode: ResponseCode::NotImp,
                    ..
                }
            ),
            "{op:?}"
        );
        let r = parse(&out);
        assert_eq!(r.metadata.response_code, ResponseCode::NotImp);
        assert_eq!(r.metadata.op_code, op, "the opcode is echoed");
    }
}

#[test]
fn an_edns_version_we_lack_gets_badvers() {
    let mut m = query("a.test.", Some(1232));
    m.edns.as_mut().unwrap().set_version(1);
    let (_, out) = run(&many(1), &m.to_vec().unwrap(), Transport::Udp);
    let r = parse(&out);
    // 16 is BADVERS in a reply's OPT (BADSIG is the same number, in TSIG).
    assert_eq!(u16::from(r.metadata.response_code), 16);
    assert_eq!(r.edns.expect("BADVERS travels in OPT").version(), 0);
}

#[test]
fn a_reply_over_512_without_edns_is_truncated_keeping_the_question() {
    // 40 A records: about 660 bytes.
    let q = query("www.example.test.", None).to_vec().unwrap();
    let (o, out) = run(&many(40), &q, Transport::Udp);
    assert_eq!(
        o,
        Outcome::Reply {
            rcode: ResponseCode::NoError,
            truncated: true
        }
    );
    assert!(out.len() <= 512);
    let r = parse(&out);
    assert!(r.metadata.truncation, "TC is set");
    assert_eq!(r.queries.len(), 1, "the question is kept");
    assert!(r.answers.is_empty());
    // The same reply fits the client's EDNS size, and TCP.
    let q = query("www.example.test.", Some(4096)).to_vec().unwrap();
    let (o, out) = run(&many(40), &q, Transport::Udp);
    assert!(matches!(
        o,
        Outcome::Reply {
            truncated: false,
            ..
        }
    ));
    assert_eq!(parse(&out).answers.len(), 40);
    let q = query("www.example.test.", None).to_vec().unwrap();
    let (_, out) = run(&many(40), &q, Transport::Tcp);
    assert_eq!(parse(&out).answers.len(), 40);
}

#[test]
fn the_client_edns_size_is_capped_by_ours() {
    // 100 records: about 1.6 KB, over our 1232 although the client offers 4096.
    let q = query("www.example.test.", Some(4096)).to_vec().unwrap();
    let (o, out) = run(&many(100), &q, Transport::Udp);
    assert!(matches!(
        o,
        Outcome::Reply {
            truncated: true,
            ..
        }
    ));
    assert!(out.len() <= 1232);
    let r = parse(&out);
    assert!(r.metadata.truncation);
    assert!(r.edns.is_some(), "the OPT record survives truncation");
    // A client asking for less than 512 gets 512 (RFC 6891).
    let q = query("www.example.test.", Some(100)).to_vec().unwrap();
    let (o, out) = run(&many(20), &q, Transport::Udp);
    assert!(matches!(
        o,
        Outcome::Reply {
            truncated: false,
            ..
        }
    ));
    assert!(out.len() > 100 && out.len() <= 512);
}

#[test]
fn a_tcp_reply_never_exceeds_65535() {
    let q = query("www.example.test.", None).to_vec().unwrap();
    let (o, out) = run(&many(5000), &q, Transport::Tcp);
    assert!(
        matches!(
            o,
            Outcome::Reply {
                truncated: true,
                ..
            }
        ),
        "{o:?}"
    );
    assert!(out.len() <= 65535);
    assert!(parse(&out).metadata.truncation);
}

#[test]
fn raw_replies_get_the_query_id_and_handlers_may_drop() {
    let q = query("a.test.", None).to_vec().unwrap();
    let raw = |_: &Request<'_>| {
        let mut m = Message::response(7, OpCode::Query);
        m.add_query(Query::query(
            Name::from_ascii("a.test.").unwrap(),
            RecordType::A,
        ));
        Response::Raw(m.to_vec().unwrap())
    };
    let (_, out) = run(&raw, &q, Transport::Udp);
    assert_eq!(parse(&out).metadata.id, 0x4242);
    // Relaying the query itself still answers with QR set.
    let echo = |r: &Request<'_>| Response::Raw(r.raw.to_vec());
    let (_, out) = run(&echo, &q, Transport::Udp);
    assert_eq!(parse(&out).metadata.message_type, MessageType::Response);
    let drop = |_: &Request<'_>| Response::Drop;
    let (o, out) = run(&drop, &q, Transport::Udp);
    assert_eq!(o, Outcome::Drop(DropReason::Handler));
    assert!(out.is_empty());
    let no_responder = |r: &Request<'_>| {
        assert!(r.responder().is_none(), "no server, no responder");
        Response::Drop
    };
    run(&no_responder, &q, Transport::Udp);
}

fn check_reply(q: &[u8], o: Outcome, out: &[u8], limit: usize) -> Result<(), TestCaseError> {
    if let Outcome::Reply { .. } = o {
        prop_assert!(out.len() <= limit, "{} > {limit}", out.len());
        prop_assert!(out.len() >= 12);
        prop_assert_eq!(&out[..2], &q[..2], "the reply carries the query's ID");
        prop_assert!(out[2] & 0x80 != 0, "QR is set");
        prop_assert!(Message::from_vec(out).is_ok(), "the reply parses");
    } else {
        prop_assert!(out.is_empty());
    }
    Ok(())
}

proptest! {
    /// Any bytes: no panic, and a reply (if any) is a well-formed response within 512.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        for t in [Transport::Udp, Transport::Tcp] {
            let (o, out) = run(&many(3), &bytes, t);
            check_reply(&bytes, o, &out, if t == Transport::Udp { 512 } else { 65535 })?;
        }
    }

    /// Valid queries with any EDNS size and any answer count: the reply fits the client's
    /// limit, and is truncated exactly when the whole answer would not.
    #[test]
    fn replies_fit_the_client_limit(edns in proptest::option::of(0u16..=u16::MAX), n in 0u32..120) {
        let q = query("host.example.test.", edns).to_vec().unwrap();
        let limit = match edns {
            None => 512,
            Some(e) => usize::from(e.clamp(512, ioth_dns::DEFAULT_UDP_PAYLOAD)),
        };
        let (o, out) = run(&many(n), &q, Transport::Udp);
        check_reply(&q, o, &out, limit)?;
        let (_, full) = run(&many(n), &q, Transport::Tcp);
        let truncated = matches!(o, Outcome::Reply { truncated: true, .. });
        prop_assert_eq!(truncated, full.len() > limit);
        prop_assert_eq!(parse(&out).edns.is_some(), edns.is_some());
    }
}
