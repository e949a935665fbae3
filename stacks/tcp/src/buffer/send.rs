//! The send buffer: the bytes from `snd_una` (offset 0) to the last byte the application
//! wrote, sent or not. The connection maps offset `o` to sequence number `snd_una + o`
//! (RFC 9293 section 3.3.1, the send sequence space) and calls [`SendBuffer::consume`] as
//! acknowledgements move `snd_una` (section 3.10.7.4, "fifth, check the ACK field").

use super::{MAX_CAPACITY, Ring};

/// The bytes from `snd_una` to the last byte written, in a ring of fixed capacity whose
/// storage grows lazily.
///
/// Invariants: `len <= storage size`; `len <= capacity()`; the bytes at offsets
/// `[0, len)` are exactly those written and not yet consumed, in order.
#[derive(Debug)]
pub struct SendBuffer {
    ring: Ring,
    len: usize,
    /// The capacity asked for; the effective one is never below `len`.
    target: usize,
}

impl SendBuffer {
    /// An empty buffer of `capacity` bytes (at most [`MAX_CAPACITY`]); allocates nothing.
    pub fn new(capacity: usize) -> Self {
        SendBuffer {
            ring: Ring::default(),
            len: 0,
            target: capacity.min(MAX_CAPACITY),
        }
    }

    /// The capacity: the one last set, or `len()` if more than that is still held.
    pub fn capacity(&self) -> usize {
        self.target.max(self.len)
    }

    /// Sets the capacity (clipped to [`MAX_CAPACITY`]). Nothing held is lost: below `len()`
    /// it takes effect as data is consumed, and `free()` stays 0 until then.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.target = capacity.min(MAX_CAPACITY);
    }

    /// Bytes held (sent and unacknowledged, or not yet sent).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room for the application to write.
    pub fn free(&self) -> usize {
        self.capacity() - self.len
    }

    /// Bytes of storage allocated (at most the capacity, unless the capacity was lowered
    /// while the storage was larger).
    pub fn storage(&self) -> usize {
        self.ring.size()
    }

    /// Appends up to `free()` bytes of `data`; returns how many were taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if n == 0 {
            return 0;
        }
        self.ring.grow(self.len + n, self.capacity());
        let n = self.ring.write_at(self.len, data.get(..n).unwrap_or(&[]));
        self.len += n;
        n
    }

    /// The bytes `[offset, offset + len)` counted from the head, clipped to `len()`, as at
    /// most two slices (the second is non-empty only when the ring wraps).
    pub fn slices(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        if offset >= self.len {
            return (&[], &[]);
        }
        self.ring.slices(offset, len.min(self.len - offset))
    }

    /// Drops `n` bytes from the head (they were acknowledged); `n` is clipped to `len()`.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.ring.advance(n);
        self.len -= n;
        if self.len == 0 {
            // Empty: restart at the beginning so the next writes do not wrap.
            self.ring.head = 0;
        }
    }

    /// Gives the storage back if nothing is held (the next write allocates again).
    pub fn shrink(&mut self) {
        if self.len == 0 {
            self.ring.release();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::MIN_STORAGE;
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    fn contents(b: &SendBuffer, offset: usize, len: usize) -> Vec<u8> {
        let (x, y) = b.slices(offset, len);
        [x, y].concat()
    }

    #[test]
    fn write_is_limited_by_capacity() {
        let mut b = SendBuffer::new(10);
        assert!(b.is_empty());
        assert_eq!(b.write(b"hello"), 5);
        assert_eq!(b.write(b"worldwide"), 5);
        assert_eq!(b.len(), 10);
        assert_eq!(b.free(), 0);
        assert_eq!(b.write(b"x"), 0);
        assert_eq!(contents(&b, 0, 100), b"helloworld");
        assert_eq!(contents(&b, 3, 4), b"lowo");
        assert_eq!(contents(&b, 10, 1), b"");
    }

    #[test]
    fn consume_frees_room_and_the_ring_wraps() {
        let mut b = SendBuffer::new(8);
        b.write(b"abcdefgh");
        b.consume(6);
        assert_eq!(b.free(), 6);
        assert_eq!(b.write(b"123456"), 6);
        let (x, y) = b.slices(0, 8);
        assert_eq!((x, y), (&b"gh"[..], &b"123456"[..]));
        assert_eq!(contents(&b, 1, 3), b"h12");
        b.consume(100);
        assert!(b.is_empty());
        assert_eq!(b.slices(0, 1), (&b""[..], &b""[..]));
    }

    #[test]
    fn storage_grows_lazily_and_shrink_releases_it() {
        let mut b = SendBuffer::new(1 << 20);
        assert_eq!(b.storage(), 0);
        b.write(&[7; 100]);
        assert_eq!(b.storage(), MIN_STORAGE);
        b.write(&vec![8; MIN_STORAGE]);
        assert_eq!(b.storage(), 2 * MIN_STORAGE);
        b.write(&vec![9; 10 * MIN_STORAGE]);
        assert_eq!(b.storage(), 16 * MIN_STORAGE);
        assert_eq!(contents(&b, 99, 2), [7, 8]);
        b.shrink(); // not empty: kept
        assert_eq!(b.storage(), 16 * MIN_STORAGE);
        b.consume(b.len());
        b.shrink();
        assert_eq!(b.storage(), 0);
        // A small buffer never allocates more than its capacity.
        let mut s = SendBuffer::new(100);
        s.write(&[1; 300]);
        assert_eq!(s.storage(), 100);
    }

    #[test]
    fn lowering_the_capacity_keeps_the_data() {
        let mut b = SendBuffer::new(100);
        b.write(&[1; 80]);
        b.set_capacity(50);
        assert_eq!(b.capacity(), 80);
        assert_eq!(b.free(), 0);
        assert_eq!(b.write(b"x"), 0);
        b.consume(40);
        assert_eq!(b.capacity(), 50);
        assert_eq!(b.free(), 10);
        assert_eq!(contents(&b, 0, 100), vec![1; 40]);
        b.set_capacity(usize::MAX);
        assert_eq!(b.capacity(), MAX_CAPACITY);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Write(usize, u8),
        Consume(usize),
        Slices(usize, usize),
        SetCapacity(usize),
        Shrink,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0usize..3000, any::<u8>()).prop_map(|(n, b)| Op::Write(n, b)),
            3 => (0usize..3000).prop_map(Op::Consume),
            3 => (0usize..6000, 0usize..6000).prop_map(|(o, l)| Op::Slices(o, l)),
            1 => (0usize..8000).prop_map(Op::SetCapacity),
            1 => Just(Op::Shrink),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_bounded_deque(cap in 0usize..8000, ops in proptest::collection::vec(op(), 1..80)) {
            let mut b = SendBuffer::new(cap);
            let mut model: VecDeque<u8> = VecDeque::new();
            let mut target = cap;
            let mut max_cap = cap;
            let mut next = 0u8;
            for op in ops {
                match op {
                    Op::Write(n, salt) => {
                        let data: Vec<u8> = (0..n).map(|i| next.wrapping_add(i as u8) ^ salt).collect();
                        let room = target.max(model.len()) - model.len();
                        let taken = b.write(&data);
                        prop_assert_eq!(taken, n.min(room));
                        model.extend(&data[..taken]);
                        next = next.wrapping_add(taken as u8);
                    }
                    Op::Consume(n) => {
                        b.consume(n);
                        model.drain(..n.min(model.len()));
                    }
                    Op::Slices(o, l) => {
                        let (x, y) = b.slices(o, l);
                        prop_assert!(y.is_empty() || !x.is_empty());
                        let want: Vec<u8> = model.iter().skip(o).take(l).copied().collect();
                        prop_assert_eq!([x, y].concat(), want);
                    }
                    Op::SetCapacity(c) => {
                        b.set_capacity(c);
                        target = c;
                        max_cap = max_cap.max(c);
                    }
                    Op::Shrink => {
                        b.shrink();
                        if model.is_empty() {
                            prop_assert_eq!(b.storage(), 0);
                        }
                    }
                }
                prop_assert_eq!(b.len(), model.len());
                prop_assert_eq!(b.capacity(), target.max(model.len()));
                prop_assert_eq!(b.free(), b.capacity() - model.len());
                prop_assert!(b.storage() >= model.len());
                // Storage never exceeds the largest capacity this buffer had.
                prop_assert!(b.storage() <= max_cap);
                prop_assert_eq!(contents(&b, 0, usize::MAX), model.iter().copied().collect::<Vec<_>>());
            }
        }
    }
}
