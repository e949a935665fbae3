use super::*;
use crate::domain::Domain;
use proptest::prelude::*;

const LOCALHASH: &str = "\
rstack    stack=smoltcp,vnl=vde:///tmp/hub
rstack    mac=80:01:01:01:01:01,eth
rstack    ip=192.168.1.24/24
rstack    ip=fc00::24/64
fstack    stack=kernel

dns       8.8.8.8
dns       80.80.80.80

net       local 192.168.1.0/24
net       local fc00::/64
auth      accept local

# define the base address as a static record
auth      static local hash.local
static    AAAA hash.local fc00::

auth      hash local .hash.local hash.local
auth      hrev local hash.local/64
auth      cache local .
auth      fwd local .

option hrevmode always
";

#[test]
fn reads_the_talks_localhash_configuration() {
    let c = Config::parse(LOCALHASH, "localhash.rc").expect("parse");
    assert_eq!(c.stacks.serve.len(), 4);
    assert_eq!(c.stacks.forward, ["stack=kernel"]);
    assert_eq!(c.dns.len(), 2);
    assert_eq!(c.nets.len(), 1);
    assert_eq!(c.nets[0].prefixes.len(), 2);
    let kinds: Vec<AuthKind> = c.auths.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            AuthKind::Accept,
            AuthKind::Static,
            AuthKind::Hash,
            AuthKind::Hrev,
            AuthKind::Cache,
            AuthKind::Fwd
        ]
    );
    assert_eq!(c.auths[2].base, Some(BaseSpec::Name("hash.local".into())));
    assert_eq!(
        c.auths[2].domain,
        Some(DomainSpec::Ready(Domain::Under("hash.local".into())))
    );
    assert_eq!(
        c.auths[3].domain,
        Some(DomainSpec::ReverseOfName {
            name: "hash.local".into(),
            len: 64
        })
    );
    assert_eq!(c.auths[2].line, 18);
    assert_eq!(c.statics.len(), 1);
    assert_eq!(c.options.hrevmode, HrevMode::Always);
}

#[test]
fn keywords_are_case_insensitive_and_eight_characters_long() {
    let c = Config::parse(
        "NET world ::/0\nAUTH OTIP world .otip fc01:: pw\nOption TCPLISTENxyz 9\noption hrevmode NEVER\n  static a x.y 1.2.3.4\n",
        "k.rc",
    )
    .expect("parse");
    assert_eq!(c.auths[0].kind, AuthKind::Otip);
    assert_eq!(c.auths[0].password.as_deref(), Some("pw"));
    assert_eq!(c.options.tcp_listen_backlog, 9);
    assert_eq!(c.options.hrevmode, HrevMode::Never);
    assert_eq!(c.statics.len(), 1, "an indented line is a line");
}

#[test]
fn every_fault_is_reported_with_its_line() {
    let text = "\
net local 10.0.0.0/8
auth static nowhere .x
dns 1.2.3.4
dns banana
auth hash local .h
option hashttl -3
frobnicate
static A x 1.2.3.4.5
auth otip local .o 10.0.0.1 pw
net bad 10.0.0.0
dns ::1
dns ::2
dns ::3
";
    let err = Config::parse(text, "bad.rc").expect_err("faults");
    let lines: Vec<&str> = err.0.iter().map(String::as_str).collect();
    let want = [
        "bad.rc:2: auth static: net \"nowhere\" is not defined",
        "bad.rc:4: dns: \"banana\" is not an IP address",
        "bad.rc:5: auth hash: expected NETS DOMAIN BASE",
        "bad.rc:6: option hashttl",
        "bad.rc:7: unknown directive",
        "bad.rc:8: static A",
        "bad.rc:9: auth otip: base \"10.0.0.1\" must be IPv6",
        "bad.rc:10: net bad",
        "bad.rc:13: dns: at most 3 servers",
    ];
    assert_eq!(lines.len(), want.len(), "{lines:#?}");
    for (got, want) in lines.iter().zip(want) {
        assert!(got.starts_with(want), "{got:?} should start with {want:?}");
    }
}

#[test]
fn stack_and_rstack_do_not_mix() {
    let err =
        Config::parse("stack stack=kernel\nrstack stack=kernel\n", "m.rc").expect_err("mixed");
    assert!(err.to_string().contains("cannot be used together"), "{err}");
}

#[test]
fn more_than_thirty_one_nets() {
    let mut text = String::new();
    for i in 0..100 {
        text.push_str(&format!("net n{i} 10.{i}.0.0/16\n"));
    }
    text.push_str("auth static n99 .x\n");
    let c = Config::parse(&text, "many.rc").expect("parse");
    assert_eq!(c.nets.len(), 100);
    assert_eq!(c.auths[0].nets, [99]);
}

proptest! {
    #[test]
    fn any_text_parses_or_names_lines(text in "\\PC{0,300}") {
        if let Err(e) = Config::parse(&text, "p") {
            prop_assert!(!e.0.is_empty());
            for line in &e.0 {
                prop_assert!(line.starts_with("p:"));
            }
        }
    }
}
