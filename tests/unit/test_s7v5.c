/*
 * test_s7v5.c - STEP 7 V5 offline blocks rebuilt as download images
 * (parsers/s7v5.c), on the real SIMATIC Manager projects of
 * ../shared/corpus/projects/step7: every downloadable block of every project
 * rebuilds, mc7_parse() accepts it (the same parser and fingerprint as a
 * block seen on the wire) with its type, number and BLKTOTLEN-6 length; and a
 * row whose lengths lie is a named error, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mc7.h"
#include "s7v5.h"
#include "step7_corpus.h"

/* Rebuild every block of one table and count them; with `lie`, each row's
 * MC5LEN is first made to lie, and the rebuild must refuse it. */
struct run {
	int lie;
	unsigned blocks;
};

static void table_blocks(const struct s7c_table *t, void *ctx)
{
	struct run *r = ctx;
	struct dbf d;
	struct dbt m;
	struct s7v5_cols c;
	struct pg_err e;
	unsigned got = 0;
	assert_int_equal(dbf_open(&d, t->tb, t->tn, &e), 0);
	assert_int_equal(dbt_open(&m, t->mb, t->mn, &e), 0);
	assert_int_equal(s7v5_cols(&d, &c, &e), 0);
	for (size_t i = 0; i < d.nrec_avail; i++) {
		const uint8_t *rec;
		uint8_t type;
		uint16_t number;
		if (dbf_record(&d, i, &rec) != 1 || !s7v5_download_row(&d, &c, rec, &type, &number))
			continue;
		uint8_t *img = NULL;
		size_t n = 0;
		if (r->lie) {
			/* MC5LEN larger than the memo: a named error */
			uint8_t *f = (uint8_t *)rec + d.f[c.mc5len].off;
			size_t k = d.f[c.mc5len].len;
			int64_t v;
			assert_int_equal(dbf_num(&d, rec, c.mc5len, &v, &e), 0);
			char num[300];
			snprintf(num, sizeof num, "%*lld", (int)(k & 0xFF), (long long)v + 100000);
			memcpy(f, num, k < sizeof num ? k : sizeof num);
			assert_int_equal(s7v5_image(&d, &m, &c, rec, 1 << 20, &img, &n, &e), -1);
			assert_true(!strcmp(e.field, "BLKTOTLEN") || !strcmp(e.field, "MC5LEN"));
			assert_null(img);
			got++;
			continue;
		}
		if (s7v5_image(&d, &m, &c, rec, 1 << 20, &img, &n, &e) != 0) {
			char eb[400];
			fail_msg("%s row %zu: %s", t->path, i, pg_err_str(&e, eb, sizeof eb));
		}
		struct mc7_block b;
		struct pg_err me;
		if (mc7_parse(img, n, &b, &me) != 0) {
			char eb[400];
			fail_msg("%s row %zu (type %02x number %u): mc7_parse: %s", t->path, i, type,
				 number, pg_err_str(&me, eb, sizeof eb));
		}
		assert_int_equal(b.type, type);
		assert_int_equal(b.number, number);
		assert_int_equal(b.load_len, n);
		free(img);
		got++;
	}
	printf("%s %s/%s: %u blocks %s\n", r->lie ? "lying lengths in" : "rebuilt from",
	       t->project, t->folder, got,
	       r->lie ? "refused with a named field" : "accepted by mc7_parse");
	r->blocks += got;
}

static void test_corpus_rebuild(void **state)
{
	(void)state;
	struct run r = { 0, 0 };
	assert_true(s7c_each(table_blocks, &r) >= 2);
	assert_int_equal(r.blocks, 19);
}

static void test_corpus_lying_lengths(void **state)
{
	(void)state;
	struct run r = { 1, 0 };
	assert_true(s7c_each(table_blocks, &r) >= 2);
	assert_int_equal(r.blocks, 19);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_rebuild),
		cmocka_unit_test(test_corpus_lying_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
