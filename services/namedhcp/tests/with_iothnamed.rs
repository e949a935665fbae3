//! The naming layer together, as the seed talk tells it: iothnamed gives every name under
//! `hash.local` a hash address, iothradvd says the prefix is on-link and addresses come by
//! DHCPv6 (M flag), namedhcp leases a node the address DNS holds for its name, and the node,
//! configured with its name alone, ends up with that address and finds itself by name and by
//! reverse lookup over its own stack. All in one process on an in-process hub.

#![allow(clippy::unwrap_used, missing_docs)]

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::dns::{RecordType, Resolver};
use ioth::nlconf::client::IfaAddress;
use ioth_service::clock::SystemClock;
use namedhcp::{Config, Server6};

fn v6_addrs(s: &Stack) -> Vec<Ipv6Addr> {
    s.getifaddrs()
        .unwrap()
        .iter()
        .filter_map(|a| match a.addr {
            IfaAddress::Ip(IpAddr::V6(v)) => Some(v),
            _ => None,
        })
        .collect()
}

#[test]
fn a_node_named_h1_gets_its_hash_address_and_is_found_by_it() {
    ioth_service::link_backends!();
    let _ = env_logger::builder().is_test(true).try_init();
    let hub = format!("hub://@naming-{}", std::process::id());
    let named = iothnamed::spawn(iothnamed::Settings::new(
        format!(
            "stack stack=smoltcp,vnl={hub}\nstack eth,ip=fc00::24/64\n\
             net local fc00::/64\nauth static local hash.local\nstatic AAAA hash.local fc00::\n\
             auth hash local .hash.local hash.local\nauth hrev local hash.local/64\n"
        ),
        "naming.rc",
    ))
    .unwrap();
    let server_stack =
        ioth_service::stack::build(&[format!("stack=smoltcp,vnl={hub},eth,ip=fc00::ffff/64")])
            .unwrap();
    let dns = SocketAddr::new("fc00::24".parse().unwrap(), 53);
    let dhcp = namedhcp::spawn(Config {
        stack: server_stack.clone(),
        iface: "vde0".into(),
        resolver: Resolver::from_servers(&server_stack, &[dns]),
        server: Server6 {
            dns: vec!["fc00::24".parse().unwrap()],
            search: vec!["hash.local".into()],
            ..Server6::default()
        },
        mac: None,
        clock: Arc::new(SystemClock),
    })
    .unwrap();
    let mut ra = iothradvd::Config::new(
        iothradvd::StackSpec::Stack(server_stack.clone()),
        "vde0",
        600,
    );
    ra.advert.prefixes = vec![iothradvd::PrefixSpec::parse("fc00::/64/L").unwrap()];
    ra.advert.flags.managed = true;
    let _radvd = iothradvd::start(ra, Arc::new(SystemClock)).unwrap();
    let node = ioth_service::stack::build(&[format!(
        "stack=smoltcp,vnl={hub},eth,rd,dhcp6,fqdn=h1.hash.local"
    )])
    .unwrap();
    let want = nlconf::hashaddr::hashaddr("fc00::".parse().unwrap(), "h1.hash.local", None, 0);
    let start = Instant::now();
    while !v6_addrs(&node).contains(&want) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the node has {:?}, not {want}; namedhcp {:?}; iothnamed {}",
            v6_addrs(&node),
            dhcp.counters(),
            named.counters()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The node resolves over its own stack, with the server and search list it was given.
    let resolver = Resolver::for_stack(&node);
    assert_eq!(
        resolver.lookup_ip("h1").unwrap(),
        [IpAddr::V6(want)],
        "h1 under hash.local"
    );
    let back = resolver.lookup(
        &ioth::dns::Name::from(IpAddr::V6(want)).to_ascii(),
        RecordType::PTR,
    );
    let back = back.unwrap();
    let names: Vec<String> = back.records().iter().map(|r| r.data.to_string()).collect();
    assert_eq!(
        names,
        ["h1.hash.local."],
        "hrev knows the name namedhcp asked for"
    );
}
