//! One module per row of the table.

mod capi;
mod hub;
mod kernel_peer;
mod scale;
mod tcp;
mod udp;

use crate::Ctx;
use crate::report::Row;

/// Runs the row `name` (one of `crate::ROWS`); a row may produce several lines.
pub(crate) fn run(name: &str, ctx: &Ctx) -> Vec<Row> {
    match name {
        "tcp_stream_inproc" => tcp::run(ctx),
        "udp_rtt" => udp::rtt(ctx),
        "udp_pps" => udp::pps(ctx),
        "hub_pps" => hub::run(ctx),
        "capi_sendto" => capi::run(ctx),
        "tcp_kernel_peer" => kernel_peer::run(ctx),
        "stacks_scale" => scale::run(ctx),
        other => vec![Row::skipped(other, "-", "not implemented yet")],
    }
}
