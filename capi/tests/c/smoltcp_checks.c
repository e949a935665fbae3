/* The helpers, getifaddrs and iothconf on the smoltcp stack built into libioth, whose
 * rtnetlink is served in user space: the same calls as on the kernel.
 * usage: smoltcp_checks */
#include <ioth.h>
#include <iothconf.h>
#include <stdint.h>
#include <stdlib.h>
#include <netpacket/packet.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "check.h"

static int has_addr(struct ioth *s, const char *ifname, int family, const char *text) {
	struct ifaddrs *ifa, *p;
	int found = 0;
	char buf[INET6_ADDRSTRLEN];
	if (ioth_getifaddrs(s, &ifa) < 0) return 0;
	for (p = ifa; p != NULL; p = p->ifa_next) {
		if (p->ifa_addr == NULL || p->ifa_addr->sa_family != family || strcmp(p->ifa_name, ifname) != 0)
			continue;
		const void *a = family == AF_INET ? (void *) &((struct sockaddr_in *) p->ifa_addr)->sin_addr :
			(void *) &((struct sockaddr_in6 *) p->ifa_addr)->sin6_addr;
		inet_ntop(family, a, buf, sizeof(buf));
		if (strcmp(buf, text) == 0) found = 1;
	}
	ioth_freeifaddrs(ifa);
	return found;
}

int main(void) {
	struct ioth *s = ioth_newstack("smoltcp", "null://");
	CHECK("newstack_smoltcp", s != NULL);
	if (s == NULL) DONE();
	int idx = ioth_if_nametoindex(s, "vde0");
	CHECK("if_nametoindex", idx > 0);
	CHECK("if_nametoindex_lo", ioth_if_nametoindex(s, "lo") > 0);
	CHECK_ERRNO("if_nametoindex_enodev", ioth_if_nametoindex(s, "nosuch0"), ENODEV);
	CHECK("linksetupdown", ioth_linksetupdown(s, idx, 1) == 0);
	unsigned char mac[6] = {0x02, 0, 0, 0, 0, 0x33}, got[6];
	CHECK("linksetaddr", ioth_linksetaddr(s, idx, mac) == 0);
	CHECK("linkgetaddr", ioth_linkgetaddr(s, idx, got) == 0 && memcmp(mac, got, 6) == 0);
	CHECK("linksetmtu", ioth_linksetmtu(s, idx, 1400) == 0);
	uint8_t a4[4] = {10, 9, 0, 1};
	CHECK("ipaddr_add_v4", ioth_ipaddr_add(s, AF_INET, a4, 24, idx) == 0);
	CHECK_ERRNO("ipaddr_add_v4_eexist", ioth_ipaddr_add(s, AF_INET, a4, 24, idx), EEXIST);
	struct in6_addr a6;
	inet_pton(AF_INET6, "fc00::9", &a6);
	CHECK("ipaddr_add_v6", ioth_ipaddr_add(s, AF_INET6, &a6, 64, idx) == 0);
	uint8_t gw[4] = {10, 9, 0, 254};
	CHECK("iproute_add_default", ioth_iproute_add(s, AF_INET, NULL, 0, gw, 0) == 0);
	CHECK_ERRNO("iproute_add_default_eexist", ioth_iproute_add(s, AF_INET, NULL, 0, gw, 0), EEXIST);
	CHECK("iproute_del_default", ioth_iproute_del(s, AF_INET, NULL, 0, gw, 0) == 0);
	CHECK("getifaddrs_v4", has_addr(s, "vde0", AF_INET, "10.9.0.1"));
	CHECK("getifaddrs_v6", has_addr(s, "vde0", AF_INET6, "fc00::9"));
	CHECK("getifaddrs_lo", has_addr(s, "lo", AF_INET, "127.0.0.1"));
	CHECK("ipaddr_del_v4", ioth_ipaddr_del(s, AF_INET, a4, 24, idx) == 0 && !has_addr(s, "vde0", AF_INET, "10.9.0.1"));

	int n = ioth_iplink_add(s, "eth7", -1, "vde", nl_iplink_strdata(IFLA_VDE_VNL, "null://"));
	CHECK("iplink_add_vde_returns_index", n > 0 && ioth_if_nametoindex(s, "eth7") == n);
	CHECK("iplink_del", ioth_iplink_del(s, NULL, n) == 0);
	CHECK_ERRNO("iplink_del_again_enodev", ioth_iplink_del(s, NULL, n), ENODEV);

	/* libioth's raw messages: packed prefixes and a caller-built request */
	uint8_t l4[4] = {10, 9, 3, 1};
	CHECK("ipaddr_add_scope_link",
			ioth_ipaddr_add(s, AF_INET, l4, nl_addrdata2prefix(24, 0, RT_SCOPE_LINK), idx) == 0 &&
			has_addr(s, "vde0", AF_INET, "10.9.3.1"));
	uint8_t net[4] = {192, 168, 9, 0};
	CHECK("iproute_add_packed",
			ioth_iproute_add(s, AF_INET, net, nl_routedata2prefix(24, RTN_UNICAST, RT_SCOPE_LINK), NULL, idx) == 0);
	CHECK_ERRNO("iproute_add_packed_eexist",
			ioth_iproute_add(s, AF_INET, net, nl_routedata2prefix(24, RTN_UNICAST, RT_SCOPE_LINK), NULL, idx), EEXIST);
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} down = {
		.h.nlmsg_len = sizeof(down), .h.nlmsg_type = RTM_NEWLINK,
		.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .h.nlmsg_seq = 1,
		.i.ifi_index = idx, .i.ifi_flags = 0, .i.ifi_change = IFF_UP,
	};
	CHECK("nldialog_ack", ioth_nldialog(s, &down) == 0);
	down.i.ifi_index = 9999;
	CHECK_ERRNO("nldialog_enodev", ioth_nldialog(s, &down), ENODEV);

	CHECK("config", ioth_config(s, "eth,ip=10.9.1.1/24,dns=10.9.1.53") == (IOTHCONF_ETH | IOTHCONF_STATIC));
	char *rc = ioth_resolvconf(s, "iface=vde0");
	CHECK("resolvconf", rc != NULL && strcmp(rc, "nameserver 10.9.1.53\n") == 0);
	free(rc);
	CHECK("delstack", ioth_delstack(s) == 0);

	struct ioth *c = ioth_newstackc("stack=smoltcp,vnl=null://,eth,ip=10.9.2.1/24,gw=10.9.2.254");
	CHECK("newstackc_smoltcp", c != NULL && has_addr(c, "vde0", AF_INET, "10.9.2.1"));
	CHECK("delstack_newstackc", c != NULL && ioth_delstack(c) == 0);
	DONE();
}
