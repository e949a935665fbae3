//! A small answer cache: entries live as long as their TTL says and no longer, and the cache
//! never holds more than its capacity. Time is passed in, so the cache is tested without
//! waiting.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// TTLs above this are cut to it (a week, as many resolvers do).
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// A bounded map whose entries expire.
#[derive(Debug)]
pub struct Cache<K, V> {
    capacity: usize,
    entries: HashMap<K, (V, Instant)>,
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    /// An empty cache of at most `capacity` entries (0: nothing is ever kept).
    pub fn new(capacity: usize) -> Self {
        Cache {
            capacity,
            entries: HashMap::new(),
        }
    }

    /// The value for `key` with the time it has left, if it has not expired at `now`.
    pub fn get(&mut self, key: &K, now: Instant) -> Option<(V, Duration)> {
        let (value, expires) = self.entries.get(key)?;
        if *expires <= now {
            self.entries.remove(key);
            return None;
        }
        Some((value.clone(), *expires - now))
    }

    /// Keeps `value` for `ttl` from `now` (a zero TTL keeps nothing and forgets what was kept). When full, expired
    /// entries go first, then the one closest to expiry.
    pub fn insert(&mut self, key: K, value: V, ttl: Duration, now: Instant) {
        if self.capacity == 0 || ttl.is_zero() {
            self.entries.remove(&key);
            return;
        }
        let expires = now + ttl.min(MAX_TTL);
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.entries.retain(|_, (_, e)| *e > now);
            if self.entries.len() >= self.capacity {
                let soonest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, e))| *e)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    self.entries.remove(&k);
                }
            }
        }
        self.entries.insert(key, (value, expires));
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Entries held (expired ones included until they are noticed).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entries_expire_with_their_ttl() {
        let t0 = Instant::now();
        let mut c = Cache::new(4);
        c.insert("a", 1, Duration::from_secs(10), t0);
        assert_eq!(
            c.get(&"a", t0 + Duration::from_secs(4)),
            Some((1, Duration::from_secs(6)))
        );
        assert_eq!(c.get(&"a", t0 + Duration::from_secs(10)), None);
        c.insert("z", 1, Duration::ZERO, t0);
        assert!(c.get(&"z", t0).is_none(), "a zero TTL is not kept");
    }

    #[test]
    fn a_full_cache_drops_the_soonest_to_expire() {
        let t0 = Instant::now();
        let mut c = Cache::new(2);
        c.insert("long", 1, Duration::from_secs(100), t0);
        c.insert("short", 2, Duration::from_secs(5), t0);
        c.insert("new", 3, Duration::from_secs(50), t0);
        assert_eq!(c.len(), 2);
        assert!(c.get(&"short", t0).is_none());
        assert!(c.get(&"long", t0).is_some() && c.get(&"new", t0).is_some());
        assert!(Cache::<u8, u8>::new(0).is_empty());
    }

    proptest! {
        #[test]
        fn never_over_capacity(ops in proptest::collection::vec((0u8..40, 0u64..100, 0u64..200), 0..200)) {
            let t0 = Instant::now();
            let mut c = Cache::new(16);
            for (k, ttl, at) in ops {
                let now = t0 + Duration::from_secs(at);
                c.insert(k, (), Duration::from_secs(ttl), now);
                prop_assert!(c.len() <= 16);
                if let Some((_, left)) = c.get(&k, now) {
                    prop_assert!(left <= Duration::from_secs(ttl));
                }
            }
        }
    }
}
