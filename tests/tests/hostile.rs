//! Hostile input against smoltcp stacks (issue 10): nothing a frame or an API call carries may
//! stop a driver thread or a stack.
//!
//! - Addresses that are not unicast (multicast, broadcast, unspecified, `::1` off `lo`), MACs
//!   that are not unicast and gateways that cannot be neighbours are refused with Linux's
//!   errno, and the stack goes on working.
//! - A crafted router advertisement whose prefix is `ff02::/64` (it used to panic the driver
//!   thread inside smoltcp, "is not unicast", and every stack on that thread stopped) is
//!   ignored while the valid prefix next to it is used; the driver threads all live.
//!
//! Everything runs on in-process hubs: no root, no traffic outside the process.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::config::IfaAddress;
use ioth_tests::fixtures::{smoltcp_on, unique_hub};
use nlconf::ndisc::message::icmpv6_checksum;
use nlconf::ndisc::{PrefixInfo, RouterAdvert};

/// Live smoltcp driver threads of this process (by name: tests run in parallel threads).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| {
        d.flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.starts_with("ioth-smoltcp-"))
            })
            .count()
    })
}

/// A datagram from `from` reaches `to` at `to_ip` (the stacks both work).
fn udp_reaches(from: &Stack, to: &Stack, to_ip: Ipv4Addr) {
    let rx = to.udp_bind((to_ip, 7100)).expect("bind receiver");
    rx.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let tx = from.udp_bind("0.0.0.0:0").expect("bind sender");
    tx.send_to(b"still here", (to_ip, 7100)).expect("send");
    let mut buf = [0u8; 32];
    let (n, _) = rx.recv_from(&mut buf).expect("datagram delivered");
    assert_eq!(&buf[..n], b"still here");
}

fn errno(r: std::io::Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => ioth::errno_of(&e),
    }
}

#[test]
fn addresses_macs_and_gateways_that_are_not_unicast_are_refused_and_the_stack_goes_on() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let a = smoltcp_on(&hub, Some([10, 93, 0, 1]));
    let b = smoltcp_on(&hub, Some([10, 93, 0, 2]));
    let idx = a.if_nametoindex("vde0").expect("vde0");
    let lo = a.if_nametoindex("lo").expect("lo");
    let cases: [(IpAddr, u8, u32, i32); 8] = [
        (Ipv4Addr::new(224, 0, 0, 1).into(), 24, idx, libc::EINVAL),
        (Ipv4Addr::BROADCAST.into(), 24, idx, libc::EINVAL),
        (Ipv4Addr::UNSPECIFIED.into(), 8, idx, libc::EINVAL),
        (Ipv4Addr::new(10, 93, 0, 9).into(), 33, idx, libc::EINVAL),
        (
            "ff02::1".parse::<Ipv6Addr>().expect("v6").into(),
            64,
            idx,
            libc::EADDRNOTAVAIL,
        ),
        (Ipv6Addr::UNSPECIFIED.into(), 64, idx, libc::EADDRNOTAVAIL),
        (Ipv6Addr::LOCALHOST.into(), 128, idx, libc::EADDRNOTAVAIL),
        (
            "ff05::2".parse::<Ipv6Addr>().expect("v6").into(),
            16,
            lo,
            libc::EADDRNOTAVAIL,
        ),
    ];
    for (addr, prefix, index, want) in cases {
        assert_eq!(
            errno(a.ipaddr_add(addr, prefix, index)),
            want,
            "ipaddr_add {addr}/{prefix} on interface {index}"
        );
    }
    assert_eq!(
        errno(a.link_set_mac(idx, [0x01, 0x00, 0x5e, 0, 0, 1])),
        libc::EADDRNOTAVAIL,
        "a multicast MAC"
    );
    assert_eq!(
        errno(a.link_set_mac(idx, [0; 6])),
        libc::EADDRNOTAVAIL,
        "the zero MAC"
    );
    for gw in [
        IpAddr::from(Ipv4Addr::new(224, 0, 0, 9)),
        IpAddr::from(Ipv4Addr::BROADCAST),
        IpAddr::from("ff02::2".parse::<Ipv6Addr>().expect("v6")),
    ] {
        // Linux refuses these as unreachable (no connected prefix holds them) or invalid.
        let e = errno(a.iproute_add(None, Some(gw), Some(idx)));
        assert!(
            [libc::EINVAL, libc::ENETUNREACH, libc::EHOSTUNREACH].contains(&e),
            "default route via {gw}: errno {e}"
        );
    }
    // None of it reached smoltcp: the stack works, later changes still succeed.
    udp_reaches(&a, &b, Ipv4Addr::new(10, 93, 0, 2));
    udp_reaches(&b, &a, Ipv4Addr::new(10, 93, 0, 1));
    a.ipaddr_add(Ipv4Addr::new(10, 93, 1, 1).into(), 24, idx)
        .expect("a valid address after the refused ones");
    a.link_set_mac(idx, [0x02, 0, 0, 0x93, 0, 1])
        .expect("a valid MAC after the refused ones");
    let shown: Vec<IpAddr> = a
        .getifaddrs()
        .expect("getifaddrs")
        .into_iter()
        .filter_map(|i| match i.addr {
            IfaAddress::Ip(ip) => Some(ip),
            _ => None,
        })
        .collect();
    assert!(
        shown.contains(&Ipv4Addr::new(10, 93, 1, 1).into()),
        "{shown:?}"
    );
    assert!(!shown.iter().any(IpAddr::is_multicast), "{shown:?}");
}

/// An Ethernet frame carrying a router advertisement from `fe80::1` (MAC `mac`) to all
/// nodes, checksum filled in.
fn ra_frame(mac: [u8; 6], ra: &RouterAdvert) -> Vec<u8> {
    let src: Ipv6Addr = "fe80::1".parse().expect("v6");
    let dst: Ipv6Addr = "ff02::1".parse().expect("v6");
    let mut icmp = ra.emit();
    icmp[2] = 0;
    icmp[3] = 0;
    let sum = icmpv6_checksum(src, dst, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    f.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x86, 0xdd]);
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&u16::try_from(icmp.len()).expect("short").to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&icmp);
    f
}

fn v6_on_vde0(stack: &Stack) -> Vec<Ipv6Addr> {
    stack
        .getifaddrs()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| match i.addr {
            IfaAddress::Ip(IpAddr::V6(a)) if i.name == "vde0" => Some(a),
            _ => None,
        })
        .collect()
}

#[test]
fn a_router_advertisement_for_a_multicast_prefix_is_ignored_and_no_driver_dies() {
    ioth_tests::init_logging();
    let hub = unique_hub();
    // Stacks with and without router discovery on the same hub (and so, with two drivers,
    // on both driver threads).
    let (rd, _) = Stack::from_config(&format!("stack=smoltcp vnl={hub} eth rd slaac"))
        .expect("stack with router discovery");
    let plain = smoltcp_on(&hub, Some([10, 94, 0, 2]));
    let other = smoltcp_on(&hub, Some([10, 94, 0, 3]));
    let rd_idx = rd.if_nametoindex("vde0").expect("vde0");
    rd.ipaddr_add(Ipv4Addr::new(10, 94, 0, 1).into(), 24, rd_idx)
        .expect("address");
    // The pool's threads name themselves as they start: wait until all of them have.
    let before = ioth_smoltcp::driver_threads();
    let start = Instant::now();
    while threads() < before && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let router = vde::open(&hub).expect("a raw member of the hub");
    let good: Ipv6Addr = "2001:db8:94::".parse().expect("v6");
    let prefix = |p: Ipv6Addr| PrefixInfo {
        prefix: p,
        prefix_len: 64,
        on_link: true,
        autonomous: true,
        router_address: false,
        valid_lifetime: 86400,
        preferred_lifetime: 14400,
    };
    let ra = RouterAdvert {
        cur_hop_limit: 64,
        router_lifetime: 1800,
        source_mac: Some([0x02, 0, 0, 0, 0x94, 1]),
        prefixes: vec![
            prefix("ff02::".parse().expect("v6")),
            prefix("::".parse().expect("v6")),
            prefix("fe80::".parse().expect("v6")),
            prefix(good),
        ],
        dns_servers: vec![
            ("ff02::1".parse().expect("v6"), 600),
            ("::".parse().expect("v6"), 600),
            ("2001:db8:94::53".parse().expect("v6"), 600),
        ],
        ..RouterAdvert::default()
    };
    let frame = ra_frame([0x02, 0, 0, 0, 0x94, 1], &ra);
    let start = Instant::now();
    loop {
        router.send(&frame).expect("send the advertisement");
        let addrs = v6_on_vde0(&rd);
        if addrs
            .iter()
            .any(|a| a.segments()[..4] == good.segments()[..4])
        {
            assert!(
                !addrs.iter().any(|a| a.is_multicast() || a.is_unspecified()),
                "{addrs:?}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the valid prefix was not used: {addrs:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Only the DNS server one can query reaches resolv.conf.
    let conf = rd.resolv_conf(rd_idx);
    assert!(conf.contains("nameserver 2001:db8:94::53"), "{conf}");
    assert!(
        !conf.contains("ff02::1") && !conf.contains("nameserver ::\n"),
        "{conf}"
    );
    assert!(before > 0, "driver threads are named");
    assert_eq!(threads(), before, "every driver thread is alive");
    udp_reaches(&plain, &other, Ipv4Addr::new(10, 94, 0, 3));
    udp_reaches(&other, &rd, Ipv4Addr::new(10, 94, 0, 1));
    udp_reaches(&rd, &plain, Ipv4Addr::new(10, 94, 0, 2));
}

/// The UDP checksum over IPv6 (RFC 8200 8.1) of `udp` (checksum field zero) from `src` to
/// `dst`.
fn udp6_checksum(src: Ipv6Addr, dst: Ipv6Addr, udp: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            sum += u64::from(pair[0]) << 8 | pair.get(1).copied().map_or(0, u64::from);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&u32::try_from(udp.len()).expect("short").to_be_bytes());
    add(&[0, 0, 0, 17]);
    add(udp);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    match !(sum as u16) {
        0 => 0xffff,
        s => s,
    }
}

/// A DHCPv6 message from `src`:547 (MAC `src_mac`) to `dst`:546 (MAC `dst_mac`).
fn dhcp6_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    payload: &[u8],
) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).expect("short");
    let mut udp = Vec::with_capacity(usize::from(len));
    udp.extend_from_slice(&547u16.to_be_bytes());
    udp.extend_from_slice(&546u16.to_be_bytes());
    udp.extend_from_slice(&len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let sum = udp6_checksum(src, dst, &udp);
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    let mut f = Vec::with_capacity(54 + udp.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(&[17, 64]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&udp);
    f
}

/// A DHCPv6 client message in `frame`: the client's MAC, its address and the message.
fn dhcp6_from_client(frame: &[u8]) -> Option<([u8; 6], Ipv6Addr, nlconf::dhcp6::Dhcp6Message)> {
    if frame.len() < 62 || frame[12..14] != [0x86, 0xdd] || frame[20] != 17 {
        return None;
    }
    if u16::from_be_bytes([frame[56], frame[57]]) != 547 {
        return None;
    }
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&frame[6..12]);
    let mut src = [0u8; 16];
    src.copy_from_slice(&frame[22..38]);
    let msg = nlconf::dhcp6::Dhcp6Message::parse(&frame[62..]).ok()?;
    Some((mac, Ipv6Addr::from(src), msg))
}

#[test]
fn a_rogue_dhcpv6_server_leasing_a_multicast_address_stops_nothing() {
    use nlconf::dhcp6::{Dhcp6Message, Dhcp6Option, IaAddr, IaNa, IaNaOption, MessageType};
    ioth_tests::init_logging();
    let hub = unique_hub();
    let (victim, _) = Stack::from_config(&format!("stack=smoltcp vnl={hub} eth dhcp6"))
        .expect("stack with DHCPv6");
    let plain = smoltcp_on(&hub, Some([10, 97, 0, 2]));
    let other = smoltcp_on(&hub, Some([10, 97, 0, 3]));
    let idx = victim.if_nametoindex("vde0").expect("vde0");
    victim
        .ipaddr_add(Ipv4Addr::new(10, 97, 0, 1).into(), 24, idx)
        .expect("address");
    let before = ioth_smoltcp::driver_threads();
    let start = Instant::now();
    while threads() < before && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let server = vde::open(&hub).expect("a raw member of the hub");
    let server_mac = [0x02, 0, 0, 0, 0x97, 1];
    let server_ip: Ipv6Addr = "fe80::97:1".parse().expect("v6");
    let rogue: Ipv6Addr = "ff02::1".parse().expect("v6");
    let good: Ipv6Addr = "fd00:97::5".parse().expect("v6");
    let mut buf = [0u8; 1600];
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the good address was not leased: {:?}",
            v6_on_vde0(&victim)
        );
        if v6_on_vde0(&victim).contains(&good) {
            break;
        }
        let n = match server.recv(&mut buf) {
            Ok(n) => n,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        let Some((mac, src, msg)) = dhcp6_from_client(&buf[..n]) else {
            continue;
        };
        let answer = match msg.msg_type {
            MessageType::Solicit => MessageType::Advertise,
            MessageType::Request | MessageType::Renew | MessageType::Rebind => MessageType::Reply,
            _ => continue,
        };
        let Some(iaid) = msg.options.iter().find_map(|o| match o {
            Dhcp6Option::IaNa(ia) => Some(ia.iaid),
            _ => None,
        }) else {
            continue;
        };
        let mut reply = Dhcp6Message::new(answer, msg.transaction_id);
        reply
            .options
            .push(Dhcp6Option::ServerId(vec![0, 3, 0, 1, 2, 0, 0, 0, 0x97, 1]));
        if let Some(id) = msg.client_id() {
            reply.options.push(Dhcp6Option::ClientId(id.to_vec()));
        }
        let lease = |addr| {
            IaNaOption::IaAddr(IaAddr {
                addr,
                preferred: 3600,
                valid: 7200,
                options: vec![],
            })
        };
        reply.options.push(Dhcp6Option::IaNa(IaNa {
            iaid,
            t1: 1800,
            t2: 2880,
            options: vec![lease(rogue), lease(good)],
        }));
        server
            .send(&dhcp6_frame(server_mac, mac, server_ip, src, &reply.emit()))
            .expect("send the answer");
    }
    let addrs = v6_on_vde0(&victim);
    assert!(!addrs.iter().any(Ipv6Addr::is_multicast), "{addrs:?}");
    assert_eq!(threads(), before, "every driver thread is alive");
    udp_reaches(&plain, &other, Ipv4Addr::new(10, 97, 0, 3));
    udp_reaches(&other, &victim, Ipv4Addr::new(10, 97, 0, 1));
    udp_reaches(&victim, &plain, Ipv4Addr::new(10, 97, 0, 2));
}
