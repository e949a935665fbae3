//! Moving a TCP byte stream between two nonblocking sockets: one bounded buffer per
//! direction, end of stream passed on as a half close.
//!
//! [`Pipe::pump`] reads and writes until neither side can go on: the source is empty
//! (`EAGAIN`) or ended, and the destination is full (`EAGAIN`) or there is nothing to write.
//! With edge-triggered readiness that is the rule that never loses a wake-up: a side is left
//! only when it will report readiness again, or when the buffer is full and the other side's
//! writability will bring the pump back.

use std::io::{self, ErrorKind};
use std::net::Shutdown;

use ioth::Socket;

/// One side of a relayed connection, as the pipe sees it.
pub trait Endpoint {
    /// Reads into `buf` without blocking (`WouldBlock` when nothing is there; 0 at the end).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes from `buf` without blocking (`WouldBlock` when full).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// Ends the outgoing direction (TCP FIN).
    fn shutdown_write(&mut self) -> io::Result<()>;
}

impl Endpoint for &Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf, 0)
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The kernel backend adds MSG_NOSIGNAL itself; user-space stacks raise no SIGPIPE.
        self.send(buf, 0)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// One direction of a relayed connection.
#[derive(Debug)]
pub struct Pipe {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The source ended.
    eof: bool,
    /// The end was passed on to the destination.
    shut: bool,
}

/// Whether an error only means "not now".
fn would_block(e: &io::Error) -> bool {
    e.kind() == ErrorKind::WouldBlock
}

impl Pipe {
    /// A pipe with a buffer of `capacity` bytes (at least 1).
    pub fn new(capacity: usize) -> Pipe {
        Pipe {
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            shut: false,
        }
    }

    /// Whether the source ended and everything, the end included, reached the destination.
    pub fn done(&self) -> bool {
        self.shut
    }

    /// Bytes read but not yet written.
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Moves bytes from `src` to `dst` until neither can go on; returns how many were
    /// written. An error of either side other than `WouldBlock`/`Interrupted` ends the
    /// pumping and is returned (the connection is then over).
    pub fn pump(&mut self, src: &mut impl Endpoint, dst: &mut impl Endpoint) -> io::Result<usize> {
        let mut moved = 0;
        loop {
            let mut progress = false;
            if !self.eof && self.end < self.buf.len() {
                match src.read(&mut self.buf[self.end..]) {
                    Ok(0) => {
                        self.eof = true;
                        progress = true;
                    }
                    Ok(n) => {
                        self.end += n;
                        progress = true;
                    }
                    Err(e) if would_block(&e) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => progress = true,
                    Err(e) => return Err(e),
                }
            }
            if self.start < self.end {
                match dst.write(&self.buf[self.start..self.end]) {
                    Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero)),
                    Ok(n) => {
                        self.start += n;
                        moved += n;
                        progress = true;
                        if self.start == self.end {
                            self.start = 0;
                            self.end = 0;
                        }
                    }
                    Err(e) if would_block(&e) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => progress = true,
                    Err(e) => return Err(e),
                }
            }
            if self.eof && self.start == self.end && !self.shut {
                self.shut = true;
                // The peer may have gone already; the other direction will say so.
                if let Err(e) = dst.shutdown_write()
                    && e.raw_os_error() != Some(libc::ENOTCONN)
                {
                    return Err(e);
                }
            }
            if !progress {
                return Ok(moved);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// A scripted endpoint: reads come from `input` in the chunk sizes of `read_plan`
    /// (0 = WouldBlock), writes take at most `write_plan` bytes each (0 = WouldBlock).
    #[derive(Default)]
    struct Script {
        input: VecDeque<u8>,
        input_ends: bool,
        read_plan: VecDeque<usize>,
        output: Vec<u8>,
        write_plan: VecDeque<usize>,
        shut: bool,
    }

    impl Endpoint for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let want = self.read_plan.pop_front().unwrap_or(usize::MAX);
            if want == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            if self.input.is_empty() {
                return if self.input_ends {
                    Ok(0)
                } else {
                    Err(ErrorKind::WouldBlock.into())
                };
            }
            let n = want.min(buf.len()).min(self.input.len());
            for b in buf.iter_mut().take(n) {
                *b = self.input.pop_front().unwrap_or_default();
            }
            Ok(n)
        }
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            assert!(!self.shut, "write after shutdown");
            let can = self.write_plan.pop_front().unwrap_or(usize::MAX);
            if can == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            let n = can.min(buf.len());
            self.output.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn shutdown_write(&mut self) -> io::Result<()> {
            self.shut = true;
            Ok(())
        }
    }

    #[test]
    fn a_full_destination_stops_reading_and_resumes_later() {
        let mut src = Script {
            input: (0..100u8).collect(),
            input_ends: true,
            ..Script::default()
        };
        let mut dst = Script {
            write_plan: [10, 0].into(),
            ..Script::default()
        };
        let mut pipe = Pipe::new(16);
        assert_eq!(pipe.pump(&mut src, &mut dst).unwrap(), 10);
        assert!(pipe.pending() > 0 && !pipe.done());
        // The destination is writable again: everything goes, then the end.
        assert_eq!(pipe.pump(&mut src, &mut dst).unwrap(), 90);
        assert_eq!(dst.output, (0..100u8).collect::<Vec<_>>());
        assert!(dst.shut && pipe.done());
    }

    #[test]
    fn errors_end_the_pumping() {
        struct Broken;
        impl Endpoint for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(ErrorKind::ConnectionReset.into())
            }
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(ErrorKind::BrokenPipe.into())
            }
            fn shutdown_write(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut pipe = Pipe::new(8);
        let mut dst = Script::default();
        let e = pipe.pump(&mut Broken, &mut dst).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        let mut src = Script {
            input: [1, 2, 3].into(),
            ..Script::default()
        };
        let e = Pipe::new(8).pump(&mut src, &mut Broken).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BrokenPipe);
    }

    proptest! {
        /// Whatever the chunking and however often either side is not ready, every byte
        /// arrives once and in order, and the end follows the last byte.
        #[test]
        fn bytes_arrive_in_order_and_the_end_follows(
            data in proptest::collection::vec(any::<u8>(), 0..3000),
            reads in proptest::collection::vec(0usize..700, 0..40),
            writes in proptest::collection::vec(0usize..700, 0..40),
            cap in 1usize..600,
        ) {
            let mut src = Script {
                input: data.iter().copied().collect(),
                input_ends: true,
                read_plan: reads.into(),
                ..Script::default()
            };
            let mut dst = Script { write_plan: writes.into(), ..Script::default() };
            let mut pipe = Pipe::new(cap);
            let mut total = 0;
            // Each round is a readiness event; the plans run out, after which both sides
            // are always ready.
            for _ in 0..200 {
                total += pipe.pump(&mut src, &mut dst).unwrap();
                prop_assert!(dst.output.len() <= data.len());
                prop_assert_eq!(&dst.output[..], &data[..dst.output.len()]);
                if pipe.done() {
                    break;
                }
            }
            prop_assert!(pipe.done());
            prop_assert!(dst.shut);
            prop_assert_eq!(total, data.len());
            prop_assert_eq!(dst.output, data);
        }
    }
}
