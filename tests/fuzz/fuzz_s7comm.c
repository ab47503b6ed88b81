/*
 * fuzz_s7comm.c - libFuzzer target for the S7 wire parsers: TPKT header
 * check and resync test, one COTP TPDU (parsers/cotp.c), one S7comm PDU
 * (parsers/s7comm.c) and S7comm-plus recognition (parsers/s7plus.c).
 *
 * The input is copied into an exact-size heap buffer (ASan sees a read one
 * byte past the end).  Results are checked for internal consistency: a
 * decoded PDU's parts must lie inside the input, a slice inside the data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cotp.h"
#include "s7comm.h"
#include "s7plus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const uint8_t *b, size_t n, const uint8_t *p, size_t k)
{
	if (k == 0)
		return 1;
	return p && p >= b && k <= n && (size_t)(p - b) <= n - k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	struct pg_err e;

	uint16_t tl;
	(void)cotp_tpkt_header(buf, size, 0, &tl, &e);
	(void)cotp_tpkt_plausible(buf, size);
	int found;
	(void)cotp_tpkt_scan(buf, size, &found);
	struct cotp_tpdu t;
	if (cotp_parse(buf, size, 0, &t, &e) == 0) {
		if (!inside(buf, size, t.payload, t.payload_len) ||
		    t.calling.len > COTP_TSAP_MAX || t.called.len > COTP_TSAP_MAX)
			abort();
		uint8_t ct, rack, slot;
		(void)cotp_tsap_classic(&t.called, &ct, &rack, &slot);
		(void)cotp_tsap_is_ascii(&t.calling);
	}

	struct s7_pdu *u = malloc(sizeof *u);
	if (u) {
		int rc = s7_parse_pdu(buf, size, 0, u, &e);
		if (rc >= 0) {
			if (!inside(buf, size, u->param, u->param_len) ||
			    !inside(buf, size, u->data, u->data_len))
				abort();
			if (u->has_slice && !inside(u->data, u->data_len, u->slice,
						    u->slice_len))
				abort();
			if (u->filename_len > S7_FILENAME_MAX ||
			    u->nblocks > S7_PI_MAX_BLOCKS)
				abort();
			(void)s7_func_name(u->func);
			(void)s7_error_name((uint16_t)(u->errcls << 8 | u->errcod));
		}
		free(u);
	}

	struct s7p_pdu q;
	if (s7p_parse(buf, size, 0, &q, &e) == 0 && q.has_function)
		(void)s7p_function_name(q.function);
	free(buf);
	return 0;
}
