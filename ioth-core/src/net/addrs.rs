//! [`ToSocketAddrs`]: addresses, and names resolved over a given stack.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::stack::Stack;

/// Values that give socket addresses, like `std::net::ToSocketAddrs`, but resolved over a
/// stack: a name is looked up by that stack's own resolver ([`crate::dns`]), never by the
/// host's. Implemented for the same types as std's trait (addresses, `(host, port)` pairs,
/// `"host:port"` strings, slices of addresses), so code written against `std::net` keeps
/// compiling and keeps its queries inside its node.
///
/// ```
/// use std::net::SocketAddr;
/// use std::sync::Arc;
/// use ioth::net::ToSocketAddrs;
/// # fn main() -> std::io::Result<()> {
/// let stack = ioth::Stack::new("kernel", &[])?;
/// stack.resolver().set_hosts(Arc::new(ioth::dns::Hosts::parse("10.0.0.80 web.lan\n")));
/// let web: SocketAddr = "10.0.0.80:80".parse().expect("an address");
/// assert_eq!("web.lan:80".to_socket_addrs_on(&stack)?, [web]);
/// assert_eq!(("web.lan", 80).to_socket_addrs_on(&stack)?, [web]);
/// assert_eq!(web.to_socket_addrs_on(&stack)?, [web]); // literals as themselves
/// assert_eq!(stack.resolve("web.lan:80")?, [web]); // the same, by the stack
/// # Ok(())
/// # }
/// ```
pub trait ToSocketAddrs {
    /// The addresses, resolved over `stack` when a name is involved.
    fn to_socket_addrs_on(&self, stack: &Stack) -> io::Result<Vec<SocketAddr>>;

    /// The host name and port this value names when resolving it needs the stack's
    /// resolver (which may block); None for addresses and literals, and for text that is not
    /// `host:port` (whose error `to_socket_addrs_on` gives). Lets async callers resolve
    /// off their runtime's threads.
    #[doc(hidden)]
    fn host_to_resolve(&self) -> Option<(String, u16)> {
        None
    }
}

macro_rules! literal {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {
            fn to_socket_addrs_on(&self, _: &Stack) -> io::Result<Vec<SocketAddr>> {
                Ok(vec![SocketAddr::from(*self)])
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for (&str, u16) {
    fn to_socket_addrs_on(&self, stack: &Stack) -> io::Result<Vec<SocketAddr>> {
        let (host, port) = *self;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        stack.resolve_host(host, port)
    }
    fn host_to_resolve(&self) -> Option<(String, u16)> {
        let (host, port) = *self;
        host.parse::<IpAddr>()
            .is_err()
            .then(|| (host.to_owned(), port))
    }
}

impl ToSocketAddrs for (String, u16) {
    fn to_socket_addrs_on(&self, stack: &Stack) -> io::Result<Vec<SocketAddr>> {
        (self.0.as_str(), self.1).to_socket_addrs_on(stack)
    }
    fn host_to_resolve(&self) -> Option<(String, u16)> {
        (self.0.as_str(), self.1).host_to_resolve()
    }
}

/// The name and port of `"host:port"` text that is not an address literal.
fn host_of_text(text: &str) -> Option<(String, u16)> {
    if text.parse::<SocketAddr>().is_ok() {
        return None;
    }
    let (host, port) = crate::dns::split_host_port(text).ok()?;
    (host, port).host_to_resolve()
}

impl ToSocketAddrs for str {
    fn to_socket_addrs_on(&self, stack: &Stack) -> io::Result<Vec<SocketAddr>> {
        stack.resolve(self)
    }
    fn host_to_resolve(&self) -> Option<(String, u16)> {
        host_of_text(self)
    }
}

impl ToSocketAddrs for String {
    fn to_socket_addrs_on(&self, stack: &Stack) -> io::Result<Vec<SocketAddr>> {
        stack.resolve(self)
    }
    fn host_to_resolve(&self) -> Option<(String, u16)> {
        host_of_text(self)
    }
}

impl ToSocketAddrs for [SocketAddr] {
    fn to_socket_addrs_on(&self, _: &Stack) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl ToSocketAddrs for Vec<SocketAddr> {
    fn to_socket_addrs_on(&self, _: &Stack) -> io::Result<Vec<SocketAddr>> {
        Ok(self.clone())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_socket_addrs_on(&self, stack: &Stack) -> io::Result<Vec<SocketAddr>> {
        (**self).to_socket_addrs_on(stack)
    }
    fn host_to_resolve(&self) -> Option<(String, u16)> {
        (**self).host_to_resolve()
    }
}
