//! Serving a hub on the VDE control protocol: `PATH/ctl` accepts clients exactly as
//! vde_switch 2.3.2 does, one service thread per served hub handles every remote member.
//!
//! Per client: one read of at most 256 bytes must hold a whole version-3 request (anything
//! malformed, truncated or oversized closes that connection alone); the client's data socket
//! must be readable and writable by this process (`access(R_OK|W_OK)`, vde_switch's check)
//! and its owner becomes the port's user; our data socket connects to it, is bound at
//! `PATH/NNN.FD`, gets the hub's mode (as root: owned by that user with mode & 0700, as
//! vde_switch does) and its address is the 110-byte reply. EOF on the control stream frees
//! the port.
//!
//! Under abuse (see [`ServeConfig`]): a connection that sends no request within the idle
//! timeout is closed; connections are bounded in total, per client uid (`SO_PEERCRED`) and
//! by the process's open-file limit, and when a bound is reached the oldest connection still
//! waiting for its request is closed to make room (a member is never evicted; when only
//! members hold the room, the new connection is closed instead); `accept` failing for want
//! of file descriptors pauses accepting for 100 ms instead of spinning; each kind of
//! repeated log line appears at most once a second, with a count of the suppressed ones.
//!
//! The directory: setting a server up (mkdir, checks, bind and listen of `PATH/ctl`) and
//! shutting it down (removing its files) happen under an exclusive `flock` of `PATH`, which
//! this crate's hubs in every process take, so that of two processes starting at once one
//! serves and the other finds `PATH/ctl` live, and neither removes the other's files. A
//! path left behind by a server that died (its `PATH/ctl` refuses connections: ECONNREFUSED,
//! as vde_switch judges a dead control socket) is taken over: its stale sockets (`ctl`,
//! data sockets `NNN.FD`, clients' `.PID-SEQ` handshake sockets) are removed, and only
//! those; a directory holding anything else is refused, naming it, and left untouched. A
//! live server there is [`Started::Live`]. An empty directory is served in: under the lock
//! nothing tells one another process made an instant ago (and lost the race to lock)
//! from one made by anyone earlier. At the end the server removes its data sockets, its
//! `ctl` (only if it is still the socket it bound) and the directory, if nothing else is
//! in it (`rmdir`, never a recursive removal). A process killed (SIGKILL, or a signal it
//! has no handler for) removes nothing: the next server takes the path over. A process
//! that exits (a return from `main`, `std::process::exit`) while a hub is still served,
//! held by a static or by a thread still running, has its files removed by an exit hook
//! (`atexit`; no signal handler is installed).

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{HubCore, Port, ServeConfig, Sink};
use crate::ctl::{CtlRequest, MAX_REQUEST_LEN, PortRequest};
use crate::eth::MAX_FRAME_LEN;
use crate::impair::Impairment;
use crate::pace::{RateLimit, suppressed};
use crate::slots::Slots;
use crate::sys::{self, Epoll, MMSG_MAX};

const TOKEN_STOP: u64 = 0;
const TOKEN_LISTEN: u64 = 1;
/// Most connections accepted in one round (then the other ready fds get their turn).
const ACCEPT_BATCH: usize = 64;
/// How long accepting pauses when the process (or system) is out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Length of the listen backlog of `PATH/ctl`.
const BACKLOG: i32 = 128;

/// A running service thread; dropping it stops the thread and removes the files.
pub(crate) struct Server {
    stop: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

enum Conn {
    /// Accepted, waiting for its request.
    Pending { fd: OwnedFd, uid: u32 },
    /// A remote member.
    Active {
        ctl: OwnedFd,
        port: Arc<Port>,
        data_path: PathBuf,
        uid: u32,
    },
}

/// One rate limit per kind of repeated log line.
struct Logs {
    accept: RateLimit,
    limit: RateLimit,
    idle: RateLimit,
    bad: RateLimit,
    refused: RateLimit,
}

struct State {
    core: Arc<HubCore>,
    dir: PathBuf,
    /// Device and inode of our `ctl`: only that file is removed at the end.
    ctl_id: (u64, u64),
    cfg: ServeConfig,
    epoll: Epoll,
    listener: OwnedFd,
    conns: HashMap<u64, Conn>,
    next_id: u64,
    /// Pending connections in accept order (ids that became members or closed are skipped).
    pending: VecDeque<(u64, Instant)>,
    per_uid: HashMap<u32, usize>,
    /// File descriptors held for connections: one per pending, two per member.
    fds: usize,
    /// How many `fds` the open-file limit leaves room for.
    fd_budget: usize,
    /// While accepting is paused (out of fds): when it resumes.
    resume_accept: Option<Instant>,
    logs: Logs,
}

fn set_mode(p: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).map_err(|e| sys::at(p, e))
}

fn chgrp(p: &Path, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(p, None, Some(gid)).map_err(|e| sys::at(p, e))
}

fn exists(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::AlreadyExists, msg)
}

/// File descriptors the service may use for connections under an open-file limit of
/// `nofile`: all but a reserve (an eighth, between 16 and 256) for the rest of the process.
pub(crate) fn fd_budget(nofile: u64) -> usize {
    let reserve = (nofile / 8).clamp(16, 256);
    usize::try_from(nofile.saturating_sub(reserve)).unwrap_or(usize::MAX)
}

/// What a connection attempt to a hub's `PATH/ctl` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Something accepts connections there (or its backlog is full): a live switch.
    Live,
    /// A socket file nobody listens on (ECONNREFUSED): its server is gone.
    Stale,
    /// No socket there (ENOENT, or a path component is not a directory).
    Absent,
}

/// Tries to connect to `ctl` without waiting. Errors (EACCES...) name `ctl`.
pub(crate) fn probe(ctl: &Path) -> io::Result<Probe> {
    let fd =
        sys::unix_socket(libc::SOCK_STREAM | libc::SOCK_NONBLOCK).map_err(|e| sys::at(ctl, e))?;
    match sys::connect_un_nonblocking(&fd, ctl) {
        Ok(_) => Ok(Probe::Live),
        Err(e) => match e.raw_os_error() {
            Some(libc::EAGAIN) => Ok(Probe::Live),
            Some(libc::ECONNREFUSED) => Ok(Probe::Stale),
            Some(libc::ENOENT | libc::ENOTDIR) => Ok(Probe::Absent),
            _ => Err(sys::at(ctl, e)),
        },
    }
}

/// How long setting up or shutting down a hub waits for another process that holds the
/// lock of the same directory (it does either in milliseconds).
const LOCK_WAIT: Duration = Duration::from_secs(5);
/// How many times the directory may vanish under us (a server shutting down there) before
/// serving gives up.
const CLAIM_ATTEMPTS: usize = 20;

/// An exclusive `flock` on a hub's directory, released when dropped. Hubs of this crate
/// set up and shut down under it, so two processes never both serve one path and neither
/// removes files of a server the other has just started.
struct DirLock {
    _dir: std::fs::File,
}

/// Waits (at most [`LOCK_WAIT`]) for the lock of the open directory `f`.
fn lock(f: &std::fs::File, dir: &Path) -> io::Result<()> {
    let end = Instant::now() + LOCK_WAIT;
    let mut pause = Duration::from_millis(1);
    while !sys::flock_exclusive_nb(f.as_raw_fd()).map_err(|e| sys::at(dir, e))? {
        let now = Instant::now();
        if now >= end {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{}: another process held the hub directory's lock for {} s",
                    dir.display(),
                    LOCK_WAIT.as_secs()
                ),
            ));
        }
        std::thread::sleep(pause.min(end - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(())
}

/// Locks `dir`, creating it first when `create`. `Ok(None)`: it does not exist (only
/// without `create`). The lock is on the directory found at `dir` once locked, also when
/// another process removed or replaced it meanwhile. Whoever made the directory, another
/// process may have locked it first: what is in it is to be checked under the lock.
fn lock_dir(dir: &Path, create: bool) -> io::Result<Option<DirLock>> {
    for _ in 0..CLAIM_ATTEMPTS {
        if create {
            match std::fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(sys::at(dir, e)),
            }
        }
        let f = match std::fs::File::open(dir) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(sys::at(dir, e)),
        };
        let held = f.metadata().map_err(|e| sys::at(dir, e))?;
        if !held.is_dir() {
            return Err(exists(format!(
                "{}: exists and is not a directory",
                dir.display()
            )));
        }
        lock(&f, dir)?;
        match std::fs::metadata(dir) {
            Ok(m) if (m.dev(), m.ino()) == (held.dev(), held.ino()) => {
                return Ok(Some(DirLock { _dir: f }));
            }
            // Removed (or replaced) by a server that shut down while we waited: again.
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !create {
                    return Ok(None);
                }
            }
            Err(e) => return Err(sys::at(dir, e)),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::ResourceBusy,
        format!(
            "{}: the directory was removed under us {CLAIM_ATTEMPTS} times in a row",
            dir.display()
        ),
    ))
}

/// Is `name` one of the sockets a hub's directory holds: `ctl`, a server's data socket
/// `NNN.FD` (ours and vde_switch's), a client's `.PID-SEQ` while it joins (vdeplug4's and
/// ours)?
fn hub_socket_name(name: &OsStr) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    name.to_str().is_some_and(|n| {
        n == "ctl"
            || n.split_once('.')
                .is_some_and(|(a, b)| digits(a) && digits(b))
            || n.strip_prefix('.')
                .and_then(|r| r.split_once('-'))
                .is_some_and(|(a, b)| digits(a) && digits(b))
    })
}

/// What preparing a directory found.
enum Prepared {
    /// Ready to bind `ctl` in, locked.
    Ready(DirLock),
    /// A live switch serves there.
    Live,
}

/// Makes `dir` ready to serve, under its lock: created, or an empty directory (made by
/// another process an instant ago, or by anyone before), or taken over from a dead server
/// (`ctl` refuses connections): its stale sockets, and only those, removed. A directory
/// holding anything else, or a `ctl` that is not a socket, is refused naming it; a live
/// switch there is [`Prepared::Live`].
fn prepare_dir(dir: &Path) -> io::Result<Prepared> {
    let lock = lock_dir(dir, true)?
        .ok_or_else(|| sys::at(dir, io::Error::from_raw_os_error(libc::ENOENT)))?;
    let ctl = dir.join("ctl");
    let mut had_ctl = false;
    match std::fs::symlink_metadata(&ctl) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(sys::at(&ctl, e)),
        Ok(m) if !m.file_type().is_socket() => {
            return Err(exists(format!(
                "{}: exists and is not a socket",
                ctl.display()
            )));
        }
        Ok(_) => {
            if probe(&ctl)? == Probe::Live {
                return Ok(Prepared::Live);
            }
            had_ctl = true;
        }
    }
    let mut stale = Vec::new();
    let mut foreign = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| sys::at(dir, e))? {
        let entry = entry.map_err(|e| sys::at(dir, e))?;
        let name = entry.file_name();
        if hub_socket_name(&name) && entry.file_type().is_ok_and(|t| t.is_socket()) {
            stale.push(entry.path());
        } else {
            foreign.push(name.to_string_lossy().into_owned());
        }
    }
    if !foreign.is_empty() {
        foreign.sort();
        let more = foreign.len().saturating_sub(5);
        foreign.truncate(5);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        return Err(exists(format!(
            "{}: not serving a hub there: it holds {}{more}, which no hub made (a hub's \
             directory holds only ctl and its sockets)",
            dir.display(),
            foreign.join(", ")
        )));
    }
    if stale.is_empty() {
        return Ok(Prepared::Ready(lock));
    }
    for p in &stale {
        match std::fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(sys::at(p, e)),
        }
    }
    if had_ctl {
        log::warn!(
            "{}: the switch that served here is gone (connection refused); removed {} stale \
             sockets, serving here",
            ctl.display(),
            stale.len()
        );
    } else {
        log::warn!(
            "{}: removed {} stale sockets a hub left, serving here",
            dir.display(),
            stale.len()
        );
    }
    Ok(Prepared::Ready(lock))
}

/// The directories hubs of this process serve, with their `ctl`'s device and inode, for
/// [`remove_at_exit`].
static SERVED: Mutex<Vec<(PathBuf, (u64, u64))>> = Mutex::new(Vec::new());
/// Set when the process exits: no new port is granted (its data socket would outlive the
/// exit hook's cleanup).
static EXITING: AtomicBool = AtomicBool::new(false);
static EXIT_HOOK: Once = Once::new();

/// Run by `exit(3)` (a return from `main`, `std::process::exit`): removes the files of the
/// hubs still served, which no destructor will (a stack held by a static or by a thread
/// still running when the process exits). It only removes files; it stops no thread.
extern "C" fn remove_at_exit() {
    // Unwinding out of an `extern "C"` function aborts: nothing may escape.
    let _ = std::panic::catch_unwind(|| {
        EXITING.store(true, Ordering::SeqCst);
        let served = match SERVED.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            // A thread is registering or removing a hub at this very moment: skip.
            Err(TryLockError::WouldBlock) => return,
        };
        for (dir, ctl_id) in served.iter() {
            remove_served(dir, *ctl_id);
        }
    });
}

/// Removes what the hub serving `dir` made there: `ctl` if it is still the socket with
/// identity `ctl_id` (else another server has the directory now, and nothing is touched),
/// the data sockets, the `.PID-SEQ` sockets of clients that will get no answer, and the
/// directory if nothing else is left in it.
fn remove_served(dir: &Path, ctl_id: (u64, u64)) {
    let ctl = dir.join("ctl");
    match std::fs::symlink_metadata(&ctl) {
        Ok(m) if (m.dev(), m.ino()) == ctl_id => {
            let _ = std::fs::remove_file(&ctl);
        }
        Ok(_) => return,
        Err(_) => {}
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name != "ctl"
                && hub_socket_name(&name)
                && entry.file_type().is_ok_and(|t| t.is_socket())
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Enters a served directory for [`remove_at_exit`] (installed on first use).
fn register_served(dir: &Path, ctl_id: (u64, u64)) {
    SERVED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((dir.to_owned(), ctl_id));
    EXIT_HOOK.call_once(|| {
        // SAFETY: atexit only records the function; `remove_at_exit` takes no arguments,
        // touches only statics and the file system, and never unwinds. glibc ties the
        // registration to this object, so it also runs if a plugin holding it is unloaded.
        if unsafe { libc::atexit(remove_at_exit) } != 0 {
            log::warn!("cannot install the exit hook that removes served hubs' files");
        }
    });
}

/// Takes a served directory out of [`remove_at_exit`]'s list.
fn unregister_served(dir: &Path, ctl_id: (u64, u64)) {
    SERVED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(d, id)| !(d == dir && *id == ctl_id));
}

/// What [`Server::start`] did.
pub(crate) enum Started {
    /// Serving.
    Serving(Server),
    /// A live switch already serves the path; nothing was changed.
    Live,
}

impl Server {
    /// Creates `dir` (or takes over one a dead server left, see [`prepare_dir`]) with its
    /// `ctl` socket listening, and starts the thread; [`Started::Live`] if a live switch
    /// serves `dir` already. All of it happens under the directory's lock, so that of two
    /// processes starting at once exactly one serves and the other finds it live. Errors
    /// name the path they are about.
    pub(crate) fn start(core: Arc<HubCore>, dir: &Path, cfg: &ServeConfig) -> io::Result<Started> {
        let lock = match prepare_dir(dir)? {
            Prepared::Live => return Ok(Started::Live),
            Prepared::Ready(c) => c,
        };
        let ctl_path = dir.join("ctl");
        let mut bound = false;
        let made = (|| -> io::Result<(OwnedFd, Epoll, OwnedFd, (u64, u64))> {
            let dirmode = cfg.dirmode.unwrap_or(if cfg.mode == 0o600 {
                0o2700
            } else {
                0o2000 | cfg.mode | (cfg.mode & 0o444) >> 2 | (cfg.mode & 0o222) >> 1
            });
            if let Some(g) = cfg.group {
                chgrp(dir, g)?;
            }
            set_mode(dir, dirmode)?;
            let listener = sys::unix_socket(libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
            sys::bind_un(&listener, &ctl_path).map_err(|e| sys::at(&ctl_path, e))?;
            bound = true;
            let md = std::fs::symlink_metadata(&ctl_path).map_err(|e| sys::at(&ctl_path, e))?;
            if let Some(g) = cfg.group {
                chgrp(&ctl_path, g)?;
            }
            set_mode(&ctl_path, cfg.mode)?;
            sys::listen(&listener, BACKLOG).map_err(|e| sys::at(&ctl_path, e))?;
            let epoll = Epoll::new()?;
            let stop = sys::eventfd()?;
            epoll.add(stop.as_raw_fd(), TOKEN_STOP)?;
            epoll.add(listener.as_raw_fd(), TOKEN_LISTEN)?;
            Ok((listener, epoll, stop, (md.dev(), md.ino())))
        })();
        let undo = |bound: bool| {
            if bound {
                let _ = std::fs::remove_file(dir.join("ctl"));
            }
            let _ = std::fs::remove_dir(dir);
        };
        let (listener, epoll, stop, ctl_id) = match made {
            Ok(v) => v,
            Err(e) => {
                undo(bound);
                return Err(e);
            }
        };
        let mut st = State {
            core,
            dir: dir.to_owned(),
            ctl_id,
            cfg: cfg.clone(),
            epoll,
            listener,
            conns: HashMap::new(),
            next_id: 1,
            pending: VecDeque::new(),
            per_uid: HashMap::new(),
            fds: 0,
            fd_budget: fd_budget(sys::nofile_limit()),
            resume_accept: None,
            logs: Logs {
                accept: RateLimit::new(Duration::from_secs(1)),
                limit: RateLimit::new(Duration::from_secs(1)),
                idle: RateLimit::new(Duration::from_secs(1)),
                bad: RateLimit::new(Duration::from_secs(1)),
                refused: RateLimit::new(Duration::from_secs(1)),
            },
        };
        let thread = std::thread::Builder::new()
            .name("vde-hub-serve".into())
            .spawn(move || {
                st.run();
                st.shutdown();
            })
            .map_err(|e| {
                undo(true);
                sys::at(dir, e)
            })?;
        register_served(dir, ctl_id);
        drop(lock);
        log::info!("serving a hub at {}", dir.display());
        Ok(Started::Serving(Server {
            stop,
            thread: Some(thread),
        }))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        sys::eventfd_signal(self.stop.as_raw_fd());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl State {
    fn run(&mut self) {
        let mut ready = Vec::with_capacity(64);
        let mut bufs = vec![0u8; MMSG_MAX * MAX_FRAME_LEN];
        loop {
            let timeout = self.next_timer(Instant::now());
            if let Err(e) = self.epoll.wait(&mut ready, 64, timeout) {
                log::error!("hub {}: service epoll: {e}", self.dir.display());
                return;
            }
            for &tok in &ready {
                match tok {
                    TOKEN_STOP => return,
                    TOKEN_LISTEN => self.accept_all(),
                    t if t & 1 == 0 => self.ctl_readable(t >> 1),
                    t => self.data_readable(t >> 1, &mut bufs),
                }
            }
            let now = Instant::now();
            self.expire_idle(now);
            if self.resume_accept.is_some_and(|t| now >= t) {
                match self.epoll.add(self.listener.as_raw_fd(), TOKEN_LISTEN) {
                    Ok(()) => self.resume_accept = None,
                    Err(e) => self.pause_accept(now, &e),
                }
            }
        }
    }

    /// Milliseconds until the next idle deadline or accept resumption (-1: none).
    fn next_timer(&mut self, now: Instant) -> i32 {
        while let Some(&(id, _)) = self.pending.front() {
            if matches!(self.conns.get(&id), Some(Conn::Pending { .. })) {
                break;
            }
            self.pending.pop_front();
        }
        let idle = self
            .pending
            .front()
            .map(|&(_, t)| t + self.cfg.idle_timeout);
        let next = match (idle, self.resume_accept) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match next {
            None => -1,
            Some(t) => {
                let d = t.saturating_duration_since(now);
                // Round up: waking a little late is fine, early means a second wait.
                (d.as_micros().div_ceil(1000)).min(i32::MAX as u128) as i32
            }
        }
    }

    /// Closes the connections that sent no request within the idle timeout.
    fn expire_idle(&mut self, now: Instant) {
        let mut closed = 0u64;
        while let Some(&(id, since)) = self.pending.front() {
            if !matches!(self.conns.get(&id), Some(Conn::Pending { .. })) {
                self.pending.pop_front();
                continue;
            }
            if now.saturating_duration_since(since) < self.cfg.idle_timeout {
                break;
            }
            self.pending.pop_front();
            self.close(id);
            closed += 1;
        }
        if closed > 0
            && let Some(s) = self.logs.idle.check(now)
        {
            log::info!(
                "hub {}: closed {closed} control connections that sent no port request \
                 within {} ms{}",
                self.dir.display(),
                self.cfg.idle_timeout.as_millis(),
                suppressed(s)
            );
        }
    }

    /// Stops watching the listening socket for [`ACCEPT_PAUSE`].
    fn pause_accept(&mut self, now: Instant, e: &io::Error) {
        if self.resume_accept.is_none() {
            self.epoll.del(self.listener.as_raw_fd());
        }
        self.resume_accept = Some(now + ACCEPT_PAUSE);
        if let Some(s) = self.logs.accept.check(now) {
            log::warn!(
                "hub {}: accept: {e}; not accepting for {} ms{}",
                self.dir.display(),
                ACCEPT_PAUSE.as_millis(),
                suppressed(s)
            );
        }
    }

    fn accept_all(&mut self) {
        for _ in 0..ACCEPT_BATCH {
            match sys::accept(self.listener.as_raw_fd()) {
                Ok(fd) => self.admit(fd),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.raw_os_error() == Some(libc::ECONNABORTED) => {}
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
                        && self.evict_pending(None, true) => {}
                Err(e) => {
                    // Out of fds with no idle connection to close, ENOBUFS, ENOMEM...: the
                    // listener stays readable, so retrying now would spin.
                    self.pause_accept(Instant::now(), &e);
                    return;
                }
            }
        }
    }

    /// Takes a new connection in, within the limits.
    fn admit(&mut self, fd: OwnedFd) {
        let now = Instant::now();
        let uid = sys::peer_uid(fd.as_raw_fd()).unwrap_or(u32::MAX);
        let mine = self.per_uid.get(&uid).copied().unwrap_or(0);
        if mine >= self.cfg.max_per_uid && !self.evict_pending(Some(uid), true) {
            self.refuse(now, &format!("uid {uid} holds {mine} connections"));
            return;
        }
        if (self.conns.len() >= self.cfg.max_connections || self.fds >= self.fd_budget)
            && !self.evict_pending(None, true)
        {
            let n = self.conns.len();
            self.refuse(now, &format!("{n} connections are open"));
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        if let Err(e) = self.epoll.add(fd.as_raw_fd(), id << 1) {
            if let Some(s) = self.logs.accept.check(now) {
                log::warn!(
                    "hub {}: cannot watch a new control connection: {e}{}",
                    self.dir.display(),
                    suppressed(s)
                );
            }
            return;
        }
        self.conns.insert(id, Conn::Pending { fd, uid });
        self.pending.push_back((id, now));
        *self.per_uid.entry(uid).or_insert(0) += 1;
        self.fds += 1;
    }

    /// A new connection found no room: it is closed (by dropping it).
    fn refuse(&mut self, now: Instant, why: &str) {
        if let Some(s) = self.logs.limit.check(now) {
            log::warn!(
                "hub {}: connection limit reached ({why}; limits: {} in all, {} per user, \
                 {} file descriptors): refusing new control connections{}",
                self.dir.display(),
                self.cfg.max_connections,
                self.cfg.max_per_uid,
                self.fd_budget,
                suppressed(s)
            );
        }
    }

    /// Closes the oldest connection still waiting for its request (of `uid` if given) to
    /// make room; false if there is none. With `serve_ready`, a waiting connection whose
    /// request has arrived (readable) is served on the way instead of closed.
    fn evict_pending(&mut self, uid: Option<u32>, serve_ready: bool) -> bool {
        let mut i = 0;
        while i < self.pending.len() {
            let (id, _) = self.pending[i];
            let fd = match self.conns.get(&id) {
                Some(Conn::Pending { fd, uid: u }) if uid.is_none_or(|w| w == *u) => fd.as_raw_fd(),
                Some(Conn::Pending { .. }) => {
                    i += 1;
                    continue;
                }
                _ => {
                    self.pending.remove(i);
                    continue;
                }
            };
            self.pending.remove(i);
            if serve_ready && sys::poll_in(fd, 0).unwrap_or(false) {
                self.ctl_readable(id);
                continue;
            }
            self.close(id);
            if let Some(s) = self.logs.limit.check(Instant::now()) {
                log::warn!(
                    "hub {}: connection limit reached ({} open, {} per user, {} file \
                     descriptors): closing the oldest connections that sent no request yet{}",
                    self.dir.display(),
                    self.cfg.max_connections,
                    self.cfg.max_per_uid,
                    self.fd_budget,
                    suppressed(s)
                );
            }
            return true;
        }
        false
    }

    /// Accounts for a connection that is gone.
    fn release(&mut self, uid: u32, fds: usize) {
        self.fds = self.fds.saturating_sub(fds);
        if let Some(n) = self.per_uid.get_mut(&uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_uid.remove(&uid);
            }
        }
    }

    fn ctl_readable(&mut self, id: u64) {
        let mut buf = [0u8; MAX_REQUEST_LEN + 1];
        let fd = match self.conns.get(&id) {
            Some(Conn::Pending { fd, .. }) | Some(Conn::Active { ctl: fd, .. }) => fd.as_raw_fd(),
            None => return,
        };
        let n = match sys::read(fd, &mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return;
            }
            Err(_) => 0,
        };
        let now = Instant::now();
        match self.conns.get(&id) {
            Some(Conn::Pending { .. }) if n > 0 => match CtlRequest::parse(&buf[..n]) {
                Ok(req) => {
                    let Some(Conn::Pending { fd: ctl, uid }) = self.conns.remove(&id) else {
                        return;
                    };
                    // The port's data socket needs one more fd: make room if need be.
                    if self.fds >= self.fd_budget && !self.evict_pending(None, false) {
                        self.epoll.del(ctl.as_raw_fd());
                        self.release(uid, 1);
                        if let Some(s) = self.logs.refused.check(now) {
                            log::warn!(
                                "hub {}: refused {:?}: no file descriptor left for its data \
                                 socket (budget {}){}",
                                self.dir.display(),
                                req.description,
                                self.fd_budget,
                                suppressed(s)
                            );
                        }
                        return;
                    }
                    match self.new_port(id, &ctl, &req) {
                        Ok((port, data_path)) => {
                            self.fds += 1;
                            self.conns.insert(
                                id,
                                Conn::Active {
                                    ctl,
                                    port,
                                    data_path,
                                    uid,
                                },
                            );
                        }
                        Err(e) => {
                            self.epoll.del(ctl.as_raw_fd());
                            self.release(uid, 1);
                            if let Some(s) = self.logs.refused.check(now) {
                                log::warn!(
                                    "hub {}: refused {:?}: {e}{}",
                                    self.dir.display(),
                                    req.description,
                                    suppressed(s)
                                );
                            }
                        }
                    }
                }
                Err(e) => {
                    if let Some(s) = self.logs.bad.check(now) {
                        log::warn!(
                            "hub {}: {e}; closing that connection{}",
                            self.dir.display(),
                            suppressed(s)
                        );
                    }
                    self.close(id);
                }
            },
            Some(Conn::Active { .. }) if n > 0 => {
                log::debug!(
                    "hub {}: ignoring {n} bytes on an established control stream",
                    self.dir.display()
                );
            }
            _ => self.close(id),
        }
    }

    /// Grants a port to a valid request: checks, data socket, reply.
    fn new_port(
        &mut self,
        id: u64,
        ctl: &OwnedFd,
        req: &CtlRequest,
    ) -> io::Result<(Arc<Port>, PathBuf)> {
        if EXITING.load(Ordering::SeqCst) {
            return Err(io::Error::other("the process is exiting"));
        }
        let client = Path::new(OsStr::from_bytes(&req.data_path));
        sys::access_rw(client).map_err(|e| sys::at(client, e))?;
        let user = std::fs::metadata(client)
            .map_err(|e| sys::at(client, e))?
            .uid();
        let data = sys::unix_socket(libc::SOCK_DGRAM | libc::SOCK_NONBLOCK)?;
        sys::connect_un(&data, client).map_err(|e| sys::at(client, e))?;
        let want = match req.port {
            PortRequest::Any => None,
            PortRequest::Number(n) => Some(n),
            PortRequest::Zero => Some(0),
        };
        let data_raw = data.as_raw_fd();
        let port = self
            .core
            .add_port(
                want,
                Sink::Remote(data),
                req.description.clone(),
                &Impairment::default(),
            )
            .map_err(|e| match want {
                Some(n) => io::Error::new(e.kind(), format!("port {n} is taken")),
                None => e,
            })?;
        let data_path = self.dir.join(format!("{:03}.{}", port.id, data_raw));
        let granted = (|| -> io::Result<()> {
            let _ = std::fs::remove_file(&data_path);
            let fd = port
                .remote_fd()
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
            sys::bind_un(fd, &data_path).map_err(|e| sys::at(&data_path, e))?;
            if sys::geteuid() == 0 {
                set_mode(&data_path, self.cfg.mode & 0o700)?;
                std::os::unix::fs::chown(&data_path, Some(user), self.cfg.group)
                    .map_err(|e| sys::at(&data_path, e))?;
            } else {
                set_mode(&data_path, self.cfg.mode)?;
                if let Some(g) = self.cfg.group {
                    chgrp(&data_path, g)?;
                }
            }
            let sa = sys::sockaddr_un(data_path.as_os_str().as_bytes())?;
            let reply = sys::sockaddr_un_bytes(&sa);
            if sys::write(ctl.as_raw_fd(), &reply)? != reply.len() {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            self.epoll.add(data_raw, (id << 1) | 1)?;
            Ok(())
        })();
        if let Err(e) = granted {
            self.core.remove_port(&port);
            let _ = std::fs::remove_file(&data_path);
            return Err(e);
        }
        log::info!(
            "hub {}: port {} joined: {}",
            self.dir.display(),
            port.id,
            req.description
        );
        Ok((port, data_path))
    }

    fn data_readable(&mut self, id: u64, bufs: &mut [u8]) {
        let Some(Conn::Active { port, .. }) = self.conns.get(&id) else {
            return;
        };
        let Some(fd) = port.remote_fd().map(|f| f.as_raw_fd()) else {
            return;
        };
        let mut lens = [0usize; MMSG_MAX];
        let mut slots = Slots::new(bufs, MAX_FRAME_LEN, &mut lens);
        match sys::recvmmsg(fd, &mut slots) {
            Ok(n) => {
                for i in 0..n {
                    let (slot, len) = slots.slot_and_len(i);
                    let len = *len;
                    self.core.ingress(port, &slot[..len]);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => log::debug!("hub {}: port {} data: {e}", self.dir.display(), port.id),
        }
    }

    fn close(&mut self, id: u64) {
        match self.conns.remove(&id) {
            Some(Conn::Pending { fd, uid }) => {
                self.epoll.del(fd.as_raw_fd());
                self.release(uid, 1);
            }
            Some(Conn::Active {
                ctl,
                port,
                data_path,
                uid,
            }) => {
                self.epoll.del(ctl.as_raw_fd());
                if let Some(fd) = port.remote_fd() {
                    self.epoll.del(fd.as_raw_fd());
                }
                self.core.remove_port(&port);
                let _ = std::fs::remove_file(&data_path);
                self.release(uid, 2);
                log::info!("hub {}: port {} left", self.dir.display(), port.id);
            }
            None => {}
        }
    }

    /// Removes the hub's directory. A client that was joining as the server ended may have
    /// left its `.PID-SEQ` socket there: nobody will answer it any more, so it goes too
    /// (the client ignores its name being gone).
    fn remove_dir(&self) {
        for _ in 0..3 {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return,
                Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => {
                    let Ok(entries) = std::fs::read_dir(&self.dir) else {
                        break;
                    };
                    for entry in entries.flatten() {
                        let name = entry.file_name();
                        if name.as_bytes().first() == Some(&b'.')
                            && hub_socket_name(&name)
                            && entry.file_type().is_ok_and(|t| t.is_socket())
                        {
                            let _ = std::fs::remove_file(entry.path());
                        }
                    }
                }
                Err(e) => {
                    log::warn!("hub: cannot remove {}: {e}", self.dir.display());
                    return;
                }
            }
        }
        log::warn!(
            "hub: cannot remove {}: it holds files another process put there",
            self.dir.display()
        );
    }

    /// Closes every connection and removes what this server made: its data sockets, its
    /// `ctl`, and the directory (if nothing else is in it), under the directory's lock so
    /// that a process about to serve there waits for the end.
    fn shutdown(&mut self) {
        unregister_served(&self.dir, self.ctl_id);
        let lock = match lock_dir(&self.dir, false) {
            Ok(l) => l,
            Err(e) => {
                log::warn!("hub: removing its files without the lock: {e}");
                None
            }
        };
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
        let ctl = self.dir.join("ctl");
        match std::fs::symlink_metadata(&ctl) {
            Ok(m) if (m.dev(), m.ino()) == self.ctl_id => {
                if let Err(e) = std::fs::remove_file(&ctl) {
                    log::warn!("hub: cannot remove {}: {e}", ctl.display());
                }
            }
            Ok(_) => log::warn!(
                "hub {}: ctl is not ours any more (another server replaced it): left alone",
                self.dir.display()
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("hub: {}: {e}", ctl.display()),
        }
        self.remove_dir();
        drop(lock);
        log::info!("hub {}: no longer served", self.dir.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_budget_keeps_a_reserve_for_the_rest_of_the_process() {
        assert_eq!(fd_budget(256), 224, "an eighth kept back");
        assert_eq!(fd_budget(64), 48, "at least 16 kept back");
        assert_eq!(fd_budget(1_048_576), 1_048_320, "at most 256 kept back");
        assert_eq!(
            fd_budget(10),
            0,
            "a tiny limit leaves nothing, never underflows"
        );
        assert_eq!(fd_budget(u64::MAX), usize::MAX - 256);
    }
}
