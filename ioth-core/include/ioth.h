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

/* Each helper sends rtnetlink requests on a netlink socket of `mstack` (a struct ioth *;
 * NULL: the default stack), so the same call configures the kernel and user-space stacks.
 * They return 0 (ioth_if_nametoindex: the index), or -1 with the request's errno. */
int ioth_if_nametoindex(void *mstack, const char *ifname);
int ioth_linksetupdown(void *mstack, unsigned int ifindex, int updown);
/* macaddr: 6 bytes. */
int ioth_linksetaddr(void *mstack, unsigned int ifindex, void *macaddr);
int ioth_linkgetaddr(void *mstack, unsigned int ifindex, void *macaddr);
int ioth_linksetmtu(void *mstack, unsigned int ifindex, unsigned int mtu);
/* addr: 4 (AF_INET) or 16 (AF_INET6) bytes in network order. */
int ioth_ipaddr_add(void *mstack, int family, void *addr, int prefixlen, int ifindex);
int ioth_ipaddr_del(void *mstack, int family, void *addr, int prefixlen, int ifindex);
/* dst_prefixlen 0: the default route; gw_addr NULL: no gateway; ifindex 0: any. */
int ioth_iproute_add(void *mstack, int family, void *dst_addr, int dst_prefixlen,
		void *gw_addr, unsigned int ifindex);
int ioth_iproute_del(void *mstack, int family, void *dst_addr, int dst_prefixlen,
		void *gw_addr, unsigned int ifindex);
/* ifindex -1 asks the stack to choose and returns the new index; ifname NULL: the stack
 * names it. */
int ioth_iplink_add(void *mstack, const char *ifname, unsigned int ifindex,
		const char *type, struct nl_iplink_data *ifd, int nifd);
int ioth_iplink_del(void *mstack, const char *ifname, unsigned int ifindex);
/* Sends the rtnetlink message msg (nlmsg_len bytes) and reads one reply: the ack's value,
 * the index of an RTM_NEWLINK reply, or -1 with the error. */
int ioth_nldialog(void *mstack, void *msg);

/* getifaddrs(3) for a stack; release the list with ioth_freeifaddrs. */
int ioth_getifaddrs(struct ioth *stack, struct ifaddrs **ifap);
void ioth_freeifaddrs(struct ifaddrs *ifa);

/* ------------------------------------------------------------- plugin ABI */

/* A stack plugin is ioth_NAME.so (or ioth_NAME-r.so) in $IOTH_PLUGIN_PATH (ioth-rs
 * extension), $HOME/.ioth or LIBDIR/ioth, exporting:
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
 * dst; returns 1, or 0 when src is not a MAC address (dst may then be partly written). */
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
