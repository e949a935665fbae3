//! `udp_rtt` (ping-pong latency) and `udp_pps` (one-way 64-byte datagrams per second) between
//! two smoltcp stacks on the in-process hub, against the kernel on 127.0.0.1.

use std::io;
use std::net::{SocketAddr, UdpSocket as KernelUdp};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Ctx;
use crate::fixture::{A_IP, B_IP, Pair};
use crate::report::{Better, Row, Samples};

/// Datagram payload of both rows.
const PAYLOAD: usize = 64;

/// What the two socket types share.
pub(crate) trait Dgram: Send + 'static {
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize>;
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()>;
}

impl Dgram for KernelUdp {
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        KernelUdp::send_to(self, buf, to)
    }
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        KernelUdp::recv_from(self, buf)
    }
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        KernelUdp::set_read_timeout(self, t)
    }
}

impl Dgram for ioth::net::UdpSocket {
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        ioth::net::UdpSocket::send_to(self, buf, to)
    }
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        ioth::net::UdpSocket::recv_from(self, buf)
    }
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        ioth::net::UdpSocket::set_read_timeout(self, t)
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Percentile `p` (0..=100) of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Ping-pong for `secs` after a warm-up; returns (p50, p99) in µs and the number of exchanges.
fn ping_pong<S: Dgram>(
    server: S,
    client: S,
    to: SocketAddr,
    secs: f64,
) -> io::Result<(f64, f64, usize)> {
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    server.set_read_timeout(Some(Duration::from_millis(50)))?;
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !st.load(Ordering::Relaxed) {
            match server.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let _ = server.send_to(&buf[..n], from);
                }
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
    });
    client.set_read_timeout(Some(Duration::from_secs(1)))?;
    let msg = [0x42u8; PAYLOAD];
    let mut buf = [0u8; 2048];
    let mut rtts = Vec::with_capacity(200_000);
    let warm = Duration::from_secs_f64((secs * 0.15).max(0.05));
    let start = Instant::now();
    let mut measure_from: Option<Instant> = None;
    let mut lost = 0u32;
    let result = loop {
        let t = Instant::now();
        client.send_to(&msg, to)?;
        match client.recv_from(&mut buf) {
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {
                lost += 1;
                if lost > 3 {
                    break Err(io::Error::other("echo replies lost"));
                }
                continue;
            }
            Err(e) => break Err(e),
        }
        let rtt = t.elapsed();
        match measure_from {
            None if start.elapsed() >= warm => measure_from = Some(Instant::now()),
            None => {}
            Some(m) => {
                rtts.push(rtt.as_secs_f64() * 1e6);
                if m.elapsed().as_secs_f64() >= secs {
                    break Ok(());
                }
            }
        }
    };
    stop.store(true, Ordering::Relaxed);
    let _ = echo.join();
    result?;
    rtts.sort_by(f64::total_cmp);
    Ok((percentile(&rtts, 50.0), percentile(&rtts, 99.0), rtts.len()))
}

/// One-way datagrams for `secs` after a warm-up; returns (received/s, sent/s).
pub(crate) fn one_way<S: Dgram>(
    receiver: S,
    sender: S,
    to: SocketAddr,
    secs: f64,
) -> io::Result<(f64, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let got = Arc::new(AtomicU64::new(0));
    let (st, g) = (stop.clone(), got.clone());
    receiver.set_read_timeout(Some(Duration::from_millis(50)))?;
    let rx = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !st.load(Ordering::Relaxed) {
            match receiver.recv_from(&mut buf) {
                Ok(_) => {
                    g.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
    });
    let msg = [0x42u8; PAYLOAD];
    let warm = Duration::from_secs_f64((secs * 0.15).max(0.05));
    let start = Instant::now();
    let mut sent = 0u64;
    let mut mark: Option<(Instant, u64, u64)> = None;
    let result = loop {
        for _ in 0..32 {
            if let Err(e) = sender.send_to(&msg, to) {
                // A full kernel socket buffer is not an error of the measurement.
                if e.raw_os_error() != Some(libc::ENOBUFS) {
                    stop.store(true, Ordering::Relaxed);
                    let _ = rx.join();
                    return Err(e);
                }
            }
            sent += 1;
        }
        match mark {
            None if start.elapsed() >= warm => {
                mark = Some((Instant::now(), got.load(Ordering::Relaxed), sent));
            }
            None => {}
            Some((t0, g0, s0)) => {
                let el = t0.elapsed().as_secs_f64();
                if el >= secs {
                    let g1 = got.load(Ordering::Relaxed);
                    break ((g1 - g0) as f64 / el, (sent - s0) as f64 / el);
                }
            }
        }
    };
    stop.store(true, Ordering::Relaxed);
    let _ = rx.join();
    Ok(result)
}

fn kernel_pair() -> io::Result<(KernelUdp, KernelUdp, SocketAddr)> {
    let a = KernelUdp::bind("127.0.0.1:0")?;
    let b = KernelUdp::bind("127.0.0.1:0")?;
    let to = a.local_addr()?;
    Ok((a, b, to))
}

pub(crate) fn our_pair(
    port: u16,
) -> io::Result<(ioth::net::UdpSocket, ioth::net::UdpSocket, SocketAddr, Pair)> {
    let pair = Pair::new()?;
    let to = SocketAddr::from((A_IP, port));
    let a = pair.a.udp_bind(to)?;
    let b = pair.b.udp_bind(SocketAddr::from((B_IP, 0)))?;
    Ok((a, b, to, pair))
}

/// Our side of `udp_rtt`: (p50, p99) µs.
pub(crate) fn ours_rtt(secs: f64) -> io::Result<(f64, f64)> {
    let (a, b, to, _pair) = our_pair(7)?;
    ping_pong(a, b, to, secs).map(|(p50, p99, _)| (p50, p99))
}

/// Our side of `udp_pps`: (received/s, sent/s).
pub(crate) fn ours_pps(secs: f64) -> io::Result<(f64, f64)> {
    let (a, b, to, _pair) = our_pair(9)?;
    one_way(a, b, to, secs)
}

/// `udp_rtt` as two rows (p50 and p99).
pub(crate) fn rtt(ctx: &Ctx) -> Vec<Row> {
    let (mut o50, mut o99, mut k50, mut k99) = Default::default();
    let mut errors = Vec::new();
    let mut counts = (0usize, 0usize);
    for _ in 0..ctx.repeats {
        match our_pair(7).and_then(|(a, b, to, _pair)| ping_pong(a, b, to, ctx.secs)) {
            Ok((p50, p99, n)) => {
                push(&mut o50, p50);
                push(&mut o99, p99);
                counts.0 += n;
            }
            Err(e) => errors.push(format!("ours: {e}")),
        }
        match kernel_pair().and_then(|(a, b, to)| ping_pong(a, b, to, ctx.secs)) {
            Ok((p50, p99, n)) => {
                push(&mut k50, p50);
                push(&mut k99, p99);
                counts.1 += n;
            }
            Err(e) => errors.push(format!("kernel: {e}")),
        }
    }
    let mut note = format!(
        "{PAYLOAD}-byte UDP echo between two stacks on hub://@, blocking calls; {} / {} exchanges (ours / kernel 127.0.0.1)",
        counts.0, counts.1
    );
    if !errors.is_empty() {
        note.push_str(&format!("; errors: {}", errors.join(", ")));
    }
    vec![
        Row::new(
            "udp_rtt.p50",
            "µs",
            Better::Lower,
            o50,
            k50,
            format!("{note}; goal: within 2x of the kernel (ratio ≥ 0.5)"),
        ),
        Row::new("udp_rtt.p99", "µs", Better::Lower, o99, k99, note),
    ]
}

/// Percentage of offered datagrams not received (medians).
fn loss(got: &Samples, sent: &Samples) -> f64 {
    let (g, s) = (got.median(), sent.median());
    if s > 0.0 {
        (1.0 - g / s).max(0.0) * 100.0
    } else {
        f64::NAN
    }
}

fn push(s: &mut Samples, v: f64) {
    s.0.push(v);
}

/// `udp_pps`.
pub(crate) fn pps(ctx: &Ctx) -> Vec<Row> {
    let (mut o, mut k) = (Samples::default(), Samples::default());
    let (mut o_sent, mut k_sent) = (Samples::default(), Samples::default());
    let mut errors = Vec::new();
    for _ in 0..ctx.repeats {
        match our_pair(9).and_then(|(a, b, to, _pair)| one_way(a, b, to, ctx.secs)) {
            Ok((r, s)) => {
                o.0.push(r);
                o_sent.0.push(s);
            }
            Err(e) => errors.push(format!("ours: {e}")),
        }
        match kernel_pair().and_then(|(a, b, to)| one_way(a, b, to, ctx.secs)) {
            Ok((r, s)) => {
                k.0.push(r);
                k_sent.0.push(s);
            }
            Err(e) => errors.push(format!("kernel: {e}")),
        }
    }
    let mut note = format!(
        "{PAYLOAD}-byte datagrams received per second, one sender thread, one receiver thread; offered (sent/s, median): ours {}, kernel {} (lost: ours {:.0}%, kernel {:.0}%)",
        crate::report::num(o_sent.median()),
        crate::report::num(k_sent.median()),
        loss(&o, &o_sent),
        loss(&k, &k_sent),
    );
    if !errors.is_empty() {
        note.push_str(&format!("; errors: {}", errors.join(", ")));
    }
    vec![Row::new(
        "udp_pps",
        "datagrams/s",
        Better::Higher,
        o,
        k,
        note,
    )]
}
