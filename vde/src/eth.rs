//! The few Ethernet facts a hub needs: header layout, sizes, addresses, VLAN id.
//!
//! Frames are whole Ethernet frames without FCS: destination MAC, source MAC, EtherType,
//! payload. Hubs drop frames shorter than [`ETH_HEADER_LEN`] and cut longer ones to
//! [`MAX_FRAME_LEN`], as vde_switch does:
//!
//! ```
//! use vde::{ETH_HEADER_LEN, MAX_FRAME_LEN};
//! # fn main() -> std::io::Result<()> {
//! let hub = vde::Hub::new();
//! let (a, b) = (hub.connect()?, hub.connect()?);
//! let mut buf = [0u8; 2048];
//!
//! a.send(&[0xff; ETH_HEADER_LEN - 1])?; // a runt: dropped, and counted
//! assert!(b.recv(&mut buf).is_err());
//! assert_eq!(hub.stats()[0].dropped, 1);
//!
//! a.send(&[0xff; 2000])?; // too long: cut
//! assert_eq!(b.recv(&mut buf)?, MAX_FRAME_LEN);
//! assert_eq!((ETH_HEADER_LEN, MAX_FRAME_LEN), (14, 1518));
//! # Ok(())
//! # }
//! ```

/// Length of an Ethernet header (destination, source, type). Shorter frames are dropped.
pub const ETH_HEADER_LEN: usize = 14;

/// Largest frame carried, as vde_switch: 14-byte header + 1504 (1500 payload + VLAN tag).
/// vde_switch truncates longer frames to this length; so do this crate's hubs.
pub const MAX_FRAME_LEN: usize = 1518;

/// A MAC address.
pub type Mac = [u8; 6];

/// Destination MAC of a frame of at least 14 bytes.
pub(crate) fn dst(frame: &[u8]) -> Mac {
    let mut m = [0; 6];
    m.copy_from_slice(&frame[0..6]);
    m
}

/// Source MAC of a frame of at least 14 bytes.
pub(crate) fn src(frame: &[u8]) -> Mac {
    let mut m = [0; 6];
    m.copy_from_slice(&frame[6..12]);
    m
}

/// True for broadcast and multicast addresses (group bit set).
pub(crate) fn is_group(mac: &Mac) -> bool {
    mac[0] & 1 == 1
}

/// VLAN id of an 802.1Q-tagged frame, 0 for an untagged one.
pub(crate) fn vlan(frame: &[u8]) -> u16 {
    if frame.len() >= ETH_HEADER_LEN + 4 && frame[12] == 0x81 && frame[13] == 0x00 {
        u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff
    } else {
        0
    }
}
