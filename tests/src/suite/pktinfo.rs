//! `IP_PKTINFO` / `IPV6_PKTINFO` on UDP sockets: a server bound to the wildcard learns which
//! of its addresses each datagram reached and replies from that address. Part of the socket
//! suite (see [`crate::socket_suite!`]); the kernel is the oracle.

use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ioth::Stack;
use ioth::cmsg::{self, CmsgBuf, Cmsgs, PktInfo};
use ioth::net::UdpSocket;
use ioth::nlconf::client::IfaAddress;
use libc::{
    EINVAL, ENETUNREACH, ENODEV, ENOPROTOOPT, IP_PKTINFO, IPPROTO_IP, IPPROTO_IPV6, IPV6_PKTINFO,
    IPV6_RECVPKTINFO, MSG_CTRUNC, c_int,
};

use crate::assert_errno;
use crate::fixtures::Fixture;

/// The index of the interface of `stack` that holds `ip`.
fn ifindex_of(stack: &Stack, ip: IpAddr) -> u32 {
    stack
        .getifaddrs()
        .unwrap()
        .iter()
        .find(|a| a.addr == IfaAddress::Ip(ip))
        .map(|a| a.index)
        .unwrap_or_else(|| panic!("no interface holds {ip}"))
}

fn wildcard(v6: bool) -> SocketAddr {
    if v6 {
        SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0)
    } else {
        SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)
    }
}

/// A server bound to the wildcard of the family, asking for pktinfo; and its port.
fn pktinfo_server(f: &dyn Fixture, v6: bool) -> (UdpSocket, u16) {
    let server = f.server().udp_bind(wildcard(v6)).unwrap();
    let (level, name) = if v6 {
        (IPPROTO_IPV6, IPV6_RECVPKTINFO)
    } else {
        (IPPROTO_IP, IP_PKTINFO)
    };
    assert_eq!(server.socket().option::<c_int>(level, name).unwrap(), 0);
    server.set_recv_pktinfo(true).unwrap();
    assert_eq!(
        server.socket().option::<c_int>(level, name).unwrap(),
        1,
        "the option reads back as set"
    );
    let port = server.local_addr().unwrap().port();
    (server, port)
}

/// Each datagram reports the address it reached and its interface; a reply sent from that
/// address leaves from it (two addresses on one interface, a datagram to each). Without
/// pktinfo the reply to the second address would leave from the first.
pub fn udp_pktinfo_replies_from_the_address_reached(f: &dyn Fixture) {
    let (server, port) = pktinfo_server(f, false);
    let client = f
        .client()
        .udp_bind(SocketAddr::new(f.client_ip(), 0))
        .unwrap();
    let ifindex = ifindex_of(&f.server(), f.server_ip());
    let mut buf = [0u8; 64];
    for dst in [f.server_ip(), f.second_server_ip()] {
        client.send_to(b"query", (dst, port)).unwrap();
        let got = server.recv_from_to(&mut buf).unwrap();
        assert_eq!(&buf[..got.len], b"query");
        assert_eq!(got.from, client.local_addr().unwrap());
        assert_eq!(got.to, Some(dst), "ipi_addr is the destination");
        assert_eq!(got.local, Some(dst), "ipi_spec_dst is the destination");
        assert_eq!(got.ifindex, ifindex, "ipi_ifindex is the arrival interface");
        server.send_from_to(b"reply", got.from, dst, 0).unwrap();
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"reply");
        assert_eq!(
            from,
            SocketAddr::new(dst, port),
            "the reply leaves from the address the query reached"
        );
    }

    // The control message itself, byte for byte: one IP_PKTINFO, CMSG_SPACE(12) long.
    client
        .send_to(b"raw", (f.second_server_ip(), port))
        .unwrap();
    let mut control = CmsgBuf::default();
    let meta = server
        .socket()
        .recv_msg(&mut [IoSliceMut::new(&mut buf)], &mut control.0, 0)
        .unwrap();
    assert_eq!(meta.flags & MSG_CTRUNC, 0);
    assert_eq!(meta.control_len, cmsg::cmsg_space(cmsg::IN_PKTINFO_LEN));
    let msgs: Vec<_> = Cmsgs::new(&control.0[..meta.control_len])
        .map(Result::unwrap)
        .collect();
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].level, msgs[0].ty), (IPPROTO_IP, IP_PKTINFO));
    let second = match f.second_server_ip() {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => unreachable!("an IPv4 fixture address"),
    };
    assert_eq!(
        PktInfo::from_in_pktinfo(msgs[0].data),
        Some(PktInfo {
            addr: IpAddr::V4(second),
            ifindex,
            spec_dst: Some(second),
        })
    );

    // Without pktinfo, the stack picks the source by routing: the first address.
    client
        .send_to(b"plain", (f.second_server_ip(), port))
        .unwrap();
    let (_, from) = server.recv_from(&mut buf).unwrap();
    server.send_to(b"plain reply", from).unwrap();
    let (_, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(from, SocketAddr::new(f.server_ip(), port));
}

/// IPv6: `IPV6_RECVPKTINFO` reports the destination and interface; `IPV6_PKTINFO` on a
/// send chooses the source.
pub fn udp_pktinfo_v6(f: &dyn Fixture) {
    let (server, port) = pktinfo_server(f, true);
    let client = f
        .client()
        .udp_bind(SocketAddr::new(f.client_ip6(), 0))
        .unwrap();
    let ifindex = ifindex_of(&f.server(), f.server_ip6());
    let mut buf = [0u8; 64];
    client.send_to(b"query6", (f.server_ip6(), port)).unwrap();
    let got = server.recv_from_to(&mut buf).unwrap();
    assert_eq!(&buf[..got.len], b"query6");
    assert_eq!(got.from, client.local_addr().unwrap());
    assert_eq!(got.to, Some(f.server_ip6()));
    assert_eq!(got.local, Some(f.server_ip6()));
    assert_eq!(got.ifindex, ifindex);
    server
        .send_from_to(b"reply6", got.from, f.server_ip6(), ifindex)
        .unwrap();
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"reply6");
    assert_eq!(from, SocketAddr::new(f.server_ip6(), port));

    client.send_to(b"raw6", (f.server_ip6(), port)).unwrap();
    let mut control = CmsgBuf::default();
    let meta = server
        .socket()
        .recv_msg(&mut [IoSliceMut::new(&mut buf)], &mut control.0, 0)
        .unwrap();
    assert_eq!(meta.control_len, cmsg::cmsg_space(cmsg::IN6_PKTINFO_LEN));
    let m = Cmsgs::new(&control.0[..meta.control_len])
        .next()
        .expect("one message")
        .unwrap();
    assert_eq!((m.level, m.ty), (IPPROTO_IPV6, IPV6_PKTINFO));
}

/// A control buffer too short for the message gets what fits, `MSG_CTRUNC` and Linux's
/// `msg_controllen`: nothing below a header, a cut message from a header up.
pub fn udp_pktinfo_control_truncates_as_linux(f: &dyn Fixture) {
    let client4 = f
        .client()
        .udp_bind(SocketAddr::new(f.client_ip(), 0))
        .unwrap();
    let client6 = f
        .client()
        .udp_bind(SocketAddr::new(f.client_ip6(), 0))
        .unwrap();
    for v6 in [false, true] {
        let (server, port) = pktinfo_server(f, v6);
        let (client, dst, data) = if v6 {
            (&client6, f.server_ip6(), cmsg::IN6_PKTINFO_LEN)
        } else {
            (&client4, f.server_ip(), cmsg::IN_PKTINFO_LEN)
        };
        let whole = cmsg::cmsg_len(data);
        let space = cmsg::cmsg_space(data);
        // (control buffer, msg_controllen, MSG_CTRUNC)
        for (size, len, cut) in [
            (0, 0, true),
            (8, 0, true),
            (16, 16, true),
            (20, 20, true),
            (whole, whole, false),
            (space, space, false),
            (128, space, false),
        ] {
            client.send_to(b"x", (dst, port)).unwrap();
            let mut control = CmsgBuf::default();
            let mut buf = [0u8; 8];
            let meta = server
                .socket()
                .recv_msg(&mut [IoSliceMut::new(&mut buf)], &mut control.0[..size], 0)
                .unwrap();
            assert_eq!(meta.len, 1);
            assert_eq!(
                (meta.control_len, meta.flags & MSG_CTRUNC != 0),
                (len, cut),
                "control buffer of {size} bytes (IPv6: {v6})"
            );
            if len >= cmsg::HDR_LEN {
                let m = Cmsgs::new(&control.0[..len]).next().unwrap().unwrap();
                assert_eq!(
                    m.data.len() + cmsg::HDR_LEN,
                    len.min(whole),
                    "cmsg_len of the cut message"
                );
            }
        }
    }
}

fn send_with_pktinfo(
    sock: &UdpSocket,
    to: SocketAddr,
    level: c_int,
    ty: c_int,
    data: &[u8],
) -> std::io::Result<usize> {
    let mut control = CmsgBuf::default();
    let mut used = 0;
    cmsg::push(&mut control.0, &mut used, level, ty, data)?;
    sock.socket().send_msg(
        &[IoSlice::new(b"r")],
        Some(&to.into()),
        &control.0[..used],
        0,
    )
}

/// A send's pktinfo is checked as Linux checks it: a source the stack does not have, a
/// multicast or broadcast source, an unknown interface, a malformed message.
pub fn udp_pktinfo_send_errors(f: &dyn Fixture) {
    let server = f.server().udp_bind(wildcard(false)).unwrap();
    let client = f
        .client()
        .udp_bind(SocketAddr::new(f.client_ip(), 0))
        .unwrap();
    let to = client.local_addr().unwrap();
    let v4 = |ifindex: u32, spec: Ipv4Addr| {
        PktInfo {
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ifindex,
            spec_dst: Some(spec),
        }
        .in_pktinfo()
    };
    let IpAddr::V4(foreign) = f.foreign_ip() else {
        unreachable!("an IPv4 fixture address")
    };
    let IpAddr::V4(own) = f.server_ip() else {
        unreachable!("an IPv4 fixture address")
    };
    let send4 = |data: &[u8]| send_with_pktinfo(&server, to, IPPROTO_IP, IP_PKTINFO, data);
    assert_errno(send4(&v4(0, foreign)), ENETUNREACH, "a foreign source");
    assert_errno(
        send4(&v4(0, Ipv4Addr::new(224, 0, 0, 1))),
        EINVAL,
        "multicast source",
    );
    assert_errno(
        send4(&v4(0, Ipv4Addr::BROADCAST)),
        EINVAL,
        "broadcast source",
    );
    assert_errno(send4(&v4(9999, own)), ENODEV, "an unknown interface");
    assert_errno(send4(&v4(0, own)[..8]), EINVAL, "a short in_pktinfo");
    assert_errno(
        send_with_pktinfo(&server, to, IPPROTO_IP, 99, &[0; 4]),
        EINVAL,
        "an unknown IP-level message",
    );
    // An unspecified source lets the stack choose, as without the message.
    assert_eq!(send4(&v4(0, Ipv4Addr::UNSPECIFIED)).unwrap(), 1);
    let mut buf = [0u8; 4];
    let (_, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(from.ip(), f.server_ip());
    // Another level's message is ignored.
    assert_eq!(
        send_with_pktinfo(&server, to, IPPROTO_IPV6, IPV6_PKTINFO, &[0; 20]).unwrap(),
        1
    );
    client.recv_from(&mut buf).unwrap();
    assert_errno(
        server
            .socket()
            .set_option::<c_int>(IPPROTO_IPV6, IPV6_RECVPKTINFO, 1),
        ENOPROTOOPT,
        "IPV6_RECVPKTINFO on an AF_INET socket",
    );

    let server6 = f.server().udp_bind(wildcard(true)).unwrap();
    let client6 = f
        .client()
        .udp_bind(SocketAddr::new(f.client_ip6(), 0))
        .unwrap();
    let to6 = client6.local_addr().unwrap();
    let v6 = |addr: &str, ifindex: u32| {
        PktInfo {
            addr: addr.parse().unwrap(),
            ifindex,
            spec_dst: None,
        }
        .in6_pktinfo()
    };
    let send6 = |data: &[u8]| send_with_pktinfo(&server6, to6, IPPROTO_IPV6, IPV6_PKTINFO, data);
    assert_errno(
        send6(&v6("2001:db8::1", 0)),
        EINVAL,
        "a foreign IPv6 source",
    );
    assert_errno(send6(&v6("ff02::1", 0)), EINVAL, "a multicast IPv6 source");
    assert_errno(
        send6(&v6(&f.server_ip6().to_string(), 9999)),
        ENODEV,
        "an unknown interface",
    );
    assert_errno(send6(&v6("::", 0)[..16]), EINVAL, "a short in6_pktinfo");
}
