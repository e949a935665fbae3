//! Names the OTIP tools resolve (a base address given as a name, an internal server), over a
//! stack of their own with `ioth::dns::Resolver`: never the host's resolver unless that
//! stack is the kernel's.
//!
//! `--dns` takes what the originals took (libiothdns's `iothdns_init_strcfg`): a comma list
//! of server addresses (text made only of hex digits, `.`, `:` and `,`) or resolv.conf text.
//! Here both are read strictly: a bad address or line is an error, where the original
//! skipped it.

use std::net::{IpAddr, Ipv6Addr};

use ioth::Stack;
use ioth::dns::{RecordType, Resolver};

/// Whether `text` is the short form of `--dns`: server addresses separated by commas.
fn is_address_list(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | ','))
}

/// The resolv.conf text a `--dns` value stands for: a comma list becomes one `nameserver`
/// line per address (each must be an IP address); other text is resolv.conf already.
pub fn dns_text(value: &str) -> Result<String, String> {
    if !is_address_list(value) {
        return Ok(value.to_owned());
    }
    let mut text = String::new();
    for addr in value.split(',') {
        if addr.parse::<IpAddr>().is_err() {
            return Err(format!(
                "--dns {value:?}: `{addr}` is not an IP address (give a comma list of \
                 addresses or resolv.conf text)"
            ));
        }
        text.push_str(&format!("nameserver {addr}\n"));
    }
    Ok(text)
}

/// A resolver over `stack`: the servers `dns` names (see [`dns_text`]; it must name at
/// least one), or without it the
/// stack's own (what its configuration string or autoconfiguration gave it; the system's
/// resolv.conf for a kernel stack with nothing configured).
pub fn resolver(stack: &Stack, dns: Option<&str>) -> Result<Resolver, String> {
    match dns {
        None => Ok(Resolver::for_stack(stack)),
        Some(value) => {
            let text = dns_text(value)?;
            let r =
                Resolver::from_conf(stack, &text).map_err(|e| format!("--dns {value:?}: {e}"))?;
            if r.servers().is_empty() {
                return Err(format!(
                    "--dns {value:?}: names no server (give a comma list of addresses or \
                     resolv.conf text with nameserver lines)"
                ));
            }
            Ok(r)
        }
    }
}

/// The first IPv6 address of `name` (an IPv6 literal is itself, without a query).
pub fn lookup_aaaa(resolver: &Resolver, name: &str) -> Result<Ipv6Addr, String> {
    if let Ok(a) = name.parse::<Ipv6Addr>() {
        return Ok(a);
    }
    let found = resolver
        .lookup(name, RecordType::AAAA)
        .map_err(|e| e.to_string())?;
    found
        .ips()
        .find_map(|ip| match ip {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        })
        .ok_or_else(|| format!("{name} has no AAAA record"))
}

/// The address of an internal server: an IP literal as itself; else its first AAAA record,
/// else its first A record (libiothdns's `lookup_aaaa_compat` order; an IPv4 server is
/// reached over IPv4 rather than as `::ffff:a.b.c.d`).
pub fn lookup_host(resolver: &Resolver, name: &str) -> Result<IpAddr, String> {
    if let Ok(a) = name.parse::<IpAddr>() {
        return Ok(a);
    }
    let v6 = resolver.lookup(name, RecordType::AAAA);
    if let Some(ip) = v6.as_ref().ok().and_then(|l| l.ips().next()) {
        return Ok(ip);
    }
    match resolver.lookup(name, RecordType::A) {
        Ok(l) => l
            .ips()
            .next()
            .ok_or_else(|| format!("{name} has no AAAA or A record")),
        Err(e) => Err(match v6 {
            Err(first) => format!("{first}; {e}"),
            Ok(_) => e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_lists_become_nameserver_lines() {
        assert_eq!(
            dns_text("10.0.0.53,fc00::53").unwrap(),
            "nameserver 10.0.0.53\nnameserver fc00::53\n"
        );
        assert_eq!(dns_text("8.8.8.8").unwrap(), "nameserver 8.8.8.8\n");
        let e = dns_text("10.0.0.53,,1.2.3.4").unwrap_err();
        assert!(e.contains("`` is not an IP address"), "{e}");
        let e = dns_text("abc").unwrap_err();
        assert!(e.contains("`abc` is not an IP address"), "{e}");
    }

    #[test]
    fn other_text_is_resolv_conf() {
        let text = "nameserver 10.0.0.53\nsearch example.test\n";
        assert_eq!(dns_text(text).unwrap(), text);
    }
}
