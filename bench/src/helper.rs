//! The benchmark's own peers, run as `ioth-bench --helper KIND ARGS...` in another process
//! (inside a namespace through `ip netns exec`), so no extra tool is needed:
//!
//! - `tcp-sink ADDR:PORT SECS`: accepts one connection, prints `listening`, reads to EOF and
//!   prints `gbps X` (the rate over SECS after a warm-up).
//! - `tcp-source ADDR:PORT SECS`: connects, writes for SECS, closes.
//! - `tcp-sink-for ADDR:PORT SECS`: accepts one connection, prints `listening`, reads for a
//!   warm-up and SECS from the first byte, prints `gbps X` and closes with data unread (a
//!   reset), so the source stops: the reader sets the length, however slow the path.
//! - `tcp-source-until ADDR:PORT MAXSECS [CC]`: connects (with congestion control CC when
//!   given, `TCP_CONGESTION`), writes until the peer resets or closes, its stdin closes, or
//!   MAXSECS pass, then prints `info SENT RETRANS DSACKS` from its last `TCP_INFO` sample.
//! - `hub-send VNL`: sends 1514-byte broadcast frames on the VNL as fast as it can, until
//!   its stdin closes.
//! - `hub-recv VNL SECS`: prints `ready`, waits for the first frame, counts frames for a
//!   warm-up and SECS, prints `pps X`.
//! - `dns-rtt ADDR:PORT SECS`: one DNS query at a time over a kernel UDP socket to ADDR;
//!   prints `p50 MICROSECONDS`.
//! - `ours ROW SECS`: only our side of `tcp_stream_inproc`, `udp_rtt` or `udp_pps`, for
//!   profiling (`perf record -g ioth-bench --helper ours udp_pps 5`).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// The warm-up before a measurement window of `secs`.
pub(crate) fn warmup(secs: f64) -> Duration {
    Duration::from_secs_f64((secs * 0.15).max(0.05))
}

/// Reads `r` to EOF; returns Gbit/s over the `secs` following a warm-up counted from the first
/// byte. Errors if the stream ends before the window does.
pub(crate) fn read_window(mut r: impl Read, secs: f64) -> io::Result<f64> {
    let mut buf = vec![0u8; 64 * 1024];
    let warm = warmup(secs);
    let mut first: Option<Instant> = None;
    let mut window: Option<(Instant, u64)> = None;
    let mut result = None;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let t0 = *first.get_or_insert_with(Instant::now);
        match &mut window {
            None if t0.elapsed() >= warm => window = Some((Instant::now(), 0)),
            None => {}
            Some((w0, bytes)) if result.is_none() => {
                *bytes += n as u64;
                let el = w0.elapsed().as_secs_f64();
                if el >= secs {
                    result = Some(*bytes as f64 * 8.0 / el / 1e9);
                }
            }
            Some(_) => {}
        }
    }
    result.ok_or_else(|| io::Error::other("stream ended before the measurement window did"))
}

/// How long a blocked read may wait before a reader-paced measurement gives up on its peer.
pub(crate) const STALL: Duration = Duration::from_secs(10);

/// Reads `r` for a warm-up and then `secs` (both counted from the first byte) and returns the
/// Gbit/s of that window, leaving the rest unread: the caller closes, which stops the writer.
/// Errors if the stream ends first (or a read times out, when the caller set a timeout).
pub(crate) fn read_for(mut r: impl Read, secs: f64) -> io::Result<f64> {
    let mut buf = vec![0u8; 64 * 1024];
    let warm = warmup(secs);
    let mut first: Option<Instant> = None;
    let mut window: Option<(Instant, u64)> = None;
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "after {total} bytes ({:.1} s): {e}",
                    first.map_or(0.0, |t| t.elapsed().as_secs_f64())
                ),
            )
        })?;
        if n == 0 {
            return Err(io::Error::other(format!(
                "stream ended after {total} bytes, before the measurement window did"
            )));
        }
        total += n as u64;
        let t0 = *first.get_or_insert_with(Instant::now);
        match &mut window {
            None if t0.elapsed() >= warm => window = Some((Instant::now(), 0)),
            None => {}
            Some((w0, bytes)) => {
                *bytes += n as u64;
                let el = w0.elapsed().as_secs_f64();
                if el >= secs {
                    return Ok(*bytes as f64 * 8.0 / el / 1e9);
                }
            }
        }
    }
}

/// Whether `e` is the peer ending the connection (the end a reader-paced source expects).
pub(crate) fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
    )
}

/// A sender's counters from `TCP_INFO` (Linux's layout, which our engine gives too).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct SendInfo {
    /// `tcpi_bytes_sent`: bytes sent, retransmissions included.
    pub sent: u64,
    /// `tcpi_bytes_retrans`.
    pub retrans: u64,
    /// `tcpi_dsack_dups`: retransmissions the receiver said were duplicates (spurious).
    pub dsacks: u32,
}

impl SendInfo {
    /// Reads it from a `struct tcp_info` of `len` bytes (None when too short for the fields).
    pub(crate) fn parse(b: &[u8]) -> Option<SendInfo> {
        let u64_at = |o: usize| Some(u64::from_ne_bytes(b.get(o..o + 8)?.try_into().ok()?));
        let u32_at = |o: usize| Some(u32::from_ne_bytes(b.get(o..o + 4)?.try_into().ok()?));
        let info = SendInfo {
            sent: u64_at(200)?,
            retrans: u64_at(208)?,
            dsacks: u32_at(216)?,
        };
        (info.sent > 0).then_some(info)
    }

    /// The share of bytes sent that were retransmissions, in percent.
    pub(crate) fn retrans_pct(&self) -> f64 {
        self.retrans as f64 * 100.0 / self.sent.max(1) as f64
    }

    /// The line a helper prints.
    pub(crate) fn line(&self) -> String {
        format!("info {} {} {}", self.sent, self.retrans, self.dsacks)
    }

    /// Reads [`SendInfo::line`] without its `info ` prefix.
    pub(crate) fn from_line(rest: &str) -> Option<SendInfo> {
        let mut it = rest.split_whitespace().map(str::parse::<u64>);
        let (sent, retrans, dsacks) = (it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?);
        Some(SendInfo {
            sent,
            retrans,
            dsacks: u32::try_from(dsacks).ok()?,
        })
    }
}

/// `TCP_INFO` of a kernel socket.
pub(crate) fn kernel_send_info(s: &TcpStream) -> Option<SendInfo> {
    let mut b = [0u8; 256];
    let mut len = b.len() as libc::socklen_t;
    // SAFETY: a valid fd, a buffer of `len` bytes and its length.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            b.as_mut_ptr().cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(())?;
    SendInfo::parse(&b[..len as usize])
}

/// How often a reader-paced writer looks whether it was told to stop (its write timeout).
pub(crate) const STOP_POLL: Duration = Duration::from_millis(200);

/// Writes to `w` until the peer resets or closes the connection, `stop()` says so (checked
/// whenever a write completes or times out: give `w` a write timeout such as [`STOP_POLL`]),
/// or `limit` passes; all of these are Ok, other errors are errors. `sample` is called after
/// every write (for `TCP_INFO`).
pub(crate) fn write_until_closed(
    mut w: impl Write,
    limit: Duration,
    stop: impl Fn() -> bool,
    mut sample: impl FnMut(),
) -> io::Result<()> {
    let buf = vec![0x5au8; 64 * 1024];
    let end = Instant::now() + limit;
    while Instant::now() < end && !stop() {
        match w.write_all(&buf) {
            Ok(()) => sample(),
            Err(e) if is_peer_gone(&e) => return Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sets the congestion control of a kernel socket (`TCP_CONGESTION`).
pub(crate) fn set_congestion(s: &TcpStream, cc: &str) -> io::Result<()> {
    // SAFETY: a valid fd and a buffer of the given length.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            cc.as_ptr().cast(),
            cc.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        let e = io::Error::last_os_error();
        Err(io::Error::new(
            e.kind(),
            format!("TCP_CONGESTION {cc:?}: {e}"),
        ))
    }
}

/// Writes to `w` for `total` seconds, then returns (the caller closes).
pub(crate) fn write_for(mut w: impl Write, total: Duration) -> io::Result<()> {
    let buf = vec![0x5au8; 64 * 1024];
    let end = Instant::now() + total;
    while Instant::now() < end {
        w.write_all(&buf)?;
    }
    Ok(())
}

/// How long a source writes so a sink measuring `secs` sees a full window.
pub(crate) fn source_secs(secs: f64) -> Duration {
    warmup(secs) + Duration::from_secs_f64(secs) + Duration::from_millis(300)
}

fn arg<'a>(args: &'a [String], i: usize, what: &str) -> io::Result<&'a str> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("missing {what}")))
}

fn parse_secs(s: &str) -> io::Result<f64> {
    s.parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0 && *v < 3600.0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("bad seconds {s:?}")))
}

fn parse_addr(s: &str) -> io::Result<SocketAddr> {
    s.parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("bad address {s:?}")))
}

/// The helper's entry point; returns the process exit code.
pub(crate) fn main(args: &[String]) -> i32 {
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ioth-bench helper {args:?}: {e}");
            1
        }
    }
}

fn run(args: &[String]) -> io::Result<()> {
    let mut out = io::stdout();
    match arg(args, 0, "helper kind")? {
        "tcp-sink" => {
            let addr = parse_addr(arg(args, 1, "address")?)?;
            let secs = parse_secs(arg(args, 2, "seconds")?)?;
            let l = TcpListener::bind(addr)?;
            writeln!(out, "listening")?;
            out.flush()?;
            let (s, _) = l.accept()?;
            let g = read_window(s, secs)?;
            writeln!(out, "gbps {g}")?;
        }
        "tcp-source" => {
            let addr = parse_addr(arg(args, 1, "address")?)?;
            let secs = parse_secs(arg(args, 2, "seconds")?)?;
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
            write_for(&s, Duration::from_secs_f64(secs))?;
        }
        "tcp-sink-for" => {
            let addr = parse_addr(arg(args, 1, "address")?)?;
            let secs = parse_secs(arg(args, 2, "seconds")?)?;
            let l = TcpListener::bind(addr)?;
            writeln!(out, "listening")?;
            out.flush()?;
            let (s, _) = l.accept()?;
            s.set_read_timeout(Some(STALL))?;
            let g = read_for(&s, secs)?;
            writeln!(out, "gbps {g}")?;
            out.flush()?;
            // Closing with data unread resets the connection: the source stops at once.
            drop(s);
        }
        "tcp-source-until" => {
            let addr = parse_addr(arg(args, 1, "address")?)?;
            let secs = parse_secs(arg(args, 2, "seconds")?)?;
            let s = TcpStream::connect_timeout(&addr, STALL)?;
            if let Some(cc) = args.get(3) {
                set_congestion(&s, cc)?;
            }
            // The parent closing our stdin stops us too: a peer that neither reads nor
            // resets (an orphan holding a zero window) cannot keep us writing.
            let stdin_closed = spawn_stdin_watch();
            s.set_write_timeout(Some(STOP_POLL))?;
            let mut last = None;
            write_until_closed(
                &s,
                Duration::from_secs_f64(secs),
                || stdin_closed.load(std::sync::atomic::Ordering::Relaxed),
                || {
                    if let Some(i) = kernel_send_info(&s) {
                        last = Some(i);
                    }
                },
            )?;
            if let Some(i) = last {
                writeln!(out, "{}", i.line())?;
            }
        }
        "hub-send" => {
            let link = vde::open(arg(args, 1, "VNL")?)?;
            writeln!(out, "ready")?;
            out.flush()?;
            let stdin_closed = spawn_stdin_watch();
            let mut f = vec![0x55u8; 1514];
            f[0..6].copy_from_slice(&[0xff; 6]);
            f[6..12].copy_from_slice(&[2, 0, 0, 0, 0xbe, 1]);
            f[12..14].copy_from_slice(&[0x88, 0xb5]); // local experimental ethertype
            while !stdin_closed.load(std::sync::atomic::Ordering::Relaxed) {
                for _ in 0..256 {
                    link.send(&f)?;
                }
            }
        }
        "hub-recv" => {
            let link = vde::open(arg(args, 1, "VNL")?)?;
            let secs = parse_secs(arg(args, 2, "seconds")?)?;
            writeln!(out, "ready")?;
            out.flush()?;
            let pps = count_frames(&link, secs, Duration::from_secs(10))?;
            writeln!(out, "pps {pps}")?;
        }
        "dns-rtt" => {
            let addr = parse_addr(arg(args, 1, "address")?)?;
            let secs = parse_secs(arg(args, 2, "seconds")?)?;
            crate::rows::rtt_helper(addr, secs, &mut out)?;
        }
        "ours" => {
            let row = arg(args, 1, "row")?;
            let secs = parse_secs(arg(args, 2, "seconds")?)?;
            let figure = crate::rows::ours_only(row, secs)?;
            writeln!(out, "{row}: {figure}")?;
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown helper {other:?}"),
            ));
        }
    }
    out.flush()
}

/// A flag set when stdin reaches EOF (the parent let go of us).
fn spawn_stdin_watch() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = flag.clone();
    std::thread::spawn(move || {
        let mut b = [0u8; 64];
        while matches!(io::stdin().read(&mut b), Ok(n) if n > 0) {}
        f.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    flag
}

fn poll_in(fd: i32, ms: i32) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the call.
    unsafe { libc::poll(&mut p, 1, ms) };
}

/// Counts frames arriving on `link`: waits (up to `first_limit`) for the first, then returns
/// frames/s over the `secs` after a warm-up.
pub(crate) fn count_frames(link: &vde::Link, secs: f64, first_limit: Duration) -> io::Result<f64> {
    let mut batch = vde::FrameBatch::new(vde::BATCH_MAX);
    let give_up = Instant::now() + first_limit;
    let fd = link.as_raw_fd();
    let recv = |batch: &mut vde::FrameBatch| -> io::Result<u64> {
        match link.recv_batch(batch) {
            Ok(n) => Ok(n as u64),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                poll_in(fd, 50);
                Ok(0)
            }
            Err(e) => Err(e),
        }
    };
    while recv(&mut batch)? == 0 {
        if Instant::now() > give_up {
            return Err(io::Error::other("no frame arrived"));
        }
    }
    let warm_end = Instant::now() + warmup(secs);
    while Instant::now() < warm_end {
        recv(&mut batch)?;
    }
    let t0 = Instant::now();
    let mut n = 0u64;
    loop {
        n += recv(&mut batch)?;
        let el = t0.elapsed().as_secs_f64();
        if el >= secs {
            return Ok(n as f64 / el);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_info_reads_linux_offsets_and_round_trips() {
        let mut b = [0u8; 236];
        b[200..208].copy_from_slice(&1_000_000u64.to_ne_bytes());
        b[208..216].copy_from_slice(&12_345u64.to_ne_bytes());
        b[216..220].copy_from_slice(&7u32.to_ne_bytes());
        let i = SendInfo::parse(&b).unwrap();
        assert_eq!((i.sent, i.retrans, i.dsacks), (1_000_000, 12_345, 7));
        assert!((i.retrans_pct() - 1.2345).abs() < 1e-9);
        let line = i.line();
        assert_eq!(
            SendInfo::from_line(line.strip_prefix("info ").unwrap()),
            Some(i)
        );
        assert_eq!(SendInfo::parse(&b[..104]), None, "too short for the fields");
        assert_eq!(SendInfo::parse(&[0u8; 236]), None, "nothing sent");
    }
}
