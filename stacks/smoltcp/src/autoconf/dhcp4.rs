//! DHCPv4 on an interface.
//!
//! The client is smoltcp's DHCPv4 socket (discover, request, renewal at T1, rebinding, lease
//! expiry); what it learns is installed through the stack's own tables, so netlink reports a
//! leased address and its default route (`proto dhcp`) like any other, and removed when the
//! lease ends or the client stops.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::dhcpv4;

use crate::core::{Attachment, Core};

use super::err;

/// A DHCPv4 client on one interface, and the lease it installed.
pub(crate) struct Dhcp {
    handle: SocketHandle,
    lease: Option<Lease>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Lease {
    addr: Ipv4Addr,
    prefix: u8,
    router: Option<Ipv4Addr>,
    dns: Vec<Ipv4Addr>,
}

impl Core {
    /// Starts (or restarts) DHCPv4 on interface `index`.
    pub(crate) fn dhcp_start(&mut self, index: u32) -> io::Result<()> {
        self.dhcp_stop(index)?;
        let f = self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?;
        if !matches!(f.attach, Attachment::Link(_)) {
            return Err(err(libc::EOPNOTSUPP));
        }
        let handle = f.sockets.add(dhcpv4::Socket::new());
        f.autoconf.dhcp4 = Some(Dhcp {
            handle,
            lease: None,
        });
        Ok(())
    }

    /// Stops DHCPv4 on interface `index` and removes what it installed.
    pub(crate) fn dhcp_stop(&mut self, index: u32) -> io::Result<()> {
        let f = self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?;
        let Some(d) = f.autoconf.dhcp4.take() else {
            return Ok(());
        };
        f.sockets.remove(d.handle);
        if let Some(lease) = d.lease {
            self.uninstall(index, &lease)?;
        }
        Ok(())
    }

    /// The DNS servers the lease on `index` gave.
    pub(crate) fn dhcp_dns(&self, index: u32) -> Option<Vec<IpAddr>> {
        let lease = self.iface(index)?.autoconf.dhcp4.as_ref()?.lease.as_ref()?;
        Some(lease.dns.iter().map(|a| IpAddr::V4(*a)).collect())
    }

    /// Collects the DHCP clients' events and applies them; true when the configuration
    /// changed.
    pub(crate) fn run_dhcp4(&mut self) -> bool {
        let mut changes = Vec::new();
        for f in self.ifaces.iter_mut().flatten() {
            let Some(d) = f.autoconf.dhcp4.as_mut() else {
                continue;
            };
            let sock = f.sockets.get_mut::<dhcpv4::Socket>(d.handle);
            while let Some(event) = sock.poll() {
                let new = match event {
                    dhcpv4::Event::Configured(cfg) => Some(Lease {
                        addr: cfg.address.address(),
                        prefix: cfg.address.prefix_len(),
                        router: cfg.router,
                        dns: cfg.dns_servers.iter().copied().collect(),
                    }),
                    dhcpv4::Event::Deconfigured => None,
                };
                if new != d.lease {
                    changes.push((f.index, d.lease.take(), new.clone()));
                    d.lease = new;
                }
            }
        }
        let changed = !changes.is_empty();
        for (index, old, new) in changes {
            if let Some(old) = old
                && let Err(e) = self.uninstall(index, &old)
            {
                log::warn!("removing DHCP lease {old:?}: {e}");
            }
            if let Some(new) = new {
                log::info!("DHCP lease on interface {index}: {new:?}");
                if let Err(e) = self.install(index, &new) {
                    log::warn!("installing DHCP lease {new:?}: {e}");
                }
            }
        }
        changed
    }

    fn install(&mut self, index: u32, lease: &Lease) -> io::Result<()> {
        self.iface(index).ok_or_else(|| err(libc::ENODEV))?;
        self.engine_add_addr(index, IpAddr::V4(lease.addr), lease.prefix);
        if let Some(gw) = lease.router {
            self.engine_add_default_route(index, IpAddr::V4(gw), nlconf::model::RTPROT_DHCP, 0);
        }
        self.sync_addrs()?;
        self.sync_routes()
    }

    fn uninstall(&mut self, index: u32, lease: &Lease) -> io::Result<()> {
        self.engine_remove_addr(index, IpAddr::V4(lease.addr), lease.prefix);
        if let Some(gw) = lease.router {
            self.engine_remove_default_route(index, IpAddr::V4(gw), nlconf::model::RTPROT_DHCP);
        }
        self.sync_addrs()?;
        self.sync_routes()
    }
}
