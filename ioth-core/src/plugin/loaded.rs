//! A plugin shared object seen through the backend contract.

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem;
use std::os::fd::RawFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use libc::{c_char, c_int, c_long, c_void, socklen_t};

use super::abi::{ENTRY_NAMES, IothFunctions, sockaddr_in};
use crate::backend::{Backend, Ioctl, RecvMeta, SockAddr, SocketOps, StackOps};
use crate::error::{errno, errno_with};

thread_local! {
    /// The stack data of the stack the current plugin call is for (libioth's `stackdata`).
    static CURRENT_STACKDATA: Cell<*mut c_void> = const { Cell::new(std::ptr::null_mut()) };
}

/// The `getstackdata` entry given to every plugin.
unsafe extern "C" fn current_stackdata() -> *mut c_void {
    CURRENT_STACKDATA.with(|c| c.get())
}

/// A loaded plugin file: its entry points and licence.
pub struct PluginBackend {
    name: String,
    /// The entries found by symbol (`ioth_NAME_<entry>`), before `newstack` edits a copy.
    symbols: IothFunctions,
    license: Option<String>,
}

impl PluginBackend {
    /// Opens the shared object and reads its entry points. The object is never unloaded.
    pub(crate) fn open(name: &str, path: &Path) -> io::Result<PluginBackend> {
        // SAFETY: loading a shared object runs its initialisers; the user chose to load this
        // file by putting it on the plugin path, as with libioth.
        let lib = unsafe {
            libloading::os::unix::Library::open(
                Some(path),
                libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
            )
        }
        .map_err(|e| {
            errno_with(
                libc::ENOTSUP,
                format!("cannot load plugin {}: {e}", path.display()),
            )
        })?;
        let lib: &'static libloading::os::unix::Library = Box::leak(Box::new(lib));
        let sym = |entry: &str| -> Option<*mut c_void> {
            let symbol = format!("ioth_{name}_{entry}");
            // SAFETY: we only read the symbol's address; its type is fixed by libioth's ABI.
            unsafe { lib.get::<*mut c_void>(symbol.as_bytes()) }
                .ok()
                .map(|s| *s)
                .filter(|p| !p.is_null())
        };
        let mut symbols = IothFunctions::default();
        {
            // The table is `getstackdata` followed by the entries in ENTRY_NAMES order, all
            // function pointers: fill it slot by slot.
            let slots: &mut [Option<unsafe extern "C" fn()>; 26] = {
                const _: () =
                    assert!(mem::size_of::<IothFunctions>() == 26 * mem::size_of::<usize>());
                // SAFETY: IothFunctions is repr(C), 26 nullable function pointers, the same
                // layout as this array (size checked above).
                unsafe { &mut *(&mut symbols as *mut IothFunctions).cast() }
            };
            for (slot, entry) in slots[1..].iter_mut().zip(ENTRY_NAMES) {
                // SAFETY: a non-null symbol address is a function of the ABI's signature for
                // this slot; Option<fn> has the null-pointer niche.
                *slot = sym(entry)
                    .map(|p| unsafe { mem::transmute::<*mut c_void, unsafe extern "C" fn()>(p) });
            }
        }
        if symbols.newstack.is_none() {
            return Err(errno_with(
                libc::ENOENT,
                format!("{} has no symbol ioth_{name}_newstack", path.display()),
            ));
        }
        let license = sym("license").and_then(|p| {
            // SAFETY: `ioth_NAME_license` is a `const char *` variable: p points at it.
            let s = unsafe { *(p as *const *const c_char) };
            // SAFETY: the variable holds NULL or a NUL-terminated string for the life of the
            // (never unloaded) object.
            (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned())
        });
        log::debug!(
            "loaded plugin {} ({name}), licence {license:?}",
            path.display()
        );
        Ok(PluginBackend {
            name: name.to_owned(),
            symbols,
            license,
        })
    }

    /// The plugin's licence (`ioth_NAME_license`), without the SPDX prefix stripped.
    pub fn license(&self) -> Option<&str> {
        self.license.as_deref()
    }
}

impl Backend for PluginBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn new_stack(&self, vnls: &[&str], options: &str) -> io::Result<Box<dyn StackOps>> {
        let vnls: Vec<CString> = vnls
            .iter()
            .map(|v| CString::new(*v).map_err(|_| errno_with(libc::EINVAL, "NUL byte in a VNL")))
            .collect::<io::Result<_>>()?;
        let mut vnlv: Vec<*const c_char> = vnls.iter().map(|v| v.as_ptr()).collect();
        vnlv.push(std::ptr::null());
        let options = CString::new(options)
            .map_err(|_| errno_with(libc::EINVAL, "NUL byte in the stack options"))?;
        // The plugin may keep the table's address (libioth's lives as long as the stack): it
        // gets a heap slot that the stack owns.
        let mut fns = Box::new(self.symbols);
        fns.getstackdata = Some(current_stackdata);
        let newstack = fns.newstack.ok_or_else(|| errno(libc::ENOENT))?;
        super::abi::set_errno(0);
        // SAFETY: vnlv is a NULL-terminated array of C strings and options a C string, both
        // alive for the call; fns is a valid table the plugin may edit and keep.
        let data = unsafe { newstack(vnlv.as_ptr(), options.as_ptr(), &mut *fns) };
        if data.is_null() {
            let err = io::Error::last_os_error();
            return Err(if err.raw_os_error() == Some(0) {
                errno(libc::EINVAL)
            } else {
                err
            });
        }
        Ok(Box::new(PluginStack {
            shared: Arc::new(Shared {
                fns,
                data: StackData(data),
            }),
            deleted: AtomicBool::new(false),
        }))
    }
}

/// The plugin's stack data pointer; the plugin is responsible for its thread safety, as with
/// libioth, which calls plugins from any thread.
#[derive(Clone, Copy)]
struct StackData(*mut c_void);
// SAFETY: the pointer is only handed back to the plugin, which libioth already calls from any
// thread; we never dereference it.
unsafe impl Send for StackData {}
// SAFETY: as above.
unsafe impl Sync for StackData {}

struct Shared {
    /// The stack's function table, at the address the plugin was given.
    fns: Box<IothFunctions>,
    data: StackData,
}

impl Shared {
    /// Makes this stack the current one for the plugin call that follows.
    fn enter(&self) -> &IothFunctions {
        CURRENT_STACKDATA.with(|c| c.set(self.data.0));
        &self.fns
    }
}

struct PluginStack {
    shared: Arc<Shared>,
    deleted: AtomicBool,
}

impl StackOps for PluginStack {
    fn socket(&self, domain: c_int, ty: c_int, protocol: c_int) -> io::Result<Box<dyn SocketOps>> {
        let fns = self.shared.enter();
        let socket = fns.socket.ok_or_else(|| errno(libc::ENOSYS))?;
        // SAFETY: a plugin entry with socket(2)'s signature.
        let fd = cvt(unsafe { socket(domain, ty, protocol) })?;
        Ok(Box::new(PluginSocket {
            fd,
            shared: self.shared.clone(),
            closed: AtomicBool::new(false),
        }))
    }

    fn delete(&self) -> io::Result<()> {
        if self.deleted.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let fns = self.shared.enter();
        match fns.delstack {
            // SAFETY: the plugin's delstack with the data its newstack returned, called once.
            Some(delstack) => cvt(unsafe { delstack(self.shared.data.0) }).map(drop),
            None => Ok(()),
        }
    }
}

impl Drop for PluginStack {
    fn drop(&mut self) {
        if let Err(e) = self.delete() {
            log::warn!("plugin stack delete failed: {e}");
        }
    }
}

struct PluginSocket {
    fd: RawFd,
    shared: Arc<Shared>,
    closed: AtomicBool,
}

fn cvt(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: isize) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

fn storage() -> (libc::sockaddr_storage, socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all zero is a valid (empty) value.
    (
        unsafe { mem::zeroed() },
        mem::size_of::<libc::sockaddr_storage>() as socklen_t,
    )
}

fn addr_from(st: libc::sockaddr_storage, len: socklen_t) -> io::Result<SockAddr> {
    // SAFETY: the plugin filled `len` bytes of the storage, as the kernel would.
    unsafe {
        sockaddr_in(
            (&st as *const libc::sockaddr_storage).cast(),
            len.min(mem::size_of_val(&st) as socklen_t),
        )
    }
}

macro_rules! entry {
    ($self:ident, $name:ident) => {
        $self
            .shared
            .enter()
            .$name
            .ok_or_else(|| errno(libc::ENOSYS))?
    };
}

impl SocketOps for PluginSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }

    fn bind(&self, addr: &SockAddr) -> io::Result<()> {
        let f = entry!(self, bind);
        // SAFETY: addr points at addr.len() valid bytes.
        cvt(unsafe { f(self.fd, addr.as_ptr().cast(), addr.len()) }).map(drop)
    }

    fn connect(&self, addr: &SockAddr) -> io::Result<()> {
        let f = entry!(self, connect);
        // SAFETY: as in bind.
        cvt(unsafe { f(self.fd, addr.as_ptr().cast(), addr.len()) }).map(drop)
    }

    fn listen(&self, backlog: c_int) -> io::Result<()> {
        let f = entry!(self, listen);
        // SAFETY: plain integer arguments.
        cvt(unsafe { f(self.fd, backlog) }).map(drop)
    }

    fn accept(&self, flags: c_int) -> io::Result<(Box<dyn SocketOps>, SockAddr)> {
        let f = entry!(self, accept);
        let (mut st, mut len) = storage();
        // SAFETY: st/len are a valid output address buffer.
        let fd = cvt(unsafe {
            f(
                self.fd,
                (&mut st as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        })?;
        let conn = PluginSocket {
            fd,
            shared: self.shared.clone(),
            closed: AtomicBool::new(false),
        };
        // libioth's plugin ABI has no accept4: apply the flags afterwards.
        if flags & libc::SOCK_NONBLOCK != 0 {
            let fl = conn.fcntl(libc::F_GETFL, 0)?;
            conn.fcntl(libc::F_SETFL, c_long::from(fl | libc::O_NONBLOCK))?;
        }
        if flags & libc::SOCK_CLOEXEC != 0 {
            conn.fcntl(libc::F_SETFD, c_long::from(libc::FD_CLOEXEC))?;
        }
        Ok((Box::new(conn), addr_from(st, len)?))
    }

    fn local_addr(&self) -> io::Result<SockAddr> {
        let f = entry!(self, getsockname);
        let (mut st, mut len) = storage();
        // SAFETY: st/len are a valid output address buffer.
        cvt(unsafe {
            f(
                self.fd,
                (&mut st as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        })?;
        addr_from(st, len)
    }

    fn peer_addr(&self) -> io::Result<SockAddr> {
        let f = entry!(self, getpeername);
        let (mut st, mut len) = storage();
        // SAFETY: st/len are a valid output address buffer.
        cvt(unsafe {
            f(
                self.fd,
                (&mut st as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        })?;
        addr_from(st, len)
    }

    fn setsockopt(&self, level: c_int, name: c_int, value: &[u8]) -> io::Result<()> {
        let f = entry!(self, setsockopt);
        let len = socklen_t::try_from(value.len()).map_err(|_| errno(libc::EINVAL))?;
        // SAFETY: value is valid for len bytes.
        cvt(unsafe { f(self.fd, level, name, value.as_ptr().cast(), len) }).map(drop)
    }

    fn getsockopt(&self, level: c_int, name: c_int, value: &mut [u8]) -> io::Result<usize> {
        let f = entry!(self, getsockopt);
        let mut len = socklen_t::try_from(value.len()).map_err(|_| errno(libc::EINVAL))?;
        // SAFETY: value is writable for len bytes.
        cvt(unsafe { f(self.fd, level, name, value.as_mut_ptr().cast(), &mut len) })?;
        Ok(len as usize)
    }

    fn shutdown(&self, how: c_int) -> io::Result<()> {
        let f = entry!(self, shutdown);
        // SAFETY: plain integer arguments.
        cvt(unsafe { f(self.fd, how) }).map(drop)
    }

    fn ioctl(&self, request: Ioctl<'_>) -> io::Result<c_int> {
        let f = entry!(self, ioctl);
        let mut ifc: libc::ifconf;
        let (req, arg): (libc::c_ulong, *mut c_void) = match request {
            Ioctl::Int { request, value } => (request, (value as *mut c_int).cast()),
            Ioctl::IfReq { request, ifreq } => (request, ifreq.as_mut_ptr().cast()),
            Ioctl::IfConf { len, buf } => {
                // SAFETY: ifconf is plain data.
                ifc = unsafe { mem::zeroed() };
                ifc.ifc_len = *len;
                ifc.ifc_ifcu.ifcu_buf = buf.map_or(std::ptr::null_mut(), |b| b.as_mut_ptr().cast());
                // SAFETY: the argument is a valid struct ifconf whose buffer is valid for ifc_len.
                let r =
                    cvt(unsafe { f(self.fd, libc::SIOCGIFCONF, &mut ifc as *mut libc::ifconf) })?;
                *len = ifc.ifc_len;
                return Ok(r);
            }
            Ioctl::Raw { request, arg } => (request, arg.as_ptr()),
        };
        // SAFETY: arg is valid for the request per the Ioctl variant's contract.
        cvt(unsafe { f(self.fd, req, arg) })
    }

    fn fcntl(&self, cmd: c_int, arg: c_long) -> io::Result<c_int> {
        let f = entry!(self, fcntl);
        // SAFETY: integer fcntl commands take a long argument.
        cvt(unsafe { f(self.fd, cmd, arg) })
    }

    fn recv_msg(
        &self,
        bufs: &mut [IoSliceMut<'_>],
        control: &mut [u8],
        flags: c_int,
    ) -> io::Result<RecvMeta> {
        let fns = self.shared.enter();
        let fd = self.fd;
        crate::sys::recv_with_msghdr(bufs, control, |msg| {
            if let Some(recvmsg) = fns.recvmsg {
                // SAFETY: msg describes valid buffers for the call.
                return cvt_size(unsafe { recvmsg(fd, msg, flags) });
            }
            match fns.recvfrom {
                // libioth's fallback: recvfrom into a single buffer, no control data.
                Some(recvfrom) if msg.msg_iovlen == 1 => {
                    // SAFETY: msg_iov points at one valid iovec (from bufs).
                    let iov = unsafe { *msg.msg_iov };
                    msg.msg_controllen = 0;
                    // SAFETY: the iovec's buffer and the address room are valid for the call.
                    cvt_size(unsafe {
                        recvfrom(
                            fd,
                            iov.iov_base,
                            iov.iov_len,
                            flags,
                            msg.msg_name.cast(),
                            &mut msg.msg_namelen,
                        )
                    })
                }
                _ => Err(errno(libc::ENOSYS)),
            }
        })
    }

    fn send_msg(
        &self,
        bufs: &[IoSlice<'_>],
        addr: Option<&SockAddr>,
        control: &[u8],
        flags: c_int,
    ) -> io::Result<usize> {
        let fns = self.shared.enter();
        if let Some(sendmsg) = fns.sendmsg {
            let fd = self.fd;
            return crate::sys::send_with_msghdr(bufs, addr, control, |msg| {
                // SAFETY: msg describes valid buffers; the plugin only reads them.
                cvt_size(unsafe { sendmsg(fd, msg, flags) })
            });
        }
        match (fns.sendto, bufs, addr) {
            (Some(sendto), [buf], Some(a)) if control.is_empty() => {
                // SAFETY: buf and a are valid for the call.
                cvt_size(unsafe {
                    sendto(
                        self.fd,
                        buf.as_ptr().cast(),
                        buf.len(),
                        flags,
                        a.as_ptr().cast(),
                        a.len(),
                    )
                })
            }
            (Some(sendto), [buf], None) if control.is_empty() => {
                // SAFETY: buf is valid for the call; a NULL address means "connected peer".
                cvt_size(unsafe {
                    sendto(
                        self.fd,
                        buf.as_ptr().cast(),
                        buf.len(),
                        flags,
                        std::ptr::null(),
                        0,
                    )
                })
            }
            _ => Err(errno(libc::ENOSYS)),
        }
    }

    fn recv(&self, buf: &mut [u8], flags: c_int) -> io::Result<usize> {
        let fns = self.shared.enter();
        match (fns.recv, fns.read) {
            (Some(recv), _) => {
                // SAFETY: buf is valid for writing buf.len() bytes.
                let n = unsafe { recv(self.fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
                cvt_size(n)
            }
            (None, Some(read)) if flags == 0 => {
                // SAFETY: buf is valid for writing buf.len() bytes.
                let n = unsafe { read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
                cvt_size(n)
            }
            _ => Ok(self
                .recv_msg(&mut [IoSliceMut::new(buf)], &mut [], flags)?
                .len),
        }
    }

    fn send(&self, buf: &[u8], flags: c_int) -> io::Result<usize> {
        let fns = self.shared.enter();
        match (fns.send, fns.write) {
            (Some(send), _) => {
                // SAFETY: buf is valid for reading buf.len() bytes.
                let n = unsafe { send(self.fd, buf.as_ptr().cast(), buf.len(), flags) };
                cvt_size(n)
            }
            (None, Some(write)) if flags == 0 => {
                // SAFETY: buf is valid for reading buf.len() bytes.
                let n = unsafe { write(self.fd, buf.as_ptr().cast(), buf.len()) };
                cvt_size(n)
            }
            _ => self.send_msg(&[IoSlice::new(buf)], None, &[], flags),
        }
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let fns = self.shared.enter();
        match fns.read {
            // SAFETY: buf is valid for writing buf.len() bytes.
            Some(read) => cvt_size(unsafe { read(self.fd, buf.as_mut_ptr().cast(), buf.len()) }),
            None => self.recv(buf, 0),
        }
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let fns = self.shared.enter();
        match fns.write {
            // SAFETY: buf is valid for reading buf.len() bytes.
            Some(write) => cvt_size(unsafe { write(self.fd, buf.as_ptr().cast(), buf.len()) }),
            None => self.send(buf, 0),
        }
    }

    fn close(self: Box<Self>) -> io::Result<()> {
        self.close_once()
    }
}

impl PluginSocket {
    fn close_once(&self) -> io::Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let fns = self.shared.enter();
        match fns.close {
            // SAFETY: closes the plugin's own descriptor, once.
            Some(close) => cvt(unsafe { close(self.fd) }).map(drop),
            None => Err(errno(libc::ENOSYS)),
        }
    }
}

impl Drop for PluginSocket {
    fn drop(&mut self) {
        if let Err(e) = self.close_once() {
            log::debug!("closing plugin socket {}: {e}", self.fd);
        }
    }
}
