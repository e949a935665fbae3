//! IPv6 autoconfiguration of smoltcp stacks against a real dnsmasq on a kernel TAP in a
//! namespace on the same vde_switch.
//!
//! - `rd` and `slaac` (dnsmasq `--enable-ra`): a named stack (`fqdn=`) takes the name's hash
//!   as the host part of its address, an unnamed one the EUI-64 of its MAC; both learn the
//!   default router, the MTU and the DNS server, the kernel reaches them at their SLAAC
//!   addresses, and `-rd` takes it all back.
//! - `dhcp6` (dnsmasq with a DHCPv6 range): the stack leases an address, DNS server and
//!   domain, the kernel reaches it there, the lease is renewed, and `-dhcp6` releases it.

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth_tests::peers::{KernelOnTap, Peer, VdeSwitch, dnsmasq_on_tap, require_tool};
use nlconf::hashaddr::{eui64, hashaddr};

const PREFIX: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x44, 0, 0, 0, 0, 0, 0);

fn v6_addrs(stack: &Stack) -> Vec<Ipv6Addr> {
    stack
        .getifaddrs()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| match i.addr {
            ioth::config::IfaAddress::Ip(IpAddr::V6(a)) if i.name == "vde0" => Some(a),
            _ => None,
        })
        .collect()
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: not within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The router's link-local address: tap0's in the namespace.
fn router_link_local(kernel: &KernelOnTap) -> Ipv6Addr {
    let out = kernel.ns().exec(&[
        "ip", "-6", "-o", "addr", "show", "dev", "tap0", "scope", "link",
    ]);
    out.split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no link-local address on tap0: {out}"))
}

#[test]
fn smoltcp_stacks_configure_themselves_from_dnsmasq_router_advertisements() {
    ioth_tests::init_logging();
    let _ = ioth_smoltcp::NAME;
    if !require_tool("dnsmasq", "the router discovery test")
        || !require_tool("ping", "the router discovery test")
    {
        return;
    }
    let Some(sw) = VdeSwitch::start() else { return };
    let Some(kernel) = KernelOnTap::join(&sw.vnl(), &["fd00:44::1/64"]) else {
        return;
    };
    let log_path = sw.dir().join("dnsmasq.log");
    let _dnsmasq = dnsmasq(
        &kernel,
        &sw,
        &[
            "--dhcp-range=fd00:44::,ra-only,64,1h",
            "--ra-param=tap0,mtu:1400,10,600",
        ],
    );

    let fqdn = "node1.example.org";
    let (named, report) = Stack::from_config(&format!(
        "stack=smoltcp vnl={} eth rd slaac fqdn={fqdn}",
        sw.vnl()
    ))
    .expect("named stack");
    assert!(report.eth && report.rd, "eth and rd started: {report:?}");
    let (unnamed, report) =
        Stack::from_config(&format!("stack=smoltcp vnl={} eth rd slaac", sw.vnl()))
            .expect("unnamed stack");
    assert!(report.eth && report.rd, "eth and rd started: {report:?}");

    let hash_addr = hashaddr(PREFIX, fqdn, None, 0);
    let idx = named.if_nametoindex("vde0").expect("vde0");
    let unnamed_idx = unnamed.if_nametoindex("vde0").expect("vde0");
    let mac = unnamed.link_mac(unnamed_idx).expect("mac");
    let eui_addr = eui64(PREFIX, mac);
    wait_for("the named stack's hash address", || {
        v6_addrs(&named).contains(&hash_addr)
    });
    wait_for("the unnamed stack's EUI-64 address", || {
        v6_addrs(&unnamed).contains(&eui_addr)
    });
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // The default router is the TAP's link-local address, installed as `proto ra`.
    let router = router_link_local(&kernel);
    for stack in [&named, &unnamed] {
        let routes = stack.netlink().expect("netlink").routes().expect("routes");
        assert!(
            routes.iter().any(|r| r.prefix_len == 0
                && r.gateway == Some(IpAddr::V6(router))
                && r.protocol == nlconf::model::RTPROT_RA),
            "default route through {router}: {routes:?}\n{}",
            log()
        );
    }
    // The advertised MTU, DNS server and search domain.
    let link = named.netlink().expect("netlink").link(idx).expect("link");
    assert_eq!(link.mtu, 1400, "{link:?}");
    let resolv = named.resolv_conf(idx);
    assert!(
        resolv.contains("nameserver fd00:44::53") && resolv.contains("search example.org"),
        "{resolv}\n{}",
        log()
    );

    // The kernel reaches both stacks at their SLAAC addresses.
    for a in [hash_addr, eui_addr] {
        let a = a.to_string();
        let out = kernel
            .ns()
            .exec(&["ping", "-6", "-c", "3", "-i", "0.2", "-W", "5", &a]);
        assert!(out.contains("3 received"), "ping {a}: {out}");
    }

    // `-rd` on the running stack removes the address and the route it installed.
    let report = named.configure("-rd").expect("-rd");
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(!v6_addrs(&named).contains(&hash_addr));
    let routes = named.netlink().expect("netlink").routes().expect("routes");
    assert!(
        !routes
            .iter()
            .any(|r| r.protocol == nlconf::model::RTPROT_RA),
        "{routes:?}"
    );
    assert!(!named.resolv_conf(idx).contains("fd00:44::53"));
    // The unnamed stack keeps its configuration.
    assert!(v6_addrs(&unnamed).contains(&eui_addr));
}

/// dnsmasq serving tap0 of `kernel`'s namespace (no DNS service), advertising routes, a DNS
/// server and a search domain, logging to `dnsmasq.log` in the switch's directory, with
/// `extra` arguments.
fn dnsmasq(kernel: &KernelOnTap, sw: &VdeSwitch, extra: &[&str]) -> Peer {
    let mut args = vec![
        "--port=0",
        "--enable-ra",
        "--dhcp-option=option6:dns-server,[fd00:44::53]",
        "--dhcp-option=option6:domain-search,example.org",
        "--log-dhcp",
    ];
    args.extend_from_slice(extra);
    dnsmasq_on_tap(kernel, sw.dir(), &args)
}

#[test]
fn a_smoltcp_stack_leases_an_address_from_dnsmasq_over_dhcpv6_and_releases_it() {
    ioth_tests::init_logging();
    let _ = ioth_smoltcp::NAME;
    if !require_tool("dnsmasq", "the DHCPv6 test") || !require_tool("ping", "the DHCPv6 test") {
        return;
    }
    let Some(sw) = VdeSwitch::start() else { return };
    let Some(kernel) = KernelOnTap::join(&sw.vnl(), &["fd00:44::1/64"]) else {
        return;
    };
    let log_path = sw.dir().join("dnsmasq.log");
    let _dnsmasq = dnsmasq(
        &kernel,
        &sw,
        &["--dhcp-range=fd00:44::100,fd00:44::1ff,64,2m"],
    );
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let (stack, report) = Stack::from_config(&format!(
        "stack=smoltcp vnl={} eth dhcp6 rd fqdn=node6",
        sw.vnl()
    ))
    .expect("stack from a configuration string");
    assert!(report.eth && report.dhcp6 && report.rd, "{report:?}");
    let idx = stack.if_nametoindex("vde0").expect("vde0");
    let in_range = |a: &Ipv6Addr| {
        let s = a.segments();
        s[..4] == [0xfd00, 0x44, 0, 0] && s[4..7] == [0, 0, 0] && (0x100..=0x1ff).contains(&s[7])
    };
    let mut leased = None;
    wait_for("a DHCPv6 lease", || {
        leased = v6_addrs(&stack).into_iter().find(in_range);
        leased.is_some()
    });
    let leased = leased.expect("waited for it");
    // Once the router's advertisement says fd00:44::/64 is on the link, the leased address
    // takes that prefix length (alone, DHCPv6 gives a /128).
    wait_for("the on-link prefix length on the leased address", || {
        stack
            .netlink()
            .and_then(|n| n.addrs())
            .unwrap_or_default()
            .iter()
            .any(|a| a.addr == IpAddr::V6(leased) && a.prefix_len == 64)
    });
    let resolv = stack.resolv_conf(idx);
    assert!(
        resolv.contains("nameserver fd00:44::53") && resolv.contains("search example.org"),
        "{resolv}\n{}",
        log()
    );

    // The kernel reaches the stack at its leased address.
    let a = leased.to_string();
    let out = kernel
        .ns()
        .exec(&["ping", "-6", "-c", "3", "-i", "0.2", "-W", "5", &a]);
    assert!(out.contains("3 received"), "ping {a}: {out}\n{}", log());

    // dnsmasq's shortest lease is 2 minutes: the client renews at T1, one minute in, and
    // keeps its address.
    let renewed = ioth_tests::wait_with_progress(
        "ipv6_autoconf",
        "the DHCPv6 renewal at T1",
        Duration::from_secs(60),
        Duration::from_secs(100),
        || log().contains("DHCPRENEW"),
    );
    assert!(
        renewed,
        "the lease was not renewed within 100 s; dnsmasq said:\n{}",
        log()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(v6_addrs(&stack).contains(&leased), "{}", log());

    // `-dhcp6` releases the lease and removes the address.
    let report = stack.configure("-dhcp6").expect("-dhcp6");
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(!v6_addrs(&stack).contains(&leased));
    wait_for("dnsmasq to see the release", || {
        log().contains("DHCPRELEASE")
    });
    // dnsmasq advertises the same DNS server in its router advertisements (RDNSS): with
    // router discovery stopped too, nothing learned is left.
    assert!(stack.configure("-rd").expect("-rd").failed.is_empty());
    assert_eq!(stack.resolv_conf(idx), "");
}

#[test]
fn on_a_stateless_network_dhcp6_follows_the_routers_flags_and_asks_for_information_only() {
    ioth_tests::init_logging();
    let _ = ioth_smoltcp::NAME;
    if !require_tool("dnsmasq", "the stateless DHCPv6 test") {
        return;
    }
    let Some(sw) = VdeSwitch::start() else { return };
    let Some(kernel) = KernelOnTap::join(&sw.vnl(), &["fd00:44::1/64"]) else {
        return;
    };
    let log_path = sw.dir().join("dnsmasq.log");
    // SLAAC for addresses, DHCPv6 for the rest: the advertisement carries O but not M.
    let _dnsmasq = dnsmasq(&kernel, &sw, &["--dhcp-range=fd00:44::,ra-stateless,64,1h"]);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let (stack, report) = Stack::from_config(&format!(
        "stack=smoltcp vnl={} eth rd slaac dhcp6 fqdn=node7",
        sw.vnl()
    ))
    .expect("stack from a configuration string");
    assert!(report.rd && report.dhcp6, "{report:?}");
    let slaac = hashaddr(PREFIX, "node7", None, 0);
    wait_for("the SLAAC address", || v6_addrs(&stack).contains(&slaac));
    wait_for("an Information-request answered by dnsmasq", || {
        log().contains("DHCPINFORMATION-REQUEST")
    });
    let idx = stack.if_nametoindex("vde0").expect("vde0");
    wait_for("the DNS server in resolv.conf", || {
        stack.resolv_conf(idx).contains("nameserver fd00:44::53")
    });
    // No address from DHCPv6: only the SLAAC one and the link-local one.
    let addrs = v6_addrs(&stack);
    assert!(
        addrs
            .iter()
            .all(|a| *a == slaac || a.segments()[0] == 0xfe80),
        "{addrs:?}\n{}",
        log()
    );
}
