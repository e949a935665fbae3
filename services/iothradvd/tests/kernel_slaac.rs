//! The `iothradvd` program on a smoltcp stack of a real vde_switch configures a Linux kernel
//! in a network namespace (its TAP on the same switch, `accept_ra=2`, `autoconf=1`): the
//! SLAAC address in our prefix, the default route through our link-local address, the MTU,
//! hop limit, reachable time and retransmission timer (the last two prove network byte
//! order), all from the answer to the solicitation the kernel sends as its link comes up,
//! long before the next unsolicited advertisement. SIGTERM withdraws the default route.
//! The library on the kernel stack of another namespace (`stack="kernel,netns=…"`) serves
//! such a host as well.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use ioth_service::clock::SystemClock;
use ioth_tests::peers::{KernelOnTap, Peer, VdeSwitch};
use iothradvd::{Config, PrefixSpec, StackSpec};
use nlconf::hashaddr::eui64;

const ROUTER_MAC: &str = "02:00:00:00:61:01";

/// The file of sysctl `key` (`net.ipv6.conf.tap0.mtu`) in /proc/sys, which shows the
/// namespace of the process reading it (no procps needed).
fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

fn sysctl(kernel: &KernelOnTap, key: &str) -> String {
    kernel
        .ns()
        .exec(&["cat", &proc_path(key)])
        .trim()
        .to_string()
}

fn set(kernel: &KernelOnTap, key: &str, value: &str) {
    let script = format!("echo {value} > {}", proc_path(key));
    kernel.ns().exec(&["sh", "-c", &script]);
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

#[test]
fn a_kernel_does_slaac_from_the_answer_to_its_solicitation() {
    ioth_tests::init_logging();
    let Some(sw) = VdeSwitch::start() else { return };
    let Some(kernel) = KernelOnTap::join(&sw.vnl(), &[]) else {
        return;
    };
    let ns = kernel.ns();
    ns.exec(&["ip", "link", "set", "tap0", "down"]);
    for (key, value) in [
        ("net.ipv6.conf.tap0.accept_ra", "2"),
        ("net.ipv6.conf.tap0.autoconf", "1"),
        ("net.ipv6.conf.tap0.accept_dad", "0"),
    ] {
        set(&kernel, key, value);
    }
    let tap_mac = ns
        .exec(&["cat", "/sys/class/net/tap0/address"])
        .trim()
        .to_string();
    let mac = iothradvd::config::parse_mac(&tap_mac).expect("tap0's MAC");
    let expected = eui64("fd00:61::".parse().expect("literal"), mac);

    // The rc file holds the prefix and most options; the command line adds the rest.
    let rc = sw.dir().join("iothradvd.rc");
    std::fs::write(
        &rc,
        "# paste-able\nperiod 1800\nhoplimit 77\nreachable 30000\nretransmit 1000\nmtu 1400\n\
         prefix fd00:61::/64/LA/86400/14400\n",
    )
    .expect("rc file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iothradvd"));
    cmd.args(["-f", rc.to_str().expect("utf-8 path")])
        .args(["-s", &sw.vnl(), "-m", ROUTER_MAC, "-v"])
        .env("RUST_LOG", "iothradvd=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut radvd = Peer::spawn(cmd, "iothradvd");
    let stderr = radvd.child().stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let read_until = |log: &mut Vec<String>, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                let hit = line.contains(what);
                log.push(line);
                if hit {
                    return;
                }
            }
        }
        panic!("iothradvd never logged {what:?}:\n{}", log.join("\n"));
    };
    read_until(&mut log, "router advertisement to ff02::1");

    // The link comes up after the first unsolicited advertisement; the next is 16 s away.
    ns.exec(&["ip", "link", "set", "tap0", "up"]);
    let took = wait_for("the SLAAC address", Duration::from_secs(10), || {
        ns.exec(&["ip", "-6", "addr", "show", "dev", "tap0"])
            .contains(&format!("{expected}/64"))
    });
    assert!(
        took < Duration::from_secs(8),
        "answered in {took:?}: the solicited path, not the 16 s timer"
    );
    read_until(&mut log, "router solicitation from fe80::");
    read_until(&mut log, "(Unicast(fe80::");

    let addrs = ns.exec(&["ip", "-6", "addr", "show", "dev", "tap0"]);
    assert!(addrs.contains("scope global dynamic"), "{addrs}");
    let router_ll = eui64(
        "fe80::".parse().expect("literal"),
        iothradvd::config::parse_mac(ROUTER_MAC).expect("mac"),
    );
    let routes = ns.exec(&["ip", "-6", "route", "show", "default"]);
    assert!(
        routes.contains(&format!("via {router_ll} dev tap0 proto ra")),
        "{routes}"
    );
    // The MTU applies to IPv6 on the link (Linux keeps the device's 1500 for `ip link`).
    assert_eq!(sysctl(&kernel, "net.ipv6.conf.tap0.mtu"), "1400");
    assert_eq!(sysctl(&kernel, "net.ipv6.conf.tap0.hop_limit"), "77");
    assert_eq!(
        sysctl(&kernel, "net.ipv6.neigh.tap0.base_reachable_time_ms"),
        "30000"
    );
    assert_eq!(
        sysctl(&kernel, "net.ipv6.neigh.tap0.retrans_time_ms"),
        "1000"
    );
    let link = ns.exec(&["ip", "link", "show", "tap0"]);
    assert!(
        link.contains("state UP") || link.contains("LOWER_UP"),
        "{link}"
    );

    // SIGTERM: the final advertisement takes the default route away.
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(radvd.child().id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let status = radvd.wait();
    assert!(status.success(), "{status:?}");
    wait_for("the default route to go", Duration::from_secs(5), || {
        !ns.exec(&["ip", "-6", "route", "show", "default"])
            .contains("proto ra")
    });
}

/// Waits until tap0 of `kernel` has a link-local address that is no longer tentative.
fn link_local_ready(kernel: &KernelOnTap) {
    wait_for(
        "a usable link-local address",
        Duration::from_secs(10),
        || {
            let out = kernel
                .ns()
                .exec(&["ip", "-6", "addr", "show", "dev", "tap0", "scope", "link"]);
            out.contains("inet6 fe80::") && !out.contains("tentative")
        },
    );
}

#[test]
fn the_kernel_stack_of_a_namespace_advertises_as_well() {
    ioth_tests::init_logging();
    ioth_service::link_backends!();
    let Some(sw) = VdeSwitch::start() else { return };
    let Some(router) = KernelOnTap::join(&sw.vnl(), &[]) else {
        return;
    };
    let Some(host) = KernelOnTap::join(&sw.vnl(), &[]) else {
        return;
    };
    link_local_ready(&router);
    host.ns().exec(&["ip", "link", "set", "tap0", "down"]);
    set(&host, "net.ipv6.conf.tap0.accept_ra", "2");
    set(&host, "net.ipv6.conf.tap0.accept_dad", "0");

    let mut config = Config::new(
        StackSpec::Config(vec![format!(
            "stack=\"kernel,netns={}\"",
            router.ns().name()
        )]),
        "tap0",
        1800,
    );
    config.advert.prefixes = vec![PrefixSpec::parse("fd00:62::/64").expect("prefix")];
    config.advert.mtu = Some(1420);
    let radvd = iothradvd::start(config, Arc::new(SystemClock)).expect("iothradvd on the kernel");
    assert_eq!(radvd.stack().implementation(), "kernel");
    wait_for("the first advertisement", Duration::from_secs(5), || {
        radvd.counters().unsolicited == 1
    });
    host.ns().exec(&["ip", "link", "set", "tap0", "up"]);
    wait_for("the host's SLAAC address", Duration::from_secs(8), || {
        host.ns()
            .exec(&["ip", "-6", "addr", "show", "dev", "tap0"])
            .contains("inet6 fd00:62::")
    });
    let c = radvd.counters();
    assert!(
        c.unicast >= 1 && c.unsolicited == 1,
        "the solicited answer: {c:?}"
    );
    assert_eq!((c.discarded, c.send_errors), (0, 0), "{c:?}");
    assert_eq!(sysctl(&host, "net.ipv6.conf.tap0.mtu"), "1420");
    let routes = host.ns().exec(&["ip", "-6", "route", "show", "default"]);
    assert!(
        routes.contains("via fe80::") && routes.contains("proto ra"),
        "{routes}"
    );
}
