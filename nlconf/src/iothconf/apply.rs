//! Performing a parsed [`Config`] on a stack through the client helpers.
//!
//! Order (as iothconf): undo items first (`-static`, `-rd`, `-dhcp6`, `-dhcp`, `-eth`), then
//! `eth`, `rd`, `dhcp6`, `dhcp`, then static removals and additions. `eth` never sleeps.
//! The dynamic protocols run in engines the stack provides through [`AutoConf`]. What iothconf
//! configured statically is remembered in a [`ConfState`] the caller keeps with the stack, so
//! that later strings can undo it (`-ip=`, `-static`) and `resolv.conf` text can be produced.

use std::fmt::Write as _;
use std::io;
use std::net::IpAddr;

use super::{Config, DEFAULT_INTERFACE, StaticItem};
use crate::client::{NetlinkTransport, NlClient};
use crate::hashaddr::hashmac;
use crate::model::format_mac;

/// A dynamic configuration protocol a stack runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// DHCPv4 (`dhcp`).
    Dhcp4,
    /// DHCPv6 (`dhcp6`).
    Dhcp6,
    /// IPv6 router discovery (`rd`), with SLAAC when asked.
    Rd,
}

/// The protocol engines of a stack. `start` begins (or restarts) a protocol on an interface
/// without blocking; the engine configures the stack through netlink as leases and
/// advertisements arrive, renews leases while it lives, and reports learned DNS servers and
/// domains with [`ConfState::set_learned`]. `stop` ends it and removes what it configured.
pub trait AutoConf {
    /// Starts `protocol` on `ifindex`. `fqdn` is the node's name (DHCP FQDN option, hash-based
    /// SLAAC host part); `slaac` asks router discovery to autoconfigure addresses.
    fn start(
        &mut self,
        protocol: Protocol,
        ifindex: u32,
        fqdn: Option<&str>,
        slaac: bool,
    ) -> io::Result<()>;
    /// Stops `protocol` on `ifindex` and removes what it configured.
    fn stop(&mut self, protocol: Protocol, ifindex: u32) -> io::Result<()>;
}

/// A stack without protocol engines: every start or stop fails with ENOSYS.
///
/// With it, [`apply`] does the static part and lists the protocols in [`Report::failed`]:
///
/// ```
/// use nlconf::client::{LocalTransport, NlClient};
/// use nlconf::iothconf::{ConfState, Config, Mode, NoAutoConf, apply};
/// use nlconf::server::MemTables;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = NlClient::new(LocalTransport::new(MemTables::with_loopback(), 1));
/// client.iplink_add(Some("vde0"), None, "dummy", None)?;
/// let cfg = Config::parse("eth dhcp ip=10.0.0.1/24", Mode::Running)?;
/// let report = apply(&cfg, &client, &mut ConfState::new(), &mut NoAutoConf)?;
/// assert!(report.eth && report.static_ && !report.dhcp);
/// let (item, err) = &report.failed[0];
/// assert_eq!((item.as_str(), err.raw_os_error()), ("dhcp", Some(libc::ENOSYS)));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAutoConf;

impl AutoConf for NoAutoConf {
    fn start(&mut self, _: Protocol, _: u32, _: Option<&str>, _: bool) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }
    fn stop(&mut self, _: Protocol, _: u32) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }
}

#[derive(Clone, Debug, Default)]
struct IfaceState {
    ifindex: u32,
    statics: Vec<StaticItem>,
    learned: Vec<(Protocol, Vec<IpAddr>, Vec<String>)>,
}

/// What iothconf configured on a stack, kept by the caller between [`apply`] calls.
///
/// It is what lets a later string undo an earlier one, and what `resolv.conf` text is made of:
///
/// ```
/// use nlconf::client::{LocalTransport, NlClient};
/// use nlconf::iothconf::{ConfState, Config, Mode, NoAutoConf, Protocol, apply};
/// use nlconf::server::MemTables;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = NlClient::new(LocalTransport::new(MemTables::with_loopback(), 1));
/// let vde0 = client.iplink_add(Some("vde0"), None, "dummy", None)?;
/// let mut state = ConfState::new();
/// let mut run = |s: &str| -> Result<_, Box<dyn std::error::Error>> {
///     Ok(apply(&Config::parse(s, Mode::Running)?, &client, &mut state, &mut NoAutoConf)?)
/// };
/// run("eth ip=10.0.0.1/24 dns=10.0.0.53 domain=lan")?;
/// let report = run("-static")?; // undoes what the first string set
/// assert_eq!(report.removed.len(), 3);
/// assert!(client.addrs()?.iter().all(|a| a.index != vde0));
///
/// // What an engine learned (DHCP here) joins the static items in resolv.conf.
/// state.set_learned(vde0, Protocol::Dhcp4, vec!["10.0.0.2".parse()?], vec!["corp".into()]);
/// assert_eq!(state.resolv_conf(vde0), "search corp\nnameserver 10.0.0.2\n");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct ConfState {
    ifaces: Vec<IfaceState>,
}

impl ConfState {
    /// Nothing configured yet.
    pub fn new() -> ConfState {
        ConfState::default()
    }

    fn iface(&mut self, ifindex: u32) -> &mut IfaceState {
        if let Some(pos) = self.ifaces.iter().position(|i| i.ifindex == ifindex) {
            &mut self.ifaces[pos]
        } else {
            self.ifaces.push(IfaceState {
                ifindex,
                ..IfaceState::default()
            });
            let last = self.ifaces.len() - 1;
            &mut self.ifaces[last]
        }
    }

    /// Every interface a configuration string configured, in the order first seen.
    pub fn ifindexes(&self) -> Vec<u32> {
        self.ifaces.iter().map(|i| i.ifindex).collect()
    }

    /// The static items active on `ifindex`, in the order they were configured.
    pub fn static_items(&self, ifindex: u32) -> &[StaticItem] {
        self.ifaces
            .iter()
            .find(|i| i.ifindex == ifindex)
            .map(|i| i.statics.as_slice())
            .unwrap_or(&[])
    }

    /// Records the DNS servers and search domains a protocol learned on `ifindex` (replacing
    /// what it learned before).
    pub fn set_learned(
        &mut self,
        ifindex: u32,
        protocol: Protocol,
        dns: Vec<IpAddr>,
        domains: Vec<String>,
    ) {
        let iface = self.iface(ifindex);
        iface.learned.retain(|(p, _, _)| *p != protocol);
        iface.learned.push((protocol, dns, domains));
    }

    /// `resolv.conf` text for `ifindex`: a `search` line with every domain once (static ones
    /// first), then `nameserver` lines: static IPv6, static IPv4, then DHCPv6, router
    /// discovery and DHCPv4 ones. Empty when nothing is known.
    pub fn resolv_conf(&self, ifindex: u32) -> String {
        let Some(iface) = self.ifaces.iter().find(|i| i.ifindex == ifindex) else {
            return String::new();
        };
        let mut domains: Vec<&str> = Vec::new();
        let mut servers: Vec<IpAddr> = Vec::new();
        for item in &iface.statics {
            if let StaticItem::Domain(d) = item {
                domains.push(d);
            }
        }
        let static_dns = iface.statics.iter().filter_map(|i| match i {
            StaticItem::Dns(a) => Some(*a),
            _ => None,
        });
        servers.extend(static_dns.clone().filter(IpAddr::is_ipv6));
        servers.extend(static_dns.filter(IpAddr::is_ipv4));
        for proto in [Protocol::Dhcp6, Protocol::Rd, Protocol::Dhcp4] {
            for (p, dns, doms) in &iface.learned {
                if *p == proto {
                    servers.extend(dns.iter().copied());
                    domains.extend(doms.iter().map(String::as_str));
                }
            }
        }
        let mut out = String::new();
        let mut seen: Vec<&str> = Vec::new();
        for d in domains {
            if !seen.contains(&d) {
                seen.push(d);
            }
        }
        if !seen.is_empty() {
            let _ = writeln!(out, "search {}", seen.join(" "));
        }
        let mut seen_servers: Vec<IpAddr> = Vec::new();
        for s in servers {
            if !seen_servers.contains(&s) {
                seen_servers.push(s);
                let _ = writeln!(out, "nameserver {s}");
            }
        }
        out
    }
}

/// What one [`apply`] did.
#[derive(Debug, Default)]
pub struct Report {
    /// The interface configured; None when the string configured no interface.
    pub ifindex: Option<u32>,
    /// `eth` done: MAC set (if any) and link up.
    pub eth: bool,
    /// The MAC address `eth` set.
    pub mac: Option<[u8; 6]>,
    /// Every static item given was applied.
    pub static_: bool,
    /// DHCPv4 started.
    pub dhcp: bool,
    /// DHCPv6 started.
    pub dhcp6: bool,
    /// Router discovery started.
    pub rd: bool,
    /// Static items added by this call.
    pub added: Vec<StaticItem>,
    /// Static items removed by this call.
    pub removed: Vec<StaticItem>,
    /// What failed, with the error (protocols the stack lacks: ENOSYS).
    pub failed: Vec<(String, io::Error)>,
    /// `resolv.conf` text for the interface after this call.
    pub resolv_conf: String,
    /// With `debug`: a description of the interface's resulting configuration.
    pub description: Option<String>,
}

fn ignore(e: &io::Error, codes: &[i32]) -> bool {
    e.raw_os_error().is_some_and(|c| codes.contains(&c))
}

fn undo_static<T: NetlinkTransport>(
    client: &NlClient<T>,
    ifindex: u32,
    item: &StaticItem,
) -> io::Result<()> {
    let r = match item {
        StaticItem::Addr(a, l) => client.ipaddr_del(*a, *l, ifindex),
        StaticItem::Gateway(g) => client.iproute_del(None, Some(*g), Some(ifindex)),
        StaticItem::Dns(_) | StaticItem::Domain(_) => Ok(()),
    };
    match r {
        Err(e) if ignore(&e, &[libc::EADDRNOTAVAIL, libc::ESRCH, libc::ENODEV]) => Ok(()),
        other => other,
    }
}

fn do_static<T: NetlinkTransport>(
    client: &NlClient<T>,
    ifindex: u32,
    item: &StaticItem,
) -> io::Result<()> {
    let r = match item {
        StaticItem::Addr(a, l) => client.ipaddr_add(*a, *l, ifindex),
        StaticItem::Gateway(g) => client.iproute_add(None, Some(*g), Some(ifindex)),
        StaticItem::Dns(_) | StaticItem::Domain(_) => Ok(()),
    };
    match r {
        Err(e) if ignore(&e, &[libc::EEXIST]) => Ok(()),
        other => other,
    }
}

fn item_name(item: &StaticItem) -> String {
    match item {
        StaticItem::Addr(a, l) => format!("ip={a}/{l}"),
        StaticItem::Gateway(g) => format!("gw={g}"),
        StaticItem::Dns(d) => format!("dns={d}"),
        StaticItem::Domain(d) => format!("domain={d}"),
    }
}

fn same_target(a: &StaticItem, b: &StaticItem) -> bool {
    a == b
}

/// Describes the configuration of interface `ifindex` (for `debug`).
fn describe<T: NetlinkTransport>(
    client: &NlClient<T>,
    ifindex: u32,
    state: &ConfState,
) -> io::Result<String> {
    let link = client.link(ifindex)?;
    let mut out = format!(
        "{}: index {} mac {} mtu {} {}\n",
        link.name,
        link.index,
        format_mac(&link.mac),
        link.mtu,
        if link.is_up() { "up" } else { "down" }
    );
    for a in client.addrs()?.into_iter().filter(|a| a.index == ifindex) {
        let _ = writeln!(out, "  addr {}/{}", a.addr, a.prefix_len);
    }
    for r in client
        .routes()?
        .into_iter()
        .filter(|r| r.oif == Some(ifindex))
    {
        let dst = if r.prefix_len == 0 {
            "default".to_string()
        } else {
            format!("{}/{}", r.dst, r.prefix_len)
        };
        match r.gateway {
            Some(g) => {
                let _ = writeln!(out, "  route {dst} via {g}");
            }
            None => {
                let _ = writeln!(out, "  route {dst}");
            }
        }
    }
    for line in state.resolv_conf(ifindex).lines() {
        let _ = writeln!(out, "  {line}");
    }
    Ok(out)
}

/// Performs `cfg` on the stack `client` talks to. Fails with ENODEV when the interface does
/// not exist and with the netlink errno when `eth` cannot be done; a protocol or static item
/// that fails is listed in [`Report::failed`] and the rest still happens.
pub fn apply<T: NetlinkTransport>(
    cfg: &Config,
    client: &NlClient<T>,
    state: &mut ConfState,
    engines: &mut dyn AutoConf,
) -> io::Result<Report> {
    let mut report = Report::default();
    if !cfg.configures_interface() {
        return Ok(report);
    }
    let ifindex = match cfg.ifindex {
        Some(i) => client.link(i)?.index,
        None => client.if_nametoindex(cfg.iface.as_deref().unwrap_or(DEFAULT_INTERFACE))?,
    };
    report.ifindex = Some(ifindex);
    // Remembered even when nothing static is set, so that what the engines learn on this
    // interface is found by [`ConfState::ifindexes`].
    state.iface(ifindex);

    // Undo first.
    if cfg.disable.static_ {
        let items = std::mem::take(&mut state.iface(ifindex).statics);
        for item in items.iter().rev() {
            if let Err(e) = undo_static(client, ifindex, item) {
                report.failed.push((format!("-{}", item_name(item)), e));
            }
            report.removed.push(item.clone());
        }
    }
    for (off, proto, name) in [
        (cfg.disable.rd, Protocol::Rd, "-rd"),
        (cfg.disable.dhcp6, Protocol::Dhcp6, "-dhcp6"),
        (cfg.disable.dhcp, Protocol::Dhcp4, "-dhcp"),
    ] {
        if off {
            state.iface(ifindex).learned.retain(|(p, _, _)| *p != proto);
            if let Err(e) = engines.stop(proto, ifindex) {
                report.failed.push((name.to_string(), e));
            }
        }
    }
    if cfg.disable.eth {
        client.link_set_up(ifindex, false)?;
    }

    if cfg.enable.eth {
        let mac = cfg
            .mac
            .or_else(|| cfg.fqdn.as_deref().map(|f| hashmac(f, None)));
        if let Some(mac) = mac {
            client.link_set_mac(ifindex, mac)?;
        }
        client.link_set_up(ifindex, true)?;
        report.eth = true;
        report.mac = mac;
    }
    for (on, proto, name) in [
        (cfg.enable.rd, Protocol::Rd, "rd"),
        (cfg.enable.dhcp6, Protocol::Dhcp6, "dhcp6"),
        (cfg.enable.dhcp, Protocol::Dhcp4, "dhcp"),
    ] {
        if on {
            match engines.start(proto, ifindex, cfg.fqdn.as_deref(), cfg.slaac) {
                Ok(()) => match proto {
                    Protocol::Rd => report.rd = true,
                    Protocol::Dhcp6 => report.dhcp6 = true,
                    Protocol::Dhcp4 => report.dhcp = true,
                },
                Err(e) => report.failed.push((name.to_string(), e)),
            }
        }
    }

    if cfg.enable.static_ {
        let mut ok = true;
        for item in &cfg.remove {
            // Remove it from the stack even if another tool configured it.
            match undo_static(client, ifindex, item) {
                Ok(()) => {
                    state
                        .iface(ifindex)
                        .statics
                        .retain(|s| !same_target(s, item));
                    report.removed.push(item.clone());
                }
                Err(e) => {
                    ok = false;
                    report.failed.push((format!("-{}", item_name(item)), e));
                }
            }
        }
        // Addresses before routes, so that gateways are on-link when their routes are added.
        let (addrs, others): (Vec<&StaticItem>, Vec<&StaticItem>) = cfg
            .add
            .iter()
            .partition(|i| matches!(i, StaticItem::Addr(..)));
        for item in addrs.into_iter().chain(others) {
            if state.static_items(ifindex).contains(item) {
                continue;
            }
            match do_static(client, ifindex, item) {
                Ok(()) => {
                    state.iface(ifindex).statics.push(item.clone());
                    report.added.push(item.clone());
                }
                Err(e) => {
                    ok = false;
                    report.failed.push((item_name(item), e));
                }
            }
        }
        report.static_ = ok;
    }
    report.resolv_conf = state.resolv_conf(ifindex);
    if cfg.debug {
        let text = describe(client, ifindex, state)?;
        log::info!("iothconf result:\n{text}");
        report.description = Some(text);
    }
    Ok(report)
}
