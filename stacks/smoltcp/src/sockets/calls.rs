//! The socket calls that make, name, connect and end sockets: `socket`, `bind`, `connect`,
//! `listen`, `accept`, `getsockname`, `getpeername`, `shutdown`, `close`, options and
//! multicast membership.

use super::*;

impl Core {
    /// Opens a socket record; `EAFNOSUPPORT`/`EPROTONOSUPPORT`/`ESOCKTNOSUPPORT` for what the
    /// stack does not offer.
    pub(crate) fn open(
        &mut self,
        domain: libc::c_int,
        ty: libc::c_int,
        protocol: libc::c_int,
    ) -> io::Result<usize> {
        let base = ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
        let kind = match domain {
            libc::AF_INET | libc::AF_INET6 => match (base, protocol) {
                (libc::SOCK_DGRAM, 0 | libc::IPPROTO_UDP) => Kind::Udp(Udp {
                    local: None,
                    subs: Vec::new(),
                    peer: None,
                    next: 0,
                    steered: crate::steer::Queue::default(),
                    dual: false,
                }),
                (libc::SOCK_STREAM, 0 | libc::IPPROTO_TCP) if self.tcp.is_some() => {
                    Kind::IothTcp(crate::tcp_ioth::sock::IothTcp::new())
                }
                (libc::SOCK_STREAM, 0 | libc::IPPROTO_TCP) => {
                    Kind::Tcp(new_tcp(None, None, Phase::Idle, tcp::State::Closed))
                }
                (libc::SOCK_DGRAM, libc::IPPROTO_ICMP) if domain == libc::AF_INET => {
                    Kind::Icmp(Icmp {
                        local: None,
                        subs: Vec::new(),
                        peer: None,
                    })
                }
                (libc::SOCK_RAW, libc::IPPROTO_ICMPV6) if domain == libc::AF_INET6 => {
                    Kind::Raw6(Raw6::new())
                }
                (libc::SOCK_DGRAM | libc::SOCK_STREAM | libc::SOCK_RAW, _) => {
                    return Err(err(libc::EPROTONOSUPPORT));
                }
                _ => return Err(err(libc::ESOCKTNOSUPPORT)),
            },
            libc::AF_NETLINK => {
                if base != libc::SOCK_RAW && base != libc::SOCK_DGRAM {
                    return Err(err(libc::ESOCKTNOSUPPORT));
                }
                if protocol != libc::NETLINK_ROUTE {
                    return Err(err(libc::EPROTONOSUPPORT));
                }
                let pid = self.next_nl_pid;
                self.next_nl_pid = self.next_nl_pid.wrapping_add(1).max(1);
                Kind::Netlink(Netlink {
                    ep: nlconf::server::NlEndpoint::new(pid),
                })
            }
            _ => return Err(err(libc::EAFNOSUPPORT)),
        };
        let rec = SockRec {
            ready: Readiness::new()?,
            kind,
            ipv6: domain == libc::AF_INET6,
            nonblocking: ty & libc::SOCK_NONBLOCK != 0,
            opts: Opts::default(),
            error: 0,
            shut_rd: false,
            shut_wr: false,
        };
        let id = self.insert_sock(rec);
        self.refresh(id);
        Ok(id)
    }

    /// `bind(2)`.
    pub(crate) fn bind(&mut self, id: usize, addr: SocketAddr) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_bind(id, addr);
        }
        let rec = self.sock(id)?;
        check_family(rec, &addr)?;
        if matches!(rec.kind, Kind::Raw6(_)) {
            return self.raw6_bind(id, addr);
        }
        let reuse = rec.opts.reuseaddr;
        let (proto, already) = match &rec.kind {
            Kind::Udp(u) => (Proto::Udp, u.local.is_some()),
            Kind::Tcp(t) => (Proto::Tcp, t.bound.is_some() || t.conn.is_some()),
            Kind::Listener(_) => (Proto::Tcp, true),
            Kind::Icmp(i) => (Proto::Icmp, i.local.is_some()),
            Kind::Netlink(_) | Kind::Raw6(_) | Kind::IothTcp(_) => return Ok(()),
        };
        if already {
            return Err(err(libc::EINVAL));
        }
        let addr = if proto == Proto::Icmp && addr.port() == 0 {
            // Echo identifiers come from one sequence for the whole process, so that stacks
            // of one process that ping each other do not share identifiers.
            SocketAddr::new(addr.ip(), crate::icmp::next_icmp_ident())
        } else {
            addr
        };
        let bound = self.bind_port(proto, addr, reuse, id)?;
        match proto {
            Proto::Icmp => {
                if let Kind::Icmp(i) = &mut self.sock(id)?.kind {
                    i.local = Some(bound);
                }
            }
            Proto::Udp => {
                if let Err(e) = self.udp_attach(id, bound) {
                    self.unbind(id);
                    return Err(e);
                }
                crate::steer::mark_dual(self, id);
            }
            Proto::Tcp => {
                if let Kind::Tcp(t) = &mut self.sock(id)?.kind {
                    t.bound = Some(bound);
                }
            }
        }
        Ok(())
    }

    /// Creates the smoltcp UDP sockets of a bound UDP socket.
    fn udp_attach(&mut self, id: usize, local: SocketAddr) -> io::Result<()> {
        let slots = self.slots_for_local(local.ip());
        let opts = self.sock(id)?.opts.clone();
        let mut subs = Vec::new();
        for s in slots {
            let Some(f) = get_iface(&mut self.ifaces, s) else {
                continue;
            };
            let mut sock = udp_socket(&opts);
            sock.bind(listen_endpoint(local))
                .map_err(|_| err(libc::EINVAL))?;
            subs.push((s, f.sockets.add(sock)));
        }
        if let Kind::Udp(u) = &mut self.sock(id)?.kind {
            u.local = Some(local);
            u.subs = subs;
        }
        Ok(())
    }

    /// Binds socket `id` to the wildcard address of its family, port 0.
    pub(crate) fn autobind(&mut self, id: usize) -> io::Result<()> {
        let ipv6 = self.sock(id)?.ipv6;
        let any: IpAddr = if ipv6 {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        };
        self.bind(id, SocketAddr::new(any, 0))
    }

    /// `connect(2)`: UDP sets the peer; TCP starts the handshake and gives `EINPROGRESS`.
    pub(crate) fn connect(&mut self, id: usize, addr: SocketAddr) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_connect(id, addr);
        }
        let rec = self.sock(id)?;
        check_family(rec, &addr)?;
        match &rec.kind {
            Kind::Udp(u) => {
                if u.local.is_none() {
                    self.autobind(id)?;
                }
                if let Kind::Udp(u) = &mut self.sock(id)?.kind {
                    u.peer = Some(addr);
                }
                self.refresh(id);
                Ok(())
            }
            Kind::Tcp(t) => {
                match t.phase {
                    Phase::Connecting(_) => return Err(err(libc::EALREADY)),
                    Phase::Open => return Err(err(libc::EISCONN)),
                    Phase::Idle | Phase::Failed(_) => {}
                }
                let bound = t.bound;
                let opts = rec.opts.clone();
                if addr.ip().is_unspecified() || addr.port() == 0 {
                    return Err(err(libc::ECONNREFUSED));
                }
                let slot = self.route(addr.ip())?;
                let local = match bound {
                    Some(b) => b,
                    None => {
                        let src = self
                            .source_for(slot, addr.ip())
                            .ok_or_else(|| err(libc::EADDRNOTAVAIL))?;
                        let b = self.bind_port(Proto::Tcp, SocketAddr::new(src, 0), false, id)?;
                        if let Kind::Tcp(t) = &mut self.sock(id)?.kind {
                            t.bound = Some(b);
                        }
                        b
                    }
                };
                let src = if local.ip().is_unspecified() {
                    self.source_for(slot, addr.ip())
                        .ok_or_else(|| err(libc::EADDRNOTAVAIL))?
                } else {
                    local.ip()
                };
                let connect_limit = micros(self.connect_timeout);
                let f = get_iface(&mut self.ifaces, slot).ok_or_else(|| err(libc::ENETUNREACH))?;
                // Only an Ethernet link resolves neighbours (`lo` needs none).
                let unresolved =
                    matches!(f.attach, crate::core::Attachment::Link(_)).then_some(addr.ip());
                if let Some(dst) = unresolved
                    && !f.connecting.contains(&dst)
                {
                    // Noted from the first poll on (`Core::watch_connects` keeps the list).
                    f.connecting.push(dst);
                }
                let mut sock = tcp_socket(&opts);
                sock.set_timeout(Some(smoltcp::time::Duration::from_micros(connect_limit)));
                sock.connect(
                    f.iface.context(),
                    IpEndpoint::from(addr),
                    IpListenEndpoint {
                        addr: Some(src.into()),
                        port: local.port(),
                    },
                )
                .map_err(|e| match e {
                    tcp::ConnectError::Unaddressable => err(libc::EADDRNOTAVAIL),
                    tcp::ConnectError::InvalidState => err(libc::EISCONN),
                })?;
                let h = f.sockets.add(sock);
                let rec = self.sock(id)?;
                rec.error = 0;
                if let Kind::Tcp(t) = &mut rec.kind {
                    t.conn = Some((slot, h));
                    t.phase = Phase::Connecting(crate::driver::now_micros());
                    t.last = tcp::State::SynSent;
                    t.connect_limit = connect_limit;
                    t.unresolved = unresolved;
                }
                self.refresh(id);
                Err(err(libc::EINPROGRESS))
            }
            Kind::Listener(_) => Err(err(libc::EISCONN)),
            Kind::Icmp(_) => {
                if let Kind::Icmp(i) = &mut self.sock(id)?.kind {
                    i.peer = Some(addr.ip());
                }
                Ok(())
            }
            Kind::Netlink(_) | Kind::IothTcp(_) => Ok(()),
            Kind::Raw6(_) => self.raw6_connect(id, addr),
        }
    }

    /// Where a connect stands: Ok when connected, the errno when it failed, EINPROGRESS
    /// while it goes on.
    pub(crate) fn connect_status(&mut self, id: usize) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_connect_status(id);
        }
        self.refresh(id);
        let rec = self.sock(id)?;
        match &rec.kind {
            Kind::Tcp(t) => match t.phase {
                Phase::Open => Ok(()),
                Phase::Failed(e) => {
                    rec.error = 0;
                    Err(err(e))
                }
                Phase::Connecting(_) => Err(err(libc::EINPROGRESS)),
                Phase::Idle => Err(err(libc::ENOTCONN)),
            },
            _ => Ok(()),
        }
    }

    /// `listen(2)`.
    pub(crate) fn listen(&mut self, id: usize, backlog: libc::c_int) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_listen(id, backlog);
        }
        let backlog = usize::try_from(backlog).unwrap_or(0).clamp(1, 4096);
        if let Kind::Listener(l) = &mut self.sock(id)?.kind {
            l.backlog = backlog;
            return Ok(());
        }
        let rec = self.sock(id)?;
        let Kind::Tcp(t) = &rec.kind else {
            return Err(err(libc::EOPNOTSUPP));
        };
        if t.conn.is_some() {
            return Err(err(libc::EINVAL));
        }
        if t.bound.is_none() {
            self.autobind(id)?;
        }
        let rec = self.sock(id)?;
        let Kind::Tcp(t) = &rec.kind else {
            return Err(err(libc::EINVAL));
        };
        let local = t.bound.ok_or_else(|| err(libc::EINVAL))?;
        let opts = rec.opts.clone();
        rec.kind = Kind::Listener(Listener {
            local,
            backlog,
            spares: Vec::new(),
            embryos: Vec::new(),
            ready: VecDeque::new(),
            opts,
        });
        self.mark_listening(id);
        self.listeners.push(id);
        for s in self.slots_for_local(local.ip()) {
            let Core {
                ifaces,
                socks,
                listeners,
                ..
            } = self;
            if let Some(f) = get_iface(ifaces, s) {
                refill_listeners(listeners, socks, s, &mut f.sockets);
            }
        }
        self.refresh(id);
        Ok(())
    }

    /// `accept(2)`: the next established connection, as a new socket; EAGAIN when none.
    pub(crate) fn accept(&mut self, id: usize) -> io::Result<(usize, SocketAddr)> {
        if self.is_ioth(id) {
            return self.ioth_accept(id);
        }
        let rec = self.sock(id)?;
        let Kind::Listener(l) = &mut rec.kind else {
            return Err(err(libc::EINVAL));
        };
        let ipv6 = rec.ipv6;
        let opts = l.opts.clone();
        let Some((s, h)) = l.ready.pop_front() else {
            return Err(err(libc::EAGAIN));
        };
        let f = get_iface(&mut self.ifaces, s).ok_or_else(|| err(libc::ECONNABORTED))?;
        let sock = f.sockets.get::<tcp::Socket>(h);
        let (Some(peer), Some(local)) = (sock.remote_endpoint(), sock.local_endpoint()) else {
            f.sockets.remove(h);
            return Err(err(libc::ECONNABORTED));
        };
        let state = sock.state();
        let new = SockRec {
            ready: Readiness::new()?,
            kind: Kind::Tcp(new_tcp(
                Some(std_endpoint(local)),
                Some((s, h)),
                Phase::Open,
                state,
            )),
            ipv6,
            nonblocking: false,
            opts,
            error: 0,
            shut_rd: false,
            shut_wr: false,
        };
        let nid = self.insert_sock(new);
        self.refresh(nid);
        self.refresh(id);
        Ok((nid, std_endpoint(peer)))
    }

    /// `getsockname(2)` (for IP sockets).
    pub(crate) fn local_addr(&mut self, id: usize) -> io::Result<Option<SocketAddr>> {
        if self.is_ioth(id) {
            return self.ioth_local_addr(id);
        }
        let ipv6 = self.sock(id)?.ipv6;
        let any = || {
            if ipv6 {
                SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0)
            } else {
                SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0)
            }
        };
        let (ifaces, rec) = self.rec_and_ifaces(id)?;
        Ok(match &rec.kind {
            Kind::Udp(u) => Some(u.local.unwrap_or_else(any)),
            Kind::Tcp(t) => {
                if let Some((s, h)) = t.conn {
                    get_iface(ifaces, s)
                        .and_then(|f| f.sockets.get::<tcp::Socket>(h).local_endpoint())
                        .map(std_endpoint)
                        .or(t.bound)
                        .or_else(|| Some(any()))
                } else {
                    Some(t.bound.unwrap_or_else(any))
                }
            }
            Kind::Listener(l) => Some(l.local),
            Kind::Icmp(i) => Some(i.local.unwrap_or_else(any)),
            Kind::Netlink(_) | Kind::IothTcp(_) => None,
            Kind::Raw6(r) => Some(SocketAddr::new(IpAddr::V6(r.local()), 0)),
        })
    }

    /// The netlink port id of a netlink socket.
    pub(crate) fn netlink_pid(&mut self, id: usize) -> io::Result<u32> {
        match &self.sock(id)?.kind {
            Kind::Netlink(n) => Ok(n.ep.pid()),
            _ => Err(err(libc::EINVAL)),
        }
    }

    /// `getpeername(2)`.
    pub(crate) fn peer_addr(&mut self, id: usize) -> io::Result<SocketAddr> {
        if self.is_ioth(id) {
            return self.ioth_peer_addr(id);
        }
        let (ifaces, rec) = self.rec_and_ifaces(id)?;
        match &rec.kind {
            Kind::Udp(u) => u.peer.ok_or_else(|| err(libc::ENOTCONN)),
            Kind::Icmp(i) => i
                .peer
                .map(|p| SocketAddr::new(p, 0))
                .ok_or_else(|| err(libc::ENOTCONN)),
            Kind::Raw6(r) => r
                .peer()
                .map(|p| SocketAddr::new(IpAddr::V6(p), 0))
                .ok_or_else(|| err(libc::ENOTCONN)),
            Kind::Tcp(t) if t.phase == Phase::Open => {
                let (s, h) = t.conn.ok_or_else(|| err(libc::ENOTCONN))?;
                get_iface(ifaces, s)
                    .and_then(|f| f.sockets.get::<tcp::Socket>(h).remote_endpoint())
                    .map(std_endpoint)
                    .ok_or_else(|| err(libc::ENOTCONN))
            }
            _ => Err(err(libc::ENOTCONN)),
        }
    }

    /// `shutdown(2)`.
    pub(crate) fn shutdown(&mut self, id: usize, how: libc::c_int) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_shutdown(id, how);
        }
        let (rd, wr) = match how {
            libc::SHUT_RD => (true, false),
            libc::SHUT_WR => (false, true),
            libc::SHUT_RDWR => (true, true),
            _ => return Err(err(libc::EINVAL)),
        };
        let (ifaces, rec) = self.rec_and_ifaces(id)?;
        match &rec.kind {
            Kind::Tcp(t) => {
                if t.phase != Phase::Open {
                    return Err(err(libc::ENOTCONN));
                }
                if wr
                    && !rec.shut_wr
                    && let Some((s, h)) = t.conn
                    && let Some(f) = get_iface(ifaces, s)
                {
                    f.sockets.get_mut::<tcp::Socket>(h).close();
                }
            }
            Kind::Udp(u) if u.peer.is_none() => return Err(err(libc::ENOTCONN)),
            Kind::Listener(_) => {}
            _ => {}
        }
        rec.shut_rd |= rd;
        rec.shut_wr |= wr;
        self.refresh(id);
        Ok(())
    }

    /// Closes socket `id`: TCP connections finish their close in the background (or reset
    /// with SO_LINGER 0); UDP datagrams still waiting for the neighbour stay queued until they
    /// leave (at most `UDP_LINGER_MICROS`); everything else goes at once. Returns what the
    /// caller waits for (those UDP sockets, a lingering TCP close) and for how long at most.
    pub(crate) fn close(&mut self, id: usize) -> (Vec<Linger>, Duration) {
        let mut lingering = Vec::new();
        let mut wait = Duration::from_micros(crate::core::UDP_LINGER_MICROS);
        let Some(rec) = self.remove_sock(id) else {
            return (lingering, wait);
        };
        if matches!(rec.kind, Kind::IothTcp(_)) {
            let linger = self.ioth_close(rec);
            return linger.map_or((lingering, wait), |(c, w)| (vec![Linger::Ioth(c)], w));
        }
        match rec.kind {
            Kind::Udp(u) => {
                let until = crate::driver::now_micros() + crate::core::UDP_LINGER_MICROS;
                for (s, h) in u.subs {
                    if let Some(f) = get_iface(&mut self.ifaces, s) {
                        if f.sockets.get::<udp::Socket>(h).send_queue() == 0 {
                            f.sockets.remove(h);
                        } else {
                            // Datagrams still queued (waiting for ARP/NDP) go out first.
                            lingering.push(Linger::Smol(h));
                            self.closing.push(Closing {
                                slot: s,
                                handle: h,
                                udp_until: Some(until),
                            });
                        }
                    }
                }
            }
            Kind::Icmp(i) => {
                for (s, h) in i.subs {
                    if let Some(f) = get_iface(&mut self.ifaces, s) {
                        f.sockets.remove(h);
                    }
                }
            }
            Kind::Raw6(r) => r.close(&mut self.ifaces),
            Kind::Tcp(t) => {
                if let Some((s, h)) = t.conn
                    && let Some(f) = get_iface(&mut self.ifaces, s)
                {
                    let sock = f.sockets.get_mut::<tcp::Socket>(h);
                    if rec.opts.linger == Some(0) || t.reset {
                        sock.abort();
                    } else {
                        sock.close();
                        // An orphan whose peer goes silent ends (FIN-WAIT-2, LAST-ACK, data
                        // to a dead peer), as Linux's orphans do.
                        sock.set_keep_alive(None);
                        sock.set_timeout(Some(smol_duration(ORPHAN_TIMEOUT)));
                        if let Some(secs) = rec.opts.linger.filter(|s| *s > 0) {
                            // SO_LINGER: close() waits until the data is acknowledged.
                            lingering.push(Linger::Smol(h));
                            wait = Duration::from_secs(u64::try_from(secs).unwrap_or(0));
                        }
                    }
                    self.closing.push(Closing {
                        slot: s,
                        handle: h,
                        udp_until: None,
                    });
                }
            }
            Kind::Listener(l) => {
                for (s, h) in l.spares {
                    if let Some(f) = get_iface(&mut self.ifaces, s) {
                        f.sockets.remove(h);
                    }
                }
                for (s, h) in l.embryos.into_iter().chain(l.ready) {
                    if let Some(f) = get_iface(&mut self.ifaces, s) {
                        f.sockets.get_mut::<tcp::Socket>(h).abort();
                        self.closing.push(Closing {
                            slot: s,
                            handle: h,
                            udp_until: None,
                        });
                    }
                }
            }
            Kind::Netlink(_) | Kind::IothTcp(_) => {}
        }
        (lingering, wait)
    }

    /// Re-applies options that live in smoltcp sockets.
    pub(crate) fn apply_opts(&mut self, id: usize) -> io::Result<()> {
        if self.is_ioth(id) {
            return self.ioth_apply_opts(id);
        }
        let (ifaces, rec) = self.rec_and_ifaces(id)?;
        let opts = rec.opts.clone();
        match &mut rec.kind {
            Kind::Tcp(t) => {
                if let Some((s, h)) = t.conn
                    && let Some(f) = get_iface(ifaces, s)
                {
                    let sock = f.sockets.get_mut::<tcp::Socket>(h);
                    sock.set_nagle_enabled(!opts.nodelay);
                    sock.set_hop_limit(opts.ttl);
                    if t.phase == Phase::Open && !t.reset {
                        run_timers(t, sock, &opts);
                    }
                }
            }
            Kind::Listener(l) => l.opts = opts,
            Kind::Icmp(_) => {}
            Kind::Udp(u) => {
                for &(s, h) in &u.subs {
                    if let Some(f) = get_iface(ifaces, s) {
                        f.sockets.get_mut::<udp::Socket>(h).set_hop_limit(opts.ttl);
                    }
                }
            }
            Kind::Netlink(_) | Kind::Raw6(_) | Kind::IothTcp(_) => {}
        }
        Ok(())
    }

    /// Joins or leaves a multicast group on interface `ifindex` (0: the one routing
    /// chooses); `ENODEV` for an interface the stack does not have.
    pub(crate) fn multicast(&mut self, group: IpAddr, join: bool, ifindex: u32) -> io::Result<()> {
        let slot = if ifindex != 0 {
            self.iface(ifindex).ok_or_else(|| err(libc::ENODEV))?;
            (ifindex - 1) as usize
        } else {
            self.route(group).unwrap_or(0)
        };
        let f = get_iface(&mut self.ifaces, slot).ok_or_else(|| err(libc::ENODEV))?;
        let r = match group {
            IpAddr::V4(g) => {
                if join {
                    f.iface.join_multicast_group(g)
                } else {
                    f.iface.leave_multicast_group(g)
                }
            }
            IpAddr::V6(g) => {
                if join {
                    f.iface.join_multicast_group(g)
                } else {
                    f.iface.leave_multicast_group(g)
                }
            }
        };
        r.map_err(|_| err(libc::ENOBUFS))
    }
}
