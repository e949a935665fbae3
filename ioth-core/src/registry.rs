//! Backends linked into the program, found by name.
//!
//! A backend crate adds itself to [`LINKED_BACKENDS`] at link time, so that the facade finds
//! it by name without depending on it. Here a backend that is the kernel's under another
//! name:
//!
//! ```
//! use std::io;
//! use std::sync::Arc;
//! use ioth::{Backend, StackOps, Stack};
//!
//! struct Host;
//!
//! impl Backend for Host {
//!     fn name(&self) -> &str {
//!         "host"
//!     }
//!     fn new_stack(&self, vnls: &[&str], options: &str) -> io::Result<Box<dyn StackOps>> {
//!         ioth::kernel::KernelBackend.new_stack(vnls, options)
//!     }
//! }
//!
//! #[ioth::linkme::distributed_slice(ioth::registry::LINKED_BACKENDS)]
//! #[linkme(crate = ioth::linkme)]
//! static HOST: fn() -> Arc<dyn Backend> = || Arc::new(Host);
//!
//! fn main() -> io::Result<()> {
//!     assert!(ioth::registry::names().contains(&"host".to_string()));
//!     let stack = Stack::new("host", &[])?;
//!     assert_eq!(stack.implementation(), "host");
//!     Ok(())
//! }
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
///
/// ```
/// use std::sync::Arc;
/// use ioth::{Backend, registry};
/// # fn main() -> std::io::Result<()> {
/// struct Loopback;
/// impl Backend for Loopback {
///     fn name(&self) -> &str {
///         "loopback"
///     }
///     fn new_stack(&self, vnls: &[&str], opts: &str) -> std::io::Result<Box<dyn ioth::StackOps>> {
///         ioth::kernel::KernelBackend.new_stack(vnls, opts)
///     }
/// }
/// assert!(registry::find("loopback").is_none());
/// registry::register(Arc::new(Loopback));
/// let found = registry::find("loopback").expect("registered");
/// assert_eq!(found.name(), "loopback");
/// let stack = ioth::Stack::new("loopback", &[])?;
/// assert_eq!(stack.udp_bind("127.0.0.1:0")?.local_addr()?.ip().to_string(), "127.0.0.1");
/// # Ok(())
/// # }
/// ```
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
