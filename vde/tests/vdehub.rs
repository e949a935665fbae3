//! The `vdehub` tool: serving, counters, pcap read back by tcpdump, impairment.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_vdehub");

struct Hub {
    child: std::process::Child,
    path: std::path::PathBuf,
}

impl Hub {
    fn start(dir: &std::path::Path, args: &[&str]) -> Hub {
        let path = dir.join(unique("vh"));
        let child = Command::new(BIN)
            .args(args)
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn vdehub");
        let ctl = path.join("ctl");
        wait_until(
            Duration::from_secs(10),
            || ctl.exists(),
            "vdehub's ctl socket",
        );
        Hub { child, path }
    }

    fn vnl(&self) -> String {
        format!("vde://{}", self.path.display())
    }

    /// SIGTERM, then the counters it printed.
    fn stop(mut self) -> String {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let out = std::mem::replace(
            &mut self.child,
            Command::new("true").spawn().expect("spawn true"),
        )
        .wait_with_output()
        .expect("vdehub output");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn help_describes_the_options() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--switch",
        "--pcap",
        "--loss",
        "--dup",
        "--delay",
        "--reorder",
        "--rate",
        "--port",
        "--idle-timeout",
        "--max-conns",
        "--max-per-uid",
    ] {
        assert!(text.contains(opt), "{opt} missing from --help");
    }
    let bad = Command::new(BIN)
        .args(["--loss", "200", "/tmp/x"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("loss"));
}

/// Two clients exchange frames through vdehub; the counters at exit show them and the
/// pcap file opens in tcpdump with every frame.
#[test]
fn counters_and_pcap_read_by_tcpdump() {
    if !have("tcpdump") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("cap.pcap");
    let hub = Hub::start(dir.path(), &["--pcap", pcap.to_str().unwrap()]);
    let a = vde::open(&hub.vnl()).unwrap();
    let b = vde::open(&hub.vnl()).unwrap();
    for i in 0..5u8 {
        a.send(&test_frame(BCAST, [2, 0, 0, 0, 0, 1], i, 1514))
            .unwrap();
        assert_eq!(recv_timeout(&b, Duration::from_secs(5)).unwrap()[20], i);
    }
    b.send(&test_frame([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 9, 60))
        .unwrap();
    assert!(recv_timeout(&a, Duration::from_secs(5)).is_some());
    let counters = hub.stop();
    assert!(counters.contains("frames_in"), "{counters}");
    let rows: Vec<&str> = counters.lines().filter(|l| l.contains("remote")).collect();
    assert_eq!(rows.len(), 2, "{counters}");
    assert!(
        rows.iter()
            .any(|r| r.split_whitespace().nth(2) == Some("5")),
        "port a sent 5: {counters}"
    );

    let out = Command::new("tcpdump")
        .args(["-nn", "-e", "-r"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tcpdump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let records = text
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .count();
    assert_eq!(records, 6, "{text}");
    assert!(
        text.contains("02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff") && text.contains("length 1514"),
        "{text}"
    );
}

/// Global and per-port impairment: --dup 100 doubles every frame; --port 1:loss=100 loses
/// the frames of port 1 only.
#[test]
fn impairment_global_and_per_port() {
    let dir = tempfile::tempdir().unwrap();
    let dup = Hub::start(dir.path(), &["--dup", "100"]);
    let a = vde::open(&dup.vnl()).unwrap();
    let b = vde::open(&dup.vnl()).unwrap();
    a.send(&test_frame(BCAST, [2, 0, 0, 0, 0, 1], 1, 100))
        .unwrap();
    assert!(recv_timeout(&b, Duration::from_secs(5)).is_some());
    assert!(
        recv_timeout(&b, Duration::from_secs(5)).is_some(),
        "the duplicate"
    );
    drop((a, b, dup));

    let lossy = Hub::start(dir.path(), &["--switch", "--port", "1:loss=100"]);
    let p1 = vde::open(&format!("{}[1]", lossy.vnl())).unwrap();
    let p2 = vde::open(&format!("{}[2]", lossy.vnl())).unwrap();
    p2.send(&test_frame(BCAST, [2, 0, 0, 0, 0, 2], 2, 100))
        .unwrap();
    assert_eq!(recv_timeout(&p1, Duration::from_secs(5)).unwrap()[20], 2);
    p1.send(&test_frame(BCAST, [2, 0, 0, 0, 0, 1], 1, 100))
        .unwrap();
    assert!(
        recv_timeout(&p2, Duration::from_millis(500)).is_none(),
        "port 1's frames are lost"
    );
    let counters = lossy.stop();
    let row1 = counters
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap();
    assert_eq!(
        row1.split_whitespace().nth(6),
        Some("1"),
        "one drop counted on port 1: {counters}"
    );
}

/// Delay: frames arrive, in order, after the delay.
#[test]
fn delay_keeps_order() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path(), &["--delay", "30"]);
    let a = vde::open(&hub.vnl()).unwrap();
    let b = vde::open(&hub.vnl()).unwrap();
    for i in 0..10u8 {
        a.send(&test_frame(BCAST, [2, 0, 0, 0, 0, 1], i, 100))
            .unwrap();
    }
    for i in 0..10u8 {
        assert_eq!(recv_timeout(&b, Duration::from_secs(5)).unwrap()[20], i);
    }
}
