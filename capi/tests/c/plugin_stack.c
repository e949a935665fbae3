/* A stack implementation loaded as a plugin through the C API serves sockets: UDP to itself,
 * a TCP connection over loopback, then the stack is deleted.
 * usage: plugin_stack IMPLEMENTATION PROGRAM_LICENSE|- EXPECT [MAPPED_OBJECT]
 *   EXPECT: "serves", or an errno name the creation must fail with (EPERM, ENOTSUP, ENOENT);
 *   MAPPED_OBJECT: a file name that must be mapped in the process once the stack exists. */
#include <ioth.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "check.h"

static int mapped(const char *name) {
	char line[4096];
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL) return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, name)) found = 1;
	fclose(f);
	return found;
}

int main(int argc, char *argv[]) {
	if (argc < 4) return 2;
	if (strcmp(argv[2], "-") != 0)
		ioth_set_license(argv[2]);
	if (strcmp(argv[3], "serves") != 0) {
		int e = strcmp(argv[3], "EPERM") == 0 ? EPERM :
			strcmp(argv[3], "ENOTSUP") == 0 ? ENOTSUP :
			strcmp(argv[3], "ENOENT") == 0 ? ENOENT : -1;
		CHECK_NULL_ERRNO("newstack_refused", ioth_newstack(argv[1], NULL), e);
		DONE();
	}
	struct ioth *s = ioth_newstack(argv[1], NULL);
	CHECK("newstack_plugin", s != NULL);
	if (s == NULL) DONE();
	if (argc > 4)
		CHECK("plugin_object_mapped", mapped(argv[4]));

	/* UDP to itself */
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	int u = ioth_msocket(s, AF_INET, SOCK_DGRAM, 0);
	CHECK("udp_socket", u >= 0);
	CHECK("udp_bind", ioth_bind(u, (struct sockaddr *) &a, sizeof(a)) == 0);
	CHECK("udp_getsockname", ioth_getsockname(u, (struct sockaddr *) &a, &len) == 0 && a.sin_port != 0);
	CHECK("udp_sendto_self", ioth_sendto(u, "ciao\n", 5, 0, (struct sockaddr *) &a, sizeof(a)) == 5);
	char buf[64];
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	CHECK("udp_recvfrom_self", ioth_recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *) &from, &fromlen) == 5 &&
			memcmp(buf, "ciao\n", 5) == 0 && from.sin_port == a.sin_port);
	CHECK_ERRNO("delstack_busy", ioth_delstack(s), EBUSY);
	CHECK("udp_close", ioth_close(u) == 0);

	/* TCP over loopback, both ends on the plugin's stack */
	struct sockaddr_in l = {.sin_family = AF_INET};
	l.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	len = sizeof(l);
	int lfd = ioth_msocket(s, AF_INET, SOCK_STREAM, 0);
	CHECK("tcp_listen", lfd >= 0 && ioth_bind(lfd, (struct sockaddr *) &l, sizeof(l)) == 0 &&
			ioth_listen(lfd, 1) == 0 && ioth_getsockname(lfd, (struct sockaddr *) &l, &len) == 0);
	int c = ioth_msocket(s, AF_INET, SOCK_STREAM, 0);
	CHECK("tcp_connect", c >= 0 && ioth_connect(c, (struct sockaddr *) &l, sizeof(l)) == 0);
	int acc = ioth_accept(lfd, NULL, NULL);
	CHECK("tcp_accept", acc >= 0);
	CHECK("tcp_send", ioth_send(c, "hello", 5, 0) == 5);
	CHECK("tcp_recv", ioth_recv(acc, buf, 5, MSG_WAITALL) == 5 && memcmp(buf, "hello", 5) == 0);
	CHECK("tcp_close", ioth_close(acc) == 0 && ioth_close(c) == 0 && ioth_close(lfd) == 0);
	CHECK("delstack", ioth_delstack(s) == 0);
	DONE();
}
