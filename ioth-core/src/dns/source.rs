//! Where a resolver's servers, search list, options and hosts table come from: resolv.conf
//! text given by the user, what a stack learned (each configured interface's resolv.conf), or,
//! for the kernel stack with nothing configured, the system's files.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::Name;

use super::conf::{Nameserver, ResolvConf, ResolverOptions};
use super::hosts::Hosts;
use crate::stack::Stack;

/// The servers, search list and options one lookup uses.
#[derive(Clone, Debug, Default)]
pub(crate) struct Effective {
    pub(crate) servers: Vec<SocketAddr>,
    pub(crate) search: Vec<Name>,
    pub(crate) options: ResolverOptions,
    pub(crate) hosts: Arc<Hosts>,
}

/// The servers of a configuration as socket addresses (port 53); an IPv6 link-local server
/// without a scope, or whose scope names no interface of the stack, is skipped with a log.
pub(crate) fn effective(stack: &Stack, conf: &ResolvConf, hosts: Arc<Hosts>) -> Effective {
    let mut servers = Vec::new();
    for ns in &conf.nameservers {
        if let Some(addr) = server_addr(stack, ns, None) {
            servers.push(addr);
        }
    }
    Effective {
        servers,
        search: conf.search.clone(),
        options: conf.options.clone(),
        hosts,
    }
}

fn server_addr(stack: &Stack, ns: &Nameserver, learned_on: Option<u32>) -> Option<SocketAddr> {
    match ns.addr {
        IpAddr::V4(_) => Some(SocketAddr::new(ns.addr, 53)),
        IpAddr::V6(v6) => {
            let scope = match &ns.scope {
                Some(s) => match s.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => match stack.if_nametoindex(s) {
                        Ok(n) => n,
                        Err(e) => {
                            log::warn!(
                                "dns: server {v6}%{s}: no interface {s:?} on the stack: {e}"
                            );
                            return None;
                        }
                    },
                },
                None => learned_on.unwrap_or(0),
            };
            if v6.is_unicast_link_local() && scope == 0 {
                log::warn!("dns: link-local server {v6} without a scope: skipped");
                return None;
            }
            let scope = if v6.is_unicast_link_local() { scope } else { 0 };
            Some(SocketAddr::V6(SocketAddrV6::new(v6, 53, 0, scope)))
        }
    }
}

/// What the stack learned, as one configuration: each configured interface's resolv.conf
/// text in turn; on a kernel stack with nothing configured, the system's files.
pub(crate) fn learned(stack: &Stack) -> Effective {
    let ifindexes = stack.conf_state().ifindexes();
    let mut servers = Vec::new();
    let mut search: Vec<Name> = Vec::new();
    for ifindex in ifindexes {
        let text = stack.resolv_conf(ifindex);
        let conf = ResolvConf::parse_lenient(&text);
        for ns in &conf.nameservers {
            if let Some(a) = server_addr(stack, ns, Some(ifindex))
                && !servers.contains(&a)
            {
                servers.push(a);
            }
        }
        for d in conf.search {
            if !search.contains(&d) {
                search.push(d);
            }
        }
    }
    if servers.is_empty() && search.is_empty() && stack.implementation() == "kernel" {
        let dir = netns_dir(stack.options());
        let read = |file: &str| {
            dir.as_ref()
                .and_then(|d| std::fs::read_to_string(format!("{d}/{file}")).ok())
                .or_else(|| std::fs::read_to_string(format!("/etc/{file}")).ok())
                .unwrap_or_default()
        };
        let conf = ResolvConf::parse_lenient(&read("resolv.conf"));
        let mut hosts = Hosts::parse(&read("hosts"));
        if hosts.is_empty() {
            hosts = Hosts::loopback();
        }
        return effective(stack, &conf, Arc::new(hosts));
    }
    Effective {
        servers,
        search,
        options: ResolverOptions::default(),
        hosts: Arc::new(Hosts::loopback()),
    }
}

/// `/etc/netns/NAME` for a kernel stack made with `netns=NAME` (not a path), if it exists.
fn netns_dir(options: &str) -> Option<String> {
    let name = options.split(',').find_map(|o| o.strip_prefix("netns="))?;
    if name.contains('/') {
        return None;
    }
    let dir = format!("/etc/netns/{name}");
    Path::new(&dir).is_dir().then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_files_only_for_named_namespaces() {
        assert_eq!(netns_dir("netns=/proc/1/ns/net"), None);
        assert_eq!(netns_dir(""), None);
    }
}
