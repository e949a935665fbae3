//! Hubs and switches served by this process.
//!
//! A [`Hub`] forwards each frame a member sends to every other member (a hub) or, when it
//! learned where the destination MAC lives, only there (a switch: `HubKind::Switch`, entries
//! expire after `expiretime` seconds, 120 by default). Members are:
//!
//! * in-process links ([`Hub::connect`], `hub://@NAME`, `hub://PATH`): the sender's thread
//!   copies the frame straight into each receiver's queue (see the `queue` module docs): no
//!   system call, no allocation per frame;
//! * other processes, when the hub serves a path ([`Hub::serve`], `hub://PATH`): they join
//!   over the VDE control protocol exactly as with vde_switch, and their frames travel as unix
//!   datagrams. One service thread per served hub handles all of them.
//!
//! # `hub:///PATH` and `switch:///PATH`: serve or join
//!
//! Opening a path hub gives, in this order:
//! * the hub this process already has at PATH (opened before, or [`Hub::serve`]): an
//!   in-process member of it;
//! * if another process serves PATH (its `PATH/ctl` accepts a connection: our hubs,
//!   vdehub, vde_switch): a member joined to it as `vde://PATH` would be. Of the VNL's
//!   options, the impairment ones (`loss`, `dup`, `delay`, `reorder`, `rate`) apply to the
//!   frames the member sends, as for an in-process member; `mode`, `dirmode`, `grp`,
//!   `expiretime` and `queue` concern the serving process and are ignored; `hub` or
//!   `switch` is whatever the serving process made;
//! * otherwise this process serves PATH: created, or taken over when the server that left
//!   it is gone (`PATH/ctl` refuses connections), its stale sockets removed and nothing
//!   else: a PATH holding files no hub made is refused with an error naming it. An empty
//!   directory that is there already is used.
//!
//! Two processes opening the same PATH at once: one serves, the other joins (both check
//! and set up under a lock of the directory; a join that finds the server gone is tried
//! again, a bounded number of times).
//!
//! A hub served by a process lives as long as that process uses it: when its last member
//! and handle there are dropped, the service thread stops and removes what it made (its
//! sockets and the directory, if nothing else is in it). A process that exits normally
//! (a return from `main`, `std::process::exit`) with a hub still served, held by a static
//! or by a thread still running, has the same files removed by an exit hook (`atexit`).
//! Members that other processes joined then go down (`ENETDOWN`, [`Link::is_up`] false),
//! like members of a vde_switch that exits, and come back if a process serves PATH
//! again. A process killed by SIGKILL, or by a signal it installed no handler for
//! (SIGTERM, SIGINT by default), runs neither destructors nor exit hooks: `PATH/ctl` and
//! the data sockets stay behind, and the next process opening PATH takes it over as
//! above. This crate installs no signal handler; a program that wants a clean exit on
//! SIGTERM handles it and exits (or drops its stacks and links).
//! [`served_by_this_process`] tells whether an opened path hub is served here or joined.
//!
//! Each in-process member has a receive queue: senders append a copy under a short lock,
//! the receiver swaps the whole list out in O(1), buffers are reused (no allocation in steady
//! traffic). Queues grow lazily up to `queue_len` frames (256 by default; `queue=N` in a
//! VNL), so an idle member costs a few hundred bytes and a busy one at most 2 × queue_len ×
//! 1518 bytes. The member's fd (an eventfd) is written only when its queue goes from empty to
//! non-empty and read only when a receive empties it: readable exactly while a frame waits.
//! A hub floods in O(members) per frame; a switch sends known unicast in O(1).
//!
//! Frames shorter than 14 bytes are dropped; longer than 1518 are cut to 1518 (vde_switch's
//! behaviour). A full receiver queue (in-process) or socket (other process) drops the frame
//! for that receiver only.

mod queue;
mod server;

pub use queue::{DEFAULT_QUEUE_LEN, Doorbell};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::eth::{self, ETH_HEADER_LEN, MAX_FRAME_LEN, Mac};
use crate::impair::{DelayLine, DelaySink, Impairer, Impairment, Verdict};
use crate::link::{Endpoint, Link};
use crate::slots::Slots;
use crate::sys;
use crate::vnl::Vnl;
use queue::LocalQueue;
use server::{Server, Started};

/// Whether frames go everywhere or where their destination was learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HubKind {
    /// Every frame to every other member.
    Hub,
    /// Learns source MACs (per VLAN); known unicast goes to one member only.
    Switch,
}

/// How a hub is built.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Hub or switch.
    pub kind: HubKind,
    /// Receive queue length of each in-process member (frames).
    pub queue_len: usize,
    /// How long a learned MAC stays valid (switch).
    pub expire: Duration,
    /// Impairment applied to every frame entering the hub.
    pub impairment: Impairment,
    /// Impairment of the frames sent by the member holding port N, whoever joins it.
    pub port_impairment: Vec<(u32, Impairment)>,
}

impl Default for HubConfig {
    fn default() -> HubConfig {
        HubConfig {
            kind: HubKind::Hub,
            queue_len: DEFAULT_QUEUE_LEN,
            expire: Duration::from_secs(120),
            impairment: Impairment::default(),
            port_impairment: Vec::new(),
        }
    }
}

/// How a served hub's files are made and how much its control socket takes in.
///
/// The limits keep a hub usable while others abuse it: a connection that sends no port
/// request within `idle_timeout` is closed; when `max_connections` (or the room the
/// process's open-file limit leaves: all but an eighth of it, at least 16 and at most 256
/// kept back) or a user's `max_per_uid` is reached, the oldest connection of that kind still
/// waiting for its request is closed to make room for the new one, and a new connection
/// finding only members is closed. Members are never closed for a limit.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Mode of `PATH/ctl` and of each data socket (default 0600).
    pub mode: u32,
    /// Mode of the directory (default 02700, or derived from `mode` as vdeplug4 does).
    pub dirmode: Option<u32>,
    /// Group owning the directory and sockets.
    pub group: Option<u32>,
    /// How long a control connection may stay open without a complete port request
    /// (default 10 s).
    pub idle_timeout: Duration,
    /// Most control connections at once, waiting or members (default 1024).
    pub max_connections: usize,
    /// Most control connections at once from one user, by the peer's uid (default 256).
    pub max_per_uid: usize,
}

/// [`ServeConfig::idle_timeout`] unless told otherwise.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// [`ServeConfig::max_connections`] unless told otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// [`ServeConfig::max_per_uid`] unless told otherwise.
pub const DEFAULT_MAX_PER_UID: usize = 256;

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            mode: 0o600,
            dirmode: None,
            group: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_uid: DEFAULT_MAX_PER_UID,
        }
    }
}

/// Counters of one port, seen from the member: `in` = frames it sent into the hub.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Port number (1, 2, ... or the number a VDE client asked for).
    pub port: u32,
    /// True for a member in another process.
    pub remote: bool,
    /// The member's description (from its control request for remote members).
    pub description: String,
    /// Frames the member sent into the hub.
    pub frames_in: u64,
    /// Bytes the member sent into the hub.
    pub bytes_in: u64,
    /// Frames the hub delivered to the member.
    pub frames_out: u64,
    /// Bytes the hub delivered to the member.
    pub bytes_out: u64,
    /// Frames lost at this port: runts it sent, frames its full queue/socket refused,
    /// frames its impairment dropped.
    pub dropped: u64,
}

#[derive(Default)]
struct Counters {
    frames_in: AtomicU64,
    bytes_in: AtomicU64,
    frames_out: AtomicU64,
    bytes_out: AtomicU64,
    dropped: AtomicU64,
    /// Runts the member sent (part of `dropped`).
    runts: AtomicU64,
    /// Frames for the member its full queue or socket refused (part of `dropped`).
    refused: AtomicU64,
}

enum Sink {
    Local(LocalQueue),
    Remote(OwnedFd),
}

/// One member of a hub.
pub(crate) struct Port {
    id: u32,
    sink: Sink,
    description: String,
    impair: Option<Impairer>,
    c: Counters,
}

impl Port {
    /// Hands a frame to this member; counts a drop when its queue/socket is full.
    fn put(&self, frame: &[u8]) {
        let ok = match &self.sink {
            Sink::Local(q) => q.push(frame),
            Sink::Remote(fd) => sys::send(fd.as_raw_fd(), frame, libc::MSG_DONTWAIT).is_ok(),
        };
        if ok {
            self.c.frames_out.fetch_add(1, Relaxed);
            self.c.bytes_out.fetch_add(frame.len() as u64, Relaxed);
        } else {
            self.c.dropped.fetch_add(1, Relaxed);
            self.c.refused.fetch_add(1, Relaxed);
        }
    }

    fn remote_fd(&self) -> Option<&OwnedFd> {
        match &self.sink {
            Sink::Remote(fd) => Some(fd),
            Sink::Local(_) => None,
        }
    }
}

struct PortTable {
    list: Vec<Arc<Port>>,
    used: HashSet<u32>,
    free: BinaryHeap<Reverse<u32>>,
    next: u32,
}

impl PortTable {
    /// Reserves port `want`, or the lowest free number from 1 when `want` is None.
    fn alloc(&mut self, want: Option<u32>) -> Option<u32> {
        match want {
            Some(n) => self.used.insert(n).then_some(n),
            None => {
                while let Some(Reverse(n)) = self.free.pop() {
                    if self.used.insert(n) {
                        return Some(n);
                    }
                }
                while self.used.contains(&self.next) {
                    self.next = self.next.checked_add(1)?;
                }
                let n = self.next;
                self.used.insert(n);
                self.next = n.checked_add(1)?;
                Some(n)
            }
        }
    }

    fn release(&mut self, n: u32) {
        self.used.remove(&n);
        if n < self.next && n != 0 {
            self.free.push(Reverse(n));
        }
    }
}

/// A function given every frame entering a hub (see [`Hub::set_capture`]).
pub type Capture = Box<dyn FnMut(&[u8]) + Send>;

/// Learned (MAC, VLAN) → port and when it was last seen.
type MacTable = HashMap<(Mac, u16), (Arc<Port>, Instant)>;

/// The forwarding plane shared by members, the service thread and the delay line.
pub(crate) struct HubCore {
    me: Weak<HubCore>,
    cfg: HubConfig,
    ports: RwLock<PortTable>,
    macs: RwLock<MacTable>,
    capture_on: AtomicBool,
    capture: Mutex<Option<Capture>>,
    impair: Option<Impairer>,
    delay: OnceLock<Option<DelayLine<Arc<Port>>>>,
}

impl HubCore {
    fn new(cfg: HubConfig) -> Arc<HubCore> {
        Arc::new_cyclic(|me| HubCore {
            me: me.clone(),
            impair: (!cfg.impairment.is_none()).then(|| Impairer::new(cfg.impairment.clone())),
            cfg,
            ports: RwLock::new(PortTable {
                list: Vec::new(),
                used: HashSet::new(),
                free: BinaryHeap::new(),
                next: 1,
            }),
            macs: RwLock::new(HashMap::new()),
            capture_on: AtomicBool::new(false),
            capture: Mutex::new(None),
            delay: OnceLock::new(),
        })
    }

    /// Adds a member; EADDRINUSE when port `want` is taken.
    fn add_port(
        &self,
        want: Option<u32>,
        sink: Sink,
        description: String,
        impairment: &Impairment,
    ) -> io::Result<Arc<Port>> {
        let mut t = self.ports.write().unwrap_or_else(|e| e.into_inner());
        let id = t
            .alloc(want)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EADDRINUSE))?;
        let impairment = if impairment.is_none() {
            self.cfg
                .port_impairment
                .iter()
                .find(|(n, _)| *n == id)
                .map_or(impairment, |(_, i)| i)
        } else {
            impairment
        };
        let port = Arc::new(Port {
            id,
            sink,
            description,
            impair: (!impairment.is_none()).then(|| Impairer::new(impairment.clone())),
            c: Counters::default(),
        });
        t.list.push(port.clone());
        Ok(port)
    }

    /// Removes a member and forgets the MACs learned on it.
    fn remove_port(&self, port: &Arc<Port>) {
        {
            let mut t = self.ports.write().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = t.list.iter().position(|p| Arc::ptr_eq(p, port)) {
                t.list.swap_remove(i);
                t.release(port.id);
            }
        }
        if self.cfg.kind == HubKind::Switch {
            let mut m = self.macs.write().unwrap_or_else(|e| e.into_inner());
            m.retain(|_, (p, _)| !Arc::ptr_eq(p, port));
        }
    }

    /// A frame sent by member `src`: check, count, capture, impair, forward.
    fn ingress(&self, src: &Arc<Port>, frame: &[u8]) {
        if frame.len() < ETH_HEADER_LEN {
            src.c.dropped.fetch_add(1, Relaxed);
            src.c.runts.fetch_add(1, Relaxed);
            return;
        }
        let frame = &frame[..frame.len().min(MAX_FRAME_LEN)];
        src.c.frames_in.fetch_add(1, Relaxed);
        src.c.bytes_in.fetch_add(frame.len() as u64, Relaxed);
        if self.capture_on.load(Relaxed)
            && let Some(cap) = self
                .capture
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
        {
            cap(frame);
        }
        if src.impair.is_none() && self.impair.is_none() {
            self.deliver(src, frame);
            return;
        }
        let now = Instant::now();
        let mut copies = 1u8;
        let mut due: Option<Instant> = None;
        for imp in [src.impair.as_ref(), self.impair.as_ref()]
            .into_iter()
            .flatten()
        {
            match imp.judge(frame.len(), due.unwrap_or(now)) {
                Verdict::Drop => {
                    src.c.dropped.fetch_add(1, Relaxed);
                    return;
                }
                Verdict::Now(c) => copies = copies.saturating_mul(c),
                Verdict::Later(c, d) => {
                    copies = copies.saturating_mul(c);
                    due = Some(d);
                }
            }
        }
        match due {
            None => {
                for _ in 0..copies {
                    self.deliver(src, frame);
                }
            }
            Some(due) => {
                let line = self
                    .delay
                    .get_or_init(|| match DelayLine::start(self.me.clone()) {
                        Ok(l) => Some(l),
                        Err(e) => {
                            log::error!("cannot start the delay thread: {e}");
                            None
                        }
                    });
                for _ in 0..copies {
                    if !line
                        .as_ref()
                        .is_some_and(|l| l.hold(due, src.clone(), frame))
                    {
                        src.c.dropped.fetch_add(1, Relaxed);
                    }
                }
            }
        }
    }

    /// Forwards a checked frame from `src` to the other members.
    fn deliver(&self, src: &Arc<Port>, frame: &[u8]) {
        if self.cfg.kind == HubKind::Switch {
            let vlan = eth::vlan(frame);
            let now = Instant::now();
            let s = eth::src(frame);
            if !eth::is_group(&s) {
                self.learn((s, vlan), src, now);
            }
            let d = eth::dst(frame);
            if !eth::is_group(&d) {
                let m = self.macs.read().unwrap_or_else(|e| e.into_inner());
                if let Some((p, seen)) = m.get(&(d, vlan))
                    && now.saturating_duration_since(*seen) < self.cfg.expire
                {
                    if !Arc::ptr_eq(p, src) {
                        p.put(frame);
                    }
                    return;
                }
            }
        }
        let t = self.ports.read().unwrap_or_else(|e| e.into_inner());
        for p in &t.list {
            if !Arc::ptr_eq(p, src) {
                p.put(frame);
            }
        }
    }

    fn learn(&self, key: (Mac, u16), src: &Arc<Port>, now: Instant) {
        {
            let m = self.macs.read().unwrap_or_else(|e| e.into_inner());
            if let Some((p, seen)) = m.get(&key)
                && Arc::ptr_eq(p, src)
                && now.saturating_duration_since(*seen) < Duration::from_secs(1)
            {
                return;
            }
        }
        let mut m = self.macs.write().unwrap_or_else(|e| e.into_inner());
        if m.len() > 65_536 {
            let expire = self.cfg.expire;
            m.retain(|_, (_, seen)| now.saturating_duration_since(*seen) < expire);
        }
        m.insert(key, (src.clone(), now));
    }

    fn stats(&self) -> Vec<PortStats> {
        let t = self.ports.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<PortStats> = t
            .list
            .iter()
            .map(|p| PortStats {
                port: p.id,
                remote: matches!(p.sink, Sink::Remote(_)),
                description: p.description.clone(),
                frames_in: p.c.frames_in.load(Relaxed),
                bytes_in: p.c.bytes_in.load(Relaxed),
                frames_out: p.c.frames_out.load(Relaxed),
                bytes_out: p.c.bytes_out.load(Relaxed),
                dropped: p.c.dropped.load(Relaxed),
            })
            .collect();
        v.sort_by_key(|s| s.port);
        v
    }
}

impl DelaySink<Arc<Port>> for HubCore {
    fn deliver_delayed(&self, src: &Arc<Port>, frame: &[u8]) {
        self.deliver(src, frame);
    }
}

/// What members and handles share: the forwarding plane and, if served, the service thread.
struct HubShared {
    core: Arc<HubCore>,
    server: Mutex<Option<Server>>,
    /// Entered in [`REGISTRY`] (then its drop takes the entries out).
    registered: AtomicBool,
}

impl Drop for HubShared {
    /// Stops the service thread, which removes the served files, and only then takes this
    /// hub out of the registry: an opening of the same name or path in this process waits
    /// for that instead of finding the path half served.
    fn drop(&mut self) {
        drop(
            self.server
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        if self.registered.load(Relaxed) {
            let me: *const HubShared = self;
            let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
            reg.retain(|_, w| !std::ptr::eq(w.as_ptr(), me));
            REGISTRY_CHANGED.notify_all();
        }
    }
}

/// An Ethernet hub or switch living in this process. Cloning gives another handle to the
/// same hub; the hub lives while a handle or a member ([`Link`]) does, and a served path is
/// removed when it ends.
///
/// A hub floods every frame to every other member and counts per port:
///
/// ```
/// use vde::Hub;
/// # fn main() -> std::io::Result<()> {
/// # fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
/// #     let mut f = vec![0u8; 60];
/// #     f[..6].copy_from_slice(&dst);
/// #     f[6..12].copy_from_slice(&src);
/// #     f
/// # }
/// let hub = Hub::new();
/// let (a, b, c) = (hub.connect()?, hub.connect()?, hub.connect()?);
/// a.send(&frame([0x02, 0, 0, 0, 0, 0xbb], [0x02, 0, 0, 0, 0, 0xaa]))?;
/// let mut buf = [0u8; vde::MAX_FRAME_LEN];
/// assert_eq!(b.recv(&mut buf)?, 60);
/// assert_eq!(c.recv(&mut buf)?, 60); // a hub: c gets b's frame too
///
/// let stats = hub.stats(); // ports 1, 2, 3, in the order the members joined
/// assert_eq!((stats[0].port, stats[0].frames_in, stats[0].bytes_in), (1, 1, 60));
/// assert_eq!((stats[1].frames_out, stats[2].frames_out), (1, 1));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Hub {
    shared: Arc<HubShared>,
}

impl Hub {
    /// A new in-process hub (every frame to every other member), reachable only through
    /// this handle.
    pub fn new() -> Hub {
        Hub::with_config(HubConfig::default())
    }

    /// A new in-process learning switch.
    ///
    /// It learns where each source MAC lives; unicast to a known MAC goes to that member
    /// alone, broadcast and unknown destinations to all the others:
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    /// #     let mut f = vec![0u8; 60];
    /// #     f[..6].copy_from_slice(&dst);
    /// #     f[6..12].copy_from_slice(&src);
    /// #     f
    /// # }
    /// const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];
    /// const C: [u8; 6] = [0x02, 0, 0, 0, 0, 0xcc];
    /// let switch = vde::Hub::new_switch();
    /// let (a, b, c) = (switch.connect()?, switch.connect()?, switch.connect()?);
    /// let mut buf = [0u8; vde::MAX_FRAME_LEN];
    /// a.send(&frame([0xff; 6], A))?; // a broadcast: everyone, and A is learnt
    /// assert!(b.recv(&mut buf).is_ok() && c.recv(&mut buf).is_ok());
    ///
    /// c.send(&frame(A, C))?; // to A: only a's member gets it
    /// assert_eq!(a.recv(&mut buf)?, 60);
    /// assert_eq!(b.recv(&mut buf).expect_err("not for b").kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new_switch() -> Hub {
        Hub::with_config(HubConfig {
            kind: HubKind::Switch,
            ..HubConfig::default()
        })
    }

    /// A new hub or switch built as `cfg` says.
    pub fn with_config(cfg: HubConfig) -> Hub {
        Hub {
            shared: Arc::new(HubShared {
                core: HubCore::new(cfg),
                server: Mutex::new(None),
                registered: AtomicBool::new(false),
            }),
        }
    }

    /// The hub of this process registered under `name` (the one `hub://@NAME` and
    /// `switch://@NAME` open), created with `cfg` if it does not exist yet. EADDRINUSE if it
    /// exists with another kind.
    ///
    /// ```
    /// use vde::{Hub, HubConfig, HubKind};
    /// # fn main() -> std::io::Result<()> {
    /// let hub = Hub::named("lab", HubConfig { queue_len: 16, ..HubConfig::default() })?;
    /// let member = hub.connect()?;
    /// let other = vde::open("hub://@lab")?; // joins the same hub
    /// other.send(&[0xff; 60])?;
    /// let mut buf = [0u8; vde::MAX_FRAME_LEN];
    /// assert_eq!(member.recv(&mut buf)?, 60);
    ///
    /// let as_switch = HubConfig { kind: HubKind::Switch, ..HubConfig::default() };
    /// let err = Hub::named("lab", as_switch).expect_err("lab is a hub");
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// # Ok(())
    /// # }
    /// ```
    pub fn named(name: &str, cfg: HubConfig) -> io::Result<Hub> {
        registry_get_or_create(&format!("@{name}"), cfg.kind, || {
            Ok(Some(Hub::with_config(cfg.clone())))
        })?
        // (Never None: the closure always makes one.)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
    }

    /// Hub or switch.
    pub fn kind(&self) -> HubKind {
        self.shared.core.cfg.kind
    }

    /// A new in-process member.
    pub fn connect(&self) -> io::Result<Link> {
        self.connect_with(&Impairment::default())
    }

    /// A new in-process member whose sent frames suffer `impairment`.
    ///
    /// ```
    /// use vde::{Hub, Impairment};
    /// # fn main() -> std::io::Result<()> {
    /// let hub = Hub::new();
    /// let lossy = hub.connect_with(&Impairment { loss: 100.0, ..Impairment::default() })?;
    /// let peer = hub.connect()?;
    /// lossy.send(&[0xff; 60])?; // accepted, and lost on the way
    /// peer.send(&[0xff; 60])?; // the other way is not impaired
    /// let mut buf = [0u8; vde::MAX_FRAME_LEN];
    /// assert!(peer.recv(&mut buf).is_err());
    /// assert_eq!(lossy.recv(&mut buf)?, 60);
    /// assert_eq!(hub.stats()[0].dropped, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_with(&self, impairment: &Impairment) -> io::Result<Link> {
        let label = format!("hub member of {:p}", Arc::as_ptr(&self.shared));
        Ok(Link::new(Box::new(self.member(impairment)?), label))
    }

    fn member(&self, impairment: &Impairment) -> io::Result<Member> {
        let core = &self.shared.core;
        let q = LocalQueue::new(core.cfg.queue_len)?;
        let port = core.add_port(None, Sink::Local(q), "in-process".into(), impairment)?;
        Ok(Member {
            shared: self.shared.clone(),
            port,
        })
    }

    /// Serves this hub at `path` on the VDE control protocol so other processes join it
    /// (`vde_plug vde://PATH`, any vde_switch client). `path` is created, and removed when
    /// the hub ends (see the module docs for what a killed process leaves). A `path` left
    /// behind by a server that died (its `ctl` socket refuses connections) is taken over,
    /// its stale sockets removed (logged); an existing empty directory is used (and
    /// removed when the hub ends); a live switch there, a `path` holding anything a hub did
    /// not make, or one that is not a directory is `AlreadyExists` with a text naming the
    /// path. Every error names the path it is about. One service thread handles all remote
    /// members, within `cfg`'s limits. Opening `hub://PATH` in this process afterwards
    /// joins this hub.
    ///
    /// ```
    /// use vde::{Hub, ServeConfig};
    /// # fn main() -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("vde-doc-serve-{}", std::process::id()));
    /// let hub = Hub::new();
    /// let served = hub.serve(&path, &ServeConfig::default())?;
    /// assert!(served.join("ctl").exists()); // what vde_plug vde://PATH connects to
    /// assert!(vde::hub::served_by_this_process(&path));
    ///
    /// drop(hub); // the last handle: the service ends and removes what it made
    /// assert!(!path.exists());
    /// # Ok(())
    /// # }
    /// ```
    pub fn serve(&self, path: &Path, cfg: &ServeConfig) -> io::Result<PathBuf> {
        let mut slot = self.shared.server.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!("{}: this hub is already served at a path", path.display()),
            ));
        }
        let canon = canonical_new_path(path)?;
        let key = canon.to_string_lossy().into_owned();
        let (mut reg, other) = registry_entry(&key);
        if other.is_some() {
            drop(reg);
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{}: another hub of this process is serving here",
                    canon.display()
                ),
            ));
        }
        match Server::start(self.shared.core.clone(), &canon, cfg)? {
            Started::Serving(server) => *slot = Some(server),
            Started::Live => return Err(live(&canon)),
        }
        self.shared.registered.store(true, Relaxed);
        reg.insert(key, Arc::downgrade(&self.shared));
        Ok(canon)
    }

    /// Per-port counters, by port number.
    pub fn stats(&self) -> Vec<PortStats> {
        self.shared.core.stats()
    }

    /// Calls `f` with every frame entering the hub (after the runt check and truncation,
    /// before impairment); `None` stops capturing.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # fn main() -> std::io::Result<()> {
    /// let hub = vde::Hub::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// hub.set_capture(Some(Box::new(move |frame: &[u8]| {
    ///     log.lock().expect("capture log").push(frame.len());
    /// })));
    /// let a = hub.connect()?; // alone on the hub: its frame reaches nobody, yet is seen
    /// a.send(&[0xff; 60])?;
    /// a.send(&[0xff; 10])?; // a runt: dropped before capture
    /// a.send(&[0xff; 2000])?; // cut to 1518 as vde_switch does
    /// assert_eq!(*seen.lock().expect("capture log"), [60, 1518]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// [`crate::pcap::PcapWriter`] writes what it sees as a file tcpdump reads.
    pub fn set_capture(&self, f: Option<Capture>) {
        let core = &self.shared.core;
        let mut c = core.capture.lock().unwrap_or_else(|e| e.into_inner());
        core.capture_on.store(f.is_some(), Relaxed);
        *c = f;
    }
}

impl Default for Hub {
    fn default() -> Hub {
        Hub::new()
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("kind", &self.kind()).finish()
    }
}

/// An in-process member: sends run the forwarding in the caller's thread.
struct Member {
    shared: Arc<HubShared>,
    port: Arc<Port>,
}

impl Member {
    fn queue(&self) -> Option<&LocalQueue> {
        match &self.port.sink {
            Sink::Local(q) => Some(q),
            Sink::Remote(_) => None,
        }
    }
}

impl Endpoint for Member {
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.shared.core.ingress(&self.port, frame);
        Ok(())
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut lens = [0usize; 1];
        let slot = buf.len();
        match self.recv_batch(&mut Slots::new(buf, slot, &mut lens))? {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(lens[0]),
        }
    }

    fn recv_batch(&self, slots: &mut Slots<'_>) -> io::Result<usize> {
        match self.queue().map(|q| q.pop_batch(slots)) {
            Some(0) | None => Err(io::ErrorKind::WouldBlock.into()),
            Some(n) => Ok(n),
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match &self.port.sink {
            Sink::Local(q) => q.fd().as_fd(),
            Sink::Remote(fd) => fd.as_fd(),
        }
    }

    fn is_up(&self) -> bool {
        true
    }

    fn dropped(&self) -> u64 {
        self.port.c.dropped.load(Relaxed)
    }

    fn tx_dropped(&self) -> u64 {
        self.port.c.runts.load(Relaxed)
    }

    fn rx_dropped(&self) -> u64 {
        self.port.c.refused.load(Relaxed)
    }

    fn set_doorbell(&self, bell: Doorbell) -> bool {
        self.queue().is_some_and(|q| q.set_doorbell(bell))
    }

    fn wake(&self) {
        if let Some(q) = self.queue() {
            q.wake();
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.shared.core.remove_port(&self.port);
    }
}

/// Hubs of this process by name (`@NAME`) or canonical served path. An entry goes when its
/// hub's drop has finished (see [`HubShared`]'s `Drop`), with [`REGISTRY_CHANGED`] notified.
static REGISTRY: LazyLock<Mutex<HashMap<String, Weak<HubShared>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
/// Notified when a dropped hub left [`REGISTRY`].
static REGISTRY_CHANGED: Condvar = Condvar::new();
/// Longest wait for a hub of this process that is ending (its service thread removing
/// its files) to leave the registry; then its entry is dropped and the caller goes on.
const REGISTRY_DYING_WAIT: Duration = Duration::from_secs(10);

type Registry = MutexGuard<'static, HashMap<String, Weak<HubShared>>>;

/// The registry locked, with the live hub entered under `key` if there is one. A hub that
/// is ending is waited for (at most [`REGISTRY_DYING_WAIT`]).
fn registry_entry(key: &str) -> (Registry, Option<Arc<HubShared>>) {
    let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let end = Instant::now() + REGISTRY_DYING_WAIT;
    loop {
        let Some(weak) = reg.get(key) else {
            return (reg, None);
        };
        if let Some(shared) = weak.upgrade() {
            return (reg, Some(shared));
        }
        let now = Instant::now();
        if now >= end {
            log::warn!("hub {key}: its previous hub took too long to end; going on");
            reg.remove(key);
            return (reg, None);
        }
        reg = REGISTRY_CHANGED
            .wait_timeout(reg, end - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// The hub of this process under `key`, or the one `create` makes (entered under `key`),
/// or `None` when `create` finds nothing to make (a hub served by another process).
/// AddrInUse if the hub there is of another kind.
fn registry_get_or_create(
    key: &str,
    kind: HubKind,
    create: impl FnOnce() -> io::Result<Option<Hub>>,
) -> io::Result<Option<Hub>> {
    let (mut reg, found) = registry_entry(key);
    if let Some(shared) = found {
        drop(reg);
        // The registry is unlocked first: if this is the last handle, its drop takes the
        // lock.
        let hub = Hub { shared };
        if hub.kind() != kind {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{key} is already a {:?} in this process", hub.kind()),
            ));
        }
        return Ok(Some(hub));
    }
    let Some(hub) = create()? else {
        return Ok(None);
    };
    hub.shared.registered.store(true, Relaxed);
    reg.insert(key.to_owned(), Arc::downgrade(&hub.shared));
    Ok(Some(hub))
}

/// True while a hub of this process serves `path` (opened as `hub://PATH` or
/// `switch://PATH` and served here rather than joined, or [`Hub::serve`]). A program can
/// tell with it, after opening a path hub, whether it serves it or joined another
/// process's.
pub fn served_by_this_process(path: &Path) -> bool {
    let Ok(canon) = canonical_new_path(path) else {
        return false;
    };
    let key = canon.to_string_lossy().into_owned();
    let reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let Some(shared) = reg.get(&key).and_then(Weak::upgrade) else {
        return false;
    };
    drop(reg);
    // (Edition 2024: the guard, a temporary of the tail expression, goes before `shared`.)
    shared
        .server
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some()
}

/// The error of serving where a live switch serves already.
fn live(dir: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{}: a switch is already serving here",
            dir.join("ctl").display()
        ),
    )
}

/// `realpath(dirname(p)) + "/" + basename(p)`, as vdeplug4 names a node's directory.
fn canonical_new_path(p: &Path) -> io::Result<PathBuf> {
    let name = p.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a path a hub can be served at", p.display()),
        )
    })?;
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok(std::fs::canonicalize(parent)
        .map_err(|e| sys::at(parent, e))?
        .join(name))
}

/// The path vdeplug4 serves `hub://` with no path at: `/tmp/vdenode_USER`.
fn default_node_path() -> PathBuf {
    let uid = sys::geteuid();
    match sys::user_name(uid) {
        Some(n) => PathBuf::from(format!("/tmp/vdenode_{n}")),
        None => PathBuf::from(format!("/tmp/vdenode_u{uid}")),
    }
}

/// Opens `hub://...` or `switch://...`.
pub(crate) fn open_vnl(vnl: &Vnl, text: &str) -> io::Result<Link> {
    let kind = if vnl.scheme == "switch" {
        HubKind::Switch
    } else {
        HubKind::Hub
    };
    let member_impairment = Impairment::from_vnl(vnl)?;
    let queue_len = vnl
        .option_u64("queue")?
        .map_or(DEFAULT_QUEUE_LEN, |q| q.clamp(1, 65_536) as usize);
    let expire = Duration::from_secs(vnl.option_u64("expiretime")?.unwrap_or(120).max(1));
    let cfg = HubConfig {
        kind,
        queue_len,
        expire,
        ..HubConfig::default()
    };
    if let Some(name) = vnl.address.strip_prefix('@') {
        let hub = Hub::named(name, cfg)?;
        return Ok(Link::new(Box::new(hub.member(&member_impairment)?), text));
    }
    let path = if vnl.address.is_empty() {
        default_node_path()
    } else {
        PathBuf::from(&vnl.address)
    };
    let canon = canonical_new_path(&path)?;
    let mode = vnl.option_mode("mode")?.map(|m| m & !0o111);
    let dirmode = vnl.option_mode("dirmode")?;
    let group = match vnl.option("grp") {
        None => None,
        Some(g) => Some(sys::group_id(g).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("VNL {text}: unknown group grp={g:?}"),
            )
        })?),
    };
    let serve = ServeConfig {
        mode: mode.unwrap_or(0o600),
        dirmode,
        group,
        ..ServeConfig::default()
    };
    open_path(&canon, cfg, &serve, &member_impairment, text)
}

/// How many times opening a path hub tries again when the hub it was joining went away in
/// between (its server shutting down, or killed: then this process serves it).
const OPEN_ATTEMPTS: u32 = 20;

/// Opens the hub at `canon` (canonical): this process's own hub if it has one there; else
/// joins a live hub another process serves; else serves one (taking over a dead server's
/// path). Two processes doing this at once: one serves, the other joins.
fn open_path(
    canon: &Path,
    cfg: HubConfig,
    serve: &ServeConfig,
    impairment: &Impairment,
    text: &str,
) -> io::Result<Link> {
    let key = canon.to_string_lossy().into_owned();
    let ctl = canon.join("ctl");
    let kind = cfg.kind;
    let mut pause = Duration::from_millis(1);
    let mut attempt = 1;
    loop {
        let local = registry_get_or_create(&key, kind, || {
            if server::probe(&ctl)? == server::Probe::Live {
                return Ok(None);
            }
            let hub = Hub::with_config(cfg.clone());
            match Server::start(hub.shared.core.clone(), canon, serve)? {
                Started::Serving(s) => {
                    *hub.shared.server.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
                    Ok(Some(hub))
                }
                Started::Live => Ok(None),
            }
        })?;
        if let Some(hub) = local {
            return Ok(Link::new(Box::new(hub.member(impairment)?), text));
        }
        match crate::vde_client::join(canon) {
            Ok(joined) => {
                log::info!("joined the hub served at {}", canon.display());
                let endpoint: Box<dyn Endpoint> = if impairment.is_none() {
                    joined
                } else {
                    Box::new(ImpairedEndpoint::new(joined, impairment.clone()))
                };
                return Ok(Link::new(endpoint, text));
            }
            Err(e)
                if attempt < OPEN_ATTEMPTS
                    && matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
                    ) =>
            {
                log::debug!("{e}; trying {} again", canon.display());
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A member joined to another process's hub whose sent frames suffer an impairment, as
/// they would if it were an in-process member of a hub served here.
struct ImpairedEndpoint {
    out: Arc<Outgoing>,
    impairer: Impairer,
    delay: OnceLock<Option<DelayLine<()>>>,
    dropped: AtomicU64,
}

/// Where an [`ImpairedEndpoint`]'s frames go, now or when delayed.
struct Outgoing(Box<dyn Endpoint>);

impl DelaySink<()> for Outgoing {
    fn deliver_delayed(&self, _: &(), frame: &[u8]) {
        if let Err(e) = self.0.send(frame) {
            log::debug!("a delayed frame was lost: {e}");
        }
    }
}

impl ImpairedEndpoint {
    fn new(inner: Box<dyn Endpoint>, impairment: Impairment) -> ImpairedEndpoint {
        ImpairedEndpoint {
            out: Arc::new(Outgoing(inner)),
            impairer: Impairer::new(impairment),
            delay: OnceLock::new(),
            dropped: AtomicU64::new(0),
        }
    }
}

impl Endpoint for ImpairedEndpoint {
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        match self.impairer.judge(frame.len(), Instant::now()) {
            Verdict::Drop => {
                self.dropped.fetch_add(1, Relaxed);
                Ok(())
            }
            Verdict::Now(copies) => {
                for _ in 0..copies {
                    self.out.0.send(frame)?;
                }
                Ok(())
            }
            Verdict::Later(copies, due) => {
                let line =
                    self.delay
                        .get_or_init(|| match DelayLine::start(Arc::downgrade(&self.out)) {
                            Ok(l) => Some(l),
                            Err(e) => {
                                log::error!("cannot start the delay thread: {e}");
                                None
                            }
                        });
                for _ in 0..copies {
                    if !line.as_ref().is_some_and(|l| l.hold(due, (), frame)) {
                        self.dropped.fetch_add(1, Relaxed);
                    }
                }
                Ok(())
            }
        }
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.out.0.recv(buf)
    }

    fn recv_batch(&self, slots: &mut Slots<'_>) -> io::Result<usize> {
        self.out.0.recv_batch(slots)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.out.0.fd()
    }

    fn is_up(&self) -> bool {
        self.out.0.is_up()
    }

    fn generation(&self) -> u64 {
        self.out.0.generation()
    }

    fn max_frame(&self) -> usize {
        self.out.0.max_frame()
    }

    fn dropped(&self) -> u64 {
        self.out.0.dropped() + self.dropped.load(Relaxed)
    }

    fn tx_dropped(&self) -> u64 {
        self.out.0.tx_dropped()
    }

    fn rx_dropped(&self) -> u64 {
        self.out.0.rx_dropped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(dst: [u8; 6], src: [u8; 6], fill: u8, len: usize) -> Vec<u8> {
        let mut f = vec![fill; len];
        f[0..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&src);
        f[12] = 0x08;
        f[13] = 0x00;
        f
    }

    const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
    const BC: [u8; 6] = [0xff; 6];

    fn recv_all(l: &Link) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2000];
        while let Ok(n) = l.recv(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    }

    #[test]
    fn hub_floods_to_every_other_member() {
        let hub = Hub::new();
        let (a, b, c) = (
            hub.connect().unwrap(),
            hub.connect().unwrap(),
            hub.connect().unwrap(),
        );
        let f = frame(B, A, 7, 1514);
        a.send(&f).unwrap();
        assert!(recv_all(&a).is_empty(), "no echo to the sender");
        assert_eq!(recv_all(&b), vec![f.clone()]);
        assert_eq!(recv_all(&c), vec![f]);
    }

    #[test]
    fn runts_dropped_oversize_truncated() {
        let hub = Hub::new();
        let (a, b) = (hub.connect().unwrap(), hub.connect().unwrap());
        a.send(&[0u8; 13]).unwrap();
        assert!(recv_all(&b).is_empty());
        assert_eq!(a.dropped(), 1);
        a.send(&frame(B, A, 1, 14)).unwrap();
        a.send(&frame(B, A, 1, 2000)).unwrap();
        let got = recv_all(&b);
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![14, MAX_FRAME_LEN]
        );
    }

    #[test]
    fn switch_learns_and_sends_unicast_to_one_port() {
        let hub = Hub::new_switch();
        let (a, b, c) = (
            hub.connect().unwrap(),
            hub.connect().unwrap(),
            hub.connect().unwrap(),
        );
        // Unknown destination floods; the switch learns A on a's port and B on b's.
        a.send(&frame(BC, A, 1, 60)).unwrap();
        b.send(&frame(BC, B, 2, 60)).unwrap();
        recv_all(&a);
        recv_all(&b);
        recv_all(&c);
        a.send(&frame(B, A, 3, 60)).unwrap();
        assert_eq!(recv_all(&b).len(), 1);
        assert!(recv_all(&c).is_empty(), "c must not see unicast for B");
        // When b leaves, B is forgotten: frames for it flood again.
        drop(b);
        a.send(&frame(B, A, 4, 60)).unwrap();
        assert_eq!(recv_all(&c).len(), 1);
    }

    #[test]
    fn batch_receive_and_port_numbers() {
        let hub = Hub::new();
        let a = hub.connect().unwrap();
        let b = hub.connect().unwrap();
        for i in 0..10u8 {
            a.send(&frame(B, A, i, 100)).unwrap();
        }
        let mut batch = crate::FrameBatch::new(4);
        assert_eq!(b.recv_batch(&mut batch).unwrap(), 4);
        assert_eq!(batch.get(3).unwrap()[20], 3);
        assert_eq!(b.recv_batch(&mut batch).unwrap(), 4);
        assert_eq!(b.recv_batch(&mut batch).unwrap(), 2);
        assert_eq!(
            b.recv_batch(&mut batch).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        let st = hub.stats();
        assert_eq!(st.iter().map(|s| s.port).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!((st[0].frames_in, st[1].frames_out), (10, 10));
        drop(a);
        let c = hub.connect().unwrap();
        assert_eq!(
            hub.stats().iter().map(|s| s.port).collect::<Vec<_>>(),
            vec![1, 2],
            "port 1 reused"
        );
        drop(c);
    }

    #[test]
    fn full_member_queue_drops_for_that_member_only() {
        let hub = Hub::with_config(HubConfig {
            queue_len: 4,
            ..HubConfig::default()
        });
        let (a, slow, fast) = (
            hub.connect().unwrap(),
            hub.connect().unwrap(),
            hub.connect().unwrap(),
        );
        let mut n_fast = 0;
        for i in 0..10u8 {
            a.send(&frame(BC, A, i, 60)).unwrap();
            n_fast += recv_all(&fast).len();
        }
        assert_eq!(n_fast, 10);
        assert_eq!(recv_all(&slow).len(), 4);
        assert_eq!(slow.dropped(), 6);
    }

    #[test]
    fn named_hubs_are_shared_and_kinds_checked() {
        let name = format!("unit-{}", std::process::id());
        let a = crate::open(&format!("hub://@{name}")).unwrap();
        let b = crate::open(&format!("hub://@{name}")).unwrap();
        a.send(&frame(BC, A, 1, 60)).unwrap();
        assert_eq!(recv_all(&b).len(), 1);
        let e = crate::open(&format!("switch://@{name}")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn member_impairment_loss_applies_to_its_frames() {
        let name = format!("impair-{}", std::process::id());
        let lossy = crate::open(&format!("hub://@{name}[loss=100]")).unwrap();
        let clean = crate::open(&format!("hub://@{name}")).unwrap();
        lossy.send(&frame(BC, A, 1, 60)).unwrap();
        assert!(recv_all(&clean).is_empty());
        clean.send(&frame(BC, B, 1, 60)).unwrap();
        assert_eq!(recv_all(&lossy).len(), 1);
    }

    #[test]
    fn many_members_each_get_a_broadcast_and_only_the_destination_a_unicast() {
        let hub = Hub::new_switch();
        let members: Vec<Link> = (0..500).map(|_| hub.connect().unwrap()).collect();
        members[0].send(&frame(BC, A, 1, 60)).unwrap();
        for m in &members[1..] {
            assert_eq!(recv_all(m).len(), 1);
        }
        members[499].send(&frame(A, B, 2, 60)).unwrap();
        assert_eq!(recv_all(&members[0]).len(), 1);
        assert!(members[1..499].iter().all(|m| recv_all(m).is_empty()));
    }

    #[test]
    fn delayed_frames_arrive_later_in_order() {
        let hub = Hub::with_config(HubConfig {
            impairment: Impairment {
                delay: Duration::from_millis(20),
                ..Default::default()
            },
            ..HubConfig::default()
        });
        let (a, b) = (hub.connect().unwrap(), hub.connect().unwrap());
        for i in 0..5u8 {
            a.send(&frame(BC, A, i, 60)).unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 5 && sys::poll_in(b.as_raw_fd(), 5000).unwrap() {
            got.extend(recv_all(&b));
        }
        assert_eq!(
            got.iter().map(|f| f[20]).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
    }
}
