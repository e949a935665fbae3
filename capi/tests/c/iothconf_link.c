/* A program of iothconf's, linked the original's way (-lioth -liothconf): a smoltcp stack
 * made and configured by strings, its resolv.conf text, then deleted. Needs no network. */
#include <stdlib.h>
#include <ioth.h>
#include <iothconf.h>
#include "check.h"

int main(void) {
	struct ioth *s = ioth_newstackc("stack=smoltcp");
	CHECK("newstackc_smoltcp", s != NULL);
	if (s == NULL) DONE();
	CHECK("config_static", ioth_config(s, "iface=lo,ip=10.9.9.9/24") == IOTHCONF_STATIC);
	CHECK_ERRNO("config_bad_einval", ioth_config(s, "nonsense"), EINVAL);
	CHECK("config_dns", ioth_config(s, "iface=lo,dns=10.9.9.53") == IOTHCONF_STATIC);
	char *text = ioth_resolvconf(s, "iface=lo");
	CHECK("resolvconf_nameserver", text != NULL && strstr(text, "nameserver 10.9.9.53") != NULL);
	free(text);
	CHECK("delstack", ioth_delstack(s) == 0);
	DONE();
}
