//! Connecting to one of several addresses the way RFC 8305 (Happy Eyeballs v2) says: the
//! families interleaved, IPv6 first; a new attempt every 250 ms while earlier ones are still
//! pending, or at once when one fails; the first connection made wins and the others close.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::socket_for;
use crate::error::errno;
use crate::socket::Socket;
use crate::stack::Stack;
use crate::sys::poll_until;

/// RFC 8305 §5's recommended Connection Attempt Delay.
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// `addrs` in the order attempts are made: interleaved by family, starting with IPv6 when
/// there is one (RFC 8305 §4), each family's own order kept.
pub fn attempt_order(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs.iter().partition(|a| a.is_ipv6());
    let mut out = Vec::with_capacity(addrs.len());
    let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => break,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
    out
}

/// A connected TCP socket to the first of `addrs` that answers; `timeout` bounds the whole
/// race (`ETIMEDOUT`), `None` leaves each attempt to the stack's own limits. The error of the
/// last failed attempt when none succeeds.
pub fn connect(
    stack: &Stack,
    addrs: &[SocketAddr],
    timeout: Option<Duration>,
) -> io::Result<Socket> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let order = attempt_order(addrs);
    let mut next = order.iter();
    let mut in_flight: Vec<(Socket, SocketAddr)> = Vec::new();
    let mut last_err: Option<io::Error> = None;
    let mut next_attempt = Instant::now();
    let mut exhausted = false;
    loop {
        // Start attempts that are due: one per delay, or at once when nothing is pending.
        while !exhausted && (in_flight.is_empty() || Instant::now() >= next_attempt) {
            let Some(addr) = next.next() else {
                exhausted = true;
                break;
            };
            let started = (|| {
                let sock = socket_for(stack, addr, libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
                match sock.connect(&(*addr).into()) {
                    Ok(()) => Ok((sock, true)),
                    Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok((sock, false)),
                    Err(e) => Err(e),
                }
            })();
            match started {
                Ok((sock, true)) => return finish(sock),
                Ok((sock, false)) => {
                    log::debug!("happy eyeballs: trying {addr}");
                    in_flight.push((sock, *addr));
                    next_attempt = Instant::now() + ATTEMPT_DELAY;
                }
                Err(e) => {
                    log::debug!("happy eyeballs: {addr}: {e}");
                    last_err = Some(e);
                }
            }
        }
        if in_flight.is_empty() {
            return Err(last_err.unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "no addresses to connect to")
            }));
        }
        let wait_until = match (exhausted, deadline) {
            (true, d) => d,
            (false, Some(d)) => Some(d.min(next_attempt)),
            (false, None) => Some(next_attempt),
        };
        let mut fds: Vec<libc::pollfd> = in_flight
            .iter()
            .map(|(s, _)| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            })
            .collect();
        poll_until(&mut fds, wait_until)?;
        let mut still = Vec::with_capacity(in_flight.len());
        let mut winner = None;
        for ((sock, addr), fd) in in_flight.into_iter().zip(&fds) {
            if winner.is_some() || fd.revents == 0 {
                still.push((sock, addr));
                continue;
            }
            match sock.take_error()? {
                None => winner = Some(sock),
                Some(e) => {
                    log::debug!("happy eyeballs: {addr}: {e}");
                    last_err = Some(e);
                }
            }
        }
        if let Some(sock) = winner {
            // The losers close as `still` drops.
            return finish(sock);
        }
        in_flight = still;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(errno(libc::ETIMEDOUT));
        }
    }
}

fn finish(sock: Socket) -> io::Result<Socket> {
    sock.set_nonblocking(false)?;
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_interleave_ipv6_first() {
        let a: Vec<SocketAddr> = [
            "10.0.0.1:1",
            "10.0.0.2:1",
            "[2001:db8::1]:1",
            "[2001:db8::2]:1",
            "[2001:db8::3]:1",
        ]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
        let order: Vec<String> = attempt_order(&a).iter().map(|s| s.to_string()).collect();
        assert_eq!(
            order,
            [
                "[2001:db8::1]:1",
                "10.0.0.1:1",
                "[2001:db8::2]:1",
                "10.0.0.2:1",
                "[2001:db8::3]:1"
            ]
        );
    }
}
