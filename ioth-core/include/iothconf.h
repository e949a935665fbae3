/*
 * iothconf.h: iothconf's interface for programs written for VirtualSquare's iothconf:
 * create and configure a stack from one configuration string.
 *
 * Link with -lioth -liothconf, or $(pkg-config --cflags --libs iothconf). libiothconf.so.0
 * exports ioth_newstackc, ioth_config and ioth_resolvconf (unversioned, as the original);
 * they run ioth-rs's implementation inside libioth.so.0.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef IOTH_RS_IOTHCONF_H
#define IOTH_RS_IOTHCONF_H
/* the original's guard, for code that tests it */
#ifndef IOTHCONF_H
#define IOTHCONF_H
#endif
#include <ioth.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Configuration strings: tags separated by commas (or ; space newline), e.g.
 * "stack=kernel,eth,ip=10.0.0.1/24,gw=10.0.0.254". See the project's documentation. */

/* Bits of ioth_config's result: which requested parts succeeded. */
#define IOTHCONF_STATIC (1 << 0)
#define IOTHCONF_ETH    (1 << 1)
#define IOTHCONF_DHCP   (1 << 2)
#define IOTHCONF_DHCPV6 (1 << 3)
#define IOTHCONF_RD     (1 << 4)

/* Creates a stack (stack=, quoted when it has options: stack='kernel,netns=ns1'; vnl=) and
 * configures it with the rest of the string; NULL on error (the stack is not kept). */
struct ioth *ioth_newstackc(const char *stack_config);
/* Configures a stack (iface=, ifindex=, mac=, fqdn=, eth, ip=, gw=, dns=, domain=, dhcp,
 * dhcp6, rd, slaac, auto, auto4, auto6, the "-" undo forms, debug): the IOTHCONF_ mask of
 * what succeeded, or -1 (EINVAL: bad string; ENODEV: no such interface). */
int ioth_config(struct ioth *stack, const char *config);
/* resolv.conf(5) text for an interface (config: iface= or ifindex=, default vde0), to be
 * released with free(3); NULL with errno 0 when unchanged since the previous call. */
char *ioth_resolvconf(struct ioth *stack, const char *config);

#ifdef __cplusplus
}
#endif

#endif /* IOTH_RS_IOTHCONF_H */
