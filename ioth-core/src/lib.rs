//! # ioth: the Internet of Threads
//!
//! Any process, and any thread inside it, can be a network node of its own: its own TCP/IP
//! stack, its own addresses, its own virtual Ethernet cable, without root and without touching
//! the host's network configuration.
//!
//! - A [`Stack`] is made from an implementation name and virtual network locators (VNLs):
//!   `Stack::new("smoltcp", &["vde:///tmp/hub"])`. Implementations are backends linked into the
//!   program ([`registry`]) or plugins loaded at run time ([`plugin`]), both seen through one
//!   contract ([`Backend`], [`StackOps`], [`SocketOps`]).
//! - Sockets are real file descriptors: they work with poll, select, epoll and mio.
//!   [`net`] has std-like [`net::TcpStream`], [`net::TcpListener`], [`net::UdpSocket`];
//!   [`Socket`] is the general socket; [`bsd`] is libioth's descriptor-based interface.
//! - A socket opened without naming a stack uses the thread's default stack, else the process
//!   default, else the kernel ([`current_stack`]).
//! - Errors are `std::io::Error` with the errno Linux gives ([`errno_of`] reads it back).
//!
//! ```
//! use ioth::{Stack, net::UdpSocket};
//! # fn main() -> std::io::Result<()> {
//! let stack = Stack::new("kernel", &[])?; // the host's stack, built into `ioth`
//! let server = stack.udp_bind("127.0.0.1:0")?; // a socket on a named stack
//!
//! let _guard = stack.enter(); // this thread's default stack until the guard drops
//! let client = UdpSocket::bind("127.0.0.1:0")?; // opened on the thread default
//! client.send_to(b"ciao", server.local_addr()?)?;
//!
//! let mut buf = [0u8; 16];
//! let (n, from) = server.recv_from(&mut buf)?;
//! assert_eq!((&buf[..n], from), (&b"ciao"[..], client.local_addr()?));
//! assert_eq!(stack.open_sockets(), 2);
//! # Ok(())
//! # }
//! ```
//!
//! A user-space stack is the same code with another configuration: link the `ioth-smoltcp`
//! crate (`use ioth_smoltcp as _;`) and make the stack with
//! `Stack::from_config("stack=smoltcp vnl=hub://@lan eth ip=10.0.0.1/24")`; that crate's
//! documentation runs such nodes on an in-process hub. This crate's examples use the kernel
//! stack on 127.0.0.1, which needs no root.

pub mod backend;
pub mod bsd;
pub mod cmsg;
pub mod config;
mod config_watch;
mod configured;
pub mod counters;
mod defaults;
pub mod dns;
pub mod dump;
mod error;
mod fdtable;
pub mod kernel;
mod license;
pub mod net;
pub mod plugin;
pub mod registry;
mod socket;
mod stack;
pub mod sys;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use backend::{Backend, Ioctl, RecvMeta, SockAddr, SocketOps, StackOps};
pub use config_watch::ConfigWatch;
pub use configured::Configured;
pub use defaults::{
    ThreadStackGuard, current_stack, default_stack, set_default_stack, set_thread_stack,
    thread_stack,
};
pub use error::{ErrnoError, errno, errno_of, errno_with, with_context};
pub use license::{license, set_license};
pub use socket::{RecvFromTo, Socket};
pub use stack::{Stack, find_backend, split_ifname, split_implementation};

/// The configuration layer (rtnetlink server and client, iothconf, hash addresses).
pub use nlconf;

/// Re-exported for backends that register with [`registry::LINKED_BACKENDS`].
pub use linkme;
