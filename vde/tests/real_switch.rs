//! Our vde:// client against the real vde_switch 2.3.2.

mod common;

use std::io;
use std::os::unix::net::UnixListener;
use std::time::Duration;

use common::*;

const OUR_MAC: [u8; 6] = [0x02, 0x10, 0, 0, 0, 0x02];

/// The kernel on a TAP, joined to a real vde_switch hub by a real vde_plug inside a fresh
/// namespace, ARPs for and pings (with full 1514-byte frames) a responder on our link.
#[test]
fn kernel_pings_our_link_through_vde_switch() {
    if !(have("vde_switch") && have("vde_plug") && have("ping") && can_netns()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sw = VdeSwitch::start(dir.path(), true);
    let ns = Netns::new();
    let _plug = ns.spawn(&["vde_plug", &sw.vnl(), "tap://vtap0"]);
    ns.wait_link("vtap0");
    ns.exec(&["ip", "link", "set", "vtap0", "up"]);
    ns.exec(&["ip", "addr", "add", "10.77.0.1/24", "dev", "vtap0"]);

    let link = vde::open(&sw.vnl()).unwrap();
    assert!(link.is_up());
    let resp = Responder::start(link, OUR_MAC, [10, 77, 0, 2]);
    assert!(
        ping_full_size(&ns, "10.77.0.2", 3),
        "the kernel got no echo replies through vde_switch"
    );
    assert!(resp.echoes.load(std::sync::atomic::Ordering::Relaxed) >= 3);
    assert_eq!(
        resp.biggest.load(std::sync::atomic::Ordering::Relaxed),
        1514
    );
}

/// Runts are dropped by the switch and by us; oversize frames come out cut to 1518 bytes,
/// as vde_switch cuts them. Also checks port requests.
#[test]
fn runts_dropped_oversize_truncated_and_port_request() {
    if !have("vde_switch") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sw = VdeSwitch::start(dir.path(), true);
    let a = vde::open(&format!("{}[5]", sw.vnl())).unwrap();
    let b = vde::open(&format!("{}[port=7]", sw.vnl())).unwrap();
    // The switch named the data sockets after the ports we asked for.
    let names: Vec<String> = std::fs::read_dir(&sw.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("005.")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("007.")), "{names:?}");

    a.send(&[0xffu8; 13]).unwrap();
    assert_eq!(a.dropped(), 1, "our link drops runts itself");
    a.send(&test_frame(BCAST, [2, 0, 0, 0, 0, 1], 0x11, 14))
        .unwrap();
    a.send(&test_frame(BCAST, [2, 0, 0, 0, 0, 1], 0x22, 1514))
        .unwrap();
    let f = recv_timeout(&b, Duration::from_secs(5)).expect("14-byte frame");
    assert_eq!((f.len(), f[13]), (14, 0xb5));
    let f = recv_timeout(&b, Duration::from_secs(5)).expect("1514-byte frame");
    assert_eq!((f.len(), f[100]), (1514, 0x22));
    a.send(&test_frame(BCAST, [2, 0, 0, 0, 0, 1], 0x33, 1600))
        .unwrap();
    let f = recv_timeout(&b, Duration::from_secs(5)).expect("oversize frame");
    assert_eq!((f.len(), f[100]), (1518, 0x33), "vde_switch cuts to 1518");
    assert!(
        recv_timeout(&b, Duration::from_millis(200)).is_none(),
        "nothing else arrived (the runt was dropped)"
    );
}

/// The switch's departure: the link's fd turns readable, recv says ENETDOWN, is_up is false;
/// no hang, no panic.
#[test]
fn switch_departure_is_link_down() {
    if !have("vde_switch") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut sw = VdeSwitch::start(dir.path(), true);
    let link = vde::open(&sw.vnl()).unwrap();
    let mut buf = [0u8; 1600];
    assert_eq!(
        link.recv(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    sw.proc.child.kill().unwrap();
    sw.proc.child.wait().unwrap();
    let mut p = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&link),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: p is valid for the call.
    let n = unsafe { libc::poll(&mut p, 1, 10_000) };
    assert_eq!(n, 1, "the fd turns readable when the switch goes");
    assert_eq!(
        link.recv(&mut buf).unwrap_err().raw_os_error(),
        Some(libc::ENETDOWN)
    );
    assert!(!link.is_up());
    assert_eq!(
        link.send(&test_frame(BCAST, OUR_MAC, 0, 60))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ENETDOWN)
    );
    let mut batch = vde::FrameBatch::new(8);
    assert_eq!(
        link.recv_batch(&mut batch).unwrap_err().raw_os_error(),
        Some(libc::ENETDOWN)
    );
}

/// A switch that accepts and never answers (as vde_switch does for an impossible port
/// request) gives a timeout error, and one that closes the stream a refusal.
#[test]
fn silent_or_refusing_switch() {
    let dir = tempfile::tempdir().unwrap();
    let sw = dir.path().join("silent");
    std::fs::create_dir(&sw).unwrap();
    let l = UnixListener::bind(sw.join("ctl")).unwrap();
    let t = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        let mut b = [0u8; 256];
        let _ = io::Read::read(&mut c, &mut b);
        std::thread::sleep(Duration::from_millis(600));
        drop(c);
        // Second client: refused at once.
        let (c, _) = l.accept().unwrap();
        drop(c);
    });
    let e = vde::open(&format!("vde://{}[timeout=200]", sw.display())).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    let e = vde::open(&format!("vde://{}", sw.display())).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    t.join().unwrap();
    // Our data sockets were removed in both cases.
    let left: Vec<_> = std::fs::read_dir(&sw)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("ctl")]);
}

/// Batch receive of many frames from a real switch.
#[test]
fn batch_receive_from_vde_switch() {
    if !have("vde_switch") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sw = VdeSwitch::start(dir.path(), true);
    let a = vde::open(&sw.vnl()).unwrap();
    let b = vde::open(&sw.path.display().to_string()).unwrap();
    for i in 0..20u8 {
        a.send(&test_frame(BCAST, [2, 0, 0, 0, 0, 1], i, 100))
            .unwrap();
    }
    let mut batch = vde::FrameBatch::new(64);
    let mut seen = Vec::new();
    while seen.len() < 20 {
        assert!(
            recv_timeout_batch(&b, &mut batch),
            "frames missing: got {}",
            seen.len()
        );
        seen.extend(batch.iter().map(|f| f[20]));
    }
    assert_eq!(seen, (0..20).collect::<Vec<u8>>());
}

fn recv_timeout_batch(link: &vde::Link, batch: &mut vde::FrameBatch) -> bool {
    for _ in 0..50 {
        match link.recv_batch(batch) {
            Ok(n) if n > 0 => return true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        let mut p = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(link),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: p is valid for the call.
        unsafe { libc::poll(&mut p, 1, 100) };
    }
    false
}

/// Connecting to a switch whose listen backlog is full (it never accepts) honours
/// `[timeout=MS]`: the error comes in about that time and names the path and the timeout.
#[test]
fn full_backlog_connect_honours_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let sw = dir.path().join("stuck");
    std::fs::create_dir(&sw).unwrap();
    let ctl = sw.join("ctl");
    let l = UnixListener::bind(&ctl).unwrap();
    // Shrink its backlog to the minimum (listen again on the listener's own fd).
    // SAFETY: plain syscall on an fd the listener owns and keeps open.
    let r = unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&l), 0) };
    assert_eq!(r, 0);
    let mut held = Vec::new();
    loop {
        match connect_nonblocking(&ctl) {
            Ok(fd) => held.push(fd),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
            Err(e) => panic!("filling the backlog: {e}"),
        }
        assert!(held.len() < 100, "the backlog never filled");
    }
    let vnl = format!("vde://{}[timeout=500]", sw.display());
    let (tx, rx) = crossbeam_channel::bounded(1);
    let t0 = std::time::Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(vde::open(&vnl).map(|_| ()));
    });
    let got = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("vde::open still blocked 5 s after a 500 ms timeout");
    let took = t0.elapsed();
    let e = got.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&ctl.display().to_string()) && text.contains("500 ms"),
        "{text}"
    );
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1500),
        "failed after {took:?}"
    );
    drop(l);
}
