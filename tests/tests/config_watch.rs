//! A stack's configuration changes can be waited for on a descriptor: `Stack::config_watch`,
//! and any netlink socket of the stack that joined rtnetlink's groups (through `nl_groups`
//! in `bind(2)` or `NETLINK_ADD_MEMBERSHIP`), as `ip monitor` does on Linux, receives
//! `RTM_NEWADDR`, `RTM_NEWROUTE`, `RTM_NEWLINK`... when links, addresses or routes change.

use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use ioth::Stack;
use ioth_tests::fixtures::unique_hub;

const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;

fn smoltcp_stack() -> Stack {
    let _ = ioth_smoltcp::NAME;
    Stack::new("smoltcp", &[&unique_hub()]).expect("stack")
}

fn nl_addr(groups: u32) -> socket2::SockAddr {
    // SAFETY: a zeroed sockaddr_storage holds a sockaddr_nl; its fields are written before
    // the length covering them is reported.
    let ((), addr) = unsafe {
        socket2::SockAddr::try_init(|st, len| {
            let nl = st.cast::<libc::sockaddr_nl>();
            (*nl).nl_family = libc::AF_NETLINK as libc::sa_family_t;
            (*nl).nl_groups = groups;
            *len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            Ok(())
        })
    }
    .expect("sockaddr_nl");
    addr
}

/// The message types of every notification waiting on `sock`.
fn notifications(sock: &ioth::Socket) -> Vec<u16> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16384];
    while let Ok(n) = sock.recv(&mut buf, libc::MSG_DONTWAIT) {
        for (h, _) in ioth::nlconf::rtnl::messages(&buf[..n]) {
            out.push(h.ty);
        }
    }
    out
}

#[test]
fn a_config_watch_wakes_when_an_address_is_added_and_only_then() {
    let stack = smoltcp_stack();
    let vde0 = stack.if_nametoindex("vde0").expect("vde0");
    let watch = stack.config_watch().expect("a watch");
    assert!(
        !watch.wait(Some(Duration::from_millis(50))).expect("wait"),
        "nothing changed, nothing to read"
    );
    assert_eq!(watch.drain().expect("drain"), 0);
    let poller = {
        let fd = watch.as_raw_fd();
        std::thread::spawn(move || {
            ioth_tests::poll_fd(fd, libc::POLLIN, Duration::from_secs(10)) & libc::POLLIN != 0
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    stack.link_set_up(vde0, true).expect("up");
    stack
        .ipaddr_add("10.80.0.1".parse().expect("addr"), 24, vde0)
        .expect("address");
    assert!(
        poller.join().expect("poller"),
        "the descriptor became readable"
    );
    assert!(
        watch.drain().expect("drain") >= 2,
        "link up and the address"
    );
    assert!(!watch.wait(Some(Duration::ZERO)).expect("wait"), "drained");
}

#[test]
fn netlink_sockets_that_joined_groups_get_linux_notifications() {
    let stack = smoltcp_stack();
    let vde0 = stack.if_nametoindex("vde0").expect("vde0");
    let nl = |groups: u32| {
        let s = stack
            .socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)
            .expect("netlink socket");
        s.bind(&nl_addr(groups)).expect("bind");
        s
    };
    // RTMGRP_IPV4_IFADDR by nl_groups; RTNLGRP_LINK and RTNLGRP_IPV6_ROUTE by membership.
    let v4_addrs = nl(0x10);
    let joined = nl(0);
    for group in [1u32, 11] {
        joined
            .setsockopt(
                libc::SOL_NETLINK,
                libc::NETLINK_ADD_MEMBERSHIP,
                &group.to_ne_bytes(),
            )
            .expect("NETLINK_ADD_MEMBERSHIP");
    }
    let deaf = nl(0);
    let local = joined.local_addr().expect("getsockname");
    // SAFETY: an AF_NETLINK address as long as sockaddr_nl, read by value.
    let groups = unsafe { (*local.as_ptr().cast::<libc::sockaddr_nl>()).nl_groups };
    assert_eq!(groups, 0x1 | 0x400, "getsockname shows the groups joined");

    stack.link_set_up(vde0, true).expect("up");
    let v4: IpAddr = "10.81.0.1".parse().expect("addr");
    stack.ipaddr_add(v4, 24, vde0).expect("v4");
    stack
        .ipaddr_add("fd00:81::1".parse().expect("addr"), 64, vde0)
        .expect("v6");
    stack.ipaddr_del(v4, 24, vde0).expect("del v4");

    assert_eq!(
        notifications(&v4_addrs),
        vec![RTM_NEWADDR, RTM_DELADDR],
        "IPv4 addresses only"
    );
    let got = notifications(&joined);
    assert!(got.contains(&RTM_NEWLINK), "link up: {got:?}");
    assert!(
        got.contains(&RTM_NEWROUTE),
        "the fd00:81::/64 prefix route: {got:?}"
    );
    assert!(
        !got.contains(&RTM_NEWADDR),
        "no address group joined: {got:?}"
    );
    assert!(notifications(&deaf).is_empty(), "no group, no notification");
}

#[test]
fn the_kernel_stack_gives_a_config_watch_too() {
    let stack = Stack::kernel().expect("kernel");
    let watch = stack
        .config_watch()
        .expect("a watch on the host's rtnetlink");
    watch.drain().expect("drain");
}
