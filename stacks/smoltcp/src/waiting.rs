//! Datagrams waiting for a neighbour: our own probes for the next hops of UDP sends.
//!
//! smoltcp resolves neighbours with one rate limit per interface (see `tcp_ioth::probe`):
//! after any ARP request or neighbour solicitation it asks for no other neighbour for a
//! second, and keeps a socket's datagrams queued meanwhile. So the first datagram to a new
//! neighbour waited up to a second or two whenever another lookup had just gone out (as it
//! does at start, where every node resolves someone at once): a DNS query's first try, or
//! the `threads` example's echoes, timed out. Linux asks for each neighbour on its own.
//!
//! Each UDP (and ICMP echo socket) send notes (socket, interface, destination) here: no
//! route is looked up per datagram. While that socket still has datagrams queued on that
//! interface, the destination's next hop is probed by us after [`PROBE_AFTER`] and
//! then once every [`PROBE_EVERY`], as our TCP engine's queues are; the answer fills
//! smoltcp's cache and the queue goes. A note goes when the queue is empty, when the socket
//! is gone, or after `NEIGHBOUR_TIMEOUT` (smoltcp has then resolved the hop or given up).

use std::net::IpAddr;

use smoltcp::socket::{icmp, udp};

use crate::core::{Iface, NEIGHBOUR_TIMEOUT, StackRoute, next_hop};
use crate::sockets::Kind;
use crate::tcp_ioth::probe::{self, PROBE_AFTER, PROBE_EVERY};

/// A destination whose next hop a socket's datagrams may be waiting for.
#[derive(Debug)]
pub(crate) struct Waiting {
    /// The socket (index in `Core::socks`).
    pub id: usize,
    /// The interface slot the datagrams leave by (never `lo`).
    pub slot: usize,
    /// Where they go (the next hop is looked up only when it is probed).
    pub dst: IpAddr,
    /// When the first of them was queued (µs).
    pub since: u64,
    /// When we last probed its next hop (µs).
    pub probed_at: Option<u64>,
}

/// Notes that socket `id` queued a datagram on `slot` for `dst` at `now` (µs); a
/// destination already noted for that socket keeps its time.
pub(crate) fn note(waiting: &mut Vec<Waiting>, id: usize, slot: usize, dst: IpAddr, now: u64) {
    if slot == 0 || dst.is_unspecified() || dst.is_multicast() {
        return;
    }
    if let IpAddr::V4(a) = dst
        && a.is_broadcast()
    {
        return;
    }
    if waiting
        .iter()
        .any(|w| w.id == id && w.slot == slot && w.dst == dst)
    {
        return;
    }
    waiting.push(Waiting {
        id,
        slot,
        dst,
        since: now,
        probed_at: None,
    });
}

/// Bytes socket `id` still has queued on `slot`, or `None` when the socket or its part on
/// that interface is gone.
fn queued(
    ifaces: &[Option<Iface>],
    socks: &[Option<crate::sockets::SockRec>],
    id: usize,
    slot: usize,
) -> Option<usize> {
    let rec = socks.get(id)?.as_ref()?;
    let f = ifaces.get(slot)?.as_ref()?;
    match &rec.kind {
        Kind::Udp(u) => {
            let &(_, h) = u.subs.iter().find(|(s, _)| *s == slot)?;
            Some(f.sockets.get::<udp::Socket>(h).send_queue())
        }
        Kind::Icmp(i) => {
            let &(_, h) = i.subs.iter().find(|(s, _)| *s == slot)?;
            Some(f.sockets.get::<icmp::Socket>(h).send_queue())
        }
        _ => None,
    }
}

/// Forgets what is no longer waiting and probes the next hops whose turn it is (`now` in
/// µs; `routes` are the stack's, for the next hop of a destination).
pub(crate) fn probe_due(
    waiting: &mut Vec<Waiting>,
    ifaces: &[Option<Iface>],
    routes: &[StackRoute],
    socks: &[Option<crate::sockets::SockRec>],
    now: u64,
) {
    waiting.retain_mut(|w| {
        if now.saturating_sub(w.since) >= NEIGHBOUR_TIMEOUT {
            return false;
        }
        if queued(ifaces, socks, w.id, w.slot).is_none_or(|n| n == 0) {
            return false;
        }
        let due = match w.probed_at {
            None => now.saturating_sub(w.since) >= PROBE_AFTER,
            Some(at) => now.saturating_sub(at) >= PROBE_EVERY,
        };
        if due
            && let Some(f) = ifaces.get(w.slot).and_then(Option::as_ref)
            && let Ok((slot, hop)) = next_hop(ifaces, routes, w.dst)
            && slot == w.slot
        {
            probe::probe(f, hop);
            w.probed_at = Some(now);
        }
        true
    });
}

/// When [`probe_due`] next has work (µs), or `u64::MAX`.
pub(crate) fn deadline(waiting: &[Waiting]) -> u64 {
    waiting
        .iter()
        .map(|w| {
            let probe = match w.probed_at {
                None => w.since.saturating_add(PROBE_AFTER),
                Some(at) => at.saturating_add(PROBE_EVERY),
            };
            probe.min(w.since.saturating_add(NEIGHBOUR_TIMEOUT))
        })
        .min()
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn a_destination_is_noted_once_per_socket_and_never_for_lo_or_broadcast() {
        let mut w = Vec::new();
        let dst = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        note(&mut w, 3, 1, dst, 100);
        note(&mut w, 3, 1, dst, 200);
        note(&mut w, 4, 1, dst, 300);
        note(&mut w, 3, 0, dst, 100);
        note(&mut w, 3, 1, IpAddr::V4(Ipv4Addr::BROADCAST), 100);
        note(&mut w, 3, 1, "ff02::1".parse().expect("addr"), 100);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].since, 100, "a noted destination keeps its first time");
        assert_eq!(deadline(&w), 100 + PROBE_AFTER);
        w[0].probed_at = Some(150);
        w[1].probed_at = Some(400);
        assert_eq!(deadline(&w), 150 + PROBE_EVERY);
        assert_eq!(deadline(&[]), u64::MAX);
    }
}
