//! namedhcp against a kernel DHCPv6 client: dhcpcd in a network namespace of the test's own,
//! on a TAP joined to a real vde_switch by vde_plug, sending its FQDN. namedhcp and the DNS
//! (a StaticZone) are smoltcp stacks of this process on the same switch. dhcpcd runs with no
//! hook script (it must not touch the host's resolv.conf or hostname), with private `/run`
//! and `/var/lib/dhcpcd` (a tmpfs in the mount namespace `ip netns exec` makes) and in a PID
//! namespace of its own, so that none of its helper processes outlives the test.

#![allow(clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::dns::Resolver;
use ioth_dns::{Server, ServerConfig, StaticZone};
use ioth_service::clock::SystemClock;
use ioth_tests::peers::{KernelOnTap, Peer, VdeSwitch, require_tool};
use namedhcp::{Config, Server6};

const PATIENCE: Duration = Duration::from_secs(30);

const ZONE: &str = "$TTL 60
@      IN SOA ns hostmaster 1 3600 600 86400 60
host1  IN AAAA 2001:db8::42
";

fn stack(line: &str) -> Stack {
    ioth_service::stack::build(&[line.to_string()]).expect(line)
}

#[test]
fn dhcpcd_sending_its_fqdn_gets_the_address_dns_holds() {
    ioth_service::link_backends!();
    let _ = env_logger::builder().is_test(true).try_init();
    if !require_tool("dhcpcd", "the namedhcp test with a kernel DHCPv6 client")
        || !require_tool("unshare", "the namedhcp test with a kernel DHCPv6 client")
    {
        return;
    }
    let Some(switch) = VdeSwitch::start() else {
        return;
    };
    let vnl = switch.vnl();
    let dns_stack = stack(&format!("stack=smoltcp,vnl={vnl},eth,ip=2001:db8::53/64"));
    let zone = StaticZone::parse(ZONE, Some("example.test.")).expect("zone");
    let _dns = Server::bind(
        &dns_stack,
        ServerConfig {
            addrs: vec!["[::]:53".parse().unwrap()],
            ..ServerConfig::default()
        },
        zone,
    )
    .expect("DNS server");
    let server_stack = stack(&format!("stack=smoltcp,vnl={vnl},eth,ip=2001:db8::547/64"));
    let server = namedhcp::spawn(Config {
        stack: server_stack.clone(),
        iface: "vde0".into(),
        resolver: Resolver::from_servers(
            &server_stack,
            &[SocketAddr::new("2001:db8::53".parse().unwrap(), 53)],
        ),
        server: Server6 {
            dns: vec!["2001:db8::53".parse().unwrap()],
            ..Server6::default()
        },
        mac: None,
        clock: Arc::new(SystemClock),
    })
    .expect("namedhcp");

    let Some(kernel) = KernelOnTap::join(&vnl, &[]) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("dhcpcd.conf");
    // No router solicitation (there is no router): DHCPv6 for one IA_NA at once, with the
    // client's name in the FQDN option (S set: "the server updates the AAAA record").
    std::fs::write(
        &conf,
        "noipv6rs\nipv6only\nia_na 1\nhostname host1.example.test\nfqdn both\n\
         option dhcp6_name_servers\n",
    )
    .expect("dhcpcd.conf");
    let log = std::fs::File::create(dir.path().join("dhcpcd.log")).expect("log");
    // A PID namespace of its own, whose first process dies with its parent (--kill-child):
    // dhcpcd's privilege-separation helpers go with it when the test kills it.
    let mut cmd = kernel.ns().command("unshare");
    cmd.args(["--pid", "--fork", "--kill-child", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/lib/dhcpcd && \
             exec dhcpcd -B -d -6 -f {} -c /bin/true tap0",
            conf.display()
        ))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    let _dhcpcd = Peer::spawn(cmd, "dhcpcd");

    let start = Instant::now();
    loop {
        let out = kernel
            .ns()
            .exec(&["ip", "-6", "addr", "show", "dev", "tap0"]);
        if out.contains("2001:db8::42") {
            break;
        }
        if start.elapsed() > PATIENCE {
            let log = std::fs::read_to_string(dir.path().join("dhcpcd.log")).unwrap_or_default();
            panic!(
                "dhcpcd got no 2001:db8::42 in {PATIENCE:?}: {out}\nserver {:?}\ndhcpcd log:\n{log}",
                server.counters()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let c = server.counters();
    assert!(c.replied >= 1, "{c:?}");
}
