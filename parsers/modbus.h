/*
 * modbus.h - Modbus/TCP (MBAP + PDU), Schneider UMAS (function 0x5A) and the
 * file-record functions (0x14 read, 0x15 write): pure parsers over one ADU.
 * The stream framing and the session state live in collectors/mbsess.c.
 *
 * Follows: Modbus Application Protocol V1.1b3 and Modbus Messaging on TCP/IP
 * V1.0b (MBAP, exceptions, file records); UMAS layouts from
 * ../shared/docs/PROTOCOLS.md section 5, checked against the real session in
 * corpus pcap/modbus/modicon_test.pcap (see the layouts below).
 *
 *   MBAP (big-endian)          UMAS request           UMAS response
 *   0-1 transaction id         [0] 5A function        [0] 5A
 *   2-3 protocol id (0)        [1] pair key           [1] pair key
 *   4-5 length (unit + PDU)    [2] UMAS code          [2] FE ok / FD error
 *   6   unit id                [3..] data (LE)        [3..] data (LE)
 *   7.. PDU: function code, data
 *
 * All multi-byte UMAS fields are little-endian, Modbus fields big-endian.
 * Every function here reads through parsers/cursor.h and reports a rejection
 * with the absolute offset (base + position) and the field name.
 */
#ifndef PG_MODBUS_H
#define PG_MODBUS_H

#include <stddef.h>
#include <stdint.h>

#include "pgerr.h"
#include "pg_limits.h"

/* ---- sizes of the protocol (its maxima are in pg_limits.h) ---- */
#define PG_MB_MBAP_LEN        7      /* header bytes including the unit id */
#define PG_MB_LEN_MIN         2      /* unit id + function code */
#define PG_UMAS_SIG_LEN       32     /* 0x38 envelope signature */

/* UMAS codes used by the session layer. */
#define UMAS_RESERVE      0x10
#define UMAS_RELEASE      0x11
#define UMAS_DL_START     0x30  /* PC -> PLC transfer (Schneider calls it upload) */
#define UMAS_DL_BLOCK     0x31
#define UMAS_DL_END       0x32
#define UMAS_UL_START     0x33  /* PLC -> PC read-back */
#define UMAS_UL_BLOCK     0x34
#define UMAS_UL_END       0x35
#define UMAS_ENVELOPE     0x38
#define UMAS_START_PLC    0x40
#define UMAS_STOP_PLC     0x41
#define UMAS_STATUS_OK    0xFE
#define UMAS_STATUS_ERROR 0xFD

#define MB_FC_READ_FILE   0x14
#define MB_FC_WRITE_FILE  0x15
#define MB_FC_UMAS        0x5A

struct mb_mbap {
	uint16_t trans_id;
	uint16_t proto_id;
	uint16_t length;     /* unit id + PDU */
	uint8_t unit;
	int over_spec;       /* length > 254 (accepted quirk) */
};

/*
 * Check the 7-byte MBAP header at p[0..n).  0 when protocol id is 0 and
 * length is PG_MB_LEN_MIN..PG_MB_LEN_MAX; -1 with e naming the field.
 * base = absolute offset of p (stream offset) for the error.
 */
int mb_parse_mbap(const uint8_t *p, size_t n, size_t base, struct mb_mbap *h,
		  struct pg_err *e);

/* A function code worth believing while resynchronising: 1..0x7F or |0x80. */
int mb_fc_plausible(uint8_t fc);

struct mb_pdu {
	uint8_t fc;          /* as on the wire (0x80 set for exceptions) */
	uint8_t func;        /* fc & 0x7F */
	int exception;       /* fc & 0x80 */
	uint8_t exc_code;    /* exceptions only */
	const uint8_t *data; /* bytes after the function code */
	size_t data_len;
	size_t data_off;     /* absolute offset of data */
};

/* p = the PDU (function code first).  -1 when empty, or an exception that
 * has no exception code. */
int mb_parse_pdu(const uint8_t *p, size_t n, size_t base, struct mb_pdu *out,
		 struct pg_err *e);

/* "illegal function" ... or NULL when the code is not a standard one. */
const char *mb_exception_name(uint8_t code);

/* ---- UMAS ---- */

struct umas_req {
	uint8_t key, code;      /* of the inner request when enveloped */
	int enveloped;          /* a 0x38 envelope was unwrapped */
	uint8_t env_magic;
	const uint8_t *sig;     /* PG_UMAS_SIG_LEN bytes, enveloped only */
	const uint8_t *data;    /* after the UMAS code */
	size_t data_len;
	size_t data_off;
};

/* p = bytes after the 0x5A function code of a client request. */
int umas_parse_req(const uint8_t *p, size_t n, size_t base, struct umas_req *r,
		   struct pg_err *e);

struct umas_rsp {
	uint8_t key, status;    /* status FE ok, FD error, anything else unknown */
	const uint8_t *data;
	size_t data_len;
	size_t data_off;
};

int umas_parse_rsp(const uint8_t *p, size_t n, size_t base, struct umas_rsp *r,
		   struct pg_err *e);

/*
 * 0x10 take reservation data, as seen in modicon_test.pcap:
 *   [0-3] 4 bytes (client id?) [4] name length [5..] ASCII station name
 * Defensive: an exact length wins; a length that overruns falls back to the
 * longest printable run (heuristic = 1).  name is NUL-terminated, truncated
 * to cap-1 bytes; -1 when no name can be found.
 */
int umas_parse_reserve(const uint8_t *d, size_t n, size_t base, char *name,
		       size_t cap, int *heuristic, struct pg_err *e);

/* 0x30 / 0x33 request: [0] 00, [1] file type (01 .apx, 10 .apb), more ignored. */
int umas_parse_xfer_start(const uint8_t *d, size_t n, size_t base,
			  uint8_t *file_type, struct pg_err *e);

/* 0x33 response data: [0-1] ?, [2-5] total size (LE).  -1 when absent. */
int umas_parse_ul_start_rsp(const uint8_t *d, size_t n, size_t base,
			    uint32_t *total, struct pg_err *e);

struct umas_block {
	uint8_t file_type;
	uint16_t number;        /* from 1 */
	int has_data;
	uint16_t len;
	const uint8_t *data;
	size_t data_off;
};

/* 0x31 / 0x34 request: [0] 00 [1] file type [2-3] block (LE), then optional
 * [4-5] length (LE) + data (0x31 carries it).  The length must fit exactly. */
int umas_parse_block_req(const uint8_t *d, size_t n, size_t base,
			 struct umas_block *b, struct pg_err *e);

/* 0x34 (or 0x31) response data: [0] last-block flag, [1] 00, [2-3] length
 * (LE), [4..] data.  The block number comes from the paired request. */
int umas_parse_block_rsp(const uint8_t *d, size_t n, size_t base,
			 struct umas_block *b, int *last, struct pg_err *e);

/* 0x32 / 0x35 request: [0] 00 [1] file type [2-3] block count (LE). */
int umas_parse_xfer_end(const uint8_t *d, size_t n, size_t base,
			uint16_t *count, struct pg_err *e);

/* ---- file records (FC 0x14 / 0x15) ---- */

struct mb_file_sub {
	uint8_t ref_type;       /* must be 6 */
	uint16_t file, record, words;
	const uint8_t *data;    /* write: words*2 bytes; read: NULL */
	size_t data_off;
};

/* FC 0x15 request data (after the function code): byte count, then
 * sub-requests of 7 bytes + words*2 data.  Fills subs[0..*count). */
int mb_parse_write_file(const uint8_t *d, size_t n, size_t base,
			struct mb_file_sub *subs, size_t max, size_t *count,
			struct pg_err *e);

/* FC 0x14 request data: byte count, sub-requests of 7 bytes. */
int mb_parse_read_file(const uint8_t *d, size_t n, size_t base,
		       struct mb_file_sub *subs, size_t max, size_t *count,
		       struct pg_err *e);

#endif
