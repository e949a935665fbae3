//! The table from descriptor numbers to the sockets that own them.
//!
//! Descriptor numbers are unique in the process (they are real descriptors), so one table
//! serves every stack. Lookups take a read lock and clone an `Arc`: a call in progress keeps its
//! socket (and so its descriptor number) alive even if another thread closes it meanwhile.

use std::os::fd::RawFd;
use std::sync::{Arc, RwLock};

/// Descriptor-indexed slots.
pub(crate) struct FdTable<T> {
    slots: RwLock<Vec<Option<Arc<T>>>>,
}

impl<T> FdTable<T> {
    /// An empty table.
    pub(crate) const fn new() -> Self {
        FdTable {
            slots: RwLock::new(Vec::new()),
        }
    }

    /// The entry for `fd`, if `fd` is in the table.
    pub(crate) fn get(&self, fd: RawFd) -> Option<Arc<T>> {
        let idx = usize::try_from(fd).ok()?;
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        slots.get(idx).and_then(|s| s.clone())
    }

    /// Puts `entry` at `fd`, returning what was there (a stale entry whose descriptor was
    /// closed behind the table's back).
    pub(crate) fn insert(&self, fd: RawFd, entry: Arc<T>) -> Option<Arc<T>> {
        let idx = usize::try_from(fd).ok()?;
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        if slots.len() <= idx {
            slots.resize_with(idx + 1, || None);
        }
        slots[idx].replace(entry)
    }

    /// Every entry with its descriptor, in descriptor order (a snapshot: entries added or
    /// removed meanwhile may be missing or present).
    pub(crate) fn entries(&self) -> Vec<(RawFd, Arc<T>)> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((RawFd::try_from(i).ok()?, s.clone()?)))
            .collect()
    }

    /// Removes the entry at `fd`, only if it is `entry` (or any entry when `entry` is None).
    pub(crate) fn remove(&self, fd: RawFd, entry: Option<&Arc<T>>) -> Option<Arc<T>> {
        let idx = usize::try_from(fd).ok()?;
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get_mut(idx)?;
        match (slot.as_ref(), entry) {
            (Some(cur), Some(want)) if !Arc::ptr_eq(cur, want) => None,
            _ => slot.take(),
        }
    }
}
