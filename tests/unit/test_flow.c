/*
 * test_flow.c - flow table and TCP reassembly (collectors/flow.c).
 *
 * A fake application records, per flow and direction, the byte stream it was
 * handed, with every gap written as '?' bytes, so one string comparison
 * states the whole behaviour ("abc" + 5 x '?' + "def").  Events are recorded
 * with their numeric fields.  Every test ends with flowtab_free() and checks
 * that the memory budget is back at zero and every opened flow was closed
 * exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"

/* the event bus the code under test publishes on (rules/bus.h) */
static struct pg_bus test_bus;

/* ---- recorder ---- */

#define MAXF 16
#define MAXB 8192
#define MAXEV 64

struct rflow {
	const char *app;
	struct pg_flowinfo fi;
	uint8_t buf[2][MAXB];
	size_t n[2];
	uint64_t tot[2];           /* data bytes delivered, all of them */
	unsigned gaps[2];
	int closes;
};

struct rev {
	char kind[40];
	int sev;
	char dir[4];
	long long bytes, offset, seq, length;
	uint64_t flow;
};

#define MAXLOG 64

static struct {
	struct rflow f[MAXF];
	int nf;
	/* every delivery in order: direction, first byte, frame it came in */
	struct { int dir; char c; uint64_t frame; } log[MAXLOG];
	int nlog;
	struct rev ev[MAXEV];
	int nev;
	int nev_over;
} R;

static void *app_open(struct pg_sniff *s, const struct pg_flowinfo *fi,
		      const char *name)
{
	(void)s;
	assert_true(R.nf < MAXF);
	struct rflow *f = &R.f[R.nf++];
	memset(f, 0, sizeof *f);
	f->app = name;
	f->fi = *fi;
	return f;
}

static void *s7_open(struct pg_sniff *s, const struct pg_flowinfo *fi)
{
	return app_open(s, fi, "s7");
}

static void *mb_open(struct pg_sniff *s, const struct pg_flowinfo *fi)
{
	return app_open(s, fi, "modbus");
}

static void app_data(void *app, int dir, const uint8_t *p, size_t n,
		     const struct pg_pktinfo *pi)
{
	struct rflow *f = app;
	assert_int_equal(f->closes, 0);
	assert_true(n > 0);
	if (R.nlog < MAXLOG) {
		R.log[R.nlog].dir = dir;
		R.log[R.nlog].c = (char)p[0];
		R.log[R.nlog].frame = pi ? pi->frame : 0;
		R.nlog++;
	}
	f->tot[dir] += n;
	size_t k = n > MAXB - f->n[dir] ? MAXB - f->n[dir] : n;
	memcpy(f->buf[dir] + f->n[dir], p, k);   /* the first MAXB bytes */
	f->n[dir] += k;
}

static void app_gap(void *app, int dir, uint64_t n, const struct pg_pktinfo *pi)
{
	(void)pi;
	struct rflow *f = app;
	assert_int_equal(f->closes, 0);
	assert_true(n > 0);
	f->gaps[dir]++;
	size_t k = n > MAXB - f->n[dir] ? MAXB - f->n[dir] : (size_t)n;
	memset(f->buf[dir] + f->n[dir], '?', k);
	f->n[dir] += k;
}

static void app_close(void *app, const struct pg_pktinfo *pi)
{
	(void)pi;
	struct rflow *f = app;
	f->closes++;
}

static const struct pg_app_ops s7_ops = {
	"s7", s7_open, app_data, app_gap, app_close, NULL,
};
static const struct pg_app_ops mb_ops = {
	"modbus", mb_open, app_data, app_gap, app_close, NULL,
};

static long long jint(json_t *o, const char *k)
{
	json_t *v = o ? json_object_get(o, k) : NULL;
	return v ? (long long)json_integer_value(v) : -1;
}

static void on_event(void *arg, struct pg_event *ev)
{
	(void)arg;
	if (R.nev >= MAXEV) {     /* only the first events are kept */
		R.nev_over++;
		return;
	}
	struct rev *r = &R.ev[R.nev++];
	memset(r, 0, sizeof *r);
	snprintf(r->kind, sizeof r->kind, "%s", pg_kind_name(ev->kind));
	r->sev = ev->sev;
	r->flow = ev->flow_id;
	json_t *d = ev->fields ? json_object_get(ev->fields, "dir") : NULL;
	if (d)
		snprintf(r->dir, sizeof r->dir, "%s", json_string_value(d));
	r->bytes = jint(ev->fields, "bytes");
	r->offset = jint(ev->fields, "offset");
	r->seq = jint(ev->fields, "seq");
	r->length = jint(ev->fields, "length");
}

static int count_events(const char *kind)
{
	int n = 0;
	for (int i = 0; i < R.nev; i++)
		n += strcmp(R.ev[i].kind, kind) == 0;
	return n;
}

static const struct rev *find_event(const char *kind)
{
	for (int i = 0; i < R.nev; i++)
		if (strcmp(R.ev[i].kind, kind) == 0)
			return &R.ev[i];
	return NULL;
}

static void assert_stream(const struct rflow *f, int dir, const char *want)
{
	size_t n = strlen(want);
	if (f->n[dir] != n || memcmp(f->buf[dir], want, n) != 0)
		fail_msg("dir %d: got %zu bytes \"%.*s\", want \"%s\"", dir,
			 f->n[dir], (int)f->n[dir], (const char *)f->buf[dir],
			 want);
}

/* ---- a test bed: context, table, segments ---- */

static struct pg_sniff S;
static struct flowtab *FT;
static int64_t NOW = 1000;
static uint64_t FRAME;

static int setup(void **state)
{
	(void)state;
	memset(&R, 0, sizeof R);
	pg_sniff_init(&S);
	pg_bus_init(&test_bus);
	pg_bus_subscribe(&test_bus, on_event, NULL);
	S.bus = &test_bus;
	NOW = 1000;
	FRAME = 0;
	return 0;
}

static void bed(void)
{
	FT = flowtab_new(&S, &s7_ops, &mb_ops);
	assert_non_null(FT);
}

static int teardown(void **state)
{
	(void)state;
	if (FT) {
		flowtab_free(FT);
		FT = NULL;
	}
	assert_int_equal(S.mem_used, 0);
	for (int i = 0; i < R.nf; i++)
		assert_int_equal(R.f[i].closes, 1);
	return 0;
}

#define CLI_IP 0x0A000001u
#define SRV_IP 0x0A000002u

/* One segment; from_cli picks the orientation, port is the server port. */
static void seg_full(int from_cli, uint16_t cport, uint16_t sport,
		     uint32_t seq, uint32_t ack, uint8_t flags,
		     const char *data, size_t len, size_t missing)
{
	struct nd_tcp t;
	memset(&t, 0, sizeof t);
	t.af = 4;
	uint8_t c[4] = { 10, 0, 0, 1 }, s[4] = { 10, 0, 0, 2 };
	memcpy(t.src, from_cli ? c : s, 4);
	memcpy(t.dst, from_cli ? s : c, 4);
	t.sport = from_cli ? cport : sport;
	t.dport = from_cli ? sport : cport;
	t.seq = seq;
	t.ack = ack;
	t.flags = flags;
	/* an exact-size copy so that ASan sees any over-read */
	uint8_t *p = NULL;
	if (len) {
		p = malloc(len);
		assert_non_null(p);
		memcpy(p, data, len);
	}
	t.payload = p;
	t.len = len;
	t.missing = missing;
	struct pg_pktinfo pi = { { NOW, 0 }, ++FRAME };
	flowtab_packet(FT, &t, &pi);
	free(p);
}

static void seg(int from_cli, uint32_t seq, uint32_t ack, uint8_t flags,
		const char *data)
{
	seg_full(from_cli, 40000, 102, seq, ack, flags, data,
		 data ? strlen(data) : 0, 0);
}

#define C 1
#define S_ 0
#define A ND_ACK
#define PA (ND_PSH | ND_ACK)

/* Handshake: client ISN 1000, server ISN 5000. */
static void handshake(void)
{
	seg(C, 1000, 0, ND_SYN, NULL);
	seg(S_, 5000, 1001, ND_SYN | ND_ACK, NULL);
	seg(C, 1001, 5001, A, NULL);
}

static void close_fin(uint32_t cseq, uint32_t sseq)
{
	seg(C, cseq, sseq, ND_FIN | A, NULL);
	seg(S_, sseq, cseq + 1, ND_FIN | A, NULL);
}

static void final_checks(void)
{
	flowtab_close_all(FT, NULL);
	assert_int_equal(flowtab_count(FT), 0);
}

/* ---- tests ---- */

static void test_in_order(void **state)
{
	(void)state;
	bed();
	handshake();
	assert_int_equal(R.nf, 1);
	assert_int_equal(flowtab_count(FT), 1);
	seg(C, 1001, 5001, PA, "hello");
	seg(C, 1006, 5001, PA, " world");
	seg(S_, 5001, 1012, PA, "ok");
	close_fin(1012, 5003);
	const struct rflow *f = &R.f[0];
	assert_string_equal(f->app, "s7");
	assert_stream(f, PG_DIR_C2S, "hello world");
	assert_stream(f, PG_DIR_S2C, "ok");
	assert_int_equal(f->closes, 1);
	assert_int_equal(f->fi.id, 1);
	assert_int_equal(f->fi.af, 4);
	assert_int_equal(f->fi.midstream, 0);
	assert_string_equal(f->fi.cli.addr, "10.0.0.1");
	assert_int_equal(f->fi.cli.port, 40000);
	assert_string_equal(f->fi.srv.addr, "10.0.0.2");
	assert_int_equal(f->fi.srv.port, 102);
	assert_int_equal(flowtab_count(FT), 0);
	assert_int_equal(S.st.flows, 1);
	assert_int_equal(S.st.gaps, 0);
	assert_int_equal(R.nev, 0);
	struct flowtab_counts k;
	flowtab_get_counts(FT, &k);
	assert_int_equal(k.closed_fin, 1);
	/* the final ACK and a late retransmission hit the closed tuple */
	seg(C, 1013, 5004, A, NULL);
	seg(C, 1006, 5004, PA, " world");
	assert_int_equal(R.nf, 1);
	flowtab_get_counts(FT, &k);
	assert_int_equal(k.after_close, 1);
	final_checks();
}

static void test_out_of_order_reversed(void **state)
{
	(void)state;
	bed();
	handshake();
	seg(C, 1007, 5001, PA, "ccc");
	seg(C, 1004, 5001, PA, "bbb");
	assert_int_equal(R.f[0].n[0], 0);
	seg(C, 1001, 5001, PA, "aaa");
	assert_stream(&R.f[0], 0, "aaabbbccc");
	assert_int_equal(S.st.out_of_order, 2);
	assert_int_equal(S.st.gaps, 0);
	assert_true(S.mem_used > 0);   /* flow + window still held */
	final_checks();
}

static void test_retransmission(void **state)
{
	(void)state;
	bed();
	handshake();
	seg(C, 1001, 5001, PA, "hello");
	seg(C, 1001, 5001, PA, "hello");
	seg(C, 1006, 5001, PA, "!");
	assert_stream(&R.f[0], 0, "hello!");
	assert_int_equal(S.st.retransmits, 1);
	assert_int_equal(S.st.overlap_conflicts, 0);
	/* a retransmission with other bytes is a conflict, first copy wins */
	seg(C, 1001, 5001, PA, "HELLO");
	assert_stream(&R.f[0], 0, "hello!");
	assert_int_equal(S.st.retransmits, 2);
	assert_int_equal(S.st.overlap_conflicts, 1);
	final_checks();
}

/* A keep-alive probe (one garbage byte at next - 1) is not a conflict. */
static void test_keepalive(void **state)
{
	(void)state;
	bed();
	handshake();
	seg(C, 1001, 5001, PA, "abc");
	seg(C, 1003, 5001, A, "\xff");
	assert_int_equal(S.st.overlap_conflicts, 0);
	assert_int_equal(count_events("tcp.overlap_conflict"), 0);
	/* two bytes back is no probe: compared */
	seg(C, 1002, 5001, A, "\xff");
	assert_int_equal(S.st.overlap_conflicts, 1);
	assert_stream(&R.f[0], 0, "abc");
	final_checks();
}

static void test_overlap_same(void **state)
{
	(void)state;
	bed();
	handshake();
	seg(C, 1001, 5001, PA, "hello");
	seg(C, 1004, 5001, PA, "lo wo");
	assert_stream(&R.f[0], 0, "hello wo");
	assert_int_equal(S.st.overlaps, 1);
	assert_int_equal(S.st.overlap_conflicts, 0);
	assert_int_equal(count_events("tcp.overlap_conflict"), 0);
	final_checks();
}

static void test_overlap_conflict_delivered(void **state)
{
	(void)state;
	bed();
	handshake();
	seg(C, 1001, 5001, PA, "hello");
	seg(C, 1004, 5001, PA, "XX wo");
	assert_stream(&R.f[0], 0, "hello wo");
	assert_int_equal(S.st.overlap_conflicts, 1);
	const struct rev *e = find_event("tcp.overlap_conflict");
	assert_non_null(e);
	assert_int_equal(e->sev, PG_SEV_ALERT);
	assert_string_equal(e->dir, "c2s");
	assert_int_equal(e->seq, 1004);
	assert_int_equal(e->length, 2);
	assert_int_equal(e->offset, 3);
	assert_int_equal(e->flow, 1);
	final_checks();
}

static void test_overlap_conflict_buffered(void **state)
{
	(void)state;
	bed();
	handshake();
	seg(C, 1007, 5001, PA, "cccc");        /* offset 6..9, buffered */
	seg(C, 1004, 5001, PA, "bbbXXX");      /* overlaps it differently */
	seg(C, 1004, 5001, PA, "bbb");         /* identical overlap */
	seg(C, 1001, 5001, PA, "aaab");        /* in order, overlaps buffer */
	assert_stream(&R.f[0], 0, "aaabbbcccc");
	assert_int_equal(S.st.overlap_conflicts, 1);
	assert_int_equal(S.st.overlaps, 2);
	const struct rev *e = find_event("tcp.overlap_conflict");
	assert_non_null(e);
	assert_int_equal(e->seq, 1004);
	assert_int_equal(e->length, 6);
	assert_int_equal(e->offset, 3);
	final_checks();
}

static void test_gap_by_ack(void **state)
{
	(void)state;
	bed();
	handshake();
	seg(C, 1001, 5001, PA, "abc");
	/* the server ACKs 100 bytes the capture never had */
	seg(S_, 5001, 1104, A, NULL);
	assert_int_equal(S.st.gaps, 0);            /* applied lazily */
	seg(C, 1104, 5001, PA, "xyz");
	char want[200];
	snprintf(want, sizeof want, "abc%.*sxyz", 100,
		 "????????????????????????????????????????????????????????????"
		 "????????????????????????????????????????");
	assert_stream(&R.f[0], 0, want);
	assert_int_equal(S.st.gaps, 1);
	assert_int_equal(S.st.gap_bytes, 100);
	assert_int_equal(R.f[0].gaps[0], 1);
	const struct rev *e = find_event("tcp.gap");
	assert_non_null(e);
	assert_int_equal(e->sev, PG_SEV_WARNING);
	assert_string_equal(e->dir, "c2s");
	assert_int_equal(e->bytes, 100);
	assert_int_equal(e->offset, 3);
	final_checks();
}

/* The deliveries from log index i on, as "dir:first-byte:frame ..." */
static void assert_log(int from, const char *want)
{
	char got[512] = "";
	size_t o = 0;
	for (int i = from; i < R.nlog && o < sizeof got - 32; i++)
		o += (size_t)snprintf(got + o, sizeof got - o, "%s%d:%c:%llu", o ? " " : "",
				      R.log[i].dir, R.log[i].c,
				      (unsigned long long)R.log[i].frame);
	if (strcmp(got, want) != 0)
		fail_msg("deliveries \"%s\", want \"%s\"", got, want);
}

/*
 * Causal order.  A filtered export (STEP 7's empty DT before each request is
 * not in the file): the client's request waits behind a 7-byte hole and the
 * server's reply ACKs it.  The reply is parked; when the server goes on, the
 * hole is declared lost and the request reaches the application before the
 * reply, each with the frame it came in.
 */
static void test_causal_order(void **state)
{
	(void)state;
	bed();
	handshake();                                   /* frames 1-3 */
	seg(C, 1008, 5001, PA, "REQ1");                /* 4: hole 1001-1007 */
	seg(S_, 5001, 1012, PA, "rsp1");               /* 5: ACKs it all: parked */
	assert_int_equal(R.nlog, 0);
	seg(S_, 5005, 1012, PA, "job2");               /* 6: the server went on */
	assert_stream(&R.f[0], 0, "???????REQ1");
	assert_stream(&R.f[0], 1, "rsp1job2");
	assert_log(0, "0:R:4 1:r:5 1:j:6");
	assert_int_equal(S.st.gaps, 1);
	/* the client sends beyond the hole its reply-to-be ACKed: the same */
	seg(C, 1019, 5009, PA, "REQ3");                /* 7: hole 1012-1018 */
	seg(S_, 5009, 1023, PA, "rsp3");               /* 8: parked */
	seg(C, 1023, 5013, PA, "REQ4");                /* 9: beyond the hole */
	assert_stream(&R.f[0], 0, "???????REQ1???????REQ3REQ4");
	assert_log(3, "0:R:7 1:r:8 0:R:9");
	assert_int_equal(S.st.gaps, 2);
	final_checks();
}

/*
 * A SPAN port records the client's next request before the server's reply
 * that it ACKs (s7comm_clean.pcap does this a dozen times): the request is
 * parked until the reply arrives, then both go in causal order, no gap.
 */
static void test_causal_span_reorder(void **state)
{
	(void)state;
	bed();
	handshake();                                   /* 1-3 */
	seg(C, 1001, 5001, PA, "REQ1");                /* 4 */
	seg(C, 1005, 5005, PA, "REQ2");                /* 5: ACKs rsp1, not seen yet */
	assert_int_equal(R.nlog, 1);
	seg(S_, 5001, 1005, PA, "rsp1");               /* 6: arrives late */
	assert_log(0, "0:R:4 1:r:6 0:R:5");
	assert_int_equal(S.st.gaps, 0);
	seg(S_, 5001, 1005, PA, "rsp1");               /* 7: the SPAN's duplicate */
	assert_int_equal(S.st.retransmits, 1);
	/* a bare ACK over a hole parks and releases nothing */
	seg(C, 1016, 5005, PA, "REQ3");                /* 8: hole 1009-1015 */
	seg(S_, 5005, 1020, A, NULL);                  /* 9: bare ACK */
	seg(C, 1009, 5005, PA, "-------");             /* 10: the late bytes */
	assert_stream(&R.f[0], 0, "REQ1REQ2-------REQ3");
	assert_int_equal(S.st.gaps, 0);
	/* a parked segment waits at most PG_FLOW_PARK_NS of packet time */
	seg(C, 1027, 5005, PA, "REQ4");                /* 11: hole 1020-1026 */
	seg(S_, 5005, 1031, PA, "rsp4");               /* 12: parked */
	NOW += 2;
	seg(C, 1027, 5005, A, NULL);                   /* 13: any packet, 2 s later */
	assert_stream(&R.f[0], 1, "rsp1rsp4");
	assert_int_equal(S.st.gaps, 1);
	/* the flow ends with a segment parked: released, in order */
	seg(C, 1038, 5009, PA, "REQ5");                /* 14: hole 1031-1037 */
	seg(S_, 5009, 1042, PA, "rsp5");               /* 15: parked */
	flowtab_close_all(FT, NULL);
	assert_log(R.nlog - 2, "0:R:14 1:r:15");
	final_checks();
}

/* An ACK beyond with no later data: the hole is declared at close. */
static void test_gap_by_ack_at_close(void **state)
{
	(void)state;
	bed();
	handshake();
	seg(C, 1001, 5001, PA, "abc");
	seg(S_, 5001, 1014, A, NULL);
	/* an ACK that is behind or equal changes nothing */
	seg(S_, 5001, 1004, A, NULL);
	final_checks();
	assert_stream(&R.f[0], 0, "abc??????????");
	assert_int_equal(S.st.gap_bytes, 10);
}

static void test_gap_by_ooo_cap(void **state)
{
	(void)state;
	S.cfg.flow_mem_max = 200;
	bed();
	handshake();
	char a[101], b[101];
	memset(a, 'A', 100);
	memset(b, 'B', 100);
	a[100] = b[100] = 0;
	seg(C, 1001, 5001, PA, "abc");
	seg(C, 1104, 5001, PA, a);             /* hole of 100, buffered */
	assert_int_equal(R.f[0].n[0], 3);
	seg(C, 1204, 5001, PA, b);             /* over the cap: skip the hole */
	assert_int_equal(S.st.gaps, 1);
	assert_int_equal(S.st.gap_bytes, 100);
	assert_int_equal(R.f[0].n[0], 303);
	assert_memory_equal(R.f[0].buf[0], "abc", 3);
	for (int i = 3; i < 103; i++)
		assert_int_equal(R.f[0].buf[0][i], '?');
	assert_memory_equal(R.f[0].buf[0] + 103, a, 100);
	assert_memory_equal(R.f[0].buf[0] + 203, b, 100);
	/* nothing buffered any more: a late copy of the hole is old */
	seg(C, 1004, 5001, PA, "late");
	assert_int_equal(R.f[0].n[0], 303);
	assert_int_equal(S.st.retransmits, 1);
	final_checks();
}

static void test_gap_by_segment_count_cap(void **state)
{
	(void)state;
	bed();
	handshake();
	/* 1-byte segments with 1-byte holes: the count cap triggers */
	for (unsigned i = 0; i <= PG_FLOW_MAX_SEGS; i++)
		seg(C, 1001 + 1 + 2 * i, 5001, PA, "x");
	assert_int_equal(S.st.gaps, 1);
	assert_int_equal(R.f[0].n[0], 2);      /* "?x" */
	final_checks();
	/* at close every remaining hole became a 1-byte gap */
	assert_int_equal(S.st.gaps, PG_FLOW_MAX_SEGS + 1);
	assert_int_equal(R.f[0].n[0], 2 * (PG_FLOW_MAX_SEGS + 1));
}

static void test_snaplen_missing(void **state)
{
	(void)state;
	bed();
	handshake();
	seg_full(C, 40000, 102, 1001, 5001, PA, "abc", 3, 5);
	seg(C, 1009, 5001, PA, "def");
	assert_stream(&R.f[0], 0, "abc?????def");
	assert_int_equal(S.st.gaps, 1);
	const struct rev *e = find_event("tcp.gap");
	assert_non_null(e);
	assert_int_equal(e->bytes, 5);
	assert_int_equal(e->offset, 3);
	/* a retransmission of the whole segment changes nothing */
	seg(C, 1001, 5001, PA, "abcdefgh");
	assert_stream(&R.f[0], 0, "abc?????def");
	final_checks();
}

static void test_midstream_by_port(void **state)
{
	(void)state;
	bed();
	/* the PLC's reply is the first thing seen */
	seg(S_, 7000, 3000, PA, "resp");
	seg(C, 3000, 7004, PA, "req");
	assert_int_equal(R.nf, 1);
	const struct rflow *f = &R.f[0];
	assert_int_equal(f->fi.midstream, 1);
	assert_int_equal(f->fi.cli.port, 40000);
	assert_int_equal(f->fi.srv.port, 102);
	assert_stream(f, PG_DIR_S2C, "resp");
	assert_stream(f, PG_DIR_C2S, "req");
	assert_int_equal(S.st.flows_midstream, 1);

	/* Modbus port: the other application */
	seg_full(C, 40001, 502, 1, 1, PA, "mb", 2, 0);
	assert_int_equal(R.nf, 2);
	assert_string_equal(R.f[1].app, "modbus");
	assert_int_equal(R.f[1].fi.srv.port, 502);
	assert_stream(&R.f[1], PG_DIR_C2S, "mb");

	/* other ports are counted, not tracked; pure ACKs create nothing */
	seg_full(C, 40002, 80, 1, 1, PA, "GET", 3, 0);
	seg_full(C, 40003, 102, 1, 1, A, NULL, 0, 0);
	assert_int_equal(R.nf, 2);
	assert_int_equal(S.st.other_ports, 1);
	assert_int_equal(flowtab_count(FT), 2);
	final_checks();
}

static void test_syn_orientation(void **state)
{
	(void)state;
	bed();
	/* the side on port 102 opens the connection: it is the client */
	seg(S_, 9000, 0, ND_SYN, NULL);
	assert_int_equal(R.nf, 1);
	assert_int_equal(R.f[0].fi.cli.port, 102);
	assert_int_equal(R.f[0].fi.srv.port, 40000);
	assert_int_equal(R.f[0].fi.midstream, 0);
	/* SYN+ACK first seen: its receiver is the client */
	seg_full(0, 40005, 102, 7000, 2001, ND_SYN | ND_ACK, NULL, 0, 0);
	assert_int_equal(R.nf, 2);
	assert_int_equal(R.f[1].fi.cli.port, 40005);
	assert_int_equal(R.f[1].fi.srv.port, 102);
	assert_int_equal(R.f[1].fi.midstream, 0);
	/* the client's next seq came from the SYN+ACK's ack */
	seg_full(1, 40005, 102, 2001, 7001, PA, "q", 1, 0);
	seg_full(1, 40005, 102, 2000, 7001, PA, "Xq", 2, 0);   /* before ISN+1 */
	assert_stream(&R.f[1], PG_DIR_C2S, "q");
	assert_int_equal(S.st.flows_midstream, 0);
	final_checks();
}

static void test_seq_wraparound(void **state)
{
	(void)state;
	bed();
	seg(C, 0xFFFFFFF0u, 0, ND_SYN, NULL);
	seg(S_, 5000, 0xFFFFFFF1u, ND_SYN | ND_ACK, NULL);
	/* 15 bytes up to the wrap, then 10 after it, sent reversed */
	seg(C, 0x00000000u, 5001, PA, "0123456789");
	seg(C, 0xFFFFFFF1u, 5001, PA, "abcdefghijklmno");
	assert_stream(&R.f[0], 0, "abcdefghijklmno0123456789");
	/* a retransmission across the wrap is recognised as old */
	seg(C, 0xFFFFFFFEu, 5001, PA, "no01");
	assert_int_equal(S.st.retransmits, 1);
	assert_int_equal(S.st.overlap_conflicts, 0);
	seg(C, 0x0000000Au, 5001, PA, "!");
	assert_stream(&R.f[0], 0, "abcdefghijklmno0123456789!");
	assert_int_equal(S.st.gaps, 0);
	final_checks();
}

static void test_idle_timeout(void **state)
{
	(void)state;
	S.cfg.idle_timeout_s = 10;
	bed();
	handshake();
	seg(C, 1001, 5001, PA, "ab");
	seg(C, 1005, 5001, PA, "ef");          /* a hole at 1003 */
	NOW += 5;
	seg_full(C, 40009, 502, 1, 1, PA, "x", 1, 0);   /* another flow */
	assert_int_equal(R.f[0].closes, 0);
	NOW += 7;                              /* flow 1 idle 12 s, flow 2 7 s */
	seg_full(C, 40009, 502, 2, 1, PA, "y", 1, 0);
	assert_int_equal(R.f[0].closes, 1);
	assert_int_equal(R.f[1].closes, 0);
	assert_int_equal(S.st.flows_timed_out, 1);
	assert_stream(&R.f[0], 0, "ab??ef");
	const struct rev *e = find_event("flow.timeout");
	assert_non_null(e);
	assert_int_equal(e->sev, PG_SEV_INFO);
	assert_int_equal(e->flow, 1);
	assert_int_equal(flowtab_count(FT), 1);
	final_checks();
	assert_int_equal(S.st.flows_timed_out, 1);  /* end of input is not idle */
}

static void test_max_flows_eviction(void **state)
{
	(void)state;
	S.cfg.max_flows = 2;
	bed();
	for (uint16_t p = 0; p < 3; p++) {
		seg_full(C, (uint16_t)(41000 + p), 102, 1, 1, PA, "z", 1, 0);
		NOW++;
	}
	assert_int_equal(R.nf, 3);
	assert_int_equal(R.f[0].closes, 1);      /* the least recently used */
	assert_int_equal(R.f[1].closes, 0);
	assert_int_equal(S.st.flows_evicted, 1);
	const struct rev *e = find_event("flow.evicted");
	assert_non_null(e);
	assert_int_equal(e->sev, PG_SEV_WARNING);
	assert_int_equal(e->flow, 1);
	/* touching flow 2 makes flow 3 the oldest */
	seg_full(C, 41001, 102, 2, 1, PA, "z", 1, 0);
	seg_full(C, 41003, 102, 1, 1, PA, "z", 1, 0);
	assert_int_equal(R.f[1].closes, 0);
	assert_int_equal(R.f[2].closes, 1);
	assert_int_equal(flowtab_count(FT), 2);
	final_checks();
}

static void test_close_all_flush(void **state)
{
	(void)state;
	bed();
	handshake();
	seg(C, 1001, 5001, PA, "ab");
	seg(C, 1006, 5001, PA, "fg");
	seg(C, 1010, 5001, PA, "jk");
	seg(S_, 5003, 1001, PA, "zz");         /* server hole of 2 */
	assert_stream(&R.f[0], 0, "ab");
	assert_stream(&R.f[0], 1, "");
	struct pg_pktinfo pi = { { NOW, 0 }, 99 };
	flowtab_close_all(FT, &pi);
	assert_stream(&R.f[0], 0, "ab???fg??jk");
	assert_stream(&R.f[0], 1, "??zz");
	assert_int_equal(R.f[0].closes, 1);
	assert_int_equal(S.st.gaps, 3);
	assert_int_equal(count_events("tcp.gap"), 3);
	assert_int_equal(flowtab_count(FT), 0);
	flowtab_free(FT);
	FT = NULL;
	assert_int_equal(S.mem_used, 0);
}

static void test_rst(void **state)
{
	(void)state;
	bed();
	handshake();
	seg(C, 1001, 5001, PA, "abc");
	seg(S_, 5001 + (3u << 20), 1004, ND_RST, NULL);  /* far outside: ignored */
	assert_int_equal(R.f[0].closes, 0);
	seg(S_, 5001, 1004, ND_RST | A, NULL);
	assert_int_equal(R.f[0].closes, 1);
	struct flowtab_counts k;
	flowtab_get_counts(FT, &k);
	assert_int_equal(k.rst_ignored, 1);
	assert_int_equal(k.closed_rst, 1);
	/* a new SYN on the same tuple starts a new flow */
	seg(C, 77000, 0, ND_SYN, NULL);
	assert_int_equal(R.nf, 2);
	assert_int_equal(R.f[1].fi.id, 2);
	seg(S_, 1, 77001, ND_SYN | ND_ACK, NULL);
	seg(C, 77001, 2, PA, "new");
	assert_stream(&R.f[1], 0, "new");
	/* and a SYN with another ISN on a live flow replaces it too */
	seg(C, 88000, 0, ND_SYN, NULL);
	assert_int_equal(R.nf, 3);
	assert_int_equal(R.f[1].closes, 1);
	/* a retransmitted SYN (same ISN) does not */
	seg(C, 88000, 0, ND_SYN, NULL);
	assert_int_equal(R.nf, 3);
	final_checks();
}

static void test_ipv6_flow(void **state)
{
	(void)state;
	bed();
	struct nd_tcp t;
	memset(&t, 0, sizeof t);
	t.af = 6;
	t.src[0] = 0xfd;
	t.src[15] = 1;
	t.dst[0] = 0xfd;
	t.dst[15] = 2;
	t.sport = 40000;
	t.dport = 502;
	t.seq = 10;
	t.flags = PA;
	t.payload = (const uint8_t *)"six";
	t.len = 3;
	struct pg_pktinfo pi = { { NOW, 0 }, 1 };
	flowtab_packet(FT, &t, &pi);
	assert_int_equal(R.nf, 1);
	assert_string_equal(R.f[0].fi.cli.addr, "fd00::1");
	assert_string_equal(R.f[0].fi.srv.addr, "fd00::2");
	assert_int_equal(R.f[0].fi.af, 6);
	assert_stream(&R.f[0], 0, "six");
	final_checks();
}

/* The window ring: a conflicting retransmission far back is still seen,
 * one beyond the window is only counted. */
static void test_window_limits(void **state)
{
	(void)state;
	bed();
	handshake();
	static char big[PG_FLOW_WIN_MAX + 1];
	uint32_t seq = 1001;
	for (int i = 0; i < 3; i++) {
		memset(big, 'a' + i, 1000);
		big[1000] = 0;
		seg(C, seq, 5001, PA, big);
		seq += 1000;
	}
	seg(C, 1001, 5001, PA, "X");          /* 3000 bytes back: compared */
	assert_int_equal(S.st.overlap_conflicts, 1);
	memset(big, 'z', PG_FLOW_WIN_MAX);
	big[PG_FLOW_WIN_MAX] = 0;
	seg(C, seq, 5001, PA, big);
	seq += PG_FLOW_WIN_MAX;
	seg(C, 1001, 5001, PA, "X");          /* beyond the window */
	assert_int_equal(S.st.overlap_conflicts, 1);
	assert_int_equal(S.st.retransmits, 2);
	seg(C, seq - 2, 5001, PA, "zz");      /* newest bytes, same */
	seg(C, seq - 2, 5001, PA, "zy");      /* newest bytes, differ */
	assert_int_equal(S.st.overlap_conflicts, 2);
	assert_int_equal(R.f[0].tot[0], 3000 + PG_FLOW_WIN_MAX);
	final_checks();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_in_order),
		T(test_out_of_order_reversed),
		T(test_retransmission),
		T(test_keepalive),
		T(test_overlap_same),
		T(test_overlap_conflict_delivered),
		T(test_overlap_conflict_buffered),
		T(test_gap_by_ack),
		T(test_gap_by_ack_at_close),
		T(test_causal_order),
		T(test_causal_span_reorder),
		T(test_gap_by_ooo_cap),
		T(test_gap_by_segment_count_cap),
		T(test_snaplen_missing),
		T(test_midstream_by_port),
		T(test_syn_orientation),
		T(test_seq_wraparound),
		T(test_idle_timeout),
		T(test_max_flows_eviction),
		T(test_close_all_flush),
		T(test_rst),
		T(test_ipv6_flow),
		T(test_window_limits),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
