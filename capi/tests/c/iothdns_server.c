/* A small DNS server in the shape of the original's test/test_server.c, on the kernel stack
 * at 127.0.0.1 (ports picked by the kernel, printed as "ports UDP TCP"). Answers:
 *   test.fake  A 10.20.30.40 (and for ANY)
 *   big.fake   TXT, 20 strings of 200 bytes (over 4 KB: UDP cuts it)
 *   none.fake  no answer (the callback returns NULL)
 *   bad.fake   a reply whose composition failed (never sent)
 *   quit.fake  NOERROR, then the server stops
 *   anything else NXDOMAIN
 * Serves UDP and TCP (one query per connection, as the original example) until quit.fake,
 * then prints "calls N". */
#include <stdio.h>
#include <stdint.h>
#include <unistd.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <iothdns.h>

static int calls, quit;

struct iothdns_pkt *parse_pkt(struct iothdns_header *h, void *arg) {
	int *counter = arg;
	struct iothdns_pkt *pkt;
	(*counter)++;
	if (strcmp(h->qname, "test.fake") == 0) {
		struct iothdns_rr rr = {h->qname, 1, 1, 600, 0};
		uint8_t addr[] = {10, 20, 30, 40};
		h->flags = 0x8500;
		pkt = iothdns_put_header(h);
		if (h->qtype == IOTHDNS_TYPE_A || h->qtype == IOTHDNS_TYPE_ANY) {
			iothdns_put_rr(IOTHDNS_TYPE_A, pkt, &rr);
			iothdns_put_a(pkt, addr);
		}
	} else if (strcmp(h->qname, "big.fake") == 0) {
		struct iothdns_rr rr = {h->qname, IOTHDNS_TYPE_TXT, 1, 600, 0};
		char s[201];
		h->flags = 0x8500;
		pkt = iothdns_put_header(h);
		for (int i = 0; i < 20; i++) {
			memset(s, 'a' + i, 200);
			s[200] = 0;
			iothdns_put_rr(IOTHDNS_SEC_ANSWER, pkt, &rr);
			iothdns_put_string(pkt, s);
		}
	} else if (strcmp(h->qname, "none.fake") == 0) {
		pkt = NULL;
	} else if (strcmp(h->qname, "bad.fake") == 0) {
		struct iothdns_rr rr = {h->qname, 1, 1, 600, 0};
		h->flags = 0x8500;
		pkt = iothdns_put_header(h);
		iothdns_put_rr(IOTHDNS_SEC_ADDITIONAL, pkt, &rr);
		iothdns_put_rr(IOTHDNS_SEC_ANSWER, pkt, &rr);
	} else if (strcmp(h->qname, "quit.fake") == 0) {
		h->flags = 0x8500;
		pkt = iothdns_put_header(h);
		quit = 1;
	} else {
		h->flags = 0x8503;
		pkt = iothdns_put_header(h);
	}
	return pkt;
}

int main(void) {
	struct sockaddr_in sserv = {.sin_family = AF_INET, .sin_port = 0};
	sserv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = ioth_msocket(NULL, AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || ioth_bind(s, (struct sockaddr *)&sserv, sizeof(sserv)) < 0) return perror("udp"), 1;
	socklen_t len = sizeof(sserv);
	ioth_getsockname(s, (struct sockaddr *)&sserv, &len);
	struct sockaddr_in tserv = {.sin_family = AF_INET, .sin_port = 0};
	tserv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int t = ioth_msocket(NULL, AF_INET, SOCK_STREAM, 0);
	if (t < 0 || ioth_bind(t, (struct sockaddr *)&tserv, sizeof(tserv)) < 0) return perror("tcp"), 1;
	len = sizeof(tserv);
	ioth_getsockname(t, (struct sockaddr *)&tserv, &len);
	ioth_listen(t, 5);
	printf("ports %u %u\n", ntohs(sserv.sin_port), ntohs(tserv.sin_port));
	fflush(stdout);

	struct pollfd pfd[] = {{s, POLLIN, 0}, {t, POLLIN, 0}};
	while (!quit) {
		poll(pfd, 2, -1);
		if (pfd[0].revents) {
			int n = iothdns_udp_process_request(s, parse_pkt, &calls);
			printf("udp %d\n", n);
		}
		if (pfd[1].revents) {
			int conn = ioth_accept(t, NULL, 0);
			int n = iothdns_tcp_process_request(conn, parse_pkt, &calls);
			printf("tcp %d %d\n", n, n < 0 ? errno : 0);
			ioth_close(conn);
		}
		fflush(stdout);
	}
	printf("calls %d\n", calls);
	ioth_close(s);
	ioth_close(t);
	return 0;
}
