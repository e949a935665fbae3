//! resolv.conf text: servers, search list and options, as glibc reads them.
//!
//! Read: `nameserver ADDR` (IPv4 or IPv6, an IPv6 one may carry `%SCOPE`; the first
//! [`MAX_NAMESERVERS`] are kept, as glibc), `search D…` and `domain D` (the last of either
//! wins, as glibc), `options` with `ndots:N` (at most 15), `timeout:S` (at most 30),
//! `attempts:N` (at most 5), `rotate`, `edns0`, `use-vc`. Other keywords and options
//! (`sortlist`, `options trust-ad`, …) are ignored, as glibc does; `#` and `;` start comments.
//! A malformed value of a keyword we read (`nameserver banana`, `ndots:x`) is an error naming
//! the line, unless the text is read leniently (a system file), where it is skipped with a log.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::rr::Name;

/// glibc's `MAXNS`: servers past the third are ignored.
pub const MAX_NAMESERVERS: usize = 3;

/// How queries are made: resolv.conf's `options`, plus what the resolver adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverOptions {
    /// Names with at least this many dots are tried as given before the search list (1).
    pub ndots: u8,
    /// How long to wait for one server's answer to one query (5 s, as glibc).
    pub timeout: Duration,
    /// Rounds over the server list before giving up (2, as glibc).
    pub attempts: u8,
    /// Start each query at the next server instead of the first.
    pub rotate: bool,
    /// Queries carry an EDNS(0) OPT record offering [`ResolverOptions::edns_payload`] bytes
    /// (on by default: the `edns0` option is accepted and changes nothing).
    pub edns0: bool,
    /// The UDP payload size offered with EDNS(0) (1232, the DNS flag day's figure).
    pub edns_payload: u16,
    /// Queries go over TCP only (`use-vc`).
    pub use_tcp: bool,
    /// Entries the answer cache may hold; 0 turns caching off (512).
    pub cache_entries: usize,
}

impl Default for ResolverOptions {
    fn default() -> Self {
        ResolverOptions {
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
            rotate: false,
            edns0: true,
            edns_payload: 1232,
            use_tcp: false,
            cache_entries: 512,
        }
    }
}

/// A server to ask: its address and, for an IPv6 link-local one, its scope (`%eth0`, `%2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nameserver {
    /// The server's address (port 53).
    pub addr: IpAddr,
    /// The zone index or interface name after `%`, if given.
    pub scope: Option<String>,
}

/// What resolv.conf text says.
///
/// ```
/// use ioth::dns::ResolvConf;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let conf = ResolvConf::parse("nameserver fe80::53%vde0\ndomain lan\noptions use-vc\n")?;
/// assert_eq!(conf.nameservers[0].scope.as_deref(), Some("vde0"));
/// assert_eq!(conf.search[0].to_ascii(), "lan.");
/// assert!(conf.options.use_tcp);
///
/// let err = ResolvConf::parse("options ndots:x").expect_err("not a number");
/// assert_eq!(err.to_string(), "resolv.conf line 1: option \"ndots:x\": \"x\" is not a number");
/// assert!(ResolvConf::parse_lenient("options ndots:x").nameservers.is_empty()); // skipped
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvConf {
    /// The servers, in order.
    pub nameservers: Vec<Nameserver>,
    /// The search list, each an absolute name.
    pub search: Vec<Name>,
    /// The options.
    pub options: ResolverOptions,
}

/// A resolv.conf line that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfError {
    /// The line, counting from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "resolv.conf line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ConfError {}

impl ResolvConf {
    /// Reads resolv.conf text; a bad value of a keyword we read is an error naming its line.
    pub fn parse(text: &str) -> Result<ResolvConf, ConfError> {
        parse(text, false)
    }

    /// Reads resolv.conf text as glibc does a system file: bad values are skipped (and logged).
    pub fn parse_lenient(text: &str) -> ResolvConf {
        // Lenient parsing reports nothing: every error became a skipped item.
        parse(text, true).unwrap_or_default()
    }
}

fn parse(text: &str, lenient: bool) -> Result<ResolvConf, ConfError> {
    let mut conf = ResolvConf::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split(['#', ';']).next().unwrap_or("");
        let mut words = content.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        let result = match keyword {
            "nameserver" => read_nameserver(words.next()).map(|ns| {
                if conf.nameservers.len() < MAX_NAMESERVERS {
                    conf.nameservers.push(ns);
                } else {
                    log::debug!(
                        "resolv.conf line {line}: more than {MAX_NAMESERVERS} nameservers, ignored"
                    );
                }
            }),
            "search" => read_domains(words).map(|d| conf.search = d),
            "domain" => read_domains(words.take(1)).map(|d| conf.search = d),
            "options" => words.try_for_each(|w| read_option(w, &mut conf.options)),
            _ => Ok(()),
        };
        if let Err(message) = result {
            if lenient {
                log::warn!("resolv.conf line {line}: {message}; skipped");
            } else {
                return Err(ConfError { line, message });
            }
        }
    }
    Ok(conf)
}

fn read_nameserver(word: Option<&str>) -> Result<Nameserver, String> {
    let word = word.ok_or("nameserver without an address")?;
    let (addr, scope) = match word.split_once('%') {
        Some((a, s)) if !s.is_empty() => (a, Some(s.to_string())),
        Some(_) => return Err(format!("nameserver {word:?}: empty scope after %")),
        None => (word, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("nameserver {word:?} is not an IPv4 or IPv6 address"))?;
    if scope.is_some() && addr.is_ipv4() {
        return Err(format!(
            "nameserver {word:?}: a scope is for IPv6 addresses only"
        ));
    }
    Ok(Nameserver { addr, scope })
}

fn read_domains<'a>(words: impl Iterator<Item = &'a str>) -> Result<Vec<Name>, String> {
    let mut out = Vec::new();
    for w in words {
        let mut name =
            Name::from_ascii(w).map_err(|e| format!("search domain {w:?} is not a name: {e}"))?;
        if name.is_root() {
            // `search .` means "no search list" in practice; glibc skips it too.
            continue;
        }
        name.set_fqdn(true);
        out.push(name);
    }
    Ok(out)
}

fn read_option(word: &str, options: &mut ResolverOptions) -> Result<(), String> {
    let number = |value: &str, max: u32| -> Result<u32, String> {
        value
            .parse::<u32>()
            .map(|n| n.min(max))
            .map_err(|_| format!("option {word:?}: {value:?} is not a number"))
    };
    match word.split_once(':') {
        Some(("ndots", v)) => options.ndots = number(v, 15)? as u8,
        Some(("timeout", v)) => options.timeout = Duration::from_secs(number(v, 30)?.max(1).into()),
        Some(("attempts", v)) => options.attempts = number(v, 5)?.max(1) as u8,
        Some(_) => {}
        None => match word {
            "rotate" => options.rotate = true,
            "edns0" => options.edns0 = true,
            "use-vc" | "usevc" => options.use_tcp = true,
            _ => {}
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_what_glibc_reads() {
        let conf = ResolvConf::parse(
            "# comment\nnameserver 10.0.0.1\nnameserver fe80::1%eth0 ; trailing\n\
             domain old.test\nsearch a.test b.test.\nsortlist 10.0.0.0\n\
             options ndots:2 timeout:1 attempts:3 rotate edns0 trust-ad use-vc\n",
        )
        .expect("valid text");
        assert_eq!(conf.nameservers.len(), 2);
        assert_eq!(conf.nameservers[1].scope.as_deref(), Some("eth0"));
        let search: Vec<String> = conf.search.iter().map(|n| n.to_ascii()).collect();
        assert_eq!(search, ["a.test.", "b.test."]);
        let o = &conf.options;
        assert_eq!(
            (o.ndots, o.timeout, o.attempts),
            (2, Duration::from_secs(1), 3)
        );
        assert!(o.rotate && o.edns0 && o.use_tcp);
    }

    #[test]
    fn domain_after_search_wins_and_limits_hold() {
        let conf = ResolvConf::parse(
            "search a.test\ndomain c.test\nnameserver 1.1.1.1\nnameserver 1.1.1.2\n\
             nameserver 1.1.1.3\nnameserver 1.1.1.4\noptions ndots:99 timeout:0 attempts:9\n",
        )
        .expect("valid text");
        assert_eq!(conf.search.len(), 1);
        assert_eq!(conf.search[0].to_ascii(), "c.test.");
        assert_eq!(conf.nameservers.len(), MAX_NAMESERVERS);
        assert_eq!(conf.options.ndots, 15);
        assert_eq!(conf.options.timeout, Duration::from_secs(1));
        assert_eq!(conf.options.attempts, 5);
    }

    #[test]
    fn bad_values_name_their_line_unless_lenient() {
        let text = "nameserver 10.0.0.1\nnameserver banana\n";
        let err = ResolvConf::parse(text).expect_err("banana is no address");
        assert_eq!(err.line, 2);
        assert!(err.to_string().contains("banana"), "{err}");
        assert_eq!(ResolvConf::parse_lenient(text).nameservers.len(), 1);
        assert!(ResolvConf::parse("options ndots:x").is_err());
        assert!(ResolvConf::parse("nameserver 10.0.0.1%eth0").is_err());
    }

    proptest! {
        #[test]
        fn any_text_parses_or_names_a_line(text in "\\PC*(\n\\PC*){0,5}") {
            match ResolvConf::parse(&text) {
                Ok(c) => prop_assert!(c.nameservers.len() <= MAX_NAMESERVERS),
                Err(e) => prop_assert!(e.line >= 1 && e.line <= text.lines().count()),
            }
            let _ = ResolvConf::parse_lenient(&text);
        }
    }
}
