//! Backends linked into the program, found by name.
//!
//! A backend crate adds itself to [`LINKED_BACKENDS`] at link time, so that the facade finds
//! it by name without depending on it:
//!
//! ```ignore
//! #[linkme::distributed_slice(ioth::registry::LINKED_BACKENDS)]
//! static KERNEL: fn() -> std::sync::Arc<dyn ioth::Backend> = || std::sync::Arc::new(KernelBackend);
//! ```
//!
//! The linker keeps a crate only when the program uses it: a program that names a backend by
//! string alone writes `use ioth_kernel as _;`. Backends built at run time are added with
//! [`register`]. A name registered at run time hides a linked one of the same name.
//!
//! The kernel backend ([`crate::kernel`]) is built in: `"kernel"` is found with nothing
//! linked or registered, after a backend registered or linked under that name.

use std::sync::{Arc, RwLock};

use crate::backend::Backend;

/// Constructors of the backends linked into this program.
#[linkme::distributed_slice]
pub static LINKED_BACKENDS: [fn() -> Arc<dyn Backend>];

static REGISTERED: RwLock<Vec<Arc<dyn Backend>>> = RwLock::new(Vec::new());

/// Adds a backend under its [`Backend::name`], replacing one registered earlier by that name.
pub fn register(backend: Arc<dyn Backend>) {
    let mut reg = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    reg.retain(|b| b.name() != backend.name());
    reg.push(backend);
}

/// The backend of that name registered at run time or linked into the program, if any.
pub fn find(name: &str) -> Option<Arc<dyn Backend>> {
    let reg = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = reg.iter().find(|b| b.name() == name) {
        return Some(b.clone());
    }
    drop(reg);
    LINKED_BACKENDS
        .iter()
        .map(|ctor| ctor())
        .find(|b| b.name() == name)
        .or_else(|| (name == crate::kernel::NAME).then(builtin_kernel))
}

/// The built-in kernel backend, made once.
fn builtin_kernel() -> Arc<dyn Backend> {
    static KERNEL: std::sync::OnceLock<Arc<dyn Backend>> = std::sync::OnceLock::new();
    KERNEL
        .get_or_init(|| Arc::new(crate::kernel::KernelBackend))
        .clone()
}

/// The names of every backend available without loading a plugin.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = REGISTERED
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|b| b.name().to_owned())
        .collect();
    for ctor in LINKED_BACKENDS.iter() {
        let name = ctor().name().to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if !names.iter().any(|n| n == crate::kernel::NAME) {
        names.push(crate::kernel::NAME.to_owned());
    }
    names
}
