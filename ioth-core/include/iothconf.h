/*
 * iothconf.h: iothconf's header for programs written for VirtualSquare's iothconf.
 * ioth-rs provides ioth_newstackc, ioth_config and ioth_resolvconf in libioth itself; they
 * are declared in <ioth.h>, which this header includes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef IOTHCONF_H
#define IOTHCONF_H
#include <ioth.h>
#endif
