//! The cache of forwarded replies: record sets by (owner, type), with their expiry.
//!
//! Unlike the original's, it takes from a reply only the answers that belong to the query:
//! records owned by the queried name or by a name its CNAME chain leads to, of class IN
//! (other answer records are how caches get poisoned), and it holds at most a configured
//! number of records, evicting those that expire first. Time is passed in.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

use crate::domain::name_key;

/// The longest a record is kept, whatever its TTL says (one day, as unbound's default
/// `cache-max-ttl`).
pub const MAX_TTL: u32 = 86_400;
/// The longest CNAME chain followed.
pub const MAX_CHAIN: usize = 8;

type Key = (String, RecordType);

#[derive(Debug)]
struct Entry {
    records: Vec<Record>,
    expires: Duration,
    seq: u64,
}

/// A bounded cache of record sets.
#[derive(Debug)]
pub struct Cache {
    max_records: usize,
    records: usize,
    entries: HashMap<Key, Entry>,
    by_expiry: BTreeSet<(Duration, u64, Key)>,
    seq: u64,
}

impl Cache {
    /// An empty cache that holds at most `max_records` records.
    pub fn new(max_records: usize) -> Cache {
        Cache {
            max_records,
            records: 0,
            entries: HashMap::new(),
            by_expiry: BTreeSet::new(),
            seq: 0,
        }
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Takes from `reply` (to a query for `qname_key`) the answer records of the query's
    /// CNAME chain, each set to expire after its smallest TTL (capped at [`MAX_TTL`]); TTL 0
    /// is not cached. Returns how many records were stored.
    pub fn insert_reply(&mut self, qname_key: &str, reply: &Message, now: Duration) -> usize {
        let mut chain: HashSet<String> = HashSet::from([qname_key.to_string()]);
        let answers: Vec<(String, &Record)> = reply
            .answers
            .iter()
            .filter(|r| r.dns_class == DNSClass::IN && r.record_type() != RecordType::OPT)
            .map(|r| (name_key(&r.name), r))
            .collect();
        for _ in 0..MAX_CHAIN {
            let before = chain.len();
            for (owner, r) in &answers {
                if let RData::CNAME(target) = &r.data
                    && chain.contains(owner)
                {
                    chain.insert(name_key(&target.0));
                }
            }
            if chain.len() == before {
                break;
            }
        }
        let mut sets: HashMap<Key, Vec<Record>> = HashMap::new();
        for (owner, r) in answers {
            if chain.contains(&owner) {
                sets.entry((owner, r.record_type()))
                    .or_default()
                    .push(r.clone());
            }
        }
        let mut stored = 0;
        for (key, records) in sets {
            let ttl = records
                .iter()
                .map(|r| r.ttl)
                .min()
                .unwrap_or(0)
                .min(MAX_TTL);
            if ttl == 0 || records.len() > self.max_records {
                continue;
            }
            stored += records.len();
            self.put(key, records, now + Duration::from_secs(u64::from(ttl)));
        }
        self.evict(now);
        stored
    }

    fn put(&mut self, key: Key, records: Vec<Record>, expires: Duration) {
        self.remove(&key);
        self.seq += 1;
        self.records += records.len();
        self.by_expiry.insert((expires, self.seq, key.clone()));
        self.entries.insert(
            key,
            Entry {
                records,
                expires,
                seq: self.seq,
            },
        );
    }

    fn remove(&mut self, key: &Key) {
        if let Some(old) = self.entries.remove(key) {
            self.records -= old.records.len();
            self.by_expiry.remove(&(old.expires, old.seq, key.clone()));
        }
    }

    /// Drops expired sets, then the soonest to expire until the bound holds.
    fn evict(&mut self, now: Duration) {
        while let Some((expires, _, key)) = self.by_expiry.first().cloned() {
            if expires > now && self.records <= self.max_records {
                break;
            }
            self.remove(&key);
        }
    }

    /// The live set of exactly (`key`, `ty`), TTLs set to the seconds left.
    pub fn get(&mut self, key: &str, ty: RecordType, now: Duration) -> Option<Vec<Record>> {
        let k = (key.to_string(), ty);
        let entry = self.entries.get(&k)?;
        if entry.expires <= now {
            self.remove(&k);
            return None;
        }
        let left = (entry.expires - now).as_secs().max(1);
        let left = u32::try_from(left).unwrap_or(MAX_TTL);
        Some(
            entry
                .records
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r.ttl = left;
                    r
                })
                .collect(),
        )
    }

    /// The answer for (`key`, `ty`): the set itself, or, when only a CNAME is cached for
    /// the name, the chain of CNAMEs followed by the set at its end (all links live).
    pub fn lookup(&mut self, key: &str, ty: RecordType, now: Duration) -> Option<Vec<Record>> {
        if let Some(records) = self.get(key, ty, now) {
            return Some(records);
        }
        if ty == RecordType::CNAME {
            return None;
        }
        let mut answer = Vec::new();
        let mut at = key.to_string();
        for _ in 0..MAX_CHAIN {
            let cname = self.get(&at, RecordType::CNAME, now)?;
            let Some(RData::CNAME(target)) = cname.first().map(|r| &r.data) else {
                return None;
            };
            at = name_key(&target.0);
            answer.extend(cname);
            if let Some(records) = self.get(&at, ty, now) {
                answer.extend(records);
                return Some(answer);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::Name;
    use hickory_proto::rr::rdata::{A, CNAME};
    use proptest::prelude::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn reply(records: Vec<Record>) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.answers = records;
        m
    }

    fn a(owner: &str, ttl: u32, last: u8) -> Record {
        Record::from_rdata(name(owner), ttl, RData::A(A::new(10, 0, 0, last)))
    }

    fn cname(owner: &str, ttl: u32, target: &str) -> Record {
        Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
    }

    const T0: Duration = Duration::from_secs(1_000_000);

    #[test]
    fn takes_only_the_querys_chain() {
        let mut c = Cache::new(100);
        let m = reply(vec![
            cname("www.example.test.", 300, "web.example.test."),
            a("web.example.test.", 60, 1),
            a("victim.bank.test.", 86400, 66),
        ]);
        assert_eq!(c.insert_reply("www.example.test", &m, T0), 2);
        assert!(
            c.get("victim.bank.test", RecordType::A, T0).is_none(),
            "no poisoning"
        );
        let hit = c
            .lookup("www.example.test", RecordType::A, T0)
            .expect("chain");
        assert_eq!(hit.len(), 2);
        assert_eq!(hit[0].record_type(), RecordType::CNAME);
        assert_eq!(hit[1].ttl, 60);
    }

    #[test]
    fn ttls_count_down_and_expire() {
        let mut c = Cache::new(100);
        c.insert_reply("a.test", &reply(vec![a("A.Test.", 60, 1)]), T0);
        let at = |s| T0 + Duration::from_secs(s);
        assert_eq!(
            c.get("a.test", RecordType::A, at(10)).expect("hit")[0].ttl,
            50
        );
        assert_eq!(
            c.get("a.test", RecordType::A, at(59)).expect("hit")[0].ttl,
            1
        );
        assert!(c.get("a.test", RecordType::A, at(60)).is_none());
        assert!(c.is_empty());
        assert_eq!(
            c.insert_reply("z.test", &reply(vec![a("z.test.", 0, 1)]), T0),
            0
        );
    }

    #[test]
    fn the_bound_evicts_what_expires_first() {
        let mut c = Cache::new(3);
        for (i, ttl) in [(1u8, 100u32), (2, 10), (3, 1000), (4, 500)] {
            let owner = format!("h{i}.test.");
            c.insert_reply(&format!("h{i}.test"), &reply(vec![a(&owner, ttl, i)]), T0);
        }
        assert_eq!(c.len(), 3);
        assert!(
            c.get("h2.test", RecordType::A, T0).is_none(),
            "the soonest went"
        );
        for kept in ["h1.test", "h3.test", "h4.test"] {
            assert!(c.get(kept, RecordType::A, T0).is_some(), "{kept}");
        }
    }

    proptest! {
        #[test]
        fn never_over_its_bound(ops in proptest::collection::vec((0u8..20, 1u32..1000, 0u64..2000), 1..60)) {
            let mut c = Cache::new(10);
            for (host, ttl, when) in ops {
                let owner = format!("h{host}.test.");
                let now = T0 + Duration::from_secs(when);
                c.insert_reply(&format!("h{host}.test"), &reply(vec![a(&owner, ttl, host), a(&owner, ttl, host.wrapping_add(1))]), now);
                prop_assert!(c.len() <= 10);
                if let Some(rs) = c.get(&format!("h{host}.test"), RecordType::A, now) {
                    prop_assert!(rs.iter().all(|r| r.ttl <= ttl));
                }
            }
        }
    }
}
