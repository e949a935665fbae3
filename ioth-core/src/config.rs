//! Configuring a stack: rtnetlink on the stack itself.
//!
//! Every helper opens an `AF_NETLINK`/`NETLINK_ROUTE` socket on the stack and speaks
//! rtnetlink through [`nlconf`]'s client, so one call configures the kernel (or a kernel
//! namespace) and a user-space stack alike. [`Stack::netlink`] gives the client for several
//! requests over one socket.
//!
//! On the kernel stack they read (and, with the privilege, change) the host's configuration:
//!
//! ```
//! use ioth::config::IfaAddress;
//! # fn main() -> std::io::Result<()> {
//! let kernel = ioth::Stack::new("kernel", &[])?;
//! let lo = kernel.if_nametoindex("lo")?;
//! assert_eq!(kernel.if_indextoname(lo)?, "lo");
//! assert_eq!(kernel.link_mac(lo)?, [0; 6]);
//! let has_localhost = kernel.getifaddrs()?.iter().any(|i| {
//!     i.index == lo && i.addr == IfaAddress::Ip("127.0.0.1".parse().expect("an address"))
//! });
//! assert!(has_localhost);
//! // Several requests over one netlink socket.
//! let netlink = kernel.netlink()?;
//! assert!(netlink.routes()?.iter().any(|r| r.contains("127.0.0.1".parse().expect("an address"))));
//! # Ok(())
//! # }
//! ```
//!
//! A user-space stack (`ioth-smoltcp`) answers the same calls from its own tables, so
//! `stack.ipaddr_add(..)`, `stack.link_set_up(..)` and `stack.iproute_add(..)` configure it
//! without privilege; its crate documentation shows them.

use std::io;
use std::net::IpAddr;

pub use nlconf::client::{IfaAddress, InterfaceAddress, NetlinkTransport, NlClient};
use nlconf::iothconf::{AutoConf, Protocol};
pub use nlconf::iothconf::{Config, Mode, Report};
pub use nlconf::model::LinkStats;

use crate::backend::StackOps;
use crate::error::{errno_with, with_context};
use crate::socket::Socket;
use crate::stack::Stack;

/// The stack's protocol engines, as nlconf's `apply` drives them.
struct Engines<'a>(&'a dyn StackOps);

impl AutoConf for Engines<'_> {
    fn start(
        &mut self,
        protocol: Protocol,
        ifindex: u32,
        fqdn: Option<&str>,
        slaac: bool,
    ) -> io::Result<()> {
        self.0.autoconf_start(protocol, ifindex, fqdn, slaac)
    }
    fn stop(&mut self, protocol: Protocol, ifindex: u32) -> io::Result<()> {
        self.0.autoconf_stop(protocol, ifindex)
    }
}

fn config_error(e: nlconf::iothconf::ConfigError) -> io::Error {
    errno_with(e.errno(), e.to_string())
}

/// `report` if nothing failed, else an error naming the first item that did (its errno kept).
fn strict(report: Report) -> io::Result<Report> {
    match report.failed.first() {
        None => Ok(report),
        Some((item, e)) => Err(with_context(e, format_args!("configuration item {item:?}"))),
    }
}

impl Stack {
    /// Creates and configures a stack from one configuration string (iothconf's
    /// `ioth_newstackc`), e.g. `stack=smoltcp,vnl=vde:///tmp/hub,eth,ip=10.0.0.1/24,gw=10.0.0.254`.
    ///
    /// `stack=` names the implementation (with `,`-options quoted), `vnl=` (repeatable) the
    /// interfaces; the rest configures the interface (`iface=`, default `vde0`) as
    /// [`Stack::configure`] does. Without `stack=` the kernel is used, which takes no `vnl=`.
    /// Bad strings give `EINVAL` naming the offending item.
    ///
    /// Strict: when an item fails to apply (a gateway outside every subnet, a protocol the
    /// stack lacks), the stack is dropped and the error names the first such item, with its
    /// errno (`configuration item "gw=10.9.9.9": Network is unreachable`). The report says
    /// what was configured. [`Stack::from_config_lenient`] keeps iothconf's way.
    ///
    /// On the kernel stack (no `vnl=`, and no change to the host without privilege) a string
    /// can name the stack and give its resolver a server:
    ///
    /// ```
    /// use ioth::{Stack, errno_of};
    /// # fn main() -> std::io::Result<()> {
    /// let (stack, report) =
    ///     Stack::from_config("stack=kernel fqdn=node1.example iface=lo dns=127.0.0.53")?;
    /// assert_eq!(stack.name(), "node1.example");
    /// assert_eq!(report.resolv_conf, "nameserver 127.0.0.53\n");
    /// assert_eq!(stack.resolver().servers(), ["127.0.0.53:53".parse().expect("an address")]);
    ///
    /// let err = Stack::from_config("stack=kernel eth ip=10.0.0.1/99").expect_err("bad length");
    /// assert_eq!(errno_of(&err), libc::EINVAL);
    /// assert!(err.to_string().contains("`ip=10.0.0.1/99`"), "{err}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_config(config: &str) -> io::Result<(Stack, Report)> {
        let (stack, report) = Stack::from_config_lenient(config)?;
        strict(report).map(|report| (stack, report))
    }

    /// [`Stack::from_config`] as iothconf's `ioth_newstackc` does it: the stack is returned
    /// also when some items failed to apply; they are in [`Report::failed`].
    pub fn from_config_lenient(config: &str) -> io::Result<(Stack, Report)> {
        let cfg = Config::parse(config, Mode::Create).map_err(config_error)?;
        let implementation = cfg.stack.as_deref().unwrap_or("kernel");
        let vnls: Vec<&str> = cfg.vnl.iter().map(String::as_str).collect();
        let stack = Stack::new(implementation, &vnls)?;
        if let Some(fqdn) = &cfg.fqdn {
            stack.set_name(fqdn);
        }
        let report = stack.apply_config(&cfg)?;
        Ok((stack, report))
    }

    /// Configures a running stack from a configuration string (iothconf's `ioth_config`):
    /// `eth`, static `ip=`/`gw=`/`dns=`/`domain=`, `dhcp`, `rd`, `slaac`, the undo forms.
    /// `stack=` and `vnl=` are refused. Strict: an item that failed to apply is an error
    /// naming the first one (what was applied before it stays applied);
    /// [`Stack::configure_lenient`] reports failures in [`Report::failed`] instead.
    ///
    /// ```
    /// use ioth::{Stack, errno_of};
    /// # fn main() -> std::io::Result<()> {
    /// let stack = Stack::new("kernel", &[])?;
    /// stack.configure("iface=lo dns=127.0.0.53 domain=lan")?;
    /// let lo = stack.if_nametoindex("lo")?;
    /// assert_eq!(stack.resolv_conf(lo), "search lan\nnameserver 127.0.0.53\n");
    ///
    /// // The kernel runs no DHCP client of its own: strict, that is an error naming the item.
    /// let err = stack.configure("iface=lo dhcp").expect_err("no engine");
    /// assert_eq!(errno_of(&err), libc::ENOSYS);
    /// assert!(err.to_string().contains("configuration item \"dhcp\""), "{err}");
    /// // Lenient, as iothconf's C call: the report lists it.
    /// let report = stack.configure_lenient("iface=lo dhcp")?;
    /// assert_eq!(report.failed[0].0, "dhcp");
    /// # Ok(())
    /// # }
    /// ```
    pub fn configure(&self, config: &str) -> io::Result<Report> {
        strict(self.configure_lenient(config)?)
    }

    /// [`Stack::configure`] as iothconf's `ioth_config` does it: items that failed to apply
    /// are in [`Report::failed`], and the call succeeds.
    pub fn configure_lenient(&self, config: &str) -> io::Result<Report> {
        let cfg = Config::parse(config, Mode::Running).map_err(config_error)?;
        self.apply_config(&cfg)
    }

    fn apply_config(&self, cfg: &Config) -> io::Result<Report> {
        let client = self.netlink()?;
        let mut state = self.conf_state();
        let report = nlconf::iothconf::apply(cfg, &client, &mut state, &mut Engines(self.ops()));
        drop(state);
        crate::dns::stack_reconfigured(self);
        report
    }

    /// `resolv.conf` text for interface `ifindex`: the static `dns=`/`domain=` items given so
    /// far, then what running protocols learned (iothconf's `ioth_resolvconf`).
    pub fn resolv_conf(&self, ifindex: u32) -> String {
        let mut state = self.conf_state();
        for protocol in [Protocol::Dhcp6, Protocol::Rd, Protocol::Dhcp4] {
            if let Some((dns, domains)) = self.ops().autoconf_learned(protocol, ifindex) {
                state.set_learned(ifindex, protocol, dns, domains);
            }
        }
        state.resolv_conf(ifindex)
    }
}

impl NetlinkTransport for Socket {
    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        Socket::send(self, buf, 0)
    }
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        Socket::recv(self, buf, 0)
    }
}

impl Stack {
    /// `e` with this stack's name and `what` in front (see [`with_context`]).
    fn about(&self, e: &io::Error, what: std::fmt::Arguments<'_>) -> io::Error {
        with_context(e, format_args!("{}: {what}", self.name()))
    }

    /// A netlink client over a new `NETLINK_ROUTE` socket of this stack.
    pub fn netlink(&self) -> io::Result<NlClient<Socket>> {
        let sock = self.socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )?;
        Ok(NlClient::new(sock))
    }

    /// The index of the interface `name` (`ENODEV` if there is none).
    pub fn if_nametoindex(&self, name: &str) -> io::Result<u32> {
        self.netlink()?
            .if_nametoindex(name)
            .map_err(|e| self.about(&e, format_args!("interface {name:?}")))
    }

    /// The name of the interface with index `index`.
    pub fn if_indextoname(&self, index: u32) -> io::Result<String> {
        self.netlink()?
            .if_indextoname(index)
            .map_err(|e| self.about(&e, format_args!("interface index {index}")))
    }

    /// Brings an interface up or down (libioth's `ioth_linksetupdown`).
    pub fn link_set_up(&self, index: u32, up: bool) -> io::Result<()> {
        self.netlink()?.link_set_up(index, up).map_err(|e| {
            let what = if up { "up" } else { "down" };
            self.about(
                &e,
                format_args!("interface index {index}: setting it {what}"),
            )
        })
    }

    /// Sets an interface's MAC address (libioth's `ioth_linksetaddr`).
    pub fn link_set_mac(&self, index: u32, mac: [u8; 6]) -> io::Result<()> {
        self.netlink()?.link_set_mac(index, mac).map_err(|e| {
            self.about(
                &e,
                format_args!("interface index {index}: setting MAC {mac:02x?}"),
            )
        })
    }

    /// An interface's MAC address (libioth's `ioth_linkgetaddr`).
    pub fn link_mac(&self, index: u32) -> io::Result<[u8; 6]> {
        self.netlink()?
            .link_get_mac(index)
            .map_err(|e| self.about(&e, format_args!("interface index {index}: reading its MAC")))
    }

    /// Sets an interface's MTU (libioth's `ioth_linksetmtu`).
    pub fn link_set_mtu(&self, index: u32, mtu: u32) -> io::Result<()> {
        self.netlink()?.link_set_mtu(index, mtu).map_err(|e| {
            self.about(
                &e,
                format_args!("interface index {index}: setting MTU {mtu}"),
            )
        })
    }

    /// Adds an address with its prefix length to an interface (libioth's `ioth_ipaddr_add`).
    pub fn ipaddr_add(&self, addr: IpAddr, prefix_len: u8, index: u32) -> io::Result<()> {
        self.netlink()?
            .ipaddr_add(addr, prefix_len, index)
            .map_err(|e| {
                self.about(
                    &e,
                    format_args!("interface index {index}: adding {addr}/{prefix_len}"),
                )
            })
    }

    /// Removes an address from an interface (libioth's `ioth_ipaddr_del`).
    pub fn ipaddr_del(&self, addr: IpAddr, prefix_len: u8, index: u32) -> io::Result<()> {
        self.netlink()?
            .ipaddr_del(addr, prefix_len, index)
            .map_err(|e| {
                self.about(
                    &e,
                    format_args!("interface index {index}: removing {addr}/{prefix_len}"),
                )
            })
    }

    /// Adds a route; `dst` None is the default route (libioth's `ioth_iproute_add`).
    pub fn iproute_add(
        &self,
        dst: Option<(IpAddr, u8)>,
        gateway: Option<IpAddr>,
        index: Option<u32>,
    ) -> io::Result<()> {
        self.netlink()?.iproute_add(dst, gateway, index)
    }

    /// Removes a route (libioth's `ioth_iproute_del`).
    pub fn iproute_del(
        &self,
        dst: Option<(IpAddr, u8)>,
        gateway: Option<IpAddr>,
        index: Option<u32>,
    ) -> io::Result<()> {
        self.netlink()?.iproute_del(dst, gateway, index)
    }

    /// Adds an interface of `kind` (`"vde"` with the VNL as `data`) to the running stack and
    /// returns its index (libioth's `ioth_iplink_add`).
    pub fn iplink_add(
        &self,
        name: Option<&str>,
        index: Option<u32>,
        kind: &str,
        data: Option<&str>,
    ) -> io::Result<u32> {
        self.netlink()?.iplink_add(name, index, kind, data)
    }

    /// Removes an interface, by name or index (libioth's `ioth_iplink_del`).
    pub fn iplink_del(&self, name: Option<&str>, index: Option<u32>) -> io::Result<()> {
        self.netlink()?.iplink_del(name, index)
    }

    /// The counters of interface `name` (packets, bytes, errors, drops each way), as
    /// `ip -s link show NAME` prints them: read from the `IFLA_STATS64` of the stack's
    /// RTM_NEWLINK reply, so the kernel (its namespace's interface) and a user-space stack
    /// answer alike. `ENODEV` if there is no such interface, `ENODATA` if the stack reports
    /// no counters; the error names the stack and the interface.
    pub fn link_stats(&self, name: &str) -> io::Result<LinkStats> {
        self.netlink()?
            .link_stats_by_name(name)
            .map_err(|e| self.about(&e, format_args!("interface {name:?}: reading its counters")))
    }

    /// Every address of every interface, as `getifaddrs(3)` lists them.
    pub fn getifaddrs(&self) -> io::Result<Vec<InterfaceAddress>> {
        self.netlink()?.getifaddrs()
    }
}
