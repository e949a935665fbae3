//! One UDP port bound twice, `[::]` (IPv6 only) and `0.0.0.0`: each family reaches its own
//! socket, as a DNS server's default sockets need. Part of the socket suite.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ioth::SockAddr;
use libc::{AF_INET, AF_INET6, EAGAIN, IPPROTO_IPV6, IPV6_V6ONLY, SOCK_DGRAM, c_int};

use crate::assert_errno;
use crate::fixtures::Fixture;

/// Datagrams of both families to one port bound on `[::]` (V6ONLY) and `0.0.0.0`: every
/// IPv4 one is read from the IPv4 socket, every IPv6 one from the IPv6 socket, none lost.
pub fn udp_v4_and_v6_on_one_port(f: &dyn Fixture) {
    let v6 = f.server().socket(AF_INET6, SOCK_DGRAM, 0).unwrap();
    v6.set_option::<c_int>(IPPROTO_IPV6, IPV6_V6ONLY, 1)
        .unwrap();
    v6.bind(&SockAddr::from(SocketAddr::new(
        Ipv6Addr::UNSPECIFIED.into(),
        0,
    )))
    .unwrap();
    let port = v6.local_addr().unwrap().as_socket().unwrap().port();
    let v4 = f.server().socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    v4.bind(&SockAddr::from(SocketAddr::new(
        Ipv4Addr::UNSPECIFIED.into(),
        port,
    )))
    .unwrap();
    for s in [&v4, &v6] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let c4 = f
        .client()
        .udp_bind(SocketAddr::new(f.client_ip(), 0))
        .unwrap();
    let c6 = f
        .client()
        .udp_bind(SocketAddr::new(f.client_ip6(), 0))
        .unwrap();
    for i in 0..4u8 {
        c4.send_to(&[4, i], (f.server_ip(), port)).unwrap();
        c6.send_to(&[6, i], (f.server_ip6(), port)).unwrap();
    }
    let mut buf = [0u8; 8];
    for (sock, family, from) in [(&v4, 4u8, &c4), (&v6, 6, &c6)] {
        for i in 0..4u8 {
            let (n, addr) = sock.recv_from(&mut buf, 0).unwrap();
            assert_eq!(
                &buf[..n],
                [family, i],
                "IPv{family} datagram {i} on its socket"
            );
            assert_eq!(
                addr.and_then(|a| a.as_socket()),
                Some(from.local_addr().unwrap())
            );
        }
        assert_errno(
            sock.recv(&mut buf, libc::MSG_DONTWAIT),
            EAGAIN,
            "nothing else arrived",
        );
    }
}
