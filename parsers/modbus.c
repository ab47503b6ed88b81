/*
 * modbus.c - Modbus/TCP MBAP and PDU, UMAS requests/responses (with the 0x38
 * signed envelope unwrapped) and file-record sub-requests.  Layouts and the
 * sources they follow: parsers/modbus.h.
 *
 * Everything is read through the latching cursor; a parser fills its output
 * only after the cursor's err was checked, so a rejected PDU never leaves a
 * half-filled result that the session could mistake for data.
 */
#include "modbus.h"

#include <string.h>

#include "cursor.h"

int mb_parse_mbap(const uint8_t *p, size_t n, size_t base, struct mb_mbap *h,
		  struct pg_err *e)
{
	struct cur c = cur_init_at(p, n, base);
	struct mb_mbap v;

	memset(h, 0, sizeof *h);
	v.trans_id = cur_u16be(&c);
	v.proto_id = cur_u16be(&c);
	v.length = cur_u16be(&c);
	v.unit = cur_u8(&c);
	if (c.err)
		return pg_err_set(e, c.err_off, "mbap", "MBAP header truncated");
	if (v.proto_id != 0)
		return pg_err_set(e, base + 2, "mbap.protocol_id",
				  "protocol id 0x%04x is not Modbus (0)", v.proto_id);
	if (v.length < PG_MB_LEN_MIN || v.length > PG_MB_LEN_MAX)
		return pg_err_set(e, base + 4, "mbap.length",
				  "length %u outside %u..%u", v.length,
				  PG_MB_LEN_MIN, PG_MB_LEN_MAX);
	v.over_spec = v.length > PG_MB_LEN_SPEC_MAX;
	*h = v;
	return 0;
}

int mb_fc_plausible(uint8_t fc)
{
	return (fc & 0x7F) != 0;
}

int mb_parse_pdu(const uint8_t *p, size_t n, size_t base, struct mb_pdu *out,
		 struct pg_err *e)
{
	struct cur c = cur_init_at(p, n, base);
	struct mb_pdu v;

	memset(out, 0, sizeof *out);
	memset(&v, 0, sizeof v);
	v.fc = cur_u8(&c);
	if (c.err)
		return pg_err_set(e, c.err_off, "pdu.function", "PDU is empty");
	v.func = v.fc & 0x7F;
	v.exception = (v.fc & 0x80) != 0;
	if (v.exception) {
		/* The code is all an exception carries; more bytes are
		 * tolerated (some gateways pad) and left in data. */
		v.exc_code = cur_u8(&c);
		if (c.err)
			return pg_err_set(e, c.err_off, "pdu.exception_code",
					  "exception response without a code");
	}
	v.data_off = cur_off(&c);
	v.data_len = cur_left(&c);
	v.data = cur_bytes(&c, v.data_len);
	*out = v;
	return 0;
}

const char *mb_exception_name(uint8_t code)
{
	switch (code) {
	case 0x01: return "illegal function";
	case 0x02: return "illegal data address";
	case 0x03: return "illegal data value";
	case 0x04: return "server device failure";
	case 0x05: return "acknowledge";
	case 0x06: return "server busy";
	case 0x08: return "memory parity error";
	case 0x0A: return "gateway path unavailable";
	case 0x0B: return "gateway target failed to respond";
	default: return NULL;
	}
}

/* ---- UMAS ---- */

int umas_parse_req(const uint8_t *p, size_t n, size_t base, struct umas_req *r,
		   struct pg_err *e)
{
	struct cur c = cur_init_at(p, n, base);
	struct umas_req v;

	memset(r, 0, sizeof *r);
	memset(&v, 0, sizeof v);
	v.key = cur_u8(&c);
	v.code = cur_u8(&c);
	if (c.err)
		return pg_err_set(e, c.err_off, "umas.code", "UMAS request truncated");
	if (v.code == UMAS_ENVELOPE) {
		/* [10] magic [11-42] signature [43] 5A [44] key [45] code: the
		 * layout is from one public source only, so check the inner
		 * function code and refuse nesting rather than guess. */
		v.enveloped = 1;
		v.env_magic = cur_u8(&c);
		v.sig = cur_bytes(&c, PG_UMAS_SIG_LEN);
		size_t fc_off = cur_off(&c);
		uint8_t fc = cur_u8(&c);
		v.key = cur_u8(&c);
		v.code = cur_u8(&c);
		if (c.err)
			return pg_err_set(e, c.err_off, "umas.envelope",
					  "0x38 envelope truncated");
		if (fc != MB_FC_UMAS)
			return pg_err_set(e, fc_off, "umas.envelope.function",
					  "enveloped function 0x%02x is not UMAS", fc);
		if (v.code == UMAS_ENVELOPE)
			return pg_err_set(e, fc_off + 2, "umas.envelope.code",
					  "nested 0x38 envelope refused");
	}
	v.data_off = cur_off(&c);
	v.data_len = cur_left(&c);
	v.data = cur_bytes(&c, v.data_len);
	*r = v;
	return 0;
}

int umas_parse_rsp(const uint8_t *p, size_t n, size_t base, struct umas_rsp *r,
		   struct pg_err *e)
{
	struct cur c = cur_init_at(p, n, base);
	struct umas_rsp v;

	memset(r, 0, sizeof *r);
	v.key = cur_u8(&c);
	v.status = cur_u8(&c);
	if (c.err)
		return pg_err_set(e, c.err_off, "umas.status", "UMAS response truncated");
	v.data_off = cur_off(&c);
	v.data_len = cur_left(&c);
	v.data = cur_bytes(&c, v.data_len);
	*r = v;
	return 0;
}

static int is_print(int ch)
{
	return ch >= 0x20 && ch < 0x7F;
}

int umas_parse_reserve(const uint8_t *d, size_t n, size_t base, char *name,
		       size_t cap, int *heuristic, struct pg_err *e)
{
	struct cur c = cur_init_at(d, n, base);

	if (cap)
		name[0] = '\0';
	*heuristic = 0;
	cur_skip(&c, 4);
	uint8_t len = cur_u8(&c);
	struct cur s = cur_sub(&c, len);
	if (!c.err && len > 0) {
		size_t k = 0;
		while (cur_left(&s) && k + 1 < cap)
			name[k++] = (char)cur_u8(&s);
		if (cap)
			name[k] = '\0';
		return 0;
	}
	/* Fallback: the longest printable run anywhere in the data. */
	struct cur w = cur_init_at(d, n, base);
	size_t best_at = 0, best_len = 0, run_at = 0, run_len = 0, i = 0;
	while (cur_left(&w)) {
		int ch = cur_u8(&w);
		if (is_print(ch)) {
			if (run_len++ == 0)
				run_at = i;
			if (run_len > best_len) {
				best_len = run_len;
				best_at = run_at;
			}
		} else {
			run_len = 0;
		}
		i++;
	}
	if (best_len < 3)
		return pg_err_set(e, base + 4, "umas.reserve.name",
				  "no station name in %zu bytes", n);
	struct cur r = cur_init_at(d, n, base);
	cur_skip(&r, best_at);
	size_t k = 0;
	while (k < best_len && k + 1 < cap)
		name[k++] = (char)cur_u8(&r);
	if (cap)
		name[k] = '\0';
	*heuristic = 1;
	return 0;
}

int umas_parse_xfer_start(const uint8_t *d, size_t n, size_t base,
			  uint8_t *file_type, struct pg_err *e)
{
	struct cur c = cur_init_at(d, n, base);

	cur_u8(&c);
	uint8_t ft = cur_u8(&c);
	if (c.err)
		return pg_err_set(e, c.err_off, "umas.file_type",
				  "transfer start truncated");
	*file_type = ft;
	return 0;
}

int umas_parse_ul_start_rsp(const uint8_t *d, size_t n, size_t base,
			    uint32_t *total, struct pg_err *e)
{
	struct cur c = cur_init_at(d, n, base);

	cur_skip(&c, 2);
	uint32_t t = cur_u32le(&c);
	if (c.err)
		return pg_err_set(e, c.err_off, "umas.total_size",
				  "read-back start reply without a size");
	*total = t;
	return 0;
}

/* The tail both block layouts share: length (2, LE) then exactly that many
 * data bytes, which must end the PDU. */
static int umas_block_data(struct cur *c, struct umas_block *v, struct pg_err *e)
{
	size_t len_off = cur_off(c);
	v->len = cur_u16le(c);
	if (c->err)
		return pg_err_set(e, c->err_off, "umas.block_length",
				  "block length truncated");
	if (v->len != cur_left(c))
		return pg_err_set(e, len_off, "umas.block_length",
				  "block length %u but %zu data bytes",
				  v->len, cur_left(c));
	v->has_data = 1;
	v->data_off = cur_off(c);
	v->data = cur_bytes(c, v->len);
	return 0;
}

int umas_parse_block_req(const uint8_t *d, size_t n, size_t base,
			 struct umas_block *b, struct pg_err *e)
{
	struct cur c = cur_init_at(d, n, base);
	struct umas_block v;

	memset(b, 0, sizeof *b);
	memset(&v, 0, sizeof v);
	cur_u8(&c);
	v.file_type = cur_u8(&c);
	v.number = cur_u16le(&c);
	if (c.err)
		return pg_err_set(e, c.err_off, "umas.block_number",
				  "block request truncated");
	if (cur_left(&c) && umas_block_data(&c, &v, e) < 0)
		return -1;
	*b = v;
	return 0;
}

int umas_parse_block_rsp(const uint8_t *d, size_t n, size_t base,
			 struct umas_block *b, int *last, struct pg_err *e)
{
	struct cur c = cur_init_at(d, n, base);
	struct umas_block v;

	memset(b, 0, sizeof *b);
	memset(&v, 0, sizeof v);
	uint8_t flag = cur_u8(&c);
	cur_u8(&c);
	if (umas_block_data(&c, &v, e) < 0)
		return -1;
	*b = v;
	*last = flag != 0;
	return 0;
}

int umas_parse_xfer_end(const uint8_t *d, size_t n, size_t base,
			uint16_t *count, struct pg_err *e)
{
	struct cur c = cur_init_at(d, n, base);

	cur_u8(&c);
	cur_u8(&c);
	uint16_t v = cur_u16le(&c);
	if (c.err)
		return pg_err_set(e, c.err_off, "umas.block_count",
				  "transfer end without a block count");
	*count = v;
	return 0;
}

/* ---- file records ---- */

static int file_parse(const uint8_t *d, size_t n, size_t base, int with_data,
		      struct mb_file_sub *subs, size_t max, size_t *count,
		      struct pg_err *e)
{
	struct cur c = cur_init_at(d, n, base);

	*count = 0;
	uint8_t bc = cur_u8(&c);
	if (c.err)
		return pg_err_set(e, c.err_off, "file.byte_count", "no byte count");
	if (bc != cur_left(&c))
		return pg_err_set(e, base, "file.byte_count",
				  "byte count %u but %zu bytes follow", bc, cur_left(&c));
	if (bc < 7)
		return pg_err_set(e, base, "file.byte_count",
				  "byte count %u below one sub-request", bc);
	size_t k = 0;
	while (cur_left(&c)) {
		struct mb_file_sub s;
		size_t at = cur_off(&c);

		memset(&s, 0, sizeof s);
		s.ref_type = cur_u8(&c);
		s.file = cur_u16be(&c);
		s.record = cur_u16be(&c);
		s.words = cur_u16be(&c);
		if (c.err)
			return pg_err_set(e, c.err_off, "file.sub_request",
					  "sub-request %zu truncated", k);
		if (s.ref_type != 6)
			return pg_err_set(e, at, "file.reference_type",
					  "reference type %u (must be 6)", s.ref_type);
		if (s.file == 0)
			return pg_err_set(e, at + 1, "file.file_number", "file number 0");
		if (s.record > PG_MB_FILE_REC_MAX)
			return pg_err_set(e, at + 3, "file.record_number",
					  "record number %u over %u", s.record,
					  PG_MB_FILE_REC_MAX);
		if (s.words == 0)
			return pg_err_set(e, at + 5, "file.record_length",
					  "record length 0");
		if (with_data) {
			s.data_off = cur_off(&c);
			s.data = cur_bytes(&c, (size_t)s.words * 2);
			if (c.err)
				return pg_err_set(e, at + 5, "file.record_length",
						  "%u words overrun the PDU", s.words);
		}
		if (k >= max)
			return pg_err_set(e, at, "file.sub_request",
					  "more than %zu sub-requests", max);
		subs[k++] = s;
	}
	*count = k;
	return 0;
}

int mb_parse_write_file(const uint8_t *d, size_t n, size_t base,
			struct mb_file_sub *subs, size_t max, size_t *count,
			struct pg_err *e)
{
	return file_parse(d, n, base, 1, subs, max, count, e);
}

int mb_parse_read_file(const uint8_t *d, size_t n, size_t base,
		       struct mb_file_sub *subs, size_t max, size_t *count,
		       struct pg_err *e)
{
	return file_parse(d, n, base, 0, subs, max, count, e);
}
