/* The resolver calls of libiothdns against the scripted servers the Rust test runs in a
 * private network namespace: zone A on 127.0.0.1:53, zone B on 127.0.0.2:53 (see
 * c_iothdns_resolver.rs). argv[1] is a directory holding "hosts" and "services" files. */
#include <stdint.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <iothdns.h>
#include "check.h"

static const char *ntop(int af, const void *a) {
	static char buf[INET6_ADDRSTRLEN];
	return inet_ntop(af, a, buf, sizeof(buf));
}

struct seen {
	int mx_pref;
	char mx[IOTHDNS_MAXNAME];
	int txt;
	char first_txt[IOTHDNS_MAXSTRING + 1];
	int calls;
};

static int mx_cb(int section, struct iothdns_rr *rr, struct iothdns_pkt *vpkt, void *arg) {
	struct seen *s = arg;
	s->calls++;
	if (section == IOTHDNS_SEC_ANSWER && rr->type == IOTHDNS_TYPE_MX) {
		s->mx_pref = iothdns_get_int16(vpkt);
		iothdns_get_name(vpkt, s->mx);
	}
	return 0;
}

static int txt_cb(int section, struct iothdns_rr *rr, struct iothdns_pkt *vpkt, void *arg) {
	struct seen *s = arg;
	char buf[IOTHDNS_MAXSTRING + 1];
	s->calls++;
	if (section == IOTHDNS_SEC_ANSWER && rr->type == IOTHDNS_TYPE_TXT)
		while (iothdns_get_string(vpkt, buf) != NULL) {
			if (s->txt++ == 0) strcpy(s->first_txt, buf);
		}
	return 0;
}

static int stop_cb(int section, struct iothdns_rr *rr, struct iothdns_pkt *vpkt, void *arg) {
	(void) section; (void) rr; (void) vpkt;
	(*(int *) arg)++;
	return 7;
}

static int entries(struct addrinfo *ai) {
	int n = 0;
	for (; ai; ai = ai->ai_next) n++;
	return n;
}

static const char *ai_ntop(struct addrinfo *ai) {
	if (ai->ai_family == AF_INET)
		return ntop(AF_INET, &((struct sockaddr_in *) ai->ai_addr)->sin_addr);
	return ntop(AF_INET6, &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr);
}

static int ai_port(struct addrinfo *ai) {
	if (ai->ai_family == AF_INET)
		return ntohs(((struct sockaddr_in *) ai->ai_addr)->sin_port);
	return ntohs(((struct sockaddr_in6 *) ai->ai_addr)->sin6_port);
}

int main(int argc, char *argv[]) {
	if (argc < 2) return 2;
	char hosts[512], services[512];
	snprintf(hosts, sizeof(hosts), "%s/hosts", argv[1]);
	snprintf(services, sizeof(services), "%s/services", argv[1]);

	struct iothdns *d = iothdns_init_strcfg(NULL, "search example.test\nnameserver 127.0.0.1");
	CHECK("init_strcfg", d != NULL);
	char conf[512];
	snprintf(conf, sizeof(conf), "%s/resolv.conf", argv[1]);
	struct iothdns *df = iothdns_init(NULL, conf);
	struct in_addr fa[2];
	CHECK("init_file", df != NULL && iothdns_lookup_a(df, "web", fa, 2) == 2);
	iothdns_fini(df);
	CHECK_NULL_ERRNO("init_missing_file_enoent", iothdns_init(NULL, "/nonexistent/resolv.conf"), ENOENT);
	df = iothdns_init(NULL, NULL);
	CHECK("init_stack_own_config", df != NULL);
	iothdns_fini(df);

	struct in_addr a[4];
	struct in6_addr a6[4];
	int rv = iothdns_lookup_a(d, "web", a, 4);
	CHECK("lookup_a_search", rv == 2 && strcmp(ntop(AF_INET, &a[0]), "192.0.2.10") == 0 &&
			strcmp(ntop(AF_INET, &a[1]), "192.0.2.11") == 0);
	CHECK("lookup_a_trailing_dot", iothdns_lookup_a(d, "web.example.test.", a, 4) == 2);
	CHECK("lookup_a_count_only", iothdns_lookup_a(d, "web.example.test", NULL, 0) == 2);
	memset(a, 0, sizeof(a));
	CHECK("lookup_a_stores_n", iothdns_lookup_a(d, "web.example.test", a, 1) == 2 && a[1].s_addr == 0);
	rv = iothdns_lookup_aaaa(d, "web.example.test", a6, 4);
	CHECK("lookup_aaaa", rv == 1 && strcmp(ntop(AF_INET6, &a6[0]), "2001:db8::10") == 0);
	CHECK("lookup_a_cname", iothdns_lookup_a(d, "www.example.test", a, 4) == 2);
	CHECK("lookup_a_nodata", iothdns_lookup_a(d, "v6only.example.test", a, 4) == 0);
	CHECK_ERRNO("lookup_a_nxdomain_enoent", iothdns_lookup_a(d, "nosuch.example.test", a, 4), ENOENT);
	rv = iothdns_lookup_a(d, "10.1.2.3", a, 4);
	CHECK("lookup_a_literal", rv == 1 && strcmp(ntop(AF_INET, &a[0]), "10.1.2.3") == 0 &&
			iothdns_lookup_a(d, "::1", a, 4) == 0 && iothdns_lookup_aaaa(d, "::1", a6, 1) == 1);
	rv = iothdns_lookup_aaaa_compat(d, "v4only.example.test", a6, 4);
	CHECK("aaaa_compat_mapped", rv == 1 && strcmp(ntop(AF_INET6, &a6[0]), "::ffff:192.0.2.20") == 0);
	rv = iothdns_lookup_aaaa_compat(d, "web.example.test", a6, 4);
	CHECK("aaaa_compat_order", rv == 3 && strcmp(ntop(AF_INET6, &a6[0]), "2001:db8::10") == 0 &&
			strcmp(ntop(AF_INET6, &a6[1]), "::ffff:192.0.2.10") == 0);

	struct seen s = {0};
	rv = iothdns_lookup_cb(d, "mail.example.test", IOTHDNS_TYPE_MX, mx_cb, &s);
	CHECK("lookup_cb_mx", rv == 0 && s.mx_pref == 10 && strcmp(s.mx, "mx1.example.test") == 0);
	memset(&s, 0, sizeof(s));
	rv = iothdns_lookup_cb(d, "mail.example.test", IOTHDNS_TYPE_TXT, txt_cb, &s);
	CHECK("lookup_cb_txt", rv == 0 && s.txt == 2 && strcmp(s.first_txt, "hello") == 0);
	memset(&s, 0, sizeof(s));
	rv = iothdns_lookup_cb(d, "big.example.test", IOTHDNS_TYPE_TXT, txt_cb, &s);
	CHECK("lookup_cb_tc_fallback", rv == 0 && s.txt == 30);
	memset(&s, 0, sizeof(s));
	rv = iothdns_lookup_cb_tcp(d, "tcp.example.test", IOTHDNS_TYPE_MX, mx_cb, &s);
	CHECK("lookup_cb_tcp", rv == 0 && s.mx_pref == 20 && strcmp(s.mx, "mx2.example.test") == 0);
	int stops = 0;
	rv = iothdns_lookup_cb(d, "web.example.test", IOTHDNS_TYPE_A, stop_cb, &stops);
	CHECK("lookup_cb_stop", rv == 7 && stops == 1);
	CHECK_ERRNO("lookup_cb_nxdomain_enoent",
			iothdns_lookup_cb(d, "nosuch.example.test", IOTHDNS_TYPE_MX, mx_cb, &s), ENOENT);

	/* A read-only literal in the short form (the original wrote into it). */
	struct iothdns *d2 = iothdns_init_strcfg(NULL, "127.0.0.1");
	struct in_addr ns2, ns3, ns4;
	inet_pton(AF_INET, "127.0.0.2", &ns2);
	inet_pton(AF_INET, "127.0.0.3", &ns3);
	inet_pton(AF_INET, "127.0.0.4", &ns4);
	CHECK("init_address_list_literal", d2 != NULL);
	CHECK("add_nameserver_second", iothdns_add_nameserver(d2, AF_INET, &ns2) == 0);
	CHECK("add_nameserver_third", iothdns_add_nameserver(d2, AF_INET, &ns3) == 0);
	CHECK_ERRNO("add_nameserver_appends_enospc", iothdns_add_nameserver(d2, AF_INET, &ns4), ENOSPC);
	CHECK_ERRNO("add_nameserver_eafnosupport", iothdns_add_nameserver(d2, AF_UNIX, &ns4), EAFNOSUPPORT);
	/* the first server is still the first: zone A answers */
	rv = iothdns_lookup_a(d2, "web.example.test", a, 4);
	CHECK("lookup_after_add", rv == 2 && strcmp(ntop(AF_INET, &a[0]), "192.0.2.10") == 0);
	iothdns_fini(d2);
	struct iothdns *d3 = iothdns_init_strcfg(NULL, "");
	struct in_addr ns1;
	inet_pton(AF_INET, "127.0.0.1", &ns1);
	CHECK_ERRNO("no_server_edestaddrreq", iothdns_lookup_a(d3, "web.example.test", a, 4), EDESTADDRREQ);
	CHECK("add_to_empty", iothdns_add_nameserver(d3, AF_INET, &ns1) == 0 &&
			iothdns_lookup_a(d3, "web.example.test", a, 4) == 2);
	iothdns_fini(d3);

	CHECK("update_strcfg", iothdns_update_strcfg(d, "search example.test\nnameserver 127.0.0.2") == 0);
	rv = iothdns_lookup_a(d, "web", a, 4);
	CHECK("update_strcfg_applies", rv == 1 && strcmp(ntop(AF_INET, &a[0]), "198.51.100.1") == 0);
	CHECK_ERRNO("update_missing_file_enoent", iothdns_update(d, "/nonexistent/resolv.conf"), ENOENT);
	CHECK("update_failure_keeps_config", iothdns_lookup_a(d, "web", a, 4) == 1);
	CHECK("update_back", iothdns_update_strcfg(d, "search example.test\nnameserver 127.0.0.1") == 0);

	char path[64];
	rv = iothdns_getpath(d, IOTHDNS_HOSTS, path, sizeof(path));
	CHECK("getpath_default", rv == 10 && strcmp(path, "/etc/hosts") == 0);
	rv = iothdns_getpath(d, IOTHDNS_SERVICES, path, 5);
	CHECK("getpath_truncates", rv == 13 && strcmp(path, "/etc") == 0);
	iothdns_setpath(d, IOTHDNS_HOSTS, hosts);
	iothdns_setpath(d, IOTHDNS_SERVICES, services);
	char longpath[1024];
	CHECK("setpath_getpath", iothdns_getpath(d, IOTHDNS_HOSTS, longpath, sizeof(longpath)) ==
			(int) strlen(hosts) && strcmp(longpath, hosts) == 0);

	/* getaddrinfo */
	struct addrinfo *res = NULL, hints;
	rv = iothdns_getaddrinfo(d, "web.example.test", "80", NULL, &res);
	CHECK("gai_default_hints", rv == 0 && entries(res) == 9 && res->ai_family == AF_INET &&
			ai_port(res) == 80 && res->ai_socktype == SOCK_STREAM && res->ai_protocol == IPPROTO_TCP &&
			res->ai_next->ai_socktype == SOCK_DGRAM && res->ai_canonname == NULL);
	iothdns_freeaddrinfo(res);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET6;
	hints.ai_socktype = SOCK_STREAM;
	rv = iothdns_getaddrinfo(d, "web.example.test", "443", &hints, &res);
	CHECK("gai_inet6_stream", rv == 0 && entries(res) == 1 && strcmp(ai_ntop(res), "2001:db8::10") == 0 &&
			ai_port(res) == 443);
	iothdns_freeaddrinfo(res);
	hints.ai_flags = AI_V4MAPPED;
	rv = iothdns_getaddrinfo(d, "v4only.example.test", NULL, &hints, &res);
	CHECK("gai_v4mapped", rv == 0 && entries(res) == 1 && strcmp(ai_ntop(res), "::ffff:192.0.2.20") == 0);
	iothdns_freeaddrinfo(res);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	rv = iothdns_getaddrinfo(d, "www.example.test", NULL, &hints, &res);
	CHECK("gai_canonname", rv == 0 && entries(res) == 2 && res->ai_canonname != NULL &&
			strcmp(res->ai_canonname, "web.example.test") == 0 && res->ai_next->ai_canonname == NULL);
	iothdns_freeaddrinfo(res);
	rv = iothdns_getaddrinfo(d, "myhost", NULL, &hints, &res);
	CHECK("gai_hosts_file", rv == 0 && entries(res) == 1 && strcmp(ai_ntop(res), "10.9.8.7") == 0 &&
			res->ai_canonname && strcmp(res->ai_canonname, "myhost.local") == 0);
	iothdns_freeaddrinfo(res);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	rv = iothdns_getaddrinfo(d, "10.1.2.3", "domain", &hints, &res);
	CHECK("gai_service_name", rv == 0 && entries(res) == 2 && ai_port(res) == 53 &&
			ai_port(res->ai_next) == 53);
	iothdns_freeaddrinfo(res);
	res = (void *) 1;
	rv = iothdns_getaddrinfo(d, "10.1.2.3", "nosuchservice", &hints, &res);
	CHECK("gai_unknown_service", rv == EAI_SERVICE && res == NULL);
	rv = iothdns_getaddrinfo(d, "nosuch.example.test", NULL, NULL, &res);
	CHECK("gai_nxdomain", rv == EAI_NONAME && res == NULL);
	hints.ai_flags = AI_NUMERICHOST;
	CHECK("gai_numerichost", iothdns_getaddrinfo(d, "web", NULL, &hints, &res) == EAI_NONAME);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_PASSIVE;
	hints.ai_socktype = SOCK_DGRAM;
	rv = iothdns_getaddrinfo(d, NULL, "53", &hints, &res);
	CHECK("gai_passive", rv == 0 && entries(res) == 2 && strcmp(ai_ntop(res), "0.0.0.0") == 0 &&
			strcmp(ai_ntop(res->ai_next), "::") == 0 && res->ai_protocol == IPPROTO_UDP);
	iothdns_freeaddrinfo(res);
	hints.ai_flags = 0;
	hints.ai_family = AF_INET;
	CHECK("gai_addrfamily", iothdns_getaddrinfo(d, "::1", NULL, &hints, &res) != 0 && res == NULL);
	hints.ai_flags = 0x10000;
	CHECK("gai_badflags", iothdns_getaddrinfo(d, "web", NULL, &hints, &res) == EAI_BADFLAGS);
	const char *msg = iothdns_gai_strerror(EAI_NONAME);
	CHECK("gai_strerror", msg != NULL && strlen(msg) > 0);

	/* getnameinfo */
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "192.0.2.10", &sin.sin_addr);
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	rv = iothdns_getnameinfo(d, (struct sockaddr *) &sin, sizeof(sin), host, sizeof(host), serv, sizeof(serv), 0);
	CHECK("gni_ptr_and_service", rv == 0 && strcmp(host, "web.example.test") == 0 && strcmp(serv, "domain") == 0);
	rv = iothdns_getnameinfo(d, (struct sockaddr *) &sin, sizeof(sin), host, sizeof(host), NULL, 0, NI_NAMEREQD);
	CHECK("gni_flags_still_look_up", rv == 0 && strcmp(host, "web.example.test") == 0);
	rv = iothdns_getnameinfo(d, (struct sockaddr *) &sin, sizeof(sin), host, sizeof(host), NULL, 0, NI_NOFQDN);
	CHECK("gni_nofqdn", rv == 0 && strcmp(host, "web") == 0);
	rv = iothdns_getnameinfo(d, (struct sockaddr *) &sin, sizeof(sin), host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV);
	CHECK("gni_numeric", rv == 0 && strcmp(host, "192.0.2.10") == 0 && strcmp(serv, "53") == 0);
	rv = iothdns_getnameinfo(d, (struct sockaddr *) &sin, sizeof(sin), NULL, 0, serv, sizeof(serv), NI_DGRAM);
	CHECK("gni_dgram_service", rv == 0 && strcmp(serv, "domain") == 0);
	inet_pton(AF_INET, "10.9.8.7", &sin.sin_addr);
	rv = iothdns_getnameinfo(d, (struct sockaddr *) &sin, sizeof(sin), host, sizeof(host), NULL, 0, 0);
	CHECK("gni_hosts_file", rv == 0 && strcmp(host, "myhost.local") == 0);
	inet_pton(AF_INET, "203.0.113.9", &sin.sin_addr);
	rv = iothdns_getnameinfo(d, (struct sockaddr *) &sin, sizeof(sin), host, sizeof(host), NULL, 0, NI_NAMEREQD);
	CHECK("gni_namereqd", rv == EAI_NONAME);
	rv = iothdns_getnameinfo(d, (struct sockaddr *) &sin, sizeof(sin), host, sizeof(host), NULL, 0, 0);
	CHECK("gni_numeric_fallback", rv == 0 && strcmp(host, "203.0.113.9") == 0);
	rv = iothdns_getnameinfo(d, (struct sockaddr *) &sin, sizeof(sin), host, 4, NULL, 0, NI_NUMERICHOST);
	CHECK("gni_overflow", rv == EAI_OVERFLOW);
	rv = iothdns_getnameinfo(d, (struct sockaddr *) &sin, 4, host, sizeof(host), NULL, 0, 0);
	CHECK("gni_short_addr_family", rv == EAI_FAMILY);

	iothdns_fini(d);
	iothdns_fini(NULL);
	DONE();
}
