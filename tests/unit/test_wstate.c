/*
 * test_wstate.c - the watcher's state file (agent/watch/wstate.c): a round
 * trip through serialise, parse and the atomic save/load; every refusal
 * names the line and the field; an edited byte is caught by the end line's
 * hash; a file that does not exist is "no state", not an error.
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

#include "digest.h"
#include "wstate.h"

static void sample(struct pg_wstate *s)
{
	memset(s, 0, sizeof *s);
	s->saved = 1796200000;
	snprintf(s->run, sizeof s->run, "0123456789abcdef0123456789abcdef");
	s->last_seq = 42;
	s->n = 3;
	s->v = calloc(3, sizeof *s->v);
	s->v[0].path = strdup("/plant/line 1/pump_station");
	s->v[0].status = PG_WS_VERIFIED;
	s->v[0].has_digest = 1;
	memset(s->v[0].digest, 0xab, 32);
	s->v[0].baseline = strdup("pump_station-20261202T120000Z-0a1b2c3d");
	s->v[1].path = strdup("/plant/odd\tname%with\nbytes");
	s->v[1].status = PG_WS_MISSING;
	s->v[2].path = strdup("/plant/s7");
	s->v[2].status = PG_WS_DIFFERS;
	s->v[2].has_digest = 1;
	s->v[2].baseline = strdup("s7-20261202T120000Z-00000000");
	s->v[2].flags = PG_WSF_EXPIRED_SAID;
}

static void test_roundtrip(void **st)
{
	(void)st;
	struct pg_wstate a, b;
	sample(&a);
	size_t len;
	char *txt = pg_wstate_serialize(&a, &len);
	assert_non_null(txt);
	char err[256] = "";
	assert_int_equal(pg_wstate_parse((const uint8_t *)txt, len, &b, err, sizeof err), 0);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.saved, a.saved);
	assert_int_equal(b.last_seq, 42);
	assert_string_equal(b.run, a.run);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(b.v[i].path, a.v[i].path);
		assert_int_equal(b.v[i].status, a.v[i].status);
		assert_int_equal(b.v[i].has_digest, a.v[i].has_digest);
		assert_memory_equal(b.v[i].digest, a.v[i].digest, 32);
		assert_int_equal(b.v[i].flags, a.v[i].flags);
	}
	assert_null(b.v[1].baseline);
	assert_string_equal(b.v[2].baseline, a.v[2].baseline);
	/* the tab, newline and % of the odd path are escaped: one line each */
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += txt[i] == '\n';
	assert_int_equal(lines, 3 + 3 + 1);
	free(txt);
	pg_wstate_free(&a);
	pg_wstate_free(&b);
}

/* parse txt; the error must contain want */
static void refuse(const char *txt, const char *want)
{
	struct pg_wstate s;
	char err[256] = "";
	assert_int_not_equal(pg_wstate_parse((const uint8_t *)txt, strlen(txt), &s, err, sizeof err), 0);
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
	pg_wstate_free(&s);
}

static void test_refusals(void **st)
{
	(void)st;
	struct pg_wstate a;
	sample(&a);
	size_t len;
	char *txt = pg_wstate_serialize(&a, &len);
	/* one byte of a path edited: the hash of the end line catches it */
	char *p = strstr(txt, "pump_station");
	p[0] = 'P';
	refuse(txt, "do not match");
	p[0] = 'p';
	/* cut short */
	txt[len - 1] = 0;
	refuse(txt, "no newline");
	free(txt);
	pg_wstate_free(&a);
	refuse("", "no end line");
	refuse("something else\n", "line 1: not a plcguard watch state file");
	refuse("plcguard-watch-state\t1\nsaved\tsoon\n", "line 2: field 2 (saved)");
	refuse("plcguard-watch-state\t1\nsaved\t1\nrun\txyz\t1\n", "line 3: field 2 (run)");
	refuse("plcguard-watch-state\t1\nsaved\t1\nrun\t-\t1\np\tfine\t-\t-\t0\t/x\n",
	       "line 4: field 2 (status)");
	refuse("plcguard-watch-state\t1\nsaved\t1\nrun\t-\t1\np\tverified\tzz\t-\t0\t/x\n",
	       "line 4: field 3 (digest)");
	refuse("plcguard-watch-state\t1\nsaved\t1\nrun\t-\t1\np\tverified\t-\ta/b\t0\t/x\n",
	       "line 4: field 4 (baseline)");
	refuse("plcguard-watch-state\t1\nsaved\t1\nrun\t-\t1\np\tverified\t-\t-\t9\t/x\n",
	       "line 4: field 5 (flags)");
	refuse("plcguard-watch-state\t1\nsaved\t1\nrun\t-\t1\np\tverified\t-\t-\t0\trelative\n",
	       "line 4: field 6 (path)");
	refuse("plcguard-watch-state\t1\nsaved\t1\nrun\t-\t1\np\tverified\t-\t-\t0\n",
	       "line 4: a project line has 6 fields");
	refuse("plcguard-watch-state\t1\nsaved\t1\nsaved\t2\n", "line 3: field 1: unknown or repeated");
	refuse("plcguard-watch-state\t1\nsaved\t1\nrun\t-\t1\nend\t1\t" \
	       "0000000000000000000000000000000000000000000000000000000000000000\n",
	       "says 1 projects, the file holds 0");
}

static void test_save_load(void **st)
{
	(void)st;
	char dir[] = "/tmp/pg-wstate.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char file[300];
	snprintf(file, sizeof file, "%s/watch.state", dir);
	struct pg_wstate a, b;
	char err[600];
	assert_int_equal(pg_wstate_load(file, &b, err, sizeof err), 1); /* none yet */
	sample(&a);
	assert_int_equal(pg_wstate_save(file, &a, err, sizeof err), 0);
	assert_int_equal(pg_wstate_load(file, &b, err, sizeof err), 0);
	assert_int_equal(b.n, 3);
	pg_wstate_free(&b);
	/* damaged on disk: named by file and line */
	FILE *f = fopen(file, "r+");
	fseek(f, 30, SEEK_SET);
	fputc('#', f);
	fclose(f);
	assert_int_equal(pg_wstate_load(file, &b, err, sizeof err), -1);
	assert_non_null(strstr(err, file));
	assert_non_null(strstr(err, "line "));
	pg_wstate_free(&a);
	unlink(file);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_save_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
