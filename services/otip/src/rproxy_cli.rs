//! `otip_rproxy`'s command line and rc file, and the [`ProxyConfig`] they stand for.
//!
//! Every long option is also an rc-file key (`-f FILE`, read by
//! `ioth_service::rcfile::merged_args`): the command line wins for single values, and `tcp`
//! / `udp` lines add to the command line's forwardings. Unlike the original,
//! `--otip_preactive` sets the pre-activation slack and `--otip_postactive` the
//! post-activation one (the original swapped them), the long-only options work on the
//! command line too, and every bad value is an error naming its option (or FILE:LINE).

use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use ioth::Stack;

use crate::lookup::{lookup_aaaa, lookup_host, resolver};
use crate::proxy::{Forward, ProxyConfig};
use crate::spec::{ExtStack, ForwardSpec};
use crate::timing::Timing;

/// A reverse proxy whose public address is a One-Time IP: it changes every period, and only
/// clients that know the name and password can compute it.
///
/// Each period a fresh external stack gets the address hashaddr(base, name, password, slot)
/// and takes new TCP connections and UDP flows on the forwarded ports from
/// slot·period − preactive to (slot+1)·period + postactive; each goes to its internal server
/// over the internal stack. Open connections and flows live on until idle.
#[derive(Parser, Clone, Debug, PartialEq, Eq)]
#[command(name = "otip_rproxy", version, args_override_self = true)]
pub struct RproxyCli {
    /// Read options from this rc file: `key value` lines whose keys are the long options
    /// below (`#` comments); the command line wins.
    #[arg(short = 'f', long = "rcfile", value_name = "RCFILE")]
    pub rcfile: Option<PathBuf>,
    /// Run in the background, logging to syslog.
    #[arg(short = 'd', long = "daemon")]
    pub daemon: bool,
    /// Write the process id to this file (created exclusively, removed at exit).
    #[arg(short = 'p', long = "pidfile", value_name = "PIDFILE")]
    pub pidfile: Option<PathBuf>,
    /// Log every address change and connection (debug level).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// The external (public) side, iothconf syntax limited to stack=, vnl= and iface=
    /// (default vde0), e.g. stack=smoltcp,vnl=vde:///tmp/hub. Required.
    #[arg(short = 'e', long = "extstack", value_name = "CONF")]
    pub extstack: Option<ExtStack>,
    /// The internal stack, an iothconf string (ioth_newstackc). Default: the kernel.
    #[arg(short = 'i', long = "intstack", value_name = "CONF")]
    pub intstack: Option<String>,
    /// The fully qualified name of the OTIP server (hashed as given). Required.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name: Option<String>,
    /// The base address: an IPv6 literal or a name resolved (AAAA) over the internal stack.
    /// Required.
    #[arg(
        short = 'b',
        long = "base",
        visible_alias = "baseaddr",
        value_name = "BASE"
    )]
    pub base: Option<String>,
    /// The shared secret hashed into every address.
    #[arg(short = 'P', long = "passwd", value_name = "PASSWORD")]
    pub passwd: Option<String>,
    /// DNS servers for names (base, internal hosts): a comma list of addresses or
    /// resolv.conf text. Default: the internal stack's own.
    #[arg(short = 'D', long = "dns", value_name = "DNS")]
    pub dns: Option<String>,
    /// A UDP forwarding (repeatable): datagrams to EXTPORT of the OTIP address go to
    /// INTHOST:INTPORT over the internal stack.
    #[arg(short = 'u', long = "udp", value_name = "EXTPORT,INTHOST,INTPORT")]
    pub udp: Vec<ForwardSpec>,
    /// A TCP forwarding (repeatable): connections to EXTPORT of the OTIP address go to
    /// INTHOST:INTPORT over the internal stack.
    #[arg(short = 't', long = "tcp", value_name = "EXTPORT,INTHOST,INTPORT")]
    pub tcp: Vec<ForwardSpec>,
    /// The OTIP period in seconds (clients must use the same).
    #[arg(long = "otip_period", value_name = "SECONDS", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub otip_period: u32,
    /// Seconds each address opens before its slot begins (for clients whose clock is
    /// ahead).
    #[arg(long = "otip_preactive", value_name = "SECONDS", default_value_t = 8)]
    pub otip_preactive: u32,
    /// Seconds each address keeps taking sessions after its slot ends (for clients whose
    /// clock is behind).
    #[arg(long = "otip_postactive", value_name = "SECONDS", default_value_t = 8)]
    pub otip_postactive: u32,
    /// The listen(2) backlog of every TCP port.
    #[arg(long = "tcp_listen_backlog", value_name = "BACKLOG", default_value_t = 5,
          value_parser = clap::value_parser!(i32).range(1..=65535))]
    pub tcp_listen_backlog: i32,
    /// Seconds without data after which a relayed TCP connection is closed.
    #[arg(long = "tcp_timeout", value_name = "SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub tcp_timeout: u64,
    /// Seconds without datagrams after which a UDP flow is forgotten.
    #[arg(long = "udp_timeout", value_name = "SECONDS", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub udp_timeout: u64,
    /// Relayed TCP connections at most (not in the original); past it new ones are closed.
    #[arg(long = "tcp_max_connections", value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub tcp_max_connections: u64,
    /// UDP flows at most (not in the original); past it new flows are dropped.
    #[arg(long = "udp_max_flows", value_name = "N", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub udp_max_flows: u64,
}

impl RproxyCli {
    /// Checks what can be checked before any stack exists (so before daemonizing): the
    /// required options are there and a literal base address reads.
    pub fn check(&self) -> Result<(), String> {
        if self.extstack.is_none() {
            return Err(
                "--extstack is required (the external side, e.g. stack=smoltcp,vnl=vde:///tmp/hub)"
                    .into(),
            );
        }
        if self.name.is_none() {
            return Err("--name is required (the fully qualified name of the server)".into());
        }
        match &self.base {
            None => return Err("--base is required (an IPv6 address or a name)".into()),
            Some(b) if b.contains(':') && b.parse::<Ipv6Addr>().is_err() => {
                return Err(format!("--base {b:?}: not an IPv6 address"));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// The timing the options give.
    pub fn timing(&self) -> Result<Timing, String> {
        Timing::new(self.otip_period, self.otip_preactive, self.otip_postactive)
            .map_err(|e| format!("--otip_period: {e}"))
    }

    /// The proxy configuration, resolving the base and the internal hosts over `internal`
    /// (with `--dns` when given).
    pub fn config(&self, internal: Stack) -> Result<ProxyConfig, String> {
        self.check()?;
        let (Some(ext), Some(name), Some(base)) = (&self.extstack, &self.name, &self.base) else {
            return Err("--extstack, --name and --base are required".into());
        };
        let r = resolver(&internal, self.dns.as_deref())?;
        let base_addr = lookup_aaaa(&r, base).map_err(|e| format!("--base {base}: {e}"))?;
        let forwards = |specs: &[ForwardSpec], opt: &str| -> Result<Vec<Forward>, String> {
            specs
                .iter()
                .map(|s| {
                    let ip = lookup_host(&r, &s.int_host)
                        .map_err(|e| format!("--{opt} {s}: {}: {e}", s.int_host))?;
                    Ok(Forward {
                        ext_port: s.ext_port,
                        target: (ip, s.int_port).into(),
                    })
                })
                .collect()
        };
        let tcp = forwards(&self.tcp, "tcp")?;
        let udp = forwards(&self.udp, "udp")?;
        let mut cfg = ProxyConfig::new(ext.clone(), internal, name, base_addr);
        cfg.password = self.passwd.clone();
        cfg.tcp = tcp;
        cfg.udp = udp;
        cfg.timing = self.timing()?;
        cfg.tcp_listen_backlog = self.tcp_listen_backlog;
        cfg.tcp_timeout = Duration::from_secs(self.tcp_timeout);
        cfg.udp_timeout = Duration::from_secs(self.udp_timeout);
        cfg.max_tcp_connections = usize::try_from(self.tcp_max_connections).unwrap_or(usize::MAX);
        cfg.max_udp_flows = usize::try_from(self.udp_max_flows).unwrap_or(usize::MAX);
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};
    use ioth_service::rcfile::merge_entries;
    use ioth_service::rcfile::parse;
    use std::ffi::OsString;

    fn parse_with_rc(rc: &str, argv: &[&str]) -> Result<RproxyCli, String> {
        let cmd = RproxyCli::command();
        let entries = parse(rc, "test.rc")?;
        let argv: Vec<OsString> = std::iter::once("otip_rproxy")
            .chain(argv.iter().copied())
            .map(OsString::from)
            .collect();
        let merged = merge_entries(&cmd, &entries, "test.rc", argv)?;
        let m = cmd
            .try_get_matches_from(merged)
            .map_err(|e| e.to_string())?;
        RproxyCli::from_arg_matches(&m).map_err(|e| e.to_string())
    }

    /// The original's example rc file, with our stack name.
    const EXAMPLE: &str = "\
# external stack. supported tags: stack, vnl, iface
extstack stack=smoltcp,vnl=vde:///tmp/hub
intstack stack=kernel
dns 80.80.80.80
name renzo.otip
baseaddr fc01::
passwd mypassword
udp\t4242,::1,8484
tcp\t4242,::1,8484
tcp\t22,::1,22
otip_period 32
otip_preactive 8
otip_postactive 8
tcp_listen_backlog 5
tcp_timeout 120
udp_timeout 8
";

    #[test]
    fn the_cli_is_consistent() {
        RproxyCli::command().debug_assert();
    }

    #[test]
    fn the_originals_rc_file_reads() {
        let cli = parse_with_rc(EXAMPLE, &[]).unwrap();
        assert_eq!(cli.extstack.as_ref().unwrap().vnl, "vde:///tmp/hub");
        assert_eq!(cli.name.as_deref(), Some("renzo.otip"));
        assert_eq!(cli.base.as_deref(), Some("fc01::"));
        assert_eq!(cli.tcp.len(), 2);
        assert_eq!(cli.udp.len(), 1);
        assert_eq!(cli.tcp[1].ext_port, 22);
        assert_eq!(cli.timing().unwrap(), Timing::default());
        cli.check().unwrap();
    }

    #[test]
    fn the_command_line_wins_and_forwardings_accumulate() {
        let cli = parse_with_rc(
            EXAMPLE,
            &[
                "-n",
                "other.otip",
                "--otip_preactive",
                "3",
                "--otip_postactive",
                "11",
                "-t",
                "80,127.0.0.1,8080",
            ],
        )
        .unwrap();
        assert_eq!(cli.name.as_deref(), Some("other.otip"));
        let t = cli.timing().unwrap();
        // Not swapped: preactive opens the address early, postactive keeps it late.
        assert_eq!((t.preactive(), t.postactive()), (3, 11));
        assert_eq!(t.window(10).start, 320 - 3);
        assert_eq!(t.window(10).end, 352 + 11);
        let ports: Vec<u16> = cli.tcp.iter().map(|f| f.ext_port).collect();
        assert_eq!(ports, vec![4242, 22, 80]);
    }

    #[test]
    fn bad_values_name_their_option_or_line() {
        let e = parse_with_rc("tcp 4242,::1\n", &[]).unwrap_err();
        assert!(e.starts_with("test.rc:1: tcp:"), "{e}");
        let e = parse_with_rc("name x\nnosuch 1\n", &[]).unwrap_err();
        assert!(e.starts_with("test.rc:2: nosuch: unknown option"), "{e}");
        let e = parse_with_rc("otip_period 0\n", &[]).unwrap_err();
        assert!(e.starts_with("test.rc:1: otip_period:"), "{e}");
        let e = parse_with_rc("", &["--extstack", "stack=smoltcp"]).unwrap_err();
        assert!(e.contains("--extstack") && e.contains("vnl"), "{e}");
        let e = parse_with_rc("", &["--udp_timeout", "x"]).unwrap_err();
        assert!(e.contains("--udp_timeout"), "{e}");
        let e = parse_with_rc("rcfile other.rc\n", &[]).unwrap_err();
        assert!(e.starts_with("test.rc:1:"), "{e}");
    }

    #[test]
    fn required_options_are_checked() {
        let cli = parse_with_rc("", &[]).unwrap();
        assert!(cli.check().unwrap_err().contains("--extstack"));
        let cli = parse_with_rc("extstack stack=smoltcp,vnl=x\n", &[]).unwrap();
        assert!(cli.check().unwrap_err().contains("--name"));
        let cli = parse_with_rc("extstack stack=smoltcp,vnl=x\nname a.b\n", &[]).unwrap();
        assert!(cli.check().unwrap_err().contains("--base"));
        let cli = parse_with_rc(
            "extstack stack=smoltcp,vnl=x\nname a.b\nbase fc00::x\n",
            &[],
        )
        .unwrap();
        assert!(cli.check().unwrap_err().contains("not an IPv6 address"));
    }
}
