//! DHCPv6 on an interface: nlconf's [`Dhcp6Client`] engine fed by a UDP socket on port 546
//! in the interface's socket set.
//!
//! The client asks for one IA_NA (its IAID is the interface index) and for DNS servers and
//! the domain search list; when router discovery runs on the interface, the advertised M/O
//! flags choose between that and a stateless Information-request; leased addresses are installed with the length of the on-link
//! prefix router discovery learned for them, else as /128 (DHCPv6 says nothing of prefixes),
//! and removed when the lease ends or the client stops; a stopped client keeps sending its
//! Release until the server answers (RFC 8415's four tries), then goes.

use std::io;
use std::net::{IpAddr, Ipv6Addr};

use nlconf::dhcp6::{Action, CLIENT_PORT, Dhcp6Client, Lease6, Mode, SERVER_PORT, State};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;
use smoltcp::wire::IpListenEndpoint;

use super::{engine_now, err};
use crate::core::{Attachment, Core, random_bytes};

/// A DHCPv6 client on one interface, and the lease it installed.
pub(crate) struct Dhcp6 {
    handle: SocketHandle,
    fqdn: Option<String>,
    client: Dhcp6Client,
    lease: Option<Lease6>,
    /// Stopped by the user: its addresses are gone and its Release is being retransmitted
    /// until the server answers (or the client gives up); then it is removed.
    releasing: bool,
}

impl Dhcp6 {
    /// When the engine next needs the clock.
    pub(crate) fn next_deadline(&self) -> Option<std::time::Duration> {
        self.client.next_deadline()
    }
}

fn udp_socket() -> io::Result<udp::Socket<'static>> {
    let rx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 8], vec![0u8; 8 * 1500]);
    let tx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 4], vec![0u8; 4 * 1500]);
    let mut sock = udp::Socket::new(rx, tx);
    sock.bind(IpListenEndpoint {
        addr: None,
        port: CLIENT_PORT,
    })
    .map_err(|_| err(libc::EADDRINUSE))?;
    Ok(sock)
}

impl Core {
    /// Starts DHCPv6 (addresses, DNS servers, domains) on interface `index`, sending `fqdn`
    /// as the client's name when given. A client still releasing an earlier lease there is
    /// dropped.
    pub(crate) fn dhcp6_start(&mut self, index: u32, fqdn: Option<&str>) -> io::Result<()> {
        self.dhcp6_start_mode(index, fqdn, Mode::Stateful)
    }

    fn dhcp6_start_mode(&mut self, index: u32, fqdn: Option<&str>, mode: Mode) -> io::Result<()> {
        self.dhcp6_stop(index)?;
        self.dhcp6_remove(index);
        let f = self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?;
        if !matches!(f.attach, Attachment::Link(_)) {
            return Err(err(libc::EOPNOTSUPP));
        }
        let handle = f.sockets.add(udp_socket()?);
        let mut seed = [0u8; 4];
        random_bytes(&mut seed);
        let mut client = Dhcp6Client::new(
            f.mac,
            index,
            u32::from_ne_bytes(seed),
            fqdn.map(String::from),
            mode,
        );
        let actions = client.start(engine_now());
        f.autoconf.dhcp6 = Some(Dhcp6 {
            handle,
            fqdn: fqdn.map(String::from),
            client,
            lease: None,
            releasing: false,
        });
        self.dhcp6_apply(index, actions);
        Ok(())
    }

    /// Follows the M and O flags of a router advertisement on `index`, as Linux hosts'
    /// DHCPv6 clients do: M asks for addresses (stateful), O alone for configuration only
    /// (stateless, Information-request). A client holding addresses is left alone; neither
    /// flag leaves the client the user started as it is.
    pub(crate) fn dhcp6_follow_flags(&mut self, index: u32, managed: bool, other: bool) {
        let want = match (managed, other) {
            (true, _) => Mode::Stateful,
            (false, true) => Mode::Stateless,
            (false, false) => return,
        };
        let Some(d) = self.iface(index).and_then(|f| f.autoconf.dhcp6.as_ref()) else {
            return;
        };
        let holds_addresses = d.lease.as_ref().is_some_and(|l| !l.addrs.is_empty());
        if d.releasing || d.client.mode() == want || holds_addresses {
            return;
        }
        let fqdn = d.fqdn.clone();
        crate::ident::info!("interface {index}: the router advertises DHCPv6 mode {want:?}");
        if let Err(e) = self.dhcp6_start_mode(index, fqdn.as_deref(), want) {
            crate::ident::warn!("interface {index}: restarting DHCPv6: {e}");
        }
    }

    /// Stops DHCPv6 on `index`: its addresses are removed at once and the lease is released
    /// with the server in the background.
    pub(crate) fn dhcp6_stop(&mut self, index: u32) -> io::Result<()> {
        let f = self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?;
        let Some(d) = f.autoconf.dhcp6.as_mut() else {
            return Ok(());
        };
        if d.releasing {
            return Ok(());
        }
        d.releasing = true;
        let actions = d.client.stop(engine_now());
        self.dhcp6_apply(index, actions);
        self.dhcp6_reap(index);
        Ok(())
    }

    /// Removes the client of `index` and its socket if it has finished releasing.
    fn dhcp6_reap(&mut self, index: u32) {
        let done = self
            .iface(index)
            .and_then(|f| f.autoconf.dhcp6.as_ref())
            .is_some_and(|d| d.releasing && d.client.state() == State::Idle);
        if done {
            self.dhcp6_remove(index);
        }
    }

    /// Removes the client of `index` and its socket, whatever it was doing.
    fn dhcp6_remove(&mut self, index: u32) {
        if let Some(f) = self.iface_mut(index)
            && let Some(d) = f.autoconf.dhcp6.take()
        {
            f.sockets.remove(d.handle);
            if let Some(lease) = d.lease {
                self.dhcp6_uninstall(index, &lease);
            }
        }
    }

    /// The DNS servers and domains of the lease on `index`.
    pub(crate) fn dhcp6_learned(&self, index: u32) -> Option<(Vec<IpAddr>, Vec<String>)> {
        let lease = self.iface(index)?.autoconf.dhcp6.as_ref()?.lease.as_ref()?;
        Some((
            lease.dns.iter().map(|a| IpAddr::V6(*a)).collect(),
            lease.domains.clone(),
        ))
    }

    /// Feeds received replies and the time to every interface's client and applies what
    /// they ask; true when the configuration changed.
    pub(crate) fn run_dhcp6(&mut self) -> bool {
        let now = engine_now();
        let mut work = Vec::new();
        let mut releasing = Vec::new();
        for f in self.ifaces.iter_mut().flatten() {
            let Some(d) = f.autoconf.dhcp6.as_mut() else {
                continue;
            };
            let sock = f.sockets.get_mut::<udp::Socket>(d.handle);
            let mut actions = Vec::new();
            while let Ok((payload, meta)) = sock.recv() {
                if meta.endpoint.port == SERVER_PORT {
                    actions.extend(d.client.receive(now, payload));
                }
            }
            if d.client.next_deadline().is_some_and(|t| t <= now) {
                actions.extend(d.client.poll(now));
            }
            if !actions.is_empty() {
                work.push((f.index, actions));
            }
            if d.releasing {
                releasing.push(f.index);
            }
        }
        let mut changed = false;
        for (index, actions) in work {
            changed |= self.dhcp6_apply(index, actions);
        }
        for index in releasing {
            self.dhcp6_reap(index);
        }
        changed
    }

    /// Does what the client of `index` asks; true when addresses changed.
    fn dhcp6_apply(&mut self, index: u32, actions: Vec<Action>) -> bool {
        let mut changed = false;
        for action in actions {
            match action {
                Action::Send { dst, payload } => self.dhcp6_send(index, dst, &payload),
                Action::Bound(lease) => {
                    crate::ident::info!("interface {index}: DHCPv6 lease {lease:?}");
                    changed |= self.dhcp6_install(index, &lease);
                    self.dhcp6_keep(index, Some(lease));
                }
                Action::Renewed(lease) => self.dhcp6_keep(index, Some(lease)),
                Action::Unbound(lease) => {
                    crate::ident::info!("interface {index}: DHCPv6 lease ended: {lease:?}");
                    changed |= self.dhcp6_uninstall(index, &lease);
                    self.dhcp6_keep(index, None);
                }
            }
        }
        changed
    }

    fn dhcp6_keep(&mut self, index: u32, lease: Option<Lease6>) {
        if let Some(d) = self
            .iface_mut(index)
            .and_then(|f| f.autoconf.dhcp6.as_mut())
        {
            d.lease = lease;
        }
    }

    /// The prefix length a leased `addr` gets on `index`.
    fn dhcp6_prefix_len(&self, index: u32, addr: Ipv6Addr) -> u8 {
        self.rd_on_link_prefix_len(index, addr).unwrap_or(128)
    }

    fn dhcp6_install(&mut self, index: u32, lease: &Lease6) -> bool {
        let mut changed = false;
        for a in &lease.addrs {
            let len = self.dhcp6_prefix_len(index, a.addr);
            changed |= self.engine_add_addr(index, IpAddr::V6(a.addr), len);
        }
        if changed && let Err(e) = self.sync_addrs() {
            crate::ident::warn!("interface {index}: installing DHCPv6 addresses: {e}");
        }
        changed
    }

    fn dhcp6_uninstall(&mut self, index: u32, lease: &Lease6) -> bool {
        let Some(f) = self.iface_mut(index) else {
            return false;
        };
        let before = f.addrs.len();
        f.addrs
            .retain(|(a, _)| !lease.addrs.iter().any(|l| *a == IpAddr::V6(l.addr)));
        let changed = f.addrs.len() != before;
        if changed && let Err(e) = self.sync_addrs() {
            crate::ident::warn!("interface {index}: removing DHCPv6 addresses: {e}");
        }
        changed
    }

    /// Gives the leased addresses of `index` the length of the on-link prefix holding them
    /// (after router discovery learned or lost one); true when one changed. The caller syncs.
    pub(crate) fn dhcp6_fit_prefixes(&mut self, index: u32) -> bool {
        let Some(lease) = self
            .iface(index)
            .and_then(|f| f.autoconf.dhcp6.as_ref()?.lease.clone())
        else {
            return false;
        };
        let mut changed = false;
        for l in &lease.addrs {
            let len = self.dhcp6_prefix_len(index, l.addr);
            if let Some(f) = self.iface_mut(index)
                && let Some(entry) = f
                    .addrs
                    .iter_mut()
                    .find(|(a, p)| *a == IpAddr::V6(l.addr) && *p != len)
            {
                entry.1 = len;
                changed = true;
            }
        }
        changed
    }

    fn dhcp6_send(&mut self, index: u32, dst: Ipv6Addr, payload: &[u8]) {
        let Some(f) = self.iface_mut(index) else {
            return;
        };
        let Some(d) = f.autoconf.dhcp6.as_ref() else {
            return;
        };
        let sock = f.sockets.get_mut::<udp::Socket>(d.handle);
        if let Err(e) = sock.send_slice(payload, (dst, SERVER_PORT)) {
            crate::ident::debug!("interface {index}: DHCPv6 message not queued: {e}");
        }
    }
}
