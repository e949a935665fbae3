//! `IP_PKTINFO` / `IPV6_PKTINFO` on UDP sockets, as Linux does them: what a received
//! datagram's control message says (destination, interface, the local address to reply
//! from), and how a send's control message chooses the source address and interface.
//!
//! The stack has no IPv4-mapped addresses on `AF_INET6` sockets (see README.md), so an
//! `AF_INET` socket speaks `IP_PKTINFO` and an `AF_INET6` socket `IPV6_PKTINFO` only.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ioth::cmsg::{CmsgWriter, Cmsgs, IN_PKTINFO_LEN, IN6_PKTINFO_LEN, PktInfo, cmsg_len};

use crate::core::Core;

fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// What a send's control messages asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SendSrc {
    /// The source address (`None`: unspecified, the stack chooses).
    pub addr: Option<IpAddr>,
    /// The interface to send by (0: by routing).
    pub ifindex: u32,
}

/// Reads a send's control buffer for an `AF_INET` (`ipv6` false) or `AF_INET6` socket, with
/// Linux's checks: a malformed message (`CMSG_OK`), a pktinfo of the wrong length, or a
/// message of the socket's IP level the stack does not implement gives `EINVAL`; messages of
/// other levels are ignored (`SOL_SOCKET`'s `SCM_RIGHTS`/`SCM_CREDENTIALS` too, other
/// `SOL_SOCKET` types are `EINVAL`).
pub(crate) fn parse_send_control(control: &[u8], ipv6: bool) -> io::Result<Option<SendSrc>> {
    let mut src = None;
    for m in Cmsgs::new(control) {
        let m = m?;
        match (m.level, ipv6) {
            (libc::SOL_SOCKET, _) => match m.ty {
                libc::SCM_RIGHTS | libc::SCM_CREDENTIALS => {}
                _ => return Err(err(libc::EINVAL)),
            },
            (libc::IPPROTO_IP, false) => {
                if m.ty != libc::IP_PKTINFO
                    || m.data.len() + ioth::cmsg::HDR_LEN != cmsg_len(IN_PKTINFO_LEN)
                {
                    return Err(err(libc::EINVAL));
                }
                let info = PktInfo::from_in_pktinfo(m.data).ok_or_else(|| err(libc::EINVAL))?;
                let spec = info.spec_dst.unwrap_or(Ipv4Addr::UNSPECIFIED);
                src = Some(SendSrc {
                    addr: (!spec.is_unspecified()).then_some(IpAddr::V4(spec)),
                    ifindex: info.ifindex,
                });
            }
            (libc::IPPROTO_IPV6, true) => {
                // IPV6_PKTINFO and its RFC 2292 spelling (IPV6_2292PKTINFO = 2).
                if m.ty != libc::IPV6_PKTINFO && m.ty != 2 {
                    return Err(err(libc::EINVAL));
                }
                if m.data.len() < IN6_PKTINFO_LEN {
                    return Err(err(libc::EINVAL));
                }
                let info = PktInfo::from_in6_pktinfo(m.data).ok_or_else(|| err(libc::EINVAL))?;
                src = Some(SendSrc {
                    addr: (!info.addr.is_unspecified()).then_some(info.addr),
                    ifindex: info.ifindex,
                });
            }
            _ => {}
        }
    }
    Ok(src)
}

/// Where a datagram with pktinfo `src` to `dst` leaves: the interface slot and the source
/// address to put on it (`None`: the socket's bound address, else the routed one).
///
/// Linux's answers: an unknown interface is `ENODEV`; an IPv4 source that is multicast,
/// broadcast or in 0.0.0.0/8 is `EINVAL`, one the stack does not have `ENETUNREACH` (checked
/// before the interface); an IPv6 source that is multicast or not the stack's is `EINVAL`, as
/// is a link-local or loopback source not on the interface given. An IPv4 pktinfo replaces
/// the bound address even when its source is 0.0.0.0 (the routed source is used then).
pub(crate) fn resolve(
    core: &Core,
    src: SendSrc,
    dst: SocketAddr,
    bound: Option<IpAddr>,
) -> io::Result<(usize, Option<IpAddr>)> {
    let dst_ip = dst.ip();
    let to_self = dst_ip.is_loopback() || core.is_local(dst_ip) && !dst_ip.is_unspecified();
    match dst_ip {
        IpAddr::V4(_) => {
            if let Some(IpAddr::V4(a)) = src.addr {
                if a.is_multicast() || a.is_broadcast() || a.octets()[0] == 0 {
                    return Err(err(libc::EINVAL));
                }
                if !core.is_local(IpAddr::V4(a)) {
                    return Err(err(libc::ENETUNREACH));
                }
            }
            let slot = pick_slot(core, src, dst_ip, to_self)?;
            let addr = src.addr.or_else(|| core.source_for(slot, dst_ip));
            Ok((slot, addr))
        }
        IpAddr::V6(_) => {
            if src.ifindex != 0 && core.iface(src.ifindex).is_none() {
                return Err(err(libc::ENODEV));
            }
            if let Some(a) = src.addr {
                let IpAddr::V6(a6) = a else {
                    return Err(err(libc::EINVAL));
                };
                let strict = a6.is_loopback() || crate::core::is_link_local(a);
                let own = if strict && src.ifindex != 0 {
                    core.iface(src.ifindex)
                        .is_some_and(|f| f.addrs.iter().any(|(x, _)| *x == a))
                } else {
                    core.ifaces
                        .iter()
                        .flatten()
                        .any(|f| f.addrs.iter().any(|(x, _)| *x == a))
                };
                if a6.is_multicast() || !own {
                    return Err(err(libc::EINVAL));
                }
            }
            let slot = pick_slot(core, src, dst_ip, to_self)?;
            Ok((slot, src.addr.or(bound)))
        }
    }
}

/// The slot a pktinfo send leaves by: `lo` for the stack's own addresses, the interface given,
/// the interface holding the source for broadcast and multicast, else by routing.
fn pick_slot(core: &Core, src: SendSrc, dst: IpAddr, to_self: bool) -> io::Result<usize> {
    if src.ifindex != 0 && core.iface(src.ifindex).is_none() {
        return Err(err(libc::ENODEV));
    }
    if to_self {
        return Ok(0);
    }
    if src.ifindex != 0 {
        return Ok((src.ifindex - 1) as usize);
    }
    let broadcastish = match dst {
        IpAddr::V4(a) => a.is_broadcast() || a.is_multicast(),
        IpAddr::V6(a) => a.is_multicast(),
    };
    if broadcastish && let Some(a) = src.addr {
        for s in core.slots().filter(|&s| s != 0) {
            if core.ifaces[s]
                .as_ref()
                .is_some_and(|f| f.up && f.addrs.iter().any(|(x, _)| *x == a))
            {
                return Ok(s);
            }
        }
    }
    core.route(dst)
}

/// The pktinfo of a datagram to `dst` from `from` that arrived on `slot`: the interface's
/// index, the destination, and (IPv4) the local address a reply should leave from (the
/// destination if it is one of the stack's addresses, else the interface's address towards
/// the sender, as Linux's `fib_compute_spec_dst`).
pub(crate) fn received(core: &Core, dst: IpAddr, slot: usize, from: SocketAddr) -> PktInfo {
    let ifindex = core
        .ifaces
        .get(slot)
        .and_then(Option::as_ref)
        .map_or(0, |f| f.index);
    let spec_dst = match dst {
        IpAddr::V4(d) => {
            let unicast_local = !d.is_broadcast() && !d.is_multicast() && core.is_local(dst);
            let spec = if unicast_local {
                Some(dst)
            } else {
                core.source_for(slot, from.ip())
            };
            Some(match spec {
                Some(IpAddr::V4(a)) => a,
                _ => Ipv4Addr::UNSPECIFIED,
            })
        }
        IpAddr::V6(_) => None,
    };
    PktInfo {
        addr: dst,
        ifindex,
        spec_dst,
    }
}

/// Writes the control messages a receive owes into `control`: `IP_PKTINFO` for an IPv4
/// datagram when `v4` is on, `IPV6_PKTINFO` for an IPv6 one when `v6` is on, then
/// `IPV6_HOPLIMIT` when `hop_limit` is given (Linux's order). Returns (`msg_controllen`,
/// `MSG_CTRUNC`).
pub(crate) fn write_control(
    control: &mut [u8],
    info: Option<&PktInfo>,
    v4: bool,
    v6: bool,
    hop_limit: Option<u8>,
) -> (usize, bool) {
    let mut w = CmsgWriter::new(control);
    if let Some(info) = info {
        match info.addr {
            IpAddr::V4(_) if v4 => {
                w.put(libc::IPPROTO_IP, libc::IP_PKTINFO, &info.in_pktinfo());
            }
            IpAddr::V6(_) if v6 => {
                w.put(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &info.in6_pktinfo());
            }
            _ => {}
        }
    }
    if let Some(h) = hop_limit {
        w.put(
            libc::IPPROTO_IPV6,
            libc::IPV6_HOPLIMIT,
            &libc::c_int::from(h).to_ne_bytes(),
        );
    }
    (w.len(), w.truncated())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever bytes an application passes as a send's control buffer, parsing them
        /// never panics.
        #[test]
        fn any_control_bytes_parse_without_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
            ipv6 in any::<bool>(),
        ) {
            let _ = parse_send_control(&bytes, ipv6);
        }
    }

    #[test]
    fn a_pktinfo_message_gives_the_source() {
        let mut buf = [0u8; 64];
        let mut used = 0;
        let info = PktInfo {
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ifindex: 2,
            spec_dst: Some(Ipv4Addr::new(10, 0, 0, 3)),
        };
        ioth::cmsg::push(
            &mut buf,
            &mut used,
            libc::IPPROTO_IP,
            libc::IP_PKTINFO,
            &info.in_pktinfo(),
        )
        .unwrap();
        assert_eq!(
            parse_send_control(&buf[..used], false).unwrap(),
            Some(SendSrc {
                addr: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3))),
                ifindex: 2
            })
        );
        // The other family's level is ignored, as Linux does.
        assert_eq!(parse_send_control(&buf[..used], true).unwrap(), None);
    }
}
