//! iothnamed (binary to come).
fn main() {}
