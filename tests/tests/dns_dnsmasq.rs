//! The per-stack resolver against a DNS server that is not ours: dnsmasq in a kernel
//! namespace on a TAP joined to a vde_switch. A smoltcp stack learns its server and domain
//! from dnsmasq's DHCP (IPv4) or router advertisements (RDNSS/DNSSL, IPv6) and resolves
//! A/AAAA, CNAME chains, MX, TXT, PTR, NXDOMAIN, NODATA, an answer too big for UDP, through
//! a dead first server and the search list (DNSSL), then connects by name.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::dns::proto::rr::RData;
use ioth::dns::{Name, RecordType, ResolveError, Resolver};
use ioth::net::{TcpListener, TcpStream};
use ioth_tests::peers::{KernelOnTap, Peer, VdeSwitch, dnsmasq_on_tap, require_tool};

/// dnsmasq answering for corp.test (and nothing else: no upstream, no hosts file) on tap0.
fn dnsmasq(kernel: &KernelOnTap, sw: &VdeSwitch, extra: &[&str]) -> Peer {
    let big: Vec<String> = (0..8)
        .map(|i| format!("\"{i}{}\"", "x".repeat(199)))
        .collect();
    let big = format!("--txt-record=big.corp.test,{}", big.join(","));
    let mut args = vec![
        "--no-resolv",
        "--no-hosts",
        "--edns-packet-max=1232",
        "--local=/corp.test/",
        "--local=/45.10.in-addr.arpa/",
        "--host-record=web.corp.test,10.45.0.1,fd45::1",
        "--cname=www.corp.test,alias.corp.test",
        "--cname=alias.corp.test,web.corp.test",
        "--mx-host=corp.test,mail.corp.test,10",
        "--host-record=mail.corp.test,10.45.0.25",
        "--txt-record=corp.test,v=spf1 -all",
        "--ptr-record=1.0.45.10.in-addr.arpa,web.corp.test",
        "--log-queries",
        "--log-dhcp",
        big.as_str(),
    ];
    args.extend_from_slice(extra);
    dnsmasq_on_tap(kernel, sw.dir(), &args)
}

fn log(sw: &VdeSwitch) -> String {
    std::fs::read_to_string(sw.dir().join("dnsmasq.log")).unwrap_or_default()
}

/// Waits until the stack's own resolver knows a server.
fn learned(stack: &Stack, sw: &VdeSwitch) -> Resolver {
    let r = Resolver::for_stack(stack);
    let start = Instant::now();
    while r.servers().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no DNS server learned in 30 s; dnsmasq said:\n{}",
            log(sw)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    r
}

fn start() -> Option<(VdeSwitch, KernelOnTap)> {
    ioth_tests::init_logging();
    let _ = ioth_smoltcp::NAME;
    let _ = ioth_kernel::NAME;
    if !require_tool("dnsmasq", "the resolver tests against dnsmasq") {
        return None;
    }
    let sw = VdeSwitch::start()?;
    let kernel = KernelOnTap::join(&sw.vnl(), &["10.45.0.1/24", "fd45::1/64"])?;
    Some((sw, kernel))
}

#[test]
fn a_smoltcp_stack_resolves_over_what_dhcp_told_it() {
    let Some((sw, kernel)) = start() else { return };
    let _dnsmasq = dnsmasq(
        &kernel,
        &sw,
        &[
            "--dhcp-range=10.45.0.50,10.45.0.99,255.255.255.0,2m",
            "--dhcp-option=option:dns-server,10.45.0.1",
            "--domain=corp.test",
        ],
    );
    let (stack, _) =
        Stack::from_config(&format!("stack=smoltcp,vnl={},eth,dhcp", sw.vnl())).unwrap();
    let r = learned(&stack, &sw);
    assert_eq!(r.servers(), ["10.45.0.1:53".parse::<SocketAddr>().unwrap()]);
    // The lease's domain name (option 15) is the search list: a one-label name resolves in it.
    assert!(
        r.search()
            .contains(&Name::from_ascii("corp.test.").unwrap()),
        "{:?}",
        r.search()
    );
    let ips = r.lookup_ip("web").unwrap();
    assert!(ips.contains(&IpAddr::from([10, 45, 0, 1])), "{ips:?}");

    // Addresses.
    let ips = r.lookup_ip("web.corp.test").unwrap();
    assert!(ips.contains(&IpAddr::from([10, 45, 0, 1])), "{ips:?}");
    assert!(
        ips.contains(&"fd45::1".parse::<IpAddr>().unwrap()),
        "{ips:?}"
    );
    // A chain of two CNAMEs.
    let www = r.lookup("www.corp.test.", RecordType::A).unwrap();
    assert_eq!(www.cname_chain().len(), 2, "{:?}", www.cname_chain());
    assert_eq!(
        www.canonical_name(),
        &Name::from_ascii("web.corp.test.").unwrap()
    );
    // MX, TXT, PTR.
    let mx = r.lookup("corp.test", RecordType::MX).unwrap();
    assert!(
        matches!(&mx.records()[0].data, RData::MX(m) if m.exchange.to_ascii() == "mail.corp.test.")
    );
    let txt = r.lookup("corp.test", RecordType::TXT).unwrap();
    assert!(matches!(&txt.records()[0].data, RData::TXT(t) if t.to_string().contains("spf1")));
    let names = r.reverse(IpAddr::from([10, 45, 0, 1])).unwrap();
    assert_eq!(names, [Name::from_ascii("web.corp.test.").unwrap()]);
    // NXDOMAIN and NODATA.
    let err = r.lookup("nope.corp.test.", RecordType::A).unwrap_err();
    assert!(matches!(err, ResolveError::NxDomain { .. }), "{err:?}");
    let err = r.lookup("mail.corp.test.", RecordType::AAAA).unwrap_err();
    assert!(matches!(err, ResolveError::NoData { .. }), "{err:?}");
    // Larger than 1232 bytes: truncated over UDP, then whole over TCP.
    let big = r.lookup("big.corp.test.", RecordType::TXT).unwrap();
    let RData::TXT(t) = &big.records()[0].data else {
        panic!("not TXT")
    };
    assert_eq!(t.txt_data.len(), 8);

    // A dead first server: its timeout, then the second.
    let r2 = Resolver::from_conf(
        &stack,
        "nameserver 10.45.0.99\nnameserver 10.45.0.1\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    let t0 = Instant::now();
    assert!(!r2.lookup_ip("web.corp.test").unwrap().is_empty());
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );

    // Connect by name: a kernel listener in the namespace, reached by its name.
    let ns_stack = Stack::new(&format!("kernel,netns={}", kernel.ns().name()), &[]).unwrap();
    let listener = TcpListener::bind_on(&ns_stack, "10.45.0.1:8080").unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"by name").unwrap();
    });
    let mut conn = TcpStream::connect_on(&stack, "web.corp.test:8080").unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got).unwrap();
    assert_eq!(got, "by name");
    server.join().unwrap();

    let queries = log(&sw);
    assert!(queries.contains("query[A] web.corp.test"), "{queries}");
}

#[test]
fn a_smoltcp_stack_resolves_over_the_server_router_advertisements_named() {
    let Some((sw, kernel)) = start() else { return };
    let _dnsmasq = dnsmasq(
        &kernel,
        &sw,
        &[
            "--enable-ra",
            "--dhcp-range=fd45::,ra-only,64,1h",
            "--dhcp-option=option6:dns-server,[fd45::1]",
            "--dhcp-option=option6:domain-search,corp.test",
        ],
    );
    let (stack, _) =
        Stack::from_config(&format!("stack=smoltcp,vnl={},eth,rd,slaac", sw.vnl())).unwrap();
    let r = learned(&stack, &sw);
    assert_eq!(r.servers(), ["[fd45::1]:53".parse::<SocketAddr>().unwrap()]);
    let start = Instant::now();
    let ips = loop {
        // The SLAAC address may come a moment after the RDNSS option.
        match r.lookup_ip("web") {
            Ok(ips) => break ips,
            Err(e) if start.elapsed() < Duration::from_secs(10) => {
                log::debug!("not yet: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("{e}; dnsmasq said:\n{}", log(&sw)),
        }
    };
    assert!(ips.contains(&IpAddr::from([10, 45, 0, 1])), "{ips:?}");
    assert_eq!(r.search(), [Name::from_ascii("corp.test.").unwrap()]);
    let queries = log(&sw);
    assert!(
        queries
            .lines()
            .any(|l| l.contains("query[AAAA] web.corp.test from fd45:")),
        "the query went over IPv6 to the advertised server:\n{queries}"
    );
}
