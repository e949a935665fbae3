//! Pure-core tests: one or more per message type, on messages built with dhcproto.

use super::*;
use dhcproto::v6::{IAPD, IATA, ORO};
use std::cell::RefCell;

const CLIENT: &[u8] = &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1];
const XID: [u8; 3] = [0x12, 0x34, 0x56];

fn server() -> Server6 {
    Server6 {
        duid: duid_llt(
            [2, 0xaa, 0, 0, 0, 1],
            Duration::from_secs(DUID_EPOCH + 1000),
        ),
        dns: vec!["2001:db8::53".parse().unwrap()],
        search: vec!["example.test".into(), "other.test".into()],
        ntp: vec!["2001:db8::123".parse().unwrap()],
    }
}

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn fqdn(name: &str) -> DhcpOption {
    let mut f = vec![FLAG_S_CLIENT];
    for l in name.trim_end_matches('.').split('.') {
        f.push(l.len() as u8);
        f.extend_from_slice(l.as_bytes());
    }
    if name.contains('.') {
        f.push(0);
    }
    raw(code::CLIENT_FQDN, f)
}

const FLAG_S_CLIENT: u8 = crate::fqdn::FLAG_S;

fn ia_na(id: u32, addrs: &[Ipv6Addr]) -> DhcpOption {
    let mut opts = DhcpOptions::new();
    for &x in addrs {
        opts.insert(iaaddr(x, 0));
    }
    DhcpOption::IANA(IANA {
        id,
        t1: 0,
        t2: 0,
        opts,
    })
}

fn oro(codes: &[u16]) -> DhcpOption {
    DhcpOption::ORO(ORO {
        opts: codes.iter().map(|&c| OptionCode::from(c)).collect(),
    })
}

fn message(t: MessageType, opts: Vec<DhcpOption>) -> Message {
    let mut m = Message::new_with_id(t, XID);
    for o in opts {
        m.opts_mut().insert(o);
    }
    m
}

fn client_msg(t: MessageType, extra: Vec<DhcpOption>) -> Message {
    let mut opts = vec![
        DhcpOption::ClientId(CLIENT.to_vec()),
        fqdn("host1.example.test"),
        oro(&[23, 24, 31, 39, 56]),
    ];
    if matches!(
        t,
        MessageType::Request | MessageType::Renew | MessageType::Release | MessageType::Decline
    ) {
        opts.push(DhcpOption::ServerId(server().duid));
    }
    opts.extend(extra);
    message(t, opts)
}

/// DNS that knows host1.example.test (2001:db8::42) and nothing else; counts its lookups.
struct Dns {
    asked: RefCell<Vec<String>>,
    fail: bool,
}

impl Dns {
    fn new() -> Dns {
        Dns {
            asked: RefCell::new(Vec::new()),
            fail: false,
        }
    }

    fn answer(&self, m: &Message) -> Outcome {
        let mut f = |name: &str| {
            self.asked.borrow_mut().push(name.to_string());
            if self.fail {
                NameLookup::Failed("no reply in 5000 ms".into())
            } else if name.eq_ignore_ascii_case("host1.example.test.") || name == "host1" {
                NameLookup::Found {
                    name: "host1.example.test.".into(),
                    addrs: vec![a("2001:db8::42"), a("2001:db8::43")],
                }
            } else {
                NameLookup::NotFound
            }
        };
        answer(&server(), m, &mut f)
    }
}

fn reply(o: Outcome) -> Message {
    match o {
        Outcome::Reply(m) => m,
        Outcome::Ignore(why) => panic!("ignored: {why}"),
    }
}

fn ignored(o: Outcome) -> Ignored {
    match o {
        Outcome::Reply(m) => panic!("answered: {m:?}"),
        Outcome::Ignore(why) => why,
    }
}

fn ia(m: &Message, id: u32) -> IANA {
    m.opts()
        .iter()
        .find_map(|o| match o {
            DhcpOption::IANA(ia) if ia.id == id => Some(ia.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no IA_NA {id} in {m:?}"))
}

fn addrs_of(ia: &IANA) -> Vec<(Ipv6Addr, u32, u32)> {
    ia.opts
        .iter()
        .filter_map(|o| match o {
            DhcpOption::IAAddr(x) => Some((x.addr, x.preferred_life, x.valid_life)),
            _ => None,
        })
        .collect()
}

fn status_of(opts: &DhcpOptions) -> Option<Status> {
    opts.iter().find_map(|o| match o {
        DhcpOption::StatusCode(s) => Some(s.status),
        _ => None,
    })
}

/// The identifiers and transaction of a reply are the request's and ours.
fn check_ids(m: &Message, t: MessageType) {
    assert_eq!(m.msg_type(), t);
    assert_eq!(m.xid(), XID);
    assert_eq!(
        m.opts().get(OptionCode::ClientId),
        Some(&DhcpOption::ClientId(CLIENT.to_vec()))
    );
    assert_eq!(
        m.opts().get(OptionCode::ServerId),
        Some(&DhcpOption::ServerId(server().duid))
    );
    // It goes on the wire and reads back with the same options (values the server reads
    // are decoded again; the others stay raw).
    let bytes = crate::wire::encode(m).unwrap();
    let back = crate::wire::parse(&bytes).unwrap();
    assert_eq!((back.msg_type(), back.xid()), (m.msg_type(), m.xid()));
    let codes = |m: &Message| {
        m.opts()
            .iter()
            .map(|o| u16::from(OptionCode::from(o)))
            .collect::<Vec<_>>()
    };
    assert_eq!(codes(&back), codes(m));
    assert_eq!(crate::wire::encode(&back).unwrap().len(), bytes.len());
}

#[test]
fn duid_llt_is_type_1_ethernet_time_since_2000_and_mac() {
    let d = duid_llt(
        [2, 0xaa, 0, 0, 0, 1],
        Duration::from_secs(DUID_EPOCH + 0x0102_0304),
    );
    assert_eq!(d, [0, 1, 0, 1, 1, 2, 3, 4, 2, 0xaa, 0, 0, 0, 1]);
}

#[test]
fn solicit_for_a_known_name_gets_an_advertise_with_its_address() {
    let dns = Dns::new();
    let m = reply(dns.answer(&client_msg(MessageType::Solicit, vec![ia_na(7, &[])])));
    check_ids(&m, MessageType::Advertise);
    assert_eq!(dns.asked.borrow().as_slice(), ["host1.example.test."]);
    let ia = ia(&m, 7);
    assert_eq!((ia.t1, ia.t2), (0, 0));
    assert_eq!(addrs_of(&ia), [(a("2001:db8::42"), INFINITY, INFINITY)]);
    assert_eq!(
        m.opts().get(OptionCode::DomainNameServers),
        Some(&DhcpOption::DomainNameServers(vec![a("2001:db8::53")]))
    );
    // The search list uncompressed, one name after the other.
    assert_eq!(
        raw_option(m.opts(), code::DOMAIN_LIST),
        Some(&b"\x07example\x04test\x00\x05other\x04test\x00"[..])
    );
    assert_eq!(
        raw_option(m.opts(), code::SNTP_SERVERS),
        Some(&a("2001:db8::123").octets()[..])
    );
    assert_eq!(
        m.opts().get(OptionCode::NtpServer),
        Some(&DhcpOption::NtpServer(vec![NtpSuboption::ServerAddress(
            a("2001:db8::123")
        )]))
    );
    // The FQDN comes back with S set (the AAAA record is already there), fully qualified.
    assert_eq!(
        raw_option(m.opts(), code::CLIENT_FQDN),
        Some(&b"\x01\x05host1\x07example\x04test\x00"[..])
    );
}

#[test]
fn the_very_first_message_is_answered() {
    // The original lost the first request after start; a fresh server answers it.
    let m = reply(Dns::new().answer(&client_msg(MessageType::Solicit, vec![ia_na(1, &[])])));
    assert_eq!(m.msg_type(), MessageType::Advertise);
}

#[test]
fn solicit_with_rapid_commit_gets_a_committed_reply() {
    let m = reply(Dns::new().answer(&client_msg(
        MessageType::Solicit,
        vec![ia_na(7, &[]), DhcpOption::RapidCommit],
    )));
    check_ids(&m, MessageType::Reply);
    assert!(m.opts().get(OptionCode::RapidCommit).is_some());
    assert_eq!(addrs_of(&ia(&m, 7)).len(), 1);
}

#[test]
fn solicit_for_an_unknown_name_or_without_fqdn_is_silent() {
    let mut m = client_msg(MessageType::Solicit, vec![ia_na(7, &[])]);
    m.opts_mut().remove(OptionCode::ClientFqdn);
    assert_eq!(ignored(Dns::new().answer(&m)), Ignored::NoFqdn);
    m.opts_mut().insert(fqdn("nobody.example.test"));
    assert_eq!(
        ignored(Dns::new().answer(&m)),
        Ignored::UnknownName("nobody.example.test.".into())
    );
    let dns = Dns {
        fail: true,
        ..Dns::new()
    };
    let m = client_msg(MessageType::Solicit, vec![ia_na(7, &[])]);
    assert!(matches!(ignored(dns.answer(&m)), Ignored::DnsFailed { .. }));
}

#[test]
fn solicit_without_ia_na_gets_nothing_and_asks_nobody() {
    let dns = Dns::new();
    assert_eq!(
        ignored(dns.answer(&client_msg(MessageType::Solicit, vec![]))),
        Ignored::NoIaNa
    );
    assert!(dns.asked.borrow().is_empty());
}

#[test]
fn a_partial_name_is_looked_up_relative_and_answered_absolute() {
    let mut m = client_msg(MessageType::Solicit, vec![ia_na(7, &[])]);
    m.opts_mut().remove(OptionCode::ClientFqdn);
    m.opts_mut().insert(fqdn("host1"));
    let dns = Dns::new();
    let r = reply(dns.answer(&m));
    assert_eq!(dns.asked.borrow().as_slice(), ["host1"]);
    assert_eq!(
        raw_option(r.opts(), code::CLIENT_FQDN),
        Some(&b"\x01\x05host1\x07example\x04test\x00"[..])
    );
}

#[test]
fn request_gets_the_address_it_was_advertised_and_no_name_gets_no_addrs_avail() {
    let dns = Dns::new();
    // Both DNS addresses are the name's: the one the client asks for is the one it gets.
    let m = reply(dns.answer(&client_msg(
        MessageType::Request,
        vec![ia_na(7, &[a("2001:db8::43")])],
    )));
    check_ids(&m, MessageType::Reply);
    assert_eq!(
        addrs_of(&ia(&m, 7)),
        [(a("2001:db8::43"), INFINITY, INFINITY)]
    );
    let mut unknown = client_msg(MessageType::Request, vec![ia_na(7, &[])]);
    unknown.opts_mut().remove(OptionCode::ClientFqdn);
    unknown.opts_mut().insert(fqdn("nobody.example.test"));
    let m = reply(dns.answer(&unknown));
    check_ids(&m, MessageType::Reply);
    let ia = ia(&m, 7);
    assert!(addrs_of(&ia).is_empty());
    assert_eq!(status_of(&ia.opts), Some(Status::NoAddrsAvail));
    // No configuration options go with a refusal.
    assert!(m.opts().get(OptionCode::DomainNameServers).is_none());
}

#[test]
fn only_the_first_ia_na_gets_the_address_and_ta_pd_are_refused() {
    let m = reply(Dns::new().answer(&client_msg(
        MessageType::Request,
        vec![
            ia_na(1, &[]),
            ia_na(2, &[]),
            DhcpOption::IATA(IATA {
                id: 3,
                opts: DhcpOptions::new(),
            }),
            DhcpOption::IAPD(IAPD {
                id: 4,
                t1: 5,
                t2: 6,
                opts: DhcpOptions::new(),
            }),
        ],
    )));
    assert_eq!(addrs_of(&ia(&m, 1)).len(), 1);
    assert_eq!(status_of(&ia(&m, 2).opts), Some(Status::NoAddrsAvail));
    let ta = m.opts().get(OptionCode::IATA);
    assert!(
        matches!(ta, Some(DhcpOption::IATA(t)) if t.id == 3 && status_of(&t.opts) == Some(Status::NoAddrsAvail))
    );
    let pd = m.opts().get(OptionCode::IAPD);
    assert!(
        matches!(pd, Some(DhcpOption::IAPD(p)) if p.id == 4 && status_of(&p.opts) == Some(Status::NoPrefixAvail))
    );
}

#[test]
fn renew_extends_and_withdraws_what_dns_no_longer_gives() {
    let dns = Dns::new();
    let m = reply(dns.answer(&client_msg(
        MessageType::Renew,
        vec![ia_na(7, &[a("2001:db8::42"), a("2001:db8::99")])],
    )));
    check_ids(&m, MessageType::Reply);
    let mut got = addrs_of(&ia(&m, 7));
    got.sort();
    assert_eq!(
        got,
        [
            (a("2001:db8::42"), INFINITY, INFINITY),
            (a("2001:db8::99"), 0, 0)
        ]
    );
    // The name left DNS: its address goes with lifetimes 0; an IA without any: NoBinding.
    let mut gone = client_msg(
        MessageType::Rebind,
        vec![ia_na(7, &[a("2001:db8::42")]), ia_na(8, &[])],
    );
    gone.opts_mut().remove(OptionCode::ClientFqdn);
    gone.opts_mut().insert(fqdn("nobody.example.test"));
    let m = reply(dns.answer(&gone));
    assert_eq!(m.msg_type(), MessageType::Reply);
    assert_eq!(addrs_of(&ia(&m, 7)), [(a("2001:db8::42"), 0, 0)]);
    assert_eq!(status_of(&ia(&m, 8).opts), Some(Status::NoBinding));
}

#[test]
fn rebind_is_answered_without_server_id_and_refused_with_one() {
    let m = reply(Dns::new().answer(&client_msg(MessageType::Rebind, vec![ia_na(7, &[])])));
    check_ids(&m, MessageType::Reply);
    let with_id = client_msg(
        MessageType::Rebind,
        vec![ia_na(7, &[]), DhcpOption::ServerId(server().duid)],
    );
    assert_eq!(
        ignored(Dns::new().answer(&with_id)),
        Ignored::UnexpectedServerId
    );
}

#[test]
fn confirm_says_success_for_dns_addresses_and_not_on_link_for_others() {
    let dns = Dns::new();
    let ok = reply(dns.answer(&client_msg(
        MessageType::Confirm,
        vec![ia_na(7, &[a("2001:db8::42")])],
    )));
    check_ids(&ok, MessageType::Reply);
    assert_eq!(status_of(ok.opts()), Some(Status::Success));
    assert!(ok.opts().get(OptionCode::IANA).is_none());
    let wrong = reply(dns.answer(&client_msg(
        MessageType::Confirm,
        vec![ia_na(7, &[a("2001:db8::42"), a("2001:db8:1::42")])],
    )));
    assert_eq!(status_of(wrong.opts()), Some(Status::NotOnLink));
    assert_eq!(
        ignored(dns.answer(&client_msg(MessageType::Confirm, vec![ia_na(7, &[])]))),
        Ignored::NoAddresses
    );
}

#[test]
fn release_and_decline_get_complete_replies() {
    for t in [MessageType::Release, MessageType::Decline] {
        // Released without a name (the project's own client sends none in a Release).
        let mut m = client_msg(t, vec![ia_na(7, &[a("2001:db8::42")])]);
        m.opts_mut().remove(OptionCode::ClientFqdn);
        let dns = Dns::new();
        let r = reply(dns.answer(&m));
        check_ids(&r, MessageType::Reply);
        assert_eq!(status_of(r.opts()), Some(Status::Success));
        assert!(dns.asked.borrow().is_empty(), "{t:?} needs no lookup");
        let bytes = crate::wire::encode(&r).unwrap();
        assert_eq!(bytes[0], 7, "message type Reply");
        assert_eq!(&bytes[1..4], &XID, "transaction id");
    }
}

#[test]
fn messages_for_other_servers_or_without_ids_are_ignored() {
    for t in [
        MessageType::Request,
        MessageType::Renew,
        MessageType::Release,
        MessageType::Decline,
    ] {
        let mut m = client_msg(t, vec![ia_na(7, &[])]);
        m.opts_mut().remove(OptionCode::ServerId);
        assert_eq!(ignored(Dns::new().answer(&m)), Ignored::NoServerId, "{t:?}");
        m.opts_mut()
            .insert(DhcpOption::ServerId(vec![0, 3, 0, 1, 9, 9, 9, 9, 9, 9]));
        let dns = Dns::new();
        assert_eq!(ignored(dns.answer(&m)), Ignored::OtherServer, "{t:?}");
        assert!(dns.asked.borrow().is_empty());
    }
    for t in [MessageType::Solicit, MessageType::Confirm] {
        let m = client_msg(t, vec![ia_na(7, &[]), DhcpOption::ServerId(server().duid)]);
        assert_eq!(
            ignored(Dns::new().answer(&m)),
            Ignored::UnexpectedServerId,
            "{t:?}"
        );
    }
    let mut no_client = client_msg(MessageType::Solicit, vec![ia_na(7, &[])]);
    no_client.opts_mut().remove(OptionCode::ClientId);
    assert_eq!(ignored(Dns::new().answer(&no_client)), Ignored::NoClientId);
    for t in [
        MessageType::Advertise,
        MessageType::Reply,
        MessageType::Reconfigure,
        MessageType::Unknown(200),
    ] {
        assert_eq!(
            ignored(Dns::new().answer(&client_msg(t, vec![]))),
            Ignored::NotForServers(t)
        );
    }
}

#[test]
fn oro_decides_which_options_go_back_whatever_its_length() {
    let dns = Dns::new();
    // Only DNS servers asked, among many codes (≥ 40 read past the original's table).
    let mut codes: Vec<u16> = (40..400).collect();
    codes.push(23);
    let mut m = client_msg(MessageType::Solicit, vec![ia_na(7, &[])]);
    m.opts_mut().remove(OptionCode::ORO);
    m.opts_mut().insert(oro(&codes));
    let r = reply(dns.answer(&m));
    assert!(r.opts().get(OptionCode::DomainNameServers).is_some());
    assert!(raw_option(r.opts(), code::DOMAIN_LIST).is_none());
    assert!(raw_option(r.opts(), code::SNTP_SERVERS).is_none());
    assert!(
        raw_option(r.opts(), code::CLIENT_FQDN).is_none(),
        "FQDN only when asked"
    );
    // No ORO: the address alone.
    m.opts_mut().remove(OptionCode::ORO);
    let r = reply(dns.answer(&m));
    assert_eq!(
        r.opts().iter().map(OptionCode::from).collect::<Vec<_>>(),
        [OptionCode::ClientId, OptionCode::ServerId, OptionCode::IANA]
    );
}

#[test]
fn information_request_gets_the_options_asked_without_a_name() {
    let m = message(MessageType::InformationRequest, vec![oro(&[23, 24])]);
    let dns = Dns::new();
    let r = reply(dns.answer(&m));
    assert_eq!(r.msg_type(), MessageType::Reply);
    assert_eq!(r.xid(), XID);
    assert!(r.opts().get(OptionCode::ClientId).is_none());
    assert!(r.opts().get(OptionCode::ServerId).is_some());
    assert!(r.opts().get(OptionCode::DomainNameServers).is_some());
    assert!(raw_option(r.opts(), code::DOMAIN_LIST).is_some());
    assert!(dns.asked.borrow().is_empty());
    // Nothing configured: silence, so that a server with something to say is heard.
    let bare = Server6 {
        duid: server().duid,
        ..Server6::default()
    };
    assert_eq!(
        answer(&bare, &m, &mut |_| NameLookup::NotFound),
        Outcome::Ignore(Ignored::NothingConfigured)
    );
    let with_ia = message(MessageType::InformationRequest, vec![ia_na(1, &[])]);
    assert_eq!(
        ignored(dns.answer(&with_ia)),
        Ignored::IaInInformationRequest
    );
    let other = message(
        MessageType::InformationRequest,
        vec![DhcpOption::ServerId(vec![0, 3, 0, 1, 1, 1, 1, 1, 1, 1])],
    );
    assert_eq!(ignored(dns.answer(&other)), Ignored::OtherServer);
}

#[test]
fn dns_addresses_a_host_cannot_use_are_not_leased() {
    let m = client_msg(MessageType::Solicit, vec![ia_na(7, &[])]);
    let out = answer(&server(), &m, &mut |_| NameLookup::Found {
        name: "host1.example.test.".into(),
        addrs: vec![a("fe80::1"), a("ff02::1"), a("::1"), a("::ffff:10.0.0.1")],
    });
    assert!(matches!(out, Outcome::Ignore(Ignored::UnknownName(_))));
    let out = answer(&server(), &m, &mut |_| NameLookup::Found {
        name: "host1.example.test.".into(),
        addrs: vec![a("fe80::1"), a("fd00::7")],
    });
    assert_eq!(
        addrs_of(&ia(&reply(out), 7)),
        [(a("fd00::7"), INFINITY, INFINITY)]
    );
}
