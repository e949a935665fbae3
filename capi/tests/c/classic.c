/* The classic libioth program: a user-space stack on a VDE network sends "ciao\n" to
 * 10.0.0.2:5000 by UDP. It needs nothing but <ioth.h> and libioth.
 * usage: classic [VNL [reply]]   (default vde:///tmp/hub; "reply": wait for an answer and
 * print it before closing) */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <poll.h>
#include <arpa/inet.h>
#include <ioth.h>

int main(int argc, char *argv[]) {
	const char *vnl = argc > 1 ? argv[1] : "vde:///tmp/hub";
	struct ioth *stack = ioth_newstack("smoltcp", vnl);
	if (stack == NULL) { perror("ioth_newstack"); return 1; }
	int ifindex = ioth_if_nametoindex(stack, "vde0");
	if (ifindex < 0) { perror("ioth_if_nametoindex"); return 1; }
	uint8_t ipv4addr[] = {10, 0, 0, 1};
	if (ioth_ipaddr_add(stack, AF_INET, ipv4addr, 24, ifindex) < 0) { perror("ioth_ipaddr_add"); return 1; }
	if (ioth_linksetupdown(stack, ifindex, 1) < 0) { perror("ioth_linksetupdown"); return 1; }
	int fd = ioth_msocket(stack, AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) { perror("ioth_msocket"); return 1; }
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(5000)};
	dst.sin_addr.s_addr = inet_addr("10.0.0.2");
	if (ioth_sendto(fd, "ciao\n", 5, 0, (struct sockaddr *) &dst, sizeof(dst)) != 5) { perror("ioth_sendto"); return 1; }
	if (argc > 2 && strcmp(argv[2], "reply") == 0) {
		char buf[64];
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 10000) != 1) { fprintf(stderr, "no reply\n"); return 1; }
		ssize_t n = ioth_recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0) { perror("ioth_recv"); return 1; }
		buf[n] = 0;
		printf("reply: %s\n", buf);
	}
	if (ioth_close(fd) < 0) { perror("ioth_close"); return 1; }
	if (ioth_delstack(stack) < 0) { perror("ioth_delstack"); return 1; }
	printf("sent\n");
	return 0;
}
