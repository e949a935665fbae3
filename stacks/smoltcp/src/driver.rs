//! The driver threads: a small pool that advances every stack of the process.
//!
//! Each stack is assigned to one driver thread. The thread waits (epoll) on the descriptors of
//! its stacks' links and on the earliest timer any of them asked for; when a link has frames
//! it drives that stack (ingress, then egress), and when a timer is due it drives the stacks
//! whose deadline passed. There is no thread per stack and no fixed tick: ten thousand idle
//! stacks cost no CPU. Application threads flush egress themselves during their calls and only
//! wake a driver when they need a timer earlier than the one it is sleeping towards.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::stack::Shared;

/// Microseconds since the process's epoch: the clock of deadlines (`CLOCK_MONOTONIC`, the
/// clock of `std::time::Instant`, read directly: it is read several times per packet).
pub(crate) fn now_micros() -> u64 {
    static EPOCH: OnceLock<u64> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(monotonic_micros);
    monotonic_micros().saturating_sub(epoch)
}

fn monotonic_micros() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let micros = u64::try_from(ts.tv_nsec).unwrap_or(0) / 1000;
    secs.saturating_mul(1_000_000).saturating_add(micros)
}

/// No deadline.
pub(crate) const NEVER: u64 = u64::MAX;

/// Drives the driver threads made because a link's descriptor turned readable (tests).
#[cfg(test)]
pub(crate) static LINK_DRIVES: AtomicUsize = AtomicUsize::new(0);

const WAKE_KEY: u64 = 0;
const EVENTS: usize = 64;

/// One driver thread's shared state.
pub(crate) struct DriverThread {
    epoll: OwnedFd,
    wake: OwnedFd,
    inner: Mutex<Inner>,
    /// The deadline the thread sleeps towards; 0 while it is awake and will look again.
    planned: AtomicU64,
}

struct Inner {
    timers: BinaryHeap<Reverse<(u64, u64)>>,
    stacks: HashMap<u64, Weak<Shared>>,
    /// Stacks nobody holds any more that still finish closing connections, with the time
    /// they are given up at.
    orphans: Vec<(Arc<Shared>, u64)>,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

struct Pool {
    threads: Vec<Arc<DriverThread>>,
    next: AtomicUsize,
}

fn pool() -> io::Result<&'static Pool> {
    static POOL: OnceLock<Pool> = OnceLock::new();
    static INIT: Mutex<()> = Mutex::new(());
    if let Some(p) = POOL.get() {
        return Ok(p);
    }
    let _g = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = POOL.get() {
        return Ok(p);
    }
    raise_fd_limit();
    let n = std::env::var("IOTH_SMOLTCP_DRIVERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get().min(2))
                .unwrap_or(1)
        });
    let mut threads = Vec::with_capacity(n);
    for i in 0..n {
        let t = Arc::new(DriverThread::new()?);
        let run = t.clone();
        std::thread::Builder::new()
            .name(format!("ioth-smoltcp-{i}"))
            .spawn(move || run.run())?;
        threads.push(t);
    }
    crate::ident::debug!("smoltcp driver pool: {n} threads");
    Ok(POOL.get_or_init(|| Pool {
        threads,
        next: AtomicUsize::new(0),
    }))
}

/// Each user-space socket costs two descriptors: let the process use all it may.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The driver thread for a new stack (round robin over the pool).
pub(crate) fn assign() -> io::Result<Arc<DriverThread>> {
    let p = pool()?;
    let i = p.next.fetch_add(1, Ordering::Relaxed) % p.threads.len();
    Ok(p.threads[i].clone())
}

/// How many driver threads serve the process. The pool starts with the first stack, or with
/// this call if none was made yet; 0 only if it could not be started.
pub fn driver_threads() -> usize {
    pool().map(|p| p.threads.len()).unwrap_or(0)
}

impl DriverThread {
    fn new() -> io::Result<DriverThread> {
        // SAFETY: epoll_create1 with a valid flag.
        let epoll = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: the descriptor was just created.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        // SAFETY: eventfd with valid flags.
        let wake = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        // SAFETY: the descriptor was just created.
        let wake = unsafe { OwnedFd::from_raw_fd(wake) };
        let t = DriverThread {
            epoll,
            wake,
            inner: Mutex::new(Inner {
                timers: BinaryHeap::new(),
                stacks: HashMap::new(),
                orphans: Vec::new(),
            }),
            planned: AtomicU64::new(0),
        };
        t.ctl(libc::EPOLL_CTL_ADD, t.wake.as_raw_fd(), WAKE_KEY)?;
        Ok(t)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, data: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: data,
        };
        // SAFETY: epoll_ctl on our epoll descriptor with a valid event.
        cvt(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut ev) }).map(drop)
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves `stack` under `key` (unique, non-zero).
    pub(crate) fn add_stack(&self, key: u64, stack: Weak<Shared>) {
        self.inner().stacks.insert(key, stack);
    }

    /// Keeps a stack that its user dropped alive until its closing connections finish (as the
    /// kernel keeps orphaned sockets), at most until `until` (µs).
    pub(crate) fn adopt(&self, stack: Arc<Shared>, until: u64) {
        self.inner().orphans.push((stack, until));
    }

    /// Forgets the stack `key`.
    pub(crate) fn remove_stack(&self, key: u64) {
        self.inner().stacks.remove(&key);
    }

    /// Watches a link descriptor of stack `key`, interface slot `slot`.
    pub(crate) fn watch(&self, key: u64, slot: u32, fd: RawFd) -> io::Result<()> {
        self.ctl(
            libc::EPOLL_CTL_ADD,
            fd,
            (key << 16) | u64::from(slot & 0xffff),
        )
    }

    /// Stops watching a link descriptor (before it closes).
    pub(crate) fn unwatch(&self, fd: RawFd) {
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0);
    }

    /// Queues stack `key` to be driven at `deadline` (µs); wakes the thread only when it is
    /// sleeping towards a later deadline. Stacks call this through `Shared::request`, which
    /// queues a deadline only when it is earlier than the one already queued.
    pub(crate) fn schedule(&self, key: u64, deadline: u64) {
        if deadline == NEVER {
            return;
        }
        self.inner().timers.push(Reverse((deadline, key)));
        let planned = self.planned.load(Ordering::Acquire);
        if planned != 0 && deadline < planned {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes to our eventfd.
            unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    fn run(self: Arc<Self>) {
        crate::inbox::mark_driver();
        let mut batch = vde::FrameBatch::new(vde::BATCH_MAX);
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        let mut due: Vec<u64> = Vec::new();
        loop {
            let next = self.inner().timers.peek().map(|r| r.0.0).unwrap_or(NEVER);
            let now = now_micros();
            let timeout_ms: libc::c_int = if next == NEVER {
                -1
            } else if next <= now {
                0
            } else {
                libc::c_int::try_from((next - now).div_ceil(1000)).unwrap_or(libc::c_int::MAX)
            };
            self.planned
                .store(if timeout_ms == 0 { 0 } else { next }, Ordering::Release);
            // SAFETY: epoll_wait into a valid array of EVENTS events.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    EVENTS as libc::c_int,
                    timeout_ms,
                )
            };
            self.planned.store(0, Ordering::Release);
            let n = usize::try_from(n).unwrap_or(0);
            for ev in &events[..n] {
                let data = ev.u64;
                if data == WAKE_KEY {
                    let mut v: u64 = 0;
                    // SAFETY: reads 8 bytes from our eventfd into v.
                    unsafe { libc::read(self.wake.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
                    continue;
                }
                let key = data >> 16;
                let slot = (data & 0xffff) as u32;
                let stack = self.inner().stacks.get(&key).and_then(Weak::upgrade);
                match stack {
                    Some(stack) => {
                        #[cfg(test)]
                        LINK_DRIVES.fetch_add(1, Ordering::Relaxed);
                        let deadline = stack.drive(Some(slot), &mut batch);
                        stack.request(deadline);
                    }
                    None => self.inner().stacks.remove(&key).map(drop).unwrap_or(()),
                }
            }
            let now = now_micros();
            due.clear();
            {
                let mut inner = self.inner();
                while let Some(Reverse((d, key))) = inner.timers.peek().copied() {
                    if d > now {
                        break;
                    }
                    inner.timers.pop();
                    if !due.contains(&key) {
                        due.push(key);
                    }
                }
            }
            // Orphaned stacks go once their connections have closed (or their time is up).
            let released: Vec<Arc<Shared>> = {
                let mut inner = self.inner();
                let mut gone = Vec::new();
                let mut i = 0;
                while i < inner.orphans.len() {
                    let (stack, until) = &inner.orphans[i];
                    if now >= *until || !stack.has_closing() {
                        gone.push(inner.orphans.swap_remove(i).0);
                    } else {
                        i += 1;
                    }
                }
                gone
            };
            drop(released);
            for &key in &due {
                let stack = self.inner().stacks.get(&key).and_then(Weak::upgrade);
                if let Some(stack) = stack {
                    stack.timer_fired();
                    let deadline = stack.drive(None, &mut batch);
                    stack.request(deadline);
                }
            }
        }
    }
}
