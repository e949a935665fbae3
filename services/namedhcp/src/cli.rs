//! The `namedhcp` command line (the original's options; every long option is also an rc-file
//! key) and how it becomes a [`Config`].

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use ioth::Stack;
use ioth::dns::{Name, Resolver};
use ioth_service::clock::Clock;

use crate::reply::{NameLookup, Server6};
use crate::service::{Config, lookup};

/// DHCPv6 by name: a client sending its FQDN (option 39) gets the address DNS holds for it.
#[derive(Parser, Clone, Debug)]
#[command(name = "namedhcp", version, args_override_self = true)]
pub struct Cli {
    /// Read options from this file: `key value` lines, keys are the long options.
    #[arg(short = 'f', long = "rcfile", value_name = "RCFILE")]
    pub rcfile: Option<PathBuf>,
    /// The stack to serve on: an iothconf string (`stack=kernel`, `stack=smoltcp,vnl=…,eth,…`),
    /// or a VNL alone (`vde:///tmp/hub`), served by a smoltcp stack on it (MAC from -m, else
    /// random). Default: the kernel.
    #[arg(short = 's', long, value_name = "STACK|VNL")]
    pub stack: Option<String>,
    /// The stack DNS queries leave by (an iothconf string). Default: the serving stack (the
    /// kernel when -s is a VNL).
    #[arg(short = 'R', long, value_name = "STACK")]
    pub dnsstack: Option<String>,
    /// The interface to serve (default vde0; a VNL stack always serves vde0).
    #[arg(short = 'i', long, value_name = "IFACE")]
    pub iface: Option<String>,
    /// The DNS servers names are looked up with: addresses, comma-separated.
    #[arg(short = 'n', long, value_name = "LIST", value_parser = parse_servers, conflicts_with = "resolvconf")]
    pub nameserver: Option<Servers>,
    /// A resolv.conf for the lookups. Default (without -n): what the DNS stack learned
    /// (the system's resolv.conf for the kernel).
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resolvconf: Option<PathBuf>,
    /// The MAC the server's DUID is made from (and the VNL stack's MAC).
    #[arg(short = 'm', long, value_name = "MAC", value_parser = parse_mac)]
    pub macaddr: Option<Mac>,
    /// DNS servers offered to clients (option 23): IPv6 addresses or names (resolved once).
    #[arg(short = 'D', long, value_name = "LIST", value_parser = parse_hosts)]
    pub dns: Option<Hosts>,
    /// Search domains offered to clients (option 24).
    #[arg(short = 'S', long, value_name = "LIST", value_parser = parse_domains)]
    pub dnssearch: Option<Domains>,
    /// NTP servers offered to clients (options 56 and 31): IPv6 addresses or names.
    #[arg(short = 'N', long, value_name = "LIST", value_parser = parse_hosts)]
    pub ntp: Option<Hosts>,
    /// Run in the background (daemon), logging to syslog.
    #[arg(short = 'd', long)]
    pub daemon: bool,
    /// Write the process id to this file (removed at exit).
    #[arg(short = 'p', long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Log every message (debug level).
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// DNS server addresses (`-n`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Servers(pub Vec<IpAddr>);

/// IPv6 addresses or names (`-D`, `-N`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hosts(pub Vec<Host>);

/// An address, or a name resolved at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// An IPv6 address.
    Addr(Ipv6Addr),
    /// A name (its AAAA records).
    Name(String),
}

/// Domain names (`-S`), dotted, without the trailing dot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domains(pub Vec<String>);

/// A MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mac(pub [u8; 6]);

/// The items of a list: commas, semicolons or blanks separate them.
pub(crate) fn items(s: &str) -> Result<Vec<&str>, String> {
    let v: Vec<&str> = s
        .split([',', ';', ' ', '\t'])
        .filter(|i| !i.is_empty())
        .collect();
    if v.is_empty() {
        return Err("an empty list".into());
    }
    Ok(v)
}

pub(crate) fn parse_servers(s: &str) -> Result<Servers, String> {
    items(s)?
        .into_iter()
        .map(|i| {
            i.parse::<IpAddr>()
                .map_err(|_| format!("{i:?} is not an IP address"))
        })
        .collect::<Result<_, _>>()
        .map(Servers)
}

pub(crate) fn domain(i: &str) -> Result<String, String> {
    let n = Name::from_ascii(i).map_err(|e| format!("{i:?} is not a domain name: {e}"))?;
    if n.is_root() || i.starts_with('.') || i.contains("..") {
        return Err(format!("{i:?} is not a domain name"));
    }
    Ok(i.trim_end_matches('.').to_string())
}

fn parse_hosts(s: &str) -> Result<Hosts, String> {
    items(s)?
        .into_iter()
        .map(|i| match i.parse::<IpAddr>() {
            Ok(IpAddr::V6(a)) => Ok(Host::Addr(a)),
            Ok(IpAddr::V4(_)) => Err(format!(
                "{i:?}: DHCPv6 offers IPv6 addresses (or a name with AAAA records)"
            )),
            Err(_) => domain(i).map(Host::Name),
        })
        .collect::<Result<_, _>>()
        .map(Hosts)
}

fn parse_domains(s: &str) -> Result<Domains, String> {
    items(s)?
        .into_iter()
        .map(domain)
        .collect::<Result<_, _>>()
        .map(Domains)
}

/// `xx:xx:xx:xx:xx:xx` (or with `-`), hexadecimal.
pub fn parse_mac(s: &str) -> Result<Mac, String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    let mut mac = [0u8; 6];
    if parts.len() != 6 {
        return Err(format!("{s:?} is not a MAC address (six hex bytes)"));
    }
    for (b, p) in mac.iter_mut().zip(&parts) {
        *b = u8::from_str_radix(p, 16)
            .ok()
            .filter(|_| (1..=2).contains(&p.len()))
            .ok_or_else(|| format!("{s:?} is not a MAC address (six hex bytes)"))?;
    }
    Ok(Mac(mac))
}

/// Whether `-s` names a VNL alone (`vde:///tmp/hub`), not an iothconf string.
pub fn is_vnl(stack: &str) -> bool {
    let s = stack.trim();
    s.contains("://") && !s.contains([',', ' ']) && !s.starts_with("vnl=") && !s.contains("stack=")
}

/// A random locally administered unicast MAC (what the original gives a VNL without `-m`).
fn random_mac() -> io::Result<[u8; 6]> {
    use std::io::Read;
    let mut mac = [0u8; 6];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut mac)?;
    mac[0] = (mac[0] & !1) | 2;
    Ok(mac)
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Cli {
    /// The iothconf line the serving stack is made from (`None`: the kernel).
    pub fn stack_line(&self) -> io::Result<Option<String>> {
        Ok(match &self.stack {
            None => None,
            Some(s) if is_vnl(s) => {
                let mac = match self.macaddr {
                    Some(Mac(m)) => m,
                    None => random_mac()?,
                };
                Some(format!(
                    "stack=smoltcp,vnl={},eth,mac={}",
                    s.trim(),
                    mac_text(mac)
                ))
            }
            Some(s) => Some(s.clone()),
        })
    }

    /// Makes the stacks and the resolver, resolves the names of `-D`/`-N`, and returns what
    /// [`crate::spawn`] needs. Errors name the option at fault.
    pub fn config(&self, clock: Arc<dyn Clock>) -> io::Result<Config> {
        let at =
            |opt: &'static str| move |e: io::Error| io::Error::new(e.kind(), format!("{opt}: {e}"));
        let line = self.stack_line()?;
        let stack = ioth_service::stack::build(&line.into_iter().collect::<Vec<_>>())
            .map_err(at("--stack"))?;
        let vnl = self.stack.as_deref().is_some_and(is_vnl);
        let iface = match (&self.iface, vnl) {
            (Some(i), true) if i != "vde0" => {
                log::warn!("--iface {i}: a VNL stack serves vde0");
                "vde0".to_string()
            }
            (Some(i), _) => i.clone(),
            (None, _) => "vde0".to_string(),
        };
        let dns_stack: Stack = match &self.dnsstack {
            Some(s) => {
                ioth_service::stack::build(std::slice::from_ref(s)).map_err(at("--dnsstack"))?
            }
            // As the original: a VNL stack has a link-local address only, so by default
            // names are looked up through the kernel.
            None if vnl => {
                ioth_service::stack::build(&[]).map_err(at("--dnsstack (the kernel)"))?
            }
            None => stack.clone(),
        };
        let resolver = if let Some(Servers(list)) = &self.nameserver {
            let addrs: Vec<SocketAddr> = list.iter().map(|&a| SocketAddr::new(a, 53)).collect();
            Resolver::from_servers(&dns_stack, &addrs)
        } else if let Some(path) = &self.resolvconf {
            let text = std::fs::read_to_string(path).map_err(|e| {
                io::Error::new(e.kind(), format!("--resolvconf {}: {e}", path.display()))
            })?;
            Resolver::from_conf(&dns_stack, &text).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("--resolvconf {}: {e}", path.display()),
                )
            })?
        } else {
            Resolver::for_stack(&dns_stack)
        };
        let resolve = |opt: &str, hosts: &Option<Hosts>| -> io::Result<Vec<Ipv6Addr>> {
            let mut out = Vec::new();
            for h in hosts.iter().flat_map(|h| &h.0) {
                match h {
                    Host::Addr(a) => out.push(*a),
                    Host::Name(n) => match lookup(&resolver, &format!("{n}.")) {
                        NameLookup::Found { addrs, .. } if !addrs.is_empty() => out.extend(addrs),
                        NameLookup::Found { .. } | NameLookup::NotFound => {
                            return Err(io::Error::new(
                                io::ErrorKind::NotFound,
                                format!("{opt}: {n} has no AAAA record"),
                            ));
                        }
                        NameLookup::Failed(why) => {
                            return Err(io::Error::other(format!("{opt}: resolving {n}: {why}")));
                        }
                    },
                }
            }
            Ok(out)
        };
        let server = Server6 {
            duid: Vec::new(),
            dns: resolve("--dns", &self.dns)?,
            search: self.dnssearch.clone().map(|d| d.0).unwrap_or_default(),
            ntp: resolve("--ntp", &self.ntp)?,
        };
        Ok(Config {
            stack,
            iface,
            resolver,
            server,
            mac: self.macaddr.map(|m| m.0),
            clock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::ffi::OsString;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        let mut v = vec!["namedhcp"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).map_err(|e| e.to_string())
    }

    #[test]
    fn the_originals_options_parse() {
        let c = parse(&[
            "-s",
            "vde:///tmp/hub",
            "-R",
            "stack=kernel",
            "-i",
            "vde0",
            "-n",
            "fc00::24,10.0.0.53",
            "-m",
            "80:01:01:01:01:01",
            "-D",
            "fc00::24 dns.example.test",
            "-S",
            "example.test,other.test.",
            "-N",
            "ntp.example.test",
            "-d",
            "-p",
            "/run/namedhcp.pid",
            "-v",
        ])
        .unwrap();
        assert_eq!(c.macaddr, Some(Mac([0x80, 1, 1, 1, 1, 1])));
        assert_eq!(
            c.dns,
            Some(Hosts(vec![
                Host::Addr("fc00::24".parse().unwrap()),
                Host::Name("dns.example.test".into())
            ]))
        );
        assert_eq!(
            c.dnssearch,
            Some(Domains(vec!["example.test".into(), "other.test".into()]))
        );
        assert_eq!(c.nameserver.unwrap().0.len(), 2);
        assert!(c.daemon && c.verbose);
        assert!(is_vnl(c.stack.as_deref().unwrap()));
    }

    #[test]
    fn bad_values_name_the_option() {
        for (args, want) in [
            (&["-m", "80:01:01"][..], "--macaddr"),
            (&["-n", "dns.example.test"], "--nameserver"),
            (&["-D", "10.0.0.1"], "--dns"),
            (&["-S", "a..b"], "--dnssearch"),
            (&["-N", ","], "--ntp"),
            (&["-n", "::1", "-r", "/etc/resolv.conf"], "--resolvconf"),
            (&["--bogus"], "--bogus"),
        ] {
            let e = parse(args).expect_err(want);
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }

    #[test]
    fn vnl_or_iothconf_string() {
        assert!(is_vnl("vde:///tmp/hub"));
        assert!(is_vnl("hub://@lan"));
        assert!(!is_vnl("stack=smoltcp,vnl=vde:///tmp/hub,eth"));
        assert!(!is_vnl("stack=kernel"));
        let c = parse(&["-s", "hub://@x", "-m", "02:00:00:00:00:07"]).unwrap();
        assert_eq!(
            c.stack_line().unwrap().unwrap(),
            "stack=smoltcp,vnl=hub://@x,eth,mac=02:00:00:00:00:07"
        );
        let c = parse(&["-s", "hub://@x"]).unwrap();
        let line = c.stack_line().unwrap().unwrap();
        let mac = parse_mac(line.rsplit("mac=").next().unwrap()).unwrap().0;
        assert_eq!(mac[0] & 3, 2, "locally administered unicast: {line}");
    }

    #[test]
    fn rc_file_keys_are_the_long_options_and_the_command_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join("namedhcp.rc");
        std::fs::write(
            &rc,
            "# namedhcp\nstack  vde:///tmp/hub\nnameserver fc00::24\ndns fc00::24\nverbose\niface vde1\n",
        )
        .unwrap();
        let argv: Vec<OsString> = ["namedhcp", "-f", rc.to_str().unwrap(), "-i", "vde0"]
            .iter()
            .map(OsString::from)
            .collect();
        let merged = ioth_service::rcfile::merged_args(&Cli::command(), &rc, argv).unwrap();
        let c = Cli::try_parse_from(merged).unwrap();
        assert_eq!(c.iface.as_deref(), Some("vde0"));
        assert!(c.verbose);
        assert_eq!(c.stack.as_deref(), Some("vde:///tmp/hub"));
        std::fs::write(&rc, "dns fc00::24\nmacaddr 1:2:3\n").unwrap();
        let e = ioth_service::rcfile::merged_args(
            &Cli::command(),
            &rc,
            vec![OsString::from("namedhcp")],
        )
        .expect_err("bad MAC");
        assert!(e.contains("namedhcp.rc:2: macaddr"), "{e}");
    }
}
