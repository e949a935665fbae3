//! A batch receive's room: fixed-size slots in one buffer, set up lazily.

/// Room for a batch of frames: `lens.len()` slots of `slot` bytes, one after another in
/// `buf` (a receive fills slot `i` and sets `lens[i]`). Nothing is set up per slot: a
/// receive that finds nothing costs nothing for the slots it did not use.
pub(crate) struct Slots<'a> {
    buf: &'a mut [u8],
    slot: usize,
    /// The length of the frame in each slot (as many as there are slots).
    pub(crate) lens: &'a mut [usize],
}

impl<'a> Slots<'a> {
    /// As many slots of `slot` bytes as both `buf` and `lens` have room for.
    pub(crate) fn new(buf: &'a mut [u8], slot: usize, lens: &'a mut [usize]) -> Slots<'a> {
        let n = buf.len().checked_div(slot).unwrap_or(0).min(lens.len());
        Slots {
            buf,
            slot,
            lens: &mut lens[..n],
        }
    }

    /// How many slots there are.
    pub(crate) fn len(&self) -> usize {
        self.lens.len()
    }

    /// Slot `i` (`i < len()`), `slot` bytes.
    pub(crate) fn slot(&mut self, i: usize) -> &mut [u8] {
        &mut self.buf[i * self.slot..(i + 1) * self.slot]
    }

    /// The frame received into slot `i` (`i < len()`): its first `lens[i]` bytes.
    pub(crate) fn frame(&self, i: usize) -> &[u8] {
        let start = i * self.slot;
        &self.buf[start..start + self.lens[i].min(self.slot)]
    }

    /// Slot `i` and its length entry.
    pub(crate) fn slot_and_len(&mut self, i: usize) -> (&mut [u8], &mut usize) {
        (
            &mut self.buf[i * self.slot..(i + 1) * self.slot],
            &mut self.lens[i],
        )
    }
}
