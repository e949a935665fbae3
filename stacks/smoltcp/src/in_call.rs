//! Whether this thread is inside a stack call (`Shared::with`): a stack is locked, so work
//! that would wake or run other threads (descriptor changes, other stacks' ingress) waits
//! until the outermost call has unlocked its stack (see `readiness` and `inbox`).

use std::cell::Cell;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Enters a stack call; false when this thread's state is gone (it is exiting), and then
/// [`leave`] must not be called.
pub(crate) fn enter() -> bool {
    DEPTH.try_with(|d| d.set(d.get() + 1)).is_ok()
}

/// Leaves a stack call; true when it was the outermost one.
pub(crate) fn leave() -> bool {
    DEPTH
        .try_with(|d| {
            let n = d.get().saturating_sub(1);
            d.set(n);
            n == 0
        })
        .unwrap_or(false)
}

/// Whether this thread is inside a stack call.
pub(crate) fn active() -> bool {
    DEPTH.try_with(|d| d.get() > 0).unwrap_or(false)
}
