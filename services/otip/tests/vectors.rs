//! The address vectors of the reference (§8), computed with the original C code, against the
//! hash functions these tools use (`nlconf::hashaddr`).

#![allow(clippy::unwrap_used, missing_docs)]

use std::net::Ipv6Addr;

use ioth_otip::ntop::ntop6;
use nlconf::hashaddr::{eui64, hashaddr, hashmac};

#[test]
fn every_address_row() {
    let rows: &[(&str, &str, Option<&str>, u32, &str)] = &[
        (
            "fc00::",
            "renzo.hash.local",
            None,
            0,
            "fc00::4cc:8049:6765:d03a",
        ),
        (
            "fc00::",
            "renzo.hash.local.",
            None,
            0,
            "fc00::4cc:8049:6765:d03a",
        ),
        (
            "fc00::",
            "hic_sunt_leones.hash.local.",
            None,
            0,
            "fc00::9c8f:74b4:705f:6512",
        ),
        (
            "2001:760:2e00:ff00::",
            "lucia.hash.v2.cs.unibo.it",
            None,
            0,
            "2001:760:2e00:ff00:cf1:1fe9:aad4:e838",
        ),
        (
            "2001:760:2e00:ff00::",
            "whatever-you-want.hash.v2.cs.unibo.it.",
            None,
            0,
            "2001:760:2e00:ff00:542d:ffcb:17e:8fa7",
        ),
        (
            "fc01::",
            "host.hash.local",
            None,
            0,
            "fc01::3c33:4b38:1351:d163",
        ),
        (
            "fc01::",
            "renzo.otip",
            Some("mypassword"),
            0,
            "fc01::a086:5677:2679:16f9",
        ),
        (
            "fc01::",
            "renzo.otip",
            Some("mypassword"),
            1,
            "fc01::a80d:c83f:9271:d9ce",
        ),
        (
            "fc01::",
            "renzo.otip",
            Some("mypassword"),
            54321,
            "fc01::6c96:53ca:eb83:2907",
        ),
        (
            "fc01::",
            "renzo.otip.",
            Some("mypassword"),
            54321,
            "fc01::6c96:53ca:eb83:2907",
        ),
        (
            "fc00::",
            "sensor.iot.local",
            Some("secret"),
            1,
            "fc00::1041:adb6:86d9:8900",
        ),
        (
            "2001:760:2e00:ff00::",
            "test.otip.v2.cs.unibo.it",
            Some("secret_password"),
            54321,
            "2001:760:2e00:ff00:6093:6dff:e052:6b26",
        ),
        (
            "fc00::",
            "thread-7.iot.example",
            None,
            1,
            "fc00::6cd2:3c05:1499:5e37",
        ),
        (
            "fc00::",
            "thread-7.iot.example",
            None,
            54321,
            "fc00::5824:cefa:9d82:9352",
        ),
    ];
    for (i, &(base, name, pw, t, want)) in rows.iter().enumerate() {
        let base: Ipv6Addr = base.parse().unwrap();
        assert_eq!(ntop6(hashaddr(base, name, pw, t)), want, "row {}", i + 1);
    }
}

#[test]
fn every_mac_row_and_the_eui64_row() {
    let rows: &[(&str, Option<&str>, [u8; 6])] = &[
        (
            "test.v2.cs.unibo.it",
            None,
            [0x6a, 0xd6, 0x2f, 0x5a, 0x5a, 0x2e],
        ),
        (
            "renzo.hash.local",
            None,
            [0x06, 0xcc, 0x80, 0x65, 0xd0, 0x3a],
        ),
        (
            "thread-7.iot.example",
            None,
            [0x72, 0x8b, 0xcf, 0x01, 0xbf, 0xd0],
        ),
        (
            "hic_sunt_leones.hash.local.",
            None,
            [0x9e, 0x8f, 0x74, 0x5f, 0x65, 0x12],
        ),
        (
            "renzo.otip",
            Some("mypassword"),
            [0xa2, 0x86, 0x56, 0x79, 0x16, 0xf9],
        ),
    ];
    for (i, &(name, pw, want)) in rows.iter().enumerate() {
        assert_eq!(hashmac(name, pw), want, "row {}", i + 15);
    }
    let base: Ipv6Addr = "2000:760::".parse().unwrap();
    assert_eq!(
        ntop6(eui64(base, hashmac("test.v2.cs.unibo.it", None))),
        "2000:760::68d6:2fff:fe5a:5a2e"
    );
}

#[test]
fn case_is_kept_and_only_one_trailing_dot_is_dropped() {
    let base: Ipv6Addr = "fc00::".parse().unwrap();
    let lower = hashaddr(base, "renzo.hash.local", None, 0);
    assert_ne!(hashaddr(base, "RENZO.hash.local", None, 0), lower);
    assert_ne!(hashaddr(base, "renzo.hash.local..", None, 0), lower);
}
