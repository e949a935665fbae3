//! Default stacks: one for the process and one per thread that overrides it.
//!
//! A socket opened without naming a stack ([`crate::bsd::socket`], [`crate::net`]'s
//! constructors) uses the calling thread's default, else the process default, else the kernel.

use std::cell::RefCell;
use std::io;
use std::sync::RwLock;

use crate::stack::Stack;

static PROCESS_DEFAULT: RwLock<Option<Stack>> = RwLock::new(None);

thread_local! {
    static THREAD_DEFAULT: RefCell<Option<Stack>> = const { RefCell::new(None) };
}

/// Sets (or with `None` clears) the process default stack; returns the previous one.
/// libioth's `ioth_set_defstack`.
pub fn set_default_stack(stack: Option<Stack>) -> Option<Stack> {
    let mut slot = PROCESS_DEFAULT.write().unwrap_or_else(|e| e.into_inner());
    std::mem::replace(&mut *slot, stack)
}

/// The process default stack, if one is set. libioth's `ioth_get_defstack`.
pub fn default_stack() -> Option<Stack> {
    PROCESS_DEFAULT
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Sets (or with `None` clears) the calling thread's default stack; returns the previous one.
/// Other threads are not affected.
pub fn set_thread_stack(stack: Option<Stack>) -> Option<Stack> {
    THREAD_DEFAULT.with(|slot| std::mem::replace(&mut *slot.borrow_mut(), stack))
}

/// The calling thread's default stack, if one is set.
pub fn thread_stack() -> Option<Stack> {
    THREAD_DEFAULT.with(|slot| slot.borrow().clone())
}

/// The stack a socket opened without naming one uses: the thread default, else the process
/// default, else the kernel stack.
pub fn current_stack() -> io::Result<Stack> {
    if let Some(stack) = thread_stack() {
        return Ok(stack);
    }
    if let Some(stack) = default_stack() {
        return Ok(stack);
    }
    Stack::kernel()
}

/// Makes a stack the calling thread's default until the guard drops, then restores the
/// previous default. Made by [`Stack::enter`].
#[must_use = "the thread default is restored when the guard drops"]
pub struct ThreadStackGuard {
    previous: Option<Stack>,
    // The guard restores the default of the thread that made it: keep it on that thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for ThreadStackGuard {
    fn drop(&mut self) {
        set_thread_stack(self.previous.take());
    }
}

impl Stack {
    /// Makes this stack the calling thread's default until the returned guard drops.
    pub fn enter(&self) -> ThreadStackGuard {
        ThreadStackGuard {
            previous: set_thread_stack(Some(self.clone())),
            _not_send: std::marker::PhantomData,
        }
    }
}
