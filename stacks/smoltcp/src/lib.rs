//! A user-space TCP/IP stack per thread, on smoltcp, as an ioth backend (`"smoltcp"`).
//!
//! `Stack::new("smoltcp", &["vde:///tmp/hub", "eth1:hub://@lan"])` makes a stack with `lo`
//! (127.0.0.1/8, ::1, up) and one Ethernet interface per VNL (`vde0`, `vde1`, ... or the name
//! given before the VNL), each down and without addresses until configured: through rtnetlink
//! on the stack (`stack.ipaddr_add(...)`, `stack.link_set_up(...)`, a configuration string),
//! as Linux does.
//!
//! How it runs (see `driver`): no thread per stack and no fixed tick. A small pool of driver
//! threads waits on every stack's links and timers; application calls flush egress at once.
//! Every socket has a real descriptor (`readiness`) that polls readable, writable and hung up
//! exactly when the matching call would not block; blocking calls wait on it.
//!
//! What it offers: IPv4 and IPv6, ARP and neighbour discovery, answers to ping, UDP (unicast,
//! broadcast with SO_BROADCAST, multicast joins), TCP with a real listen backlog, ephemeral
//! ports, raw ICMPv6 sockets (neighbour discovery daemons), routing across interfaces and
//! gateways, netlink configuration, the interface ioctls.
//!
//! TCP is our own engine (`ioth_tcp`, see `tcp_ioth`) by default, with Linux-named settings
//! (`tcp_min_rto=MS`, `tcp_max_rto=MS`, `tcp_cc=cubic|reno`, `tcp_syn_retries=N`; see
//! `stack_options`); `Stack::new("smoltcp,tcp=smoltcp", ..)` gives a stack smoltcp's TCP
//! sockets instead.
//! Differences from Linux that remain are listed in docs/architecture.md.
//!
//! Linked into a program the backend is found by name (write `use ioth_smoltcp as _;` if the
//! program names it only by string); the crate's cdylib is the plugin `ioth_smoltcp.so`.
//!
//! Two nodes on an in-process hub (`hub://@NAME`: no file, no process, no root), each with
//! its own stack and address, and a TCP echo between them:
//!
//! ```no_run
#![doc = include_str!("../tests/doc/hub_echo.rs")]
//! ```
//!
//! The examples of this crate are `no_run` doctests, type-checked with the others, and run
//! by `tests/doc_examples.rs`: run as doctests in a workspace run, they would link a build
//! of this crate that the plugin fixtures replaced (see that file).

mod announce;
mod autoconf;
mod core;
mod counters;
mod device;
mod driver;
mod icmp;
mod ident;
mod in_call;
mod inbox;
mod netlink;
mod options;
mod pktinfo;
mod raw6;
mod readiness;
mod snmp;
mod sockets;
mod stack;
mod stack_options;
mod steer;
mod tcp_ioth;
mod waiting;

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ioth::{Backend, StackOps, errno_with};

pub use driver::driver_threads;

/// For the fuzz target `tcp_fast_frame` only: runs the classifiers of the TCP fast path
/// (`tcp_ioth::fast`) on `frame`, as a link's ingress and the egress snoop do, and checks
/// what they take out of it lies inside it.
#[doc(hidden)]
pub fn fuzz_fast_frame(frame: &[u8], mac: [u8; 6]) {
    if let Some(seg) = tcp_ioth::fast::inbound(frame, mac) {
        assert!(seg.tcp.len() <= frame.len());
    }
    let _ = tcp_ioth::fast::neighbour_news(frame);
    let _ = tcp_ioth::fast::sent_tcp(frame);
}

/// The implementation name.
pub const NAME: &str = "smoltcp";

/// The smoltcp backend.
///
/// Found by name ([`NAME`]) once linked. A stack's interfaces are configured as Linux's are,
/// through rtnetlink on the stack (the configuration helpers of `ioth::Stack`) or from a
/// configuration string:
///
/// ```no_run
#[doc = include_str!("../tests/doc/configure.rs")]
/// ```
///
/// `stack.iplink_add(Some("lan1"), None, "vde", Some("hub://@other"))` adds an interface
/// to a running stack.
#[derive(Debug, Default, Clone, Copy)]
pub struct SmoltcpBackend;

#[linkme::distributed_slice(ioth::registry::LINKED_BACKENDS)]
#[linkme(crate = ioth::linkme)]
static SMOLTCP: fn() -> Arc<dyn Backend> = || Arc::new(SmoltcpBackend);

ioth::export_plugin!("smoltcp", SmoltcpBackend, "LGPL-2.1-or-later");

impl Backend for SmoltcpBackend {
    fn name(&self) -> &str {
        NAME
    }

    /// A stack on `vnls` with `options` (see `stack_options`: `tcp=smoltcp|ioth` and the
    /// engine's `tcp_*` settings; anything else is `EINVAL` naming it).
    fn new_stack(&self, vnls: &[&str], options: &str) -> io::Result<Box<dyn StackOps>> {
        let options = stack_options::StackOptions::parse(options)?;
        let connect_timeout = stack_options::syn_timeout(options.engine.syn_retries);
        let announce = options.announce;
        let macs: Vec<Option<[u8; 6]>> = vnls
            .iter()
            .enumerate()
            .map(|(i, vnl)| {
                let name = ioth::split_ifname(vnl)
                    .0
                    .map_or_else(|| format!("vde{i}"), str::to_owned);
                options.default_mac(i, &name)
            })
            .collect();
        let tcp = match options.tcp {
            stack_options::TcpImpl::Smoltcp => None,
            stack_options::TcpImpl::Ioth => {
                let mut config = options.engine;
                core::random_bytes(&mut config.secret);
                Some(config)
            }
        };
        static KEYS: AtomicU64 = AtomicU64::new(1);
        let key = KEYS.fetch_add(1, Ordering::Relaxed);
        let driver = driver::assign()?;
        let mut core = core::Core::new(driver.clone(), key, tcp)?;
        core.connect_timeout = connect_timeout;
        core.announce = announce;
        let mut watched = Vec::new();
        for (i, vnl) in vnls.iter().enumerate() {
            let (name, vnl) = ioth::split_ifname(vnl);
            let name = name.map_or_else(|| format!("vde{i}"), str::to_owned);
            if name.is_empty() || name.len() > nlconf::model::IFNAME_MAX {
                return Err(errno_with(
                    libc::EINVAL,
                    format!("bad interface name {name:?}"),
                ));
            }
            let link = vde::open(vnl).map_err(|e| {
                // vde's errors about a path name it (or the directory above it that is at
                // fault): the VNL holding the same path is not repeated in front.
                let text = e.to_string();
                let address = vde::Vnl::parse(vnl).map(|v| v.address).unwrap_or_default();
                let named = std::path::Path::new(&address)
                    .ancestors()
                    .filter(|a| a.components().count() > 2)
                    .any(|a| text.contains(&*a.to_string_lossy()));
                if named {
                    ioth::with_context(&e, format_args!("cannot open VNL for {name}"))
                } else {
                    ioth::with_context(&e, format_args!("cannot open VNL {vnl:?}"))
                }
            })?;
            let fd = link.as_raw_fd();
            let slot = core.add_link_iface(&name, link, None, macs[i])?;
            watched.push((slot, fd));
        }
        let shared = stack::Shared::new(core, key, driver.clone());
        driver.add_stack(key, Arc::downgrade(&shared));
        for (slot, fd) in watched {
            driver.watch(key, slot as u32, fd)?;
        }
        Ok(Box::new(stack::SmolStack { shared }))
    }
}
