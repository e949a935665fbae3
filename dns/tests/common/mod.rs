//! Shared by the server tests: a zone, DNS clients over ioth sockets.

#![allow(clippy::unwrap_used, missing_docs, dead_code, unused_imports)]

use ioth_dns::StaticZone;
pub use ioth_tests::dns_client::*;

/// The zone the tests serve: `www` (A 10.0.0.80, AAAA fd00::80), `alias` (CNAME www), `big`
/// (60 A records: about 1 KB, over 512 bytes).
pub fn zone_text() -> String {
    let mut z = String::from(
        "$ORIGIN example.test.\n$TTL 300\n\
         @ IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 60\n\
         @ IN NS ns\nns IN A 10.0.0.53\n\
         www IN A 10.0.0.80\nwww IN AAAA fd00::80\nalias IN CNAME www\n",
    );
    for i in 1..=60 {
        z.push_str(&format!("big IN A 10.1.0.{i}\n"));
    }
    z
}

pub fn zone() -> StaticZone {
    StaticZone::parse(&zone_text(), None).unwrap()
}
