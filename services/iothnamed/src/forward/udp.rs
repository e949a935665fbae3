//! The UDP half of forwarding: one event-loop thread relaying queries to the upstream
//! servers and their replies back, with failover and fresh source ports ([`super::ports`]).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use hickory_proto::op::{Message, ResponseCode};
use mio::{Events, Poll, Token};

use super::ports::Ports;
use super::{Job, Shared, UDP_TRY, answers};
use crate::forward::MAX_PENDING;

/// Tokens of the sockets start here (0 is the waker).
const FIRST_PORT: usize = 1;

struct Pending {
    job: Job,
    upstream: SocketAddr,
    /// The socket the query went out on: the reply must come back on it.
    port: Token,
    server: usize,
    tries: usize,
    deadline: Instant,
}

pub(crate) struct UdpRelay {
    poll: Poll,
    rx: mpsc::Receiver<Job>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    /// The servers the sockets are for.
    servers: Vec<SocketAddr>,
    ports: Ports,
    pending: HashMap<u16, Pending>,
    buf: Box<[u8]>,
}

impl UdpRelay {
    pub(crate) fn new(
        poll: Poll,
        rx: mpsc::Receiver<Job>,
        shared: Arc<Shared>,
        stop: Arc<AtomicBool>,
    ) -> UdpRelay {
        UdpRelay {
            poll,
            rx,
            shared,
            stop,
            servers: Vec::new(),
            ports: Ports::new(FIRST_PORT),
            pending: HashMap::new(),
            buf: vec![0u8; 65535].into_boxed_slice(),
        }
    }

    /// Follows the configuration's server list (a reload may change it): queries waiting
    /// for servers that are gone fail.
    fn sync_servers(&mut self) {
        let servers = self.shared.servers();
        if servers == self.servers {
            return;
        }
        for (_, p) in self.pending.drain() {
            self.shared.servfail(p.job);
        }
        self.ports.reset(self.poll.registry(), servers.len());
        self.servers = servers;
    }

    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(64);
        while !self.stop.load(Ordering::Acquire) {
            let timeout = self
                .pending
                .values()
                .map(|p| p.deadline)
                .min()
                .map(|d| d.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                log::error!("forwarding loop: {e}");
                return;
            }
            let ready: Vec<Token> = events
                .iter()
                .map(|e| e.token())
                .filter(|t| t.0 >= FIRST_PORT)
                .collect();
            for token in ready {
                self.receive(token);
            }
            while let Ok(job) = self.rx.try_recv() {
                self.start(job);
            }
            self.expire();
        }
        for (_, p) in self.pending.drain() {
            self.shared.servfail(p.job);
        }
    }

    fn start(&mut self, job: Job) {
        self.sync_servers();
        if self.servers.is_empty() || self.pending.len() >= MAX_PENDING {
            if !self.servers.is_empty() {
                log::warn!("{MAX_PENDING} queries already waiting for upstream: SERVFAIL");
            }
            self.shared.servfail(job);
            return;
        }
        let first = self.shared.first_server(self.servers.len());
        self.send(job, first, 0);
    }

    /// Sends `job` to server `index` (its `tries`-th try), or fails it when the tries are
    /// used up (every server twice).
    fn send(&mut self, mut job: Job, index: usize, tries: usize) {
        let n = self.servers.len();
        let mut index = index;
        let mut tries = tries;
        while n > 0 && tries < 2 * n {
            let upstream = self.servers[index % n];
            let id = loop {
                let id = Message::query().metadata.id;
                if !self.pending.contains_key(&id) {
                    break id;
                }
            };
            if job.raw.len() >= 2 {
                job.raw[..2].copy_from_slice(&id.to_be_bytes());
            }
            let sent = self.ports.send(
                self.poll.registry(),
                &self.shared.stack,
                index % n,
                upstream,
                &job.raw,
            );
            self.shared.stats.sent.fetch_add(1, Ordering::Relaxed);
            match sent {
                Ok(port) => {
                    self.pending.insert(
                        id,
                        Pending {
                            job,
                            upstream,
                            port,
                            server: index % n,
                            tries: tries + 1,
                            deadline: Instant::now() + UDP_TRY,
                        },
                    );
                    return;
                }
                Err(e) => {
                    log::debug!("{upstream}: cannot forward: {e}");
                    self.shared.stats.failovers.fetch_add(1, Ordering::Relaxed);
                    index += 1;
                    tries += 1;
                }
            }
        }
        self.shared.servfail(job);
    }

    fn receive(&mut self, token: Token) {
        loop {
            let Some(sock) = self.ports.socket(token) else {
                return;
            };
            let (len, from) = match sock.recv_from(&mut self.buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("forwarding socket: {e}");
                    return;
                }
            };
            if len < 12 {
                continue;
            }
            let id = u16::from_be_bytes([self.buf[0], self.buf[1]]);
            let from = SocketAddr::new(from.ip().to_canonical(), from.port());
            // RFC 5452: the ID, the server it went to and the socket it left by.
            let matches = self.pending.get(&id).is_some_and(|p| {
                p.port == token
                    && p.upstream.ip().to_canonical() == from.ip()
                    && p.upstream.port() == from.port()
            });
            if !matches {
                log::debug!("{from}: unexpected reply (id {id}): dropped");
                continue;
            }
            let reply = self.buf[..len].to_vec();
            let parsed = Message::from_vec(&reply).ok();
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            let Some(parsed) = parsed.filter(|m| answers(m, &p.job.query)) else {
                // Not an answer to this question (RFC 5452): keep waiting for one.
                log::debug!("{from}: reply with another question: dropped");
                self.pending.insert(id, p);
                continue;
            };
            self.ports.done(p.port);
            let rcode = parsed.metadata.response_code;
            if matches!(rcode, ResponseCode::ServFail | ResponseCode::Refused)
                && p.tries < 2 * self.servers.len()
            {
                self.shared.stats.failovers.fetch_add(1, Ordering::Relaxed);
                self.send(p.job, p.server + 1, p.tries);
                continue;
            }
            self.shared.relay(p.job, reply, Some(&parsed));
        }
    }

    fn expire(&mut self) {
        let now = Instant::now();
        let late: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some(p) = self.pending.remove(&id) {
                log::debug!("{}: no answer in {UDP_TRY:?}", p.upstream);
                self.ports.done(p.port);
                self.shared.stats.failovers.fetch_add(1, Ordering::Relaxed);
                self.send(p.job, p.server + 1, p.tries);
            }
        }
    }
}
