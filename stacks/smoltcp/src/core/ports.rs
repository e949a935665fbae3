//! The port table: binds, `SO_REUSEADDR`/`SO_REUSEPORT` conflicts as Linux judges them,
//! ephemeral ports and listening marks.

use super::*;

impl Core {
    /// Whether (`proto`, `addr`, `port`) can be bound by a socket with `reuse`.
    fn bind_conflict(&self, proto: Proto, addr: IpAddr, port: u16, reuse: bool, me: usize) -> bool {
        self.binds.iter().any(|b| {
            b.proto == proto
                && b.port == port
                && b.sock != me
                && b.addr.is_ipv4() == addr.is_ipv4()
                && (b.addr == addr || b.addr.is_unspecified() || addr.is_unspecified())
                && !(reuse && b.reuse && (proto != Proto::Tcp || !b.listening))
        })
    }

    /// Binds socket `me` to `addr` (port 0: an ephemeral port); returns the bound address.
    pub(crate) fn bind_port(
        &mut self,
        proto: Proto,
        addr: SocketAddr,
        reuse: bool,
        me: usize,
    ) -> io::Result<SocketAddr> {
        self.bind_port_avoiding(proto, addr, reuse, me, &|_| false)
    }

    /// [`Core::bind_port`], an ephemeral port also avoiding the ports `avoid` names (our TCP
    /// engine's four-tuples still in use, TIME-WAIT included).
    pub(crate) fn bind_port_avoiding(
        &mut self,
        proto: Proto,
        addr: SocketAddr,
        reuse: bool,
        me: usize,
        avoid: &dyn Fn(u16) -> bool,
    ) -> io::Result<SocketAddr> {
        if !self.is_local(addr.ip()) {
            return Err(io::Error::from_raw_os_error(libc::EADDRNOTAVAIL));
        }
        let port = if addr.port() == 0 {
            self.ephemeral(proto, addr.ip(), me, avoid)?
        } else if self.bind_conflict(proto, addr.ip(), addr.port(), reuse, me) {
            return Err(io::Error::from_raw_os_error(libc::EADDRINUSE));
        } else {
            addr.port()
        };
        self.binds.push(Binding {
            proto,
            addr: addr.ip(),
            port,
            sock: me,
            reuse,
            listening: false,
        });
        Ok(SocketAddr::new(addr.ip(), port))
    }

    /// An ephemeral port for `proto` on `addr`: RFC 6056's simple randomization (algorithm
    /// 1), a random start in Linux's range 32768..=60999 and the next free one from there,
    /// so successive runs (and stacks) do not reuse each other's four-tuples.
    fn ephemeral(
        &mut self,
        proto: Proto,
        addr: IpAddr,
        me: usize,
        avoid: &dyn Fn(u16) -> bool,
    ) -> io::Result<u16> {
        const LOW: u16 = 32768;
        const HIGH: u16 = 60999;
        let span = u32::from(HIGH - LOW) + 1;
        let mut r = [0u8; 4];
        random_bytes(&mut r);
        let start = u32::from_ne_bytes(r) % span;
        for i in 0..span {
            let p = LOW + u16::try_from((start + i) % span).unwrap_or(0);
            if !self.bind_conflict(proto, addr, p, false, me) && !avoid(p) {
                return Ok(p);
            }
        }
        Err(io::Error::from_raw_os_error(libc::EADDRINUSE))
    }

    /// Marks socket `me`'s binding as listening (no more sharing through SO_REUSEADDR).
    pub(crate) fn mark_listening(&mut self, me: usize) {
        for b in self.binds.iter_mut().filter(|b| b.sock == me) {
            b.listening = true;
        }
    }

    /// Gives back every port socket `me` holds.
    pub(crate) fn unbind(&mut self, me: usize) {
        self.binds.retain(|b| b.sock != me);
    }
}
