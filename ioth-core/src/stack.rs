//! Stacks: creating them from an implementation name and VNLs, counting their sockets,
//! deleting them.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use libc::c_int;

use crate::backend::{Backend, SocketOps, StackOps};
use crate::error::errno;
use crate::socket::Socket;
use crate::{plugin, registry};

/// A network stack instance: its own interfaces, addresses, routes and sockets.
///
/// `Stack` is a handle: clones refer to the same instance. The instance lives while a handle
/// or one of its sockets does; [`Stack::delete`] ends it early, and refuses with `EBUSY` while
/// sockets are open.
///
/// ```
/// use ioth::Stack;
/// # fn main() -> std::io::Result<()> {
/// let stack = Stack::new("kernel", &[])?;
/// let again = stack.clone(); // the same stack
/// assert!(again.same_as(&stack));
/// assert!(!Stack::new("kernel", &[])?.same_as(&stack)); // another instance
///
/// let sock = again.udp_bind("127.0.0.1:0")?;
/// assert_eq!(stack.open_sockets(), 1);
/// drop(sock);
/// assert_eq!(stack.open_sockets(), 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Stack {
    inner: Arc<StackInner>,
}

struct StackInner {
    /// This process's number for the stack (`stack#N`), from 1 in order of creation.
    id: u64,
    /// The name given with [`Stack::set_name`] (or `fqdn=`), if any.
    name: Mutex<Option<String>>,
    implementation: String,
    options: String,
    ops: Box<dyn StackOps>,
    /// Open sockets, with [`DELETED`] set once the stack is deleted.
    state: AtomicUsize,
    /// What configuration strings set on this stack so far.
    conf: Mutex<nlconf::iothconf::ConfState>,
    /// State other parts of the facade keep per stack (the resolver's cache), created on first
    /// use. Type-erased so that this module does not depend on them.
    extension: std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>,
}

const DELETED: usize = 1 << (usize::BITS - 1);

/// Splits libioth's implementation string `"name,options"` at the first comma.
///
/// ```
/// use ioth::split_implementation;
/// assert_eq!(split_implementation("smoltcp,tcp=smoltcp"), ("smoltcp", "tcp=smoltcp"));
/// assert_eq!(ioth::split_implementation("kernel"), ("kernel", ""));
/// ```
pub fn split_implementation(implementation: &str) -> (&str, &str) {
    match implementation.split_once(',') {
        Some((name, options)) => (name, options),
        None => (implementation, ""),
    }
}

/// Splits a VNL of the form `ifname:vnl` (a `:` before the first `://`) into the interface name
/// and the VNL proper; a VNL without that prefix has no name.
///
/// ```
/// use ioth::split_ifname;
/// assert_eq!(split_ifname("eth1:vde:///tmp/hub"), (Some("eth1"), "vde:///tmp/hub"));
/// assert_eq!(split_ifname("vde:///tmp/hub"), (None, "vde:///tmp/hub"));
/// assert_eq!(split_ifname("/tmp/hub"), (None, "/tmp/hub"));
/// ```
pub fn split_ifname(vnl: &str) -> (Option<&str>, &str) {
    let scheme_end = vnl.find("://").unwrap_or(vnl.len());
    match vnl[..scheme_end].find(':') {
        Some(colon) if colon > 0 && !vnl[..colon].contains('/') => {
            (Some(&vnl[..colon]), &vnl[colon + 1..])
        }
        _ => (None, vnl),
    }
}

/// The value of a non-empty `name=` item among a stack's `options`, if any.
fn name_option(options: &str) -> Option<&str> {
    options
        .split(',')
        .filter_map(|o| o.trim().split_once('='))
        .find(|(k, v)| k.trim() == "name" && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

impl Stack {
    /// Creates a stack of the implementation `implementation` (libioth's `"name,options"`),
    /// with one interface per VNL.
    ///
    /// The implementation is looked up among the backends linked into the program, then loaded
    /// as a plugin (see [`crate::plugin`]). An empty name means the kernel. A plugin that cannot
    /// be found gives `ENOTSUP` with the paths tried; one whose licence forbids loading gives
    /// `EPERM`.
    ///
    /// An option `name=NAME` names the stack ([`Stack::name`]); the backends of this project
    /// accept it, and the smoltcp stack derives its interfaces' default MACs from it, so a
    /// named node keeps its MACs from run to run.
    ///
    /// ```
    /// use ioth::{Stack, errno_of};
    /// # fn main() -> std::io::Result<()> {
    /// let stack = Stack::new("kernel", &[])?;
    /// assert_eq!(stack.implementation(), "kernel");
    /// assert_eq!(Stack::new("", &[])?.implementation(), "kernel"); // the default
    ///
    /// let err = Stack::new("nosuch", &[]).expect_err("no such implementation");
    /// assert_eq!(errno_of(&err), libc::ENOTSUP);
    /// assert!(err.to_string().contains("ioth_nosuch.so"), "{err}"); // where it looked
    /// // The kernel stack has no virtual interfaces.
    /// let err = Stack::new("kernel", &["hub://@lan"]).expect_err("no VNL on the kernel");
    /// assert_eq!(errno_of(&err), libc::EINVAL);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(implementation: &str, vnls: &[&str]) -> io::Result<Stack> {
        let (name, options) = split_implementation(implementation);
        let name = if name.is_empty() { "kernel" } else { name };
        let backend = find_backend(name)?;
        Stack::with_backend(backend.as_ref(), vnls, options)
    }

    /// Creates a stack from a given backend, bypassing the lookup by name.
    pub fn with_backend(backend: &dyn Backend, vnls: &[&str], options: &str) -> io::Result<Stack> {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let ops = backend.new_stack(vnls, options)?;
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        log::debug!(
            "stack#{id}: new {} stack, options {options:?}, vnls {vnls:?}",
            backend.name()
        );
        let stack = Stack {
            inner: Arc::new(StackInner {
                id,
                name: Mutex::new(name_option(options).map(str::to_owned)),
                implementation: backend.name().to_owned(),
                options: options.to_owned(),
                ops,
                state: AtomicUsize::new(0),
                conf: Mutex::new(nlconf::iothconf::ConfState::new()),
                extension: std::sync::OnceLock::new(),
            }),
        };
        stack.inner.ops.set_identity(&stack.name());
        Ok(stack)
    }

    /// The kernel stack of this process, created once and shared: the stack sockets opened
    /// with no default stack use ([`crate::current_stack`]).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let kernel = ioth::Stack::kernel()?;
    /// assert!(kernel.same_as(&ioth::Stack::kernel()?));
    /// assert!(kernel.same_as(&ioth::current_stack()?)); // no default set in this thread
    /// # Ok(())
    /// # }
    /// ```
    pub fn kernel() -> io::Result<Stack> {
        static KERNEL: Mutex<Option<Stack>> = Mutex::new(None);
        let mut kernel = KERNEL.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(stack) = kernel.as_ref() {
            return Ok(stack.clone());
        }
        let stack = Stack::new("kernel", &[])?;
        *kernel = Some(stack.clone());
        Ok(stack)
    }

    /// This process's number for the stack: 1 for the first made, and so on; never reused.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The stack's identity in messages: the name given ([`Stack::set_name`], or the `fqdn=`
    /// of the configuration string that made it), else `stack#N` ([`Stack::id`]). Errors of
    /// the configuration helpers and `Debug` show it.
    ///
    /// ```
    /// use ioth::Stack;
    /// # fn main() -> std::io::Result<()> {
    /// let stack = Stack::new("kernel", &[])?;
    /// assert_eq!(stack.name(), format!("stack#{}", stack.id()));
    /// stack.set_name("gateway");
    /// assert_eq!(stack.name(), "gateway");
    /// let err = stack.if_nametoindex("eth9").expect_err("no such interface");
    /// assert!(err.to_string().starts_with("gateway: interface \"eth9\""), "{err}");
    ///
    /// let (named, _) = Stack::from_config("stack=kernel fqdn=node1.example")?;
    /// assert_eq!(named.name(), "node1.example");
    /// # Ok(())
    /// # }
    /// ```
    pub fn name(&self) -> String {
        match &*self.inner.name.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(n) => n.clone(),
            None => format!("stack#{}", self.inner.id),
        }
    }

    /// Names the stack (see [`Stack::name`]); an empty name goes back to `stack#N`.
    pub fn set_name(&self, name: &str) {
        let name = (!name.is_empty()).then(|| name.to_owned());
        log::debug!("stack#{}: named {name:?}", self.inner.id);
        *self.inner.name.lock().unwrap_or_else(|e| e.into_inner()) = name;
        self.inner.ops.set_identity(&self.name());
    }

    /// The implementation's name (`"kernel"`, `"smoltcp"`).
    pub fn implementation(&self) -> &str {
        &self.inner.implementation
    }

    /// The options given after the implementation's name.
    pub fn options(&self) -> &str {
        &self.inner.options
    }

    /// Opens a socket on this stack, as `socket(2)` (libioth's `ioth_msocket`).
    ///
    /// On a deleted stack this fails with `ENONET`. A failed creation leaves the stack's count
    /// of open sockets as it was.
    pub fn socket(&self, domain: c_int, ty: c_int, protocol: c_int) -> io::Result<Socket> {
        self.acquire()?;
        match self.inner.ops.socket(domain, ty, protocol) {
            Ok(ops) => Ok(Socket::register(self.clone(), ops)),
            Err(e) => {
                self.release();
                Err(e)
            }
        }
    }

    /// Adopts a socket the backend created for this stack (an accepted connection).
    pub(crate) fn adopt(&self, ops: Box<dyn SocketOps>) -> Socket {
        self.inner.state.fetch_add(1, Ordering::AcqRel);
        Socket::register(self.clone(), ops)
    }

    /// The number of sockets of this stack that are open.
    pub fn open_sockets(&self) -> usize {
        self.inner.state.load(Ordering::Acquire) & !DELETED
    }

    /// Whether [`Stack::delete`] has ended this stack.
    pub fn is_deleted(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) & DELETED != 0
    }

    /// Ends the stack (libioth's `ioth_delstack`): `EBUSY` while sockets are open, and then the
    /// stack is unchanged. Handles kept elsewhere (a default stack, a clone) stay valid but
    /// open no sockets any more (`ENONET`).
    ///
    /// ```
    /// use ioth::{Stack, errno_of};
    /// # fn main() -> std::io::Result<()> {
    /// let stack = Stack::new("kernel", &[])?;
    /// let sock = stack.udp_bind("127.0.0.1:0")?;
    /// assert_eq!(errno_of(&stack.delete().expect_err("a socket is open")), libc::EBUSY);
    /// drop(sock);
    /// stack.delete()?;
    /// assert!(stack.is_deleted());
    /// let err = stack.udp_bind("127.0.0.1:0").expect_err("deleted");
    /// assert_eq!(errno_of(&err), libc::ENONET);
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete(&self) -> io::Result<()> {
        match self
            .inner
            .state
            .compare_exchange(0, DELETED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => self.inner.ops.delete(),
            Err(state) if state & DELETED != 0 => Ok(()),
            Err(_) => Err(errno(libc::EBUSY)),
        }
    }

    /// Whether two handles refer to the same stack.
    pub fn same_as(&self, other: &Stack) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The backend's stack instance, for code that extends a backend.
    pub fn ops(&self) -> &dyn StackOps {
        self.inner.ops.as_ref()
    }

    /// The per-stack state of type `T`, made on first use. Only one type uses the slot (the
    /// resolver's state); another type gets None.
    pub(crate) fn extension<T: Default + Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let any = self
            .inner
            .extension
            .get_or_init(|| Arc::new(T::default()) as Arc<dyn std::any::Any + Send + Sync>);
        Arc::clone(any).downcast::<T>().ok()
    }

    /// The configuration-string state of this stack.
    pub(crate) fn conf_state(&self) -> std::sync::MutexGuard<'_, nlconf::iothconf::ConfState> {
        self.inner.conf.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn acquire(&self) -> io::Result<()> {
        let prev = self.inner.state.fetch_add(1, Ordering::AcqRel);
        if prev & DELETED != 0 {
            self.release();
            return Err(errno(libc::ENONET));
        }
        Ok(())
    }

    /// Counts one socket of this stack as closed.
    pub(crate) fn release(&self) {
        self.inner.state.fetch_sub(1, Ordering::AcqRel);
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("name", &self.name())
            .field("implementation", &self.inner.implementation)
            .field("options", &self.inner.options)
            .field("open_sockets", &self.open_sockets())
            .field("deleted", &self.is_deleted())
            .finish()
    }
}

/// The backend named `name`: linked into the program, else loaded as a plugin.
pub fn find_backend(name: &str) -> io::Result<Arc<dyn Backend>> {
    if let Some(backend) = registry::find(name) {
        return Ok(backend);
    }
    plugin::load(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implementation_string_splits_at_first_comma() {
        assert_eq!(split_implementation("smoltcp"), ("smoltcp", ""));
        assert_eq!(split_implementation("smoltcp,a,b=1"), ("smoltcp", "a,b=1"));
        assert_eq!(split_implementation(",x"), ("", "x"));
    }

    #[test]
    fn a_name_option_names_the_stack() {
        assert_eq!(
            name_option("tcp=ioth, name = n1.example ,x=1"),
            Some("n1.example")
        );
        assert_eq!(name_option("name="), None);
        assert_eq!(name_option("hostname=x"), None);
        let stack = Stack::new("kernel,name=host-a", &[]).expect("kernel stack");
        assert_eq!(stack.name(), "host-a");
        assert!(format!("{stack:?}").contains("host-a"));
    }

    #[test]
    fn ifname_prefix_is_split_only_before_the_scheme() {
        assert_eq!(
            split_ifname("eth1:vde:///tmp/hub"),
            (Some("eth1"), "vde:///tmp/hub")
        );
        assert_eq!(split_ifname("vde:///tmp/hub"), (None, "vde:///tmp/hub"));
        assert_eq!(split_ifname("/tmp/hub"), (None, "/tmp/hub"));
        assert_eq!(split_ifname("hub://"), (None, "hub://"));
        assert_eq!(split_ifname("x:/tmp/hub"), (Some("x"), "/tmp/hub"));
        assert_eq!(split_ifname("/a:b/hub"), (None, "/a:b/hub"));
        assert_eq!(split_ifname(":vde://x"), (None, ":vde://x"));
    }
}
