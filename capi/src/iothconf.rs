//! iothconf's calls: `ioth_newstackc`, `ioth_config`, `ioth_resolvconf`, over ioth's
//! configuration strings ([`ioth::Stack::from_config`], [`ioth::Stack::configure`],
//! [`ioth::Stack::resolv_conf`]).

use std::collections::HashMap;
use std::ffi::c_char;
use std::io;
use std::sync::Mutex;

use ioth::Stack;
use ioth::config::Report;
use libc::c_int;

use crate::boundary::{c_text, call, err, malloc_c_string};
use crate::stacks::{Ioth, entry, init, register, stack_arg};

/// `ioth_config` bit: every static item (`ip=`, `gw=`, `dns=`, `domain=`, undo forms) applied.
pub const IOTHCONF_STATIC: c_int = 1 << 0;
/// `ioth_config` bit: `eth` done (MAC set, link up).
pub const IOTHCONF_ETH: c_int = 1 << 1;
/// `ioth_config` bit: DHCPv4 started.
pub const IOTHCONF_DHCP: c_int = 1 << 2;
/// `ioth_config` bit: DHCPv6 started.
pub const IOTHCONF_DHCPV6: c_int = 1 << 3;
/// `ioth_config` bit: router discovery started.
pub const IOTHCONF_RD: c_int = 1 << 4;

/// The interface iothconf configures when the string names none.
const DEFAULT_INTERFACE: &str = "vde0";

/// A configuration string argument; NULL is the empty string, as in iothconf.
///
/// # Safety
/// `p` must be NULL or a C string.
unsafe fn config_arg<'a>(p: *const c_char) -> io::Result<&'a str> {
    if p.is_null() {
        Ok("")
    } else {
        // SAFETY: per the contract.
        unsafe { c_text(p) }
    }
}

/// iothconf's bitmask of what a call configured.
fn mask(report: &Report) -> c_int {
    let mut m = 0;
    for (done, bit) in [
        (report.static_, IOTHCONF_STATIC),
        (report.eth, IOTHCONF_ETH),
        (report.dhcp, IOTHCONF_DHCP),
        (report.dhcp6, IOTHCONF_DHCPV6),
        (report.rd, IOTHCONF_RD),
    ] {
        if done {
            m |= bit;
        }
    }
    for (item, e) in &report.failed {
        log::info!("iothconf: {item} failed: {e}");
    }
    if let Some(text) = &report.description {
        // `debug` shows the resulting configuration, as iothconf does.
        eprintln!("{text}");
    }
    m
}

/// Creates a stack and configures it from one string: `stack=` (quote options:
/// `stack='kernel,netns=NAME'`; default the kernel), `vnl=`, then everything [`ioth_config`]
/// takes. Returns NULL with errno on failure (`EINVAL` for a bad string, naming nothing;
/// `ENODEV` when the interface to configure does not exist; creation errors as
/// `ioth_newstack`); the stack is not kept then.
///
/// # Safety
/// `stack_config` must be NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_newstackc(stack_config: *const c_char) -> *mut Ioth {
    call(std::ptr::null_mut(), || {
        init();
        // SAFETY: per the contract.
        let text = unsafe { config_arg(stack_config) }?;
        let (stack, report) = Stack::from_config_lenient(text)?;
        mask(&report);
        Ok(register(stack))
    })
}

/// Configures `stack` (NULL: the default stack) from a string: `iface=`/`ifindex=`, `mac=`,
/// `fqdn=`, `eth`, `ip=`, `gw=`, `dns=`, `domain=`, `dhcp`, `dhcp6`, `rd`, `slaac`, `auto*`,
/// the `-` undo forms, `debug`. Returns the mask of `IOTHCONF_*` bits of what succeeded, or -1
/// with errno: `EINVAL` for a bad string (or `stack=`/`vnl=`), `ENODEV` when the interface
/// does not exist.
///
/// # Safety
/// `stack` is NULL or a stack handle; `config` NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_config(stack: *mut Ioth, config: *const c_char) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        let text = unsafe { config_arg(config) }?;
        let report = stack_arg(stack)?.configure_lenient(text)?;
        Ok(mask(&report))
    })
}

/// What the NULL (default) stack's `ioth_resolvconf` returned last, per interface.
static DEFAULT_RESOLV_LAST: Mutex<Option<HashMap<u32, String>>> = Mutex::new(None);

/// The `resolv.conf(5)` text for an interface of `stack` (`config`: `iface=` or `ifindex=`,
/// default `vde0`): the static `dns=`/`domain=` items and what DHCP/RD learned, in a
/// `malloc`ed string the caller frees. NULL with errno 0 when the text is the same as the
/// previous call returned (nothing changed); NULL with errno `EINVAL` (bad string) or
/// `ENODEV` (no such interface) on error.
///
/// # Safety
/// `stack` is NULL or a stack handle; `config` NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_resolvconf(stack: *mut Ioth, config: *const c_char) -> *mut c_char {
    call(std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        let text = unsafe { config_arg(config) }?;
        let mut iface = None;
        let mut ifindex = None;
        let items = ioth::nlconf::iothconf::tokenize(text)
            .map_err(|e| ioth::errno_with(e.errno(), e.to_string()))?;
        for item in items {
            match (item.tag.as_str(), item.value) {
                ("iface", Some(v)) if !v.is_empty() => iface = Some(v),
                ("ifindex", Some(v)) => {
                    let i: u32 = v.parse().map_err(|_| err(libc::EINVAL))?;
                    ifindex = (i != 0).then_some(i);
                }
                (tag, _) => {
                    return Err(ioth::errno_with(
                        libc::EINVAL,
                        format!("ioth_resolvconf takes iface= and ifindex= only, not {tag:?}"),
                    ));
                }
            }
        }
        let s = stack_arg(stack)?;
        let index = match ifindex {
            Some(i) => i,
            None => s.if_nametoindex(iface.as_deref().unwrap_or(DEFAULT_INTERFACE))?,
        };
        let current = s.resolv_conf(index);
        let changed = if stack.is_null() {
            let mut last = DEFAULT_RESOLV_LAST
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            remember(last.get_or_insert_with(HashMap::new), index, &current)
        } else {
            let e = entry(stack)?;
            let mut last = e.resolv_last.lock().unwrap_or_else(|e| e.into_inner());
            remember(&mut last, index, &current)
        };
        if !changed {
            ioth::plugin::abi::set_errno(0);
            return Ok(std::ptr::null_mut());
        }
        malloc_c_string(&current)
    })
}

/// Records `current` as the last text for `index`; whether it differs from the previous one.
fn remember(last: &mut HashMap<u32, String>, index: u32, current: &str) -> bool {
    let previous = last.insert(index, current.to_owned());
    previous.as_deref().unwrap_or("") != current
}
