//! The seed talk's five scenarios, with its configurations moved to test addresses:
//! iothnamed on smoltcp stacks over a real vde_switch, `dig` from a kernel namespace on a
//! TAP, and upstreams that are not ours (dnsmasq as the forwarders' upstream, unbound as the
//! resolver that follows delegations). The test's clock drives the cache, hrev and OTIP.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use ioth_service::clock::ManualClock;
use ioth_tests::peers::{KernelOnTap, Peer, VdeSwitch, dnsmasq_on_tap, require_tool};
use iothnamed::Settings;

/// What dig printed: status, header flags, answer records (name, ttl, type, data).
#[derive(Debug)]
struct Dig {
    status: String,
    flags: Vec<String>,
    answers: Vec<(String, u32, String, String)>,
}

impl Dig {
    fn data(&self, ty: &str) -> Vec<&str> {
        self.answers
            .iter()
            .filter(|a| a.2 == ty)
            .map(|a| a.3.as_str())
            .collect()
    }
    fn aa(&self) -> bool {
        self.flags.iter().any(|f| f == "aa")
    }
}

fn dig(kernel: &KernelOnTap, args: &[&str]) -> Dig {
    let mut argv = vec![
        "dig",
        "+tries=1",
        "+timeout=4",
        "+noall",
        "+comments",
        "+answer",
    ];
    argv.extend(args);
    let out = kernel.ns().exec(&argv);
    let mut d = Dig {
        status: String::new(),
        flags: Vec::new(),
        answers: Vec::new(),
    };
    for line in out.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            d.status = rest.split(',').next().unwrap_or("").to_string();
        } else if let Some(rest) = line.strip_prefix(";; flags: ") {
            d.flags = rest
                .split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect();
        } else if !line.starts_with(';') && !line.trim().is_empty() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() >= 5 {
                d.answers.push((
                    f[0].to_string(),
                    f[1].parse().unwrap_or(0),
                    f[3].to_string(),
                    f[4..].join(" "),
                ));
            }
        }
    }
    assert!(!d.status.is_empty(), "dig {args:?} got no reply:\n{out}");
    d
}

/// The vde_switch, the client namespace (10.0.1.1, fc00::1), an upstream namespace
/// (10.0.1.53, fc00::53) and iothnamed's clock.
struct Scene {
    switch: VdeSwitch,
    client: KernelOnTap,
    upstream: KernelOnTap,
    clock: Arc<ManualClock>,
    _peer: Option<Peer>,
    dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Option<Scene> {
        ioth_tests::init_logging();
        ioth_service::link_backends!();
        if !require_tool("dig", "the iothnamed scenarios") {
            return None;
        }
        let switch = VdeSwitch::start()?;
        let client = KernelOnTap::join(&switch.vnl(), &["10.0.1.1/24", "fc00::1/64"])?;
        let upstream = KernelOnTap::join(&switch.vnl(), &["10.0.1.53/24", "fc00::53/64"])?;
        Some(Scene {
            switch,
            client,
            upstream,
            clock: Arc::new(ManualClock::new(Duration::from_secs(1_700_000_000))),
            _peer: None,
            dir: tempfile::tempdir().unwrap(),
        })
    }

    /// dnsmasq upstream: www.example.test (A 10.0.1.80, AAAA fc00::80), TTL 600.
    fn with_dnsmasq(mut self) -> Option<Scene> {
        if !require_tool("dnsmasq", "the iothnamed proxy scenarios") {
            return None;
        }
        let peer = dnsmasq_on_tap(
            &self.upstream,
            self.dir.path(),
            &[
                "--no-resolv",
                "--local-ttl=600",
                "--host-record=www.example.test,10.0.1.80,fc00::80",
            ],
        );
        self._peer = Some(peer);
        wait_answer(&self.client, "@10.0.1.53", "www.example.test");
        Some(self)
    }

    /// unbound upstream resolving `stubs` (zone names) through iothnamed at 10.0.1.24.
    fn with_unbound(mut self, stubs: &[&str]) -> Option<Scene> {
        if !require_tool("unbound", "the iothnamed delegation scenarios") {
            return None;
        }
        let dir = self.dir.path();
        let mut conf = format!(
            "server:\n  interface: 10.0.1.53\n  port: 53\n  access-control: 10.0.0.0/8 allow\n  \
             do-not-query-localhost: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  \
             pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  \
             module-config: \"iterator\"\n  qname-minimisation: no\n  do-ip6: no\n  \
             local-zone: \"test.\" nodefault\n  local-zone: \"10.in-addr.arpa.\" nodefault\n",
            d = dir.display()
        );
        for zone in stubs {
            conf.push_str(&format!("  domain-insecure: \"{zone}\"\n"));
        }
        for zone in stubs {
            conf.push_str(&format!(
                "stub-zone:\n  name: \"{zone}\"\n  stub-addr: 10.0.1.24\n"
            ));
        }
        let path = dir.join("unbound.conf");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(conf.as_bytes())
            .unwrap();
        let mut cmd = self.upstream.ns().command("unbound");
        cmd.arg("-d")
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        self._peer = Some(Peer::spawn(cmd, "unbound"));
        Some(self)
    }

    fn named(&self, body: &str) -> iothnamed::Handle {
        let text = format!(
            "rstack    stack=smoltcp,vnl={vnl}\nrstack    mac=80:01:01:01:01:01,eth\n\
             rstack    ip=10.0.1.24/24\nrstack    ip=fc00::24/64\n\
             fstack    stack=smoltcp,vnl={vnl}\nfstack    eth,ip=10.0.1.25/24\n{body}",
            vnl = self.switch.vnl()
        );
        let mut settings = Settings::new(text, "scenario.rc");
        settings.clock = self.clock.clone();
        iothnamed::spawn(settings).unwrap()
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

/// Waits (bounded) until `server` answers `query` (dig's words: name, type).
fn wait_answer(kernel: &KernelOnTap, server: &str, query: &str) {
    for _ in 0..50 {
        let out = kernel
            .ns()
            .command("dig")
            .args(["+tries=1", "+timeout=1", "+short", server])
            .args(query.split_whitespace())
            .output()
            .unwrap();
        if out.status.success() && !out.stdout.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{server} does not answer {query}");
}

const LOCAL_FORWARD: &str = "\
dns       10.0.1.53
net       local 10.0.1.0/24
auth      accept local
auth      static local .test.local
auth      static local 10.0.1.0/24
auth      cache local .
auth      fwd local .
static    A one.test.local 10.0.1.1
static    A two.test.local 10.0.1.2
static    PTR 10.0.1.1 one.test.local
static    PTR 10.0.1.2 two.test.local
";

#[test]
fn local_names_and_a_caching_proxy() {
    let Some(scene) = Scene::new().and_then(Scene::with_dnsmasq) else {
        return;
    };
    let named = scene.named(LOCAL_FORWARD);
    let c = &scene.client;
    let d = dig(c, &["@10.0.1.24", "one.test.local"]);
    assert_eq!(
        (d.status.as_str(), d.data("A")),
        ("NOERROR", vec!["10.0.1.1"])
    );
    assert!(d.aa());
    let d = dig(c, &["@10.0.1.24", "-x", "10.0.1.2"]);
    assert_eq!(d.data("PTR"), ["two.test.local."]);
    let d = dig(c, &["@10.0.1.24", "three.test.local"]);
    assert_eq!(d.status, "NXDOMAIN");
    // Forwarded to dnsmasq, then served from the cache with the TTL counting down.
    let d = dig(c, &["@10.0.1.24", "www.example.test"]);
    assert_eq!(d.data("A"), ["10.0.1.80"]);
    assert_eq!(d.answers[0].1, 600);
    scene.advance(100);
    let d = dig(c, &["@10.0.1.24", "www.example.test"]);
    assert_eq!(d.data("A"), ["10.0.1.80"]);
    assert!(!d.aa(), "a cache hit is not authoritative");
    assert_eq!(d.answers[0].1, 500);
    // TCP for the accept net, forwarded over TCP too.
    let d = dig(c, &["@10.0.1.24", "+tcp", "www.example.test", "AAAA"]);
    assert_eq!(d.data("AAAA"), ["fc00::80"]);
    assert!(named.counters().server.tcp_accepted >= 1);
}

#[test]
fn a_delegated_subdomain() {
    let Some(scene) = Scene::new().and_then(|s| s.with_unbound(&["dom.test"])) else {
        return;
    };
    let _named = scene.named(
        "net       world ::/0\nauth      static world .dom.test\n\
         static    A one.dom.test 192.168.1.1\nstatic    AAAA one.dom.test fc00::1\n\
         static    A two.dom.test 192.168.1.2\nstatic    AAAA two.dom.test fc00::2\n",
    );
    wait_answer(&scene.client, "@10.0.1.53", "one.dom.test");
    let c = &scene.client;
    let d = dig(c, &["@10.0.1.53", "one.dom.test"]);
    assert_eq!(
        d.data("A"),
        ["192.168.1.1"],
        "the resolver followed the delegation"
    );
    let d = dig(c, &["@10.0.1.53", "two.dom.test", "AAAA"]);
    assert_eq!(d.data("AAAA"), ["fc00::2"]);
    let d = dig(c, &["@10.0.1.53", "three.dom.test"]);
    assert_eq!(d.status, "NXDOMAIN");
}

const LOCALHASH: &str = "\
dns       10.0.1.53
net       local 10.0.1.0/24
net       local fc00::/64
auth      accept local
auth      static local hash.local
static    AAAA hash.local fc00::
auth      hash local .hash.local hash.local
auth      hrev local hash.local/64
auth      cache local .
auth      fwd local .
option    hrevmode always
";

#[test]
fn local_hash_addresses_with_reverse_and_a_proxy() {
    let Some(scene) = Scene::new().and_then(Scene::with_dnsmasq) else {
        return;
    };
    let _named = scene.named(LOCALHASH);
    let c = &scene.client;
    let d = dig(c, &["@fc00::24", "renzo.hash.local", "AAAA"]);
    assert_eq!(d.data("AAAA"), ["fc00::4cc:8049:6765:d03a"], "vector 1");
    assert!(d.aa());
    assert_eq!(d.answers[0].1, 600, "hashttl");
    let d = dig(c, &["@fc00::24", "RENZO.Hash.LOCAL", "AAAA"]);
    assert_eq!(
        d.data("AAAA"),
        ["fc00::4cc:8049:6765:d03a"],
        "any case, one address"
    );
    let rev = ["@fc00::24", "-x", "fc00::9c8f:74b4:705f:6512"];
    assert_eq!(dig(c, &rev).status, "NXDOMAIN", "not hashed yet");
    let d = dig(c, &["@fc00::24", "hic_sunt_leones.hash.local", "AAAA"]);
    assert_eq!(d.data("AAAA"), ["fc00::9c8f:74b4:705f:6512"], "vector 3");
    let d = dig(c, &rev);
    assert_eq!(
        d.data("PTR"),
        ["hic_sunt_leones.hash.local."],
        "hrev answers the name just hashed"
    );
    scene.advance(600);
    assert_eq!(dig(c, &rev).status, "NXDOMAIN", "forgotten after hashttl");
    let d = dig(c, &["@10.0.1.24", "www.example.test"]);
    assert_eq!(d.data("A"), ["10.0.1.80"], "and the rest is forwarded");
}

#[test]
fn delegated_hash_addresses() {
    let zones = [
        "hash.v2.cs.unibo.it",
        "0.0.f.f.0.0.e.2.0.6.7.0.1.0.0.2.ip6.arpa",
    ];
    let Some(scene) = Scene::new().and_then(|s| s.with_unbound(&zones)) else {
        return;
    };
    let _named = scene.named(
        "net       world ::/0\nauth      static world hash.v2.cs.unibo.it\n\
         static    AAAA hash.v2.cs.unibo.it 2001:760:2e00:ff00::\n\
         auth      hash world .hash.v2.cs.unibo.it hash.v2.cs.unibo.it\n\
         auth      hrev world hash.v2.cs.unibo.it/64\noption    hrevmode always\n",
    );
    wait_answer(&scene.client, "@10.0.1.53", "hash.v2.cs.unibo.it AAAA");
    let c = &scene.client;
    let d = dig(c, &["@10.0.1.53", "lucia.hash.v2.cs.unibo.it", "AAAA"]);
    assert_eq!(
        d.data("AAAA"),
        ["2001:760:2e00:ff00:cf1:1fe9:aad4:e838"],
        "vector 4"
    );
    let d = dig(
        c,
        &[
            "@10.0.1.53",
            "whatever-you-want.hash.v2.cs.unibo.it",
            "AAAA",
        ],
    );
    assert_eq!(
        d.data("AAAA"),
        ["2001:760:2e00:ff00:542d:ffcb:17e:8fa7"],
        "vector 5"
    );
    let d = dig(
        c,
        &["@10.0.1.53", "-x", "2001:760:2e00:ff00:542d:ffcb:17e:8fa7"],
    );
    assert_eq!(d.data("PTR"), ["whatever-you-want.hash.v2.cs.unibo.it."]);
}

#[test]
fn one_time_addresses_and_a_proxy() {
    let Some(scene) = Scene::new().and_then(Scene::with_dnsmasq) else {
        return;
    };
    let _named = scene.named(
        "dns       10.0.1.53\nnet       local 10.0.1.0/24\nnet       local fc00::/64\n\
         auth      accept local\nauth      otip local .otip fc01:: mypassword\n\
         auth      cache local .\nauth      fwd local .\n",
    );
    let c = &scene.client;
    scene.clock.set(Duration::from_secs(40));
    let d = dig(c, &["@fc00::24", "renzo.otip", "AAAA"]);
    assert_eq!(d.data("AAAA"), ["fc01::a80d:c83f:9271:d9ce"], "vector 8");
    assert_eq!(d.answers[0].1, 1, "TTL 1");
    scene.clock.set(Duration::from_secs(63));
    assert_eq!(
        dig(c, &["@fc00::24", "renzo.otip", "AAAA"]).data("AAAA"),
        ["fc01::a80d:c83f:9271:d9ce"]
    );
    scene.clock.set(Duration::from_secs(64));
    let d = dig(c, &["@fc00::24", "renzo.otip", "AAAA"]);
    assert_ne!(
        d.data("AAAA"),
        ["fc01::a80d:c83f:9271:d9ce"],
        "a new address at the 32 s boundary"
    );
    assert_eq!(d.data("AAAA").len(), 1);
    scene.clock.set(Duration::from_secs(1_738_288));
    assert_eq!(
        dig(c, &["@10.0.1.24", "renzo.otip", "AAAA"]).data("AAAA"),
        ["fc01::6c96:53ca:eb83:2907"],
        "vector 9"
    );
    assert_eq!(
        dig(c, &["@10.0.1.24", "www.example.test"]).data("A"),
        ["10.0.1.80"]
    );
}
