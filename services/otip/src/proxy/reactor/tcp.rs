//! Relayed TCP connections: accepting on an address's listeners, connecting to the internal
//! server, moving bytes both ways through [`Pipe`]s, closing.

use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::time::Duration;

use ioth::{SockAddr, Socket};
use mio::unix::SourceFd;
use mio::{Interest, Token};

use super::{Conn, PIPE_BYTES, Reactor, Source, Stats, domain_of, in_progress, would_block};
use crate::proxy::relay::Pipe;

impl Reactor {
    /// Takes every pending connection of a listener.
    pub(super) fn accept(&mut self, t: u32, fwd: usize, token: Token, now: Duration) {
        loop {
            let Some(slot) = self.slots.get(&t) else {
                return;
            };
            let Some((_, listener)) = slot.listeners.iter().find(|(tok, _)| *tok == token) else {
                return;
            };
            match listener.accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) {
                Ok((ext, _)) => self.start_conn(t, fwd, ext, now),
                Err(e) if would_block(&e) => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("slot {t}: accept: {e}");
                    return;
                }
            }
        }
    }

    fn start_conn(&mut self, t: u32, fwd: usize, ext: Socket, now: Duration) {
        if !self.cfg.timing.accepts(t, now.as_secs()) {
            return; // the window ended before the listener closed: refuse
        }
        if self.conns.len() >= self.cfg.max_tcp_connections {
            Stats::bump(&self.stats().tcp_over_limit);
            log::debug!(
                "slot {t}: {} connections already: closing a new one",
                self.conns.len()
            );
            return;
        }
        let target = self.cfg.tcp[fwd].target;
        let int = match self.cfg.internal.socket(
            domain_of(&target),
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        ) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("slot {t}: internal socket for {target}: {e}");
                return;
            }
        };
        match int.connect(&SockAddr::from(target)) {
            Ok(()) => {}
            Err(e) if in_progress(&e) => {}
            Err(e) => {
                log::info!("slot {t}: connecting to {target}: {e}");
                return;
            }
        }
        let both = Interest::READABLE | Interest::WRITABLE;
        let key = self.token();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut SourceFd(&ext.as_raw_fd()), key, both)
        {
            log::warn!("slot {t}: {e}");
            return;
        }
        self.sources.insert(key, Source::Conn(key));
        let int_token = match self.register(&int, Source::Conn(key), both) {
            Ok(tok) => tok,
            Err(e) => {
                log::warn!("slot {t}: {e}");
                self.deregister(&ext, key);
                return;
            }
        };
        if let Ok(peer) = ext.peer_addr() {
            log::debug!("slot {t}: {:?} → {target}", peer.as_socket());
        }
        self.conns.insert(
            key,
            Conn {
                slot: t,
                ext,
                int,
                int_token,
                connected: false,
                up: Pipe::new(PIPE_BYTES),
                down: Pipe::new(PIPE_BYTES),
                last: now,
            },
        );
        if let Some(slot) = self.slots.get_mut(&t) {
            slot.tcp += 1;
        }
        Stats::bump(&self.stats().tcp_connections);
        self.dirty = true;
    }

    /// Moves what can be moved on connection `key`; closes it when both directions ended
    /// or either side failed.
    pub(super) fn service(&mut self, key: Token, now: Duration) {
        let Some(c) = self.conns.get_mut(&key) else {
            return;
        };
        if !c.connected {
            match c.int.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => {
                    log::info!("slot {}: internal server: {e}", c.slot);
                    self.close(key);
                    return;
                }
            }
            match c.int.peer_addr() {
                Ok(_) => c.connected = true,
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => return,
                Err(e) => {
                    log::info!("slot {}: internal server: {e}", c.slot);
                    self.close(key);
                    return;
                }
            }
        }
        let up = c.up.pump(&mut &c.ext, &mut &c.int);
        let down = c.down.pump(&mut &c.int, &mut &c.ext);
        match (up, down) {
            (Ok(a), Ok(b)) => {
                if a + b > 0 {
                    c.last = now;
                }
                if c.up.done() && c.down.done() {
                    self.close(key);
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                log::debug!("slot {}: connection ends: {e}", c.slot);
                self.close(key);
            }
        }
    }

    pub(super) fn close(&mut self, key: Token) {
        let Some(c) = self.conns.remove(&key) else {
            return;
        };
        self.deregister(&c.ext, key);
        self.deregister(&c.int, c.int_token);
        if let Some(slot) = self.slots.get_mut(&c.slot) {
            slot.tcp = slot.tcp.saturating_sub(1);
        }
        self.dirty = true;
    }
}
