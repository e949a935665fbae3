/* A TCP echo server on an ioth stack that waits with poll() on its ioth descriptors together
 * with stdin. It prints "port N" once listening. Connections are echoed; on stdin, "stats"
 * prints "stats connections C bytes B", "quit" (or end of input) ends the program.
 * usage: tcp_echo_server [STACK]   (default: the kernel) */
#include <ioth.h>
#include <poll.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define MAXFD 16

int main(int argc, char *argv[]) {
	struct ioth *s = ioth_newstack(argc > 1 ? argv[1] : NULL, NULL);
	if (s == NULL) { perror("ioth_newstack"); return 1; }
	int lfd = ioth_msocket(s, AF_INET, SOCK_STREAM, 0);
	if (lfd < 0) { perror("ioth_msocket"); return 1; }
	int one = 1;
	ioth_setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sin);
	if (ioth_bind(lfd, (struct sockaddr *) &sin, sizeof(sin)) < 0 || ioth_listen(lfd, 5) < 0 ||
			ioth_getsockname(lfd, (struct sockaddr *) &sin, &len) < 0) {
		perror("bind/listen");
		return 1;
	}
	printf("port %d\n", ntohs(sin.sin_port));
	fflush(stdout);

	struct pollfd pfd[MAXFD] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = lfd, .events = POLLIN}};
	int nfds = 2;
	long connections = 0, bytes = 0;
	char line[128];
	size_t linelen = 0;
	for (;;) {
		if (poll(pfd, nfds, -1) < 0) { perror("poll"); return 1; }
		if (pfd[0].revents) {
			ssize_t n = read(STDIN_FILENO, line + linelen, sizeof(line) - 1 - linelen);
			if (n <= 0) break;
			linelen += n;
			line[linelen] = 0;
			char *nl;
			while ((nl = strchr(line, '\n')) != NULL) {
				*nl = 0;
				if (strcmp(line, "quit") == 0) goto out;
				if (strcmp(line, "stats") == 0) {
					printf("stats connections %ld bytes %ld\n", connections, bytes);
					fflush(stdout);
				}
				linelen -= nl + 1 - line;
				memmove(line, nl + 1, linelen + 1);
			}
		}
		if (pfd[1].revents & POLLIN) {
			struct sockaddr_in peer;
			socklen_t plen = sizeof(peer);
			int cfd = ioth_accept(lfd, (struct sockaddr *) &peer, &plen);
			if (cfd < 0) { perror("ioth_accept"); return 1; }
			if (plen != sizeof(peer) || peer.sin_family != AF_INET) { fprintf(stderr, "bad peer\n"); return 1; }
			connections++;
			if (nfds < MAXFD) {
				pfd[nfds].fd = cfd;
				pfd[nfds].events = POLLIN;
				pfd[nfds].revents = 0;
				nfds++;
			} else
				ioth_close(cfd);
		}
		for (int i = 2; i < nfds; i++) {
			if (pfd[i].revents == 0) continue;
			char buf[512];
			ssize_t n = ioth_recv(pfd[i].fd, buf, sizeof(buf), 0);
			if (n > 0) {
				bytes += n;
				if (ioth_send(pfd[i].fd, buf, n, 0) != n) { perror("ioth_send"); return 1; }
			} else {
				ioth_close(pfd[i].fd);
				pfd[i] = pfd[--nfds];
				i--;
			}
		}
	}
out:
	for (int i = 2; i < nfds; i++)
		ioth_close(pfd[i].fd);
	ioth_close(lfd);
	if (ioth_delstack(s) < 0) { perror("ioth_delstack"); return 1; }
	printf("bye\n");
	return 0;
}
