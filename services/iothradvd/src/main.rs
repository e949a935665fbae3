//! The iothradvd program (its shell lands in the next commit).

fn main() {}
