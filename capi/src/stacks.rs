//! Stacks for C: `struct ioth *` handles, creation and deletion, the process default (libioth)
//! and the per-thread default (an ioth-rs extension), and the program's licence.
//!
//! A `struct ioth *` is the address of a live `StackEntry` listed in a process-wide table.
//! The table is consulted before a handle is used, so a pointer that is not a live stack
//! (never made, or already deleted) gives `EINVAL` instead of undefined behaviour; the address
//! itself is never dereferenced. NULL means the default stack, as in libioth.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::c_char;
use std::io;
use std::sync::{Arc, Mutex, Once, RwLock};

use ioth::Stack;

use crate::boundary::{c_text_array, c_text_opt, call, call_void, err};

/// The opaque C type `struct ioth`: C code only holds pointers to it.
pub enum Ioth {}

/// One stack made through the C API.
pub(crate) struct StackEntry {
    pub(crate) stack: Stack,
    /// The last `resolv.conf` text `ioth_resolvconf` returned, per interface (iothconf returns
    /// NULL with errno 0 when nothing changed since the previous call).
    pub(crate) resolv_last: Mutex<HashMap<u32, String>>,
}

/// Every live handle, by address.
static LIVE: RwLock<Option<HashMap<usize, Arc<StackEntry>>>> = RwLock::new(None);

/// The handle given to `ioth_set_defstack` (0: none, the kernel).
static PROCESS_DEFAULT: Mutex<usize> = Mutex::new(0);

thread_local! {
    /// The handle given to `ioth_set_thread_defstack` on this thread (0: none).
    static THREAD_DEFAULT: Cell<usize> = const { Cell::new(0) };
}

/// Makes sure the backends linked into this library are found by name, whatever the linker
/// kept of the distributed registry.
pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if ioth::registry::find(ioth_smoltcp::NAME).is_none() {
            ioth::registry::register(Arc::new(ioth_smoltcp::SmoltcpBackend));
        }
    });
}

/// Lists a new stack and returns its handle.
pub(crate) fn register(stack: Stack) -> *mut Ioth {
    let entry = Arc::new(StackEntry {
        stack,
        resolv_last: Mutex::new(HashMap::new()),
    });
    let ptr = Arc::as_ptr(&entry) as *mut Ioth;
    let mut live = LIVE.write().unwrap_or_else(|e| e.into_inner());
    live.get_or_insert_with(HashMap::new)
        .insert(ptr as usize, entry);
    ptr
}

/// The live stack a non-NULL handle designates; `EINVAL` for anything else.
pub(crate) fn entry(handle: *const Ioth) -> io::Result<Arc<StackEntry>> {
    let live = LIVE.read().unwrap_or_else(|e| e.into_inner());
    live.as_ref()
        .and_then(|m| m.get(&(handle as usize)))
        .cloned()
        .ok_or_else(|| {
            log::debug!("{handle:p} is not a live struct ioth");
            err(libc::EINVAL)
        })
}

/// The stack a handle argument designates: NULL is the current default (this thread's, else
/// the process's, else the kernel), as libioth's helpers do with a NULL stack.
pub(crate) fn stack_arg(handle: *const Ioth) -> io::Result<Stack> {
    init();
    if handle.is_null() {
        ioth::current_stack()
    } else {
        Ok(entry(handle)?.stack.clone())
    }
}

fn new_stack(implementation: Option<&str>, vnls: &[String]) -> io::Result<*mut Ioth> {
    init();
    let refs: Vec<&str> = vnls.iter().map(String::as_str).collect();
    let stack = Stack::new(implementation.unwrap_or(""), &refs)?;
    Ok(register(stack))
}

/// Creates a stack of implementation `stack` (`"name"` or `"name,options"`; NULL or `""` is
/// the kernel) with one interface on `vnl`, or none when `vnl` is NULL.
///
/// Returns NULL with errno set on failure: `ENOTSUP` when no such implementation is linked or
/// installed as a plugin, `EPERM` when the plugin's licence forbids loading it (see
/// [`ioth_set_license`]), `EINVAL` for a malformed name or VNL (or one that is not UTF-8).
///
/// # Safety
/// `stack` and `vnl` must be NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_newstack(stack: *const c_char, vnl: *const c_char) -> *mut Ioth {
    call(std::ptr::null_mut(), || {
        // SAFETY: C strings or NULL per the contract.
        let implementation = unsafe { c_text_opt(stack) }?;
        // SAFETY: as above.
        let vnls: Vec<String> = unsafe { c_text_opt(vnl) }?
            .map(str::to_owned)
            .into_iter()
            .collect();
        new_stack(implementation, &vnls)
    })
}

/// Creates a stack with one interface per VNL of the NULL-terminated array `vnlv` (NULL: no
/// interface). Errors as [`ioth_newstack`].
///
/// # Safety
/// `stack` must be NULL or a C string; `vnlv` NULL or a NULL-terminated array of C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_newstackv(
    stack: *const c_char,
    vnlv: *const *const c_char,
) -> *mut Ioth {
    call(std::ptr::null_mut(), || {
        // SAFETY: C string or NULL per the contract.
        let implementation = unsafe { c_text_opt(stack) }?;
        // SAFETY: NULL-terminated array or NULL per the contract.
        let vnls = unsafe { c_text_array(vnlv) }?;
        new_stack(implementation, &vnls)
    })
}

/// Deletes a stack: 0, or -1 with `EINVAL` for NULL or a pointer that is not a live stack,
/// `EBUSY` while sockets of the stack are open (the stack is then unchanged and still valid).
///
/// # Safety
/// Any pointer value is accepted; after success the handle must not be used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_delstack(iothstack: *mut Ioth) -> libc::c_int {
    call(-1, || {
        if iothstack.is_null() {
            return Err(err(libc::EINVAL));
        }
        // Hold the table while deleting, so that two threads cannot both delete it.
        let mut live = LIVE.write().unwrap_or_else(|e| e.into_inner());
        let map = live.as_mut().ok_or_else(|| err(libc::EINVAL))?;
        let key = iothstack as usize;
        let entry = map.get(&key).ok_or_else(|| err(libc::EINVAL))?;
        entry.stack.delete()?;
        map.remove(&key);
        Ok(0)
    })
}

/// Sets the process default stack, used by `ioth_socket` and by the helpers given a NULL
/// stack; NULL restores the kernel. A pointer that is not a live stack sets errno to `EINVAL`
/// and changes nothing.
///
/// # Safety
/// Any pointer value is accepted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_set_defstack(iothstack: *mut Ioth) {
    call_void(|| {
        init();
        let mut slot = PROCESS_DEFAULT.lock().unwrap_or_else(|e| e.into_inner());
        if iothstack.is_null() {
            ioth::set_default_stack(None);
        } else {
            ioth::set_default_stack(Some(entry(iothstack)?.stack.clone()));
        }
        *slot = iothstack as usize;
        Ok(())
    })
}

/// The process default stack: the pointer last given to [`ioth_set_defstack`], NULL for the
/// kernel.
#[unsafe(no_mangle)]
pub extern "C" fn ioth_get_defstack() -> *mut Ioth {
    call(std::ptr::null_mut(), || {
        Ok(*PROCESS_DEFAULT.lock().unwrap_or_else(|e| e.into_inner()) as *mut Ioth)
    })
}

/// ioth-rs extension: sets the calling thread's default stack, which wins over the process
/// default for `ioth_socket` and NULL-stack helpers on this thread only; NULL removes it (the
/// process default applies again). Returns 0, or -1 with `EINVAL` for a pointer that is not
/// a live stack.
///
/// # Safety
/// Any pointer value is accepted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_set_thread_defstack(iothstack: *mut Ioth) -> libc::c_int {
    call(-1, || {
        init();
        if iothstack.is_null() {
            ioth::set_thread_stack(None);
        } else {
            ioth::set_thread_stack(Some(entry(iothstack)?.stack.clone()));
        }
        THREAD_DEFAULT.with(|t| t.set(iothstack as usize));
        Ok(0)
    })
}

/// ioth-rs extension: the calling thread's default stack, as last given to
/// [`ioth_set_thread_defstack`] on this thread; NULL when the thread has none.
#[unsafe(no_mangle)]
pub extern "C" fn ioth_get_thread_defstack() -> *mut Ioth {
    call(std::ptr::null_mut(), || {
        Ok(THREAD_DEFAULT.with(Cell::get) as *mut Ioth)
    })
}

/// Declares the program's licence (an SPDX identifier, with or without the
/// `SPDX-License-Identifier: ` prefix; NULL: none), checked when a plugin is loaded.
///
/// # Safety
/// `license` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_set_license(license: *const c_char) {
    call_void(|| {
        let text = if license.is_null() {
            None
        } else {
            // SAFETY: a C string per the contract.
            Some(unsafe { std::ffi::CStr::from_ptr(license) }.to_string_lossy())
        };
        ioth::set_license(text.as_deref());
        Ok(())
    })
}
