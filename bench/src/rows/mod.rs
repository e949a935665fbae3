//! One module per row of the table.

mod capi;
mod dns;
mod hub;
mod kernel_peer;
mod named;
mod scale;
mod tcp;
mod tcp_lossy;
mod tcp_rr;
mod udp;

pub(crate) use dns::rtt_helper;

use crate::Ctx;
use crate::fixture::Engine;
use crate::report::Row;

/// Runs the row `name` (one of `crate::ROWS`); a row may produce several lines.
pub(crate) fn run(name: &str, ctx: &Ctx) -> Vec<Row> {
    match name {
        "tcp_stream_inproc" => tcp::run(ctx),
        "tcp_rr" => tcp_rr::rr(ctx),
        "tcp_crr" => tcp_rr::crr(ctx),
        "tcp_lossy" => tcp_lossy::run(ctx),
        "udp_rtt" => udp::rtt(ctx),
        "udp_pps" => udp::pps(ctx),
        "hub_pps" => hub::run(ctx),
        "capi_sendto" => capi::run(ctx),
        "tcp_kernel_peer" => kernel_peer::run(ctx),
        "stacks_scale" => scale::run(ctx),
        "dns_qps" => dns::qps(ctx),
        "dns_inproc" => dns::inproc(ctx),
        "named_qps" => named::qps(ctx),
        other => vec![Row::skipped(other, "-", "not implemented yet")],
    }
}

/// Our side alone of a row, for profiling: a one-line summary. The TCP rows take the engine
/// as a suffix (`tcp_rr.tcp_ioth`; `tcp_stream_inproc` alone is smoltcp's TCP).
pub(crate) fn ours_only(name: &str, secs: f64) -> std::io::Result<String> {
    let (row, engine) = match name.rsplit_once('.') {
        Some((row, "tcp_ioth")) => (row, Some(Engine::Ioth)),
        Some((row, "tcp_smoltcp")) => (row, Some(Engine::Smoltcp)),
        _ => (name, None),
    };
    match (row, engine) {
        ("tcp_stream_inproc", e) => {
            tcp::ours_with(e.unwrap_or(Engine::Smoltcp), secs).map(|g| format!("{g:.3} Gbit/s"))
        }
        ("tcp_rr" | "tcp_crr", Some(e)) => tcp_rr::ours_only(row, e, secs),
        _ => ours_only_other(name, secs),
    }
}

fn ours_only_other(name: &str, secs: f64) -> std::io::Result<String> {
    match name {
        "udp_rtt" => {
            udp::ours_rtt(secs).map(|(p50, p99)| format!("p50 {p50:.1} µs, p99 {p99:.1} µs"))
        }
        "udp_pps" => udp::ours_pps(secs).map(|(r, s)| format!("received {r:.0}/s, sent {s:.0}/s")),
        "dns_inproc" => {
            dns::ours_inproc(secs).map(|(q, p)| format!("{q:.0} queries/s, p50 {p:.1} µs"))
        }
        other => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("no our-side-only mode for {other:?}"),
        )),
    }
}
