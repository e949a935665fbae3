//! `dns_static_server` as a user runs it: its help, bad command lines, the embedded-hub demo,
//! and `dig` asking it on the kernel's loopback. Every child is killed and reaped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ioth_tests::peers::{Peer, require_tool};

mod common;

fn program() -> PathBuf {
    common::program("dns_static_server")
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    common::run("dns_static_server", args)
}

#[test]
fn help_and_bad_command_lines() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("Usage: dns_static_server"), "{out}");
    assert!(
        out.contains("--stack <CONF>") && out.contains("--record <LINE>"),
        "{out}"
    );
    for (args, mentions) in [
        (&["--bogus"][..], "--bogus"),
        (&["--listen", "nowhere"], "nowhere"),
        (&["--max-udp-payload", "70000"], "70000"),
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains(mentions) && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
    let (code, _, err) = run(&["--record", "www IN A not-an-address"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with("dns_static_server: error: the zone"),
        "{err}"
    );
    let (code, _, err) = run(&["--stack", "stack=smoltcp bogus=1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn alone_on_the_embedded_hub_it_answers_its_own_client() {
    let (code, out, err) = run(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("UDP reply from 10.0.0.53:53"), "{out}");
    assert!(
        out.contains("www.example.test. 300 IN A 10.0.0.80"),
        "{out}"
    );
    assert!(out.contains("TCP reply: 1 answers"), "{out}");
    assert!(out.contains("responses: 2"), "{out}");
}

#[test]
fn dig_gets_a_record_given_on_the_command_line() {
    if !require_tool(
        "dig",
        "the dns_static_server dig test (package bind9-dnsutils)",
    ) {
        return;
    }
    let mut cmd = Command::new(program());
    cmd.args([
        "--stack",
        "stack=kernel",
        "--listen",
        "127.0.0.1:0",
        "--duration",
        "30",
        "--record",
        "host 60 IN A 10.9.9.9",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let mut peer = Peer::spawn(cmd, "dns_static_server");
    let stdout = peer.child().stdout.take().expect("stdout");
    let mut port = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        if let Some(rest) = line.split("Udp 127.0.0.1:").nth(1) {
            port = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|p| p.parse::<u16>().ok());
            break;
        }
    }
    let port = port.expect("the server says where it listens");
    let out = Command::new("dig")
        .args(["+short", "+time=3", "+tries=2", "-p", &port.to_string()])
        .args(["@127.0.0.1", "host.example.test", "A"])
        .output()
        .expect("run dig");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "10.9.9.9");
}
