//! otip_rproxy end to end, as threads of this process: the external side on smoltcp stacks
//! over an in-process hub, the internal services kernel TCP and UDP echo servers on
//! 127.0.0.1, a client stack on the hub that computes the current OTIP address, and a clock
//! the test moves (never a 32 s sleep).

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::net::TcpStream;
use ioth_otip::addrtool::otip_address;
use ioth_otip::proxy::{Forward, Handle, ProxyConfig, spawn};
use ioth_otip::spec::ExtStack;
use ioth_service::clock::{Clock, ManualClock};
use ioth_tests::fixtures::unique_hub;

const NAME: &str = "renzo.otip";
const PASSWORD: &str = "mypassword";
const PORT: u16 = 4242;
/// A slot boundary (Unix time 1_700_000_000 = 53_125_000 · 32).
const T0: u64 = 53_125_000;
const CLIENT: Ipv6Addr = Ipv6Addr::new(0xfc01, 0, 0, 0, 0, 0, 0, 1);
const WAIT: Duration = Duration::from_secs(10);

fn base() -> Ipv6Addr {
    "fc01::".parse().unwrap()
}

/// A kernel TCP echo server on 127.0.0.1.
fn tcp_echo() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let at = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 || c.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    at
}

/// A kernel UDP server on 127.0.0.1 that answers `PEER|payload`, so a test sees which
/// internal socket (flow) a datagram came through.
fn udp_echo() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let at = s.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let mut reply = format!("{from}|").into_bytes();
            reply.extend_from_slice(&buf[..n]);
            let _ = s.send_to(&reply, from);
        }
    });
    at
}

struct Setup {
    clock: Arc<ManualClock>,
    client: Stack,
    proxy: Option<Handle>,
}

/// A proxy (tuned by `tune`) at Unix time `T0·32 + offset`, and a client on its hub.
fn setup(offset: u64, tune: impl FnOnce(&mut ProxyConfig)) -> Setup {
    ioth_service::link_backends!();
    ioth_tests::init_logging();
    let hub = unique_hub();
    let ext = ExtStack {
        stack: "smoltcp".into(),
        vnl: hub.clone(),
        iface: "vde0".into(),
    };
    let mut cfg = ProxyConfig::new(ext, Stack::kernel().unwrap(), NAME, base());
    cfg.password = Some(PASSWORD.into());
    cfg.tcp = vec![Forward {
        ext_port: PORT,
        target: tcp_echo(),
    }];
    cfg.udp = vec![Forward {
        ext_port: PORT,
        target: udp_echo(),
    }];
    tune(&mut cfg);
    let clock = Arc::new(ManualClock::new(Duration::from_secs(T0 * 32 + offset)));
    let proxy = spawn(cfg, clock.clone()).unwrap();
    let client = Stack::new("smoltcp", &[hub.as_str()]).unwrap();
    let idx = client.if_nametoindex("vde0").unwrap();
    client.link_set_up(idx, true).unwrap();
    client.ipaddr_add(IpAddr::V6(CLIENT), 64, idx).unwrap();
    Setup {
        clock,
        client,
        proxy: Some(proxy),
    }
}

impl Setup {
    fn proxy(&self) -> &Handle {
        self.proxy.as_ref().unwrap()
    }

    /// The address a client computes now: hashaddr(base, name, password, unix / 32).
    fn current(&self) -> SocketAddr {
        let a = otip_address(base(), NAME, PASSWORD, 32, self.clock.unix_secs());
        SocketAddr::new(IpAddr::V6(a), PORT)
    }

    fn set(&self, offset: u64) {
        self.clock.set(Duration::from_secs(T0 * 32 + offset));
    }

    fn connect(&self, to: SocketAddr) -> std::io::Result<TcpStream> {
        let s = TcpStream::connect_timeout_on(&self.client, &to, Duration::from_secs(3))?;
        s.set_read_timeout(Some(WAIT))?;
        Ok(s)
    }

    fn udp(&self) -> ioth::net::UdpSocket {
        let s = self
            .client
            .udp_bind(SocketAddr::new(IpAddr::V6(CLIENT), 0))
            .unwrap();
        s.set_read_timeout(Some(Duration::from_millis(700)))
            .unwrap();
        s
    }

    /// Waits (real time) until the proxy's addresses satisfy `ok`.
    fn wait_slots(&self, what: &str, ok: impl Fn(&[ioth_otip::proxy::SlotStatus]) -> bool) {
        let start = Instant::now();
        while !ok(&self.proxy().slots()) {
            assert!(start.elapsed() < WAIT, "{what}: {:?}", self.proxy().slots());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn echo(s: &mut TcpStream, msg: &[u8]) {
    s.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
}

/// One datagram and its reply (`PEER|payload`): the internal peer it came from, or None.
fn ask(s: &ioth::net::UdpSocket, to: SocketAddr, msg: &str) -> Option<String> {
    s.send_to(msg.as_bytes(), to).unwrap();
    let mut buf = [0u8; 2048];
    match s.recv_from(&mut buf) {
        Ok((n, from)) => {
            assert_eq!(from, to, "the reply comes from the OTIP address");
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let (peer, payload) = text.split_once('|').unwrap();
            assert_eq!(payload, msg);
            Some(peer.to_owned())
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        Err(e) => panic!("{e}"),
    }
}

/// Waits until a read on `s` reports the connection's end (EOF or reset).
fn ended(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

#[test]
fn clients_follow_the_address_and_sessions_survive_the_switch() {
    let s = setup(10, |c| c.udp_timeout = Duration::from_secs(60));
    let slot0 = (T0 as u32, s.current());
    s.wait_slots("the first address", |v| {
        v.len() == 1 && v[0].slot == slot0.0 && v[0].accepting
    });
    assert_eq!(IpAddr::V6(s.proxy().slots()[0].addr), slot0.1.ip());

    // TCP and UDP through the current address.
    let mut old = s.connect(slot0.1).unwrap();
    echo(&mut old, b"hello");
    let old_udp = s.udp();
    let flow = ask(&old_udp, slot0.1, "ping").expect("a UDP reply through the proxy");

    // 8 s before the next slot the next address opens (preactive), the current one stays.
    s.set(24);
    s.wait_slots("the next address", |v| {
        v.len() == 2 && v.iter().all(|x| x.accepting)
    });
    let next = SocketAddr::new(
        IpAddr::V6(otip_address(base(), NAME, PASSWORD, 32, (T0 + 1) * 32)),
        PORT,
    );
    assert_eq!(IpAddr::V6(s.proxy().slots()[1].addr), next.ip());
    echo(&mut s.connect(next).unwrap(), b"early");
    echo(&mut s.connect(slot0.1).unwrap(), b"still open");

    // 8 s after its slot ended (postactive) the old address takes no new sessions.
    s.set(32 + 7);
    echo(&mut s.connect(slot0.1).unwrap(), b"late client");
    s.set(32 + 8);
    s.wait_slots("the old address closing", |v| !v[0].accepting);
    // Its stack lives on for the open sessions, so the SYN is answered by a reset.
    match s.connect(slot0.1) {
        Ok(_) => panic!("a new connection to the old address was taken"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}"),
    }
    let fresh_udp = s.udp();
    assert_eq!(
        ask(&fresh_udp, slot0.1, "new flow"),
        None,
        "a new UDP flow on the old address got an answer"
    );
    // What was open before the switch goes on, the flow through the same internal socket.
    echo(&mut old, b"after the switch");
    assert_eq!(
        ask(&old_udp, slot0.1, "again").as_deref(),
        Some(flow.as_str())
    );
    // The client's address now is the next one, and it works over both protocols.
    assert_eq!(s.current(), next);
    echo(&mut s.connect(s.current()).unwrap(), b"current");
    assert!(ask(&s.udp(), s.current(), "current").is_some());
    let c = s.proxy().counters();
    assert_eq!(c.addresses, 2);
    assert!(c.tcp_connections >= 5, "{c:?}");
    assert!(c.udp_dropped >= 1, "{c:?}");
}

#[test]
fn idle_connections_and_flows_are_closed() {
    let s = setup(10, |c| {
        c.tcp_timeout = Duration::from_secs(5);
        c.udp_timeout = Duration::from_secs(3);
    });
    let at = s.current();
    s.wait_slots("the address", |v| v.len() == 1);
    let mut idle = s.connect(at).unwrap();
    echo(&mut idle, b"x");
    let mut busy = s.connect(at).unwrap();
    echo(&mut busy, b"x");
    let udp = s.udp();
    let first = ask(&udp, at, "one").unwrap();

    // 4 s later: the flow (3 s) is gone, the connections (5 s) are not.
    s.set(14);
    echo(&mut busy, b"keep me");
    s.wait_slots("the flow forgotten", |v| v[0].udp_flows == 0);
    assert_eq!(s.proxy().counters().udp_idle_closed, 1);
    let second = ask(&udp, at, "two").unwrap();
    assert_ne!(
        first, second,
        "a new flow goes through a new internal socket"
    );

    // 5 s after its last byte the idle connection is closed; the busy one is not.
    s.set(15);
    assert!(ended(&mut idle), "the idle connection is still open");
    echo(&mut busy, b"alive");
    assert_eq!(s.proxy().counters().tcp_idle_closed, 1);
}

#[test]
fn connections_are_bounded_and_the_proxy_stops_on_drop() {
    let mut s = setup(10, |c| c.max_tcp_connections = 2);
    let at = s.current();
    s.wait_slots("the address", |v| v.len() == 1);
    let mut a = s.connect(at).unwrap();
    let mut b = s.connect(at).unwrap();
    echo(&mut a, b"a");
    echo(&mut b, b"b");
    // The third is accepted by the stack and closed by the proxy at once.
    let mut c = s.connect(at).unwrap();
    let _ = c.write_all(b"c");
    assert!(ended(&mut c), "a third connection was relayed");
    assert_eq!(s.proxy().counters().tcp_over_limit, 1);
    drop(a);
    s.wait_slots("a slot freed", |v| v[0].tcp_connections == 1);
    echo(&mut s.connect(at).unwrap(), b"room again");

    // Dropping the handle closes everything: the address is gone.
    drop(s.proxy.take());
    assert!(ended(&mut b), "a relayed connection outlived the proxy");
    assert!(s.connect(at).is_err(), "the address outlived the proxy");
}

#[test]
fn the_window_arithmetic_holds_at_the_edges() {
    // Started 7 s before a slot boundary: both the ending and the next address are open.
    let s = setup(32 - 7, |c| {
        c.timing = ioth_otip::timing::Timing::new(32, 8, 2).unwrap();
    });
    s.wait_slots("two addresses at start", |v| v.len() == 2);
    let cur = s.current();
    echo(&mut s.connect(cur).unwrap(), b"current");
    // 2 s of postactive: at +33 the slot T0 still takes sessions, at +34 not.
    s.set(32 + 1);
    echo(&mut s.connect(cur).unwrap(), b"postactive");
    s.set(32 + 2);
    s.wait_slots("the old address closing", |v| {
        !v.iter().any(|x| x.slot == T0 as u32 && x.accepting)
    });
    assert!(s.connect(cur).is_err());
}

#[test]
fn a_bad_external_stack_is_an_error_at_spawn() {
    ioth_service::link_backends!();
    let ext = ExtStack {
        stack: "nosuchstack".into(),
        vnl: unique_hub(),
        iface: "vde0".into(),
    };
    let cfg = ProxyConfig::new(ext, Stack::kernel().unwrap(), NAME, base());
    let clock = Arc::new(ManualClock::new(Duration::from_secs(T0 * 32)));
    let e = spawn(cfg, clock).unwrap_err();
    assert!(e.to_string().contains("nosuchstack"), "{e}");
    let ext = ExtStack {
        stack: "smoltcp".into(),
        vnl: unique_hub(),
        iface: "eth7".into(),
    };
    let cfg = ProxyConfig::new(ext, Stack::kernel().unwrap(), NAME, base());
    let clock = Arc::new(ManualClock::new(Duration::from_secs(T0 * 32)));
    let e = spawn(cfg, clock).unwrap_err();
    assert!(e.to_string().contains("eth7"), "{e}");
}

#[test]
fn a_refused_internal_connection_closes_the_clients() {
    // A port nobody listens on (bound, then closed).
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = setup(10, |c| {
        c.tcp.push(Forward {
            ext_port: PORT + 1,
            target: closed,
        })
    });
    s.wait_slots("the address", |v| v.len() == 1);
    let mut to = s.current();
    to.set_port(PORT + 1);
    let mut c = s.connect(to).unwrap();
    assert!(
        ended(&mut c),
        "the client waits on a refused internal connection"
    );
    s.wait_slots("the connection forgotten", |v| v[0].tcp_connections == 0);
    // The other forwarding is unaffected.
    echo(&mut s.connect(s.current()).unwrap(), b"fine");
}
