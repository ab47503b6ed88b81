/*
 * test_s7comm.c - S7comm PDU decoding (parsers/s7comm.c) and S7comm-plus
 * recognition (parsers/s7plus.c).  The golden PDUs are the reassembled COTP
 * payloads of s7comm_downloading_block_db1.pcap and s7ident.pcap (tshark -x),
 * the rest follows ../shared/docs/PROTOCOLS.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s7comm.h"
#include "s7plus.h"

/* frame 43: Job 1A Request download _0A00001P, 500 / 400 bytes */
static const uint8_t job_1a[] = {
	0x32, 0x01, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x20, 0x00, 0x00, 0x1a, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x5f, 0x30, 0x41, 0x30, 0x30,
	0x30, 0x30, 0x31, 0x50, 0x0d, 0x31, 0x30, 0x30, 0x30, 0x35, 0x30, 0x30,
	0x30, 0x30, 0x30, 0x34, 0x30, 0x30,
};
/* frame 44: Ack_Data 1A */
static const uint8_t ack_1a[] = {
	0x32, 0x03, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x1a,
};
/* frame 46: Job 1B from the PLC */
static const uint8_t job_1b[] = {
	0x32, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x12, 0x00, 0x00, 0x1b, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x5f, 0x30, 0x41, 0x30, 0x30,
	0x30, 0x30, 0x31, 0x50,
};
/* frame 55: Job 1C */
static const uint8_t job_1c[] = {
	0x32, 0x01, 0x00, 0x00, 0x07, 0x00, 0x00, 0x12, 0x00, 0x00, 0x1c, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x5f, 0x30, 0x41, 0x30, 0x30,
	0x30, 0x30, 0x31, 0x50,
};
/* frame 58: Job 28 PI _INSE 0A00001P */
static const uint8_t job_pi[] = {
	0x32, 0x01, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x1a, 0x00, 0x00, 0x28, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x0a, 0x01, 0x00, 0x30, 0x41,
	0x30, 0x30, 0x30, 0x30, 0x31, 0x50, 0x05, 0x5f, 0x49, 0x4e, 0x53, 0x45,
};
/* frame 8: Ack_Data F0 setup, PDU 240 */
static const uint8_t ack_setup[] = {
	0x32, 0x03, 0x00, 0x00, 0x02, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
	0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0xf0,
};
/* s7ident.pcap frame 20: Job 1D start upload _0B00000A */
static const uint8_t job_1d[] = {
	0x32, 0x01, 0x00, 0x00, 0x06, 0x00, 0x00, 0x12, 0x00, 0x00, 0x1d, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x5f, 0x30, 0x42, 0x30, 0x30,
	0x30, 0x30, 0x30, 0x41,
};
/* s7ident.pcap frame 21: Ack with error 0xD241 */
static const uint8_t ack_err[] = {
	0x32, 0x02, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd2, 0x41,
};
/* PLC stop (PROTOCOLS.md 29 layout) */
static const uint8_t job_stop[] = {
	0x32, 0x01, 0x00, 0x00, 0x11, 0x00, 0x00, 0x10, 0x00, 0x00,
	0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 'P', '_', 'P', 'R', 'O', 'G',
	'R', 'A', 'M',
};
/* Ack_Data 1D: upload id 7, total length "0000500" */
static const uint8_t ack_1d[] = {
	0x32, 0x03, 0x00, 0x00, 0x06, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
	0x1d, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x07, 0x07,
	'0', '0', '0', '0', '5', '0', '0',
};
/* Job 1F: error code 0, upload id 7 */
static const uint8_t job_1f[] = {
	0x32, 0x01, 0x00, 0x00, 0x09, 0x00, 0x00, 0x08, 0x00, 0x00,
	0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
};
/* Userdata (SZL read request head), s7comm_reading_plc_status style */
static const uint8_t userdata[] = {
	0x32, 0x07, 0x00, 0x00, 0x03, 0x00, 0x00, 0x08, 0x00, 0x04,
	0x00, 0x01, 0x12, 0x04, 0x11, 0x44, 0x01, 0x00,
	0xff, 0x09, 0x00, 0x00,
};

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	assert_non_null(b);
	if (n)
		memcpy(b, p, n);
	return b;
}

static int parse(const uint8_t *p, size_t n, struct s7_pdu *u, struct pg_err *e)
{
	uint8_t *b = dup_exact(p, n);
	int rc = s7_parse_pdu(b, n, 0, u, e);
	free(b);     /* pointers in u are not used after this */
	return rc;
}

static void test_request_download(void **state)
{
	(void)state;
	struct s7_pdu u;
	struct pg_err e;
	assert_int_equal(parse(job_1a, sizeof job_1a, &u, &e), 0);
	assert_int_equal(u.rosctr, S7_JOB);
	assert_int_equal(u.pduref, 0x0e00);
	assert_int_equal(u.param_len, 32);
	assert_int_equal(u.data_len, 0);
	assert_false(u.has_err);
	assert_true(u.has_func);
	assert_int_equal(u.func, S7_F_REQ_DOWNLOAD);
	assert_true(u.has_filename);
	assert_string_equal(u.filename, "_0A00001P");
	assert_true(u.filename_ok);
	assert_int_equal(u.blk_type, 0x0A);
	assert_int_equal(u.blk_number, 1);
	assert_int_equal(u.blk_fs, 'P');
	assert_true(u.has_lengths);
	assert_int_equal(u.load_len, 500);
	assert_int_equal(u.mc7_len, 400);
	/* PDU length disagrees with header + param + data */
	assert_int_equal(parse(job_1a, sizeof job_1a - 1, &u, &e), -1);
	assert_string_equal(e.field, "s7.header.param_len");
}

static void test_request_download_digits(void **state)
{
	(void)state;
	struct s7_pdu u;
	struct pg_err e;
	uint8_t b[sizeof job_1a];
	memcpy(b, job_1a, sizeof b);
	b[32] = 'x';                     /* inside the load memory length */
	assert_int_equal(parse(b, sizeof b, &u, &e), 1);
	assert_string_equal(e.field, "s7.param.loadmem_len");
	assert_int_equal(e.offset, 30);
	memcpy(b, job_1a, sizeof b);
	b[40] = ' ';                     /* inside the MC7 length */
	assert_int_equal(parse(b, sizeof b, &u, &e), 1);
	assert_string_equal(e.field, "s7.param.mc7code_len");
	/* header fields stay usable for tracing */
	assert_int_equal(u.pduref, 0x0e00);
	assert_int_equal(u.func, 0x1a);
	/* an odd file name is decoded but flagged */
	memcpy(b, job_1a, sizeof b);
	b[20] = 'Z';
	assert_int_equal(parse(b, sizeof b, &u, &e), 0);
	assert_false(u.filename_ok);
	/* a file name length beyond the parameter */
	memcpy(b, job_1a, sizeof b);
	b[18] = 40;
	assert_int_equal(parse(b, sizeof b, &u, &e), 1);
	assert_string_equal(e.field, "s7.param.filename_len");
}

static void test_ack_and_jobs(void **state)
{
	(void)state;
	struct s7_pdu u;
	struct pg_err e;
	assert_int_equal(parse(ack_1a, sizeof ack_1a, &u, &e), 0);
	assert_int_equal(u.rosctr, S7_ACK_DATA);
	assert_true(u.has_err);
	assert_int_equal(u.errcls, 0);
	assert_int_equal(u.func, 0x1a);
	assert_false(u.has_lengths);

	assert_int_equal(parse(job_1b, sizeof job_1b, &u, &e), 0);
	assert_int_equal(u.func, S7_F_DOWNLOAD_BLOCK);
	assert_int_equal(u.pduref, 0x0100);
	assert_string_equal(u.filename, "_0A00001P");

	assert_int_equal(parse(job_1c, sizeof job_1c, &u, &e), 0);
	assert_int_equal(u.func, S7_F_DOWNLOAD_END);
	assert_true(u.has_blk_err);
	assert_int_equal(u.blk_err, 0);
	assert_string_equal(u.filename, "_0A00001P");

	assert_int_equal(parse(ack_setup, sizeof ack_setup, &u, &e), 0);
	assert_true(u.has_setup);
	assert_int_equal(u.amq_calling, 1);
	assert_int_equal(u.amq_called, 1);
	assert_int_equal(u.pdu_size, 240);

	assert_int_equal(parse(job_1d, sizeof job_1d, &u, &e), 0);
	assert_int_equal(u.func, S7_F_START_UPLOAD);
	assert_true(u.has_upload_id);
	assert_int_equal(u.upload_id, 0);
	assert_string_equal(u.filename, "_0B00000A");
	assert_int_equal(u.blk_type, 0x0B);
	assert_int_equal(u.blk_fs, 'A');

	assert_int_equal(parse(ack_err, sizeof ack_err, &u, &e), 0);
	assert_int_equal(u.rosctr, S7_ACK);
	assert_int_equal(u.errcls, 0xd2);
	assert_int_equal(u.errcod, 0x41);
	assert_false(u.has_func);
	assert_non_null(s7_error_name(0xD241));
	assert_non_null(s7_error_name(0xD235));
	assert_non_null(s7_error_name(0xD237));

	assert_int_equal(parse(ack_1d, sizeof ack_1d, &u, &e), 0);
	assert_int_equal(u.upload_id, 7);
	assert_true(u.has_total);
	assert_int_equal(u.total_len, 500);

	assert_int_equal(parse(job_1f, sizeof job_1f, &u, &e), 0);
	assert_int_equal(u.func, S7_F_END_UPLOAD);
	assert_int_equal(u.upload_id, 7);
	assert_int_equal(u.blk_err, 0);

	assert_int_equal(parse(job_stop, sizeof job_stop, &u, &e), 0);
	assert_int_equal(u.func, S7_F_PLC_STOP);
	assert_true(u.has_service);
	assert_string_equal(u.service, "P_PROGRAM");

	assert_int_equal(parse(userdata, sizeof userdata, &u, &e), 0);
	assert_int_equal(u.rosctr, S7_USERDATA);
	assert_false(u.has_func);
	assert_true(u.has_ud);
	assert_int_equal(u.ud_method, 0x11);
	assert_int_equal(u.ud_type, 4);
	assert_int_equal(u.ud_group, 4);
	assert_int_equal(u.ud_subfunc, 1);
}

static void test_pi(void **state)
{
	(void)state;
	struct s7_pdu u;
	struct pg_err e;
	assert_int_equal(parse(job_pi, sizeof job_pi, &u, &e), 0);
	assert_int_equal(u.func, S7_F_PI);
	assert_string_equal(u.service, "_INSE");
	assert_int_equal(u.pi_param_len, 10);
	assert_int_equal(u.nblocks, 1);
	assert_string_equal(u.blocks[0].name, "0A00001P");
	assert_true(u.blocks[0].valid);
	assert_int_equal(u.blocks[0].type, 0x0A);
	assert_int_equal(u.blocks[0].number, 1);
	assert_int_equal(u.blocks[0].fs, 'P');
	assert_false(u.has_filename);
	/* block count that disagrees with the parameter block */
	uint8_t b[sizeof job_pi];
	memcpy(b, job_pi, sizeof b);
	b[20] = 2;
	assert_int_equal(parse(b, sizeof b, &u, &e), 1);
	assert_string_equal(e.field, "s7.pi.block_count");
	assert_int_equal(e.offset, 20);
	/* service name length past the end */
	memcpy(b, job_pi, sizeof b);
	b[30] = 6;
	assert_int_equal(parse(b, sizeof b, &u, &e), 1);
	assert_string_equal(e.field, "s7.pi.service");
}

/* 1B Ack_Data with a slice: the data part must be exactly 4 + slice. */
static void test_slice(void **state)
{
	(void)state;
	uint8_t b[12 + 2 + 4 + 5] = {
		0x32, 0x03, 0x00, 0x00, 0x01, 0x00, 0x00, 0x02, 0x00, 0x09, 0x00, 0x00,
		0x1b, 0x01, 0x00, 0x05, 0x00, 0xfb, 'p', 'p', 1, 2, 3,
	};
	struct s7_pdu u;
	struct pg_err e;
	uint8_t *x = dup_exact(b, sizeof b);
	assert_int_equal(s7_parse_pdu(x, sizeof b, 0, &u, &e), 0);
	assert_true(u.has_slice);
	assert_int_equal(u.status, S7_FS_MORE);
	assert_int_equal(u.slice_len, 5);
	assert_memory_equal(u.slice, "pp\x01\x02\x03", 5);
	free(x);
	b[15] = 6;     /* slice length disagrees with the data length */
	assert_int_equal(parse(b, sizeof b, &u, &e), 1);
	assert_string_equal(e.field, "s7.data.length");
	assert_int_equal(e.offset, 14);
}

static void test_header_rejects(void **state)
{
	(void)state;
	struct s7_pdu u;
	struct pg_err e;
	uint8_t b[sizeof ack_1a];
	memcpy(b, ack_1a, sizeof b);
	b[0] = 0x33;
	assert_int_equal(parse(b, sizeof b, &u, &e), -1);
	assert_string_equal(e.field, "s7.header.protid");
	memcpy(b, ack_1a, sizeof b);
	b[1] = 5;
	assert_int_equal(parse(b, sizeof b, &u, &e), -1);
	assert_string_equal(e.field, "s7.header.rosctr");
	assert_int_equal(parse(NULL, 0, &u, &e), -1);
}

/* Every prefix of every golden PDU is refused by the length check. */
static void test_truncation(void **state)
{
	(void)state;
	const struct { const uint8_t *p; size_t n; } g[] = {
		{ job_1a, sizeof job_1a }, { ack_1a, sizeof ack_1a },
		{ job_1b, sizeof job_1b }, { job_1c, sizeof job_1c },
		{ job_pi, sizeof job_pi }, { ack_setup, sizeof ack_setup },
		{ job_1d, sizeof job_1d }, { ack_err, sizeof ack_err },
		{ job_stop, sizeof job_stop }, { ack_1d, sizeof ack_1d },
		{ job_1f, sizeof job_1f }, { userdata, sizeof userdata },
	};
	for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
		struct s7_pdu u;
		struct pg_err e;
		for (size_t k = 0; k < g[i].n; k++)
			assert_int_equal(parse(g[i].p, k, &u, &e), -1);
		assert_in_range(parse(g[i].p, g[i].n, &u, &e), 0, 0);
	}
}

/*
 * Consistent truncation: the parameter block cut at every length, with the
 * header's parameter length adjusted.  Always decodes the header (0 or 1),
 * never more than is there.
 */
static void test_param_truncation(void **state)
{
	(void)state;
	const struct { const uint8_t *p; size_t n; size_t hl; } g[] = {
		{ job_1a, sizeof job_1a, 10 }, { job_1b, sizeof job_1b, 10 },
		{ job_1c, sizeof job_1c, 10 }, { job_pi, sizeof job_pi, 10 },
		{ ack_setup, sizeof ack_setup, 12 }, { job_1d, sizeof job_1d, 10 },
		{ job_stop, sizeof job_stop, 10 }, { ack_1d, sizeof ack_1d, 12 },
		{ job_1f, sizeof job_1f, 10 }, { userdata, sizeof userdata - 4, 10 },
	};
	for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
		size_t plen = g[i].n - g[i].hl;
		for (size_t k = 0; k < plen; k++) {
			uint8_t *b = dup_exact(g[i].p, g[i].hl + k);
			b[6] = 0;
			b[7] = (uint8_t)k;
			b[8] = b[9] = 0;
			struct s7_pdu u;
			struct pg_err e;
			int rc = s7_parse_pdu(b, g[i].hl + k, 0, &u, &e);
			assert_in_range(rc, 0, 1);
			assert_int_equal(u.param_len, k);
			if (k >= 1 && g[i].p[1] != S7_USERDATA)
				assert_true(u.has_func);
			if (k > 2 && g[i].p[g[i].hl] == S7_F_REQ_DOWNLOAD)
				assert_int_equal(rc, 1);   /* 1A needs all 32 bytes */
			free(b);
		}
	}
}

/* ---- S7comm-plus ---- */

static void test_s7plus(void **state)
{
	(void)state;
	struct s7p_pdu q;
	struct pg_err e;
	/* V1 CreateObject request with trailer */
	const uint8_t v1[] = { 0x72, 0x01, 0x00, 0x07, 0x31, 0x00, 0x00, 0x04, 0xca,
			       0x00, 0x00, 0x72, 0x01, 0x00, 0x00 };
	uint8_t *b = dup_exact(v1, sizeof v1);
	assert_int_equal(s7p_parse(b, sizeof v1, 0, &q, &e), 0);
	assert_int_equal(q.version, 1);
	assert_true(q.has_trailer);
	assert_true(q.has_opcode);
	assert_int_equal(q.opcode, S7P_OP_REQUEST);
	assert_true(q.has_function);
	assert_int_equal(q.function, S7P_FN_CREATE_OBJECT);
	assert_string_equal(s7p_function_name(q.function), "CreateObject");
	assert_false(q.has_digest);
	free(b);
	/* V3 with digest: opcode after 0x20 + 32 bytes (s7comm_plus.pcap) */
	uint8_t v3[4 + 33 + 5 + 4];
	memset(v3, 0xAA, sizeof v3);
	v3[0] = 0x72; v3[1] = 0x03; v3[2] = 0x00; v3[3] = 38;
	v3[4] = 0x20;
	v3[37] = 0x31; v3[38] = 0; v3[39] = 0; v3[40] = 0x05; v3[41] = 0xb3;
	v3[42] = 0x72; v3[43] = 0x03; v3[44] = 0; v3[45] = 0;
	b = dup_exact(v3, sizeof v3);
	assert_int_equal(s7p_parse(b, sizeof v3, 0, &q, &e), 0);
	assert_true(q.has_digest);
	assert_true(q.has_trailer);
	assert_int_equal(q.function, S7P_FN_INIT_SSL);
	free(b);
	/* every prefix: never an error once the 4-byte header is there */
	for (size_t k = 0; k <= sizeof v3; k++) {
		b = dup_exact(v3, k);
		int rc = s7p_parse(b, k, 0, &q, &e);
		assert_int_equal(rc, k < 4 ? -1 : 0);
		if (k < sizeof v3)
			assert_false(q.has_trailer);
		free(b);
	}
	const uint8_t badver[] = { 0x72, 0x07, 0x00, 0x00 };
	assert_int_equal(s7p_parse(badver, 4, 0, &q, &e), -1);
	assert_string_equal(e.field, "s7p.version");
	const uint8_t notp[] = { 0x32, 0x01, 0x00, 0x00 };
	assert_int_equal(s7p_parse(notp, 4, 0, &q, &e), -1);
	const uint8_t ka[] = { 0x72, 0xff, 0x00, 0x03, 0x00, 0x00, 0x00 };
	assert_int_equal(s7p_parse(ka, sizeof ka, 0, &q, &e), 0);
	assert_false(q.has_opcode);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_download),
		cmocka_unit_test(test_request_download_digits),
		cmocka_unit_test(test_ack_and_jobs),
		cmocka_unit_test(test_pi),
		cmocka_unit_test(test_slice),
		cmocka_unit_test(test_header_rejects),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_param_truncation),
		cmocka_unit_test(test_s7plus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
