//! ioth-bench: the project's measuring instrument. Every row measures one of our paths and its
//! reference (the kernel, the real vde_switch) side by side in the same run, repeatedly, and
//! reports min/median/max.
//!
//! ```text
//! cargo run --release -p ioth-bench -- [--quick] [--json PATH] [ROW...]
//! ```
//!
//! Rows: `tcp_stream_inproc`, `tcp_rr`, `tcp_crr`, `udp_rtt`, `udp_pps`, `hub_pps`,
//! `tcp_kernel_peer`, `tcp_lossy`, `capi_sendto`, `stacks_scale`, `dns_qps`, `dns_inproc`,
//! `named_qps` (all when none is named); the TCP rows have a line per TCP engine of the
//! smoltcp stack (`tcp=ioth`, `tcp=smoltcp`). `--quick` runs short and few
//! repetitions for CI smoke use. Rows that need tools or privileges missing here are reported
//! as skipped with the reason. The program re-executes itself (`--helper ...`) for the peers it
//! runs in other processes and namespaces.

mod fixture;
mod helper;
mod machine;
mod peers;
mod report;
mod rows;

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use report::Row;

/// How long and how often every row measures.
pub(crate) struct Ctx {
    /// Seconds each measurement runs (after its warm-up).
    pub secs: f64,
    /// Repetitions of each measurement (min/median/max are over these).
    pub repeats: usize,
    /// CI smoke mode.
    pub quick: bool,
}

/// The rows, in the order they run, with what each measures (for `--help`).
const ROWS: &[(&str, &str)] = &[
    (
        "tcp_stream_inproc",
        "bulk TCP between two stacks on hub://@, per engine; vs kernel 127.0.0.1",
    ),
    (
        "tcp_rr",
        "64-byte request/response on one connection, per engine; vs kernel 127.0.0.1",
    ),
    (
        "tcp_crr",
        "connect, request/response, close, per engine; vs kernel 127.0.0.1",
    ),
    ("udp_rtt", "64-byte UDP echo latency; vs kernel 127.0.0.1"),
    (
        "udp_pps",
        "64-byte UDP datagrams per second; vs kernel 127.0.0.1",
    ),
    ("hub_pps", "frames through our hubs; vs vde_switch"),
    (
        "tcp_kernel_peer",
        "TCP with a kernel peer through vde_switch; vs kernel↔kernel",
    ),
    (
        "tcp_lossy",
        "TCP with a kernel peer through an impairing hub, per engine; vs kernel↔kernel",
    ),
    ("capi_sendto", "sendto through the C API; vs the Rust API"),
    (
        "stacks_scale",
        "1,000 and 10,000 stacks: creation, memory, threads; vs kernel netns",
    ),
    ("dns_qps", "ioth-dns behind vde_switch; vs NSD"),
    (
        "dns_inproc",
        "our resolver to ioth-dns in one process; vs NSD on loopback",
    ),
    (
        "named_qps",
        "iothnamed behind vde_switch; vs NSD and unbound",
    ),
];

/// The rows' names, in the order they run.
fn rows_in_order() -> impl Iterator<Item = &'static str> {
    ROWS.iter().map(|(name, _)| *name)
}

fn usage() -> String {
    let mut s = String::from(
        "usage: ioth-bench [--quick] [--json PATH] [--secs S] [--repeats N] [ROW...]\nrows (all when none is named):\n",
    );
    for (name, what) in ROWS {
        s.push_str(&format!("  {name:<18} {what}\n"));
    }
    s.push_str(
        "TCP rows have a line per TCP engine of the smoltcp stack: .tcp_ioth (tcp=ioth) and .tcp_smoltcp (tcp=smoltcp; tcp_stream_inproc's historical line)",
    );
    s
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--helper") {
        std::process::exit(helper::main(&args[1..]));
    }
    match run(&args) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("ioth-bench: {e}");
            std::process::exit(2);
        }
    }
}

/// Rows read against a goal stated relative to another row of the same run:
/// `tcp_stream_inproc` (each engine's line) against kernel ↔ kernel through vde_switch
/// (goal: 3x).
fn derive_goal_rows(rows: &mut Vec<Row>) {
    let Some(kk) = rows
        .iter()
        .find(|r| r.name == "tcp_kernel_peer.ours_to_kernel" && !r.skipped)
        .map(|r| r.reference.clone())
    else {
        return;
    };
    for line in ["tcp_stream_inproc", "tcp_stream_inproc.tcp_ioth"] {
        let Some(ours) = rows
            .iter()
            .find(|r| r.name == line && !r.skipped)
            .map(|r| r.ours.clone())
        else {
            continue;
        };
        let row = Row::new(
            &format!("{line}.vs_vde_switch"),
            "Gbit/s",
            report::Better::Higher,
            ours,
            kk.clone(),
            format!(
                "{line} against kernel→kernel through vde_switch -x (tcp_kernel_peer's reference, same run); goal: ratio ≥ 3"
            ),
        );
        let at = rows
            .iter()
            .rposition(|r| r.name.starts_with("tcp_stream_inproc"))
            .map_or(rows.len(), |i| i + 1);
        rows.insert(at, row);
    }
}

fn run(args: &[String]) -> io::Result<()> {
    let mut quick = false;
    let mut json: Option<PathBuf> = None;
    let mut secs: Option<f64> = None;
    let mut repeats: Option<usize> = None;
    let mut wanted: Vec<String> = Vec::new();
    let mut it = args.iter();
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidInput, format!("{m}\n{}", usage()));
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--json" => {
                json = Some(
                    it.next()
                        .ok_or_else(|| bad("--json needs a path".into()))?
                        .into(),
                );
            }
            "--secs" => {
                let v = it
                    .next()
                    .ok_or_else(|| bad("--secs needs a value".into()))?;
                secs = Some(
                    v.parse()
                        .ok()
                        .filter(|s: &f64| *s > 0.0 && *s <= 600.0)
                        .ok_or_else(|| bad(format!("bad --secs {v:?}")))?,
                );
            }
            "--repeats" => {
                let v = it
                    .next()
                    .ok_or_else(|| bad("--repeats needs a value".into()))?;
                repeats = Some(
                    v.parse()
                        .ok()
                        .filter(|n: &usize| (1..=100).contains(n))
                        .ok_or_else(|| bad(format!("bad --repeats {v:?}")))?,
                );
            }
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(());
            }
            row if rows_in_order().any(|r| r == row) => wanted.push(row.to_owned()),
            other => return Err(bad(format!("unknown argument {other:?}"))),
        }
    }
    if wanted.is_empty() {
        wanted = rows_in_order().map(str::to_owned).collect();
    }
    let ctx = Ctx {
        secs: secs.unwrap_or(if quick { 0.3 } else { 1.5 }),
        repeats: repeats.unwrap_or(if quick { 3 } else { 5 }),
        quick,
    };
    let started = Instant::now();
    let machine = machine::describe();
    println!("ioth-bench on {machine}");
    let load_before = machine::loadavg();
    println!(
        "{} s per measurement, {} repetitions{}",
        ctx.secs,
        ctx.repeats,
        if quick { " (--quick)" } else { "" }
    );
    let mut rows: Vec<Row> = Vec::new();
    for name in rows_in_order().filter(|r| wanted.iter().any(|w| w == r)) {
        let t = Instant::now();
        eprintln!("== {name}");
        let got = rows::run(name, &ctx);
        for r in &got {
            eprintln!(
                "   {}",
                report::table(std::slice::from_ref(r))
                    .lines()
                    .nth(2)
                    .unwrap_or("")
            );
        }
        eprintln!("   ({:.1} s)", t.elapsed().as_secs_f64());
        rows.extend(got);
    }
    derive_goal_rows(&mut rows);
    println!();
    println!("{}", report::table(&rows));
    println!(
        "machine: {machine}; date: {}; total {:.0} s; load average {load_before} before, {} after",
        machine::now_utc(),
        started.elapsed().as_secs_f64(),
        machine::loadavg()
    );
    if let Some(path) = json {
        std::fs::write(&path, report::json(&rows))?;
        println!("JSON written to {}", path.display());
    }
    Ok(())
}
