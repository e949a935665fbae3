//! `Stack::dump()` on both backends: after a TCP listener, a UDP socket and a connection,
//! the picture shows the address as `ip addr` does, the prefix and default routes as `ip
//! route` does, the LISTEN, ESTAB and UDP sockets as `ss -tuanp` does (with this process's
//! pid), and the link counters; sockets of other stacks are not in it.

use std::net::{IpAddr, Ipv4Addr};

use ioth::Stack;
use ioth::dump::{Netid, StackDump};
use ioth::net::{TcpListener, TcpStream, UdpSocket};
use ioth_tests::fixtures::{smoltcp_on_with, unique_hub};
use ioth_tests::peers::{NetNs, require_netns};

/// Sockets of `stack` on `ip`: a listener on :8080, a UDP socket on :5353, and one
/// connection to the listener from `client` (the same stack when None).
fn open_sockets(
    stack: &Stack,
    client: &Stack,
    ip: Ipv4Addr,
) -> (TcpListener, UdpSocket, TcpStream, TcpStream) {
    let listener = TcpListener::bind_on(stack, (ip, 8080)).expect("listen");
    let udp = stack.udp_bind((ip, 5353)).expect("UDP bind");
    let out = TcpStream::connect_on(client, (ip, 8080)).expect("connect");
    let (inc, _) = listener.accept().expect("accept");
    (listener, udp, out, inc)
}

/// The checks both backends pass.
fn check(d: &StackDump, ip: Ipv4Addr, ifname: &str, gw: Ipv4Addr) {
    let text = d.to_string();
    eprintln!("{text}");
    let pid = std::process::id();
    assert!(
        text.contains(&format!("    inet {ip}/24 brd "))
            && text.contains(&format!(" scope global {ifname}\n")),
        "the address line: {text}"
    );
    let net = Ipv4Addr::from(u32::from(ip) & 0xffff_ff00);
    assert!(
        text.contains(&format!(
            "{net}/24 dev {ifname} proto kernel scope link src {ip}\n"
        )),
        "the prefix route: {text}"
    );
    assert!(
        text.contains(&format!("default via {gw} dev {ifname}")),
        "the default route: {text}"
    );
    let line = |netid: &str, state: &str, local: &str| {
        text.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() >= 7
                && w[0] == netid
                && w[1] == state
                && w[4] == local
                && w[6].contains(&format!("pid={pid},"))
        })
    };
    assert!(
        line("tcp", "LISTEN", &format!("{ip}:8080")),
        "the listener: {text}"
    );
    assert!(
        line("udp", "UNCONN", &format!("{ip}:5353")),
        "the UDP socket: {text}"
    );
    assert!(
        line("tcp", "ESTAB", &format!("{ip}:8080")),
        "the accepted connection: {text}"
    );
    let listener = d
        .sockets
        .iter()
        .find(|s| s.state == "LISTEN")
        .expect("a listener");
    assert_eq!(listener.netid, Netid::Tcp);
    assert!(
        listener.send_q > 0,
        "a listener's Send-Q is its backlog: {listener:?}"
    );
    // UDP before TCP, as ss prints them.
    let first_tcp = d.sockets.iter().position(|s| s.netid == Netid::Tcp);
    let last_udp = d.sockets.iter().rposition(|s| s.netid == Netid::Udp);
    assert!(last_udp < first_tcp);
    let (_, stats) = d
        .links
        .iter()
        .find(|(l, _)| l.name == ifname)
        .expect("the interface");
    assert!(stats.is_some(), "link counters");
    assert!(text.contains("    RX: "), "{text}");
}

fn smoltcp_dump(options: &str) {
    ioth_tests::init_logging();
    let hub = unique_hub();
    let ip = Ipv4Addr::new(10, 99, 0, 1);
    let gw = Ipv4Addr::new(10, 99, 0, 254);
    let s = smoltcp_on_with(options, &hub, Some(ip.octets()));
    s.iproute_add(None, Some(IpAddr::V4(gw)), None)
        .expect("default route");
    let c = smoltcp_on_with(options, &hub, Some([10, 99, 0, 2]));
    let _other = c
        .udp_bind("10.99.0.2:5353")
        .expect("another stack's socket");
    let (_l, _u, _o, _i) = open_sockets(&s, &c, ip);
    let d = s.dump().expect("dump");
    check(&d, ip, "vde0", gw);
    assert!(
        d.sockets
            .iter()
            .all(|s| s.local.ip() != IpAddr::from([10, 99, 0, 2])),
        "another stack's sockets are not in the dump: {:?}",
        d.sockets
    );
    assert!(d.protocol.is_some());
    assert!(d.to_string().contains("# netstat -s\nIp: InReceives "));
}

#[test]
fn smoltcp_stack_dump_with_our_tcp() {
    smoltcp_dump("");
}

#[test]
fn smoltcp_stack_dump_with_smoltcps_tcp() {
    smoltcp_dump("tcp=smoltcp");
}

#[test]
fn kernel_stack_dump_in_a_namespace() {
    if !require_netns("the kernel's dump") {
        return;
    }
    let ns = NetNs::new();
    // A veth pair inside the namespace: both ends up, so d0 has a carrier.
    ns.exec(&[
        "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1",
    ]);
    ns.exec(&["ip", "addr", "add", "10.99.1.1/24", "dev", "d0"]);
    ns.exec(&["ip", "link", "set", "d1", "up"]);
    ns.exec(&["ip", "link", "set", "d0", "up"]);
    ns.exec(&["ip", "route", "add", "default", "via", "10.99.1.254"]);
    let k = Stack::new(&format!("kernel,netns={}", ns.name()), &[]).expect("kernel stack");
    let ip = Ipv4Addr::new(10, 99, 1, 1);
    let (_l, _u, _o, _i) = open_sockets(&k, &k, ip);
    let d = k.dump().expect("dump");
    check(&d, ip, "d0", Ipv4Addr::new(10, 99, 1, 254));
    // The kernel's own view agrees: ss inside the namespace lists the same listener.
    let ss = ns.exec(&["ss", "-tuan"]);
    assert!(ss.contains("10.99.1.1:8080"), "{ss}");
    assert!(d.protocol.is_some_and(|c| c.tcp.active_opens >= 1));
}
