//! Listeners: the SYN queue and accept queue of `listen(2)`'s backlog, SYN cookies when the
//! SYN queue is full, and the answers to segments that match no connection.
//!
//! As Linux: a SYN is dropped while the accept queue is full (the client retries); while the
//! SYN queue (half-open connections) holds `backlog` entries, SYNs are answered with SYN
//! cookies, so a flood of spoofed SYNs never locks legitimate clients out.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use super::{Ctl, Engine};
use crate::conn::{Conn, Ctx, Negotiated, mss_for_mtu, shift_for};
use crate::cookie::CookieJar;
use crate::engine::{SockOpts, State};
use crate::seq::Seq;
use crate::time::Instant;
use crate::wire::{Flags, Segment, TcpOptions, Timestamps};

/// A listening socket.
pub(crate) struct Listener {
    pub local: SocketAddr,
    pub v6only: bool,
    pub backlog: usize,
    pub opts: SockOpts,
    pub token: u64,
    /// Half-open connections (SYN-RECEIVED) of this listener.
    pub syn_queue: usize,
    /// Established connections waiting for `accept`, oldest first: (index, generation).
    pub accept: VecDeque<(u32, u32)>,
    pub event_queued: bool,
}

impl Listener {
    /// Linux's `sk_acceptq_is_full`: more than `backlog` waiting.
    pub(crate) fn accept_full(&self) -> bool {
        self.accept.len() > self.backlog
    }

    /// Linux's `inet_csk_reqsk_queue_is_full`.
    fn syn_full(&self) -> bool {
        self.syn_queue >= self.backlog.max(1)
    }
}

impl Engine {
    /// The listener that takes segments for `local`: exact address, then the wildcard of the
    /// family, then (for IPv4) a dual-stack IPv6 wildcard.
    pub(crate) fn find_listener(&self, local: SocketAddr) -> Option<u32> {
        if let Some(&i) = self.listen_by_addr.get(&local) {
            return Some(i);
        }
        let any = match local.ip() {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        if let Some(&i) = self.listen_by_addr.get(&SocketAddr::new(any, local.port())) {
            return Some(i);
        }
        if local.is_ipv4() {
            let any6 = SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), local.port());
            if let Some(&i) = self.listen_by_addr.get(&any6)
                && self
                    .listeners
                    .get(i as usize)
                    .and_then(|s| s.listener.as_ref())
                    .is_some_and(|l| !l.v6only)
            {
                return Some(i);
            }
        }
        None
    }

    /// A segment for no connection (RFC 9293 3.10.7.1 CLOSED, 3.10.7.2 LISTEN).
    pub(crate) fn no_connection(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Segment<'_>,
        mtu: usize,
    ) {
        let h = &seg.header;
        if h.flags.contains(Flags::RST) {
            return;
        }
        let Some(li) = self.find_listener(local) else {
            self.reset_reply(local, remote, seg);
            return;
        };
        let ack = h.flags.contains(Flags::ACK);
        let syn = h.flags.contains(Flags::SYN);
        if ack && !syn {
            if self.cfg.syncookies && self.cookie_ack(now, li, local, remote, seg, mtu) {
                return;
            }
            self.reset_reply(local, remote, seg);
            return;
        }
        if !syn || ack {
            return;
        }
        let Some(l) = self
            .listeners
            .get(li as usize)
            .and_then(|s| s.listener.as_ref())
        else {
            return;
        };
        if l.accept_full() {
            self.counters.listen_drops += 1;
            log::debug!("TCP {local}: accept queue full, SYN from {remote} dropped");
            return;
        }
        if l.syn_full() {
            if self.cfg.syncookies {
                self.cookie_syn_ack(now, local, remote, seg, mtu);
            } else {
                self.counters.listen_drops += 1;
            }
            return;
        }
        let opts = l.opts.clone();
        let mapped = l.local.is_ipv6() && local.is_ipv4();
        let lgen = self.listeners[li as usize].generation;
        let iss = self.isn.isn(now, local, remote);
        let cx = Ctx {
            now,
            cfg: &self.cfg,
            counters: &mut self.counters,
        };
        let mut c = Conn::new(&cx, State::SynReceived, local, remote, iss, mtu, &opts, 0);
        c.mapped = mapped;
        c.listener = Some((li, lgen));
        c.ts_offset = self.isn.ts_offset(local, remote);
        let neg = negotiate(&self.cfg, &h.options, c.rcv_shift);
        c.accept_syn(now, h.seq, neg, h.window);
        c.syn_due = true;
        if let Some(l) = self.listeners[li as usize].listener.as_mut() {
            l.syn_queue += 1;
        }
        let idx = self.insert_conn(c);
        self.after_conn(idx, crate::conn::Notes::default());
    }

    /// RST for a segment nobody takes (RFC 9293 3.10.7.1).
    pub(crate) fn reset_reply(&mut self, local: SocketAddr, remote: SocketAddr, seg: &Segment<'_>) {
        let h = &seg.header;
        let ctl = if h.flags.contains(Flags::ACK) {
            Ctl::rst(local, remote, h.ack, None)
        } else {
            Ctl::rst(local, remote, Seq(0), Some(h.seq.add(seg.seg_len())))
        };
        self.push_ctl(ctl);
    }

    /// A SYN-ACK carrying a cookie instead of state.
    fn cookie_syn_ack(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Segment<'_>,
        mtu: usize,
    ) {
        let h = &seg.header;
        let peer_mss = h.options.mss.unwrap_or(536);
        let (isn, _) = self.cookies.make(now, local, remote, h.seq, peer_mss);
        let mut o = TcpOptions {
            mss: Some(u16::try_from(mss_for_mtu(mtu, local.is_ipv6())).unwrap_or(u16::MAX)),
            ..TcpOptions::default()
        };
        if self.cfg.timestamps
            && let Some(t) = h.options.timestamps
        {
            let wscale = h.options.window_scale.filter(|_| self.cfg.window_scaling);
            let sack = h.options.sack_permitted && self.cfg.sack;
            let ts_now = (now.millis() as u32).wrapping_add(self.isn.ts_offset(local, remote));
            o.timestamps = Some(Timestamps {
                val: CookieJar::encode_ts_options(ts_now, wscale, sack),
                ecr: t.val,
            });
            o.sack_permitted = sack;
            if wscale.is_some() {
                o.window_scale = Some(shift_for(self.cfg.rmem_max));
            }
        }
        let window = self.cfg.rmem_default.min(65535) as u16;
        self.counters.syncookies_sent += 1;
        self.push_ctl(Ctl {
            local,
            remote,
            seq: isn,
            ack: h.seq.add(1),
            flags: Flags::SYN | Flags::ACK,
            window,
            options: o,
            hop_limit: None,
        });
    }

    /// An ACK that may complete a cookie handshake; true when it made a connection.
    fn cookie_ack(
        &mut self,
        now: Instant,
        li: u32,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Segment<'_>,
        mtu: usize,
    ) -> bool {
        let h = &seg.header;
        let client_isn = h.seq.sub(1);
        let iss = h.ack.sub(1);
        let Some(peer_mss) = self.cookies.check(now, local, remote, client_isn, iss) else {
            return false;
        };
        let lgen = self.listeners[li as usize].generation;
        let Some(l) = self.listeners[li as usize].listener.as_ref() else {
            return false;
        };
        if l.accept_full() {
            self.counters.listen_drops += 1;
            return true;
        }
        let opts = l.opts.clone();
        let mapped = l.local.is_ipv6() && local.is_ipv4();
        self.counters.syncookies_recv += 1;
        let cx = Ctx {
            now,
            cfg: &self.cfg,
            counters: &mut self.counters,
        };
        let mut c = Conn::new(&cx, State::SynReceived, local, remote, iss, mtu, &opts, 0);
        c.mapped = mapped;
        c.listener = Some((li, lgen));
        c.ts_offset = self.isn.ts_offset(local, remote);
        let (wscale, sack, ts) = match h.options.timestamps {
            Some(t) if self.cfg.timestamps => {
                let (w, s) = CookieJar::decode_ts_options(t.ecr);
                (w.map(|w| (w, shift_for(self.cfg.rmem_max))), s, Some(t.val))
            }
            _ => (None, false, None),
        };
        let neg = Negotiated {
            peer_mss: Some(peer_mss),
            wscale,
            sack,
            ts_recent: ts,
        };
        c.accept_syn(now, client_isn, neg, 0);
        // Our SYN-ACK went out (statelessly): its sequence number is taken.
        c.rec.on_transmit(now, iss, iss.add(1));
        if let Some(l) = self.listeners[li as usize].listener.as_mut() {
            l.syn_queue += 1;
        }
        let idx = self.insert_conn(c);
        self.conn_input(now, idx, seg);
        true
    }
}

/// What a passive open agrees to: each option both sides offer (RFC 7323 1.3, RFC 2018 2).
pub(crate) fn negotiate(cfg: &crate::engine::Config, o: &TcpOptions, our_shift: u8) -> Negotiated {
    Negotiated {
        peer_mss: o.mss,
        wscale: match (cfg.window_scaling, o.window_scale) {
            (true, Some(peer)) => Some((peer, our_shift)),
            _ => None,
        },
        sack: cfg.sack && o.sack_permitted,
        ts_recent: if cfg.timestamps {
            o.timestamps.map(|t| t.val)
        } else {
            None
        },
    }
}
