/*
 * test_modbus.c - the Modbus/TCP, UMAS and file-record parsers
 * (parsers/modbus.c): golden byte arrays (several typed from the real UMAS
 * session in corpus pcap/modbus/modicon_test.pcap, frame numbers in the
 * comments), rejections naming offset and field, and every parser fed every
 * truncation of its golden input from an exact-size heap copy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "modbus.h"

/* exact-size copy so that ASan sees a read one past the end */
static uint8_t *dup_n(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	assert_non_null(c);
	if (n)
		memcpy(c, p, n);
	return c;
}

/* ---- MBAP ---- */

static void test_mbap_golden(void **state)
{
	(void)state;
	/* modicon_test.pcap frame 19: trans 7, length 255 (the quirk) */
	static const uint8_t q[] = { 0x00, 0x07, 0x00, 0x00, 0x00, 0xFF, 0x00 };
	static const uint8_t ok[] = { 0x12, 0x34, 0x00, 0x00, 0x00, 0x06, 0x0A };
	struct mb_mbap h;
	struct pg_err e;

	assert_int_equal(mb_parse_mbap(ok, sizeof ok, 0, &h, &e), 0);
	assert_int_equal(h.trans_id, 0x1234);
	assert_int_equal(h.length, 6);
	assert_int_equal(h.unit, 0x0A);
	assert_false(h.over_spec);
	assert_int_equal(mb_parse_mbap(q, sizeof q, 0, &h, &e), 0);
	assert_int_equal(h.length, 255);
	assert_true(h.over_spec);
}

static void test_mbap_rejects(void **state)
{
	(void)state;
	uint8_t b[7] = { 0x00, 0x01, 0x00, 0x01, 0x00, 0x06, 0x01 };
	struct mb_mbap h;
	struct pg_err e;

	assert_int_equal(mb_parse_mbap(b, 7, 100, &h, &e), -1);
	assert_string_equal(e.field, "mbap.protocol_id");
	assert_int_equal(e.offset, 102);
	b[3] = 0;
	static const uint16_t badlen[] = { 0, 1, 261, 0xFFFF };
	for (size_t i = 0; i < 4; i++) {
		b[4] = (uint8_t)(badlen[i] >> 8);
		b[5] = (uint8_t)badlen[i];
		assert_int_equal(mb_parse_mbap(b, 7, 0, &h, &e), -1);
		assert_string_equal(e.field, "mbap.length");
		assert_int_equal(e.offset, 4);
	}
	b[4] = 0x01;
	b[5] = 0x04;  /* 260: accepted maximum */
	assert_int_equal(mb_parse_mbap(b, 7, 0, &h, &e), 0);
	b[5] = 0x02;
	b[4] = 0;     /* 2: minimum */
	assert_int_equal(mb_parse_mbap(b, 7, 0, &h, &e), 0);
	for (size_t n = 0; n < 7; n++) {
		uint8_t *c = dup_n(b, n);
		assert_int_equal(mb_parse_mbap(c, n, 0, &h, &e), -1);
		assert_string_equal(e.field, "mbap");
		free(c);
	}
}

static void test_fc_plausible(void **state)
{
	(void)state;
	assert_false(mb_fc_plausible(0x00));
	assert_false(mb_fc_plausible(0x80));
	assert_true(mb_fc_plausible(0x01));
	assert_true(mb_fc_plausible(0x5A));
	assert_true(mb_fc_plausible(0xDA));
	assert_true(mb_fc_plausible(0x7F));
}

/* ---- PDU and exceptions ---- */

static void test_pdu_and_exception(void **state)
{
	(void)state;
	static const uint8_t rd[] = { 0x03, 0x00, 0x10, 0x00, 0x02 };
	static const uint8_t ex[] = { 0x83, 0x02 };
	struct mb_pdu p;
	struct pg_err e;

	assert_int_equal(mb_parse_pdu(rd, sizeof rd, 7, &p, &e), 0);
	assert_int_equal(p.fc, 3);
	assert_false(p.exception);
	assert_int_equal(p.data_len, 4);
	assert_int_equal(p.data_off, 8);
	assert_int_equal(mb_parse_pdu(ex, sizeof ex, 7, &p, &e), 0);
	assert_true(p.exception);
	assert_int_equal(p.func, 3);
	assert_int_equal(p.fc, 0x83);
	assert_int_equal(p.exc_code, 2);
	assert_string_equal(mb_exception_name(p.exc_code), "illegal data address");
	assert_int_equal(mb_parse_pdu(ex, 1, 7, &p, &e), -1);
	assert_string_equal(e.field, "pdu.exception_code");
	assert_int_equal(e.offset, 8);
	assert_int_equal(mb_parse_pdu(ex, 0, 7, &p, &e), -1);
	assert_string_equal(e.field, "pdu.function");

	static const struct { uint8_t c; const char *n; } names[] = {
		{ 1, "illegal function" }, { 2, "illegal data address" },
		{ 3, "illegal data value" }, { 4, "server device failure" },
		{ 5, "acknowledge" }, { 6, "server busy" }, { 8, "memory parity error" },
		{ 0x0A, "gateway path unavailable" },
		{ 0x0B, "gateway target failed to respond" },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		assert_string_equal(mb_exception_name(names[i].c), names[i].n);
	assert_null(mb_exception_name(0));
	assert_null(mb_exception_name(7));
	assert_null(mb_exception_name(0x0C));
}

/* ---- UMAS ---- */

static void test_umas_reserve_from_corpus(void **state)
{
	(void)state;
	/* modicon_test.pcap frame 49, bytes after the 5A function code:
	 * key 00, code 10, 43 4C 00 00, length 0F, "USER-714E74F21B" */
	static const uint8_t f49[] = { 0x00, 0x10, 0x43, 0x4C, 0x00, 0x00, 0x0F,
		'U', 'S', 'E', 'R', '-', '7', '1', '4', 'E', '7', '4', 'F', '2', '1', 'B' };
	struct umas_req r;
	struct pg_err e;
	char name[PG_UMAS_NAME_MAX + 1];
	int heur = -1;

	assert_int_equal(umas_parse_req(f49, sizeof f49, 8, &r, &e), 0);
	assert_int_equal(r.key, 0);
	assert_int_equal(r.code, UMAS_RESERVE);
	assert_false(r.enveloped);
	assert_int_equal(r.data_off, 10);
	assert_int_equal(umas_parse_reserve(r.data, r.data_len, r.data_off, name, sizeof name,
					    &heur, &e), 0);
	assert_string_equal(name, "USER-714E74F21B");
	assert_false(heur);

	/* a length that overruns: fall back to the longest printable run */
	uint8_t bad[sizeof f49];
	memcpy(bad, f49, sizeof f49);
	bad[6] = 0x90;
	assert_int_equal(umas_parse_reserve(bad + 2, sizeof bad - 2, 10, name, sizeof name,
					    &heur, &e), 0);
	assert_string_equal(name, "USER-714E74F21B");
	assert_true(heur);
	/* truncated to the caller's buffer */
	char small[5];
	assert_int_equal(umas_parse_reserve(f49 + 2, sizeof f49 - 2, 10, small, sizeof small,
					    &heur, &e), 0);
	assert_string_equal(small, "USER");
	/* nothing printable */
	static const uint8_t none[] = { 1, 2, 3, 4, 0x30, 0, 1 };
	assert_int_equal(umas_parse_reserve(none, sizeof none, 10, name, sizeof name,
					    &heur, &e), -1);
	assert_string_equal(e.field, "umas.reserve.name");
}

static void test_umas_readback_layouts(void **state)
{
	(void)state;
	struct pg_err e;
	struct umas_block b;
	uint16_t cnt;
	uint32_t total;
	uint8_t ft;
	int last;

	/* frame 76: 0x33 request data 00 01 FB 00 */
	static const uint8_t f76[] = { 0x00, 0x01, 0xFB, 0x00 };
	assert_int_equal(umas_parse_xfer_start(f76, sizeof f76, 0, &ft, &e), 0);
	assert_int_equal(ft, 1);
	/* frame 77: reply data 00 01 37 30 00 00 -> 12343 */
	static const uint8_t f77[] = { 0x00, 0x01, 0x37, 0x30, 0x00, 0x00 };
	assert_int_equal(umas_parse_ul_start_rsp(f77, sizeof f77, 0, &total, &e), 0);
	assert_int_equal(total, 12343);
	/* frame 78: 0x34 request data 00 01 01 00 -> block 1, no data */
	static const uint8_t f78[] = { 0x00, 0x01, 0x01, 0x00 };
	assert_int_equal(umas_parse_block_req(f78, sizeof f78, 0, &b, &e), 0);
	assert_int_equal(b.number, 1);
	assert_false(b.has_data);
	/* frame 79 (shortened): reply data 00 00 len=4 'A' 'P' 'X' 00 */
	static const uint8_t f79[] = { 0x00, 0x00, 0x04, 0x00, 'A', 'P', 'X', 0x00 };
	assert_int_equal(umas_parse_block_rsp(f79, sizeof f79, 20, &b, &last, &e), 0);
	assert_int_equal(b.len, 4);
	assert_int_equal(b.data_off, 24);
	assert_memory_equal(b.data, "APX", 3);
	assert_false(last);
	static const uint8_t lastb[] = { 0x01, 0x00, 0x01, 0x00, 0x99 };
	assert_int_equal(umas_parse_block_rsp(lastb, sizeof lastb, 0, &b, &last, &e), 0);
	assert_true(last);
	/* a length that disagrees with the bytes is refused */
	static const uint8_t lie[] = { 0x00, 0x00, 0x09, 0x00, 'A' };
	assert_int_equal(umas_parse_block_rsp(lie, sizeof lie, 30, &b, &last, &e), -1);
	assert_string_equal(e.field, "umas.block_length");
	assert_int_equal(e.offset, 32);
	/* frame 186: 0x35 request data 00 01 35 00 -> 53 blocks */
	static const uint8_t f186[] = { 0x00, 0x01, 0x35, 0x00 };
	assert_int_equal(umas_parse_xfer_end(f186, sizeof f186, 0, &cnt, &e), 0);
	assert_int_equal(cnt, 53);
	/* 0x31 download block with data */
	static const uint8_t dl[] = { 0x00, 0x01, 0x02, 0x01, 0x03, 0x00, 0xAA, 0xBB, 0xCC };
	assert_int_equal(umas_parse_block_req(dl, sizeof dl, 0, &b, &e), 0);
	assert_int_equal(b.number, 0x0102);
	assert_true(b.has_data);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.data_off, 6);
	assert_int_equal(umas_parse_block_req(dl, sizeof dl - 1, 0, &b, &e), -1);
	assert_string_equal(e.field, "umas.block_length");
	assert_int_equal(umas_parse_block_req(dl, 5, 0, &b, &e), -1);
}

static void test_umas_envelope(void **state)
{
	(void)state;
	uint8_t p[64];
	size_t o = 0;
	p[o++] = 0x01;  /* key */
	p[o++] = 0x38;
	p[o++] = 0x5C;  /* magic */
	for (int i = 0; i < 32; i++)
		p[o++] = (uint8_t)i;
	p[o++] = 0x5A;
	p[o++] = 0x02;
	p[o++] = 0x41;  /* stop */
	p[o++] = 0x77;
	struct umas_req r;
	struct pg_err e;

	assert_int_equal(umas_parse_req(p, o, 8, &r, &e), 0);
	assert_true(r.enveloped);
	assert_int_equal(r.env_magic, 0x5C);
	assert_int_equal(r.key, 2);
	assert_int_equal(r.code, UMAS_STOP_PLC);
	assert_int_equal(r.data_len, 1);
	assert_int_equal(r.data_off, 8 + 38);
	assert_int_equal(r.sig[31], 31);
	/* inner function must be UMAS */
	p[35] = 0x03;
	assert_int_equal(umas_parse_req(p, o, 8, &r, &e), -1);
	assert_string_equal(e.field, "umas.envelope.function");
	assert_int_equal(e.offset, 8 + 35);
	p[35] = 0x5A;
	/* no envelope in an envelope */
	p[37] = 0x38;
	assert_int_equal(umas_parse_req(p, o, 8, &r, &e), -1);
	assert_string_equal(e.field, "umas.envelope.code");
	p[37] = 0x41;
	for (size_t n = 0; n < 38; n++) {
		uint8_t *c = dup_n(p, n);
		assert_int_equal(umas_parse_req(c, n, 0, &r, &e), -1);
		free(c);
	}
}

static void test_umas_rsp(void **state)
{
	(void)state;
	/* frame 50: 00 FE 01 (reservation granted, new key 1) */
	static const uint8_t f50[] = { 0x00, 0xFE, 0x01 };
	struct umas_rsp r;
	struct pg_err e;

	assert_int_equal(umas_parse_rsp(f50, sizeof f50, 0, &r, &e), 0);
	assert_int_equal(r.status, UMAS_STATUS_OK);
	assert_int_equal(r.data_len, 1);
	assert_int_equal(umas_parse_rsp(f50, 1, 0, &r, &e), -1);
	assert_string_equal(e.field, "umas.status");
}

/* ---- file records ---- */

static const uint8_t wfile[] = { 0x12,
	0x06, 0x00, 0x04, 0x00, 0x07, 0x00, 0x01, 0xAB, 0xCD,
	0x06, 0x00, 0x09, 0x00, 0x01, 0x00, 0x01, 0x12, 0x34 };

static void test_write_file_record(void **state)
{
	(void)state;
	struct mb_file_sub s[PG_MB_FILE_SUB_MAX];
	size_t n;
	struct pg_err e;

	assert_int_equal(mb_parse_write_file(wfile, sizeof wfile, 8, s, PG_MB_FILE_SUB_MAX,
					     &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(s[0].file, 4);
	assert_int_equal(s[0].record, 7);
	assert_int_equal(s[0].words, 1);
	assert_int_equal(s[0].data_off, 8 + 8);
	assert_memory_equal(s[0].data, "\xAB\xCD", 2);
	assert_int_equal(s[1].file, 9);

	uint8_t b[sizeof wfile];
	memcpy(b, wfile, sizeof b);
	b[1] = 5;
	assert_int_equal(mb_parse_write_file(b, sizeof b, 8, s, PG_MB_FILE_SUB_MAX, &n, &e), -1);
	assert_string_equal(e.field, "file.reference_type");
	assert_int_equal(e.offset, 9);
	memcpy(b, wfile, sizeof b);
	b[7] = 2;  /* two words: overruns into the next sub-request's header */
	assert_int_equal(mb_parse_write_file(b, sizeof b, 8, s, PG_MB_FILE_SUB_MAX, &n, &e), -1);
	memcpy(b, wfile, sizeof b);
	b[4] = 0x27;
	b[5] = 0x10;  /* record 10000 */
	assert_int_equal(mb_parse_write_file(b, sizeof b, 8, s, PG_MB_FILE_SUB_MAX, &n, &e), -1);
	assert_string_equal(e.field, "file.record_number");
	memcpy(b, wfile, sizeof b);
	b[0] = 0x13;
	assert_int_equal(mb_parse_write_file(b, sizeof b, 8, s, PG_MB_FILE_SUB_MAX, &n, &e), -1);
	assert_string_equal(e.field, "file.byte_count");
	/* the caller's array bound holds */
	assert_int_equal(mb_parse_write_file(wfile, sizeof wfile, 8, s, 1, &n, &e), -1);
	assert_string_equal(e.field, "file.sub_request");
}

static void test_read_file_record(void **state)
{
	(void)state;
	static const uint8_t rf[] = { 0x0E,
		0x06, 0x00, 0x04, 0x00, 0x01, 0x00, 0x02,
		0x06, 0x00, 0x03, 0x00, 0x09, 0x00, 0x02 };
	struct mb_file_sub s[PG_MB_FILE_SUB_MAX];
	size_t n;
	struct pg_err e;

	assert_int_equal(mb_parse_read_file(rf, sizeof rf, 0, s, PG_MB_FILE_SUB_MAX, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(s[1].file, 3);
	assert_int_equal(s[1].record, 9);
	assert_null(s[1].data);
}

/* ---- every truncation of every golden input ---- */

static void test_truncations(void **state)
{
	(void)state;
	static const uint8_t blk_dl[] = { 0x00, 0x01, 0x02, 0x00, 0x03, 0x00, 0xAA, 0xBB, 0xCC };
	static const uint8_t blk_rsp[] = { 0x00, 0x00, 0x03, 0x00, 0xAA, 0xBB, 0xCC };
	static const uint8_t rsv[] = { 0x43, 0x4C, 0x00, 0x00, 0x03, 'E', 'S', '1' };
	struct pg_err e;

	for (size_t n = 0; n < sizeof wfile; n++) {
		struct mb_file_sub s[PG_MB_FILE_SUB_MAX];
		size_t k = 99;
		uint8_t *c = dup_n(wfile, n);
		assert_int_equal(mb_parse_write_file(c, n, 0, s, PG_MB_FILE_SUB_MAX, &k, &e), -1);
		assert_int_equal(k, 0);
		assert_true(e.offset <= n);
		free(c);
	}
	for (size_t n = 0; n < sizeof blk_dl; n++) {
		struct umas_block b;
		uint8_t *c = dup_n(blk_dl, n);
		int rc = umas_parse_block_req(c, n, 0, &b, &e);
		/* exactly 4 bytes is a valid data-less request (0x34 style) */
		assert_int_equal(rc, n == 4 ? 0 : -1);
		free(c);
	}
	for (size_t n = 0; n < sizeof blk_rsp; n++) {
		struct umas_block b;
		int last;
		uint8_t *c = dup_n(blk_rsp, n);
		assert_int_equal(umas_parse_block_rsp(c, n, 0, &b, &last, &e), -1);
		free(c);
	}
	for (size_t n = 0; n < 4; n++) {
		uint16_t cnt;
		uint32_t tot;
		uint8_t ft;
		uint8_t *c = dup_n(blk_dl, n);
		assert_int_equal(umas_parse_xfer_end(c, n, 0, &cnt, &e), -1);
		assert_int_equal(umas_parse_xfer_start(c, n, 0, &ft, &e), n < 2 ? -1 : 0);
		assert_int_equal(umas_parse_ul_start_rsp(c, n, 0, &tot, &e), -1);
		free(c);
	}
	for (size_t n = 0; n <= sizeof rsv; n++) {
		char name[16];
		int heur;
		uint8_t *c = dup_n(rsv, n);
		int rc = umas_parse_reserve(c, n, 0, name, sizeof name, &heur, &e);
		if (n == sizeof rsv) {
			assert_int_equal(rc, 0);
			assert_string_equal(name, "ES1");
		} else {
			/* "CL" is only two printable bytes: never a name */
			assert_int_equal(rc, -1);
		}
		free(c);
	}
	for (size_t n = 0; n < 2; n++) {
		struct umas_req r;
		uint8_t *c = dup_n(blk_dl, n);
		assert_int_equal(umas_parse_req(c, n, 0, &r, &e), -1);
		free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mbap_golden),
		cmocka_unit_test(test_mbap_rejects),
		cmocka_unit_test(test_fc_plausible),
		cmocka_unit_test(test_pdu_and_exception),
		cmocka_unit_test(test_umas_reserve_from_corpus),
		cmocka_unit_test(test_umas_readback_layouts),
		cmocka_unit_test(test_umas_envelope),
		cmocka_unit_test(test_umas_rsp),
		cmocka_unit_test(test_write_file_record),
		cmocka_unit_test(test_read_file_record),
		cmocka_unit_test(test_truncations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
