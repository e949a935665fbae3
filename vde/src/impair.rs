//! Link impairment like vde's wirefilter: loss, duplication, delay with jitter, reordering
//! and a rate limit, applied to the frames a hub port sends (or to every frame of a hub).
//!
//! Options (in a hub VNL, `hub://@t[loss=5/delay=10+2]`, or on `vdehub`):
//! * `loss=PCT` drops each frame with that probability (percent, fractional allowed);
//! * `dup=PCT` delivers a frame twice with that probability;
//! * `delay=MS[+JITTER]` delays each frame by MS milliseconds, plus or minus a uniform
//!   random JITTER (so jitter alone reorders frames, as netem does);
//! * `reorder=PCT` holds a frame back by an extra `max(2 × (MS + JITTER), 2)` ms so that
//!   frames sent after it overtake it;
//! * `rate=MBIT` serialises frames at that many megabits per second; when more than one
//!   second of frames is waiting the frame is dropped (a router's full queue).
//!
//! Delayed frames wait in one thread per hub (created on first need); their buffers are
//! recycled, so steady delayed traffic does not allocate per frame.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::vnl::Vnl;

/// Impairment settings; the default impairs nothing.
///
/// ```
/// use std::time::Duration;
/// use vde::{Impairment, Vnl};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let imp = Impairment::parse_list("loss=5,delay=10+2")?;
/// assert_eq!(imp.loss, 5.0);
/// assert_eq!((imp.delay, imp.jitter), (Duration::from_millis(10), Duration::from_millis(2)));
///
/// // The same options in a hub VNL, as `vde::open` reads them.
/// let vnl = Vnl::parse("hub://@wan[loss=5/delay=10+2/queue=64]")?;
/// assert_eq!(Impairment::from_vnl(&vnl)?, imp);
///
/// assert!(Impairment::default().is_none());
/// let err = Impairment::parse_list("loss=150").expect_err("not a percentage");
/// assert!(err.to_string().contains("loss=\"150\""), "{err}");
/// # Ok(())
/// # }
/// ```
///
/// [`crate::Hub::connect_with`] applies one to a member's frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Impairment {
    /// Percent of frames dropped.
    pub loss: f64,
    /// Percent of frames delivered twice.
    pub dup: f64,
    /// Base delay.
    pub delay: Duration,
    /// Uniform jitter added to or taken from the delay.
    pub jitter: Duration,
    /// Percent of frames held back so that later frames overtake them.
    pub reorder: f64,
    /// Rate limit in megabits per second.
    pub rate_mbit: Option<f64>,
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

fn parse_pct(key: &str, v: &str) -> io::Result<f64> {
    match v.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(bad(format!(
            "{key}={v:?} is not a percentage between 0 and 100"
        ))),
    }
}

fn parse_ms(key: &str, v: &str) -> io::Result<Duration> {
    match v.parse::<f64>() {
        Ok(ms) if (0.0..=3_600_000.0).contains(&ms) => Ok(Duration::from_secs_f64(ms / 1000.0)),
        _ => Err(bad(format!("{key}={v:?} is not a number of milliseconds"))),
    }
}

impl Impairment {
    /// True when this impairs nothing.
    pub fn is_none(&self) -> bool {
        self.loss == 0.0
            && self.dup == 0.0
            && self.delay.is_zero()
            && self.jitter.is_zero()
            && self.reorder == 0.0
            && self.rate_mbit.is_none()
    }

    /// Sets one option from its text (`loss`, `dup`, `delay`, `reorder`, `rate`); an
    /// unknown key or bad value is an error naming it.
    pub fn set(&mut self, key: &str, value: &str) -> io::Result<()> {
        match key {
            "loss" => self.loss = parse_pct(key, value)?,
            "dup" => self.dup = parse_pct(key, value)?,
            "reorder" => self.reorder = parse_pct(key, value)?,
            "delay" => {
                let (d, j) = value.split_once('+').unwrap_or((value, "0"));
                self.delay = parse_ms(key, d)?;
                self.jitter = parse_ms("delay jitter", j)?;
            }
            "rate" => match value.parse::<f64>() {
                Ok(r) if r > 0.0 && r.is_finite() => self.rate_mbit = Some(r),
                _ => {
                    return Err(bad(format!(
                        "rate={value:?} is not a positive number of Mbit/s"
                    )));
                }
            },
            _ => {
                return Err(bad(format!(
                    "unknown impairment {key:?} (loss, dup, delay, reorder, rate)"
                )));
            }
        }
        Ok(())
    }

    /// The impairment options of a hub/switch VNL.
    pub fn from_vnl(vnl: &Vnl) -> io::Result<Impairment> {
        let mut imp = Impairment::default();
        for (k, v) in &vnl.options {
            if matches!(k.as_str(), "loss" | "dup" | "delay" | "reorder" | "rate") {
                imp.set(k, v).map_err(|e| bad(format!("VNL {vnl}: {e}")))?;
            }
        }
        Ok(imp)
    }

    /// Parses `key=value` pairs separated by `/` or `,` (`loss=5,delay=10+2`).
    pub fn parse_list(s: &str) -> io::Result<Impairment> {
        let mut imp = Impairment::default();
        for item in s.split(['/', ',']).filter(|i| !i.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| bad(format!("impairment {item:?} lacks '='")))?;
            imp.set(k, v)?;
        }
        Ok(imp)
    }
}

/// What to do with one frame.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Drop it.
    Drop,
    /// Deliver `copies` copies now.
    Now(u8),
    /// Deliver `copies` copies at `due`.
    Later(u8, Instant),
}

/// An impairment with its random state and rate-limiter clock.
pub(crate) struct Impairer {
    cfg: Impairment,
    st: Mutex<(u64, Option<Instant>)>,
}

impl Impairer {
    pub(crate) fn new(cfg: Impairment) -> Impairer {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let seed = clock ^ ((std::process::id() as u64) << 32) ^ (&cfg as *const Impairment as u64);
        Impairer {
            cfg,
            st: Mutex::new((seed | 1, None)),
        }
    }

    /// Decides the fate of a frame of `len` bytes arriving `now`.
    pub(crate) fn judge(&self, len: usize, now: Instant) -> Verdict {
        let mut st = self.st.lock().unwrap_or_else(|e| e.into_inner());
        let mut rnd = || {
            // xorshift64*: plenty for impairment decisions.
            st.0 ^= st.0 >> 12;
            st.0 ^= st.0 << 25;
            st.0 ^= st.0 >> 27;
            (st.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        };
        let c = &self.cfg;
        if c.loss > 0.0 && rnd() * 100.0 < c.loss {
            return Verdict::Drop;
        }
        let copies = if c.dup > 0.0 && rnd() * 100.0 < c.dup {
            2
        } else {
            1
        };
        let mut delay = c.delay;
        if !c.jitter.is_zero() {
            let j = c.jitter.as_secs_f64() * (rnd() * 2.0 - 1.0);
            delay = Duration::from_secs_f64((delay.as_secs_f64() + j).max(0.0));
        }
        if c.reorder > 0.0 && rnd() * 100.0 < c.reorder {
            delay += ((c.delay + c.jitter) * 2).max(Duration::from_millis(2));
        }
        if let Some(rate) = c.rate_mbit {
            let tx = Duration::from_secs_f64(len as f64 * 8.0 / (rate * 1e6));
            let start = st.1.map_or(now, |t| t.max(now));
            if start.saturating_duration_since(now) > Duration::from_secs(1) {
                return Verdict::Drop;
            }
            st.1 = Some(start + tx);
            delay += start + tx - now;
        }
        if delay.is_zero() {
            Verdict::Now(copies)
        } else {
            Verdict::Later(copies, now + delay)
        }
    }
}

/// Where delayed frames go when due.
pub(crate) trait DelaySink<P>: Send + Sync {
    /// Delivers a frame that waited, as if `src` had just sent it.
    fn deliver_delayed(&self, src: &P, frame: &[u8]);
}

struct Delayed<P> {
    due: Instant,
    seq: u64,
    src: P,
    frame: Vec<u8>,
}

impl<P> PartialEq for Delayed<P> {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.seq) == (o.due, o.seq)
    }
}
impl<P> Eq for Delayed<P> {}
impl<P> PartialOrd for Delayed<P> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<P> Ord for Delayed<P> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(o.due, o.seq))
    }
}

struct LineState<P> {
    heap: BinaryHeap<Reverse<Delayed<P>>>,
    spare: Vec<Vec<u8>>,
    seq: u64,
    stop: bool,
}

/// A thread holding delayed frames until they are due.
pub(crate) struct DelayLine<P> {
    shared: Arc<(Mutex<LineState<P>>, Condvar)>,
}

/// Most frames held at once; more are dropped (ten thousand full frames: 15 MB).
const DELAY_MAX: usize = 10_000;

impl<P: Send + 'static> DelayLine<P> {
    /// Starts the thread; it stops when this line is dropped or `sink` is gone.
    pub(crate) fn start<S: DelaySink<P> + 'static>(sink: Weak<S>) -> io::Result<DelayLine<P>> {
        let shared = Arc::new((
            Mutex::new(LineState {
                heap: BinaryHeap::new(),
                spare: Vec::new(),
                seq: 0,
                stop: false,
            }),
            Condvar::new(),
        ));
        let sh = shared.clone();
        std::thread::Builder::new()
            .name("vde-delay".into())
            .spawn(move || {
                let mut due: Vec<Delayed<P>> = Vec::new();
                loop {
                    {
                        let (m, cv) = &*sh;
                        let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
                        loop {
                            if st.stop {
                                return;
                            }
                            let now = Instant::now();
                            while st.heap.peek().is_some_and(|Reverse(d)| d.due <= now) {
                                if let Some(Reverse(d)) = st.heap.pop() {
                                    due.push(d);
                                }
                            }
                            if !due.is_empty() {
                                break;
                            }
                            st = match st.heap.peek() {
                                Some(Reverse(d)) => {
                                    let wait = d.due.saturating_duration_since(now);
                                    cv.wait_timeout(st, wait)
                                        .unwrap_or_else(|e| e.into_inner())
                                        .0
                                }
                                None => cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                            };
                        }
                    }
                    let Some(sink) = sink.upgrade() else { return };
                    for d in &due {
                        sink.deliver_delayed(&d.src, &d.frame);
                    }
                    drop(sink);
                    let (m, _) = &*sh;
                    let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
                    for d in due.drain(..) {
                        if st.spare.len() < 1024 {
                            st.spare.push(d.frame);
                        }
                    }
                }
            })?;
        Ok(DelayLine { shared })
    }

    /// Holds `frame` from `src` until `due`; false if the line is full (frame dropped).
    pub(crate) fn hold(&self, due: Instant, src: P, frame: &[u8]) -> bool {
        let (m, cv) = &*self.shared;
        let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
        if st.heap.len() >= DELAY_MAX {
            return false;
        }
        let mut buf = st.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(frame);
        st.seq += 1;
        let seq = st.seq;
        let earliest = st.heap.peek().is_none_or(|Reverse(d)| due < d.due);
        st.heap.push(Reverse(Delayed {
            due,
            seq,
            src,
            frame: buf,
        }));
        if earliest {
            cv.notify_one();
        }
        true
    }
}

impl<P> Drop for DelayLine<P> {
    fn drop(&mut self) {
        let (m, cv) = &*self.shared;
        m.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        cv.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_errors_name_the_option() {
        let i = Impairment::parse_list("loss=5,dup=1/delay=10+2,reorder=3,rate=100").unwrap();
        assert_eq!(i.loss, 5.0);
        assert_eq!(i.dup, 1.0);
        assert_eq!(i.delay, Duration::from_millis(10));
        assert_eq!(i.jitter, Duration::from_millis(2));
        assert_eq!(i.reorder, 3.0);
        assert_eq!(i.rate_mbit, Some(100.0));
        assert!(
            Impairment::parse_list("loss=101")
                .unwrap_err()
                .to_string()
                .contains("loss")
        );
        assert!(
            Impairment::parse_list("delay=x")
                .unwrap_err()
                .to_string()
                .contains("delay")
        );
        assert!(
            Impairment::parse_list("speed=1")
                .unwrap_err()
                .to_string()
                .contains("speed")
        );
        assert!(Impairment::default().is_none());
    }

    #[test]
    fn loss_and_dup_take_effect() {
        let now = Instant::now();
        let all = Impairer::new(Impairment {
            loss: 100.0,
            ..Default::default()
        });
        assert_eq!(all.judge(60, now), Verdict::Drop);
        let dup = Impairer::new(Impairment {
            dup: 100.0,
            ..Default::default()
        });
        assert_eq!(dup.judge(60, now), Verdict::Now(2));
        let half = Impairer::new(Impairment {
            loss: 50.0,
            ..Default::default()
        });
        let dropped = (0..10_000)
            .filter(|_| half.judge(60, now) == Verdict::Drop)
            .count();
        assert!((4000..6000).contains(&dropped), "{dropped}");
    }

    #[test]
    fn delay_and_rate_schedule_later() {
        let now = Instant::now();
        let d = Impairer::new(Impairment {
            delay: Duration::from_millis(10),
            ..Default::default()
        });
        assert_eq!(
            d.judge(60, now),
            Verdict::Later(1, now + Duration::from_millis(10))
        );
        // 1 Mbit/s: a 1250-byte frame takes 10 ms on the wire; the second waits behind it.
        let r = Impairer::new(Impairment {
            rate_mbit: Some(1.0),
            ..Default::default()
        });
        let Verdict::Later(1, a) = r.judge(1250, now) else {
            panic!()
        };
        let Verdict::Later(1, b) = r.judge(1250, now) else {
            panic!()
        };
        assert_eq!(a - now, Duration::from_millis(10));
        assert_eq!(b - now, Duration::from_millis(20));
    }
}
