/*
 * test_s7v5.c - STEP 7 V5 offline blocks rebuilt as download images
 * (parsers/s7v5.c), on the real SIMATIC Manager projects of
 * ../shared/corpus/projects/step7: every downloadable block of every project
 * rebuilds, mc7_parse() accepts it (the same parser and fingerprint as a
 * block seen on the wire) with its type, number and BLKTOTLEN-6 length; and a
 * row whose lengths lie is a named error, never a crash.
 */
#include <dirent.h>
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

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
	*n = fread(b, 1, (size_t)sz, f);
	fclose(f);
	return b;
}

/* Rebuild every block of one offline folder; returns how many. */
static unsigned folder_blocks(const char *folder, int lie)
{
	char pt[4900], pm[4900];
	snprintf(pt, sizeof pt, "%s/SUBBLK.DBF", folder);
	snprintf(pm, sizeof pm, "%s/SUBBLK.DBT", folder);
	size_t tn = 0, mn = 0;
	uint8_t *tb = slurp(pt, &tn), *mb = slurp(pm, &mn);
	unsigned got = 0;
	if (!tb || !mb)
		goto out;
	struct dbf d;
	struct dbt m;
	struct s7v5_cols c;
	struct pg_err e;
	assert_int_equal(dbf_open(&d, tb, tn, &e), 0);
	assert_int_equal(dbt_open(&m, mb, mn, &e), 0);
	assert_int_equal(s7v5_cols(&d, &c, &e), 0);
	for (size_t i = 0; i < d.nrec_avail; i++) {
		const uint8_t *rec;
		uint8_t type;
		uint16_t number;
		if (dbf_record(&d, i, &rec) != 1 || !s7v5_download_row(&d, &c, rec, &type, &number))
			continue;
		if (lie) {
			/* MC5LEN one larger than the memo: a named error */
			uint8_t *f = (uint8_t *)rec + d.f[c.mc5len].off;
			size_t k = d.f[c.mc5len].len;
			int64_t v;
			assert_int_equal(dbf_num(&d, rec, c.mc5len, &v, &e), 0);
			char num[300];
			snprintf(num, sizeof num, "%*lld", (int)(k & 0xFF), (long long)v + 100000);
			memcpy(f, num, k < sizeof num ? k : sizeof num);
			uint8_t *img = NULL;
			size_t n = 0;
			assert_int_equal(s7v5_image(&d, &m, &c, rec, 1 << 20, &img, &n, &e), -1);
			assert_true(!strcmp(e.field, "BLKTOTLEN") || !strcmp(e.field, "MC5LEN"));
			assert_null(img);
			got++;
			continue;
		}
		uint8_t *img = NULL;
		size_t n = 0;
		if (s7v5_image(&d, &m, &c, rec, 1 << 20, &img, &n, &e) != 0) {
			char eb[400];
			fail_msg("%s row %zu: %s", pt, i, pg_err_str(&e, eb, sizeof eb));
		}
		struct mc7_block b;
		struct pg_err me;
		if (mc7_parse(img, n, &b, &me) != 0) {
			char eb[400];
			fail_msg("%s row %zu (type %02x number %u): mc7_parse: %s", pt, i, type,
				 number, pg_err_str(&me, eb, sizeof eb));
		}
		assert_int_equal(b.type, type);
		assert_int_equal(b.number, number);
		assert_int_equal(b.load_len, n);
		free(img);
		got++;
	}
out:
	free(tb);
	free(mb);
	return got;
}

static unsigned project_blocks(const char *proj, int lie)
{
	char dir[4500];
	snprintf(dir, sizeof dir, "%s/ombstx/offline", proj);
	DIR *dd = opendir(dir);
	if (!dd)
		return 0;
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(dd))) {
		if (de->d_name[0] == '.')
			continue;
		char folder[4800];
		snprintf(folder, sizeof folder, "%s/%s", dir, de->d_name);
		n += folder_blocks(folder, lie);
	}
	closedir(dd);
	return n;
}

static void each_project(int lie)
{
	const char *corpus = getenv("PG_CORPUS");
	char top[4096];
	snprintf(top, sizeof top, "%s/projects/step7", corpus ? corpus : "/nonexistent");
	DIR *td = opendir(top);
	if (!td) {
		printf("SKIP: %s not found (shared corpus absent)\n", top);
		skip();
	}
	struct dirent *de;
	unsigned projects = 0;
	while ((de = readdir(td))) {
		if (de->d_name[0] == '.')
			continue;
		char proj[4400];
		snprintf(proj, sizeof proj, "%s/%s", top, de->d_name);
		unsigned n = project_blocks(proj, lie);
		if (!n)
			continue;
		printf("%s %s: %u blocks %s\n", lie ? "lying lengths in" : "rebuilt from",
		       de->d_name, n, lie ? "refused with a named field" : "accepted by mc7_parse");
		projects++;
	}
	closedir(td);
	assert_true(projects >= 2);
}

static void test_corpus_rebuild(void **state)
{
	(void)state;
	each_project(0);
}

static void test_corpus_lying_lengths(void **state)
{
	(void)state;
	each_project(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_rebuild),
		cmocka_unit_test(test_corpus_lying_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
