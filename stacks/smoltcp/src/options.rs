//! Socket options and ioctls, with the values and errors Linux gives.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ioth::Ioctl;
use ioth::sys::{option_bytes, option_from_bytes};
use libc::c_int;
use nlconf::ioctl::IfReq;

use crate::core::Core;
use crate::raw6::{FILTER_LEN, ICMP6_FILTER};
use crate::sockets::{Kind, TCP_BUF};

fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

fn int(value: &[u8]) -> io::Result<c_int> {
    option_from_bytes::<c_int>(value)
}

fn put<T: ioth::sys::PlainOption>(out: &mut [u8], v: T) -> usize {
    let b = option_bytes(&v);
    let n = b.len().min(out.len());
    out[..n].copy_from_slice(&b[..n]);
    n
}

fn timeout(value: &[u8]) -> io::Result<Option<Duration>> {
    let tv: libc::timeval = option_from_bytes(value)?;
    if tv.tv_usec < 0 || tv.tv_usec >= 1_000_000 {
        return Err(err(libc::EDOM));
    }
    Ok(ioth::sys::duration(tv))
}

fn timeval(t: Option<Duration>) -> libc::timeval {
    match t {
        None => libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        Some(d) => libc::timeval {
            tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_usec: libc::suseconds_t::from(d.subsec_micros()),
        },
    }
}

/// `v` if it lies in `lo..=hi`, else EINVAL.
fn in_range(v: c_int, lo: u32, hi: u32) -> io::Result<u32> {
    u32::try_from(v)
        .ok()
        .filter(|v| (lo..=hi).contains(v))
        .ok_or_else(|| err(libc::EINVAL))
}

fn secs_int(d: Duration) -> c_int {
    c_int::try_from(d.as_secs()).unwrap_or(c_int::MAX)
}

/// `setsockopt(2)`.
pub(crate) fn set(
    core: &mut Core,
    id: usize,
    level: c_int,
    name: c_int,
    value: &[u8],
) -> io::Result<()> {
    let rec = core.sock(id)?;
    match (level, name) {
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => rec.opts.reuseaddr = int(value)? != 0,
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) => rec.opts.reuseaddr = int(value)? != 0,
        (libc::SOL_SOCKET, libc::SO_BROADCAST) => rec.opts.broadcast = int(value)? != 0,
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => rec.opts.keepalive = int(value)? != 0,
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => {
            rec.opts.rcvbuf = usize::try_from(int(value)?)
                .unwrap_or(0)
                .clamp(2048, 4 << 20)
        }
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => {
            rec.opts.sndbuf = usize::try_from(int(value)?)
                .unwrap_or(0)
                .clamp(2048, 4 << 20)
        }
        (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => rec.opts.rcvtimeo = timeout(value)?,
        (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => rec.opts.sndtimeo = timeout(value)?,
        (libc::SOL_SOCKET, libc::SO_LINGER) => {
            let l: libc::linger = option_from_bytes(value)?;
            rec.opts.linger = (l.l_onoff != 0).then_some(l.l_linger);
        }
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => rec.opts.nodelay = int(value)? != 0,
        // Our engine's TCP corks; smoltcp's cannot (ENOPROTOOPT below).
        (libc::IPPROTO_TCP, libc::TCP_CORK) if matches!(rec.kind, Kind::IothTcp(_)) => {
            rec.opts.cork = int(value)? != 0
        }
        // Our engine's IPv6 listeners take IPv4 unless told not to, as Linux's.
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) if matches!(rec.kind, Kind::IothTcp(_)) => {
            if !rec.ipv6 {
                return Err(err(libc::ENOPROTOOPT));
            }
            rec.opts.v6only = int(value)? != 0
        }
        // Linux's ranges: idle and interval 1..=32767 s, count 1..=127.
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => {
            rec.opts.keepidle = Some(in_range(int(value)?, 1, 32767)?)
        }
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => {
            rec.opts.keepintvl = Some(in_range(int(value)?, 1, 32767)?)
        }
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => {
            rec.opts.keepcnt = Some(in_range(int(value)?, 1, 127)?)
        }
        (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) => {
            // Milliseconds; 0 restores the system default (tcp_retries2 timing).
            let ms = in_range(int(value)?, 0, u32::MAX)?;
            rec.opts.user_timeout = (ms > 0).then(|| Duration::from_millis(u64::from(ms)));
        }
        (libc::IPPROTO_IP, libc::IP_TTL) | (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS) => {
            let v = int(value)?;
            rec.opts.ttl = match v {
                -1 => None,
                1..=255 => Some(v as u8),
                _ => return Err(err(libc::EINVAL)),
            };
        }
        (libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP | libc::IP_DROP_MEMBERSHIP) => {
            let m: libc::ip_mreq = option_from_bytes(value)?;
            let group = Ipv4Addr::from(u32::from_be(m.imr_multiaddr.s_addr));
            if !group.is_multicast() {
                return Err(err(libc::EINVAL));
            }
            core.multicast(IpAddr::V4(group), name == libc::IP_ADD_MEMBERSHIP, 0)?;
        }
        (libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP | libc::IPV6_DROP_MEMBERSHIP) => {
            let m: libc::ipv6_mreq = option_from_bytes(value)?;
            let group = Ipv6Addr::from(m.ipv6mr_multiaddr.s6_addr);
            if !group.is_multicast() {
                return Err(err(libc::EINVAL));
            }
            core.multicast(
                IpAddr::V6(group),
                name == libc::IPV6_ADD_MEMBERSHIP,
                m.ipv6mr_interface,
            )?;
        }
        // Like Linux: an int, or a single byte; any socket may set it (UDP reports it).
        (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
            rec.opts.pktinfo =
                int(value).or_else(|_| option_from_bytes::<u8>(value).map(c_int::from))? != 0
        }
        // An AF_INET socket has no IPv6 level (Linux: ENOPROTOOPT); the value is an int.
        (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO) => {
            if !rec.ipv6 {
                return Err(err(libc::ENOPROTOOPT));
            }
            rec.opts.recvpktinfo6 = int(value)? != 0
        }
        // Linux: -1 (the default, 1) to 255.
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS) => {
            let v = int(value)?;
            rec.opts.mcast_hops = match v {
                -1 => None,
                0..=255 => Some(v as u8),
                _ => return Err(err(libc::EINVAL)),
            };
        }
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF) => {
            let index = u32::try_from(int(value)?).map_err(|_| err(libc::EINVAL))?;
            if index != 0 && core.iface(index).is_none() {
                return Err(err(libc::ENODEV));
            }
            core.sock(id)?.opts.mcast_if = index;
        }
        // Raw ICMPv6 sockets report the hop limit (UDP's smoltcp sockets cannot).
        (libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT) if matches!(rec.kind, Kind::Raw6(_)) => {
            rec.opts.recvhoplimit = int(value)? != 0
        }
        (libc::IPPROTO_ICMPV6, ICMP6_FILTER) => match &mut rec.kind {
            Kind::Raw6(r) => r.set_filter(value),
            _ => return Err(err(libc::ENOPROTOOPT)),
        },
        (
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_LOOP | libc::IP_MULTICAST_TTL | libc::IP_MULTICAST_IF,
        )
        | (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP | libc::IPV6_V6ONLY) => {
            // Accepted; the stack's multicast follows its defaults.
            int(value).or_else(|_| option_from_bytes::<u8>(value).map(c_int::from))?;
        }
        (
            libc::SOL_SOCKET
            | libc::IPPROTO_IP
            | libc::IPPROTO_IPV6
            | libc::IPPROTO_TCP
            | libc::SOL_NETLINK,
            _,
        ) => {
            return Err(err(libc::ENOPROTOOPT));
        }
        _ => return Err(err(libc::ENOPROTOOPT)),
    }
    core.apply_opts(id)
}

/// Linux's `struct tcp_info` with only `tcpi_state` set (`TCP_ESTABLISHED` 1 ... `TCP_LISTEN`
/// 10, `TCP_CLOSING` 11).
pub(crate) fn bare_tcp_info(state: u8) -> Vec<u8> {
    let mut b = vec![0u8; ioth_tcp::TcpInfo::LEN];
    b[0] = state;
    b
}

/// A listener's `struct tcp_info` as Linux fills it: `TCP_LISTEN`, the accept queue's length
/// in `tcpi_unacked` and the backlog in `tcpi_sacked`.
pub(crate) fn listener_tcp_info(queued: usize, backlog: usize) -> Vec<u8> {
    let mut b = bare_tcp_info(10);
    let word = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_ne_bytes();
    b[24..28].copy_from_slice(&word(queued));
    b[28..32].copy_from_slice(&word(backlog));
    b
}

/// `getsockopt(2)`: writes the value, returns its length.
pub(crate) fn get(
    core: &mut Core,
    id: usize,
    level: c_int,
    name: c_int,
    out: &mut [u8],
) -> io::Result<usize> {
    if core.is_ioth(id)
        && let Some(n) = get_ioth(core, id, level, name, out)?
    {
        return Ok(n);
    }
    if (level, name) == (libc::IPPROTO_TCP, libc::TCP_INFO) {
        // smoltcp's TCP: the state (and a listener's queues), as `ss` reads them.
        let info = core.smol_tcp_info(id)?;
        let n = out.len().min(info.len());
        out[..n].copy_from_slice(&info[..n]);
        return Ok(n);
    }
    let rec = core.sock(id)?;
    let b = |v: bool| c_int::from(v);
    let ty = match rec.kind {
        Kind::Udp(_) | Kind::Icmp(_) => libc::SOCK_DGRAM,
        Kind::Tcp(_) | Kind::Listener(_) | Kind::IothTcp(_) => libc::SOCK_STREAM,
        Kind::Netlink(_) | Kind::Raw6(_) => libc::SOCK_RAW,
    };
    Ok(match (level, name) {
        (libc::SOL_SOCKET, libc::SO_TYPE) => put(out, ty),
        (libc::SOL_SOCKET, libc::SO_ERROR) => {
            let e = std::mem::take(&mut rec.error);
            put(out, e)
        }
        (libc::SOL_SOCKET, libc::SO_REUSEADDR | libc::SO_REUSEPORT) => {
            put(out, b(rec.opts.reuseaddr))
        }
        (libc::SOL_SOCKET, libc::SO_BROADCAST) => put(out, b(rec.opts.broadcast)),
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => put(out, b(rec.opts.keepalive)),
        (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => {
            put(out, b(matches!(rec.kind, Kind::Listener(_))))
        }
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => put(
            out,
            match rec.kind {
                Kind::Netlink(_) => libc::AF_NETLINK,
                _ if rec.ipv6 => libc::AF_INET6,
                _ => libc::AF_INET,
            },
        ),
        (libc::SOL_SOCKET, libc::SO_PROTOCOL) => put(
            out,
            match rec.kind {
                Kind::Udp(_) => libc::IPPROTO_UDP,
                Kind::Icmp(_) => libc::IPPROTO_ICMP,
                Kind::Tcp(_) | Kind::Listener(_) | Kind::IothTcp(_) => libc::IPPROTO_TCP,
                Kind::Netlink(_) => libc::NETLINK_ROUTE,
                Kind::Raw6(_) => libc::IPPROTO_ICMPV6,
            },
        ),
        // Linux reports twice what was asked (bookkeeping overhead): do the same.
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => put(
            out,
            c_int::try_from(if rec.opts.rcvbuf > 0 {
                rec.opts.rcvbuf * 2
            } else {
                TCP_BUF * 2
            })
            .unwrap_or(c_int::MAX),
        ),
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => put(
            out,
            c_int::try_from(if rec.opts.sndbuf > 0 {
                rec.opts.sndbuf * 2
            } else {
                TCP_BUF * 2
            })
            .unwrap_or(c_int::MAX),
        ),
        (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => put(out, timeval(rec.opts.rcvtimeo)),
        (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => put(out, timeval(rec.opts.sndtimeo)),
        (libc::SOL_SOCKET, libc::SO_LINGER) => put(
            out,
            libc::linger {
                l_onoff: b(rec.opts.linger.is_some()),
                l_linger: rec.opts.linger.unwrap_or(0),
            },
        ),
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => put(out, b(rec.opts.nodelay)),
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => put(out, secs_int(rec.opts.keep_idle())),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => put(out, secs_int(rec.opts.keep_interval())),
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => put(
            out,
            c_int::try_from(rec.opts.keep_count()).unwrap_or(c_int::MAX),
        ),
        (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) => put(
            out,
            rec.opts
                .user_timeout
                .map_or(0, |d| c_int::try_from(d.as_millis()).unwrap_or(c_int::MAX)),
        ),
        (libc::IPPROTO_IP, libc::IP_TTL) => put(out, c_int::from(rec.opts.ttl.unwrap_or(64))),
        (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS) => {
            put(out, c_int::from(rec.opts.ttl.unwrap_or(64)))
        }
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => put(out, 0 as c_int),
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS) if rec.ipv6 => {
            put(out, c_int::from(rec.opts.mcast_hops.unwrap_or(1)))
        }
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF) if rec.ipv6 => {
            put(out, rec.opts.mcast_if as c_int)
        }
        (libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT) if matches!(rec.kind, Kind::Raw6(_)) => {
            put(out, b(rec.opts.recvhoplimit))
        }
        (libc::IPPROTO_ICMPV6, ICMP6_FILTER) => match &rec.kind {
            Kind::Raw6(r) => {
                let bytes = r.filter_bytes();
                let n = out.len().min(FILTER_LEN);
                out[..n].copy_from_slice(&bytes[..n]);
                n
            }
            _ => return Err(err(libc::ENOPROTOOPT)),
        },
        (libc::IPPROTO_IP, libc::IP_PKTINFO) => put(out, b(rec.opts.pktinfo)),
        (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO) if rec.ipv6 => {
            put(out, b(rec.opts.recvpktinfo6))
        }
        _ => return Err(err(libc::ENOPROTOOPT)),
    })
}

/// The options a TCP socket of our engine answers differently (see `tcp_ioth`): listening,
/// its buffers' sizes, TCP_CORK, TCP_INFO. None: as any socket.
fn get_ioth(
    core: &mut Core,
    id: usize,
    level: c_int,
    name: c_int,
    out: &mut [u8],
) -> io::Result<Option<usize>> {
    let b = |v: bool| c_int::from(v);
    let size = |n: usize| c_int::try_from(n).unwrap_or(c_int::MAX);
    Ok(Some(match (level, name) {
        (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => {
            let listening = matches!(
                &core.sock(id)?.kind,
                Kind::IothTcp(t) if matches!(t.state, crate::tcp_ioth::sock::State::Listener(_))
            );
            put(out, b(listening))
        }
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => put(out, size(core.ioth_buffer_sizes(id)?.0)),
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => put(out, size(core.ioth_buffer_sizes(id)?.1)),
        (libc::IPPROTO_TCP, libc::TCP_CORK) => put(out, b(core.sock(id)?.opts.cork)),
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => {
            let rec = core.sock(id)?;
            if !rec.ipv6 {
                return Err(err(libc::ENOPROTOOPT));
            }
            put(out, b(rec.opts.v6only))
        }
        (libc::IPPROTO_TCP, libc::TCP_INFO) => core.ioth_tcp_info(id, out)?,
        _ => return Ok(None),
    }))
}

/// `ioctl(2)`: FIONREAD, FIONBIO, SIOCOUTQ, SIOCATMARK and the interface requests.
pub(crate) fn ioctl(core: &mut Core, id: usize, request: Ioctl<'_>) -> io::Result<c_int> {
    match request {
        Ioctl::Int { request, value } => match request {
            libc::FIONREAD => {
                *value = c_int::try_from(core.readable_bytes(id)?).unwrap_or(c_int::MAX);
                Ok(0)
            }
            libc::FIONBIO => {
                core.sock(id)?.nonblocking = *value != 0;
                Ok(0)
            }
            libc::TIOCOUTQ => {
                *value = c_int::try_from(core.unsent_bytes(id)?).unwrap_or(c_int::MAX);
                Ok(0)
            }
            0x8905 /* SIOCATMARK */ => {
                *value = 0;
                Ok(0)
            }
            _ => Err(err(libc::ENOTTY)),
        },
        Ioctl::IfReq { request, ifreq } => {
            let mut req = IfReq::from_bytes(&ifreq[..])?;
            nlconf::ioctl::interface_ioctl(core, request, &mut req)?;
            ifreq.copy_from_slice(req.as_bytes());
            Ok(0)
        }
        Ioctl::IfConf { len, buf } => {
            let n = nlconf::ioctl::ifconf(core, buf);
            *len = c_int::try_from(n).unwrap_or(c_int::MAX);
            Ok(0)
        }
        Ioctl::Raw { .. } => Err(err(libc::ENOTTY)),
    }
}
