//! Reverse names of hash addresses handed out: `hash` answers are remembered for `hashttl`
//! seconds so that `hrev` lines answer PTR queries for them. Bounded; time passed in.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// Most reverse names remembered; past it the soonest to expire is forgotten.
pub const MAX_ENTRIES: usize = 65_536;

/// Reverse name (normal form) → the name that hashed to it.
#[derive(Debug, Default)]
pub struct Hrev {
    entries: HashMap<String, (String, Duration)>,
    by_expiry: BTreeSet<(Duration, String)>,
}

impl Hrev {
    /// An empty table.
    pub fn new() -> Hrev {
        Hrev::default()
    }

    /// Names remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Remembers that `reverse` names `name` until `expires` (a later answer renews it).
    pub fn insert(&mut self, reverse: String, name: String, expires: Duration, now: Duration) {
        if let Some((_, old)) = self.entries.remove(&reverse) {
            self.by_expiry.remove(&(old, reverse.clone()));
        }
        self.by_expiry.insert((expires, reverse.clone()));
        self.entries.insert(reverse, (name, expires));
        while let Some((when, key)) = self.by_expiry.first().cloned() {
            if when > now && self.entries.len() <= MAX_ENTRIES {
                break;
            }
            self.by_expiry.remove(&(when, key.clone()));
            self.entries.remove(&key);
        }
    }

    /// The name `reverse` stands for and its seconds left, while it lives.
    pub fn get(&self, reverse: &str, now: Duration) -> Option<(&str, u32)> {
        let (name, expires) = self.entries.get(reverse)?;
        if *expires <= now {
            return None;
        }
        let left = u32::try_from((*expires - now).as_secs().max(1)).unwrap_or(u32::MAX);
        Some((name.as_str(), left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_for_its_time_only() {
        let mut h = Hrev::new();
        let t = Duration::from_secs(100);
        h.insert(
            "r.ip6.arpa".into(),
            "renzo.hash.local".into(),
            t + Duration::from_secs(600),
            t,
        );
        assert_eq!(
            h.get("r.ip6.arpa", t + Duration::from_secs(1)),
            Some(("renzo.hash.local", 599))
        );
        assert_eq!(h.get("r.ip6.arpa", t + Duration::from_secs(600)), None);
        assert_eq!(h.get("other.ip6.arpa", t), None);
        h.insert(
            "s.ip6.arpa".into(),
            "x".into(),
            t + Duration::from_secs(700),
            t + Duration::from_secs(650),
        );
        assert_eq!(h.len(), 1, "the expired one was dropped");
    }
}
