//! In-process delivery without waking a driver: frames a stack sends to another stack of
//! this process through an in-process hub are taken in by a thread that is there anyway,
//! instead of waking the receiver's driver thread (and then, through the socket's
//! descriptor, the application: two thread hand-offs per frame).
//!
//! Each stack has an [`Inbox`] whose doorbell is installed on its in-process hub links
//! (`vde::Link::set_doorbell`). The hub rings it, under the receiving queue's lock, for each
//! frame arriving while the link's descriptor is quiet. Full-size frames (bulk data, longer
//! than [`SMALL_FRAME`]) are declined, so that the receiver's driver works beside the sender
//! on another CPU. Otherwise the ring goes, in this order:
//! 1. to the application thread blocked on the receiving stack, if one registered
//!    ([`Inbox::register`]): its own eventfd wakes it alone and it runs the ingress itself;
//! 2. to the thread holding the stack's lock, if one does ([`Inbox::set_busy`]): it takes
//!    the frames in right after unlocking (`Shared::with`), as the kernel works off a
//!    socket's backlog when its owner releases it;
//! 3. to the ringing thread, if it is an application thread inside a stack call (see
//!    `in_call`) and at most [`INLINE_FRAMES`] wait: the receiving stack goes on that
//!    thread's work list (once: `Inbox::queued`), and when the thread leaves its outermost
//!    call, with no stack locked, it drives each stack of the list (ingress on every link,
//!    egress, timers), which may queue more, as the kernel's loopback runs the receiver's
//!    stack on the sender's CPU; after [`DRAIN_MAX`] drives the rest go to their drivers (a
//!    timer due now), so one call's extra work is bounded and a chain of stacks cannot
//!    recurse;
//! 4. else it is declined and the descriptor wakes the driver as before (rings on hub
//!    service threads, delay lines, raw `vde::Link` users, and on driver threads, which
//!    wake waiters and hand frames to lock holders but never take frames in themselves: that
//!    would only move work from one driver to another).
//!
//! Each application thread that ever blocks on a stack holds one eventfd for this.
//!
//! Invariants: `queued` is true only while the stack is on some thread's work list that will
//! drive it (or hand it to its driver); it is cleared just before the drive, so a frame
//! arriving during the drive queues the stack again. A waiter, once rung, drives the stack
//! after it unregisters, so a ring it took before unregistering is never lost. A lock holder
//! clears `busy` before unlocking and then takes `pending`, a ringer sets `pending` and then
//! looks at `busy` again (all sequentially consistent), so one of them sees the other.
//! Nothing here blocks while a stack is locked: a ring touches atomics, the waiter slot's
//! short lock and a thread-local list; the drives lock one stack at a time with no other
//! held.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::stack::Shared;

/// Most stacks one thread drives after a call before handing the rest to their drivers.
const DRAIN_MAX: usize = 256;

/// Most frames waiting in a queue for the sending thread to take them in itself: a longer
/// burst is left to the receiver's driver, which then works on another CPU while the
/// sender goes on producing, as a busy kernel hands receive work to ksoftirqd.
const INLINE_FRAMES: usize = 8;

/// Longest frame a ring is taken for: full-size frames (bulk data) wake the receiver's
/// driver, whose receive work then runs beside the sender's on another CPU.
const SMALL_FRAME: usize = 1024;

/// Frames a work-list drive receives per system call (they come from memory queues: a
/// small batch costs nothing, and every thread that sends on a hub holds one).
const DRAIN_BATCH: usize = 16;

/// The doorbell side of one stack.
pub(crate) struct Inbox {
    /// On some thread's work list (see the module's invariants).
    queued: AtomicBool,
    /// The stack, once it exists.
    stack: OnceLock<Weak<Shared>>,
    /// The application thread blocked on this stack that takes rings, if any.
    waiter: Mutex<Option<Waiter>>,
    /// The stack is locked (see [`Inbox::set_busy`]).
    busy: AtomicBool,
    /// Frames arrived while it was locked: its lock holder takes them in.
    pending: AtomicBool,
}

/// A registered waiter: its thread's eventfd, whether it was rung already (one wake is
/// enough: it drives everything queued when it wakes).
struct Waiter {
    fd: RawFd,
    rung: bool,
}

/// A waiter's registration; [`Inbox::unregister`] ends it.
pub(crate) struct Registration {
    fd: RawFd,
}

/// One thread's work list.
struct Ctx {
    /// Draining it (drives made then do not start a drain of their own).
    draining: bool,
    /// Stacks to drive when the outermost call ends.
    work: Vec<Arc<Shared>>,
}

thread_local! {
    static CTX: RefCell<Ctx> = const {
        RefCell::new(Ctx {
            draining: false,
            work: Vec::new(),
        })
    };
    /// This thread's eventfd for waiting on stacks (made on first use).
    static WAKE_FD: Option<OwnedFd> = new_eventfd();
    /// Set on driver threads, which never take rings (see [`mark_driver`]).
    static IS_DRIVER: Cell<bool> = const { Cell::new(false) };
    /// The receive batch of work-list drives (made on first use).
    static BATCH: RefCell<Option<vde::FrameBatch>> = const { RefCell::new(None) };
}

impl Inbox {
    /// An inbox for a stack not made yet ([`Inbox::bind`] gives it its stack).
    pub(crate) fn new() -> Arc<Inbox> {
        Arc::new(Inbox {
            queued: AtomicBool::new(false),
            stack: OnceLock::new(),
            waiter: Mutex::new(None),
            busy: AtomicBool::new(false),
            pending: AtomicBool::new(false),
        })
    }

    fn waiter(&self) -> std::sync::MutexGuard<'_, Option<Waiter>> {
        self.waiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers this thread, about to block on the stack, as the one rings wake; None when
    /// another thread is registered or this one has no eventfd. The descriptor to poll is
    /// [`Registration::fd`].
    pub(crate) fn register(&self) -> Option<Registration> {
        let fd = WAKE_FD
            .try_with(|f| f.as_ref().map(AsRawFd::as_raw_fd))
            .ok()??;
        let mut w = self.waiter();
        if w.is_some() {
            return None;
        }
        *w = Some(Waiter { fd, rung: false });
        Some(Registration { fd })
    }

    /// Ends a registration; true when a ring reached it, and the caller must then drive
    /// the stack (frames wait that nobody else was told of).
    pub(crate) fn unregister(&self, r: Registration) -> bool {
        let rung = {
            let mut w = self.waiter();
            match w.take() {
                Some(me) if me.fd == r.fd => me.rung,
                other => {
                    *w = other;
                    false
                }
            }
        };
        if rung {
            // The one wake-up written (under the slot's lock, so none can follow now).
            let mut v: u64 = 0;
            // SAFETY: reads 8 bytes from this thread's nonblocking eventfd into v.
            unsafe { libc::read(r.fd, (&mut v as *mut u64).cast(), 8) };
        }
        rung
    }

    /// Wakes the registered waiter; true when there is one.
    fn wake_waiter(&self) -> bool {
        let mut w = self.waiter();
        let Some(me) = w.as_mut() else {
            return false;
        };
        if !me.rung {
            me.rung = true;
            let one: u64 = 1;
            // SAFETY: writes 8 bytes to the waiter's eventfd, open while it is registered
            // (its thread unregisters before the descriptor can close).
            unsafe { libc::write(me.fd, (&one as *const u64).cast(), 8) };
        }
        true
    }

    /// Names the stack this inbox belongs to (rings before this are declined).
    pub(crate) fn bind(&self, stack: &Arc<Shared>) {
        let _ = self.stack.set(Arc::downgrade(stack));
    }

    /// The doorbell to install on the stack's in-process hub links.
    pub(crate) fn doorbell(self: &Arc<Self>) -> vde::Doorbell {
        let me = self.clone();
        Box::new(move |len, queued| me.ring(len, queued))
    }

    /// A frame arrived on one of the stack's links while its descriptor was quiet, with
    /// `queued` frames now waiting there: true if some thread will drive the stack (see the
    /// module docs for who), false to have the descriptor wake the driver.
    fn ring(&self, len: usize, queued: usize) -> bool {
        if len > SMALL_FRAME {
            return false;
        }
        if self.wake_waiter() {
            return true;
        }
        if self.busy.load(Ordering::SeqCst) {
            // Its lock holder takes the frames in once it unlocks (see `Inbox::clear_busy`):
            // pending, then busy checked again, against its busy cleared, then pending
            // taken, so that one of the two sees the other.
            self.pending.store(true, Ordering::SeqCst);
            if self.busy.load(Ordering::SeqCst) || !self.pending.swap(false, Ordering::SeqCst) {
                return true;
            }
        }
        queued <= INLINE_FRAMES && self.take_inline()
    }

    /// Its lock was just taken (see [`Shared::with`]).
    pub(crate) fn set_busy(&self) {
        self.busy.store(true, Ordering::SeqCst);
    }

    /// Its lock is about to be released; true when frames arrived meanwhile that the caller
    /// must take in once unlocked.
    pub(crate) fn clear_busy(&self) -> bool {
        self.busy.store(false, Ordering::SeqCst);
        self.pending.swap(false, Ordering::SeqCst)
    }

    /// Puts the stack on this thread's work list, if this is an application thread in a
    /// stack call.
    fn take_inline(&self) -> bool {
        if !crate::in_call::active() || IS_DRIVER.try_with(Cell::get).unwrap_or(true) {
            return false;
        }
        CTX.try_with(|c| {
            let Ok(mut c) = c.try_borrow_mut() else {
                return false;
            };
            if self.queued.swap(true, Ordering::AcqRel) {
                return true;
            }
            match self.stack.get().and_then(Weak::upgrade) {
                Some(stack) => {
                    c.work.push(stack);
                    true
                }
                None => {
                    self.queued.store(false, Ordering::Release);
                    false
                }
            }
        })
        .unwrap_or(false)
    }
}

/// A new nonblocking eventfd (None if the process is out of descriptors: its thread then
/// never registers as a waiter).
fn new_eventfd() -> Option<OwnedFd> {
    // SAFETY: eventfd with valid flags.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    // SAFETY: the descriptor was just created and is owned by nobody else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Registration {
    /// The descriptor that turns readable when a ring wakes this waiter.
    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }
}

/// Marks this thread as a driver thread: it never takes in itself the frames its drives send
/// to other stacks (steps 1 and 2 of the module docs still apply). A driver taking them in
/// would only move work from one driver to another, and would put a bulk transfer's two
/// directions on one thread.
pub(crate) fn mark_driver() {
    let _ = IS_DRIVER.try_with(|d| d.set(true));
}

/// Drives the stacks this thread's calls delivered frames to, unless it is already doing
/// so further up (called when the outermost stack call has unlocked its stack).
pub(crate) fn drain() {
    let start = CTX
        .try_with(|c| {
            let Ok(mut c) = c.try_borrow_mut() else {
                return false;
            };
            if c.draining || c.work.is_empty() {
                return false;
            }
            c.draining = true;
            true
        })
        .unwrap_or(false);
    if start {
        drain_work();
    }
}

/// Runs `f` with this thread's receive batch for drives it makes on others' behalf (a
/// fresh one when it is in use further up).
pub(crate) fn with_batch<R>(f: impl FnOnce(&mut vde::FrameBatch) -> R) -> R {
    let mut batch = BATCH
        .try_with(|b| b.borrow_mut().take())
        .ok()
        .flatten()
        .unwrap_or_else(|| vde::FrameBatch::new(DRAIN_BATCH));
    let r = f(&mut batch);
    let _ = BATCH.try_with(|b| *b.borrow_mut() = Some(batch));
    r
}

/// Drives the stacks on this thread's work list (see the module docs).
fn drain_work() {
    with_batch(drain_with);
    let _ = CTX.try_with(|c| c.borrow_mut().draining = false);
}

fn drain_with(batch: &mut vde::FrameBatch) {
    let mut driven = 0usize;
    loop {
        let next = CTX.try_with(|c| c.borrow_mut().work.pop()).ok().flatten();
        let Some(stack) = next else { break };
        stack.inbox().queued.store(false, Ordering::Release);
        if driven >= DRAIN_MAX {
            // Its driver takes over: a timer due now drives every link of the stack.
            stack.request(crate::driver::now_micros());
            continue;
        }
        driven += 1;
        let deadline = stack.drive(None, batch);
        stack.request(deadline);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::SocketAddr;
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;

    use ioth::Stack;

    use crate::driver::LINK_DRIVES;

    fn node(vnl: &str, engine: &str, ip: [u8; 4]) -> Stack {
        crate::stack::tests::node_named(&format!("smoltcp,tcp={engine}"), vnl, "vde0", ip)
    }

    /// Request/response between two stacks of the process: each frame is taken in by a
    /// thread that is there anyway (the sender after its call, or the receiver blocked on
    /// its stack), so the driver threads are almost never woken for a link. Without the
    /// doorbell they would be, for every frame (about four per exchange).
    #[test]
    fn request_response_does_not_wake_the_drivers() {
        for engine in ["ioth", "smoltcp"] {
            let hub = format!("hub://@inbox-rr-{engine}-{}", std::process::id());
            let a = node(&hub, engine, [10, 92, 0, 1]);
            let b = node(&hub, engine, [10, 92, 0, 2]);
            let addr = SocketAddr::from(([10, 92, 0, 1], 7100));
            let (mut c, server) = crate::stack::tests::echo_connection(&a, &b, addr);
            let mut buf = [7u8; 64];
            let exchanges = 2000;
            let before = LINK_DRIVES.load(Relaxed);
            for i in 0..exchanges {
                buf[0] = i as u8;
                c.write_all(&buf).expect("request");
                c.read_exact(&mut buf)
                    .expect("the reply comes (no frame is left waiting)");
                assert_eq!(buf[0], i as u8);
            }
            // Other tests of this binary run beside this one: their frames may wake drivers
            // too, hence a bound far below one drive per frame rather than zero.
            let drives = LINK_DRIVES.load(Relaxed) - before;
            assert!(
                drives < exchanges / 4,
                "tcp={engine}: {drives} link drives by driver threads for {exchanges} exchanges"
            );
            drop(c);
            server.join().expect("server thread");
        }
    }

    /// Many threads send to one stack at once from calls on three others, while its own
    /// reader blocks on it: every datagram is answered (none waits for a ring nobody took).
    #[test]
    fn concurrent_senders_lose_no_frame() {
        let hub = format!("hub://@inbox-many-{}", std::process::id());
        let server = node(&hub, "ioth", [10, 93, 0, 1]);
        let echo = server.udp_bind("10.93.0.1:7200").expect("bind");
        let echoer = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok((n, from)) = echo.recv_from(&mut buf) {
                if n == 1 {
                    break;
                }
                echo.send_to(&buf[..n], from).expect("echo");
            }
        });
        let stacks: Vec<Stack> = (0..3u8)
            .map(|i| node(&hub, "ioth", [10, 93, 0, 10 + i]))
            .collect();
        let clients: Vec<_> = (0..6u8)
            .map(|i| {
                let stack = stacks[usize::from(i / 2)].clone();
                std::thread::spawn(move || {
                    let s = stack.udp_bind("0.0.0.0:0").expect("bind");
                    s.set_read_timeout(Some(Duration::from_secs(3)))
                        .expect("timeout");
                    let mut buf = [0u8; 64];
                    for k in 0..1500u32 {
                        let msg = [i, (k >> 8) as u8, k as u8, 0xee];
                        s.send_to(&msg, "10.93.0.1:7200").expect("send");
                        let (n, _) = s.recv_from(&mut buf).expect("the echo comes");
                        assert_eq!(&buf[..n], &msg, "client {i}, datagram {k}");
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().expect("client thread");
        }
        let s = node(&hub, "ioth", [10, 93, 0, 99]);
        s.udp_bind("0.0.0.0:0")
            .expect("bind")
            .send_to(&[0], "10.93.0.1:7200")
            .expect("stop");
        echoer.join().expect("echo thread");
    }
}
