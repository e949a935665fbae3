//! A connection's timers: retransmission (RFC 6298 with Linux's bounds and give-up rules),
//! SYN and SYN-ACK retries, tail loss probes and RACK's reordering timer (RFC 8985),
//! delayed ACKs, window probes, keepalive (RFC 9293 3.8.4, Linux's TCP_KEEP*),
//! TCP_USER_TIMEOUT (RFC 5482), TIME-WAIT and the orphan's FIN-WAIT-2 timeout.

use std::time::Duration;

use super::{Conn, Ctx, Notes};
use crate::engine::{Config, Error, State};

/// How long `retries2` retransmissions take when the RTO starts at 200 ms and doubles up to
/// 120 s: Linux's `tcp_model_timeout` (924.6 s for 15).
pub(crate) fn retries_timeout(retries: u32, cfg: &Config) -> Duration {
    let base = Duration::from_millis(200);
    let mut total = Duration::ZERO;
    let mut rto = base;
    for _ in 0..=retries {
        total += rto.min(cfg.max_rto);
        rto = rto.saturating_mul(2);
    }
    total
}

impl Conn {
    /// Runs every timer due at `cx.now`.
    pub(crate) fn on_timers(&mut self, cx: &mut Ctx<'_>) -> Notes {
        let now = cx.now;
        let due = |t: Option<crate::time::Instant>| t.is_some_and(|t| t <= now);
        let mut notes = Notes::default();
        if due(self.close_at) {
            self.close_at = None;
            log::trace!(
                "TCP {} -> {}: {:?} over",
                self.local,
                self.remote,
                self.state
            );
            return self.terminate(None);
        }
        if due(self.delack_at) {
            self.delack_at = None;
            if self.ack_pending {
                self.ack_now = true;
                self.dirty_output = true;
            }
        }
        if due(self.cork_at) {
            self.dirty_output = true;
        }
        if self.rec.reorder_deadline().is_some_and(|t| t <= now) && self.rec.on_reorder_timer(now) {
            self.enter_recovery_on_loss(cx);
            self.dirty_output = true;
        }
        if due(self.tlp_at) {
            self.tlp_at = None;
            if self.rec.outstanding() > 0 {
                self.tlp_due = true;
                self.dirty_output = true;
            }
        }
        if due(self.rto_at) {
            self.rto_at = None;
            // The timeout supersedes a probe due at the same time.
            self.tlp_due = false;
            let n = self.on_rto(cx);
            if n.closed {
                return n;
            }
            notes.changed |= n.changed;
        }
        if due(self.persist_at) {
            self.persist_at = None;
            if self.unsent() > 0 && self.rec.outstanding() == 0 {
                self.probe_due = true;
                self.dirty_output = true;
                self.rtt.on_timeout();
                self.persist_at = Some(now + self.rtt.rto());
            }
        }
        if due(self.keepalive_at) {
            self.keepalive_at = None;
            let n = self.on_keepalive(cx);
            if n.closed {
                return n;
            }
        }
        notes
    }

    /// A loss found by a timer (RACK's reordering timer) starts fast recovery, as one found
    /// by an ACK does.
    fn enter_recovery_on_loss(&mut self, cx: &mut Ctx<'_>) {
        if self.recovery_point.is_some() || self.loss_point.is_some() {
            return;
        }
        let flight = self.rec.outstanding();
        self.cc.on_congestion_event(cx.now, flight);
        self.prr.start(self.cc.ssthresh(), flight);
        self.recovery_point = Some(self.snd_nxt());
        self.undo_retrans = 0;
        // RFC 6937: with nothing delivered yet, PRR allows the first retransmission.
        self.prr_allow = self.data_mss();
        self.tlp_at = None;
    }

    /// The retransmission timer fired.
    fn on_rto(&mut self, cx: &mut Ctx<'_>) -> Notes {
        let now = cx.now;
        let cfg = cx.cfg;
        match self.state {
            State::SynSent | State::SynReceived => {
                let limit = if self.state == State::SynSent {
                    cfg.syn_retries
                } else {
                    cfg.synack_retries
                };
                let gave_up = self.timeouts >= limit
                    || self
                        .opts
                        .user_timeout
                        .is_some_and(|u| self.progress_at.is_some_and(|p| now.since(p) >= u));
                if gave_up {
                    cx.counters.timeouts += 1;
                    log::debug!(
                        "TCP {} -> {}: no answer to {} SYNs: timed out",
                        self.local,
                        self.remote,
                        self.timeouts + 1
                    );
                    let err = if self.listener.is_some() {
                        None
                    } else {
                        Some(self.soft_error.unwrap_or(Error::TimedOut))
                    };
                    return self.terminate(err);
                }
                self.timeouts += 1;
                self.rtt.on_timeout();
                self.syn_due = true;
                self.dirty_output = true;
                if self.progress_at.is_none() {
                    self.progress_at = Some(now);
                }
                Notes::default()
            }
            State::Closed | State::Listen | State::TimeWait => Notes::default(),
            _ => {
                if self.rec.outstanding() == 0 {
                    return Notes::default();
                }
                let limit = self
                    .opts
                    .user_timeout
                    .unwrap_or_else(|| retries_timeout(cfg.retries2, cfg));
                let orphan_limit = self.orphan && self.timeouts >= 8;
                if self.progress_at.is_some_and(|p| now.since(p) >= limit) || orphan_limit {
                    cx.counters.timeouts += 1;
                    log::debug!(
                        "TCP {} -> {}: no acknowledgement for {:?}: timed out",
                        self.local,
                        self.remote,
                        limit
                    );
                    return self.terminate(Some(self.soft_error.unwrap_or(Error::TimedOut)));
                }
                self.timeouts += 1;
                self.stats.total_rto += 1;
                self.rtt.on_timeout();
                let flight = self.rec.outstanding();
                self.cc.on_rto(now, flight);
                self.rec.on_rto(now);
                if self.recovery_point.take().is_some() {
                    self.prr.finish();
                    self.prr_allow = 0;
                }
                self.loss_point = Some(self.snd_nxt());
                self.tlp_at = None;
                self.dirty_output = true;
                self.rto_at = Some(now + self.rtt.rto());
                // Never later than TCP_USER_TIMEOUT allows.
                if let (Some(u), Some(p)) = (self.opts.user_timeout, self.progress_at) {
                    let end = p + u;
                    if self.rto_at.is_some_and(|t| t > end) {
                        self.rto_at = Some(end.max(now));
                    }
                }
                Notes::default()
            }
        }
    }

    /// The keepalive timer fired: probe an idle connection, give up after TCP_KEEPCNT
    /// unanswered probes (or TCP_USER_TIMEOUT).
    fn on_keepalive(&mut self, cx: &mut Ctx<'_>) -> Notes {
        let now = cx.now;
        if !self.opts.keepalive
            || !matches!(
                self.state,
                State::Established | State::CloseWait | State::FinWait2
            )
        {
            return Notes::default();
        }
        if self.rec.outstanding() > 0 || self.unsent() > 0 {
            // Not idle: the retransmission timer watches the peer.
            self.keepalive_at = Some(now + self.opts.keep_idle());
            return Notes::default();
        }
        let silent = now.since(self.stats.last_ack_recv.max(self.stats.last_data_recv));
        let over_user = self
            .opts
            .user_timeout
            .is_some_and(|u| self.keepalive_probes > 0 && silent >= u);
        if self.keepalive_probes >= self.opts.keep_count() || over_user {
            cx.counters.timeouts += 1;
            log::debug!(
                "TCP {} -> {}: {} keepalive probes unanswered: timed out",
                self.local,
                self.remote,
                self.keepalive_probes
            );
            return self.terminate(Some(Error::TimedOut));
        }
        self.keepalive_probes += 1;
        self.probe_due = true;
        self.dirty_output = true;
        self.keepalive_at = Some(now + self.opts.keep_interval());
        Notes::default()
    }
}
