//! The thin layer where this crate meets the OS: sockets, epoll, eventfd, recvmmsg.
//! Every `unsafe` block of the crate outside the TAP ioctl lives here.

use std::ffi::CString;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::slots::Slots;

/// Maps a C return value to `io::Result`, reading errno when it is negative.
pub(crate) fn cvt<T: PartialOrd + Default>(r: T) -> io::Result<T> {
    if r < T::default() {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A new close-on-exec AF_UNIX socket of type `ty` (SOCK_STREAM / SOCK_DGRAM).
pub(crate) fn unix_socket(ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the returned fd is owned by the OwnedFd below.
    let fd = cvt(unsafe { libc::socket(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: fd was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Size of `struct sockaddr_un` as sent on the VDE control stream.
pub(crate) const SOCKADDR_UN_LEN: usize = mem::size_of::<libc::sockaddr_un>();

/// A `sockaddr_un` for `path` (ENAMETOOLONG if it does not fit with its NUL).
pub(crate) fn sockaddr_un(path: &[u8]) -> io::Result<libc::sockaddr_un> {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_un = unsafe { mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if path.len() >= sa.sun_path.len() || path.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (d, s) in sa.sun_path.iter_mut().zip(path) {
        *d = *s as libc::c_char;
    }
    Ok(sa)
}

/// The raw bytes of a `sockaddr_un` as they travel on the control stream.
pub(crate) fn sockaddr_un_bytes(sa: &libc::sockaddr_un) -> [u8; SOCKADDR_UN_LEN] {
    let mut out = [0u8; SOCKADDR_UN_LEN];
    out[..2].copy_from_slice(&sa.sun_family.to_ne_bytes());
    for (d, s) in out[2..].iter_mut().zip(sa.sun_path.iter()) {
        *d = *s as u8;
    }
    out
}

/// Binds `fd` at unix path `path`.
pub(crate) fn bind_un(fd: &OwnedFd, path: &Path) -> io::Result<()> {
    let sa = sockaddr_un(path.as_os_str().as_bytes())?;
    // SAFETY: sa is a valid sockaddr_un for the duration of the call.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_un).cast(),
            SOCKADDR_UN_LEN as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Connects `fd` to the unix address `sa`.
pub(crate) fn connect_sa(fd: &OwnedFd, sa: &libc::sockaddr_un) -> io::Result<()> {
    // SAFETY: sa is a valid sockaddr_un for the duration of the call.
    cvt(unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (sa as *const libc::sockaddr_un).cast(),
            SOCKADDR_UN_LEN as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Connects `fd` to unix path `path`.
pub(crate) fn connect_un(fd: &OwnedFd, path: &Path) -> io::Result<()> {
    connect_sa(fd, &sockaddr_un(path.as_os_str().as_bytes())?)
}

/// Makes a stream socket listen.
pub(crate) fn listen(fd: &OwnedFd, backlog: i32) -> io::Result<()> {
    // SAFETY: plain syscall on an fd we own.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) })?;
    Ok(())
}

/// Accepts one connection (close-on-exec, non-blocking).
pub(crate) fn accept(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: null address pointers are allowed by accept4.
    let new = cvt(unsafe {
        libc::accept4(
            fd,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
        )
    })?;
    // SAFETY: new is a fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// `send(2)`.
pub(crate) fn send(fd: RawFd, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: buf is valid for reads of buf.len() bytes.
    let n = cvt(unsafe {
        libc::send(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            flags | libc::MSG_NOSIGNAL,
        )
    })?;
    Ok(n as usize)
}

/// `recv(2)`.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: buf is valid for writes of buf.len() bytes.
    let n = cvt(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) })?;
    Ok(n as usize)
}

/// `read(2)`.
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for writes of buf.len() bytes.
    let n = cvt(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

/// `write(2)`.
pub(crate) fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for reads of buf.len() bytes.
    let n = cvt(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

/// Most datagrams one `recvmmsg` call takes.
pub(crate) const MMSG_MAX: usize = 64;

/// Receives up to `slots.len()` (at most [`MMSG_MAX`]) datagrams with one non-blocking
/// `recvmmsg`; the length of each goes to `lens`. Returns how many were received.
pub(crate) fn recvmmsg(fd: RawFd, slots: &mut Slots<'_>) -> io::Result<usize> {
    let n = slots.len().min(MMSG_MAX);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: iovec and mmsghdr are plain old data; zero is valid for both.
    let mut iov: [libc::iovec; MMSG_MAX] = unsafe { mem::zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; MMSG_MAX] = unsafe { mem::zeroed() };
    for i in 0..n {
        let slot = slots.slot(i);
        iov[i].iov_base = slot.as_mut_ptr().cast();
        iov[i].iov_len = slot.len();
        msgs[i].msg_hdr.msg_iov = &mut iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: msgs[..n] point into iov[..n], which point into disjoint slots of the
    // exclusively borrowed batch buffer; all outlive the call.
    let got = cvt(unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    })? as usize;
    for (len, msg) in slots.lens.iter_mut().zip(&msgs[..got]) {
        *len = msg.msg_len as usize;
    }
    Ok(got)
}

/// A non-blocking, close-on-exec eventfd.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned below.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // SAFETY: fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds one to an eventfd's counter (it becomes readable).
pub(crate) fn eventfd_signal(fd: RawFd) {
    let one = 1u64.to_ne_bytes();
    if let Err(e) = write(fd, &one) {
        log::warn!("eventfd write: {e}");
    }
}

/// Resets an eventfd's counter (it stops being readable).
pub(crate) fn eventfd_clear(fd: RawFd) {
    let mut b = [0u8; 8];
    let _ = read(fd, &mut b);
}

/// An epoll instance; each registered fd carries a caller-chosen 64-bit token.
pub(crate) struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// A new close-on-exec epoll instance.
    pub(crate) fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall; the fd is owned below.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: fresh fd owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    /// Watches `fd` for input (level-triggered), reporting `token`.
    pub(crate) fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: ev is valid for the call; fd is an open descriptor of the caller.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        Ok(())
    }

    /// Stops watching `fd`.
    pub(crate) fn del(&self, fd: RawFd) {
        // SAFETY: a null event is allowed for EPOLL_CTL_DEL.
        let _ = unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    /// Waits up to `timeout_ms` (-1: forever) and returns the tokens of ready fds.
    pub(crate) fn wait(&self, out: &mut Vec<u64>, max: usize, timeout_ms: i32) -> io::Result<()> {
        out.clear();
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 64];
        let max = max.clamp(1, evs.len());
        // SAFETY: evs has room for `max` events.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                evs.as_mut_ptr(),
                max as i32,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(e);
        }
        out.extend(evs[..n as usize].iter().map(|e| e.u64));
        Ok(())
    }

    /// The epoll fd itself (readable when a watched fd is).
    pub(crate) fn raw(&self) -> &OwnedFd {
        &self.fd
    }
}

/// Waits until `fd` shows one of `events` (or an error) or `timeout_ms` passes; true if it
/// did.
fn poll_one(fd: RawFd, events: i16, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: p is valid for the call.
        let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(n > 0);
    }
}

/// Waits until `fd` is readable or `timeout_ms` passes; true if readable.
pub(crate) fn poll_in(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    poll_one(fd, libc::POLLIN, timeout_ms)
}

/// A C string of a path (EINVAL if it holds a NUL).
pub(crate) fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `access(2)` with R_OK|W_OK, as vde_switch checks a client's data socket.
pub(crate) fn access_rw(p: &Path) -> io::Result<()> {
    let c = cpath(p)?;
    // SAFETY: c is a valid NUL-terminated string.
    cvt(unsafe { libc::access(c.as_ptr(), libc::R_OK | libc::W_OK) })?;
    Ok(())
}

/// Tries to take an exclusive `flock(2)` on `fd` without waiting: false if another open
/// file description holds a lock on the same file.
pub(crate) fn flock_exclusive_nb(fd: RawFd) -> io::Result<bool> {
    loop {
        // SAFETY: plain syscall on a descriptor the caller keeps open.
        match cvt(unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) }) {
            Ok(_) => return Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Effective uid of this process.
pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// Process id.
pub(crate) fn getpid() -> u32 {
    std::process::id()
}

/// Group id of a group name or number.
pub(crate) fn group_id(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Some(n);
    }
    let c = CString::new(name).ok()?;
    // SAFETY: group/buffer are valid for getgrnam_r; result is only read if non-null.
    unsafe {
        let mut grp: libc::group = mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16384];
        let mut res: *mut libc::group = std::ptr::null_mut();
        let r = libc::getgrnam_r(c.as_ptr(), &mut grp, buf.as_mut_ptr(), buf.len(), &mut res);
        if r == 0 && !res.is_null() {
            Some(grp.gr_gid)
        } else {
            None
        }
    }
}

/// Name of the user `uid`, if it has one.
pub(crate) fn user_name(uid: u32) -> Option<String> {
    // SAFETY: passwd/buffer are valid for getpwuid_r; result is only read if non-null.
    unsafe {
        let mut pw: libc::passwd = mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16384];
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let r = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut res);
        if r == 0 && !res.is_null() && !pw.pw_name.is_null() {
            Some(
                std::ffi::CStr::from_ptr(pw.pw_name)
                    .to_string_lossy()
                    .into_owned(),
            )
        } else {
            None
        }
    }
}

/// Starts a non-blocking `connect(2)` of `fd` (which must be O_NONBLOCK) to unix path
/// `path`. `Ok(true)`: connected; `Ok(false)`: in progress (wait for POLLOUT, then
/// [`so_error`]). A full listen backlog is `EAGAIN`, returned as an error.
pub(crate) fn connect_un_nonblocking(fd: &OwnedFd, path: &Path) -> io::Result<bool> {
    match connect_un(fd, path) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The pending error of a socket (`SO_ERROR`), cleared by reading it.
pub(crate) fn so_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let mut err: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err and len are valid for writes of the sizes given.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

/// The uid of the process at the other end of a connected unix socket (`SO_PEERCRED`).
pub(crate) fn peer_uid(fd: RawFd) -> io::Result<u32> {
    // SAFETY: ucred is plain old data; all-zero is a valid value.
    let mut cred: libc::ucred = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid for writes of the sizes given.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    })?;
    Ok(cred.uid)
}

/// The soft limit on open files of this process (`RLIMIT_NOFILE`); `u64::MAX` if unlimited.
pub(crate) fn nofile_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: r is valid for writes.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 1024;
    }
    if r.rlim_cur == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        r.rlim_cur
    }
}

/// A non-blocking, close-on-exec monotonic timerfd, disarmed.
pub(crate) fn timerfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned below.
    let fd = cvt(unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    })?;
    // SAFETY: fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arms a timerfd to expire once after `after` (at least 1 ns), or disarms it (`None`).
/// Arming or disarming also drops an expiration not yet read.
pub(crate) fn timerfd_set(fd: RawFd, after: Option<std::time::Duration>) -> io::Result<()> {
    let value = match after {
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        Some(d) => {
            let d = d.max(std::time::Duration::from_nanos(1));
            libc::timespec {
                tv_sec: d.as_secs().min(i32::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            }
        }
    };
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: value,
    };
    // SAFETY: spec is valid for reads; a null old value is allowed.
    cvt(unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) })?;
    Ok(())
}

/// Waits until `fd` is writable or `timeout_ms` passes; true if writable (or in error).
pub(crate) fn poll_out(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    poll_one(fd, libc::POLLOUT, timeout_ms)
}

/// `err` with `what` (a path, usually) in front of its text, same kind. The errno text
/// appears once.
pub(crate) fn at(what: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", what.display()))
}
