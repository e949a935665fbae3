/*
 * iothdns.h: DNS for the Internet of Threads, the C interface of ioth-rs's libiothdns.
 *
 * Source-compatible with VirtualSquare's iothdns: a program written for its <iothdns.h>
 * compiles unchanged against this header. Link with -liothdns -lioth, or
 * $(pkg-config --cflags --libs iothdns): libiothdns.so.0 exports the iothdns_ calls
 * (unversioned, as the original) and runs ioth-rs's implementation inside libioth.so.0.
 *
 * Three layers:
 *  - a resolver per stack (struct iothdns): lookups, getaddrinfo/getnameinfo;
 *  - server helpers that read one query from an ioth socket, hand it to a callback and send
 *    the callback's reply back;
 *  - a packet toolkit (struct iothdns_pkt) that composes DNS messages (iothdns_put_*) and
 *    parses them (iothdns_get_*), RFC 1035 with name compression.
 *
 * Conventions (where they differ from the original, see README.md "libiothdns"):
 *  - Names are text with labels separated by '.'; a trailing dot is optional on input and
 *    never present on output; the root is "". Inside a label "\." is a dot, "\\" a
 *    backslash and "\DDD" (three decimal digits) any byte; the get functions write those
 *    escapes for '.', '\' and bytes outside 0x21..0x7e, as glibc's resolver does.
 *  - Composing: the put functions return nothing. The first one that fails (invalid name,
 *    RR out of section order, message over 65535 bytes, a NULL argument) sets errno and
 *    marks the packet failed: later puts do nothing and iothdns_getbuf returns {NULL, 0}
 *    with that errno. A failed packet is never sent by the server helpers.
 *  - Parsing is bounded: a get function never reads past the end of the message, nor (after
 *    iothdns_get_rr) past the end of the current record's data. A read that does not fit
 *    consumes nothing and returns 0 (integers) or NULL (pointers) with errno EBADMSG;
 *    clear errno first to tell a zero value from a failed read. iothdns_get_rr returns 0
 *    at the end of the message and 0 with errno EBADMSG for a malformed record, after which
 *    it keeps returning 0.
 *  - A packet is used by one thread at a time; a pointer that is not a live packet (NULL,
 *    already freed) makes a call fail with EINVAL instead of corrupting memory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef IOTH_RS_IOTHDNS_H
#define IOTH_RS_IOTHDNS_H
/* the original's guard, for code that tests it */
#ifndef IOTHDNS_H
#define IOTHDNS_H
#endif

#include <stdint.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netdb.h>
#include <ioth.h>

#define IOTHDNS_DEFAULT_PORT 53
#define IOTHDNS_MAXNS 3
#define IOTHDNS_TIMEOUT_MS 1000
#define IOTHDNS_DEFAULT_RESOLV_CONF "/etc/resolv.conf"
#define IOTHDNS_DEFAULT_HOSTS       "/etc/hosts"
#define IOTHDNS_DEFAULT_SERVICES    "/etc/services"

struct iothdns;
struct iothdns_pkt;

/* ---------------- resolver configuration ---------------- */

/* Make a resolver on `stack` (NULL: the default stack) from a resolv.conf(5) file or from a
 * string: resolv.conf text (nameserver, search, domain, options ndots: timeout: attempts:
 * rotate use-vc; unreadable lines are skipped), or server addresses separated by commas
 * ("10.0.0.1,2001:db8::53"; the string is not modified). NULL path or string: the stack's
 * own configuration (what it learned by dns=/DHCP/RA; on a kernel stack with nothing
 * configured, /etc/resolv.conf, the original's default). A file or string without
 * "options timeout:" waits IOTHDNS_TIMEOUT_MS per try. NULL with errno on failure
 * (ENOENT/EACCES for the file, EINVAL for a stack pointer that is not a live stack). */
struct iothdns *iothdns_init(struct ioth *stack, char *path_config);
struct iothdns *iothdns_init_strcfg(struct ioth *stack, char *config);
/* Replace the servers, search list and options: 0, or -1 with errno (the old
 * configuration stays). */
int iothdns_update(struct iothdns *iothdns, char *path_config);
int iothdns_update_strcfg(struct iothdns *iothdns, char *config);

/* Append a server, port 53 (af AF_INET with a struct in_addr *, AF_INET6 with a struct
 * in6_addr *): 0, or -1 with errno ENOSPC when IOTHDNS_MAXNS are configured, EAFNOSUPPORT,
 * EFAULT. */
int iothdns_add_nameserver(struct iothdns *iothdns, int af, void *in46_addr);

/* Files used by iothdns_getaddrinfo/iothdns_getnameinfo instead of /etc/hosts and
 * /etc/services (NULL: back to the default). */
enum iothdns_pathtag {IOTHDNS_HOSTS, IOTHDNS_SERVICES,
	IOTHDNS_PATH_SIZE};

void iothdns_setpath(struct iothdns *iothdns, enum iothdns_pathtag pathtag, char *newvalue);
/* As snprintf: the length of the path, written into buf cut to size. */
int iothdns_getpath(struct iothdns *iothdns, enum iothdns_pathtag pathtag, char *buf, size_t size);

/* Release the resolver (NULL is ignored). */
void iothdns_fini(struct iothdns *iothdns);

/* ---------------- client lookups ---------------- */

/* Names resolve as with glibc: the search list for names with fewer dots than ndots (1), a
 * trailing dot makes a name absolute; each server in turn, UDP with EDNS(0), TCP when an
 * answer is truncated; CNAME chains followed; answers cached for their TTL.
 * Failures set errno: ENOENT no such name, ETIMEDOUT servers silent, EAGAIN servers failing
 * (SERVFAIL, REFUSED), the network's errno when no server could be reached, EDESTADDRREQ no
 * server configured, EINVAL a bad name or handle. */

/* Addresses of `name`: the number found (the first n are stored; n may be 0), 0 when the
 * name has none of that family, -1 with errno. A numeric address is returned without a
 * query (an address of the other family: 0). */
int iothdns_lookup_a(struct iothdns *iothdns, const char *name, struct in_addr *a, int n);
int iothdns_lookup_aaaa(struct iothdns *iothdns, const char *name, struct in6_addr *aaaa, int n);
/* IPv6 addresses first, then IPv4 ones as ::ffff:a.b.c.d. */
int iothdns_lookup_aaaa_compat(struct iothdns *iothdns, const char *name, struct in6_addr *aaaa, int n);

/* getaddrinfo(3): hosts file first, then DNS (AF_UNSPEC: IPv4 entries before IPv6 ones);
 * one entry per address and socket type (STREAM, DGRAM, RAW unless hinted); failures return
 * EAI_NONAME, EAI_NODATA, EAI_AGAIN, EAI_SERVICE (unknown service), EAI_FAMILY,
 * EAI_SOCKTYPE, EAI_BADFLAGS, EAI_ADDRFAMILY, EAI_SYSTEM (errno set). AI_CANONNAME gives the
 * end of the CNAME chain; AI_V4MAPPED/AI_ALL apply to AF_INET6; AI_ADDRCONFIG is ignored.
 * getnameinfo(3): hosts file, then PTR; every NI_* flag is honoured. */
int iothdns_getaddrinfo(struct iothdns *iothdns,
		const char *node, const char *service,
		const struct addrinfo *hints,
		struct addrinfo **res);

void iothdns_freeaddrinfo(struct addrinfo *res);

const char *iothdns_gai_strerror(int errcode);

int iothdns_getnameinfo(struct iothdns *iothdns,
		const struct sockaddr *addr, socklen_t addrlen,
		char *host, socklen_t hostlen,
		char *serv, socklen_t servlen, int flags);

/* Any query: lookup_cb is called for each record of the answer, authority and additional
 * sections of the reply (section 1, 2, 3); vpkt is positioned at the record's data for the
 * iothdns_get_* functions. A non-zero return stops the scan and is returned; 0 when every
 * call returned 0 or the name has no records of that type (no call then); -1 with errno. */
struct iothdns_rr;
typedef int lookup_cb_t(int section, struct iothdns_rr *rr, struct iothdns_pkt *vpkt, void *arg);
int iothdns_lookup_cb(struct iothdns *iothdns, const char *name, int qtype,
		lookup_cb_t *lookup_cb, void *arg);
/* The same, over TCP only. */
int iothdns_lookup_cb_tcp(struct iothdns *iothdns, const char *name, int qtype,
		lookup_cb_t *lookup_cb, void *arg);

/* ---------------- server helpers ---------------- */

struct iothdns_header;
/* Called once per query with its header and first question (h->qname valid during the
 * call). Returns the reply, built with iothdns_put_header & co, or NULL for no answer. The
 * helper sends the reply and frees it: the callback must not free or reuse it. */
typedef struct iothdns_pkt *parse_request_t(struct iothdns_header *h, void *arg);

/* fd is an ioth UDP socket: receive one datagram, call parse_request if it is a query with
 * a question, send the reply to the sender. A reply longer than the client accepts (512
 * bytes, or the payload size of the query's EDNS OPT record) is sent truncated: header
 * with TC, the question and the reply's OPT record. Returns the length of the datagram
 * received (responses and malformed messages are dropped, not answered), or -1 with errno
 * (the socket's, e.g. EAGAIN). */
int iothdns_udp_process_request(int fd, parse_request_t *parse_request, void *arg);

/* fd is a connected ioth TCP socket: read one framed message (2-byte length, up to 65535
 * bytes), call parse_request as above, write the framed reply. Returns the message length,
 * 0 when the peer closed before sending, -1 with errno (ETIMEDOUT after
 * IOTHDNS_TIMEOUT_MS without progress, EBADMSG for a cut or empty frame). */
int iothdns_tcp_process_request(int fd, parse_request_t *parse_request, void *arg);

/* ---------------- packets ---------------- */

struct iothdns_header {
	uint16_t id;
	uint16_t flags;
	const char *qname;   /* NULL: no question */
	uint16_t qtype;
	uint16_t qclass;
};

struct iothdns_rr {
	const char *name;
	uint16_t type;
	uint16_t class;
	uint32_t ttl;
	uint16_t rdlength;
};

/* Compose: a new message with h's id and flags and, when h->qname is not NULL, one
 * question. NULL with errno EINVAL for an invalid name. */
struct iothdns_pkt *iothdns_put_header(struct iothdns_header *h);

/* Start a record in `section` (IOTHDNS_SEC_ANSWER, _AUTH, _ADDITIONAL); its data follows
 * with the put functions below and its RDLENGTH is computed. Records must come in
 * non-decreasing section order: a record for an earlier section than the previous one (or
 * an invalid section) fails the packet with EINVAL. */
void iothdns_put_rr(int section, struct iothdns_pkt *vpkt, struct iothdns_rr *rr);

/* Data of the current record (integers in network byte order). */
void iothdns_put_int8(struct iothdns_pkt *vpkt, uint8_t data);
void iothdns_put_int16(struct iothdns_pkt *vpkt, uint16_t data);
void iothdns_put_int32(struct iothdns_pkt *vpkt, uint32_t data);
void iothdns_put_data(struct iothdns_pkt *vpkt, void *data, uint16_t len);
/* A name, compressed against the names already in the message (compared ignoring case). */
void iothdns_put_name(struct iothdns_pkt *vpkt, const char *name);
/* A name written in full, for record types whose data must not be compressed. */
void iothdns_put_name_uncompressed(struct iothdns_pkt *vpkt, const char *name);
/* A character-string: length byte and at most IOTHDNS_MAXSTRING bytes (longer is cut). */
void iothdns_put_string(struct iothdns_pkt *vpkt, char *string);
void iothdns_put_a(struct iothdns_pkt *vpkt, void *addr_ipv4);
void iothdns_put_aaaa(struct iothdns_pkt *vpkt, void *addr_ipv6);

/* Parse: read the header and the first question of the message in buf (which must stay
 * valid, and is the packet's storage, until iothdns_free). qnamebuf (IOTHDNS_MAXNAME
 * bytes, or NULL) receives the question's name; h->qname is NULL when there is no
 * question. Further questions are skipped. NULL with errno EBADMSG when the header or
 * question is malformed, EMSGSIZE for more than 65535 bytes. */
struct iothdns_pkt *iothdns_get_header(struct iothdns_header *h, void *buf, size_t bufsize, char *qnamebuf);

/* The next record: its section (1..3), 0 at the end. namebuf (IOTHDNS_MAXNAME bytes, or
 * NULL) receives its name. Data not read with the functions below is skipped. */
int iothdns_get_rr(struct iothdns_pkt *vpkt, struct iothdns_rr *rr, char *namebuf);

/* Data of the current record. */
uint8_t iothdns_get_int8(struct iothdns_pkt *vpkt);
uint16_t iothdns_get_int16(struct iothdns_pkt *vpkt);
uint32_t iothdns_get_int32(struct iothdns_pkt *vpkt);
void *iothdns_get_data(struct iothdns_pkt *vpkt, void *data, uint16_t len);
/* A name (compression pointers followed) into `name` (IOTHDNS_MAXNAME bytes; NULL skips
 * it); NULL with ENAMETOOLONG when its text with escapes would not fit. */
char *iothdns_get_name(struct iothdns_pkt *vpkt, char *name);
/* A character-string into `name` (IOTHDNS_MAXSTRING + 1 bytes; NULL skips it). */
char *iothdns_get_string(struct iothdns_pkt *vpkt, char *name);
void *iothdns_get_a(struct iothdns_pkt *vpkt, void *addr_ipv4);
void *iothdns_get_aaaa(struct iothdns_pkt *vpkt, void *addr_ipv6);

/* Both modes. The message as an iovec for send/sendto/write/writev: composed messages get
 * their counts and the current RDLENGTH filled in (the buffer is valid until the next put
 * or iothdns_free; more records may still be added); parsed ones are buf itself. */
struct iovec iothdns_getbuf(struct iothdns_pkt *vpkt);

/* Release a packet (a parsed message's buffer stays the caller's). */
void iothdns_free(struct iothdns_pkt *vpkt);

/* Read or overwrite the id and flags in place (forwarders); NULL id/flags are skipped. */
void iothdns_retrieve_header(struct iothdns_pkt *vpkt, uint16_t *id, uint16_t *flags);
void iothdns_rewrite_header(struct iothdns_pkt *vpkt, uint16_t id, uint16_t flags);

/* ---------------- constants ---------------- */

#define IOTHDNS_MAXNAME 256
#define IOTHDNS_MAXSTRING 255
#define IOTHDNS_UDP_MAXBUF 512
#define IOTHDNS_TCP_MAXBUF 65536

#define IOTHDNS_SECTIONS 4
#define IOTHDNS_SEC_QUERY 0
#define IOTHDNS_SEC_ANSWER 1
#define IOTHDNS_SEC_AUTH 2
#define IOTHDNS_SEC_ADDITIONAL 3

#define IOTHDNS_QUERY    0x0000
#define IOTHDNS_RESPONSE 0x8000
#define IOTHDNS_QR_MASK  0x8000
#define IOTHDNS_IS_QUERY(x)    (((x) & IOTHDNS_QR_MASK) == IOTHDNS_QUERY)
#define IOTHDNS_IS_RESPONSE(x) (((x) & IOTHDNS_QR_MASK) == IOTHDNS_RESPONSE)
#define IOTHDNS_OP_MASK   0x7800

#define IOTHDNS_AA        0x0400
#define IOTHDNS_TRUNC     0x0200
#define IOTHDNS_RD        0x0100
#define IOTHDNS_RA        0x0080
#define IOTHDNS_Z         0x0040
#define IOTHDNS_AD        0x0020
#define IOTHDNS_CD        0x0010

#define IOTHDNS_RCODE_MASK 0x000F
#define IOTHDNS_GET_RCODE(x) ((x) & IOTHDNS_RCODE_MASK)
#define IOTHDNS_RCODE_OK     0
#define IOTHDNS_RCODE_EFMT   1
#define IOTHDNS_RCODE_EFAIL  2
#define IOTHDNS_RCODE_ENOENT 3
#define IOTHDNS_RCODE_ENOSUP 4
#define IOTHDNS_RCODE_EPERM  5

#define IOTHDNS_CLASS_IN     1
#define IOTHDNS_CLASS_ANY  255

#define IOTHDNS_TYPE_A       1
#define IOTHDNS_TYPE_NS      2
#define IOTHDNS_TYPE_CNAME   5
#define IOTHDNS_TYPE_SOA     6
#define IOTHDNS_TYPE_NULL   10
#define IOTHDNS_TYPE_PTR    12
#define IOTHDNS_TYPE_MX     15
#define IOTHDNS_TYPE_TXT    16
#define IOTHDNS_TYPE_AAAA   28
#define IOTHDNS_TYPE_ANY   255

#endif
