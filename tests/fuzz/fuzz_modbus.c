/*
 * fuzz_modbus.c - libFuzzer target for parsers/modbus.c.
 *
 * The whole input is tried as an ADU (MBAP, then the PDU), and every UMAS and
 * file-record parser is run on every suffix start of the first 64 bytes, each
 * from an exact-size heap copy so that ASan flags a read one past the end.
 * Invariants checked: a successful parse points inside its input, and a
 * parsed block's data length equals its declared length.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modbus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_span(const uint8_t *base, size_t n, const uint8_t *p, size_t len)
{
	if (len && (!p || p < base || p + len > base + n))
		abort();
}

static void run_all(const uint8_t *buf, size_t n)
{
	struct pg_err e;
	struct mb_mbap h;
	struct mb_pdu pdu;
	struct umas_req rq;
	struct umas_rsp rs;
	struct umas_block b;
	struct mb_file_sub subs[PG_MB_FILE_SUB_MAX];
	char name[PG_UMAS_NAME_MAX + 1];
	size_t k;
	int heur, last;
	uint8_t ft;
	uint16_t cnt;
	uint32_t tot;

	if (mb_parse_mbap(buf, n, 0, &h, &e) == 0 && h.length > PG_MB_LEN_MAX)
		abort();
	if (mb_parse_pdu(buf, n, 0, &pdu, &e) == 0)
		check_span(buf, n, pdu.data, pdu.data_len);
	if (umas_parse_req(buf, n, 0, &rq, &e) == 0) {
		check_span(buf, n, rq.data, rq.data_len);
		if (rq.enveloped && rq.code == UMAS_ENVELOPE)
			abort();
	}
	if (umas_parse_rsp(buf, n, 0, &rs, &e) == 0)
		check_span(buf, n, rs.data, rs.data_len);
	if (umas_parse_reserve(buf, n, 0, name, sizeof name, &heur, &e) == 0 &&
	    strlen(name) > PG_UMAS_NAME_MAX)
		abort();
	(void)umas_parse_xfer_start(buf, n, 0, &ft, &e);
	(void)umas_parse_ul_start_rsp(buf, n, 0, &tot, &e);
	(void)umas_parse_xfer_end(buf, n, 0, &cnt, &e);
	if (umas_parse_block_req(buf, n, 0, &b, &e) == 0 && b.has_data)
		check_span(buf, n, b.data, b.len);
	if (umas_parse_block_rsp(buf, n, 0, &b, &last, &e) == 0)
		check_span(buf, n, b.data, b.len);
	if (mb_parse_write_file(buf, n, 0, subs, PG_MB_FILE_SUB_MAX, &k, &e) == 0) {
		if (k > PG_MB_FILE_SUB_MAX)
			abort();
		for (size_t i = 0; i < k; i++)
			check_span(buf, n, subs[i].data, (size_t)subs[i].words * 2);
	}
	(void)mb_parse_read_file(buf, n, 0, subs, PG_MB_FILE_SUB_MAX, &k, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t starts = size < 64 ? size : 64;

	for (size_t i = 0; i <= starts && i <= size; i++) {
		size_t n = size - i;
		if (n > (size_t)PTRDIFF_MAX)
			break;     /* cannot happen; tells GCC the bound */
		uint8_t *buf = malloc(n ? n : 1);
		if (!buf)
			return 0;
		if (n)
			memcpy(buf, data + i, n);
		run_all(buf, n);
		free(buf);
	}
	return 0;
}
