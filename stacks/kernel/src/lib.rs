//! The host kernel stack as an ioth backend (being built).
