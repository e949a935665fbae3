//! Configuring a stack: rtnetlink on the stack itself.
//!
//! Every helper opens an `AF_NETLINK`/`NETLINK_ROUTE` socket on the stack and speaks
//! rtnetlink through [`nlconf`]'s client, so one call configures the kernel (or a kernel
//! namespace) and a user-space stack alike. [`Stack::netlink`] gives the client for several
//! requests over one socket.

use std::io;
use std::net::IpAddr;

pub use nlconf::client::{IfaAddress, InterfaceAddress, NetlinkTransport, NlClient};

use crate::socket::Socket;
use crate::stack::Stack;

impl NetlinkTransport for Socket {
    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        Socket::send(self, buf, 0)
    }
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        Socket::recv(self, buf, 0)
    }
}

impl Stack {
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
        self.netlink()?.if_nametoindex(name)
    }

    /// The name of the interface with index `index`.
    pub fn if_indextoname(&self, index: u32) -> io::Result<String> {
        self.netlink()?.if_indextoname(index)
    }

    /// Brings an interface up or down (libioth's `ioth_linksetupdown`).
    pub fn link_set_up(&self, index: u32, up: bool) -> io::Result<()> {
        self.netlink()?.link_set_up(index, up)
    }

    /// Sets an interface's MAC address (libioth's `ioth_linksetaddr`).
    pub fn link_set_mac(&self, index: u32, mac: [u8; 6]) -> io::Result<()> {
        self.netlink()?.link_set_mac(index, mac)
    }

    /// An interface's MAC address (libioth's `ioth_linkgetaddr`).
    pub fn link_mac(&self, index: u32) -> io::Result<[u8; 6]> {
        self.netlink()?.link_get_mac(index)
    }

    /// Sets an interface's MTU (libioth's `ioth_linksetmtu`).
    pub fn link_set_mtu(&self, index: u32, mtu: u32) -> io::Result<()> {
        self.netlink()?.link_set_mtu(index, mtu)
    }

    /// Adds an address with its prefix length to an interface (libioth's `ioth_ipaddr_add`).
    pub fn ipaddr_add(&self, addr: IpAddr, prefix_len: u8, index: u32) -> io::Result<()> {
        self.netlink()?.ipaddr_add(addr, prefix_len, index)
    }

    /// Removes an address from an interface (libioth's `ioth_ipaddr_del`).
    pub fn ipaddr_del(&self, addr: IpAddr, prefix_len: u8, index: u32) -> io::Result<()> {
        self.netlink()?.ipaddr_del(addr, prefix_len, index)
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

    /// Every address of every interface, as `getifaddrs(3)` lists them.
    pub fn getifaddrs(&self) -> io::Result<Vec<InterfaceAddress>> {
        self.netlink()?.getifaddrs()
    }
}
