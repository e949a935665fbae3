//! `TCP_INFO`: a connection's state and counters in Linux's `struct tcp_info` layout
//! (include/uapi/linux/tcp.h, through `tcpi_snd_wnd` and `tcpi_rcv_wnd`), so that programs
//! reading it with the kernel's header get the fields they expect.

use std::time::Duration;

use crate::conn::Conn;
use crate::engine::State;
use crate::time::Instant;

/// Linux's `tcpi_options` bits.
const TCPI_OPT_TIMESTAMPS: u8 = 1;
const TCPI_OPT_SACK: u8 = 2;
const TCPI_OPT_WSCALE: u8 = 4;

/// Linux's `tcpi_ca_state` values.
const TCP_CA_OPEN: u8 = 0;
const TCP_CA_RECOVERY: u8 = 3;
const TCP_CA_LOSS: u8 = 4;

/// A connection's `TCP_INFO` (times in microseconds, sizes in bytes or segments as Linux).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// `tcpi_state` (Linux's numbering: 1 = ESTABLISHED ...).
    pub state: u8,
    /// `tcpi_ca_state`: 0 open, 3 recovery, 4 loss.
    pub ca_state: u8,
    /// `tcpi_retransmits`: consecutive retransmission timeouts.
    pub retransmits: u8,
    /// `tcpi_probes`: unanswered keepalive or window probes.
    pub probes: u8,
    /// `tcpi_backoff`.
    pub backoff: u8,
    /// `tcpi_options`: timestamps 1, SACK 2, window scaling 4.
    pub options: u8,
    /// `tcpi_snd_wscale`.
    pub snd_wscale: u8,
    /// `tcpi_rcv_wscale`.
    pub rcv_wscale: u8,
    /// `tcpi_rto` (µs).
    pub rto: u32,
    /// `tcpi_ato` (µs).
    pub ato: u32,
    /// `tcpi_snd_mss`.
    pub snd_mss: u32,
    /// `tcpi_rcv_mss`.
    pub rcv_mss: u32,
    /// `tcpi_unacked` (segments).
    pub unacked: u32,
    /// `tcpi_sacked` (segments).
    pub sacked: u32,
    /// `tcpi_lost` (segments).
    pub lost: u32,
    /// `tcpi_retrans` (segments retransmitted and outstanding).
    pub retrans: u32,
    /// `tcpi_last_data_sent` (ms ago).
    pub last_data_sent: u32,
    /// `tcpi_last_data_recv` (ms ago).
    pub last_data_recv: u32,
    /// `tcpi_last_ack_recv` (ms ago).
    pub last_ack_recv: u32,
    /// `tcpi_pmtu`.
    pub pmtu: u32,
    /// `tcpi_rtt` (µs, smoothed).
    pub rtt: u32,
    /// `tcpi_rttvar` (µs).
    pub rttvar: u32,
    /// `tcpi_snd_ssthresh` (segments).
    pub snd_ssthresh: u32,
    /// `tcpi_snd_cwnd` (segments).
    pub snd_cwnd: u32,
    /// `tcpi_advmss`.
    pub advmss: u32,
    /// `tcpi_rcv_space`.
    pub rcv_space: u32,
    /// `tcpi_total_retrans`.
    pub total_retrans: u32,
    /// `tcpi_bytes_acked`.
    pub bytes_acked: u64,
    /// `tcpi_bytes_received`.
    pub bytes_received: u64,
    /// `tcpi_segs_out`.
    pub segs_out: u32,
    /// `tcpi_segs_in`.
    pub segs_in: u32,
    /// `tcpi_notsent_bytes`.
    pub notsent_bytes: u32,
    /// `tcpi_min_rtt` (µs).
    pub min_rtt: u32,
    /// `tcpi_data_segs_in`.
    pub data_segs_in: u32,
    /// `tcpi_data_segs_out`.
    pub data_segs_out: u32,
    /// `tcpi_bytes_sent`.
    pub bytes_sent: u64,
    /// `tcpi_bytes_retrans`.
    pub bytes_retrans: u64,
    /// `tcpi_dsack_dups`.
    pub dsack_dups: u32,
    /// `tcpi_reord_seen`.
    pub reord_seen: u32,
    /// `tcpi_rcv_ooopack`.
    pub rcv_ooopack: u32,
    /// `tcpi_snd_wnd`.
    pub snd_wnd: u32,
    /// `tcpi_rcv_wnd`.
    pub rcv_wnd: u32,
}

fn us(d: Option<Duration>) -> u32 {
    d.map_or(0, |d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX))
}

fn ms_ago(now: Instant, t: Instant) -> u32 {
    if t == Instant::ZERO {
        return 0;
    }
    u32::try_from(now.since(t).as_millis()).unwrap_or(u32::MAX)
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl TcpInfo {
    /// Size of [`TcpInfo::to_bytes`]: Linux's struct through `tcpi_rcv_wnd`.
    pub const LEN: usize = 236;

    pub(crate) fn of(c: &Conn, now: Instant) -> TcpInfo {
        let mss = c.data_mss().max(1);
        let segs = |b: usize| u32_of(b.div_ceil(mss));
        let mut options = 0;
        if c.ts_ok {
            options |= TCPI_OPT_TIMESTAMPS;
        }
        if c.sack_ok {
            options |= TCPI_OPT_SACK;
        }
        if c.wscale_ok {
            options |= TCPI_OPT_WSCALE;
        }
        let ca_state = if c.loss_point.is_some() {
            TCP_CA_LOSS
        } else if c.recovery_point.is_some() {
            TCP_CA_RECOVERY
        } else {
            TCP_CA_OPEN
        };
        let ssthresh = c.cc.ssthresh();
        TcpInfo {
            state: if c.state == State::Closed {
                7
            } else {
                c.state.linux_number()
            },
            ca_state,
            retransmits: u8::try_from(c.timeouts).unwrap_or(u8::MAX),
            probes: u8::try_from(c.keepalive_probes).unwrap_or(u8::MAX),
            backoff: u8::try_from(c.rtt.backoffs()).unwrap_or(u8::MAX),
            options,
            snd_wscale: c.snd_shift,
            rcv_wscale: c.rcv_shift,
            rto: us(Some(c.rtt.rto())),
            ato: us(Some(Duration::from_millis(40))),
            snd_mss: u32_of(mss),
            rcv_mss: u32_of(mss),
            unacked: segs(c.rec.outstanding()),
            sacked: segs(c.rec.sacked_bytes()),
            lost: segs(c.rec.lost_bytes()),
            retrans: segs(c.rec.retrans_bytes()),
            last_data_sent: ms_ago(now, c.stats.last_data_sent),
            last_data_recv: ms_ago(now, c.stats.last_data_recv),
            last_ack_recv: ms_ago(now, c.stats.last_ack_recv),
            pmtu: u32_of(c.mtu_mss + if c.remote.is_ipv6() { 40 } else { 20 }),
            rtt: us(c.rtt.srtt()),
            rttvar: us(c.rtt.rttvar()),
            snd_ssthresh: if ssthresh == usize::MAX {
                0x7fff_ffff
            } else {
                segs(ssthresh)
            },
            snd_cwnd: segs(c.cc.cwnd()),
            advmss: u32::from(c.adv_mss()),
            rcv_space: u32_of(c.rcvbuf.capacity()),
            total_retrans: u32::try_from(c.rec.total_retransmits()).unwrap_or(u32::MAX),
            bytes_acked: c.stats.bytes_acked,
            bytes_received: c.stats.bytes_received,
            segs_out: u32::try_from(c.stats.segs_out).unwrap_or(u32::MAX),
            segs_in: u32::try_from(c.stats.segs_in).unwrap_or(u32::MAX),
            notsent_bytes: u32_of(c.unsent()),
            min_rtt: c.rtt.min_rtt().map_or(u32::MAX, |d| us(Some(d))),
            data_segs_in: u32::try_from(c.stats.data_segs_in).unwrap_or(u32::MAX),
            data_segs_out: u32::try_from(c.stats.data_segs_out).unwrap_or(u32::MAX),
            bytes_sent: c.stats.bytes_sent,
            bytes_retrans: c.stats.bytes_retrans,
            dsack_dups: c.stats.dsack_dups,
            reord_seen: c.stats.reord_seen,
            rcv_ooopack: c.stats.rcv_ooopack,
            snd_wnd: u32_of(c.snd_wnd),
            rcv_wnd: u32_of(c.rcv_adv.since(c.rcvbuf.rcv_nxt())),
        }
    }

    /// The bytes `getsockopt(TCP_INFO)` returns on Linux (native byte order; fields we do
    /// not track are zero).
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        let mut at = 0usize;
        let mut put = |bytes: &[u8]| {
            if let Some(dst) = b.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
            at += bytes.len();
        };
        put(&[
            self.state,
            self.ca_state,
            self.retransmits,
            self.probes,
            self.backoff,
            self.options,
            (self.snd_wscale & 0xf) | (self.rcv_wscale << 4),
            0,
        ]);
        let u = |v: u32| v.to_ne_bytes();
        for v in [
            self.rto,
            self.ato,
            self.snd_mss,
            self.rcv_mss,
            self.unacked,
            self.sacked,
            self.lost,
            self.retrans,
            0, // fackets
            self.last_data_sent,
            0, // last_ack_sent
            self.last_data_recv,
            self.last_ack_recv,
            self.pmtu,
            0, // rcv_ssthresh
            self.rtt,
            self.rttvar,
            self.snd_ssthresh,
            self.snd_cwnd,
            self.advmss,
            3, // reordering (Linux's initial)
            0, // rcv_rtt
            self.rcv_space,
            self.total_retrans,
        ] {
            put(&u(v));
        }
        for v in [0u64, 0, self.bytes_acked, self.bytes_received] {
            put(&v.to_ne_bytes()); // pacing_rate, max_pacing_rate, ...
        }
        for v in [
            self.segs_out,
            self.segs_in,
            self.notsent_bytes,
            self.min_rtt,
            self.data_segs_in,
            self.data_segs_out,
        ] {
            put(&u(v));
        }
        for v in [0u64, 0, 0, 0] {
            put(&v.to_ne_bytes()); // delivery_rate, busy_time, rwnd_limited, sndbuf_limited
        }
        put(&u(0)); // delivered
        put(&u(0)); // delivered_ce
        put(&self.bytes_sent.to_ne_bytes());
        put(&self.bytes_retrans.to_ne_bytes());
        for v in [
            self.dsack_dups,
            self.reord_seen,
            self.rcv_ooopack,
            self.snd_wnd,
            self.rcv_wnd,
        ] {
            put(&u(v));
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_linux_offsets() {
        let info = TcpInfo {
            state: 1,
            rto: 0x1122_3344,
            rtt: 777,
            snd_cwnd: 10,
            total_retrans: 5,
            bytes_acked: 99,
            min_rtt: 123,
            bytes_retrans: 4242,
            snd_wnd: 65535,
            rcv_wnd: 1000,
            ..TcpInfo::default()
        };
        let b = info.to_bytes();
        let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[o..o + 8]);
            u64::from_ne_bytes(x)
        };
        // Offsets from Linux's include/uapi/linux/tcp.h (x86_64).
        assert_eq!(b[0], 1);
        assert_eq!(u32_at(8), 0x1122_3344); // tcpi_rto
        assert_eq!(u32_at(68), 777); // tcpi_rtt
        assert_eq!(u32_at(80), 10); // tcpi_snd_cwnd
        assert_eq!(u32_at(100), 5); // tcpi_total_retrans
        assert_eq!(u64_at(120), 99); // tcpi_bytes_acked
        assert_eq!(u32_at(148), 123); // tcpi_min_rtt
        assert_eq!(u64_at(208), 4242); // tcpi_bytes_retrans
        assert_eq!(u32_at(228), 65535); // tcpi_snd_wnd
        assert_eq!(u32_at(232), 1000); // tcpi_rcv_wnd
    }
}
