//! A link: one Ethernet endpoint with a pollable fd, whatever carries its frames.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use crate::eth::MAX_FRAME_LEN;
use crate::slots::Slots;

/// What every kind of link implements. Frames are whole Ethernet frames without FCS.
pub(crate) trait Endpoint: Send + Sync {
    /// Sends one frame without blocking; a full peer queue drops it (counted, `Ok`).
    fn send(&self, frame: &[u8]) -> io::Result<()>;
    /// Receives one frame without blocking (WouldBlock when none is waiting).
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Receives up to `slots.len()` frames; the default calls `recv` in a loop.
    fn recv_batch(&self, slots: &mut Slots<'_>) -> io::Result<usize> {
        let mut n = 0;
        while n < slots.len() {
            match self.recv(slots.slot(n)) {
                Ok(len) => {
                    slots.lens[n] = len;
                    n += 1;
                }
                Err(e) if n > 0 && e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if n > 0 && e.raw_os_error() == Some(libc::ENETDOWN) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
    /// The fd that is readable when a frame (or link-down) is waiting.
    fn fd(&self) -> BorrowedFd<'_>;
    /// False while the other side is away.
    fn is_up(&self) -> bool;
    /// How many times the link went down or came back up since it was opened.
    fn generation(&self) -> u64 {
        0
    }
    /// Largest frame carried.
    fn max_frame(&self) -> usize {
        MAX_FRAME_LEN
    }
    /// Frames dropped by this endpoint (full queues, short frames).
    fn dropped(&self) -> u64 {
        0
    }
    /// Frames this end's own sends dropped: runts, a full peer queue or socket it saw
    /// (not what an impairment loses on the way). Default: [`Endpoint::dropped`], for
    /// endpoints that drop only on sending.
    fn tx_dropped(&self) -> u64 {
        self.dropped()
    }
    /// Frames for this end that its full receive queue refused (in-process members).
    fn rx_dropped(&self) -> u64 {
        0
    }
    /// Installs a doorbell (in-process hub members only; false elsewhere or when one is
    /// already installed).
    fn set_doorbell(&self, _bell: crate::hub::Doorbell) -> bool {
        false
    }
    /// Makes the fd readable if a frame is waiting (only doorbell endpoints need it).
    fn wake(&self) {}
}

/// An open link: send and receive whole Ethernet frames, poll one fd.
///
/// Guarantees, whatever the VNL:
/// * [`Link::fd`] (also via `AsRawFd`/`AsFd`) is readable when at least one frame can be
///   received or when the link went down; for in-process hub members it is readable
///   exactly when a frame is queued. The fd number stays the same for the link's life,
///   also across the reconnections of a `vde://` link; while such a link is down its fd
///   turns readable when the next reconnection attempt is due (calling any of its methods
///   then makes the attempt).
/// * [`Link::send`] never blocks. When the peer's queue is full the frame is dropped, as
///   vde_switch drops it, and `send` returns `Ok(())`; [`Link::dropped`] counts such frames.
///   Frames shorter than 14 bytes are dropped the same way.
/// * [`Link::recv`] never blocks: `WouldBlock` when nothing is waiting; once the link is
///   down and drained, `ENETDOWN`. A frame longer than the buffer is truncated.
/// * A `Link` is `Send + Sync`: one thread may send while another receives.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let hub = vde::Hub::new();
/// let (a, b) = (hub.connect()?, hub.connect()?);
/// assert!(a.is_up() && a.generation() == 0); // in-process members never go down
/// assert_eq!(a.max_frame(), vde::MAX_FRAME_LEN);
///
/// let receiver = std::thread::spawn(move || -> std::io::Result<usize> {
///     let mut buf = [0u8; vde::MAX_FRAME_LEN];
///     loop {
///         match b.recv(&mut buf) {
///             Ok(n) => return Ok(n),
///             // A real receiver polls b's fd (AsFd) instead of spinning.
///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
///             Err(e) => return Err(e),
///         }
///     }
/// });
/// a.send(&[0xff; 64])?;
/// assert_eq!(receiver.join().expect("the receiver")?, 64);
/// # Ok(())
/// # }
/// ```
pub struct Link {
    inner: Box<dyn Endpoint>,
    vnl: String,
}

impl Link {
    pub(crate) fn new(inner: Box<dyn Endpoint>, vnl: impl Into<String>) -> Link {
        Link {
            inner,
            vnl: vnl.into(),
        }
    }

    /// This link with every frame it sends and receives also written to the pcap file
    /// `path` (created or truncated; an error names it).
    pub(crate) fn captured(self, path: &std::path::Path) -> io::Result<Link> {
        Ok(Link {
            inner: Box::new(crate::capture::Captured::new(self.inner, path)?),
            vnl: self.vnl,
        })
    }

    /// Sends one frame without blocking (see the type's guarantees).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.inner.send(frame)
    }

    /// Receives one frame into `buf` without blocking; returns its length.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.recv(buf)
    }

    /// Receives as many waiting frames as `batch` holds, with one system call for
    /// socket-backed links (recvmmsg) and one lock for in-process members. Returns how many;
    /// `WouldBlock` if none was waiting.
    pub fn recv_batch(&self, batch: &mut FrameBatch) -> io::Result<usize> {
        batch.count = 0;
        let cap = batch.lens.len().min(BATCH_MAX);
        let mut slots = Slots::new(&mut batch.buf, batch.slot, &mut batch.lens[..cap]);
        let n = self.inner.recv_batch(&mut slots)?;
        batch.count = n;
        Ok(n)
    }

    /// The largest frame this link carries (1518: 1500 bytes of payload, header, VLAN tag).
    pub fn max_frame(&self) -> usize {
        self.inner.max_frame()
    }

    /// False while the other side is away (the switch closed the control stream, the
    /// interface vanished). A `vde://` link comes back up by itself when a switch serves
    /// its path again: while down, this call and `send`/`recv`/`recv_batch` make the
    /// reconnection attempts (paced from 100 ms to 2 s apart; a new port request with the
    /// same options). Other kinds of link stay down once down: open a new one. In-process
    /// hub members (`hub://`, [`crate::Hub::connect`]) never go down.
    pub fn is_up(&self) -> bool {
        self.inner.is_up()
    }

    /// A counter of the link's state changes: it grows by one each time the link goes down
    /// and each time it comes back up, and never changes otherwise (0 for a link that never
    /// went down). Cheap (one atomic load, no system call): an upper layer compares it with
    /// the value it saw last to learn that the link went down and/or up in between, then
    /// asks [`Link::is_up`] for the state now. The link only notices a change when one of
    /// its methods runs (its fd turns readable to make a waiter call one).
    pub fn generation(&self) -> u64 {
        self.inner.generation()
    }

    /// Frames this end dropped because the peer queue was full or the frame was runt.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped()
    }

    /// Frames this link's own [`Link::send`]s dropped without sending: runts, and frames a
    /// full queue or socket right behind this end refused (a `vde://` or joined hub's data
    /// socket, a TAP). Frames an impairment loses on the way and frames an in-process
    /// hub's other members had no room for are not in it (the frame did leave). It changes
    /// only while a send of this link runs, so comparing it before and after a send tells
    /// whether that frame left.
    pub fn tx_dropped(&self) -> u64 {
        self.inner.tx_dropped()
    }

    /// Frames sent to this end that were dropped because its receive queue was full: for
    /// in-process hub members (the queue is `queue=N` frames); 0 for other links, whose
    /// receive queues are the kernel's.
    pub fn rx_dropped(&self) -> u64 {
        self.inner.rx_dropped()
    }

    /// Installs `bell`, rung on the sending thread each time a frame arrives while the fd
    /// is not readable, before the fd is made readable, with the frame's length and the
    /// number of frames waiting (this one included, not those a receive already took); when
    /// `bell` returns true the fd stays
    /// as it is and no thread waiting on it wakes. Returning true is a promise: the receiver
    /// receives until `recv` gives `WouldBlock`, or calls [`Link::wake`] when it stops
    /// earlier. `bell` runs under the queue's lock: it must be quick and must not use this
    /// link or the hub. Only in-process hub members (`hub://`, [`crate::Hub::connect`])
    /// have a doorbell: false for every other link, and when one is already installed.
    ///
    /// This lets a receiver in the same process take in frames on the sender's thread, as
    /// the kernel's loopback runs the receiver's stack on the sender's CPU.
    pub fn set_doorbell(&self, bell: crate::hub::Doorbell) -> bool {
        self.inner.set_doorbell(bell)
    }

    /// Makes the fd readable if a frame is waiting (see [`Link::set_doorbell`]); nothing
    /// for links without a doorbell, whose fd already is.
    pub fn wake(&self) {
        self.inner.wake();
    }

    /// The VNL this link was opened with.
    pub fn vnl(&self) -> &str {
        &self.vnl
    }

    /// The pollable fd (readable when a frame or link-down is waiting).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.fd()
    }
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.fd()
    }
}

impl AsRawFd for Link {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd().as_raw_fd()
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("vnl", &self.vnl)
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// Most frames one [`FrameBatch`] holds.
pub const BATCH_MAX: usize = 64;

/// Preallocated buffers for [`Link::recv_batch`]: receiving into it never allocates.
///
/// ```
/// use vde::FrameBatch;
/// # fn main() -> std::io::Result<()> {
/// let hub = vde::Hub::new();
/// let (a, b) = (hub.connect()?, hub.connect()?);
/// for len in [60, 61, 62] {
///     a.send(&vec![0xff; len])?;
/// }
/// let mut batch = FrameBatch::new(vde::BATCH_MAX);
/// assert_eq!(b.recv_batch(&mut batch)?, 3); // every waiting frame, one lock
/// let lens: Vec<usize> = batch.iter().map(<[u8]>::len).collect();
/// assert_eq!(lens, [60, 61, 62]);
/// assert!(b.recv_batch(&mut batch).is_err()); // WouldBlock: the queue is empty
/// # Ok(())
/// # }
/// ```
pub struct FrameBatch {
    buf: Vec<u8>,
    lens: Vec<usize>,
    slot: usize,
    count: usize,
}

impl FrameBatch {
    /// Room for `n` frames (clamped to 1..=[`BATCH_MAX`]) of up to 1518 bytes each.
    pub fn new(n: usize) -> FrameBatch {
        let n = n.clamp(1, BATCH_MAX);
        FrameBatch {
            buf: vec![0; n * MAX_FRAME_LEN],
            lens: vec![0; n],
            slot: MAX_FRAME_LEN,
            count: 0,
        }
    }

    /// Frames received by the last [`Link::recv_batch`].
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the last receive got nothing.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many frames the batch can hold.
    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    /// Frame `i` of the last receive (`None` past [`FrameBatch::len`]).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.count {
            return None;
        }
        let start = i * self.slot;
        Some(&self.buf[start..start + self.lens[i].min(self.slot)])
    }

    /// The frames of the last receive, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.count).filter_map(move |i| self.get(i))
    }
}
