//! The pure core of a lookup: the query a question becomes, which replies are accepted for it
//! (RFC 5452), and what an accepted reply says (answers through CNAME chains, NXDOMAIN and
//! NODATA with their negative TTLs per RFC 2308, failures worth another server).

use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// Longest CNAME chain followed (within one reply and across follow-up queries).
pub const MAX_CNAME_HOPS: usize = 8;

/// One question: an absolute name and a type, class IN.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Question {
    /// The absolute name asked for.
    pub name: Name,
    /// The type asked for.
    pub rtype: RecordType,
}

/// The bytes of a recursive query for `question` with message id `id`; with `edns_payload`,
/// an OPT record offering that UDP payload size (RFC 6891).
pub fn encode_query(id: u16, question: &Question, edns_payload: Option<u16>) -> Vec<u8> {
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    let mut query = Query::query(question.name.clone(), question.rtype);
    query.set_query_class(DNSClass::IN);
    msg.add_query(query);
    if let Some(size) = edns_payload {
        let mut edns = Edns::new();
        edns.set_max_payload(size.max(512));
        msg.set_edns(edns);
    }
    // A message of one question with a valid name always encodes.
    msg.to_vec().unwrap_or_default()
}

/// Why a datagram is not the reply to our query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// It does not parse as a DNS message.
    Malformed(String),
    /// It is a query, not a response.
    NotAResponse,
    /// Its id is not ours.
    WrongId(u16),
    /// Its question is not ours (RFC 5452 §9.1: id, question and source must match).
    WrongQuestion,
}

/// Accepts `bytes` as the reply to query `id` for `question`, or says why not. A reply that
/// carries no question is accepted only with an error code (some servers drop the question
/// from FORMERR/NOTIMP replies).
pub fn accept_reply(bytes: &[u8], id: u16, question: &Question) -> Result<Message, Mismatch> {
    let msg = Message::from_vec(bytes).map_err(|e| Mismatch::Malformed(e.to_string()))?;
    if msg.metadata.message_type != MessageType::Response {
        return Err(Mismatch::NotAResponse);
    }
    if msg.metadata.id != id {
        return Err(Mismatch::WrongId(msg.metadata.id));
    }
    match msg.queries.as_slice() {
        [q] if q.name == question.name
            && q.query_type == question.rtype
            && q.query_class == DNSClass::IN =>
        {
            Ok(msg)
        }
        [] if msg.metadata.response_code != ResponseCode::NoError => Ok(msg),
        _ => Err(Mismatch::WrongQuestion),
    }
}

/// What an accepted reply says about its question.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Records of the asked type, found at `canonical` after following `chain`.
    Answer {
        /// The name that owns the records (the question's name, or the end of the chain).
        canonical: Name,
        /// The CNAME records followed, in order.
        chain: Vec<Record>,
        /// The records of the asked type.
        records: Vec<Record>,
        /// How long the whole answer may be kept: the least TTL in it.
        ttl: Duration,
    },
    /// The chain ends at `target` with nothing more in this reply: ask again for `target`.
    FollowCname {
        /// Where the chain ends.
        target: Name,
        /// The CNAME records followed.
        chain: Vec<Record>,
    },
    /// The name (or the end of its chain) does not exist; keep the verdict `ttl`, if given.
    NxDomain {
        /// The name found not to exist.
        name: Name,
        /// The negative TTL (RFC 2308 §5), when the reply carried an SOA.
        ttl: Option<Duration>,
    },
    /// The name exists without records of the asked type.
    NoData {
        /// The name that has no such records.
        name: Name,
        /// The negative TTL, when the reply carried an SOA.
        ttl: Option<Duration>,
    },
    /// The server failed (SERVFAIL, REFUSED, NOTIMP, FORMERR, …): try another.
    Failure(ResponseCode),
    /// The answer did not fit in UDP: ask again over TCP.
    Truncated,
}

/// The negative TTL of a reply (RFC 2308 §5): the least of the SOA's TTL and its MINIMUM.
fn negative_ttl(msg: &Message) -> Option<Duration> {
    msg.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(Duration::from_secs(r.ttl.min(soa.minimum).into())),
        _ => None,
    })
}

/// Reads an accepted reply to `question`.
pub fn interpret(msg: &Message, question: &Question) -> Outcome {
    if msg.metadata.truncation {
        return Outcome::Truncated;
    }
    let rcode = msg.metadata.response_code;
    if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
        return Outcome::Failure(rcode);
    }
    let mut current = question.name.clone();
    let mut chain: Vec<Record> = Vec::new();
    if question.rtype != RecordType::CNAME {
        while chain.len() < MAX_CNAME_HOPS {
            let next = msg.answers.iter().find_map(|r| match &r.data {
                RData::CNAME(target) if r.name == current => Some((r, target.0.clone())),
                _ => None,
            });
            let Some((record, target)) = next else { break };
            chain.push(record.clone());
            current = target;
        }
    }
    let records: Vec<Record> = msg
        .answers
        .iter()
        .filter(|r| {
            r.name == current
                && r.dns_class == DNSClass::IN
                && (r.record_type() == question.rtype || question.rtype == RecordType::ANY)
        })
        .cloned()
        .collect();
    if !records.is_empty() {
        let ttl = chain
            .iter()
            .chain(records.iter())
            .map(|r| r.ttl)
            .min()
            .unwrap_or(0);
        return Outcome::Answer {
            canonical: current,
            chain,
            records,
            ttl: Duration::from_secs(ttl.into()),
        };
    }
    let ttl = negative_ttl(msg);
    if rcode == ResponseCode::NXDomain {
        return Outcome::NxDomain { name: current, ttl };
    }
    if !chain.is_empty() && ttl.is_none() && chain.len() < MAX_CNAME_HOPS {
        return Outcome::FollowCname {
            target: current,
            chain,
        };
    }
    Outcome::NoData { name: current, ttl }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, CNAME, SOA};
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("test names are valid")
    }

    fn question(s: &str, rtype: RecordType) -> Question {
        Question {
            name: name(s),
            rtype,
        }
    }

    fn reply_to(query: &[u8]) -> Message {
        let q = Message::from_vec(query).expect("our query parses");
        let mut r = Message::response(q.metadata.id, OpCode::Query);
        r.add_queries(q.queries.clone());
        r
    }

    fn soa(zone: &str, ttl: u32, minimum: u32) -> Record {
        Record::from_rdata(
            name(zone),
            ttl,
            RData::SOA(SOA::new(name("ns."), name("h."), 1, 2, 3, 4, minimum)),
        )
    }

    #[test]
    fn query_round_trips_with_edns() {
        let q = question("www.example.test.", RecordType::AAAA);
        let bytes = encode_query(4242, &q, Some(1232));
        let msg = Message::from_vec(&bytes).expect("parses");
        assert_eq!(msg.metadata.id, 4242);
        assert!(msg.metadata.recursion_desired);
        assert_eq!(msg.max_payload(), 1232);
        assert_eq!(msg.queries[0].name, q.name);
        let plain = Message::from_vec(&encode_query(1, &q, None)).expect("parses");
        assert!(plain.edns.is_none());
    }

    #[test]
    fn only_the_matching_reply_is_accepted() {
        let q = question("a.test.", RecordType::A);
        let query = encode_query(7, &q, None);
        let good = reply_to(&query);
        let bytes = good.to_vec().expect("encodes");
        assert!(accept_reply(&bytes, 7, &q).is_ok());
        // Case differences are the same name.
        assert!(accept_reply(&bytes, 7, &question("A.TEST.", RecordType::A)).is_ok());
        assert_eq!(accept_reply(&bytes, 8, &q), Err(Mismatch::WrongId(7)));
        assert_eq!(
            accept_reply(&bytes, 7, &question("b.test.", RecordType::A)),
            Err(Mismatch::WrongQuestion)
        );
        assert_eq!(
            accept_reply(&bytes, 7, &question("a.test.", RecordType::AAAA)),
            Err(Mismatch::WrongQuestion)
        );
        assert_eq!(accept_reply(&query, 7, &q), Err(Mismatch::NotAResponse));
        assert!(matches!(
            accept_reply(&[1, 2, 3], 7, &q),
            Err(Mismatch::Malformed(_))
        ));
    }

    #[test]
    fn chains_are_followed_and_ttl_is_the_least() {
        let q = question("www.a.test.", RecordType::A);
        let mut r = reply_to(&encode_query(1, &q, None));
        r.add_answer(Record::from_rdata(
            name("www.a.test."),
            300,
            RData::CNAME(CNAME(name("edge.b.test."))),
        ));
        r.add_answer(Record::from_rdata(
            name("EDGE.b.test."),
            60,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
        ));
        r.add_answer(Record::from_rdata(
            name("other.test."),
            5,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 9))),
        ));
        match interpret(&r, &q) {
            Outcome::Answer {
                canonical,
                chain,
                records,
                ttl,
            } => {
                assert_eq!(canonical, name("edge.b.test."));
                assert_eq!(chain.len(), 1);
                assert_eq!(records.len(), 1, "records of other owners are not answers");
                assert_eq!(ttl, Duration::from_secs(60));
            }
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    #[test]
    fn a_dangling_chain_asks_again_and_a_loop_ends() {
        let q = question("x.test.", RecordType::A);
        let mut r = reply_to(&encode_query(1, &q, None));
        r.add_answer(Record::from_rdata(
            name("x.test."),
            300,
            RData::CNAME(CNAME(name("y.test."))),
        ));
        assert!(
            matches!(interpret(&r, &q), Outcome::FollowCname { target, .. } if target == name("y.test."))
        );
        r.add_answer(Record::from_rdata(
            name("y.test."),
            300,
            RData::CNAME(CNAME(name("x.test."))),
        ));
        assert!(matches!(interpret(&r, &q), Outcome::NoData { .. }));
    }

    #[test]
    fn negative_answers_carry_rfc2308_ttls() {
        let q = question("nope.test.", RecordType::A);
        let mut r = reply_to(&encode_query(1, &q, None));
        r.metadata.response_code = ResponseCode::NXDomain;
        r.add_authority(soa("test.", 3600, 30));
        assert_eq!(
            interpret(&r, &q),
            Outcome::NxDomain {
                name: name("nope.test."),
                ttl: Some(Duration::from_secs(30))
            }
        );
        r.metadata.response_code = ResponseCode::NoError;
        assert!(matches!(
            interpret(&r, &q),
            Outcome::NoData { ttl: Some(_), .. }
        ));
        r.metadata.response_code = ResponseCode::ServFail;
        assert_eq!(interpret(&r, &q), Outcome::Failure(ResponseCode::ServFail));
        r.metadata.truncation = true;
        assert_eq!(interpret(&r, &q), Outcome::Truncated);
    }

    proptest! {
        #[test]
        fn any_bytes_are_rejected_or_interpreted(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let q = question("a.test.", RecordType::A);
            if let Ok(msg) = accept_reply(&bytes, u16::from_be_bytes([bytes.first().copied().unwrap_or(0), bytes.get(1).copied().unwrap_or(0)]), &q) {
                let _ = interpret(&msg, &q);
            }
        }
    }
}
