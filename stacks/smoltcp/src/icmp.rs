//! ICMP echo ("ping") sockets' sends, and their identifiers (moved out of `sockets`).

use std::io::{self, IoSlice};
use std::net::IpAddr;

use smoltcp::socket::icmp;

use crate::core::Core;
use crate::sockets::{Kind, get_iface, total_len};

fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

impl Core {
    /// Sends one ICMP echo request (header and payload as the application wrote them; the
    /// identifier becomes the socket's and the checksum is recomputed, as Linux does).
    pub(crate) fn icmp_send(
        &mut self,
        id: usize,
        bufs: &[IoSlice<'_>],
        dst: IpAddr,
    ) -> io::Result<usize> {
        let len = total_len(bufs);
        if !dst.is_ipv4() {
            return Err(err(libc::EAFNOSUPPORT));
        }
        if !(8..=65507).contains(&len) {
            return Err(err(libc::EINVAL));
        }
        if matches!(&self.sock(id)?.kind, Kind::Icmp(i) if i.local.is_none()) {
            self.autobind(id)?;
        }
        let slot = self.route(dst)?;
        let (ifaces, rec) = self.rec_and_ifaces(id)?;
        let ttl = rec.opts.ttl;
        let Kind::Icmp(i) = &mut rec.kind else {
            return Err(err(libc::EINVAL));
        };
        let ident = i.local.map_or(0, |l| l.port());
        let f = get_iface(ifaces, slot).ok_or_else(|| err(libc::ENETUNREACH))?;
        let h = match i.subs.iter().find(|(s, _)| *s == slot) {
            Some(&(_, h)) => h,
            None => {
                let mut sock = icmp::Socket::new(
                    icmp::PacketBuffer::new(
                        vec![icmp::PacketMetadata::EMPTY; 64],
                        vec![0; 64 * 1024],
                    ),
                    icmp::PacketBuffer::new(
                        vec![icmp::PacketMetadata::EMPTY; 64],
                        vec![0; 64 * 1024],
                    ),
                );
                sock.bind(icmp::Endpoint::Ident(ident))
                    .map_err(|_| err(libc::EINVAL))?;
                let h = f.sockets.add(sock);
                i.subs.push((slot, h));
                h
            }
        };
        let sock = f.sockets.get_mut::<icmp::Socket>(h);
        sock.set_hop_limit(ttl);
        let buf = sock.send(len, dst.into()).map_err(|e| match e {
            icmp::SendError::BufferFull => err(libc::EAGAIN),
            icmp::SendError::Unaddressable => err(libc::EINVAL),
        })?;
        let mut off = 0;
        for b in bufs {
            buf[off..off + b.len()].copy_from_slice(b);
            off += b.len();
        }
        if buf[0] != 8 {
            // Only echo requests, as Linux's ping sockets (the queued bytes are harmless: they
            // are overwritten into a valid echo request below so that nothing malformed leaves).
            buf[0] = 8;
        }
        buf[1] = 0;
        buf[4..6].copy_from_slice(&ident.to_be_bytes());
        buf[2..4].copy_from_slice(&[0, 0]);
        let sum = internet_checksum(buf);
        buf[2..4].copy_from_slice(&sum.to_be_bytes());
        let now = crate::driver::now_micros();
        crate::waiting::note(&mut self.waiting, id, slot, dst, now);
        Ok(len)
    }
}

/// The next ICMP echo identifier of the process (never 0).
pub(crate) fn next_icmp_ident() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let mut b = [0u8; 2];
        crate::core::random_bytes(&mut b);
        NEXT.store(u16::from_ne_bytes(b), Ordering::Relaxed);
    });
    loop {
        let v = NEXT.fetch_add(1, Ordering::Relaxed);
        if v != 0 {
            return v;
        }
    }
}

/// The Internet checksum (RFC 1071) of `data`.
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
