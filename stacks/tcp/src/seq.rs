//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 3.4).
//!
//! `a.lt(b)` holds when `b` is ahead of `a` by less than 2^31; every comparison in the engine
//! goes through these methods, never through the raw `u32`.

use std::fmt;

/// A sequence number (or acknowledgement number), compared modulo 2^32.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

// `add`/`sub` take byte counts, not sequence numbers: not the `Add`/`Sub` traits' meaning.
#[allow(clippy::should_implement_trait)]
impl Seq {
    /// The number `n` bytes ahead (wrapping).
    #[inline]
    pub fn add(self, n: usize) -> Seq {
        Seq(self.0.wrapping_add(n as u32))
    }

    /// The number `n` bytes behind (wrapping).
    #[inline]
    pub fn sub(self, n: usize) -> Seq {
        Seq(self.0.wrapping_sub(n as u32))
    }

    /// How far `self` is ahead of `earlier` (negative when behind).
    #[inline]
    pub fn delta(self, earlier: Seq) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }

    /// Bytes from `earlier` to `self`; 0 when `self` is not ahead of `earlier`.
    #[inline]
    pub fn since(self, earlier: Seq) -> usize {
        let d = self.delta(earlier);
        if d > 0 { d as usize } else { 0 }
    }

    /// `self` < `other` modulo 2^32.
    #[inline]
    pub fn lt(self, other: Seq) -> bool {
        self.delta(other) < 0
    }

    /// `self` <= `other` modulo 2^32.
    #[inline]
    pub fn le(self, other: Seq) -> bool {
        self.delta(other) <= 0
    }

    /// `self` > `other` modulo 2^32.
    #[inline]
    pub fn gt(self, other: Seq) -> bool {
        self.delta(other) > 0
    }

    /// `self` >= `other` modulo 2^32.
    #[inline]
    pub fn ge(self, other: Seq) -> bool {
        self.delta(other) >= 0
    }

    /// The later of the two.
    #[inline]
    pub fn max(self, other: Seq) -> Seq {
        if self.ge(other) { self } else { other }
    }

    /// The earlier of the two.
    #[inline]
    pub fn min(self, other: Seq) -> Seq {
        if self.le(other) { self } else { other }
    }

    /// Whether `lo <= self < hi`.
    #[inline]
    pub fn in_range(self, lo: Seq, hi: Seq) -> bool {
        self.ge(lo) && self.lt(hi)
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps_around() {
        let a = Seq(u32::MAX - 1);
        let b = a.add(4);
        assert_eq!(b, Seq(2));
        assert!(a.lt(b) && b.gt(a));
        assert_eq!(b.since(a), 4);
        assert_eq!(a.since(b), 0);
        assert_eq!(b.sub(4), a);
        assert!(Seq(1).in_range(a, b));
        assert!(!b.in_range(a, b));
    }

    proptest! {
        #[test]
        fn ordering_is_consistent(x: u32, n in 1u32..0x7fff_ffff) {
            let a = Seq(x);
            let b = a.add(n as usize);
            prop_assert!(a.lt(b));
            prop_assert!(b.gt(a));
            prop_assert!(!b.le(a));
            prop_assert_eq!(b.since(a), n as usize);
            prop_assert_eq!(a.max(b), b);
            prop_assert_eq!(a.min(b), a);
        }
    }
}
