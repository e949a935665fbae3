//! Writing frames as a classic libpcap file (magic 0xa1b2c3d4, version 2.4, microsecond
//! timestamps, link type 1 = Ethernet) that tcpdump and wireshark read, and reading such
//! files back ([`parse`]). `pcap=FILE` on any VNL ([`crate::open`]) writes one per link.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Link type of Ethernet frames in a pcap header.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length written in the header; frames are stored whole.
pub const SNAPLEN: u32 = 65_535;

/// A pcap file being written.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use vde::pcap::PcapWriter;
/// # fn main() -> std::io::Result<()> {
/// let mut pcap = PcapWriter::new(Vec::new())?; // any Write: a File, a Vec, a pipe
/// let at = UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_042);
/// pcap.write_frame_at(&[0xff; 60], at)?;
/// let bytes = pcap.into_inner();
/// assert_eq!(bytes.len(), 24 + 16 + 60); // global header, record header, frame
/// assert_eq!(bytes[..4], 0xa1b2_c3d4u32.to_ne_bytes()); // microsecond pcap, this host's order
/// assert_eq!(bytes[20..24], vde::pcap::LINKTYPE_ETHERNET.to_ne_bytes());
/// assert_eq!(bytes[24..28], 1_700_000_000u32.to_ne_bytes()); // seconds
/// assert_eq!(bytes[28..32], 42u32.to_ne_bytes()); // microseconds
/// # Ok(())
/// # }
/// ```
///
/// With [`crate::Hub::set_capture`] it records a hub's traffic, as `vdehub --pcap` does.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header.
    pub fn new(mut out: W) -> io::Result<PcapWriter<W>> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_ne_bytes());
        h.extend_from_slice(&2u16.to_ne_bytes());
        h.extend_from_slice(&4u16.to_ne_bytes());
        h.extend_from_slice(&0i32.to_ne_bytes());
        h.extend_from_slice(&0u32.to_ne_bytes());
        h.extend_from_slice(&SNAPLEN.to_ne_bytes());
        h.extend_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out })
    }

    /// Appends one frame stamped with `at`.
    pub fn write_frame_at(&mut self, frame: &[u8], at: SystemTime) -> io::Result<()> {
        let t = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let len = frame.len().min(SNAPLEN as usize);
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&(t.as_secs() as u32).to_ne_bytes());
        rec[4..8].copy_from_slice(&t.subsec_micros().to_ne_bytes());
        rec[8..12].copy_from_slice(&(len as u32).to_ne_bytes());
        rec[12..16].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(&frame[..len])
    }

    /// Appends one frame stamped now.
    pub fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        self.write_frame_at(frame, SystemTime::now())
    }

    /// Flushes buffered output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One frame read back from a pcap file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapRecord {
    /// When the frame was captured.
    pub time: SystemTime,
    /// The frame's length on the wire (`data` may be shorter if it was cut at the snapshot
    /// length).
    pub orig_len: u32,
    /// The bytes stored.
    pub data: Vec<u8>,
}

/// Reads a classic pcap file's records (either byte order, microsecond or nanosecond
/// timestamps). A bad header or a record cut short is `InvalidData` saying where; a file
/// still being written may end in the middle of a record, which is reported the same way.
pub fn parse(bytes: &[u8]) -> io::Result<Vec<PcapRecord>> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let header = bytes
        .get(..24)
        .ok_or_else(|| bad(format!("pcap: {} bytes, no 24-byte header", bytes.len())))?;
    let magic = [header[0], header[1], header[2], header[3]];
    let (swap, nanos) = match u32::from_ne_bytes(magic) {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        m => return Err(bad(format!("pcap: bad magic {m:#010x}"))),
    };
    let word = |b: &[u8]| {
        let w = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        if swap { w.swap_bytes() } else { w }
    };
    let mut out = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let rec = bytes
            .get(at..at + 16)
            .ok_or_else(|| bad(format!("pcap: record header cut short at byte {at}")))?;
        let (secs, frac, incl, orig) = (
            word(&rec[0..4]),
            word(&rec[4..8]),
            word(&rec[8..12]) as usize,
            word(&rec[12..16]),
        );
        let data = bytes
            .get(at + 16..at + 16 + incl)
            .ok_or_else(|| bad(format!("pcap: record at byte {at} cut short")))?;
        let sub = if nanos {
            std::time::Duration::from_nanos(u64::from(frac))
        } else {
            std::time::Duration::from_micros(u64::from(frac))
        };
        out.push(PcapRecord {
            time: UNIX_EPOCH + std::time::Duration::from_secs(u64::from(secs)) + sub,
            orig_len: orig,
            data: data.to_vec(),
        });
        at += 16 + incl;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn header_and_record_layout() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_frame_at(&[0xab; 60], UNIX_EPOCH + Duration::from_micros(5_000_007))
            .unwrap();
        let b = w.into_inner();
        assert_eq!(b.len(), 24 + 16 + 60);
        assert_eq!(&b[0..4], &0xa1b2_c3d4u32.to_ne_bytes());
        assert_eq!(&b[20..24], &1u32.to_ne_bytes());
        assert_eq!(&b[24..28], &5u32.to_ne_bytes());
        assert_eq!(&b[28..32], &7u32.to_ne_bytes());
        assert_eq!(&b[32..36], &60u32.to_ne_bytes());
        let recs = parse(&b).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].data, vec![0xab; 60]);
        assert_eq!(recs[0].orig_len, 60);
        assert_eq!(recs[0].time, UNIX_EPOCH + Duration::from_micros(5_000_007));
        assert!(parse(&b[..50]).is_err());
        assert!(parse(&b[..10]).is_err());
        assert_eq!(parse(&b[..24]).unwrap(), vec![]);
    }
}
