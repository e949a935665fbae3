//! Moving frames: driving a link's ingress through smoltcp within a budget, flushing egress,
//! the next deadline, and what each poll changed on the sockets' descriptors.

use super::*;

impl Core {
    /// Advances the stack: ingress on `slot` (or every interface) with the lent batch, egress
    /// everywhere, loopback to quiescence, then socket descriptors. Returns the next deadline.
    pub(crate) fn drive(&mut self, slot: Option<u32>, batch: Option<&mut vde::FrameBatch>) -> u64 {
        // Unit tests of failure containment: once armed, an ingress drive (whichever thread
        // runs it) of a stack with an interface named `panic0` panics here, as a bug in
        // smoltcp would while polling.
        #[cfg(test)]
        if batch.is_some()
            && crate::stack::tests::PANIC_ARMED.load(std::sync::atomic::Ordering::SeqCst)
            && self.ifaces.iter().flatten().any(|f| f.name == "panic0")
        {
            panic!("injected failure while polling (test)");
        }
        let now = smol_now();
        let mut changed = false;
        let mut batch = batch;
        // Ingress on the interface that has frames (every link on a timer), then egress on
        // every link. Slots are walked by index: nothing is allocated per call.
        for s in 1..self.ifaces.len() {
            let ingress = slot.is_none_or(|want| want as usize == s);
            let b = if ingress { batch.as_deref_mut() } else { None };
            changed |= self.poll_link(s, now, b);
        }
        changed |= self.poll_lo(now);
        if self.tcp.is_some() {
            changed |= self.tcp_round(now);
        }
        self.after_poll(changed, micros(now));
        self.next_deadline(now)
    }

    /// Flushes egress after an application call (no ingress on links: drivers do that).
    pub(crate) fn flush(&mut self) -> u64 {
        let now = smol_now();
        let mut changed = false;
        for s in 1..self.ifaces.len() {
            changed |= self.poll_link(s, now, None);
        }
        changed |= self.poll_lo(now);
        if self.tcp.is_some() {
            changed |= self.tcp_round(now);
        }
        self.after_poll(changed, micros(now));
        self.next_deadline(now)
    }

    /// Whether socket `id` is one of our TCP engine's (its calls change nothing of smoltcp's).
    pub(crate) fn is_engine_socket(&self, id: usize) -> bool {
        matches!(
            self.socks.get(id),
            Some(Some(SockRec {
                kind: crate::sockets::Kind::IothTcp(_),
                ..
            }))
        )
    }

    /// Flushes after a call on a socket of our TCP engine: the engine's round (its output,
    /// the egress of the links it sent on, `lo` when it looped), then descriptors and the
    /// deadline. The other egress passes of [`Core::flush`] would find nothing: such a call
    /// queues nothing on smoltcp's sockets.
    pub(crate) fn flush_engine(&mut self) -> u64 {
        let now = smol_now();
        let changed = self.tcp_round(now);
        self.after_poll(changed, micros(now));
        self.next_deadline(now)
    }

    /// Ingress on link `s` with `batch` (none: egress only), then its egress. With our TCP
    /// engine, the TCP segments of each packet go to it as they arrive.
    pub(crate) fn poll_link(
        &mut self,
        s: usize,
        now: SmolInstant,
        batch: Option<&mut vde::FrameBatch>,
    ) -> bool {
        let Core {
            ifaces,
            tx,
            listeners,
            socks,
            tcp,
            config_gen,
            ..
        } = self;
        let Some(f) = ifaces.get_mut(s).and_then(Option::as_mut) else {
            return false;
        };
        let Attachment::Link(link) = &f.attach else {
            return false;
        };
        let mut changed = false;
        let mut pos;
        let generation = link.generation();
        if generation != f.link_gen {
            // The switch went away or came back (a vde:// link reconnects by itself; its
            // descriptor stays the same and wakes the driver for each retry): netlink shows
            // it as IFF_RUNNING/operstate, UDP sends give ENETDOWN while it is down.
            f.link_gen = generation;
            *config_gen += 1;
            if link.is_up() {
                crate::ident::info!("{}: link {} is up again", f.name, link.vnl());
            } else {
                crate::ident::warn!("{}: link {} is down (no carrier)", f.name, link.vnl());
            }
        }
        if !f.up {
            // A down interface drops what arrives and sends nothing.
            if let Some(b) = batch {
                link.discard(b);
            }
            return false;
        }
        let mut port = LinkPort {
            link,
            mac: f.mac,
            rx: None,
            tx,
            mtu: f.mtu as usize,
            // Our engine notes every TCP frame; smoltcp's TCP only those of pending connects.
            learn: (tcp.is_some() || !f.connecting.is_empty()).then_some(&mut f.learned),
            learn_only: &f.connecting,
        };
        if let Some(b) = batch {
            // The batch is the driver's scratch, shared by its stacks: start past whatever it
            // holds so the first receive reads this link.
            pos = b.len();
            port.rx = Some((b, &mut pos));
            f.iface.poll_maintenance(now);
            if let Some(t) = tcp.as_deref_mut() {
                t.ensure_rx(s, &mut f.sockets);
            }
            // One packet at a time, so that listeners can hand each SYN a fresh socket. Stop
            // after a budget (the link stays readable, so the driver comes back), but never
            // with received frames left in the batch.
            let mut processed = 0usize;
            let link = port.link;
            loop {
                crate::sockets::refill_listeners(listeners, socks, s, &mut f.sockets);
                // Each packet is counted once, before anything takes it (see `snmp`); the
                // frame looked at is the one taken next (nothing is read past an empty peek).
                let Some(frame) = port.peek() else {
                    break;
                };
                let mut probe = None;
                let mut bad = false;
                if crate::counters::IfCounters::accepts(frame, f.mac)
                    && let Some(ip) = crate::snmp::ip_of_frame(frame)
                {
                    match link.counters.snmp.inbound(
                        ip,
                        true,
                        frame[0] & 1 != 0,
                        &f.sockets,
                        tcp.is_none(),
                        f.autoconf.dhcp4.is_some(),
                    ) {
                        crate::snmp::Inbound::Pass => {}
                        crate::snmp::Inbound::Udp(p) => probe = Some(p),
                        crate::snmp::Inbound::Drop => bad = true,
                    }
                }
                // Our engine's TCP skips smoltcp when it can (see `tcp_ioth::fast`).
                let fast = !bad
                    && match (tcp.as_deref_mut(), port.peek()) {
                        (Some(t), Some(frame)) => t.take_fast(s, frame, f.mac, f.mtu, micros(now)),
                        _ => false,
                    };
                if bad || fast {
                    port.skip();
                } else {
                    if (!listeners.is_empty() || f.autoconf.dhcp4.is_some())
                        && let Some(frame) = port.peek()
                    {
                        if !listeners.is_empty() {
                            crate::sockets::clear_stale_tuple(&mut f.sockets, frame);
                        }
                        if let Some(dhcp) = f.autoconf.dhcp4.as_mut() {
                            dhcp.snoop(frame, f.mac);
                        }
                    }
                    match f.iface.poll_ingress_single(now, &mut port, &mut f.sockets) {
                        PollIngressSingleResult::None => break,
                        PollIngressSingleResult::PacketProcessed => {}
                        PollIngressSingleResult::SocketStateChanged => changed = true,
                    }
                    if let Some(p) = probe {
                        link.counters.snmp.settle(p, &f.sockets);
                    }
                    if let Some(t) = tcp.as_deref_mut() {
                        t.drain(s, &mut f.sockets, f.mtu, micros(now));
                    }
                }
                processed += 1;
                if processed >= INGRESS_BUDGET
                    && port.rx.as_ref().is_some_and(|(b, p)| **p >= b.len())
                {
                    // What is left must wake the driver (a doorbell link's descriptor stays
                    // quiet while its rings are taken).
                    link.wake();
                    break;
                }
            }
            crate::sockets::refill_listeners(listeners, socks, s, &mut f.sockets);
            port.rx = None;
        }
        loop {
            match f.iface.poll_egress(now, &mut port, &mut f.sockets) {
                PollResult::None => break,
                PollResult::SocketStateChanged => changed = true,
            }
        }
        changed
    }

    /// `lo` to quiescence: egress, then what it looped back as ingress, again.
    pub(crate) fn poll_lo(&mut self, now: SmolInstant) -> bool {
        let Core {
            ifaces,
            listeners,
            socks,
            tcp,
            ..
        } = self;
        let Some(f) = ifaces.get_mut(0).and_then(Option::as_mut) else {
            return false;
        };
        let Attachment::Loopback(dev) = &mut f.attach else {
            return false;
        };
        let mut changed = false;
        f.iface.poll_maintenance(now);
        for _ in 0..64 {
            loop {
                match f.iface.poll_egress(now, dev, &mut f.sockets) {
                    PollResult::None => break,
                    PollResult::SocketStateChanged => changed = true,
                }
            }
            if !dev.pending() {
                break;
            }
            loop {
                crate::sockets::refill_listeners(listeners, socks, 0, &mut f.sockets);
                // Counted once, before smoltcp takes it; `lo` checks no checksum.
                let mut probe = None;
                if let Some(p) = dev.front() {
                    match dev.counters.snmp.inbound(
                        p,
                        false,
                        false,
                        &f.sockets,
                        tcp.is_none(),
                        false,
                    ) {
                        crate::snmp::Inbound::Pass => {}
                        crate::snmp::Inbound::Udp(p) => probe = Some(p),
                        crate::snmp::Inbound::Drop => {
                            dev.skip();
                            continue;
                        }
                    }
                }
                match f.iface.poll_ingress_single(now, dev, &mut f.sockets) {
                    PollIngressSingleResult::None => break,
                    PollIngressSingleResult::PacketProcessed => {}
                    PollIngressSingleResult::SocketStateChanged => changed = true,
                }
                if let Some(p) = probe {
                    dev.counters.snmp.settle(p, &f.sockets);
                }
                if let Some(t) = tcp.as_deref_mut() {
                    t.drain(0, &mut f.sockets, f.mtu, micros(now));
                }
            }
            crate::sockets::refill_listeners(listeners, socks, 0, &mut f.sockets);
        }
        changed
    }

    fn next_deadline(&mut self, now: SmolInstant) -> u64 {
        let mut next = NEVER;
        for f in self.ifaces.iter_mut().flatten() {
            if let Some(at) = f.iface.poll_at(now, &f.sockets) {
                let at = u64::try_from(at.total_micros()).unwrap_or(0);
                next = next.min(at);
            }
        }
        next = next.min(self.autoconf_deadline());
        next = next.min(crate::waiting::deadline(&self.waiting));
        if self.tcp.is_some() {
            // No smoltcp TCP sockets, hence no `Liveness` timers: the engine has its own.
            next = next.min(crate::tcp_ioth::deadline(self.tcp.as_deref()));
        } else {
            self.tcp_timer = self
                .socks
                .iter()
                .flatten()
                .filter_map(SockRec::timer)
                .min()
                .unwrap_or(NEVER);
            next = next.min(self.tcp_timer);
            self.watch_connects();
        }
        if !self.closing.is_empty() {
            // Finishing closes are reaped at least every 100 ms.
            next = next.min(micros(now) + 100_000);
        }
        next
    }

    /// Lists on each link the destinations of smoltcp TCP connects whose SYN has not been
    /// seen leaving, so that its egress notes when one does (see `sockets::Tcp::unresolved`).
    fn watch_connects(&mut self) {
        for f in self.ifaces.iter_mut().flatten() {
            f.connecting.clear();
        }
        for rec in self.socks.iter().flatten() {
            if let crate::sockets::Kind::Tcp(t) = &rec.kind
                && let (Some(dst), Some((slot, _))) = (t.unresolved, t.conn)
                && let Some(f) = self.ifaces.get_mut(slot).and_then(Option::as_mut)
                && !f.connecting.contains(&dst)
            {
                f.connecting.push(dst);
            }
        }
    }

    /// Reaps finished closes, applies what protocol engines learned, and updates every
    /// socket's descriptor.
    fn after_poll(&mut self, changed: bool, now: u64) {
        let changed = changed | self.run_autoconf();
        if !self.waiting.is_empty() {
            crate::waiting::probe_due(
                &mut self.waiting,
                &self.ifaces,
                &self.routes,
                &self.socks,
                now,
            );
        }
        if self.nl_snapshot.is_some() && self.config_gen != self.notified_gen {
            self.notify_changes();
        }
        let Core {
            ifaces, closing, ..
        } = self;
        closing.retain(|c| {
            let Some(f) = ifaces.get_mut(c.slot).and_then(Option::as_mut) else {
                return false;
            };
            let done = match c.udp_until {
                None => f.sockets.get::<tcp::Socket>(c.handle).state() == tcp::State::Closed,
                Some(until) => {
                    now >= until
                        || f.sockets
                            .get::<smoltcp::socket::udp::Socket>(c.handle)
                            .send_queue()
                            == 0
                }
            };
            if done {
                f.sockets.remove(c.handle);
            }
            !done
        });
        if self.tcp.is_some() {
            self.after_tcp_poll(changed);
            return;
        }
        if changed {
            // Datagrams smoltcp gave a socket of the other family go to their own socket.
            for id in 0..self.socks.len() {
                if matches!(
                    self.socks[id].as_ref().map(|r| &r.kind),
                    Some(crate::sockets::Kind::Udp(u)) if u.dual
                ) {
                    crate::steer::steer(self, id);
                }
            }
        }
        // A TCP timer that came due is run by the refresh.
        if changed || now >= self.tcp_timer {
            for id in 0..self.socks.len() {
                self.refresh(id);
            }
            // The refresh saw which connects' SYNs left.
            for f in self.ifaces.iter_mut().flatten() {
                f.learned.clear();
            }
        }
    }

    /// [`Core::after_poll`] on a stack with our TCP engine: the sockets that are not the
    /// engine's are visited as on any stack when smoltcp's state changed, the engine's only
    /// when its events name them.
    fn after_tcp_poll(&mut self, changed: bool) {
        if changed {
            for i in 0..self.others.len() {
                let id = self.others[i];
                if matches!(
                    self.socks[id].as_ref().map(|r| &r.kind),
                    Some(crate::sockets::Kind::Udp(u)) if u.dual
                ) {
                    crate::steer::steer(self, id);
                }
            }
            for i in 0..self.others.len() {
                self.refresh(self.others[i]);
            }
        }
        let mut ids = Vec::new();
        if let Some(t) = self.tcp.as_deref_mut() {
            t.changed_sockets(&mut ids);
        }
        for id in ids {
            self.refresh(id);
        }
    }

    /// Recomputes socket `id`'s state and descriptor.
    pub(crate) fn refresh(&mut self, id: usize) {
        let Core {
            ifaces, socks, tcp, ..
        } = self;
        if let Some(Some(rec)) = socks.get_mut(id) {
            match tcp.as_deref_mut() {
                Some(t) if matches!(rec.kind, crate::sockets::Kind::IothTcp(_)) => {
                    crate::tcp_ioth::sock::refresh(&mut t.engine, rec)
                }
                _ => rec.refresh(ifaces),
            }
        }
    }
}
