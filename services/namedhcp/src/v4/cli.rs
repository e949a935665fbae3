//! The `namedhcp4` command line: namedhcp's options, for IPv4.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;
use ioth::Stack;
use ioth::dns::Resolver;

use super::reply::Server4;
use super::service::{Config4, lookup4};
use super::txt::TxtOptions;
use crate::cli::{Servers, domain, is_vnl, items, parse_servers};
use crate::v4::reply::NameLookup4;

/// DHCPv4 by name: a client sending its FQDN (option 81) gets the A record DNS holds for it,
/// and the options of its TXT record (mask=,router=,broadcast=,dns=,domname=,ntp=).
#[derive(Parser, Clone, Debug)]
#[command(name = "namedhcp4", version, args_override_self = true)]
pub struct Cli4 {
    /// Read options from this file: `key value` lines, keys are the long options.
    #[arg(short = 'f', long = "rcfile", value_name = "RCFILE")]
    pub rcfile: Option<PathBuf>,
    /// The stack to serve on: an iothconf string with an IPv4 address on the interface
    /// (the server identifier), e.g. `stack=smoltcp,vnl=vde:///tmp/sw,eth,ip=192.168.1.25/24`.
    /// Default: the kernel.
    #[arg(short = 's', long, value_name = "STACK")]
    pub stack: Option<String>,
    /// The stack DNS queries leave by (an iothconf string). Default: the serving stack.
    #[arg(short = 'R', long, value_name = "STACK")]
    pub dnsstack: Option<String>,
    /// The interface to serve (default vde0).
    #[arg(short = 'i', long, value_name = "IFACE")]
    pub iface: Option<String>,
    /// The DNS servers names are looked up with: addresses, comma-separated.
    #[arg(short = 'n', long, value_name = "LIST", value_parser = parse_servers, conflicts_with = "resolvconf")]
    pub nameserver: Option<Servers>,
    /// A resolv.conf for the lookups. Default (without -n): what the DNS stack learned.
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resolvconf: Option<PathBuf>,
    /// Accepted for the original's command lines; DHCPv4 needs no server MAC here.
    #[arg(short = 'm', long, value_name = "MAC", value_parser = crate::cli::parse_mac)]
    pub macaddr: Option<crate::cli::Mac>,
    /// DNS servers offered (option 6) when a name's TXT record gives none: IPv4 addresses or
    /// names (resolved once).
    #[arg(short = 'D', long, value_name = "LIST", value_parser = parse_hosts4)]
    pub dns: Option<Hosts4>,
    /// The domain name offered (option 15) when a name's TXT record gives none.
    #[arg(short = 'S', long, value_name = "DOMAIN", value_parser = domain)]
    pub dnssearch: Option<String>,
    /// NTP servers offered (option 42) when a name's TXT record gives none.
    #[arg(short = 'N', long, value_name = "LIST", value_parser = parse_hosts4)]
    pub ntp: Option<Hosts4>,
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

/// IPv4 addresses or names (`-D`, `-N`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hosts4(pub Vec<Result<Ipv4Addr, String>>);

fn parse_hosts4(s: &str) -> Result<Hosts4, String> {
    items(s)?
        .into_iter()
        .map(|i| match i.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => Ok(Ok(a)),
            Ok(IpAddr::V6(_)) => Err(format!("{i:?}: DHCPv4 offers IPv4 addresses")),
            Err(_) => domain(i).map(Err),
        })
        .collect::<Result<_, _>>()
        .map(Hosts4)
}

impl Cli4 {
    /// Makes the stacks and the resolver, resolves `-D`/`-N` names; errors name the option.
    pub fn config(&self) -> io::Result<Config4> {
        let at =
            |opt: &'static str| move |e: io::Error| io::Error::new(e.kind(), format!("{opt}: {e}"));
        if self.stack.as_deref().is_some_and(is_vnl) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "--stack: namedhcp4 needs an IPv4 address to identify itself: give an iothconf \
                 string (stack=smoltcp,vnl=…,eth,ip=ADDR/LEN), not a VNL alone",
            ));
        }
        let stack = ioth_service::stack::build(&self.stack.iter().cloned().collect::<Vec<_>>())
            .map_err(at("--stack"))?;
        let dns_stack: Stack = match &self.dnsstack {
            Some(s) => {
                ioth_service::stack::build(std::slice::from_ref(s)).map_err(at("--dnsstack"))?
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
        let resolve = |opt: &str, hosts: &Option<Hosts4>| -> io::Result<Vec<Ipv4Addr>> {
            let mut out = Vec::new();
            for h in hosts.iter().flat_map(|h| &h.0) {
                match h {
                    Ok(a) => out.push(*a),
                    Err(n) => match lookup4(&resolver, &format!("{n}.")) {
                        NameLookup4::Found { addr, .. } => out.push(addr),
                        NameLookup4::NotFound => {
                            return Err(io::Error::new(
                                io::ErrorKind::NotFound,
                                format!("{opt}: {n} has no A record"),
                            ));
                        }
                        NameLookup4::Failed(why) => {
                            return Err(io::Error::other(format!("{opt}: resolving {n}: {why}")));
                        }
                    },
                }
            }
            Ok(out)
        };
        let defaults = TxtOptions {
            dns: resolve("--dns", &self.dns)?,
            ntp: resolve("--ntp", &self.ntp)?,
            domain: self.dnssearch.clone(),
            ..TxtOptions::default()
        };
        Ok(Config4 {
            stack,
            iface: self.iface.clone().unwrap_or_else(|| "vde0".into()),
            resolver,
            server: Server4 {
                id: Ipv4Addr::UNSPECIFIED,
                defaults,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli4, String> {
        let mut v = vec!["namedhcp4"];
        v.extend_from_slice(args);
        Cli4::try_parse_from(v).map_err(|e| e.to_string())
    }

    #[test]
    fn options_parse_and_bad_ones_are_named() {
        let c = parse(&[
            "-s",
            "stack=kernel",
            "-n",
            "192.168.1.24",
            "-D",
            "192.168.1.24,ns.test",
            "-S",
            "test.local",
        ])
        .unwrap();
        assert_eq!(
            c.dns.unwrap().0,
            [Ok(Ipv4Addr::new(192, 168, 1, 24)), Err("ns.test".into())]
        );
        let e = parse(&["-D", "fc00::1"]).unwrap_err();
        assert!(e.contains("--dns"), "{e}");
        let e = parse(&["-S", "a..b"]).unwrap_err();
        assert!(e.contains("--dnssearch"), "{e}");
        let e = Cli4 {
            stack: Some("vde:///tmp/sw".into()),
            ..parse(&[]).unwrap()
        }
        .config()
        .unwrap_err()
        .to_string();
        assert!(e.contains("--stack"), "{e}");
    }
}
