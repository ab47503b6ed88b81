/* test_agent.c - unit tests of the agent's own modules: time and window
 * parsing, name escaping, targets, manifest round trip and validation,
 * component comparison and its sentences, the scan cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "compare.h"
#include "digest.h"
#include "manifest.h"
#include "scan.h"
#include "util.h"

static void test_parse_time(void **state)
{
	(void)state;
	time_t t;
	assert_int_equal(pg_parse_time("2026-11-22T08:00Z", &t), 0);
	assert_int_equal(t, 1795334400);
	assert_int_equal(pg_parse_time("2026-11-22T09:00+01:00", &t), 0);
	assert_int_equal(t, 1795334400);
	assert_int_equal(pg_parse_time("2026-11-22T03:00-0500", &t), 0);
	assert_int_equal(t, 1795334400);
	assert_int_equal(pg_parse_time("2026-11-22T08:00:00.250Z", &t), 0);
	assert_int_equal(t, 1795334400);
	/* a zone is required; malformed dates are refused */
	assert_int_equal(pg_parse_time("2026-11-22T08:00", &t), -1);
	assert_int_equal(pg_parse_time("2026-02-30T08:00Z", &t), -1);
	assert_int_equal(pg_parse_time("2026-11-22T24:00Z", &t), -1);
	assert_int_equal(pg_parse_time("2026-11-22T08:00Zjunk", &t), -1);
	assert_int_equal(pg_parse_time("", &t), -1);
	assert_int_equal(pg_parse_time(NULL, &t), -1);
	assert_int_equal(pg_parse_time("2024-02-29T00:00Z", &t), 0);
	assert_int_equal(pg_parse_time("2023-02-29T00:00Z", &t), -1);
	char buf[32];
	assert_string_equal(pg_fmt_time(1795334400, buf, sizeof buf), "2026-11-22T08:00:00Z");
}

static void test_parse_window(void **state)
{
	(void)state;
	time_t a, b;
	char err[256];
	assert_int_equal(pg_parse_window("2026-11-22T08:00Z/2026-11-22T12:00Z", &a, &b, err, sizeof err), 0);
	assert_int_equal(b - a, 4 * 3600);
	assert_int_equal(pg_parse_window("2026-11-22T08:00Z/PT4H30M", &a, &b, err, sizeof err), 0);
	assert_int_equal(b - a, 4 * 3600 + 1800);
	assert_int_equal(pg_parse_window("2026-11-22T08:00Z/P1DT2H", &a, &b, err, sizeof err), 0);
	assert_int_equal(b - a, 26 * 3600);
	assert_int_equal(pg_parse_window("2026-11-22T12:00Z/2026-11-22T08:00Z", &a, &b, err, sizeof err), -1);
	assert_non_null(strstr(err, "ends before it starts"));
	assert_int_equal(pg_parse_window("2026-11-22T08:00Z", &a, &b, err, sizeof err), -1);
	assert_int_equal(pg_parse_window("2026-11-22T08:00Z/P", &a, &b, err, sizeof err), -1);
	assert_int_equal(pg_parse_window("2026-11-22T08:00Z/PT", &a, &b, err, sizeof err), -1);
	assert_int_equal(pg_parse_window("2026-11-22T08:00Z/PT1X", &a, &b, err, sizeof err), -1);
	assert_int_equal(pg_parse_window("x/2026-11-22T08:00Z", &a, &b, err, sizeof err), -1);
	assert_non_null(strstr(err, "window start"));
}

static void test_name_escape(void **state)
{
	(void)state;
	char *s = pg_name_escape("plain/näme.xml", strlen("plain/näme.xml"));
	assert_string_equal(s, "plain/näme.xml");
	free(s);
	s = pg_name_escape("a\\b", 3);
	assert_string_equal(s, "a\\\\b");
	free(s);
	s = pg_name_escape("x\xff\x01y", 4);
	assert_string_equal(s, "x\\xff\\x01y");
	free(s);
	/* overlong encoding and surrogates are not valid UTF-8 */
	s = pg_name_escape("\xc0\xaf\xed\xa0\x80", 5);
	assert_string_equal(s, "\\xc0\\xaf\\xed\\xa0\\x80");
	free(s);
	/* truncated sequence at the end */
	s = pg_name_escape("ok\xe2\x82", 4);
	assert_string_equal(s, "ok\\xe2\\x82");
	free(s);
	/* injective: the escaped form of a backslash-x differs from a raw byte */
	char *a = pg_name_escape("\\xff", 4), *b = pg_name_escape("\xff", 1);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void test_target(void **state)
{
	(void)state;
	struct pg_target t;
	char err[256];
	assert_int_equal(pg_target_parse("10.0.0.5,rack=0,slot=2", &t, err, sizeof err), 0);
	assert_string_equal(t.address, "10.0.0.5");
	assert_int_equal(t.rack, 0);
	assert_int_equal(t.slot, 2);
	assert_int_equal(t.unit, -1);
	char *s = pg_target_str(&t);
	assert_string_equal(s, "10.0.0.5 rack 0 slot 2");
	free(s);
	free(t.address);
	assert_int_equal(pg_target_parse("[FD00:0::7],unit=3", &t, err, sizeof err), 0);
	assert_string_equal(t.address, "fd00::7");
	assert_int_equal(t.unit, 3);
	free(t.address);
	assert_int_equal(pg_target_parse("10.0.0.256", &t, err, sizeof err), -1);
	assert_int_equal(pg_target_parse("plc1.example", &t, err, sizeof err), -1);
	assert_int_equal(pg_target_parse("10.0.0.5,rack=9", &t, err, sizeof err), -1);
	assert_int_equal(pg_target_parse("10.0.0.5,slot", &t, err, sizeof err), -1);
	assert_int_equal(pg_target_parse("10.0.0.5,colour=red", &t, err, sizeof err), -1);
	assert_int_equal(pg_target_parse("", &t, err, sizeof err), -1);
}

static void fill(uint8_t d[32], int v)
{
	memset(d, v, 32);
}

static void make_manifest(struct pg_manifest *m)
{
	memset(m, 0, sizeof *m);
	m->project_name = xstrdup("proj");
	m->project_path = xstrdup("/srv/proj");
	m->format = xstrdup("folder");
	m->is_dir = 1;
	m->excludes = xcalloc(2, sizeof *m->excludes);
	m->excludes[0] = xstrdup("*.lck:empty");
	m->n_excludes = 1;
	m->targets = xcalloc(1, sizeof *m->targets);
	char err[64];
	assert_int_equal(pg_target_parse("10.1.2.3,rack=0,slot=1", &m->targets[0], err, sizeof err), 0);
	m->n_targets = 1;
	m->ticket = xstrdup("CHG-7");
	m->has_window = 1;
	m->win_from = 1795334400;
	m->win_to = 1795334400 + 3600;
	m->created = 1795330000;
	m->tool = xstrdup("plcguard test");
	struct pg_component *c = pg_complist_add(&m->comps, "a.xml", "file");
	c->has_sha = 1;
	fill(c->sha256, 1);
	c->size = 10;
	c = pg_complist_add(&m->comps, "a.xml#pou/Main", "pou");
	c->has_fp = 1;
	fill(c->fp, 2);
	c->fp_alg = "plcguard-plcopen-v1";
	c->ann = json_pack("{s:s}", "item", "Main");
	c = pg_complist_add(&m->comps, "b.mc7#s7/OB1", "s7-block");
	c->has_sha = c->has_fp = 1;
	fill(c->sha256, 3);
	fill(c->fp, 4);
	c->fp_alg = "plcguard-mc7-logic-v1";
	c->ann = json_pack("{s:s,s:s,s:s,s:s}", "block", "OB1", "code_sha256", "aa",
			   "interface_sha256", "bb", "segment_table_sha256", "cc");
	pg_complist_sort(&m->comps);
}

static void test_manifest_roundtrip(void **state)
{
	(void)state;
	struct pg_manifest m, r;
	make_manifest(&m);
	size_t len;
	char *txt = pg_manifest_serialize(&m, &len);
	assert_non_null(txt);
	char err[512];
	assert_int_equal(pg_manifest_parse((uint8_t *)txt, len, &r, err, sizeof err), 0);
	assert_string_equal(r.project_path, "/srv/proj");
	assert_string_equal(r.ticket, "CHG-7");
	assert_int_equal(r.win_to - r.win_from, 3600);
	assert_int_equal(r.n_targets, 1);
	assert_int_equal(r.targets[0].slot, 1);
	assert_int_equal(r.comps.n, 3);
	assert_string_equal(r.comps.v[1].name, "a.xml#pou/Main");
	assert_int_equal(r.comps.v[1].has_sha, 0);
	assert_memory_equal(r.comps.v[1].fp, m.comps.v[1].fp, 32);
	/* serialising the parsed manifest gives the same bytes */
	size_t len2;
	char *txt2 = pg_manifest_serialize(&r, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(txt, txt2, len);
	free(txt2);
	/* compare: identical */
	struct pg_changes ch;
	pg_compare(&m.comps, &r.comps, &ch);
	assert_int_equal(ch.n, 0);
	assert_int_equal(ch.n_same, 3);
	pg_changes_free(&ch);
	free(txt);
	pg_manifest_free(&r);
	pg_manifest_free(&m);
}

/* Replace the first occurrence of from with to in a manifest text and parse. */
static int parse_edited(const char *txt, const char *from, const char *to, char *err, size_t n)
{
	const char *p = strstr(txt, from);
	assert_non_null(p);
	size_t a = (size_t)(p - txt), fl = strlen(from), tl = strlen(to), l = strlen(txt);
	char *e = xmalloc(l - fl + tl + 1);
	memcpy(e, txt, a);
	memcpy(e + a, to, tl);
	memcpy(e + a + tl, p + fl, l - a - fl + 1);
	struct pg_manifest r;
	int rc = pg_manifest_parse((uint8_t *)e, strlen(e), &r, err, n);
	if (rc == 0)
		pg_manifest_free(&r);
	free(e);
	return rc;
}

static void test_manifest_rejects(void **state)
{
	(void)state;
	struct pg_manifest m;
	make_manifest(&m);
	size_t len;
	char *txt = pg_manifest_serialize(&m, &len);
	char err[512];
	static const struct { const char *from, *to, *field; } cases[] = {
		{ "https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0", "_type" },
		{ "urn:plcguard:baseline:v1", "urn:other", "predicateType" },
		{ "\"schema\": 1", "\"schema\": 2", "predicate.schema" },
		{ "\"kind\": \"pou\"", "\"kind\": \"virus\"", "subject[1].annotations.kind" },
		{ "\"name\": \"a.xml#pou/Main\"", "\"name\": \"a.xml\"", "subject[1].name" },
		{ "0101010101", "0101zz0101", "subject[0].digest.sha256" },
		{ "\"plcguard-plcopen-v1\"", "\"md5\"", "subject[1].digest" },
		{ "\"components\": 3", "\"components\": 2", "predicate.components" },
		{ "\"address\": \"10.1.2.3\"", "\"address\": \"10.1.2\"", "predicate.targets[0].address" },
		{ "\"rack\": 0", "\"rack\": 99", "predicate.targets[0].rack" },
		{ "\"created\": \"", "\"created\": \"x", "predicate.created" },
		{ "\"to\": \"2026-11-22T09:00:00Z\"", "\"to\": \"2026-11-22T07:00:00Z\"", "predicate.window" },
		{ "\"type\": \"folder\"", "\"type\": \"pipe\"", "predicate.project.type" },
		{ "\"ticket\": \"CHG-7\"", "\"ticket\": 7", "predicate.ticket" },
		{ "\"_type\"", "\"predicateType\": \"x\", \"_type\"", "line" }, /* duplicate key */
		{ "{", "[", "line" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = 0;
		int rc = parse_edited(txt, cases[i].from, cases[i].to, err, sizeof err);
		if (rc != -1 || !strstr(err, cases[i].field))
			fail_msg("case %zu (%s): rc %d err '%s'", i, cases[i].field, rc, err);
	}
	/* truncation anywhere is an error, never a crash */
	struct pg_manifest r;
	for (size_t cut = 0; cut < len - 2; cut += 7)
		assert_int_equal(pg_manifest_parse((uint8_t *)txt, cut, &r, err, sizeof err), -1);
	free(txt);
	pg_manifest_free(&m);
}

static void test_compare_sentences(void **state)
{
	(void)state;
	struct pg_manifest a, b;
	make_manifest(&a);
	make_manifest(&b);
	/* OB1: same logic, different bytes -> timestamps only */
	struct pg_component *ob1 = &b.comps.v[2];
	assert_string_equal(ob1->name, "b.mc7#s7/OB1");
	fill(ob1->sha256, 9);
	/* POU changed */
	fill(b.comps.v[1].fp, 7);
	/* a file added, one removed */
	struct pg_component *c = pg_complist_add(&b.comps, "z.dll", "file");
	c->has_sha = 1;
	fill(c->sha256, 5);
	pg_complist_sort(&b.comps);
	struct pg_changes ch;
	pg_compare(&a.comps, &b.comps, &ch);
	assert_int_equal(ch.n, 3);
	assert_int_equal(ch.n_changed, 2);
	assert_int_equal(ch.n_added, 1);
	assert_string_equal(ch.v[0].detail, "POU Main changed");
	assert_int_equal(ch.v[0].logic, 1);
	assert_non_null(strstr(ch.v[1].detail, "OB1 changed: timestamps"));
	assert_int_equal(ch.v[1].logic, 0);
	assert_string_equal(ch.v[2].detail, "z.dll added");
	pg_changes_free(&ch);
	/* OB1 logic changed in the code section only */
	fill(b.comps.v[2].fp, 8);
	json_object_set_new(b.comps.v[2].ann, "code_sha256", json_string("ab"));
	pg_compare(&a.comps, &b.comps, &ch);
	assert_string_equal(ch.v[1].detail, "OB1 logic changed (code)");
	pg_changes_free(&ch);
	/* removed */
	pg_compare(&b.comps, &a.comps, &ch);
	assert_string_equal(ch.v[2].detail, "z.dll removed");
	assert_string_equal(ch.v[2].what, "removed");
	pg_changes_free(&ch);
	pg_manifest_free(&a);
	pg_manifest_free(&b);
}

static void put(const char *dir, const char *name, const char *data, size_t n)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

static int same_scan(const struct pg_scan *a, const struct pg_scan *b)
{
	if (a->comps.n != b->comps.n)
		return 0;
	for (size_t i = 0; i < a->comps.n; i++) {
		const struct pg_component *x = &a->comps.v[i], *y = &b->comps.v[i];
		if (strcmp(x->name, y->name) || strcmp(x->kind, y->kind) || x->size != y->size ||
		    x->has_sha != y->has_sha || memcmp(x->sha256, y->sha256, 32) ||
		    x->has_fp != y->has_fp || (x->has_fp && memcmp(x->fp, y->fp, 32)) ||
		    !json_equal(x->ann ? x->ann : json_null(), y->ann ? y->ann : json_null()))
			return 0;
	}
	return 1;
}

/* A scan with a cache opens only files whose identity or times moved, and
 * gives exactly what a scan without one gives (sub-components included). */
static void test_scan_cache(void **state)
{
	(void)state;
	char dir[] = "/tmp/pg-scancache.XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *src = getenv("PG_SRC");
	char xml[512];
	snprintf(xml, sizeof xml, "%s/samples/projects/pump_station/plc.xml", src ? src : ".");
	size_t xn = 0;
	uint8_t *xd = NULL;
	FILE *f = fopen(xml, "rb");
	if (f) {
		xd = malloc(1 << 20);
		assert_non_null(xd);
		xn = fread(xd, 1, 1 << 20, f);
		fclose(f);
		put(dir, "plc.xml", (const char *)xd, xn);
	}
	put(dir, "a.bin", "aaaa", 4);
	put(dir, "b.bin", "bbbb", 4);
	struct pg_scan_cache *c = pg_scan_cache_new();
	assert_non_null(c);
	struct pg_scan_opts with = { 2, pg_default_excludes, 0, 0, c };
	struct pg_scan_opts without = { 2, pg_default_excludes, 0, 0, NULL };
	struct pg_scan s1, s2, s3;
	size_t nf = xd ? 3 : 2;
	assert_int_equal(pg_scan_path(dir, &with, &s1), 0);
	assert_int_equal(s1.n_hashed, nf);
	assert_int_equal(pg_scan_cache_files(c), nf);
	if (xd)  /* the XML file gave its POUs as components too */
		assert_true(s1.comps.n > nf);
	/* nothing moved: nothing opened, the same components */
	assert_int_equal(pg_scan_path(dir, &with, &s2), 0);
	assert_int_equal(s2.n_hashed, 0);
	assert_int_equal(s2.n_files, nf);
	assert_true(same_scan(&s1, &s2));
	pg_scan_free(&s2);
	/* same size, other bytes, the old mtime put back: the ctime moved */
	char p[512];
	snprintf(p, sizeof p, "%s/b.bin", dir);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	struct timespec t0 = { 0, 20 * 1000 * 1000 };
	nanosleep(&t0, NULL);  /* a later ctime, whatever the clock's grain */
	put(dir, "b.bin", "BBBB", 4);
	struct timespec ts[2] = { st.st_atim, st.st_mtim };
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	assert_int_equal(pg_scan_path(dir, &with, &s2), 0);
	assert_int_equal(s2.n_hashed, 1);
	assert_int_equal(pg_scan_path(dir, &without, &s3), 0);
	assert_int_equal(s3.n_hashed, nf);
	assert_true(same_scan(&s2, &s3));
	assert_false(same_scan(&s1, &s2));
	pg_scan_free(&s3);
	pg_scan_free(&s2);
	/* a file gone drops out of the cache */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(pg_scan_path(dir, &with, &s2), 0);
	assert_int_equal(s2.n_hashed, 0);
	assert_int_equal(pg_scan_cache_files(c), nf - 1);
	pg_scan_free(&s2);
	/* cleared: everything hashed again */
	pg_scan_cache_clear(c);
	assert_int_equal(pg_scan_path(dir, &with, &s2), 0);
	assert_int_equal(s2.n_hashed, nf - 1);
	pg_scan_free(&s2);
	pg_scan_free(&s1);
	pg_scan_cache_free(c);
	snprintf(p, sizeof p, "%s/a.bin", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/plc.xml", dir);
	unlink(p);
	rmdir(dir);
	free(xd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_window),
		cmocka_unit_test(test_name_escape),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_manifest_roundtrip),
		cmocka_unit_test(test_manifest_rejects),
		cmocka_unit_test(test_compare_sentences),
		cmocka_unit_test(test_scan_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
