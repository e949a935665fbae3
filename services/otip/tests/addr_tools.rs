//! `hashaddr` and `otipaddr` as built, on the reference's vectors (§8 rows 1–12), their
//! errors, and base names resolved over a stack given with `-s` through an in-process DNS
//! server.

#![allow(clippy::unwrap_used, missing_docs)]

use std::net::Ipv6Addr;
use std::process::{Command, Output};

use ioth::Stack;
use ioth_dns::{Server, ServerConfig, StaticZone};
use ioth_otip::addrtool::{BaseOptions, base_address};

const HASHADDR: &str = env!("CARGO_BIN_EXE_hashaddr");
const OTIPADDR: &str = env!("CARGO_BIN_EXE_otipaddr");

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout_of(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn hashaddr_prints_rows_1_to_6() {
    for (base, name, want) in [
        ("fc00::", "renzo.hash.local", "fc00::4cc:8049:6765:d03a"),
        ("fc00::", "renzo.hash.local.", "fc00::4cc:8049:6765:d03a"),
        (
            "fc00::",
            "hic_sunt_leones.hash.local.",
            "fc00::9c8f:74b4:705f:6512",
        ),
        (
            "2001:760:2e00:ff00::",
            "lucia.hash.v2.cs.unibo.it",
            "2001:760:2e00:ff00:cf1:1fe9:aad4:e838",
        ),
        (
            "2001:760:2e00:ff00::",
            "whatever-you-want.hash.v2.cs.unibo.it.",
            "2001:760:2e00:ff00:542d:ffcb:17e:8fa7",
        ),
        ("fc01::", "host.hash.local", "fc01::3c33:4b38:1351:d163"),
    ] {
        assert_eq!(
            stdout_of(HASHADDR, &["-b", base, name]),
            format!("{want}\n"),
            "{name}"
        );
    }
    // The long spellings of -b.
    assert_eq!(
        stdout_of(HASHADDR, &["--baseaddr", "fc00::", "renzo.hash.local"]),
        "fc00::4cc:8049:6765:d03a\n"
    );
    assert_eq!(
        stdout_of(HASHADDR, &["--base=fc00::", "renzo.hash.local"]),
        "fc00::4cc:8049:6765:d03a\n"
    );
}

#[test]
fn otipaddr_prints_rows_7_to_12_at_their_times() {
    for (base, name, pw, time, want) in [
        (
            "fc01::",
            "renzo.otip",
            "mypassword",
            "10",
            "fc01::a086:5677:2679:16f9",
        ),
        (
            "fc01::",
            "renzo.otip",
            "mypassword",
            "40",
            "fc01::a80d:c83f:9271:d9ce",
        ),
        (
            "fc01::",
            "renzo.otip",
            "mypassword",
            "1738288",
            "fc01::6c96:53ca:eb83:2907",
        ),
        (
            "fc01::",
            "renzo.otip.",
            "mypassword",
            "1738288",
            "fc01::6c96:53ca:eb83:2907",
        ),
        (
            "fc00::",
            "sensor.iot.local",
            "secret",
            "40",
            "fc00::1041:adb6:86d9:8900",
        ),
        (
            "2001:760:2e00:ff00::",
            "test.otip.v2.cs.unibo.it",
            "secret_password",
            "1738288",
            "2001:760:2e00:ff00:6093:6dff:e052:6b26",
        ),
    ] {
        let got = stdout_of(OTIPADDR, &["-b", base, "--time", time, name, pw]);
        assert_eq!(got, format!("{want}\n"), "{name} at {time}");
    }
    // -T changes the slot: at 40 with a period of 40 the slot is 1, as at 40 with 32.
    assert_eq!(
        stdout_of(
            OTIPADDR,
            &[
                "-b",
                "fc01::",
                "-T",
                "40",
                "--time",
                "79",
                "renzo.otip",
                "mypassword"
            ]
        ),
        "fc01::a80d:c83f:9271:d9ce\n"
    );
    assert_eq!(
        stdout_of(
            OTIPADDR,
            &[
                "-b",
                "fc01::",
                "--period",
                "40",
                "--time",
                "80",
                "renzo.otip",
                "mypassword"
            ]
        ),
        stdout_of(
            OTIPADDR,
            &["-b", "fc01::", "--time", "64", "renzo.otip", "mypassword"]
        ),
        "slot 2 either way"
    );
}

#[test]
fn otipaddr_without_time_uses_the_clock() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let got = stdout_of(OTIPADDR, &["-b", "fc01::", "renzo.otip", "mypassword"]);
    // The slot may turn between the two moments: accept this one's or the next one's.
    let at = |t: u64| {
        stdout_of(
            OTIPADDR,
            &[
                "-b",
                "fc01::",
                "--time",
                &t.to_string(),
                "renzo.otip",
                "mypassword",
            ],
        )
    };
    assert!(got == at(now) || got == at(now + 32), "{got}");
}

#[test]
fn errors_say_what_is_wrong_and_fail() {
    for (program, args, says) in [
        (HASHADDR, &["renzo"][..], "missing domain name: renzo"),
        (HASHADDR, &["renzo."][..], "missing domain name: renzo."),
        (
            HASHADDR,
            &["-b", "fc00::zz", "x.y"][..],
            "invalid base address: fc00::zz",
        ),
        (
            OTIPADDR,
            &["-b", "fc00::", "-T", "x", "a.b", "pw"][..],
            "--period",
        ),
        (OTIPADDR, &["-b", "fc00::", "a.b"][..], "PASSWORD"),
        (HASHADDR, &["-b", "fc00::", "a.b", "extra"][..], "extra"),
        (
            HASHADDR,
            &["-s", "stack=nosuchstack", "a.b.c"][..],
            "nosuchstack",
        ),
        (
            HASHADDR,
            &["-D", "10.0.0.1,ab", "a.b.c"][..],
            "`ab` is not an IP address",
        ),
        (
            HASHADDR,
            &["-D", "10.0.0.1,zz", "a.b.c"][..],
            "names no server",
        ),
        (
            HASHADDR,
            &["-D", "nameserver 10.0.0.1\noptions ndots:x\n", "a.b.c"][..],
            "--dns",
        ),
    ] {
        let out = run(program, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn help_documents_every_option() {
    let help = stdout_of(HASHADDR, &["--help"]);
    for opt in [
        "--base",
        "baseaddr",
        "--dns",
        "--dnsstack",
        "-s",
        "-b",
        "-D",
        "NAME",
    ] {
        assert!(help.contains(opt), "hashaddr --help lacks {opt}:\n{help}");
    }
    let help = stdout_of(OTIPADDR, &["--help"]);
    for opt in [
        "--base",
        "--dns",
        "--dnsstack",
        "--period",
        "-T",
        "--time",
        "PASSWORD",
    ] {
        assert!(help.contains(opt), "otipaddr --help lacks {opt}:\n{help}");
    }
}

/// A DNS server on a smoltcp stack at 10.77.N.53 on a hub served at DIR/hub (other
/// processes join it as vde://DIR/hub), holding the base addresses of the vectors.
struct Dns {
    _stack: Stack,
    _server: ioth_dns::ServerHandle,
    vnl: String,
    net: u8,
    _dir: tempfile::TempDir,
}

fn dns_server(net: u8) -> Dns {
    ioth_service::link_backends!();
    ioth_tests::init_logging();
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub");
    let (stack, report) = Stack::from_config(&format!(
        "stack=smoltcp vnl=hub://{} eth ip=10.77.{net}.53/24",
        hub.display()
    ))
    .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let zone = StaticZone::parse(
        "$TTL 300\n\
         @ IN SOA ns admin 1 3600 600 86400 60\n\
         @ IN NS ns\n\
         ns IN A 10.77.0.53\n\
         hash IN AAAA fc00::\n\
         iot IN AAAA fc00::\n\
         two IN AAAA fc02::\n\
         two IN AAAA fc03::\n",
        Some("local."),
    )
    .unwrap();
    let server = Server::bind(&stack, ServerConfig::default(), zone).unwrap();
    Dns {
        _stack: stack,
        _server: server,
        vnl: format!("vde://{}", hub.display()),
        net,
        _dir: dir,
    }
}

impl Dns {
    /// The -s string of a client node on the hub.
    fn node(&self, extra: &str) -> String {
        format!(
            "stack=smoltcp,vnl={},eth,ip=10.77.{}.2/24{extra}",
            self.vnl, self.net
        )
    }
    fn server(&self) -> String {
        format!("10.77.{}.53", self.net)
    }
}

#[test]
fn base_names_resolve_over_the_dns_stack() {
    let dns = dns_server(1);
    let node = dns.node("");
    let server = dns.server();
    // Without -b, NAME's domain is the base; a trailing dot still resolves (the original
    // never found "hash.local.").
    for (name, want) in [
        ("renzo.hash.local", "fc00::4cc:8049:6765:d03a"),
        ("renzo.hash.local.", "fc00::4cc:8049:6765:d03a"),
        ("hic_sunt_leones.hash.local.", "fc00::9c8f:74b4:705f:6512"),
    ] {
        let got = stdout_of(HASHADDR, &["-s", &node, "-D", &server, name]);
        assert_eq!(got, format!("{want}\n"), "{name}");
    }
    // -b with a name; the servers the stack was given (dns=) when there is no -D.
    let got = stdout_of(
        OTIPADDR,
        &[
            "-s",
            &dns.node(&format!(",dns={server}")),
            "-b",
            "iot.local",
            "--time",
            "40",
            "sensor.iot.local",
            "secret",
        ],
    );
    assert_eq!(got, "fc00::1041:adb6:86d9:8900\n");
    // resolv.conf text for -D.
    let conf = format!("nameserver {server}\n");
    let got = stdout_of(
        OTIPADDR,
        &[
            "--dnsstack",
            &node,
            "--dns",
            &conf,
            "--time",
            "40",
            "sensor.iot.local",
            "secret",
        ],
    );
    assert_eq!(got, "fc00::1041:adb6:86d9:8900\n");
    // A base with no address fails, naming it.
    let out = run(HASHADDR, &["-s", &node, "-D", &server, "x.nothing.local"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("domain name base address not found: nothing.local"),
        "{err}"
    );
}

#[test]
fn the_library_resolves_the_base_in_process_and_takes_the_first_of_several() {
    let dns = dns_server(2);
    let opts = BaseOptions {
        base: Some("two.local".into()),
        dns: Some(dns.server()),
        dnsstack: Some(dns.node("")),
    };
    let base = base_address(&opts, "x.two.local").unwrap();
    assert!(
        [
            Ipv6Addr::from([0xfc02, 0, 0, 0, 0, 0, 0, 0]),
            Ipv6Addr::from([0xfc03, 0, 0, 0, 0, 0, 0, 0])
        ]
        .contains(&base),
        "{base}"
    );
    let opts = BaseOptions { base: None, ..opts };
    assert_eq!(
        base_address(&opts, "renzo.hash.local.").unwrap(),
        "fc00::".parse::<Ipv6Addr>().unwrap()
    );
}
