//! vxvde:// against `vde_plug vxvde://`, only inside a namespace the test makes (multicast
//! over its loopback).

mod common;

use std::time::Duration;

use common::*;

fn multicast_ns() -> Netns {
    let ns = Netns::new();
    ns.exec(&["ip", "link", "set", "lo", "multicast", "on"]);
    ns.exec(&["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]);
    ns
}

/// The kernel behind `vde_plug vxvde://GROUP tap://...` pings a responder on our vxvde
/// link in the same namespace: multicast first (ARP), then learned unicast both ways.
#[test]
fn kernel_pings_us_over_vxvde_with_vde_plug() {
    if !(have("vde_plug") && have("ping") && can_netns()) {
        return;
    }
    let ns = multicast_ns();
    let vnl = "vxvde://239.0.0.9/port=14790/vni=77";
    let _plug = ns.spawn(&["vde_plug", vnl, "tap://xtap0"]);
    ns.wait_link("xtap0");
    ns.exec(&["ip", "link", "set", "xtap0", "up"]);
    ns.exec(&["ip", "addr", "add", "10.81.0.1/24", "dev", "xtap0"]);
    let link = ns.within(move || vde::open(vnl)).unwrap();
    let resp = Responder::start(link, [2, 0x30, 0, 0, 0, 2], [10, 81, 0, 2]);
    assert!(
        ping_full_size(&ns, "10.81.0.2", 3),
        "no echo replies over vxvde"
    );
    assert!(resp.echoes.load(std::sync::atomic::Ordering::Relaxed) >= 3);
}

/// Two of our vxvde nodes in one namespace: each gets the other's frames, never its own,
/// and a node of another VNI hears nothing.
#[test]
fn our_nodes_talk_and_ignore_themselves_and_other_vnis() {
    if !can_netns() {
        return;
    }
    let ns = multicast_ns();
    let (a, b, other) = ns.within(|| {
        (
            vde::open("vxvde://239.0.0.10/port=14791").unwrap(),
            vde::open("vxvde://239.0.0.10/port=14791").unwrap(),
            vde::open("vxvde://239.0.0.10/port=14791/vni=2").unwrap(),
        )
    });
    let f = test_frame(BCAST, [2, 0, 0, 0, 0, 0xa], 1, 1514);
    a.send(&f).unwrap();
    assert_eq!(recv_timeout(&b, Duration::from_secs(5)).unwrap(), f);
    assert!(
        recv_timeout(&a, Duration::from_millis(300)).is_none(),
        "own frame ignored"
    );
    assert!(
        recv_timeout(&other, Duration::from_millis(100)).is_none(),
        "other VNI ignored"
    );
    // b answers a by unicast (a's MAC was learned).
    let g = test_frame([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb], 2, 100);
    b.send(&g).unwrap();
    assert_eq!(recv_timeout(&a, Duration::from_secs(5)).unwrap(), g);
    assert!(recv_timeout(&other, Duration::from_millis(100)).is_none());
    // Runts are not sent.
    a.send(&[1u8; 10]).unwrap();
    assert!(recv_timeout(&b, Duration::from_millis(200)).is_none());
}
