//! The request processor, message by message: every type, flag and error path.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::net::IpAddr;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::RouteMessage;
use nlconf::client::{LocalTransport, NlClient};
use nlconf::model::{IfAddr, Link, Neighbour, Route, iff};
use nlconf::rtnl::{self, RawHeader, flags::*, rtm};
use nlconf::server::{DUMP_DATAGRAM, MemTables, NlEndpoint, Tables, process, process_datagrams};

const PID: u32 = 4242;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Tables with lo (1) and an up Ethernet link "eth0" (2) holding 10.0.0.1/24 and 2001:db8::1/64.
fn tables() -> MemTables {
    let mut t = MemTables::with_loopback();
    t.insert_link(Link {
        index: 2,
        name: "eth0".into(),
        mac: [2, 0, 0, 0, 0, 2],
        mtu: 1500,
        flags: iff::BROADCAST | iff::MULTICAST,
        link_type: nlconf::model::ARPHRD_ETHER,
        kind: Some("vde".into()),
    });
    let c = NlClient::new(LocalTransport::new(t, PID));
    c.link_set_up(2, true).unwrap();
    c.ipaddr_add(ip("10.0.0.1"), 24, 2).unwrap();
    c.ipaddr_add(ip("2001:db8::1"), 64, 2).unwrap();
    c.transport().with_tables(|t| t.clone())
}

fn client() -> NlClient<LocalTransport<MemTables>> {
    NlClient::new(LocalTransport::new(tables(), PID))
}

/// Reply messages as (header, errno-or-None, parsed inner).
struct Reply {
    hdr: RawHeader,
    bytes: Vec<u8>,
}

impl Reply {
    fn error(&self) -> Option<i32> {
        (self.hdr.ty == NLMSG_ERROR)
            .then(|| i32::from_ne_bytes(self.bytes[16..20].try_into().unwrap()))
    }
    fn inner(&self) -> Option<RouteNetlinkMessage> {
        match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.bytes)
            .ok()?
            .payload
        {
            NetlinkPayload::InnerMessage(m) => Some(m),
            _ => None,
        }
    }
}

fn replies(bytes: &[u8]) -> Vec<Reply> {
    let all: Vec<Reply> = rtnl::messages(bytes)
        .map(|(hdr, m)| Reply {
            hdr,
            bytes: m.to_vec(),
        })
        .collect();
    // every reply is well formed and aligned: the messages cover the buffer exactly
    let covered: usize = all.iter().map(|r| rtnl::align4(r.hdr.len as usize)).sum();
    assert_eq!(covered, bytes.len(), "replies must tile the buffer");
    all
}

fn run(t: &mut MemTables, msg: RouteNetlinkMessage, flags: u16, seq: u32) -> Vec<Reply> {
    let req = rtnl::encode(msg, flags, seq, 0);
    replies(&process(t, &req, PID))
}

fn new_addr(index: u32, addr: &str, prefix: u8) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewAddress(rtnl::addr_message(
        &IfAddr {
            index,
            addr: ip(addr),
            prefix_len: prefix,
        },
        None,
    ))
}

fn errno_of(r: std::io::Result<impl std::fmt::Debug>) -> i32 {
    r.expect_err("expected an error").raw_os_error().unwrap()
}

#[test]
fn ack_only_when_asked_and_header_echoed() {
    let mut t = tables();
    let silent = run(
        &mut t,
        new_addr(2, "10.0.0.7", 24),
        NLM_F_REQUEST | NLM_F_CREATE,
        11,
    );
    assert!(silent.is_empty(), "no ack without NLM_F_ACK");
    let req = rtnl::encode(
        new_addr(2, "10.0.0.8", 24),
        NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK,
        12,
        777,
    );
    let r = replies(&process(&mut t, &req, PID));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].error(), Some(0));
    assert_eq!(
        (r[0].hdr.seq, r[0].hdr.pid, r[0].hdr.flags),
        (12, PID, NLM_F_CAPPED)
    );
    // the ack carries the request header only
    assert_eq!(r[0].hdr.len as usize, 16 + 4 + 16);
    assert_eq!(&r[0].bytes[20..36], &req[..16]);
}

#[test]
fn error_carries_the_whole_request_and_errno() {
    let mut t = tables();
    let req = rtnl::encode(new_addr(99, "10.0.0.9", 24), NLM_F_REQUEST, 5, 0);
    let r = replies(&process(&mut t, &req, PID));
    assert_eq!(r.len(), 1, "errors are reported even without NLM_F_ACK");
    assert_eq!(r[0].error(), Some(-libc::ENODEV));
    assert_eq!((r[0].hdr.seq, r[0].hdr.pid, r[0].hdr.flags), (5, PID, 0));
    assert_eq!(&r[0].bytes[20..], &req[..]);
}

#[test]
fn several_messages_per_buffer_answered_in_order() {
    let mut t = tables();
    let mut buf = rtnl::encode(
        new_addr(2, "10.0.0.20", 24),
        NLM_F_REQUEST | NLM_F_ACK,
        1,
        0,
    );
    buf.extend(rtnl::encode(
        new_addr(2, "10.0.0.20", 24),
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL,
        2,
        0,
    ));
    buf.extend(rtnl::encode(
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
        NLM_F_REQUEST | NLM_F_DUMP,
        3,
        0,
    ));
    let r = replies(&process(&mut t, &buf, PID));
    assert_eq!(r[0].error(), Some(0));
    assert_eq!(r[0].hdr.seq, 1);
    assert_eq!(r[1].error(), Some(-libc::EEXIST));
    assert_eq!(r[1].hdr.seq, 2);
    assert!(r[2..].iter().all(|m| m.hdr.seq == 3));
    assert_eq!(r.last().unwrap().hdr.ty, NLMSG_DONE);
}

#[test]
fn dumps_are_multipart_then_done_without_ack() {
    let mut t = tables();
    let r = run(
        &mut t,
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
        NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK,
        9,
    );
    assert_eq!(r.len(), 3, "two links then DONE, no ack");
    for m in &r[..2] {
        assert_eq!(m.hdr.ty, rtm::NEWLINK);
        assert_eq!(m.hdr.flags, NLM_F_MULTI);
        assert_eq!((m.hdr.seq, m.hdr.pid), (9, PID));
    }
    assert_eq!(r[2].hdr.ty, NLMSG_DONE);
    assert_eq!(r[2].hdr.flags, NLM_F_MULTI);
    assert_eq!(
        i32::from_ne_bytes(r[2].bytes[16..20].try_into().unwrap()),
        0
    );
    let names: Vec<String> = r[..2]
        .iter()
        .map(|m| match m.inner() {
            Some(RouteNetlinkMessage::NewLink(l)) => rtnl::link_from_message(&l).name,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["lo", "eth0"]);
}

#[test]
fn address_and_route_dumps_filter_by_family() {
    let mut t = tables();
    let mut v4 = AddressMessage::default();
    v4.header.family = AddressFamily::Inet;
    let r = run(
        &mut t,
        RouteNetlinkMessage::GetAddress(v4),
        NLM_F_REQUEST | NLM_F_DUMP,
        1,
    );
    let addrs: Vec<IfAddr> = r
        .iter()
        .filter_map(|m| match m.inner() {
            Some(RouteNetlinkMessage::NewAddress(a)) => rtnl::addr_from_message(&a),
            _ => None,
        })
        .collect();
    assert_eq!(addrs.len(), 2);
    assert!(addrs.iter().all(|a| a.addr.is_ipv4()));
    let mut v6 = RouteMessage::default();
    v6.header.address_family = AddressFamily::Inet6;
    let r = run(
        &mut t,
        RouteNetlinkMessage::GetRoute(v6),
        NLM_F_REQUEST | NLM_F_DUMP,
        2,
    );
    let routes: Vec<Route> = r
        .iter()
        .filter_map(|m| match m.inner() {
            Some(RouteNetlinkMessage::NewRoute(x)) => rtnl::route_from_message(&x),
            _ => None,
        })
        .collect();
    assert_eq!(routes.len(), 1);
    assert_eq!(
        (routes[0].dst, routes[0].prefix_len, routes[0].metric),
        (ip("2001:db8::"), 64, 256)
    );
}

#[test]
fn large_dumps_are_split_into_bounded_datagrams() {
    let mut t = tables();
    for i in 0..200u32 {
        t.add_addr(&IfAddr {
            index: 2,
            addr: IpAddr::from([10, 9, (i / 250) as u8, (i % 250) as u8 + 1]),
            prefix_len: 32,
        })
        .unwrap();
    }
    let mut m = AddressMessage::default();
    m.header.family = AddressFamily::Unspec;
    let req = rtnl::encode(
        RouteNetlinkMessage::GetAddress(m),
        NLM_F_REQUEST | NLM_F_DUMP,
        3,
        0,
    );
    let grams = process_datagrams(&mut t, &req, PID);
    assert!(grams.len() > 1);
    assert!(grams.iter().all(|g| g.len() <= DUMP_DATAGRAM));
    let all: Vec<Reply> = grams.iter().flat_map(|g| replies(g)).collect();
    assert_eq!(all.iter().filter(|r| r.hdr.ty == rtm::NEWADDR).count(), 204);
    assert_eq!(all.last().unwrap().hdr.ty, NLMSG_DONE);
}

#[test]
fn truncated_and_garbage_input_is_ignored_like_linux() {
    let mut t = tables();
    assert!(process(&mut t, &[], PID).is_empty());
    assert!(process(&mut t, &[1, 2, 3, 4, 5], PID).is_empty());
    let good = rtnl::encode(
        new_addr(2, "10.0.0.30", 24),
        NLM_F_REQUEST | NLM_F_ACK,
        1,
        0,
    );
    // a length field beyond the buffer: nothing processed
    let mut long = good.clone();
    long[0..4].copy_from_slice(&1000u32.to_ne_bytes());
    assert!(process(&mut t, &long, PID).is_empty());
    // a length field shorter than a header: nothing processed
    let mut short = good.clone();
    short[0..4].copy_from_slice(&8u32.to_ne_bytes());
    assert!(process(&mut t, &short, PID).is_empty());
    // a good message followed by a truncated one: only the first is answered
    let mut two = good.clone();
    two.extend_from_slice(&good[..20]);
    let r = replies(&process(&mut t, &two, PID));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].error(), Some(0));
}

#[test]
fn non_requests_control_messages_and_empty_payloads_are_not_processed() {
    let mut t = tables();
    // no NLM_F_REQUEST: not processed (the address is not added), acked only if asked
    let r = run(&mut t, new_addr(2, "10.0.0.40", 24), NLM_F_ACK, 1);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].error(), Some(0));
    assert!(!t.addrs().iter().any(|a| a.addr == ip("10.0.0.40")));
    assert!(run(&mut t, new_addr(2, "10.0.0.40", 24), 0, 1).is_empty());
    // a NOOP control message with ACK
    let mut noop = Vec::new();
    RawHeader {
        len: 16,
        ty: NLMSG_NOOP,
        flags: NLM_F_REQUEST | NLM_F_ACK,
        seq: 8,
        pid: 0,
    }
    .emit(&mut noop);
    let r = replies(&process(&mut t, &noop, PID));
    assert_eq!((r.len(), r[0].error(), r[0].hdr.seq), (1, Some(0), 8));
    // an rtnetlink type with an empty payload
    let mut empty = Vec::new();
    RawHeader {
        len: 16,
        ty: rtm::NEWADDR,
        flags: NLM_F_REQUEST,
        seq: 9,
        pid: 0,
    }
    .emit(&mut empty);
    assert!(process(&mut t, &empty, PID).is_empty());
}

#[test]
fn undecodable_and_unsupported_messages() {
    let mut t = tables();
    let mut bad = Vec::new();
    RawHeader {
        len: 21,
        ty: rtm::NEWADDR,
        flags: NLM_F_REQUEST,
        seq: 1,
        pid: 0,
    }
    .emit(&mut bad);
    bad.extend_from_slice(&[2, 24, 0, 0, 0]);
    let r = replies(&process(&mut t, &bad, PID));
    assert_eq!(r[0].error(), Some(-libc::EINVAL));
    for ty in [
        32u16, /* RTM_NEWRULE */
        36,    /* NEWQDISC */
        200,
        rtm::NEWNEIGH,
    ] {
        let mut m = Vec::new();
        RawHeader {
            len: 20,
            ty,
            flags: NLM_F_REQUEST,
            seq: 2,
            pid: 0,
        }
        .emit(&mut m);
        m.extend_from_slice(&[2, 0, 0, 0]);
        let r = replies(&process(&mut t, &m, PID));
        assert_eq!(r[0].error(), Some(-libc::EOPNOTSUPP), "type {ty}");
    }
}

#[test]
fn link_get_set_and_errors() {
    let c = client();
    assert_eq!(c.if_nametoindex("eth0").unwrap(), 2);
    assert_eq!(c.if_indextoname(1).unwrap(), "lo");
    assert_eq!(errno_of(c.if_nametoindex("nope")), libc::ENODEV);
    assert_eq!(errno_of(c.if_indextoname(77)), libc::ENODEV);
    c.link_set_mac(2, [2, 1, 1, 1, 1, 1]).unwrap();
    assert_eq!(c.link_get_mac(2).unwrap(), [2, 1, 1, 1, 1, 1]);
    c.link_set_mtu(2, 1280).unwrap();
    assert_eq!(c.link(2).unwrap().mtu, 1280);
    assert_eq!(errno_of(c.link_set_mtu(2, 10)), libc::EINVAL);
    assert_eq!(errno_of(c.link_set_up(55, true)), libc::ENODEV);
    let l = c.link(2).unwrap();
    assert!(l.is_up() && l.flags & iff::LOWER_UP != 0 && l.flags & iff::RUNNING != 0);
    c.link_set_up(2, false).unwrap();
    let l = c.link(2).unwrap();
    assert!(!l.is_up() && l.flags & iff::RUNNING == 0);
    // a GETLINK naming no link
    let mut t = tables();
    let r = run(
        &mut t,
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
        NLM_F_REQUEST,
        3,
    );
    assert_eq!(r[0].error(), Some(-libc::EINVAL));
    // a GET reply is a plain message, followed by the ack when asked
    let mut m = LinkMessage::default();
    m.header.index = 2;
    let r = run(
        &mut t,
        RouteNetlinkMessage::GetLink(m),
        NLM_F_REQUEST | NLM_F_ACK,
        4,
    );
    assert_eq!(
        (r.len(), r[0].hdr.ty, r[0].hdr.flags, r[1].error()),
        (2, rtm::NEWLINK, 0, Some(0))
    );
}

#[test]
fn setlink_flag_mask_semantics() {
    let mut t = tables();
    // change mask 0 means "all flags": flags 0 brings the link down
    let mut m = LinkMessage::default();
    m.header.index = 2;
    m.header.flags = LinkFlags::Promisc;
    let r = run(
        &mut t,
        RouteNetlinkMessage::SetLink(m),
        NLM_F_REQUEST | NLM_F_ACK,
        1,
    );
    assert_eq!(r[0].error(), Some(0));
    let l = t.links()[1].clone();
    assert!(!l.is_up() && l.flags & iff::PROMISC != 0);
    // with a mask only the masked flag changes
    let mut m = LinkMessage::default();
    m.header.index = 2;
    m.header.flags = LinkFlags::Up;
    m.header.change_mask = LinkFlags::Up;
    run(&mut t, RouteNetlinkMessage::SetLink(m), NLM_F_REQUEST, 2);
    let l = t.links()[1].clone();
    assert!(l.is_up() && l.flags & iff::PROMISC != 0);
}

fn newlink(
    name: Option<&str>,
    index: u32,
    kind: Option<&str>,
    data: Option<&[u8]>,
) -> RouteNetlinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    if let Some(n) = name {
        m.attributes.push(LinkAttribute::IfName(n.into()));
    }
    if let Some(k) = kind {
        let mut info = vec![LinkInfo::Kind(InfoKind::from(k))];
        if let Some(d) = data {
            info.push(LinkInfo::Data(InfoData::Other(d.to_vec())));
        }
        m.attributes.push(LinkAttribute::LinkInfo(info));
    }
    RouteNetlinkMessage::NewLink(m)
}

/// `struct nlattr` with `payload`, padded to 4 bytes.
fn raw_attr(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&(4 + payload.len() as u16).to_ne_bytes());
    a.extend_from_slice(&ty.to_ne_bytes());
    a.extend_from_slice(payload);
    while a.len() % 4 != 0 {
        a.push(0);
    }
    a
}

/// A binary built against libioth's own header adds a vde link with ifindex -1 as nlinline
/// writes it: `IFLA_NEW_IFINDEX` holding "" (which Linux's attribute policy would refuse) and
/// the VNL nested in `IFLA_VDE_VNL`; it reads the new index from the first reply, which must
/// be the link's RTM_NEWLINK.
#[test]
fn libioth_new_ifindex_request_gets_the_new_link_first() {
    let mut t = tables();
    let mut body = vec![0u8; 16]; // struct ifinfomsg, ifi_index 0
    body.extend(raw_attr(3, b"vde7\0")); // IFLA_IFNAME
    body.extend(raw_attr(49, b"\0")); // IFLA_NEW_IFINDEX ""
    let mut info = raw_attr(1, b"vde\0"); // IFLA_INFO_KIND
    info.extend(raw_attr(2, &raw_attr(1, b"vde:///tmp/x\0"))); // IFLA_INFO_DATA{IFLA_VDE_VNL}
    body.extend(raw_attr(18, &info)); // IFLA_LINKINFO
    let mut req = Vec::new();
    req.extend_from_slice(&(16 + body.len() as u32).to_ne_bytes());
    req.extend_from_slice(&rtnl::rtm::NEWLINK.to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    req.extend_from_slice(&flags.to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // seq
    req.extend_from_slice(&0u32.to_ne_bytes()); // pid
    req.extend(body);

    let out = replies(&process(&mut t, &req, PID));
    let first = out.first().expect("a reply");
    let Some(RouteNetlinkMessage::NewLink(link)) = first.inner() else {
        panic!("first reply is not RTM_NEWLINK: {:?}", first.hdr);
    };
    let made = t
        .links()
        .into_iter()
        .find(|l| l.name == "vde7")
        .expect("vde7 made");
    assert_eq!(link.header.index, made.index);
    assert_eq!(out.last().and_then(Reply::error), Some(0), "then the ack");
}

#[test]
fn newlink_flag_semantics() {
    let mut t = tables();
    let err = |r: Vec<Reply>| r[0].error();
    // existing + EXCL: EEXIST; existing without EXCL: modified
    assert_eq!(
        err(run(
            &mut t,
            newlink(Some("eth0"), 0, None, None),
            NLM_F_REQUEST | NLM_F_EXCL,
            1
        )),
        Some(-libc::EEXIST)
    );
    let mut m = LinkMessage::default();
    m.header.index = 2;
    m.attributes.push(LinkAttribute::Mtu(1000));
    assert_eq!(
        err(run(
            &mut t,
            RouteNetlinkMessage::NewLink(m),
            NLM_F_REQUEST | NLM_F_ACK,
            2
        )),
        Some(0)
    );
    assert_eq!(t.links()[1].mtu, 1000);
    // missing without CREATE: ENODEV; with CREATE but no kind: EOPNOTSUPP; unknown kind: EOPNOTSUPP
    assert_eq!(
        err(run(
            &mut t,
            newlink(Some("x0"), 0, Some("vde"), None),
            NLM_F_REQUEST,
            3
        )),
        Some(-libc::ENODEV)
    );
    assert_eq!(
        err(run(
            &mut t,
            newlink(Some("x0"), 0, None, None),
            NLM_F_REQUEST | NLM_F_CREATE,
            4
        )),
        Some(-libc::EOPNOTSUPP)
    );
    assert_eq!(
        err(run(
            &mut t,
            newlink(Some("x0"), 0, Some("bond"), None),
            NLM_F_REQUEST | NLM_F_CREATE,
            5
        )),
        Some(-libc::EOPNOTSUPP)
    );
    assert_eq!(
        err(run(
            &mut t,
            newlink(Some("bad name"), 0, Some("vde"), None),
            NLM_F_REQUEST | NLM_F_CREATE,
            5
        )),
        Some(-libc::EINVAL)
    );
    // create a vde link with its VNL, echoed
    let r = run(
        &mut t,
        newlink(Some("x0"), 0, Some("vde"), Some(b"vde:///tmp/hub\0")),
        NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO | NLM_F_ACK,
        6,
    );
    let Some(RouteNetlinkMessage::NewLink(echo)) = r[0].inner() else {
        panic!("no echo")
    };
    let link = rtnl::link_from_message(&echo);
    assert_eq!(
        (link.index, link.name.as_str(), link.kind.as_deref()),
        (3, "x0", Some("vde"))
    );
    assert_eq!(r[1].error(), Some(0));
    assert_eq!(t.link_data(3), Some(&b"vde:///tmp/hub"[..]));
    // no name: the kind's template; a requested index is honoured
    run(
        &mut t,
        newlink(None, 10, Some("vde"), None),
        NLM_F_REQUEST | NLM_F_CREATE,
        7,
    );
    let l = t.links().into_iter().find(|l| l.index == 10).unwrap();
    assert_eq!(l.name, "vde0");
}

#[test]
fn iplink_add_and_del_through_the_client() {
    let c = client();
    let i = c
        .iplink_add(Some("vx"), None, "vde", Some("vde:///tmp/x"))
        .unwrap();
    assert_eq!(c.if_nametoindex("vx").unwrap(), i);
    assert_eq!(
        c.transport()
            .with_tables(|t| t.link_data(i).map(<[u8]>::to_vec)),
        Some(b"vde:///tmp/x".to_vec())
    );
    assert_eq!(
        errno_of(c.iplink_add(Some("vx"), None, "vde", None)),
        libc::EEXIST
    );
    let j = c.iplink_add(None, Some(40), "vde", None).unwrap();
    assert_eq!(j, 40);
    let k = c.iplink_add(None, None, "vde", None).unwrap();
    assert_eq!(c.if_indextoname(k).unwrap(), "vde1");
    c.ipaddr_add(ip("192.168.5.1"), 24, i).unwrap();
    c.iplink_del(Some("vx"), None).unwrap();
    assert_eq!(errno_of(c.if_nametoindex("vx")), libc::ENODEV);
    assert!(c.addrs().unwrap().iter().all(|a| a.index != i));
    assert!(c.routes().unwrap().iter().all(|r| r.oif != Some(i)));
    c.iplink_del(None, Some(40)).unwrap();
    assert_eq!(errno_of(c.iplink_del(Some("nope"), None)), libc::ENODEV);
    assert_eq!(
        errno_of(c.iplink_del(None, Some(1))),
        libc::EOPNOTSUPP,
        "lo cannot be deleted"
    );
}

#[test]
fn address_semantics() {
    let c = client();
    assert_eq!(errno_of(c.ipaddr_add(ip("10.0.0.1"), 24, 2)), libc::EEXIST);
    assert_eq!(
        errno_of(c.ipaddr_add(ip("2001:db8::1"), 48, 2)),
        libc::EEXIST,
        "IPv6 ignores the prefix"
    );
    c.ipaddr_add(ip("10.0.0.1"), 16, 2).unwrap(); // IPv4: another prefix is another address
    assert_eq!(
        errno_of(c.ipaddr_del(ip("10.0.0.99"), 24, 2)),
        libc::EADDRNOTAVAIL
    );
    assert_eq!(
        errno_of(c.ipaddr_del(ip("2001:db8::1"), 60, 2)),
        libc::EADDRNOTAVAIL
    );
    assert_eq!(errno_of(c.ipaddr_add(ip("10.0.0.2"), 24, 9)), libc::ENODEV);
    assert_eq!(errno_of(c.ipaddr_add(ip("10.0.0.2"), 33, 2)), libc::EINVAL);
    c.ipaddr_del(ip("10.0.0.1"), 24, 2).unwrap();
    let routes = c.routes().unwrap();
    assert!(
        routes
            .iter()
            .any(|r| r.dst == ip("10.0.0.0") && r.prefix_len == 16)
    );
    assert!(
        !routes
            .iter()
            .any(|r| r.dst == ip("10.0.0.0") && r.prefix_len == 24),
        "prefix route leaves with its address"
    );
    // NLM_F_REPLACE without EXCL updates an existing IPv6 address's prefix
    let mut t = tables();
    let r = run(
        &mut t,
        new_addr(2, "2001:db8::1", 56),
        NLM_F_REQUEST | NLM_F_REPLACE | NLM_F_ACK,
        1,
    );
    assert_eq!(r[0].error(), Some(0));
    assert!(
        t.addrs()
            .iter()
            .any(|a| a.addr == ip("2001:db8::1") && a.prefix_len == 56)
    );
    // a family byte that disagrees with the address
    let mut m = rtnl::addr_message(
        &IfAddr {
            index: 2,
            addr: ip("10.0.0.3"),
            prefix_len: 24,
        },
        None,
    );
    m.header.family = AddressFamily::Inet6;
    assert!(
        run(&mut t, RouteNetlinkMessage::NewAddress(m), NLM_F_REQUEST, 2)[0]
            .error()
            .unwrap()
            < 0
    );
    // non-dump GETADDR is not supported (as for IPv4 on Linux)
    let r = run(
        &mut t,
        RouteNetlinkMessage::GetAddress(AddressMessage::default()),
        NLM_F_REQUEST,
        3,
    );
    assert_eq!(r[0].error(), Some(-libc::EOPNOTSUPP));
}

#[test]
fn route_semantics() {
    let c = client();
    c.iproute_add(None, Some(ip("10.0.0.254")), None).unwrap();
    c.iproute_add(Some((ip("10.6.0.0"), 16)), Some(ip("10.0.0.2")), Some(2))
        .unwrap();
    assert_eq!(
        errno_of(c.iproute_add(Some((ip("10.6.0.0"), 16)), Some(ip("10.0.0.2")), None)),
        libc::EEXIST
    );
    c.iproute_add(None, Some(ip("2001:db8::fe")), None).unwrap();
    c.iproute_add(Some((ip("2001:db8:5::1"), 64)), None, Some(2))
        .unwrap(); // IPv6 host bits are masked
    let routes = c.routes().unwrap();
    let find = |dst: &str, p: u8| {
        routes
            .iter()
            .find(|r| r.dst == ip(dst) && r.prefix_len == p)
            .cloned()
    };
    let def = find("0.0.0.0", 0).unwrap();
    assert_eq!((def.gateway, def.oif), (Some(ip("10.0.0.254")), Some(2)));
    let def6 = find("::", 0).unwrap();
    assert_eq!(
        (def6.gateway, def6.oif, def6.metric),
        (Some(ip("2001:db8::fe")), Some(2), 1024)
    );
    assert!(find("2001:db8:5::", 64).is_some());
    assert_eq!(
        errno_of(c.iproute_add(Some((ip("10.5.0.0"), 16)), Some(ip("10.9.9.9")), None)),
        libc::ENETUNREACH
    );
    assert_eq!(
        errno_of(c.iproute_add(Some((ip("10.5.0.0"), 16)), Some(ip("10.9.9.9")), Some(2))),
        libc::ENETUNREACH
    );
    assert_eq!(
        errno_of(c.iproute_add(
            Some((ip("2001:db8:7::"), 64)),
            Some(ip("2001:db9::1")),
            None
        )),
        libc::EHOSTUNREACH
    );
    assert_eq!(
        errno_of(c.iproute_add(Some((ip("10.5.0.1"), 16)), None, Some(2))),
        libc::EINVAL
    );
    assert_eq!(
        errno_of(c.iproute_add(Some((ip("10.5.0.0"), 16)), None, Some(9))),
        libc::ENODEV
    );
    assert_eq!(
        errno_of(c.iproute_add(Some((ip("10.5.0.0"), 16)), None, None)),
        libc::ENODEV
    );
    assert_eq!(errno_of(c.iproute_add(None, None, None)), libc::EINVAL);
    assert_eq!(
        errno_of(c.iproute_del(Some((ip("10.7.0.0"), 16)), None, None)),
        libc::ESRCH
    );
    c.iproute_del(None, Some(ip("10.0.0.254")), None).unwrap();
    assert_eq!(
        errno_of(c.iproute_del(None, Some(ip("10.0.0.254")), None)),
        libc::ESRCH
    );
    // a second gateway for the same prefix is added without EXCL; with EXCL it is EEXIST
    let mut t = c.transport().with_tables(|t| t.clone());
    let mut r = Route {
        dst: ip("10.6.0.0"),
        prefix_len: 16,
        gateway: Some(ip("10.0.0.3")),
        oif: None,
        table: 254,
        protocol: 3,
        scope: 0,
        metric: 0,
    };
    let msg = |r: &Route| RouteNetlinkMessage::NewRoute(rtnl::route_message(r));
    assert_eq!(
        run(
            &mut t,
            msg(&r),
            NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL,
            1
        )[0]
        .error(),
        Some(-libc::EEXIST)
    );
    assert!(run(&mut t, msg(&r), NLM_F_REQUEST | NLM_F_CREATE, 2).is_empty());
    assert_eq!(
        t.routes()
            .iter()
            .filter(|x| x.dst == ip("10.6.0.0"))
            .count(),
        2
    );
    // IPv4 creation without NLM_F_CREATE: ENOENT
    r.dst = ip("10.8.0.0");
    assert_eq!(
        run(&mut t, msg(&r), NLM_F_REQUEST, 3)[0].error(),
        Some(-libc::ENOENT)
    );
    // NLM_F_REPLACE swaps the gateway
    r.dst = ip("10.6.0.0");
    r.gateway = Some(ip("10.0.0.4"));
    run(&mut t, msg(&r), NLM_F_REQUEST | NLM_F_REPLACE, 4);
    assert!(t.routes().iter().any(|x| x.gateway == Some(ip("10.0.0.4"))));
}

#[test]
fn route_lookup() {
    let c = client();
    c.iproute_add(None, Some(ip("10.0.0.254")), None).unwrap();
    let mut t = c.transport().with_tables(|t| t.clone());
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.destination_prefix_length = 32;
    m.attributes
        .push(netlink_packet_route::route::RouteAttribute::Destination(
            netlink_packet_route::route::RouteAddress::Inet("8.8.8.8".parse().unwrap()),
        ));
    let r = run(
        &mut t,
        RouteNetlinkMessage::GetRoute(m.clone()),
        NLM_F_REQUEST,
        1,
    );
    let Some(RouteNetlinkMessage::NewRoute(x)) = r[0].inner() else {
        panic!()
    };
    let x = rtnl::route_from_message(&x).unwrap();
    assert_eq!(
        (x.dst, x.prefix_len, x.gateway, x.oif),
        (ip("8.8.8.8"), 32, Some(ip("10.0.0.254")), Some(2))
    );
    m.attributes.clear();
    m.attributes
        .push(netlink_packet_route::route::RouteAttribute::Destination(
            netlink_packet_route::route::RouteAddress::Inet("10.0.0.9".parse().unwrap()),
        ));
    let r = run(&mut t, RouteNetlinkMessage::GetRoute(m), NLM_F_REQUEST, 2);
    let Some(RouteNetlinkMessage::NewRoute(x)) = r[0].inner() else {
        panic!()
    };
    assert_eq!(rtnl::route_from_message(&x).unwrap().gateway, None);
}

#[test]
fn link_down_behaves_like_linux() {
    let c = client();
    c.iproute_add(None, Some(ip("10.0.0.254")), None).unwrap();
    c.iproute_add(None, Some(ip("2001:db8::fe")), None).unwrap();
    c.link_set_up(2, false).unwrap();
    assert!(c.routes().unwrap().iter().all(|r| r.oif != Some(2)));
    let addrs = c.addrs().unwrap();
    assert!(
        addrs.iter().any(|a| a.addr == ip("10.0.0.1")),
        "IPv4 addresses stay"
    );
    assert!(
        !addrs.iter().any(|a| a.addr == ip("2001:db8::1")),
        "IPv6 addresses go"
    );
    c.link_set_up(2, true).unwrap();
    let routes = c.routes().unwrap();
    assert!(
        routes
            .iter()
            .any(|r| r.dst == ip("10.0.0.0") && r.prefix_len == 24)
    );
    assert!(
        !routes.iter().any(|r| r.prefix_len == 0),
        "gateway routes do not come back"
    );
}

#[test]
fn neighbour_dump() {
    let mut t = tables();
    t.set_neighbours(vec![
        Neighbour {
            index: 2,
            addr: ip("10.0.0.9"),
            mac: Some([2, 9, 9, 9, 9, 9]),
            state: 2,
        },
        Neighbour {
            index: 2,
            addr: ip("2001:db8::9"),
            mac: None,
            state: 1,
        },
    ]);
    let c = NlClient::new(LocalTransport::new(t, PID));
    let n = c.neighbours().unwrap();
    assert_eq!(n.len(), 2);
    assert_eq!(n[0].mac, Some([2, 9, 9, 9, 9, 9]));
}

#[test]
fn getifaddrs_lists_links_then_addresses() {
    let c = client();
    let all = c.getifaddrs().unwrap();
    assert_eq!(all.len(), 2 + 4);
    let v4 = all
        .iter()
        .find(|a| a.addr == nlconf::client::IfaAddress::Ip(ip("10.0.0.1")))
        .unwrap();
    assert_eq!(v4.name, "eth0");
    assert_eq!(v4.netmask, Some(ip("255.255.255.0")));
    assert_eq!(v4.broadcast, Some(ip("10.0.0.255")));
    let v6 = all
        .iter()
        .find(|a| a.addr == nlconf::client::IfaAddress::Ip(ip("2001:db8::1")))
        .unwrap();
    assert_eq!(v6.netmask, Some(ip("ffff:ffff:ffff:ffff::")));
}

#[test]
fn endpoint_has_datagram_semantics() {
    let mut t = tables();
    let mut ep = NlEndpoint::new(PID);
    assert!(!ep.readable());
    let mut buf = [0u8; 64];
    assert_eq!(
        ep.recv(&mut buf, false).unwrap_err().raw_os_error(),
        Some(libc::EAGAIN)
    );
    let req = rtnl::encode(
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
        NLM_F_REQUEST | NLM_F_DUMP,
        1,
        0,
    );
    assert_eq!(ep.send(&mut t, &req), req.len());
    assert!(ep.readable());
    let peeked = ep.recv(&mut buf, true).unwrap();
    assert!(
        peeked.len > 64 && peeked.copied == 64,
        "truncated peek reports the full length"
    );
    let mut big = vec![0u8; 8192];
    let got = ep.recv(&mut big, false).unwrap();
    assert_eq!(got.len, peeked.len);
    assert!(!ep.readable());
}

/// Tables that report counters for every link: `MemTables` plus `link_stats`.
struct Counted(MemTables);

impl Tables for Counted {
    fn links(&self) -> Vec<Link> {
        self.0.links()
    }
    fn addrs(&self) -> Vec<IfAddr> {
        self.0.addrs()
    }
    fn routes(&self) -> Vec<Route> {
        self.0.routes()
    }
    fn link_stats(&self, index: u32) -> Option<nlconf::model::LinkStats> {
        Some(nlconf::model::LinkStats {
            rx_packets: u64::from(index) * 10,
            tx_bytes: (1 << 33) + u64::from(index),
            rx_dropped: 3,
            ..Default::default()
        })
    }
    fn set_link(&mut self, index: u32, change: &nlconf::server::LinkChange) -> std::io::Result<()> {
        self.0.set_link(index, change)
    }
    fn add_addr(&mut self, addr: &IfAddr) -> std::io::Result<()> {
        self.0.add_addr(addr)
    }
    fn del_addr(&mut self, addr: &IfAddr) -> std::io::Result<()> {
        self.0.del_addr(addr)
    }
    fn add_route(&mut self, route: &Route) -> std::io::Result<()> {
        self.0.add_route(route)
    }
    fn del_route(&mut self, route: &Route) -> std::io::Result<()> {
        self.0.del_route(route)
    }
}

#[test]
fn link_counters_reach_the_client_in_gets_and_dumps() {
    let c = NlClient::new(LocalTransport::new(Counted(tables()), PID));
    let s = c.link_stats(2).unwrap();
    assert_eq!(
        (s.rx_packets, s.tx_bytes, s.rx_dropped),
        (20, (1 << 33) + 2, 3)
    );
    assert_eq!(c.link_stats_by_name("lo").unwrap().rx_packets, 10);
    assert_eq!(
        c.link_stats(9).unwrap_err().raw_os_error(),
        Some(libc::ENODEV)
    );
    let all = c.links_with_stats().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].0.name, "eth0");
    assert_eq!(all[1].1.map(|s| s.rx_packets), Some(20));
    // Links read back are the same with or without counters in the reply.
    assert_eq!(c.links().unwrap(), client().links().unwrap());
    // Tables without counters report none: ENODATA, as a peer that sends no IFLA_STATS*.
    let plain = client();
    assert_eq!(
        plain.link_stats(2).unwrap_err().raw_os_error(),
        Some(libc::ENODATA)
    );
    assert_eq!(plain.links_with_stats().unwrap()[1].1, None);
}
