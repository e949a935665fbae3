//! Which stack a log line is about: the stack's identity (`ioth::Stack::name`: its name, or
//! `stack#N`) in front of every line this crate logs while working on that stack.
//!
//! The identity is set for the thread while it holds a stack's state (`Shared::locked`), so
//! a line logged anywhere below (a socket call, a driver's poll, autoconfiguration) carries
//! it without each call site passing it around: `node1.example: vde0: link up`. The macros
//! here are `log`'s, with that prefix. Lines of the `smoltcp` crate itself and of `vde`
//! carry none.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

thread_local! {
    static CURRENT: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// Sets the identity of the stack the thread works on until dropped (restoring the one
/// before, for nested work on another stack).
pub(crate) struct Enter {
    previous: Option<Arc<str>>,
}

impl Enter {
    /// Makes `ident` the thread's current stack identity.
    pub(crate) fn new(ident: Arc<str>) -> Enter {
        Enter {
            previous: CURRENT.with(|c| c.replace(Some(ident))),
        }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Displays as `IDENT: ` while a stack is entered on this thread, else as nothing.
pub(crate) struct Prefix;

impl fmt::Display for Prefix {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        CURRENT.with(|c| match &*c.borrow() {
            Some(ident) => write!(out, "{ident}: "),
            None => Ok(()),
        })
    }
}

macro_rules! error_ {
    ($($t:tt)*) => { ::log::error!("{}{}", $crate::ident::Prefix, format_args!($($t)*)) };
}
macro_rules! warn_ {
    ($($t:tt)*) => { ::log::warn!("{}{}", $crate::ident::Prefix, format_args!($($t)*)) };
}
macro_rules! info_ {
    ($($t:tt)*) => { ::log::info!("{}{}", $crate::ident::Prefix, format_args!($($t)*)) };
}
macro_rules! debug_ {
    ($($t:tt)*) => { ::log::debug!("{}{}", $crate::ident::Prefix, format_args!($($t)*)) };
}
macro_rules! trace_ {
    ($($t:tt)*) => { ::log::trace!("{}{}", $crate::ident::Prefix, format_args!($($t)*)) };
}
pub(crate) use {debug_ as debug, error_ as error, info_ as info, trace_ as trace, warn_ as warn};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_names_the_entered_stack_and_nests() {
        assert_eq!(Prefix.to_string(), "");
        {
            let _a = Enter::new(Arc::from("node1"));
            assert_eq!(Prefix.to_string(), "node1: ");
            {
                let _b = Enter::new(Arc::from("stack#7"));
                assert_eq!(Prefix.to_string(), "stack#7: ");
            }
            assert_eq!(Prefix.to_string(), "node1: ");
        }
        assert_eq!(Prefix.to_string(), "");
    }
}
