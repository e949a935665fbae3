/* ioth_newstackl, the variadic constructor, as a real symbol of libioth.so.0: two and three
 * VNLs give two and three interfaces (vde0.. in order), no VNL none, and a failure sets
 * errno. Called directly and through a pointer to the variadic function. Also the header's
 * inline ioth_macton/ioth_ntomac.
 * usage: newstackl_checks VNL1 VNL2 VNL3 MISSING_IMPLEMENTATION */
#include <ioth.h>
#include "check.h"

static int has(struct ioth *s, const char *ifname) {
	return ioth_if_nametoindex(s, ifname) > 0;
}

int main(int argc, char *argv[]) {
	if (argc != 5) return 2;
	struct ioth *(*through_pointer)(const char *, const char *, ...) = ioth_newstackl;

	struct ioth *two = ioth_newstackl("smoltcp", argv[1], argv[2], (char *) NULL);
	CHECK("newstackl_two_vnls", two != NULL);
	if (two == NULL) DONE();
	CHECK("two_vnls_vde0", has(two, "vde0"));
	CHECK("two_vnls_vde1", has(two, "vde1"));
	CHECK_ERRNO("two_vnls_no_vde2", ioth_if_nametoindex(two, "vde2"), ENODEV);
	CHECK("two_vnls_delstack", ioth_delstack(two) == 0);

	struct ioth *three = through_pointer("smoltcp", argv[1], argv[2], argv[3], (char *) NULL);
	CHECK("newstackl_three_vnls", three != NULL);
	if (three == NULL) DONE();
	CHECK("three_vnls_vde0", has(three, "vde0"));
	CHECK("three_vnls_vde1", has(three, "vde1"));
	CHECK("three_vnls_vde2", has(three, "vde2"));
	CHECK_ERRNO("three_vnls_no_vde3", ioth_if_nametoindex(three, "vde3"), ENODEV);
	CHECK("three_vnls_delstack", ioth_delstack(three) == 0);

	struct ioth *none = ioth_newstackl("smoltcp", (char *) NULL);
	CHECK("newstackl_no_vnl", none != NULL);
	if (none != NULL) {
		CHECK_ERRNO("no_vnl_no_vde0", ioth_if_nametoindex(none, "vde0"), ENODEV);
		CHECK("no_vnl_delstack", ioth_delstack(none) == 0);
	}
	CHECK_NULL_ERRNO("newstackl_missing_enotsup",
			ioth_newstackl(argv[4], argv[1], argv[2], (char *) NULL), ENOTSUP);

	/* ioth_macton: the original's forms, and what the header documents as refused */
	unsigned char mac[6];
	CHECK("macton_colons", ioth_macton("02:aB:0c:1:ff:00", mac) == 1 &&
			mac[0] == 2 && mac[1] == 0xab && mac[3] == 1 && mac[4] == 0xff);
	CHECK("macton_dashes", ioth_macton("02-ab-0c-01-ff-00", mac) == 1 && mac[5] == 0);
	CHECK("macton_refuses_leading_blank", ioth_macton(" 02:ab:0c:01:ff:00", mac) == 0);
	CHECK("macton_refuses_blank_after_separator", ioth_macton("02: ab:0c:01:ff:00", mac) == 0);
	CHECK("macton_refuses_0x", ioth_macton("0x2:ab:0c:01:ff:00", mac) == 0);
	CHECK("macton_refuses_long_group", ioth_macton("002:ab:0c:01:ff:00", mac) == 0);
	CHECK("macton_refuses_mixed_separators", ioth_macton("02:ab-0c:01:ff:00", mac) == 0);
	CHECK("macton_refuses_short", ioth_macton("02:ab:0c:01:ff", mac) == 0);
	char text[MAC_ADDRSTRLEN];
	ioth_macton("02:ab:0c:01:ff:00", mac);
	CHECK("ntomac_round_trip", strcmp(ioth_ntomac(mac, text, sizeof(text)), "02:ab:0c:01:ff:00") == 0);
	DONE();
}
