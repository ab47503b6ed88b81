/*
 * cotp.c - TPKT header checks and one COTP TPDU parse (parsers/cotp.h).
 *
 * Follows RFC 1006 (TPKT) and ISO 8073 / X.224 class 0 as used by S7 on
 * TCP/102 (wire facts: ../shared/docs/PROTOCOLS.md section 1).  Unknown CR/CC
 * parameters are skipped by their length, as the standard requires; a
 * parameter that runs past the header is an error, not a truncation to
 * paper over.
 */
#include "cotp.h"

#include <string.h>

#include "cursor.h"

int cotp_tpkt_header(const uint8_t *p, size_t n, size_t base, uint16_t *len,
		     struct pg_err *err)
{
	if (n < COTP_TPKT_HDR)
		return 0;
	struct cur c = cur_init_at(p, n < COTP_TPKT_HDR + 1 ? n : COTP_TPKT_HDR + 1, base);
	uint8_t ver = cur_u8(&c);
	uint8_t rsv = cur_u8(&c);
	uint16_t l = cur_u16be(&c);
	if (ver != 3)
		return pg_err_set(err, base, "tpkt.version",
				  "TPKT version 0x%02x, expected 0x03", ver);
	if (rsv != 0)
		return pg_err_set(err, base + 1, "tpkt.reserved",
				  "TPKT reserved byte 0x%02x, expected 0x00", rsv);
	if (l < COTP_TPKT_MIN)
		return pg_err_set(err, base + 2, "tpkt.length",
				  "TPKT length %u is below the minimum %u", l,
				  COTP_TPKT_MIN);
	/* The COTP header must fit in the TPKT (checked once its LI is here). */
	int li = cur_peek(&c, 0);
	if (li >= 0 && li > l - 5)
		return pg_err_set(err, base + 4, "cotp.li",
				  "COTP LI %d does not fit TPKT length %u", li, l);
	if (len)
		*len = l;
	return 1;
}

size_t cotp_tpkt_scan(const uint8_t *p, size_t n, int *found)
{
	struct cur c = cur_init(p, n);
	*found = 0;
	while (cur_left(&c) > 0) {
		int r = cotp_tpkt_plausible(c.p, cur_left(&c));
		if (r != 0) {
			*found = r;
			break;
		}
		cur_skip(&c, 1);
	}
	return cur_off(&c);
}

static int cotp_type_known(uint8_t t)
{
	return t == COTP_CR || t == COTP_CC || t == COTP_DT || t == COTP_DR ||
	       t == COTP_DC || t == COTP_ER;
}

int cotp_tpkt_plausible(const uint8_t *p, size_t n)
{
	struct cur c = cur_init(p, n < 6 ? n : 6);
	int b0 = cur_peek(&c, 0), b1 = cur_peek(&c, 1);
	if (b0 >= 0 && b0 != 3)
		return 0;
	if (b1 >= 0 && b1 != 0)
		return 0;
	if (n < 4)
		return -1;
	uint16_t l = (uint16_t)(cur_peek(&c, 2) << 8 | cur_peek(&c, 3));
	if (l < COTP_TPKT_MIN)
		return 0;
	if (n < 5)
		return -1;
	if ((size_t)cur_peek(&c, 4) > (size_t)l - 5)
		return 0;
	if (n < 6)
		return -1;
	return cotp_type_known((uint8_t)(cur_peek(&c, 5) >> 4)) ? 1 : 0;
}

/* CR/CC variable part: TLV parameters until the end of the header. */
static int cotp_parse_params(struct cur *h, struct cotp_tpdu *out,
			     struct pg_err *err)
{
	while (cur_left(h) > 0) {
		size_t at = cur_off(h);
		uint8_t code = cur_u8(h);
		uint8_t plen = cur_u8(h);
		struct cur v = cur_sub(h, plen);
		if (h->err)
			return pg_err_set(err, at, "cotp.param",
					  "parameter 0x%02x length %u runs past the COTP header",
					  code, plen);
		struct cotp_tsap *t = NULL;
		switch (code) {
		case 0xC0:
			if (plen != 1)
				return pg_err_set(err, at + 1, "cotp.tpdu_size",
						  "TPDU size parameter length %u, expected 1", plen);
			out->tpdu_size_exp = cur_u8(&v);
			break;
		case 0xC1:
			t = &out->calling;
			break;
		case 0xC2:
			t = &out->called;
			break;
		default:
			break;   /* C3 checksum, C6 additional options ...: skipped */
		}
		if (t) {
			if (plen == 0 || plen > COTP_TSAP_MAX)
				return pg_err_set(err, at + 1,
						  code == 0xC1 ? "cotp.calling_tsap" : "cotp.called_tsap",
						  "TSAP length %u outside 1..%u", plen, COTP_TSAP_MAX);
			t->len = plen;
			cur_copy(&v, t->b, plen);
		}
	}
	return 0;
}

int cotp_parse(const uint8_t *p, size_t n, size_t base, struct cotp_tpdu *out,
	       struct pg_err *err)
{
	memset(out, 0, sizeof *out);
	struct cur c = cur_init_at(p, n, base);
	uint8_t li = cur_u8(&c);
	if (c.err)
		return pg_err_set(err, base, "cotp.li", "COTP TPDU is empty");
	if (li < 1)
		return pg_err_set(err, base, "cotp.li", "COTP LI 0 leaves no type byte");
	struct cur h = cur_sub(&c, li);
	if (h.err)
		return pg_err_set(err, base, "cotp.li",
				  "COTP LI %u exceeds the %zu bytes that follow", li,
				  n - 1);
	out->li = li;
	uint8_t tb = cur_u8(&h);
	out->type = (uint8_t)(tb >> 4);
	switch (out->type) {
	case COTP_DT: {
		if (li < 2)
			return pg_err_set(err, base, "cotp.li",
					  "DT with LI %u, expected >= 2", li);
		uint8_t nr = cur_u8(&h);
		out->eot = (nr & 0x80) != 0;
		out->tpdu_nr = nr & 0x7F;
		break;
	}
	case COTP_CR:
	case COTP_CC:
		if (li < 6)
			return pg_err_set(err, base, "cotp.li",
					  "%s with LI %u, expected >= 6",
					  cotp_type_name(out->type), li);
		out->dst_ref = cur_u16be(&h);
		out->src_ref = cur_u16be(&h);
		out->cls = (uint8_t)(cur_u8(&h) >> 4);
		if (cotp_parse_params(&h, out, err) < 0)
			return -1;
		break;
	case COTP_DR:
		if (li < 6)
			return pg_err_set(err, base, "cotp.li",
					  "DR with LI %u, expected >= 6", li);
		out->dst_ref = cur_u16be(&h);
		out->src_ref = cur_u16be(&h);
		out->reason = cur_u8(&h);
		break;
	case COTP_DC:
		if (li < 5)
			return pg_err_set(err, base, "cotp.li",
					  "DC with LI %u, expected >= 5", li);
		out->dst_ref = cur_u16be(&h);
		out->src_ref = cur_u16be(&h);
		break;
	case COTP_ER:
		if (li < 4)
			return pg_err_set(err, base, "cotp.li",
					  "ER with LI %u, expected >= 4", li);
		out->dst_ref = cur_u16be(&h);
		out->reason = cur_u8(&h);
		break;
	default:
		return pg_err_set(err, base + 1, "cotp.type",
				  "unknown COTP TPDU type 0x%02x", tb);
	}
	if (h.err)   /* cannot happen: lengths checked above; kept compiled in */
		return pg_err_set(err, h.err_off, "cotp.header", "short COTP header");
	out->payload_off = cur_off(&c);
	out->payload_len = cur_left(&c);
	out->payload = cur_bytes(&c, out->payload_len);
	return 0;
}

int cotp_tsap_classic(const struct cotp_tsap *t, uint8_t *conn_type,
		      uint8_t *rack, uint8_t *slot)
{
	if (!t || t->len != 2)
		return -1;
	struct cur c = cur_init(t->b, 2);
	uint8_t hi = cur_u8(&c), lo = cur_u8(&c);
	if (conn_type)
		*conn_type = hi;
	if (rack)
		*rack = lo / 0x20;
	if (slot)
		*slot = lo % 0x20;
	return 0;
}

int cotp_tsap_is_ascii(const struct cotp_tsap *t)
{
	if (!t || t->len < 3)
		return 0;
	struct cur c = cur_init(t->b, t->len);
	while (cur_left(&c)) {
		uint8_t ch = cur_u8(&c);
		if (ch < 0x20 || ch > 0x7E)
			return 0;
	}
	return 1;
}

const char *cotp_type_name(uint8_t type)
{
	switch (type) {
	case COTP_CR: return "CR";
	case COTP_CC: return "CC";
	case COTP_DT: return "DT";
	case COTP_DR: return "DR";
	case COTP_DC: return "DC";
	case COTP_ER: return "ER";
	default: return "unknown";
	}
}

const char *cotp_conn_type_name(uint8_t ct)
{
	switch (ct) {
	case 1: return "PG";
	case 2: return "HMI";
	case 3: return "other";
	default: return "unknown";
	}
}
