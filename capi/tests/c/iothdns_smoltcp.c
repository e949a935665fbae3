/* A program written for libiothdns, on a user-space stack: a smoltcp node on the VDE network
 * given as argv[1] asks the server at 10.57.0.2 for argv[2] with iothdns_lookup_a and
 * iothdns_getaddrinfo, over its own stack, and prints what it found. */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <ioth.h>
#include <iothconf.h>
#include <iothdns.h>

int main(int argc, char *argv[])
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s VNL NAME\n", argv[0]);
		return 2;
	}
	char conf[512];
	snprintf(conf, sizeof conf, "stack=smoltcp,vnl=%s,eth,ip=10.57.0.1/24", argv[1]);
	struct ioth *stack = ioth_newstackc(conf);
	if (stack == NULL) { perror("ioth_newstackc"); return 1; }
	struct iothdns *dns = iothdns_init_strcfg(stack, "nameserver 10.57.0.2\n");
	if (dns == NULL) { perror("iothdns_init_strcfg"); return 1; }

	struct in_addr a[4];
	int n = iothdns_lookup_a(dns, argv[2], a, 4);
	if (n <= 0) { fprintf(stderr, "iothdns_lookup_a: %d\n", n); return 1; }
	char text[INET6_ADDRSTRLEN];
	printf("lookup_a %d %s\n", n, inet_ntop(AF_INET, &a[0], text, sizeof text));

	struct addrinfo hints, *res, *p;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	int rc = iothdns_getaddrinfo(dns, argv[2], "80", &hints, &res);
	if (rc != 0) { fprintf(stderr, "iothdns_getaddrinfo: %s\n", iothdns_gai_strerror(rc)); return 1; }
	for (p = res; p != NULL; p = p->ai_next) {
		void *addr = p->ai_family == AF_INET
			? (void *) &((struct sockaddr_in *) p->ai_addr)->sin_addr
			: (void *) &((struct sockaddr_in6 *) p->ai_addr)->sin6_addr;
		printf("getaddrinfo %s\n", inet_ntop(p->ai_family, addr, text, sizeof text));
	}
	iothdns_freeaddrinfo(res);
	iothdns_fini(dns);
	ioth_delstack(stack);
	return 0;
}
