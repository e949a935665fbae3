/* Tiny check helpers for the C tests: each CHECK prints "ok NAME" or "FAIL NAME ..." and the
 * program's exit status is the number of failures (0: all passed). */
#ifndef CHECK_H
#define CHECK_H
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(name, cond) do { \
	if (cond) printf("ok %s\n", name); \
	else { printf("FAIL %s (line %d, errno %d %s)\n", name, __LINE__, errno, strerror(errno)); failures++; } \
	fflush(stdout); \
} while (0)

/* expr must fail with -1 (or NULL) and errno e. */
#define CHECK_ERRNO(name, expr, e) do { \
	errno = 0; \
	long _r = (long) (expr); \
	int _e = errno; \
	if (_r == -1 && _e == (e)) printf("ok %s\n", name); \
	else { printf("FAIL %s (line %d): returned %ld errno %d (%s), expected -1 errno %d (%s)\n", \
			name, __LINE__, _r, _e, strerror(_e), (e), strerror(e)); failures++; } \
	fflush(stdout); \
} while (0)

#define CHECK_NULL_ERRNO(name, expr, e) do { \
	errno = 0; \
	void *_p = (void *) (expr); \
	int _e = errno; \
	if (_p == NULL && _e == (e)) printf("ok %s\n", name); \
	else { printf("FAIL %s (line %d): returned %p errno %d (%s), expected NULL errno %d (%s)\n", \
			name, __LINE__, _p, _e, strerror(_e), (e), strerror(e)); failures++; } \
	fflush(stdout); \
} while (0)

#define DONE() do { printf("failures %d\n", failures); return failures == 0 ? 0 : 1; } while (0)
#endif
