//! The DHCPv6 client engine (`nlconf::dhcp6`) against a real dnsmasq: two network namespaces
//! this test makes, joined by a veth pair, dnsmasq serving one end and the engine driven over
//! a kernel UDP socket on port 546 of the other end.
//!
//! Stateful: the client gets an address of the range, the DNS server and the domain; a Renew
//! (at T1 of the engine's clock, which the test moves forward instead of waiting) and a
//! Rebind (at T2) are answered; stop releases the address and dnsmasq forgets the lease.
//! Stateless: an Information-request gets the DNS server and domain without an address.
//!
//! Nothing is sent outside the namespaces; namespaces, dnsmasq and temporary files are removed
//! even when a test fails.

use std::fs::File;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ioth_tests::peers::{NetNs, Peer, require_netns, require_tool, unique_name};
use nlconf::dhcp6::{Action, CLIENT_PORT, Dhcp6Client, Lease6, Mode, SERVER_PORT, State};
use socket2::{Domain, Protocol, Socket, Type};

const SERVER_ADDR: &str = "fd00:6::1/64";
const DNS: Ipv6Addr = Ipv6Addr::new(0xfd00, 6, 0, 0, 0, 0, 0, 0x53);
const DOMAIN: &str = "ioth6.test";
const MAC: [u8; 6] = [2, 0x16, 0, 0, 0, 0x66];

/// How long the test waits for an answer that must come (a liveness bound, not speed).
const PATIENCE: Duration = Duration::from_secs(10);

/// A server namespace and a client namespace joined by a veth pair; the server end has
/// `fd00:6::1/64`; duplicate address detection is off so link-local addresses work at once.
struct Link {
    // Dropped in this order: dnsmasq (held by the caller) first, then the namespaces.
    server: NetNs,
    client: NetNs,
    server_if: String,
    client_if: String,
    dir: tempfile::TempDir,
}

impl Link {
    fn new() -> Option<Link> {
        if !require_netns("the DHCPv6 dnsmasq test") || !require_tool("dnsmasq", "the DHCPv6 test")
        {
            return None;
        }
        let server = NetNs::new();
        let client = NetNs::new();
        let server_if = unique_name("d6s");
        let client_if = unique_name("d6c");
        server.exec(&[
            "ip",
            "link",
            "add",
            &server_if,
            "type",
            "veth",
            "peer",
            "name",
            &client_if,
            "netns",
            client.name(),
        ]);
        for (ns, ifname) in [(&server, &server_if), (&client, &client_if)] {
            ns.exec(&[
                "sysctl",
                "-q",
                "-w",
                &format!("net.ipv6.conf.{ifname}.accept_dad=0"),
            ]);
            ns.exec(&["ip", "link", "set", ifname, "up"]);
        }
        server.exec(&[
            "ip",
            "-6",
            "addr",
            "add",
            SERVER_ADDR,
            "dev",
            &server_if,
            "nodad",
        ]);
        let link = Link {
            server,
            client,
            server_if,
            client_if,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        link.wait_link_local();
        Some(link)
    }

    /// Waits until the client end has its link-local address (the source of its messages).
    fn wait_link_local(&self) {
        let start = Instant::now();
        loop {
            let out = self.client.exec(&[
                "ip",
                "-6",
                "addr",
                "show",
                "dev",
                &self.client_if,
                "scope",
                "link",
            ]);
            if out.contains("fe80::") && !out.contains("tentative") {
                return;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "no link-local address on the client end: {out}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts dnsmasq on the server end with `range` (and the DNS server and domain), and
    /// waits until it says it serves DHCPv6.
    fn dnsmasq(&self, range: &str) -> Peer {
        let log = self.path("dnsmasq.log");
        let mut cmd = self.server.command("dnsmasq");
        cmd.args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--bind-interfaces",
            "--port=0",
            "--user=root",
            "--group=root",
            "--log-dhcp",
            "--log-facility=-",
        ])
        .arg(format!("--interface={}", self.server_if))
        .arg(format!("--dhcp-range={range}"))
        .arg(format!("--dhcp-option=option6:dns-server,[{DNS}]"))
        .arg(format!("--dhcp-option=option6:domain-search,{DOMAIN}"))
        .arg(format!("--domain={DOMAIN}"))
        .arg(format!(
            "--dhcp-leasefile={}",
            self.path("leases").display()
        ))
        .arg(format!("--pid-file={}", self.path("dnsmasq.pid").display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log).expect("dnsmasq log file"));
        let peer = Peer::spawn(cmd, "dnsmasq");
        let start = Instant::now();
        while !read(&log).contains("DHCPv6") {
            assert!(
                start.elapsed() < PATIENCE,
                "dnsmasq did not start DHCPv6:\n{}",
                read(&log)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        peer
    }

    fn log(&self) -> String {
        read(&self.path("dnsmasq.log"))
    }
}

/// Waits (bounded by [`PATIENCE`]) until `cond` holds.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "waited in vain for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A UDP socket bound to `[::]:546` on `ifname` inside namespace `ns`, made by a short-lived
/// thread that enters the namespace; and the interface's index there.
fn client_socket(ns: &NetNs, ifname: &str) -> (UdpSocket, u32) {
    let path = format!("/run/netns/{}", ns.name());
    let ifname = ifname.to_string();
    std::thread::spawn(move || {
        let f = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: f is an open namespace file; setns changes only this thread's namespace.
        let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
        let cname = std::ffi::CString::new(ifname.clone()).expect("interface name");
        // SAFETY: cname is a valid NUL-terminated string.
        let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        assert_ne!(index, 0, "no interface {ifname} in the client namespace");
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).expect("socket");
        s.set_only_v6(true).expect("IPV6_V6ONLY");
        s.bind_device(Some(ifname.as_bytes()))
            .expect("SO_BINDTODEVICE");
        s.set_multicast_if_v6(index).expect("IPV6_MULTICAST_IF");
        s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, CLIENT_PORT)).into())
            .expect("bind [::]:546");
        (UdpSocket::from(s), index)
    })
    .join()
    .expect("the namespace thread")
}

/// Drives a client engine over a real socket. The engine's clock is real time plus `skew`,
/// which the test moves forward to reach T1 and T2 without waiting for them.
struct Driver {
    client: Dhcp6Client,
    sock: UdpSocket,
    ifindex: u32,
    epoch: Instant,
    skew: Duration,
    sent: usize,
}

impl Driver {
    fn new(link: &Link, mode: Mode) -> Driver {
        let (sock, ifindex) = client_socket(&link.client, &link.client_if);
        Driver {
            client: Dhcp6Client::new(MAC, 1, std::process::id(), Some("node6".into()), mode),
            sock,
            ifindex,
            epoch: Instant::now(),
            skew: Duration::ZERO,
            sent: 0,
        }
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed() + self.skew
    }

    /// Sends what the engine asks to send; returns the other actions.
    fn perform(&mut self, actions: Vec<Action>) -> Vec<Action> {
        let mut rest = Vec::new();
        for a in actions {
            match a {
                Action::Send { dst, payload } => {
                    let to = SocketAddrV6::new(dst, SERVER_PORT, 0, self.ifindex);
                    self.sock.send_to(&payload, to).expect("send to the server");
                    self.sent += 1;
                }
                other => rest.push(other),
            }
        }
        rest
    }

    /// Runs the engine (receiving, polling at its deadlines) until a lease action matches
    /// `done`; returns the lease actions seen.
    fn run_until(&mut self, what: &str, done: impl Fn(&Action) -> bool) -> Vec<Action> {
        let start = Instant::now();
        let mut seen = Vec::new();
        let mut buf = [0u8; 1500];
        loop {
            let timeout = self
                .client
                .next_deadline()
                .map(|d| d.saturating_sub(self.now()))
                .unwrap_or(Duration::from_millis(100))
                .clamp(Duration::from_millis(1), Duration::from_millis(100));
            self.sock.set_read_timeout(Some(timeout)).expect("timeout");
            let mut actions = Vec::new();
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) if from.port() == SERVER_PORT => {
                    let now = self.now();
                    actions.extend(self.client.receive(now, &buf[..n]));
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("receive: {e}"),
            }
            let now = self.now();
            actions.extend(self.client.poll(now));
            let lease_actions = self.perform(actions);
            let state = self.client.state();
            let finished = lease_actions.iter().any(&done);
            seen.extend(lease_actions);
            if finished {
                return seen;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{what}: nothing within {PATIENCE:?} (state {state:?}, seen {seen:?})"
            );
        }
    }
}

fn bound_lease(actions: &[Action]) -> Lease6 {
    actions
        .iter()
        .rev()
        .find_map(|a| match a {
            Action::Bound(l) | Action::Renewed(l) => Some(l.clone()),
            _ => None,
        })
        .expect("a lease")
}

#[test]
fn stateful_lease_from_dnsmasq_renewed_rebound_and_released() {
    ioth_tests::init_logging();
    let Some(link) = Link::new() else { return };
    let _dnsmasq = link.dnsmasq("fd00:6::100,fd00:6::1ff,64,2m");
    let mut d = Driver::new(&link, Mode::Stateful);

    // Solicit → Advertise → Request → Reply
    let start = d.client.start(d.now());
    let rest = d.perform(start);
    assert!(rest.is_empty());
    let seen = d.run_until("the first lease", |a| matches!(a, Action::Bound(_)));
    let lease = bound_lease(&seen);
    assert_eq!(lease.addrs.len(), 1, "{lease:?}");
    let addr = lease.addrs[0].addr;
    let lo: Ipv6Addr = "fd00:6::100".parse().unwrap();
    let hi: Ipv6Addr = "fd00:6::1ff".parse().unwrap();
    assert!((lo..=hi).contains(&addr), "{addr} is in the range");
    assert_eq!(lease.addrs[0].valid, Duration::from_secs(120));
    assert_eq!(lease.dns, [DNS]);
    assert!(lease.domains.iter().any(|dm| dm == DOMAIN), "{lease:?}");
    assert!(!lease.server_id.is_empty());
    assert!(
        lease.t1 > Duration::ZERO && lease.t1 <= lease.t2 && lease.t2 < Duration::from_secs(120),
        "{lease:?}"
    );
    // dnsmasq writes its lease file from its main loop, soon after answering.
    wait_until("dnsmasq's lease file to list the address and name", || {
        let leases = read(&link.path("leases"));
        leases.contains(&addr.to_string()) && leases.contains("node6")
    });

    // At T1 (the engine's clock moved forward): Renew, answered by the same server.
    d.skew = (lease.acquired + lease.t1).saturating_sub(d.epoch.elapsed());
    let sent_before = d.sent;
    let seen = d.run_until("the Renew", |a| {
        matches!(a, Action::Renewed(_) | Action::Bound(_))
    });
    assert!(d.sent > sent_before, "a Renew was sent");
    let renewed = bound_lease(&seen);
    assert!(
        matches!(seen.as_slice(), [Action::Renewed(_)]),
        "same address, nothing to reconfigure: {seen:?}"
    );
    assert_eq!(renewed.addrs[0].addr, addr);
    assert_eq!(renewed.server_id, lease.server_id);
    assert!(renewed.acquired >= lease.acquired + lease.t1);
    assert!(link.log().contains("DHCPRENEW"), "{}", link.log());

    // At T2: Rebind, answered too.
    d.skew = (renewed.acquired + renewed.t2).saturating_sub(d.epoch.elapsed());
    let seen = d.run_until("the Rebind", |a| {
        matches!(a, Action::Renewed(_) | Action::Bound(_))
    });
    assert_eq!(bound_lease(&seen).addrs[0].addr, addr);
    assert!(link.log().contains("DHCPREBIND"), "{}", link.log());
    assert_eq!(d.client.state(), State::Bound);

    // stop: Unbound, then a Release that dnsmasq acknowledges (the engine leaves Releasing
    // on its Reply) and the lease leaves its file.
    let now = d.now();
    let actions = d.client.stop(now);
    let rest = d.perform(actions);
    assert!(matches!(rest.as_slice(), [Action::Unbound(l)] if l.addrs[0].addr == addr));
    assert_eq!(d.client.state(), State::Releasing);
    // Only receive() runs here (no poll: no retransmission, no giving up), so leaving
    // Releasing means dnsmasq's Reply arrived.
    let start = Instant::now();
    let mut buf = [0u8; 1500];
    d.sock
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while d.client.state() == State::Releasing {
        if let Ok((n, _)) = d.sock.recv_from(&mut buf) {
            let now = d.now();
            let actions = d.client.receive(now, &buf[..n]);
            assert!(actions.is_empty());
        }
        assert!(
            start.elapsed() < PATIENCE,
            "no Reply to the Release:\n{}",
            link.log()
        );
    }
    assert_eq!(d.client.state(), State::Idle);
    assert!(link.log().contains("DHCPRELEASE"), "{}", link.log());
    wait_until("dnsmasq to forget the released lease", || {
        !read(&link.path("leases")).contains(&addr.to_string())
    });
}

#[test]
fn stateless_information_from_dnsmasq() {
    ioth_tests::init_logging();
    let Some(link) = Link::new() else { return };
    let _dnsmasq = link.dnsmasq("fd00:6::,ra-stateless");
    let mut d = Driver::new(&link, Mode::Stateless);
    let start = d.client.start(d.now());
    d.perform(start);
    let seen = d.run_until("the information", |a| matches!(a, Action::Bound(_)));
    let info = bound_lease(&seen);
    assert!(
        info.addrs.is_empty(),
        "no address in stateless mode: {info:?}"
    );
    assert_eq!(info.dns, [DNS]);
    assert!(info.domains.iter().any(|dm| dm == DOMAIN), "{info:?}");
    assert!(info.t1 >= Duration::from_secs(600), "{info:?}");
    assert_eq!(d.client.state(), State::Informed);
    assert!(
        link.log().contains("DHCPINFORMATION-REQUEST"),
        "{}",
        link.log()
    );
    assert!(
        !read(&link.path("leases")).contains("fd00:6::"),
        "no address was leased"
    );

    // At the refresh time the engine asks again and gets the same information.
    d.skew = (info.acquired + info.t1).saturating_sub(d.epoch.elapsed());
    let seen = d.run_until("the refresh", |a| {
        matches!(a, Action::Renewed(_) | Action::Bound(_))
    });
    assert!(matches!(seen.as_slice(), [Action::Renewed(_)]), "{seen:?}");
    let now = d.now();
    let actions = d.client.stop(now);
    assert!(matches!(
        d.perform(actions).as_slice(),
        [Action::Unbound(_)]
    ));
    assert_eq!(d.client.state(), State::Idle);
}
