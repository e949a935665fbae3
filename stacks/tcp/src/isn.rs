//! Initial sequence numbers (RFC 6528) and per-connection timestamp offsets.
//!
//! RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a
//! timer ticking every 4 microseconds and F a pseudorandom function keyed by a secret. Here
//! F is the first 32 bits of SHA-256 over a domain tag, the secret and the four-tuple, so
//! that:
//! - for one four-tuple, ISNs advance with the clock (one per 4 µs), as RFC 9293 3.4.1
//!   wants for old duplicates of an earlier incarnation to be told apart;
//! - across four-tuples, and to anyone without the secret, they are unpredictable
//!   (RFC 6528 3: F must not be computable from outside).
//!
//! TSval offsets: RFC 7323 7.1 lets the timestamp clock start at a random value per
//! connection; as Linux, every connection's TSval is the clock plus
//! [`IsnGenerator::ts_offset`], a second keyed hash of the four-tuple (a different hash
//! domain from the ISN's, so that one value tells nothing about the other). It is constant
//! for a four-tuple, so TSvals stay monotonic across incarnations of one connection (which
//! RFC 6191's TIME-WAIT reuse relies on).
//!
//! The hashing helper is shared with [`crate::cookie`]. Nothing here panics or allocates.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use sha2::{Digest, Sha256};

use crate::seq::Seq;
use crate::time::Instant;

/// Hash domains: every keyed hash of this crate starts with one, so that values computed
/// for one purpose never equal (or reveal) those of another.
pub(crate) mod domain {
    /// ISN offsets (RFC 6528 F).
    pub const ISN: &str = "ioth-tcp/isn/v1";
    /// Timestamp offsets.
    pub const TS_OFFSET: &str = "ioth-tcp/ts-offset/v1";
    /// SYN cookies: the hash of the four-tuple.
    pub const COOKIE_TUPLE: &str = "ioth-tcp/syncookie-tuple/v1";
    /// SYN cookies: the hash of the four-tuple, period and MSS index.
    pub const COOKIE_PERIOD: &str = "ioth-tcp/syncookie-period/v1";
}

fn put_endpoint(h: &mut Sha256, a: SocketAddr) {
    // The family byte keeps an IPv4 address and its IPv4-mapped IPv6 form apart.
    match a.ip() {
        IpAddr::V4(ip) => {
            h.update([4]);
            h.update(ip.octets());
        }
        IpAddr::V6(ip) => {
            h.update([6]);
            h.update(ip.octets());
        }
    }
    h.update(a.port().to_be_bytes());
}

/// SHA-256 over `domain` (length-prefixed), `secret`, the local then remote endpoints
/// (family, address, port) and `extra`. Every field has a fixed length or a prefix, so two
/// different inputs never hash the same bytes.
pub(crate) fn keyed_hash(
    domain: &str,
    secret: &[u8; 32],
    local: SocketAddr,
    remote: SocketAddr,
    extra: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([domain.len() as u8]);
    h.update(domain.as_bytes());
    h.update(secret);
    put_endpoint(&mut h, local);
    put_endpoint(&mut h, remote);
    h.update(extra);
    h.finalize().into()
}

/// The first 32 bits of a hash, big-endian.
pub(crate) fn first_u32(hash: &[u8; 32]) -> u32 {
    u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]])
}

/// Makes initial sequence numbers and timestamp offsets from a secret.
///
/// The secret should come from a good random source and stay the same for the engine's
/// life (a new one changes every tuple's ISN space, which is harmless but defeats the
/// monotonic ISNs of reincarnated connections). `Debug` does not show it.
#[derive(Clone)]
pub struct IsnGenerator {
    secret: [u8; 32],
}

impl IsnGenerator {
    /// A generator keyed by `secret`.
    pub fn new(secret: [u8; 32]) -> Self {
        IsnGenerator { secret }
    }

    /// The ISN for a connection from `local` to `remote` started at `now` (RFC 6528 3):
    /// `M + F`, with M = `now` in 4-microsecond ticks (modulo 2^32, so it wraps every 4.77
    /// hours) and F the keyed hash of the four-tuple. For one tuple, an ISN taken `d` ticks
    /// later is larger by exactly `d` (modulo 2^32).
    pub fn isn(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> Seq {
        let m = (now.micros() / 4) as u32;
        let f = first_u32(&keyed_hash(domain::ISN, &self.secret, local, remote, &[]));
        Seq(m.wrapping_add(f))
    }

    /// The offset added to the timestamp clock for every TSval of the connection from
    /// `local` to `remote`: unpredictable without the secret, the same for every
    /// incarnation of the four-tuple, unrelated to [`IsnGenerator::isn`]'s F.
    pub fn ts_offset(&self, local: SocketAddr, remote: SocketAddr) -> u32 {
        first_u32(&keyed_hash(
            domain::TS_OFFSET,
            &self.secret,
            local,
            remote,
            &[],
        ))
    }
}

impl fmt::Debug for IsnGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IsnGenerator").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(a: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::new(Ipv4Addr::from(a).into(), port)
    }

    const SECRET: [u8; 32] = [7; 32];

    #[test]
    fn isn_advances_one_per_four_microseconds() {
        let g = IsnGenerator::new(SECRET);
        let (l, r) = (v4([10, 0, 0, 1], 80), v4([10, 0, 0, 2], 40000));
        let t = Instant::from_micros(1_000_003);
        let a = g.isn(t, l, r);
        assert_eq!(
            g.isn(Instant::from_micros(1_000_000), l, r),
            a,
            "same 4 µs tick"
        );
        assert_eq!(g.isn(Instant::from_micros(1_000_004), l, r), a.add(1));
        assert_eq!(g.isn(Instant::from_micros(1_004_003), l, r), a.add(1000));
        // One second is 250 000 ticks; an hour wraps nothing yet.
        let later = g.isn(Instant::from_micros(1_000_003 + 3_600_000_000), l, r);
        assert_eq!(later.delta(a), 900_000_000);
    }

    #[test]
    fn tuple_secret_and_ports_matter() {
        let g = IsnGenerator::new(SECRET);
        let t = Instant::from_millis(5);
        let (l, r) = (v4([10, 0, 0, 1], 80), v4([10, 0, 0, 2], 40000));
        let base = g.isn(t, l, r);
        assert_ne!(g.isn(t, l, v4([10, 0, 0, 2], 40001)), base);
        assert_ne!(g.isn(t, v4([10, 0, 0, 1], 81), r), base);
        assert_ne!(g.isn(t, l, v4([10, 0, 0, 3], 40000)), base);
        assert_ne!(g.isn(t, r, l), base, "the direction matters");
        let mapped = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).to_ipv6_mapped().into(), 40000);
        assert_ne!(g.isn(t, l, mapped), base, "the family matters");
        assert_ne!(IsnGenerator::new([8; 32]).isn(t, l, r), base);

        let off = g.ts_offset(l, r);
        assert_ne!(g.ts_offset(l, v4([10, 0, 0, 2], 40001)), off);
        assert_ne!(IsnGenerator::new([8; 32]).ts_offset(l, r), off);
        assert_eq!(g.ts_offset(l, r), off, "constant for the tuple");
        assert_ne!(off, base.0, "another hash domain than the ISN's F");
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = format!("{:?}", IsnGenerator::new([0xab; 32]));
        assert!(!s.contains("171") && !s.contains("ab"), "{s}");
    }

    fn endpoint() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<u32>(), any::<u16>())
                .prop_map(|(a, p)| SocketAddr::new(Ipv4Addr::from(a).into(), p)),
            (any::<u128>(), any::<u16>())
                .prop_map(|(a, p)| SocketAddr::new(Ipv6Addr::from(a).into(), p)),
        ]
    }

    proptest! {
        #[test]
        fn isn_is_timer_plus_a_constant(
            l in endpoint(), r in endpoint(), t in 0u64..1 << 60, d in any::<u32>(), secret: [u8; 32],
        ) {
            let g = IsnGenerator::new(secret);
            let t0 = Instant::from_micros(t / 4 * 4);
            let t1 = Instant::from_micros((t / 4).wrapping_add(u64::from(d)).wrapping_mul(4));
            prop_assert_eq!(g.isn(t1, l, r).0.wrapping_sub(g.isn(t0, l, r).0), d);
        }

        #[test]
        fn different_ports_give_different_isns(
            l in endpoint(), r in endpoint(), t in any::<u64>(), p in any::<u16>(),
        ) {
            prop_assume!(p != r.port());
            let g = IsnGenerator::new(SECRET);
            let r2 = SocketAddr::new(r.ip(), p);
            let now = Instant::from_micros(t);
            // 32-bit values: a collision has probability 2^-32 per case.
            prop_assert_ne!(g.isn(now, l, r), g.isn(now, l, r2));
            prop_assert_ne!(g.ts_offset(l, r), g.ts_offset(l, r2));
        }
    }
}
