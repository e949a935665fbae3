//! `ioth_getifaddrs` / `ioth_freeifaddrs`: the interfaces and addresses of a stack as a
//! `struct ifaddrs` list (libc's layout), built from the stack's rtnetlink dumps.
//!
//! The whole list is one `malloc` block (an array of nodes, each holding its `struct ifaddrs`,
//! its socket addresses and its name), so `ioth_freeifaddrs` — and glibc's `freeifaddrs`,
//! which frees one block too — release it with a single `free`.
//!
//! As glibc and libioth list them: first one `AF_PACKET` entry per interface (its MAC in a
//! `sockaddr_ll`), then one entry per IPv4/IPv6 address with its netmask, the broadcast
//! address on broadcast interfaces, the address itself as `ifa_dstaddr` on loopback. `ifa_data`
//! (glibc's link statistics) is NULL.

use std::mem;
use std::net::IpAddr;

use ioth::config::{IfaAddress, InterfaceAddress};
use libc::{c_char, c_int, c_uint, ifaddrs, sockaddr, sockaddr_in, sockaddr_in6, sockaddr_ll};

use crate::boundary::{call, call_void, err};
use crate::stacks::{Ioth, stack_arg};

/// Room for an interface name (Linux: 15 bytes and a NUL).
const NAME_ROOM: usize = 32;

/// One element of the block: the entry and what its pointers point at.
#[repr(C)]
struct Node {
    ifa: ifaddrs,
    addr: libc::sockaddr_storage,
    netmask: libc::sockaddr_storage,
    broad: libc::sockaddr_storage,
    name: [c_char; NAME_ROOM],
}

/// Writes `a` into `slot` as a `sockaddr_in`/`sockaddr_in6` (scope id `index` for link-local
/// IPv6) and returns a pointer to it.
fn put_ip(slot: &mut libc::sockaddr_storage, a: IpAddr, index: u32) -> *mut sockaddr {
    match a {
        IpAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in; all-zero
            // is a valid sockaddr_in.
            let sin = unsafe { &mut *(slot as *mut libc::sockaddr_storage).cast::<sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(v4.octets());
        }
        IpAddr::V6(v6) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 =
                unsafe { &mut *(slot as *mut libc::sockaddr_storage).cast::<sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = v6.octets();
            let seg0 = v6.segments()[0];
            let link_local = seg0 & 0xffc0 == 0xfe80 || seg0 & 0xff0f == 0xff02;
            if link_local {
                sin6.sin6_scope_id = index;
            }
        }
    }
    (slot as *mut libc::sockaddr_storage).cast()
}

/// Writes a link-layer address into `slot` as a `sockaddr_ll`.
fn put_ll(
    slot: &mut libc::sockaddr_storage,
    mac: [u8; 6],
    index: u32,
    hatype: u16,
) -> *mut sockaddr {
    // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_ll; all-zero is valid.
    let ll = unsafe { &mut *(slot as *mut libc::sockaddr_storage).cast::<sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as u16;
    ll.sll_ifindex = c_int::try_from(index).unwrap_or(0);
    ll.sll_hatype = hatype;
    ll.sll_halen = 6;
    ll.sll_addr[..6].copy_from_slice(&mac);
    (slot as *mut libc::sockaddr_storage).cast()
}

fn fill(node: &mut Node, entry: &InterfaceAddress) {
    let name = entry.name.as_bytes();
    let n = name.len().min(NAME_ROOM - 1);
    for (dst, &src) in node.name.iter_mut().zip(&name[..n]) {
        *dst = src as c_char;
    }
    node.ifa.ifa_name = node.name.as_mut_ptr();
    node.ifa.ifa_flags = entry.flags as c_uint;
    let broadcast = entry.flags & libc::IFF_BROADCAST as u32 != 0;
    let loopback = entry.flags & (libc::IFF_LOOPBACK | libc::IFF_POINTOPOINT) as u32 != 0;
    match entry.addr {
        IfaAddress::Link { mac, link_type } => {
            node.ifa.ifa_addr = put_ll(&mut node.addr, mac, entry.index, link_type);
            if broadcast {
                node.ifa.ifa_ifu = put_ll(&mut node.broad, [0xff; 6], entry.index, link_type);
            }
        }
        IfaAddress::Ip(a) => {
            node.ifa.ifa_addr = put_ip(&mut node.addr, a, entry.index);
            if let Some(mask) = entry.netmask {
                node.ifa.ifa_netmask = put_ip(&mut node.netmask, mask, 0);
            }
            if loopback {
                node.ifa.ifa_ifu = put_ip(&mut node.broad, a, entry.index);
            } else if let Some(b) = entry.broadcast.filter(|_| broadcast) {
                node.ifa.ifa_ifu = put_ip(&mut node.broad, b, entry.index);
            }
        }
    }
}

/// Lists the interfaces and addresses of `stack` (NULL: the default stack) into `*ifap`: 0,
/// or -1 with errno (`EFAULT` for a NULL `ifap`, `EINVAL` for a pointer that is not a live
/// stack, the stack's netlink errno). An empty list is a NULL `*ifap`. Release the list with
/// [`ioth_freeifaddrs`].
///
/// # Safety
/// `ifap` must be NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_getifaddrs(stack: *mut Ioth, ifap: *mut *mut ifaddrs) -> c_int {
    call(-1, || {
        if ifap.is_null() {
            return Err(err(libc::EFAULT));
        }
        let entries = stack_arg(stack)?.getifaddrs()?;
        if entries.is_empty() {
            // SAFETY: ifap is non-NULL and writable per the contract.
            unsafe { *ifap = std::ptr::null_mut() };
            return Ok(0);
        }
        let size = mem::size_of::<Node>()
            .checked_mul(entries.len())
            .ok_or_else(|| err(libc::ENOMEM))?;
        // SAFETY: calloc has no preconditions; the result is checked for NULL. Zeroed memory
        // is a valid Node (all fields are plain C data; NULL pointers).
        let block = unsafe { libc::calloc(1, size) }.cast::<Node>();
        if block.is_null() {
            return Err(err(libc::ENOMEM));
        }
        // SAFETY: block holds entries.len() zeroed Nodes, exclusively ours until returned;
        // malloc aligns for any fundamental type, which covers Node.
        let nodes = unsafe { std::slice::from_raw_parts_mut(block, entries.len()) };
        let count = nodes.len();
        for (i, (node, entry)) in nodes.iter_mut().zip(&entries).enumerate() {
            fill(node, entry);
            if i + 1 < count {
                // SAFETY: i + 1 is within the block.
                node.ifa.ifa_next = unsafe { block.add(i + 1) }.cast::<ifaddrs>();
            }
        }
        // SAFETY: ifap is non-NULL and writable per the contract.
        unsafe { *ifap = block.cast::<ifaddrs>() };
        Ok(0)
    })
}

/// Releases a list made by [`ioth_getifaddrs`] (NULL: nothing).
///
/// # Safety
/// `ifa` must be NULL or the head of a list [`ioth_getifaddrs`] returned, not yet released.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_freeifaddrs(ifa: *mut ifaddrs) {
    call_void(|| {
        // SAFETY: the list is one malloc block whose start is its head, per the contract.
        unsafe { libc::free(ifa.cast()) };
        Ok(())
    })
}
