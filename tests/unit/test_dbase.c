/*
 * test_dbase.c - dBase tables and memo files (parsers/dbase.c): a golden
 * table built here byte by byte, every truncation, hostile headers and memos,
 * and the real SIMATIC Manager tables of ../shared/corpus/projects/step7.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dbase.h"
#include "step7_corpus.h"

/* ---- a table and memo file made here ---- */

static size_t put_field(uint8_t *p, const char *name, char type, uint8_t len)
{
	memset(p, 0, 32);
	memcpy(p, name, strlen(name));
	p[11] = (uint8_t)type;
	p[16] = len;
	return 32;
}

/* Fields: OBJECTID N8, SUBBLKTYP C5, TIMESTAMP1 C6 (binary), MC5CODE M10.
 * Records: present, deleted, present with a blank memo. */
static size_t make_table(uint8_t *b)
{
	size_t hdr = 32 + 4 * 32 + 1, rec = 1 + 8 + 5 + 6 + 10;
	memset(b, 0, 32);
	b[0] = 0x8B;
	b[4] = 3;                        /* records */
	b[8] = (uint8_t)hdr;
	b[9] = (uint8_t)(hdr >> 8);
	b[10] = (uint8_t)rec;
	size_t o = 32;
	o += put_field(b + o, "OBJECTID", 'N', 8);
	o += put_field(b + o, "SUBBLKTYP", 'C', 5);
	o += put_field(b + o, "TIMESTAMP1", 'C', 6);
	o += put_field(b + o, "MC5CODE", 'M', 10);
	b[o++] = 0x0D;
	static const char *const r[3] = {
		"       12" "00008" "\x00\x01\x02\x20\x00\x0d" "         1",
		"*      13" "00008" "\x00\x00\x00\x00\x00\x00" "         2",
		"       14" "0000A" "\x09\x09\x09\x09\x09\x09" "          ",
	};
	for (int i = 0; i < 3; i++) {
		memcpy(b + o, r[i], rec);
		o += rec;
	}
	b[o++] = 0x1A;
	return o;
}

static size_t make_memo(uint8_t *b)
{
	memset(b, 0, 1536);
	b[20] = 0x00;
	b[21] = 0x02;                    /* 512-byte blocks */
	static const uint8_t m1[] = { 0xFF, 0xFF, 0x08, 0x00, 14, 0, 0, 0,
				      'p', 'p', 0, 0x0D, 0x0A, 0 };
	memcpy(b + 512, m1, sizeof m1);
	static const uint8_t m2[] = { 0xFF, 0xFF, 0x08, 0x00, 8 + 40, 0, 0, 0 };
	memcpy(b + 1024, m2, sizeof m2);
	for (int i = 0; i < 40; i++)
		b[1032 + i] = (uint8_t)i;
	return 1024 + 8 + 40;
}

static void test_golden(void **state)
{
	(void)state;
	uint8_t t[512], mb[1536];
	size_t tn = make_table(t), mn = make_memo(mb);
	struct dbf d;
	struct dbt m;
	struct pg_err e;
	assert_int_equal(dbf_open(&d, t, tn, &e), 0);
	assert_int_equal(d.nf, 4);
	assert_int_equal(d.nrec, 3);
	assert_int_equal(d.nrec_avail, 3);
	assert_false(d.truncated);
	assert_int_equal(dbf_field_index(&d, "mc5code"), 3);
	assert_int_equal(dbf_field_index(&d, "NOPE"), -1);
	assert_int_equal(dbt_open(&m, mb, mn, &e), 0);
	assert_int_equal(m.block_size, 512);

	const uint8_t *rec, *p;
	size_t n;
	int64_t v;
	uint32_t blk;
	assert_int_equal(dbf_record(&d, 0, &rec), 1);
	assert_int_equal(dbf_num(&d, rec, 0, &v, &e), 0);
	assert_int_equal(v, 12);
	dbf_raw(&d, rec, 2, &p, &n);           /* binary, never trimmed */
	assert_int_equal(n, 6);
	assert_memory_equal(p, "\x00\x01\x02\x20\x00\x0d", 6);
	assert_int_equal(dbf_memo_block(&d, rec, 3, &blk, &e), 0);
	assert_int_equal(blk, 1);
	assert_int_equal(dbt_memo(&m, blk, &p, &n, &e), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(p, "pp\x00\x0d\x0a\x00", 6);   /* binary-safe */
	assert_int_equal(dbf_record(&d, 1, &rec), 0);      /* deleted */
	assert_int_equal(dbf_record(&d, 2, &rec), 1);
	assert_int_equal(dbf_memo_block(&d, rec, 3, &blk, &e), 0);
	assert_int_equal(blk, 0);                           /* blank: no memo */
	assert_int_equal(dbf_num(&d, rec, 1, &v, &e), -1);  /* "0000A" */
	assert_string_equal(e.field, "SUBBLKTYP");
	assert_int_equal(dbf_record(&d, 3, &rec), -1);
	assert_int_equal(dbt_memo(&m, 2, &p, &n, &e), 0);
	assert_int_equal(n, 40);
}

static void test_truncation(void **state)
{
	(void)state;
	uint8_t t[512], mb[1536];
	size_t tn = make_table(t), mn = make_memo(mb);
	for (size_t cut = 0; cut < tn; cut++) {
		uint8_t *b = malloc(cut ? cut : 1);
		memcpy(b, t, cut);
		struct dbf d;
		struct pg_err e;
		if (dbf_open(&d, b, cut, &e) == 0) {
			assert_true(d.nrec_avail <= 3);
			assert_int_equal(d.truncated, d.nrec_avail < 3);
			for (size_t i = 0; i < 4; i++) {
				const uint8_t *rec;
				if (dbf_record(&d, i, &rec) < 0)
					continue;
				const uint8_t *p;
				size_t n;
				dbf_raw(&d, rec, 3, &p, &n);
				assert_true(p + n <= b + cut);
			}
		} else {
			assert_true(e.msg[0] != '\0');
		}
		free(b);
	}
	for (size_t cut = 0; cut < mn; cut++) {
		uint8_t *b = malloc(cut ? cut : 1);
		memcpy(b, mb, cut);
		struct dbt m;
		struct pg_err e;
		const uint8_t *p;
		size_t n;
		if (dbt_open(&m, b, cut, &e) == 0) {
			int r1 = dbt_memo(&m, 1, &p, &n, &e);
			int r2 = dbt_memo(&m, 2, &p, &n, &e);
			assert_int_equal(r2, cut >= 1072 ? 0 : -1);
			assert_int_equal(r1, cut >= 526 ? 0 : -1);
		}
		free(b);
	}
}

static void test_hostile(void **state)
{
	(void)state;
	uint8_t t[512], mb[1536];
	size_t tn = make_table(t);
	make_memo(mb);
	struct dbf d;
	struct dbt m;
	struct pg_err e;
	uint8_t b[512];
	memcpy(b, t, tn);
	b[0] = 0x30;                              /* a FoxPro table, not dBase */
	assert_int_equal(dbf_open(&d, b, tn, &e), -1);
	assert_string_equal(e.field, "dbf.version");
	memcpy(b, t, tn);
	b[8] = 0xFF;
	b[9] = 0xFF;                              /* header longer than the file */
	assert_int_equal(dbf_open(&d, b, tn, &e), -1);
	assert_string_equal(e.field, "dbf.header_length");
	memcpy(b, t, tn);
	b[32 + 4 * 32] = 'X';                     /* no 0x0D terminator */
	assert_int_equal(dbf_open(&d, b, tn, &e), -1);
	memcpy(b, t, tn);
	b[32 + 16] = 0;                           /* a zero-length field */
	assert_int_equal(dbf_open(&d, b, tn, &e), -1);
	assert_string_equal(e.field, "dbf.field_length");
	memcpy(b, t, tn);
	b[10] = 5;                                /* fields longer than a record */
	assert_int_equal(dbf_open(&d, b, tn, &e), -1);
	assert_string_equal(e.field, "dbf.record_length");
	memcpy(b, t, tn);
	b[4] = 0xFF;
	b[7] = 0x7F;                              /* 2 billion records declared */
	assert_int_equal(dbf_open(&d, b, tn, &e), 0);
	assert_int_equal(d.nrec_avail, 3);
	assert_true(d.truncated);

	assert_int_equal(dbt_open(&m, mb, sizeof mb, &e), 0);
	const uint8_t *p;
	size_t n;
	assert_int_equal(dbt_memo(&m, 0, &p, &n, &e), -1);   /* the header block */
	assert_int_equal(dbt_memo(&m, 9, &p, &n, &e), -1);   /* past the end */
	assert_string_equal(e.field, "dbt.block");
	mb[512] = 0;                                          /* marker */
	assert_int_equal(dbt_memo(&m, 1, &p, &n, &e), -1);
	assert_string_equal(e.field, "dbt.marker");
	assert_int_equal(e.offset, 512);
	mb[1024 + 4] = 0xF0;
	mb[1024 + 5] = 0xFF;                                  /* runs past the end */
	assert_int_equal(dbt_memo(&m, 2, &p, &n, &e), -1);
	assert_string_equal(e.field, "dbt.length");
	mb[1024 + 4] = 4;
	mb[1024 + 5] = 0;                                     /* below its header */
	assert_int_equal(dbt_memo(&m, 2, &p, &n, &e), -1);
	uint32_t uint_max_block = 0xFFFFFFFFu;
	assert_int_equal(dbt_memo(&m, uint_max_block, &p, &n, &e), -1);
}

/* ---- the real SIMATIC Manager tables ---- */

static void check_table(const struct s7c_table *t, void *ctx)
{
	unsigned *total = ctx;
	struct dbf d;
	struct dbt m;
	struct pg_err e;
	assert_int_equal(dbf_open(&d, t->tb, t->tn, &e), 0);
	assert_int_equal(dbt_open(&m, t->mb, t->mn, &e), 0);
	assert_false(d.truncated);
	int ftyp = dbf_field_index(&d, "SUBBLKTYP"), fnum = dbf_field_index(&d, "BLKNUMBER");
	int fmc5 = dbf_field_index(&d, "MC5CODE"), flen = dbf_field_index(&d, "MC5LEN");
	int ftot = dbf_field_index(&d, "BLKTOTLEN"), fssb = dbf_field_index(&d, "SSBLEN");
	int fadd = dbf_field_index(&d, "ADDLEN");
	assert_true(ftyp >= 0 && fnum >= 0 && fmc5 >= 0 && flen >= 0 && ftot >= 0);
	assert_true(fssb >= 0 && fadd >= 0);
	assert_true(dbf_field_index(&d, "TIMESTAMP1") >= 0);
	unsigned blocks = 0, deleted = 0;
	for (size_t i = 0; i < d.nrec_avail; i++) {
		const uint8_t *rec;
		if (dbf_record(&d, i, &rec) == 0) {
			deleted++;
			continue;
		}
		int64_t typ, num, mc5len, tot, ssb, add;
		if (dbf_num(&d, rec, ftyp, &typ, &e) != 0 ||
		    (typ != 8 && typ != 10 && typ != 12 && typ != 14))
			continue;    /* not the downloaded sub-block */
		assert_int_equal(dbf_num(&d, rec, fnum, &num, &e), 0);
		assert_int_equal(dbf_num(&d, rec, flen, &mc5len, &e), 0);
		assert_int_equal(dbf_num(&d, rec, ftot, &tot, &e), 0);
		assert_int_equal(dbf_num(&d, rec, fssb, &ssb, &e), 0);
		assert_int_equal(dbf_num(&d, rec, fadd, &add, &e), 0);
		/* PROTOCOLS.md section 7: BLKTOTLEN-6 = 72 + MC5 + SSB + ADD */
		assert_int_equal(tot - 6, 72 + mc5len + ssb + add);
		uint32_t blk;
		assert_int_equal(dbf_memo_block(&d, rec, fmc5, &blk, &e), 0);
		if (mc5len) {
			const uint8_t *p;
			size_t n;
			assert_true(blk != 0);
			assert_int_equal(dbt_memo(&m, blk, &p, &n, &e), 0);
			assert_true(n >= (size_t)mc5len);
		}
		blocks++;
	}
	printf("corpus %s/%s: %u downloadable sub-blocks, %u deleted rows\n", t->project,
	       t->folder, blocks, deleted);
	assert_true(blocks >= 1);
	*total += blocks;
}

static void test_corpus_subblk(void **state)
{
	(void)state;
	unsigned blocks = 0;
	assert_true(s7c_each(check_table, &blocks) >= 2);
	assert_int_equal(blocks, 19);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_corpus_subblk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
