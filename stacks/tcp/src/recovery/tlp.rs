//! Tail loss probes (RFC 8985 section 7): the probe timeout and the end of a TLP episode.

use std::time::Duration;

use crate::time::Instant;

/// RFC 8985 7.2: WCDelAckT, the worst-case delayed-ACK time added when one segment is in
/// flight (Linux adds its minimum RTO, 200 ms).
pub const WC_DEL_ACK: Duration = Duration::from_millis(200);
/// RFC 8985 7.2: the PTO before any RTT has been measured.
pub const PTO_NO_SRTT: Duration = Duration::from_secs(1);
/// Added to 2 * SRTT when more than one segment is in flight, as Linux adds
/// `TCP_TIMEOUT_MIN` (2 ms): on a sub-millisecond path a probe 2 * SRTT out would fire
/// before any ACK could come back from a receiver that delays them a little.
pub const PTO_MIN_EXTRA: Duration = Duration::from_millis(2);

/// An unacknowledged probe: TLP.end_seq (absolute) and TLP.is_retrans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Probe {
    /// TLP.end_seq: SND.NXT when the probe was sent.
    pub end: u64,
    /// TLP.is_retrans: the probe retransmitted old data instead of sending new data.
    pub is_retrans: bool,
}

/// RFC 8985 7.2: PTO = 2 * SRTT, plus WCDelAckT when one segment is in flight (else plus
/// [`PTO_MIN_EXTRA`], as Linux), or 1 s without an SRTT; never later than the RTO would fire.
pub(super) fn deadline(
    now: Instant,
    srtt: Option<Duration>,
    rto: Duration,
    flight_segments: usize,
) -> Instant {
    let pto = match srtt {
        Some(s) => {
            let two = s.saturating_mul(2);
            if flight_segments <= 1 {
                two.saturating_add(WC_DEL_ACK)
            } else {
                two.saturating_add(PTO_MIN_EXTRA)
            }
        }
        None => PTO_NO_SRTT,
    };
    now + pto.min(rto)
}

/// What an ACK says about the probe in progress.
#[derive(Clone, Copy, Debug)]
pub(super) struct AckView {
    /// The ACK's cumulative acknowledgement (absolute; the ACK was acceptable).
    pub ack: u64,
    /// It advanced SND.UNA.
    pub advanced: bool,
    /// It carried SACK blocks (D-SACK included).
    pub has_sack: bool,
    /// Its D-SACK block covers the probe's last byte (TLP.end_seq - 1).
    pub dsack_matches: bool,
}

/// RFC 8985 7.4.2, TLP_process_ack: ends the episode when the ACK settles it, and says
/// whether the probe repaired a loss (the connection must then invoke congestion control's
/// response). An ACK equal to TLP.end_seq that advanced SND.UNA without a D-SACK leaves the
/// episode open: it cannot tell yet whether the original or the probe arrived.
pub(super) fn process_ack(probe: &mut Option<Probe>, view: AckView) -> bool {
    let Some(p) = *probe else {
        return false;
    };
    if view.ack < p.end {
        return false;
    }
    if !p.is_retrans {
        // The probe carried new data and it was delivered.
        *probe = None;
        false
    } else if view.dsack_matches {
        // Original and probe both arrived: nothing was lost.
        *probe = None;
        false
    } else if view.ack > p.end {
        // Acknowledged beyond the probe without a D-SACK for it: the probe repaired a loss.
        *probe = None;
        true
    } else if !view.advanced && !view.has_sack {
        // A duplicate ACK without SACK, triggered by the probe: the original had arrived.
        *probe = None;
        false
    } else {
        false
    }
}
