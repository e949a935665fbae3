//! The text forms `otip_rproxy` reads besides plain numbers: a forwarding
//! (`EXTPORT,INTHOST,INTPORT`, the value of `--tcp` and `--udp`) and the external stack
//! (`--extstack`: iothconf's `stack=`, `vnl=` and `iface=` only). Pure parsers: every bad
//! input is an error saying what is wrong.

use std::fmt;
use std::str::FromStr;

use nlconf::iothconf::{DEFAULT_INTERFACE, tokenize};

/// One forwarding as written: connections or datagrams reaching `ext_port` of the OTIP
/// address go to `int_host` port `int_port` over the internal stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardSpec {
    /// The port clients use on the OTIP address (1..=65535).
    pub ext_port: u16,
    /// The internal server: an IP literal or a name resolved over the internal stack.
    pub int_host: String,
    /// The internal server's port (1..=65535).
    pub int_port: u16,
}

/// Why a text did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError(String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

fn port(field: &str, what: &str, whole: &str) -> Result<u16, SpecError> {
    match field.parse::<u16>() {
        Ok(p) if p > 0 && field.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(SpecError(format!(
            "`{whole}`: {what} `{field}` is not a port number (1..65535)"
        ))),
    }
}

impl FromStr for ForwardSpec {
    type Err = SpecError;

    /// Parses `EXTPORT,INTHOST,INTPORT`. Blanks around the fields are ignored; INTHOST may be
    /// an IPv6 literal, with or without brackets.
    fn from_str(text: &str) -> Result<ForwardSpec, SpecError> {
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let [ext, host, int] = fields[..] else {
            return Err(SpecError(format!(
                "`{text}`: expected EXTPORT,INTHOST,INTPORT (three fields separated by commas)"
            )));
        };
        let ext_port = port(ext, "EXTPORT", text)?;
        let int_port = port(int, "INTPORT", text)?;
        let host = match host.strip_prefix('[') {
            Some(inner) => inner
                .strip_suffix(']')
                .ok_or_else(|| SpecError(format!("`{text}`: unclosed `[` in INTHOST")))?,
            None => host,
        };
        if host.is_empty() {
            return Err(SpecError(format!("`{text}`: INTHOST is empty")));
        }
        if let Some(c) = host
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '[' | ']'))
        {
            return Err(SpecError(format!(
                "`{text}`: INTHOST `{host}` contains {c:?}"
            )));
        }
        Ok(ForwardSpec {
            ext_port,
            int_host: host.to_owned(),
            int_port,
        })
    }
}

impl fmt::Display for ForwardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{}", self.ext_port, self.int_host, self.int_port)
    }
}

/// The external stack's description: the implementation and the VNL every per-address stack
/// is created with, and the interface (on that VNL) the address goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtStack {
    /// The stack implementation (`smoltcp`, or a plugin name).
    pub stack: String,
    /// The virtual network locator the external side is on.
    pub vnl: String,
    /// The interface the OTIP address is added to (default `vde0`).
    pub iface: String,
}

impl FromStr for ExtStack {
    type Err = SpecError;

    /// Parses iothconf syntax restricted to `stack=`, `vnl=` (exactly one of each) and
    /// `iface=` (default `vde0`), as the original supports.
    fn from_str(text: &str) -> Result<ExtStack, SpecError> {
        let items = tokenize(text).map_err(|e| SpecError(format!("`{text}`: {e}")))?;
        let (mut stack, mut vnl, mut iface) = (None, None, None);
        for item in items {
            let slot = match item.tag.as_str() {
                "stack" => &mut stack,
                "vnl" => &mut vnl,
                "iface" => &mut iface,
                other => {
                    return Err(SpecError(format!(
                        "`{text}`: unknown tag `{other}` (the external stack takes stack=, vnl= and iface=)"
                    )));
                }
            };
            let value = match item.value {
                Some(v) if !v.is_empty() => v,
                _ => {
                    return Err(SpecError(format!(
                        "`{text}`: `{}` needs a value (`{}=...`)",
                        item.tag, item.tag
                    )));
                }
            };
            if slot.replace(value).is_some() {
                return Err(SpecError(format!(
                    "`{text}`: `{}` is given twice (every per-address stack is made alike)",
                    item.tag
                )));
            }
        }
        let missing = |tag: &str| SpecError(format!("`{text}`: `{tag}=` is required"));
        let iface = iface.unwrap_or_else(|| DEFAULT_INTERFACE.to_owned());
        if iface.len() > 15 {
            return Err(SpecError(format!(
                "`{text}`: interface name `{iface}` is longer than 15"
            )));
        }
        Ok(ExtStack {
            stack: stack.ok_or_else(|| missing("stack"))?,
            vnl: vnl.ok_or_else(|| missing("vnl"))?,
            iface,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_originals_examples_parse() {
        assert_eq!(
            "4242,::1,8484".parse::<ForwardSpec>().unwrap(),
            ForwardSpec {
                ext_port: 4242,
                int_host: "::1".into(),
                int_port: 8484
            }
        );
        assert_eq!(
            " 22 , [fd00::1] , 22 ".parse::<ForwardSpec>().unwrap(),
            ForwardSpec {
                ext_port: 22,
                int_host: "fd00::1".into(),
                int_port: 22
            }
        );
        let s: ForwardSpec = "80,web.internal,8080".parse().unwrap();
        assert_eq!(s.int_host, "web.internal");
        assert_eq!(s.to_string(), "80,web.internal,8080");
    }

    #[test]
    fn bad_forwardings_say_what_is_wrong() {
        for (text, says) in [
            ("4242,::1", "three fields"),
            ("4242,::1,8484,9", "three fields"),
            ("0,::1,8484", "EXTPORT `0`"),
            ("65536,::1,8484", "EXTPORT `65536`"),
            ("+80,::1,8484", "EXTPORT `+80`"),
            ("80,::1,", "INTPORT ``"),
            ("80,,81", "INTHOST is empty"),
            ("80,[::1,81", "unclosed"),
            ("80,a b,81", "contains ' '"),
            ("", "three fields"),
        ] {
            let e = text.parse::<ForwardSpec>().unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn external_stacks() {
        assert_eq!(
            "stack=smoltcp,vnl=vde:///tmp/hub"
                .parse::<ExtStack>()
                .unwrap(),
            ExtStack {
                stack: "smoltcp".into(),
                vnl: "vde:///tmp/hub".into(),
                iface: "vde0".into()
            }
        );
        let e: ExtStack = "stack=smoltcp vnl='hub://@x[loss=1]' iface=vde0"
            .parse()
            .unwrap();
        assert_eq!(e.vnl, "hub://@x[loss=1]");
        for (text, says) in [
            ("vnl=vde:///tmp/hub", "`stack=` is required"),
            ("stack=smoltcp", "`vnl=` is required"),
            ("stack=smoltcp,vnl=a,ip=10.0.0.1/24", "unknown tag `ip`"),
            ("stack=smoltcp,vnl=a,vnl=b", "given twice"),
            ("stack,vnl=a", "needs a value"),
            ("stack=smoltcp,vnl='a", "unterminated"),
            (
                "stack=smoltcp,vnl=a,iface=abcdefghijklmnop",
                "longer than 15",
            ),
        ] {
            let e = text.parse::<ExtStack>().unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    proptest! {
        #[test]
        fn forwardings_round_trip(ext in 1u16.., host in "[a-z0-9.:-]{1,40}", int in 1u16..) {
            let spec = ForwardSpec { ext_port: ext, int_host: host, int_port: int };
            prop_assert_eq!(spec.to_string().parse::<ForwardSpec>(), Ok(spec));
        }

        #[test]
        fn any_text_parses_or_is_refused_without_panic(text in ".{0,80}") {
            if let Ok(spec) = text.parse::<ForwardSpec>() {
                prop_assert!(spec.ext_port > 0 && spec.int_port > 0);
                prop_assert!(!spec.int_host.is_empty());
            }
            if let Ok(ext) = text.parse::<ExtStack>() {
                prop_assert!(!ext.stack.is_empty() && !ext.vnl.is_empty());
            }
        }
    }
}
