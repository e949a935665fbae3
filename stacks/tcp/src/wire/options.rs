//! TCP options: parsing of the option area and its emission in Linux's layout.
//!
//! Options implemented (RFC 9293 3.2 for the list's framing):
//! - End of Option List (kind 0) and No-Operation (kind 1), RFC 9293 3.2;
//! - Maximum Segment Size (kind 2, length 4), RFC 9293 3.2 and 3.7.1;
//! - Window Scale (kind 3, length 3), RFC 7323 2;
//! - SACK-Permitted (kind 4, length 2) and SACK (kind 5, length 2 + 8n), RFC 2018 2 and 3;
//! - Timestamps (kind 8, length 10), RFC 7323 3.
//!
//! Guarantees:
//! - [`parse_options`] never panics and never allocates, whatever the bytes;
//! - [`TcpOptions::len`] is exactly the number of bytes [`emit_options`] writes, always a
//!   multiple of 4 and never more than [`MAX_OPTIONS_LEN`];
//! - parsing what was emitted gives back the options emitted (with the documented SACK-block
//!   and window-scale limits applied).

use crate::seq::Seq;

use super::WireError;

/// The most option bytes a header can carry (data offset 15, RFC 9293 3.1).
pub const MAX_OPTIONS_LEN: usize = 40;

const KIND_EOL: u8 = 0;
const KIND_NOP: u8 = 1;
const KIND_MSS: u8 = 2;
const KIND_WINDOW_SCALE: u8 = 3;
const KIND_SACK_PERMITTED: u8 = 4;
const KIND_SACK: u8 = 5;
const KIND_TIMESTAMPS: u8 = 8;

/// The largest window shift RFC 7323 2.3 allows; larger received values are taken as this.
pub const MAX_WINDOW_SCALE: u8 = 14;

/// The most SACK blocks an option can hold (RFC 2018 3: 40 bytes of option space).
pub const MAX_SACK_BLOCKS: usize = 4;

/// Up to four SACK blocks `(left edge, right edge)`, in the order given.
///
/// Invariant: slots beyond `len` hold `(Seq(0), Seq(0))`, so that the derived equality
/// compares exactly the blocks in use. Blocks are not validated here (a left edge after the
/// right edge is kept as received): judging them is the SACK scoreboard's job.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct SackBlocks {
    blocks: [(Seq, Seq); MAX_SACK_BLOCKS],
    len: u8,
}

impl SackBlocks {
    /// No blocks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a block; returns `false` (and changes nothing) when four are already held.
    pub fn push(&mut self, start: Seq, end: Seq) -> bool {
        match self.blocks.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = (start, end);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The blocks held, in the order pushed.
    pub fn as_slice(&self) -> &[(Seq, Seq)] {
        self.blocks.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// How many blocks are held (0 to 4).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether no block is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every block (restoring the zeroed-slots invariant).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// The first `n` blocks (all of them when fewer are held).
    pub fn truncated(&self, n: usize) -> SackBlocks {
        let mut out = SackBlocks::new();
        for &(s, e) in self.as_slice().iter().take(n) {
            out.push(s, e);
        }
        out
    }
}

impl std::fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.as_slice().iter().map(|(s, e)| s.0..e.0))
            .finish()
    }
}

/// The Timestamps option's two values (RFC 7323 3.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Timestamps {
    /// TSval: the sender's timestamp clock.
    pub val: u32,
    /// TSecr: the TSval echoed back (meaningful only with ACK set).
    pub ecr: u32,
}

/// The options of one segment.
///
/// Parsing fills in what the segment carried (for a repeated option, the last occurrence
/// wins). Emission writes everything set here, whatever the segment's flags: the caller
/// puts `mss`, `window_scale` and `sack_permitted` only on SYNs (RFC 9293 3.7.1, RFC 7323
/// 2.2, RFC 2018 2) and SACK blocks only on non-SYN segments.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct TcpOptions {
    /// Maximum Segment Size (kind 2).
    pub mss: Option<u16>,
    /// Window scale shift (kind 3); at most 14 once parsed, and emitted as at most 14.
    pub window_scale: Option<u8>,
    /// SACK-Permitted (kind 4).
    pub sack_permitted: bool,
    /// Timestamps (kind 8).
    pub timestamps: Option<Timestamps>,
    /// SACK blocks (kind 5); only the first [`TcpOptions::sack_blocks_emitted`] are emitted.
    pub sack: SackBlocks,
}

impl TcpOptions {
    /// Bytes of everything but the SACK blocks, as emitted (a multiple of 4, at most 20).
    fn fixed_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4; // MSS
        }
        if self.timestamps.is_some() {
            n += 12; // SACK-Permitted + Timestamps, or NOP NOP Timestamps
        } else if self.sack_permitted {
            n += 4; // NOP NOP SACK-Permitted
        }
        if self.window_scale.is_some() {
            n += 4; // NOP Window-Scale
        }
        n
    }

    /// How many of `sack`'s blocks [`emit_options`] writes: the first ones, as many as fit
    /// in 40 bytes after the other options (4 alone, 3 with timestamps, 2 with everything a
    /// SYN can carry).
    pub fn sack_blocks_emitted(&self) -> usize {
        let room = MAX_OPTIONS_LEN.saturating_sub(self.fixed_len() + 4) / 8;
        self.sack.len().min(room).min(MAX_SACK_BLOCKS)
    }

    /// Bytes of options as emitted: a multiple of 4, at most 40.
    pub fn len(&self) -> usize {
        let blocks = self.sack_blocks_emitted();
        let sack = if blocks == 0 { 0 } else { 4 + 8 * blocks };
        self.fixed_len() + sack
    }

    /// Whether no option is set (nothing would be emitted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A cursor writing into a buffer that the caller has checked is long enough.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

/// Writes `opts` into `out` in Linux's layout; returns the bytes written (= `opts.len()`).
///
/// Layout: MSS; then SACK-Permitted and Timestamps together (2 + 10), or NOP NOP
/// Timestamps, or NOP NOP SACK-Permitted; then NOP Window-Scale; then NOP NOP SACK with the
/// first [`TcpOptions::sack_blocks_emitted`] blocks. On a SYN this is Linux's SYN layout, on
/// other segments Linux's NOP NOP Timestamps, NOP NOP SACK. Every option is 4-aligned, so
/// no padding is needed.
///
/// Errors: [`WireError::BufferTooSmall`] if `out` is shorter than `opts.len()`.
pub fn emit_options(opts: &TcpOptions, out: &mut [u8]) -> Result<usize, WireError> {
    let len = opts.len();
    let buf = out.get_mut(..len).ok_or(WireError::BufferTooSmall)?;
    let mut w = Writer { buf, pos: 0 };
    if let Some(mss) = opts.mss {
        let [hi, lo] = mss.to_be_bytes();
        w.put(&[KIND_MSS, 4, hi, lo]);
    }
    match (opts.timestamps, opts.sack_permitted) {
        (Some(ts), sack_ok) => {
            if sack_ok {
                w.put(&[KIND_SACK_PERMITTED, 2]);
            } else {
                w.put(&[KIND_NOP, KIND_NOP]);
            }
            w.put(&[KIND_TIMESTAMPS, 10]);
            w.put(&ts.val.to_be_bytes());
            w.put(&ts.ecr.to_be_bytes());
        }
        (None, true) => w.put(&[KIND_NOP, KIND_NOP, KIND_SACK_PERMITTED, 2]),
        (None, false) => {}
    }
    if let Some(shift) = opts.window_scale {
        // RFC 7323 2.3: a shift above 14 is never sent.
        w.put(&[KIND_NOP, KIND_WINDOW_SCALE, 3, shift.min(MAX_WINDOW_SCALE)]);
    }
    let blocks = opts.sack_blocks_emitted();
    if blocks > 0 {
        // RFC 2018 3: kind 5, length 2 + 8n, then n pairs of 32-bit edges.
        w.put(&[KIND_NOP, KIND_NOP, KIND_SACK, (2 + 8 * blocks) as u8]);
        for &(start, end) in opts.sack.as_slice().iter().take(blocks) {
            w.put(&start.0.to_be_bytes());
            w.put(&end.0.to_be_bytes());
        }
    }
    Ok(w.pos)
}

fn be16(b: &[u8]) -> u16 {
    b.first_chunk::<2>().map_or(0, |c| u16::from_be_bytes(*c))
}

fn be32(b: &[u8]) -> u32 {
    b.first_chunk::<4>().map_or(0, |c| u32::from_be_bytes(*c))
}

/// Parses an option area (the header bytes after the fixed 20).
///
/// Rules (RFC 9293 3.2): EOL ends the list (what follows is padding and is ignored); NOP is
/// skipped; any other option has a length byte counting kind and length, and a length below
/// 2 or running past the area is [`WireError::BadOption`] (RFC 9293 3.2 asks to be prepared
/// for an illegal length). Known kinds must have their fixed length (MSS 4, window scale 3,
/// SACK-Permitted 2, timestamps 10, SACK 10/18/26/34), else `BadOption`; unknown kinds are
/// skipped by their length (RFC 9293 3.2: options not implemented are ignored). A window
/// shift above 14 is taken as 14 (RFC 7323 2.3). A repeated option: the last one wins (a
/// second SACK option replaces the first one's blocks).
pub fn parse_options(area: &[u8]) -> Result<TcpOptions, WireError> {
    let mut opts = TcpOptions::default();
    let mut rest = area;
    while let Some((&kind, tail)) = rest.split_first() {
        match kind {
            KIND_EOL => break,
            KIND_NOP => {
                rest = tail;
                continue;
            }
            _ => {}
        }
        let Some(&len) = tail.first() else {
            return Err(WireError::BadOption { kind, len: 0 });
        };
        let bad = WireError::BadOption { kind, len };
        let body = rest.get(2..usize::from(len)).ok_or(bad)?;
        match (kind, len) {
            (KIND_MSS, 4) => opts.mss = Some(be16(body)),
            (KIND_WINDOW_SCALE, 3) => {
                let shift = body.first().copied().unwrap_or(0);
                if shift > MAX_WINDOW_SCALE {
                    log::debug!(
                        "window scale {shift} above {MAX_WINDOW_SCALE}, using {MAX_WINDOW_SCALE}"
                    );
                }
                opts.window_scale = Some(shift.min(MAX_WINDOW_SCALE));
            }
            (KIND_SACK_PERMITTED, 2) => opts.sack_permitted = true,
            (KIND_SACK, 10 | 18 | 26 | 34) => {
                opts.sack.clear();
                let (pairs, _) = body.as_chunks::<8>();
                for pair in pairs {
                    let (s, e) = pair.split_at(4);
                    opts.sack.push(Seq(be32(s)), Seq(be32(e)));
                }
            }
            (KIND_TIMESTAMPS, 10) => {
                let (v, e) = body.split_at(body.len().min(4));
                opts.timestamps = Some(Timestamps {
                    val: be32(v),
                    ecr: be32(e),
                });
            }
            (
                KIND_MSS | KIND_WINDOW_SCALE | KIND_SACK_PERMITTED | KIND_SACK | KIND_TIMESTAMPS,
                _,
            ) => {
                return Err(bad);
            }
            _ => {} // unknown kind: skipped by its length
        }
        rest = rest.get(usize::from(len)..).unwrap_or(&[]);
    }
    Ok(opts)
}
