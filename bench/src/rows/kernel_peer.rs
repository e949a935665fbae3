//! `tcp_kernel_peer`: our smoltcp stack and the kernel talking TCP through a real
//! `vde_switch -x`, the kernel on a TAP in a namespace the benchmark made (`vde_plug
//! vde://SW tap://tap0`), both directions; reference: kernel ↔ kernel through the same switch
//! with two TAPs in two namespaces. The kernel ends are this program in helper mode.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::Ctx;
use crate::fixture::smoltcp_stack;
use crate::helper::{read_window, source_secs, write_for};
use crate::peers::{
    ChildGuard, Netns, TapPlug, TempDir, VdeSwitch, expect_line, missing, self_exe,
};
use crate::report::{Better, Row, Samples};

const K1: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const OURS: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
const K2: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 3);

struct Setup {
    // Field order is drop order: plugs and namespaces before the switch and its directory.
    _plug1: TapPlug,
    _plug2: TapPlug,
    ns1: Netns,
    ns2: Netns,
    sw: VdeSwitch,
    _dir: TempDir,
}

fn setup() -> io::Result<Setup> {
    let dir = TempDir::new("kp")?;
    let sw = VdeSwitch::start(&dir.0.join("sw"))?;
    let ns1 = Netns::new()?;
    let ns2 = Netns::new()?;
    let plug1 = TapPlug::start(&ns1, &sw.vnl(), "tap0", &format!("{K1}/24"))?;
    let plug2 = TapPlug::start(&ns2, &sw.vnl(), "tap0", &format!("{K2}/24"))?;
    Ok(Setup {
        _plug1: plug1,
        _plug2: plug2,
        ns1,
        ns2,
        sw,
        _dir: dir,
    })
}

/// A `tcp-sink` helper listening in `ns` on `addr`.
fn sink(
    ns: &Netns,
    addr: SocketAddr,
    secs: f64,
) -> io::Result<(
    ChildGuard,
    io::Lines<io::BufReader<std::process::ChildStdout>>,
)> {
    let mut cmd = ns.command(&self_exe()?);
    cmd.args(["--helper", "tcp-sink", &addr.to_string(), &secs.to_string()]);
    let mut child = ChildGuard::spawn(cmd, "tcp-sink helper")?;
    let mut lines = child.lines()?;
    expect_line(&mut lines, "listening")?;
    Ok((child, lines))
}

fn gbps_line(lines: &mut io::Lines<io::BufReader<std::process::ChildStdout>>) -> io::Result<f64> {
    let v = expect_line(lines, "gbps ")?;
    v.parse()
        .map_err(|_| io::Error::other(format!("bad gbps line {v:?}")))
}

/// Our stack sends to the kernel in ns1.
fn ours_to_kernel(s: &Setup, stack: &ioth::Stack, port: u16, secs: f64) -> io::Result<f64> {
    let addr = SocketAddr::from((K1, port));
    let (mut child, mut lines) = sink(&s.ns1, addr, secs)?;
    let stream = stack.tcp_connect(addr)?;
    write_for(&stream, source_secs(secs))?;
    drop(stream);
    let g = gbps_line(&mut lines);
    let _ = child.finish(Duration::from_secs(5));
    g
}

/// The kernel in ns1 sends to our stack.
fn kernel_to_ours(s: &Setup, stack: &ioth::Stack, port: u16, secs: f64) -> io::Result<f64> {
    let listener = stack.tcp_listen(SocketAddr::from((OURS, port)))?;
    let mut cmd = s.ns1.command(&self_exe()?);
    let dur = source_secs(secs).as_secs_f64();
    cmd.args([
        "--helper",
        "tcp-source",
        &SocketAddr::from((OURS, port)).to_string(),
        &dur.to_string(),
    ]);
    let mut child = ChildGuard::spawn(cmd, "tcp-source helper")?;
    let (stream, _) = listener.accept()?;
    let g = read_window(&stream, secs);
    let _ = child.finish(Duration::from_secs(5));
    g
}

/// Kernel in ns2 sends to the kernel in ns1.
fn kernel_to_kernel(s: &Setup, port: u16, secs: f64) -> io::Result<f64> {
    let addr = SocketAddr::from((K1, port));
    let (mut sink_child, mut lines) = sink(&s.ns1, addr, secs)?;
    let mut cmd = s.ns2.command(&self_exe()?);
    let dur = source_secs(secs).as_secs_f64();
    cmd.args([
        "--helper",
        "tcp-source",
        &addr.to_string(),
        &dur.to_string(),
    ]);
    let mut src = ChildGuard::spawn(cmd, "tcp-source helper")?;
    let g = gbps_line(&mut lines);
    let _ = src.finish(Duration::from_secs(5));
    let _ = sink_child.finish(Duration::from_secs(5));
    g
}

pub(crate) fn run(ctx: &Ctx) -> Vec<Row> {
    const UNIT: &str = "Gbit/s";
    if let Some(why) = missing(&["vde_switch", "vde_plug", "ip"]) {
        return vec![Row::skipped("tcp_kernel_peer", UNIT, why)];
    }
    let s = match setup() {
        Ok(s) => s,
        Err(e) => return vec![Row::skipped("tcp_kernel_peer", UNIT, format!("setup: {e}"))],
    };
    let stack = match smoltcp_stack(&s.sw.vnl(), OURS) {
        Ok(st) => st,
        Err(e) => {
            return vec![Row::skipped(
                "tcp_kernel_peer",
                UNIT,
                format!("our stack on {}: {e}", s.sw.vnl()),
            )];
        }
    };
    let (mut tx, mut rx, mut kk) = (Samples::default(), Samples::default(), Samples::default());
    let mut errors = Vec::new();
    let mut port = 5200u16;
    for _ in 0..ctx.repeats {
        port += 3;
        match ours_to_kernel(&s, &stack, port, ctx.secs) {
            Ok(v) => tx.0.push(v),
            Err(e) => errors.push(format!("ours→kernel: {e}")),
        }
        match kernel_to_ours(&s, &stack, port + 1, ctx.secs) {
            Ok(v) => rx.0.push(v),
            Err(e) => errors.push(format!("kernel→ours: {e}")),
        }
        match kernel_to_kernel(&s, port + 2, ctx.secs) {
            Ok(v) => kk.0.push(v),
            Err(e) => errors.push(format!("kernel→kernel: {e}")),
        }
    }
    let tail = if errors.is_empty() {
        String::new()
    } else {
        format!("; errors: {}", errors.join(", "))
    };
    let base = "through vde_switch -x; kernel on a TAP via vde_plug in a namespace; reference: kernel→kernel through the same switch (two TAPs, two vde_plug); goal: ratio ≥ 1";
    vec![
        Row::new(
            "tcp_kernel_peer.ours_to_kernel",
            UNIT,
            Better::Higher,
            tx,
            kk.clone(),
            format!("our stack sends, the kernel receives, {base}{tail}"),
        ),
        Row::new(
            "tcp_kernel_peer.kernel_to_ours",
            UNIT,
            Better::Higher,
            rx,
            kk,
            format!("the kernel sends, our stack receives, {base}{tail}"),
        ),
    ]
}
