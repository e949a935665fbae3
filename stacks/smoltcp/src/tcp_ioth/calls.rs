//! The socket calls on TCP sockets of a stack with our engine, with the behaviour `sockets`
//! gives smoltcp's (Linux's: see the socket behaviour suite). `sockets` hands every call on a
//! socket of kind `IothTcp` here.
//!
//! Ports stay the backend's (`Core::bind_port`; a connect's ephemeral port also avoids the
//! four-tuples the engine still holds, TIME-WAIT included). An `AF_INET6` socket reaches IPv4
//! peers through IPv4-mapped addresses, as on Linux: the engine has them as IPv4 ones, the
//! calls show them mapped.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV6};
use std::time::Duration;

use ioth_tcp::{ConnId, Error as TcpError, SockOpts, State as TcpState};

use super::engine_now;
use super::sock::{Conn, IothTcp, Listening, State};
use super::{TcpIoth, engine_mtu};
use crate::core::{Core, Proto};
use crate::readiness::Readiness;
use crate::sockets::{Kind, Opts, Received, SockRec, check_family};

fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// The errno of an engine error.
fn errno(e: TcpError) -> io::Error {
    err(e.errno())
}

/// The engine's options for a socket with `o`.
pub(crate) fn sock_opts(o: &Opts) -> SockOpts {
    let secs = |s: u32| Duration::from_secs(u64::from(s));
    SockOpts {
        nodelay: o.nodelay,
        cork: o.cork,
        keepalive: o.keepalive,
        keep_idle: o.keepidle.map(secs),
        keep_interval: o.keepintvl.map(secs),
        keep_count: o.keepcnt,
        user_timeout: o.user_timeout,
        hop_limit: o.ttl,
        rcvbuf: o.rcvbuf,
        sndbuf: o.sndbuf,
    }
}

/// `a` with an IPv4-mapped address made IPv4.
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// `a` as a socket of `ipv6` shows it: IPv4 addresses mapped on an `AF_INET6` socket.
fn shown(ipv6: bool, a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V4(v4) if ipv6 => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        a => a,
    }
}

fn received(len: usize) -> Received {
    Received {
        len,
        from: None,
        truncated: false,
        dst: None,
        hop_limit: None,
    }
}

fn ioth(rec: &mut SockRec) -> io::Result<&mut IothTcp> {
    match &mut rec.kind {
        Kind::IothTcp(t) => Ok(t),
        _ => Err(err(libc::EINVAL)),
    }
}

/// The engine and the record of socket `id`, borrowed together.
fn parts(core: &mut Core, id: usize) -> io::Result<(&mut TcpIoth, &mut SockRec)> {
    let Core { tcp, socks, .. } = core;
    let rec = socks
        .get_mut(id)
        .and_then(Option::as_mut)
        .ok_or_else(|| err(libc::EBADF))?;
    let t = tcp.as_deref_mut().ok_or_else(|| err(libc::EINVAL))?;
    Ok((t, rec))
}

/// What a call gets once a connection's error is there: the errno the first time (unless
/// `SO_ERROR` took it), else `after`.
fn report(c: &mut Conn, error: &mut i32, e: TcpError, after: io::Result<()>) -> io::Result<()> {
    if !c.error_seen {
        c.error_seen = true;
        *error = 0;
        return Err(errno(e));
    }
    if *error != 0 {
        return Err(err(std::mem::take(error)));
    }
    after
}

impl Core {
    /// Whether socket `id` is a TCP socket of our engine.
    pub(crate) fn is_ioth(&self, id: usize) -> bool {
        matches!(
            self.socks.get(id).and_then(Option::as_ref).map(|r| &r.kind),
            Some(Kind::IothTcp(_))
        )
    }

    /// `bind(2)`.
    pub(crate) fn ioth_bind(&mut self, id: usize, addr: SocketAddr) -> io::Result<()> {
        let rec = self.sock(id)?;
        check_family(rec, &addr)?;
        let reuse = rec.opts.reuseaddr;
        let t = ioth(rec)?;
        if t.bound.is_some() || !matches!(t.state, State::Idle) {
            return Err(err(libc::EINVAL));
        }
        let bound = self.bind_port(Proto::Tcp, addr, reuse, id)?;
        ioth(self.sock(id)?)?.bound = Some(bound);
        Ok(())
    }

    /// `connect(2)`: starts the handshake and gives `EINPROGRESS` (the caller waits).
    pub(crate) fn ioth_connect(&mut self, id: usize, addr: SocketAddr) -> io::Result<()> {
        let rec = self.sock(id)?;
        check_family(rec, &addr)?;
        let opts = sock_opts(&rec.opts);
        let t = ioth(rec)?;
        match &t.state {
            State::Conn(c) if !c.open => return Err(err(libc::EALREADY)),
            State::Conn(_) | State::Listener(_) => return Err(err(libc::EISCONN)),
            State::Idle | State::Failed(_) => {}
        }
        let bound = t.bound;
        let remote = canonical(addr);
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(err(libc::ECONNREFUSED));
        }
        let slot = self.route(remote.ip())?;
        let src = match bound.map(canonical) {
            Some(b) if !b.ip().is_unspecified() => b.ip(),
            _ => self
                .source_for(slot, remote.ip())
                .ok_or_else(|| err(libc::EADDRNOTAVAIL))?,
        };
        if src.is_ipv4() != remote.is_ipv4() {
            return Err(err(libc::EINVAL));
        }
        let (port, autobound) = match bound {
            Some(b) => (b.port(), false),
            None => {
                // The engine is taken out for the port choice to ask it, and put back.
                let tcp = self.tcp.take();
                let chosen = match tcp.as_deref() {
                    Some(t) => self.bind_port_avoiding(
                        Proto::Tcp,
                        SocketAddr::new(src, 0),
                        false,
                        id,
                        &|p| t.engine.tuple_in_use(SocketAddr::new(src, p), remote),
                    ),
                    None => Err(err(libc::EINVAL)),
                };
                self.tcp = tcp;
                (chosen?.port(), true)
            }
        };
        let local = SocketAddr::new(src, port);
        let mtu = self
            .ifaces
            .get(slot)
            .and_then(Option::as_ref)
            .map_or(1500, |f| engine_mtu(f.mtu, remote.is_ipv4()));
        let (tcp, rec) = parts(self, id)?;
        let c = match tcp
            .engine
            .connect(engine_now(), local, remote, mtu, &opts, id as u64)
        {
            Ok(c) => c,
            Err(e) => {
                if autobound {
                    self.unbind(id);
                }
                // A four-tuple still in use (a bound port): Linux's EADDRNOTAVAIL.
                return Err(match e {
                    TcpError::AddrInUse => err(libc::EADDRNOTAVAIL),
                    e => errno(e),
                });
            }
        };
        rec.error = 0;
        let t = ioth(rec)?;
        if autobound {
            t.bound = Some(local);
        }
        t.state = State::Conn(Conn {
            id: c,
            local,
            remote,
            open: false,
            error_seen: false,
        });
        self.refresh(id);
        Err(err(libc::EINPROGRESS))
    }

    /// Where a connect stands: Ok when connected, its errno when it failed (once),
    /// `EINPROGRESS` while it goes on.
    pub(crate) fn ioth_connect_status(&mut self, id: usize) -> io::Result<()> {
        self.refresh(id);
        let rec = self.sock(id)?;
        let error = &mut rec.error;
        let Kind::IothTcp(t) = &rec.kind else {
            return Ok(());
        };
        match &t.state {
            State::Conn(c) if c.open => Ok(()),
            State::Conn(_) => Err(err(libc::EINPROGRESS)),
            State::Failed(e) => {
                *error = 0;
                Err(err(*e))
            }
            State::Idle => Err(err(libc::ENOTCONN)),
            State::Listener(_) => Ok(()),
        }
    }

    /// `listen(2)`; again on a listener, a new backlog.
    pub(crate) fn ioth_listen(&mut self, id: usize, backlog: libc::c_int) -> io::Result<()> {
        let backlog = usize::try_from(backlog).unwrap_or(0).clamp(1, 4096);
        let (tcp, rec) = parts(self, id)?;
        let t = ioth(rec)?;
        match &mut t.state {
            State::Listener(l) => {
                l.backlog = backlog;
                return tcp.engine.set_backlog(l.id, backlog).map_err(errno);
            }
            State::Conn(_) | State::Failed(_) => return Err(err(libc::EINVAL)),
            State::Idle => {}
        }
        if t.bound.is_none() {
            self.autobind(id)?;
        }
        let (tcp, rec) = parts(self, id)?;
        let opts = sock_opts(&rec.opts);
        let v6only = rec.opts.v6only;
        let t = ioth(rec)?;
        let local = t.bound.ok_or_else(|| err(libc::EINVAL))?;
        // An IPv6 wildcard listener takes IPv4 too, unless IPV6_V6ONLY (as Linux's).
        let l = tcp
            .engine
            .listen(local, backlog, v6only, &opts, id as u64)
            .map_err(|e| match e {
                TcpError::AddrInUse => err(libc::EADDRINUSE),
                e => errno(e),
            })?;
        t.state = State::Listener(Listening {
            id: l,
            local,
            backlog,
        });
        self.mark_listening(id);
        self.refresh(id);
        Ok(())
    }

    /// `accept(2)`: the oldest established connection as a new socket; `EAGAIN` when none.
    pub(crate) fn ioth_accept(&mut self, id: usize) -> io::Result<(usize, SocketAddr)> {
        let (tcp, rec) = parts(self, id)?;
        let (ipv6, opts) = (rec.ipv6, rec.opts.clone());
        let State::Listener(l) = &ioth(rec)?.state else {
            return Err(err(libc::EINVAL));
        };
        let lid = l.id;
        if tcp.engine.pending(lid) == 0 {
            return Err(err(libc::EAGAIN));
        }
        let ready = Readiness::new()?;
        let now = engine_now();
        let c = tcp.engine.accept(now, lid, u64::MAX).map_err(|e| match e {
            TcpError::WouldBlock => err(libc::EAGAIN),
            e => errno(e),
        })?;
        let Ok(st) = tcp.engine.status(c) else {
            let _ = tcp.engine.close(now, c, true);
            return Err(err(libc::ECONNABORTED));
        };
        let (local, remote) = (canonical(st.local), canonical(st.remote));
        // Options set on the listener since it listened apply too.
        let _ = tcp.engine.set_opts(now, c, &sock_opts(&opts));
        let new = SockRec {
            ready,
            kind: Kind::IothTcp(IothTcp {
                bound: Some(local),
                state: State::Conn(Conn {
                    id: c,
                    local,
                    remote,
                    open: true,
                    error_seen: false,
                }),
            }),
            ipv6,
            nonblocking: false,
            opts,
            error: 0,
            shut_rd: false,
            shut_wr: false,
        };
        let nid = self.insert_sock(new);
        if let Some(t) = self.tcp.as_deref_mut() {
            let _ = t.engine.set_token(c, nid as u64);
        }
        self.refresh(nid);
        self.refresh(id);
        Ok((nid, shown(ipv6, remote)))
    }

    /// `getsockname(2)`.
    pub(crate) fn ioth_local_addr(&mut self, id: usize) -> io::Result<Option<SocketAddr>> {
        let rec = self.sock(id)?;
        let ipv6 = rec.ipv6;
        let any = if ipv6 {
            SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0)
        } else {
            SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0)
        };
        let t = ioth(rec)?;
        Ok(Some(match &t.state {
            State::Conn(c) => shown(ipv6, c.local),
            State::Listener(l) => l.local,
            State::Idle | State::Failed(_) => t.bound.unwrap_or(any),
        }))
    }

    /// `getpeername(2)`: the peer of a connection that is synchronized and not over.
    pub(crate) fn ioth_peer_addr(&mut self, id: usize) -> io::Result<SocketAddr> {
        let (tcp, rec) = parts(self, id)?;
        let ipv6 = rec.ipv6;
        let Some(c) = ioth(rec)?.conn() else {
            return Err(err(libc::ENOTCONN));
        };
        match tcp.engine.status(c.id) {
            Ok(st)
                if c.open
                    && st.error.is_none()
                    && !matches!(st.state, TcpState::Closed | TcpState::TimeWait) =>
            {
                Ok(shown(ipv6, c.remote))
            }
            _ => Err(err(libc::ENOTCONN)),
        }
    }

    /// Receives into `bufs` (`MSG_PEEK` leaves the data). `EAGAIN` when nothing is there.
    pub(crate) fn ioth_recv(
        &mut self,
        id: usize,
        bufs: &mut [IoSliceMut<'_>],
        flags: libc::c_int,
    ) -> io::Result<Received> {
        let peek = flags & libc::MSG_PEEK != 0;
        let (tcp, rec) = parts(self, id)?;
        let SockRec {
            kind,
            error,
            shut_rd,
            ..
        } = rec;
        let Kind::IothTcp(t) = kind else {
            return Err(err(libc::EINVAL));
        };
        let c = match &mut t.state {
            State::Idle | State::Listener(_) => return Err(err(libc::ENOTCONN)),
            State::Failed(e) => {
                if *error != 0 {
                    *error = 0;
                    return Err(err(*e));
                }
                return Err(err(libc::ENOTCONN));
            }
            State::Conn(c) if !c.open => return Err(err(libc::EAGAIN)),
            State::Conn(c) => c,
        };
        if *shut_rd {
            return Ok(received(0));
        }
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(received(0));
        }
        let now = engine_now();
        let nonempty = bufs.iter().filter(|b| !b.is_empty()).count();
        let result = if peek && nonempty > 1 {
            // The engine peeks from the start each time: peek once, then scatter.
            let mut tmp = vec![0u8; bufs.iter().map(|b| b.len()).sum()];
            tcp.engine
                .recv(now, c.id, &mut tmp, true)
                .map(|n| crate::sockets::scatter(bufs, &tmp[..n]))
        } else {
            let mut total = 0;
            let mut result = Ok(0);
            for b in bufs.iter_mut().filter(|b| !b.is_empty()) {
                match tcp.engine.recv(now, c.id, &mut b[..], peek) {
                    Ok(n) => {
                        total += n;
                        result = Ok(total);
                        if n < b.len() || peek {
                            break;
                        }
                    }
                    Err(e) => {
                        if total == 0 {
                            result = Err(e);
                        }
                        break;
                    }
                }
            }
            result
        };
        match result {
            Ok(n) => Ok(received(n)),
            Err(TcpError::WouldBlock) => Err(err(libc::EAGAIN)),
            Err(e) => report(c, error, e, Ok(())).map(|()| received(0)),
        }
    }

    /// Sends `bufs`; `EAGAIN` when the send buffer is full.
    pub(crate) fn ioth_send(&mut self, id: usize, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let (tcp, rec) = parts(self, id)?;
        if rec.shut_wr {
            return Err(err(libc::EPIPE));
        }
        let SockRec { kind, error, .. } = rec;
        let Kind::IothTcp(t) = kind else {
            return Err(err(libc::EINVAL));
        };
        let c = match &mut t.state {
            State::Idle => return Err(err(libc::EPIPE)),
            State::Listener(_) => return Err(err(libc::ENOTCONN)),
            State::Failed(e) => {
                let e = if *error != 0 { *e } else { libc::EPIPE };
                *error = 0;
                return Err(err(e));
            }
            State::Conn(c) if !c.open => return Err(err(libc::EAGAIN)),
            State::Conn(c) => c,
        };
        let now = engine_now();
        let mut total = 0;
        for b in bufs.iter().filter(|b| !b.is_empty()) {
            match tcp.engine.send(now, c.id, b) {
                Ok(n) => {
                    total += n;
                    if n < b.len() {
                        break;
                    }
                }
                Err(_) if total > 0 => break,
                Err(TcpError::WouldBlock) => break,
                Err(TcpError::BrokenPipe) => return Err(err(libc::EPIPE)),
                Err(e) => {
                    report(c, error, e, Err(err(libc::EPIPE)))?;
                    return Err(err(libc::EPIPE));
                }
            }
        }
        if total == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(err(libc::EAGAIN));
        }
        Ok(total)
    }

    /// The engine's status of socket `id`'s connection, if it has one.
    fn ioth_status(&mut self, id: usize) -> io::Result<Option<ioth_tcp::Status>> {
        let (tcp, rec) = parts(self, id)?;
        Ok(ioth(rec)?.conn().and_then(|c| tcp.engine.status(c.id).ok()))
    }

    /// Bytes a read would return now (FIONREAD).
    pub(crate) fn ioth_readable_bytes(&mut self, id: usize) -> io::Result<usize> {
        Ok(self.ioth_status(id)?.map_or(0, |s| s.readable))
    }

    /// Bytes written but not yet acknowledged (SIOCOUTQ).
    pub(crate) fn ioth_unsent_bytes(&mut self, id: usize) -> io::Result<usize> {
        Ok(self.ioth_status(id)?.map_or(0, |s| s.unsent))
    }

    /// `shutdown(2)`.
    pub(crate) fn ioth_shutdown(&mut self, id: usize, how: libc::c_int) -> io::Result<()> {
        let (rd, wr) = match how {
            libc::SHUT_RD => (true, false),
            libc::SHUT_WR => (false, true),
            libc::SHUT_RDWR => (true, true),
            _ => return Err(err(libc::EINVAL)),
        };
        let (tcp, rec) = parts(self, id)?;
        let shut_wr = rec.shut_wr;
        match &ioth(rec)?.state {
            State::Conn(c) if c.open => {
                if wr && !shut_wr {
                    tcp.engine
                        .shutdown_write(engine_now(), c.id)
                        .map_err(errno)?;
                }
            }
            State::Listener(_) => {}
            _ => return Err(err(libc::ENOTCONN)),
        }
        rec.shut_rd |= rd;
        rec.shut_wr |= wr;
        self.refresh(id);
        Ok(())
    }

    /// Closes socket record `rec` (already out of the table): the connection finishes in the
    /// engine (a RST with unread data or `SO_LINGER` 0), a listener's queue is reset. With
    /// `SO_LINGER` on, the connection is only shut for writing and returned with the time to
    /// wait for its data to be acknowledged ([`Core::ioth_flushed`]), after which the caller
    /// closes it ([`Core::ioth_linger_done`]).
    pub(crate) fn ioth_close(&mut self, rec: SockRec) -> Option<(ConnId, Duration)> {
        let tcp = self.tcp.as_deref_mut()?;
        let Kind::IothTcp(t) = rec.kind else {
            return None;
        };
        let now = engine_now();
        match t.state {
            State::Conn(c) => {
                let st = tcp.engine.status(c.id).ok();
                let unread = st.is_some_and(|s| s.readable > 0);
                let ended = st.is_none_or(|s| s.error.is_some());
                // A stale id (the engine ended it) is nothing to close.
                match rec.opts.linger {
                    Some(0) => {
                        let _ = tcp.engine.close(now, c.id, true);
                    }
                    Some(secs) if secs > 0 && c.open && !unread && !ended => {
                        if !rec.shut_wr {
                            let _ = tcp.engine.shutdown_write(now, c.id);
                        }
                        let wait = Duration::from_secs(u64::try_from(secs).unwrap_or(0));
                        return Some((c.id, wait));
                    }
                    _ => {
                        let _ = tcp.engine.close(now, c.id, false);
                    }
                }
            }
            State::Listener(l) => tcp.engine.close_listener(now, l.id),
            State::Idle | State::Failed(_) => {}
        }
        None
    }

    /// Whether a lingering connection has nothing left unacknowledged (data, our FIN), or
    /// has ended.
    pub(crate) fn ioth_flushed(&self, c: ConnId) -> bool {
        let Some(tcp) = self.tcp.as_deref() else {
            return true;
        };
        tcp.engine.status(c).ok().is_none_or(|s| {
            s.error.is_some()
                || (s.unsent == 0
                    && !matches!(
                        s.state,
                        TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
                    ))
        })
    }

    /// Lets the engine finish a lingering connection by itself (the linger is over).
    pub(crate) fn ioth_linger_done(&mut self, c: ConnId) {
        if let Some(tcp) = self.tcp.as_deref_mut() {
            let _ = tcp.engine.close(engine_now(), c, false);
        }
    }

    /// Gives the engine socket `id`'s options (after a setsockopt).
    pub(crate) fn ioth_apply_opts(&mut self, id: usize) -> io::Result<()> {
        let (tcp, rec) = parts(self, id)?;
        let opts = sock_opts(&rec.opts);
        match &ioth(rec)?.state {
            State::Conn(c) => {
                let _ = tcp.engine.set_opts(engine_now(), c.id, &opts);
            }
            // For the connections it will hand out.
            State::Listener(l) => {
                let _ = tcp.engine.set_listener_opts(l.id, &opts, id as u64);
            }
            State::Idle | State::Failed(_) => {}
        }
        Ok(())
    }

    /// The socket's receive and send buffer sizes as `SO_RCVBUF`/`SO_SNDBUF` report them:
    /// twice what was set (Linux's bookkeeping), else the engine's defaults.
    pub(crate) fn ioth_buffer_sizes(&mut self, id: usize) -> io::Result<(usize, usize)> {
        let (tcp, rec) = parts(self, id)?;
        let c = tcp.engine.config();
        let rcv = if rec.opts.rcvbuf > 0 {
            rec.opts.rcvbuf * 2
        } else {
            c.rmem_default
        };
        let snd = if rec.opts.sndbuf > 0 {
            rec.opts.sndbuf * 2
        } else {
            c.wmem_default
        };
        Ok((rcv, snd))
    }

    /// `TCP_INFO` of socket `id` into `out`; returns the length written.
    pub(crate) fn ioth_tcp_info(&mut self, id: usize, out: &mut [u8]) -> io::Result<usize> {
        let (tcp, rec) = parts(self, id)?;
        let t = ioth(rec)?;
        let bytes = match &t.state {
            State::Conn(c) => tcp
                .engine
                .info(engine_now(), c.id)
                .ok()
                .map(|i| i.to_bytes().to_vec()),
            _ => None,
        };
        let bytes = bytes.unwrap_or_else(|| match &t.state {
            // A listener: Linux's state, accept queue (tcpi_unacked) and backlog
            // (tcpi_sacked), what `ss` shows as Recv-Q and Send-Q.
            State::Listener(l) => {
                crate::options::listener_tcp_info(tcp.engine.pending(l.id), l.backlog)
            }
            // Not connected: Linux's all-zero info with the state alone.
            _ => crate::options::bare_tcp_info(7), // TCP_CLOSE
        });
        let n = out.len().min(bytes.len());
        out[..n].copy_from_slice(&bytes[..n]);
        Ok(n)
    }
}
