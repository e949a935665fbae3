//! DNS clients for tests over ioth sockets: queries as dig sends them, one UDP exchange,
//! framed TCP.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};
use ioth::Stack;
use ioth::net::TcpStream;

/// How long a client waits for a reply.
pub const WAIT: Duration = Duration::from_secs(5);

/// A query for `name`/`ty` with id `id`, RD set, and an OPT record of payload `edns` if given.
pub fn query(id: u16, name: &str, ty: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), ty));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

/// One UDP query from `client` (an address of `stack`) to `server`: the reply and where it
/// came from.
pub fn udp_ask(
    stack: &Stack,
    client: SocketAddr,
    server: SocketAddr,
    q: &[u8],
) -> (Message, SocketAddr) {
    let sock = stack.udp_bind(client).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    sock.send_to(q, server).unwrap();
    let mut buf = [0u8; 65535];
    let (n, from) = sock.recv_from(&mut buf).expect("a UDP reply in time");
    (Message::from_vec(&buf[..n]).unwrap(), from)
}

/// Writes framed queries, all at once.
pub fn tcp_send(stream: &mut TcpStream, queries: &[Vec<u8>]) {
    let mut bytes = Vec::new();
    for q in queries {
        bytes.extend_from_slice(&u16::try_from(q.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(q);
    }
    stream.write_all(&bytes).unwrap();
}

/// Reads one framed reply.
pub fn tcp_read(stream: &mut TcpStream) -> Message {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).expect("a TCP reply in time");
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).unwrap();
    Message::from_vec(&buf).unwrap()
}

/// A TCP connection to `server` with read timeouts of [`WAIT`].
pub fn tcp_connect(stack: &Stack, server: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout_on(stack, &server, WAIT).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

/// The IPv4 addresses of the A records of a reply.
pub fn a_records(m: &Message) -> Vec<std::net::Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}
