//! The pure core: from a query, the client's address and the time, the answer (or "forward
//! it"), by the first matching `auth` line in file order.
//!
//! A line matches when one of its nets holds the client and its domain holds the query
//! name; `cache` (on a miss) and `hrev` (for a non-PTR query) pass to the next line; the
//! first line that answers wins, and with none the answer is REFUSED. Names match without
//! regard to case, and `hash`/`otip` hash the name in lower case, so that DNS 0x20 case
//! randomization gives every client the same address.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use nlconf::hashaddr::{hashaddr, otiptime_at};

use crate::cache::{Cache, MAX_CHAIN};
use crate::config::{AuthKind, HrevMode};
use crate::domain::{name_key, reverse_name};
use crate::hrev::Hrev;
use crate::zone::{Rule, Zone};

/// What to do with a query.
#[derive(Debug)]
pub enum Decision {
    /// Send this reply.
    Answer(Message),
    /// Forward the query to the `dns` servers.
    Forward,
}

/// Counters of what the engine decided, per auth type and overall.
#[derive(Debug, Default)]
pub struct Counters {
    answered: [AtomicU64; 8],
    no_rule: AtomicU64,
    forward_unavailable: AtomicU64,
    cached_records: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Queries answered (or forwarded, for `fwd`) by lines of each kind, in
    /// [`AuthKind::ALL`] order (`accept` counts TCP connections allowed).
    pub by_kind: [(AuthKind, u64); 8],
    /// Queries no line matched (REFUSED).
    pub no_rule: u64,
    /// Queries a `fwd` line took with no `dns` server to send them to (SERVFAIL).
    pub forward_unavailable: u64,
    /// Records the cache took from forwarded replies.
    pub cached_records: u64,
}

impl CounterSnapshot {
    /// The count of `kind`.
    pub fn of(&self, kind: AuthKind) -> u64 {
        self.by_kind
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }
}

impl std::fmt::Display for CounterSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (kind, n) in &self.by_kind {
            write!(f, "{kind}={n} ")?;
        }
        write!(
            f,
            "norule={} fwd-unavailable={} cached-records={}",
            self.no_rule, self.forward_unavailable, self.cached_records
        )
    }
}

fn kind_index(kind: AuthKind) -> usize {
    AuthKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// The engine: the zone (replaceable on reload), the cache and the hrev table.
#[derive(Debug)]
pub struct Engine {
    zone: RwLock<Arc<Zone>>,
    cache: Mutex<Cache>,
    hrev: Mutex<Hrev>,
    counters: Counters,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Engine {
    /// An engine answering from `zone`, with an empty cache.
    pub fn new(zone: Zone) -> Engine {
        let size = zone.options.cache_size;
        Engine {
            zone: RwLock::new(Arc::new(zone)),
            cache: Mutex::new(Cache::new(size)),
            hrev: Mutex::new(Hrev::new()),
            counters: Counters::default(),
        }
    }

    /// The zone answered from now.
    pub fn zone(&self) -> Arc<Zone> {
        self.zone
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Answers from `zone` from now on (a reload): queries in flight finish with the zone
    /// they started with; the hrev table is kept, the cache too unless its size changed.
    pub fn replace(&self, zone: Zone) {
        if zone.options.cache_size != self.zone().options.cache_size {
            *lock(&self.cache) = Cache::new(zone.options.cache_size);
        }
        *self.zone.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(zone);
    }

    /// Whether `client` may use TCP (an `accept` line's net holds it).
    pub fn tcp_allowed(&self, client: IpAddr) -> bool {
        let ok = self.zone().tcp_allowed(client);
        if ok {
            self.count(AuthKind::Accept);
        }
        ok
    }

    /// Feeds the cache with a forwarded reply to a query for `qname_key` (when some `cache`
    /// line exists).
    pub fn learn(&self, qname_key: &str, reply: &Message, now: Duration) {
        if !self.zone().has(AuthKind::Cache) {
            return;
        }
        let n = lock(&self.cache).insert_reply(qname_key, reply, now);
        self.counters
            .cached_records
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The counters so far.
    pub fn counters(&self) -> CounterSnapshot {
        let mut by_kind = [(AuthKind::Accept, 0); 8];
        for (i, kind) in AuthKind::ALL.into_iter().enumerate() {
            by_kind[i] = (kind, self.counters.answered[i].load(Ordering::Relaxed));
        }
        CounterSnapshot {
            by_kind,
            no_rule: self.counters.no_rule.load(Ordering::Relaxed),
            forward_unavailable: self.counters.forward_unavailable.load(Ordering::Relaxed),
            cached_records: self.counters.cached_records.load(Ordering::Relaxed),
        }
    }

    fn count(&self, kind: AuthKind) {
        self.counters.answered[kind_index(kind)].fetch_add(1, Ordering::Relaxed);
    }

    /// The decision for `query` (one question) from `client` at Unix time `now`.
    pub fn decide(&self, query: &Message, client: IpAddr, now: Duration) -> Decision {
        let zone = self.zone();
        let Some(q) = query.queries.first() else {
            return Decision::Answer(reply(query, &zone, ResponseCode::FormErr));
        };
        let key = name_key(q.name());
        let qtype = q.query_type();
        let data_class = matches!(q.query_class(), DNSClass::IN | DNSClass::ANY);
        let member = zone.client_nets(client);
        for rule in &zone.rules {
            if rule.kind == AuthKind::Accept
                || !rule
                    .nets
                    .iter()
                    .any(|&n| member.get(n).copied().unwrap_or(false))
                || !rule.domain.matches(&key)
            {
                continue;
            }
            let answer = match rule.kind {
                AuthKind::Accept => None,
                AuthKind::Error => Some(reply(query, &zone, ResponseCode::Refused)),
                AuthKind::Static if data_class => {
                    Some(self.static_answer(query, &zone, &key, q.name(), qtype))
                }
                AuthKind::Hash if data_class => {
                    Some(self.hash_answer(query, &zone, rule, &key, q.name(), qtype, client, now))
                }
                AuthKind::Otip if data_class => {
                    Some(otip_answer(query, &zone, rule, &key, q.name(), qtype, now))
                }
                AuthKind::Cache if data_class => {
                    lock(&self.cache).lookup(&key, qtype, now).map(|records| {
                        let mut m = reply(query, &zone, ResponseCode::NoError);
                        m.answers = records;
                        m
                    })
                }
                AuthKind::Hrev if data_class && qtype == RecordType::PTR => {
                    Some(self.hrev_answer(query, &zone, &key, q.name(), now))
                }
                AuthKind::Fwd => {
                    if zone.dns.is_empty() {
                        self.counters
                            .forward_unavailable
                            .fetch_add(1, Ordering::Relaxed);
                        Some(reply(query, &zone, ResponseCode::ServFail))
                    } else {
                        self.count(AuthKind::Fwd);
                        return Decision::Forward;
                    }
                }
                _ => None,
            };
            if let Some(m) = answer {
                self.count(rule.kind);
                return Decision::Answer(m);
            }
        }
        self.counters.no_rule.fetch_add(1, Ordering::Relaxed);
        Decision::Answer(reply(query, &zone, ResponseCode::Refused))
    }

    fn static_answer(
        &self,
        query: &Message,
        zone: &Zone,
        key: &str,
        asked: &Name,
        qtype: RecordType,
    ) -> Message {
        let ttl = zone.options.static_ttl;
        if !zone.statics.contains_key(key) {
            let mut m = reply(query, zone, ResponseCode::NXDomain);
            m.metadata.authoritative = true;
            return m;
        }
        let mut m = reply(query, zone, ResponseCode::NoError);
        m.metadata.authoritative = true;
        let record =
            |owner: &Name, data: &RData| Record::from_rdata(owner.clone(), ttl, data.clone());
        m.answers.extend(
            zone.static_records(key, qtype)
                .map(|r| record(asked, &r.data)),
        );
        if m.answers.is_empty() && qtype != RecordType::CNAME {
            // One alias chain inside the static data, each link once.
            let mut at = key.to_string();
            let mut owner = asked.clone();
            for _ in 0..MAX_CHAIN {
                let Some(cname) = zone.static_records(&at, RecordType::CNAME).next() else {
                    break;
                };
                let RData::CNAME(target) = &cname.data else {
                    break;
                };
                m.answers.push(record(&owner, &cname.data));
                owner = target.0.clone();
                at = name_key(&target.0);
                let found: Vec<Record> = zone
                    .static_records(&at, qtype)
                    .map(|r| record(&owner, &r.data))
                    .collect();
                if !found.is_empty() {
                    m.answers.extend(found);
                    break;
                }
            }
        }
        m
    }

    #[allow(clippy::too_many_arguments)]
    fn hash_answer(
        &self,
        query: &Message,
        zone: &Zone,
        rule: &Rule,
        key: &str,
        asked: &Name,
        qtype: RecordType,
        client: IpAddr,
        now: Duration,
    ) -> Message {
        let mut m = reply(query, zone, ResponseCode::NoError);
        m.metadata.authoritative = true;
        let Some(base) = rule.base else { return m };
        if matches!(qtype, RecordType::AAAA | RecordType::ANY) {
            let addr = hashaddr(base, key, None, 0);
            let ttl = zone.options.hashttl;
            m.answers.push(Record::from_rdata(
                asked.clone(),
                ttl,
                RData::AAAA(AAAA(addr)),
            ));
            if zone.has(AuthKind::Hrev) && hrev_allowed(zone.options.hrevmode, addr, client) {
                lock(&self.hrev).insert(
                    reverse_name(IpAddr::V6(addr)),
                    key.to_string(),
                    now + Duration::from_secs(u64::from(ttl)),
                    now,
                );
            }
        }
        m
    }

    fn hrev_answer(
        &self,
        query: &Message,
        zone: &Zone,
        key: &str,
        asked: &Name,
        now: Duration,
    ) -> Message {
        let hrev = lock(&self.hrev);
        let mut m = match hrev.get(key, now) {
            Some((name, left)) => {
                let mut m = reply(query, zone, ResponseCode::NoError);
                if let Ok(mut target) = crate::domain::parse_name(name) {
                    target.set_fqdn(true);
                    m.answers.push(Record::from_rdata(
                        asked.clone(),
                        left,
                        RData::PTR(PTR(target)),
                    ));
                }
                m
            }
            None => reply(query, zone, ResponseCode::NXDomain),
        };
        m.metadata.authoritative = true;
        m
    }
}

fn otip_answer(
    query: &Message,
    zone: &Zone,
    rule: &Rule,
    key: &str,
    asked: &Name,
    qtype: RecordType,
    now: Duration,
) -> Message {
    let mut m = reply(query, zone, ResponseCode::NoError);
    m.metadata.authoritative = true;
    let Some(base) = rule.base else { return m };
    if matches!(qtype, RecordType::AAAA | RecordType::ANY) {
        let t = otiptime_at(now.as_secs(), zone.options.otip_period, 0);
        let addr = hashaddr(base, key, rule.password.as_deref(), t);
        m.answers.push(Record::from_rdata(
            asked.clone(),
            1,
            RData::AAAA(AAAA(addr)),
        ));
    }
    m
}

/// Whether `hrevmode` lets a hash answer for `addr` to `client` be remembered.
pub fn hrev_allowed(mode: HrevMode, addr: Ipv6Addr, client: IpAddr) -> bool {
    let client = match client {
        IpAddr::V6(c) if c.to_ipv4_mapped().is_none() => Some(c),
        _ => None,
    };
    match mode {
        HrevMode::Always => true,
        HrevMode::Never => false,
        HrevMode::Same => client == Some(addr),
        HrevMode::Net => client.is_some_and(|c| c.segments()[..4] == addr.segments()[..4]),
    }
}

/// An empty reply to `query` with `rcode`: its id, opcode, RD and CD, the question, RA when
/// the zone forwards anywhere.
fn reply(query: &Message, zone: &Zone, rcode: ResponseCode) -> Message {
    let mut m = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    m.metadata.recursion_desired = query.metadata.recursion_desired;
    m.metadata.checking_disabled = query.metadata.checking_disabled;
    m.metadata.recursion_available = zone.has(AuthKind::Fwd) && !zone.dns.is_empty();
    m.metadata.response_code = rcode;
    m.queries.clone_from(&query.queries);
    m
}

#[cfg(test)]
mod tests;
