//! SYN cookies: the ISN a listener answers with when its SYN queue is full (RFC 4987 3.6).
//!
//! A cookie lets the listener forget the SYN: everything it needs to create the connection
//! when the handshake's ACK arrives is in the ACK number (our ISN + 1) and, with
//! timestamps, in the echoed TSval. The layout follows Linux's cookies (the code is ours):
//!
//! ```text
//! cookie = H1(tuple) + client ISN + (period << 24) + low24      (all modulo 2^32)
//! low24  = (H2(tuple, period, index) mod 2^21) << 3 | index
//! ```
//!
//! H1 and H2 are keyed SHA-256 hashes (separate domains) of the four-tuple; `period` counts
//! 64-second periods of the caller's clock, its low 8 bits in the top byte; `index` selects
//! the MSS in [`MSS_TABLE`]. The check subtracts H1 and the client's ISN, reads the period,
//! accepts the current one and the two before (so a cookie younger than 128 s is always
//! accepted, one older than 192 s never: Linux's MAX_SYNCOOKIE_AGE of two minutes), and
//! recomputes H2 for that period and index.
//!
//! Deviation from Linux, on purpose: H2 covers the MSS index, which is carried in clear
//! beside it. Linux adds the index to a hash that does not cover it, so flipping one of a
//! cookie's low bits can give another valid cookie with another MSS; here any change to a
//! cookie fails but with probability 2^-21 (21 hash bits are checked).
//!
//! Window scale and SACK-Permitted, which the SYN carried and a cookie has no room for, ride
//! in the low 6 bits of the SYN-ACK's TSval ([`CookieJar::encode_ts_options`]), echoed
//! back in the ACK's TSecr, as Linux does. Without timestamps they are lost: a connection
//! made from a cookie then has neither.
//!
//! Nothing here panics or allocates.

use std::fmt;
use std::net::SocketAddr;

use crate::isn::{domain, first_u32, keyed_hash};
use crate::seq::Seq;
use crate::time::Instant;

/// The MSS values a cookie can carry, ascending: the IPv4 minimum (536), the IPv6 minimum
/// MTU (1280 - 60), common tunnels (1300, 1400), IPv6 and IPv4 over Ethernet (1440, 1460),
/// jumbo frames (9000 - 60) and loopback (65535 - 60).
pub const MSS_TABLE: [u16; 8] = [536, 1220, 1300, 1400, 1440, 1460, 8940, 65475];

/// Length of a cookie period (Linux uses 60 s; a power of two of seconds is as good).
const PERIOD_MICROS: u64 = 64_000_000;
/// Periods before the current one whose cookies are still accepted.
const MAX_AGE: u32 = 2;
/// Bits of the MSS index (the table has 2^3 entries).
const INDEX_BITS: u32 = 3;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
/// Bits below the period counter.
const LOW_BITS: u32 = 24;
const LOW_MASK: u32 = (1 << LOW_BITS) - 1;
/// Bits of H2 kept in a cookie.
const HASH_MASK: u32 = (1 << (LOW_BITS - INDEX_BITS)) - 1;

/// Bits of the TSval carrying the SYN's options.
const TS_BITS: u32 = 6;
const TS_MASK: u32 = (1 << TS_BITS) - 1;
/// Window-scale field of those bits: the shift, or this when the SYN had none.
const TS_NO_WSCALE: u32 = 0xf;
const TS_SACK_OK: u32 = 1 << 4;

/// Makes and checks SYN cookies with a secret.
///
/// The secret should come from a good random source; changing it invalidates every cookie
/// in flight. `Debug` does not show it.
#[derive(Clone)]
pub struct CookieJar {
    secret: [u8; 32],
}

/// The number of the 64-second period `now` is in (modulo 2^32).
fn period(now: Instant) -> u32 {
    (now.micros() / PERIOD_MICROS) as u32
}

impl CookieJar {
    /// A jar keyed by `secret`.
    pub fn new(secret: [u8; 32]) -> Self {
        CookieJar { secret }
    }

    fn tuple_hash(&self, local: SocketAddr, remote: SocketAddr) -> u32 {
        first_u32(&keyed_hash(
            domain::COOKIE_TUPLE,
            &self.secret,
            local,
            remote,
            &[],
        ))
    }

    /// The low 24 bits for this tuple, period and MSS index.
    fn low_bits(&self, local: SocketAddr, remote: SocketAddr, period: u32, index: u32) -> u32 {
        let [a, b, c, d] = period.to_be_bytes();
        let extra = [a, b, c, d, index as u8];
        let h = first_u32(&keyed_hash(
            domain::COOKIE_PERIOD,
            &self.secret,
            local,
            remote,
            &extra,
        ));
        ((h & HASH_MASK) << INDEX_BITS) | (index & INDEX_MASK)
    }

    /// Our ISN for a SYN from `remote` (ISN `client_isn`) to `local` at `now`, carrying the
    /// cookie; and the MSS it encodes: the largest [`MSS_TABLE`] entry not above `mss` (the
    /// MSS the connection would use, i.e. the SYN's, clamped to ours), the smallest entry
    /// if all are above.
    pub fn make(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        client_isn: Seq,
        mss: u16,
    ) -> (Seq, u16) {
        let index = MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0);
        let count = period(now);
        let cookie = self
            .tuple_hash(local, remote)
            .wrapping_add(client_isn.0)
            .wrapping_add(count << LOW_BITS)
            .wrapping_add(self.low_bits(local, remote, count, index as u32));
        let encoded = MSS_TABLE.get(index).copied().unwrap_or(MSS_TABLE[0]);
        (Seq(cookie), encoded)
    }

    /// The MSS encoded in `cookie` (the ACK's acknowledgment number minus one) if it was
    /// made by this jar for this tuple and `client_isn` (the ACK's sequence number minus
    /// one) in the current 64-second period or one of the two before; `None` otherwise,
    /// including for cookies "from the future" (the clock went back).
    pub fn check(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        client_isn: Seq,
        cookie: Seq,
    ) -> Option<u16> {
        let rest = cookie
            .0
            .wrapping_sub(self.tuple_hash(local, remote))
            .wrapping_sub(client_isn.0);
        let count = period(now);
        let age = count.wrapping_sub(rest >> LOW_BITS) & (u32::MAX >> LOW_BITS);
        if age > MAX_AGE {
            return None;
        }
        let made = count.wrapping_sub(age);
        let low = rest & LOW_MASK;
        let index = low & INDEX_MASK;
        if low != self.low_bits(local, remote, made, index) {
            return None;
        }
        MSS_TABLE.get(index as usize).copied()
    }

    /// A TSval for the cookie SYN-ACK carrying the SYN's window scale (4 bits, 0xF for
    /// none; a shift above 14 is sent as 14, RFC 7323 2.3) and SACK-Permitted (1 bit) in
    /// its low 6 bits (bit 5 is zero), as Linux's cookie timestamps.
    ///
    /// The value is at most 63 ticks before `ts_now` and never after it, compared modulo
    /// 2^32 as timestamps are (RFC 7323 5.2): `ts_now.wrapping_sub(tsval) < 64`. So the
    /// connection's later TSvals (from `ts_now` on) never go backwards. Numerically it is
    /// `<= ts_now` whenever `ts_now >= 63`.
    pub fn encode_ts_options(ts_now: u32, window_scale: Option<u8>, sack_permitted: bool) -> u32 {
        let wscale = window_scale.map_or(TS_NO_WSCALE, |s| u32::from(s.min(14)));
        let options = wscale | if sack_permitted { TS_SACK_OK } else { 0 };
        let ts = (ts_now & !TS_MASK) | options;
        if ts_now.wrapping_sub(ts) > TS_MASK {
            // The options are above ts_now's low bits: take the previous 64-tick slot.
            ts.wrapping_sub(1 << TS_BITS)
        } else {
            ts
        }
    }

    /// The window scale and SACK-Permitted carried by a cookie TSval, read from the ACK's
    /// TSecr (which echoes it). Only meaningful when the ACK has a Timestamps option.
    pub fn decode_ts_options(ecr: u32) -> (Option<u8>, bool) {
        let wscale = ecr & TS_NO_WSCALE;
        let wscale = (wscale != TS_NO_WSCALE).then_some(wscale as u8);
        (wscale, ecr & TS_SACK_OK != 0)
    }
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieJar").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    const SECRET: [u8; 32] = [0x42; 32];

    fn v4(a: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::new(Ipv4Addr::from(a).into(), port)
    }

    fn tuple() -> (SocketAddr, SocketAddr) {
        (v4([192, 0, 2, 1], 443), v4([198, 51, 100, 7], 51000))
    }

    #[test]
    fn mss_is_rounded_down_to_the_table() {
        let jar = CookieJar::new(SECRET);
        let (l, r) = tuple();
        let t = Instant::from_millis(1);
        for (asked, got) in [
            (1460, 1460),
            (1459, 1440),
            (1220, 1220),
            (9000, 8940),
            (u16::MAX, 65475),
            (100, 536),
            (0, 536),
        ] {
            let (cookie, mss) = jar.make(t, l, r, Seq(1), asked);
            assert_eq!(mss, got, "for {asked}");
            assert_eq!(jar.check(t, l, r, Seq(1), cookie), Some(got));
        }
    }

    #[test]
    fn accepted_for_two_minutes_then_refused() {
        let jar = CookieJar::new(SECRET);
        let (l, r) = tuple();
        let isn = Seq(0xdead_beef);
        // Made at the very end of a period: the worst case for "two minutes".
        let t = Instant::from_micros(10 * PERIOD_MICROS - 1);
        let (cookie, mss) = jar.make(t, l, r, isn, 1460);
        for secs in [0, 1, 64, 100, 127] {
            let at = t + Duration::from_secs(secs);
            assert_eq!(
                jar.check(at, l, r, isn, cookie),
                Some(mss),
                "after {secs} s"
            );
        }
        // Three periods on, and ever after (until the 8-bit counter comes round).
        for periods in [3, 4, 100, 255] {
            let at = t + Duration::from_secs(64 * periods);
            assert_eq!(
                jar.check(at, l, r, isn, cookie),
                None,
                "after {periods} periods"
            );
        }
        // Made at the start of a period: refused at 192 s.
        let t = Instant::from_micros(10 * PERIOD_MICROS);
        let (cookie, _) = jar.make(t, l, r, isn, 1460);
        let edge = t + Duration::from_secs(192);
        assert!(
            jar.check(edge - Duration::from_micros(1), l, r, isn, cookie)
                .is_some()
        );
        assert_eq!(jar.check(edge, l, r, isn, cookie), None);
        // A clock gone back a period: refused.
        assert_eq!(
            jar.check(t - Duration::from_secs(1), l, r, isn, cookie),
            None
        );
    }

    #[test]
    fn bound_to_tuple_isn_and_secret() {
        let jar = CookieJar::new(SECRET);
        let (l, r) = tuple();
        let t = Instant::from_millis(5_000);
        let isn = Seq(77);
        let (cookie, _) = jar.make(t, l, r, isn, 1460);
        assert!(jar.check(t, l, r, isn, cookie).is_some());
        assert_eq!(
            jar.check(t, l, v4([198, 51, 100, 7], 51001), isn, cookie),
            None
        );
        assert_eq!(jar.check(t, v4([192, 0, 2, 1], 444), r, isn, cookie), None);
        assert_eq!(
            jar.check(t, l, v4([198, 51, 100, 8], 51000), isn, cookie),
            None
        );
        assert_eq!(jar.check(t, r, l, isn, cookie), None);
        assert_eq!(jar.check(t, l, r, Seq(78), cookie), None);
        assert_eq!(jar.check(t, l, r, isn, cookie.add(1)), None);
        assert_eq!(CookieJar::new([0x43; 32]).check(t, l, r, isn, cookie), None);
    }

    #[test]
    fn ts_options_layout() {
        // ts_now's low bits above the options: same 64-tick slot.
        let ts = CookieJar::encode_ts_options(0x1000_003f, Some(7), true);
        assert_eq!(ts, 0x1000_0017);
        assert_eq!(CookieJar::decode_ts_options(ts), (Some(7), true));
        // Below: the previous slot.
        let ts = CookieJar::encode_ts_options(0x1000_0000, None, false);
        assert_eq!(ts, 0x0fff_ffcf);
        assert_eq!(CookieJar::decode_ts_options(ts), (None, false));
        // Near zero it wraps to just before ts_now, modulo 2^32.
        let ts = CookieJar::encode_ts_options(3, None, true);
        assert_eq!(ts, 0xffff_ffdf);
        assert!(3u32.wrapping_sub(ts) < 64);
        // A shift above 14 is sent as 14.
        let ts = CookieJar::encode_ts_options(1 << 20, Some(15), false);
        assert_eq!(CookieJar::decode_ts_options(ts), (Some(14), false));
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
        fn checks_within_the_window_only(
            secret: [u8; 32], l in endpoint(), r in endpoint(), isn: u32, mss: u16,
            t in 0u64..1 << 50, young in 0u64..128_000_000, old in 192_000_000u64..200 * PERIOD_MICROS,
        ) {
            let jar = CookieJar::new(secret);
            let now = Instant::from_micros(t);
            let (cookie, encoded) = jar.make(now, l, r, Seq(isn), mss);
            prop_assert!(MSS_TABLE.contains(&encoded));
            prop_assert!(encoded <= mss || encoded == MSS_TABLE[0]);
            let young = Instant::from_micros(t + young);
            prop_assert_eq!(jar.check(young, l, r, Seq(isn), cookie), Some(encoded));
            let old = Instant::from_micros(t + old);
            prop_assert_eq!(jar.check(old, l, r, Seq(isn), cookie), None);
        }

        #[test]
        fn ts_options_round_trip(ts_now: u32, wscale in proptest::option::of(0u8..=14), sack: bool) {
            let ts = CookieJar::encode_ts_options(ts_now, wscale, sack);
            prop_assert!(ts_now.wrapping_sub(ts) < 64);
            if ts_now >= 63 {
                prop_assert!(ts <= ts_now);
            }
            prop_assert_eq!(CookieJar::decode_ts_options(ts), (wscale, sack));
        }
    }

    proptest! {
        // A flipped cookie passes with probability 2^-21 when its period stays in the
        // window: a fixed seed keeps this test deterministic.
        #![proptest_config(ProptestConfig { rng_seed: RngSeed::Fixed(0x5eed_c00c), ..ProptestConfig::default() })]

        #[test]
        fn any_bit_flip_fails(
            l in endpoint(), r in endpoint(), isn: u32, mss: u16, t in 0u64..1 << 50, wait in 0u64..128_000_000,
        ) {
            let jar = CookieJar::new(SECRET);
            let (cookie, _) = jar.make(Instant::from_micros(t), l, r, Seq(isn), mss);
            let at = Instant::from_micros(t + wait);
            for bit in 0..32 {
                let flipped = Seq(cookie.0 ^ (1 << bit));
                prop_assert_eq!(jar.check(at, l, r, Seq(isn), flipped), None, "bit {}", bit);
            }
        }
    }
}
