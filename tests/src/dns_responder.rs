//! A scripted DNS server for resolver tests: answers from a list of records over UDP and TCP
//! on any ioth stack, truncates UDP answers past a limit, and can misbehave on request
//! (stay silent, send a forged reply first). It counts what it was asked.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use ioth::Stack;
use ioth::net::{TcpListener, UdpSocket};

/// How the responder behaves.
#[derive(Clone, Debug)]
pub struct Script {
    /// The zone's records.
    pub records: Vec<Record>,
    /// Never reply.
    pub silent: bool,
    /// Before each real UDP reply, send one with another id (that a resolver must ignore).
    pub forge_first: bool,
    /// Largest UDP reply before truncation, when the query has no EDNS or offers more.
    pub udp_limit: usize,
    /// Answer every query with this code instead.
    pub rcode: Option<ResponseCode>,
    /// Refuse names not under this suffix (as an authoritative server outside its zones).
    pub only_under: Option<String>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            records: Vec::new(),
            silent: false,
            forge_first: false,
            udp_limit: 4096,
            rcode: None,
            only_under: None,
        }
    }
}

/// One query as the responder saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub name: String,
    pub rtype: RecordType,
    pub tcp: bool,
    pub edns: Option<u16>,
}

/// A running scripted server; stops when dropped.
pub struct Responder {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

pub fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

pub fn a(owner: &str, ttl: u32, ip: [u8; 4]) -> Record {
    Record::from_rdata(name(owner), ttl, RData::A(A(ip.into())))
}

pub fn aaaa(owner: &str, ttl: u32, ip: std::net::Ipv6Addr) -> Record {
    Record::from_rdata(name(owner), ttl, RData::AAAA(AAAA(ip)))
}

pub fn cname(owner: &str, ttl: u32, target: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
}

pub fn mx(owner: &str, ttl: u32, pref: u16, host: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::MX(MX::new(pref, name(host))))
}

pub fn txt(owner: &str, ttl: u32, strings: &[&str]) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::TXT(TXT::new(strings.iter().map(|s| s.to_string()).collect())),
    )
}

/// The SOA the responder puts in negative answers: negative TTL 30 s.
fn soa() -> Record {
    Record::from_rdata(
        name("test."),
        300,
        RData::SOA(SOA::new(
            name("ns.test."),
            name("host.test."),
            1,
            60,
            60,
            600,
            30,
        )),
    )
}

fn answer(script: &Script, query: &Message) -> Message {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_queries(query.queries.clone());
    if query.edns.is_some() {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        reply.set_edns(e);
    }
    if let Some(rcode) = script.rcode {
        reply.metadata.response_code = rcode;
        return reply;
    }
    let Some(q) = query.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    if let Some(suffix) = &script.only_under
        && !q
            .name
            .to_ascii()
            .to_ascii_lowercase()
            .ends_with(suffix.as_str())
    {
        reply.metadata.response_code = ResponseCode::Refused;
        return reply;
    }
    let mut current = q.name.clone();
    for _ in 0..8 {
        let here: Vec<&Record> = script
            .records
            .iter()
            .filter(|r| r.name == current)
            .collect();
        if here.is_empty() {
            if reply.answers.is_empty() {
                reply.metadata.response_code = ResponseCode::NXDomain;
            }
            reply.add_authority(soa());
            return reply;
        }
        let matching: Vec<Record> = here
            .iter()
            .filter(|r| r.record_type() == q.query_type)
            .map(|r| (*r).clone())
            .collect();
        if !matching.is_empty() {
            reply.add_answers(matching);
            return reply;
        }
        match here.iter().find_map(|r| match &r.data {
            RData::CNAME(t) => Some(((*r).clone(), t.0.clone())),
            _ => None,
        }) {
            Some((rec, target)) => {
                reply.add_answer(rec);
                current = target;
            }
            None => {
                reply.add_authority(soa());
                return reply;
            }
        }
    }
    reply
}

/// A UDP socket and a TCP listener on one port: `bind`'s, or (port 0) one free for both. The
/// UDP socket's port can be taken for TCP by another test's connection on a shared (kernel)
/// stack, so a port-0 bind tries again with a new port.
fn bind_pair(stack: &Stack, bind: SocketAddr) -> (UdpSocket, TcpListener) {
    let mut tries = 0;
    loop {
        let udp = UdpSocket::bind_on(stack, bind).expect("UDP bind");
        let addr = udp.local_addr().expect("UDP address");
        match TcpListener::bind_on(stack, addr) {
            Ok(tcp) => return (udp, tcp),
            Err(e)
                if bind.port() == 0 && e.kind() == std::io::ErrorKind::AddrInUse && tries < 20 =>
            {
                tries += 1;
            }
            Err(e) => panic!("TCP bind {addr}: {e}"),
        }
    }
}

impl Responder {
    /// Serves `script` on `bind` (port 0: any) over UDP and TCP of `stack`.
    pub fn start(stack: &Stack, bind: SocketAddr, script: Script) -> Responder {
        let (udp, tcp) = bind_pair(stack, bind);
        let addr = udp.local_addr().expect("UDP address");
        tcp.set_nonblocking(true).unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script = Arc::new(script);
        let mut threads = Vec::new();
        {
            let (seen, stop, script) = (seen.clone(), stop.clone(), script.clone());
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 65535];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = udp.recv_from(&mut buf) else {
                        continue;
                    };
                    let Ok(query) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    record(&seen, &query, false);
                    if script.silent {
                        continue;
                    }
                    let reply = answer(&script, &query);
                    let mut bytes = reply.to_vec().unwrap();
                    let limit = match &query.edns {
                        Some(e) => usize::from(e.max_payload()).min(script.udp_limit),
                        None => 512.min(script.udp_limit),
                    };
                    if bytes.len() > limit {
                        bytes = reply.truncate().to_vec().unwrap();
                    }
                    if script.forge_first {
                        let mut forged = reply.clone();
                        forged.metadata.id = reply.metadata.id.wrapping_add(1);
                        forged.answers.clear();
                        forged.metadata.response_code = ResponseCode::NXDomain;
                        let _ = udp.send_to(&forged.to_vec().unwrap(), from);
                    }
                    let _ = udp.send_to(&bytes, from);
                }
            }));
        }
        {
            let (seen, stop, script) = (seen.clone(), stop.clone(), script.clone());
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((mut conn, _)) = tcp.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    let _ = conn.set_nonblocking(false);
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                    let (seen, script) = (seen.clone(), script.clone());
                    std::thread::spawn(move || {
                        loop {
                            let mut len = [0u8; 2];
                            if conn.read_exact(&mut len).is_err() {
                                return;
                            }
                            let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
                            if conn.read_exact(&mut msg).is_err() {
                                return;
                            }
                            let Ok(query) = Message::from_vec(&msg) else {
                                return;
                            };
                            record(&seen, &query, true);
                            if script.silent {
                                continue;
                            }
                            let bytes = answer(&script, &query).to_vec().unwrap();
                            let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
                            out.extend_from_slice(&bytes);
                            if conn.write_all(&out).is_err() {
                                return;
                            }
                        }
                    });
                }
            }));
        }
        Responder {
            addr,
            seen,
            stop,
            threads,
        }
    }

    /// Every query received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many queries were received.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn record(seen: &Mutex<Vec<Seen>>, query: &Message, tcp: bool) {
    if query.metadata.message_type != MessageType::Query {
        return;
    }
    if let Some(q) = query.queries.first() {
        seen.lock().unwrap().push(Seen {
            name: q.name.to_ascii(),
            rtype: q.query_type,
            tcp,
            edns: query.edns.as_ref().map(|e| e.max_payload()),
        });
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
