//! The descriptor a user polls for a user-space socket.
//!
//! A nonblocking `AF_UNIX` stream socketpair: the user holds one end, the stack the other
//! (libvpoll's emulation). The stack shows
//! - IN by writing a byte into the user end's receive queue (cleared by draining it),
//! - OUT by keeping the user end's small send buffer empty (cleared by filling it),
//! - RDHUP (with IN) by shutting down the stack end for writing,
//! - HUP by shutting down the stack end entirely.
//!
//! Each change costs one or two system calls and is made only when the wanted state differs
//! from the last one set. Inside a stack call the change waits until the stack is unlocked
//! (see [`Readiness`]).

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// What a socket's descriptor should report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    /// A read or accept would not block.
    pub readable: bool,
    /// A write would not block.
    pub writable: bool,
    /// The peer closed its direction (EOF): implies readable, for good.
    pub rdhup: bool,
    /// Both directions are closed, or the connection failed: final.
    pub hup: bool,
}

/// The socketpair behind a user-space socket's descriptor, and what it shows.
struct Pair {
    user: OwnedFd,
    stack: OwnedFd,
    /// The state last asked for ([`Ready::bits`]), written under the stack's lock.
    want: AtomicU8,
    /// The state the descriptor shows; changes are made under this lock, always towards
    /// the latest `want`, so appliers on different threads cannot reorder them.
    shown: Mutex<Ready>,
}

/// A user-space socket's descriptor, as its stack sees it.
///
/// Changes asked for during a stack call are made once the call has unlocked its stack
/// (see `in_call`): a thread the change wakes finds the stack free instead of sleeping on
/// its lock at once.
pub(crate) struct Readiness {
    pair: Arc<Pair>,
}

thread_local! {
    /// Descriptors whose changes wait for the end of this thread's stack call.
    static DEFERRED: RefCell<Vec<Arc<Pair>>> = const { RefCell::new(Vec::new()) };
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Ready {
    fn bits(self) -> u8 {
        u8::from(self.readable)
            | u8::from(self.writable) << 1
            | u8::from(self.rdhup) << 2
            | u8::from(self.hup) << 3
    }

    fn from_bits(b: u8) -> Ready {
        Ready {
            readable: b & 1 != 0,
            writable: b & 2 != 0,
            rdhup: b & 4 != 0,
            hup: b & 8 != 0,
        }
    }
}

impl Readiness {
    /// A new pair showing writable only (a fresh socket).
    pub(crate) fn new() -> io::Result<Readiness> {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two descriptors into fds.
        cvt(unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        })?;
        // SAFETY: both descriptors were just created and are owned by nobody else.
        let (user, stack) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // The smallest send buffer the kernel allows: a few bytes fill it.
        let one: libc::c_int = 1;
        // SAFETY: setsockopt with a valid int option value.
        cvt(unsafe {
            libc::setsockopt(
                user.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })?;
        let fresh = Ready {
            writable: true,
            ..Ready::default()
        };
        Ok(Readiness {
            pair: Arc::new(Pair {
                user,
                stack,
                want: AtomicU8::new(fresh.bits()),
                shown: Mutex::new(fresh),
            }),
        })
    }

    /// The descriptor the user polls.
    pub(crate) fn user_fd(&self) -> RawFd {
        self.pair.user.as_raw_fd()
    }

    /// Makes the descriptor show `want`, touching it only where it differs: now outside a
    /// stack call, at the end of the call inside one ([`apply_deferred`]).
    pub(crate) fn show(&mut self, want: Ready) {
        // `want` is written only here, under the stack's lock: the last state asked for.
        let wanted = Ready::from_bits(self.pair.want.load(Ordering::Relaxed));
        if wanted == want || wanted.hup {
            return;
        }
        self.pair.want.store(want.bits(), Ordering::Release);
        let deferred = crate::in_call::active()
            && DEFERRED
                .try_with(|d| {
                    d.try_borrow_mut()
                        .map(|mut d| d.push(self.pair.clone()))
                        .is_ok()
                })
                .unwrap_or(false);
        if !deferred {
            self.pair.apply();
        }
    }
}

/// Makes the changes this thread's stack call asked for (called once the stack is unlocked).
pub(crate) fn apply_deferred() {
    loop {
        let next = DEFERRED
            .try_with(|d| d.try_borrow_mut().ok().and_then(|mut d| d.pop()))
            .ok()
            .flatten();
        match next {
            Some(pair) => pair.apply(),
            None => break,
        }
    }
}

impl Pair {
    /// Brings the descriptor to the latest state asked for.
    fn apply(&self) {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        let want = Ready::from_bits(self.want.load(Ordering::Acquire));
        let cur = *shown;
        if cur == want || cur.hup {
            return;
        }
        if want.hup {
            // Writable too (a failed connect: Linux shows OUT with HUP, and a nonblocking
            // connect's caller polls for OUT): the user end's send buffer is emptied first,
            // which the shutdown would not do.
            let writable = cur.writable || want.writable;
            if writable && !cur.writable {
                drain(self.stack.as_raw_fd());
            }
            // SAFETY: shutdown on our own descriptor.
            unsafe { libc::shutdown(self.stack.as_raw_fd(), libc::SHUT_RDWR) };
            *shown = Ready {
                readable: true,
                writable,
                rdhup: true,
                hup: true,
            };
            return;
        }
        if want.rdhup && !cur.rdhup {
            // SAFETY: shutdown on our own descriptor.
            unsafe { libc::shutdown(self.stack.as_raw_fd(), libc::SHUT_WR) };
            shown.rdhup = true;
            shown.readable = true;
        }
        if !shown.rdhup && want.readable != shown.readable {
            if want.readable {
                let b = [1u8];
                // SAFETY: writes one byte from a valid buffer to our own descriptor.
                unsafe { libc::write(self.stack.as_raw_fd(), b.as_ptr().cast(), 1) };
            } else {
                drain(self.user.as_raw_fd());
            }
            shown.readable = want.readable;
        }
        if want.writable != shown.writable {
            if want.writable {
                drain(self.stack.as_raw_fd());
            } else {
                fill(self.user.as_raw_fd());
            }
            shown.writable = want.writable;
        }
    }
}

/// Reads everything queued on `fd` (nonblocking).
fn drain(fd: RawFd) {
    let mut buf = [0u8; 256];
    loop {
        // SAFETY: reads into a valid buffer of its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
    }
}

/// Writes on `fd` until its send buffer is full (nonblocking).
fn fill(fd: RawFd) {
    let buf = [0u8; 64];
    for _ in 0..1024 {
        // SAFETY: writes from a valid buffer of its length.
        let n = unsafe {
            libc::send(
                fd,
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n <= 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(fd: RawFd) -> i16 {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: a valid pollfd, zero timeout.
        unsafe { libc::poll(&mut p, 1, 0) };
        p.revents
    }

    #[test]
    fn the_user_descriptor_shows_exactly_what_the_stack_sets() {
        let mut r = Readiness::new().unwrap();
        let fd = r.user_fd();
        assert_eq!(poll(fd), libc::POLLOUT, "fresh: writable only");
        r.show(Ready {
            readable: true,
            writable: true,
            ..Ready::default()
        });
        assert_eq!(poll(fd), libc::POLLIN | libc::POLLOUT);
        r.show(Ready {
            readable: true,
            writable: false,
            ..Ready::default()
        });
        assert_eq!(poll(fd), libc::POLLIN);
        r.show(Ready::default());
        assert_eq!(poll(fd), 0, "neither readable nor writable");
        r.show(Ready {
            writable: true,
            ..Ready::default()
        });
        assert_eq!(poll(fd), libc::POLLOUT);
        r.show(Ready {
            readable: true,
            writable: true,
            rdhup: true,
            hup: false,
        });
        assert_eq!(poll(fd), libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP);
        r.show(Ready {
            readable: true,
            writable: true,
            rdhup: true,
            hup: true,
        });
        assert!(poll(fd) & libc::POLLHUP != 0);

        // Hang-up that comes with writability, from a state that was not writable (a connect
        // in progress that fails) shows OUT too.
        let mut r = Readiness::new().unwrap();
        let fd = r.user_fd();
        r.show(Ready::default());
        assert_eq!(poll(fd), 0);
        r.show(Ready {
            writable: true,
            hup: true,
            ..Ready::default()
        });
        let ev = poll(fd);
        assert!(
            ev & libc::POLLHUP != 0 && ev & libc::POLLOUT != 0,
            "{ev:#x}"
        );
    }

    #[test]
    fn changes_asked_for_inside_a_stack_call_show_when_it_ends() {
        let mut r = Readiness::new().unwrap();
        let fd = r.user_fd();
        assert!(crate::in_call::enter());
        r.show(Ready {
            readable: true,
            writable: true,
            ..Ready::default()
        });
        assert_eq!(
            poll(fd),
            libc::POLLOUT,
            "not yet: the stack is still locked"
        );
        r.show(Ready {
            readable: true,
            writable: false,
            ..Ready::default()
        });
        assert!(crate::in_call::leave(), "the outermost call");
        assert_eq!(
            poll(fd),
            libc::POLLOUT,
            "applied by the caller, after unlocking"
        );
        apply_deferred();
        assert_eq!(poll(fd), libc::POLLIN, "the latest state asked for");
        apply_deferred();
        assert_eq!(poll(fd), libc::POLLIN, "applying again changes nothing");
        r.show(Ready::default());
        assert_eq!(poll(fd), 0, "outside a call: at once");
    }
}
