//! Real `vde_plug` (vdeplug4) joining hubs and switches served by this process.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use common::*;

const M1: [u8; 6] = [2, 0, 0, 0, 0, 1];
const M2: [u8; 6] = [2, 0, 0, 0, 0, 2];
const M3: [u8; 6] = [2, 0, 0, 0, 0, 3];

fn plug_stream(
    path: &std::path::Path,
) -> (
    Proc,
    std::process::ChildStdin,
    crossbeam_channel::Receiver<Vec<u8>>,
) {
    let mut c = Command::new("vde_plug");
    c.arg(format!("vde://{}", path.display()));
    let (p, i, o) = Proc::spawn_piped(c);
    (p, i, stream_reader(o))
}

fn remote_ports(hub: &vde::Hub) -> usize {
    hub.stats().iter().filter(|s| s.remote).count()
}

/// A real vde_plug joins our served hub: frames flow both ways, full size, and a frame
/// larger than 1518 bytes comes out cut to 1518 as through vde_switch.
#[test]
fn vde_plug_joins_our_hub() {
    if !have("vde_plug") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hub = vde::Hub::new();
    let path = hub
        .serve(&dir.path().join("hub"), &vde::ServeConfig::default())
        .unwrap();
    let me = hub.connect().unwrap();
    let (_plug, mut to_plug, from_plug) = plug_stream(&path);
    wait_until(
        Duration::from_secs(10),
        || remote_ports(&hub) == 1,
        "vde_plug to join",
    );
    let st = hub.stats();
    let remote = st.iter().find(|s| s.remote).unwrap();
    assert!(
        remote.description.contains("pid="),
        "vdeplug4's description: {:?}",
        remote.description
    );

    let f = test_frame(BCAST, M1, 0x5a, 1514);
    me.send(&f).unwrap();
    assert_eq!(from_plug.recv_timeout(Duration::from_secs(5)).unwrap(), f);

    let g = test_frame(M1, M2, 0xa5, 1514);
    stream_write(&mut to_plug, &g);
    assert_eq!(recv_timeout(&me, Duration::from_secs(5)).unwrap(), g);

    stream_write(&mut to_plug, &test_frame(M1, M2, 0x77, 1600));
    let got = recv_timeout(&me, Duration::from_secs(5)).unwrap();
    assert_eq!((got.len(), got[200]), (1518, 0x77));
}

/// Two real vde_plug processes exchange frames through our switch, opened by VNL twice
/// (the second open joins the same switch); unicast reaches only its destination once
/// learned; the served files go away with the switch.
#[test]
fn two_processes_through_our_switch() {
    if !have("vde_plug") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sw");
    let vnl = format!("switch://{}", path.display());
    let me = vde::open(&vnl).unwrap();
    let me2 = vde::open(&vnl).unwrap();
    assert_eq!(
        std::fs::metadata(path.join("ctl"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let (_p1, mut in1, out1) = plug_stream(&path);
    let (_p2, mut in2, out2) = plug_stream(&path);
    // me2 receives what is flooded, i.e. until both plugs are in and learned.
    wait_until(
        Duration::from_secs(10),
        || {
            let _ = me.send(&test_frame(BCAST, M3, 0, 60));
            out1.recv_timeout(Duration::from_millis(50)).is_ok()
                && out2.recv_timeout(Duration::from_millis(50)).is_ok()
        },
        "both vde_plug processes to join",
    );
    while recv_timeout(&me2, Duration::from_millis(50)).is_some() {}
    // Plug 1 announces M1, plug 2 announces M2 (broadcasts: everybody sees them).
    stream_write(&mut in1, &test_frame(BCAST, M1, 1, 60));
    stream_write(&mut in2, &test_frame(BCAST, M2, 2, 60));
    // (Skipping the probes from M3 still in flight.)
    let from = |rx: &crossbeam_channel::Receiver<Vec<u8>>, mac: [u8; 6]| loop {
        let f = rx.recv_timeout(Duration::from_secs(5)).expect("a frame");
        if f[6..12] == mac {
            return f;
        }
    };
    assert_eq!(from(&out2, M1)[20], 1);
    assert_eq!(from(&out1, M2)[20], 2);
    while recv_timeout(&me2, Duration::from_millis(100)).is_some() {}
    // Unicast M1 -> M2: only plug 2 gets it.
    let u = test_frame(M2, M1, 9, 1514);
    stream_write(&mut in1, &u);
    assert_eq!(from(&out2, M1), u);
    assert!(
        recv_timeout(&me2, Duration::from_millis(300)).is_none(),
        "a learned unicast is not flooded"
    );
    drop((me, me2));
    wait_until(
        Duration::from_secs(5),
        || !path.exists(),
        "the served directory to be removed",
    );
}

/// The kernel behind a TAP (vde_plug vde://OURHUB tap://...) in a namespace pings a
/// responder that is an in-process member of our hub, with full-size frames, while another
/// process (a stream vde_plug) sees the kernel's ARP broadcast: two processes and a kernel
/// TAP exchange frames through our hub.
#[test]
fn kernel_tap_and_processes_through_our_hub() {
    if !(have("vde_plug") && have("ping") && can_netns()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hub = vde::Hub::new();
    let path = hub
        .serve(&dir.path().join("hub"), &vde::ServeConfig::default())
        .unwrap();
    let ns = Netns::new();
    let _tap_plug = ns.spawn(&[
        "vde_plug",
        &format!("vde://{}", path.display()),
        "tap://htap0",
    ]);
    let (_watch, _in, watch_out) = plug_stream(&path);
    ns.wait_link("htap0");
    wait_until(
        Duration::from_secs(10),
        || remote_ports(&hub) == 2,
        "both plugs to join",
    );
    ns.exec(&["ip", "link", "set", "htap0", "up"]);
    ns.exec(&["ip", "addr", "add", "10.79.0.1/24", "dev", "htap0"]);
    let resp = Responder::start(hub.connect().unwrap(), M3, [10, 79, 0, 2]);
    assert!(
        ping_full_size(&ns, "10.79.0.2", 3),
        "the kernel got no echo replies through our hub"
    );
    assert_eq!(
        resp.biggest.load(std::sync::atomic::Ordering::Relaxed),
        1514
    );
    let mut saw_arp = false;
    while let Ok(f) = watch_out.recv_timeout(Duration::from_secs(2)) {
        if f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[38..42] == [10, 79, 0, 2] {
            saw_arp = true;
            break;
        }
    }
    assert!(saw_arp, "the second process saw the kernel's ARP request");
}

/// Malformed, truncated and oversized control requests close that one connection; the
/// members already in keep working.
#[test]
fn bad_requests_close_only_their_connection() {
    if !have("vde_plug") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hub = vde::Hub::new();
    let path = hub
        .serve(
            &dir.path().join("hub"),
            &vde::ServeConfig {
                mode: 0o660,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        std::fs::metadata(path.join("ctl"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o660
    );
    let me = hub.connect().unwrap();
    let (_plug, mut to_plug, from_plug) = plug_stream(&path);
    wait_until(
        Duration::from_secs(10),
        || remote_ports(&hub) == 1,
        "vde_plug to join",
    );

    let good = vde::ctl::CtlRequest {
        port: vde::ctl::PortRequest::Any,
        data_path: dir
            .path()
            .join("nonexistent")
            .to_string_lossy()
            .as_bytes()
            .to_vec(),
        description: "x".into(),
    }
    .encode()
    .unwrap();
    let mut bad_magic = good.clone();
    bad_magic[0] ^= 0xff;
    let mut oversized = good.clone();
    oversized.resize(300, b'd');
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bad magic", bad_magic),
        ("truncated", good[..50].to_vec()),
        ("oversized", oversized),
        ("inaccessible data socket", good.clone()),
        ("garbage", vec![0x42; 256]),
    ];
    for (what, req) in cases {
        let mut c = UnixStream::connect(path.join("ctl")).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(&req).unwrap();
        let mut b = [0u8; 200];
        // Closed without an answer: EOF, or a reset when unread bytes were left behind.
        match c.read(&mut b) {
            Ok(n) => assert_eq!(
                n, 0,
                "{what}: the hub must close the connection without answering"
            ),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{what}: {e}"),
        }
    }
    // An idle connection that never sends does not disturb anybody either.
    let _idle = UnixStream::connect(path.join("ctl")).unwrap();
    let g = test_frame(BCAST, M2, 0x42, 200);
    stream_write(&mut to_plug, &g);
    assert_eq!(recv_timeout(&me, Duration::from_secs(5)).unwrap(), g);
    me.send(&g).unwrap();
    assert_eq!(from_plug.recv_timeout(Duration::from_secs(5)).unwrap(), g);
    assert_eq!(remote_ports(&hub), 1);
}

/// A vde_plug that leaves frees its port; our vde:// client works against our own hub.
#[test]
fn leaving_frees_the_port_and_our_client_joins_our_hub() {
    if !have("vde_plug") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hub = vde::Hub::new_switch();
    let path = hub
        .serve(&dir.path().join("hub"), &vde::ServeConfig::default())
        .unwrap();
    let (plug, _i, _o) = plug_stream(&path);
    wait_until(
        Duration::from_secs(10),
        || remote_ports(&hub) == 1,
        "vde_plug to join",
    );
    drop(plug);
    wait_until(
        Duration::from_secs(10),
        || remote_ports(&hub) == 0,
        "the port to be freed",
    );
    let client = vde::open(&format!("vde://{}[4]", path.display())).unwrap();
    assert_eq!(
        hub.stats().iter().find(|s| s.remote).map(|s| s.port),
        Some(4)
    );
    let me = hub.connect().unwrap();
    client.send(&test_frame(BCAST, M1, 3, 100)).unwrap();
    assert_eq!(recv_timeout(&me, Duration::from_secs(5)).unwrap()[20], 3);
    me.send(&test_frame(M1, M2, 4, 100)).unwrap();
    assert_eq!(
        recv_timeout(&client, Duration::from_secs(5)).unwrap()[20],
        4
    );
    // Port 4 is taken: a second request for it is refused.
    let e = vde::open(&format!("vde://{}[4/timeout=2000]", path.display())).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    // The hub going away is link-down for our client.
    drop(me);
    drop(hub);
    let mut b = [0u8; 1600];
    wait_until(
        Duration::from_secs(10),
        || {
            client
                .recv(&mut b)
                .is_err_and(|e| e.raw_os_error() == Some(libc::ENETDOWN))
        },
        "link down",
    );
}
