//! The request path without I/O: bytes of a query in, bytes of the reply out.
//!
//! [`answer`] is what the server runs for every UDP datagram and TCP frame; it is public so
//! that tests, fuzzers and programs with their own sockets can run it too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::op::{Header, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};

use crate::request::{Handler, ReplyMeta, Request, Response, Transport};
use crate::server::{Inbox, ReplyTo};

/// Bytes of a DNS header.
const HEADER_LEN: usize = 12;
/// The largest DNS message (the TCP length prefix is 16 bits).
pub const MAX_MESSAGE: usize = 65535;

/// Where a query came from and arrived, for [`answer`].
#[derive(Clone, Debug)]
pub struct Context {
    /// The client's address and port.
    pub client: SocketAddr,
    /// The local address and port the query reached.
    pub local: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// The EDNS payload size this server advertises and accepts at most on UDP.
    pub max_udp_payload: u16,
    pub(crate) later: Option<(Arc<Inbox>, ReplyTo)>,
}

impl Context {
    /// A context without a server (no [`crate::Responder`]s), advertising the default
    /// payload size ([`crate::DEFAULT_UDP_PAYLOAD`]).
    pub fn new(client: SocketAddr, local: SocketAddr, transport: Transport) -> Context {
        Context {
            client,
            local,
            transport,
            max_udp_payload: crate::DEFAULT_UDP_PAYLOAD,
            later: None,
        }
    }
}

/// Why a message got no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Shorter than a DNS header: nothing to answer to.
    Unreadable,
    /// A response (QR=1): answering it could start a loop between two servers.
    Response,
    /// The handler returned [`Response::Drop`].
    Handler,
    /// The handler's raw reply was shorter than a header.
    BadReply,
}

/// What [`answer`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The reply is in the output buffer: its response code, and whether the server
    /// truncated it (TC) to fit the client's limit.
    Reply {
        /// The reply's response code.
        rcode: ResponseCode,
        /// Whether the server cut it to fit.
        truncated: bool,
    },
    /// No reply.
    Drop(DropReason),
    /// The handler answers later through a [`crate::Responder`].
    Pending,
}

/// The server's counters, updated without locks.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub queries: AtomicU64,
    pub responses: AtomicU64,
    pub truncated: AtomicU64,
    pub formerr: AtomicU64,
    pub notimp: AtomicU64,
    pub dropped: AtomicU64,
    pub tcp_accepted: AtomicU64,
    pub tcp_refused: AtomicU64,
    pub tcp_timeouts: AtomicU64,
}

/// A snapshot of a server's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages received (UDP datagrams and TCP frames).
    pub queries: u64,
    /// Replies sent.
    pub responses: u64,
    /// Replies the server truncated (TC) to fit the client's limit.
    pub truncated: u64,
    /// Replies with FORMERR (unparsable queries, wrong question count).
    pub formerr: u64,
    /// Replies with NOTIMP (opcodes the handler does not accept).
    pub notimp: u64,
    /// Messages that got no reply: unreadable, responses, dropped by the handler, replies
    /// that could not be sent or whose TCP connection was gone.
    pub dropped: u64,
    /// TCP connections accepted and served.
    pub tcp_accepted: u64,
    /// TCP connections closed at once: the server had its maximum, or
    /// [`crate::Handler::accepts_tcp`] refused the client.
    pub tcp_refused: u64,
    /// TCP connections closed for being idle.
    pub tcp_timeouts: u64,
}

impl Stats {
    pub(crate) fn snapshot(&self) -> Counters {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counters {
            queries: r(&self.queries),
            responses: r(&self.responses),
            truncated: r(&self.truncated),
            formerr: r(&self.formerr),
            notimp: r(&self.notimp),
            dropped: r(&self.dropped),
            tcp_accepted: r(&self.tcp_accepted),
            tcp_refused: r(&self.tcp_refused),
            tcp_timeouts: r(&self.tcp_timeouts),
        }
    }

    /// Counts an outcome whose reply was sent (`sent`) or not.
    pub(crate) fn count(&self, outcome: Outcome, sent: bool) {
        let add = |a: &AtomicU64| {
            a.fetch_add(1, Ordering::Relaxed);
        };
        match outcome {
            Outcome::Reply { rcode, truncated } if sent => {
                add(&self.responses);
                if truncated {
                    add(&self.truncated);
                }
                if rcode == ResponseCode::FormErr {
                    add(&self.formerr);
                } else if rcode == ResponseCode::NotImp {
                    add(&self.notimp);
                }
            }
            Outcome::Reply { .. } | Outcome::Drop(_) => add(&self.dropped),
            Outcome::Pending => {}
        }
    }

    /// Counts a reply about to be sent, so that the counters show it by the time the
    /// client has it; [`Stats::unsent`] takes it back if sending fails.
    pub(crate) fn count_sending(&self, outcome: Outcome) {
        self.count(outcome, true);
    }

    /// Takes back [`Stats::count_sending`]: the reply could not be sent.
    pub(crate) fn unsent(&self, outcome: Outcome) {
        let sub = |a: &AtomicU64| {
            a.fetch_sub(1, Ordering::Relaxed);
        };
        if let Outcome::Reply { rcode, truncated } = outcome {
            sub(&self.responses);
            if truncated {
                sub(&self.truncated);
            }
            if rcode == ResponseCode::FormErr {
                sub(&self.formerr);
            } else if rcode == ResponseCode::NotImp {
                sub(&self.notimp);
            }
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The reply limits of a parsed query on `transport`, with `cap` as our payload size.
pub(crate) fn meta_for(message: &Message, transport: Transport, cap: u16) -> ReplyMeta {
    let client_edns = message
        .edns
        .as_ref()
        .map(|e| (e.max_payload(), e.flags().dnssec_ok));
    ReplyMeta {
        id: message.metadata.id,
        op_code: message.metadata.op_code,
        rd: message.metadata.recursion_desired,
        cd: message.metadata.checking_disabled,
        client_edns,
        limit: limit(transport, client_edns, cap),
        cap,
    }
}

fn limit(transport: Transport, client_edns: Option<(u16, bool)>, cap: u16) -> usize {
    match (transport, client_edns) {
        (Transport::Tcp, _) => MAX_MESSAGE,
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some((payload, _))) => usize::from(payload.max(512).min(cap.max(512))),
    }
}

/// Runs the request path on one message: `query` in, the reply (if any) written to `out`.
///
/// Guarantees, for any bytes: it never panics; a message shorter than a header, or a
/// response (QR=1), gets no reply; a query whose header reads but whose body does not parse
/// gets FORMERR; an opcode the handler does not accept gets NOTIMP; an EDNS version other
/// than 0 gets BADVERS; a `QUERY` without exactly one question gets FORMERR; every reply
/// carries the query's ID and opcode with QR set, carries an OPT record exactly when the
/// query did, and fits the client's limit (truncated with TC otherwise).
pub fn answer(handler: &dyn Handler, query: &[u8], ctx: &Context, out: &mut Vec<u8>) -> Outcome {
    out.clear();
    if query.len() < HEADER_LEN {
        return Outcome::Drop(DropReason::Unreadable);
    }
    let Ok(header) = Header::read(&mut BinDecoder::new(query)) else {
        return Outcome::Drop(DropReason::Unreadable);
    };
    let h = header.metadata;
    if h.message_type == MessageType::Response {
        return Outcome::Drop(DropReason::Response);
    }
    let cap = ctx.max_udp_payload;
    let message = match Message::from_vec(query) {
        Ok(m) => m,
        Err(e) => {
            log::debug!("query from {} does not parse: {e}", ctx.client);
            // Without a parsed OPT record, the reply goes without one, within 512 bytes.
            let meta = ReplyMeta {
                id: h.id,
                op_code: h.op_code,
                rd: h.recursion_desired,
                cd: h.checking_disabled,
                client_edns: None,
                limit: limit(ctx.transport, None, cap),
                cap,
            };
            let mut m = Message::new(h.id, MessageType::Response, h.op_code);
            m.metadata.response_code = ResponseCode::FormErr;
            m.metadata.recursion_desired = h.recursion_desired;
            return finish(Response::Message(m), &meta, out);
        }
    };
    let meta = meta_for(&message, ctx.transport, cap);
    let request = Request {
        edns_payload: message.edns.as_ref().map(|e| e.max_payload()),
        raw: query,
        client: ctx.client,
        local: ctx.local,
        transport: ctx.transport,
        meta,
        later: ctx.later.clone(),
        message,
    };
    let early = if !handler.accepts(h.op_code) {
        Some(ResponseCode::NotImp)
    } else if request
        .message
        .edns
        .as_ref()
        .is_some_and(|e| e.version() != 0)
    {
        Some(ResponseCode::BADVERS)
    } else if h.op_code == OpCode::Query && request.message.queries.len() != 1 {
        Some(ResponseCode::FormErr)
    } else {
        None
    };
    let response = match early {
        Some(rcode) => Response::Message(request.error(rcode)),
        None => handler.handle(&request),
    };
    finish(response, &meta, out)
}

/// Writes `response` to the request described by `meta` into `out` (see [`answer`]).
pub(crate) fn finish(response: Response, meta: &ReplyMeta, out: &mut Vec<u8>) -> Outcome {
    out.clear();
    match response {
        Response::Message(m) => finish_message(m, meta, out),
        Response::Raw(bytes) => finish_raw(bytes, meta, out),
        Response::Drop => Outcome::Drop(DropReason::Handler),
        Response::Pending => Outcome::Pending,
    }
}

fn encode(m: &Message, out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut enc = BinEncoder::new(out);
    if m.emit(&mut enc).is_err() {
        out.clear();
        return false;
    }
    true
}

fn finish_message(mut m: Message, meta: &ReplyMeta, out: &mut Vec<u8>) -> Outcome {
    m.metadata.id = meta.id;
    m.metadata.message_type = MessageType::Response;
    m.metadata.op_code = meta.op_code;
    m.signature = None;
    match meta.client_edns {
        Some((_, dnssec_ok)) => {
            let mut e = m.edns.take().unwrap_or_default();
            e.set_max_payload(meta.cap);
            e.set_version(0);
            e.set_dnssec_ok(dnssec_ok);
            m.edns = Some(e);
        }
        None => {
            m.edns = None;
            if m.metadata.response_code.high() > 0 {
                // An extended code needs an OPT record to travel in.
                m.metadata.response_code = ResponseCode::ServFail;
            }
        }
    }
    if !encode(&m, out) {
        log::warn!(
            "reply to query {} cannot be encoded: SERVFAIL instead",
            meta.id
        );
        return header_only(meta, ResponseCode::ServFail, false, out);
    }
    if out.len() <= meta.limit {
        // hickory stops at 65535 bytes on its own, setting TC: that is a truncation too.
        let cut = out[2] & 0x02 != 0 && !m.metadata.truncation;
        return Outcome::Reply {
            rcode: m.metadata.response_code,
            truncated: cut,
        };
    }
    truncate(m, meta, out)
}

/// The reply cut to its header, question and OPT record, with TC set.
fn truncate(m: Message, meta: &ReplyMeta, out: &mut Vec<u8>) -> Outcome {
    let rcode = m.metadata.response_code;
    let mut t = Message::new(meta.id, MessageType::Response, meta.op_code);
    t.metadata = m.metadata;
    t.metadata.id = meta.id;
    t.metadata.message_type = MessageType::Response;
    t.metadata.op_code = meta.op_code;
    t.metadata.truncation = true;
    t.queries = m.queries;
    t.edns = m.edns;
    if encode(&t, out) && out.len() <= meta.limit {
        return Outcome::Reply {
            rcode,
            truncated: true,
        };
    }
    header_only(meta, rcode, true, out)
}

/// A reply of a header alone (12 bytes: fits every limit).
fn header_only(meta: &ReplyMeta, rcode: ResponseCode, tc: bool, out: &mut Vec<u8>) -> Outcome {
    let mut m = Message::new(meta.id, MessageType::Response, meta.op_code);
    m.metadata.recursion_desired = meta.rd;
    m.metadata.truncation = tc;
    // Without its OPT record only the low four bits of a code can travel.
    m.metadata.response_code = if rcode.high() > 0 {
        ResponseCode::ServFail
    } else {
        rcode
    };
    if !encode(&m, out) {
        // A bare header always encodes; never leave a half-written reply behind.
        out.clear();
        return Outcome::Drop(DropReason::BadReply);
    }
    Outcome::Reply {
        rcode: m.metadata.response_code,
        truncated: tc,
    }
}

fn finish_raw(mut bytes: Vec<u8>, meta: &ReplyMeta, out: &mut Vec<u8>) -> Outcome {
    if bytes.len() < HEADER_LEN {
        return Outcome::Drop(DropReason::BadReply);
    }
    bytes[..2].copy_from_slice(&meta.id.to_be_bytes());
    bytes[2] |= 0x80;
    let rcode = ResponseCode::from_low(bytes[3] & 0x0f);
    if bytes.len() <= meta.limit {
        out.extend_from_slice(&bytes);
        return Outcome::Reply {
            rcode,
            truncated: false,
        };
    }
    match Message::from_vec(&bytes) {
        Ok(m) => truncate(m, meta, out),
        Err(_) => header_only(meta, rcode, true, out),
    }
}
