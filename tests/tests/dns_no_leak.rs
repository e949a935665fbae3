//! A name asked on a user-space stack never reaches the host's resolver: the test runs itself
//! again in a private network and mount namespace whose /etc/resolv.conf names a server on the
//! host's loopback (127.0.0.1:53, a scripted responder that counts what reaches it). Lookups,
//! connects and sends by name on a smoltcp stack, on its own or as the thread's default, must
//! leave that counter at zero; std's resolver and the kernel stack's resolver, asked the same
//! name, reach it (so the counter can see a leak).

use std::net::ToSocketAddrs as _;
use std::process::Command;

use ioth::Stack;
use ioth::dns::{RecordType, ResolveError};
use ioth::net::{TcpStream, UdpSocket};
use ioth_tests::dns_responder::{Responder, Script, a};
use ioth_tests::peers::{require_netns, require_tool};

const CHILD: &str = "IOTH_DNS_NO_LEAK_CHILD";
const TEST: &str = "names_asked_on_a_user_space_stack_never_reach_the_hosts_resolver";

#[test]
fn names_asked_on_a_user_space_stack_never_reach_the_hosts_resolver() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    if !require_netns("the no-leak test")
        || !require_tool("unshare", "the no-leak test")
        || !require_tool("mount", "the no-leak test")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let script = r#"mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/hosts && ip link set lo up && shift 2 && exec "$@""#;
    let status = Command::new("unshare")
        .args(["--mount", "--net", "--", "sh", "-c", script, "sh"])
        .arg(&resolv)
        .arg(&hosts)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the checks in the private namespaces failed"
    );
}

fn child() {
    ioth_tests::init_logging();
    let _ = ioth_smoltcp::NAME;
    let _ = ioth_kernel::NAME;
    let kernel = Stack::new("kernel", &[]).unwrap();
    // The "host's" server: it knows leak.test.
    let host_server = Responder::start(
        &kernel,
        "127.0.0.1:53".parse().unwrap(),
        Script {
            records: vec![a("leak.test.", 60, [127, 0, 0, 1])],
            ..Script::default()
        },
    );
    // The node's own server on its own hub: it does not.
    let hub = ioth_tests::fixtures::unique_hub();
    let (server_node, _) =
        Stack::from_config(&format!("stack=smoltcp,vnl={hub},eth,ip=10.55.0.2/24")).unwrap();
    let _node_server = Responder::start(
        &server_node,
        "0.0.0.0:53".parse().unwrap(),
        Script::default(),
    );
    let (node, _) = Stack::from_config(&format!(
        "stack=smoltcp,vnl={hub},eth,ip=10.55.0.1/24,dns=10.55.0.2"
    ))
    .unwrap();

    let err = node
        .resolver()
        .lookup("leak.test.", RecordType::A)
        .unwrap_err();
    assert!(matches!(err, ResolveError::NxDomain { .. }), "{err:?}");
    assert!(node.resolve("leak.test:80").is_err());
    assert!(TcpStream::connect_on(&node, "leak.test:80").is_err());
    let u = UdpSocket::bind_on(&node, "0.0.0.0:0").unwrap();
    assert!(u.send_to(b"x", "leak.test:9").is_err());
    {
        let _default = node.enter();
        assert!(TcpStream::connect("leak.test:80").is_err());
        assert!(
            UdpSocket::bind("0.0.0.0:0")
                .unwrap()
                .connect("leak.test:9")
                .is_err()
        );
    }
    // A stack that knows no server at all does not fall back to the host either.
    let bare =
        ioth_tests::fixtures::smoltcp_on(&ioth_tests::fixtures::unique_hub(), Some([10, 56, 0, 1]));
    assert!(matches!(
        bare.resolver().lookup_ip("leak.test"),
        Err(ResolveError::NoServers { .. })
    ));
    assert_eq!(
        host_server.count(),
        0,
        "a query leaked to the host: {:?}",
        host_server.seen()
    );

    // The control: the host's own resolvers reach the counting server.
    let std_found = ("leak.test", 80)
        .to_socket_addrs()
        .map(|a| a.count())
        .unwrap_or(0);
    assert!(
        std_found > 0,
        "std's resolver did not find leak.test through the test's resolv.conf"
    );
    assert!(host_server.count() > 0);
    let before = host_server.count();
    assert!(!kernel.resolver().lookup_ip("leak.test").unwrap().is_empty());
    assert!(
        host_server.count() > before,
        "the kernel stack's resolver uses the system's resolv.conf"
    );
}
