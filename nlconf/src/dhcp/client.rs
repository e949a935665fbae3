//! A DHCPv4 client as a pure state machine (RFC 2131 §4.4): it consumes received DHCP
//! payloads and the passing of time, and produces messages to send and lease changes to
//! apply. It owns no socket and reads no clock: `now` is any monotonic time the caller keeps.
//!
//! INIT → (DISCOVER) SELECTING → (OFFER; REQUEST) REQUESTING → (ACK) BOUND → at T1 (REQUEST
//! unicast) RENEWING → at T2 (REQUEST broadcast) REBINDING → at expiry back to INIT. A NAK
//! drops the lease and restarts; requests are retransmitted after 4, 8, 16, 32 and 64 s.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::message::{BOOTREQUEST, ClientFqdn, DhcpMessage, FLAG_BROADCAST, MessageType};
use crate::client::{NetlinkTransport, NlClient};

/// An address lease and what came with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The assigned address.
    pub addr: Ipv4Addr,
    /// Prefix length from the subnet mask (24 when the server sent none).
    pub prefix_len: u8,
    /// Routers, first is the default gateway.
    pub routers: Vec<Ipv4Addr>,
    /// DNS servers.
    pub dns: Vec<Ipv4Addr>,
    /// Domain name, when the server sent one that is text (UTF-8).
    pub domain: Option<String>,
    /// The server that granted it.
    pub server: Ipv4Addr,
    /// Lease duration.
    pub lease_time: Duration,
    /// Renewal time (T1) from acquisition.
    pub t1: Duration,
    /// Rebinding time (T2) from acquisition.
    pub t2: Duration,
    /// When it was acquired (or last renewed), on the caller's clock.
    pub acquired: Duration,
}

impl Lease {
    /// Installs the lease on interface `ifindex`: the address and a default route through the
    /// first router. An address or route already present is not an error.
    pub fn install<T: NetlinkTransport>(
        &self,
        client: &NlClient<T>,
        ifindex: u32,
    ) -> io::Result<()> {
        ok_if(
            client.ipaddr_add(IpAddr::V4(self.addr), self.prefix_len, ifindex),
            libc::EEXIST,
        )?;
        if let Some(gw) = self.routers.first() {
            ok_if(
                client.iproute_add(None, Some(IpAddr::V4(*gw)), Some(ifindex)),
                libc::EEXIST,
            )?;
        }
        Ok(())
    }

    /// Removes what [`Lease::install`] added. Entries already gone are not an error.
    pub fn remove<T: NetlinkTransport>(
        &self,
        client: &NlClient<T>,
        ifindex: u32,
    ) -> io::Result<()> {
        if let Some(gw) = self.routers.first() {
            ok_if(
                client.iproute_del(None, Some(IpAddr::V4(*gw)), Some(ifindex)),
                libc::ESRCH,
            )?;
        }
        ok_if(
            client.ipaddr_del(IpAddr::V4(self.addr), self.prefix_len, ifindex),
            libc::EADDRNOTAVAIL,
        )
    }
}

fn ok_if(r: io::Result<()>, code: i32) -> io::Result<()> {
    match r {
        Err(e) if e.raw_os_error() == Some(code) => Ok(()),
        other => other,
    }
}

/// Something the caller must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `payload` from UDP port 68 to `dst` port 67 (255.255.255.255 = broadcast).
    Send {
        /// Destination address.
        dst: Ipv4Addr,
        /// The DHCP message.
        payload: Vec<u8>,
    },
    /// A new lease (or a renewed one whose parameters changed): install it.
    Bound(Lease),
    /// The lease was renewed with the same parameters: nothing to reconfigure.
    Renewed(Lease),
    /// The lease is gone (NAK, expiry, stop): remove it.
    Unbound(Lease),
}

/// The client's state (RFC 2131 figure 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not started or stopped.
    Idle,
    /// DISCOVER sent, waiting for offers.
    Selecting,
    /// REQUEST sent for an offer.
    Requesting,
    /// Holding a lease.
    Bound,
    /// T1 passed: renewing with the server.
    Renewing,
    /// T2 passed: renewing with any server.
    Rebinding,
}

const PARAMS: [u8; 6] = [1, 3, 6, 15, 51, 54];
const BACKOFF: [u64; 5] = [4, 8, 16, 32, 64];

/// The DHCPv4 client state machine.
#[derive(Clone, Debug)]
pub struct Dhcp4Client {
    mac: [u8; 6],
    fqdn: Option<String>,
    xid: u32,
    state: State,
    offer: Option<(Ipv4Addr, Ipv4Addr)>,
    lease: Option<Lease>,
    attempt: usize,
    deadline: Option<Duration>,
    started: Duration,
}

impl Dhcp4Client {
    /// A client for the interface with `mac`; `xid` seeds transaction ids (use something
    /// random); `fqdn` is sent as hostname and client FQDN.
    pub fn new(mac: [u8; 6], xid: u32, fqdn: Option<String>) -> Dhcp4Client {
        Dhcp4Client {
            mac,
            fqdn,
            xid,
            state: State::Idle,
            offer: None,
            lease: None,
            attempt: 0,
            deadline: None,
            started: Duration::ZERO,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The current lease, if any.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// When [`Dhcp4Client::poll`] next has work (retransmission, T1, T2, expiry).
    pub fn next_deadline(&self) -> Option<Duration> {
        self.deadline
    }

    fn message(&self, t: MessageType, now: Duration) -> DhcpMessage {
        let mut m = DhcpMessage::new(BOOTREQUEST, t, self.xid, self.mac);
        m.secs = u16::try_from(now.saturating_sub(self.started).as_secs()).unwrap_or(u16::MAX);
        m.params = PARAMS.to_vec();
        if let Some(f) = &self.fqdn {
            m.hostname = f
                .split('.')
                .next()
                .filter(|h| !h.is_empty())
                .map(|h| h.as_bytes().to_vec());
            m.fqdn = Some(ClientFqdn::new(f));
        }
        m
    }

    fn backoff(&self, now: Duration) -> Duration {
        now + Duration::from_secs(BACKOFF[self.attempt.min(BACKOFF.len() - 1)])
    }

    fn discover(&mut self, now: Duration) -> Vec<Action> {
        self.state = State::Selecting;
        self.xid = self.xid.wrapping_add(1);
        self.started = now;
        self.offer = None;
        self.attempt = 0;
        self.deadline = Some(self.backoff(now));
        self.send_discover(now)
    }

    fn send_discover(&self, now: Duration) -> Vec<Action> {
        let mut m = self.message(MessageType::Discover, now);
        m.flags = FLAG_BROADCAST;
        m.requested_ip = self.lease.as_ref().map(|l| l.addr);
        vec![Action::Send {
            dst: Ipv4Addr::BROADCAST,
            payload: m.emit(),
        }]
    }

    fn send_request(&self, now: Duration) -> Vec<Action> {
        let mut m = self.message(MessageType::Request, now);
        let dst = match (self.state, &self.lease, self.offer) {
            (State::Requesting, _, Some((addr, server))) => {
                m.flags = FLAG_BROADCAST;
                m.requested_ip = Some(addr);
                m.server_id = Some(server);
                Ipv4Addr::BROADCAST
            }
            (State::Renewing, Some(l), _) => {
                m.ciaddr = l.addr;
                l.server
            }
            (State::Rebinding, Some(l), _) => {
                m.ciaddr = l.addr;
                Ipv4Addr::BROADCAST
            }
            _ => return Vec::new(),
        };
        vec![Action::Send {
            dst,
            payload: m.emit(),
        }]
    }

    /// Starts (or restarts) acquisition: broadcasts a DISCOVER.
    pub fn start(&mut self, now: Duration) -> Vec<Action> {
        let mut actions = self.drop_lease();
        actions.extend(self.discover(now));
        actions
    }

    /// Stops: releases the lease to its server and reports it unbound.
    pub fn stop(&mut self, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(l) = &self.lease {
            let mut m = self.message(MessageType::Release, now);
            m.ciaddr = l.addr;
            m.server_id = Some(l.server);
            m.params.clear();
            actions.push(Action::Send {
                dst: l.server,
                payload: m.emit(),
            });
        }
        actions.extend(self.drop_lease());
        self.state = State::Idle;
        self.deadline = None;
        actions
    }

    fn drop_lease(&mut self) -> Vec<Action> {
        self.lease.take().map(Action::Unbound).into_iter().collect()
    }

    /// Handles one received DHCP payload (from UDP port 67 to 68). Messages for another
    /// transaction or client, and malformed ones, are ignored.
    pub fn receive(&mut self, now: Duration, payload: &[u8]) -> Vec<Action> {
        let m = match DhcpMessage::parse(payload) {
            Ok(m) => m,
            Err(e) => {
                log::debug!("DHCP client: ignored: {e}");
                return Vec::new();
            }
        };
        if m.op != super::message::BOOTREPLY || m.xid != self.xid || m.chaddr != self.mac {
            return Vec::new();
        }
        match (self.state, m.message_type) {
            (State::Selecting, MessageType::Offer) => {
                let Some(server) = m.server_id else {
                    return Vec::new();
                };
                self.offer = Some((m.yiaddr, server));
                self.state = State::Requesting;
                self.attempt = 0;
                self.deadline = Some(self.backoff(now));
                self.send_request(now)
            }
            (State::Requesting | State::Renewing | State::Rebinding, MessageType::Ack) => {
                self.bind(now, &m)
            }
            (State::Requesting | State::Renewing | State::Rebinding, MessageType::Nak) => {
                let mut actions = self.drop_lease();
                actions.extend(self.discover(now));
                actions
            }
            _ => Vec::new(),
        }
    }

    fn bind(&mut self, now: Duration, m: &DhcpMessage) -> Vec<Action> {
        let lease_secs = u64::from(m.lease_time.unwrap_or(3600));
        let t1 =
            m.t1.map(u64::from)
                .unwrap_or(lease_secs / 2)
                .min(lease_secs);
        let t2 =
            m.t2.map(u64::from)
                .unwrap_or(lease_secs * 7 / 8)
                .clamp(t1, lease_secs);
        let prefix_len = m
            .subnet_mask
            .map(|mask| u32::from(mask).leading_ones() as u8)
            .unwrap_or(24);
        let server = m
            .server_id
            .or_else(|| self.lease.as_ref().map(|l| l.server))
            .or(self.offer.map(|o| o.1))
            .unwrap_or(Ipv4Addr::BROADCAST);
        let domain = m
            .domain
            .as_deref()
            .and_then(|d| match std::str::from_utf8(d) {
                Ok(d) => Some(d.to_string()),
                Err(_) => {
                    log::debug!("DHCP client: domain name {d:?} is not text: not used");
                    None
                }
            });
        let lease = Lease {
            addr: m.yiaddr,
            prefix_len,
            routers: m.routers.clone(),
            dns: m.dns.clone(),
            domain,
            server,
            lease_time: Duration::from_secs(lease_secs),
            t1: Duration::from_secs(t1),
            t2: Duration::from_secs(t2),
            acquired: now,
        };
        self.state = State::Bound;
        self.attempt = 0;
        self.deadline = Some(now + lease.t1);
        let same = |a: &Lease, b: &Lease| {
            a.addr == b.addr
                && a.prefix_len == b.prefix_len
                && a.routers == b.routers
                && a.dns == b.dns
                && a.domain == b.domain
        };
        let mut actions = Vec::new();
        match self.lease.take() {
            Some(old) if same(&old, &lease) => actions.push(Action::Renewed(lease.clone())),
            Some(old) => {
                actions.push(Action::Unbound(old));
                actions.push(Action::Bound(lease.clone()));
            }
            None => actions.push(Action::Bound(lease.clone())),
        }
        self.lease = Some(lease);
        actions
    }

    /// Does what time asks: retransmissions, renewal at T1, rebinding at T2, expiry.
    pub fn poll(&mut self, now: Duration) -> Vec<Action> {
        match self.deadline {
            Some(d) if now >= d => {}
            _ => return Vec::new(),
        }
        match self.state {
            State::Idle => {
                self.deadline = None;
                Vec::new()
            }
            State::Selecting => {
                self.attempt += 1;
                self.deadline = Some(self.backoff(now));
                self.send_discover(now)
            }
            State::Requesting => {
                self.attempt += 1;
                if self.attempt >= BACKOFF.len() {
                    return self.discover(now);
                }
                self.deadline = Some(self.backoff(now));
                self.send_request(now)
            }
            State::Bound | State::Renewing | State::Rebinding => {
                let Some(lease) = self.lease.clone() else {
                    return self.discover(now);
                };
                let expiry = lease.acquired + lease.lease_time;
                let t2 = lease.acquired + lease.t2;
                if now >= expiry {
                    let mut actions = self.drop_lease();
                    actions.extend(self.discover(now));
                    return actions;
                }
                if now >= t2 {
                    self.state = State::Rebinding;
                    // RFC 2131 4.4.5: retry at half the remaining time, at least 60 s.
                    self.deadline = Some(
                        now + ((expiry - now) / 2)
                            .max(Duration::from_secs(60))
                            .min(expiry - now),
                    );
                } else {
                    if self.state == State::Bound {
                        self.xid = self.xid.wrapping_add(1);
                        self.started = now;
                    }
                    self.state = State::Renewing;
                    self.deadline =
                        Some(now + ((t2 - now) / 2).max(Duration::from_secs(60)).min(t2 - now));
                }
                self.send_request(now)
            }
        }
    }
}
