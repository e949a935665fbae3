//! The same helper calls on the kernel (inside a network namespace this test creates) and on
//! the in-memory tables: same errors, same observable configuration, and the kernel's view
//! matches what `ip -j addr` / `ip -j route` read back.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::collections::BTreeSet;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nlconf::client::{KernelNetlink, LocalTransport, NetlinkTransport, NlClient};
use nlconf::server::MemTables;

/// A network namespace made for one test, removed on drop.
struct Netns {
    name: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Reports a missing prerequisite: a loud skip, or a failure under CI=true.
fn skip(reason: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required test prerequisite missing under CI: {reason}");
    }
    eprintln!("\n*** SKIPPED (not CI): {reason} ***\n");
}

impl Netns {
    fn create() -> Option<Netns> {
        let name = format!(
            "nlconf{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        match Command::new("ip").args(["netns", "add", &name]).status() {
            Ok(s) if s.success() => Some(Netns { name }),
            Ok(s) => {
                skip(&format!(
                    "`ip netns add` failed ({s}); root and iproute2 are needed"
                ));
                None
            }
            Err(e) => {
                skip(&format!("cannot run `ip` ({e}); iproute2 is needed"));
                None
            }
        }
    }

    fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// Runs `ip <args>` inside the namespace and returns its stdout.
    fn ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "ip"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn code<T>(r: io::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// What a user observes of interface `d0`: MAC, MTU, up, its global addresses and the routes
/// through it (link-local IPv6 excluded: only the kernel generates those).
#[derive(Debug, PartialEq, Eq)]
struct View {
    mac: [u8; 6],
    mtu: u32,
    up: bool,
    addrs: BTreeSet<String>,
    routes: BTreeSet<String>,
}

fn is_link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

fn view<T: NetlinkTransport>(c: &NlClient<T>) -> View {
    let index = c.if_nametoindex("d0").unwrap();
    let link = c.link(index).unwrap();
    let addrs = c
        .addrs()
        .unwrap()
        .into_iter()
        .filter(|a| a.index == index && !is_link_local(a.addr))
        .map(|a| format!("{}/{}", a.addr, a.prefix_len))
        .collect();
    let routes = c
        .routes()
        .unwrap()
        .into_iter()
        .filter(|r| r.oif == Some(index) && !is_link_local(r.dst))
        .map(|r| {
            let dst = if r.prefix_len == 0 {
                "default".to_string()
            } else {
                format!("{}/{}", r.dst, r.prefix_len)
            };
            match r.gateway {
                Some(g) => format!("{dst} via {g}"),
                None => dst,
            }
        })
        .collect();
    View {
        mac: link.mac,
        mtu: link.mtu,
        up: link.is_up(),
        addrs,
        routes,
    }
}

/// Runs the configuration sequence; returns the errno of every call (0 = success) and the
/// views after each phase.
fn configure<T: NetlinkTransport>(
    c: &NlClient<T>,
    peer_up: impl Fn(&NlClient<T>),
) -> (Vec<i32>, Vec<View>) {
    let mut codes = Vec::new();
    let mut views = Vec::new();
    let d0 = c.iplink_add(Some("d0"), None, "veth", None).unwrap();
    peer_up(c);
    codes.push(code(c.if_nametoindex("d0").map(|i| assert_eq!(i, d0))));
    codes.push(code(c.if_indextoname(d0).map(|n| assert_eq!(n, "d0"))));
    codes.push(code(
        c.link_set_mac(d0, [0x02, 0x12, 0x34, 0x56, 0x78, 0x9a]),
    ));
    codes.push(code(c.link_set_mtu(d0, 1400)));
    codes.push(code(c.link_set_mtu(d0, 10)));
    codes.push(code(c.link_set_up(d0, true)));
    codes.push(code(c.ipaddr_add(ip("10.1.0.5"), 24, d0)));
    codes.push(code(c.ipaddr_add(ip("10.1.0.5"), 24, d0)));
    codes.push(code(c.ipaddr_add(ip("2001:db8:1::5"), 64, d0)));
    codes.push(code(c.ipaddr_add(ip("2001:db8:1::5"), 64, d0)));
    codes.push(code(c.ipaddr_del(ip("10.1.0.77"), 24, d0)));
    codes.push(code(c.iproute_add(None, Some(ip("10.1.0.254")), None)));
    codes.push(code(c.iproute_add(
        Some((ip("10.2.0.0"), 16)),
        Some(ip("10.1.0.1")),
        Some(d0),
    )));
    codes.push(code(c.iproute_add(
        Some((ip("10.2.0.0"), 16)),
        Some(ip("10.1.0.1")),
        Some(d0),
    )));
    codes.push(code(c.iproute_add(
        Some((ip("10.3.0.0"), 16)),
        None,
        Some(d0),
    )));
    codes.push(code(c.iproute_add(
        Some((ip("10.4.0.0"), 16)),
        Some(ip("10.9.9.9")),
        None,
    )));
    codes.push(code(c.iproute_add(
        Some((ip("10.4.0.1"), 16)),
        None,
        Some(d0),
    )));
    codes.push(code(c.iproute_add(Some((ip("10.4.0.0"), 16)), None, None)));
    codes.push(code(c.iproute_add(None, Some(ip("2001:db8:1::fe")), None)));
    codes.push(code(c.iproute_add(
        Some((ip("2001:db8:2::"), 64)),
        Some(ip("2001:db8:1::1")),
        None,
    )));
    codes.push(code(c.iproute_add(
        Some((ip("2001:db8:3::"), 64)),
        Some(ip("2001:db9::1")),
        None,
    )));
    codes.push(code(c.iproute_del(Some((ip("10.9.0.0"), 16)), None, None)));
    codes.push(code(c.if_nametoindex("nope")));
    codes.push(code(c.iplink_del(Some("nope"), None)));
    codes.push(code(c.link_set_up(9999, true)));
    views.push(view(c));
    codes.push(code(c.iproute_del(None, Some(ip("10.1.0.254")), None)));
    codes.push(code(c.iproute_del(
        Some((ip("10.3.0.0"), 16)),
        None,
        Some(d0),
    )));
    codes.push(code(c.ipaddr_del(ip("2001:db8:1::5"), 64, d0)));
    views.push(view(c));
    codes.push(code(c.link_set_up(d0, false)));
    views.push(view(c));
    codes.push(code(c.iplink_del(Some("d0"), None)));
    codes.push(code(c.if_nametoindex("d0")));
    (codes, views)
}

/// Pulls `"key":"value"` strings out of JSON text, in order (enough for `ip -j` output).
fn json_values(json: &str, key: &str) -> Vec<String> {
    let pat = format!("\"{key}\":\"");
    json.match_indices(&pat)
        .filter_map(|(i, _)| {
            let rest = &json[i + pat.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect()
}

/// The configuration of `d0` as `ip -j` reports it: addresses and routes, in View's format.
fn ip_json_view(ns: &Netns) -> (BTreeSet<String>, BTreeSet<String>) {
    let addr_json = ns.ip(&["-j", "addr", "show", "dev", "d0"]);
    let mut addrs = BTreeSet::new();
    for obj in addr_json.split("},{") {
        if let (Some(local), Some(p)) =
            (json_values(obj, "local").pop(), obj.find("\"prefixlen\":"))
        {
            let digits: String = obj[p + 12..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if !is_link_local(ip(&local)) {
                addrs.insert(format!("{local}/{digits}"));
            }
        }
    }
    let mut routes = BTreeSet::new();
    for fam in ["-4", "-6"] {
        let json = ns.ip(&["-j", fam, "route", "show", "dev", "d0"]);
        for obj in json.split("},{") {
            let Some(dst) = json_values(obj, "dst").pop() else {
                continue;
            };
            if dst.starts_with("fe80:") {
                continue;
            }
            let dst = if dst.contains('/') || dst == "default" {
                dst
            } else {
                format!("{dst}/{}", if fam == "-4" { 32 } else { 128 })
            };
            routes.insert(match json_values(obj, "gateway").pop() {
                Some(g) => format!("{dst} via {g}"),
                None => dst,
            });
        }
    }
    (addrs, routes)
}

#[test]
fn same_helpers_same_results_on_kernel_and_memory_tables() {
    let Some(ns) = Netns::create() else { return };
    let kernel = NlClient::new(KernelNetlink::open_in_netns(&ns.path()).unwrap());
    // On the kernel the veth peer must be up for the link to have carrier.
    let (kcodes, kviews) = configure(&kernel, |c| {
        let peer = c
            .links()
            .unwrap()
            .into_iter()
            .find(|l| l.name != "lo" && l.name != "d0")
            .unwrap();
        c.link_set_up(peer.index, true).unwrap();
    });
    let mut tables = MemTables::with_loopback();
    tables.set_kinds(&["veth"]);
    let memory = NlClient::new(LocalTransport::new(tables, 1));
    let (mcodes, mviews) = configure(&memory, |_| {});
    assert_eq!(mcodes, kcodes, "errno of every call, memory vs kernel");
    assert_eq!(mviews, kviews, "observable configuration, memory vs kernel");
    // spot checks that the sequence did what it says
    assert!(
        kviews[0].addrs.contains("10.1.0.5/24") && kviews[0].addrs.contains("2001:db8:1::5/64")
    );
    assert!(kviews[0].routes.contains("default via 10.1.0.254"));
    assert_eq!(kviews[0].mtu, 1400);
    assert!(kcodes.contains(&libc::EEXIST) && kcodes.contains(&libc::ENETUNREACH));
}

#[test]
fn kernel_view_matches_ip_json() {
    let Some(ns) = Netns::create() else { return };
    ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d1"]);
    ns.ip(&["link", "set", "d1", "up"]);
    let c = NlClient::new(KernelNetlink::open_in_netns(&ns.path()).unwrap());
    let d0 = c.if_nametoindex("d0").unwrap();
    c.link_set_up(d0, true).unwrap();
    c.link_set_mac(d0, [0x02, 0, 0, 0, 0, 0x42]).unwrap();
    c.ipaddr_add(ip("192.168.7.2"), 24, d0).unwrap();
    c.ipaddr_add(ip("192.168.8.2"), 16, d0).unwrap();
    c.ipaddr_add(ip("fd00:7::2"), 64, d0).unwrap();
    c.iproute_add(None, Some(ip("192.168.7.1")), None).unwrap();
    c.iproute_add(
        Some((ip("172.16.0.0"), 12)),
        Some(ip("192.168.8.1")),
        Some(d0),
    )
    .unwrap();
    c.iproute_add(None, Some(ip("fd00:7::1")), Some(d0))
        .unwrap();
    let v = view(&c);
    let (addrs, routes) = ip_json_view(&ns);
    assert_eq!(v.addrs, addrs);
    assert_eq!(v.routes, routes);
    assert!(routes.contains("172.16.0.0/12 via 192.168.8.1"));
    assert!(
        ns.ip(&["-j", "link", "show", "dev", "d0"])
            .contains("\"address\":\"02:00:00:00:00:42\"")
    );
    // getifaddrs agrees with the dumps
    let ifa = c.getifaddrs().unwrap();
    assert!(
        ifa.iter()
            .any(|a| a.name == "d0" && a.broadcast == Some(ip("192.168.7.255")))
    );
}

#[test]
fn kernel_port_id_is_echoed() {
    let Some(ns) = Netns::create() else { return };
    let k = KernelNetlink::open_in_netns(&ns.path()).unwrap();
    let pid = k.port_id().unwrap();
    assert_ne!(pid, 0);
    let req = nlconf::rtnl::encode(
        netlink_packet_route::RouteNetlinkMessage::GetLink(Default::default()),
        nlconf::rtnl::flags::NLM_F_REQUEST | nlconf::rtnl::flags::NLM_F_DUMP,
        77,
        0,
    );
    k.send(&req).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = k.recv(&mut buf).unwrap();
    let (hdr, _) = nlconf::rtnl::messages(&buf[..n]).next().unwrap();
    assert_eq!((hdr.seq, hdr.pid), (77, pid));
}

/// Runs one ioctl on a kernel AF_INET socket inside the namespace.
fn kernel_ioctl(
    ns: &Netns,
    request: libc::c_ulong,
    req: &mut nlconf::ioctl::IfReq,
) -> Result<(), i32> {
    use std::os::fd::AsRawFd;
    let path = ns.path();
    let mut bytes = *req.as_bytes();
    let r = std::thread::spawn(move || {
        let f = std::fs::File::open(&path).unwrap();
        // SAFETY: setns on a namespace fd we hold, for this short-lived thread only.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        // SAFETY: plain socket(2); checked below.
        let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
        assert!(s >= 0);
        // SAFETY: `bytes` is a 40-byte buffer, the size of struct ifreq the kernel reads/writes.
        let rc = unsafe { libc::ioctl(s, request, bytes.as_mut_ptr()) };
        let err = io::Error::last_os_error().raw_os_error().unwrap();
        // SAFETY: closing the socket we opened.
        unsafe { libc::close(s) };
        (if rc < 0 { Err(err) } else { Ok(()) }, bytes)
    })
    .join()
    .unwrap();
    *req = nlconf::ioctl::IfReq::from_bytes(&r.1).unwrap();
    r.0
}

#[test]
fn interface_ioctls_answer_like_the_kernel() {
    use nlconf::ioctl::{IfReq, interface_ioctl};
    let Some(ns) = Netns::create() else { return };
    let kernel = NlClient::new(KernelNetlink::open_in_netns(&ns.path()).unwrap());
    let mut tables = MemTables::with_loopback();
    tables.set_kinds(&["veth"]);
    let memory = NlClient::new(LocalTransport::new(tables, 1));
    // same configuration on both
    let kd0 = kernel.iplink_add(Some("d0"), None, "veth", None).unwrap();
    let md0 = memory.iplink_add(Some("d0"), None, "veth", None).unwrap();
    kernel.link_set_mac(kd0, [2, 3, 4, 5, 6, 7]).unwrap();
    memory.link_set_mac(md0, [2, 3, 4, 5, 6, 7]).unwrap();
    kernel.link_set_mtu(kd0, 1300).unwrap();
    memory.link_set_mtu(md0, 1300).unwrap();
    kernel.ipaddr_add(ip("10.7.0.1"), 22, kd0).unwrap();
    memory.ipaddr_add(ip("10.7.0.1"), 22, md0).unwrap();
    let requests = [
        libc::SIOCGIFMTU,
        libc::SIOCGIFHWADDR,
        libc::SIOCGIFADDR,
        libc::SIOCGIFNETMASK,
        libc::SIOCGIFFLAGS,
    ];
    for req in requests {
        for name in ["d0", "nope"] {
            let mut k = IfReq::with_name(name).unwrap();
            let mut m = k;
            let kr = kernel_ioctl(&ns, req, &mut k);
            let mr = memory
                .transport()
                .with_tables(|t| interface_ioctl(t, req, &mut m))
                .map_err(|e| e.raw_os_error().unwrap());
            assert_eq!(mr, kr, "ioctl {req:#x} on {name}");
            if kr.is_ok() && req != libc::SIOCGIFFLAGS {
                assert_eq!(m.as_bytes()[..24], k.as_bytes()[..24], "ioctl {req:#x}");
            }
        }
    }
    // setting flags through the ioctl brings both up
    let mut k = IfReq::with_name("d0").unwrap();
    k.set_flags((libc::IFF_UP | libc::IFF_BROADCAST | libc::IFF_MULTICAST) as u16);
    let mut m = k;
    kernel_ioctl(&ns, libc::SIOCSIFFLAGS, &mut k).unwrap();
    memory
        .transport()
        .with_tables(|t| interface_ioctl(t, libc::SIOCSIFFLAGS, &mut m))
        .unwrap();
    assert!(kernel.link(kd0).unwrap().is_up());
    assert!(memory.link(md0).unwrap().is_up());
}

/// The kernel's own loopback counters through the client (this process's namespace, no root
/// needed), and the attribute layout ours copies: IFLA_STATS64 as long as the kernel's.
#[test]
fn kernel_loopback_counters_read_back() {
    use netlink_packet_route::RouteNetlinkMessage;
    use netlink_packet_route::link::LinkMessage;
    let c = NlClient::new(KernelNetlink::open().unwrap());
    let before = c.link_stats_by_name("lo").unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..5 {
        sock.send_to(b"counters", sock.local_addr().unwrap())
            .unwrap();
    }
    let after = c.link_stats_by_name("lo").unwrap();
    assert!(
        after.tx_packets >= before.tx_packets + 5,
        "{before:?} {after:?}"
    );
    assert!(
        after.rx_bytes >= before.rx_bytes + 5 * (28 + 8),
        "{before:?} {after:?}"
    );
    // The kernel's reply, raw: find IFLA_STATS64 (23) and compare its length with ours.
    let mut msg = LinkMessage::default();
    msg.header.index = 1;
    let req = nlconf::rtnl::encode(
        RouteNetlinkMessage::GetLink(msg),
        nlconf::rtnl::flags::NLM_F_REQUEST,
        77,
        0,
    );
    let t = KernelNetlink::open().unwrap();
    t.send(&req).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = t.recv(&mut buf).unwrap();
    let (_, reply) = nlconf::rtnl::messages(&buf[..n]).next().unwrap();
    let mut at = nlconf::rtnl::NLMSG_HDRLEN + 16;
    let mut kernel_len = None;
    while at + 4 <= reply.len() {
        let len = u16::from_ne_bytes([reply[at], reply[at + 1]]) as usize;
        if u16::from_ne_bytes([reply[at + 2], reply[at + 3]]) == 23 {
            kernel_len = Some(len);
        }
        at += nlconf::rtnl::align4(len.max(4));
    }
    let mut ours = nlconf::rtnl::link_message(&c.link(1).unwrap());
    nlconf::rtnl::push_link_stats(&mut ours, &after);
    let bytes = nlconf::rtnl::encode(RouteNetlinkMessage::NewLink(ours), 0, 1, 1);
    let parsed =
        netlink_packet_core::NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes).unwrap();
    assert!(matches!(
        parsed.payload,
        netlink_packet_core::NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(_))
    ));
    let kernel_len = kernel_len.expect("the kernel reports IFLA_STATS64");
    // Kernels before 6.9 lack rx_otherhost_dropped (192 bytes); ours is the 6.9 layout.
    assert!(
        kernel_len == 4 + 200 || kernel_len == 4 + 192,
        "{kernel_len}"
    );
}
