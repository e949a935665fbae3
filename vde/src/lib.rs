//! Virtual Distributed Ethernet: cables and hubs byte-compatible with vde_switch 2.3.2 and
//! vdeplug4. This crate knows Ethernet frames and nothing of IP.
//!
//! [`open`] takes a VNL and gives a [`Link`]: a frame endpoint with a pollable fd.
//!
//! | VNL | what it is |
//! |---|---|
//! | `vde:///DIR`, `vde:///DIR[3]`, `vde:///DIR[port=3/group=g/mode=0660/timeout=MS]`, `/DIR` | client of a vde_switch (or any node speaking its protocol) at `DIR/ctl`; `timeout` (default 5000) bounds the whole opening, a full listen backlog included; reconnects when a switch serves `DIR` again |
//! | `""` (empty) | the default switch: `~/.vdeplug/default`, `~/.vde2/default.switch`, then `/var/run/vde.ctl`, `/tmp/vde.ctl` |
//! | `hub://@NAME`, `switch://@NAME` | an in-process hub/switch known by NAME in this process, no file at all |
//! | `hub:///PATH`, `switch:///PATH[mode=0600/dirmode=/grp=/expiretime=]` | the hub/switch at PATH: joined as `vde://PATH` when another process serves it, else served by this process at `PATH/ctl` to other processes (`vde_plug vde://PATH`), taking over a `PATH` a dead server left; removed when its last user in this process goes (see [`hub`]) |
//! | `tap://IFNAME` | a Linux TAP interface (IFF_TAP, IFF_NO_PI) |
//! | `vxvde://GROUP/port=14789/vni=1/ttl=1` | Ethernet over UDP multicast, vdeplug4's wire format |
//! | `null://` | drops everything, receives nothing |
//!
//! A path-like VNL without `://` that names a regular file is replaced by the file's first
//! line, as vdeplug4 does. Options use vdeplug4's syntax (see [`vnl`]): `[a=1/b=2]` after a
//! path, `/a=1/b=2` after an address, quotes, `\` and `%XX` escapes, abbreviated keys.
//! Hub and switch VNLs also take impairment options (`loss=PCT/dup=PCT/delay=MS+JITTER/
//! reorder=PCT/rate=MBIT`, see [`impair`]) applied to the frames the opened member sends,
//! and `queue=N` (receive queue length of in-process members, default 256).
//!
//! Every VNL takes `pcap=FILE` (`vde:///tmp/sw[pcap=/tmp/x.pcap]`, `hub://@lan[pcap=/tmp/x.pcap]`,
//! `vxvde://239.0.0.1/pcap=/tmp/x.pcap`, `null:///pcap=/tmp/x.pcap`): FILE is created (or
//! truncated) as a classic pcap file (Ethernet, microsecond timestamps, see [`pcap`]) and
//! every frame the link sends and every frame it receives is appended, stamped when it
//! passes, in the order it passes; the file is flushed after every send and receive, so
//! `tcpdump -r` reads it while the link runs, and it is complete when the link is dropped.
//! A frame the link drops as runt (under 14 bytes) is not written. Failing to create FILE
//! fails the open with an error naming it, and so does a FILE another open link of this
//! process captures to (`ResourceBusy`: it would be truncated under that link; give each
//! link its own); a later write error is logged once and stops the capture, not the link.
//!
//! Opening the same `hub://@NAME` or `hub://PATH` twice in one process joins the same hub;
//! [`Hub`] is the Rust API for the same hubs (`Hub::new()`, `hub.connect()`).
//!
//! Guarantees: sending never blocks (a full peer queue drops the frame, as vde_switch
//! does); receiving never blocks; the link's fd is readable when a frame or link-down is
//! waiting; a switch that goes away makes the link report down (`ENETDOWN` once the frames
//! already received are drained, [`Link::is_up`] false, one log line), never hang or panic;
//! a `vde://` link then reconnects by itself, with no thread of its own, when a switch
//! serves its path again: attempts are paced from 100 ms to 2 s apart, made by the link's
//! own calls, and the fd (whose number never changes) turns readable when one is due;
//! [`Link::generation`] counts the down/up changes for upper layers. Frames under 14 bytes
//! are dropped and hubs cut frames to 1518 bytes like vde_switch; frames between in-process
//! members pass with no system call and no allocation; in-process members never go down.
//! A served hub ([`Hub::serve`], `hub:///PATH`, the `vdehub` tool) closes control
//! connections that send no request in time and bounds them in total, per user and by the
//! process's open-file limit ([`ServeConfig`]), so idle or flooding clients cannot keep new
//! members out, exhaust its fds, spin it or flood its log. Errors are `std::io::Error`:
//! link errors carry the errno Linux gives (`ENETDOWN`...); errors about a file or socket
//! (opening, serving) have the errno's kind and a text naming the path, with the errno's
//! text once (bad VNLs: `InvalidInput` with a text naming the bad part).
//!
//! Two links opened on one in-process hub, a frame from one to the other:
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! let a = vde::open("hub://@lan")?;
//! let b = vde::open("hub://@lan")?; // the same name: the same hub
//!
//! let mut frame = [0u8; 60];
//! frame[..6].copy_from_slice(&[0xff; 6]); // destination: broadcast
//! frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // source MAC
//! frame[12..14].copy_from_slice(&[0x88, 0xb5]); // EtherType for local experiments
//! a.send(&frame)?;
//!
//! let mut buf = [0u8; vde::MAX_FRAME_LEN];
//! let n = b.recv(&mut buf)?; // already there: in-process delivery is synchronous
//! assert_eq!(&buf[..n], &frame[..]);
//! // The sender does not hear itself, and receiving never blocks.
//! let nothing = a.recv(&mut buf).expect_err("no frame for the sender");
//! assert_eq!(nothing.kind(), std::io::ErrorKind::WouldBlock);
//! # Ok(())
//! # }
//! ```

mod capture;
pub mod ctl;
pub mod eth;
pub mod hub;
pub mod impair;
mod link;
mod null;
mod pace;
pub mod pcap;
mod slots;
mod sys;
mod tap;
mod vde_client;
pub mod vnl;
mod vxvde;

use std::io;
use std::path::Path;

pub use eth::{ETH_HEADER_LEN, MAX_FRAME_LEN};
pub use hub::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PER_UID, Doorbell, Hub, HubConfig,
    HubKind, PortStats, ServeConfig,
};
pub use impair::Impairment;
pub use link::{BATCH_MAX, FrameBatch, Link};
pub use vnl::Vnl;

/// Opens the link a VNL names (see the crate docs for the forms).
///
/// A bad VNL is an `InvalidInput` error whose text names the bad part; `null://` is a link
/// that takes every frame and never has one to give:
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let err = vde::open("vde:///tmp/sw[prot=3]").expect_err("a misspelt option");
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// assert!(err.to_string().contains("unknown option \"prot\""), "{err}");
///
/// let null = vde::open("null://")?;
/// null.send(&[0u8; 60])?;
/// let mut buf = [0u8; 1518];
/// assert_eq!(null.recv(&mut buf).expect_err("nothing").kind(), std::io::ErrorKind::WouldBlock);
/// assert!(null.is_up());
/// # Ok(())
/// # }
/// ```
pub fn open(vnl: &str) -> io::Result<Link> {
    let home = std::env::var_os("HOME");
    let text = resolve(vnl, home.as_deref().map(Path::new))?;
    let parsed = Vnl::parse(&text)?;
    let pcap = match parsed.option(vnl::PCAP) {
        Some("") => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("VNL {text}: pcap= names no file"),
            ));
        }
        other => other.map(str::to_owned),
    };
    let link: Link = match parsed.scheme.as_str() {
        "vde" => vde_client::open(&parsed, &text)?,
        "hub" | "switch" => hub::open_vnl(&parsed, &text)?,
        "tap" => Link::new(Box::new(tap::TapLink::open(&parsed.address)?), text),
        "vxvde" => Link::new(Box::new(vxvde::VxvdeLink::open(&parsed, &text)?), text),
        "null" => Link::new(Box::new(null::NullLink::new()?), text),
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unsupported scheme {other:?}"),
            ));
        }
    };
    match pcap {
        None => Ok(link),
        Some(path) => link.captured(Path::new(&path)),
    }
}

/// vdeplug4's indirections for VNLs without `://`: the empty VNL means the user's default
/// switch, and a regular file holds the VNL on its first line.
fn resolve(vnl: &str, home: Option<&Path>) -> io::Result<String> {
    if vnl.contains("://") {
        return Ok(vnl.to_owned());
    }
    let mut path = vnl.to_owned();
    if path.is_empty()
        && let Some(home) = home
    {
        for cand in [".vdeplug/default", ".vde2/default.switch"] {
            let p = home.join(cand);
            if std::fs::symlink_metadata(&p).is_ok() {
                path = p.to_string_lossy().into_owned();
                break;
            }
        }
    }
    if !path.is_empty()
        && let Ok(md) = std::fs::metadata(&path)
        && md.is_file()
    {
        let text = std::fs::read_to_string(&path)?;
        let first = text.lines().next().unwrap_or("").trim_end();
        return Ok(first.to_owned());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_follows_vdeplug4() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(resolve("vde:///x", Some(home.path())).unwrap(), "vde:///x");
        assert_eq!(resolve("", Some(home.path())).unwrap(), "");
        std::fs::create_dir(home.path().join(".vdeplug")).unwrap();
        std::fs::write(
            home.path().join(".vdeplug/default"),
            "hub://@fromfile\nignored\n",
        )
        .unwrap();
        assert_eq!(resolve("", Some(home.path())).unwrap(), "hub://@fromfile");
        let file = home.path().join("net");
        std::fs::write(&file, "null://\n").unwrap();
        assert_eq!(resolve(file.to_str().unwrap(), None).unwrap(), "null://");
        let dir = home.path().join("sw");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(
            resolve(dir.to_str().unwrap(), None).unwrap(),
            dir.to_str().unwrap()
        );
    }

    #[test]
    fn null_link_drops_and_never_receives() {
        let l = open("null://").unwrap();
        l.send(&[0u8; 60]).unwrap();
        let mut b = [0u8; 100];
        assert_eq!(
            l.recv(&mut b).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert!(l.is_up());
    }

    #[test]
    fn bad_vnl_error_names_the_part() {
        let e = open("vde:///tmp/x[nosuch=1]").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("nosuch"));
    }
}
