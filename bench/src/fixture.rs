//! Stacks wired for a measurement: smoltcp stacks on an in-process hub, configured through
//! the stack's own rtnetlink as any application would.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ioth::Stack;

/// A name unique in this run (pid + counter), for hubs, namespaces and paths.
pub(crate) fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "ib{}{}{}",
        tag,
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Brings `ifname` of `stack` up with `addr/prefix`; returns its index.
pub(crate) fn configure(
    stack: &Stack,
    ifname: &str,
    addr: Ipv4Addr,
    prefix: u8,
) -> io::Result<u32> {
    let nl = stack.netlink()?;
    let idx = nl.if_nametoindex(ifname)?;
    nl.link_set_up(idx, true)?;
    nl.ipaddr_add(IpAddr::V4(addr), prefix, idx)?;
    Ok(idx)
}

/// Whose TCP a smoltcp stack runs (its `tcp=` option).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    /// smoltcp's TCP sockets (`tcp=smoltcp`).
    Smoltcp,
    /// Our engine, `ioth-tcp` (`tcp=ioth`, the default).
    Ioth,
}

impl Engine {
    /// The engine of a stack made without `tcp=`.
    pub(crate) const DEFAULT: Engine = Engine::Ioth;

    /// Both, ours first.
    pub(crate) const BOTH: [Engine; 2] = [Engine::Ioth, Engine::Smoltcp];

    /// The stack name with its options, for `Stack::new`.
    pub(crate) fn stack_name(self) -> &'static str {
        match self {
            Engine::Smoltcp => "smoltcp,tcp=smoltcp",
            Engine::Ioth => "smoltcp,tcp=ioth",
        }
    }

    /// The suffix of row names measuring this engine.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Engine::Smoltcp => "tcp_smoltcp",
            Engine::Ioth => "tcp_ioth",
        }
    }

    /// The socket buffers a connection of this engine has by default, for row notes.
    pub(crate) fn buffers(self) -> &'static str {
        match self {
            Engine::Smoltcp => "64 KiB socket buffers",
            Engine::Ioth => "default buffers (receive 128 KiB autotuned up to 6 MiB, send 1 MiB)",
        }
    }
}

/// A smoltcp stack with one interface `vde0` on `vnl`, up, at `addr/24` (the default TCP,
/// our engine).
pub(crate) fn smoltcp_stack(vnl: &str, addr: Ipv4Addr) -> io::Result<Stack> {
    engine_stack(vnl, addr, Engine::DEFAULT)
}

/// A smoltcp stack running `engine`'s TCP, with one interface `vde0` on `vnl`, up, at
/// `addr/24`.
pub(crate) fn engine_stack(vnl: &str, addr: Ipv4Addr, engine: Engine) -> io::Result<Stack> {
    let stack = Stack::new(engine.stack_name(), &[vnl])?;
    configure(&stack, "vde0", addr, 24)?;
    Ok(stack)
}

/// Two smoltcp stacks on one fresh in-process hub: 10.9.0.1 (`a`) and 10.9.0.2 (`b`).
pub(crate) struct Pair {
    pub a: Stack,
    pub b: Stack,
}

/// Address of [`Pair::a`].
pub(crate) const A_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
/// Address of [`Pair::b`].
pub(crate) const B_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);

impl Pair {
    /// Two stacks with the default TCP (our engine).
    pub(crate) fn new() -> io::Result<Pair> {
        Pair::with(Engine::DEFAULT)
    }

    /// Two stacks running `engine`'s TCP.
    pub(crate) fn with(engine: Engine) -> io::Result<Pair> {
        let vnl = format!("hub://@{}", unique("pair"));
        Ok(Pair {
            a: engine_stack(&vnl, A_IP, engine)?,
            b: engine_stack(&vnl, B_IP, engine)?,
        })
    }
}

/// Runs `f` until it returns true or `limit` passes; sleeps a little between tries.
pub(crate) fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
