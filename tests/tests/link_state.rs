//! Link state is honest (issue 10): when the `vde_switch` behind a smoltcp stack's `vde://`
//! interface dies, netlink shows the interface without carrier (no `IFF_RUNNING`, operstate
//! down) and UDP sends fail with ENETDOWN instead of vanishing; when a switch is back at the
//! same path the link reconnects by itself and traffic resumes.
//!
//! Each test runs its own `vde_switch` child in a temporary directory.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth_tests::fixtures::smoltcp_on;
use ioth_tests::peers::VdeSwitch;

/// Whether vde0 reports a carrier (IFF_RUNNING).
fn running(stack: &Stack) -> bool {
    stack
        .getifaddrs()
        .expect("getifaddrs")
        .iter()
        .find(|i| i.name == "vde0")
        .is_some_and(|i| i.flags & libc::IFF_RUNNING as u32 != 0)
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_dead_switch_shows_as_no_carrier_and_enetdown_and_a_restarted_one_resumes_traffic() {
    ioth_tests::init_logging();
    let Some(mut switch) = VdeSwitch::start() else {
        return;
    };
    let vnl = switch.vnl();
    let a = smoltcp_on(&vnl, Some([10, 96, 0, 1]));
    let b = smoltcp_on(&vnl, Some([10, 96, 0, 2]));
    let rx = b.udp_bind("10.96.0.2:7200").expect("bind");
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let tx = a.udp_bind("10.96.0.1:0").expect("bind");
    let dst = (Ipv4Addr::new(10, 96, 0, 2), 7200);
    let delivered = |what: &str| {
        // A few tries: the first datagram may wait for ARP.
        let start = Instant::now();
        let mut buf = [0u8; 16];
        loop {
            if tx.send_to(b"ping", dst).is_ok()
                && let Ok((n, _)) = rx.recv_from(&mut buf)
            {
                assert_eq!(&buf[..n], b"ping");
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{what}");
        }
    };
    assert!(running(&a));
    delivered("before the switch dies");

    switch.kill();
    wait_until(
        "no carrier after the switch died",
        Duration::from_secs(3),
        || {
            let _ = tx.send_to(b"lost", dst);
            !running(&a)
        },
    );
    let e = tx.send_to(b"lost", dst).expect_err("a send with no switch");
    assert_eq!(e.raw_os_error(), Some(libc::ENETDOWN), "{e}");

    switch.restart();
    wait_until(
        "carrier again once a switch is back",
        Duration::from_secs(10),
        || running(&a) && running(&b),
    );
    delivered("after the switch came back");
}
