/*
 * test_event_json.c - pg_event_json() (rules/event.c) writes its JSON line
 * directly instead of building and dumping a jansson tree.  This test keeps
 * the jansson version (ref_json below, as it was before the change) and
 * demands byte-identical output: a golden event, every rule that version
 * implied (member order, a field never overrides a common member, a field
 * named "text" keeps its place with the event's text, invalid UTF-8 drops a
 * member, escapes, nested values), and 20,000 pseudo-random events; and
 * pg_ts_str(), now formatted by hand, against gmtime_r + strftime.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "digest.h"

/* ---------------------------------------------- the jansson reference -- */

/* safe_copy() of event.c, reached through pg_event_set_strn(). */
static char *ref_safe(const char *s, size_t n)
{
	struct pg_event t;
	pg_event_init(&t);
	pg_event_set_strn(&t, "v", s, n);
	const char *v = json_string_value(json_object_get(t.fields, "v"));
	char *out = strdup(v ? v : "");
	pg_event_clear(&t);
	return out;
}

static json_t *ref_endpoint(const struct pg_endpoint *e)
{
	return json_pack("{s:s,s:i}", "ip", e->addr, "port", (int)e->port);
}

static void ref_hash(json_t *o, const char *k, const uint8_t h[32])
{
	char hex[PG_SHA256_HEX];
	json_object_set_new(o, k, json_string(pg_hex(h, 32, hex)));
}

static char *ref_json(const struct pg_event *ev)
{
	char ts[64];
	json_t *o = json_object();
	json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
	json_object_set_new(o, "ts", json_string(pg_ts_str(&ev->ts, ts, sizeof ts)));
	json_object_set_new(o, "source", json_string(pg_source_name(ev->source)));
	json_object_set_new(o, "kind", json_string(pg_kind_name(ev->kind)));
	json_object_set_new(o, "severity", json_string(pg_sev_name(ev->sev)));
	if (ev->proto)
		json_object_set_new(o, "proto", json_string(ev->proto));
	if (ev->flow_id) {
		json_object_set_new(o, "flow", json_integer((json_int_t)ev->flow_id));
		json_object_set_new(o, "src", ref_endpoint(&ev->src));
		json_object_set_new(o, "dst", ref_endpoint(&ev->dst));
	}
	if (ev->frame)
		json_object_set_new(o, "frame", json_integer((json_int_t)ev->frame));
	if (ev->object[0]) {
		char *s = ref_safe(ev->object, strnlen(ev->object, sizeof ev->object));
		json_object_set_new(o, "object", json_string(s ? s : ""));
		free(s);
	}
	if (ev->size >= 0)
		json_object_set_new(o, "size", json_integer(ev->size));
	if (ev->has_sha256)
		ref_hash(o, "sha256", ev->sha256);
	if (ev->has_fp) {
		ref_hash(o, "strict_sha256", ev->strict);
		ref_hash(o, "logic_fp", ev->logic_fp);
	}
	if (pg_verdict_name(ev->verdict))
		json_object_set_new(o, "verdict", json_string(pg_verdict_name(ev->verdict)));
	if (ev->fields) {
		const char *k;
		json_t *v;
		json_object_foreach(ev->fields, k, v) {
			if (!json_object_get(o, k))
				json_object_set(o, k, v);
		}
	}
	{
		char *s = ref_safe(ev->text, strnlen(ev->text, sizeof ev->text));
		json_object_set_new(o, "text", json_string(s ? s : ""));
		free(s);
	}
	char *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return out;
}

/* ------------------------------------------------------------ helpers -- */

static void check_same(const struct pg_event *ev)
{
	char *want = ref_json(ev);
	char *got = pg_event_json(ev);
	assert_non_null(want);
	assert_non_null(got);
	if (strcmp(want, got) != 0) {
		fprintf(stderr, "want %s\n got %s\n", want, got);
		fail();
	}
	json_error_t je;
	json_t *o = json_loads(got, JSON_ALLOW_NUL, &je);
	assert_non_null(o);
	json_decref(o);
	free(want);
	free(got);
}

static void base_event(struct pg_event *ev)
{
	pg_event_init(ev);
	ev->seq = 7;
	ev->ts.tv_sec = 1772442000;   /* 2026-03-02T09:00:00Z */
	ev->ts.tv_nsec = 123456789;
	ev->source = PG_SRC_WIRE;
	ev->sev = PG_SEV_ALERT;
	ev->kind = PG_K_S7_BLOCK_DOWNLOAD;
	ev->proto = "s7comm";
	ev->flow_id = 3;
	snprintf(ev->src.addr, sizeof ev->src.addr, "10.0.0.1");
	ev->src.port = 4000;
	snprintf(ev->dst.addr, sizeof ev->dst.addr, "fd00::2");
	ev->dst.port = 102;
	ev->frame = 58;
	snprintf(ev->object, sizeof ev->object, "DB1");
	ev->size = 500;
	ev->has_sha256 = 1;
	memset(ev->sha256, 0xab, 32);
	ev->verdict = PG_VERDICT_UNKNOWN;
}

/* -------------------------------------------------------------- tests -- */

static void test_golden(void **state)
{
	(void)state;
	struct pg_event ev;
	base_event(&ev);
	pg_event_set_str(&ev, "block_type", "DB");
	pg_event_set_int(&ev, "block_number", 1);
	pg_event_set_bool(&ev, "complete", 1);
	pg_event_set_json(&ev, "parts", json_pack("[i,i]", 1, 2));
	pg_event_text(&ev, "DB1 \"downloaded\"\ttab\\");
	char *j = pg_event_json(&ev);
	assert_string_equal(j,
		"{\"seq\":7,\"ts\":\"2026-03-02T09:00:00.123456Z\",\"source\":\"wire\","
		"\"kind\":\"s7.block.download\",\"severity\":\"alert\",\"proto\":\"s7comm\","
		"\"flow\":3,\"src\":{\"ip\":\"10.0.0.1\",\"port\":4000},"
		"\"dst\":{\"ip\":\"fd00::2\",\"port\":102},\"frame\":58,\"object\":\"DB1\","
		"\"size\":500,\"sha256\":\"abababababababababababababababababababababababababababababababab\","
		"\"verdict\":\"unknown\",\"block_type\":\"DB\",\"block_number\":1,"
		"\"complete\":true,\"parts\":[1,2],"
		"\"text\":\"DB1 \\\"downloaded\\\"\\\\x09tab\\\\\\\\\"}");
	free(j);
	check_same(&ev);
	pg_event_clear(&ev);
}

/* A field never overrides a common member that is present; a field with the
 * name of an absent conditional member is written; "text" keeps its place. */
static void test_field_names(void **state)
{
	(void)state;
	static const char *names[] = {
		"seq", "ts", "source", "kind", "severity", "proto", "flow", "src",
		"dst", "frame", "object", "size", "sha256", "strict_sha256",
		"logic_fp", "verdict", "text", "other",
	};
	for (int with = 0; with < 2; with++) {
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			struct pg_event ev;
			if (with) {
				base_event(&ev);
				ev.has_fp = 1;
			} else {
				pg_event_init(&ev);   /* every conditional member absent */
				ev.kind = PG_K_S7_PDU;
			}
			pg_event_set_int(&ev, "first", 1);
			pg_event_set_str(&ev, names[i], "from-field");
			pg_event_set_int(&ev, "last", 2);
			pg_event_text(&ev, "the text");
			check_same(&ev);
			char *j = pg_event_json(&ev);
			/* always there, or there in the full event */
			int common = !strcmp(names[i], "seq") || !strcmp(names[i], "ts") ||
				     !strcmp(names[i], "source") || !strcmp(names[i], "kind") ||
				     !strcmp(names[i], "severity") ||
				     (with && strcmp(names[i], "other") != 0 &&
				      strcmp(names[i], "text") != 0);
			if (common || !strcmp(names[i], "text")) {
				if (strstr(j, "from-field"))
					fail_msg("field %s overrode a common member: %s", names[i], j);
			} else if (!strstr(j, "from-field")) {
				fail_msg("field %s lost: %s", names[i], j);
			}
			if (!strcmp(names[i], "text"))
				assert_non_null(strstr(j, "\"first\":1,\"text\":\"the text\",\"last\":2}"));
			free(j);
			pg_event_clear(&ev);
		}
	}
}

/* What json_string() refused is left out: an address that is not UTF-8. */
static void test_invalid_utf8_member(void **state)
{
	(void)state;
	struct pg_event ev;
	base_event(&ev);
	ev.src.addr[0] = (char)0xff;
	check_same(&ev);
	char *j = pg_event_json(&ev);
	assert_null(strstr(j, "\"src\""));
	assert_non_null(strstr(j, "\"flow\":3,\"dst\":"));
	free(j);
	/* A field string with a NUL, controls, a quote and non-BMP UTF-8 (made
	 * with jansson directly: pg_event_set_* would escape them first). */
	pg_event_set_json(&ev, "raw", json_stringn("a\0b\x01\x1f\"\\/\x7f\xf0\x9f\x98\x80", 13));
	pg_event_set_json(&ev, "real", json_real(0.1));
	pg_event_set_json(&ev, "nul", json_null());
	pg_event_set_json(&ev, "no", json_false());
	pg_event_set_json(&ev, "nest", json_pack("{s:{s:[s,i,b]}}", "a", "b", "x\n", -5, 0));
	pg_event_set_int(&ev, "min", INT64_MIN);
	check_same(&ev);
	j = pg_event_json(&ev);
	assert_non_null(strstr(j, "\"raw\":\"a\\u0000b\\u0001\\u001F\\\"\\\\/\x7f\xf0\x9f\x98\x80\""));
	free(j);
	pg_event_clear(&ev);
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void rnd_bytes(char *out, size_t max)
{
	static const char *pieces[] = {
		"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\x7f",
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3", "\xed\xa0\x80",
		"DB1", "%s", "{}",
	};
	size_t n = rnd() % max, o = 0;
	while (o < n) {
		const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
		size_t k = strlen(p);
		if (o + k >= max)
			break;
		memcpy(out + o, p, k);
		o += k;
	}
	out[o] = 0;
}

static void test_random_events(void **state)
{
	(void)state;
	static const char *keys[] = {
		"seq", "src", "dst", "flow", "frame", "proto", "text", "object",
		"size", "sha256", "logic_fp", "verdict", "dir", "bytes", "x\"y", "\xc3\xa9",
	};
	static const enum pg_verdict verdicts[] = { PG_VERDICT_MATCHES, PG_VERDICT_DIFFERS, PG_VERDICT_INCOMPLETE };
	for (int i = 0; i < 20000; i++) {
		struct pg_event ev;
		pg_event_init(&ev);
		ev.seq = rnd();
		ev.ts.tv_sec = (time_t)(rnd() % 4000000000u);
		ev.ts.tv_nsec = (long)(rnd() % 1000000000u);
		ev.source = (enum pg_source)(1 + rnd() % 3);
		ev.sev = (enum pg_sev)(rnd() % 4);
		ev.kind = rnd() % 8 ? PG_K_TCP_GAP : PG_K_NONE;
		ev.proto = rnd() % 2 ? "tcp" : NULL;
		if (rnd() % 2) {
			ev.flow_id = rnd() % 1000;
			rnd_bytes(ev.src.addr, sizeof ev.src.addr);
			rnd_bytes(ev.dst.addr, sizeof ev.dst.addr);
			ev.src.port = (uint16_t)rnd();
			ev.dst.port = (uint16_t)rnd();
		}
		ev.frame = rnd() % 3 ? rnd() : 0;
		if (rnd() % 2)
			rnd_bytes(ev.object, sizeof ev.object);
		ev.size = rnd() % 2 ? (int64_t)(rnd() >> 1) : -1 - (int64_t)(rnd() % 5);
		ev.has_sha256 = (int)(rnd() % 2);
		ev.has_fp = (int)(rnd() % 2);
		for (int b = 0; b < 32; b++) {
			ev.sha256[b] = (uint8_t)rnd();
			ev.strict[b] = (uint8_t)rnd();
			ev.logic_fp[b] = (uint8_t)rnd();
		}
		ev.verdict = rnd() % 2 ? verdicts[rnd() % 3] : PG_VERDICT_NONE;
		int nf = (int)(rnd() % 5);
		for (int f = 0; f < nf; f++) {
			const char *k = keys[rnd() % (sizeof keys / sizeof keys[0])];
			char v[40];
			switch (rnd() % 5) {
			case 0: rnd_bytes(v, sizeof v); pg_event_set_str(&ev, k, v); break;
			case 1: pg_event_set_int(&ev, k, (long long)rnd()); break;
			case 2: pg_event_set_bool(&ev, k, (int)(rnd() % 2)); break;
			case 3: pg_event_set_hex(&ev, k, (const uint8_t *)"\x01\xfe", 2); break;
			default: pg_event_set_json(&ev, k, json_pack("{s:I}", "n", (json_int_t)(rnd() % 99))); break;
			}
		}
		char t[300];
		rnd_bytes(t, sizeof t);
		pg_event_text(&ev, "%s", t);
		check_same(&ev);
		pg_event_clear(&ev);
	}
}

/* pg_ts_str() formats by hand what gmtime_r + strftime + %06ld printed. */
static void ref_ts(const struct timespec *ts, char *buf, size_t n)
{
	struct tm tm;
	time_t t = ts->tv_sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, n, "invalid-time");
		return;
	}
	char d[32];
	strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%06ldZ", d, (long)(ts->tv_nsec / 1000));
}

static void test_ts_str(void **state)
{
	(void)state;
	static const long long secs[] = {
		0, -1, 59, 86399, 86400, 951782400 /* 2000-02-29 */, 1772442000,
		253402300799LL /* 9999-12-31T23:59:59 */, 253402300800LL /* 10000 */,
		-30610224000LL /* 1000-01-01 */, -30610224001LL /* 999-12-31 */,
		-62135596800LL /* 0001-01-01 */, 4102444800LL, 0x7fffffffLL, 0x80000000LL,
	};
	static const long nsecs[] = { 0, 999, 1000, 123456789, 999999999, -1, -1000, 1000000000, 2000000000 };
	char a[64], b[64];
	for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++)
		for (size_t j = 0; j < sizeof nsecs / sizeof nsecs[0]; j++) {
			struct timespec ts = { (time_t)secs[i], nsecs[j] };
			ref_ts(&ts, a, sizeof a);
			pg_ts_str(&ts, b, sizeof b);
			assert_string_equal(a, b);
			/* a short buffer is truncated, not overrun */
			char small[20], want[20];
			size_t k = strlen(a) < sizeof want - 1 ? strlen(a) : sizeof want - 1;
			memcpy(want, a, k);
			want[k] = 0;
			pg_ts_str(&ts, small, sizeof small);
			assert_string_equal(want, small);
		}
	for (int i = 0; i < 200000; i++) {
		struct timespec ts = { (time_t)(int64_t)(rnd() % 600000000000ULL) - 300000000000LL,
				       (long)(rnd() % 1000000000u) };
		ref_ts(&ts, a, sizeof a);
		pg_ts_str(&ts, b, sizeof b);
		assert_string_equal(a, b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_field_names),
		cmocka_unit_test(test_invalid_utf8_member),
		cmocka_unit_test(test_random_events),
		cmocka_unit_test(test_ts_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
