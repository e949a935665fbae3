//! The options of a smoltcp stack: the `options` of `Backend::new_stack`, i.e. what follows
//! the name in `Stack::new("smoltcp,tcp=ioth,tcp_min_rto=50", ..)` (in an iothconf string,
//! quoted: `stack="smoltcp,tcp=ioth"`).
//!
//! Comma-separated `key=value` items (empty items are ignored):
//! - `tcp=ioth` (the default) or `tcp=smoltcp`: whose TCP the stack runs, our own engine
//!   (`ioth_tcp`, see `tcp_ioth`) or smoltcp's sockets;
//! - `announce=0` (the default, as Linux's `arp_notify`/`ndisc_notify`) or `announce=1`:
//!   whether the stack sends a gratuitous ARP or
//!   unsolicited neighbour advertisement for an address added, an interface brought up or a
//!   MAC changed (Linux's `arp_notify`/`ndisc_notify`; see `announce`);
//! - `name=NAME`: the stack's name (`ioth::Stack::name`), and its interfaces' default MACs:
//!   the first interface's is `hashmac(NAME)` (the MAC iothconf's `fqdn=NAME` gives), the
//!   others' `hashmac(NAME, IFNAME)`, so a named node keeps its MACs from run to run and a
//!   peer's neighbour cache stays right (without `name=` each run draws random MACs);
//! - `tcp_syn_retries=N` (1..=127, Linux's range, default 6), with either engine: SYNs
//!   retransmitted before a connect gives up with `ETIMEDOUT` (with smoltcp's TCP, after
//!   the time Linux's backoff takes for them: [`syn_timeout`], 127 s for 6);
//! - for `tcp=ioth` only, the engine's settings, named as Linux's: `tcp_min_rto=MS`
//!   (1..=60000, default 200), `tcp_max_rto=MS` (1000..=120000, default 120000; at least
//!   the minimum), `tcp_cc=cubic|reno` (Linux's `tcp_congestion_control`, default cubic).
//!
//! Unknown keys, malformed or out-of-range values, a key given twice and engine settings
//! without `tcp=ioth` are `EINVAL` errors that name the item.

use std::io;
use std::time::Duration;

/// Whose TCP a stack runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum TcpImpl {
    /// smoltcp's TCP sockets (see `sockets`).
    Smoltcp,
    /// Our engine, `ioth_tcp` (see `tcp_ioth`).
    #[default]
    Ioth,
}

/// A stack's options, parsed.
#[derive(Clone, Debug, Default)]
pub(crate) struct StackOptions {
    /// `tcp=`.
    pub tcp: TcpImpl,
    /// The engine's settings (`Config.secret` is filled when the stack is made).
    pub engine: ioth_tcp::Config,
    /// `announce=`: announcements on (true) or off (false, the default).
    pub announce: bool,
    /// `name=`: the stack's name, the seed of its default MACs.
    pub name: Option<String>,
}

impl StackOptions {
    /// The default MAC of interface number `i` (0 for the first VNL) named `ifname`: derived
    /// from `name=` when given (see the module documentation), else `None` (random).
    pub(crate) fn default_mac(&self, i: usize, ifname: &str) -> Option<[u8; 6]> {
        let name = self.name.as_deref()?;
        Some(if i == 0 {
            nlconf::hashaddr::hashmac(name, None)
        } else {
            nlconf::hashaddr::hashmac(name, Some(ifname))
        })
    }
}

/// How long Linux's connect waits for an answer to its SYN and `retries` retransmissions:
/// the first RTO is 1 s, doubling up to `TCP_RTO_MAX` (120 s), so 6 retries take 127 s.
pub(crate) fn syn_timeout(retries: u32) -> Duration {
    let secs: u64 = (0..=retries.min(127))
        .map(|i| 1u64.checked_shl(i).unwrap_or(u64::MAX).min(120))
        .sum();
    Duration::from_secs(secs)
}

fn bad(msg: String) -> io::Error {
    ioth::errno_with(libc::EINVAL, format!("smoltcp stack: {msg}"))
}

/// `value` as an integer in `lo..=hi`, else an error naming `key`.
fn number(key: &str, value: &str, lo: u64, hi: u64) -> io::Result<u64> {
    value
        .parse::<u64>()
        .ok()
        .filter(|v| (lo..=hi).contains(v))
        .ok_or_else(|| {
            bad(format!(
                "option {key}={value:?}: not an integer in {lo}..={hi}"
            ))
        })
}

impl StackOptions {
    /// Parses `options` (see the module documentation).
    pub(crate) fn parse(options: &str) -> io::Result<StackOptions> {
        let mut out = StackOptions::default();
        let mut seen: Vec<&str> = Vec::new();
        let mut engine_keys: Vec<&str> = Vec::new();
        for item in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(bad(format!(
                    "option {item:?} has no value (options are key=value)"
                )));
            };
            let (key, value) = (key.trim(), value.trim());
            if seen.contains(&key) {
                return Err(bad(format!("option {key} given twice")));
            }
            let c = &mut out.engine;
            match key {
                "tcp" => {
                    out.tcp = match value {
                        "smoltcp" => TcpImpl::Smoltcp,
                        "ioth" => TcpImpl::Ioth,
                        _ => {
                            return Err(bad(format!(
                                "option tcp={value:?}: not one of smoltcp, ioth"
                            )));
                        }
                    }
                }
                "announce" => {
                    out.announce = match value {
                        "1" => true,
                        "0" => false,
                        _ => return Err(bad(format!("option announce={value:?}: not 0 or 1"))),
                    }
                }
                "name" => {
                    if value.is_empty() {
                        return Err(bad("option name= is empty".to_owned()));
                    }
                    out.name = Some(value.to_owned());
                }
                "tcp_min_rto" => {
                    c.min_rto = Duration::from_millis(number(key, value, 1, 60_000)?);
                    engine_keys.push(key);
                }
                "tcp_max_rto" => {
                    c.max_rto = Duration::from_millis(number(key, value, 1000, 120_000)?);
                    engine_keys.push(key);
                }
                "tcp_cc" => {
                    c.congestion = match value {
                        "cubic" => ioth_tcp::cc::Algorithm::Cubic,
                        "reno" => ioth_tcp::cc::Algorithm::Reno,
                        _ => {
                            return Err(bad(format!(
                                "option tcp_cc={value:?}: not one of cubic, reno"
                            )));
                        }
                    };
                    engine_keys.push(key);
                }
                "tcp_syn_retries" => {
                    c.syn_retries = u32::try_from(number(key, value, 1, 127)?).unwrap_or(6);
                }
                _ => return Err(bad(format!("unknown option {item:?}"))),
            }
            seen.push(key);
        }
        if out.tcp != TcpImpl::Ioth
            && let Some(key) = engine_keys.first()
        {
            return Err(bad(format!("option {key} applies to tcp=ioth only")));
        }
        if out.engine.min_rto > out.engine.max_rto {
            return Err(bad(format!(
                "option tcp_min_rto ({} ms) above tcp_max_rto ({} ms)",
                out.engine.min_rto.as_millis(),
                out.engine.max_rto.as_millis()
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(options: &str) -> String {
        let e = StackOptions::parse(options).expect_err(options);
        assert_eq!(ioth::errno_of(&e), libc::EINVAL, "{options}: {e}");
        e.to_string()
    }

    #[test]
    fn a_name_gives_stable_distinct_macs() {
        let p = StackOptions::parse("name=node1.example").expect("name");
        assert_eq!(p.name.as_deref(), Some("node1.example"));
        let first = p.default_mac(0, "vde0").expect("mac");
        assert_eq!(first, nlconf::hashaddr::hashmac("node1.example", None));
        assert_eq!(p.default_mac(0, "vde0"), Some(first));
        let second = p.default_mac(1, "vde1").expect("mac");
        assert_ne!(first, second);
        let other = StackOptions::parse("name=node2.example").expect("name");
        assert_ne!(other.default_mac(0, "vde0"), Some(first));
        assert_eq!(
            StackOptions::parse("")
                .expect("empty")
                .default_mac(0, "vde0"),
            None
        );
        assert!(refused("name=").contains("empty"));
    }

    #[test]
    fn the_default_is_our_engine() {
        for o in ["", " ", ",", "tcp=ioth", " tcp = ioth ,"] {
            let p = StackOptions::parse(o).expect(o);
            assert_eq!(p.tcp, TcpImpl::Ioth, "{o:?}");
        }
        for o in ["tcp=smoltcp", " tcp = smoltcp ,"] {
            let p = StackOptions::parse(o).expect(o);
            assert_eq!(p.tcp, TcpImpl::Smoltcp, "{o:?}");
        }
    }

    #[test]
    fn engine_settings_are_read() {
        let p = StackOptions::parse(
            "tcp=ioth,tcp_min_rto=50,tcp_max_rto=3000,tcp_cc=reno,tcp_syn_retries=2",
        )
        .expect("valid options");
        assert_eq!(p.tcp, TcpImpl::Ioth);
        assert_eq!(p.engine.min_rto, Duration::from_millis(50));
        assert_eq!(p.engine.max_rto, Duration::from_millis(3000));
        assert_eq!(p.engine.congestion, ioth_tcp::cc::Algorithm::Reno);
        assert_eq!(p.engine.syn_retries, 2);
        let d = StackOptions::parse("tcp=ioth").expect("defaults");
        let linux = ioth_tcp::Config::default();
        assert_eq!(d.engine.min_rto, linux.min_rto);
        assert_eq!(d.engine.syn_retries, linux.syn_retries);
    }

    #[test]
    fn bad_options_are_refused_naming_them() {
        assert!(refused("tcp=lwip").contains("tcp=\"lwip\""));
        assert!(refused("tcp").contains("\"tcp\""));
        assert!(refused("frobnicate=1").contains("frobnicate"));
        assert!(refused("tcp=ioth,tcp_min_rto=0").contains("tcp_min_rto"));
        assert!(refused("tcp=ioth,tcp_min_rto=fast").contains("tcp_min_rto"));
        assert!(refused("tcp=ioth,tcp_max_rto=500").contains("tcp_max_rto"));
        assert!(refused("tcp=ioth,tcp_cc=bbr").contains("tcp_cc"));
        assert!(refused("tcp=ioth,tcp_syn_retries=128").contains("tcp_syn_retries"));
        assert!(refused("tcp=ioth,tcp_syn_retries=-1").contains("tcp_syn_retries"));
        assert!(refused("tcp=ioth,tcp=smoltcp").contains("twice"));
        assert!(refused("tcp=smoltcp,tcp_cc=reno").contains("tcp=ioth only"));
        assert!(refused("tcp=smoltcp,tcp_min_rto=10").contains("tcp=ioth only"));
        assert!(refused("announce=yes").contains("announce"));
        assert!(StackOptions::parse("announce=1").expect("on").announce);
        assert!(!StackOptions::parse("").expect("default").announce);
        let p = StackOptions::parse("tcp=smoltcp,tcp_syn_retries=2").expect("either engine's");
        assert_eq!(p.engine.syn_retries, 2);
        assert!(
            StackOptions::parse("tcp_cc=reno").is_ok(),
            "the default engine's"
        );
        assert!(refused("tcp=ioth,tcp_min_rto=5000,tcp_max_rto=1000").contains("tcp_max_rto"));
    }

    #[test]
    fn the_syn_timeout_is_linux_backoff() {
        assert_eq!(syn_timeout(6), Duration::from_secs(127));
        assert_eq!(syn_timeout(1), Duration::from_secs(3));
        // 1 + 2 + ... + 64 = 127, then 120 s a retry.
        assert_eq!(syn_timeout(8), Duration::from_secs(127 + 240));
        assert_eq!(syn_timeout(127), Duration::from_secs(127 + 120 * 121));
    }

    #[test]
    fn stacks_take_and_refuse_the_option() {
        let s = ioth::Stack::new("smoltcp,tcp=ioth,tcp_cc=reno", &[]).expect("tcp=ioth stack");
        assert_eq!(s.options(), "tcp=ioth,tcp_cc=reno");
        ioth::Stack::new("smoltcp,tcp=smoltcp", &[]).expect("tcp=smoltcp stack");
        let e = ioth::Stack::new("smoltcp,tcp=bogus", &[]).expect_err("bad tcp=");
        assert_eq!(ioth::errno_of(&e), libc::EINVAL);
        assert!(e.to_string().contains("tcp=\"bogus\""), "{e}");
    }
}
