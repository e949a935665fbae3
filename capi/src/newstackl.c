/* ioth_newstackl, the variadic constructor of libioth (ioth-rs): collects the VNL arguments
 * up to the terminating NULL and calls ioth_newstackv. C, since stable Rust cannot define a
 * variadic function; compiled by capi's build script into libioth.a (and so into
 * libioth.so.0).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

struct ioth;
struct ioth *ioth_newstackv(const char *stack, const char *vnlv[]);

struct ioth *ioth_newstackl(const char *stack, const char *vnl, ...) {
	const char *small[16];
	const char **vnlv = small;
	struct ioth *result;
	size_t count, i;
	va_list ap;
	if (vnl == NULL)
		return ioth_newstackv(stack, NULL);
	va_start(ap, vnl);
	for (count = 1; va_arg(ap, const char *) != NULL; count++)
		;
	va_end(ap);
	if (count + 1 > sizeof(small) / sizeof(small[0])) {
		vnlv = malloc((count + 1) * sizeof(*vnlv));
		if (vnlv == NULL) {
			errno = ENOMEM;
			return NULL;
		}
	}
	vnlv[0] = vnl;
	va_start(ap, vnl);
	for (i = 1; i < count; i++)
		vnlv[i] = va_arg(ap, const char *);
	va_end(ap);
	vnlv[count] = NULL;
	result = ioth_newstackv(stack, vnlv);
	if (vnlv != small) {
		int saved = errno;
		free(vnlv);
		errno = saved;
	}
	return result;
}
