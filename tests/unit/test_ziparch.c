/*
 * test_ziparch.c - ZIP walking under limits.  Every archive is built at test
 * time, in memory, with libzip itself; hostile variants are made by patching
 * the bytes libzip wrote (both the local and the central header, so that
 * ZIP_CHECKCONS still sees a consistent archive).  Archives in TIA Portal's
 * layout are written by samples/gen/tiazip.h (by hand, not libzip), and the
 * local-vs-central evasions are made by patching one side only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zip.h>

#include "digest.h"
#include "pg_limits.h"
#include "scan.h"
#include "tiazip.h"
#include "ziparch.h"
#include "ziplayout.h"

/* ---- building archives ------------------------------------------------- */

struct spec {
	const char *name;
	const void *data;
	size_t len;
	int method;         /* ZIP_CM_STORE / ZIP_CM_DEFLATE */
	int dir;            /* zip_dir_add */
	int symlink;        /* unix mode 0120777 */
	uint16_t enc;       /* ZIP_EM_* or 0 */
};

static uint8_t *mkzip(const struct spec *s, size_t n, size_t *outlen)
{
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
	assert_non_null(src);
	zip_source_keep(src);
	zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
	assert_non_null(za);
	for (size_t i = 0; i < n; i++) {
		zip_int64_t idx;
		if (s[i].dir) {
			idx = zip_dir_add(za, s[i].name, 0);
		} else {
			zip_source_t *fs = zip_source_buffer(za, s[i].data, s[i].len, 0);
			assert_non_null(fs);
			idx = zip_file_add(za, s[i].name, fs, 0);
			if (idx < 0)
				zip_source_free(fs);
		}
		if (idx < 0)
			fail_msg("adding %s: %s", s[i].name, zip_strerror(za));
		if (!s[i].dir)
			assert_int_equal(zip_set_file_compression(za, (zip_uint64_t)idx,
								  s[i].method, 0), 0);
		/* fixed time: the archives are reproducible */
		assert_int_equal(zip_file_set_mtime(za, (zip_uint64_t)idx, 1600000000, 0), 0);
		if (s[i].symlink)
			assert_int_equal(zip_file_set_external_attributes(
				za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX, 0120777u << 16), 0);
		if (s[i].enc)
			assert_int_equal(zip_file_set_encryption(za, (zip_uint64_t)idx,
								 s[i].enc, "secret"), 0);
	}
	if (zip_close(za) != 0)
		fail_msg("zip_close: %s", zip_strerror(za));
	assert_int_equal(zip_source_open(src), 0);
	zip_stat_t st;
	zip_stat_init(&st);
	assert_int_equal(zip_source_stat(src, &st), 0);
	uint8_t *buf = malloc(st.size ? st.size : 1);
	assert_non_null(buf);
	assert_int_equal(zip_source_read(src, buf, st.size), (zip_int64_t)st.size);
	zip_source_close(src);
	zip_source_free(src);
	zip_error_fini(&ze);
	*outlen = st.size;
	return buf;
}

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static size_t find(const uint8_t *b, size_t n, const void *lit, size_t k, size_t from)
{
	for (size_t i = from; i + k <= n; i++)
		if (memcmp(b + i, lit, k) == 0)
			return i;
	return SIZE_MAX;
}

/* Offset of the central-directory record named `name`. */
static size_t cdrec(const uint8_t *b, size_t n, const char *name)
{
	size_t k = strlen(name);
	for (size_t at = 0; (at = find(b, n, "PK\x01\x02", 4, at)) != SIZE_MAX; at++)
		if (at + 46 + k <= n && rd16(b + at + 28) == k && memcmp(b + at + 46, name, k) == 0)
			return at;
	fail_msg("no central record for %s", name);
	return 0;
}

static size_t lhrec(const uint8_t *b, size_t n, const char *name)
{
	size_t off = rd32(b + cdrec(b, n, name) + 42);
	assert_true(off + 30 <= n);
	assert_memory_equal(b + off, "PK\x03\x04", 4);
	return off;
}

/* Replace every occurrence of a by b (same length). */
static int patch_all(uint8_t *buf, size_t n, const char *a, const char *b)
{
	size_t k = strlen(a);
	int count = 0;
	for (size_t at = 0; (at = find(buf, n, a, k, at)) != SIZE_MAX; at += k, count++)
		memcpy(buf + at, b, k);
	return count;
}

static void fill_random(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* ---- collecting what the walk saw -------------------------------------- */

struct rec {
	char name[256];
	char raw[256];
	unsigned flags;
	uint64_t index, size, csize;
	uint16_t method;
	int has_data;
	size_t len;
	char hex[PG_SHA256_HEX];
};

struct coll {
	struct rec r[64];
	size_t n;
	size_t stop_at;   /* return 42 on this call (1-based), 0 = never */
};

static int collect(void *ctx, const struct zip_entry_info *info, const uint8_t *data, size_t len)
{
	struct coll *c = ctx;
	assert_true(c->n < 64);
	struct rec *r = &c->r[c->n++];
	snprintf(r->name, sizeof r->name, "%s", info->name);
	snprintf(r->raw, sizeof r->raw, "%s", info->raw_name);
	r->flags = info->flags;
	r->index = info->index;
	r->size = info->size;
	r->csize = info->csize;
	r->method = info->method;
	r->has_data = data != NULL;
	r->len = len;
	assert_int_equal(info->size, len);
	assert_true((data == NULL) == (len == 0));
	uint8_t md[32];
	pg_sha256(data, len, md);
	pg_hex(md, 32, r->hex);
	if (c->stop_at && c->n == c->stop_at)
		return 42;
	return 0;
}

static const char *sha_hex(const void *p, size_t n, char out[PG_SHA256_HEX])
{
	uint8_t md[32];
	pg_sha256(p, n, md);
	return pg_hex(md, 32, out);
}

static int walk(const uint8_t *buf, size_t len, const struct zip_limits *lim, struct coll *c,
		struct pg_err *err)
{
	memset(c->r, 0, sizeof c->r);
	c->n = 0;
	/* walk a copy of exactly the right size so ASan sees any over-read */
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	int rc = ziparch_walk(copy, len, lim, collect, c, err);
	free(copy);
	return rc;
}

#define assert_contains(hay, needle)                                             \
	do {                                                                     \
		if (!strstr((hay), (needle)))                                    \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle)); \
	} while (0)

static const char TXT[] = "PROGRAM main\n  VAR x : INT; END_VAR\n  x := x + 1;\nEND_PROGRAM\n";

/* ---- tests ------------------------------------------------------------- */

static void test_sniff(void **state)
{
	(void)state;
	assert_true(ziparch_sniff((const uint8_t *)"PK\x03\x04rest", 8));
	assert_true(ziparch_sniff((const uint8_t *)"PK\x05\x06", 4));
	assert_false(ziparch_sniff((const uint8_t *)"PK\x03", 3));
	assert_false(ziparch_sniff((const uint8_t *)"PK\x01\x02....", 8));
	assert_false(ziparch_sniff((const uint8_t *)"xPK\x03\x04", 5));
	assert_false(ziparch_sniff(NULL, 0));
	assert_false(ziparch_sniff(NULL, 10));
}

static void test_default_limits(void **state)
{
	(void)state;
	struct zip_limits l;
	ziparch_default_limits(&l);
	assert_int_equal(l.max_entries, PG_ZIP_MAX_ENTRIES);
	assert_int_equal(l.max_total, PG_ZIP_MAX_TOTAL);
	assert_int_equal(l.max_entry, PG_ZIP_MAX_ENTRY);
	assert_int_equal(l.max_ratio, PG_ZIP_MAX_RATIO);
}

static void test_normal(void **state)
{
	(void)state;
	size_t big_n = 200000;
	uint8_t *big = malloc(big_n);
	assert_non_null(big);
	fill_random(big, big_n, 7);
	static const uint8_t bin[] = { 0, 1, 2, 3, 0xff, 0xfe, 'P', 'K', 3, 4 };
	struct spec s[] = {
		{ "Program blocks/Main.st", TXT, sizeof TXT - 1, ZIP_CM_DEFLATE, 0, 0, 0 },
		{ "bin/raw.bin", bin, sizeof bin, ZIP_CM_STORE, 0, 0, 0 },
		{ "big.dat", big, big_n, ZIP_CM_DEFLATE, 0, 0, 0 },
		{ "empty.txt", "", 0, ZIP_CM_STORE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 4, &n);
	assert_true(ziparch_sniff(z, n));
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.n, 4);
	char hex[PG_SHA256_HEX];
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(c.r[i].index, i);
		assert_string_equal(c.r[i].name, s[i].name);
		assert_string_equal(c.r[i].raw, s[i].name);
		assert_int_equal(c.r[i].flags, 0);
		assert_int_equal(c.r[i].size, s[i].len);
		assert_string_equal(c.r[i].hex, sha_hex(s[i].data, s[i].len, hex));
		assert_int_equal(c.r[i].has_data, s[i].len != 0);
	}
	assert_int_equal(c.r[0].method, ZIP_CM_DEFLATE);
	assert_int_equal(c.r[1].method, ZIP_CM_STORE);
	assert_int_equal(c.r[1].csize, sizeof bin);
	assert_true(c.r[2].csize > 0);
	/* NULL callback: a plain validation pass */
	assert_int_equal(ziparch_walk(z, n, NULL, NULL, NULL, &err), 0);
	free(z);
	free(big);
}

static void test_names_normalised(void **state)
{
	(void)state;
	struct spec s[] = {
		{ "dir\\sub\\file.txt", "a", 1, ZIP_CM_STORE, 0, 0, 0 },
		{ "./lead.txt", "b", 1, ZIP_CM_STORE, 0, 0, 0 },
		{ "././.\\deep.txt", "c", 1, ZIP_CM_STORE, 0, 0, 0 },
		{ ".hidden/x", "d", 1, ZIP_CM_STORE, 0, 0, 0 },
		{ "a/./b", "e", 1, ZIP_CM_STORE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 5, &n);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.r[0].name, "dir/sub/file.txt");
	assert_string_equal(c.r[0].raw, "dir\\sub\\file.txt");
	assert_string_equal(c.r[1].name, "lead.txt");
	assert_string_equal(c.r[1].raw, "./lead.txt");
	assert_string_equal(c.r[2].name, "deep.txt");
	assert_string_equal(c.r[3].name, ".hidden/x");
	assert_string_equal(c.r[4].name, "a/./b"); /* only leading "./" goes */
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(c.r[i].flags, 0);
	free(z);
}

static void test_unsafe_names(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int unsafe;
	} t[] = {
		{ "../evil", 1 },     { "/abs", 1 },         { "C:/x", 1 },
		{ "c:rel", 1 },       { "a/../../b", 1 },    { "..\\win", 1 },
		{ "x/..", 1 },        { "./../up", 1 },      { "\\\\server\\share", 1 },
		{ "ok/..x", 0 },      { "..file", 0 },       { "a:b/c:d", 1 },
		{ "1:x", 0 },         { "dir/x..y/z", 0 },
	};
	size_t k = sizeof t / sizeof t[0];
	struct spec s[16];
	for (size_t i = 0; i < k; i++)
		s[i] = (struct spec){ t[i].name, "z", 1, ZIP_CM_STORE, 0, 0, 0 };
	size_t n;
	uint8_t *z = mkzip(s, k, &n);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.n, k);
	for (size_t i = 0; i < k; i++) {
		if (!!(c.r[i].flags & ZIPE_UNSAFE_NAME) != t[i].unsafe)
			fail_msg("%s: flags %#x", t[i].name, c.r[i].flags);
		/* content still delivered: flags inform, the caller decides */
		assert_int_equal(c.r[i].len, 1);
	}
	free(z);
}

static void test_duplicates(void **state)
{
	(void)state;
	/* duplicates after normalisation: libzip sees distinct names */
	struct spec s[] = {
		{ "a/b.txt", "one", 3, ZIP_CM_STORE, 0, 0, 0 },
		{ "a\\b.txt", "two", 3, ZIP_CM_DEFLATE, 0, 0, 0 },
		{ "./a/b.txt", "three", 5, ZIP_CM_STORE, 0, 0, 0 },
		{ "other", "x", 1, ZIP_CM_STORE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 4, &n);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.r[0].flags, 0);
	assert_int_equal(c.r[1].flags, ZIPE_DUPLICATE);
	assert_int_equal(c.r[2].flags, ZIPE_DUPLICATE);
	assert_int_equal(c.r[3].flags, 0);
	assert_int_equal(c.r[2].len, 5);
	free(z);

	/* byte-identical names (libzip's ZIP_CHECKCONS refuses these alone) */
	struct spec d[] = {
		{ "dupA", "first", 5, ZIP_CM_STORE, 0, 0, 0 },
		{ "dupB", "second", 6, ZIP_CM_DEFLATE, 0, 0, 0 },
	};
	z = mkzip(d, 2, &n);
	assert_int_equal(patch_all(z, n, "dupB", "dupA"), 2);
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.r[0].name, "dupA");
	assert_string_equal(c.r[1].name, "dupA");
	assert_int_equal(c.r[0].flags, 0);
	assert_int_equal(c.r[1].flags, ZIPE_DUPLICATE);
	char hex[PG_SHA256_HEX];
	assert_string_equal(c.r[0].hex, sha_hex("first", 5, hex));
	assert_string_equal(c.r[1].hex, sha_hex("second", 6, hex));
	free(z);
}

static void test_directories(void **state)
{
	(void)state;
	struct spec s[] = {
		{ "proj", NULL, 0, 0, 1, 0, 0 },
		{ "proj/main.st", TXT, sizeof TXT - 1, ZIP_CM_DEFLATE, 0, 0, 0 },
		{ "win\\dir\\", "", 0, ZIP_CM_STORE, 0, 0, 0 },
		{ "odd/", "hidden", 6, ZIP_CM_DEFLATE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 4, &n);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.r[0].name, "proj/");
	assert_int_equal(c.r[0].flags, ZIPE_DIR);
	assert_false(c.r[0].has_data);
	assert_int_equal(c.r[1].flags, 0);
	assert_string_equal(c.r[2].name, "win/dir/");
	assert_int_equal(c.r[2].flags, ZIPE_DIR);
	assert_false(c.r[2].has_data);
	/* a "directory" that carries bytes does not hide them */
	assert_int_equal(c.r[3].flags, ZIPE_DIR | ZIPE_DIR_DATA);
	assert_int_equal(c.r[3].len, 6);
	free(z);
}

static void test_symlink(void **state)
{
	(void)state;
	struct spec s[] = {
		{ "link", "/etc/passwd", 11, ZIP_CM_STORE, 0, 1, 0 },
		{ "file", "x", 1, ZIP_CM_STORE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 2, &n);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.r[0].flags, ZIPE_SYMLINK);
	assert_int_equal(c.r[0].len, 11);
	assert_int_equal(c.r[1].flags, 0);
	free(z);
}

static void test_encrypted(void **state)
{
	(void)state;
	struct pg_err err;
	struct coll c = { .stop_at = 0 };
	size_t n;
	uint8_t *z;

	/* traditional PKWARE: 1.7.3 cannot write it, so set the flag bit by hand */
	struct spec t[] = {
		{ "secret.bin", "ciphertext-ish", 14, ZIP_CM_STORE, 0, 0, 0 },
		{ "plain.txt", "plain", 5, ZIP_CM_STORE, 0, 0, 0 },
	};
	z = mkzip(t, 2, &n);
	size_t cd = cdrec(z, n, "secret.bin"), lh = lhrec(z, n, "secret.bin");
	wr16(z + cd + 8, (uint16_t)(rd16(z + cd + 8) | 1));
	wr16(z + lh + 6, (uint16_t)(rd16(z + lh + 6) | 1));
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.r[0].flags, ZIPE_ENCRYPTED);
	assert_false(c.r[0].has_data);
	assert_int_equal(c.r[0].size, 0);
	assert_int_equal(c.r[0].csize, 14);
	assert_int_equal(c.r[1].flags, 0);
	assert_int_equal(c.r[1].len, 5);
	free(z);

	/* WinZip AES, written by libzip when it was built with a crypto library */
	if (!zip_encryption_method_supported(ZIP_EM_AES_256, 1)) {
		print_message("libzip cannot write AES here: AES case skipped\n");
		return;
	}
	struct spec a[] = {
		{ "aes.txt", TXT, sizeof TXT - 1, ZIP_CM_DEFLATE, 0, 0, ZIP_EM_AES_256 },
		{ "clear.txt", "clear", 5, ZIP_CM_DEFLATE, 0, 0, 0 },
	};
	z = mkzip(a, 2, &n);
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.r[0].flags, ZIPE_ENCRYPTED);
	assert_false(c.r[0].has_data);
	assert_int_equal(c.r[1].flags, 0);
	assert_int_equal(c.r[1].len, 5);
	free(z);
}

static void test_unsupported_method(void **state)
{
	(void)state;
	if (zip_compression_method_supported(ZIP_CM_IMPLODE, 0)) {
		skip();
		return;
	}
	struct spec s[] = {
		{ "imploded", "not really imploded", 19, ZIP_CM_STORE, 0, 0, 0 },
		{ "ok", "fine", 4, ZIP_CM_STORE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 2, &n);
	wr16(z + cdrec(z, n, "imploded") + 10, ZIP_CM_IMPLODE);
	wr16(z + lhrec(z, n, "imploded") + 8, ZIP_CM_IMPLODE);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.r[0].flags, ZIPE_UNSUPPORTED);
	assert_int_equal(c.r[0].method, ZIP_CM_IMPLODE);
	assert_false(c.r[0].has_data);
	assert_int_equal(c.r[1].len, 4);
	free(z);
}

static uint8_t *zeros_zip(size_t zeros, const char *name, size_t *n)
{
	uint8_t *zero = calloc(zeros, 1);
	assert_non_null(zero);
	struct spec s[] = {
		{ "before.txt", "ok", 2, ZIP_CM_STORE, 0, 0, 0 },
		{ name, zero, zeros, ZIP_CM_DEFLATE, 0, 0, 0 },
	};
	uint8_t *z = mkzip(s, 2, n);
	free(zero);
	return z;
}

static void test_bomb_entry_limit(void **state)
{
	(void)state;
	size_t n;
	uint8_t *z = zeros_zip(8u << 20, "payload/bomb.bin", &n);
	assert_true(n < 64 * 1024); /* 8 MB of zeros deflates to a few KB */
	struct zip_limits lim = { 0, 0, 1u << 20, 0 };
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, &lim, &c, &err), -1);
	assert_int_equal(c.n, 1); /* the entry before was delivered */
	assert_contains(err.msg, "payload/bomb.bin");
	assert_contains(err.msg, "per-entry limit of 1048576");
	assert_string_equal(err.field, "entry 1");
	free(z);
}

static void test_bomb_lying_size(void **state)
{
	(void)state;
	size_t n;
	uint8_t *z = zeros_zip(4u << 20, "liar.bin", &n);
	/* claim 1000 bytes: the walk must not believe it */
	wr32(z + cdrec(z, n, "liar.bin") + 24, 1000);
	wr32(z + lhrec(z, n, "liar.bin") + 22, 1000);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), -1);
	assert_contains(err.msg, "liar.bin");
	assert_contains(err.msg, "1000 bytes the archive declares");

	/* and with a limit below the real size, the limit is what stops it */
	wr32(z + cdrec(z, n, "liar.bin") + 24, 4u << 20);
	wr32(z + lhrec(z, n, "liar.bin") + 22, 4u << 20);
	struct zip_limits lim = { 0, 0, 100000, 0 };
	assert_int_equal(walk(z, n, &lim, &c, &err), -1);
	assert_contains(err.msg, "per-entry limit of 100000");

	/* declared larger than inflated (a lenient ratio: only the size is wrong) */
	wr32(z + cdrec(z, n, "liar.bin") + 24, (4u << 20) + 1);
	wr32(z + lhrec(z, n, "liar.bin") + 22, (4u << 20) + 1);
	lim = (struct zip_limits){ 0, 0, 0, 100000 };
	assert_int_equal(walk(z, n, &lim, &c, &err), -1);
	assert_contains(err.msg, "liar.bin");
	assert_contains(err.msg, "inflated 4194304 bytes but the archive declares 4194305");
	free(z);
}

static void test_ratio_limit(void **state)
{
	(void)state;
	size_t n;
	uint8_t *z = zeros_zip(3u << 20, "zeros.bin", &n);
	struct zip_limits lim = { 0, 0, 16u << 20, 0 };
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, &lim, &c, &err), -1);
	assert_contains(err.msg, "zeros.bin");
	assert_contains(err.msg, "decompression bomb: ratio ");
	assert_contains(err.msg, ":1 exceeds limit 200");
	/* a generous ratio lets it through */
	lim.max_ratio = 100000;
	assert_int_equal(walk(z, n, &lim, &c, &err), 0);
	assert_int_equal(c.r[1].len, 3u << 20);
	free(z);

	/* below the floor the ratio is not judged */
	z = zeros_zip(PG_ZIP_RATIO_FLOOR, "small-zeros.bin", &n);
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.r[1].len, PG_ZIP_RATIO_FLOOR);
	free(z);
}

static void test_total_limit(void **state)
{
	(void)state;
	size_t k = 600000;
	uint8_t *r = malloc(3 * k);
	assert_non_null(r);
	fill_random(r, 3 * k, 99);
	struct spec s[] = {
		{ "part1", r, k, ZIP_CM_DEFLATE, 0, 0, 0 },
		{ "part2", r + k, k, ZIP_CM_STORE, 0, 0, 0 },
		{ "part3", r + 2 * k, k, ZIP_CM_DEFLATE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 3, &n);
	struct zip_limits lim = { 0, 1u << 20, 0, 0 };
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, &lim, &c, &err), -1);
	assert_int_equal(c.n, 1);
	assert_contains(err.msg, "part2");
	assert_contains(err.msg, "total limit of 1048576");
	lim.max_total = 3 * k;
	assert_int_equal(walk(z, n, &lim, &c, &err), 0);
	assert_int_equal(c.n, 3);
	lim.max_total = 3 * k - 1;
	assert_int_equal(walk(z, n, &lim, &c, &err), -1);
	assert_contains(err.msg, "part3");
	free(z);
	free(r);
}

static void test_entry_count_limit(void **state)
{
	(void)state;
	struct spec s[5];
	static const char *names[] = { "e0", "e1", "e2", "e3", "e4" };
	for (size_t i = 0; i < 5; i++)
		s[i] = (struct spec){ names[i], "x", 1, ZIP_CM_STORE, 0, 0, 0 };
	size_t n;
	uint8_t *z = mkzip(s, 5, &n);
	struct zip_limits lim = { 4, 0, 0, 0 };
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, &lim, &c, &err), -1);
	assert_int_equal(c.n, 0); /* refused before the first entry */
	assert_contains(err.msg, "5 entries exceed the limit of 4");
	lim.max_entries = 5;
	assert_int_equal(walk(z, n, &lim, &c, &err), 0);
	assert_int_equal(c.n, 5);
	free(z);
}

static void test_empty_archive(void **state)
{
	(void)state;
	uint8_t eocd[22] = { 'P', 'K', 5, 6 };
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_true(ziparch_sniff(eocd, sizeof eocd));
	assert_int_equal(walk(eocd, sizeof eocd, NULL, &c, &err), 0);
	assert_int_equal(c.n, 0);
	/* nothing at all is not an archive */
	assert_int_equal(walk(eocd, 0, NULL, &c, &err), -1);
	assert_contains(err.msg, "too short");
	assert_int_equal(ziparch_walk(NULL, 0, NULL, collect, &c, &err), -1);
}

static void test_truncated(void **state)
{
	(void)state;
	struct spec s[] = {
		{ "one.txt", TXT, sizeof TXT - 1, ZIP_CM_DEFLATE, 0, 0, 0 },
		{ "two/", NULL, 0, 0, 1, 0, 0 },
		{ "two/three.txt", TXT, sizeof TXT - 1, ZIP_CM_STORE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 3, &n);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	for (size_t cut = 0; cut < n; cut++) {
		int rc = walk(z, cut, NULL, &c, &err);
		if (rc != -1)
			fail_msg("cut at %zu of %zu: rc %d", cut, n, rc);
		assert_true(err.msg[0] != '\0');
	}
	/* trailing garbage after the archive: no end record ends the file */
	uint8_t *longer = malloc(n + 3);
	assert_non_null(longer);
	memcpy(longer, z, n);
	memcpy(longer + n, "xyz", 3);
	assert_int_equal(walk(longer, n + 3, NULL, &c, &err), -1);
	assert_contains(err.msg, "no end-of-central-directory record");
	free(longer);
	free(z);
}

static void test_corrupt_bytes(void **state)
{
	(void)state;
	struct spec s[] = {
		{ "one.txt", TXT, sizeof TXT - 1, ZIP_CM_DEFLATE, 0, 0, 0 },
		{ "two.txt", TXT, sizeof TXT - 1, ZIP_CM_STORE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 2, &n);
	size_t cd = find(z, n, "PK\x01\x02", 4, 0);
	assert_true(cd != SIZE_MAX);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	unsigned errors = 0;
	/* every single byte of the central directory and EOCD, three ways */
	static const uint8_t xors[] = { 0xff, 0x01, 0x80 };
	for (size_t x = 0; x < 3; x++) {
		for (size_t i = cd; i < n; i++) {
			z[i] ^= xors[x];
			int rc = walk(z, n, NULL, &c, &err);
			z[i] ^= xors[x];
			assert_true(rc == 0 || rc == -1);
			if (rc == -1) {
				errors++;
				assert_true(err.msg[0] != '\0');
			}
		}
	}
	assert_true(errors > 0);
	/* and the local headers and data */
	for (size_t i = 0; i < cd; i++) {
		z[i] ^= 0xff;
		int rc = walk(z, n, NULL, &c, &err);
		z[i] ^= 0xff;
		assert_true(rc == 0 || rc == -1);
	}
	/* something that only looks like a ZIP */
	uint8_t junk[300];
	fill_random(junk, sizeof junk, 5);
	memcpy(junk, "PK\x03\x04", 4);
	assert_int_equal(walk(junk, sizeof junk, NULL, &c, &err), -1);
	assert_contains(err.msg, "no end-of-central-directory record");
	free(z);
}

static void test_crc_mismatch(void **state)
{
	(void)state;
	static const char body[] = "hello world, checksum me";
	struct spec s[] = {
		{ "first.txt", "fine", 4, ZIP_CM_STORE, 0, 0, 0 },
		{ "checked.txt", body, sizeof body - 1, ZIP_CM_STORE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 2, &n);
	size_t at = find(z, n, "checksum", 8, 0);
	assert_true(at != SIZE_MAX);
	z[at] = 'C';
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), -1);
	assert_int_equal(c.n, 1);
	assert_contains(err.msg, "checked.txt");
	assert_contains(err.msg, "CRC");
	free(z);

	/* same in a deflated entry: corrupt the stored CRC itself */
	struct spec d[] = { { "deflated.st", TXT, sizeof TXT - 1, ZIP_CM_DEFLATE, 0, 0, 0 } };
	z = mkzip(d, 1, &n);
	size_t cd = cdrec(z, n, "deflated.st"), lh = lhrec(z, n, "deflated.st");
	wr32(z + cd + 16, rd32(z + cd + 16) ^ 0x10);
	wr32(z + lh + 14, rd32(z + lh + 14) ^ 0x10);
	assert_int_equal(walk(z, n, NULL, &c, &err), -1);
	assert_contains(err.msg, "deflated.st");
	assert_contains(err.msg, "CRC");
	free(z);
}

static void test_bad_names(void **state)
{
	(void)state;
	struct spec s[] = {
		{ "nul#name", "a", 1, ZIP_CM_STORE, 0, 0, 0 },
		{ "cp437-?", "b", 1, ZIP_CM_STORE, 0, 0, 0 },
		{ "E", "c", 1, ZIP_CM_STORE, 0, 0, 0 },
		{ "./", "", 0, ZIP_CM_STORE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 4, &n);
	assert_int_equal(patch_all(z, n, "nul#name", "nul\0name"), 2);
	assert_int_equal(patch_all(z, n, "cp437-?", "cp437-\x81"), 2);
	/* an empty stored name: shorten "E" to length 0 in both headers */
	size_t cd = cdrec(z, n, "E"), lh = lhrec(z, n, "E");
	(void)cd;
	wr16(z + lh + 26, 0);
	memmove(z + lh + 30, z + lh + 31, n - (lh + 31));
	n--;
	cd = cdrec(z, n, "E");
	wr16(z + cd + 28, 0);
	memmove(z + cd + 46, z + cd + 47, n - (cd + 47));
	n--;
	/* fix the offsets that moved: later local headers and the EOCD */
	for (size_t at = 0; (at = find(z, n, "PK\x01\x02", 4, at)) != SIZE_MAX; at++)
		if (rd32(z + at + 42) > lh)
			wr32(z + at + 42, rd32(z + at + 42) - 1);
	size_t eocd = n - 22;
	assert_memory_equal(z + eocd, "PK\x05\x06", 4);
	wr32(z + eocd + 12, rd32(z + eocd + 12) - 1);
	wr32(z + eocd + 16, rd32(z + eocd + 16) - 1);

	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	if (walk(z, n, NULL, &c, &err) != 0)
		fail_msg("walk: %s", err.msg);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.r[0].flags, ZIPE_BAD_NAME);
	assert_string_equal(c.r[0].raw, "nul"); /* the stored bytes stop at NUL */
	assert_string_equal(c.r[0].name, "nul name"); /* libzip 1.7.3 shows a space */
	assert_int_equal(c.r[1].flags, 0);
	assert_string_equal(c.r[1].raw, "cp437-\x81");
	assert_string_equal(c.r[1].name, "cp437-\xc3\xbc"); /* CP437 0x81 is U+00FC */
	assert_int_equal(c.r[2].flags, ZIPE_BAD_NAME);
	assert_string_equal(c.r[2].name, "");
	/* "./" normalises to "" too, so it also repeats entry 2's name */
	assert_int_equal(c.r[3].flags, ZIPE_BAD_NAME | ZIPE_DUPLICATE);
	assert_string_equal(c.r[3].raw, "./");
	assert_string_equal(c.r[3].name, "");
	free(z);
}

static void test_callback_stop(void **state)
{
	(void)state;
	struct spec s[] = {
		{ "a", "1", 1, ZIP_CM_STORE, 0, 0, 0 },
		{ "b", "2", 1, ZIP_CM_STORE, 0, 0, 0 },
		{ "c", "3", 1, ZIP_CM_STORE, 0, 0, 0 },
	};
	size_t n;
	uint8_t *z = mkzip(s, 3, &n);
	struct coll c = { .stop_at = 2 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), 42);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.r[1].name, "b");
	free(z);
}

/* ---- archives made by Info-ZIP's zip(1) -------------------------------- */

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long sz = ftell(f);
	assert_true(sz > 0);
	rewind(f);
	uint8_t *b = malloc((size_t)sz);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*n = (size_t)sz;
	return b;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void test_zip_command(void **state)
{
	(void)state;
	if (sh("command -v zip >/dev/null 2>&1") != 0) {
		skip();
		return;
	}
	const char *tmp = getenv("TMPDIR");
	char dir[512];
	snprintf(dir, sizeof dir, "%s/pgziptest.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(sh("cd '%s' && mkdir -p proj/sub && printf 'main' > proj/main.st && "
			    "head -c 300000 /dev/zero > proj/sub/zeros.bin && "
			    "ln -s main.st proj/link && "
			    "zip -q -r -y plain.zip proj && "
			    "zip -q -fz z64.zip proj/main.st && "
			    "printf 'streamed' | zip -q - - > stream.zip", dir), 0);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	char path[600];
	size_t n;
	uint8_t *z;

	snprintf(path, sizeof path, "%s/plain.zip", dir);
	z = slurp(path, &n);
	if (walk(z, n, NULL, &c, &err) != 0)
		fail_msg("plain.zip: %s", err.msg);
	int seen = 0;
	for (size_t i = 0; i < c.n; i++) {
		if (!strcmp(c.r[i].name, "proj/"))
			seen |= 1, assert_int_equal(c.r[i].flags, ZIPE_DIR);
		if (!strcmp(c.r[i].name, "proj/main.st"))
			seen |= 2, assert_int_equal(c.r[i].len, 4);
		if (!strcmp(c.r[i].name, "proj/sub/zeros.bin"))
			seen |= 4, assert_int_equal(c.r[i].len, 300000);
		if (!strcmp(c.r[i].name, "proj/link")) {
			seen |= 8;
			assert_int_equal(c.r[i].flags, ZIPE_SYMLINK);
			assert_int_equal(c.r[i].len, 7);
		}
	}
	assert_int_equal(seen, 15);
	free(z);

	snprintf(path, sizeof path, "%s/z64.zip", dir);
	z = slurp(path, &n);
	if (walk(z, n, NULL, &c, &err) != 0)
		fail_msg("z64.zip: %s", err.msg);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.r[0].name, "proj/main.st");
	free(z);

	snprintf(path, sizeof path, "%s/stream.zip", dir);
	z = slurp(path, &n);
	if (walk(z, n, NULL, &c, &err) != 0)
		fail_msg("stream.zip: %s", err.msg);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.r[0].name, "-");
	assert_int_equal(c.r[0].len, 8);
	free(z);

	assert_int_equal(sh("rm -rf '%s'", dir), 0);
}

/* ---- TIA Portal's layout and the local-vs-central evasions --------------- */

static const char PEDATA[] = "PEData: the PLC program, approved build 7\n";

static const struct tz_entry TIA[] = {
	{ "System\\", NULL, 0 },
	{ "System\\PEData.plf", PEDATA, sizeof PEDATA - 1 },
	{ "UserFiles/", NULL, 0 },
	{ "HowTos_Sinus_Wave.ap16", TXT, sizeof TXT - 1 },
	{ "Logs\\empty.log", "", 0 },
};
#define N_TIA (sizeof TIA / sizeof TIA[0])

static void test_tia_layout(void **state)
{
	(void)state;
	size_t n;
	uint8_t *z = tiazip_build(TIA, N_TIA, NULL, &n);
	/* the layout really is TIA's: 45 + Zip64 extra locally, 20 and none centrally */
	size_t lh = lhrec(z, n, "System\\PEData.plf"), cd = cdrec(z, n, "System\\PEData.plf");
	assert_int_equal(rd16(z + lh + 4), 45);
	assert_int_equal(rd32(z + lh + 18), 0xffffffffu);
	assert_int_equal(rd16(z + lh + 28), 20);
	assert_int_equal(rd16(z + lh + 30 + 17), 0x0001);
	assert_int_equal(rd16(z + cd + 6), 20);
	assert_int_equal(rd16(z + cd + 30), 0);
	assert_int_equal(rd16(z + cd + 10), 8);

	/* what every TIA archive got before: libzip's ZIP_CHECKCONS refuses it */
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(z, n, 0, &ze);
	assert_non_null(src);
	zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
	assert_null(za);
	assert_int_equal(zip_error_code_zip(&ze), ZIP_ER_INCONS);
	zip_source_free(src);
	zip_error_fini(&ze);

	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	if (walk(z, n, NULL, &c, &err) != 0)
		fail_msg("TIA layout refused: %s", err.msg);
	assert_int_equal(c.n, N_TIA);
	assert_string_equal(c.r[0].name, "System/");
	assert_int_equal(c.r[0].flags, ZIPE_DIR);
	assert_string_equal(c.r[1].name, "System/PEData.plf");
	assert_string_equal(c.r[1].raw, "System\\PEData.plf");
	assert_int_equal(c.r[1].flags, 0);
	assert_int_equal(c.r[1].method, 8);
	char hex[PG_SHA256_HEX];
	assert_string_equal(c.r[1].hex, sha_hex(PEDATA, sizeof PEDATA - 1, hex));
	assert_string_equal(c.r[2].name, "UserFiles/");
	assert_int_equal(c.r[2].flags, ZIPE_DIR);
	assert_string_equal(c.r[3].hex, sha_hex(TXT, sizeof TXT - 1, hex));
	assert_string_equal(c.r[4].name, "Logs/empty.log");
	assert_int_equal(c.r[4].len, 0);
	free(z);

	/* and in the plain 32-bit layout the same bytes come out */
	struct tz_opts plain = { .no_zip64 = 1 };
	z = tiazip_build(TIA, N_TIA, &plain, &n);
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_string_equal(c.r[1].hex, sha_hex(PEDATA, sizeof PEDATA - 1, hex));
	free(z);
}

static void test_data_descriptor(void **state)
{
	(void)state;
	char hex[PG_SHA256_HEX];
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	for (int z64 = 0; z64 <= 1; z64++) {
		struct tz_opts o = { .descriptor = 1, .no_zip64 = !z64 };
		size_t n;
		uint8_t *z = tiazip_build(TIA, N_TIA, &o, &n);
		size_t lh = lhrec(z, n, "System\\PEData.plf");
		assert_int_equal(rd16(z + lh + 6) & 8, 8);
		assert_int_equal(rd32(z + lh + 14), 0);
		if (walk(z, n, NULL, &c, &err) != 0)
			fail_msg("descriptor (zip64 %d) refused: %s", z64, err.msg);
		assert_int_equal(c.n, N_TIA);
		assert_string_equal(c.r[1].hex, sha_hex(PEDATA, sizeof PEDATA - 1, hex));

		/* a descriptor that disagrees with the central record is named */
		size_t dd = find(z, n, "PK\x07\x08", 4, lh);
		assert_true(dd != SIZE_MAX);
		z[dd + 4] ^= 1;
		assert_int_equal(walk(z, n, NULL, &c, &err), -1);
		assert_string_equal(err.field, ZL_DESCRIPTOR);
		assert_int_equal(err.offset, dd);
		assert_contains(err.msg, "System/PEData.plf");
		free(z);
	}
}

/* Insert k bytes at offset at and fix every offset that moved (TIA layout:
 * no Zip64 end records). */
static uint8_t *insert_bytes(const uint8_t *z, size_t n, size_t at, const char *junk,
			     size_t k, size_t *out)
{
	uint8_t *b = malloc(n + k);
	assert_non_null(b);
	memcpy(b, z, at);
	memcpy(b + at, junk, k);
	memcpy(b + at + k, z + at, n - at);
	size_t m = n + k, eocd = m - 22;
	assert_memory_equal(b + eocd, "PK\x05\x06", 4);
	size_t cd = rd32(b + eocd + 16);
	if (cd >= at)
		wr32(b + eocd + 16, (uint32_t)(cd + k)), cd += k;
	for (size_t p = cd; p + 46 <= eocd; p += 46 + rd16(b + p + 28) + rd16(b + p + 30) + rd16(b + p + 32)) {
		assert_memory_equal(b + p, "PK\x01\x02", 4);
		if (rd32(b + p + 42) >= at)
			wr32(b + p + 42, rd32(b + p + 42) + (uint32_t)k);
	}
	*out = m;
	return b;
}

static void expect_problem(const uint8_t *z, size_t n, const char *field, size_t offset,
			   const char *in_msg)
{
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), -1);
	assert_int_equal(c.n, 0); /* refused before any content is delivered */
	if (strcmp(err.field, field) != 0)
		fail_msg("wanted %s, got %s: %s", field, err.field, err.msg);
	assert_int_equal(err.offset, offset);
	if (in_msg)
		assert_contains(err.msg, in_msg);

	/* and the scan reports it as a problem naming the archive and the offset */
	struct pg_complist out = { NULL, 0, 0 };
	struct pg_scan_msg *msgs = NULL;
	size_t n_msgs = 0;
	json_t *ann = json_object();
	pg_scan_blob("proj.zap16", z, n, 0, &out, &msgs, &n_msgs, ann);
	assert_int_equal(n_msgs, 1);
	char want[64];
	snprintf(want, sizeof want, "offset %zu (%s)", offset, field);
	assert_contains(msgs[0].text, "proj.zap16: ZIP archive: ");
	assert_contains(msgs[0].text, want);
	assert_int_equal(msgs[0].io, 0);
	free(msgs[0].text);
	free(msgs);
	json_decref(ann);
	pg_complist_free(&out);
}

static void test_evasions(void **state)
{
	(void)state;
	size_t n, m;
	uint8_t *z = tiazip_build(TIA, N_TIA, NULL, &n);
	const char *pe = "System\\PEData.plf";
	size_t lh = lhrec(z, n, pe), cd = cdrec(z, n, pe);
	uint8_t *b = malloc(n);
	assert_non_null(b);

	/* name: one byte of the local name only */
	memcpy(b, z, n);
	b[lh + 30 + 7] = 'X';
	expect_problem(b, n, ZL_NAME_MISMATCH, lh, "System/PEData.plf");
	/* '\\' locally, '/' centrally: raw bytes differ, so it is a mismatch too */
	memcpy(b, z, n);
	b[lh + 30 + 6] = '/';
	expect_problem(b, n, ZL_NAME_MISMATCH, lh, "names it \"System/PEData.plf\"");
	/* method */
	memcpy(b, z, n);
	wr16(b + lh + 8, 0);
	expect_problem(b, n, ZL_METHOD_MISMATCH, lh, "method 0 in the local header, 8");
	/* CRC */
	memcpy(b, z, n);
	wr32(b + lh + 14, rd32(b + lh + 14) ^ 0x100);
	expect_problem(b, n, ZL_CRC_MISMATCH, lh, "PEData");
	/* sizes: the Zip64 extra's uncompressed and compressed size, then a
	 * 32-bit field that is not the all-ones escape */
	memcpy(b, z, n);
	b[lh + 30 + 17 + 4] ^= 1;
	expect_problem(b, n, ZL_SIZE_MISMATCH, lh, "uncompressed bytes");
	memcpy(b, z, n);
	b[lh + 30 + 17 + 12] ^= 1;
	expect_problem(b, n, ZL_SIZE_MISMATCH, lh, NULL);
	memcpy(b, z, n);
	wr32(b + lh + 18, rd32(z + cd + 20) + 1);
	expect_problem(b, n, ZL_SIZE_MISMATCH, lh, NULL);
	/* all-ones without a Zip64 extra to resolve it */
	memcpy(b, z, n);
	wr16(b + lh + 30 + 17, 0x5455);
	expect_problem(b, n, ZL_SIZE_MISMATCH, lh, NULL);
	/* encryption bit on one side only */
	memcpy(b, z, n);
	wr16(b + lh + 6, 1);
	expect_problem(b, n, ZL_FLAGS_MISMATCH, lh, NULL);
	/* two central records for one local header */
	size_t lh0 = lhrec(z, n, "HowTos_Sinus_Wave.ap16");
	memcpy(b, z, n);
	wr32(b + cdrec(b, n, "Logs\\empty.log") + 42, (uint32_t)lh0);
	expect_problem(b, n, ZL_NAME_MISMATCH, lh0, NULL);
	free(b);

	/* prefix bytes before the first local header (they start like a local
	 * header: a file that does not is not taken for an archive at all and
	 * is hashed whole, see docs/FORMATS.md) */
	b = insert_bytes(z, n, 0, "PK\x03\x04-stub!", 10, &m);
	expect_problem(b, m, ZL_PREFIX, 0, "10 bytes before the first local header");
	free(b);
	b = insert_bytes(z, n, 0, "MZ-stub!", 8, &m);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(b, m, NULL, &c, &err), -1);
	assert_string_equal(err.field, ZL_PREFIX);
	free(b);
	/* bytes hidden between two entries */
	b = insert_bytes(z, n, lh, "hidden", 6, &m);
	expect_problem(b, m, ZL_HIDDEN, lh, "6 bytes between entry 0 \"System/\" and entry 1 \"System/PEData.plf\"");
	free(b);
	/* between the last entry and the central directory */
	size_t cdo = rd32(z + n - 22 + 16);
	b = insert_bytes(z, n, cdo, "tail", 4, &m);
	expect_problem(b, m, ZL_HIDDEN, cdo, "and the central directory");
	free(b);
	/* between the central directory and the end record */
	b = insert_bytes(z, n, n - 22, "xx", 2, &m);
	wr32(b + m - 22 + 16, (uint32_t)cdo); /* the directory did not move */
	expect_problem(b, m, ZL_HIDDEN, n - 22, "end record");
	free(b);

	/* a second plausible end record (here in the comment of the first) */
	b = malloc(n + 22);
	assert_non_null(b);
	memcpy(b, z, n);
	memcpy(b + n, z + n - 22, 22);
	wr16(b + n - 2, 22);
	expect_problem(b, n + 22, ZL_SECOND_EOCD, n - 22, NULL);
	free(b);
	free(z);
}

static void test_overlap(void **state)
{
	(void)state;
	/* entry a.bin (stored) carries, as its data, a complete local header and
	 * data of b.txt; b.txt's central record points inside a.bin */
	struct tz_opts st = { .no_zip64 = 1, .stored = 1 };
	struct tz_entry inner[] = { { "b.txt", "B!", 2 } };
	size_t ni;
	uint8_t *in = tiazip_build(inner, 1, &st, &ni);
	size_t part = rd32(in + ni - 22 + 16); /* its local header + data */
	struct tz_entry outer[] = { { "a.bin", in, part }, { "b.txt", "B!", 2 } };
	size_t n;
	uint8_t *z = tiazip_build(outer, 2, &st, &n);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	size_t a_data = 30 + 5;
	wr32(z + cdrec(z, n, "b.txt") + 42, (uint32_t)a_data);
	expect_problem(z, n, ZL_OVERLAP, a_data, "inside entry 0 \"a.bin\"");
	free(z);

	/* data declared longer than there is room before the central directory */
	z = tiazip_build(outer, 2, &st, &n);
	size_t cd = cdrec(z, n, "b.txt"), lh = lhrec(z, n, "b.txt");
	wr32(z + cd + 20, 4000);
	wr32(z + cd + 24, 4000);
	wr32(z + lh + 18, 4000);
	wr32(z + lh + 22, 4000);
	expect_problem(z, n, ZL_OVERLAP, lh, "run into the central directory");
	free(z);
	free(in); /* outer[0] pointed into it */
}

static void test_tia_duplicates(void **state)
{
	(void)state;
	struct tz_entry d[] = {
		{ "a\\b", "first", 5 },
		{ "a/b", "second", 6 },
	};
	size_t n;
	uint8_t *z = tiazip_build(d, 2, NULL, &n);
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	assert_int_equal(walk(z, n, NULL, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.r[0].flags, 0);
	assert_int_equal(c.r[1].flags, ZIPE_DUPLICATE);
	assert_string_equal(c.r[1].name, "a/b");

	/* the scan records both and names the repeat as a problem */
	struct pg_complist out = { NULL, 0, 0 };
	struct pg_scan_msg *msgs = NULL;
	size_t n_msgs = 0;
	json_t *ann = json_object();
	pg_scan_blob("proj.zap16", z, n, 0, &out, &msgs, &n_msgs, ann);
	assert_int_equal(n_msgs, 1);
	assert_contains(msgs[0].text, "proj.zap16!a/b~1: archive entry 1 at offset ");
	assert_contains(msgs[0].text, "repeats an earlier entry's name");
	assert_int_equal(out.n, 2);
	free(msgs[0].text);
	free(msgs);
	json_decref(ann);
	pg_complist_free(&out);
	free(z);
}

static void test_tia_truncated(void **state)
{
	(void)state;
	struct coll c = { .stop_at = 0 };
	struct pg_err err;
	for (int dd = 0; dd <= 1; dd++) {
		struct tz_opts o = { .descriptor = dd };
		size_t n;
		uint8_t *z = tiazip_build(TIA, N_TIA, &o, &n);
		for (size_t cut = 0; cut < n; cut++) {
			int rc = walk(z, cut, NULL, &c, &err);
			if (rc != -1)
				fail_msg("cut at %zu of %zu: rc %d", cut, n, rc);
			assert_true(err.msg[0] != '\0');
		}
		/* every byte flipped: a result or a named error, never a crash */
		for (size_t i = 0; i < n; i++) {
			z[i] ^= 0x5a;
			int rc = walk(z, n, NULL, &c, &err);
			z[i] ^= 0x5a;
			assert_true(rc == 0 || rc == -1);
		}
		free(z);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_default_limits),
		cmocka_unit_test(test_normal),
		cmocka_unit_test(test_names_normalised),
		cmocka_unit_test(test_unsafe_names),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_directories),
		cmocka_unit_test(test_symlink),
		cmocka_unit_test(test_encrypted),
		cmocka_unit_test(test_unsupported_method),
		cmocka_unit_test(test_bomb_entry_limit),
		cmocka_unit_test(test_bomb_lying_size),
		cmocka_unit_test(test_ratio_limit),
		cmocka_unit_test(test_total_limit),
		cmocka_unit_test(test_entry_count_limit),
		cmocka_unit_test(test_empty_archive),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupt_bytes),
		cmocka_unit_test(test_crc_mismatch),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_callback_stop),
		cmocka_unit_test(test_zip_command),
		cmocka_unit_test(test_tia_layout),
		cmocka_unit_test(test_data_descriptor),
		cmocka_unit_test(test_evasions),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_tia_duplicates),
		cmocka_unit_test(test_tia_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
