//! The `otip_rproxy` binary: its options and rc file (errors name FILE:LINE), and a run on a
//! hub this test serves, reached by a client that computes the address from the real
//! clock, stopped by SIGTERM.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ioth::Stack;
use ioth::net::TcpStream;
use ioth_otip::addrtool::otip_address;

const RPROXY: &str = env!("CARGO_BIN_EXE_otip_rproxy");

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(RPROXY)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_originals_options() {
    let (ok, help, _) = run(&["--help"]);
    assert!(ok);
    for opt in [
        "--rcfile",
        "--daemon",
        "--pidfile",
        "--verbose",
        "--extstack",
        "--intstack",
        "--name",
        "--base",
        "baseaddr",
        "--passwd",
        "--dns",
        "--udp",
        "--tcp",
        "--otip_period",
        "--otip_preactive",
        "--otip_postactive",
        "--tcp_listen_backlog",
        "--tcp_timeout",
        "--udp_timeout",
    ] {
        assert!(help.contains(opt), "--help lacks {opt}:\n{help}");
    }
}

#[test]
fn bad_options_and_rc_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("bad.rc");
    std::fs::write(&rc, "# ok\nname renzo.otip\ntcp 4242,::1\n").unwrap();
    let rc = rc.to_str().unwrap();
    let (ok, _, err) = run(&["-f", rc]);
    assert!(!ok);
    assert!(err.contains(&format!("{rc}:3: tcp:")), "{err}");
    std::fs::write(dir.path().join("bad.rc"), "otip_preactive -3\n").unwrap();
    let (ok, _, err) = run(&["-f", rc]);
    assert!(!ok);
    assert!(err.contains(&format!("{rc}:1: otip_preactive")), "{err}");
    let (ok, _, err) = run(&["-n", "a.b", "-b", "fc00::"]);
    assert!(!ok);
    assert!(err.contains("--extstack is required"), "{err}");
    let (ok, _, err) = run(&[
        "-e",
        "stack=smoltcp,vnl=x,ip=1.2.3.4",
        "-n",
        "a",
        "-b",
        "fc00::",
    ]);
    assert!(!ok);
    assert!(
        err.contains("--extstack") && err.contains("unknown tag `ip`"),
        "{err}"
    );
    let (ok, _, err) = run(&["--tcp_timeout", "soon"]);
    assert!(!ok);
    assert!(err.contains("--tcp_timeout"), "{err}");
    let (ok, _, err) = run(&["-f", "/nonexistent/otip.rc"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/otip.rc"), "{err}");
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn the_binary_proxies_and_stops_on_sigterm() {
    ioth_service::link_backends!();
    ioth_tests::init_logging();
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub");
    // This process serves the hub; the proxy joins it as vde://.
    let client = Stack::new("smoltcp", &[&format!("hub://{}", hub.display())]).unwrap();
    let idx = client.if_nametoindex("vde0").unwrap();
    client.link_set_up(idx, true).unwrap();
    client
        .ipaddr_add("fc01::1".parse().unwrap(), 64, idx)
        .unwrap();

    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in echo.incoming().flatten() {
            let mut buf = [0u8; 64];
            while let Ok(n) = c.read(&mut buf) {
                if n == 0 || c.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    let rc = dir.path().join("otip_rproxy.rc");
    std::fs::write(
        &rc,
        format!(
            "# the README's example, on this test's hub\n\
             extstack stack=smoltcp,vnl=vde://{}\n\
             name renzo.otip\n\
             baseaddr fc01::\n\
             passwd mypassword\n\
             tcp 4242,127.0.0.1,{echo_port}\n\
             otip_preactive 8\n\
             otip_postactive 8\n",
            hub.display()
        ),
    )
    .unwrap();
    let pid = dir.path().join("otip_rproxy.pid");
    let mut child = Command::new(RPROXY)
        .arg("-f")
        .arg(&rc)
        .arg("-p")
        .arg(&pid)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The address the client computes now is open (the slack covers a turning slot).
    let start = Instant::now();
    let mut conn = loop {
        let a = otip_address(
            "fc01::".parse().unwrap(),
            "renzo.otip",
            "mypassword",
            32,
            unix_now(),
        );
        let to = SocketAddr::new(IpAddr::V6(a), 4242);
        match TcpStream::connect_timeout_on(&client, &to, Duration::from_secs(1)) {
            Ok(c) => break c,
            Err(e) => {
                assert!(
                    start.elapsed() < Duration::from_secs(15),
                    "the proxy never answered at {a}: {e}"
                );
                assert!(child.try_wait().unwrap().is_none(), "otip_rproxy exited");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"through the binary").unwrap();
    let mut got = [0u8; 18];
    conn.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"through the binary");
    let written: u32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(written, child.id());

    // SAFETY: kill(2) on the child this test started and has not reaped yet.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let status = child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("leaving on signal 15"), "{log}");
    assert!(!pid.exists(), "the pid file outlived the proxy");
}
