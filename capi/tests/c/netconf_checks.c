/* libioth's configuration helpers on a kernel stack inside the network namespace NETNS
 * (which has a bridge named vde0): every helper, their errnos, packed prefixes
 * (nl_addrdata2prefix, nl_routedata2prefix), kind-specific link data, ioth_nldialog.
 * The test then reads the namespace's configuration back with ip(8).
 * usage: netconf_checks NETNS */
#include <ioth.h>
#include <stdint.h>
#include <netpacket/packet.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "check.h"

int main(int argc, char *argv[]) {
	if (argc != 2) return 2;
	char impl[256];
	snprintf(impl, sizeof(impl), "kernel,netns=%s", argv[1]);
	struct ioth *s = ioth_newstack(impl, NULL);
	CHECK("newstack_in_netns", s != NULL);

	int idx = ioth_if_nametoindex(s, "vde0");
	CHECK("if_nametoindex", idx > 0);
	CHECK_ERRNO("if_nametoindex_enodev", ioth_if_nametoindex(s, "nosuch0"), ENODEV);
	CHECK("linksetupdown", ioth_linksetupdown(s, idx, 1) == 0);
	unsigned char mac[6], got[6];
	CHECK("macton", ioth_macton("02:00:00:00:00:01", mac));
	CHECK("linksetaddr", ioth_linksetaddr(s, idx, mac) == 0);
	CHECK("linkgetaddr", ioth_linkgetaddr(s, idx, got) == 0 && memcmp(mac, got, 6) == 0);
	CHECK("linksetmtu", ioth_linksetmtu(s, idx, 1400) == 0);
	CHECK_ERRNO("linksetmtu_enodev", ioth_linksetmtu(s, 9999, 1400), ENODEV);

	uint8_t a4[4] = {10, 0, 0, 1};
	CHECK("ipaddr_add_v4", ioth_ipaddr_add(s, AF_INET, a4, 24, idx) == 0);
	CHECK_ERRNO("ipaddr_add_v4_eexist", ioth_ipaddr_add(s, AF_INET, a4, 24, idx), EEXIST);
	struct in6_addr a6;
	inet_pton(AF_INET6, "fc00::1", &a6);
	CHECK("ipaddr_add_v6", ioth_ipaddr_add(s, AF_INET6, &a6, 64, idx) == 0);
	uint8_t l4[4] = {10, 0, 1, 1};
	CHECK("ipaddr_add_scope_link",
			ioth_ipaddr_add(s, AF_INET, l4, nl_addrdata2prefix(24, 0, RT_SCOPE_LINK), idx) == 0);
	struct in6_addr n6;
	inet_pton(AF_INET6, "fc00:1::1", &n6);
	CHECK("ipaddr_add_v6_nodad",
			ioth_ipaddr_add(s, AF_INET6, &n6, nl_addrdata2prefix(64, IFA_F_NODAD, RT_SCOPE_UNIVERSE), idx) == 0);
	uint8_t gone[4] = {10, 0, 0, 99};
	CHECK_ERRNO("ipaddr_del_missing_eaddrnotavail", ioth_ipaddr_del(s, AF_INET, gone, 24, idx), EADDRNOTAVAIL);
	uint8_t tmp[4] = {10, 0, 0, 2};
	CHECK("ipaddr_add_then_del", ioth_ipaddr_add(s, AF_INET, tmp, 24, idx) == 0 &&
			ioth_ipaddr_del(s, AF_INET, tmp, 24, idx) == 0);

	uint8_t gw[4] = {10, 0, 0, 254};
	CHECK("iproute_add_default", ioth_iproute_add(s, AF_INET, NULL, 0, gw, 0) == 0);
	CHECK_ERRNO("iproute_add_default_eexist", ioth_iproute_add(s, AF_INET, NULL, 0, gw, 0), EEXIST);
	uint8_t net[4] = {192, 168, 5, 0}, gw2[4] = {10, 0, 0, 253};
	CHECK("iproute_add_net", ioth_iproute_add(s, AF_INET, net, 24, gw2, idx) == 0);
	CHECK("iproute_del_net", ioth_iproute_del(s, AF_INET, net, 24, gw2, idx) == 0);
	CHECK_ERRNO("iproute_del_missing_esrch", ioth_iproute_del(s, AF_INET, net, 24, gw2, idx), ESRCH);
	uint8_t hole[4] = {192, 168, 9, 0};
	CHECK("iproute_add_blackhole",
			ioth_iproute_add(s, AF_INET, hole, nl_routedata2prefix(24, RTN_BLACKHOLE, RT_SCOPE_UNIVERSE), NULL, 0) == 0);
	uint8_t net6[16] = {0xfc, 0x00, 0x00, 0x02};
	struct in6_addr gw6;
	inet_pton(AF_INET6, "fc00::fe", &gw6);
	CHECK("iproute_add_v6", ioth_iproute_add(s, AF_INET6, net6, 64, &gw6, idx) == 0);

	int d = ioth_iplink_add(s, "dmy1", -1, "bridge", NULL, 0);
	CHECK("iplink_add_returns_index", d > 0 && ioth_if_nametoindex(s, "dmy1") == d);
	CHECK_ERRNO("iplink_add_eexist", ioth_iplink_add(s, "dmy1", 0, "bridge", NULL, 0), EEXIST);
	CHECK("iplink_add_fixed_index_returns_0", ioth_iplink_add(s, "dmy2", 0, "bridge", NULL, 0) == 0 &&
			ioth_if_nametoindex(s, "dmy2") > 0);
	uint32_t vni = 42;
	struct nl_iplink_data vx[] = {{IFLA_VXLAN_ID, sizeof(vni), &vni}};
	CHECK("iplink_add_with_data", ioth_iplink_add(s, "vx0", 0, "vxlan", vx, 1) == 0);
	CHECK("iplink_del_by_name", ioth_iplink_del(s, "dmy1", 0) == 0);
	CHECK_ERRNO("iplink_del_missing_enodev", ioth_iplink_del(s, "dmy1", 0), ENODEV);

	/* a message built by the caller: bring dmy2 up */
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} up = {
		.h.nlmsg_len = sizeof(up), .h.nlmsg_type = RTM_NEWLINK,
		.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .h.nlmsg_seq = 1,
		.i.ifi_index = ioth_if_nametoindex(s, "dmy2"), .i.ifi_flags = IFF_UP, .i.ifi_change = IFF_UP,
	};
	CHECK("nldialog_ack", ioth_nldialog(s, &up) == 0);
	up.i.ifi_index = 9999;
	CHECK_ERRNO("nldialog_error", ioth_nldialog(s, &up), ENODEV);
	CHECK_ERRNO("nldialog_null_efault", ioth_nldialog(s, NULL), EFAULT);

	/* getifaddrs: every interface once as AF_PACKET, then the addresses */
	struct ifaddrs *ifa, *p;
	CHECK("getifaddrs", ioth_getifaddrs(s, &ifa) == 0 && ifa != NULL);
	for (p = ifa; p != NULL; p = p->ifa_next) {
		char addr[INET6_ADDRSTRLEN] = "-", mask[INET6_ADDRSTRLEN] = "-", extra[INET6_ADDRSTRLEN] = "-";
		if (p->ifa_addr == NULL) continue;
		int fam = p->ifa_addr->sa_family;
		if (fam == AF_PACKET) {
			struct sockaddr_ll *ll = (struct sockaddr_ll *) p->ifa_addr;
			ioth_ntomac(ll->sll_addr, addr, sizeof(addr));
			printf("ifaddr %s packet %s index %d\n", p->ifa_name, addr, ll->sll_ifindex);
		} else if (fam == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *) p->ifa_addr)->sin_addr, addr, sizeof(addr));
			if (p->ifa_netmask)
				inet_ntop(AF_INET, &((struct sockaddr_in *) p->ifa_netmask)->sin_addr, mask, sizeof(mask));
			if (p->ifa_broadaddr)
				inet_ntop(AF_INET, &((struct sockaddr_in *) p->ifa_broadaddr)->sin_addr, extra, sizeof(extra));
			printf("ifaddr %s inet %s mask %s %s %s\n", p->ifa_name, addr, mask,
					(p->ifa_flags & IFF_LOOPBACK) ? "dst" : "brd", extra);
		} else if (fam == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *) p->ifa_addr)->sin6_addr, addr, sizeof(addr));
			if (p->ifa_netmask)
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *) p->ifa_netmask)->sin6_addr, mask, sizeof(mask));
			printf("ifaddr %s inet6 %s mask %s\n", p->ifa_name, addr, mask);
		}
	}
	ioth_freeifaddrs(ifa);
	CHECK("delstack", ioth_delstack(s) == 0);
	DONE();
}
