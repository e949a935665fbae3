//! Names over the stack itself: a DNS stub resolver per stack.
//!
//! In the Internet of Threads a stack is a node's provisioning domain: its names resolve
//! through its own sockets, to the servers it learned itself, and never through the host's
//! resolver or another stack. [`Resolver::for_stack`] is that resolver; [`Stack::resolve`] and
//! the std-like types of [`crate::net`] use it when given a name.
//!
//! A node whose stack learned its server by DHCP (`Stack::from_config("stack=smoltcp
//! vnl=vde:///tmp/sw eth dhcp")`, with the `ioth-smoltcp` crate linked) asks it through
//! `Resolver::for_stack(&stack)`. Here a server on the kernel stack's loopback stands in for
//! it, given to the resolver by address:
//!
//! ```
//! use std::net::Ipv4Addr;
//! use ioth::Stack;
//! use ioth::dns::{RecordType, Resolver};
//! # use ioth::dns::proto::op::{Message, OpCode};
//! # use ioth::dns::proto::rr::{RData, Record, rdata::A};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let stack = Stack::new("kernel", &[])?;
//! let server = stack.udp_bind("127.0.0.1:0")?; // answers one query, below
//! let resolver = Resolver::from_servers(&stack, &[server.local_addr()?]);
//! # let answering = std::thread::spawn(move || -> std::io::Result<()> {
//! #     let mut buf = [0u8; 1500];
//! #     let (n, client) = server.recv_from(&mut buf)?;
//! #     let query = Message::from_vec(&buf[..n]).map_err(std::io::Error::other)?;
//! #     let mut reply = Message::response(query.metadata.id, OpCode::Query);
//! #     reply.add_queries(query.queries.clone());
//! #     let owner = query.queries[0].name.clone();
//! #     let a = RData::A(A(Ipv4Addr::new(10, 0, 0, 80)));
//! #     reply.add_answer(Record::from_rdata(owner, 300, a));
//! #     server.send_to(&reply.to_vec().map_err(std::io::Error::other)?, client)?;
//! #     Ok(())
//! # });
//!
//! let web = resolver.lookup("web.example.test", RecordType::A)?;
//! assert_eq!(web.ips().collect::<Vec<_>>(), [Ipv4Addr::new(10, 0, 0, 80)]);
//! assert_eq!(web.canonical_name().to_ascii(), "web.example.test.");
//! # answering.join().expect("the server thread")?;
//! // Asked again, the answer comes from the cache (its TTL is 300 s).
//! assert!(resolver.lookup("web.example.test", RecordType::A)?.from_cache());
//! # Ok(())
//! # }
//! ```
//!
//! The wire format is hickory-proto's, re-exported as [`proto`] so that callers use the same
//! version.

mod cache;
mod conf;
mod error;
mod hosts;
mod lookup;
mod message;
mod resolver;
mod search;
mod source;
mod transport;

use std::io;
use std::net::SocketAddr;

pub use conf::{ConfError, MAX_NAMESERVERS, Nameserver, ResolvConf, ResolverOptions};
pub use error::{ResolveError, ServerFailure};
pub use hosts::Hosts;
pub use lookup::Lookup;
pub use resolver::Resolver;
pub(crate) use resolver::stack_reconfigured;

/// The DNS wire format library the resolver uses (hickory-proto).
pub use hickory_proto as proto;
pub use hickory_proto::rr::{Name, RecordType};

use crate::stack::Stack;

/// Splits `"host:port"` (`"[v6]:port"` for IPv6 literals) into host and port.
pub(crate) fn split_host_port(s: &str) -> io::Result<(&str, u16)> {
    let invalid =
        |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{s:?}: {what}"));
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| invalid("no port (host:port)"))?;
    let port: u16 = port.parse().map_err(|_| invalid("invalid port"))?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner
            .strip_suffix(']')
            .ok_or_else(|| invalid("unclosed '['"))?,
        None if host.contains(':') => return Err(invalid("an IPv6 address needs brackets")),
        None => host,
    };
    Ok((host, port))
}

impl Stack {
    /// This stack's own resolver (see [`Resolver::for_stack`]).
    pub fn resolver(&self) -> Resolver {
        Resolver::for_stack(self)
    }

    /// The socket addresses `"host:port"` names, resolved over this stack: a literal as
    /// itself, a name through the stack's own resolver (IPv6 first).
    pub fn resolve(&self, host_port: &str) -> io::Result<Vec<SocketAddr>> {
        if let Ok(addr) = host_port.parse::<SocketAddr>() {
            return Ok(vec![addr]);
        }
        let (host, port) = split_host_port(host_port)?;
        self.resolve_host(host, port)
    }

    /// The socket addresses of `host` with `port`, resolved over this stack.
    pub fn resolve_host(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let ips = self.resolver().lookup_ip(host)?;
        Ok(ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect())
    }
}

/// Entry points for the fuzz targets: the resolver's parsers of outside input, without I/O.
#[doc(hidden)]
pub mod fuzzing {
    use super::message::{Question, accept_reply, interpret};

    /// Reads `bytes` as a reply to the question it carries (and, the first two bytes being the
    /// id, as a reply to that id), then interprets it as the resolver would.
    pub fn reply(bytes: &[u8]) {
        let id = u16::from_be_bytes([
            bytes.first().copied().unwrap_or(0),
            bytes.get(1).copied().unwrap_or(0),
        ]);
        let Ok(msg) = hickory_proto::op::Message::from_vec(bytes) else {
            return;
        };
        for q in &msg.queries {
            let question = Question {
                name: q.name.clone(),
                rtype: q.query_type,
            };
            if let Ok(accepted) = accept_reply(bytes, id, &question) {
                let _ = interpret(&accepted, &question);
            }
        }
    }

    /// Reads `text` as resolv.conf (strictly and leniently) and as a hosts file.
    pub fn texts(text: &str) {
        let _ = super::ResolvConf::parse(text);
        let _ = super::ResolvConf::parse_lenient(text);
        let hosts = super::Hosts::parse(text);
        let _ = hosts.lookup(text.lines().next().unwrap_or(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_splits_as_std_does() {
        assert_eq!(split_host_port("web.test:80").ok(), Some(("web.test", 80)));
        assert_eq!(split_host_port("[::1]:53").ok(), Some(("::1", 53)));
        assert!(split_host_port("web.test").is_err());
        assert!(split_host_port("::1:53").is_err());
        assert!(split_host_port("web:99999").is_err());
    }
}
