//! Configuration strings are strict (an item that fails is an error naming it), and a
//! program can wait until a stack is configured instead of polling it.

use std::time::{Duration, Instant};

use ioth::Configured::{Dns, Ipv4Address, Ipv4DefaultRoute, Ipv6Address};
use ioth::Stack;
use ioth_tests::fixtures::unique_hub;

#[test]
fn a_configuration_item_that_fails_is_an_error_naming_it() {
    let _ = ioth_smoltcp::NAME;
    let hub = unique_hub();
    let text = format!("stack=smoltcp vnl={hub} eth ip=10.86.0.1/24 gw=10.9.9.9");
    let e = Stack::from_config(&text).expect_err("a gateway outside every subnet");
    assert_eq!(ioth::errno_of(&e), libc::ENETUNREACH, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("\"gw=10.9.9.9\""), "names the item: {msg}");
    assert_eq!(
        msg.matches("unreachable").count(),
        1,
        "the errno text once: {msg}"
    );

    // iothconf's way: the stack, and the failure in the report.
    let (stack, report) = Stack::from_config_lenient(&text).expect("lenient");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, "gw=10.9.9.9");
    let e = stack
        .configure("gw=10.9.9.8")
        .expect_err("configure is strict too");
    assert_eq!(ioth::errno_of(&e), libc::ENETUNREACH, "{e}");
    assert!(e.to_string().contains("\"gw=10.9.9.8\""), "{e}");
    let report = stack.configure_lenient("gw=10.9.9.8").expect("lenient");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    stack
        .configure("gw=10.86.0.254")
        .expect("a gateway on the subnet");
}

#[test]
fn wait_configured_returns_when_the_configuration_arrives_and_names_what_is_missing() {
    let _ = ioth_smoltcp::NAME;
    let hub = unique_hub();
    let (stack, _) =
        Stack::from_config(&format!("stack=smoltcp vnl={hub} eth ip=10.87.0.1/24")).expect("stack");
    stack
        .wait_configured(&[Ipv4Address], Duration::ZERO)
        .expect("a static address is there at once");

    let start = Instant::now();
    let e = stack
        .wait_configured(
            &[Ipv4Address, Ipv4DefaultRoute, Dns, Ipv6Address],
            Duration::from_millis(150),
        )
        .expect_err("no route, DNS or global IPv6 address");
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert_eq!(ioth::errno_of(&e), libc::ETIMEDOUT, "{e}");
    let msg = e.to_string();
    for missing in ["default IPv4 route", "DNS server", "global IPv6 address"] {
        assert!(msg.contains(missing), "{msg} names {missing}");
    }
    assert!(msg.contains("ms: no default IPv4 route, no "), "{msg}");
    assert!(!msg.contains("no IPv4 address"), "{msg}");

    // Configured from another thread while this one waits.
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            stack
                .configure("gw=10.87.0.254 dns=10.87.0.53 ip=fd00:87::1/64")
                .expect("configure");
        });
        stack
            .wait_configured(
                &[Ipv4DefaultRoute, Dns, Ipv6Address],
                Duration::from_secs(10),
            )
            .expect("configured while waiting");
    });
}

#[test]
fn stacks_have_identities_that_errors_and_debug_show() {
    let _ = ioth_smoltcp::NAME;
    let a = Stack::new("smoltcp", &[]).expect("a");
    let b = Stack::new("smoltcp", &[]).expect("b");
    assert_ne!(a.id(), b.id());
    assert_eq!(a.name(), format!("stack#{}", a.id()));
    assert_ne!(
        format!("{a:?}"),
        format!("{b:?}"),
        "two stacks are told apart"
    );
    let e = a.if_nametoindex("eth9").expect_err("no eth9");
    assert_eq!(ioth::errno_of(&e), libc::ENODEV);
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("stack#{}: interface \"eth9\"", a.id())),
        "{msg}"
    );
    assert_eq!(msg.matches("No such device").count(), 1, "{msg}");
    let e = a.link_set_up(77, true).expect_err("no interface 77");
    assert!(e.to_string().contains("interface index 77"), "{e}");

    b.set_name("web.example.test");
    assert_eq!(b.name(), "web.example.test");
    assert!(format!("{b:?}").contains("web.example.test"));
    let hub = unique_hub();
    let (named, _) =
        Stack::from_config(&format!("stack=smoltcp vnl={hub} fqdn=db.example.test eth"))
            .expect("named by fqdn=");
    assert_eq!(named.name(), "db.example.test");

    let dir = tempfile::tempdir().expect("temporary directory");
    let vnl = format!("vde://{}/nothing-here", dir.path().display());
    let e = Stack::new("smoltcp", &[&vnl]).expect_err("no switch there");
    let msg = e.to_string();
    let path = format!("{}/nothing-here", dir.path().display());
    assert_eq!(msg.matches(&path).count(), 1, "names the path once: {msg}");
    let errno_text = std::io::Error::from_raw_os_error(ioth::errno_of(&e)).to_string();
    assert_eq!(
        msg.matches(&errno_text).count(),
        1,
        "the errno text once: {msg}"
    );
}
