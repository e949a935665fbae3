//! UDP flows: one per client address and port, each with an internal socket connected to
//! the internal server; replies go back from the OTIP address the client used.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use ioth::SockAddr;
use mio::{Interest, Token};

use super::{Flow, Reactor, Source, Stats, domain_of, would_block};

impl Reactor {
    /// Datagrams from clients on slot `t`'s UDP forwarding `p`.
    pub(super) fn client_datagrams(&mut self, t: u32, p: usize, now: Duration) {
        loop {
            let Some(port) = self.slots.get(&t).and_then(|s| s.ports[p].as_ref()) else {
                return;
            };
            let (n, from) = match port.sock.recv_from(&mut self.buf, 0) {
                Ok((n, Some(from))) => match from.as_socket() {
                    Some(f) => (n, f),
                    None => continue,
                },
                Ok((_, None)) => continue,
                Err(e) if would_block(&e) => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("slot {t}: UDP receive: {e}");
                    return;
                }
            };
            let flow = match port.flows.get(&from) {
                Some(&tok) => Some(tok),
                None => self.start_flow(t, p, from, now),
            };
            let Some(flow) = flow.and_then(|tok| self.flows.get_mut(&tok)) else {
                Stats::bump(&self.shared.stats.udp_dropped);
                continue;
            };
            flow.last = now;
            if let Err(e) = flow.sock.send(&self.buf[..n], 0)
                && !would_block(&e)
            {
                log::debug!("slot {t}: UDP to the internal server: {e}");
            }
        }
    }

    /// A new flow for `peer`, if slot `t` takes new ones and the bound allows.
    fn start_flow(&mut self, t: u32, p: usize, peer: SocketAddr, now: Duration) -> Option<Token> {
        let accepting = self.slots.get(&t).is_some_and(|s| s.accepting);
        if !accepting || !self.cfg.timing.accepts(t, now.as_secs()) {
            return None;
        }
        if self.flows.len() >= self.cfg.max_udp_flows {
            log::debug!("slot {t}: {} UDP flows already: dropping", self.flows.len());
            return None;
        }
        let target = self.cfg.udp[p].target;
        let sock = self
            .cfg
            .internal
            .socket(
                domain_of(&target),
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
            .and_then(|s| s.connect(&SockAddr::from(target)).map(|()| s));
        let sock = match sock {
            Ok(s) => s,
            Err(e) => {
                log::warn!("slot {t}: UDP socket to {target}: {e}");
                return None;
            }
        };
        let token = match self.register(&sock, Source::Flow, Interest::READABLE) {
            Ok(tok) => tok,
            Err(e) => {
                log::warn!("slot {t}: {e}");
                return None;
            }
        };
        log::debug!("slot {t}: UDP flow {peer} → {target}");
        self.flows.insert(
            token,
            Flow {
                slot: t,
                port: p,
                peer,
                sock,
                last: now,
            },
        );
        if let Some(port) = self.slots.get_mut(&t).and_then(|s| s.ports[p].as_mut()) {
            port.flows.insert(peer, token);
        }
        Stats::bump(&self.stats().udp_flows);
        self.dirty = true;
        Some(token)
    }

    /// Replies of the internal server on flow `token`, back to its client.
    pub(super) fn server_datagrams(&mut self, token: Token, now: Duration) {
        loop {
            let Some(flow) = self.flows.get_mut(&token) else {
                return;
            };
            let n = match flow.sock.recv(&mut self.buf, 0) {
                Ok(n) => n,
                Err(e) if would_block(&e) => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // An ICMP error of an earlier datagram, reported once.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
                Err(e) => {
                    log::debug!("slot {}: UDP from the internal server: {e}", flow.slot);
                    return;
                }
            };
            flow.last = now;
            let (t, p, peer) = (flow.slot, flow.port, flow.peer);
            let Some(port) = self.slots.get(&t).and_then(|s| s.ports[p].as_ref()) else {
                return;
            };
            if let Err(e) = port.sock.send_to(&self.buf[..n], &SockAddr::from(peer), 0)
                && !would_block(&e)
            {
                log::debug!("slot {t}: UDP to {peer}: {e}");
            }
        }
    }

    pub(super) fn end_flow(&mut self, token: Token) {
        let Some(f) = self.flows.remove(&token) else {
            return;
        };
        self.deregister(&f.sock, token);
        if let Some(port) = self
            .slots
            .get_mut(&f.slot)
            .and_then(|s| s.ports[f.port].as_mut())
        {
            port.flows.remove(&f.peer);
        }
        self.dirty = true;
    }
}
