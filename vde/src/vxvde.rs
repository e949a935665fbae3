//! `vxvde://GROUP/port=14789/vni=1/ttl=1`: Ethernet over UDP multicast with learned unicast,
//! on vdeplug4's wire format (IPv4).
//!
//! Each datagram is an 8-byte header `08 00 00 00 | VNI (24 bits, big-endian) | 00` and the
//! frame. A node listens on GROUP:port (SO_REUSEADDR, several processes per host) and sends
//! from a unicast socket on an ephemeral port. Source MAC → sender address is learned
//! (expiring after `expiretime`, 128 s); frames for unknown, broadcast and multicast
//! destinations go to the group, known ones by unicast. On close a header-only datagram
//! tells the group to forget this node. Datagrams with a foreign header, frames of 14 bytes
//! or less and the node's own multicast frames are ignored.
//!
//! Options: `port`, `vni` (number or group name), `grp` (group name or number: also the
//! VNI unless `vni` is given, and the low 24 bits of the multicast address), `ttl`, `if`
//! (interface for multicast), `bind` (local address of the unicast socket), `rcvbuf`,
//! `expiretime`; `v4` is accepted, `v6` is not supported yet.

use std::collections::HashMap;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddrV4, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::eth::{self, ETH_HEADER_LEN, Mac};
use crate::link::Endpoint;
use crate::sys::{self, Epoll};
use crate::vnl::Vnl;

const DEFAULT_GROUP: &str = "239.0.0.1";
const DEFAULT_PORT: u16 = 14789;
const HDR_LEN: usize = 8;

/// A vxvde node.
pub(crate) struct VxvdeLink {
    multi: OwnedFd,
    uni: OwnedFd,
    poll: Epoll,
    hdr: [u8; HDR_LEN],
    group: SocketAddrV4,
    uniport: u16,
    expire: Duration,
    table: Mutex<HashMap<Mac, (SocketAddrV4, Instant)>>,
    dropped: AtomicU64,
}

fn bad(text: &str, what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("VNL {text}: {what}"))
}

fn udp_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned below.
    let fd = sys::cvt(unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::IPPROTO_UDP,
        )
    })?;
    // SAFETY: fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: v points to a live T of the size passed.
    sys::cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (v as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

fn sin(a: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; zero is valid.
    let mut s: libc::sockaddr_in = unsafe { mem::zeroed() };
    s.sin_family = libc::AF_INET as libc::sa_family_t;
    s.sin_port = a.port().to_be();
    s.sin_addr.s_addr = u32::from(*a.ip()).to_be();
    s
}

fn from_sin(s: &libc::sockaddr_in) -> SocketAddrV4 {
    SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(s.sin_addr.s_addr)),
        u16::from_be(s.sin_port),
    )
}

fn bind4(fd: &OwnedFd, a: SocketAddrV4) -> io::Result<()> {
    let s = sin(a);
    // SAFETY: s is a valid sockaddr_in for the call.
    sys::cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&s as *const libc::sockaddr_in).cast(),
            mem::size_of::<libc::sockaddr_in>() as u32,
        )
    })?;
    Ok(())
}

fn name_to_num(v: &str) -> Option<u32> {
    sys::group_id(v)
}

impl VxvdeLink {
    /// Joins the group the VNL names.
    pub(crate) fn open(vnl: &Vnl, text: &str) -> io::Result<VxvdeLink> {
        if vnl.option("v6").is_some() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("VNL {text}: vxvde over IPv6 is not supported"),
            ));
        }
        let port = match vnl.option_u64("port")? {
            None => DEFAULT_PORT,
            Some(p) => {
                u16::try_from(p).map_err(|_| bad(text, format!("port={p} is out of range")))?
            }
        };
        let grp = match vnl.option("grp") {
            None => None,
            Some(g) => {
                Some(name_to_num(g).ok_or_else(|| bad(text, format!("unknown group grp={g:?}")))?)
            }
        };
        let vni = match vnl.option("vni") {
            None => grp.unwrap_or(1),
            Some(v) => name_to_num(v)
                .ok_or_else(|| bad(text, format!("vni={v:?} is neither a number nor a group")))?,
        };
        if vni > 0x00ff_ffff {
            return Err(bad(text, format!("vni={vni} does not fit in 24 bits")));
        }
        let ttl = vnl.option_u64("ttl")?.unwrap_or(1).min(255) as libc::c_int;
        let expire = Duration::from_secs(
            vnl.option_u64("expiretime")?
                .filter(|e| *e > 0)
                .unwrap_or(128),
        );
        let host = if vnl.address.is_empty() {
            DEFAULT_GROUP
        } else {
            vnl.address.as_str()
        };
        let mut ip = (host, port)
            .to_socket_addrs()
            .map_err(|e| bad(text, format!("cannot resolve {host:?}: {e}")))?
            .find_map(|a| match a {
                std::net::SocketAddr::V4(a) => Some(*a.ip()),
                std::net::SocketAddr::V6(_) => None,
            })
            .ok_or_else(|| bad(text, format!("{host:?} has no IPv4 address")))?;
        if let Some(g) = grp {
            let o = ip.octets();
            ip = Ipv4Addr::new(o[0], (g >> 16) as u8, (g >> 8) as u8, g as u8);
        }
        if !ip.is_multicast() {
            return Err(bad(text, format!("{ip} is not a multicast address")));
        }
        let ifindex = match vnl.option("if") {
            None => 0,
            Some(name) => {
                let c = std::ffi::CString::new(name)
                    .map_err(|_| bad(text, format!("bad interface {name:?}")))?;
                // SAFETY: c is a valid C string.
                let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
                if i == 0 {
                    return Err(bad(text, format!("no interface if={name:?}")));
                }
                i as libc::c_int
            }
        };
        let bind_ip = match vnl.option("bind") {
            None => Ipv4Addr::UNSPECIFIED,
            Some(b) => b
                .parse()
                .map_err(|_| bad(text, format!("bind={b:?} is not an IPv4 address")))?,
        };
        let group = SocketAddrV4::new(ip, port);

        let multi = udp_socket()?;
        let uni = udp_socket()?;
        let one: libc::c_int = 1;
        if let Some(r) = vnl.option_u64("rcvbuf")? {
            let r = r.min(i32::MAX as u64) as libc::c_int;
            setsockopt(uni.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, &r)?;
        }
        setsockopt(uni.as_raw_fd(), libc::IPPROTO_IP, libc::IP_TTL, &ttl)?;
        setsockopt(
            uni.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_TTL,
            &ttl,
        )?;
        setsockopt(multi.as_raw_fd(), libc::IPPROTO_IP, libc::IP_PKTINFO, &one)?;
        setsockopt(
            multi.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            &one,
        )?;
        bind4(&multi, group)?;
        let mreq = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr {
                s_addr: u32::from(ip).to_be(),
            },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: ifindex,
        };
        setsockopt(
            multi.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_ADD_MEMBERSHIP,
            &mreq,
        )?;
        bind4(&uni, SocketAddrV4::new(bind_ip, 0))?;
        if ifindex > 0 {
            let m = libc::ip_mreqn {
                imr_multiaddr: libc::in_addr { s_addr: 0 },
                imr_address: libc::in_addr { s_addr: 0 },
                imr_ifindex: ifindex,
            };
            setsockopt(uni.as_raw_fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &m)?;
        }
        // SAFETY: sockaddr_in is plain old data; getsockname fills at most len bytes.
        let uniport = unsafe {
            let mut s: libc::sockaddr_in = mem::zeroed();
            let mut len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            sys::cvt(libc::getsockname(
                uni.as_raw_fd(),
                (&mut s as *mut libc::sockaddr_in).cast(),
                &mut len,
            ))?;
            u16::from_be(s.sin_port)
        };
        let poll = Epoll::new()?;
        poll.add(uni.as_raw_fd(), 0)?;
        poll.add(multi.as_raw_fd(), 1)?;
        let v = vni.to_be_bytes();
        Ok(VxvdeLink {
            multi,
            uni,
            poll,
            hdr: [0x08, 0, 0, 0, v[1], v[2], v[3], 0],
            group,
            uniport,
            expire,
            table: Mutex::new(HashMap::new()),
            dropped: AtomicU64::new(0),
        })
    }

    fn sendto(&self, parts: &[&[u8]], to: SocketAddrV4) -> io::Result<usize> {
        let mut s = sin(to);
        let mut iov: [libc::iovec; 2] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; 2];
        for (v, p) in iov.iter_mut().zip(parts) {
            v.iov_base = p.as_ptr() as *mut libc::c_void;
            v.iov_len = p.len();
        }
        // SAFETY: msghdr is plain old data; zero is valid.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = (&mut s as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = mem::size_of::<libc::sockaddr_in>() as u32;
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = parts.len().min(2);
        // SAFETY: msg points to live buffers for the call (sendmsg only reads them).
        let n = sys::cvt(unsafe {
            libc::sendmsg(
                self.uni.as_raw_fd(),
                &msg,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        })?;
        Ok(n as usize)
    }

    /// Receives one datagram from `fd`: (bytes, sender, local address it was sent to).
    fn recv_from(
        &self,
        fd: RawFd,
        hdr: &mut [u8; HDR_LEN],
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddrV4, Option<Ipv4Addr>)> {
        let mut iov = [
            libc::iovec {
                iov_base: hdr.as_mut_ptr().cast(),
                iov_len: HDR_LEN,
            },
            libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            },
        ];
        // SAFETY: sockaddr_in / msghdr are plain old data; zero is valid.
        let mut from: libc::sockaddr_in = unsafe { mem::zeroed() };
        let mut cbuf = [0u64; 8];
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = (&mut from as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = mem::size_of::<libc::sockaddr_in>() as u32;
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = 2;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = mem::size_of_val(&cbuf);
        // SAFETY: every pointer in msg refers to a live, exclusively borrowed buffer.
        let n = sys::cvt(unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) })? as usize;
        let mut local = None;
        // SAFETY: walking the control buffer the kernel filled, with the libc macros.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::IPPROTO_IP && (*c).cmsg_type == libc::IP_PKTINFO {
                    let pi =
                        std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::in_pktinfo);
                    local = Some(Ipv4Addr::from(u32::from_be(pi.ipi_spec_dst.s_addr)));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok((n, from_sin(&from), local))
    }
}

impl Endpoint for VxvdeLink {
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        if frame.len() < ETH_HEADER_LEN {
            self.dropped.fetch_add(1, Relaxed);
            return Ok(());
        }
        let d = eth::dst(frame);
        let to = if eth::is_group(&d) {
            self.group
        } else {
            let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            match t.get(&d) {
                Some((a, seen)) if seen.elapsed() < self.expire => *a,
                _ => self.group,
            }
        };
        match self.sendto(&[&self.hdr, frame], to) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.dropped.fetch_add(1, Relaxed);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut hdr = [0u8; HDR_LEN];
        for fd in [self.uni.as_raw_fd(), self.multi.as_raw_fd()] {
            loop {
                let (n, from, local) = match self.recv_from(fd, &mut hdr, buf) {
                    Ok(v) => v,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if n < HDR_LEN || hdr != self.hdr {
                    continue;
                }
                let len = n - HDR_LEN;
                if len == 0 {
                    let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
                    t.retain(|_, (a, _)| *a != from);
                    continue;
                }
                if len <= ETH_HEADER_LEN {
                    continue;
                }
                if fd == self.multi.as_raw_fd()
                    && from.port() == self.uniport
                    && local == Some(*from.ip())
                {
                    continue; // our own multicast frame
                }
                let len = len.min(buf.len());
                let s = eth::src(&buf[..len]);
                if !eth::is_group(&s) {
                    let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
                    t.insert(s, (from, Instant::now()));
                }
                return Ok(len);
            }
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.poll.raw().as_fd()
    }

    fn is_up(&self) -> bool {
        true
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }
}

impl Drop for VxvdeLink {
    fn drop(&mut self) {
        let _ = self.sendto(&[&self.hdr], self.group);
    }
}
