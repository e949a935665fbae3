//! A simulated network for engine tests: two engines joined by a wire with a rate, a queue,
//! delay, and loss/duplication/reordering chosen per direction, under a clock the test
//! moves. Deterministic for a seed.

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ioth_tcp::wire::Segment;
use ioth_tcp::{Config, ConnId, Engine, Error, Event, Instant, ListenerId, SockOpts};

/// xorshift64*: a small deterministic generator.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// What one direction of the wire does to packets.
#[derive(Clone, Debug)]
pub struct Impair {
    pub loss: f64,
    pub dup: f64,
    pub reorder: f64,
    /// One-way delay.
    pub delay: Duration,
    /// Extra delay a reordered packet gets.
    pub reorder_delay: Duration,
    /// Bytes per second (0: unlimited).
    pub rate: u64,
    /// Bytes the bottleneck queue holds (drop-tail beyond).
    pub queue: usize,
}

impl Default for Impair {
    fn default() -> Impair {
        Impair {
            loss: 0.0,
            dup: 0.0,
            reorder: 0.0,
            delay: Duration::from_micros(100),
            reorder_delay: Duration::from_millis(1),
            rate: 125_000_000, // 1 Gbit/s
            queue: 4 * 1024 * 1024,
        }
    }
}

/// A filter a test installs on one direction: true drops the segment.
pub type Filter = Box<dyn FnMut(&Segment<'_>, Instant) -> bool>;

struct InFlight {
    at: Instant,
    n: u64,
    src: IpAddr,
    dst: IpAddr,
    bytes: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.n) == (o.at, o.n)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for InFlight {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.n).cmp(&(o.at, o.n))
    }
}

pub struct Link {
    pub impair: Impair,
    pub filter: Option<Filter>,
    queue: BinaryHeap<Reverse<InFlight>>,
    /// When the bottleneck finishes sending what it holds.
    busy_until: Instant,
    pub delivered: u64,
    pub dropped: u64,
    /// Segments dropped for not fitting the MTU (IPv4: 20 bytes of header), as a real link
    /// drops them.
    pub oversized: u64,
}

impl Link {
    fn new(impair: Impair) -> Link {
        Link {
            impair,
            filter: None,
            queue: BinaryHeap::new(),
            busy_until: Instant::ZERO,
            delivered: 0,
            dropped: 0,
            oversized: 0,
        }
    }
}

pub const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
pub const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
pub const MTU: usize = 1500;

/// Two engines, A and B, on one wire.
pub struct Net {
    pub now: Instant,
    pub a: Engine,
    pub b: Engine,
    /// [A -> B, B -> A].
    pub links: [Link; 2],
    pub rng: Rng,
    n: u64,
    pub events_a: Vec<Event>,
    pub events_b: Vec<Event>,
    /// Segments each engine emitted: [A, B].
    pub sent: [u64; 2],
}

pub fn config(seed: u8) -> Config {
    Config {
        secret: [seed; 32],
        ..Config::default()
    }
}

impl Net {
    pub fn new(seed: u64, ab: Impair, ba: Impair) -> Net {
        Net::with_configs(seed, config(1), config(2), ab, ba)
    }

    pub fn with_configs(seed: u64, ca: Config, cb: Config, ab: Impair, ba: Impair) -> Net {
        Net {
            now: Instant::from_millis(1_000),
            a: Engine::new(ca),
            b: Engine::new(cb),
            links: [Link::new(ab), Link::new(ba)],
            rng: Rng::new(seed),
            n: 0,
            events_a: Vec::new(),
            events_b: Vec::new(),
            sent: [0, 0],
        }
    }

    pub fn clean() -> Net {
        Net::new(1, Impair::default(), Impair::default())
    }

    fn transmit(&mut self, dir: usize, src: IpAddr, dst: IpAddr, bytes: &[u8]) {
        let now = self.now;
        let link = &mut self.links[dir];
        if bytes.len() + 20 > MTU {
            link.oversized += 1;
            return;
        }
        if let Some(f) = link.filter.as_mut()
            && let Ok(seg) = Segment::parse(bytes)
            && f(&seg, now)
        {
            link.dropped += 1;
            return;
        }
        let imp = link.impair.clone();
        if self.rng.chance(imp.loss) {
            link.dropped += 1;
            return;
        }
        // The bottleneck: serialization at `rate`, drop-tail past `queue` bytes.
        let start = link.busy_until.max(now);
        let tx_time = ((bytes.len() as u64 + 40) * 1_000_000_000)
            .checked_div(imp.rate)
            .map_or(Duration::ZERO, Duration::from_nanos);
        let backlog = start.since(now).as_nanos() as u64 * imp.rate / 1_000_000_000;
        if imp.rate != 0 && backlog as usize > imp.queue {
            link.dropped += 1;
            return;
        }
        link.busy_until = start + tx_time;
        let mut at = link.busy_until + imp.delay;
        if self.rng.chance(imp.reorder) {
            at = at + imp.reorder_delay;
        }
        let copies = if self.rng.chance(imp.dup) { 2 } else { 1 };
        for _ in 0..copies {
            self.n += 1;
            link.queue.push(Reverse(InFlight {
                at,
                n: self.n,
                src,
                dst,
                bytes: bytes.to_vec(),
            }));
        }
    }

    /// Polls both engines and puts what they emit on the wire.
    pub fn poll(&mut self) {
        let now = self.now;
        let mut out: Vec<(IpAddr, IpAddr, Vec<u8>)> = Vec::new();
        self.a.poll(now, &mut |o| {
            out.push((o.src, o.dst, o.segment.to_vec()));
            true
        });
        self.sent[0] += out.len() as u64;
        for (s, d, b) in out.drain(..) {
            self.transmit(0, s, d, &b);
        }
        self.b.poll(now, &mut |o| {
            out.push((o.src, o.dst, o.segment.to_vec()));
            true
        });
        self.sent[1] += out.len() as u64;
        for (s, d, b) in out.drain(..) {
            self.transmit(1, s, d, &b);
        }
        self.a.take_events(&mut self.events_a);
        self.b.take_events(&mut self.events_b);
    }

    /// Delivers what is due, polls, and moves the clock to the next thing that happens (at
    /// most `max_step`). False when nothing will ever happen again.
    pub fn step(&mut self, max_step: Duration) -> bool {
        self.poll();
        let now = self.now;
        for dir in 0..2 {
            while let Some(Reverse(p)) = self.links[dir].queue.peek() {
                if p.at > now {
                    break;
                }
                let Some(Reverse(p)) = self.links[dir].queue.pop() else {
                    break;
                };
                self.links[dir].delivered += 1;
                let e = if dir == 0 { &mut self.b } else { &mut self.a };
                e.input(now, p.src, p.dst, &p.bytes, MTU, true);
            }
        }
        self.poll();
        let mut next = self.a.next_deadline().min(self.b.next_deadline());
        for l in &self.links {
            if let Some(Reverse(p)) = l.queue.peek() {
                next = next.min(p.at);
            }
        }
        if next == Instant::NEVER {
            self.now = self.now + max_step;
            return false;
        }
        let next = next.max(self.now).min(self.now + max_step);
        if next == self.now {
            // Work queued for now: go on without moving time (bounded by the caller's loop).
            return true;
        }
        self.now = next;
        true
    }

    /// Runs until `done` holds or `limit` of simulated time passes; the time it took.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut Net) -> bool,
    ) -> Option<Duration> {
        let start = self.now;
        let mut idle_steps = 0u32;
        while self.now.since(start) < limit {
            if done(self) {
                return Some(self.now.since(start));
            }
            let before = self.now;
            self.step(Duration::from_millis(50));
            if self.now == before {
                idle_steps += 1;
                assert!(
                    idle_steps < 100_000,
                    "the engines spin without time passing"
                );
            } else {
                idle_steps = 0;
            }
        }
        if done(self) {
            Some(self.now.since(start))
        } else {
            None
        }
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        let _ = self.run_until(d + Duration::from_micros(1), |n| n.now >= end);
    }

    /// A listener on B:80 and a connection from A:40000, established; (client, server).
    pub fn connected(&mut self, opts: &SockOpts) -> (ConnId, ConnId, ListenerId) {
        let l = self
            .b
            .listen(SocketAddr::new(B, 80), 128, false, opts, 1000)
            .unwrap();
        let c = self
            .a
            .connect(
                self.now,
                SocketAddr::new(A, 40000),
                SocketAddr::new(B, 80),
                MTU,
                opts,
                1,
            )
            .unwrap();
        let mut s = None;
        let ok = self.run_until(Duration::from_secs(130), |n| {
            if s.is_none()
                && let Ok(id) = n.b.accept(n.now, l, 2)
            {
                s = Some(id);
            }
            s.is_some() && n.a.status(c).is_ok_and(|st| st.established)
        });
        assert!(ok.is_some(), "handshake did not complete");
        (c, s.unwrap(), l)
    }

    /// Sends `data` from A's `c` to B's `s`, reading as it comes; the bytes B read and the
    /// simulated time it took (None: not done within `limit`).
    pub fn transfer(
        &mut self,
        c: ConnId,
        s: ConnId,
        data: &[u8],
        limit: Duration,
    ) -> (Vec<u8>, Option<Duration>) {
        let mut sent = 0usize;
        let mut got = Vec::with_capacity(data.len());
        let mut buf = vec![0u8; 256 * 1024];
        let t = self.run_until(limit, |n| {
            while sent < data.len() {
                match n.a.send(n.now, c, &data[sent..]) {
                    Ok(k) => sent += k,
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("send: {e:?}"),
                }
            }
            loop {
                match n.b.recv(n.now, s, &mut buf, false) {
                    Ok(0) => break,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("recv: {e:?}"),
                }
            }
            got.len() >= data.len()
        });
        (got, t)
    }
}

/// `n` bytes of a recognisable pattern.
pub fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.next() as u8).collect()
}

pub fn addr(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}
