//! 1,000 smoltcp stacks in one process on one in-process switch, each answering ping and UDP
//! echo, served by one thread polling every socket's descriptor; the process's thread count
//! does not grow with the number of stacks.
//!
//! Stack i probes stack i+1 (a ring): each stack resolves one neighbour, so the test does not
//! wait on smoltcp's limit of one neighbour lookup per second per interface.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::net::UdpSocket;

const STACKS: usize = 1000;

fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:").map(|v| v.trim().parse().ok()))
        })
        .flatten()
        .unwrap_or(0)
}

fn addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 20, (i / 250) as u8, (i % 250 + 1) as u8)
}

/// An ICMP echo request: type 8, code 0, checksum and identifier left for the stack.
fn echo_request(seq: u16) -> Vec<u8> {
    let mut p = vec![8, 0, 0, 0, 0, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"ioth-scale");
    p
}

#[test]
fn a_thousand_stacks_on_one_switch_answer_ping_and_udp_echo() {
    ioth_tests::init_logging();
    let _ = ioth_smoltcp::NAME;
    let before = threads();
    let switch = format!("switch://@{}", ioth_tests::peers::unique_name("scale"));
    let mut stacks = Vec::with_capacity(STACKS);
    for i in 0..STACKS {
        let s = Stack::new("smoltcp", &[&switch]).expect("stack");
        let idx = s.if_nametoindex("vde0").unwrap();
        s.link_set_up(idx, true).unwrap();
        s.ipaddr_add(IpAddr::V4(addr(i)), 16, idx).unwrap();
        stacks.push(s);
    }
    let grown = threads().saturating_sub(before);
    assert!(
        grown <= ioth_smoltcp::driver_threads(),
        "{STACKS} stacks added {grown} threads (the driver pool has {})",
        ioth_smoltcp::driver_threads()
    );

    // Per stack: a UDP echo server, a UDP client and a ping socket, all nonblocking.
    let echo: Vec<UdpSocket> = stacks
        .iter()
        .enumerate()
        .map(|(i, s)| s.udp_bind(SocketAddr::new(addr(i).into(), 7)).unwrap())
        .collect();
    let client: Vec<UdpSocket> = stacks
        .iter()
        .enumerate()
        .map(|(i, s)| s.udp_bind(SocketAddr::new(addr(i).into(), 0)).unwrap())
        .collect();
    let ping: Vec<ioth::Socket> = stacks
        .iter()
        .map(|s| {
            s.socket(
                libc::AF_INET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK,
                libc::IPPROTO_ICMP,
            )
            .expect("ICMP echo socket")
        })
        .collect();
    for s in echo.iter().chain(&client) {
        s.set_nonblocking(true).unwrap();
    }

    let mut pinged = vec![false; STACKS];
    let mut echoed = vec![false; STACKS];
    let mut fds: Vec<libc::pollfd> = echo
        .iter()
        .map(|s| s.as_raw_fd())
        .chain(client.iter().map(|s| s.as_raw_fd()))
        .chain(ping.iter().map(|s| s.as_raw_fd()))
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let start = Instant::now();
    let mut last_send: Option<Instant> = None;
    let mut buf = [0u8; 256];
    while pinged.iter().any(|p| !p) || echoed.iter().any(|e| !e) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "after 120 s: {} of {STACKS} answered ping, {} answered UDP echo",
            pinged.iter().filter(|p| **p).count(),
            echoed.iter().filter(|e| **e).count()
        );
        // (Re)send the probes still unanswered, once a second: a first packet may wait for
        // neighbour resolution.
        if last_send.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
            for i in 0..STACKS {
                let next = (i + 1) % STACKS;
                let to = SocketAddr::new(addr(next).into(), 7);
                if !echoed[next] {
                    let _ = client[i].send_to(format!("probe {next}").as_bytes(), to);
                }
                if !pinged[next] {
                    let _ = ping[i].send_to(&echo_request(next as u16), &to.into(), 0);
                }
            }
            last_send = Some(Instant::now());
        }
        // SAFETY: fds is a valid array of pollfd for the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
        assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
        for (k, pfd) in fds.iter_mut().enumerate() {
            if pfd.revents == 0 {
                continue;
            }
            pfd.revents = 0;
            match k / STACKS {
                // An echo server: answer every datagram.
                0 => {
                    while let Ok((n, from)) = echo[k].recv_from(&mut buf) {
                        let _ = echo[k].send_to(&buf[..n], from);
                    }
                }
                // A client: the echo of its probe proves the next stack answered.
                1 => {
                    while let Ok((n, from)) = client[k - STACKS].recv_from(&mut buf) {
                        let next = (k - STACKS + 1) % STACKS;
                        assert_eq!(from.ip(), IpAddr::V4(addr(next)));
                        assert_eq!(&buf[..n], format!("probe {next}").as_bytes());
                        echoed[next] = true;
                    }
                }
                // A ping socket: an echo reply (type 0) from the next stack.
                _ => {
                    let i = k - 2 * STACKS;
                    while let Ok((n, from)) = ping[i].recv_from(&mut buf, 0) {
                        let next = (i + 1) % STACKS;
                        let from = from.and_then(|a| a.as_socket()).map(|a| a.ip());
                        assert_eq!(from, Some(IpAddr::V4(addr(next))));
                        assert!(
                            n >= 8 && buf[0] == 0,
                            "an echo reply: {:?}",
                            &buf[..n.min(16)]
                        );
                        assert_eq!(
                            u16::from_be_bytes([buf[6], buf[7]]),
                            next as u16,
                            "its sequence number"
                        );
                        pinged[next] = true;
                    }
                }
            }
        }
    }
    log::info!(
        "{STACKS} stacks answered ping and UDP echo in {:?} with {} process threads",
        start.elapsed(),
        threads()
    );
}
