//! Hash-based addresses of the Internet of Threads: an IPv6 host part and a MAC derived from a
//! node's name (optionally with a password and a One-Time-IP time slot), and EUI-64 host parts.
//!
//! These are pure functions: the same inputs give the same outputs on every machine, which is
//! what lets a DNS server and a node agree on an address without a registry.
//!
//! The values below are those the original C code (libioth, otip-utils) computes:
//!
//! ```
//! use std::net::Ipv6Addr;
//! use nlconf::hashaddr::{eui64, hashaddr, hashmac, otiptime_at};
//! # fn main() -> Result<(), std::net::AddrParseError> {
//! let base: Ipv6Addr = "fc00::".parse()?;
//! let addr = hashaddr(base, "renzo.hash.local", None, 0);
//! assert_eq!(addr, "fc00::4cc:8049:6765:d03a".parse::<Ipv6Addr>()?);
//! // The node sets the MAC of the same name; its EUI-64 is another host part.
//! let mac = hashmac("test.v2.cs.unibo.it", None);
//! assert_eq!(mac, [0x6a, 0xd6, 0x2f, 0x5a, 0x5a, 0x2e]);
//! let slaac = eui64("2000:760::".parse()?, mac);
//! assert_eq!(slaac, "2000:760::68d6:2fff:fe5a:5a2e".parse::<Ipv6Addr>()?);
//! // One-Time-IP: the address changes every 32 s; only password holders can compute it.
//! let slot = otiptime_at(1_738_288, 32, 0);
//! assert_eq!(slot, 54321);
//! let otip = hashaddr("fc01::".parse()?, "renzo.otip", Some("mypassword"), slot);
//! assert_eq!(otip, "fc01::6c96:53ca:eb83:2907".parse::<Ipv6Addr>()?);
//! # Ok(())
//! # }
//! ```

use std::net::Ipv6Addr;
use std::time::{SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};

/// Drops one trailing `.` from a fully qualified name (`host.example.` → `host.example`).
fn strip_dot(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

/// Returns `base` with its low 64 bits XORed with the MD5 of `name ‖ password ‖ otiptime`.
///
/// One trailing `.` of `name` is ignored; the password is hashed only when given and the
/// big-endian `otiptime` only when it is not 0. The universal/local and group bits of the
/// interface identifier are cleared, so the result is a locally administered unicast address.
///
/// ```
/// use std::net::Ipv6Addr;
/// use nlconf::hashaddr::hashaddr;
/// # fn main() -> Result<(), std::net::AddrParseError> {
/// let base: Ipv6Addr = "2001:760:2e00:ff00::".parse()?;
/// let lucia = hashaddr(base, "lucia.hash.v2.cs.unibo.it", None, 0);
/// assert_eq!(lucia, "2001:760:2e00:ff00:cf1:1fe9:aad4:e838".parse::<Ipv6Addr>()?);
/// // One trailing dot names the same host.
/// assert_eq!(hashaddr(base, "lucia.hash.v2.cs.unibo.it.", None, 0), lucia);
/// // With a password and a time slot (otipaddr at unix time 40, period 32: slot 1).
/// let otip = hashaddr("fc01::".parse()?, "renzo.otip", Some("mypassword"), 1);
/// assert_eq!(otip, "fc01::a80d:c83f:9271:d9ce".parse::<Ipv6Addr>()?);
/// # Ok(())
/// # }
/// ```
pub fn hashaddr(base: Ipv6Addr, name: &str, password: Option<&str>, otiptime: u32) -> Ipv6Addr {
    let mut hasher = Md5::new();
    hasher.update(strip_dot(name).as_bytes());
    if let Some(password) = password {
        hasher.update(password.as_bytes());
    }
    if otiptime != 0 {
        hasher.update(otiptime.to_be_bytes());
    }
    let digest = hasher.finalize();
    let mut addr = base.octets();
    for i in 0..8 {
        addr[8 + i] ^= digest[i];
    }
    addr[8] &= 0xfc;
    Ipv6Addr::from(addr)
}

/// Returns the MAC address derived from `name` (and `password` when given).
///
/// One trailing `.` of `name` is ignored. The result is always locally administered and
/// unicast (bit 1 of the first octet set, bit 0 clear).
///
/// ```
/// use nlconf::hashaddr::hashmac;
/// assert_eq!(hashmac("renzo.hash.local", None), [0x06, 0xcc, 0x80, 0x65, 0xd0, 0x3a]);
/// assert_eq!(hashmac("renzo.otip", Some("mypassword")), [0xa2, 0x86, 0x56, 0x79, 0x16, 0xf9]);
/// let mac = hashmac("hic_sunt_leones.hash.local.", None);
/// assert_eq!(nlconf::model::format_mac(&mac), "9e:8f:74:5f:65:12");
/// ```
pub fn hashmac(name: &str, password: Option<&str>) -> [u8; 6] {
    let mut hasher = Md5::new();
    hasher.update(strip_dot(name).as_bytes());
    if let Some(password) = password {
        hasher.update(password.as_bytes());
    }
    let d = hasher.finalize();
    let mut mac = [d[0], d[1], d[2], d[5], d[6], d[7]];
    mac[0] |= 0x02;
    mac[0] &= !0x01;
    mac
}

/// Returns `base` with its interface identifier derived from `mac` by modified EUI-64
/// (RFC 4291 appendix A): `mac[0..3] ff:fe mac[3..6]` with the universal/local bit inverted.
///
/// ```
/// use std::net::Ipv6Addr;
/// # fn main() -> Result<(), std::net::AddrParseError> {
/// let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// let addr = nlconf::hashaddr::eui64("fe80::".parse()?, mac);
/// assert_eq!(addr, "fe80::5054:ff:fe12:3456".parse::<Ipv6Addr>()?);
/// # Ok(())
/// # }
/// ```
pub fn eui64(base: Ipv6Addr, mac: [u8; 6]) -> Ipv6Addr {
    let mut addr = base.octets();
    addr[8..11].copy_from_slice(&mac[0..3]);
    addr[11] = 0xff;
    addr[12] = 0xfe;
    for i in 3..6 {
        addr[10 + i] ^= mac[i];
    }
    addr[8] ^= 0x02;
    Ipv6Addr::from(addr)
}

/// The SLAAC address for an advertised /64 `prefix`: the hash of `fqdn` when the node has a
/// name (so DNS and node agree), else the EUI-64 of `mac`.
///
/// ```
/// use std::net::Ipv6Addr;
/// use nlconf::hashaddr::{hashaddr, slaac_address};
/// # fn main() -> Result<(), std::net::AddrParseError> {
/// let prefix: Ipv6Addr = "fc00::".parse()?;
/// let named = slaac_address(prefix, Some("renzo.hash.local"), [0x02, 0, 0, 0, 0, 1]);
/// assert_eq!(named, hashaddr(prefix, "renzo.hash.local", None, 0));
/// let unnamed = slaac_address(prefix, None, [0x02, 0, 0, 0, 0, 1]);
/// assert_eq!(unnamed, "fc00::ff:fe00:1".parse::<Ipv6Addr>()?);
/// # Ok(())
/// # }
/// ```
pub fn slaac_address(prefix: Ipv6Addr, fqdn: Option<&str>, mac: [u8; 6]) -> Ipv6Addr {
    let base = Ipv6Addr::from(u128::from(prefix) & !u128::from(u64::MAX));
    match fqdn {
        Some(name) => hashaddr(base, name, None, 0),
        None => eui64(base, mac),
    }
}

/// Returns the One-Time-IP time slot `(unix_time + offset) / period` for the given time;
/// 0 when `period` is 0 (OTIP disabled). Times before the epoch count as 0.
///
/// ```
/// use nlconf::hashaddr::otiptime_at;
/// assert_eq!(otiptime_at(40, 32, 0), 1);
/// assert_eq!(otiptime_at(1_738_288, 32, 0), 54321);
/// assert_eq!(otiptime_at(20, 32, 12), 1); // the offset moves the window's edges
/// assert_eq!(otiptime_at(40, 0, 0), 0); // period 0: no OTIP
/// ```
pub fn otiptime_at(unix_time: u64, period: u32, offset: i64) -> u32 {
    if period == 0 {
        return 0;
    }
    let shifted = (i128::from(unix_time) + i128::from(offset)).max(0);
    // Truncation to 32 bits is the definition (the C original stores the slot in a uint32_t).
    (shifted / i128::from(period)) as u32
}

/// Returns the One-Time-IP time slot for the current time: `(now + offset) / period`, or 0
/// when `period` is 0.
pub fn otiptime(period: u32, offset: i64) -> u32 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    otiptime_at(now, period, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_address_vector_without_password() {
        let base: Ipv6Addr = "2000:760::".parse().unwrap();
        let expected: Ipv6Addr = "2000:760::68d6:2fac:95a:5a2e".parse().unwrap();
        assert_eq!(hashaddr(base, "test.v2.cs.unibo.it", None, 0), expected);
        // one trailing dot is the same name
        assert_eq!(hashaddr(base, "test.v2.cs.unibo.it.", None, 0), expected);
    }

    #[test]
    fn hash_address_vector_with_password_and_otip() {
        let base: Ipv6Addr = "fc01::".parse().unwrap();
        let expected: Ipv6Addr = "fc01::a80d:c83f:9271:d9ce".parse().unwrap();
        assert_eq!(
            hashaddr(base, "renzo.otip", Some("mypassword"), 1),
            expected
        );
        assert_ne!(
            hashaddr(base, "renzo.otip", Some("mypassword"), 2),
            expected
        );
        assert_ne!(hashaddr(base, "renzo.otip", None, 1), expected);
    }

    #[test]
    fn hash_mac_vector() {
        assert_eq!(
            hashmac("test.v2.cs.unibo.it", None),
            [0x6a, 0xd6, 0x2f, 0x5a, 0x5a, 0x2e]
        );
        assert_eq!(
            hashmac("test.v2.cs.unibo.it.", None),
            [0x6a, 0xd6, 0x2f, 0x5a, 0x5a, 0x2e]
        );
    }

    #[test]
    fn eui64_vector() {
        let base: Ipv6Addr = "2000:760::".parse().unwrap();
        let mac = hashmac("test.v2.cs.unibo.it", None);
        let expected: Ipv6Addr = "2000:760::68d6:2fff:fe5a:5a2e".parse().unwrap();
        assert_eq!(eui64(base, mac), expected);
        // a universally administered MAC gets the U/L bit set in the interface id
        let e = eui64(Ipv6Addr::UNSPECIFIED, [0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(e, "::211:22ff:fe33:4455".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn slaac_address_prefers_the_name() {
        let prefix: Ipv6Addr = "2000:760::1234:0:0:1".parse().unwrap();
        let mac = hashmac("test.v2.cs.unibo.it", None);
        assert_eq!(
            slaac_address(prefix, Some("test.v2.cs.unibo.it"), mac),
            "2000:760::68d6:2fac:95a:5a2e".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            slaac_address(prefix, None, mac),
            "2000:760::68d6:2fff:fe5a:5a2e".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn otiptime_slots() {
        assert_eq!(otiptime_at(1000, 0, 0), 0);
        assert_eq!(otiptime_at(64, 32, 0), 2);
        assert_eq!(otiptime_at(63, 32, 0), 1);
        assert_eq!(otiptime_at(63, 32, 1), 2);
        assert_eq!(otiptime_at(10, 32, -100), 0);
        assert!(otiptime(32, 0) > 0);
    }
}
