//! Unit tests of [`Recovery`]: the behaviours RFC 8985 and RFC 2883 describe, one scenario
//! each. Sequence numbers start near 2^32 so every scenario wraps.
#![allow(clippy::unwrap_used)]

use super::*;

/// 1000-byte segments starting just below the wrap.
const MSS: usize = 1000;
const ISS: Seq = Seq(u32::MAX - 2500);

fn s(i: usize) -> Seq {
    ISS.add(i * MSS)
}

fn seg(i: usize) -> (Seq, Seq) {
    (s(i), s(i + 1))
}

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

fn us(t: u64) -> Instant {
    Instant::from_micros(t)
}

fn check(r: &Recovery) {
    r.sb.check();
}

/// Sends segments `from..to`, the `k`-th at `t + k` microseconds.
fn send(r: &mut Recovery, from: usize, to: usize, t: Instant) {
    for (k, i) in (from..to).enumerate() {
        r.on_transmit(t + Duration::from_micros(k as u64), s(i), s(i + 1));
    }
    check(r);
}

/// A connection with segment 0 sent at 0 and acknowledged at 100 ms (min RTT 100 ms).
fn warmed_up() -> Recovery {
    let mut r = Recovery::new(ISS);
    send(&mut r, 0, 1, ms(0));
    let out = r.on_ack(ms(100), s(1), &[], None);
    assert_eq!(out.rtt, Some(Duration::from_millis(100)));
    assert_eq!(r.min_rtt(), Some(Duration::from_millis(100)));
    r
}

fn ack(r: &mut Recovery, now: Instant, cum: usize, blocks: &[(usize, usize)]) -> AckOutcome {
    let b: Vec<(Seq, Seq)> = blocks.iter().map(|&(a, b)| (s(a), s(b))).collect();
    let out = r.on_ack(now, s(cum), &b, None);
    check(r);
    out
}

#[test]
fn single_loss_is_marked_after_the_reordering_window_and_retransmitted_once() {
    let mut r = warmed_up();
    send(&mut r, 1, 6, ms(200)); // segment 2 is lost
    let out = ack(&mut r, ms(300), 2, &[]);
    assert_eq!((out.acked, out.delivered, out.lost), (MSS, MSS, false));
    let out = ack(&mut r, ms(301), 2, &[(3, 4)]);
    assert_eq!((out.sacked, out.delivered, out.lost), (MSS, MSS, false));
    // One segment SACKed, no reordering seen, no recovery: reo_wnd = min_RTT / 4.
    assert_eq!(r.reo_wnd(), Duration::from_millis(25));
    assert_eq!(r.next_retransmit(), None);
    // Segment 2 went at 200.001 ms; RACK.rtt is 301 - 200.002 ms.
    let rack_rtt = ms(301).since(us(200_002));
    let due = us(200_001) + rack_rtt + Duration::from_millis(25);
    assert_eq!(r.reorder_deadline(), Some(due));
    assert!(!r.on_reorder_timer(due - Duration::from_micros(1)));
    assert_eq!(r.next_retransmit(), None);
    assert!(r.on_reorder_timer(due));
    assert!(r.in_recovery());
    assert_eq!(r.next_retransmit(), Some(seg(2)));
    assert_eq!(r.lost_bytes(), MSS);
    // Segments 2..6 outstanding, 3 SACKed, 2 lost: 4 and 5 in flight.
    assert_eq!(r.pipe(), 2 * MSS);

    r.on_transmit(due, s(2), s(3));
    check(&r);
    assert_eq!(r.next_retransmit(), None);
    assert_eq!(
        (r.lost_bytes(), r.retrans_bytes(), r.pipe()),
        (0, MSS, 3 * MSS)
    );
    assert_eq!(r.total_retransmits(), 1);
    // Later SACKs do not mark the retransmission lost again: it was sent after them.
    let out = ack(&mut r, ms(330), 2, &[(3, 5)]);
    assert!(!out.lost);
    let out = ack(&mut r, ms(331), 2, &[(3, 6)]);
    assert!(!out.lost);
    assert_eq!(r.next_retransmit(), None);
    assert_eq!(r.pipe(), MSS);
    // The retransmission arrives: everything is acknowledged and the recovery ends.
    let out = ack(&mut r, ms(430), 6, &[]);
    assert_eq!((out.acked, out.delivered, out.sacked), (4 * MSS, MSS, 0));
    assert_eq!(out.rtt, Some(ms(430).since(due)));
    assert!(!r.in_recovery());
    assert_eq!((r.outstanding(), r.pipe(), r.sacked_bytes()), (0, 0, 0));
    assert_eq!(r.reorder_deadline(), None);
    assert_eq!(r.total_retransmits(), 1);
}

#[test]
fn dupthresh_sacked_segments_mark_the_hole_at_once() {
    let mut r = warmed_up();
    send(&mut r, 1, 6, ms(200)); // segment 1 is lost
    let out = ack(&mut r, ms(300), 1, &[(2, 4)]);
    assert!(!out.lost);
    let out = ack(&mut r, ms(301), 1, &[(2, 5)]);
    // Three segments SACKed and no reordering seen: the window is zero (RFC 8985 6.2 step 4).
    assert!(out.lost);
    assert_eq!(r.reo_wnd(), Duration::ZERO);
    assert_eq!(r.next_retransmit(), Some(seg(1)));
    // Segment 5, sent after segment 4 (RACK's segment), is not marked.
    assert_eq!(r.lost_bytes(), MSS);
}

#[test]
fn reordering_and_dsack_grow_the_window_and_avoid_spurious_marking_next_time() {
    let mut r = warmed_up();
    // Segment 1 arrives 10 ms late, within the 25 ms window: reordering is seen.
    send(&mut r, 1, 4, ms(200));
    assert!(!ack(&mut r, ms(300), 1, &[(2, 3)]).lost);
    assert!(!ack(&mut r, ms(301), 1, &[(2, 4)]).lost);
    let out = ack(&mut r, ms(310), 4, &[]);
    assert!(out.reordering && !out.lost);
    assert!(r.reordering_seen());
    assert_eq!(r.total_retransmits(), 0);

    // Segment 4 arrives 40 ms late: the 25 ms window marks it lost, spuriously.
    send(&mut r, 4, 10, ms(400));
    let out = ack(&mut r, ms(500), 4, &[(5, 10)]);
    assert!(
        !out.lost,
        "reordering seen: the window applies even with 5 SACKed"
    );
    let due = r.reorder_deadline().unwrap();
    assert!(due > ms(520) && due < ms(530), "{due:?}");
    assert!(r.on_reorder_timer(due));
    assert_eq!(r.next_retransmit(), Some(seg(4)));
    r.on_transmit(due, s(4), s(5));
    // The original arrives, then the retransmission is reported as a duplicate.
    let out = ack(&mut r, ms(540), 10, &[]);
    assert!(
        !out.reordering,
        "a retransmitted segment does not show reordering"
    );
    assert!(!r.in_recovery());
    let out = ack(&mut r, ms(625), 10, &[(4, 5)]);
    assert!(out.dsack);
    // The multiplier is 2 now: the window is 2 * min_RTT / 4 (min_RTT just under 100 ms).
    assert_eq!(r.rack.reo_wnd_mult, 2);
    assert_eq!(r.reo_wnd(), (r.min_rtt().unwrap() / 4) * 2);
    assert!(r.reo_wnd() > Duration::from_millis(49));

    // The same 40 ms reordering again: the doubled window waits it out.
    send(&mut r, 10, 16, ms(700));
    assert!(!ack(&mut r, ms(800), 10, &[(11, 16)]).lost);
    let due = r.reorder_deadline().unwrap();
    assert!(due > ms(840), "{due:?}");
    assert!(!r.on_reorder_timer(ms(839)));
    let out = ack(&mut r, ms(840), 16, &[]);
    assert!(out.reordering && !out.lost);
    assert_eq!(r.next_retransmit(), None);
    assert_eq!(r.total_retransmits(), 1);
}

#[test]
fn reo_wnd_is_bounded_by_srtt_and_zero_in_recovery_without_reordering() {
    let mut r = warmed_up();
    assert_eq!(r.reo_wnd(), Duration::from_millis(25));
    r.set_srtt(Duration::from_millis(10));
    assert_eq!(r.reo_wnd(), Duration::from_millis(10));
    send(&mut r, 1, 3, ms(200));
    r.on_rto(ms(1200));
    assert!(r.in_recovery());
    assert_eq!(r.reo_wnd(), Duration::ZERO);
}

#[test]
fn dsack_below_the_ack_and_inside_the_second_block() {
    let mut r = warmed_up();
    send(&mut r, 1, 6, ms(200));
    // Not a D-SACK: above the ACK and not inside the second block.
    let out = ack(&mut r, ms(300), 2, &[(3, 4), (4, 5)]);
    assert!(!out.dsack);
    assert_eq!(out.sacked, 2 * MSS);
    // RFC 2883 case 1: the first block lies below the cumulative ACK.
    let out = ack(&mut r, ms(301), 2, &[(1, 2), (3, 5)]);
    assert!(out.dsack);
    assert_eq!((out.acked, out.sacked), (0, 0));
    // RFC 2883 case 2: the first block lies inside the second, above the ACK; it is
    // reported, not applied (the second block brings segment 5).
    let out = r.on_ack(ms(302), s(2), &[(s(4), s(5)), (s(3), s(6))], None);
    check(&r);
    assert!(out.dsack);
    assert_eq!(out.sacked, MSS);
    // A first block inside the second but reversed is no D-SACK.
    let out = r.on_ack(ms(303), s(2), &[(s(5), s(4)), (s(3), s(6))], None);
    assert!(!out.dsack);
    assert_eq!(r.sacked_bytes(), 3 * MSS);
}

#[test]
fn dsack_grows_the_multiplier_once_per_round_and_it_resets_after_16_recoveries() {
    let mut r = warmed_up();
    send(&mut r, 1, 3, ms(200));
    ack(&mut r, ms(300), 3, &[]);
    assert_eq!(r.rack.reo_wnd_mult, 1);
    // Two D-SACKs in one round (before SND.UNA passes the SND.NXT of the first).
    send(&mut r, 3, 5, ms(400));
    assert!(ack(&mut r, ms(401), 3, &[(1, 2)]).dsack);
    assert!(ack(&mut r, ms(402), 3, &[(2, 3)]).dsack);
    assert_eq!(r.rack.reo_wnd_mult, 2);
    ack(&mut r, ms(500), 5, &[]);
    send(&mut r, 5, 6, ms(600));
    assert!(ack(&mut r, ms(601), 5, &[(1, 2)]).dsack);
    assert_eq!(r.rack.reo_wnd_mult, 3);
    ack(&mut r, ms(700), 6, &[]);
    // Sixteen recoveries without D-SACK reset it.
    let mut next = 6;
    for round in 0..16u64 {
        assert_eq!(r.rack.reo_wnd_mult, 3, "round {round}");
        let t = ms(1000 + round * 1000);
        send(&mut r, next, next + 1, t);
        r.on_rto(t + Duration::from_millis(300));
        r.on_transmit(t + Duration::from_millis(300), s(next), s(next + 1));
        next += 1;
        ack(&mut r, t + Duration::from_millis(400), next, &[]);
        assert!(!r.in_recovery());
    }
    assert_eq!(r.rack.reo_wnd_mult, 1);
}

#[test]
fn tail_loss_probe_deadline_and_the_repaired_loss() {
    let mut r = warmed_up();
    let srtt = Some(Duration::from_millis(100));
    let rto = Duration::from_secs(1);
    send(&mut r, 1, 4, ms(200)); // segment 3, the tail, is lost
    let last_send = us(200_002);
    assert_eq!(
        r.tlp_deadline(last_send, srtt, rto, 3),
        Some(ms(402) + Duration::from_micros(2)),
        "2 * SRTT + 2 ms (Linux's TCP_TIMEOUT_MIN)"
    );
    assert_eq!(
        r.tlp_deadline(last_send, srtt, rto, 1),
        Some(last_send + Duration::from_millis(400))
    );
    assert_eq!(
        r.tlp_deadline(last_send, None, rto, 3),
        Some(last_send + Duration::from_secs(1))
    );
    assert_eq!(
        r.tlp_deadline(last_send, srtt, Duration::from_millis(150), 3),
        Some(last_send + Duration::from_millis(150))
    );
    let out = ack(&mut r, ms(300), 3, &[]);
    assert!(!out.tlp_recovered_loss);
    // The PTO fires with nothing new to send: the last segment is probed again.
    r.on_transmit(ms(500), s(3), s(4));
    r.on_tlp_sent(ms(500), s(3), s(4), true);
    assert!(r.tlp_in_progress());
    assert_eq!(r.tlp_deadline(ms(500), srtt, rto, 1), None);
    // Its ACK reaches TLP.end_seq: the original or the probe, it cannot tell yet.
    let out = ack(&mut r, ms(600), 4, &[]);
    assert!(!out.tlp_recovered_loss);
    assert!(r.tlp_in_progress());
    assert_eq!(r.tlp_deadline(ms(600), srtt, rto, 1), None);
    // New data acknowledged beyond it without any D-SACK: the probe repaired a loss.
    send(&mut r, 4, 5, ms(610));
    let out = ack(&mut r, ms(710), 5, &[]);
    assert!(out.tlp_recovered_loss);
    assert!(!r.tlp_in_progress());
}

#[test]
fn tail_loss_probe_ends_without_loss_on_its_dsack_or_for_new_data() {
    // The original arrived late; the probe's duplicate is reported by a D-SACK.
    let mut r = warmed_up();
    send(&mut r, 1, 3, ms(200));
    r.on_transmit(ms(400), s(2), s(3));
    r.on_tlp_sent(ms(400), s(2), s(3), true);
    assert!(!ack(&mut r, ms(450), 3, &[]).tlp_recovered_loss);
    assert!(r.tlp_in_progress());
    let out = ack(&mut r, ms(500), 3, &[(2, 3)]);
    assert!(out.dsack && !out.tlp_recovered_loss);
    assert!(!r.tlp_in_progress());
    assert!(
        !r.reordering_seen(),
        "the probe's duplicate shows no reordering"
    );

    // A duplicate ACK without SACK at TLP.end_seq ends it too.
    let mut r = warmed_up();
    send(&mut r, 1, 3, ms(200));
    ack(&mut r, ms(300), 3, &[]);
    send(&mut r, 3, 4, ms(310));
    r.on_tlp_sent(ms(310), s(3), s(4), true);
    ack(&mut r, ms(410), 4, &[]);
    assert!(r.tlp_in_progress());
    assert!(!ack(&mut r, ms(420), 4, &[]).tlp_recovered_loss);
    assert!(!r.tlp_in_progress());

    // A probe of new data ends when it is acknowledged.
    let mut r = warmed_up();
    send(&mut r, 1, 3, ms(200));
    send(&mut r, 3, 4, ms(400));
    r.on_tlp_sent(ms(400), s(3), s(4), false);
    assert!(!ack(&mut r, ms(450), 2, &[]).tlp_recovered_loss);
    assert!(r.tlp_in_progress());
    assert!(!ack(&mut r, ms(500), 4, &[]).tlp_recovered_loss);
    assert!(!r.tlp_in_progress());
}

#[test]
fn no_probe_when_sacked_in_recovery_or_idle() {
    let mut r = warmed_up();
    let srtt = Some(Duration::from_millis(100));
    assert_eq!(
        r.tlp_deadline(ms(100), srtt, Duration::from_secs(1), 0),
        None
    );
    send(&mut r, 1, 4, ms(200));
    ack(&mut r, ms(300), 1, &[(2, 3)]);
    assert_eq!(
        r.tlp_deadline(ms(300), srtt, Duration::from_secs(1), 3),
        None
    );
    let mut r = warmed_up();
    send(&mut r, 1, 4, ms(200));
    r.on_rto(ms(500));
    assert_eq!(
        r.tlp_deadline(ms(500), srtt, Duration::from_secs(1), 3),
        None
    );
}

#[test]
fn rto_marks_everything_not_sacked_lost_and_retransmits_in_order() {
    let mut r = warmed_up();
    send(&mut r, 1, 7, ms(200));
    ack(&mut r, ms(300), 1, &[(3, 4), (5, 6)]);
    assert_eq!(r.pipe(), 4 * MSS);
    r.on_rto(ms(1300));
    check(&r);
    assert_eq!(
        (r.lost_bytes(), r.pipe(), r.sacked_bytes()),
        (4 * MSS, 0, 2 * MSS)
    );
    assert_eq!(r.reorder_deadline(), None);
    // Contiguous lost segments are offered together; the connection sends one MSS.
    let mut sent = Vec::new();
    let mut t = ms(1300);
    while let Some((a, b)) = r.next_retransmit() {
        let b = if b.delta(a) as usize > MSS {
            a.add(MSS)
        } else {
            b
        };
        sent.push((a, b));
        t = t + Duration::from_millis(1);
        r.on_transmit(t, a, b);
        check(&r);
        assert_eq!(r.pipe(), sent.len() * MSS);
    }
    assert_eq!(sent, vec![seg(1), seg(2), seg(4), seg(6)]);
    assert_eq!(r.total_retransmits(), 4);
    assert_eq!(r.retrans_bytes(), 4 * MSS);
}

#[test]
fn lost_retransmission_is_detected_again() {
    let mut r = warmed_up();
    send(&mut r, 1, 8, ms(200));
    assert!(ack(&mut r, ms(300), 1, &[(2, 5)]).lost);
    r.on_transmit(ms(301), s(1), s(2));
    // The retransmission is lost too; segments sent after it are SACKed later.
    send(&mut r, 8, 12, ms(302));
    assert!(!ack(&mut r, ms(320), 1, &[(2, 8)]).lost);
    assert_eq!(r.next_retransmit(), None);
    let out = ack(&mut r, ms(402), 1, &[(2, 12)]);
    assert!(
        out.lost,
        "the retransmission was sent before segment 11, delivered"
    );
    assert_eq!(r.next_retransmit(), Some(seg(1)));
    assert_eq!(r.retrans_bytes(), 0);
}

#[test]
fn pipe_counts_as_linux() {
    let mut r = warmed_up();
    send(&mut r, 1, 9, ms(200));
    // 8 outstanding; 3 SACKed, 1 lost.
    assert!(ack(&mut r, ms(300), 1, &[(2, 5)]).lost);
    assert_eq!(r.pipe(), 8 * MSS - 3 * MSS - MSS);
    // A lost segment retransmitted counts once; a non-lost one retransmitted counts twice.
    r.on_transmit(ms(301), s(1), s(2));
    r.on_transmit(ms(302), s(8), s(9));
    assert_eq!(r.pipe(), 8 * MSS - 3 * MSS - MSS + 2 * MSS);
    assert_eq!(r.retrans_bytes(), 2 * MSS);
    // SACKing the retransmitted tail: SACKed, no longer retransmitted.
    ack(&mut r, ms(400), 1, &[(2, 5), (8, 9)]);
    assert_eq!(r.pipe(), 8 * MSS - 4 * MSS - MSS + MSS);
}

#[test]
fn partial_acks_and_unaligned_blocks_split_records() {
    let mut r = warmed_up();
    send(&mut r, 1, 4, ms(200));
    let out = r.on_ack(
        ms(300),
        s(1).add(300),
        &[(s(2).add(100), s(2).add(600))],
        None,
    );
    check(&r);
    assert_eq!((out.acked, out.sacked, out.delivered), (300, 500, 800));
    // Blocks overlapping what is SACKed count only the new part.
    let out = r.on_ack(
        ms(301),
        s(1).add(300),
        &[(s(2), s(3).add(10)), (s(2), s(3))],
        None,
    );
    check(&r);
    assert_eq!(out.sacked, 510);
    assert_eq!(r.sacked_bytes(), 1010);
    // The cumulative ACK over SACKed bytes delivers only the others.
    let out = r.on_ack(ms(302), s(3).add(10), &[], None);
    check(&r);
    assert_eq!((out.acked, out.delivered, r.sacked_bytes()), (1710, 700, 0));
}

#[test]
fn garbage_is_ignored() {
    let mut r = warmed_up();
    send(&mut r, 1, 4, ms(200));
    let before = (r.snd_una(), r.snd_nxt(), r.pipe());
    let junk: &[&[(Seq, Seq)]] = &[
        &[(s(3), s(2))],                      // reversed
        &[(s(2), s(5))],                      // beyond SND.NXT
        &[(s(0), s(2))],                      // starting below SND.UNA
        &[(s(2), s(2))],                      // empty
        &[(Seq(s(2).0 ^ 0x8000_0000), s(3))], // half the space away
    ];
    for blocks in junk {
        let out = r.on_ack(ms(300), s(1), blocks, None);
        check(&r);
        assert_eq!(
            (out.acked, out.sacked, out.delivered),
            (0, 0, 0),
            "{blocks:?}"
        );
    }
    // ACKs of unsent data and of long-acknowledged data move nothing.
    for a in [s(5), s(0), Seq(s(1).0 ^ 0x8000_0000)] {
        let out = r.on_ack(ms(301), a, &[], Some(Duration::from_millis(5)));
        check(&r);
        assert_eq!((out.acked, out.rtt), (0, None));
    }
    assert_eq!((r.snd_una(), r.snd_nxt(), r.pipe()), before);
    // Transmissions that are empty, reversed or below SND.UNA change nothing.
    r.on_transmit(ms(302), s(2), s(2));
    r.on_transmit(ms(302), s(3), s(2));
    r.on_transmit(ms(302), s(0), s(1));
    check(&r);
    assert_eq!((r.snd_nxt(), r.total_retransmits()), (s(4), 0));
    // A range starting above SND.NXT continues the sequence space.
    r.on_transmit(ms(303), s(5), s(6));
    check(&r);
    assert_eq!(r.outstanding(), 5 * MSS);
}

#[test]
fn retransmitted_segments_give_samples_only_when_unambiguous() {
    let mut r = warmed_up();
    send(&mut r, 1, 3, ms(200));
    r.on_rto(ms(400));
    r.on_transmit(ms(400), s(1), s(2));
    // Acknowledged 30 ms after the retransmission: below the 100 ms minimum, ambiguous.
    let out = ack(&mut r, ms(430), 2, &[]);
    assert_eq!(out.rtt, None);
    r.on_transmit(ms(430), s(2), s(3));
    // 120 ms after it, but the timestamp echo is older than the retransmission.
    let out = r.on_ack(ms(550), s(3), &[], Some(Duration::from_millis(300)));
    assert_eq!(
        out.rtt,
        Some(Duration::from_millis(300)),
        "the timestamp RTT is used"
    );
    // 120 ms after it with a consistent echo: its own sample.
    send(&mut r, 3, 4, ms(600));
    r.on_rto(ms(900));
    r.on_transmit(ms(900), s(3), s(4));
    let out = r.on_ack(ms(1020), s(4), &[], Some(Duration::from_millis(120)));
    assert_eq!(out.rtt, Some(Duration::from_millis(120)));
}

#[test]
fn time_queue_stays_proportional_to_the_flight() {
    let mut r = warmed_up();
    // Many retransmissions of the same range leave dead entries that are dropped.
    send(&mut r, 1, 3, ms(200));
    for k in 0..1000u64 {
        r.on_transmit(ms(201 + k), s(2), s(3));
    }
    assert!(r.tq.len() <= 2 * r.sb.recs.len() + 65, "{}", r.tq.len());
    ack(&mut r, ms(2000), 3, &[]);
    assert_eq!((r.tq.len(), r.outstanding()), (0, 0));
}

#[test]
fn a_block_at_snd_una_is_ignored_and_reneging_is_undone_on_rto() {
    let mut r = warmed_up();
    send(&mut r, 1, 5, ms(200));
    // A block starting at SND.UNA: the receiver would have acknowledged it.
    assert_eq!(ack(&mut r, ms(300), 1, &[(1, 2)]).sacked, 0);
    // Segments 3 and 4 SACKed, then acknowledged only up to segment 3: the receiver holds
    // segment 3 at SND.UNA without acknowledging it, it reneged.
    assert_eq!(ack(&mut r, ms(301), 1, &[(3, 5)]).sacked, 2 * MSS);
    ack(&mut r, ms(302), 3, &[]);
    assert_eq!(r.sacked_bytes(), 2 * MSS);
    r.on_rto(ms(1300));
    check(&r);
    assert_eq!(
        (r.sacked_bytes(), r.lost_bytes(), r.pipe()),
        (0, 2 * MSS, 0)
    );
    assert_eq!(r.next_retransmit(), Some((s(3), s(5))));
    // Without reneging the SACKed data is kept.
    let mut r = warmed_up();
    send(&mut r, 1, 5, ms(200));
    ack(&mut r, ms(301), 1, &[(3, 5)]);
    r.on_rto(ms(1300));
    assert_eq!((r.sacked_bytes(), r.lost_bytes()), (2 * MSS, 2 * MSS));
}

/// A large flight (5000 segments, every 50th lost) through a receiver that SACKs each
/// arrival with the three most recent blocks: every loss is found once and repaired, and the
/// whole run costs what the ACKs bring (it would take seconds if an ACK walked the flight).
#[test]
fn a_large_flight_with_scattered_losses() {
    const N: usize = 5000;
    let mut r = warmed_up();
    let t0 = ms(200);
    for i in 1..=N {
        r.on_transmit(t0 + Duration::from_micros(i as u64), s(i), s(i + 1));
    }
    let lost = |i: usize| i % 50 == 25;
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    let mut t = ms(300);
    let mut marked = 0;
    for i in 1..=N {
        t = t + Duration::from_micros(1);
        if lost(i) {
            continue;
        }
        // The receiver's blocks: the one holding segment i first, then the two before.
        match blocks.iter().position(|&(_, e)| e == i) {
            Some(k) => {
                let b = blocks.remove(k);
                blocks.insert(0, (b.0, i + 1));
            }
            None => blocks.insert(0, (i, i + 1)),
        }
        blocks.truncate(3);
        let cum = if i < 25 { i + 1 } else { 25 };
        let sack: Vec<(Seq, Seq)> = blocks.iter().map(|&(a, b)| (s(a), s(b))).collect();
        let out = r.on_ack(t, s(cum), if i < 25 { &[] } else { &sack }, None);
        if out.lost {
            marked += 1;
        }
        while let Some((a, b)) = r.next_retransmit() {
            let b = if b.delta(a) as usize > MSS {
                a.add(MSS)
            } else {
                b
            };
            r.on_transmit(t, a, b);
        }
    }
    check(&r);
    let losses = (1..=N).filter(|&i| lost(i)).count();
    assert_eq!(r.total_retransmits(), losses as u64);
    assert!(marked > 0);
    assert_eq!(r.lost_bytes(), 0);
    assert_eq!(r.retrans_bytes(), losses * MSS);
    assert_eq!(r.sacked_bytes(), (N - losses) * MSS - 24 * MSS);
    // The retransmissions arrive: everything is acknowledged.
    let out = r.on_ack(t + Duration::from_millis(100), s(N + 1), &[], None);
    assert_eq!(out.delivered, losses * MSS);
    assert_eq!(r.outstanding(), 0);
}
