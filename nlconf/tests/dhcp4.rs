//! The DHCPv4 client state machine against scripted server messages.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use nlconf::client::{LocalTransport, NlClient};
use nlconf::dhcp::{
    Action, BOOTREPLY, Dhcp4Client, DhcpMessage, FLAG_BROADCAST, Lease, MessageType, State,
};
use nlconf::model::{ARPHRD_ETHER, Link, iff};
use nlconf::server::MemTables;
use proptest::prelude::*;

const MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x42];
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// The single message sent, parsed, and where to.
fn sent(actions: &[Action]) -> (Ipv4Addr, DhcpMessage) {
    let sends: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { dst, payload } => Some((*dst, DhcpMessage::parse(payload).unwrap())),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 1, "{actions:?}");
    sends.into_iter().next().unwrap()
}

fn reply(to: &DhcpMessage, t: MessageType, lease: u32) -> Vec<u8> {
    let mut m = DhcpMessage::new(BOOTREPLY, t, to.xid, to.chaddr);
    m.yiaddr = ADDR;
    m.server_id = Some(SERVER);
    m.subnet_mask = Some(Ipv4Addr::new(255, 255, 255, 0));
    m.routers = vec![SERVER];
    m.dns = vec![Ipv4Addr::new(10, 0, 0, 53)];
    m.domain = Some("lan".into());
    m.lease_time = Some(lease);
    m.emit()
}

/// Runs DISCOVER → OFFER → REQUEST → ACK and returns the client and the lease.
fn bound(lease_secs: u32) -> (Dhcp4Client, Lease) {
    let mut c = Dhcp4Client::new(MAC, 7, Some("node.example.org".into()));
    let (dst, discover) = sent(&c.start(s(0)));
    assert_eq!(dst, Ipv4Addr::BROADCAST);
    assert_eq!(discover.message_type, MessageType::Discover);
    assert_eq!(discover.flags, FLAG_BROADCAST);
    assert_eq!(discover.chaddr, MAC);
    assert_eq!(discover.hostname.as_deref(), Some("node"));
    assert_eq!(discover.fqdn.as_deref(), Some("node.example.org"));
    assert!(discover.params.contains(&3) && discover.params.contains(&6));
    assert_eq!(c.state(), State::Selecting);
    let (dst, request) = sent(&c.receive(s(1), &reply(&discover, MessageType::Offer, lease_secs)));
    assert_eq!(dst, Ipv4Addr::BROADCAST);
    assert_eq!(request.message_type, MessageType::Request);
    assert_eq!(
        (request.requested_ip, request.server_id, request.xid),
        (Some(ADDR), Some(SERVER), discover.xid)
    );
    assert_eq!(request.ciaddr, Ipv4Addr::UNSPECIFIED);
    let actions = c.receive(s(2), &reply(&request, MessageType::Ack, lease_secs));
    let [Action::Bound(lease)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(c.state(), State::Bound);
    (c, lease.clone())
}

#[test]
fn acquires_a_lease() {
    let (c, lease) = bound(3600);
    assert_eq!(
        (lease.addr, lease.prefix_len, lease.server),
        (ADDR, 24, SERVER)
    );
    assert_eq!(lease.routers, [SERVER]);
    assert_eq!(lease.dns, [Ipv4Addr::new(10, 0, 0, 53)]);
    assert_eq!(lease.domain.as_deref(), Some("lan"));
    assert_eq!((lease.t1, lease.t2), (s(1800), s(3150)));
    assert_eq!(c.next_deadline(), Some(s(2 + 1800)));
}

#[test]
fn renews_at_t1_with_the_server_and_rebinds_at_t2() {
    let (mut c, _) = bound(1000);
    assert!(c.poll(s(400)).is_empty(), "nothing before T1");
    let (dst, renew) = sent(&c.poll(s(502)));
    assert_eq!(c.state(), State::Renewing);
    assert_eq!(dst, SERVER, "renewal is unicast to the server");
    assert_eq!(
        (renew.message_type, renew.ciaddr, renew.requested_ip),
        (MessageType::Request, ADDR, None)
    );
    // no answer: retransmitted, then rebinding broadcast at T2 (875 s after acquisition)
    let mut now = s(502);
    let mut rebind = None;
    while rebind.is_none() {
        now = c.next_deadline().unwrap();
        let (dst, m) = sent(&c.poll(now));
        if c.state() == State::Rebinding {
            assert_eq!(dst, Ipv4Addr::BROADCAST);
            rebind = Some(m);
        } else {
            assert_eq!(dst, SERVER);
        }
    }
    assert_eq!(now, s(2 + 875), "rebinding starts exactly at T2");
    // the ACK renews the same lease: nothing to reconfigure
    let actions = c.receive(now, &reply(&rebind.unwrap(), MessageType::Ack, 1000));
    let [Action::Renewed(l)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(l.acquired, now);
    assert_eq!(c.state(), State::Bound);
}

#[test]
fn expiry_drops_the_lease_and_restarts() {
    let (mut c, lease) = bound(100);
    let mut now = s(0);
    let mut unbound = false;
    for _ in 0..20 {
        now = c.next_deadline().unwrap();
        let actions = c.poll(now);
        if actions.iter().any(|a| *a == Action::Unbound(lease.clone())) {
            unbound = true;
            let (_, m) = sent(&actions);
            assert_eq!(m.message_type, MessageType::Discover);
            break;
        }
    }
    assert!(unbound);
    assert_eq!(now, s(102));
    assert_eq!(c.state(), State::Selecting);
    assert!(c.lease().is_none());
}

#[test]
fn nak_and_stray_messages() {
    let (mut c, lease) = bound(1000);
    let (_, renew) = sent(&c.poll(s(502)));
    // another transaction, another client, garbage: ignored
    let mut other = DhcpMessage::parse(&reply(&renew, MessageType::Nak, 0)).unwrap();
    other.xid ^= 1;
    assert!(c.receive(s(503), &other.emit()).is_empty());
    other.xid ^= 1;
    other.chaddr = [2, 9, 9, 9, 9, 9];
    assert!(c.receive(s(503), &other.emit()).is_empty());
    assert!(c.receive(s(503), b"garbage").is_empty());
    let actions = c.receive(s(504), &reply(&renew, MessageType::Nak, 0));
    assert_eq!(actions[0], Action::Unbound(lease));
    assert_eq!(sent(&actions).1.message_type, MessageType::Discover);
}

#[test]
fn discover_is_retransmitted_with_backoff() {
    let mut c = Dhcp4Client::new(MAC, 1, None);
    c.start(s(0));
    let mut times = Vec::new();
    for _ in 0..6 {
        let d = c.next_deadline().unwrap();
        times.push(d.as_secs());
        assert_eq!(sent(&c.poll(d)).1.message_type, MessageType::Discover);
    }
    assert_eq!(times, [4, 12, 28, 60, 124, 188]);
}

#[test]
fn stop_releases_and_lease_installs_through_netlink() {
    let (mut c, lease) = bound(3600);
    let mut t = MemTables::with_loopback();
    t.insert_link(Link {
        index: 2,
        name: "vde0".into(),
        mac: MAC,
        mtu: 1500,
        flags: iff::UP | iff::RUNNING | iff::LOWER_UP,
        link_type: ARPHRD_ETHER,
        kind: None,
    });
    let nl = NlClient::new(LocalTransport::new(t, 1));
    lease.install(&nl, 2).unwrap();
    lease.install(&nl, 2).unwrap();
    assert!(
        nl.addrs()
            .unwrap()
            .iter()
            .any(|a| a.addr == IpAddr::V4(ADDR) && a.prefix_len == 24)
    );
    assert!(
        nl.routes()
            .unwrap()
            .iter()
            .any(|r| r.prefix_len == 0 && r.gateway == Some(IpAddr::V4(SERVER)))
    );
    let actions = c.stop(s(10));
    let (dst, release) = sent(&actions);
    assert_eq!(
        (dst, release.message_type, release.ciaddr),
        (SERVER, MessageType::Release, ADDR)
    );
    assert!(actions.contains(&Action::Unbound(lease.clone())));
    lease.remove(&nl, 2).unwrap();
    lease.remove(&nl, 2).unwrap();
    assert!(
        !nl.addrs()
            .unwrap()
            .iter()
            .any(|a| a.addr == IpAddr::V4(ADDR))
    );
    assert_eq!(c.state(), State::Idle);
    assert_eq!(c.next_deadline(), None);
}

proptest! {
    #[test]
    fn parser_and_client_survive_arbitrary_payloads(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = DhcpMessage::parse(&bytes);
        let mut c = Dhcp4Client::new(MAC, 1, None);
        c.start(s(0));
        let _ = c.receive(s(1), &bytes);
    }

    #[test]
    fn parser_survives_corrupted_valid_messages(pos in 236usize..300, val in any::<u8>()) {
        let mut m = DhcpMessage::new(BOOTREPLY, MessageType::Ack, 1, MAC);
        m.routers = vec![SERVER];
        m.domain = Some("lan".into());
        let mut b = m.emit();
        b[pos] = val;
        let _ = DhcpMessage::parse(&b);
    }
}
