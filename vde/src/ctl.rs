//! The VDE control request (version 3), the one message a client writes on `DIR/ctl`.
//!
//! Layout, native byte order, packed: magic `0xfeedface` (u32), version 3 (u32), type (u32:
//! 0 = new port, 1 = port 0, plus a requested port number `N << 8`), the client's data socket
//! as a 110-byte `struct sockaddr_un`, then a description without NUL. The switch reads it
//! with one read of at most 256 bytes and answers with its own 110-byte `sockaddr_un`.

use std::fmt;
use std::io;

use crate::sys::SOCKADDR_UN_LEN;

/// The magic number opening every request.
pub const SWITCH_MAGIC: u32 = 0xfeed_face;
/// The only request version spoken (vde_switch 2.3.2 and vdeplug4 speak 3).
pub const REQUEST_VERSION: u32 = 3;
/// Bytes before the description: magic, version, type and the `sockaddr_un`.
pub const REQUEST_HEADER_LEN: usize = 12 + SOCKADDR_UN_LEN;
/// Largest request a switch reads (one read of this size).
pub const MAX_REQUEST_LEN: usize = 256;
/// Longest description sent (vdeplug4's MAXDESCR - 1).
pub const MAX_DESCR_LEN: usize = 127;
/// Room for the path inside `sun_path` (108 bytes with its NUL).
const SUN_PATH_LEN: usize = SOCKADDR_UN_LEN - 2;

/// Which port the client asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortRequest {
    /// Type 0: the switch picks a free port.
    Any,
    /// Type `N << 8`: port N.
    Number(u32),
    /// Type 1: port 0, the management port.
    Zero,
}

/// A decoded control request.
///
/// ```
/// use vde::ctl::{CtlRequest, PortRequest, REQUEST_HEADER_LEN, SWITCH_MAGIC};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let req = CtlRequest {
///     port: PortRequest::Number(3),
///     data_path: b"/tmp/vde-client.sock".to_vec(),
///     description: "doc user=1000 pid=42".into(),
/// };
/// let bytes = req.encode()?; // what a client writes on DIR/ctl
/// assert_eq!(bytes[..4], SWITCH_MAGIC.to_ne_bytes());
/// assert_eq!(bytes.len(), REQUEST_HEADER_LEN + req.description.len());
/// assert_eq!(CtlRequest::parse(&bytes)?, req); // what a switch reads
///
/// let err = CtlRequest::parse(&bytes[..20]).expect_err("truncated");
/// assert!(err.to_string().contains("truncated"), "{err}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtlRequest {
    /// The port asked for.
    pub port: PortRequest,
    /// Path of the client's data socket (no NUL, never empty, at most 107 bytes).
    pub data_path: Vec<u8>,
    /// Free text describing the client (vdeplug4: `"<descr> user=<uid> pid=<pid>"`).
    pub description: String,
}

/// Why a control request was refused; the text names the bad field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtlError(String);

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad VDE control request: {}", self.0)
    }
}

impl std::error::Error for CtlError {}

impl From<CtlError> for io::Error {
    fn from(e: CtlError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(w)
}

impl CtlRequest {
    /// Decodes what one read of the control stream returned. Truncated (shorter than 122
    /// bytes), oversized (over 256), wrong magic or version, unknown type, a non-AF_UNIX or
    /// unterminated or empty address are errors naming that field.
    pub fn parse(buf: &[u8]) -> Result<CtlRequest, CtlError> {
        if buf.len() > MAX_REQUEST_LEN {
            return Err(CtlError(format!(
                "{} bytes, more than the {MAX_REQUEST_LEN} a request may have",
                buf.len()
            )));
        }
        if buf.len() < REQUEST_HEADER_LEN {
            return Err(CtlError(format!(
                "truncated: {} bytes, at least {REQUEST_HEADER_LEN} needed",
                buf.len()
            )));
        }
        let magic = u32_at(buf, 0);
        if magic != SWITCH_MAGIC {
            return Err(CtlError(format!(
                "magic {magic:#010x}, expected {SWITCH_MAGIC:#010x}"
            )));
        }
        let version = u32_at(buf, 4);
        if version != REQUEST_VERSION {
            return Err(CtlError(format!(
                "version {version}, only {REQUEST_VERSION} is spoken"
            )));
        }
        let ty = u32_at(buf, 8);
        let port = match (ty & 0xff, ty >> 8) {
            (0, 0) => PortRequest::Any,
            (0, n) => PortRequest::Number(n),
            (1, _) => PortRequest::Zero,
            (t, _) => return Err(CtlError(format!("request type {t}, expected 0 or 1"))),
        };
        let family = u16::from_ne_bytes([buf[12], buf[13]]);
        if family != libc::AF_UNIX as u16 {
            return Err(CtlError(format!(
                "address family {family}, expected AF_UNIX"
            )));
        }
        let path = &buf[14..14 + SUN_PATH_LEN];
        let end = path
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| CtlError("data socket path is not NUL-terminated".into()))?;
        if end == 0 {
            return Err(CtlError("data socket path is empty".into()));
        }
        let descr = &buf[REQUEST_HEADER_LEN..];
        let descr = &descr[..descr.iter().position(|&b| b == 0).unwrap_or(descr.len())];
        Ok(CtlRequest {
            port,
            data_path: path[..end].to_vec(),
            description: String::from_utf8_lossy(descr).into_owned(),
        })
    }

    /// Encodes the request as one `send()` carries it; the description is cut to 127 bytes.
    pub fn encode(&self) -> io::Result<Vec<u8>> {
        if self.data_path.is_empty()
            || self.data_path.len() >= SUN_PATH_LEN
            || self.data_path.contains(&0)
        {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        let ty: u32 = match self.port {
            PortRequest::Any => 0,
            PortRequest::Number(n) if n <= 0x00ff_ffff => n << 8,
            PortRequest::Number(_) => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
            PortRequest::Zero => 1,
        };
        let mut descr = self.description.as_bytes();
        if descr.len() > MAX_DESCR_LEN {
            descr = &descr[..MAX_DESCR_LEN];
        }
        let descr = &descr[..descr.iter().position(|&b| b == 0).unwrap_or(descr.len())];
        let mut out = Vec::with_capacity(REQUEST_HEADER_LEN + descr.len());
        out.extend_from_slice(&SWITCH_MAGIC.to_ne_bytes());
        out.extend_from_slice(&REQUEST_VERSION.to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
        let mut path = [0u8; SUN_PATH_LEN];
        path[..self.data_path.len()].copy_from_slice(&self.data_path);
        out.extend_from_slice(&path);
        out.extend_from_slice(descr);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(port: PortRequest) -> CtlRequest {
        CtlRequest {
            port,
            data_path: b"/tmp/sw/.01234-00000".to_vec(),
            description: "test user=0 pid=1".into(),
        }
    }

    #[test]
    fn layout_matches_the_reference() {
        let b = req(PortRequest::Number(3)).encode().unwrap();
        assert_eq!(&b[0..4], &[0xce, 0xfa, 0xed, 0xfe]);
        assert_eq!(&b[4..8], &3u32.to_ne_bytes());
        assert_eq!(&b[8..12], &(3u32 << 8).to_ne_bytes());
        assert_eq!(&b[12..14], &1u16.to_ne_bytes());
        assert_eq!(&b[14..34], b"/tmp/sw/.01234-00000");
        assert_eq!(b.len(), 122 + "test user=0 pid=1".len());
        assert_eq!(&b[122..], b"test user=0 pid=1");
    }

    #[test]
    fn round_trip() {
        for p in [PortRequest::Any, PortRequest::Number(7), PortRequest::Zero] {
            let r = req(p);
            assert_eq!(CtlRequest::parse(&r.encode().unwrap()).unwrap(), r);
        }
    }

    #[test]
    fn bad_requests_name_the_field() {
        let good = req(PortRequest::Any).encode().unwrap();
        let e = CtlRequest::parse(&good[..100]).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        let mut big = good.clone();
        big.resize(300, b'x');
        assert!(
            CtlRequest::parse(&big)
                .unwrap_err()
                .to_string()
                .contains("300 bytes")
        );
        let mut b = good.clone();
        b[0] = 0;
        assert!(
            CtlRequest::parse(&b)
                .unwrap_err()
                .to_string()
                .contains("magic")
        );
        let mut b = good.clone();
        b[4..8].copy_from_slice(&2u32.to_ne_bytes());
        assert!(
            CtlRequest::parse(&b)
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
        let mut b = good.clone();
        b[8] = 5;
        assert!(
            CtlRequest::parse(&b)
                .unwrap_err()
                .to_string()
                .contains("type 5")
        );
        let mut b = good.clone();
        b[12..14].copy_from_slice(&2u16.to_ne_bytes());
        assert!(
            CtlRequest::parse(&b)
                .unwrap_err()
                .to_string()
                .contains("family 2")
        );
        let mut b = good.clone();
        b[14..122].fill(b'a');
        assert!(
            CtlRequest::parse(&b)
                .unwrap_err()
                .to_string()
                .contains("NUL")
        );
        let mut b = good;
        b[14] = 0;
        assert!(
            CtlRequest::parse(&b)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }
}
