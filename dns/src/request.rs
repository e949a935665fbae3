//! What a handler sees and returns: [`Request`], [`Response`], the [`Handler`] trait and the
//! [`Responder`] that answers later.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};

use crate::server::{Inbox, Later, ReplyTo};

/// The transport a query came by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// A UDP datagram: the reply must fit [`Request::reply_limit`] or it is truncated.
    Udp,
    /// A TCP connection (RFC 1035 §4.2.2 framing): replies up to 65535 bytes.
    Tcp,
}

/// What the server decides about a reply before and after the handler: who it is for and
/// how large it may be.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReplyMeta {
    pub id: u16,
    pub op_code: OpCode,
    pub rd: bool,
    pub cd: bool,
    /// The client's OPT record: (payload size, DO bit), if it sent one.
    pub client_edns: Option<(u16, bool)>,
    /// The most bytes the reply may have (512 or the EDNS size on UDP, 65535 on TCP).
    pub limit: usize,
    /// The payload size this server advertises in its OPT records.
    pub cap: u16,
}

/// One query, parsed, with where it came from and where it arrived.
///
/// The server guarantees, before a handler sees a request: the message is a query (QR=0)
/// that hickory parsed whole, its opcode is one the handler accepts
/// ([`Handler::accepts`]), its EDNS version (if any) is 0, and a `QUERY` has exactly one
/// question ([`Request::query`] is then `Some`).
#[derive(Debug)]
pub struct Request<'a> {
    /// The parsed query.
    pub message: Message,
    /// The query's bytes as received (for a forwarder that relays them).
    pub raw: &'a [u8],
    /// The client's address and port.
    pub client: SocketAddr,
    /// The local address and port the query reached (on a wildcard socket, the address the
    /// client sent to).
    pub local: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// The UDP payload size the client advertised in its OPT record (`None` without EDNS);
    /// the raw value: see [`Request::reply_limit`] for what the server applies.
    pub edns_payload: Option<u16>,
    pub(crate) meta: ReplyMeta,
    pub(crate) later: Option<(Arc<Inbox>, ReplyTo)>,
}

impl<'a> Request<'a> {
    /// A request as the server would make it from `message` (for testing handlers without a
    /// server): its limits are computed as the server does, with a 1232-byte EDNS payload of
    /// our own; [`Request::responder`] gives `None`.
    pub fn new(
        message: Message,
        raw: &'a [u8],
        client: SocketAddr,
        local: SocketAddr,
        transport: Transport,
    ) -> Request<'a> {
        let meta = crate::engine::meta_for(&message, transport, crate::DEFAULT_UDP_PAYLOAD);
        Request {
            edns_payload: message.edns.as_ref().map(|e| e.max_payload()),
            message,
            raw,
            client,
            local,
            transport,
            meta,
            later: None,
        }
    }

    /// The question, for a request with exactly one.
    pub fn query(&self) -> Option<&Query> {
        match self.message.queries.as_slice() {
            [q] => Some(q),
            _ => None,
        }
    }

    /// The most bytes the reply may have: on UDP 512 without EDNS, else the client's EDNS
    /// payload size (at least 512) capped by the server's own; 65535 on TCP. A longer reply
    /// is sent truncated (TC set, the question kept).
    pub fn reply_limit(&self) -> usize {
        self.meta.limit
    }

    /// A reply to this request, empty: the query's ID, opcode, RD and CD, QR set, NOERROR,
    /// the question copied. The server adds or removes the OPT record as RFC 6891 says.
    pub fn reply(&self) -> Message {
        let mut m = Message::new(self.meta.id, MessageType::Response, self.meta.op_code);
        m.metadata.recursion_desired = self.meta.rd;
        m.metadata.checking_disabled = self.meta.cd;
        m.queries.clone_from(&self.message.queries);
        m
    }

    /// [`Request::reply`] with response code `rcode`.
    pub fn error(&self, rcode: ResponseCode) -> Message {
        let mut m = self.reply();
        m.metadata.response_code = rcode;
        m
    }

    /// A handle to answer this request later, from any thread (return
    /// [`Response::Pending`] after taking it). `None` when the request did not come
    /// through a running server (see [`Request::new`], [`crate::answer`]).
    pub fn responder(&self) -> Option<Responder> {
        let (inbox, to) = self.later.as_ref()?;
        Some(Responder {
            inbox: inbox.clone(),
            to: *to,
            meta: self.meta,
            client: self.client,
            sent: false,
        })
    }
}

/// What a handler does with a request.
#[derive(Debug)]
pub enum Response {
    /// Send this reply. The server sets its ID, QR and opcode from the query, puts an OPT
    /// record in it exactly when the query had one (RFC 6891; our payload size, the query's
    /// DO bit), and truncates it (TC, question kept) when it exceeds the client's limit.
    Message(Message),
    /// Send these bytes (a relayed upstream reply): only the ID (from the query) and QR are
    /// set; a reply over the client's limit is truncated as above.
    Raw(Vec<u8>),
    /// Send nothing (counted as dropped).
    Drop,
    /// The handler took a [`Responder`] and answers later.
    Pending,
}

/// Answers DNS requests. Called on the server's event-loop thread: a handler that must
/// wait (for an upstream server, say) takes a [`Responder`] and returns
/// [`Response::Pending`] instead of blocking.
pub trait Handler: Send + Sync + 'static {
    /// The response to `request`.
    fn handle(&self, request: &Request<'_>) -> Response;

    /// Whether requests with this opcode reach [`Handler::handle`]; the others get
    /// NOTIMP. Default: `QUERY` only.
    fn accepts(&self, op_code: OpCode) -> bool {
        op_code == OpCode::Query
    }

    /// Whether a TCP connection from `client` is kept; a refused one is closed at once
    /// (counted in `tcp_refused`). Default: every client.
    fn accepts_tcp(&self, client: SocketAddr) -> bool {
        let _ = client;
        true
    }
}

impl<F> Handler for F
where
    F: Fn(&Request<'_>) -> Response + Send + Sync + 'static,
{
    fn handle(&self, request: &Request<'_>) -> Response {
        self(request)
    }
}

/// Answers one request later, from any thread. Sending wakes the server's event loop, which
/// applies the same rules as to an immediate reply ([`Response::Message`]). A UDP reply
/// leaves from the address the query reached; a TCP reply goes on the query's connection if
/// it is still open. Dropping a responder without sending is sending [`Response::Drop`].
#[derive(Debug)]
pub struct Responder {
    inbox: Arc<Inbox>,
    to: ReplyTo,
    meta: ReplyMeta,
    client: SocketAddr,
    sent: bool,
}

impl Responder {
    /// The client this responder answers.
    pub fn client(&self) -> SocketAddr {
        self.client
    }

    /// The ID of the query (the server puts it on the reply).
    pub fn id(&self) -> u16 {
        self.meta.id
    }

    /// Sends the response (`Drop` and `Pending` send nothing and count as dropped).
    pub fn send(mut self, response: Response) {
        self.post(response);
    }

    fn post(&mut self, response: Response) {
        self.sent = true;
        let response = match response {
            Response::Pending => Response::Drop,
            r => r,
        };
        let later = Later {
            to: self.to,
            meta: self.meta,
            response,
        };
        if !self.inbox.post(later) {
            // The server is gone.
            self.inbox.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if !self.sent {
            // The loop still hears of it: a TCP connection stops waiting for this reply.
            self.post(Response::Drop);
        }
    }
}
