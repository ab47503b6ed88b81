/*
 * test_wire_core.c - the collector's glue: the event type and its JSON / human
 * forms (rules/event.c), the baseline matcher (agent/match.c) with baselines
 * built in memory, and capture files through collectors/capture.c into the
 * real flow table and sessions (the project's own sample captures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture.h"
#include "digest.h"
#include "flow.h"
#include "match.h"
#include "mc7.h"
#include "util.h"

/* the event bus the code under test publishes on (rules/bus.h) */
static struct pg_bus test_bus;

/* ---------------------------------------------------------- events -- */

static void test_event_json_safe(void **state)
{
	(void)state;
	struct pg_event ev;
	pg_event_init(&ev);
	ev.seq = 7;
	ev.ts.tv_sec = 1772442000; /* 2026-03-02T09:00:00Z */
	ev.ts.tv_nsec = 123456789;
	ev.kind = PG_K_S7_BLOCK_DOWNLOAD;
	ev.source = PG_SRC_WIRE;
	ev.sev = PG_SEV_ALERT;
	ev.flow_id = 3;
	snprintf(ev.src.addr, sizeof ev.src.addr, "10.0.0.1");
	ev.src.port = 4000;
	snprintf(ev.dst.addr, sizeof ev.dst.addr, "10.0.0.2");
	ev.dst.port = 102;
	snprintf(ev.object, sizeof ev.object, "DB1");
	ev.size = 500;
	/* wire bytes: a NUL, a newline, invalid UTF-8, a backslash, valid UTF-8 */
	static const char wire[] = { 'a', '\0', '\n', (char)0xff, '\\', (char)0xc3, (char)0xa9 };
	pg_event_set_strn(&ev, "station", wire, sizeof wire);
	pg_event_set_int(&ev, "seq", 99);   /* may not override a common member */
	pg_event_text(&ev, "line1\nline2");
	char *j = pg_event_json(&ev);
	assert_non_null(j);
	assert_null(strchr(j, '\n'));
	assert_non_null(strstr(j, "\"seq\":7,"));
	assert_non_null(strstr(j, "\"ts\":\"2026-03-02T09:00:00.123456Z\""));
	assert_non_null(strstr(j, "\"station\":\"a\\\\x00\\\\x0a\\\\xff\\\\\\\\\xc3\xa9\""));
	assert_non_null(strstr(j, "\"text\":\"line1\\\\x0aline2\""));
	assert_non_null(strstr(j, "\"dst\":{\"ip\":\"10.0.0.2\",\"port\":102}"));
	json_error_t je;
	json_t *o = json_loads(j, 0, &je);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 7);
	json_decref(o);
	free(j);
	char line[512];
	pg_event_human(&ev, line, sizeof line);
	assert_null(strchr(line, '\n'));
	assert_non_null(strstr(line, "10.0.0.1:4000 -> 10.0.0.2:102"));
	pg_event_clear(&ev);
	assert_null(ev.fields);
	assert_int_equal(ev.size, -1);
}

/* --------------------------------------------------------- matcher -- */

static void add_block(struct pg_baseline *b, const char *id, uint8_t shab,
		      uint8_t strictb, uint8_t fpb)
{
	char name[64];
	snprintf(name, sizeof name, "%s.mc7#s7/%s", id, id);
	struct pg_component *c = pg_complist_add(&b->m.comps, name, "s7-block");
	c->has_sha = 1;
	memset(c->sha256, shab, 32);
	c->has_fp = 1;
	memset(c->fp, fpb, 32);
	uint8_t st[32];
	char hex[65];
	memset(st, strictb, 32);
	c->ann = json_pack("{s:s,s:s}", "block", id, "strict_sha256", pg_hex(st, 32, hex));
}

static void init_baseline(struct pg_baseline *b, const char *id, time_t created,
			  const char *target)
{
	memset(b, 0, sizeof *b);
	b->id = xstrdup(id);
	b->trusted = 1;
	b->parsed = 1;
	b->m.project_name = xstrdup("proj");
	b->m.created = created;
	b->m.ticket = xstrdup("CHG-1");
	b->m.has_window = 1;
	b->m.win_from = 1000;
	b->m.win_to = 2000;
	if (target) {
		b->m.targets = xcalloc(1, sizeof *b->m.targets);
		b->m.n_targets = 1;
		char err[128];
		assert_int_equal(pg_target_parse(target, &b->m.targets[0], err, sizeof err), 0);
	}
}

static void block_event(struct pg_event *ev, const char *id, uint8_t shab,
			uint8_t strictb, uint8_t fpb, const char *dst, time_t t)
{
	pg_event_init(ev);
	ev->kind = PG_K_S7_BLOCK_DOWNLOAD;
	ev->flow_id = 1;
	snprintf(ev->dst.addr, sizeof ev->dst.addr, "%s", dst);
	ev->ts.tv_sec = t;
	snprintf(ev->object, sizeof ev->object, "%s", id);
	ev->has_sha256 = 1;
	memset(ev->sha256, shab, 32);
	ev->has_fp = 1;
	memset(ev->strict, strictb, 32);
	memset(ev->logic_fp, fpb, 32);
	pg_event_set_int(ev, "rack", 0);
	pg_event_set_int(ev, "slot", 2);
}

static const char *bl_str(const struct pg_event *ev, const char *k)
{
	json_t *b = json_object_get(ev->fields, "baseline");
	return json_string_value(json_object_get(b, k));
}

static int bl_bool(const struct pg_event *ev, const char *k)
{
	json_t *v = json_object_get(json_object_get(ev->fields, "baseline"), k);
	return json_is_null(v) ? -1 : json_is_true(v);
}

static void test_match_verdicts(void **state)
{
	(void)state;
	struct pg_baseline b[3];
	init_baseline(&b[0], "old", 100, "10.0.0.5,rack=0,slot=2");
	add_block(&b[0], "OB1", 0x11, 0x12, 0x13);
	add_block(&b[0], "DB1", 0x21, 0x22, 0x23);
	init_baseline(&b[1], "new", 200, "10.0.0.5,rack=0,slot=2");
	add_block(&b[1], "OB1", 0x31, 0x32, 0x33);
	init_baseline(&b[2], "untrusted", 300, NULL);
	add_block(&b[2], "FB7", 0x41, 0x42, 0x43);
	b[2].trusted = 0;
	struct pg_matcher *m = pg_matcher_new(b, 3);
	assert_int_equal(pg_matcher_baselines(m), 2);
	struct pg_event ev;

	/* exact, in the older baseline; in window; target listed */
	block_event(&ev, "OB1", 0x11, 0, 0, "10.0.0.5", 1500);
	pg_match_event(m, &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_MATCHES);
	assert_string_equal(json_string_value(json_object_get(ev.fields, "match")), "exact");
	assert_string_equal(bl_str(&ev, "id"), "old");
	assert_string_equal(bl_str(&ev, "ticket"), "CHG-1");
	assert_int_equal(bl_bool(&ev, "in_window"), 1);
	assert_int_equal(bl_bool(&ev, "target_listed"), 1);
	/* the same, typed, for the correlator */
	assert_string_equal(ev.base.id, "old");
	assert_string_equal(ev.base.ticket, "CHG-1");
	assert_int_equal(ev.base.has_window, 1);
	assert_int_equal(ev.base.win_from, 1000);
	assert_int_equal(ev.base.win_to, 2000);
	assert_int_equal(ev.base.in_window, 1);
	assert_int_equal(ev.base.target_listed, 1);
	pg_event_clear(&ev);

	/* checksum-only and logic-only matches; outside the window */
	block_event(&ev, "OB1", 0x99, 0x32, 0x00, "10.0.0.5", 5000);
	pg_match_event(m, &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_MATCHES);
	assert_string_equal(json_string_value(json_object_get(ev.fields, "match")), "checksum");
	assert_int_equal(bl_bool(&ev, "in_window"), 0);
	assert_int_equal(ev.base.in_window, 0);
	pg_event_clear(&ev);
	block_event(&ev, "DB1", 0x99, 0x98, 0x23, "10.0.0.5", 1500);
	pg_match_event(m, &ev);
	assert_string_equal(json_string_value(json_object_get(ev.fields, "match")), "logic");
	assert_non_null(strstr(ev.text, "timestamps"));
	pg_event_clear(&ev);

	/* same id, other logic: DIFFERS against the newest baseline */
	block_event(&ev, "OB1", 0x99, 0x98, 0x97, "10.0.0.5", 1500);
	pg_match_event(m, &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_DIFFERS);
	assert_int_equal(ev.sev, PG_SEV_ALERT);
	assert_string_equal(bl_str(&ev, "id"), "new");
	pg_event_clear(&ev);

	/* wrong PLC / wrong slot: matched but target not listed */
	block_event(&ev, "OB1", 0x31, 0, 0, "10.0.0.6", 1500);
	pg_match_event(m, &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_MATCHES);
	assert_int_equal(bl_bool(&ev, "target_listed"), 0);
	assert_int_equal(ev.base.target_listed, 0);
	assert_non_null(strstr(ev.text, "not among the baseline's targets"));
	pg_event_clear(&ev);
	block_event(&ev, "OB1", 0x31, 0, 0, "10.0.0.5", 1500);
	pg_event_set_int(&ev, "slot", 3);
	pg_match_event(m, &ev);
	assert_int_equal(bl_bool(&ev, "target_listed"), 0);
	pg_event_clear(&ev);

	/* only in an untrusted baseline: UNKNOWN */
	block_event(&ev, "FB7", 0x41, 0x42, 0x43, "10.0.0.5", 1500);
	pg_match_event(m, &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_UNKNOWN);
	assert_string_equal(ev.base.id, "");
	pg_event_clear(&ev);

	/* an event that already has a verdict is left alone */
	block_event(&ev, "OB1", 0x11, 0, 0, "10.0.0.5", 1500);
	ev.verdict = PG_VERDICT_INCOMPLETE;
	pg_match_event(m, &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_INCOMPLETE);
	assert_null(json_object_get(ev.fields, "baseline"));
	pg_event_clear(&ev);

	/* hostile object name */
	block_event(&ev, "../../etc", 0x11, 0, 0, "10.0.0.5", 1500);
	pg_match_event(m, &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_INVALID);
	pg_event_clear(&ev);

	pg_matcher_free(m);
	for (int i = 0; i < 3; i++)
		pg_baseline_free(&b[i]);
}

static void test_match_images(void **state)
{
	(void)state;
	struct pg_baseline b[1];
	init_baseline(&b[0], "umas", 100, "10.0.0.9");
	struct pg_component *c = pg_complist_add(&b[0].m.comps, "app.apx#umas/application", "umas-app");
	c->has_sha = 1;
	memset(c->sha256, 0x55, 32);
	struct pg_matcher *m = pg_matcher_new(b, 1);
	struct pg_event ev;
	pg_event_init(&ev);
	ev.kind = PG_K_UMAS_APP_DOWNLOAD;
	snprintf(ev.dst.addr, sizeof ev.dst.addr, "10.0.0.9");
	ev.has_sha256 = 1;
	memset(ev.sha256, 0x55, 32);
	pg_match_event(m, &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_MATCHES);
	pg_event_clear(&ev);
	/* other image to the PLC that has an approved one: DIFFERS */
	ev.kind = PG_K_UMAS_APP_DOWNLOAD;
	snprintf(ev.dst.addr, sizeof ev.dst.addr, "10.0.0.9");
	ev.has_sha256 = 1;
	memset(ev.sha256, 0x66, 32);
	pg_match_event(m, &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_DIFFERS);
	pg_event_clear(&ev);
	/* to another PLC: UNKNOWN */
	ev.kind = PG_K_UMAS_APP_UPLOAD;
	snprintf(ev.dst.addr, sizeof ev.dst.addr, "10.0.0.10");
	ev.has_sha256 = 1;
	memset(ev.sha256, 0x66, 32);
	pg_match_event(m, &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_UNKNOWN);
	assert_int_equal(ev.sev, PG_SEV_WARNING);
	pg_event_clear(&ev);
	pg_matcher_free(m);
	pg_baseline_free(&b[0]);
}

/* --------------------------------------------------------- capture -- */

struct rec {
	int n;
	char kinds[256][40];
	char verdicts[256][16];
	uint64_t last_seq;
};

static void rec_emit(void *arg, struct pg_event *ev)
{
	struct rec *r = arg;
	assert_int_equal(ev->seq, r->last_seq + 1);
	r->last_seq = ev->seq;
	if (r->n < 256) {
		snprintf(r->kinds[r->n], sizeof r->kinds[0], "%s", pg_kind_name(ev->kind));
		snprintf(r->verdicts[r->n], sizeof r->verdicts[0], "%s",
			 pg_verdict_name(ev->verdict) ? pg_verdict_name(ev->verdict) : "");
		r->n++;
	}
}

static int count(const struct rec *r, const char *kind)
{
	int n = 0;
	for (int i = 0; i < r->n; i++)
		n += strcmp(r->kinds[i], kind) == 0;
	return n;
}

static int run_file(const char *path, struct rec *r, struct pg_sniff *s)
{
	memset(r, 0, sizeof *r);
	pg_sniff_init(s);
	pg_bus_init(&test_bus);
	pg_bus_subscribe(&test_bus, rec_emit, r);
	s->bus = &test_bus;
	struct flowtab *ft = flowtab_new(s, &pg_s7_app, &pg_modbus_app);
	struct pg_capture cap;
	pg_capture_init(&cap, s, ft);
	int rc = pg_capture_file(&cap, path);
	flowtab_close_all(ft, &cap.last);
	flowtab_free(ft);
	assert_int_equal(s->mem_used, 0);
	return rc;
}

static char *sample(const char *name)
{
	const char *src = getenv("PG_SRC");
	return xasprintf("%s/samples/captures/%s", src ? src : ".", name);
}

static void test_capture_files(void **state)
{
	(void)state;
	struct rec r;
	struct pg_sniff s;
	char *p = sample("s7_download.pcap");
	assert_int_equal(run_file(p, &r, &s), 0);
	assert_int_equal(count(&r, "capture.file"), 1);
	assert_int_equal(count(&r, "s7.block.download"), 4);
	assert_int_equal(s.st.packets, 72);
	free(p);
	p = sample("s7_ipv6.pcapng");
	assert_int_equal(run_file(p, &r, &s), 0);
	assert_int_equal(count(&r, "s7.block.download"), 1);
	free(p);
	p = sample("umas_readback.pcap");
	assert_int_equal(run_file(p, &r, &s), 0);
	assert_int_equal(count(&r, "umas.app.upload"), 1);
	free(p);

	/* not a capture, empty, missing */
	char tmp[] = "/tmp/pg-wire-XXXXXX";
	int fd = mkstemp(tmp);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "GIF89a....", 10), 10);
	close(fd);
	assert_int_equal(run_file(tmp, &r, &s), -1);
	assert_int_equal(count(&r, "capture.error"), 1);
	fd = open(tmp, O_WRONLY | O_TRUNC);
	close(fd);
	assert_int_equal(run_file(tmp, &r, &s), -1);
	assert_int_equal(count(&r, "capture.error"), 1);
	unlink(tmp);
	assert_int_equal(run_file("/nonexistent/x.pcap", &r, &s), -1);
	assert_int_equal(count(&r, "capture.error"), 1);
}

static void test_memcap_event(void **state)
{
	(void)state;
	struct rec r;
	memset(&r, 0, sizeof r);
	struct pg_sniff s;
	pg_sniff_init(&s);
	pg_bus_init(&test_bus);
	pg_bus_subscribe(&test_bus, rec_emit, &r);
	s.bus = &test_bus;
	s.cfg.total_mem_max = 1000;
	assert_int_equal(pg_mem_charge(&s, 600), 0);
	for (int i = 0; i < 9; i++)
		assert_int_equal(pg_mem_charge(&s, 500), -1);
	assert_int_equal(s.st.memcap_hits, 9);
	assert_int_equal(count(&r, "sniff.memcap"), 4);   /* 1st, 2nd, 4th, 8th */
	assert_int_equal(pg_mem_charge(&s, 400), 0);
	pg_mem_release(&s, 1000);
	assert_int_equal(s.mem_used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_json_safe),
		cmocka_unit_test(test_match_verdicts),
		cmocka_unit_test(test_match_images),
		cmocka_unit_test(test_capture_files),
		cmocka_unit_test(test_memcap_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
