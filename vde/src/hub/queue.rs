//! The receive queue of an in-process hub member: senders append to a "fill" list under a
//! short lock (one memcpy); the receiver swaps the whole list out in O(1) and copies frames
//! out with no lock shared with senders, so a busy sender cannot starve the receiver.
//!
//! Memory: both lists start empty and grow one reusable buffer at a time up to the limit
//! (256 frames by default); a buffer is sized 128 bytes for small frames or the full 1518
//! once a larger frame used it, and is reused forever after. An idle member costs a few
//! hundred bytes, so ten thousand members fit easily; a busy one holds at most 2 × limit ×
//! 1518 bytes (fill list + list being drained). Steady traffic allocates nothing.
//!
//! Readiness: the eventfd is written only when the queue goes from empty to non-empty and
//! read only when a receive leaves it empty, both under the fill lock, so the fd is readable
//! exactly while a frame is waiting and no wakeup is lost or spurious.
//!
//! A receiver may install a [`Doorbell`]: while the eventfd is not signalled, each arriving
//! frame rings it first, and only when it declines (returns false) is the eventfd written.
//! A receiver that takes the ring promises to receive until the queue is empty, or to call
//! [`LocalQueue::wake`] when it stops earlier; no thread is then woken for the frame.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

use crate::eth::MAX_FRAME_LEN;
use crate::slots::Slots;
use crate::sys;

/// Default limit (frames) of the list senders fill for a member.
pub const DEFAULT_QUEUE_LEN: usize = 256;

/// Frames appended by senders.
struct Fill {
    frames: Vec<Vec<u8>>,
    count: usize,
    signalled: bool,
}

/// Frames the receiver took over and is handing out.
struct Drain {
    frames: Vec<Vec<u8>>,
    count: usize,
    pos: usize,
}

/// What a receiver is told, on the sending thread, when a frame arrives for it: the frame's
/// length and how many frames the queue's fill list holds with it (see
/// [`crate::Link::set_doorbell`]).
pub type Doorbell = Box<dyn Fn(usize, usize) -> bool + Send + Sync>;

/// A bounded frame queue with an eventfd tracking non-emptiness.
pub(crate) struct LocalQueue {
    fill: Mutex<Fill>,
    drain: Mutex<Drain>,
    /// Mirror of `fill.count`, so senders facing a full queue drop without locking.
    filled: AtomicUsize,
    efd: OwnedFd,
    limit: usize,
    doorbell: OnceLock<Doorbell>,
}

impl LocalQueue {
    /// An empty queue whose fill list holds at most `limit` frames.
    pub(crate) fn new(limit: usize) -> io::Result<LocalQueue> {
        Ok(LocalQueue {
            fill: Mutex::new(Fill {
                frames: Vec::new(),
                count: 0,
                signalled: false,
            }),
            drain: Mutex::new(Drain {
                frames: Vec::new(),
                count: 0,
                pos: 0,
            }),
            filled: AtomicUsize::new(0),
            efd: sys::eventfd()?,
            limit: limit.max(1),
            doorbell: OnceLock::new(),
        })
    }

    /// Installs the receiver's doorbell (once: false if one is already installed). It is
    /// called with the queue's fill lock held, so it must not touch this queue or its hub.
    pub(crate) fn set_doorbell(&self, bell: Doorbell) -> bool {
        self.doorbell.set(bell).is_ok()
    }

    /// Signals the eventfd if a frame is waiting and it is not signalled yet: for a
    /// receiver that took a ring and stops receiving before the queue is empty.
    pub(crate) fn wake(&self) {
        let d = self.drain.lock().unwrap_or_else(|e| e.into_inner());
        let mut f = self.fill.lock().unwrap_or_else(|e| e.into_inner());
        if (f.count > 0 || d.pos < d.count) && !f.signalled {
            f.signalled = true;
            sys::eventfd_signal(self.efd.as_raw_fd());
        }
    }

    /// The eventfd readable while a frame is queued.
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.efd
    }

    /// Queues a copy of `frame`; false (dropped) when the fill list is full.
    pub(crate) fn push(&self, frame: &[u8]) -> bool {
        if self.filled.load(Relaxed) >= self.limit {
            return false;
        }
        let mut f = self.fill.lock().unwrap_or_else(|e| e.into_inner());
        if f.count >= self.limit {
            return false;
        }
        if f.count == f.frames.len() {
            f.frames.push(Vec::new());
        }
        let idx = f.count;
        let slot = &mut f.frames[idx];
        slot.clear();
        if slot.capacity() < frame.len() {
            slot.reserve_exact(if frame.len() <= 128 {
                128
            } else {
                MAX_FRAME_LEN.max(frame.len())
            });
        }
        slot.extend_from_slice(frame);
        f.count += 1;
        self.filled.store(f.count, Relaxed);
        if !f.signalled
            && !self
                .doorbell
                .get()
                .is_some_and(|ring| ring(frame.len(), f.count))
        {
            f.signalled = true;
            sys::eventfd_signal(self.efd.as_raw_fd());
        }
        true
    }

    /// Moves up to `slots.len()` frames out (each truncated to its slot); returns how many.
    pub(crate) fn pop_batch(&self, slots: &mut Slots<'_>) -> usize {
        let mut d = self.drain.lock().unwrap_or_else(|e| e.into_inner());
        if d.pos == d.count {
            let mut f = self.fill.lock().unwrap_or_else(|e| e.into_inner());
            if f.count == 0 {
                if f.signalled {
                    sys::eventfd_clear(self.efd.as_raw_fd());
                    f.signalled = false;
                }
                return 0;
            }
            let d = &mut *d;
            std::mem::swap(&mut f.frames, &mut d.frames);
            d.count = f.count;
            d.pos = 0;
            f.count = 0;
            self.filled.store(0, Relaxed);
        }
        let mut n = 0;
        let max = slots.len();
        while n < max && d.pos < d.count {
            let frame = &d.frames[d.pos];
            let (slot, len) = slots.slot_and_len(n);
            let k = frame.len().min(slot.len());
            slot[..k].copy_from_slice(&frame[..k]);
            *len = k;
            d.pos += 1;
            n += 1;
        }
        if d.pos == d.count {
            let mut f = self.fill.lock().unwrap_or_else(|e| e.into_inner());
            if f.count == 0 && f.signalled {
                sys::eventfd_clear(self.efd.as_raw_fd());
                f.signalled = false;
            }
        }
        n
    }

    /// Frames currently queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let d = self.drain.lock().unwrap_or_else(|e| e.into_inner());
        let f = self.fill.lock().unwrap_or_else(|e| e.into_inner());
        f.count + d.count - d.pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pops at most one frame into `a`.
    fn pop_one(q: &LocalQueue, a: &mut [u8], lens: &mut [usize]) -> usize {
        let slot = a.len();
        q.pop_batch(&mut Slots::new(a, slot, &mut lens[..1]))
    }

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
        assert_eq!(pop_one(&q, &mut a, &mut lens), 1);
        assert_eq!(lens[0], 60);
        assert!(readable(&q), "one frame still queued");
        assert_eq!(pop_one(&q, &mut a, &mut lens), 1);
        assert_eq!((lens[0], a[0]), (1514, 2));
        assert!(!readable(&q));
        assert_eq!(pop_one(&q, &mut a, &mut lens), 0);
    }

    #[test]
    fn full_queue_drops_and_order_survives_the_swap() {
        let q = LocalQueue::new(5).unwrap();
        let mut a = [0u8; 64];
        let mut lens = [0usize; 1];
        for i in 0..7u8 {
            assert_eq!(q.push(&[i; 20]), i < 5, "frame {i}");
        }
        assert_eq!(q.len(), 5);
        for want in 0..2u8 {
            assert_eq!(pop_one(&q, &mut a, &mut lens), 1);
            assert_eq!(a[0], want);
        }
        assert!(q.push(&[5; 20]));
        assert!(q.push(&[6; 20]));
        for want in 2..7u8 {
            assert!(readable(&q));
            assert_eq!(pop_one(&q, &mut a, &mut lens), 1);
            assert_eq!(a[0], want);
        }
        assert!(!readable(&q));
    }

    #[test]
    fn a_doorbell_that_takes_the_ring_keeps_the_fd_quiet_until_wake() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let q = LocalQueue::new(8).unwrap();
        let rings = Arc::new(AtomicUsize::new(0));
        let take = Arc::new(AtomicBool::new(true));
        let (r, t) = (rings.clone(), take.clone());
        assert!(q.set_doorbell(Box::new(move |len, queued| {
            assert_eq!(len, 60);
            assert_eq!(
                queued,
                r.fetch_add(1, Relaxed) + 1,
                "frames waiting, this one too"
            );
            t.load(Relaxed)
        })));
        assert!(!q.set_doorbell(Box::new(|_, _| true)), "only one doorbell");
        assert!(q.push(&[1; 60]));
        assert!(q.push(&[2; 60]));
        assert_eq!(
            rings.load(Relaxed),
            2,
            "every frame rings while the fd is quiet"
        );
        assert!(!readable(&q), "a taken ring wakes nobody");
        let mut a = [0u8; 64];
        let mut lens = [0usize; 1];
        assert_eq!(pop_one(&q, &mut a, &mut lens), 1);
        q.wake();
        assert!(readable(&q), "wake: a frame is still waiting");
        assert!(q.push(&[3; 60]));
        assert_eq!(rings.load(Relaxed), 2, "no ring while the fd is signalled");
        for _ in 0..2 {
            assert_eq!(pop_one(&q, &mut a, &mut lens), 1);
        }
        assert!(!readable(&q));
        q.wake();
        assert!(!readable(&q), "wake on an empty queue does nothing");
        rings.store(0, Relaxed);
        take.store(false, Relaxed);
        assert!(q.push(&[4; 60]));
        assert_eq!(rings.load(Relaxed), 1);
        assert!(readable(&q), "a declined ring signals the fd");
    }
}
