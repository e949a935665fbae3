//! `stacks_scale`: N smoltcp stacks in this process on one in-process switch, each with `vde0`
//! up and an address, no sockets. Measured: creation rate, resident memory per idle stack,
//! threads of the process, and a ping to every stack (ARP then ICMP echo, built as raw frames
//! on a member of the same switch, since the stack has no ICMP sockets yet). Reference: the
//! same number of kernel network namespaces (creation rate, kernel memory), where feasible.
//!
//! Why a learning switch (`switch://@`) and not a flooding hub: on a hub every frame is copied
//! to all N members, so a sweep of N pings costs ~4·N² deliveries (10⁸ for 10,000 stacks). On
//! the switch only the first frame to each stack floods (its MAC is unknown until it answers);
//! replies and the echo requests travel to one member.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use ioth::Stack;

use crate::Ctx;
use crate::fixture::unique;
use crate::machine::{meminfo_kib, rss_kib, threads};
use crate::report::{Better, Row, Samples, num};

const PINGER_MAC: [u8; 6] = [0x02, 0xbe, 0, 0, 0xff, 0xfe];
const PINGER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 255, 254);
/// Frames in flight per batch of the sweep (below the members' queue length of 256).
const BATCH: usize = 200;

fn stack_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 77, 0, 0)) + i as u32 + 1)
}

fn stack_mac(i: usize) -> [u8; 6] {
    let b = (i as u32).to_be_bytes();
    [0x02, 0xbe, 0x01, b[1], b[2], b[3]]
}

/// The Internet checksum of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ARP request for `ip`, sent unicast to `mac` (so only that stack looks at it).
fn arp_request(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&PINGER_MAC);
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&PINGER_MAC);
    f.extend_from_slice(&PINGER_IP.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&ip.octets());
    f.resize(60, 0);
    f
}

/// An ICMP echo request to `ip` at `mac` with identifier/sequence `seq`.
fn echo_request(mac: [u8; 6], ip: Ipv4Addr, seq: u16) -> Vec<u8> {
    let payload = [0x61u8; 32];
    let mut icmp = vec![8, 0, 0, 0, 0xbe, 0x01];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(&payload);
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut iph = vec![0x45, 0];
    iph.extend_from_slice(&total.to_be_bytes());
    iph.extend_from_slice(&[0, 0, 0x40, 0, 64, 1, 0, 0]);
    iph.extend_from_slice(&PINGER_IP.octets());
    iph.extend_from_slice(&ip.octets());
    let c = checksum(&iph);
    iph[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = Vec::with_capacity(14 + total as usize);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&PINGER_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&iph);
    f.extend_from_slice(&icmp);
    f
}

/// What a received frame is: an ARP reply or an echo reply to the pinger, or anything else.
enum Answer {
    Arp,
    Echo,
    Other,
}

fn classify(f: &[u8]) -> Answer {
    if f.len() < 42 || f[0..6] != PINGER_MAC {
        return Answer::Other;
    }
    match (f[12], f[13]) {
        (0x08, 0x06) if f[20..22] == [0, 2] => Answer::Arp,
        (0x08, 0x00) => {
            let ihl = usize::from(f[14] & 0x0f) * 4;
            let icmp = 14 + ihl;
            if f[23] == 1
                && f.len() >= icmp + 8
                && f[icmp] == 0
                && f[icmp + 4..icmp + 6] == [0xbe, 0x01]
            {
                Answer::Echo
            } else {
                Answer::Other
            }
        }
        _ => Answer::Other,
    }
}

fn poll_in(fd: i32, ms: i32) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the call.
    unsafe { libc::poll(&mut p, 1, ms) };
}

/// Sends ARP then echo to every stack, `BATCH` at a time; returns (echo replies, seconds).
fn sweep(pinger: &vde::Link, n: usize) -> io::Result<(usize, f64)> {
    let t0 = Instant::now();
    let mut batch = vde::FrameBatch::new(vde::BATCH_MAX);
    let mut replies = 0usize;
    for start in (0..n).step_by(BATCH) {
        let end = (start + BATCH).min(n);
        for i in start..end {
            pinger.send(&arp_request(stack_mac(i), stack_ip(i)))?;
        }
        let mut arps = 0;
        let limit = Instant::now() + Duration::from_secs(5);
        while arps < end - start && Instant::now() < limit {
            match pinger.recv_batch(&mut batch) {
                Ok(_) => {
                    arps += batch
                        .iter()
                        .filter(|f| matches!(classify(f), Answer::Arp))
                        .count();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => poll_in(pinger.as_raw_fd(), 50),
                Err(e) => return Err(e),
            }
        }
        log::info!("batch {start}: {arps} ARP replies after {:?}", t0.elapsed());
        for i in start..end {
            pinger.send(&echo_request(stack_mac(i), stack_ip(i), i as u16))?;
        }
        let mut got = 0;
        let limit = Instant::now() + Duration::from_secs(5);
        while got < end - start && Instant::now() < limit {
            match pinger.recv_batch(&mut batch) {
                Ok(_) => {
                    got += batch
                        .iter()
                        .filter(|f| matches!(classify(f), Answer::Echo))
                        .count();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => poll_in(pinger.as_raw_fd(), 50),
                Err(e) => return Err(e),
            }
        }
        log::info!("batch {start}: {got} echo replies after {:?}", t0.elapsed());
        replies += got;
    }
    Ok((replies, t0.elapsed().as_secs_f64()))
}

/// Figures for N of our stacks.
struct Ours {
    create_per_s: f64,
    kib_per_stack: f64,
    threads: u64,
    threads_before: u64,
    drivers: usize,
    replies: usize,
    sweep_s: f64,
}

fn ours(n: usize) -> io::Result<Ours> {
    let name = unique("scale");
    // Learned MACs must outlive the creation of every stack (minutes under load), else the
    // sweep's unicast frames flood all N members again.
    let vnl = format!("switch://@{name}[expiretime=3600]");
    // The pinger joins first so the baseline includes the switch itself.
    let pinger = vde::open(&vnl)?;
    // One stack first so the driver pool and lazily made globals are in the baseline.
    let warm = Stack::new(ioth_smoltcp::NAME, &[&vnl])?;
    std::thread::sleep(Duration::from_millis(100));
    let rss0 = rss_kib();
    let threads_before = threads();
    let t0 = Instant::now();
    let mut stacks = Vec::with_capacity(n);
    for i in 0..n {
        let s = Stack::new(ioth_smoltcp::NAME, &[&vnl])?;
        let nl = s.netlink()?;
        let idx = nl.if_nametoindex("vde0")?;
        nl.link_set_mac(idx, stack_mac(i))?;
        nl.link_set_up(idx, true)?;
        nl.ipaddr_add(IpAddr::V4(stack_ip(i)), 16, idx)?;
        drop(nl);
        stacks.push(s);
    }
    let create = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let rss1 = rss_kib();
    let th = threads();
    // Frames the stacks sent on their own (multicast) reached the pinger too: count and drop
    // them so the sweep starts with an empty queue.
    let mut junk = vde::FrameBatch::new(vde::BATCH_MAX);
    let mut unsolicited = 0usize;
    while let Ok(k) = pinger.recv_batch(&mut junk) {
        for f in junk.iter() {
            log::debug!(
                "unsolicited: dst {:02x?} type {:02x}{:02x} len {}",
                &f[0..6],
                f[12],
                f[13],
                f.len()
            );
        }
        unsolicited += k;
    }
    log::info!("{unsolicited} unsolicited frames");
    let (replies, sweep_s) = sweep(&pinger, n)?;
    drop(stacks);
    drop(warm);
    Ok(Ours {
        create_per_s: n as f64 / create,
        kib_per_stack: rss1.saturating_sub(rss0) as f64 / n as f64,
        threads: th,
        threads_before,
        drivers: ioth_smoltcp::driver_threads(),
        replies,
        sweep_s,
    })
}

/// N kernel network namespaces, each made by `unshare(CLONE_NEWNET)` on a helper thread and
/// kept alive by a descriptor: (namespaces/s, KiB of kernel memory each from MemFree).
fn kernel_netns(n: usize) -> io::Result<(f64, f64)> {
    let free0 = meminfo_kib("MemFree:").unwrap_or(0);
    let t0 = Instant::now();
    let fds = std::thread::spawn(move || -> io::Result<Vec<OwnedFd>> {
        let mut fds = Vec::with_capacity(n);
        for _ in 0..n {
            // SAFETY: unshare of this thread's network namespace; the thread does nothing else.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: open of a NUL-terminated path.
            let fd = unsafe {
                libc::open(
                    c"/proc/thread-self/ns/net".as_ptr(),
                    libc::O_RDONLY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: fd was just opened and is owned by nobody else.
            fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        Ok(fds)
    })
    .join()
    .map_err(|_| io::Error::other("netns thread panicked"))??;
    let el = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let free1 = meminfo_kib("MemFree:").unwrap_or(0);
    drop(fds);
    Ok((n as f64 / el, free0.saturating_sub(free1) as f64 / n as f64))
}

pub(crate) fn run(ctx: &Ctx) -> Vec<Row> {
    let counts: &[usize] = if ctx.quick { &[1000] } else { &[1000, 10_000] };
    let mut rows = Vec::new();
    for &n in counts {
        let o = match ours(n) {
            Ok(o) => o,
            Err(e) => {
                rows.push(Row::skipped(
                    &format!("stacks_scale.{n}"),
                    "-",
                    format!("our stacks failed: {e}"),
                ));
                continue;
            }
        };
        // Let the kernel finish freeing our stacks' descriptors before the reference.
        std::thread::sleep(Duration::from_millis(200));
        let k = if crate::peers::is_root() {
            kernel_netns(n).map_err(|e| e.to_string())
        } else {
            Err("needs root".into())
        };
        // Freed namespaces are cleaned up asynchronously; give the kernel a moment.
        std::thread::sleep(Duration::from_millis(500));
        let (kr, km, knote) = match &k {
            Ok((r, m)) => (
                Samples::one(*r),
                Samples::one(*m),
                "reference: kernel netns via unshare(CLONE_NEWNET), lo only (kernel memory from MemFree, approximate)".to_owned(),
            ),
            Err(e) => (
                Samples::default(),
                Samples::default(),
                format!("no kernel netns reference ({e})"),
            ),
        };
        rows.push(Row::new(
            &format!("stacks_scale.{n}.create"),
            "stacks/s",
            Better::Higher,
            Samples::one(o.create_per_s),
            kr,
            format!("Stack::new + vde0 MAC, up, address via the stack's rtnetlink; {knote}"),
        ));
        rows.push(Row::new(
            &format!("stacks_scale.{n}.memory"),
            "KiB/stack",
            Better::Lower,
            Samples::one(o.kib_per_stack),
            km,
            format!("RSS delta / {n}, idle (no sockets); goal ≤ 64 KiB; {knote}"),
        ));
        rows.push(Row::new(
            &format!("stacks_scale.{n}.threads"),
            "threads",
            Better::Lower,
            Samples::one(o.threads as f64),
            Samples::default(),
            format!(
                "threads in the process with {n} stacks ({} before them; {} smoltcp driver threads); goal: not growing with N",
                o.threads_before, o.drivers
            ),
        ));
        rows.push(Row::new(
            &format!("stacks_scale.{n}.ping"),
            "ms",
            Better::Lower,
            Samples::one(o.sweep_s * 1e3),
            Samples::default(),
            format!(
                "ARP + ICMP echo to every stack from a raw member of the switch, {BATCH} in flight: {}/{n} replied, {} µs per stack",
                o.replies,
                num(o.sweep_s * 1e6 / n as f64)
            ),
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_valid_header_is_zero() {
        let f = echo_request(stack_mac(3), stack_ip(3), 7);
        assert_eq!(checksum(&f[14..34]), 0, "IPv4 header");
        assert_eq!(checksum(&f[34..]), 0, "ICMP");
    }

    #[test]
    fn replies_are_recognised() {
        let mut arp = arp_request(PINGER_MAC, stack_ip(1));
        arp[20..22].copy_from_slice(&[0, 2]);
        arp[28..32].copy_from_slice(&stack_ip(1).octets());
        assert!(matches!(classify(&arp), Answer::Arp));
        let mut echo = echo_request(PINGER_MAC, stack_ip(1), 9);
        echo[34] = 0;
        assert!(matches!(classify(&echo), Answer::Echo));
    }
}
