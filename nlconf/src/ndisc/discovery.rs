//! Router discovery and SLAAC for one interface as a pure state machine (RFC 4861 §6.3,
//! RFC 4862 §5.5, RFC 7559, RFC 8106): it consumes received router advertisements and the
//! passing of time, and produces solicitations to send and configuration changes to apply.
//! It owns no socket and reads no clock: `now` is any monotonic time the caller keeps.
//!
//! Solicitations go out at start, then 4 s later, then with doubling intervals (±10%) up to
//! one hour until a valid advertisement arrives (RFC 7559). Default routers, SLAAC addresses,
//! DNS servers and search domains live as long as their advertised lifetimes and are renewed
//! by later advertisements; when the last router and address have expired, soliciting starts
//! again. On-link prefixes (L flag) are reported too, for addresses configured by other means
//! (DHCPv6) that fall inside them. A SLAAC address is formed for a /64 prefix with the A flag (or for any /64 prefix
//! when the node has a name, as iothconf does: the address is then the name's hash, which
//! DNS can compute too); its host part is the hash of the name, else the EUI-64 of the MAC.

use std::net::Ipv6Addr;
use std::time::Duration;

use super::message::{INFINITE, RouterAdvert};
use crate::hashaddr::slaac_address;

/// Something the caller must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a router solicitation ([`super::router_solicitation`] from the interface's
    /// link-local address to [`super::ALL_ROUTERS`], hop limit 255).
    Solicit,
    /// A new default router: add a default route through it on this interface.
    AddRouter(Ipv6Addr),
    /// A default router is gone (lifetime 0 or expired): remove its route.
    RemoveRouter(Ipv6Addr),
    /// A new SLAAC address: add it with its prefix length.
    AddAddress {
        /// The address.
        addr: Ipv6Addr,
        /// The prefix length (64).
        prefix_len: u8,
    },
    /// A SLAAC address expired: remove it.
    RemoveAddress {
        /// The address.
        addr: Ipv6Addr,
        /// The prefix length it was added with.
        prefix_len: u8,
    },
    /// The router advertised a link MTU (at least 1280): set it.
    SetMtu(u32),
    /// A prefix is on this link (L flag): addresses in it are reached directly. Addresses
    /// configured by other means (DHCPv6) inside it take its length.
    OnLink {
        /// The prefix, host bits cleared.
        prefix: Ipv6Addr,
        /// Its length.
        prefix_len: u8,
    },
    /// An on-link prefix expired or was withdrawn.
    OffLink {
        /// The prefix, host bits cleared.
        prefix: Ipv6Addr,
        /// Its length.
        prefix_len: u8,
    },
}

/// The first solicitation interval after the initial one (RTR_SOLICITATION_INTERVAL).
const FIRST_INTERVAL: Duration = Duration::from_secs(4);
/// The longest interval between solicitations (RFC 7559 MAX_RTR_SOLICITATION_INTERVAL).
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// RFC 4862 §5.5.3 (e): valid lifetimes are not cut below two hours by an advertisement.
const TWO_HOURS: Duration = Duration::from_secs(7200);
/// The smallest MTU IPv6 allows.
const MIN_MTU: u32 = 1280;

#[derive(Clone, Debug)]
struct Timed<T> {
    value: T,
    /// None: forever.
    until: Option<Duration>,
}

#[derive(Clone, Debug)]
struct SlaacAddr {
    prefix: Ipv6Addr,
    addr: Ipv6Addr,
    valid_until: Option<Duration>,
    preferred_until: Option<Duration>,
}

/// The router discovery state machine of one interface.
#[derive(Clone, Debug)]
pub struct RouterDiscovery {
    mac: [u8; 6],
    fqdn: Option<String>,
    slaac: bool,
    running: bool,
    next_solicit: Option<Duration>,
    interval: Duration,
    jitter: u32,
    routers: Vec<Timed<Ipv6Addr>>,
    on_link: Vec<Timed<(Ipv6Addr, u8)>>,
    addrs: Vec<SlaacAddr>,
    dns: Vec<Timed<Ipv6Addr>>,
    domains: Vec<Timed<String>>,
    mtu: Option<u32>,
    managed: bool,
    other_config: bool,
}

fn until(now: Duration, secs: u32) -> Option<Duration> {
    (secs != INFINITE).then(|| now + Duration::from_secs(u64::from(secs)))
}

fn expired(until: Option<Duration>, now: Duration) -> bool {
    until.is_some_and(|u| u <= now)
}

fn prefix64(a: Ipv6Addr) -> Ipv6Addr {
    mask(a, 64)
}

/// `a` with the bits past `len` cleared.
fn mask(a: Ipv6Addr, len: u8) -> Ipv6Addr {
    let len = u32::from(len.min(128));
    let bits = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    Ipv6Addr::from(u128::from(a) & bits)
}

/// Whether an advertised prefix can be on-link or autoconfigured: RFC 4862 §5.5.3 (b)
/// ignores the link-local prefix; multicast, unspecified, loopback and IPv4-mapped prefixes
/// cannot hold unicast host addresses at all (a crafted RA with `ff02::/64` must not reach
/// the stack as an address).
fn usable_prefix(p: Ipv6Addr) -> bool {
    !(is_link_local(p)
        || p.is_multicast()
        || p.is_unspecified()
        || p.is_loopback()
        || p.to_ipv4_mapped().is_some())
}

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

impl RouterDiscovery {
    /// A stopped engine for an interface with MAC `mac`. `fqdn` is the node's name (the
    /// SLAAC host part is its hash); `slaac` asks for addresses, otherwise only routers,
    /// DNS servers, domains and the MTU are learned.
    pub fn new(mac: [u8; 6], fqdn: Option<String>, slaac: bool) -> RouterDiscovery {
        let jitter = mac
            .iter()
            .fold(0x9e37_79b9u32, |h, &b| h.rotate_left(5) ^ u32::from(b));
        RouterDiscovery {
            mac,
            fqdn,
            slaac,
            running: false,
            next_solicit: None,
            interval: FIRST_INTERVAL,
            jitter,
            routers: Vec::new(),
            on_link: Vec::new(),
            addrs: Vec::new(),
            dns: Vec::new(),
            domains: Vec::new(),
            mtu: None,
            managed: false,
            other_config: false,
        }
    }

    /// Starts (or restarts, forgetting what was learned without removing it: call
    /// [`RouterDiscovery::stop`] first for that) and asks for the first solicitation.
    pub fn start(&mut self, now: Duration) -> Vec<Action> {
        *self = RouterDiscovery::new(self.mac, self.fqdn.take(), self.slaac);
        self.running = true;
        self.solicit_again(now)
    }

    /// Stops and asks to remove every address and router it added.
    pub fn stop(&mut self, _now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        for a in self.addrs.drain(..) {
            out.push(Action::RemoveAddress {
                addr: a.addr,
                prefix_len: 64,
            });
        }
        for r in self.routers.drain(..) {
            out.push(Action::RemoveRouter(r.value));
        }
        for p in self.on_link.drain(..) {
            out.push(Action::OffLink {
                prefix: p.value.0,
                prefix_len: p.value.1,
            });
        }
        self.dns.clear();
        self.domains.clear();
        self.running = false;
        self.next_solicit = None;
        out
    }

    /// True between [`RouterDiscovery::start`] and [`RouterDiscovery::stop`].
    pub fn is_running(&self) -> bool {
        self.running
    }

    fn solicit_again(&mut self, now: Duration) -> Vec<Action> {
        self.interval = FIRST_INTERVAL;
        self.next_solicit = Some(now + FIRST_INTERVAL);
        vec![Action::Solicit]
    }

    /// The next interval: doubled, capped, with ±10% of deterministic jitter.
    fn backoff(&mut self) -> Duration {
        let current = self.interval;
        self.jitter = self
            .jitter
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let doubled = (current * 2).min(MAX_INTERVAL);
        let spread = doubled.as_millis() as u64 / 10;
        let offset = u64::from(self.jitter >> 8) % (2 * spread + 1);
        let next = Duration::from_millis(doubled.as_millis() as u64 - spread + offset);
        self.interval = doubled;
        next
    }

    /// Takes a received router advertisement: `src` and `hop_limit` from its IPv6 header,
    /// `msg` the ICMPv6 message (checksum already verified by the stack). Advertisements that
    /// RFC 4861 §6.1.2 says to drop (hop limit not 255, source not link-local, malformed) are
    /// ignored with a debug log line.
    pub fn receive(
        &mut self,
        now: Duration,
        src: Ipv6Addr,
        hop_limit: u8,
        msg: &[u8],
    ) -> Vec<Action> {
        if !self.running {
            return Vec::new();
        }
        if hop_limit != 255 || !is_link_local(src) {
            log::debug!("router advertisement from {src} with hop limit {hop_limit}: dropped");
            return Vec::new();
        }
        let ra = match RouterAdvert::parse(msg) {
            Ok(ra) => ra,
            Err(e) => {
                log::debug!("from {src}: {e}");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        self.next_solicit = None;
        self.managed = ra.managed;
        self.other_config = ra.other_config;

        let known = self.routers.iter().position(|r| r.value == src);
        match (ra.router_lifetime, known) {
            (0, Some(i)) => {
                self.routers.remove(i);
                out.push(Action::RemoveRouter(src));
            }
            (0, None) => {}
            (secs, Some(i)) => {
                self.routers[i].until = until(now, u32::from(secs));
            }
            (secs, None) => {
                self.routers.push(Timed {
                    value: src,
                    until: until(now, u32::from(secs)),
                });
                out.push(Action::AddRouter(src));
            }
        }

        if let Some(mtu) = ra.mtu
            && mtu >= MIN_MTU
            && self.mtu != Some(mtu)
        {
            self.mtu = Some(mtu);
            out.push(Action::SetMtu(mtu));
        }

        for p in ra.prefixes.iter().filter(|p| p.on_link) {
            if !usable_prefix(p.prefix) {
                log::debug!("router advertisement: on-link prefix {} ignored", p.prefix);
                continue;
            }
            let key = (mask(p.prefix, p.prefix_len), p.prefix_len);
            let known = self.on_link.iter().position(|t| t.value == key);
            match (p.valid_lifetime, known) {
                (0, Some(i)) => {
                    self.on_link.remove(i);
                    out.push(Action::OffLink {
                        prefix: key.0,
                        prefix_len: key.1,
                    });
                }
                (0, None) => {}
                (secs, Some(i)) => self.on_link[i].until = until(now, secs),
                (secs, None) => {
                    self.on_link.push(Timed {
                        value: key,
                        until: until(now, secs),
                    });
                    out.push(Action::OnLink {
                        prefix: key.0,
                        prefix_len: key.1,
                    });
                }
            }
        }

        for p in &ra.prefixes {
            if !self.slaac
                || p.prefix_len != 64
                || !(p.autonomous || self.fqdn.is_some())
                || !usable_prefix(p.prefix)
                || p.preferred_lifetime > p.valid_lifetime
            {
                continue;
            }
            let prefix = prefix64(p.prefix);
            match self.addrs.iter_mut().find(|a| a.prefix == prefix) {
                Some(a) => {
                    a.preferred_until = until(now, p.preferred_lifetime);
                    let received = until(now, p.valid_lifetime);
                    let longer = match (received, a.valid_until) {
                        (None, _) => true,
                        (Some(_), None) => false,
                        (Some(r), Some(cur)) => r > cur,
                    };
                    if longer || received.is_some_and(|r| r - now > TWO_HOURS) {
                        a.valid_until = received;
                    } else if a
                        .valid_until
                        .is_none_or(|u| u.saturating_sub(now) > TWO_HOURS)
                    {
                        a.valid_until = Some(now + TWO_HOURS);
                    }
                }
                None if p.valid_lifetime == 0 => {}
                None => {
                    let addr = slaac_address(prefix, self.fqdn.as_deref(), self.mac);
                    self.addrs.push(SlaacAddr {
                        prefix,
                        addr,
                        valid_until: until(now, p.valid_lifetime),
                        preferred_until: until(now, p.preferred_lifetime),
                    });
                    out.push(Action::AddAddress {
                        addr,
                        prefix_len: 64,
                    });
                }
            }
        }

        for (server, secs) in &ra.dns_servers {
            refresh(&mut self.dns, *server, *secs, now);
        }
        for (domain, secs) in &ra.search_domains {
            refresh(&mut self.domains, domain.clone(), *secs, now);
        }
        out
    }

    /// Handles the passing of time: due solicitations, expired routers, addresses, DNS
    /// servers and domains.
    pub fn poll(&mut self, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.running {
            return out;
        }
        if self.next_solicit.is_some_and(|t| t <= now) {
            out.push(Action::Solicit);
            let next = self.backoff();
            self.next_solicit = Some(now + next);
        }
        let had_any = !self.routers.is_empty() || !self.addrs.is_empty();
        self.routers.retain(|r| {
            let gone = expired(r.until, now);
            if gone {
                out.push(Action::RemoveRouter(r.value));
            }
            !gone
        });
        self.addrs.retain(|a| {
            let gone = expired(a.valid_until, now);
            if gone {
                out.push(Action::RemoveAddress {
                    addr: a.addr,
                    prefix_len: 64,
                });
            }
            !gone
        });
        self.on_link.retain(|p| {
            let gone = expired(p.until, now);
            if gone {
                out.push(Action::OffLink {
                    prefix: p.value.0,
                    prefix_len: p.value.1,
                });
            }
            !gone
        });
        self.dns.retain(|d| !expired(d.until, now));
        self.domains.retain(|d| !expired(d.until, now));
        if had_any && self.routers.is_empty() && self.addrs.is_empty() {
            out.extend(self.solicit_again(now));
        }
        out
    }

    /// When [`RouterDiscovery::poll`] next has something to do; None when stopped or when
    /// nothing learned can expire and no solicitation is pending.
    pub fn next_deadline(&self) -> Option<Duration> {
        if !self.running {
            return None;
        }
        let mut next = self.next_solicit;
        let mut consider = |t: Option<Duration>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        self.routers.iter().for_each(|r| consider(r.until));
        self.on_link.iter().for_each(|p| consider(p.until));
        self.addrs.iter().for_each(|a| consider(a.valid_until));
        self.dns.iter().for_each(|d| consider(d.until));
        self.domains.iter().for_each(|d| consider(d.until));
        next
    }

    /// The default routers known now (link-local addresses), oldest first.
    pub fn routers(&self) -> Vec<Ipv6Addr> {
        self.routers.iter().map(|r| r.value).collect()
    }

    /// The prefixes advertised as on this link and not expired, host bits cleared.
    pub fn on_link_prefixes(&self) -> Vec<(Ipv6Addr, u8)> {
        self.on_link.iter().map(|p| p.value).collect()
    }

    /// The length of the longest on-link prefix holding `addr`, if any.
    pub fn on_link_prefix_len(&self, addr: Ipv6Addr) -> Option<u8> {
        self.on_link
            .iter()
            .filter(|p| mask(addr, p.value.1) == p.value.0)
            .map(|p| p.value.1)
            .max()
    }

    /// The SLAAC addresses configured now (each with prefix length 64).
    pub fn addresses(&self) -> Vec<Ipv6Addr> {
        self.addrs.iter().map(|a| a.addr).collect()
    }

    /// The SLAAC addresses whose preferred lifetime has not run out at `now`.
    pub fn preferred_addresses(&self, now: Duration) -> Vec<Ipv6Addr> {
        self.addrs
            .iter()
            .filter(|a| !expired(a.preferred_until, now))
            .map(|a| a.addr)
            .collect()
    }

    /// The DNS servers advertised (RDNSS) and not expired.
    pub fn dns_servers(&self) -> Vec<Ipv6Addr> {
        self.dns.iter().map(|d| d.value).collect()
    }

    /// The search domains advertised (DNSSL) and not expired.
    pub fn search_domains(&self) -> Vec<String> {
        self.domains.iter().map(|d| d.value.clone()).collect()
    }

    /// The link MTU last advertised.
    pub fn mtu(&self) -> Option<u32> {
        self.mtu
    }

    /// The M and O flags of the last advertisement: whether addresses and other
    /// configuration are offered through DHCPv6.
    pub fn dhcp6_flags(&self) -> (bool, bool) {
        (self.managed, self.other_config)
    }
}

/// Inserts or refreshes `value` with a lifetime of `secs` (0 removes it).
fn refresh<T: PartialEq>(list: &mut Vec<Timed<T>>, value: T, secs: u32, now: Duration) {
    let pos = list.iter().position(|t| t.value == value);
    match (secs, pos) {
        (0, Some(i)) => {
            list.remove(i);
        }
        (0, None) => {}
        (s, Some(i)) => list[i].until = until(now, s),
        (s, None) => list.push(Timed {
            value,
            until: until(now, s),
        }),
    }
}
