//! `tcp_lossy`: bulk TCP through one impairing hub, for each engine of our smoltcp stack
//! (`tcp=ioth`, `tcp=smoltcp`) in both directions with a kernel peer, against kernel → kernel
//! through the same hub.
//!
//! The hub is the project's own (vdehub's code: [`vde::Hub`] with a hub-wide
//! [`vde::Impairment`], so every frame entering it is impaired, data and ACKs alike), served
//! by this process at a path. Every endpoint joins it the same way, as a VDE client over a
//! datagram socket: each kernel from its own namespace on a TAP through `vde_plug`, our
//! stacks through `vde://PATH`. It learns MACs (vdehub `--switch`), so a flow's frames reach
//! its two ends only and the idle members cost nothing. Kernel senders run cubic
//! (`TCP_CONGESTION`), our engine's default; one more line shows what bbr (this machine's
//! default) gives on the same hub. The reader sets the window (a warm-up and then the
//! measurement, from the first byte) and then resets the connection, however slow the path.

use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::path::PathBuf;
use std::process::ChildStdout;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vde::{Hub, HubConfig, HubKind, Impairment, ServeConfig};

use crate::Ctx;
use crate::fixture::{Engine, engine_stack};
use crate::helper::{
    STALL, STOP_POLL, SendInfo, is_peer_gone, read_for, warmup, write_until_closed,
};
use crate::peers::{ChildGuard, Netns, TapPlug, TempDir, expect_line, missing, self_exe};
use crate::report::{Better, Row, Samples};

const K1: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
const K2: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 3);

/// Our stack's address for `engine`.
fn ours_ip(engine: Engine) -> Ipv4Addr {
    match engine {
        Engine::Ioth => Ipv4Addr::new(10, 79, 0, 2),
        Engine::Smoltcp => Ipv4Addr::new(10, 79, 0, 4),
    }
}

/// One impairment of the hub.
struct Profile {
    /// Row name part.
    name: &'static str,
    /// For the note.
    what: &'static str,
    imp: Impairment,
    /// The measurement window, in units of `--secs`.
    window: f64,
}

fn profiles() -> Vec<Profile> {
    vec![
        Profile {
            name: "loss1",
            what: "1% loss, 1% duplication and 1% reordering (held back 2 ms) of every frame",
            imp: Impairment {
                loss: 1.0,
                dup: 1.0,
                reorder: 1.0,
                ..Impairment::default()
            },
            window: 1.0,
        },
        Profile {
            name: "delay10",
            what: "0.1% loss and 10 ms delay of every frame (RTT 20 ms: a larger bandwidth-delay product)",
            imp: Impairment {
                loss: 0.1,
                delay: Duration::from_millis(10),
                ..Impairment::default()
            },
            // At 20 ms per round trip cubic takes seconds to grow back after a loss.
            window: 2.0,
        },
    ]
}

struct Setup {
    // Field order is drop order: stacks, plugs and namespaces before the hub and its directory.
    stacks: Vec<(Engine, ioth::Stack)>,
    _plug1: TapPlug,
    _plug2: TapPlug,
    ns1: Netns,
    ns2: Netns,
    _hub: Hub,
    _dir: TempDir,
}

fn setup(imp: &Impairment) -> io::Result<Setup> {
    let dir = TempDir::new("lossy")?;
    let hub = Hub::with_config(HubConfig {
        kind: HubKind::Switch,
        impairment: imp.clone(),
        ..HubConfig::default()
    });
    let path: PathBuf = hub.serve(&dir.0.join("hub"), &ServeConfig::default())?;
    let vnl = format!("vde://{}", path.display());
    let ns1 = Netns::new()?;
    let ns2 = Netns::new()?;
    let plug1 = TapPlug::start(&ns1, &vnl, "tap0", &format!("{K1}/24"))?;
    let plug2 = TapPlug::start(&ns2, &vnl, "tap0", &format!("{K2}/24"))?;
    let mut stacks = Vec::new();
    for e in Engine::BOTH {
        let st = engine_stack(&vnl, ours_ip(e), e).map_err(|err| {
            io::Error::new(err.kind(), format!("{} stack on {vnl}: {err}", e.tag()))
        })?;
        stacks.push((e, st));
    }
    Ok(Setup {
        stacks,
        _plug1: plug1,
        _plug2: plug2,
        ns1,
        ns2,
        _hub: hub,
        _dir: dir,
    })
}

type Lines = io::Lines<io::BufReader<ChildStdout>>;

/// Longest a source writes: far more than any window, a bound should its reader vanish.
fn source_limit(secs: f64) -> f64 {
    warmup(secs).as_secs_f64() + secs + 3.0 * STALL.as_secs_f64()
}

/// A `tcp-sink-for` helper listening in `ns` on `addr`.
fn sink(ns: &Netns, addr: SocketAddr, secs: f64) -> io::Result<(ChildGuard, Lines)> {
    let mut cmd = ns.command(&self_exe()?);
    cmd.args([
        "--helper",
        "tcp-sink-for",
        &addr.to_string(),
        &secs.to_string(),
    ]);
    let mut child = ChildGuard::spawn(cmd, "tcp-sink-for helper")?;
    let mut lines = child.lines()?;
    expect_line(&mut lines, "listening")?;
    Ok((child, lines))
}

/// A `tcp-source-until` helper in `ns` writing to `addr` with congestion control `cc`.
fn source(ns: &Netns, addr: SocketAddr, secs: f64, cc: &str) -> io::Result<ChildGuard> {
    let mut cmd = ns.command(&self_exe()?);
    cmd.args([
        "--helper",
        "tcp-source-until",
        &addr.to_string(),
        &source_limit(secs).to_string(),
        cc,
    ]);
    ChildGuard::spawn(cmd, "tcp-source-until helper")
}

/// Mbit/s from a helper's `gbps X` line.
fn mbps_line(lines: &mut Lines) -> io::Result<f64> {
    let v = expect_line(lines, "gbps ")?;
    v.parse::<f64>()
        .map(|g| g * 1000.0)
        .map_err(|_| io::Error::other(format!("bad gbps line {v:?}")))
}

/// One measurement: Mbit/s, and the sender's last `TCP_INFO` counters when it had them.
type Got = (f64, Option<SendInfo>);

/// The `info` line a source helper prints as it ends.
fn info_line(lines: &mut Lines) -> Option<SendInfo> {
    expect_line(lines, "info ")
        .ok()
        .and_then(|l| SendInfo::from_line(&l))
}

/// `TCP_INFO` of one of our sockets.
fn ours_send_info(s: &ioth::net::TcpStream) -> Option<SendInfo> {
    let mut b = [0u8; 256];
    let n = s
        .socket()
        .getsockopt(libc::IPPROTO_TCP, libc::TCP_INFO, &mut b)
        .ok()?;
    SendInfo::parse(&b[..n.min(b.len())])
}

/// Our stack sends to the kernel in ns1.
fn ours_to_kernel(s: &Setup, stack: &ioth::Stack, port: u16, secs: f64) -> io::Result<Got> {
    let addr = SocketAddr::from((K1, port));
    let (mut child, mut lines) = sink(&s.ns1, addr, secs)?;
    let stream = ioth::net::TcpStream::connect_timeout_on(stack, &addr, STALL)
        .map_err(|e| io::Error::new(e.kind(), format!("connect: {e}")))?;
    stream.set_write_timeout(Some(STOP_POLL))?;
    let w = stream.try_clone()?;
    let limit = Duration::from_secs_f64(source_limit(secs));
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut last = None;
        let r = write_until_closed(
            &w,
            limit,
            || stopped.load(Ordering::Relaxed),
            || {
                if let Some(i) = ours_send_info(&w) {
                    last = Some(i);
                }
            },
        );
        (r, last)
    });
    let got = mbps_line(&mut lines);
    stop.store(true, Ordering::Relaxed);
    let (wrote, info) = writer
        .join()
        .map_err(|_| io::Error::other("writer thread panicked"))?;
    let _ = stream.shutdown(Shutdown::Both);
    drop(stream);
    let _ = child.finish(Duration::from_secs(5));
    let g = got?;
    // Once the reader has its figure, the writer's end (a reset) is no error.
    if let Err(e) = wrote
        && !is_peer_gone(&e)
    {
        return Err(io::Error::new(e.kind(), format!("our writer: {e}")));
    }
    Ok((g, info))
}

/// Waits for a connection on `listener` for at most `limit`.
fn accept_within(
    listener: &ioth::net::TcpListener,
    limit: Duration,
) -> io::Result<ioth::net::TcpStream> {
    listener.set_nonblocking(true)?;
    let end = Instant::now() + limit;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection within {limit:?}"),
                ));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The kernel in ns1 (cubic) sends to our stack.
fn kernel_to_ours(
    s: &Setup,
    stack: &ioth::Stack,
    ip: Ipv4Addr,
    port: u16,
    secs: f64,
) -> io::Result<Got> {
    let addr = SocketAddr::from((ip, port));
    let listener = stack.tcp_listen(addr)?;
    let mut child = source(&s.ns1, addr, secs, "cubic")?;
    let mut lines = child.lines()?;
    let stream = accept_within(&listener, STALL)?;
    drop(listener);
    stream.set_read_timeout(Some(STALL))?;
    let g = read_for(&stream, secs);
    // Closing with data unread resets the connection: the kernel's source stops.
    drop(stream);
    // Our close resets the connection (tcp=ioth, as Linux); smoltcp's TCP sends a FIN and its
    // orphan holds a zero window for up to 60 s: closing the helper's stdin stops it anyway.
    child.close_stdin();
    let info = if g.is_ok() {
        info_line(&mut lines)
    } else {
        None
    };
    let _ = child.finish(Duration::from_secs(5));
    Ok((g? * 1000.0, info))
}

/// The kernel in ns2 sends to the kernel in ns1, with congestion control `cc`.
fn kernel_to_kernel(s: &Setup, port: u16, secs: f64, cc: &str) -> io::Result<Got> {
    let addr = SocketAddr::from((K1, port));
    let (mut sink_child, mut lines) = sink(&s.ns1, addr, secs)?;
    let mut src = source(&s.ns2, addr, secs, cc)?;
    let mut src_lines = src.lines()?;
    let g = mbps_line(&mut lines);
    src.close_stdin();
    let info = if g.is_ok() {
        info_line(&mut src_lines)
    } else {
        None
    };
    let _ = src.finish(Duration::from_secs(5));
    let _ = sink_child.finish(Duration::from_secs(5));
    Ok((g?, info))
}

/// Whether the kernel offers bbr (for the context line).
fn have_bbr() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
        .is_ok_and(|s| s.split_whitespace().any(|c| c == "bbr"))
}

/// This machine's default congestion control.
fn default_cc() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned())
}

/// One line's samples: Mbit/s and the sender's retransmitted share (percent of bytes sent).
#[derive(Clone, Default)]
struct Line {
    mbps: Samples,
    retrans: Samples,
    dsacks: u64,
}

impl Line {
    fn push(&mut self, (mbps, info): Got) {
        self.mbps.0.push(mbps);
        if let Some(i) = info {
            self.retrans.0.push(i.retrans_pct());
            self.dsacks += u64::from(i.dsacks);
        }
    }

    /// The retransmission figures for a note.
    fn retrans_text(&self) -> String {
        if self.retrans.0.is_empty() {
            return "-".into();
        }
        format!("{:.2}% ({} DSACKs)", self.retrans.median(), self.dsacks)
    }
}

/// The samples of one profile.
#[derive(Default)]
struct Measured {
    /// Per engine (in `Engine::BOTH` order): ours → kernel, kernel → ours.
    tx: [Line; 2],
    rx: [Line; 2],
    kk: Line,
    bbr: Line,
    /// With the engine they are about (None: the kernel's reference).
    errors: Vec<(Option<Engine>, String)>,
}

/// Runs one measurement, logging what it gave and how long it took (`RUST_LOG=ioth_bench=debug`).
fn timed<T: std::fmt::Debug>(what: &str, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let t = Instant::now();
    let r = f();
    log::debug!(
        "tcp_lossy {what}: {r:?} in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    r
}

fn measure(s: &Setup, secs: f64, repeats: usize, bbr: bool, port: &mut u16) -> Measured {
    let mut m = Measured::default();
    for _ in 0..repeats {
        for (i, (e, stack)) in s.stacks.iter().enumerate() {
            *port += 1;
            let what = format!("{} ours→kernel", e.tag());
            match timed(&what, || ours_to_kernel(s, stack, *port, secs)) {
                Ok(v) => m.tx[i].push(v),
                Err(err) => m.errors.push((Some(*e), format!("{what}: {err}"))),
            }
            *port += 1;
            let what = format!("{} kernel→ours", e.tag());
            match timed(&what, || kernel_to_ours(s, stack, ours_ip(*e), *port, secs)) {
                Ok(v) => m.rx[i].push(v),
                Err(err) => m.errors.push((Some(*e), format!("{what}: {err}"))),
            }
        }
        for cc in ["cubic", "bbr"]
            .into_iter()
            .filter(|c| *c == "cubic" || bbr)
        {
            *port += 1;
            let what = format!("kernel→kernel {cc}");
            match timed(&what, || kernel_to_kernel(s, *port, secs, cc)) {
                Ok(v) if cc == "cubic" => m.kk.push(v),
                Ok(v) => m.bbr.push(v),
                Err(err) => m.errors.push((None, format!("{what}: {err}"))),
            }
        }
    }
    m
}

pub(crate) fn run(ctx: &Ctx) -> Vec<Row> {
    const UNIT: &str = "Mbit/s";
    if let Some(why) = missing(&["vde_plug", "ip"]) {
        return vec![Row::skipped("tcp_lossy", UNIT, why)];
    }
    // Lossy paths vary more between runs than between repetitions; fewer, to fit the time.
    let repeats = ctx.repeats.min(if ctx.quick { 1 } else { 3 });
    let bbr = have_bbr();
    let mut rows = Vec::new();
    let mut port = 5300u16;
    for p in profiles() {
        let prefix = format!("tcp_lossy.{}", p.name);
        let s = match setup(&p.imp) {
            Ok(s) => s,
            Err(e) => {
                rows.push(Row::skipped(&prefix, UNIT, format!("setup: {e}")));
                continue;
            }
        };
        let secs = ctx.secs * p.window;
        let m = measure(&s, secs, repeats, bbr, &mut port);
        drop(s);
        // A line's errors: its engine's and the reference's.
        let tail = |who: Option<Engine>| {
            let errs: Vec<&str> = m
                .errors
                .iter()
                .filter(|(e, _)| e.is_none() || *e == who)
                .map(|(_, t)| t.as_str())
                .collect();
            if errs.is_empty() {
                String::new()
            } else {
                format!("; errors: {}", errs.join(", "))
            }
        };
        let wire = format!(
            "through one hub impairing {}, every end a VDE client of it (kernels: namespace, TAP, vde_plug; ours: vde://); {secs} s windows; reference: kernel→kernel (cubic) through the same hub, same run",
            p.what
        );
        for (i, e) in Engine::BOTH.iter().enumerate() {
            let goal = match e {
                Engine::Ioth => "goal: ratio ≥ 0.5 (moonshot: 1)".to_owned(),
                Engine::Smoltcp => format!(
                    "smoltcp's TCP (its cubic, {}, 1 s minimum RTO, no SACK recovery), to compare with tcp_ioth; no goal",
                    e.buffers()
                ),
            };
            let retrans = |l: &Line| {
                format!(
                    "the sender retransmitted (TCP_INFO bytes_retrans/bytes_sent, median): {} here, {} kernel→kernel",
                    l.retrans_text(),
                    m.kk.retrans_text()
                )
            };
            rows.push(Row::new(
                &format!("{prefix}.{}.ours_to_kernel", e.tag()),
                UNIT,
                Better::Higher,
                m.tx[i].mbps.clone(),
                m.kk.mbps.clone(),
                format!(
                    "our stack ({}) sends, the kernel receives, {wire}; {}; {goal}{}",
                    e.stack_name(),
                    retrans(&m.tx[i]),
                    tail(Some(*e))
                ),
            ));
            rows.push(Row::new(
                &format!("{prefix}.{}.kernel_to_ours", e.tag()),
                UNIT,
                Better::Higher,
                m.rx[i].mbps.clone(),
                m.kk.mbps.clone(),
                format!(
                    "the kernel (cubic) sends, our stack ({}) receives, {wire}; {}; {goal}{}",
                    e.stack_name(),
                    retrans(&m.rx[i]),
                    tail(Some(*e))
                ),
            ));
        }
        if bbr {
            rows.push(Row::new(
                &format!("{prefix}.kernel_bbr"),
                UNIT,
                Better::Higher,
                m.bbr.mbps.clone(),
                m.kk.mbps.clone(),
                format!(
                    "context, no goal: kernel→kernel with bbr against cubic (this machine's default: {}), same hub, same run; the sender retransmitted {} with bbr, {} with cubic{}",
                    default_cc(),
                    m.bbr.retrans_text(),
                    m.kk.retrans_text(),
                    tail(None)
                ),
            ));
        }
    }
    rows
}
