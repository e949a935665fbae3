//! VNL (Virtual Network Locator) parsing, as vdeplug4 reads them.
//!
//! A VNL is `SCHEME://ADDRESS` followed by options. Two option syntaxes exist, chosen by
//! the scheme exactly as the vdeplug4 module of the same name does:
//!
//! * path style (`vde`, `hub`, `switch`, `tap`): `PATH[opt=v/opt2=v2/positional]`; the
//!   bracket is taken up to its last unquoted `]`.
//! * slash style (`vxvde`, `null`): `ADDRESS/opt=v/opt2`.
//!
//! Everywhere, `'...'` and `"..."` quote (the quotes are removed, nothing inside is special),
//! `\c` protects one character and `%XX` (two hex digits) stands for that byte; a `%` not
//! followed by two hex digits is literal. An option key may be abbreviated to any prefix:
//! the first key of the scheme's list that starts with it is meant (as vdeplug4 does). A VNL
//! without `://` is `vde://`; the empty VNL is the default switch (resolved by [`crate::open`]).
//!
//! Every scheme also takes `pcap=FILE` ([`PCAP`]): [`crate::open`] writes every frame the
//! link sends and receives to FILE. Its value is a path, so it runs over the `/`s after it
//! up to the next element written `KEY=...` with a key of the scheme:
//! `vde:///tmp/sw[pcap=/tmp/x.pcap/port=3]`, `hub://@lan[pcap=/tmp/x.pcap]`,
//! `vxvde://239.0.0.1/pcap=/tmp/x.pcap/vni=2`, `null:///pcap=/tmp/x.pcap`. Quote a path
//! whose components look like the scheme's options (`pcap='/tmp/port=3/x.pcap'`).
//!
//! Errors are [`std::io::ErrorKind::InvalidInput`] (EINVAL) and their text names the
//! offending part.
//!
//! ```
//! use vde::Vnl;
//! # fn main() -> Result<(), vde::vnl::VnlError> {
//! // Quotes and %XX escapes protect the delimiters; keys may be abbreviated.
//! let v = Vnl::parse("hub:///tmp/'my[lab]'%20hub[mo=0600/loss=5]")?;
//! assert_eq!(v.address, "/tmp/my[lab] hub");
//! assert_eq!(v.options, [("mode".into(), "0600".into()), ("loss".into(), "5".into())]);
//! // Slash style: options follow the address.
//! let x = Vnl::parse("vxvde://239.1.2.3/port=14789/vni=7")?;
//! assert_eq!((x.address.as_str(), x.option("vni")), ("239.1.2.3", Some("7")));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io;
use std::ops::Range;

/// How a scheme writes its options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    /// `PATH[opt=v/opt2]`
    Path,
    /// `ADDRESS/opt=v/opt2`
    Slash,
}

/// The schemes this crate opens, their option syntax, and the keys each accepts (vdeplug4's
/// keys first, in vdeplug4's order, so abbreviations resolve the same way; then ours).
struct SchemeSpec {
    name: &'static str,
    style: Style,
    keys: &'static [&'static str],
    /// Key that a bare bracket element (`[3]`) stands for.
    positional: Option<&'static str>,
}

const IMPAIR_KEYS: [&str; 6] = ["loss", "dup", "delay", "reorder", "rate", "queue"];

/// The key every scheme accepts: capture the link's frames to this pcap file
/// ([`crate::open`]). Its value is a path, so it takes the `/`s that follow it (see
/// [`Vnl::parse`]).
pub const PCAP: &str = "pcap";

const SCHEMES: &[SchemeSpec] = &[
    SchemeSpec {
        name: "vde",
        style: Style::Path,
        keys: &["port", "portgroup", "group", "mode", "timeout", PCAP],
        positional: Some("port"),
    },
    SchemeSpec {
        name: "hub",
        style: Style::Path,
        keys: &[
            "mode",
            "dirmode",
            "grp",
            "hashsize",
            "hashseed",
            "expiretime",
            IMPAIR_KEYS[0],
            IMPAIR_KEYS[1],
            IMPAIR_KEYS[2],
            IMPAIR_KEYS[3],
            IMPAIR_KEYS[4],
            IMPAIR_KEYS[5],
            PCAP,
        ],
        positional: None,
    },
    SchemeSpec {
        name: "switch",
        style: Style::Path,
        keys: &[
            "mode",
            "dirmode",
            "grp",
            "hashsize",
            "hashseed",
            "expiretime",
            IMPAIR_KEYS[0],
            IMPAIR_KEYS[1],
            IMPAIR_KEYS[2],
            IMPAIR_KEYS[3],
            IMPAIR_KEYS[4],
            IMPAIR_KEYS[5],
            PCAP,
        ],
        positional: None,
    },
    SchemeSpec {
        name: "tap",
        style: Style::Path,
        keys: &[PCAP],
        positional: None,
    },
    SchemeSpec {
        name: "vxvde",
        style: Style::Slash,
        keys: &[
            "port",
            "vni",
            "grp",
            "ttl",
            "rcvbuf",
            "v6",
            "v4",
            "hashsize",
            "expiretime",
            "if",
            "bind",
            PCAP,
        ],
        positional: None,
    },
    SchemeSpec {
        name: "null",
        style: Style::Slash,
        keys: &[PCAP],
        positional: None,
    },
];

/// A parsed VNL: scheme, unescaped address, and options with their canonical key names.
///
/// ```
/// use vde::Vnl;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let vnl = Vnl::parse("vde:///tmp/sw[3/mode=0660]")?;
/// assert_eq!(vnl.scheme, "vde");
/// assert_eq!(vnl.address, "/tmp/sw");
/// assert_eq!(vnl.option("port"), Some("3")); // a bare element is the port
/// assert_eq!(vnl.option_u64("port")?, Some(3));
/// assert_eq!(vnl.option_mode("mode")?, Some(0o660));
/// assert_eq!(vnl.option("group"), None);
/// // Display writes the canonical form, which parses back to the same value.
/// assert_eq!(vnl.to_string(), "vde:///tmp/sw[port=3/mode=0660]");
/// assert_eq!(Vnl::parse(&vnl.to_string())?, vnl);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vnl {
    /// The scheme, lower case as written (`vde`, `hub`, ...). `vde` when the VNL had no `://`.
    pub scheme: String,
    /// The address (a path, a group address, an interface name), quotes and escapes removed.
    pub address: String,
    /// Options in the order written, keys canonical (abbreviations expanded); a key written
    /// without `=` has the empty value.
    pub options: Vec<(String, String)>,
}

/// A VNL that could not be parsed: the text names the offending part.
///
/// ```
/// let err = vde::Vnl::parse("hub:///tmp/hub[loss=5").expect_err("no ']'");
/// assert_eq!(
///     err.to_string(),
///     r#"bad VNL "hub:///tmp/hub[loss=5": missing ']' closing the options "[loss=5""#
/// );
/// let io: std::io::Error = err.into(); // EINVAL, for the functions that return io::Result
/// assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VnlError {
    vnl: String,
    what: String,
}

impl fmt::Display for VnlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad VNL {:?}: {}", self.vnl, self.what)
    }
}

impl std::error::Error for VnlError {}

impl From<VnlError> for io::Error {
    fn from(e: VnlError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

fn err(vnl: &str, what: impl Into<String>) -> VnlError {
    VnlError {
        vnl: vnl.to_owned(),
        what: what.into(),
    }
}

/// Scanner state for quotes and escapes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Q {
    Plain,
    Single,
    Double,
}

/// Positions of the unquoted, unescaped occurrences of `delim` in `s`, or an error for an
/// unterminated quote or a trailing backslash.
fn unquoted_positions(vnl: &str, s: &[u8], delim: u8) -> Result<Vec<usize>, VnlError> {
    let mut out = Vec::new();
    let mut state = Q::Plain;
    let mut quote_start = 0;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        match state {
            Q::Plain => match c {
                b'\'' => {
                    state = Q::Single;
                    quote_start = i;
                }
                b'"' => {
                    state = Q::Double;
                    quote_start = i;
                }
                b'\\' => {
                    if i + 1 >= s.len() {
                        return Err(err(vnl, "a backslash ends the VNL with nothing to protect"));
                    }
                    i += 1;
                }
                c if c == delim => out.push(i),
                _ => {}
            },
            Q::Single => {
                if c == b'\'' {
                    state = Q::Plain;
                }
            }
            Q::Double => {
                if c == b'"' {
                    state = Q::Plain;
                }
            }
        }
        i += 1;
    }
    if state != Q::Plain {
        let tail = String::from_utf8_lossy(&s[quote_start..]);
        return Err(err(vnl, format!("unterminated quote in {tail:?}")));
    }
    Ok(out)
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Removes quotes and backslashes and decodes `%XX`. Quotes were checked balanced by the
/// caller's split; the result must be UTF-8.
fn unescape(vnl: &str, s: &[u8], part: &str) -> Result<String, VnlError> {
    let mut out = Vec::with_capacity(s.len());
    let mut state = Q::Plain;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        match state {
            Q::Plain => match c {
                b'\'' => state = Q::Single,
                b'"' => state = Q::Double,
                b'\\' => {
                    i += 1;
                    match s.get(i) {
                        Some(&n) => out.push(n),
                        None => {
                            return Err(err(
                                vnl,
                                format!("a backslash ends the {part} with nothing to protect"),
                            ));
                        }
                    }
                }
                b'%' => match (
                    s.get(i + 1).and_then(|&h| hexval(h)),
                    s.get(i + 2).and_then(|&l| hexval(l)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                },
                _ => out.push(c),
            },
            Q::Single => {
                if c == b'\'' {
                    state = Q::Plain
                } else {
                    out.push(c)
                }
            }
            Q::Double => {
                if c == b'"' {
                    state = Q::Plain
                } else {
                    out.push(c)
                }
            }
        }
        i += 1;
    }
    if state != Q::Plain {
        return Err(err(vnl, format!("unterminated quote in the {part}")));
    }
    String::from_utf8(out).map_err(|_| err(vnl, format!("the {part} is not UTF-8 once unescaped")))
}

/// The ranges of `s` between its unquoted `delim`s.
fn split_ranges(vnl: &str, s: &[u8], delim: u8) -> Result<Vec<Range<usize>>, VnlError> {
    let pos = unquoted_positions(vnl, s, delim)?;
    let mut out = Vec::with_capacity(pos.len() + 1);
    let mut start = 0;
    for p in pos {
        out.push(start..p);
        start = p + 1;
    }
    out.push(start..s.len());
    Ok(out)
}

/// The canonical key `key` stands for in `spec`: itself, else the first key it abbreviates.
fn resolve_key(spec: &SchemeSpec, key: &str) -> Option<&'static str> {
    spec.keys
        .iter()
        .find(|k| **k == key)
        .or_else(|| spec.keys.iter().find(|k| k.starts_with(key)))
        .copied()
}

/// The canonical key of option element `elem` if it is written `KEY=VALUE` with a key of
/// `spec`.
fn element_key(
    vnl: &str,
    spec: &SchemeSpec,
    elem: &[u8],
) -> Result<Option<&'static str>, VnlError> {
    match unquoted_positions(vnl, elem, b'=')?.first() {
        Some(&eq) => {
            let key = unescape(vnl, &elem[..eq], "option key")?;
            Ok(if key.is_empty() {
                None
            } else {
                resolve_key(spec, &key)
            })
        }
        None => Ok(None),
    }
}

/// Splits the option text `s` at its unquoted `/`s, except that a `pcap=PATH` element
/// takes the elements after it up to the next `KEY=...` of the scheme: a path has slashes.
fn split_options<'a>(vnl: &str, spec: &SchemeSpec, s: &'a [u8]) -> Result<Vec<&'a [u8]>, VnlError> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut in_path = false;
    for r in split_ranges(vnl, s, b'/')? {
        let key = element_key(vnl, spec, &s[r.clone()])?;
        match out.last_mut() {
            Some(last) if in_path && key.is_none() => last.end = r.end,
            _ => {
                in_path = key == Some(PCAP);
                out.push(r);
            }
        }
    }
    Ok(out.into_iter().map(|r| &s[r]).collect())
}

fn spec_of(scheme: &str) -> Option<&'static SchemeSpec> {
    SCHEMES.iter().find(|s| s.name == scheme)
}

/// The schemes [`Vnl::parse`] accepts.
///
/// ```
/// let schemes: Vec<&str> = vde::vnl::supported_schemes().collect();
/// assert_eq!(schemes, ["vde", "hub", "switch", "tap", "vxvde", "null"]);
/// ```
pub fn supported_schemes() -> impl Iterator<Item = &'static str> {
    SCHEMES.iter().map(|s| s.name)
}

impl Vnl {
    /// Parses a VNL. Unknown schemes, unknown option keys, unterminated quotes, a missing
    /// `]` or text after it are errors naming that part; nothing panics on any input. A
    /// `pcap=` value takes the elements after it up to the next `KEY=...` of the scheme
    /// (see the module docs).
    pub fn parse(vnl: &str) -> Result<Vnl, VnlError> {
        let (scheme, rest) = match vnl.find("://") {
            Some(i) => (&vnl[..i], &vnl[i + 3..]),
            None => ("vde", vnl),
        };
        let spec = spec_of(scheme).ok_or_else(|| {
            err(
                vnl,
                format!(
                    "unsupported scheme {scheme:?} (supported: {})",
                    supported_schemes().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        let rest = rest.as_bytes();
        let mut options = Vec::new();
        let address;
        match spec.style {
            Style::Path => {
                let opens = unquoted_positions(vnl, rest, b'[')?;
                match opens.first() {
                    None => {
                        if let Some(&p) = unquoted_positions(vnl, rest, b']')?.first() {
                            let tail = String::from_utf8_lossy(&rest[p..]);
                            return Err(err(vnl, format!("']' without '[' at {tail:?}")));
                        }
                        address = unescape(vnl, rest, "address")?;
                    }
                    Some(&open) => {
                        address = unescape(vnl, &rest[..open], "address")?;
                        let inner = &rest[open + 1..];
                        let close =
                            *unquoted_positions(vnl, inner, b']')?
                                .last()
                                .ok_or_else(|| {
                                    err(
                                        vnl,
                                        format!(
                                            "missing ']' closing the options {:?}",
                                            String::from_utf8_lossy(&rest[open..])
                                        ),
                                    )
                                })?;
                        let after = &inner[close + 1..];
                        if !after.is_empty() {
                            return Err(err(
                                vnl,
                                format!(
                                    "unexpected text {:?} after ']'",
                                    String::from_utf8_lossy(after)
                                ),
                            ));
                        }
                        for elem in split_options(vnl, spec, &inner[..close])? {
                            if let Some(opt) = parse_option(vnl, spec, elem, true)? {
                                options.push(opt);
                            }
                        }
                    }
                }
            }
            Style::Slash => {
                let (addr, parts) = match unquoted_positions(vnl, rest, b'/')?.first() {
                    Some(&slash) => (
                        &rest[..slash],
                        split_options(vnl, spec, &rest[slash + 1..])?,
                    ),
                    None => (rest, Vec::new()),
                };
                address = unescape(vnl, addr, "address")?;
                for elem in parts {
                    if let Some(opt) = parse_option(vnl, spec, elem, false)? {
                        options.push(opt);
                    }
                }
            }
        }
        Ok(Vnl {
            scheme: scheme.to_owned(),
            address,
            options,
        })
    }

    /// The value of option `key` (canonical name); the last one written wins, as in vdeplug4.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Option `key` parsed by `parse`; an unparsable value is an error naming the option.
    pub fn option_with<T>(
        &self,
        key: &str,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> io::Result<Option<T>> {
        match self.option(key) {
            None => Ok(None),
            Some(v) => parse(v).map(Some).ok_or_else(|| {
                err(
                    &self.to_string(),
                    format!("option {key}={v:?} is not {what}"),
                )
                .into()
            }),
        }
    }

    /// Option `key` as an unsigned decimal number.
    pub fn option_u64(&self, key: &str) -> io::Result<Option<u64>> {
        self.option_with(key, "a decimal number", |v| v.parse().ok())
    }

    /// Option `key` as an octal permission mode (at most 0o7777).
    pub fn option_mode(&self, key: &str) -> io::Result<Option<u32>> {
        self.option_with(key, "an octal mode", |v| {
            u32::from_str_radix(v, 8).ok().filter(|m| *m <= 0o7777)
        })
    }
}

/// Parses one option element; empty elements (`a//b`, `[]`) are skipped as vdeplug4 does.
fn parse_option(
    vnl: &str,
    spec: &SchemeSpec,
    elem: &[u8],
    bracket: bool,
) -> Result<Option<(String, String)>, VnlError> {
    if elem.is_empty() {
        return Ok(None);
    }
    let (key_raw, value) = match unquoted_positions(vnl, elem, b'=')?.first() {
        Some(&eq) => (
            &elem[..eq],
            Some(unescape(vnl, &elem[eq + 1..], "option value")?),
        ),
        None => (elem, None),
    };
    let key = unescape(vnl, key_raw, "option key")?;
    if key.is_empty() {
        return Err(err(
            vnl,
            format!("option {:?} has no key", String::from_utf8_lossy(elem)),
        ));
    }
    match resolve_key(spec, &key) {
        Some(k) => Ok(Some((k.to_owned(), value.unwrap_or_default()))),
        None => match (value, spec.positional, bracket) {
            (None, Some(pos), true) => Ok(Some((pos.to_owned(), key))),
            _ => Err(err(
                vnl,
                format!(
                    "unknown option {key:?} for {}:// (known: {})",
                    spec.name,
                    if spec.keys.is_empty() {
                        "none".to_owned()
                    } else {
                        spec.keys.join(", ")
                    }
                ),
            )),
        },
    }
}

/// Escapes `s` so that the parser gives it back unchanged; `specials` are the delimiters of
/// the context (besides quotes, backslash and percent, always escaped).
fn escape(s: &str, specials: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b == b'\''
            || b == b'"'
            || b == b'\\'
            || b == b'%'
            || specials.contains(&b)
            || !b.is_ascii()
            || b.is_ascii_control()
        {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

impl fmt::Display for Vnl {
    /// The canonical text of this VNL: parsing it gives back an equal [`Vnl`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let style = spec_of(&self.scheme)
            .map(|s| s.style)
            .unwrap_or(Style::Path);
        write!(f, "{}://", self.scheme)?;
        match style {
            Style::Path => {
                f.write_str(&escape(&self.address, b"[]"))?;
                if !self.options.is_empty() {
                    f.write_str("[")?;
                    for (i, (k, v)) in self.options.iter().enumerate() {
                        if i > 0 {
                            f.write_str("/")?;
                        }
                        write!(f, "{}={}", escape(k, b"[]/="), escape(v, b"[]/="))?;
                    }
                    f.write_str("]")?;
                }
            }
            Style::Slash => {
                f.write_str(&escape(&self.address, b"/"))?;
                for (k, v) in &self.options {
                    write!(f, "/{}={}", escape(k, b"/="), escape(v, b"/="))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &Vnl) -> Vec<(&str, &str)> {
        v.options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn no_scheme_is_vde() {
        let v = Vnl::parse("/tmp/sw").unwrap();
        assert_eq!(v.scheme, "vde");
        assert_eq!(v.address, "/tmp/sw");
        assert!(v.options.is_empty());
        let e = Vnl::parse("").unwrap();
        assert_eq!((e.scheme.as_str(), e.address.as_str()), ("vde", ""));
    }

    #[test]
    fn bracket_options_and_positional_port() {
        let v = Vnl::parse("vde:///tmp/sw[3]").unwrap();
        assert_eq!(opts(&v), vec![("port", "3")]);
        let v = Vnl::parse("vde:///tmp/sw[port=3/group=g/mode=0660]").unwrap();
        assert_eq!(v.address, "/tmp/sw");
        assert_eq!(
            opts(&v),
            vec![("port", "3"), ("group", "g"), ("mode", "0660")]
        );
        assert_eq!(v.option_mode("mode").unwrap(), Some(0o660));
        assert_eq!(v.option_u64("port").unwrap(), Some(3));
    }

    #[test]
    fn abbreviations_resolve_like_vdeplug4() {
        let v = Vnl::parse("vde:///x[p=2/g=users/m=600]").unwrap();
        assert_eq!(
            opts(&v),
            vec![("port", "2"), ("group", "users"), ("mode", "600")]
        );
        let v = Vnl::parse("vxvde://239.1.2.3/po=5000/t=2").unwrap();
        assert_eq!(opts(&v), vec![("port", "5000"), ("ttl", "2")]);
    }

    #[test]
    fn slash_options() {
        let v = Vnl::parse("vxvde://239.0.0.7/port=14790/vni=12/v4").unwrap();
        assert_eq!(v.address, "239.0.0.7");
        assert_eq!(opts(&v), vec![("port", "14790"), ("vni", "12"), ("v4", "")]);
        let v = Vnl::parse("vxvde://").unwrap();
        assert_eq!(v.address, "");
    }

    #[test]
    fn quoting_and_escapes() {
        let v = Vnl::parse("vde:///tmp/'a[b]'/c%5Bd%5d\\[e[mode=0600]").unwrap();
        assert_eq!(v.address, "/tmp/a[b]/c[d][e");
        let v = Vnl::parse("hub:///tmp/\"x y\"[grp='a/b']").unwrap();
        assert_eq!(v.address, "/tmp/x y");
        assert_eq!(opts(&v), vec![("grp", "a/b")]);
        // A percent not followed by two hex digits is literal.
        let v = Vnl::parse("vde:///tmp/100%zz").unwrap();
        assert_eq!(v.address, "/tmp/100%zz");
        // Inside quotes nothing is special.
        let v = Vnl::parse("vde://'%41\\'").unwrap();
        assert_eq!(v.address, "%41\\");
    }

    #[test]
    fn bracket_ends_at_last_bracket() {
        let v = Vnl::parse("vde:///tmp/sw[group=a]b]").unwrap();
        assert_eq!(opts(&v), vec![("group", "a]b")]);
    }

    #[test]
    fn errors_name_the_bad_part() {
        let e = Vnl::parse("vde:///tmp/sw[colour=red]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"colour\""), "{e}");
        let e = Vnl::parse("bogus://x").unwrap_err().to_string();
        assert!(e.contains("\"bogus\""), "{e}");
        let e = Vnl::parse("vde:///tmp/sw[port=3").unwrap_err().to_string();
        assert!(e.contains("missing ']'") && e.contains("[port=3"), "{e}");
        let e = Vnl::parse("vde:///tmp/sw[3]x").unwrap_err().to_string();
        assert!(e.contains("\"x\""), "{e}");
        let e = Vnl::parse("vde:///tmp/'sw").unwrap_err().to_string();
        assert!(e.contains("unterminated quote") && e.contains("'sw"), "{e}");
        let e = Vnl::parse("vxvde://239.0.0.1/3").unwrap_err().to_string();
        assert!(e.contains("\"3\""), "{e}");
        let e = Vnl::parse("vde:///x]").unwrap_err().to_string();
        assert!(e.contains("']' without '['"), "{e}");
        let v = Vnl::parse("vde:///x[port=abc]").unwrap();
        let e = v.option_u64("port").unwrap_err().to_string();
        assert!(e.contains("port=\"abc\""), "{e}");
        let e = Vnl::parse("vde:///x[mode=999]")
            .unwrap()
            .option_mode("mode")
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn pcap_paths_keep_their_slashes() {
        let v = Vnl::parse("vde:///tmp/sw[pcap=/tmp/x.pcap]").unwrap();
        assert_eq!(opts(&v), vec![("pcap", "/tmp/x.pcap")]);
        let v = Vnl::parse("vde:///tmp/sw[port=3/pcap=/tmp/d/x.pcap/group=g]").unwrap();
        assert_eq!(
            opts(&v),
            vec![("port", "3"), ("pcap", "/tmp/d/x.pcap"), ("group", "g")]
        );
        let v = Vnl::parse("hub://@lan[loss=1/pc=/a/b.pcap]").unwrap();
        assert_eq!(opts(&v), vec![("loss", "1"), ("pcap", "/a/b.pcap")]);
        let v = Vnl::parse("vxvde://239.0.0.1/pcap=/tmp/v.pcap/vni=2").unwrap();
        assert_eq!(v.address, "239.0.0.1");
        assert_eq!(opts(&v), vec![("pcap", "/tmp/v.pcap"), ("vni", "2")]);
        let v = Vnl::parse("null:///pcap=/tmp/n.pcap").unwrap();
        assert_eq!(
            (v.address.as_str(), opts(&v)),
            ("", vec![("pcap", "/tmp/n.pcap")])
        );
        let v = Vnl::parse("tap://tap0[pcap=rel/t.pcap]").unwrap();
        assert_eq!(opts(&v), vec![("pcap", "rel/t.pcap")]);
        // Quoted, a component may look like an option.
        let v = Vnl::parse("switch://@s[pcap='/tmp/mode=1/x.pcap'/mode=0600]").unwrap();
        assert_eq!(
            opts(&v),
            vec![("pcap", "/tmp/mode=1/x.pcap"), ("mode", "0600")]
        );
        // Before pcap, bare elements are still vde's positional port.
        let v = Vnl::parse("vde:///sw[3/pcap=/x/y]").unwrap();
        assert_eq!(opts(&v), vec![("port", "3"), ("pcap", "/x/y")]);
        let v = Vnl::parse("vde:///sw[pcap=/x/y]").unwrap();
        assert_eq!(Vnl::parse(&v.to_string()).unwrap(), v);
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "vde:///tmp/sw[port=3/group=g]",
            "hub:///tmp/a b/'c[d]'[mode=0600]",
            "vxvde://239.0.0.1/port=14789/vni=1",
            "tap://tap0",
            "null://",
            "switch://@name[loss=5/delay=10+2]",
        ] {
            let v = Vnl::parse(s).unwrap();
            assert_eq!(Vnl::parse(&v.to_string()).unwrap(), v, "{s} -> {v}");
        }
    }
}
