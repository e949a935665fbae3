//! The command line and rc file (the original's options, long names = rc keys) and the
//! validated [`Config`] they make.

use std::net::Ipv6Addr;
use std::path::PathBuf;

use clap::Parser;

use crate::advert::{self, Advert, MAX_REACHABLE_TIME, RaFlags};
use crate::prefix::PrefixSpec;
use crate::schedule::{MAX_PERIOD, MIN_PERIOD};

/// The period (MaxRtrAdvInterval) when none is given: RFC 4861 §6.2.1's default. The
/// original's default was 0 (answer solicitations only).
pub const DEFAULT_PERIOD: u32 = 600;

/// `iothradvd`'s command line. Every long option is also an rc-file key (`period 30`).
#[derive(Parser, Debug, Clone)]
#[command(
    name = "iothradvd",
    about = "IPv6 router advertisements from a stack of the Internet of Threads",
    long_about = "IPv6 router advertisements (RFC 4861) from a stack of the Internet of \
        Threads: prefixes for SLAAC, a default router, MTU, DNS servers and search list \
        (RFC 8106). Unsolicited advertisements go to all nodes at start and then every \
        period (with RFC 4861's jitter); router solicitations are answered within half a \
        second.",
    after_help = "PREFIX is addr[/len[/flags[/valid[/preferred]]]], e.g. fc01::/64/LA/86400/14400: \
        len defaults to 64, flags to LA (L on-link, A autonomous, R router address, - none), \
        lifetimes to 2592000 and 604800 seconds (or infinity).",
    args_override_self = true
)]
pub struct Options {
    /// The stack: an iothconf string (`stack=kernel`, `stack=smoltcp,vnl=...,eth`), or a VNL
    /// (`vde:///tmp/sw`), on which a smoltcp stack is made; the kernel's stack if absent.
    #[arg(short = 's', long = "stack", value_name = "STACK")]
    pub stack: Option<String>,
    /// The interface to advertise on.
    #[arg(
        short = 'i',
        long = "iface",
        value_name = "IFACE",
        default_value = "vde0"
    )]
    pub iface: String,
    /// The MAC address of the stack made on a VNL (random, locally administered, if absent).
    #[arg(short = 'm', long = "macaddr", value_name = "MAC", value_parser = parse_mac)]
    pub macaddr: Option<[u8; 6]>,
    /// Seconds between unsolicited advertisements at most (MaxRtrAdvInterval, 4 to 1800);
    /// 0 answers solicitations only.
    #[arg(short = 'P', long = "period", value_name = "SECS", default_value_t = DEFAULT_PERIOD)]
    pub period: u32,
    /// The current hop limit hosts should use (0: unspecified).
    #[arg(short = 'H', long = "hoplimit", value_name = "HOPS", default_value_t = advert::DEFAULT_HOP_LIMIT)]
    pub hoplimit: u8,
    /// Header flags: M managed, O other, H home agent, h high or l low preference, P proxy.
    #[arg(short = 'F', long = "flags", value_name = "FLAGS", value_parser = RaFlags::parse)]
    pub flags: Option<RaFlags>,
    /// Router lifetime in seconds, 0 = not a default router (default 3 x period).
    #[arg(short = 'L', long = "lifetime", value_name = "SECS")]
    pub lifetime: Option<u16>,
    /// Reachable time in milliseconds (0: unspecified; at most 3600000).
    #[arg(
        short = 'r',
        long = "reachable",
        value_name = "MS",
        default_value_t = 0
    )]
    pub reachable: u32,
    /// Retransmission timer in milliseconds (0: unspecified).
    #[arg(
        short = 'R',
        long = "retransmit",
        value_name = "MS",
        default_value_t = 0
    )]
    pub retransmit: u32,
    /// The link MTU to advertise (1280 to 65535; 0: no MTU option).
    #[arg(short = 'M', long = "mtu", value_name = "MTU", default_value_t = 0)]
    pub mtu: u32,
    /// Recursive DNS servers to advertise (RFC 8106), comma separated; repeatable.
    #[arg(long = "rdnss", value_name = "LIST", value_delimiter = ',', value_parser = advert::dns_server)]
    pub rdnss: Vec<Ipv6Addr>,
    /// DNS search domains to advertise (RFC 8106), comma separated; repeatable.
    #[arg(long = "dnssl", value_name = "LIST", value_delimiter = ',', value_parser = advert::search_domain)]
    pub dnssl: Vec<String>,
    /// Lifetime of the advertised DNS servers and domains, seconds (default 3 x period).
    #[arg(long = "dnslifetime", value_name = "SECS")]
    pub dnslifetime: Option<u32>,
    /// A prefix to advertise (repeatable; the rc file's `prefix` lines), used only when no
    /// PREFIX argument is given.
    #[arg(long = "prefix", value_name = "PREFIX")]
    pub prefix: Vec<PrefixSpec>,
    /// Read options from this rc file (`key value` lines, keys = long option names); the
    /// command line wins.
    #[arg(short = 'f', long = "rcfile", value_name = "RCFILE")]
    pub rcfile: Option<PathBuf>,
    /// Run in the background (logging to syslog).
    #[arg(short = 'd', long = "daemon")]
    pub daemon: bool,
    /// Write the process id to this file.
    #[arg(short = 'p', long = "pidfile", value_name = "PIDFILE")]
    pub pidfile: Option<PathBuf>,
    /// Log debugging detail (RUST_LOG refines it).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Prefixes to advertise.
    #[arg(value_name = "PREFIX")]
    pub prefixes: Vec<PrefixSpec>,
}

/// Parses a MAC address `xx:xx:xx:xx:xx:xx`, refusing multicast and all-zero addresses.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    let mut mac = [0u8; 6];
    let ok = parts.len() == 6
        && parts.iter().zip(mac.iter_mut()).all(|(p, b)| {
            (1..=2).contains(&p.len()) && u8::from_str_radix(p, 16).map(|v| *b = v).is_ok()
        });
    if !ok {
        return Err(format!("{s:?} is not a MAC address (xx:xx:xx:xx:xx:xx)"));
    }
    if mac[0] & 1 != 0 || mac == [0; 6] {
        return Err(format!("{s} is not a station address (multicast or zero)"));
    }
    Ok(mac)
}

/// Where the advertising stack comes from.
#[derive(Clone, Debug)]
pub enum StackSpec {
    /// The host kernel's stack.
    Kernel,
    /// iothconf lines (see `ioth_service::stack::build`).
    Config(Vec<String>),
    /// A smoltcp stack made on a VNL, with this MAC on its interface (random if `None`).
    Vnl {
        /// The VNL.
        vnl: String,
        /// The interface's MAC address.
        mac: Option<[u8; 6]>,
    },
    /// A stack the caller already has.
    Stack(ioth::Stack),
}

impl StackSpec {
    /// What `-s` means: a VNL when the text before its first `://` is a bare scheme
    /// (`vde:///tmp/sw`, `hub://@lan`), else an iothconf string; the kernel when absent.
    pub fn from_option(stack: Option<&str>, mac: Option<[u8; 6]>) -> Result<StackSpec, String> {
        let Some(s) = stack else {
            return match mac {
                Some(_) => Err(no_mac_here()),
                None => Ok(StackSpec::Kernel),
            };
        };
        let vnl = s.split_once("://").is_some_and(|(scheme, _)| {
            !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if vnl {
            Ok(StackSpec::Vnl {
                vnl: s.to_string(),
                mac,
            })
        } else if mac.is_some() {
            Err(no_mac_here())
        } else {
            Ok(StackSpec::Config(vec![s.to_string()]))
        }
    }
}

fn no_mac_here() -> String {
    "--macaddr: only for a stack made on a VNL (--stack vde://...); give an iothconf stack \
     its MAC with mac="
        .to_string()
}

/// A validated configuration: what [`crate::start`] runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The stack to advertise from.
    pub stack: StackSpec,
    /// The interface's name on that stack.
    pub iface: String,
    /// MaxRtrAdvInterval in seconds (0: answer solicitations only).
    pub period: u32,
    /// What the advertisements say.
    pub advert: Advert,
}

impl Config {
    /// A configuration with the defaults of [`Advert::new`] for `period`.
    pub fn new(stack: StackSpec, iface: &str, period: u32) -> Config {
        Config {
            stack,
            iface: iface.to_string(),
            period,
            advert: Advert::new(period),
        }
    }

    /// The configuration the options describe, or an error naming the option at fault.
    pub fn from_options(o: &Options) -> Result<Config, String> {
        if o.period != 0 && !(MIN_PERIOD..=MAX_PERIOD).contains(&o.period) {
            return Err(format!(
                "--period {}: 0 (answer solicitations only) or {MIN_PERIOD} to {MAX_PERIOD} \
                 seconds (RFC 4861 §6.2.1)",
                o.period
            ));
        }
        if let Some(l) = o.lifetime
            && l != 0
            && u32::from(l) < o.period
        {
            return Err(format!(
                "--lifetime {l}: 0 (not a default router) or at least the period ({} s), so \
                 that hosts hear from the router before it expires (RFC 4861 §6.2.1)",
                o.period
            ));
        }
        if o.reachable > MAX_REACHABLE_TIME {
            return Err(format!(
                "--reachable {}: at most {MAX_REACHABLE_TIME} ms (RFC 4861 §6.2.1)",
                o.reachable
            ));
        }
        if o.mtu != 0 && !(1280..=65535).contains(&o.mtu) {
            return Err(format!(
                "--mtu {}: 1280 (the IPv6 minimum) to 65535, or 0 for no MTU option",
                o.mtu
            ));
        }
        let stack = StackSpec::from_option(o.stack.as_deref(), o.macaddr)?;
        let mut config = Config::new(stack, &o.iface, o.period);
        let a = &mut config.advert;
        a.cur_hop_limit = o.hoplimit;
        a.flags = o.flags.unwrap_or_default();
        if let Some(l) = o.lifetime {
            a.router_lifetime = l;
        }
        a.reachable_ms = o.reachable;
        a.retrans_ms = o.retransmit;
        a.mtu = (o.mtu != 0).then_some(o.mtu);
        a.prefixes = if o.prefixes.is_empty() {
            o.prefix.clone()
        } else {
            o.prefixes.clone()
        };
        a.rdnss = o.rdnss.clone();
        a.dnssl = o.dnssl.clone();
        if let Some(l) = o.dnslifetime {
            a.dns_lifetime = l;
        }
        a.check()?;
        Ok(config)
    }

    /// Things worth a warning that are not errors: prefixes SLAAC will not use.
    pub fn warnings(&self) -> Vec<String> {
        self.advert
            .prefixes
            .iter()
            .filter(|p| p.slaac_ignored())
            .map(|p| {
                format!(
                    "prefix {p}: marked autonomous, but hosts form SLAAC addresses only in /64 \
                     prefixes"
                )
            })
            .collect()
    }
}
