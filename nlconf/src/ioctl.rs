//! The classic interface ioctls (`SIOCGIFINDEX`, `SIOCGIFFLAGS`, ...) answered from a stack's
//! [`Tables`], over a safe byte view of `struct ifreq`.
//!
//! Layout of `struct ifreq` on Linux (40 bytes on 64-bit targets): the name in bytes 0..16
//! (NUL-terminated), then a union at offset 16: `int ifr_ifindex`, `short ifr_flags`, `int
//! ifr_mtu`, or a `struct sockaddr` (family at 16..18, data from 18) for hardware and IPv4
//! addresses. Errors follow Linux: ENODEV for an unknown interface, EADDRNOTAVAIL for an
//! interface without IPv4 address, EINVAL for bad values, ENOTTY for other requests.
//!
//! ```
//! use nlconf::ioctl::{IfReq, interface_ioctl};
//! use nlconf::server::MemTables;
//! # fn main() -> std::io::Result<()> {
//! let mut tables = MemTables::with_loopback();
//! let mut req = IfReq::with_name("lo")?; // what a caller's struct ifreq holds
//! interface_ioctl(&mut tables, libc::SIOCGIFINDEX, &mut req)?;
//! assert_eq!(req.index(), 1);
//! interface_ioctl(&mut tables, libc::SIOCGIFADDR, &mut req)?;
//! assert_eq!(req.addr_v4(), Some(std::net::Ipv4Addr::LOCALHOST));
//!
//! let mut missing = IfReq::with_name("eth9")?;
//! let err = interface_ioctl(&mut tables, libc::SIOCGIFMTU, &mut missing).expect_err("none");
//! assert_eq!(err.raw_os_error(), Some(libc::ENODEV));
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use crate::model::{iff, netmask_v4};
use crate::server::{LinkChange, Tables};

/// Size of `struct ifreq` as this module reads and writes it.
pub const IFREQ_SIZE: usize = 40;
/// Size of the name field of `struct ifreq` (IFNAMSIZ).
pub const IFNAMSIZ: usize = 16;
const UNION: usize = IFNAMSIZ;
const MIN_MTU: u32 = 68;

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// A `struct ifreq` as bytes, with typed accessors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfReq {
    bytes: [u8; IFREQ_SIZE],
}

impl Default for IfReq {
    fn default() -> Self {
        IfReq {
            bytes: [0; IFREQ_SIZE],
        }
    }
}

impl IfReq {
    /// An ifreq naming interface `name` (EINVAL if it does not fit in IFNAMSIZ - 1 bytes).
    pub fn with_name(name: &str) -> io::Result<IfReq> {
        let mut r = IfReq::default();
        r.set_name(name)?;
        Ok(r)
    }

    /// An ifreq from the first [`IFREQ_SIZE`] bytes of `bytes` (EFAULT if shorter, as the
    /// kernel reports a short user buffer).
    pub fn from_bytes(bytes: &[u8]) -> io::Result<IfReq> {
        let mut r = IfReq::default();
        r.bytes
            .copy_from_slice(bytes.get(..IFREQ_SIZE).ok_or_else(|| errno(libc::EFAULT))?);
        Ok(r)
    }

    /// The raw bytes, to copy back into the caller's `struct ifreq`.
    pub fn as_bytes(&self) -> &[u8; IFREQ_SIZE] {
        &self.bytes
    }

    /// The interface name: the bytes before the first NUL (at most 15, like Linux).
    pub fn name(&self) -> String {
        let raw = &self.bytes[..IFNAMSIZ - 1];
        let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
        String::from_utf8_lossy(&raw[..end]).into_owned()
    }

    /// Sets the interface name (EINVAL if longer than 15 bytes or containing NUL).
    pub fn set_name(&mut self, name: &str) -> io::Result<()> {
        if name.len() >= IFNAMSIZ || name.contains('\0') {
            return Err(errno(libc::EINVAL));
        }
        self.bytes[..IFNAMSIZ].fill(0);
        self.bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(())
    }

    fn i32_at_union(&self) -> i32 {
        let b = &self.bytes[UNION..UNION + 4];
        i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
    }

    fn set_i32_at_union(&mut self, v: i32) {
        self.bytes[UNION..UNION + 4].copy_from_slice(&v.to_ne_bytes());
    }

    /// `ifr_ifindex`.
    pub fn index(&self) -> i32 {
        self.i32_at_union()
    }

    /// Sets `ifr_ifindex`.
    pub fn set_index(&mut self, index: i32) {
        self.set_i32_at_union(index);
    }

    /// `ifr_flags` (a C `short`: IFF_* bits 0..15).
    pub fn flags(&self) -> u16 {
        u16::from_ne_bytes([self.bytes[UNION], self.bytes[UNION + 1]])
    }

    /// Sets `ifr_flags`.
    pub fn set_flags(&mut self, flags: u16) {
        self.bytes[UNION..UNION + 2].copy_from_slice(&flags.to_ne_bytes());
    }

    /// `ifr_mtu`.
    pub fn mtu(&self) -> i32 {
        self.i32_at_union()
    }

    /// Sets `ifr_mtu`.
    pub fn set_mtu(&mut self, mtu: i32) {
        self.set_i32_at_union(mtu);
    }

    /// `ifr_hwaddr`: its family (ARPHRD_*) and the first 6 bytes of its data.
    pub fn hwaddr(&self) -> (u16, [u8; 6]) {
        let family = u16::from_ne_bytes([self.bytes[UNION], self.bytes[UNION + 1]]);
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&self.bytes[UNION + 2..UNION + 8]);
        (family, mac)
    }

    /// Sets `ifr_hwaddr` (family and MAC; the rest of sa_data cleared).
    pub fn set_hwaddr(&mut self, family: u16, mac: [u8; 6]) {
        self.bytes[UNION..].fill(0);
        self.bytes[UNION..UNION + 2].copy_from_slice(&family.to_ne_bytes());
        self.bytes[UNION + 2..UNION + 8].copy_from_slice(&mac);
    }

    /// `ifr_addr` read as a `sockaddr_in`: Some(address) when its family is AF_INET.
    pub fn addr_v4(&self) -> Option<Ipv4Addr> {
        let family = u16::from_ne_bytes([self.bytes[UNION], self.bytes[UNION + 1]]);
        (i32::from(family) == libc::AF_INET).then(|| {
            Ipv4Addr::new(
                self.bytes[UNION + 4],
                self.bytes[UNION + 5],
                self.bytes[UNION + 6],
                self.bytes[UNION + 7],
            )
        })
    }

    /// Sets `ifr_addr` to a `sockaddr_in` holding `addr` (port 0).
    pub fn set_addr_v4(&mut self, addr: Ipv4Addr) {
        self.bytes[UNION..].fill(0);
        self.bytes[UNION..UNION + 2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        self.bytes[UNION + 4..UNION + 8].copy_from_slice(&addr.octets());
    }
}

/// Whether `request` is one of the interface ioctls [`interface_ioctl`] answers
/// (SIOCGIFCONF is answered by [`ifconf`]).
pub fn is_interface_ioctl(request: libc::c_ulong) -> bool {
    [
        libc::SIOCGIFINDEX,
        libc::SIOCGIFNAME,
        libc::SIOCGIFFLAGS,
        libc::SIOCSIFFLAGS,
        libc::SIOCGIFMTU,
        libc::SIOCSIFMTU,
        libc::SIOCGIFHWADDR,
        libc::SIOCSIFHWADDR,
        libc::SIOCGIFADDR,
        libc::SIOCGIFNETMASK,
    ]
    .contains(&request)
}

fn first_v4<T: Tables + ?Sized>(tables: &T, index: u32) -> io::Result<(Ipv4Addr, u8)> {
    tables
        .addrs()
        .into_iter()
        .find_map(|a| match a.addr {
            IpAddr::V4(v4) if a.index == index => Some((v4, a.prefix_len)),
            _ => None,
        })
        .ok_or_else(|| errno(libc::EADDRNOTAVAIL))
}

/// Answers one interface ioctl on `req` from `tables` (and applies the SIOCS* ones to them).
pub fn interface_ioctl<T: Tables + ?Sized>(
    tables: &mut T,
    request: libc::c_ulong,
    req: &mut IfReq,
) -> io::Result<()> {
    let links = tables.links();
    if request == libc::SIOCGIFNAME {
        let index = u32::try_from(req.index()).map_err(|_| errno(libc::ENODEV))?;
        let link = links
            .iter()
            .find(|l| l.index == index)
            .ok_or_else(|| errno(libc::ENODEV))?;
        return req.set_name(&link.name);
    }
    if !is_interface_ioctl(request) {
        return Err(errno(libc::ENOTTY));
    }
    let name = req.name();
    let link = links
        .into_iter()
        .find(|l| l.name == name)
        .ok_or_else(|| errno(libc::ENODEV))?;
    match request {
        r if r == libc::SIOCGIFINDEX => {
            req.set_index(i32::try_from(link.index).map_err(|_| errno(libc::EOVERFLOW))?);
        }
        r if r == libc::SIOCGIFFLAGS => req.set_flags(link.flags as u16),
        r if r == libc::SIOCSIFFLAGS => {
            let wanted = u32::from(req.flags()) & iff::USER_SETTABLE;
            if wanted != link.flags & iff::USER_SETTABLE {
                tables.set_link(
                    link.index,
                    &LinkChange {
                        flags: Some(wanted),
                        ..LinkChange::default()
                    },
                )?;
            }
        }
        r if r == libc::SIOCGIFMTU => {
            req.set_mtu(i32::try_from(link.mtu).map_err(|_| errno(libc::EOVERFLOW))?);
        }
        r if r == libc::SIOCSIFMTU => {
            let mtu = u32::try_from(req.mtu())
                .ok()
                .filter(|m| *m >= MIN_MTU)
                .ok_or_else(|| errno(libc::EINVAL))?;
            if mtu != link.mtu {
                tables.set_link(
                    link.index,
                    &LinkChange {
                        mtu: Some(mtu),
                        ..LinkChange::default()
                    },
                )?;
            }
        }
        r if r == libc::SIOCGIFHWADDR => req.set_hwaddr(link.link_type, link.mac),
        r if r == libc::SIOCSIFHWADDR => {
            let (family, mac) = req.hwaddr();
            if family != link.link_type {
                return Err(errno(libc::EINVAL));
            }
            tables.set_link(
                link.index,
                &LinkChange {
                    mac: Some(mac),
                    ..LinkChange::default()
                },
            )?;
        }
        r if r == libc::SIOCGIFADDR => req.set_addr_v4(first_v4(tables, link.index)?.0),
        r if r == libc::SIOCGIFNETMASK => {
            req.set_addr_v4(netmask_v4(first_v4(tables, link.index)?.1));
        }
        _ => return Err(errno(libc::ENOTTY)),
    }
    Ok(())
}

/// SIOCGIFCONF: writes one `struct ifreq` (name, `sockaddr_in`) per IPv4 address into `buf`,
/// as many whole records as fit, and returns the bytes written; with `buf` None returns the
/// bytes all records need (the kernel's answer to a NULL `ifc_buf`).
pub fn ifconf<T: Tables + ?Sized>(tables: &T, buf: Option<&mut [u8]>) -> usize {
    let links = tables.links();
    let records: Vec<IfReq> = tables
        .addrs()
        .into_iter()
        .filter_map(|a| {
            let IpAddr::V4(v4) = a.addr else { return None };
            let link = links.iter().find(|l| l.index == a.index)?;
            let mut r = IfReq::with_name(&link.name).ok()?;
            r.set_addr_v4(v4);
            Some(r)
        })
        .collect();
    match buf {
        None => records.len() * IFREQ_SIZE,
        Some(buf) => {
            let mut used = 0;
            for (r, chunk) in records.iter().zip(buf.chunks_exact_mut(IFREQ_SIZE)) {
                chunk.copy_from_slice(r.as_bytes());
                used += IFREQ_SIZE;
            }
            used
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ARPHRD_ETHER, Link};
    use crate::server::MemTables;

    fn tables() -> MemTables {
        let mut t = MemTables::with_loopback();
        t.insert_link(Link {
            index: 2,
            name: "vde0".into(),
            mac: [2, 0, 0, 0, 0, 7],
            mtu: 1500,
            flags: iff::BROADCAST | iff::MULTICAST,
            link_type: ARPHRD_ETHER,
            kind: None,
        });
        t
    }

    fn ioctl(t: &mut MemTables, req: libc::c_ulong, r: &mut IfReq) -> Result<(), i32> {
        interface_ioctl(t, req, r).map_err(|e| e.raw_os_error().unwrap())
    }

    #[test]
    fn layout_matches_libc_ifreq() {
        assert_eq!(std::mem::size_of::<libc::ifreq>(), IFREQ_SIZE);
    }

    #[test]
    fn index_name_flags_mtu_hwaddr() {
        let mut t = tables();
        let mut r = IfReq::with_name("vde0").unwrap();
        ioctl(&mut t, libc::SIOCGIFINDEX, &mut r).unwrap();
        assert_eq!(r.index(), 2);
        let mut n = IfReq::default();
        n.set_index(1);
        ioctl(&mut t, libc::SIOCGIFNAME, &mut n).unwrap();
        assert_eq!(n.name(), "lo");
        n.set_index(9);
        assert_eq!(ioctl(&mut t, libc::SIOCGIFNAME, &mut n), Err(libc::ENODEV));

        ioctl(&mut t, libc::SIOCGIFFLAGS, &mut r).unwrap();
        assert_eq!(u32::from(r.flags()) & iff::UP, 0);
        r.set_flags(r.flags() | iff::UP as u16);
        ioctl(&mut t, libc::SIOCSIFFLAGS, &mut r).unwrap();
        assert!(t.links()[1].is_up());
        ioctl(&mut t, libc::SIOCGIFFLAGS, &mut r).unwrap();
        assert_ne!(u32::from(r.flags()) & iff::RUNNING, 0);

        r.set_mtu(1280);
        ioctl(&mut t, libc::SIOCSIFMTU, &mut r).unwrap();
        r.set_mtu(0);
        ioctl(&mut t, libc::SIOCGIFMTU, &mut r).unwrap();
        assert_eq!(r.mtu(), 1280);
        r.set_mtu(20);
        assert_eq!(ioctl(&mut t, libc::SIOCSIFMTU, &mut r), Err(libc::EINVAL));
        r.set_mtu(-1);
        assert_eq!(ioctl(&mut t, libc::SIOCSIFMTU, &mut r), Err(libc::EINVAL));

        ioctl(&mut t, libc::SIOCGIFHWADDR, &mut r).unwrap();
        assert_eq!(r.hwaddr(), (ARPHRD_ETHER, [2, 0, 0, 0, 0, 7]));
        r.set_hwaddr(ARPHRD_ETHER, [2, 1, 2, 3, 4, 5]);
        ioctl(&mut t, libc::SIOCSIFHWADDR, &mut r).unwrap();
        assert_eq!(t.links()[1].mac, [2, 1, 2, 3, 4, 5]);
        r.set_hwaddr(772, [2, 1, 2, 3, 4, 6]);
        assert_eq!(
            ioctl(&mut t, libc::SIOCSIFHWADDR, &mut r),
            Err(libc::EINVAL)
        );
    }

    #[test]
    fn addresses_and_errors() {
        let mut t = tables();
        let mut r = IfReq::with_name("vde0").unwrap();
        assert_eq!(
            ioctl(&mut t, libc::SIOCGIFADDR, &mut r),
            Err(libc::EADDRNOTAVAIL)
        );
        t.add_addr(&crate::model::IfAddr {
            index: 2,
            addr: "10.0.0.1".parse().unwrap(),
            prefix_len: 20,
        })
        .unwrap();
        ioctl(&mut t, libc::SIOCGIFADDR, &mut r).unwrap();
        assert_eq!(r.addr_v4(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        ioctl(&mut t, libc::SIOCGIFNETMASK, &mut r).unwrap();
        assert_eq!(r.addr_v4(), Some(Ipv4Addr::new(255, 255, 240, 0)));
        let mut missing = IfReq::with_name("eth9").unwrap();
        assert_eq!(
            ioctl(&mut t, libc::SIOCGIFINDEX, &mut missing),
            Err(libc::ENODEV)
        );
        assert_eq!(ioctl(&mut t, 0x1234, &mut r), Err(libc::ENOTTY));
        assert!(IfReq::with_name("a-name-too-long-x").is_err());
        assert!(IfReq::from_bytes(&[0; 39]).is_err());
        // a name filling all 16 bytes is cut at 15, as Linux does
        let full = IfReq::from_bytes(&[b'a'; 40]).unwrap();
        assert_eq!(full.name().len(), 15);
    }

    #[test]
    fn ifconf_lists_ipv4_addresses() {
        let t = tables();
        assert_eq!(ifconf(&t, None), IFREQ_SIZE);
        let mut buf = [0u8; 100];
        assert_eq!(ifconf(&t, Some(&mut buf)), IFREQ_SIZE);
        let r = IfReq::from_bytes(&buf).unwrap();
        assert_eq!(
            (r.name().as_str(), r.addr_v4()),
            ("lo", Some(Ipv4Addr::LOCALHOST))
        );
        let mut small = [0u8; 39];
        assert_eq!(ifconf(&t, Some(&mut small)), 0);
    }
}
