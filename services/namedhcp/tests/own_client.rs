//! namedhcp against the project's own DHCPv6 client (nlconf's engine in the smoltcp stack,
//! `dhcp6,fqdn=NAME`), all in one process on an in-process hub, with the DNS served by an
//! `ioth_dns::StaticZone`: a client whose name DNS knows gets that address; one whose name
//! it does not know gets none.

#![allow(clippy::unwrap_used, missing_docs)]

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::dns::Resolver;
use ioth::nlconf::client::IfaAddress;
use ioth_dns::{Server, ServerConfig, StaticZone};
use ioth_service::clock::SystemClock;
use namedhcp::{Config, Server6};

/// How long a test waits for something that must happen (liveness, not speed).
const PATIENCE: Duration = Duration::from_secs(15);

const ZONE: &str = "$TTL 60
@      IN SOA ns hostmaster 1 3600 600 86400 60
ns     IN AAAA 2001:db8::53
host1  IN AAAA 2001:db8::42
";

fn stack(line: &str) -> Stack {
    ioth_service::stack::build(&[line.to_string()]).expect(line)
}

fn v6_addrs(s: &Stack) -> Vec<Ipv6Addr> {
    s.getifaddrs()
        .expect("getifaddrs")
        .iter()
        .filter_map(|a| match a.addr {
            IfaAddress::Ip(IpAddr::V6(v)) => Some(v),
            _ => None,
        })
        .collect()
}

struct Net {
    hub: String,
    _dns_stack: Stack,
    _dns: ioth_dns::ServerHandle,
    server: namedhcp::Handle,
    _server_stack: Stack,
}

fn net(tag: &str) -> Net {
    ioth_service::link_backends!();
    let _ = env_logger::builder().is_test(true).try_init();
    let hub = format!("hub://@namedhcp-{tag}-{}", std::process::id());
    let dns_stack = stack(&format!("stack=smoltcp,vnl={hub},eth,ip=2001:db8::53/64"));
    let zone = StaticZone::parse(ZONE, Some("example.test.")).expect("zone");
    let dns = Server::bind(
        &dns_stack,
        ServerConfig {
            addrs: vec!["[::]:53".parse().unwrap()],
            ..ServerConfig::default()
        },
        zone,
    )
    .expect("DNS server");
    let server_stack = stack(&format!("stack=smoltcp,vnl={hub},eth,ip=2001:db8::547/64"));
    let resolver = Resolver::from_servers(
        &server_stack,
        &[SocketAddr::new("2001:db8::53".parse().unwrap(), 53)],
    );
    let server = namedhcp::spawn(Config {
        stack: server_stack.clone(),
        iface: "vde0".into(),
        resolver,
        server: Server6 {
            dns: vec!["2001:db8::53".parse().unwrap()],
            search: vec!["example.test".into()],
            ..Server6::default()
        },
        mac: None,
        clock: Arc::new(SystemClock),
    })
    .expect("namedhcp");
    Net {
        hub,
        _dns_stack: dns_stack,
        _dns: dns,
        server,
        _server_stack: server_stack,
    }
}

#[test]
fn a_known_name_gets_the_address_dns_holds() {
    let net = net("known");
    let client = stack(&format!(
        "stack=smoltcp,vnl={},eth,dhcp6,fqdn=host1.example.test",
        net.hub
    ));
    let want: Ipv6Addr = "2001:db8::42".parse().unwrap();
    let start = Instant::now();
    while !v6_addrs(&client).contains(&want) {
        assert!(
            start.elapsed() < PATIENCE,
            "no {want} on the client after {PATIENCE:?}: {:?}; server {:?}",
            v6_addrs(&client),
            net.server.counters()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let c = net.server.counters();
    // Solicit → Advertise, Request → Reply.
    assert!(c.replied >= 2, "{c:?}");
    // The DNS server and search list offered came with the lease.
    let conf = client.resolv_conf(client.if_nametoindex("vde0").unwrap());
    assert!(conf.contains("nameserver 2001:db8::53"), "{conf}");
    assert!(conf.contains("example.test"), "{conf}");
}

#[test]
fn a_name_dns_does_not_know_gets_no_address() {
    let net = net("unknown");
    let client = stack(&format!(
        "stack=smoltcp,vnl={},eth,dhcp6,fqdn=nobody.example.test",
        net.hub
    ));
    // Wait until the server has seen (and ignored) two Solicits from it, retransmission
    // included, then check that the client has no address of the prefix.
    let start = Instant::now();
    while net.server.counters().ignored < 2 {
        assert!(
            start.elapsed() < PATIENCE,
            "the server saw no Solicit: {:?}",
            net.server.counters()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let c = net.server.counters();
    assert_eq!(c.replied, 0, "{c:?}");
    let addrs = v6_addrs(&client);
    assert!(
        !addrs.iter().any(|a| a.segments()[0] == 0x2001),
        "an address was given: {addrs:?}"
    );
}
