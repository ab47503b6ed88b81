/*
 * test_netdecode.c - link, IPv4/IPv6 and TCP decoding (parsers/netdecode.c).
 *
 * Frames are built here from parts (a TCP segment, an IP header around it, a
 * link header around that), so every golden case states what it contains.
 * Every frame is also decoded truncated at every offset from an exact-size
 * heap copy: the decoder must answer ND_BAD or a consistent ND_TCP (present +
 * missing = the whole payload) and never read past the copy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netdecode.h"

/* ---- frame building ---- */

static size_t put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

static size_t put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

/* memcpy with a NULL source is undefined even for 0 bytes. */
static void cpy(uint8_t *d, const uint8_t *s, size_t n)
{
	if (n)
		memcpy(d, s, n);
}

static const uint8_t PAYLOAD[] = "\x03\x00\x00\x07\x02\xf0\x80";  /* a TPKT */
#define PAYLOAD_LEN 7

/* TCP header (doff words, options filled with NOP) + payload. */
static size_t mk_tcp(uint8_t *p, unsigned doff, const uint8_t *pl, size_t n)
{
	size_t o = 0;
	o += put16(p + o, 49152);
	o += put16(p + o, 102);
	o += put32(p + o, 0x11223344);
	o += put32(p + o, 0x55667788);
	p[o++] = (uint8_t)(doff << 4);
	p[o++] = ND_PSH | ND_ACK;
	o += put16(p + o, 8192);
	o += put32(p + o, 0);
	while (o < doff * 4u)
		p[o++] = 1;      /* NOP option */
	cpy(p + o, pl, n);
	return o + n;
}

/* IPv4 header (ihl words) around inner; total = 0 means "as built". */
static size_t mk_ipv4(uint8_t *p, unsigned ihl, uint8_t proto, unsigned frag,
		      const uint8_t *inner, size_t n, unsigned total)
{
	size_t o = 0;
	p[o++] = (uint8_t)(0x40 | ihl);
	p[o++] = 0;
	o += put16(p + o, total ? total : (unsigned)(ihl * 4 + n));
	o += put16(p + o, 0x1234);
	o += put16(p + o, frag);
	p[o++] = 64;
	p[o++] = proto;
	o += put16(p + o, 0);
	static const uint8_t src[4] = { 10, 0, 0, 5 }, dst[4] = { 10, 0, 0, 9 };
	memcpy(p + o, src, 4);
	o += 4;
	memcpy(p + o, dst, 4);
	o += 4;
	while (o < ihl * 4u)
		p[o++] = 1;      /* NOP option */
	cpy(p + o, inner, n);
	return o + n;
}

/* IPv6 header; ext = extension bytes (already chained) placed before inner. */
static size_t mk_ipv6(uint8_t *p, uint8_t nh, const uint8_t *ext, size_t elen,
		      const uint8_t *inner, size_t n)
{
	size_t o = 0;
	p[o++] = 0x60;
	p[o++] = 0;
	p[o++] = 0;
	p[o++] = 0;
	o += put16(p + o, (unsigned)(elen + n));
	p[o++] = nh;
	p[o++] = 64;
	static const uint8_t src[16] = { 0xfd, 0, [15] = 5 };
	static const uint8_t dst[16] = { 0xfd, 0, [15] = 9 };
	memcpy(p + o, src, 16);
	o += 16;
	memcpy(p + o, dst, 16);
	o += 16;
	cpy(p + o, ext, elen);
	o += elen;
	cpy(p + o, inner, n);
	return o + n;
}

/* Ethernet with the given tag TPIDs, then ethertype. */
static size_t mk_eth(uint8_t *p, const unsigned *tags, size_t ntags,
		     unsigned type, const uint8_t *inner, size_t n)
{
	size_t o = 0;
	for (int i = 0; i < 12; i++)
		p[o++] = (uint8_t)(0x10 + i);
	for (size_t i = 0; i < ntags; i++) {
		o += put16(p + o, tags[i]);
		o += put16(p + o, 100 + (unsigned)i);
	}
	o += put16(p + o, type);
	cpy(p + o, inner, n);
	return o + n;
}

static size_t tcp4(uint8_t *ip)
{
	uint8_t tcp[128];
	size_t tl = mk_tcp(tcp, 5, PAYLOAD, PAYLOAD_LEN);
	return mk_ipv4(ip, 5, 6, 0x4000, tcp, tl, 0);
}

static size_t tcp6(uint8_t *ip)
{
	uint8_t tcp[128];
	size_t tl = mk_tcp(tcp, 5, PAYLOAD, PAYLOAD_LEN);
	return mk_ipv6(ip, 6, NULL, 0, tcp, tl);
}

/* Decode from an exact-size heap copy. */
static enum nd_result dec(int lt, const uint8_t *f, size_t cap, size_t wire,
			  struct nd_tcp *t, struct pg_err *e)
{
	uint8_t *c = malloc(cap ? cap : 1);
	assert_non_null(c);
	memcpy(c, f, cap);
	pg_err_clear(e);
	enum nd_result r = nd_decode(lt, c, cap, wire, t, e);
	/* payload must point into the copy; re-aim it at the original */
	if (r == ND_TCP && t->payload) {
		assert_true(t->payload >= c && t->payload + t->len <= c + cap);
		t->payload = f + (t->payload - c);
	}
	free(c);
	return r;
}

static void check_tcp(const struct nd_tcp *t, int af)
{
	assert_int_equal(t->af, af);
	assert_int_equal(t->sport, 49152);
	assert_int_equal(t->dport, 102);
	assert_int_equal(t->seq, 0x11223344);
	assert_int_equal(t->ack, 0x55667788);
	assert_int_equal(t->flags, ND_PSH | ND_ACK);
	assert_int_equal(t->win, 8192);
	assert_int_equal(t->len, PAYLOAD_LEN);
	assert_int_equal(t->missing, 0);
	assert_memory_equal(t->payload, PAYLOAD, PAYLOAD_LEN);
	if (af == 4) {
		static const uint8_t s[16] = { 10, 0, 0, 5 }, d[16] = { 10, 0, 0, 9 };
		assert_memory_equal(t->src, s, 16);
		assert_memory_equal(t->dst, d, 16);
	} else {
		assert_int_equal(t->src[0], 0xfd);
		assert_int_equal(t->src[15], 5);
		assert_int_equal(t->dst[15], 9);
	}
}

/*
 * Truncate at every offset with the wire length kept: the answer is ND_BAD
 * (cut inside a header) or ND_TCP whose present + missing is the payload.
 * Then the same with the wire length equal to the cut (a frame that really
 * was that short): never ND_TCP with bytes beyond the frame.
 */
static void check_truncations(int lt, const uint8_t *f, size_t n, size_t plen)
{
	struct nd_tcp t;
	struct pg_err e;
	for (size_t i = 0; i < n; i++) {
		enum nd_result r = dec(lt, f, i, n, &t, &e);
		if (r == ND_TCP) {
			assert_int_equal(t.len + t.missing, plen);
			assert_true(t.len <= i);
		} else {
			assert_int_equal(r, ND_BAD);
			assert_true(e.field[0] != '\0');
		}
		r = dec(lt, f, i, i, &t, &e);
		if (r == ND_TCP)
			assert_int_equal(t.missing, 0);
		else
			assert_int_equal(r, ND_BAD);
	}
}

/* ---- link types ---- */

static void test_ethernet_ipv4(void **state)
{
	(void)state;
	uint8_t ip[256], f[300];
	size_t il = tcp4(ip);
	size_t n = mk_eth(f, NULL, 0, 0x0800, ip, il);
	struct nd_tcp t;
	struct pg_err e;
	assert_int_equal(dec(1, f, n, n, &t, &e), ND_TCP);
	check_tcp(&t, 4);
	/* the payload sits after 14 + 20 + 20 bytes */
	assert_ptr_equal(t.payload, f + 54);
	check_truncations(1, f, n, PAYLOAD_LEN);
}

static void test_ethernet_ipv6(void **state)
{
	(void)state;
	uint8_t ip[256], f[300];
	size_t il = tcp6(ip);
	size_t n = mk_eth(f, NULL, 0, 0x86DD, ip, il);
	struct nd_tcp t;
	struct pg_err e;
	assert_int_equal(dec(1, f, n, n, &t, &e), ND_TCP);
	check_tcp(&t, 6);
	check_truncations(1, f, n, PAYLOAD_LEN);
}

static void test_vlan_qinq(void **state)
{
	(void)state;
	uint8_t ip[256], f[300];
	size_t il = tcp4(ip);
	struct nd_tcp t;
	struct pg_err e;
	static const unsigned one[] = { 0x8100 };
	static const unsigned qinq[] = { 0x88A8, 0x8100 };
	static const unsigned old[] = { 0x9100, 0x8100 };
	static const unsigned four[] = { 0x88A8, 0x9100, 0x8100, 0x8100 };
	static const unsigned five[] = { 0x88A8, 0x8100, 0x8100, 0x8100, 0x8100 };

	size_t n = mk_eth(f, one, 1, 0x0800, ip, il);
	assert_int_equal(dec(1, f, n, n, &t, &e), ND_TCP);
	check_tcp(&t, 4);
	assert_ptr_equal(t.payload, f + 58);
	check_truncations(1, f, n, PAYLOAD_LEN);

	n = mk_eth(f, qinq, 2, 0x0800, ip, il);
	assert_int_equal(dec(1, f, n, n, &t, &e), ND_TCP);
	check_tcp(&t, 4);
	check_truncations(1, f, n, PAYLOAD_LEN);

	n = mk_eth(f, old, 2, 0x0800, ip, il);
	assert_int_equal(dec(1, f, n, n, &t, &e), ND_TCP);
	check_tcp(&t, 4);

	n = mk_eth(f, four, 4, 0x0800, ip, il);
	assert_int_equal(dec(1, f, n, n, &t, &e), ND_TCP);
	check_tcp(&t, 4);
	assert_ptr_equal(t.payload, f + 14 + 16 + 40);

	n = mk_eth(f, five, 5, 0x0800, ip, il);
	assert_int_equal(dec(1, f, n, n, &t, &e), ND_BAD);
	assert_string_equal(e.field, "eth/vlan");
	assert_int_equal(e.offset, 12 + 16);   /* the fifth TPID */
}

static void test_sll_sll2(void **state)
{
	(void)state;
	uint8_t ip[256], f[300];
	size_t il = tcp4(ip);
	struct nd_tcp t;
	struct pg_err e;

	/* SLL: pkttype 0, hatype 1, halen 6, addr(8), proto */
	memset(f, 0, 16);
	f[3] = 1;
	f[5] = 6;
	put16(f + 14, 0x0800);
	memcpy(f + 16, ip, il);
	assert_int_equal(dec(113, f, 16 + il, 16 + il, &t, &e), ND_TCP);
	check_tcp(&t, 4);
	check_truncations(113, f, 16 + il, PAYLOAD_LEN);
	put16(f + 14, 0x0806);                 /* ARP */
	assert_int_equal(dec(113, f, 16 + il, 16 + il, &t, &e), ND_NOT_IP);

	/* SLL2: proto first, 20 bytes */
	size_t l6 = tcp6(ip);
	memset(f, 0, 20);
	put16(f, 0x86DD);
	f[9] = 1;
	f[11] = 6;
	memcpy(f + 20, ip, l6);
	assert_int_equal(dec(276, f, 20 + l6, 20 + l6, &t, &e), ND_TCP);
	check_tcp(&t, 6);
	check_truncations(276, f, 20 + l6, PAYLOAD_LEN);
}

static void test_raw_and_null(void **state)
{
	(void)state;
	uint8_t ip4[256], ip6[256], f[300];
	size_t l4 = tcp4(ip4), l6 = tcp6(ip6);
	struct nd_tcp t;
	struct pg_err e;
	static const int raws[] = { 12, 14, 101 };
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(dec(raws[i], ip4, l4, l4, &t, &e), ND_TCP);
		check_tcp(&t, 4);
		assert_int_equal(dec(raws[i], ip6, l6, l6, &t, &e), ND_TCP);
		check_tcp(&t, 6);
	}
	check_truncations(101, ip4, l4, PAYLOAD_LEN);
	check_truncations(101, ip6, l6, PAYLOAD_LEN);
	assert_int_equal(dec(228, ip4, l4, l4, &t, &e), ND_TCP);
	assert_int_equal(dec(229, ip6, l6, l6, &t, &e), ND_TCP);
	/* an IPv6 packet on the IPv4 link type is malformed, named */
	assert_int_equal(dec(228, ip6, l6, l6, &t, &e), ND_BAD);
	assert_string_equal(e.field, "ipv4/version");
	uint8_t bad = 0x50;
	assert_int_equal(dec(101, &bad, 1, 1, &t, &e), ND_BAD);
	assert_string_equal(e.field, "ip/version");

	/* NULL: AF in the capturing host's order, either order accepted */
	static const uint8_t af_le4[4] = { 2, 0, 0, 0 }, af_be4[4] = { 0, 0, 0, 2 };
	static const uint8_t af_le6[4] = { 30, 0, 0, 0 }, af_be6[4] = { 0, 0, 0, 24 };
	memcpy(f, af_le4, 4);
	memcpy(f + 4, ip4, l4);
	assert_int_equal(dec(0, f, 4 + l4, 4 + l4, &t, &e), ND_TCP);
	check_tcp(&t, 4);
	check_truncations(0, f, 4 + l4, PAYLOAD_LEN);
	memcpy(f, af_be4, 4);
	assert_int_equal(dec(0, f, 4 + l4, 4 + l4, &t, &e), ND_TCP);
	assert_int_equal(dec(108, f, 4 + l4, 4 + l4, &t, &e), ND_TCP);
	memcpy(f, af_le6, 4);
	memcpy(f + 4, ip6, l6);
	assert_int_equal(dec(0, f, 4 + l6, 4 + l6, &t, &e), ND_TCP);
	check_tcp(&t, 6);
	memcpy(f, af_be6, 4);
	assert_int_equal(dec(0, f, 4 + l6, 4 + l6, &t, &e), ND_TCP);
	f[0] = 0; f[1] = 0; f[2] = 0; f[3] = 7;    /* AF 7: not IP */
	assert_int_equal(dec(0, f, 4 + l6, 4 + l6, &t, &e), ND_NOT_IP);
	assert_int_equal(dec(0, f, 3, 3, &t, &e), ND_BAD);
	assert_string_equal(e.field, "null/af");

	assert_int_equal(dec(9999, f, 10, 10, &t, &e), ND_LINKTYPE);
}

static void test_not_ip_not_tcp(void **state)
{
	(void)state;
	uint8_t ip[256], f[300];
	struct nd_tcp t;
	struct pg_err e;
	uint8_t udp[16] = { 0 };
	size_t il = mk_ipv4(ip, 5, 17, 0, udp, sizeof udp, 0);
	size_t n = mk_eth(f, NULL, 0, 0x0800, ip, il);
	assert_int_equal(dec(1, f, n, n, &t, &e), ND_NOT_TCP);
	n = mk_eth(f, NULL, 0, 0x0806, ip, il);
	assert_int_equal(dec(1, f, n, n, &t, &e), ND_NOT_IP);
	n = mk_eth(f, NULL, 0, 0x0040, ip, il);   /* 802.3 length field */
	assert_int_equal(dec(1, f, n, n, &t, &e), ND_NOT_IP);
	il = mk_ipv6(ip, 17, NULL, 0, udp, sizeof udp);
	n = mk_eth(f, NULL, 0, 0x86DD, ip, il);
	assert_int_equal(dec(1, f, n, n, &t, &e), ND_NOT_TCP);
	assert_int_equal(dec(1, f, 13, 13, &t, &e), ND_BAD);
	assert_string_equal(e.field, "eth/type");
}

/* ---- IP ---- */

static void test_ipv4_fragments_options(void **state)
{
	(void)state;
	uint8_t tcp[128], ip[256];
	struct nd_tcp t;
	struct pg_err e;
	size_t tl = mk_tcp(tcp, 5, PAYLOAD, PAYLOAD_LEN);
	size_t il = mk_ipv4(ip, 5, 6, 0x2000, tcp, tl, 0);     /* MF */
	assert_int_equal(dec(228, ip, il, il, &t, &e), ND_FRAGMENT);
	il = mk_ipv4(ip, 5, 6, 0x0010, tcp, tl, 0);            /* offset 16 */
	assert_int_equal(dec(228, ip, il, il, &t, &e), ND_FRAGMENT);
	il = mk_ipv4(ip, 5, 6, 0x4000, tcp, tl, 0);            /* DF only */
	assert_int_equal(dec(228, ip, il, il, &t, &e), ND_TCP);

	/* IP options (IHL 8) and TCP options (doff 8) are skipped */
	tl = mk_tcp(tcp, 8, PAYLOAD, PAYLOAD_LEN);
	il = mk_ipv4(ip, 8, 6, 0, tcp, tl, 0);
	assert_int_equal(dec(228, ip, il, il, &t, &e), ND_TCP);
	check_tcp(&t, 4);
	assert_ptr_equal(t.payload, ip + 32 + 32);
	check_truncations(228, ip, il, PAYLOAD_LEN);
}

static void test_ipv4_bad(void **state)
{
	(void)state;
	uint8_t tcp[128], ip[256];
	struct nd_tcp t;
	struct pg_err e;
	size_t tl = mk_tcp(tcp, 5, PAYLOAD, PAYLOAD_LEN);
	size_t il = mk_ipv4(ip, 4, 6, 0, tcp, tl, 0);          /* IHL 4 */
	assert_int_equal(dec(228, ip, il, il, &t, &e), ND_BAD);
	assert_string_equal(e.field, "ipv4/ihl");
	assert_int_equal(e.offset, 0);

	il = mk_ipv4(ip, 5, 6, 0, tcp, tl, 19);                /* total < IHL */
	assert_int_equal(dec(228, ip, il, il, &t, &e), ND_BAD);
	assert_string_equal(e.field, "ipv4/total_length");
	assert_int_equal(e.offset, 2);

	il = mk_ipv4(ip, 5, 6, 0, tcp, tl, 1000);              /* beyond frame */
	assert_int_equal(dec(228, ip, il, il, &t, &e), ND_BAD);
	assert_string_equal(e.field, "ipv4/total_length");

	il = mk_ipv4(ip, 15, 6, 0, tcp, tl, 0);                /* IHL 15 cut */
	assert_int_equal(dec(228, ip, 40, il, &t, &e), ND_BAD);
	assert_string_equal(e.field, "ipv4/ihl");

	tl = mk_tcp(tcp, 4, PAYLOAD, PAYLOAD_LEN);             /* doff 4 */
	il = mk_ipv4(ip, 5, 6, 0, tcp, tl, 0);
	assert_int_equal(dec(228, ip, il, il, &t, &e), ND_BAD);
	assert_string_equal(e.field, "tcp/data_offset");
	assert_int_equal(e.offset, 20 + 12);

	tl = mk_tcp(tcp, 5, PAYLOAD, PAYLOAD_LEN);
	tcp[12] = 0xF0;                                         /* doff 15 > segment */
	il = mk_ipv4(ip, 5, 6, 0, tcp, tl, 0);
	assert_int_equal(dec(228, ip, il, il, &t, &e), ND_BAD);
	assert_string_equal(e.field, "tcp/data_offset");

	/* TCP options cut by the snaplen */
	tl = mk_tcp(tcp, 10, PAYLOAD, PAYLOAD_LEN);
	il = mk_ipv4(ip, 5, 6, 0, tcp, tl, 0);
	assert_int_equal(dec(228, ip, 50, il, &t, &e), ND_BAD);
	assert_string_equal(e.field, "tcp/options");

	/* TCP header shorter than 20 bytes */
	il = mk_ipv4(ip, 5, 6, 0, tcp, 12, 0);
	assert_int_equal(dec(228, ip, il, il, &t, &e), ND_BAD);
	assert_string_equal(e.field, "tcp/header");
	assert_int_equal(e.offset, 20);
}

/* Ethernet minimum frame: 6 bytes of padding after a bare ACK. */
static void test_ethernet_padding(void **state)
{
	(void)state;
	uint8_t tcp[64], ip[128], f[128];
	struct nd_tcp t;
	struct pg_err e;
	size_t tl = mk_tcp(tcp, 5, NULL, 0);
	size_t il = mk_ipv4(ip, 5, 6, 0x4000, tcp, tl, 0);
	size_t n = mk_eth(f, NULL, 0, 0x0800, ip, il);
	assert_int_equal(n, 54);
	memset(f + n, 0xEE, 6);
	assert_int_equal(dec(1, f, 60, 60, &t, &e), ND_TCP);
	assert_int_equal(t.len, 0);
	assert_int_equal(t.missing, 0);
	assert_null(t.payload);

	/* the same with 2 payload bytes: padding is 4 bytes, never payload */
	tl = mk_tcp(tcp, 5, (const uint8_t *)"AB", 2);
	il = mk_ipv4(ip, 5, 6, 0x4000, tcp, tl, 0);
	n = mk_eth(f, NULL, 0, 0x0800, ip, il);
	memset(f + n, 0xEE, 60 - n);
	assert_int_equal(dec(1, f, 60, 60, &t, &e), ND_TCP);
	assert_int_equal(t.len, 2);
	assert_memory_equal(t.payload, "AB", 2);
}

/* snaplen: the IP header announces more than was captured. */
static void test_snaplen_missing(void **state)
{
	(void)state;
	uint8_t tcp[1100], ip[1200], f[1300];
	uint8_t pl[1000];
	for (size_t i = 0; i < sizeof pl; i++)
		pl[i] = (uint8_t)i;
	struct nd_tcp t;
	struct pg_err e;
	size_t tl = mk_tcp(tcp, 5, pl, sizeof pl);
	size_t il = mk_ipv4(ip, 5, 6, 0x4000, tcp, tl, 0);
	size_t n = mk_eth(f, NULL, 0, 0x0800, ip, il);
	assert_int_equal(dec(1, f, 96, n, &t, &e), ND_TCP);
	assert_int_equal(t.len, 96 - 54);
	assert_int_equal(t.missing, 1000 - (96 - 54));
	assert_memory_equal(t.payload, pl, t.len);

	/* IPv6 too */
	il = mk_ipv6(ip, 6, NULL, 0, tcp, tl);
	n = mk_eth(f, NULL, 0, 0x86DD, ip, il);
	assert_int_equal(dec(1, f, 200, n, &t, &e), ND_TCP);
	assert_int_equal(t.len, 200 - 74);
	assert_int_equal(t.missing, 1000 - (200 - 74));

	/* the header cut: bad, not a silent short payload */
	assert_int_equal(dec(1, f, 70, n, &t, &e), ND_BAD);
	assert_string_equal(e.field, "tcp/header");

	/* IPv6 payload length beyond the frame on the wire */
	assert_int_equal(dec(1, f, 200, 200, &t, &e), ND_BAD);
	assert_string_equal(e.field, "ipv6/payload_length");
	assert_int_equal(e.offset, 14 + 4);
}

/* TSO captures: IPv4 total length 0 means "the frame". */
static void test_tso_zero_length(void **state)
{
	(void)state;
	uint8_t tcp[128], ip[256];
	struct nd_tcp t;
	struct pg_err e;
	size_t tl = mk_tcp(tcp, 5, PAYLOAD, PAYLOAD_LEN);
	size_t il = mk_ipv4(ip, 5, 6, 0, tcp, tl, 0);
	ip[2] = 0;
	ip[3] = 0;
	assert_int_equal(dec(228, ip, il, il, &t, &e), ND_TCP);
	check_tcp(&t, 4);
	assert_int_equal(dec(228, ip, il - 3, il, &t, &e), ND_TCP);
	assert_int_equal(t.len, PAYLOAD_LEN - 3);
	assert_int_equal(t.missing, 3);
}

static void test_ipv6_ext(void **state)
{
	(void)state;
	uint8_t tcp[128], ip[256], ext[96];
	struct nd_tcp t;
	struct pg_err e;
	size_t tl = mk_tcp(tcp, 5, PAYLOAD, PAYLOAD_LEN);

	/* hop-by-hop (8) -> routing (16) -> dest opts (8) -> TCP */
	memset(ext, 0, sizeof ext);
	ext[0] = 43; ext[1] = 0;                 /* HBH, next routing */
	ext[8] = 60; ext[9] = 1;                 /* routing, 16 bytes */
	ext[24] = 6; ext[25] = 0;                /* dest opts, next TCP */
	size_t il = mk_ipv6(ip, 0, ext, 32, tcp, tl);
	assert_int_equal(dec(229, ip, il, il, &t, &e), ND_TCP);
	check_tcp(&t, 6);
	assert_ptr_equal(t.payload, ip + 40 + 32 + 20);
	check_truncations(229, ip, il, PAYLOAD_LEN);

	/* atomic fragment (offset 0, M 0): decoded */
	memset(ext, 0, sizeof ext);
	ext[0] = 6;
	il = mk_ipv6(ip, 44, ext, 8, tcp, tl);
	assert_int_equal(dec(229, ip, il, il, &t, &e), ND_TCP);
	check_tcp(&t, 6);
	/* first fragment (M set) and a later one (offset) */
	ext[3] = 1;
	il = mk_ipv6(ip, 44, ext, 8, tcp, tl);
	assert_int_equal(dec(229, ip, il, il, &t, &e), ND_FRAGMENT);
	ext[3] = 0;
	ext[2] = 0x01;
	il = mk_ipv6(ip, 44, ext, 8, tcp, tl);
	assert_int_equal(dec(229, ip, il, il, &t, &e), ND_FRAGMENT);

	/* a chain of 9 destination-option headers: over the bound */
	memset(ext, 0, sizeof ext);
	for (int i = 0; i < 9; i++)
		ext[i * 8] = (uint8_t)(i == 8 ? 6 : 60);
	il = mk_ipv6(ip, 60, ext, 72, tcp, tl);
	assert_int_equal(dec(229, ip, il, il, &t, &e), ND_BAD);
	assert_string_equal(e.field, "ipv6/ext_count");
	assert_int_equal(e.offset, 40 + 64);

	/* extension header longer than the packet */
	memset(ext, 0, sizeof ext);
	ext[0] = 6;
	ext[1] = 200;
	il = mk_ipv6(ip, 60, ext, 8, tcp, tl);
	assert_int_equal(dec(229, ip, il, il, &t, &e), ND_BAD);
	assert_string_equal(e.field, "ipv6/ext");
	assert_int_equal(e.offset, 40);

	/* no next header */
	il = mk_ipv6(ip, 59, NULL, 0, NULL, 0);
	assert_int_equal(dec(229, ip, il, il, &t, &e), ND_NOT_TCP);
}

static void test_addr_str(void **state)
{
	(void)state;
	char buf[48];
	static const uint8_t a4[16] = { 10, 0, 0, 5 };
	static const uint8_t a6[16] = { 0xfd, 0, [15] = 5 };
	assert_string_equal(nd_addr_str(4, a4, buf, sizeof buf), "10.0.0.5");
	assert_string_equal(nd_addr_str(6, a6, buf, sizeof buf), "fd00::5");
	assert_string_equal(nd_addr_str(4, NULL, buf, sizeof buf), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ethernet_ipv4),
		cmocka_unit_test(test_ethernet_ipv6),
		cmocka_unit_test(test_vlan_qinq),
		cmocka_unit_test(test_sll_sll2),
		cmocka_unit_test(test_raw_and_null),
		cmocka_unit_test(test_not_ip_not_tcp),
		cmocka_unit_test(test_ipv4_fragments_options),
		cmocka_unit_test(test_ipv4_bad),
		cmocka_unit_test(test_ethernet_padding),
		cmocka_unit_test(test_snaplen_missing),
		cmocka_unit_test(test_tso_zero_length),
		cmocka_unit_test(test_ipv6_ext),
		cmocka_unit_test(test_addr_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
