//! A smoltcp stack announces its addresses as Linux with `arp_notify`/`ndisc_notify` does: a
//! gratuitous ARP for an IPv4 address and an unsolicited neighbour advertisement for an IPv6
//! one, when the address is added, the link comes up or the MAC changes (with `announce=1`);
//! so a kernel peer that cached a restarted node's old MAC reaches the new one at once. By
//! default (as Linux's defaults) and with `announce=0` it is quiet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth_tests::fixtures::unique_hub;
use ioth_tests::peers::{KernelOnTap, VdeSwitch};

/// What a frame announces: (address, MAC) of a gratuitous ARP or an unsolicited NA.
fn announced(f: &[u8]) -> Option<(IpAddr, [u8; 6])> {
    match f.get(12..14)? {
        [0x08, 0x06] => {
            let sender: [u8; 4] = f.get(28..32)?.try_into().ok()?;
            let target: [u8; 4] = f.get(38..42)?.try_into().ok()?;
            let mac: [u8; 6] = f.get(22..28)?.try_into().ok()?;
            (f.get(20..22)? == [0, 1] && sender == target)
                .then_some((IpAddr::V4(Ipv4Addr::from(sender)), mac))
        }
        [0x86, 0xdd] => {
            let icmp = f.get(54..)?;
            if f.get(20)? != &58 || icmp.first()? != &136 || icmp.get(4)? & 0x40 != 0 {
                return None; // not an NA, or a solicited one
            }
            let target: [u8; 16] = icmp.get(8..24)?.try_into().ok()?;
            let mac: [u8; 6] = icmp.get(26..32)?.try_into().ok()?;
            Some((IpAddr::V6(Ipv6Addr::from(target)), mac))
        }
        _ => None,
    }
}

/// The announcements `peer` receives within `window`.
fn announcements(peer: &vde::Link, window: Duration) -> Vec<(IpAddr, [u8; 6])> {
    let end = Instant::now() + window;
    let mut out = Vec::new();
    let mut buf = [0u8; 1600];
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        ioth_tests::poll_fd(peer.as_raw_fd(), libc::POLLIN, left);
        while let Ok(n) = peer.recv(&mut buf) {
            out.extend(announced(&buf[..n]));
        }
    }
    out
}

#[test]
fn addresses_are_announced_when_added_and_when_the_mac_changes() {
    let _ = ioth_smoltcp::NAME;
    let hub = unique_hub();
    let peer = vde::open(&hub).expect("a raw member of the hub");
    let (stack, report) = Stack::from_config(&format!(
        "stack='smoltcp,announce=1' vnl={hub} eth ip=10.88.0.5/24 ip=fd00:88::5/64"
    ))
    .expect("stack");
    let mac = report.mac.unwrap_or_else(|| {
        stack
            .link_mac(stack.if_nametoindex("vde0").expect("vde0"))
            .expect("MAC")
    });
    let seen = announcements(&peer, Duration::from_millis(300));
    for addr in ["10.88.0.5", "fd00:88::5"] {
        let addr: IpAddr = addr.parse().expect("literal");
        assert!(
            seen.contains(&(addr, mac)),
            "{addr} announced at {mac:02x?}: {seen:?}"
        );
    }

    let new_mac = [0x02, 0x88, 0, 0, 0, 0x55];
    stack
        .link_set_mac(stack.if_nametoindex("vde0").expect("vde0"), new_mac)
        .expect("a new MAC");
    let seen = announcements(&peer, Duration::from_millis(300));
    let v4: IpAddr = "10.88.0.5".parse().expect("literal");
    assert!(
        seen.contains(&(v4, new_mac)),
        "announced at the new MAC: {seen:?}"
    );
}

#[test]
fn by_default_and_with_announce_0_none_is_sent() {
    let _ = ioth_smoltcp::NAME;
    let hub = unique_hub();
    let peer = vde::open(&hub).expect("a raw member of the hub");
    for (i, options) in ["smoltcp", "smoltcp,announce=0"].into_iter().enumerate() {
        let _stack = Stack::from_config(&format!(
            "stack='{options}' vnl={hub} eth ip=10.88.1.{n}/24 ip=fd00:88:1::{n}/64",
            n = i + 5
        ))
        .expect("stack");
        let seen = announcements(&peer, Duration::from_millis(300));
        assert!(seen.is_empty(), "{options}: nothing announced: {seen:?}");
    }
}

/// The kernel reaches a node that came back on the same address with a new MAC at once: its
/// cached entry is updated by the announcement instead of going stale after half a minute.
#[test]
fn a_kernel_peer_reaches_a_restarted_node_at_once() {
    ioth_tests::init_logging();
    let _ = ioth_smoltcp::NAME;
    let Some(sw) = VdeSwitch::start() else { return };
    let Some(kernel) = KernelOnTap::join(&sw.vnl(), &["10.89.0.1/24"]) else {
        return;
    };
    let node = |what: &str| {
        Stack::from_config(&format!(
            "stack='smoltcp,announce=1' vnl={} eth ip=10.89.0.2/24",
            sw.vnl()
        ))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .0
    };
    // Two echo requests: smoltcp answers an echo only once it knows the asker's MAC (it
    // drops the first reply while it asks, where Linux would queue it).
    let ping = |wait: &str| {
        let out = kernel
            .ns()
            .command("ping")
            .args(["-c", "2", "-i", "0.3", "-W", wait, "10.89.0.2"])
            .output()
            .expect("ping runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = node("the first node");
    let out = ping("5");
    assert!(
        !out.contains(" 0 received"),
        "the first node answers: {out}"
    );
    drop(first);
    // Linux ignores a neighbour update within `locktime` (1 s) of the last one.
    std::thread::sleep(Duration::from_millis(1100));
    let second = node("the restarted node");
    let mac = second
        .link_mac(second.if_nametoindex("vde0").expect("vde0"))
        .expect("MAC");
    let mac_text = mac.map(|b| format!("{b:02x}")).join(":");
    let neigh = (0..50)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            kernel
                .ns()
                .exec(&["ip", "neigh", "show", "10.89.0.2", "dev", "tap0"])
        })
        .find(|n| n.contains(&mac_text))
        .unwrap_or_default();
    assert!(
        neigh.contains(&mac_text),
        "the kernel learned {mac_text}: {neigh:?}"
    );
    let out = ping("1");
    assert!(
        !out.contains(" 0 received"),
        "the restarted node answers at once: {out}"
    );
}

/// A node named with `name=` has the same MACs on every run (so a peer's cached neighbour
/// entry stays right without any announcement): `hashmac(NAME)` on its first interface, as
/// iothconf's `fqdn=NAME` gives, and a different stable one on the others. Unnamed stacks
/// draw random MACs.
#[test]
fn a_named_stack_keeps_its_macs_from_run_to_run() {
    let _ = ioth_smoltcp::NAME;
    let (hub_a, hub_b) = (unique_hub(), unique_hub());
    let macs = |implementation: &str| {
        let stack = Stack::new(implementation, &[&hub_a, &hub_b]).expect("stack");
        let mac = |ifname: &str| {
            stack
                .link_mac(stack.if_nametoindex(ifname).expect(ifname))
                .expect("MAC")
        };
        let out = (mac("vde0"), mac("vde1"), stack.name());
        stack.delete().expect("delete");
        out
    };
    let first = macs("smoltcp,name=node7.example.org");
    let again = macs("smoltcp,name=node7.example.org");
    assert_eq!(first, again, "the same name gives the same MACs");
    assert_eq!(
        first.0,
        nlconf::hashaddr::hashmac("node7.example.org", None)
    );
    assert_ne!(first.0, first.1, "each interface has its own MAC");
    assert_eq!(first.2, "node7.example.org", "the option names the stack");
    let other = macs("smoltcp,name=node8.example.org");
    assert_ne!(other.0, first.0);
    let (a, b) = (macs("smoltcp"), macs("smoltcp"));
    assert_ne!(a.0, b.0, "unnamed stacks draw their MACs");
}
