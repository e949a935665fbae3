//! Property tests of the two parsers of outside input: VNLs and control requests.

use proptest::prelude::*;
use vde::Vnl;
use vde::ctl::{CtlRequest, PortRequest};

fn scheme_and_keys() -> impl Strategy<Value = (&'static str, Vec<&'static str>)> {
    prop_oneof![
        Just(("vde", vec!["port", "portgroup", "group", "mode", "timeout"])),
        Just((
            "hub",
            vec![
                "mode",
                "dirmode",
                "grp",
                "expiretime",
                "loss",
                "delay",
                "queue"
            ]
        )),
        Just((
            "switch",
            vec!["mode", "hashsize", "expiretime", "dup", "reorder", "rate"]
        )),
        Just((
            "vxvde",
            vec!["port", "vni", "grp", "ttl", "v4", "if", "bind"]
        )),
        Just(("tap", vec![])),
        Just(("null", vec![])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn vnl_parse_never_panics(s in ".{0,200}") {
        let _ = Vnl::parse(&s);
    }

    #[test]
    fn vnl_parse_never_panics_on_syntax_soup(s in "[a-z:/\\[\\]='\"\\\\%0-9A-F@. ]{0,80}") {
        if let Ok(v) = Vnl::parse(&s) {
            // Whatever parses prints back to something that parses to the same value.
            prop_assert_eq!(Vnl::parse(&v.to_string()).unwrap(), v);
        }
    }

    #[test]
    fn vnl_round_trips(
        (scheme, keys) in scheme_and_keys(),
        address in ".{0,40}",
        picks in prop::collection::vec((any::<prop::sample::Index>(), ".{0,20}"), 0..5),
    ) {
        let options: Vec<(String, String)> = if keys.is_empty() {
            Vec::new()
        } else {
            picks.into_iter().map(|(i, v)| (keys[i.index(keys.len())].to_owned(), v)).collect()
        };
        let v = Vnl { scheme: scheme.to_owned(), address, options };
        let text = v.to_string();
        prop_assert_eq!(Vnl::parse(&text).unwrap(), v, "{}", text);
    }

    #[test]
    fn ctl_parse_never_panics(b in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = CtlRequest::parse(&b);
    }

    #[test]
    fn ctl_parse_never_panics_near_valid(
        b in prop::collection::vec(any::<u8>(), 122..260),
        ty in any::<u32>(),
    ) {
        let mut b = b;
        b[0..4].copy_from_slice(&0xfeed_faceu32.to_ne_bytes());
        b[4..8].copy_from_slice(&3u32.to_ne_bytes());
        b[8..12].copy_from_slice(&ty.to_ne_bytes());
        b[12..14].copy_from_slice(&1u16.to_ne_bytes());
        if let Ok(r) = CtlRequest::parse(&b) {
            prop_assert!(!r.data_path.is_empty() && r.data_path.len() < 108 && !r.data_path.contains(&0));
        }
    }

    #[test]
    fn ctl_round_trips(
        port in prop_oneof![
            Just(PortRequest::Any),
            Just(PortRequest::Zero),
            (1u32..=0x00ff_ffff).prop_map(PortRequest::Number),
        ],
        data_path in prop::collection::vec(1u8..=255, 1..108),
        description in "[ -~]{0,127}",
    ) {
        let r = CtlRequest { port, data_path, description };
        let bytes = r.encode().unwrap();
        prop_assert!(bytes.len() <= 256);
        prop_assert_eq!(CtlRequest::parse(&bytes).unwrap(), r);
    }
}
