/*
 * test_bus.c - the one event bus (rules/bus.c) and the typed event kinds and
 * verdicts (rules/event.h): events of every source get one run-wide seq,
 * each subscriber sees each event in seq order after the ones subscribed
 * before it, an event published from inside a subscriber is held (never
 * lost, never out of order), and every kind has one name, documented in
 * docs/EVENTS.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus.h"

struct seen {
	uint64_t seq[64];
	enum pg_kind kind[64];
	enum pg_sev sev[64];
	int had_payload[64];
	size_t n;
};

static void record(void *arg, struct pg_event *ev)
{
	struct seen *s = arg;
	if (s->n < 64) {
		s->seq[s->n] = ev->seq;
		s->kind[s->n] = ev->kind;
		s->sev[s->n] = ev->sev;
		s->had_payload[s->n] = ev->payload != NULL;
		s->n++;
	}
}

/* A stage that changes the event: later subscribers see the change. */
static void raise_sev(void *arg, struct pg_event *ev)
{
	(void)arg;
	if (ev->kind == PG_K_S7_BLOCK_DOWNLOAD)
		ev->sev = PG_SEV_ALERT;
}

static void publish(struct pg_bus *b, enum pg_source src, enum pg_kind k)
{
	struct pg_event ev;
	pg_event_init(&ev);
	ev.source = src;
	ev.kind = k;
	pg_event_set_str(&ev, "owned", "freed by the bus");
	pg_bus_publish(b, &ev);
	/* cleared after the call: the fields are gone */
	assert_null(ev.fields);
	assert_int_equal(ev.kind, PG_K_NONE);
}

static void test_numbering_and_order(void **state)
{
	(void)state;
	struct pg_bus b;
	struct seen first = { 0 }, last = { 0 };
	pg_bus_init(&b);
	assert_int_equal(pg_bus_subscribe(&b, record, &first), 0);
	assert_int_equal(pg_bus_subscribe(&b, raise_sev, NULL), 0);
	assert_int_equal(pg_bus_subscribe(&b, record, &last), 0);
	/* two sources interleaved share one numbering */
	publish(&b, PG_SRC_WIRE, PG_K_S7_BLOCK_DOWNLOAD);
	publish(&b, PG_SRC_FILE, PG_K_CAPTURE_FILE);
	publish(&b, PG_SRC_SELF, PG_K_SNIFF_SUMMARY);
	publish(&b, PG_SRC_WIRE, PG_K_S7_PLC_STOP);
	assert_int_equal(first.n, 4);
	assert_int_equal(last.n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(first.seq[i], i + 1);
		assert_int_equal(last.seq[i], i + 1);
	}
	/* the stage ran between the two: the first saw the event before it */
	assert_int_equal(first.sev[0], PG_SEV_INFO);
	assert_int_equal(last.sev[0], PG_SEV_ALERT);
	assert_int_equal(b.next_seq, 5);
}

static void test_subscriber_limit(void **state)
{
	(void)state;
	struct pg_bus b;
	struct seen s = { 0 };
	pg_bus_init(&b);
	for (int i = 0; i < PG_BUS_MAX_SUBS; i++)
		assert_int_equal(pg_bus_subscribe(&b, record, &s), 0);
	assert_int_equal(pg_bus_subscribe(&b, record, &s), -1);
	assert_int_equal(pg_bus_subscribe(&b, NULL, &s), -1);
	/* without subscribers an event is still numbered and cleared */
	struct pg_bus e;
	pg_bus_init(&e);
	publish(&e, PG_SRC_WIRE, PG_K_TCP_GAP);
	assert_int_equal(e.next_seq, 2);
}

/* A subscriber that publishes: each event it sees makes `burst` more. */
struct nester {
	struct pg_bus *b;
	int burst;
	int done;
};

static const uint8_t some_bytes[4] = { 1, 2, 3, 4 };

static void nest(void *arg, struct pg_event *ev)
{
	struct nester *n = arg;
	if (ev->kind != PG_K_S7_BLOCK_DOWNLOAD || n->done)
		return;
	n->done = 1;
	for (int i = 0; i < n->burst; i++) {
		struct pg_event x;
		pg_event_init(&x);
		x.kind = PG_K_S7_BLOCK_ACTIVATE;
		x.payload = some_bytes;   /* borrowed: must not outlive this call */
		x.payload_len = sizeof some_bytes;
		pg_event_set_int(&x, "i", i);
		pg_bus_publish(n->b, &x);
		assert_null(x.fields);    /* taken (held) or freed (refused) */
	}
}

static void counter(void *arg, struct pg_event *ev)
{
	uint64_t *n = arg;
	assert_int_equal(ev->seq, *n + 1);   /* in seq order, none skipped */
	(*n)++;
}

static void test_nested_publish_held(void **state)
{
	(void)state;
	struct pg_bus b;
	struct seen before = { 0 }, after = { 0 };
	struct nester n = { &b, 3, 0 };
	pg_bus_init(&b);
	pg_bus_subscribe(&b, record, &before);
	pg_bus_subscribe(&b, nest, &n);
	pg_bus_subscribe(&b, record, &after);
	struct pg_event ev;
	pg_event_init(&ev);
	ev.kind = PG_K_S7_BLOCK_DOWNLOAD;
	ev.payload = some_bytes;
	ev.payload_len = sizeof some_bytes;
	pg_bus_publish(&b, &ev);
	/* the download reached every subscriber first, then the three held
	 * events, numbered after it, without their borrowed payload */
	assert_int_equal(before.n, 4);
	assert_int_equal(after.n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(before.seq[i], i + 1);
		assert_int_equal(after.seq[i], i + 1);
	}
	assert_int_equal(after.kind[0], PG_K_S7_BLOCK_DOWNLOAD);
	assert_true(after.had_payload[0]);
	for (size_t i = 1; i < 4; i++) {
		assert_int_equal(after.kind[i], PG_K_S7_BLOCK_ACTIVATE);
		assert_false(after.had_payload[i]);
	}
	assert_int_equal(b.refused, 0);
	assert_int_equal(b.nheld, 0);

	/* many at once (a transfer that finds a thousand bad baselines): all
	 * delivered, in order */
	struct nester n3 = { &b, 1000, 0 };
	uint64_t count = 0;
	pg_bus_free(&b);
	pg_bus_init(&b);
	pg_bus_subscribe(&b, nest, &n3);
	pg_bus_subscribe(&b, counter, &count);
	pg_event_init(&ev);
	ev.kind = PG_K_S7_BLOCK_DOWNLOAD;
	pg_bus_publish(&b, &ev);
	assert_int_equal(count, 1001);
	assert_int_equal(b.refused, 0);
	assert_int_equal(b.next_seq, 1002);

	/* more than the bus may hold: the rest is counted, and freed */
	struct seen s2 = { 0 };
	struct nester n2 = { &b, 16 + 5, 0 };
	pg_bus_free(&b);
	pg_bus_init(&b);
	b.max_held = 16;
	pg_bus_subscribe(&b, nest, &n2);
	pg_bus_subscribe(&b, record, &s2);
	pg_event_init(&ev);
	ev.kind = PG_K_S7_BLOCK_DOWNLOAD;
	pg_bus_publish(&b, &ev);
	assert_int_equal(s2.n, 1 + 16);
	assert_int_equal(b.refused, 5);
	assert_int_equal(s2.seq[s2.n - 1], (uint64_t)s2.n);
	pg_bus_free(&b);
}

static void test_kind_table(void **state)
{
	(void)state;
	assert_string_equal(pg_kind_name(PG_K_NONE), "unknown");
	assert_string_equal(pg_kind_name((enum pg_kind)PG_K_COUNT), "unknown");
	assert_string_equal(pg_kind_name((enum pg_kind)-1), "unknown");
	assert_int_equal(pg_kind_from_name("no.such.kind"), PG_K_NONE);
	assert_int_equal(pg_kind_from_name(NULL), PG_K_NONE);
	assert_int_equal(pg_kind_from_name("unknown"), PG_K_NONE);
	unsigned transfers = 0;
	for (int k = 1; k < PG_K_COUNT; k++) {
		const char *nm = pg_kind_name((enum pg_kind)k);
		assert_int_not_equal(strcmp(nm, "unknown"), 0);
		assert_int_equal(pg_kind_from_name(nm), k);        /* names are unique */
		transfers += pg_kind_is_transfer((enum pg_kind)k);
		if (pg_kind_flags((enum pg_kind)k) & PG_KF_UPLOAD)
			assert_true(pg_kind_is_transfer((enum pg_kind)k));
	}
	assert_int_equal(transfers, 5);
	assert_true(pg_kind_is_transfer(PG_K_S7_BLOCK_DOWNLOAD));
	assert_true(pg_kind_is_transfer(PG_K_MODBUS_FILE_WRITE));
	assert_false(pg_kind_is_transfer(PG_K_S7_BLOCK_ACTIVATE));
	assert_false(pg_kind_is_transfer(PG_K_NONE));
	assert_null(pg_verdict_name(PG_VERDICT_NONE));
	assert_null(pg_verdict_name(PG_VERDICT_COUNT));
	assert_string_equal(pg_verdict_name(PG_VERDICT_MATCHES), "matches");
	assert_string_equal(pg_verdict_name(PG_VERDICT_UNVERIFIABLE), "unverifiable");
}

/* Every kind is documented: docs/EVENTS.md names it in backquotes. */
static void test_kinds_documented(void **state)
{
	(void)state;
	const char *src = getenv("PG_SRC");
	char path[4096];
	snprintf(path, sizeof path, "%s/docs/EVENTS.md", src ? src : ".");
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("SKIP: %s not found (PG_SRC unset?)\n", path);
		skip();
	}
	static char doc[1 << 20];
	size_t n = fread(doc, 1, sizeof doc - 1, f);
	fclose(f);
	doc[n] = '\0';
	for (int k = 1; k < PG_K_COUNT; k++) {
		char q[80];
		snprintf(q, sizeof q, "`%s`", pg_kind_name((enum pg_kind)k));
		if (!strstr(doc, q))
			fail_msg("kind %s is not in docs/EVENTS.md", q);
	}
}


static const struct pg_observer *g_obs;
static char g_json[4096];

static void grab(void *arg, struct pg_event *ev)
{
	(void)arg;
	g_obs = ev->obs;
	char *j = pg_event_json(ev);
	snprintf(g_json, sizeof g_json, "%s", j ? j : "");
	free(j);
}

/* Each run has its own random id, and every event says run and host. */
static void test_observer(void **state)
{
	(void)state;
	struct pg_bus a, b;
	pg_bus_init(&a);
	pg_bus_init(&b);
	assert_int_equal(strlen(a.obs.run), 32);
	assert_int_equal(strspn(a.obs.run, "0123456789abcdef"), 32);
	assert_string_not_equal(a.obs.run, b.obs.run);
	assert_true(a.obs.host[0] != '\0');
	pg_bus_subscribe(&a, grab, NULL);
	struct pg_event ev;
	pg_event_init(&ev);
	ev.kind = PG_K_SENSOR_HEARTBEAT;
	pg_bus_publish(&a, &ev);
	assert_ptr_equal(g_obs, &a.obs);
	char want[128];
	snprintf(want, sizeof want, "{\"seq\":1,\"run\":\"%s\",\"host\":\"", a.obs.run);
	assert_memory_equal(g_json, want, strlen(want));
	assert_non_null(strstr(g_json, "\"kind\":\"sensor.heartbeat\""));
	/* an event never published says neither */
	pg_event_init(&ev);
	char *j = pg_event_json(&ev);
	assert_null(strstr(j, "\"run\""));
	free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbering_and_order),
		cmocka_unit_test(test_subscriber_limit),
		cmocka_unit_test(test_nested_publish_held),
		cmocka_unit_test(test_kind_table),
		cmocka_unit_test(test_kinds_documented),
		cmocka_unit_test(test_observer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
