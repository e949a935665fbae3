//! One configuration, two stacks: the same helper calls on a kernel network namespace (through
//! `kernel,netns=NAME`) and on a smoltcp stack give the same observable configuration and the
//! same errors.

use std::net::{IpAddr, Ipv4Addr};

use ioth::Stack;
use ioth::config::IfaAddress;
use ioth_tests::peers::{NetNs, require_netns};

/// Runs the script on `s` and describes what the stack reports afterwards.
fn configure_and_observe(s: &Stack) -> Vec<String> {
    let mut seen = Vec::new();
    let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    let i = s.if_nametoindex("vde0").expect("vde0");
    s.link_set_mac(i, [0x02, 0, 0, 0, 0, 0x77]).unwrap();
    s.link_set_mtu(i, 1400).unwrap();
    s.link_set_up(i, true).unwrap();
    s.ipaddr_add(v4(10, 9, 8, 7), 24, i).unwrap();
    s.ipaddr_add("fc00:98::7".parse().unwrap(), 64, i).unwrap();
    s.iproute_add(None, Some(v4(10, 9, 8, 1)), None).unwrap();
    s.iproute_add(Some((v4(10, 100, 0, 0), 16)), Some(v4(10, 9, 8, 2)), None)
        .unwrap();
    // The same errors.
    let errno = |r: std::io::Result<()>| r.err().map(|e| ioth::errno_of(&e));
    seen.push(format!(
        "dup addr: {:?}",
        errno(s.ipaddr_add(v4(10, 9, 8, 7), 24, i))
    ));
    seen.push(format!(
        "gw not on-link: {:?}",
        errno(s.iproute_add(
            Some((v4(10, 200, 0, 0), 16)),
            Some(v4(192, 168, 77, 1)),
            None
        ))
    ));
    seen.push(format!(
        "no such addr: {:?}",
        errno(s.ipaddr_del(v4(10, 9, 8, 99), 24, i))
    ));
    seen.push(format!(
        "no such iface: {:?}",
        s.if_nametoindex("nope").err().map(|e| ioth::errno_of(&e))
    ));
    // Removing the only address of the gateways' subnet removes the routes through them (as
    // Linux does); with a new address there, the default route can be added again.
    s.ipaddr_del(v4(10, 9, 8, 7), 24, i).unwrap();
    s.ipaddr_add(v4(10, 9, 8, 8), 24, i).unwrap();
    s.iproute_add(None, Some(v4(10, 9, 8, 1)), None).unwrap();

    // What the stack reports.
    let nl = s.netlink().unwrap();
    let link = nl.link(i).unwrap();
    seen.push(format!(
        "link {} mac {:02x?} mtu {} up {}",
        link.name,
        link.mac,
        link.mtu,
        link.is_up()
    ));
    let mut addrs: Vec<String> = s
        .getifaddrs()
        .unwrap()
        .into_iter()
        .filter(|a| a.name == "vde0")
        .filter_map(|a| match a.addr {
            // Link-local addresses appear on the kernel only with carrier: not compared.
            IfaAddress::Ip(IpAddr::V6(x)) if x.segments()[0] == 0xfe80 => None,
            IfaAddress::Ip(x) => Some(format!("addr {x} mask {:?}", a.netmask)),
            IfaAddress::Link { mac, .. } => Some(format!("hw {mac:02x?}")),
        })
        .collect();
    addrs.sort();
    seen.extend(addrs);
    let mut routes: Vec<String> = nl
        .routes()
        .unwrap()
        .into_iter()
        .filter(|r| r.dst.is_ipv4() && r.oif == Some(i))
        .map(|r| format!("route {}/{} via {:?}", r.dst, r.prefix_len, r.gateway))
        .collect();
    routes.sort();
    seen.extend(routes);
    seen
}

#[test]
fn the_same_helpers_configure_a_kernel_namespace_and_a_smoltcp_stack_alike() {
    ioth_tests::init_logging();
    let _ = ioth_smoltcp::NAME;
    let _ = ioth_kernel::NAME;
    if !require_netns("the kernel/smoltcp comparison") {
        return;
    }
    let ns = NetNs::new();
    // The kernel of this machine has no dummy interfaces: a bridge plays vde0.
    ns.exec(&["ip", "link", "add", "vde0", "type", "bridge"]);
    let kernel = Stack::new(&format!("kernel,netns={}", ns.name()), &[]).unwrap();
    let smol = Stack::new("smoltcp", &[&ioth_tests::fixtures::unique_hub()]).unwrap();
    let k = configure_and_observe(&kernel);
    let s = configure_and_observe(&smol);
    assert_eq!(k, s, "kernel (left) and smoltcp (right) report the same");
    assert!(
        k.iter()
            .any(|l| l.contains("route 0.0.0.0/0 via Some(10.9.8.1)")),
        "{k:?}"
    );
    assert!(
        !k.iter().any(|l| l.contains("10.100.0.0")),
        "the flushed route stays gone: {k:?}"
    );
    assert!(k.iter().any(|l| l.contains("addr 10.9.8.8")), "{k:?}");
}
