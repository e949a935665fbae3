//! The daemon's thread: the stack and socket set up in the caller's thread (so errors come
//! back from [`start`]), then a loop that feeds the scheduler solicitations and the clock and
//! sends what it says is due.
//!
//! The loop waits on the socket until the next timer, but never longer than [`TICK`] of real
//! time: the service clock may be a test clock that moves without real time passing, and
//! `ioth_service::clock::Clock` offers no way to wake a `poll(2)` when it moves. Stopping
//! takes as long at most.

use std::io;
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ioth::Stack;
use ioth_service::clock::Clock;

use crate::config::{Config, StackSpec};
use crate::endpoint::{ALL_NODES, Endpoint, link_local};
use crate::schedule::{Scheduler, Send, Timing};

/// The longest the loop waits without looking at the clock.
pub const TICK: Duration = Duration::from_millis(200);

fn context(e: io::Error, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// What the daemon did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Solicitations accepted.
    pub solicitations: u64,
    /// Solicitations (and other messages) discarded.
    pub discarded: u64,
    /// Unsolicited advertisements sent to all nodes.
    pub unsolicited: u64,
    /// Multicast answers to solicitations.
    pub solicited_multicast: u64,
    /// Unicast answers to solicitations.
    pub unicast: u64,
    /// Advertisements that could not be sent.
    pub send_errors: u64,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    solicitations: AtomicU64,
    discarded: AtomicU64,
    unsolicited: AtomicU64,
    solicited_multicast: AtomicU64,
    unicast: AtomicU64,
    send_errors: AtomicU64,
}

impl Shared {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A running daemon. Dropping it stops the thread, after a final advertisement that
/// withdraws the router (RFC 4861 §6.2.5) when its router lifetime is not 0.
#[derive(Debug)]
pub struct Handle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    stack: Stack,
    ifindex: u32,
}

impl Handle {
    /// The stack advertised from (the one made for a VNL, too).
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The advertising interface's index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// What the daemon did so far.
    pub fn counters(&self) -> Counters {
        let s = &self.shared;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            solicitations: get(&s.solicitations),
            discarded: get(&s.discarded),
            unsolicited: get(&s.unsolicited),
            solicited_multicast: get(&s.solicited_multicast),
            unicast: get(&s.unicast),
            send_errors: get(&s.send_errors),
        }
    }

    /// Stops the daemon (as dropping it does) and waits for its thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            log::error!("the iothradvd thread panicked");
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The stack the configuration names, with the advertising interface up for a VNL.
fn open_stack(config: &Config) -> io::Result<Stack> {
    match &config.stack {
        StackSpec::Kernel => Stack::kernel(),
        StackSpec::Config(lines) => ioth_service::stack::build(lines),
        StackSpec::Stack(s) => Ok(s.clone()),
        StackSpec::Vnl { vnl, .. } => {
            let named = match ioth::split_ifname(vnl) {
                (Some(_), _) => vnl.clone(),
                (None, _) => format!("{}:{vnl}", config.iface),
            };
            Stack::new("smoltcp", &[&named])
                .map_err(|e| context(e, format!("a smoltcp stack on {vnl}")))
        }
    }
}

/// Starts advertising as `config` says, on a thread of this process, timed by `clock`.
/// Errors (the stack, the interface, the socket) name what failed.
pub fn start(config: Config, clock: Arc<dyn Clock>) -> io::Result<Handle> {
    config
        .advert
        .check()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let stack = open_stack(&config)?;
    let ifindex = stack
        .if_nametoindex(&config.iface)
        .map_err(|e| context(e, format!("interface {}", config.iface)))?;
    if let StackSpec::Vnl { mac, .. } = &config.stack {
        if let Some(mac) = mac {
            stack
                .link_set_mac(ifindex, *mac)
                .map_err(|e| context(e, "setting the MAC address"))?;
        }
        stack
            .link_set_up(ifindex, true)
            .map_err(|e| context(e, format!("bringing {} up", config.iface)))?;
    }
    let endpoint = Endpoint::open(&stack, ifindex)?;
    for w in config.warnings() {
        log::warn!("{w}");
    }
    let shared = Arc::new(Shared::default());
    let runner = Runner {
        scheduler: Scheduler::new(
            Timing::from_period(config.period),
            clock.now(),
            fastrand::u64(..),
        ),
        config,
        clock,
        endpoint,
        stack: stack.clone(),
        ifindex,
        shared: shared.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("iothradvd".into())
        .spawn(move || runner.run())
        .map_err(|e| context(e, "starting the iothradvd thread"))?;
    Ok(Handle {
        shared,
        thread: Some(thread),
        stack,
        ifindex,
    })
}

struct Runner {
    config: Config,
    clock: Arc<dyn Clock>,
    endpoint: Endpoint,
    stack: Stack,
    ifindex: u32,
    scheduler: Scheduler,
    shared: Arc<Shared>,
}

impl Runner {
    fn run(mut self) {
        log::info!(
            "advertising on {} (index {}) every {} s at most{}",
            self.config.iface,
            self.ifindex,
            self.config.period,
            if self.config.period == 0 {
                " (solicited only)"
            } else {
                ""
            }
        );
        let mut buf = [0u8; 1500];
        while !self.shared.stop.load(Ordering::SeqCst) {
            let now = self.clock.now();
            if self.scheduler.next_deadline().is_some_and(|d| d <= now) {
                match link_local(&self.stack, &self.config.iface) {
                    Some(source) => {
                        for send in self.scheduler.poll(now) {
                            self.send(send, source);
                        }
                    }
                    None => log::debug!(
                        "{}: no link-local address yet: advertisements wait",
                        self.config.iface
                    ),
                }
            }
            let wait = self
                .scheduler
                .next_deadline()
                .map_or(TICK, |d| d.saturating_sub(self.clock.now()))
                .min(TICK);
            if self.wait_readable(wait) {
                self.receive(&mut buf);
            }
        }
        self.farewell();
    }

    /// Waits up to `wait` for a message; true when one may be there.
    fn wait_readable(&self, wait: Duration) -> bool {
        let mut fds = [libc::pollfd {
            fd: self.endpoint.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `fds` is a live array of one pollfd for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) };
        rc > 0 && fds[0].revents & libc::POLLIN != 0
    }

    /// Takes every waiting message.
    fn receive(&mut self, buf: &mut [u8]) {
        loop {
            let got = match self.endpoint.receive(buf) {
                Ok(Some(g)) => g,
                Ok(None) => return,
                Err(e) => {
                    log::warn!("receiving: {e}");
                    return;
                }
            };
            if got.ifindex != 0 && got.ifindex != self.ifindex {
                continue;
            }
            let msg = &buf[..got.len.min(buf.len())];
            if msg.first() != Some(&nlconf::ndisc::message::ROUTER_SOLICITATION) {
                // The stack could not filter other ICMPv6 types out.
                continue;
            }
            match crate::solicit::accept(got.source, got.hop_limit, msg) {
                Ok(_) => {
                    Shared::count(&self.shared.solicitations);
                    log::debug!("router solicitation from {}", got.source);
                    self.scheduler.solicit(self.clock.now(), got.source);
                }
                Err(why) => {
                    Shared::count(&self.shared.discarded);
                    log::debug!("router solicitation from {} discarded: {why}", got.source);
                }
            }
        }
    }

    fn send(&self, send: Send, source: Ipv6Addr) {
        let mac = self.stack.link_mac(self.ifindex).ok();
        let msg = self.config.advert.message(mac).emit();
        let (dst, counter) = match send {
            Send::AllNodes { solicited: false } => (ALL_NODES, &self.shared.unsolicited),
            Send::AllNodes { solicited: true } => (ALL_NODES, &self.shared.solicited_multicast),
            Send::Unicast(host) => (host, &self.shared.unicast),
        };
        match self.endpoint.send(&msg, dst, source) {
            Ok(()) => {
                Shared::count(counter);
                log::debug!(
                    "router advertisement to {dst} ({send:?}), {} bytes",
                    msg.len()
                );
            }
            Err(e) => {
                Shared::count(&self.shared.send_errors);
                log::warn!("router advertisement to {dst}: {e}");
            }
        }
    }

    /// The final advertisement (RFC 4861 §6.2.5), when hosts may use us as a default router.
    fn farewell(&self) {
        if self.config.advert.router_lifetime == 0 {
            return;
        }
        let Some(source) = link_local(&self.stack, &self.config.iface) else {
            return;
        };
        let mac = self.stack.link_mac(self.ifindex).ok();
        let msg = self.config.advert.final_message(mac).emit();
        match self.endpoint.send(&msg, ALL_NODES, source) {
            Ok(()) => log::info!("final router advertisement sent: router lifetime 0"),
            Err(e) => log::warn!("final router advertisement: {e}"),
        }
    }
}
