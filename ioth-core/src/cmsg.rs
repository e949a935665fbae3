//! Ancillary data ("control messages") of `recvmsg(2)`/`sendmsg(2)` as plain bytes, laid out
//! as Linux lays them out: a `struct cmsghdr` (`size_t cmsg_len`, `int cmsg_level`,
//! `int cmsg_type`) followed by the data, each message starting at a multiple of
//! `size_of::<size_t>()` from the start of the buffer.
//!
//! Everything here reads and writes byte slices at offsets, never through pointers, so a
//! buffer of any alignment is safe to use; buffers handed to C code should still be aligned
//! (see [`CmsgBuf`]). Backends use [`CmsgWriter`] to fill a receive's control buffer exactly
//! as the kernel's `put_cmsg` does (truncation, `MSG_CTRUNC`, `msg_controllen`) and [`Cmsgs`]
//! to read a send's, with the kernel's validity rule (`CMSG_OK`).

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libc::c_int;

/// Bytes of a `struct cmsghdr` (16 on 64-bit Linux).
pub const HDR_LEN: usize = size_of::<libc::cmsghdr>();

const ALIGN: usize = size_of::<libc::size_t>();

/// `CMSG_ALIGN(len)`: `len` rounded up to the alignment of control messages.
pub const fn align(len: usize) -> usize {
    (len + ALIGN - 1) & !(ALIGN - 1)
}

/// `CMSG_LEN(data)`: the `cmsg_len` of a message carrying `data` bytes.
pub const fn cmsg_len(data: usize) -> usize {
    HDR_LEN + data
}

/// `CMSG_SPACE(data)`: the room a message carrying `data` bytes takes in a buffer.
pub const fn cmsg_space(data: usize) -> usize {
    HDR_LEN + align(data)
}

/// Bytes of `struct in_pktinfo` (`ipi_ifindex`, `ipi_spec_dst`, `ipi_addr`).
pub const IN_PKTINFO_LEN: usize = 12;
/// Bytes of `struct in6_pktinfo` (`ipi6_addr`, `ipi6_ifindex`).
pub const IN6_PKTINFO_LEN: usize = 20;

/// A control buffer aligned as C code expects (`CMSG_FIRSTHDR` may be used on it), big
/// enough for a few messages (both pktinfo kinds fit at once).
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub struct CmsgBuf(pub [u8; 128]);

impl Default for CmsgBuf {
    fn default() -> Self {
        CmsgBuf([0; 128])
    }
}

fn put_hdr(out: &mut [u8], len: usize, level: c_int, ty: c_int) {
    out[..ALIGN].copy_from_slice(&len.to_ne_bytes());
    out[ALIGN..ALIGN + 4].copy_from_slice(&level.to_ne_bytes());
    out[ALIGN + 4..HDR_LEN].copy_from_slice(&ty.to_ne_bytes());
}

/// Fills a receive's control buffer as Linux's `put_cmsg` does.
///
/// Guarantees, for every message put: if fewer than [`HDR_LEN`] bytes are left, nothing is
/// written and the receive is marked truncated (`MSG_CTRUNC`); if the whole message does not
/// fit, its header is written with `cmsg_len` = the bytes left, as much data as fits follows,
/// and the receive is marked truncated; the buffer then advances by
/// `min(CMSG_SPACE(data), left)`. [`CmsgWriter::len`] is then the `msg_controllen` Linux
/// reports.
#[derive(Debug)]
pub struct CmsgWriter<'a> {
    buf: &'a mut [u8],
    used: usize,
    truncated: bool,
}

impl<'a> CmsgWriter<'a> {
    /// A writer filling `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> CmsgWriter<'a> {
        CmsgWriter {
            buf,
            used: 0,
            truncated: false,
        }
    }

    /// Appends one message.
    pub fn put(&mut self, level: c_int, ty: c_int, data: &[u8]) {
        let left = self.buf.len() - self.used;
        if left < HDR_LEN {
            self.truncated = true;
            return;
        }
        let mut len = cmsg_len(data.len());
        if left < len {
            self.truncated = true;
            len = left;
        }
        let out = &mut self.buf[self.used..];
        put_hdr(out, len, level, ty);
        let n = len - HDR_LEN;
        out[HDR_LEN..len].copy_from_slice(&data[..n]);
        // The padding up to the next message is not written by Linux either; zero it so that
        // callers never see stale bytes of an earlier receive there.
        let advance = cmsg_space(data.len()).min(left);
        out[len..advance].fill(0);
        self.used += advance;
    }

    /// Bytes used so far: the receive's `msg_controllen`.
    pub fn len(&self) -> usize {
        self.used
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Whether a message did not fit whole: the receive's `MSG_CTRUNC`.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

/// One control message: its level, type and data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cmsg<'a> {
    /// `cmsg_level` (`SOL_SOCKET`, `IPPROTO_IP`, `IPPROTO_IPV6`, ...).
    pub level: c_int,
    /// `cmsg_type` (`IP_PKTINFO`, `IPV6_PKTINFO`, ...).
    pub ty: c_int,
    /// The data: `cmsg_len - HDR_LEN` bytes.
    pub data: &'a [u8],
}

/// The control messages of a buffer, in order, as the kernel walks them
/// (`for_each_cmsghdr`): a message starts where a whole header fits, and a message whose
/// `cmsg_len` is shorter than a header or runs past the buffer yields `EINVAL` (`CMSG_OK`)
/// and ends the walk.
#[derive(Clone, Debug)]
pub struct Cmsgs<'a> {
    buf: &'a [u8],
    off: usize,
    done: bool,
}

impl<'a> Cmsgs<'a> {
    /// The messages of `buf` (a send's control buffer, or the `control_len` bytes a receive
    /// wrote).
    pub fn new(buf: &'a [u8]) -> Cmsgs<'a> {
        Cmsgs {
            buf,
            off: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Cmsgs<'a> {
    type Item = io::Result<Cmsg<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.buf.len().saturating_sub(self.off) < HDR_LEN {
            return None;
        }
        let h = &self.buf[self.off..];
        let mut len_bytes = [0u8; ALIGN];
        len_bytes.copy_from_slice(&h[..ALIGN]);
        let len = usize::from_ne_bytes(len_bytes);
        if len < HDR_LEN || len > h.len() {
            self.done = true;
            return Some(Err(io::Error::from_raw_os_error(libc::EINVAL)));
        }
        let int = |at: usize| c_int::from_ne_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        let msg = Cmsg {
            level: int(ALIGN),
            ty: int(ALIGN + 4),
            data: &h[HDR_LEN..len],
        };
        self.off = self.off.saturating_add(align(len));
        Some(Ok(msg))
    }
}

/// Appends one whole message to `out` at `*used` for a send (`CMSG_SPACE(data)` bytes,
/// padding zeroed); `ENOBUFS` if it does not fit.
pub fn push(
    out: &mut [u8],
    used: &mut usize,
    level: c_int,
    ty: c_int,
    data: &[u8],
) -> io::Result<()> {
    let space = cmsg_space(data.len());
    let room = out
        .get_mut(*used..*used + space)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOBUFS))?;
    put_hdr(room, cmsg_len(data.len()), level, ty);
    room[HDR_LEN..HDR_LEN + data.len()].copy_from_slice(data);
    room[HDR_LEN + data.len()..].fill(0);
    *used += space;
    Ok(())
}

/// What an `IP_PKTINFO` or `IPV6_PKTINFO` message says about a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PktInfo {
    /// On receive, the datagram's destination address (`ipi_addr`, `ipi6_addr`); on send,
    /// the source address to use (IPv6: `ipi6_addr`; IPv4: sent as `ipi_spec_dst`).
    pub addr: IpAddr,
    /// The interface the datagram arrived on, or the one to send by (0: any).
    pub ifindex: u32,
    /// IPv4 only: `ipi_spec_dst`, the local address a reply should come from (the
    /// destination for unicast, the interface's address for broadcast and multicast).
    pub spec_dst: Option<Ipv4Addr>,
}

fn ifindex_of(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

impl PktInfo {
    /// The `struct in_pktinfo` bytes: `ifindex`, `spec_dst` (0.0.0.0 if `None`), `addr`
    /// (0.0.0.0 unless IPv4).
    pub fn in_pktinfo(&self) -> [u8; IN_PKTINFO_LEN] {
        let mut b = [0u8; IN_PKTINFO_LEN];
        b[..4].copy_from_slice(&self.ifindex.to_ne_bytes());
        b[4..8].copy_from_slice(&self.spec_dst.unwrap_or(Ipv4Addr::UNSPECIFIED).octets());
        if let IpAddr::V4(a) = self.addr {
            b[8..12].copy_from_slice(&a.octets());
        }
        b
    }

    /// The `struct in6_pktinfo` bytes: `addr` (an IPv4 address as `::ffff:a.b.c.d`) and
    /// `ifindex`.
    pub fn in6_pktinfo(&self) -> [u8; IN6_PKTINFO_LEN] {
        let mut b = [0u8; IN6_PKTINFO_LEN];
        let a = match self.addr {
            IpAddr::V4(a) => a.to_ipv6_mapped(),
            IpAddr::V6(a) => a,
        };
        b[..16].copy_from_slice(&a.octets());
        b[16..].copy_from_slice(&self.ifindex.to_ne_bytes());
        b
    }

    /// Reads a `struct in_pktinfo`; `None` if `data` is short.
    pub fn from_in_pktinfo(data: &[u8]) -> Option<PktInfo> {
        let d: &[u8; IN_PKTINFO_LEN] = data.get(..IN_PKTINFO_LEN)?.try_into().ok()?;
        Some(PktInfo {
            ifindex: ifindex_of(&d[..4]),
            spec_dst: Some(Ipv4Addr::new(d[4], d[5], d[6], d[7])),
            addr: IpAddr::V4(Ipv4Addr::new(d[8], d[9], d[10], d[11])),
        })
    }

    /// Reads a `struct in6_pktinfo`; `None` if `data` is short.
    pub fn from_in6_pktinfo(data: &[u8]) -> Option<PktInfo> {
        let d: &[u8; IN6_PKTINFO_LEN] = data.get(..IN6_PKTINFO_LEN)?.try_into().ok()?;
        let mut a = [0u8; 16];
        a.copy_from_slice(&d[..16]);
        Some(PktInfo {
            addr: IpAddr::V6(Ipv6Addr::from(a)),
            ifindex: ifindex_of(&d[16..]),
            spec_dst: None,
        })
    }

    /// The first whole `IP_PKTINFO` or `IPV6_PKTINFO` message of a received control buffer.
    pub fn find(control: &[u8]) -> Option<PktInfo> {
        Cmsgs::new(control)
            .map_while(Result::ok)
            .find_map(|m| match (m.level, m.ty) {
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => PktInfo::from_in_pktinfo(m.data),
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => PktInfo::from_in6_pktinfo(m.data),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn short_buffers_truncate_as_linux() {
        let info = PktInfo {
            addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            ifindex: 1,
            spec_dst: Some(Ipv4Addr::new(127, 0, 0, 2)),
        };
        // (buffer size, msg_controllen, MSG_CTRUNC, cmsg_len written) as the kernel gives.
        for (size, len, trunc, cl) in [
            (0, 0, true, None),
            (8, 0, true, None),
            (16, 16, true, Some(16)),
            (20, 20, true, Some(20)),
            (28, 28, false, Some(28)),
            (31, 31, false, Some(28)),
            (32, 32, false, Some(28)),
            (64, 32, false, Some(28)),
        ] {
            let mut buf = vec![0xaau8; size];
            let mut w = CmsgWriter::new(&mut buf);
            w.put(libc::IPPROTO_IP, libc::IP_PKTINFO, &info.in_pktinfo());
            assert_eq!((w.len(), w.truncated()), (len, trunc), "buffer of {size}");
            let got = Cmsgs::new(&buf[..len])
                .next()
                .map(|m| m.unwrap().data.len());
            assert_eq!(got.map(|d| d + HDR_LEN), cl, "buffer of {size}");
            if !trunc {
                assert_eq!(PktInfo::find(&buf[..len]), Some(info));
            }
        }
    }

    proptest::proptest! {
        /// Any bytes walk without panicking, every message lies inside the buffer, and what
        /// a writer produced from any data reads back whole when it fits.
        #[test]
        fn any_bytes_walk_safely(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            room in 0usize..80,
        ) {
            for m in Cmsgs::new(&bytes).flatten() {
                proptest::prop_assert!(m.data.len() + HDR_LEN <= bytes.len());
            }
            let mut buf = vec![0u8; room];
            let mut w = CmsgWriter::new(&mut buf);
            w.put(1, 2, &data);
            let (len, cut) = (w.len(), w.truncated());
            proptest::prop_assert!(len <= room);
            proptest::prop_assert_eq!(cut, room < cmsg_len(data.len()));
            if !cut {
                let m = Cmsgs::new(&buf[..len]).next().unwrap().unwrap();
                proptest::prop_assert_eq!((m.level, m.ty, m.data), (1, 2, &data[..]));
            }
        }
    }

    #[test]
    fn bad_lengths_are_einval() {
        let mut buf = [0u8; 32];
        let mut used = 0;
        push(&mut buf, &mut used, 0, libc::IP_PKTINFO, &[0; 12]).unwrap();
        assert_eq!(used, 32);
        buf[0] = 40; // cmsg_len past the buffer
        let e = Cmsgs::new(&buf).next().unwrap().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        buf[0] = 3; // shorter than a header
        assert!(Cmsgs::new(&buf).next().unwrap().is_err());
        assert!(Cmsgs::new(&buf[..15]).next().is_none(), "no whole header");
    }
}
