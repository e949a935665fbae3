//! smoltcp devices: a VDE link, and the loopback.
//!
//! Neither allocates per frame. A link device is made for the length of one poll and borrows
//! its receive batch from the caller: driver threads lend theirs (ingress and egress), an
//! application thread flushing egress lends none (it never receives), so an idle stack holds
//! no receive buffers at all.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Mutex;

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::counters::{CountedLink, IfCounters};

/// Largest Ethernet frame sent: 1500 bytes of payload and the 14-byte header.
pub(crate) const ETH_FRAME: usize = 1514;

/// A VDE link as a smoltcp device, for one poll.
pub(crate) struct LinkPort<'a> {
    pub link: &'a CountedLink,
    /// The interface's MAC (received frames for other hosts are not counted).
    pub mac: [u8; 6],
    /// The receive batch and how many of its frames were consumed; None: egress only.
    pub rx: Option<(&'a mut vde::FrameBatch, &'a mut usize)>,
    pub tx: &'a mut [u8; ETH_FRAME],
    pub mtu: usize,
    /// Where the (destination, MAC) of each TCP frame sent goes (stacks with our TCP
    /// engine, see `tcp_ioth::fast`; connects of smoltcp's TCP); None: not noted.
    pub learn: Option<&'a mut Vec<(IpAddr, [u8; 6])>>,
    /// With `learn`: only frames to these destinations are noted; empty: all.
    pub learn_only: &'a [IpAddr],
}

/// Most (destination, MAC) pairs a link notes between two looks of the engine.
const LEARN_MAX: usize = 256;

pub(crate) struct FrameRx<'a>(&'a [u8]);

pub(crate) struct FrameTx<'a> {
    link: &'a CountedLink,
    buf: &'a mut [u8; ETH_FRAME],
    learn: Option<&'a mut Vec<(IpAddr, [u8; 6])>>,
    learn_only: &'a [IpAddr],
}

impl phy::RxToken for FrameRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for FrameTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(ETH_FRAME);
        let r = f(&mut self.buf[..len]);
        if let Err(e) = self.link.send(&self.buf[..len]) {
            crate::ident::trace!("frame of {len} bytes not sent on {}: {e}", self.link.vnl());
        }
        if let Some(learn) = self.learn
            && learn.len() < LEARN_MAX
            && let Some(pair) = crate::tcp_ioth::fast::sent_tcp(&self.buf[..len])
            && (self.learn_only.is_empty() || self.learn_only.contains(&pair.0))
        {
            learn.push(pair);
        }
        r
    }
}

impl LinkPort<'_> {
    /// The frame the next receive returns, reading a new batch from the link when the
    /// current one is used up; None when nothing is waiting (or no batch is lent).
    pub(crate) fn peek(&mut self) -> Option<&[u8]> {
        let (batch, pos) = self.rx.as_mut()?;
        if **pos >= batch.len() {
            **pos = 0;
            if self.link.recv_batch(batch, self.mac).is_err() {
                return None;
            }
        }
        batch.get(**pos)
    }

    /// Passes over the frame [`LinkPort::peek`] showed (taken in past smoltcp).
    pub(crate) fn skip(&mut self) {
        if let Some((batch, pos)) = self.rx.as_mut()
            && **pos < batch.len()
        {
            **pos += 1;
        }
    }
}

impl phy::Device for LinkPort<'_> {
    type RxToken<'b>
        = FrameRx<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = FrameTx<'b>
    where
        Self: 'b;

    fn receive(&mut self, _: Instant) -> Option<(FrameRx<'_>, FrameTx<'_>)> {
        self.peek()?;
        let (batch, pos) = self.rx.as_mut()?;
        let i = **pos;
        **pos += 1;
        let frame = batch.get(i)?;
        Some((
            FrameRx(frame),
            FrameTx {
                link: self.link,
                buf: self.tx,
                learn: self.learn.as_deref_mut(),
                learn_only: self.learn_only,
            },
        ))
    }

    fn transmit(&mut self, _: Instant) -> Option<FrameTx<'_>> {
        Some(FrameTx {
            link: self.link,
            buf: self.tx,
            learn: self.learn.as_deref_mut(),
            learn_only: self.learn_only,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu + 14;
        caps.max_burst_size = Some(vde::BATCH_MAX);
        caps
    }
}

/// The loopback device: IP packets sent come back as received, through recycled buffers.
pub(crate) struct Loopback {
    queue: VecDeque<Vec<u8>>,
    /// Buffers to reuse; shared by the receive and transmit tokens of one poll, which smoltcp
    /// may hold at once (a reply built while a packet is being received).
    free: Mutex<Vec<Vec<u8>>>,
    mtu: usize,
    /// `lo`'s counters (see `counters`).
    pub(crate) counters: IfCounters,
}

/// Packets the loopback holds before it drops, as a full interface queue would.
const LOOPBACK_QUEUE: usize = 1024;

impl Loopback {
    pub(crate) fn new(mtu: usize) -> Loopback {
        Loopback {
            queue: VecDeque::new(),
            free: Mutex::new(Vec::new()),
            mtu,
            counters: IfCounters::default(),
        }
    }

    /// Whether packets are waiting to be received.
    pub(crate) fn pending(&self) -> bool {
        !self.queue.is_empty()
    }

    /// The packet the next receive returns.
    pub(crate) fn front(&self) -> Option<&[u8]> {
        self.queue.front().map(Vec::as_slice)
    }

    /// Drops the packet the next receive would return (counted as received).
    pub(crate) fn skip(&mut self) {
        if let Some(buf) = self.queue.pop_front() {
            self.counters.received(buf.len());
            recycle(&self.free, buf);
        }
    }
}

fn recycle(free: &Mutex<Vec<Vec<u8>>>, buf: Vec<u8>) {
    free.lock().unwrap_or_else(|e| e.into_inner()).push(buf);
}

pub(crate) struct LoopRx<'a> {
    buf: Vec<u8>,
    free: &'a Mutex<Vec<Vec<u8>>>,
}

pub(crate) struct LoopTx<'a> {
    queue: &'a mut VecDeque<Vec<u8>>,
    free: &'a Mutex<Vec<Vec<u8>>>,
    counters: &'a IfCounters,
}

impl phy::RxToken for LoopRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.buf);
        recycle(self.free, self.buf);
        r
    }
}

impl phy::TxToken for LoopTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        buf.clear();
        buf.resize(len, 0);
        let r = f(&mut buf);
        if self.queue.len() < LOOPBACK_QUEUE {
            self.counters.sent(len);
            self.counters.snmp.outbound(&buf);
            self.queue.push_back(buf);
        } else {
            self.counters.tx_dropped();
            recycle(self.free, buf);
        }
        r
    }
}

impl phy::Device for Loopback {
    type RxToken<'b>
        = LoopRx<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = LoopTx<'b>
    where
        Self: 'b;

    fn receive(&mut self, _: Instant) -> Option<(LoopRx<'_>, LoopTx<'_>)> {
        let buf = self.queue.pop_front()?;
        self.counters.received(buf.len());
        Some((
            LoopRx {
                buf,
                free: &self.free,
            },
            LoopTx {
                queue: &mut self.queue,
                free: &self.free,
                counters: &self.counters,
            },
        ))
    }

    fn transmit(&mut self, _: Instant) -> Option<LoopTx<'_>> {
        Some(LoopTx {
            queue: &mut self.queue,
            free: &self.free,
            counters: &self.counters,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}
