/*
 * test_xfer.c - the one transfer transaction (collectors/xfer.c): storage in
 * and out of order, duplicates and conflicts, refused slices taken out of the
 * image, caps and the memory budget, sparse records, the accounting verdict
 * ladder, the streaming hash against a one-shot hash, and the event fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xfer.h"
#include "digest.h"

static struct pg_sniff g_s;
static struct pg_budget g_b;
static uint8_t g_img[4096];

static void setup_ctx(size_t cap)
{
	memset(&g_s, 0, sizeof g_s);
	pg_sniff_init(&g_s);
	pg_budget_init(&g_b, &g_s, cap);
	for (size_t i = 0; i < sizeof g_img; i++)
		g_img[i] = (uint8_t)(i * 31 + 7);
}

static void check_sha(const struct pg_xfer_out *o, const uint8_t *p, size_t n)
{
	uint8_t want[32];
	pg_sha256(p, n, want);
	assert_true(o->has_sha);
	assert_int_equal(o->len, n);
	assert_memory_equal(o->image, p, n);
	assert_memory_equal(o->sha256, want, 32);
}

static void test_in_order_streams(void **state)
{
	(void)state;
	setup_ctx(1 << 20);
	struct pg_xfer x;
	pg_xfer_init(&x, &g_b, 1 << 16, 1024, 0);
	x.expect_last = 1;
	for (int i = 0; i < 10; i++)
		assert_int_equal(pg_xfer_append(&x, g_img + i * 100, 100), PG_XPUT_OK);
	x.last_seen = 1;
	x.requested = x.answered = 10;
	struct pg_xfer_out o;
	pg_xfer_judge(&x, NULL, &o);
	assert_int_equal(o.verdict, PG_VERDICT_NONE);
	check_sha(&o, g_img, 1000);
	assert_int_equal(x.nheld, 0);        /* nothing held apart: one image */
	pg_xfer_free(&x);
	assert_int_equal(g_b.used, 0);
	assert_int_equal(g_s.mem_used, 0);
}

static void test_out_of_order_dups_conflict(void **state)
{
	(void)state;
	setup_ctx(1 << 20);
	struct pg_xfer x;
	pg_xfer_init(&x, &g_b, 1 << 16, 1024, 0);
	x.need_end = 1;
	/* 3, 1, 0, 2 of four 50-byte blocks, block 1 twice (same bytes) */
	assert_int_equal(pg_xfer_put(&x, 3, g_img + 150, 50, 1, 0), PG_XPUT_OK);
	assert_int_equal(pg_xfer_put(&x, 1, g_img + 50, 50, 1, 0), PG_XPUT_OK);
	assert_int_equal(pg_xfer_put(&x, 1, g_img + 50, 50, 1, 0), PG_XPUT_DUP);
	assert_int_equal(x.nheld, 2);
	assert_int_equal(pg_xfer_put(&x, 0, g_img, 50, 1, 0), PG_XPUT_OK);
	assert_int_equal(x.nheld, 1);        /* 0 and 1 joined the image */
	assert_int_equal(pg_xfer_put(&x, 2, g_img + 100, 50, 1, 0), PG_XPUT_OK);
	assert_int_equal(x.nheld, 0);
	x.end_seen = 1;
	x.has_count = 1;
	x.count = 4;
	struct pg_xfer_out o;
	pg_xfer_judge(&x, NULL, &o);
	assert_int_equal(o.verdict, PG_VERDICT_NONE);
	check_sha(&o, g_img, 200);
	assert_int_equal(x.dups, 1);
	/* other bytes at a taken index: first copy kept, INVALID, hashed */
	uint8_t other[50];
	memcpy(other, g_img + 50, 50);
	other[7] ^= 1;
	assert_int_equal(pg_xfer_put(&x, 1, other, 50, 1, 0), PG_XPUT_CONFLICT);
	pg_xfer_judge(&x, NULL, &o);
	assert_int_equal(o.verdict, PG_VERDICT_INVALID);
	assert_string_equal(o.reason, PG_XR_CONFLICT);
	check_sha(&o, g_img, 200);
	pg_xfer_free(&x);
	assert_int_equal(g_s.mem_used, 0);
}

static void test_refused_slice_leaves_image(void **state)
{
	(void)state;
	setup_ctx(1 << 20);
	struct pg_xfer x;
	pg_xfer_init(&x, &g_b, 1 << 16, 1024, 0);
	/* 0..3 tentative (tags 10..13), in order: all in the image */
	for (uint16_t i = 0; i < 4; i++)
		assert_int_equal(pg_xfer_put(&x, i, g_img + i * 40, 40, 0, (uint16_t)(10 + i)),
				 PG_XPUT_OK);
	pg_xfer_answer(&x, 0, 10, 1);
	pg_xfer_answer(&x, 1, 99, 0);        /* another request's answer: ignored */
	pg_xfer_answer(&x, 1, 11, 0);        /* refused: 1 out, 2 and 3 held apart */
	assert_int_equal(x.refused_slices, 1);
	assert_int_equal(x.nheld, 2);
	assert_int_equal(x.img_len, 40);
	struct pg_xfer_out o;
	pg_xfer_judge(&x, NULL, &o);
	assert_int_equal(o.verdict, PG_VERDICT_INCOMPLETE);
	assert_string_equal(o.reason, PG_XR_MISSING);
	assert_false(o.has_sha);
	/* the resent copy takes its place; the hash is recomputed, right */
	assert_int_equal(pg_xfer_put(&x, 1, g_img + 40, 40, 1, 20), PG_XPUT_OK);
	assert_int_equal(x.nheld, 0);
	pg_xfer_judge(&x, NULL, &o);
	assert_int_equal(o.verdict, PG_VERDICT_NONE);
	assert_int_equal(o.unacked, 2);      /* 2 and 3 never confirmed */
	check_sha(&o, g_img, 160);
	pg_xfer_free(&x);
	assert_int_equal(g_s.mem_used, 0);
}

static void test_caps_and_budget(void **state)
{
	(void)state;
	struct pg_xfer_out o;
	struct pg_xfer x;
	/* the per-transfer byte cap */
	setup_ctx(1 << 20);
	pg_xfer_init(&x, &g_b, 150, 1024, 0);
	assert_int_equal(pg_xfer_append(&x, g_img, 100), PG_XPUT_OK);
	assert_int_equal(pg_xfer_append(&x, g_img, 100), PG_XPUT_CAP);
	assert_int_equal(pg_xfer_append(&x, g_img, 1), PG_XPUT_CAP);
	pg_xfer_judge(&x, NULL, &o);
	assert_int_equal(o.verdict, PG_VERDICT_INVALID);
	assert_string_equal(o.reason, PG_XR_SIZECAP);
	assert_false(o.has_sha);
	pg_xfer_free(&x);
	assert_int_equal(g_s.mem_used, 0);
	/* the flow's budget: a refusal counts memcap_hits */
	setup_ctx(600);
	pg_xfer_init(&x, &g_b, 1 << 16, 1024, 0);
	enum pg_xput r = PG_XPUT_OK;
	for (int i = 0; i < 20 && r == PG_XPUT_OK; i++)
		r = pg_xfer_append(&x, g_img, 100);
	assert_int_equal(r, PG_XPUT_MEM);
	assert_true(g_s.st.memcap_hits >= 1);
	pg_xfer_judge(&x, NULL, &o);
	assert_int_equal(o.verdict, PG_VERDICT_INCOMPLETE);
	assert_string_equal(o.reason, PG_XR_MEMCAP);
	pg_xfer_free(&x);
	assert_int_equal(g_s.mem_used, 0);
	/* slice numbers out of range */
	setup_ctx(1 << 20);
	pg_xfer_init(&x, &g_b, 1 << 16, 8, 0);
	assert_int_equal(pg_xfer_put(&x, 8, g_img, 4, 1, 0), PG_XPUT_INDEX);
	pg_xfer_judge(&x, NULL, &o);
	assert_string_equal(o.reason, PG_XR_INDEX);
	pg_xfer_free(&x);
}

static void test_sparse_records(void **state)
{
	(void)state;
	setup_ctx(1 << 20);
	struct pg_xfer x;
	pg_xfer_init(&x, &g_b, 4096, 10000, 1);
	assert_int_equal(pg_xfer_put(&x, 7, g_img + 20, 4, 1, 1), PG_XPUT_OK);
	assert_int_equal(pg_xfer_put(&x, 2, g_img, 6, 1, 2), PG_XPUT_OK);
	assert_int_equal(pg_xfer_put(&x, 7, g_img + 20, 4, 1, 3), PG_XPUT_DUP);
	assert_int_equal(pg_xfer_put(&x, 7, g_img + 6, 4, 1, 4), PG_XPUT_REPLACED);
	assert_int_equal(pg_xfer_put(&x, 9, NULL, 0, 1, 5), PG_XPUT_OK);
	struct pg_xfer_out o;
	pg_xfer_judge(&x, NULL, &o);
	assert_int_equal(o.verdict, PG_VERDICT_NONE);              /* holes are no missing records */
	check_sha(&o, g_img, 10);            /* records 2 then 7 (rewritten) */
	pg_xfer_free(&x);
	assert_int_equal(g_s.mem_used, 0);
}

static void test_ladder(void **state)
{
	(void)state;
	struct pg_xfer_out o;
	struct pg_xfer x;
	setup_ctx(1 << 20);
	/* a requested slice with no answer */
	pg_xfer_init(&x, &g_b, 1 << 16, 1024, 0);
	x.expect_last = 1;
	pg_xfer_append(&x, g_img, 100);
	x.requested = 2;
	x.answered = 1;
	x.last_seen = 1;
	pg_xfer_judge(&x, NULL, &o);
	assert_string_equal(o.reason, PG_XR_MISSING);
	assert_int_equal(o.missing, 1);
	/* all answered, no last flag: the caller's reason is in the words */
	x.requested = 1;
	x.last_seen = 0;
	pg_xfer_judge(&x, "capture ended", &o);
	assert_string_equal(o.reason, PG_XR_LAST);
	assert_non_null(strstr(o.why, "capture ended"));
	/* lengths that disagree: INVALID without gaps, INCOMPLETE after one */
	x.last_seen = 1;
	x.has_announced = 1;
	x.announced = 120;
	pg_xfer_judge(&x, NULL, &o);
	assert_int_equal(o.verdict, PG_VERDICT_INVALID);
	assert_string_equal(o.reason, PG_XR_SIZE);
	assert_true(o.has_sha);
	x.gaps = 1;
	pg_xfer_judge(&x, NULL, &o);
	assert_int_equal(o.verdict, PG_VERDICT_INCOMPLETE);
	assert_string_equal(o.reason, PG_XR_GAP);
	assert_false(o.has_sha);
	/* content checks of the session follow the same rule */
	x.announced = 100;
	pg_xfer_judge(&x, NULL, &o);
	assert_int_equal(o.verdict, PG_VERDICT_NONE);
	pg_xfer_content_fail(&x, &o, "not_mc7", "not a block");
	assert_int_equal(o.verdict, PG_VERDICT_INCOMPLETE);
	x.gaps = 0;
	pg_xfer_judge(&x, NULL, &o);
	pg_xfer_content_fail(&x, &o, "not_mc7", "not a block");
	assert_int_equal(o.verdict, PG_VERDICT_INVALID);
	assert_string_equal(o.reason, "not_mc7");
	assert_true(o.has_sha);
	pg_xfer_free(&x);
	/* UMAS-like: the end declares the count */
	pg_xfer_init(&x, &g_b, 1 << 16, 1024, 0);
	x.need_end = 1;
	pg_xfer_put(&x, 0, g_img, 10, 1, 0);
	pg_xfer_judge(&x, NULL, &o);
	assert_string_equal(o.reason, PG_XR_END);
	x.end_seen = 1;
	x.has_count = 1;
	x.count = 2;
	pg_xfer_judge(&x, NULL, &o);
	assert_string_equal(o.reason, PG_XR_COUNT);
	pg_xfer_free(&x);
	/* nothing at all */
	pg_xfer_init(&x, &g_b, 1 << 16, 1024, 0);
	pg_xfer_judge(&x, NULL, &o);
	assert_string_equal(o.reason, PG_XR_NODATA);
	pg_xfer_free(&x);
	assert_int_equal(g_s.mem_used, 0);
}

static void test_event_fields(void **state)
{
	(void)state;
	setup_ctx(1 << 20);
	struct pg_xfer x;
	pg_xfer_init(&x, &g_b, 1 << 16, 1024, 0);
	pg_xfer_append(&x, g_img, 64);
	x.requested = 1;
	x.answered = 1;
	x.gaps = 3;
	x.end_seen = x.end_answered = 1;
	x.refused = 1;
	x.err = 0xD280;
	struct pg_xfer_out o;
	pg_xfer_judge(&x, NULL, &o);
	struct pg_event ev;
	pg_event_init(&ev);
	pg_xfer_event(&x, &o, 1, "error compiling the block in the CPU", &ev);
	assert_int_equal(ev.verdict, PG_VERDICT_NONE);
	assert_int_equal(ev.sev, PG_SEV_NOTICE);
	assert_true(ev.has_sha256);
	assert_int_equal(ev.size, 64);
	assert_int_equal(json_integer_value(json_object_get(ev.fields, "gaps")), 3);
	assert_true(json_is_false(json_object_get(ev.fields, "accepted")));
	assert_true(json_is_true(json_object_get(ev.fields, "refused")));
	assert_int_equal(json_integer_value(json_object_get(ev.fields, "error_code")), 0xD280);
	assert_int_equal(g_s.st.transfers_complete, 1);
	pg_event_clear(&ev);
	pg_xfer_free(&x);
	assert_int_equal(g_s.mem_used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_streams),
		cmocka_unit_test(test_out_of_order_dups_conflict),
		cmocka_unit_test(test_refused_slice_leaves_image),
		cmocka_unit_test(test_caps_and_budget),
		cmocka_unit_test(test_sparse_records),
		cmocka_unit_test(test_ladder),
		cmocka_unit_test(test_event_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
