//! # namedhcp: DHCPv6 by name
//!
//! A node is configured by its name alone: it sends its fully qualified domain name in the
//! DHCPv6 Client FQDN option (RFC 4704), the server looks the name up in DNS (AAAA) and gives
//! the node the address found there. The DNS is the lease database; nothing is stored. With
//! iothnamed's hash addresses, every name has an address without any configuration at all.
//!
//! - [`wire`]: strict parsing of client messages over dhcproto, and encoding;
//! - [`fqdn`]: the Client FQDN option, which dhcproto does not decode;
//! - [`reply`]: what the server answers, a pure function of the message, the server's
//!   identity and options, and a lookup ([`reply::answer`]);
//! - [`service`]: the server on a stack (UDP port 547, `ff02::1:2`), run as threads of the
//!   caller by [`spawn`];
//! - [`cli`]: the `namedhcp` command line and rc file;
//! - [`v4`]: `namedhcp4`, the same for DHCPv4 (option 81; A and TXT records).

pub mod cli;
pub mod fqdn;
pub mod reply;
pub mod service;
pub mod v4;
pub mod wire;

pub use reply::{NameLookup, Outcome, Server6, answer, duid_llt};
pub use service::{Config, Counters, Handle, spawn};

/// Parses `bytes` as a client message and answers it: `Ok(Some(reply bytes))`, `Ok(None)`
/// when the server stays silent, `Err` naming what is wrong with a malformed message. This is
/// the whole path a datagram takes through the server, without the sockets.
pub fn answer_bytes(
    server: &Server6,
    bytes: &[u8],
    lookup: &mut dyn FnMut(&str) -> NameLookup,
) -> Result<Option<Vec<u8>>, String> {
    let msg = wire::parse(bytes).map_err(|e| e.to_string())?;
    match answer(server, &msg, lookup) {
        Outcome::Reply(m) => wire::encode(&m).map(Some),
        Outcome::Ignore(why) => {
            log::debug!("{:?} ignored: {why}", msg.msg_type());
            Ok(None)
        }
    }
}
