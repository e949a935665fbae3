//! placeholder
/// x
pub struct Config;
/// x
pub struct Counters;
/// x
pub struct Handle;
/// x
pub fn spawn() {}
