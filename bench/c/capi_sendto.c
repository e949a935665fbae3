/* capi_sendto: 64-byte datagrams through libioth's C API (ioth_sendto) between two smoltcp
 * stacks on one in-process hub, the C twin of the Rust measurement in ioth-bench's udp
 * module. Usage: capi_sendto SECONDS VNL. Prints "sendto_pps X" and "recv_pps Y".
 * Built and run by ioth-bench (row capi_sendto) against ioth.h and libioth.so. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "ioth.h"

static volatile int stop;
static unsigned long received;

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *receiver(void *arg) {
	int fd = *(int *) arg;
	char buf[2048];
	struct timeval tv = {0, 50000};
	if (ioth_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
		perror("SO_RCVTIMEO");
	while (!stop) {
		if (ioth_recv(fd, buf, sizeof buf, 0) > 0)
			__atomic_add_fetch(&received, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int configure(struct ioth *s, const char *ip) {
	struct in_addr a;
	int idx = ioth_if_nametoindex(s, "vde0");
	if (idx < 0 || ioth_linksetupdown(s, idx, 1) < 0 || inet_pton(AF_INET, ip, &a) != 1 ||
			ioth_ipaddr_add(s, AF_INET, &a, 24, idx) < 0)
		return -1;
	return 0;
}

static int udp_bound(struct ioth *s, const char *ip, int port) {
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = ioth_msocket(s, AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	inet_pton(AF_INET, ip, &sin.sin_addr);
	if (ioth_bind(fd, (struct sockaddr *) &sin, sizeof sin) < 0)
		return -1;
	return fd;
}

int main(int argc, char *argv[]) {
	double secs, warm, t0, tw = 0, el;
	unsigned long sent = 0, sent_w = 0, recv_w = 0;
	struct ioth *a, *b;
	int fa, fb, i;
	pthread_t th;
	char msg[64];
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
	if (argc != 3) {
		fprintf(stderr, "usage: %s SECONDS VNL\n", argv[0]);
		return 2;
	}
	secs = atof(argv[1]);
	warm = secs * 0.15 > 0.05 ? secs * 0.15 : 0.05;
	a = ioth_newstack("smoltcp", argv[2]);
	b = ioth_newstack("smoltcp", argv[2]);
	if (a == NULL || b == NULL) {
		perror("ioth_newstack(\"smoltcp\")");
		return 1;
	}
	if (configure(a, "10.9.0.1") < 0 || configure(b, "10.9.0.2") < 0) {
		perror("configure");
		return 1;
	}
	fa = udp_bound(a, "10.9.0.1", 9);
	fb = udp_bound(b, "10.9.0.2", 0);
	if (fa < 0 || fb < 0) {
		perror("socket");
		return 1;
	}
	inet_pton(AF_INET, "10.9.0.1", &to.sin_addr);
	memset(msg, 0x42, sizeof msg);
	if (pthread_create(&th, NULL, receiver, &fa) != 0) {
		perror("pthread_create");
		return 1;
	}
	t0 = now();
	for (;;) {
		for (i = 0; i < 32; i++) {
			if (ioth_sendto(fb, msg, sizeof msg, 0, (struct sockaddr *) &to, sizeof to) < 0 &&
					errno != ENOBUFS) {
				perror("ioth_sendto");
				return 1;
			}
			sent++;
		}
		if (tw == 0) {
			if (now() - t0 >= warm) {
				tw = now();
				sent_w = sent;
				recv_w = __atomic_load_n(&received, __ATOMIC_RELAXED);
			}
		} else if ((el = now() - tw) >= secs) {
			printf("sendto_pps %f\n", (sent - sent_w) / el);
			printf("recv_pps %f\n",
					(__atomic_load_n(&received, __ATOMIC_RELAXED) - recv_w) / el);
			break;
		}
	}
	stop = 1;
	pthread_join(th, NULL);
	ioth_close(fa);
	ioth_close(fb);
	ioth_delstack(a);
	ioth_delstack(b);
	fflush(stdout);
	return 0;
}
