//! Interface counters (what netlink reports as `IFLA_STATS64`, `ip -s link` shows): every
//! frame an interface sends or receives passes through [`CountedLink`] (a VDE link) or the
//! loopback device, which count it as Linux's drivers do.
//!
//! - Received: frames for the interface's MAC, broadcast and multicast ones (a hub floods
//!   other hosts' unicast frames too; a NIC's filter would not let them in, so they are not
//!   counted), bytes with the Ethernet header; runts are `rx_length_errors`; frames of a
//!   protocol the stack does not speak (neither IPv4, ARP nor IPv6) also `rx_nohandler`, as
//!   Linux's core counts them. A down interface receives nothing (its frames are discarded
//!   uncounted, as a NIC that is down never sees them).
//!   Frames an in-process hub had no room for in this end's queue are `rx_dropped`
//!   (`vde::Link::rx_dropped`).
//! - Sent: frames the link took; a frame the link dropped without sending (a full socket
//!   towards the switch, see `vde::Link::tx_dropped`) is `tx_dropped` instead; a send the
//!   link refused (down, no carrier) is `tx_errors` and `tx_carrier_errors`.
//! - `lo`: each packet looped back counts once as sent and once as received (bytes of the IP
//!   packet, as Linux's loopback counts them); a full loopback queue is `tx_dropped`.
//!
//! The counters are plain cells: every frame moves under the stack's lock.

use std::cell::Cell;
use std::io;
use std::ops::Deref;

use nlconf::model::LinkStats;

/// One interface's counters.
#[derive(Debug, Default)]
pub(crate) struct IfCounters {
    rx_packets: Cell<u64>,
    rx_bytes: Cell<u64>,
    tx_packets: Cell<u64>,
    tx_bytes: Cell<u64>,
    tx_dropped: Cell<u64>,
    multicast: Cell<u64>,
    rx_length_errors: Cell<u64>,
    rx_nohandler: Cell<u64>,
    tx_carrier_errors: Cell<u64>,
    /// The protocol counters of what this interface carries (see `snmp`).
    pub(crate) snmp: crate::snmp::Snmp,
}

fn add(c: &Cell<u64>, n: u64) {
    c.set(c.get().wrapping_add(n));
}

impl IfCounters {
    /// One frame (or packet) of `len` bytes sent.
    pub(crate) fn sent(&self, len: usize) {
        add(&self.tx_packets, 1);
        add(&self.tx_bytes, len as u64);
    }

    /// One frame (or packet) of `len` bytes received.
    pub(crate) fn received(&self, len: usize) {
        add(&self.rx_packets, 1);
        add(&self.rx_bytes, len as u64);
    }

    /// One frame dropped on sending (a full queue).
    pub(crate) fn tx_dropped(&self) {
        add(&self.tx_dropped, 1);
    }

    /// Whether an interface whose MAC is `mac` takes `frame` in (its own, broadcast,
    /// multicast), as a NIC's filter decides.
    pub(crate) fn accepts(frame: &[u8], mac: [u8; 6]) -> bool {
        frame.len() >= vde::ETH_HEADER_LEN && (frame[0] & 1 != 0 || frame[..6] == mac)
    }

    /// Counts one received Ethernet frame for an interface whose MAC is `mac`.
    fn received_frame(&self, frame: &[u8], mac: [u8; 6]) {
        if frame.len() < vde::ETH_HEADER_LEN {
            add(&self.rx_length_errors, 1);
            return;
        }
        let group = frame[0] & 1 != 0;
        if !group && frame[..6] != mac {
            return;
        }
        self.received(frame.len());
        if group && frame[..6] != [0xff; 6] {
            add(&self.multicast, 1);
        }
        if !matches!(
            u16::from_be_bytes([frame[12], frame[13]]),
            0x0800 | 0x0806 | 0x86dd
        ) {
            add(&self.rx_nohandler, 1);
        }
    }

    /// The counters as netlink reports them.
    pub(crate) fn snapshot(&self) -> LinkStats {
        LinkStats {
            rx_packets: self.rx_packets.get(),
            tx_packets: self.tx_packets.get(),
            rx_bytes: self.rx_bytes.get(),
            tx_bytes: self.tx_bytes.get(),
            rx_errors: self.rx_length_errors.get(),
            tx_errors: self.tx_carrier_errors.get(),
            tx_dropped: self.tx_dropped.get(),
            multicast: self.multicast.get(),
            rx_length_errors: self.rx_length_errors.get(),
            rx_nohandler: self.rx_nohandler.get(),
            tx_carrier_errors: self.tx_carrier_errors.get(),
            ..LinkStats::default()
        }
    }
}

/// A VDE link whose frames are counted: `send` and `recv_batch` count, everything else is
/// the link's (through `Deref`).
pub(crate) struct CountedLink {
    link: vde::Link,
    pub(crate) counters: IfCounters,
}

impl CountedLink {
    pub(crate) fn new(link: vde::Link) -> CountedLink {
        CountedLink {
            link,
            counters: IfCounters::default(),
        }
    }

    /// Sends one frame (see `vde::Link::send`), counting it as sent, dropped on the way, or
    /// refused.
    pub(crate) fn send(&self, frame: &[u8]) -> io::Result<()> {
        let before = self.link.tx_dropped();
        let r = self.link.send(frame);
        match &r {
            Ok(()) if self.link.tx_dropped() == before => {
                self.counters.sent(frame.len());
                if let Some(ip) = crate::snmp::ip_of_frame(frame) {
                    self.counters.snmp.outbound(ip);
                }
            }
            Ok(()) => self.counters.tx_dropped(),
            Err(_) => add(&self.counters.tx_carrier_errors, 1),
        }
        r
    }

    /// Receives a batch (see `vde::Link::recv_batch`) for an interface whose MAC is `mac`,
    /// counting its frames.
    pub(crate) fn recv_batch(
        &self,
        batch: &mut vde::FrameBatch,
        mac: [u8; 6],
    ) -> io::Result<usize> {
        let n = self.link.recv_batch(batch)?;
        for frame in batch.iter() {
            self.counters.received_frame(frame, mac);
        }
        Ok(n)
    }

    /// The counters as netlink reports them, with the link's receive-queue drops.
    pub(crate) fn snapshot(&self) -> LinkStats {
        let mut s = self.counters.snapshot();
        s.rx_dropped = self.link.rx_dropped();
        s
    }

    /// Receives and discards what is waiting, uncounted (a down interface).
    pub(crate) fn discard(&self, batch: &mut vde::FrameBatch) {
        while self.link.recv_batch(batch).is_ok_and(|n| n > 0) {}
    }
}

impl std::os::fd::AsRawFd for CountedLink {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.link.as_raw_fd()
    }
}

impl Deref for CountedLink {
    type Target = vde::Link;

    fn deref(&self) -> &vde::Link {
        &self.link
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(dst: [u8; 6], ethertype: u16, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        f[12..14].copy_from_slice(&ethertype.to_be_bytes());
        f
    }

    #[test]
    fn received_frames_are_filtered_and_classified() {
        let me = [2, 0, 0, 0, 0, 1];
        let c = IfCounters::default();
        c.received_frame(&frame(me, 0x0800, 100), me);
        c.received_frame(&frame([0xff; 6], 0x0806, 60), me);
        c.received_frame(&frame([0x33, 0x33, 0, 0, 0, 1], 0x86dd, 90), me);
        c.received_frame(&frame([2, 0, 0, 0, 0, 7], 0x0800, 100), me); // another host's
        c.received_frame(&frame(me, 0x88b5, 64), me); // no handler
        c.received_frame(&[1, 2, 3], me);
        let s = c.snapshot();
        assert_eq!(s.rx_packets, 4);
        assert_eq!(s.rx_bytes, 100 + 60 + 90 + 64);
        assert_eq!(s.multicast, 1);
        assert_eq!(s.rx_nohandler, 1);
        assert_eq!((s.rx_errors, s.rx_length_errors), (1, 1));
    }

    #[test]
    fn sends_count_taken_and_refused_and_a_full_queue_is_the_receivers_drop() {
        let hub = vde::Hub::new();
        let a = CountedLink::new(hub.connect().unwrap());
        let b = CountedLink::new(hub.connect().unwrap()); // never read: its queue fills
        let f = frame([0xff; 6], 0x0800, 100);
        for _ in 0..1000 {
            a.send(&f).unwrap();
        }
        a.send(&[1, 2, 3]).unwrap(); // a runt: dropped by the link, unsent
        let s = a.snapshot();
        assert_eq!((s.tx_packets, s.tx_bytes, s.tx_dropped), (1000, 100_000, 1));
        let r = b.snapshot();
        assert!(r.rx_dropped >= 1000 - 256, "{r:?}");
    }
}
