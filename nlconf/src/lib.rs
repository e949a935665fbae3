//! Stack configuration: in-process rtnetlink, client helpers, the iothconf grammar and
//! hash-based addresses.
//!
//! Being built (issue 5).
