/* Composes DNS messages with iothdns_put_* and prints them in hex ("query HEX", "reply HEX")
 * for the Rust side to parse with hickory; checks the error conventions of iothdns.h. */
#include <stdint.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <iothdns.h>
#include "check.h"

static void print_hex(const char *tag, struct iothdns_pkt *pkt) {
	struct iovec v = iothdns_getbuf(pkt);
	printf("%s ", tag);
	for (size_t i = 0; i < v.iov_len; i++)
		printf("%02x", ((uint8_t *) v.iov_base)[i]);
	printf("\n");
}

int main(void) {
	/* A query as a resolver sends it. */
	struct iothdns_header qh = {0x1234, IOTHDNS_QUERY | IOTHDNS_RD, "www.Example.com.", IOTHDNS_TYPE_AAAA,
		IOTHDNS_CLASS_IN};
	struct iothdns_pkt *q = iothdns_put_header(&qh);
	CHECK("put_header", q != NULL);
	print_hex("query", q);
	iothdns_free(q);

	/* A reply with every kind of data. */
	struct iothdns_header h = {0xbeef, IOTHDNS_RESPONSE | IOTHDNS_AA | IOTHDNS_RD | IOTHDNS_Z,
		"www.example.com", IOTHDNS_TYPE_AAAA, IOTHDNS_CLASS_IN};
	struct iothdns_pkt *r = iothdns_put_header(&h);
	struct iothdns_rr rr = {"www.example.com", IOTHDNS_TYPE_CNAME, IOTHDNS_CLASS_IN, 300, 0};
	iothdns_put_rr(IOTHDNS_SEC_ANSWER, r, &rr);
	iothdns_put_name(r, "host.EXAMPLE.com");
	struct iothdns_rr rr6 = {"host.example.com", IOTHDNS_TYPE_AAAA, IOTHDNS_CLASS_IN, 60, 0};
	struct in6_addr a6;
	inet_pton(AF_INET6, "2001:db8::1", &a6);
	iothdns_put_rr(IOTHDNS_SEC_ANSWER, r, &rr6);
	iothdns_put_aaaa(r, &a6);
	struct iothdns_rr ns = {"example.com", IOTHDNS_TYPE_NS, IOTHDNS_CLASS_IN, 3600, 0};
	iothdns_put_rr(IOTHDNS_SEC_AUTH, r, &ns);
	iothdns_put_name(r, "ns1.example.com");
	struct iothdns_rr mx = {"example.com", IOTHDNS_TYPE_MX, IOTHDNS_CLASS_IN, 3600, 0};
	iothdns_put_rr(IOTHDNS_SEC_AUTH, r, &mx);
	iothdns_put_int16(r, 10);
	iothdns_put_name(r, "mail.example.com");
	struct iothdns_rr a = {"ns1.example.com", IOTHDNS_TYPE_A, IOTHDNS_CLASS_IN, 3600, 0};
	struct in_addr a4;
	inet_pton(AF_INET, "192.0.2.53", &a4);
	iothdns_put_rr(IOTHDNS_SEC_ADDITIONAL, r, &a);
	iothdns_put_a(r, &a4);
	struct iothdns_rr txt = {"example.com", IOTHDNS_TYPE_TXT, IOTHDNS_CLASS_IN, 1, 0};
	iothdns_put_rr(IOTHDNS_SEC_ADDITIONAL, r, &txt);
	iothdns_put_string(r, "v=spf1 -all");
	char longstr[301];
	memset(longstr, 'x', 300);
	longstr[300] = 0;
	iothdns_put_string(r, longstr);
	/* SRV: names in its data must not be compressed (RFC 2782). */
	struct iothdns_rr srv = {"_sip._udp.example.com", 33, IOTHDNS_CLASS_IN, 1, 0};
	iothdns_put_rr(IOTHDNS_SEC_ADDITIONAL, r, &srv);
	iothdns_put_int16(r, 1);
	iothdns_put_int16(r, 2);
	iothdns_put_int16(r, 5060);
	iothdns_put_name_uncompressed(r, "host.example.com");
	/* raw data: an unknown type */
	struct iothdns_rr raw = {"example.com", 65280, IOTHDNS_CLASS_IN, 7, 0};
	uint8_t bytes[] = {1, 2, 3};
	iothdns_put_rr(IOTHDNS_SEC_ADDITIONAL, r, &raw);
	iothdns_put_data(r, bytes, sizeof(bytes));
	iothdns_put_int8(r, 4);
	iothdns_put_int32(r, 0x05060708);
	struct iovec v = iothdns_getbuf(r);
	CHECK("getbuf", v.iov_base != NULL && v.iov_len > 12);
	print_hex("reply", r);
	uint16_t id = 0, flags = 0;
	iothdns_retrieve_header(r, &id, &flags);
	CHECK("retrieve_header", id == 0xbeef && flags == (IOTHDNS_RESPONSE | IOTHDNS_AA | IOTHDNS_RD | IOTHDNS_Z));
	iothdns_rewrite_header(r, 0x4242, flags | IOTHDNS_RA);
	iothdns_retrieve_header(r, &id, NULL);
	CHECK("rewrite_header", id == 0x4242);
	print_hex("rewritten", r);
	iothdns_free(r);

	/* A record for an earlier section fails the packet: nothing to send. */
	struct iothdns_pkt *bad = iothdns_put_header(&h);
	iothdns_put_rr(IOTHDNS_SEC_ADDITIONAL, bad, &a);
	iothdns_put_a(bad, &a4);
	errno = 0;
	iothdns_put_rr(IOTHDNS_SEC_ANSWER, bad, &rr6);
	CHECK("put_rr_earlier_section_einval", errno == EINVAL);
	errno = 0;
	v = iothdns_getbuf(bad);
	CHECK("failed_packet_getbuf_null", v.iov_base == NULL && v.iov_len == 0 && errno == EINVAL);
	iothdns_free(bad);

	/* A type where a section belongs (the original silently dropped it). */
	bad = iothdns_put_header(&h);
	errno = 0;
	iothdns_put_rr(IOTHDNS_TYPE_AAAA, bad, &rr6);
	CHECK("put_rr_bad_section_einval", errno == EINVAL);
	iothdns_free(bad);

	struct iothdns_header badh = h;
	badh.qname = "a..b";
	CHECK_NULL_ERRNO("put_header_empty_label_einval", iothdns_put_header(&badh), EINVAL);
	char label[70];
	memset(label, 'l', 64);
	strcpy(label + 64, ".com");
	badh.qname = label;
	CHECK_NULL_ERRNO("put_header_long_label_enametoolong", iothdns_put_header(&badh), ENAMETOOLONG);
	CHECK_NULL_ERRNO("put_header_null_efault", iothdns_put_header(NULL), EFAULT);

	bad = iothdns_put_header(&h);
	errno = 0;
	iothdns_put_rr(IOTHDNS_SEC_ANSWER, bad, NULL);
	CHECK("put_rr_null_efault", errno == EFAULT);
	iothdns_free(bad);

	/* A freed packet is not a packet: no crash, EINVAL. */
	struct iothdns_pkt *gone = iothdns_put_header(&h);
	iothdns_free(gone);
	errno = 0;
	iothdns_put_int8(gone, 1);
	CHECK("put_on_freed_einval", errno == EINVAL);
	errno = 0;
	iothdns_free(gone);
	CHECK("free_twice_einval", errno == EINVAL);
	errno = 0;
	v = iothdns_getbuf(gone);
	CHECK("getbuf_freed_einval", v.iov_base == NULL && errno == EINVAL);
	iothdns_free(NULL);

	/* No question: a header alone. */
	struct iothdns_header empty = {7, IOTHDNS_RESPONSE, NULL, 0, 0};
	struct iothdns_pkt *e = iothdns_put_header(&empty);
	v = iothdns_getbuf(e);
	CHECK("header_only", v.iov_len == 12 && ((uint8_t *) v.iov_base)[5] == 0);
	/* A message cannot exceed 65535 bytes. */
	struct iothdns_rr big = {"", IOTHDNS_TYPE_NULL, IOTHDNS_CLASS_IN, 0, 0};
	iothdns_put_rr(IOTHDNS_SEC_ANSWER, e, &big);
	static uint8_t chunk[60000];
	iothdns_put_data(e, chunk, sizeof(chunk));
	errno = 0;
	iothdns_put_data(e, chunk, sizeof(chunk));
	CHECK("over_65535_emsgsize", errno == EMSGSIZE);
	iothdns_free(e);
	DONE();
}
