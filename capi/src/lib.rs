//! # libioth for C, over ioth's stacks
//!
//! This crate builds `libioth.a`, from which `ioth-clink` (`capi/link`) links the drop-in
//! for VirtualSquare's libraries: `libioth.so.0` (exactly the original's symbols plus ours
//! under a version node), `libiothconf.so.0`, `libiothaddr.so.0` and `libiothdns.so.0`. C
//! programs written for libioth compile unchanged against `ioth-core/include/ioth.h` and
//! run on this project's stacks; stack plugins written for libioth load through it.
//!
//! - [`stacks`][]: `struct ioth *` handles, `ioth_newstack`/`v` (the variadic
//!   `ioth_newstackl` is C, `src/newstackl.c`), `ioth_delstack`, the process default and, as
//!   an ioth-rs extension, the per-thread default stack; `ioth_set_license`.
//! - [`sockets`][]: `ioth_msocket`, `ioth_socket`, and every BSD call on ioth descriptors.
//! - [`netconf`][]: the configuration helpers with their leading stack argument.
//! - [`ifaddrs`][]: `ioth_getifaddrs`/`ioth_freeifaddrs`.
//! - [`iothconf`][]: `ioth_newstackc`, `ioth_config`, `ioth_resolvconf` (libiothconf).
//! - [`iothaddr`][]: `iothaddr_hash`, `_hashmac`, `_eui64`, `_hasheui64` (libiothaddr).
//! - [`iothdns`][]: libiothdns's packet toolkit and server helpers (`iothdns.h`).
//!
//! Every exported function runs inside `catch_unwind`: no panic crosses into C. Failures
//! return libioth's failure value (-1 or NULL) with `errno` set to what Linux (or libioth)
//! gives; NULL or unknown pointers give `EFAULT`/`EINVAL` instead of undefined behaviour.
//!
//! The kernel and smoltcp backends are linked in: `ioth_newstack(NULL, NULL)` (the kernel),
//! `"kernel"`, `"smoltcp"` and the NULL default stack need no plugin. Other implementations
//! load as plugins (`ioth_NAME-r.so`, or `ioth_NAME.so`).

// Keep the smoltcp backend linked, so that "smoltcp" is found by name ("kernel" is built into
// `ioth`).
use ioth_smoltcp as _;

mod boundary;
pub mod ifaddrs;
pub mod iothaddr;
pub mod iothconf;
pub mod iothdns;
pub mod netconf;
mod rtnl;
pub mod sockets;
pub mod stacks;
