/*
 * cotp.h - TPKT (RFC 1006) framing and one COTP TPDU (ISO 8073 class 0) as
 * S7comm and S7comm-plus carry them on TCP/102.
 *
 *   TPKT   03 00 LL LL            LL = whole TPKT incl. these 4 bytes, >= 7
 *   COTP   LI type ...            LI = header length without the LI byte,
 *                                 payload starts at LI + 1
 *     DT   02 F0 xx               xx bit 7 = EOT, bits 0-6 = TPDU number
 *     CR   LI E0 dst(2) src(2) class(1) params...   CC: same with D0
 *          params: C0 len size-exp | C1 len calling TSAP | C2 len called TSAP
 *     DR   LI 80 dst(2) src(2) reason(1)    DC: LI C0 dst(2) src(2)
 *     ER   LI 70 dst(2) cause(1)
 *
 * Classic S7 TSAPs are 2 bytes: high byte = connection type (01 PG, 02 OP/HMI,
 * 03 other), low byte = rack * 0x20 + slot.  S7comm-plus uses ASCII names
 * ("SIMATIC-ROOT-ES").  Pure functions; untrusted bytes go through cursor.h.
 */
#ifndef PG_COTP_H
#define PG_COTP_H

#include <stddef.h>
#include <stdint.h>

#include "pgerr.h"
#include "pg_limits.h"

#define COTP_TPKT_HDR      4
#define COTP_TPKT_MIN      7        /* TPKT header + LI + type + 1 (a DT) */

enum cotp_type {
	COTP_ER = 0x7,
	COTP_DR = 0x8,
	COTP_DC = 0xC,
	COTP_CC = 0xD,
	COTP_CR = 0xE,
	COTP_DT = 0xF,
};

struct cotp_tsap {
	uint8_t len;                 /* 0 = absent */
	uint8_t b[COTP_TSAP_MAX];
};

struct cotp_tpdu {
	uint8_t li;
	uint8_t type;                /* high nibble of the type byte (enum cotp_type) */
	/* DT */
	int eot;
	uint8_t tpdu_nr;
	/* CR / CC / DR / DC / ER */
	uint16_t dst_ref, src_ref;
	uint8_t cls;                 /* class (high nibble of the class byte) */
	uint8_t reason;              /* DR reason / ER cause */
	uint8_t tpdu_size_exp;       /* C0, 0 = absent */
	struct cotp_tsap calling;    /* C1 */
	struct cotp_tsap called;     /* C2 */
	/* user data (DT payload; CR/CC may carry some too) */
	const uint8_t *payload;      /* points into the caller's buffer */
	size_t payload_len;
	size_t payload_off;          /* absolute offset (base + ...) */
};

/*
 * Check a TPKT header at p[0..n): 1 and *len when the 4 header bytes are
 * there and valid (03 00, 7 <= len, and, when the fifth byte is there, a
 * COTP LI that fits: LI <= len - 5); 0 when fewer than 4 bytes are
 * available; -1 with err naming the field when invalid.
 */
int cotp_tpkt_header(const uint8_t *p, size_t n, size_t base, uint16_t *len,
		     struct pg_err *err);

/*
 * Resync test: could a TPKT start at p?  Needs 6 bytes: 03 00, length >= 7,
 * COTP LI <= length - 5, TPDU type nibble in {E,D,F,8,C,7}.  1 plausible,
 * 0 not, -1 need more bytes (only a prefix is there and it still fits).
 */
int cotp_tpkt_plausible(const uint8_t *p, size_t n);

/*
 * Resync scan: the number of bytes before the first position where a TPKT
 * may start (cotp_tpkt_plausible != 0).  *found: 1 plausible there, -1 a
 * prefix that needs more bytes, 0 none in p[0..n) (the return value is n).
 */
size_t cotp_tpkt_scan(const uint8_t *p, size_t n, int *found);

/*
 * Parse one COTP TPDU occupying exactly p[0..n) (the TPKT body; base = its
 * absolute offset, for error messages).  0 ok, -1 with err naming the field.
 */
int cotp_parse(const uint8_t *p, size_t n, size_t base, struct cotp_tpdu *out,
	       struct pg_err *err);

/* Classic 2-byte TSAP: 0 and conn_type/rack/slot; -1 if not 2 bytes. */
int cotp_tsap_classic(const struct cotp_tsap *t, uint8_t *conn_type,
		      uint8_t *rack, uint8_t *slot);
/* 1 when the TSAP is >= 3 printable ASCII characters (S7comm-plus style). */
int cotp_tsap_is_ascii(const struct cotp_tsap *t);
/* "CR", "CC", "DT", ... or "unknown". */
const char *cotp_type_name(uint8_t type);
/* "PG", "OP", "other" for the classic connection type byte, or "unknown". */
const char *cotp_conn_type_name(uint8_t ct);

#endif
