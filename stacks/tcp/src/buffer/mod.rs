//! The send buffer and the receive buffer (with reassembly and SACK blocks): the only place
//! where the engine holds payload bytes.
//!
//! Both buffers are rings with a fixed *capacity* (what `SO_SNDBUF` / `SO_RCVBUF` set) whose
//! *storage* is allocated lazily: nothing until the first byte arrives, then
//! [`MIN_STORAGE`] bytes (or the capacity, if smaller), doubling as more is needed, never
//! beyond the capacity. `shrink()` gives the storage back when a buffer is empty, so a
//! thousand idle connections cost a thousand empty `Vec`s. Once the storage has grown, no
//! operation allocates.
//!
//! Guarantees common to both buffers:
//! - no input (sequence number, length, offset, capacity) makes them panic;
//! - a capacity change never loses or moves data: the capacity is never below what is held
//!   (a smaller capacity takes effect as data leaves the buffer);
//! - the capacity is at most [`MAX_CAPACITY`], the largest window TCP can advertise
//!   (RFC 7323 section 2.3: a shift of at most 14 gives a window below 2^30), which also keeps
//!   every sequence number held in the receive buffer within 2^31 of `rcv_nxt`, as the
//!   modular comparisons of RFC 9293 section 3.4 require.
//!
//! [`SendBuffer`] holds the bytes from `snd_una` to the last byte the application wrote;
//! [`RecvBuffer`] holds the bytes the application has not read, then the out-of-order ranges
//! above `rcv_nxt` (RFC 9293 section 3.10.7.4, "seventh, process the segment text"), and
//! reports them as SACK blocks (RFC 2018 section 4) and duplicates as D-SACK blocks
//! (RFC 2883 section 4).

mod recv;
mod send;

pub use recv::{Insert, MAX_RANGES, RecvBuffer};
pub use send::SendBuffer;

/// The largest capacity either buffer accepts (1 GiB): larger requests are clipped to it.
pub const MAX_CAPACITY: usize = 1 << 30;

/// The storage first allocated for a buffer (or its capacity, if smaller).
pub const MIN_STORAGE: usize = 2048;

/// Ring storage shared by both buffers: logical offsets from the head map onto `buf`,
/// wrapping at its end.
///
/// Invariants: `head < buf.len()`, or `head == 0` when `buf` is empty. The ring itself does
/// not know how many bytes are valid; its owner does and never asks for offsets beyond
/// `buf.len()` (out-of-range requests are clipped, never a panic).
#[derive(Debug, Default)]
struct Ring {
    buf: Vec<u8>,
    head: usize,
}

impl Ring {
    /// Bytes of storage allocated.
    fn size(&self) -> usize {
        self.buf.len()
    }

    /// The index in `buf` of logical offset `off` (`off` is reduced modulo the size).
    fn phys(&self, off: usize) -> usize {
        let n = self.buf.len();
        if n == 0 {
            0
        } else {
            // head < n and off % n < n: the sum cannot overflow.
            (self.head + off % n) % n
        }
    }

    /// The logical range `[off, off + len)` as at most two slices, clipped to the storage.
    fn slices(&self, off: usize, len: usize) -> (&[u8], &[u8]) {
        let n = self.buf.len();
        if off >= n {
            return (&[], &[]);
        }
        let len = len.min(n - off);
        let p = self.phys(off);
        let first = len.min(n - p);
        let a = self.buf.get(p..p + first).unwrap_or(&[]);
        let b = self.buf.get(..len - first).unwrap_or(&[]);
        (a, b)
    }

    /// Copies `data` to logical offset `off` (clipped to the storage); returns bytes copied.
    fn write_at(&mut self, off: usize, data: &[u8]) -> usize {
        let n = self.buf.len();
        if off >= n {
            return 0;
        }
        let len = data.len().min(n - off);
        let p = self.phys(off);
        let first = len.min(n - p);
        let (low, high) = self.buf.split_at_mut(p);
        copy(high.get_mut(..first), data.get(..first));
        copy(low.get_mut(..len - first), data.get(first..len));
        len
    }

    /// Copies logical bytes from offset `off` into `out` (clipped); returns bytes copied.
    fn read_at(&self, off: usize, out: &mut [u8]) -> usize {
        let (a, b) = self.slices(off, out.len());
        copy(out.get_mut(..a.len()), Some(a));
        copy(out.get_mut(a.len()..a.len() + b.len()), Some(b));
        a.len() + b.len()
    }

    /// Moves the head `n` bytes forward (logical offset `n` becomes offset 0).
    fn advance(&mut self, n: usize) {
        self.head = self.phys(n);
    }

    /// Makes the storage at least `needed` bytes, doubling from [`MIN_STORAGE`] and never
    /// beyond `max(limit, needed)`. Logical offsets keep their bytes (the ring is unwrapped
    /// into the new storage, head at 0).
    fn grow(&mut self, needed: usize, limit: usize) {
        let old = self.buf.len();
        if needed <= old {
            return;
        }
        let mut size = old.max(MIN_STORAGE);
        while size < needed {
            size = size.saturating_mul(2);
        }
        let size = size.min(limit.max(needed));
        let mut buf = vec![0; size];
        let (a, b) = self.slices(0, old);
        copy(buf.get_mut(..a.len()), Some(a));
        copy(buf.get_mut(a.len()..a.len() + b.len()), Some(b));
        self.buf = buf;
        self.head = 0;
    }

    /// Gives the storage back.
    fn release(&mut self) {
        self.buf = Vec::new();
        self.head = 0;
    }
}

/// Copies between two slices of the same length (a no-op if either is missing or they
/// differ, which the callers' arithmetic rules out).
fn copy(dst: Option<&mut [u8]>, src: Option<&[u8]>) {
    if let (Some(dst), Some(src)) = (dst, src)
        && dst.len() == src.len()
    {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_of(size: usize, head: usize) -> Ring {
        let mut r = Ring::default();
        r.grow(size, size);
        r.head = head;
        r
    }

    #[test]
    fn ring_wraps_at_the_end_of_storage() {
        let mut r = ring_of(8, 6);
        assert_eq!(r.write_at(0, b"abcd"), 4);
        assert_eq!(r.slices(0, 4), (&b"ab"[..], &b"cd"[..]));
        assert_eq!(r.buf, b"cd\0\0\0\0ab");
        let mut out = [0; 3];
        assert_eq!(r.read_at(1, &mut out), 3);
        assert_eq!(&out, b"bcd");
        r.advance(3);
        assert_eq!(r.head, 1);
        assert_eq!(r.slices(0, 1), (&b"d"[..], &b""[..]));
    }

    #[test]
    fn ring_clips_out_of_range_requests() {
        let mut r = ring_of(8, 5);
        assert_eq!(r.write_at(6, b"xyzw"), 2);
        assert_eq!(r.write_at(8, b"x"), 0);
        assert_eq!(r.slices(6, 100), (&b"xy"[..], &b""[..]));
        assert_eq!(r.slices(9, 1), (&b""[..], &b""[..]));
        let empty = Ring::default();
        assert_eq!(empty.slices(0, 10), (&b""[..], &b""[..]));
    }

    #[test]
    fn ring_growth_doubles_and_keeps_offsets() {
        let mut r = ring_of(MIN_STORAGE, MIN_STORAGE - 2);
        r.write_at(0, b"wxyz");
        r.grow(MIN_STORAGE + 1, 1 << 20);
        assert_eq!(r.size(), 2 * MIN_STORAGE);
        assert_eq!(r.slices(0, 4), (&b"wxyz"[..], &b""[..]));
        // Capped at the limit, but never below what is needed.
        r.grow(5 * MIN_STORAGE, 5 * MIN_STORAGE);
        assert_eq!(r.size(), 5 * MIN_STORAGE);
        r.grow(6 * MIN_STORAGE, 0);
        assert_eq!(r.size(), 6 * MIN_STORAGE);
        assert_eq!(r.slices(0, 4), (&b"wxyz"[..], &b""[..]));
        r.release();
        assert_eq!(r.size(), 0);
    }
}
