//! Two engines through a randomly lossy, reordering, duplicating wire: every byte arrives
//! once, in order, both ways, and no transfer stalls beyond what the RTO bounds allow.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{Impair, Net, pattern};
use ioth_tcp::{Error, SockOpts};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_byte_arrives_once_in_order(
        seed in 1u64..u64::MAX,
        loss in 0.0f64..0.15,
        dup in 0.0f64..0.10,
        reorder in 0.0f64..0.20,
        delay_ms in 0u64..30,
        len_ab in 1usize..300_000,
        len_ba in 0usize..100_000,
        nodelay: bool,
        rcvbuf in prop_oneof![Just(0usize), 4096usize..200_000],
    ) {
        let imp = Impair {
            loss,
            dup,
            reorder,
            delay: Duration::from_millis(delay_ms),
            reorder_delay: Duration::from_millis(delay_ms / 2 + 1),
            ..Impair::default()
        };
        let mut net = Net::new(seed, imp.clone(), imp);
        let opts = SockOpts { nodelay, rcvbuf, ..SockOpts::default() };
        // Even the handshake may need retries at 15% loss.
        let (c, s, _) = net.connected(&opts);
        let ab = pattern(len_ab, seed);
        let ba = pattern(len_ba, seed ^ 1);
        let (mut sa, mut sb) = (0usize, 0usize);
        let (mut ga, mut gb) = (Vec::new(), Vec::new());
        let mut buf = vec![0u8; 65536];
        let mut shut = (false, false);
        let mut eof = (false, false);
        // Bound: with 15% loss and RTOs up to a few seconds, 300 KB takes well under 10 min
        // of simulated time; a stall shows as running into the bound.
        let t = net.run_until(Duration::from_secs(600), |n| {
            while sa < ab.len() {
                match n.a.send(n.now, c, &ab[sa..]) {
                    Ok(k) => sa += k,
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("send a: {e:?}"),
                }
            }
            if sa == ab.len() && !shut.0 {
                n.a.shutdown_write(n.now, c).unwrap();
                shut.0 = true;
            }
            while sb < ba.len() {
                match n.b.send(n.now, s, &ba[sb..]) {
                    Ok(k) => sb += k,
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("send b: {e:?}"),
                }
            }
            if sb == ba.len() && !shut.1 {
                n.b.shutdown_write(n.now, s).unwrap();
                shut.1 = true;
            }
            loop {
                match n.b.recv(n.now, s, &mut buf, false) {
                    Ok(0) => { eof.1 = true; break }
                    Ok(k) => gb.extend_from_slice(&buf[..k]),
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("recv b: {e:?}"),
                }
            }
            loop {
                match n.a.recv(n.now, c, &mut buf, false) {
                    Ok(0) => { eof.0 = true; break }
                    Ok(k) => ga.extend_from_slice(&buf[..k]),
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("recv a: {e:?}"),
                }
            }
            eof.0 && eof.1
        });
        prop_assert!(t.is_some(), "stalled: A->B {}/{}, B->A {}/{}", gb.len(), ab.len(), ga.len(), ba.len());
        prop_assert!(gb == ab, "A->B corrupted");
        prop_assert!(ga == ba, "B->A corrupted");
    }
}
