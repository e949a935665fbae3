//! libiothdns for C: the packet toolkit and the server helpers of VirtualSquare's iothdns,
//! declared in `ioth-core/include/iothdns.h` and exported by `libioth.so` (`-liothdns` is a
//! linker script naming libioth; see `cargo xtask install`).
//!
//! - [`pkt`][]: `iothdns_put_*` (compose), `iothdns_get_*` (parse), `iothdns_getbuf`,
//!   `iothdns_free`, `iothdns_retrieve_header`/`iothdns_rewrite_header`.
//! - [`server`][]: `iothdns_udp_process_request`, `iothdns_tcp_process_request` on ioth
//!   sockets.
//! - [`resolver`][]: `struct iothdns` handles over [`ioth::dns::Resolver`] (init, update,
//!   add_nameserver, setpath/getpath, fini) and the lookups (`iothdns_lookup_a`, `_aaaa`,
//!   `_aaaa_compat`, `_cb`, `_cb_tcp`).
//! - [`gai`][]: `iothdns_getaddrinfo`, `iothdns_getnameinfo`, `iothdns_freeaddrinfo`,
//!   `iothdns_gai_strerror`.
//!
//! The wire format is hickory-proto's (`wire`, `names`); this module only checks C
//! arguments, keeps the packets and sets `errno`. Where the original library crashed,
//! dropped data silently or read past a buffer, the calls fail with an errno instead; the
//! header's opening comment gives the conventions and README.md lists every difference.

pub mod gai;
pub(crate) mod names;
pub mod pkt;
pub mod resolver;
pub mod server;
mod types;
pub(crate) mod wire;

pub use types::*;
