//! The `iothnamed` program itself: its command line, faults reported with their lines,
//! SIGHUP, SIGUSR1 and SIGTERM, the pid file. It runs on the kernel stack inside a network
//! namespace of the test's own, so port 53 is the namespace's.

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::{Command, Stdio};
use std::time::Duration;

use ioth_tests::peers::{NetNs, require_netns, require_tool};

const BIN: &str = env!("CARGO_BIN_EXE_iothnamed");

#[test]
fn help_names_the_options() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["--daemon", "--pidfile", "CONFIG", "SIGHUP"] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
}

#[test]
fn a_bad_file_exits_1_naming_every_faulty_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.rc");
    std::fs::write(
        &conf,
        "net local 10.0.0.0/8\nauth hash local .h\n\nfrobnicate x\n",
    )
    .unwrap();
    let out = Command::new(BIN).arg(&conf).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.rc:2: auth hash"), "{err}");
    assert!(err.contains("bad.rc:4: unknown directive"), "{err}");
    let out = Command::new(BIN)
        .arg(dir.path().join("none.rc"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none.rc"));
}

fn dig_short(ns: &NetNs, name: &str) -> String {
    let out = ns
        .command("dig")
        .args(["+tries=1", "+timeout=2", "+short", "@127.0.0.1", name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_for(mut ok: impl FnMut() -> bool, what: &str) {
    for _ in 0..100 {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not happen");
}

#[test]
fn signals_reload_report_and_stop() {
    if !require_netns("the iothnamed program test")
        || !require_tool("dig", "the iothnamed program test")
    {
        return;
    }
    let ns = NetNs::new();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("named.rc");
    let pid = dir.path().join("named.pid");
    let rules = "net local 127.0.0.0/8\nauth static local .test\n";
    std::fs::write(&conf, format!("{rules}static A one.test 10.0.0.1\n")).unwrap();
    let child = ns
        .command(BIN)
        .arg("-p")
        .arg(&pid)
        .arg(&conf)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        || dig_short(&ns, "one.test") == "10.0.0.1",
        "the first answer",
    );
    let pid_text = std::fs::read_to_string(&pid).unwrap();
    let signal = |sig: &str| {
        Command::new("kill")
            .args(["-s", sig, pid_text.trim()])
            .status()
            .unwrap();
    };
    // SIGHUP: the new file answers.
    std::fs::write(&conf, format!("{rules}static A one.test 10.0.0.2\n")).unwrap();
    signal("HUP");
    wait_for(
        || dig_short(&ns, "one.test") == "10.0.0.2",
        "the reloaded answer",
    );
    // A bad file is refused and the running configuration stays.
    std::fs::write(&conf, "auth static nowhere .test\n").unwrap();
    signal("HUP");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(dig_short(&ns, "one.test"), "10.0.0.2");
    signal("USR1");
    std::thread::sleep(Duration::from_millis(200));
    signal("TERM");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("reload refused") && log.contains("named.rc:1:"),
        "{log}"
    );
    assert!(
        log.contains("counters:") && log.contains("static="),
        "{log}"
    );
    assert!(log.contains("stopping"), "{log}");
    assert!(!pid.exists(), "the pid file is removed at exit");
}
