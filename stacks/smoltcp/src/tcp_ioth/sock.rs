//! The record of a TCP socket on a stack with our engine, and its readiness.
//!
//! The rules are those of `sockets` for smoltcp's TCP (see `SockRec::refresh`), read from the
//! engine's [`Status`](ioth_tcp::Status): a connect in progress shows nothing; a failed one
//! shows writable and hang-up with its errno in `SO_ERROR`; an open connection is readable with
//! data or at EOF (peer FIN, reset, `shutdown(SHUT_RD)`), shows RDHUP at EOF, is writable with
//! send space (or once writing is over), and hangs up when reset or both directions are done.
//! A listener is readable with a connection in its accept queue.

use std::net::SocketAddr;

use ioth_tcp::{ConnId, Engine, ListenerId};

use crate::readiness::Ready;
use crate::sockets::SockRec;

/// A TCP socket of a stack with `tcp=ioth`.
pub(crate) struct IothTcp {
    /// The bound address: bind, or what connect or listen chose.
    pub bound: Option<SocketAddr>,
    /// Where it is.
    pub state: State,
}

/// Where a TCP socket is.
pub(crate) enum State {
    /// Fresh or bound.
    Idle,
    /// A connection of the engine (connecting, or synchronized at least once).
    Conn(Conn),
    /// The last connect failed with this errno (the socket may connect again).
    Failed(i32),
    /// Listening.
    Listener(Listening),
}

/// A connection of the engine.
pub(crate) struct Conn {
    pub id: ConnId,
    /// The addresses as the engine has them (IPv4 ones plain, even on an `AF_INET6` socket).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The handshake completed (connect finished, or accepted).
    pub open: bool,
    /// The connection's error was reported (`SO_ERROR` set, or a call returned it).
    pub error_seen: bool,
}

/// A listener of the engine.
pub(crate) struct Listening {
    pub id: ListenerId,
    pub local: SocketAddr,
    pub backlog: usize,
}

impl IothTcp {
    /// A fresh socket.
    pub(crate) fn new() -> IothTcp {
        IothTcp {
            bound: None,
            state: State::Idle,
        }
    }

    /// The connection, if any.
    pub(crate) fn conn(&self) -> Option<&Conn> {
        match &self.state {
            State::Conn(c) => Some(c),
            _ => None,
        }
    }
}

/// Recomputes the state and descriptor of `rec`, a socket of kind `IothTcp`.
pub(crate) fn refresh(engine: &mut Engine, rec: &mut SockRec) {
    let SockRec {
        ready,
        kind,
        error,
        shut_rd,
        shut_wr,
        ..
    } = rec;
    let crate::sockets::Kind::IothTcp(t) = kind else {
        return;
    };
    let mut failed = None;
    let want = match &mut t.state {
        State::Idle => Ready {
            writable: true,
            ..Ready::default()
        },
        State::Failed(_) => Ready {
            writable: true,
            hup: true,
            ..Ready::default()
        },
        State::Listener(l) => Ready {
            readable: engine.pending(l.id) > 0,
            ..Ready::default()
        },
        State::Conn(c) => match engine.status(c.id) {
            Err(_) => {
                // The engine no longer knows it (it should while we hold it): ended.
                crate::ident::debug!("TCP {} -> {}: connection gone", c.local, c.remote);
                Ready {
                    readable: true,
                    writable: true,
                    rdhup: true,
                    hup: true,
                }
            }
            Ok(st) if !c.open && !st.established => match st.error {
                Some(e) => {
                    failed = Some((c.id, e.errno()));
                    Ready {
                        writable: true,
                        hup: true,
                        ..Ready::default()
                    }
                }
                None => Ready::default(),
            },
            Ok(st) => {
                c.open = true;
                let reset = st.error.is_some();
                if let Some(e) = st.error
                    && !c.error_seen
                {
                    c.error_seen = true;
                    *error = e.errno();
                }
                let eof = st.eof || reset || *shut_rd;
                let may_send = !st.write_closed;
                Ready {
                    readable: st.readable > 0 || eof,
                    rdhup: eof,
                    writable: *shut_wr || reset || st.send_space > 0 || !may_send,
                    hup: reset || (eof && (*shut_wr || !may_send)),
                }
            }
        },
    };
    if let Some((id, errno)) = failed {
        // The connect failed: the engine lets go of it, the socket keeps the errno.
        let _ = engine.close(super::engine_now(), id, false);
        t.state = State::Failed(errno);
        *error = errno;
    }
    ready.show(want);
}
