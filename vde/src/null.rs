//! `null://`: a link that drops everything it is given and never receives.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::link::Endpoint;
use crate::sys;

/// The null link: its fd (an eventfd nobody writes) never becomes readable.
pub(crate) struct NullLink {
    fd: OwnedFd,
}

impl NullLink {
    pub(crate) fn new() -> io::Result<NullLink> {
        Ok(NullLink {
            fd: sys::eventfd()?,
        })
    }
}

impl Endpoint for NullLink {
    fn send(&self, _frame: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn recv(&self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
    fn is_up(&self) -> bool {
        true
    }
}
