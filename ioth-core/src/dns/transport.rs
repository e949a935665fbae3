//! Asking one server over a stack's own sockets: several questions at once over UDP (one
//! socket, so one random source port, per question), or one question over TCP (RFC 7766's
//! two-byte framing). Only replies from the server's address and port, with the query's id
//! and question, are accepted (RFC 5452); others are ignored and the wait goes on.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Instant;

use hickory_proto::op::Message;

use super::error::ServerFailure;
use super::message::{Mismatch, Question, accept_reply, encode_query};
use crate::error::errno;
use crate::socket::Socket;
use crate::stack::Stack;
use crate::sys::poll_until;

/// Largest reply read over UDP: a datagram of any size a server may send.
const UDP_BUFFER: usize = 65_535;
/// `SO_SNDBUF` of a query's socket: room for the query (at most a few hundred bytes).
const QUERY_SNDBUF: libc::c_int = 4096;
/// `SO_RCVBUF` of a query's socket: room for the largest datagram.
const REPLY_RCVBUF: libc::c_int = 65_536;

fn socket(stack: &Stack, server: &SocketAddr, ty: libc::c_int) -> io::Result<Socket> {
    let domain = if server.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    stack.socket(domain, ty | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0)
}

fn canonical(addr: SocketAddr) -> (IpAddr, u16) {
    (addr.ip().to_canonical(), addr.port())
}

fn random_id() -> u16 {
    hickory_proto::op::Message::query().metadata.id
}

/// One outstanding UDP query.
struct Pending {
    /// None when the query could not even be sent (its result says why).
    socket: Option<Socket>,
    id: u16,
    result: Option<Result<Message, ServerFailure>>,
}

/// Asks `server` every question in `questions` over UDP at once and waits until `deadline`.
/// Each result is the accepted reply, or why there is none (timeout, the stack's error).
pub fn udp(
    stack: &Stack,
    server: SocketAddr,
    questions: &[Question],
    edns_payload: Option<u16>,
    deadline: Instant,
) -> Vec<Result<Message, ServerFailure>> {
    let started = Instant::now();
    let mut pending: Vec<Pending> = questions
        .iter()
        .map(|q| {
            let id = random_id();
            let bytes = encode_query(id, q, edns_payload);
            let open = || -> io::Result<Socket> {
                let s = socket(stack, &server, libc::SOCK_DGRAM)?;
                // One query out, one reply (at most 64 KiB) in: small buffers make a socket
                // per query cheap (a user-space stack allocates what the options ask).
                let _ = s.set_option(libc::SOL_SOCKET, libc::SO_SNDBUF, QUERY_SNDBUF);
                let _ = s.set_option(libc::SOL_SOCKET, libc::SO_RCVBUF, REPLY_RCVBUF);
                s.connect(&server.into())?;
                s.send(&bytes, 0)?;
                Ok(s)
            };
            match open() {
                Ok(socket) => Pending {
                    socket: Some(socket),
                    id,
                    result: None,
                },
                Err(e) => Pending {
                    socket: None,
                    id,
                    result: Some(Err(ServerFailure::Io(e))),
                },
            }
        })
        .collect();
    let mut buf = vec![0u8; UDP_BUFFER];
    loop {
        let waiting: Vec<usize> = (0..pending.len())
            .filter(|&i| pending[i].result.is_none() && pending[i].socket.is_some())
            .collect();
        if waiting.is_empty() {
            break;
        }
        let mut fds: Vec<libc::pollfd> = waiting
            .iter()
            .filter_map(|&i| pending[i].socket.as_ref())
            .map(|s| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ready = match poll_until(&mut fds, Some(deadline)) {
            Ok(n) => n,
            Err(e) => {
                for &i in &waiting {
                    let e = io::Error::new(e.kind(), e.to_string());
                    pending[i].result = Some(Err(ServerFailure::Io(e)));
                }
                break;
            }
        };
        if ready == 0 {
            break;
        }
        for (slot, fd) in waiting.iter().zip(&fds) {
            if fd.revents == 0 {
                continue;
            }
            let p = &mut pending[*slot];
            let Some(socket) = p.socket.as_ref() else {
                continue;
            };
            let question = &questions[*slot];
            loop {
                match socket.recv_from(&mut buf, libc::MSG_DONTWAIT) {
                    Ok((n, from)) => {
                        let from = from.and_then(|a| a.as_socket());
                        if from.map(canonical) != Some(canonical(server)) {
                            log::debug!("dns: reply from {from:?}, not {server}: ignored");
                            continue;
                        }
                        match accept_reply(&buf[..n], p.id, question) {
                            Ok(msg) => {
                                p.result = Some(Ok(msg));
                                break;
                            }
                            Err(Mismatch::Malformed(e)) => {
                                log::debug!("dns: malformed reply from {server}: {e}");
                            }
                            Err(m) => log::debug!("dns: reply from {server} ignored: {m:?}"),
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        p.result = Some(Err(ServerFailure::Io(e)));
                        break;
                    }
                }
            }
        }
    }
    let waited = started.elapsed();
    pending
        .into_iter()
        .map(|p| match p.result {
            Some(r) => r,
            None => Err(ServerFailure::Timeout(waited)),
        })
        .collect()
}

/// Waits until `socket` is ready for `events`, or `deadline`.
fn wait(socket: &Socket, events: libc::c_short, deadline: Instant) -> io::Result<()> {
    let mut fd = [libc::pollfd {
        fd: socket.as_raw_fd(),
        events,
        revents: 0,
    }];
    if poll_until(&mut fd, Some(deadline))? == 0 {
        return Err(errno(libc::ETIMEDOUT));
    }
    Ok(())
}

fn tcp_exchange(
    stack: &Stack,
    server: SocketAddr,
    question: &Question,
    edns_payload: Option<u16>,
    deadline: Instant,
) -> io::Result<Result<Message, Mismatch>> {
    let socket = socket(stack, &server, libc::SOCK_STREAM)?;
    match socket.connect(&server.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            wait(&socket, libc::POLLOUT, deadline)?;
            if let Some(e) = socket.take_error()? {
                return Err(e);
            }
        }
        Err(e) => return Err(e),
    }
    let id = random_id();
    let query = encode_query(id, question, edns_payload);
    let len = u16::try_from(query.len()).map_err(|_| errno(libc::EMSGSIZE))?;
    let mut out = Vec::with_capacity(query.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&query);
    let mut sent = 0;
    while sent < out.len() {
        match socket.send(&out[sent..], 0) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait(&socket, libc::POLLOUT, deadline)?
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let read_exact = |buf: &mut [u8]| -> io::Result<()> {
        let mut got = 0;
        while got < buf.len() {
            match socket.recv(&mut buf[got..], 0) {
                Ok(0) => return Err(errno(libc::ECONNRESET)),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait(&socket, libc::POLLIN, deadline)?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    };
    let mut len = [0u8; 2];
    read_exact(&mut len)?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    read_exact(&mut reply)?;
    Ok(accept_reply(&reply, id, question))
}

/// Asks `server` one question over TCP, waiting until `deadline`.
pub fn tcp(
    stack: &Stack,
    server: SocketAddr,
    question: &Question,
    edns_payload: Option<u16>,
    deadline: Instant,
) -> Result<Message, ServerFailure> {
    let started = Instant::now();
    match tcp_exchange(stack, server, question, edns_payload, deadline) {
        Ok(Ok(msg)) => Ok(msg),
        Ok(Err(m)) => Err(ServerFailure::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the TCP reply does not match the query: {m:?}"),
        ))),
        Err(e) if e.raw_os_error() == Some(libc::ETIMEDOUT) => {
            Err(ServerFailure::Timeout(started.elapsed()))
        }
        Err(e) => Err(ServerFailure::Io(e)),
    }
}
