//! The DHCPv4 Client FQDN option (81, RFC 4702 §2): flags (`S` 0x01, `O` 0x02, `E` 0x04,
//! `N` 0x08), two deprecated RCODE octets, then the name: DNS wire format when `E` is set
//! (checked as [`crate::fqdn`] checks DHCPv6's), else ASCII (deprecated, still sent by some
//! clients; a name with a dot counts as fully qualified).

use crate::fqdn::{ClientFqdn, FqdnError};

/// `S`: the server should / does take care of the A record.
pub const FLAG_S: u8 = 0x01;
/// `O`: the server overrode the client's `S`.
pub const FLAG_O: u8 = 0x02;
/// `E`: the name is in DNS wire format.
pub const FLAG_E: u8 = 0x04;
/// `N`: no DNS updates.
pub const FLAG_N: u8 = 0x08;

/// A decoded DHCPv4 Client FQDN option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFqdn4 {
    /// The flags as received.
    pub flags: u8,
    /// The name (its flags field unused here).
    pub name: ClientFqdn,
}

impl ClientFqdn4 {
    /// Decodes the option's data; errors name the fault.
    pub fn decode(data: &[u8]) -> Result<ClientFqdn4, FqdnError> {
        if data.len() < 3 {
            return Err(FqdnError::new(format!(
                "{} octets (at least flags and the two RCODEs)",
                data.len()
            )));
        }
        let flags = data[0];
        let name = if flags & FLAG_E != 0 {
            let mut wire = vec![0];
            wire.extend_from_slice(&data[3..]);
            ClientFqdn::decode(&wire)?
        } else {
            let text = std::str::from_utf8(&data[3..])
                .map_err(|_| FqdnError::new("an ASCII name that is not ASCII".into()))?;
            let text = text.trim_end_matches('\0');
            let mut wire = vec![0];
            for label in text
                .trim_end_matches('.')
                .split('.')
                .filter(|l| !l.is_empty())
            {
                if label.len() > 63 {
                    return Err(FqdnError::new(format!("label {label:?} over 63 octets")));
                }
                wire.push(label.len() as u8);
                wire.extend_from_slice(label.as_bytes());
            }
            if text.contains('.') {
                wire.push(0);
            }
            ClientFqdn::decode(&wire)?
        };
        Ok(ClientFqdn4 { flags, name })
    }

    /// The server's option for the absolute `name` found: `S` = 1 (the A record is already
    /// there: it is where the address came from), `O` = 1 when the client had `S` = 0, `N` kept
    /// (then `S` = 0), `E` as the client's, RCODEs 255 (RFC 4702 §4), the name absolute.
    pub fn reply(&self, name: &str) -> Vec<u8> {
        let e = self.flags & FLAG_E;
        let flags = if self.flags & FLAG_N != 0 {
            FLAG_N | e
        } else if self.flags & FLAG_S == 0 {
            FLAG_S | FLAG_O | e
        } else {
            FLAG_S | e
        };
        let mut out = vec![flags, 255, 255];
        let name = self.name.reply(name);
        if e != 0 {
            out.extend_from_slice(&name.encode()[1..]);
        } else {
            out.extend_from_slice(name.labels.join(".").as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings_decode() {
        let wire = ClientFqdn4::decode(b"\x05\xff\xff\x03one\x04test\x05local\x00").unwrap();
        assert_eq!(wire.name.query().as_deref(), Some("one.test.local."));
        let ascii = ClientFqdn4::decode(b"\x01\x00\x00one.test.local").unwrap();
        assert_eq!(ascii.name.query().as_deref(), Some("one.test.local."));
        let partial = ClientFqdn4::decode(b"\x05\x00\x00\x03one").unwrap();
        assert_eq!(partial.name.query().as_deref(), Some("one"));
        assert!(ClientFqdn4::decode(b"\x05\x00").is_err());
        assert!(ClientFqdn4::decode(b"\x00\x00\x00bad name").is_err());
        assert!(ClientFqdn4::decode(b"\x04\x00\x00\x05ab").is_err());
    }

    #[test]
    fn reply_flags_follow_rfc_4702() {
        let c = ClientFqdn4::decode(b"\x05\xff\xff\x03one\x00").unwrap();
        assert_eq!(
            c.reply("one.test.local."),
            b"\x05\xff\xff\x03one\x04test\x05local\x00"
        );
        let c = ClientFqdn4::decode(b"\x00\x00\x00one").unwrap();
        assert_eq!(c.reply("one.test.local."), b"\x03\xff\xffone.test.local");
        let c = ClientFqdn4::decode(b"\x0c\x00\x00\x03one\x00").unwrap();
        assert_eq!(c.reply("one.")[0], FLAG_N | FLAG_E);
    }
}
