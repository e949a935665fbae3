//! The command line and rc file: the original's options and keys, the defaults we changed,
//! errors naming the option or FILE:LINE, and the advertisement they describe, decoded with
//! nlconf's parser (header fields in network byte order).

use std::ffi::OsString;
use std::net::Ipv6Addr;
use std::process::Command;

use clap::{CommandFactory, Parser};
use iothradvd::config::{Config, Options, StackSpec};
use nlconf::ndisc::{PrefixInfo, RouterAdvert, RouterPreference};

fn config(args: &[&str]) -> Result<Config, String> {
    let argv: Vec<&str> = std::iter::once("iothradvd")
        .chain(args.iter().copied())
        .collect();
    let opts = Options::try_parse_from(argv).map_err(|e| e.to_string())?;
    Config::from_options(&opts)
}

fn ok(args: &[&str]) -> Config {
    config(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn err(args: &[&str]) -> String {
    config(args).expect_err(&format!("{args:?}"))
}

#[test]
fn every_option_of_the_original_reaches_the_advertisement() {
    let c = ok(&[
        "-s",
        "vde:///tmp/sw",
        "-i",
        "vde1",
        "-m",
        "02:00:00:00:00:07",
        "-P",
        "30",
        "-H",
        "77",
        "-F",
        "MOhP",
        "-L",
        "90",
        "-r",
        "30000",
        "-R",
        "1000",
        "-M",
        "1400",
        "--rdnss",
        "fd00::53,fd00::54",
        "--rdnss",
        "fe80::1",
        "--dnssl",
        "example.test.,corp.test",
        "--dnslifetime",
        "120",
        "fc01::/64/LA/86400/14400",
        "fc02::1/48/LR",
    ]);
    assert!(matches!(
        &c.stack,
        StackSpec::Vnl { vnl, mac: Some([2, 0, 0, 0, 0, 7]) } if vnl == "vde:///tmp/sw"
    ));
    assert_eq!((c.iface.as_str(), c.period), ("vde1", 30));
    let ra = RouterAdvert::parse(&c.advert.message(Some([2, 0, 0, 0, 0, 7])).emit())
        .expect("what we emit parses");
    assert_eq!(ra.cur_hop_limit, 77);
    assert!(ra.managed && ra.other_config && ra.proxy && !ra.home_agent);
    assert_eq!(ra.preference, RouterPreference::High);
    assert_eq!(ra.router_lifetime, 90);
    assert_eq!((ra.reachable_time, ra.retrans_timer), (30000, 1000));
    assert_eq!(ra.mtu, Some(1400));
    assert_eq!(ra.source_mac, Some([2, 0, 0, 0, 0, 7]));
    assert_eq!(
        ra.prefixes,
        vec![
            PrefixInfo {
                prefix: "fc01::".parse().expect("literal"),
                prefix_len: 64,
                on_link: true,
                autonomous: true,
                router_address: false,
                valid_lifetime: 86400,
                preferred_lifetime: 14400,
            },
            PrefixInfo {
                prefix: "fc02::1".parse().expect("literal"),
                prefix_len: 48,
                on_link: true,
                autonomous: false,
                router_address: true,
                valid_lifetime: 2_592_000,
                preferred_lifetime: 604_800,
            },
        ]
    );
    let servers: Vec<(Ipv6Addr, u32)> = ["fd00::53", "fd00::54", "fe80::1"]
        .iter()
        .map(|a| (a.parse().expect("literal"), 120))
        .collect();
    assert_eq!(ra.dns_servers, servers);
    assert_eq!(
        ra.search_domains,
        vec![("example.test".into(), 120), ("corp.test".into(), 120)]
    );
}

#[test]
fn reachable_and_retransmit_go_out_in_network_byte_order() {
    let c = ok(&["-r", "30000", "-R", "1000"]);
    let b = c.advert.message(None).emit();
    // The original sent 30000 in host order: 0x30750000 = 812974080 on the wire.
    assert_eq!(&b[8..12], &30000u32.to_be_bytes());
    assert_eq!(&b[12..16], &1000u32.to_be_bytes());
    assert_eq!(&b[6..8], &1800u16.to_be_bytes(), "router lifetime 3 x 600");
}

#[test]
fn the_defaults_are_rfc_4861s_not_the_originals_zeros() {
    let c = ok(&["fd00::/64"]);
    assert!(matches!(c.stack, StackSpec::Kernel));
    assert_eq!((c.iface.as_str(), c.period), ("vde0", 600));
    let ra = RouterAdvert::parse(&c.advert.message(None).emit()).expect("parses");
    assert_eq!((ra.cur_hop_limit, ra.router_lifetime), (64, 1800));
    assert_eq!((ra.reachable_time, ra.retrans_timer, ra.mtu), (0, 0, None));
    let p = &ra.prefixes[0];
    assert!(p.on_link && p.autonomous, "LA by default");
    assert_eq!(
        (p.valid_lifetime, p.preferred_lifetime),
        (2_592_000, 604_800)
    );
    let solicited_only = ok(&["-P", "0"]);
    assert_eq!(solicited_only.advert.router_lifetime, 9000);
    assert_eq!(solicited_only.advert.dns_lifetime, u32::MAX);
}

#[test]
fn the_stack_option_tells_vnls_from_iothconf_strings() {
    let stack = |s: &str| ok(&["-s", s]).stack;
    assert!(matches!(stack("hub://@lan"), StackSpec::Vnl { .. }));
    assert!(matches!(stack("vxvde://239.0.0.1"), StackSpec::Vnl { .. }));
    assert!(matches!(
        stack("stack=smoltcp,vnl=vde:///tmp/sw,eth"),
        StackSpec::Config(l) if l == ["stack=smoltcp,vnl=vde:///tmp/sw,eth"]
    ));
    assert!(matches!(stack("stack=kernel"), StackSpec::Config(_)));
    assert!(err(&["-s", "stack=kernel", "-m", "02:00:00:00:00:01"]).starts_with("--macaddr"));
    assert!(err(&["-m", "02:00:00:00:00:01"]).starts_with("--macaddr"));
}

#[test]
fn bad_values_name_their_option() {
    let cases: &[(&[&str], &str)] = &[
        (&["-P", "2"], "--period 2"),
        (&["-P", "1801"], "--period 1801"),
        (&["-P", "30", "-L", "10"], "--lifetime 10"),
        (&["-r", "3600001"], "--reachable 3600001"),
        (&["-M", "1000"], "--mtu 1000"),
        (&["-H", "256"], "--hoplimit"),
        (&["-F", "hl"], "--flags"),
        (&["-F", "X"], "--flags"),
        (&["-m", "01:00:00:00:00:01", "-s", "hub://@x"], "--macaddr"),
        (&["-m", "0:0:0:0:0"], "--macaddr"),
        (&["--rdnss", "ff02::1"], "--rdnss"),
        (&["--dnssl", "a..b"], "--dnssl"),
        (&["fd00::/64/LA/10/20"], "PREFIX"),
        (&["--prefix", "fe80::/64"], "--prefix"),
    ];
    for (args, want) in cases {
        let e = err(args);
        assert!(e.contains(want), "{args:?}: {e}");
    }
    // Lifetime 0 (not a default router) is always allowed.
    assert_eq!(ok(&["-P", "30", "-L", "0"]).advert.router_lifetime, 0);
}

#[test]
fn rc_files_use_the_long_names_and_the_command_line_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rc = dir.path().join("radvd.rc");
    std::fs::write(
        &rc,
        "# the original's keys\nstack hub://@rc\nperiod 30\nhoplimit 70\nmtu 1400\n\
         prefix fd00:1::/64\nprefix fd00:2::/64/L\nrdnss fd00:1::53\n  verbose\n",
    )
    .expect("write rc");
    let merged = |args: &[&str]| -> Config {
        let argv: Vec<OsString> = std::iter::once("iothradvd")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        let argv =
            ioth_service::rcfile::merged_args(&Options::command(), &rc, argv).expect("rc merges");
        Config::from_options(&Options::try_parse_from(argv).expect("parses")).expect("valid")
    };
    let c = merged(&["-H", "80"]);
    assert_eq!(c.advert.cur_hop_limit, 80, "the command line wins");
    assert_eq!((c.period, c.advert.mtu), (30, Some(1400)));
    assert_eq!(c.advert.prefixes.len(), 2, "prefix lines accumulate");
    assert!(!c.advert.prefixes[1].autonomous);
    // Prefixes on the command line replace the rc file's, as in the original.
    let c = merged(&["fd00:9::/64"]);
    assert_eq!(c.advert.prefixes.len(), 1);
    assert_eq!(c.advert.prefixes[0].prefix.to_string(), "fd00:9::");

    std::fs::write(&rc, "period 30\nprefix fd00::/64/Q\n").expect("write rc");
    let argv = vec![OsString::from("iothradvd")];
    let e = ioth_service::rcfile::merged_args(&Options::command(), &rc, argv)
        .expect_err("a bad prefix line");
    assert!(
        e.starts_with(&format!("{}:2: prefix:", rc.display())) && e.contains("unknown flag 'Q'"),
        "{e}"
    );
}

fn binary(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iothradvd"))
        .args(args)
        .output()
        .expect("run iothradvd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout),
    )
}

#[test]
fn the_program_explains_itself_and_fails_loudly() {
    let (code, text) = binary(&["--help"]);
    assert_eq!(code, 0);
    for opt in [
        "--stack",
        "--iface",
        "--macaddr",
        "--period",
        "--hoplimit",
        "--flags",
        "--lifetime",
        "--reachable",
        "--retransmit",
        "--mtu",
        "--rdnss",
        "--dnssl",
        "--rcfile",
        "--daemon",
        "--pidfile",
        "--verbose",
    ] {
        assert!(text.contains(opt), "--help lacks {opt}");
    }
    let (code, text) = binary(&["-P", "2"]);
    assert_eq!(code, 1);
    assert!(text.contains("--period 2"), "{text}");
    let (code, text) = binary(&["--bogus"]);
    assert_eq!(code, 2);
    assert!(text.contains("--bogus"), "{text}");
    let dir = tempfile::tempdir().expect("tempdir");
    let rc = dir.path().join("bad.rc");
    std::fs::write(&rc, "period 30\nbogus 1\n").expect("write");
    let (code, text) = binary(&["-f", rc.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    assert!(text.contains("bad.rc:2: bogus: unknown option"), "{text}");
    let (code, text) = binary(&[
        "-s",
        "stack=smoltcp,vnl=null://",
        "-i",
        "nosuch0",
        "fd00::/64",
    ]);
    assert_eq!(code, 1);
    assert!(text.contains("interface nosuch0"), "{text}");
}
