/*
 * test_mc7.c - S7 MC7 block parser and fingerprints (parsers/mc7.c).
 *
 * Blocks are built here from parts (blk_build); the one real block comes from
 * $PG_CORPUS/blocks and the test is skipped when the corpus is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "digest.h"
#include "pg_limits.h"
#include "mc7.h"

/* ---- building blocks from parts ---- */

struct blk_parts {
	uint8_t version, attrs, lang, type;
	uint16_t number;
	uint32_t security;
	uint8_t code_ts[6], iface_ts[6];
	uint16_t local_len;
	const uint8_t *code;   size_t code_len;
	const uint8_t *iface;  size_t iface_len;
	const uint8_t *segtab; size_t segtab_len;
	uint8_t author[8], family[8], name[8];
	uint8_t hdr_version, unknown;
	uint16_t checksum;
	uint8_t reserved[8];
};

static void be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A valid block from parts, in an exact-size heap buffer. */
static uint8_t *blk_build(const struct blk_parts *b, size_t *len)
{
	size_t n = 36 + b->code_len + b->iface_len + b->segtab_len + 36;
	uint8_t *p = calloc(1, n);
	assert_non_null(p);
	p[0] = 0x70;
	p[1] = 0x70;
	p[2] = b->version;
	p[3] = b->attrs;
	p[4] = b->lang;
	p[5] = b->type;
	be16(p + 6, b->number);
	be32(p + 8, (uint32_t)n);
	be32(p + 12, b->security);
	memcpy(p + 16, b->code_ts, 6);
	memcpy(p + 22, b->iface_ts, 6);
	be16(p + 28, (uint32_t)b->iface_len);
	be16(p + 30, (uint32_t)b->segtab_len);
	be16(p + 32, b->local_len);
	be16(p + 34, (uint32_t)b->code_len);
	size_t o = 36;
	if (b->code_len)
		memcpy(p + o, b->code, b->code_len);
	o += b->code_len;
	if (b->iface_len)
		memcpy(p + o, b->iface, b->iface_len);
	o += b->iface_len;
	if (b->segtab_len)
		memcpy(p + o, b->segtab, b->segtab_len);
	o += b->segtab_len;
	memcpy(p + o, b->author, 8);
	memcpy(p + o + 8, b->family, 8);
	memcpy(p + o + 16, b->name, 8);
	p[o + 24] = b->hdr_version;
	p[o + 25] = b->unknown;
	be16(p + o + 26, b->checksum);
	memcpy(p + o + 28, b->reserved, 8);
	*len = n;
	return p;
}

static const uint8_t g_code[] = {
	0x70, 0x0B, 0x00, 0x02, 0x41, 0x10, 0x00, 0x05, 0x30, 0x03, 0x12, 0x34,
	0xFB, 0x7C, 0x41, 0x11, 0x00, 0x06, 0x65, 0x00,
};
static const uint8_t g_iface[] = { 0x01, 0x00, 0x06, 0x00, 0x05, 0x02, 0x00 };
static const uint8_t g_segtab[] = { 0x00, 0x01, 0x00, 0x14, 0x00, 0x00 };

static struct blk_parts golden_parts(void)
{
	struct blk_parts b;
	memset(&b, 0, sizeof b);
	b.version = 0x01;
	b.attrs = 0x01;
	b.lang = 1;             /* STL */
	b.type = 0x0C;          /* FC */
	b.number = 42;
	b.security = 0;
	static const uint8_t ts1[6] = { 0x02, 0x91, 0x47, 0x60, 0x2B, 0xB5 };
	static const uint8_t ts2[6] = { 0x01, 0x02, 0x03, 0x04, 0x2B, 0xB6 };
	memcpy(b.code_ts, ts1, 6);
	memcpy(b.iface_ts, ts2, 6);
	b.local_len = 24;
	b.code = g_code;     b.code_len = sizeof g_code;
	b.iface = g_iface;   b.iface_len = sizeof g_iface;
	b.segtab = g_segtab; b.segtab_len = sizeof g_segtab;
	memcpy(b.author, "ALICE\0\0\0", 8);
	memcpy(b.family, "PUMPS\0\0\0", 8);
	memcpy(b.name, "FILL_CTL", 8);
	b.hdr_version = 0x12;
	b.unknown = 0;
	b.checksum = 0xBEEF;
	return b;
}

static uint8_t *golden(size_t *len)
{
	struct blk_parts b = golden_parts();
	return blk_build(&b, len);
}

/* Parse a copy in an exact-size heap buffer (ASan sees one-past-the-end). */
static int parse_copy(const uint8_t *p, size_t n, struct mc7_block *m,
		      struct pg_err *e)
{
	uint8_t *q = malloc(n ? n : 1);
	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	int rc = mc7_parse(n ? q : NULL, n, m, e);
	free(q);
	return rc;
}

static void expect_err(const uint8_t *p, size_t n, size_t off, const char *field)
{
	struct mc7_block m;
	struct pg_err e;
	char s[400];
	int rc = parse_copy(p, n, &m, &e);
	if (rc == 0 || e.offset != off || strcmp(e.field, field) != 0)
		print_error("want offset %zu (%s), got rc %d: %s\n", off, field,
			    rc, pg_err_str(&e, s, sizeof s));
	assert_int_equal(rc, -1);
	assert_string_equal(e.field, field);
	assert_int_equal(e.offset, off);
	assert_true(e.msg[0] != '\0');
}

/* Independent implementation of the documented logic fingerprint. */
static void expected_logic_fp(const uint8_t *p, size_t n, uint8_t out[32])
{
	uint8_t pre[64];
	size_t k = 0;
	memcpy(pre, MC7_LOGIC_TAG, sizeof MC7_LOGIC_TAG);
	k += sizeof MC7_LOGIC_TAG;           /* tag with its NUL */
	pre[k++] = p[2];                     /* block version */
	pre[k++] = p[4];                     /* language */
	pre[k++] = p[5];                     /* type */
	memcpy(pre + k, p + 6, 2); k += 2;   /* number */
	memcpy(pre + k, p + 12, 4); k += 4;  /* security */
	memcpy(pre + k, p + 34, 2); k += 2;  /* code_len */
	memcpy(pre + k, p + 28, 2); k += 2;  /* iface_len */
	memcpy(pre + k, p + 30, 2); k += 2;  /* segtab_len */
	memcpy(pre + k, p + 32, 2); k += 2;  /* local_len */
	assert_int_equal(k, 22 + 17);
	struct pg_sha256_ctx *h = pg_sha256_new();
	assert_non_null(h);
	pg_sha256_update(h, pre, k);
	pg_sha256_update(h, p + 36, n - 72);
	pg_sha256_final(h, out);
	pg_sha256_free(h);
}

/* ---- tests ---- */

static void test_golden_fields(void **state)
{
	(void)state;
	size_t n;
	uint8_t *p = golden(&n);
	struct mc7_block m;
	struct pg_err e;
	char s[400];
	int rc = parse_copy(p, n, &m, &e);
	if (rc)
		print_error("%s\n", pg_err_str(&e, s, sizeof s));
	assert_int_equal(rc, 0);
	assert_int_equal(n, 36 + 20 + 7 + 6 + 36);

	assert_int_equal(m.version, 0x01);
	assert_int_equal(m.attrs, 0x01);
	assert_int_equal(m.lang, 1);
	assert_int_equal(m.type, 0x0C);
	assert_int_equal(m.number, 42);
	assert_int_equal(m.load_len, n);
	assert_int_equal(m.security, 0);
	assert_int_equal(m.know_how, 0);
	static const uint8_t ts1[6] = { 0x02, 0x91, 0x47, 0x60, 0x2B, 0xB5 };
	static const uint8_t ts2[6] = { 0x01, 0x02, 0x03, 0x04, 0x2B, 0xB6 };
	assert_memory_equal(m.code_ts, ts1, 6);
	assert_memory_equal(m.iface_ts, ts2, 6);
	assert_int_equal(m.code_len, sizeof g_code);
	assert_int_equal(m.iface_len, sizeof g_iface);
	assert_int_equal(m.segtab_len, sizeof g_segtab);
	assert_int_equal(m.local_len, 24);
	assert_string_equal(m.author, "ALICE");
	assert_string_equal(m.family, "PUMPS");
	assert_string_equal(m.name, "FILL_CTL");
	assert_int_equal(m.hdr_version, 0x12);
	assert_int_equal(m.checksum, 0xBEEF);

	uint8_t d[32];
	pg_sha256(p, n, d);
	assert_memory_equal(m.sha256, d, 32);
	pg_sha256(g_code, sizeof g_code, d);
	assert_memory_equal(m.code_sha, d, 32);
	pg_sha256(g_iface, sizeof g_iface, d);
	assert_memory_equal(m.iface_sha, d, 32);
	pg_sha256(g_segtab, sizeof g_segtab, d);
	assert_memory_equal(m.segtab_sha, d, 32);

	uint8_t *z = malloc(n);
	assert_non_null(z);
	memcpy(z, p, n);
	z[n - 10] = 0;
	z[n - 9] = 0;
	pg_sha256(z, n, d);
	assert_memory_equal(m.strict, d, 32);
	free(z);

	expected_logic_fp(p, n, d);
	assert_memory_equal(m.logic_fp, d, 32);
	assert_memory_not_equal(m.logic_fp, m.sha256, 32);

	assert_int_equal(mc7_sniff(p, n), 1);
	free(p);
}

static void test_know_how_and_empty_sections(void **state)
{
	(void)state;
	struct blk_parts b = golden_parts();
	b.security = 3;
	b.type = 0x0A;
	b.lang = 5;
	b.iface_len = 0;
	b.segtab_len = 0;
	b.code_len = 0;
	size_t n;
	uint8_t *p = blk_build(&b, &n);
	assert_int_equal(n, 72);
	struct mc7_block m;
	struct pg_err e;
	assert_int_equal(parse_copy(p, n, &m, &e), 0);
	assert_int_equal(m.know_how, 1);
	assert_int_equal(m.security, 3);
	uint8_t d[32];
	pg_sha256("", 0, d);
	assert_memory_equal(m.code_sha, d, 32);
	assert_memory_equal(m.iface_sha, d, 32);
	assert_memory_equal(m.segtab_sha, d, 32);
	expected_logic_fp(p, n, d);
	assert_memory_equal(m.logic_fp, d, 32);
	free(p);
}

static void test_footer_text(void **state)
{
	(void)state;
	struct blk_parts b = golden_parts();
	memcpy(b.author, "\0\0AB\x01 C ", 8);   /* leading NULs, control char */
	memcpy(b.family, "\xff\xfe" "xyz\0\0\0", 8);
	memcpy(b.name, "\0\0\0\0\0\0\0\0", 8);
	size_t n;
	uint8_t *p = blk_build(&b, &n);
	struct mc7_block m;
	struct pg_err e;
	assert_int_equal(parse_copy(p, n, &m, &e), 0);
	assert_string_equal(m.author, "??AB? C");
	assert_string_equal(m.family, "??xyz");
	assert_string_equal(m.name, "");
	free(p);
}

/* Every prefix of a valid block is rejected, with and without load_len fixed. */
static void test_truncation_every_offset(void **state)
{
	(void)state;
	size_t n;
	uint8_t *p = golden(&n);
	for (size_t k = 0; k < n; k++) {
		struct mc7_block m;
		struct pg_err e;
		memset(&m, 0xA5, sizeof m);
		assert_int_equal(parse_copy(p, k, &m, &e), -1);
		assert_true(e.msg[0] != '\0');
		assert_true(e.field[0] != '\0');
		assert_true(e.offset == PG_NO_OFFSET || e.offset <= k);
		assert_int_equal(m.load_len, 0);   /* output cleared on error */
		assert_int_equal(mc7_sniff(p, k), 0);

		/* Same prefix, but with the header's load length agreeing. */
		uint8_t *q = malloc(k ? k : 1);
		assert_non_null(q);
		memcpy(q, p, k);
		if (k >= 12)
			be32(q + 8, (uint32_t)k);
		assert_int_equal(parse_copy(q, k, &m, &e), -1);
		assert_true(e.offset == PG_NO_OFFSET || e.offset <= k);
		free(q);
	}
	free(p);
}

static void test_length_mismatches(void **state)
{
	(void)state;
	size_t n;
	uint8_t *p = golden(&n);
	uint8_t *q = malloc(n);
	assert_non_null(q);

	/* load_len != buffer length */
	memcpy(q, p, n);
	be32(q + 8, (uint32_t)n + 112);
	expect_err(q, n, 8, "load_len");
	{
		struct mc7_block m;
		struct pg_err e;
		char want[80];
		snprintf(want, sizeof want, "header says %zu bytes but the block is %zu",
			 n + 112, n);
		assert_int_equal(parse_copy(q, n, &m, &e), -1);
		assert_string_equal(e.msg, want);
	}

	/* each section that runs into the footer names its own field */
	memcpy(q, p, n);
	be16(q + 34, (uint32_t)(n - 72 + 1));
	expect_err(q, n, 34, "code_len");
	memcpy(q, p, n);
	be16(q + 28, (uint32_t)(n - 72 - sizeof g_code + 1));
	expect_err(q, n, 28, "iface_len");
	memcpy(q, p, n);
	be16(q + 34, sizeof g_code + 1);   /* pushes the segment table over */
	expect_err(q, n, 30, "segtab_len");
	memcpy(q, p, n);
	be16(q + 34, 0xFFFF);
	expect_err(q, n, 34, "code_len");
	memcpy(q, p, n);
	be16(q + 28, sizeof g_iface + 1);  /* pushes the segment table over */
	expect_err(q, n, 30, "segtab_len");
	memcpy(q, p, n);
	be16(q + 28, 0xFFFF);
	expect_err(q, n, 28, "iface_len");
	memcpy(q, p, n);
	be16(q + 30, sizeof g_segtab + 1);
	expect_err(q, n, 30, "segtab_len");
	memcpy(q, p, n);
	be16(q + 30, 0xFFFF);
	expect_err(q, n, 30, "segtab_len");

	/* sections too short: bytes nobody accounts for */
	memcpy(q, p, n);
	be16(q + 30, sizeof g_segtab - 1);
	expect_err(q, n, 8, "load_len");
	memcpy(q, p, n);
	be16(q + 34, 0);
	expect_err(q, n, 8, "load_len");

	/* the local-data length is not part of the identity */
	memcpy(q, p, n);
	be16(q + 32, 0xFFFF);
	struct mc7_block m;
	struct pg_err e;
	assert_int_equal(parse_copy(q, n, &m, &e), 0);
	assert_int_equal(m.local_len, 0xFFFF);

	free(q);
	free(p);
}

static void test_header_errors(void **state)
{
	(void)state;
	size_t n;
	uint8_t *p = golden(&n);
	uint8_t *q = malloc(n);
	assert_non_null(q);

	memcpy(q, p, n);
	q[1] = 0x71;
	expect_err(q, n, 0, "magic");
	assert_int_equal(mc7_sniff(q, n), 0);
	expect_err(q, 1, 0, "magic");
	expect_err(q, 0, 0, "magic");

	memcpy(q, p, n);
	q[5] = 0x07;
	expect_err(q, n, 5, "type");
	q[5] = 0x10;
	expect_err(q, n, 5, "type");
	for (uint8_t t = 0x08; t <= 0x0F; t++) {
		struct mc7_block m;
		struct pg_err e;
		q[5] = t;
		assert_int_equal(parse_copy(q, n, &m, &e), 0);
		assert_int_equal(m.type, t);
	}

	/* shorter than the header: error at the end of the data */
	expect_err(p, 20, 20, "header");

	/* header-only block whose load length agrees: under the 72-byte minimum */
	memcpy(q, p, 36);
	be32(q + 8, 50);
	expect_err(q, 50, 8, "load_len");

	free(q);
	free(p);

	/* over the size limit */
	size_t big = (size_t)PG_MC7_MAX_BLOCK + 1;
	uint8_t *h = calloc(1, big);
	assert_non_null(h);
	h[0] = 0x70;
	h[1] = 0x70;
	h[5] = 0x08;
	be32(h + 8, (uint32_t)big);
	struct mc7_block m;
	struct pg_err e;
	assert_int_equal(mc7_parse(h, big, &m, &e), -1);
	assert_string_equal(e.field, "load_len");
	assert_int_equal(mc7_sniff(h, big), 0);
	free(h);

	/* NULL arguments */
	assert_int_equal(mc7_parse(NULL, 0, &m, &e), -1);
	assert_int_equal(mc7_parse(NULL, 0, NULL, &e), -1);
	assert_int_equal(mc7_parse(NULL, 0, &m, NULL), -1);
	assert_int_equal(mc7_sniff(NULL, 0), 0);
	assert_int_equal(mc7_sniff(NULL, 100), 0);
}

static void parse_ok(const uint8_t *p, size_t n, struct mc7_block *m)
{
	struct pg_err e;
	char s[400];
	int rc = parse_copy(p, n, m, &e);
	if (rc)
		print_error("%s\n", pg_err_str(&e, s, sizeof s));
	assert_int_equal(rc, 0);
}

static void test_fingerprint_stability(void **state)
{
	(void)state;
	size_t n;
	uint8_t *p = golden(&n);
	uint8_t *q = malloc(n);
	assert_non_null(q);
	struct mc7_block a, b;
	parse_ok(p, n, &a);

	/* timestamps, attribute byte, whole footer (incl. checksum) changed */
	memcpy(q, p, n);
	for (size_t i = 16; i < 28; i++)
		q[i] ^= 0x5A;
	q[3] ^= 0x08;
	for (size_t i = n - 36; i < n; i++)
		q[i] = (uint8_t)(q[i] + 0x21);
	parse_ok(q, n, &b);
	assert_memory_equal(a.logic_fp, b.logic_fp, 32);
	assert_memory_equal(a.code_sha, b.code_sha, 32);
	assert_memory_not_equal(a.sha256, b.sha256, 32);
	assert_memory_not_equal(a.strict, b.strict, 32);

	/* timestamps only */
	memcpy(q, p, n);
	q[21] ^= 1;
	parse_ok(q, n, &b);
	assert_memory_equal(a.logic_fp, b.logic_fp, 32);
	assert_memory_not_equal(a.sha256, b.sha256, 32);
	assert_memory_not_equal(a.strict, b.strict, 32);

	/* footer name only */
	memcpy(q, p, n);
	q[n - 20] = 'X';
	parse_ok(q, n, &b);
	assert_memory_equal(a.logic_fp, b.logic_fp, 32);
	assert_memory_not_equal(a.sha256, b.sha256, 32);
	assert_memory_not_equal(a.strict, b.strict, 32);

	/* checksum only: same strict, different plain sha256 */
	memcpy(q, p, n);
	q[n - 10] = 0x12;
	q[n - 9] = 0x34;
	parse_ok(q, n, &b);
	assert_int_equal(b.checksum, 0x1234);
	assert_memory_equal(a.strict, b.strict, 32);
	assert_memory_equal(a.logic_fp, b.logic_fp, 32);
	assert_memory_not_equal(a.sha256, b.sha256, 32);

	/* one code byte: different logic_fp and code_sha, same iface/segtab */
	memcpy(q, p, n);
	q[36 + 5] ^= 0x01;
	parse_ok(q, n, &b);
	assert_memory_not_equal(a.logic_fp, b.logic_fp, 32);
	assert_memory_not_equal(a.code_sha, b.code_sha, 32);
	assert_memory_equal(a.iface_sha, b.iface_sha, 32);
	assert_memory_equal(a.segtab_sha, b.segtab_sha, 32);
	assert_memory_not_equal(a.strict, b.strict, 32);

	/* one interface byte, one segment-table byte */
	memcpy(q, p, n);
	q[36 + sizeof g_code] ^= 0x80;
	parse_ok(q, n, &b);
	assert_memory_not_equal(a.logic_fp, b.logic_fp, 32);
	assert_memory_not_equal(a.iface_sha, b.iface_sha, 32);
	memcpy(q, p, n);
	q[36 + sizeof g_code + sizeof g_iface] ^= 0x80;
	parse_ok(q, n, &b);
	assert_memory_not_equal(a.logic_fp, b.logic_fp, 32);
	assert_memory_not_equal(a.segtab_sha, b.segtab_sha, 32);

	/* header fields that are part of the logic: version, language, type,
	 * number, security, local-data length */
	static const size_t logic_bytes[] = { 2, 4, 5, 7, 15, 33 };
	for (size_t i = 0; i < sizeof logic_bytes / sizeof logic_bytes[0]; i++) {
		memcpy(q, p, n);
		q[logic_bytes[i]] ^= (logic_bytes[i] == 5) ? 0x01 : 0x02;
		parse_ok(q, n, &b);
		if (memcmp(a.logic_fp, b.logic_fp, 32) == 0)
			print_error("header byte %zu does not reach logic_fp\n",
				    logic_bytes[i]);
		assert_memory_not_equal(a.logic_fp, b.logic_fp, 32);
	}

	/* moving bytes between sections changes logic_fp (lengths are hashed) */
	memcpy(q, p, n);
	be16(q + 34, sizeof g_code - 1);
	be16(q + 28, sizeof g_iface + 1);
	parse_ok(q, n, &b);
	assert_memory_not_equal(a.logic_fp, b.logic_fp, 32);

	free(q);
	free(p);
}

static void test_corpus_db1(void **state)
{
	(void)state;
	const char *dir = getenv("PG_CORPUS");
	char path[4096];
	if (!dir || !*dir) {
		print_message("SKIP: PG_CORPUS is not set, real DB1 block not tested\n");
		skip();
	}
	snprintf(path, sizeof path, "%s/blocks/DB1_from_s7comm_downloading_block_db1.mc7",
		 dir);
	FILE *f = fopen(path, "rb");
	if (!f) {
		print_message("SKIP: %s is absent, real DB1 block not tested\n", path);
		skip();
	}
	uint8_t *buf = malloc(500);
	assert_non_null(buf);
	size_t n = fread(buf, 1, 500, f);
	int extra = fgetc(f);
	fclose(f);
	assert_int_equal(n, 500);
	assert_int_equal(extra, EOF);

	struct mc7_block m;
	parse_ok(buf, n, &m);
	char hex[PG_SHA256_HEX], id[16];
	assert_string_equal(pg_hex(m.sha256, 32, hex),
		"6fbdbd7fb0f8c20cdc0b917b2a3f0a7c2b1e7d5f9536e5d804edb7d4a1628f2d");
	assert_string_equal(mc7_block_id(m.type, m.number, id, sizeof id), "DB1");
	assert_int_equal(m.load_len, 500);
	assert_int_equal(m.type, 0x0A);
	assert_int_equal(m.lang, 5);
	assert_string_equal(mc7_lang_name(m.lang), "DB");
	assert_int_equal(m.version, 1);
	assert_int_equal(m.attrs, 1);
	assert_int_equal(m.security, 0);
	assert_int_equal(m.code_len, 400);
	assert_int_equal(m.iface_len, 28);
	assert_int_equal(m.segtab_len, 0);
	assert_int_equal(m.local_len, 0);
	assert_int_equal(m.checksum, 0xC0DF);
	assert_int_equal(m.hdr_version, 1);
	assert_string_equal(m.family, "TestHMI");
	assert_string_equal(m.name, "DATADB");
	assert_string_equal(m.author, "TWI");
	assert_int_equal(mc7_sniff(buf, n), 1);

	uint8_t d[32];
	expected_logic_fp(buf, n, d);
	assert_memory_equal(m.logic_fp, d, 32);
	print_message("DB1 logic_fp %s\n", pg_hex(m.logic_fp, 32, hex));
	print_message("DB1 strict   %s\n", pg_hex(m.strict, 32, hex));
	free(buf);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(mc7_type_name(0x08), "OB");
	assert_string_equal(mc7_type_name(0x09), "CMod");
	assert_string_equal(mc7_type_name(0x0A), "DB");
	assert_string_equal(mc7_type_name(0x0B), "SDB");
	assert_string_equal(mc7_type_name(0x0C), "FC");
	assert_string_equal(mc7_type_name(0x0D), "SFC");
	assert_string_equal(mc7_type_name(0x0E), "FB");
	assert_string_equal(mc7_type_name(0x0F), "SFB");
	assert_null(mc7_type_name(0x07));
	assert_null(mc7_type_name(0x10));
	assert_null(mc7_type_name(0x41));

	assert_string_equal(mc7_lang_name(1), "STL");
	assert_string_equal(mc7_lang_name(2), "LAD");
	assert_string_equal(mc7_lang_name(3), "FBD");
	assert_string_equal(mc7_lang_name(4), "SCL");
	assert_string_equal(mc7_lang_name(5), "DB");
	assert_string_equal(mc7_lang_name(6), "GRAPH");
	assert_string_equal(mc7_lang_name(7), "SDB");
	assert_string_equal(mc7_lang_name(0), "unknown");
	assert_string_equal(mc7_lang_name(200), "unknown");

	char buf[16];
	assert_string_equal(mc7_block_id(0x08, 1, buf, sizeof buf), "OB1");
	assert_string_equal(mc7_block_id(0x0A, 65535, buf, sizeof buf), "DB65535");
	assert_string_equal(mc7_block_id(0x0E, 0, buf, sizeof buf), "FB0");
	assert_string_equal(mc7_block_id(0x42, 7, buf, sizeof buf), "0x42:7");
	char tiny[3];
	assert_string_equal(mc7_block_id(0x0D, 123, tiny, sizeof tiny), "SF");
	assert_null(mc7_block_id(0x08, 1, NULL, 0));
}

static void test_parse_block_id(void **state)
{
	(void)state;
	static const struct { const char *s; uint8_t t; uint16_t n; } good[] = {
		{ "OB1", 0x08, 1 },      { "ob 1", 0x08, 1 },
		{ "DB00012", 0x0A, 12 }, { "DB 12", 0x0A, 12 },
		{ "fc0003", 0x0C, 3 },   { "SFC46", 0x0D, 46 },
		{ "sdb0", 0x0B, 0 },     { "Fb65535", 0x0E, 65535 },
		{ "SFB  4", 0x0F, 4 },   { "CMOD7", 0x09, 7 },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		uint8_t t = 0;
		uint16_t n = 0;
		if (mc7_parse_block_id(good[i].s, &t, &n) != 0)
			print_error("rejected \"%s\"\n", good[i].s);
		assert_int_equal(mc7_parse_block_id(good[i].s, &t, &n), 0);
		assert_int_equal(t, good[i].t);
		assert_int_equal(n, good[i].n);
	}
	static const char *const bad[] = {
		"", "OB", "1", "XB1", "O B1", "OB-1", "OB1 ", " OB1", "OB1x",
		"DB65536", "DB000012", "DB99999", "OB1.5", "ODB1", "SDBX1",
		"FC\t1", "CMODE1", "D B12",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t t = 0xEE;
		uint16_t n = 0xEEEE;
		if (mc7_parse_block_id(bad[i], &t, &n) == 0)
			print_error("accepted \"%s\"\n", bad[i]);
		assert_int_equal(mc7_parse_block_id(bad[i], &t, &n), -1);
		assert_int_equal(t, 0xEE);
		assert_int_equal(n, 0xEEEE);
	}
	assert_int_equal(mc7_parse_block_id(NULL, NULL, NULL), -1);
	assert_int_equal(mc7_parse_block_id("OB1", NULL, NULL), 0);

	/* round trip through mc7_block_id */
	for (uint8_t t = 0x08; t <= 0x0F; t++) {
		char id[16];
		uint8_t tt;
		uint16_t nn;
		mc7_block_id(t, 321, id, sizeof id);
		assert_int_equal(mc7_parse_block_id(id, &tt, &nn), 0);
		assert_int_equal(tt, t);
		assert_int_equal(nn, 321);
	}
}

static void test_parse_filename(void **state)
{
	(void)state;
	static const struct {
		const char *s; uint8_t t; uint16_t n; char fs;
	} good[] = {
		{ "_0A00001P", 0x0A, 1, 'P' },  { "_0C00001P", 0x0C, 1, 'P' },
		{ "$0800001A", 0x08, 1, 'A' },  { "_0F65535B", 0x0F, 65535, 'B' },
		{ "_0e00000P", 0x0E, 0, 'P' },  { "_0B00123A", 0x0B, 123, 'A' },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		uint8_t t = 0;
		uint16_t n = 0;
		char fs = 0;
		if (mc7_parse_filename(good[i].s, 9, &t, &n, &fs) != 0)
			print_error("rejected \"%s\"\n", good[i].s);
		assert_int_equal(mc7_parse_filename(good[i].s, 9, &t, &n, &fs), 0);
		assert_int_equal(t, good[i].t);
		assert_int_equal(n, good[i].n);
		assert_int_equal(fs, good[i].fs);
	}
	static const char *const bad[] = {
		"_0A0001P",    /* 8 chars */
		"_0A000001P",  /* 10 chars */
		"X0A00001P", " 0A00001P", "_1000001P", "_0700001P", "_0G00001P",
		"_0A0000AP", "_0A 0001P", "_0A-0001P", "_0A00001p", "_0A00001C",
		"_0A65536P", "_0A99999P", "_0A00001\0", "_\0A00001P", "_0A+0001P",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t t = 0xEE;
		uint16_t n = 0xEEEE;
		char fs = 'Z';
		size_t len = strlen(bad[i]);
		if (len < 9)
			len = 9;   /* embedded NULs: the wire length is 9 */
		if (mc7_parse_filename(bad[i], len, &t, &n, &fs) == 0)
			print_error("accepted \"%s\"\n", bad[i]);
		assert_int_equal(mc7_parse_filename(bad[i], len, &t, &n, &fs), -1);
		assert_int_equal(t, 0xEE);
		assert_int_equal(n, 0xEEEE);
		assert_int_equal(fs, 'Z');
	}
	/* right characters, wrong length argument */
	assert_int_equal(mc7_parse_filename("_0A00001P", 8, NULL, NULL, NULL), -1);
	assert_int_equal(mc7_parse_filename("_0A00001PX", 10, NULL, NULL, NULL), -1);
	assert_int_equal(mc7_parse_filename(NULL, 9, NULL, NULL, NULL), -1);
	assert_int_equal(mc7_parse_filename("_0A00001P", 9, NULL, NULL, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_fields),
		cmocka_unit_test(test_know_how_and_empty_sections),
		cmocka_unit_test(test_footer_text),
		cmocka_unit_test(test_truncation_every_offset),
		cmocka_unit_test(test_length_mismatches),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_fingerprint_stability),
		cmocka_unit_test(test_corpus_db1),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_parse_block_id),
		cmocka_unit_test(test_parse_filename),
	};
	return cmocka_run_group_tests_name("mc7", tests, NULL, NULL);
}
