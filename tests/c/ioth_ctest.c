/* A stack plugin written in C to libioth's plugin ABI, used by the tests to check that such
 * plugins load and serve sockets. It maps every call to the C library, i.e. the host kernel.
 * The build replaces "ctest" with the plugin's name and may define PLUGIN_LICENSE. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct ioth_functions {
	void *(*getstackdata)(void);
	void *(*newstack)(const char *vnlv[], const char *options, struct ioth_functions *f);
	int (*delstack)(void *stackdata);
	int (*socket)(int, int, int);
	int (*close)(int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*shutdown)(int, int);
	int (*ioctl)(int, unsigned long, ...);
	int (*fcntl)(int, int, ...);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
};

#ifdef PLUGIN_LICENSE
const char *ioth_ctest_license = PLUGIN_LICENSE;
#endif

static int stacks;
/* The loader's getstackdata is the same function for every stack: keep the function, not the
 * table (a table lives only as long as its stack). */
static void *(*getstackdata)(void);

/* socket() checks that the loader tells it which stack the call is for. */
static int ctest_socket(int domain, int type, int protocol) {
	if (getstackdata == NULL || getstackdata() != (void *) &stacks) {
		errno = EINVAL;
		return -1;
	}
	return socket(domain, type, protocol);
}

/* send and write go through sendto/sendmsg to exercise the loader's fallbacks less;
 * every entry is filled the way libioth's kernel plugin fills them. */
void *ioth_ctest_newstack(const char *vnlv[], const char *options, struct ioth_functions *f) {
	if (vnlv != NULL && vnlv[0] != NULL) {
		errno = EINVAL;
		return NULL;
	}
	(void) options;
	getstackdata = f->getstackdata;
	stacks++;
	f->socket = ctest_socket;
	f->close = close;
	f->bind = bind;
	f->connect = connect;
	f->listen = listen;
	f->accept = accept;
	f->getsockname = getsockname;
	f->getpeername = getpeername;
	f->setsockopt = setsockopt;
	f->getsockopt = getsockopt;
	f->shutdown = shutdown;
	f->ioctl = (int (*)(int, unsigned long, ...)) ioctl;
	f->fcntl = fcntl;
	f->read = read;
	f->readv = readv;
	f->recv = recv;
	f->recvfrom = recvfrom;
	f->recvmsg = recvmsg;
	f->write = write;
	f->writev = writev;
	f->send = send;
	f->sendto = sendto;
	f->sendmsg = sendmsg;
	return &stacks;
}

int ioth_ctest_delstack(void *stackdata) {
	if (stackdata != &stacks) {
		errno = EINVAL;
		return -1;
	}
	stacks--;
	return 0;
}
