//! namedhcp4 against dhcpcd (DHCPv4) in a network namespace of the test's own, on a TAP
//! joined to a real vde_switch: dhcpcd sends its FQDN (option 81) and gets the A record as
//! its address and the TXT record's mask and router; namedhcp4 and the DNS are smoltcp
//! stacks of this process on the switch. dhcpcd runs as in tests/dhcpcd.rs (no hooks,
//! private /run and /var/lib/dhcpcd, its own PID namespace).

#![allow(clippy::unwrap_used, missing_docs)]

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ioth::dns::Resolver;
use ioth_dns::{Server, ServerConfig, StaticZone};
use ioth_tests::peers::{KernelOnTap, Peer, VdeSwitch, require_tool};
use namedhcp::v4::{Config4, Server4};

const PATIENCE: Duration = Duration::from_secs(30);

const ZONE: &str = "$TTL 60
@    IN SOA ns hostmaster 1 3600 600 86400 60
one  IN A   192.168.77.1
one  IN TXT \"mask=255.255.255.0,router=192.168.77.254,broadcast=192.168.77.255,dns=192.168.77.24\"
";

#[test]
fn dhcpcd_sending_its_fqdn_gets_the_a_record_and_txt_options() {
    ioth_service::link_backends!();
    let _ = env_logger::builder().is_test(true).try_init();
    if !require_tool("dhcpcd", "the namedhcp4 test with a kernel DHCPv4 client")
        || !require_tool("unshare", "the namedhcp4 test with a kernel DHCPv4 client")
    {
        return;
    }
    let Some(switch) = VdeSwitch::start() else {
        return;
    };
    let vnl = switch.vnl();
    let dns_stack =
        ioth_service::stack::build(&[format!("stack=smoltcp,vnl={vnl},eth,ip=192.168.77.24/24")])
            .unwrap();
    let _dns = Server::bind(
        &dns_stack,
        ServerConfig {
            addrs: vec!["0.0.0.0:53".parse().unwrap()],
            ..ServerConfig::default()
        },
        StaticZone::parse(ZONE, Some("test.local.")).unwrap(),
    )
    .unwrap();
    let server_stack =
        ioth_service::stack::build(&[format!("stack=smoltcp,vnl={vnl},eth,ip=192.168.77.25/24")])
            .unwrap();
    let server = namedhcp::v4::spawn4(Config4 {
        stack: server_stack.clone(),
        iface: "vde0".into(),
        resolver: Resolver::from_servers(
            &server_stack,
            &[SocketAddr::new(Ipv4Addr::new(192, 168, 77, 24).into(), 53)],
        ),
        server: Server4 {
            id: Ipv4Addr::UNSPECIFIED,
            defaults: Default::default(),
        },
    })
    .unwrap();
    assert_eq!(server.server().id, Ipv4Addr::new(192, 168, 77, 25));

    let Some(kernel) = KernelOnTap::join(&vnl, &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("dhcpcd.conf");
    std::fs::write(
        &conf,
        "ipv4only\nnoarp\nhostname one.test.local\nfqdn both\n\
         option subnet_mask, routers, broadcast_address, domain_name_servers\n",
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("dhcpcd.log")).unwrap();
    let mut cmd = kernel.ns().command("unshare");
    cmd.args(["--pid", "--fork", "--kill-child", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/lib/dhcpcd && \
             exec dhcpcd -B -d -4 -f {} -c /bin/true tap0",
            conf.display()
        ))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let _dhcpcd = Peer::spawn(cmd, "dhcpcd");

    let start = Instant::now();
    loop {
        let addr = kernel
            .ns()
            .exec(&["ip", "-4", "addr", "show", "dev", "tap0"]);
        let route = kernel.ns().exec(&["ip", "-4", "route", "show"]);
        if addr.contains("192.168.77.1/24") && route.contains("default via 192.168.77.254") {
            break;
        }
        if start.elapsed() > PATIENCE {
            let log = std::fs::read_to_string(dir.path().join("dhcpcd.log")).unwrap_or_default();
            panic!(
                "dhcpcd got no 192.168.77.1/24 via 192.168.77.254 in {PATIENCE:?}:\n{addr}\n{route}\n\
                 server {:?}\ndhcpcd log:\n{log}",
                server.counters()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.counters().replied >= 2, "{:?}", server.counters());
}
