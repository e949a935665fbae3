//! Waiting on several descriptors at once with poll(2): stdin and ioth sockets alike, since
//! ioth sockets are real descriptors.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// Waits until at least one of `fds` is readable, hung up or in error, or `timeout` passes
/// (`None`: no limit). Returns, for each fd in order, whether it is ready; all false on a
/// timeout. Interrupted waits are resumed.
pub fn wait_readable(fds: &[RawFd], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let interest: Vec<_> = fds.iter().map(|&fd| (fd, libc::POLLIN)).collect();
    Ok(wait(&interest, timeout)?
        .into_iter()
        .map(|revents| revents != 0)
        .collect())
}

/// poll(2) on `(fd, events)` pairs (`libc::POLLIN`, `libc::POLLOUT`, ...) until one is
/// ready or `timeout` passes (`None`: no limit); returns each fd's `revents` in order (all 0
/// on a timeout). Interrupted waits are resumed.
pub fn wait(
    fds: &[(RawFd, libc::c_short)],
    timeout: Option<Duration>,
) -> io::Result<Vec<libc::c_short>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    let ms = timeout.map_or(-1, |t| {
        libc::c_int::try_from(t.as_millis()).unwrap_or(libc::c_int::MAX)
    });
    let nfds = libc::nfds_t::try_from(pfds.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    loop {
        // SAFETY: pfds is a valid array of nfds pollfd structures that outlives the call.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), nfds, ms) };
        if n >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(pfds.iter().map(|p| p.revents).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn reports_which_descriptor_is_ready() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let (c, _d) = UnixStream::pair().unwrap();
        let fds = [a.as_raw_fd(), c.as_raw_fd()];
        assert_eq!(
            wait_readable(&fds, Some(Duration::from_millis(1))).unwrap(),
            vec![false, false]
        );
        b.write_all(b"x").unwrap();
        assert_eq!(wait_readable(&fds, None).unwrap(), vec![true, false]);
    }
}
