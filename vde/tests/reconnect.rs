//! A `vde://` link whose switch dies goes down, and comes back up by itself, on the same
//! fd, when a switch serves the same path again: with this crate's vdehub and with the real
//! vde_switch.

mod common;

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

const M1: [u8; 6] = [2, 0, 0, 0, 0, 0x31];
const M2: [u8; 6] = [2, 0, 0, 0, 0, 0x32];

/// Waits on the link's fd the way an event loop does (calling `recv` only when the fd is
/// readable) until the link's generation passes `from`; returns how long it took.
fn wait_generation(link: &vde::Link, from: u64, limit: Duration, what: &str) -> Duration {
    let t0 = Instant::now();
    let mut buf = [0u8; 1600];
    while link.generation() <= from {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        if readable(link.as_raw_fd(), 100) {
            let _ = link.recv(&mut buf);
        }
    }
    t0.elapsed()
}

/// Kills the switch under a link, checks the link is down, runs `restart`, checks it is up
/// again on the same fd and that frames flow both ways with a member that joined the new
/// switch.
fn down_and_back(vnl: &str, ctl: &Path, kill: impl FnOnce(), restart: impl FnOnce()) {
    let link = vde::open(vnl).expect("ok");
    let fd = link.as_raw_fd();
    assert!(link.is_up());
    let g0 = link.generation();

    kill();
    let took = wait_generation(&link, g0, Duration::from_secs(2), "the link to go down");
    eprintln!("down noticed after {took:?}");
    assert!(!link.is_up());
    let frame = test_frame(BCAST, M1, 1, 60);
    assert_eq!(
        link.send(&frame).expect_err("an error").raw_os_error(),
        Some(libc::ENETDOWN)
    );
    let mut buf = [0u8; 1600];
    assert_eq!(
        link.recv(&mut buf).expect_err("an error").raw_os_error(),
        Some(libc::ENETDOWN)
    );
    let g1 = link.generation();
    assert_eq!(g1, g0 + 1, "one state change: down");

    restart();
    wait_connectable(ctl, "the restarted switch");
    let took = wait_generation(&link, g1, Duration::from_secs(6), "the link to come back");
    eprintln!("up again {took:?} after the restart");
    assert!(link.is_up());
    assert_eq!(link.generation(), g1 + 1, "one state change: up");
    assert_eq!(link.as_raw_fd(), fd, "the same fd across the reconnection");

    let other = vde::open(vnl).expect("ok");
    link.send(&test_frame(BCAST, M1, 7, 100)).expect("ok");
    let f = recv_timeout(&other, Duration::from_secs(5)).expect("frame from the link");
    assert_eq!((&f[6..12], f[20]), (&M1[..], 7));
    other.send(&test_frame(M1, M2, 8, 100)).expect("ok");
    let f = recv_timeout(&link, Duration::from_secs(5)).expect("frame to the link");
    assert_eq!((&f[6..12], f[20]), (&M2[..], 8));
    let mut b = [0u8; 16];
    assert_eq!(
        link.recv(&mut b).expect_err("an error").kind(),
        io::ErrorKind::WouldBlock
    );
}

#[test]
fn vdehub_restart_reconnects_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub");
    let hub = VdeHub::start(&path, &[], None);
    let vnl = hub.vnl();
    let mut second = None;
    down_and_back(
        &vnl,
        &path.join("ctl"),
        || hub.kill9(),
        || second = Some(VdeHub::start(&path, &[], None)),
    );
    let lines = second.expect("restarted").lines.lock().unwrap().join("\n");
    assert!(lines.contains("stale"), "the takeover is logged: {lines}");
}

#[test]
fn vde_switch_restart_reconnects_the_link() {
    if !have("vde_switch") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sw");
    let mut sw = vde_switch_at(&path);
    let vnl = format!("vde://{}", path.display());
    let mut second = None;
    down_and_back(
        &vnl,
        &path.join("ctl"),
        || {
            sw.child.kill().unwrap();
            sw.child.wait().unwrap();
        },
        || second = Some(vde_switch_at(&path)),
    );
}

/// A link whose switch stays away stays down, and its fd does not spin: it turns readable
/// only when a retry is due (at most a handful of times a second).
#[test]
fn down_link_fd_wakes_only_for_retries() {
    if !have("vde_switch") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sw");
    let mut sw = vde_switch_at(&path);
    let link = vde::open(&format!("vde://{}", path.display())).unwrap();
    sw.child.kill().unwrap();
    sw.child.wait().unwrap();
    wait_generation(&link, 0, Duration::from_secs(2), "the link to go down");
    let t0 = Instant::now();
    let mut wakeups = 0;
    let mut buf = [0u8; 1600];
    while t0.elapsed() < Duration::from_millis(1500) {
        if readable(link.as_raw_fd(), 100) {
            wakeups += 1;
            assert_eq!(
                link.recv(&mut buf).unwrap_err().raw_os_error(),
                Some(libc::ENETDOWN)
            );
        }
    }
    assert!(
        (1..=10).contains(&wakeups),
        "{wakeups} wakeups in 1.5 s while down"
    );
    assert!(!link.is_up());
    assert_eq!(link.generation(), 1);
}

/// Frames that reached the link before its switch died are still received; only then
/// does `recv` say ENETDOWN.
#[test]
fn frames_before_the_departure_are_drained_first() {
    let dir = tempfile::tempdir().unwrap();
    let hub = VdeHub::start(&dir.path().join("hub"), &[], None);
    let link = vde::open(&hub.vnl()).unwrap();
    let other = vde::open(&hub.vnl()).unwrap();
    other.send(&test_frame(BCAST, M2, 42, 100)).unwrap();
    assert!(
        readable(link.as_raw_fd(), 5000),
        "the frame reached the link"
    );
    hub.kill9();
    wait_until(
        Duration::from_secs(2),
        || !link.is_up(),
        "the link to notice the departure",
    );
    let mut buf = [0u8; 1600];
    let n = link.recv(&mut buf).expect("the frame from before");
    assert_eq!((n, buf[20]), (100, 42));
    assert_eq!(
        link.recv(&mut buf).unwrap_err().raw_os_error(),
        Some(libc::ENETDOWN)
    );
}
