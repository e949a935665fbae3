//! A picture of a stack ([`Stack::dump`]): its links with their counters, addresses and
//! routes as `ip -s addr`, `ip route` and `ip -6 route` print them, its TCP and UDP sockets
//! as `ss -tuanp` does, and its protocol counters.
//!
//! Everything is read through the stack itself: the links, addresses and routes over its
//! netlink socket (so the kernel and a user-space stack give the same picture), the
//! sockets from the process's descriptor table (those of this stack) with the calls `ss`'s
//! numbers come from: `getsockname`, `getpeername`, `SO_TYPE`, `TCP_INFO`'s state (a
//! listener's accept queue and backlog too), `FIONREAD` and `SIOCOUTQ`.

use std::fmt::{self, Write as _};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::RawFd;

use libc::c_int;
use nlconf::model::{
    ARPHRD_ETHER, ARPHRD_LOOPBACK, IfAddr, Link, LinkStats, RT_SCOPE_HOST, RT_SCOPE_LINK, Route,
    format_mac, iff,
};

use crate::backend::{Ioctl, SocketOps};
use crate::counters::ProtocolCounters;
use crate::stack::Stack;

/// A socket's transport, as `ss` names it in its `Netid` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Netid {
    /// UDP (`SOCK_DGRAM`).
    Udp,
    /// TCP (`SOCK_STREAM`).
    Tcp,
}

/// One line of the socket table, as `ss -tuanp` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketLine {
    /// TCP or UDP.
    pub netid: Netid,
    /// The state as `ss` writes it: `LISTEN`, `ESTAB`, `SYN-SENT`, ..., `UNCONN` (an
    /// unconnected UDP socket, or a TCP socket that is neither listening nor connected).
    pub state: &'static str,
    /// Bytes waiting to be read (`FIONREAD`); for a listener, connections waiting to be
    /// accepted.
    pub recv_q: u64,
    /// Bytes not yet sent or acknowledged (`SIOCOUTQ`); for a listener, its backlog.
    pub send_q: u64,
    /// `getsockname`.
    pub local: SocketAddr,
    /// `getpeername`, when connected.
    pub peer: Option<SocketAddr>,
    /// The process holding the socket (this one).
    pub pid: u32,
    /// Its descriptor.
    pub fd: RawFd,
}

/// What [`Stack::dump`] saw; `Display` prints it as `ip` and `ss` would.
#[derive(Clone, Debug)]
pub struct StackDump {
    /// The stack's name (`stack#N`, or the one set).
    pub name: String,
    /// Its implementation (`kernel`, `smoltcp`...).
    pub implementation: String,
    /// The links by index, with their counters when the stack reports them.
    pub links: Vec<(Link, Option<LinkStats>)>,
    /// Every address.
    pub addrs: Vec<IfAddr>,
    /// The main table's unicast routes, both families.
    pub routes: Vec<Route>,
    /// The stack's TCP and UDP sockets: UDP first, then TCP (as `ss -tuanp`), each by
    /// descriptor.
    pub sockets: Vec<SocketLine>,
    /// The protocol counters, when the stack keeps them.
    pub protocol: Option<ProtocolCounters>,
    /// The name of this process (`/proc/self/comm`), for the `users:` column.
    pub comm: String,
}

impl Stack {
    /// A picture of this stack (see [`StackDump`]): links, addresses, routes over its
    /// netlink socket, its TCP and UDP sockets from the descriptor table, its protocol
    /// counters. Fails only when the stack's netlink does (the error names the stack); a
    /// socket that cannot say something shows what it could say.
    pub fn dump(&self) -> io::Result<StackDump> {
        let about =
            |e: io::Error| crate::error::with_context(&e, format_args!("{}: dump", self.name()));
        let nl = self.netlink().map_err(about)?;
        let links = nl.links_with_stats().map_err(about)?;
        let mut addrs = nl.addrs().map_err(about)?;
        // As `ip addr` lists them: IPv4 before IPv6 (the order otherwise kept).
        addrs.sort_by_key(|a| a.addr.is_ipv6());
        let mut routes = nl.routes().map_err(about)?;
        // As `ip route` lists them: by destination (the default first), then prefix.
        routes.sort_by_key(|r| (r.dst, r.prefix_len, r.metric));
        drop(nl);
        let pid = std::process::id();
        let mut sockets: Vec<SocketLine> = crate::socket::SOCKETS
            .entries()
            .into_iter()
            .filter(|(_, e)| e.stack().same_as(self))
            .filter_map(|(fd, e)| socket_line(e.ops.as_ref(), fd, pid))
            .collect();
        sockets.sort_by_key(|s| (s.netid, s.fd));
        let comm = std::fs::read_to_string("/proc/self/comm")
            .map(|c| c.trim_end().to_owned())
            .unwrap_or_else(|_| "?".to_owned());
        Ok(StackDump {
            name: self.name(),
            implementation: self.implementation().to_owned(),
            links,
            addrs,
            routes,
            sockets,
            protocol: self.ops().protocol_counters().ok(),
            comm,
        })
    }
}

fn int_opt(ops: &dyn SocketOps, level: c_int, name: c_int) -> Option<c_int> {
    let mut b = [0u8; 4];
    match ops.getsockopt(level, name, &mut b) {
        Ok(4) => Some(c_int::from_ne_bytes(b)),
        _ => None,
    }
}

fn int_ioctl(ops: &dyn SocketOps, request: libc::c_ulong) -> u64 {
    let mut v: c_int = 0;
    match ops.ioctl(Ioctl::Int {
        request,
        value: &mut v,
    }) {
        Ok(_) => u64::try_from(v).unwrap_or(0),
        Err(_) => 0,
    }
}

/// `ss`'s name of a Linux TCP state number (`tcpi_state`).
fn tcp_state_name(state: u8) -> &'static str {
    match state {
        1 => "ESTAB",
        2 => "SYN-SENT",
        3 => "SYN-RECV",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => "UNCONN",
    }
}

/// The socket table line of one socket; None for sockets `ss -tu` does not show (netlink,
/// raw, ICMP echo).
fn socket_line(ops: &dyn SocketOps, fd: RawFd, pid: u32) -> Option<SocketLine> {
    let domain = int_opt(ops, libc::SOL_SOCKET, libc::SO_DOMAIN)?;
    if domain != libc::AF_INET && domain != libc::AF_INET6 {
        return None;
    }
    let netid = match int_opt(ops, libc::SOL_SOCKET, libc::SO_TYPE)? {
        libc::SOCK_STREAM => Netid::Tcp,
        libc::SOCK_DGRAM
            if matches!(
                int_opt(ops, libc::SOL_SOCKET, libc::SO_PROTOCOL),
                None | Some(0 | libc::IPPROTO_UDP)
            ) =>
        {
            Netid::Udp
        }
        _ => return None,
    };
    let unspecified = if domain == libc::AF_INET6 {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    };
    let local = ops
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .unwrap_or(unspecified);
    let peer = ops
        .peer_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .filter(|p| p.port() != 0 || !p.ip().is_unspecified());
    let (state, mut queues) = match netid {
        Netid::Udp => (if peer.is_some() { "ESTAB" } else { "UNCONN" }, None),
        Netid::Tcp => {
            let mut info = [0u8; 32];
            match ops.getsockopt(libc::IPPROTO_TCP, libc::TCP_INFO, &mut info) {
                Ok(n) if n >= 1 => {
                    let word = |at: usize| {
                        u64::from(u32::from_ne_bytes([
                            info[at],
                            info[at + 1],
                            info[at + 2],
                            info[at + 3],
                        ]))
                    };
                    let queues = (info[0] == 10 && n >= 32).then(|| (word(24), word(28)));
                    (tcp_state_name(info[0]), queues)
                }
                _ if int_opt(ops, libc::SOL_SOCKET, libc::SO_ACCEPTCONN) == Some(1) => {
                    ("LISTEN", None)
                }
                _ if peer.is_some() => ("ESTAB", None),
                _ => ("UNCONN", None),
            }
        }
    };
    if state == "LISTEN" && queues.is_none() {
        queues = Some((0, 0));
    }
    let (recv_q, send_q) = queues.unwrap_or_else(|| {
        (
            int_ioctl(ops, libc::FIONREAD),
            int_ioctl(ops, libc::TIOCOUTQ),
        )
    });
    Some(SocketLine {
        netid,
        state,
        recv_q,
        send_q,
        local,
        peer,
        pid,
        fd,
    })
}

/// `ip`'s flag words of a link, in iproute2's order (`NO-CARRIER` for an interface that
/// is up without carrier).
fn link_flags(l: &Link) -> String {
    let mut out = Vec::new();
    if l.flags & iff::UP != 0 && l.flags & iff::RUNNING == 0 {
        out.push("NO-CARRIER");
    }
    for (bit, name) in [
        (iff::LOOPBACK, "LOOPBACK"),
        (iff::BROADCAST, "BROADCAST"),
        (iff::POINTOPOINT, "POINTOPOINT"),
        (iff::MULTICAST, "MULTICAST"),
        (iff::NOARP, "NOARP"),
        (iff::ALLMULTI, "ALLMULTI"),
        (iff::PROMISC, "PROMISC"),
        (iff::UP, "UP"),
        (iff::LOWER_UP, "LOWER_UP"),
    ] {
        if l.flags & bit != 0 {
            out.push(name);
        }
    }
    out.join(",")
}

/// The operational state `ip` shows, as Linux reports it for these links.
fn oper_state(l: &Link) -> &'static str {
    if l.link_type == ARPHRD_LOOPBACK && l.is_up() {
        "UNKNOWN"
    } else if l.is_up() && l.flags & iff::LOWER_UP != 0 {
        "UP"
    } else {
        "DOWN"
    }
}

fn scope_name(scope: u8) -> &'static str {
    match scope {
        RT_SCOPE_HOST => "host",
        RT_SCOPE_LINK => "link",
        _ => "global",
    }
}

fn proto_name(p: u8) -> String {
    match p {
        1 => "redirect".into(),
        2 => "kernel".into(),
        3 => "boot".into(),
        4 => "static".into(),
        9 => "ra".into(),
        16 => "dhcp".into(),
        n => n.to_string(),
    }
}

/// Rows right-aligned in columns as wide as their widest cell, each row after `lead`.
fn table(out: &mut String, lead: &[&str], rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(String::len)
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (r, lead) in rows.iter().zip(lead) {
        out.push_str(lead);
        for (c, cell) in r.iter().enumerate() {
            let _ = write!(out, " {cell:>w$}", w = widths[c]);
        }
        out.push('\n');
    }
}

impl StackDump {
    fn link_name(&self, index: u32) -> String {
        self.links
            .iter()
            .find(|(l, _)| l.index == index)
            .map_or_else(|| format!("if{index}"), |(l, _)| l.name.clone())
    }

    fn write_links(&self, out: &mut String) {
        for (l, stats) in &self.links {
            let _ = writeln!(
                out,
                "{}: {}: <{}> mtu {} state {} qlen 1000",
                l.index,
                l.name,
                link_flags(l),
                l.mtu,
                oper_state(l)
            );
            let (kind, brd) = match l.link_type {
                ARPHRD_LOOPBACK => ("loopback", [0u8; 6]),
                ARPHRD_ETHER => ("ether", [0xff; 6]),
                _ => ("none", [0u8; 6]),
            };
            let _ = writeln!(
                out,
                "    link/{kind} {} brd {}",
                format_mac(&l.mac),
                format_mac(&brd)
            );
            for a in self.addrs.iter().filter(|a| a.index == l.index) {
                let family = if a.addr.is_ipv4() { "inet" } else { "inet6" };
                let _ = write!(out, "    {family} {}/{}", a.addr, a.prefix_len);
                if let Some(b) = a.broadcast().filter(|_| l.flags & iff::BROADCAST != 0) {
                    let _ = write!(out, " brd {b}");
                }
                let _ = write!(out, " scope {}", scope_name(a.scope()));
                if a.addr.is_ipv4() {
                    let _ = write!(out, " {}", l.name);
                }
                out.push('\n');
            }
            if let Some(s) = stats {
                let head = |w: [&str; 6]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
                let nums = |v: [u64; 6]| v.iter().map(u64::to_string).collect::<Vec<_>>();
                table(
                    out,
                    &["    RX:", "       ", "    TX:", "       "],
                    &[
                        head(["bytes", "packets", "errors", "dropped", "missed", "mcast"]),
                        nums([
                            s.rx_bytes,
                            s.rx_packets,
                            s.rx_errors,
                            s.rx_dropped,
                            s.rx_missed_errors,
                            s.multicast,
                        ]),
                        head([
                            "bytes", "packets", "errors", "dropped", "carrier", "collsns",
                        ]),
                        nums([
                            s.tx_bytes,
                            s.tx_packets,
                            s.tx_errors,
                            s.tx_dropped,
                            s.tx_carrier_errors,
                            0,
                        ]),
                    ],
                );
            }
        }
    }

    fn write_routes(&self, out: &mut String, v4: bool) {
        for r in self.routes.iter().filter(|r| r.dst.is_ipv4() == v4) {
            if r.is_default() {
                out.push_str("default");
            } else {
                let _ = write!(out, "{}/{}", r.dst, r.prefix_len);
            }
            if let Some(gw) = r.gateway {
                let _ = write!(out, " via {gw}");
            }
            if let Some(oif) = r.oif {
                let _ = write!(out, " dev {}", self.link_name(oif));
            }
            if r.protocol != 3 {
                let _ = write!(out, " proto {}", proto_name(r.protocol));
            }
            if r.scope == RT_SCOPE_LINK || r.scope == RT_SCOPE_HOST {
                let _ = write!(out, " scope {}", scope_name(r.scope));
            }
            if v4 && r.gateway.is_none() && r.protocol == 2 {
                // The prefix route of an address: `src` is that address.
                if let Some(a) = self
                    .addrs
                    .iter()
                    .find(|a| Some(a.index) == r.oif && r.contains(a.addr))
                {
                    let _ = write!(out, " src {}", a.addr);
                }
            }
            if r.metric != 0 {
                let _ = write!(out, " metric {}", r.metric);
            }
            out.push('\n');
        }
    }

    fn write_sockets(&self, out: &mut String) {
        let endpoint = |a: SocketAddr| match a.ip() {
            IpAddr::V6(ip) => format!("[{ip}]:{}", a.port()),
            IpAddr::V4(ip) => format!("{ip}:{}", a.port()),
        };
        let mut rows: Vec<[String; 7]> = vec![[
            "Netid".into(),
            "State".into(),
            "Recv-Q".into(),
            "Send-Q".into(),
            "Local Address:Port".into(),
            "Peer Address:Port".into(),
            "Process".into(),
        ]];
        for s in &self.sockets {
            let peer = s.peer.map(endpoint).unwrap_or_else(|| {
                if s.local.is_ipv6() {
                    "[::]:*".into()
                } else {
                    "0.0.0.0:*".into()
                }
            });
            rows.push([
                match s.netid {
                    Netid::Udp => "udp".into(),
                    Netid::Tcp => "tcp".into(),
                },
                s.state.into(),
                s.recv_q.to_string(),
                s.send_q.to_string(),
                endpoint(s.local),
                peer,
                format!("users:((\"{}\",pid={},fd={}))", self.comm, s.pid, s.fd),
            ]);
        }
        let w: Vec<usize> = (0..7)
            .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            // As ss: the names and queues left-aligned, the addresses right-aligned.
            let line = format!(
                "{:<w0$} {:<w1$} {:<w2$} {:<w3$} {:>w4$} {:>w5$} {}",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2],
                w3 = w[3],
                w4 = w[4],
                w5 = w[5],
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }

    fn write_protocol(&self, out: &mut String, c: &ProtocolCounters) {
        let _ = writeln!(
            out,
            "Ip: InReceives {} InHdrErrors {} InDelivers {} OutRequests {}",
            c.ip.in_receives, c.ip.in_hdr_errors, c.ip.in_delivers, c.ip.out_requests
        );
        let _ = writeln!(
            out,
            "Icmp: InMsgs {} InErrors {} InCsumErrors {} InDestUnreachs {} InEchos {} \
             InEchoReps {} OutMsgs {} OutDestUnreachs {} OutEchos {} OutEchoReps {}",
            c.icmp.in_msgs,
            c.icmp.in_errors,
            c.icmp.in_csum_errors,
            c.icmp.in_dest_unreachs,
            c.icmp.in_echos,
            c.icmp.in_echo_reps,
            c.icmp.out_msgs,
            c.icmp.out_dest_unreachs,
            c.icmp.out_echos,
            c.icmp.out_echo_reps
        );
        let _ = writeln!(
            out,
            "Tcp: ActiveOpens {} PassiveOpens {} InSegs {} OutSegs {} RetransSegs {} InErrs {} \
             OutRsts {} InCsumErrors {}",
            c.tcp.active_opens,
            c.tcp.passive_opens,
            c.tcp.in_segs,
            c.tcp.out_segs,
            c.tcp.retrans_segs,
            c.tcp.in_errs,
            c.tcp.out_rsts,
            c.tcp.in_csum_errors
        );
        let _ = writeln!(
            out,
            "Udp: InDatagrams {} NoPorts {} InErrors {} OutDatagrams {} RcvbufErrors {} \
             SndbufErrors {} InCsumErrors {}",
            c.udp.in_datagrams,
            c.udp.no_ports,
            c.udp.in_errors,
            c.udp.out_datagrams,
            c.udp.rcvbuf_errors,
            c.udp.sndbuf_errors,
            c.udp.in_csum_errors
        );
    }
}

impl fmt::Display for StackDump {
    /// Sections headed by the command whose output they copy: `ip -s addr`, `ip route`,
    /// `ip -6 route`, `ss -tuanp`, then `netstat -s` (the protocol counters, one line per
    /// protocol, when the stack keeps them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let _ = writeln!(out, "=== {} ({}) ===", self.name, self.implementation);
        out.push_str("# ip -s addr\n");
        self.write_links(&mut out);
        out.push_str("# ip route\n");
        self.write_routes(&mut out, true);
        out.push_str("# ip -6 route\n");
        self.write_routes(&mut out, false);
        out.push_str("# ss -tuanp\n");
        self.write_sockets(&mut out);
        if let Some(c) = &self.protocol {
            out.push_str("# netstat -s\n");
            self.write_protocol(&mut out, c);
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nlconf::model::{RT_SCOPE_UNIVERSE, RT_TABLE_MAIN};

    fn sample() -> StackDump {
        StackDump {
            name: "stack#1".into(),
            implementation: "smoltcp".into(),
            links: vec![(
                Link {
                    index: 2,
                    name: "vde0".into(),
                    mac: [2, 0, 0, 0, 0, 1],
                    mtu: 1500,
                    flags: iff::UP | iff::BROADCAST | iff::MULTICAST | iff::RUNNING | iff::LOWER_UP,
                    link_type: ARPHRD_ETHER,
                    kind: Some("vde".into()),
                },
                Some(LinkStats {
                    rx_packets: 3,
                    rx_bytes: 300,
                    ..Default::default()
                }),
            )],
            addrs: vec![IfAddr {
                index: 2,
                addr: "10.0.0.1".parse().unwrap(),
                prefix_len: 24,
            }],
            routes: vec![
                Route {
                    dst: "10.0.0.0".parse().unwrap(),
                    prefix_len: 24,
                    gateway: None,
                    oif: Some(2),
                    table: RT_TABLE_MAIN,
                    protocol: 2,
                    scope: RT_SCOPE_LINK,
                    metric: 0,
                },
                Route {
                    dst: "0.0.0.0".parse().unwrap(),
                    prefix_len: 0,
                    gateway: Some("10.0.0.254".parse().unwrap()),
                    oif: Some(2),
                    table: RT_TABLE_MAIN,
                    protocol: 3,
                    scope: RT_SCOPE_UNIVERSE,
                    metric: 0,
                },
            ],
            sockets: vec![SocketLine {
                netid: Netid::Tcp,
                state: "LISTEN",
                recv_q: 0,
                send_q: 128,
                local: "10.0.0.1:80".parse().unwrap(),
                peer: None,
                pid: 42,
                fd: 7,
            }],
            protocol: None,
            comm: "prog".into(),
        }
    }

    #[test]
    fn prints_as_ip_and_ss_do() {
        let mut d = sample();
        d.routes.sort_by_key(|r| (r.dst, r.prefix_len, r.metric));
        let text = d.to_string();
        assert!(text.contains("# ip route\ndefault via"), "{text}");
        assert!(
            text.contains("2: vde0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP"),
            "{text}"
        );
        assert!(
            text.contains("    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff\n"),
            "{text}"
        );
        assert!(
            text.contains("    inet 10.0.0.1/24 brd 10.0.0.255 scope global vde0\n"),
            "{text}"
        );
        assert!(
            text.contains("    RX: bytes packets errors dropped  missed   mcast\n"),
            "{text}"
        );
        assert!(text.contains("\n          300       3      0"), "{text}");
        assert!(
            text.contains("10.0.0.0/24 dev vde0 proto kernel scope link src 10.0.0.1\n"),
            "{text}"
        );
        assert!(text.contains("default via 10.0.0.254 dev vde0\n"), "{text}");
        assert!(
            text.contains(
                "Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n\
                 tcp   LISTEN 0      128           10.0.0.1:80         0.0.0.0:* \
                 users:((\"prog\",pid=42,fd=7))\n"
            ),
            "{text}"
        );
    }
}
