/* UDP through the C API on the kernel stack, against a peer that echoes each datagram in
 * upper case: sendto/recvfrom, connect + writev/readv, sendmsg/recvmsg, poll on the ioth fd,
 * FIONREAD, O_NONBLOCK (EAGAIN), getsockopt.
 * usage: udp_roundtrip PEER_PORT */
#include <ioth.h>
#include <stdlib.h>
#include <poll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "check.h"

static int wait_readable(int fd) {
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 10000) == 1 && (p.revents & POLLIN);
}

int main(int argc, char *argv[]) {
	if (argc != 2) return 2;
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct sockaddr_in me = {.sin_family = AF_INET};
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	char buf[64];
	int n;

	struct ioth *s = ioth_newstack("kernel", NULL);
	CHECK("newstack", s != NULL);
	int fd = ioth_msocket(s, AF_INET, SOCK_DGRAM, 0);
	CHECK("msocket", fd >= 0);
	CHECK("bind", ioth_bind(fd, (struct sockaddr *) &me, sizeof(me)) == 0);
	socklen_t len = sizeof(me);
	CHECK("getsockname", ioth_getsockname(fd, (struct sockaddr *) &me, &len) == 0);
	printf("bound %d\n", ntohs(me.sin_port));
	int type = 0;
	len = sizeof(type);
	CHECK("getsockopt_type", ioth_getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
			type == SOCK_DGRAM && len == sizeof(type));

	/* nonblocking: nothing there yet */
	int fl = ioth_fcntl(fd, F_GETFL, 0);
	CHECK("set_nonblock", fl >= 0 && ioth_fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
	CHECK_ERRNO("recv_empty_eagain", ioth_recv(fd, buf, sizeof(buf), 0), EAGAIN);
	CHECK("clear_nonblock", ioth_fcntl(fd, F_SETFL, fl) == 0);

	/* 1: sendto / recvfrom */
	CHECK("sendto", ioth_sendto(fd, "ciao\n", 5, 0, (struct sockaddr *) &peer, sizeof(peer)) == 5);
	CHECK("poll_readable_1", wait_readable(fd));
	n = 0;
	CHECK("fionread", ioth_ioctl(fd, FIONREAD, &n) == 0 && n == 5);
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	ssize_t r = ioth_recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *) &from, &fromlen);
	CHECK("recvfrom", r == 5 && memcmp(buf, "CIAO\n", 5) == 0);
	CHECK("recvfrom_sender", fromlen == sizeof(from) && from.sin_port == peer.sin_port);

	/* 2: connect, writev, readv */
	CHECK("connect", ioth_connect(fd, (struct sockaddr *) &peer, sizeof(peer)) == 0);
	struct iovec out[2] = {{"hel", 3}, {"lo", 2}};
	CHECK("writev", ioth_writev(fd, out, 2) == 5);
	CHECK("poll_readable_2", wait_readable(fd));
	char a[2], b[8];
	struct iovec in[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
	r = ioth_readv(fd, in, 2);
	CHECK("readv", r == 5 && memcmp(a, "HE", 2) == 0 && memcmp(b, "LLO", 3) == 0);
	struct sockaddr_in got;
	len = sizeof(got);
	CHECK("getpeername", ioth_getpeername(fd, (struct sockaddr *) &got, &len) == 0 &&
			got.sin_port == peer.sin_port);

	/* 3: sendmsg / recvmsg */
	struct iovec mv = {"msg", 3};
	struct msghdr m = {.msg_iov = &mv, .msg_iovlen = 1};
	CHECK("sendmsg", ioth_sendmsg(fd, &m, 0) == 3);
	CHECK("poll_readable_3", wait_readable(fd));
	struct iovec rv = {buf, sizeof(buf)};
	struct msghdr rm = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &rv, .msg_iovlen = 1};
	r = ioth_recvmsg(fd, &rm, 0);
	CHECK("recvmsg", r == 3 && memcmp(buf, "MSG", 3) == 0 && rm.msg_namelen == sizeof(from) &&
			from.sin_port == peer.sin_port);

	/* 4: write / read */
	CHECK("write", ioth_write(fd, "bye", 3) == 3);
	CHECK("poll_readable_4", wait_readable(fd));
	r = ioth_read(fd, buf, sizeof(buf));
	CHECK("read", r == 3 && memcmp(buf, "BYE", 3) == 0);

	CHECK("shutdown_rdwr", ioth_shutdown(fd, SHUT_RDWR) == 0 || errno == ENOTCONN);
	CHECK("close", ioth_close(fd) == 0);
	CHECK("delstack", ioth_delstack(s) == 0);
	DONE();
}
