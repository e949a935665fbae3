//! iothradvd on a smoltcp stack configures the project's own router discovery engine
//! (`rd,slaac` on another smoltcp stack of the same hub): SLAAC address, default router,
//! MTU, RDNSS servers and DNSSL search list; the answer to the engine's solicitation waits
//! for the service clock (a test clock here), the interval timer runs on it, and stopping
//! withdraws the default route.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth_service::clock::ManualClock;
use iothradvd::{Config, PrefixSpec, StackSpec};
use nlconf::hashaddr::eui64;

const T0: Duration = Duration::from_secs(1_750_000_000);
const ROUTER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x5a, 0x01];

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: not within 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn v6_addrs(stack: &Stack) -> Vec<Ipv6Addr> {
    stack
        .getifaddrs()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| match i.addr {
            ioth::config::IfaAddress::Ip(IpAddr::V6(a)) if i.name == "vde0" => Some(a),
            _ => None,
        })
        .collect()
}

fn default_routers(stack: &Stack) -> Vec<IpAddr> {
    stack
        .netlink()
        .and_then(|n| n.routes())
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.prefix_len == 0 && r.protocol == nlconf::model::RTPROT_RA)
        .filter_map(|r| r.gateway)
        .collect()
}

#[test]
fn the_rd_engine_takes_prefix_router_mtu_and_dns_from_our_advertisements() {
    ioth_tests::init_logging();
    ioth_service::link_backends!();
    let hub = format!("hub://@iothradvd-rd-{}", std::process::id());
    let mut config = Config::new(
        StackSpec::Vnl {
            vnl: hub.clone(),
            mac: Some(ROUTER_MAC),
        },
        "vde0",
        600,
    );
    let prefix: Ipv6Addr = "fd00:5a::".parse().expect("literal");
    config.advert.prefixes =
        vec![PrefixSpec::parse("fd00:5a::/64/LA/86400/14400").expect("prefix")];
    config.advert.mtu = Some(1400);
    config.advert.rdnss = vec![
        "fd00:5a::53".parse().expect("literal"),
        "fd00:5a::54".parse().expect("literal"),
    ];
    config.advert.dnssl = vec!["example.test".into(), "corp.test".into()];
    let clock = Arc::new(ManualClock::new(T0));
    let radvd = iothradvd::start(config, clock.clone()).expect("iothradvd starts");
    let router = radvd.stack();
    assert_eq!(
        router.link_mac(radvd.ifindex()).expect("mac"),
        ROUTER_MAC,
        "-m is the stack's MAC"
    );
    let router_ll = eui64("fe80::".parse().expect("literal"), ROUTER_MAC);
    // The first unsolicited advertisement goes at start (before anyone listens).
    wait_for("the first advertisement", || {
        radvd.counters().unsolicited == 1
    });

    let (client, report) =
        Stack::from_config(&format!("stack=smoltcp,vnl={hub},eth,rd,slaac")).expect("client");
    assert!(report.eth && report.rd, "{report:?}");
    let idx = client.if_nametoindex("vde0").expect("vde0");
    let slaac = eui64(prefix, client.link_mac(idx).expect("client mac"));

    // The engine solicits at start; the answer waits a random delay of service time.
    wait_for("the engine's solicitation", || {
        radvd.counters().solicitations >= 1
    });
    std::thread::sleep(iothradvd::TICK * 2);
    let c = radvd.counters();
    assert_eq!(
        (c.unicast, c.solicited_multicast),
        (0, 0),
        "no answer before the clock moves: {c:?}"
    );
    clock.advance(Duration::from_millis(500));
    wait_for("the unicast answer", || radvd.counters().unicast == 1);
    wait_for("the SLAAC address", || v6_addrs(&client).contains(&slaac));

    assert_eq!(default_routers(&client), vec![IpAddr::V6(router_ll)]);
    let link = client.netlink().expect("netlink").link(idx).expect("link");
    assert_eq!(link.mtu, 1400, "{link:?}");
    let resolv = client.resolv_conf(idx);
    assert!(
        resolv.contains("nameserver fd00:5a::53")
            && resolv.contains("nameserver fd00:5a::54")
            && resolv.contains("search example.test corp.test"),
        "{resolv}"
    );

    // The interval timer runs on the service clock: the second of the initial
    // advertisements is 16 s after the first.
    clock.advance(Duration::from_secs(15));
    std::thread::sleep(iothradvd::TICK * 2);
    assert_eq!(radvd.counters().unsolicited, 1, "not before 16 s");
    clock.advance(Duration::from_secs(1));
    wait_for("the second unsolicited advertisement", || {
        radvd.counters().unsolicited == 2
    });

    // Stopping sends router lifetime 0: the engine drops the default route at once.
    let c = radvd.counters();
    assert_eq!((c.discarded, c.send_errors), (0, 0), "{c:?}");
    drop(radvd);
    wait_for("the default route to go", || {
        default_routers(&client).is_empty()
    });
    assert!(v6_addrs(&client).contains(&slaac), "the prefix stays valid");
}
