//! The `namedhcp` binary: bad options and rc-file lines exit non-zero naming the option or
//! FILE:LINE; serving a VNL alone (a smoltcp stack of its own on a real vde_switch, DNS over
//! `-R`), it gives this process's DHCPv6 client its address, and leaves cleanly on SIGTERM.

#![allow(clippy::unwrap_used, missing_docs)]

use std::net::{IpAddr, Ipv6Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::nlconf::client::IfaAddress;
use ioth_dns::{Server, ServerConfig, StaticZone};
use ioth_tests::peers::{Peer, VdeSwitch};

const BIN: &str = env!("CARGO_BIN_EXE_namedhcp");
const PATIENCE: Duration = Duration::from_secs(20);

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run namedhcp");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout),
    )
}

#[test]
fn help_and_bad_options() {
    let (ok, text) = run(&["--help"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("--nameserver") && text.contains("--dnssearch"),
        "{text}"
    );
    let (ok, text) = run(&["--bogus"]);
    assert!(!ok && text.contains("--bogus"), "{text}");
    let (ok, text) = run(&["-m", "zz:01:02:03:04:05"]);
    assert!(!ok && text.contains("--macaddr"), "{text}");
    let (ok, text) = run(&["-s", "stack=nosuchstack"]);
    assert!(
        !ok && text.contains("--stack") && text.contains("nosuchstack"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("bad.rc");
    std::fs::write(&rc, "# comment\ndnssearch a..b\n").unwrap();
    let (ok, text) = run(&["-f", rc.to_str().unwrap()]);
    assert!(!ok && text.contains("bad.rc:2: dnssearch"), "{text}");
    let (ok, text) = run(&["-f", "/nonexistent/namedhcp.rc"]);
    assert!(!ok && text.contains("/nonexistent/namedhcp.rc"), "{text}");
}

#[test]
fn namedhcp4_help_and_bad_options() {
    let bin4 = env!("CARGO_BIN_EXE_namedhcp4");
    let out = |args: &[&str]| {
        let o = Command::new(bin4)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout),
        )
    };
    let (ok, text) = out(&["--help"]);
    assert!(ok && text.contains("option 81"), "{text}");
    let (ok, text) = out(&["-D", "fc00::1"]);
    assert!(!ok && text.contains("--dns"), "{text}");
    let (ok, text) = out(&["-s", "vde:///tmp/nowhere"]);
    assert!(
        !ok && text.contains("--stack") && text.contains("IPv4 address"),
        "{text}"
    );
}

fn v6_addrs(s: &Stack) -> Vec<Ipv6Addr> {
    s.getifaddrs()
        .expect("getifaddrs")
        .iter()
        .filter_map(|a| match a.addr {
            IfaAddress::Ip(IpAddr::V6(v)) => Some(v),
            _ => None,
        })
        .collect()
}

#[test]
fn serving_a_vnl_from_an_rc_file() {
    ioth_service::link_backends!();
    let Some(switch) = VdeSwitch::start() else {
        return;
    };
    let vnl = switch.vnl();
    let dns_stack =
        ioth_service::stack::build(&[format!("stack=smoltcp,vnl={vnl},eth,ip=2001:db8::53/64")])
            .unwrap();
    let zone = StaticZone::parse(
        "$TTL 60\n@ IN SOA ns hm 1 3600 600 86400 60\nhost2 IN AAAA 2001:db8::77\n",
        Some("example.test."),
    )
    .unwrap();
    let _dns = Server::bind(
        &dns_stack,
        ServerConfig {
            addrs: vec!["[::]:53".parse().unwrap()],
            ..ServerConfig::default()
        },
        zone,
    )
    .unwrap();
    // The rc file says where; the command line adds the MAC.
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("namedhcp.rc");
    let pid = dir.path().join("namedhcp.pid");
    std::fs::write(
        &rc,
        format!(
            "# served on the switch by a stack of its own\nstack {vnl}\n\
             dnsstack stack=smoltcp,vnl={vnl},eth,ip=2001:db8::548/64\n\
             nameserver 2001:db8::53\ndns 2001:db8::53\npidfile {}\n",
            pid.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["-f", rc.to_str().unwrap(), "-m", "02:00:00:00:05:47", "-v"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("log")).unwrap());
    let mut server = Peer::spawn(cmd, "namedhcp");
    let client = ioth_service::stack::build(&[format!(
        "stack=smoltcp,vnl={vnl},eth,dhcp6,fqdn=host2.example.test"
    )])
    .unwrap();
    let want: Ipv6Addr = "2001:db8::77".parse().unwrap();
    let start = Instant::now();
    while !v6_addrs(&client).contains(&want) {
        if start.elapsed() > PATIENCE {
            let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
            panic!("no {want}: {:?}\nnamedhcp's log:\n{log}", v6_addrs(&client));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(pid.exists(), "the pid file");
    // SIGTERM: it leaves with status 0 and removes its pid file.
    let child_pid = server.child().id();
    // SAFETY: kill(2) on the child this test started.
    assert_eq!(unsafe { libc::kill(child_pid as i32, libc::SIGTERM) }, 0);
    let status = server.wait();
    assert!(status.success(), "{status:?}");
    assert!(!pid.exists(), "the pid file is removed");
}
