//! The configuration file, read as the original reads it (`iothnamed.conf(5)`), with every
//! fault reported with its line.
//!
//! One directive per line; blank lines and lines starting with `#` are skipped. Directives,
//! options, `hrevmode` values and static types are case-insensitive and only their first
//! eight characters count; auth types are whole words, case-insensitive. Words are split on
//! blanks with `'` `"` `\` quoting ([`lexer`]). Differences from the original, all on the side
//! of accepting less silently: a line may start with blanks, every error carries its line
//! and all of them are reported, and there is no limit of 64 (in practice 31) net names.

pub mod lexer;
pub mod records;

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use crate::domain::{DomainSpec, Prefix, check_name, normalize};
pub use records::StaticRecord;

/// What an `auth` line does for a matching query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthKind {
    /// Allows TCP connections from its nets.
    Accept,
    /// Answers REFUSED.
    Error,
    /// Answers from the `static` records.
    Static,
    /// Answers AAAA with the hash address of the name.
    Hash,
    /// Answers AAAA with the one-time address of the name.
    Otip,
    /// Answers from the cache of forwarded replies.
    Cache,
    /// Answers PTR for hash addresses given out before.
    Hrev,
    /// Forwards to the `dns` servers.
    Fwd,
}

impl AuthKind {
    /// Every kind, in the order counters are reported.
    pub const ALL: [AuthKind; 8] = [
        AuthKind::Accept,
        AuthKind::Error,
        AuthKind::Static,
        AuthKind::Hash,
        AuthKind::Otip,
        AuthKind::Cache,
        AuthKind::Hrev,
        AuthKind::Fwd,
    ];

    /// The word in the configuration.
    pub fn word(self) -> &'static str {
        match self {
            AuthKind::Accept => "accept",
            AuthKind::Error => "error",
            AuthKind::Static => "static",
            AuthKind::Hash => "hash",
            AuthKind::Otip => "otip",
            AuthKind::Cache => "cache",
            AuthKind::Hrev => "hrev",
            AuthKind::Fwd => "fwd",
        }
    }

    fn parse(word: &str) -> Option<AuthKind> {
        AuthKind::ALL
            .into_iter()
            .find(|k| k.word().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for AuthKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// BASE of a `hash` or `otip` line: an address, or a name to resolve (AAAA).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaseSpec {
    /// An IPv6 literal.
    Addr(Ipv6Addr),
    /// A name (normal form): static AAAA glue first, else DNS through the first `dns` server.
    Name(String),
}

/// One `auth` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    /// Its line in the file.
    pub line: usize,
    /// What it does.
    pub kind: AuthKind,
    /// The nets it applies to (indexes into [`Config::nets`]).
    pub nets: Vec<usize>,
    /// The names it applies to (`None` for `accept`).
    pub domain: Option<DomainSpec>,
    /// BASE (`hash`, `otip`).
    pub base: Option<BaseSpec>,
    /// PW (`otip`).
    pub password: Option<String>,
}

/// A `net` name and its prefixes (all `net` lines of that name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Net {
    /// The name.
    pub name: String,
    /// Its prefixes (IPv4 IPv4-mapped).
    pub prefixes: Vec<Prefix>,
}

/// When `hash` answers are remembered for `hrev`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HrevMode {
    /// Always.
    Always,
    /// When the client and the hashed address share their first 64 bits.
    Net,
    /// When the client asks for its own address.
    Same,
    /// Never.
    Never,
}

/// The `option` lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// `hrevmode` (default always).
    pub hrevmode: HrevMode,
    /// `hashttl`: TTL of hash answers and how long `hrev` remembers them (default 600 s).
    pub hashttl: u32,
    /// `tcplistenbacklog` (default 5).
    pub tcp_listen_backlog: i32,
    /// `tcptimeout`: idle TCP connections close after this many seconds (default 60).
    pub tcp_timeout: u32,
    /// `staticttl` (ours): TTL of static answers (default 3600 s; the original sends
    /// 2147483647, which caches forever).
    pub static_ttl: u32,
    /// `otipperiod` (ours): the OTIP period in seconds (default 32, the original's fixed one).
    pub otip_period: u32,
    /// `cachesize` (ours): most records in the cache (default 10000; the original has no bound).
    pub cache_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hrevmode: HrevMode::Always,
            hashttl: 600,
            tcp_listen_backlog: 5,
            tcp_timeout: 60,
            static_ttl: 3600,
            otip_period: 32,
            cache_size: 10_000,
        }
    }
}

/// The stack lines: `stack` (one stack for both roles) or `rstack`/`fstack`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackLines {
    /// `stack` lines: one stack serves and forwards.
    pub shared: Vec<String>,
    /// `rstack` lines: the stack clients reach.
    pub serve: Vec<String>,
    /// `fstack` lines: the stack queries are forwarded over.
    pub forward: Vec<String>,
}

/// A parsed configuration file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// The stacks.
    pub stacks: StackLines,
    /// Upstream servers (`dns` lines, at most 3), in order.
    pub dns: Vec<IpAddr>,
    /// Net names, in order of first definition.
    pub nets: Vec<Net>,
    /// `auth` lines, in file order.
    pub auths: Vec<Auth>,
    /// `static` records, in file order.
    pub statics: Vec<StaticRecord>,
    /// Options.
    pub options: Options,
}

/// Most upstream servers, as the original (and glibc's MAXNS).
pub const MAX_DNS: usize = 3;

/// A configuration file's faults, each `ORIGIN:LINE: problem`, in line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses configuration text; `origin` (the file name) prefixes every error.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let result = lexer::words(trimmed).and_then(|words| config.directive(line, &words));
            if let Err(e) = result {
                errors.push(format!("{origin}:{line}: {e}"));
            }
        }
        let mixed = !config.stacks.shared.is_empty()
            && (!config.stacks.serve.is_empty() || !config.stacks.forward.is_empty());
        if mixed {
            errors.push(format!(
                "{origin}: `stack` cannot be used together with `rstack`/`fstack`"
            ));
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(errors))
        }
    }

    fn directive(&mut self, line: usize, words: &[String]) -> Result<(), String> {
        let Some((keyword, args)) = words.split_first() else {
            return Ok(());
        };
        let is = |k: &str| lexer::is_keyword(keyword, k);
        if is("stack") || is("rstack") || is("fstack") {
            let conf = args.join(" ");
            if args.is_empty() {
                return Err(format!("{keyword}: needs a stack configuration"));
            }
            let lines = if is("stack") {
                &mut self.stacks.shared
            } else if is("rstack") {
                &mut self.stacks.serve
            } else {
                &mut self.stacks.forward
            };
            lines.push(conf);
            Ok(())
        } else if is("dns") {
            let [addr] = args else {
                return Err("dns: expected one IP address".into());
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("dns: {addr:?} is not an IP address"))?;
            if self.dns.len() == MAX_DNS {
                return Err(format!("dns: at most {MAX_DNS} servers"));
            }
            self.dns.push(ip);
            Ok(())
        } else if is("net") {
            let [name, prefix] = args else {
                return Err("net: expected NAME ADDR/LEN".into());
            };
            let prefix = Prefix::parse(prefix).map_err(|e| format!("net {name}: {e}"))?;
            match self.nets.iter_mut().find(|n| n.name == *name) {
                Some(net) => net.prefixes.push(prefix),
                None => self.nets.push(Net {
                    name: name.clone(),
                    prefixes: vec![prefix],
                }),
            }
            Ok(())
        } else if is("auth") {
            let auth = self.auth(line, args)?;
            self.auths.push(auth);
            Ok(())
        } else if is("static") {
            self.statics.push(records::parse_static(args)?);
            Ok(())
        } else if is("option") {
            self.option(args)
        } else {
            Err(format!(
                "unknown directive {keyword:?} (stack, rstack, fstack, dns, net, auth, static, option)"
            ))
        }
    }

    fn auth(&self, line: usize, args: &[String]) -> Result<Auth, String> {
        let Some((kind, rest)) = args.split_first() else {
            return Err("auth: expected TYPE NETS [DOMAIN [BASE [PW]]]".into());
        };
        let kind = AuthKind::parse(kind).ok_or_else(|| {
            format!(
                "auth: unknown type {kind:?} (accept, error, static, hash, otip, cache, hrev, fwd)"
            )
        })?;
        let (want, form) = match kind {
            AuthKind::Accept => (1, "NETS"),
            AuthKind::Hash => (3, "NETS DOMAIN BASE"),
            AuthKind::Otip => (4, "NETS DOMAIN BASE PASSWORD"),
            _ => (2, "NETS DOMAIN"),
        };
        if rest.len() != want {
            return Err(format!("auth {kind}: expected {form}"));
        }
        let mut nets = Vec::new();
        for name in rest[0].split(',') {
            let index = self
                .nets
                .iter()
                .position(|n| n.name == name)
                .ok_or_else(|| format!("auth {kind}: net {name:?} is not defined (above)"))?;
            if !nets.contains(&index) {
                nets.push(index);
            }
        }
        let domain = match rest.get(1) {
            Some(d) => Some(DomainSpec::parse(d).map_err(|e| format!("auth {kind}: {e}"))?),
            None => None,
        };
        let base = match rest.get(2) {
            Some(b) => Some(match b.parse::<Ipv6Addr>() {
                Ok(a) => BaseSpec::Addr(a),
                Err(_) if b.parse::<IpAddr>().is_ok() => {
                    return Err(format!("auth {kind}: base {b:?} must be IPv6"));
                }
                Err(_) => {
                    check_name(b.strip_suffix('.').unwrap_or(b))
                        .map_err(|e| format!("auth {kind}: base {e}"))?;
                    BaseSpec::Name(normalize(b))
                }
            }),
            None => None,
        };
        Ok(Auth {
            line,
            kind,
            nets,
            domain,
            base,
            password: rest.get(3).cloned(),
        })
    }

    fn option(&mut self, args: &[String]) -> Result<(), String> {
        let [key, value] = args else {
            return Err("option: expected NAME VALUE".into());
        };
        let is = |k: &str| lexer::is_keyword(key, k);
        let number = |max: u64| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|v| *v <= max)
                .ok_or_else(|| format!("option {key}: {value:?} is not a number from 0 to {max}"))
        };
        let o = &mut self.options;
        if is("hrevmode") {
            let v = |w: &str| lexer::is_keyword(value, w);
            o.hrevmode = if v("always") {
                HrevMode::Always
            } else if v("net") {
                HrevMode::Net
            } else if v("same") {
                HrevMode::Same
            } else if v("never") {
                HrevMode::Never
            } else {
                return Err(format!(
                    "option hrevmode: {value:?} is not always, net, same or never"
                ));
            };
        } else if is("hashttl") {
            o.hashttl = number(i32::MAX as u64)? as u32;
        } else if is("tcplistenbacklog") {
            o.tcp_listen_backlog = number(65535)? as i32;
        } else if is("tcptimeout") {
            o.tcp_timeout = number(86400)? as u32;
        } else if is("staticttl") {
            o.static_ttl = number(i32::MAX as u64)? as u32;
        } else if is("otipperiod") {
            let p = number(86400)? as u32;
            if p == 0 {
                return Err("option otipperiod: must be at least 1".into());
            }
            o.otip_period = p;
        } else if is("cachesize") {
            o.cache_size = number(10_000_000)? as usize;
        } else {
            return Err(format!(
                "option: unknown option {key:?} (hrevmode, hashttl, tcplistenbacklog, tcptimeout, staticttl, otipperiod, cachesize)"
            ));
        }
        Ok(())
    }

    /// Whether any `auth` line is of `kind`.
    pub fn has(&self, kind: AuthKind) -> bool {
        self.auths.iter().any(|a| a.kind == kind)
    }
}

#[cfg(test)]
mod tests;
