//! `hub_pps`: 1514-byte frames per second from one member to another, (1) both members in this
//! process on an in-process hub, (2) both members in other processes joined to our hub served
//! at a path; reference: the real `vde_switch -x` with the same two external members (our own
//! helper processes speaking the VDE protocol, so only the switch differs).

use std::io;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Ctx;
use crate::helper::count_frames;
use crate::peers::{ChildGuard, TempDir, VdeSwitch, expect_line, have, self_exe};
use crate::report::{Better, Row, Samples, num};

fn frame() -> Vec<u8> {
    let mut f = vec![0x55u8; 1514];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0xbe, 2]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f
}

/// Two members of one in-process hub: a sender thread, this thread receiving.
/// Returns (delivered/s, offered/s).
fn inproc(secs: f64) -> io::Result<(f64, f64)> {
    let hub = vde::Hub::new();
    let (tx, rx) = (hub.connect()?, hub.connect()?);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let (s, c) = (stop.clone(), sent.clone());
    let sender = std::thread::spawn(move || -> io::Result<()> {
        let f = frame();
        while !s.load(Ordering::Relaxed) {
            for _ in 0..64 {
                tx.send(&f)?;
            }
            c.fetch_add(64, Ordering::Relaxed);
        }
        Ok(())
    });
    let t0 = Instant::now();
    let s0 = sent.load(Ordering::Relaxed);
    let got = count_frames(&rx, secs, Duration::from_secs(5));
    let offered = (sent.load(Ordering::Relaxed) - s0) as f64 / t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sender
        .join()
        .map_err(|_| io::Error::other("sender panicked"))??;
    Ok((got?, offered))
}

/// Two helper processes (`hub-recv`, `hub-send`) on `vnl`: frames/s delivered.
fn external(vnl: &str, secs: f64) -> io::Result<f64> {
    let exe = self_exe()?;
    let mut cmd = Command::new(&exe);
    cmd.args(["--helper", "hub-recv", vnl, &secs.to_string()]);
    let mut recv = ChildGuard::spawn(cmd, "hub-recv helper")?;
    let mut rl = recv.lines()?;
    expect_line(&mut rl, "ready")?;
    let mut cmd = Command::new(&exe);
    cmd.args(["--helper", "hub-send", vnl]);
    let mut send = ChildGuard::spawn(cmd, "hub-send helper")?;
    let mut sl = send.lines()?;
    expect_line(&mut sl, "ready")?;
    let pps = expect_line(&mut rl, "pps ")?;
    // Closing the sender's stdin ends it; the guard reaps it.
    drop(send.child.stdin.take());
    let _ = send.finish(Duration::from_secs(2));
    let _ = recv.finish(Duration::from_secs(2));
    pps.parse()
        .map_err(|_| io::Error::other(format!("bad pps line {pps:?}")))
}

/// Our hub served at a path, for members in other processes.
fn ours_served(dir: &TempDir, secs: f64) -> io::Result<f64> {
    let hub = vde::Hub::new();
    let path = hub.serve(
        &dir.0.join(crate::fixture::unique("hub")),
        &vde::ServeConfig::default(),
    )?;
    external(&format!("vde://{}", path.display()), secs)
}

fn real_switch(dir: &TempDir, secs: f64) -> io::Result<f64> {
    let sw = VdeSwitch::start(&dir.0.join(crate::fixture::unique("sw")))?;
    external(&sw.vnl(), secs)
}

pub(crate) fn run(ctx: &Ctx) -> Vec<Row> {
    let (mut inp, mut offered, mut ext, mut sw) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    let mut errors = Vec::new();
    let switch_ok = have("vde_switch");
    let dir = match TempDir::new("hub") {
        Ok(d) => d,
        Err(e) => {
            return vec![Row::skipped(
                "hub_pps",
                "frames/s",
                format!("temp dir: {e}"),
            )];
        }
    };
    for _ in 0..ctx.repeats {
        match inproc(ctx.secs) {
            Ok((d, o)) => {
                inp.0.push(d);
                offered.0.push(o);
            }
            Err(e) => errors.push(format!("in-process: {e}")),
        }
        match ours_served(&dir, ctx.secs) {
            Ok(v) => ext.0.push(v),
            Err(e) => errors.push(format!("our hub, external members: {e}")),
        }
        if switch_ok {
            match real_switch(&dir, ctx.secs) {
                Ok(v) => sw.0.push(v),
                Err(e) => errors.push(format!("vde_switch: {e}")),
            }
        }
    }
    let mut tail = String::new();
    if !switch_ok {
        tail.push_str("; vde_switch not installed: no reference");
    }
    if !errors.is_empty() {
        tail.push_str(&format!("; errors: {}", errors.join(", ")));
    }
    vec![
        Row::new(
            "hub_pps.inproc",
            "frames/s",
            Better::Higher,
            inp,
            sw.clone(),
            format!(
                "1514-byte frames delivered between two members of an in-process hub (offered {}/s by one sender thread); reference: vde_switch -x with two external members{tail}",
                num(offered.median())
            ),
        ),
        Row::new(
            "hub_pps.external",
            "frames/s",
            Better::Higher,
            ext,
            sw,
            format!(
                "two member processes (our vde:// client) through our hub served at a path vs through vde_switch -x{tail}"
            ),
        ),
    ]
}
