//! Arbitrary bytes as TCP segments arriving at an engine that has a listener and an open
//! connection (what anyone on the link may send): nothing may panic, parsing what parses
//! must emit back to the same header, and the engine must keep going (polls and timers) and
//! still move data on its connection afterwards.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ioth_tcp::wire::Segment;
use ioth_tcp::{Config, Engine, Instant, SockOpts};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

fn exchange(now: Instant, a: &mut Engine, b: &mut Engine) {
    for _ in 0..8 {
        let mut ab = Vec::new();
        a.poll(now, &mut |o| {
            ab.push(o.segment.to_vec());
            true
        });
        for s in &ab {
            b.input(now, A, B, s, 1500, true);
        }
        let mut ba = Vec::new();
        b.poll(now, &mut |o| {
            ba.push(o.segment.to_vec());
            true
        });
        for s in &ba {
            a.input(now, B, A, s, 1500, true);
        }
        if ab.is_empty() && ba.is_empty() {
            break;
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(seg) = Segment::parse(data) {
        let mut buf = [0u8; 64];
        if let Ok(n) = seg.header.emit(&mut buf) {
            let again = Segment::parse(&buf[..n]).expect("an emitted header parses");
            assert_eq!(again.header.flags, seg.header.flags);
            assert_eq!(again.header.seq, seg.header.seq);
        }
    }
    let cfg = |s: u8| Config {
        secret: [s; 32],
        ..Config::default()
    };
    let mut a = Engine::new(cfg(1));
    let mut b = Engine::new(cfg(2));
    let mut now = Instant::from_millis(1000);
    let opts = SockOpts::default();
    let l = b
        .listen(SocketAddr::new(B, 80), 16, false, &opts, 1)
        .expect("listen");
    let c = a
        .connect(now, SocketAddr::new(A, 40000), SocketAddr::new(B, 80), 1500, &opts, 2)
        .expect("connect");
    exchange(now, &mut a, &mut b);
    let s = b.accept(now, l, 3).expect("accepted");
    // The fuzzer's segments, split at 0xFF bytes, to the server (raw, without checksum
    // checks so that they reach the state machine) and to the client.
    for (i, chunk) in data.split(|&x| x == 0xff).enumerate() {
        if i % 2 == 0 {
            b.input(now, A, B, chunk, 1500, false);
        } else {
            a.input(now, B, A, chunk, 1500, false);
        }
        exchange(now, &mut a, &mut b);
        now = now + Duration::from_millis(u64::from(chunk.first().copied().unwrap_or(1)));
    }
    for _ in 0..4 {
        let at = a.next_deadline().min(b.next_deadline());
        if at == Instant::NEVER {
            break;
        }
        now = now.max(at);
        exchange(now, &mut a, &mut b);
    }
    // Whatever happened, the calls keep answering.
    let _ = a.send(now, c, b"after");
    let _ = a.status(c);
    let _ = b.status(s);
    let mut buf = [0u8; 64];
    let _ = b.recv(now, s, &mut buf, false);
    let _ = b.info(now, s);
});
