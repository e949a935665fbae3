//! The Client FQDN option (DHCPv6 option 39, RFC 4704 §4), which dhcproto does not decode:
//! it travels in a dhcproto message as an unknown option and is read and written here.
//!
//! Layout: one flags octet (`N`, `O`, `S`; the other bits must be zero and are ignored), then
//! the name in DNS wire format without compression: a fully qualified name ends with the
//! root label, a partial name (one or more labels a server may complete) does not, and an
//! empty name asks the server to choose one.

use std::fmt;

/// The `S` flag: the server should (client) / does (server) take care of the AAAA record.
pub const FLAG_S: u8 = 0x01;
/// The `O` flag: the server overrode the client's `S` (servers only).
pub const FLAG_O: u8 = 0x02;
/// The `N` flag: no DNS updates should (client) / will (server) be done.
pub const FLAG_N: u8 = 0x04;

/// Longest name on the wire, root label included (RFC 1035 §2.3.4).
const MAX_WIRE: usize = 255;

/// A decoded Client FQDN option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFqdn {
    /// The flags octet as received (or as it will be sent).
    pub flags: u8,
    /// The labels, in order; empty for an empty name.
    pub labels: Vec<String>,
    /// Whether the name ended with the root label (else it is partial).
    pub fully_qualified: bool,
}

/// Why a Client FQDN option was refused; the message names the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FqdnError(String);

impl fmt::Display for FqdnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Client FQDN option: {}", self.0)
    }
}

impl std::error::Error for FqdnError {}

impl FqdnError {
    /// An error saying `why`.
    pub fn new(why: String) -> FqdnError {
        FqdnError(why)
    }
}

impl ClientFqdn {
    /// Decodes the option's data (after code and length). Refused: no flags octet, a
    /// compression pointer or reserved label type, a label running past the end, bytes after
    /// the root label, a name longer than 255 octets, and label characters other than
    /// letters, digits, `-` and `_` (host names; `_` because the originals' examples use it).
    pub fn decode(data: &[u8]) -> Result<ClientFqdn, FqdnError> {
        let Some((&flags, name)) = data.split_first() else {
            return Err(FqdnError("empty (no flags octet)".into()));
        };
        if name.len() > MAX_WIRE {
            return Err(FqdnError(format!(
                "name of {} octets (at most {MAX_WIRE})",
                name.len()
            )));
        }
        let mut labels = Vec::new();
        let mut pos = 0;
        let fully_qualified = loop {
            let Some(&len) = name.get(pos) else {
                break false;
            };
            pos += 1;
            if len == 0 {
                if pos != name.len() {
                    return Err(FqdnError(format!(
                        "{} octets after the root label",
                        name.len() - pos
                    )));
                }
                break true;
            }
            if len & 0xc0 != 0 {
                return Err(FqdnError(format!(
                    "label type 0x{:02x} at octet {pos} (compression is not allowed)",
                    len & 0xc0
                )));
            }
            let end = pos + usize::from(len);
            let Some(label) = name.get(pos..end) else {
                return Err(FqdnError(format!(
                    "label of {len} octets at octet {pos} runs past the end"
                )));
            };
            if let Some(bad) = label
                .iter()
                .find(|&&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            {
                return Err(FqdnError(format!(
                    "octet 0x{bad:02x} in label {} is not a host name character",
                    labels.len() + 1
                )));
            }
            // Checked ASCII above: the conversion cannot fail.
            labels.push(String::from_utf8_lossy(label).into_owned());
            pos = end;
        };
        if fully_qualified && labels.is_empty() {
            return Err(FqdnError("the name is the root alone".into()));
        }
        Ok(ClientFqdn {
            flags,
            labels,
            fully_qualified,
        })
    }

    /// The option's data: flags, then the labels (and the root label when fully qualified).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.flags];
        for l in &self.labels {
            let bytes = &l.as_bytes()[..l.len().min(63)];
            out.push(bytes.len() as u8);
            out.extend_from_slice(bytes);
        }
        if self.fully_qualified {
            out.push(0);
        }
        out
    }

    /// The name to look up: `a.b.c.` (absolute) when fully qualified, `a` (relative, so the
    /// resolver's search list completes it) when partial; `None` for an empty name.
    pub fn query(&self) -> Option<String> {
        if self.labels.is_empty() {
            return None;
        }
        let mut q = self.labels.join(".");
        if self.fully_qualified {
            q.push('.');
        }
        Some(q)
    }

    /// The server's answer to this client's option, for the absolute `name` the address was
    /// found under. namedhcp performs no DNS update: the AAAA record is already there, since
    /// it is where the address came from. So unless the client asked for no updates at all
    /// (`N`), the reply says `S` = 1 (the AAAA record is the server side's business, the
    /// client must not update it) and `O` = 1 when the client had `S` = 0; with `N` from the
    /// client the reply keeps `N` = 1, `S` = 0. The name is the absolute one that answered.
    pub fn reply(&self, name: &str) -> ClientFqdn {
        let flags = if self.flags & FLAG_N != 0 {
            FLAG_N
        } else if self.flags & FLAG_S == 0 {
            FLAG_S | FLAG_O
        } else {
            FLAG_S
        };
        ClientFqdn {
            flags,
            labels: name
                .trim_end_matches('.')
                .split('.')
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            fully_qualified: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn wire(flags: u8, name: &[&str], fq: bool) -> Vec<u8> {
        let mut v = vec![flags];
        for l in name {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        if fq {
            v.push(0);
        }
        v
    }

    #[test]
    fn decodes_full_partial_and_empty_names() {
        let f = ClientFqdn::decode(&wire(1, &["host1", "example", "test"], true)).unwrap();
        assert_eq!(f.query().as_deref(), Some("host1.example.test."));
        assert_eq!(f.flags, FLAG_S);
        let p = ClientFqdn::decode(&wire(0, &["host1"], false)).unwrap();
        assert!(!p.fully_qualified);
        assert_eq!(p.query().as_deref(), Some("host1"));
        let e = ClientFqdn::decode(&[0]).unwrap();
        assert_eq!(e.query(), None);
    }

    #[test]
    fn refuses_malformed_names() {
        let bad = |data: &[u8], what: &str| {
            let e = ClientFqdn::decode(data).expect_err(what).to_string();
            assert!(e.contains(what), "{e}");
        };
        bad(&[], "no flags");
        bad(&[1, 3, b'a', b'b'], "runs past the end");
        bad(&[1, 0xc0, 4], "compression");
        bad(&[1, 1, b'a', 0, 7], "after the root label");
        bad(&[1, 3, b'a', b' ', b'b', 0], "not a host name character");
        bad(&[1, 0], "root alone");
        let mut long = vec![1];
        for _ in 0..64 {
            long.extend_from_slice(&[3, b'a', b'b', b'c']);
        }
        bad(&long, "at most 255");
    }

    #[test]
    fn reply_flags_follow_rfc_4704() {
        let name = "host1.example.test.";
        let asked_s = ClientFqdn::decode(&wire(FLAG_S, &["host1"], false)).unwrap();
        assert_eq!(asked_s.reply(name).flags, FLAG_S);
        let asked_none = ClientFqdn::decode(&wire(0, &["host1"], false)).unwrap();
        assert_eq!(asked_none.reply(name).flags, FLAG_S | FLAG_O);
        let asked_n = ClientFqdn::decode(&wire(FLAG_N, &["host1"], false)).unwrap();
        assert_eq!(asked_n.reply(name).flags, FLAG_N);
        let r = asked_s.reply(name);
        assert_eq!(
            r.encode(),
            wire(FLAG_S, &["host1", "example", "test"], true)
        );
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_fail_cleanly(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(f) = ClientFqdn::decode(&data) {
                // What decodes encodes back to the same bytes.
                prop_assert_eq!(f.encode(), data);
            }
        }

        #[test]
        fn host_names_round_trip(labels in proptest::collection::vec("[a-z0-9_-]{1,20}", 1..5), fq: bool, flags in 0u8..8) {
            let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
            let data = wire(flags, &refs, fq);
            let f = ClientFqdn::decode(&data).unwrap();
            prop_assert_eq!(&f.labels, &labels);
            prop_assert_eq!(f.encode(), data);
        }
    }
}
