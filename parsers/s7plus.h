/*
 * s7plus.h - recognise one S7comm-plus PDU (protocol id 0x72).  We do not
 * decode S7comm-plus: its content is partly undocumented and, from TIA V17
 * on, inside TLS.  We only learn enough to say "an S7comm-plus session was
 * here, with these versions and functions", so that it is reported as
 * unverifiable and never as clean.
 *
 *   72 VV LL LL  [V3: 20 <32-byte integrity digest>]  opcode 00 00 FF FF ...
 *   ... (LL data bytes) ...  72 VV 00 00            (trailer; absent when the
 *                                                     PDU continues in the next
 *                                                     COTP DT)
 *   VV: 01 02 03 versions, FE system event, FF keepalive
 *   opcode: 31 request, 32 response, 33 notification; FFFF = function
 *
 * Wire facts: ../shared/docs/PROTOCOLS.md section 4; the V3 digest position
 * was checked on ../shared/corpus/pcap/s7/s7comm_plus.pcap.
 */
#ifndef PG_S7PLUS_H
#define PG_S7PLUS_H

#include <stddef.h>
#include <stdint.h>

#include "pgerr.h"

#define S7P_PROTID         0x72
#define S7P_DIGEST_LEN     32

#define S7P_OP_REQUEST      0x31
#define S7P_OP_RESPONSE     0x32
#define S7P_OP_NOTIFICATION 0x33

#define S7P_FN_CREATE_OBJECT    0x04CA
#define S7P_FN_DELETE_OBJECT    0x04D4
#define S7P_FN_SET_MULTI_VARS   0x0542
#define S7P_FN_GET_VAR_SUBSTR   0x0586
#define S7P_FN_INIT_SSL         0x05B3

struct s7p_pdu {
	uint8_t version;         /* 01 02 03 FE FF (others are rejected) */
	uint16_t len;            /* header length field */
	int has_trailer;         /* 72 VV 00 00 found right after the data */
	int has_digest;          /* V3: 0x20 + 32-byte digest */
	int has_opcode;
	uint8_t opcode;
	int has_function;        /* request / response only */
	uint16_t function;
};

/*
 * Recognise one PDU at p[0..n) (base: absolute offset, for errors).
 * 0 ok (fields as far as present; a fragment without trailer is fine),
 * -1 with err when it is not S7comm-plus (protid, version, length).
 */
int s7p_parse(const uint8_t *p, size_t n, size_t base, struct s7p_pdu *out,
	      struct pg_err *err);

/* "CreateObject", ... or NULL for functions we have no name for. */
const char *s7p_function_name(uint16_t fn);

#endif
