//! Daemon mode (`-d`): detach from the terminal as the originals do with daemon(3).

use std::io;

/// Forks into the background, starts a new session, changes directory to `/` and sends the
/// standard streams to `/dev/null` (daemon(3) with both flags 0). Call it before any thread
/// or stack exists: only the calling thread survives a fork. Relative paths given on the
/// command line must be made absolute before.
pub fn daemonize() -> io::Result<()> {
    // SAFETY: daemon(3) forks and returns in the child; the caller guarantees that no other
    // thread exists yet, so no lock or state is left half-held in the child.
    let rc = unsafe { libc::daemon(0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
