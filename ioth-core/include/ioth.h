/*
 * ioth.h: the C interface of ioth-rs (libioth.so / libioth.a).
 *
 * Source-compatible with VirtualSquare's libioth: a program written for libioth's <ioth.h>
 * (and iothconf's <iothconf.h>) compiles unchanged against this header and runs on ioth-rs
 * stacks. Stack plugins written to libioth's plugin ABI (struct ioth_functions below) load.
 * Additions of ioth-rs are marked "ioth-rs extension" and announced by IOTH_RS.
 *
 * Link with: cc prog.c $(pkg-config --cflags --libs ioth)   (-lioth). The library is
 * libioth.so.0 and exports exactly the original's symbols, unversioned, plus the ioth-rs
 * extensions under the version node IOTH_RS_0.1. iothconf's calls are in <iothconf.h>
 * (-liothconf), iothaddr's in <iothaddr.h> (-liothaddr), iothdns's in <iothdns.h>
 * (-liothdns), as with the original.
 *
 * Conventions of every call:
 *  - a stack is a `struct ioth *`; NULL means the default stack (this thread's, else the
 *    process's, else the host kernel);
 *  - a socket is a real file descriptor: poll/select/epoll it with any other descriptor;
 *  - on failure a call returns -1 (or NULL) and sets errno as Linux would: EBADF for a
 *    descriptor that is not an ioth socket, ENOTSUP for an implementation that is neither
 *    built in nor installed as a plugin, EBUSY when deleting a stack with open sockets,
 *    EFAULT for a NULL pointer where data is required, EINVAL for a pointer that is not a
 *    live stack.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef IOTH_RS_IOTH_H
#define IOTH_RS_IOTH_H
/* libioth's own guard, for code that tests it. */
#ifndef LIBIOTH_H
#define LIBIOTH_H
#endif

/* ioth-rs: this header declares the ioth-rs extensions below. */
#define IOTH_RS 1

/* What libioth's header (with nlinline) made visible, so that its programs compile. */
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A network stack instance (opaque). */
struct ioth;

/* ------------------------------------------------------------------ stacks */

/* Declares the program's licence (SPDX identifier, "SPDX-License-Identifier: " prefix
 * optional), checked when a plugin is loaded: a plugin with another licence that does not
 * admit the program's is refused with EPERM. NULL: undeclared. */
void ioth_set_license(const char *license);

/* Creates a stack of implementation `stack` ("name" or "name,options"; NULL or "" is the
 * host kernel) with one interface on the VNL `vnl` (e.g. "vde:///tmp/hub"; NULL: none),
 * named vde0 (or NAME with "NAME:vde:///tmp/hub"). */
struct ioth *ioth_newstack(const char *stack, const char *vnl);

/* As ioth_newstack with the interfaces of the NULL-terminated array vnlv (NULL: none). */
struct ioth *ioth_newstackv(const char *stack, const char *vnlv[]);

/* As ioth_newstack with one interface per argument; the list ends with (char *) NULL. */
struct ioth *ioth_newstackl(const char *stack, const char *vnl, ... /* (char *) NULL */);

/* Deletes a stack: EINVAL for NULL (or a pointer that is not a live stack), EBUSY while
 * sockets of it are open (the stack then stays valid). */
int ioth_delstack(struct ioth *iothstack);

/* The process default stack (NULL: the kernel). ioth_get_defstack returns the pointer
 * last given to ioth_set_defstack. */
void ioth_set_defstack(struct ioth *iothstack);
struct ioth *ioth_get_defstack(void);

/* ioth-rs extension: a default stack for the calling thread only, which wins over the
 * process default for ioth_socket and NULL-stack helpers on that thread. NULL removes it.
 * ioth_set_thread_defstack returns 0, or -1 with EINVAL for a pointer that is not a live
 * stack; ioth_get_thread_defstack returns NULL when the thread has none. */
int ioth_set_thread_defstack(struct ioth *iothstack);
struct ioth *ioth_get_thread_defstack(void);

/* ------------------------------------------------------------------ sockets */

/* A socket of `iothstack` (NULL: the default stack), as socket(2). */
int ioth_msocket(struct ioth *iothstack, int domain, int type, int protocol);
/* A socket of the default stack. */
int ioth_socket(int domain, int type, int protocol);
int ioth_close(int fd);

/* The BSD calls, with libc's arguments and results, on ioth sockets. */
int ioth_bind(int fd, const struct sockaddr *addr, socklen_t addrlen);
int ioth_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
int ioth_listen(int fd, int backlog);
int ioth_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
int ioth_getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen);
int ioth_getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen);
ssize_t ioth_read(int fd, void *buf, size_t len);
ssize_t ioth_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t ioth_recv(int fd, void *buf, size_t len, int flags);
ssize_t ioth_recvfrom(int fd, void *buf, size_t len, int flags,
		struct sockaddr *from, socklen_t *fromlen);
ssize_t ioth_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t ioth_write(int fd, const void *buf, size_t len);
ssize_t ioth_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t ioth_send(int fd, const void *buf, size_t len, int flags);
ssize_t ioth_sendto(int fd, const void *buf, size_t len, int flags,
		const struct sockaddr *to, socklen_t tolen);
ssize_t ioth_sendmsg(int fd, const struct msghdr *msg, int flags);
int ioth_setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen);
int ioth_getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen);
int ioth_shutdown(int fd, int how);
/* Three fixed arguments, as in libioth (not variadic). */
int ioth_ioctl(int fd, unsigned long cmd, void *argp);
int ioth_fcntl(int fd, int cmd, long val);

/* ------------------------------------------------ configuration (rtnetlink) */

/* nlinline's companions, as libioth's header provided them. */
#ifndef NLINLINE_H
/* One kind-specific attribute for ioth_iplink_add (IFLA_INFO_DATA). */
struct nl_iplink_data {
	int tag;
	int len;
	const void *data;
};
/* A single string attribute: ioth_iplink_add(s, name, -1, "vde",
 *     nl_iplink_strdata(IFLA_VDE_VNL, "vde:///tmp/hub")) */
#define nl_iplink_strdata(t, s) &(struct nl_iplink_data) {(t), (int) strlen(s) + 1, (s)}, 1
/* The VNL of a link of type "vde". */
#ifndef IFLA_VDE_VNL
#define IFLA_VDE_VNL 1
#endif
/* Pack address flags and scope (ipaddr helpers) or route type and scope (iproute helpers)
 * with a prefix length, to be passed as the prefix length. */
static inline int nl_addrdata2prefix(unsigned char prefixlen, unsigned char flags,
		unsigned char scope) {
	return 0x70 << 24 | flags << 16 | scope << 8 | prefixlen;
}
static inline int nl_routedata2prefix(unsigned char prefixlen, unsigned char type,
		unsigned char scope) {
	return 0x60 << 24 | type << 16 | scope << 8 | prefixlen;
}
#endif

/* The helpers below are static inline, as libioth's (which nlinline generated): each builds
 * an rtnetlink request, sends it on a netlink socket of `mstack` (a struct ioth *; NULL: the
 * default stack) opened with ioth_msocket, and reads the answer with ioth_recv. A program
 * built with this header therefore calls only ioth_msocket, ioth_bind, ioth_send, ioth_recv
 * and ioth_close of the library, and runs on the original libioth too; the same call
 * configures the kernel and user-space stacks. They return 0 (ioth_if_nametoindex: the
 * index), or -1 with errno: the stack's answer (ENODEV, EEXIST, EADDRNOTAVAIL, ...), EINVAL
 * for an unknown family or an out-of-range prefix length, EFAULT for a NULL pointer where
 * data is required (the original would crash), or what opening the socket gave.
 * libioth.so.0 also exports functions of these names under the version node IOTH_RS_0.1,
 * for programs built against older ioth-rs headers. The ioth_nl_*_ names are internal. */

/* Room for a request of the helpers (iplink_add sizes its own). */
#define IOTH_NL_SMALL_ 256
/* Room for a reply that is read whole (ioth_linkgetaddr). */
#define IOTH_NL_REPLY_ 16384

struct ioth_nl_req_ {
	unsigned char *buf;
	size_t len, cap;
	int overflow;
};

static inline void ioth_nl_put_(struct ioth_nl_req_ *r, const void *data, size_t len) {
	if (r->overflow || len > r->cap - r->len) {
		r->overflow = 1;
		return;
	}
	if (len > 0)
		memcpy(r->buf + r->len, data, len);
	r->len += len;
}

static inline void ioth_nl_pad_(struct ioth_nl_req_ *r) {
	static const unsigned char zeros[4] = {0, 0, 0, 0};
	ioth_nl_put_(r, zeros, (4 - (r->len & 3)) & 3);
}

static inline void ioth_nl_begin_(struct ioth_nl_req_ *r, void *buf, size_t cap,
		unsigned short type, unsigned short flags, const void *body, size_t bodylen) {
	struct nlmsghdr h;
	memset(&h, 0, sizeof(h));
	h.nlmsg_type = type;
	h.nlmsg_flags = flags;
	h.nlmsg_seq = 1;
	r->buf = (unsigned char *) buf;
	r->len = 0;
	r->cap = cap;
	r->overflow = 0;
	ioth_nl_put_(r, &h, sizeof(h));
	ioth_nl_put_(r, body, bodylen);
	ioth_nl_pad_(r);
}

/* Starts an attribute of `type` (its length is fixed by ioth_nl_end_); returns its offset. */
static inline size_t ioth_nl_start_(struct ioth_nl_req_ *r, unsigned short type) {
	struct nlattr a;
	size_t at = r->len;
	a.nla_len = 0;
	a.nla_type = type;
	ioth_nl_put_(r, &a, sizeof(a));
	return at;
}

static inline void ioth_nl_end_(struct ioth_nl_req_ *r, size_t at) {
	unsigned short len;
	if (r->overflow || r->len - at > 0xffff) {
		r->overflow = 1;
		return;
	}
	len = (unsigned short) (r->len - at);
	memcpy(r->buf + at, &len, sizeof(len));
	ioth_nl_pad_(r);
}

static inline void ioth_nl_attr_(struct ioth_nl_req_ *r, unsigned short type,
		const void *data, size_t len) {
	size_t at = ioth_nl_start_(r, type);
	ioth_nl_put_(r, data, len);
	ioth_nl_end_(r, at);
}

/* The finished message (its nlmsg_len set), or NULL with EINVAL when it did not fit. */
static inline void *ioth_nl_finish_(struct ioth_nl_req_ *r) {
	unsigned int len = (unsigned int) r->len;
	if (r->overflow)
		return errno = EINVAL, (void *) NULL;
	memcpy(r->buf, &len, sizeof(len));
	return r->buf;
}

/* A netlink socket of mstack, bound, with msg sent on it; -1 with errno on failure. */
static inline int ioth_nl_open_send_(void *mstack, const void *msg) {
	struct sockaddr_nl sanl;
	struct nlmsghdr h;
	int fd, saved;
	memcpy(&h, msg, sizeof(h));
	memset(&sanl, 0, sizeof(sanl));
	sanl.nl_family = AF_NETLINK;
	fd = ioth_msocket((struct ioth *) mstack, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	if (ioth_bind(fd, (struct sockaddr *) &sanl, sizeof(sanl)) < 0 ||
			ioth_send(fd, msg, h.nlmsg_len, 0) < 0) {
		saved = errno;
		ioth_close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Reads the first answer: an acknowledgement (its value, or -1 with its error), or
 * RTM_NEWLINK (its interface index); anything else is EFAULT. */
static inline int ioth_nl_answer_(int fd) {
	unsigned char buf[sizeof(struct nlmsghdr) + sizeof(struct nlmsgerr)];
	struct nlmsghdr h;
	struct ifinfomsg ifi;
	int code;
	ssize_t n = ioth_recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -1;
	if ((size_t) n < sizeof(h) + sizeof(int))
		return errno = EFAULT, -1;
	memcpy(&h, buf, sizeof(h));
	switch (h.nlmsg_type) {
	case NLMSG_ERROR:
		memcpy(&code, buf + sizeof(h), sizeof(code));
		if (code >= 0)
			return code;
		return errno = (code == INT_MIN ? EINVAL : -code), -1;
	case RTM_NEWLINK:
		if ((size_t) n < sizeof(h) + sizeof(ifi))
			return errno = EFAULT, -1;
		memcpy(&ifi, buf + sizeof(h), sizeof(ifi));
		return ifi.ifi_index;
	default:
		return errno = EFAULT, -1;
	}
}

/* Sends the rtnetlink message msg (nlmsg_len bytes) on a netlink socket of mstack and reads
 * one answer: the acknowledgement's value, the index of an RTM_NEWLINK answer, or -1 with
 * the error. */
static inline int ioth_nldialog(void *mstack, void *msg) {
	struct nlmsghdr h;
	int fd, result, saved;
	if (msg == NULL)
		return errno = EFAULT, -1;
	memcpy(&h, msg, sizeof(h));
	if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > 65536)
		return errno = EINVAL, -1;
	fd = ioth_nl_open_send_(mstack, msg);
	if (fd < 0)
		return -1;
	result = ioth_nl_answer_(fd);
	saved = errno;
	ioth_close(fd);
	errno = saved;
	return result;
}

static inline int ioth_nl_link_dialog_(void *mstack, unsigned short type, unsigned short flags,
		const struct ifinfomsg *ifi, unsigned short attr, const void *data, size_t len) {
	unsigned char buf[IOTH_NL_SMALL_];
	struct ioth_nl_req_ r;
	void *msg;
	ioth_nl_begin_(&r, buf, sizeof(buf), type, flags, ifi, sizeof(*ifi));
	if (data != NULL)
		ioth_nl_attr_(&r, attr, data, len);
	msg = ioth_nl_finish_(&r);
	return msg == NULL ? -1 : ioth_nldialog(mstack, msg);
}

/* The index of the interface named ifname of mstack. */
static inline int ioth_if_nametoindex(void *mstack, const char *ifname) {
	struct ifinfomsg ifi;
	if (ifname == NULL)
		return errno = EFAULT, -1;
	memset(&ifi, 0, sizeof(ifi));
	return ioth_nl_link_dialog_(mstack, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi,
			IFLA_IFNAME, ifname, strlen(ifname) + 1);
}

/* Brings interface ifindex up (updown non-zero) or down. */
static inline int ioth_linksetupdown(void *mstack, unsigned int ifindex, int updown) {
	struct ifinfomsg ifi;
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = (int) ifindex;
	ifi.ifi_flags = updown ? IFF_UP : 0;
	ifi.ifi_change = IFF_UP;
	return ioth_nl_link_dialog_(mstack, RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, 0, NULL, 0);
}

/* Sets the MAC address (6 bytes at macaddr) of interface ifindex. */
static inline int ioth_linksetaddr(void *mstack, unsigned int ifindex, void *macaddr) {
	struct ifinfomsg ifi;
	if (macaddr == NULL)
		return errno = EFAULT, -1;
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = (int) ifindex;
	return ioth_nl_link_dialog_(mstack, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi,
			IFLA_ADDRESS, macaddr, 6);
}

/* Sets the MTU of interface ifindex. */
static inline int ioth_linksetmtu(void *mstack, unsigned int ifindex, unsigned int mtu) {
	struct ifinfomsg ifi;
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = (int) ifindex;
	return ioth_nl_link_dialog_(mstack, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi,
			IFLA_MTU, &mtu, sizeof(mtu));
}

/* Writes the MAC address of interface ifindex into the 6 bytes at macaddr (ENOENT: the
 * interface has none). */
static inline int ioth_linkgetaddr(void *mstack, unsigned int ifindex, void *macaddr) {
	unsigned char req[IOTH_NL_SMALL_];
	struct ioth_nl_req_ r;
	struct ifinfomsg ifi;
	struct nlmsghdr h;
	struct nlattr a;
	unsigned char *reply;
	void *msg;
	size_t at, end;
	ssize_t n;
	int fd, code, result = -1, e = ENOENT;
	if (macaddr == NULL)
		return errno = EFAULT, -1;
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = (int) ifindex;
	ioth_nl_begin_(&r, req, sizeof(req), RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof(ifi));
	if ((msg = ioth_nl_finish_(&r)) == NULL)
		return -1;
	if ((reply = (unsigned char *) malloc(IOTH_NL_REPLY_)) == NULL)
		return errno = ENOMEM, -1;
	if ((fd = ioth_nl_open_send_(mstack, msg)) < 0) {
		e = errno;
		goto out;
	}
	n = ioth_recv(fd, reply, IOTH_NL_REPLY_, 0);
	e = errno;
	ioth_close(fd);
	if (n < 0)
		goto out;
	e = EFAULT;
	if ((size_t) n < sizeof(h) + sizeof(int))
		goto out;
	memcpy(&h, reply, sizeof(h));
	if (h.nlmsg_type == NLMSG_ERROR) {
		memcpy(&code, reply + sizeof(h), sizeof(code));
		e = code < 0 && code != INT_MIN ? -code : ENODEV;
		goto out;
	}
	if (h.nlmsg_type != RTM_NEWLINK || h.nlmsg_len > (size_t) n ||
			h.nlmsg_len < sizeof(h) + sizeof(ifi))
		goto out;
	end = h.nlmsg_len;
	e = ENOENT;
	for (at = NLMSG_ALIGN(sizeof(h) + sizeof(ifi)); at + sizeof(a) <= end;
			at += NLA_ALIGN(a.nla_len)) {
		memcpy(&a, reply + at, sizeof(a));
		if (a.nla_len < sizeof(a) || a.nla_len > end - at)
			break;
		if ((a.nla_type & NLA_TYPE_MASK) == IFLA_ADDRESS && a.nla_len >= sizeof(a) + 6) {
			memcpy(macaddr, reply + at + sizeof(a), 6);
			result = 0;
			break;
		}
	}
out:
	free(reply);
	if (result < 0)
		errno = e;
	return result;
}

/* The prefix length argument of the ipaddr/iproute helpers: plain (0..255), or packed by
 * nl_addrdata2prefix/nl_routedata2prefix with `magic`, giving two extra bytes. */
static inline int ioth_nl_prefix_(int prefixlen, int magic, unsigned char *len,
		unsigned char *second, unsigned char *third) {
	unsigned int raw = (unsigned int) prefixlen;
	if ((int) (raw >> 24) == magic) {
		*len = (unsigned char) raw;
		*second = (unsigned char) (raw >> 8);
		*third = (unsigned char) (raw >> 16);
		return 1;
	}
	if (prefixlen < 0 || prefixlen > 255)
		return errno = EINVAL, -1;
	*len = (unsigned char) prefixlen;
	return 0;
}

static inline size_t ioth_nl_addrlen_(int family) {
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static inline int ioth_nl_ipaddr_(void *mstack, unsigned short type, unsigned short xflags,
		int family, void *addr, int prefixlen, int ifindex) {
	unsigned char buf[IOTH_NL_SMALL_];
	struct ioth_nl_req_ r;
	struct ifaddrmsg ifa;
	unsigned char len, scope = RT_SCOPE_UNIVERSE, flags = 0;
	size_t alen = ioth_nl_addrlen_(family);
	void *msg;
	int packed;
	if (alen == 0)
		return errno = EINVAL, -1;
	if (addr == NULL)
		return errno = EFAULT, -1;
	if ((packed = ioth_nl_prefix_(prefixlen, 0x70, &len, &scope, &flags)) < 0)
		return -1;
	memset(&ifa, 0, sizeof(ifa));
	ifa.ifa_family = (unsigned char) family;
	ifa.ifa_prefixlen = len;
	ifa.ifa_flags = flags;
	ifa.ifa_scope = scope;
	ifa.ifa_index = (unsigned int) ifindex;
	ioth_nl_begin_(&r, buf, sizeof(buf), type, NLM_F_REQUEST | NLM_F_ACK | xflags, &ifa,
			sizeof(ifa));
	ioth_nl_attr_(&r, IFA_LOCAL, addr, alen);
	ioth_nl_attr_(&r, IFA_ADDRESS, addr, alen);
	msg = ioth_nl_finish_(&r);
	return msg == NULL ? -1 : ioth_nldialog(mstack, msg);
}

/* Adds the address addr (4 or 16 bytes of family, network order) with prefixlen (or a value
 * packed by nl_addrdata2prefix) to interface ifindex. */
static inline int ioth_ipaddr_add(void *mstack, int family, void *addr, int prefixlen,
		int ifindex) {
	return ioth_nl_ipaddr_(mstack, RTM_NEWADDR, NLM_F_EXCL | NLM_F_CREATE, family, addr,
			prefixlen, ifindex);
}

/* Removes the address addr/prefixlen from interface ifindex. */
static inline int ioth_ipaddr_del(void *mstack, int family, void *addr, int prefixlen,
		int ifindex) {
	return ioth_nl_ipaddr_(mstack, RTM_DELADDR, 0, family, addr, prefixlen, ifindex);
}

static inline int ioth_nl_iproute_(void *mstack, unsigned short type, unsigned short xflags,
		int family, void *dst_addr, int dst_prefixlen, void *gw_addr, unsigned int ifindex) {
	unsigned char buf[IOTH_NL_SMALL_];
	struct ioth_nl_req_ r;
	struct rtmsg rt;
	unsigned char len, scope = RT_SCOPE_UNIVERSE, rtype = RTN_UNICAST;
	size_t alen = ioth_nl_addrlen_(family);
	void *msg;
	if (alen == 0)
		return errno = EINVAL, -1;
	if (ioth_nl_prefix_(dst_prefixlen, 0x60, &len, &scope, &rtype) < 0)
		return -1;
	if (len > 0 && dst_addr == NULL)
		return errno = EFAULT, -1;
	memset(&rt, 0, sizeof(rt));
	rt.rtm_family = (unsigned char) family;
	rt.rtm_dst_len = len;
	rt.rtm_table = RT_TABLE_MAIN;
	rt.rtm_protocol = RTPROT_BOOT;
	rt.rtm_scope = scope;
	rt.rtm_type = rtype;
	ioth_nl_begin_(&r, buf, sizeof(buf), type, NLM_F_REQUEST | NLM_F_ACK | xflags, &rt,
			sizeof(rt));
	if (ifindex != 0)
		ioth_nl_attr_(&r, RTA_OIF, &ifindex, sizeof(ifindex));
	if (len > 0)
		ioth_nl_attr_(&r, RTA_DST, dst_addr, alen);
	if (gw_addr != NULL)
		ioth_nl_attr_(&r, RTA_GATEWAY, gw_addr, alen);
	msg = ioth_nl_finish_(&r);
	return msg == NULL ? -1 : ioth_nldialog(mstack, msg);
}

/* Adds a route to dst_addr/dst_prefixlen (prefix 0: the default route, dst_addr unused; or
 * a value packed by nl_routedata2prefix) through gw_addr (NULL: none) and/or out of
 * interface ifindex (0: any). */
static inline int ioth_iproute_add(void *mstack, int family, void *dst_addr, int dst_prefixlen,
		void *gw_addr, unsigned int ifindex) {
	return ioth_nl_iproute_(mstack, RTM_NEWROUTE, NLM_F_EXCL | NLM_F_CREATE, family, dst_addr,
			dst_prefixlen, gw_addr, ifindex);
}

/* Removes a route (arguments as ioth_iproute_add). */
static inline int ioth_iproute_del(void *mstack, int family, void *dst_addr, int dst_prefixlen,
		void *gw_addr, unsigned int ifindex) {
	return ioth_nl_iproute_(mstack, RTM_DELROUTE, 0, family, dst_addr, dst_prefixlen, gw_addr,
			ifindex);
}

/* Creates an interface of kind `type` named ifname (NULL: the stack names it) with index
 * ifindex (0: the stack chooses; -1: the stack chooses and the index is returned) and the
 * nifd kind-specific attributes of ifd (for "vde": nl_iplink_strdata(IFLA_VDE_VNL, vnl)).
 * Returns 0 (the new index for -1), or -1 with errno. For -1 the request asks the stack to
 * echo the new link (NLM_F_ECHO) and reads its index from the echo; a stack that does not
 * echo is asked for ifname's index. */
static inline int ioth_iplink_add(void *mstack, const char *ifname, unsigned int ifindex,
		const char *type, struct nl_iplink_data *ifd, int nifd) {
	struct ioth_nl_req_ r;
	struct ifinfomsg ifi;
	size_t cap, info, data;
	unsigned char *buf;
	void *msg;
	int i, result, saved, wants_index = ifindex == (unsigned int) -1;
	if (type == NULL || nifd < 0)
		return errno = EINVAL, -1;
	if (nifd > 0 && ifd == NULL)
		return errno = EFAULT, -1;
	cap = IOTH_NL_SMALL_ + (ifname ? strlen(ifname) : 0) + strlen(type);
	for (i = 0; i < nifd; i++) {
		if (ifd[i].len < 0 || (ifd[i].len > 0 && ifd[i].data == NULL))
			return errno = EINVAL, -1;
		cap += (size_t) ifd[i].len + 8;
	}
	if ((buf = (unsigned char *) malloc(cap)) == NULL)
		return errno = ENOMEM, -1;
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = wants_index ? 0 : (int) ifindex;
	ioth_nl_begin_(&r, buf, cap, RTM_NEWLINK,
			NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE | (wants_index ? NLM_F_ECHO : 0),
			&ifi, sizeof(ifi));
	if (ifname != NULL)
		ioth_nl_attr_(&r, IFLA_IFNAME, ifname, strlen(ifname) + 1);
	info = ioth_nl_start_(&r, IFLA_LINKINFO);
	ioth_nl_attr_(&r, IFLA_INFO_KIND, type, strlen(type) + 1);
	if (nifd > 0) {
		data = ioth_nl_start_(&r, IFLA_INFO_DATA);
		for (i = 0; i < nifd; i++)
			ioth_nl_attr_(&r, (unsigned short) ifd[i].tag, ifd[i].data, (size_t) ifd[i].len);
		ioth_nl_end_(&r, data);
	}
	ioth_nl_end_(&r, info);
	msg = ioth_nl_finish_(&r);
	result = msg == NULL ? -1 : ioth_nldialog(mstack, msg);
	saved = errno;
	free(buf);
	errno = saved;
	if (result == 0 && wants_index && ifname != NULL)
		return ioth_if_nametoindex(mstack, ifname);
	if (result > 0 && !wants_index)
		return 0;
	return result;
}

/* Removes the interface ifindex (0: by name) and/or named ifname (NULL: by index). */
static inline int ioth_iplink_del(void *mstack, const char *ifname, unsigned int ifindex) {
	struct ifinfomsg ifi;
	if (ifname == NULL && ifindex == 0)
		return errno = EINVAL, -1;
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = (int) ifindex;
	return ioth_nl_link_dialog_(mstack, RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi,
			IFLA_IFNAME, ifname, ifname ? strlen(ifname) + 1 : 0);
}

/* getifaddrs(3) for a stack; release the list with ioth_freeifaddrs. */
int ioth_getifaddrs(struct ioth *stack, struct ifaddrs **ifap);
void ioth_freeifaddrs(struct ifaddrs *ifa);

/* ------------------------------------------------------------- plugin ABI */

/* A stack plugin is ioth_NAME-r.so (the reentrant name, under which plugins are installed;
 * ioth_NAME_n.so is a link to it, the implementation NAME_n) or ioth_NAME.so, searched in
 * $IOTH_PLUGIN_PATH (ioth-rs extension), $HOME/.ioth (./.ioth without HOME), LIBDIR/ioth;
 * ioth-rs opens every plugin once in the program's namespace (dlopen). It exports:
 *   void *ioth_NAME_newstack(const char *vnlv[], const char *options,
 *                            struct ioth_functions *f);       (required)
 *   int ioth_NAME_delstack(void *stackdata);
 *   ioth_NAME_socket, ioth_NAME_bind, ... one per entry of struct ioth_functions;
 *   const char *ioth_NAME_license;                            (SPDX)
 * newstack may fill any entry of *f; f->getstackdata() tells an entry which stack (the
 * value newstack returned) the current call is for. */
struct ioth_functions;
void *newstack_prototype(const char *vnlv[], const char *options,
		struct ioth_functions *ioth_f);
int delstack_prototype(void *stackdata);
void *getstackdata_prototype(void);

struct ioth_functions {
	void *(*getstackdata)(void);
	void *(*newstack)(const char *vnlv[], const char *options, struct ioth_functions *f);
	int (*delstack)(void *stackdata);
	int (*socket)(int domain, int type, int protocol);
	int (*close)(int fd);
	int (*bind)(int fd, const struct sockaddr *addr, socklen_t addrlen);
	int (*connect)(int fd, const struct sockaddr *addr, socklen_t addrlen);
	int (*listen)(int fd, int backlog);
	int (*accept)(int fd, struct sockaddr *addr, socklen_t *addrlen);
	int (*getsockname)(int fd, struct sockaddr *addr, socklen_t *addrlen);
	int (*getpeername)(int fd, struct sockaddr *addr, socklen_t *addrlen);
	int (*setsockopt)(int fd, int level, int optname, const void *optval, socklen_t optlen);
	int (*getsockopt)(int fd, int level, int optname, void *optval, socklen_t *optlen);
	int (*shutdown)(int fd, int how);
	int (*ioctl)(int fd, unsigned long request, ...);
	int (*fcntl)(int fd, int cmd, ...);
	ssize_t (*read)(int fd, void *buf, size_t len);
	ssize_t (*readv)(int fd, const struct iovec *iov, int iovcnt);
	ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
	ssize_t (*recvfrom)(int fd, void *buf, size_t len, int flags,
			struct sockaddr *from, socklen_t *fromlen);
	ssize_t (*recvmsg)(int fd, struct msghdr *msg, int flags);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	ssize_t (*writev)(int fd, const struct iovec *iov, int iovcnt);
	ssize_t (*send)(int fd, const void *buf, size_t len, int flags);
	ssize_t (*sendto)(int fd, const void *buf, size_t len, int flags,
			const struct sockaddr *to, socklen_t tolen);
	ssize_t (*sendmsg)(int fd, const struct msghdr *msg, int flags);
};

/* ------------------------------------------------------- MAC addresses */

/* Room for "xx:xx:xx:xx:xx:xx" and its NUL. */
#define MAC_ADDRSTRLEN 18

/* Writes the 6-byte MAC at src as text into dst (size bytes, at least MAC_ADDRSTRLEN);
 * returns dst. */
static inline const char *ioth_ntomac(const void *src, char *dst, size_t size) {
	const unsigned char *b = (const unsigned char *) src;
	snprintf(dst, size, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
	return dst;
}

/* Parses "xx:xx:xx:xx:xx:xx" or "xx-xx-xx-xx-xx-xx" (hex, any case) into the 6 bytes at
 * dst; returns 1, or 0 when src is not a MAC address (dst may then be partly written).
 * Stricter than libioth's (sscanf "%hhx"): each byte is one or two hex digits, one separator
 * throughout; refused here, accepted there: leading blanks (" aa:..."), blanks after a
 * separator ("aa: bb:..."), "0x" prefixes ("0x1:..."), longer groups ("aaa:...", whose
 * excess the original drops). What follows the sixth byte is ignored, as in libioth. */
static inline int ioth_macton(const char *src, void *dst) {
	unsigned char *b = (unsigned char *) dst;
	const char *p = src;
	int i, d, v;
	char sep = 0;
	for (i = 0; i < 6; i++) {
		v = 0;
		for (d = 0; d < 2; d++, p++) {
			if (*p >= '0' && *p <= '9') v = v * 16 + (*p - '0');
			else if (*p >= 'a' && *p <= 'f') v = v * 16 + (*p - 'a' + 10);
			else if (*p >= 'A' && *p <= 'F') v = v * 16 + (*p - 'A' + 10);
			else if (d == 1) break; /* one hex digit is enough */
			else return 0;
		}
		b[i] = (unsigned char) v;
		if (i == 5)
			break;
		if (sep == 0 && (*p == ':' || *p == '-'))
			sep = *p;
		if (*p != sep)
			return 0;
		p++;
	}
	return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* IOTH_RS_IOTH_H */
