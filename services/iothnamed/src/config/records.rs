//! `static` lines: the records iothnamed serves from its configuration.

use std::net::IpAddr;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, TXT};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::domain::{check_name, normalize, parse_name, reverse_name};

/// One static record: its owner (normal form and as a DNS name) and data. The TTL is the
/// `staticttl` option's, applied when answering.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticRecord {
    /// The owner in normal form.
    pub key: String,
    /// The owner as a DNS name (absolute).
    pub name: Name,
    /// The record's data.
    pub data: RData,
}

impl StaticRecord {
    /// The record's type.
    pub fn record_type(&self) -> RecordType {
        self.data.record_type()
    }
}

fn dns_name(s: &str) -> Result<Name, String> {
    check_name(s.strip_suffix('.').unwrap_or(s))?;
    let mut n = parse_name(&normalize(s)).map_err(|e| format!("{s:?}: {e}"))?;
    n.set_fqdn(true);
    Ok(n)
}

/// Parses the words after `static`: `A N v4`, `AAAA N v6`, `PTR ADDR N` (a numeric ADDR
/// stands for its reverse name), `CNAME ALIAS TARGET`, `NS N HOST`, `MX N PREF HOST`,
/// `TXT N "s1" "s2"…` (each string at most 255 bytes). The type word is case-insensitive.
pub fn parse_static(args: &[String]) -> Result<StaticRecord, String> {
    let Some((ty, rest)) = args.split_first() else {
        return Err("static: needs a record type (A, AAAA, PTR, CNAME, NS, MX, TXT)".into());
    };
    let ty_upper = ty.to_ascii_uppercase();
    let want = |n: usize, form: &str| -> Result<(), String> {
        if rest.len() == n {
            Ok(())
        } else {
            Err(format!("static {ty_upper}: expected {form}"))
        }
    };
    let (owner, data) = match ty_upper.as_str() {
        "A" => {
            want(2, "NAME IPV4")?;
            let a: std::net::Ipv4Addr = rest[1]
                .parse()
                .map_err(|_| format!("static A: {:?} is not an IPv4 address", rest[1]))?;
            (rest[0].clone(), RData::A(A(a)))
        }
        "AAAA" => {
            want(2, "NAME IPV6")?;
            let a: std::net::Ipv6Addr = rest[1]
                .parse()
                .map_err(|_| format!("static AAAA: {:?} is not an IPv6 address", rest[1]))?;
            (rest[0].clone(), RData::AAAA(AAAA(a)))
        }
        "PTR" => {
            want(2, "ADDR-OR-NAME NAME")?;
            let owner = match rest[0].parse::<IpAddr>() {
                Ok(ip) => reverse_name(ip),
                Err(_) => rest[0].clone(),
            };
            (owner, RData::PTR(PTR(dns_name(&rest[1])?)))
        }
        "CNAME" => {
            want(2, "ALIAS TARGET")?;
            (rest[0].clone(), RData::CNAME(CNAME(dns_name(&rest[1])?)))
        }
        "NS" => {
            want(2, "NAME HOST")?;
            (rest[0].clone(), RData::NS(NS(dns_name(&rest[1])?)))
        }
        "MX" => {
            want(3, "NAME PREFERENCE HOST")?;
            let pref: u16 = rest[1]
                .parse()
                .map_err(|_| format!("static MX: {:?} is not a preference (0-65535)", rest[1]))?;
            (
                rest[0].clone(),
                RData::MX(MX::new(pref, dns_name(&rest[2])?)),
            )
        }
        "TXT" => {
            if rest.len() < 2 {
                return Err("static TXT: expected NAME \"STRING\"…".into());
            }
            if let Some(long) = rest[1..].iter().find(|s| s.len() > 255) {
                return Err(format!(
                    "static TXT: a string is {} bytes, over 255: {:.20}…",
                    long.len(),
                    long
                ));
            }
            (rest[0].clone(), RData::TXT(TXT::new(rest[1..].to_vec())))
        }
        other => {
            return Err(format!(
                "static: unknown record type {other:?} (A, AAAA, PTR, CNAME, NS, MX, TXT)"
            ));
        }
    };
    let name = dns_name(&owner)?;
    Ok(StaticRecord {
        key: normalize(&owner),
        name,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(words: &[&str]) -> Result<StaticRecord, String> {
        parse_static(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn every_type_of_the_reference() {
        assert_eq!(
            s(&["a", "One.Test.Local", "192.168.1.1"]).expect("A").key,
            "one.test.local"
        );
        assert_eq!(
            s(&["AAAA", "x.l", "fc00::1"]).expect("AAAA").record_type(),
            RecordType::AAAA
        );
        let ptr = s(&["PTR", "192.168.1.1", "one.test.local"]).expect("PTR");
        assert_eq!(ptr.key, "1.1.168.192.in-addr.arpa");
        assert_eq!(
            s(&["CNAME", "tost.foo.bar", "test.foo.bar"])
                .expect("CNAME")
                .record_type(),
            RecordType::CNAME
        );
        assert_eq!(
            s(&["NS", "dom.foo.bar", "dns.foo.bar"])
                .expect("NS")
                .record_type(),
            RecordType::NS
        );
        assert_eq!(
            s(&["MX", "t.foo.bar", "10", "mail.foo.bar"])
                .expect("MX")
                .record_type(),
            RecordType::MX
        );
        let txt = s(&["TXT", "t.foo.bar", "sempre caro", "long string"]).expect("TXT");
        assert_eq!(
            txt.data,
            RData::TXT(TXT::new(vec!["sempre caro".into(), "long string".into()]))
        );
    }

    #[test]
    fn faults_say_what_is_wrong() {
        let e = |w: &[&str]| s(w).expect_err("bad");
        assert!(e(&["A", "x", "fc00::1"]).contains("not an IPv4"));
        assert!(e(&["AAAA", "x"]).contains("expected NAME IPV6"));
        assert!(e(&["SRV", "x", "y"]).contains("unknown record type"));
        assert!(e(&["MX", "x", "high", "m"]).contains("preference"));
        assert!(e(&["TXT", "x", &"z".repeat(256)]).contains("over 255"));
        assert!(e(&["A", "a..b", "1.2.3.4"]).contains("not a domain name"));
        assert!(e(&[]).contains("record type"));
    }
}
