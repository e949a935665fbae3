//! `vde://DIR`: the client of a vde_switch (or of any node serving its control protocol),
//! byte-compatible with vdeplug4's `vde` module.
//!
//! Options: `[N]` or `[port=N]` asks for port N (`0`: the management port 0); a non-numeric
//! port names a port-group socket `DIR/NAME` tried before `DIR/ctl`; `group=G` gives the
//! data socket to group G; `mode=0660` its permissions (default 0700, widened as vdeplug4
//! does when the switch belongs to another user); `timeout=MS` bounds the wait for the
//! switch's answer (default 5000; a switch refusing a port request never answers).
//!
//! The pollable fd is an epoll fd over the data socket and the control stream, so it turns
//! readable both for frames and for the switch's departure (EOF on the control stream),
//! which makes the link down: `recv`/`send` then fail with ENETDOWN.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::ctl::{CtlRequest, PortRequest};
use crate::eth::ETH_HEADER_LEN;
use crate::link::{Endpoint, Link};
use crate::sys::{self, Epoll, SOCKADDR_UN_LEN};
use crate::vnl::Vnl;

/// Control sockets tried for the empty VNL, as vdeplug4.
const FALLBACK_SWITCHES: [&str; 2] = ["/var/run/vde.ctl", "/tmp/vde.ctl"];
/// Directories for the data socket when the switch directory refuses it.
const FALLBACK_DIRS: [&str; 3] = ["/var/run", "/var/tmp", "/tmp"];
/// Default wait for the switch's answer.
const DEFAULT_TIMEOUT_MS: u64 = 5000;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A connected port of a switch.
pub(crate) struct VdeLink {
    data: OwnedFd,
    ctl: OwnedFd,
    poll: Epoll,
    up: AtomicBool,
    dropped: AtomicU64,
}

fn down() -> io::Error {
    io::Error::from_raw_os_error(libc::ENETDOWN)
}

/// Connects the control stream: `DIR/GROUP` first for a named port group, then `DIR/ctl`.
fn connect_ctl(dir: &Path, portgroup: Option<&str>) -> io::Result<(OwnedFd, PathBuf)> {
    let fd = sys::unix_socket(libc::SOCK_STREAM)?;
    if let Some(g) = portgroup {
        let p = dir.join(g);
        if sys::connect_un(&fd, &p).is_ok() {
            return Ok((fd, p));
        }
    }
    let p = dir.join("ctl");
    sys::connect_un(&fd, &p)?;
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
    Err(last)
}

/// Opens `vde://...`.
pub(crate) fn open(vnl: &Vnl, text: &str) -> io::Result<Link> {
    let port = vnl.option("port");
    let (portreq, portgroup) = match port {
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
        Some(g) => (PortRequest::Any, Some(g)),
    };
    let mut mode = vnl.option_mode("mode")?.unwrap_or(0o700);
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
        .min(i32::MAX as u64) as i32;

    let (ctl, ctl_path, dir) = if vnl.address.is_empty() {
        let mut last = io::Error::from_raw_os_error(libc::ENOENT);
        let mut found = None;
        for d in FALLBACK_SWITCHES {
            match connect_ctl(Path::new(d), portgroup) {
                Ok((fd, p)) => {
                    found = Some((fd, p, PathBuf::from(d)));
                    break;
                }
                Err(e) => last = e,
            }
        }
        found.ok_or(last)?
    } else {
        let dir = std::fs::canonicalize(&vnl.address)?;
        let (fd, p) = connect_ctl(&dir, portgroup)?;
        (fd, p, dir)
    };

    let data = sys::unix_socket(libc::SOCK_DGRAM)?;
    let data_path = bind_data(&data, &dir)?;
    // From here on the data socket's file must go on every exit.
    let result = (|| -> io::Result<VdeLink> {
        if let Some(gid) = group {
            std::os::unix::fs::chown(&data_path, None, Some(gid))?;
        } else if mode & 0o077 == 0
            && let Ok(md) = std::fs::metadata(&ctl_path)
            && md.uid() != 0
            && md.uid() != sys::geteuid()
        {
            // The switch belongs to someone else: let it reach our data socket.
            if std::os::unix::fs::chown(&data_path, None, Some(md.gid())).is_ok() {
                mode |= 0o070;
            } else {
                mode |= 0o077;
            }
        }
        std::fs::set_permissions(&data_path, std::fs::Permissions::from_mode(mode))?;
        let req = CtlRequest {
            port: portreq,
            data_path: data_path.as_os_str().as_bytes().to_vec(),
            description: format!("ioth-rs vde user={} pid={}", sys::geteuid(), sys::getpid()),
        };
        let bytes = req.encode()?;
        let refused = || {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!(
                    "{}: the switch closed the control connection (request refused)",
                    ctl_path.display()
                ),
            )
        };
        match sys::send(ctl.as_raw_fd(), &bytes, 0) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) => {
                return Err(refused());
            }
            Err(e) => return Err(e),
        }
        let mut reply = [0u8; SOCKADDR_UN_LEN];
        let mut got = 0;
        while got < reply.len() {
            if !sys::poll_in(ctl.as_raw_fd(), timeout_ms)? {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{}: no answer from the switch within {timeout_ms} ms",
                        ctl_path.display()
                    ),
                ));
            }
            match sys::recv(ctl.as_raw_fd(), &mut reply[got..], 0) {
                Ok(0) => return Err(refused()),
                Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Err(refused()),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if u16::from_ne_bytes([reply[0], reply[1]]) != libc::AF_UNIX as u16
            || !reply[2..].contains(&0)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the switch's answer is not a unix socket address",
            ));
        }
        let end = reply[2..].iter().position(|&b| b == 0).unwrap_or(0);
        let sa = sys::sockaddr_un(&reply[2..2 + end])?;
        sys::connect_sa(&data, &sa)?;
        sys::set_nonblocking(data.as_raw_fd(), true)?;
        sys::set_nonblocking(ctl.as_raw_fd(), true)?;
        let poll = Epoll::new()?;
        poll.add(data.as_raw_fd(), 0)?;
        poll.add(ctl.as_raw_fd(), 1)?;
        Ok(VdeLink {
            data,
            ctl,
            poll,
            up: AtomicBool::new(true),
            dropped: AtomicU64::new(0),
        })
    })();
    let _ = std::fs::remove_file(&data_path);
    Ok(Link::new(Box::new(result?), text))
}

impl VdeLink {
    /// Called when the data socket is empty: looks for EOF on the control stream.
    fn check_ctl(&self) -> io::Error {
        let mut b = [0u8; 64];
        loop {
            match sys::recv(self.ctl.as_raw_fd(), &mut b, libc::MSG_DONTWAIT) {
                Ok(0) => {
                    if self.up.swap(false, Relaxed) {
                        log::info!("vde: the switch closed the control stream: link down");
                    }
                    return down();
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return e,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.up.store(false, Relaxed);
                    return down();
                }
            }
        }
    }
}

impl Endpoint for VdeLink {
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        if !self.up.load(Relaxed) {
            return Err(down());
        }
        if frame.len() < ETH_HEADER_LEN {
            self.dropped.fetch_add(1, Relaxed);
            return Ok(());
        }
        match sys::send(self.data.as_raw_fd(), frame, libc::MSG_DONTWAIT) {
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
                self.up.store(false, Relaxed);
                Err(down())
            }
            Err(e) => Err(e),
        }
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match sys::recv(self.data.as_raw_fd(), buf, libc::MSG_DONTWAIT) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(self.check_ctl()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ECONNREFUSED | libc::ECONNRESET)
                ) =>
            {
                Err(self.check_ctl())
            }
            Err(e) => Err(e),
        }
    }

    fn recv_batch(&self, slots: &mut [&mut [u8]], lens: &mut [usize]) -> io::Result<usize> {
        match sys::recvmmsg(self.data.as_raw_fd(), slots, lens) {
            Ok(0) => Err(self.check_ctl()),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(self.check_ctl()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ECONNREFUSED | libc::ECONNRESET)
                ) =>
            {
                Err(self.check_ctl())
            }
            Err(e) => Err(e),
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.poll.raw().as_fd()
    }

    fn is_up(&self) -> bool {
        if self.up.load(Relaxed) && sys::poll_in(self.ctl.as_raw_fd(), 0).unwrap_or(false) {
            let _ = self.check_ctl();
        }
        self.up.load(Relaxed)
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }
}
