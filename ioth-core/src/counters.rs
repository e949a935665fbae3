//! A stack's protocol counters (what `netstat -s` and `/proc/net/snmp` show): IP, ICMP,
//! TCP and UDP, IPv4 and IPv6 together.
//!
//! A backend gives them through [`crate::StackOps::protocol_counters`]: the kernel reads
//! `/proc/net/snmp` and `/proc/net/snmp6` of its namespace, the smoltcp stack counts them
//! itself. Names follow Linux's MIB fields (`RetransSegs` is [`TcpCounters::retrans_segs`]).
//! Counters only grow during a stack's life; each field says what Linux counts in it.

use std::collections::HashMap;
use std::io;

use crate::stack::Stack;

/// IP counters (`Ip:` and `Ip6*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpCounters {
    /// Packets received (`InReceives`).
    pub in_receives: u64,
    /// Packets dropped for a bad header: version, length, checksum (`InHdrErrors`).
    pub in_hdr_errors: u64,
    /// Packets given to a transport protocol (`InDelivers`).
    pub in_delivers: u64,
    /// Packets sent (`OutRequests`).
    pub out_requests: u64,
}

/// ICMP counters (`Icmp:` and `Icmp6*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IcmpCounters {
    /// Messages received (`InMsgs`), bad ones included.
    pub in_msgs: u64,
    /// Messages received and dropped as bad (`InErrors`), checksum errors included.
    pub in_errors: u64,
    /// Messages received with a bad checksum (`InCsumErrors`).
    pub in_csum_errors: u64,
    /// Destination unreachable messages received (`InDestUnreachs`).
    pub in_dest_unreachs: u64,
    /// Echo requests received (`InEchos`).
    pub in_echos: u64,
    /// Echo replies received (`InEchoReps`).
    pub in_echo_reps: u64,
    /// Messages sent (`OutMsgs`).
    pub out_msgs: u64,
    /// Destination unreachable messages sent (`OutDestUnreachs`).
    pub out_dest_unreachs: u64,
    /// Echo requests sent (`OutEchos`).
    pub out_echos: u64,
    /// Echo replies sent (`OutEchoReps`).
    pub out_echo_reps: u64,
}

/// TCP counters (`Tcp:`, both families as in Linux).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Connections opened by `connect` (`ActiveOpens`).
    pub active_opens: u64,
    /// Connections accepted by listeners (`PassiveOpens`).
    pub passive_opens: u64,
    /// Segments received, bad ones included (`InSegs`).
    pub in_segs: u64,
    /// Segments sent, retransmissions included as Linux counts them (`OutSegs`).
    pub out_segs: u64,
    /// Segments retransmitted (`RetransSegs`).
    pub retrans_segs: u64,
    /// Segments received and dropped as bad (`InErrs`), checksum errors included.
    pub in_errs: u64,
    /// Resets sent (`OutRsts`).
    pub out_rsts: u64,
    /// Segments received with a bad checksum (`InCsumErrors`).
    pub in_csum_errors: u64,
}

/// UDP counters (`Udp:` and `Udp6*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpCounters {
    /// Datagrams the application read (`InDatagrams`: Linux counts them in `recvmsg`, so
    /// datagrams still queued are not in it yet).
    pub in_datagrams: u64,
    /// Unicast datagrams for a port no socket had (`NoPorts`).
    pub no_ports: u64,
    /// Datagrams received and dropped (`InErrors`): receive-buffer overflows and checksum
    /// errors included.
    pub in_errors: u64,
    /// Datagrams sent (`OutDatagrams`).
    pub out_datagrams: u64,
    /// Datagrams dropped because the socket's receive buffer was full (`RcvbufErrors`).
    pub rcvbuf_errors: u64,
    /// Datagrams not sent for want of send buffer (`SndbufErrors`).
    pub sndbuf_errors: u64,
    /// Datagrams received with a bad checksum (`InCsumErrors`).
    pub in_csum_errors: u64,
}

/// A stack's protocol counters, IPv4 and IPv6 together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProtocolCounters {
    /// IP.
    pub ip: IpCounters,
    /// ICMP and ICMPv6.
    pub icmp: IcmpCounters,
    /// TCP.
    pub tcp: TcpCounters,
    /// UDP.
    pub udp: UdpCounters,
}

/// The `Name: field field...` / `Name: value value...` line pairs of `/proc/net/snmp`, as
/// (`Name`, field) → value.
fn snmp_pairs(text: &str) -> HashMap<(String, String), u64> {
    let mut out = HashMap::new();
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let (Some((group, names)), Some((group2, values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        if group != group2 {
            continue;
        }
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            // Some fields (Tcp MaxConn) are -1: they are not counters.
            if let Ok(v) = v.parse::<u64>() {
                out.insert((group.to_owned(), n.to_owned()), v);
            }
        }
    }
    out
}

/// The `Name value` lines of `/proc/net/snmp6`.
fn snmp6_pairs(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_owned(), it.next()?.parse().ok()?))
        })
        .collect()
}

impl ProtocolCounters {
    /// The counters of `/proc/net/snmp` and `/proc/net/snmp6` text (a missing field is 0):
    /// each IPv4 field plus its IPv6 one (`Udp InDatagrams` + `Udp6InDatagrams`); TCP's
    /// are shared by both families in Linux already.
    pub fn from_proc(snmp: &str, snmp6: &str) -> ProtocolCounters {
        let v4 = snmp_pairs(snmp);
        let v6 = snmp6_pairs(snmp6);
        let get = |group: &str, name: &str, six: &str| {
            v4.get(&(group.to_owned(), name.to_owned()))
                .copied()
                .unwrap_or(0)
                .saturating_add(if six.is_empty() {
                    0
                } else {
                    v6.get(six).copied().unwrap_or(0)
                })
        };
        ProtocolCounters {
            ip: IpCounters {
                in_receives: get("Ip", "InReceives", "Ip6InReceives"),
                in_hdr_errors: get("Ip", "InHdrErrors", "Ip6InHdrErrors"),
                in_delivers: get("Ip", "InDelivers", "Ip6InDelivers"),
                out_requests: get("Ip", "OutRequests", "Ip6OutRequests"),
            },
            icmp: IcmpCounters {
                in_msgs: get("Icmp", "InMsgs", "Icmp6InMsgs"),
                in_errors: get("Icmp", "InErrors", "Icmp6InErrors"),
                in_csum_errors: get("Icmp", "InCsumErrors", "Icmp6InCsumErrors"),
                in_dest_unreachs: get("Icmp", "InDestUnreachs", "Icmp6InDestUnreachs"),
                in_echos: get("Icmp", "InEchos", "Icmp6InEchos"),
                in_echo_reps: get("Icmp", "InEchoReps", "Icmp6InEchoReplies"),
                out_msgs: get("Icmp", "OutMsgs", "Icmp6OutMsgs"),
                out_dest_unreachs: get("Icmp", "OutDestUnreachs", "Icmp6OutDestUnreachs"),
                out_echos: get("Icmp", "OutEchos", "Icmp6OutEchos"),
                out_echo_reps: get("Icmp", "OutEchoReps", "Icmp6OutEchoReplies"),
            },
            tcp: TcpCounters {
                active_opens: get("Tcp", "ActiveOpens", ""),
                passive_opens: get("Tcp", "PassiveOpens", ""),
                in_segs: get("Tcp", "InSegs", ""),
                out_segs: get("Tcp", "OutSegs", ""),
                retrans_segs: get("Tcp", "RetransSegs", ""),
                in_errs: get("Tcp", "InErrs", ""),
                out_rsts: get("Tcp", "OutRsts", ""),
                in_csum_errors: get("Tcp", "InCsumErrors", ""),
            },
            udp: UdpCounters {
                in_datagrams: get("Udp", "InDatagrams", "Udp6InDatagrams"),
                no_ports: get("Udp", "NoPorts", "Udp6NoPorts"),
                in_errors: get("Udp", "InErrors", "Udp6InErrors"),
                out_datagrams: get("Udp", "OutDatagrams", "Udp6OutDatagrams"),
                rcvbuf_errors: get("Udp", "RcvbufErrors", "Udp6RcvbufErrors"),
                sndbuf_errors: get("Udp", "SndbufErrors", "Udp6SndbufErrors"),
                in_csum_errors: get("Udp", "InCsumErrors", "Udp6InCsumErrors"),
            },
        }
    }

    /// The calling thread's network namespace's counters (`/proc/thread-self/net/snmp`
    /// and `snmp6`; a kernel without IPv6 has no `snmp6`, whose fields are then 0).
    pub fn of_this_thread() -> io::Result<ProtocolCounters> {
        let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp")?;
        let snmp6 = std::fs::read_to_string("/proc/thread-self/net/snmp6").unwrap_or_default();
        Ok(ProtocolCounters::from_proc(&snmp, &snmp6))
    }
}

impl Stack {
    /// This stack's protocol counters (see [`ProtocolCounters`]): the kernel's of its
    /// namespace, or what a user-space stack counted. `ENOSYS` for stacks that keep none
    /// (plugins loaded through libioth's C ABI, which has no such entry); the error names
    /// the stack.
    pub fn protocol_counters(&self) -> io::Result<ProtocolCounters> {
        self.ops().protocol_counters().map_err(|e| {
            crate::error::with_context(&e, format_args!("{}: protocol counters", self.name()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits
Ip: 1 64 105 2 0 0 0 0 103 110 0 0 0 0 0 0 0 0 0 110
Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps
Icmp: 4 1 1 0 0 0 0 0 2 2 0 0 0 0 4 0 0 0 0 0 0 0 0 2 2 0 0 0 0
IcmpMsg: InType0 InType8 OutType0 OutType8
IcmpMsg: 2 2 2 2
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 3 3 0 0 0 60 61 7 1 2 1
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 40 1 5 41 4 0 1 0 0
";
    const SNMP6: &str = "\
Ip6InReceives                   	10
Ip6InHdrErrors                  	0
Udp6InDatagrams                 	3
Udp6RcvbufErrors                	2
Icmp6InEchos                    	1
";

    #[test]
    fn proc_text_reads_as_linux_writes_it() {
        let c = ProtocolCounters::from_proc(SNMP, SNMP6);
        assert_eq!(c.ip.in_receives, 115);
        assert_eq!(c.ip.in_hdr_errors, 2);
        assert_eq!(c.ip.out_requests, 110);
        assert_eq!(
            (c.icmp.in_msgs, c.icmp.in_csum_errors, c.icmp.in_echos),
            (4, 1, 3)
        );
        assert_eq!(
            (
                c.tcp.active_opens,
                c.tcp.in_segs,
                c.tcp.out_segs,
                c.tcp.retrans_segs
            ),
            (3, 60, 61, 7)
        );
        assert_eq!(
            (c.tcp.in_errs, c.tcp.out_rsts, c.tcp.in_csum_errors),
            (1, 2, 1)
        );
        assert_eq!(
            (c.udp.in_datagrams, c.udp.rcvbuf_errors, c.udp.no_ports),
            (43, 6, 1)
        );
        assert_eq!(
            ProtocolCounters::from_proc("", ""),
            ProtocolCounters::default()
        );
        assert_eq!(
            ProtocolCounters::from_proc("garbage\nlines: 1 x\n", "x y"),
            ProtocolCounters::default()
        );
    }

    #[test]
    fn this_threads_namespace_has_counters() {
        let c = ProtocolCounters::of_this_thread().unwrap();
        assert!(c.ip.in_receives > 0 || c.ip.out_requests == 0);
    }
}
