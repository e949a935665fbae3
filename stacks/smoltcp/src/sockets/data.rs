//! The data path of the socket calls: `recv`/`send` for every kind, and the queue sizes
//! (FIONREAD, SIOCOUTQ) and TCP_INFO.

use super::*;

impl Core {
    /// Receives a UDP datagram: steered ones first (see `steer`), then smoltcp's queues.
    fn recv_udp(
        &mut self,
        id: usize,
        bufs: &mut [IoSliceMut<'_>],
        flags: libc::c_int,
    ) -> io::Result<Received> {
        crate::steer::steer(self, id);
        let r = self.recv_udp_once(id, bufs, flags)?;
        if flags & libc::MSG_PEEK == 0 {
            // Linux counts InDatagrams when the application reads one (`udp_recvmsg`).
            let slot = r.dst.map_or(0, |(_, s)| s);
            if let Some(f) = get_iface(&mut self.ifaces, slot) {
                crate::snmp::of(f).read_datagram();
            }
        }
        Ok(r)
    }

    /// [`Core::recv_udp`] once steered.
    fn recv_udp_once(
        &mut self,
        id: usize,
        bufs: &mut [IoSliceMut<'_>],
        flags: libc::c_int,
    ) -> io::Result<Received> {
        let peek = flags & libc::MSG_PEEK != 0;
        let Core {
            ifaces,
            socks,
            spare_bufs,
            ..
        } = self;
        let rec = socks
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| err(libc::EBADF))?;
        let shut_rd = rec.shut_rd;
        let Kind::Udp(u) = &mut rec.kind else {
            return Err(err(libc::EINVAL));
        };
        if let Some(r) = crate::steer::take(u, spare_bufs, bufs, flags) {
            return Ok(r);
        }
        let n = u.subs.len();
        for i in 0..n {
            let (s, h) = u.subs[(u.next + i) % n];
            let Some(f) = get_iface(ifaces, s) else {
                continue;
            };
            let sock = f.sockets.get_mut::<udp::Socket>(h);
            loop {
                let got = if peek {
                    sock.peek().map(|(d, m)| (d, *m))
                } else {
                    sock.recv()
                };
                match got {
                    Ok((data, meta)) => {
                        let from = std_endpoint(meta.endpoint);
                        if u.peer.is_some_and(|p| p != from) {
                            if peek {
                                let _ = sock.recv();
                            }
                            continue;
                        }
                        let copied = scatter(bufs, data);
                        u.next = (u.next + i + 1) % n;
                        return Ok(Received {
                            len: if flags & libc::MSG_TRUNC != 0 {
                                data.len()
                            } else {
                                copied
                            },
                            from: Some(from),
                            truncated: copied < data.len(),
                            dst: meta.local_address.map(|a| (a.into(), s)),
                            hop_limit: None,
                        });
                    }
                    Err(_) => break,
                }
            }
        }
        if shut_rd {
            return Ok(Received {
                len: 0,
                from: None,
                truncated: false,
                dst: None,
                hop_limit: None,
            });
        }
        Err(err(libc::EAGAIN))
    }

    /// Receives into `bufs`. EAGAIN when nothing is there (the caller waits if blocking).
    pub(crate) fn recv(
        &mut self,
        id: usize,
        bufs: &mut [IoSliceMut<'_>],
        flags: libc::c_int,
    ) -> io::Result<Received> {
        match self.socks.get(id).and_then(Option::as_ref).map(|r| &r.kind) {
            Some(Kind::Udp(_)) => return self.recv_udp(id, bufs, flags),
            Some(Kind::Raw6(_)) => return self.raw6_recv(id, bufs, flags),
            Some(Kind::IothTcp(_)) => return self.ioth_recv(id, bufs, flags),
            _ => {}
        }
        let peek = flags & libc::MSG_PEEK != 0;
        let (ifaces, rec) = self.rec_and_ifaces(id)?;
        let shut_rd = rec.shut_rd;
        match &mut rec.kind {
            // Handled by recv_udp, raw6_recv and ioth_recv, above.
            Kind::Udp(_) | Kind::Raw6(_) | Kind::IothTcp(_) => Err(err(libc::EINVAL)),
            Kind::Tcp(t) => {
                let Some((s, h)) = t.conn else {
                    return Err(err(libc::ENOTCONN));
                };
                match t.phase {
                    Phase::Connecting(_) => return Err(err(libc::EAGAIN)),
                    Phase::Failed(e) => {
                        if rec.error != 0 {
                            rec.error = 0;
                            return Err(err(e));
                        }
                        return Err(err(libc::ENOTCONN));
                    }
                    Phase::Idle => return Err(err(libc::ENOTCONN)),
                    Phase::Open => {}
                }
                if shut_rd {
                    return Ok(Received {
                        len: 0,
                        from: None,
                        truncated: false,
                        dst: None,
                        hop_limit: None,
                    });
                }
                let f = get_iface(ifaces, s).ok_or_else(|| err(libc::ENOTCONN))?;
                let sock = f.sockets.get_mut::<tcp::Socket>(h);
                let mut total = 0;
                for b in bufs.iter_mut() {
                    if b.is_empty() {
                        continue;
                    }
                    let r = if peek {
                        sock.peek_slice(&mut b[..])
                    } else {
                        sock.recv_slice(&mut b[..])
                    };
                    match r {
                        Ok(n) => {
                            total += n;
                            if n < b.len() || peek {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
                if total > 0 {
                    return Ok(Received {
                        len: total,
                        from: None,
                        truncated: false,
                        dst: None,
                        hop_limit: None,
                    });
                }
                if bufs.iter().all(|b| b.is_empty()) {
                    return Ok(Received {
                        len: 0,
                        from: None,
                        truncated: false,
                        dst: None,
                        hop_limit: None,
                    });
                }
                if t.reset && !t.reset_reported {
                    t.reset_reported = true;
                    rec.error = 0;
                    return Err(err(t.reset_errno));
                }
                if t.peer_fin || t.reset || !sock.may_recv() {
                    return Ok(Received {
                        len: 0,
                        from: None,
                        truncated: false,
                        dst: None,
                        hop_limit: None,
                    });
                }
                Err(err(libc::EAGAIN))
            }
            Kind::Listener(_) => Err(err(libc::ENOTCONN)),
            Kind::Icmp(i) => {
                if peek {
                    // smoltcp's ICMP sockets cannot look ahead.
                    return Err(err(libc::EOPNOTSUPP));
                }
                for &(s, h) in &i.subs {
                    let Some(f) = get_iface(ifaces, s) else {
                        continue;
                    };
                    let sock = f.sockets.get_mut::<icmp::Socket>(h);
                    while let Ok((data, from)) = sock.recv() {
                        let from = IpAddr::from(from);
                        // Like Linux's ping sockets: echo replies only (a request that happens
                        // to carry our identifier is the stack's to answer, not ours).
                        if data.first() != Some(&0) || i.peer.is_some_and(|p| p != from) {
                            continue;
                        }
                        let copied = scatter(bufs, data);
                        return Ok(Received {
                            len: if flags & libc::MSG_TRUNC != 0 {
                                data.len()
                            } else {
                                copied
                            },
                            from: Some(SocketAddr::new(from, 0)),
                            truncated: copied < data.len(),
                            dst: None,
                            hop_limit: None,
                        });
                    }
                }
                if shut_rd {
                    return Ok(Received {
                        len: 0,
                        from: None,
                        truncated: false,
                        dst: None,
                        hop_limit: None,
                    });
                }
                Err(err(libc::EAGAIN))
            }
            Kind::Netlink(n) => {
                let b = bufs.iter_mut().find(|b| !b.is_empty());
                let mut empty = [];
                let buf: &mut [u8] = match b {
                    Some(b) => &mut b[..],
                    None => &mut empty,
                };
                let got = n.ep.recv(buf, peek)?;
                Ok(Received {
                    len: if flags & libc::MSG_TRUNC != 0 {
                        got.len
                    } else {
                        got.copied
                    },
                    from: None,
                    truncated: got.copied < got.len,
                    dst: None,
                    hop_limit: None,
                })
            }
        }
    }

    /// Sends `bufs` (to `dst` for datagrams). EAGAIN when the buffer is full.
    pub(crate) fn send(
        &mut self,
        id: usize,
        bufs: &[IoSlice<'_>],
        dst: Option<SocketAddr>,
        src: Option<crate::pktinfo::SendSrc>,
        _flags: libc::c_int,
    ) -> io::Result<usize> {
        if self.is_ioth(id) {
            return self.ioth_send(id, bufs);
        }
        let rec = self.sock(id)?;
        if rec.shut_wr {
            return Err(err(libc::EPIPE));
        }
        match &rec.kind {
            Kind::Udp(u) => {
                let dst = match (dst, u.peer) {
                    (Some(d), _) => d,
                    (None, Some(p)) => p,
                    (None, None) => return Err(err(libc::EDESTADDRREQ)),
                };
                check_family(rec, &dst)?;
                if dst.port() == 0 {
                    return Err(err(libc::EINVAL));
                }
                let broadcast = match dst.ip() {
                    IpAddr::V4(a) => a.is_broadcast() || self.is_subnet_broadcast(a),
                    IpAddr::V6(_) => false,
                };
                let rec = self.sock(id)?;
                if broadcast && !rec.opts.broadcast {
                    return Err(err(libc::EACCES));
                }
                if matches!(&rec.kind, Kind::Udp(u) if u.local.is_none()) {
                    self.autobind(id)?;
                }
                let len = total_len(bufs);
                if len > 65507 {
                    return Err(err(libc::EMSGSIZE));
                }
                let bound = match &self.sock(id)?.kind {
                    Kind::Udp(u) => u.local.map(|l| l.ip()).filter(|a| !a.is_unspecified()),
                    _ => None,
                };
                // IP_PKTINFO/IPV6_PKTINFO choose the source (and interface) of this datagram.
                let (slot, chosen) = match src {
                    Some(p) => crate::pktinfo::resolve(self, p, dst, bound)?,
                    None => {
                        let slot = self.route(dst.ip())?;
                        (slot, bound.or_else(|| self.source_for(slot, dst.ip())))
                    }
                };
                if self.link_down(slot) {
                    // The switch or hub behind the interface is gone: nothing would arrive.
                    return Err(err(libc::ENETDOWN));
                }
                let (ifaces, rec) = self.rec_and_ifaces(id)?;
                let Kind::Udp(u) = &mut rec.kind else {
                    return Err(err(libc::EINVAL));
                };
                let &(s, h) = u
                    .subs
                    .iter()
                    .find(|(s, _)| *s == slot)
                    .ok_or_else(|| err(libc::EINVAL))?;
                let f = get_iface(ifaces, s).ok_or_else(|| err(libc::ENETUNREACH))?;
                if slot != 0 && len + 28 > f.mtu as usize && !dst.is_ipv4() {
                    return Err(err(libc::EMSGSIZE));
                }
                let sock = f.sockets.get_mut::<udp::Socket>(h);
                let mut meta = udp::UdpMetadata::from(IpEndpoint::from(dst));
                meta.local_address = chosen.map(Into::into);
                let buf = sock.send(len, meta).map_err(|e| match e {
                    udp::SendError::BufferFull => err(libc::EAGAIN),
                    udp::SendError::Unaddressable => err(libc::EINVAL),
                })?;
                let mut off = 0;
                for b in bufs {
                    buf[off..off + b.len()].copy_from_slice(b);
                    off += b.len();
                }
                let now = crate::driver::now_micros();
                crate::waiting::note(&mut self.waiting, id, s, dst.ip(), now);
                Ok(len)
            }
            Kind::Tcp(t) => {
                match t.phase {
                    Phase::Idle => return Err(err(libc::EPIPE)),
                    Phase::Connecting(_) => return Err(err(libc::EAGAIN)),
                    Phase::Failed(e) => {
                        let e = if rec.error != 0 { e } else { libc::EPIPE };
                        rec.error = 0;
                        return Err(err(e));
                    }
                    Phase::Open => {}
                }
                let reset = t.reset;
                let (s, h) = t.conn.ok_or_else(|| err(libc::EPIPE))?;
                if reset {
                    if let Kind::Tcp(t) = &mut rec.kind
                        && !t.reset_reported
                    {
                        t.reset_reported = true;
                        let e = t.reset_errno;
                        rec.error = 0;
                        return Err(err(e));
                    }
                    return Err(err(libc::EPIPE));
                }
                let f = get_iface(&mut self.ifaces, s).ok_or_else(|| err(libc::EPIPE))?;
                let sock = f.sockets.get_mut::<tcp::Socket>(h);
                if !sock.may_send() {
                    return Err(err(libc::EPIPE));
                }
                let mut total = 0;
                for b in bufs {
                    if b.is_empty() {
                        continue;
                    }
                    match sock.send_slice(b) {
                        Ok(n) => {
                            total += n;
                            if n < b.len() {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
                if total == 0 && total_len(bufs) > 0 {
                    return Err(err(libc::EAGAIN));
                }
                Ok(total)
            }
            Kind::Listener(_) => Err(err(libc::ENOTCONN)),
            Kind::Icmp(i) => {
                let dst = match (dst, i.peer) {
                    (Some(d), _) => d.ip(),
                    (None, Some(p)) => p,
                    (None, None) => return Err(err(libc::EDESTADDRREQ)),
                };
                self.icmp_send(id, bufs, dst)
            }
            Kind::Netlink(_) => {
                let mut data = Vec::with_capacity(total_len(bufs));
                for b in bufs {
                    data.extend_from_slice(b);
                }
                self.netlink_send(id, &data)
            }
            Kind::Raw6(_) => {
                let data: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
                self.raw6_send(id, &data, dst, src)
            }
            Kind::IothTcp(_) => Err(err(libc::EINVAL)),
        }
    }

    fn is_subnet_broadcast(&self, a: std::net::Ipv4Addr) -> bool {
        self.ifaces.iter().flatten().any(|f| {
            f.addrs.iter().any(|(x, p)| {
                *p < 31 && matches!(x, IpAddr::V4(x) if (u32::from(*x) | (u32::MAX >> p)) == u32::from(a))
            })
        })
    }

    /// Bytes a read would return now (FIONREAD).
    pub(crate) fn readable_bytes(&mut self, id: usize) -> io::Result<usize> {
        if self.is_ioth(id) {
            return self.ioth_readable_bytes(id);
        }
        let (ifaces, rec) = self.rec_and_ifaces(id)?;
        Ok(match &rec.kind {
            Kind::Udp(u) => {
                let mut n = u.steered.next_len().unwrap_or(0);
                for &(s, h) in u.subs.iter().filter(|_| u.steered.is_empty()) {
                    if let Some(f) = get_iface(ifaces, s)
                        && let Ok((data, _)) = f.sockets.get_mut::<udp::Socket>(h).peek()
                    {
                        n = data.len();
                        break;
                    }
                }
                n
            }
            Kind::Tcp(t) => match t.conn {
                Some((s, h)) => get_iface(ifaces, s)
                    .map(|f| f.sockets.get::<tcp::Socket>(h).recv_queue())
                    .unwrap_or(0),
                None => 0,
            },
            _ => 0,
        })
    }

    /// `TCP_INFO` of a socket of smoltcp's TCP: Linux's state numbers (and a listener's
    /// queues), the other fields zero; `EOPNOTSUPP` for sockets that are not TCP, as Linux.
    pub(crate) fn smol_tcp_info(&mut self, id: usize) -> io::Result<Vec<u8>> {
        let (ifaces, rec) = self.rec_and_ifaces(id)?;
        Ok(match &rec.kind {
            Kind::Listener(l) => crate::options::listener_tcp_info(l.ready.len(), l.backlog),
            Kind::Tcp(t) => {
                let state = t
                    .conn
                    .and_then(|(s, h)| {
                        get_iface(ifaces, s).map(|f| f.sockets.get::<tcp::Socket>(h).state())
                    })
                    .unwrap_or(tcp::State::Closed);
                crate::options::bare_tcp_info(match state {
                    tcp::State::Established => 1,
                    tcp::State::SynSent => 2,
                    tcp::State::SynReceived => 3,
                    tcp::State::FinWait1 => 4,
                    tcp::State::FinWait2 => 5,
                    tcp::State::TimeWait => 6,
                    tcp::State::Closed => 7,
                    tcp::State::CloseWait => 8,
                    tcp::State::LastAck => 9,
                    tcp::State::Listen => 10,
                    tcp::State::Closing => 11,
                })
            }
            _ => return Err(err(libc::EOPNOTSUPP)),
        })
    }

    /// Bytes written but not yet acknowledged (TCP) or not yet sent (UDP): SIOCOUTQ.
    pub(crate) fn unsent_bytes(&mut self, id: usize) -> io::Result<usize> {
        if self.is_ioth(id) {
            return self.ioth_unsent_bytes(id);
        }
        let (ifaces, rec) = self.rec_and_ifaces(id)?;
        Ok(match &rec.kind {
            Kind::Tcp(t) => t
                .conn
                .and_then(|(s, h)| {
                    get_iface(ifaces, s).map(|f| f.sockets.get::<tcp::Socket>(h).send_queue())
                })
                .unwrap_or(0),
            Kind::Udp(u) => u
                .subs
                .iter()
                .filter_map(|&(s, h)| {
                    get_iface(ifaces, s).map(|f| f.sockets.get::<udp::Socket>(h).send_queue())
                })
                .sum(),
            _ => 0,
        })
    }
}
