/*
 * test_s7sess.c - the S7 session application (collectors/s7sess.c) driven
 * through pg_s7_app.open/data/gap/close with a recording sink.
 *
 * Sessions are built here from PROTOCOLS.md layouts (the same bytes as the
 * corpus download, see test_s7comm.c) around a real sample block
 * (samples/projects/s7_blocks/FB20.mc7, $PG_SRC).  The last test replays the
 * real download capture from $PG_CORPUS with a minimal in-order TCP
 * reassembly and compares the PDU trace with tshark's view of it (golden
 * table below, from tshark 4.0 -T fields -E occurrence=a).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "cursor.h"
#include "digest.h"
#include "sniff.h"

/* the event bus the code under test publishes on (rules/bus.h) */
static struct pg_bus test_bus;

/* ---- recording sink ---- */

struct rev {
	const char *kind, *verdict;
	enum pg_sev sev;
	char object[64];
	int64_t size;
	int has_sha, has_fp;
	uint8_t sha[32];
	json_t *fields;
	size_t payload_len;
	uint8_t payload_sha[32];
	uint64_t frame;
	char text[512];
};

#define REC_MAX 4096
static struct rev g_ev[REC_MAX];
static size_t g_n;

static void rec_emit(void *arg, struct pg_event *ev)
{
	(void)arg;
	assert_true(g_n < REC_MAX);
	struct rev *r = &g_ev[g_n++];
	memset(r, 0, sizeof *r);
	r->kind = pg_kind_name(ev->kind);
	r->verdict = pg_verdict_name(ev->verdict);
	r->sev = ev->sev;
	memcpy(r->object, ev->object, sizeof r->object);
	r->size = ev->size;
	r->has_sha = ev->has_sha256;
	memcpy(r->sha, ev->sha256, 32);
	r->has_fp = ev->has_fp;
	if (ev->fields)
		r->fields = json_incref(ev->fields);
	r->payload_len = ev->payload_len;
	if (ev->payload)
		pg_sha256(ev->payload, ev->payload_len, r->payload_sha);
	r->frame = ev->frame;
	memcpy(r->text, ev->text, sizeof r->text);
}

static void rec_reset(void)
{
	for (size_t i = 0; i < g_n; i++)
		if (g_ev[i].fields)
			json_decref(g_ev[i].fields);
	g_n = 0;
}

static size_t rec_count(const char *kind)
{
	size_t k = 0;
	for (size_t i = 0; i < g_n; i++)
		if (!strcmp(g_ev[i].kind, kind))
			k++;
	return k;
}

static const struct rev *rec_find(const char *kind)
{
	for (size_t i = 0; i < g_n; i++)
		if (!strcmp(g_ev[i].kind, kind))
			return &g_ev[i];
	return NULL;
}

static long long f_int(const struct rev *r, const char *key)
{
	json_t *v = r->fields ? json_object_get(r->fields, key) : NULL;
	assert_non_null(v);
	return json_integer_value(v);
}

static const char *f_str(const struct rev *r, const char *key)
{
	json_t *v = r->fields ? json_object_get(r->fields, key) : NULL;
	assert_non_null(v);
	return json_string_value(v);
}

static int f_bool(const struct rev *r, const char *key)
{
	json_t *v = r->fields ? json_object_get(r->fields, key) : NULL;
	assert_non_null(v);
	assert_true(json_is_boolean(v));
	return json_is_true(v);
}

static int f_has(const struct rev *r, const char *key)
{
	return r->fields && json_object_get(r->fields, key) != NULL;
}

/* ---- a flow driven by hand ---- */

struct feed {
	struct pg_sniff s;
	struct pg_flowinfo fi;
	void *app;
	size_t chunk;     /* bytes per data() call */
	int nfrag;        /* COTP DT fragments per PDU */
	int empty_dt;     /* send an empty DT (EOT 0) before each PDU */
	uint64_t frame;
};

static void feed_open(struct feed *f, size_t chunk, int nfrag, int trace)
{
	rec_reset();
	memset(f, 0, sizeof *f);
	pg_sniff_init(&f->s);
	pg_bus_init(&test_bus);
	pg_bus_subscribe(&test_bus, rec_emit, NULL);
	f->s.bus = &test_bus;
	f->s.cfg.pdu_trace = trace;
	f->fi.id = 1;
	f->fi.af = 4;
	snprintf(f->fi.cli.addr, sizeof f->fi.cli.addr, "10.0.0.5");
	f->fi.cli.port = 4185;
	snprintf(f->fi.srv.addr, sizeof f->fi.srv.addr, "10.0.0.40");
	f->fi.srv.port = 102;
	f->chunk = chunk;
	f->nfrag = nfrag;
	f->empty_dt = 1;
	f->app = pg_s7_app.open(&f->s, &f->fi);
	assert_non_null(f->app);
}

static void feed_close(struct feed *f)
{
	struct pg_pktinfo pi = { { 0, 0 }, ++f->frame };
	pg_s7_app.close(f->app, &pi);
	assert_int_equal(f->s.mem_used, 0);
}

static void send_raw(struct feed *f, int dir, const uint8_t *p, size_t n)
{
	struct pg_pktinfo pi = { { 1408528800, 0 }, ++f->frame };
	size_t o = 0;
	while (o < n) {
		size_t k = n - o < f->chunk ? n - o : f->chunk;
		/* exact-size copy so ASan sees any read past the chunk */
		uint8_t *b = malloc(k);
		assert_non_null(b);
		memcpy(b, p + o, k);
		pg_s7_app.data(f->app, dir, b, k, &pi);
		free(b);
		o += k;
	}
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Wrap one PDU in (empty DT +) nfrag DT TPDUs, all in one byte string. */
static void send_pdu(struct feed *f, int dir, const uint8_t *pdu, size_t n)
{
	uint8_t *out = malloc(n + 7 * (size_t)(f->nfrag + 1) + 16);
	assert_non_null(out);
	size_t o = 0;
	if (f->empty_dt) {
		const uint8_t e[] = { 3, 0, 0, 7, 2, 0xF0, 0x00 };
		memcpy(out, e, 7);
		o = 7;
	}
	size_t per = (n + (size_t)f->nfrag - 1) / (size_t)f->nfrag;
	if (per == 0)
		per = 1;
	size_t done = 0;
	do {
		size_t k = n - done < per ? n - done : per;
		int last = done + k >= n;
		out[o] = 3;
		out[o + 1] = 0;
		put16(out + o + 2, (unsigned)(7 + k));
		out[o + 4] = 2;
		out[o + 5] = 0xF0;
		out[o + 6] = last ? 0x80 : 0x00;
		memcpy(out + o + 7, pdu + done, k);
		o += 7 + k;
		done += k;
	} while (done < n);
	send_raw(f, dir, out, o);
	free(out);
}

/* S7 PDU: header (+ error for ROSCTR 2/3), parameter, data. */
static void send_s7(struct feed *f, int dir, uint8_t rosctr, uint16_t ref,
		    const uint8_t *par, size_t pl, const uint8_t *dat, size_t dl,
		    uint16_t err)
{
	uint8_t *b = malloc(12 + pl + dl);
	assert_non_null(b);
	size_t o = 0;
	b[o++] = 0x32;
	b[o++] = rosctr;
	put16(b + o, 0);
	o += 2;
	put16(b + o, ref);
	o += 2;
	put16(b + o, (unsigned)pl);
	o += 2;
	put16(b + o, (unsigned)dl);
	o += 2;
	if (rosctr == 2 || rosctr == 3) {
		put16(b + o, err);
		o += 2;
	}
	if (pl)
		memcpy(b + o, par, pl);
	o += pl;
	if (dl)
		memcpy(b + o, dat, dl);
	o += dl;
	send_pdu(f, dir, b, o);
	free(b);
}

#define C2S 0
#define S2C 1

static void send_connect(struct feed *f)
{
	const uint8_t cr[] = { 0x03, 0x00, 0x00, 0x16, 0x11, 0xE0, 0x00, 0x00, 0x00,
			       0x01, 0x00, 0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
			       0xC2, 0x02, 0x01, 0x23 };
	const uint8_t cc[] = { 0x03, 0x00, 0x00, 0x16, 0x11, 0xD0, 0x00, 0x01, 0x00,
			       0x01, 0x00, 0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
			       0xC2, 0x02, 0x01, 0x23 };
	send_raw(f, C2S, cr, sizeof cr);
	send_raw(f, S2C, cc, sizeof cc);
	const uint8_t setup[] = { 0xF0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xE0 };
	send_s7(f, C2S, 1, 0x0200, setup, sizeof setup, NULL, 0, 0);
	const uint8_t setup_r[] = { 0xF0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0xF0 };
	send_s7(f, S2C, 3, 0x0200, setup_r, sizeof setup_r, NULL, 0, 0);
}

static const char FN[] = "_0E00020P";   /* FB20, passive filesystem */

static void send_1a(struct feed *f, uint16_t ref, const char *fn, unsigned load,
		    unsigned mc7)
{
	uint8_t p[32] = { 0x1A, 0x00, 0x01, 0, 0, 0, 0, 0, 0x09 };
	memcpy(p + 9, fn, 9);
	p[18] = 0x0D;
	char digits[16];
	snprintf(digits, sizeof digits, "1%06u%06u", load, mc7);
	memcpy(p + 19, digits, 13);
	send_s7(f, C2S, 1, ref, p, sizeof p, NULL, 0, 0);
}

static void send_ack(struct feed *f, int dir, uint8_t func, uint16_t ref, uint16_t err)
{
	send_s7(f, dir, 3, ref, &func, 1, NULL, 0, err);
}

static void send_1b_job(struct feed *f, uint16_t ref, const char *fn)
{
	uint8_t p[18] = { 0x1B, 0x00, 0, 0, 0, 0, 0, 0, 0x09 };
	memcpy(p + 9, fn, 9);
	send_s7(f, S2C, 1, ref, p, sizeof p, NULL, 0, 0);
}

/* Block data reply: 1B (download, from the client) or 1E (upload, from the PLC). */
static void send_slice(struct feed *f, int dir, uint8_t func, uint16_t ref,
		       uint8_t status, const uint8_t *s, size_t n, uint16_t err)
{
	uint8_t p[2] = { func, status };
	uint8_t *d = malloc(4 + n);
	assert_non_null(d);
	put16(d, (unsigned)n);
	d[2] = 0x00;
	d[3] = 0xFB;
	memcpy(d + 4, s, n);
	send_s7(f, dir, 3, ref, p, 2, d, 4 + n, err);
	free(d);
}

static void send_1c(struct feed *f, uint16_t ref, const char *fn, uint16_t err)
{
	uint8_t p[18] = { 0x1C, 0x00, 0, 0, 0, 0, 0, 0, 0x09 };
	put16(p + 2, err);
	memcpy(p + 9, fn, 9);
	send_s7(f, S2C, 1, ref, p, sizeof p, NULL, 0, 0);
}

static void send_pi(struct feed *f, uint16_t ref, const char *svc,
		    const uint8_t *blk, size_t bl)
{
	uint8_t p[128] = { 0x28, 0, 0, 0, 0, 0, 0, 0xFD };
	put16(p + 8, (unsigned)bl);
	if (bl)
		memcpy(p + 10, blk, bl);
	size_t sl = strlen(svc);
	p[10 + bl] = (uint8_t)sl;
	memcpy(p + 11 + bl, svc, sl);
	send_s7(f, C2S, 1, ref, p, 11 + bl + sl, NULL, 0, 0);
}

/* ---- the sample block ---- */

static uint8_t *g_blk;
static size_t g_blk_len;

static int load_block(void **state)
{
	(void)state;
	const char *src = getenv("PG_SRC");
	char path[4096];
	snprintf(path, sizeof path, "%s/samples/projects/s7_blocks/FB20.mc7",
		 src ? src : ".");
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return 0;     /* tests skip */
	g_blk = malloc(1 << 16);
	g_blk_len = fread(g_blk, 1, 1 << 16, fp);
	fclose(fp);
	return 0;
}

static int free_block(void **state)
{
	(void)state;
	free(g_blk);
	rec_reset();
	return 0;
}

static unsigned blk_mc7_len(void)
{
	struct cur c = cur_init(g_blk, g_blk_len);
	cur_skip(&c, 34);
	return cur_u16be(&c);
}

#define NEED_BLOCK() do { if (!g_blk || g_blk_len < 100) skip(); } while (0)

/*
 * A whole download in 3 slices.  announce_delta changes the announced load
 * length; gap_after: gap in the client direction after that slice (-1: none);
 * close_after: stop after that slice and close (-1: run to the end).
 */
static void run_download(struct feed *f, int announce_delta, int gap_after,
			 int close_after)
{
	send_connect(f);
	send_1a(f, 0x0E00, FN, (unsigned)((int)g_blk_len + announce_delta), blk_mc7_len());
	send_ack(f, S2C, 0x1A, 0x0E00, 0);
	size_t cut[4] = { 0, g_blk_len / 3, 2 * g_blk_len / 3, g_blk_len };
	for (int i = 0; i < 3; i++) {
		uint16_t ref = (uint16_t)(0x0100 + 0x200 * i);
		send_1b_job(f, ref, FN);
		send_slice(f, C2S, 0x1B, ref, i < 2 ? 0x01 : 0x00, g_blk + cut[i],
			   cut[i + 1] - cut[i], 0);
		if (i == gap_after) {
			struct pg_pktinfo pi = { { 0, 0 }, ++f->frame };
			pg_s7_app.gap(f->app, C2S, 100, &pi);
		}
		if (i == close_after)
			return;
	}
	send_1c(f, 0x0700, FN, 0);
	send_ack(f, C2S, 0x1C, 0x0700, 0);
	const uint8_t blk[10] = { 0x01, 0x00, '0', 'E', '0', '0', '0', '2', '0', 'P' };
	send_pi(f, 0x0F00, "_INSE", blk, sizeof blk);
	send_ack(f, S2C, 0x28, 0x0F00, 0);
}

static void check_good_download(void)
{
	uint8_t sha[32];
	pg_sha256(g_blk, g_blk_len, sha);
	const struct rev *c = rec_find("cotp.connect");
	assert_non_null(c);
	assert_int_equal(f_int(c, "rack"), 1);
	assert_int_equal(f_int(c, "slot"), 3);
	assert_string_equal(f_str(c, "conn_type"), "PG");
	assert_string_equal(f_str(c, "called_tsap"), "0123");
	const struct rev *s = rec_find("s7.setup");
	assert_non_null(s);
	assert_int_equal(f_int(s, "pdu_size"), 240);
	const struct rev *rq = rec_find("s7.download.request");
	assert_non_null(rq);
	assert_int_equal(f_int(rq, "load_len"), (long long)g_blk_len);
	assert_string_equal(rq->object, "FB20");
	const struct rev *b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_int_equal(rec_count("s7.block.download"), 1);
	assert_null(b->verdict);
	assert_int_equal(b->sev, PG_SEV_NOTICE);
	assert_string_equal(b->object, "FB20");
	assert_int_equal(b->size, (int64_t)g_blk_len);
	assert_true(b->has_sha);
	assert_memory_equal(b->sha, sha, 32);
	assert_true(b->has_fp);
	assert_int_equal(b->payload_len, g_blk_len);
	assert_memory_equal(b->payload_sha, sha, 32);
	assert_string_equal(f_str(b, "block_type"), "FB");
	assert_int_equal(f_int(b, "block_number"), 20);
	assert_string_equal(f_str(b, "filesystem"), "P");
	assert_int_equal(f_int(b, "rack"), 1);
	assert_int_equal(f_int(b, "slot"), 3);
	assert_int_equal(f_int(b, "slices"), 3);
	assert_true(f_has(b, "lang"));
	const struct rev *e = rec_find("s7.download.end");
	assert_non_null(e);
	assert_int_equal(f_int(e, "error_code"), 0);
	const struct rev *a = rec_find("s7.block.activate");
	assert_non_null(a);
	assert_string_equal(a->object, "FB20");
	json_t *ids = json_object_get(a->fields, "blocks");
	assert_int_equal(json_array_size(ids), 1);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "FB20");
	assert_int_equal(rec_count("s7.malformed"), 0);
	assert_int_equal(rec_count("s7.error"), 0);
}

static void test_download_chunked(void **state)
{
	(void)state;
	NEED_BLOCK();
	/* 1 byte per call (TPKT across calls), 7, and everything at once
	 * (several TPKTs per call); 1 and 3 COTP fragments per PDU. */
	const size_t chunks[] = { 1, 7, 100000 };
	for (size_t i = 0; i < 3; i++) {
		for (int frag = 1; frag <= 3; frag += 2) {
			struct feed f;
			feed_open(&f, chunks[i], frag, 1);
			run_download(&f, 0, -1, -1);
			check_good_download();
			/* one trace event per S7 PDU: setup 2, 1A 2, 3 x (1B 2),
			 * 1C 2, PI 2 = 14 */
			assert_int_equal(rec_count("s7.pdu"), 14);
			assert_int_equal(f.s.st.s7_pdus, 14);
			assert_int_equal(f.s.st.tpkt, 2 + 14 * (1 + (uint64_t)frag));
			assert_int_equal(f.s.st.transfers_complete, 1);
			assert_true(f.s.mem_used > 0);
			feed_close(&f);
			assert_int_equal(rec_count("s7.block.download"), 1);
		}
	}
}

static void test_pdu_trace_fields(void **state)
{
	(void)state;
	NEED_BLOCK();
	struct feed f;
	feed_open(&f, 13, 2, 1);
	run_download(&f, 0, -1, -1);
	/* stream order, fields as tshark names them */
	const struct rev *t[14];
	size_t k = 0;
	for (size_t i = 0; i < g_n && k < 14; i++)
		if (!strcmp(g_ev[i].kind, "s7.pdu"))
			t[k++] = &g_ev[i];
	assert_int_equal(k, 14);
	assert_int_equal(f_int(t[0], "rosctr"), 1);
	assert_int_equal(f_int(t[0], "pduref"), 0x0200);
	assert_int_equal(f_int(t[0], "func"), 0xF0);
	assert_false(f_has(t[0], "errcls"));
	assert_string_equal(f_str(t[0], "dir"), "c2s");
	assert_int_equal(f_int(t[1], "errcls"), 0);
	assert_string_equal(f_str(t[1], "dir"), "s2c");
	assert_string_equal(f_str(t[2], "filename"), FN);
	assert_int_equal(f_int(t[4], "func"), 0x1B);
	assert_string_equal(f_str(t[4], "filename"), FN);
	assert_false(f_has(t[5], "filename"));
	assert_string_equal(f_str(t[12], "filename"), "0E00020P");
	/* frame: the packet that completed the PDU */
	assert_true(t[0]->frame < t[1]->frame);
	feed_close(&f);

	/* trace off: no s7.pdu events */
	feed_open(&f, 100000, 1, 0);
	run_download(&f, 0, -1, -1);
	assert_int_equal(rec_count("s7.pdu"), 0);
	assert_int_equal(rec_count("s7.block.download"), 1);
	feed_close(&f);
}

static void test_download_gap(void **state)
{
	(void)state;
	NEED_BLOCK();
	struct feed f;
	/* A gap between PDUs loses no slice: every slice the PLC asked for was
	 * answered and the lengths add up, so the block is complete; the event
	 * counts the gap. */
	feed_open(&f, 50, 1, 0);
	run_download(&f, 0, 0, -1);
	const struct rev *b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_int_equal(rec_count("s7.block.download"), 1);
	assert_null(b->verdict);
	assert_true(b->has_sha);
	assert_true(b->has_fp);
	assert_int_equal(b->payload_len, g_blk_len);
	assert_int_equal(f_int(b, "gaps"), 1);
	assert_int_equal(f_int(b, "slices_requested"), 3);
	/* the gap made the stream resync quietly; later PDUs still parse */
	assert_non_null(rec_find("s7.block.activate"));
	assert_int_equal(f.s.st.transfers_complete, 1);
	feed_close(&f);

	/* The middle slice lost in the gap: its request has no reply. */
	feed_open(&f, 50, 1, 0);
	send_connect(&f);
	send_1a(&f, 0x0E00, FN, (unsigned)g_blk_len, blk_mc7_len());
	send_ack(&f, S2C, 0x1A, 0x0E00, 0);
	size_t third = g_blk_len / 3;
	send_1b_job(&f, 0x0100, FN);
	send_slice(&f, C2S, 0x1B, 0x0100, 0x01, g_blk, third, 0);
	send_1b_job(&f, 0x0300, FN);
	struct pg_pktinfo gpi = { { 0, 0 }, ++f.frame };
	pg_s7_app.gap(f.app, C2S, third + 40, &gpi);
	send_1b_job(&f, 0x0500, FN);
	send_slice(&f, C2S, 0x1B, 0x0500, 0x00, g_blk + 2 * third, g_blk_len - 2 * third, 0);
	send_1c(&f, 0x0700, FN, 0);
	b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_string_equal(b->verdict, "incomplete");
	assert_string_equal(f_str(b, "reason"), "missing_slices");
	assert_int_equal(f_int(b, "slices_missing"), 1);
	assert_false(b->has_sha);
	assert_false(b->has_fp);
	assert_int_equal(b->payload_len, 0);
	assert_non_null(strstr(b->text, "not seen"));
	assert_int_equal(f.s.st.transfers_incomplete, 1);
	feed_close(&f);

	/* Request and reply both lost: the lengths do not add up after the
	 * gap, so INCOMPLETE (not INVALID, and never a hash). */
	feed_open(&f, 50, 1, 0);
	send_connect(&f);
	send_1a(&f, 0x0E00, FN, (unsigned)g_blk_len, blk_mc7_len());
	send_1b_job(&f, 0x0100, FN);
	send_slice(&f, C2S, 0x1B, 0x0100, 0x01, g_blk, third, 0);
	pg_s7_app.gap(f.app, C2S, third + 40, &gpi);
	pg_s7_app.gap(f.app, S2C, 30, &gpi);
	send_1b_job(&f, 0x0500, FN);
	send_slice(&f, C2S, 0x1B, 0x0500, 0x00, g_blk + 2 * third, g_blk_len - 2 * third, 0);
	send_1c(&f, 0x0700, FN, 0);
	b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_string_equal(b->verdict, "incomplete");
	assert_string_equal(f_str(b, "reason"), "gap_crossed");
	assert_false(b->has_sha);
	feed_close(&f);
}

static void test_download_length_mismatch(void **state)
{
	(void)state;
	NEED_BLOCK();
	struct feed f;
	feed_open(&f, 100000, 1, 0);
	run_download(&f, 1, -1, -1);
	const struct rev *b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_string_equal(b->verdict, "invalid");
	assert_true(b->has_sha);            /* kept for forensics */
	assert_int_equal(b->payload_len, g_blk_len);
	assert_false(b->has_fp);
	assert_non_null(strstr(b->text, "announced"));
	feed_close(&f);

	/* announced MC7 length disagrees with the block header */
	feed_open(&f, 100000, 1, 0);
	send_1a(&f, 0x0E00, FN, (unsigned)g_blk_len, blk_mc7_len() + 2);
	send_1b_job(&f, 0x0100, FN);
	send_slice(&f, C2S, 0x1B, 0x0100, 0, g_blk, g_blk_len, 0);
	send_1c(&f, 0x0700, FN, 0);
	b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_string_equal(b->verdict, "invalid");
	assert_non_null(strstr(b->text, "MC7 code length"));
	feed_close(&f);

	/* bytes that are not an MC7 block */
	feed_open(&f, 100000, 1, 0);
	uint8_t junk[64];
	memset(junk, 0x41, sizeof junk);
	send_1a(&f, 0x0E00, FN, sizeof junk, 0);
	send_1b_job(&f, 0x0100, FN);
	send_slice(&f, C2S, 0x1B, 0x0100, 0, junk, sizeof junk, 0);
	send_1c(&f, 0x0700, FN, 0);
	b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_string_equal(b->verdict, "invalid");
	assert_non_null(strstr(b->text, "MC7"));
	feed_close(&f);
}

static void test_close_in_progress(void **state)
{
	(void)state;
	NEED_BLOCK();
	struct feed f;
	feed_open(&f, 100000, 1, 0);
	run_download(&f, 0, -1, 1);
	assert_int_equal(rec_count("s7.block.download"), 0);
	feed_close(&f);
	const struct rev *b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_string_equal(b->verdict, "incomplete");
	assert_false(b->has_sha);
	assert_non_null(strstr(b->text, "closed"));
	assert_string_equal(b->object, "FB20");
}

static void test_orphan_slice(void **state)
{
	(void)state;
	NEED_BLOCK();
	struct feed f;
	feed_open(&f, 100000, 1, 0);
	/* capture starts with the last slice of some download */
	send_slice(&f, C2S, 0x1B, 0x0500, 0x00, g_blk, 40, 0);
	/* its Job 1C names it; the bytes are not a whole block */
	send_1c(&f, 0x0700, FN, 0);
	const struct rev *b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_string_equal(b->verdict, "incomplete");
	assert_non_null(strstr(b->text, "middle"));
	assert_string_equal(b->object, "FB20");
	assert_false(b->has_sha);
	feed_close(&f);

	/* a 1B job seen without its Request Download, no gap on the flow:
	 * every byte was seen and the block's own header accounts for them */
	feed_open(&f, 100000, 1, 0);
	send_1b_job(&f, 0x0700, FN);
	send_slice(&f, C2S, 0x1B, 0x0700, 0x00, g_blk, g_blk_len, 0);
	send_1c(&f, 0x0900, FN, 0);
	assert_int_equal(rec_count("s7.block.download"), 1);
	b = rec_find("s7.block.download");
	assert_null(b->verdict);
	assert_true(b->has_sha);
	assert_false(f_bool(b, "announced"));
	assert_string_equal(b->object, "FB20");
	feed_close(&f);

	/* the same after a gap, with only part of the block: INCOMPLETE */
	feed_open(&f, 100000, 1, 0);
	struct pg_pktinfo gpi = { { 0, 0 }, ++f.frame };
	pg_s7_app.gap(f.app, C2S, 500, &gpi);
	send_1b_job(&f, 0x0700, FN);
	send_slice(&f, C2S, 0x1B, 0x0700, 0x00, g_blk + 40, g_blk_len - 40, 0);
	send_1c(&f, 0x0900, FN, 0);
	b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_string_equal(b->verdict, "incomplete");
	assert_false(b->has_sha);
	feed_close(&f);
}

static void test_slice_error(void **state)
{
	(void)state;
	NEED_BLOCK();
	struct feed f;
	feed_open(&f, 100000, 1, 0);
	send_1a(&f, 0x0E00, FN, (unsigned)g_blk_len, blk_mc7_len());
	send_1b_job(&f, 0x0100, FN);
	send_slice(&f, C2S, 0x1B, 0x0100, 0x03, g_blk, g_blk_len, 0xD235);
	const struct rev *e = rec_find("s7.error");
	assert_non_null(e);
	assert_int_equal(f_int(e, "errcls"), 0xD2);
	assert_non_null(strstr(e->text, "checksum"));
	send_1c(&f, 0x0700, FN, 0);
	const struct rev *b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_string_equal(b->verdict, "invalid");
	feed_close(&f);
}

static void test_upload(void **state)
{
	(void)state;
	NEED_BLOCK();
	struct feed f;
	feed_open(&f, 5, 2, 1);
	send_connect(&f);
	uint8_t j1d[18] = { 0x1D, 0x00, 0, 0, 0, 0, 0, 0, 0x09 };
	memcpy(j1d + 9, "_0E00020A", 9);
	send_s7(&f, C2S, 1, 0x0300, j1d, sizeof j1d, NULL, 0, 0);
	char tl[8];
	snprintf(tl, sizeof tl, "%07u", (unsigned)g_blk_len);
	uint8_t a1d[16] = { 0x1D, 0x00, 0x01, 0x00, 0, 0, 0, 9, 7 };
	memcpy(a1d + 9, tl, 7);
	send_s7(&f, S2C, 3, 0x0300, a1d, sizeof a1d, NULL, 0, 0);
	const struct rev *st = rec_find("s7.upload.start");
	assert_non_null(st);
	assert_int_equal(f_int(st, "upload_id"), 9);
	assert_int_equal(f_int(st, "total_len"), (long long)g_blk_len);
	assert_string_equal(st->object, "FB20");
	size_t half = g_blk_len / 2;
	const uint8_t j1e[8] = { 0x1E, 0x00, 0, 0, 0, 0, 0, 9 };
	send_s7(&f, C2S, 1, 0x0400, j1e, sizeof j1e, NULL, 0, 0);
	send_slice(&f, S2C, 0x1E, 0x0400, 0x01, g_blk, half, 0);
	send_s7(&f, C2S, 1, 0x0500, j1e, sizeof j1e, NULL, 0, 0);
	send_slice(&f, S2C, 0x1E, 0x0500, 0x00, g_blk + half, g_blk_len - half, 0);
	const struct rev *b = rec_find("s7.block.upload");
	assert_non_null(b);
	assert_null(b->verdict);
	assert_true(b->has_sha);
	assert_true(b->has_fp);
	assert_string_equal(b->object, "FB20");
	assert_int_equal(b->payload_len, g_blk_len);
	const uint8_t j1f[8] = { 0x1F, 0x00, 0, 0, 0, 0, 0, 9 };
	send_s7(&f, C2S, 1, 0x0600, j1f, sizeof j1f, NULL, 0, 0);
	const struct rev *e = rec_find("s7.upload.end");
	assert_non_null(e);
	assert_int_equal(f_int(e, "upload_id"), 9);
	assert_int_equal(rec_count("s7.block.upload"), 1);
	feed_close(&f);

	/* upload cut short: close -> incomplete */
	feed_open(&f, 100000, 1, 0);
	send_s7(&f, C2S, 1, 0x0300, j1d, sizeof j1d, NULL, 0, 0);
	send_s7(&f, S2C, 3, 0x0300, a1d, sizeof a1d, NULL, 0, 0);
	send_s7(&f, C2S, 1, 0x0400, j1e, sizeof j1e, NULL, 0, 0);
	send_slice(&f, S2C, 0x1E, 0x0400, 0x01, g_blk, half, 0);
	feed_close(&f);
	b = rec_find("s7.block.upload");
	assert_non_null(b);
	assert_string_equal(b->verdict, "incomplete");
}

static void test_pi_and_stop(void **state)
{
	(void)state;
	struct feed f;
	feed_open(&f, 3, 1, 0);
	const uint8_t two[18] = { 0x02, 0x00, '0', 'C', '0', '0', '0', '1', '0', 'P',
				  '0', '8', '0', '0', '0', '0', '1', 'A' };
	send_pi(&f, 0x0100, "_DELE", two, sizeof two);
	const struct rev *d = rec_find("s7.block.delete");
	assert_non_null(d);
	assert_int_equal(d->sev, PG_SEV_WARNING);
	json_t *ids = json_object_get(d->fields, "blocks");
	assert_int_equal(json_array_size(ids), 2);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "FC10");
	assert_string_equal(json_string_value(json_array_get(ids, 1)), "OB1");
	json_t *fss = json_object_get(d->fields, "filesystems");
	assert_string_equal(json_string_value(json_array_get(fss, 1)), "A");

	send_pi(&f, 0x0200, "P_PROGRAM", NULL, 0);
	const struct rev *s = rec_find("s7.plc.start");
	assert_non_null(s);
	assert_int_equal(s->sev, PG_SEV_NOTICE);
	assert_string_equal(f_str(s, "start"), "warm");
	send_pi(&f, 0x0300, "P_PROGRAM", (const uint8_t *)"C ", 2);
	assert_string_equal(f_str(&g_ev[g_n - 1], "start"), "cold");
	send_pi(&f, 0x0400, "_GARB", NULL, 0);
	const struct rev *p = rec_find("s7.pi");
	assert_non_null(p);
	assert_string_equal(f_str(p, "service"), "_GARB");

	const uint8_t stop[16] = { 0x29, 0, 0, 0, 0, 0, 9, 'P', '_', 'P', 'R', 'O',
				   'G', 'R', 'A', 'M' };
	send_s7(&f, C2S, 1, 0x0500, stop, sizeof stop, NULL, 0, 0);
	const struct rev *x = rec_find("s7.plc.stop");
	assert_non_null(x);
	assert_int_equal(x->sev, PG_SEV_ALERT);
	assert_int_equal(rec_count("s7.malformed"), 0);
	feed_close(&f);
}

static void test_error_ack(void **state)
{
	(void)state;
	struct feed f;
	feed_open(&f, 100000, 1, 0);
	send_1a(&f, 0x0E00, FN, 100, 20);
	send_ack(&f, S2C, 0x1A, 0x0E00, 0xD237);
	const struct rev *e = rec_find("s7.error");
	assert_non_null(e);
	assert_int_equal(e->sev, PG_SEV_WARNING);
	assert_int_equal(f_int(e, "errcls"), 0xD2);
	assert_int_equal(f_int(e, "errcod"), 0x37);
	assert_int_equal(f_int(e, "func"), 0x1A);
	assert_int_equal(f_int(e, "pduref"), 0x0E00);
	assert_non_null(strstr(e->text, "D237"));
	assert_non_null(strstr(e->text, "timestamp"));
	/* the refused transfer does not linger to close() */
	feed_close(&f);
	assert_int_equal(rec_count("s7.block.download"), 0);

	/* ROSCTR 2 Ack with an error, function taken from the paired job */
	feed_open(&f, 100000, 1, 0);
	uint8_t j1d[18] = { 0x1D, 0x00, 0, 0, 0, 0, 0, 0, 0x09 };
	memcpy(j1d + 9, "_0B00000A", 9);
	send_s7(&f, C2S, 1, 0x0600, j1d, sizeof j1d, NULL, 0, 0);
	send_s7(&f, S2C, 2, 0x0600, NULL, 0, NULL, 0, 0xD241);
	e = rec_find("s7.error");
	assert_non_null(e);
	assert_int_equal(f_int(e, "func"), 0x1D);
	assert_non_null(strstr(e->text, "protection"));
	feed_close(&f);
}

static void test_resync(void **state)
{
	(void)state;
	struct feed f;
	feed_open(&f, 100000, 1, 1);
	uint8_t garbage[300];
	for (size_t i = 0; i < sizeof garbage; i++)
		garbage[i] = (uint8_t)(i * 37 + 11);
	garbage[0] = 0x05;        /* not a TPKT version */
	send_raw(&f, C2S, garbage, sizeof garbage);
	const uint8_t setup[] = { 0xF0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xE0 };
	send_s7(&f, C2S, 1, 0x0200, setup, sizeof setup, NULL, 0, 0);
	assert_int_equal(f.s.st.resyncs, 1);
	assert_int_equal(rec_count("s7.malformed"), 1);
	const struct rev *m = rec_find("s7.malformed");
	assert_int_equal(f_int(m, "stream_offset"), 0);
	assert_non_null(strstr(f_str(m, "reason"), "tpkt.version"));
	assert_int_equal(rec_count("s7.pdu"), 1);
	/* byte by byte gives the same single episode */
	feed_close(&f);
	feed_open(&f, 1, 1, 1);
	send_raw(&f, C2S, garbage, sizeof garbage);
	send_s7(&f, C2S, 1, 0x0200, setup, sizeof setup, NULL, 0, 0);
	assert_int_equal(f.s.st.resyncs, 1);
	assert_int_equal(rec_count("s7.malformed"), 1);
	assert_int_equal(rec_count("s7.pdu"), 1);
	feed_close(&f);
	/* an unknown protocol id in a DT, and a bad S7 header */
	feed_open(&f, 100000, 1, 0);
	const uint8_t odd[] = { 0x99, 1, 2, 3 };
	send_pdu(&f, C2S, odd, sizeof odd);
	const uint8_t bad[] = { 0x32, 0x01, 0, 0, 0, 1, 0, 5, 0, 0 };
	send_pdu(&f, C2S, bad, sizeof bad);
	assert_int_equal(rec_count("s7.malformed"), 2);
	assert_int_equal(f.s.st.s7_bad, 2);
	feed_close(&f);
}

static void test_s7plus(void **state)
{
	(void)state;
	struct feed f;
	feed_open(&f, 100000, 1, 0);
	const uint8_t cre[] = { 0x72, 0x01, 0x00, 0x05, 0x31, 0x00, 0x00, 0x04, 0xF2,
				0x72, 0x01, 0x00, 0x00 };
	send_pdu(&f, C2S, cre, sizeof cre);
	assert_int_equal(rec_count("s7plus.session"), 0);
	const uint8_t ssl[] = { 0x72, 0x02, 0x00, 0x05, 0x31, 0x00, 0x00, 0x05, 0xB3,
				0x72, 0x02, 0x00, 0x00 };
	send_pdu(&f, C2S, ssl, sizeof ssl);
	const struct rev *s = rec_find("s7plus.session");
	assert_non_null(s);
	assert_string_equal(s->verdict, "unverifiable");
	assert_int_equal(s->sev, PG_SEV_WARNING);
	assert_non_null(strstr(s->text, "not verifiable"));
	json_t *v = json_object_get(s->fields, "versions");
	assert_int_equal(json_integer_value(json_object_get(v, "v1")), 1);
	assert_int_equal(json_integer_value(json_object_get(v, "v2")), 1);
	/* TLS records afterwards: no second event, no malformed */
	const uint8_t tls[] = { 0x17, 0x03, 0x03, 0x00, 0x10, 1, 2, 3 };
	send_pdu(&f, S2C, tls, sizeof tls);
	assert_int_equal(rec_count("s7plus.session"), 1);
	assert_int_equal(rec_count("s7.malformed"), 0);
	assert_int_equal(f.s.st.s7plus_pdus, 2);
	feed_close(&f);
	assert_int_equal(rec_count("s7plus.session"), 1);

	/* a quiet S7comm-plus flow still reports itself at close */
	feed_open(&f, 100000, 1, 0);
	send_pdu(&f, C2S, cre, sizeof cre);
	assert_int_equal(rec_count("s7plus.session"), 0);
	feed_close(&f);
	s = rec_find("s7plus.session");
	assert_non_null(s);
	assert_string_equal(s->verdict, "unverifiable");
	assert_int_equal(s->sev, PG_SEV_NOTICE);

	/* program activity */
	feed_open(&f, 100000, 1, 0);
	const uint8_t obj[] = { 0x72, 0x02, 0x00, 0x05, 0x31, 0x00, 0x00, 0x04, 0xCA,
				0x72, 0x02, 0x00, 0x00 };
	send_pdu(&f, C2S, obj, sizeof obj);
	s = rec_find("s7plus.session");
	assert_non_null(s);
	assert_true(json_is_true(json_object_get(s->fields, "program_activity")));
	feed_close(&f);
}

static void test_limits(void **state)
{
	(void)state;
	struct feed f;
	feed_open(&f, 100000, 1, 0);
	/* 300 jobs never answered: bounded, one s7.limit event */
	const uint8_t rd[] = { 0x04, 0x01, 0x12, 0x0A, 0x10, 0x02, 0x00, 0x01, 0x00,
			       0x01, 0x84, 0x00, 0x00, 0x00 };
	for (unsigned i = 0; i < 300; i++)
		send_s7(&f, C2S, 1, (uint16_t)i, rd, sizeof rd, NULL, 0, 0);
	assert_int_equal(rec_count("s7.limit"), 1);
	/* 70 transfers at once: bounded too */
	for (unsigned i = 0; i < 70; i++) {
		char fn[10];
		snprintf(fn, sizeof fn, "_0A%05uP", i);
		send_1a(&f, (uint16_t)(1000 + i), fn, 100, 10);
	}
	assert_int_equal(rec_count("s7.limit"), 2);
	feed_close(&f);
	assert_int_equal(rec_count("s7.block.download"), 64);

	/* a PDU bigger than 64 KiB in DT fragments is dropped, not grown */
	feed_open(&f, 100000, 1, 0);
	f.empty_dt = 0;
	uint8_t *big = calloc(1, 70000);
	assert_non_null(big);
	big[0] = 0x32;
	f.nfrag = 100;
	send_pdu(&f, C2S, big, 70000);
	free(big);
	assert_int_equal(rec_count("s7.limit"), 1);
	assert_int_equal(f.s.st.s7_pdus, 0);
	feed_close(&f);
}

/* ---- the real capture ---- */

struct trace_row { uint64_t frame; int s2c, rosctr, pduref, func; const char *fn; };
static const struct trace_row db1_trace[] = {
#include "s7sess_db1_trace.inc"
};

static void test_corpus_db1(void **state)
{
	(void)state;
	const char *corpus = getenv("PG_CORPUS");
	char path[4096];
	snprintf(path, sizeof path, "%s/pcap/s7/s7comm_downloading_block_db1.pcap",
		 corpus ? corpus : "/nonexistent");
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, eb);
	if (!pc)
		skip();
	struct feed f;
	rec_reset();
	memset(&f, 0, sizeof f);
	pg_sniff_init(&f.s);
	pg_bus_init(&test_bus);
	pg_bus_subscribe(&test_bus, rec_emit, NULL);
	f.s.bus = &test_bus;
	f.s.cfg.pdu_trace = 1;
	/* One app per client port; in-order delivery by sequence number. */
	struct { uint16_t port; void *app; uint32_t next[2]; int have[2]; } fl[8];
	size_t nfl = 0;
	struct pcap_pkthdr *h;
	const u_char *pkt;
	uint64_t frame = 0;
	while (pcap_next_ex(pc, &h, &pkt) == 1) {
		frame++;
		struct cur c = cur_init(pkt, h->caplen);
		cur_skip(&c, 12);
		if (cur_u16be(&c) != 0x0800)
			continue;
		uint8_t vihl = cur_u8(&c);
		cur_skip(&c, 1);
		uint16_t tot = cur_u16be(&c);
		cur_skip(&c, 5);
		uint8_t proto = cur_u8(&c);
		cur_skip(&c, 10 + ((vihl & 15) * 4u - 20));
		if (proto != 6 || c.err)
			continue;
		uint16_t sp = cur_u16be(&c), dp = cur_u16be(&c);
		uint32_t seq = cur_u32be(&c);
		cur_skip(&c, 4);
		uint8_t off = cur_u8(&c);
		uint8_t flags = cur_u8(&c);
		cur_skip(&c, (off >> 4) * 4u - 14);
		size_t plen = tot - (vihl & 15) * 4u - (off >> 4) * 4u;
		const uint8_t *pl = cur_bytes(&c, plen);
		if (!pl)
			continue;
		int dir = sp == 102 ? 1 : 0;
		uint16_t cport = dir ? dp : sp;
		size_t i;
		for (i = 0; i < nfl && fl[i].port != cport; i++)
			;
		if (i == nfl) {
			assert_true(nfl < 8);
			memset(&fl[i], 0, sizeof fl[i]);
			fl[i].port = cport;
			struct pg_flowinfo fi = { .id = i + 1, .af = 4 };
			fl[i].app = pg_s7_app.open(&f.s, &fi);
			nfl++;
		}
		uint32_t s = seq + ((flags & 0x02) ? 1 : 0);
		if (!fl[i].have[dir]) {
			fl[i].have[dir] = 1;
			fl[i].next[dir] = s;
		}
		if (plen == 0 || s != fl[i].next[dir])
			continue;     /* retransmission (no loss in this capture) */
		fl[i].next[dir] = s + (uint32_t)plen;
		struct pg_pktinfo pi = { { h->ts.tv_sec, h->ts.tv_usec * 1000 }, frame };
		pg_s7_app.data(fl[i].app, dir, pl, plen, &pi);
	}
	pcap_close(pc);
	struct pg_pktinfo end = { { 0, 0 }, frame };
	for (size_t i = 0; i < nfl; i++)
		pg_s7_app.close(fl[i].app, &end);
	assert_int_equal(f.s.mem_used, 0);

	/* the PDU trace equals tshark's, row by row */
	size_t k = 0, nrow = sizeof db1_trace / sizeof db1_trace[0];
	for (size_t i = 0; i < g_n; i++) {
		if (strcmp(g_ev[i].kind, "s7.pdu"))
			continue;
		assert_true(k < nrow);
		const struct trace_row *r = &db1_trace[k++];
		const struct rev *e = &g_ev[i];
		assert_int_equal(e->frame, r->frame);
		assert_string_equal(f_str(e, "dir"), r->s2c ? "s2c" : "c2s");
		assert_int_equal(f_int(e, "rosctr"), r->rosctr);
		assert_int_equal(f_int(e, "pduref"), r->pduref);
		if (r->func >= 0)
			assert_int_equal(f_int(e, "func"), r->func);
		else
			assert_false(f_has(e, "func"));
		if (r->fn[0])
			assert_string_equal(f_str(e, "filename"), r->fn);
		else
			assert_false(f_has(e, "filename"));
	}
	assert_int_equal(k, nrow);

	/* the download: DB1, 500 bytes, the carved block's hash */
	const struct rev *b = rec_find("s7.block.download");
	assert_non_null(b);
	assert_int_equal(rec_count("s7.block.download"), 1);
	assert_null(b->verdict);
	assert_string_equal(b->object, "DB1");
	assert_int_equal(b->size, 500);
	assert_true(b->has_fp);
	uint8_t want[32];
	assert_int_equal(pg_unhex("6fbdbd7fb0f8c20cdc0b917b2a3f0a7c2b1e7d5f9536e5d804edb7d4a1628f2d",
				  want, 32), 0);
	assert_memory_equal(b->sha, want, 32);
	assert_int_equal(b->frame, 55);      /* reported at the PLC's Job 1C */
	assert_int_equal(f_int(b, "slices_requested"), f_int(b, "slices"));
	assert_non_null(rec_find("s7.block.activate"));
	assert_int_equal(rec_count("s7.malformed"), 0);
	assert_int_equal(rec_count("s7.error"), 0);
	assert_int_equal(f.s.st.s7_pdus, nrow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_download_chunked),
		cmocka_unit_test(test_pdu_trace_fields),
		cmocka_unit_test(test_download_gap),
		cmocka_unit_test(test_download_length_mismatch),
		cmocka_unit_test(test_close_in_progress),
		cmocka_unit_test(test_orphan_slice),
		cmocka_unit_test(test_slice_error),
		cmocka_unit_test(test_upload),
		cmocka_unit_test(test_pi_and_stop),
		cmocka_unit_test(test_error_ack),
		cmocka_unit_test(test_resync),
		cmocka_unit_test(test_s7plus),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_corpus_db1),
	};
	return cmocka_run_group_tests(tests, load_block, free_block);
}
