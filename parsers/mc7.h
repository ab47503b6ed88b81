/*
 * mc7.h - S7 blocks in the MC7 format that is downloaded to a PLC.
 *
 * One function, mc7_parse(), is used both by `plcguard register` (a block on
 * disk or inside an archive) and by the collector (a block reassembled from
 * Download Block replies), so that the fingerprint of a registered block and
 * of a downloaded block are computed by the same code.  Layout and fingerprint
 * definition: docs/FORMATS.md and ../shared/docs/PROTOCOLS.md section 3.
 */
#ifndef PG_MC7_H
#define PG_MC7_H

#include <stddef.h>
#include <stdint.h>

#include "pgerr.h"

/*
 * Domain-separation tag that starts the logic fingerprint input (hashed with
 * its terminating NUL).  Bump the version suffix if the definition changes.
 */
#define MC7_LOGIC_TAG "plcguard-mc7-logic-v1"

struct mc7_block {
	uint8_t  version;        /* header byte 2 */
	uint8_t  attrs;          /* header byte 3 */
	uint8_t  lang;           /* 1 STL, 2 LAD, 3 FBD, 4 SCL, 5 DB, 6 GRAPH, 7 SDB */
	uint8_t  type;           /* 0x08 OB .. 0x0F SFB */
	uint16_t number;
	uint32_t load_len;       /* = whole block */
	uint32_t security;       /* 0 none, 3 know-how protected */
	uint8_t  code_ts[6];     /* raw S7 timestamps (ms since midnight, days since 1984) */
	uint8_t  iface_ts[6];
	uint16_t iface_len, segtab_len, local_len, code_len;
	char     author[9], family[9], name[9];  /* footer, NUL-terminated, non-printables as '?' */
	uint8_t  hdr_version;    /* footer version byte */
	uint16_t checksum;       /* footer, at load_len - 10 */
	int      know_how;       /* security == 3 */

	uint8_t  sha256[32];     /* plain SHA-256 of all load_len bytes */
	uint8_t  strict[32];     /* SHA-256 of the block with the checksum zeroed */
	uint8_t  logic_fp[32];   /* timestamp/footer-independent logic fingerprint */
	uint8_t  code_sha[32];   /* SHA-256 of the MC7 code section */
	uint8_t  iface_sha[32];  /* SHA-256 of the interface section */
	uint8_t  segtab_sha[32]; /* SHA-256 of the segment table */
};

/*
 * Parse and fingerprint one block occupying exactly buf[0..len).
 * 0 on success; -1 with err naming the offset and field otherwise
 * (wrong magic, truncated, lengths that disagree, unknown type).
 * On error *out is zeroed; it is filled only when the whole block checks out.
 */
int mc7_parse(const uint8_t *buf, size_t len, struct mc7_block *out,
	      struct pg_err *err);

/* Cheap content test used by format detection: magic and length agree. */
int mc7_sniff(const uint8_t *buf, size_t len);

/* "OB", "DB", ... or NULL for an unknown type byte. */
const char *mc7_type_name(uint8_t type);
/* "STL", "LAD", ..., or "unknown". */
const char *mc7_lang_name(uint8_t lang);
/* "OB1" into buf; returns buf. */
char *mc7_block_id(uint8_t type, uint16_t number, char *buf, size_t n);
/* Parse "OB1", "DB 12", "fc0003": 0 on success. */
int mc7_parse_block_id(const char *s, uint8_t *type, uint16_t *number);
/*
 * The 9-character wire file name "_0A00001P" -> type/number/filesystem:
 * exactly n == 9 bytes, '_' or '$', two hex digits of a known type (08-0F),
 * five decimal digits (<= 65535), 'P', 'A' or 'B'.  0 on success, -1 (and the
 * outputs untouched) otherwise.
 */
int mc7_parse_filename(const char *fn, size_t n, uint8_t *type,
		       uint16_t *number, char *fs);

#endif
