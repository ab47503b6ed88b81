/*
 * ziplayout.h - a ZIP archive's layout as its bytes say it, with every local
 * header checked against its central-directory record.
 *
 * Two tools can extract different content from one archive when the local
 * headers (what a streaming reader sees) and the central directory (what
 * libzip, 7-Zip, .NET see) disagree, or when bytes sit where no entry claims
 * them.  ziplayout_read() walks the central directory with the bounds-checked
 * cursor, reads each local header at its offset, and refuses the archive with
 * a NAMED problem (pg_err.field is one of the ZL_* tags below, offset is the
 * byte offset of the offending header or of the hidden bytes).
 *
 * Accepted, because they cannot change what is extracted (TIA Portal's .NET
 * writer does all of them): different or absent extra fields, different
 * version-made-by / version-needed, Zip64 sizes in the local extra only,
 * general-purpose bit 3 with CRC and sizes in a data descriptor (local fields
 * zero), different timestamps, different bits 1, 2 and 3 of the flags.
 */
#ifndef PG_ZIPLAYOUT_H
#define PG_ZIPLAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "pgerr.h"

/* pg_err.field of each named problem */
#define ZL_NAME_MISMATCH   "local name"      /* local name bytes != central name bytes */
#define ZL_METHOD_MISMATCH "local method"    /* compression method differs */
#define ZL_CRC_MISMATCH    "local crc"       /* CRC-32 differs (after the descriptor) */
#define ZL_SIZE_MISMATCH   "local size"      /* a size differs (after Zip64/descriptor) */
#define ZL_FLAGS_MISMATCH  "local flags"     /* encryption or name-encoding bits differ */
#define ZL_DESCRIPTOR      "data descriptor" /* bit 3 set, no descriptor that agrees */
#define ZL_OVERLAP         "overlap"         /* two entries (or an entry and the
					        central directory) share bytes */
#define ZL_HIDDEN          "hidden bytes"    /* bytes no entry claims: between entries,
					        after the last, inside the directory */
#define ZL_PREFIX          "prefix bytes"    /* bytes before the first local header */
#define ZL_SECOND_EOCD     "second eocd"     /* another end record a reader may pick */

struct zl_entry {
	const uint8_t *name;   /* central name bytes, as stored (points into buf) */
	size_t name_len;
	uint16_t flags;        /* central general-purpose flags */
	uint16_t method;
	uint32_t crc;
	uint64_t csize, usize; /* central, Zip64 resolved */
	uint64_t lh_off;       /* local header */
	uint64_t data_off;     /* first byte of the compressed data */
	uint64_t end;          /* one past the data (and its descriptor) */
	size_t cd_off;         /* this entry's central-directory record */
};

struct zip_layout {
	struct zl_entry *v;    /* central-directory order */
	uint64_t n;
	uint64_t cd_off, cd_size;
	size_t eocd_off;
};

/*
 * 0 with out filled (free it with ziplayout_free), or -1 with err: a named
 * problem (ZL_* in err->field), an archive that is not readable at all, or
 * more than max_entries entries.  Never reads outside buf[0..len).
 */
int ziplayout_read(const uint8_t *buf, size_t len, uint64_t max_entries,
		   struct zip_layout *out, struct pg_err *err);
void ziplayout_free(struct zip_layout *l);

/* A printable copy of a stored name for messages: '\\' shown as '/',
 * control bytes as '?', long names cut with "...". */
const char *ziplayout_shown(const uint8_t *name, size_t len, char *out, size_t n);

#endif
