//! UDP datagrams that smoltcp handed to a socket of the other address family.
//!
//! smoltcp delivers a datagram to the first socket bound to its port whose address matches,
//! and a socket bound to a wildcard matches both families: with `[::]:53` and `0.0.0.0:53`
//! both bound (a DNS server's default), either one receives both families. Linux gives each
//! family to its own socket (this stack has no IPv4-mapped addresses, so an `AF_INET6`
//! socket is IPv6 only). Here a datagram of the wrong family is taken out of the socket that
//! got it and queued on the socket Linux would have chosen: the other family's socket bound
//! to the same port, to that address or to the wildcard (the exact address first). It is
//! dropped when there is none, or when that socket already holds a receive buffer's worth.
//!
//! Sockets that share a port with the other family are marked when bound (`dual`); their
//! datagrams are then moved out of smoltcp after every poll that changed socket state and
//! in every receive, into the queue of the socket they belong to, so each shows readable on
//! its own descriptor exactly when it has one. Other sockets are untouched. Buffers are
//! recycled: steady traffic allocates nothing (one copy per datagram on shared ports).

use std::collections::VecDeque;
use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddr};

use smoltcp::socket::udp;

use crate::core::Core;
use crate::sockets::{Kind, Received, Udp, scatter};

/// Most spare buffers a stack keeps.
const SPARE_MAX: usize = 64;
/// Most bytes a socket's steered queue holds (Linux's default receive buffer).
const QUEUE_BYTES: usize = 208 * 1024;

/// A datagram moved to the socket of its family.
#[derive(Debug)]
pub(crate) struct Steered {
    data: Vec<u8>,
    from: SocketAddr,
    dst: IpAddr,
    slot: usize,
}

/// The steered datagrams of a UDP socket.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    items: VecDeque<Steered>,
    bytes: usize,
}

impl Queue {
    /// Whether a datagram waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The length of the next datagram.
    pub(crate) fn next_len(&self) -> Option<usize> {
        self.items.front().map(|s| s.data.len())
    }
}

/// A datagram of the wrong family, copied out of smoltcp.
pub(crate) fn stray(
    spare: &mut Vec<Vec<u8>>,
    data: &[u8],
    meta: &udp::UdpMetadata,
    slot: usize,
) -> Option<Steered> {
    let dst: IpAddr = meta.local_address?.into();
    let mut buf = spare.pop().unwrap_or_default();
    buf.clear();
    buf.extend_from_slice(data);
    Some(Steered {
        data: buf,
        from: SocketAddr::new(meta.endpoint.addr.into(), meta.endpoint.port),
        dst,
        slot,
    })
}

fn wrong_family(ipv6: bool, meta: &udp::UdpMetadata) -> bool {
    meta.local_address
        .is_some_and(|a| IpAddr::from(a).is_ipv6() != ipv6)
}

/// Marks socket `id` (just bound) and every UDP socket of the other family bound to its
/// port as sharing the port: from then on their datagrams go through their queues here.
pub(crate) fn mark_dual(core: &mut Core, id: usize) {
    let Some((port, ipv6)) =
        core.socks
            .get(id)
            .and_then(Option::as_ref)
            .and_then(|r| match &r.kind {
                Kind::Udp(u) => u.local.map(|l| (l.port(), r.ipv6)),
                _ => None,
            })
    else {
        return;
    };
    let mut any = false;
    for rec in core.socks.iter_mut().flatten() {
        if rec.ipv6 != ipv6
            && let Kind::Udp(u) = &mut rec.kind
            && u.local.is_some_and(|l| l.port() == port)
        {
            u.dual = true;
            any = true;
        }
    }
    if any
        && let Some(Some(rec)) = core.socks.get_mut(id)
        && let Kind::Udp(u) = &mut rec.kind
    {
        u.dual = true;
    }
}

/// Moves every datagram smoltcp queued for socket `id`, if it shares its port with the
/// other family, into its own queue or, for the other family, that socket's.
pub(crate) fn steer(core: &mut Core, id: usize) {
    let mut found = Vec::new();
    {
        let Core {
            ifaces,
            socks,
            spare_bufs,
            ..
        } = core;
        let Some(Some(rec)) = socks.get_mut(id) else {
            return;
        };
        let ipv6 = rec.ipv6;
        let Kind::Udp(u) = &mut rec.kind else {
            return;
        };
        if !u.dual {
            return;
        }
        for &(s, h) in &u.subs {
            let Some(f) = ifaces.get_mut(s).and_then(Option::as_mut) else {
                continue;
            };
            let sock = f.sockets.get_mut::<udp::Socket>(h);
            while let Ok((data, meta)) = sock.recv() {
                let stray_one = wrong_family(ipv6, &meta);
                let Some(st) = stray(spare_bufs, data, &meta, s) else {
                    continue;
                };
                if stray_one {
                    found.push(st);
                } else if u.peer.is_some_and(|p| p != st.from)
                    || u.steered.bytes + st.data.len() > QUEUE_BYTES
                {
                    recycle(spare_bufs, st.data);
                } else {
                    u.steered.bytes += st.data.len();
                    u.steered.items.push_back(st);
                }
            }
        }
    }
    if !found.is_empty() {
        deliver(core, id, found);
    }
}

/// Queues `strays` (taken from socket `from_id`, bound to its port) on the sockets of their
/// family, and refreshes those sockets' descriptors.
pub(crate) fn deliver(core: &mut Core, from_id: usize, strays: Vec<Steered>) {
    crate::ident::trace!("steering {} datagrams from socket {from_id}", strays.len());
    let Some(port) = core
        .socks
        .get(from_id)
        .and_then(Option::as_ref)
        .and_then(|r| match &r.kind {
            Kind::Udp(u) => u.local.map(|l| l.port()),
            _ => None,
        })
    else {
        return;
    };
    for st in strays {
        match target(core, port, &st) {
            Some(t) => {
                if let Some(Some(rec)) = core.socks.get_mut(t)
                    && let Kind::Udp(u) = &mut rec.kind
                    && u.steered.bytes + st.data.len() <= QUEUE_BYTES
                {
                    u.steered.bytes += st.data.len();
                    u.steered.items.push_back(st);
                    core.refresh(t);
                    continue;
                }
                recycle(&mut core.spare_bufs, st.data);
            }
            None => recycle(&mut core.spare_bufs, st.data),
        }
    }
}

/// The socket Linux would deliver `st` to: same port, its family, bound to its destination
/// (first) or to the wildcard, and connected to its sender if connected at all.
fn target(core: &Core, port: u16, st: &Steered) -> Option<usize> {
    let mut wildcard = None;
    for (id, rec) in core.socks.iter().enumerate() {
        let Some(rec) = rec else { continue };
        let Kind::Udp(u) = &rec.kind else { continue };
        let Some(local) = u.local else { continue };
        if rec.ipv6 != st.dst.is_ipv6()
            || local.port() != port
            || u.peer.is_some_and(|p| p != st.from)
        {
            continue;
        }
        if local.ip() == st.dst {
            return Some(id);
        }
        if local.ip().is_unspecified() && wildcard.is_none() {
            wildcard = Some(id);
        }
    }
    wildcard
}

fn recycle(spare: &mut Vec<Vec<u8>>, buf: Vec<u8>) {
    if spare.len() < SPARE_MAX && buf.capacity() <= 65536 {
        spare.push(buf);
    }
}

/// Receives the next steered datagram of `u` into `bufs` (kept with `MSG_PEEK`).
pub(crate) fn take(
    u: &mut Udp,
    spare: &mut Vec<Vec<u8>>,
    bufs: &mut [IoSliceMut<'_>],
    flags: libc::c_int,
) -> Option<Received> {
    let st = u.steered.items.front()?;
    let copied = scatter(bufs, &st.data);
    let got = Received {
        len: if flags & libc::MSG_TRUNC != 0 {
            st.data.len()
        } else {
            copied
        },
        from: Some(st.from),
        truncated: copied < st.data.len(),
        dst: Some((st.dst, st.slot)),
        hop_limit: None,
    };
    if flags & libc::MSG_PEEK == 0
        && let Some(st) = u.steered.items.pop_front()
    {
        u.steered.bytes -= st.data.len();
        recycle(spare, st.data);
    }
    Some(got)
}
