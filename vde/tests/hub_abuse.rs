//! Served hubs under abuse and after crashes: a dead server's path is taken over, a live
//! one (or one holding files no hub made) is refused naming the path; idle control
//! connections time out; a flood of idle connections beyond the hub's fd limit neither
//! stops new members nor makes it spin or flood its log.

mod common;

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

const M1: [u8; 6] = [2, 0, 0, 0, 0, 0x41];
const M2: [u8; 6] = [2, 0, 0, 0, 0, 0x42];

/// Frames cross between two links, both ways.
fn exchange(a: &vde::Link, b: &vde::Link, tag: u8) {
    a.send(&test_frame(BCAST, M1, tag, 100)).expect("ok");
    let f = recv_timeout(b, Duration::from_secs(5)).expect("a to b");
    assert_eq!(f[20], tag);
    b.send(&test_frame(M1, M2, tag + 1, 100)).expect("ok");
    let f = recv_timeout(a, Duration::from_secs(5)).expect("b to a");
    assert_eq!(f[20], tag + 1);
}

/// True once the peer closed `s` (EOF or reset), waiting at most `ms`.
fn closed_by_peer(s: &mut UnixStream, ms: i32) -> bool {
    if !readable(s.as_raw_fd(), ms) {
        return false;
    }
    let mut b = [0u8; 16];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn dead_servers_path_is_taken_over_a_live_one_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub");
    let ctl = path.join("ctl");

    // vdehub killed with -9 leaves PATH/ctl behind; our in-process hub takes it over.
    VdeHub::start(&path, &[], None).kill9();
    assert!(ctl.exists(), "kill -9 left the socket behind");
    let hub = vde::Hub::new();
    let served = hub.serve(&path, &vde::ServeConfig::default()).unwrap();
    let me = hub.connect().unwrap();
    let them = vde::open(&format!("vde://{}", served.display())).unwrap();
    exchange(&me, &them, 1);

    // Now it is alive: another process is refused, naming the path.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vdehub"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}: a switch is already serving here",
            ctl.display()
        )),
        "{err}"
    );
    assert_eq!(
        err.matches("File exists").count(),
        0,
        "no bare errno text: {err}"
    );
    drop((me, them, hub));

    // And the other way round: a live vdehub refuses Hub::serve, naming the path; killed
    // with -9, its path is served by a new vdehub that members join.
    let path2 = dir.path().join("hub2");
    let ctl2 = path2.join("ctl");
    let vh = VdeHub::start(&path2, &[], None);
    let e = vde::Hub::new()
        .serve(&path2, &vde::ServeConfig::default())
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
    assert!(
        e.to_string()
            .contains(&format!("{}: a switch is already serving", ctl2.display())),
        "{e}"
    );
    vh.kill9();
    let vh = VdeHub::start(&path2, &[], None);
    let a = vde::open(&vh.vnl()).unwrap();
    let b = vde::open(&vh.vnl()).unwrap();
    exchange(&a, &b, 3);
    let log = vh.lines.lock().unwrap().join("\n");
    assert!(
        log.contains(&ctl2.display().to_string()) && log.contains("stale"),
        "{log}"
    );

    // A path that is something else entirely is refused by name too.
    let junk = dir.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join("ctl"), b"not a socket").unwrap();
    let e = vde::Hub::new()
        .serve(&junk, &vde::ServeConfig::default())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains(&junk.join("ctl").display().to_string()),
        "{e}"
    );

    // A dead server's directory that also holds a file no hub made is refused by name and
    // left as it was: taking over removes only a hub's sockets.
    let mixed = dir.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    drop(std::os::unix::net::UnixListener::bind(mixed.join("ctl")).unwrap());
    std::fs::write(mixed.join("keep.me"), b"not a hub's").unwrap();
    let e = vde::Hub::new()
        .serve(&mixed, &vde::ServeConfig::default())
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&mixed.display().to_string()) && text.contains("keep.me"),
        "{text}"
    );
    assert!(mixed.join("ctl").exists() && mixed.join("keep.me").exists());
}

#[test]
fn idle_control_connections_are_closed_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let hub = VdeHub::start(&dir.path().join("hub"), &["--idle-timeout", "300"], None);
    let a = vde::open(&hub.vnl()).unwrap();
    let t0 = Instant::now();
    let mut idle: Vec<UnixStream> = (0..20)
        .map(|_| UnixStream::connect(hub.path.join("ctl")).unwrap())
        .collect();
    for s in &mut idle {
        assert!(closed_by_peer(s, 3000), "an idle connection was kept open");
    }
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "closed after {took:?}"
    );
    // Members are not idle connections: a, joined before, still works.
    let b = vde::open(&hub.vnl()).unwrap();
    exchange(&a, &b, 5);
}

#[test]
fn per_user_limit_closes_the_oldest_idle_connections() {
    let dir = tempfile::tempdir().unwrap();
    let hub = VdeHub::start(
        &dir.path().join("hub"),
        &["--max-per-uid", "5", "--idle-timeout", "60000"],
        None,
    );
    let ctl = hub.path.join("ctl");
    let mut conns: Vec<UnixStream> = Vec::new();
    for _ in 0..10 {
        conns.push(UnixStream::connect(&ctl).unwrap());
        // One at a time, so the hub sees them in this order.
        std::thread::sleep(Duration::from_millis(20));
    }
    for (i, s) in conns.iter_mut().enumerate() {
        assert_eq!(
            closed_by_peer(s, if i < 5 { 3000 } else { 200 }),
            i < 5,
            "connection {i}: the five oldest make room for the five newest"
        );
    }
    // A member joins (evicting one more idle connection) and works.
    let a = vde::open(&hub.vnl()).unwrap();
    assert!(closed_by_peer(&mut conns[5], 3000));
    drop(conns);
    let b = vde::open(&hub.vnl()).unwrap();
    exchange(&a, &b, 7);
}

/// utime + stime of process `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("ok");
    let rest = stat.rsplit(')').next().expect("ok");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks: u64 = f[11].parse::<u64>().expect("ok") + f[12].parse::<u64>().expect("ok");
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks as f64 / hz
}

/// Raises this process's open-file limit to its hard limit; returns the new soft limit.
fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: r is valid for writes; setrlimit only reads it.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
    }
    r.rlim_cur
}

#[test]
fn ten_thousand_idle_connections_neither_stop_members_nor_spin() {
    if !have("prlimit") {
        return;
    }
    const FLOOD: usize = 10_000;
    const HUB_NOFILE: u64 = 256;
    let dir = tempfile::tempdir().unwrap();
    let hub = VdeHub::start(
        &dir.path().join("hub"),
        &["--idle-timeout", "60000"],
        Some(HUB_NOFILE),
    );
    let pid = hub.proc.pid();
    let ctl = hub.path.join("ctl");
    let a = vde::open(&hub.vnl()).unwrap();

    // Hold as many of the flood's connections open as this process may (all of them with
    // the usual hard limit), closing the oldest when out of room.
    let room = (raise_nofile().saturating_sub(200) as usize).clamp(100, FLOOD);
    let made = Arc::new(AtomicUsize::new(0));
    let m = made.clone();
    let flood = std::thread::spawn(move || {
        let mut held = std::collections::VecDeque::new();
        for _ in 0..FLOOD {
            match UnixStream::connect(&ctl) {
                Ok(s) => held.push_back(s),
                Err(e) => panic!("flood connect: {e}"),
            }
            if held.len() >= room {
                held.pop_front();
            }
            m.fetch_add(1, Ordering::Relaxed);
        }
        held
    });
    wait_until(
        Duration::from_secs(20),
        || made.load(Ordering::Relaxed) >= 2_000,
        "the flood to get going",
    );

    // A new member joins in the middle of the flood, promptly, and frames flow.
    let t0 = Instant::now();
    let b = vde::open(&format!("{}[timeout=3000]", hub.vnl())).unwrap();
    let join = t0.elapsed();
    assert!(join < Duration::from_secs(3), "joined after {join:?}");
    exchange(&a, &b, 9);

    let t1 = Instant::now();
    let held = flood.join().unwrap();
    assert!(
        t1.elapsed() < Duration::from_secs(30),
        "the flood took {:?}",
        t1.elapsed()
    );
    assert!(held.len() >= 100.min(room));

    // With the flood's connections still open: no spinning, fds within the limit.
    let c0 = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(2));
    let cpu = cpu_seconds(pid) - c0;
    assert!(
        cpu < 0.5,
        "the hub used {cpu:.2} s of CPU in 2 s while idle"
    );
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    assert!(fds as u64 <= HUB_NOFILE, "{fds} fds open");
    // Still serving: another member joins and talks.
    let c = vde::open(&format!("{}[timeout=3000]", hub.vnl())).unwrap();
    exchange(&a, &c, 11);

    let lines = hub.lines.lock().unwrap().clone();
    assert!(
        lines.len() < 200,
        "{} log lines, e.g. {:?}",
        lines.len(),
        &lines[..lines.len().min(10)]
    );
    assert!(
        lines.iter().any(|l| l.contains("connection limit reached")),
        "the limit is logged: {lines:?}"
    );
    eprintln!(
        "join {join:?}, idle cpu {cpu:.2} s, {fds} fds, {} log lines",
        lines.len()
    );
    drop(held);
}
