/*
 * s7plus.c - S7comm-plus recognition (parsers/s7plus.h).  Deliberately
 * shallow: header, optional V3 digest, opcode and function code.  Anything
 * deeper would be guesswork about an undocumented, partly encrypted protocol,
 * and the collector's answer for such sessions is "unverifiable" anyway.
 */
#include "s7plus.h"

#include <string.h>

#include "cursor.h"

int s7p_parse(const uint8_t *p, size_t n, size_t base, struct s7p_pdu *o,
	      struct pg_err *err)
{
	memset(o, 0, sizeof *o);
	struct cur c = cur_init_at(p, n, base);
	uint8_t protid = cur_u8(&c);
	o->version = cur_u8(&c);
	o->len = cur_u16be(&c);
	if (c.err)
		return pg_err_set(err, c.err_off, "s7p.header",
				  "S7comm-plus PDU shorter than its 4-byte header");
	if (protid != S7P_PROTID)
		return pg_err_set(err, base, "s7p.protid",
				  "protocol id 0x%02x, expected 0x72", protid);
	switch (o->version) {
	case 0x01: case 0x02: case 0x03: case 0xFE: case 0xFF:
		break;
	default:
		return pg_err_set(err, base + 1, "s7p.version",
				  "unknown S7comm-plus version 0x%02x", o->version);
	}
	/* The data may continue in a later PDU (no trailer): take what is here. */
	size_t dl = o->len <= cur_left(&c) ? o->len : cur_left(&c);
	struct cur d = cur_sub(&c, dl);
	if (dl == o->len && cur_left(&c) >= 4) {
		const uint8_t tr[4] = { S7P_PROTID, o->version, 0, 0 };
		o->has_trailer = cur_peek_eq(&c, tr, 4);
	}
	if (o->version == 0x03 && cur_peek(&d, 0) == S7P_DIGEST_LEN) {
		cur_skip(&d, 1 + S7P_DIGEST_LEN);
		if (d.err)
			return 0;   /* digest cut by fragmentation */
		o->has_digest = 1;
	}
	if (o->version == 0xFE || o->version == 0xFF)
		return 0;           /* system events / keepalive: no opcode */
	int op = cur_peek(&d, 0);
	if (op < 0)
		return 0;
	o->opcode = (uint8_t)op;
	o->has_opcode = 1;
	if (op != S7P_OP_REQUEST && op != S7P_OP_RESPONSE)
		return 0;
	cur_skip(&d, 3);
	uint16_t fn = cur_u16be(&d);
	if (!d.err) {
		o->function = fn;
		o->has_function = 1;
	}
	return 0;
}

const char *s7p_function_name(uint16_t fn)
{
	switch (fn) {
	case S7P_FN_CREATE_OBJECT: return "CreateObject";
	case S7P_FN_DELETE_OBJECT: return "DeleteObject";
	case S7P_FN_SET_MULTI_VARS: return "SetMultiVariables";
	case S7P_FN_GET_VAR_SUBSTR: return "GetVarSubStreamed";
	case S7P_FN_INIT_SSL: return "InitSSL";
	default: return NULL;
	}
}
