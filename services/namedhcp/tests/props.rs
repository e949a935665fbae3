//! Properties of the whole message path (bytes in, bytes out), without sockets: any bytes
//! are handled without a panic and only valid messages get a reply; generated client
//! messages get the replies RFC 8415's identifier rules allow, with the request's
//! transaction id and client identifier.

#![allow(clippy::unwrap_used, missing_docs)]

use std::net::Ipv6Addr;

use dhcproto::v6::{DhcpOption, DhcpOptions, IAAddr, IANA, Message, MessageType, ORO};
use namedhcp::{NameLookup, Server6, answer_bytes, wire};
use proptest::prelude::*;

const OUR_DUID: &[u8] = &[0, 1, 0, 1, 0, 0, 0, 1, 2, 0, 0, 0, 0, 1];
const KNOWN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42);

fn server() -> Server6 {
    Server6 {
        duid: OUR_DUID.to_vec(),
        dns: vec![Ipv6Addr::LOCALHOST],
        search: vec!["example.test".into()],
        ntp: vec![],
    }
}

fn dns(name: &str) -> NameLookup {
    if name == "host1.example.test." {
        NameLookup::Found {
            name: name.into(),
            addrs: vec![KNOWN],
        }
    } else {
        NameLookup::NotFound
    }
}

fn fqdn(name: &str) -> DhcpOption {
    let mut d = vec![1u8];
    for l in name.split('.') {
        d.push(l.len() as u8);
        d.extend_from_slice(l.as_bytes());
    }
    d.push(0);
    DhcpOption::Unknown(dhcproto::v6::UnknownOption::new(39.into(), d))
}

#[derive(Clone, Debug)]
enum Sid {
    None,
    Ours,
    Other,
}

fn client_type() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        Just(MessageType::Solicit),
        Just(MessageType::Request),
        Just(MessageType::Confirm),
        Just(MessageType::Renew),
        Just(MessageType::Rebind),
        Just(MessageType::Release),
        Just(MessageType::Decline),
        Just(MessageType::InformationRequest),
    ]
}

#[allow(clippy::type_complexity)]
fn message() -> impl Strategy<Value = (Message, MessageType, Sid, bool, bool)> {
    (
        client_type(),
        any::<[u8; 3]>(),
        prop_oneof![Just(Sid::None), Just(Sid::Ours), Just(Sid::Other)],
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some("host1.example.test")),
            Just(Some("nobody.example.test"))
        ],
        proptest::option::of(proptest::collection::vec(any::<u16>(), 0..60)),
        proptest::collection::vec(
            (
                any::<u32>(),
                proptest::collection::vec(any::<[u8; 16]>(), 0..3),
            ),
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(|(t, xid, sid, with_client, name, oro, ias, rapid)| {
            let mut m = Message::new_with_id(t, xid);
            let o = m.opts_mut();
            if with_client {
                o.insert(DhcpOption::ClientId(vec![0, 3, 0, 1, 2, 0, 0, 0, 0, 9]));
            }
            match sid {
                Sid::None => {}
                Sid::Ours => o.insert(DhcpOption::ServerId(OUR_DUID.to_vec())),
                Sid::Other => o.insert(DhcpOption::ServerId(vec![0, 3, 0, 1, 9, 9, 9, 9, 9, 9])),
            }
            if let Some(n) = name {
                o.insert(fqdn(n));
            }
            if let Some(codes) = oro {
                o.insert(DhcpOption::ORO(ORO {
                    opts: codes.into_iter().map(Into::into).collect(),
                }));
            }
            let has_ia = !ias.is_empty();
            for (id, addrs) in ias {
                let mut inner = DhcpOptions::new();
                for a in addrs {
                    inner.insert(DhcpOption::IAAddr(IAAddr {
                        addr: Ipv6Addr::from(a),
                        preferred_life: 0,
                        valid_life: 0,
                        opts: DhcpOptions::new(),
                    }));
                }
                o.insert(DhcpOption::IANA(IANA {
                    id,
                    t1: 0,
                    t2: 0,
                    opts: inner,
                }));
            }
            if rapid {
                o.insert(DhcpOption::RapidCommit);
            }
            (m, t, sid, with_client, has_ia)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_no_panic_and_replies_only_to_valid_messages(
        bytes in proptest::collection::vec(any::<u8>(), 0..600)
    ) {
        let out = answer_bytes(&server(), &bytes, &mut |n| dns(n));
        match out {
            Ok(Some(reply)) => {
                prop_assert!(wire::parse(&bytes).is_ok());
                prop_assert_eq!(&reply[1..4], &bytes[1..4]);
                prop_assert!(reply[0] == 2 || reply[0] == 7);
            }
            Ok(None) => {}
            Err(_) => prop_assert!(wire::parse(&bytes).is_err()),
        }
    }

    #[test]
    fn client_messages_get_what_the_identifier_rules_allow(
        (m, t, sid, with_client, has_ia) in message()
    ) {
        let bytes = wire::encode(&m).unwrap();
        let out = answer_bytes(&server(), &bytes, &mut |n| dns(n)).expect("a valid message");
        use MessageType as T;
        let id_ok = match (t, &sid) {
            (T::Solicit | T::Confirm | T::Rebind, Sid::None) => with_client,
            (T::Request | T::Renew | T::Release | T::Decline, Sid::Ours) => with_client,
            (T::InformationRequest, Sid::None | Sid::Ours) => !has_ia,
            _ => false,
        };
        if !id_ok {
            prop_assert!(out.is_none(), "{t:?} with {sid:?} (client id {with_client}) was answered");
            return Ok(());
        }
        if matches!(t, T::Release | T::Decline | T::InformationRequest) {
            prop_assert!(out.is_some(), "{t:?} not answered");
        }
        if let Some(reply) = out {
            let r = wire::parse(&reply).unwrap();
            prop_assert_eq!(r.xid(), m.xid());
            prop_assert_eq!(r.opts().get(dhcproto::v6::OptionCode::ServerId),
                Some(&DhcpOption::ServerId(OUR_DUID.to_vec())));
            prop_assert_eq!(r.opts().get(dhcproto::v6::OptionCode::ClientId),
                m.opts().get(dhcproto::v6::OptionCode::ClientId));
            // An address, when there is one, is the one DNS holds for the name.
            for o in r.opts().iter() {
                if let DhcpOption::IANA(ia) = o {
                    for i in ia.opts.iter() {
                        if let DhcpOption::IAAddr(a) = i && a.valid_life > 0 {
                            prop_assert_eq!(a.addr, KNOWN);
                        }
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// namedhcp4: any bytes after a valid BOOTP header and cookie are handled without a
    /// panic; what parses and is answered gets a BOOTREPLY with its transaction id.
    #[test]
    fn v4_any_options_no_panic(
        xid: u32,
        opts in proptest::collection::vec(any::<u8>(), 0..300),
        found: bool,
    ) {
        use namedhcp::v4::{NameLookup4, Outcome4, Server4, answer4, txt::TxtOptions, wire as wire4};
        let mut bytes = vec![0u8; 236];
        bytes[0] = 1;
        bytes[1] = 1;
        bytes[2] = 6;
        bytes[4..8].copy_from_slice(&xid.to_be_bytes());
        bytes.extend_from_slice(&wire4::MAGIC);
        bytes.extend_from_slice(&opts);
        let Ok(m) = wire4::parse(&bytes) else { return Ok(()); };
        let server = Server4 { id: std::net::Ipv4Addr::new(10, 0, 0, 1), defaults: TxtOptions::default() };
        let out = answer4(&server, &m, &mut |n| if found {
            NameLookup4::Found { name: n.into(), addr: std::net::Ipv4Addr::new(10, 0, 0, 7), options: TxtOptions::default() }
        } else {
            NameLookup4::NotFound
        });
        if let Outcome4::Reply { msg, .. } = out {
            prop_assert_eq!(msg.xid(), xid);
            let b = wire4::encode(&msg).unwrap();
            prop_assert_eq!(b[0], 2);
        }
    }
}
