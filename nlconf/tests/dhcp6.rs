//! DHCPv6: the message codec (round trips, wire bytes, rejection of malformed input naming the
//! part) and the client state machine against scripted server messages.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::net::Ipv6Addr;
use std::time::Duration;

use nlconf::dhcp6::{
    ALL_DHCP_RELAY_AGENTS_AND_SERVERS, Action, ClientFqdn, Dhcp6Client, Dhcp6Message, Dhcp6Option,
    INFINITY, IaAddr, IaAddrOption, IaNa, IaNaOption, Lease6, MessageType, Mode, ParseError,
    RawOption, State, StatusCode, code, status,
};
use proptest::prelude::*;

const MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x42];
const IAID: u32 = 0x0a0b_0c0d;
const SERVER: &[u8] = &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1];
const OTHER_SERVER: &[u8] = &[0, 3, 0, 1, 2, 0, 0, 0, 0, 2];
const ADDR: Ipv6Addr = Ipv6Addr::new(0xfd00, 6, 0, 0, 0, 0, 0, 0x150);
const ADDR2: Ipv6Addr = Ipv6Addr::new(0xfd00, 6, 0, 0, 0, 0, 0, 0x151);
const DNS: Ipv6Addr = Ipv6Addr::new(0xfd00, 6, 0, 0, 0, 0, 0, 0x53);

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

// ---------------------------------------------------------------- the message codec

fn status_of(code: u16, message: &str) -> StatusCode {
    StatusCode {
        code,
        message: message.into(),
    }
}

fn every_option() -> Vec<Dhcp6Option> {
    vec![
        Dhcp6Option::ClientId(vec![0, 3, 0, 1, 2, 0, 0, 0, 0, 0x42]),
        Dhcp6Option::ServerId(SERVER.to_vec()),
        Dhcp6Option::IaNa(IaNa {
            iaid: IAID,
            t1: 1800,
            t2: 2880,
            options: vec![
                IaNaOption::IaAddr(IaAddr {
                    addr: ADDR,
                    preferred: 3600,
                    valid: INFINITY,
                    options: vec![
                        IaAddrOption::StatusCode(status_of(status::SUCCESS, "ok")),
                        IaAddrOption::Unknown(RawOption {
                            code: 999,
                            data: vec![1, 2],
                        }),
                    ],
                }),
                IaNaOption::StatusCode(status_of(status::SUCCESS, "")),
                IaNaOption::Unknown(RawOption {
                    code: 1000,
                    data: vec![],
                }),
            ],
        }),
        Dhcp6Option::Oro(vec![code::DNS_SERVERS, code::DOMAIN_LIST]),
        Dhcp6Option::Preference(200),
        Dhcp6Option::ElapsedTime(1234),
        Dhcp6Option::Unicast(Ipv6Addr::new(0xfd00, 6, 0, 0, 0, 0, 0, 1)),
        Dhcp6Option::StatusCode(status_of(status::NO_ADDRS_AVAIL, "none left ✓")),
        Dhcp6Option::RapidCommit,
        Dhcp6Option::DnsServers(vec![DNS, Ipv6Addr::LOCALHOST]),
        Dhcp6Option::DomainList(vec!["example.test".into(), "lab".into()]),
        Dhcp6Option::InformationRefreshTime(7200),
        Dhcp6Option::ClientFqdn(ClientFqdn {
            flags: ClientFqdn::S,
            name: "node.example.test".into(),
            fully_qualified: true,
        }),
        Dhcp6Option::ClientFqdn(ClientFqdn {
            flags: 0,
            name: "node".into(),
            fully_qualified: false,
        }),
        Dhcp6Option::SolMaxRt(600),
        Dhcp6Option::InfMaxRt(900),
        Dhcp6Option::Unknown(RawOption {
            code: 4242,
            data: vec![9, 8, 7],
        }),
    ]
}

#[test]
fn every_option_round_trips_alone_and_together() {
    for o in every_option() {
        let mut m = Dhcp6Message::new(MessageType::Reply, 0xabcdef);
        m.options.push(o.clone());
        let bytes = m.emit();
        assert_eq!(
            usize::from(u16::from_be_bytes([bytes[6], bytes[7]])),
            bytes.len() - 8,
            "{o:?}: the option length covers its data"
        );
        assert_eq!(Dhcp6Message::parse(&bytes).unwrap(), m, "{o:?}");
    }
    let mut m = Dhcp6Message::new(MessageType::Advertise, 0x123456);
    m.options = every_option();
    assert_eq!(Dhcp6Message::parse(&m.emit()).unwrap(), m);
}

#[test]
fn wire_bytes_are_those_of_rfc_8415() {
    let mut m = Dhcp6Message::new(MessageType::Solicit, 0x0102_0304);
    assert_eq!(m.transaction_id, 0x020304, "24-bit transaction id");
    m.options = vec![
        Dhcp6Option::ElapsedTime(0x0102),
        Dhcp6Option::DomainList(vec!["ex.test".into()]),
        Dhcp6Option::ClientFqdn(ClientFqdn {
            flags: ClientFqdn::S,
            name: "h".into(),
            fully_qualified: false,
        }),
        Dhcp6Option::IaNa(IaNa {
            iaid: 7,
            t1: 0,
            t2: 0,
            options: vec![],
        }),
    ];
    let expected: Vec<u8> = [
        &[1, 2, 3, 4][..],
        &[0, 8, 0, 2, 1, 2],
        &[0, 24, 0, 9, 2, b'e', b'x', 4, b't', b'e', b's', b't', 0],
        &[0, 39, 0, 3, 1, 1, b'h'],
        &[0, 3, 0, 12, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
    .concat();
    assert_eq!(m.emit(), expected);
    assert_eq!(Dhcp6Message::parse(&expected).unwrap(), m);
}

#[test]
fn accessors_find_what_the_client_needs() {
    let mut m = Dhcp6Message::new(MessageType::Reply, 1);
    m.options = every_option();
    m.options.push(Dhcp6Option::DnsServers(vec![ADDR2]));
    assert_eq!(m.client_id(), Some(&[0, 3, 0, 1, 2, 0, 0, 0, 0, 0x42][..]));
    assert_eq!(m.server_id(), Some(SERVER));
    assert_eq!(m.ia_na(IAID).unwrap().addrs().next().unwrap().addr, ADDR);
    assert!(m.ia_na(IAID + 1).is_none());
    assert_eq!(m.status().unwrap().code, status::NO_ADDRS_AVAIL);
    assert_eq!(m.preference(), 200);
    assert_eq!(m.dns_servers(), [DNS, Ipv6Addr::LOCALHOST, ADDR2]);
    assert_eq!(m.domain_list(), ["example.test", "lab"]);
    assert_eq!(m.time_option(code::INFORMATION_REFRESH_TIME), Some(7200));
    assert_eq!(m.time_option(code::SOL_MAX_RT), Some(600));
    assert!(m.rapid_commit());
    assert_eq!(Dhcp6Message::new(MessageType::Reply, 1).preference(), 0);
}

/// The header of a Reply followed by `options`.
fn raw(options: &[&[u8]]) -> Vec<u8> {
    let mut b = vec![7, 0, 0, 1];
    for o in options {
        b.extend_from_slice(o);
    }
    b
}

fn rejected(bytes: &[u8]) -> ParseError {
    match Dhcp6Message::parse(bytes) {
        Ok(m) => panic!("{bytes:?} parsed as {m:?}"),
        Err(e) => e,
    }
}

#[test]
fn malformed_messages_are_rejected_naming_the_part() {
    let e = rejected(&[7, 0, 0]);
    assert_eq!(e.part(), "header");
    assert!(e.problem().contains("truncated"), "{e}");
    let e = rejected(&[12, 0, 0, 0]);
    assert_eq!(e.part(), "header");
    assert!(e.problem().contains("relay"), "{e}");
    assert!(
        rejected(&[0, 0, 0, 0])
            .problem()
            .contains("unknown message type")
    );

    // an option header cut short
    let e = rejected(&raw(&[&[0, 1]]));
    assert!(e.part().contains("option header at byte 4"), "{e}");
    // an option whose length runs past the end
    let e = rejected(&raw(&[&[0, 8, 0, 2, 0, 0], &[0, 1, 0, 10, 1, 2]]));
    assert!(
        e.part().contains("CLIENTID") && e.part().contains("byte 10"),
        "{e}"
    );
    assert!(e.problem().contains("past the end"), "{e}");
    // IA_NA shorter than its fixed part
    let e = rejected(&raw(&[&[0, 3, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0]]));
    assert!(e.part().starts_with("IA_NA"), "{e}");
    assert!(e.problem().contains("12-byte"), "{e}");
    // IAADDR too short inside an IA_NA: both named, outer first
    let mut ia = vec![0, 3, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    ia.extend_from_slice(&[0, 5, 0, 4, 1, 2, 3, 4]);
    let e = rejected(&raw(&[&ia]));
    assert!(
        e.part().starts_with("IA_NA") && e.part().contains("> IAADDR"),
        "{e}"
    );
    // a sub-option running past the end of its IA_NA (but not of the message)
    let mut ia = vec![0, 3, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    ia.extend_from_slice(&[0, 13, 0, 9, 0, 0, 0, 0]);
    let e = rejected(&raw(&[&ia, &[0; 8]]));
    assert!(
        e.part().contains("IA_NA") && e.part().contains("STATUS_CODE"),
        "{e}"
    );
    // fixed-size options of the wrong size
    for (opt, name) in [
        (&[0, 8, 0, 3, 0, 0, 0][..], "ELAPSED_TIME"),
        (&[0, 7, 0, 0][..], "PREFERENCE"),
        (&[0, 14, 0, 1, 0][..], "RAPID_COMMIT"),
        (&[0, 32, 0, 2, 0, 0][..], "INFORMATION_REFRESH_TIME"),
        (&[0, 23, 0, 17][..], "DNS_SERVERS"),
        (&[0, 6, 0, 3, 0, 23, 0][..], "ORO"),
        (&[0, 13, 0, 1, 0][..], "STATUS_CODE"),
        (&[0, 13, 0, 3, 0, 0, 0xff][..], "STATUS_CODE"),
        (&[0, 1, 0, 0][..], "CLIENTID"),
        (&[0, 39, 0, 0][..], "CLIENT_FQDN"),
    ] {
        let mut o = opt.to_vec();
        let len = usize::from(u16::from_be_bytes([o[2], o[3]]));
        o.resize(4 + len, 0);
        if name == "STATUS_CODE" && len == 3 {
            o[6] = 0xff;
        }
        let e = rejected(&raw(&[&o]));
        assert!(e.part().starts_with(name), "{name}: {e}");
    }
    // bad domain name encodings
    for (name, problem) in [
        (&[3, b'a', b'b', b'c'][..], "root label"),
        (&[5, b'a', b'b', 0][..], "past the end"),
        (&[64][..], "exceeds 63"),
        (&[0xc0, 12][..], "exceeds 63"),
        (&[3, b'a', b'.', b'c', 0][..], "not printable"),
        (&[2, b'a', 0x80, 0][..], "not printable"),
    ] {
        let mut o = vec![0, 24, 0, name.len() as u8];
        o.extend_from_slice(name);
        let e = rejected(&raw(&[&o]));
        assert!(e.part().starts_with("DOMAIN_LIST"), "{e}");
        assert!(e.problem().contains(problem), "{name:?}: {e}");
    }
    let mut long = vec![0, 24, 1, 0]; // 256 bytes: five 50-byte labels and the root
    for _ in 0..5 {
        long.push(50);
        long.extend_from_slice(&[b'x'; 50]);
    }
    long.push(0);
    assert!(rejected(&raw(&[&long])).problem().contains("255"));
    // the FQDN option: bytes after a root label
    let e = rejected(&raw(&[&[0, 39, 0, 5, 1, 1, b'h', 0, 0]]));
    assert!(e.part().starts_with("CLIENT_FQDN"), "{e}");
    // an io::Error carries EBADMSG
    let io: std::io::Error = rejected(&[1]).into();
    assert_eq!(io.raw_os_error(), Some(libc::EBADMSG));
}

#[test]
fn unknown_options_are_kept_in_order() {
    let bytes = raw(&[
        &[0x12, 0x34, 0, 2, 5, 6],
        &[0, 2, 0, 1, 9],
        &[0xff, 0xff, 0, 0],
    ]);
    let m = Dhcp6Message::parse(&bytes).unwrap();
    assert_eq!(
        m.options,
        [
            Dhcp6Option::Unknown(RawOption {
                code: 0x1234,
                data: vec![5, 6]
            }),
            Dhcp6Option::ServerId(vec![9]),
            Dhcp6Option::Unknown(RawOption {
                code: 0xffff,
                data: vec![]
            }),
        ]
    );
    assert_eq!(m.emit(), bytes);
}

// ---------------------------------------------------------------- the client

/// The single message sent, parsed, after checking it goes to ff02::1:2.
fn sent(actions: &[Action]) -> Dhcp6Message {
    let sends: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { dst, payload } => {
                assert_eq!(*dst, ALL_DHCP_RELAY_AGENTS_AND_SERVERS);
                Some(Dhcp6Message::parse(payload).unwrap())
            }
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 1, "{actions:?}");
    sends.into_iter().next().unwrap()
}

fn no_send(actions: &[Action]) -> bool {
    !actions.iter().any(|a| matches!(a, Action::Send { .. }))
}

fn ia_option(t1: u32, t2: u32, addrs: &[(Ipv6Addr, u32, u32)]) -> Dhcp6Option {
    Dhcp6Option::IaNa(IaNa {
        iaid: IAID,
        t1,
        t2,
        options: addrs
            .iter()
            .map(|&(addr, preferred, valid)| {
                IaNaOption::IaAddr(IaAddr {
                    addr,
                    preferred,
                    valid,
                    options: vec![],
                })
            })
            .collect(),
    })
}

fn ia_status(code: u16) -> Dhcp6Option {
    Dhcp6Option::IaNa(IaNa {
        iaid: IAID,
        t1: 0,
        t2: 0,
        options: vec![IaNaOption::StatusCode(status_of(code, "no"))],
    })
}

/// A server's answer of type `t` to `to`, from `server`, with `options` after the ids.
fn answer(to: &Dhcp6Message, t: MessageType, server: &[u8], options: Vec<Dhcp6Option>) -> Vec<u8> {
    let mut m = Dhcp6Message::new(t, to.transaction_id);
    m.options.push(Dhcp6Option::ServerId(server.to_vec()));
    if let Some(id) = to.client_id() {
        m.options.push(Dhcp6Option::ClientId(id.to_vec()));
    }
    m.options.extend(options);
    m.emit()
}

fn config() -> Vec<Dhcp6Option> {
    vec![
        Dhcp6Option::DnsServers(vec![DNS]),
        Dhcp6Option::DomainList(vec!["example.test".into()]),
    ]
}

fn with_config(mut v: Vec<Dhcp6Option>) -> Vec<Dhcp6Option> {
    v.extend(config());
    v
}

fn oro(m: &Dhcp6Message) -> Vec<u16> {
    m.options
        .iter()
        .find_map(|o| match o {
            Dhcp6Option::Oro(v) => Some(v.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn elapsed(m: &Dhcp6Message) -> u16 {
    m.options
        .iter()
        .find_map(|o| match o {
            Dhcp6Option::ElapsedTime(v) => Some(*v),
            _ => None,
        })
        .expect("every client message carries Elapsed Time")
}

fn ia_addrs(m: &Dhcp6Message) -> Vec<Ipv6Addr> {
    m.ia_na(IAID).unwrap().addrs().map(|a| a.addr).collect()
}

fn stateful() -> Dhcp6Client {
    Dhcp6Client::new(
        MAC,
        IAID,
        7,
        Some("node.example.test".into()),
        Mode::Stateful,
    )
}

/// Solicit → Advertise (preference 255) → Request → Reply at 2 s with T1, T2, lifetimes.
fn bound(t1: u32, t2: u32, preferred: u32, valid: u32) -> (Dhcp6Client, Lease6) {
    let mut c = stateful();
    let solicit = sent(&c.start(s(0)));
    let adv = answer(
        &solicit,
        MessageType::Advertise,
        SERVER,
        with_config(vec![
            ia_option(t1, t2, &[(ADDR, preferred, valid)]),
            Dhcp6Option::Preference(255),
        ]),
    );
    let request = sent(&c.receive(ms(500), &adv));
    assert_eq!(request.msg_type, MessageType::Request);
    let reply = answer(
        &request,
        MessageType::Reply,
        SERVER,
        with_config(vec![ia_option(t1, t2, &[(ADDR, preferred, valid)])]),
    );
    let actions = c.receive(s(2), &reply);
    let [Action::Bound(lease)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(c.state(), State::Bound);
    (c, lease.clone())
}

#[test]
fn solicit_advertise_request_reply_binds() {
    let mut c = stateful();
    assert_eq!(c.state(), State::Idle);
    assert_eq!(c.next_deadline(), None);
    let solicit = sent(&c.start(s(10)));
    assert_eq!(c.state(), State::Soliciting);
    assert_eq!(solicit.msg_type, MessageType::Solicit);
    assert_eq!(
        solicit.client_id(),
        Some(&[0, 3, 0, 1, 2, 0, 0, 0, 0, 0x42][..]),
        "DUID-LL from the MAC"
    );
    assert_eq!(c.duid(), solicit.client_id().unwrap());
    assert_eq!(elapsed(&solicit), 0);
    let o = oro(&solicit);
    assert!(
        o.contains(&code::DNS_SERVERS) && o.contains(&code::DOMAIN_LIST),
        "{o:?}"
    );
    assert!(
        solicit
            .options
            .contains(&Dhcp6Option::ClientFqdn(ClientFqdn {
                flags: ClientFqdn::S,
                name: "node.example.test".into(),
                fully_qualified: true,
            }))
    );
    let ia = solicit.ia_na(IAID).expect("an IA_NA with our IAID");
    assert_eq!((ia.t1, ia.t2, ia.addrs().count()), (0, 0, 0));
    assert!(solicit.server_id().is_none());

    // Two Advertises before the first timeout: the higher preference wins, at the timeout.
    let low = answer(
        &solicit,
        MessageType::Advertise,
        OTHER_SERVER,
        vec![ia_option(0, 0, &[(ADDR2, 100, 200)])],
    );
    let high = answer(
        &solicit,
        MessageType::Advertise,
        SERVER,
        vec![
            ia_option(0, 0, &[(ADDR, 100, 200)]),
            Dhcp6Option::Preference(10),
        ],
    );
    assert!(c.receive(s(10) + ms(300), &low).is_empty());
    assert!(c.receive(s(10) + ms(400), &high).is_empty());
    let later_lower = answer(
        &solicit,
        MessageType::Advertise,
        OTHER_SERVER,
        vec![
            ia_option(0, 0, &[(ADDR2, 100, 200)]),
            Dhcp6Option::Preference(5),
        ],
    );
    assert!(c.receive(s(10) + ms(500), &later_lower).is_empty());
    let first_rt = c.next_deadline().unwrap() - s(10);
    assert!(first_rt > s(1) && first_rt <= ms(1100), "{first_rt:?}");
    assert!(c.poll(s(10) + ms(999)).is_empty(), "still collecting");
    let request = sent(&c.poll(s(10) + first_rt));
    assert_eq!(c.state(), State::Requesting);
    assert_eq!(request.msg_type, MessageType::Request);
    assert_ne!(
        request.transaction_id, solicit.transaction_id,
        "a new exchange"
    );
    assert_eq!(request.server_id(), Some(SERVER));
    assert_eq!(request.client_id(), solicit.client_id());
    assert_eq!(ia_addrs(&request), [ADDR]);
    assert_eq!(elapsed(&request), 0);

    let reply = answer(
        &request,
        MessageType::Reply,
        SERVER,
        with_config(vec![ia_option(1000, 1600, &[(ADDR, 1800, 2000)])]),
    );
    let now = s(12);
    let actions = c.receive(now, &reply);
    let [Action::Bound(lease)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(c.state(), State::Bound);
    assert_eq!(c.lease(), Some(lease));
    assert_eq!(lease.addrs.len(), 1);
    assert_eq!(
        (
            lease.addrs[0].addr,
            lease.addrs[0].preferred,
            lease.addrs[0].valid
        ),
        (ADDR, s(1800), s(2000))
    );
    assert_eq!(lease.dns, [DNS]);
    assert_eq!(lease.domains, ["example.test"]);
    assert_eq!(lease.server_id, SERVER);
    assert_eq!(
        (lease.t1, lease.t2, lease.acquired),
        (s(1000), s(1600), now)
    );
    assert_eq!(c.next_deadline(), Some(now + s(1000)));
    // the same Reply again is not for a transaction in progress
    assert!(c.receive(now, &reply).is_empty());
}

#[test]
fn preference_255_is_taken_at_once_and_late_advertises_too() {
    let (c, lease) = bound(0, 0, 100, 200);
    assert_eq!(lease.acquired, s(2));
    assert_eq!(c.state(), State::Bound);

    // No Advertise before the first timeout: the first one after it is taken at once.
    let mut c = stateful();
    let solicit = sent(&c.start(s(0)));
    let d = c.next_deadline().unwrap();
    let again = sent(&c.poll(d));
    assert_eq!(again.transaction_id, solicit.transaction_id);
    let adv = answer(
        &again,
        MessageType::Advertise,
        SERVER,
        vec![ia_option(0, 0, &[(ADDR, 100, 200)])],
    );
    let request = sent(&c.receive(d + ms(10), &adv));
    assert_eq!(request.msg_type, MessageType::Request);
}

#[test]
fn advertises_without_addresses_are_ignored() {
    let mut c = stateful();
    let solicit = sent(&c.start(s(0)));
    for options in [
        vec![Dhcp6Option::StatusCode(status_of(
            status::NO_ADDRS_AVAIL,
            "x",
        ))],
        vec![
            ia_status(status::NO_ADDRS_AVAIL),
            Dhcp6Option::Preference(255),
        ],
        vec![ia_option(0, 0, &[]), Dhcp6Option::Preference(255)],
        // valid lifetime 0, preferred above valid: unusable
        vec![
            ia_option(0, 0, &[(ADDR, 0, 0), (ADDR2, 300, 200)]),
            Dhcp6Option::Preference(255),
        ],
        // T1 > T2: the IA is discarded
        vec![
            ia_option(300, 200, &[(ADDR, 400, 500)]),
            Dhcp6Option::Preference(255),
        ],
        // addresses no host can hold (a rogue server leasing ff02::1 used to stop the stack)
        vec![
            ia_option(
                0,
                0,
                &[
                    (Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), 300, 400),
                    (Ipv6Addr::UNSPECIFIED, 300, 400),
                    (Ipv6Addr::LOCALHOST, 300, 400),
                    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 5), 300, 400),
                    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x0a00, 1), 300, 400),
                ],
            ),
            Dhcp6Option::Preference(255),
        ],
    ] {
        let adv = answer(&solicit, MessageType::Advertise, SERVER, options.clone());
        assert!(c.receive(ms(100), &adv).is_empty(), "{options:?}");
    }
    // the timeout passes with nothing chosen: Solicit again
    let d = c.next_deadline().unwrap();
    assert_eq!(sent(&c.poll(d)).msg_type, MessageType::Solicit);
}

#[test]
fn foreign_and_malformed_messages_are_ignored() {
    let mut c = stateful();
    let solicit = sent(&c.start(s(0)));
    let good = vec![
        ia_option(0, 0, &[(ADDR, 100, 200)]),
        Dhcp6Option::Preference(255),
    ];
    // another transaction
    let mut other = solicit.clone();
    other.transaction_id ^= 1;
    assert!(
        c.receive(
            ms(1),
            &answer(&other, MessageType::Advertise, SERVER, good.clone())
        )
        .is_empty()
    );
    // another client
    let mut other = solicit.clone();
    other.options[0] = Dhcp6Option::ClientId(vec![0, 3, 0, 1, 9, 9, 9, 9, 9, 9]);
    assert!(
        c.receive(
            ms(1),
            &answer(&other, MessageType::Advertise, SERVER, good.clone())
        )
        .is_empty()
    );
    // no client id, no server id
    let mut m = Dhcp6Message::new(MessageType::Advertise, solicit.transaction_id);
    m.options = good.clone();
    m.options.push(Dhcp6Option::ServerId(SERVER.to_vec()));
    assert!(c.receive(ms(1), &m.emit()).is_empty());
    let mut m = Dhcp6Message::new(MessageType::Advertise, solicit.transaction_id);
    m.options = good.clone();
    m.options.push(Dhcp6Option::ClientId(c.duid().to_vec()));
    assert!(c.receive(ms(1), &m.emit()).is_empty());
    // a Reply (we did not ask for Rapid Commit), a Solicit, garbage
    assert!(
        c.receive(
            ms(1),
            &answer(&solicit, MessageType::Reply, SERVER, good.clone())
        )
        .is_empty()
    );
    assert!(c.receive(ms(1), &solicit.emit()).is_empty());
    assert!(c.receive(ms(1), b"garbage").is_empty());
    assert!(c.receive(ms(1), &[]).is_empty());
    assert_eq!(c.state(), State::Soliciting);
    // and the right one still works
    let request = sent(&c.receive(
        ms(2),
        &answer(&solicit, MessageType::Advertise, SERVER, good),
    ));
    assert_eq!(request.msg_type, MessageType::Request);
}

#[test]
fn solicit_is_retransmitted_with_rfc_8415_backoff() {
    let mut c = Dhcp6Client::new(MAC, IAID, 12345, None, Mode::Stateful);
    let first = sent(&c.start(s(0)));
    assert!(
        !first
            .options
            .iter()
            .any(|o| matches!(o, Dhcp6Option::ClientFqdn(_))),
        "no FQDN when none was given"
    );
    let mut prev_at = s(0);
    let mut prev_rt: Option<Duration> = None;
    let mut rts = Vec::new();
    for _ in 0..20 {
        let at = c.next_deadline().unwrap();
        let rt = at - prev_at;
        match prev_rt {
            None => assert!(rt > s(1) && rt <= ms(1100), "first RT {rt:?}"),
            Some(p) if p * 2 < s(3240) => {
                // RT = 2·RTprev + RAND·RTprev, RAND in [-0.1, 0.1]
                assert!(rt >= p * 19 / 10 && rt <= p * 21 / 10, "{p:?} then {rt:?}")
            }
            Some(_) => assert!(
                rt >= s(3240) && rt <= s(3960),
                "capped near SOL_MAX_RT: {rt:?}"
            ),
        }
        let m = sent(&c.poll(at));
        assert_eq!(m.msg_type, MessageType::Solicit);
        assert_eq!(m.transaction_id, first.transaction_id, "same exchange");
        let hundredths = u16::try_from(at.as_millis() / 10).unwrap_or(u16::MAX);
        assert_eq!(elapsed(&m), hundredths);
        rts.push(rt);
        prev_at = at;
        prev_rt = Some(rt);
    }
    assert!(rts.iter().rev().take(5).all(|&rt| rt >= s(3240)), "{rts:?}");
    // the randomization really varies
    assert!(rts.windows(2).any(|w| w[1] != w[0] * 2), "{rts:?}");
}

#[test]
fn a_server_sol_max_rt_caps_solicit_retransmission() {
    let mut c = stateful();
    let solicit = sent(&c.start(s(0)));
    let adv = answer(
        &solicit,
        MessageType::Advertise,
        SERVER,
        vec![
            Dhcp6Option::StatusCode(status_of(status::NO_ADDRS_AVAIL, "")),
            Dhcp6Option::SolMaxRt(100),
        ],
    );
    assert!(c.receive(ms(10), &adv).is_empty());
    let mut prev = s(0);
    for _ in 0..15 {
        let at = c.next_deadline().unwrap();
        assert!(at - prev <= s(110), "{:?}", at - prev);
        sent(&c.poll(at));
        prev = at;
    }
}

#[test]
fn request_gives_up_after_req_max_rc_and_solicits_again() {
    let mut c = stateful();
    let solicit = sent(&c.start(s(0)));
    let adv = answer(
        &solicit,
        MessageType::Advertise,
        SERVER,
        vec![
            ia_option(0, 0, &[(ADDR, 100, 200)]),
            Dhcp6Option::Preference(255),
        ],
    );
    let first = sent(&c.receive(ms(1), &adv));
    let mut requests = 1;
    let mut prev_rt = None;
    let mut prev_at = ms(1);
    loop {
        let at = c.next_deadline().unwrap();
        let rt = at - prev_at;
        if let Some(p) = prev_rt {
            let p: Duration = p;
            assert!(rt <= s(33), "REQ_MAX_RT caps the timeout: {rt:?}");
            assert!(rt >= (p * 19 / 10).min(s(27)), "{p:?} then {rt:?}");
        }
        let m = sent(&c.poll(at));
        if m.msg_type == MessageType::Solicit {
            assert_ne!(m.transaction_id, first.transaction_id);
            break;
        }
        assert_eq!(m.transaction_id, first.transaction_id);
        requests += 1;
        prev_rt = Some(rt);
        prev_at = at;
    }
    assert_eq!(requests, 10, "REQ_MAX_RC transmissions");
    assert_eq!(c.state(), State::Soliciting);
}

#[test]
fn renews_at_t1_and_rebinds_at_t2() {
    let (mut c, lease) = bound(100, 160, 180, 200);
    let t0 = lease.acquired;
    assert_eq!(c.next_deadline(), Some(t0 + s(100)));
    assert!(c.poll(t0 + s(99)).is_empty(), "nothing before T1");
    let renew = sent(&c.poll(t0 + s(100)));
    assert_eq!(c.state(), State::Renewing);
    assert_eq!(renew.msg_type, MessageType::Renew);
    assert_eq!(renew.server_id(), Some(SERVER), "Renew names the server");
    assert_eq!(ia_addrs(&renew), [ADDR]);
    assert_eq!(elapsed(&renew), 0);
    assert!(oro(&renew).contains(&code::DNS_SERVERS));
    // REN_TIMEOUT 10 s first, then doubling, until T2
    let first_rt = c.next_deadline().unwrap() - (t0 + s(100));
    assert!(first_rt >= s(9) && first_rt <= s(11), "{first_rt:?}");
    let mut now;
    let mut renews = 1;
    let rebind = loop {
        now = c.next_deadline().unwrap();
        let m = sent(&c.poll(now));
        if m.msg_type == MessageType::Rebind {
            break m;
        }
        assert_eq!(m.msg_type, MessageType::Renew);
        assert_eq!(m.transaction_id, renew.transaction_id);
        assert!(elapsed(&m) > 0);
        renews += 1;
    };
    assert!(
        (3..=4).contains(&renews),
        "10 + 20 + 40 s fit before T2: {renews}"
    );
    assert_eq!(now, t0 + s(160), "Rebind starts exactly at T2");
    assert_eq!(c.state(), State::Rebinding);
    assert_eq!(rebind.server_id(), None, "Rebind goes to any server");
    assert_eq!(ia_addrs(&rebind), [ADDR]);
    assert_ne!(rebind.transaction_id, renew.transaction_id);
    // another server answers the Rebind with the same address: renewed, nothing to change
    let reply = answer(
        &rebind,
        MessageType::Reply,
        OTHER_SERVER,
        with_config(vec![ia_option(100, 160, &[(ADDR, 180, 200)])]),
    );
    let at = now + s(1);
    let actions = c.receive(at, &reply);
    let [Action::Renewed(l)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!((l.acquired, l.server_id.as_slice()), (at, OTHER_SERVER));
    assert_eq!(c.state(), State::Bound);
    assert_eq!(c.next_deadline(), Some(at + s(100)));
}

#[test]
fn renew_reply_extends_the_lease() {
    let (mut c, lease) = bound(100, 160, 180, 200);
    let renew = sent(&c.poll(lease.acquired + s(100)));
    let at = lease.acquired + s(101);
    let reply = answer(
        &renew,
        MessageType::Reply,
        SERVER,
        with_config(vec![ia_option(0, 0, &[(ADDR, 1000, 2000)])]),
    );
    let actions = c.receive(at, &reply);
    let [Action::Renewed(l)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(l.addrs[0].valid, s(2000));
    // T1 and T2 of 0: the client picks 0.5 and 0.8 of the preferred lifetime
    assert_eq!((l.t1, l.t2), (s(500), s(800)));
    assert_eq!(c.next_deadline(), Some(at + s(500)));
}

#[test]
fn t1_and_t2_of_zero_follow_the_shortest_preferred_lifetime() {
    let mut c = stateful();
    let solicit = sent(&c.start(s(0)));
    let addrs = [(ADDR, 300, 400), (ADDR2, 100, 400)];
    let adv = answer(
        &solicit,
        MessageType::Advertise,
        SERVER,
        vec![ia_option(0, 0, &addrs), Dhcp6Option::Preference(255)],
    );
    let request = sent(&c.receive(s(0), &adv));
    assert_eq!(ia_addrs(&request), [ADDR, ADDR2]);
    let actions = c.receive(
        s(1),
        &answer(
            &request,
            MessageType::Reply,
            SERVER,
            vec![ia_option(0, 0, &addrs)],
        ),
    );
    let [Action::Bound(l)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!((l.t1, l.t2), (s(50), s(80)));
    assert_eq!(l.addrs.len(), 2);
    // infinite lifetimes: never renewed, never expire
    let (c, l) = bound(0, 0, INFINITY, INFINITY);
    assert_eq!(l.t1, Duration::from_secs(u64::from(u32::MAX)));
    assert!(c.next_deadline().unwrap() > s(100 * 365 * 86400));
}

#[test]
fn renewal_that_changes_addresses_rebinds_the_new_set() {
    let (mut c, lease) = bound(100, 160, 180, 200);
    let renew = sent(&c.poll(lease.acquired + s(100)));
    let at = lease.acquired + s(100);
    // the old address ends (valid 0), a new one comes
    let reply = answer(
        &renew,
        MessageType::Reply,
        SERVER,
        with_config(vec![ia_option(
            100,
            160,
            &[(ADDR, 0, 0), (ADDR2, 180, 200)],
        )]),
    );
    let actions = c.receive(at, &reply);
    let [Action::Unbound(old), Action::Bound(new)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(old, &lease);
    assert_eq!(
        new.addrs.iter().map(|a| a.addr).collect::<Vec<_>>(),
        [ADDR2]
    );
    // a later Renew reply that does not mention an address leaves it as it was
    let renew = sent(&c.poll(at + s(100)));
    assert_eq!(ia_addrs(&renew), [ADDR2]);
    let reply = answer(
        &renew,
        MessageType::Reply,
        SERVER,
        with_config(vec![ia_option(100, 160, &[(ADDR, 180, 200)])]),
    );
    let actions = c.receive(at + s(150), &reply);
    let [Action::Unbound(_), Action::Bound(l)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    let kept = l.addrs.iter().find(|a| a.addr == ADDR2).unwrap();
    assert_eq!(kept.valid, s(50), "ADDR2 keeps its old end of validity");
    assert!(l.addrs.iter().any(|a| a.addr == ADDR));
}

#[test]
fn expiry_unbinds_and_solicits_again() {
    let (mut c, lease) = bound(100, 160, 180, 200);
    let end = lease.acquired + s(200);
    let mut now = s(0);
    let mut unbound = false;
    for _ in 0..30 {
        now = c.next_deadline().unwrap();
        assert!(now <= end, "nothing is scheduled past the end of validity");
        let actions = c.poll(now);
        if actions.contains(&Action::Unbound(lease.clone())) {
            unbound = true;
            assert_eq!(actions[0], Action::Unbound(lease.clone()));
            assert_eq!(sent(&actions).msg_type, MessageType::Solicit);
            break;
        }
        // the Renew and Rebind exchanges go on until then
        let m = sent(&actions);
        assert!(
            matches!(m.msg_type, MessageType::Renew | MessageType::Rebind),
            "{m:?}"
        );
    }
    assert!(unbound);
    assert_eq!(now, end, "unbound exactly at the end of the valid lifetime");
    assert_eq!(c.state(), State::Soliciting);
    assert!(c.lease().is_none());
}

#[test]
fn one_address_expiring_before_the_others_is_dropped_alone() {
    let mut c = stateful();
    let solicit = sent(&c.start(s(0)));
    let addrs = [(ADDR, 50, 60), (ADDR2, 500, 600)];
    let adv = answer(
        &solicit,
        MessageType::Advertise,
        SERVER,
        vec![ia_option(300, 480, &addrs), Dhcp6Option::Preference(255)],
    );
    let request = sent(&c.receive(s(0), &adv));
    c.receive(
        s(1),
        &answer(
            &request,
            MessageType::Reply,
            SERVER,
            vec![ia_option(300, 480, &addrs)],
        ),
    );
    assert_eq!(c.next_deadline(), Some(s(61)));
    let actions = c.poll(s(61));
    let [Action::Unbound(old), Action::Bound(new)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(old.addrs.len(), 2);
    assert_eq!(
        new.addrs.iter().map(|a| a.addr).collect::<Vec<_>>(),
        [ADDR2]
    );
    assert_eq!(c.state(), State::Bound);
    assert_eq!(c.next_deadline(), Some(s(301)));
}

#[test]
fn status_codes_in_replies() {
    // NoBinding to a Renew: Request to that server for the same addresses
    let (mut c, lease) = bound(100, 160, 180, 200);
    let renew = sent(&c.poll(lease.acquired + s(100)));
    let actions = c.receive(
        lease.acquired + s(101),
        &answer(
            &renew,
            MessageType::Reply,
            SERVER,
            vec![ia_status(status::NO_BINDING)],
        ),
    );
    let request = sent(&actions);
    assert_eq!(request.msg_type, MessageType::Request);
    assert_eq!(request.server_id(), Some(SERVER));
    assert_eq!(ia_addrs(&request), [ADDR]);
    assert_eq!(c.lease(), Some(&lease), "the lease is kept meanwhile");
    let actions = c.receive(
        lease.acquired + s(102),
        &answer(
            &request,
            MessageType::Reply,
            SERVER,
            with_config(vec![ia_option(100, 160, &[(ADDR, 180, 200)])]),
        ),
    );
    assert!(
        matches!(actions.as_slice(), [Action::Renewed(_)]),
        "{actions:?}"
    );

    // UnspecFail, UseMulticast, NoAddrsAvail to a Renew: ignored, retransmission goes on
    let (mut c, lease) = bound(100, 160, 180, 200);
    let renew = sent(&c.poll(lease.acquired + s(100)));
    let deadline = c.next_deadline();
    for options in [
        vec![Dhcp6Option::StatusCode(status_of(status::UNSPEC_FAIL, ""))],
        vec![Dhcp6Option::StatusCode(status_of(
            status::USE_MULTICAST,
            "",
        ))],
        vec![ia_status(status::NO_ADDRS_AVAIL)],
        vec![],
    ] {
        let r = answer(&renew, MessageType::Reply, SERVER, options.clone());
        assert!(
            c.receive(lease.acquired + s(101), &r).is_empty(),
            "{options:?}"
        );
        assert_eq!((c.state(), c.next_deadline()), (State::Renewing, deadline));
    }

    // NotOnLink: the lease is dropped and Solicit starts over
    let actions = c.receive(
        lease.acquired + s(102),
        &answer(
            &renew,
            MessageType::Reply,
            SERVER,
            vec![Dhcp6Option::StatusCode(status_of(status::NOT_ON_LINK, ""))],
        ),
    );
    assert_eq!(actions[0], Action::Unbound(lease));
    assert_eq!(sent(&actions).msg_type, MessageType::Solicit);

    // NoAddrsAvail to a Request: Solicit again
    let mut c = stateful();
    let solicit = sent(&c.start(s(0)));
    let adv = answer(
        &solicit,
        MessageType::Advertise,
        SERVER,
        vec![
            ia_option(0, 0, &[(ADDR, 100, 200)]),
            Dhcp6Option::Preference(255),
        ],
    );
    let request = sent(&c.receive(s(0), &adv));
    let actions = c.receive(
        s(1),
        &answer(
            &request,
            MessageType::Reply,
            SERVER,
            vec![ia_status(status::NO_ADDRS_AVAIL)],
        ),
    );
    assert_eq!(sent(&actions).msg_type, MessageType::Solicit);
    assert_eq!(c.state(), State::Soliciting);
}

#[test]
fn stop_releases_and_unbinds() {
    let (mut c, lease) = bound(100, 160, 180, 200);
    let actions = c.stop(s(50));
    assert_eq!(
        actions[0],
        Action::Unbound(lease.clone()),
        "unbound before the Release"
    );
    let release = sent(&actions);
    assert_eq!(release.msg_type, MessageType::Release);
    assert_eq!(release.server_id(), Some(SERVER));
    assert_eq!(release.client_id(), Some(c.duid()));
    assert_eq!(ia_addrs(&release), [ADDR]);
    assert_eq!(c.state(), State::Releasing);
    assert!(c.lease().is_none());
    // the server's Reply ends it
    let reply = answer(
        &release,
        MessageType::Reply,
        SERVER,
        vec![Dhcp6Option::StatusCode(status_of(
            status::SUCCESS,
            "released",
        ))],
    );
    assert!(c.receive(s(51), &reply).is_empty());
    assert_eq!(c.state(), State::Idle);
    assert_eq!(c.next_deadline(), None);
    assert!(c.poll(s(1000)).is_empty());

    // without an answer: REL_MAX_RC transmissions, then idle
    let (mut c, _) = bound(100, 160, 180, 200);
    let first = sent(&c.stop(s(50)));
    let mut count = 1;
    while let Some(d) = c.next_deadline() {
        let actions = c.poll(d);
        if actions.is_empty() {
            break;
        }
        assert_eq!(sent(&actions).transaction_id, first.transaction_id);
        count += 1;
    }
    assert_eq!(count, 4);
    assert_eq!(c.state(), State::Idle);
    assert_eq!(c.next_deadline(), None);

    // stop without a lease: nothing to send
    let mut c = stateful();
    c.start(s(0));
    assert!(c.stop(s(1)).is_empty());
    assert_eq!((c.state(), c.next_deadline()), (State::Idle, None));
}

#[test]
fn restart_unbinds_the_lease_first() {
    let (mut c, lease) = bound(100, 160, 180, 200);
    let actions = c.start(s(10));
    assert_eq!(actions[0], Action::Unbound(lease));
    assert_eq!(sent(&actions).msg_type, MessageType::Solicit);
}

fn stateless_informed(refresh: Option<u32>) -> (Dhcp6Client, Lease6, Dhcp6Message) {
    let mut c = Dhcp6Client::new(MAC, IAID, 3, Some("node".into()), Mode::Stateless);
    assert_eq!(c.mode(), Mode::Stateless);
    let req = sent(&c.start(s(5)));
    assert_eq!(c.state(), State::InformationRequesting);
    let mut options = config();
    options.extend(refresh.map(Dhcp6Option::InformationRefreshTime));
    let actions = c.receive(s(6), &answer(&req, MessageType::Reply, SERVER, options));
    let [Action::Bound(l)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(c.state(), State::Informed);
    (c, l.clone(), req)
}

#[test]
fn stateless_mode_asks_for_information_and_refreshes_it() {
    let (mut c, lease, req) = stateless_informed(Some(1000));
    assert_eq!(req.msg_type, MessageType::InformationRequest);
    assert!(req.ia_na(IAID).is_none(), "no addresses asked for");
    assert_eq!(req.client_id(), Some(c.duid()));
    let o = oro(&req);
    for wanted in [
        code::DNS_SERVERS,
        code::DOMAIN_LIST,
        code::INFORMATION_REFRESH_TIME,
    ] {
        assert!(o.contains(&wanted), "{o:?}");
    }
    assert!(lease.addrs.is_empty());
    assert_eq!(lease.dns, [DNS]);
    assert_eq!(lease.domains, ["example.test"]);
    assert_eq!((lease.t1, lease.acquired), (s(1000), s(6)));
    assert_eq!(c.next_deadline(), Some(s(1006)));
    assert!(c.poll(s(1005)).is_empty());
    let again = sent(&c.poll(s(1006)));
    assert_eq!(again.msg_type, MessageType::InformationRequest);
    assert_ne!(again.transaction_id, req.transaction_id);
    assert_eq!(c.state(), State::InformationRequesting);
    assert_eq!(c.lease(), Some(&lease), "the old information stays in use");
    // the same information: renewed; a Reply without client id is accepted here
    let mut reply = Dhcp6Message::new(MessageType::Reply, again.transaction_id);
    reply.options = with_config(vec![Dhcp6Option::ServerId(SERVER.to_vec())]);
    let actions = c.receive(s(1007), &reply.emit());
    assert!(matches!(actions.as_slice(), [Action::Renewed(l)] if l.acquired == s(1007)));
    // stop: the information is unbound, nothing is sent
    let actions = c.stop(s(1010));
    assert!(
        matches!(actions.as_slice(), [Action::Unbound(_)]),
        "{actions:?}"
    );
    assert_eq!(c.state(), State::Idle);
}

#[test]
fn information_refresh_time_has_a_default_and_a_minimum() {
    let (_, l, _) = stateless_informed(None);
    assert_eq!(l.t1, s(86400));
    let (_, l, _) = stateless_informed(Some(10));
    assert_eq!(l.t1, s(600));
}

#[test]
fn information_request_is_retransmitted() {
    let mut c = Dhcp6Client::new(MAC, IAID, 3, None, Mode::Stateless);
    let first = sent(&c.start(s(0)));
    let mut prev = s(0);
    for i in 0..6 {
        let at = c.next_deadline().unwrap();
        if i == 0 {
            assert!(at >= ms(900) && at <= ms(1100), "INF_TIMEOUT: {at:?}");
        } else {
            assert!(at - prev >= ms(1700), "{:?}", at - prev);
        }
        let m = sent(&c.poll(at));
        assert_eq!(m.transaction_id, first.transaction_id);
        prev = at;
    }
    // a Reply with a failing status is not used
    let m = sent(&c.poll(c.next_deadline().unwrap()));
    let bad = answer(
        &m,
        MessageType::Reply,
        SERVER,
        vec![Dhcp6Option::StatusCode(status_of(status::UNSPEC_FAIL, ""))],
    );
    assert!(c.receive(s(100), &bad).is_empty());
    assert!(no_send(&c.receive(s(100), b"\x07")));
}

// ---------------------------------------------------------------- properties

fn arb_addr() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

fn arb_status() -> impl Strategy<Value = StatusCode> {
    (any::<u16>(), "[ -~]{0,12}").prop_map(|(code, message)| StatusCode { code, message })
}

fn arb_raw(taken: &'static [u16]) -> impl Strategy<Value = RawOption> {
    (
        any::<u16>().prop_filter("decoded codes", move |c| !taken.contains(c)),
        prop::collection::vec(any::<u8>(), 0..12),
    )
        .prop_map(|(code, data)| RawOption { code, data })
}

const DECODED: &[u16] = &[1, 2, 3, 5, 6, 7, 8, 12, 13, 14, 23, 24, 32, 39, 82, 83];

fn arb_name() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9_-]{1,12}", 0..4).prop_map(|labels| labels.join("."))
}

fn arb_ia_na() -> impl Strategy<Value = IaNa> {
    let addr_opt = prop_oneof![
        arb_status().prop_map(IaAddrOption::StatusCode),
        arb_raw(&[13]).prop_map(IaAddrOption::Unknown),
    ];
    let iaaddr = (
        arb_addr(),
        any::<u32>(),
        any::<u32>(),
        prop::collection::vec(addr_opt, 0..3),
    )
        .prop_map(|(addr, preferred, valid, options)| IaAddr {
            addr,
            preferred,
            valid,
            options,
        });
    let ia_opt = prop_oneof![
        iaaddr.prop_map(IaNaOption::IaAddr),
        arb_status().prop_map(IaNaOption::StatusCode),
        arb_raw(&[5, 13]).prop_map(IaNaOption::Unknown),
    ];
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        prop::collection::vec(ia_opt, 0..4),
    )
        .prop_map(|(iaid, t1, t2, options)| IaNa {
            iaid,
            t1,
            t2,
            options,
        })
}

fn arb_option() -> impl Strategy<Value = Dhcp6Option> {
    let duid = || prop::collection::vec(any::<u8>(), 1..20);
    prop_oneof![
        duid().prop_map(Dhcp6Option::ClientId),
        duid().prop_map(Dhcp6Option::ServerId),
        arb_ia_na().prop_map(Dhcp6Option::IaNa),
        prop::collection::vec(any::<u16>(), 0..5).prop_map(Dhcp6Option::Oro),
        any::<u8>().prop_map(Dhcp6Option::Preference),
        any::<u16>().prop_map(Dhcp6Option::ElapsedTime),
        arb_addr().prop_map(Dhcp6Option::Unicast),
        arb_status().prop_map(Dhcp6Option::StatusCode),
        Just(Dhcp6Option::RapidCommit),
        prop::collection::vec(arb_addr(), 0..4).prop_map(Dhcp6Option::DnsServers),
        prop::collection::vec(arb_name(), 0..4).prop_map(Dhcp6Option::DomainList),
        any::<u32>().prop_map(Dhcp6Option::InformationRefreshTime),
        (any::<u8>(), arb_name(), any::<bool>()).prop_map(|(flags, name, fully_qualified)| {
            Dhcp6Option::ClientFqdn(ClientFqdn {
                flags,
                name,
                fully_qualified,
            })
        }),
        any::<u32>().prop_map(Dhcp6Option::SolMaxRt),
        any::<u32>().prop_map(Dhcp6Option::InfMaxRt),
        arb_raw(DECODED).prop_map(Dhcp6Option::Unknown),
    ]
}

fn arb_message() -> impl Strategy<Value = Dhcp6Message> {
    (
        1u8..=11,
        0u32..=0xff_ffff,
        prop::collection::vec(arb_option(), 0..8),
    )
        .prop_map(|(t, xid, options)| Dhcp6Message {
            msg_type: MessageType::from_u8(t).unwrap(),
            transaction_id: xid,
            options,
        })
}

/// Clients in every state that waits for messages.
fn clients_in_every_waiting_state() -> Vec<(Dhcp6Client, Dhcp6Message)> {
    let mut out = Vec::new();
    let mut c = stateful();
    let m = sent(&c.start(s(0)));
    out.push((c, m));
    let (mut c, l) = bound(100, 160, 180, 200);
    let m = sent(&c.poll(l.acquired + s(100)));
    out.push((c.clone(), m));
    let m = sent(&c.poll(l.acquired + s(160)));
    out.push((c, m));
    let (mut c, _) = bound(100, 160, 180, 200);
    let m = sent(&c.stop(s(3)));
    out.push((c, m));
    let mut c = Dhcp6Client::new(MAC, IAID, 1, None, Mode::Stateless);
    let m = sent(&c.start(s(0)));
    out.push((c, m));
    out
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = Dhcp6Message::parse(&bytes) {
            prop_assert_eq!(Dhcp6Message::parse(&m.emit()).unwrap(), m);
        }
    }

    #[test]
    fn generated_messages_round_trip(m in arb_message()) {
        let bytes = m.emit();
        prop_assert_eq!(Dhcp6Message::parse(&bytes).unwrap(), m);
    }

    #[test]
    fn receive_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        for (mut c, _) in clients_in_every_waiting_state() {
            let _ = c.receive(s(4), &bytes);
            let _ = c.poll(s(1_000_000));
        }
    }

    #[test]
    fn receive_never_panics_on_answers_with_arbitrary_options(
        t in 1u8..=11,
        options in prop::collection::vec(arb_option(), 0..8),
    ) {
        for (mut c, asked) in clients_in_every_waiting_state() {
            let mut m = Dhcp6Message::new(MessageType::from_u8(t).unwrap(), asked.transaction_id);
            m.options.push(Dhcp6Option::ServerId(SERVER.to_vec()));
            m.options.push(Dhcp6Option::ClientId(c.duid().to_vec()));
            m.options.extend(options.iter().cloned());
            let actions = c.receive(s(4), &m.emit());
            for a in actions {
                if let Action::Bound(l) | Action::Renewed(l) = a {
                    prop_assert!(l.t1 <= l.t2, "{:?}", l);
                }
            }
            // whatever happened, time keeps the engine going without panics
            for _ in 0..5 {
                match c.next_deadline() {
                    Some(d) => { let _ = c.poll(d); }
                    None => break,
                }
            }
        }
    }
}
