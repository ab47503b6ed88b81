/*
 * dbase.h - dBase III/IV tables (.DBF) and their memo files (.DBT), as
 * SIMATIC Manager (STEP 7 V5) keeps a project's offline blocks in them
 * (ombstx/offline/<folder>/SUBBLK.DBF + SUBBLK.DBT, BAUSTEIN.DBF,
 * ombstx/offline/BSTCNTOF.DBF).  Facts: ../shared/docs/PROTOCOLS.md section 7.
 *
 * Pure readers over a caller's buffer, through the cursor: nothing is copied,
 * every field and memo comes back as a (pointer, length) inside the buffer.
 * C fields are returned raw (STEP 7 stores binary timestamps in them: never
 * trimmed, never NUL-terminated); N fields are parsed as right-aligned ASCII
 * integers; M fields name a memo block.  Records whose first byte is '*' are
 * deleted (SIMATIC Manager leaves deleted duplicates of real blocks): they
 * are reported as such, never returned as data.
 */
#ifndef PG_DBASE_H
#define PG_DBASE_H

#include <stddef.h>
#include <stdint.h>

#include "pgerr.h"
#include "pg_limits.h"

struct dbf_field {
	char name[12];     /* NUL-terminated, upper case as stored */
	char type;         /* 'C', 'N', 'M', 'L', 'D', 'F', ... */
	uint8_t len;       /* bytes in the record */
	uint8_t dec;
	size_t off;        /* offset inside a record (after the delete flag) */
};

struct dbf {
	const uint8_t *buf;
	size_t len;
	uint8_t version;   /* 0x03 plain, 0x83 / 0x8B with memo */
	uint32_t nrec;     /* record count the header declares */
	size_t nrec_avail; /* records wholly present in the buffer (<= nrec) */
	uint16_t hdr_len, rec_len;
	struct dbf_field f[DBF_MAX_FIELDS];
	size_t nf;
	int truncated;     /* fewer records present than declared */
};

/* Parse the header and field descriptors.  0 ok, -1 with err naming the byte
 * offset and field.  A table cut short inside its records is not an error:
 * nrec_avail says how many are whole and `truncated` is set. */
int dbf_open(struct dbf *d, const uint8_t *buf, size_t len, struct pg_err *err);
/* Index of a field by name (case-insensitive), or -1. */
int dbf_field_index(const struct dbf *d, const char *name);
/* Record i (0-based): 1 and *rec when present, 0 when deleted, -1 when i is
 * beyond the records present. */
int dbf_record(const struct dbf *d, size_t i, const uint8_t **rec);
/* Raw bytes of field fi in a record from dbf_record. */
void dbf_raw(const struct dbf *d, const uint8_t *rec, int fi, const uint8_t **p, size_t *n);
/* An N (or C) field holding an ASCII integer, blanks around it allowed:
 * 0 and *out; 1 when blank (no value); -1 with err when not a number. */
int dbf_num(const struct dbf *d, const uint8_t *rec, int fi, int64_t *out,
	    struct pg_err *err);
/* An M field: the memo block number, 0 when blank (no memo); -1 with err. */
int dbf_memo_block(const struct dbf *d, const uint8_t *rec, int fi, uint32_t *block,
		   struct pg_err *err);

struct dbt {
	const uint8_t *buf;
	size_t len;
	uint32_t block_size;   /* from the header (offset 20), 512 in practice */
};

/* Parse the memo file header.  0 ok, -1 with err. */
int dbt_open(struct dbt *m, const uint8_t *buf, size_t len, struct pg_err *err);
/* The memo at `block`: dBase IV layout FF FF 08 00, u32 LE length including
 * those 8 bytes, then the data.  0 and (*p, *n) inside the buffer; -1 with
 * err naming the byte offset when the block is outside the file, the marker
 * is wrong or the length runs past the end. */
int dbt_memo(const struct dbt *m, uint32_t block, const uint8_t **p, size_t *n,
	     struct pg_err *err);

#endif
