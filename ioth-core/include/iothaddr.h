/*
 * iothaddr.h: hash-based addresses for the Internet of Threads, the interface of
 * VirtualSquare's libiothaddr (ioth-rs implementation).
 *
 * Link with -liothaddr, or $(pkg-config --cflags --libs iothaddr). libiothaddr.so.0 exports
 * the four functions below (unversioned, as the original).
 *
 * Every function writes its result in place and returns nothing. A NULL address, MAC or
 * name, or a name or password that is not UTF-8, leaves the output unchanged and sets
 * errno (EFAULT, EINVAL): the original would crash or hash the raw bytes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef IOTH_RS_IOTHADDR_H
#define IOTH_RS_IOTHADDR_H
/* the original's guard, for code that tests it */
#ifndef IOTHADDR_H
#define IOTHADDR_H
#endif

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* addr (16 bytes, in place): its low 64 bits XORed with the first 8 bytes of
 * MD5(name || passwd || otiptime as 4 big-endian bytes), then the universal/local and group
 * bits cleared (addr[8] &= 0xfc). One trailing '.' of name is ignored; passwd NULL or "" and
 * otiptime 0 add nothing to the digest. Example: base fc00::, "renzo.hash.local" gives
 * fc00::4cc:8049:6765:d03a. */
void iothaddr_hash(void *addr, const char *name, const char *passwd, uint32_t otiptime);

/* The time slot of one-time addresses: (seconds since the epoch + otip_offset) / otip_period
 * (the offset is added before dividing); 0 when otip_period is 0. */
static inline uint32_t iothaddr_otiptime(int otip_period, int otip_offset) {
	if (otip_period == 0)
		return 0;
	return (uint32_t) ((time(NULL) + otip_offset) / otip_period);
}

/* mac (6 bytes): bytes 0, 1, 2, 5, 6, 7 of MD5(name || passwd), made locally administered
 * and unicast (first byte: bit 1 set, bit 0 clear). Example: "test.v2.cs.unibo.it" gives
 * 6a:d6:2f:5a:5a:2e. */
void iothaddr_hashmac(void *mac, const char *name, const char *passwd);

/* addr (16 bytes, in place): EUI-64 from the 6-byte mac, as the original computes it:
 * addr[8..10] = mac[0..2], addr[11..12] = ff:fe, addr[13..15] ^= mac[3..5], addr[8] ^= 2. */
void iothaddr_eui64(void *addr, void *mac);

/* iothaddr_eui64 of the MAC iothaddr_hashmac gives for name and passwd. Example: base
 * 2000:760::, "test.v2.cs.unibo.it" gives 2000:760::68d6:2fff:fe5a:5a2e. */
void iothaddr_hasheui64(void *addr, const char *name, const char *passwd);

#ifdef __cplusplus
}
#endif

#endif /* IOTH_RS_IOTHADDR_H */
