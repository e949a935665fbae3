//! Raw rtnetlink for the helpers whose arguments the typed client cannot carry: libioth's
//! `ioth_nldialog` (a message the caller built), addresses and routes with flags, scope or
//! type packed into the prefix length (`nl_addrdata2prefix`, `nl_routedata2prefix`), and
//! links created with kind-specific data other than a VDE VNL.
//!
//! The messages are the ones libioth's helpers send, and the reply is read as libioth reads
//! it: an `NLMSG_ERROR` gives its error (negative: errno), an `RTM_NEWLINK` gives its index.

use std::io;

use ioth::Stack;
use libc::c_int;

use crate::boundary::err;

/// `nlmsghdr` size.
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const RTM_NEWLINK: u16 = 16;
/// Largest message accepted from a caller of `ioth_nldialog`.
pub(crate) const MAX_MESSAGE: usize = 64 * 1024;

/// Flags of requests.
pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
pub(crate) const NLM_F_EXCL: u16 = 0x200;
pub(crate) const NLM_F_CREATE: u16 = 0x400;

/// Magic of `nl_addrdata2prefix` in the prefix length's top byte.
pub(crate) const ADDRDATA_MAGIC: u32 = 0x70;
/// Magic of `nl_routedata2prefix` in the prefix length's top byte.
pub(crate) const ROUTEDATA_MAGIC: u32 = 0x60;

/// Sends one message on a new netlink socket of `stack` and reads the reply as libioth does.
pub(crate) fn dialog(stack: &Stack, msg: &[u8]) -> io::Result<c_int> {
    let sock = stack.socket(
        libc::AF_NETLINK,
        libc::SOCK_RAW | libc::SOCK_CLOEXEC,
        libc::NETLINK_ROUTE,
    )?;
    sock.send(msg, 0)?;
    let mut buf = vec![0u8; MAX_MESSAGE];
    let n = sock.recv(&mut buf, 0)?;
    parse_reply(&buf[..n])
}

/// Reads a reply as libioth does: an `NLMSG_ERROR` gives its error (0 or positive: the result;
/// negative: that errno), an `RTM_NEWLINK` its interface index; anything else, or a reply too
/// short to hold those, is `EFAULT`.
pub(crate) fn parse_reply(reply: &[u8]) -> io::Result<c_int> {
    if reply.len() <= NLMSG_HDRLEN {
        return Err(err(libc::EFAULT));
    }
    let ty = u16::from_ne_bytes([reply[4], reply[5]]);
    let word = |at: usize| {
        reply
            .get(at..at + 4)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| err(libc::EFAULT))
    };
    match ty {
        NLMSG_ERROR => {
            let code = word(NLMSG_HDRLEN)?;
            if code >= 0 {
                Ok(code)
            } else if code == i32::MIN {
                Err(err(libc::EINVAL))
            } else {
                Err(err(-code))
            }
        }
        // ifinfomsg: family, pad, type, then the index.
        RTM_NEWLINK => word(NLMSG_HDRLEN + 4),
        _ => Err(err(libc::EFAULT)),
    }
}

/// A netlink message being built: header, fixed body, attributes (4-byte aligned).
pub(crate) struct Message {
    bytes: Vec<u8>,
}

impl Message {
    /// A request of `ty` with `flags` (sequence 1, as libioth's helpers send) and its fixed
    /// body.
    pub(crate) fn new(ty: u16, flags: u16, body: &[u8]) -> Message {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(&ty.to_ne_bytes());
        bytes.extend_from_slice(&flags.to_ne_bytes());
        bytes.extend_from_slice(&1u32.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(body);
        let mut m = Message { bytes };
        m.align();
        m
    }

    fn align(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    /// Appends attribute `ty` with `data`.
    pub(crate) fn attr(&mut self, ty: u16, data: &[u8]) -> io::Result<()> {
        let len = u16::try_from(4 + data.len()).map_err(|_| err(libc::EINVAL))?;
        self.bytes.extend_from_slice(&len.to_ne_bytes());
        self.bytes.extend_from_slice(&ty.to_ne_bytes());
        self.bytes.extend_from_slice(data);
        self.align();
        Ok(())
    }

    /// Appends a NUL-terminated string attribute.
    pub(crate) fn str_attr(&mut self, ty: u16, s: &[u8]) -> io::Result<()> {
        let mut data = s.to_vec();
        data.push(0);
        self.attr(ty, &data)
    }

    /// Opens a nested attribute; close it with [`Message::end_nest`] and the returned mark.
    pub(crate) fn begin_nest(&mut self, ty: u16) -> usize {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(&0u16.to_ne_bytes());
        self.bytes.extend_from_slice(&ty.to_ne_bytes());
        at
    }

    /// Closes the nested attribute opened at `mark`.
    pub(crate) fn end_nest(&mut self, mark: usize) -> io::Result<()> {
        let len = u16::try_from(self.bytes.len() - mark).map_err(|_| err(libc::EINVAL))?;
        self.bytes[mark..mark + 2].copy_from_slice(&len.to_ne_bytes());
        Ok(())
    }

    /// The finished message with its length filled in.
    pub(crate) fn finish(mut self) -> io::Result<Vec<u8>> {
        let len = u32::try_from(self.bytes.len()).map_err(|_| err(libc::EINVAL))?;
        self.bytes[..4].copy_from_slice(&len.to_ne_bytes());
        Ok(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reply(ty: u16, body: &[u8]) -> Vec<u8> {
        let mut m = Message::new(ty, 0, body);
        m.bytes.truncate(NLMSG_HDRLEN + body.len());
        m.finish().unwrap()
    }

    #[test]
    fn replies_read_as_libioth_reads_them() {
        let ack = reply(NLMSG_ERROR, &[0u8; 20]);
        assert_eq!(parse_reply(&ack).unwrap(), 0);
        let mut body = (-libc::EEXIST).to_ne_bytes().to_vec();
        body.extend_from_slice(&[0u8; 16]);
        let e = parse_reply(&reply(NLMSG_ERROR, &body)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        let mut link = vec![0u8; 4];
        link.extend_from_slice(&7i32.to_ne_bytes());
        link.extend_from_slice(&[0u8; 8]);
        assert_eq!(parse_reply(&reply(RTM_NEWLINK, &link)).unwrap(), 7);
        let other = parse_reply(&reply(libc::RTM_NEWADDR, &[0u8; 8])).unwrap_err();
        assert_eq!(other.raw_os_error(), Some(libc::EFAULT));
        let short = parse_reply(&ack[..NLMSG_HDRLEN]).unwrap_err();
        assert_eq!(short.raw_os_error(), Some(libc::EFAULT));
    }

    proptest! {
        /// Whatever a stack answers, reading it never panics, and an error reply gives a
        /// positive errno.
        #[test]
        fn any_reply_is_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            match parse_reply(&bytes) {
                Ok(_) => {}
                Err(e) => prop_assert!(e.raw_os_error().is_some_and(|c| c > 0)),
            }
        }
    }

    #[test]
    fn attributes_are_aligned_and_nested_lengths_cover_their_content() {
        let mut m = Message::new(RTM_NEWLINK, NLM_F_REQUEST, &[0u8; 16]);
        m.str_attr(3, b"vx0").unwrap();
        let nest = m.begin_nest(18);
        m.str_attr(1, b"vxlan").unwrap();
        m.end_nest(nest).unwrap();
        let bytes = m.finish().unwrap();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(
            u32::from_ne_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        // name attribute: 4 + 4 bytes ("vx0\0"), then the nest: 4 + (4 + 6 -> 12 aligned),
        // its length covering the padding as libioth's helpers write it.
        assert_eq!(u16::from_ne_bytes([bytes[32], bytes[33]]), 8);
        assert_eq!(u16::from_ne_bytes([bytes[40], bytes[41]]), 4 + 12);
        assert_eq!(u16::from_ne_bytes([bytes[44], bytes[45]]), 4 + 6);
        assert_eq!(bytes.len(), 32 + 8 + 4 + 12);
    }
}
