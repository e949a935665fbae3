//! The smoltcp user-space stack backend for ioth.
//!
//! Not built yet: issue 4 ("The smoltcp stack") fills this crate. Nothing here is exported.
