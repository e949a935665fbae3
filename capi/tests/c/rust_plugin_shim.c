/* A libioth plugin "NAME" that hands every entry to our Rust kernel plugin (libioth_kernel.so,
 * path KERNEL_PLUGIN): it opens that object privately and forwards newstack, delstack and the
 * licence to its ioth_kernel_* symbols, so the Rust side of the plugin ABI (filling the
 * function table, getstackdata, its own descriptor table) is what serves the sockets, while
 * the name differs from the kernel built into libioth. The build replaces NAME. */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

struct ioth_functions;
typedef void *newstack_t(const char *vnlv[], const char *options, struct ioth_functions *f);
typedef int delstack_t(void *stackdata);

const char *ioth_NAME_license;
static newstack_t *rust_newstack;
static delstack_t *rust_delstack;

__attribute__((constructor)) static void open_rust_plugin(void) {
	void *h = dlopen(KERNEL_PLUGIN, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) return;
	rust_newstack = (newstack_t *) dlsym(h, "ioth_kernel_newstack");
	rust_delstack = (delstack_t *) dlsym(h, "ioth_kernel_delstack");
	const char **license = (const char **) dlsym(h, "ioth_kernel_license");
	if (license != NULL) ioth_NAME_license = *license;
}

void *ioth_NAME_newstack(const char *vnlv[], const char *options, struct ioth_functions *f) {
	if (rust_newstack == NULL) { errno = ENOENT; return NULL; }
	return rust_newstack(vnlv, options, f);
}

int ioth_NAME_delstack(void *stackdata) {
	if (rust_delstack == NULL) { errno = ENOENT; return -1; }
	return rust_delstack(stackdata);
}
