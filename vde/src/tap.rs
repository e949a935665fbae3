//! `tap://IFNAME`: a Linux TAP interface opened with IFF_TAP | IFF_NO_PI, so each read or
//! write is exactly one Ethernet frame. The interface exists while the link is open (unless
//! it was made persistent by someone else).

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use crate::eth::ETH_HEADER_LEN;
use crate::link::Endpoint;
use crate::sys;

/// `_IOW('T', 202, int)`
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;

#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// An open TAP device.
pub(crate) struct TapLink {
    fd: OwnedFd,
    up: AtomicBool,
    dropped: AtomicU64,
}

impl TapLink {
    /// Opens (creating if needed) TAP interface `name` (1..=15 bytes).
    pub(crate) fn open(name: &str) -> io::Result<TapLink> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("tap:// interface name {name:?} must have 1 to 15 bytes and no '/'"),
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open("/dev/net/tun")?;
        let fd: OwnedFd = file.into();
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TAP | IFF_NO_PI,
            _pad: [0; 22],
        };
        for (d, s) in req.name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        // SAFETY: TUNSETIFF reads and writes a struct ifreq, which IfReq lays out (name,
        // then a union whose first member is the short flags; 40 bytes in all).
        sys::cvt(unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) })?;
        Ok(TapLink {
            fd,
            up: AtomicBool::new(true),
            dropped: AtomicU64::new(0),
        })
    }
}

impl Endpoint for TapLink {
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        if frame.len() < ETH_HEADER_LEN {
            self.dropped.fetch_add(1, Relaxed);
            return Ok(());
        }
        match sys::write(self.fd.as_raw_fd(), frame) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.dropped.fetch_add(1, Relaxed);
                Ok(())
            }
            // The interface is administratively down: the kernel drops, so do we.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                self.dropped.fetch_add(1, Relaxed);
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::EBADFD) => {
                self.up.store(false, Relaxed);
                Err(io::Error::from_raw_os_error(libc::ENETDOWN))
            }
            Err(e) => Err(e),
        }
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match sys::read(self.fd.as_raw_fd(), buf) {
            Err(e) if e.raw_os_error() == Some(libc::EBADFD) => {
                self.up.store(false, Relaxed);
                Err(io::Error::from_raw_os_error(libc::ENETDOWN))
            }
            r => r,
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn is_up(&self) -> bool {
        self.up.load(Relaxed)
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }
}
