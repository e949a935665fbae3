//! `hashaddr NAME` and `otipaddr NAME PASSWORD`: the address a name hashes to, as the
//! otip-utils programs of the same names print it.
//!
//! The base address is `-b` (an IPv6 literal, recognised by a `:`, or a name whose AAAA
//! record is the base) or, without `-b`, the AAAA record of NAME's part after its first dot.
//! Names are resolved over `--dnsstack` (an iothconf string; default the kernel) with the
//! servers of `--dns` (default: that stack's own). NAME is hashed exactly as given apart from
//! one trailing dot, case kept; `otipaddr` adds the password and the slot `unix / period`.
//! Unlike the original, a NAME ending in a dot still finds its base (`a.example.` looks up
//! `example.`), `-s` works as documented, a base name with several AAAA records takes the
//! first, and `--time UNIX` computes the address of another moment.

use std::fmt;
use std::net::Ipv6Addr;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser};
use ioth::Stack;
use nlconf::hashaddr::{hashaddr, otiptime_at};

use crate::lookup::{lookup_aaaa, resolver};
use crate::ntop::ntop6;

/// Where the base address comes from (the options both programs share).
#[derive(Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct BaseOptions {
    /// The base address: an IPv6 literal, or a name whose AAAA record is the base.
    /// Default: the AAAA record of NAME's domain (the part after its first dot).
    #[arg(
        short = 'b',
        long = "base",
        visible_alias = "baseaddr",
        value_name = "BASE"
    )]
    pub base: Option<String>,
    /// The DNS servers for names: a comma list of addresses, or resolv.conf text.
    /// Default: those of the --dnsstack stack.
    #[arg(short = 'D', long = "dns", value_name = "DNS")]
    pub dns: Option<String>,
    /// The stack names are resolved over, as an iothconf string
    /// (e.g. 'stack=smoltcp,vnl=vde:///tmp/hub,eth,ip=10.0.0.2/24'). Default: the kernel.
    #[arg(short = 's', long = "dnsstack", value_name = "CONF")]
    pub dnsstack: Option<String>,
}

/// `hashaddr`: prints the hash address of NAME (no password, no time).
#[derive(Parser, Clone, Debug, PartialEq, Eq)]
#[command(name = "hashaddr", version, args_override_self = true)]
pub struct HashaddrCli {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub base: BaseOptions,
    /// The fully qualified name to hash (hashed as given, one trailing dot ignored).
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// `otipaddr`: prints the One-Time IP address of NAME with PASSWORD now (or at `--time`).
#[derive(Parser, Clone, Debug, PartialEq, Eq)]
#[command(name = "otipaddr", version, args_override_self = true)]
pub struct OtipaddrCli {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub base: BaseOptions,
    /// The OTIP period in seconds (client and server must agree).
    #[arg(
        short = 'T',
        long = "period",
        value_name = "SECONDS",
        default_value_t = 32
    )]
    pub period: u32,
    /// Compute the address for this Unix time (seconds) instead of now.
    #[arg(long = "time", value_name = "UNIX")]
    pub time: Option<u64>,
    /// The fully qualified name of the server (hashed as given, one trailing dot ignored).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The shared secret.
    #[arg(value_name = "PASSWORD")]
    pub password: String,
}

/// Why no address could be printed. The messages are the original's where it had one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrError {
    /// `-b` has a `:` but is not an IPv6 address.
    InvalidBase(String),
    /// No `-b` and NAME has no domain part.
    MissingDomain(String),
    /// The stack for name resolution could not be made.
    Stack(String),
    /// `--dns` could not be read.
    Dns(String),
    /// The base name did not resolve to an IPv6 address.
    NotFound {
        /// The base name.
        base: String,
        /// What the resolver said.
        reason: String,
    },
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrError::InvalidBase(b) => write!(f, "invalid base address: {b}"),
            AddrError::MissingDomain(n) => write!(f, "missing domain name: {n}"),
            AddrError::Stack(e) | AddrError::Dns(e) => f.write_str(e),
            AddrError::NotFound { base, reason } => {
                write!(f, "domain name base address not found: {base} ({reason})")
            }
        }
    }
}

impl std::error::Error for AddrError {}

/// The base address as given: a literal, or a name to resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Base {
    /// An IPv6 literal.
    Literal(Ipv6Addr),
    /// A name whose first AAAA record is the base.
    Name(String),
}

/// Where the base of `name` comes from: `-b` (a literal when it contains `:`), else the part
/// of `name` after its first dot (`renzo.hash.local.` → `hash.local.`).
pub fn base_of(base: Option<&str>, name: &str) -> Result<Base, AddrError> {
    match base {
        Some(b) if b.contains(':') => b
            .parse()
            .map(Base::Literal)
            .map_err(|_| AddrError::InvalidBase(b.to_owned())),
        Some("") => Err(AddrError::InvalidBase(String::new())),
        Some(b) => Ok(Base::Name(b.to_owned())),
        None => match name.split_once('.') {
            Some((_, domain)) if !domain.is_empty() && domain != "." => {
                Ok(Base::Name(domain.to_owned()))
            }
            _ => Err(AddrError::MissingDomain(name.to_owned())),
        },
    }
}

/// The stack for name resolution: `conf` (an iothconf string, every item of which must
/// apply) or the kernel.
fn dns_stack(conf: Option<&str>) -> Result<Stack, AddrError> {
    let fail = |e: String| AddrError::Stack(format!("--dnsstack {:?}: {e}", conf.unwrap_or("")));
    match conf {
        None => Stack::kernel().map_err(|e| fail(e.to_string())),
        Some(c) => {
            let (stack, report) = Stack::from_config(c).map_err(|e| fail(e.to_string()))?;
            match report.failed.first() {
                Some((item, e)) => Err(fail(format!("{item}: {e}"))),
                None => Ok(stack),
            }
        }
    }
}

/// The base address for `name` under `opts`, resolving over the options' stack if needed.
pub fn base_address(opts: &BaseOptions, name: &str) -> Result<Ipv6Addr, AddrError> {
    match base_of(opts.base.as_deref(), name)? {
        Base::Literal(a) => Ok(a),
        Base::Name(base) => {
            let stack = dns_stack(opts.dnsstack.as_deref())?;
            let r = resolver(&stack, opts.dns.as_deref()).map_err(AddrError::Dns)?;
            lookup_aaaa(&r, &base).map_err(|reason| AddrError::NotFound { base, reason })
        }
    }
}

/// The address `otipaddr` prints: the hash of `name`, `password` and the slot
/// `unix / period` (0, meaning no time, when `period` is 0) on `base`.
pub fn otip_address(
    base: Ipv6Addr,
    name: &str,
    password: &str,
    period: u32,
    unix: u64,
) -> Ipv6Addr {
    hashaddr(base, name, Some(password), otiptime_at(unix, period, 0))
}

/// Seconds since the Unix epoch now (0 if the clock is before it).
fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What `hashaddr` prints for `cli` (one line, newline included).
pub fn run_hashaddr(cli: &HashaddrCli) -> Result<String, AddrError> {
    let base = base_address(&cli.base, &cli.name)?;
    Ok(format!("{}\n", ntop6(hashaddr(base, &cli.name, None, 0))))
}

/// What `otipaddr` prints for `cli` (one line, newline included).
pub fn run_otipaddr(cli: &OtipaddrCli) -> Result<String, AddrError> {
    let base = base_address(&cli.base, &cli.name)?;
    let unix = cli.time.unwrap_or_else(now_unix);
    let addr = otip_address(base, &cli.name, &cli.password, cli.period, unix);
    Ok(format!("{}\n", ntop6(addr)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_clis_are_consistent() {
        HashaddrCli::command().debug_assert();
        OtipaddrCli::command().debug_assert();
    }

    #[test]
    fn where_the_base_comes_from() {
        let lit = |s: &str| Base::Literal(s.parse().unwrap());
        assert_eq!(base_of(Some("fc00::"), "x"), Ok(lit("fc00::")));
        assert_eq!(
            base_of(Some("fc00::g"), "x"),
            Err(AddrError::InvalidBase("fc00::g".into()))
        );
        assert_eq!(
            base_of(Some("hash.local"), "x"),
            Ok(Base::Name("hash.local".into()))
        );
        assert_eq!(
            base_of(None, "renzo.hash.local"),
            Ok(Base::Name("hash.local".into()))
        );
        // The original looked up "hash.local." and never found it; the resolver here does.
        assert_eq!(
            base_of(None, "renzo.hash.local."),
            Ok(Base::Name("hash.local.".into()))
        );
        for name in ["renzo", "renzo.", "renzo.."] {
            assert_eq!(
                base_of(None, name),
                Err(AddrError::MissingDomain(name.into())),
                "{name}"
            );
        }
        assert_eq!(
            AddrError::MissingDomain("renzo".into()).to_string(),
            "missing domain name: renzo"
        );
    }

    #[test]
    fn otip_slots_and_the_first_slot_without_time() {
        let base: Ipv6Addr = "fc01::".parse().unwrap();
        let at = |unix| ntop6(otip_address(base, "renzo.otip", "mypassword", 32, unix));
        assert_eq!(at(10), "fc01::a086:5677:2679:16f9");
        assert_eq!(at(40), "fc01::a80d:c83f:9271:d9ce");
        assert_eq!(at(63), "fc01::a80d:c83f:9271:d9ce");
        assert_eq!(at(1_738_288), "fc01::6c96:53ca:eb83:2907");
    }
}
