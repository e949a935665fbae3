//! Arbitrary bytes through the DNS server's request path (ioth_dns::answer), as a UDP
//! datagram and as a TCP frame, with handlers that answer small, answer past every limit,
//! relay raw bytes and drop. It must never panic; a reply must carry the query's ID with QR
//! set, parse, and fit the client's limit (512 without EDNS, else its EDNS size capped by the
//! server's 1232; 65535 on TCP); no reply must leave the output empty.
#![no_main]

use std::net::Ipv4Addr;

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record};
use ioth_dns::{Context, Handler, Outcome, Request, Response, Transport, answer};

struct Fuzzed {
    answers: u16,
    mode: u8,
}

impl Handler for Fuzzed {
    fn handle(&self, req: &Request<'_>) -> Response {
        match self.mode % 4 {
            0 | 1 => {
                let mut m = req.reply();
                if let Some(q) = req.query() {
                    for i in 0..self.answers {
                        m.add_answer(Record::from_rdata(
                            q.name().clone(),
                            u32::from(i),
                            RData::A(A(Ipv4Addr::from(u32::from(i)))),
                        ));
                    }
                }
                Response::Message(m)
            }
            2 => Response::Raw(req.raw.to_vec()),
            _ => Response::Drop,
        }
    }

    fn accepts(&self, op_code: hickory_proto::op::OpCode) -> bool {
        self.mode & 0x10 != 0 || op_code == hickory_proto::op::OpCode::Query
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [mode, n1, n2, query @ ..] = data else {
        return;
    };
    let handler = Fuzzed {
        answers: u16::from_be_bytes([*n1 & 0x0f, *n2]),
        mode: *mode,
    };
    let edns = Message::from_vec(query)
        .ok()
        .and_then(|m| m.edns.map(|e| e.max_payload()));
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        let ctx = Context::new(
            "192.0.2.7:40000".parse().unwrap(),
            "192.0.2.1:53".parse().unwrap(),
            transport,
        );
        let limit = match (transport, edns) {
            (Transport::Tcp, _) => 65535,
            (Transport::Udp, None) => 512,
            (Transport::Udp, Some(e)) => usize::from(e.clamp(512, ioth_dns::DEFAULT_UDP_PAYLOAD)),
        };
        match answer(&handler, query, &ctx, &mut out) {
            Outcome::Reply { .. } => {
                // A query that does not parse is answered within 512 (no OPT to trust).
                assert!(out.len() <= limit.max(512), "{} > {limit}", out.len());
                assert!(out.len() >= 12);
                assert_eq!(out[..2], query[..2], "the query's ID");
                assert!(out[2] & 0x80 != 0, "QR set");
                assert!(Message::from_vec(&out).is_ok() || *mode % 4 == 2, "the reply parses");
            }
            Outcome::Drop(_) | Outcome::Pending => assert!(out.is_empty()),
        }
    }
});
