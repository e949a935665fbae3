//! Attaching an example to a VNL, so that two example processes can meet on one served hub.
//!
//! `hub:///PATH` (or `switch:///PATH`) serves an in-process hub at `PATH/ctl`. The first
//! example given such a VNL serves it; a second one finds `PATH/ctl` answering and joins it as
//! a client (`vde:///PATH`). A `PATH/ctl` left by a process that was killed (nobody answers)
//! is removed and served afresh. Every other VNL is used as given.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::failure::Failure;

/// How an example is attached to its virtual network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// An in-process hub (`hub://@NAME`): only this process can reach it.
    Embedded,
    /// This process serves the hub at this path to other processes.
    Serving(PathBuf),
    /// This process joined the hub another process serves at this path.
    Joined(PathBuf),
    /// Any other VNL (a vde_switch, a TAP interface, ...), used as given.
    Other,
}

impl Attachment {
    /// Whether other processes may be on this network (everything but an embedded hub).
    pub fn is_shared(&self) -> bool {
        *self != Attachment::Embedded
    }

    /// A phrase saying how this process is attached, for messages.
    pub fn describe(&self, vnl: &str) -> String {
        match self {
            Attachment::Embedded => format!("embedded hub {vnl} (this process only)"),
            Attachment::Serving(p) => format!("serving a hub at {}", p.display()),
            Attachment::Joined(p) => format!("joined the hub served at {}", p.display()),
            Attachment::Other => format!("VNL {vnl}"),
        }
    }
}

/// Decides how to attach to `vnl`: returns the VNL to open and how it attaches. A VNL that
/// does not parse is a usage error naming the bad part.
pub fn attach(vnl: &str) -> Result<(String, Attachment), Failure> {
    if vnl.is_empty() {
        return Err(Failure::usage(
            "the VNL \"\" is empty: give one such as hub:///tmp/ioth-demo, or none for an \
             embedded hub",
        ));
    }
    let parsed = vde::Vnl::parse(vnl).map_err(|e| Failure::usage(e.to_string()))?;
    if parsed.scheme != "hub" && parsed.scheme != "switch" {
        return Ok((vnl.to_owned(), Attachment::Other));
    }
    if parsed.address.starts_with('@') {
        return Ok((vnl.to_owned(), Attachment::Embedded));
    }
    if parsed.address.is_empty() {
        // The default served path of the vde crate: let it decide.
        return Ok((vnl.to_owned(), Attachment::Other));
    }
    let dir = PathBuf::from(&parsed.address);
    let ctl = dir.join("ctl");
    match UnixStream::connect(&ctl) {
        Ok(_probe) => {
            // Someone serves it: join as a client. Options of the served form (mode=, ...)
            // concern the server only.
            Ok((format!("vde://{}", dir.display()), Attachment::Joined(dir)))
        }
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            remove_stale(&dir, &ctl)?;
            Ok((vnl.to_owned(), Attachment::Serving(dir)))
        }
        Err(_) => {
            // A directory a killed server left empty is taken over; anything else stays and
            // serving it will say what is in the way.
            let _ = std::fs::remove_dir(&dir);
            Ok((vnl.to_owned(), Attachment::Serving(dir)))
        }
    }
}

/// Removes a hub directory nobody serves any more: its `ctl` socket, then the directory if
/// it is empty. Anything else in it is left alone (serving will then fail with a message).
fn remove_stale(dir: &Path, ctl: &Path) -> Result<(), Failure> {
    log::info!("removing the stale hub socket {}", ctl.display());
    std::fs::remove_file(ctl).map_err(|e| {
        Failure::runtime(format!(
            "{} is left by a hub nobody serves and cannot be removed: {e}",
            ctl.display()
        ))
    })?;
    let _ = std::fs::remove_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_and_other_vnls_pass_through() {
        assert_eq!(
            attach("hub://@lan").unwrap(),
            ("hub://@lan".to_string(), Attachment::Embedded)
        );
        assert_eq!(
            attach("vde:///tmp/sw").unwrap(),
            ("vde:///tmp/sw".to_string(), Attachment::Other)
        );
        assert!(matches!(
            attach("hub:///x[nosuchquote='"),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(attach(""), Err(Failure::Usage(m)) if m.contains("empty")));
    }

    #[test]
    fn served_path_first_serves_then_joins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub");
        let vnl = format!("hub://{}", path.display());
        let (open, how) = attach(&vnl).unwrap();
        assert_eq!(
            (open.as_str(), &how),
            (vnl.as_str(), &Attachment::Serving(path.clone()))
        );
        let _served = vde::open(&open).unwrap();
        let (open, how) = attach(&vnl).unwrap();
        assert_eq!(open, format!("vde://{}", path.display()));
        assert_eq!(how, Attachment::Joined(path.clone()));
        assert!(vde::open(&open).is_ok());
    }

    #[test]
    fn stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub");
        std::fs::create_dir(&path).unwrap();
        drop(std::os::unix::net::UnixListener::bind(path.join("ctl")).unwrap());
        let vnl = format!("hub://{}", path.display());
        let (open, how) = attach(&vnl).unwrap();
        assert_eq!(how, Attachment::Serving(path.clone()));
        assert!(
            vde::open(&open).is_ok(),
            "serving after removing the stale socket"
        );
    }
}
