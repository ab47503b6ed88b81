/*
 * test_mbsess.c - the Modbus/TCP session application (collectors/mbsess.c):
 * framing across calls, resync, exceptions, UMAS transfers in both directions
 * (duplicates, conflicts, missing blocks, gaps, the 0x38 envelope), PLC
 * start/stop, file-record writes, pdu tracing, memory returned to zero.
 *
 * ADUs are built here from parts.  The corpus test reads
 * $PG_CORPUS/pcap/modbus/modicon_test.pcap with libpcap, feeds the TCP
 * payloads per direction and expects the 12,343-byte read-back whose SHA-256
 * equals blocks/modicon_test_readback.apx; it is skipped without the corpus.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <pcap/pcap.h>

#include "cursor.h"
#include "digest.h"
#include "sniff.h"

/* the event bus the code under test publishes on (rules/bus.h) */
static struct pg_bus test_bus;

/* ---- an event sink that keeps what the tests look at ---- */

struct rec {
	const char *kind;
	const char *verdict;
	enum pg_sev sev;
	int has_sha256;
	uint8_t sha256[32];
	int64_t size;
	size_t payload_len;
	uint64_t frame;
	char object[64];
	json_t *fields;
};

#define MAX_REC 4096
static struct rec recs[MAX_REC];
static size_t nrec;

static void sink(void *arg, struct pg_event *ev)
{
	(void)arg;
	assert_true(nrec < MAX_REC);
	struct rec *r = &recs[nrec++];
	r->kind = pg_kind_name(ev->kind);
	r->verdict = pg_verdict_name(ev->verdict);
	r->sev = ev->sev;
	r->has_sha256 = ev->has_sha256;
	memcpy(r->sha256, ev->sha256, 32);
	r->size = ev->size;
	r->payload_len = ev->payload_len;
	r->frame = ev->frame;
	memcpy(r->object, ev->object, sizeof r->object);
	r->fields = ev->fields ? json_deep_copy(ev->fields) : NULL;
	/* payload must be the hashed bytes */
	if (ev->payload && ev->has_sha256) {
		uint8_t h[32];
		pg_sha256(ev->payload, ev->payload_len, h);
		assert_memory_equal(h, ev->sha256, 32);
	}
}

static void recs_reset(void)
{
	for (size_t i = 0; i < nrec; i++)
		json_decref(recs[i].fields);
	nrec = 0;
}

static size_t count_kind(const char *kind)
{
	size_t n = 0;
	for (size_t i = 0; i < nrec; i++)
		n += strcmp(recs[i].kind, kind) == 0;
	return n;
}

static struct rec *find_kind(const char *kind)
{
	for (size_t i = 0; i < nrec; i++)
		if (strcmp(recs[i].kind, kind) == 0)
			return &recs[i];
	return NULL;
}

static long long fint(const struct rec *r, const char *key)
{
	json_t *v = r->fields ? json_object_get(r->fields, key) : NULL;
	if (json_is_boolean(v))
		return json_is_true(v);
	assert_non_null(v);
	return json_integer_value(v);
}

static int fhas(const struct rec *r, const char *key)
{
	return r->fields && json_object_get(r->fields, key) != NULL;
}

static const char *fstr(const struct rec *r, const char *key)
{
	json_t *v = r->fields ? json_object_get(r->fields, key) : NULL;
	assert_true(json_is_string(v));
	return json_string_value(v);
}

/* ---- a session ---- */

struct sess {
	struct pg_sniff s;
	struct pg_flowinfo fi;
	void *app;
	struct pg_pktinfo pi;
};

static void sess_open(struct sess *t, int trace)
{
	recs_reset();
	memset(t, 0, sizeof *t);
	pg_sniff_init(&t->s);
	pg_bus_init(&test_bus);
	pg_bus_subscribe(&test_bus, sink, NULL);
	t->s.bus = &test_bus;
	t->s.cfg.pdu_trace = trace;
	t->fi.id = 1;
	t->fi.af = 4;
	snprintf(t->fi.cli.addr, sizeof t->fi.cli.addr, "10.0.0.1");
	t->fi.cli.port = 40000;
	snprintf(t->fi.srv.addr, sizeof t->fi.srv.addr, "10.0.0.2");
	t->fi.srv.port = 502;
	t->app = pg_modbus_app.open(&t->s, &t->fi);
	assert_non_null(t->app);
	assert_true(t->s.mem_used > 0);
}

/* When tapping, feed() also records each direction's byte stream. */
static int tapping;
static uint8_t tapbuf[2][32768];
static size_t taplen[2];

static void feed(struct sess *t, int dir, const uint8_t *p, size_t n)
{
	if (tapping) {
		assert_true(taplen[dir] + n <= sizeof tapbuf[dir]);
		memcpy(tapbuf[dir] + taplen[dir], p, n);
		taplen[dir] += n;
	}
	t->pi.frame++;
	t->pi.ts.tv_sec = (time_t)t->pi.frame;
	/* exact-size heap copy so that ASan sees any over-read */
	uint8_t *c = malloc(n ? n : 1);
	assert_non_null(c);
	if (n)
		memcpy(c, p, n);
	pg_modbus_app.data(t->app, dir, c, n, &t->pi);
	free(c);
}

static void sess_close(struct sess *t)
{
	t->pi.frame++;
	pg_modbus_app.close(t->app, &t->pi);
	t->app = NULL;
	assert_int_equal(t->s.mem_used, 0);
}

/* ADU builder: returns its length. */
static size_t adu(uint8_t *out, uint16_t tid, uint8_t unit, const uint8_t *pdu, size_t n)
{
	out[0] = (uint8_t)(tid >> 8);
	out[1] = (uint8_t)tid;
	out[2] = 0;
	out[3] = 0;
	out[4] = (uint8_t)((n + 1) >> 8);
	out[5] = (uint8_t)(n + 1);
	out[6] = unit;
	memcpy(out + 7, pdu, n);
	return n + 7;
}

static void send_pdu(struct sess *t, int dir, uint16_t tid, const uint8_t *pdu, size_t n)
{
	uint8_t b[600];
	assert_true(n + 7 <= sizeof b);
	feed(t, dir, b, adu(b, tid, 1, pdu, n));
}

/* UMAS request 5A key code data */
static void umas_req(struct sess *t, uint16_t tid, uint8_t code, const uint8_t *d, size_t n,
		     int envelope)
{
	uint8_t p[600];
	size_t o = 0;
	p[o++] = 0x5A;
	p[o++] = 0x01;
	if (envelope) {
		p[o++] = 0x38;
		p[o++] = 0xA5;                /* magic */
		for (int i = 0; i < 32; i++)  /* signature */
			p[o++] = (uint8_t)(0xC0 + i);
		p[o++] = 0x5A;
		p[o++] = 0x01;
	}
	p[o++] = code;
	if (n)
		memcpy(p + o, d, n);
	send_pdu(t, PG_DIR_C2S, tid, p, o + n);
}

static void umas_rsp(struct sess *t, uint16_t tid, uint8_t status, const uint8_t *d, size_t n)
{
	uint8_t p[600] = { 0x5A, 0x01, status };
	if (n)
		memcpy(p + 3, d, n);
	send_pdu(t, PG_DIR_S2C, tid, p, 3 + n);
}

/* ---- framing ---- */

static const uint8_t read_req[] = { 0x03, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t read_rsp[] = { 0x03, 0x04, 0x00, 0x0A, 0x00, 0x0B };

static void test_several_adus_per_call_and_split(void **state)
{
	(void)state;
	uint8_t stream[400];
	size_t n = 0;
	for (uint16_t i = 0; i < 5; i++)
		n += adu(stream + n, i, 1, read_req, sizeof read_req);

	struct sess t;
	sess_open(&t, 1);
	feed(&t, PG_DIR_C2S, stream, n);  /* five ADUs in one call */
	assert_int_equal(t.s.st.modbus_adus, 5);
	assert_int_equal(count_kind("modbus.pdu"), 5);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(fint(&recs[i], "trans_id"), (long long)i);
		assert_int_equal(fint(&recs[i], "func"), 3);
		assert_string_equal(fstr(&recs[i], "dir"), "c2s");
		assert_int_equal(recs[i].frame, 1);
	}
	/* the same stream one byte per call: ADUs across calls; the frame of
	 * each event is the call that completed the ADU */
	for (size_t i = 0; i < n; i++)
		feed(&t, PG_DIR_C2S, stream + i, 1);
	assert_int_equal(t.s.st.modbus_adus, 10);
	assert_int_equal(count_kind("modbus.pdu"), 10);
	assert_int_equal(recs[5].frame, 1 + 12);
	assert_int_equal(recs[9].frame, 1 + n);
	assert_int_equal(t.s.st.resyncs, 0);
	sess_close(&t);
	assert_int_equal(count_kind("modbus.malformed"), 0);
	assert_int_equal(count_kind("modbus.not_modbus"), 0);
}

static void test_length_255_quirk(void **state)
{
	(void)state;
	uint8_t p[256];
	p[0] = 0x5A;
	p[1] = 0x00;
	p[2] = 0x0A;
	for (int i = 3; i < 254; i++)
		p[i] = (uint8_t)i;
	struct sess t;
	sess_open(&t, 1);
	send_pdu(&t, PG_DIR_C2S, 7, p, 254);  /* MBAP length 255 */
	send_pdu(&t, PG_DIR_C2S, 8, read_req, sizeof read_req);
	assert_int_equal(t.s.st.modbus_adus, 2);
	assert_int_equal(t.s.st.umas_pdus, 1);
	assert_int_equal(t.s.st.resyncs, 0);
	assert_int_equal(fint(&recs[0], "umas_code"), 0x0A);
	assert_int_equal(fint(&recs[0], "mbap_length"), 255);
	/* 261 is over the accepted maximum: malformed */
	uint8_t b[300];
	size_t n = adu(b, 9, 1, p, 254);
	b[5] = 5;  /* length 261 */
	b[4] = 1;
	feed(&t, PG_DIR_C2S, b, n);
	sess_close(&t);
	assert_int_equal(count_kind("modbus.malformed"), 1);
}

static void test_garbage_not_modbus(void **state)
{
	(void)state;
	static const char http[] = "GET / HTTP/1.0\r\nHost: plc\r\n\r\n";
	struct sess t;
	sess_open(&t, 0);
	for (int i = 0; i < 10; i++)
		feed(&t, PG_DIR_C2S, (const uint8_t *)http, sizeof http - 1);
	feed(&t, PG_DIR_S2C, (const uint8_t *)"HTTP/1.0 400 Bad\r\n", 18);
	sess_close(&t);
	assert_int_equal(count_kind("modbus.not_modbus"), 1);
	assert_int_equal(count_kind("modbus.malformed"), 0);
	struct rec *r = find_kind("modbus.not_modbus");
	assert_int_equal(fint(r, "bytes_c2s"), 10 * (sizeof http - 1));
	assert_int_equal(fint(r, "bytes_s2c"), 18);
	assert_int_equal(t.s.st.modbus_adus, 0);
}

static void test_garbage_inside_resyncs(void **state)
{
	(void)state;
	uint8_t b[200];
	size_t n = adu(b, 1, 1, read_req, sizeof read_req);
	static const uint8_t junk[] = { 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x02, 0x03, 0x04,
					0x05, 0xFF, 0x13 };
	memcpy(b + n, junk, sizeof junk);
	n += sizeof junk;
	n += adu(b + n, 2, 1, read_req, sizeof read_req);
	n += adu(b + n, 3, 1, read_req, sizeof read_req);
	struct sess t;
	sess_open(&t, 1);
	feed(&t, PG_DIR_C2S, b, n);
	assert_int_equal(t.s.st.modbus_adus, 3);
	assert_int_equal(t.s.st.resyncs, 1);
	sess_close(&t);
	assert_int_equal(count_kind("modbus.malformed"), 1);
	struct rec *r = find_kind("modbus.malformed");
	assert_int_equal(fint(r, "stream_offset"), 12 + 2);  /* the protocol id */
	assert_int_equal(count_kind("modbus.not_modbus"), 0);
	assert_int_equal(count_kind("modbus.pdu"), 3);
}

/* Sun RPC over TCP on port 502 (modbus-and-non-modbus-p502.pcap frame 39,
 * typed): its zeros hold an MBAP-looking run ("00 00 00 00 00 02 00 01") that
 * a scan inside the segment would believe. */
static void test_rpc_zeros_not_modbus(void **state)
{
	(void)state;
	static const uint8_t rpc[] = {
		0x80, 0x00, 0x00, 0x28, 0x7e, 0x86, 0xab, 0x4a, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x86, 0xa3, 0x00, 0x00, 0x00, 0x03,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
	struct sess t;
	sess_open(&t, 1);
	feed(&t, PG_DIR_C2S, rpc, sizeof rpc);
	sess_close(&t);
	assert_int_equal(t.s.st.modbus_adus, 0);
	assert_int_equal(count_kind("modbus.pdu"), 0);
	assert_int_equal(count_kind("modbus.malformed"), 0);
	assert_int_equal(count_kind("modbus.not_modbus"), 1);
}

/* Picked up in the middle of an ADU: the tail is malformed, the next
 * segment starts a real ADU; one malformed event, then normal parsing. */
static void test_midstream_pickup(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = adu(b, 1, 1, read_rsp, sizeof read_rsp);
	struct sess t;
	sess_open(&t, 0);
	feed(&t, PG_DIR_S2C, b + 5, n - 5);  /* tail of an ADU */
	feed(&t, PG_DIR_S2C, b, n);
	feed(&t, PG_DIR_S2C, b, n);
	sess_close(&t);
	assert_int_equal(t.s.st.modbus_adus, 2);
	assert_int_equal(count_kind("modbus.malformed"), 1);
	assert_int_equal(count_kind("modbus.not_modbus"), 0);
}

/* A long non-Modbus stream is given up after a bound, not scanned forever. */
static void test_give_up_bound(void **state)
{
	(void)state;
	uint8_t junk[1000];
	memset(junk, 0xAB, sizeof junk);
	struct sess t;
	sess_open(&t, 0);
	for (int i = 0; i < 20; i++)
		feed(&t, PG_DIR_C2S, junk, sizeof junk);
	uint8_t b[64];
	size_t n = adu(b, 1, 1, read_req, sizeof read_req);
	feed(&t, PG_DIR_C2S, b, n);  /* too late: not parsed */
	sess_close(&t);
	assert_int_equal(t.s.st.modbus_adus, 0);
	struct rec *r = find_kind("modbus.not_modbus");
	assert_non_null(r);
	assert_int_equal(fint(r, "bytes_c2s"), 20000 + n);
}

static void test_exception_named(void **state)
{
	(void)state;
	static const uint8_t exc[] = { 0x94, 0x02 };
	static const uint8_t uexc[] = { 0xDA, 0x01 };
	static const uint8_t rq[] = { 0x14, 0x07, 0x06, 0x00, 0x04, 0x00, 0x01, 0x00, 0x02 };
	static const uint8_t urq[] = { 0x5A, 0x00, 0x02 };
	struct sess t;
	sess_open(&t, 1);
	send_pdu(&t, PG_DIR_C2S, 5, rq, sizeof rq);
	send_pdu(&t, PG_DIR_S2C, 5, exc, sizeof exc);
	send_pdu(&t, PG_DIR_C2S, 6, urq, sizeof urq);
	send_pdu(&t, PG_DIR_S2C, 6, uexc, sizeof uexc);
	assert_int_equal(count_kind("modbus.exception"), 2);
	struct rec *r = find_kind("modbus.exception");
	assert_int_equal(fint(r, "func"), 0x14);
	assert_int_equal(fint(r, "exception"), 2);
	assert_string_equal(fstr(r, "exception_name"), "illegal data address");
	assert_int_equal(fint(r, "trans_id"), 5);
	assert_int_equal(r->sev, PG_SEV_NOTICE);
	/* pdu trace shows the function byte as on the wire */
	assert_int_equal(fint(&recs[1], "func"), 0x94);
	r = &recs[nrec - 1];
	assert_string_equal(r->kind, "modbus.exception");
	assert_int_equal(r->sev, PG_SEV_WARNING);
	assert_string_equal(fstr(r, "exception_name"), "illegal function");
	assert_int_equal(fint(r, "umas_code"), 2);
	sess_close(&t);
}

/* ---- UMAS download (PC -> PLC) ---- */

#define IMG_LEN 700
#define BLK 250
static uint8_t img[IMG_LEN];

static void img_init(void)
{
	memcpy(img, "APX", 3);
	for (size_t i = 3; i < IMG_LEN; i++)
		img[i] = (uint8_t)(i * 7 + 1);
}

enum { DL_PLAIN = 0, DL_DUP_SAME = 1, DL_DUP_DIFF = 2, DL_MISSING = 4, DL_GAP = 8,
       DL_ENVELOPE = 16, DL_NO_END = 32, DL_REFUSE_THEN_RESEND = 64 };

static void dl_block(struct sess *t, uint16_t *tid, uint16_t no, const uint8_t *d, size_t n,
		     int env, uint8_t status)
{
	uint8_t b[300] = { 0x00, 0x01, (uint8_t)no, (uint8_t)(no >> 8), (uint8_t)n,
			   (uint8_t)(n >> 8) };
	memcpy(b + 6, d, n);
	umas_req(t, *tid, 0x31, b, 6 + n, env);
	umas_rsp(t, *tid, status, NULL, 0);
	(*tid)++;
}

static void run_download(struct sess *t, int flags)
{
	static const uint8_t start[] = { 0x00, 0x01 };
	int env = (flags & DL_ENVELOPE) != 0;
	uint16_t tid = 100;
	/* the envelope costs 35 bytes of the 253-byte PDU */
	size_t bs = env ? 200 : BLK;
	size_t nblk = (IMG_LEN + bs - 1) / bs;

	umas_req(t, tid, 0x30, start, sizeof start, env);
	umas_rsp(t, tid++, 0xFE, NULL, 0);
	for (size_t i = 0; i < nblk; i++) {
		size_t o = i * bs, n = IMG_LEN - o < bs ? IMG_LEN - o : bs;
		if ((flags & DL_MISSING) && i == 1)
			continue;
		if ((flags & DL_REFUSE_THEN_RESEND) && i == 1) {
			uint8_t bad[BLK];
			memset(bad, 0xEE, n);
			dl_block(t, &tid, (uint16_t)(i + 1), bad, n, env, 0xFD);
		}
		dl_block(t, &tid, (uint16_t)(i + 1), img + o, n, env, 0xFE);
		if ((flags & DL_DUP_SAME) && i == 0)
			dl_block(t, &tid, 1, img, n, env, 0xFE);
		if ((flags & DL_DUP_DIFF) && i == 0) {
			uint8_t other[BLK];
			memcpy(other, img, n);
			other[10] ^= 0xFF;
			dl_block(t, &tid, 1, other, n, env, 0xFE);
		}
		if ((flags & DL_GAP) && i == 0) {
			t->pi.frame++;
			pg_modbus_app.gap(t->app, PG_DIR_C2S, 300, &t->pi);
		}
	}
	if (!(flags & DL_NO_END)) {
		uint8_t end[] = { 0x00, 0x01, (uint8_t)nblk, 0x00 };
		umas_req(t, tid, 0x32, end, sizeof end, env);
		umas_rsp(t, tid, 0xFE, NULL, 0);
	}
}

static void test_download_ok_with_same_duplicate(void **state)
{
	(void)state;
	uint8_t want[32];
	struct sess t;
	img_init();
	pg_sha256(img, IMG_LEN, want);
	sess_open(&t, 0);
	run_download(&t, DL_DUP_SAME);
	assert_int_equal(count_kind("umas.app.download"), 1);  /* before close */
	sess_close(&t);
	assert_int_equal(count_kind("umas.app.download"), 1);
	struct rec *r = find_kind("umas.app.download");
	assert_null(r->verdict);
	assert_int_equal(r->sev, PG_SEV_NOTICE);
	assert_true(r->has_sha256);
	assert_memory_equal(r->sha256, want, 32);
	assert_int_equal(r->size, IMG_LEN);
	assert_int_equal(r->payload_len, IMG_LEN);
	assert_string_equal(r->object, "application");
	assert_int_equal(fint(r, "blocks"), 3);
	assert_int_equal(fint(r, "duplicates"), 1);
	assert_int_equal(fint(r, "file_type"), 1);
	assert_false(fint(r, "enveloped"));
	assert_int_equal(t.s.st.transfers_complete, 1);
}

static void test_download_dup_conflict_invalid(void **state)
{
	(void)state;
	struct sess t;
	img_init();
	sess_open(&t, 0);
	run_download(&t, DL_DUP_DIFF);
	sess_close(&t);
	struct rec *r = find_kind("umas.app.download");
	assert_non_null(r);
	assert_string_equal(r->verdict, "invalid");
	assert_true(fint(r, "duplicate_conflict"));
	/* first copy kept: the hash (for forensics) is of the real image */
	uint8_t want[32];
	pg_sha256(img, IMG_LEN, want);
	assert_true(r->has_sha256);
	assert_memory_equal(r->sha256, want, 32);
}

static void test_download_missing_block_incomplete(void **state)
{
	(void)state;
	struct sess t;
	img_init();
	sess_open(&t, 0);
	run_download(&t, DL_MISSING);
	sess_close(&t);
	struct rec *r = find_kind("umas.app.download");
	assert_non_null(r);
	assert_string_equal(r->verdict, "incomplete");
	assert_false(r->has_sha256);
	assert_string_equal(fstr(r, "reason"), "missing_slices");
	assert_int_equal(t.s.st.transfers_incomplete, 1);
}

static void test_download_gap_incomplete_no_hash(void **state)
{
	(void)state;
	struct sess t;
	img_init();
	sess_open(&t, 0);
	/* A gap between ADUs loses no block: blocks 1..N present, the end's
	 * count agrees, so the image is whole and only the gap is counted. */
	run_download(&t, DL_GAP);
	sess_close(&t);
	assert_int_equal(count_kind("umas.app.download"), 1);
	struct rec *r = find_kind("umas.app.download");
	assert_null(r->verdict);
	assert_true(r->has_sha256);
	assert_int_equal(fint(r, "gaps"), 1);
	assert_true(fint(r, "accepted"));

	/* A block lost in the gap: INCOMPLETE, no hash. */
	sess_open(&t, 0);
	run_download(&t, DL_GAP | DL_MISSING);
	sess_close(&t);
	r = find_kind("umas.app.download");
	assert_string_equal(r->verdict, "incomplete");
	assert_false(r->has_sha256);
	assert_int_equal(r->payload_len, 0);
	assert_string_equal(fstr(r, "reason"), "missing_slices");
}

static void test_download_enveloped(void **state)
{
	(void)state;
	uint8_t want[32];
	struct sess t;
	img_init();
	pg_sha256(img, IMG_LEN, want);
	sess_open(&t, 1);
	run_download(&t, DL_ENVELOPE);
	sess_close(&t);
	struct rec *r = find_kind("umas.app.download");
	assert_non_null(r);
	assert_null(r->verdict);
	assert_true(fint(r, "enveloped"));
	assert_int_equal(fint(r, "blocks"), 4);
	assert_memory_equal(r->sha256, want, 32);
	assert_int_equal(count_kind("modbus.malformed"), 0);
	/* the trace shows the code on the wire (0x38) */
	assert_int_equal(fint(find_kind("modbus.pdu"), "umas_code"), 0x38);
}

static void test_download_no_end_incomplete(void **state)
{
	(void)state;
	struct sess t;
	img_init();
	sess_open(&t, 0);
	run_download(&t, DL_NO_END);
	assert_int_equal(count_kind("umas.app.download"), 0);
	sess_close(&t);
	struct rec *r = find_kind("umas.app.download");
	assert_non_null(r);
	assert_string_equal(r->verdict, "incomplete");
	assert_string_equal(fstr(r, "reason"), "end_not_seen");
}

static void test_download_refused_block_replaced(void **state)
{
	(void)state;
	uint8_t want[32];
	struct sess t;
	img_init();
	pg_sha256(img, IMG_LEN, want);
	sess_open(&t, 0);
	run_download(&t, DL_REFUSE_THEN_RESEND);
	sess_close(&t);
	struct rec *r = find_kind("umas.app.download");
	assert_null(r->verdict);
	assert_memory_equal(r->sha256, want, 32);
	assert_int_equal(fint(r, "refused_slices"), 1);
}

/* Blocks whose answers never came (capture loss): assembled, said so. */
static void test_download_unacked(void **state)
{
	(void)state;
	static const uint8_t start[] = { 0x00, 0x01 };
	uint8_t b[300] = { 0x00, 0x01, 0x01, 0x00, 0x05, 0x00, 'A', 'P', 'X', 0, 1 };
	uint8_t end[] = { 0x00, 0x01, 0x01, 0x00 };
	struct sess t;
	sess_open(&t, 0);
	umas_req(&t, 1, 0x30, start, 2, 0);
	umas_req(&t, 2, 0x31, b, 11, 0);
	umas_req(&t, 3, 0x32, end, 4, 0);
	sess_close(&t);
	struct rec *r = find_kind("umas.app.download");
	assert_null(r->verdict);
	assert_true(r->has_sha256);
	assert_int_equal(r->size, 5);
	assert_int_equal(fint(r, "slices_unacked"), 1);
	assert_false(fint(r, "end_answered"));
}

/* ---- UMAS read-back (PLC -> PC), built like modicon_test.pcap ---- */

static void test_upload_readback(void **state)
{
	(void)state;
	static const uint8_t st[] = { 0x00, 0x01, 0xFB, 0x00 };
	uint8_t want[32];
	struct sess t;
	img_init();
	pg_sha256(img, IMG_LEN, want);
	sess_open(&t, 0);
	umas_req(&t, 1, 0x33, st, sizeof st, 0);
	uint8_t tot[] = { 0x00, 0x01, IMG_LEN & 0xFF, IMG_LEN >> 8, 0, 0 };
	umas_rsp(&t, 1, 0xFE, tot, sizeof tot);
	uint16_t tid = 2;
	for (uint16_t no = 1; no <= 3; no++, tid++) {
		size_t o = (size_t)(no - 1) * BLK, n = IMG_LEN - o < BLK ? IMG_LEN - o : BLK;
		uint8_t rq[] = { 0x00, 0x01, (uint8_t)no, 0x00 };
		uint8_t rs[300] = { no == 3, 0x00, (uint8_t)n, (uint8_t)(n >> 8) };
		memcpy(rs + 4, img + o, n);
		umas_req(&t, tid, 0x34, rq, sizeof rq, 0);
		umas_rsp(&t, tid, 0xFE, rs, 4 + n);
	}
	uint8_t end[] = { 0x00, 0x01, 0x03, 0x00 };
	umas_req(&t, tid, 0x35, end, sizeof end, 0);
	umas_rsp(&t, tid, 0xFE, NULL, 0);
	sess_close(&t);
	assert_int_equal(count_kind("umas.app.upload"), 1);
	assert_int_equal(count_kind("umas.app.download"), 0);
	struct rec *r = find_kind("umas.app.upload");
	assert_null(r->verdict);
	assert_memory_equal(r->sha256, want, 32);
	assert_int_equal(fint(r, "declared_size"), IMG_LEN);
}

static void test_reserve_start_stop_release(void **state)
{
	(void)state;
	static const uint8_t rsv[] = { 0x43, 0x4C, 0x00, 0x00, 0x05, 'E', 'S', '-', '0', '1' };
	static const uint8_t key[] = { 0x07 };
	struct sess t;
	sess_open(&t, 0);
	umas_req(&t, 1, 0x10, rsv, sizeof rsv, 0);
	umas_rsp(&t, 1, 0xFE, key, 1);
	umas_req(&t, 2, 0x41, NULL, 0, 0);
	umas_rsp(&t, 2, 0xFE, NULL, 0);
	umas_req(&t, 3, 0x40, NULL, 0, 0);
	umas_rsp(&t, 3, 0xFD, NULL, 0);
	umas_req(&t, 4, 0x11, NULL, 0, 0);
	umas_rsp(&t, 4, 0xFE, NULL, 0);
	umas_req(&t, 5, 0x41, NULL, 0, 1);  /* enveloped, never answered */
	sess_close(&t);
	struct rec *r = find_kind("umas.reserve");
	assert_non_null(r);
	assert_string_equal(fstr(r, "station"), "ES-01");
	assert_string_equal(fstr(r, "response"), "granted");
	assert_int_equal(fint(r, "pair_key"), 7);
	assert_int_equal(count_kind("umas.plc.stop"), 2);
	r = find_kind("umas.plc.stop");
	assert_int_equal(r->sev, PG_SEV_ALERT);
	assert_string_equal(fstr(r, "response"), "ok");
	r = &recs[nrec - 1];
	assert_string_equal(r->kind, "umas.plc.stop");
	assert_string_equal(fstr(r, "response"), "none");
	assert_true(fint(r, "enveloped"));
	r = find_kind("umas.plc.start");
	assert_int_equal(r->sev, PG_SEV_NOTICE);
	assert_string_equal(fstr(r, "response"), "error");
	r = find_kind("umas.release");
	assert_string_equal(fstr(r, "station"), "ES-01");
}

/* ---- file records ---- */

static void test_file_records_two_files(void **state)
{
	(void)state;
	/* file 4: records 0 (2 words) and 2 (1 word), written out of order;
	 * file 9: record 5 (1 word) */
	static const uint8_t w1[] = { 0x15, 0x12,
		0x06, 0x00, 0x04, 0x00, 0x02, 0x00, 0x01, 0xC0, 0xDE,
		0x06, 0x00, 0x09, 0x00, 0x05, 0x00, 0x01, 0x99, 0x98 };
	static const uint8_t w2[] = { 0x15, 0x0B,
		0x06, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44 };
	static const uint8_t bad[] = { 0x15, 0x09,  /* ref type 7 */
		0x07, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x11, 0x22 };
	struct sess t;
	sess_open(&t, 0);
	send_pdu(&t, PG_DIR_C2S, 1, w1, sizeof w1);
	send_pdu(&t, PG_DIR_S2C, 1, w1, sizeof w1);
	send_pdu(&t, PG_DIR_C2S, 2, w2, sizeof w2);
	send_pdu(&t, PG_DIR_S2C, 2, w2, sizeof w2);
	send_pdu(&t, PG_DIR_C2S, 3, bad, sizeof bad);
	assert_int_equal(count_kind("modbus.file.write"), 0);
	assert_int_equal(count_kind("modbus.malformed"), 1);
	sess_close(&t);
	assert_int_equal(count_kind("modbus.file.write"), 2);
	static const uint8_t f4[] = { 0x11, 0x22, 0x33, 0x44, 0xC0, 0xDE };
	static const uint8_t f9[] = { 0x99, 0x98 };
	uint8_t h4[32], h9[32];
	pg_sha256(f4, sizeof f4, h4);
	pg_sha256(f9, sizeof f9, h9);
	int seen = 0;
	for (size_t i = 0; i < nrec; i++) {
		struct rec *r = &recs[i];
		if (strcmp(r->kind, "modbus.file.write"))
			continue;
		assert_true(r->has_sha256);
		assert_null(r->verdict);
		if (!strcmp(r->object, "file 4")) {
			assert_int_equal(r->size, 6);
			assert_int_equal(fint(r, "records"), 2);
			assert_memory_equal(r->sha256, h4, 32);
			seen |= 1;
		} else {
			assert_string_equal(r->object, "file 9");
			assert_memory_equal(r->sha256, h9, 32);
			seen |= 2;
		}
	}
	assert_int_equal(seen, 3);
}

static void test_file_records_gap(void **state)
{
	(void)state;
	static const uint8_t w[] = { 0x15, 0x09,
		0x06, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x11, 0x22 };
	struct sess t;
	/* transaction ids 1, 2 with a gap between: no request is missing */
	sess_open(&t, 0);
	send_pdu(&t, PG_DIR_C2S, 1, w, sizeof w);
	pg_modbus_app.gap(t.app, PG_DIR_C2S, 50, &t.pi);
	send_pdu(&t, PG_DIR_C2S, 2, w, sizeof w);
	sess_close(&t);
	struct rec *r = find_kind("modbus.file.write");
	assert_non_null(r);
	assert_null(r->verdict);
	assert_true(r->has_sha256);
	assert_int_equal(fint(r, "gaps"), 1);

	/* ids 1, 3: request 2 was in the gap and may have been a write */
	sess_open(&t, 0);
	send_pdu(&t, PG_DIR_C2S, 1, w, sizeof w);
	pg_modbus_app.gap(t.app, PG_DIR_C2S, 50, &t.pi);
	send_pdu(&t, PG_DIR_C2S, 3, w, sizeof w);
	sess_close(&t);
	r = find_kind("modbus.file.write");
	assert_string_equal(r->verdict, "incomplete");
	assert_string_equal(fstr(r, "reason"), "gap_crossed");
	assert_false(r->has_sha256);

	/* a gap after the last request: what it held cannot be known */
	sess_open(&t, 0);
	send_pdu(&t, PG_DIR_C2S, 1, w, sizeof w);
	send_pdu(&t, PG_DIR_C2S, 2, w, sizeof w);
	pg_modbus_app.gap(t.app, PG_DIR_C2S, 50, &t.pi);
	sess_close(&t);
	r = find_kind("modbus.file.write");
	assert_string_equal(r->verdict, "incomplete");
	assert_string_equal(fstr(r, "reason"), "gap_at_end");
}

/* ---- bounds ---- */

static void test_txn_overflow_limit(void **state)
{
	(void)state;
	struct sess t;
	sess_open(&t, 0);
	for (unsigned i = 0; i < 300; i++)
		send_pdu(&t, PG_DIR_C2S, (uint16_t)i, read_req, sizeof read_req);
	/* the oldest requests were dropped: their answers are orphans now */
	send_pdu(&t, PG_DIR_S2C, 0, read_rsp, sizeof read_rsp);
	send_pdu(&t, PG_DIR_S2C, 299, read_rsp, sizeof read_rsp);
	sess_close(&t);
	assert_int_equal(count_kind("modbus.limit"), 1);
	assert_string_equal(fstr(find_kind("modbus.limit"), "limit"), "outstanding requests");
}

static void test_memcap_transfer(void **state)
{
	(void)state;
	struct sess t;
	img_init();
	sess_open(&t, 0);
	/* room for about one block in the global budget (a flow may hold a
	 * whole image above its per-flow cap, never above the budget) */
	t.s.cfg.total_mem_max = t.s.mem_used + 300;
	run_download(&t, DL_PLAIN);
	sess_close(&t);
	struct rec *r = find_kind("umas.app.download");
	assert_non_null(r);
	assert_string_equal(r->verdict, "incomplete");
	assert_false(r->has_sha256);
	assert_string_equal(fstr(r, "reason"), "memory_cap");
	assert_int_equal(count_kind("modbus.limit"), 1);
}

/* Random chunking of a whole session in both directions must give the same
 * events as whole ADUs. */
static void test_chunked_session_same_result(void **state)
{
	(void)state;
	uint8_t want[32];
	img_init();
	pg_sha256(img, IMG_LEN, want);
	struct sess t;
	sess_open(&t, 0);
	tapping = 1;
	taplen[0] = taplen[1] = 0;
	run_download(&t, DL_PLAIN);
	tapping = 0;
	sess_close(&t);
	assert_memory_equal(find_kind("umas.app.download")->sha256, want, 32);

	/* all requests first, then all answers, each in odd-sized chunks */
	unsigned seed = 12345;
	for (int round = 0; round < 20; round++) {
		sess_open(&t, 1);
		for (int dir = 0; dir < 2; dir++) {
			size_t o = 0;
			while (o < taplen[dir]) {
				seed = seed * 1103515245u + 12345u;
				size_t k = 1 + (seed >> 16) % 37;
				if (k > taplen[dir] - o)
					k = taplen[dir] - o;
				feed(&t, dir, tapbuf[dir] + o, k);
				o += k;
			}
		}
		sess_close(&t);
		assert_int_equal(count_kind("umas.app.download"), 1);
		assert_int_equal(count_kind("modbus.pdu"), 2 * (1 + 3 + 1));
		assert_int_equal(count_kind("modbus.malformed"), 0);
		struct rec *r = find_kind("umas.app.download");
		assert_null(r->verdict);
		assert_memory_equal(r->sha256, want, 32);
	}
}

/* ---- the real capture ---- */

static void test_corpus_modicon(void **state)
{
	(void)state;
	const char *corpus = getenv("PG_CORPUS");
	char path[1024];
	char eb[PCAP_ERRBUF_SIZE];
	if (!corpus)
		skip();
	snprintf(path, sizeof path, "%s/pcap/modbus/modicon_test.pcap", corpus);
	pcap_t *pc = pcap_open_offline(path, eb);
	if (!pc)
		skip();
	struct sess t;
	sess_open(&t, 1);
	struct pcap_pkthdr *h;
	const u_char *pkt;
	uint64_t frame = 0;
	while (pcap_next_ex(pc, &h, &pkt) == 1) {
		frame++;
		struct cur c = cur_init(pkt, h->caplen);
		cur_skip(&c, 12);
		if (cur_u16be(&c) != 0x0800)
			continue;
		struct cur ip = c;
		uint8_t vihl = cur_u8(&ip);
		cur_skip(&ip, 1);
		uint16_t tot = cur_u16be(&ip);
		cur_skip(&ip, 5);
		if (cur_u8(&ip) != 6)
			continue;
		cur_skip(&c, (size_t)(vihl & 0x0F) * 4);
		struct cur tcp = c;
		uint16_t sport = cur_u16be(&tcp);
		cur_skip(&tcp, 10);
		uint8_t doff = cur_u8(&tcp);
		size_t hl = (size_t)(doff >> 4) * 4;
		size_t plen = tot - (size_t)(vihl & 0x0F) * 4 - hl;
		cur_skip(&c, hl);
		const uint8_t *pay = cur_bytes(&c, plen);
		assert_false(c.err);
		if (!plen)
			continue;
		t.pi.frame = frame - 1;  /* feed() adds one */
		feed(&t, sport == 502 ? PG_DIR_S2C : PG_DIR_C2S, pay, plen);
	}
	pcap_close(pc);
	sess_close(&t);
	assert_int_equal(t.s.st.modbus_adus, 180);
	assert_int_equal(t.s.st.umas_pdus, 180);
	assert_int_equal(count_kind("modbus.pdu"), 180);
	assert_int_equal(t.s.st.resyncs, 0);
	assert_int_equal(count_kind("modbus.malformed"), 0);
	/* frames 19 and 20 are the two length-255 ADUs */
	int q = 0;
	for (size_t i = 0; i < nrec; i++)
		if (!strcmp(recs[i].kind, "modbus.pdu") && fhas(&recs[i], "mbap_length")) {
			assert_true(recs[i].frame == 19 || recs[i].frame == 20);
			q++;
		}
	assert_int_equal(q, 2);
	assert_int_equal(count_kind("umas.app.upload"), 1);
	struct rec *r = find_kind("umas.app.upload");
	uint8_t want[32];
	assert_int_equal(pg_unhex("223dfe4cb8497b9a16b23f20a369a1483f83903a85b749deb8c84f878186c5c1",
				  want, 32), 0);
	assert_null(r->verdict);
	assert_int_equal(r->size, 12343);
	assert_true(r->has_sha256);
	assert_memory_equal(r->sha256, want, 32);
	assert_int_equal(fint(r, "blocks"), 53);
	assert_int_equal(r->frame, 187);
	r = find_kind("umas.reserve");
	assert_non_null(r);
	assert_string_equal(fstr(r, "station"), "USER-714E74F21B");
	assert_string_equal(fstr(r, "response"), "granted");
	assert_int_equal(fint(r, "pair_key"), 1);
	assert_int_equal(r->frame, 50);
	assert_int_equal(count_kind("modbus.not_modbus"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_several_adus_per_call_and_split),
		cmocka_unit_test(test_length_255_quirk),
		cmocka_unit_test(test_garbage_not_modbus),
		cmocka_unit_test(test_garbage_inside_resyncs),
		cmocka_unit_test(test_rpc_zeros_not_modbus),
		cmocka_unit_test(test_midstream_pickup),
		cmocka_unit_test(test_give_up_bound),
		cmocka_unit_test(test_exception_named),
		cmocka_unit_test(test_download_ok_with_same_duplicate),
		cmocka_unit_test(test_download_dup_conflict_invalid),
		cmocka_unit_test(test_download_missing_block_incomplete),
		cmocka_unit_test(test_download_gap_incomplete_no_hash),
		cmocka_unit_test(test_download_enveloped),
		cmocka_unit_test(test_download_no_end_incomplete),
		cmocka_unit_test(test_download_refused_block_replaced),
		cmocka_unit_test(test_download_unacked),
		cmocka_unit_test(test_upload_readback),
		cmocka_unit_test(test_reserve_start_stop_release),
		cmocka_unit_test(test_file_records_two_files),
		cmocka_unit_test(test_file_records_gap),
		cmocka_unit_test(test_txn_overflow_limit),
		cmocka_unit_test(test_memcap_transfer),
		cmocka_unit_test(test_chunked_session_same_result),
		cmocka_unit_test(test_corpus_modicon),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	recs_reset();
	return rc;
}
