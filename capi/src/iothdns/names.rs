//! Domain names as the C API spells them, and back: hickory's [`Name`] holds and checks the
//! labels (1 to 63 bytes each, 255 bytes on the wire), this module only maps text to labels.
//!
//! Text form: labels separated by `.`, one trailing dot optional on input and never written
//! on output, the root is the empty string. Inside a label `\.` is a dot, `\\` a backslash
//! and `\DDD` (three decimal digits, at most 255) any byte; any other escaped character
//! stands for itself. On output `.`, `\` and bytes outside `0x21..=0x7e` are escaped (the
//! set glibc's `ns_name_ntop` escapes as `\DDD`), so every name read from the wire prints as
//! a C string that reads back as the same labels.

use hickory_proto::rr::Name;
use hickory_proto::rr::domain::Label;

/// The room the C API gives a name: `IOTHDNS_MAXNAME` bytes, the terminating NUL included.
pub(crate) const MAX_TEXT: usize = 255;

/// Parses the text form into a fully qualified name. `EINVAL` for an empty label or a bad
/// escape, `ENAMETOOLONG` for a label over 63 bytes or a name over 255 bytes on the wire.
pub(crate) fn from_text(text: &[u8]) -> Result<Name, i32> {
    let text = match text {
        [] | [b'.'] => return Ok(Name::root()),
        [rest @ .., b'.'] if !ends_with_escaped_dot(rest) => rest,
        t => t,
    };
    let mut labels: Vec<Label> = Vec::new();
    let mut label: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut push = |label: &mut Vec<u8>| -> Result<(), i32> {
        if label.is_empty() {
            return Err(libc::EINVAL);
        }
        if label.len() > 63 {
            return Err(libc::ENAMETOOLONG);
        }
        labels.push(Label::from_raw_bytes(label).map_err(|_| libc::EINVAL)?);
        label.clear();
        Ok(())
    };
    while i < text.len() {
        match text[i] {
            b'.' => push(&mut label)?,
            b'\\' => {
                let digits = text.get(i + 1..i + 4);
                match (text.get(i + 1), digits) {
                    (Some(d), Some(ds)) if d.is_ascii_digit() => {
                        if !ds.iter().all(u8::is_ascii_digit) {
                            return Err(libc::EINVAL);
                        }
                        let v = ds
                            .iter()
                            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
                        label.push(u8::try_from(v).map_err(|_| libc::EINVAL)?);
                        i += 3;
                    }
                    (Some(d), _) if d.is_ascii_digit() => return Err(libc::EINVAL),
                    (Some(&c), _) => {
                        label.push(c);
                        i += 1;
                    }
                    (None, _) => return Err(libc::EINVAL),
                }
            }
            c => label.push(c),
        }
        i += 1;
    }
    push(&mut label)?;
    Name::from_labels(labels).map_err(|_| libc::ENAMETOOLONG)
}

/// Whether `text` (a name without its final `.`) ends in an escaping backslash, so that the
/// dot removed was part of the last label (`a\.` is the one label "a.").
fn ends_with_escaped_dot(text: &[u8]) -> bool {
    text.iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

/// The text form of `name`, without a trailing dot (the root is empty).
pub(crate) fn to_text(name: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        for &b in label {
            match b {
                b'.' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                0x21..=0x7e => out.push(b),
                _ => out.extend_from_slice(format!("\\{b:03}").as_bytes()),
            }
        }
    }
    out
}

/// Writes the text form of `name` and a NUL into `out`, which holds `IOTHDNS_MAXNAME`
/// bytes; `ENAMETOOLONG` (nothing written) when the text would exceed [`MAX_TEXT`].
pub(crate) fn write_c(name: &Name, out: &mut [u8]) -> Result<(), i32> {
    let text = to_text(name);
    if text.len() > MAX_TEXT || text.len() >= out.len() {
        return Err(libc::ENAMETOOLONG);
    }
    out[..text.len()].copy_from_slice(&text);
    out[text.len()] = 0;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn labels(n: &Name) -> Vec<Vec<u8>> {
        n.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn plain_names_and_the_root() {
        let n = from_text(b"www.Example.com").unwrap();
        assert_eq!(
            labels(&n),
            vec![b"www".to_vec(), b"Example".to_vec(), b"com".to_vec()]
        );
        assert!(n.is_fqdn());
        assert_eq!(from_text(b"www.Example.com.").unwrap(), n);
        assert_eq!(to_text(&n), b"www.Example.com");
        assert!(from_text(b"").unwrap().is_root());
        assert!(from_text(b".").unwrap().is_root());
        assert_eq!(to_text(&Name::root()), b"");
        // RFC 2317 delegations and service labels pass as they are.
        let n = from_text(b"0/25.2.0.192.in-addr.arpa").unwrap();
        assert_eq!(to_text(&n), b"0/25.2.0.192.in-addr.arpa");
        assert_eq!(to_text(&from_text(b"_sip._tcp.x").unwrap()), b"_sip._tcp.x");
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(from_text(b"a..b").unwrap_err(), libc::EINVAL);
        assert_eq!(from_text(b".a").unwrap_err(), libc::EINVAL);
        assert_eq!(from_text(b"a.b..").unwrap_err(), libc::EINVAL);
        assert_eq!(from_text(b"a\\").unwrap_err(), libc::EINVAL);
        assert_eq!(from_text(b"a\\25").unwrap_err(), libc::EINVAL);
        assert_eq!(from_text(b"a\\256").unwrap_err(), libc::EINVAL);
        assert_eq!(
            from_text(&[b'x'; 64]).unwrap_err(),
            libc::ENAMETOOLONG,
            "a 64-byte label"
        );
        // 4 labels of 63 bytes: 4 * 64 + 1 = 257 bytes on the wire.
        let long = [[b'y'; 63].as_slice(); 4].join(&b'.');
        assert_eq!(from_text(&long).unwrap_err(), libc::ENAMETOOLONG);
        let fits = [[b'y'; 63].as_slice(), &[b'y'; 63], &[b'y'; 63], &[b'y'; 61]].join(&b'.');
        assert!(from_text(&fits).is_ok(), "255 bytes on the wire");
    }

    #[test]
    fn escapes_both_ways() {
        let n = from_text(b"a\\.b.c\\\\d.\\000\\255").unwrap();
        assert_eq!(
            labels(&n),
            vec![b"a.b".to_vec(), b"c\\d".to_vec(), vec![0, 255]]
        );
        assert_eq!(to_text(&n), b"a\\.b.c\\\\d.\\000\\255");
        // An escaped final dot belongs to the label.
        assert_eq!(labels(&from_text(b"a\\.").unwrap()), vec![b"a.".to_vec()]);
        assert_eq!(to_text(&from_text(b"sp ace").unwrap()), b"sp\\032ace");
    }

    #[test]
    fn c_output_is_bounded() {
        let mut buf = [0xffu8; 256];
        let n = from_text(b"host.example").unwrap();
        write_c(&n, &mut buf).unwrap();
        assert_eq!(&buf[..13], b"host.example\0");
        // 126 bytes that each need \DDD: far over 255 characters.
        let wide = Name::from_labels([vec![1u8; 63], vec![1u8; 63]]).unwrap();
        assert_eq!(write_c(&wide, &mut buf).unwrap_err(), libc::ENAMETOOLONG);
    }

    proptest! {
        /// Any labels print to text that parses back to the same labels, byte for byte.
        #[test]
        fn text_round_trip(raw in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 1..=63), 0..=3)) {
            let name = Name::from_labels(raw.clone()).unwrap();
            let back = from_text(&to_text(&name)).unwrap();
            prop_assert_eq!(labels(&back), raw);
        }
    }
}
