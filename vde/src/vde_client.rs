//! `vde://DIR`: the client of a vde_switch (or of any node serving its control protocol),
//! byte-compatible with vdeplug4's `vde` module.
//!
//! Options: `[N]` or `[port=N]` asks for port N (`0`: the management port 0); a non-numeric
//! port names a port-group socket `DIR/NAME` tried before `DIR/ctl`; `group=G` gives the
//! data socket to group G; `mode=0660` its permissions (default 0700, widened as vdeplug4
//! does when the switch belongs to another user); `timeout=MS` bounds the whole opening
//! (default 5000): the connect, also while the switch's listen backlog is full, and the wait
//! for the switch's answer (a switch refusing a port request never answers).
//!
//! The pollable fd is an epoll fd over the data socket and the control stream, so it turns
//! readable both for frames and for the switch's departure (EOF on the control stream),
//! which makes the link down: `recv` (once the frames already received are drained) and
//! `send` then fail with ENETDOWN. A down link reconnects on its own, with no thread: every
//! `send`/`recv`/`recv_batch`/`is_up` call while down may make one attempt, paced by a
//! back-off from 100 ms to 2 s, and a timerfd in the same epoll set makes the fd readable
//! when the next attempt is due, so a caller waiting on the fd wakes up to make it. A
//! reconnection asks for the same port with the same options (a new port request); the fd
//! number never changes. vdeplug4 has no notion of reconnecting, so there is no option for it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, TryLockError};
use std::time::{Duration, Instant};

use crate::ctl::{CtlRequest, PortRequest};
use crate::eth::ETH_HEADER_LEN;
use crate::link::{Endpoint, Link};
use crate::pace::Backoff;
use crate::slots::Slots;
use crate::sys::{self, Epoll, SOCKADDR_UN_LEN};
use crate::vnl::Vnl;

/// Control sockets tried for the empty VNL, as vdeplug4.
const FALLBACK_SWITCHES: [&str; 2] = ["/var/run/vde.ctl", "/tmp/vde.ctl"];
/// Directories for the data socket when the switch directory refuses it.
const FALLBACK_DIRS: [&str; 3] = ["/var/run", "/var/tmp", "/tmp"];
/// Default bound of an opening (connect and answer).
const DEFAULT_TIMEOUT_MS: u64 = 5000;
/// First wait before a reconnection attempt; doubled after each failure...
const RETRY_MIN: Duration = Duration::from_millis(100);
/// ...up to this.
const RETRY_MAX: Duration = Duration::from_secs(2);
/// How long frames received before the switch went away are kept for `recv` to drain.
const DRAIN_GRACE: Duration = Duration::from_secs(1);
/// Longest pause between two connects refused for a full backlog.
const BACKLOG_PAUSE_MAX: Duration = Duration::from_millis(50);

const TOKEN_DATA: u64 = 0;
const TOKEN_CTL: u64 = 1;
const TOKEN_TIMER: u64 = 2;

static SEQ: AtomicU32 = AtomicU32::new(0);

fn down() -> io::Error {
    io::Error::from_raw_os_error(libc::ENETDOWN)
}

fn millis(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

/// What every connection of a link asks for, as its VNL said.
struct Params {
    /// The switch directory (canonical).
    dir: PathBuf,
    port: PortRequest,
    portgroup: Option<String>,
    mode: u32,
    group: Option<u32>,
    timeout: Duration,
}

/// A port of a switch: the connected data socket and the control stream holding it.
struct Conn {
    data: OwnedFd,
    ctl: OwnedFd,
    /// Unique in the process, so a connection is retired only by who saw it.
    id: u64,
}

static CONN_IDS: AtomicU64 = AtomicU64::new(0);

/// Removes our data socket's file when dropped (it is only a rendezvous: once both ends
/// are connected nobody needs it, as in vdeplug4).
struct DataPath(PathBuf);

impl Drop for DataPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An opening under way: control stream connected, request sent, answer awaited.
struct Handshake {
    ctl: OwnedFd,
    ctl_path: PathBuf,
    data: OwnedFd,
    data_path: DataPath,
    reply: [u8; SOCKADDR_UN_LEN],
    got: usize,
}

/// Connects a non-blocking stream socket to `path`. A full listen backlog (EAGAIN) is
/// retried with short pauses until `wait_until`, or fails at once without it; the error
/// names the path (and `timeout_ms`, the bound the caller was given).
fn connect_stream(
    path: &Path,
    wait_until: Option<Instant>,
    timeout_ms: u128,
) -> io::Result<OwnedFd> {
    let full = || {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "{}: no connection within {timeout_ms} ms (the switch's listen backlog is full)",
                path.display()
            ),
        )
    };
    let mut pause = Duration::from_millis(1);
    loop {
        let fd = sys::unix_socket(libc::SOCK_STREAM | libc::SOCK_NONBLOCK)
            .map_err(|e| sys::at(path, e))?;
        match sys::connect_un_nonblocking(&fd, path) {
            Ok(true) => return Ok(fd),
            Ok(false) => {
                let left = wait_until.map_or(Duration::ZERO, |t| {
                    t.saturating_duration_since(Instant::now())
                });
                if !sys::poll_out(fd.as_raw_fd(), millis(left)).map_err(|e| sys::at(path, e))? {
                    return Err(full());
                }
                return match sys::so_error(fd.as_raw_fd()).map_err(|e| sys::at(path, e))? {
                    None => Ok(fd),
                    Some(e) => Err(sys::at(path, e)),
                };
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                let now = Instant::now();
                match wait_until {
                    Some(end) if now < end => {
                        std::thread::sleep(pause.min(end - now));
                        pause = (pause * 2).min(BACKLOG_PAUSE_MAX);
                    }
                    _ => return Err(full()),
                }
            }
            Err(e) => return Err(sys::at(path, e)),
        }
    }
}

/// Connects the control stream: `DIR/GROUP` first for a named port group, then `DIR/ctl`.
fn connect_ctl(
    dir: &Path,
    portgroup: Option<&str>,
    wait_until: Option<Instant>,
    timeout_ms: u128,
) -> io::Result<(OwnedFd, PathBuf)> {
    if let Some(g) = portgroup {
        let p = dir.join(g);
        if let Ok(fd) = connect_stream(&p, wait_until, timeout_ms) {
            return Ok((fd, p));
        }
    }
    let p = dir.join("ctl");
    let fd = connect_stream(&p, wait_until, timeout_ms)?;
    Ok((fd, p))
}

/// Binds the data socket at `DIR/.PID-SEQ`, or in a fallback directory.
fn bind_data(fd: &OwnedFd, dir: &Path) -> io::Result<PathBuf> {
    let pid = sys::getpid();
    let mut last = io::Error::from_raw_os_error(libc::EADDRINUSE);
    let candidates = std::iter::once((dir.to_path_buf(), "."))
        .chain(FALLBACK_DIRS.iter().map(|d| (PathBuf::from(d), "vde.")));
    for (d, prefix) in candidates {
        for _ in 0..1000 {
            let seq = SEQ.fetch_add(1, Relaxed) % 100_000;
            let p = d.join(format!("{prefix}{pid:05}-{seq:05}"));
            match sys::bind_un(fd, &p) {
                Ok(()) => return Ok(p),
                Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => last = e,
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
    }
    Err(io::Error::new(
        last.kind(),
        format!(
            "no place for a data socket in {} nor {}: {last}",
            dir.display(),
            FALLBACK_DIRS.join(", ")
        ),
    ))
}

fn refused(ctl_path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionRefused,
        format!(
            "{}: the switch closed the control connection (request refused)",
            ctl_path.display()
        ),
    )
}

impl Handshake {
    /// Binds our data socket, gives it the wanted owner and mode and sends the request on
    /// the connected control stream `ctl` (non-blocking).
    fn start(p: &Params, ctl: OwnedFd, ctl_path: PathBuf) -> io::Result<Handshake> {
        let data = sys::unix_socket(libc::SOCK_DGRAM | libc::SOCK_NONBLOCK)?;
        let data_path = DataPath(bind_data(&data, &p.dir)?);
        let dp = &data_path.0;
        let mut mode = p.mode;
        if let Some(gid) = p.group {
            std::os::unix::fs::chown(dp, None, Some(gid)).map_err(|e| sys::at(dp, e))?;
        } else if mode & 0o077 == 0
            && let Ok(md) = std::fs::metadata(&ctl_path)
            && md.uid() != 0
            && md.uid() != sys::geteuid()
        {
            // The switch belongs to someone else: let it reach our data socket.
            if std::os::unix::fs::chown(dp, None, Some(md.gid())).is_ok() {
                mode |= 0o070;
            } else {
                mode |= 0o077;
            }
        }
        std::fs::set_permissions(dp, std::fs::Permissions::from_mode(mode))
            .map_err(|e| sys::at(dp, e))?;
        let req = CtlRequest {
            port: p.port,
            data_path: dp.as_os_str().as_bytes().to_vec(),
            description: format!("ioth-rs vde user={} pid={}", sys::geteuid(), sys::getpid()),
        };
        let bytes = req.encode().map_err(|e| sys::at(dp, e))?;
        match sys::send(ctl.as_raw_fd(), &bytes, libc::MSG_DONTWAIT) {
            Ok(n) if n == bytes.len() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!(
                        "{}: the request did not fit in one send",
                        ctl_path.display()
                    ),
                ));
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) => {
                return Err(refused(&ctl_path));
            }
            Err(e) => return Err(sys::at(&ctl_path, e)),
        }
        Ok(Handshake {
            ctl,
            ctl_path,
            data,
            data_path,
            reply: [0; SOCKADDR_UN_LEN],
            got: 0,
        })
    }

    /// Reads what the switch answered so far, without blocking: true once the whole answer
    /// is in. EOF before it is a refusal.
    fn step(&mut self) -> io::Result<bool> {
        while self.got < self.reply.len() {
            match sys::recv(
                self.ctl.as_raw_fd(),
                &mut self.reply[self.got..],
                libc::MSG_DONTWAIT,
            ) {
                Ok(0) => return Err(refused(&self.ctl_path)),
                Ok(n) => self.got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                    return Err(refused(&self.ctl_path));
                }
                Err(e) => return Err(sys::at(&self.ctl_path, e)),
            }
        }
        Ok(true)
    }

    /// Connects our data socket to the address the switch answered.
    fn finish(self) -> io::Result<Conn> {
        let reply = &self.reply;
        if u16::from_ne_bytes([reply[0], reply[1]]) != libc::AF_UNIX as u16
            || !reply[2..].contains(&0)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: the switch's answer is not a unix socket address",
                    self.ctl_path.display()
                ),
            ));
        }
        let end = reply[2..].iter().position(|&b| b == 0).unwrap_or(0);
        let peer = Path::new(std::ffi::OsStr::from_bytes(&reply[2..2 + end]));
        let sa = sys::sockaddr_un(&reply[2..2 + end]).map_err(|e| sys::at(peer, e))?;
        sys::connect_sa(&self.data, &sa).map_err(|e| sys::at(peer, e))?;
        drop(self.data_path);
        Ok(Conn {
            data: self.data,
            ctl: self.ctl,
            id: CONN_IDS.fetch_add(1, Relaxed),
        })
    }
}

/// Opens `vde://...`.
pub(crate) fn open(vnl: &Vnl, text: &str) -> io::Result<Link> {
    let (port, portgroup) = match vnl.option("port") {
        None | Some("") => (PortRequest::Any, None),
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => match p.parse::<u32>() {
            Ok(0) => (PortRequest::Zero, None),
            Ok(n) if n <= 0x00ff_ffff => (PortRequest::Number(n), None),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("VNL {text}: port={p:?} is out of range"),
                ));
            }
        },
        Some(g) => (PortRequest::Any, Some(g.to_owned())),
    };
    let mode = vnl.option_mode("mode")?.unwrap_or(0o700);
    let group = match vnl.option("group") {
        None => None,
        Some(g) => Some(sys::group_id(g).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("VNL {text}: unknown group group={g:?}"),
            )
        })?),
    };
    let timeout_ms = vnl
        .option_u64("timeout")?
        .unwrap_or(DEFAULT_TIMEOUT_MS)
        .min(i32::MAX as u64);
    let timeout = Duration::from_millis(timeout_ms);
    let deadline = Instant::now() + timeout;
    let tms = u128::from(timeout_ms);

    let (ctl, ctl_path, dir) = if vnl.address.is_empty() {
        let mut last = io::Error::new(
            io::ErrorKind::NotFound,
            format!("no default switch at {}", FALLBACK_SWITCHES.join(" nor ")),
        );
        let mut found = None;
        for d in FALLBACK_SWITCHES {
            match connect_ctl(Path::new(d), portgroup.as_deref(), Some(deadline), tms) {
                Ok((fd, p)) => {
                    found = Some((fd, p, PathBuf::from(d)));
                    break;
                }
                Err(e) => last = e,
            }
        }
        found.ok_or(last)?
    } else {
        let dir =
            std::fs::canonicalize(&vnl.address).map_err(|e| sys::at(Path::new(&vnl.address), e))?;
        let (fd, p) = connect_ctl(&dir, portgroup.as_deref(), Some(deadline), tms)?;
        (fd, p, dir)
    };
    let params = Params {
        dir,
        port,
        portgroup,
        mode,
        group,
        timeout,
    };
    let link = establish(params, ctl, ctl_path, deadline)?;
    Ok(Link::new(Box::new(link), text))
}

/// Joins the switch (a hub another process serves) at `dir` (canonical) as `vde://DIR`
/// with no options would: any port, the default mode and timeout. Refused or vanishing
/// switches are `ConnectionRefused` or `NotFound`, naming the path.
pub(crate) fn join(dir: &Path) -> io::Result<Box<dyn Endpoint>> {
    let timeout = Duration::from_millis(DEFAULT_TIMEOUT_MS);
    let deadline = Instant::now() + timeout;
    let (ctl, ctl_path) = connect_ctl(dir, None, Some(deadline), u128::from(DEFAULT_TIMEOUT_MS))?;
    let params = Params {
        dir: dir.to_owned(),
        port: PortRequest::Any,
        portgroup: None,
        mode: 0o700,
        group: None,
        timeout,
    };
    Ok(Box::new(establish(params, ctl, ctl_path, deadline)?))
}

/// The port request on the connected control stream `ctl`, its answer awaited until
/// `deadline`, and the link made of it.
fn establish(
    params: Params,
    ctl: OwnedFd,
    ctl_path: PathBuf,
    deadline: Instant,
) -> io::Result<VdeLink> {
    let timeout_ms = params.timeout.as_millis();
    let mut hs = Handshake::start(&params, ctl, ctl_path)?;
    while !hs.step()? {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !sys::poll_in(hs.ctl.as_raw_fd(), millis(left).max(1))? {
            if Instant::now() < deadline {
                continue;
            }
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{}: no answer from the switch within {timeout_ms} ms",
                    hs.ctl_path.display()
                ),
            ));
        }
    }
    let conn = hs.finish()?;
    VdeLink::new(params, conn)
}

/// Reconnection state of a link (only touched while it is down).
struct Recon {
    /// When the switch's departure was seen.
    down_since: Option<Instant>,
    /// The attempt under way and when it times out.
    attempt: Option<(Handshake, Instant)>,
    /// When the next attempt may start.
    next_try: Instant,
    backoff: Backoff,
    /// Failed attempts since the link went down.
    failures: u64,
}

/// A port of a switch that reconnects when the switch comes back.
pub(crate) struct VdeLink {
    params: Params,
    /// The fd users poll: data socket, control stream and the retry timer.
    poll: Epoll,
    timer: OwnedFd,
    /// The current port: `Some` while up, and while down until its frames are drained.
    conn: RwLock<Option<Conn>>,
    up: AtomicBool,
    generation: AtomicU64,
    dropped: AtomicU64,
    recon: Mutex<Recon>,
}

impl VdeLink {
    fn new(params: Params, conn: Conn) -> io::Result<VdeLink> {
        let poll = Epoll::new()?;
        let timer = sys::timerfd()?;
        poll.add(timer.as_raw_fd(), TOKEN_TIMER)?;
        poll.add(conn.data.as_raw_fd(), TOKEN_DATA)?;
        poll.add(conn.ctl.as_raw_fd(), TOKEN_CTL)?;
        Ok(VdeLink {
            params,
            poll,
            timer,
            conn: RwLock::new(Some(conn)),
            up: AtomicBool::new(true),
            generation: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            recon: Mutex::new(Recon {
                down_since: None,
                attempt: None,
                next_try: Instant::now(),
                backoff: Backoff::new(RETRY_MIN, RETRY_MAX),
                failures: 0,
            }),
        })
    }

    fn conn(&self) -> RwLockReadGuard<'_, Option<Conn>> {
        self.conn.read().unwrap_or_else(|e| e.into_inner())
    }

    fn recon(&self) -> MutexGuard<'_, Recon> {
        self.recon.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True if the control stream says the switch went away (EOF or an error).
    fn ctl_gone(c: &Conn) -> bool {
        let mut b = [0u8; 64];
        loop {
            match sys::recv(c.ctl.as_raw_fd(), &mut b, libc::MSG_DONTWAIT) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return true,
            }
        }
    }

    /// The switch behind port `id` went away: the link is down (logged once), reconnection
    /// starts after the first back-off. Nothing happens if `id` was replaced already.
    fn went_down(&self, id: u64, why: &str) {
        {
            let g = self.conn();
            if g.as_ref().is_none_or(|c| c.id != id) || !self.up.swap(false, Relaxed) {
                return;
            }
        }
        self.generation.fetch_add(1, Relaxed);
        let now = Instant::now();
        let mut r = self.recon();
        r.down_since = Some(now);
        r.failures = 0;
        r.backoff.reset();
        let d = r.backoff.next_delay();
        r.next_try = now + d;
        log::warn!(
            "vde {}: {why}: link down; reconnecting in the background",
            self.params.dir.display()
        );
    }

    /// Closes the old port `id` (its frames drained or given up), unless it was replaced
    /// already.
    fn retire(&self, id: u64) {
        let old = {
            let mut g = self.conn.write().unwrap_or_else(|e| e.into_inner());
            if g.as_ref().is_some_and(|c| c.id == id) {
                g.take()
            } else {
                None
            }
        };
        if let Some(c) = old {
            self.poll.del(c.data.as_raw_fd());
            self.poll.del(c.ctl.as_raw_fd());
        }
    }

    fn arm(&self, after: Option<Duration>) {
        if let Err(e) = sys::timerfd_set(self.timer.as_raw_fd(), after) {
            log::error!("vde {}: retry timer: {e}", self.params.dir.display());
        }
    }

    /// While down: moves reconnection on by one non-blocking step if it is due (and no
    /// other thread is at it). Leaves the timer armed for the next step.
    fn advance(&self) {
        let mut r = match self.recon.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if self.up.load(Relaxed) {
            return;
        }
        let now = Instant::now();
        let mut b = [0u8; 8];
        let _ = sys::read(self.timer.as_raw_fd(), &mut b);
        let draining = self.conn().as_ref().map(|c| {
            let waiting = sys::poll_in(c.data.as_raw_fd(), 0).unwrap_or(false)
                && r.down_since
                    .is_some_and(|t| now.saturating_duration_since(t) < DRAIN_GRACE);
            (c.id, waiting)
        });
        match draining {
            // Frames from before the departure still wait for `recv`: not yet.
            Some((_, true)) => return,
            Some((id, false)) => self.retire(id),
            None => {}
        }
        if let Some((hs, deadline)) = r.attempt.as_mut() {
            let deadline = *deadline;
            match hs.step() {
                Ok(true) => {
                    if let Some((hs, _)) = r.attempt.take() {
                        match hs.finish() {
                            Ok(conn) => return self.install(&mut r, conn, now),
                            Err(e) => return self.failed(&mut r, e, now),
                        }
                    }
                }
                Ok(false) if now < deadline => return self.arm(Some(deadline - now)),
                Ok(false) => {
                    let e = io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no answer from the switch within {} ms",
                            self.params.timeout.as_millis()
                        ),
                    );
                    return self.failed(&mut r, e, now);
                }
                Err(e) => return self.failed(&mut r, e, now),
            }
        }
        if now < r.next_try {
            let d = r.next_try - now;
            return self.arm(Some(d));
        }
        let p = &self.params;
        let started = connect_ctl(&p.dir, p.portgroup.as_deref(), None, p.timeout.as_millis())
            .and_then(|(ctl, path)| Handshake::start(p, ctl, path))
            .and_then(|hs| {
                self.poll.add(hs.ctl.as_raw_fd(), TOKEN_CTL)?;
                Ok(hs)
            });
        match started {
            Ok(hs) => {
                r.attempt = Some((hs, now + p.timeout));
                self.arm(Some(p.timeout));
            }
            Err(e) => self.failed(&mut r, e, now),
        }
    }

    fn failed(&self, r: &mut Recon, e: io::Error, now: Instant) {
        if let Some((hs, _)) = r.attempt.take() {
            self.poll.del(hs.ctl.as_raw_fd());
        }
        r.failures += 1;
        let d = r.backoff.next_delay();
        r.next_try = now + d;
        log::debug!(
            "vde {}: reconnection attempt {} failed: {e}; next in {} ms",
            self.params.dir.display(),
            r.failures,
            d.as_millis()
        );
        self.arm(Some(d));
    }

    fn install(&self, r: &mut Recon, conn: Conn, now: Instant) {
        if let Err(e) = self.poll.add(conn.data.as_raw_fd(), TOKEN_DATA) {
            self.poll.del(conn.ctl.as_raw_fd());
            return self.failed(r, e, now);
        }
        {
            // Under the lock, so `went_down` sees the old port with `up` false or the new one.
            let mut g = self.conn.write().unwrap_or_else(|e| e.into_inner());
            *g = Some(conn);
            self.up.store(true, Relaxed);
        }
        self.arm(None);
        let down_for = r
            .down_since
            .take()
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        r.backoff.reset();
        self.generation.fetch_add(1, Relaxed);
        log::info!(
            "vde {}: reconnected after {:.1} s down ({} failed attempts): link up",
            self.params.dir.display(),
            down_for.as_secs_f64(),
            r.failures
        );
    }

    /// Receives with `f` on the data socket; drives the departure and the reconnection.
    fn receive(&self, mut f: impl FnMut(RawFd) -> io::Result<usize>) -> io::Result<usize> {
        for _ in 0..2 {
            let (gone, id) = {
                let g = self.conn();
                let Some(c) = g.as_ref() else {
                    drop(g);
                    self.advance();
                    if self.up.load(Relaxed) {
                        continue;
                    }
                    return Err(down());
                };
                match f(c.data.as_raw_fd()) {
                    Ok(0) => {}
                    Ok(n) => return Ok(n),
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock
                            || matches!(
                                e.raw_os_error(),
                                Some(libc::ECONNREFUSED | libc::ECONNRESET)
                            ) => {}
                    Err(e) => return Err(e),
                }
                // Nothing waits on the data socket.
                (!self.up.load(Relaxed) || Self::ctl_gone(c), c.id)
            };
            if !gone {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.went_down(id, "the switch closed the control stream");
            self.retire(id);
            self.advance();
            return Err(if self.up.load(Relaxed) {
                io::ErrorKind::WouldBlock.into()
            } else {
                down()
            });
        }
        Err(down())
    }
}

impl Endpoint for VdeLink {
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        if !self.up.load(Relaxed) {
            self.advance();
            if !self.up.load(Relaxed) {
                return Err(down());
            }
        }
        if frame.len() < ETH_HEADER_LEN {
            self.dropped.fetch_add(1, Relaxed);
            return Ok(());
        }
        let (r, id) = match self.conn().as_ref() {
            Some(c) => (
                sys::send(c.data.as_raw_fd(), frame, libc::MSG_DONTWAIT),
                c.id,
            ),
            None => return Err(down()),
        };
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                self.dropped.fetch_add(1, Relaxed);
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                self.dropped.fetch_add(1, Relaxed);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ECONNREFUSED | libc::ENOTCONN | libc::ECONNRESET)
                ) =>
            {
                self.went_down(id, "the switch's data socket is gone");
                Err(down())
            }
            Err(e) => Err(e),
        }
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // A zero-length datagram is not a frame: `receive` treats 0 as nothing received.
        self.receive(|fd| sys::recv(fd, buf, libc::MSG_DONTWAIT))
    }

    fn recv_batch(&self, slots: &mut Slots<'_>) -> io::Result<usize> {
        self.receive(|fd| sys::recvmmsg(fd, slots))
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.poll.raw().as_fd()
    }

    fn is_up(&self) -> bool {
        if self.up.load(Relaxed) {
            let gone = self.conn().as_ref().and_then(|c| {
                (sys::poll_in(c.ctl.as_raw_fd(), 0).unwrap_or(false) && Self::ctl_gone(c))
                    .then_some(c.id)
            });
            if let Some(id) = gone {
                self.went_down(id, "the switch closed the control stream");
            }
        }
        if !self.up.load(Relaxed) {
            self.advance();
        }
        self.up.load(Relaxed)
    }

    fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }
}
