//! DHCPv4 on an interface.
//!
//! The client is smoltcp's DHCPv4 socket (discover, request, renewal at T1, rebinding, lease
//! expiry); what it learns is installed through the stack's own tables, so netlink reports a
//! leased address and its default route (`proto dhcp`) like any other, and removed when the
//! lease ends or the client stops.
//!
//! The client asks for the domain name (option 15) and the domain search list (option 119,
//! RFC 3397), which smoltcp's socket does not report. Its only way to show the options, a
//! receive buffer borrowed for as long as the socket set (`'static` here), would cost a
//! leaked buffer per start (or `unsafe` to take it back), so the options are read elsewhere:
//! the interface's poll shows each received frame to [`Dhcp::snoop`] before smoltcp takes
//! it, which keeps the domains of the last DHCPACK sent to this interface's MAC (checksums
//! verified as smoltcp does). A lease takes them when the ACK matches it (same address, same
//! server identifier); a renewal that changes only the domains updates them in place. A
//! DHCPACK in IPv4 fragments is not seen (smoltcp reassembles it; the snoop does not): its
//! lease has no domains.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use smoltcp::iface::SocketHandle;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::dhcpv4;
use smoltcp::wire::{
    DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpMessageType, DhcpPacket, DhcpRepr, EthernetFrame,
    EthernetProtocol, IpProtocol, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

use crate::core::{Attachment, Core};

use super::err;

/// A DHCPv4 client on one interface, and the lease it installed.
pub(crate) struct Dhcp {
    handle: SocketHandle,
    lease: Option<Lease>,
    /// The last DHCPACK seen on the interface for this client's MAC.
    ack: Option<Ack>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Lease {
    addr: Ipv4Addr,
    prefix: u8,
    router: Option<Ipv4Addr>,
    dns: Vec<Ipv4Addr>,
    /// The server identifier of the server that granted it.
    server: Ipv4Addr,
    /// The search domains: option 119's, then option 15's.
    domains: Vec<String>,
}

impl Lease {
    /// Whether `other` installs the same address and route.
    fn installs_as(&self, other: &Lease) -> bool {
        (self.addr, self.prefix, self.router) == (other.addr, other.prefix, other.router)
    }
}

/// What a DHCPACK said that smoltcp's socket does not report.
#[derive(Debug)]
struct Ack {
    server: Ipv4Addr,
    addr: Ipv4Addr,
    domains: Vec<String>,
}

impl Ack {
    fn is_for(&self, addr: Ipv4Addr, server: Ipv4Addr) -> bool {
        self.addr == addr && self.server == server
    }
}

/// What the client asks the server for: subnet mask, router, DNS servers (smoltcp's own
/// list), domain name and domain search list.
const PARAMETER_REQUEST_LIST: &[u8] = &[1, 3, 6, OPT_DOMAIN_NAME, OPT_DOMAIN_SEARCH];
/// Domain name (RFC 2132 §3.17).
const OPT_DOMAIN_NAME: u8 = 15;
/// Domain search list (RFC 3397).
const OPT_DOMAIN_SEARCH: u8 = 119;

impl Dhcp {
    /// Looks at a frame the interface received, before smoltcp does, and keeps the domains
    /// of a DHCPACK addressed to `mac`.
    pub(crate) fn snoop(&mut self, frame: &[u8], mac: [u8; 6]) {
        if let Some(ack) = dhcp_ack(frame, mac) {
            self.ack = Some(ack);
        }
    }
}

/// The DHCPACK to `mac` that `frame` carries, if it does, with the checks smoltcp makes
/// before its socket sees one (IPv4 and UDP checksums, ports, a server identifier).
fn dhcp_ack(frame: &[u8], mac: [u8; 6]) -> Option<Ack> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Udp || ip.more_frags() || ip.frag_offset() != 0 {
        return None;
    }
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    if udp.src_port() != DHCP_SERVER_PORT || udp.dst_port() != DHCP_CLIENT_PORT {
        return None;
    }
    let caps = ChecksumCapabilities::default();
    let ip_repr = Ipv4Repr::parse(&ip, &caps).ok()?;
    UdpRepr::parse(
        &udp,
        &ip_repr.src_addr.into(),
        &ip_repr.dst_addr.into(),
        &caps,
    )
    .ok()?;
    let packet = DhcpPacket::new_checked(udp.payload()).ok()?;
    let repr = DhcpRepr::parse(&packet).ok()?;
    if repr.message_type != DhcpMessageType::Ack || repr.client_hardware_address.0 != mac {
        return None;
    }
    Some(Ack {
        server: repr.server_identifier?,
        addr: repr.your_ip,
        domains: lease_domains(packet.options().map(|o| (o.kind, o.data))),
    })
}

/// The search domains of a DHCP message's `options` (kind, data): option 119's names, then
/// option 15's name unless already listed. RFC 3397 makes the search list the one to use
/// when both are given, so its order leads; the domain name follows as the last resort, as
/// resolv.conf would have it with only option 15. Several instances of one option are one
/// option, their data concatenated in order (RFC 3396).
fn lease_domains<'a>(options: impl Iterator<Item = (u8, &'a [u8])>) -> Vec<String> {
    let mut search = Vec::new();
    let mut domain = Vec::new();
    for (kind, data) in options {
        match kind {
            OPT_DOMAIN_SEARCH => search.extend_from_slice(data),
            OPT_DOMAIN_NAME => domain.extend_from_slice(data),
            _ => {}
        }
    }
    let mut names = if search.is_empty() {
        Vec::new()
    } else {
        search_list(&search)
    };
    if !domain.is_empty() {
        match domain_name(&domain) {
            Some(d) => names.push(d),
            None => crate::ident::debug!(
                "DHCP domain name {:?} ignored",
                String::from_utf8_lossy(&domain)
            ),
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for n in names {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Decodes option 119's data (the concatenation of its instances): DNS names in wire
/// format, compression pointers counted from the start of `data`. Anything invalid (a name
/// running past the end, a pointer forward or into a loop, a label a host name cannot have)
/// makes the whole list empty.
fn search_list(data: &[u8]) -> Vec<String> {
    let mut decoder = BinDecoder::new(data);
    let mut names = Vec::new();
    while !decoder.is_empty() {
        let name = match Name::read(&mut decoder) {
            Ok(name) => name,
            Err(e) => {
                crate::ident::debug!("DHCP domain search list ignored: {e}");
                return Vec::new();
            }
        };
        match host_domain(&name) {
            Some(text) => names.push(text),
            None => {
                crate::ident::debug!("DHCP domain search list ignored: bad name {name}");
                return Vec::new();
            }
        }
    }
    names
}

/// Option 15's text as a domain name, if it is one (one trailing dot or NUL tolerated).
fn domain_name(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let text = text.trim_end_matches('\0');
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() || text.contains("..") {
        return None;
    }
    host_domain(&Name::from_ascii(text).ok()?)
}

/// `name` as resolv.conf text (lowercase, no trailing dot) when every label holds only what
/// a host name can (letters, digits, `-`, `_`) and it is not the root; nothing a server sends
/// can so put a space or a line break in resolv.conf.
fn host_domain(name: &Name) -> Option<String> {
    let mut labels = Vec::new();
    for label in name.iter() {
        if label.is_empty()
            || !label
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return None;
        }
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
    }
    (!labels.is_empty()).then(|| labels.join("."))
}

impl Core {
    /// Starts (or restarts) DHCPv4 on interface `index`.
    pub(crate) fn dhcp_start(&mut self, index: u32) -> io::Result<()> {
        self.dhcp_stop(index)?;
        let f = self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?;
        if !matches!(f.attach, Attachment::Link(_)) {
            return Err(err(libc::EOPNOTSUPP));
        }
        let mut sock = dhcpv4::Socket::new();
        sock.set_parameter_request_list(PARAMETER_REQUEST_LIST);
        let handle = f.sockets.add(sock);
        f.autoconf.dhcp4 = Some(Dhcp {
            handle,
            lease: None,
            ack: None,
        });
        Ok(())
    }

    /// Stops DHCPv4 on interface `index` and removes what it installed.
    pub(crate) fn dhcp_stop(&mut self, index: u32) -> io::Result<()> {
        let f = self.iface_mut(index).ok_or_else(|| err(libc::ENODEV))?;
        let Some(d) = f.autoconf.dhcp4.take() else {
            return Ok(());
        };
        f.sockets.remove(d.handle);
        if let Some(lease) = d.lease {
            self.uninstall(index, &lease)?;
        }
        Ok(())
    }

    /// The DNS servers and search domains the lease on `index` gave.
    pub(crate) fn dhcp_learned(&self, index: u32) -> Option<(Vec<IpAddr>, Vec<String>)> {
        let lease = self.iface(index)?.autoconf.dhcp4.as_ref()?.lease.as_ref()?;
        Some((
            lease.dns.iter().map(|a| IpAddr::V4(*a)).collect(),
            lease.domains.clone(),
        ))
    }

    /// Collects the DHCP clients' events and applies them; true when the configuration
    /// changed.
    pub(crate) fn run_dhcp4(&mut self) -> bool {
        let mut changes = Vec::new();
        let mut changed = false;
        for f in self.ifaces.iter_mut().flatten() {
            let Some(d) = f.autoconf.dhcp4.as_mut() else {
                continue;
            };
            let sock = f.sockets.get_mut::<dhcpv4::Socket>(d.handle);
            while let Some(event) = sock.poll() {
                let new = match event {
                    dhcpv4::Event::Configured(cfg) => {
                        let addr = cfg.address.address();
                        let server = cfg.server.identifier;
                        let domains = d
                            .ack
                            .as_ref()
                            .filter(|a| a.is_for(addr, server))
                            .map(|a| a.domains.clone())
                            .unwrap_or_default();
                        Some(Lease {
                            addr,
                            prefix: cfg.address.prefix_len(),
                            router: cfg.router,
                            dns: cfg.dns_servers.iter().copied().collect(),
                            server,
                            domains,
                        })
                    }
                    dhcpv4::Event::Deconfigured => None,
                };
                if new == d.lease {
                    continue;
                }
                changed = true;
                match (&d.lease, &new) {
                    // Same address and route: nothing to reinstall.
                    (Some(old), Some(new_lease)) if old.installs_as(new_lease) => {
                        crate::ident::info!("DHCP lease on interface {}: {new_lease:?}", f.index);
                    }
                    _ => changes.push((f.index, d.lease.take(), new.clone())),
                }
                d.lease = new;
            }
            // A renewal changing only the domains gives no event (the socket compares what
            // it reports): the ACK it took is the last one seen.
            if let Some(lease) = d.lease.as_mut()
                && let Some(ack) = d.ack.as_ref()
                && ack.is_for(lease.addr, lease.server)
                && ack.domains != lease.domains
            {
                lease.domains.clone_from(&ack.domains);
                crate::ident::info!("DHCP lease on interface {}: {lease:?}", f.index);
                changed = true;
            }
        }
        for (index, old, new) in changes {
            if let Some(old) = old
                && let Err(e) = self.uninstall(index, &old)
            {
                crate::ident::warn!("removing DHCP lease {old:?}: {e}");
            }
            if let Some(new) = new {
                crate::ident::info!("DHCP lease on interface {index}: {new:?}");
                if let Err(e) = self.install(index, &new) {
                    crate::ident::warn!("installing DHCP lease {new:?}: {e}");
                }
            }
        }
        changed
    }

    fn install(&mut self, index: u32, lease: &Lease) -> io::Result<()> {
        self.iface(index).ok_or_else(|| err(libc::ENODEV))?;
        self.engine_add_addr(index, IpAddr::V4(lease.addr), lease.prefix);
        if let Some(gw) = lease.router {
            self.engine_add_default_route(index, IpAddr::V4(gw), nlconf::model::RTPROT_DHCP, 0);
        }
        self.sync_addrs()?;
        self.sync_routes()
    }

    fn uninstall(&mut self, index: u32, lease: &Lease) -> io::Result<()> {
        self.engine_remove_addr(index, IpAddr::V4(lease.addr), lease.prefix);
        if let Some(gw) = lease.router {
            self.engine_remove_default_route(index, IpAddr::V4(gw), nlconf::model::RTPROT_DHCP);
        }
        self.sync_addrs()?;
        self.sync_routes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 3397 §2's example: "eng.apple.com." and "marketing.apple.com." split over three
    /// option-119 instances, the second name pointing into the first.
    const RFC3397_EXAMPLE: [&[u8]; 3] = [
        b"\x03eng\x05appl",
        b"e\x03com\x00\x09ma",
        b"rketing\xc0\x04",
    ];

    #[test]
    fn rfc_3397_example_split_over_three_options_with_a_pointer() {
        let options = RFC3397_EXAMPLE.iter().map(|d| (OPT_DOMAIN_SEARCH, *d));
        assert_eq!(
            lease_domains(options),
            ["eng.apple.com", "marketing.apple.com"]
        );
    }

    #[test]
    fn the_search_list_comes_first_and_the_domain_name_last_without_repeats() {
        let options = [
            (OPT_DOMAIN_NAME, &b"Apple.COM."[..]),
            (OPT_DOMAIN_SEARCH, RFC3397_EXAMPLE[0]),
            (OPT_DOMAIN_SEARCH, RFC3397_EXAMPLE[1]),
            (OPT_DOMAIN_SEARCH, RFC3397_EXAMPLE[2]),
        ];
        assert_eq!(
            lease_domains(options.into_iter()),
            ["eng.apple.com", "marketing.apple.com", "apple.com"]
        );
        let twice = [
            (
                OPT_DOMAIN_SEARCH,
                &b"\x03eng\x05apple\x03com\x00\xc0\x00"[..],
            ),
            (OPT_DOMAIN_NAME, b"eng.apple.com"),
        ];
        assert_eq!(lease_domains(twice.into_iter()), ["eng.apple.com"]);
    }

    #[test]
    fn a_domain_name_alone_is_the_search_list() {
        let options = [(OPT_DOMAIN_NAME, &b"corp.test\0"[..])];
        assert_eq!(lease_domains(options.into_iter()), ["corp.test"]);
    }

    #[test]
    fn bad_search_lists_give_no_names() {
        for bad in [
            &b"\xc0\x00"[..],                 // a pointer to itself
            b"\x01a\xc0\x00",                 // a loop through the first label
            b"\xc0\x05\x00\x00\x00\x01a\x00", // a pointer forward
            b"\x03eng\x05apple",              // no root label
            b"\x03e g\x00",                   // a space in a label
            b"\x05a\nb.c\x00",                // a line break in a label
            b"\x03eng\x00\x80",               // a reserved label type
            b"\x00",                          // the root
        ] {
            assert_eq!(search_list(bad), Vec::<String>::new(), "{bad:?}");
        }
    }

    #[test]
    fn a_domain_name_that_is_not_one_is_ignored() {
        for bad in [
            &b"corp test"[..],
            b"corp.test\nnameserver 6.6.6.6",
            b"a..b",
            b".",
            b"",
            b"\xff\xfe",
        ] {
            assert_eq!(domain_name(bad), None, "{bad:?}");
            let search = [
                (OPT_DOMAIN_SEARCH, &b"\x01a\x00"[..]),
                (OPT_DOMAIN_NAME, bad),
            ];
            assert_eq!(lease_domains(search.into_iter()), ["a"], "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_option_data_never_panics(
            search in proptest::collection::vec(any::<u8>(), 0..600),
            domain in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let names = lease_domains(
                [(OPT_DOMAIN_SEARCH, &search[..]), (OPT_DOMAIN_NAME, &domain[..])].into_iter(),
            );
            for n in names {
                prop_assert!(!n.is_empty() && n.len() <= 253, "{n:?}");
                prop_assert!(
                    n.bytes().all(|c| c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || b"-_.".contains(&c)),
                    "{n:?}"
                );
            }
        }
    }
}
