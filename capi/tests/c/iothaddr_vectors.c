/* libiothaddr's functions against the test vectors computed with the original C code
 * (iothnames.md section 8): hashed IPv6 addresses with and without password and time slot,
 * hashed MACs, EUI-64 of a hashed MAC; and that bad arguments leave the output alone.
 * Needs <iothaddr.h> and -liothaddr only. */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <arpa/inet.h>
#include <iothaddr.h>
#include "check.h"

struct hash_vector {
	const char *base, *name, *passwd;
	uint32_t otiptime;
	const char *result;
};

static const struct hash_vector hashes[] = {
	{"fc00::", "renzo.hash.local", NULL, 0, "fc00::4cc:8049:6765:d03a"},
	{"fc00::", "renzo.hash.local.", NULL, 0, "fc00::4cc:8049:6765:d03a"},
	{"fc00::", "hic_sunt_leones.hash.local.", NULL, 0, "fc00::9c8f:74b4:705f:6512"},
	{"2001:760:2e00:ff00::", "lucia.hash.v2.cs.unibo.it", NULL, 0,
		"2001:760:2e00:ff00:cf1:1fe9:aad4:e838"},
	{"2001:760:2e00:ff00::", "whatever-you-want.hash.v2.cs.unibo.it.", NULL, 0,
		"2001:760:2e00:ff00:542d:ffcb:17e:8fa7"},
	{"fc01::", "host.hash.local", NULL, 0, "fc01::3c33:4b38:1351:d163"},
	{"fc01::", "renzo.otip", "mypassword", 0, "fc01::a086:5677:2679:16f9"},
	{"fc01::", "renzo.otip", "mypassword", 1, "fc01::a80d:c83f:9271:d9ce"},
	{"fc01::", "renzo.otip", "mypassword", 54321, "fc01::6c96:53ca:eb83:2907"},
	{"fc01::", "renzo.otip.", "mypassword", 54321, "fc01::6c96:53ca:eb83:2907"},
	{"fc00::", "sensor.iot.local", "secret", 1, "fc00::1041:adb6:86d9:8900"},
	{"2001:760:2e00:ff00::", "test.otip.v2.cs.unibo.it", "secret_password", 54321,
		"2001:760:2e00:ff00:6093:6dff:e052:6b26"},
	{"fc00::", "thread-7.iot.example", NULL, 1, "fc00::6cd2:3c05:1499:5e37"},
	{"fc00::", "thread-7.iot.example", NULL, 54321, "fc00::5824:cefa:9d82:9352"},
};

struct mac_vector {
	const char *name, *passwd, *mac;
};

static const struct mac_vector macs[] = {
	{"test.v2.cs.unibo.it", NULL, "6a:d6:2f:5a:5a:2e"},
	{"renzo.hash.local", NULL, "06:cc:80:65:d0:3a"},
	{"thread-7.iot.example", NULL, "72:8b:cf:01:bf:d0"},
	{"hic_sunt_leones.hash.local.", NULL, "9e:8f:74:5f:65:12"},
	{"renzo.otip", "mypassword", "a2:86:56:79:16:f9"},
};

static int addr_is(const unsigned char *addr, const char *expected) {
	char text[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, addr, text, sizeof(text));
	if (strcmp(text, expected) != 0) {
		printf("  got %s, expected %s\n", text, expected);
		return 0;
	}
	return 1;
}

int main(void) {
	char name[64];
	unsigned char addr[16], mac[6], copy[16];
	size_t i;
	for (i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		inet_pton(AF_INET6, hashes[i].base, addr);
		iothaddr_hash(addr, hashes[i].name, hashes[i].passwd, hashes[i].otiptime);
		snprintf(name, sizeof(name), "hash_vector_%zu", i + 1);
		CHECK(name, addr_is(addr, hashes[i].result));
	}
	/* an empty password is no password */
	inet_pton(AF_INET6, "fc00::", addr);
	iothaddr_hash(addr, "renzo.hash.local", "", 0);
	CHECK("hash_empty_password_is_none", addr_is(addr, "fc00::4cc:8049:6765:d03a"));
	for (i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
		char text[18];
		iothaddr_hashmac(mac, macs[i].name, macs[i].passwd);
		snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x",
				mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		snprintf(name, sizeof(name), "hashmac_vector_%zu", i + 15);
		CHECK(name, strcmp(text, macs[i].mac) == 0);
	}
	inet_pton(AF_INET6, "2000:760::", addr);
	iothaddr_hasheui64(addr, "test.v2.cs.unibo.it", NULL);
	CHECK("hasheui64_vector_20", addr_is(addr, "2000:760::68d6:2fff:fe5a:5a2e"));
	/* the same through iothaddr_eui64 of the hashed MAC */
	inet_pton(AF_INET6, "2000:760::", addr);
	iothaddr_hashmac(mac, "test.v2.cs.unibo.it", NULL);
	iothaddr_eui64(addr, mac);
	CHECK("eui64_of_hashmac", addr_is(addr, "2000:760::68d6:2fff:fe5a:5a2e"));
	/* EUI-64 XORs the MAC's last three bytes into the base */
	inet_pton(AF_INET6, "fe80::1", addr);
	unsigned char m2[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	iothaddr_eui64(addr, m2);
	CHECK("eui64_xors_into_base", addr_is(addr, "fe80::5054:ff:fe12:3457"));
	/* a NULL name leaves the address alone (EFAULT) */
	inet_pton(AF_INET6, "fc00::1", addr);
	memcpy(copy, addr, sizeof(addr));
	errno = 0;
	iothaddr_hash(addr, NULL, NULL, 0);
	CHECK("hash_null_name_unchanged", memcmp(addr, copy, sizeof(addr)) == 0 && errno == EFAULT);
	DONE();
}
