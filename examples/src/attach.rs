//! How an example is attached to its VNL, for its messages and for whether it runs a peer of
//! its own.
//!
//! The vde crate does the attaching: given `hub:///PATH` (or `switch:///PATH`), the first
//! process serves a hub at `PATH` and the others join it, a `PATH` left by a killed process
//! is taken over, and the hub's files go when the process that serves it does. This module
//! only names what happened.

use std::path::PathBuf;

use crate::failure::Failure;

/// How an example is attached to its virtual network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// An in-process hub (`hub://@NAME`): only this process can reach it.
    Embedded,
    /// A hub at this path: served by this process or joined (see [`Attachment::describe`]).
    Hub(PathBuf),
    /// Any other VNL (a vde_switch, a TAP interface, ...).
    Other,
}

impl Attachment {
    /// Whether other processes may be on this network (everything but an embedded hub).
    pub fn is_shared(&self) -> bool {
        *self != Attachment::Embedded
    }

    /// A phrase saying how this process is attached, for messages; call it once the VNL is
    /// open (before, a path hub is named without saying who serves it).
    pub fn describe(&self, vnl: &str) -> String {
        match self {
            Attachment::Embedded => format!("embedded hub {vnl} (this process only)"),
            Attachment::Hub(p) if vde::hub::served_by_this_process(p) => {
                format!("serving a hub at {}", p.display())
            }
            Attachment::Hub(p) => format!("joined the hub served at {}", p.display()),
            Attachment::Other => format!("VNL {vnl}"),
        }
    }

    /// A phrase naming the network before it is open.
    pub fn place(&self, vnl: &str) -> String {
        match self {
            Attachment::Hub(p) => format!(
                "the hub at {} (served by the first process given it)",
                p.display()
            ),
            _ => self.describe(vnl),
        }
    }
}

/// How `vnl` attaches. A VNL that does not parse is a usage error naming the bad part.
pub fn attach(vnl: &str) -> Result<Attachment, Failure> {
    if vnl.is_empty() {
        return Err(Failure::usage(
            "the VNL \"\" is empty: give one such as hub:///tmp/ioth-demo, or none for an \
             embedded hub",
        ));
    }
    let parsed = vde::Vnl::parse(vnl).map_err(|e| Failure::usage(e.to_string()))?;
    if parsed.scheme != "hub" && parsed.scheme != "switch" {
        return Ok(Attachment::Other);
    }
    if parsed.address.starts_with('@') {
        return Ok(Attachment::Embedded);
    }
    if parsed.address.is_empty() {
        // The vde crate's default path: not ours to name.
        return Ok(Attachment::Other);
    }
    Ok(Attachment::Hub(PathBuf::from(&parsed.address)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_and_other_vnls_are_told_apart() {
        assert_eq!(attach("hub://@lan").unwrap(), Attachment::Embedded);
        assert_eq!(attach("vde:///tmp/sw").unwrap(), Attachment::Other);
        assert!(matches!(
            attach("hub:///x[nosuchquote='"),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(attach(""), Err(Failure::Usage(m)) if m.contains("empty")));
    }

    #[test]
    fn a_path_hub_served_here_is_described_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub");
        let vnl = format!("hub://{}", path.display());
        let how = attach(&vnl).unwrap();
        assert_eq!(how, Attachment::Hub(path.clone()));
        let served = vde::open(&vnl).unwrap();
        assert_eq!(
            how.describe(&vnl),
            format!("serving a hub at {}", path.display())
        );
        drop(served);
        assert!(!path.exists(), "the hub's directory went with it");
    }
}
