//! Virtual Distributed Ethernet: VNL parsing, links (vde://, hub://, switch://, tap://,
//! vxvde://, null://) and in-process hubs, byte-compatible with vde_switch and vdeplug4.
//!
//! Being built (issue 3).
