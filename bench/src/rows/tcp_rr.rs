//! `tcp_rr` (request/response transactions on one connection) and `tcp_crr` (connect, one
//! request/response, close) between two smoltcp stacks of this process over the in-process
//! hub, a line per TCP engine, against the kernel over 127.0.0.1 (two threads).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Ctx;
use crate::fixture::{A_IP, Engine, Pair};
use crate::helper::{STALL, warmup};
use crate::report::{Better, Row, Samples};

/// Request and reply size of both rows (as udp_rtt's datagrams).
const MSG: usize = 64;

/// Most connections `tcp_crr` opens per repetition and side: the connecting side keeps every
/// one in TIME-WAIT (60 s on Linux and on our engine), and an address has 28,232 ephemeral
/// ports (32768..=60999, Linux's range and our stacks'). Each repetition takes fresh stacks
/// (ours) or a fresh listening port (the kernel), so no repetition meets another's
/// TIME-WAIT four-tuples.
const CRR_MAX: u64 = 20_000;

/// The first byte of the request that stops a `tcp_crr` server.
const STOP: u8 = 0;

/// How long a `tcp_crr` connect or read may take (one takes well under a millisecond here)
/// before the repetition counts as failed.
const CRR_STALL: Duration = Duration::from_secs(3);

/// One side's figure: the rate and the transactions it is over.
struct Rate {
    per_sec: f64,
    counted: u64,
}

/// A counting window: a warm-up, then `secs`; `tick` counts one transaction and says when
/// the window is over.
struct Window {
    start: Instant,
    warm: Duration,
    secs: f64,
    /// The window's start and the transactions counted in it.
    from: Option<(Instant, u64)>,
    /// When the last one was counted.
    last: Option<Instant>,
}

impl Window {
    fn new(secs: f64) -> Window {
        Window {
            start: Instant::now(),
            warm: warmup(secs),
            secs,
            from: None,
            last: None,
        }
    }

    /// Counts one; `Some(rate)` when the window is over.
    fn tick(&mut self) -> Option<Rate> {
        match &mut self.from {
            None if self.start.elapsed() >= self.warm => self.from = Some((Instant::now(), 0)),
            None => {}
            Some((t0, n)) => {
                *n += 1;
                let now = Instant::now();
                self.last = Some(now);
                let el = now.duration_since(*t0).as_secs_f64();
                if el >= self.secs {
                    return Some(Rate {
                        per_sec: *n as f64 / el,
                        counted: *n,
                    });
                }
            }
        }
        None
    }

    /// The rate up to the last one counted (a window cut short).
    fn so_far(&self) -> Option<Rate> {
        let (t0, n) = self.from?;
        let el = self.last?.duration_since(t0).as_secs_f64();
        (n > 0 && el > 0.0).then(|| Rate {
            per_sec: n as f64 / el,
            counted: n,
        })
    }
}

/// What `tcp_rr` needs of a connection.
trait Conn: Read + Write + Send + 'static {
    fn prepare(&self) -> io::Result<()>;
}

impl Conn for TcpStream {
    fn prepare(&self) -> io::Result<()> {
        self.set_nodelay(true)?;
        self.set_read_timeout(Some(STALL))
    }
}

impl Conn for ioth::net::TcpStream {
    fn prepare(&self) -> io::Result<()> {
        self.set_nodelay(true)?;
        self.set_read_timeout(Some(STALL))
    }
}

/// Ping-pong of `MSG` bytes on one connection for a window of `secs`: transactions/s.
fn ping_pong<S: Conn>(mut client: S, mut server: S, secs: f64) -> io::Result<Rate> {
    client.prepare()?;
    server.prepare()?;
    let echo = std::thread::spawn(move || -> io::Result<()> {
        let mut buf = [0u8; MSG];
        loop {
            match server.read_exact(&mut buf) {
                Ok(()) => server.write_all(&buf)?,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    });
    let req = [0x42u8; MSG];
    let mut buf = [0u8; MSG];
    let mut w = Window::new(secs);
    let mut done = 0u64;
    let got = loop {
        if let Err(e) = client
            .write_all(&req)
            .and_then(|()| client.read_exact(&mut buf))
        {
            break Err(io::Error::new(
                e.kind(),
                format!("after {done} transactions: {e}"),
            ));
        }
        done += 1;
        if let Some(r) = w.tick() {
            break Ok(r);
        }
    };
    drop(client);
    let served = echo
        .join()
        .map_err(|_| io::Error::other("echo thread panicked"))?;
    let r = got?;
    served.map_err(|e| io::Error::new(e.kind(), format!("echo side: {e}")))?;
    Ok(r)
}

fn rr_ours(engine: Engine, secs: f64) -> io::Result<Rate> {
    let pair = Pair::with(engine)?;
    let listener = pair.a.tcp_listen(SocketAddr::from((A_IP, 5101)))?;
    let client =
        ioth::net::TcpStream::connect_timeout_on(&pair.b, &SocketAddr::from((A_IP, 5101)), STALL)?;
    let (server, _) = listener.accept()?;
    ping_pong(client, server, secs)
}

fn rr_kernel(secs: f64) -> io::Result<Rate> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    ping_pong(client, server, secs)
}

/// One `tcp_crr` server: per connection, reads the request, answers it and reads to the
/// client's close (the client closes first); ends on a request starting with `STOP`.
fn crr_serve<S: Read + Write>(
    mut accept: impl FnMut() -> io::Result<S>,
    set_timeout: impl Fn(&S) -> io::Result<()>,
) -> io::Result<u64> {
    let mut buf = [0u8; MSG];
    let mut served = 0u64;
    loop {
        let mut s = accept()?;
        set_timeout(&s)?;
        s.read_exact(&mut buf)?;
        s.write_all(&buf)?;
        if buf[0] == STOP {
            return Ok(served);
        }
        while s.read(&mut buf)? > 0 {}
        served += 1;
    }
}

/// What one `tcp_crr` repetition gives.
struct Crr {
    rate: Rate,
    /// Connections opened (the warm-up's included).
    opened: u64,
    /// The failure that cut the window short (the rate is then the one before it).
    cut: Option<String>,
}

/// Connections per second for a window of `secs` (at most `CRR_MAX` in all), `connect`
/// opening each; the server runs on its own thread and reports on `done`. A failure after
/// the warm-up ends the window at the last connection that succeeded: that rate is kept,
/// with the failure.
fn crr_client<S: Read + Write>(
    mut connect: impl FnMut() -> io::Result<S>,
    done: mpsc::Receiver<io::Result<u64>>,
    secs: f64,
) -> io::Result<Crr> {
    let req = [0x42u8; MSG];
    let mut buf = [0u8; MSG];
    let mut w = Window::new(secs);
    let mut opened = 0u64;
    let one = |connect: &mut dyn FnMut() -> io::Result<S>, req: &[u8], buf: &mut [u8]| {
        let mut c = connect().map_err(|e| io::Error::new(e.kind(), format!("connect: {e}")))?;
        c.write_all(req)?;
        c.read_exact(buf)?;
        drop(c);
        io::Result::Ok(())
    };
    let mut cut = None;
    let got = loop {
        if let Err(e) = one(&mut connect, &req, &mut buf) {
            let e = format!("connection {}: {e}", opened + 1);
            match w.so_far() {
                Some(r) => {
                    cut = Some(e);
                    break Ok(r);
                }
                None => break Err(io::Error::other(e)),
            }
        }
        opened += 1;
        if let Some(r) = w.tick() {
            break Ok(r);
        }
        if opened >= CRR_MAX {
            break w.so_far().ok_or_else(|| {
                io::Error::other(format!("{CRR_MAX} connections used up in the warm-up"))
            });
        }
    };
    // The stop request (the server's last connection), then its count.
    let mut stop = [0x42u8; MSG];
    stop[0] = STOP;
    let stopped = one(&mut connect, &stop, &mut buf);
    let served = done.recv_timeout(CRR_STALL + Duration::from_secs(1));
    let rate = got?;
    if cut.is_some() {
        // The server may still hold the failed connection: its count says nothing more.
        return Ok(Crr { rate, opened, cut });
    }
    stopped.map_err(|e| io::Error::new(e.kind(), format!("stop request: {e}")))?;
    match served {
        Ok(Ok(n)) if n == opened => Ok(Crr { rate, opened, cut }),
        Ok(Ok(n)) => Err(io::Error::other(format!(
            "server served {n} connections, client opened {opened}"
        ))),
        Ok(Err(e)) => Err(io::Error::new(e.kind(), format!("server: {e}"))),
        Err(_) => Err(io::Error::other("server thread did not end")),
    }
}

fn crr_ours(engine: Engine, secs: f64) -> io::Result<Crr> {
    // Fresh stacks: a fresh port space, no TIME-WAIT of an earlier repetition.
    let pair = Pair::with(engine)?;
    let addr = SocketAddr::from((A_IP, 5102));
    let listener = pair.a.tcp_listen(addr)?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = crr_serve(
            || listener.accept().map(|(s, _)| s),
            |s: &ioth::net::TcpStream| s.set_read_timeout(Some(CRR_STALL)),
        );
        let _ = tx.send(r);
    });
    let b = pair.b.clone();
    crr_client(
        move || {
            let c = ioth::net::TcpStream::connect_timeout_on(&b, &addr, CRR_STALL)?;
            c.set_read_timeout(Some(CRR_STALL))?;
            Ok(c)
        },
        rx,
        secs,
    )
}

fn crr_kernel(secs: f64) -> io::Result<Crr> {
    // A fresh listening port per repetition: four-tuples no earlier TIME-WAIT holds.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = crr_serve(
            || listener.accept().map(|(s, _)| s),
            |s: &TcpStream| s.set_read_timeout(Some(CRR_STALL)),
        );
        let _ = tx.send(r);
    });
    crr_client(
        move || {
            let c = TcpStream::connect_timeout(&addr, CRR_STALL)?;
            c.set_read_timeout(Some(CRR_STALL))?;
            Ok(c)
        },
        rx,
        secs,
    )
}

fn tail(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!("; errors: {}", errors.join(", "))
    }
}

/// `tcp_rr`.
pub(crate) fn rr(ctx: &Ctx) -> Vec<Row> {
    let mut ours: [Samples; 2] = Default::default();
    let mut counts: [Vec<u64>; 2] = Default::default();
    let mut errors: [Vec<String>; 2] = Default::default();
    let (mut k, mut kcounts, mut kerrors) = (Samples::default(), Vec::new(), Vec::new());
    for _ in 0..ctx.repeats {
        for (i, e) in Engine::BOTH.iter().enumerate() {
            match rr_ours(*e, ctx.secs) {
                Ok(r) => {
                    ours[i].0.push(r.per_sec);
                    counts[i].push(r.counted);
                }
                Err(err) => errors[i].push(format!("ours: {err}")),
            }
        }
        match rr_kernel(ctx.secs) {
            Ok(r) => {
                k.0.push(r.per_sec);
                kcounts.push(r.counted);
            }
            Err(err) => kerrors.push(format!("kernel: {err}")),
        }
    }
    let sum = |v: &[u64]| v.iter().sum::<u64>();
    Engine::BOTH
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut errs = errors[i].clone();
            errs.extend(kerrors.iter().cloned());
            Row::new(
                &format!("tcp_rr.{}", e.tag()),
                "transactions/s",
                Better::Higher,
                ours[i].clone(),
                k.clone(),
                format!(
                    "{MSG}-byte request, {MSG}-byte reply, one connection, ping-pong, TCP_NODELAY, between two stacks {:?} on hub://@; reference: two kernel threads on 127.0.0.1; {} / {} transactions (ours / kernel); {}{}",
                    e.stack_name(),
                    sum(&counts[i]),
                    sum(&kcounts),
                    if *e == Engine::Smoltcp {
                        "no goal: the line tcp_ioth's goal is read against"
                    } else {
                        "goal (issue 12): no slower than the tcp_smoltcp line (compare the medians; the ratio is against the kernel)"
                    },
                    tail(&errs)
                ),
            )
        })
        .collect()
}

/// `tcp_crr`.
pub(crate) fn crr(ctx: &Ctx) -> Vec<Row> {
    let mut ours: [Samples; 2] = Default::default();
    let mut counts: [Vec<u64>; 2] = Default::default();
    let mut opened: [Vec<u64>; 2] = Default::default();
    let mut errors: [Vec<String>; 2] = Default::default();
    let (mut k, mut kcounts, mut kopened, mut kerrors) =
        (Samples::default(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ctx.repeats {
        for (i, e) in Engine::BOTH.iter().enumerate() {
            match crr_ours(*e, ctx.secs) {
                Ok(c) => {
                    ours[i].0.push(c.rate.per_sec);
                    counts[i].push(c.rate.counted);
                    opened[i].push(c.opened);
                    if let Some(why) = c.cut {
                        errors[i].push(format!("ours, window cut short (its rate kept) by {why}"));
                    }
                }
                Err(err) => errors[i].push(format!("ours: {err}")),
            }
        }
        match crr_kernel(ctx.secs) {
            Ok(c) => {
                k.0.push(c.rate.per_sec);
                kcounts.push(c.rate.counted);
                kopened.push(c.opened);
                if let Some(why) = c.cut {
                    kerrors.push(format!("kernel, window cut short (its rate kept) by {why}"));
                }
            }
            Err(err) => kerrors.push(format!("kernel: {err}")),
        }
    }
    let sum = |v: &[u64]| v.iter().sum::<u64>();
    let most = |v: &[u64]| v.iter().copied().max().unwrap_or(0);
    Engine::BOTH
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut errs = errors[i].clone();
            errs.extend(kerrors.iter().cloned());
            Row::new(
                &format!("tcp_crr.{}", e.tag()),
                "connections/s",
                Better::Higher,
                ours[i].clone(),
                k.clone(),
                format!(
                    "connect, {MSG}-byte request, {MSG}-byte reply, close, one connection at a time, the client closing first (TIME-WAIT on the client), between two stacks {:?} on hub://@; reference: two kernel threads on 127.0.0.1; per repetition at most {CRR_MAX} connections (below the 28,232 ephemeral ports), fresh stacks (ours) or listening port (kernel); a connect or read failing ({}s timeouts) after the warm-up ends that repetition's window at the last connection that succeeded, its rate kept; measured {} / {} connections after the warm-ups, most opened in one repetition {} / {} (ours / kernel); {}{}",
                    e.stack_name(),
                    CRR_STALL.as_secs(),
                    sum(&counts[i]),
                    sum(&kcounts),
                    most(&opened[i]),
                    most(&kopened),
                    if *e == Engine::Smoltcp {
                        "no goal, to compare with tcp_ioth"
                    } else {
                        "goal (issue 12): ratio ≥ 1 (at least the kernel's)"
                    },
                    tail(&errs)
                ),
            )
        })
        .collect()
}

/// Our side alone, for profiling: (row, figure).
pub(crate) fn ours_only(row: &str, engine: Engine, secs: f64) -> io::Result<String> {
    match row {
        "tcp_rr" => rr_ours(engine, secs).map(|r| format!("{:.0} transactions/s", r.per_sec)),
        "tcp_crr" => crr_ours(engine, secs).map(|c| {
            format!(
                "{:.0} connections/s ({} opened{})",
                c.rate.per_sec,
                c.opened,
                c.cut
                    .map_or_else(String::new, |w| format!("; cut short by {w}"))
            )
        }),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no our-side-only mode for {other:?}"),
        )),
    }
}
