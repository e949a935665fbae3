/* iothconf's calls on a kernel stack inside the network namespace NETNS (which has a bridge
 * named vde0): ioth_newstackc, ioth_config's bitmask and errnos, ioth_resolvconf's text and
 * its "unchanged" NULL. The test then reads the configuration back with ip(8).
 * usage: iothconf_checks NETNS */
#include <ioth.h>
#include <iothconf.h>
#include <stdlib.h>
#include "check.h"

static int resolv_is(struct ioth *s, const char *expected) {
	errno = 0;
	char *text = ioth_resolvconf(s, NULL);
	int ok = text != NULL && strcmp(text, expected) == 0;
	if (!ok) printf("resolvconf gave %s (errno %d)\n", text ? text : "NULL", errno);
	free(text);
	return ok;
}

int main(int argc, char *argv[]) {
	if (argc != 2) return 2;
	char cfg[512];
	snprintf(cfg, sizeof(cfg),
			"stack='kernel,netns=%s',eth,mac=02:00:00:00:00:02,ip=10.1.2.3/24,gw=10.1.2.254,"
			"dns=10.1.2.53,domain=example.test", argv[1]);
	struct ioth *s = ioth_newstackc(cfg);
	CHECK("newstackc", s != NULL);
	if (s == NULL) DONE();

	CHECK("config_static_bit", ioth_config(s, "ip=10.1.2.4/24") == IOTHCONF_STATIC);
	CHECK("config_eth_bit", ioth_config(s, "eth") == IOTHCONF_ETH);
	CHECK("config_both_bits", ioth_config(s, "eth,ip=fc01::3/64") == (IOTHCONF_ETH | IOTHCONF_STATIC));
	CHECK("config_dhcp_unsupported_bit_clear", ioth_config(s, "dhcp") == 0);
	CHECK("config_nothing_is_0", ioth_config(s, "") == 0);
	CHECK_ERRNO("config_unknown_tag_einval", ioth_config(s, "nonsense"), EINVAL);
	CHECK_ERRNO("config_stack_tag_einval", ioth_config(s, "stack=kernel"), EINVAL);
	CHECK_ERRNO("config_missing_iface_enodev", ioth_config(s, "iface=nosuch0,eth"), ENODEV);

	CHECK("resolvconf_text", resolv_is(s, "search example.test\nnameserver 10.1.2.53\n"));
	CHECK_NULL_ERRNO("resolvconf_unchanged_null_errno_0", ioth_resolvconf(s, NULL), 0);
	CHECK("config_more_dns", ioth_config(s, "dns=10.1.2.54") == IOTHCONF_STATIC);
	CHECK("resolvconf_changed",
			resolv_is(s, "search example.test\nnameserver 10.1.2.53\nnameserver 10.1.2.54\n"));
	CHECK_NULL_ERRNO("resolvconf_bad_tag_einval", ioth_resolvconf(s, "bogus=1"), EINVAL);
	CHECK_NULL_ERRNO("resolvconf_missing_iface_enodev", ioth_resolvconf(s, "iface=nosuch0"), ENODEV);

	snprintf(cfg, sizeof(cfg), "stack='kernel,netns=%s',iface=nosuch0,eth", argv[1]);
	CHECK_NULL_ERRNO("newstackc_missing_iface_enodev", ioth_newstackc(cfg), ENODEV);
	CHECK_NULL_ERRNO("newstackc_bad_string_einval", ioth_newstackc("eth,bogus"), EINVAL);
	CHECK_NULL_ERRNO("newstackc_unterminated_quote_einval", ioth_newstackc("stack='kernel"), EINVAL);
	CHECK("delstack", ioth_delstack(s) == 0);
	DONE();
}
