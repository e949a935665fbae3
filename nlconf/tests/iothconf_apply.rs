//! Configuration strings performed on a stack (in-memory tables behind the netlink processor).
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::io;
use std::net::IpAddr;

use nlconf::client::{LocalTransport, NlClient};
use nlconf::hashaddr::hashmac;
use nlconf::iothconf::{
    AutoConf, ConfState, Config, Mode, NoAutoConf, Protocol, StaticItem, apply,
};
use nlconf::model::{ARPHRD_ETHER, Link, iff};
use nlconf::server::MemTables;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn stack() -> NlClient<LocalTransport<MemTables>> {
    let mut t = MemTables::with_loopback();
    t.insert_link(Link {
        index: 2,
        name: "vde0".into(),
        mac: [2, 0, 0, 0, 0, 9],
        mtu: 1500,
        flags: iff::BROADCAST | iff::MULTICAST,
        link_type: ARPHRD_ETHER,
        kind: Some("vde".into()),
    });
    NlClient::new(LocalTransport::new(t, 1))
}

#[derive(Default)]
struct Recorder {
    calls: Vec<String>,
}

impl AutoConf for Recorder {
    fn start(
        &mut self,
        p: Protocol,
        ifindex: u32,
        fqdn: Option<&str>,
        slaac: bool,
    ) -> io::Result<()> {
        self.calls
            .push(format!("start {p:?} {ifindex} {fqdn:?} {slaac}"));
        Ok(())
    }
    fn stop(&mut self, p: Protocol, ifindex: u32) -> io::Result<()> {
        self.calls.push(format!("stop {p:?} {ifindex}"));
        Ok(())
    }
}

fn run(
    c: &NlClient<LocalTransport<MemTables>>,
    s: &str,
    st: &mut ConfState,
    e: &mut dyn AutoConf,
) -> nlconf::iothconf::Report {
    apply(&Config::parse(s, Mode::Running).unwrap(), c, st, e).unwrap()
}

#[test]
fn static_configuration_and_resolv_conf() {
    let c = stack();
    let mut st = ConfState::new();
    let r = run(
        &c,
        "eth,mac=02:aa:00:00:00:01,ip=10.0.0.1/24,ip=2001:db8::1,gw=10.0.0.254,gw=2001:db8::fe,dns=10.0.0.53,dns=2001:db8::53,domain=example.org,domain=example.org",
        &mut st,
        &mut NoAutoConf,
    );
    assert!(r.eth && r.static_ && r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.ifindex, Some(2));
    assert_eq!(c.link_get_mac(2).unwrap(), [2, 0xaa, 0, 0, 0, 1]);
    assert!(c.link(2).unwrap().is_up());
    let addrs = c.addrs().unwrap();
    assert!(
        addrs
            .iter()
            .any(|a| a.addr == ip("10.0.0.1") && a.prefix_len == 24)
    );
    assert!(
        addrs
            .iter()
            .any(|a| a.addr == ip("2001:db8::1") && a.prefix_len == 64)
    );
    let routes = c.routes().unwrap();
    assert!(
        routes
            .iter()
            .any(|r| r.prefix_len == 0 && r.gateway == Some(ip("10.0.0.254")))
    );
    assert!(
        routes
            .iter()
            .any(|r| r.prefix_len == 0 && r.gateway == Some(ip("2001:db8::fe")))
    );
    assert_eq!(
        r.resolv_conf,
        "search example.org\nnameserver 2001:db8::53\nnameserver 10.0.0.53\n"
    );
    // applying the same string again changes nothing and fails nothing
    let again = run(&c, "ip=10.0.0.1/24,gw=10.0.0.254", &mut st, &mut NoAutoConf);
    assert!(again.added.is_empty() && again.failed.is_empty() && again.static_);
}

#[test]
fn undo_forms_remove_what_was_configured() {
    let c = stack();
    let mut st = ConfState::new();
    run(
        &c,
        "eth,ip=10.0.0.1/24,ip=10.0.1.1/24,gw=10.0.0.254,dns=10.0.0.53,domain=a.org",
        &mut st,
        &mut NoAutoConf,
    );
    let r = run(
        &c,
        "-ip=10.0.1.1/24,-dns=10.0.0.53",
        &mut st,
        &mut NoAutoConf,
    );
    assert_eq!(
        r.removed,
        vec![
            StaticItem::Addr(ip("10.0.1.1"), 24),
            StaticItem::Dns(ip("10.0.0.53"))
        ]
    );
    assert!(!c.addrs().unwrap().iter().any(|a| a.addr == ip("10.0.1.1")));
    assert_eq!(r.resolv_conf, "search a.org\n");
    let r = run(&c, "-gw=10.0.0.254", &mut st, &mut NoAutoConf);
    assert!(r.failed.is_empty());
    assert!(!c.routes().unwrap().iter().any(|r| r.prefix_len == 0));
    let r = run(&c, "-static", &mut st, &mut NoAutoConf);
    assert!(!c.addrs().unwrap().iter().any(|a| a.index == 2));
    assert_eq!(r.resolv_conf, "");
    assert!(st.static_items(2).is_empty());
    run(&c, "-eth", &mut st, &mut NoAutoConf);
    assert!(!c.link(2).unwrap().is_up());
}

#[test]
fn eth_with_fqdn_uses_the_hash_mac() {
    let c = stack();
    let r = run(
        &c,
        "eth,fqdn=test.v2.cs.unibo.it",
        &mut ConfState::new(),
        &mut NoAutoConf,
    );
    assert_eq!(r.mac, Some(hashmac("test.v2.cs.unibo.it", None)));
    assert_eq!(
        c.link_get_mac(2).unwrap(),
        [0x6a, 0xd6, 0x2f, 0x5a, 0x5a, 0x2e]
    );
}

#[test]
fn protocols_go_to_the_stack_engines_in_order() {
    let c = stack();
    let mut rec = Recorder::default();
    let r = run(
        &c,
        "auto,slaac,fqdn=h.example.org",
        &mut ConfState::new(),
        &mut rec,
    );
    assert!(r.eth && r.rd && r.dhcp6 && r.dhcp);
    assert_eq!(
        rec.calls,
        [
            "start Rd 2 Some(\"h.example.org\") true",
            "start Dhcp6 2 Some(\"h.example.org\") true",
            "start Dhcp4 2 Some(\"h.example.org\") true"
        ]
    );
    let mut rec = Recorder::default();
    run(&c, "-auto4", &mut ConfState::new(), &mut rec);
    assert_eq!(rec.calls, ["stop Dhcp4 2"]);
    // without engines the protocols are reported as failed with ENOSYS, the rest is done
    let r = run(
        &c,
        "auto4,ip=10.0.0.1/24",
        &mut ConfState::new(),
        &mut NoAutoConf,
    );
    assert!(r.eth && r.static_ && !r.dhcp);
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].0, "dhcp");
    assert_eq!(r.failed[0].1.raw_os_error(), Some(libc::ENOSYS));
}

#[test]
fn learned_dns_joins_resolv_conf() {
    let c = stack();
    let mut st = ConfState::new();
    run(&c, "dns=10.0.0.53", &mut st, &mut NoAutoConf);
    st.set_learned(
        2,
        Protocol::Dhcp4,
        vec![ip("192.168.1.1")],
        vec!["lan".into()],
    );
    st.set_learned(
        2,
        Protocol::Dhcp6,
        vec![ip("fd00::1")],
        vec!["lan".into(), "v6.lan".into()],
    );
    assert_eq!(
        st.resolv_conf(2),
        "search lan v6.lan\nnameserver 10.0.0.53\nnameserver fd00::1\nnameserver 192.168.1.1\n"
    );
}

#[test]
fn interface_selection_and_failures() {
    let c = stack();
    let mut st = ConfState::new();
    let e = apply(
        &Config::parse("eth,iface=nope", Mode::Running).unwrap(),
        &c,
        &mut st,
        &mut NoAutoConf,
    )
    .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    let e = apply(
        &Config::parse("eth,ifindex=77", Mode::Running).unwrap(),
        &c,
        &mut st,
        &mut NoAutoConf,
    )
    .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    let r = run(&c, "ifindex=2,eth,gw=10.9.9.9", &mut st, &mut NoAutoConf);
    assert!(r.eth && !r.static_);
    assert_eq!(r.failed[0].0, "gw=10.9.9.9");
    assert_eq!(r.failed[0].1.raw_os_error(), Some(libc::ENETUNREACH));
    // nothing to configure: no interface needed
    let r = run(&c, "", &mut st, &mut NoAutoConf);
    assert_eq!(r.ifindex, None);
    // debug describes the result
    let r = run(
        &c,
        "iface=vde0,ip=10.3.0.1/16,debug",
        &mut st,
        &mut NoAutoConf,
    );
    let d = r.description.unwrap();
    assert!(d.contains("vde0") && d.contains("addr 10.3.0.1/16"), "{d}");
}
