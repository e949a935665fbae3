//! libiothdns's resolver calls from C against scripted DNS servers on 127.0.0.1:53 and
//! 127.0.0.2:53 of a private network namespace (port 53 is what resolv.conf and
//! `iothdns_add_nameserver` speak; the namespace keeps it off the host). The servers are
//! `ioth_tests::dns_responder` on the namespace's kernel stack; the C programs run inside the
//! namespace, on the kernel stack too.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::net::{Ipv6Addr, SocketAddr};
use std::process::Command;

use common::{assert_checks, compile, run};
use hickory_proto::rr::rdata::PTR;
use hickory_proto::rr::{RData, Record, RecordType};
use ioth::Stack;
use ioth_tests::dns_responder::{Responder, Script, a, aaaa, cname, mx, name, txt};
use ioth_tests::peers::{NetNs, require_netns};

fn zone_a() -> Vec<Record> {
    let big: Vec<String> = (0..30)
        .map(|i| format!("{i:02}{}", "t".repeat(98)))
        .collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    vec![
        a("web.example.test.", 60, [192, 0, 2, 10]),
        a("web.example.test.", 60, [192, 0, 2, 11]),
        aaaa(
            "web.example.test.",
            60,
            "2001:db8::10".parse::<Ipv6Addr>().unwrap(),
        ),
        cname("www.example.test.", 60, "web.example.test."),
        a("v4only.example.test.", 60, [192, 0, 2, 20]),
        aaaa(
            "v6only.example.test.",
            60,
            "2001:db8::20".parse::<Ipv6Addr>().unwrap(),
        ),
        mx("mail.example.test.", 60, 10, "mx1.example.test."),
        txt("mail.example.test.", 60, &["hello", "world"]),
        mx("tcp.example.test.", 60, 20, "mx2.example.test."),
        txt("big.example.test.", 60, &big),
        Record::from_rdata(
            name("10.2.0.192.in-addr.arpa."),
            60,
            RData::PTR(PTR(name("web.example.test."))),
        ),
    ]
}

fn zone_b() -> Vec<Record> {
    vec![a("web.example.test.", 60, [198, 51, 100, 1])]
}

/// Every resolver call of iothdns.h, from C, with the fixes: appending add_nameserver,
/// trailing dots, TCP after truncation, EDNS, getaddrinfo's error codes, getnameinfo's flags.
#[test]
fn c_resolver_calls_against_loopback_servers() {
    if !require_netns("the libiothdns resolver test") {
        return;
    }
    ioth_tests::init_logging();
    let ns = NetNs::new();
    let stack = Stack::new(&format!("kernel,netns={}", ns.name()), &[]).unwrap();
    let zone_a_server = Responder::start(
        &stack,
        "127.0.0.1:53".parse::<SocketAddr>().unwrap(),
        Script {
            records: zone_a(),
            udp_limit: 512,
            ..Script::default()
        },
    );
    let zone_b_server = Responder::start(
        &stack,
        "127.0.0.2:53".parse::<SocketAddr>().unwrap(),
        Script {
            records: zone_b(),
            ..Script::default()
        },
    );
    let files = tempfile::tempdir().unwrap();
    std::fs::write(
        files.path().join("hosts"),
        "# test hosts\n10.9.8.7 myhost.local myhost\n",
    )
    .unwrap();
    std::fs::write(
        files.path().join("resolv.conf"),
        "# as glibc reads it\nnameserver 127.0.0.1\nsearch example.test\noptions ndots:1 timeout:2\n",
    )
    .unwrap();
    std::fs::write(
        files.path().join("services"),
        "domain 53/tcp\ndomain 53/udp\nhttp 80/tcp www\n",
    )
    .unwrap();

    let exe = compile("iothdns_resolver_checks.c", &[]);
    let mut cmd = ns.command(exe.to_str().unwrap());
    cmd.arg(files.path());
    let out = run(cmd, "iothdns_resolver_checks");
    assert_checks(
        &out,
        &[
            "init_strcfg",
            "init_file",
            "init_missing_file_enoent",
            "init_stack_own_config",
            "lookup_a_search",
            "lookup_a_trailing_dot",
            "lookup_a_count_only",
            "lookup_a_stores_n",
            "lookup_aaaa",
            "lookup_a_cname",
            "lookup_a_nodata",
            "lookup_a_nxdomain_enoent",
            "lookup_a_literal",
            "aaaa_compat_mapped",
            "aaaa_compat_order",
            "lookup_cb_mx",
            "lookup_cb_txt",
            "lookup_cb_tc_fallback",
            "lookup_cb_tcp",
            "lookup_cb_stop",
            "lookup_cb_nxdomain_enoent",
            "init_address_list_literal",
            "add_nameserver_second",
            "add_nameserver_third",
            "add_nameserver_appends_enospc",
            "add_nameserver_eafnosupport",
            "lookup_after_add",
            "no_server_edestaddrreq",
            "add_to_empty",
            "update_strcfg",
            "update_strcfg_applies",
            "update_missing_file_enoent",
            "update_failure_keeps_config",
            "update_back",
            "getpath_default",
            "getpath_truncates",
            "setpath_getpath",
            "gai_default_hints",
            "gai_inet6_stream",
            "gai_v4mapped",
            "gai_canonname",
            "gai_hosts_file",
            "gai_service_name",
            "gai_unknown_service",
            "gai_nxdomain",
            "gai_numerichost",
            "gai_passive",
            "gai_addrfamily",
            "gai_badflags",
            "gai_strerror",
            "gni_ptr_and_service",
            "gni_flags_still_look_up",
            "gni_nofqdn",
            "gni_numeric",
            "gni_dgram_service",
            "gni_hosts_file",
            "gni_namereqd",
            "gni_numeric_fallback",
            "gni_overflow",
            "gni_short_addr_family",
        ],
        "iothdns_resolver_checks",
    );

    let seen = zone_a_server.seen();
    // The truncated answer was asked again over TCP; lookup_cb_tcp asked over TCP only.
    let asked = |n: &str, t: RecordType, tcp: bool| {
        seen.iter()
            .any(|s| s.name == n && s.rtype == t && s.tcp == tcp)
    };
    assert!(
        asked("big.example.test.", RecordType::TXT, false),
        "{seen:#?}"
    );
    assert!(
        asked("big.example.test.", RecordType::TXT, true),
        "{seen:#?}"
    );
    assert!(
        asked("tcp.example.test.", RecordType::MX, true),
        "{seen:#?}"
    );
    assert!(
        !asked("tcp.example.test.", RecordType::MX, false),
        "{seen:#?}"
    );
    // Queries over UDP carry EDNS.
    assert!(
        seen.iter().filter(|s| !s.tcp).all(|s| s.edns == Some(1232)),
        "{seen:#?}"
    );
    // A trailing dot is an absolute name: no search-list candidate was asked for it.
    assert!(
        !seen
            .iter()
            .any(|s| s.name.starts_with("web.example.test.example.test")),
        "{seen:#?}"
    );
    assert!(
        zone_b_server
            .seen()
            .iter()
            .any(|s| s.name == "web.example.test."),
        "update_strcfg did not reach the second server"
    );
}

/// The program shaped like the original's test/test_query.c links and runs: A and AAAA of a
/// name through the search list, then an ANY query over TCP.
#[test]
fn test_query_shaped_program_runs() {
    if !require_netns("the test_query program") {
        return;
    }
    let ns = NetNs::new();
    let stack = Stack::new(&format!("kernel,netns={}", ns.name()), &[]).unwrap();
    let server = Responder::start(
        &stack,
        "127.0.0.1:53".parse::<SocketAddr>().unwrap(),
        Script {
            records: zone_a(),
            ..Script::default()
        },
    );
    let exe = compile("iothdns_test_query.c", &[]);
    let mut cmd: Command = ns.command(exe.to_str().unwrap());
    cmd.args(["web", "search example.test\nnameserver 127.0.0.1"]);
    let out = run(cmd, "iothdns_test_query");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "2 192.0.2.10", "{stdout}");
    assert_eq!(lines[1], "1 2001:db8::10", "{stdout}");
    assert!(
        server
            .seen()
            .iter()
            .any(|s| s.rtype == RecordType::ANY && s.tcp),
        "{:#?}",
        server.seen()
    );
}
