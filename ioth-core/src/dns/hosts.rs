//! A hosts file (`/etc/hosts` format): `ADDR NAME [ALIAS…]`, `#` comments.
//!
//! Names match without regard to case and to one trailing dot. Lines that do not start with an
//! IPv4 or IPv6 address are skipped, as glibc does.

use std::net::IpAddr;

/// The entries of a hosts file, in file order.
///
/// ```
/// use std::net::IpAddr;
/// use ioth::dns::Hosts;
/// # fn main() -> Result<(), std::net::AddrParseError> {
/// let text = "# a comment\n10.0.0.1 gw.lan gw\nfe80::1%eth0 gw.lan\nnot-an-address x\n";
/// let hosts = Hosts::parse(text);
/// assert_eq!(hosts.lookup("GW.lan"), ["10.0.0.1".parse::<IpAddr>()?, "fe80::1".parse()?]);
/// assert_eq!(hosts.reverse("10.0.0.1".parse()?), Some("gw.lan"));
/// assert!(hosts.lookup("x").is_empty()); // its line has no address: skipped
/// assert_eq!(Hosts::loopback().lookup("a.localhost").len(), 2); // RFC 6761
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hosts {
    entries: Vec<(IpAddr, Vec<String>)>,
}

fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl Hosts {
    /// Reads hosts-file text.
    pub fn parse(text: &str) -> Hosts {
        let mut entries = Vec::new();
        for line in text.lines() {
            let content = line.split('#').next().unwrap_or("");
            let mut words = content.split_whitespace();
            let Some(addr) = words.next() else { continue };
            // An IPv6 address may carry a scope (`fe80::1%eth0`): the scope is dropped.
            let Ok(addr) = addr.split('%').next().unwrap_or(addr).parse::<IpAddr>() else {
                log::debug!("hosts: {line:?} does not start with an address; skipped");
                continue;
            };
            let names: Vec<String> = words.map(normalize).filter(|n| !n.is_empty()).collect();
            if !names.is_empty() {
                entries.push((addr, names));
            }
        }
        Hosts { entries }
    }

    /// The localhost names every node knows (RFC 6761 §6.3): `localhost` and names under
    /// `.localhost` are the loopback addresses.
    pub fn loopback() -> Hosts {
        Hosts {
            entries: vec![
                (IpAddr::from([127, 0, 0, 1]), vec!["localhost".into()]),
                (
                    IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                    vec!["localhost".into()],
                ),
            ],
        }
    }

    /// Every address listed for `name`, in file order. `localhost` and names under
    /// `.localhost` always have addresses (RFC 6761 §6.3): the table's own for `localhost`,
    /// else the loopback addresses, so a table without them never sends them to DNS.
    pub fn lookup(&self, name: &str) -> Vec<IpAddr> {
        let name = normalize(name);
        let out = self.listed(&name);
        if !out.is_empty() || !(name == "localhost" || name.ends_with(".localhost")) {
            return out;
        }
        let own = self.listed("localhost");
        if own.is_empty() {
            Hosts::loopback().listed("localhost")
        } else {
            own
        }
    }

    /// The addresses listed for the normalized `name`, in file order, once each.
    fn listed(&self, name: &str) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for (addr, names) in &self.entries {
            if names.iter().any(|n| n == name) && !out.contains(addr) {
                out.push(*addr);
            }
        }
        out
    }

    /// The first name listed for `addr`.
    pub fn reverse(&self, addr: IpAddr) -> Option<&str> {
        self.entries
            .iter()
            .find(|(a, _)| *a == addr)
            .and_then(|(_, names)| names.first())
            .map(String::as_str)
    }

    /// Whether the file listed nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_and_aliases_match_in_any_case() {
        let hosts = Hosts::parse(
            "127.0.0.1 localhost\n10.0.0.5  Web.Example.Test web # the web\n\
             ::1 localhost ip6-localhost\nnot-an-address foo\n10.0.0.6 web\n",
        );
        assert_eq!(
            hosts.lookup("WEB.example.test."),
            [IpAddr::from([10, 0, 0, 5])]
        );
        assert_eq!(hosts.lookup("web").len(), 2);
        assert_eq!(hosts.lookup("localhost").len(), 2);
        assert!(hosts.lookup("foo").is_empty());
        assert_eq!(
            hosts.reverse(IpAddr::from([10, 0, 0, 5])),
            Some("web.example.test")
        );
    }

    #[test]
    fn loopback_names_are_built_in() {
        let hosts = Hosts::loopback();
        assert_eq!(hosts.lookup("db.localhost").len(), 2);
        assert!(hosts.lookup("localhost.example").is_empty());
    }

    #[test]
    fn every_table_answers_localhost() {
        let without = Hosts::parse("10.0.0.5 web\n");
        assert_eq!(
            without.lookup("localhost"),
            [
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
            ]
        );
        assert_eq!(without.lookup("app.LOCALHOST.").len(), 2);
        // A table's own localhost wins, also for names under it.
        let own = Hosts::parse("127.0.1.1 localhost\n");
        assert_eq!(own.lookup("db.localhost"), [IpAddr::from([127, 0, 1, 1])]);
        assert!(without.lookup("notlocalhost").is_empty());
    }

    proptest! {
        #[test]
        fn any_text_is_read_without_panic(text in "\\PC*(\n\\PC*){0,5}", name in "\\PC{0,20}") {
            let hosts = Hosts::parse(&text);
            let _ = hosts.lookup(&name);
        }
    }
}
