//! Configuration through the C API on kernel stacks inside network namespaces the tests make:
//! libioth's helpers, getifaddrs and iothconf's calls, each checked against what ip(8) reads
//! back from the namespace.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::process::Command;

use common::{assert_checks, compile, run};
use ioth_tests::peers::{NetNs, require_netns};

/// A namespace with `lo` up and a bridge named `vde0` (iothconf's default interface; bridges
/// need no kernel module beyond what the host has loaded).
fn namespace_with_vde0() -> NetNs {
    let ns = NetNs::new();
    ns.exec(&["ip", "link", "add", "vde0", "type", "bridge"]);
    ns
}

fn ip(ns: &NetNs, args: &[&str]) -> String {
    ns.exec(&[&["ip"], args].concat())
}

/// Every helper configures the namespace's kernel as ip(8) then shows it; the errnos are the
/// kernel's; getifaddrs lists exactly the namespace's interfaces and addresses.
#[test]
fn helpers_and_getifaddrs_configure_and_read_a_kernel_namespace() {
    if !require_netns("the C helpers test") {
        return;
    }
    let ns = namespace_with_vde0();
    let exe = compile("netconf_checks.c", &[]);
    let mut cmd = Command::new(exe);
    cmd.arg(ns.name());
    let out = run(cmd, "netconf_checks");
    assert_checks(
        &out,
        &[
            "if_nametoindex",
            "if_nametoindex_enodev",
            "linksetupdown",
            "linkgetaddr",
            "linksetmtu",
            "ipaddr_add_v4_eexist",
            "ipaddr_add_scope_link",
            "ipaddr_add_v6_nodad",
            "ipaddr_del_missing_eaddrnotavail",
            "iproute_add_default_eexist",
            "iproute_del_missing_esrch",
            "iproute_add_blackhole",
            "iplink_add_returns_index",
            "iplink_add_with_data",
            "iplink_del_missing_enodev",
            "nldialog_ack",
            "nldialog_error",
            "getifaddrs",
        ],
        "netconf_checks",
    );

    let link = ip(&ns, &["-o", "link", "show", "dev", "vde0"]);
    assert!(link.contains("mtu 1400"), "{link}");
    assert!(link.contains("link/ether 02:00:00:00:00:01"), "{link}");
    assert!(link.contains(",UP"), "{link}");
    let addrs = ip(&ns, &["-o", "addr", "show", "dev", "vde0"]);
    for want in [
        "inet 10.0.0.1/24 ",
        "inet 10.0.1.1/24 scope link",
        "inet6 fc00::1/64 scope global",
        "inet6 fc00:1::1/64 scope global nodad",
    ] {
        assert!(addrs.contains(want), "{want:?} missing from:\n{addrs}");
    }
    assert!(!addrs.contains("10.0.0.2/"), "{addrs}");
    let routes = ip(&ns, &["route"]);
    assert!(
        routes.contains("default via 10.0.0.254 dev vde0"),
        "{routes}"
    );
    assert!(routes.contains("blackhole 192.168.9.0/24"), "{routes}");
    assert!(!routes.contains("192.168.5.0"), "{routes}");
    let routes6 = ip(&ns, &["-6", "route"]);
    assert!(
        routes6.contains("fc00:2::/64 via fc00::fe dev vde0"),
        "{routes6}"
    );
    let links = ip(&ns, &["-o", "link"]);
    assert!(!links.contains("dmy1"), "{links}");
    assert!(links.contains("dmy2") && links.contains(",UP"), "{links}");
    let vx = ip(&ns, &["-d", "link", "show", "dev", "vx0"]);
    assert!(vx.contains("vxlan id 42"), "{vx}");

    // getifaddrs: one AF_PACKET entry per interface first, then one entry per address, and
    // exactly the addresses ip(8) lists.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let entries: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("ifaddr "))
        .collect();
    let packets = entries
        .iter()
        .take_while(|l| l.contains(" packet "))
        .count();
    let link_count = links.lines().count();
    assert_eq!(packets, link_count, "{entries:#?}\nvs\n{links}");
    assert!(entries[packets..].iter().all(|l| !l.contains(" packet ")));
    let vde0_index = ip(&ns, &["-o", "link", "show", "dev", "vde0"])
        .split(':')
        .next()
        .unwrap()
        .trim()
        .to_owned();
    for want in [
        "ifaddr lo packet 00:00:00:00:00:00 index 1".to_owned(),
        format!("ifaddr vde0 packet 02:00:00:00:00:01 index {vde0_index}"),
        "ifaddr lo inet 127.0.0.1 mask 255.0.0.0 dst 127.0.0.1".to_owned(),
        "ifaddr vde0 inet 10.0.0.1 mask 255.255.255.0 brd 10.0.0.255".to_owned(),
        "ifaddr vde0 inet 10.0.1.1 mask 255.255.255.0 brd 10.0.1.255".to_owned(),
        "ifaddr vde0 inet6 fc00::1 mask ffff:ffff:ffff:ffff::".to_owned(),
        "ifaddr lo inet6 ::1 mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".to_owned(),
    ] {
        assert!(
            entries.contains(&want.as_str()),
            "{want:?} missing from {entries:#?}"
        );
    }
    let ip_addrs = ip(&ns, &["-o", "addr"]);
    let ip_count = ip_addrs.lines().count();
    assert_eq!(
        entries.len() - packets,
        ip_count,
        "getifaddrs {entries:#?}\nvs ip addr:\n{ip_addrs}"
    );
    for line in ip_addrs.lines() {
        let mut words = line.split_whitespace();
        let name = words.nth(1).unwrap();
        let addr = words.nth(1).unwrap().split('/').next().unwrap();
        assert!(
            entries
                .iter()
                .any(|e| e.starts_with(&format!("ifaddr {name} "))
                    && e.contains(&format!(" {addr} "))),
            "{name} {addr} from ip addr is not in getifaddrs: {entries:#?}"
        );
    }
}

/// iothconf's calls: a stack created and configured from one string, the bitmask of
/// ioth_config, its errnos, and resolv.conf text (NULL with errno 0 when unchanged).
#[test]
fn iothconf_calls_configure_a_kernel_namespace() {
    if !require_netns("the C iothconf test") {
        return;
    }
    let ns = namespace_with_vde0();
    let exe = compile("iothconf_checks.c", &[]);
    let mut cmd = Command::new(exe);
    cmd.arg(ns.name());
    let out = run(cmd, "iothconf_checks");
    assert_checks(
        &out,
        &[
            "newstackc",
            "config_static_bit",
            "config_eth_bit",
            "config_both_bits",
            "config_dhcp_unsupported_bit_clear",
            "config_unknown_tag_einval",
            "config_stack_tag_einval",
            "config_missing_iface_enodev",
            "resolvconf_text",
            "resolvconf_unchanged_null_errno_0",
            "resolvconf_changed",
            "resolvconf_bad_tag_einval",
            "resolvconf_missing_iface_enodev",
            "newstackc_missing_iface_enodev",
            "newstackc_bad_string_einval",
            "delstack",
        ],
        "iothconf_checks",
    );
    let link = ip(&ns, &["-o", "link", "show", "dev", "vde0"]);
    assert!(link.contains("link/ether 02:00:00:00:00:02"), "{link}");
    assert!(link.contains(",UP"), "{link}");
    let addrs = ip(&ns, &["-o", "addr", "show", "dev", "vde0"]);
    for want in ["inet 10.1.2.3/24", "inet 10.1.2.4/24", "inet6 fc01::3/64"] {
        assert!(addrs.contains(want), "{want:?} missing from:\n{addrs}");
    }
    let routes = ip(&ns, &["route"]);
    assert!(
        routes.contains("default via 10.1.2.254 dev vde0"),
        "{routes}"
    );
}

/// The same helpers, getifaddrs and iothconf calls on the smoltcp stack built into libioth
/// (its rtnetlink is served in user space), including libioth's raw messages: packed prefix
/// lengths and a caller-built request through ioth_nldialog.
#[test]
fn helpers_getifaddrs_and_iothconf_on_smoltcp() {
    let exe = compile("smoltcp_checks.c", &[]);
    let out = run(Command::new(exe), "smoltcp_checks");
    assert_checks(
        &out,
        &[
            "newstack_smoltcp",
            "if_nametoindex",
            "if_nametoindex_enodev",
            "linkgetaddr",
            "ipaddr_add_v4_eexist",
            "iproute_add_default_eexist",
            "getifaddrs_v4",
            "getifaddrs_v6",
            "getifaddrs_lo",
            "ipaddr_del_v4",
            "iplink_add_vde_returns_index",
            "iplink_del_again_enodev",
            "ipaddr_add_scope_link",
            "iproute_add_packed_eexist",
            "nldialog_ack",
            "nldialog_enodev",
            "config",
            "resolvconf",
            "newstackc_smoltcp",
        ],
        "smoltcp_checks",
    );
}
