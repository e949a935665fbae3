//! A DHCPv6 client (RFC 8415) as a pure state machine: it consumes received DHCPv6 payloads
//! and the passing of time, and produces messages to send and lease changes to apply. It owns
//! no socket and reads no clock: `now` is any monotonic time the caller keeps.
//!
//! Stateful mode (one IA_NA): Solicit → Advertise (highest preference; 255 is taken at once,
//! otherwise Advertises are collected until the first retransmission timeout) → Request →
//! Reply → Bound; at T1 Renew (to the server that gave the lease), at T2 Rebind (to any
//! server), at the end of the valid lifetime the lease is dropped and Solicit starts over.
//! Stateless mode: Information-request → Reply → Informed, asked again after the Information
//! Refresh Time.
//!
//! Every message goes to `ff02::1:2` (the client never uses the Server Unicast option, which
//! RFC 8415 leaves optional, so UseMulticast cannot happen). Retransmission follows RFC 8415
//! §15 with the §7.6 constants; the randomization comes from a deterministic generator seeded
//! at construction, since the engine has no random source of its own. The RFC's initial
//! random delay of the first Solicit / Information-request (up to 1 s) is left to the caller:
//! [`Dhcp6Client::start`] sends at once.

use std::net::Ipv6Addr;
use std::time::Duration;

use super::message::{
    ALL_DHCP_RELAY_AGENTS_AND_SERVERS, ClientFqdn, Dhcp6Message, Dhcp6Option, INFINITY, IaAddr,
    IaNa, IaNaOption, MessageType, code, status,
};

/// An address of a lease, lifetimes counted from [`Lease6::acquired`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeasedAddr {
    /// The address (install it as a /128: DHCPv6 says nothing about prefixes).
    pub addr: Ipv6Addr,
    /// Preferred lifetime (`u32::MAX` seconds stands for infinity).
    pub preferred: Duration,
    /// Valid lifetime (`u32::MAX` seconds stands for infinity).
    pub valid: Duration,
}

/// What a server granted: addresses (stateful mode only) and configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease6 {
    /// The addresses; empty in stateless mode.
    pub addrs: Vec<LeasedAddr>,
    /// Recursive DNS servers.
    pub dns: Vec<Ipv6Addr>,
    /// Domain search list, dotted names.
    pub domains: Vec<String>,
    /// The DUID of the server that answered.
    pub server_id: Vec<u8>,
    /// When to renew, from acquisition. Stateless mode: when to ask again (the Information
    /// Refresh Time).
    pub t1: Duration,
    /// When to rebind, from acquisition. Stateless mode: equal to `t1`.
    pub t2: Duration,
    /// When it was acquired (or last renewed), on the caller's clock.
    pub acquired: Duration,
}

impl Lease6 {
    /// When the first of its addresses stops being valid (`None` without addresses).
    pub fn first_expiry(&self) -> Option<Duration> {
        self.addrs.iter().map(|a| self.acquired + a.valid).min()
    }

    /// Whether `other` carries the same configuration (addresses, DNS servers, domains),
    /// whatever the lifetimes.
    fn same_config(&self, other: &Lease6) -> bool {
        let addrs = |l: &Lease6| {
            let mut v: Vec<Ipv6Addr> = l.addrs.iter().map(|a| a.addr).collect();
            v.sort();
            v
        };
        addrs(self) == addrs(other) && self.dns == other.dns && self.domains == other.domains
    }
}

/// Something the caller must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `payload` from UDP port 546 (of the link-local address) to `dst` port 547.
    Send {
        /// Destination address: `ff02::1:2` on the client's interface.
        dst: Ipv6Addr,
        /// The DHCPv6 message.
        payload: Vec<u8>,
    },
    /// A new lease, or one whose addresses, DNS servers or domains changed (then an
    /// [`Action::Unbound`] of the old one comes first): install it.
    Bound(Lease6),
    /// The lease was extended with the same configuration: update lifetimes, nothing else.
    Renewed(Lease6),
    /// The lease is gone (expiry, stop, restart, the server said the addresses are not on
    /// this link) or replaced: remove what it installed.
    Unbound(Lease6),
}

/// How the client configures the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Addresses (one IA_NA) plus DNS servers and domains.
    Stateful,
    /// No addresses (Information-request): DNS servers and domains only.
    Stateless,
}

/// The client's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not started, stopped, or done releasing.
    Idle,
    /// Solicit sent, collecting Advertises.
    Soliciting,
    /// Request sent to the chosen server.
    Requesting,
    /// Holding a lease.
    Bound,
    /// T1 passed: Renew sent to the server of the lease.
    Renewing,
    /// T2 passed: Rebind sent to any server.
    Rebinding,
    /// Stateless: Information-request sent.
    InformationRequesting,
    /// Stateless: configuration received; asked again at the refresh time.
    Informed,
    /// Stopped: Release sent, retransmitted until the server acknowledges it (or after
    /// REL_MAX_RC attempts); the lease is already unbound. A caller that cannot wait may
    /// drop the client.
    Releasing,
}

// RFC 8415 §7.6 transmission and retransmission parameters.
const SOL_TIMEOUT: Duration = Duration::from_secs(1);
const SOL_MAX_RT: Duration = Duration::from_secs(3600);
const REQ_TIMEOUT: Duration = Duration::from_secs(1);
const REQ_MAX_RT: Duration = Duration::from_secs(30);
const REQ_MAX_RC: u32 = 10;
const REN_TIMEOUT: Duration = Duration::from_secs(10);
const REN_MAX_RT: Duration = Duration::from_secs(600);
const REB_TIMEOUT: Duration = Duration::from_secs(10);
const REB_MAX_RT: Duration = Duration::from_secs(600);
const INF_TIMEOUT: Duration = Duration::from_secs(1);
const INF_MAX_RT: Duration = Duration::from_secs(3600);
const REL_TIMEOUT: Duration = Duration::from_secs(1);
const REL_MAX_RC: u32 = 4;
const IRT_DEFAULT: u32 = 86400;
const IRT_MINIMUM: u32 = 600;
/// Bounds a server's SOL_MAX_RT / INF_MAX_RT must respect to be used (RFC 8415 §21.24).
const MAX_RT_RANGE: std::ops::RangeInclusive<u32> = 60..=86400;

/// The chosen (or best so far) Advertise, or the server a Request goes to.
#[derive(Clone, Debug)]
struct Offer {
    server_id: Vec<u8>,
    preference: u8,
    addrs: Vec<Ipv6Addr>,
}

/// The DHCPv6 client state machine for one interface.
#[derive(Clone, Debug)]
pub struct Dhcp6Client {
    duid: Vec<u8>,
    iaid: u32,
    fqdn: Option<String>,
    mode: Mode,
    rng: u64,
    state: State,
    xid: u32,
    exchange_started: Duration,
    attempts: u32,
    rt: Duration,
    retransmit_at: Option<Duration>,
    offer: Option<Offer>,
    lease: Option<Lease6>,
    releasing: Option<Lease6>,
    sol_max_rt: Duration,
    inf_max_rt: Duration,
}

fn secs(v: u32) -> Duration {
    Duration::from_secs(u64::from(v))
}

impl Dhcp6Client {
    /// A client for the interface with `mac`, identified by the DUID-LL built from it (type 3,
    /// hardware type 1), asking for addresses in IA_NA `iaid`. `xid_seed` seeds transaction
    /// ids and the retransmission randomization (use something random); `fqdn` is sent as the
    /// Client FQDN (fully qualified when it has a dot, else a partial name), asking the server
    /// to update DNS.
    pub fn new(
        mac: [u8; 6],
        iaid: u32,
        xid_seed: u32,
        fqdn: Option<String>,
        mode: Mode,
    ) -> Dhcp6Client {
        let mut duid = vec![0, 3, 0, 1];
        duid.extend_from_slice(&mac);
        let mut mac64 = [0u8; 8];
        mac64[2..].copy_from_slice(&mac);
        Dhcp6Client {
            duid,
            iaid,
            fqdn: fqdn
                .map(|f| f.trim_end_matches('.').to_string())
                .filter(|f| !f.is_empty()),
            mode,
            rng: (u64::from(xid_seed) << 32 | u64::from(iaid)) ^ u64::from_be_bytes(mac64),
            state: State::Idle,
            xid: 0,
            exchange_started: Duration::ZERO,
            attempts: 0,
            rt: Duration::ZERO,
            retransmit_at: None,
            offer: None,
            lease: None,
            releasing: None,
            sol_max_rt: SOL_MAX_RT,
            inf_max_rt: INF_MAX_RT,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The current lease, if any (none while releasing).
    pub fn lease(&self) -> Option<&Lease6> {
        self.lease.as_ref()
    }

    /// The client's DUID (the Client Identifier it sends).
    pub fn duid(&self) -> &[u8] {
        &self.duid
    }

    /// The mode chosen at construction.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// When [`Dhcp6Client::poll`] next has work: a retransmission, T1, T2, an address's end
    /// of validity, the information refresh. `None` when idle.
    pub fn next_deadline(&self) -> Option<Duration> {
        let lease_event = self.lease.as_ref().and_then(|l| {
            let expiry = l.first_expiry();
            let timer = match self.state {
                State::Bound => Some(l.acquired + l.t1),
                State::Renewing => Some(l.acquired + l.t2),
                State::Informed => Some(l.acquired + l.t1),
                _ => None,
            };
            match (expiry, timer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        });
        match (self.retransmit_at, lease_event) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Starts (or restarts) acquisition: sends a Solicit (stateful) or an Information-request
    /// (stateless). A lease held is reported unbound first.
    pub fn start(&mut self, now: Duration) -> Vec<Action> {
        let mut actions: Vec<Action> = self.lease.take().map(Action::Unbound).into_iter().collect();
        self.releasing = None;
        self.offer = None;
        actions.extend(match self.mode {
            Mode::Stateful => self.begin(now, State::Soliciting),
            Mode::Stateless => self.begin(now, State::InformationRequesting),
        });
        actions
    }

    /// Stops. A lease with addresses is reported unbound (first: RFC 8415 §18.2.7 wants the
    /// addresses out of use before they are released) and a Release is sent to its server,
    /// retransmitted from [`Dhcp6Client::poll`] in state [`State::Releasing`] until the
    /// server answers. Without addresses the lease (if any) is just reported unbound.
    pub fn stop(&mut self, now: Duration) -> Vec<Action> {
        self.offer = None;
        self.retransmit_at = None;
        let Some(lease) = self.lease.take() else {
            self.state = State::Idle;
            return Vec::new();
        };
        let mut actions = vec![Action::Unbound(lease.clone())];
        if lease.addrs.is_empty() {
            self.state = State::Idle;
        } else {
            self.releasing = Some(lease);
            actions.extend(self.begin(now, State::Releasing));
        }
        actions
    }

    /// Handles one received DHCPv6 payload (from UDP port 547 to 546). Malformed messages,
    /// messages of another transaction or for another client, without a server identifier,
    /// or not expected in the current state are ignored.
    pub fn receive(&mut self, now: Duration, payload: &[u8]) -> Vec<Action> {
        let m = match Dhcp6Message::parse(payload) {
            Ok(m) => m,
            Err(e) => {
                log::debug!("DHCPv6 client: ignoring a message: {e}");
                return Vec::new();
            }
        };
        let expected = matches!(
            (self.state, m.msg_type),
            (State::Soliciting, MessageType::Advertise)
                | (
                    State::Requesting
                        | State::Renewing
                        | State::Rebinding
                        | State::InformationRequesting
                        | State::Releasing,
                    MessageType::Reply,
                )
        );
        if !expected || m.transaction_id != self.xid {
            log::debug!(
                "DHCPv6 client: ignoring {:?} (transaction {:06x}) in state {:?}",
                m.msg_type,
                m.transaction_id,
                self.state
            );
            return Vec::new();
        }
        // RFC 8415 §16.3, §16.10: a server id is required; the client id must be ours (it
        // may be missing only from a Reply to an Information-request).
        let client_ok = match m.client_id() {
            Some(id) => id == self.duid.as_slice(),
            None => self.state == State::InformationRequesting,
        };
        let Some(server_id) = m.server_id().map(<[u8]>::to_vec) else {
            log::debug!("DHCPv6 client: ignoring a message without server id");
            return Vec::new();
        };
        if !client_ok {
            log::debug!("DHCPv6 client: ignoring a message for another client");
            return Vec::new();
        }
        if let Some(v) = m.time_option(code::SOL_MAX_RT)
            && MAX_RT_RANGE.contains(&v)
        {
            self.sol_max_rt = secs(v);
        }
        if let Some(v) = m.time_option(code::INF_MAX_RT)
            && MAX_RT_RANGE.contains(&v)
        {
            self.inf_max_rt = secs(v);
        }
        match self.state {
            State::Soliciting => self.advertise(now, &m, server_id),
            State::InformationRequesting => self.information(now, &m, server_id),
            State::Releasing => {
                // Any Reply ends the Release exchange, whatever its status (§18.2.10.3).
                self.state = State::Idle;
                self.retransmit_at = None;
                self.releasing = None;
                Vec::new()
            }
            _ => self.reply(now, &m, server_id),
        }
    }

    /// Does what time asks: retransmissions, Renew at T1, Rebind at T2, the end of addresses'
    /// validity, the information refresh.
    pub fn poll(&mut self, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.mode == Mode::Stateful && self.lease.is_some() {
            actions.extend(self.expire(now));
        }
        let due = self.retransmit_at.is_some_and(|d| now >= d);
        match self.state {
            State::Idle | State::Bound | State::Renewing | State::Rebinding | State::Informed => {}
            _ if !due => return actions,
            _ => {}
        }
        actions.extend(match self.state {
            State::Idle => Vec::new(),
            State::Releasing if self.attempts >= REL_MAX_RC => {
                self.state = State::Idle;
                self.retransmit_at = None;
                self.releasing = None;
                Vec::new()
            }
            State::Soliciting if self.attempts == 1 && self.offer.is_some() => {
                self.begin(now, State::Requesting)
            }
            State::Requesting if self.attempts >= REQ_MAX_RC => {
                self.offer = None;
                self.begin(now, State::Soliciting)
            }
            State::Soliciting
            | State::Requesting
            | State::InformationRequesting
            | State::Releasing => self.retransmit(now),
            State::Bound | State::Renewing | State::Rebinding => {
                let Some(l) = &self.lease else {
                    return actions;
                };
                let (t1, t2) = (l.acquired + l.t1, l.acquired + l.t2);
                if self.state != State::Rebinding && now >= t2 {
                    self.begin(now, State::Rebinding)
                } else if self.state == State::Bound && now >= t1 {
                    self.begin(now, State::Renewing)
                } else if self.state != State::Bound && due {
                    self.retransmit(now)
                } else {
                    Vec::new()
                }
            }
            State::Informed => match &self.lease {
                Some(l) if now >= l.acquired + l.t1 => {
                    self.begin(now, State::InformationRequesting)
                }
                _ => Vec::new(),
            },
        });
        actions
    }

    // ---- exchanges and retransmission (RFC 8415 §15) ----

    fn random(&mut self) -> u64 {
        // splitmix64: a small generator with good spread from any seed.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `center` + RAND·`spread`, RAND uniform in [-0.1, 0.1] (in (0, 0.1] when `positive`, as
    /// the first Solicit timeout requires), to the millisecond.
    fn jittered(&mut self, center: Duration, spread: Duration, positive: bool) -> Duration {
        let r = self.random();
        let permille = if positive {
            i128::from(r % 100) + 1
        } else {
            i128::from(r % 201) - 100
        };
        let ms = center.as_millis() as i128 + spread.as_millis() as i128 * permille / 1000;
        Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(u64::MAX))
    }

    /// (IRT, MRT) of the exchange of the current state.
    fn timing(&self) -> (Duration, Option<Duration>) {
        match self.state {
            State::Soliciting => (SOL_TIMEOUT, Some(self.sol_max_rt)),
            State::Requesting => (REQ_TIMEOUT, Some(REQ_MAX_RT)),
            State::Renewing => (REN_TIMEOUT, Some(REN_MAX_RT)),
            State::Rebinding => (REB_TIMEOUT, Some(REB_MAX_RT)),
            State::InformationRequesting => (INF_TIMEOUT, Some(self.inf_max_rt)),
            State::Releasing => (REL_TIMEOUT, None),
            State::Idle | State::Bound | State::Informed => (Duration::ZERO, None),
        }
    }

    /// Begins a new exchange (new transaction id) in `state` and sends its first message.
    fn begin(&mut self, now: Duration, state: State) -> Vec<Action> {
        self.state = state;
        let old = self.xid;
        while self.xid == old {
            self.xid = (self.random() & 0x00ff_ffff) as u32;
        }
        self.exchange_started = now;
        self.attempts = 1;
        let (irt, _) = self.timing();
        // RT = IRT + RAND·IRT
        self.rt = self.jittered(irt, irt, state == State::Soliciting);
        self.retransmit_at = Some(now + self.rt);
        self.send(now)
    }

    /// Sends the current exchange's message again, with the next timeout.
    fn retransmit(&mut self, now: Duration) -> Vec<Action> {
        self.attempts += 1;
        let (_, mrt) = self.timing();
        // RT = 2·RTprev + RAND·RTprev; past MRT, RT = MRT + RAND·MRT.
        let mut rt = self.jittered(self.rt * 2, self.rt, false);
        if let Some(mrt) = mrt
            && rt > mrt
        {
            rt = self.jittered(mrt, mrt, false);
        }
        self.rt = rt;
        self.retransmit_at = Some(now + rt);
        self.send(now)
    }

    // ---- messages ----

    fn message(&self, msg_type: MessageType, now: Duration) -> Dhcp6Message {
        let mut m = Dhcp6Message::new(msg_type, self.xid);
        m.options.push(Dhcp6Option::ClientId(self.duid.clone()));
        let hundredths = now.saturating_sub(self.exchange_started).as_millis() / 10;
        m.options.push(Dhcp6Option::ElapsedTime(
            u16::try_from(hundredths).unwrap_or(u16::MAX),
        ));
        m
    }

    /// ORO, Client FQDN and the IA_NA with `addrs` (lifetimes 0, as RFC 8415 §21.6 says
    /// clients send them).
    fn stateful_options(&self, m: &mut Dhcp6Message, addrs: &[Ipv6Addr], with_fqdn: bool) {
        let mut oro = vec![code::DNS_SERVERS, code::DOMAIN_LIST, code::SOL_MAX_RT];
        if with_fqdn && let Some(f) = &self.fqdn {
            oro.push(code::CLIENT_FQDN);
            m.options.push(Dhcp6Option::ClientFqdn(ClientFqdn {
                flags: ClientFqdn::S,
                name: f.clone(),
                fully_qualified: f.contains('.'),
            }));
        }
        if with_fqdn {
            m.options.push(Dhcp6Option::Oro(oro));
        }
        m.options.push(Dhcp6Option::IaNa(IaNa {
            iaid: self.iaid,
            t1: 0,
            t2: 0,
            options: addrs
                .iter()
                .map(|&addr| {
                    IaNaOption::IaAddr(IaAddr {
                        addr,
                        preferred: 0,
                        valid: 0,
                        options: Vec::new(),
                    })
                })
                .collect(),
        }));
    }

    fn send(&self, now: Duration) -> Vec<Action> {
        let lease_addrs = |l: &Lease6| l.addrs.iter().map(|a| a.addr).collect::<Vec<_>>();
        let m = match self.state {
            State::Soliciting => {
                let mut m = self.message(MessageType::Solicit, now);
                self.stateful_options(&mut m, &[], true);
                m
            }
            State::Requesting => {
                let Some(offer) = &self.offer else {
                    return Vec::new();
                };
                let mut m = self.message(MessageType::Request, now);
                m.options
                    .push(Dhcp6Option::ServerId(offer.server_id.clone()));
                self.stateful_options(&mut m, &offer.addrs, true);
                m
            }
            State::Renewing | State::Rebinding => {
                let Some(l) = &self.lease else {
                    return Vec::new();
                };
                let renew = self.state == State::Renewing;
                let mut m = self.message(
                    if renew {
                        MessageType::Renew
                    } else {
                        MessageType::Rebind
                    },
                    now,
                );
                if renew {
                    m.options.push(Dhcp6Option::ServerId(l.server_id.clone()));
                }
                self.stateful_options(&mut m, &lease_addrs(l), true);
                m
            }
            State::Releasing => {
                let Some(l) = &self.releasing else {
                    return Vec::new();
                };
                let mut m = self.message(MessageType::Release, now);
                m.options.push(Dhcp6Option::ServerId(l.server_id.clone()));
                self.stateful_options(&mut m, &lease_addrs(l), false);
                m
            }
            State::InformationRequesting => {
                let mut m = self.message(MessageType::InformationRequest, now);
                m.options.push(Dhcp6Option::Oro(vec![
                    code::DNS_SERVERS,
                    code::DOMAIN_LIST,
                    code::INFORMATION_REFRESH_TIME,
                    code::SOL_MAX_RT,
                    code::INF_MAX_RT,
                ]));
                m
            }
            State::Idle | State::Bound | State::Informed => return Vec::new(),
        };
        vec![Action::Send {
            dst: ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
            payload: m.emit(),
        }]
    }

    // ---- received messages ----

    /// The usable addresses of our IA_NA in `m` (valid lifetime not 0, preferred not above
    /// valid, no failing status), or why there are none.
    fn offered<'m>(&self, m: &'m Dhcp6Message) -> Result<(&'m IaNa, Vec<&'m IaAddr>), Option<u16>> {
        if let Some(s) = m.status()
            && s.code != status::SUCCESS
        {
            return Err(Some(s.code));
        }
        let Some(ia) = m.ia_na(self.iaid) else {
            return Err(None);
        };
        if let Some(s) = ia.status()
            && s.code != status::SUCCESS
        {
            return Err(Some(s.code));
        }
        if ia.t1 > ia.t2 && ia.t2 > 0 {
            log::debug!("DHCPv6 client: IA_NA with T1 > T2 discarded");
            return Err(None);
        }
        let addrs = ia
            .addrs()
            .filter(|a| {
                a.valid > 0
                    && a.preferred <= a.valid
                    && unicast(a.addr)
                    && a.status().is_none_or(|s| s.code == status::SUCCESS)
            })
            .collect();
        Ok((ia, addrs))
    }

    fn advertise(&mut self, now: Duration, m: &Dhcp6Message, server_id: Vec<u8>) -> Vec<Action> {
        let addrs: Vec<Ipv6Addr> = match self.offered(m) {
            Ok((_, addrs)) if !addrs.is_empty() => addrs.iter().map(|a| a.addr).collect(),
            other => {
                log::debug!("DHCPv6 client: ignoring an Advertise without addresses: {other:?}");
                return Vec::new();
            }
        };
        let preference = m.preference();
        if self
            .offer
            .as_ref()
            .is_none_or(|o| preference > o.preference)
        {
            self.offer = Some(Offer {
                server_id,
                preference,
                addrs,
            });
        }
        // Preference 255 is taken at once; after the first timeout, any Advertise is.
        if preference == 255 || self.attempts > 1 {
            return self.begin(now, State::Requesting);
        }
        Vec::new()
    }

    fn reply(&mut self, now: Duration, m: &Dhcp6Message, server_id: Vec<u8>) -> Vec<Action> {
        let (ia, offered) = match self.offered(m) {
            Ok(ok) => ok,
            Err(Some(status::NOT_ON_LINK)) => {
                let mut actions: Vec<Action> =
                    self.lease.take().map(Action::Unbound).into_iter().collect();
                self.offer = None;
                actions.extend(self.begin(now, State::Soliciting));
                return actions;
            }
            Err(Some(status::NO_ADDRS_AVAIL)) if self.state == State::Requesting => {
                self.offer = None;
                return self.begin(now, State::Soliciting);
            }
            Err(Some(status::NO_BINDING)) if self.state != State::Requesting => {
                // The server lost our binding: ask it for our addresses again (§18.2.10.1).
                let addrs = self
                    .lease
                    .as_ref()
                    .map(|l| l.addrs.iter().map(|a| a.addr).collect())
                    .unwrap_or_default();
                self.offer = Some(Offer {
                    server_id,
                    preference: 0,
                    addrs,
                });
                return self.begin(now, State::Requesting);
            }
            Err(why) => {
                // UnspecFail, UseMulticast, NoAddrsAvail on renewal, no IA: keep trying on
                // the retransmission schedule (§18.2.10).
                log::debug!("DHCPv6 client: Reply not used ({why:?}), retrying later");
                return Vec::new();
            }
        };
        // Merge (§18.2.10.1): addresses we hold and the Reply does not mention stay as they
        // are; those it mentions get its lifetimes; valid lifetime 0 removes one.
        let mut addrs: Vec<LeasedAddr> = Vec::new();
        if let Some(old) = &self.lease {
            for a in &old.addrs {
                let end = old.acquired + a.valid;
                if end > now && !ia.addrs().any(|n| n.addr == a.addr) {
                    addrs.push(LeasedAddr {
                        addr: a.addr,
                        preferred: (old.acquired + a.preferred).saturating_sub(now),
                        valid: end - now,
                    });
                }
            }
        }
        for a in &offered {
            addrs.push(LeasedAddr {
                addr: a.addr,
                preferred: secs(a.preferred),
                valid: secs(a.valid),
            });
        }
        if addrs.is_empty() {
            let mut actions: Vec<Action> =
                self.lease.take().map(Action::Unbound).into_iter().collect();
            self.offer = None;
            actions.extend(self.begin(now, State::Soliciting));
            return actions;
        }
        // T1/T2 of 0: the client picks 0.5 and 0.8 of the shortest preferred lifetime.
        let shortest = offered
            .iter()
            .map(|a| {
                if a.preferred > 0 {
                    a.preferred
                } else {
                    a.valid
                }
            })
            .min()
            .unwrap_or(INFINITY);
        let (t1, t2) = if shortest == INFINITY {
            (INFINITY, INFINITY)
        } else {
            (shortest / 2, (u64::from(shortest) * 4 / 5) as u32)
        };
        let t1 = if ia.t1 > 0 {
            ia.t1
        } else {
            t1.min(if ia.t2 > 0 { ia.t2 } else { t1 })
        };
        let t2 = if ia.t2 > 0 { ia.t2 } else { t2.max(t1) };
        let lease = Lease6 {
            addrs,
            dns: m.dns_servers(),
            domains: m.domain_list(),
            server_id,
            t1: secs(t1),
            t2: secs(t2),
            acquired: now,
        };
        self.state = State::Bound;
        self.retransmit_at = None;
        self.offer = None;
        self.install(lease)
    }

    fn information(&mut self, now: Duration, m: &Dhcp6Message, server_id: Vec<u8>) -> Vec<Action> {
        if let Some(s) = m.status()
            && s.code != status::SUCCESS
        {
            log::debug!(
                "DHCPv6 client: Reply to Information-request with status {}",
                s.code
            );
            return Vec::new();
        }
        let refresh = m
            .time_option(code::INFORMATION_REFRESH_TIME)
            .map_or(IRT_DEFAULT, |v| v.max(IRT_MINIMUM));
        let lease = Lease6 {
            addrs: Vec::new(),
            dns: m.dns_servers(),
            domains: m.domain_list(),
            server_id,
            t1: secs(refresh),
            t2: secs(refresh),
            acquired: now,
        };
        self.state = State::Informed;
        self.retransmit_at = None;
        self.install(lease)
    }

    /// Makes `lease` current, reporting how it differs from the one it replaces.
    fn install(&mut self, lease: Lease6) -> Vec<Action> {
        let actions = match self.lease.take() {
            Some(old) if old.same_config(&lease) => vec![Action::Renewed(lease.clone())],
            Some(old) => vec![Action::Unbound(old), Action::Bound(lease.clone())],
            None => vec![Action::Bound(lease.clone())],
        };
        self.lease = Some(lease);
        actions
    }

    /// Drops addresses at the end of their validity; without addresses left the lease is gone
    /// and, when it was in use, Solicit starts over.
    fn expire(&mut self, now: Duration) -> Vec<Action> {
        let Some(l) = &self.lease else {
            return Vec::new();
        };
        if l.addrs.iter().all(|a| l.acquired + a.valid > now) {
            return Vec::new();
        }
        let mut kept = l.clone();
        kept.addrs.retain(|a| l.acquired + a.valid > now);
        if !kept.addrs.is_empty() {
            return self.install(kept);
        }
        let mut actions: Vec<Action> = self.lease.take().map(Action::Unbound).into_iter().collect();
        if matches!(
            self.state,
            State::Bound | State::Renewing | State::Rebinding
        ) {
            self.offer = None;
            actions.extend(self.begin(now, State::Soliciting));
        }
        actions
    }
}

/// Whether a leased address can be a host's unicast address: a server leasing a multicast,
/// unspecified, loopback, link-local or IPv4-mapped address is ignored (as if it had offered
/// nothing), not installed.
fn unicast(a: Ipv6Addr) -> bool {
    !(a.is_multicast()
        || a.is_unspecified()
        || a.is_loopback()
        || a.segments()[0] & 0xffc0 == 0xfe80
        || a.to_ipv4_mapped().is_some())
}
