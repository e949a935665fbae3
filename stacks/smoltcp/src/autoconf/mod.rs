//! Dynamic configuration engines per interface: DHCPv4 (`dhcp4`), router discovery with
//! SLAAC (`rd`) and DHCPv6 (`dhcp6`).
//!
//! Each engine learns through its own socket in the interface's socket set and installs
//! what it learns in the stack's tables (addresses, routes, MTU), so netlink reports it like
//! any other configuration and removes it when the engine stops or a lifetime ends. Engines
//! run after every poll of the stack; their timers are part of the stack's deadline, so the
//! driver wakes the stack when a solicitation or renewal is due (no thread, no tick).

mod dhcp4;
mod dhcp6;
mod rd;

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use ioth::backend::AutoConfProtocol;

use crate::core::{Core, StackRoute};
use crate::driver::{NEVER, now_micros};

pub(crate) fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// The engines running on one interface.
#[derive(Default)]
pub(crate) struct Engines {
    pub dhcp4: Option<dhcp4::Dhcp>,
    pub rd: Option<rd::Rd>,
    pub dhcp6: Option<dhcp6::Dhcp6>,
}

/// The engines' clock: the driver's monotonic clock.
fn engine_now() -> Duration {
    Duration::from_micros(now_micros())
}

fn to_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(NEVER)
}

impl Core {
    /// Starts `protocol` on interface `index` (restarting it if it runs).
    pub(crate) fn autoconf_start(
        &mut self,
        protocol: AutoConfProtocol,
        index: u32,
        fqdn: Option<&str>,
        slaac: bool,
    ) -> io::Result<()> {
        match protocol {
            AutoConfProtocol::Dhcp4 => self.dhcp_start(index),
            AutoConfProtocol::Rd => self.rd_start(index, fqdn, slaac),
            AutoConfProtocol::Dhcp6 => self.dhcp6_start(index, fqdn),
        }
    }

    /// Stops `protocol` on interface `index` and removes what it installed.
    pub(crate) fn autoconf_stop(
        &mut self,
        protocol: AutoConfProtocol,
        index: u32,
    ) -> io::Result<()> {
        match protocol {
            AutoConfProtocol::Dhcp4 => self.dhcp_stop(index),
            AutoConfProtocol::Rd => self.rd_stop(index),
            AutoConfProtocol::Dhcp6 => self.dhcp6_stop(index),
        }
    }

    /// The DNS servers and search domains `protocol` learned on `index`.
    pub(crate) fn autoconf_learned(
        &self,
        protocol: AutoConfProtocol,
        index: u32,
    ) -> Option<(Vec<IpAddr>, Vec<String>)> {
        let (mut dns, domains) = match protocol {
            AutoConfProtocol::Dhcp4 => self.dhcp_learned(index),
            AutoConfProtocol::Rd => self.rd_learned(index),
            AutoConfProtocol::Dhcp6 => self.dhcp6_learned(index),
        }?;
        // A server or router naming a DNS server nobody can query (multicast, unspecified,
        // broadcast) is not passed on to resolv.conf or a resolver.
        dns.retain(|&a| {
            let ok = crate::core::check_unicast_peer(a).is_ok();
            if !ok {
                crate::ident::warn!("interface {index}: learned DNS server {a} ignored");
            }
            ok
        });
        Some((dns, domains))
    }

    /// Runs every engine on what arrived and on the time that passed, and applies what they
    /// ask; true when the configuration changed.
    pub(crate) fn run_autoconf(&mut self) -> bool {
        let dhcp4 = self.run_dhcp4();
        let rd = self.run_rd();
        let dhcp6 = self.run_dhcp6();
        dhcp4 | rd | dhcp6
    }

    /// When an engine next needs to run (driver clock, µs), or NEVER.
    pub(crate) fn autoconf_deadline(&self) -> u64 {
        self.ifaces
            .iter()
            .flatten()
            .flat_map(|f| {
                let rd = f.autoconf.rd.as_ref().and_then(|r| r.next_deadline());
                let dhcp6 = f.autoconf.dhcp6.as_ref().and_then(|d| d.next_deadline());
                rd.into_iter().chain(dhcp6)
            })
            .map(to_micros)
            .min()
            .unwrap_or(NEVER)
    }

    /// Adds `addr/prefix` to interface `index` unless present; true when added. The caller
    /// syncs the tables.
    fn engine_add_addr(&mut self, index: u32, addr: IpAddr, prefix: u8) -> bool {
        let Some(f) = self.iface_mut(index) else {
            return false;
        };
        if f.addrs.iter().any(|&(a, _)| a == addr) {
            return false;
        }
        if let Err(e) = crate::core::check_iface_addr(addr, prefix, false) {
            // A rogue server or router must not be able to configure what smoltcp cannot
            // hold (and Linux refuses): the lease or prefix is ignored, the stack goes on.
            crate::ident::warn!(
                "{}: learned address {addr}/{prefix} ignored: {}",
                f.name,
                io::Error::from_raw_os_error(e)
            );
            return false;
        }
        f.addrs.push((addr, prefix));
        true
    }

    /// Removes `addr/prefix` from interface `index`; true when it was there.
    fn engine_remove_addr(&mut self, index: u32, addr: IpAddr, prefix: u8) -> bool {
        let Some(f) = self.iface_mut(index) else {
            return false;
        };
        let before = f.addrs.len();
        f.addrs.retain(|&(a, p)| !(a == addr && p == prefix));
        f.addrs.len() != before
    }

    /// Adds a default route through `gateway` on `index` installed by `protocol`, unless the
    /// same one is there; true when added.
    fn engine_add_default_route(
        &mut self,
        index: u32,
        gateway: IpAddr,
        protocol: u8,
        metric: u32,
    ) -> bool {
        if crate::core::check_unicast_peer(gateway).is_err() {
            crate::ident::warn!("interface {index}: learned default router {gateway} ignored");
            return false;
        }
        let dst = match gateway {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        let route = StackRoute {
            dst,
            prefix: 0,
            gateway: Some(gateway),
            oif: index,
            protocol,
            metric,
        };
        if self.routes.contains(&route) {
            return false;
        }
        self.routes.push(route);
        true
    }

    /// Removes the default routes through `gateway` on `index` installed by `protocol`.
    fn engine_remove_default_route(&mut self, index: u32, gateway: IpAddr, protocol: u8) -> bool {
        let before = self.routes.len();
        self.routes.retain(|r| {
            !(r.oif == index
                && r.prefix == 0
                && r.protocol == protocol
                && r.gateway == Some(gateway))
        });
        self.routes.len() != before
    }
}
