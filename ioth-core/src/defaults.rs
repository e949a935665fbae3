//! Default stacks: one for the process and one per thread that overrides it.
//!
//! A socket opened without naming a stack ([`crate::bsd::socket`], [`crate::net`]'s
//! constructors) uses the calling thread's default, else the process default, else the kernel.
//!
//! ```
//! use ioth::{Stack, current_stack, set_default_stack, set_thread_stack};
//! # fn main() -> std::io::Result<()> {
//! let (a, b) = (Stack::new("kernel", &[])?, Stack::new("kernel", &[])?);
//! assert!(current_stack()?.same_as(&Stack::kernel()?)); // nothing set: the kernel
//!
//! set_default_stack(Some(a.clone())); // the whole process
//! assert!(current_stack()?.same_as(&a));
//! let elsewhere = std::thread::spawn(|| ioth::current_stack().map(|s| s.name()));
//! assert_eq!(elsewhere.join().expect("the thread")?, a.name());
//!
//! set_thread_stack(Some(b.clone())); // this thread only, over the process default
//! assert!(current_stack()?.same_as(&b));
//! let sock = ioth::net::UdpSocket::bind("127.0.0.1:0")?;
//! assert!(sock.stack().same_as(&b));
//! # set_thread_stack(None);
//! # set_default_stack(None);
//! # Ok(())
//! # }
//! ```

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
    ///
    /// ```
    /// use ioth::{Stack, net::TcpListener};
    /// # fn main() -> std::io::Result<()> {
    /// let node = Stack::new("kernel", &[])?;
    /// {
    ///     let _guard = node.enter();
    ///     let listener = TcpListener::bind("127.0.0.1:0")?; // on `node`
    ///     assert!(listener.stack().same_as(&node));
    /// } // the previous default (none) is back
    /// assert!(ioth::thread_stack().is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn enter(&self) -> ThreadStackGuard {
        ThreadStackGuard {
            previous: set_thread_stack(Some(self.clone())),
            _not_send: std::marker::PhantomData,
        }
    }
}
