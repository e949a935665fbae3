//! The receive queue of an in-process hub member: a ring of reusable frame buffers behind one
//! mutex, with an eventfd that is readable exactly while the ring holds a frame.
//!
//! Memory: the ring starts empty and doubles (4, 8, ... up to the limit, 256 by default) only
//! when it fills; a slot keeps its buffer for reuse, sized 128 bytes for small frames or the
//! full 1518 once a larger frame passed. An idle member costs a few hundred bytes, so ten
//! thousand members fit easily; a busy one holds at most `limit` × 1518 bytes.
//!
//! Readiness: the eventfd is written only when the ring goes from empty to non-empty and
//! read only when a receive empties it, both under the ring's lock, so the fd's readability
//! always equals "a frame is queued" and no wakeup is lost or spurious.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;

use crate::eth::MAX_FRAME_LEN;
use crate::sys;

/// Default ring capacity (frames) of a member queue.
pub const DEFAULT_QUEUE_LEN: usize = 256;

struct Ring {
    slots: Vec<Vec<u8>>,
    head: usize,
    len: usize,
    signalled: bool,
}

/// A bounded frame queue with an eventfd tracking non-emptiness.
pub(crate) struct LocalQueue {
    ring: Mutex<Ring>,
    efd: OwnedFd,
    limit: usize,
}

impl LocalQueue {
    /// An empty queue holding at most `limit` frames.
    pub(crate) fn new(limit: usize) -> io::Result<LocalQueue> {
        Ok(LocalQueue {
            ring: Mutex::new(Ring {
                slots: Vec::new(),
                head: 0,
                len: 0,
                signalled: false,
            }),
            efd: sys::eventfd()?,
            limit: limit.max(1),
        })
    }

    /// The eventfd readable while a frame is queued.
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.efd
    }

    /// Queues a copy of `frame`; false (dropped) when the queue is full.
    pub(crate) fn push(&self, frame: &[u8]) -> bool {
        let mut r = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if r.len == r.slots.len() {
            let n = r.slots.len();
            if n >= self.limit {
                return false;
            }
            let head = r.head;
            r.slots.rotate_left(head);
            r.head = 0;
            let grown = (n * 2).clamp(4, self.limit);
            r.slots.resize_with(grown, Vec::new);
        }
        let idx = (r.head + r.len) % r.slots.len();
        let slot = &mut r.slots[idx];
        slot.clear();
        if slot.capacity() < frame.len() {
            slot.reserve_exact(if frame.len() <= 128 {
                128
            } else {
                MAX_FRAME_LEN.max(frame.len())
            });
        }
        slot.extend_from_slice(frame);
        r.len += 1;
        if !r.signalled {
            r.signalled = true;
            sys::eventfd_signal(self.efd.as_raw_fd());
        }
        true
    }

    /// Moves up to `slots.len()` frames out (each truncated to its slot); returns how many.
    pub(crate) fn pop_batch(&self, slots: &mut [&mut [u8]], lens: &mut [usize]) -> usize {
        let mut r = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        let max = slots.len().min(lens.len());
        while n < max && r.len > 0 {
            let head = r.head;
            let frame = &r.slots[head];
            let k = frame.len().min(slots[n].len());
            slots[n][..k].copy_from_slice(&frame[..k]);
            lens[n] = k;
            r.head = (head + 1) % r.slots.len();
            r.len -= 1;
            n += 1;
        }
        if r.len == 0 && r.signalled {
            sys::eventfd_clear(self.efd.as_raw_fd());
            r.signalled = false;
        }
        n
    }

    /// Frames currently queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ring.lock().unwrap_or_else(|e| e.into_inner()).len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(q: &LocalQueue) -> bool {
        sys::poll_in(q.fd().as_raw_fd(), 0).unwrap()
    }

    #[test]
    fn fd_readable_exactly_while_nonempty() {
        let q = LocalQueue::new(8).unwrap();
        assert!(!readable(&q));
        assert!(q.push(&[1; 60]));
        assert!(q.push(&[2; 1514]));
        assert!(readable(&q));
        let mut a = [0u8; 1518];
        let mut lens = [0usize; 1];
        assert_eq!(q.pop_batch(&mut [&mut a[..]], &mut lens), 1);
        assert_eq!(lens[0], 60);
        assert!(readable(&q), "one frame still queued");
        assert_eq!(q.pop_batch(&mut [&mut a[..]], &mut lens), 1);
        assert_eq!((lens[0], a[0]), (1514, 2));
        assert!(!readable(&q));
        assert_eq!(q.pop_batch(&mut [&mut a[..]], &mut lens), 0);
    }

    #[test]
    fn full_queue_drops_and_order_survives_growth() {
        let q = LocalQueue::new(5).unwrap();
        let mut a = [0u8; 64];
        let mut lens = [0usize; 1];
        // Wrap the ring before it grows so growth must keep order.
        for i in 0..3u8 {
            assert!(q.push(&[i; 20]));
        }
        assert_eq!(q.pop_batch(&mut [&mut a[..]], &mut lens), 1);
        for i in 3..6u8 {
            assert!(q.push(&[i; 20]), "frame {i}");
        }
        assert!(!q.push(&[99; 20]), "limit reached");
        assert_eq!(q.len(), 5);
        for want in 1..6u8 {
            assert_eq!(q.pop_batch(&mut [&mut a[..]], &mut lens), 1);
            assert_eq!(a[0], want);
        }
    }
}
