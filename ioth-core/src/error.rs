//! Errors as Linux gives them: `std::io::Error` built from an errno.

use std::io;

/// An `io::Error` carrying `errno`, as the matching libc call would fail.
pub fn errno(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

/// `EBADF`: the descriptor is not an ioth socket.
pub(crate) fn ebadf() -> io::Error {
    errno(libc::EBADF)
}

/// An error that carries both an errno and an explanation (which paths were tried, which
/// token was wrong). [`errno_of`] finds its errno.
#[derive(Debug)]
pub struct ErrnoError {
    errno: i32,
    message: String,
}

impl ErrnoError {
    /// The errno.
    pub fn errno(&self) -> i32 {
        self.errno
    }
}

impl std::fmt::Display for ErrnoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({})",
            self.message,
            io::Error::from_raw_os_error(self.errno)
        )
    }
}

impl std::error::Error for ErrnoError {}

/// An `io::Error` of the kind `errno` means, with an explanation, whose errno [`errno_of`]
/// gives back.
pub fn errno_with(errno: i32, message: impl Into<String>) -> io::Error {
    io::Error::new(
        io::Error::from_raw_os_error(errno).kind(),
        ErrnoError {
            errno,
            message: message.into(),
        },
    )
}

/// The errno of an `io::Error`: its OS error, the errno of an [`ErrnoError`] inside it, else
/// the errno its kind stands for (`EIO` when none does).
pub fn errno_of(err: &io::Error) -> i32 {
    if let Some(e) = err.raw_os_error() {
        return e;
    }
    if let Some(e) = err.get_ref().and_then(|e| e.downcast_ref::<ErrnoError>()) {
        return e.errno;
    }
    match err.kind() {
        io::ErrorKind::WouldBlock => libc::EAGAIN,
        io::ErrorKind::InvalidInput => libc::EINVAL,
        io::ErrorKind::NotFound => libc::ENOENT,
        io::ErrorKind::PermissionDenied => libc::EPERM,
        io::ErrorKind::Unsupported => libc::EOPNOTSUPP,
        io::ErrorKind::TimedOut => libc::ETIMEDOUT,
        io::ErrorKind::OutOfMemory => libc::ENOMEM,
        _ => libc::EIO,
    }
}
