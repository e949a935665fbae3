//! TCP segments on the wire: header parsing and emission with options, and checksums.
//!
//! Implements the header format of RFC 9293 3.1, the option framing of RFC 9293 3.2, the
//! MSS option (RFC 9293 3.7.1), window scale and timestamps (RFC 7323 2 and 3), SACK
//! (RFC 2018 2 and 3), and the checksum with its pseudo-header (RFC 9293 3.1, RFC 8200 8.1
//! for IPv6) in [`checksum`].
//!
//! Guarantees:
//! - [`Segment::parse`] never panics and never allocates, on any bytes; it is strict where
//!   the RFCs require (header length, option lengths) and tolerant where they say so
//!   (unknown options skipped, a window shift above 14 taken as 14, reserved bits ignored);
//!   it does not verify the checksum ([`verify_checksum`] does);
//! - [`Header::emit`] writes exactly [`Header::len`] bytes, at most [`MAX_HEADER_LEN`], in
//!   the option layout Linux uses (see [`TcpOptions`]), and parsing them gives the header
//!   back, with the documented limits applied (SACK blocks beyond
//!   [`TcpOptions::sack_blocks_emitted`] dropped, a window shift above 14 sent as 14);
//! - [`emit_segment`] writes header and payload with the checksum filled in, or fails with
//!   [`WireError::BufferTooSmall`] having written nothing useful; it does not allocate.

mod checksum;
mod options;

use std::fmt;
use std::net::IpAddr;
use std::ops::{BitOr, BitOrAssign};

use crate::seq::Seq;

pub use checksum::{checksum, verify_checksum};
pub use options::{
    MAX_OPTIONS_LEN, MAX_SACK_BLOCKS, MAX_WINDOW_SCALE, SackBlocks, TcpOptions, Timestamps,
    emit_options, parse_options,
};

/// Length of the fixed TCP header (data offset 5).
pub const HEADER_LEN: usize = 20;
/// Length of the longest TCP header (data offset 15: 40 bytes of options).
pub const MAX_HEADER_LEN: usize = 60;

/// Offset of the checksum field in the header.
const CHECKSUM_OFFSET: usize = 16;

/// The control bits (byte 13 of the header, RFC 9293 3.1; ECE and CWR: RFC 3168 23.2).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// No more data from sender.
    pub const FIN: Flags = Flags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: Flags = Flags(0x02);
    /// Reset the connection.
    pub const RST: Flags = Flags(0x04);
    /// Push function.
    pub const PSH: Flags = Flags(0x08);
    /// The acknowledgment field is significant.
    pub const ACK: Flags = Flags(0x10);
    /// The urgent pointer field is significant.
    pub const URG: Flags = Flags(0x20);
    /// ECN-Echo (RFC 3168).
    pub const ECE: Flags = Flags(0x40);
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: Flags = Flags(0x80);

    const NAMES: [(Flags, &'static str); 8] = [
        (Flags::FIN, "FIN"),
        (Flags::SYN, "SYN"),
        (Flags::RST, "RST"),
        (Flags::PSH, "PSH"),
        (Flags::ACK, "ACK"),
        (Flags::URG, "URG"),
        (Flags::ECE, "ECE"),
        (Flags::CWR, "CWR"),
    ];

    /// Whether every bit of `f` is set in `self`.
    pub fn contains(self, f: Flags) -> bool {
        self.0 & f.0 == f.0
    }

    /// The raw bits.
    pub fn bits(self) -> u8 {
        self.0
    }
}

impl BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Flags {
    /// The names of the bits set, in bit order, joined by `|` (`SYN|ACK`); `(none)` if none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("(none)");
        }
        let mut first = true;
        for (flag, name) in Flags::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// Why bytes are not a TCP segment, or a segment cannot be written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WireError {
    /// The bytes end before the TCP header does (under 20 bytes, or under the data offset).
    Truncated,
    /// The data offset (in 32-bit words) is below 5.
    BadDataOffset(u8),
    /// An option with a length below 2, running past the option area, or wrong for its
    /// kind (`len` 0 when the length byte itself is missing).
    BadOption {
        /// The option's kind.
        kind: u8,
        /// Its length byte.
        len: u8,
    },
    /// Options longer than 40 bytes. Not returned by this module today (emission drops SACK
    /// blocks that do not fit, and a parsed option area is at most 40 bytes); kept for
    /// callers assembling options themselves.
    OptionsTooLong,
    /// The output buffer is too short for what is to be written.
    BufferTooSmall,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WireError::Truncated => f.write_str("TCP segment truncated: shorter than its header"),
            WireError::BadDataOffset(off) => write!(
                f,
                "TCP data offset {off} ({} bytes) is below the minimum 5 (20 bytes)",
                usize::from(off) * 4
            ),
            WireError::BadOption { kind, len } => {
                write!(f, "malformed TCP option: kind {kind} with length {len}")
            }
            WireError::OptionsTooLong => f.write_str("TCP options longer than 40 bytes"),
            WireError::BufferTooSmall => f.write_str("output buffer too small for the TCP segment"),
        }
    }
}

impl std::error::Error for WireError {}

/// A TCP header (RFC 9293 3.1) with its options; the checksum is not kept (it is checked
/// with [`verify_checksum`] and computed by [`emit_segment`]).
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct Header {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: Seq,
    /// Acknowledgment number (meaningful with ACK).
    pub ack: Seq,
    /// Control bits.
    pub flags: Flags,
    /// Window field, unscaled as on the wire.
    pub window: u16,
    /// Urgent pointer (meaningful with URG).
    pub urgent: u16,
    /// Options.
    pub options: TcpOptions,
}

// A header is never empty: `is_empty` would have no meaning.
#[allow(clippy::len_without_is_empty)]
impl Header {
    /// Bytes of header as emitted: 20 plus the options, a multiple of 4, at most 60.
    pub fn len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Writes the header and its options into the start of `out`, with a zero checksum
    /// field; returns the bytes written (= [`Header::len`]). Reserved bits are written as
    /// zero (RFC 9293 3.1).
    ///
    /// Errors: [`WireError::BufferTooSmall`] if `out` is shorter than [`Header::len`].
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let len = self.len();
        if out.len() < len {
            return Err(WireError::BufferTooSmall);
        }
        let (fixed, rest) = out.split_at_mut(HEADER_LEN);
        let mut h = [0u8; HEADER_LEN];
        h[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        h[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        h[4..8].copy_from_slice(&self.seq.0.to_be_bytes());
        h[8..12].copy_from_slice(&self.ack.0.to_be_bytes());
        h[12] = ((len / 4) as u8) << 4;
        h[13] = self.flags.0;
        h[14..16].copy_from_slice(&self.window.to_be_bytes());
        // h[16..18]: checksum, zero.
        h[18..20].copy_from_slice(&self.urgent.to_be_bytes());
        fixed.copy_from_slice(&h);
        let opts = emit_options(&self.options, rest)?;
        Ok(HEADER_LEN + opts)
    }
}

/// A parsed segment: its header and a view of its payload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Segment<'a> {
    /// The header.
    pub header: Header,
    /// The bytes after the header (all of them: the IP layer has cut the packet to its
    /// length already).
    pub payload: &'a [u8],
}

impl<'a> Segment<'a> {
    /// Parses a TCP segment (header, options, payload); does not check the checksum.
    ///
    /// Errors: [`WireError::Truncated`] if `bytes` is shorter than 20 or than the data
    /// offset says; [`WireError::BadDataOffset`] if the data offset is below 5;
    /// [`WireError::BadOption`] for a malformed option (see [`parse_options`]). Never
    /// panics, never allocates.
    pub fn parse(bytes: &'a [u8]) -> Result<Segment<'a>, WireError> {
        let h = bytes
            .first_chunk::<HEADER_LEN>()
            .ok_or(WireError::Truncated)?;
        let offset = h[12] >> 4;
        if offset < 5 {
            return Err(WireError::BadDataOffset(offset));
        }
        let header_len = usize::from(offset) * 4;
        let area = bytes
            .get(HEADER_LEN..header_len)
            .ok_or(WireError::Truncated)?;
        let payload = bytes.get(header_len..).unwrap_or(&[]);
        let options = parse_options(area)?;
        let be16 = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let be32 = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        Ok(Segment {
            header: Header {
                src_port: be16(0),
                dst_port: be16(2),
                seq: Seq(be32(4)),
                ack: Seq(be32(8)),
                flags: Flags(h[13]),
                window: be16(14),
                urgent: be16(18),
                options,
            },
            payload,
        })
    }

    /// The sequence space the segment occupies (RFC 9293 3.4 SEG.LEN): payload bytes, plus
    /// one for SYN, plus one for FIN.
    pub fn seg_len(&self) -> usize {
        let flags = self.header.flags;
        self.payload.len()
            + usize::from(flags.contains(Flags::SYN))
            + usize::from(flags.contains(Flags::FIN))
    }
}

/// Writes a whole segment into `out`: `header` (see [`Header::emit`]), then the `payload`
/// slices one after the other (e.g. the two halves of a ring buffer), then fills in the
/// checksum for `src` and `dst`; returns the segment's length.
///
/// Errors: [`WireError::BufferTooSmall`] if `out` is shorter than the header and payload.
pub fn emit_segment(
    header: &Header,
    payload: &[&[u8]],
    src: IpAddr,
    dst: IpAddr,
    out: &mut [u8],
) -> Result<usize, WireError> {
    let header_len = header.len();
    let total = payload
        .iter()
        .fold(header_len, |n, p| n.saturating_add(p.len()));
    let seg = out.get_mut(..total).ok_or(WireError::BufferTooSmall)?;
    header.emit(seg)?;
    let mut rest = seg.get_mut(header_len..).unwrap_or_default();
    for p in payload {
        // `total` counted every slice, so `rest` always has room; `min` only makes that
        // visible to the reader.
        let n = p.len().min(rest.len());
        let (dst_part, tail) = rest.split_at_mut(n);
        dst_part.copy_from_slice(p.get(..n).unwrap_or_default());
        rest = tail;
    }
    let sum = checksum(src, dst, &[seg]);
    if let Some(field) = seg.get_mut(CHECKSUM_OFFSET..CHECKSUM_OFFSET + 2) {
        field.copy_from_slice(&sum.to_be_bytes());
    }
    Ok(total)
}

#[cfg(test)]
mod tests;
