//! The facade's own promises: default stacks per process and per thread, stack lifetime, the
//! errors of plugin lookup, and the kernel backend's options.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use ioth::net::{TcpListener, TcpStream, UdpSocket};
use ioth::{Stack, bsd};
use ioth_tests::{assert_errno, init_logging};

/// Tests that touch the process default stack take turns.
static PROCESS_DEFAULT: Mutex<()> = Mutex::new(());

fn kernel() -> Stack {
    let _ = ioth_kernel::NAME;
    Stack::new("kernel", &[]).unwrap()
}

#[test]
fn thread_default_overrides_process_default_and_only_on_its_thread() {
    init_logging();
    let _turn = PROCESS_DEFAULT.lock().unwrap_or_else(|e| e.into_inner());
    let process = kernel();
    let thread = kernel();
    assert!(!process.same_as(&thread));

    let prev = ioth::set_default_stack(Some(process.clone()));
    assert!(ioth::default_stack().unwrap().same_as(&process));
    assert!(
        ioth::current_stack().unwrap().same_as(&process),
        "process default applies"
    );

    let t = thread.clone();
    let p = process.clone();
    std::thread::spawn(move || {
        assert!(
            ioth::thread_stack().is_none(),
            "a new thread starts without a default"
        );
        ioth::set_thread_stack(Some(t.clone()));
        assert!(
            ioth::current_stack().unwrap().same_as(&t),
            "thread default wins"
        );
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(s.stack().same_as(&t), "sockets open on the thread default");
        let fd = bsd::socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
        assert!(bsd::stack_of(fd).unwrap().same_as(&t));
        bsd::close(fd).unwrap();
        ioth::set_thread_stack(None);
        assert!(
            ioth::current_stack().unwrap().same_as(&p),
            "cleared: back to the process default"
        );
    })
    .join()
    .unwrap();
    // This thread never had a thread default.
    assert!(ioth::current_stack().unwrap().same_as(&process));

    {
        let _g = thread.enter();
        assert!(ioth::current_stack().unwrap().same_as(&thread));
    }
    assert!(
        ioth::thread_stack().is_none(),
        "the guard restored the previous thread default"
    );

    ioth::set_default_stack(None);
    assert_eq!(
        ioth::current_stack().unwrap().implementation(),
        "kernel",
        "no default at all: the kernel"
    );
    ioth::set_default_stack(prev);
}

#[test]
fn deleted_stack_refuses_new_sockets_and_delete_is_idempotent() {
    init_logging();
    let stack = kernel();
    let other_handle = stack.clone();
    stack.delete().unwrap();
    assert!(other_handle.is_deleted());
    assert_errno(
        other_handle.socket(libc::AF_INET, libc::SOCK_DGRAM, 0),
        libc::ENONET,
        "socket on a deleted stack",
    );
    assert_eq!(
        other_handle.open_sockets(),
        0,
        "the refused socket is not counted"
    );
    other_handle.delete().unwrap();
}

#[test]
fn sockets_keep_their_stack_alive() {
    init_logging();
    let listener = {
        let stack = kernel();
        stack.tcp_listen("127.0.0.1:0").unwrap()
        // the last Stack handle goes here; the listener still holds the stack
    };
    assert_eq!(listener.stack().open_sockets(), 1);
    let addr = listener.local_addr().unwrap();
    let mut c = TcpStream::connect_on(listener.stack(), addr).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    c.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    s.read_exact(&mut b).unwrap();
    assert_eq!(listener.stack().open_sockets(), 3);
}

#[test]
fn unknown_implementation_is_enotsup_naming_the_paths_tried() {
    init_logging();
    let err = Stack::new("nosuchstack", &[]).unwrap_err();
    assert_eq!(ioth::errno_of(&err), libc::ENOTSUP);
    let msg = err.to_string();
    assert!(
        msg.contains("ioth_nosuchstack.so"),
        "the message names the files tried: {msg}"
    );
    let dir = tempfile::tempdir().unwrap();
    let Err(err) = ioth::plugin::load_from("nosuchstack", &[dir.path().to_path_buf()]) else {
        panic!("a plugin that is nowhere loaded");
    };
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    assert_errno(
        Stack::new("../evil", &[]),
        libc::EINVAL,
        "a name with a path",
    );
}

#[test]
fn implementation_options_reach_the_backend() {
    init_logging();
    assert_errno(
        Stack::new("kernel,bogus=1", &[]),
        libc::EINVAL,
        "unknown kernel option",
    );
    assert_errno(
        Stack::new("kernel", &["vde:///tmp/nohub"]),
        libc::EINVAL,
        "kernel stack with a VNL",
    );
    assert_errno(
        Stack::new("kernel,netns=ioth-no-such-ns", &[]),
        libc::ENOENT,
        "a namespace that does not exist",
    );
    // An empty name is the kernel, as libioth's NULL stack.
    assert_eq!(Stack::new("", &[]).unwrap().implementation(), "kernel");
}

#[test]
fn socket_handles_and_descriptor_calls_agree() {
    init_logging();
    let stack = kernel();
    let a = stack.udp_bind("127.0.0.1:0").unwrap();
    let b = stack.udp_bind("127.0.0.1:0").unwrap();
    let a_addr = a.local_addr().unwrap();
    // The fd API works on a socket the Rust API owns.
    use std::os::fd::AsRawFd;
    bsd::sendto(b.as_raw_fd(), b"fd", 0, &a_addr.into()).unwrap();
    let mut buf = [0u8; 4];
    let (n, from) = a.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"fd"[..], b.local_addr().unwrap()));
    // Closing by descriptor ends the listing; the handle still works and closes on drop.
    let fd = a.as_raw_fd();
    let clone = a.try_clone().unwrap();
    drop(a);
    assert!(bsd::is_socket(fd), "a clone keeps the socket listed");
    drop(clone);
    assert!(!bsd::is_socket(fd), "the last handle unlists it");
    assert_eq!(stack.open_sockets(), 1);
}

#[test]
fn mio_sees_readiness_of_sockets_on_process_and_thread_defaults() {
    init_logging();
    let _turn = PROCESS_DEFAULT.lock().unwrap_or_else(|e| e.into_inner());
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll, Token};
    use std::os::fd::AsRawFd;

    let prev = ioth::set_default_stack(Some(kernel()));
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let thread_stack = kernel();
    let _g = thread_stack.enter();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    assert!(tcp.stack().same_as(&thread_stack));
    assert!(udp.stack().same_as(&ioth::default_stack().unwrap()));

    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(
            &mut SourceFd(&udp.as_raw_fd()),
            Token(0),
            Interest::READABLE,
        )
        .unwrap();
    poll.registry()
        .register(
            &mut SourceFd(&tcp.as_raw_fd()),
            Token(1),
            Interest::READABLE,
        )
        .unwrap();
    let (mut server_side, _) = listener.accept().unwrap();
    server_side.write_all(b"tcp").unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"udp", udp.local_addr().unwrap()).unwrap();

    let mut seen = [false; 2];
    let mut events = Events::with_capacity(8);
    while !(seen[0] && seen[1]) {
        poll.poll(&mut events, Some(ioth_tests::PATIENCE)).unwrap();
        assert!(!events.is_empty(), "mio reports both sockets readable");
        for e in events.iter() {
            seen[e.token().0] = true;
        }
    }
    ioth::set_default_stack(prev);
}

#[test]
fn kernel_stack_in_a_namespace_is_configured_by_the_helpers() {
    init_logging();
    use ioth_tests::peers::{NetNs, require_netns};
    if !require_netns("the kernel netns test") {
        return;
    }
    let ns = NetNs::new();
    let stack = Stack::new(&format!("kernel,netns={}", ns.name()), &[]).unwrap();
    // The namespace has only lo: configure it through rtnetlink on the stack.
    let lo = stack.if_nametoindex("lo").unwrap();
    assert_errno(
        stack.if_nametoindex("vde0"),
        libc::ENODEV,
        "no such interface",
    );
    let dummy = stack.iplink_add(Some("d0"), None, "bridge", None).unwrap();
    assert_eq!(stack.if_indextoname(dummy).unwrap(), "d0");
    stack.link_set_up(dummy, true).unwrap();
    stack.link_set_mac(dummy, [0x02, 0, 0, 0, 0, 0x42]).unwrap();
    assert_eq!(stack.link_mac(dummy).unwrap(), [0x02, 0, 0, 0, 0, 0x42]);
    stack.link_set_mtu(dummy, 1400).unwrap();
    let a = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1));
    stack.ipaddr_add(a, 24, dummy).unwrap();
    stack
        .iproute_add(None, Some(IpAddr::V4(Ipv4Addr::new(10, 99, 0, 254))), None)
        .unwrap();

    // What the kernel's own tool reads back.
    let addrs = ns.exec(&["ip", "-j", "addr", "show", "dev", "d0"]);
    assert!(
        addrs.contains("\"local\":\"10.99.0.1\""),
        "ip -j addr: {addrs}"
    );
    assert!(addrs.contains("\"prefixlen\":24"), "ip -j addr: {addrs}");
    assert!(addrs.contains("\"mtu\":1400"), "ip -j addr: {addrs}");
    assert!(addrs.contains("02:00:00:00:00:42"), "ip -j addr: {addrs}");
    let routes = ns.exec(&["ip", "-j", "route", "show", "default"]);
    assert!(
        routes.contains("\"gateway\":\"10.99.0.254\""),
        "ip -j route: {routes}"
    );
    let found = stack.getifaddrs().unwrap();
    assert!(found.iter().any(|i| i.index == lo && i.name == "lo"));

    // Sockets of this stack live in the namespace: its address binds, the host's does not.
    let s = stack.udp_bind(SocketAddr::new(a, 0)).unwrap();
    assert_eq!(s.local_addr().unwrap().ip(), a);
    assert_errno(
        std::net::UdpSocket::bind(SocketAddr::new(a, 0)),
        libc::EADDRNOTAVAIL,
        "the host has no such address",
    );
    stack.ipaddr_del(a, 24, dummy).unwrap();
    stack.iplink_del(Some("d0"), None).unwrap();
    assert_errno(
        stack.if_nametoindex("d0"),
        libc::ENODEV,
        "deleted interface",
    );
}

#[test]
fn configuration_strings_configure_a_kernel_namespace() {
    init_logging();
    use ioth_tests::peers::{NetNs, require_netns};
    if !require_netns("the configuration string test") {
        return;
    }
    let ns = NetNs::new();
    ns.exec(&["ip", "link", "add", "eth7", "type", "bridge"]);
    let (stack, report) = Stack::from_config(&format!(
        "stack='kernel,netns={}' iface=eth7 mac=02:11:22:33:44:55 eth ip=10.98.0.2/24 gw=10.98.0.1 dns=10.98.0.53 domain=test.example",
        ns.name()
    ))
    .unwrap();
    assert!(report.eth && report.static_, "report: {report:?}");
    assert_eq!(report.mac, Some([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]));
    let idx = stack.if_nametoindex("eth7").unwrap();
    let addrs = ns.exec(&["ip", "-j", "addr", "show", "dev", "eth7"]);
    assert!(addrs.contains("\"local\":\"10.98.0.2\""), "{addrs}");
    assert!(addrs.contains("02:11:22:33:44:55"), "{addrs}");
    assert!(addrs.contains("\"UP\""), "eth brings the link up: {addrs}");
    let routes = ns.exec(&["ip", "-j", "route", "show", "default"]);
    assert!(routes.contains("10.98.0.1"), "{routes}");
    let resolv = stack.resolv_conf(idx);
    assert!(resolv.contains("nameserver 10.98.0.53"), "{resolv}");
    assert!(resolv.contains("search test.example"), "{resolv}");

    // Undo on the running stack.
    let report = stack
        .configure("iface=eth7 -ip=10.98.0.2/24 -dns=10.98.0.53")
        .unwrap();
    assert!(!report.removed.is_empty(), "{report:?}");
    let addrs = ns.exec(&["ip", "-j", "addr", "show", "dev", "eth7"]);
    assert!(!addrs.contains("10.98.0.2"), "{addrs}");
    assert!(!stack.resolv_conf(idx).contains("10.98.0.53"));

    // Bad strings name what is wrong; the kernel has no DHCP engine.
    let err = stack.configure("iface=eth7 bogus").unwrap_err();
    assert_eq!(ioth::errno_of(&err), libc::EINVAL);
    assert!(err.to_string().contains("bogus"), "{err}");
    assert_errno(
        stack.configure("vnl=vde:///x"),
        libc::EINVAL,
        "vnl= on a running stack",
    );
    let report = stack.configure_lenient("iface=eth7 dhcp").unwrap();
    assert!(
        report
            .failed
            .iter()
            .any(|(_, e)| e.raw_os_error() == Some(libc::ENOSYS)),
        "the kernel backend runs no DHCP client: {report:?}"
    );
    // Strict by default: the failed item is the error, named once, with its errno.
    let err = stack.configure("iface=eth7 dhcp").unwrap_err();
    assert_eq!(ioth::errno_of(&err), libc::ENOSYS, "{err}");
    assert!(err.to_string().contains("\"dhcp\""), "{err}");
}
