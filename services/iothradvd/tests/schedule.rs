//! The advertisement timers with time passed in: RFC 4861's unsolicited intervals (the first
//! few capped, jitter), solicited answers (delay, per-host and multicast rate limits,
//! coalescing), and properties over arbitrary solicitation sequences.

use std::net::Ipv6Addr;
use std::time::Duration;

use iothradvd::schedule::{
    MAX_INITIAL_RTR_ADVERT_INTERVAL, MAX_RA_DELAY_TIME, MIN_DELAY_BETWEEN_RAS, Scheduler, Send,
    Timing,
};
use proptest::prelude::*;

const T0: Duration = Duration::from_secs(1_700_000_000);

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn host(n: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, n)
}

const MULTICAST: Send = Send::AllNodes { solicited: false };
const SOLICITED: Send = Send::AllNodes { solicited: true };

/// Runs the scheduler alone from `now` to `until`, polling at every deadline: what went when.
fn run(s: &mut Scheduler, mut now: Duration, until: Duration) -> Vec<(Duration, Send)> {
    let mut out = Vec::new();
    while let Some(d) = s.next_deadline() {
        if d > until {
            break;
        }
        now = now.max(d);
        let sent = s.poll(now);
        assert!(
            !sent.is_empty(),
            "a deadline with nothing to send at {now:?}"
        );
        out.extend(sent.into_iter().map(|x| (now, x)));
    }
    out
}

#[test]
fn timing_follows_rfc_4861_defaults() {
    let t = Timing::from_period(600);
    assert_eq!(t.max_interval, Some(secs(600.0)));
    assert_eq!(t.min_interval, secs(198.0));
    let t = Timing::from_period(4);
    assert_eq!(
        t.min_interval,
        secs(3.0),
        "0.75 x MaxRtrAdvInterval below 9 s"
    );
    assert_eq!(Timing::from_period(0).max_interval, None);
}

#[test]
fn unsolicited_advertisements_start_at_once_the_first_three_intervals_capped() {
    let mut s = Scheduler::new(Timing::from_period(600), T0, 7);
    assert_eq!(s.next_deadline(), Some(T0), "the first goes at start");
    let sent = run(&mut s, T0, T0 + secs(20_000.0));
    assert!(sent.iter().all(|(_, x)| *x == MULTICAST), "{sent:?}");
    let times: Vec<Duration> = sent.iter().map(|(t, _)| *t).collect();
    assert_eq!(times[0], T0);
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // MinRtrAdvInterval (198 s) exceeds the 16 s cap: the first three gaps are the cap.
    assert_eq!(&gaps[..3], &[MAX_INITIAL_RTR_ADVERT_INTERVAL; 3]);
    for g in &gaps[3..] {
        assert!(*g >= secs(198.0) && *g <= secs(600.0), "{g:?}");
    }
    // Jitter: the gaps are not all alike.
    let later = &gaps[3..];
    assert!(later.len() > 20);
    assert!(later.iter().any(|g| *g != later[0]), "{later:?}");
}

#[test]
fn a_short_period_draws_initial_intervals_below_the_cap() {
    let mut s = Scheduler::new(Timing::from_period(10), T0, 3);
    let sent = run(&mut s, T0, T0 + secs(200.0));
    let times: Vec<Duration> = sent.iter().map(|(t, _)| *t).collect();
    for w in times.windows(2) {
        let g = w[1] - w[0];
        assert!(g >= secs(3.3) && g <= secs(10.0), "{g:?}");
    }
}

#[test]
fn period_zero_only_answers_solicitations() {
    let mut s = Scheduler::new(Timing::from_period(0), T0, 1);
    assert_eq!(s.next_deadline(), None);
    assert!(s.poll(T0 + secs(10_000.0)).is_empty());
    let at = T0 + secs(10_001.0);
    s.solicit(at, host(1));
    let due = s.next_deadline().expect("an answer");
    assert!(due >= at && due <= at + MAX_RA_DELAY_TIME, "{due:?}");
    assert!(
        s.poll(at).is_empty() || due == at,
        "nothing before the delay"
    );
    assert_eq!(s.poll(due), vec![Send::Unicast(host(1))]);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn solicitations_get_a_delayed_unicast_at_most_once_per_three_seconds() {
    let mut s = Scheduler::new(Timing::from_period(1800), T0, 11);
    assert_eq!(s.poll(T0), vec![MULTICAST]);
    let at = T0 + secs(5.0);
    // Three solicitations from one host in a burst: one answer.
    for i in 0..3 {
        s.solicit(at + secs(0.01 * f64::from(i)), host(1));
    }
    let sent = run(&mut s, at, at + secs(1.0));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (first, what) = sent[0];
    assert_eq!(what, Send::Unicast(host(1)));
    assert!(first <= at + MAX_RA_DELAY_TIME);
    // The host asks again at once: its next answer waits for MIN_DELAY_BETWEEN_RAS.
    s.solicit(first + secs(0.1), host(1));
    // Another host is not held back by the first.
    s.solicit(first + secs(0.1), host(2));
    let sent = run(&mut s, first, first + secs(10.0));
    let to = |h| {
        sent.iter()
            .find(|(_, x)| *x == Send::Unicast(host(h)))
            .map(|(t, _)| *t)
    };
    let again = to(1).expect("answered again");
    assert!(
        again >= first + MIN_DELAY_BETWEEN_RAS,
        "{again:?} vs {first:?}"
    );
    assert!(again <= first + MIN_DELAY_BETWEEN_RAS + MAX_RA_DELAY_TIME);
    let other = to(2).expect("the other host");
    assert!(other <= first + secs(0.1) + MAX_RA_DELAY_TIME, "{other:?}");
}

#[test]
fn a_host_without_an_address_gets_a_rate_limited_multicast_that_restarts_the_timer() {
    let mut s = Scheduler::new(Timing::from_period(600), T0, 5);
    assert_eq!(s.poll(T0), vec![MULTICAST]);
    // 1 s after the start: not before MIN_DELAY_BETWEEN_RAS after it.
    s.solicit(T0 + secs(1.0), Ipv6Addr::UNSPECIFIED);
    let due = s.next_deadline().expect("due");
    assert!(due >= T0 + MIN_DELAY_BETWEEN_RAS, "{due:?}");
    assert!(
        due <= T0 + MIN_DELAY_BETWEEN_RAS + MAX_RA_DELAY_TIME,
        "{due:?}"
    );
    assert_eq!(s.poll(due), vec![SOLICITED]);
    // The interval timer restarted from the answer: the next unsolicited one is the second
    // of the initial ones, 16 s after it.
    assert_eq!(
        s.next_deadline(),
        Some(due + MAX_INITIAL_RTR_ADVERT_INTERVAL)
    );
}

#[test]
fn a_storm_of_solicitations_is_answered_by_one_multicast() {
    let mut s = Scheduler::new(Timing::from_period(1800), T0, 9);
    let at = T0 + secs(100.0);
    // The start and the three initial advertisements, 16 s apart.
    assert_eq!(run(&mut s, T0, at).len(), 4);
    for h in 1..=20 {
        s.solicit(at, host(h));
    }
    let sent = run(&mut s, at, at + secs(5.0));
    assert_eq!(
        sent.iter().filter(|(_, x)| *x == SOLICITED).count(),
        1,
        "{sent:?}"
    );
    assert!(
        sent.iter()
            .filter(|(_, x)| matches!(x, Send::Unicast(_)))
            .count()
            <= 8,
        "{sent:?}"
    );
}

#[test]
fn an_advertisement_due_anyway_answers_a_solicitation() {
    let mut s = Scheduler::new(Timing::from_period(600), T0, 2);
    assert_eq!(s.poll(T0), vec![MULTICAST]);
    let next = s.next_deadline().expect("the next unsolicited");
    // A solicitation a few microseconds before it: the multicast goes first.
    let at = next - Duration::from_micros(1);
    s.solicit(at, host(3));
    assert_eq!(s.next_deadline(), Some(next));
    assert_eq!(s.poll(next), vec![MULTICAST]);
}

#[test]
fn a_clock_stepped_back_keeps_the_timers_relative() {
    let mut s = Scheduler::new(Timing::from_period(600), T0, 4);
    assert_eq!(s.poll(T0), vec![MULTICAST]);
    let next = s.next_deadline().expect("next");
    assert!(s.poll(T0 + secs(1.0)).is_empty());
    let back = secs(3600.0);
    // The wall clock steps back an hour: the advertisement is still 15 s away, not 1 h 15 s.
    assert!(s.poll(T0 + secs(1.0) - back).is_empty());
    assert_eq!(s.next_deadline(), Some(next - back));
}

#[derive(Clone, Debug)]
enum Event {
    Wait(u32),
    Solicit(u16),
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec(
        prop_oneof![
            (0u32..5_000).prop_map(Event::Wait),
            (0u16..12).prop_map(Event::Solicit),
        ],
        0..80,
    )
}

proptest! {
    /// Whatever solicitations come when: every one is answered within 3.5 s (by a unicast
    /// to its host or by a multicast), multicasts are at least MIN_DELAY_BETWEEN_RAS apart
    /// unless the interval timer sent them, one host hears a unicast at most once per
    /// MIN_DELAY_BETWEEN_RAS, and unsolicited ones keep MinRtrAdvInterval after the initial.
    #[test]
    fn every_solicitation_is_answered_within_the_limits(
        period in prop_oneof![Just(0u32), 4u32..40],
        seed in any::<u64>(),
        evs in events(),
    ) {
        let timing = Timing::from_period(period);
        let mut s = Scheduler::new(timing, T0, seed);
        let mut now = T0;
        let mut sent: Vec<(Duration, Send)> = Vec::new();
        let mut asked: Vec<(Duration, Ipv6Addr)> = Vec::new();
        let advance = |s: &mut Scheduler, now: &mut Duration, to: Duration, sent: &mut Vec<_>| {
            while let Some(d) = s.next_deadline().filter(|d| *d <= to) {
                *now = (*now).max(d);
                for x in s.poll(*now) {
                    sent.push((*now, x));
                }
            }
            *now = to;
        };
        for e in evs {
            match e {
                Event::Wait(ms) => {
                    let to = now + Duration::from_millis(u64::from(ms));
                    advance(&mut s, &mut now, to, &mut sent);
                }
                Event::Solicit(h) => {
                    let src = if h == 0 { Ipv6Addr::UNSPECIFIED } else { host(h) };
                    s.solicit(now, src);
                    asked.push((now, src));
                }
            }
        }
        let end = now + secs(10.0);
        advance(&mut s, &mut now, end, &mut sent);
        for &(at, src) in &asked {
            let answered = sent.iter().any(|&(t, x)| {
                t >= at
                    && t <= at + MIN_DELAY_BETWEEN_RAS + MAX_RA_DELAY_TIME
                    && (matches!(x, Send::AllNodes { .. }) || x == Send::Unicast(src))
            });
            prop_assert!(answered, "solicitation from {} at {:?} unanswered: {:?}", src, at - T0, sent);
        }
        let multicasts: Vec<(Duration, Send)> =
            sent.iter().copied().filter(|(_, x)| matches!(x, Send::AllNodes { .. })).collect();
        for w in multicasts.windows(2) {
            prop_assert!(w[1].0 - w[0].0 >= MIN_DELAY_BETWEEN_RAS, "{:?}", w);
        }
        for h in 1..12 {
            let times: Vec<Duration> =
                sent.iter().filter(|(_, x)| *x == Send::Unicast(host(h))).map(|(t, _)| *t).collect();
            for w in times.windows(2) {
                prop_assert!(w[1] - w[0] >= MIN_DELAY_BETWEEN_RAS, "host {}: {:?}", h, w);
            }
        }
        if period == 0 {
            prop_assert!(!sent.iter().any(|(_, x)| *x == MULTICAST), "unsolicited with period 0");
        }
        let unsolicited: Vec<Duration> =
            sent.iter().filter(|(_, x)| *x == MULTICAST).map(|(t, _)| *t).collect();
        for (i, w) in multicasts.windows(2).enumerate() {
            if w[1].1 == MULTICAST && i >= 3 {
                prop_assert!(w[1].0 - w[0].0 >= timing.min_interval, "{:?}", w);
            }
        }
        prop_assert!(unsolicited.first().is_none_or(|t| *t == T0));
    }
}
