//! Router discovery and SLAAC: the engine against scripted advertisements, and properties of
//! the advertisement parser over arbitrary input.

use std::net::Ipv6Addr;
use std::time::Duration;

use nlconf::hashaddr::{eui64, hashaddr};
use nlconf::ndisc::{
    Action, PrefixInfo, RouterAdvert, RouterDiscovery, RouterPreference, RouterSolicitation,
    router_solicitation,
};
use proptest::prelude::*;

const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

fn ip(s: &str) -> Ipv6Addr {
    s.parse().expect("address literal")
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn router() -> Ipv6Addr {
    ip("fe80::1")
}

fn prefix(p: &str, autonomous: bool, valid: u32, preferred: u32) -> PrefixInfo {
    PrefixInfo {
        prefix: ip(p),
        prefix_len: 64,
        on_link: false,
        autonomous,
        router_address: false,
        valid_lifetime: valid,
        preferred_lifetime: preferred,
    }
}

fn advert(lifetime: u16, prefixes: Vec<PrefixInfo>) -> Vec<u8> {
    RouterAdvert {
        cur_hop_limit: 64,
        router_lifetime: lifetime,
        source_mac: Some([2, 0, 0, 0, 0, 1]),
        prefixes,
        ..RouterAdvert::default()
    }
    .emit()
}

fn started(fqdn: Option<&str>, slaac: bool) -> RouterDiscovery {
    let mut rd = RouterDiscovery::new(MAC, fqdn.map(String::from), slaac);
    assert_eq!(rd.start(secs(0)), vec![Action::Solicit]);
    rd
}

#[test]
fn solicits_at_start_then_backs_off_until_an_advert_arrives() {
    let mut rd = started(None, true);
    assert_eq!(rd.next_deadline(), Some(secs(4)));
    assert!(rd.poll(secs(3)).is_empty(), "nothing before the deadline");
    assert_eq!(rd.poll(secs(4)), vec![Action::Solicit]);
    // The next interval doubles (8 s) with at most 10% jitter.
    let next = rd.next_deadline().expect("another solicitation") - secs(4);
    assert!(next >= Duration::from_millis(7200) && next <= Duration::from_millis(8800));
    // Intervals keep doubling up to an hour.
    let mut now = secs(4) + next;
    for _ in 0..20 {
        assert_eq!(rd.poll(now), vec![Action::Solicit]);
        now = rd.next_deadline().expect("soliciting");
    }
    let last = rd.next_deadline().expect("soliciting");
    assert_eq!(rd.poll(last), vec![Action::Solicit]);
    let interval = rd.next_deadline().expect("soliciting") - last;
    assert!(
        interval <= secs(3960) && interval >= secs(3240),
        "{interval:?}"
    );

    // An advertisement ends soliciting: only lifetimes are left to watch.
    rd.receive(now, router(), 255, &advert(1800, vec![]));
    assert_eq!(rd.next_deadline(), Some(now + secs(1800)));
}

#[test]
fn an_advert_gives_router_hash_address_mtu_dns_and_domains() {
    let mut rd = started(Some("node1.example.org"), true);
    let ra = RouterAdvert {
        cur_hop_limit: 64,
        router_lifetime: 1800,
        mtu: Some(1400),
        prefixes: vec![prefix("fd00:1:2:3::", true, 86400, 14400)],
        dns_servers: vec![(ip("fd00:1:2:3::53"), 600)],
        search_domains: vec![("example.org".into(), 600)],
        ..RouterAdvert::default()
    };
    let actions = rd.receive(secs(1), router(), 255, &ra.emit());
    let expected_addr = hashaddr(ip("fd00:1:2:3::"), "node1.example.org", None, 0);
    assert_eq!(
        actions,
        vec![
            Action::AddRouter(router()),
            Action::SetMtu(1400),
            Action::AddAddress {
                addr: expected_addr,
                prefix_len: 64
            },
        ]
    );
    assert_eq!(rd.addresses(), vec![expected_addr]);
    assert_eq!(rd.routers(), vec![router()]);
    assert_eq!(rd.dns_servers(), vec![ip("fd00:1:2:3::53")]);
    assert_eq!(rd.search_domains(), vec!["example.org".to_string()]);
    // The same advertisement again changes nothing.
    assert!(rd.receive(secs(2), router(), 255, &ra.emit()).is_empty());
    // DNS expires on its own lifetime.
    assert!(rd.poll(secs(602)).is_empty());
    assert!(rd.dns_servers().is_empty() && rd.search_domains().is_empty());
}

#[test]
fn without_a_name_the_host_part_is_the_eui64_of_the_mac() {
    let mut rd = started(None, true);
    let actions = rd.receive(
        secs(0),
        router(),
        255,
        &advert(0, vec![prefix("2001:db8:1::", true, 600, 300)]),
    );
    assert_eq!(
        actions,
        vec![Action::AddAddress {
            addr: eui64(ip("2001:db8:1::"), MAC),
            prefix_len: 64
        }]
    );
    assert!(
        rd.routers().is_empty(),
        "router lifetime 0: not a default router"
    );
}

#[test]
fn addresses_need_slaac_a_64_bit_prefix_and_the_a_flag_or_a_name() {
    let mut rd = started(None, false);
    let ra = advert(1800, vec![prefix("fd00:1::", true, 600, 300)]);
    assert_eq!(
        rd.receive(secs(0), router(), 255, &ra),
        vec![Action::AddRouter(router())],
        "rd without slaac learns routers only"
    );

    let mut rd = started(None, true);
    let mut p48 = prefix("fd00:2::", true, 600, 300);
    p48.prefix_len = 48;
    let no_a = prefix("fd00:3::", false, 600, 300);
    let backwards = prefix("fd00:4::", true, 300, 600);
    let link_local = prefix("fe80::", true, 600, 300);
    let ra = advert(0, vec![p48, no_a.clone(), backwards, link_local]);
    assert!(rd.receive(secs(0), router(), 255, &ra).is_empty());

    // With a name, a prefix without the A flag is used too (iothconf's rule).
    let mut rd = started(Some("named"), true);
    assert_eq!(
        rd.receive(secs(0), router(), 255, &advert(0, vec![no_a])),
        vec![Action::AddAddress {
            addr: hashaddr(ip("fd00:3::"), "named", None, 0),
            prefix_len: 64
        }]
    );
}

#[test]
fn adverts_failing_the_validity_checks_are_ignored() {
    let mut rd = started(None, true);
    let ra = advert(1800, vec![prefix("fd00:1::", true, 600, 300)]);
    assert!(
        rd.receive(secs(0), router(), 254, &ra).is_empty(),
        "hop limit"
    );
    assert!(
        rd.receive(secs(0), ip("fd00::1"), 255, &ra).is_empty(),
        "global source"
    );
    assert!(
        rd.receive(secs(0), router(), 255, &ra[..ra.len() - 3])
            .is_empty(),
        "truncated"
    );
    assert_eq!(rd.next_deadline(), Some(secs(4)), "still soliciting");
    let mut stopped = RouterDiscovery::new(MAC, None, true);
    assert!(stopped.receive(secs(0), router(), 255, &ra).is_empty());
    assert_eq!(stopped.next_deadline(), None);
}

#[test]
fn lifetimes_expire_and_soliciting_starts_again() {
    let mut rd = started(None, true);
    let addr = eui64(ip("fd00:1::"), MAC);
    rd.receive(
        secs(10),
        router(),
        255,
        &advert(100, vec![prefix("fd00:1::", true, 300, 200)]),
    );
    assert_eq!(rd.next_deadline(), Some(secs(110)));
    assert_eq!(rd.poll(secs(110)), vec![Action::RemoveRouter(router())]);
    assert_eq!(rd.preferred_addresses(secs(209)), vec![addr]);
    assert!(rd.preferred_addresses(secs(210)).is_empty(), "deprecated");
    assert_eq!(rd.next_deadline(), Some(secs(310)));
    assert_eq!(
        rd.poll(secs(310)),
        vec![
            Action::RemoveAddress {
                addr,
                prefix_len: 64
            },
            Action::Solicit
        ],
        "with nothing left, the node looks for routers again"
    );
    assert_eq!(rd.next_deadline(), Some(secs(314)));
}

#[test]
fn a_router_lifetime_of_zero_withdraws_the_router() {
    let mut rd = started(None, false);
    rd.receive(secs(0), router(), 255, &advert(1800, vec![]));
    assert_eq!(
        rd.receive(secs(5), router(), 255, &advert(0, vec![])),
        vec![Action::RemoveRouter(router())]
    );
    assert!(rd.routers().is_empty());
}

#[test]
fn an_advert_cannot_cut_a_valid_lifetime_below_two_hours() {
    let mut rd = started(None, true);
    let addr = eui64(ip("fd00:1::"), MAC);
    rd.receive(
        secs(0),
        router(),
        255,
        &advert(0, vec![prefix("fd00:1::", true, 86400, 86400)]),
    );
    // A spoofed short lifetime is raised to two hours (RFC 4862 §5.5.3 e).
    rd.receive(
        secs(100),
        router(),
        255,
        &advert(0, vec![prefix("fd00:1::", true, 60, 60)]),
    );
    assert_eq!(rd.next_deadline(), Some(secs(7300)));
    assert!(rd.poll(secs(7299)).is_empty());
    assert_eq!(
        rd.poll(secs(7300)),
        vec![
            Action::RemoveAddress {
                addr,
                prefix_len: 64
            },
            Action::Solicit
        ]
    );
    // Within the last two hours a shorter lifetime is ignored, a longer one taken.
    let mut rd = started(None, true);
    rd.receive(
        secs(0),
        router(),
        255,
        &advert(0, vec![prefix("fd00:1::", true, 3600, 3600)]),
    );
    rd.receive(
        secs(10),
        router(),
        255,
        &advert(0, vec![prefix("fd00:1::", true, 60, 60)]),
    );
    assert_eq!(rd.next_deadline(), Some(secs(3600)));
    rd.receive(
        secs(20),
        router(),
        255,
        &advert(0, vec![prefix("fd00:1::", true, 4000, 60)]),
    );
    assert_eq!(rd.next_deadline(), Some(secs(4020)));
}

#[test]
fn on_link_prefixes_are_reported_and_expire_without_slaac_too() {
    let mut rd = started(None, false);
    let mut p = prefix("fd00:7:0:0:ffff::", false, 100, 100);
    p.on_link = true;
    p.prefix_len = 48;
    let on_link = Action::OnLink {
        prefix: ip("fd00:7::"),
        prefix_len: 48,
    };
    assert_eq!(
        rd.receive(secs(0), router(), 255, &advert(0, vec![p.clone()])),
        vec![on_link.clone()],
        "host bits cleared"
    );
    assert_eq!(rd.on_link_prefixes(), vec![(ip("fd00:7::"), 48)]);
    assert_eq!(rd.on_link_prefix_len(ip("fd00:7:0:1::5")), Some(48));
    assert_eq!(rd.on_link_prefix_len(ip("fd00:8::5")), None);
    // Refreshed, not repeated; then it expires.
    assert!(
        rd.receive(secs(50), router(), 255, &advert(0, vec![p.clone()]))
            .is_empty()
    );
    assert_eq!(rd.next_deadline(), Some(secs(150)));
    let off_link = Action::OffLink {
        prefix: ip("fd00:7::"),
        prefix_len: 48,
    };
    assert_eq!(rd.poll(secs(150)), vec![off_link.clone()]);
    // A valid lifetime of 0 withdraws it at once.
    rd.receive(secs(200), router(), 255, &advert(0, vec![p.clone()]));
    p.valid_lifetime = 0;
    p.preferred_lifetime = 0;
    assert_eq!(
        rd.receive(secs(201), router(), 255, &advert(0, vec![p])),
        vec![off_link]
    );
    assert!(rd.on_link_prefixes().is_empty());
}

#[test]
fn stop_removes_what_was_added() {
    let mut rd = started(None, true);
    let addr = eui64(ip("fd00:1::"), MAC);
    rd.receive(
        secs(0),
        router(),
        255,
        &advert(1800, vec![prefix("fd00:1::", true, 600, 300)]),
    );
    assert_eq!(
        rd.stop(secs(1)),
        vec![
            Action::RemoveAddress {
                addr,
                prefix_len: 64
            },
            Action::RemoveRouter(router())
        ]
    );
    assert!(!rd.is_running());
    assert_eq!(rd.next_deadline(), None);
    assert!(rd.poll(secs(10)).is_empty());
}

#[test]
fn infinite_lifetimes_never_expire() {
    let mut rd = started(None, true);
    rd.receive(
        secs(0),
        router(),
        255,
        &advert(0, vec![prefix("fd00:1::", true, u32::MAX, u32::MAX)]),
    );
    assert_eq!(rd.next_deadline(), None);
    assert!(rd.poll(secs(10_000_000)).is_empty());
    assert_eq!(rd.addresses().len(), 1);
}

fn arb_label() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,20}"
}

fn arb_advert() -> impl Strategy<Value = RouterAdvert> {
    let prefix = (
        any::<u128>(),
        0u8..=128,
        any::<bool>(),
        any::<bool>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(|(p, len, l, a, v, pr, r)| PrefixInfo {
            prefix: Ipv6Addr::from(p),
            prefix_len: len,
            on_link: l,
            autonomous: a,
            router_address: r,
            valid_lifetime: v,
            preferred_lifetime: pr,
        });
    (
        (
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
        ),
        (any::<bool>(), 0u8..3, any::<bool>()),
        proptest::option::of(any::<[u8; 6]>()),
        proptest::option::of(any::<u32>()),
        proptest::collection::vec(prefix, 0..4),
        proptest::collection::vec((any::<u128>().prop_map(Ipv6Addr::from), 1u32..), 0..4),
        proptest::collection::vec(
            (proptest::collection::vec(arb_label(), 1..4), any::<u32>()),
            0..3,
        ),
    )
        .prop_map(|(h, x, mac, mtu, prefixes, dns, domains)| RouterAdvert {
            cur_hop_limit: h.0,
            managed: h.1,
            other_config: h.2,
            home_agent: x.0,
            preference: [
                RouterPreference::Medium,
                RouterPreference::High,
                RouterPreference::Low,
            ][usize::from(x.1)],
            proxy: x.2,
            router_lifetime: h.3,
            reachable_time: h.4,
            retrans_timer: h.5,
            source_mac: mac,
            mtu,
            prefixes,
            dns_servers: dns,
            search_domains: domains
                .into_iter()
                .map(|(labels, l)| (labels.join("."), l))
                .collect(),
        })
}

proptest! {
    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = RouterAdvert::parse(&bytes);
    }

    #[test]
    fn parsing_after_a_valid_header_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut msg = RouterAdvert::default().emit();
        msg.extend_from_slice(&tail);
        if let Ok(ra) = RouterAdvert::parse(&msg) {
            // What parses re-emits to something that parses the same.
            prop_assert_eq!(RouterAdvert::parse(&ra.emit()), Ok(ra));
        }
    }

    #[test]
    fn solicitations_parse_or_name_their_fault(
        tail in proptest::collection::vec(any::<u8>(), 0..64),
        mac in any::<[u8; 6]>(),
    ) {
        let _ = RouterSolicitation::parse(&tail);
        let mut msg = router_solicitation(ip("fe80::1"), mac);
        prop_assert_eq!(
            RouterSolicitation::parse(&msg),
            Ok(RouterSolicitation { source_mac: Some(mac) })
        );
        msg.extend_from_slice(&tail);
        match RouterSolicitation::parse(&msg) {
            // Later options may carry another link-layer address; the message stays valid.
            Ok(rs) => prop_assert!(rs.source_mac.is_some()),
            Err(e) => prop_assert_eq!(e.message, "router solicitation"),
        }
    }

    #[test]
    fn emit_then_parse_is_the_identity(ra in arb_advert()) {
        prop_assert_eq!(RouterAdvert::parse(&ra.emit()), Ok(ra));
    }

    #[test]
    fn the_engine_takes_arbitrary_input_without_panicking(
        msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..8),
        ras in proptest::collection::vec(arb_advert(), 0..4),
    ) {
        let mut rd = RouterDiscovery::new(MAC, Some("n".into()), true);
        rd.start(secs(0));
        let mut now = secs(0);
        let mut inputs: Vec<Vec<u8>> = msgs
            .iter()
            .map(|m| [&[134u8, 0, 0, 0][..], m].concat())
            .collect();
        inputs.extend(ras.iter().map(RouterAdvert::emit));
        for msg in inputs {
            rd.receive(now, router(), 255, &msg);
            now += secs(1000);
            rd.poll(now);
            prop_assert!(rd.next_deadline().is_none_or(|d| d > now), "nothing due after a poll");
        }
    }
}

#[test]
fn prefixes_that_cannot_hold_host_addresses_are_ignored() {
    // A crafted advertisement (RFC 4862 5.5.3 ignores the link-local prefix; multicast,
    // unspecified, loopback and IPv4-mapped prefixes cannot hold unicast addresses): no
    // address and no on-link prefix from them, the valid prefix beside them is used.
    let mut rd = started(None, true);
    let mut bad: Vec<PrefixInfo> = ["ff02::", "::", "fe80::", "::1", "::ffff:10.0.0.0"]
        .iter()
        .map(|p| {
            let mut p = prefix(p, true, 3600, 1800);
            p.on_link = true;
            p
        })
        .collect();
    let mut good = prefix("2001:db8:7::", true, 3600, 1800);
    good.on_link = true;
    bad.push(good);
    let actions = rd.receive(secs(1), router(), 255, &advert(0, bad));
    let want = eui64(ip("2001:db8:7::"), MAC);
    let addrs: Vec<Ipv6Addr> = actions
        .iter()
        .filter_map(|a| match a {
            Action::AddAddress { addr, .. } => Some(*addr),
            _ => None,
        })
        .collect();
    assert_eq!(addrs, vec![want], "{actions:?}");
    let on_link: Vec<Ipv6Addr> = actions
        .iter()
        .filter_map(|a| match a {
            Action::OnLink { prefix, .. } => Some(*prefix),
            _ => None,
        })
        .collect();
    assert_eq!(on_link, vec![ip("2001:db8:7::")], "{actions:?}");
}
