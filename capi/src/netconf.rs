//! libioth's configuration helpers (nlinline's `NLINLINE_LIBMULTI(ioth_)` family), each with
//! its leading stack argument (NULL: the default stack): rtnetlink requests sent on a netlink
//! socket of that stack, so the same call configures the kernel and a user-space stack.
//!
//! `ioth.h` defines these helpers `static inline` over `ioth_msocket`/`ioth_send`/`ioth_recv`,
//! as libioth's header does, so programs built against it need none of these functions; they
//! stay exported by `libioth.so.0` under the version node `IOTH_RS_0.1`, for programs built
//! against older ioth-rs headers and for static linking.
//!
//! The helpers go through ioth's typed client; what it cannot carry (flags and scope packed in
//! a prefix length, kind-specific link data other than a VDE VNL, a caller-built message) is
//! sent as libioth's own raw message (module `rtnl`).

use std::ffi::c_char;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ioth::Stack;
use libc::{c_int, c_uint, c_void};

use crate::boundary::{buf_in, c_str, c_text, call, err};
use crate::rtnl::{
    self, ADDRDATA_MAGIC, MAX_MESSAGE, Message, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
    ROUTEDATA_MAGIC,
};
use crate::stacks::{Ioth, stack_arg};

/// `IFLA_VDE_VNL`: the VNL of a link of kind `vde` in libioth's `nl_iplink_data`.
const IFLA_VDE_VNL: c_int = 1;

/// libioth's `struct nl_iplink_data`: one kind-specific attribute for `ioth_iplink_add`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nl_iplink_data {
    /// Attribute type (kind-specific: `IFLA_VDE_VNL`, `IFLA_VXLAN_ID`, ...).
    pub tag: c_int,
    /// Length of `data` in bytes.
    pub len: c_int,
    /// The attribute's value.
    pub data: *const c_void,
}

fn stack_of(mstack: *mut c_void) -> io::Result<Stack> {
    stack_arg(mstack.cast::<Ioth>().cast_const())
}

/// Reads an address of `family` (4 or 16 bytes in network order).
///
/// # Safety
/// `addr` must be NULL or valid for the family's address length.
unsafe fn ip_of(family: c_int, addr: *const c_void) -> io::Result<IpAddr> {
    match family {
        libc::AF_INET => {
            // SAFETY: 4 readable bytes per the contract.
            let b = unsafe { buf_in(addr, 4) }?;
            Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
        }
        libc::AF_INET6 => {
            // SAFETY: 16 readable bytes per the contract.
            let b = unsafe { buf_in(addr, 16) }?;
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Ok(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => Err(err(libc::EINVAL)),
    }
}

fn ip_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn unspecified(family: c_int) -> io::Result<IpAddr> {
    match family {
        libc::AF_INET => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        libc::AF_INET6 => Ok(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        _ => Err(err(libc::EINVAL)),
    }
}

/// A prefix length argument: plain (0..=255), or packed by `nl_addrdata2prefix` /
/// `nl_routedata2prefix` with `magic` (then the two extra bytes are returned too).
fn prefix_arg(prefixlen: c_int, magic: u32) -> io::Result<(u8, Option<(u8, u8)>)> {
    let raw = prefixlen as u32;
    if raw >> 24 == magic {
        let [len, second, third, _] = raw.to_le_bytes();
        // second byte: scope; third: address flags or route type
        return Ok((len, Some((third, second))));
    }
    u8::try_from(prefixlen)
        .map(|p| (p, None))
        .map_err(|_| err(libc::EINVAL))
}

/// Index of the interface named `ifname` on `mstack` (NULL: the default stack): a positive
/// index, or -1 with errno (`ENODEV` when there is none, `EFAULT` for a NULL name).
///
/// # Safety
/// `mstack` is NULL or a stack handle; `ifname` NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_if_nametoindex(mstack: *mut c_void, ifname: *const c_char) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        let name = unsafe { c_text(ifname) }?;
        let index = stack_of(mstack)?.if_nametoindex(name)?;
        c_int::try_from(index).map_err(|_| err(libc::EOVERFLOW))
    })
}

/// Brings interface `ifindex` up (`updown` non-zero) or down: 0, or -1 with errno.
///
/// # Safety
/// `mstack` is NULL or a stack handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_linksetupdown(
    mstack: *mut c_void,
    ifindex: c_uint,
    updown: c_int,
) -> c_int {
    call(-1, || {
        stack_of(mstack)?.link_set_up(ifindex, updown != 0)?;
        Ok(0)
    })
}

/// Sets the MAC address of interface `ifindex` from the 6 bytes at `macaddr`.
///
/// # Safety
/// `mstack` is NULL or a stack handle; `macaddr` NULL or 6 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_linksetaddr(
    mstack: *mut c_void,
    ifindex: c_uint,
    macaddr: *mut c_void,
) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        let b = unsafe { buf_in(macaddr, 6) }?;
        let mut mac = [0u8; 6];
        mac.copy_from_slice(b);
        stack_of(mstack)?.link_set_mac(ifindex, mac)?;
        Ok(0)
    })
}

/// Writes the MAC address of interface `ifindex` into the 6 bytes at `macaddr`.
///
/// # Safety
/// `mstack` is NULL or a stack handle; `macaddr` NULL or 6 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_linkgetaddr(
    mstack: *mut c_void,
    ifindex: c_uint,
    macaddr: *mut c_void,
) -> c_int {
    call(-1, || {
        if macaddr.is_null() {
            return Err(err(libc::EFAULT));
        }
        let mac = stack_of(mstack)?.link_mac(ifindex)?;
        // SAFETY: macaddr is non-NULL and has 6 writable bytes per the contract.
        unsafe { std::ptr::copy_nonoverlapping(mac.as_ptr(), macaddr.cast::<u8>(), 6) };
        Ok(0)
    })
}

/// Sets the MTU of interface `ifindex`.
///
/// # Safety
/// `mstack` is NULL or a stack handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_linksetmtu(
    mstack: *mut c_void,
    ifindex: c_uint,
    mtu: c_uint,
) -> c_int {
    call(-1, || {
        stack_of(mstack)?.link_set_mtu(ifindex, mtu)?;
        Ok(0)
    })
}

fn ipaddr(
    add: bool,
    mstack: *mut c_void,
    family: c_int,
    addr: IpAddr,
    prefixlen: c_int,
    ifindex: c_int,
) -> io::Result<c_int> {
    let stack = stack_of(mstack)?;
    let (len, packed) = prefix_arg(prefixlen, ADDRDATA_MAGIC)?;
    let index = ifindex as u32;
    let Some((flags, scope)) = packed else {
        if add {
            stack.ipaddr_add(addr, len, index)?;
        } else {
            stack.ipaddr_del(addr, len, index)?;
        }
        return Ok(0);
    };
    // Flags and scope: libioth's own message.
    let mut body = vec![family as u8, len, flags, scope];
    body.extend_from_slice(&index.to_ne_bytes());
    let (ty, extra) = if add {
        (libc::RTM_NEWADDR, NLM_F_EXCL | NLM_F_CREATE)
    } else {
        (libc::RTM_DELADDR, 0)
    };
    let mut m = Message::new(ty, NLM_F_REQUEST | NLM_F_ACK | extra, &body);
    m.attr(libc::IFA_LOCAL, &ip_bytes(addr))?;
    m.attr(libc::IFA_ADDRESS, &ip_bytes(addr))?;
    rtnl::dialog(&stack, &m.finish()?)
}

/// Adds address `addr` (4 or 16 bytes of `family`) with `prefixlen` (or a value packed by
/// `nl_addrdata2prefix`) to interface `ifindex`: 0, or -1 with errno (`EEXIST`, `ENODEV`,
/// `EINVAL` for another family).
///
/// # Safety
/// `mstack` is NULL or a stack handle; `addr` NULL or valid for the family's length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_ipaddr_add(
    mstack: *mut c_void,
    family: c_int,
    addr: *mut c_void,
    prefixlen: c_int,
    ifindex: c_int,
) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        let a = unsafe { ip_of(family, addr) }?;
        ipaddr(true, mstack, family, a, prefixlen, ifindex)
    })
}

/// Removes an address from interface `ifindex` (as [`ioth_ipaddr_add`]; `EADDRNOTAVAIL` when
/// it is not there).
///
/// # Safety
/// `mstack` is NULL or a stack handle; `addr` NULL or valid for the family's length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_ipaddr_del(
    mstack: *mut c_void,
    family: c_int,
    addr: *mut c_void,
    prefixlen: c_int,
    ifindex: c_int,
) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        let a = unsafe { ip_of(family, addr) }?;
        ipaddr(false, mstack, family, a, prefixlen, ifindex)
    })
}

/// The body of both route helpers.
///
/// # Safety
/// `dst_addr`/`gw_addr` NULL or valid for the family's length.
unsafe fn iproute(
    add: bool,
    mstack: *mut c_void,
    family: c_int,
    dst_addr: *mut c_void,
    dst_prefixlen: c_int,
    gw_addr: *mut c_void,
    ifindex: c_uint,
) -> io::Result<c_int> {
    let (len, packed) = prefix_arg(dst_prefixlen, ROUTEDATA_MAGIC)?;
    let dst = if len > 0 {
        // SAFETY: per the contract.
        unsafe { ip_of(family, dst_addr) }?
    } else {
        unspecified(family)?
    };
    let gw = if gw_addr.is_null() {
        None
    } else {
        // SAFETY: per the contract.
        Some(unsafe { ip_of(family, gw_addr) }?)
    };
    let stack = stack_of(mstack)?;
    let Some((rtype, scope)) = packed else {
        let oif = (ifindex != 0).then_some(ifindex);
        if add {
            stack.iproute_add(Some((dst, len)), gw, oif)?;
        } else {
            stack.iproute_del(Some((dst, len)), gw, oif)?;
        }
        return Ok(0);
    };
    // Type and scope: libioth's own message.
    let body = [
        family as u8,
        len,
        0,
        0,
        libc::RT_TABLE_MAIN,
        libc::RTPROT_BOOT,
        scope,
        rtype,
        0,
        0,
        0,
        0,
    ];
    let (ty, extra) = if add {
        (libc::RTM_NEWROUTE, NLM_F_EXCL | NLM_F_CREATE)
    } else {
        (libc::RTM_DELROUTE, 0)
    };
    let mut m = Message::new(ty, NLM_F_REQUEST | NLM_F_ACK | extra, &body);
    if ifindex != 0 {
        m.attr(libc::RTA_OIF, &ifindex.to_ne_bytes())?;
    }
    if len > 0 {
        m.attr(libc::RTA_DST, &ip_bytes(dst))?;
    }
    if let Some(gw) = gw {
        m.attr(libc::RTA_GATEWAY, &ip_bytes(gw))?;
    }
    rtnl::dialog(&stack, &m.finish()?)
}

/// Adds a route to `dst_addr/dst_prefixlen` (prefix 0: the default route, `dst_addr` unused;
/// or a value packed by `nl_routedata2prefix`) through `gw_addr` (NULL: none) and/or out of
/// interface `ifindex` (0: any).
///
/// # Safety
/// `mstack` is NULL or a stack handle; the addresses NULL or valid for the family's length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_iproute_add(
    mstack: *mut c_void,
    family: c_int,
    dst_addr: *mut c_void,
    dst_prefixlen: c_int,
    gw_addr: *mut c_void,
    ifindex: c_uint,
) -> c_int {
    call(-1, || {
        // SAFETY: forwarded contract.
        unsafe {
            iproute(
                true,
                mstack,
                family,
                dst_addr,
                dst_prefixlen,
                gw_addr,
                ifindex,
            )
        }
    })
}

/// Removes a route (as [`ioth_iproute_add`]; `ESRCH` when none matches).
///
/// # Safety
/// `mstack` is NULL or a stack handle; the addresses NULL or valid for the family's length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_iproute_del(
    mstack: *mut c_void,
    family: c_int,
    dst_addr: *mut c_void,
    dst_prefixlen: c_int,
    gw_addr: *mut c_void,
    ifindex: c_uint,
) -> c_int {
    call(-1, || {
        // SAFETY: forwarded contract.
        unsafe {
            iproute(
                false,
                mstack,
                family,
                dst_addr,
                dst_prefixlen,
                gw_addr,
                ifindex,
            )
        }
    })
}

/// Creates a link of kind `type` named `ifname` (NULL: the stack names it) with index
/// `ifindex` (0 or -1: the stack chooses) and the `nifd` kind-specific attributes of `ifd`
/// (for `vde`: `IFLA_VDE_VNL` with the VNL). Returns the new link's index when `ifindex` is
/// -1, else 0; -1 with errno on failure.
///
/// # Safety
/// `mstack` is NULL or a stack handle; `ifname`, `type_` NULL or C strings; `ifd` NULL or
/// `nifd` entries whose `data` is valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_iplink_add(
    mstack: *mut c_void,
    ifname: *const c_char,
    ifindex: c_uint,
    type_: *const c_char,
    ifd: *const nl_iplink_data,
    nifd: c_int,
) -> c_int {
    call(-1, || {
        // SAFETY: per the contract.
        let kind = unsafe { c_str(type_) }.map_err(|_| err(libc::EINVAL))?;
        let name = if ifname.is_null() {
            None
        } else {
            // SAFETY: per the contract.
            Some(unsafe { c_str(ifname) }?)
        };
        let count = usize::try_from(nifd).map_err(|_| err(libc::EINVAL))?;
        let entries: &[nl_iplink_data] = if count == 0 {
            &[]
        } else if ifd.is_null() {
            return Err(err(libc::EFAULT));
        } else {
            // SAFETY: nifd entries per the contract.
            unsafe { std::slice::from_raw_parts(ifd, count) }
        };
        let mut data = Vec::with_capacity(entries.len());
        for e in entries {
            let len = usize::try_from(e.len).map_err(|_| err(libc::EINVAL))?;
            // SAFETY: data valid for len bytes per the contract.
            data.push((e.tag, unsafe { buf_in(e.data, len) }?));
        }
        let stack = stack_of(mstack)?;
        let wants_index = ifindex == c_uint::MAX;
        let index = (ifindex != 0 && !wants_index).then_some(ifindex);
        let vnl = match data.as_slice() {
            [] => None,
            [(IFLA_VDE_VNL, vnl)] if kind.to_bytes() == b"vde" => Some(*vnl),
            _ => {
                // Other kind-specific data: libioth's own message.
                let mut body = [0u8; 16];
                body[4..8].copy_from_slice(&index.unwrap_or(0).to_ne_bytes());
                let mut m = Message::new(
                    libc::RTM_NEWLINK,
                    NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE,
                    &body,
                );
                if let Some(name) = name {
                    m.str_attr(libc::IFLA_IFNAME, name.to_bytes())?;
                }
                let info = m.begin_nest(libc::IFLA_LINKINFO);
                m.str_attr(libc::IFLA_INFO_KIND, kind.to_bytes())?;
                let nest = m.begin_nest(libc::IFLA_INFO_DATA);
                for (tag, bytes) in &data {
                    m.attr(u16::try_from(*tag).map_err(|_| err(libc::EINVAL))?, bytes)?;
                }
                m.end_nest(nest)?;
                m.end_nest(info)?;
                return rtnl::dialog(&stack, &m.finish()?);
            }
        };
        let kind = kind.to_str().map_err(|_| err(libc::EINVAL))?;
        let name = name
            .map(|n| n.to_str().map_err(|_| err(libc::EINVAL)))
            .transpose()?;
        let vnl = vnl
            .map(|v| {
                let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
                std::str::from_utf8(&v[..end]).map_err(|_| err(libc::EINVAL))
            })
            .transpose()?;
        let new = stack.iplink_add(name, index, kind, vnl)?;
        if wants_index {
            c_int::try_from(new).map_err(|_| err(libc::EOVERFLOW))
        } else {
            Ok(0)
        }
    })
}

/// Removes a link designated by `ifindex` (0: by name) and/or `ifname` (NULL: by index).
///
/// # Safety
/// `mstack` is NULL or a stack handle; `ifname` NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_iplink_del(
    mstack: *mut c_void,
    ifname: *const c_char,
    ifindex: c_uint,
) -> c_int {
    call(-1, || {
        let name = if ifname.is_null() {
            None
        } else {
            // SAFETY: per the contract.
            Some(unsafe { c_text(ifname) }?)
        };
        if name.is_none() && ifindex == 0 {
            return Err(err(libc::EINVAL));
        }
        let index = (ifindex != 0).then_some(ifindex);
        stack_of(mstack)?.iplink_del(name, index)?;
        Ok(0)
    })
}

/// Sends the rtnetlink message at `msg` (its length is its `nlmsg_len`) on a netlink socket of
/// `mstack` and reads one reply: the acknowledgement's non-negative value, the index of an
/// `RTM_NEWLINK` reply, or -1 with the error's errno.
///
/// # Safety
/// `mstack` is NULL or a stack handle; `msg` NULL or a netlink message valid for its
/// `nlmsg_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioth_nldialog(mstack: *mut c_void, msg: *mut c_void) -> c_int {
    call(-1, || {
        // SAFETY: a message has at least its 16-byte header per the contract.
        let header = unsafe { buf_in(msg, 16) }?;
        let len = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if !(16..=MAX_MESSAGE).contains(&len) {
            return Err(err(libc::EINVAL));
        }
        // SAFETY: valid for nlmsg_len bytes per the contract.
        let bytes = unsafe { buf_in(msg, len) }?;
        rtnl::dialog(&stack_of(mstack)?, bytes)
    })
}
