/*
 * test_cotp.c - TPKT header checks, resync plausibility and COTP TPDU
 * parsing (parsers/cotp.c).  Golden bytes: the CR example of
 * ../shared/docs/PROTOCOLS.md and TPDUs as seen in the corpus captures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cotp.h"

static const uint8_t cr_tpkt[] = {
	0x03, 0x00, 0x00, 0x16, 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00,
	0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00, 0xC2, 0x02, 0x01, 0x02,
};

/* Copy into an exact-size heap buffer so ASan sees over-reads. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	assert_non_null(b);
	if (n)
		memcpy(b, p, n);
	return b;
}

static void test_tpkt_header(void **state)
{
	(void)state;
	struct pg_err e;
	uint16_t len = 0;
	assert_int_equal(cotp_tpkt_header(cr_tpkt, sizeof cr_tpkt, 0, &len, &e), 1);
	assert_int_equal(len, 22);
	for (size_t n = 0; n < 4; n++)
		assert_int_equal(cotp_tpkt_header(cr_tpkt, n, 0, &len, &e), 0);
	const uint8_t badver[] = { 0x04, 0x00, 0x00, 0x16 };
	assert_int_equal(cotp_tpkt_header(badver, 4, 100, &len, &e), -1);
	assert_int_equal(e.offset, 100);
	assert_string_equal(e.field, "tpkt.version");
	const uint8_t badrsv[] = { 0x03, 0x01, 0x00, 0x16 };
	assert_int_equal(cotp_tpkt_header(badrsv, 4, 0, &len, &e), -1);
	assert_string_equal(e.field, "tpkt.reserved");
	const uint8_t shortlen[] = { 0x03, 0x00, 0x00, 0x06 };
	assert_int_equal(cotp_tpkt_header(shortlen, 4, 0, &len, &e), -1);
	assert_string_equal(e.field, "tpkt.length");
	assert_int_equal(e.offset, 2);
	/* the COTP LI must fit the TPKT once it is there */
	const uint8_t libig[] = { 0x03, 0x00, 0x00, 0x07, 0x03, 0xF0, 0x80 };
	assert_int_equal(cotp_tpkt_header(libig, 4, 0, &len, &e), 1);
	assert_int_equal(cotp_tpkt_header(libig, 5, 50, &len, &e), -1);
	assert_string_equal(e.field, "cotp.li");
	assert_int_equal(e.offset, 54);
}

static void test_scan(void **state)
{
	(void)state;
	int found = 7;
	/* garbage, then an empty DT: 5 bytes skipped, found */
	const uint8_t g[] = { 0x41, 0x03, 0x01, 0xFF, 0x00,
			      0x03, 0x00, 0x00, 0x07, 0x02, 0xF0, 0x00 };
	assert_int_equal(cotp_tpkt_scan(g, sizeof g, &found), 5);
	assert_int_equal(found, 1);
	/* a prefix that may still be a header: stops there, needs more */
	assert_int_equal(cotp_tpkt_scan(g, 8, &found), 5);
	assert_int_equal(found, -1);
	/* nothing: all skipped */
	const uint8_t z[] = { 0x00, 0x00, 0x00, 0x00 };
	assert_int_equal(cotp_tpkt_scan(z, sizeof z, &found), 4);
	assert_int_equal(found, 0);
	assert_int_equal(cotp_tpkt_scan(z, 0, &found), 0);
	assert_int_equal(found, 0);
}

static void test_plausible(void **state)
{
	(void)state;
	assert_int_equal(cotp_tpkt_plausible(cr_tpkt, sizeof cr_tpkt), 1);
	/* Prefixes of a good header still "need more". */
	for (size_t n = 0; n < 6; n++)
		assert_int_equal(cotp_tpkt_plausible(cr_tpkt, n), -1);
	const uint8_t dt[] = { 0x03, 0x00, 0x00, 0x07, 0x02, 0xF0, 0x80 };
	assert_int_equal(cotp_tpkt_plausible(dt, sizeof dt), 1);
	const uint8_t notver[] = { 0x02, 0x00, 0x00, 0x07, 0x02, 0xF0 };
	assert_int_equal(cotp_tpkt_plausible(notver, 6), 0);
	assert_int_equal(cotp_tpkt_plausible(notver, 1), 0);
	const uint8_t li_big[] = { 0x03, 0x00, 0x00, 0x07, 0x03, 0xF0 };
	assert_int_equal(cotp_tpkt_plausible(li_big, 6), 0);
	const uint8_t badtype[] = { 0x03, 0x00, 0x00, 0x07, 0x02, 0x50 };
	assert_int_equal(cotp_tpkt_plausible(badtype, 6), 0);
	const uint8_t len6[] = { 0x03, 0x00, 0x00, 0x06, 0x02, 0xF0 };
	assert_int_equal(cotp_tpkt_plausible(len6, 6), 0);
}

static void test_cr_golden(void **state)
{
	(void)state;
	struct cotp_tpdu t;
	struct pg_err e;
	uint8_t *b = dup_exact(cr_tpkt + 4, sizeof cr_tpkt - 4);
	assert_int_equal(cotp_parse(b, sizeof cr_tpkt - 4, 4, &t, &e), 0);
	assert_int_equal(t.type, COTP_CR);
	assert_int_equal(t.li, 0x11);
	assert_int_equal(t.dst_ref, 0);
	assert_int_equal(t.src_ref, 1);
	assert_int_equal(t.cls, 0);
	assert_int_equal(t.tpdu_size_exp, 0x0A);
	assert_int_equal(t.calling.len, 2);
	assert_int_equal(t.called.len, 2);
	assert_int_equal(t.payload_len, 0);
	assert_int_equal(t.payload_off, 22);
	uint8_t ct, rack, slot;
	assert_int_equal(cotp_tsap_classic(&t.called, &ct, &rack, &slot), 0);
	assert_int_equal(ct, 1);
	assert_int_equal(rack, 0);
	assert_int_equal(slot, 2);
	assert_string_equal(cotp_conn_type_name(ct), "PG");
	assert_false(cotp_tsap_is_ascii(&t.called));
	free(b);

	/* Rack 1 slot 3: low byte 0x23. */
	struct cotp_tsap ts = { 2, { 0x03, 0x23 } };
	assert_int_equal(cotp_tsap_classic(&ts, &ct, &rack, &slot), 0);
	assert_int_equal(ct, 3);
	assert_int_equal(rack, 1);
	assert_int_equal(slot, 3);
	struct cotp_tsap t3 = { 3, { 1, 2, 3 } };
	assert_int_equal(cotp_tsap_classic(&t3, &ct, &rack, &slot), -1);
}

static void test_cc_ascii_tsap(void **state)
{
	(void)state;
	const char *name = "SIMATIC-ROOT-ES";
	uint8_t tp[64];
	size_t n = 0, nl = strlen(name);
	tp[n++] = 0;           /* LI, set below */
	tp[n++] = 0xD0;
	tp[n++] = 0x00; tp[n++] = 0x01; tp[n++] = 0x00; tp[n++] = 0x02; tp[n++] = 0x00;
	tp[n++] = 0xC1; tp[n++] = 2; tp[n++] = 0x06; tp[n++] = 0x00;
	tp[n++] = 0xC2; tp[n++] = (uint8_t)nl;
	memcpy(tp + n, name, nl);
	n += nl;
	tp[0] = (uint8_t)(n - 1);
	struct cotp_tpdu t;
	struct pg_err e;
	uint8_t *b = dup_exact(tp, n);
	assert_int_equal(cotp_parse(b, n, 0, &t, &e), 0);
	assert_int_equal(t.type, COTP_CC);
	assert_int_equal(t.called.len, nl);
	assert_memory_equal(t.called.b, name, nl);
	assert_true(cotp_tsap_is_ascii(&t.called));
	assert_false(cotp_tsap_is_ascii(&t.calling));
	free(b);
}

static void test_dt(void **state)
{
	(void)state;
	struct cotp_tpdu t;
	struct pg_err e;
	const uint8_t dt[] = { 0x02, 0xF0, 0x80, 0x32, 0x01 };
	uint8_t *b = dup_exact(dt, sizeof dt);
	assert_int_equal(cotp_parse(b, sizeof dt, 4, &t, &e), 0);
	assert_int_equal(t.type, COTP_DT);
	assert_true(t.eot);
	assert_int_equal(t.tpdu_nr, 0);
	assert_int_equal(t.payload_len, 2);
	assert_int_equal(t.payload_off, 7);
	assert_memory_equal(t.payload, dt + 3, 2);
	free(b);
	const uint8_t empty[] = { 0x02, 0xF0, 0x05 };   /* STEP 7's empty DT */
	b = dup_exact(empty, sizeof empty);
	assert_int_equal(cotp_parse(b, sizeof empty, 0, &t, &e), 0);
	assert_false(t.eot);
	assert_int_equal(t.tpdu_nr, 5);
	assert_int_equal(t.payload_len, 0);
	free(b);
}

static void test_dr_dc_er(void **state)
{
	(void)state;
	struct cotp_tpdu t;
	struct pg_err e;
	const uint8_t dr[] = { 0x06, 0x80, 0x00, 0x01, 0x00, 0x02, 0x80 };
	assert_int_equal(cotp_parse(dr, sizeof dr, 0, &t, &e), 0);
	assert_int_equal(t.type, COTP_DR);
	assert_int_equal(t.reason, 0x80);
	const uint8_t dc[] = { 0x05, 0xC0, 0x00, 0x01, 0x00, 0x02 };
	assert_int_equal(cotp_parse(dc, sizeof dc, 0, &t, &e), 0);
	assert_int_equal(t.type, COTP_DC);
	assert_int_equal(t.src_ref, 2);
	const uint8_t er[] = { 0x04, 0x70, 0x00, 0x01, 0x03 };
	assert_int_equal(cotp_parse(er, sizeof er, 0, &t, &e), 0);
	assert_int_equal(t.type, COTP_ER);
	assert_int_equal(t.reason, 3);
	assert_string_equal(cotp_type_name(COTP_ER), "ER");
}

static void test_rejects(void **state)
{
	(void)state;
	struct cotp_tpdu t;
	struct pg_err e;
	assert_int_equal(cotp_parse(NULL, 0, 9, &t, &e), -1);
	assert_string_equal(e.field, "cotp.li");
	const uint8_t li0[] = { 0x00, 0xF0 };
	assert_int_equal(cotp_parse(li0, sizeof li0, 0, &t, &e), -1);
	const uint8_t libig[] = { 0x05, 0xF0, 0x80 };
	assert_int_equal(cotp_parse(libig, sizeof libig, 10, &t, &e), -1);
	assert_string_equal(e.field, "cotp.li");
	assert_int_equal(e.offset, 10);
	const uint8_t unk[] = { 0x02, 0x50, 0x80 };
	assert_int_equal(cotp_parse(unk, sizeof unk, 0, &t, &e), -1);
	assert_string_equal(e.field, "cotp.type");
	assert_int_equal(e.offset, 1);
	const uint8_t dtshort[] = { 0x01, 0xF0 };
	assert_int_equal(cotp_parse(dtshort, sizeof dtshort, 0, &t, &e), -1);
	/* A parameter that runs past the header. */
	const uint8_t runs[] = { 0x09, 0xE0, 0, 0, 0, 1, 0, 0xC1, 0x05, 0x01 };
	assert_int_equal(cotp_parse(runs, sizeof runs, 0, &t, &e), -1);
	assert_string_equal(e.field, "cotp.param");
	assert_int_equal(e.offset, 7);
	/* TSAP longer than COTP_TSAP_MAX. */
	uint8_t big[8 + 40];
	memset(big, 'A', sizeof big);
	big[0] = sizeof big - 1;
	big[1] = 0xE0;
	big[2] = big[3] = big[4] = big[5] = big[6] = 0;
	big[7] = 0xC2;
	big[8] = 39;
	assert_int_equal(cotp_parse(big, sizeof big, 0, &t, &e), -1);
	assert_string_equal(e.field, "cotp.called_tsap");
	/* C0 with a wrong length. */
	const uint8_t c0[] = { 0x0A, 0xE0, 0, 0, 0, 1, 0, 0xC0, 0x02, 0x0A, 0x0A };
	assert_int_equal(cotp_parse(c0, sizeof c0, 0, &t, &e), -1);
	assert_string_equal(e.field, "cotp.tpdu_size");
}

/* Every prefix: below LI + 1 bytes it fails, from there on it parses. */
static void test_truncation(void **state)
{
	(void)state;
	const uint8_t *body = cr_tpkt + 4;
	size_t n = sizeof cr_tpkt - 4;
	for (size_t k = 0; k <= n; k++) {
		struct cotp_tpdu t;
		struct pg_err e;
		uint8_t *b = dup_exact(body, k);
		int rc = cotp_parse(b, k, 0, &t, &e);
		if (k < n)
			assert_int_equal(rc, -1);
		else
			assert_int_equal(rc, 0);
		free(b);
	}
	const uint8_t dt[] = { 0x02, 0xF0, 0x80, 0x32, 0x01, 0x00 };
	for (size_t k = 0; k <= sizeof dt; k++) {
		struct cotp_tpdu t;
		struct pg_err e;
		uint8_t *b = dup_exact(dt, k);
		int rc = cotp_parse(b, k, 0, &t, &e);
		assert_int_equal(rc, k < 3 ? -1 : 0);
		if (rc == 0)
			assert_int_equal(t.payload_len, k - 3);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tpkt_header),
		cmocka_unit_test(test_plausible),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_cr_golden),
		cmocka_unit_test(test_cc_ascii_tsap),
		cmocka_unit_test(test_dt),
		cmocka_unit_test(test_dr_dc_er),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
