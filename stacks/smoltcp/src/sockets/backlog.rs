//! A listener's backlog over smoltcp: one spare listening socket per interface, connections
//! moved from SYN received to the accept queue, and stale sockets that give way to a new SYN
//! for their tuple.

use super::*;

/// Keeps each listener with a spare listening socket on `slot` (while its backlog allows) and
/// moves its connections along: SYN received, then established into the accept queue.
pub(crate) fn refill_listeners(
    listeners: &[usize],
    socks: &mut [Option<SockRec>],
    slot: usize,
    sockets: &mut SocketSet<'static>,
) {
    for &id in listeners {
        let Some(Some(rec)) = socks.get_mut(id) else {
            continue;
        };
        let Kind::Listener(l) = &mut rec.kind else {
            continue;
        };
        // Spares that took a SYN become embryos, unless the accept queue is full: then the
        // SYN is dropped unanswered (the spare goes before its SYN-ACK leaves), as Linux
        // drops it, and the client retries. A new SYN for a connection this stack still holds
        // in a closing state replaces it (RFC 6191's TIME-WAIT reuse; for FIN-WAIT, CLOSING
        // and LAST-ACK the end result of Linux's challenge ACK and the client's RST); one
        // for a synchronized connection is dropped (RFC 5961 4: no blind resets).
        let mut i = 0;
        while i < l.spares.len() {
            let (s, h) = l.spares[i];
            if s != slot || sockets.get::<tcp::Socket>(h).state() == tcp::State::Listen {
                i += 1;
                continue;
            }
            l.spares.swap_remove(i);
            if l.ready.len() >= l.backlog || !take_over_stale(sockets, h) {
                sockets.remove(h);
                continue;
            }
            l.embryos.push((s, h));
            if l.embryos.len() > SYN_QUEUE_MAX
                && let Some(pos) = l.embryos.iter().position(|&(es, _)| es == slot)
            {
                let (_, oldest) = l.embryos.remove(pos);
                sockets.remove(oldest);
            }
        }
        // Embryos that completed the handshake queue up, in order; failed ones go.
        let mut i = 0;
        while i < l.embryos.len() {
            let (s, h) = l.embryos[i];
            if s != slot {
                i += 1;
                continue;
            }
            match sockets.get::<tcp::Socket>(h).state() {
                tcp::State::SynReceived => i += 1,
                tcp::State::Closed | tcp::State::Listen => {
                    l.embryos.remove(i);
                    sockets.remove(h);
                }
                _ => {
                    l.embryos.remove(i);
                    // Established: its timers are the connection's from now on.
                    sockets.get_mut::<tcp::Socket>(h).set_timeout(None);
                    l.ready.push_back((s, h));
                }
            }
        }
        if !l.spares.iter().any(|&(s, _)| s == slot) {
            let mut sock = tcp_socket(&l.opts);
            // A half-open connection whose peer goes silent ends like Linux's after its
            // SYN-ACK retries.
            sock.set_timeout(Some(smol_duration(SYN_RECV_TIMEOUT)));
            if sock.listen(listen_endpoint(l.local)).is_ok() {
                let h = sockets.add(sock);
                l.spares.push((slot, h));
            }
        }
    }
}

/// Whether the new connection `fresh` (a spare that just took a SYN) may go on, given the
/// other connections of the set (see [`give_way`]).
fn take_over_stale(sockets: &mut SocketSet<'static>, fresh: SocketHandle) -> bool {
    let f = sockets.get::<tcp::Socket>(fresh);
    match (f.local_endpoint(), f.remote_endpoint()) {
        (Some(local), Some(remote)) => give_way(
            sockets,
            std_endpoint(local),
            std_endpoint(remote),
            Some(fresh),
        ),
        _ => true,
    }
}

/// Makes the connections of `sockets` (but `except`) that hold the four-tuple `local` <-
/// `remote` in a state that gives it up end; false when one still synchronized keeps it.
fn give_way(
    sockets: &mut SocketSet<'static>,
    local: SocketAddr,
    remote: SocketAddr,
    except: Option<SocketHandle>,
) -> bool {
    let mut free = true;
    for (h, item) in sockets.iter_mut() {
        if Some(h) == except {
            continue;
        }
        if let smoltcp::socket::Socket::Tcp(t) = item
            && t.local_endpoint().map(std_endpoint) == Some(local)
            && t.remote_endpoint().map(std_endpoint) == Some(remote)
        {
            if replaceable(t.state()) {
                crate::ident::debug!(
                    "TCP {local} <- {remote}: a new SYN replaces the {} connection",
                    t.state()
                );
                t.abort();
            } else if t.state() != tcp::State::Closed {
                free = false;
            }
        }
    }
    free
}

/// Whether a connection in `state` gives its four-tuple up to a new SYN: TIME-WAIT (RFC
/// 6191), and the closing states, where Linux answers the SYN with a challenge ACK that the
/// restarted client resets (RFC 5961 4), so the stale connection ends and the client's
/// retried SYN connects. A synchronized connection keeps it (no blind resets).
fn replaceable(state: tcp::State) -> bool {
    matches!(
        state,
        tcp::State::TimeWait
            | tcp::State::CloseWait
            | tcp::State::FinWait1
            | tcp::State::FinWait2
            | tcp::State::Closing
            | tcp::State::LastAck
    )
}

/// A bare SYN (no ACK) in `frame` is about to be processed: a connection of `sockets` that
/// holds its four-tuple in a state that gives it up ends first, so that the listener's spare
/// takes the SYN. smoltcp would hand the SYN to the stale connection, which drops it
/// silently: a client that restarted with the same port could never connect again.
pub(crate) fn clear_stale_tuple(sockets: &mut SocketSet<'static>, frame: &[u8]) {
    if let Some((src, dst)) = bare_syn(frame) {
        give_way(sockets, dst, src, None);
    }
}

/// The (source, destination) of a TCP segment with SYN and without ACK in an Ethernet frame
/// (IPv4, or IPv6 without extension headers).
fn bare_syn(frame: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, Ipv6Packet};
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let (src, dst, tcp): (IpAddr, IpAddr, &[u8]) = match eth.ethertype() {
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            if ip.next_header() != IpProtocol::Tcp || ip.frag_offset() != 0 {
                return None;
            }
            let hl = usize::from(ip.header_len());
            let total = usize::from(ip.total_len()).min(eth.payload().len());
            let tcp = eth.payload().get(hl..total)?;
            (ip.src_addr().into(), ip.dst_addr().into(), tcp)
        }
        EthernetProtocol::Ipv6 => {
            let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
            if ip.next_header() != IpProtocol::Tcp {
                return None;
            }
            let tcp = eth.payload().get(40..)?;
            (ip.src_addr().into(), ip.dst_addr().into(), tcp)
        }
        _ => return None,
    };
    if tcp.len() < 20 {
        return None;
    }
    let flags = tcp[13];
    if flags & 0x02 == 0 || flags & 0x10 != 0 || flags & 0x04 != 0 {
        return None;
    }
    let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
    let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
    Some((SocketAddr::new(src, sport), SocketAddr::new(dst, dport)))
}
