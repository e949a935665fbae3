//! Waiting until a stack is configured: DHCP, router discovery and DHCPv6 run in the
//! background after `Stack::from_config(".. dhcp")` returns, so a program that needs an
//! address, a default route or a DNS server first waits for them here instead of polling
//! `getifaddrs` itself.

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::error::errno_with;
use crate::stack::Stack;

/// Something a stack can have been configured with, for [`Stack::wait_configured`].
///
/// ```
/// use std::time::Duration;
/// use ioth::{Configured, Stack};
/// # fn main() -> std::io::Result<()> {
/// // Given statically, the DNS server is there at once; DHCP or router discovery
/// // (`stack=smoltcp .. eth dhcp`) would bring it later, and the call waits for it.
/// let (stack, _) = Stack::from_config("stack=kernel iface=lo dns=127.0.0.53")?;
/// stack.wait_configured(&[Configured::Dns], Duration::from_secs(1))?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Configured {
    /// An IPv4 address that is not a loopback one.
    Ipv4Address,
    /// An IPv6 address that is neither loopback nor link-local (a global or ULA address, as
    /// SLAAC, DHCPv6 or a static `ip=` gives).
    Ipv6Address,
    /// A default IPv4 route (`0.0.0.0/0`).
    Ipv4DefaultRoute,
    /// A default IPv6 route (`::/0`).
    Ipv6DefaultRoute,
    /// A DNS server for the stack's resolver ([`crate::dns::Resolver::for_stack`]: what the
    /// stack learned or was given; on the kernel stack also the host's `resolv.conf`).
    Dns,
}

impl Configured {
    fn describe(self) -> &'static str {
        match self {
            Configured::Ipv4Address => "IPv4 address",
            Configured::Ipv6Address => "global IPv6 address",
            Configured::Ipv4DefaultRoute => "default IPv4 route",
            Configured::Ipv6DefaultRoute => "default IPv6 route",
            Configured::Dns => "DNS server",
        }
    }
}

/// The first poll interval; it doubles up to [`MAX_INTERVAL`].
const FIRST_INTERVAL: Duration = Duration::from_millis(5);
const MAX_INTERVAL: Duration = Duration::from_millis(100);

impl Stack {
    /// Waits until the stack has everything in `what`, at most `timeout`. Returns at once
    /// when it already has. Fails with `ETIMEDOUT` naming what is still missing, or with
    /// the error of the netlink request that could not be made.
    ///
    /// The stack is looked at through its netlink socket whenever its [`crate::ConfigWatch`]
    /// reports a change, and every few milliseconds at first, then every 100 ms (DNS servers
    /// learned send no notification).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioth::{Configured, Stack, errno_of};
    /// # fn main() -> std::io::Result<()> {
    /// let (stack, _) = Stack::from_config("stack=kernel iface=lo dns=127.0.0.53")?;
    /// stack.wait_configured(&[Configured::Dns], Duration::from_secs(1))?; // there: at once
    ///
    /// // A search domain and no server: this stack's resolver has none, and never gets one.
    /// let (no_dns, _) = Stack::from_config("stack=kernel iface=lo domain=lan")?;
    /// let err = no_dns.wait_configured(&[Configured::Dns], Duration::from_millis(20));
    /// let err = err.expect_err("no DNS server");
    /// assert_eq!(errno_of(&err), libc::ETIMEDOUT);
    /// assert!(err.to_string().contains("ms: no DNS server"), "{err}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait_configured(&self, what: &[Configured], timeout: Duration) -> io::Result<()> {
        let start = Instant::now();
        let mut interval = FIRST_INTERVAL;
        // Without a watch (a plugin whose netlink has no groups) the intervals alone pace it.
        let watch = self.config_watch().ok();
        loop {
            if let Some(w) = &watch {
                w.drain()?;
            }
            let missing = self.missing(what)?;
            if missing.is_empty() {
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= timeout {
                let names: Vec<&str> = missing.iter().map(|m| m.describe()).collect();
                return Err(errno_with(
                    libc::ETIMEDOUT,
                    format!(
                        "stack {}: not configured after {} ms: no {}",
                        self.name(),
                        waited.as_millis(),
                        names.join(", no ")
                    ),
                ));
            }
            let nap = interval.min(timeout - waited);
            match &watch {
                Some(w) => {
                    w.wait(Some(nap))?;
                }
                None => std::thread::sleep(nap),
            }
            interval = (interval * 2).min(MAX_INTERVAL);
        }
    }

    /// The items of `what` the stack does not have now.
    fn missing(&self, what: &[Configured]) -> io::Result<Vec<Configured>> {
        let client = self.netlink()?;
        let wants = |c| what.contains(&c);
        let addrs = if wants(Configured::Ipv4Address) || wants(Configured::Ipv6Address) {
            client.addrs()?
        } else {
            Vec::new()
        };
        let routes = if wants(Configured::Ipv4DefaultRoute) || wants(Configured::Ipv6DefaultRoute) {
            client.routes()?
        } else {
            Vec::new()
        };
        let has_addr = |v4: bool| {
            addrs.iter().any(|a| match a.addr {
                IpAddr::V4(ip) => v4 && !ip.is_loopback() && !ip.is_unspecified(),
                IpAddr::V6(ip) => {
                    !v4 && !ip.is_loopback()
                        && !ip.is_unspecified()
                        && (ip.segments()[0] & 0xffc0) != 0xfe80
                }
            })
        };
        let has_default = |v4: bool| {
            routes
                .iter()
                .any(|r| r.prefix_len == 0 && r.dst.is_ipv4() == v4)
        };
        Ok(what
            .iter()
            .copied()
            .filter(|&c| match c {
                Configured::Ipv4Address => !has_addr(true),
                Configured::Ipv6Address => !has_addr(false),
                Configured::Ipv4DefaultRoute => !has_default(true),
                Configured::Ipv6DefaultRoute => !has_default(false),
                Configured::Dns => crate::dns::Resolver::for_stack(self).servers().is_empty(),
            })
            .collect())
    }
}
