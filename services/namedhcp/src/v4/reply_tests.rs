//! Pure-core tests of namedhcp4, per message type, on messages that went through the wire.

use super::*;
use crate::v4::wire;
use dhcproto::v4::Flags;

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 25);
const ADDR: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x11];

fn server() -> Server4 {
    Server4 {
        id: SERVER,
        defaults: TxtOptions {
            dns: vec![Ipv4Addr::new(192, 168, 1, 24)],
            domain: Some("test.local".into()),
            ..TxtOptions::default()
        },
    }
}

fn dns(name: &str) -> NameLookup4 {
    if name == "one.test.local." {
        NameLookup4::Found {
            name: name.into(),
            addr: ADDR,
            options: TxtOptions {
                mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
                router: vec![Ipv4Addr::new(192, 168, 1, 254)],
                ..TxtOptions::default()
            },
        }
    } else {
        NameLookup4::NotFound
    }
}

fn request(t: MessageType, name: Option<&str>, extra: Vec<DhcpOption>) -> Message {
    let mut m = Message::new_with_id(
        0x1234_5678,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &MAC,
    );
    m.set_flags(Flags::default().set_broadcast());
    let o = m.opts_mut();
    o.insert(DhcpOption::MessageType(t));
    o.insert(DhcpOption::ParameterRequestList(
        [1u8, 3, 6, 15, 28, 42].iter().map(|&c| c.into()).collect(),
    ));
    if let Some(n) = name {
        let mut d = vec![0x05, 0, 0];
        for l in n.split('.') {
            d.push(l.len() as u8);
            d.extend_from_slice(l.as_bytes());
        }
        d.push(0);
        o.insert(DhcpOption::Unknown(UnknownOption::new(81.into(), d)));
    }
    for e in extra {
        o.insert(e);
    }
    // Through the wire, as the server sees it.
    wire::parse(&wire::encode(&m).unwrap()).unwrap()
}

fn go(m: &Message) -> Outcome4 {
    let mut asked = 0;
    let out = answer4(&server(), m, &mut |n| {
        asked += 1;
        dns(n)
    });
    assert!(asked <= 1);
    out
}

fn reply(o: Outcome4) -> (Message, Destination) {
    match o {
        Outcome4::Reply { msg, to } => (msg, to),
        Outcome4::Ignore(why) => panic!("ignored: {why}"),
    }
}

fn is_ignored(o: &Outcome4) -> bool {
    matches!(o, Outcome4::Ignore(_))
}

#[test]
fn discover_for_a_known_name_gets_an_offer_with_its_txt_options() {
    let (m, to) = reply(go(&request(
        MessageType::Discover,
        Some("one.test.local"),
        vec![],
    )));
    assert_eq!(to, Destination::Broadcast);
    assert_eq!(m.opcode(), Opcode::BootReply);
    assert_eq!(m.xid(), 0x1234_5678);
    assert_eq!(m.chaddr(), MAC);
    assert_eq!(m.yiaddr(), ADDR);
    assert!(m.flags().broadcast());
    let o = m.opts();
    assert_eq!(o.msg_type(), Some(MessageType::Offer));
    assert_eq!(
        o.get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(SERVER))
    );
    assert_eq!(
        o.get(OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(INFINITE))
    );
    assert_eq!(
        o.get(OptionCode::SubnetMask),
        Some(&DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)))
    );
    assert_eq!(
        o.get(OptionCode::Router),
        Some(&DhcpOption::Router(vec![Ipv4Addr::new(192, 168, 1, 254)]))
    );
    // Not in the TXT record: the server's own.
    assert_eq!(
        o.get(OptionCode::DomainNameServer),
        Some(&DhcpOption::DomainNameServer(vec![Ipv4Addr::new(
            192, 168, 1, 24
        )]))
    );
    assert_eq!(
        o.get(OptionCode::DomainName),
        Some(&DhcpOption::DomainName("test.local".into()))
    );
    assert_eq!(
        raw_option(o, code::CLIENT_FQDN),
        Some(&b"\x05\xff\xff\x03one\x04test\x05local\x00"[..])
    );
    // It frames as a DHCP message: the cookie after the fixed part, 300 octets at least.
    let bytes = wire::encode(&m).unwrap();
    assert!(bytes.len() >= 300);
    assert_eq!(bytes[236..240], wire::MAGIC);
}

#[test]
fn discover_for_an_unknown_name_or_without_fqdn_is_silent() {
    assert!(is_ignored(&go(&request(
        MessageType::Discover,
        Some("nobody.test.local"),
        vec![]
    ))));
    assert!(is_ignored(&go(&request(
        MessageType::Discover,
        None,
        vec![]
    ))));
}

#[test]
fn request_selecting_gets_ack_nak_or_silence_by_server_id() {
    let ours = DhcpOption::ServerIdentifier(SERVER);
    let (m, _) = reply(go(&request(
        MessageType::Request,
        Some("one.test.local"),
        vec![ours.clone(), DhcpOption::RequestedIpAddress(ADDR)],
    )));
    assert_eq!(m.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(m.yiaddr(), ADDR);
    let (m, to) = reply(go(&request(
        MessageType::Request,
        Some("nobody.test.local"),
        vec![ours.clone()],
    )));
    assert_eq!(m.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(
        (m.yiaddr(), to),
        (Ipv4Addr::UNSPECIFIED, Destination::Broadcast)
    );
    let other = DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 168, 1, 99));
    assert!(is_ignored(&go(&request(
        MessageType::Request,
        Some("one.test.local"),
        vec![other]
    ))));
}

#[test]
fn init_reboot_and_renewal_check_the_address() {
    let (m, _) = reply(go(&request(
        MessageType::Request,
        Some("one.test.local"),
        vec![DhcpOption::RequestedIpAddress(Ipv4Addr::new(
            192, 168, 1, 7,
        ))],
    )));
    assert_eq!(m.opts().msg_type(), Some(MessageType::Nak));
    // Renewing: ciaddr set, unicast back.
    let mut renew = request(MessageType::Request, Some("one.test.local"), vec![]);
    renew.set_ciaddr(ADDR);
    let (m, to) = reply(go(&renew));
    assert_eq!(m.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(to, Destination::Unicast(ADDR));
    // A name DNS does not know, without our server id: no record, silence.
    assert!(is_ignored(&go(&request(
        MessageType::Request,
        Some("nobody.test.local"),
        vec![DhcpOption::RequestedIpAddress(ADDR)]
    ))));
}

#[test]
fn inform_gets_options_release_decline_and_relays_get_nothing() {
    let mut inform = request(MessageType::Inform, None, vec![]);
    inform.set_ciaddr(Ipv4Addr::new(192, 168, 1, 50));
    let (m, to) = reply(go(&inform));
    assert_eq!(m.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(m.opts().get(OptionCode::AddressLeaseTime).is_none());
    assert!(m.opts().get(OptionCode::DomainNameServer).is_some());
    assert_eq!(to, Destination::Unicast(Ipv4Addr::new(192, 168, 1, 50)));
    for t in [MessageType::Release, MessageType::Decline] {
        assert!(is_ignored(&go(&request(t, Some("one.test.local"), vec![]))));
    }
    let mut relayed = request(MessageType::Discover, Some("one.test.local"), vec![]);
    relayed.set_giaddr(Ipv4Addr::new(10, 0, 0, 1));
    assert!(is_ignored(&go(&relayed)));
}

#[test]
fn the_parser_refuses_bad_framing() {
    let good = wire::encode(&request(
        MessageType::Discover,
        Some("one.test.local"),
        vec![],
    ))
    .unwrap();
    assert!(wire::parse(&good).is_ok());
    let bad = |f: &dyn Fn(&mut Vec<u8>), want: &str| {
        let mut b = good.clone();
        f(&mut b);
        let e = wire::parse(&b).expect_err(want).to_string();
        assert!(e.contains(want), "{want:?} not in {e:?}");
    };
    bad(&|b| b.truncate(100), "shorter than");
    bad(&|b| b[0] = 2, "not a BOOTREQUEST");
    bad(&|b| b[236] = 0, "magic cookie");
    bad(&|b| b.truncate(245), "");
    bad(
        &|b| {
            b.truncate(240);
            b.extend_from_slice(&[53, 2, 1, 1, 255]);
        },
        "option 53: 2 octets",
    );
    bad(
        &|b| {
            b.truncate(240);
            b.extend_from_slice(&[53, 1, 1]);
        },
        "no End option",
    );
    bad(
        &|b| {
            b.truncate(240);
            b.extend_from_slice(&[53, 1, 1, 53, 1, 1, 255]);
        },
        "repeated",
    );
    bad(
        &|b| {
            b.truncate(240);
            b.extend_from_slice(&[81, 4, 5, 0, 0, 9, 255]);
        },
        "option 81",
    );
}
