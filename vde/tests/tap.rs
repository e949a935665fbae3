//! tap:// against the kernel, inside a namespace the test makes.

mod common;

use std::time::Duration;

use common::*;

/// A TAP opened by us inside a fresh namespace: the kernel's ping (full-size frames) is
/// answered by a responder on the tap link; runts we send are dropped, not errors.
#[test]
fn kernel_pings_through_our_tap() {
    if !(have("ping") && can_netns()) {
        return;
    }
    let ns = Netns::new();
    let name = unique("vt");
    let vnl = format!("tap://{name}");
    let link = ns.within(move || vde::open(&vnl)).unwrap();
    ns.exec(&["ip", "link", "set", &name, "up"]);
    ns.exec(&["ip", "addr", "add", "10.80.0.1/24", "dev", &name]);
    link.send(&[0u8; 10]).unwrap();
    assert_eq!(link.dropped(), 1);
    let resp = Responder::start(link, [2, 0x20, 0, 0, 0, 2], [10, 80, 0, 2]);
    assert!(
        ping_full_size(&ns, "10.80.0.2", 3),
        "no echo replies through our TAP"
    );
    assert_eq!(
        resp.biggest.load(std::sync::atomic::Ordering::Relaxed),
        1514
    );
    drop(resp);
    // The interface exists only while the link is open.
    wait_until(
        Duration::from_secs(5),
        || !ns.status(&["ip", "link", "show", &name]),
        "the TAP to vanish",
    );
}

/// Bad interface names are refused with a message naming them.
#[test]
fn bad_tap_names() {
    let e = vde::open("tap://").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = vde::open("tap://a-name-much-too-long").unwrap_err();
    assert!(e.to_string().contains("a-name-much-too-long"), "{e}");
}
