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


/* ---- the project's structure: BSTCNTOF, S7RESOFF + linkhrs, BAUSTEIN ---- */

static const char *corpus_dir(void)
{
	static char top[4096];
	const char *c = getenv("PG_CORPUS");
	snprintf(top, sizeof top, "%s/projects/step7", c ? c : "/nonexistent");
	return top;
}

static uint8_t *load(const char *project, const char *rel, size_t *n)
{
	char p[8192];
	snprintf(p, sizeof p, "%s/%s/%s", corpus_dir(), project, rel);
	uint8_t *b = s7c_slurp(p, n);
	if (!b) {
		printf("SKIP: %s not found (shared corpus absent)\n", p);
		skip();
	}
	return b;
}

static void test_corpus_structure(void **state)
{
	(void)state;
	static const struct { const char *p; int64_t blocks; size_t objects; } want[] = {
		{ "SIMATIC-Manager-Practice", 15, 15 },
		{ "siemens_step7_test", 2, 2 },
		{ "siemens_step7_test@af5fd3c", 1, 1 },
		{ "siemens_step7_test@53e19df", 1, 1 },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		size_t bn, rn, ln, on;
		uint8_t *bb = load(want[i].p, "ombstx/offline/BSTCNTOF.DBF", &bn);
		uint8_t *rb = load(want[i].p, "hrs/S7RESOFF.DBF", &rn);
		uint8_t *lb = load(want[i].p, "hrs/linkhrs.lnk", &ln);
		uint8_t *ob = load(want[i].p, "ombstx/offline/00000001/BAUSTEIN.DBF", &on);
		struct dbf d;
		struct pg_err e;
		struct s7v5_folder *f;
		struct s7v5_program *g;
		struct s7v5_object *o;
		size_t n;
		assert_int_equal(dbf_open(&d, bb, bn, &e), 0);
		assert_int_equal(s7v5_folders(&d, &f, &n, &e), 0);
		assert_int_equal(n, 1);
		assert_int_equal(f[0].id, 1);
		assert_int_equal(f[0].nblocks, want[i].blocks);
		free(f);
		assert_int_equal(dbf_open(&d, rb, rn, &e), 0);
		assert_int_equal(s7v5_programs(&d, lb, ln, &g, &n, &e), 0);
		assert_int_equal(n, 1);
		assert_string_equal(g[0].name, "S7 Program(1)");
		assert_int_equal(g[0].folder, 1);
		free(g);
		assert_int_equal(dbf_open(&d, ob, on, &e), 0);
		assert_int_equal(s7v5_objects(&d, &o, &n, &e), 0);
		assert_int_equal(n, want[i].objects);
		free(o);
		free(bb);
		free(rb);
		free(lb);
		free(ob);
	}
}

/* A dBase III table in memory: fields "NAME:T:LEN" (N or C), rows of
 * values (N right-aligned, C raw and space-padded); a row that starts
 * with '*' is deleted. */
static uint8_t *mk_dbf(const char *const *fields, size_t nf, const char *const *rows,
		       size_t nr, size_t *len)
{
	size_t rl = 1, hl = 32 + 32 * nf + 1;
	size_t flen[16];
	char ftyp[16];
	for (size_t i = 0; i < nf; i++) {
		const char *c = strchr(fields[i], ':');
		ftyp[i] = c[1];
		flen[i] = (size_t)atoi(c + 3);
		rl += flen[i];
	}
	*len = hl + rl * nr + 1;
	uint8_t *b = calloc(1, *len);
	b[0] = 0x03;
	b[4] = (uint8_t)nr;
	b[8] = (uint8_t)hl;
	b[9] = (uint8_t)(hl >> 8);
	b[10] = (uint8_t)rl;
	b[11] = (uint8_t)(rl >> 8);
	for (size_t i = 0; i < nf; i++) {
		uint8_t *fd = b + 32 + 32 * i;
		memcpy(fd, fields[i], (size_t)(strchr(fields[i], ':') - fields[i]));
		fd[11] = (uint8_t)ftyp[i];
		fd[16] = (uint8_t)flen[i];
	}
	b[32 + 32 * nf] = 0x0D;
	for (size_t r = 0; r < nr; r++) {
		uint8_t *rec = b + hl + r * rl;
		const char *v = rows[r];
		rec[0] = *v == '*' ? '*' : ' ';
		if (*v == '*')
			v++;
		size_t o = 1;
		for (size_t i = 0; i < nf; i++) {
			const char *end = strchr(v, '|');
			size_t k = end ? (size_t)(end - v) : strlen(v);
			memset(rec + o, ' ', flen[i]);
			if (k > flen[i])
				k = flen[i];
			memcpy(rec + o + (ftyp[i] == 'N' ? flen[i] - k : 0), v, k);
			o += flen[i];
			v = end ? end + 1 : v + k;
		}
	}
	b[*len - 1] = 0x1A;
	return b;
}

static void test_programs_hostile(void **state)
{
	(void)state;
	static const char *const fields[] = { "ID:N:11", "NAME:C:24", "RSRVD4_L:N:11" };
	static const char *const rows[] = {
		"1|Line/1 M\xe4hwerk#\x01|0",  /* separators, Windows-1252, a control byte */
		"2|S7 Program(2)|512",         /* its record holds no folder marker */
		"3|Far|999999",                /* its record lies beyond the link file */
		"*4|Deleted|0",
		"5||1024",                     /* blank name; record cut short by the file */
	};
	size_t tn;
	uint8_t *t = mk_dbf(fields, 3, rows, 5, &tn);
	uint8_t lnk[1200] = { 0 };
	static const uint8_t mark[] = { 0x01, 0x60, 0x11, 0x00, 0x07, 0x01 };
	memcpy(lnk + 0x30, mark, sizeof mark);
	memcpy(lnk + 1024 + 4, mark, sizeof mark);
	struct dbf d;
	struct pg_err e;
	struct s7v5_program *g;
	size_t n;
	assert_int_equal(dbf_open(&d, t, tn, &e), 0);
	assert_int_equal(s7v5_programs(&d, lnk, sizeof lnk, &g, &n, &e), 0);
	assert_int_equal(n, 4);
	assert_string_equal(g[0].name, "Line_1 M\xc3\xa4hwerk__");
	assert_int_equal(g[0].folder, 0x0107);
	assert_int_equal(g[1].folder, -1);
	assert_int_equal(g[2].folder, -1);
	assert_int_equal(g[3].id, 5);
	assert_string_equal(g[3].name, "");
	assert_int_equal(g[3].folder, -1);
	assert_int_equal(g[3].row, 5);
	free(g);
	free(t);

	/* a table without RSRVD4_L is refused, naming the field */
	static const char *const f2[] = { "ID:N:11", "NAME:C:24" };
	t = mk_dbf(f2, 2, rows, 1, &tn);
	assert_int_equal(dbf_open(&d, t, tn, &e), 0);
	assert_int_equal(s7v5_programs(&d, lnk, sizeof lnk, &g, &n, &e), -1);
	assert_string_equal(e.field, "RSRVD4_L");
	free(t);
	/* an ID that is not a number */
	static const char *const bad[] = { "x1|A|0" };
	t = mk_dbf(fields, 3, bad, 1, &tn);
	assert_int_equal(dbf_open(&d, t, tn, &e), 0);
	assert_int_equal(s7v5_programs(&d, lnk, sizeof lnk, &g, &n, &e), -1);
	assert_int_equal(n, 0);
	free(t);
}

static void test_folders_objects_hostile(void **state)
{
	(void)state;
	static const char *const ff[] = { "ID:N:11", "ANZOB:N:11", "ANZFC:N:11" };
	static const char *const fr[] = { "1|1|2", "*2|5|5", "3||" };
	size_t tn;
	uint8_t *t = mk_dbf(ff, 3, fr, 3, &tn);
	struct dbf d;
	struct pg_err e;
	struct s7v5_folder *f;
	size_t n;
	assert_int_equal(dbf_open(&d, t, tn, &e), 0);
	assert_int_equal(s7v5_folders(&d, &f, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f[0].id, 1);
	assert_int_equal(f[0].nblocks, -1);     /* ANZFB etc. absent: unknown */
	assert_int_equal(f[1].id, 3);
	assert_int_equal(f[1].row, 3);
	free(f);
	free(t);
	static const char *const fneg[] = { "-5|0|0" };
	t = mk_dbf(ff, 3, fneg, 1, &tn);
	assert_int_equal(dbf_open(&d, t, tn, &e), 0);
	assert_int_equal(s7v5_folders(&d, &f, &n, &e), -1);
	assert_string_equal(e.field, "ID");
	free(t);

	static const char *const of[] = { "ID:N:11", "TYP:C:5", "NUMMER:C:5" };
	static const char *const orow[] = {
		"1|00008|00001",   /* OB1 */
		"2|00000|00001",   /* a UDT: never downloaded */
		"3|00012|99999",   /* a number no block has */
		"*4|00014|00001",  /* deleted */
		"5|00014|00002",   /* FB2 */
	};
	t = mk_dbf(of, 3, orow, 5, &tn);
	struct s7v5_object *o;
	assert_int_equal(dbf_open(&d, t, tn, &e), 0);
	assert_int_equal(s7v5_objects(&d, &o, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(o[0].type, 0x08);
	assert_int_equal(o[1].type, 0x0E);
	assert_int_equal(o[1].number, 2);
	assert_int_equal(o[1].row, 5);
	free(o);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_rebuild),
		cmocka_unit_test(test_corpus_lying_lengths),
		cmocka_unit_test(test_corpus_structure),
		cmocka_unit_test(test_programs_hostile),
		cmocka_unit_test(test_folders_objects_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
