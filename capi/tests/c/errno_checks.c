/* libioth's error contract through the C API: EBADF, EBUSY, ENOTSUP, EINVAL, EFAULT, ENODEV,
 * ENONET, and the default-stack pointers (process and per-thread).
 * usage: errno_checks MISSING_IMPLEMENTATION_NAME */
#include <ioth.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include "check.h"

static struct ioth *seen_in_thread = (struct ioth *) 1;

static void *other_thread(void *arg) {
	(void) arg;
	seen_in_thread = ioth_get_thread_defstack();
	return NULL;
}

int main(int argc, char *argv[]) {
	char buf[16];
	int n = 0;
	int local = 0;
	struct ifaddrs *ifa = NULL;
	struct ioth *bogus = (struct ioth *) &local;
	struct sockaddr_in sin;
	socklen_t len;
	if (argc != 2) return 2;

	/* EBADF: descriptors that are not ioth sockets */
	CHECK_ERRNO("close_unknown_fd_ebadf", ioth_close(9999), EBADF);
	CHECK_ERRNO("close_stdin_ebadf", ioth_close(0), EBADF);
	CHECK_ERRNO("read_unknown_fd_ebadf", ioth_read(9999, buf, sizeof(buf)), EBADF);
	CHECK_ERRNO("sendto_unknown_fd_ebadf", ioth_sendto(9999, "x", 1, 0, NULL, 0), EBADF);
	CHECK_ERRNO("ioctl_unknown_fd_ebadf", ioth_ioctl(9999, FIONREAD, &n), EBADF);
	CHECK_ERRNO("fcntl_unknown_fd_ebadf", ioth_fcntl(9999, F_GETFL, 0), EBADF);
	CHECK_ERRNO("negative_fd_ebadf", ioth_listen(-1, 5), EBADF);

	/* EBUSY: deleting a stack with an open socket; nothing is freed */
	struct ioth *s = ioth_newstack("kernel", NULL);
	CHECK("newstack_kernel", s != NULL);
	int fd = ioth_msocket(s, AF_INET, SOCK_DGRAM, 0);
	CHECK("msocket", fd >= 0);
	CHECK_ERRNO("delstack_in_use_ebusy", ioth_delstack(s), EBUSY);
	CHECK("socket_still_works_after_ebusy", ioth_fcntl(fd, F_GETFL, 0) >= 0);

	/* EFAULT / EINVAL at the boundary */
	memset(&sin, 0, sizeof(sin));
	CHECK_ERRNO("bind_null_efault", ioth_bind(fd, NULL, sizeof(sin)), EFAULT);
	CHECK_ERRNO("bind_huge_len_einval", ioth_bind(fd, (struct sockaddr *) &sin, 100000), EINVAL);
	CHECK_ERRNO("read_null_buffer_efault", ioth_read(fd, NULL, 10), EFAULT);
	CHECK_ERRNO("send_null_buffer_efault", ioth_send(fd, NULL, 10, 0), EFAULT);
	CHECK_ERRNO("getsockname_null_len_efault",
			ioth_getsockname(fd, (struct sockaddr *) &sin, NULL), EFAULT);
	CHECK_ERRNO("recvmsg_null_msg_efault", ioth_recvmsg(fd, NULL, 0), EFAULT);
	CHECK_ERRNO("getsockopt_null_len_efault", ioth_getsockopt(fd, SOL_SOCKET, SO_TYPE, &n, NULL), EFAULT);
	CHECK_ERRNO("ioctl_fionread_null_efault", ioth_ioctl(fd, FIONREAD, NULL), EFAULT);
	CHECK_ERRNO("getifaddrs_null_efault", ioth_getifaddrs(NULL, NULL), EFAULT);
	CHECK_ERRNO("if_nametoindex_null_efault", ioth_if_nametoindex(NULL, NULL), EFAULT);
	CHECK_ERRNO("linkgetaddr_null_efault", ioth_linkgetaddr(NULL, 1, NULL), EFAULT);
	CHECK_ERRNO("ipaddr_bad_family_einval", ioth_ipaddr_add(s, AF_UNIX, &sin, 24, 1), EINVAL);
	CHECK_ERRNO("delstack_null_einval", ioth_delstack(NULL), EINVAL);
	CHECK_ERRNO("delstack_bogus_einval", ioth_delstack(bogus), EINVAL);
	CHECK_ERRNO("msocket_bogus_einval", ioth_msocket(bogus, AF_INET, SOCK_DGRAM, 0), EINVAL);
	CHECK_ERRNO("getifaddrs_bogus_einval", ioth_getifaddrs(bogus, &ifa), EINVAL);
	CHECK_NULL_ERRNO("kernel_takes_no_vnl_einval", ioth_newstack("kernel", "vde:///nonexistent"), EINVAL);
	CHECK_NULL_ERRNO("newstackl_passes_every_vnl", ioth_newstackl("kernel", "vde:///a", "vde:///b", (char *) NULL), EINVAL);

	/* the socket works: getsockname after bind */
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	len = sizeof(sin);
	CHECK("bind_loopback", ioth_bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
	CHECK("getsockname", ioth_getsockname(fd, (struct sockaddr *) &sin, &len) == 0 &&
			len == sizeof(sin) && ntohs(sin.sin_port) != 0);

	CHECK("close", ioth_close(fd) == 0);
	CHECK_ERRNO("close_twice_ebadf", ioth_close(fd), EBADF);
	CHECK("delstack_after_close", ioth_delstack(s) == 0);
	CHECK_ERRNO("msocket_on_deleted_handle_einval", ioth_msocket(s, AF_INET, SOCK_DGRAM, 0), EINVAL);

	/* ENOTSUP: no such implementation, neither linked nor a plugin */
	CHECK_NULL_ERRNO("missing_plugin_enotsup", ioth_newstack(argv[1], NULL), ENOTSUP);
	CHECK_NULL_ERRNO("bad_implementation_name_einval", ioth_newstack("../etc", NULL), EINVAL);

	/* ENODEV: no such interface (on the kernel: read-only lookups) */
	CHECK_ERRNO("if_nametoindex_missing_enodev", ioth_if_nametoindex(NULL, "nosuchif0"), ENODEV);
	CHECK("if_nametoindex_lo", ioth_if_nametoindex(NULL, "lo") > 0);

	/* process default stack: the same pointer back; NULL is the kernel */
	CHECK("defstack_initially_null", ioth_get_defstack() == NULL);
	struct ioth *d = ioth_newstack(NULL, NULL);
	CHECK("newstack_null_is_kernel", d != NULL);
	ioth_set_defstack(d);
	CHECK("get_defstack_same_pointer", ioth_get_defstack() == d);
	fd = ioth_socket(AF_INET, SOCK_STREAM, 0);
	CHECK("socket_on_default", fd >= 0);
	CHECK_ERRNO("delstack_default_in_use_ebusy", ioth_delstack(d), EBUSY);
	CHECK("close_default_socket", ioth_close(fd) == 0);
	errno = 0;
	ioth_set_defstack(bogus);
	CHECK("set_defstack_bogus_einval", errno == EINVAL && ioth_get_defstack() == d);
	CHECK("delstack_default_when_idle", ioth_delstack(d) == 0);
	CHECK_ERRNO("socket_on_deleted_default_enonet", ioth_socket(AF_INET, SOCK_DGRAM, 0), ENONET);
	ioth_set_defstack(NULL);
	CHECK("defstack_reset_null", ioth_get_defstack() == NULL);
	fd = ioth_socket(AF_INET, SOCK_DGRAM, 0);
	CHECK("socket_on_kernel_default", fd >= 0 && ioth_close(fd) == 0);

	/* ioth-rs extension: per-thread default stack */
	struct ioth *t = ioth_newstack("kernel", NULL);
	CHECK("thread_defstack_initially_null", ioth_get_thread_defstack() == NULL);
	CHECK("set_thread_defstack", ioth_set_thread_defstack(t) == 0);
	CHECK("get_thread_defstack_same_pointer", ioth_get_thread_defstack() == t);
	CHECK("thread_default_leaves_process_default", ioth_get_defstack() == NULL);
	pthread_t th;
	pthread_create(&th, NULL, other_thread, NULL);
	pthread_join(th, NULL);
	CHECK("other_thread_has_no_thread_default", seen_in_thread == NULL);
	fd = ioth_socket(AF_INET, SOCK_DGRAM, 0);
	CHECK("socket_on_thread_default", fd >= 0);
	CHECK_ERRNO("thread_default_counts_sockets_ebusy", ioth_delstack(t), EBUSY);
	CHECK("close_thread_default_socket", ioth_close(fd) == 0);
	CHECK_ERRNO("set_thread_defstack_bogus_einval", ioth_set_thread_defstack(bogus), EINVAL);
	CHECK("set_thread_defstack_null", ioth_set_thread_defstack(NULL) == 0 && ioth_get_thread_defstack() == NULL);
	CHECK("delstack_thread", ioth_delstack(t) == 0);

	/* the header's MAC helpers */
	unsigned char mac[6];
	char text[MAC_ADDRSTRLEN];
	CHECK("macton_colons", ioth_macton("0a:1B:2c:3d:4e:5f", mac) &&
			strcmp(ioth_ntomac(mac, text, sizeof(text)), "0a:1b:2c:3d:4e:5f") == 0);
	CHECK("macton_dashes", ioth_macton("02-00-00-00-00-0a", mac) && mac[0] == 2 && mac[5] == 10);
	CHECK("macton_short_fields", ioth_macton("2:0:0:0:0:a", mac) && mac[0] == 2 && mac[5] == 10);
	CHECK("macton_mixed_separators_refused", !ioth_macton("02:00-00:00:00:0a", mac));
	CHECK("macton_garbage_refused", !ioth_macton("zz:00:00:00:00:00", mac));
	CHECK("macton_too_short_refused", !ioth_macton("02:00:00", mac));
	DONE();
}
