//! `stack=smoltcp,vnl=...,eth,dhcp` against a real dnsmasq serving a kernel TAP in a
//! namespace on the same vde_switch: the stack gets its address, default route and DNS server
//! from the lease, the kernel reaches it at that address, and the lease is renewed. The
//! lease's domain search list (option 119) and domain name (option 15) become the stack's
//! search list.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth_tests::peers::{KernelOnTap, VdeSwitch, dnsmasq_on_tap, require_tool};

fn leased_addr(stack: &Stack) -> Option<Ipv4Addr> {
    stack
        .getifaddrs()
        .ok()?
        .into_iter()
        .find_map(|i| match i.addr {
            ioth::config::IfaAddress::Ip(IpAddr::V4(a))
                if i.name == "vde0" && (50..=99).contains(&a.octets()[3]) =>
            {
                Some(a)
            }
            _ => None,
        })
}

#[test]
fn a_smoltcp_stack_leases_its_address_from_dnsmasq_and_renews_it() {
    ioth_tests::init_logging();
    let _ = ioth_smoltcp::NAME;
    if !require_tool("dnsmasq", "the DHCP test") || !require_tool("ping", "the DHCP test") {
        return;
    }
    let Some(sw) = VdeSwitch::start() else { return };
    let Some(kernel) = KernelOnTap::join(&sw.vnl(), &["10.44.0.1/24"]) else {
        return;
    };
    let log_path = sw.dir().join("dnsmasq.log");
    let _dnsmasq = dnsmasq_on_tap(
        &kernel,
        sw.dir(),
        &[
            "--port=0",
            "--dhcp-range=10.44.0.50,10.44.0.99,255.255.255.0,2m",
            // dnsmasq's shortest lease is 2 minutes; a renewal time (T1) of 5 s makes the
            // client renew without the test waiting the minute T1 would be by default.
            "--dhcp-option=option:T1,5",
            "--dhcp-option=option:router,10.44.0.1",
            "--dhcp-option=option:dns-server,10.44.0.53",
            "--domain=example.test",
            "--dhcp-option=option:domain-search,a.example.test,b.example.test",
            "--log-dhcp",
        ],
    );

    let (stack, report) = Stack::from_config(&format!("stack=smoltcp vnl={} eth dhcp", sw.vnl()))
        .expect("stack from a configuration string");
    assert!(
        report.eth && report.dhcp,
        "eth and dhcp started: {report:?}"
    );
    let mac = stack
        .link_mac(stack.if_nametoindex("vde0").unwrap())
        .unwrap();
    let mac_text = mac.map(|b| format!("{b:02x}")).join(":");

    // The lease arrives: address in the range, default route through the router, DNS server.
    use ioth::Configured::{Dns, Ipv4Address, Ipv4DefaultRoute};
    stack
        .wait_configured(
            &[Ipv4Address, Ipv4DefaultRoute, Dns],
            Duration::from_secs(30),
        )
        .expect("a lease within 30 s");
    let addr = leased_addr(&stack).expect("the leased address");
    let routes = stack.netlink().unwrap().routes().unwrap();
    assert!(
        routes.iter().any(
            |r| r.prefix_len == 0 && r.gateway == Some(IpAddr::V4(Ipv4Addr::new(10, 44, 0, 1)))
        ),
        "default route from the lease: {routes:?}"
    );
    let idx = stack.if_nametoindex("vde0").unwrap();
    let resolv = stack.resolv_conf(idx);
    assert!(resolv.contains("nameserver 10.44.0.53"), "{resolv}");
    // RFC 3397: the search list (option 119) is the one to use; the domain name (option 15)
    // comes after it, as the last resort.
    assert!(
        resolv
            .lines()
            .any(|l| l == "search a.example.test b.example.test example.test"),
        "{resolv}"
    );
    let search = ioth::dns::Resolver::for_stack(&stack).search();
    let names: Vec<String> = search.iter().map(|n| n.to_ascii()).collect();
    assert_eq!(
        names,
        ["a.example.test.", "b.example.test.", "example.test."],
        "the stack's resolver searches the lease's domains"
    );

    // The kernel reaches the stack at its leased address. The kernel learned our MAC from the
    // DHCP exchange, but we may not know its own yet: smoltcp drops an automatic echo reply
    // while it resolves the neighbour (Linux would queue it), so one warm-up ping may go
    // unanswered.
    let a = addr.to_string();
    let _ = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            kernel.ns().name(),
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            &a,
        ])
        .output();
    let out = kernel
        .ns()
        .exec(&["ping", "-c", "3", "-i", "0.2", "-W", "5", &a]);
    assert!(out.contains("3 received"), "{out}");

    // The client renews at T1, which the server set to 5 s.
    let acked = |log: &str| {
        log.lines()
            .filter(|l| l.contains("DHCPACK") && l.contains(&mac_text))
            .count()
    };
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if acked(&log) >= 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the lease was not renewed within 30 s (T1 is 5 s); dnsmasq said:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        leased_addr(&stack),
        Some(addr),
        "the renewal kept the address"
    );
    let resolv = stack.resolv_conf(idx);
    assert!(
        resolv.contains("search a.example.test b.example.test example.test"),
        "the renewal kept the search list: {resolv}"
    );
}
