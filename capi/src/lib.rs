//! The C drop-in for libioth (being built: issue 6).
