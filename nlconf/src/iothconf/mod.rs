//! Configuration strings in the iothconf grammar, e.g.
//! `stack=smoltcp,vnl=vde:///tmp/hub,eth,ip=10.0.0.1/24,gw=10.0.0.254,dns=10.0.0.53`.
//!
//! [`Config::parse`] turns a string into a [`Config`]; [`apply`] performs it on a stack
//! through the client helpers and reports what was configured.
//!
//! Tags (exact, case-sensitive, as iothconf spells them):
//! - `stack=NAME`, `vnl=VNL` — only when creating a stack ([`Mode::Create`]); `vnl=` repeats
//! - `iface=NAME` (default `vde0`), `ifindex=N`
//! - `mac=MAC` / `macaddr=MAC`, `fqdn=NAME`
//! - `eth`: set the MAC (from `mac`, else hashed from `fqdn`) and bring the link up
//! - `ip=ADDR[/LEN]` (repeatable; /24 for IPv4, /64 for IPv6 by default), `gw=ADDR`,
//!   `dns=ADDR`, `domain=NAME` (all repeatable) — the static configuration
//! - `dhcp` (`dhcp4`, `dhcpv4`), `dhcp6` (`dhcpv6`), `rd` (`rd6`), `slaac`
//! - `auto` = eth,dhcp,dhcp6,rd; `auto4` (`autov4`) = eth,dhcp; `auto6` (`autov6`) = eth,dhcp6,rd
//! - undo: `-ip=`, `-gw=`, `-dns=`, `-domain=` one item; `-static` all static items; `-eth`
//!   (link down); `-dhcp` (`-dhcp4`, `-dhcpv4`), `-dhcp6` (`-dhcpv6`), `-rd` (`-rd6`);
//!   `-auto` / `-all`, `-auto4` (`-autov4`), `-auto6` (`-autov6`)
//! - `debug`: the report carries a description of the resulting configuration
//!
//! Unknown tags, missing or malformed values, and values given to flags are errors (EINVAL)
//! that name the offending item.
//!
//! ```
//! use nlconf::iothconf::{Config, Mode, StaticItem};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = Config::parse(
//!     "stack=smoltcp vnl=hub://@lan eth fqdn=node1.lan ip=10.0.0.1/24 ip=fc00::1 dhcp6",
//!     Mode::Create,
//! )?;
//! assert_eq!(cfg.stack.as_deref(), Some("smoltcp"));
//! assert_eq!(cfg.vnl, ["hub://@lan"]);
//! assert_eq!(cfg.fqdn.as_deref(), Some("node1.lan"));
//! assert!(cfg.enable.eth && cfg.enable.dhcp6 && !cfg.enable.dhcp);
//! assert_eq!(cfg.add, [
//!     StaticItem::Addr("10.0.0.1".parse()?, 24),
//!     StaticItem::Addr("fc00::1".parse()?, 64), // /64 by default for IPv6
//! ]);
//!
//! // A running stack takes no `stack=`; every error names the item.
//! let err = Config::parse("stack=kernel", Mode::Running).expect_err("only when creating");
//! assert_eq!(err.to_string(), "`stack` is only valid when creating a stack");
//! let err = Config::parse("eth ip=10.0.0.1/33", Mode::Running).expect_err("a bad length");
//! assert_eq!(err.to_string(), "`ip=10.0.0.1/33`: prefix length `33` is not in 1..=32");
//! # Ok(())
//! # }
//! ```

mod apply;
mod tokens;

use std::fmt;
use std::io;
use std::net::IpAddr;

pub use apply::{AutoConf, ConfState, NoAutoConf, Protocol, Report, apply};
pub use tokens::{Item, tokenize};

use crate::model::{IFNAME_MAX, parse_mac};

/// A configuration string that cannot be accepted; the message names the offending item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    fn new(message: String) -> ConfigError {
        ConfigError { message }
    }

    /// The errno Linux-style callers get for it: always EINVAL.
    pub fn errno(&self) -> i32 {
        libc::EINVAL
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for io::Error {
    fn from(e: ConfigError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// Where a configuration string is used: creating a stack allows `stack=` and `vnl=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Creating a stack (`ioth_newstackc`).
    Create,
    /// Configuring a running stack (`ioth_config`).
    Running,
}

/// The protocols and link setup a string asks for (or asks to undo).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// Ethernet setup: MAC and link up.
    pub eth: bool,
    /// DHCPv4.
    pub dhcp: bool,
    /// DHCPv6.
    pub dhcp6: bool,
    /// Router discovery.
    pub rd: bool,
    /// Static items (`ip`, `gw`, `dns`, `domain` and their undo forms).
    pub static_: bool,
}

impl Features {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Features::default()
    }
}

/// One static item, to add or to remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaticItem {
    /// `ip=ADDR/LEN`.
    Addr(IpAddr, u8),
    /// `gw=ADDR`: a default route.
    Gateway(IpAddr),
    /// `dns=ADDR`.
    Dns(IpAddr),
    /// `domain=NAME`.
    Domain(String),
}

/// A parsed configuration string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// `stack=`: the stack implementation.
    pub stack: Option<String>,
    /// `vnl=`: one virtual network locator per interface.
    pub vnl: Vec<String>,
    /// `iface=`: the interface to configure (default `vde0`).
    pub iface: Option<String>,
    /// `ifindex=`: the interface to configure, by index (wins over `iface`).
    pub ifindex: Option<u32>,
    /// `mac=` / `macaddr=`.
    pub mac: Option<[u8; 6]>,
    /// `fqdn=`.
    pub fqdn: Option<String>,
    /// What to set up.
    pub enable: Features,
    /// What to undo first.
    pub disable: Features,
    /// `slaac`: autoconfigure IPv6 addresses from router advertisements.
    pub slaac: bool,
    /// Static items to add, in order.
    pub add: Vec<StaticItem>,
    /// Static items to remove (`-ip=` ...), in order.
    pub remove: Vec<StaticItem>,
    /// `debug`.
    pub debug: bool,
}

/// The interface configured when neither `iface=` nor `ifindex=` is given.
pub const DEFAULT_INTERFACE: &str = "vde0";

fn need_value(item: &Item) -> Result<&str, ConfigError> {
    match item.value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ConfigError::new(format!(
            "`{}` needs a value (`{}=...`)",
            item.tag, item.tag
        ))),
    }
}

fn parse_ip(item: &Item) -> Result<IpAddr, ConfigError> {
    let v = need_value(item)?;
    v.parse()
        .map_err(|_| ConfigError::new(format!("`{}={v}`: not an IP address", item.tag)))
}

fn parse_prefixed(item: &Item) -> Result<(IpAddr, u8), ConfigError> {
    let v = need_value(item)?;
    let (addr, len) = match v.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (v, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| {
        ConfigError::new(format!("`{}={v}`: `{addr}` is not an IP address", item.tag))
    })?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => {
            if addr.is_ipv4() {
                24
            } else {
                64
            }
        }
        Some(l) => match l.parse::<u8>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(ConfigError::new(format!(
                    "`{}={v}`: prefix length `{l}` is not in 1..={max}",
                    item.tag
                )));
            }
        },
    };
    Ok((addr, len))
}

fn parse_domain(item: &Item) -> Result<String, ConfigError> {
    let v = need_value(item)?;
    if v.len() > 253 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::new(format!(
            "`{}={v}`: not a domain name",
            item.tag
        )));
    }
    Ok(v.to_string())
}

impl Config {
    /// Parses a configuration string (see the module documentation for the tags).
    pub fn parse(input: &str, mode: Mode) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        for item in tokenize(input)? {
            let flag = |cfg: &mut Config, set: fn(&mut Config)| -> Result<(), ConfigError> {
                if item.value.is_some() {
                    return Err(ConfigError::new(format!("`{}` takes no value", item.tag)));
                }
                set(cfg);
                Ok(())
            };
            match item.tag.as_str() {
                "stack" | "vnl" if mode == Mode::Running => {
                    return Err(ConfigError::new(format!(
                        "`{}` is only valid when creating a stack",
                        item.tag
                    )));
                }
                "stack" => cfg.stack = Some(need_value(&item)?.to_string()),
                "vnl" => cfg.vnl.push(need_value(&item)?.to_string()),
                "iface" => {
                    let v = need_value(&item)?;
                    if v.len() > IFNAME_MAX {
                        return Err(ConfigError::new(format!(
                            "`iface={v}`: name longer than {IFNAME_MAX}"
                        )));
                    }
                    cfg.iface = Some(v.to_string());
                }
                "ifindex" => {
                    let v = need_value(&item)?;
                    cfg.ifindex =
                        Some(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                            ConfigError::new(format!("`ifindex={v}`: not an interface index"))
                        })?);
                }
                "mac" | "macaddr" => {
                    let v = need_value(&item)?;
                    cfg.mac = Some(parse_mac(v).ok_or_else(|| {
                        ConfigError::new(format!("`{}={v}`: not a MAC address", item.tag))
                    })?);
                }
                "fqdn" => cfg.fqdn = Some(parse_domain(&item)?),
                "eth" => flag(&mut cfg, |c| c.enable.eth = true)?,
                "dhcp" | "dhcp4" | "dhcpv4" => flag(&mut cfg, |c| c.enable.dhcp = true)?,
                "dhcp6" | "dhcpv6" => flag(&mut cfg, |c| c.enable.dhcp6 = true)?,
                "rd" | "rd6" => flag(&mut cfg, |c| c.enable.rd = true)?,
                "slaac" => flag(&mut cfg, |c| c.slaac = true)?,
                "auto" => flag(&mut cfg, |c| {
                    c.enable.eth = true;
                    c.enable.dhcp = true;
                    c.enable.dhcp6 = true;
                    c.enable.rd = true;
                })?,
                "auto4" | "autov4" => flag(&mut cfg, |c| {
                    c.enable.eth = true;
                    c.enable.dhcp = true;
                })?,
                "auto6" | "autov6" => flag(&mut cfg, |c| {
                    c.enable.eth = true;
                    c.enable.dhcp6 = true;
                    c.enable.rd = true;
                })?,
                "-static" => flag(&mut cfg, |c| c.disable.static_ = true)?,
                "-eth" => flag(&mut cfg, |c| c.disable.eth = true)?,
                "-dhcp" | "-dhcp4" | "-dhcpv4" => flag(&mut cfg, |c| c.disable.dhcp = true)?,
                "-dhcp6" | "-dhcpv6" => flag(&mut cfg, |c| c.disable.dhcp6 = true)?,
                "-rd" | "-rd6" => flag(&mut cfg, |c| c.disable.rd = true)?,
                "-auto" | "-all" => flag(&mut cfg, |c| {
                    c.disable.eth = true;
                    c.disable.dhcp = true;
                    c.disable.dhcp6 = true;
                    c.disable.rd = true;
                })?,
                "-auto4" | "-autov4" => flag(&mut cfg, |c| {
                    c.disable.eth = true;
                    c.disable.dhcp = true;
                })?,
                "-auto6" | "-autov6" => flag(&mut cfg, |c| {
                    c.disable.eth = true;
                    c.disable.dhcp6 = true;
                    c.disable.rd = true;
                })?,
                "ip" => {
                    let (a, l) = parse_prefixed(&item)?;
                    cfg.add.push(StaticItem::Addr(a, l));
                }
                "-ip" => {
                    let (a, l) = parse_prefixed(&item)?;
                    cfg.remove.push(StaticItem::Addr(a, l));
                }
                "gw" => cfg.add.push(StaticItem::Gateway(parse_ip(&item)?)),
                "-gw" => cfg.remove.push(StaticItem::Gateway(parse_ip(&item)?)),
                "dns" => cfg.add.push(StaticItem::Dns(parse_ip(&item)?)),
                "-dns" => cfg.remove.push(StaticItem::Dns(parse_ip(&item)?)),
                "domain" => cfg.add.push(StaticItem::Domain(parse_domain(&item)?)),
                "-domain" => cfg.remove.push(StaticItem::Domain(parse_domain(&item)?)),
                "debug" => flag(&mut cfg, |c| c.debug = true)?,
                other => return Err(ConfigError::new(format!("unknown tag `{other}`"))),
            }
            if matches!(
                item.tag.as_str(),
                "ip" | "-ip" | "gw" | "-gw" | "dns" | "-dns" | "domain" | "-domain"
            ) {
                cfg.enable.static_ = true;
            }
        }
        Ok(cfg)
    }

    /// Whether applying this configuration does anything to an interface.
    pub fn configures_interface(&self) -> bool {
        !self.enable.is_empty() || !self.disable.is_empty() || self.slaac || self.debug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn full_example() {
        let c = Config::parse(
            "stack=smoltcp,vnl=vxvde://234.0.0.1,eth,ip=10.0.0.1/24,ip=2001:db8::1,ip=10.1.0.1,gw=10.0.0.254,dns=10.0.0.53,domain=example.org,fqdn=h.example.org,mac=02:00:00:00:00:01",
            Mode::Create,
        )
        .unwrap();
        assert_eq!(c.stack.as_deref(), Some("smoltcp"));
        assert_eq!(c.vnl, ["vxvde://234.0.0.1"]);
        assert!(c.enable.eth && c.enable.static_ && !c.enable.dhcp);
        assert_eq!(
            c.add,
            vec![
                StaticItem::Addr(ip("10.0.0.1"), 24),
                StaticItem::Addr(ip("2001:db8::1"), 64),
                StaticItem::Addr(ip("10.1.0.1"), 24),
                StaticItem::Gateway(ip("10.0.0.254")),
                StaticItem::Dns(ip("10.0.0.53")),
                StaticItem::Domain("example.org".into()),
            ]
        );
        assert_eq!(c.mac, Some([2, 0, 0, 0, 0, 1]));
    }

    #[test]
    fn shortcuts_and_undo_forms() {
        let c = Config::parse("auto", Mode::Running).unwrap();
        assert_eq!(
            c.enable,
            Features {
                eth: true,
                dhcp: true,
                dhcp6: true,
                rd: true,
                static_: false
            }
        );
        let c = Config::parse("autov4 slaac", Mode::Running).unwrap();
        assert!(c.enable.eth && c.enable.dhcp && !c.enable.rd && c.slaac);
        let c = Config::parse("auto6", Mode::Running).unwrap();
        assert!(c.enable.eth && c.enable.dhcp6 && c.enable.rd && !c.enable.dhcp);
        let c = Config::parse(
            "-all;-static;-ip=10.0.0.1/24;-gw=10.0.0.254;-dns=::1;-domain=x.org",
            Mode::Running,
        )
        .unwrap();
        assert_eq!(
            c.disable,
            Features {
                eth: true,
                dhcp: true,
                dhcp6: true,
                rd: true,
                static_: true
            }
        );
        assert_eq!(c.remove.len(), 4);
        for (s, f) in [
            (
                "-dhcp4",
                Features {
                    dhcp: true,
                    ..Default::default()
                },
            ),
            (
                "-dhcpv6",
                Features {
                    dhcp6: true,
                    ..Default::default()
                },
            ),
            (
                "-rd6",
                Features {
                    rd: true,
                    ..Default::default()
                },
            ),
            (
                "-eth",
                Features {
                    eth: true,
                    ..Default::default()
                },
            ),
            (
                "-autov6",
                Features {
                    eth: true,
                    dhcp6: true,
                    rd: true,
                    ..Default::default()
                },
            ),
            (
                "-auto4",
                Features {
                    eth: true,
                    dhcp: true,
                    ..Default::default()
                },
            ),
        ] {
            assert_eq!(Config::parse(s, Mode::Running).unwrap().disable, f, "{s}");
        }
    }

    #[test]
    fn errors_name_the_offending_item() {
        let err = |s: &str, mode| Config::parse(s, mode).unwrap_err().to_string();
        assert!(err("eth,bogus", Mode::Running).contains("`bogus`"));
        assert!(err("stack=smoltcp", Mode::Running).contains("`stack`"));
        assert!(err("vnl=vde:///x", Mode::Running).contains("`vnl`"));
        assert!(err("ip=10.0.0.300", Mode::Running).contains("10.0.0.300"));
        assert!(err("ip=10.0.0.1/33", Mode::Running).contains("`33`"));
        assert!(err("ip=10.0.0.1/0", Mode::Running).contains("`0`"));
        assert!(err("ip=2001:db8::1/129", Mode::Running).contains("`129`"));
        assert!(err("ip", Mode::Running).contains("`ip` needs a value"));
        assert!(err("gw=", Mode::Running).contains("`gw` needs a value"));
        assert!(err("mac=02:00:00:00:00", Mode::Running).contains("mac=02:00:00:00:00"));
        assert!(err("ifindex=0", Mode::Running).contains("ifindex=0"));
        assert!(err("ifindex=x", Mode::Running).contains("ifindex=x"));
        assert!(err("eth=1", Mode::Running).contains("`eth` takes no value"));
        assert!(err("dns=nameserver", Mode::Running).contains("dns=nameserver"));
        assert!(err("iface=averyveryverylongname", Mode::Running).contains("iface="));
        assert!(err("ETH", Mode::Running).contains("`ETH`"));
        let e: io::Error = Config::parse("x", Mode::Running).unwrap_err().into();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            Config::parse("x", Mode::Running).unwrap_err().errno(),
            libc::EINVAL
        );
    }

    #[test]
    fn empty_string_configures_nothing() {
        let c = Config::parse("", Mode::Running).unwrap();
        assert!(!c.configures_interface());
        assert_eq!(c, Config::default());
        assert!(
            Config::parse("iface=eth1", Mode::Running)
                .unwrap()
                .iface
                .is_some()
        );
    }
}
