//! The server answering real resolvers: `dig` and `kdig` in a namespace of the test's own,
//! reaching a smoltcp stack through a real vde_switch (the kernel on a TAP), and the kernel
//! backend inside a namespace. Traffic stays inside the switch and the namespaces.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;

use ioth::Stack;
use ioth_dns::{Server, ServerConfig, ServerHandle};
use ioth_tests::fixtures::smoltcp_on;
use ioth_tests::peers::{KernelOnTap, NetNs, VdeSwitch, require_netns, require_tool};

/// Runs a resolver in `ns`; its output whatever its exit status (a failed lookup shows in
/// the output, and the assertion says what was expected).
fn resolve(ns: &NetNs, program: &str, args: &[&str]) -> String {
    let out: std::process::Output = ns
        .command(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{program} {}:\n{text}", args.join(" "));
    text
}

fn dig(ns: &NetNs, args: &[&str]) -> String {
    let mut all = vec!["+time=3", "+tries=2"];
    all.extend_from_slice(args);
    resolve(ns, "dig", &all)
}

/// A smoltcp server stack (two IPv4 addresses and one IPv6) serving the test zone on port
/// 53 of a vde_switch, and the kernel in a namespace on the same switch.
struct Net {
    handle: ServerHandle,
    kernel: KernelOnTap,
    _stack: Stack,
    _switch: VdeSwitch,
}

fn net() -> Option<Net> {
    ioth_tests::init_logging();
    if !require_tool("dig", "the dig tests (package bind9-dnsutils)") {
        return None;
    }
    let switch = VdeSwitch::start()?;
    let stack = smoltcp_on(&switch.vnl(), Some([10, 54, 0, 1]));
    let idx = stack.if_nametoindex("vde0").unwrap();
    stack
        .ipaddr_add(IpAddr::from([10, 54, 0, 2]), 24, idx)
        .unwrap();
    stack
        .ipaddr_add("fd00:54::1".parse().unwrap(), 64, idx)
        .unwrap();
    let kernel = KernelOnTap::join(&switch.vnl(), &["10.54.0.9/24", "fd00:54::9/64"])?;
    let handle = Server::bind(&stack, ServerConfig::default(), common::zone()).unwrap();
    Some(Net {
        handle,
        kernel,
        _stack: stack,
        _switch: switch,
    })
}

#[test]
fn dig_gets_answers_over_udp_and_tcp_from_every_address() {
    let Some(net) = net() else { return };
    let ns = net.kernel.ns();
    for server in ["@10.54.0.1", "@10.54.0.2"] {
        // dig discards a reply from another address than the one it asked ("reply from
        // unexpected source"): an answer here means it left from the address queried.
        let out = dig(ns, &[server, "www.example.test", "A", "+short"]);
        assert_eq!(out.trim(), "10.0.0.80", "UDP answer from {server}");
        let out = dig(ns, &[server, "www.example.test", "A", "+short", "+tcp"]);
        assert_eq!(out.trim(), "10.0.0.80", "TCP answer from {server}");
    }
    let out = dig(ns, &["@fd00:54::1", "www.example.test", "AAAA", "+short"]);
    assert_eq!(out.trim(), "fd00::80", "IPv6 answer");
    let out = dig(ns, &["@10.54.0.1", "nothing.example.test", "A"]);
    assert!(
        out.contains("status: NXDOMAIN"),
        "NXDOMAIN for a missing name"
    );
    assert!(out.contains("flags: qr aa rd;"), "authoritative, RD echoed");
    let c = net.handle.counters();
    assert_eq!(c.dropped, 0, "{c:?}");
    assert!(c.responses >= 6, "{c:?}");
}

#[test]
fn a_truncated_answer_makes_dig_retry_over_tcp() {
    let Some(net) = net() else { return };
    let ns = net.kernel.ns();
    for size in ["+noedns", "+bufsize=512"] {
        let out = dig(ns, &["@10.54.0.1", "big.example.test", "A", size]);
        assert!(
            out.contains("Truncated, retrying in TCP mode"),
            "{size}: the UDP reply is truncated"
        );
        let records = out
            .lines()
            .filter(|l| l.starts_with("big.example.test.") && l.contains("\tA\t"))
            .count();
        assert_eq!(records, 60, "{size}: the TCP retry gets the whole answer");
    }
    let out = dig(
        ns,
        &["@10.54.0.1", "big.example.test", "A", "+noedns", "+ignore"],
    );
    assert!(out.contains(" tc"), "TC is set: {out}");
    assert!(!out.contains("OPT PSEUDOSECTION"), "no OPT without EDNS");
    let out = dig(
        ns,
        &["@10.54.0.1", "big.example.test", "A", "+bufsize=4096"],
    );
    assert!(!out.contains("Truncated"), "1 KB fits the EDNS size");
    assert!(
        out.contains("udp: 1232"),
        "our payload size in the OPT record"
    );
    assert!(net.handle.counters().truncated >= 3);
}

#[test]
fn kdig_keeps_one_tcp_connection_for_several_queries() {
    let Some(net) = net() else { return };
    if !require_tool("kdig", "the kdig test (package knot-dnsutils)") {
        return;
    }
    let out = resolve(
        net.kernel.ns(),
        "kdig",
        &[
            "@10.54.0.2",
            "+tcp",
            "+keepopen",
            "+short",
            "+time=3",
            "www.example.test",
            "A",
            "alias.example.test",
            "A",
            "www.example.test",
            "AAAA",
        ],
    );
    let lines: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines,
        ["10.0.0.80", "www.example.test.", "10.0.0.80", "fd00::80"],
        "three answers"
    );
    let c = net.handle.counters();
    assert_eq!(
        c.tcp_accepted, 1,
        "one connection for the three queries: {c:?}"
    );
    assert_eq!(c.responses, 3, "{c:?}");
}

#[test]
fn the_kernel_backend_in_a_namespace_answers_from_the_address_queried() {
    ioth_tests::init_logging();
    if !require_netns("the kernel-in-a-namespace DNS test")
        || !require_tool("dig", "the dig tests (package bind9-dnsutils)")
    {
        return;
    }
    let _ = ioth_kernel::NAME;
    let ns = NetNs::new();
    ns.exec(&["ip", "addr", "add", "10.55.0.1/32", "dev", "lo"]);
    ns.exec(&["ip", "addr", "add", "10.55.0.2/32", "dev", "lo"]);
    let stack = Stack::new(&format!("kernel,netns={}", ns.name()), &[]).unwrap();
    let handle = Server::bind(&stack, ServerConfig::default(), common::zone()).unwrap();
    assert!(
        handle
            .local_addrs()
            .iter()
            .all(|(_, a): &(_, SocketAddr)| a.port() == 53)
    );
    for server in ["@10.55.0.2", "@10.55.0.1", "@::1"] {
        let out = dig(&ns, &[server, "www.example.test", "A", "+short"]);
        assert_eq!(out.trim(), "10.0.0.80", "UDP answer from {server}");
    }
    let out = dig(
        &ns,
        &["@10.55.0.2", "www.example.test", "A", "+short", "+tcp"],
    );
    assert_eq!(out.trim(), "10.0.0.80");
    drop(handle);
    // The sockets are gone with the server: the port is free again in the namespace.
    let probe = Command::new("ip")
        .args(["netns", "exec", ns.name(), "ss", "-lnu"])
        .output();
    if let Ok(p) = probe {
        assert!(!String::from_utf8_lossy(&p.stdout).contains(":53 "));
    }
}
