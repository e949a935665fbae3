//! `pcap=FILE` on any VNL: a link whose every frame, sent and received, is also written to
//! a classic pcap file.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::SystemTime;

use crate::eth::ETH_HEADER_LEN;
use crate::link::Endpoint;
use crate::pcap::PcapWriter;
use crate::slots::Slots;
use crate::sys;

/// The file a capture writes; `None` once a write failed (capture stops, the link goes on).
type Writer = Option<PcapWriter<BufWriter<File>>>;

/// The files this process's captures write (canonical paths): a second link given one of
/// them would truncate it under the first.
static OPEN: LazyLock<Mutex<HashSet<PathBuf>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

/// The canonical name of `path`, which may not exist yet (its directory must).
fn canonical(path: &Path) -> io::Result<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Ok(p);
    }
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok(std::fs::canonicalize(dir)?.join(name))
}

/// An endpoint whose frames are written to a pcap file as they pass, in the order they
/// pass, stamped when they pass. The file is flushed after every call that wrote to it, so
/// it is readable while the link runs and complete when the link is dropped.
pub(crate) struct Captured {
    inner: Box<dyn Endpoint>,
    path: PathBuf,
    /// `path`'s canonical name, in [`OPEN`] while this capture lives.
    key: PathBuf,
    out: Mutex<Writer>,
}

impl Captured {
    /// Creates (or truncates) `path` and writes the pcap header; errors name the path. A
    /// file another capture of this process writes is refused (`EBUSY`).
    pub(crate) fn new(inner: Box<dyn Endpoint>, path: &Path) -> io::Result<Captured> {
        let key = canonical(path).map_err(|e| sys::at(path, e))?;
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        if open.contains(&key) {
            return Err(sys::at(
                path,
                io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    "another link of this process captures to this file (give each its own)",
                ),
            ));
        }
        let file = File::create(path).map_err(|e| sys::at(path, e))?;
        let mut w = PcapWriter::new(BufWriter::new(file)).map_err(|e| sys::at(path, e))?;
        w.flush().map_err(|e| sys::at(path, e))?;
        open.insert(key.clone());
        Ok(Captured {
            inner,
            path: path.to_owned(),
            key,
            out: Mutex::new(Some(w)),
        })
    }

    /// Writes `frames` (stamped now) and flushes; a failure is logged once and stops the
    /// capture.
    fn record<'a>(&self, frames: impl Iterator<Item = &'a [u8]>) {
        let mut guard = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let Some(w) = guard.as_mut() else {
            return;
        };
        let now = SystemTime::now();
        let mut result = Ok(());
        for f in frames {
            result = w.write_frame_at(f, now);
            if result.is_err() {
                break;
            }
        }
        if let Err(e) = result.and_then(|()| w.flush()) {
            log::warn!("{}: {e}; capture stopped", self.path.display());
            *guard = None;
        }
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        if let Some(mut w) = self.out.lock().unwrap_or_else(|e| e.into_inner()).take()
            && let Err(e) = w.flush()
        {
            log::warn!("{}: {e}", self.path.display());
        }
        OPEN.lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

impl Endpoint for Captured {
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.inner.send(frame)?;
        if frame.len() >= ETH_HEADER_LEN {
            self.record(std::iter::once(frame));
        }
        Ok(())
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.recv(buf)?;
        self.record(std::iter::once(&buf[..n.min(buf.len())]));
        Ok(n)
    }

    fn recv_batch(&self, slots: &mut Slots<'_>) -> io::Result<usize> {
        let n = self.inner.recv_batch(slots)?;
        let slots = &*slots;
        self.record((0..n).map(|i| slots.frame(i)));
        Ok(n)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.inner.fd()
    }

    fn is_up(&self) -> bool {
        self.inner.is_up()
    }

    fn generation(&self) -> u64 {
        self.inner.generation()
    }

    fn max_frame(&self) -> usize {
        self.inner.max_frame()
    }

    fn dropped(&self) -> u64 {
        self.inner.dropped()
    }

    fn tx_dropped(&self) -> u64 {
        self.inner.tx_dropped()
    }

    fn rx_dropped(&self) -> u64 {
        self.inner.rx_dropped()
    }

    fn set_doorbell(&self, bell: crate::hub::Doorbell) -> bool {
        self.inner.set_doorbell(bell)
    }

    fn wake(&self) {
        self.inner.wake();
    }
}
