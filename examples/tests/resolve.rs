//! `resolve` as a user runs it: its help and bad command lines, alone on its embedded hub,
//! and on a network where dnsmasq (in a kernel namespace on a TAP joined to a vde_switch)
//! gives the address and DNS server by DHCP and a kernel listener answers the connection.

use std::io::Write;

use ioth::Stack;
use ioth::net::TcpListener;
use ioth_tests::peers::{KernelOnTap, VdeSwitch, dnsmasq_on_tap, require_tool};

mod common;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    common::run("resolve", args)
}

#[test]
fn help_and_bad_command_lines() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("Usage: resolve") && out.contains("--stack <CONF>"),
        "{out}"
    );
    for (args, mentions) in [
        (&["--bogus"][..], "--bogus"),
        (&["--port", "70000"], "70000"),
        (&["--type", "NOTATYPE"], "NOTATYPE"),
        (&["--stack", "stack=kernel", "x"], "kernel"),
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains(mentions) && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn alone_it_resolves_and_connects_on_its_embedded_hub() {
    let (code, out, err) = run(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("www: fc00::53, 10.0.0.53"), "{out}");
    assert!(
        out.contains("ftp.example.test: fc00::53, 10.0.0.53"),
        "{out}"
    );
    let (code, out, err) = run(&["--type", "MX", "--no-connect", "example.test.", "www"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("example.test. MX: 10 www.example.test."),
        "{out}"
    );
    let (code, out, _) = run(&[]);
    assert_eq!(code, Some(0));
    assert!(out.contains("connected to www at 10.0.0.53:80"), "{out}");
    assert!(out.contains("hello from the in-process server"), "{out}");
    let (code, out, _) = run(&["--no-connect", "nope"]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("nope: no such name: nope.example.test., nope."),
        "{out}"
    );
}

#[test]
fn it_learns_its_server_by_dhcp_resolves_and_connects() {
    let _ = ioth_kernel::NAME;
    if !require_tool("dnsmasq", "the resolve example against dnsmasq") {
        return;
    }
    let Some(sw) = VdeSwitch::start() else { return };
    let Some(kernel) = KernelOnTap::join(&sw.vnl(), &["10.46.0.1/24"]) else {
        return;
    };
    let _dnsmasq = dnsmasq_on_tap(
        &kernel,
        sw.dir(),
        &[
            "--no-resolv",
            "--no-hosts",
            "--local=/corp.test/",
            "--host-record=web.corp.test,10.46.0.1",
            "--dhcp-range=10.46.0.50,10.46.0.99,255.255.255.0,2m",
            "--dhcp-option=option:dns-server,10.46.0.1",
        ],
    );
    let ns_stack = Stack::new(&format!("kernel,netns={}", kernel.ns().name()), &[]).unwrap();
    let listener = TcpListener::bind_on(&ns_stack, "10.46.0.1:8080").unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        let _ = s.write_all(b"hi\n");
        peer
    });
    let stack_conf = format!("stack=smoltcp vnl={} eth dhcp", sw.vnl());
    let (code, out, err) = run(&["--stack", &stack_conf, "--port", "8080", "web.corp.test"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("the stack's DNS servers: 10.46.0.1:53"),
        "{out}"
    );
    assert!(out.contains("web.corp.test: 10.46.0.1"), "{out}");
    assert!(
        out.contains("connected to web.corp.test at 10.46.0.1:8080"),
        "{out}"
    );
    let peer = server.join().unwrap();
    assert!(
        (50..=99).contains(&match peer.ip() {
            std::net::IpAddr::V4(v4) => v4.octets()[3],
            _ => 0,
        }),
        "the connection came from the leased address: {peer}"
    );
}
