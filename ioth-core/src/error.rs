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
///
/// ```
/// use ioth::{ErrnoError, errno_of, errno_with};
/// let err = errno_with(libc::ECONNREFUSED, "10.0.0.1:80 (tried 3 times)");
/// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused); // the errno's kind
/// assert_eq!(errno_of(&err), libc::ECONNREFUSED); // and the errno itself
/// let inner = err.get_ref().and_then(|e| e.downcast_ref::<ErrnoError>()).expect("inside");
/// assert_eq!(inner.errno(), libc::ECONNREFUSED);
/// assert_eq!(inner.message(), "10.0.0.1:80 (tried 3 times)");
/// assert_eq!(err.to_string(), "10.0.0.1:80 (tried 3 times) (Connection refused (os error 111))");
/// ```
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

    /// What the error is about, without the errno's text (which `Display` adds).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ErrnoError {
    /// The explanation, then the errno's text in parentheses unless the explanation already
    /// holds an errno's text (an error passed up with its context added, whose errno may
    /// only be known by its kind): an errno's text appears once.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.contains("(os error ") {
            f.write_str(&self.message)
        } else {
            write!(
                f,
                "{} ({})",
                self.message,
                io::Error::from_raw_os_error(self.errno)
            )
        }
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
///
/// ```
/// use std::io;
/// use ioth::{errno, errno_of};
/// # fn main() -> std::io::Result<()> {
/// assert_eq!(errno_of(&errno(libc::ECONNREFUSED)), libc::ECONNREFUSED);
/// assert_eq!(errno_of(&io::Error::from(io::ErrorKind::WouldBlock)), libc::EAGAIN);
/// assert_eq!(errno_of(&io::Error::other("something else")), libc::EIO);
///
/// // What C callers of the socket calls get as errno, e.g. a refused connection:
/// let port = ioth::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(); // now closed
/// let err = ioth::net::TcpStream::connect(("127.0.0.1", port)).expect_err("refused");
/// assert_eq!(errno_of(&err), libc::ECONNREFUSED);
/// # Ok(())
/// # }
/// ```
pub fn errno_of(err: &io::Error) -> i32 {
    if let Some(e) = err.raw_os_error() {
        return e;
    }
    if let Some(e) = err.get_ref().and_then(|e| e.downcast_ref::<ErrnoError>()) {
        return e.errno;
    }
    use io::ErrorKind as K;
    match err.kind() {
        K::WouldBlock => libc::EAGAIN,
        K::InvalidInput => libc::EINVAL,
        K::NotFound => libc::ENOENT,
        K::PermissionDenied => libc::EPERM,
        K::Unsupported => libc::EOPNOTSUPP,
        K::TimedOut => libc::ETIMEDOUT,
        K::OutOfMemory => libc::ENOMEM,
        K::AlreadyExists => libc::EEXIST,
        K::ConnectionRefused => libc::ECONNREFUSED,
        K::ConnectionReset => libc::ECONNRESET,
        K::ConnectionAborted => libc::ECONNABORTED,
        K::NotConnected => libc::ENOTCONN,
        K::AddrInUse => libc::EADDRINUSE,
        K::AddrNotAvailable => libc::EADDRNOTAVAIL,
        K::BrokenPipe => libc::EPIPE,
        K::Interrupted => libc::EINTR,
        K::ResourceBusy => libc::EBUSY,
        K::NetworkDown => libc::ENETDOWN,
        K::NetworkUnreachable => libc::ENETUNREACH,
        K::HostUnreachable => libc::EHOSTUNREACH,
        K::NotADirectory => libc::ENOTDIR,
        K::IsADirectory => libc::EISDIR,
        K::DirectoryNotEmpty => libc::ENOTEMPTY,
        K::ReadOnlyFilesystem => libc::EROFS,
        K::StorageFull => libc::ENOSPC,
        K::FileTooLarge => libc::EFBIG,
        K::InvalidFilename => libc::ENAMETOOLONG,
        _ => libc::EIO,
    }
}

/// `err` with what it is about in front (`stack#2: interface "eth9"`), keeping its errno; the
/// errno's text appears once, at the end, and a message `err` already carried stays (after a
/// colon).
///
/// ```
/// use ioth::{errno, errno_of, with_context};
/// let err = with_context(&errno(libc::ENODEV), "stack#2: interface \"eth9\"");
/// assert_eq!(errno_of(&err), libc::ENODEV);
/// assert_eq!(err.to_string(), "stack#2: interface \"eth9\" (No such device (os error 19))");
/// let outer = with_context(&err, "configuring");
/// assert!(outer.to_string().starts_with("configuring: stack#2: interface"), "{outer}");
/// ```
pub fn with_context(err: &io::Error, about: impl std::fmt::Display) -> io::Error {
    let detail = match err.get_ref() {
        None => String::new(),
        Some(inner) => match inner.downcast_ref::<ErrnoError>() {
            Some(e) => format!(": {}", e.message),
            None => {
                // A message made by io::Error::new: drop an errno text it ends with.
                let text = inner.to_string();
                let errno_text = io::Error::from_raw_os_error(errno_of(err)).to_string();
                let text = text
                    .strip_suffix(&format!(" ({errno_text})"))
                    .or_else(|| text.strip_suffix(&format!(": {errno_text}")))
                    .unwrap_or(&text)
                    .to_owned();
                if text == errno_text {
                    String::new()
                } else {
                    format!(": {text}")
                }
            }
        },
    };
    errno_with(errno_of(err), format!("{about}{detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_errno_and_says_its_text_once() {
        let os = io::Error::from_raw_os_error(libc::ENODEV);
        let e = with_context(&os, "stack#1: interface \"eth9\"");
        assert_eq!(errno_of(&e), libc::ENODEV);
        assert_eq!(
            e.to_string(),
            "stack#1: interface \"eth9\" (No such device (os error 19))"
        );
        let inner = errno_with(libc::ENOENT, "no such hub /tmp/x");
        let e = with_context(&inner, "cannot open VNL \"vde:///tmp/x\"");
        assert_eq!(
            e.to_string(),
            "cannot open VNL \"vde:///tmp/x\": no such hub /tmp/x (No such file or directory (os error 2))"
        );
        let plain = io::Error::new(
            io::ErrorKind::NotFound,
            format!("/tmp/x: {}", io::Error::from_raw_os_error(libc::ENOENT)),
        );
        let e = with_context(&plain, "VNL");
        assert_eq!(e.to_string().matches("os error 2").count(), 1, "{e}");
    }

    /// An error that lost its raw errno but kept its kind (a message naming a path, as the
    /// vde crate gives) still reports the errno the kind stands for, so the C API's errno
    /// and callers matching on it stay right.
    #[test]
    fn a_kind_without_raw_errno_maps_back_to_its_errno() {
        for e in [
            libc::EEXIST,
            libc::ECONNREFUSED,
            libc::ECONNRESET,
            libc::EADDRINUSE,
            libc::EADDRNOTAVAIL,
            libc::ENETDOWN,
            libc::ENETUNREACH,
            libc::EHOSTUNREACH,
            libc::EBUSY,
            libc::ETIMEDOUT,
            libc::ENOENT,
            libc::EPIPE,
            libc::ENOTCONN,
        ] {
            let kind = io::Error::from_raw_os_error(e).kind();
            let err = io::Error::new(kind, "/tmp/somewhere: explained");
            assert_eq!(errno_of(&err), e, "{kind:?}");
        }
    }

    #[test]
    fn the_errno_text_appears_once() {
        let plain = errno_with(libc::EEXIST, "/tmp/x: in the way");
        assert_eq!(
            plain.to_string(),
            "/tmp/x: in the way (File exists (os error 17))"
        );
        let inner = io::Error::new(
            io::ErrorKind::PermissionDenied,
            "/tmp/x: Permission denied (os error 13)",
        );
        // Its errno is known by its kind only (EPERM): no second, different text either.
        let outer = errno_with(errno_of(&inner), format!("opening: {inner}"));
        assert_eq!(
            outer.to_string(),
            "opening: /tmp/x: Permission denied (os error 13)"
        );
    }
}
