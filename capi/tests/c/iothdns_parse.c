/* Parses DNS messages with iothdns_get_*: each line of the file argv[1] is one message in
 * hex; for each it prints what the parser saw, one line per item, ending with "end ERRNO"
 * (0: clean end). Then runs the checks of the parse conventions on the first message. */
#include <stdint.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <iothdns.h>
#include "check.h"

static size_t unhex(const char *s, uint8_t *out, size_t room) {
	size_t n = 0;
	while (s[0] && s[1] && n < room && s[0] != '\n') {
		unsigned int b;
		if (sscanf(s, "%2x", &b) != 1) break;
		out[n++] = b;
		s += 2;
	}
	return n;
}

static void dump(uint8_t *buf, size_t len) {
	struct iothdns_header h;
	char qname[IOTHDNS_MAXNAME];
	errno = 0;
	struct iothdns_pkt *pkt = iothdns_get_header(&h, buf, len, qname);
	if (pkt == NULL) {
		printf("noheader %d\n", errno);
		return;
	}
	printf("header %u %04x %s %u %u\n", h.id, h.flags, h.qname ? h.qname : "(null)", h.qtype, h.qclass);
	struct iothdns_rr rr;
	char name[IOTHDNS_MAXNAME], s[IOTHDNS_MAXSTRING + 1], addr[INET6_ADDRSTRLEN];
	int section;
	errno = 0;
	while ((section = iothdns_get_rr(pkt, &rr, name)) != 0) {
		printf("rr %d %u %u %u %u %s\n", section, rr.type, rr.class, rr.ttl, rr.rdlength, rr.name);
		switch (rr.type) {
			case IOTHDNS_TYPE_A: {
				struct in_addr a;
				if (iothdns_get_a(pkt, &a)) printf("a %s\n", inet_ntop(AF_INET, &a, addr, sizeof(addr)));
				break;
			}
			case IOTHDNS_TYPE_AAAA: {
				struct in6_addr a;
				if (iothdns_get_aaaa(pkt, &a)) printf("aaaa %s\n", inet_ntop(AF_INET6, &a, addr, sizeof(addr)));
				break;
			}
			case IOTHDNS_TYPE_CNAME:
			case IOTHDNS_TYPE_NS:
			case IOTHDNS_TYPE_PTR:
				if (iothdns_get_name(pkt, name)) printf("name %s\n", name);
				break;
			case IOTHDNS_TYPE_MX: {
				unsigned pref = iothdns_get_int16(pkt);
				if (iothdns_get_name(pkt, name)) printf("mx %u %s\n", pref, name);
				break;
			}
			case IOTHDNS_TYPE_TXT:
				/* read strings until the record's data ends: the bound stops us */
				while (iothdns_get_string(pkt, s) != NULL)
					printf("txt %zu %s\n", strlen(s), s);
				printf("txt_end %d\n", errno);
				errno = 0;
				break;
			case IOTHDNS_TYPE_SOA: {
				char mname[IOTHDNS_MAXNAME];
				iothdns_get_name(pkt, mname);
				iothdns_get_name(pkt, name);
				uint32_t serial = iothdns_get_int32(pkt);
				printf("soa %s %s %u\n", mname, name, serial);
				break;
			}
			default:
				/* leave the data unread: the next get_rr skips it */
				break;
		}
		errno = 0;
	}
	printf("end %d\n", errno);
	iothdns_free(pkt);
}

int main(int argc, char *argv[]) {
	if (argc < 2) return 2;
	FILE *f = fopen(argv[1], "r");
	if (f == NULL) return 2;
	char *line = NULL;
	size_t cap = 0;
	static uint8_t first[65536];
	size_t firstlen = 0;
	int count = 0;
	while (getline(&line, &cap, f) > 0) {
		static uint8_t buf[65536];
		size_t len = unhex(line, buf, sizeof(buf));
		/* a private copy of exactly len bytes, so that reading past it is a real overrun */
		uint8_t *msg = malloc(len ? len : 1);
		memcpy(msg, buf, len);
		if (count == 0) {
			memcpy(first, buf, len);
			firstlen = len;
		}
		printf("message %d %zu\n", count++, len);
		dump(msg, len);
		free(msg);
	}
	free(line);
	fclose(f);

	/* Checks on the first message (the full reply). */
	struct iothdns_header h;
	struct iothdns_pkt *pkt = iothdns_get_header(&h, first, firstlen, NULL);
	CHECK("null_qnamebuf_gives_null_qname", pkt != NULL && h.qname == NULL);
	struct iothdns_rr rr;
	CHECK("get_rr_null_namebuf", iothdns_get_rr(pkt, &rr, NULL) == 1 && rr.name == NULL);
	/* in place: the caller's buffer changes */
	iothdns_rewrite_header(pkt, 0xabcd, h.flags);
	CHECK("rewrite_in_place", first[0] == 0xab && first[1] == 0xcd);
	uint16_t id = 0;
	iothdns_retrieve_header(pkt, &id, NULL);
	CHECK("retrieve_after_rewrite", id == 0xabcd);
	struct iovec v = iothdns_getbuf(pkt);
	CHECK("getbuf_is_callers_buffer", v.iov_base == first && v.iov_len == firstlen);
	errno = 0;
	iothdns_put_int8(pkt, 1);
	CHECK("put_on_parsed_einval", errno == EINVAL);
	iothdns_free(pkt);

	CHECK_NULL_ERRNO("short_header_ebadmsg", iothdns_get_header(&h, first, 11, NULL), EBADMSG);
	CHECK_NULL_ERRNO("oversize_emsgsize", iothdns_get_header(&h, first, 70000, NULL), EMSGSIZE);
	CHECK_NULL_ERRNO("null_buf_efault", iothdns_get_header(&h, NULL, 12, NULL), EFAULT);

	/* reading past the end of the data: 0 with EBADMSG, nothing consumed */
	uint8_t msg[] = {0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0,
		0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 2, 0xaa, 0xbb};
	pkt = iothdns_get_header(&h, msg, sizeof(msg), NULL);
	CHECK("root_owner_rr", iothdns_get_rr(pkt, &rr, NULL) == 1 && rr.rdlength == 2);
	errno = 0;
	CHECK("int32_past_end", iothdns_get_int32(pkt) == 0 && errno == EBADMSG);
	CHECK("int16_still_there", iothdns_get_int16(pkt) == 0xaabb);
	errno = 0;
	CHECK("int8_at_end", iothdns_get_int8(pkt) == 0 && errno == EBADMSG);
	errno = 0;
	CHECK("get_rr_end_is_0", iothdns_get_rr(pkt, &rr, NULL) == 0 && errno == 0);
	iothdns_free(pkt);
	DONE();
}
