//! Rough throughput of 1514-byte frames between two members: of an in-process hub, and of a
//! served hub (members over unix datagrams, as other processes would join) next to a real
//! `vde_switch -x` when it is installed. Run with `cargo run --release -p vde --example
//! hub_throughput`. The project's benchmark is the reference for claims; this is a probe.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn pump(tx: vde::Link, rx: vde::Link, secs: f64) -> (u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let sender = std::thread::spawn(move || {
        let mut f = vec![0x55u8; 1514];
        f[0..6].copy_from_slice(&[0xff; 6]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        let mut sent = 0u64;
        while !s.load(Ordering::Relaxed) {
            for _ in 0..64 {
                let _ = tx.send(&f);
            }
            sent += 64;
        }
        sent
    });
    let mut batch = vde::FrameBatch::new(64);
    let mut got = 0u64;
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        match rx.recv_batch(&mut batch) {
            Ok(n) => got += n as u64,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut p = libc::pollfd {
                    fd: rx.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: p is valid for the call.
                unsafe { libc::poll(&mut p, 1, 100) };
            }
            Err(e) => panic!("{e}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().unwrap_or(0);
    (sent, got)
}

fn report(what: &str, secs: f64, (sent, got): (u64, u64)) {
    println!(
        "{what:<28} delivered {:>10.0} frames/s ({:>6.2} Gbit/s), offered {:>10.0}/s",
        got as f64 / secs,
        got as f64 * 1514.0 * 8.0 / secs / 1e9,
        sent as f64 / secs
    );
}

/// One thread sends a batch of 64 then receives it: the cost per frame without scheduling.
fn same_thread(secs: f64) -> io::Result<(u64, u64)> {
    let hub = vde::Hub::new();
    let (tx, rx) = (hub.connect()?, hub.connect()?);
    let mut f = vec![0x55u8; 1514];
    f[0..6].copy_from_slice(&[0xff; 6]);
    let mut batch = vde::FrameBatch::new(64);
    let (mut sent, mut got) = (0u64, 0u64);
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        for _ in 0..64 {
            tx.send(&f)?;
        }
        sent += 64;
        while let Ok(n) = rx.recv_batch(&mut batch) {
            got += n as u64;
        }
    }
    Ok((sent, got))
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Memory of `n` in-process members of one switch, each having received one broadcast.
fn scale(n: usize) -> io::Result<()> {
    let before = rss_kib();
    let hub = vde::Hub::new_switch();
    let members = (0..n)
        .map(|_| hub.connect())
        .collect::<io::Result<Vec<_>>>()?;
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    let t = Instant::now();
    members[0].send(&f)?;
    let fanout = t.elapsed();
    let mut buf = [0u8; 1518];
    let got = members[1..]
        .iter()
        .filter(|m| m.recv(&mut buf).is_ok())
        .count();
    println!(
        "{n} members: {} KiB RSS ({} bytes each), one broadcast reached {got} in {fanout:?}",
        rss_kib() - before,
        (rss_kib() - before) * 1024 / n as u64
    );
    Ok(())
}

fn main() -> io::Result<()> {
    let secs = 2.0;
    scale(10_000)?;
    report("in-process hub, 1 thread", secs, same_thread(secs)?);
    let hub = vde::Hub::new();
    report(
        "in-process hub",
        secs,
        pump(hub.connect()?, hub.connect()?, secs),
    );

    let dir = std::env::temp_dir().join(format!("vde-tput-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let served = vde::Hub::new();
    let path = served.serve(&dir.join("hub"), &vde::ServeConfig::default())?;
    let vnl = format!("vde://{}", path.display());
    report(
        "our hub, unix datagrams",
        secs,
        pump(vde::open(&vnl)?, vde::open(&vnl)?, secs),
    );
    drop(served);

    let sw = dir.join("sw");
    if let Ok(mut child) = std::process::Command::new("vde_switch")
        .args(["-x", "-s"])
        .arg(&sw)
        .stdin(std::process::Stdio::piped())
        .spawn()
    {
        while !sw.join("ctl").exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let vnl = format!("vde://{}", sw.display());
        report(
            "vde_switch -x",
            secs,
            pump(vde::open(&vnl)?, vde::open(&vnl)?, secs),
        );
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
