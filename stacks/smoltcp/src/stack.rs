//! A smoltcp stack as the facade sees it ([`SmolStack`], [`SmolSocket`]), and the shared state
//! the driver threads and application threads advance.
//!
//! Every call locks the stack, does its work, flushes egress at once and updates the
//! descriptors, then asks the driver for the next timer. A blocking call that cannot proceed
//! waits on the socket's own descriptor (which shows exactly when it can) and tries again.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ioth::{Ioctl, RecvMeta, SockAddr, SocketOps, StackOps};
use libc::{c_int, c_long};

use crate::core::Core;
use crate::driver::{DriverThread, NEVER};

fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// State shared by a stack's handle, its sockets and its driver thread.
pub(crate) struct Shared {
    core: Mutex<Core>,
    key: u64,
    driver: Arc<DriverThread>,
    /// The earliest deadline already queued with the driver.
    scheduled: AtomicU64,
    /// Set once a panic while working on this stack stopped it (see [`Shared::with`]).
    failed: AtomicBool,
    /// Its doorbell side (see `inbox`), the same as the core's.
    inbox: Arc<crate::inbox::Inbox>,
    /// Its identity in log lines and errors (`StackOps::set_identity`; see `ident`).
    ident: Mutex<Arc<str>>,
}

/// Most drives a call makes after unlocking for frames that arrived while it held the
/// stack, before its driver takes over (see [`Shared::with`]).
const PENDING_ROUNDS: usize = 16;

/// Most sockets a stack may have for its calls to flush egress themselves (see
/// [`Shared::call`]).
const INLINE_FLUSH_MAX: usize = 64;

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

impl Shared {
    pub(crate) fn new(core: Core, key: u64, driver: Arc<DriverThread>) -> Arc<Shared> {
        let inbox = core.inbox.clone();
        let shared = Arc::new(Shared {
            core: Mutex::new(core),
            key,
            driver,
            scheduled: AtomicU64::new(NEVER),
            failed: AtomicBool::new(false),
            inbox,
            ident: Mutex::new(Arc::from(format!("smoltcp#{key}"))),
        });
        shared.inbox.bind(&shared);
        shared
    }

    /// The stack's identity (its name, or `stack#N`).
    pub(crate) fn ident(&self) -> Arc<str> {
        self.ident.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Renames the stack in log lines and errors.
    pub(crate) fn set_ident(&self, ident: &str) {
        *self.ident.lock().unwrap_or_else(|e| e.into_inner()) = Arc::from(ident);
    }

    /// The stack's doorbell side.
    pub(crate) fn inbox(&self) -> &crate::inbox::Inbox {
        &self.inbox
    }

    /// The stack's state, even after a failure (for teardown).
    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The error every call on a failed stack gives.
    fn failed_error(&self) -> io::Error {
        ioth::errno_with(
            libc::EIO,
            format!(
                "smoltcp stack {} stopped after an internal failure (logged when it happened)",
                self.ident()
            ),
        )
    }

    /// Whether a failure stopped this stack.
    pub(crate) fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Runs `f` on the stack's state. Defence in depth: a panic inside (smoltcp asserts its
    /// invariants by panicking) stops this stack alone. It is marked failed and logged once,
    /// its descriptors show hang-up so that blocked callers wake, its links are no longer
    /// watched, and every later call on it gives `EIO` naming the stack; the driver thread
    /// and every other stack go on.
    ///
    /// Frames the call delivers to other stacks of the process through an in-process hub
    /// are taken in by this thread once the stack is unlocked (see `inbox`).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Core) -> R) -> io::Result<R> {
        if self.is_failed() {
            return Err(self.failed_error());
        }
        // Declared before the lock guard, dropped after it: what the call leaves for the
        // end (descriptor changes, other stacks' ingress) runs with this stack unlocked.
        let _call = CallGuard::enter();
        let (r, mut pending) = self.locked(f);
        // Frames that arrived for this stack while it was locked (see `inbox`) are taken in
        // now, by this thread, as the kernel processes a socket's backlog on release.
        let mut rounds = 0;
        while pending {
            rounds += 1;
            if rounds > PENDING_ROUNDS {
                // Its driver takes over: a timer due now drives every link of the stack.
                self.request(crate::driver::now_micros());
                break;
            }
            let (deadline, more) =
                crate::inbox::with_batch(|b| self.locked(|core| core.drive(None, Some(b))));
            self.request(deadline.unwrap_or(NEVER));
            pending = more;
        }
        r
    }

    /// [`Shared::with`] without taking in the frames that arrived meanwhile: the result,
    /// and whether such frames wait.
    fn locked<R>(&self, f: impl FnOnce(&mut Core) -> R) -> (io::Result<R>, bool) {
        let _ident = crate::ident::Enter::new(self.ident());
        let mut core = self.lock();
        if self.is_failed() {
            return (Err(self.failed_error()), self.inbox.clear_busy());
        }
        self.inbox.set_busy();
        let r = match std::panic::catch_unwind(AssertUnwindSafe(|| f(&mut core))) {
            Ok(r) => Ok(r),
            Err(payload) => {
                self.failed.store(true, Ordering::Release);
                crate::ident::error!(
                    "internal failure of the smoltcp stack ({}): this stack is stopped, the \
                     process and its other stacks go on",
                    panic_text(payload.as_ref())
                );
                if std::panic::catch_unwind(AssertUnwindSafe(|| core.stop_after_failure())).is_err()
                {
                    crate::ident::error!("stopping the failed stack failed too");
                }
                Err(self.failed_error())
            }
        };
        // Cleared while still locked: a later holder sets it again itself.
        let pending = self.inbox.clear_busy() && !self.is_failed();
        drop(core);
        (r, pending)
    }

    /// Driver entry: advance with frames from interface `slot` (or on a timer).
    pub(crate) fn drive(&self, slot: Option<u32>, batch: &mut vde::FrameBatch) -> u64 {
        self.with(|core| core.drive(slot, Some(batch)))
            .unwrap_or(NEVER)
    }

    /// Whether closed connections are still finishing.
    pub(crate) fn has_closing(&self) -> bool {
        self.with(|core| core.finishing()).unwrap_or(false)
    }

    /// The driver popped this stack's timer.
    pub(crate) fn timer_fired(&self) {
        self.scheduled.store(NEVER, Ordering::Release);
    }

    /// Makes sure the driver drives this stack by `deadline`.
    pub(crate) fn request(&self, deadline: u64) {
        if deadline == NEVER {
            return;
        }
        let prev = self.scheduled.fetch_min(deadline, Ordering::AcqRel);
        if deadline < prev {
            self.driver.schedule(self.key, deadline);
        }
    }

    /// Runs an application call on the stack, then flushes egress and reschedules (`EIO`
    /// if the stack failed, see [`Shared::with`]).
    ///
    /// A flush visits every smoltcp socket of the stack (smoltcp's egress has no per-socket
    /// entry), so a stack with many does not flush after each call: it asks its driver to
    /// flush now instead, and the calls made meanwhile share that one flush. The TCP sockets
    /// of our engine do not count (see `Core::flush_cost`).
    pub(crate) fn call<R>(&self, f: impl FnOnce(&mut Core) -> R) -> io::Result<R> {
        self.call_flushing(None, f)
    }

    /// [`Shared::call`] for a call on socket `id`: when it is a socket of our TCP engine,
    /// only the engine can have something new to send, so the flush is its round alone
    /// (`Core::flush_engine`), whatever the number of smoltcp sockets.
    pub(crate) fn call_on<R>(&self, id: usize, f: impl FnOnce(&mut Core) -> R) -> io::Result<R> {
        self.call_flushing(Some(id), f)
    }

    fn call_flushing<R>(&self, id: Option<usize>, f: impl FnOnce(&mut Core) -> R) -> io::Result<R> {
        let (r, deadline) = self.with(|core| {
            let r = f(core);
            let deadline = if id.is_some_and(|id| core.is_engine_socket(id)) {
                core.flush_engine()
            } else if core.flush_cost() <= INLINE_FLUSH_MAX {
                core.flush()
            } else {
                crate::driver::now_micros()
            };
            (r, deadline)
        })?;
        self.request(deadline);
        Ok(r)
    }
}

/// A stack call in progress on this thread (see `in_call`); when the outermost one ends,
/// the descriptor changes it asked for are made, then the stacks it delivered frames to
/// are driven.
struct CallGuard {
    entered: bool,
}

impl CallGuard {
    fn enter() -> CallGuard {
        CallGuard {
            entered: crate::in_call::enter(),
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if self.entered && crate::in_call::leave() {
            crate::readiness::apply_deferred();
            crate::inbox::drain();
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.driver.remove_stack(self.key);
    }
}

/// One smoltcp stack.
pub(crate) struct SmolStack {
    pub(crate) shared: Arc<Shared>,
}

/// How long a dropped stack may keep finishing its closing connections.
const ORPHAN_LINGER_MICROS: u64 = 60_000_000;

impl Drop for SmolStack {
    fn drop(&mut self) {
        // Connections closed but not finished (data in flight, FIN not acknowledged) outlive
        // the stack handle, as orphaned sockets outlive their process's descriptor on Linux.
        let mut core = self.shared.lock();
        if !core.finishing() || self.shared.is_failed() {
            let links = std::panic::catch_unwind(AssertUnwindSafe(|| core.take_links()))
                .unwrap_or_default();
            drop(core);
            drop(links);
        } else {
            drop(core);
            let until = crate::driver::now_micros() + ORPHAN_LINGER_MICROS;
            self.shared.driver.adopt(self.shared.clone(), until);
        }
    }
}

impl StackOps for SmolStack {
    fn set_identity(&self, ident: &str) {
        self.shared.set_ident(ident);
    }

    fn autoconf_start(
        &self,
        protocol: ioth::backend::AutoConfProtocol,
        ifindex: u32,
        fqdn: Option<&str>,
        slaac: bool,
    ) -> io::Result<()> {
        self.shared
            .call(|c| c.autoconf_start(protocol, ifindex, fqdn, slaac))?
    }

    fn autoconf_stop(
        &self,
        protocol: ioth::backend::AutoConfProtocol,
        ifindex: u32,
    ) -> io::Result<()> {
        self.shared.call(|c| c.autoconf_stop(protocol, ifindex))?
    }

    fn autoconf_learned(
        &self,
        protocol: ioth::backend::AutoConfProtocol,
        ifindex: u32,
    ) -> Option<(Vec<std::net::IpAddr>, Vec<String>)> {
        self.shared
            .with(|c| c.autoconf_learned(protocol, ifindex))
            .ok()
            .flatten()
    }

    fn protocol_counters(&self) -> io::Result<ioth::counters::ProtocolCounters> {
        self.shared.with(|c| c.protocol_counters())
    }

    fn socket(&self, domain: c_int, ty: c_int, protocol: c_int) -> io::Result<Box<dyn SocketOps>> {
        let (id, fd) = self.shared.call(|core| -> io::Result<(usize, RawFd)> {
            let id = core.open(domain, ty, protocol)?;
            Ok((id, core.sock(id)?.ready.user_fd()))
        })??;
        let sock = SmolSocket {
            shared: self.shared.clone(),
            id,
            fd,
            netlink: domain == libc::AF_NETLINK,
            ipv6: domain == libc::AF_INET6,
        };
        if ty & libc::SOCK_CLOEXEC == 0 {
            sock.set_cloexec(false)?;
        }
        Ok(Box::new(sock))
    }
}

thread_local! {
    /// The receive batch of an application thread that runs ingress while blocked (made on
    /// first use: threads that never block in a receive never hold one).
    static APP_BATCH: std::cell::RefCell<Option<vde::FrameBatch>> =
        const { std::cell::RefCell::new(None) };
}

/// Polls `pfds` (this socket's descriptor, then `links` links', then maybe this thread's
/// inbox eventfd) until one shows an event or `deadline` passes (EAGAIN); true when a
/// link's did (its frames are for the caller to take in).
fn poll_links(
    pfds: &mut [libc::pollfd],
    links: usize,
    deadline: Option<Instant>,
) -> io::Result<bool> {
    loop {
        let ms = poll_timeout(deadline)?;
        for p in pfds.iter_mut() {
            p.revents = 0;
        }
        // SAFETY: a valid array of pfds.len() pollfds for the call.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n > 0 {
            return Ok(pfds[1..=links].iter().any(|p| p.revents != 0));
        }
    }
}

/// Takes in what waits on every link of the stack, with this thread's receive batch.
fn ingress_all(core: &mut Core) {
    APP_BATCH.with(|b| {
        let mut b = b.borrow_mut();
        let batch = b.get_or_insert_with(|| vde::FrameBatch::new(vde::BATCH_MAX));
        core.drive(None, Some(batch));
    });
}

/// The poll(2) timeout until `deadline`; EAGAIN once it has passed.
fn poll_timeout(deadline: Option<Instant>) -> io::Result<c_int> {
    match deadline {
        None => Ok(-1),
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(err(libc::EAGAIN));
            }
            Ok(c_int::try_from(left.as_millis().max(1)).unwrap_or(c_int::MAX))
        }
    }
}

/// One socket of a smoltcp stack.
pub(crate) struct SmolSocket {
    shared: Arc<Shared>,
    id: usize,
    fd: RawFd,
    /// An `AF_NETLINK` socket (fixed at creation; accepted sockets are TCP).
    netlink: bool,
    /// An `AF_INET6` socket (fixed at creation; accepted sockets take the listener's).
    ipv6: bool,
}

fn ip_addr(addr: &SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket().ok_or_else(|| err(libc::EAFNOSUPPORT))
}

/// The `nl_groups` of a `struct sockaddr_nl`; EINVAL for another family.
fn netlink_groups_of(addr: &SockAddr) -> io::Result<u32> {
    if addr.family() != libc::AF_NETLINK as libc::sa_family_t
        || (addr.len() as usize) < std::mem::size_of::<libc::sockaddr_nl>()
    {
        return Err(err(libc::EINVAL));
    }
    // SAFETY: the address is an AF_NETLINK one at least as long as sockaddr_nl; the storage
    // is aligned for any socket address, and nl_groups is read by value.
    Ok(unsafe { (*addr.as_ptr().cast::<libc::sockaddr_nl>()).nl_groups })
}

/// A netlink socket address (`struct sockaddr_nl`) for port id `pid`, groups 0.
fn netlink_addr(pid: u32) -> io::Result<SockAddr> {
    netlink_addr_groups(pid, 0)
}

/// A netlink socket address (`struct sockaddr_nl`) for port id `pid` in groups `groups`.
fn netlink_addr_groups(pid: u32, groups: u32) -> io::Result<SockAddr> {
    // SAFETY: sockaddr_nl fits in the zeroed sockaddr_storage try_init hands us; its public
    // fields are written (the padding stays zero) before the length that covers them is reported.
    let ((), addr) = unsafe {
        SockAddr::try_init(|st, len| {
            let nl = st.cast::<libc::sockaddr_nl>();
            (*nl).nl_family = libc::AF_NETLINK as libc::sa_family_t;
            (*nl).nl_pid = pid;
            (*nl).nl_groups = groups;
            *len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            Ok(())
        })
    }?;
    Ok(addr)
}

impl SmolSocket {
    fn set_cloexec(&self, on: bool) -> io::Result<()> {
        // SAFETY: fcntl on our socket's descriptor with an integer argument.
        let r = unsafe {
            libc::fcntl(
                self.fd,
                libc::F_SETFD,
                if on { libc::FD_CLOEXEC } else { 0 },
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Runs `op` until it stops giving EAGAIN, waiting for `events` on the descriptor between
    /// tries, unless the socket (or this call, through `MSG_DONTWAIT`) is nonblocking. A
    /// timeout gives EAGAIN, as SO_RCVTIMEO/SO_SNDTIMEO do.
    fn blocking<R>(
        &self,
        events: i16,
        dontwait: bool,
        timeout: impl Fn(&crate::sockets::Opts) -> Option<Duration>,
        mut op: impl FnMut(&mut Core) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut deadline: Option<Option<Instant>> = None;
        let mut ingress = false;
        loop {
            let (r, nonblocking, t) = self.shared.call_on(self.id, |core| {
                if ingress {
                    // In the same locked section as the retry: readiness that the frames
                    // raise and the retry lowers again never reaches the descriptor.
                    ingress_all(core);
                }
                let r = op(core);
                core.refresh(self.id);
                match core.sock(self.id) {
                    Ok(rec) => (r, rec.nonblocking, timeout(&rec.opts)),
                    Err(e) => (Err(e), true, None),
                }
            })?;
            match r {
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && !nonblocking && !dontwait => {
                    let d = *deadline.get_or_insert_with(|| t.map(|t| Instant::now() + t));
                    ingress = self.wait_or_ingress(events, d)?;
                }
                other => return other,
            }
        }
    }

    /// Waits like [`SmolSocket::wait`], but also on the stack's links and as the stack's
    /// registered waiter (see `inbox`): when frames arrive while
    /// this thread is blocked, it runs the stack's ingress itself instead of waiting for its
    /// driver thread to do it and then wake it (one thread hand-off less per packet on the
    /// latency path; the driver stays the fallback and serves every other case).
    fn wait_or_ingress(&self, events: i16, deadline: Option<Instant>) -> io::Result<bool> {
        const MAX_LINKS: usize = 4;
        let mut links = [(0u32, -1 as RawFd); MAX_LINKS];
        let n_links = self.shared.with(|c| c.watched_links(&mut links))?;
        if n_links == 0 {
            return self.wait(events, deadline).map(|()| false);
        }
        let mut pfds = [libc::pollfd {
            fd: -1,
            events: 0,
            revents: 0,
        }; MAX_LINKS + 2];
        pfds[0] = libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        };
        for (p, &(_, fd)) in pfds[1..].iter_mut().zip(&links[..n_links]) {
            *p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
        }
        // Frames other stacks of the process send this one wake this thread alone (see
        // `inbox`): registered, it takes them in itself.
        let registration = self.shared.inbox().register();
        let mut n = n_links + 1;
        if let Some(r) = &registration {
            pfds[n] = libc::pollfd {
                fd: r.fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            n += 1;
        }
        let waited = poll_links(&mut pfds[..n], n_links, deadline);
        let rung = registration.is_some_and(|r| self.shared.inbox().unregister(r));
        match waited {
            Ok(links_ready) => Ok(links_ready || rung),
            Err(e) => {
                if rung {
                    // The ring came as the wait ended: its frames are still this thread's.
                    let _ = self.shared.call(ingress_all);
                }
                Err(e)
            }
        }
    }

    /// Waits until the descriptor shows one of `events` (or hangs up), or `deadline` passes
    /// (EAGAIN).
    fn wait(&self, events: i16, deadline: Option<Instant>) -> io::Result<()> {
        let mut p = [libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        }];
        poll_links(&mut p, 0, deadline).map(drop)
    }
}

impl Drop for SmolSocket {
    fn drop(&mut self) {
        let id = self.id;
        let Ok((lingering, wait)) = self.shared.call(|core| core.close(id)) else {
            return;
        };
        // The kernel keeps a closed UDP socket's datagrams until the neighbour answers; a
        // user-space stack may end with the process right after close(), so close() waits
        // for them instead (bounded). With SO_LINGER, a TCP close waits for the
        // acknowledgement of its data, as on Linux.
        if !lingering.is_empty() {
            let until = Instant::now() + wait;
            while Instant::now() < until
                && !self.shared.with(|c| c.flushed(&lingering)).unwrap_or(true)
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = self.shared.call(|c| c.linger_done(&lingering));
        }
    }
}

impl SocketOps for SmolSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }

    fn bind(&self, addr: &SockAddr) -> io::Result<()> {
        if self.netlink {
            // The port id is the stack's choice; `nl_groups` joins multicast groups.
            let groups = netlink_groups_of(addr)?;
            return self
                .shared
                .call(|c| c.netlink_groups(self.id, Some(groups), None))?;
        }
        let a = ip_addr(addr)?;
        self.shared.call(|c| c.bind(self.id, a))?
    }

    fn connect(&self, addr: &SockAddr) -> io::Result<()> {
        if self.netlink {
            return Ok(());
        }
        let a = ip_addr(addr)?;
        let (r, nonblocking, timeout) = self.shared.call_on(self.id, |c| {
            let r = c.connect(self.id, a);
            let (nb, t) = c
                .sock(self.id)
                .map(|rec| (rec.nonblocking, rec.opts.sndtimeo))
                .unwrap_or((true, None));
            (r, nb, t)
        })?;
        match r {
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) && !nonblocking => {
                let deadline = timeout.map(|t| Instant::now() + t);
                loop {
                    let ingress = match self.wait_or_ingress(libc::POLLOUT, deadline) {
                        Ok(ingress) => ingress,
                        Err(e) => {
                            return Err(if e.raw_os_error() == Some(libc::EAGAIN) {
                                err(libc::EINPROGRESS)
                            } else {
                                e
                            });
                        }
                    };
                    let status = self.shared.call_on(self.id, |c| {
                        if ingress {
                            ingress_all(c);
                        }
                        c.connect_status(self.id)
                    })?;
                    match status {
                        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => continue,
                        other => return other,
                    }
                }
            }
            other => other,
        }
    }

    fn listen(&self, backlog: c_int) -> io::Result<()> {
        self.shared.call(|c| c.listen(self.id, backlog))?
    }

    fn accept(&self, flags: c_int) -> io::Result<(Box<dyn SocketOps>, SockAddr)> {
        let (nid, peer, fd) = self.blocking(
            libc::POLLIN,
            false,
            |o| o.rcvtimeo,
            |c| {
                let (nid, peer) = c.accept(self.id)?;
                let rec = c.sock(nid)?;
                rec.nonblocking = flags & libc::SOCK_NONBLOCK != 0;
                Ok((nid, peer, rec.ready.user_fd()))
            },
        )?;
        let sock = SmolSocket {
            shared: self.shared.clone(),
            id: nid,
            fd,
            netlink: false,
            ipv6: self.ipv6,
        };
        if flags & libc::SOCK_CLOEXEC == 0 {
            sock.set_cloexec(false)?;
        }
        Ok((Box::new(sock), peer.into()))
    }

    fn local_addr(&self) -> io::Result<SockAddr> {
        match self.shared.call(|c| c.local_addr(self.id))?? {
            Some(a) => Ok(a.into()),
            None => {
                let (pid, groups) = self.shared.call(|c| {
                    c.netlink_pid(self.id)
                        .and_then(|p| c.netlink_joined(self.id).map(|g| (p, g)))
                })??;
                netlink_addr_groups(pid, groups)
            }
        }
    }

    fn peer_addr(&self) -> io::Result<SockAddr> {
        if self.netlink {
            return netlink_addr(0);
        }
        Ok(self.shared.call(|c| c.peer_addr(self.id))??.into())
    }

    fn setsockopt(&self, level: c_int, name: c_int, value: &[u8]) -> io::Result<()> {
        if self.netlink
            && level == libc::SOL_NETLINK
            && matches!(
                name,
                libc::NETLINK_ADD_MEMBERSHIP | libc::NETLINK_DROP_MEMBERSHIP
            )
        {
            let group: [u8; 4] = value
                .get(..4)
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| err(libc::EINVAL))?;
            let group = u32::from_ne_bytes(group);
            let member = name == libc::NETLINK_ADD_MEMBERSHIP;
            return self
                .shared
                .call(|c| c.netlink_groups(self.id, None, Some((group, member))))?;
        }
        self.shared
            .call(|c| crate::options::set(c, self.id, level, name, value))?
    }

    fn getsockopt(&self, level: c_int, name: c_int, value: &mut [u8]) -> io::Result<usize> {
        self.shared
            .call(|c| crate::options::get(c, self.id, level, name, value))?
    }

    fn shutdown(&self, how: c_int) -> io::Result<()> {
        self.shared.call(|c| c.shutdown(self.id, how))?
    }

    fn ioctl(&self, request: Ioctl<'_>) -> io::Result<c_int> {
        self.shared
            .call(|c| crate::options::ioctl(c, self.id, request))?
    }

    fn fcntl(&self, cmd: c_int, arg: c_long) -> io::Result<c_int> {
        match cmd {
            libc::F_GETFL => self.shared.call(|c| {
                Ok(libc::O_RDWR
                    | if c.sock(self.id)?.nonblocking {
                        libc::O_NONBLOCK
                    } else {
                        0
                    })
            })?,
            libc::F_SETFL => self.shared.call(|c| {
                c.sock(self.id)?.nonblocking = arg & c_long::from(libc::O_NONBLOCK) != 0;
                Ok(0)
            })?,
            libc::F_GETFD | libc::F_SETFD => {
                // SAFETY: fcntl on our socket's descriptor with an integer argument.
                let r = unsafe { libc::fcntl(self.fd, cmd, arg) };
                if r < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(r)
                }
            }
            _ => Err(err(libc::EINVAL)),
        }
    }

    fn recv_msg(
        &self,
        bufs: &mut [IoSliceMut<'_>],
        control: &mut [u8],
        flags: c_int,
    ) -> io::Result<RecvMeta> {
        let netlink = self.netlink;
        let waitall = flags & libc::MSG_WAITALL != 0 && !netlink;
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        let dontwait = flags & libc::MSG_DONTWAIT != 0;
        let (mut got, info, (v4, v6, hops)) = self.blocking(
            libc::POLLIN,
            dontwait,
            |o| o.rcvtimeo,
            |c| {
                let got = c.recv(self.id, bufs, flags)?;
                let wants = c.sock(self.id).map_or((false, false, false), |r| {
                    (
                        r.opts.pktinfo && !r.ipv6,
                        r.opts.recvpktinfo6 && r.ipv6,
                        r.opts.recvhoplimit,
                    )
                });
                let info = match (got.dst, got.from) {
                    (Some((dst, slot)), Some(from)) if wants.0 || wants.1 => {
                        Some(crate::pktinfo::received(c, dst, slot, from))
                    }
                    _ => None,
                };
                Ok((got, info, wants))
            },
        )?;
        let hop_limit = got.hop_limit.filter(|_| hops);
        let (control_len, ctrunc) = if v4 || v6 || hop_limit.is_some() {
            crate::pktinfo::write_control(control, info.as_ref(), v4, v6, hop_limit)
        } else {
            (0, false)
        };
        if waitall && got.from.is_none() && got.len > 0 && got.len < want {
            // MSG_WAITALL on a stream: keep reading until full, EOF or error.
            let mut total = got.len;
            while total < want {
                let mut skip = total;
                let mut rest: Vec<IoSliceMut<'_>> = Vec::new();
                for b in bufs.iter_mut() {
                    if skip >= b.len() {
                        skip -= b.len();
                        continue;
                    }
                    rest.push(IoSliceMut::new(&mut b[skip..]));
                    skip = 0;
                }
                match self.blocking(
                    libc::POLLIN,
                    dontwait,
                    |o| o.rcvtimeo,
                    |c| c.recv(self.id, &mut rest, flags),
                ) {
                    Ok(r) if r.len > 0 => total += r.len,
                    _ => break,
                }
            }
            got.len = total;
        }
        let addr = match (got.from, netlink) {
            (Some(a), _) => Some(a.into()),
            (None, true) => Some(netlink_addr(0)?),
            (None, false) => None,
        };
        Ok(RecvMeta {
            len: got.len,
            addr,
            control_len,
            flags: if got.truncated { libc::MSG_TRUNC } else { 0 }
                | if ctrunc { libc::MSG_CTRUNC } else { 0 },
        })
    }

    fn send_msg(
        &self,
        bufs: &[IoSlice<'_>],
        addr: Option<&SockAddr>,
        control: &[u8],
        flags: c_int,
    ) -> io::Result<usize> {
        let dst = match addr {
            Some(a) if !self.netlink => Some(ip_addr(a)?),
            _ => None,
        };
        let src = if control.is_empty() || self.netlink {
            None
        } else {
            crate::pktinfo::parse_send_control(control, self.ipv6)?
        };
        let dontwait = flags & libc::MSG_DONTWAIT != 0;
        self.blocking(
            libc::POLLOUT,
            dontwait,
            |o| o.sndtimeo,
            |c| c.send(self.id, bufs, dst, src, flags),
        )
    }

    fn close(self: Box<Self>) -> io::Result<()> {
        drop(self);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use ioth::Stack;

    /// Arms the injected failure of `panic0` interfaces (see `Core::drive`).
    pub(crate) static PANIC_ARMED: AtomicBool = AtomicBool::new(false);

    /// Live driver threads of this process (by name: other tests run in parallel threads).
    fn threads() -> usize {
        std::fs::read_dir("/proc/self/task").map_or(0, |d| {
            d.flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.starts_with("ioth-smoltcp-"))
                })
                .count()
        })
    }

    fn node(vnl: &str, ifname: &str, ip: [u8; 4]) -> Stack {
        node_named("smoltcp", vnl, ifname, ip)
    }

    /// A connection from `client` to an echo server (64-byte messages) on `server` at
    /// `addr`, both ends with `TCP_NODELAY`, the client's reads timing out after 3 s; the
    /// server thread ends when the client closes.
    pub(crate) fn echo_connection(
        server: &Stack,
        client: &Stack,
        addr: std::net::SocketAddr,
    ) -> (ioth::net::TcpStream, std::thread::JoinHandle<()>) {
        use std::io::{Read, Write};
        let listener = server.tcp_listen(addr).expect("listen");
        let echo = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            s.set_nodelay(true).expect("nodelay");
            let mut buf = [0u8; 64];
            while s.read_exact(&mut buf).is_ok() {
                s.write_all(&buf).expect("reply");
            }
        });
        let c = ioth::net::TcpStream::connect_timeout_on(client, &addr, Duration::from_secs(3))
            .expect("connect");
        c.set_nodelay(true).expect("nodelay");
        c.set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        (c, echo)
    }

    /// A stack `name` (with its options) on `vnl`, `ifname` up at `ip`/24.
    pub(crate) fn node_named(name: &str, vnl: &str, ifname: &str, ip: [u8; 4]) -> Stack {
        let stack = Stack::new(name, &[vnl]).expect("smoltcp stack");
        let idx = stack.if_nametoindex(ifname).expect("interface");
        stack.link_set_up(idx, true).expect("up");
        stack
            .ipaddr_add(IpAddr::from(ip), 24, idx)
            .expect("address");
        stack
    }

    /// A panic while a driver polls one stack (injected: frames reaching `panic0`) stops that
    /// stack alone: its calls and its blocked reader get EIO naming it, the driver threads
    /// live on, and stacks on the same drivers keep exchanging datagrams.
    #[test]
    fn a_panic_while_polling_stops_that_stack_alone() {
        let hub = format!("hub://@panic-test-{}", std::process::id());
        // Several healthy stacks, so that some share the failing stack's driver thread.
        let bad = node(&format!("panic0:{hub}"), "panic0", [10, 91, 0, 1]);
        let a = node(&hub, "vde0", [10, 91, 0, 2]);
        let b = node(&hub, "vde0", [10, 91, 0, 3]);
        let c = node(&hub, "vde0", [10, 91, 0, 4]);
        // The trigger has a stack of its own: its interface keeps asking for the failed
        // stack's MAC, which would delay its other lookups (smoltcp resolves one neighbour
        // per second per interface).
        let trigger = node(&hub, "vde0", [10, 91, 0, 5]);
        let blocked = bad
            .udp_bind("10.91.0.1:9")
            .expect("bind on the stack to fail");
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            blocked.recv_from(&mut buf)
        });
        let before = crate::driver::driver_threads();
        let start = std::time::Instant::now();
        while threads() < before && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        PANIC_ARMED.store(true, std::sync::atomic::Ordering::SeqCst);
        // Traffic towards the bad stack reaches its interface: ARP for 10.91.0.1.
        let sa = trigger.udp_bind("10.91.0.5:0").expect("bind");
        sa.send_to(b"hello", "10.91.0.1:9").expect("send");
        let got = reader.join().expect("reader thread");
        let e = got.expect_err("the blocked reader wakes with an error");
        assert_eq!(ioth::errno_of(&e), libc::EIO, "{e}");
        assert!(
            e.to_string()
                .contains(&format!("smoltcp stack {} stopped", bad.name())),
            "{e}"
        );
        let e = bad
            .udp_bind("10.91.0.1:10")
            .expect_err("calls on a failed stack fail");
        assert_eq!(ioth::errno_of(&e), libc::EIO, "{e}");
        assert!(before > 0);
        assert_eq!(threads(), before, "every driver thread is alive");
        // The others, whichever driver serves them, go on.
        for (from, to, to_ip) in [(&a, &b, 3u8), (&b, &c, 4), (&c, &a, 2)] {
            let rx = to
                .udp_bind(format!("10.91.0.{to_ip}:7000"))
                .expect("bind receiver");
            rx.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let tx = from.udp_bind("0.0.0.0:0").expect("bind sender");
            tx.send_to(b"ping", (Ipv4Addr::new(10, 91, 0, to_ip), 7000))
                .expect("send");
            let mut buf = [0u8; 8];
            let (n, _) = rx
                .recv_from(&mut buf)
                .expect("healthy stacks still deliver");
            assert_eq!(&buf[..n], b"ping");
        }
    }
}
